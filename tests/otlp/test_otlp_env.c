/* Tests for OTEL_EXPORTER_OTLP_* parsing (exporters/otlp/src/otlp_env.c) and for the checks
 * otel_otlp_exporter_create() makes: precedence of the traces-specific variables, the
 * /v1/traces rule, header lists, timeouts, booleans, diagnostics that never show header values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "failalloc.h"
#include "log_internal.h"
#include "otel/exporters/otlp.h"
#include "otlp_internal.h"
#include "log_capture.h"

/* An environment made of "NAME=value" strings. */
struct table {
    const char *const *vars;
};

static const char *table_get(void *user_data, const char *name)
{
    const struct table *t = user_data;
    size_t n = strlen(name);
    for (const char *const *v = t->vars; *v; v++)
        if (strncmp(*v, name, n) == 0 && (*v)[n] == '=')
            return *v + n + 1;
    return NULL;
}

static otel_otlp_options from_env(const char *const *vars)
{
    struct table t = { vars };
    otel_env env = { table_get, &t };
    otel_otlp_options o = { 0 };
    assert_int_equal(otel_otlp_options_from_env(&o, &env), OTEL_OK);
    return o;
}

static void test_env_unset_leaves_defaults(void **state)
{
    (void)state;
    const char *vars[] = { NULL };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.protocol, OTEL_OTLP_HTTP_PROTOBUF);
    assert_null(o.endpoint);
    assert_int_equal(o.header_count, 0);
    assert_int_equal(o.timeout_ns, 0);
    assert_int_equal(o.compression, OTEL_OTLP_COMPRESSION_NONE);
    assert_false(o.insecure);
    assert_null(o.certificate_file);
    assert_string_equal(logged, "");
    otel_otlp_options_cleanup(&o);
}

static void test_env_generic_endpoint_gets_v1_traces_for_http(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        { "http://collector:4318", "http://collector:4318/v1/traces" },
        { "http://collector:4318/", "http://collector:4318/v1/traces" },
        { "https://collector/otlp", "https://collector/otlp/v1/traces" },
        { "https://collector/otlp/", "https://collector/otlp/v1/traces" },
        { "http://[::1]:4318?tenant=a", "http://[::1]:4318/v1/traces?tenant=a" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char var[256];
        snprintf(var, sizeof(var), "OTEL_EXPORTER_OTLP_ENDPOINT=%s", cases[i].in);
        const char *vars[] = { var, NULL };
        otel_otlp_options o = from_env(vars);
        assert_string_equal(o.endpoint, cases[i].want);
        otel_otlp_options_cleanup(&o);
    }
}

static void test_env_traces_endpoint_used_as_is_and_wins(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=http://generic:4318",
                           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://specific:9999/custom", NULL };
    otel_otlp_options o = from_env(vars);
    assert_string_equal(o.endpoint, "http://specific:9999/custom");
    otel_otlp_options_cleanup(&o);
}

static void test_env_grpc_endpoint_is_not_extended(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317",
                           NULL };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.protocol, OTEL_OTLP_GRPC);
    assert_string_equal(o.endpoint, "collector:4317");
    otel_otlp_options_cleanup(&o);
}

static void test_env_invalid_endpoint_is_reported_without_its_value(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_ENDPOINT=ftp://user:secret@host/", NULL };
    otel_otlp_options o = from_env(vars);
    assert_null(o.endpoint);
    assert_non_null(strstr(logged, "OTEL_EXPORTER_OTLP_ENDPOINT"));
    assert_non_null(strstr(logged, "http://localhost:4318/v1/traces"));
    assert_null(strstr(logged, "secret"));
    otel_otlp_options_cleanup(&o);
}

static void test_env_invalid_traces_endpoint_falls_back_to_generic(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=not a url",
                           "OTEL_EXPORTER_OTLP_ENDPOINT=http://generic:4318", NULL };
    otel_otlp_options o = from_env(vars);
    assert_string_equal(o.endpoint, "http://generic:4318/v1/traces");
    assert_non_null(strstr(logged, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
    otel_otlp_options_cleanup(&o);
}

static void test_env_protocol_traces_wins_and_is_case_insensitive(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=HTTP/JSON",
                           NULL };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.protocol, OTEL_OTLP_HTTP_JSON);
    otel_otlp_options_cleanup(&o);
}

static void test_env_unknown_protocol_warns_and_keeps_default(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_PROTOCOL=thrift", NULL };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.protocol, OTEL_OTLP_HTTP_PROTOBUF);
    assert_non_null(strstr(logged, "OTEL_EXPORTER_OTLP_PROTOCOL"));
    assert_non_null(strstr(logged, "http/protobuf"));
    otel_otlp_options_cleanup(&o);
}

