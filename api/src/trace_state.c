/* The W3C tracestate list: immutable and reference-counted, stored as one allocation (header,
 * member table, then the list's header text "k1=v1,k2=v2" that the members point into) so that
 * copying a trace state into a span or a context is one atomic increment and serializing is one
 * copy. Parsing follows W3C Trace Context level 2 in a single table-driven pass: any invalid
 * member or more than 32 members invalidates the whole header; a repeated key keeps its first
 * member. */
#include <stdatomic.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "api_internal.h"
#include "block_cache.h"
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
    uint32_t text_len;          /* of the header text after the member table */
    struct ts_member members[]; /* |count| of them, then the header text they point into */
};

/* The bytes of a trace state of |count| members and |text_len| bytes of header text. The text
 * gets whole 16-byte blocks, so the parser can copy it 16 bytes at a time. */
static inline size_t ts_size(size_t count, size_t text_len)
{
    return sizeof(otel_trace_state) + count * sizeof(struct ts_member) + ((text_len + 15) & ~(size_t)15);
}

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

/* Character classes of the grammar, one table lookup per character. */
enum {
    C_KEY_FIRST = 1, /* lcalpha / DIGIT */
    C_KEY = 2,       /* keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@" */
    C_VALUE = 4,     /* chr = %x20-2B / %x2D-3C / %x3E-7E (nblk-chr or a space) */
};

#define KF (C_KEY_FIRST | C_KEY | C_VALUE)
#define KC (C_KEY | C_VALUE)
#define V_ C_VALUE
static const uint8_t g_class[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, KC, V_, 0,  KC, V_, KC, /* 0x20  *,- / */
    KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, V_, V_, V_, 0,  V_, V_, /* 0x30 0-9 = */
    KC, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, /* 0x40 @ A-O */
    V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, V_, KC, /* 0x50 P-Z _ */
    V_, KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, /* 0x60 a-o */
    KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, KF, V_, V_, V_, V_, 0,  /* 0x70 p-z */
};
#undef KF
#undef KC
#undef V_

static inline unsigned char_class(char c)
{
    return g_class[(unsigned char)c];
}

/* The first character at or after |p| (before |end|) that a value cannot hold, or |end|.
 * |begin| is the start of the whole buffer: with SSE2, 16 characters are checked per step, and
 * the last step re-reads the final 16 bytes of the buffer rather than reading past its end. */
static inline const char *scan_value(const char *begin, const char *p, const char *end)
{
#if defined(__SSE2__)
    if (end - begin >= 16) {
        for (;;) {
            const char *at = end - p >= 16 ? p : end - 16;
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)at);
            /* Signed compares: bytes from 0x80 up are negative and fail the range. */
            __m128i ok =
                _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(0x1f)), _mm_cmplt_epi8(x, _mm_set1_epi8(0x7f)));
            __m128i sep =
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')), _mm_cmpeq_epi8(x, _mm_set1_epi8('=')));
            unsigned bad = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(sep, ok)) ^ 0xffffu;
            bad >>= (unsigned)(p - at); /* bytes before |p| were scanned already */
            if (bad)
                return p + __builtin_ctz(bad);
            if (at != p || end - p == 16)
                return end;
            p += 16;
        }
    }
#else
    (void)begin;
#endif
    while (p < end && (char_class(*p) & C_VALUE))
        p++;
    return p;
}

bool otel_trace_state_key_is_valid(otel_str key)
{
    /* W3C Trace Context level 2 (which replaced level 1's separate multi-tenant form):
     * key = ( lcalpha / DIGIT ) 0*255( keychar )
     * keychar = lcalpha / DIGIT / "_" / "-"/ "*" / "/" / "@" */
    if (key.len == 0 || key.len > OTEL_TRACE_STATE_MAX_KEY_LEN || !key.data)
        return false;
    if (!(char_class(key.data[0]) & C_KEY_FIRST))
        return false;
    for (size_t i = 1; i < key.len; i++)
        if (!(char_class(key.data[i]) & C_KEY))
            return false;
    return true;
}

