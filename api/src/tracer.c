/* Tracer providers and tracers on the API side: the process-wide global slot, the built-in no-op
 * provider and tracer, the proxy tracers of otel_global_get_tracer(), and otel_tracer_start_span(),
 * which resolves the new span's parent (explicit context, the thread's current frame, or none)
 * before dispatching to the tracer. Starting a span here takes no lock and allocates nothing. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "api_internal.h"
#include "context_internal.h"
#include "log_internal.h"
#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * The global slot
 *
 * |epoch| doubles as a sequence lock so a reader gets a consistent (provider, epoch) pair: a
 * writer makes it odd (a compare-exchange, which also serializes writers from any copy of this
 * library in the process), stores the provider, then makes it even again. Readers retry while it
 * is odd or changed under them; that only happens while a provider is being set.
 * ------------------------------------------------------------------------------------------- */

struct otel__global_state otel__global_v1;

/* Takes the writer side; returns the even epoch it started from. */
static uint64_t global_write_begin(void)
{
    struct otel__global_state *g = &otel__global_v1;
    for (;;) {
        uint64_t e = atomic_load_explicit(&g->epoch, memory_order_relaxed);
        /* acq_rel: the release half orders the odd epoch before the provider store that
         * follows (itself a release store), without a fence ThreadSanitizer cannot model. */
        if (!(e & 1) && atomic_compare_exchange_weak_explicit(&g->epoch, &e, e + 1, memory_order_acq_rel,
                                                              memory_order_relaxed))
            return e;
        sched_yield();
    }
}

static void global_write_end(uint64_t e)
{
    atomic_store_explicit(&otel__global_v1.epoch, e + 2, memory_order_release);
}

/* A consistent snapshot: the provider (NULL for the no-op one) and its epoch. */
static otel_tracer_provider *global_read(uint64_t *epoch)
{
    struct otel__global_state *g = &otel__global_v1;
    for (;;) {
        uint64_t e1 = atomic_load_explicit(&g->epoch, memory_order_acquire);
        /* The acquire load keeps the second epoch read after it. */
        otel_tracer_provider *tp = atomic_load_explicit(&g->provider, memory_order_acquire);
        uint64_t e2 = atomic_load_explicit(&g->epoch, memory_order_relaxed);
        if (e1 == e2 && !(e1 & 1)) {
            *epoch = e1;
            return tp;
        }
        sched_yield();
    }
}

/* ---------------------------------------------------------------------------------------------
 * No-op provider and tracer
 * ------------------------------------------------------------------------------------------- */

static otel_span noop_start_span(otel_tracer *tracer, otel_str name, const otel_span_start_options *opts,
                                 const otel_parent *parent)
{
    (void)tracer, (void)name, (void)opts;
    if (!parent || !otel_span_context_is_valid(&parent->span_context))
        return OTEL_SPAN_NONE;
    return otel_nonrecording_span_create(&parent->span_context, parent->trace_state);
}

static bool noop_enabled(otel_tracer *tracer)
{
    (void)tracer;
    return false;
}

static const struct otel_tracer_ops noop_tracer_ops = {
    .start_span = noop_start_span,
    .enabled = noop_enabled,
};

static otel_tracer g_noop_tracer = { &noop_tracer_ops };

static otel_tracer *noop_get_tracer(otel_tracer_provider *tp, otel_str name, const otel_tracer_options *opts)
{
    (void)tp, (void)name, (void)opts;
    return &g_noop_tracer;
}

static const struct otel_tracer_provider_ops noop_provider_ops = {
    .get_tracer = noop_get_tracer,
};

static otel_tracer_provider g_noop_provider = { &noop_provider_ops };

otel_tracer_provider *otel__noop_tracer_provider(void)
{
    return &g_noop_provider;
}

otel_tracer *otel__noop_tracer(void)
{
    return &g_noop_tracer;
}

otel_tracer_provider *otel_global_tracer_provider(void)
{
    uint64_t epoch;
    otel_tracer_provider *tp = global_read(&epoch);
    return tp ? tp : &g_noop_provider;
}

