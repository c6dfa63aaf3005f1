/* Small text encoders shared by the libraries that write JSON or readable text (the console
 * exporter, the OTLP/JSON encoder): the shortest round-tripping form of a double and base64.
 * Internal: exported from otel_api under the otel__ prefix, declared only here. */
#ifndef OTEL_TEXT_H
#define OTEL_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "otel/common.h"

/* Room otel__format_double() needs, NUL included. */
#define OTEL__DOUBLE_TEXT_MAX 40

/* Writes the shortest of %.15g, %.16g and %.17g that reads back as |d| into |out| and returns
 * its length. Finite values only (the callers spell NaN and infinities themselves). Uses the
 * calling thread's locale: callers that need '.' switch the thread to the C locale first. */
OTEL_API size_t otel__format_double(double d, char out[OTEL__DOUBLE_TEXT_MAX]);

/* Length of the base64 text (with '=' padding) for |n| bytes. */
static inline size_t otel__base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Writes the base64 text (standard alphabet, '=' padding, no NUL) of |n| bytes at |p| into
 * |out|, which must hold otel__base64_len(n) bytes. */
OTEL_API void otel__base64_encode(const uint8_t *p, size_t n, char *out);

#endif
