/* The span batches the encoder benchmarks (bench_encoder_otlp.c, bench_encoder_msgpack.c) encode:
 * |n| spans of one resource (4 attributes) and one scope, named "GET /api/v1/users/{id}", 250 us
 * long, 1 us apart; "rich" spans also carry 4 attributes and 1 event. Each benchmark sets the
 * ids, the kind and the trace state itself. Also the baseline run and the bytes-per-span report
 * they share. Header-only; include after bench.h. */
#ifndef OTEL_BENCH_SPANS_H
#define OTEL_BENCH_SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bench.h"
#include "otel/sdk/trace.h"

#define BENCH_SPANS_MAX 1000 /* the trace1x1000 shape */

struct bench_spans {
    size_t n; /* spans per batch */
    otel_span_data spans[BENCH_SPANS_MAX];
    const otel_span_data *ptrs[BENCH_SPANS_MAX];
    otel_event_data events[BENCH_SPANS_MAX];
    otel_resource *resource;
    otel_scope_data scope;
};

static const otel_attr bench_span_attrs[4] = {
    { { "http.request.method", 19 }, { .type = OTEL_VALUE_STR, .as.s = { "GET", 3 } } },
    { { "url.path", 8 }, { .type = OTEL_VALUE_STR, .as.s = { "/api/v1/users/12345", 19 } } },
    { { "http.response.status_code", 25 }, { .type = OTEL_VALUE_INT, .as.i = 200 } },
    { { "cache.hit", 9 }, { .type = OTEL_VALUE_BOOL, .as.b = true } },
};

/* Fills |s| (zeroed by the caller) with |n| sampled spans, their ids, kind and trace state left
 * zero. */
static inline void bench_spans_init(struct bench_spans *s, size_t n, bool rich)
{
    s->n = n;
    otel_attr rattrs[] = {
        OTEL_ATTR_STR_LIT("service.name", "checkout"),
        OTEL_ATTR_STR_LIT("telemetry.sdk.name", "otelc"),
        OTEL_ATTR_STR_LIT("telemetry.sdk.language", "c"),
        OTEL_ATTR_STR_LIT("host.name", "bench-host"),
    };
    otel_resource_create(rattrs, 4, (otel_str){ NULL, 0 }, &s->resource);
    s->scope = (otel_scope_data){ OTEL_STR("io.otelc.bench"), OTEL_STR("1.0.0"), { NULL, 0 }, NULL, 0 };
    for (size_t i = 0; i < n; i++) {
        otel_span_data *d = &s->spans[i];
        d->context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
        d->name = OTEL_STR("GET /api/v1/users/{id}");
        d->start_time_ns = 1700000000000000000 + (int64_t)i * 1000;
        d->end_time_ns = d->start_time_ns + 250000;
        d->resource = s->resource;
        d->scope = &s->scope;
        if (rich) {
            d->attrs = bench_span_attrs;
            d->attr_count = 4;
            s->events[i] = (otel_event_data){ OTEL_STR("cache.lookup"), d->start_time_ns + 1000, NULL, 0, 0 };
            d->events = &s->events[i];
            d->event_count = 1;
        }
        s->ptrs[i] = d;
    }
}

static inline void bench_spans_release(struct bench_spans *s)
{
    otel_resource_release(s->resource);
}

/* The baseline: reading each span once, what any encoder pays at least. */
static inline void bench_spans_visit(const struct bench_spans *s, size_t iterations)
{
    for (size_t it = 0; it < iterations; it++) {
        int64_t sum = 0;
        for (size_t i = 0; i < s->n; i++)
            sum += s->ptrs[i]->end_time_ns - s->ptrs[i]->start_time_ns;
        BENCH_KEEP(sum);
    }
}

/* What the encode configs print at teardown: the batch's size in bytes and per span. */
static inline void bench_spans_report_bytes(const struct bench *b, size_t bytes, size_t n)
{
    fprintf(stderr, "%s: %zu bytes per batch, %.1f B/span\n", b->config, bytes, (double)bytes / (double)n);
}

#endif
