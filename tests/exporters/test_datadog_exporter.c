/* The Datadog exporter against a fake agent: a thread serving HTTP/1.1 on 127.0.0.1 (port 0) or
 * on a unix socket in a temporary directory, answering from a script (status, body, delay,
 * garbage, hang-up) and recording every request. Checks the request line, the Datadog headers,
 * the payload (decoded by python3-msgpack), the agent's rates reaching the sampler, and the fault
 * cases (agent down, 500 then 200, slow past the timeout, garbage, 4xx, /v0.5 unsupported), each
 * bounded in time. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "dd_exporter.h"
#include "dd_rates.h"
#include "otel/exporters/datadog.h"

#include "../datadog/dd_testutil.h"

/* ---------------------------------------------------------------------------------------------
 * Fake agent
 * ------------------------------------------------------------------------------------------- */

enum reply_kind { REPLY_HTTP, REPLY_GARBAGE, REPLY_HANGUP };

struct reply {
    enum reply_kind kind;
    int status;
    const char *body;
    int delay_ms;
};

#define MAX_REQUESTS 32

struct request {
    char head[4096];
    uint8_t *body;
    size_t body_len;
};

struct agent {
    int listen_fd;
    int port;
    char dir[64];
    char sock_path[128];
    pthread_t thread;
    _Atomic int stop; /* read by the agent and connection threads */
    pthread_mutex_t mu;
    struct reply script[8];
    size_t script_len; /* replies used in order; the last one repeats */
    struct request requests[MAX_REQUESTS];
    size_t request_count;
    int accepts;
    pthread_t conn_threads[16]; /* one per connection, so kept-alive ones do not block others */
    size_t conn_count;
};

struct conn_arg {
    struct agent *a;
    int fd;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to |ms| for |fd| to be readable; false on timeout or stop. */
static bool wait_readable(struct agent *a, int fd, int ms)
{
    int64_t end = now_ms() + ms;
    while (!a->stop) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, 20);
        if (r > 0)
            return true;
        if (now_ms() >= end)
            return false;
    }
    return false;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Serves one request on |fd|; false when the connection is done. */
static bool serve_one(struct agent *a, int fd)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (!wait_readable(a, fd, 5000) || len == sizeof(buf) - 1)
            return false;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return false;
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 4;
    size_t content_length = 0;
    for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            content_length = (size_t)strtoul(line + 17, NULL, 10);
    }
    uint8_t *body = malloc(content_length + 1);
    size_t have = len - head_len;
    if (have > content_length)
        have = content_length;
    memcpy(body, buf + head_len, have);
    while (have < content_length) {
        if (!wait_readable(a, fd, 5000)) {
            free(body);
            return false;
        }
        ssize_t r = recv(fd, body + have, content_length - have, 0);
        if (r <= 0) {
            free(body);
            return false;
        }
        have += (size_t)r;
    }
    pthread_mutex_lock(&a->mu);
    size_t index = a->request_count;
    struct reply rep = a->script[index < a->script_len ? index : a->script_len - 1];
    if (index < MAX_REQUESTS) {
        struct request *rq = &a->requests[index];
        size_t hl = head_len < sizeof(rq->head) ? head_len : sizeof(rq->head) - 1;
        memcpy(rq->head, buf, hl);
        rq->head[hl] = '\0';
        free(rq->body); /* a test may restart the count */
        rq->body = body;
        rq->body_len = content_length;
        body = NULL;
    }
    a->request_count++;
    pthread_mutex_unlock(&a->mu);
    free(body);

    if (rep.delay_ms) {
        int64_t until = now_ms() + rep.delay_ms;
        while (!a->stop && now_ms() < until)
            usleep(5000);
    }
    if (rep.kind == REPLY_HANGUP)
        return false;
    if (rep.kind == REPLY_GARBAGE) {
        send_all(fd, "this is not HTTP\r\n\r\n", 20);
        return false;
    }
    const char *b = rep.body ? rep.body : "";
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     rep.status, strlen(b));
    send_all(fd, head, (size_t)n);
    send_all(fd, b, strlen(b));
    return true;
}

