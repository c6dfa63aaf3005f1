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

/* Copies |s| into the byte store; NULL when it does not fit. */
static const char *store(otel_header_buffer *b, otel_str s)
{
    if (b->bytes_cap - b->bytes_used < s.len)
        return NULL;
    char *dst = b->bytes + b->bytes_used;
    if (s.len)
        memcpy(dst, s.data, s.len);
    b->bytes_used += s.len;
    return dst;
}

static void header_buffer_set(void *user_data, otel_str name, otel_str value)
{
    otel_header_buffer *b = user_data;
    size_t i = 0;
    /* The length test first, inline: most names already set differ in length. */
    while (i < b->count &&
           (b->headers[i].name.len != name.len || !otel__prop_name_ieq(b->headers[i].name, name)))
        i++;
    if (i == b->count && b->count == b->cap) {
        b->dropped++;
        return;
    }
    /* Reserve room for both strings first, so a refused header leaves no partial copy. */
    size_t need = value.len + (i == b->count ? name.len : 0);
    if (b->bytes_cap - b->bytes_used < need) {
        b->dropped++;
        return;
    }
    const char *v = store(b, value);
    if (i == b->count) {
        const char *n = store(b, name);
        b->headers[i].name = (otel_str){ n, name.len };
        b->count++;
    }
    b->headers[i].value = (otel_str){ v, value.len };
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
