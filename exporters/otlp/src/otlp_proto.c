/* The OTLP protobuf encoder: writes an ExportTraceServiceRequest straight from otel_span_data
 * records, without building an intermediate message tree. The writer fills its buffer backwards
 * (see struct otel__pbw), so every message is written last field first and its length prefix
 * comes for free; the result is the canonical encoding, fields in ascending order. Strings that
 * are not valid UTF-8 are written with U+FFFD in place of each offending byte, because a
 * protobuf string must be UTF-8 and receivers reject the whole request otherwise. */
#include <string.h>

#include "mem.h"
#include "otlp_encode.h"
#include "otel/sdk/resource.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Wire types. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define TAG(field, wt) ((uint32_t)(field) << 3 | (uint32_t)(wt))

/* ---------------------------------------------------------------------------------------------
 * The backwards writer. Each put_* checks for room once, then writes without further checks.
 * ------------------------------------------------------------------------------------------- */

static inline size_t pbw_used(const struct otel__pbw *w)
{
    return (size_t)(w->end - w->pos);
}

static bool pbw_grow(struct otel__pbw *w, size_t n)
{
    if (w->failed)
        return false;
    size_t used = pbw_used(w);
    size_t limit = w->max_bytes ? w->max_bytes : SIZE_MAX / 4;
    if (n > limit || used > limit - n)
        goto out_fail;
    size_t cap = w->cap ? w->cap : 16384;
    while (cap - used < n)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    uint8_t *nb = otel__malloc(cap);
    if (!nb)
        goto out_fail;
    if (used)
        memcpy(nb + cap - used, w->pos, used);
    otel__free(w->base);
    w->base = nb;
    w->cap = cap;
    w->end = nb + cap;
    w->pos = w->end - used;
    return true;
out_fail:
    w->failed = true;
    return false;
}

/* Room for |n| more bytes in front of the data. After a failure, writes that still fit go on
 * (into memory that is ours) and the result is thrown away at the end. */
static inline bool pbw_room(struct otel__pbw *w, size_t n)
{
    return LIKELY((size_t)(w->pos - w->base) >= n) || pbw_grow(w, n);
}

/* Room for a tag and a length prefix. */
#define PREFIX_MAX 12

static inline void put_raw(struct otel__pbw *w, const void *p, size_t n)
{
    if (n && pbw_room(w, n)) {
        w->pos -= n;
        memcpy(w->pos, p, n);
    }
}

static inline size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Unchecked: writes |v| as a varint just before |pos| and returns the new start. */
static inline uint8_t *uvarint(uint8_t *pos, uint64_t v)
{
    if (LIKELY(v < 0x80)) {
        *--pos = (uint8_t)v;
        return pos;
    }
    if (v < 0x4000) {
        pos -= 2;
        pos[0] = (uint8_t)(v | 0x80);
        pos[1] = (uint8_t)(v >> 7);
        return pos;
    }
    size_t n = varint_size(v);
    pos -= n;
    uint8_t *p = pos;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p = (uint8_t)v;
    return pos;
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 4);
#else
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

/* Every field number but 16 (Span.flags) gives a one-byte tag. */
static inline void put_len_prefix(struct otel__pbw *w, uint32_t field, size_t len)
{
    if (pbw_room(w, PREFIX_MAX)) {
        uint8_t *p = uvarint(w->pos, len);
        *--p = (uint8_t)TAG(field, WT_LEN);
        w->pos = p;
    }
}

static inline void put_fixed64_field(struct otel__pbw *w, uint32_t field, uint64_t v)
{
    if (pbw_room(w, 9)) {
        w->pos -= 9;
        w->pos[0] = (uint8_t)TAG(field, WT_I64);
        store_le64(w->pos + 1, v);
    }
}

static inline void put_fixed32_field(struct otel__pbw *w, uint32_t field, uint32_t v)
{
    if (pbw_room(w, 5)) {
        w->pos -= 5;
        w->pos[0] = (uint8_t)TAG(field, WT_I32);
        store_le32(w->pos + 1, v);
    }
}

static inline void put_uint_field(struct otel__pbw *w, uint32_t field, uint64_t v)
{
    if (pbw_room(w, PREFIX_MAX)) {
        uint8_t *p = uvarint(w->pos, v);
        *--p = (uint8_t)TAG(field, WT_VARINT);
        w->pos = p;
    }
}

/* proto3 leaves zero-valued scalars out. */
static inline void put_uint_field_nz(struct otel__pbw *w, uint32_t field, uint64_t v)
{
    if (v)
        put_uint_field(w, field, v);
}