static void *conn_main(void *p)
{
    struct conn_arg *c = p;
    while (!c->a->stop && serve_one(c->a, c->fd)) {
    }
    close(c->fd);
    free(c);
    return NULL;
}

static void *agent_main(void *p)
{
    struct agent *a = p;
    while (!a->stop) {
        if (!wait_readable(a, a->listen_fd, 100))
            continue;
        int fd = accept(a->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&a->mu);
        a->accepts++;
        bool room = a->conn_count < 16;
        pthread_mutex_unlock(&a->mu);
        struct conn_arg *c = malloc(sizeof(*c));
        c->a = a;
        c->fd = fd;
        if (!room || pthread_create(&a->conn_threads[a->conn_count], NULL, conn_main, c) != 0) {
            close(fd);
            free(c);
            continue;
        }
        a->conn_count++;
    }
    for (size_t i = 0; i < a->conn_count; i++)
        pthread_join(a->conn_threads[i], NULL);
    return NULL;
}

static void agent_script(struct agent *a, const struct reply *replies, size_t n)
{
    pthread_mutex_lock(&a->mu);
    memcpy(a->script, replies, n * sizeof(*replies));
    a->script_len = n;
    pthread_mutex_unlock(&a->mu);
}

static const struct reply ok_reply = { REPLY_HTTP, 200, "{\"rate_by_service\":{\"service:,env:\":1}}", 0 };

