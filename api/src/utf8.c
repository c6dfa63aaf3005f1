/* UTF-8 validation, shared by every otelc library (see utf8.h). */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

size_t otel__utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

bool otel__utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;
    /* ASCII, eight bytes at a time, then the last few at once (most strings are ASCII). */
    while (i + 8 <= n) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v & 0x8080808080808080u)
            goto out_slow;
        i += 8;
    }
    if (i + 4 <= n) {
        uint32_t v;
        memcpy(&v, p + i, 4);
        if (v & 0x80808080u)
            goto out_slow;
        i += 4;
    }
    {
        unsigned acc = 0;
        for (size_t k = i; k < n; k++)
            acc |= p[k];
        if (!(acc & 0x80))
            return true;
    }
out_slow:
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = otel__utf8_seq_len(p + i, n - i);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}
