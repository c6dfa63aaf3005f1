/* The SDK tracer provider: owns the resource, sampler, id generator, resolved span limits, the
 * flat array of processors fixed at creation, the tracers and the span record pool. Tracers are
 * kept in a small table keyed by the instrumentation scope and live as long as the provider.
 * Shutdown and flush walk the processors in order under one deadline. */
#include <string.h>

#include "clock.h"
#include "copy.h"
#include "log_internal.h"
#include "mem.h"
#include "provider.h"

#define DESTROY_SHUTDOWN_TIMEOUT_NS (INT64_C(5) * 1000000000)

static otel_tracer *provider_get_tracer(otel_tracer_provider *tp, otel_str name,
                                        const otel_tracer_options *opts);

static const struct otel_tracer_provider_ops provider_ops = {
    .get_tracer = provider_get_tracer,
};

bool otel_tracer_provider_is_sdk(const otel_tracer_provider *tp)
{
    /* The ops pointer first: only then is it safe to read past the API header. */
    return tp && tp->ops == &provider_ops &&
           ((const struct otel__provider *)tp)->magic == OTEL__PROVIDER_MAGIC;
}

static inline struct otel__provider *as_sdk(otel_tracer_provider *tp)
{
    return otel_tracer_provider_is_sdk(tp) ? (struct otel__provider *)tp : NULL;
}

static uint32_t resolve_count(uint32_t v)
{
    if (v == OTEL_LIMIT_DEFAULT)
        return 128;
    if (v == OTEL_LIMIT_ZERO)
        return 0;
    return v;
}

static uint32_t resolve_length(uint32_t v)
{
    if (v == OTEL_LIMIT_DEFAULT)
        return UINT32_MAX;
    if (v == OTEL_LIMIT_ZERO)
        return 0;
    return v;
}

static bool sampler_is_zero(const otel_sampler *s)
{
    return !s->should_sample && !s->description && !s->destroy && !s->user_data;
}

static bool id_generator_is_zero(const otel_id_generator *g)
{
    return !g->new_trace_id && !g->new_span_id && !g->destroy && !g->user_data && !g->random_trace_ids;
}

static otel_status validate(const otel_tracer_provider_options *o)
{
    if (o->processor_count && !o->processors)
        return OTEL_ERR_INVALID_ARG;
    for (size_t i = 0; i < o->processor_count; i++)
        if (!o->processors[i].on_end)
            return OTEL_ERR_INVALID_ARG;
    if (!sampler_is_zero(&o->sampler) && !o->sampler.should_sample)
        return OTEL_ERR_INVALID_ARG;
    if (!id_generator_is_zero(&o->id_generator) &&
        (!o->id_generator.new_trace_id || !o->id_generator.new_span_id))
        return OTEL_ERR_INVALID_ARG;
    return OTEL_OK;
}

