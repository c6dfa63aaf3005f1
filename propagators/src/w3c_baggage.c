/* The W3C Baggage propagator. Extraction walks the list members of every baggage line in
 * place, percent-decodes values into a stack buffer and adds each valid member to the
 * context's baggage; invalid members are skipped, never fatal. The work is bounded by the W3C
 * limits whatever the carrier sends: at most 64 list members and 8192 bytes of list are looked
 * at. Injection percent-encodes into one stack buffer. */
#include <string.h>

#include "prop_internal.h"

/* One list member split into its parts (slices of the header, trimmed). */
struct member {
    otel_str key;
    otel_str value; /* still percent-encoded */
    otel_str props; /* everything after the first ';', untrimmed; empty when none */
};

static bool all_baggage_octets(otel_str s)
{
    return otel__prop_all_in(s, OTEL__CC_BAGGAGE, false);
}

static bool split_member(otel_str m, struct member *out)
{
    const char *eq = memchr(m.data, '=', m.len);
    if (!eq)
        return false;
    out->key = otel__prop_trim((otel_str){ m.data, (size_t)(eq - m.data) });
    otel_str rest = { eq + 1, m.len - (size_t)(eq - m.data) - 1 };
    const char *semi = memchr(rest.data, ';', rest.len);
    if (semi) {
        out->value = otel__prop_trim((otel_str){ rest.data, (size_t)(semi - rest.data) });
        out->props = (otel_str){ semi + 1, rest.len - (size_t)(semi - rest.data) - 1 };
    } else {
        out->value = otel__prop_trim(rest);
        out->props = (otel_str){ NULL, 0 };
    }
    return otel__prop_is_token(out->key) && all_baggage_octets(out->value);
}

/* Writes the properties of |props| into |out| (|cap| bytes) as "p1;p2=v2", each trimmed and
 * checked: property = key OWS "=" OWS value / key. Empty properties are skipped. Returns the
 * length, or SIZE_MAX for an invalid property. */
static size_t normalize_props(otel_str props, char *out, size_t cap)
{
    size_t o = 0;
    size_t pos = 0;
    while (pos < props.len) {
        const char *start = props.data + pos;
        const char *semi = memchr(start, ';', props.len - pos);
        size_t len = semi ? (size_t)(semi - start) : props.len - pos;
        pos += len + 1;
        otel_str p = otel__prop_trim((otel_str){ start, len });
        if (p.len == 0)
            continue;
        otel_str key = p;
        otel_str value = { NULL, 0 };
        const char *eq = memchr(p.data, '=', p.len);
        if (eq) {
            key = otel__prop_trim((otel_str){ p.data, (size_t)(eq - p.data) });
            value = otel__prop_trim((otel_str){ eq + 1, p.len - (size_t)(eq - p.data) - 1 });
        }
        if (!otel__prop_is_token(key) || !all_baggage_octets(value))
            return SIZE_MAX;
        size_t need = (o ? 1 : 0) + key.len + (eq ? 1 + value.len : 0);
        if (cap - o < need)
            return SIZE_MAX;
        if (o)
            out[o++] = ';';
        memcpy(out + o, key.data, key.len);
        o += key.len;
        if (eq) {
            out[o++] = '=';
            if (value.len)
                memcpy(out + o, value.data, value.len);
            o += value.len;
        }
    }
    return o;
}

/* State of one extraction: the baggage being built and the budget left. */
struct bg_extract {
    otel_baggage *bg;    /* owned reference */
    size_t members_seen; /* list members looked at (valid or not) */
    size_t bytes_seen;   /* bytes of list looked at */
    bool truncated;
};

static void add_member(struct bg_extract *x, otel_str raw)
{
    struct member m;
    if (!split_member(raw, &m)) {
        OTEL__PROP_DEBUG("baggage: invalid list member skipped");
        return;
    }
    char value[OTEL_BAGGAGE_MAX_BYTES];
    char meta[OTEL_BAGGAGE_MAX_BYTES];
    size_t value_len = otel__prop_percent_decode(m.value, value, sizeof(value), false, true);
    size_t meta_len = normalize_props(m.props, meta, sizeof(meta));
    if (value_len == SIZE_MAX || meta_len == SIZE_MAX) {
        OTEL__PROP_DEBUG("baggage: list member with a bad value or property skipped");
        return;
    }
    otel_status st;
    if (!otel__prop_baggage_add(&x->bg, m.key, (otel_str){ value, value_len }, (otel_str){ meta, meta_len },
                                &st)) {
        if (st == OTEL_ERR_NOMEM)
            OTEL__LOG(OTEL_LOG_WARN, "baggage: out of memory; list member dropped");
        else
            OTEL__PROP_DEBUG("baggage: list member beyond the baggage limits dropped");
    }
}

