/* Tests for the OTLP/HTTP exporter against a loopback receiver written here (http_receiver.h):
 * what goes on the wire (path, headers, body decoded with protobuf-c), connection reuse, gzip,
 * JSON, and every failure path: 503 then success, 429 with Retry-After, 400, a receiver slower
 * than the timeout, connection refused, a connection reset mid-request, partial success, a
 * receiver that comes up while the exporter retries. Every test is bounded in time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "failalloc.h"
#include "http_receiver.h"
#include "log_internal.h"
#include "otel/exporters/otlp.h"
#include "otlp_testlib.h"
#include "otlp_exporter_fixture.h"
#include "log_capture.h"

static otel_otlp_header test_headers[] = { { "X-Api-Key", "hunter2" }, { "x-tenant", "t1" } };

/* An exporter to |port| with fast retries (10 ms initial backoff) and a 3 s timeout unless
 * |o| says otherwise. */
static void make_exporter(struct fixture *f, uint16_t port, otel_otlp_options *o)
{
    snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%u/v1/traces", (unsigned)port);
    assert_int_equal(fixture_create(f, o, test_headers, 2), OTEL_OK);
}

static void check_request_is_span(const struct recv_request *q, const otel_span_data *s, bool gzipped)
{
    check_body_is_span(q->body, q->body_len, gzipped, s);
}

static const struct recv_response ok200 = { 200, "Content-Type: application/x-protobuf\r\n", NULL, 0, 0 };

