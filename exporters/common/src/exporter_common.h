/* Private helpers shared by otelc's network exporters (OTLP, Datadog): a growable byte buffer,
 * monotonic deadlines, exponential backoff with jitter, Retry-After parsing, gzip compression and
 * a small libcurl HTTP/1.1 POST client that keeps its connection alive across requests. Nothing
 * here is installed or public: exporters list otel_exporter_common among their dependencies,
 * which puts this directory on their include path. Every object here belongs to one thread at a
 * time (an exporter's export runs on one thread at a time). */
#ifndef OTEL_EXPORTER_COMMON_H
#define OTEL_EXPORTER_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Growable byte buffer
 * ------------------------------------------------------------------------------------------- */

/* |len| bytes at |data|, room for |cap|. A failed allocation, or growing past |max_bytes| (0: no
 * limit), sets |failed|: later appends do nothing, so writers check once at the end. Zero
 * initialisation gives an empty buffer. */
typedef struct otel__buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max_bytes;
    bool failed;
} otel__buf;

/* Makes room for |more| bytes past |len|; false (and |failed| set) when it cannot. */
OTEL_API bool otel__buf_reserve(otel__buf *b, size_t more);
OTEL_API void otel__buf_append(otel__buf *b, const void *p, size_t n);
OTEL_API void otel__buf_append_str(otel__buf *b, const char *s);
static inline void otel__buf_putc(otel__buf *b, char c)
{
    if (b->len < b->cap || otel__buf_reserve(b, 1))
        b->data[b->len++] = (uint8_t)c;
}
/* Empties the buffer and clears |failed|; keeps the memory for the next use. */
static inline void otel__buf_clear(otel__buf *b)
{
    b->len = 0;
    b->failed = false;
}
/* Frees the memory; the buffer is empty and reusable afterwards (|max_bytes| is kept). */
OTEL_API void otel__buf_free(otel__buf *b);

/* ---------------------------------------------------------------------------------------------
 * Time, deadlines, backoff
 * ------------------------------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
OTEL_API int64_t otel__mono_now_ns(void);

/* The monotonic deadline |timeout_ns| from now; timeout_ns <= 0 gives INT64_MAX (no limit). */
OTEL_API int64_t otel__deadline_after(int64_t timeout_ns);

/* Nanoseconds left before |deadline_ns| (0 when passed; INT64_MAX stays INT64_MAX). */
OTEL_API int64_t otel__time_left(int64_t deadline_ns);

/* Sleeps |ns| nanoseconds (restarting after signals). */
OTEL_API void otel__sleep_ns(int64_t ns);

/* Exponential backoff with jitter: each delay is the current backoff scaled by a random factor
 * in [1 - jitter, 1 + jitter], capped at |max_ns|; then the backoff grows by |multiplier|. */
typedef struct otel__backoff {
    int64_t initial_ns;
    int64_t max_ns;
    double multiplier;
    double jitter;      /* 0.2: +-20 % */
    int64_t current_ns; /* the next delay before jitter */
    uint64_t rng;       /* xorshift state, seeded by otel__backoff_init */
} otel__backoff;

/* Values <= 0 select the defaults: 1 s initial, 5 s max, x1.5, +-20 % jitter. */
OTEL_API void otel__backoff_init(otel__backoff *b, int64_t initial_ns, int64_t max_ns, double multiplier);
/* Back to the initial delay (after a success). */
OTEL_API void otel__backoff_reset(otel__backoff *b);
/* The next delay (jittered), and grows the backoff. */
OTEL_API int64_t otel__backoff_next(otel__backoff *b);

/* Waits before the next attempt of a request that must finish by |deadline_ns|: the server's
 * |retry_after_ns| when >= 0, else the next backoff delay. Returns false without sleeping when
 * the wait would end at or past the deadline (the caller gives up); otherwise sleeps and
 * returns true. */
OTEL_API bool otel__backoff_wait(otel__backoff *b, int64_t retry_after_ns, int64_t deadline_ns);

/* Parses an HTTP Retry-After value: delay-seconds ("120") or an HTTP-date in any of the three
 * RFC 9110 forms (IMF-fixdate, RFC 850, asctime), relative to |now_unix_s| (wall clock seconds).
 * A date in the past gives 0. Returns the delay in ns, or -1 when |value| is neither. */
OTEL_API int64_t otel__retry_after_parse(otel_str value, int64_t now_unix_s);

/* ---------------------------------------------------------------------------------------------
 * gzip
 * ------------------------------------------------------------------------------------------- */

/* A reusable compressor: the zlib state is kept between calls, so steady-state compression
 * allocates nothing. */
