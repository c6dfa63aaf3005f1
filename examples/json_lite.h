/* A small JSON reader shared by the HTTP examples (not part of the otelc libraries): parses one
 * JSON text (RFC 8259) into a tree of nodes, for the W3C test-service body in http_server.c and
 * for the console exporter's JSON lines in trace_view.c. It treats its input as hostile: the
 * nesting depth and the node count are bounded, strings are checked (control characters,
 * escapes, surrogate pairs), and every error is a NULL result with a message, never a crash.
 * Each node also keeps its source text, so a value can be passed on verbatim. */
#ifndef OTELC_EXAMPLES_JSON_LITE_H
#define OTELC_EXAMPLES_JSON_LITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_node {
    json_type type;
    char *str; /* STRING: decoded UTF-8, NUL-terminated; NUMBER: its text */
    size_t len;
    char *key; /* member name (decoded) when the parent is an object */
    size_t key_len;
    const char *raw; /* the value's source text (borrowed from the input) */
    size_t raw_len;
    struct json_node *child; /* ARRAY, OBJECT: first element or member */
    struct json_node *next;  /* next sibling */
} json_node;

typedef struct json_limits {
    size_t max_depth; /* 0: 64 */
    size_t max_nodes; /* 0: 1000000 */
} json_limits;

struct json_parser {
    const char *p;
    const char *end;
    size_t depth;
    size_t nodes;
    json_limits lim;
    const char *error;
    size_t error_at;
    const char *start;
};

static inline void json_free(json_node *n)
{
    while (n) {
        json_node *next = n->next;
        json_free(n->child);
        free(n->str);
        free(n->key);
        free(n);
        n = next;
    }
}

static inline bool json__fail(struct json_parser *ps, const char *msg)
{
    if (!ps->error) {
        ps->error = msg;
        ps->error_at = (size_t)(ps->p - ps->start);
    }
    return false;
}

static inline void json__skip_ws(struct json_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static inline int json__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline bool json__read_u16(struct json_parser *ps, unsigned *out)
{
    if (ps->end - ps->p < 4)
        return json__fail(ps, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = json__hex(ps->p[i]);
        if (h < 0)
            return json__fail(ps, "bad \\u escape");
        v = v << 4 | (unsigned)h;
    }
    ps->p += 4;
    *out = v;
    return true;
}

static inline size_t json__put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads a string at ps->p (on the opening quote) into a new NUL-terminated buffer. The decoded
 * form is never longer than the source, so one allocation of the source length suffices. */
static inline bool json__string(struct json_parser *ps, char **out, size_t *out_len)
{
    ps->p++; /* the quote */
    const char *s = ps->p;
    while (s < ps->end && *s != '"') {
        if (*s == '\\')
            s++;
        s++;
    }
    if (s >= ps->end)
        return json__fail(ps, "unterminated string");
    char *buf = malloc((size_t)(s - ps->p) + 1);
    if (!buf)
        return json__fail(ps, "out of memory");
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            free(buf);
            return json__fail(ps, "control character in string");
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            ps->p++;
            continue;
        }
        ps->p++;
        char e = *ps->p++;
        switch (e) {
        case '"':
            buf[n++] = '"';
            break;
        case '\\':
            buf[n++] = '\\';
            break;
        case '/':
            buf[n++] = '/';
            break;
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (!json__read_u16(ps, &cp)) {
                free(buf);
                return false;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    free(buf);
                    return json__fail(ps, "lone high surrogate");
                }
                ps->p += 2;
                if (!json__read_u16(ps, &lo)) {
                    free(buf);
                    return false;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return json__fail(ps, "bad low surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return json__fail(ps, "lone low surrogate");
            }
            /* "\uXXXX" is 6 source bytes and at most 3 decoded ones (a pair: 12 and 4). */
            n += json__put_utf8(buf + n, cp);
            break;
        }
        default:
            free(buf);
            return json__fail(ps, "bad escape");
        }
    }
    ps->p++; /* closing quote */
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return true;
}

static inline bool json__digits(struct json_parser *ps)
{
    const char *s = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    return ps->p > s;
}

static inline bool json__number(struct json_parser *ps)
{
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p < ps->end && *ps->p == '0')
        ps->p++;
    else if (!json__digits(ps))
        return json__fail(ps, "bad number");
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (!json__digits(ps))
            return json__fail(ps, "bad fraction");
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!json__digits(ps))
            return json__fail(ps, "bad exponent");
    }
    return true;
}