static void test_http_sends_protobuf_the_receiver_decodes(void **state)
{
    (void)state;
    struct receiver *r = recv_start(&ok200, 1);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->request_count), 1);
    struct recv_request *q = &r->requests[0];
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->path, "/v1/traces");
    char v[256];
    assert_true(recv_header(q, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/x-protobuf");
    assert_true(recv_header(q, "User-Agent", v, sizeof(v)));
    assert_string_equal(v, "OTel-OTLP-Exporter-C/" OTEL_VERSION_STRING " otelc/" OTEL_VERSION_STRING);
    assert_true(recv_header(q, "x-api-key", v, sizeof(v)));
    assert_string_equal(v, "hunter2");
    assert_true(recv_header(q, "x-tenant", v, sizeof(v)));
    assert_string_equal(v, "t1");
    assert_false(recv_header(q, "Content-Encoding", v, sizeof(v)));
    assert_false(recv_header(q, "Expect", v, sizeof(v)));
    check_request_is_span(q, &f.span.data, false);
    otel_otlp_exporter_stats s = stats_of(&f);
    assert_int_equal(s.exports, 1);
    assert_int_equal(s.spans_exported, 1);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.retries, 0);
    assert_int_equal(s.spans_failed, 0);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_keeps_one_connection_across_exports(void **state)
{
    (void)state;
    struct receiver *r = recv_start(&ok200, 1);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->request_count), 5);
    assert_int_equal(atomic_load(&r->connections), 1);
    assert_int_equal(r->requests[4].connection, 1);
    assert_int_equal(stats_of(&f).connections, 1);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_gzip_body_decodes(void **state)
{
    (void)state;
    struct receiver *r = recv_start(&ok200, 1);
    struct fixture f;
    otel_otlp_options o = { .compression = OTEL_OTLP_COMPRESSION_GZIP };
    make_exporter(&f, r->port, &o);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    char v[64];
    assert_true(recv_header(&r->requests[0], "Content-Encoding", v, sizeof(v)));
    assert_string_equal(v, "gzip");
    check_request_is_span(&r->requests[0], &f.span.data, true);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_json_body_and_json_partial_success(void **state)
{
    (void)state;
    static const char resp[] = "{\"partialSuccess\":{\"rejectedSpans\":\"1\",\"errorMessage\":\"late\"}}";
    struct recv_response script[] = {
        { 200, "Content-Type: application/json\r\n", resp, sizeof(resp) - 1, 0 },
    };
    struct receiver *r = recv_start(script, 1);
    struct fixture f;
    otel_otlp_options o = { .protocol = OTEL_OTLP_HTTP_JSON };
    make_exporter(&f, r->port, &o);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    struct recv_request *q = &r->requests[0];
    char v[64];
    assert_true(recv_header(q, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    char *body = calloc(1, q->body_len + 1);
    memcpy(body, q->body, q->body_len);
    assert_non_null(strstr(body, "\"traceId\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\""));
    assert_non_null(strstr(body, "\"spanId\":\"1011121314151617\""));
    assert_non_null(strstr(body, "\"startTimeUnixNano\":\"1700000000123456789\""));
    free(body);
    assert_non_null(strstr(logged, "rejected 1 of 1 spans"));
    assert_non_null(strstr(logged, "late"));
    assert_int_equal(stats_of(&f).spans_rejected, 1);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_retries_503_then_delivers_once(void **state)
{
    (void)state;
    struct recv_response script[] = {
        { 503, NULL, NULL, 0, 0 },
        { 503, NULL, NULL, 0, 0 },
        ok200,
    };
    struct receiver *r = recv_start(script, 3);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->request_count), 3);
    assert_int_equal(atomic_load(&r->answered_ok), 1);
    /* Every attempt carried the same batch. */
    assert_int_equal(r->requests[0].body_len, r->requests[2].body_len);
    assert_memory_equal(r->requests[0].body, r->requests[2].body, r->requests[0].body_len);
    otel_otlp_exporter_stats s = stats_of(&f);
    assert_int_equal(s.requests, 3);
    assert_int_equal(s.retries, 2);
    assert_int_equal(s.spans_exported, 1);
    assert_int_equal(s.spans_failed, 0);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_429_waits_for_retry_after(void **state)
{
    (void)state;
    struct recv_response script[] = {
        { 429, "Retry-After: 1\r\n", NULL, 0, 0 },
        ok200,
    };
    struct receiver *r = recv_start(script, 2);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    int64_t t0 = loopback_now_ms();
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    int64_t took = loopback_now_ms() - t0;
    assert_true(took >= 950); /* Retry-After, not the 10 ms backoff */
    assert_true(took < 2900);
    assert_int_equal(atomic_load(&r->request_count), 2);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_retry_after_past_the_deadline_gives_up_at_once(void **state)
{
    (void)state;
    struct recv_response script[] = { { 503, "Retry-After: 120\r\n", NULL, 0, 0 } };
    struct receiver *r = recv_start(script, 1);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    int64_t t0 = loopback_now_ms();
    assert_int_equal(export_one(&f), OTEL_EXPORT_RETRYABLE);
    assert_true(loopback_now_ms() - t0 < 1000);
    assert_int_equal(atomic_load(&r->request_count), 1);
    assert_int_equal(stats_of(&f).spans_failed, 1);
    assert_non_null(strstr(logged, "HTTP 503"));
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_400_is_dropped_without_retry(void **state)
{
    (void)state;
    /* google.rpc.Status { code = 3; message = "bad span" } */
    static const uint8_t status[] = { 0x08, 0x03, 0x12, 0x08, 'b', 'a', 'd', ' ', 's', 'p', 'a', 'n' };
    struct recv_response script[] = { { 400, NULL, status, sizeof(status), 0 } };
    struct receiver *r = recv_start(script, 1);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_FAILURE);
    assert_int_equal(atomic_load(&r->request_count), 1);
    otel_otlp_exporter_stats s = stats_of(&f);
    assert_int_equal(s.spans_failed, 1);
    assert_int_equal(s.retries, 0);
    assert_non_null(strstr(logged, "HTTP 400: bad span"));
    assert_non_null(strstr(logged, "http://127.0.0.1:"));
    /* Header values never reach diagnostics. */
    assert_null(strstr(logged, "hunter2"));
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_slow_receiver_is_cut_at_the_timeout(void **state)
{
    (void)state;
    struct recv_response script[] = { { 200, NULL, NULL, 0, 10000 } };
    struct receiver *r = recv_start(script, 1);
    struct fixture f;
    otel_otlp_options o = { .timeout_ns = 300000000 };
    make_exporter(&f, r->port, &o);
    int64_t t0 = loopback_now_ms();
    assert_int_equal(export_one(&f), OTEL_EXPORT_RETRYABLE);
    int64_t took = loopback_now_ms() - t0;
    assert_true(took >= 250);
    assert_true(took < 2000);
    assert_int_equal(stats_of(&f).spans_failed, 1);
    assert_non_null(strstr(logged, "timed out"));
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_caller_timeout_wins_when_shorter(void **state)
{
    (void)state;
    struct recv_response script[] = { { 200, NULL, NULL, 0, 10000 } };
    struct receiver *r = recv_start(script, 1);
    struct fixture f;
    make_exporter(&f, r->port, NULL); /* 3 s */
    const otel_span_data *spans[] = { &f.span.data };
    int64_t t0 = loopback_now_ms();
    assert_int_equal(f.exporter.export_spans(f.exporter.user_data, spans, 1, 200000000),
                     OTEL_EXPORT_RETRYABLE);
    assert_true(loopback_now_ms() - t0 < 1500);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_connection_refused_retries_then_gives_up(void **state)
{
    (void)state;
    uint16_t port = recv_free_port();
    struct fixture f;
    otel_otlp_options o = { .timeout_ns = 500000000 };
    make_exporter(&f, port, &o);
    int64_t t0 = loopback_now_ms();
    assert_int_equal(export_one(&f), OTEL_EXPORT_RETRYABLE);
    assert_true(loopback_now_ms() - t0 < 2000);
    otel_otlp_exporter_stats s = stats_of(&f);
    assert_true(s.requests >= 2);
    assert_int_equal(s.spans_failed, 1);
    assert_non_null(strstr(logged, "cannot connect"));
    free_fixture(&f);
}

static void test_http_attempt_limit_is_honoured(void **state)
{
    (void)state;
    struct recv_response script[] = { { 502, NULL, NULL, 0, 0 } };
    struct receiver *r = recv_start(script, 1);
    struct fixture f;
    otel_otlp_options o = { .retry_max_attempts = 3 };
    make_exporter(&f, r->port, &o);
    assert_int_equal(export_one(&f), OTEL_EXPORT_RETRYABLE);
    assert_int_equal(atomic_load(&r->request_count), 3);
    assert_non_null(strstr(logged, "after 3 attempts"));
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_reset_mid_request_is_retried(void **state)
{
    (void)state;
    struct recv_response script[] = { { 0, NULL, NULL, 0, 0 }, ok200 };
    struct receiver *r = recv_start(script, 2);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->request_count), 2);
    assert_int_equal(atomic_load(&r->answered_ok), 1);
    assert_int_equal(atomic_load(&r->connections), 2);
    assert_int_equal(stats_of(&f).connections, 2);
    check_request_is_span(&r->requests[1], &f.span.data, false);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_partial_success_is_logged_and_counted(void **state)
{
    (void)state;
    /* ExportTraceServiceResponse { partial_success { rejected_spans: 2, error_message: "dup" } } */
    static const uint8_t body[] = { 0x0a, 0x07, 0x08, 0x02, 0x12, 0x03, 'd', 'u', 'p' };
    struct recv_response script[] = { { 200, NULL, body, sizeof(body), 0 } };
    struct receiver *r = recv_start(script, 1);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_non_null(strstr(logged, "rejected 2 of 1 spans (partial success): dup"));
    otel_otlp_exporter_stats s = stats_of(&f);
    assert_int_equal(s.spans_rejected, 2);
    assert_int_equal(s.spans_exported, 1);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_receiver_coming_up_during_retries_gets_the_batch_once(void **state)
{
    (void)state;
    uint16_t port = recv_free_port();
    struct fixture f;
    otel_otlp_options o = { .timeout_ns = 5000000000LL, .retry_max_attempts = 100 };
    make_exporter(&f, port, &o);
    struct export_thread t = { &f, OTEL_EXPORT_FAILURE };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, export_in_thread, &t), 0);
    /* Wait until the exporter has failed to connect at least once, then come up. */
    wait_for_requests(&f, 2, 4000);
    assert_true(stats_of(&f).requests >= 2);
    struct receiver *r = recv_start_on(port, &ok200, 1);
    pthread_join(th, NULL);
    assert_int_equal(t.result, OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->request_count), 1);
    assert_int_equal(atomic_load(&r->answered_ok), 1);
    check_request_is_span(&r->requests[0], &f.span.data, false);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_export_after_shutdown_fails_without_sending(void **state)
{
    (void)state;
    struct receiver *r = recv_start(&ok200, 1);
    struct fixture f;
    make_exporter(&f, r->port, NULL);
    assert_int_equal(f.exporter.shutdown(f.exporter.user_data, 0), OTEL_OK);
    assert_int_equal(f.exporter.shutdown(f.exporter.user_data, 0), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_FAILURE);
    assert_int_equal(f.exporter.force_flush(f.exporter.user_data, 0), OTEL_ERR_SHUT_DOWN);
    assert_int_equal(atomic_load(&r->request_count), 0);
    free_fixture(&f);
    recv_stop(r);
}

static void test_http_through_simple_processor_and_provider(void **state)
{
    (void)state;
    struct receiver *r = recv_start(&ok200, 1);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/v1/traces", (unsigned)r->port);
    otel_otlp_options o = { .endpoint = endpoint };
    otel_tracer_provider *tp = provider_over_otlp(&o, NULL);
    otel_tracer *tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("http-test"), NULL);
    otel_span s = otel_tracer_start_span(tracer, OTEL_STR("hello"), NULL);
    otel_span_end(s);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 1000000000), OTEL_OK);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(atomic_load(&r->request_count), 1);
    pb_request *req = pb_decode(r->requests[0].body, r->requests[0].body_len);
    assert_non_null(req);
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->scope->name, "http-test");
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->spans[0]->name, "hello");
    pb_free(req);
    recv_stop(r);
}

static size_t spans_in(const struct recv_request *q)
{
    pb_request *r = pb_decode(q->body, q->body_len);
    assert_non_null(r);
    size_t n = 0;
    for (size_t i = 0; i < r->n_resource_spans; i++)
        for (size_t j = 0; j < r->resource_spans[i]->n_scope_spans; j++)
            n += r->resource_spans[i]->scope_spans[j]->n_spans;
    pb_free(r);
    return n;
}

/* Through the batch processor: the first exports meet 503s, the retries within each export's
 * window deliver every span exactly once. */
static void test_http_batch_processor_delivers_each_span_once_through_503s(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_NONE);
    struct recv_response script[] = { { 503, NULL, NULL, 0, 0 }, { 503, NULL, NULL, 0, 0 }, ok200 };
    struct receiver *r = recv_start(script, 3);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/v1/traces", (unsigned)r->port);
    otel_otlp_options o = { .endpoint = endpoint, .retry_initial_backoff_ns = 5000000 };
    otel_batch_options bo = { .max_export_batch_size = 40, .schedule_delay_ns = 5000000 };
    otel_tracer_provider *tp = provider_over_otlp(&o, &bo);
    otel_tracer *tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("batch"), NULL);
    for (int i = 0; i < 100; i++)
        otel_span_end(otel_tracer_start_span(tracer, OTEL_STR("s"), NULL));
    assert_int_equal(otel_tracer_provider_force_flush(tp, 5000000000LL), OTEL_OK);
    otel_tracer_provider_stats st;
    assert_int_equal(otel_tracer_provider_get_stats(tp, &st), OTEL_OK);
    assert_int_equal(st.spans_exported, 100);
    assert_int_equal(st.spans_failed, 0);
    size_t delivered = 0;
    int n = atomic_load(&r->request_count);
    for (int i = 2; i < n; i++) /* the first two were answered 503 */
        delivered += spans_in(&r->requests[i]);
    assert_int_equal(delivered, 100);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 1000000000), OTEL_OK);
    otel_tracer_provider_destroy(tp);
    recv_stop(r);
}

