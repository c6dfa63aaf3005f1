/* The Jaeger propagator: "uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}" and
 * "uberctx-{key}" baggage headers, as the Jaeger clients and the OpenTelemetry Jaeger
 * propagators write them. Ids may be shorter than their full width (left-padded) and the whole
 * value may arrive percent-encoded; the debug flag is kept in the context like B3's. */
#include <string.h>

#include "prop_internal.h"

#define UBERCTX_PREFIX "uberctx-"
#define JAEGER_FLAG_SAMPLED 0x01u
#define JAEGER_FLAG_DEBUG 0x02u
/* Longest baggage key (after the prefix) sent or accepted. */
#define JAEGER_KEY_MAX 256

static bool parse_uber_trace_id(otel_str v, otel_span_context *sc, bool *debug)
{
    char decoded[OTEL_PROPAGATORS_ID_HEADER_MAX_BYTES];
    if (memchr(v.data, '%', v.len)) {
        size_t n = otel__prop_percent_decode(v, decoded, sizeof(decoded), false, false);
        if (n == SIZE_MAX)
            return false;
        v = (otel_str){ decoded, n };
    }
    otel_str f[4];
    size_t n = 0;
    size_t pos = 0;
    while (pos <= v.len) {
        if (n == 4)
            return false;
        const char *start = v.data + pos;
        const char *colon = pos < v.len ? memchr(start, ':', v.len - pos) : NULL;
        size_t len = colon ? (size_t)(colon - start) : v.len - pos;
        f[n++] = (otel_str){ start, len };
        pos += len + 1;
    }
    uint8_t parent[OTEL_SPAN_ID_SIZE];
    uint8_t flags = 0;
    if (n != 4 || !otel__prop_hex_decode_padded(f[0], sc->trace_id, OTEL_TRACE_ID_SIZE, false) ||
        !otel__prop_hex_decode_padded(f[1], sc->span_id, OTEL_SPAN_ID_SIZE, false) ||
        !otel__prop_hex_decode_padded(f[2], parent, OTEL_SPAN_ID_SIZE, false) ||
        !otel__prop_hex_decode_padded(f[3], &flags, 1, false))
        return false;
    if (!otel_span_context_is_valid(sc))
        return false;
    *debug = (flags & JAEGER_FLAG_DEBUG) != 0;
    sc->trace_flags = (flags & (JAEGER_FLAG_SAMPLED | JAEGER_FLAG_DEBUG)) ? OTEL_TRACE_FLAG_SAMPLED : 0;
    return true;
}

/* Adds every uberctx-{key} header to *bg, within the W3C baggage limits. */
static void extract_baggage(const otel_carrier_reader *r, otel_baggage **bg)
{
    if (!r->key_at)
        return;
    const otel_str prefix = OTEL_STR(UBERCTX_PREFIX);
    size_t members = 0;
    otel_str name;
    for (size_t i = 0; r->key_at(r->user_data, i, &name); i++) {
        if (!otel__prop_name_has_prefix(name, prefix))
            continue;
        otel_str key = { name.data + prefix.len, name.len - prefix.len };
        if (key.len == 0 || key.len > JAEGER_KEY_MAX)
            continue;
        if (members == OTEL_BAGGAGE_MAX_MEMBERS) {
            OTEL__PROP_DEBUG("jaeger: uberctx- headers beyond %d dropped", OTEL_BAGGAGE_MAX_MEMBERS);
            return;
        }
        members++;
        otel_str raw;
        if (!otel__prop_get_first(r, name, &raw))
            continue;
        char value[OTEL_BAGGAGE_MAX_BYTES];
        size_t len = raw.len <= sizeof(value)
                         ? otel__prop_percent_decode(raw, value, sizeof(value), true, false)
                         : SIZE_MAX;
        if (len == SIZE_MAX) {
            OTEL__PROP_DEBUG("jaeger: invalid or oversized uberctx- value skipped");
            continue;
        }
        otel_status st;
        if (!otel__prop_baggage_add(bg, key, (otel_str){ value, len }, (otel_str){ NULL, 0 }, &st))
            OTEL__PROP_DEBUG("jaeger: uberctx- entry beyond the baggage limits dropped");
    }
}

