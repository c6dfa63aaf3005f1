/* The OTLP/JSON encoder (protocol http/json): the same ExportTraceServiceRequest as the protobuf
 * encoder, in the protobuf JSON mapping with OTLP's exceptions: trace and span ids as hex
 * strings, lowerCamelCase keys, 64-bit integers as decimal strings, enums as integers. Fields
 * holding their default value are left out, as protobuf's JSON printer does. Numbers are
 * printed in the C locale whatever locale the program set, and text that is not UTF-8 gets
 * U+FFFD, since JSON must be Unicode. Also parses the partial-success part of JSON responses. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_encode.h"
#include "otel/sdk/resource.h"
#include "text.h"

/* Appends; the common case (room left) stays inline. After a failed growth, writes that still
 * fit go on and the result is discarded at the end (b->failed). */
static inline void put(otel__buf *b, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (n <= b->cap - b->len) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    } else {
        otel__buf_append(b, s, n);
    }
}

#define PUT_LIT(b, lit) put((b), "" lit, sizeof(lit) - 1)

static const char hex_digits[] = "0123456789abcdef";

#define ONES 0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* True when one of the 8 bytes of |v| needs a look: a control character, '"', '\\', or a byte
 * of a multi-byte (or invalid) UTF-8 sequence. Exact (no false negatives), a few operations. */
static inline bool special8(uint64_t v)
{
    uint64_t ctl = (v - ONES * 0x20) & ~v & HIGHS;
    uint64_t q = v ^ (ONES * '"');
    q = (q - ONES) & ~q & HIGHS;
    uint64_t bs = v ^ (ONES * '\\');
    bs = (bs - ONES) & ~bs & HIGHS;
    return (ctl | q | bs | (v & HIGHS)) != 0;
}

