/* Internal pieces of the OTLP exporter shared between its files: endpoint URL parsing and the
 * gRPC client (one HTTP/2 connection on nghttp2, optionally over OpenSSL) that the exporter
 * drives from its export thread. */
#ifndef OTEL_OTLP_INTERNAL_H
#define OTEL_OTLP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Endpoints
 * ------------------------------------------------------------------------------------------- */

#define OTEL__OTLP_HOST_MAX 256

/* A parsed endpoint: scheme://[userinfo@]host[:port][/path][?query]. */
struct otel__otlp_url {
    bool has_scheme;
    bool tls;                       /* https */
    char host[OTEL__OTLP_HOST_MAX]; /* without the brackets of an IPv6 literal */
    bool ipv6;
    uint16_t port; /* 0 when absent */
    otel_str path; /* into the parsed text, "" when absent; query excluded */
    otel_str path_and_query;
};

/* Parses |text|. With |allow_no_scheme| (gRPC), "host:port" is accepted too. False for anything
 * else (unknown scheme, empty host, bad port, spaces or control characters). */
bool otel__otlp_url_parse(otel_str text, bool allow_no_scheme, struct otel__otlp_url *out);

/* "scheme://host:port/path" of |text| without userinfo or query, which may hold credentials,
 * for diagnostics. Writes at most |cap| bytes (NUL-terminated). */
void otel__otlp_url_redact(const char *text, char *out, size_t cap);

/* ---------------------------------------------------------------------------------------------
 * gRPC client
 * ------------------------------------------------------------------------------------------- */

struct otel__grpc_client;

/* Everything is copied by create. */
struct otel__grpc_options {
    const char *host;
    uint16_t port;
    bool tls;
    const char *authority; /* :authority, "host:port" */
    const char *path;      /* e.g. /opentelemetry.proto.collector.trace.v1.TraceService/Export */
    const char *user_agent;
    const char *const *metadata_names; /* lowercase */
    const char *const *metadata_values;
    size_t metadata_count;
    bool gzip; /* requests are gzip-compressed: send grpc-encoding */
    const char *ca_file;
    const char *client_cert_file;
    const char *client_key_file;
    size_t max_response_bytes; /* 0: 4 MiB */
};

/* How one call ended, as the exporter needs to classify it. */
enum otel__grpc_outcome {
    OTEL__GRPC_STATUS = 0,   /* the server answered with a grpc-status (see |status|) */
    OTEL__GRPC_TIMEOUT = 1,  /* the deadline passed */
    OTEL__GRPC_CONNECT = 2,  /* could not connect */
    OTEL__GRPC_BROKEN = 3,   /* the connection or stream failed (reset, GOAWAY, closed) */
    OTEL__GRPC_TLS = 4,      /* handshake, ALPN or certificate verification failed */
    OTEL__GRPC_PROTOCOL = 5, /* the server did not speak gRPC (HTTP status, no grpc-status) */
    OTEL__GRPC_OTHER = 6,    /* local failure */
};

struct otel__grpc_result {
    enum otel__grpc_outcome outcome;
    int status;             /* grpc-status when outcome is OTEL__GRPC_STATUS */
    int http_status;        /* :status of the response, 0 when none arrived */
    int64_t retry_delay_ns; /* from google.rpc.RetryInfo in grpc-status-details-bin; -1: none */
    const uint8_t *message; /* the response message (without the 5-byte prefix); valid until
                             * the next call */
    size_t message_len;
    char error[256]; /* grpc-message (percent-decoded, sanitised) or a description */
};

/* Creates the client and, for TLS, its OpenSSL context (CA, client certificate and key loaded
 * now, so bad files fail here). No connection yet. Errors: OTEL_ERR_INVALID_ARG (a file cannot
 * be loaded; logged), OTEL_ERR_NOMEM, OTEL_ERR_UNSUPPORTED. */
otel_status otel__grpc_client_create(const struct otel__grpc_options *o, struct otel__grpc_client **out);
void otel__grpc_client_destroy(struct otel__grpc_client *c);

/* One unary call with |len| bytes of |msg| (already compressed when the client was created with
 * gzip), on the client's connection (opened or re-opened as needed), finished by |deadline_ns|
 * (monotonic; INT64_MAX: no limit). Fills |res| in every case. Returns OTEL_OK when a
 * grpc-status arrived, else OTEL_ERR_TIMEOUT or OTEL_ERR_EXPORT. */
otel_status otel__grpc_call(struct otel__grpc_client *c, const uint8_t *msg, size_t len, int64_t deadline_ns,
                            struct otel__grpc_result *res);

/* Connections opened since creation. */
uint64_t otel__grpc_connections(const struct otel__grpc_client *c);

/* Closes the connection (GOAWAY when possible, without waiting). */
void otel__grpc_close(struct otel__grpc_client *c);

/* gRPC status codes. */
enum {
    OTEL__GRPC_OK = 0,
    OTEL__GRPC_CANCELLED = 1,
    OTEL__GRPC_UNKNOWN = 2,
    OTEL__GRPC_INVALID_ARGUMENT = 3,
    OTEL__GRPC_DEADLINE_EXCEEDED = 4,
    OTEL__GRPC_NOT_FOUND = 5,
    OTEL__GRPC_ALREADY_EXISTS = 6,
    OTEL__GRPC_PERMISSION_DENIED = 7,
    OTEL__GRPC_RESOURCE_EXHAUSTED = 8,
    OTEL__GRPC_FAILED_PRECONDITION = 9,
    OTEL__GRPC_ABORTED = 10,
    OTEL__GRPC_OUT_OF_RANGE = 11,
    OTEL__GRPC_UNIMPLEMENTED = 12,
    OTEL__GRPC_INTERNAL = 13,
    OTEL__GRPC_UNAVAILABLE = 14,
    OTEL__GRPC_DATA_LOSS = 15,
    OTEL__GRPC_UNAUTHENTICATED = 16,
};

/* Parses a google.rpc.Status (grpc-status-details-bin, already base64-decoded) for a
 * google.rpc.RetryInfo detail; returns its delay in ns, or -1 when there is none. */
int64_t otel__grpc_parse_retry_info(const uint8_t *p, size_t len);

/* Decodes unpadded or padded base64 (standard alphabet) into |out| (which holds len * 3 / 4 + 3
 * bytes); returns the decoded length or (size_t)-1. */
size_t otel__base64_decode(const char *in, size_t len, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
