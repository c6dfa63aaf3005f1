/* The Datadog exporter's JSON reader and writer (see dd_json.h). The reader is a recursive
 * descent parser with a depth limit; a first pass counts nodes so that one allocation holds them
 * all, and decoded strings go into a second allocation no larger than the input. Numbers are
 * parsed with strtod under the "C" locale, so a program's LC_NUMERIC never changes what a rule's
 * sample_rate means. */
#include "dd_json.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "utf8.h"

/* ---------------------------------------------------------------------------------------------
 * The "C" locale, for strtod and snprintf
 * ------------------------------------------------------------------------------------------- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static locale_t get_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale;
}

/* ---------------------------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------------------------- */

struct parser {
    const char *p;
    const char *end;
    const char *start;
    const char *error; /* static text; NULL while fine */
    const char *error_at;
    struct otel__json_node *nodes; /* NULL in the counting pass */
    uint32_t count;
    char *strings; /* NULL in the counting pass */
    size_t strings_len;
};

static void fail(struct parser *ps, const char *what)
{
    if (!ps->error) {
        ps->error = what;
        ps->error_at = ps->p;
    }
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(struct parser *ps, uint32_t *out)
{
    if (ps->end - ps->p < 4) {
        fail(ps, "truncated \\u escape");
        return false;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(ps->p[i]);
        if (d < 0) {
            fail(ps, "bad hex digit in \\u escape");
            return false;
        }
        v = (v << 4) | (uint32_t)d;
    }
    ps->p += 4;
    *out = v;
    return true;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a string at ps->p (on the opening quote). In the second pass the decoded bytes go to
 * ps->strings and |out| receives them; the decoded form is never longer than the source. */
static bool parse_string(struct parser *ps, otel_str *out)
{
    ps->p++; /* '"' */
    char *dst = ps->strings ? ps->strings + ps->strings_len : NULL;
    size_t n = 0;
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            if (dst) {
                dst[n] = '\0';
                out->data = dst;
                out->len = n;
                ps->strings_len += n + 1;
            }
            return true;
        }
        if (c < 0x20) {
            fail(ps, "control character in string");
            return false;
        }
        if (c != '\\') {
            if (dst)
                dst[n] = (char)c;
            n++;
            ps->p++;
            continue;
        }
        ps->p++;
        if (ps->p >= ps->end)
            break;
        char e = *ps->p++;
        char tmp[4];
        size_t tl = 1;
        switch (e) {
        case '"':
            tmp[0] = '"';
            break;
        case '\\':
            tmp[0] = '\\';
            break;
        case '/':
            tmp[0] = '/';
            break;
        case 'b':
            tmp[0] = '\b';
            break;
        case 'f':
            tmp[0] = '\f';
            break;
        case 'n':
            tmp[0] = '\n';
            break;
        case 'r':
            tmp[0] = '\r';
            break;
        case 't':
            tmp[0] = '\t';
            break;
        case 'u': {
            uint32_t cp;
            if (!read_hex4(ps, &cp))
                return false;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (ps->end - ps->p >= 2 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                    ps->p += 2;
                    if (!read_hex4(ps, &lo))
                        return false;
                    if (lo >= 0xdc00 && lo <= 0xdfff)
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    else
                        cp = 0xfffd;
                } else {
                    cp = 0xfffd;
                }
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                cp = 0xfffd;
            }
            /* "\uXXXX" is 6 source bytes and at most 3 decoded; a surrogate pair is 12 and 4. */
            tl = utf8_encode(cp, tmp);
            break;
        }
        default:
            ps->p--;
            fail(ps, "bad escape in string");
            return false;
        }
        if (dst)
            memcpy(dst + n, tmp, tl);
        n += tl;
    }
    fail(ps, "unterminated string");
    return false;
}

static bool parse_number(struct parser *ps, struct otel__json_node *node)
{
    const char *s = ps->p;
    const char *q = s;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
        fail(ps, "bad number");
        return false;
    }
    if (*q == '0') {
        q++;
    } else {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
            ps->p = q;
            fail(ps, "bad number: digit expected after '.'");
            return false;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
            ps->p = q;
            fail(ps, "bad number: digit expected in exponent");
            return false;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (node) {
        char tmp[64];
        size_t n = (size_t)(q - s);
        double v;
        if (n < sizeof(tmp)) {
            memcpy(tmp, s, n);
            tmp[n] = '\0';
            locale_t loc = get_c_locale();
            v = loc ? strtod_l(tmp, NULL, loc) : strtod(tmp, NULL);
        } else {
            /* Absurdly long numbers (many digits) are not worth exactness. */
            v = (*s == '-') ? -HUGE_VAL : HUGE_VAL;
        }
        node->number = v;
        node->str.data = s;
        node->str.len = n;
    }
    ps->p = q;
    return true;
}

