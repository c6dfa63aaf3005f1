/* Propagation benchmarks: inject and extract for each format of the propagators library, the
 * no-op propagator first as the baseline. Extract cases include releasing the returned context
 * (what a server does once per request); inject cases write into a fixed header buffer that is
 * reset every iteration (name lookup and copy included). Carriers hold just the headers of the
 * format, except tracecontext_extract_15_headers (a realistic request). The *_no_tracestate and
 * *_no_baggage configs leave out the optional header; the *_extract_invalid* configs feed each
 * extractor malformed input (checked to be rejected at set-up) to measure the rejection path.
 * Targets (issue 5): inject traceparent+tracestate <= 40 ns, extract <= 60 ns.
 * Latest results (2026-11-21, 2-vCPU "Intel Xeon Processor" VM, load average about 3, gcc 12.2
 * -O3; median ns/op of three runs of 7 repetitions, instructions/op from callgrind; full table in
 * docs/PERFORMANCE.md, section "Propagation"):
 *   noop_inject 8 ns / 66 ins           noop_extract 4 ns / 29 ins
 *   tracecontext_inject 29 ns / 374     tracecontext_extract 53 ns / 1008 (0 allocs)
 *     (were 47 ns / 446 and 100 ns / 1441 with 2 allocs; the old build measured alongside:
 *     48 and 108 ns)
 *   b3_inject 28 / 331                  b3_extract 62-80 / 725
 *   datadog_inject 146 / 1948           datadog_extract 281 / 3365
 *   baggage5_inject 106 / 1650          baggage5_extract 454 / 6162 (5 allocs)
 * Invalid input and *_no_baggage (instructions/op, measured before the extract work; ns in
 * docs/PERFORMANCE.md, section "Benchmark-suite configs"): tracecontext 204-271, datadog 274,
 * b3/b3multi/jaeger 586-612, baggage 2153; default_inject_no_baggage 524,
 * default_extract_no_baggage 1798. */
#include <stdio.h>

#include "bench.h"
#include "otel/baggage.h"
#include "otel/propagators.h"

#define H(n, v)                  \
    {                            \
        { "" n, sizeof(n) - 1 }, \
        {                        \
            "" v, sizeof(v) - 1  \
        }                        \
    }

struct state {
    otel_propagator p;
    otel_context *ctx; /* for inject */
    const otel_header *in;
    size_t in_count;
    otel_header out[32];
    char bytes[16384];
    otel_header_buffer buf;
};

