/* The W3C Trace Context propagator: traceparent and tracestate, levels 1 and 2. Extraction
 * checks the traceparent by fixed offsets (the format is positional) and hands the joined
 * tracestate to the API's parser; injection formats into stack buffers, so neither side
 * allocates beyond the trace state object and the context node it returns. With Datadog
 * interop on, inject also refreshes the tracestate "dd" member the way Datadog tracers do. */
#include <stddef.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "prop_internal.h"

#include "api_internal.h"

#define TRACEPARENT_LEN 55
#define FLAGS_KNOWN (OTEL_TRACE_FLAG_SAMPLED | OTEL_TRACE_FLAG_RANDOM)
/* The W3C truncation rule removes members longer than this first. */
#define TRACESTATE_LONG_MEMBER 128
/* The Datadog member is limited like any tracestate value. */
#define DD_VALUE_MAX OTEL_TRACE_STATE_MAX_VALUE_LEN

struct tc_config {
    bool datadog_interop;
};

static const struct tc_config g_plain = { false };
static const struct tc_config g_interop = { true };

/* ---------------------------------------------------------------------------------------------
 * Extract
 * ------------------------------------------------------------------------------------------- */

/* The value of a lowercase hex digit, or a value above 15 for any other character. */
static inline unsigned hex_digit(char c)
{
    unsigned d = (unsigned)(unsigned char)c - '0';
    if (d <= 9)
        return d;
    unsigned l = (unsigned)(unsigned char)c - 'a';
    return l <= 5 ? l + 10 : 16;
}

/* Two lowercase hex digits at |p| into *out (the version and flags fields, inline rather than
 * through the general decoder). */
static inline bool hex_byte(const char *p, uint8_t *out)
{
    unsigned hi = hex_digit(p[0]);
    unsigned lo = hex_digit(p[1]);
    if ((hi | lo) > 15)
        return false;
    *out = (uint8_t)(hi << 4 | lo);
    return true;
}

#if defined(__SSE2__)
/* 16 lowercase hex digits at |src|: their values in the low nibble of each byte, and in |*ok|
 * all ones for the bytes that are such digits. */
static inline __m128i hex16_values(const char *src, __m128i *ok)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)src);
    /* Signed compares: bytes from 0x80 up are negative and fail both ranges. */
    __m128i digit =
        _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
    __m128i letter =
        _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8('f' + 1)));
    *ok = _mm_or_si128(digit, letter);
    /* '0'-'9' and 'a'-'f' end in their value, or their value minus 9 for the letters. */
    return _mm_add_epi8(_mm_and_si128(x, _mm_set1_epi8(0x0f)), _mm_and_si128(letter, _mm_set1_epi8(9)));
}

/* Pairs of digit values (first digit in the low byte of each 16-bit lane) as one byte per lane. */
static inline __m128i hex_pairs(__m128i v)
{
    return _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x00ff)), 4), _mm_srli_epi16(v, 8));
}

/* The trace id (32 digits at |p|) and span id (16 digits at |p| + 33) of a traceparent, with
 * |flags|, into *sc as a remote span context: false unless every digit is lowercase hex and
 * neither id is all zeros. *sc is written with two overlapping 16-byte stores, so that the
 * 16-byte loads that copy it later (struct copies of its 26 bytes) are served by store
 * forwarding rather than waiting for byte-sized stores to reach the cache. */
_Static_assert(sizeof(otel_span_context) == 26 && offsetof(otel_span_context, span_id) == 16 &&
                   offsetof(otel_span_context, trace_flags) == 24 &&
                   offsetof(otel_span_context, is_remote) == 25,
               "decode_ids() writes otel_span_context as bytes 0-15 and 10-25");
