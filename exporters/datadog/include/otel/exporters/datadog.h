/* The Datadog exporter and the Datadog-compatible sampler.
 *
 * The exporter sends finished spans to a Datadog agent in the agent's own MessagePack intake
 * formats (/v0.4/traces by default, /v0.5/traces on request), over HTTP on TCP or on a unix
 * domain socket, mapping OpenTelemetry spans the way the agent maps OTLP (operation name,
 * resource and type from the semantic conventions, "llm" for spans with gen_ai.* attributes;
 * attributes to meta and metrics; links natively and events as JSON in meta, or natively with
 * native_span_events; error fields from the status and the exception event). The agent's answer
 * carries per-service sampling rates, which the exporter hands to the sampler.
 *
 * The sampler makes Datadog's head-sampling decision for new traces: user rules
 * (DD_TRACE_SAMPLING_RULES), the global rate (DD_TRACE_SAMPLE_RATE), a rate limiter on what the
 * rules keep (DD_TRACE_RATE_LIMIT), and else the agent's rate for the service and environment.
 * The decision is deterministic on the lower 64 bits of the trace id (Knuth's multiplicative
 * hash, as every Datadog tracer and the agent use), so services agree. Spans with a parent
 * follow the parent's sampled flag.
 *
 * How the decision is recorded: for a new trace the sampler sets the span's W3C trace state to
 * the Datadog member "dd=s:<priority>;t.dm:-<mechanism>" (the form Datadog tracers propagate in
 * tracestate), which every span of the trace inherits and the tracecontext propagator carries
 * downstream; the rates that applied become attributes of the root span (_dd.rule_psr,
 * _dd.agent_psr, _dd.limit_psr). The exporter reads the member back and writes
 * _sampling_priority_v1 and _dd.p.dm on each chunk's local root. Priorities: 2 USER_KEEP and -1
 * USER_DROP for rule (and rate limiter) decisions, 1 AUTO_KEEP and 0 AUTO_DROP for agent-rate and
 * default decisions. Mechanisms: 3 rule, 1 agent rate, 0 default.
 *
 * Drops follow OpenTelemetry, not the Datadog tracers: a priority <= 0 is a DROP (the span is
 * not recorded and never reaches the agent; its children are dropped by parent-based logic). The
 * sampler counts those traces and spans, and the exporter reports the counts to the agent in the
 * Datadog-Client-Dropped-P0-Traces / -Spans headers. Because the agent never sees dropped
 * traces, its APM trace metrics (hits, errors, latency) cover only the kept traces.
 *
 * When the Datadog sampler is used (wired by the configure library): when
 * OTEL_TRACES_SAMPLER=datadog, or automatically when OTEL_TRACES_EXPORTER includes "datadog" and
 * OTEL_TRACES_SAMPLER is not set. An explicitly set OTEL_TRACES_SAMPLER always wins; with another
 * sampler the exporter still works (the chunk priority is then 1 for sampled spans and the
 * decision maker "-0"), but agent rates have no effect.
 *
 * The exporter and the sampler share an otel_datadog_rates object: the exporter writes the
 * agent's rates into it and reads the dropped counts; the sampler does the opposite. Passing the
 * same object to both connects them; leaving both NULL connects them through a process-wide
 * shared object (otel_datadog_rates_shared()), which is what the configure library does. */
#ifndef OTEL_EXPORTERS_DATADOG_H
#define OTEL_EXPORTERS_DATADOG_H

#include "otel/sdk/config.h"
#include "otel/sdk/resource.h"
#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Agent feedback shared by the exporter and the sampler
 * ------------------------------------------------------------------------------------------- */

/* Per-service sampling rates received from the agent (keys "service:<svc>,env:<env>", the
 * default under "service:,env:") and counters of the traces and spans the sampler dropped.
 * Reference-counted; every function is safe from any thread. */
typedef struct otel_datadog_rates otel_datadog_rates;

/* A new, empty object (no rates yet: the sampler then keeps traces that match no rule, with
 * mechanism "default"). *out receives the first reference.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out), OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_datadog_rates_create(otel_datadog_rates **out);

/* The process-wide object that exporters and samplers created with rates == NULL share. Never
 * NULL; lives until the process exits (retain and release are no-ops on it).
 * Thread-safety: safe. */
OTEL_API otel_datadog_rates *otel_datadog_rates_shared(void);

/* Adds a reference and returns |r| (NULL stays NULL). Thread-safety: safe. */
OTEL_API otel_datadog_rates *otel_datadog_rates_retain(otel_datadog_rates *r);

