/* Small value helpers of the API: status and span-kind texts, the wall clock, the run-time
 * version, hex encoding of ids and id validity. None of them allocates or locks. */
#include <string.h>
#include <time.h>

#include "otel/common.h"
#include "otel/trace.h"

const char *otel_status_str(otel_status st)
{
    /* No default: -Wswitch flags a status code added without a text. */
    switch (st) {
    case OTEL_OK:
        return "ok";
    case OTEL_ERR_INVALID_ARG:
        return "invalid argument";
    case OTEL_ERR_NOMEM:
        return "out of memory";
    case OTEL_ERR_QUEUE_FULL:
        return "queue full";
    case OTEL_ERR_TIMEOUT:
        return "timed out";
    case OTEL_ERR_SHUT_DOWN:
        return "shut down";
    case OTEL_ERR_EXPORT:
        return "export failed";
    case OTEL_ERR_LIMIT:
        return "limit reached";
    case OTEL_ERR_NOT_FOUND:
        return "not found";
    case OTEL_ERR_UNSUPPORTED:
        return "unsupported";
    }
    return "unknown status";
}

const char *otel_span_kind_str(otel_span_kind kind)
{
    switch (kind) {
    case OTEL_SPAN_KIND_INTERNAL:
        return "internal";
    case OTEL_SPAN_KIND_SERVER:
        return "server";
    case OTEL_SPAN_KIND_CLIENT:
        return "client";
    case OTEL_SPAN_KIND_PRODUCER:
        return "producer";
    case OTEL_SPAN_KIND_CONSUMER:
        return "consumer";
    }
    return "unknown";
}

int64_t otel_time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

uint32_t otel_version_number(void)
{
    return OTEL_VERSION_NUMBER;
}

const char *otel_version_string(void)
{
    return OTEL_VERSION_STRING;
}

bool otel_trace_id_is_valid(const uint8_t trace_id[OTEL_TRACE_ID_SIZE])
{
    if (!trace_id)
        return false;
    uint64_t w[2];
    memcpy(w, trace_id, sizeof(w));
    return (w[0] | w[1]) != 0;
}

bool otel_span_id_is_valid(const uint8_t span_id[OTEL_SPAN_ID_SIZE])
{
    if (!span_id)
        return false;
    uint64_t w;
    memcpy(&w, span_id, sizeof(w));
    return w != 0;
}

bool otel_span_context_is_valid(const otel_span_context *sc)
{
    return sc && otel_trace_id_is_valid(sc->trace_id) && otel_span_id_is_valid(sc->span_id);
}

bool otel_span_context_is_sampled(const otel_span_context *sc)
{
    return otel_span_context_is_valid(sc) && (sc->trace_flags & OTEL_TRACE_FLAG_SAMPLED);
}

void otel_hex_encode(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

/* Value of one hex digit, or -1. */
static int hex_value(char c, bool lowercase_only)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (!lowercase_only && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

otel_status otel_hex_decode(otel_str hex, uint8_t *out, size_t len, bool lowercase_only)
{
    if (len > SIZE_MAX / 2 || hex.len != 2 * len || (len && (!hex.data || !out)))
        return OTEL_ERR_INVALID_ARG;
    /* Validate everything first: |out| is written only on success. */
    for (size_t i = 0; i < hex.len; i++)
        if (hex_value(hex.data[i], lowercase_only) < 0)
            return OTEL_ERR_INVALID_ARG;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)((hex_value(hex.data[2 * i], lowercase_only) << 4) |
                           hex_value(hex.data[2 * i + 1], lowercase_only));
    return OTEL_OK;
}