static inline bool json__literal(struct json_parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return json__fail(ps, "unexpected character");
    ps->p += n;
    return true;
}

static inline json_node *json__value(struct json_parser *ps);

/* Parses the elements (or members) of an array (object) into |parent|. */
static inline bool json__container(struct json_parser *ps, json_node *parent, bool object)
{
    char close = object ? '}' : ']';
    if (++ps->depth > ps->lim.max_depth)
        return json__fail(ps, "nested too deeply");
    ps->p++; /* [ or { */
    json__skip_ws(ps);
    json_node **tail = &parent->child;
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return true;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        json__skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return json__fail(ps, "expected a member name");
            if (!json__string(ps, &key, &key_len))
                return false;
            json__skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                return json__fail(ps, "expected ':'");
            }
            ps->p++;
        }
        json_node *v = json__value(ps);
        if (!v) {
            free(key);
            return false;
        }
        v->key = key;
        v->key_len = key_len;
        *tail = v;
        tail = &v->next;
        json__skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return true;
        }
        return json__fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static inline json_node *json__value(struct json_parser *ps)
{
    json__skip_ws(ps);
    if (ps->p >= ps->end) {
        json__fail(ps, "unexpected end of input");
        return NULL;
    }
    if (++ps->nodes > ps->lim.max_nodes) {
        json__fail(ps, "too many values");
        return NULL;
    }
    json_node *n = calloc(1, sizeof(*n));
    if (!n) {
        json__fail(ps, "out of memory");
        return NULL;
    }
    n->raw = ps->p;
    bool ok;
    switch (*ps->p) {
    case '{':
        n->type = JSON_OBJECT;
        ok = json__container(ps, n, true);
        break;
    case '[':
        n->type = JSON_ARRAY;
        ok = json__container(ps, n, false);
        break;
    case '"':
        n->type = JSON_STRING;
        ok = json__string(ps, &n->str, &n->len);
        break;
    case 't':
        n->type = JSON_TRUE;
        ok = json__literal(ps, "true");
        break;
    case 'f':
        n->type = JSON_FALSE;
        ok = json__literal(ps, "false");
        break;
    case 'n':
        n->type = JSON_NULL;
        ok = json__literal(ps, "null");
        break;
    default:
        n->type = JSON_NUMBER;
        ok = json__number(ps);
        if (ok) {
            n->len = (size_t)(ps->p - n->raw);
            n->str = malloc(n->len + 1);
            if (n->str) {
                memcpy(n->str, n->raw, n->len);
                n->str[n->len] = '\0';
            } else {
                ok = json__fail(ps, "out of memory");
            }
        }
        break;
    }
    if (!ok) {
        json_free(n);
        return NULL;
    }
    n->raw_len = (size_t)(ps->p - n->raw);
    return n;
}

/* Parses the JSON text |text| (|len| bytes, no NUL needed) within |lim| (NULL: defaults).
 * Returns the root node (free it with json_free()) or NULL with a message in |err|. */
static inline json_node *json_parse(const char *text, size_t len, const json_limits *lim, char *err,
                                    size_t err_cap)
{
    struct json_parser ps = { .p = text, .end = text + len, .start = text };
    if (lim)
        ps.lim = *lim;
    if (!ps.lim.max_depth)
        ps.lim.max_depth = 64;
    if (!ps.lim.max_nodes)
        ps.lim.max_nodes = 1000000;
    json_node *root = text ? json__value(&ps) : NULL;
    if (root) {
        json__skip_ws(&ps);
        if (ps.p != ps.end) {
            json__fail(&ps, "trailing characters after the value");
            json_free(root);
            root = NULL;
        }
    } else if (!text) {
        ps.error = "no input";
    }
    if (!root && err && err_cap)
        snprintf(err, err_cap, "%s at byte %zu", ps.error ? ps.error : "invalid JSON", ps.error_at);
    return root;
}

/* The member |key| of object |obj|, or NULL. */
static inline const json_node *json_get(const json_node *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const json_node *m = obj->child; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m;
    return NULL;
}

/* The string held by |n| when it is a string, else |fallback|. */
static inline const char *json_str(const json_node *n, const char *fallback)
{
    return n && n->type == JSON_STRING ? n->str : fallback;
}

#endif
