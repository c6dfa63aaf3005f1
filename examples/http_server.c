/* An instrumented HTTP server on libmicrohttpd: each request is a SERVER span that continues the
 * caller's trace (extracted from the request headers with the configured propagators), and the
 * calls it makes to other services are CLIENT spans whose context travels in the outgoing
 * headers (http_common.h). Run by scripts/example-server, the README demo (a chain of two of
 * these) and the W3C Trace Context test suite (scripts/w3c-suite).
 *
 *     http_server [PORT [ADDRESS]]      PORT 0 (the default) picks a free port; ADDRESS 127.0.0.1
 *
 * Prints "listening on ADDRESS:PORT" on stdout once it accepts connections. Routes:
 *     GET  /                    a greeting
 *     GET  /chain?next=URL      calls URL (GET), then answers with what it said
 *     POST /test                the W3C Trace Context test-service contract: the body is a JSON
 *                               array of {"url": ..., "arguments": ...}; for each element, in
 *                               order, POST the arguments (JSON) to the url; answer when done
 * Tracing is set up from the OTEL_* environment (exporter, propagators, sampler, service name).
 * SIGTERM or SIGINT stops it: in-flight requests finish, spans are flushed, exit status 0.
 * /chain and /test make this server call whatever http(s) URL a request names, as the W3C suite
 * needs: keep it on the loopback address (the default).
 * docs/http-server-guide.md walks through the instrumentation. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h> /* named here so that examples/CMakeLists.txt links libcurl */
#include <microhttpd.h>

#include <otel/configure.h>

#include "http_common.h"
#include "json_lite.h"

#ifndef MHD_HTTP_CONTENT_TOO_LARGE /* libmicrohttpd before 0.9.74 */
#define MHD_HTTP_CONTENT_TOO_LARGE 413
#endif

#define MAX_BODY_BYTES (1024 * 1024) /* larger request bodies get 413 */
#define MAX_TEST_CALLBACKS 100       /* elements in one POST /test body */
#define MAX_CHAIN_ANSWER_BYTES 512   /* of the next service's answer, quoted in ours */
#define CONNECTION_TIMEOUT_S 30      /* idle keep-alive connections are closed after this */

struct server {
    otel_tracer *tracer;
    const char *service_name;
    char address[INET_ADDRSTRLEN];
    uint16_t port;
};

enum route {
    ROUTE_NONE, /* unknown path: no http.route, and the span is named after the method alone */
    ROUTE_ROOT,
    ROUTE_CHAIN,
    ROUTE_TEST,
};

static const char *const route_paths[] = { NULL, "/", "/chain", "/test" };

/* One request, from its first header callback to the completion notice. */
struct request {
    struct server *srv;
    otel_context *extracted; /* what the caller propagated (NULL: nothing) */
    otel_span span;          /* the SERVER span */
    enum route route;
    const char *method; /* MHD's copy, valid for the whole request */
    char *body;
    size_t body_len;
    bool body_too_large;
    unsigned status; /* of the queued response; 0 until then */
};

/* ---------------------------------------------------------------------------------------------
 * The carrier reader over libmicrohttpd's request headers. MHD keeps every header line as its
 * own entry, so a header sent twice (two tracestate lines) is two values, as the propagators
 * want; names are compared case-insensitively.
 * ------------------------------------------------------------------------------------------- */

struct mhd_get_state {
    otel_str name;
    otel_str *values;
    size_t cap;
    size_t count;
};

static enum MHD_Result collect_values(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct mhd_get_state *st = cls;
    if (strlen(key) == st->name.len && strncasecmp(key, st->name.data, st->name.len) == 0) {
        if (st->count < st->cap)
            st->values[st->count] = otel_str_from_cstr(value ? value : "");
        st->count++;
    }
    return MHD_YES;
}

static size_t mhd_carrier_get(void *user_data, otel_str name, otel_str *values, size_t cap)
{
    struct mhd_get_state st = { .name = name, .values = values, .cap = cap };
    MHD_get_connection_values(user_data, MHD_HEADER_KIND, collect_values, &st);
    return st.count;
}

struct mhd_key_state {
    size_t index;
    size_t seen;
    const char *key;
};

static enum MHD_Result find_key(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    struct mhd_key_state *st = cls;
    if (st->seen++ == st->index) {
        st->key = key;
        return MHD_NO; /* found: stop iterating */
    }
    return MHD_YES;
}