void otel_global_set_tracer_provider(otel_tracer_provider *tp)
{
    if (tp == &g_noop_provider)
        tp = NULL;
    uint64_t e = global_write_begin();
    atomic_store_explicit(&otel__global_v1.provider, tp, memory_order_release);
    global_write_end(e);
}

bool otel_global_unset_tracer_provider(otel_tracer_provider *tp)
{
    if (!tp || tp == &g_noop_provider)
        return false;
    uint64_t e = global_write_begin();
    bool was_global = atomic_load_explicit(&otel__global_v1.provider, memory_order_relaxed) == tp;
    if (was_global)
        atomic_store_explicit(&otel__global_v1.provider, NULL, memory_order_release);
    global_write_end(e);
    return was_global;
}

otel_tracer *otel_tracer_provider_get_tracer(otel_tracer_provider *tp, otel_str name,
                                             const otel_tracer_options *opts)
{
    if (!tp || !tp->ops || !tp->ops->get_tracer)
        return &g_noop_tracer;
    otel_tracer *t = tp->ops->get_tracer(tp, name, opts);
    return t ? t : &g_noop_tracer;
}

/* ---------------------------------------------------------------------------------------------
 * Proxy tracers
 *
 * Each proxy caches the real tracer of the provider that was global at an epoch, as an
 * immutable binding published with one atomic exchange. Bindings replaced by a newer one may
 * still be read by another thread, so they are kept (on a list, never freed); there is one per
 * provider change per proxy. Proxies themselves live in a process-wide table until exit.
 * ------------------------------------------------------------------------------------------- */

struct proxy_binding {
    uint64_t epoch;
    otel_tracer *tracer;
    struct proxy_binding *retired_next;
};

struct proxy_tracer {
    otel_tracer hdr;
    otel_str name; /* the strings and attributes below are owned copies */
    otel_tracer_options opts;
    _Atomic(struct proxy_binding *) binding;
    struct proxy_binding *retired; /* under g_proxy_lock */
    struct proxy_tracer *next;     /* under g_proxy_lock */
};

static pthread_mutex_t g_proxy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct proxy_tracer *g_proxies;

/* The real tracer for |tp| at |epoch| (tp is not NULL). */
static otel_tracer *proxy_resolve(struct proxy_tracer *p, otel_tracer_provider *tp, uint64_t epoch)
{
    struct proxy_binding *b = atomic_load_explicit(&p->binding, memory_order_acquire);
    if (b && b->epoch == epoch)
        return b->tracer;
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, p->name, &p->opts);
    struct proxy_binding *nb = otel__malloc(sizeof(*nb));
    if (!nb)
        return t; /* works, just not cached this time */
    nb->epoch = epoch;
    nb->tracer = t;
    nb->retired_next = NULL;
    struct proxy_binding *old = atomic_exchange_explicit(&p->binding, nb, memory_order_acq_rel);
    if (old) {
        pthread_mutex_lock(&g_proxy_lock);
        old->retired_next = p->retired;
        p->retired = old;
        pthread_mutex_unlock(&g_proxy_lock);
    }
    return t;
}

static otel_span proxy_start_span(otel_tracer *tracer, otel_str name, const otel_span_start_options *opts,
                                  const otel_parent *parent)
{
    uint64_t epoch;
    otel_tracer_provider *tp = global_read(&epoch);
    if (!tp)
        return noop_start_span(&g_noop_tracer, name, opts, parent);
    struct proxy_tracer *p = (struct proxy_tracer *)tracer;
    struct proxy_binding *b = atomic_load_explicit(&p->binding, memory_order_acquire);
    if (__builtin_expect(b && b->epoch == epoch, 1))
        return b->tracer->ops->start_span(b->tracer, name, opts, parent);
    /* Looking the tracer up calls the provider (user code, which may log, and a log handler may
     * attach a context): |parent| may point into this thread's context stack, so a copy. */
    otel_parent copy = *parent;
    otel_tracer *t = proxy_resolve(p, tp, epoch);
    return t->ops->start_span(t, name, opts, &copy);
}