static bool literal(struct parser *ps, const char *lit, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0) {
        fail(ps, "unexpected character");
        return false;
    }
    ps->p += n;
    return true;
}

static uint32_t new_node(struct parser *ps, enum otel__json_type type)
{
    uint32_t idx = ps->count++;
    if (ps->nodes) {
        struct otel__json_node *n = &ps->nodes[idx];
        memset(n, 0, sizeof(*n));
        n->type = type;
        n->first_child = OTEL__JSON_NONE;
        n->next = OTEL__JSON_NONE;
    }
    return idx;
}

static bool parse_value(struct parser *ps, int depth, uint32_t *out_idx);

static bool parse_container(struct parser *ps, int depth, bool object, uint32_t idx)
{
    ps->p++; /* '[' or '{' */
    uint32_t prev = OTEL__JSON_NONE;
    uint32_t count = 0;
    skip_ws(ps);
    char close = object ? '}' : ']';
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return true;
    }
    for (;;) {
        otel_str key = { "", 0 };
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, "member name expected");
                return false;
            }
            if (!parse_string(ps, &key))
                return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail(ps, "':' expected");
                return false;
            }
            ps->p++;
        }
        uint32_t child;
        if (!parse_value(ps, depth + 1, &child))
            return false;
        if (ps->nodes) {
            ps->nodes[child].key = key;
            if (prev == OTEL__JSON_NONE)
                ps->nodes[idx].first_child = child;
            else
                ps->nodes[prev].next = child;
        }
        prev = child;
        count++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            if (ps->nodes)
                ps->nodes[idx].count = count;
            return true;
        }
        fail(ps, object ? "',' or '}' expected" : "',' or ']' expected");
        return false;
    }
}

static bool parse_value(struct parser *ps, int depth, uint32_t *out_idx)
{
    if (depth > OTEL__JSON_MAX_DEPTH) {
        fail(ps, "nested too deeply");
        return false;
    }
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, "value expected");
        return false;
    }
    uint32_t idx;
    switch (*ps->p) {
    case '{':
        idx = new_node(ps, OTEL__JSON_OBJECT);
        *out_idx = idx;
        return parse_container(ps, depth, true, idx);
    case '[':
        idx = new_node(ps, OTEL__JSON_ARRAY);
        *out_idx = idx;
        return parse_container(ps, depth, false, idx);
    case '"': {
        idx = new_node(ps, OTEL__JSON_STRING);
        *out_idx = idx;
        otel_str s = { "", 0 };
        if (!parse_string(ps, &s))
            return false;
        if (ps->nodes)
            ps->nodes[idx].str = s;
        return true;
    }
    case 't':
        *out_idx = new_node(ps, OTEL__JSON_TRUE);
        return literal(ps, "true", 4);
    case 'f':
        *out_idx = new_node(ps, OTEL__JSON_FALSE);
        return literal(ps, "false", 5);
    case 'n':
        *out_idx = new_node(ps, OTEL__JSON_NULL);
        return literal(ps, "null", 4);
    default:
        idx = new_node(ps, OTEL__JSON_NUMBER);
        *out_idx = idx;
        return parse_number(ps, ps->nodes ? &ps->nodes[idx] : NULL);
    }
}

static bool run(struct parser *ps)
{
    uint32_t root;
    if (!parse_value(ps, 0, &root))
        return false;
    skip_ws(ps);
    if (ps->p != ps->end) {
        fail(ps, "trailing characters after the value");
        return false;
    }
    return true;
}

otel_status otel__json_parse(otel_str text, struct otel__json_doc *doc, size_t *err_offset,
                             const char **err_what)
{
    const char *data = text.data ? text.data : "";
    struct parser ps = { .p = data, .end = data + text.len, .start = data };
    /* Pass 1: validate and count. */
    if (!run(&ps)) {
        if (err_offset)
            *err_offset = (size_t)(ps.error_at - data);
        if (err_what)
            *err_what = ps.error;
        return OTEL_ERR_INVALID_ARG;
    }
    uint32_t count = ps.count;
    struct otel__json_node *nodes = otel__calloc(count, sizeof(*nodes));
    if (!nodes)
        return OTEL_ERR_NOMEM;
    char *strings = otel__malloc(text.len + 1);
    if (!strings) {
        otel__free(nodes);
        return OTEL_ERR_NOMEM;
    }
    /* Pass 2: build. It cannot fail: the same input was accepted above. */
    struct parser ps2 = {
        .p = data, .end = data + text.len, .start = data, .nodes = nodes, .strings = strings
    };
    run(&ps2);
    doc->nodes = nodes;
    doc->count = count;
    doc->strings = strings;
    return OTEL_OK;
}