static inline void put_bytes_field(struct otel__pbw *w, uint32_t field, const void *p, size_t n)
{
    if (pbw_room(w, n + PREFIX_MAX)) {
        w->pos -= n;
        if (n)
            memcpy(w->pos, p, n);
        uint8_t *q = uvarint(w->pos, n);
        *--q = (uint8_t)TAG(field, WT_LEN);
        w->pos = q;
    }
}

/* An id: fixed size, so the copy is inlined. */
static inline void put_id_field(struct otel__pbw *w, uint32_t field, const uint8_t *id, size_t n)
{
    if (pbw_room(w, 16 + 2)) {
        w->pos -= n + 2;
        w->pos[0] = (uint8_t)TAG(field, WT_LEN);
        w->pos[1] = (uint8_t)n;
        if (n == 16)
            memcpy(w->pos + 2, id, 16);
        else
            memcpy(w->pos + 2, id, 8);
    }
}

static const unsigned char replacement[3] = { 0xef, 0xbf, 0xbd }; /* U+FFFD */

/* Writes |s| with every byte that does not start a valid sequence replaced by U+FFFD. */
static void put_utf8_repaired(struct otel__pbw *w, otel_str s)
{
    const unsigned char *p = (const unsigned char *)s.data;
    size_t out = 0;
    for (size_t i = 0; i < s.len;) {
        size_t l = otel__utf8_seq_len(p + i, s.len - i);
        out += l ? l : 3;
        i += l ? l : 1;
    }
    if (!pbw_room(w, out))
        return;
    w->pos -= out;
    unsigned char *o = w->pos;
    for (size_t i = 0; i < s.len;) {
        size_t l = otel__utf8_seq_len(p + i, s.len - i);
        if (l) {
            memcpy(o, p + i, l);
            o += l;
            i += l;
        } else {
            memcpy(o, replacement, 3);
            o += 3;
            i++;
        }
    }
}

/* A string field, written even when empty (for oneof members and KeyValue keys). Copying and
 * the ASCII check are one pass (most strings are ASCII); only a string with a high bit set gets
 * the full UTF-8 validation, and only an invalid one is rewritten. */
static inline void put_string_field(struct otel__pbw *w, uint32_t field, otel_str s)
{
    size_t n = s.len;
    if (!pbw_room(w, n + PREFIX_MAX))
        return;
    uint8_t *dst = w->pos - n;
    const uint8_t *src = (const uint8_t *)s.data;
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        acc |= v;
        memcpy(dst + i, &v, 8);
    }
    if (n & 4) {
        uint32_t v;
        memcpy(&v, src + i, 4);
        acc |= v;
        memcpy(dst + i, &v, 4);
        i += 4;
    }
    if (n & 2) {
        uint16_t v;
        memcpy(&v, src + i, 2);
        acc |= v;
        memcpy(dst + i, &v, 2);
        i += 2;
    }
    if (n & 1) {
        acc |= src[i];
        dst[i] = src[i];
    }
    if (UNLIKELY(acc & 0x8080808080808080u) && !otel__utf8_valid(src, n)) {
        size_t mark = pbw_used(w);
        put_utf8_repaired(w, s);
        put_len_prefix(w, field, pbw_used(w) - mark);
        return;
    }
    uint8_t *p = uvarint(dst, n);
    *--p = (uint8_t)TAG(field, WT_LEN);
    w->pos = p;
}

static inline void put_string_field_ne(struct otel__pbw *w, uint32_t field, otel_str s)
{
    if (s.len)
        put_string_field(w, field, s);
}

/* ---------------------------------------------------------------------------------------------
 * Attributes: KeyValue { key = 1; AnyValue value = 2 }
 * ------------------------------------------------------------------------------------------- */

/* The oneof member of an AnyValue for one scalar; the caller adds the AnyValue's prefix. */
static void put_any_scalar(struct otel__pbw *w, otel_value_type type, const void *p)
{
    switch (type) {
    case OTEL_VALUE_STR:
        put_string_field(w, 1, *(const otel_str *)p);
        break;
    case OTEL_VALUE_BOOL:
        put_uint_field(w, 2, *(const bool *)p ? 1 : 0);
        break;
    case OTEL_VALUE_INT:
        put_uint_field(w, 3, (uint64_t) * (const int64_t *)p);
        break;
    case OTEL_VALUE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, p, 8);
        put_fixed64_field(w, 4, bits);
        break;
    }
    default:
        break; /* an empty AnyValue */
    }
}