static const otel_header g_w3c[] = {
    H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
};
static const otel_header g_w3c_request[] = {
    H("Host", "api.example.com"),
    H("User-Agent", "curl/7.88.1"),
    H("Accept", "*/*"),
    H("Accept-Encoding", "gzip, deflate, br"),
    H("Accept-Language", "en-US,en;q=0.9"),
    H("Connection", "keep-alive"),
    H("Content-Type", "application/json"),
    H("Content-Length", "42"),
    H("X-Request-Id", "f058ebd6-02f7-4d3f-942e-904344e8cde5"),
    H("X-Forwarded-For", "203.0.113.195"),
    H("X-Forwarded-Proto", "https"),
    H("Cache-Control", "no-cache"),
    H("Cookie", "session=abc123"),
    H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
};
static const otel_header g_traceparent_only[] = {
    H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
};
static const otel_header g_b3[] = {
    H("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
};
static const otel_header g_b3multi[] = {
    H("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
    H("x-b3-spanid", "e457b5a2e4d86bd1"),
    H("x-b3-sampled", "1"),
};
static const otel_header g_jaeger[] = {
    H("uber-trace-id", "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1"),
};
static const otel_header g_datadog[] = {
    H("x-datadog-trace-id", "7277407061855694839"),
    H("x-datadog-parent-id", "5208689426229999396"),
    H("x-datadog-sampling-priority", "2"),
    H("x-datadog-origin", "rum"),
    H("x-datadog-tags", "_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000"),
};
static const otel_header g_baggage[] = {
    H("baggage", "userId=alice,serverNode=DF%2028,isProduction=false,region=eu-west-1,"
                 "tenant=acme;type=customer"),
};
static const otel_header g_default[] = {
    H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    H("baggage", "userId=alice,serverNode=DF%2028,isProduction=false,region=eu-west-1,"
                 "tenant=acme;type=customer"),
};

static const otel_header g_default_no_baggage[] = {
    H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
};

/* Invalid inputs: each extract must reject them (the set-up checks that the result has no span
 * context, or no baggage entry), so these configs measure the rejection path. */
static const otel_header g_bad_w3c_uppercase[] = {
    H("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
    H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
};
static const otel_header g_bad_w3c_length[] = {
    H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"), /* 31-digit trace id */
    H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
};
static const otel_header g_bad_w3c_version_ff[] = {
    H("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    H("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
};
static const otel_header g_bad_baggage[] = {
    /* a space inside a key, no key, a quote in a value, a broken escape, no '=', a bad property */
    H("baggage", "user Id=alice,=DF28,isProduction=\"false\",region=eu%2,tenant,type=customer;=x"),
};
static const otel_header g_bad_b3[] = {
    H("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x"), /* bad sampling state */
};
static const otel_header g_bad_b3multi[] = {
    H("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3efg7"), /* 'g' */
    H("x-b3-spanid", "e457b5a2e4d86bd"),                   /* 15 digits */
    H("x-b3-sampled", "1"),
};
static const otel_header g_bad_jaeger[] = {
    H("uber-trace-id", "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0"), /* no flags field */
};
static const otel_header g_bad_datadog[] = {
    H("x-datadog-trace-id", "0x64fe8b2a57d3eff7"), /* hex, not decimal */
    H("x-datadog-parent-id", "52086894262299993a6"),
    H("x-datadog-sampling-priority", "2"),
    H("x-datadog-origin", "rum"),
    H("x-datadog-tags", "_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000"),
};

/* ---------------------------------------------------------------------------------------------
 * Set-up: one propagator per case, by OTEL_PROPAGATORS name; the inject context comes from
 * extracting the case's own headers, so it carries what the format carries.
 * ------------------------------------------------------------------------------------------- */

static struct state *make_state(const char *names, const otel_header *in, size_t n)
{
    struct state *s = calloc(1, sizeof(*s));
    if (!s || otel_propagators_from_names(otel_str_from_cstr(names), &s->p) != OTEL_OK) {
        fprintf(stderr, "bench_propagation: set-up failed\n");
        exit(1);
    }
    s->in = in;
    s->in_count = n;
    otel_header_list list = { in, n };
    otel_carrier_reader r = otel_header_list_reader(&list);
    s->ctx = otel_propagator_extract(&s->p, NULL, &r);
    otel_header_buffer_init(&s->buf, s->out, 32, s->bytes, sizeof(s->bytes));
    return s;
}

static void teardown(struct bench *b)
{
    struct state *s = b->state;
    otel_context_release(s->ctx);
    otel_propagator_destroy(&s->p);
    free(s);
}

#define SETUP(fn, names, headers)                                                    \
    static void fn(struct bench *b)                                                  \
    {                                                                                \
        b->state = make_state(names, headers, sizeof(headers) / sizeof(headers[0])); \
    }

SETUP(setup_none, "none", g_w3c)
SETUP(setup_w3c, "tracecontext", g_w3c)
SETUP(setup_w3c_request, "tracecontext", g_w3c_request)
SETUP(setup_traceparent_only, "tracecontext", g_traceparent_only)
SETUP(setup_b3, "b3", g_b3)
SETUP(setup_b3multi, "b3multi", g_b3multi)
SETUP(setup_jaeger, "jaeger", g_jaeger)
SETUP(setup_datadog, "datadog", g_datadog)
SETUP(setup_baggage, "baggage", g_baggage)
SETUP(setup_default, "tracecontext,baggage", g_default)
SETUP(setup_default_no_baggage, "tracecontext,baggage", g_default_no_baggage)

/* For the invalid inputs: the set-up's own extract must have found nothing. */
static void check_rejected(struct bench *b)
{
    struct state *s = b->state;
    otel_span_context sc = otel_context_get_span_context(s->ctx);
    if (otel_span_context_is_valid(&sc) || otel_baggage_count(otel_context_get_baggage(s->ctx)) != 0) {
        fprintf(stderr, "bench_propagation: %s: the invalid input was accepted\n", b->config);
        exit(1);
    }
}

#define SETUP_INVALID(fn, names, headers)                                            \
    static void fn(struct bench *b)                                                  \
    {                                                                                \
        b->state = make_state(names, headers, sizeof(headers) / sizeof(headers[0])); \
        check_rejected(b);                                                           \
    }

SETUP_INVALID(setup_bad_w3c_uppercase, "tracecontext", g_bad_w3c_uppercase)
SETUP_INVALID(setup_bad_w3c_length, "tracecontext", g_bad_w3c_length)
SETUP_INVALID(setup_bad_w3c_version_ff, "tracecontext", g_bad_w3c_version_ff)
SETUP_INVALID(setup_bad_baggage, "baggage", g_bad_baggage)
SETUP_INVALID(setup_bad_b3, "b3", g_bad_b3)
SETUP_INVALID(setup_bad_b3multi, "b3multi", g_bad_b3multi)
SETUP_INVALID(setup_bad_jaeger, "jaeger", g_bad_jaeger)
SETUP_INVALID(setup_bad_datadog, "datadog", g_bad_datadog)

/* ---------------------------------------------------------------------------------------------
 * The two operations
 * ------------------------------------------------------------------------------------------- */

static void run_inject(struct bench *b)
{
    struct state *s = b->state;
    otel_carrier_writer w = otel_header_buffer_writer(&s->buf);
    for (size_t i = 0; i < b->iterations; i++) {
        otel_header_buffer_reset(&s->buf);
        otel_propagator_inject(&s->p, s->ctx, &w);
        BENCH_KEEP(s->buf.count);
    }
}

static void run_extract(struct bench *b)
{
    struct state *s = b->state;
    otel_header_list list = { s->in, s->in_count };
    otel_carrier_reader r = otel_header_list_reader(&list);
    for (size_t i = 0; i < b->iterations; i++) {
        otel_context *c = otel_propagator_extract(&s->p, NULL, &r);
        BENCH_KEEP(c);
        otel_context_release(c);
    }
}

static const struct bench_case cases[] = {
    { "noop_inject", run_inject, setup_none, teardown, 0 },
    { "noop_extract", run_extract, setup_none, teardown, 0 },
    { "tracecontext_inject", run_inject, setup_w3c, teardown, 0 },
    { "tracecontext_extract", run_extract, setup_w3c, teardown, 0 },
    { "tracecontext_inject_no_tracestate", run_inject, setup_traceparent_only, teardown, 0 },
    { "tracecontext_extract_no_tracestate", run_extract, setup_traceparent_only, teardown, 0 },
    { "tracecontext_extract_15_headers", run_extract, setup_w3c_request, teardown, 0 },
    { "b3_inject", run_inject, setup_b3, teardown, 0 },
    { "b3_extract", run_extract, setup_b3, teardown, 0 },
    { "b3multi_inject", run_inject, setup_b3multi, teardown, 0 },
    { "b3multi_extract", run_extract, setup_b3multi, teardown, 0 },
    { "jaeger_inject", run_inject, setup_jaeger, teardown, 0 },
    { "jaeger_extract", run_extract, setup_jaeger, teardown, 0 },
    { "datadog_inject", run_inject, setup_datadog, teardown, 0 },
    { "datadog_extract", run_extract, setup_datadog, teardown, 0 },
    { "baggage5_inject", run_inject, setup_baggage, teardown, 0 },
    { "baggage5_extract", run_extract, setup_baggage, teardown, 0 },
    { "default_inject", run_inject, setup_default, teardown, 0 },
    { "default_extract", run_extract, setup_default, teardown, 0 },
    { "default_inject_no_baggage", run_inject, setup_default_no_baggage, teardown, 0 },
    { "default_extract_no_baggage", run_extract, setup_default_no_baggage, teardown, 0 },
    { "tracecontext_extract_invalid_uppercase", run_extract, setup_bad_w3c_uppercase, teardown, 0 },
    { "tracecontext_extract_invalid_length", run_extract, setup_bad_w3c_length, teardown, 0 },
    { "tracecontext_extract_invalid_version_ff", run_extract, setup_bad_w3c_version_ff, teardown, 0 },
    { "baggage_extract_invalid", run_extract, setup_bad_baggage, teardown, 0 },
    { "b3_extract_invalid", run_extract, setup_bad_b3, teardown, 0 },
    { "b3multi_extract_invalid", run_extract, setup_bad_b3multi, teardown, 0 },
    { "jaeger_extract_invalid", run_extract, setup_bad_jaeger, teardown, 0 },
    { "datadog_extract_invalid", run_extract, setup_bad_datadog, teardown, 0 },
};

int main(int argc, char **argv)
{
    return bench_main(argc, argv, "propagation", cases, sizeof(cases) / sizeof(cases[0]));
}