/* Drops a reference; the last one frees. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_datadog_rates_release(otel_datadog_rates *r);

/* Replaces the rates with those of an agent response body
 * ({"rate_by_service": {"service:a,env:b": 0.5, ...}}). A body without rate_by_service leaves the
 * rates unchanged and returns OTEL_OK. Malformed JSON, a rate_by_service that is not an object,
 * or a rate that is not a number in [0, 1] gives OTEL_ERR_INVALID_ARG and a diagnostic, and
 * changes nothing. Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_datadog_rates_update_json(otel_datadog_rates *r, otel_str body);

/* The agent's rate for |service| and |env| (the exact key, else the default key). Returns false
 * when neither is known. Thread-safety: safe. */
OTEL_API bool otel_datadog_rates_get(const otel_datadog_rates *r, otel_str service, otel_str env,
                                     double *rate);

/* ---------------------------------------------------------------------------------------------
 * Sampler
 * ------------------------------------------------------------------------------------------- */

/* Zero means default everywhere. Strings are copied by otel_datadog_sampler_create(). */
typedef struct otel_datadog_sampler_options {
    /* DD_TRACE_SAMPLING_RULES: a JSON array of rules, each an object with optional glob patterns
     * "service", "name" (the Datadog operation name, as the exporter computes it from the
     * span's kind and start attributes), "resource" and "tags" (an object of attribute key ->
     * value pattern; the attribute must be present at span start), and "sample_rate" (a number
     * in [0, 1], default 1). Patterns use '*' (any run of characters) and '?' (one character)
     * and match case-insensitively, as Datadog tracers do. The first matching rule decides. A
     * bad rule is skipped with one diagnostic; unparsable JSON drops all rules with one
     * diagnostic. NULL or empty: no rules. */
    const char *rules_json;
    /* DD_TRACE_SAMPLE_RATE: when |has_sample_rate|, a catch-all rule with this rate is added
     * after the user rules (its decisions are rule decisions, subject to the rate limiter). */
    bool has_sample_rate;
    double sample_rate;
    /* DD_TRACE_RATE_LIMIT: when |has_rate_limit|, the most traces per second that rule decisions
     * may keep (token bucket, burst equal to one second's worth); 0 keeps none, a negative value
     * means no limit. Default 100. */
    bool has_rate_limit;
    double rate_limit;
    /* The service and environment of spans without a "service.name" start attribute, for rule
     * matching and the agent-rate key. NULL: taken from |resource| (service.name unless it is
     * the SDK's "unknown_service..." default, and deployment.environment.name or
     * deployment.environment); else empty. */
    const char *service;
    const char *env;
    const otel_resource *resource; /* only read during create; may be NULL */
    /* Where the agent's rates arrive and where dropped counts go. Retained. NULL: the
     * process-wide otel_datadog_rates_shared(). */
    otel_datadog_rates *rates;
} otel_datadog_sampler_options;

/* Creates the Datadog sampler (see the top of this header for what it decides and records).
 * The sampler owns copies of everything in |opts|; release it with otel_sampler_destroy() or hand
 * it to a tracer provider, which then owns it. Bad rules are not an error (see rules_json).
 * Errors: OTEL_ERR_INVALID_ARG (NULL out, a sample_rate outside [0, 1] or NaN), OTEL_ERR_NOMEM.
 * Thread-safety: safe; the sampler itself may be called from any number of threads. */
OTEL_API otel_status otel_datadog_sampler_create(const otel_datadog_sampler_options *opts, otel_sampler *out);

/* ---------------------------------------------------------------------------------------------
 * Exporter
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_datadog_api_version {
    OTEL_DATADOG_API_DEFAULT = 0, /* v0.4 */
    OTEL_DATADOG_API_V04 = 1,     /* /v0.4/traces: spans as maps; native span_links */
    OTEL_DATADOG_API_V05 = 2,     /* /v0.5/traces: string table + 12-element span arrays; links
                                   * and events as JSON in meta */
} otel_datadog_api_version;

/* Zero means default everywhere. Strings are borrowed for otel_datadog_exporter_create(), which
 * copies them. */