/* The content of an AnyValue holding |v|. */
static void put_any_value(struct otel__pbw *w, const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_BOOL:
        put_uint_field(w, 2, v->as.b ? 1 : 0);
        break;
    case OTEL_VALUE_INT:
        put_uint_field(w, 3, (uint64_t)v->as.i);
        break;
    case OTEL_VALUE_DOUBLE:
        put_any_scalar(w, OTEL_VALUE_DOUBLE, &v->as.d);
        break;
    case OTEL_VALUE_STR:
        put_string_field(w, 1, v->as.s);
        break;
    case OTEL_VALUE_BYTES:
        put_bytes_field(w, 7, v->as.s.data, v->as.s.len);
        break;
    case OTEL_VALUE_ARRAY: {
        /* ArrayValue { repeated AnyValue values = 1 } */
        size_t mark = pbw_used(w);
        size_t es = otel_value_array_item_size((otel_value_type)v->array_type);
        if (es && v->as.array.items) {
            const char *items = v->as.array.items;
            for (size_t i = v->as.array.len; i-- > 0;) {
                size_t m = pbw_used(w);
                put_any_scalar(w, (otel_value_type)v->array_type, items + i * es);
                put_len_prefix(w, 1, pbw_used(w) - m);
            }
        }
        put_len_prefix(w, 5, pbw_used(w) - mark);
        break;
    }
    case OTEL_VALUE_EMPTY:
    default:
        break;
    }
}

