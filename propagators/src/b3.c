/* The B3 propagators (Zipkin), single header "b3" and multi header "X-B3-*", following the
 * openzipkin/b3-propagation README and the OpenTelemetry B3 requirements: both extract both
 * forms with the single header first, inject only their own form, never send the parent span
 * id, and keep a debug decision (which implies sampled) in the context so it travels on. */
#include <string.h>

#include "prop_internal.h"

enum b3_form { B3_SINGLE, B3_MULTI };

struct b3_config {
    enum b3_form inject_form;
};

static const struct b3_config g_single = { B3_SINGLE };
static const struct b3_config g_multi = { B3_MULTI };

/* A B3 trace id: 16 or 32 lowercase hex digits, the short form left-padded. */
static bool parse_trace_id(otel_str s, uint8_t out[OTEL_TRACE_ID_SIZE])
{
    if (s.len == 32)
        return otel__prop_hex_decode(s.data, 16, out, true);
    if (s.len == 16) {
        memset(out, 0, 8);
        return otel__prop_hex_decode(s.data, 8, out + 8, true);
    }
    return false;
}

static bool parse_span_id(otel_str s, uint8_t out[OTEL_SPAN_ID_SIZE])
{
    return s.len == 16 && otel__prop_hex_decode(s.data, 8, out, true);
}

/* The single header. Returns true with *sc filled (and *debug) for a header carrying ids. */
static bool extract_single(otel_str v, otel_span_context *sc, bool *debug)
{
    if (v.len == 1) {
        /* "0", "1" or "d": a sampling decision without ids, nothing OpenTelemetry can hold. */
        if (v.data[0] != '0' && v.data[0] != '1' && v.data[0] != 'd')
            OTEL__PROP_DEBUG("b3: invalid b3 header ignored");
        return false;
    }
    otel_str fields[4];
    size_t n = 0;
    size_t pos = 0;
    while (pos <= v.len) {
        if (n == 4)
            return false;
        const char *start = v.data + pos;
        const char *dash = pos < v.len ? memchr(start, '-', v.len - pos) : NULL;
        size_t len = dash ? (size_t)(dash - start) : v.len - pos;
        fields[n++] = (otel_str){ start, len };
        pos += len + 1;
    }
    if (n < 2 || !parse_trace_id(fields[0], sc->trace_id) || !parse_span_id(fields[1], sc->span_id))
        return false;
    sc->trace_flags = 0;
    *debug = false;
    if (n >= 3) {
        if (fields[2].len != 1)
            return false;
        switch (fields[2].data[0]) {
        case '1':
            sc->trace_flags = OTEL_TRACE_FLAG_SAMPLED;
            break;
        case 'd':
            sc->trace_flags = OTEL_TRACE_FLAG_SAMPLED;
            *debug = true;
            break;
        case '0':
            break;
        default:
            return false;
        }
    }
    uint8_t parent[OTEL_SPAN_ID_SIZE];
    if (n == 4 && !parse_span_id(fields[3], parent))
        return false;
    return otel_span_context_is_valid(sc);
}

/* The multi-header form; the first line of each header wins. */
static bool extract_multi(const otel_carrier_reader *r, otel_span_context *sc, bool *debug)
{
    otel_str trace_id, span_id;
    if (!otel__prop_get_first(r, OTEL_STR("x-b3-traceid"), &trace_id) ||
        !otel__prop_get_first(r, OTEL_STR("x-b3-spanid"), &span_id))
        return false;
    if (!parse_trace_id(trace_id, sc->trace_id) || !parse_span_id(span_id, sc->span_id) ||
        !otel_span_context_is_valid(sc)) {
        OTEL__PROP_DEBUG("b3: invalid X-B3-TraceId or X-B3-SpanId ignored");
        return false;
    }
    sc->trace_flags = 0;
    *debug = false;
    otel_str flags, sampled;
    if (otel__prop_get_first(r, OTEL_STR("x-b3-flags"), &flags) && otel_str_eq(flags, OTEL_STR("1"))) {
        *debug = true; /* debug implies accept, whatever X-B3-Sampled says */
        sc->trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    } else if (otel__prop_get_first(r, OTEL_STR("x-b3-sampled"), &sampled)) {
        if (otel_str_eq(sampled, OTEL_STR("1")) || otel_str_eq(sampled, OTEL_STR("true")))
            sc->trace_flags = OTEL_TRACE_FLAG_SAMPLED;
        else if (!otel_str_eq(sampled, OTEL_STR("0")) && !otel_str_eq(sampled, OTEL_STR("false")))
            OTEL__PROP_DEBUG("b3: invalid X-B3-Sampled ignored (sampling deferred)");
    }
    return true;
}