/* A JSON string: quotes, escapes, and U+FFFD for bytes that do not start valid UTF-8. */
static void put_json_str(otel__buf *b, otel_str s)
{
    otel__buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s.data;
    size_t i = 0, run = 0; /* |run| bytes before |i| are plain and not written yet */
    while (i < s.len) {
        if (i + 8 <= s.len) {
            uint64_t v;
            memcpy(&v, p + i, 8);
            if (!special8(v)) {
                i += 8;
                run += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = otel__utf8_seq_len(p + i, s.len - i);
            if (l) {
                i += l;
                run += l;
                continue;
            }
        }
        put(b, (const char *)p + i - run, run);
        run = 0;
        i++;
        switch (c) {
        case '"':
            PUT_LIT(b, "\\\"");
            break;
        case '\\':
            PUT_LIT(b, "\\\\");
            break;
        case '\n':
            PUT_LIT(b, "\\n");
            break;
        case '\r':
            PUT_LIT(b, "\\r");
            break;
        case '\t':
            PUT_LIT(b, "\\t");
            break;
        default:
            if (c < 0x20) {
                char esc[6] = { '\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15] };
                put(b, esc, 6);
            } else {
                PUT_LIT(b, "\\ufffd");
            }
            break;
        }
    }
    put(b, (const char *)p + i - run, run);
    otel__buf_putc(b, '"');
}

static void put_cstr(otel__buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_key(otel__buf *b, const char *key)
{
    otel__buf_putc(b, '"');
    put_cstr(b, key);
    PUT_LIT(b, "\":");
}

static void put_u64(otel__buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(b, tmp + sizeof(tmp) - n, n);
}

static void put_i64(otel__buf *b, int64_t v)
{
    if (v < 0) {
        otel__buf_putc(b, '-');
        put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(b, (uint64_t)v);
    }
}

/* A 64-bit integer as a JSON string, as the protobuf JSON mapping wants. */
static void put_i64_str(otel__buf *b, int64_t v)
{
    otel__buf_putc(b, '"');
    put_i64(b, v);
    otel__buf_putc(b, '"');
}

/* The shortest text that reads back as |d|. The caller switched the thread to the C locale, so
 * the decimal point is '.'. */
static void put_double(otel__buf *b, double d)
{
    if (isnan(d)) {
        PUT_LIT(b, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        if (d > 0)
            PUT_LIT(b, "\"Infinity\"");
        else
            PUT_LIT(b, "\"-Infinity\"");
        return;
    }
    char tmp[OTEL__DOUBLE_TEXT_MAX];
    put(b, tmp, otel__format_double(d, tmp));
}

static void put_base64(otel__buf *b, const uint8_t *p, size_t n)
{
    char chunk[64]; /* 48 bytes in, a multiple of 3, so '=' only ends the last chunk */
    for (size_t i = 0; i < n; i += 48) {
        size_t m = n - i < 48 ? n - i : 48;
        otel__base64_encode(p + i, m, chunk);
        put(b, chunk, otel__base64_len(m));
    }
}

static void put_hex_id(otel__buf *b, const char *key, const uint8_t *id, size_t n)
{
    put_key(b, key);
    otel__buf_putc(b, '"');
    if (otel__buf_reserve(b, 2 * n)) {
        for (size_t i = 0; i < n; i++) {
            b->data[b->len++] = (uint8_t)hex_digits[id[i] >> 4];
            b->data[b->len++] = (uint8_t)hex_digits[id[i] & 15];
        }
    }
    otel__buf_putc(b, '"');
}

/* ---------------------------------------------------------------------------------------------
 * Values and attributes
 * ------------------------------------------------------------------------------------------- */

static void put_scalar(otel__buf *b, otel_value_type type, const void *p)
{
    switch (type) {
    case OTEL_VALUE_BOOL:
        if (*(const bool *)p)
            PUT_LIT(b, "{\"boolValue\":true}");
        else
            PUT_LIT(b, "{\"boolValue\":false}");
        break;
    case OTEL_VALUE_INT:
        PUT_LIT(b, "{\"intValue\":");
        put_i64_str(b, *(const int64_t *)p);
        otel__buf_putc(b, '}');
        break;
    case OTEL_VALUE_DOUBLE:
        PUT_LIT(b, "{\"doubleValue\":");
        put_double(b, *(const double *)p);
        otel__buf_putc(b, '}');
        break;
    case OTEL_VALUE_STR:
        PUT_LIT(b, "{\"stringValue\":");
        put_json_str(b, *(const otel_str *)p);
        otel__buf_putc(b, '}');
        break;
    default:
        PUT_LIT(b, "{}");
        break;
    }
}

static void put_value(otel__buf *b, const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_BOOL:
        put_scalar(b, OTEL_VALUE_BOOL, &v->as.b);
        break;
    case OTEL_VALUE_INT:
        put_scalar(b, OTEL_VALUE_INT, &v->as.i);
        break;
    case OTEL_VALUE_DOUBLE:
        put_scalar(b, OTEL_VALUE_DOUBLE, &v->as.d);
        break;
    case OTEL_VALUE_STR:
        put_scalar(b, OTEL_VALUE_STR, &v->as.s);
        break;
    case OTEL_VALUE_BYTES:
        PUT_LIT(b, "{\"bytesValue\":\"");
        put_base64(b, (const uint8_t *)v->as.s.data, v->as.s.len);
        PUT_LIT(b, "\"}");
        break;
    case OTEL_VALUE_ARRAY: {
        size_t es = otel_value_array_item_size((otel_value_type)v->array_type);
        PUT_LIT(b, "{\"arrayValue\":{");
        if (es && v->as.array.items && v->as.array.len) {
            PUT_LIT(b, "\"values\":[");
            for (size_t i = 0; i < v->as.array.len; i++) {
                if (i)
                    otel__buf_putc(b, ',');
                put_scalar(b, (otel_value_type)v->array_type, (const char *)v->as.array.items + i * es);
            }
            otel__buf_putc(b, ']');
        }
        PUT_LIT(b, "}}");
        break;
    }
    case OTEL_VALUE_EMPTY:
    default:
        PUT_LIT(b, "{}");
        break;
    }
}

/* ,"attributes":[...] when there are any; |comma| says whether a member precedes. */
static void put_attrs(otel__buf *b, const otel_attr *attrs, size_t n, bool comma)
{
    if (!attrs || n == 0)
        return;
    if (comma)
        otel__buf_putc(b, ',');
    PUT_LIT(b, "\"attributes\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            otel__buf_putc(b, ',');
        PUT_LIT(b, "{\"key\":");
        put_json_str(b, attrs[i].key);
        PUT_LIT(b, ",\"value\":");
        put_value(b, &attrs[i].value);
        otel__buf_putc(b, '}');
    }
    otel__buf_putc(b, ']');
}

static void put_count(otel__buf *b, const char *key, uint64_t n)
{
    if (n == 0)
        return;
    otel__buf_putc(b, ',');
    put_key(b, key);
    put_u64(b, n);
}

static void put_trace_state(otel__buf *b, const otel_trace_state *ts)
{
    size_t n = otel_trace_state_count(ts);
    if (n == 0)
        return;
    PUT_LIT(b, ",\"traceState\":\"");
    for (size_t i = 0; i < n; i++) {
        otel_str k, v;
        if (!otel_trace_state_entry(ts, i, &k, &v))
            continue;
        if (i)
            otel__buf_putc(b, ',');
        /* Quote the pieces without their quotes: W3C values may hold '"' and '\'. */
        size_t at = b->len;
        put_json_str(b, k);
        if (!b->failed) {
            memmove(b->data + at, b->data + at + 1, b->len - at - 2);
            b->len -= 2;
        }
        otel__buf_putc(b, '=');
        at = b->len;
        put_json_str(b, v);
        if (!b->failed) {
            memmove(b->data + at, b->data + at + 1, b->len - at - 2);
            b->len -= 2;
        }
    }
    otel__buf_putc(b, '"');
}

/* ---------------------------------------------------------------------------------------------
 * Spans
 * ------------------------------------------------------------------------------------------- */

static bool id_is_zero(const uint8_t *id, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= id[i];
    return acc == 0;
}

static void put_span(otel__buf *b, const otel_span_data *s)
{
    otel__buf_putc(b, '{');
    put_hex_id(b, "traceId", s->context.trace_id, OTEL_TRACE_ID_SIZE);
    otel__buf_putc(b, ',');
    put_hex_id(b, "spanId", s->context.span_id, OTEL_SPAN_ID_SIZE);
    put_trace_state(b, s->trace_state);
    if (!id_is_zero(s->parent_span_id, OTEL_SPAN_ID_SIZE)) {
        otel__buf_putc(b, ',');
        put_hex_id(b, "parentSpanId", s->parent_span_id, OTEL_SPAN_ID_SIZE);
    }
    PUT_LIT(b, ",\"flags\":");
    put_u64(b, otel__otlp_flags(s->context.trace_flags, s->parent_is_remote));
    if (s->name.len) {
        PUT_LIT(b, ",\"name\":");
        put_json_str(b, s->name);
    }
    PUT_LIT(b, ",\"kind\":");
    put_u64(b, (uint64_t)s->kind + 1);
    PUT_LIT(b, ",\"startTimeUnixNano\":");
    put_i64_str(b, s->start_time_ns);
    PUT_LIT(b, ",\"endTimeUnixNano\":");
    put_i64_str(b, s->end_time_ns);
    put_attrs(b, s->attrs, s->attr_count, true);
    put_count(b, "droppedAttributesCount", s->dropped_attr_count);
    if (s->events && s->event_count) {
        PUT_LIT(b, ",\"events\":[");
        for (uint32_t i = 0; i < s->event_count; i++) {
            const otel_event_data *e = &s->events[i];
            if (i)
                otel__buf_putc(b, ',');
            PUT_LIT(b, "{\"timeUnixNano\":");
            put_i64_str(b, e->time_ns);
            if (e->name.len) {
                PUT_LIT(b, ",\"name\":");
                put_json_str(b, e->name);
            }
            put_attrs(b, e->attrs, e->attr_count, true);
            put_count(b, "droppedAttributesCount", e->dropped_attr_count);
            otel__buf_putc(b, '}');
        }
        otel__buf_putc(b, ']');
    }
    put_count(b, "droppedEventsCount", s->dropped_event_count);
    if (s->links && s->link_count) {
        PUT_LIT(b, ",\"links\":[");
        for (uint32_t i = 0; i < s->link_count; i++) {
            const otel_link_data *l = &s->links[i];
            if (i)
                otel__buf_putc(b, ',');
            otel__buf_putc(b, '{');
            put_hex_id(b, "traceId", l->context.trace_id, OTEL_TRACE_ID_SIZE);
            otel__buf_putc(b, ',');
            put_hex_id(b, "spanId", l->context.span_id, OTEL_SPAN_ID_SIZE);
            put_trace_state(b, l->trace_state);
            put_attrs(b, l->attrs, l->attr_count, true);
            put_count(b, "droppedAttributesCount", l->dropped_attr_count);
            PUT_LIT(b, ",\"flags\":");
            put_u64(b, otel__otlp_flags(l->context.trace_flags, l->context.is_remote));
            otel__buf_putc(b, '}');
        }
        otel__buf_putc(b, ']');
    }
    put_count(b, "droppedLinksCount", s->dropped_link_count);
    if (s->status_code != OTEL_SPAN_STATUS_UNSET || s->status_description.len) {
        PUT_LIT(b, ",\"status\":{");
        bool comma = false;
        if (s->status_description.len) {
            PUT_LIT(b, "\"message\":");
            put_json_str(b, s->status_description);
            comma = true;
        }
        if (s->status_code != OTEL_SPAN_STATUS_UNSET) {
            if (comma)
                otel__buf_putc(b, ',');
            PUT_LIT(b, "\"code\":");
            put_u64(b, (uint64_t)s->status_code);
        }
        otel__buf_putc(b, '}');
    }
    otel__buf_putc(b, '}');
}

static void put_scope_spans(otel__buf *b, const struct otel__otlp_encoder *e,
                            const struct otel__otlp_group *g, const otel_span_data *const *spans)
{
    const otel_scope_data *scope = g->scope;
    PUT_LIT(b, "{\"scope\":{");
    bool comma = false;
    if (scope && scope->name.len) {
        PUT_LIT(b, "\"name\":");
        put_json_str(b, scope->name);
        comma = true;
    }
    if (scope && scope->version.len) {
        if (comma)
            otel__buf_putc(b, ',');
        PUT_LIT(b, "\"version\":");
        put_json_str(b, scope->version);
        comma = true;
    }
    if (scope)
        put_attrs(b, scope->attrs, scope->attr_count, comma);
    PUT_LIT(b, "},\"spans\":[");
    for (uint32_t i = 0; i < g->count; i++) {
        if (i)
            otel__buf_putc(b, ',');
        put_span(b, spans[e->order[g->start + i]]);
    }
    otel__buf_putc(b, ']');
    if (scope && scope->schema_url.len) {
        PUT_LIT(b, ",\"schemaUrl\":");
        put_json_str(b, scope->schema_url);
    }
    otel__buf_putc(b, '}');
}

otel_status otel__otlp_encode_json(struct otel__otlp_encoder *e, const otel_span_data *const *spans,
                                   size_t count, const uint8_t **data, size_t *len)
{
    otel__buf *b = &e->json;
    otel__buf_clear(b);
    otel_status st = otel__otlp_group_spans(e, spans, count);
    if (st != OTEL_OK)
        return st;
    if (e->c_locale == (locale_t)0)
        e->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = e->c_locale != (locale_t)0 ? uselocale(e->c_locale) : (locale_t)0;

    PUT_LIT(b, "{\"resourceSpans\":[");
    for (size_t first = 0; first < e->group_count;) {
        uint32_t rf = e->groups[e->group_order[first]].resource_first;
        size_t end = first + 1;
        while (end < e->group_count && e->groups[e->group_order[end]].resource_first == rf)
            end++;
        if (first)
            otel__buf_putc(b, ',');
        const otel_resource *res = e->groups[e->group_order[first]].resource;
        size_t n = 0;
        const otel_attr *attrs = otel_resource_attrs(res, &n);
        PUT_LIT(b, "{\"resource\":{");
        put_attrs(b, attrs, n, false);
        PUT_LIT(b, "},\"scopeSpans\":[");
        for (size_t i = first; i < end; i++) {
            if (i > first)
                otel__buf_putc(b, ',');
            put_scope_spans(b, e, &e->groups[e->group_order[i]], spans);
        }
        otel__buf_putc(b, ']');
        otel_str schema = otel_resource_schema_url(res);
        if (schema.len) {
            PUT_LIT(b, ",\"schemaUrl\":");
            put_json_str(b, schema);
        }
        otel__buf_putc(b, '}');
        first = end;
    }
    PUT_LIT(b, "]}");

    if (old != (locale_t)0)
        uselocale(old);
    if (b->failed)
        return OTEL_ERR_NOMEM;
    *data = b->data;
    *len = b->len;
    return OTEL_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Responses: {"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}. A full JSON parser
 * is not needed to find two keys; the scan skips strings so a key inside a value never matches.
 * ------------------------------------------------------------------------------------------- */

/* Finds "key": outside string values and returns the position after the colon. */
static const uint8_t *find_key(const uint8_t *p, const uint8_t *end, const char *key)
{
    size_t kl = strlen(key);
    while (p < end) {
        if (*p != '"') {
            p++;
            continue;
        }
        const uint8_t *s = ++p;
        while (p < end && *p != '"') {
            if (*p == '\\' && p + 1 < end)
                p++;
            p++;
        }
        if (p >= end)
            return NULL;
        bool match = (size_t)(p - s) == kl && memcmp(s, key, kl) == 0;
        p++;
        const uint8_t *q = p;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
                q++;
            if (match)
                return q;
        }
    }
    return NULL;
}

bool otel__otlp_parse_response_json(const uint8_t *body, size_t len, int64_t *rejected, otel_str *message)
{
    *rejected = 0;
    *message = (otel_str){ NULL, 0 };
    const uint8_t *end = body + len;
    const uint8_t *ps = find_key(body, end, "partialSuccess");
    if (!ps)
        return true;
    const uint8_t *r = find_key(ps, end, "rejectedSpans");
    if (r) {
        if (r < end && *r == '"')
            r++;
        bool neg = r < end && *r == '-';
        if (neg)
            r++;
        int64_t v = 0;
        while (r < end && *r >= '0' && *r <= '9' && v < INT64_MAX / 10)
            v = v * 10 + (*r++ - '0');
        *rejected = neg ? -v : v;
    }
    const uint8_t *m = find_key(ps, end, "errorMessage");
    if (m && m < end && *m == '"') {
        const uint8_t *s = ++m;
        while (m < end && *m != '"') {
            if (*m == '\\' && m + 1 < end)
                m++;
            m++;
        }
        *message = (otel_str){ (const char *)s, (size_t)(m - s) };
    }
    return true;
}
