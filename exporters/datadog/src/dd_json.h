/* A small JSON reader and writer for the Datadog exporter. The reader parses a whole document
 * into a flat array of nodes (one allocation for the nodes, one for the decoded strings) and is
 * used for two untrusted inputs: DD_TRACE_SAMPLING_RULES and the agent's rate_by_service
 * answer. It is strict RFC 8259 (no comments, no trailing commas), limits nesting depth, and
 * reports the byte offset of the first error. The writer appends escaped JSON text to a
 * buffer, for span events and links that travel as JSON strings in meta. */
#ifndef OTEL_DD_JSON_H
#define OTEL_DD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dd_msgpack.h"
#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum otel__json_type {
    OTEL__JSON_NULL = 0,
    OTEL__JSON_FALSE,
    OTEL__JSON_TRUE,
    OTEL__JSON_NUMBER,
    OTEL__JSON_STRING,
    OTEL__JSON_ARRAY,
    OTEL__JSON_OBJECT,
};

#define OTEL__JSON_NONE UINT32_MAX /* no child / no sibling */
#define OTEL__JSON_MAX_DEPTH 32

/* One value. Members of an object carry their |key|; children are linked through |next|. */
struct otel__json_node {
    enum otel__json_type type;
    uint32_t first_child; /* ARRAY, OBJECT */
    uint32_t next;        /* next element or member of the parent */
    uint32_t count;       /* ARRAY, OBJECT: number of children */
    otel_str key;         /* object member name (decoded); empty otherwise */
    otel_str str;         /* STRING (decoded, NUL-terminated); NUMBER: its source text */
    double number;        /* NUMBER */
};

struct otel__json_doc {
    struct otel__json_node *nodes; /* nodes[0] is the root */
    uint32_t count;
    char *strings; /* decoded string storage */
};

/* Parses |text|. On success fills |doc| (free it with otel__json_free) and returns OTEL_OK. A
 * syntax error returns OTEL_ERR_INVALID_ARG with *err_offset the byte offset where parsing
 * stopped and *err_what a static description; no memory is kept. OTEL_ERR_NOMEM when out of
 * memory. */
otel_status otel__json_parse(otel_str text, struct otel__json_doc *doc, size_t *err_offset,
                             const char **err_what);

void otel__json_free(struct otel__json_doc *doc);

/* The member |key| of object node |obj|, or NULL. */
const struct otel__json_node *otel__json_get(const struct otel__json_doc *doc,
                                             const struct otel__json_node *obj, const char *key);

/* The child after |n| in its parent, or NULL. */
static inline const struct otel__json_node *otel__json_next(const struct otel__json_doc *doc,
                                                            const struct otel__json_node *n)
{
    return n->next == OTEL__JSON_NONE ? NULL : &doc->nodes[n->next];
}

/* The first child of |n|, or NULL. */
static inline const struct otel__json_node *otel__json_child(const struct otel__json_doc *doc,
                                                             const struct otel__json_node *n)
{
    return n->first_child == OTEL__JSON_NONE ? NULL : &doc->nodes[n->first_child];
}

/* Static name of a node type ("string", "object", ...), for diagnostics. */
const char *otel__json_type_name(enum otel__json_type t);

/* ---------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------- */

/* Appends |s| as a quoted JSON string. Control characters and invalid UTF-8 bytes are escaped
 * (an invalid byte becomes U+FFFD), so the output is always valid JSON and valid UTF-8. */
void otel__json_put_str(struct otel__dd_buf *b, const char *s, size_t len);

/* Appends a number: integers exactly, doubles with up to 17 significant digits (NaN and
 * infinities, which JSON lacks, as the strings "NaN", "Infinity", "-Infinity"). */
void otel__json_put_int(struct otel__dd_buf *b, int64_t v);
void otel__json_put_uint(struct otel__dd_buf *b, uint64_t v);
void otel__json_put_double(struct otel__dd_buf *b, double d);

/* The number of decimal digits of |v| (1 for 0), and its digits written at |p| (returns the
 * end; at most 20 bytes). */
size_t otel__json_uint_len(uint64_t v);
uint8_t *otel__json_w_uint(uint8_t *p, uint64_t v);
/* "00" "01" ... "99". */
extern const char otel__json_digit_pairs[201];

/* Exactly 8 digits of |v| (< 10^8), leading zeros included; returns p + 8. */
static inline uint8_t *otel__json_w_8digits(uint8_t *p, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v - hi * 10000;
    uint32_t a = hi / 100, b = lo / 100;
    memcpy(p, otel__json_digit_pairs + 2 * a, 2);
    memcpy(p + 2, otel__json_digit_pairs + 2 * (hi - a * 100), 2);
    memcpy(p + 4, otel__json_digit_pairs + 2 * b, 2);
    memcpy(p + 6, otel__json_digit_pairs + 2 * (lo - b * 100), 2);
    return p + 8;
}

/* True when otel__json_put_str would copy |s| as it is between the quotes: ASCII with no byte
 * below 0x20, no '"' and no '\\'. */
bool otel__json_is_plain(const char *s, size_t len);

/* The same for 8 bytes at |p|: none below 0x20, '"', '\\' or with the top bit set (x ^ c has a
 * zero byte where a byte equals c; the "has a byte below n" test is exact about whether there
 * is one). */
static inline bool otel__json_word_plain(const char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t bad = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w;
    return (bad & high) == 0;
}

/* otel__json_is_plain with the usual short names (8 to 16 bytes: two overlapping words) inline;
 * with SSE2 the two words are tested together (a signed compare below 0x20 catches control
 * bytes and bytes of 0x80 and above, as otel__json_word_plain does). */
static inline bool otel__json_is_plain_fast(const char *s, size_t len)
{
    if (len >= 8 && len <= 16) {
#if defined(__SSE2__)
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
        __m128i v = _mm_set_epi64x((long long)b, (long long)a);
        __m128i bad = _mm_or_si128(
            _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
        return _mm_movemask_epi8(bad) == 0;
#else
        return otel__json_word_plain(s) && otel__json_word_plain(s + len - 8);
#endif
    }
    return otel__json_is_plain(s, len);
}

/* Appends an attribute value: strings quoted, numbers and booleans bare, arrays as JSON arrays,
 * bytes as a base64 string, empty values as null. */
void otel__json_put_value(struct otel__dd_buf *b, const otel_value *v);

/* Formats |d| into |out| (at least 32 bytes) as JSON would and returns the length: shortest
 * round-trip form with '.' as the decimal separator whatever the locale. */
size_t otel__json_format_double(double d, char *out);

static inline void otel__json_lit(struct otel__dd_buf *b, const char *s, size_t len)
{
    otel__dd_buf_put(b, s, len);
}
#define OTEL__JSON_LIT(b, lit) otel__json_lit((b), "" lit, sizeof(lit) - 1)

#ifdef __cplusplus
}
#endif

#endif