static inline bool decode_ids(const char *p, uint8_t flags, otel_span_context *sc)
{
    __m128i ok_a, ok_b, ok_c;
    __m128i a = hex16_values(p, &ok_a);
    __m128i b = hex16_values(p + 16, &ok_b);
    __m128i c = hex16_values(p + 33, &ok_c);
    if (_mm_movemask_epi8(_mm_and_si128(_mm_and_si128(ok_a, ok_b), ok_c)) != 0xffff)
        return false;
    __m128i trace = _mm_packus_epi16(hex_pairs(a), hex_pairs(b));
    __m128i span = _mm_packus_epi16(hex_pairs(c), _mm_setzero_si128());
    __m128i zero = _mm_setzero_si128();
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(trace, zero)) == 0xffff ||
        (_mm_movemask_epi8(_mm_cmpeq_epi8(span, zero)) & 0xff) == 0xff)
        return false;
    /* Bytes 10-25: the end of the trace id, the span id, the flags and is_remote (true). */
    __m128i tail = _mm_insert_epi16(span, flags | 1 << 8, 4);
    __m128i high = _mm_or_si128(_mm_srli_si128(trace, 10), _mm_slli_si128(tail, 6));
    _mm_storeu_si128((__m128i *)(void *)sc, trace);
    _mm_storeu_si128((__m128i *)(void *)((char *)sc + 10), high);
    return true;
}
#else
static inline bool decode_ids(const char *p, uint8_t flags, otel_span_context *sc)
{
    if (!otel__prop_hex_decode(p, OTEL_TRACE_ID_SIZE, sc->trace_id, true) ||
        !otel__prop_hex_decode(p + 33, OTEL_SPAN_ID_SIZE, sc->span_id, true) ||
        !otel_span_context_is_valid(sc))
        return false;
    sc->trace_flags = flags;
    sc->is_remote = true;
    return true;
}
#endif

/* Parses one traceparent value (already trimmed) into *sc, a remote span context. */
static bool parse_traceparent(otel_str v, otel_span_context *sc)
{
    if (v.len < TRACEPARENT_LEN || v.len > OTEL_PROPAGATORS_TRACEPARENT_MAX_BYTES)
        return false;
    const char *p = v.data;
    uint8_t version;
    if (!hex_byte(p, &version) || version == 0xff)
        return false;
    if (p[2] != '-' || p[35] != '-' || p[52] != '-')
        return false;
    /* Version 00 ends after the flags. A later version may append fields, each after a '-'. */
    if (version == 0 ? v.len != TRACEPARENT_LEN : (v.len > TRACEPARENT_LEN && p[55] != '-'))
        return false;
    uint8_t flags;
    if (!hex_byte(p + 53, &flags))
        return false;
    /* Only the flags of this version travel on; the others "MUST be set to zero". */
    return decode_ids(p + 3, (uint8_t)(flags & FLAGS_KNOWN), sc);
}

/* The trace state of the carrier's tracestate lines (NULL when absent, invalid or too large). */
static otel_trace_state *extract_tracestate(const otel_carrier_reader *r)
{
    otel_str lines[OTEL_PROPAGATORS_TRACESTATE_MAX_LINES];
    size_t n = r->get(r->user_data, OTEL_STR("tracestate"), lines, OTEL_PROPAGATORS_TRACESTATE_MAX_LINES);
    if (n == 0)
        return NULL;
    if (n > OTEL_PROPAGATORS_TRACESTATE_MAX_LINES) {
        OTEL__PROP_DEBUG("tracecontext: %zu tracestate lines (at most %d); tracestate ignored", n,
                         OTEL_PROPAGATORS_TRACESTATE_MAX_LINES);
        return NULL;
    }
    size_t total = n - 1;
    for (size_t i = 0; i < n; i++)
        total += lines[i].len;
    if (total > OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES) {
        OTEL__PROP_DEBUG("tracecontext: tracestate of %zu bytes (at most %d); ignored", total,
                         OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES);
        return NULL;
    }
    otel_str joined = lines[0];
    char buf[OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES];
    if (n > 1) {
        /* RFC 9110 field order: the lines form one list, in order. */
        size_t pos = 0;
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                buf[pos++] = ',';
            if (lines[i].len)
                memcpy(buf + pos, lines[i].data, lines[i].len);
            pos += lines[i].len;
        }
        joined = (otel_str){ buf, pos };
    }
    otel_trace_state *ts = NULL;
    otel_status st = otel_trace_state_parse(joined, &ts);
    if (st == OTEL_ERR_INVALID_ARG)
        OTEL__PROP_DEBUG("tracecontext: invalid tracestate ignored (the traceparent is kept)");
    else if (st != OTEL_OK)
        OTEL__LOG(OTEL_LOG_WARN, "tracecontext: out of memory; tracestate dropped");
    return st == OTEL_OK ? ts : NULL;
}

