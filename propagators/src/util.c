/* Shared pieces of the propagators: character classes, hex and decimal codecs, percent
 * encoding, carrier reading, and the context helpers every extractor ends with. The codecs are
 * table-driven and branch-light because traceparent parsing and formatting sit on the request
 * path of every instrumented server. */
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "prop_internal.h"

#include "api_internal.h"

#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * Characters and strings
 * ------------------------------------------------------------------------------------------- */

bool otel__prop_name_ieq(otel_str a, otel_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (otel__prop_lower((unsigned char)a.data[i]) != otel__prop_lower((unsigned char)b.data[i]))
            return false;
    return true;
}

bool otel__prop_name_has_prefix(otel_str name, otel_str prefix)
{
    if (name.len < prefix.len)
        return false;
    return otel__prop_name_ieq((otel_str){ name.data, prefix.len }, prefix);
}

/* Generated from the definitions in prop_internal.h: bit 1 tchar, 2 baggage-octet, 4 unreserved,
 * 8 printable. */
const uint8_t otel__prop_cclass[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    8,  11, 8,  11, 11, 11, 11, 11, 10, 10, 11, 11, 8,  15, 15, 10, /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 10, 8,  10, 10, 10, 10, /* 0x30 */
    10, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 10, 8,  10, 11, 15, /* 0x50 */
    11, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 10, 11, 10, 15, 0,  /* 0x70 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x80 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x90 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0xa0 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0xb0 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0xc0 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0xd0 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0xe0 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0xf0 */
};

/* ---------------------------------------------------------------------------------------------
 * Carrier
 * ------------------------------------------------------------------------------------------- */

size_t otel__prop_get_first(const otel_carrier_reader *r, otel_str name, otel_str *value)
{
    otel_str v = { NULL, 0 };
    size_t n = r->get(r->user_data, name, &v, 1);
    if (n > 0)
        *value = otel__prop_trim(v);
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Hex and decimal
 * ------------------------------------------------------------------------------------------- */

/* Scalar tables: digit value plus one, 0 for a character that is not a digit. Subtracting one
 * turns a bad character into all ones, so one OR over all digits tells whether any was bad. */
#define HEX_DIGITS_PLUS_ONE                                                                            \
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, \
    ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16

static const uint8_t hex_lower[256] = { HEX_DIGITS_PLUS_ONE };
const uint8_t otel__prop_hex_any[256] = {
    HEX_DIGITS_PLUS_ONE, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

#if defined(__SSE2__)
/* 16 hex digits at |src| into 8 bytes at |out|. */
static inline bool hex16_decode(const char *src, uint8_t *out, bool lowercase_only)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)src);
    /* Signed compares: bytes from 0x80 up are negative and fail both ranges. */
    __m128i digit =
        _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
    /* Setting bit 5 folds 'A'-'F' onto 'a'-'f' and maps nothing else into that range. */
    __m128i folded = lowercase_only ? x : _mm_or_si128(x, _mm_set1_epi8(0x20));
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                                   _mm_cmplt_epi8(folded, _mm_set1_epi8('f' + 1)));
    if (_mm_movemask_epi8(_mm_or_si128(digit, letter)) != 0xffff)
        return false;
    __m128i v = _mm_or_si128(_mm_and_si128(digit, _mm_sub_epi8(x, _mm_set1_epi8('0'))),
                             _mm_andnot_si128(digit, _mm_sub_epi8(folded, _mm_set1_epi8('a' - 10))));
    /* Each 16-bit lane holds two digits, first in the low byte: make it one byte and pack. */
    __m128i pairs =
        _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x00ff)), 4), _mm_srli_epi16(v, 8));
    _mm_storel_epi64((__m128i *)(void *)out, _mm_packus_epi16(pairs, _mm_setzero_si128()));
    return true;
}

/* 8 bytes at |in| into 16 lowercase hex digits at |out|. */
static inline void hex8_encode(const uint8_t *in, char *out)
{
    __m128i x = _mm_loadl_epi64((const __m128i *)(const void *)in);
    __m128i mask = _mm_set1_epi8(0x0f);
    __m128i n = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(x, 4), mask), _mm_and_si128(x, mask));
    __m128i c = _mm_add_epi8(n, _mm_set1_epi8('0'));
    c = _mm_add_epi8(c, _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10)));
    _mm_storeu_si128((__m128i *)(void *)out, c);
}
#endif