bool otel_trace_state_value_is_valid(otel_str value)
{
    /* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
     * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
    if (value.len == 0 || value.len > OTEL_TRACE_STATE_MAX_VALUE_LEN || !value.data)
        return false;
    for (size_t i = 0; i < value.len; i++)
        if (!(char_class(value.data[i]) & C_VALUE))
            return false;
    return value.data[value.len - 1] != ' ';
}

/* ---------------------------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------------------------- */

/* Allocates a trace state for |count| members whose keys and values are |pairs| (2*count
 * slices, already validated). |text|, when not NULL, is exactly the header text of those
 * members ("k1=v1,k2=v2", as otel_trace_state_parse() found it) and is copied at once; otherwise
 * the text is assembled member by member. Returns NULL when out of memory. */
static otel_trace_state *ts_build(const otel_str *pairs, size_t count, const char *text)
{
    size_t bytes = 2 * count - 1; /* the '=' of each member and the ',' between them */
    for (size_t i = 0; i < 2 * count; i++)
        bytes += pairs[i].len;
    otel_trace_state *ts = otel__cache_take(ts_size(count, bytes));
    if (!ts)
        return NULL;
    atomic_init(&ts->refs, 1);
    ts->count = (uint32_t)count;
    ts->text_len = (uint32_t)bytes;
    char *dst = (char *)&ts->members[count];
    if (text)
        memcpy(dst, text, bytes);
    uint32_t off = 0;
    for (size_t i = 0; i < count; i++) {
        otel_str k = pairs[2 * i];
        otel_str v = pairs[2 * i + 1];
        if (!text) {
            if (i > 0)
                dst[off - 1] = ',';
            memcpy(dst + off, k.data, k.len);
            dst[off + k.len] = '=';
            memcpy(dst + off + k.len + 1, v.data, v.len);
        }
        ts->members[i].key_off = off;
        ts->members[i].key_len = (uint32_t)k.len;
        off += (uint32_t)k.len + 1;
        ts->members[i].value_off = off;
        ts->members[i].value_len = (uint32_t)v.len;
        off += (uint32_t)v.len + 1;
    }
    return ts;
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

#if defined(__SSE2__)
/* The fast path of otel_trace_state_parse() for the usual header: at most 64 bytes, no
 * whitespace, no empty member, no repeated key, every byte printable. One SSE2 pass marks the
 * commas, the equals signs and any other byte a value cannot hold, as bits of three 64-bit
 * masks; the members are then found from bit to bit (a '=' then a ',' or the end), only the keys
 * are checked byte by byte, and the trace state is built at once with the header text copied
 * whole. Anything else (including invalid headers) is left to the general parser, having done
 * nothing; so is running out of memory, so that an invalid header still reports itself as such. */
#define FAST_MAX_BYTES 64

/* Marks the 16 bytes |x| as bits |at|.. of the masks, dropping the first |skip| bytes (marked
 * already by the previous block). */
static inline void fast_mark(__m128i x, unsigned skip, size_t at, uint64_t *comma, uint64_t *eq, uint64_t *ok)
{
    unsigned c = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')));
    unsigned e = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('=')));
    /* nblk-chr plus ',' and '=': %x21-7E (signed compares: bytes from 0x80 up are negative). */
    __m128i printable =
        _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(0x20)), _mm_cmplt_epi8(x, _mm_set1_epi8(0x7f)));
    unsigned k = (unsigned)_mm_movemask_epi8(printable);
    *comma |= (uint64_t)(c >> skip) << at;
    *eq |= (uint64_t)(e >> skip) << at;
    *ok |= (uint64_t)(k >> skip) << at;
}

static inline unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}

enum fast_result {
    FAST_DONE,   /* *out is the trace state */
    FAST_OTHER,  /* not the usual header: the general parser decides */
    FAST_NO_MEM, /* no memory for the object: the general parser decides without allocating */
};

