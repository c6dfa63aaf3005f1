/* The Datadog exporter's HTTP transport: one libcurl easy handle, kept alive between requests,
 * that POSTs a payload to the agent over TCP or a unix domain socket with per-request headers.
 * It duplicates a little of exporters/common's HTTP client, which has no unix-socket option and
 * fixes its headers at creation (X-Datadog-Trace-Count changes with every request). Owned by one
 * thread at a time. */
#ifndef OTEL_DD_HTTP_H
#define OTEL_DD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct otel__dd_http;

enum otel__dd_http_outcome {
    OTEL__DD_HTTP_RESPONSE = 0, /* a response arrived: see |status| */
    OTEL__DD_HTTP_TIMEOUT,
    OTEL__DD_HTTP_CONNECT, /* refused, no such socket, unreachable */
    OTEL__DD_HTTP_BROKEN,  /* connection dropped or garbage instead of HTTP */
    OTEL__DD_HTTP_OTHER,
};

struct otel__dd_http_result {
    enum otel__dd_http_outcome outcome;
    long status;
    const char *body; /* NUL-terminated; valid until the next request */
    size_t body_len;
    bool body_truncated;
    char error[256];
};

/* |url| is the full request URL (for a unix socket, "http://localhost/<path>"); |unix_path| is
 * the socket path or NULL for TCP. Both are copied. Errors: OTEL_ERR_NOMEM,
 * OTEL_ERR_UNSUPPORTED (libcurl would not initialise). */
otel_status otel__dd_http_create(const char *url, const char *unix_path, struct otel__dd_http **out);
void otel__dd_http_destroy(struct otel__dd_http *h);

/* POSTs |len| bytes with |header_count| extra "Name: value" headers, waiting at most
 * |timeout_ns| (> 0). Fills |res| in every case. Errors: OTEL_OK when a response arrived,
 * OTEL_ERR_TIMEOUT, OTEL_ERR_EXPORT, OTEL_ERR_NOMEM. */
otel_status otel__dd_http_post(struct otel__dd_http *h, const void *body, size_t len,
                               const char *const *headers, size_t header_count, int64_t timeout_ns,
                               struct otel__dd_http_result *res);

#ifdef __cplusplus
}
#endif

#endif