static bool proxy_enabled(otel_tracer *tracer)
{
    uint64_t epoch;
    otel_tracer_provider *tp = global_read(&epoch);
    if (!tp)
        return false;
    otel_tracer *t = proxy_resolve((struct proxy_tracer *)tracer, tp, epoch);
    return t->ops->enabled ? t->ops->enabled(t) : true;
}

static const struct otel_tracer_ops proxy_ops = {
    .start_span = proxy_start_span,
    .enabled = proxy_enabled,
};

/* Deep copy of scope attributes: one allocation holding the array, the element arrays of
 * array values and every string. */
static size_t value_extra_size(const otel_value *v)
{
    size_t n = 0;
    switch (v->type) {
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES:
        return v->as.s.len;
    case OTEL_VALUE_ARRAY:
        switch ((otel_value_type)v->array_type) {
        case OTEL_VALUE_BOOL:
            return v->as.array.len * sizeof(bool);
        case OTEL_VALUE_INT:
            return v->as.array.len * sizeof(int64_t);
        case OTEL_VALUE_DOUBLE:
            return v->as.array.len * sizeof(double);
        case OTEL_VALUE_STR:
            n = v->as.array.len * sizeof(otel_str);
            for (size_t i = 0; i < v->as.array.len; i++)
                n += ((const otel_str *)v->as.array.items)[i].len;
            return n;
        default:
            return 0;
        }
    default:
        return 0;
    }
}

#define ALIGN_UP(n) (((n) + 7u) & ~(size_t)7u)

static char *copy_bytes(char **cursor, const char *src, size_t len)
{
    char *dst = *cursor;
    if (len)
        memcpy(dst, src, len);
    *cursor += len;
    return dst;
}

static otel_attr *attrs_copy(const otel_attr *attrs, size_t count)
{
    size_t size = ALIGN_UP(count * sizeof(otel_attr));
    for (size_t i = 0; i < count; i++)
        size += ALIGN_UP(attrs[i].key.len) + ALIGN_UP(value_extra_size(&attrs[i].value));
    otel_attr *out = otel__malloc(size);
    if (!out)
        return NULL;
    char *cursor = (char *)out + ALIGN_UP(count * sizeof(otel_attr));
    for (size_t i = 0; i < count; i++) {
        const otel_attr *a = &attrs[i];
        otel_attr *c = &out[i];
        *c = *a;
        c->key.data = copy_bytes(&cursor, a->key.data, a->key.len);
        cursor = (char *)out + ALIGN_UP((size_t)(cursor - (char *)out));
        c->value.flags = 0;
        if (a->value.type == OTEL_VALUE_STR || a->value.type == OTEL_VALUE_BYTES) {
            c->value.as.s.data = copy_bytes(&cursor, a->value.as.s.data, a->value.as.s.len);
        } else if (a->value.type == OTEL_VALUE_ARRAY) {
            size_t len = a->value.as.array.len;
            if (a->value.array_type == OTEL_VALUE_STR) {
                otel_str *items = (otel_str *)cursor;
                cursor += len * sizeof(otel_str);
                for (size_t j = 0; j < len; j++) {
                    otel_str s = ((const otel_str *)a->value.as.array.items)[j];
                    items[j].data = copy_bytes(&cursor, s.data, s.len);
                    items[j].len = s.len;
                }
                c->value.as.array.items = items;
            } else {
                size_t bytes = value_extra_size(&a->value);
                c->value.as.array.items = copy_bytes(&cursor, a->value.as.array.items, bytes);
            }
        }
        cursor = (char *)out + ALIGN_UP((size_t)(cursor - (char *)out));
    }
    return out;
}

static bool proxy_matches(const struct proxy_tracer *p, otel_str name, otel_str version, otel_str schema_url)
{
    return otel_str_eq(p->name, name) && otel_str_eq(p->opts.version, version) &&
           otel_str_eq(p->opts.schema_url, schema_url);
}

