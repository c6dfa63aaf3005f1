/* The Datadog exporter: groups each batch into trace chunks, encodes them as /v0.4 or /v0.5
 * payloads (several when a batch is large), and POSTs them to the agent with the headers the
 * agent expects, retrying transient failures with backoff and jitter within the export's
 * deadline. The agent's answer carries per-service sampling rates, which go to the shared
 * otel_datadog_rates object the Datadog sampler reads. Everything runs on the caller's thread
 * (the batch processor's worker), one export at a time, so the encoder and the connection need
 * no lock. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dd_encoder.h"
#include "dd_exporter.h"
#include "dd_http.h"
#include "dd_rates.h"
#include "exporter_common.h"
#include "log_internal.h"
#include "mem.h"

#define DEFAULT_TIMEOUT_NS INT64_C(2000000000)
#define DEFAULT_ATTEMPTS 3
#define DEFAULT_BACKOFF_NS INT64_C(100000000)
#define DEFAULT_MAX_BACKOFF_NS INT64_C(1000000000)
#define DEFAULT_MAX_PAYLOAD ((size_t)8 << 20)

#if defined(__clang__)
#define COMPILER_NAME "clang"
#elif defined(__GNUC__)
#define COMPILER_NAME "gcc"
#else
#define COMPILER_NAME "unknown"
#endif
#ifdef __VERSION__
#define COMPILER_VERSION __VERSION__
#else
#define COMPILER_VERSION "unknown"
#endif

struct dd_exporter {
    struct otel__dd_encoder enc;
    struct otel__dd_http *http;
    otel_datadog_rates *rates;
    int api_version;
    char url[600];
    char base_url[512];
    char socket[256];
    int64_t request_timeout_ns;
    uint32_t max_attempts;
    int64_t backoff_ns;
    int64_t max_backoff_ns;
    size_t max_payload;
    /* Copies of the option strings the encoder borrows. */
    char *service;
    char *env;
    char *version;
    char *tags_text;
    struct otel__dd_tag *tags;
    size_t tag_count;
    _Atomic bool shut_down;
    bool warned_downgrade;
    pid_t pid; /* the process the connection belongs to */
    /* Counters, read by otel__dd_exporter_stats from any thread. */
    _Atomic uint64_t requests;
    _Atomic uint64_t payloads_sent;
    _Atomic uint64_t retries;
    _Atomic uint64_t spans_sent;
    _Atomic uint64_t spans_dropped;
    _Atomic uint64_t rate_updates;
    _Atomic uint64_t bad_responses;
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static otel_status set_url(struct dd_exporter *x)
{
    int n = snprintf(x->url, sizeof(x->url), "%s/v0.%d/traces", x->base_url, x->api_version);
    return n > 0 && (size_t)n < sizeof(x->url) ? OTEL_OK : OTEL_ERR_INVALID_ARG;
}

/* How one payload's delivery ended. */
enum send_result {
    SEND_OK,
    SEND_RETRYABLE, /* transient: agent down, slow, overloaded */
    SEND_FATAL,     /* the agent refused the payload */
    SEND_DOWNGRADE, /* v0.5 not understood: re-encode as v0.4 */
};