static void test_env_headers_are_percent_decoded_and_trimmed(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_HEADERS= api-key = s3cr%3Dt%2C1 , x-tenant=a%20b,,empty=",
                           NULL };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.header_count, 3);
    assert_string_equal(o.headers[0].name, "api-key");
    assert_string_equal(o.headers[0].value, "s3cr=t,1");
    assert_string_equal(o.headers[1].name, "x-tenant");
    assert_string_equal(o.headers[1].value, "a b");
    assert_string_equal(o.headers[2].name, "empty");
    assert_string_equal(o.headers[2].value, "");
    assert_string_equal(logged, "");
    otel_otlp_options_cleanup(&o);
}

static void test_env_traces_headers_replace_generic_ones(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_HEADERS=a=1,b=2", "OTEL_EXPORTER_OTLP_TRACES_HEADERS=c=3",
                           NULL };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.header_count, 1);
    assert_string_equal(o.headers[0].name, "c");
    assert_string_equal(o.headers[0].value, "3");
    otel_otlp_options_cleanup(&o);
}

static void test_env_bad_header_entries_are_skipped_without_values_in_logs(void **state)
{
    (void)state;
    const char *vars[] = {
        "OTEL_EXPORTER_OTLP_HEADERS=novalue,good=ok,bad key=hunter2,x=%zz-hunter3,y=a%0d%0ahunter4,=hunter5",
        NULL
    };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.header_count, 1);
    assert_string_equal(o.headers[0].name, "good");
    assert_non_null(strstr(logged, "entry 1 has no '='"));
    assert_non_null(strstr(logged, "entry 3 has a key that is not a valid header name"));
    assert_non_null(strstr(logged, "entry 4 has a malformed percent-escape"));
    assert_non_null(strstr(logged, "entry 5 has a value with a line break"));
    assert_non_null(strstr(logged, "entry 6 has an empty key"));
    assert_null(strstr(logged, "hunter"));
    otel_otlp_options_cleanup(&o);
}

static void test_env_timeout_zero_means_no_limit(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_TIMEOUT=0", NULL };
    otel_otlp_options o = from_env(vars);
    assert_true(o.timeout_ns < 0);
    otel_otlp_options_cleanup(&o);
    const char *vars2[] = { "OTEL_EXPORTER_OTLP_TIMEOUT=2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=700",
                            NULL };
    o = from_env(vars2);
    assert_int_equal(o.timeout_ns, 700000000);
    otel_otlp_options_cleanup(&o);
    const char *vars3[] = { "OTEL_EXPORTER_OTLP_TIMEOUT=soon", NULL };
    o = from_env(vars3);
    assert_int_equal(o.timeout_ns, 0);
    assert_non_null(strstr(logged, "OTEL_EXPORTER_OTLP_TIMEOUT"));
    otel_otlp_options_cleanup(&o);
}

static void test_env_compression_and_insecure(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", "OTEL_EXPORTER_OTLP_TRACES_INSECURE=TRUE",
                           NULL };
    otel_otlp_options o = from_env(vars);
    assert_int_equal(o.compression, OTEL_OTLP_COMPRESSION_GZIP);
    assert_true(o.insecure);
    otel_otlp_options_cleanup(&o);
    const char *vars2[] = { "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
                            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none", "OTEL_EXPORTER_OTLP_INSECURE=yes",
                            NULL };
    o = from_env(vars2);
    assert_int_equal(o.compression, OTEL_OTLP_COMPRESSION_NONE);
    assert_false(o.insecure);
    assert_non_null(strstr(logged, "OTEL_EXPORTER_OTLP_INSECURE"));
    otel_otlp_options_cleanup(&o);
}

static void test_env_certificate_paths(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_CERTIFICATE=/etc/generic-ca.pem",
                           "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=/etc/ca.pem",
                           "OTEL_EXPORTER_OTLP_CLIENT_KEY=/etc/key.pem",
                           "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=/etc/cert.pem", NULL };
    otel_otlp_options o = from_env(vars);
    assert_string_equal(o.certificate_file, "/etc/ca.pem");
    assert_string_equal(o.client_key_file, "/etc/key.pem");
    assert_string_equal(o.client_certificate_file, "/etc/cert.pem");
    otel_otlp_options_cleanup(&o);
}

static void test_env_reads_on_top_of_existing_options(void **state)
{
    (void)state;
    const char *vars[] = { "OTEL_EXPORTER_OTLP_HEADERS=k=v", NULL };
    struct table t = { vars };
    otel_env env = { table_get, &t };
    otel_otlp_options o = { 0 };
    assert_int_equal(otel_otlp_options_from_env(&o, &env), OTEL_OK);
    assert_int_equal(otel_otlp_options_from_env(&o, &env), OTEL_OK); /* replaces, no leak */
    assert_int_equal(o.header_count, 1);
    otel_otlp_options_cleanup(&o);
    assert_null(o.headers);
    assert_int_equal(otel_otlp_options_from_env(NULL, &env), OTEL_ERR_INVALID_ARG);
    otel_otlp_options_cleanup(NULL);
}