typedef struct otel_datadog_options {
    /* Where the agent listens, in this order: |agent_url| ("http://host:port" or
     * "unix:///path/to/socket"; "http+unix:///path" is accepted too); else |agent_socket|; else
     * |agent_host| (default "localhost") and |agent_port| (default 8126). */
    const char *agent_url;
    const char *agent_socket;
    const char *agent_host;
    uint16_t agent_port;
    otel_datadog_api_version api_version;
    /* DD_TRACE_NATIVE_SPAN_EVENTS: with /v0.4, send span events in the span's native
     * "span_events" field (typed attribute values) instead of as JSON text in meta["events"].
     * Off by default, as in dd-trace-py and dd-trace-js: an agent that predates the field skips
     * it (the events would be lost), and otelc does not ask the agent's /info endpoint what it
     * supports. /v0.5 has no such field and always uses the JSON form. The variable accepts
     * true/false and 1/0, as the Datadog tracers do. */
    bool native_span_events;
    /* Unified service tagging. |service| is used when a span has no service.name attribute and
     * its resource's service.name is the SDK default ("unknown_service..."); |env| and |version|
     * become the "env" and "version" tags (else the resource's deployment.environment.name /
     * deployment.environment and service.version). */
    const char *service;
    const char *env;
    const char *version;
    /* DD_TAGS: "key:value" pairs separated by commas or spaces, added to every span's meta. */
    const char *tags;
    int64_t request_timeout_ns;       /* one HTTP request; default 2 s (DD_TRACE_AGENT_TIMEOUT_SECONDS) */
    uint32_t max_attempts;            /* tries per payload within the export deadline; default 3 */
    int64_t retry_initial_backoff_ns; /* first retry delay, doubled each time, with jitter; 100 ms */
    int64_t retry_max_backoff_ns;     /* default 1 s */
    /* The largest request body; default 8 MiB. A batch that does not fit goes in several requests,
     * whole traces while they fit; a trace that alone does not fit is sent in parts (chunks of the
     * same trace, each carrying the sampling decision); a span that alone does not fit is dropped
     * and counted. */
    size_t max_payload_bytes;
    /* Agent feedback (rates in, dropped counts out). Retained. NULL: otel_datadog_rates_shared(). */
    otel_datadog_rates *rates;
    /* The sampler settings that otel_datadog_options_from_env() reads (DD_TRACE_SAMPLING_RULES,
     * DD_TRACE_SAMPLE_RATE, DD_TRACE_RATE_LIMIT, and DD_SERVICE / DD_ENV as service and env).
     * The exporter does not use them; pass &opts.sampler to otel_datadog_sampler_create(). */
    otel_datadog_sampler_options sampler;
    /* Private: strings that otel_datadog_options_from_env() allocated; freed by
     * otel_datadog_options_cleanup(). Leave zero. */
    void *env_storage_;
} otel_datadog_options;

/* Fills |opts| from the Datadog variables in |env| (NULL: the process environment), on top of
 * what it holds:
 *   DD_TRACE_AGENT_URL (http://host:port or unix:///path), else DD_AGENT_HOST and
 *   DD_TRACE_AGENT_PORT, else /var/run/datadog/apm.socket when that socket exists and neither
 *   host nor port is set; DD_TRACE_API_VERSION (v0.4 or v0.5); DD_TRACE_NATIVE_SPAN_EVENTS; DD_SERVICE,
 * DD_ENV, DD_VERSION, DD_TAGS; DD_TRACE_AGENT_TIMEOUT_SECONDS; DD_TRACE_SAMPLING_RULES, DD_TRACE_SAMPLE_RATE,
 *   DD_TRACE_RATE_LIMIT (into |opts->sampler|, with DD_SERVICE and DD_ENV).
 * An invalid value gives a diagnostic naming the variable and the default used. Strings are
 * allocated and owned by |opts| until otel_datadog_options_cleanup(); the program may replace
 * any field with its own string afterwards. Errors: OTEL_ERR_INVALID_ARG (NULL opts),
 * OTEL_ERR_NOMEM (some fields may be missing). Thread-safety: as getenv. */
OTEL_API otel_status otel_datadog_options_from_env(otel_datadog_options *opts, const otel_env *env);

/* Frees what otel_datadog_options_from_env() allocated and zeroes |opts|. NULL is ignored.
 * Thread-safety: safe. */
OTEL_API void otel_datadog_options_cleanup(otel_datadog_options *opts);

/* Creates the exporter. It copies |opts| (NULL: all defaults), opens no connection yet, and
 * sends each batch it is given on the calling thread (use it behind the batch processor, whose
 * worker thread is the only caller). An export that cannot reach the agent retries with backoff
 * within its deadline and then fails; memory stays bounded by the largest batch.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out, a malformed agent_url, an unknown api_version),
 * OTEL_ERR_NOMEM, OTEL_ERR_UNSUPPORTED (HTTP support could not be initialised).
 * Thread-safety: safe; the exporter's export_spans is called by one thread at a time. */
OTEL_API otel_status otel_datadog_exporter_create(const otel_datadog_options *opts, otel_span_exporter *out);

#ifdef __cplusplus
}
#endif

#endif