static struct agent *agent_start(bool unix_socket)
{
    struct agent *a = calloc(1, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    agent_script(a, &ok_reply, 1);
    if (unix_socket) {
        snprintf(a->dir, sizeof(a->dir), "/tmp/otel-dd-agent-XXXXXX");
        assert_non_null(mkdtemp(a->dir));
        snprintf(a->sock_path, sizeof(a->sock_path), "%s/apm.socket", a->dir);
        a->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        assert_true(strlen(a->sock_path) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, a->sock_path, strlen(a->sock_path) + 1);
        assert_int_equal(bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    } else {
        a->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(a->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        socklen_t sl = sizeof(sa);
        getsockname(a->listen_fd, (struct sockaddr *)&sa, &sl);
        a->port = ntohs(sa.sin_port);
    }
    assert_int_equal(listen(a->listen_fd, 8), 0);
    assert_int_equal(pthread_create(&a->thread, NULL, agent_main, a), 0);
    return a;
}

static void agent_stop(struct agent *a)
{
    a->stop = 1;
    pthread_join(a->thread, NULL);
    close(a->listen_fd);
    if (a->sock_path[0]) {
        unlink(a->sock_path);
        rmdir(a->dir);
    }
    for (size_t i = 0; i < MAX_REQUESTS; i++)
        free(a->requests[i].body);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static size_t agent_requests(struct agent *a)
{
    pthread_mutex_lock(&a->mu);
    size_t n = a->request_count;
    pthread_mutex_unlock(&a->mu);
    return n;
}

static char agent_url_buf[256];

static const char *agent_url(struct agent *a)
{
    snprintf(agent_url_buf, sizeof(agent_url_buf), "http://127.0.0.1:%d", a->port);
    return agent_url_buf;
}

/* A port nothing listens on: bind one, then close it. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A header's value in a recorded request, or NULL. */
static const char *header_value(const struct request *rq, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = strstr(rq->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, nl) == 0 && line[2 + nl] == ':') {
            const char *v = line + 3 + nl;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

/* Fails unless |rq| has header |name| (with value |want| unless NULL). */
static void assert_header(const struct request *rq, const char *name, const char *want)
{
    char v[256];
    const char *got = header_value(rq, name, v, sizeof(v));
    if (!got)
        fail_msg("header %s missing in:\n%s", name, rq->head);
    if (want && strcmp(got, want) != 0)
        fail_msg("header %s: got \"%s\", want \"%s\"", name, got, want);
}
#define ASSERT_HEADER(rq, name, want) assert_header((rq), (name), (want))

/* ---------------------------------------------------------------------------------------------
 * Spans
 * ------------------------------------------------------------------------------------------- */

struct batch {
    otel_resource *res;
    otel_span_data s[8];
    const otel_span_data *spans[8];
    size_t n;
};

static void batch_init(struct batch *b, size_t n)
{
    memset(b, 0, sizeof(*b));
    otel_attr ra[] = { OTEL_ATTR_STR_LIT("service.name", "svc") };
    assert_int_equal(otel_resource_create(ra, 1, OTEL_STR(""), &b->res), OTEL_OK);
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        otel_span_data *d = &b->s[i];
        d->name = OTEL_STR("op");
        d->kind = OTEL_SPAN_KIND_SERVER;
        d->start_time_ns = 1700000000000000000;
        d->end_time_ns = d->start_time_ns + 10;
        d->resource = b->res;
        d->context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
        /* Two spans per trace: i/2 is the trace. */
        dd_set_ids(d, 0, i / 2 + 1, i + 1, i % 2 ? i : 0);
        b->spans[i] = d;
    }
}

static void batch_cleanup(struct batch *b)
{
    otel_resource_release(b->res);
}

static otel_span_exporter make_exporter(const otel_datadog_options *o)
{
    otel_span_exporter e;
    assert_int_equal(otel_datadog_exporter_create(o, &e), OTEL_OK);
    return e;
}

static void destroy_exporter(otel_span_exporter *e)
{
    e->shutdown(e->user_data, 0);
    e->destroy(e->user_data);
}

static struct otel__dd_exporter_stats stats_of(const otel_span_exporter *e)
{
    struct otel__dd_exporter_stats st;
    assert_true(otel__dd_exporter_stats(e, &st));
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------- */

static void check_delivery(int version, bool unix_socket)
{
    struct agent *a = agent_start(unix_socket);
    struct reply r = { REPLY_HTTP, 200,
                       "{\"rate_by_service\":{\"service:svc,env:prod\":0.25,\"service:,env:\":0.75}}", 0 };
    agent_script(a, &r, 1);
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    char url[256];
    if (unix_socket)
        snprintf(url, sizeof(url), "unix://%s", a->sock_path);
    else
        snprintf(url, sizeof(url), "%s", agent_url(a));
    otel_datadog_options o = {
        .agent_url = url,
        .api_version = version == 5 ? OTEL_DATADOG_API_V05 : OTEL_DATADOG_API_DEFAULT,
        .env = "prod",
        .rates = rates,
    };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 5);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(agent_requests(a), 1);
    const struct request *rq = &a->requests[0];
    char want_line[64];
    snprintf(want_line, sizeof(want_line), "POST /v0.%d/traces HTTP/1.1\r\n", version);
    assert_true(strncmp(rq->head, want_line, strlen(want_line)) == 0);
    ASSERT_HEADER(rq, "Content-Type", "application/msgpack");
    ASSERT_HEADER(rq, "X-Datadog-Trace-Count", "3");
    ASSERT_HEADER(rq, "Datadog-Meta-Lang", "c");
    ASSERT_HEADER(rq, "Datadog-Meta-Lang-Version", NULL);
    ASSERT_HEADER(rq, "Datadog-Meta-Tracer-Version", OTEL_VERSION_STRING);
    ASSERT_HEADER(rq, "Datadog-Client-Computed-Top-Level", "yes");
    char len[32];
    snprintf(len, sizeof(len), "%zu", rq->body_len);
    ASSERT_HEADER(rq, "Content-Length", len);
    /* The body is a payload python3-msgpack decodes, with 3 chunks and 5 spans. */
    if (dd_python()) {
        char *out = dd_decode(rq->body, rq->body_len, version == 5 ? "v0.5" : "v0.4");
        DD_ASSERT_LACKS(out, "ERROR");
        DD_ASSERT_HAS(out, "TRACES 3\n");
        assert_int_equal(dd_count(out, "\nSPAN "), 5);
        DD_ASSERT_HAS(out, "\"env\":\"s:prod\"");
        free(out);
    }
    /* The agent's rates reached the shared object. */
    double rate = 0;
    assert_true(otel_datadog_rates_get(rates, OTEL_STR("svc"), OTEL_STR("prod"), &rate));
    assert_true(rate == 0.25);
    assert_true(otel_datadog_rates_get(rates, OTEL_STR("other"), OTEL_STR(""), &rate));
    assert_true(rate == 0.75);
    struct otel__dd_exporter_stats st = stats_of(&e);
    assert_int_equal(st.spans_sent, 5);
    assert_int_equal(st.rate_updates, 1);
    destroy_exporter(&e);
    otel_datadog_rates_release(rates);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_v04_payload_reaches_a_tcp_agent_with_datadog_headers(void **state)
{
    (void)state;
    check_delivery(4, false);
}

static void test_v05_payload_reaches_a_tcp_agent_with_datadog_headers(void **state)
{
    (void)state;
    check_delivery(5, false);
}

static void test_payload_reaches_a_unix_socket_agent(void **state)
{
    (void)state;
    check_delivery(4, true);
    check_delivery(5, true);
}

static void test_default_socket_is_used_when_nothing_names_the_agent(void **state)
{
    (void)state;
    struct agent *a = agent_start(true);
    const char *saved = otel__dd_default_socket_path;
    otel__dd_default_socket_path = a->sock_path;
    otel_env env = { 0 }; /* the process environment: make sure nothing is set */
    unsetenv("DD_TRACE_AGENT_URL");
    unsetenv("DD_AGENT_HOST");
    unsetenv("DD_TRACE_AGENT_PORT");
    otel_datadog_options o = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o, &env), OTEL_OK);
    assert_string_equal(o.agent_socket, a->sock_path);
    otel_span_exporter e = make_exporter(&o);
    assert_string_equal(otel__dd_exporter_url(&e), "http://localhost/v0.4/traces");
    struct batch b;
    batch_init(&b, 2);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(agent_requests(a), 1);
    destroy_exporter(&e);
    otel_datadog_options_cleanup(&o);
    otel__dd_default_socket_path = saved;
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_connection_is_kept_alive_between_exports(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    otel_datadog_options o = { .agent_url = agent_url(a) };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(agent_requests(a), 3);
    assert_int_equal(a->accepts, 1);
    destroy_exporter(&e);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_agent_down_fails_retryable_within_the_deadline(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", dead_port());
    otel_datadog_options o = {
        .agent_url = url,
        .max_attempts = 3,
        .retry_initial_backoff_ns = 10000000,
    };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 4);
    int64_t t0 = now_ms();
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 2000000000), OTEL_EXPORT_RETRYABLE);
    assert_true(now_ms() - t0 < 1500);
    struct otel__dd_exporter_stats st = stats_of(&e);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.spans_dropped, 4);
    assert_int_equal(st.spans_sent, 0);
    destroy_exporter(&e);
    batch_cleanup(&b);
}

static void test_server_error_then_success_is_retried(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    struct reply replies[] = { { REPLY_HTTP, 500, "oops", 0 }, { REPLY_HTTP, 503, "", 0 }, ok_reply };
    agent_script(a, replies, 3);
    otel_datadog_options o = { .agent_url = agent_url(a), .retry_initial_backoff_ns = 5000000 };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(agent_requests(a), 3);
    struct otel__dd_exporter_stats st = stats_of(&e);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.spans_sent, 2);
    /* The same payload every time. */
    assert_int_equal(a->requests[0].body_len, a->requests[2].body_len);
    assert_memory_equal(a->requests[0].body, a->requests[2].body, a->requests[0].body_len);
    destroy_exporter(&e);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_slow_agent_times_out_and_never_hangs(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    struct reply slow = { REPLY_HTTP, 200, "{}", 3000 };
    agent_script(a, &slow, 1);
    otel_datadog_options o = {
        .agent_url = agent_url(a),
        .request_timeout_ns = 200000000,
        .max_attempts = 2,
        .retry_initial_backoff_ns = 10000000,
    };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    int64_t t0 = now_ms();
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_RETRYABLE);
    int64_t took = now_ms() - t0;
    assert_true(took >= 400 && took < 1500);
    /* The export deadline bounds everything, whatever the per-request timeout. */
    otel_datadog_options o2 = { .agent_url = agent_url(a), .request_timeout_ns = 10000000000 };
    otel_span_exporter e2 = make_exporter(&o2);
    t0 = now_ms();
    assert_int_equal(e2.export_spans(e2.user_data, b.spans, b.n, 300000000), OTEL_EXPORT_RETRYABLE);
    took = now_ms() - t0;
    assert_true(took >= 250 && took < 1000);
    destroy_exporter(&e);
    destroy_exporter(&e2);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_garbage_and_hangups_are_retryable_failures(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    struct reply replies[] = { { REPLY_GARBAGE, 0, NULL, 0 }, { REPLY_HANGUP, 0, NULL, 0 } };
    agent_script(a, replies, 2);
    otel_datadog_options o = { .agent_url = agent_url(a),
                               .max_attempts = 2,
                               .retry_initial_backoff_ns = 5000000 };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_RETRYABLE);
    assert_int_equal(agent_requests(a), 2);
    /* Then the agent recovers. */
    agent_script(a, &ok_reply, 1);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    destroy_exporter(&e);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_malformed_rates_answer_is_ignored_with_a_diagnostic(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    static const char *const bodies[] = {
        "{\"rate_by_service\": {\"service:svc,env:\": 0.5", /* truncated */
        "{\"rate_by_service\": [1, 2]}",                    /* not an object */
        "{\"rate_by_service\": {\"service:svc,env:\": 7}}", /* out of range */
        "{\"rate_by_service\": {\"service:svc,env:\": \"x\"}}",
        "<html>nope</html>",
    };
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    assert_int_equal(
        otel_datadog_rates_update_json(rates, OTEL_STR("{\"rate_by_service\":{\"service:svc,env:\":0.5}}")),
        OTEL_OK);
    otel_datadog_options o = { .agent_url = agent_url(a), .rates = rates };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct reply r = { REPLY_HTTP, 200, bodies[i], 0 };
        agent_script(a, &r, 1);
        pthread_mutex_lock(&a->mu);
        a->request_count = 0;
        pthread_mutex_unlock(&a->mu);
        assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
        double rate = 0;
        assert_true(otel_datadog_rates_get(rates, OTEL_STR("svc"), OTEL_STR(""), &rate));
        assert_true(rate == 0.5);
    }
    struct otel__dd_exporter_stats st = stats_of(&e);
    assert_int_equal(st.bad_responses, 5);
    assert_int_equal(st.rate_updates, 0);
    destroy_exporter(&e);
    otel_datadog_rates_release(rates);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_client_error_is_not_retried(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    struct reply bad = { REPLY_HTTP, 400, "bad payload", 0 };
    agent_script(a, &bad, 1);
    otel_datadog_options o = { .agent_url = agent_url(a) };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_FAILURE);
    assert_int_equal(agent_requests(a), 1);
    destroy_exporter(&e);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_v05_not_found_downgrades_to_v04(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    struct reply replies[] = { { REPLY_HTTP, 404, "404 page not found", 0 }, ok_reply };
    agent_script(a, replies, 2);
    otel_datadog_options o = { .agent_url = agent_url(a), .api_version = OTEL_DATADOG_API_V05 };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 3);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(agent_requests(a), 2);
    assert_true(strncmp(a->requests[0].head, "POST /v0.5/traces ", 18) == 0);
    assert_true(strncmp(a->requests[1].head, "POST /v0.4/traces ", 18) == 0);
    if (dd_python()) {
        char *out = dd_decode(a->requests[1].body, a->requests[1].body_len, "v0.4");
        DD_ASSERT_LACKS(out, "ERROR");
        assert_int_equal(dd_count(out, "\nSPAN "), 3);
        free(out);
    }
    const char *u = otel__dd_exporter_url(&e);
    assert_non_null(strstr(u, "/v0.4/traces"));
    destroy_exporter(&e);
    batch_cleanup(&b);
    agent_stop(a);
}

