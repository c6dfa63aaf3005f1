/* A carrier writer over caller-provided storage (an otel_header array and a byte buffer), for
 * code that builds outgoing headers without allocating: tests, benchmarks, and HTTP clients
 * that convert the headers to their own list type afterwards. */
#include <string.h>

#include "prop_internal.h"

void otel_header_buffer_init(otel_header_buffer *b, otel_header *headers, size_t cap, char *bytes,
                             size_t bytes_cap)
{
    if (!b)
        return;
    b->headers = headers;
    b->cap = headers ? cap : 0;
    b->bytes = bytes;
    b->bytes_cap = bytes ? bytes_cap : 0;
    otel_header_buffer_reset(b);
}

void otel_header_buffer_reset(otel_header_buffer *b)
{
    if (!b)
        return;
    b->count = 0;
    b->bytes_used = 0;
    b->dropped = 0;
}

/* Copies |n| bytes. Header values are short and often formatted just before (a traceparent):
 * every read stays within one 16-byte block counted from the start of |src| (whole blocks, then
 * the rest as two overlapping 8- or 4-byte reads, or up to three single bytes), so it is served by store
 * forwarding when the value was written as such blocks, where a library memcpy's wider or unaligned reads
 * would wait for those stores to reach the cache. */
static inline void copy_value(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        memcpy(dst + i, src + i, 16);
    size_t rest = n - i;
    if (rest >= 8) {
        memcpy(dst + i, src + i, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (rest >= 4) {
        memcpy(dst + i, src + i, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (rest) {
        /* 1 to 3 bytes: the first, the middle and the last (some of them the same byte). */
        dst[i] = src[i];
        dst[i + rest / 2] = src[i + rest / 2];
        dst[n - 1] = src[n - 1];
    }
}

static void header_buffer_set(void *user_data, otel_str name, otel_str value)
{
    otel_header_buffer *b = user_data;
    otel_header *h = b->headers;
    size_t count = b->count;
    size_t i = 0;
    /* The length test first, inline: most names already set differ in length. */
    while (i < count && (h[i].name.len != name.len || !otel__prop_name_ieq(h[i].name, name)))
        i++;
    bool add = i == count;
    if (add && count == b->cap) {
        b->dropped++;
        return;
    }
    /* Room for both strings first, so a refused header leaves no partial copy. */
    size_t need = value.len + (add ? name.len : 0);
    if (b->bytes_cap - b->bytes_used < need) {
        b->dropped++;
        return;
    }
    char *dst = b->bytes + b->bytes_used;
    copy_value(dst, value.data, value.len);
    if (add) {
        copy_value(dst + value.len, name.data, name.len);
        h[i].name = (otel_str){ dst + value.len, name.len };
        b->count = count + 1;
    }
    h[i].value = (otel_str){ dst, value.len };
    b->bytes_used += need;
}

otel_carrier_writer otel_header_buffer_writer(otel_header_buffer *b)
{
    return (otel_carrier_writer){ .set = header_buffer_set, .user_data = b };
}

otel_header_list otel_header_buffer_list(const otel_header_buffer *b)
{
    if (!b)
        return (otel_header_list){ NULL, 0 };
    return (otel_header_list){ b->headers, b->count };
}
