/* The growable byte buffer every network exporter encodes into, and two small text helpers. The
 * buffer is kept across exports, so a steady stream of batches of similar size allocates
 * nothing; its optional size cap keeps memory bounded when a batch is unexpectedly large. */
#include <string.h>

#include "exporter_common.h"
#include "mem.h"

bool otel__buf_reserve(otel__buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (more <= b->cap - b->len)
        return true;
    if (more > SIZE_MAX / 2 - b->len)
        goto out_fail;
    size_t need = b->len + more;
    if (b->max_bytes && need > b->max_bytes)
        goto out_fail;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (b->max_bytes && cap > b->max_bytes)
        cap = b->max_bytes;
    uint8_t *p = otel__realloc(b->data, cap);
    if (!p)
        goto out_fail;
    b->data = p;
    b->cap = cap;
    return true;
out_fail:
    b->failed = true;
    return false;
}

void otel__buf_append(otel__buf *b, const void *p, size_t n)
{
    if (n && otel__buf_reserve(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

void otel__buf_append_str(otel__buf *b, const char *s)
{
    otel__buf_append(b, s, strlen(s));
}

void otel__buf_free(otel__buf *b)
{
    otel__free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void otel__sanitize_for_log(otel_str s, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.data[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t otel__percent_decode(otel_str in, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.data[i];
        if (c != '%') {
            out[o++] = c;
            continue;
        }
        if (i + 2 >= in.len)
            return (size_t)-1;
        int hi = hex_value(in.data[i + 1]), lo = hex_value(in.data[i + 2]);
        if (hi < 0 || lo < 0)
            return (size_t)-1;
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    return o;
}
