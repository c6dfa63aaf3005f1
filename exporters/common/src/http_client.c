/* A minimal HTTP/1.1 POST client on libcurl for exporters that send one request at a time from
 * one thread. It owns one curl easy handle for its whole life, so curl's connection cache keeps
 * the TCP (and TLS) connection alive between exports. Every request is bounded by the caller's
 * deadline, and header values (which often carry API keys) are handed to curl only, never
 * logged. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "exporter_common.h"
#include "mem.h"

struct otel__http_client {
    CURL *easy;
    struct curl_slist *headers;      /* Content-Type, Expect:, the caller's headers */
    struct curl_slist *headers_gzip; /* the same plus Content-Encoding: gzip */
    otel__buf body;
    int64_t retry_after_ns;
    char error[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    /* Never paired with curl_global_cleanup(): the application may use curl too. */
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool is_token_char(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool header_ok(const char *name, const char *value)
{
    if (!name || !*name || !value)
        return false;
    for (const char *p = name; *p; p++)
        if (!is_token_char((unsigned char)*p))
            return false;
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return true;
}

/* Appends "name: value" to |list|; curl copies the text. */
static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *line = otel__malloc(nl + vl + 3);
    if (!line)
        return false;
    memcpy(line, name, nl);
    line[nl] = ':';
    /* "Name;" is curl's way to send a header with an empty value; "Name:" would remove it. */
    if (vl == 0) {
        line[nl] = ';';
        line[nl + 1] = '\0';
    } else {
        line[nl + 1] = ' ';
        memcpy(line + nl + 2, value, vl + 1);
    }
    struct curl_slist *n = curl_slist_append(*list, line);
    /* Wipe our copy: it may hold a credential. */
    memset(line, 0, nl + vl + 3);
    otel__free(line);
    if (!n)
        return false;
    *list = n;
    return true;
}

/* "Expect:" removes curl's "Expect: 100-continue", which costs a round trip on large bodies. */
static bool append_line(struct curl_slist **list, const char *line)
{
    struct curl_slist *n = curl_slist_append(*list, line);
    if (!n)
        return false;
    *list = n;
    return true;
}

static bool ascii_prefix_nocase(const char *s, size_t n, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (n < pl)
        return false;
    for (size_t i = 0; i < pl; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != prefix[i])
            return false;
    }
    return true;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *user_data)
{
    otel__http_client *c = user_data;
    size_t n = size * nitems;
    if (ascii_prefix_nocase(data, n, "http/")) {
        /* A new response (e.g. after a 100 Continue): forget the previous one's headers. */
        c->retry_after_ns = -1;
    } else if (ascii_prefix_nocase(data, n, "retry-after:")) {
        otel_str v = { data + 12, n - 12 };
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        c->retry_after_ns = otel__retry_after_parse(v, (int64_t)now.tv_sec);
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user_data)
{
    otel__http_client *c = user_data;
    size_t n = size * nmemb;
    size_t room = c->body.max_bytes - c->body.len;
    /* Past the cap the rest is read and dropped, so the connection stays usable. */
    otel__buf_append(&c->body, data, n < room ? n : room);
    return n;
}

otel_status otel__http_client_create(const otel__http_options *o, otel__http_client **out)
{
    if (!o || !o->url || !out || (o->header_count && (!o->header_names || !o->header_values)))
        return OTEL_ERR_INVALID_ARG;
    for (size_t i = 0; i < o->header_count; i++)
        if (!header_ok(o->header_names[i], o->header_values[i]))
            return OTEL_ERR_INVALID_ARG;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return OTEL_ERR_UNSUPPORTED;

    otel_status st = OTEL_ERR_NOMEM;
    otel__http_client *c = otel__calloc(1, sizeof(*c));
    if (!c)
        return OTEL_ERR_NOMEM;
    c->body.max_bytes = o->max_response_bytes ? o->max_response_bytes : 4u << 20;
    c->retry_after_ns = -1;
    /* Room for the usual small reply now, so a request rarely allocates. */
    if (!otel__buf_reserve(&c->body, 1024))
        goto out_free;
    c->easy = curl_easy_init();
    if (!c->easy)
        goto out_free;

    struct curl_slist **lists[2] = { &c->headers, &c->headers_gzip };
    for (int k = 0; k < 2; k++) {
        if (!add_header(lists[k], "Content-Type",
                        o->content_type ? o->content_type : "application/octet-stream") ||
            !append_line(lists[k], "Expect:"))
            goto out_free;
        for (size_t i = 0; i < o->header_count; i++)
            if (!add_header(lists[k], o->header_names[i], o->header_values[i]))
                goto out_free;
        if (k == 1 && !add_header(lists[k], "Content-Encoding", "gzip"))
            goto out_free;
    }
    CURL *e = c->easy;
    st = OTEL_ERR_UNSUPPORTED;
    if (curl_easy_setopt(e, CURLOPT_URL, o->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->error) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, c) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK)
        goto out_free;
#if LIBCURL_VERSION_NUM >= 0x075500
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        goto out_free;
#endif
    if (o->user_agent && curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent) != CURLE_OK)
        goto out_free;
    if (o->unix_socket_path && curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket_path) != CURLE_OK)
        goto out_free;
    /* Certificate and host name verification stay on (curl's default). */
    if (o->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file) != CURLE_OK)
        goto out_free;
    if (o->client_cert_file && curl_easy_setopt(e, CURLOPT_SSLCERT, o->client_cert_file) != CURLE_OK)
        goto out_free;
    if (o->client_key_file && curl_easy_setopt(e, CURLOPT_SSLKEY, o->client_key_file) != CURLE_OK)
        goto out_free;
    *out = c;
    return OTEL_OK;
