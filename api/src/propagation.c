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

static bool name_ieq(otel_str a, otel_str b)
{
    if (a.len != b.len)
        return false;
    /* Names usually arrive in the case asked for (HTTP/2 and most HTTP/1 clients send
     * lowercase): an exact comparison, eight bytes at a time, settles most matches without
     * folding; folding starts at the first byte that differs. */
    size_t i = 0;
    for (; i + 8 <= a.len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a.data + i, 8);
        memcpy(&y, b.data + i, 8);
        if (x != y)
            break;
    }
    while (i < a.len && a.data[i] == b.data[i])
        i++;
    for (; i < a.len; i++) {
        unsigned char x = (unsigned char)a.data[i];
        unsigned char y = (unsigned char)b.data[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

static size_t header_list_get(void *user_data, otel_str name, otel_str *values, size_t cap)
{
    const otel_header_list *list = user_data;
    size_t found = 0;
    for (size_t i = 0; list && list->headers && i < list->count; i++) {
        if (!name_ieq(list->headers[i].name, name))
            continue;
        if (values && found < cap)
            values[found] = list->headers[i].value;
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