struct fa_ctx {
    uint16_t port;
    otel_otlp_protocol protocol;
    struct full_span *span;
};

static int export_scenario(void *arg)
{
    struct fa_ctx *c = arg;
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/v1/traces", (unsigned)c->port);
    otel_otlp_options o = { .protocol = c->protocol,
                            .endpoint = endpoint,
                            .compression = OTEL_OTLP_COMPRESSION_GZIP,
                            .headers = test_headers,
                            .header_count = 2,
                            .retry_max_attempts = 1 };
    return export_two_spans_with(&o, c->span, NULL);
}

static void test_http_export_survives_every_allocation_failure(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_NONE);
    struct receiver *r = recv_start(&ok200, 1);
    struct full_span f;
    full_span_init(&f);
    otel_otlp_protocol protocols[] = { OTEL_OTLP_HTTP_PROTOBUF, OTEL_OTLP_HTTP_JSON };
    for (int i = 0; i < 2; i++) {
        struct fa_ctx c = { r->port, protocols[i], &f };
        check_survives_every_allocation_failure(export_scenario, &c, 5);
    }
    full_span_cleanup(&f);
    recv_stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http_sends_protobuf_the_receiver_decodes, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_keeps_one_connection_across_exports, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_gzip_body_decodes, log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_json_body_and_json_partial_success, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_retries_503_then_delivers_once, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_429_waits_for_retry_after, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_retry_after_past_the_deadline_gives_up_at_once,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_400_is_dropped_without_retry, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_slow_receiver_is_cut_at_the_timeout, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_caller_timeout_wins_when_shorter, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_connection_refused_retries_then_gives_up, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_attempt_limit_is_honoured, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_reset_mid_request_is_retried, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_partial_success_is_logged_and_counted, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_receiver_coming_up_during_retries_gets_the_batch_once,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_export_after_shutdown_fails_without_sending,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_through_simple_processor_and_provider, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_export_survives_every_allocation_failure, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_http_batch_processor_delivers_each_span_once_through_503s,
                                        log_capture_setup, log_capture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