static bool mhd_carrier_key_at(void *user_data, size_t index, otel_str *name)
{
    struct mhd_key_state st = { .index = index };
    MHD_get_connection_values(user_data, MHD_HEADER_KIND, find_key, &st);
    if (!st.key)
        return false;
    *name = otel_str_from_cstr(st.key);
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Starting and ending the SERVER span
 * ------------------------------------------------------------------------------------------- */

/* The method as the semantic conventions want it: the known methods as sent, anything else
 * "_OTHER" (with the original in http.request.method_original). */
static const char *known_method(const char *method)
{
    static const char *const known[] = { "GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                         "CONNECT", "OPTIONS", "TRACE", "PATCH" };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(method, known[i]) == 0)
            return known[i];
    return NULL;
}

static enum route find_route(const char *url)
{
    for (size_t r = ROUTE_ROOT; r < sizeof(route_paths) / sizeof(route_paths[0]); r++)
        if (strcmp(url, route_paths[r]) == 0)
            return (enum route)r;
    return ROUTE_NONE;
}

/* server.address and server.port from the Host header ("name", "name:port", "[v6]:port"),
 * falling back to the listening address and port. */
static void host_header(struct MHD_Connection *conn, const struct server *srv, otel_str *address,
                        int64_t *port)
{
    *address = otel_str_from_cstr(srv->address);
    *port = srv->port;
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host || !*host)
        return;
    const char *end = host + strlen(host);
    const char *colon = NULL;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close)
            return;
        *address = (otel_str){ host + 1, (size_t)(close - host - 1) };
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(host, ':');
        *address = (otel_str){ host, (size_t)((colon ? colon : end) - host) };
    }
    if (colon) {
        char *stop;
        long p = strtol(colon + 1, &stop, 10);
        if (*stop == '\0' && p > 0 && p < 65536)
            *port = p;
    }
}

static struct request *request_begin(struct server *srv, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version)
{
    struct request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->srv = srv;
    r->method = method;
    r->route = find_route(url);

    /* 1. Extract first: the span must be started as a child of what the caller sent. NULL as
     *    the base context: an incoming request starts from nothing, whatever this thread had. */
    otel_carrier_reader reader = { .get = mhd_carrier_get, .key_at = mhd_carrier_key_at, .user_data = conn };
    r->extracted = otel_global_extract(NULL, &reader);

    /* 2. Everything known now goes into the start options, where samplers can see it. */
    const char *norm = known_method(method);
    otel_str address;
    int64_t port;
    host_header(conn, srv, &address, &port);
    char client[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, client,
                      sizeof(client));
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, client,
                      sizeof(client));
    }
    const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
    const char *proto = strncmp(version, "HTTP/", 5) == 0 ? version + 5 : version;

    otel_attr attrs[12];
    size_t n = 0;
    attrs[n++] = OTEL_ATTR_STR("http.request.method", otel_str_from_cstr(norm ? norm : "_OTHER"));
    if (!norm)
        attrs[n++] = OTEL_ATTR_STR("http.request.method_original", otel_str_from_cstr(method));
    attrs[n++] = OTEL_ATTR_STR("url.path", otel_str_from_cstr(url));
    attrs[n++] = OTEL_ATTR_STR_LIT("url.scheme", "http");
    if (r->route != ROUTE_NONE)
        attrs[n++] = OTEL_ATTR_STR("http.route", otel_str_from_cstr(route_paths[r->route]));
    attrs[n++] = OTEL_ATTR_STR("server.address", address);
    attrs[n++] = OTEL_ATTR_INT("server.port", port);
    if (client[0])
        attrs[n++] = OTEL_ATTR_STR("client.address", otel_str_from_cstr(client));
    if (ua)
        attrs[n++] = OTEL_ATTR_STR("user_agent.original", otel_str_from_cstr(ua));
    attrs[n++] = OTEL_ATTR_STR("network.protocol.version", otel_str_from_cstr(proto));

    /* 3. The name is "METHOD route": low cardinality, unlike the path ("GET /users/{id}", never
     *    "GET /users/42"). Without a route, the method alone; "HTTP" for unknown methods. */
    char name[64];
    if (r->route != ROUTE_NONE)
        snprintf(name, sizeof(name), "%s %s", norm ? norm : "HTTP", route_paths[r->route]);
    else
        snprintf(name, sizeof(name), "%s", norm ? norm : "HTTP");

    otel_span_start_options so = {
        .kind = OTEL_SPAN_KIND_SERVER,
        .parent = r->extracted,
        /* parent NULL would mean "the current context": say "root" explicitly instead. */
        .flags = r->extracted ? 0 : OTEL_SPAN_START_ROOT,
        .attrs = attrs,
        .attr_count = n,
    };
    r->span = otel_tracer_start_span(srv->tracer, otel_str_from_cstr(name), &so);
    return r;
}

