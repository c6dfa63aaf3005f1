/* Helpers shared by the propagators of this library: header-name matching, OWS trimming, hex
 * and decimal codecs, percent encoding, the debug-trace marker that B3 and Jaeger keep in the
 * context, and attaching an extracted span context. Everything here works on caller-provided
 * buffers; nothing allocates except the context helpers. Private to propagators/ (and tests). */
#ifndef OTEL_PROP_INTERNAL_H
#define OTEL_PROP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/baggage.h"
#include "otel/propagators.h"

#include "log_internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Debug diagnostics of the extractors: rate-limited per call site, and cheap when debug logging
 * is off. */
#define OTEL__PROP_DEBUG(...) OTEL__LOG(OTEL_LOG_DEBUG, __VA_ARGS__)

/* ---------------------------------------------------------------------------------------------
 * Characters and strings
 * ------------------------------------------------------------------------------------------- */

static inline bool otel__prop_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* |s| without leading and trailing spaces and tabs. */
static inline otel_str otel__prop_trim(otel_str s)
{
    while (s.len && otel__prop_is_ows(s.data[0])) {
        s.data++;
        s.len--;
    }
    while (s.len && otel__prop_is_ows(s.data[s.len - 1]))
        s.len--;
    return s;
}

static inline unsigned char otel__prop_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive equality of two header names. */
bool otel__prop_name_ieq(otel_str a, otel_str b);

/* True when |name| starts with |prefix| (ASCII case-insensitive). */
bool otel__prop_name_has_prefix(otel_str name, otel_str prefix);

/* Character classes, one table lookup each: RFC 7230 tchar (header names, baggage keys), W3C
 * baggage-octet (%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E), RFC 3986 unreserved, and
 * printable ASCII (0x20-0x7E). */
enum {
    OTEL__CC_TCHAR = 1,
    OTEL__CC_BAGGAGE = 2,
    OTEL__CC_UNRESERVED = 4,
    OTEL__CC_PRINT = 8,
};
extern const uint8_t otel__prop_cclass[256];

static inline bool otel__prop_is_tchar(unsigned char c)
{
    return (otel__prop_cclass[c] & OTEL__CC_TCHAR) != 0;
}

static inline bool otel__prop_is_baggage_octet(unsigned char c)
{
    return (otel__prop_cclass[c] & OTEL__CC_BAGGAGE) != 0;
}

/* True when every byte of |s| is in |cls| (and |s| is not empty when |nonempty|). */
static inline bool otel__prop_all_in(otel_str s, unsigned cls, bool nonempty)
{
    if (nonempty && s.len == 0)
        return false;
    unsigned all = cls;
    for (size_t i = 0; i < s.len; i++)
        all &= otel__prop_cclass[(unsigned char)s.data[i]];
    return all == cls;
}

static inline bool otel__prop_is_token(otel_str s)
{
    return otel__prop_all_in(s, OTEL__CC_TCHAR, true);
}

/* ---------------------------------------------------------------------------------------------
 * Reading the carrier
 * ------------------------------------------------------------------------------------------- */

/* The first line of header |name| in *value (trimmed of OWS); returns how many lines the
 * carrier has (0: absent, *value untouched). */
size_t otel__prop_get_first(const otel_carrier_reader *r, otel_str name, otel_str *value);

/* ---------------------------------------------------------------------------------------------
 * Hex and decimal
 * ------------------------------------------------------------------------------------------- */

/* Digit value plus one (1-16), or 0 for a character that is not a hex digit (either case). */
extern const uint8_t otel__prop_hex_any[256];

/* Decodes exactly 2*|n| hex digits at |src| into |out| (|n| bytes); lowercase digits only when
 * |lowercase_only|. Returns false (|out| may be partly written) on a bad digit. Blocks of 16
 * digits are decoded with SSE2 where available. */
bool otel__prop_hex_decode(const char *src, size_t n, uint8_t *out, bool lowercase_only);

/* Decodes 1 to 2*|n| hex digits of |hex|, left-padded with zeros, into |out| (|n| bytes).
 * Returns false on a bad digit or length; |out| is written only on success. */
bool otel__prop_hex_decode_padded(otel_str hex, uint8_t *out, size_t n, bool lowercase_only);

/* Writes 2*|n| lowercase hex digits of |in| to |out| (no NUL). */
void otel__prop_hex_encode(const uint8_t *in, size_t n, char *out);

/* Parses an unsigned decimal (1 to 20 digits, no sign, no overflow) into *out. */
bool otel__prop_parse_u64(otel_str s, uint64_t *out);

