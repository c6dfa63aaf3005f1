/* The OTLP span exporter: encodes each batch once (protobuf or JSON), compresses it once when
 * gzip is on, then sends it over HTTP/1.1 (libcurl) or gRPC (our nghttp2 client) and retries
 * transient failures with exponential backoff and jitter, honouring Retry-After and gRPC
 * RetryInfo, until the export deadline. Every batch ends in exactly one of: delivered (possibly
 * with a partial-success report), dropped as non-retryable, or given up on at the deadline; the
 * last two are counted and logged (rate-limited), without header values or URL credentials. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exporter_common.h"
#include "log_internal.h"
#include "mem.h"
#include "otel/exporters/otlp.h"
#include "otlp_encode.h"
#include "otlp_internal.h"

#define DEFAULT_TIMEOUT_NS 10000000000LL
#define DEFAULT_MAX_ATTEMPTS 5u
#define DEFAULT_MAX_REQUEST_BYTES ((size_t)64 << 20)
#define GRPC_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

struct otlp_exporter {
    otel_otlp_protocol protocol;
    bool gzip;
    int64_t timeout_ns; /* < 0: no limit */
    uint32_t max_attempts;
    otel__backoff backoff;
    bool shut_down;
    char endpoint_for_logs[256]; /* without credentials or query */

    struct otel__otlp_encoder enc;
    otel__gzip *gz;
    otel__buf gz_out;
    otel__http_client *http;
    struct otel__grpc_client *grpc;

    _Atomic uint64_t exports;
    _Atomic uint64_t spans_exported;
    _Atomic uint64_t spans_rejected;
    _Atomic uint64_t spans_failed;
    _Atomic uint64_t requests;
    _Atomic uint64_t retries;
    _Atomic uint64_t bytes_sent;
    _Atomic uint64_t http_connections;
};

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static const char *protocol_name(otel_otlp_protocol p)
{
    switch (p) {
    case OTEL_OTLP_HTTP_PROTOBUF:
        return "http/protobuf";
    case OTEL_OTLP_HTTP_JSON:
        return "http/json";
    case OTEL_OTLP_GRPC:
        return "grpc";
    }
    return "?";
}

/* ---------------------------------------------------------------------------------------------
 * Endpoints
 * ------------------------------------------------------------------------------------------- */

static bool eq_nocase(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != b[i])
            return false;
    }
    return true;
}