/* Called by MHD when the response went out (or the connection broke): the SERVER span covers
 * sending the response too. */
static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    struct request *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    if (r->status)
        otel_span_set_attr_int(r->span, OTEL_STR("http.response.status_code"), r->status);
    if (r->status >= 500) {
        /* Server spans: only 5xx are errors; a 4xx is the client's mistake. */
        char code[24];
        snprintf(code, sizeof(code), "%u", r->status);
        otel_span_set_attr_str(r->span, OTEL_STR("error.type"), otel_str_from_cstr(code));
        otel_span_set_status(r->span, OTEL_SPAN_STATUS_ERROR, OTEL_STR(""));
    } else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        const char *why = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED   ? "timeout"
                          : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown"
                          : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? "client_abort"
                                                                          : "_OTHER";
        otel_span_set_attr_str(r->span, OTEL_STR("error.type"), otel_str_from_cstr(why));
        otel_span_set_status(r->span, OTEL_SPAN_STATUS_ERROR, OTEL_STR("the response was not delivered"));
    }
    otel_span_end(r->span);
    otel_context_release(r->extracted);
    free(r->body);
    free(r);
}

/* ---------------------------------------------------------------------------------------------
 * Routes. Each runs on the connection's thread with the SERVER span current, so the CLIENT
 * spans of the calls it makes are its children.
 * ------------------------------------------------------------------------------------------- */

struct answer {
    unsigned status;
    char *body; /* malloc'ed, or NULL for a static text in |text| */
    const char *text;
    const char *content_type;
};

static void answer_text(struct answer *a, unsigned status, const char *text)
{
    a->status = status;
    a->text = text;
    a->content_type = "text/plain; charset=utf-8";
}

static void answer_printf(struct answer *a, unsigned status, const char *content_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_printf(struct answer *a, unsigned status, const char *content_type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->body, fmt, ap) < 0)
        a->body = NULL;
    va_end(ap);
    a->status = a->body ? status : MHD_HTTP_INTERNAL_SERVER_ERROR;
    a->text = a->body ? NULL : "out of memory\n";
    a->content_type = content_type;
}

static void route_root(struct request *r, struct answer *a)
{
    answer_printf(a, MHD_HTTP_OK, "text/plain; charset=utf-8", "hello from %s\n", r->srv->service_name);
}

/* The first line of |s| (at most |max| bytes), for quoting another service's answer. */
static int first_line_len(const char *s, int max)
{
    int n = 0;
    while (s && s[n] && s[n] != '\n' && n < max)
        n++;
    return n;
}

static void route_chain(struct request *r, struct MHD_Connection *conn, struct answer *a)
{
    const char *next = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "next");
    if (!next || !*next) {
        answer_text(a, MHD_HTTP_BAD_REQUEST, "missing ?next=URL\n");
        return;
    }
    struct http_call call = { .method = "GET", .url = next };
    if (!http_call_perform(r->srv->tracer, &call)) {
        answer_printf(a, MHD_HTTP_BAD_GATEWAY, "text/plain; charset=utf-8", "%s: calling %s failed: %s\n",
                      r->srv->service_name, next, call.error);
    } else {
        int len = first_line_len(call.response, MAX_CHAIN_ANSWER_BYTES);
        answer_printf(a, call.status < 400 ? MHD_HTTP_OK : MHD_HTTP_BAD_GATEWAY, "text/plain; charset=utf-8",
                      "%s called %s: %ld %.*s\n", r->srv->service_name, next, call.status, len,
                      call.response ? call.response : "");
    }
    free(call.response);
}

/* POST /test, the W3C test-service contract. A body that is not the expected shape gets 400
 * before any call is made. Every callback is answered by the harness; whatever a callback
 * returns, the next one is still made, and the answer lists the statuses. */
