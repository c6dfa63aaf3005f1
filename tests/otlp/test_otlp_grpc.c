/* Tests for the OTLP/gRPC exporter and its nghttp2 client against a loopback gRPC receiver
 * written here (grpc_receiver.h), in plaintext and TLS: the request (path, headers, metadata,
 * grpc-timeout, the message decoded with protobuf-c, gzip), connection reuse, retryable and
 * non-retryable codes, RetryInfo, partial success, GOAWAY, a dropped connection, a slow server,
 * certificate and host name verification. Every test is bounded in time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "failalloc.h"
#include "grpc_receiver.h"
#include "log_internal.h"
#include "otel/exporters/otlp.h"
#include "otlp_internal.h"
#include "otlp_testlib.h"
#include "otlp_exporter_fixture.h"
#include "log_capture.h"

static otel_otlp_header md[] = { { "X-Api-Key", "hunter2" } };

/* |scheme|: "http://", "https://" or "" (no scheme). Fast retries, 3 s timeout by default. */
static otel_status try_make(struct fixture *f, const char *scheme, const char *host, uint16_t port,
                            otel_otlp_options *o)
{
    snprintf(f->endpoint, sizeof(f->endpoint), "%s%s:%u", scheme, host, (unsigned)port);
    otel_otlp_options local = { 0 };
    if (!o)
        o = &local;
    o->protocol = OTEL_OTLP_GRPC;
    return fixture_create(f, o, md, 1);
}

static void make(struct fixture *f, uint16_t port, otel_otlp_options *o)
{
    assert_int_equal(try_make(f, "http://", "127.0.0.1", port, o), OTEL_OK);
}

static void check_call_is_span(const struct grecv_call *c, const otel_span_data *s)
{
    check_body_is_span(c->message, c->message_len, c->compressed, s);
}

static const struct grecv_answer ok = { 0 };