typedef struct otel__gzip otel__gzip;

/* Errors: OTEL_ERR_NOMEM. */
OTEL_API otel_status otel__gzip_create(otel__gzip **out);
OTEL_API void otel__gzip_destroy(otel__gzip *z);
/* Replaces |out|'s content with the gzip (RFC 1952) form of |len| bytes at |in|.
 * Errors: OTEL_ERR_NOMEM (including |out| reaching its max_bytes). */
OTEL_API otel_status otel__gzip_compress(otel__gzip *z, const void *in, size_t len, otel__buf *out);

/* ---------------------------------------------------------------------------------------------
 * HTTP/1.1 POST client (libcurl)
 * ------------------------------------------------------------------------------------------- */

typedef struct otel__http_client otel__http_client;

/* Everything is copied by create. */
typedef struct otel__http_options {
    const char *url;          /* http:// or https:// */
    const char *content_type; /* e.g. "application/x-protobuf" */
    const char *user_agent;
    const char *const *header_names; /* extra request headers; values never appear in logs */
    const char *const *header_values;
    size_t header_count;
    const char *ca_file;          /* PEM CA bundle; NULL: the system's */
    const char *client_cert_file; /* PEM, for mutual TLS */
    const char *client_key_file;
    size_t max_response_bytes;    /* response body kept up to this size; 0: 4 MiB */
    const char *unix_socket_path; /* connect to this unix socket instead (the URL still gives
                                   * the Host header and path), e.g. a Datadog agent's */
} otel__http_options;

/* How one request ended. */
typedef enum otel__http_outcome {
    OTEL__HTTP_RESPONSE = 0, /* a complete response arrived: see |status| */
    OTEL__HTTP_TIMEOUT = 1,  /* the deadline passed first */
    OTEL__HTTP_CONNECT = 2,  /* could not connect (refused, unreachable, DNS) */
    OTEL__HTTP_BROKEN = 3,   /* the connection failed mid-request (reset, closed, bad reply) */
    OTEL__HTTP_TLS = 4,      /* TLS handshake or certificate verification failed */
    OTEL__HTTP_OTHER = 5,    /* local failure (out of memory, bad option) */
} otel__http_outcome;

typedef struct otel__http_result {
    otel__http_outcome outcome;
    long status;            /* HTTP status when outcome is OTEL__HTTP_RESPONSE */
    int64_t retry_after_ns; /* from a Retry-After header; -1 when absent or unparsable */
    const uint8_t *body;    /* the response body (possibly cut at max_response_bytes); valid
                             * until the next request */
    size_t body_len;
    long new_connections; /* connections this request opened (0 when it reused one) */
    char error[256];      /* libcurl's description when outcome is not RESPONSE */
} otel__http_result;

/* Creates a client; no connection is made yet.
 * Errors: OTEL_ERR_INVALID_ARG (no url, header names or values with CR/LF), OTEL_ERR_NOMEM,
 * OTEL_ERR_UNSUPPORTED (libcurl would not initialise or lacks an option). */
OTEL_API otel_status otel__http_client_create(const otel__http_options *opts, otel__http_client **out);
OTEL_API void otel__http_client_destroy(otel__http_client *c);

/* Sends one POST of |len| bytes (with "Content-Encoding: gzip" when |gzipped|) and waits for the
 * answer until |deadline_ns| (monotonic; INT64_MAX: no limit). The connection is kept for the
 * next request when the server allows. Fills |res| in every case. Returns OTEL_OK when a
 * response arrived (any status), OTEL_ERR_TIMEOUT, or OTEL_ERR_EXPORT for the other outcomes. */
OTEL_API otel_status otel__http_post(otel__http_client *c, const void *body, size_t len, bool gzipped,
                                     int64_t deadline_ns, otel__http_result *res);

/* True for the statuses the OTLP specification (and the Datadog agent) say to retry:
 * 429, 502, 503, 504. */
static inline bool otel__http_status_retryable(long status)
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

/* ---------------------------------------------------------------------------------------------
 * Text helpers
 * ------------------------------------------------------------------------------------------- */

/* Copies at most |cap| - 1 bytes of |s| into |out| (NUL-terminated) with every byte outside
 * printable ASCII replaced by '?', for quoting a peer's error text in a diagnostic. */
OTEL_API void otel__sanitize_for_log(otel_str s, char *out, size_t cap);

/* Percent-decodes |in| into |out| (which must hold in.len bytes); returns the decoded length or
 * (size_t)-1 for a malformed escape. */
OTEL_API size_t otel__percent_decode(otel_str in, char *out);

#ifdef __cplusplus
}
#endif

#endif
