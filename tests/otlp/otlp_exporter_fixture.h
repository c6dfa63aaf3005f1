/* The exporter fixture shared by the OTLP/HTTP and OTLP/gRPC exporter tests (test_otlp_http.c,
 * test_otlp_grpc.c): a full span and an exporter with fast retries, exporting that span once,
 * its stats, checking a request body against the span, a provider over an OTLP exporter, and
 * the allocation-failure run. What differs by transport (the endpoint, the receiver) stays in
 * the tests. Header-only; include after cmocka.h and otlp_testlib.h. */
#ifndef OTEL_TESTS_OTLP_EXPORTER_FIXTURE_H
#define OTEL_TESTS_OTLP_EXPORTER_FIXTURE_H

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <zlib.h>

#include "loopback.h"
#include "otel/exporters/otlp.h"
#include "otlp_failalloc.h"
#include "otlp_testlib.h"

struct fixture {
    struct full_span span;
    otel_span_exporter exporter;
    char endpoint[128]; /* filled in by the test before fixture_create */
};

/* Creates f's span and an exporter to f->endpoint with |o| (NULL: the defaults), fast retries
 * (10 ms initial, 50 ms maximum backoff), a 3 s timeout and |headers| unless |o| says otherwise.
 * On failure nothing is left to free. */
static inline otel_status fixture_create(struct fixture *f, otel_otlp_options *o, otel_otlp_header *headers,
                                         size_t header_count)
{
    full_span_init(&f->span);
    otel_otlp_options local = { 0 };
    if (!o)
        o = &local;
    o->endpoint = f->endpoint;
    if (!o->timeout_ns)
        o->timeout_ns = 3000000000LL;
    if (!o->retry_initial_backoff_ns)
        o->retry_initial_backoff_ns = 10000000;
    if (!o->retry_max_backoff_ns)
        o->retry_max_backoff_ns = 50000000;
    if (!o->headers) {
        o->headers = headers;
        o->header_count = header_count;
    }
    otel_status st = otel_otlp_exporter_create(o, &f->exporter);
    if (st != OTEL_OK)
        full_span_cleanup(&f->span);
    return st;
}

static inline void free_fixture(struct fixture *f)
{
    f->exporter.destroy(f->exporter.user_data);
    full_span_cleanup(&f->span);
}

static inline otel_export_result export_one(struct fixture *f)
{
    const otel_span_data *spans[] = { &f->span.data };
    return f->exporter.export_spans(f->exporter.user_data, spans, 1, 0);
}

static inline otel_otlp_exporter_stats stats_of(struct fixture *f)
{
    otel_otlp_exporter_stats s;
    assert_int_equal(otel_otlp_exporter_get_stats(&f->exporter, &s), OTEL_OK);
    return s;
}

/* Waits (at most |max_ms|) until the exporter has made |n| requests, e.g. failed to connect. */
static inline void wait_for_requests(struct fixture *f, uint64_t n, int64_t max_ms)
{
    int64_t until = loopback_now_ms() + max_ms;
    while (stats_of(f).requests < n && loopback_now_ms() < until) {
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

/* export_one on a thread of its own: start with pthread_create(..., export_in_thread, &t). */
struct export_thread {
    struct fixture *f;
    otel_export_result result;
};

static inline void *export_in_thread(void *arg)
{
    struct export_thread *t = arg;
    t->result = export_one(t->f);
    return NULL;
}

/* The request body |data|/|len| (gzip-compressed if |gzipped|) decodes with protobuf-c to one
 * ResourceSpans holding the span |s|, field by field. */
static inline void check_body_is_span(const uint8_t *data, size_t len, bool gzipped, const otel_span_data *s)
{
    uint8_t *plain = NULL;
    if (gzipped) {
        uLongf cap = 1 << 20;
        plain = malloc(cap);
        z_stream z = { 0 };
        assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)len;
        z.next_out = plain;
        z.avail_out = (uInt)cap;
        assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
        len = cap - z.avail_out;
        inflateEnd(&z);
        data = plain;
    }
    pb_request *r = pb_decode(data, len);
    assert_non_null(r);
    assert_int_equal(r->n_resource_spans, 1);
    check_resource(r->resource_spans[0], s->resource);
    check_scope(r->resource_spans[0]->scope_spans[0], s->scope);
    check_span(r->resource_spans[0]->scope_spans[0]->spans[0], s);
    pb_free(r);
    free(plain);
}

/* A tracer provider over an OTLP exporter made with |o|, through a batch processor with |bo|, or
 * a simple processor when |bo| is NULL. */
static inline otel_tracer_provider *provider_over_otlp(const otel_otlp_options *o,
                                                       const otel_batch_options *bo)
{
    otel_span_exporter e;
    assert_int_equal(otel_otlp_exporter_create(o, &e), OTEL_OK);
    otel_span_processor p;
    if (bo)
        assert_int_equal(otel_batch_processor_create(e, bo, &p), OTEL_OK);
    else
        assert_int_equal(otel_simple_processor_create(e, &p), OTEL_OK);
    otel_tracer_provider_options po = { .processors = &p, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&po, &tp), OTEL_OK);
    return tp;
}

/* The allocation-failure scenarios' export: an exporter made with |o| sends |span| twice in one
 * batch. Returns 0 on success, the creation status if that failed, or 100 + the export result;
 * |failed_in_export| (if not NULL) tells whether an allocation failed before destroy. */
static inline int export_two_spans_with(const otel_otlp_options *o, const struct full_span *span,
                                        bool *failed_in_export)
{
    otel_span_exporter e;
    otel_status st = otel_otlp_exporter_create(o, &e);
    if (st != OTEL_OK)
        return (int)st;
    const otel_span_data *spans[] = { &span->data, &span->data };
    otel_export_result r = e.export_spans(e.user_data, spans, 2, 0);
    if (failed_in_export)
        *failed_in_export = failalloc_failed();
    e.destroy(e.user_data);
    return r == OTEL_EXPORT_SUCCESS ? 0 : 100 + (int)r;
}

#endif