bool otel__otlp_url_parse(otel_str text, bool allow_no_scheme, struct otel__otlp_url *out)
{
    struct otel__otlp_url u;
    memset(&u, 0, sizeof(u));
    const char *p = text.data, *end = text.data + text.len;
    for (const char *q = p; q < end; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return false;
    const char *colon = memchr(p, ':', text.len);
    if (colon && end - colon >= 3 && colon[1] == '/' && colon[2] == '/') {
        size_t sl = (size_t)(colon - p);
        if (eq_nocase(p, sl, "http"))
            u.tls = false;
        else if (eq_nocase(p, sl, "https"))
            u.tls = true;
        else
            return false;
        u.has_scheme = true;
        p = colon + 3;
    } else if (!allow_no_scheme) {
        return false;
    }
    const char *auth_end = p;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
        auth_end++;
    /* userinfo@ is allowed (libcurl uses it) but never shown. */
    const char *at = NULL;
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q;
    const char *host = at ? at + 1 : p;
    const char *host_end;
    const char *port = NULL;
    if (host < auth_end && *host == '[') {
        const char *rb = memchr(host, ']', (size_t)(auth_end - host));
        if (!rb)
            return false;
        u.ipv6 = true;
        host_end = rb + 1;
        if (host_end < auth_end) {
            if (*host_end != ':')
                return false;
            port = host_end + 1;
        }
        host++;
        host_end = rb;
    } else {
        const char *c = memchr(host, ':', (size_t)(auth_end - host));
        host_end = c ? c : auth_end;
        if (c)
            port = c + 1;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof(u.host))
        return false;
    memcpy(u.host, host, hl);
    u.host[hl] = '\0';
    if (port) {
        unsigned long v = 0;
        if (port == auth_end)
            return false;
        for (const char *q = port; q < auth_end; q++) {
            if (*q < '0' || *q > '9')
                return false;
            v = v * 10 + (unsigned long)(*q - '0');
            if (v > 65535)
                return false;
        }
        if (v == 0)
            return false;
        u.port = (uint16_t)v;
    }
    const char *path = auth_end;
    const char *path_end = path;
    while (path_end < end && *path_end != '?' && *path_end != '#')
        path_end++;
    u.path = (otel_str){ path, (size_t)(path_end - path) };
    const char *pq_end = path_end;
    while (pq_end < end && *pq_end != '#')
        pq_end++;
    u.path_and_query = (otel_str){ path, (size_t)(pq_end - path) };
    *out = u;
    return true;
}

void otel__otlp_url_redact(const char *text, char *out, size_t cap)
{
    struct otel__otlp_url u;
    if (cap == 0)
        return;
    if (!text || !otel__otlp_url_parse(otel_str_from_cstr(text), true, &u)) {
        snprintf(out, cap, "(invalid endpoint)");
        return;
    }
    char port[8] = "";
    if (u.port)
        snprintf(port, sizeof(port), ":%u", (unsigned)u.port);
    char path[128];
    otel__sanitize_for_log(u.path, path, sizeof(path));
    snprintf(out, cap, "%s%s%s%s%s%s", u.has_scheme ? (u.tls ? "https://" : "http://") : "",
             u.ipv6 ? "[" : "", u.host, u.ipv6 ? "]" : "", port, path);
}

/* ---------------------------------------------------------------------------------------------
 * Sending, with retries
 * ------------------------------------------------------------------------------------------- */

enum verdict { V_OK, V_RETRY, V_FAIL };

/* The text of a google.rpc.Status (OTLP/HTTP error bodies): its message field, if any. */
static otel_str status_message(const uint8_t *body, size_t len, bool json)
{
    if (json) {
        /* {"code":3,"message":"..."} */
        otel_str m = { NULL, 0 };
        const char *k = "\"message\"";
        for (size_t i = 0; len >= 10 && i + 9 < len; i++) {
            if (memcmp(body + i, k, 9) != 0)
                continue;
            size_t j = i + 9;
            while (j < len && (body[j] == ' ' || body[j] == ':'))
                j++;
            if (j < len && body[j] == '"') {
                size_t s = ++j;
                while (j < len && body[j] != '"')
                    j += body[j] == '\\' ? 2 : 1;
                m = (otel_str){ (const char *)body + s, (j < len ? j : len) - s };
            }
            break;
        }
        return m;
    }
    /* Status { int32 code = 1; string message = 2; ... } */
    const uint8_t *p = body, *end = body + len;
    while (p < end) {
        uint8_t tag = *p++;
        if (tag == 0x08) {
            while (p < end && (*p & 0x80))
                p++;
            p++;
        } else if (tag == 0x12 && p < end) {
            size_t n = 0;
            int shift = 0;
            while (p < end && shift < 28) {
                uint8_t b = *p++;
                n |= (size_t)(b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80))
                    break;
            }
            if (n > (size_t)(end - p))
                break;
            return (otel_str){ (const char *)p, n };
        } else {
            break;
        }
    }
    return (otel_str){ NULL, 0 };
}

static void report_partial_success(struct otlp_exporter *x, const uint8_t *body, size_t len, bool json,
                                   size_t span_count)
{
    int64_t rejected = 0;
    otel_str msg = { NULL, 0 };
    bool ok = json ? otel__otlp_parse_response_json(body, len, &rejected, &msg)
                   : otel__otlp_parse_response(body, len, &rejected, &msg);
    if (!ok || (rejected <= 0 && msg.len == 0))
        return;
    char text[200];
    otel__sanitize_for_log(msg, text, sizeof(text));
    if (rejected > 0) {
        count(&x->spans_rejected, (uint64_t)rejected);
        OTEL__LOG(OTEL_LOG_WARN, "otlp: %s rejected %lld of %zu spans (partial success): %s",
                  x->endpoint_for_logs, (long long)rejected, span_count, text[0] ? text : "no message");
    } else {
        OTEL__LOG(OTEL_LOG_WARN, "otlp: %s accepted all %zu spans with a warning: %s", x->endpoint_for_logs,
                  span_count, text);
    }
}

