/* The Datadog propagator: x-datadog-trace-id / -parent-id (decimal), -sampling-priority,
 * -origin and -tags. What an OpenTelemetry span context cannot hold (priority, origin, the
 * "_dd.p.*" trace tags) is kept in the "dd" member of the W3C trace state, in the encoding
 * Datadog tracers use there ("s:2;o:rum;t.dm:-4"), so it survives through local spans and also
 * reaches W3C services through the tracecontext propagator. */
#include <string.h>

#include "prop_internal.h"

#include "mem.h"

#define DD_VALUE_MAX OTEL_TRACE_STATE_MAX_VALUE_LEN
#define TAG_PREFIX "_dd.p."
#define TAG_TID "_dd.p.tid"

struct dd_config {
    size_t tags_max_bytes;
};

/* ---------------------------------------------------------------------------------------------
 * Extract
 * ------------------------------------------------------------------------------------------- */

/* The dd member value being built, with the tracestate encoding applied to each piece. */
struct dd_builder {
    char buf[DD_VALUE_MAX];
    size_t len;
    bool full; /* a field did not fit: later fields are dropped too */
};

/* Characters a field part may not hold (they become '_'). */
enum {
    BAD_COMMA = 1,
    BAD_SEMI = 2,
    BAD_TILDE = 4,
    BAD_SPACE = 8,
};

static bool is_bad(unsigned char c, unsigned bad)
{
    if (!(otel__prop_cclass[c] & OTEL__CC_PRINT))
        return true;
    return ((bad & BAD_COMMA) && c == ',') || ((bad & BAD_SEMI) && c == ';') ||
           ((bad & BAD_TILDE) && c == '~') || ((bad & BAD_SPACE) && c == ' ');
}

/* Appends ";"-separated field |prefix||a||sep||b| when it fits entirely. Bytes of |a| and |b|
 * outside printable ASCII, or in |bad_a| / |bad_b| (BAD_*), become '_'; '=' becomes '~'
 * (tracestate values cannot hold '='). */
static void dd_add_field(struct dd_builder *d, const char *prefix, otel_str a, unsigned bad_a,
                         const char *sep, otel_str b, unsigned bad_b)
{
    if (d->full)
        return;
    size_t plen = strlen(prefix);
    size_t slen = strlen(sep);
    size_t need = (d->len ? 1 : 0) + plen + a.len + slen + b.len;
    if (need > sizeof(d->buf) - d->len) {
        d->full = true;
        return;
    }
    if (d->len)
        d->buf[d->len++] = ';';
    memcpy(d->buf + d->len, prefix, plen);
    d->len += plen;
    const otel_str parts[2] = { a, b };
    const unsigned bad[2] = { bad_a, bad_b };
    for (int p = 0; p < 2; p++) {
        for (size_t i = 0; i < parts[p].len; i++) {
            unsigned char c = (unsigned char)parts[p].data[i];
            if (c == '=')
                c = '~';
            else if (is_bad(c, bad[p]))
                c = '_';
            d->buf[d->len++] = (char)c;
        }
        if (p == 0) {
            memcpy(d->buf + d->len, sep, slen);
            d->len += slen;
        }
    }
}

/* Checks the x-datadog-tags list (first pass), then adds its "_dd.p.*" pairs to |d| and takes
 * the high trace id bits from "_dd.p.tid" (second pass). Returns false, having added nothing,
 * for a malformed list. */
static bool parse_tags(otel_str tags, struct dd_builder *d, uint8_t high[8], bool *have_high)
{
    /* tagset = tag *( "," tag ); tag = key "=" value; key: printable ASCII but ' ', ',' and '=';
     * value: printable ASCII but ','. */
    if (tags.len && tags.data[tags.len - 1] == ',')
        return false;
    for (int pass = 0; pass < 2; pass++) {
        size_t pos = 0;
        while (pos < tags.len) {
            const char *start = tags.data + pos;
            const char *comma = memchr(start, ',', tags.len - pos);
            size_t len = comma ? (size_t)(comma - start) : tags.len - pos;
            pos += len + 1;
            const char *eq = memchr(start, '=', len);
            if (pass == 0) {
                if (!eq || eq == start || eq == start + len - 1)
                    return false;
                for (size_t i = 0; i < len; i++) {
                    unsigned char c = (unsigned char)start[i];
                    if (c < 0x20 || c > 0x7e || (start + i < eq && c == ' '))
                        return false;
                }
                continue;
            }
            otel_str key = { start, (size_t)(eq - start) };
            otel_str value = { eq + 1, len - key.len - 1 };
            if (key.len < sizeof(TAG_PREFIX) - 1 || memcmp(key.data, TAG_PREFIX, sizeof(TAG_PREFIX) - 1) != 0)
                continue;
            if (otel_str_eq(key, OTEL_STR(TAG_TID))) {
                uint8_t tid[8];
                if (value.len == 16 && otel__prop_hex_decode(value.data, 8, tid, true)) {
                    memcpy(high, tid, 8);
                    *have_high = true;
                } else {
                    OTEL__PROP_DEBUG("datadog: malformed _dd.p.tid ignored");
                }
                continue;
            }
            otel_str name = { key.data + sizeof(TAG_PREFIX) - 1, key.len - (sizeof(TAG_PREFIX) - 1) };
            if (name.len)
                dd_add_field(d, "t.", name, BAD_SPACE | BAD_COMMA | BAD_SEMI | BAD_TILDE, ":", value,
                             BAD_COMMA | BAD_SEMI | BAD_TILDE);
        }
    }
    return true;
}