static otel_context *tc_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    (void)user_data;
    otel_str tp[2];
    size_t n = r->get(r->user_data, OTEL_STR("traceparent"), tp, 2);
    if (n == 0)
        return otel_context_retain(ctx);
    otel_span_context sc;
    if (n > 1) {
        OTEL__PROP_DEBUG("tracecontext: %zu traceparent headers; ignored", n);
        return otel_context_retain(ctx);
    }
    if (!parse_traceparent(otel__prop_trim(tp[0]), &sc)) {
        OTEL__PROP_DEBUG("tracecontext: invalid traceparent ignored");
        return otel_context_retain(ctx);
    }
    /* What otel__prop_attach_owned() does without a debug mark, with |sc| passed on as
     * parse_traceparent() wrote it (already remote). The parsed trace state's only reference
     * goes to the new context node. */
    otel_context *out = NULL;
    if (otel__context_with_span_context_owned(ctx, &sc, extract_tracestate(r), &out) != OTEL_OK) {
        OTEL__LOG(OTEL_LOG_WARN, "propagators: out of memory; extracted span context dropped");
        return otel_context_retain(ctx);
    }
    return out;
}

/* ---------------------------------------------------------------------------------------------
 * Inject
 * ------------------------------------------------------------------------------------------- */

#if defined(__SSE2__)
/* Nibbles as lowercase hex digits. */
static inline __m128i hex_chars(__m128i n)
{
    __m128i c = _mm_add_epi8(n, _mm_set1_epi8('0'));
    return _mm_add_epi8(c, _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10)));
}

/* Writes "00-<trace id>-<span id>-<flags>" into |out| (55 bytes; TRACEPARENT_BUF bytes of room),
 * as four 16-byte stores at 0, 16, 32 and 48: a copy that reads it 16 bytes at a time from the
 * start (as the header buffer does) is served by store forwarding. Returns false, writing
 * nothing, when |sc| is not valid (an id is all zeros). */
