/* The OTLP trace exporter: sends finished spans to an OpenTelemetry collector (or any OTLP
 * receiver) over OTLP/HTTP with protobuf or JSON bodies, or over OTLP/gRPC. The encoder writes
 * protobuf straight from the span records into a buffer reused across exports; requests go over
 * one kept-alive connection (libcurl for HTTP/1.1, an nghttp2 HTTP/2 client for gRPC), with
 * optional gzip, TLS with certificate verification, retries with exponential backoff and jitter
 * on transient failures, all within the export timeout. OTEL_TRACES_EXPORTER=otlp selects it. */
#ifndef OTEL_EXPORTERS_OTLP_H
#define OTEL_EXPORTERS_OTLP_H

#include "otel/sdk/config.h"
#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum otel_otlp_protocol {
    OTEL_OTLP_HTTP_PROTOBUF = 0, /* "http/protobuf", the default */
    OTEL_OTLP_HTTP_JSON = 1,     /* "http/json" */
    OTEL_OTLP_GRPC = 2,          /* "grpc" */
} otel_otlp_protocol;

typedef enum otel_otlp_compression {
    OTEL_OTLP_COMPRESSION_NONE = 0, /* the default */
    OTEL_OTLP_COMPRESSION_GZIP = 1,
} otel_otlp_compression;

/* One request header (HTTP) or metadata entry (gRPC). Values often carry credentials: otelc
 * never writes them to diagnostics. */
typedef struct otel_otlp_header {
    char *name;
    char *value;
} otel_otlp_header;

/* Exporter settings. Zero means default everywhere, so `otel_otlp_options o = { .protocol =
 * OTEL_OTLP_GRPC };` works. The create function copies what it needs and does not free
 * anything. otel_otlp_options_from_env() and otel_otlp_options_cleanup() treat the string fields
 * and the |headers| array (and its strings) as owned heap memory, freed with otelc's allocator
 * (libc free() unless a test installed hooks): a program mixing them with its own values must
 * store strdup()'d copies. */
typedef struct otel_otlp_options {
    otel_otlp_protocol protocol;
    /* The URL. HTTP: the full URL of the traces endpoint, used as given (default
     * "http://localhost:4318/v1/traces"). gRPC: "http://host:port" (plaintext), "https://host:port"
     * (TLS), or "host:port" (TLS unless |insecure|); any path is ignored (default
     * "http://localhost:4317"). */
    char *endpoint;
    otel_otlp_header *headers;
    size_t header_count;
    int64_t timeout_ns; /* per export, retries included; 0: 10 s; < 0: no limit */
    otel_otlp_compression compression;
    char *certificate_file;        /* PEM CA bundle to verify the server; NULL: the system's */
    char *client_certificate_file; /* PEM client certificate for mutual TLS */
    char *client_key_file;         /* PEM key of the client certificate */
    bool insecure;                 /* gRPC endpoint without a scheme: plaintext */
    /* Retries of transient failures (HTTP 429/502/503/504, retryable gRPC codes, refused or
     * broken connections): exponential backoff with +-20 % jitter, within |timeout_ns|. */
    uint32_t retry_max_attempts;      /* attempts in all, first included; 0: 5; 1: no retry */
    int64_t retry_initial_backoff_ns; /* 0: 1 s */
    int64_t retry_max_backoff_ns;     /* 0: 5 s */
    double retry_backoff_multiplier;  /* 0: 1.5 */
    size_t max_request_bytes;         /* encoded batch size limit; 0: 64 MiB */
} otel_otlp_options;

/* Reads every OTEL_EXPORTER_OTLP_* and OTEL_EXPORTER_OTLP_TRACES_* variable from |env| (NULL:
 * the process environment) on top of what |opts| holds (start from a zeroed struct): protocol,
 * endpoint, headers, timeout, compression, certificate, client key, client certificate,
 * insecure. The signal-specific variable wins over the generic one. For the HTTP protocols the
 * generic endpoint gets "/v1/traces" appended to its path; the signal-specific one is used as
 * given. Header lists ("k1=v1,k2=v2") are percent-decoded; the signal-specific list replaces the
 * generic one as a whole. A timeout of 0 means no limit (stored as a negative timeout_ns). An
 * invalid value gives one diagnostic naming the variable and the value used instead (header
 * values are never printed) and leaves the field as it was.
 * Errors: OTEL_ERR_INVALID_ARG (NULL opts), OTEL_ERR_NOMEM (fields read so far are kept).
 * Thread-safety: as getenv. */
OTEL_API otel_status otel_otlp_options_from_env(otel_otlp_options *opts, const otel_env *env);

/* Frees the strings and the headers of |opts| and zeroes it. NULL is ignored.
 * Thread-safety: safe. */
OTEL_API void otel_otlp_options_cleanup(otel_otlp_options *opts);

/* Creates an OTLP exporter from |opts| (NULL: every default). No connection is made until the
 * first export. The exporter must be driven by one thread at a time (the processors do that);
 * its export never keeps span pointers after it returns.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out; an endpoint that is not an http(s) URL, or for gRPC a
 * host:port; a header name that is not an HTTP token or a value with CR or LF; a certificate or
 * key file that cannot be read or loaded; an unknown protocol or compression), OTEL_ERR_NOMEM,
 * OTEL_ERR_UNSUPPORTED (libcurl, OpenSSL or nghttp2 failed to initialise). Each error is also
 * explained in a diagnostic. Thread-safety: safe. */
OTEL_API otel_status otel_otlp_exporter_create(const otel_otlp_options *opts, otel_span_exporter *out);

/* Counters of one OTLP exporter, since creation. */
typedef struct otel_otlp_exporter_stats {
    uint64_t exports;        /* export_spans calls */
    uint64_t spans_exported; /* spans in requests the receiver accepted (rejected ones too) */
    uint64_t spans_rejected; /* spans the receiver reported rejected (partial success) */
    uint64_t spans_failed;   /* spans in exports that failed (retries exhausted or fatal) */
    uint64_t requests;       /* requests sent, retries included */
    uint64_t retries;        /* requests that were retries */
    uint64_t bytes_sent;     /* request bodies after compression */
    uint64_t connections;    /* connections opened (a kept-alive connection counts once) */
} otel_otlp_exporter_stats;

/* Fills |out| with the counters of |exporter|, which must come from otel_otlp_exporter_create().
 * Errors: OTEL_ERR_INVALID_ARG (NULL argument, not an OTLP exporter). Thread-safety: safe
 * (relaxed reads, concurrent exports may be missed by one). */
OTEL_API otel_status otel_otlp_exporter_get_stats(const otel_span_exporter *exporter,
                                                  otel_otlp_exporter_stats *out);

#ifdef __cplusplus
}
#endif

#endif
