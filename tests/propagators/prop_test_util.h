/* Helpers for the propagator tests: extract from a literal header list, inject into a fixed
 * header buffer, look headers up, and build span contexts from hex. Header-only (static
 * functions), included by each tests/propagators/test_*.c after cmocka. */
#ifndef OTEL_TESTS_PROP_TEST_UTIL_H
#define OTEL_TESTS_PROP_TEST_UTIL_H

#include <string.h>

#include "otel/baggage.h"
#include "otel/propagators.h"

#define H(n, v)                  \
    {                            \
        OTEL_STR(n), OTEL_STR(v) \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Extracts with |p| from |n| headers on top of the empty context. */
static inline otel_context *extract_list(const otel_propagator *p, const otel_header *h, size_t n)
{
    otel_header_list list = { h, n };
    otel_carrier_reader r = otel_header_list_reader(&list);
    return otel_propagator_extract(p, NULL, &r);
}

/* Output side: a header buffer with room for 80 headers and 64 KiB. */
typedef struct test_out {
    otel_header headers[80];
    char bytes[65536];
    otel_header_buffer buf;
} test_out;

static inline void out_init(test_out *o)
{
    otel_header_buffer_init(&o->buf, o->headers, COUNT(o->headers), o->bytes, sizeof(o->bytes));
}

static inline void inject_into(const otel_propagator *p, const otel_context *ctx, test_out *o)
{
    out_init(o);
    otel_carrier_writer w = otel_header_buffer_writer(&o->buf);
    otel_propagator_inject(p, ctx, &w);
}

/* The value of header |name| (case-insensitive) in |o|, or NULL data when absent. */
static inline otel_str out_get(const test_out *o, const char *name)
{
    otel_str n = otel_str_from_cstr(name);
    for (size_t i = 0; i < o->buf.count; i++) {
        otel_str h = o->buf.headers[i].name;
        if (h.len != n.len)
            continue;
        bool eq = true;
        for (size_t k = 0; k < n.len && eq; k++) {
            char a = h.data[k], b = n.data[k];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            eq = a == b;
        }
        if (eq)
            return o->buf.headers[i].value;
    }
    return (otel_str){ NULL, 0 };
}

/* True when header |name| of |o| equals the C string |want|. */
static inline bool out_is(const test_out *o, const char *name, const char *want)
{
    otel_str v = out_get(o, name);
    return v.data && otel_str_eq(v, otel_str_from_cstr(want));
}

/* Re-reads |o| as a carrier and extracts with |p|. */
static inline otel_context *extract_out(const otel_propagator *p, const test_out *o)
{
    otel_header_list list = otel_header_buffer_list(&o->buf);
    otel_carrier_reader r = otel_header_list_reader(&list);
    return otel_propagator_extract(p, NULL, &r);
}

/* A span context from hex ids (any valid lengths: 32 and 16 digits). */
static inline otel_span_context make_sc(const char *trace_hex, const char *span_hex, uint8_t flags)
{
    otel_span_context sc;
    memset(&sc, 0, sizeof(sc));
    otel_hex_decode(otel_str_from_cstr(trace_hex), sc.trace_id, 16, false);
    otel_hex_decode(otel_str_from_cstr(span_hex), sc.span_id, 8, false);
    sc.trace_flags = flags;
    return sc;
}

/* A context holding span context |sc| and trace state |ts| (may be NULL). */
static inline otel_context *ctx_with(otel_span_context sc, const otel_trace_state *ts)
{
    otel_context *c = NULL;
    otel_context_with_span_context(NULL, &sc, ts, &c);
    return c;
}

/* Lowercase hex of the trace id / span id of |ctx| into |out| (33 / 17 bytes). */
static inline const char *trace_hex(const otel_context *ctx, char out[33])
{
    otel_span_context sc = otel_context_get_span_context(ctx);
    otel_hex_encode(sc.trace_id, 16, out);
    return out;
}

static inline const char *span_hex(const otel_context *ctx, char out[17])
{
    otel_span_context sc = otel_context_get_span_context(ctx);
    otel_hex_encode(sc.span_id, 8, out);
    return out;
}

static inline bool ctx_valid(const otel_context *ctx)
{
    otel_span_context sc = otel_context_get_span_context(ctx);
    return otel_span_context_is_valid(&sc);
}

static inline uint8_t ctx_flags(const otel_context *ctx)
{
    return otel_context_get_span_context(ctx).trace_flags;
}

/* The serialized trace state of |ctx| into |buf| (|cap| bytes). */
static inline const char *ts_str(const otel_context *ctx, char *buf, size_t cap)
{
    otel_trace_state_serialize(otel_context_get_trace_state(ctx), buf, cap);
    return buf;
}

/* The baggage value of |name| in |ctx| as an otel_str (NULL data when absent). */
static inline otel_str bg_get(const otel_context *ctx, const char *name)
{
    otel_str v = { NULL, 0 };
    if (!otel_baggage_get(otel_context_get_baggage(ctx), otel_str_from_cstr(name), &v, NULL))
        v.data = NULL;
    return v;
}

static inline bool bg_is(const otel_context *ctx, const char *name, const char *want)
{
    otel_str v = bg_get(ctx, name);
    return v.data && otel_str_eq(v, otel_str_from_cstr(want));
}

#endif
