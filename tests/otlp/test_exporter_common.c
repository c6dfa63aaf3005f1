/* Tests for the helpers shared by the network exporters (exporters/common): the byte buffer and
 * its size cap, backoff with jitter and deadlines, Retry-After in its four forms, gzip, percent
 * decoding and log sanitising. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "exporter_common.h"
#include "failalloc.h"

static void test_buf_grows_and_caps(void **state)
{
    (void)state;
    otel__buf b = { .max_bytes = 10000 };
    for (int i = 0; i < 1000; i++)
        otel__buf_append(&b, "0123456789", 10);
    assert_false(b.failed);
    assert_int_equal(b.len, 10000);
    otel__buf_putc(&b, 'x');
    assert_true(b.failed);
    assert_int_equal(b.len, 10000);
    otel__buf_clear(&b);
    assert_false(b.failed);
    otel__buf_append_str(&b, "abc");
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    otel__buf_free(&b);
    assert_null(b.data);
}

static void test_backoff_grows_with_jitter_up_to_the_cap(void **state)
{
    (void)state;
    otel__backoff b;
    otel__backoff_init(&b, 100, 1000, 2.0);
    int64_t expect[] = { 100, 200, 400, 800, 1000, 1000 };
    for (int i = 0; i < 6; i++) {
        int64_t d = otel__backoff_next(&b);
        assert_true(d >= expect[i] * 8 / 10);
        assert_true(d <= (expect[i] * 12 / 10 > 1000 ? 1000 : expect[i] * 12 / 10));
    }
    otel__backoff_reset(&b);
    int64_t d = otel__backoff_next(&b);
    assert_true(d >= 80 && d <= 120);
    /* Defaults: 1 s, 5 s, x1.5. */
    otel__backoff_init(&b, 0, 0, 0);
    assert_int_equal(b.initial_ns, 1000000000);
    assert_int_equal(b.max_ns, 5000000000);
}

static void test_backoff_jitter_varies(void **state)
{
    (void)state;
    otel__backoff b;
    otel__backoff_init(&b, 1000000, 1000000, 1.5);
    int64_t first = otel__backoff_next(&b);
    bool differs = false;
    for (int i = 0; i < 20 && !differs; i++)
        differs = otel__backoff_next(&b) != first;
    assert_true(differs);
}

static void test_backoff_wait_refuses_to_overrun_the_deadline(void **state)
{
    (void)state;
    otel__backoff b;
    otel__backoff_init(&b, 5000000, 5000000, 1.5);
    int64_t t0 = otel__mono_now_ns();
    assert_false(otel__backoff_wait(&b, 2000000000, otel__deadline_after(100000000)));
    assert_true(otel__mono_now_ns() - t0 < 50000000); /* did not sleep */
    assert_true(otel__backoff_wait(&b, -1, otel__deadline_after(1000000000)));
    assert_true(otel__backoff_wait(&b, 1000000, INT64_MAX));
    assert_false(otel__backoff_wait(&b, 0, otel__mono_now_ns() - 1));
}

static void test_deadlines(void **state)
{
    (void)state;
    assert_int_equal(otel__deadline_after(0), INT64_MAX);
    assert_int_equal(otel__deadline_after(-5), INT64_MAX);
    assert_int_equal(otel__time_left(INT64_MAX), INT64_MAX);
    assert_int_equal(otel__time_left(otel__mono_now_ns() - 10), 0);
    int64_t left = otel__time_left(otel__deadline_after(1000000000));
    assert_true(left > 900000000 && left <= 1000000000);
}

static void test_retry_after_seconds_and_dates(void **state)
{
    (void)state;
    /* 1994-11-06 08:49:37 UTC */
    const int64_t t = 784111777;
    assert_int_equal(otel__retry_after_parse(OTEL_STR("120"), t), 120000000000LL);
    assert_int_equal(otel__retry_after_parse(OTEL_STR(" 0 "), t), 0);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("Sun, 06 Nov 1994 08:49:37 GMT"), t - 30),
                     30000000000LL);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("Sunday, 06-Nov-94 08:49:37 GMT"), t - 5),
                     5000000000LL);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("Sun Nov  6 08:49:37 1994"), t - 1), 1000000000LL);
    /* In the past: no wait. */
    assert_int_equal(otel__retry_after_parse(OTEL_STR("Sun, 06 Nov 1994 08:49:37 GMT"), t + 100), 0);
    /* Garbage. */
    assert_int_equal(otel__retry_after_parse(OTEL_STR(""), t), -1);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("-1"), t), -1);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("1.5"), t), -1);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("soon"), t), -1);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("Sun, 06 Foo 1994 08:49:37 GMT"), t), -1);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("Sun, 06 Nov 1994 25:49:37 GMT"), t), -1);
    assert_int_equal(otel__retry_after_parse(OTEL_STR("Sun, 06 Nov 1994 08:49:37 PST"), t), -1);
    /* Enormous: capped far beyond any deadline, no overflow. */
    assert_true(otel__retry_after_parse(OTEL_STR("99999999999999999999999"), t) > 1000000000000000LL);
}