/* Adds the members of one baggage line, within the budget. */
static void extract_line(struct bg_extract *x, otel_str line)
{
    size_t pos = 0;
    while (pos < line.len) {
        const char *start = line.data + pos;
        const char *comma = memchr(start, ',', line.len - pos);
        size_t len = comma ? (size_t)(comma - start) : line.len - pos;
        pos += len + 1;
        otel_str raw = otel__prop_trim((otel_str){ start, len });
        if (raw.len == 0)
            continue;
        if (x->members_seen == OTEL_BAGGAGE_MAX_MEMBERS || raw.len > OTEL_BAGGAGE_MAX_BYTES - x->bytes_seen) {
            x->truncated = true;
            return;
        }
        x->members_seen++;
        x->bytes_seen += raw.len + 1;
        add_member(x, raw);
    }
}

static otel_context *bg_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    (void)user_data;
    otel_str lines[OTEL_PROPAGATORS_BAGGAGE_MAX_LINES];
    size_t n = r->get(r->user_data, OTEL_STR("baggage"), lines, OTEL_PROPAGATORS_BAGGAGE_MAX_LINES);
    if (n == 0)
        return otel_context_retain(ctx);
    if (n > OTEL_PROPAGATORS_BAGGAGE_MAX_LINES) {
        OTEL__PROP_DEBUG("baggage: %zu baggage lines (at most %d); ignored", n,
                         OTEL_PROPAGATORS_BAGGAGE_MAX_LINES);
        return otel_context_retain(ctx);
    }
    const otel_baggage *before = otel_context_get_baggage(ctx);
    struct bg_extract x = { otel_baggage_retain(before), 0, 0, false };
    for (size_t i = 0; i < n && !x.truncated; i++)
        extract_line(&x, lines[i]);
    if (x.truncated)
        OTEL__PROP_DEBUG("baggage: list members beyond %d members or %d bytes dropped",
                         OTEL_BAGGAGE_MAX_MEMBERS, OTEL_BAGGAGE_MAX_BYTES);
    otel_context *out = otel__prop_with_baggage(ctx, x.bg);
    otel_baggage_release(x.bg);
    return out;
}

/* Metadata goes on the wire as stored: it must not break the list. */
static bool metadata_is_safe(otel_str meta)
{
    return otel__prop_all_in(meta, OTEL__CC_PRINT, false) && !(meta.len && memchr(meta.data, ',', meta.len));
}

static void bg_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    (void)user_data;
    const otel_baggage *bg = otel_context_get_baggage(ctx);
    size_t count = otel_baggage_count(bg);
    if (count == 0)
        return;
    char buf[OTEL_BAGGAGE_MAX_BYTES];
    const size_t cap = sizeof(buf);
    size_t pos = 0;
    size_t members = 0;
    for (size_t i = 0; i < count && members < OTEL_BAGGAGE_MAX_MEMBERS; i++) {
        otel_str name, value, meta;
        otel_baggage_entry(bg, i, &name, &value, &meta);
        if (!otel__prop_is_token(name) || !metadata_is_safe(meta)) {
            OTEL__PROP_DEBUG("baggage: entry with a name or metadata that cannot be sent skipped");
            continue;
        }
        size_t mark = pos;
        size_t need = (pos ? 1 : 0) + name.len + 1;
        if (cap - pos < need)
            continue;
        if (pos)
            buf[pos++] = ',';
        memcpy(buf + pos, name.data, name.len);
        pos += name.len;
        buf[pos++] = '=';
        size_t enc = otel__prop_percent_encode(value, buf + pos, cap - pos, OTEL__CC_BAGGAGE);
        if (enc == SIZE_MAX || (meta.len && cap - pos - enc < 1 + meta.len)) {
            pos = mark; /* never a partial member */
            OTEL__PROP_DEBUG("baggage: entry beyond %d bytes not sent", OTEL_BAGGAGE_MAX_BYTES);
            continue;
        }
        pos += enc;
        if (meta.len) {
            buf[pos++] = ';';
            memcpy(buf + pos, meta.data, meta.len);
            pos += meta.len;
        }
        members++;
    }
    if (pos)
        w->set(w->user_data, OTEL_STR("baggage"), (otel_str){ buf, pos });
}

static size_t bg_fields(void *user_data, otel_str *names, size_t cap)
{
    (void)user_data;
    if (cap > 0)
        names[0] = OTEL_STR("baggage");
    return 1;
}

otel_status otel_propagator_baggage(otel_propagator *out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    *out = (otel_propagator){
        .inject = bg_inject,
        .extract = bg_extract,
        .fields = bg_fields,
        .destroy = NULL,
        .user_data = NULL,
    };
    return OTEL_OK;
}