bool otel__prop_hex_decode(const char *src, size_t n, uint8_t *out, bool lowercase_only)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 8 <= n; i += 8)
        if (!hex16_decode(src + 2 * i, out + i, lowercase_only))
            return false;
#endif
    const uint8_t *table = lowercase_only ? hex_lower : otel__prop_hex_any;
    unsigned bad = 0;
    for (; i < n; i++) {
        unsigned hi = table[(unsigned char)src[2 * i]] - 1u;
        unsigned lo = table[(unsigned char)src[2 * i + 1]] - 1u;
        bad |= hi | lo;
        out[i] = (uint8_t)((hi << 4) | (lo & 0x0f));
    }
    return (bad & ~0x0fu) == 0;
}

bool otel__prop_hex_decode_padded(otel_str hex, uint8_t *out, size_t n, bool lowercase_only)
{
    char digits[32];
    uint8_t tmp[16];
    if (hex.len == 0 || hex.len > 2 * n || n > sizeof(tmp))
        return false;
    /* Left-pad with '0' to the full width, then decode it like any full-width id. */
    memset(digits, '0', 2 * n - hex.len);
    memcpy(digits + 2 * n - hex.len, hex.data, hex.len);
    if (!otel__prop_hex_decode(digits, n, tmp, lowercase_only))
        return false;
    memcpy(out, tmp, n);
    return true;
}

void otel__prop_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 8 <= n; i += 8)
        hex8_encode(in + i, out + 2 * i);
#endif
    for (; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
}