static enum fast_result parse_fast(otel_str header, otel_trace_state **out)
{
    const char *p = header.data;
    size_t len = header.len;
    uint64_t comma = 0, eq = 0, ok = 0;
    __m128i small = _mm_setzero_si128();
    if (len >= 16) {
        /* Whole blocks, then the last 16 bytes of the header (overlapping the previous block)
         * rather than a read past its end. */
        size_t i = 0;
        for (; i + 16 <= len; i += 16)
            fast_mark(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), 0, i, &comma, &eq, &ok);
        if (i < len)
            fast_mark(_mm_loadu_si128((const __m128i *)(const void *)(p + len - 16)),
                      (unsigned)(16 - (len - i)), i, &comma, &eq, &ok);
    } else {
        char buf[16] = { 0 };
        memcpy(buf, p, len);
        small = _mm_loadu_si128((const __m128i *)(const void *)buf);
        fast_mark(small, 0, 0, &comma, &eq, &ok);
    }
    uint64_t all = len == 64 ? ~UINT64_C(0) : (UINT64_C(1) << len) - 1;
    if ((ok & all) != all)
        return FAST_OTHER;

    /* A valid header has one '=' per member: allocate for that many, and give the block back
     * if the header turns out to be something else. */
    size_t members = popcount64(eq);
    size_t bytes = ts_size(members, len);
    otel_trace_state *ts = otel__cache_take(bytes);
    if (!ts)
        return FAST_NO_MEM;
    size_t count = 0;
    size_t start = 0;
    /* The separators in order must be '=' ',' '=' ',' ... '=': take them two at a time. */
    uint64_t sep = comma | eq;
    for (;;) {
        if (!sep)
            goto out_other;
        size_t e = (size_t)__builtin_ctzll(sep);
        sep &= sep - 1;
        size_t c = sep ? (size_t)__builtin_ctzll(sep) : len;
        sep &= sep - 1;
        /* key "=" value, both non-empty. */
        if (!(eq >> e & 1) || (c < len && !(comma >> c & 1)) || e == start || c == e + 1)
            goto out_other;
        unsigned rest = C_KEY;
        for (size_t k = start + 1; k < e; k++)
            rest &= char_class(p[k]);
        if (!(char_class(p[start]) & C_KEY_FIRST) || !rest)
            goto out_other;
        uint32_t key_len = (uint32_t)(e - start);
        for (size_t m = 0; m < count; m++)
            if (ts->members[m].key_len == key_len &&
                memcmp(p + ts->members[m].key_off, p + start, key_len) == 0)
                goto out_other;
        ts->members[count].key_off = (uint32_t)start;
        ts->members[count].key_len = key_len;
        ts->members[count].value_off = (uint32_t)e + 1;
        ts->members[count].value_len = (uint32_t)(c - e - 1);
        count++;
        if (c == len)
            break;
        start = c + 1;
        /* A trailing comma: an empty last member. */
        if (start == len)
            goto out_other;
    }
    atomic_init(&ts->refs, 1);
    ts->count = (uint32_t)count;
    ts->text_len = (uint32_t)len;
    /* 16 bytes at a time: ts_size() gives the text whole 16-byte blocks. */
    char *text = (char *)&ts->members[count];
    if (len >= 16) {
        size_t i = 0;
        for (; i + 16 <= len; i += 16)
            _mm_storeu_si128((__m128i *)(void *)(text + i),
                             _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
        if (i < len)
            _mm_storeu_si128((__m128i *)(void *)(text + len - 16),
                             _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16)));
    } else {
        _mm_storeu_si128((__m128i *)(void *)text, small);
    }
    *out = ts;
    return FAST_DONE;
out_other:
    otel__cache_give(ts, bytes);
    return FAST_OTHER;
}
#endif