static void test_gzip_round_trips_and_reuses_state(void **state)
{
    (void)state;
    otel__gzip *z = NULL;
    assert_int_equal(otel__gzip_create(&z), OTEL_OK);
    otel__buf out = { 0 };
    char in[5000];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)('a' + i % 7);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(otel__gzip_compress(z, in, sizeof(in), &out), OTEL_OK);
        assert_true(out.len < sizeof(in) / 4);
        assert_int_equal(out.data[0], 0x1f); /* gzip magic */
        assert_int_equal(out.data[1], 0x8b);
        char back[6000];
        z_stream s = { 0 };
        assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
        s.next_in = out.data;
        s.avail_in = (uInt)out.len;
        s.next_out = (Bytef *)back;
        s.avail_out = sizeof(back);
        assert_int_equal(inflate(&s, Z_FINISH), Z_STREAM_END);
        assert_int_equal(sizeof(back) - s.avail_out, sizeof(in));
        assert_memory_equal(back, in, sizeof(in));
        inflateEnd(&s);
    }
    /* Steady state allocates nothing. */
    failalloc_install();
    assert_int_equal(otel__gzip_compress(z, in, sizeof(in), &out), OTEL_OK);
    size_t n = failalloc_count();
    failalloc_uninstall();
    assert_int_equal(n, 0);
    /* Empty input is a valid gzip stream too. */
    assert_int_equal(otel__gzip_compress(z, "", 0, &out), OTEL_OK);
    assert_true(out.len >= 18);
    otel__buf_free(&out);
    otel__gzip_destroy(z);
    otel__gzip_destroy(NULL);
}

static void test_gzip_output_cap_fails_cleanly(void **state)
{
    (void)state;
    otel__gzip *z = NULL;
    assert_int_equal(otel__gzip_create(&z), OTEL_OK);
    otel__buf out = { .max_bytes = 16 };
    assert_int_equal(otel__gzip_compress(z, "hello hello hello", 17, &out), OTEL_ERR_NOMEM);
    otel__buf_free(&out);
    otel__gzip_destroy(z);
}

static void test_percent_decode(void **state)
{
    (void)state;
    char out[32];
    size_t n = otel__percent_decode(OTEL_STR("a%20b%3d%2C%zz"), out);
    assert_int_equal(n, (size_t)-1);
    n = otel__percent_decode(OTEL_STR("a%20b%3d%2C"), out);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "a b=,", 5);
    assert_int_equal(otel__percent_decode(OTEL_STR("%4"), out), (size_t)-1);
    assert_int_equal(otel__percent_decode(OTEL_STR("%"), out), (size_t)-1);
    assert_int_equal(otel__percent_decode(OTEL_STR(""), out), 0);
}

static void test_sanitize_for_log(void **state)
{
    (void)state;
    char out[8];
    otel__sanitize_for_log(OTEL_STR("a\nb\x80"
                                    "cdefgh"),
                           out, sizeof(out));
    assert_string_equal(out, "a?b?cde");
    assert_true(otel__http_status_retryable(503));
    assert_true(otel__http_status_retryable(429));
    assert_false(otel__http_status_retryable(500));
    assert_false(otel__http_status_retryable(400));
}

