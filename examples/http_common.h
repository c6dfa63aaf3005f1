/* Outgoing HTTP calls for the HTTP examples (http_server.c, http_client.c), on libcurl: each call
 * is a CLIENT span, a child of the calling thread's current context, whose context is injected
 * into the request headers with the global propagator (whatever OTEL_PROPAGATORS configured).
 * Shows the client half of instrumenting HTTP: name the span after the method, record the
 * semantic-convention attributes, inject, and mark 4xx/5xx and transport failures as errors. */
#ifndef OTELC_EXAMPLES_HTTP_COMMON_H
#define OTELC_EXAMPLES_HTTP_COMMON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include <otel/otel.h>

/* Bounds for one outgoing call. */
#define HTTP_CALL_TIMEOUT_MS 10000L
#define HTTP_CALL_CONNECT_TIMEOUT_MS 3000L
#define HTTP_CALL_MAX_RESPONSE_BYTES (1024 * 1024)

/* ---------------------------------------------------------------------------------------------
 * A carrier writer over a curl_slist: set() appends "name: value", replacing an earlier header
 * of the same name (compared case-insensitively), as the writer contract asks.
 * ------------------------------------------------------------------------------------------- */

struct http_slist_carrier {
    struct curl_slist *list;
    bool failed; /* an allocation failed: some header is missing */
};

/* True when the curl header line |line| ("Name: value" or "Name;") names |name|. */
static inline bool http__line_has_name(const char *line, otel_str name)
{
    return strncasecmp(line, name.data, name.len) == 0 && (line[name.len] == ':' || line[name.len] == ';');
}

static inline void http__slist_set(void *user_data, otel_str name, otel_str value)
{
    struct http_slist_carrier *c = user_data;
    if (name.len == 0 || memchr(name.data, '\0', name.len) || memchr(value.data, '\r', value.len) ||
        memchr(value.data, '\n', value.len))
        return; /* nothing a propagator writes; keeps the request well-formed regardless */
    char *line = malloc(name.len + value.len + 3);
    if (!line) {
        c->failed = true;
        return;
    }
    memcpy(line, name.data, name.len);
    size_t n = name.len;
    if (value.len == 0) {
        line[n++] = ';'; /* curl's way to send a header with an empty value */
    } else {
        line[n++] = ':';
        line[n++] = ' ';
        memcpy(line + n, value.data, value.len);
        n += value.len;
    }
    line[n] = '\0';

    /* curl_slist has no removal: rebuild the list without the replaced header. Propagators
     * write a handful of headers, so the copy costs nothing worth optimising. */
    struct curl_slist *rebuilt = NULL;
    bool replaced = false;
    for (struct curl_slist *it = c->list; it; it = it->next) {
        if (http__line_has_name(it->data, name)) {
            replaced = true;
            continue;
        }
        struct curl_slist *t = curl_slist_append(rebuilt, it->data);
        if (!t)
            goto out_fail;
        rebuilt = t;
    }
    if (!replaced) {
        curl_slist_free_all(rebuilt);
        rebuilt = c->list;
        c->list = NULL;
    }
    struct curl_slist *t = curl_slist_append(rebuilt, line);
    if (!t)
        goto out_fail;
    curl_slist_free_all(c->list);
    c->list = t;
    free(line);
    return;

out_fail:
    if (!replaced)
        c->list = rebuilt; /* it was the original list, unchanged */
    else
        curl_slist_free_all(rebuilt);
    free(line);
    c->failed = true;
}

static inline otel_carrier_writer http_slist_writer(struct http_slist_carrier *c)
{
    otel_carrier_writer w = { .set = http__slist_set, .user_data = c };
    return w;
}

/* ---------------------------------------------------------------------------------------------
 * One outgoing request as a CLIENT span
 * ------------------------------------------------------------------------------------------- */

struct http_call {
    /* In: */
    const char *method; /* "GET", "POST", ... */
    const char *url;    /* http:// or https:// only */
    const char *body;   /* may be NULL */
    size_t body_len;
    const struct curl_slist *headers; /* extra request headers ("Name: value"); may be NULL */
    bool no_span;                     /* plain request: no span, no injection */
    /* Out: */
    long status;    /* HTTP status, 0 when no response arrived */
    char *response; /* NUL-terminated body (truncated at the limit); free() it */
    size_t response_len;
    char error[CURL_ERROR_SIZE];    /* what went wrong when no response arrived */
    otel_span_context span_context; /* the CLIENT span's ids (copied before it ended) */
};

static inline size_t http__on_body(char *data, size_t size, size_t nmemb, void *user_data)
{
    struct http_call *c = user_data;
    size_t n = size * nmemb;
    size_t keep = n;
    if (c->response_len + keep > HTTP_CALL_MAX_RESPONSE_BYTES)
        keep = HTTP_CALL_MAX_RESPONSE_BYTES - c->response_len;
    if (keep) {
        char *grown = realloc(c->response, c->response_len + keep + 1);
        if (!grown)
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        c->response = grown;
        memcpy(c->response + c->response_len, data, keep);
        c->response_len += keep;
        c->response[c->response_len] = '\0';
    }
    return n;
}