static otel_context *b3_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    (void)user_data;
    otel_span_context sc;
    memset(&sc, 0, sizeof(sc));
    bool debug = false;
    otel_str single;
    bool found = false;
    if (otel__prop_get_first(r, OTEL_STR("b3"), &single)) {
        if (single.len > OTEL_PROPAGATORS_ID_HEADER_MAX_BYTES)
            OTEL__PROP_DEBUG("b3: b3 header of %zu bytes ignored", single.len);
        else if (!(found = extract_single(single, &sc, &debug)) && single.len > 1)
            OTEL__PROP_DEBUG("b3: invalid b3 header ignored");
    }
    if (!found) {
        memset(&sc, 0, sizeof(sc));
        found = extract_multi(r, &sc, &debug);
    }
    if (!found)
        return otel_context_retain(ctx);
    return otel__prop_attach(ctx, sc, NULL, debug);
}

static void b3_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    const struct b3_config *cfg = user_data;
    otel_span_context sc = otel_context_get_span_context(ctx);
    if (!otel_span_context_is_valid(&sc))
        return;
    bool debug = otel__prop_is_debug(ctx, sc.trace_id);
    bool sampled = (sc.trace_flags & OTEL_TRACE_FLAG_SAMPLED) != 0;
    if (cfg->inject_form == B3_SINGLE) {
        char v[32 + 1 + 16 + 2];
        otel__prop_hex_encode(sc.trace_id, OTEL_TRACE_ID_SIZE, v);
        v[32] = '-';
        otel__prop_hex_encode(sc.span_id, OTEL_SPAN_ID_SIZE, v + 33);
        v[49] = '-';
        v[50] = debug ? 'd' : sampled ? '1' : '0';
        w->set(w->user_data, OTEL_STR("b3"), (otel_str){ v, sizeof(v) });
        return;
    }
    char tid[32];
    char sid[16];
    otel__prop_hex_encode(sc.trace_id, OTEL_TRACE_ID_SIZE, tid);
    otel__prop_hex_encode(sc.span_id, OTEL_SPAN_ID_SIZE, sid);
    w->set(w->user_data, OTEL_STR("x-b3-traceid"), (otel_str){ tid, sizeof(tid) });
    w->set(w->user_data, OTEL_STR("x-b3-spanid"), (otel_str){ sid, sizeof(sid) });
    if (debug)
        w->set(w->user_data, OTEL_STR("x-b3-flags"), OTEL_STR("1"));
    else
        w->set(w->user_data, OTEL_STR("x-b3-sampled"), sampled ? OTEL_STR("1") : OTEL_STR("0"));
}

static size_t b3_fields(void *user_data, otel_str *names, size_t cap)
{
    const struct b3_config *cfg = user_data;
    if (cfg->inject_form == B3_SINGLE) {
        if (cap > 0)
            names[0] = OTEL_STR("b3");
        return 1;
    }
    static const otel_str multi[] = {
        { "x-b3-traceid", 12 },
        { "x-b3-spanid", 11 },
        { "x-b3-sampled", 12 },
        { "x-b3-flags", 10 },
    };
    for (size_t i = 0; i < cap && i < 4; i++)
        names[i] = multi[i];
    return 4;
}

static otel_status make(const struct b3_config *cfg, otel_propagator *out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    *out = (otel_propagator){
        .inject = b3_inject,
        .extract = b3_extract,
        .fields = b3_fields,
        .destroy = NULL,
        .user_data = (void *)cfg,
    };
    return OTEL_OK;
}

otel_status otel_propagator_b3(otel_propagator *out)
{
    return make(&g_single, out);
}

otel_status otel_propagator_b3multi(otel_propagator *out)
{
    return make(&g_multi, out);
}