bool otel__prop_parse_u64(otel_str s, uint64_t *out)
{
    if (s.len == 0 || s.len > 20)
        return false;
    uint64_t v = 0;
    /* Up to 19 digits cannot overflow; only the 20th needs checked arithmetic. */
    size_t easy = s.len < 19 ? s.len : 19;
    for (size_t i = 0; i < easy; i++) {
        unsigned d = (unsigned)(unsigned char)s.data[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    if (s.len == 20) {
        unsigned d = (unsigned)(unsigned char)s.data[19] - '0';
        if (d > 9 || __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
            return false;
    }
    *out = v;
    return true;
}

bool otel__prop_parse_i32(otel_str s, int32_t *out)
{
    bool neg = false;
    if (s.len && (s.data[0] == '-' || s.data[0] == '+')) {
        neg = s.data[0] == '-';
        s.data++;
        s.len--;
    }
    if (s.len == 0 || s.len > 10)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.data[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    if (neg)
        v = -v;
    if (v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

size_t otel__prop_format_u64(uint64_t v, char *out)
{
    /* Two digits per division (by a constant, so a multiplication). */
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233"
                                   "34353637383940414243444546474849505152535455565758596061626364656667"
                                   "6869707172737475767778798081828384858687888990919293949596979899";
    char tmp[20];
    size_t pos = sizeof(tmp);
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        pos -= 2;
        memcpy(tmp + pos, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        pos -= 2;
        memcpy(tmp + pos, pairs + 2 * v, 2);
    } else {
        tmp[--pos] = (char)('0' + v);
    }
    size_t n = sizeof(tmp) - pos;
    memcpy(out, tmp + pos, n);
    return n;
}

size_t otel__prop_format_i32(int32_t v, char *out)
{
    if (v >= 0)
        return otel__prop_format_u64((uint64_t)v, out);
    out[0] = '-';
    return 1 + otel__prop_format_u64((uint64_t)(-(int64_t)v), out + 1);
}

/* ---------------------------------------------------------------------------------------------
 * Percent encoding
 * ------------------------------------------------------------------------------------------- */

/* The next decoded byte of |in| at *pos, or -1 for a broken escape. */
static int next_decoded(otel_str in, size_t *pos, bool plus_is_space)
{
    unsigned char c = (unsigned char)in.data[*pos];
    if (c == '%') {
        if (in.len - *pos < 3)
            return -1;
        unsigned hi = otel__prop_hex_any[(unsigned char)in.data[*pos + 1]];
        unsigned lo = otel__prop_hex_any[(unsigned char)in.data[*pos + 2]];
        if (!hi || !lo)
            return -1;
        *pos += 3;
        return (int)(((hi - 1) << 4) | (lo - 1));
    }
    *pos += 1;
    if (c == '+' && plus_is_space)
        return ' ';
    return c;
}

size_t otel__prop_percent_decode(otel_str in, char *out, size_t cap, bool plus_is_space, bool utf8_replace)
{
    static const char replacement[3] = { (char)0xef, (char)0xbf, (char)0xbd };
    size_t i = 0;
    size_t o = 0;
    while (i < in.len) {
        int b = next_decoded(in, &i, plus_is_space);
        if (b < 0)
            return SIZE_MAX;
        if (!utf8_replace || b < 0x80) {
            if (o >= cap)
                return SIZE_MAX;
            out[o++] = (char)b;
            continue;
        }
        /* A multi-byte sequence: the lead byte fixes how many continuation bytes follow and the
         * range of the first one (Unicode, table 3-7: well-formed UTF-8 byte sequences). */
        size_t need = 0;
        unsigned lo = 0x80;
        unsigned hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf) {
            need = 1;
        } else if (b == 0xe0) {
            need = 2;
            lo = 0xa0;
        } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
            need = 2;
        } else if (b == 0xed) {
            need = 2;
            hi = 0x9f;
        } else if (b == 0xf0) {
            need = 3;
            lo = 0x90;
        } else if (b >= 0xf1 && b <= 0xf3) {
            need = 3;
        } else if (b == 0xf4) {
            need = 3;
            hi = 0x8f;
        }
        uint8_t seq[4];
        size_t got = 0;
        seq[got++] = (uint8_t)b;
        while (need && got <= need && i < in.len) {
            size_t save = i;
            int c = next_decoded(in, &i, plus_is_space);
            if (c < 0)
                return SIZE_MAX;
            if ((unsigned)c < lo || (unsigned)c > hi) {
                i = save; /* not part of this sequence: it starts the next one */
                break;
            }
            seq[got++] = (uint8_t)c;
            lo = 0x80;
            hi = 0xbf;
        }
        const char *src = (const char *)seq;
        size_t n = got;
        if (!need || got != need + 1) {
            /* An invalid byte or a truncated sequence: one U+FFFD for the maximal subpart. */
            src = replacement;
            n = sizeof(replacement);
        }
        if (cap - o < n)
            return SIZE_MAX;
        memcpy(out + o, src, n);
        o += n;
    }
    return o;
}

size_t otel__prop_percent_encode(otel_str in, char *out, size_t cap, unsigned keep)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.data[i];
        if (c != '%' && (otel__prop_cclass[c] & keep)) {
            if (o >= cap)
                return SIZE_MAX;
            out[o++] = (char)c;
        } else {
            if (cap - o < 3)
                return SIZE_MAX;
            out[o++] = '%';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 0x0f];
        }
    }
    return o;
}

/* ---------------------------------------------------------------------------------------------
 * Context helpers
 * ------------------------------------------------------------------------------------------- */

const otel_context_key otel__prop_debug_key = { "otel.propagators.debug" };

bool otel__prop_is_debug(const otel_context *ctx, const uint8_t trace_id[OTEL_TRACE_ID_SIZE])
{
    const uint8_t *marked = otel_context_get_value(ctx, &otel__prop_debug_key);
    return marked && memcmp(marked, trace_id, OTEL_TRACE_ID_SIZE) == 0;
}

otel_context *otel__prop_attach(const otel_context *ctx, otel_span_context sc, const otel_trace_state *ts,
                                bool debug)
{
    return otel__prop_attach_owned(ctx, sc, otel_trace_state_retain(ts), debug);
}

otel_context *otel__prop_attach_owned(const otel_context *ctx, otel_span_context sc, otel_trace_state *ts,
                                      bool debug)
{
    sc.is_remote = true;
    otel_context *base = otel_context_retain(ctx);
    if (debug) {
        uint8_t *marker = otel__malloc(OTEL_TRACE_ID_SIZE);
        otel_context *with_marker = NULL;
        if (marker) {
            memcpy(marker, sc.trace_id, OTEL_TRACE_ID_SIZE);
            if (otel_context_with_value(base, &otel__prop_debug_key, marker, otel__free, &with_marker) !=
                OTEL_OK) {
                otel__free(marker);
                with_marker = NULL;
            }
        }
        if (with_marker) {
            otel_context_release(base);
            base = with_marker;
        } else {
            /* Keep the span context without the debug mark rather than lose the trace. */
            OTEL__LOG(OTEL_LOG_WARN, "propagators: out of memory; debug flag not kept");
        }
    }
    otel_context *out = NULL;
    if (otel__context_with_span_context_owned(base, &sc, ts, &out) != OTEL_OK) {
        OTEL__LOG(OTEL_LOG_WARN, "propagators: out of memory; extracted span context dropped");
        otel_context_release(base);
        return otel_context_retain(ctx);
    }
    otel_context_release(base);
    return out;
}

bool otel__prop_baggage_add(otel_baggage **bg, otel_str name, otel_str value, otel_str metadata,
                            otel_status *st)
{
    otel_baggage *next = NULL;
    *st = otel_baggage_set(*bg, name, value, metadata, &next);
    if (*st != OTEL_OK)
        return false;
    otel_baggage_release(*bg);
    *bg = next;
    return true;
}

otel_context *otel__prop_with_baggage(const otel_context *ctx, const otel_baggage *bg)
{
    if (bg == otel_context_get_baggage(ctx))
        return otel_context_retain(ctx);
    otel_context *out = NULL;
    if (otel_context_with_baggage(ctx, bg, &out) != OTEL_OK) {
        OTEL__LOG(OTEL_LOG_WARN, "propagators: out of memory; extracted baggage dropped");
        return otel_context_retain(ctx);
    }
    return out;
}

/* ---------------------------------------------------------------------------------------------
 * The Datadog member of tracestate
 * ------------------------------------------------------------------------------------------- */

bool otel__dd_member_parse(const otel_trace_state *ts, struct otel__dd_member *m)
{
    memset(m, 0, sizeof(*m));
    otel_str value;
    if (!ts || !otel_trace_state_get(ts, OTEL_STR("dd"), &value))
        return false;
    size_t pos = 0;
    while (pos < value.len) {
        const char *start = value.data + pos;
        const char *semi = memchr(start, ';', value.len - pos);
        size_t len = semi ? (size_t)(semi - start) : value.len - pos;
        pos += len + 1;
        otel_str field = { start, len };
        const char *colon = memchr(start, ':', len);
        if (!colon)
            continue;
        otel_str key = { start, (size_t)(colon - start) };
        otel_str val = { colon + 1, len - key.len - 1 };
        if (otel_str_eq(key, OTEL_STR("s"))) {
            int32_t p;
            if (otel__prop_parse_i32(val, &p)) {
                m->has_priority = true;
                m->priority = p;
            }
        } else if (otel_str_eq(key, OTEL_STR("o"))) {
            m->origin = val;
        } else if (otel_str_eq(key, OTEL_STR("p"))) {
            /* The last Datadog parent: rewritten by every injector, never forwarded as is. */
        } else if (key.len > 2 && key.data[0] == 't' && key.data[1] == '.') {
            if (m->tag_count < sizeof(m->tags) / sizeof(m->tags[0]))
                m->tags[m->tag_count++] = (otel_str){ field.data + 2, field.len - 2 };
        } else if (m->other_count < sizeof(m->other) / sizeof(m->other[0])) {
            m->other[m->other_count++] = field;
        }
    }
    return true;
}

int32_t otel__dd_priority(const struct otel__dd_member *m, bool have_member, bool sampled)
{
    if (have_member && m->has_priority && (m->priority > 0) == sampled)
        return m->priority;
    return sampled ? 1 : 0;
}