/* Parses a decimal int32 with an optional leading '-' or '+' into *out. */
bool otel__prop_parse_i32(otel_str s, int32_t *out);

/* Writes |v| in decimal to |out| (at least 20 bytes; no NUL) and returns the length. */
size_t otel__prop_format_u64(uint64_t v, char *out);

/* Writes |v| in decimal to |out| (at least 11 bytes; no NUL) and returns the length. */
size_t otel__prop_format_i32(int32_t v, char *out);

/* Big-endian load and store of 8 bytes. */
static inline uint64_t otel__prop_load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void otel__prop_store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Percent encoding
 * ------------------------------------------------------------------------------------------- */

/* Percent-decodes |in| into |out| (|cap| bytes). With |plus_is_space|, '+' decodes to ' '.
 * With |utf8_replace|, each maximal byte sequence that is not valid UTF-8 is replaced by U+FFFD
 * (EF BF BD), as W3C Baggage requires. When |in| is printable ASCII, the result is never longer
 * than |in| (a replaced byte came from a 3-character escape). Returns the decoded length, or
 * SIZE_MAX for a '%' not followed by two hex digits or a result that does not fit. */
size_t otel__prop_percent_decode(otel_str in, char *out, size_t cap, bool plus_is_space, bool utf8_replace);

/* Percent-encodes |in| into |out| (|cap| bytes): bytes of character class |keep| (OTEL__CC_*)
 * are copied, the others (and '%') become %XX. Returns the encoded length, or SIZE_MAX when it
 * does not fit. */
size_t otel__prop_percent_encode(otel_str in, char *out, size_t cap, unsigned keep);

/* ---------------------------------------------------------------------------------------------
 * Context helpers
 * ------------------------------------------------------------------------------------------- */

/* The marker B3 ("d", X-B3-Flags) and Jaeger (flag 0x02) keep in the context for a debug trace:
 * a small heap copy of the trace id it belongs to, so that a new trace started under the same
 * context does not inherit it. */
extern const otel_context_key otel__prop_debug_key;

/* True when |ctx| carries the debug marker for |trace_id|. */
bool otel__prop_is_debug(const otel_context *ctx, const uint8_t trace_id[OTEL_TRACE_ID_SIZE]);

/* Returns a new reference: |ctx| plus the remote span context |sc| (is_remote is set here), its
 * trace state |ts| (may be NULL; retained) and, when |debug|, the debug marker. On allocation
 * failure returns a new reference to |ctx| (diagnostic given). */
otel_context *otel__prop_attach(const otel_context *ctx, otel_span_context sc, const otel_trace_state *ts,
                                bool debug);

/* otel__prop_attach() taking over the caller's reference to |ts| (released on failure too). */
otel_context *otel__prop_attach_owned(const otel_context *ctx, otel_span_context sc, otel_trace_state *ts,
                                      bool debug);

/* Adds |name|=|value| (+|metadata|) to *bg (a reference the caller owns, may be NULL), replacing
 * *bg on success. Returns false (and leaves *bg) when the baggage limits refuse it or memory
 * runs out; diagnostics are the caller's. */
bool otel__prop_baggage_add(otel_baggage **bg, otel_str name, otel_str value, otel_str metadata,
                            otel_status *st);

/* Returns a new reference: |ctx| with baggage |bg| (borrowed) when |bg| differs from ctx's
 * baggage, else a new reference to |ctx|. */
otel_context *otel__prop_with_baggage(const otel_context *ctx, const otel_baggage *bg);

/* The Datadog member of a W3C trace state, parsed for injection (otel_propagator_datadog and
 * the tracecontext propagator's Datadog interop). Slices point into the trace state. */
struct otel__dd_member {
    bool has_priority;
    int32_t priority;
    otel_str origin;   /* still with '~' for '=' */
    otel_str tags[16]; /* "t.<name>:<value>" fields, without the leading "t." */
    size_t tag_count;
    otel_str other[8]; /* unknown fields, kept verbatim by the tracecontext interop */
    size_t other_count;
};

/* Parses the "dd" member of |ts| (false when there is none). */
bool otel__dd_member_parse(const otel_trace_state *ts, struct otel__dd_member *m);

/* The sampling priority to send: the member's when it agrees with |sampled|, else 1 or 0. */
int32_t otel__dd_priority(const struct otel__dd_member *m, bool have_member, bool sampled);

#ifdef __cplusplus
}
#endif

#endif
