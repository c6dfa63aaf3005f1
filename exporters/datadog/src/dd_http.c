/* libcurl transport for the Datadog exporter (see dd_http.h). One easy handle per exporter keeps
 * its connection (TCP or unix socket) open between batches; the response body is kept up to a
 * bound, since the agent's answer is a small JSON document. Signals are off (NOSIGNAL) because
 * the exporter runs on a worker thread. */
#include "dd_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dd_msgpack.h"
#include "mem.h"

#define MAX_RESPONSE_BYTES (1u << 20)

struct otel__dd_http {
    CURL *curl;
    char *url;
    char *unix_path;
    struct otel__dd_buf body;
    bool body_truncated;
    char error[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    /* Never paired with curl_global_cleanup(): the application may use libcurl too. */
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user_data)
{
    struct otel__dd_http *h = user_data;
    size_t n = size * nmemb;
    size_t room = MAX_RESPONSE_BYTES - h->body.len;
    size_t take = n < room ? n : room;
    if (take < n)
        h->body_truncated = true;
    otel__dd_buf_put(&h->body, data, take);
    return n; /* swallow the rest rather than abort the transfer */
}

otel_status otel__dd_http_create(const char *url, const char *unix_path, struct otel__dd_http **out)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return OTEL_ERR_UNSUPPORTED;
    otel_status st = OTEL_ERR_NOMEM;
    struct otel__dd_http *h = otel__calloc(1, sizeof(*h));
    if (!h)
        return OTEL_ERR_NOMEM;
    h->url = otel__strndup(url, strlen(url));
    if (!h->url)
        goto out_free;
    if (unix_path) {
        h->unix_path = otel__strndup(unix_path, strlen(unix_path));
        if (!h->unix_path)
            goto out_free;
    }
    h->curl = curl_easy_init();
    if (!h->curl) {
        st = OTEL_ERR_UNSUPPORTED;
        goto out_free;
    }
    CURL *c = h->curl;
    if (curl_easy_setopt(c, CURLOPT_URL, h->url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, h) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
        st = OTEL_ERR_UNSUPPORTED;
        goto out_free;
    }
    if (h->unix_path && curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->unix_path) != CURLE_OK) {
        st = OTEL_ERR_UNSUPPORTED;
        goto out_free;
    }
    *out = h;
    return OTEL_OK;
out_free:
    otel__dd_http_destroy(h);
    return st;
}

void otel__dd_http_destroy(struct otel__dd_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    otel__free(h->url);
    otel__free(h->unix_path);
    otel__dd_buf_free(&h->body);
    otel__free(h);
}

static enum otel__dd_http_outcome classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return OTEL__DD_HTTP_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return OTEL__DD_HTTP_CONNECT;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
        return OTEL__DD_HTTP_OTHER;
    default:
        return OTEL__DD_HTTP_BROKEN;
    }
}

otel_status otel__dd_http_post(struct otel__dd_http *h, const void *body, size_t len,
                               const char *const *headers, size_t header_count, int64_t timeout_ns,
                               struct otel__dd_http_result *res)
{
    memset(res, 0, sizeof(*res));
    res->body = "";
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < header_count; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            curl_slist_free_all(list);
            res->outcome = OTEL__DD_HTTP_OTHER;
            snprintf(res->error, sizeof(res->error), "out of memory");
            return OTEL_ERR_NOMEM;
        }
        list = next;
    }
    long timeout_ms = (long)((timeout_ns + 999999) / 1000000);
    if (timeout_ms < 1)
        timeout_ms = 1;
    otel__dd_buf_restart(&h->body);
    h->body_truncated = false;
    h->error[0] = '\0';
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
        res->outcome = classify(rc);
        snprintf(res->error, sizeof(res->error), "%s", h->error[0] ? h->error : curl_easy_strerror(rc));
        return res->outcome == OTEL__DD_HTTP_TIMEOUT ? OTEL_ERR_TIMEOUT : OTEL_ERR_EXPORT;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
    otel__dd_buf_byte(&h->body, '\0');
    if (!h->body.failed) {
        res->body = (const char *)h->body.data;
        res->body_len = h->body.len - 1;
    }
    res->body_truncated = h->body_truncated || h->body.failed;
    res->outcome = OTEL__DD_HTTP_RESPONSE;
    return OTEL_OK;
}