static const char *const fa_vars[] = {
    "OTEL_EXPORTER_OTLP_HEADERS=a=1,b=2,c=3",   "OTEL_EXPORTER_OTLP_ENDPOINT=http://h:1",
    "OTEL_EXPORTER_OTLP_CERTIFICATE=/ca",       "OTEL_EXPORTER_OTLP_CLIENT_KEY=/k",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=/c", NULL
};

static int env_scenario(void *arg)
{
    (void)arg;
    struct table t = { fa_vars };
    otel_env env = { table_get, &t };
    otel_otlp_options o = { 0 };
    otel_status st = otel_otlp_options_from_env(&o, &env);
    otel_otlp_options_cleanup(&o);
    return (int)st;
}

static void test_env_survives_every_allocation_failure(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(env_scenario, NULL);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations > 5);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

/* ---------------------------------------------------------------------------------------------
 * What create accepts
 * ------------------------------------------------------------------------------------------- */

static otel_status try_create(const otel_otlp_options *o)
{
    otel_span_exporter e;
    otel_status st = otel_otlp_exporter_create(o, &e);
    if (st == OTEL_OK)
        e.destroy(e.user_data);
    return st;
}

static void test_create_accepts_defaults_and_valid_endpoints(void **state)
{
    (void)state;
    assert_int_equal(try_create(NULL), OTEL_OK);
    otel_otlp_options o = { .endpoint = "https://user:pw@collector.example:4318/v1/traces" };
    assert_int_equal(try_create(&o), OTEL_OK);
    o.endpoint = "http://[::1]:4318/v1/traces";
    assert_int_equal(try_create(&o), OTEL_OK);
    o.protocol = OTEL_OTLP_HTTP_JSON;
    o.compression = OTEL_OTLP_COMPRESSION_GZIP;
    assert_int_equal(try_create(&o), OTEL_OK);
}

static void test_create_rejects_bad_options(void **state)
{
    (void)state;
    otel_span_exporter e;
    assert_int_equal(otel_otlp_exporter_create(NULL, NULL), OTEL_ERR_INVALID_ARG);
    otel_otlp_options o = { .endpoint = "collector:4318" }; /* HTTP needs a scheme */
    assert_int_equal(try_create(&o), OTEL_ERR_INVALID_ARG);
    o.endpoint = "http://host:99999/";
    assert_int_equal(try_create(&o), OTEL_ERR_INVALID_ARG);
    o.endpoint = "http:///path";
    assert_int_equal(try_create(&o), OTEL_ERR_INVALID_ARG);
    o.endpoint = NULL;
    o.protocol = (otel_otlp_protocol)7;
    assert_int_equal(try_create(&o), OTEL_ERR_INVALID_ARG);
    o.protocol = OTEL_OTLP_HTTP_PROTOBUF;
    otel_otlp_header h = { "bad name", "hunter2" };
    o.headers = &h;
    o.header_count = 1;
    logged[0] = '\0';
    assert_int_equal(otel_otlp_exporter_create(&o, &e), OTEL_ERR_INVALID_ARG);
    assert_null(strstr(logged, "hunter2"));
    otel_otlp_header h2 = { "x-key", "line\r\nInjected: 1" };
    o.headers = &h2;
    assert_int_equal(try_create(&o), OTEL_ERR_INVALID_ARG);
    o.headers = NULL;
    o.header_count = 0;
    o.certificate_file = "/nonexistent/ca.pem";
    assert_int_equal(try_create(&o), OTEL_ERR_INVALID_ARG);
}

static void test_url_redact_hides_credentials_and_query(void **state)
{
    (void)state;
    char out[128];
    otel__otlp_url_redact("https://user:secret@h.example:4318/v1/traces?api_key=secret2", out, sizeof(out));
    assert_string_equal(out, "https://h.example:4318/v1/traces");
    otel__otlp_url_redact("collector:4317", out, sizeof(out));
    assert_string_equal(out, "collector:4317");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_unset_leaves_defaults, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_generic_endpoint_gets_v1_traces_for_http, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_traces_endpoint_used_as_is_and_wins, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_grpc_endpoint_is_not_extended, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_invalid_endpoint_is_reported_without_its_value,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_invalid_traces_endpoint_falls_back_to_generic,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_protocol_traces_wins_and_is_case_insensitive,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_unknown_protocol_warns_and_keeps_default, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_headers_are_percent_decoded_and_trimmed, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_traces_headers_replace_generic_ones, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_bad_header_entries_are_skipped_without_values_in_logs,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_timeout_zero_means_no_limit, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_compression_and_insecure, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_certificate_paths, log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_reads_on_top_of_existing_options, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_env_survives_every_allocation_failure, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_create_accepts_defaults_and_valid_endpoints, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_options, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_url_redact_hides_credentials_and_query, log_capture_setup,
                                        log_capture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