otel_status otel_tracer_provider_create(const otel_tracer_provider_options *opts, otel_tracer_provider **out)
{
    static const otel_tracer_provider_options defaults;
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    if (!opts)
        opts = &defaults;
    otel_status st = validate(opts);
    if (st != OTEL_OK)
        return st;

    struct otel__provider *p = otel__calloc(1, sizeof(*p));
    if (!p)
        return OTEL_ERR_NOMEM;
    p->base.ops = &provider_ops;
    if (opts->resource) {
        p->resource = otel_resource_retain(opts->resource);
    } else {
        otel_resource *r = NULL;
        st = otel_resource_default(&r);
        if (st != OTEL_OK)
            goto out_free_provider;
        p->resource = r;
    }
    if (opts->processor_count) {
        p->processors = otel__calloc(opts->processor_count, sizeof(*p->processors));
        if (!p->processors) {
            st = OTEL_ERR_NOMEM;
            goto out_release_resource;
        }
        memcpy(p->processors, opts->processors, opts->processor_count * sizeof(*p->processors));
        p->processor_count = opts->processor_count;
    }
    if (pthread_mutex_init(&p->tracers_lock, NULL) != 0) {
        st = OTEL_ERR_NOMEM;
        goto out_free_processors;
    }
    /* After tracers_lock: fork handlers take it through the pool registry. */
    st = otel__pool_init(&p->pool, p);
    if (st != OTEL_OK)
        goto out_destroy_lock;

    const struct otel_span_limits *l = &opts->limits;
    p->limits.attr_count = resolve_count(l->attr_count);
    p->limits.attr_value_length = resolve_length(l->attr_value_length);
    p->limits.event_count = resolve_count(l->event_count);
    p->limits.link_count = resolve_count(l->link_count);
    p->limits.event_attr_count = resolve_count(l->event_attr_count);
    p->limits.link_attr_count = resolve_count(l->link_attr_count);

    p->sampler = opts->sampler.should_sample ? opts->sampler : otel__sampler_default();
    p->sampler_shortcut = (uint8_t)otel__sampler_shortcut(&p->sampler);
    for (size_t i = 0; i < p->processor_count; i++)
        p->any_on_start = p->any_on_start || p->processors[i].on_start != NULL;
    /* One batch processor alone: span end hands it the span directly (unless the processor
     * already serves another provider that way). */
    if (p->processor_count == 1 && p->processors[0].on_end == otel__batch_on_end &&
        otel__batch_attach_provider(p->processors[0].user_data, p))
        p->fast_batch = p->processors[0].user_data;
    otel__clock_init();
    if (opts->id_generator.new_trace_id) {
        p->id_generator = opts->id_generator;
    } else {
        p->id_generator = otel__id_generator_builtin();
        p->builtin_ids = true;
    }
    p->disabled = opts->disabled;
    p->fast_start =
        p->builtin_ids && p->sampler_shortcut != OTEL__SAMPLER_GENERAL && !p->any_on_start && !p->disabled;
    atomic_init(&p->shut_down, false);
    atomic_init(&p->pins, 0);
    otel_scope_data empty_scope = { .name = { "", 0 }, .version = { "", 0 }, .schema_url = { "", 0 } };
    otel__tracer_init(&p->fallback_tracer, p, &empty_scope);
    p->magic = OTEL__PROVIDER_MAGIC;
    *out = &p->base;
    return OTEL_OK;

out_destroy_lock:
    pthread_mutex_destroy(&p->tracers_lock);
out_free_processors:
    otel__free(p->processors);
out_release_resource:
    otel_resource_release(p->resource);
out_free_provider:
    otel__free(p);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Tracers
 * ------------------------------------------------------------------------------------------- */

static bool attrs_eq(const otel_attr *a, size_t na, const otel_attr *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (!otel_str_eq(a[i].key, b[i].key) || !otel__value_eq(&a[i].value, &b[i].value))
            return false;
    }
    return true;
}