static void route_test(struct request *r, struct answer *a)
{
    char err[128];
    json_limits lim = { .max_depth = 32, .max_nodes = 100000 };
    json_node *root = json_parse(r->body, r->body_len, &lim, err, sizeof(err));
    if (!root) {
        answer_printf(a, MHD_HTTP_BAD_REQUEST, "text/plain; charset=utf-8", "malformed JSON: %s\n", err);
        return;
    }
    size_t count = 0;
    const char *problem = root->type == JSON_ARRAY ? NULL : "the body must be a JSON array";
    for (const json_node *e = root->child; e && !problem; e = e->next) {
        const json_node *url = json_get(e, "url");
        if (e->type != JSON_OBJECT)
            problem = "each element must be an object";
        else if (!url || url->type != JSON_STRING || url->len == 0 || strlen(url->str) != url->len)
            problem = "each element needs a \"url\" string";
        else if (++count > MAX_TEST_CALLBACKS)
            problem = "too many elements";
    }
    if (problem) {
        answer_printf(a, MHD_HTTP_BAD_REQUEST, "text/plain; charset=utf-8", "%s\n", problem);
        json_free(root);
        return;
    }

    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = headers ? curl_slist_append(headers, "Accept: application/json") : NULL;
    char statuses[MAX_TEST_CALLBACKS * 5 + 2];
    size_t used = 0;
    statuses[0] = '\0';
    for (const json_node *e = root->child; e; e = e->next) {
        const json_node *args = json_get(e, "arguments");
        /* Passed on verbatim: the raw JSON text of "arguments" (an empty list when absent). */
        struct http_call call = {
            .method = "POST",
            .url = json_get(e, "url")->str,
            .body = args ? args->raw : "[]",
            .body_len = args ? args->raw_len : 2,
            .headers = headers,
        };
        http_call_perform(r->srv->tracer, &call);
        used +=
            (size_t)snprintf(statuses + used, sizeof(statuses) - used, "%s%ld", used ? "," : "", call.status);
        free(call.response);
    }
    curl_slist_free_all(headers);
    json_free(root);
    answer_printf(a, MHD_HTTP_OK, "application/json", "{\"callbacks\":[%s]}\n", statuses);
}

static void dispatch(struct request *r, struct MHD_Connection *conn, struct answer *a)
{
    if (r->body_too_large) {
        answer_text(a, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
        return;
    }
    const char *want = r->route == ROUTE_TEST ? "POST" : "GET";
    if (r->route == ROUTE_NONE) {
        answer_text(a, MHD_HTTP_NOT_FOUND, "not found\n");
    } else if (strcmp(r->method, want) != 0) {
        answer_text(a, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    } else if (r->route == ROUTE_ROOT) {
        route_root(r, a);
    } else if (r->route == ROUTE_CHAIN) {
        route_chain(r, conn, a);
    } else {
        route_test(r, a);
    }
}

static enum MHD_Result queue(struct request *r, struct MHD_Connection *conn, struct answer *a)
{
    const char *data = a->body ? a->body : a->text;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(data), (void *)data, MHD_RESPMEM_MUST_COPY);
    free(a->body);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    enum MHD_Result ret = MHD_queue_response(conn, a->status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES)
        r->status = a->status;
    return ret;
}

/* MHD calls this several times per request: once with the headers (*req_cls still NULL), once
 * per piece of body, and once more with no data when the request is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct request *r = *req_cls;
    if (!r) {
        r = request_begin(cls, conn, url, method, version);
        if (!r)
            return MHD_NO; /* out of memory: MHD closes the connection */
        *req_cls = r;
        /* Refuse a body announced as too large before reading it. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > MAX_BODY_BYTES) {
            struct answer a = { 0 };
            answer_text(&a, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
            return queue(r, conn, &a);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0; /* consumed, whether kept or not */
        if (r->body_too_large || r->status)
            return MHD_YES;
        if (r->body_len + n > MAX_BODY_BYTES) {
            r->body_too_large = true;
            free(r->body);
            r->body = NULL;
            r->body_len = 0;
            return MHD_YES;
        }
        char *grown = realloc(r->body, r->body_len + n + 1);
        if (!grown)
            return MHD_NO;
        memcpy(grown + r->body_len, upload_data, n);
        r->body = grown;
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES; /* already answered (413 from the headers) */

    /* The whole request is here. Attach the extracted context (it carries the caller's baggage
     * to our outgoing calls), then make the SERVER span current on top of it: spans started
     * while handling become its children. Both are undone before returning to MHD, so the
     * thread carries nothing into the next request on this connection. */
    otel_context_token base = otel_context_attach(r->extracted);
    otel_context_token tok = otel_span_make_current(r->span);
    struct answer a = { 0 };
    dispatch(r, conn, &a);
    if (tok)
        otel_context_detach(tok);
    if (base)
        otel_context_detach(base);
    return queue(r, conn, &a);
}

