/* Internals of the Datadog exporter shared by its source files and its tests: agent address
 * resolution, counters, and the path of the default agent socket (a variable so tests can point
 * it at a socket of their own). */
#ifndef OTEL_DD_EXPORTER_H
#define OTEL_DD_EXPORTER_H

#include <stdbool.h>
#include <stdint.h>

#include "otel/exporters/datadog.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "/var/run/datadog/apm.socket"; tests replace it. */
extern const char *otel__dd_default_socket_path;

/* Where to send payloads. */
struct otel__dd_agent_addr {
    char base_url[512]; /* "http://host:port" (no trailing slash); "http://localhost" for a socket */
    char socket[256];   /* unix socket path, or "" for TCP */
};

/* Resolves the agent address from |opts| (URL, socket, host and port, defaults). Returns
 * OTEL_ERR_INVALID_ARG with a diagnostic for a malformed URL or an over-long value. */
otel_status otel__dd_resolve_agent(const otel_datadog_options *opts, struct otel__dd_agent_addr *out);

/* The exporter's counters since creation. */
struct otel__dd_exporter_stats {
    uint64_t requests;      /* HTTP requests attempted (retries included) */
    uint64_t payloads_sent; /* payloads the agent accepted */
    uint64_t retries;
    uint64_t spans_sent;
    uint64_t spans_dropped; /* spans in payloads that never got through */
    uint64_t rate_updates;  /* agent answers that updated the sampling rates */
    uint64_t bad_responses; /* answers that could not be parsed */
};

/* The counters of an exporter made by otel_datadog_exporter_create(); false when |e| is not
 * one. */
bool otel__dd_exporter_stats(const otel_span_exporter *e, struct otel__dd_exporter_stats *out);

/* The request URL of an exporter ("http://host:port/v0.4/traces"); NULL when |e| is not one. */
const char *otel__dd_exporter_url(const otel_span_exporter *e);

#ifdef __cplusplus
}
#endif

#endif