static struct proxy_tracer *proxy_new(otel_str name, const otel_tracer_options *opts)
{
    struct proxy_tracer *p = otel__calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->hdr.ops = &proxy_ops;
    char *n = otel__strndup(name.data, name.len);
    if (!n)
        goto out_free_proxy;
    p->name = (otel_str){ n, name.len };
    if (opts) {
        char *v = otel__strndup(opts->version.data, opts->version.len);
        if (!v)
            goto out_free_name;
        p->opts.version = (otel_str){ v, opts->version.len };
        char *s = otel__strndup(opts->schema_url.data, opts->schema_url.len);
        if (!s)
            goto out_free_version;
        p->opts.schema_url = (otel_str){ s, opts->schema_url.len };
        if (opts->attrs && opts->attr_count) {
            otel_attr *a = attrs_copy(opts->attrs, opts->attr_count);
            if (!a)
                goto out_free_schema;
            p->opts.attrs = a;
            p->opts.attr_count = opts->attr_count;
        }
    }
    atomic_init(&p->binding, NULL);
    return p;
out_free_schema:
    otel__free((void *)p->opts.schema_url.data);
out_free_version:
    otel__free((void *)p->opts.version.data);
out_free_name:
    otel__free(n);
out_free_proxy:
    otel__free(p);
    return NULL;
}

otel_tracer *otel_global_get_tracer(otel_str name, const otel_tracer_options *opts)
{
    if (name.len == 0 || !name.data) {
        OTEL__LOG(OTEL_LOG_WARN, "otel_global_get_tracer: empty instrumentation scope name");
        name = (otel_str){ "", 0 };
    }
    otel_str version = opts ? opts->version : (otel_str){ NULL, 0 };
    otel_str schema_url = opts ? opts->schema_url : (otel_str){ NULL, 0 };
    if (version.len && !version.data)
        version.len = 0;
    if (schema_url.len && !schema_url.data)
        schema_url.len = 0;

    pthread_mutex_lock(&g_proxy_lock);
    for (struct proxy_tracer *p = g_proxies; p; p = p->next) {
        if (proxy_matches(p, name, version, schema_url)) {
            pthread_mutex_unlock(&g_proxy_lock);
            return &p->hdr;
        }
    }
    otel_tracer_options copy = { 0 };
    if (opts) {
        copy = *opts;
        copy.version = version;
        copy.schema_url = schema_url;
    }
    struct proxy_tracer *p = proxy_new(name, opts ? &copy : NULL);
    if (p) {
        p->next = g_proxies;
        g_proxies = p;
    }
    pthread_mutex_unlock(&g_proxy_lock);
    if (!p) {
        OTEL__LOG(OTEL_LOG_ERROR, "otel_global_get_tracer: out of memory; returning a no-op "
                                  "tracer that will not follow the global provider");
        return &g_noop_tracer;
    }
    return &p->hdr;
}

/* ---------------------------------------------------------------------------------------------
 * Starting spans
 * ------------------------------------------------------------------------------------------- */

bool otel_tracer_enabled(otel_tracer *tracer)
{
    if (!tracer || !tracer->ops->enabled)
        return false;
    return tracer->ops->enabled(tracer);
}

/* Everything but the common case below: options that choose the parent, or no tracer. */
static __attribute__((noinline)) otel_span start_span_slow(otel_tracer *tracer, otel_str name,
                                                           const otel_span_start_options *opts)
{
    if (!tracer)
        tracer = &g_noop_tracer;
    otel_parent scratch;
    const otel_parent *parent;
    if (!opts) {
        parent = otel__context_top_parent();
    } else if (opts->flags & OTEL_SPAN_START_ROOT) {
        parent = &otel__no_parent;
    } else if (opts->parent) {
        otel__context_parent_from(opts->parent, &scratch);
        parent = &scratch;
    } else {
        parent = otel__context_top_parent();
    }
    return tracer->ops->start_span(tracer, name, opts, parent);
}

otel_span otel_tracer_start_span(otel_tracer *tracer, otel_str name, const otel_span_start_options *opts)
{
    /* No options, or none that choose the parent: the parent is the thread's top frame, passed
     * by a pointer into the stack with no copy, in a tail call. */
    if (__builtin_expect(tracer && (!opts || (!opts->parent && !(opts->flags & OTEL_SPAN_START_ROOT))), 1))
        return tracer->ops->start_span(tracer, name, opts, otel__context_top_parent());
    return start_span_slow(tracer, name, opts);
}
