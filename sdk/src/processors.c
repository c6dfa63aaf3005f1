/* The simple and composite span processors. The simple one exports each sampled span in
 * on_end, synchronously, one export at a time (its mutex is the exception to "no user code under
 * an SDK lock": serialising the exporter is its whole job). The composite one fans out to a
 * fixed array of processors. The batch processor lives in its own file. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "mem.h"
#include "provider.h"

/* ---------------------------------------------------------------------------------------------
 * Simple
 * ------------------------------------------------------------------------------------------- */

struct simple {
    otel_span_exporter exporter;
    pthread_mutex_t lock;
    bool shut_down; /* under lock */
    _Atomic uint64_t received;
    _Atomic uint64_t dropped;
    _Atomic uint64_t exported;
    _Atomic uint64_t failed;
};

static void simple_on_end(void *user_data, const otel_span_data *span)
{
    struct simple *s = user_data;
    otel__count(&s->received, 1);
    if (!(span->context.trace_flags & OTEL_TRACE_FLAG_SAMPLED))
        return;
    pthread_mutex_lock(&s->lock);
    if (s->shut_down) {
        pthread_mutex_unlock(&s->lock);
        otel__count(&s->dropped, 1);
        return;
    }
    otel_export_result r = s->exporter.export_spans(s->exporter.user_data, &span, 1, 0);
    pthread_mutex_unlock(&s->lock);
    otel__count(r == OTEL_EXPORT_SUCCESS ? &s->exported : &s->failed, 1);
}

static otel_status simple_force_flush(void *user_data, int64_t timeout_ns)
{
    struct simple *s = user_data;
    otel_status st = OTEL_OK;
    pthread_mutex_lock(&s->lock);
    if (s->shut_down)
        st = OTEL_ERR_SHUT_DOWN;
    else if (s->exporter.force_flush)
        st = s->exporter.force_flush(s->exporter.user_data, timeout_ns);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static otel_status simple_shutdown(void *user_data, int64_t timeout_ns)
{
    struct simple *s = user_data;
    otel_status st = OTEL_OK;
    pthread_mutex_lock(&s->lock);
    if (!s->shut_down) {
        s->shut_down = true;
        if (s->exporter.shutdown)
            st = s->exporter.shutdown(s->exporter.user_data, timeout_ns);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

static void simple_get_stats(void *user_data, otel_processor_stats *out)
{
    struct simple *s = user_data;
    out->spans_received = atomic_load_explicit(&s->received, memory_order_relaxed);
    out->spans_dropped = atomic_load_explicit(&s->dropped, memory_order_relaxed);
    out->spans_exported = atomic_load_explicit(&s->exported, memory_order_relaxed);
    out->spans_failed = atomic_load_explicit(&s->failed, memory_order_relaxed);
}

static void simple_destroy(void *user_data)
{
    struct simple *s = user_data;
    if (s->exporter.destroy)
        s->exporter.destroy(s->exporter.user_data);
    pthread_mutex_destroy(&s->lock);
    otel__free(s);
}

otel_status otel_simple_processor_create(otel_span_exporter exporter, otel_span_processor *out)
{
    if (!out || !exporter.export_spans)
        return OTEL_ERR_INVALID_ARG;
    struct simple *s = otel__calloc(1, sizeof(*s));
    if (!s)
        return OTEL_ERR_NOMEM;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        otel__free(s);
        return OTEL_ERR_NOMEM;
    }
    s->exporter = exporter;
    otel_span_processor sp = {
        .on_end = simple_on_end,
        .force_flush = simple_force_flush,
        .shutdown = simple_shutdown,
        .get_stats = simple_get_stats,
        .destroy = simple_destroy,
        .user_data = s,
    };
    *out = sp;
    return OTEL_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Composite
 * ------------------------------------------------------------------------------------------- */

struct composite {
    size_t count;
    otel_span_processor procs[];
};

static void composite_on_start(void *user_data, otel_span span, const otel_span_data *data,
                               const otel_parent *parent)
{
    struct composite *c = user_data;
    for (size_t i = 0; i < c->count; i++)
        if (c->procs[i].on_start)
            c->procs[i].on_start(c->procs[i].user_data, span, data, parent);
}

static void composite_on_end(void *user_data, const otel_span_data *span)
{
    struct composite *c = user_data;
    for (size_t i = 0; i < c->count; i++)
        c->procs[i].on_end(c->procs[i].user_data, span);
}

static otel_status composite_force_flush(void *user_data, int64_t timeout_ns)
{
    struct composite *c = user_data;
    int64_t deadline = otel__deadline(timeout_ns);
    otel_status result = OTEL_OK;
    for (size_t i = 0; i < c->count; i++) {
        if (!c->procs[i].force_flush)
            continue;
        otel_status st = c->procs[i].force_flush(c->procs[i].user_data, otel__remaining(deadline));
        if (st != OTEL_OK && result == OTEL_OK)
            result = st;
    }
    return result;
}

static otel_status composite_shutdown(void *user_data, int64_t timeout_ns)
{
    struct composite *c = user_data;
    int64_t deadline = otel__deadline(timeout_ns);
    otel_status result = OTEL_OK;
    for (size_t i = 0; i < c->count; i++) {
        if (!c->procs[i].shutdown)
            continue;
        otel_status st = c->procs[i].shutdown(c->procs[i].user_data, otel__remaining(deadline));
        if (st != OTEL_OK && result == OTEL_OK)
            result = st;
    }
    return result;
}

static void composite_get_stats(void *user_data, otel_processor_stats *out)
{
    struct composite *c = user_data;
    otel_processor_stats sum = { 0 };
    for (size_t i = 0; i < c->count; i++) {
        if (!c->procs[i].get_stats)
            continue;
        otel_processor_stats s = { 0 };
        c->procs[i].get_stats(c->procs[i].user_data, &s);
        sum.spans_received += s.spans_received;
        sum.spans_dropped += s.spans_dropped;
        sum.spans_exported += s.spans_exported;
        sum.spans_failed += s.spans_failed;
    }
    *out = sum;
}

static void composite_destroy(void *user_data)
{
    struct composite *c = user_data;
    for (size_t i = 0; i < c->count; i++)
        if (c->procs[i].destroy)
            c->procs[i].destroy(c->procs[i].user_data);
    otel__free(c);
}

otel_status otel_composite_processor_create(const otel_span_processor *processors, size_t count,
                                            otel_span_processor *out)
{
    if (!out || (count && !processors))
        return OTEL_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (!processors[i].on_end)
            return OTEL_ERR_INVALID_ARG;
    if (count > (SIZE_MAX - sizeof(struct composite)) / sizeof(otel_span_processor))
        return OTEL_ERR_INVALID_ARG;
    struct composite *c = otel__malloc(sizeof(*c) + count * sizeof(otel_span_processor));
    if (!c)
        return OTEL_ERR_NOMEM;
    c->count = count;
    if (count)
        memcpy(c->procs, processors, count * sizeof(otel_span_processor));
    otel_span_processor sp = {
        .on_start = composite_on_start,
        .on_end = composite_on_end,
        .force_flush = composite_force_flush,
        .shutdown = composite_shutdown,
        .get_stats = composite_get_stats,
        .destroy = composite_destroy,
        .user_data = c,
    };
    *out = sp;
    return OTEL_OK;
}
