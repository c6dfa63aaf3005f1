/* Helpers for the SDK core tests: a collecting exporter that keeps clones of what it exports and
 * counts its calls, and a provider set-up with one simple processor in front of it. Header-only
 * (static functions), included by the tests/sdk/test_*.c files that need it. */
#ifndef OTEL_TESTS_SDK_TESTLIB_H
#define OTEL_TESTS_SDK_TESTLIB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"

typedef struct collector {
    pthread_mutex_t lock;
    otel_span_data **spans; /* clones (when |clone| is set) */
    size_t count;
    size_t cap;
    bool clone;                /* keep clones; otherwise only count */
    otel_export_result result; /* what export_spans returns */
    otel_status flush_result;
    otel_status shutdown_result;
    _Atomic int export_calls;
    _Atomic int exported_spans;
    _Atomic int flush_calls;
    _Atomic int shutdown_calls;
    _Atomic int destroy_calls;
    _Atomic int64_t last_flush_timeout;
    _Atomic int64_t last_shutdown_timeout;
} collector;

static inline void collector_init(collector *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->clone = true;
}

static inline void collector_clear(collector *c)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count; i++)
        otel_span_data_free(c->spans[i]);
    c->count = 0;
    pthread_mutex_unlock(&c->lock);
}

static inline void collector_cleanup(collector *c)
{
    collector_clear(c);
    free(c->spans);
    c->spans = NULL;
    c->cap = 0;
    pthread_mutex_destroy(&c->lock);
}

static otel_export_result collector_export(void *ud, const otel_span_data *const *spans, size_t n,
                                           int64_t timeout_ns)
{
    (void)timeout_ns;
    collector *c = ud;
    atomic_fetch_add(&c->export_calls, 1);
    atomic_fetch_add(&c->exported_spans, (int)n);
    if (c->clone) {
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            otel_span_data *copy = NULL;
            if (otel_span_data_clone(spans[i], &copy) != OTEL_OK)
                continue;
            if (c->count == c->cap) {
                size_t ncap = c->cap ? c->cap * 2 : 16;
                otel_span_data **grown = realloc(c->spans, ncap * sizeof(*grown));
                if (!grown) {
                    otel_span_data_free(copy);
                    continue;
                }
                c->spans = grown;
                c->cap = ncap;
            }
            c->spans[c->count++] = copy;
        }
        pthread_mutex_unlock(&c->lock);
    }
    return c->result;
}

static otel_status collector_flush(void *ud, int64_t timeout_ns)
{
    collector *c = ud;
    atomic_fetch_add(&c->flush_calls, 1);
    atomic_store(&c->last_flush_timeout, timeout_ns);
    return c->flush_result;
}

static otel_status collector_shutdown(void *ud, int64_t timeout_ns)
{
    collector *c = ud;
    atomic_fetch_add(&c->shutdown_calls, 1);
    atomic_store(&c->last_shutdown_timeout, timeout_ns);
    return c->shutdown_result;
}

static void collector_destroy(void *ud)
{
    collector *c = ud;
    atomic_fetch_add(&c->destroy_calls, 1);
}

static inline otel_span_exporter collector_exporter(collector *c)
{
    otel_span_exporter e = {
        .export_spans = collector_export,
        .force_flush = collector_flush,
        .shutdown = collector_shutdown,
        .destroy = collector_destroy,
        .user_data = c,
    };
    return e;
}

/* The first collected span named |name|, or NULL. */
static inline const otel_span_data *collector_find(collector *c, const char *name)
{
    otel_str n = otel_str_from_cstr(name);
    const otel_span_data *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count && !found; i++)
        if (otel_str_eq(c->spans[i]->name, n))
            found = c->spans[i];
    pthread_mutex_unlock(&c->lock);
    return found;
}

static inline size_t collector_count(collector *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* A provider with one simple processor in front of |c| and |opts| (may be NULL) for the rest. */
static inline otel_tracer_provider *testlib_provider(collector *c, const otel_tracer_provider_options *opts)
{
    otel_tracer_provider_options o = { 0 };
    if (opts)
        o = *opts;
    otel_span_processor sp;
    if (otel_simple_processor_create(collector_exporter(c), &sp) != OTEL_OK)
        return NULL;
    o.processors = &sp;
    o.processor_count = 1;
    otel_tracer_provider *tp = NULL;
    if (otel_tracer_provider_create(&o, &tp) != OTEL_OK) {
        sp.destroy(sp.user_data);
        return NULL;
    }
    return tp;
}

/* A processor that retains every ended span (otel_span_data_retain), so a test can look at the
 * live record data, pointers included; retainer_release_all() gives them back to the pool. */
#define RETAINER_MAX 256
typedef struct retainer {
    pthread_mutex_t lock;
    const otel_span_data *spans[RETAINER_MAX];
    size_t count;
    _Atomic int starts;
    _Atomic int ends;
} retainer;

static void retainer_on_start(void *ud, otel_span span, const otel_span_data *data, const otel_parent *parent)
{
    (void)span;
    (void)data;
    (void)parent;
    retainer *r = ud;
    atomic_fetch_add(&r->starts, 1);
}

static void retainer_on_end(void *ud, const otel_span_data *span)
{
    retainer *r = ud;
    atomic_fetch_add(&r->ends, 1);
    pthread_mutex_lock(&r->lock);
    if (r->count < RETAINER_MAX)
        r->spans[r->count++] = otel_span_data_retain(span);
    pthread_mutex_unlock(&r->lock);
}

static inline void retainer_init(retainer *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
}

static inline void retainer_release_all(retainer *r)
{
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->count; i++)
        otel_span_data_release(r->spans[i]);
    r->count = 0;
    pthread_mutex_unlock(&r->lock);
}

static inline const otel_span_data *retainer_last(retainer *r)
{
    pthread_mutex_lock(&r->lock);
    const otel_span_data *d = r->count ? r->spans[r->count - 1] : NULL;
    pthread_mutex_unlock(&r->lock);
    return d;
}

static inline otel_span_processor retainer_processor(retainer *r)
{
    otel_span_processor p = {
        .on_start = retainer_on_start,
        .on_end = retainer_on_end,
        .user_data = r,
    };
    return p;
}

/* A provider whose only processor is |r|; |opts| (may be NULL) for the rest. */
static inline otel_tracer_provider *retainer_provider(retainer *r, const otel_tracer_provider_options *opts)
{
    otel_tracer_provider_options o = { 0 };
    if (opts)
        o = *opts;
    otel_span_processor sp = retainer_processor(r);
    o.processors = &sp;
    o.processor_count = 1;
    otel_tracer_provider *tp = NULL;
    if (otel_tracer_provider_create(&o, &tp) != OTEL_OK)
        return NULL;
    return tp;
}

static inline bool str_is(otel_str s, const char *cstr)
{
    return otel_str_eq(s, otel_str_from_cstr(cstr));
}

static inline const otel_attr *find_attr(const otel_attr *attrs, size_t n, const char *key)
{
    return otel_attrs_find(attrs, n, otel_str_from_cstr(key));
}

#endif