/* Payloads stay within max_payload_bytes: whole traces while they fit, a trace too big for one
 * payload in parts, a span too big on its own dropped and counted. */
static void test_large_batches_are_sent_in_several_requests(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    enum { LIMIT = 450 };
    otel_datadog_options o = { .agent_url = agent_url(a), .max_payload_bytes = LIMIT };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 8);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    size_t n = agent_requests(a);
    assert_true(n > 1);
    int traces = 0;
    for (size_t i = 0; i < n; i++) {
        char v[32];
        assert_non_null(header_value(&a->requests[i], "X-Datadog-Trace-Count", v, sizeof(v)));
        traces += atoi(v);
        assert_true(a->requests[i].body_len <= LIMIT);
    }
    /* A two-span trace does not fit in 450 bytes: each goes in two parts. */
    assert_int_equal(traces, 8);
    assert_int_equal(stats_of(&e).spans_sent, 8);
    assert_int_equal(stats_of(&e).spans_dropped, 0);

    /* One span of the second trace is too big to send: only it is lost. */
    static char big[LIMIT];
    memset(big, 'x', sizeof(big));
    otel_attr big_attr[] = { { OTEL_STR("blob"), otel_value_str((otel_str){ big, sizeof(big) }) } };
    b.s[3].attrs = big_attr;
    b.s[3].attr_count = 1;
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(stats_of(&e).spans_sent, 8 + 7);
    assert_int_equal(stats_of(&e).spans_dropped, 1);
    for (size_t i = n; i < agent_requests(a); i++)
        assert_true(a->requests[i].body_len <= LIMIT);
    destroy_exporter(&e);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_dropped_p0_counts_are_reported_once(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    otel__dd_rates_count_drops(rates, 3, 7);
    otel_datadog_options o = { .agent_url = agent_url(a), .rates = rates };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    ASSERT_HEADER(&a->requests[0], "Datadog-Client-Dropped-P0-Traces", "3");
    ASSERT_HEADER(&a->requests[0], "Datadog-Client-Dropped-P0-Spans", "7");
    char v[32];
    assert_null(header_value(&a->requests[1], "Datadog-Client-Dropped-P0-Traces", v, sizeof(v)));
    destroy_exporter(&e);
    otel_datadog_rates_release(rates);
    batch_cleanup(&b);
    agent_stop(a);
}