static enum verdict send_http(struct otlp_exporter *x, const uint8_t *body, size_t len, int64_t deadline,
                              size_t span_count, int64_t *retry_after, char *why, size_t why_cap)
{
    otel__http_result r;
    otel__http_post(x->http, body, len, x->gzip, deadline, &r);
    if (r.new_connections > 0)
        count(&x->http_connections, (uint64_t)r.new_connections);
    switch (r.outcome) {
    case OTEL__HTTP_RESPONSE:
        break;
    case OTEL__HTTP_TIMEOUT:
        snprintf(why, why_cap, "timed out (%s)", r.error);
        return V_RETRY; /* the deadline check ends the loop */
    case OTEL__HTTP_CONNECT:
        snprintf(why, why_cap, "cannot connect (%s)", r.error);
        return V_RETRY;
    case OTEL__HTTP_BROKEN:
        snprintf(why, why_cap, "connection failed (%s)", r.error);
        return V_RETRY;
    case OTEL__HTTP_TLS:
        snprintf(why, why_cap, "TLS failure (%s)", r.error);
        return V_FAIL;
    case OTEL__HTTP_OTHER:
    default:
        snprintf(why, why_cap, "%s", r.error);
        return V_FAIL;
    }
    bool json = x->protocol == OTEL_OTLP_HTTP_JSON;
    if (r.status >= 200 && r.status < 300) {
        report_partial_success(x, r.body, r.body_len, json, span_count);
        return V_OK;
    }
    char text[160];
    otel_str msg = status_message(r.body, r.body_len, json);
    otel__sanitize_for_log(msg, text, sizeof(text));
    snprintf(why, why_cap, "HTTP %ld%s%s", r.status, text[0] ? ": " : "", text);
    if (otel__http_status_retryable(r.status)) {
        *retry_after = r.retry_after_ns;
        return V_RETRY;
    }
    return V_FAIL;
}

static bool grpc_code_retryable(int code, bool has_retry_info)
{
    switch (code) {
    case OTEL__GRPC_CANCELLED:
    case OTEL__GRPC_DEADLINE_EXCEEDED:
    case OTEL__GRPC_ABORTED:
    case OTEL__GRPC_OUT_OF_RANGE:
    case OTEL__GRPC_UNAVAILABLE:
    case OTEL__GRPC_DATA_LOSS:
        return true;
    case OTEL__GRPC_RESOURCE_EXHAUSTED:
        return has_retry_info;
    default:
        return false;
    }
}

static enum verdict send_grpc(struct otlp_exporter *x, const uint8_t *body, size_t len, int64_t deadline,
                              size_t span_count, int64_t *retry_after, char *why, size_t why_cap)
{
    struct otel__grpc_result r;
    otel__grpc_call(x->grpc, body, len, deadline, &r);
    switch (r.outcome) {
    case OTEL__GRPC_STATUS:
        break;
    case OTEL__GRPC_TIMEOUT:
        snprintf(why, why_cap, "timed out (%s)", r.error);
        return V_RETRY;
    case OTEL__GRPC_CONNECT:
        snprintf(why, why_cap, "cannot connect (%s)", r.error);
        return V_RETRY;
    case OTEL__GRPC_BROKEN:
        snprintf(why, why_cap, "connection failed (%s)", r.error);
        return V_RETRY;
    case OTEL__GRPC_TLS:
        snprintf(why, why_cap, "TLS failure (%s)", r.error);
        return V_FAIL;
    case OTEL__GRPC_PROTOCOL:
        snprintf(why, why_cap, "not a gRPC response (HTTP %d%s%s)", r.http_status, r.error[0] ? ": " : "",
                 r.error);
        /* The gRPC spec maps these HTTP statuses to UNAVAILABLE. */
        return otel__http_status_retryable(r.http_status) ? V_RETRY : V_FAIL;
    case OTEL__GRPC_OTHER:
    default:
        snprintf(why, why_cap, "%s", r.error);
        return V_FAIL;
    }
    if (r.status == OTEL__GRPC_OK) {
        report_partial_success(x, r.message, r.message_len, false, span_count);
        return V_OK;
    }
    snprintf(why, why_cap, "gRPC status %d%s%s", r.status, r.error[0] ? ": " : "", r.error);
    if (grpc_code_retryable(r.status, r.retry_delay_ns >= 0)) {
        *retry_after = r.retry_delay_ns;
        return V_RETRY;
    }
    return V_FAIL;
}