static bool parse_id(otel_str v, uint64_t *out)
{
    return otel__prop_parse_u64(v, out) && *out != 0;
}

static otel_context *dd_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    const struct dd_config *cfg = user_data;
    uint64_t trace_low, parent;
    otel_str tid, pid;
    if (!otel__prop_get_first(r, OTEL_STR("x-datadog-trace-id"), &tid))
        return otel_context_retain(ctx);
    if (!parse_id(tid, &trace_low) || !otel__prop_get_first(r, OTEL_STR("x-datadog-parent-id"), &pid) ||
        !parse_id(pid, &parent)) {
        OTEL__PROP_DEBUG("datadog: missing or invalid x-datadog-trace-id / x-datadog-parent-id");
        return otel_context_retain(ctx);
    }
    otel_span_context sc;
    memset(&sc, 0, sizeof(sc));
    otel__prop_store_be64(sc.trace_id + 8, trace_low);
    otel__prop_store_be64(sc.span_id, parent);

    struct dd_builder d;
    d.len = 0;
    d.full = false;
    otel_str v;
    int32_t priority;
    if (otel__prop_get_first(r, OTEL_STR("x-datadog-sampling-priority"), &v)) {
        if (otel__prop_parse_i32(v, &priority)) {
            if (priority > 0)
                sc.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
            char num[12];
            dd_add_field(&d, "s:", (otel_str){ num, otel__prop_format_i32(priority, num) }, 0, "",
                         (otel_str){ NULL, 0 }, 0);
        } else {
            OTEL__PROP_DEBUG("datadog: invalid x-datadog-sampling-priority ignored");
        }
    }
    if (otel__prop_get_first(r, OTEL_STR("x-datadog-origin"), &v) && v.len) {
        if (v.len <= DD_VALUE_MAX)
            dd_add_field(&d, "o:", v, BAD_COMMA | BAD_SEMI | BAD_TILDE, "", (otel_str){ NULL, 0 }, 0);
        else
            OTEL__PROP_DEBUG("datadog: x-datadog-origin of %zu bytes ignored", v.len);
    }
    if (otel__prop_get_first(r, OTEL_STR("x-datadog-tags"), &v) && v.len) {
        uint8_t high[8];
        bool have_high = false;
        size_t saved_len = d.len;
        bool saved_full = d.full;
        if (v.len > cfg->tags_max_bytes) {
            OTEL__PROP_DEBUG("datadog: x-datadog-tags of %zu bytes (at most %zu) ignored", v.len,
                             cfg->tags_max_bytes);
        } else if (!parse_tags(v, &d, high, &have_high)) {
            d.len = saved_len;
            d.full = saved_full;
            OTEL__PROP_DEBUG("datadog: malformed x-datadog-tags ignored");
        } else if (have_high) {
            memcpy(sc.trace_id, high, 8);
        }
    }

    /* A tracestate value cannot end with a space. */
    if (d.len && d.buf[d.len - 1] == ' ')
        d.buf[d.len - 1] = '_';
    otel_trace_state *ts = NULL;
    if (d.len && otel_trace_state_set(NULL, OTEL_STR("dd"), (otel_str){ d.buf, d.len }, &ts) != OTEL_OK) {
        /* Only a value the grammar refuses (trailing space) or no memory get here. */
        OTEL__PROP_DEBUG("datadog: priority, origin and tags could not be kept");
        ts = NULL;
    }
    otel_context *out = otel__prop_attach(ctx, sc, ts, false);
    otel_trace_state_release(ts);
    return out;
}

/* ---------------------------------------------------------------------------------------------
 * Inject
 * ------------------------------------------------------------------------------------------- */

/* Copies |s| to |out| at *pos with '~' turned back into '=', when it fits in |cap|. */
static bool put_decoded(char *out, size_t cap, size_t *pos, otel_str s)
{
    if (cap - *pos < s.len)
        return false;
    for (size_t i = 0; i < s.len; i++)
        out[(*pos)++] = s.data[i] == '~' ? '=' : s.data[i];
    return true;
}

static bool put(char *out, size_t cap, size_t *pos, otel_str s)
{
    if (cap - *pos < s.len)
        return false;
    memcpy(out + *pos, s.data, s.len);
    *pos += s.len;
    return true;
}

