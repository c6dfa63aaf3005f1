/* Text encoders shared by the console exporter and the OTLP/JSON encoder (see text.h). */
#include <stdio.h>
#include <stdlib.h>

#include "text.h"

size_t otel__format_double(double d, char out[OTEL__DOUBLE_TEXT_MAX])
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, OTEL__DOUBLE_TEXT_MAX, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    return n > 0 ? (size_t)n : 0;
}

static const char base64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void otel__base64_encode(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i += 3, out += 4) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[0] = base64_digits[v >> 18 & 63];
        out[1] = base64_digits[v >> 12 & 63];
        out[2] = i + 1 < n ? base64_digits[v >> 6 & 63] : '=';
        out[3] = i + 2 < n ? base64_digits[v & 63] : '=';
    }
}