static otel_context *jaeger_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    (void)user_data;
    otel_context *out = otel_context_retain(ctx);
    otel_str v;
    if (otel__prop_get_first(r, OTEL_STR("uber-trace-id"), &v)) {
        otel_span_context sc;
        memset(&sc, 0, sizeof(sc));
        bool debug = false;
        if (v.len > OTEL_PROPAGATORS_ID_HEADER_MAX_BYTES || !parse_uber_trace_id(v, &sc, &debug)) {
            OTEL__PROP_DEBUG("jaeger: invalid uber-trace-id ignored");
        } else {
            otel_context *with_sc = otel__prop_attach(out, sc, NULL, debug);
            otel_context_release(out);
            out = with_sc;
        }
    }
    otel_baggage *bg = otel_baggage_retain(otel_context_get_baggage(out));
    extract_baggage(r, &bg);
    otel_context *with_bg = otel__prop_with_baggage(out, bg);
    otel_baggage_release(bg);
    otel_context_release(out);
    return with_bg;
}

static void jaeger_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    (void)user_data;
    otel_span_context sc = otel_context_get_span_context(ctx);
    if (otel_span_context_is_valid(&sc)) {
        char v[32 + 1 + 16 + 3 + 2];
        otel__prop_hex_encode(sc.trace_id, OTEL_TRACE_ID_SIZE, v);
        v[32] = ':';
        otel__prop_hex_encode(sc.span_id, OTEL_SPAN_ID_SIZE, v + 33);
        memcpy(v + 49, ":0:", 3);
        uint8_t flags = (sc.trace_flags & OTEL_TRACE_FLAG_SAMPLED) ? JAEGER_FLAG_SAMPLED : 0;
        if (otel__prop_is_debug(ctx, sc.trace_id))
            flags |= JAEGER_FLAG_SAMPLED | JAEGER_FLAG_DEBUG;
        otel__prop_hex_encode(&flags, 1, v + 52);
        w->set(w->user_data, OTEL_STR("uber-trace-id"), (otel_str){ v, sizeof(v) });
    }
    const otel_baggage *bg = otel_context_get_baggage(ctx);
    for (size_t i = 0; i < otel_baggage_count(bg) && i < OTEL_BAGGAGE_MAX_MEMBERS; i++) {
        otel_str name, value;
        otel_baggage_entry(bg, i, &name, &value, NULL);
        char header[sizeof(UBERCTX_PREFIX) - 1 + JAEGER_KEY_MAX];
        char encoded[OTEL_BAGGAGE_MAX_BYTES];
        /* Unescaped: the RFC 3986 unreserved set, which every URL decoder reads back as is. */
        size_t enc = otel__prop_percent_encode(value, encoded, sizeof(encoded), OTEL__CC_UNRESERVED);
        if (!otel__prop_is_token(name) || name.len > JAEGER_KEY_MAX || enc == SIZE_MAX) {
            OTEL__PROP_DEBUG("jaeger: baggage entry that cannot be sent as uberctx- skipped");
            continue;
        }
        memcpy(header, UBERCTX_PREFIX, sizeof(UBERCTX_PREFIX) - 1);
        memcpy(header + sizeof(UBERCTX_PREFIX) - 1, name.data, name.len);
        w->set(w->user_data, (otel_str){ header, sizeof(UBERCTX_PREFIX) - 1 + name.len },
               (otel_str){ encoded, enc });
    }
}

static size_t jaeger_fields(void *user_data, otel_str *names, size_t cap)
{
    (void)user_data;
    if (cap > 0)
        names[0] = OTEL_STR("uber-trace-id");
    return 1;
}

otel_status otel_propagator_jaeger(otel_propagator *out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    *out = (otel_propagator){
        .inject = jaeger_inject,
        .extract = jaeger_extract,
        .fields = jaeger_fields,
        .destroy = NULL,
        .user_data = NULL,
    };
    return OTEL_OK;
}
