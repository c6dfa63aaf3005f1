/* The propagation entry points: inject/extract wrappers, the global propagator and the
 * header-list carrier. Each installed global propagator is copied into a node that lives until
 * otel_global_propagator_shutdown(), and the current one is published with an atomic pointer,
 * so a reader's pointer stays valid across later installs, as the header promises. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "otel/propagation.h"

#include "log_internal.h"
#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * Wrappers
 * ------------------------------------------------------------------------------------------- */

void otel_propagator_inject(const otel_propagator *p, const otel_context *ctx,
                            const otel_carrier_writer *carrier)
{
    if (!p || !p->inject || !carrier || !carrier->set)
        return;
    if (ctx) {
        p->inject(p->user_data, ctx, carrier);
        return;
    }
    otel_context *current = otel_context_current();
    p->inject(p->user_data, current, carrier);
    otel_context_release(current);
}

otel_context *otel_propagator_extract(const otel_propagator *p, const otel_context *ctx,
                                      const otel_carrier_reader *carrier)
{
    if (!p || !p->extract || !carrier || !carrier->get)
        return otel_context_retain(ctx);
    return p->extract(p->user_data, ctx, carrier);
}

/* ---------------------------------------------------------------------------------------------
 * Global propagator
 * ------------------------------------------------------------------------------------------- */

static void noop_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *c)
{
    (void)user_data, (void)ctx, (void)c;
}

static otel_context *noop_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *c)
{
    (void)user_data, (void)c;
    return otel_context_retain(ctx);
}

static size_t noop_fields(void *user_data, otel_str *names, size_t cap)
{
    (void)user_data, (void)names, (void)cap;
    return 0;
}

static const otel_propagator g_noop_propagator = {
    .inject = noop_inject,
    .extract = noop_extract,
    .fields = noop_fields,
};

/* Every installed propagator lives in its own node until otel_global_propagator_shutdown():
 * a thread that loaded the pointer just before a replacement keeps using a valid copy. */
struct prop_node {
    otel_propagator p;
    struct prop_node *next; /* older installs, under g_prop_lock */
};

static pthread_mutex_t g_prop_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prop_node *g_prop_all; /* under g_prop_lock */
static _Atomic(const otel_propagator *) g_prop_current;

const otel_propagator *otel_global_propagator(void)
{
    const otel_propagator *p = atomic_load_explicit(&g_prop_current, memory_order_acquire);
    return p ? p : &g_noop_propagator;
}

void otel_global_set_propagator(const otel_propagator *p)
{
    struct prop_node *node = NULL;
    if (p) {
        node = otel__calloc(1, sizeof(*node));
        if (!node) {
            OTEL__LOG(OTEL_LOG_ERROR, "otel_global_set_propagator: out of memory; the previous "
                                      "propagator stays installed");
            if (p->destroy)
                p->destroy(p->user_data);
            return;
        }
        node->p = *p;
        /* Missing callbacks behave as the no-op's. */
        if (!node->p.inject)
            node->p.inject = noop_inject;
        if (!node->p.extract)
            node->p.extract = noop_extract;
        if (!node->p.fields)
            node->p.fields = noop_fields;
    }
    pthread_mutex_lock(&g_prop_lock);
    if (node) {
        node->next = g_prop_all;
        g_prop_all = node;
    }
    atomic_store_explicit(&g_prop_current, node ? &node->p : NULL, memory_order_release);
    pthread_mutex_unlock(&g_prop_lock);
}

void otel_global_propagator_shutdown(void)
{
    pthread_mutex_lock(&g_prop_lock);
    struct prop_node *all = g_prop_all;
    g_prop_all = NULL;
    atomic_store_explicit(&g_prop_current, NULL, memory_order_release);
    pthread_mutex_unlock(&g_prop_lock);
    /* User code runs outside the lock. */
    while (all) {
        struct prop_node *next = all->next;
        if (all->p.destroy)
            all->p.destroy(all->p.user_data);
        otel__free(all);
        all = next;
    }
}

void otel_global_inject(const otel_context *ctx, const otel_carrier_writer *carrier)
{
    otel_propagator_inject(otel_global_propagator(), ctx, carrier);
}

otel_context *otel_global_extract(const otel_context *ctx, const otel_carrier_reader *carrier)
{
    return otel_propagator_extract(otel_global_propagator(), ctx, carrier);
}

/* ---------------------------------------------------------------------------------------------
 * Header list carrier
 * ------------------------------------------------------------------------------------------- */

/* Case-insensitive comparison of the tails of two equally long names, from the first byte that
 * differs exactly. */
static bool name_ieq_from(const char *a, const char *b, size_t i, size_t len)
{
    for (; i < len; i++) {
        unsigned char x = (unsigned char)a[i];
        unsigned char y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Names of equal length |len|. They usually arrive in the case asked for (HTTP/2 and most
 * HTTP/1 clients send lowercase): an exact comparison, eight bytes at a time with the last
 * eight bytes read overlapping, settles most matches without folding; folding starts only
 * when that finds a difference. */
static inline bool name_ieq(const char *a, const char *b, size_t len)
{
    if (len >= 8) {
        size_t i = 0;
        for (; i + 8 < len; i += 8)
            if (load64(a + i) != load64(b + i))
                return name_ieq_from(a, b, i, len);
        return load64(a + len - 8) == load64(b + len - 8) || name_ieq_from(a, b, i, len);
    }
    return name_ieq_from(a, b, 0, len);
}

static size_t header_list_get(void *user_data, otel_str name, otel_str *values, size_t cap)
{
    const otel_header_list *list = user_data;
    if (!list || !list->headers)
        return 0;
    size_t found = 0;
    const otel_header *h = list->headers;
    for (size_t i = 0; i < list->count; i++) {
        /* The length test inline: most names of a request differ in length from the one asked. */
        if (h[i].name.len != name.len || !name_ieq(h[i].name.data, name.data, name.len))
            continue;
        if (values && found < cap)
            values[found] = h[i].value;
        found++;
    }
    return found;
}

static bool header_list_key_at(void *user_data, size_t index, otel_str *name)
{
    const otel_header_list *list = user_data;
    if (!list || !list->headers || index >= list->count)
        return false;
    if (name)
        *name = list->headers[index].name;
    return true;
}

otel_carrier_reader otel_header_list_reader(const otel_header_list *list)
{
    return (otel_carrier_reader){
        .get = header_list_get,
        .key_at = header_list_key_at,
        .user_data = (void *)list,
    };
}