static otel_export_result otlp_export(void *user_data, const otel_span_data *const *spans, size_t n,
                                      int64_t timeout_ns)
{
    struct otlp_exporter *x = user_data;
    count(&x->exports, 1);
    if (x->shut_down) {
        count(&x->spans_failed, n);
        OTEL__LOG(OTEL_LOG_WARN, "otlp: export after shutdown; %zu spans dropped", n);
        return OTEL_EXPORT_FAILURE;
    }
    if (n == 0)
        return OTEL_EXPORT_SUCCESS;

    /* The tighter of the caller's timeout and ours; 0 or negative means no limit. */
    int64_t limit = x->timeout_ns;
    if (timeout_ns > 0 && (limit <= 0 || timeout_ns < limit))
        limit = timeout_ns;
    int64_t deadline = otel__deadline_after(limit);

    const uint8_t *body = NULL;
    size_t len = 0;
    otel_status st = x->protocol == OTEL_OTLP_HTTP_JSON
                         ? otel__otlp_encode_json(&x->enc, spans, n, &body, &len)
                         : otel__otlp_encode_proto(&x->enc, spans, n, &body, &len);
    if (st != OTEL_OK) {
        count(&x->spans_failed, n);
        OTEL__LOG(OTEL_LOG_ERROR,
                  "otlp: cannot encode %zu spans (out of memory or over the request size "
                  "limit); dropped",
                  n);
        return OTEL_EXPORT_FAILURE;
    }
    if (x->gzip) {
        if (otel__gzip_compress(x->gz, body, len, &x->gz_out) != OTEL_OK) {
            count(&x->spans_failed, n);
            OTEL__LOG(OTEL_LOG_ERROR, "otlp: cannot compress %zu spans (out of memory); dropped", n);
            return OTEL_EXPORT_FAILURE;
        }
        body = x->gz_out.data;
        len = x->gz_out.len;
    }

    char why[400] = "";
    otel__backoff_reset(&x->backoff);
    for (uint32_t attempt = 1;; attempt++) {
        count(&x->requests, 1);
        count(&x->bytes_sent, len);
        if (attempt > 1)
            count(&x->retries, 1);
        int64_t retry_after = -1;
        enum verdict v = x->grpc ? send_grpc(x, body, len, deadline, n, &retry_after, why, sizeof(why))
                                 : send_http(x, body, len, deadline, n, &retry_after, why, sizeof(why));
        if (v == V_OK) {
            count(&x->spans_exported, n);
            return OTEL_EXPORT_SUCCESS;
        }
        if (v == V_FAIL) {
            count(&x->spans_failed, n);
            OTEL__LOG(OTEL_LOG_ERROR, "otlp: export of %zu spans to %s failed: %s; dropped", n,
                      x->endpoint_for_logs, why);
            return OTEL_EXPORT_FAILURE;
        }
        if (attempt >= x->max_attempts || !otel__backoff_wait(&x->backoff, retry_after, deadline)) {
            count(&x->spans_failed, n);
            OTEL__LOG(OTEL_LOG_ERROR,
                      "otlp: export of %zu spans to %s failed after %u attempt%s: %s; dropped", n,
                      x->endpoint_for_logs, attempt, attempt == 1 ? "" : "s", why);
            return OTEL_EXPORT_RETRYABLE;
        }
    }
}

static otel_status otlp_force_flush(void *user_data, int64_t timeout_ns)
{
    (void)timeout_ns;
    struct otlp_exporter *x = user_data;
    /* Nothing is buffered between exports. */
    return x->shut_down ? OTEL_ERR_SHUT_DOWN : OTEL_OK;
}

static otel_status otlp_shutdown(void *user_data, int64_t timeout_ns)
{
    (void)timeout_ns;
    struct otlp_exporter *x = user_data;
    if (!x->shut_down) {
        x->shut_down = true;
        if (x->grpc)
            otel__grpc_close(x->grpc);
    }
    return OTEL_OK;
}

static void otlp_destroy(void *user_data)
{
    struct otlp_exporter *x = user_data;
    if (!x)
        return;
    otel__http_client_destroy(x->http);
    otel__grpc_client_destroy(x->grpc);
    otel__gzip_destroy(x->gz);
    otel__buf_free(&x->gz_out);
    otel__otlp_encoder_cleanup(&x->enc);
    otel__free(x);
}