static void put_attrs(struct otel__pbw *w, uint32_t field, const otel_attr *attrs, size_t n)
{
    if (!attrs)
        return;
    for (size_t i = n; i-- > 0;) {
        const otel_attr *a = &attrs[i];
        size_t kv = pbw_used(w);
        size_t val = kv;
        put_any_value(w, &a->value);
        put_len_prefix(w, 2, pbw_used(w) - val);
        put_string_field(w, 1, a->key);
        put_len_prefix(w, field, pbw_used(w) - kv);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Spans
 * ------------------------------------------------------------------------------------------- */

/* The W3C form "k1=v1,k2=v2", written backwards member by member (keys and values are ASCII by
 * the W3C grammar, so no UTF-8 check is needed). */
static void put_trace_state_field(struct otel__pbw *w, uint32_t field, const otel_trace_state *ts)
{
    size_t n = otel_trace_state_count(ts);
    if (n == 0)
        return;
    size_t mark = pbw_used(w);
    for (size_t i = n; i-- > 0;) {
        otel_str k, v;
        if (!otel_trace_state_entry(ts, i, &k, &v))
            continue;
        put_raw(w, v.data, v.len);
        put_raw(w, "=", 1);
        put_raw(w, k.data, k.len);
        if (i)
            put_raw(w, ",", 1);
    }
    put_len_prefix(w, field, pbw_used(w) - mark);
}

static inline bool span_id_is_zero(const uint8_t id[OTEL_SPAN_ID_SIZE])
{
    uint64_t v;
    memcpy(&v, id, sizeof(v));
    return v == 0;
}

static void put_event(struct otel__pbw *w, const otel_event_data *e)
{
    size_t mark = pbw_used(w);
    put_uint_field_nz(w, 4, e->dropped_attr_count);
    put_attrs(w, 3, e->attrs, e->attr_count);
    put_string_field_ne(w, 2, e->name);
    put_fixed64_field(w, 1, (uint64_t)e->time_ns);
    put_len_prefix(w, 11, pbw_used(w) - mark);
}

static void put_link(struct otel__pbw *w, const otel_link_data *l)
{
    size_t mark = pbw_used(w);
    put_fixed32_field(w, 6, otel__otlp_flags(l->context.trace_flags, l->context.is_remote));
    put_uint_field_nz(w, 5, l->dropped_attr_count);
    put_attrs(w, 4, l->attrs, l->attr_count);
    if (l->trace_state)
        put_trace_state_field(w, 3, l->trace_state);
    put_id_field(w, 2, l->context.span_id, OTEL_SPAN_ID_SIZE);
    put_id_field(w, 1, l->context.trace_id, OTEL_TRACE_ID_SIZE);
    put_len_prefix(w, 13, pbw_used(w) - mark);
}

static void put_span(struct otel__pbw *w, const otel_span_data *s)
{
    size_t mark = pbw_used(w);
    /* flags = 16: a two-byte tag. */
    uint32_t flags = otel__otlp_flags(s->context.trace_flags, s->parent_is_remote);
    if (pbw_room(w, 6)) {
        w->pos -= 6;
        w->pos[0] = (uint8_t)TAG(16, WT_I32) | 0x80;
        w->pos[1] = 1;
        store_le32(w->pos + 2, flags);
    }
    /* Status { message = 2; code = 3 }, left out when it says nothing. */
    if (s->status_code != OTEL_SPAN_STATUS_UNSET || s->status_description.len) {
        size_t st = pbw_used(w);
        put_uint_field_nz(w, 3, (uint64_t)s->status_code);
        put_string_field_ne(w, 2, s->status_description);
        put_len_prefix(w, 15, pbw_used(w) - st);
    }
    put_uint_field_nz(w, 14, s->dropped_link_count);
    if (s->links)
        for (uint32_t i = s->link_count; i-- > 0;)
            put_link(w, &s->links[i]);
    put_uint_field_nz(w, 12, s->dropped_event_count);
    if (s->events)
        for (uint32_t i = s->event_count; i-- > 0;)
            put_event(w, &s->events[i]);
    put_uint_field_nz(w, 10, s->dropped_attr_count);
    put_attrs(w, 9, s->attrs, s->attr_count);
    put_fixed64_field(w, 8, (uint64_t)s->end_time_ns);
    put_fixed64_field(w, 7, (uint64_t)s->start_time_ns);
    /* OTLP numbers kinds from 1 (0 is UNSPECIFIED); otel_span_kind starts at INTERNAL = 0. */
    put_uint_field(w, 6, (uint64_t)s->kind + 1);
    put_string_field_ne(w, 5, s->name);
    if (!span_id_is_zero(s->parent_span_id))
        put_id_field(w, 4, s->parent_span_id, OTEL_SPAN_ID_SIZE);
    if (s->trace_state)
        put_trace_state_field(w, 3, s->trace_state);
    put_id_field(w, 2, s->context.span_id, OTEL_SPAN_ID_SIZE);
    put_id_field(w, 1, s->context.trace_id, OTEL_TRACE_ID_SIZE);
    put_len_prefix(w, 2, pbw_used(w) - mark);
}

/* ScopeSpans { scope = 1; repeated Span spans = 2; schema_url = 3 } */
static void put_scope_spans(struct otel__pbw *w, const struct otel__otlp_encoder *e,
                            const struct otel__otlp_group *g, const otel_span_data *const *spans)
{
    size_t mark = pbw_used(w);
    const otel_scope_data *scope = g->scope;
    if (scope)
        put_string_field_ne(w, 3, scope->schema_url);
    for (uint32_t i = g->count; i-- > 0;)
        put_span(w, spans[e->order[g->start + i]]);
    size_t sc = pbw_used(w);
    if (scope) {
        put_attrs(w, 3, scope->attrs, scope->attr_count);
        put_string_field_ne(w, 2, scope->version);
        put_string_field_ne(w, 1, scope->name);
    }
    put_len_prefix(w, 1, pbw_used(w) - sc);
    put_len_prefix(w, 2, pbw_used(w) - mark);
}

/* ResourceSpans { resource = 1; repeated ScopeSpans scope_spans = 2; schema_url = 3 } for the
 * groups group_order[first, end). */
static void put_resource_spans(struct otel__pbw *w, const struct otel__otlp_encoder *e, size_t first,
                               size_t end, const otel_span_data *const *spans)
{
    size_t mark = pbw_used(w);
    const otel_resource *res = e->groups[e->group_order[first]].resource;
    put_string_field_ne(w, 3, otel_resource_schema_url(res));
    for (size_t i = end; i-- > first;)
        put_scope_spans(w, e, &e->groups[e->group_order[i]], spans);
    size_t rm = pbw_used(w);
    size_t n = 0;
    const otel_attr *attrs = otel_resource_attrs(res, &n);
    put_attrs(w, 1, attrs, n);
    put_len_prefix(w, 1, pbw_used(w) - rm);
    put_len_prefix(w, 1, pbw_used(w) - mark);
}

otel_status otel__otlp_encode_proto(struct otel__otlp_encoder *e, const otel_span_data *const *spans,
                                    size_t count, const uint8_t **data, size_t *len)
{
    struct otel__pbw *w = &e->pb;
    w->end = w->base + w->cap;
    w->pos = w->end;
    w->failed = false;
    otel_status st = otel__otlp_group_spans(e, spans, count);
    if (st != OTEL_OK)
        return st;
    /* Resources last to first: a resource's groups are contiguous in group_order. */
    size_t end = e->group_count;
    while (end > 0) {
        size_t first = end - 1;
        uint32_t rf = e->groups[e->group_order[first]].resource_first;
        while (first > 0 && e->groups[e->group_order[first - 1]].resource_first == rf)
            first--;
        put_resource_spans(w, e, first, end, spans);
        end = first;
    }
    if (w->failed)
        return OTEL_ERR_NOMEM;
    *data = w->pos;
    *len = pbw_used(w);
    return OTEL_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Grouping
 * ------------------------------------------------------------------------------------------- */

static bool value_eq(const otel_value *a, const otel_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case OTEL_VALUE_BOOL:
        return a->as.b == b->as.b;
    case OTEL_VALUE_INT:
        return a->as.i == b->as.i;
    case OTEL_VALUE_DOUBLE:
        return memcmp(&a->as.d, &b->as.d, sizeof(double)) == 0;
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES:
        return otel_str_eq(a->as.s, b->as.s);
    case OTEL_VALUE_ARRAY: {
        if (a->array_type != b->array_type || a->as.array.len != b->as.array.len)
            return false;
        size_t n = a->as.array.len, es = otel_value_array_item_size((otel_value_type)a->array_type);
        if (n == 0 || es == 0)
            return true;
        if (!a->as.array.items || !b->as.array.items)
            return a->as.array.items == b->as.array.items;
        if (a->array_type != OTEL_VALUE_STR)
            return memcmp(a->as.array.items, b->as.array.items, n * es) == 0;
        const otel_str *x = a->as.array.items, *y = b->as.array.items;
        for (size_t i = 0; i < n; i++)
            if (!otel_str_eq(x[i], y[i]))
                return false;
        return true;
    }
    default:
        return true;
    }
}

/* Scopes are the same when they are the same object or describe the same library (copies made
 * by otel_span_data_clone() are separate objects). NULL is the empty scope. */
static bool scope_same(const otel_scope_data *a, const otel_scope_data *b)
{
    if (a == b)
        return true;
    static const otel_scope_data empty = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 }, NULL, 0 };
    if (!a)
        a = &empty;
    if (!b)
        b = &empty;
    if (!otel_str_eq(a->name, b->name) || !otel_str_eq(a->version, b->version) ||
        !otel_str_eq(a->schema_url, b->schema_url) || a->attr_count != b->attr_count)
        return false;
    for (size_t i = 0; i < a->attr_count; i++)
        if (!otel_str_eq(a->attrs[i].key, b->attrs[i].key) ||
            !value_eq(&a->attrs[i].value, &b->attrs[i].value))
            return false;
    return true;
}

