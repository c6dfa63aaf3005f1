/* UTF-8 checks shared by every otelc library that must put valid UTF-8 on the wire or on a
 * console (resource values, the OTLP and Datadog encoders, the console exporter). Internal:
 * exported from otel_api under the otel__ prefix, declared only here. */
#ifndef OTEL_UTF8_H
#define OTEL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "otel/common.h"

/* Length of the valid UTF-8 sequence at |p| (at most |n| bytes available), or 0 when the byte
 * does not start one (overlong forms, surrogates and code points past U+10FFFF are invalid). */
OTEL_API size_t otel__utf8_seq_len(const unsigned char *p, size_t n);

/* True when all |n| bytes are valid UTF-8 (fast for ASCII). */
OTEL_API bool otel__utf8_valid(const unsigned char *p, size_t n);

#endif
