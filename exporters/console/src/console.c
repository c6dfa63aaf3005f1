/* The console exporter: one line per span, as readable text or as OTLP/JSON (one ResourceSpans
 * per line, so a tool can wrap lines into {"resourceSpans":[...]}). Each export formats the whole
 * batch into a reused buffer, then writes it with one fwrite and one fflush under a mutex, so a
 * line is never split by another export of this process. Everything printed is escaped: span
 * names and attribute values come from the program's input. */
#include "otel/exporters/console.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log_internal.h"
#include "mem.h"
#include "utf8.h"
#include "text.h"

/* ---------------------------------------------------------------------------------------------
 * A growable output buffer. A failed allocation sets |failed| and later writes do nothing, so
 * the formatting code needs no error checks; the export checks once at the end.
 * ------------------------------------------------------------------------------------------- */

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

static bool buf_reserve(struct buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (more <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = otel__realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

static void put(struct buf *b, const char *s, size_t n)
{
    if (n && buf_reserve(b, n)) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    }
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putch(struct buf *b, char c)
{
    if (buf_reserve(b, 1))
        b->data[b->len++] = c;
}

static void putf(struct buf *b, const char *fmt, ...) OTEL_PRINTF(2, 3);
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        put(b, tmp, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static const char hex_digits[] = "0123456789abcdef";

static void put_hex(struct buf *b, const uint8_t *bytes, size_t n)
{
    if (!buf_reserve(b, 2 * n))
        return;
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = hex_digits[bytes[i] >> 4];
        b->data[b->len++] = hex_digits[bytes[i] & 15];
    }
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Writes |s| quoted. Text form: C-like escapes, and \xNN for control bytes and bytes that are
 * not UTF-8, so a reader sees exactly which bytes were there. JSON form: JSON escapes, and U+FFFD
 * for bytes that are not UTF-8 (JSON text must be Unicode). */
static void put_quoted(struct buf *b, otel_str s, bool json)
{
    putch(b, '"');
    const unsigned char *p = (const unsigned char *)s.data;
    for (size_t i = 0; i < s.len;) {
        unsigned char c = p[i];
        size_t l = otel__utf8_seq_len(p + i, s.len - i);
        if (l > 1) {
            put(b, (const char *)p + i, l);
            i += l;
            continue;
        }
        i++;
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            break;
        }
        if (esc) {
            puts_(b, esc);
        } else if (l == 1 && c >= 0x20 && c != 0x7f) {
            putch(b, (char)c);
        } else if (json) {
            if (l == 0)
                puts_(b, "\\ufffd");
            else
                putf(b, "\\u%04x", c);
        } else {
            putf(b, "\\x%02x", c);
        }
    }
    putch(b, '"');
}

/* The shortest text that reads back as |d| (the caller has switched the thread to the C locale,
 * so the decimal point is '.'). */
static void put_double(struct buf *b, double d, bool json)
{
    if (isnan(d) || isinf(d)) {
        /* Protobuf's JSON mapping spells these as strings. */
        const char *t = isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
        if (json)
            putf(b, "\"%s\"", t);
        else
            puts_(b, isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        return;
    }
    char tmp[OTEL__DOUBLE_TEXT_MAX];
    put(b, tmp, otel__format_double(d, tmp));
}

static void put_base64(struct buf *b, const uint8_t *p, size_t n)
{
    char chunk[64]; /* 48 bytes in, a multiple of 3, so '=' only ends the last chunk */
    for (size_t i = 0; i < n; i += 48) {
        size_t m = n - i < 48 ? n - i : 48;
        otel__base64_encode(p + i, m, chunk);
        put(b, chunk, otel__base64_len(m));
    }
}

/* RFC 3339 in UTC with nanoseconds: 2024-05-01T12:00:00.123456789Z. */
static void put_time(struct buf *b, int64_t ns)
{
    int64_t sec = ns / 1000000000;
    int64_t frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        putf(b, "%" PRId64 "ns", ns);
        return;
    }
    char tmp[40];
    size_t n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
    put(b, tmp, n);
    putf(b, ".%09" PRId64 "Z", frac);
}

/* |ns| as microseconds with three decimals: "12.345". */
static void put_us(struct buf *b, int64_t ns)
{
    const char *sign = "";
    uint64_t u = (uint64_t)ns;
    if (ns < 0) {
        sign = "-";
        u = 0 - u;
    }
    putf(b, "%s%" PRIu64 ".%03" PRIu64, sign, u / 1000, u % 1000);
}

/* ---------------------------------------------------------------------------------------------
 * Text lines
 * ------------------------------------------------------------------------------------------- */

static bool is_plain_key(otel_str k)
{
    if (k.len == 0)
        return false;
    for (size_t i = 0; i < k.len; i++) {
        char c = k.data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-' || c == '/' || c == ':'))
            return false;
    }
    return true;
}

static void text_scalar(struct buf *b, otel_value_type type, const void *p)
{
    switch (type) {
    case OTEL_VALUE_BOOL:
        puts_(b, *(const bool *)p ? "true" : "false");
        break;
    case OTEL_VALUE_INT:
        putf(b, "%" PRId64, *(const int64_t *)p);
        break;
    case OTEL_VALUE_DOUBLE:
        put_double(b, *(const double *)p, false);
        break;
    case OTEL_VALUE_STR:
        put_quoted(b, *(const otel_str *)p, false);
        break;
    default:
        puts_(b, "?");
        break;
    }
}

static void text_value(struct buf *b, const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_EMPTY:
        puts_(b, "null");
        break;
    case OTEL_VALUE_BOOL:
        text_scalar(b, OTEL_VALUE_BOOL, &v->as.b);
        break;
    case OTEL_VALUE_INT:
        text_scalar(b, OTEL_VALUE_INT, &v->as.i);
        break;
    case OTEL_VALUE_DOUBLE:
        text_scalar(b, OTEL_VALUE_DOUBLE, &v->as.d);
        break;
    case OTEL_VALUE_STR:
        text_scalar(b, OTEL_VALUE_STR, &v->as.s);
        break;
    case OTEL_VALUE_BYTES:
        puts_(b, "0x");
        put_hex(b, (const uint8_t *)v->as.s.data, v->as.s.len);
        break;
    case OTEL_VALUE_ARRAY: {
        static const size_t sizes[] = { [OTEL_VALUE_BOOL] = sizeof(bool),
                                        [OTEL_VALUE_INT] = sizeof(int64_t),
                                        [OTEL_VALUE_DOUBLE] = sizeof(double),
                                        [OTEL_VALUE_STR] = sizeof(otel_str) };
        size_t size = v->array_type < sizeof(sizes) / sizeof(sizes[0]) ? sizes[v->array_type] : 0;
        putch(b, '[');
        for (size_t i = 0; size && i < v->as.array.len; i++) {
            if (i)
                puts_(b, ", ");
            text_scalar(b, (otel_value_type)v->array_type, (const char *)v->as.array.items + i * size);
        }
        putch(b, ']');
        break;
    }
    default:
        puts_(b, "?");
        break;
    }
}

static void text_attrs(struct buf *b, const otel_attr *attrs, size_t n)
{
    putch(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            puts_(b, ", ");
        if (is_plain_key(attrs[i].key))
            put(b, attrs[i].key.data, attrs[i].key.len);
        else
            put_quoted(b, attrs[i].key, false);
        putch(b, '=');
        text_value(b, &attrs[i].value);
    }
    putch(b, '}');
}

static void text_trace_state(struct buf *b, struct buf *scratch, const otel_trace_state *ts)
{
    size_t n = otel_trace_state_serialize(ts, NULL, 0);
    if (n == 0 || !buf_reserve(scratch, n + 1)) {
        if (n)
            b->failed = true;
        return;
    }
    otel_trace_state_serialize(ts, scratch->data, n + 1);
    put_quoted(b, (otel_str){ scratch->data, n }, false);
}

static void format_text(struct buf *b, struct buf *scratch, const otel_span_data *s)
{
    puts_(b, "span trace_id=");
    put_hex(b, s->context.trace_id, OTEL_TRACE_ID_SIZE);
    puts_(b, " span_id=");
    put_hex(b, s->context.span_id, OTEL_SPAN_ID_SIZE);
    puts_(b, " parent_id=");
    if (all_zero(s->parent_span_id, OTEL_SPAN_ID_SIZE))
        putch(b, '-');
    else
        put_hex(b, s->parent_span_id, OTEL_SPAN_ID_SIZE);
    if (s->parent_is_remote)
        puts_(b, "(remote)");
    puts_(b, " kind=");
    puts_(b, otel_span_kind_str(s->kind));
    puts_(b, " name=");
    put_quoted(b, s->name, false);

    otel_value service;
    if (otel_resource_get(s->resource, OTEL_STR("service.name"), &service) &&
        service.type == OTEL_VALUE_STR) {
        puts_(b, " service=");
        put_quoted(b, service.as.s, false);
    }
    if (s->scope && s->scope->name.len) {
        puts_(b, " scope=");
        put_quoted(b, s->scope->name, false);
    }
    puts_(b, " start=");
    put_time(b, s->start_time_ns);
    puts_(b, " duration_us=");
    put_us(b, s->end_time_ns - s->start_time_ns);

    puts_(b, " status=");
    if (s->status_code == OTEL_SPAN_STATUS_ERROR) {
        puts_(b, "error");
        if (s->status_description.len) {
            putch(b, '(');
            put_quoted(b, s->status_description, false);
            putch(b, ')');
        }
    } else {
        puts_(b, s->status_code == OTEL_SPAN_STATUS_OK ? "ok" : "unset");
    }
    if (s->trace_state && otel_trace_state_count(s->trace_state)) {
        puts_(b, " trace_state=");
        text_trace_state(b, scratch, s->trace_state);
    }

    puts_(b, " attrs=");
    text_attrs(b, s->attrs, s->attr_count);
    if (s->event_count) {
        puts_(b, " events=[");
        for (uint32_t i = 0; i < s->event_count; i++) {
            const otel_event_data *e = &s->events[i];
            if (i)
                puts_(b, ", ");
            put_quoted(b, e->name, false);
            puts_(b, "@+");
            put_us(b, e->time_ns - s->start_time_ns);
            puts_(b, "us");
            if (e->attr_count)
                text_attrs(b, e->attrs, e->attr_count);
        }
        putch(b, ']');
    }
    if (s->link_count) {
        puts_(b, " links=[");
        for (uint32_t i = 0; i < s->link_count; i++) {
            const otel_link_data *l = &s->links[i];
            if (i)
                puts_(b, ", ");
            put_hex(b, l->context.trace_id, OTEL_TRACE_ID_SIZE);
            putch(b, '-');
            put_hex(b, l->context.span_id, OTEL_SPAN_ID_SIZE);
            if (l->attr_count)
                text_attrs(b, l->attrs, l->attr_count);
        }
        putch(b, ']');
    }
    if (s->dropped_attr_count || s->dropped_event_count || s->dropped_link_count)
        putf(b, " dropped(attrs=%" PRIu32 " events=%" PRIu32 " links=%" PRIu32 ")", s->dropped_attr_count,
             s->dropped_event_count, s->dropped_link_count);
    putch(b, '\n');
}

/* ---------------------------------------------------------------------------------------------
 * OTLP/JSON lines: hex ids, lowerCamelCase names, 64-bit integers as strings, enums as numbers.
 * ------------------------------------------------------------------------------------------- */

static void json_key(struct buf *b, const char *key)
{
    putch(b, '"');
    puts_(b, key);
    puts_(b, "\":");
}

static void json_scalar(struct buf *b, otel_value_type type, const void *p)
{
    switch (type) {
    case OTEL_VALUE_BOOL:
        puts_(b, *(const bool *)p ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
        break;
    case OTEL_VALUE_INT:
        putf(b, "{\"intValue\":\"%" PRId64 "\"}", *(const int64_t *)p);
        break;
    case OTEL_VALUE_DOUBLE:
        puts_(b, "{\"doubleValue\":");
        put_double(b, *(const double *)p, true);
        putch(b, '}');
        break;
    case OTEL_VALUE_STR:
        puts_(b, "{\"stringValue\":");
        put_quoted(b, *(const otel_str *)p, true);
        putch(b, '}');
        break;
    default:
        puts_(b, "{}");
        break;
    }
}

static void json_value(struct buf *b, const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_BOOL:
        json_scalar(b, OTEL_VALUE_BOOL, &v->as.b);
        break;
    case OTEL_VALUE_INT:
        json_scalar(b, OTEL_VALUE_INT, &v->as.i);
        break;
    case OTEL_VALUE_DOUBLE:
        json_scalar(b, OTEL_VALUE_DOUBLE, &v->as.d);
        break;
    case OTEL_VALUE_STR:
        json_scalar(b, OTEL_VALUE_STR, &v->as.s);
        break;
    case OTEL_VALUE_BYTES:
        puts_(b, "{\"bytesValue\":\"");
        put_base64(b, (const uint8_t *)v->as.s.data, v->as.s.len);
        puts_(b, "\"}");
        break;
    case OTEL_VALUE_ARRAY: {
        static const size_t sizes[] = { [OTEL_VALUE_BOOL] = sizeof(bool),
                                        [OTEL_VALUE_INT] = sizeof(int64_t),
                                        [OTEL_VALUE_DOUBLE] = sizeof(double),
                                        [OTEL_VALUE_STR] = sizeof(otel_str) };
        size_t size = v->array_type < sizeof(sizes) / sizeof(sizes[0]) ? sizes[v->array_type] : 0;
        puts_(b, "{\"arrayValue\":{\"values\":[");
        for (size_t i = 0; size && i < v->as.array.len; i++) {
            if (i)
                putch(b, ',');
            json_scalar(b, (otel_value_type)v->array_type, (const char *)v->as.array.items + i * size);
        }
        puts_(b, "]}}");
        break;
    }
    case OTEL_VALUE_EMPTY:
    default:
        puts_(b, "{}");
        break;
    }
}

static void json_attrs(struct buf *b, const otel_attr *attrs, size_t n)
{
    json_key(b, "attributes");
    putch(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            putch(b, ',');
        puts_(b, "{\"key\":");
        put_quoted(b, attrs[i].key, true);
        puts_(b, ",\"value\":");
        json_value(b, &attrs[i].value);
        putch(b, '}');
    }
    putch(b, ']');
}

static void json_id(struct buf *b, const char *key, const uint8_t *id, size_t n)
{
    json_key(b, key);
    putch(b, '"');
    if (!all_zero(id, n))
        put_hex(b, id, n);
    putch(b, '"');
}

static void json_trace_state(struct buf *b, struct buf *scratch, const otel_trace_state *ts)
{
    size_t n = otel_trace_state_serialize(ts, NULL, 0);
    if (n == 0)
        return;
    if (!buf_reserve(scratch, n + 1)) {
        b->failed = true;
        return;
    }
    otel_trace_state_serialize(ts, scratch->data, n + 1);
    puts_(b, ",\"traceState\":");
    put_quoted(b, (otel_str){ scratch->data, n }, true);
}

/* OTLP span and link flags: the W3C trace flags in bits 0-7, then bit 8 "is_remote is known"
 * and bit 9 "is remote" (of the parent for a span, of the linked context for a link). */
static uint32_t otlp_flags(uint8_t trace_flags, bool is_remote)
{
    return (uint32_t)trace_flags | 0x100u | (is_remote ? 0x200u : 0u);
}

static void format_json(struct buf *b, struct buf *scratch, const otel_span_data *s)
{
    size_t rn = 0;
    const otel_attr *rattrs = otel_resource_attrs(s->resource, &rn);
    puts_(b, "{\"resource\":{");
    json_attrs(b, rattrs, rn);
    puts_(b, "},\"scopeSpans\":[{\"scope\":{\"name\":");
    const otel_scope_data *scope = s->scope;
    put_quoted(b, scope ? scope->name : (otel_str){ NULL, 0 }, true);
    if (scope && scope->version.len) {
        puts_(b, ",\"version\":");
        put_quoted(b, scope->version, true);
    }
    if (scope && scope->attr_count) {
        putch(b, ',');
        json_attrs(b, scope->attrs, scope->attr_count);
    }
    puts_(b, "},\"spans\":[{");
    json_id(b, "traceId", s->context.trace_id, OTEL_TRACE_ID_SIZE);
    putch(b, ',');
    json_id(b, "spanId", s->context.span_id, OTEL_SPAN_ID_SIZE);
    if (s->trace_state)
        json_trace_state(b, scratch, s->trace_state);
    putch(b, ',');
    json_id(b, "parentSpanId", s->parent_span_id, OTEL_SPAN_ID_SIZE);
    putf(b, ",\"flags\":%" PRIu32, otlp_flags(s->context.trace_flags, s->parent_is_remote));
    puts_(b, ",\"name\":");
    put_quoted(b, s->name, true);
    /* OTLP numbers kinds from 1 (0 is UNSPECIFIED); otel_span_kind starts at INTERNAL = 0. */
    putf(b, ",\"kind\":%d", (int)s->kind + 1);
    putf(b, ",\"startTimeUnixNano\":\"%" PRId64 "\",\"endTimeUnixNano\":\"%" PRId64 "\",", s->start_time_ns,
         s->end_time_ns);
    json_attrs(b, s->attrs, s->attr_count);
    putf(b, ",\"droppedAttributesCount\":%" PRIu32 ",\"events\":[", s->dropped_attr_count);
    for (uint32_t i = 0; i < s->event_count; i++) {
        const otel_event_data *e = &s->events[i];
        if (i)
            putch(b, ',');
        putf(b, "{\"timeUnixNano\":\"%" PRId64 "\",\"name\":", e->time_ns);
        put_quoted(b, e->name, true);
        putch(b, ',');
        json_attrs(b, e->attrs, e->attr_count);
        putf(b, ",\"droppedAttributesCount\":%" PRIu32 "}", e->dropped_attr_count);
    }
    putf(b, "],\"droppedEventsCount\":%" PRIu32 ",\"links\":[", s->dropped_event_count);
    for (uint32_t i = 0; i < s->link_count; i++) {
        const otel_link_data *l = &s->links[i];
        if (i)
            putch(b, ',');
        putch(b, '{');
        json_id(b, "traceId", l->context.trace_id, OTEL_TRACE_ID_SIZE);
        putch(b, ',');
        json_id(b, "spanId", l->context.span_id, OTEL_SPAN_ID_SIZE);
        if (l->trace_state)
            json_trace_state(b, scratch, l->trace_state);
        putch(b, ',');
        json_attrs(b, l->attrs, l->attr_count);
        putf(b, ",\"droppedAttributesCount\":%" PRIu32 ",\"flags\":%" PRIu32 "}", l->dropped_attr_count,
             otlp_flags(l->context.trace_flags, l->context.is_remote));
    }
    putf(b, "],\"droppedLinksCount\":%" PRIu32 ",\"status\":{", s->dropped_link_count);
    if (s->status_code == OTEL_SPAN_STATUS_ERROR && s->status_description.len) {
        puts_(b, "\"message\":");
        put_quoted(b, s->status_description, true);
        putch(b, ',');
    }
    putf(b, "\"code\":%d}}]", (int)s->status_code);
    if (scope && scope->schema_url.len) {
        puts_(b, ",\"schemaUrl\":");
        put_quoted(b, scope->schema_url, true);
    }
    puts_(b, "}]");
    otel_str rschema = otel_resource_schema_url(s->resource);
    if (rschema.len) {
        puts_(b, ",\"schemaUrl\":");
        put_quoted(b, rschema, true);
    }
    puts_(b, "}\n");
}

/* ---------------------------------------------------------------------------------------------
 * The exporter
 * ------------------------------------------------------------------------------------------- */

struct console {
    pthread_mutex_t lock;
    /* Guarded by |lock|: */
    FILE *stream;
    struct buf out;
    struct buf scratch;
    bool shut_down;
    /* Set at creation: */
    bool owns_stream;
    otel_console_format format;
};

static otel_export_result console_export(void *user_data, const otel_span_data *const *spans, size_t count,
                                         int64_t timeout_ns)
{
    (void)timeout_ns;
    struct console *c = user_data;
    otel_export_result res = OTEL_EXPORT_SUCCESS;
    int write_errno = 0;

    pthread_mutex_lock(&c->lock);
    if (c->shut_down) {
        pthread_mutex_unlock(&c->lock);
        return OTEL_EXPORT_FAILURE;
    }
    /* Numbers must print with '.' whatever LC_NUMERIC the program chose: switch this thread to
     * the C locale for the formatting. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old_locale = c_locale ? uselocale(c_locale) : (locale_t)0;
    c->out.len = 0;
    c->out.failed = false;
    c->scratch.failed = false;
    for (size_t i = 0; i < count && !c->out.failed; i++) {
        if (!spans[i])
            continue;
        if (c->format == OTEL_CONSOLE_JSON)
            format_json(&c->out, &c->scratch, spans[i]);
        else
            format_text(&c->out, &c->scratch, spans[i]);
    }
    if (c_locale) {
        uselocale(old_locale);
        freelocale(c_locale);
    }
    bool nomem = c->out.failed;
    if (!nomem && c->out.len) {
        errno = 0;
        size_t n = fwrite(c->out.data, 1, c->out.len, c->stream);
        if (fflush(c->stream) != 0 || n != c->out.len) {
            write_errno = errno ? errno : EIO;
            clearerr(c->stream);
            res = OTEL_EXPORT_FAILURE;
        }
    }
    /* A huge batch should not pin its buffer forever. */
    if (c->out.cap > (size_t)1 << 20) {
        otel__free(c->out.data);
        c->out = (struct buf){ 0 };
    }
    pthread_mutex_unlock(&c->lock);

    if (nomem) {
        OTEL__LOG(OTEL_LOG_ERROR, "console exporter: out of memory; %zu spans not printed", count);
        return OTEL_EXPORT_FAILURE;
    }
    if (write_errno) {
        char eb[128];
        OTEL__LOG(OTEL_LOG_ERROR, "console exporter: write failed (%s); %zu spans lost",
                  strerror_r(write_errno, eb, sizeof(eb)), count);
    }
    return res;
}

static otel_status console_force_flush(void *user_data, int64_t timeout_ns)
{
    (void)timeout_ns;
    struct console *c = user_data;
    pthread_mutex_lock(&c->lock);
    int rc = c->shut_down ? 0 : fflush(c->stream);
    pthread_mutex_unlock(&c->lock);
    return rc == 0 ? OTEL_OK : OTEL_ERR_EXPORT;
}

static otel_status console_shutdown(void *user_data, int64_t timeout_ns)
{
    (void)timeout_ns;
    struct console *c = user_data;
    pthread_mutex_lock(&c->lock);
    int rc = c->shut_down ? 0 : fflush(c->stream);
    c->shut_down = true;
    pthread_mutex_unlock(&c->lock);
    return rc == 0 ? OTEL_OK : OTEL_ERR_EXPORT;
}

static void console_destroy(void *user_data)
{
    struct console *c = user_data;
    if (!c)
        return;
    if (c->owns_stream)
        fclose(c->stream);
    else if (!c->shut_down)
        fflush(c->stream);
    otel__free(c->out.data);
    otel__free(c->scratch.data);
    pthread_mutex_destroy(&c->lock);
    otel__free(c);
}

otel_status otel_console_exporter_create(const otel_console_options *opts, otel_span_exporter *out)
{
    otel_console_options o = { 0 };
    if (opts)
        o = *opts;
    if (!out || (o.stream && o.path) || (o.format != OTEL_CONSOLE_TEXT && o.format != OTEL_CONSOLE_JSON))
        return OTEL_ERR_INVALID_ARG;

    struct console *c = otel__calloc(1, sizeof(*c));
    if (!c)
        return OTEL_ERR_NOMEM;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        otel__free(c);
        return OTEL_ERR_NOMEM;
    }
    c->format = o.format;
    if (o.path) {
        c->stream = fopen(o.path, "ae"); /* append, close-on-exec */
        if (!c->stream) {
            char eb[128];
            otel__log(OTEL_LOG_ERROR, "console exporter: cannot open %s: %s", o.path,
                      strerror_r(errno, eb, sizeof(eb)));
            pthread_mutex_destroy(&c->lock);
            otel__free(c);
            return OTEL_ERR_EXPORT;
        }
        /* Unbuffered: each export's fwrite becomes one write(2) of whole lines, which O_APPEND
         * keeps in one piece even when several processes share the file. */
        setvbuf(c->stream, NULL, _IONBF, 0);
        c->owns_stream = true;
    } else {
        c->stream = o.stream ? o.stream : stdout;
    }
    *out = (otel_span_exporter){
        .export_spans = console_export,
        .force_flush = console_force_flush,
        .shutdown = console_shutdown,
        .destroy = console_destroy,
        .user_data = c,
    };
    return OTEL_OK;
}