out_free:
    otel__http_client_destroy(c);
    return st;
}

void otel__http_client_destroy(otel__http_client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    curl_slist_free_all(c->headers_gzip);
    otel__buf_free(&c->body);
    otel__free(c);
}

static otel__http_outcome classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return OTEL__HTTP_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return OTEL__HTTP_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return OTEL__HTTP_TLS;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return OTEL__HTTP_BROKEN;
    default:
        return OTEL__HTTP_OTHER;
    }
}

otel_status otel__http_post(otel__http_client *c, const void *body, size_t len, bool gzipped,
                            int64_t deadline_ns, otel__http_result *res)
{
    memset(res, 0, sizeof(*res));
    res->retry_after_ns = -1;
    otel__buf_clear(&c->body);
    c->retry_after_ns = -1;
    c->error[0] = '\0';

    long timeout_ms = 0; /* curl: no limit */
    if (deadline_ns != INT64_MAX) {
        int64_t left = otel__time_left(deadline_ns);
        if (left <= 0) {
            res->outcome = OTEL__HTTP_TIMEOUT;
            snprintf(res->error, sizeof(res->error), "deadline passed before sending");
            return OTEL_ERR_TIMEOUT;
        }
        int64_t ms = (left + 999999) / 1000000;
        timeout_ms = ms > LONG_MAX ? LONG_MAX : (long)ms;
    }
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, gzipped ? c->headers_gzip : c->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);

    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &res->new_connections);
    if (rc != CURLE_OK) {
        res->outcome = classify(rc);
        snprintf(res->error, sizeof(res->error), "%s", c->error[0] ? c->error : curl_easy_strerror(rc));
        return res->outcome == OTEL__HTTP_TIMEOUT ? OTEL_ERR_TIMEOUT : OTEL_ERR_EXPORT;
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    res->outcome = OTEL__HTTP_RESPONSE;
    res->status = status;
    res->retry_after_ns = c->retry_after_ns;
    res->body = c->body.data;
    res->body_len = c->body.len;
    return OTEL_OK;
}