static void dd_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    const struct dd_config *cfg = user_data;
    otel_span_context sc = otel_context_get_span_context(ctx);
    if (!otel_span_context_is_valid(&sc))
        return;
    uint64_t low = otel__prop_load_be64(sc.trace_id + 8);
    uint64_t high = otel__prop_load_be64(sc.trace_id);
    if (low == 0) {
        OTEL__PROP_DEBUG("datadog: trace id with zero low 64 bits cannot be sent");
        return;
    }
    char num[20];
    w->set(w->user_data, OTEL_STR("x-datadog-trace-id"), (otel_str){ num, otel__prop_format_u64(low, num) });
    w->set(w->user_data, OTEL_STR("x-datadog-parent-id"),
           (otel_str){ num, otel__prop_format_u64(otel__prop_load_be64(sc.span_id), num) });

    struct otel__dd_member m;
    bool have = otel__dd_member_parse(otel_context_get_trace_state(ctx), &m);
    bool sampled = (sc.trace_flags & OTEL_TRACE_FLAG_SAMPLED) != 0;
    int32_t priority = otel__dd_priority(&m, have, sampled);
    w->set(w->user_data, OTEL_STR("x-datadog-sampling-priority"),
           (otel_str){ num, otel__prop_format_i32(priority, num) });

    char buf[DD_VALUE_MAX + 16 * 6 + 64];
    if (m.origin.len) {
        size_t pos = 0;
        put_decoded(buf, sizeof(buf), &pos, m.origin);
        w->set(w->user_data, OTEL_STR("x-datadog-origin"), (otel_str){ buf, pos });
    }

    /* x-datadog-tags: the whole list or nothing. */
    size_t cap = cfg->tags_max_bytes < sizeof(buf) ? cfg->tags_max_bytes : sizeof(buf);
    size_t pos = 0;
    bool fits = true;
    if (high) {
        char hex[16];
        otel__prop_hex_encode(sc.trace_id, 8, hex);
        fits = put(buf, cap, &pos, OTEL_STR(TAG_TID "=")) && put(buf, cap, &pos, (otel_str){ hex, 16 });
    }
    for (size_t i = 0; fits && i < m.tag_count; i++) {
        /* "<name>:<value>" -> "_dd.p.<name>=<value>" */
        otel_str t = m.tags[i];
        const char *colon = memchr(t.data, ':', t.len);
        otel_str name = { t.data, colon ? (size_t)(colon - t.data) : 0 };
        if (!colon || name.len == 0 || memchr(name.data, ' ', name.len) || otel_str_eq(name, OTEL_STR("tid")))
            continue;
        otel_str value = { colon + 1, t.len - name.len - 1 };
        /* Header values lose trailing white space on the way (carriers trim it), which would
         * leave "key=" and make the receiver reject the whole list, _dd.p.tid included. */
        if (value.len == 0 || value.data[value.len - 1] == ' ')
            continue;
        fits = (pos == 0 || put(buf, cap, &pos, OTEL_STR(","))) &&
               put(buf, cap, &pos, OTEL_STR(TAG_PREFIX)) && put(buf, cap, &pos, name) &&
               put(buf, cap, &pos, OTEL_STR("=")) && put_decoded(buf, cap, &pos, value);
    }
    if (!fits) {
        /* The other tags are dropped, but never the high half of the trace id: without it the
         * next service would continue a different (64-bit) trace. */
        OTEL__PROP_DEBUG("datadog: x-datadog-tags longer than %zu bytes; only _dd.p.tid sent",
                         cfg->tags_max_bytes);
        pos = high ? sizeof(TAG_TID "=") - 1 + 16 : 0;
        fits = pos <= cap;
    }
    if (fits && pos)
        w->set(w->user_data, OTEL_STR("x-datadog-tags"), (otel_str){ buf, pos });
}

static size_t dd_fields(void *user_data, otel_str *names, size_t cap)
{
    (void)user_data;
    static const otel_str fields[] = {
        { "x-datadog-trace-id", 18 }, { "x-datadog-parent-id", 19 }, { "x-datadog-sampling-priority", 27 },
        { "x-datadog-origin", 16 },   { "x-datadog-tags", 14 },
    };
    size_t n = sizeof(fields) / sizeof(fields[0]);
    for (size_t i = 0; i < cap && i < n; i++)
        names[i] = fields[i];
    return n;
}

otel_status otel_propagator_datadog(const otel_datadog_propagator_options *opts, otel_propagator *out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    struct dd_config *cfg = otel__calloc(1, sizeof(*cfg));
    if (!cfg)
        return OTEL_ERR_NOMEM;
    cfg->tags_max_bytes =
        (opts && opts->tags_max_bytes) ? opts->tags_max_bytes : OTEL_PROPAGATORS_DATADOG_TAGS_MAX_BYTES;
    *out = (otel_propagator){
        .inject = dd_inject,
        .extract = dd_extract,
        .fields = dd_fields,
        .destroy = otel__free,
        .user_data = cfg,
    };
    return OTEL_OK;
}