static bool str_eq(otel_str a, otel_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static bool attr_copyable(const otel_attr *a)
{
    if (!a->key.len || !a->key.data)
        return false;
    switch (a->value.type) {
    case OTEL_VALUE_BOOL:
    case OTEL_VALUE_INT:
    case OTEL_VALUE_DOUBLE:
        return true;
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES:
        return a->value.as.s.data || !a->value.as.s.len;
    case OTEL_VALUE_ARRAY:
        if (a->value.as.array.len && !a->value.as.array.items)
            return false;
        return a->value.array_type >= OTEL_VALUE_BOOL && a->value.array_type <= OTEL_VALUE_STR;
    default:
        return false;
    }
}

/* One pass of the tracer's allocation: the struct, then the scope's strings and attributes. */
static struct otel__tracer *tracer_layout(struct otel__bump *b, otel_str name, otel_str version,
                                          otel_str schema_url, const otel_attr *attrs, size_t n,
                                          otel_scope_data *scope)
{
    struct otel__tracer *t = otel__bump_alloc(b, sizeof(*t), 8);
    scope->name = otel__bump_str(b, name);
    scope->version = otel__bump_str(b, version);
    scope->schema_url = otel__bump_str(b, schema_url);
    scope->attrs = otel__bump_attrs(b, attrs, n);
    scope->attr_count = scope->attrs ? n : 0;
    return t;
}

static struct otel__tracer *tracer_create(struct otel__provider *p, otel_str name, otel_str version,
                                          otel_str schema_url, const otel_attr *attrs, size_t n)
{
    otel_scope_data scope;
    struct otel__bump measure = { NULL, 0 };
    tracer_layout(&measure, name, version, schema_url, attrs, n, &scope);
    char *block = otel__malloc(measure.off);
    if (!block)
        return NULL;
    struct otel__bump fill = { block, 0 };
    struct otel__tracer *t = tracer_layout(&fill, name, version, schema_url, attrs, n, &scope);
    otel__tracer_init(t, p, &scope);
    return t;
}

static otel_tracer *provider_get_tracer(otel_tracer_provider *tp, otel_str name,
                                        const otel_tracer_options *opts)
{
    struct otel__provider *p = (struct otel__provider *)tp;
    static const otel_tracer_options no_opts;
    if (!opts)
        opts = &no_opts;
    if (!name.data)
        name.len = 0;
    if (name.len == 0)
        OTEL__LOG(OTEL_LOG_WARN, "get_tracer: empty instrumentation scope name (the tracer works, "
                                 "but its spans cannot be told apart by scope)");
    otel_str version = opts->version.data ? opts->version : (otel_str){ "", 0 };
    otel_str schema_url = opts->schema_url.data ? opts->schema_url : (otel_str){ "", 0 };

    /* Scope attributes: only the valid ones, in order (invalid ones are skipped with a note). */
    size_t n_in = opts->attrs ? opts->attr_count : 0, n_ok = 0;
    for (size_t i = 0; i < n_in; i++)
        n_ok += attr_copyable(&opts->attrs[i]);
    otel_attr small[8];
    otel_attr *valid = NULL;
    const otel_attr *attrs = opts->attrs;
    if (n_ok != n_in) {
        OTEL__LOG(OTEL_LOG_WARN, "get_tracer: skipped %zu invalid scope attribute(s)", n_in - n_ok);
        valid = n_ok <= 8 ? small : otel__malloc(n_ok * sizeof(*valid));
        if (!valid)
            return &p->fallback_tracer.base;
        size_t k = 0;
        for (size_t i = 0; i < n_in; i++)
            if (attr_copyable(&opts->attrs[i]))
                valid[k++] = opts->attrs[i];
        attrs = valid;
    }

    struct otel__tracer *found = NULL;
    pthread_mutex_lock(&p->tracers_lock);
    for (size_t i = 0; i < p->tracer_count; i++) {
        struct otel__tracer *t = p->tracers[i];
        if (str_eq(t->scope.name, name) && str_eq(t->scope.version, version) &&
            str_eq(t->scope.schema_url, schema_url) &&
            attrs_eq(t->scope.attrs, t->scope.attr_count, attrs, n_ok)) {
            found = t;
            break;
        }
    }
    if (!found) {
        if (p->tracer_count == p->tracer_cap) {
            size_t ncap = p->tracer_cap ? p->tracer_cap * 2 : 4;
            struct otel__tracer **grown = otel__realloc(p->tracers, ncap * sizeof(*grown));
            if (grown) {
                p->tracers = grown;
                p->tracer_cap = ncap;
            }
        }
        if (p->tracer_count < p->tracer_cap) {
            found = tracer_create(p, name, version, schema_url, attrs, n_ok);
            if (found)
                p->tracers[p->tracer_count++] = found;
        }
    }
    pthread_mutex_unlock(&p->tracers_lock);
    if (valid && valid != small)
        otel__free(valid);
    if (!found) {
        OTEL__LOG(OTEL_LOG_WARN,
                  "get_tracer: out of memory; spans of scope '%.*s' get an empty "
                  "scope",
                  (int)(name.len > 200 ? 200 : name.len), name.data ? name.data : "");
        return &p->fallback_tracer.base;
    }
    return &found->base;
}

/* ---------------------------------------------------------------------------------------------
 * Flush, shutdown, destroy, stats
 * ------------------------------------------------------------------------------------------- */

otel_status otel_tracer_provider_force_flush(otel_tracer_provider *tp, int64_t timeout_ns)
{
    struct otel__provider *p = as_sdk(tp);
    if (!p)
        return OTEL_ERR_INVALID_ARG;
    if (atomic_load_explicit(&p->shut_down, memory_order_acquire))
        return OTEL_ERR_SHUT_DOWN;
    int64_t deadline = otel__deadline(timeout_ns);
    otel_status result = OTEL_OK;
    for (size_t i = 0; i < p->processor_count; i++) {
        const otel_span_processor *sp = &p->processors[i];
        if (!sp->force_flush)
            continue;
        otel_status st = sp->force_flush(sp->user_data, otel__remaining(deadline));
        if (st != OTEL_OK && result == OTEL_OK)
            result = st;
    }
    return result;
}

static void log_summary(struct otel__provider *p)
{
    otel_tracer_provider_stats s;
    otel_tracer_provider_get_stats(&p->base, &s);
    if (s.spans_dropped || s.spans_failed || s.attrs_dropped || s.events_dropped || s.links_dropped)
        otel__log(OTEL_LOG_INFO,
                  "tracer provider shut down: %llu spans ended, %llu exported, %llu dropped, "
                  "%llu failed to export; dropped %llu attributes, %llu events, %llu links",
                  (unsigned long long)s.spans_ended, (unsigned long long)s.spans_exported,
                  (unsigned long long)s.spans_dropped, (unsigned long long)s.spans_failed,
                  (unsigned long long)s.attrs_dropped, (unsigned long long)s.events_dropped,
                  (unsigned long long)s.links_dropped);
}

otel_status otel_tracer_provider_shutdown(otel_tracer_provider *tp, int64_t timeout_ns)
{
    struct otel__provider *p = as_sdk(tp);
    if (!p)
        return OTEL_ERR_INVALID_ARG;
    if (atomic_exchange_explicit(&p->shut_down, true, memory_order_acq_rel))
        return OTEL_OK;
    int64_t deadline = otel__deadline(timeout_ns);
    otel_status result = OTEL_OK;
    for (size_t i = 0; i < p->processor_count; i++) {
        const otel_span_processor *sp = &p->processors[i];
        if (!sp->shutdown)
            continue;
        otel_status st = sp->shutdown(sp->user_data, otel__remaining(deadline));
        if (st != OTEL_OK && result == OTEL_OK)
            result = st;
    }
    log_summary(p);
    return result;
}

/* The part of destroy that frees what span records point at (the pool itself, tracers and their
 * scopes, the resource): run by destroy, or by the last unpin when records outlived it. */
static void provider_free(struct otel__provider *p)
{
    otel__pool_destroy(&p->pool);
    for (size_t i = 0; i < p->tracer_count; i++)
        otel__free(p->tracers[i]);
    otel__free(p->tracers);
    pthread_mutex_destroy(&p->tracers_lock);
    otel_resource_release(p->resource);
    otel__free(p);
}

void otel__provider_pin(struct otel__provider *p)
{
    atomic_fetch_add_explicit(&p->pins, 1u, memory_order_relaxed);
}

void otel__provider_unpin(struct otel__provider *p)
{
    uint32_t left = atomic_fetch_sub_explicit(&p->pins, 1u, memory_order_acq_rel) - 1u;
    if (left == OTEL__PROVIDER_ZOMBIE)
        provider_free(p);
}

void otel_tracer_provider_destroy(otel_tracer_provider *tp)
{
    if (!tp)
        return;
    struct otel__provider *p = as_sdk(tp);
    if (!p) {
        otel__log(OTEL_LOG_WARN, "otel_tracer_provider_destroy: not an SDK tracer provider; ignored");
        return;
    }
    otel_global_unset_tracer_provider(tp);
    if (!atomic_load_explicit(&p->shut_down, memory_order_acquire))
        otel_tracer_provider_shutdown(tp, DESTROY_SHUTDOWN_TIMEOUT_NS);
    for (size_t i = 0; i < p->processor_count; i++) {
        if (p->processors[i].destroy)
            p->processors[i].destroy(p->processors[i].user_data);
    }
    otel__free(p->processors);
    p->processors = NULL;
    p->processor_count = 0;
    p->fast_batch = NULL;
    otel_sampler_destroy(&p->sampler);
    if (p->id_generator.destroy)
        p->id_generator.destroy(p->id_generator.user_data);
    p->magic = 0;
    p->base.ops = NULL;
    /* An export abandoned at shutdown may still hold records: the last unpin frees the rest. */
    if (atomic_fetch_or_explicit(&p->pins, OTEL__PROVIDER_ZOMBIE, memory_order_acq_rel) != 0) {
        otel__log(OTEL_LOG_WARN, "tracer provider destroyed while an exporter still holds spans "
                                 "(an export outlived its shutdown deadline); its memory is freed "
                                 "when that export returns");
        return;
    }
    provider_free(p);
}

otel_status otel_tracer_provider_get_stats(otel_tracer_provider *tp, otel_tracer_provider_stats *out)
{
    struct otel__provider *p = as_sdk(tp);
    if (!p || !out)
        return OTEL_ERR_INVALID_ARG;
    otel_tracer_provider_stats s;
    otel__pool_sum_stats(&p->pool, &s);
    for (size_t i = 0; i < p->processor_count; i++) {
        const otel_span_processor *sp = &p->processors[i];
        if (!sp->get_stats)
            continue;
        otel_processor_stats ps = { 0 };
        sp->get_stats(sp->user_data, &ps);
        s.spans_dropped += ps.spans_dropped;
        s.spans_exported += ps.spans_exported;
        s.spans_failed += ps.spans_failed;
    }
    *out = s;
    return OTEL_OK;
}

const otel_resource *otel_tracer_provider_resource(const otel_tracer_provider *tp)
{
    return otel_tracer_provider_is_sdk(tp) ? ((const struct otel__provider *)tp)->resource : NULL;
}