static bool grow_scratch(struct otel__otlp_encoder *e, size_t count)
{
    if (count <= e->span_cap)
        return true;
    if (count > UINT32_MAX)
        return false;
    size_t cap = e->span_cap ? e->span_cap : 64;
    while (cap < count)
        cap *= 2;
    uint32_t *group_of = otel__malloc(cap * sizeof(*group_of));
    uint32_t *order = otel__malloc(cap * sizeof(*order));
    uint32_t *group_order = otel__malloc(cap * sizeof(*group_order));
    struct otel__otlp_group *groups = otel__malloc(cap * sizeof(*groups));
    if (!group_of || !order || !group_order || !groups) {
        otel__free(group_of);
        otel__free(order);
        otel__free(group_order);
        otel__free(groups);
        return false;
    }
    otel__free(e->group_of);
    otel__free(e->order);
    otel__free(e->group_order);
    otel__free(e->groups);
    e->group_of = group_of;
    e->order = order;
    e->group_order = group_order;
    e->groups = groups;
    e->span_cap = cap;
    return true;
}

otel_status otel__otlp_group_spans(struct otel__otlp_encoder *e, const otel_span_data *const *spans,
                                   size_t count)
{
    e->group_count = 0;
    if (count == 0)
        return OTEL_OK;
    if (!grow_scratch(e, count))
        return OTEL_ERR_NOMEM;
    struct otel__otlp_group *groups = e->groups;
    size_t ng = 0, last = 0;
    for (size_t i = 0; i < count; i++) {
        const otel_span_data *s = spans[i];
        size_t g;
        /* Batches are usually one or a few groups in long runs: try the last one first. */
        if (ng && groups[last].resource == s->resource && scope_same(groups[last].scope, s->scope)) {
            g = last;
        } else {
            for (g = 0; g < ng; g++)
                if (groups[g].resource == s->resource && scope_same(groups[g].scope, s->scope))
                    break;
            if (g == ng) {
                uint32_t rf = (uint32_t)ng;
                for (size_t k = 0; k < ng; k++)
                    if (groups[k].resource == s->resource) {
                        rf = groups[k].resource_first;
                        break;
                    }
                groups[ng] = (struct otel__otlp_group){ s->resource, s->scope, 0, 0, rf };
                ng++;
            }
            last = g;
        }
        groups[g].count++;
        e->group_of[i] = (uint32_t)g;
    }
    /* Order the groups by their resource's first appearance, keeping creation order otherwise
     * (insertion sort: there are few groups, and they are nearly sorted). */
    for (size_t i = 0; i < ng; i++) {
        uint32_t gi = (uint32_t)i;
        size_t j = i;
        while (j > 0 && groups[e->group_order[j - 1]].resource_first > groups[gi].resource_first) {
            e->group_order[j] = e->group_order[j - 1];
            j--;
        }
        e->group_order[j] = gi;
    }
    uint32_t start = 0;
    for (size_t i = 0; i < ng; i++) {
        struct otel__otlp_group *g = &groups[e->group_order[i]];
        g->start = start;
        start += g->count;
        g->count = 0; /* refilled below, as a cursor */
    }
    for (size_t i = 0; i < count; i++) {
        struct otel__otlp_group *g = &groups[e->group_of[i]];
        e->order[g->start + g->count++] = (uint32_t)i;
    }
    e->group_count = ng;
    return OTEL_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Encoder lifetime
 * ------------------------------------------------------------------------------------------- */

void otel__otlp_encoder_init(struct otel__otlp_encoder *e, size_t max_bytes)
{
    memset(e, 0, sizeof(*e));
    e->pb.max_bytes = max_bytes ? max_bytes : (size_t)64 << 20;
    e->json.max_bytes = e->pb.max_bytes;
    e->c_locale = (locale_t)0;
}

void otel__otlp_encoder_cleanup(struct otel__otlp_encoder *e)
{
    otel__free(e->pb.base);
    otel__buf_free(&e->json);
    otel__free(e->group_of);
    otel__free(e->order);
    otel__free(e->group_order);
    otel__free(e->groups);
    if (e->c_locale != (locale_t)0)
        freelocale(e->c_locale);
    memset(e, 0, sizeof(*e));
}

/* ---------------------------------------------------------------------------------------------
 * Responses: ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1 }
 * ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2 }
 * ------------------------------------------------------------------------------------------- */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Skips a field of wire type |wt|; false when it does not fit. */
static bool skip_field(const uint8_t **p, const uint8_t *end, uint32_t wt)
{
    uint64_t v;
    switch (wt) {
    case WT_VARINT:
        return read_varint(p, end, &v);
    case WT_I64:
        if (end - *p < 8)
            return false;
        *p += 8;
        return true;
    case WT_I32:
        if (end - *p < 4)
            return false;
        *p += 4;
        return true;
    case WT_LEN:
        if (!read_varint(p, end, &v) || v > (uint64_t)(end - *p))
            return false;
        *p += v;
        return true;
    default:
        return false;
    }
}

bool otel__otlp_parse_response(const uint8_t *body, size_t len, int64_t *rejected, otel_str *message)
{
    *rejected = 0;
    *message = (otel_str){ NULL, 0 };
    const uint8_t *p = body, *end = body + len;
    while (p < end) {
        uint64_t tag;
        if (!read_varint(&p, end, &tag))
            return false;
        if (tag != TAG(1, WT_LEN)) {
            if (!skip_field(&p, end, (uint32_t)(tag & 7)))
                return false;
            continue;
        }
        uint64_t n;
        if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
            return false;
        const uint8_t *q = p, *qend = p + n;
        p = qend;
        while (q < qend) {
            uint64_t t, v;
            if (!read_varint(&q, qend, &t))
                return false;
            if (t == TAG(1, WT_VARINT)) {
                if (!read_varint(&q, qend, &v))
                    return false;
                *rejected = (int64_t)v;
            } else if (t == TAG(2, WT_LEN)) {
                if (!read_varint(&q, qend, &v) || v > (uint64_t)(qend - q))
                    return false;
                *message = (otel_str){ (const char *)q, (size_t)v };
                q += v;
            } else if (!skip_field(&q, qend, (uint32_t)(t & 7))) {
                return false;
            }
        }
    }
    return true;
}