void otel__json_free(struct otel__json_doc *doc)
{
    if (!doc)
        return;
    otel__free(doc->nodes);
    otel__free(doc->strings);
    doc->nodes = NULL;
    doc->strings = NULL;
    doc->count = 0;
}

const struct otel__json_node *otel__json_get(const struct otel__json_doc *doc,
                                             const struct otel__json_node *obj, const char *key)
{
    if (!obj || obj->type != OTEL__JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    const struct otel__json_node *found = NULL;
    for (const struct otel__json_node *c = otel__json_child(doc, obj); c; c = otel__json_next(doc, c)) {
        if (c->key.len == kl && memcmp(c->key.data, key, kl) == 0)
            found = c; /* a repeated member: the last one wins, as in most parsers */
    }
    return found;
}

const char *otel__json_type_name(enum otel__json_type t)
{
    switch (t) {
    case OTEL__JSON_NULL:
        return "null";
    case OTEL__JSON_FALSE:
    case OTEL__JSON_TRUE:
        return "boolean";
    case OTEL__JSON_NUMBER:
        return "number";
    case OTEL__JSON_STRING:
        return "string";
    case OTEL__JSON_ARRAY:
        return "array";
    case OTEL__JSON_OBJECT:
        return "object";
    }
    return "value";
}

/* ---------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------- */

/* 1 for the bytes a JSON string cannot hold as they are: control characters, '"', '\\', and
 * every non-ASCII byte (checked as UTF-8 on the slow path). */
static const uint8_t needs_care[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(1), R16(1), /* 0x00-0x1f */
    0,      0,      1,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      0,      0,      0,      0, /* 0x20-0x2f: '"' */
    R16(0),                                                    /* 0x30-0x3f */
    R16(0),                                                    /* 0x40-0x4f */
    0,      0,      0,      0,      0,      0,      0,      0,
    0,      0,      0,      0,      1,      0,      0,      0,      /* 0x50-0x5f: '\\' */
    R16(0), R16(0),                                                 /* 0x60-0x7f */
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), /* 0x80-0xff */
#undef R16
};

void otel__json_put_str(struct otel__dd_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case 6 output bytes per input byte, plus quotes. */
    if (!otel__dd_buf_reserve(b, len * 6 + 2))
        return;
    uint8_t *o = b->data + b->len;
    *o++ = '"';
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* Runs of plain bytes are copied in one go: most strings are one run. */
        size_t j = i;
        while (j < len && !needs_care[p[j]])
            j++;
        if (j > i) {
            memcpy(o, p + i, j - i);
            o += j - i;
            i = j;
            if (i == len)
                break;
        }
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t l = otel__utf8_seq_len(p + i, len - i);
            if (l) {
                memcpy(o, p + i, l);
                o += l;
                i += l;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i++;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = (uint8_t)hex[c >> 4];
            *o++ = (uint8_t)hex[c & 15];
        }
        i++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
}

/* Two decimal digits per step. */
const char otel__json_digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                         "31323334353637383940414243444546474849505152535455565758596061"
                                         "62636465666768697071727374757677787980818283848586878889909192"
                                         "93949596979899";

/* Four digits of |v| (< 10^4) at |q|. */
static inline void four_digits(uint8_t *q, uint32_t v)
{
    uint32_t hi = v / 100;
    memcpy(q, otel__json_digit_pairs + 2 * hi, 2);
    memcpy(q + 2, otel__json_digit_pairs + 2 * (v - hi * 100), 2);
}

static const uint64_t pow10_u64[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

size_t otel__json_uint_len(uint64_t v)
{
    /* log10 from log2 (1233 / 4096 ~ log10(2)), then one compare. */
    uint64_t u = v | 1; /* same digit count; 0 counts as 1 */
    unsigned bits = 64u - (unsigned)__builtin_clzll(u);
    size_t n = (bits * 1233u) >> 12;
    return n + (u >= pow10_u64[n]);
}

uint8_t *otel__json_w_uint(uint8_t *p, uint64_t v)
{
    uint8_t *end = p + otel__json_uint_len(v), *q = end;
    /* Blocks of 8 digits in 32-bit arithmetic, each split in two halves of 4: a 19-digit
     * timestamp takes two 64-bit divisions (multiplications) instead of nine. */
    while (v >= 100000000) {
        uint64_t hi = v / 100000000;
        uint32_t lo = (uint32_t)(v - hi * 100000000);
        uint32_t a = lo / 10000;
        q -= 8;
        four_digits(q, a);
        four_digits(q + 4, lo - a * 10000);
        v = hi;
    }
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        uint32_t r = w % 100;
        w /= 100;
        q -= 2;
        memcpy(q, otel__json_digit_pairs + 2 * r, 2);
    }
    if (w >= 10) {
        q -= 2;
        memcpy(q, otel__json_digit_pairs + 2 * w, 2);
    } else {
        *--q = (uint8_t)('0' + w);
    }
    return end;
}