otel_status otel_trace_state_parse(otel_str header, otel_trace_state **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    *out = NULL;
    if (header.len == 0)
        return OTEL_OK;
    if (!header.data)
        return OTEL_ERR_INVALID_ARG;
    bool may_allocate = true;
#if defined(__SSE2__)
    if (header.len <= FAST_MAX_BYTES) {
        enum fast_result r = parse_fast(header, out);
        if (r == FAST_DONE)
            return OTEL_OK;
        may_allocate = r != FAST_NO_MEM;
    }
#endif

    /* One pass: each list member is OWS key "=" value OWS, between commas; empty members are
     * allowed and skipped. The value's characters include the space, so its trailing spaces
     * (and any OWS after a tab, which a value cannot hold) are trimmed after the scan. */
    otel_str pairs[2 * OTEL_TRACE_STATE_MAX_MEMBERS];
    size_t count = 0;
    size_t text_len = 0; /* of the members kept, as "k=v" joined by commas */
    const char *p = header.data;
    const char *end = p + header.len;
    for (;;) {
        while (p < end && is_ows(*p))
            p++;
        if (p == end)
            break;
        if (*p == ',') {
            p++;
            continue;
        }
        if (count == OTEL_TRACE_STATE_MAX_MEMBERS)
            return OTEL_ERR_INVALID_ARG;
        const char *key = p;
        if (!(char_class(*p) & C_KEY_FIRST))
            return OTEL_ERR_INVALID_ARG;
        p++;
        while (p < end && (char_class(*p) & C_KEY))
            p++;
        size_t key_len = (size_t)(p - key);
        if (p == end || *p != '=' || key_len > OTEL_TRACE_STATE_MAX_KEY_LEN)
            return OTEL_ERR_INVALID_ARG;
        const char *value = ++p;
        p = scan_value(header.data, p, end);
        const char *value_end = p;
        while (p < end && is_ows(*p))
            p++;
        if (p < end) {
            if (*p != ',')
                return OTEL_ERR_INVALID_ARG;
            p++;
        }
        while (value_end > value && value_end[-1] == ' ')
            value_end--;
        size_t value_len = (size_t)(value_end - value);
        if (value_len == 0 || value_len > OTEL_TRACE_STATE_MAX_VALUE_LEN)
            return OTEL_ERR_INVALID_ARG;
        /* Keys should be unique, but the recipient is not asked to check (the W3C test suite
         * expects such a header to survive): keep the first, left-most member of a key. */
        otel_str k = { key, key_len };
        bool duplicate = false;
        for (size_t i = 0; i < count && !duplicate; i++)
            duplicate = otel_str_eq(pairs[2 * i], k);
        if (duplicate)
            continue;
        pairs[2 * count] = k;
        pairs[2 * count + 1] = (otel_str){ value, value_len };
        text_len += (count ? 1 : 0) + key_len + 1 + value_len;
        count++;
    }
    if (count == 0)
        return OTEL_OK;
    if (!may_allocate)
        return OTEL_ERR_NOMEM;
    /* A header with nothing but its kept members (the usual case) is copied at once. */
    bool exact = text_len == header.len;
    otel_trace_state *ts = ts_build(pairs, count, exact ? header.data : NULL);
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
    /* A count of one is the caller's own reference: the last release needs no atomic
     * read-modify-write. */
    if (m && (atomic_load_explicit(&m->refs, memory_order_acquire) == 1 ||
              atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1))
        otel__cache_give(m, ts_size(m->count, m->text_len));
}

size_t otel_trace_state_count(const otel_trace_state *ts)
{
    return ts ? ts->count : 0;
}

bool otel_trace_state_entry(const otel_trace_state *ts, size_t index, otel_str *key, otel_str *value)
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
    otel_trace_state *n = ts_build(pairs, count, NULL);
    if (!n)
        return OTEL_ERR_NOMEM;
    *out = n;
    return OTEL_OK;
}

otel_status otel_trace_state_delete(const otel_trace_state *ts, otel_str key, otel_trace_state **out)
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
    otel_trace_state *n = ts_build(pairs, count, NULL);
    if (!n)
        return OTEL_ERR_NOMEM;
    *out = n;
    return OTEL_OK;
}

otel_str otel__trace_state_text(const otel_trace_state *ts)
{
    return ts ? (otel_str){ ts_bytes(ts), ts->text_len } : (otel_str){ NULL, 0 };
}

size_t otel_trace_state_serialize(const otel_trace_state *ts, char *buf, size_t cap)
{
    /* The header text is kept whole: copy what fits (one byte kept for the NUL) and return the
     * full length, as snprintf does. */
    size_t len = ts ? ts->text_len : 0;
    if (buf && cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n)
            memcpy(buf, ts_bytes(ts), n);
        buf[n] = '\0';
    }
    return len;
}
