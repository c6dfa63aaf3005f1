/* The W3C tracestate list: immutable and reference-counted, stored as one allocation (header,
 * member table, then the key and value bytes) so that copying a trace state into a span or a
 * context is one atomic increment. Parsing follows W3C Trace Context level 2: any invalid member
 * or more than 32 members invalidates the whole header; a repeated key keeps its first member. */
#include <stdatomic.h>
#include <string.h>

#include "mem.h"
#include "otel/trace.h"

struct ts_member {
    uint32_t key_off;
    uint32_t key_len;
    uint32_t value_off;
    uint32_t value_len;
};

struct otel_trace_state {
    _Atomic uint32_t refs;
    uint32_t count;
    struct ts_member members[]; /* |count| of them, then the bytes they point into */
};

static inline const char *ts_bytes(const otel_trace_state *ts)
{
    return (const char *)&ts->members[ts->count];
}

static inline otel_str ts_key(const otel_trace_state *ts, size_t i)
{
    return (otel_str){ ts_bytes(ts) + ts->members[i].key_off, ts->members[i].key_len };
}

static inline otel_str ts_value(const otel_trace_state *ts, size_t i)
{
    return (otel_str){ ts_bytes(ts) + ts->members[i].value_off, ts->members[i].value_len };
}

/* ---------------------------------------------------------------------------------------------
 * Grammar
 * ------------------------------------------------------------------------------------------- */