otel_status otel_otlp_exporter_get_stats(const otel_span_exporter *e, otel_otlp_exporter_stats *out)
{
    if (!e || !out || e->export_spans != otlp_export || !e->user_data)
        return OTEL_ERR_INVALID_ARG;
    struct otlp_exporter *x = e->user_data;
    out->exports = atomic_load_explicit(&x->exports, memory_order_relaxed);
    out->spans_exported = atomic_load_explicit(&x->spans_exported, memory_order_relaxed);
    out->spans_rejected = atomic_load_explicit(&x->spans_rejected, memory_order_relaxed);
    out->spans_failed = atomic_load_explicit(&x->spans_failed, memory_order_relaxed);
    out->requests = atomic_load_explicit(&x->requests, memory_order_relaxed);
    out->retries = atomic_load_explicit(&x->retries, memory_order_relaxed);
    out->bytes_sent = atomic_load_explicit(&x->bytes_sent, memory_order_relaxed);
    out->connections = x->grpc ? otel__grpc_connections(x->grpc)
                               : atomic_load_explicit(&x->http_connections, memory_order_relaxed);
    return OTEL_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Creation
 * ------------------------------------------------------------------------------------------- */

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                  (c && strchr("!#$%&'*+-.^_`|~", c));
        if (!ok)
            return false;
    }
    return true;
}

static bool file_readable(const char *what, const char *path)
{
    if (!path)
        return true;
    if (access(path, R_OK) == 0)
        return true;
    otel__log(OTEL_LOG_ERROR, "otlp: the %s file cannot be read", what);
    return false;
}

/* Builds the transport; |names| and |values| are the validated headers. */
static otel_status make_transport(struct otlp_exporter *x, const otel_otlp_options *o, const char *endpoint,
                                  const struct otel__otlp_url *u, const char *const *names,
                                  const char *const *values, const char *user_agent)
{
    if (x->protocol != OTEL_OTLP_GRPC) {
        otel__http_options ho = {
            .url = endpoint,
            .content_type =
                x->protocol == OTEL_OTLP_HTTP_JSON ? "application/json" : "application/x-protobuf",
            .user_agent = user_agent,
            .header_names = names,
            .header_values = values,
            .header_count = o->header_count,
            .ca_file = o->certificate_file,
            .client_cert_file = o->client_certificate_file,
            .client_key_file = o->client_key_file,
        };
        return otel__http_client_create(&ho, &x->http);
    }
    bool tls = u->has_scheme ? u->tls : !o->insecure;
    char authority[OTEL__OTLP_HOST_MAX + 16];
    uint16_t port = u->port ? u->port : (uint16_t)(tls ? 443 : 80);
    snprintf(authority, sizeof(authority), "%s%s%s:%u", u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "",
             (unsigned)port);
    struct otel__grpc_options go = {
        .host = u->host,
        .port = port,
        .tls = tls,
        .authority = authority,
        .path = GRPC_PATH,
        .user_agent = user_agent,
        .metadata_names = names,
        .metadata_values = values,
        .metadata_count = o->header_count,
        .gzip = x->gzip,
        .ca_file = o->certificate_file,
        .client_cert_file = o->client_certificate_file,
        .client_key_file = o->client_key_file,
    };
    return otel__grpc_client_create(&go, &x->grpc);
}