bool otel__json_is_plain(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len < 8) {
        for (size_t i = 0; i < len; i++)
            if (needs_care[p[i]])
                return false;
        return true;
    }
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        if (!otel__json_word_plain(s + i))
            return false;
    return i == len || otel__json_word_plain(s + len - 8); /* the tail, overlapping */
}

void otel__json_put_uint(struct otel__dd_buf *b, uint64_t v)
{
    if (!otel__dd_buf_reserve(b, 20))
        return;
    b->len = (size_t)(otel__json_w_uint(b->data + b->len, v) - b->data);
}

void otel__json_put_int(struct otel__dd_buf *b, int64_t v)
{
    if (v < 0) {
        otel__dd_buf_byte(b, '-');
        otel__json_put_uint(b, (uint64_t)0 - (uint64_t)v);
        return;
    }
    otel__json_put_uint(b, (uint64_t)v);
}

size_t otel__json_format_double(double d, char *out)
{
    if (isnan(d)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(d)) {
        if (d < 0) {
            memcpy(out, "-Infinity", 10);
            return 9;
        }
        memcpy(out, "Infinity", 9);
        return 8;
    }
    locale_t loc = get_c_locale();
    locale_t old = loc ? uselocale(loc) : (locale_t)0;
    int n = 0;
    /* The shortest of 15, 16, 17 significant digits that reads back exactly. */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
    if (loc)
        uselocale(old);
    return n > 0 ? (size_t)n : 0;
}

void otel__json_put_double(struct otel__dd_buf *b, double d)
{
    char tmp[32];
    size_t n = otel__json_format_double(d, tmp);
    if (isnan(d) || isinf(d)) {
        otel__json_put_str(b, tmp, n);
        return;
    }
    otel__dd_buf_put(b, tmp, n);
}

static void put_base64(struct otel__dd_buf *b, const uint8_t *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!otel__dd_buf_reserve(b, (n + 2) / 3 * 4 + 2))
        return;
    uint8_t *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
        *o++ = (uint8_t)tbl[v >> 18];
        *o++ = (uint8_t)tbl[(v >> 12) & 63];
        *o++ = (uint8_t)tbl[(v >> 6) & 63];
        *o++ = (uint8_t)tbl[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = (uint8_t)tbl[v >> 18];
        *o++ = (uint8_t)tbl[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
        *o++ = (uint8_t)tbl[v >> 18];
        *o++ = (uint8_t)tbl[(v >> 12) & 63];
        *o++ = (uint8_t)tbl[(v >> 6) & 63];
        *o++ = '=';
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
}

void otel__json_put_value(struct otel__dd_buf *b, const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_BOOL:
        if (v->as.b)
            OTEL__JSON_LIT(b, "true");
        else
            OTEL__JSON_LIT(b, "false");
        return;
    case OTEL_VALUE_INT:
        otel__json_put_int(b, v->as.i);
        return;
    case OTEL_VALUE_DOUBLE:
        otel__json_put_double(b, v->as.d);
        return;
    case OTEL_VALUE_STR:
        otel__json_put_str(b, v->as.s.data, v->as.s.len);
        return;
    case OTEL_VALUE_BYTES:
        put_base64(b, (const uint8_t *)v->as.s.data, v->as.s.len);
        return;
    case OTEL_VALUE_ARRAY: {
        otel__dd_buf_byte(b, '[');
        for (size_t i = 0; i < v->as.array.len; i++) {
            if (i)
                otel__dd_buf_byte(b, ',');
            otel_value item;
            switch (v->array_type) {
            case OTEL_VALUE_BOOL:
                item = otel_value_bool(((const bool *)v->as.array.items)[i]);
                break;
            case OTEL_VALUE_INT:
                item = otel_value_int(((const int64_t *)v->as.array.items)[i]);
                break;
            case OTEL_VALUE_DOUBLE:
                item = otel_value_double(((const double *)v->as.array.items)[i]);
                break;
            case OTEL_VALUE_STR:
                item = otel_value_str(((const otel_str *)v->as.array.items)[i]);
                break;
            default:
                item.type = OTEL_VALUE_EMPTY;
                break;
            }
            if (item.type == OTEL_VALUE_EMPTY)
                OTEL__JSON_LIT(b, "null");
            else
                otel__json_put_value(b, &item);
        }
        otel__dd_buf_byte(b, ']');
        return;
    }
    case OTEL_VALUE_EMPTY:
        break;
    }
    OTEL__JSON_LIT(b, "null");
}