#define TRACEPARENT_BUF 64
static bool format_traceparent(const otel_span_context *sc, char *out)
{
    const __m128i lo4 = _mm_set1_epi8(0x0f);
    __m128i t = _mm_loadu_si128((const __m128i *)(const void *)sc->trace_id);
    /* Bytes 10-25 of the span context, moved down: the span id, the flags, is_remote. */
    __m128i s = _mm_srli_si128(_mm_loadu_si128((const __m128i *)(const void *)((const char *)sc + 10)), 6);
    __m128i zero = _mm_setzero_si128();
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(t, zero)) == 0xffff ||
        (_mm_movemask_epi8(_mm_cmpeq_epi8(s, zero)) & 0xff) == 0xff)
        return false;
    s = _mm_and_si128(s, _mm_set_epi8(0, 0, 0, 0, 0, 0, 0, FLAGS_KNOWN, -1, -1, -1, -1, -1, -1, -1, -1));
    __m128i t_hi = _mm_and_si128(_mm_srli_epi16(t, 4), lo4), t_lo = _mm_and_si128(t, lo4);
    __m128i s_hi = _mm_and_si128(_mm_srli_epi16(s, 4), lo4), s_lo = _mm_and_si128(s, lo4);
    __m128i h1 = hex_chars(_mm_unpacklo_epi8(t_hi, t_lo)); /* trace id bytes 0-7: out[3..18] */
    __m128i h2 = hex_chars(_mm_unpackhi_epi8(t_hi, t_lo)); /* bytes 8-15: out[19..34] */
    __m128i h3 = hex_chars(_mm_unpacklo_epi8(s_hi, s_lo)); /* span id: out[36..51] */
    __m128i fl = hex_chars(_mm_unpackhi_epi8(s_hi, s_lo)); /* flags first: out[53..54] */
    __m128i c0 = _mm_or_si128(_mm_setr_epi8('0', '0', '-', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
                              _mm_slli_si128(h1, 3));
    __m128i c1 = _mm_or_si128(_mm_srli_si128(h1, 13), _mm_slli_si128(h2, 3));
    __m128i c2 = _mm_or_si128(_mm_or_si128(_mm_srli_si128(h2, 13), _mm_slli_si128(h3, 4)),
                              _mm_setr_epi8(0, 0, 0, '-', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    __m128i c3 = _mm_or_si128(_mm_or_si128(_mm_srli_si128(h3, 12), _mm_slli_si128(fl, 5)),
                              _mm_setr_epi8(0, 0, 0, 0, '-', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    _mm_storeu_si128((__m128i *)(void *)out, c0);
    _mm_storeu_si128((__m128i *)(void *)(out + 16), c1);
    _mm_storeu_si128((__m128i *)(void *)(out + 32), c2);
    _mm_storeu_si128((__m128i *)(void *)(out + 48), c3);
    return true;
}
#else
#define TRACEPARENT_BUF TRACEPARENT_LEN
/* Writes "00-<trace id>-<span id>-<flags>" into |out| (55 bytes); false, writing nothing, when
 * |sc| is not valid. */
static bool format_traceparent(const otel_span_context *sc, char *out)
{
    if (!otel_span_context_is_valid(sc))
        return false;
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    otel__prop_hex_encode(sc->trace_id, OTEL_TRACE_ID_SIZE, out + 3);
    out[35] = '-';
    otel__prop_hex_encode(sc->span_id, OTEL_SPAN_ID_SIZE, out + 36);
    out[52] = '-';
    static const char digits[] = "0123456789abcdef";
    uint8_t flags = (uint8_t)(sc->trace_flags & FLAGS_KNOWN);
    out[53] = digits[flags >> 4];
    out[54] = digits[flags & 0x0f];
    return true;
}
#endif

/* Appends |s| at *pos of |buf| when it fits in |cap|; returns false otherwise. */
static bool append(char *buf, size_t cap, size_t *pos, otel_str s)
{
    if (cap - *pos < s.len)
        return false;
    if (s.len)
        memcpy(buf + *pos, s.data, s.len);
    *pos += s.len;
    return true;
}

/* Writes the tracestate header for |ts| into |buf| (OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES):
 * |first| (a formatted "key=value" member, may be empty) then the members of |ts| except those
 * keyed |skip|, at most 32 in all (the right-most dropped). When the result would exceed the
 * buffer, whole members go as the W3C truncation rule says: long ones first, then from the
 * right. Returns the length. */
static size_t write_tracestate(const otel_trace_state *ts, otel_str first, otel_str skip, char *buf)
{
    const size_t cap = OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES;
    size_t max = OTEL_TRACE_STATE_MAX_MEMBERS - (first.len ? 1 : 0);
    otel_str keys[OTEL_TRACE_STATE_MAX_MEMBERS];
    otel_str values[OTEL_TRACE_STATE_MAX_MEMBERS];
    bool keep[OTEL_TRACE_STATE_MAX_MEMBERS];
    size_t count = 0;
    size_t total = first.len;
    for (size_t i = 0; count < max && otel_trace_state_entry(ts, i, &keys[count], &values[count]); i++) {
        if (skip.len && otel_str_eq(keys[count], skip))
            continue;
        keep[count] = true;
        total += (total ? 1 : 0) + keys[count].len + 1 + values[count].len;
        count++;
    }
    /* Separators are counted per member above, so removing one subtracts its comma too. */
    for (size_t pass = 0; pass < 2 && total > cap; pass++) {
        for (size_t i = count; i-- > 0 && total > cap;) {
            size_t member = keys[i].len + 1 + values[i].len;
            if (pass == 0 && member <= TRACESTATE_LONG_MEMBER)
                continue;
            keep[i] = false;
            total -= member + 1;
        }
    }
    size_t pos = 0;
    append(buf, cap, &pos, first);
    for (size_t i = 0; i < count; i++) {
        if (!keep[i])
            continue;
        if (pos && !append(buf, cap, &pos, OTEL_STR(",")))
            break;
        size_t mark = pos;
        if (!append(buf, cap, &pos, keys[i]) || !append(buf, cap, &pos, OTEL_STR("=")) ||
            !append(buf, cap, &pos, values[i])) {
            pos = mark ? mark - 1 : 0; /* never a partial member */
            break;
        }
    }
    return pos;
}

static size_t format_dd_fields(const otel_span_context *sc, const otel_trace_state *ts, char *out);

/* Formats the Datadog member "dd=s:<priority>;p:<span id>[;o:..][;t.*..][;other]" for |sc|,
 * keeping origin, tags and unknown fields of the member |ts| already has. Fields that would take
 * the value past 256 characters are dropped from the right. Returns the length written. */
static size_t format_dd_member(const otel_span_context *sc, const otel_trace_state *ts, char *out)
{
    size_t len = format_dd_fields(sc, ts, out);
    /* A kept field may end in spaces; a tracestate value must not. */
    while (out[len - 1] == ' ')
        len--;
    return len;
}

static size_t format_dd_fields(const otel_span_context *sc, const otel_trace_state *ts, char *out)
{
    struct otel__dd_member m;
    bool have = otel__dd_member_parse(ts, &m);
    bool sampled = (sc->trace_flags & OTEL_TRACE_FLAG_SAMPLED) != 0;
    int32_t priority = otel__dd_priority(&m, have, sampled);
    const size_t cap = 3 + DD_VALUE_MAX;
    size_t pos = 0;
    char num[12];
    char span_hex[16];
    otel__prop_hex_encode(sc->span_id, OTEL_SPAN_ID_SIZE, span_hex);
    append(out, cap, &pos, OTEL_STR("dd=s:"));
    append(out, cap, &pos, (otel_str){ num, otel__prop_format_i32(priority, num) });
    append(out, cap, &pos, OTEL_STR(";p:"));
    append(out, cap, &pos, (otel_str){ span_hex, sizeof(span_hex) });
    /* Optional fields in order; the first one that does not fit ends the list. */
    if (m.origin.len) {
        size_t mark = pos;
        if (!append(out, cap, &pos, OTEL_STR(";o:")) || !append(out, cap, &pos, m.origin))
            return mark;
    }
    for (size_t i = 0; i < m.tag_count; i++) {
        size_t mark = pos;
        if (!append(out, cap, &pos, OTEL_STR(";t.")) || !append(out, cap, &pos, m.tags[i]))
            return mark;
    }
    for (size_t i = 0; i < m.other_count; i++) {
        size_t mark = pos;
        if (!append(out, cap, &pos, OTEL_STR(";")) || !append(out, cap, &pos, m.other[i]))
            return mark;
    }
    return pos;
}

static void tc_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    const struct tc_config *cfg = user_data;
    otel_span_context sc = otel_context_get_span_context(ctx);
    char tp[TRACEPARENT_BUF];
    if (!format_traceparent(&sc, tp))
        return;
    w->set(w->user_data, OTEL_STR("traceparent"), (otel_str){ tp, TRACEPARENT_LEN });

    const otel_trace_state *ts = otel_context_get_trace_state(ctx);
    char buf[OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES + 1];
    size_t len;
    if (cfg && cfg->datadog_interop) {
        char dd[3 + DD_VALUE_MAX];
        size_t dd_len = format_dd_member(&sc, ts, dd);
        len = write_tracestate(ts, (otel_str){ dd, dd_len }, OTEL_STR("dd"), buf);
    } else {
        if (!ts)
            return;
        /* The trace state keeps its header text: within the size limit it goes to the carrier
         * as it is, without a copy here. */
        otel_str text = otel__trace_state_text(ts);
        if (text.len <= OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES) {
            if (text.len)
                w->set(w->user_data, OTEL_STR("tracestate"), text);
            return;
        }
        len = write_tracestate(ts, (otel_str){ NULL, 0 }, (otel_str){ NULL, 0 }, buf);
    }
    if (len)
        w->set(w->user_data, OTEL_STR("tracestate"), (otel_str){ buf, len });
}

static size_t tc_fields(void *user_data, otel_str *names, size_t cap)
{
    (void)user_data;
    static const otel_str fields[] = { { "traceparent", 11 }, { "tracestate", 10 } };
    for (size_t i = 0; i < cap && i < 2; i++)
        names[i] = fields[i];
    return 2;
}

otel_status otel_propagator_tracecontext_with_options(const otel_tracecontext_propagator_options *opts,
                                                      otel_propagator *out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    const struct tc_config *cfg = (opts && opts->datadog_interop) ? &g_interop : &g_plain;
    *out = (otel_propagator){
        .inject = tc_inject,
        .extract = tc_extract,
        .fields = tc_fields,
        .destroy = NULL,
        .user_data = (void *)cfg,
    };
    return OTEL_OK;
}

otel_status otel_propagator_tracecontext(otel_propagator *out)
{
    return otel_propagator_tracecontext_with_options(NULL, out);
}