static void test_grpc_plaintext_call_carries_the_batch(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start(NULL, &ok, 1);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 1);
    struct grecv_call *c = &r->calls[0];
    assert_string_equal(c->path, "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    char v[256];
    assert_non_null(grecv_header(c, ":method", v, sizeof(v)));
    assert_string_equal(v, "POST");
    assert_non_null(grecv_header(c, ":scheme", v, sizeof(v)));
    assert_string_equal(v, "http");
    assert_non_null(grecv_header(c, ":authority", v, sizeof(v)));
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)r->port);
    assert_string_equal(v, want);
    assert_non_null(grecv_header(c, "content-type", v, sizeof(v)));
    assert_string_equal(v, "application/grpc");
    assert_non_null(grecv_header(c, "te", v, sizeof(v)));
    assert_string_equal(v, "trailers");
    assert_non_null(grecv_header(c, "user-agent", v, sizeof(v)));
    assert_string_equal(v, "OTel-OTLP-Exporter-C/" OTEL_VERSION_STRING " otelc/" OTEL_VERSION_STRING);
    assert_non_null(grecv_header(c, "x-api-key", v, sizeof(v)));
    assert_string_equal(v, "hunter2");
    assert_non_null(grecv_header(c, "grpc-timeout", v, sizeof(v)));
    long ms = strtol(v, NULL, 10);
    assert_true(ms > 2000 && ms <= 3000);
    assert_int_equal(v[strlen(v) - 1], 'm');
    assert_null(grecv_header(c, "grpc-encoding", v, sizeof(v)));
    assert_false(c->compressed);
    check_call_is_span(c, &f.span.data);
    otel_otlp_exporter_stats s = stats_of(&f);
    assert_int_equal(s.spans_exported, 1);
    assert_int_equal(s.connections, 1);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_keeps_one_connection_for_many_calls(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start(NULL, &ok, 1);
    struct fixture f;
    make(&f, r->port, NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 5);
    assert_int_equal(atomic_load(&r->connections), 1);
    assert_int_equal(r->calls[4].stream_id, 9);
    assert_int_equal(stats_of(&f).connections, 1);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_gzip_sets_encoding_and_flag(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start(NULL, &ok, 1);
    struct fixture f;
    otel_otlp_options o = { .compression = OTEL_OTLP_COMPRESSION_GZIP };
    make(&f, r->port, &o);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    char v[64];
    assert_non_null(grecv_header(&r->calls[0], "grpc-encoding", v, sizeof(v)));
    assert_string_equal(v, "gzip");
    assert_true(r->calls[0].compressed);
    check_call_is_span(&r->calls[0], &f.span.data);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_unavailable_is_retried_and_delivered_once(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .grpc_status = 14 }, { .grpc_status = 14 }, ok };
    struct grpc_receiver *r = grecv_start(NULL, script, 3);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 3);
    assert_int_equal(atomic_load(&r->answered_ok), 1);
    assert_int_equal(atomic_load(&r->connections), 1); /* error statuses keep the connection */
    otel_otlp_exporter_stats s = stats_of(&f);
    assert_int_equal(s.retries, 2);
    assert_int_equal(s.spans_exported, 1);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_resource_exhausted_without_retry_info_is_dropped(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .grpc_status = 8, .grpc_message = "quota" }, ok };
    struct grpc_receiver *r = grecv_start(NULL, script, 2);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_FAILURE);
    assert_int_equal(atomic_load(&r->call_count), 1);
    assert_non_null(strstr(logged, "gRPC status 8: quota"));
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_resource_exhausted_with_retry_info_waits_the_delay(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .grpc_status = 8, .retry_delay_ms = 400 }, ok };
    struct grpc_receiver *r = grecv_start(NULL, script, 2);
    struct fixture f;
    make(&f, r->port, NULL);
    int64_t t0 = loopback_now_ms();
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    int64_t took = loopback_now_ms() - t0;
    assert_true(took >= 380);
    assert_true(took < 2500);
    assert_int_equal(atomic_load(&r->call_count), 2);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_invalid_argument_is_dropped_with_message(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .grpc_status = 3, .grpc_message = "bad%20span%0A" } };
    struct grpc_receiver *r = grecv_start(NULL, script, 1);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_FAILURE);
    assert_int_equal(atomic_load(&r->call_count), 1);
    assert_non_null(strstr(logged, "gRPC status 3: bad span?"));
    assert_null(strstr(logged, "hunter2"));
    assert_int_equal(stats_of(&f).spans_failed, 1);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_partial_success_is_logged(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .rejected = 3, .partial_message = "too old" } };
    struct grpc_receiver *r = grecv_start(NULL, script, 1);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_non_null(strstr(logged, "rejected 3 of 1 spans (partial success): too old"));
    assert_int_equal(stats_of(&f).spans_rejected, 3);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_goaway_makes_the_next_call_reconnect(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .goaway_after = true }, ok };
    struct grpc_receiver *r = grecv_start(NULL, script, 2);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 2);
    assert_int_equal(atomic_load(&r->connections), 2);
    assert_int_equal(stats_of(&f).retries, 0);
    assert_int_equal(stats_of(&f).connections, 2);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_connection_dropped_mid_call_is_retried(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .drop_connection = true }, ok };
    struct grpc_receiver *r = grecv_start(NULL, script, 2);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 2);
    assert_int_equal(atomic_load(&r->answered_ok), 1);
    assert_int_equal(atomic_load(&r->connections), 2);
    check_call_is_span(&r->calls[1], &f.span.data);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_slow_server_is_cut_at_the_timeout(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .delay_ms = 10000 } };
    struct grpc_receiver *r = grecv_start(NULL, script, 1);
    struct fixture f;
    otel_otlp_options o = { .timeout_ns = 300000000 };
    make(&f, r->port, &o);
    int64_t t0 = loopback_now_ms();
    assert_int_equal(export_one(&f), OTEL_EXPORT_RETRYABLE);
    int64_t took = loopback_now_ms() - t0;
    assert_true(took >= 250);
    assert_true(took < 2000);
    char v[32];
    assert_non_null(grecv_header(&r->calls[0], "grpc-timeout", v, sizeof(v)));
    assert_true(strtol(v, NULL, 10) <= 300);
    assert_non_null(strstr(logged, "timed out"));
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_http_503_without_grpc_status_is_retried(void **state)
{
    (void)state;
    struct grecv_answer script[] = { { .http_status = 503 }, ok };
    struct grpc_receiver *r = grecv_start(NULL, script, 2);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 2);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_connection_refused_gives_up_at_the_deadline(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = loopback_listen(0, &port);
    close(fd);
    struct fixture f;
    otel_otlp_options o = { .timeout_ns = 400000000 };
    make(&f, port, &o);
    int64_t t0 = loopback_now_ms();
    assert_int_equal(export_one(&f), OTEL_EXPORT_RETRYABLE);
    assert_true(loopback_now_ms() - t0 < 2000);
    assert_true(stats_of(&f).requests >= 2);
    assert_non_null(strstr(logged, "cannot connect"));
    free_fixture(&f);
}