static void test_http_client_rejects_header_injection(void **state)
{
    (void)state;
    const char *names[] = { "x-key" };
    const char *values[] = { "a\r\nInjected: 1" };
    otel__http_options o = {
        .url = "http://127.0.0.1:1/", .header_names = names, .header_values = values, .header_count = 1
    };
    otel__http_client *c = NULL;
    assert_int_equal(otel__http_client_create(&o, &c), OTEL_ERR_INVALID_ARG);
    const char *bad_names[] = { "x key" };
    const char *ok_values[] = { "v" };
    o.header_names = bad_names;
    o.header_values = ok_values;
    assert_int_equal(otel__http_client_create(&o, &c), OTEL_ERR_INVALID_ARG);
    o.header_count = 0;
    assert_int_equal(otel__http_client_create(&o, &c), OTEL_OK);
    /* Nothing listens on port 1: a quick, classified failure. */
    otel__http_result r;
    assert_int_equal(otel__http_post(c, "x", 1, false, otel__deadline_after(2000000000), &r),
                     OTEL_ERR_EXPORT);
    assert_int_equal(r.outcome, OTEL__HTTP_CONNECT);
    /* A passed deadline does not even try. */
    assert_int_equal(otel__http_post(c, "x", 1, false, otel__mono_now_ns() - 1, &r), OTEL_ERR_TIMEOUT);
    assert_int_equal(r.outcome, OTEL__HTTP_TIMEOUT);
    otel__http_client_destroy(c);
    otel__http_client_destroy(NULL);
}

/* A one-request HTTP server on a unix socket. */
struct uds_server {
    int fd;
    char path[108];
    char request[4096];
};

static void *uds_serve(void *arg)
{
    struct uds_server *u = arg;
    int c = accept(u->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t len = 0;
    while (len < sizeof(u->request) - 1) {
        ssize_t n = recv(c, u->request + len, sizeof(u->request) - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        u->request[len] = '\0';
        char *end = strstr(u->request, "\r\n\r\n");
        if (end && strlen(end + 4) >= 5) /* the 5-byte body */
            break;
    }
    static const char answer[] = "HTTP/1.1 200 OK\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\nok";
    send(c, answer, sizeof(answer) - 1, MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static void test_http_client_posts_over_a_unix_socket(void **state)
{
    (void)state;
    struct uds_server u = { 0 };
    snprintf(u.path, sizeof(u.path), "/tmp/otelc-uds-%d.sock", (int)getpid());
    unlink(u.path);
    u.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", u.path);
    assert_int_equal(bind(u.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(u.fd, 1), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, uds_serve, &u), 0);
    const char *names[] = { "Datadog-Meta-Lang" };
    const char *values[] = { "c" };
    otel__http_options o = { .url = "http://localhost/v0.4/traces",
                             .unix_socket_path = u.path,
                             .content_type = "application/msgpack",
                             .user_agent = "t/1",
                             .header_names = names,
                             .header_values = values,
                             .header_count = 1 };
    otel__http_client *c = NULL;
    assert_int_equal(otel__http_client_create(&o, &c), OTEL_OK);
    otel__http_result r;
    assert_int_equal(otel__http_post(c, "hello", 5, false, otel__deadline_after(5000000000), &r), OTEL_OK);
    pthread_join(th, NULL);
    assert_int_equal(r.outcome, OTEL__HTTP_RESPONSE);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.retry_after_ns, 7000000000LL);
    assert_int_equal(r.body_len, 2);
    assert_memory_equal(r.body, "ok", 2);
    assert_int_equal(r.new_connections, 1);
    assert_non_null(strstr(u.request, "POST /v0.4/traces HTTP/1.1\r\n"));
    assert_non_null(strstr(u.request, "Content-Type: application/msgpack\r\n"));
    assert_non_null(strstr(u.request, "Datadog-Meta-Lang: c\r\n"));
    assert_non_null(strstr(u.request, "User-Agent: t/1\r\n"));
    assert_null(strstr(u.request, "Expect:"));
    assert_non_null(strstr(u.request, "\r\n\r\nhello"));
    otel__http_client_destroy(c);
    close(u.fd);
    unlink(u.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_caps),
        cmocka_unit_test(test_backoff_grows_with_jitter_up_to_the_cap),
        cmocka_unit_test(test_backoff_jitter_varies),
        cmocka_unit_test(test_backoff_wait_refuses_to_overrun_the_deadline),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_retry_after_seconds_and_dates),
        cmocka_unit_test(test_gzip_round_trips_and_reuses_state),
        cmocka_unit_test(test_gzip_output_cap_fails_cleanly),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_sanitize_for_log),
        cmocka_unit_test(test_http_client_rejects_header_injection),
        cmocka_unit_test(test_http_client_posts_over_a_unix_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