static bool status_retryable(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

static void handle_answer(struct dd_exporter *x, const struct otel__dd_http_result *res)
{
    if (res->body_len == 0) {
        /* dd-trace-cpp calls an empty answer "sending too frequently"; nothing to update. */
        return;
    }
    if (res->body_truncated) {
        count(&x->bad_responses, 1);
        OTEL__LOG(OTEL_LOG_WARN, "datadog: agent answer larger than 1 MiB; sampling rates unchanged");
        return;
    }
    otel_status st = otel_datadog_rates_update_json(x->rates, (otel_str){ res->body, res->body_len });
    if (st == OTEL_OK)
        count(&x->rate_updates, 1);
    else
        count(&x->bad_responses, 1);
}

static enum send_result send_payload(struct dd_exporter *x, size_t traces, int64_t deadline, char *why,
                                     size_t why_cap)
{
    uint64_t p0_traces = 0, p0_spans = 0;
    otel__dd_rates_take_drops(x->rates, &p0_traces, &p0_spans);
    char h_count[64], h_p0t[64], h_p0s[64];
    snprintf(h_count, sizeof(h_count), "X-Datadog-Trace-Count: %zu", traces);
    snprintf(h_p0t, sizeof(h_p0t), "Datadog-Client-Dropped-P0-Traces: %" PRIu64, p0_traces);
    snprintf(h_p0s, sizeof(h_p0s), "Datadog-Client-Dropped-P0-Spans: %" PRIu64, p0_spans);
    const char *headers[] = {
        "Content-Type: application/msgpack",
        h_count,
        "Datadog-Meta-Lang: c",
        "Datadog-Meta-Lang-Version: " COMPILER_VERSION,
        "Datadog-Meta-Lang-Interpreter: " COMPILER_NAME,
        "Datadog-Meta-Tracer-Version: " OTEL_VERSION_STRING,
        "Datadog-Client-Computed-Top-Level: yes",
        "Expect:", /* no 100-continue round trip for large payloads */
        h_p0t,
        h_p0s,
    };
    size_t header_count = sizeof(headers) / sizeof(headers[0]);
    if (!p0_traces && !p0_spans)
        header_count -= 2;

    otel__backoff bo;
    otel__backoff_init(&bo, x->backoff_ns, x->max_backoff_ns, 2.0);
    enum send_result result = SEND_RETRYABLE;
    for (uint32_t attempt = 1;; attempt++) {
        int64_t left = otel__time_left(deadline);
        if (left <= 0) {
            snprintf(why, why_cap, "export deadline passed");
            break;
        }
        int64_t timeout = x->request_timeout_ns < left ? x->request_timeout_ns : left;
        struct otel__dd_http_result res;
        count(&x->requests, 1);
        otel_status st = otel__dd_http_post(x->http, x->enc.payload, x->enc.payload_len, headers,
                                            header_count, timeout, &res);
        if (st == OTEL_OK) {
            if (res.status >= 200 && res.status < 300) {
                handle_answer(x, &res);
                return SEND_OK;
            }
            if ((res.status == 404 || res.status == 415) && x->api_version == 5) {
                result = SEND_DOWNGRADE;
                snprintf(why, why_cap, "HTTP %ld for /v0.5/traces", res.status);
                break;
            }
            char text[128];
            otel__sanitize_for_log((otel_str){ res.body, res.body_len > 120 ? 120 : res.body_len }, text,
                                   sizeof(text));
            snprintf(why, why_cap, "HTTP %ld%s%s", res.status, text[0] ? ": " : "", text);
            if (!status_retryable(res.status)) {
                result = SEND_FATAL;
                break;
            }
        } else if (st == OTEL_ERR_NOMEM) {
            snprintf(why, why_cap, "out of memory");
            result = SEND_FATAL;
            break;
        } else {
            snprintf(why, why_cap, "%s", res.error);
        }
        if (attempt >= x->max_attempts || atomic_load(&x->shut_down))
            break;
        if (!otel__backoff_wait(&bo, -1, deadline))
            break;
        count(&x->retries, 1);
    }
    /* The agent never heard of these drops: report them with the next payload. */
    otel__dd_rates_return_drops(x->rates, p0_traces, p0_spans);
    return result;
}

static otel_export_result dd_export(void *user_data, const otel_span_data *const *spans, size_t count_in,
                                    int64_t timeout_ns)
{
    struct dd_exporter *x = user_data;
    if (atomic_load(&x->shut_down))
        return OTEL_EXPORT_FAILURE;
    if (count_in == 0)
        return OTEL_EXPORT_SUCCESS;
    int64_t deadline = otel__deadline_after(timeout_ns);
    otel_status st;
    if (getpid() != x->pid) {
        /* A forked child must not talk on its parent's kept-alive connection. */
        x->pid = getpid();
        otel__dd_http_destroy(x->http);
        x->http = NULL;
    }
    if (!x->http) {
        st = otel__dd_http_create(x->url, x->socket[0] ? x->socket : NULL, &x->http);
        if (st != OTEL_OK) {
            x->http = NULL;
            count(&x->spans_dropped, count_in);
            OTEL__LOG(OTEL_LOG_WARN, "datadog: cannot set up the HTTP client (%s); %zu spans dropped",
                      otel_status_str(st), count_in);
            return OTEL_EXPORT_FAILURE;
        }
    }
    otel__dd_encoder_group(&x->enc, spans, count_in, &st);
    if (st != OTEL_OK) {
        count(&x->spans_dropped, count_in);
        OTEL__LOG(OTEL_LOG_WARN, "datadog: out of memory grouping %zu spans; dropped", count_in);
        return OTEL_EXPORT_FAILURE;
    }
    otel_export_result result = OTEL_EXPORT_SUCCESS;
    size_t recounted = 0; /* drops already counted before a re-encode */
    while (!otel__dd_encoder_finished(&x->enc)) {
        struct otel__dd_cursor from = x->enc.pos;
        struct otel__dd_payload_info info;
        st = otel__dd_encoder_encode(&x->enc, x->max_payload, &info);
        if (st != OTEL_OK) {
            size_t lost = count_in - from.consumed;
            count(&x->spans_dropped, lost);
            OTEL__LOG(OTEL_LOG_WARN, "datadog: out of memory encoding %zu spans; dropped", lost);
            return OTEL_EXPORT_FAILURE;
        }
        if (info.dropped > recounted) {
            count(&x->spans_dropped, info.dropped - recounted);
            OTEL__LOG(OTEL_LOG_WARN, "datadog: %zu span%s larger than the %zu-byte payload limit; dropped",
                      info.dropped - recounted, info.dropped - recounted == 1 ? "" : "s", x->max_payload);
        }
        recounted = 0;
        if (info.traces == 0)
            continue; /* everything left was too big */
        char why[256] = "";
        enum send_result sr = send_payload(x, info.traces, deadline, why, sizeof(why));
        if (sr == SEND_DOWNGRADE) {
            /* An agent too old for /v0.5 (dd-trace-py does the same): use /v0.4 from now on. */
            x->api_version = 4;
            x->enc.cfg.api_version = 4;
            x->enc.extras.valid = false; /* its encoded form depends on the version */
            set_url(x);
            otel__dd_http_destroy(x->http);
            x->http = NULL;
            st = otel__dd_http_create(x->url, x->socket[0] ? x->socket : NULL, &x->http);
            if (st != OTEL_OK)
                x->http = NULL; /* the next export tries again */
            if (!x->warned_downgrade) {
                x->warned_downgrade = true;
                otel__log(OTEL_LOG_WARN,
                          "datadog: the agent does not accept /v0.5/traces (%s); "
                          "using /v0.4/traces",
                          why);
            }
            if (st != OTEL_OK) {
                size_t lost = count_in - from.consumed - info.dropped;
                count(&x->spans_dropped, lost);
                return OTEL_EXPORT_FAILURE;
            }
            /* Re-encode the same spans. */
            x->enc.pos = from;
            recounted = info.dropped;
            continue;
        }
        if (sr == SEND_OK) {
            count(&x->payloads_sent, 1);
            count(&x->spans_sent, info.spans);
            continue;
        }
        /* Give up on the rest of the batch: the agent is not taking payloads now. */
        size_t lost = count_in - x->enc.pos.consumed + info.spans;
        count(&x->spans_dropped, lost);
        OTEL__LOG(OTEL_LOG_WARN, "datadog: could not send traces to %s (%s); %zu spans dropped", x->url, why,
                  lost);
        result = sr == SEND_FATAL ? OTEL_EXPORT_FAILURE : OTEL_EXPORT_RETRYABLE;
        break;
    }
    return result;
}

static otel_status dd_force_flush(void *user_data, int64_t timeout_ns)
{
    (void)timeout_ns;
    struct dd_exporter *x = user_data;
    return atomic_load(&x->shut_down) ? OTEL_ERR_SHUT_DOWN : OTEL_OK; /* nothing is buffered */
}

static otel_status dd_shutdown(void *user_data, int64_t timeout_ns)
{
    (void)timeout_ns;
    struct dd_exporter *x = user_data;
    atomic_store(&x->shut_down, true);
    return OTEL_OK;
}

static void dd_destroy(void *user_data)
{
    struct dd_exporter *x = user_data;
    if (!x)
        return;
    otel__dd_encoder_cleanup(&x->enc);
    otel__dd_http_destroy(x->http);
    otel_datadog_rates_release(x->rates);
    otel__free(x->service);
    otel__free(x->env);
    otel__free(x->version);
    otel__free(x->tags_text);
    otel__free(x->tags);
    otel__free(x);
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *c = otel__strndup(s, strlen(s));
    if (!c)
        *failed = true;
    return c;
}

otel_status otel_datadog_exporter_create(const otel_datadog_options *opts, otel_span_exporter *out)
{
    static const otel_datadog_options defaults;
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    if (!opts)
        opts = &defaults;
    if (opts->api_version != OTEL_DATADOG_API_DEFAULT && opts->api_version != OTEL_DATADOG_API_V04 &&
        opts->api_version != OTEL_DATADOG_API_V05)
        return OTEL_ERR_INVALID_ARG;
    struct otel__dd_agent_addr addr;
    otel_status st = otel__dd_resolve_agent(opts, &addr);
    if (st != OTEL_OK)
        return st;

    struct dd_exporter *x = otel__calloc(1, sizeof(*x));
    if (!x)
        return OTEL_ERR_NOMEM;
    x->rates = otel_datadog_rates_retain(opts->rates ? opts->rates : otel_datadog_rates_shared());
    x->api_version = opts->api_version == OTEL_DATADOG_API_V05 ? 5 : 4;
    snprintf(x->base_url, sizeof(x->base_url), "%s", addr.base_url);
    snprintf(x->socket, sizeof(x->socket), "%s", addr.socket);
    x->request_timeout_ns = opts->request_timeout_ns > 0 ? opts->request_timeout_ns : DEFAULT_TIMEOUT_NS;
    x->max_attempts = opts->max_attempts ? opts->max_attempts : DEFAULT_ATTEMPTS;
    x->backoff_ns = opts->retry_initial_backoff_ns > 0 ? opts->retry_initial_backoff_ns : DEFAULT_BACKOFF_NS;
    x->max_backoff_ns = opts->retry_max_backoff_ns > 0 ? opts->retry_max_backoff_ns : DEFAULT_MAX_BACKOFF_NS;
    x->max_payload = opts->max_payload_bytes ? opts->max_payload_bytes : DEFAULT_MAX_PAYLOAD;
    atomic_init(&x->shut_down, false);
    x->pid = getpid();

    bool failed = false;
    x->service = dup_or_null(opts->service, &failed);
    x->env = dup_or_null(opts->env, &failed);
    x->version = dup_or_null(opts->version, &failed);
    x->tags_text = dup_or_null(opts->tags, &failed);
    st = OTEL_ERR_NOMEM;
    if (failed)
        goto out_destroy;
    if (x->tags_text) {
        size_t bad = 0;
        otel_str text = otel_str_from_cstr(x->tags_text);
        size_t n = otel__dd_parse_tags(text, NULL, 0, &bad);
        if (bad)
            otel__log(OTEL_LOG_WARN, "datadog: DD_TAGS: ignoring %zu entr%s without \"key:value\"", bad,
                      bad == 1 ? "y" : "ies");
        if (n) {
            x->tags = otel__calloc(n, sizeof(*x->tags));
            if (!x->tags)
                goto out_destroy;
            x->tag_count = otel__dd_parse_tags(text, x->tags, n, &bad);
        }
    }
    struct otel__dd_encoder_config cfg = {
        .api_version = x->api_version,
        .service = otel_str_from_cstr(x->service),
        .env = otel_str_from_cstr(x->env),
        .version = otel_str_from_cstr(x->version),
        .tags = x->tags,
        .tag_count = x->tag_count,
        .native_span_events = opts->native_span_events,
    };
    otel__dd_encoder_init(&x->enc, &cfg);
    st = set_url(x);
    if (st != OTEL_OK)
        goto out_destroy;
    st = otel__dd_http_create(x->url, x->socket[0] ? x->socket : NULL, &x->http);
    if (st != OTEL_OK)
        goto out_destroy;

    out->export_spans = dd_export;
    out->force_flush = dd_force_flush;
    out->shutdown = dd_shutdown;
    out->destroy = dd_destroy;
    out->user_data = x;
    return OTEL_OK;
out_destroy:
    dd_destroy(x);
    return st;
}

bool otel__dd_exporter_stats(const otel_span_exporter *e, struct otel__dd_exporter_stats *out)
{
    if (!e || e->export_spans != dd_export)
        return false;
    struct dd_exporter *x = e->user_data;
    out->requests = atomic_load(&x->requests);
    out->payloads_sent = atomic_load(&x->payloads_sent);
    out->retries = atomic_load(&x->retries);
    out->spans_sent = atomic_load(&x->spans_sent);
    out->spans_dropped = atomic_load(&x->spans_dropped);
    out->rate_updates = atomic_load(&x->rate_updates);
    out->bad_responses = atomic_load(&x->bad_responses);
    return true;
}

const char *otel__dd_exporter_url(const otel_span_exporter *e)
{
    if (!e || e->export_spans != dd_export)
        return NULL;
    return ((struct dd_exporter *)e->user_data)->url;
}