otel_status otel_otlp_exporter_create(const otel_otlp_options *opts, otel_span_exporter *out)
{
    static const otel_otlp_options defaults;
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    const otel_otlp_options *o = opts ? opts : &defaults;
    if ((unsigned)o->protocol > OTEL_OTLP_GRPC || (unsigned)o->compression > OTEL_OTLP_COMPRESSION_GZIP) {
        otel__log(OTEL_LOG_ERROR, "otlp: unknown protocol or compression");
        return OTEL_ERR_INVALID_ARG;
    }
    bool grpc = o->protocol == OTEL_OTLP_GRPC;
    const char *endpoint = o->endpoint && *o->endpoint ? o->endpoint
                           : grpc                      ? "http://localhost:4317"
                                                       : "http://localhost:4318/v1/traces";
    struct otel__otlp_url u;
    if (!otel__otlp_url_parse(otel_str_from_cstr(endpoint), grpc, &u)) {
        otel__log(OTEL_LOG_ERROR, "otlp: the endpoint is not %s",
                  grpc ? "an http(s):// URL or host:port" : "an http(s):// URL");
        return OTEL_ERR_INVALID_ARG;
    }
    if (grpc && !u.port && !u.has_scheme) {
        otel__log(OTEL_LOG_ERROR, "otlp: the gRPC endpoint has neither a scheme nor a port");
        return OTEL_ERR_INVALID_ARG;
    }
    if (o->header_count && !o->headers)
        return OTEL_ERR_INVALID_ARG;
    for (size_t i = 0; i < o->header_count; i++) {
        const otel_otlp_header *h = &o->headers[i];
        if (!is_token(h->name) || !h->value || strpbrk(h->value, "\r\n")) {
            otel__log(OTEL_LOG_ERROR, "otlp: header %zu has an invalid name or value", i + 1);
            return OTEL_ERR_INVALID_ARG;
        }
    }
    if (!file_readable("certificate", o->certificate_file) ||
        !file_readable("client certificate", o->client_certificate_file) ||
        !file_readable("client key", o->client_key_file))
        return OTEL_ERR_INVALID_ARG;

    otel_status st = OTEL_ERR_NOMEM;
    struct otlp_exporter *x = otel__calloc(1, sizeof(*x));
    if (!x)
        return OTEL_ERR_NOMEM;
    x->protocol = o->protocol;
    x->gzip = o->compression == OTEL_OTLP_COMPRESSION_GZIP;
    x->timeout_ns = o->timeout_ns == 0 ? DEFAULT_TIMEOUT_NS : o->timeout_ns;
    x->max_attempts = o->retry_max_attempts ? o->retry_max_attempts : DEFAULT_MAX_ATTEMPTS;
    otel__backoff_init(&x->backoff, o->retry_initial_backoff_ns, o->retry_max_backoff_ns,
                       o->retry_backoff_multiplier);
    otel__otlp_url_redact(endpoint, x->endpoint_for_logs, sizeof(x->endpoint_for_logs));
    otel__otlp_encoder_init(&x->enc, o->max_request_bytes ? o->max_request_bytes : DEFAULT_MAX_REQUEST_BYTES);
    x->gz_out.max_bytes = o->max_request_bytes ? o->max_request_bytes : DEFAULT_MAX_REQUEST_BYTES;
    if (x->gzip && otel__gzip_create(&x->gz) != OTEL_OK)
        goto out_destroy;

    /* gRPC metadata names must be lowercase; HTTP/1.1 does not care, so lowercase both. */
    size_t hc = o->header_count;
    char **names = hc ? otel__calloc(hc, sizeof(*names)) : NULL;
    if (hc && !names)
        goto out_destroy;
    bool names_ok = true;
    for (size_t i = 0; i < hc; i++) {
        names[i] = otel__strndup(o->headers[i].name, strlen(o->headers[i].name));
        if (!names[i]) {
            names_ok = false;
            break;
        }
        for (char *p = names[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
    }
    const char **values = hc ? otel__calloc(hc, sizeof(*values)) : NULL;
    if (hc && !values)
        names_ok = false;
    for (size_t i = 0; names_ok && i < hc; i++)
        values[i] = o->headers[i].value;
    char user_agent[96];
    snprintf(user_agent, sizeof(user_agent), "OTel-OTLP-Exporter-C/%s otelc/%s", otel_version_string(),
             otel_version_string());
    if (names_ok)
        st = make_transport(x, o, endpoint, &u, (const char *const *)names, values, user_agent);
    for (size_t i = 0; names && i < hc; i++)
        otel__free(names[i]);
    otel__free(names);
    otel__free(values);
    if (st != OTEL_OK) {
        if (st != OTEL_ERR_NOMEM && st != OTEL_ERR_INVALID_ARG)
            otel__log(OTEL_LOG_ERROR, "otlp: cannot set up the %s transport: %s", protocol_name(x->protocol),
                      otel_status_str(st));
        goto out_destroy;
    }
    *out = (otel_span_exporter){
        .export_spans = otlp_export,
        .force_flush = otlp_force_flush,
        .shutdown = otlp_shutdown,
        .destroy = otlp_destroy,
        .user_data = x,
    };
    return OTEL_OK;
out_destroy:
    otlp_destroy(x);
    return st;
}