static inline bool is_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_key_char(char c)
{
    return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

bool otel_trace_state_key_is_valid(otel_str key)
{
    /* W3C Trace Context level 2 (which replaced level 1's separate multi-tenant form):
     * key = ( lcalpha / DIGIT ) 0*255( keychar )
     * keychar = lcalpha / DIGIT / "_" / "-"/ "*" / "/" / "@" */
    if (key.len == 0 || key.len > OTEL_TRACE_STATE_MAX_KEY_LEN || !key.data)
        return false;
    if (!is_lcalpha(key.data[0]) && !is_digit(key.data[0]))
        return false;
    for (size_t i = 1; i < key.len; i++)
        if (!is_key_char(key.data[i]) && key.data[i] != '@')
            return false;
    return true;
}

bool otel_trace_state_value_is_valid(otel_str value)
{
    /* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
     * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
    if (value.len == 0 || value.len > OTEL_TRACE_STATE_MAX_VALUE_LEN || !value.data)
        return false;
    for (size_t i = 0; i < value.len; i++) {
        unsigned char c = (unsigned char)value.data[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return value.data[value.len - 1] != ' ';
}

/* ---------------------------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------------------------- */

/* Allocates a trace state for |count| members whose keys and values are |pairs| (2*count
 * slices, already validated). Returns NULL when out of memory. */
static otel_trace_state *ts_build(const otel_str *pairs, size_t count)
{
    size_t bytes = 0;
    for (size_t i = 0; i < 2 * count; i++)
        bytes += pairs[i].len;
    otel_trace_state *ts =
        otel__malloc(sizeof(*ts) + count * sizeof(ts->members[0]) + bytes);
    if (!ts)
        return NULL;
    atomic_init(&ts->refs, 1);
    ts->count = (uint32_t)count;
    char *dst = (char *)&ts->members[count];
    uint32_t off = 0;
    for (size_t i = 0; i < count; i++) {
        otel_str k = pairs[2 * i];
        otel_str v = pairs[2 * i + 1];
        ts->members[i].key_off = off;
        ts->members[i].key_len = (uint32_t)k.len;
        memcpy(dst + off, k.data, k.len);
        off += (uint32_t)k.len;
        ts->members[i].value_off = off;
        ts->members[i].value_len = (uint32_t)v.len;
        memcpy(dst + off, v.data, v.len);
        off += (uint32_t)v.len;
    }
    return ts;
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

otel_status otel_trace_state_parse(otel_str header, otel_trace_state **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    *out = NULL;
    if (header.len == 0)
        return OTEL_OK;
    if (!header.data)
        return OTEL_ERR_INVALID_ARG;

    otel_str pairs[2 * OTEL_TRACE_STATE_MAX_MEMBERS];
    size_t count = 0;
    size_t pos = 0;
    while (pos <= header.len) {
        const char *start = header.data + pos;
        const char *comma = pos < header.len ? memchr(start, ',', header.len - pos) : NULL;
        size_t len = comma ? (size_t)(comma - start) : header.len - pos;
        pos += len + 1;
        while (len && is_ows(start[0])) {
            start++;
            len--;
        }
        while (len && is_ows(start[len - 1]))
            len--;
        if (len == 0)
            continue; /* empty list members are allowed and skipped */
        if (count == OTEL_TRACE_STATE_MAX_MEMBERS)
            return OTEL_ERR_INVALID_ARG;
        const char *eq = memchr(start, '=', len);
        if (!eq)
            return OTEL_ERR_INVALID_ARG;
        otel_str key = { start, (size_t)(eq - start) };
        otel_str value = { eq + 1, len - key.len - 1 };
        if (!otel_trace_state_key_is_valid(key) || !otel_trace_state_value_is_valid(value))
            return OTEL_ERR_INVALID_ARG;
        /* Keys should be unique, but the recipient is not asked to check (the W3C test suite
         * expects such a header to survive): keep the first, left-most member of a key. */
        bool duplicate = false;
        for (size_t i = 0; i < count && !duplicate; i++)
            duplicate = otel_str_eq(pairs[2 * i], key);
        if (duplicate)
            continue;
        pairs[2 * count] = key;
        pairs[2 * count + 1] = value;
        count++;
    }
    if (count == 0)
        return OTEL_OK;
    otel_trace_state *ts = ts_build(pairs, count);
    if (!ts)
        return OTEL_ERR_NOMEM;
    *out = ts;
    return OTEL_OK;
}

otel_trace_state *otel_trace_state_retain(const otel_trace_state *ts)
{
    otel_trace_state *m = (otel_trace_state *)ts;
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void otel_trace_state_release(const otel_trace_state *ts)
{
    otel_trace_state *m = (otel_trace_state *)ts;
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        otel__free(m);
}

size_t otel_trace_state_count(const otel_trace_state *ts)
{
    return ts ? ts->count : 0;
}

bool otel_trace_state_entry(const otel_trace_state *ts, size_t index, otel_str *key,
                            otel_str *value)
{
    if (!ts || index >= ts->count)
        return false;
    if (key)
        *key = ts_key(ts, index);
    if (value)
        *value = ts_value(ts, index);
    return true;
}

static bool ts_find(const otel_trace_state *ts, otel_str key, size_t *index)
{
    if (!ts)
        return false;
    for (size_t i = 0; i < ts->count; i++) {
        if (otel_str_eq(ts_key(ts, i), key)) {
            *index = i;
            return true;
        }
    }
    return false;
}

bool otel_trace_state_get(const otel_trace_state *ts, otel_str key, otel_str *value)
{
    size_t i;
    if (!ts_find(ts, key, &i))
        return false;
    if (value)
        *value = ts_value(ts, i);
    return true;
}

otel_status otel_trace_state_set(const otel_trace_state *ts, otel_str key, otel_str value,
                                 otel_trace_state **out)
{
    if (!out || !otel_trace_state_key_is_valid(key) || !otel_trace_state_value_is_valid(value))
        return OTEL_ERR_INVALID_ARG;
    otel_str pairs[2 * OTEL_TRACE_STATE_MAX_MEMBERS];
    size_t count = 0;
    pairs[count * 2] = key;
    pairs[count * 2 + 1] = value;
    count++;
    for (size_t i = 0; ts && i < ts->count && count < OTEL_TRACE_STATE_MAX_MEMBERS; i++) {
        otel_str k = ts_key(ts, i);
        if (otel_str_eq(k, key))
            continue;
        pairs[count * 2] = k;
        pairs[count * 2 + 1] = ts_value(ts, i);
        count++;
    }
    otel_trace_state *n = ts_build(pairs, count);
    if (!n)
        return OTEL_ERR_NOMEM;
    *out = n;
    return OTEL_OK;
}

otel_status otel_trace_state_delete(const otel_trace_state *ts, otel_str key,
                                    otel_trace_state **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    size_t skip;
    if (!ts_find(ts, key, &skip)) {
        *out = otel_trace_state_retain(ts);
        return OTEL_OK;
    }
    if (ts->count == 1) {
        *out = NULL;
        return OTEL_OK;
    }
    otel_str pairs[2 * OTEL_TRACE_STATE_MAX_MEMBERS];
    size_t count = 0;
    for (size_t i = 0; i < ts->count; i++) {
        if (i == skip)
            continue;
        pairs[count * 2] = ts_key(ts, i);
        pairs[count * 2 + 1] = ts_value(ts, i);
        count++;
    }
    otel_trace_state *n = ts_build(pairs, count);
    if (!n)
        return OTEL_ERR_NOMEM;
    *out = n;
    return OTEL_OK;
}

/* Copies what fits of |s| at position |pos| of |buf| (|cap| bytes, one kept for the NUL). */
static void put(char *buf, size_t cap, size_t pos, const char *s, size_t n)
{
    if (cap == 0 || pos >= cap - 1)
        return;
    size_t room = cap - 1 - pos;
    memcpy(buf + pos, s, n < room ? n : room);
}

size_t otel_trace_state_serialize(const otel_trace_state *ts, char *buf, size_t cap)
{
    size_t pos = 0;
    if (!buf)
        cap = 0;
    for (size_t i = 0; ts && i < ts->count; i++) {
        otel_str k = ts_key(ts, i);
        otel_str v = ts_value(ts, i);
        if (i > 0) {
            put(buf, cap, pos, ",", 1);
            pos++;
        }
        put(buf, cap, pos, k.data, k.len);
        pos += k.len;
        put(buf, cap, pos, "=", 1);
        pos++;
        put(buf, cap, pos, v.data, v.len);
        pos += v.len;
    }
    if (cap > 0)
        buf[pos < cap ? pos : cap - 1] = '\0';
    return pos;
}