/* A child process must not write into its parent's kept-alive connection. */
static void test_forked_child_opens_its_own_connection(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    otel_datadog_options o = { .agent_url = agent_url(a) };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        otel_export_result r = e.export_spans(e.user_data, b.spans, b.n, 5000000000);
        _exit(r == OTEL_EXPORT_SUCCESS ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_SUCCESS);
    assert_int_equal(agent_requests(a), 3);
    pthread_mutex_lock(&a->mu);
    int accepts = a->accepts;
    pthread_mutex_unlock(&a->mu);
    assert_int_equal(accepts, 2); /* the parent's, kept alive, and the child's */
    destroy_exporter(&e);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_export_after_shutdown_fails(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    otel_datadog_options o = { .agent_url = agent_url(a) };
    otel_span_exporter e = make_exporter(&o);
    struct batch b;
    batch_init(&b, 2);
    assert_int_equal(e.shutdown(e.user_data, 0), OTEL_OK);
    assert_int_equal(e.export_spans(e.user_data, b.spans, b.n, 5000000000), OTEL_EXPORT_FAILURE);
    assert_int_equal(e.force_flush(e.user_data, 0), OTEL_ERR_SHUT_DOWN);
    assert_int_equal(agent_requests(a), 0);
    e.destroy(e.user_data);
    batch_cleanup(&b);
    agent_stop(a);
}

static void test_create_rejects_malformed_agent_urls(void **state)
{
    (void)state;
    static const char *const bad[] = { "ftp://host", "unix://relative/path", "http://", "localhost:8126",
                                       "http:///nohost" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        otel_datadog_options o = { .agent_url = bad[i] };
        otel_span_exporter e;
        if (otel_datadog_exporter_create(&o, &e) != OTEL_ERR_INVALID_ARG)
            fail_msg("agent_url \"%s\" accepted", bad[i]);
    }
    otel_datadog_options o = { .api_version = (otel_datadog_api_version)7 };
    otel_span_exporter e;
    assert_int_equal(otel_datadog_exporter_create(&o, &e), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_datadog_exporter_create(NULL, NULL), OTEL_ERR_INVALID_ARG);
    /* Defaults: localhost:8126, no connection made at create. */
    assert_int_equal(otel_datadog_exporter_create(NULL, &e), OTEL_OK);
    assert_string_equal(otel__dd_exporter_url(&e), "http://localhost:8126/v0.4/traces");
    e.destroy(e.user_data);
}

/* The whole pipeline: provider -> Datadog sampler; simple processor -> Datadog exporter -> agent,
 * whose rates come back to the sampler. */
static void test_agent_rates_reach_the_sampler_through_the_pipeline(void **state)
{
    (void)state;
    struct agent *a = agent_start(false);
    struct reply zero = { REPLY_HTTP, 200, "{\"rate_by_service\":{\"service:shop,env:\":0}}", 0 };
    agent_script(a, &zero, 1);
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    otel_datadog_options o = { .agent_url = agent_url(a), .service = "shop", .rates = rates };
    otel_span_exporter e = make_exporter(&o);
    otel_span_processor proc;
    assert_int_equal(otel_simple_processor_create(e, &proc), OTEL_OK);
    otel_datadog_sampler_options so = { .service = "shop", .rates = rates };
    otel_tracer_provider_options po = { .processors = &proc, .processor_count = 1 };
    assert_int_equal(otel_datadog_sampler_create(&so, &po.sampler), OTEL_OK);
    otel_tracer_provider *tp;
    assert_int_equal(otel_tracer_provider_create(&po, &tp), OTEL_OK);
    otel_tracer *tr = otel_tracer_provider_get_tracer(tp, OTEL_STR("t"), NULL);

    otel_span s1 = otel_tracer_start_span(tr, OTEL_STR("first"), NULL);
    assert_true(otel_span_is_recording(s1)); /* no rates yet: default keep */
    otel_span_end(s1);
    assert_int_equal(agent_requests(a), 1);
    otel_span s2 = otel_tracer_start_span(tr, OTEL_STR("second"), NULL);
    assert_false(otel_span_is_recording(s2)); /* the agent said 0 for service:shop */
    otel_span_end(s2);
    if (dd_python()) {
        char *out = dd_decode(a->requests[0].body, a->requests[0].body_len, "v0.4");
        DD_ASSERT_LACKS(out, "ERROR");
        DD_ASSERT_HAS(out, "\"service\":\"s:shop\"");
        DD_ASSERT_HAS(out, "\"_sampling_priority_v1\":\"f:1.0\"");
        DD_ASSERT_HAS(out, "\"_dd.p.dm\":\"s:-0\"");
        free(out);
    }
    otel_tracer_provider_shutdown(tp, 1000000000);
    otel_tracer_provider_destroy(tp);
    otel_datadog_rates_release(rates);
    agent_stop(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v04_payload_reaches_a_tcp_agent_with_datadog_headers),
        cmocka_unit_test(test_v05_payload_reaches_a_tcp_agent_with_datadog_headers),
        cmocka_unit_test(test_payload_reaches_a_unix_socket_agent),
        cmocka_unit_test(test_default_socket_is_used_when_nothing_names_the_agent),
        cmocka_unit_test(test_connection_is_kept_alive_between_exports),
        cmocka_unit_test(test_agent_down_fails_retryable_within_the_deadline),
        cmocka_unit_test(test_server_error_then_success_is_retried),
        cmocka_unit_test(test_slow_agent_times_out_and_never_hangs),
        cmocka_unit_test(test_garbage_and_hangups_are_retryable_failures),
        cmocka_unit_test(test_malformed_rates_answer_is_ignored_with_a_diagnostic),
        cmocka_unit_test(test_client_error_is_not_retried),
        cmocka_unit_test(test_v05_not_found_downgrades_to_v04),
        cmocka_unit_test(test_large_batches_are_sent_in_several_requests),
        cmocka_unit_test(test_dropped_p0_counts_are_reported_once),
        cmocka_unit_test(test_forked_child_opens_its_own_connection),
        cmocka_unit_test(test_export_after_shutdown_fails),
        cmocka_unit_test(test_create_rejects_malformed_agent_urls),
        cmocka_unit_test(test_agent_rates_reach_the_sampler_through_the_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