/* ---------------------------------------------------------------------------------------------
 * Start-up and shutdown
 * ------------------------------------------------------------------------------------------- */

/* A listening socket on |sa|, its actual port (|sa| may say 0) in *port. Made here rather than
 * by MHD so that the server's settings are complete before any connection thread reads them.
 * Returns -1 with errno set on failure. */
static int listen_on(const struct sockaddr_in *sa, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    struct sockaddr_in bound;
    socklen_t len = sizeof(bound);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    *port = ntohs(bound.sin_port);
    return fd;
}

static int usage(void)
{
    fprintf(stderr, "usage: http_server [PORT [ADDRESS]]   (PORT 0: any free port; ADDRESS: "
                    "an IPv4 address, default 127.0.0.1)\n");
    return 2;
}

int main(int argc, char **argv)
{
    long port = 0;
    const char *address = "127.0.0.1";
    if (argc > 3)
        return usage();
    if (argc > 1) {
        char *end;
        errno = 0;
        port = strtol(argv[1], &end, 10);
        if (errno || *end || end == argv[1] || port < 0 || port > 65535)
            return usage();
    }
    if (argc > 2)
        address = argv[2];
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1)
        return usage();

    /* SIGTERM and SIGINT are taken by sigwait() below: block them before any thread starts (the
     * SDK's and MHD's inherit the mask), so no other thread is interrupted by them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    signal(SIGTERM, SIG_DFL); /* not ignored (a shell's background job ignores SIGINT) */
    signal(SIGINT, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *service = getenv("OTEL_SERVICE_NAME");
    if (!service || !*service) {
        const char *res = getenv("OTEL_RESOURCE_ATTRIBUTES");
        if (!res || !strstr(res, "service.name="))
            setenv("OTEL_SERVICE_NAME", "otelc-http-server", 1);
        service = getenv("OTEL_SERVICE_NAME");
        if (!service)
            service = "otelc-http-server";
    }

    /* Exporter, propagators (the global propagator used by extract and inject), sampler and
     * resource, all from OTEL_* variables. */
    otel_tracer_provider *tp = NULL;
    otel_status st = otel_configure_from_env(NULL, &tp);
    if (st != OTEL_OK) {
        fprintf(stderr, "http_server: otel_configure_from_env: %s\n", otel_status_str(st));
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "http_server: curl_global_init failed\n");
        otel_tracer_provider_shutdown(tp, 0);
        otel_tracer_provider_destroy(tp);
        return 1;
    }
    otel_tracer_options topts = { .version = OTEL_STR(OTEL_VERSION_STRING) };
    struct server srv = {
        .tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("otelc-http-server"), &topts),
        .service_name = service,
    };
    snprintf(srv.address, sizeof(srv.address), "%s", address);

    /* A thread per connection: a handler may block on its outgoing calls (even to this same
     * server, as the W3C suite's callbacks can) without starving the others. */
    int rc = 1;
    int fd = listen_on(&sa, &srv.port);
    if (fd < 0) {
        fprintf(stderr, "http_server: cannot listen on %s:%ld (%s)\n", address, port, strerror(errno));
        goto out_shutdown;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
        srv.port, NULL, NULL, on_request, &srv, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
        request_completed, &srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "http_server: cannot start the HTTP daemon\n");
        close(fd);
        goto out_shutdown;
    }
    rc = 0;
    printf("listening on %s:%u\n", address, (unsigned)srv.port);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    fprintf(stderr, "http_server: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* Closes the listening socket, lets the connection threads finish, and calls
     * request_completed() for every open request: all SERVER spans have ended after this. */
    MHD_stop_daemon(d);

out_shutdown:
    curl_global_cleanup();
    st = otel_tracer_provider_shutdown(tp, INT64_C(5000000000)); /* flush, at most 5 s */
    if (st != OTEL_OK) {
        fprintf(stderr, "http_server: shutdown: %s\n", otel_status_str(st));
        rc = 1;
    }
    otel_tracer_provider_destroy(tp);
    otel_global_propagator_shutdown();
    return rc;
}