/* A low-cardinality error.type for a transport failure (semantic conventions: not the message). */
static inline const char *http__curl_error_type(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return "dns_failure";
    case CURLE_COULDNT_CONNECT:
        return "connection_refused";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_URL_MALFORMAT:
        return "invalid_url";
    case CURLE_UNSUPPORTED_PROTOCOL:
        return "unsupported_scheme";
    case CURLE_SSL_CONNECT_ERROR:
        return "tls_failure";
    case CURLE_GOT_NOTHING:
        return "empty_response";
    default:
        return "_OTHER";
    }
}

/* Starts the CLIENT span for |c| with the attributes known before sending. */
static inline otel_span http__start_client_span(otel_tracer *tracer, const struct http_call *c)
{
    otel_attr attrs[4];
    size_t n = 0;
    attrs[n++] = OTEL_ATTR_STR("http.request.method", otel_str_from_cstr(c->method));
    attrs[n++] = OTEL_ATTR_STR("url.full", otel_str_from_cstr(c->url));
    char *host = NULL, *port = NULL;
    CURLU *u = curl_url();
    if (u && curl_url_set(u, CURLUPART_URL, c->url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    }
    if (host)
        attrs[n++] = OTEL_ATTR_STR("server.address", otel_str_from_cstr(host));
    if (port)
        attrs[n++] = OTEL_ATTR_INT("server.port", strtol(port, NULL, 10));
    otel_span_start_options so = { .kind = OTEL_SPAN_KIND_CLIENT, .attrs = attrs, .attr_count = n };
    /* HTTP client spans are named after the method alone: a URL is too varied for a name. */
    otel_span span = otel_tracer_start_span(tracer, otel_str_from_cstr(c->method), &so);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return span;
}

/* Sends |c| and waits for the answer (bounded by HTTP_CALL_TIMEOUT_MS). Returns true when a
 * response arrived, whatever its status. The CLIENT span (unless c->no_span) is a child of the
 * current context and its context is what the request carries: with the current context's
 * baggage, injected by the global propagator. Thread-safety: safe (one easy handle per call). */
static inline bool http_call_perform(otel_tracer *tracer, struct http_call *c)
{
    c->status = 0;
    c->response = NULL;
    c->response_len = 0;
    c->error[0] = '\0';
    memset(&c->span_context, 0, sizeof(c->span_context));

    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(c->error, sizeof(c->error), "curl_easy_init failed");
        return false;
    }
    struct http_slist_carrier carrier = { 0 };
    for (const struct curl_slist *it = c->headers; it; it = it->next) {
        struct curl_slist *t = curl_slist_append(carrier.list, it->data);
        if (t)
            carrier.list = t;
    }

    otel_span span = OTEL_SPAN_NONE;
    if (!c->no_span) {
        span = http__start_client_span(tracer, c);
        c->span_context = otel_span_get_context(span);
        /* Inject the context that has the CLIENT span active (and the current baggage): the
         * next service's SERVER span becomes its child. */
        otel_context_token tok = otel_span_make_current(span);
        otel_carrier_writer w = http_slist_writer(&carrier);
        otel_global_inject(NULL, &w);
        if (tok)
            otel_context_detach(tok);
    }

    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    if (strcmp(c->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (c->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, carrier.list);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM-based DNS timeouts */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, HTTP_CALL_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CALL_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "otelc-example/" OTEL_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http__on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->error);

    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
        long version = 0;
        curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
        otel_span_set_attr_int(span, OTEL_STR("http.response.status_code"), c->status);
        otel_span_set_attr_str(span, OTEL_STR("network.protocol.version"),
                               version == CURL_HTTP_VERSION_2_0   ? OTEL_STR("2")
                               : version == CURL_HTTP_VERSION_1_0 ? OTEL_STR("1.0")
                                                                  : OTEL_STR("1.1"));
        if (c->status >= 400) {
            /* Client spans: 4xx and 5xx are both errors (the request did not succeed). */
            char code[24];
            snprintf(code, sizeof(code), "%ld", c->status);
            otel_span_set_attr_str(span, OTEL_STR("error.type"), otel_str_from_cstr(code));
            otel_span_set_status(span, OTEL_SPAN_STATUS_ERROR, OTEL_STR(""));
        }
    } else {
        if (!c->error[0])
            snprintf(c->error, sizeof(c->error), "%s", curl_easy_strerror(rc));
        otel_span_set_attr_str(span, OTEL_STR("error.type"), otel_str_from_cstr(http__curl_error_type(rc)));
        otel_span_set_status(span, OTEL_SPAN_STATUS_ERROR, otel_str_from_cstr(c->error));
    }
    otel_span_end(span);
    curl_easy_cleanup(h);
    curl_slist_free_all(carrier.list);
    return rc == CURLE_OK;
}

#endif