static void test_grpc_server_coming_up_during_retries_gets_the_batch_once(void **state)
{
    (void)state;
    uint16_t port = 0;
    int fd = loopback_listen(0, &port);
    close(fd);
    struct fixture f;
    otel_otlp_options o = { .timeout_ns = 5000000000LL, .retry_max_attempts = 100 };
    make(&f, port, &o);
    struct export_thread t = { &f, OTEL_EXPORT_FAILURE };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, export_in_thread, &t), 0);
    wait_for_requests(&f, 2, 4000);
    struct grpc_receiver *r = grecv_start_on(port, NULL, &ok, 1);
    pthread_join(th, NULL);
    assert_int_equal(t.result, OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 1);
    check_call_is_span(&r->calls[0], &f.span.data);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_tls_with_ca_file_verifies_and_negotiates_h2(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start("", &ok, 1);
    struct fixture f;
    otel_otlp_options o = { .certificate_file = r->cert_path };
    assert_int_equal(try_make(&f, "https://", "127.0.0.1", r->port, &o), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_string_equal(r->alpn, "h2");
    char v[16];
    assert_non_null(grecv_header(&r->calls[0], ":scheme", v, sizeof(v)));
    assert_string_equal(v, "https");
    check_call_is_span(&r->calls[0], &f.span.data);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->connections), 1);
    free_fixture(&f);
    /* By DNS name too, without a scheme (TLS is the default then). */
    assert_int_equal(try_make(&f, "", "localhost", r->port, &o), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_tls_unknown_ca_is_refused(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start("", &ok, 1);
    struct fixture f;
    assert_int_equal(try_make(&f, "https://", "127.0.0.1", r->port, NULL), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_FAILURE);
    assert_int_equal(atomic_load(&r->call_count), 0);
    assert_non_null(strstr(logged, "certificate verification failed"));
    assert_int_equal(stats_of(&f).retries, 0);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_tls_wrong_host_name_is_refused(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start("other.example", &ok, 1);
    struct fixture f;
    otel_otlp_options o = { .certificate_file = r->cert_path };
    assert_int_equal(try_make(&f, "https://", "127.0.0.1", r->port, &o), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_FAILURE);
    assert_int_equal(atomic_load(&r->call_count), 0);
    assert_non_null(strstr(logged, "certificate verification failed"));
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_no_scheme_uses_tls_unless_insecure(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start(NULL, &ok, 1);
    struct fixture f;
    /* TLS against a plaintext server: the handshake fails, nothing is delivered. */
    otel_otlp_options o = { .timeout_ns = 1000000000, .retry_max_attempts = 1 };
    assert_int_equal(try_make(&f, "", "127.0.0.1", r->port, &o), OTEL_OK);
    assert_int_not_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    free_fixture(&f);
    otel_otlp_options o2 = { .insecure = true };
    assert_int_equal(try_make(&f, "", "127.0.0.1", r->port, &o2), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(atomic_load(&r->call_count), 1);
    free_fixture(&f);
    /* A scheme wins over insecure. */
    otel_otlp_options o3 = { .insecure = false };
    assert_int_equal(try_make(&f, "http://", "127.0.0.1", r->port, &o3), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_create_rejects_bad_tls_files(void **state)
{
    (void)state;
    char path[] = "/tmp/otelc-bad-ca-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a pem\n", 10), 10);
    close(fd);
    struct fixture f;
    otel_otlp_options o = { .certificate_file = path };
    assert_int_equal(try_make(&f, "https://", "127.0.0.1", 4317, &o), OTEL_ERR_INVALID_ARG);
    assert_non_null(strstr(logged, "CA certificates"));
    otel_otlp_options o2 = { .client_key_file = path };
    assert_int_equal(try_make(&f, "https://", "127.0.0.1", 4317, &o2), OTEL_ERR_INVALID_ARG);
    /* Plaintext needs no TLS files loaded, but a missing file is still an error. */
    otel_otlp_options o3 = { .certificate_file = "/nonexistent.pem" };
    assert_int_equal(try_make(&f, "http://", "127.0.0.1", 4317, &o3), OTEL_ERR_INVALID_ARG);
    unlink(path);
}

static void test_grpc_export_after_shutdown_fails(void **state)
{
    (void)state;
    struct grpc_receiver *r = grecv_start(NULL, &ok, 1);
    struct fixture f;
    make(&f, r->port, NULL);
    assert_int_equal(export_one(&f), OTEL_EXPORT_SUCCESS);
    assert_int_equal(f.exporter.shutdown(f.exporter.user_data, 0), OTEL_OK);
    assert_int_equal(export_one(&f), OTEL_EXPORT_FAILURE);
    assert_int_equal(atomic_load(&r->call_count), 1);
    free_fixture(&f);
    grecv_stop(r);
}

static void test_grpc_retry_info_parser(void **state)
{
    (void)state;
    char b64[256];
    grecv_retry_info(1500, b64, sizeof(b64));
    uint8_t bin[256];
    size_t n = otel__base64_decode(b64, strlen(b64), bin);
    assert_true(n != (size_t)-1);
    assert_int_equal(otel__grpc_parse_retry_info(bin, n), 1500000000LL);
    /* A Status without details has no RetryInfo. */
    static const uint8_t plain[] = { 0x08, 0x0e, 0x12, 0x01, 'x' };
    assert_int_equal(otel__grpc_parse_retry_info(plain, sizeof(plain)), -1);
    /* Garbage is not a crash. */
    static const uint8_t junk[] = { 0x1a, 0xff, 0xff, 0xff, 0x0f, 0x00 };
    assert_int_equal(otel__grpc_parse_retry_info(junk, sizeof(junk)), -1);
    assert_int_equal(otel__base64_decode("a$", 2, bin), (size_t)-1);
}

/* The application thread never waits for the network: with the collector stalling every call,
 * span ends stay fast, the queue stays bounded (drops are counted), and shutdown ends on time. */
static void test_grpc_batch_processor_span_end_never_waits_for_a_stalled_server(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_NONE);
    struct grecv_answer script[] = { { .delay_ms = 3000 } };
    struct grpc_receiver *r = grecv_start(NULL, script, 1);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", (unsigned)r->port);
    otel_otlp_options o = { .protocol = OTEL_OTLP_GRPC, .endpoint = endpoint, .timeout_ns = 2000000000LL };
    otel_batch_options bo = { .max_queue_size = 256,
                              .max_export_batch_size = 64,
                              .schedule_delay_ns = 1000000 };
    otel_tracer_provider *tp = provider_over_otlp(&o, &bo);
    otel_tracer *tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("stall"), NULL);
    int64_t worst = 0;
    int64_t t_all = loopback_now_ms();
    for (int i = 0; i < 20000; i++) {
        otel_span s = otel_tracer_start_span(tracer, OTEL_STR("s"), NULL);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        otel_span_end(s);
        clock_gettime(CLOCK_MONOTONIC, &b);
        int64_t ns = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec);
        if (ns > worst)
            worst = ns;
    }
    /* 20000 span ends while the worker sits in a 2 s export: no end waited for it. */
    assert_true(loopback_now_ms() - t_all < 1500);
    assert_true(worst < 200000000); /* a scheduling hiccup, never an export */
    otel_tracer_provider_stats st;
    assert_int_equal(otel_tracer_provider_get_stats(tp, &st), OTEL_OK);
    assert_true(st.spans_dropped > 0); /* the queue is bounded: the rest was dropped and counted */
    int64_t t0 = loopback_now_ms();
    otel_tracer_provider_shutdown(tp, 500000000);
    otel_tracer_provider_destroy(tp);
    assert_true(loopback_now_ms() - t0 < 5000);
    grecv_stop(r);
}

struct fa_ctx {
    char endpoint[128];
    const char *ca;
    struct full_span *span;
};

static int export_scenario(void *arg)
{
    struct fa_ctx *c = arg;
    otel_otlp_options o = { .protocol = OTEL_OTLP_GRPC,
                            .endpoint = c->endpoint,
                            .compression = OTEL_OTLP_COMPRESSION_GZIP,
                            .headers = md,
                            .header_count = 1,
                            .retry_max_attempts = 1,
                            .certificate_file = (char *)c->ca };
    bool failed_in_export = false;
    int rc = export_two_spans_with(&o, c->span, &failed_in_export);
    if (rc != 0)
        return rc;
    /* destroy's GOAWAY is a best-effort goodbye: a failure there has no one to report to. */
    return !failed_in_export && failalloc_failed() ? 99 : 0;
}

static void test_grpc_export_survives_every_allocation_failure(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_NONE);
    struct grpc_receiver *plain = grecv_start(NULL, &ok, 1);
    struct grpc_receiver *tls = grecv_start("", &ok, 1);
    struct full_span f;
    full_span_init(&f);
    struct fa_ctx ctx[2];
    snprintf(ctx[0].endpoint, sizeof(ctx[0].endpoint), "http://127.0.0.1:%u", (unsigned)plain->port);
    ctx[0].ca = NULL;
    snprintf(ctx[1].endpoint, sizeof(ctx[1].endpoint), "https://127.0.0.1:%u", (unsigned)tls->port);
    ctx[1].ca = tls->cert_path;
    for (int i = 0; i < 2; i++) {
        ctx[i].span = &f;
        check_survives_every_allocation_failure(export_scenario, &ctx[i], 5);
    }
    full_span_cleanup(&f);
    grecv_stop(tls);
    grecv_stop(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grpc_plaintext_call_carries_the_batch, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_keeps_one_connection_for_many_calls, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_gzip_sets_encoding_and_flag, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_unavailable_is_retried_and_delivered_once,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_resource_exhausted_without_retry_info_is_dropped,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_resource_exhausted_with_retry_info_waits_the_delay,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_invalid_argument_is_dropped_with_message, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_partial_success_is_logged, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_goaway_makes_the_next_call_reconnect, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_connection_dropped_mid_call_is_retried, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_slow_server_is_cut_at_the_timeout, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_http_503_without_grpc_status_is_retried, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_connection_refused_gives_up_at_the_deadline,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_server_coming_up_during_retries_gets_the_batch_once,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_tls_with_ca_file_verifies_and_negotiates_h2,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_tls_unknown_ca_is_refused, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_tls_wrong_host_name_is_refused, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_no_scheme_uses_tls_unless_insecure, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_create_rejects_bad_tls_files, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_export_after_shutdown_fails, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_retry_info_parser, log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_export_survives_every_allocation_failure, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_grpc_batch_processor_span_end_never_waits_for_a_stalled_server,
                                        log_capture_setup, log_capture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
