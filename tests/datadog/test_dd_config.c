/* Datadog exporter configuration: DD_* variables into otel_datadog_options (through a table
 * environment, no setenv), invalid values and their diagnostics, and agent address resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dd_exporter.h"
#include "failalloc.h"
#include "log_capture.h"
#include "otel/exporters/datadog.h"

struct table {
    const char *const (*vars)[2];
    size_t n;
};

static const char *table_get(void *user_data, const char *name)
{
    const struct table *t = user_data;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->vars[i][0], name) == 0)
            return t->vars[i][1];
    return NULL;
}

#define ENV(name, ...)                                                                         \
    static const char *const name##_vars[][2] = { __VA_ARGS__ };                               \
    struct table name##_table = { name##_vars, sizeof(name##_vars) / sizeof(name##_vars[0]) }; \
    otel_env name = { table_get, &name##_table }

static int setup(void **state)
{
    log_capture_setup(state);
    /* No default socket on the test machine by accident. */
    otel__dd_default_socket_path = "/nonexistent/otel-dd-test/apm.socket";
    return 0;
}

static void test_all_variables_are_read(void **state)
{
    (void)state;
    ENV(env, { "DD_TRACE_AGENT_URL", "http://agent:9000" }, { "DD_AGENT_HOST", "ignored-host" },
        { "DD_TRACE_AGENT_PORT", "1234" }, { "DD_TRACE_API_VERSION", "V0.5" }, { "DD_SERVICE", "checkout" },
        { "DD_ENV", "prod" }, { "DD_VERSION", "1.2.3" }, { "DD_TAGS", "team:pay,region:eu" },
        { "DD_TRACE_AGENT_TIMEOUT_SECONDS", "0.5" }, { "DD_TRACE_SAMPLING_RULES", "[{\"sample_rate\":0.5}]" },
        { "DD_TRACE_SAMPLE_RATE", "0.1" }, { "DD_TRACE_RATE_LIMIT", "50" },
        { "DD_TRACE_NATIVE_SPAN_EVENTS", "true" });
    otel_datadog_options o = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o, &env), OTEL_OK);
    assert_string_equal(o.agent_url, "http://agent:9000");
    assert_string_equal(o.agent_host, "ignored-host");
    assert_int_equal(o.agent_port, 1234);
    assert_int_equal(o.api_version, OTEL_DATADOG_API_V05);
    assert_true(o.native_span_events);
    assert_string_equal(o.service, "checkout");
    assert_string_equal(o.env, "prod");
    assert_string_equal(o.version, "1.2.3");
    assert_string_equal(o.tags, "team:pay,region:eu");
    assert_int_equal(o.request_timeout_ns, 500000000);
    assert_string_equal(o.sampler.rules_json, "[{\"sample_rate\":0.5}]");
    assert_true(o.sampler.has_sample_rate && o.sampler.sample_rate == 0.1);
    assert_true(o.sampler.has_rate_limit && o.sampler.rate_limit == 50);
    assert_string_equal(o.sampler.service, "checkout");
    assert_string_equal(o.sampler.env, "prod");
    assert_int_equal(log_capture_count(), 0);
    /* The URL wins over host and port. */
    struct otel__dd_agent_addr addr;
    assert_int_equal(otel__dd_resolve_agent(&o, &addr), OTEL_OK);
    assert_string_equal(addr.base_url, "http://agent:9000");
    assert_string_equal(addr.socket, "");
    otel_datadog_options_cleanup(&o);
    assert_null(o.service);
}

static void test_defaults_when_nothing_is_set(void **state)
{
    (void)state;
    ENV(env, { "UNRELATED", "x" });
    otel_datadog_options o = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o, &env), OTEL_OK);
    assert_null(o.agent_url);
    assert_null(o.agent_socket);
    assert_int_equal(o.agent_port, 0);
    assert_int_equal(o.api_version, OTEL_DATADOG_API_DEFAULT);
    assert_false(o.native_span_events);
    assert_false(o.sampler.has_sample_rate);
    assert_false(o.sampler.has_rate_limit);
    struct otel__dd_agent_addr addr;
    assert_int_equal(otel__dd_resolve_agent(&o, &addr), OTEL_OK);
    assert_string_equal(addr.base_url, "http://localhost:8126");
    otel_datadog_options_cleanup(&o);
}

static void test_host_and_port_build_the_url(void **state)
{
    (void)state;
    ENV(env, { "DD_AGENT_HOST", "10.0.0.7" }, { "DD_TRACE_AGENT_PORT", "8127" });
    otel_datadog_options o = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o, &env), OTEL_OK);
    struct otel__dd_agent_addr addr;
    assert_int_equal(otel__dd_resolve_agent(&o, &addr), OTEL_OK);
    assert_string_equal(addr.base_url, "http://10.0.0.7:8127");
    otel_datadog_options_cleanup(&o);
    /* IPv6 literals get brackets; a port alone keeps localhost. */
    otel_datadog_options v6 = { .agent_host = "::1", .agent_port = 9 };
    assert_int_equal(otel__dd_resolve_agent(&v6, &addr), OTEL_OK);
    assert_string_equal(addr.base_url, "http://[::1]:9");
    ENV(env2, { "DD_TRACE_AGENT_PORT", "9999" });
    otel_datadog_options o2 = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o2, &env2), OTEL_OK);
    assert_int_equal(otel__dd_resolve_agent(&o2, &addr), OTEL_OK);
    assert_string_equal(addr.base_url, "http://localhost:9999");
    otel_datadog_options_cleanup(&o2);
}

static void test_unix_urls_and_socket_option(void **state)
{
    (void)state;
    struct otel__dd_agent_addr addr;
    otel_datadog_options o = { .agent_url = "unix:///var/run/dd/apm.sock" };
    assert_int_equal(otel__dd_resolve_agent(&o, &addr), OTEL_OK);
    assert_string_equal(addr.socket, "/var/run/dd/apm.sock");
    assert_string_equal(addr.base_url, "http://localhost");
    o.agent_url = "http+unix:///tmp/x.sock";
    assert_int_equal(otel__dd_resolve_agent(&o, &addr), OTEL_OK);
    assert_string_equal(addr.socket, "/tmp/x.sock");
    otel_datadog_options s = { .agent_socket = "/tmp/y.sock", .agent_host = "h" };
    assert_int_equal(otel__dd_resolve_agent(&s, &addr), OTEL_OK);
    assert_string_equal(addr.socket, "/tmp/y.sock");
    otel_datadog_options t = { .agent_url = "http://agent:1/" };
    assert_int_equal(otel__dd_resolve_agent(&t, &addr), OTEL_OK);
    assert_string_equal(addr.base_url, "http://agent:1");
}

static void test_invalid_values_keep_defaults_with_a_diagnostic(void **state)
{
    (void)state;
    ENV(env, { "DD_TRACE_AGENT_PORT", "99999" }, { "DD_TRACE_API_VERSION", "v0.7" },
        { "DD_TRACE_AGENT_TIMEOUT_SECONDS", "soon" }, { "DD_TRACE_SAMPLE_RATE", "1.5" },
        { "DD_TRACE_RATE_LIMIT", "lots" }, { "DD_TRACE_NATIVE_SPAN_EVENTS", "yes" });
    otel_datadog_options o = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o, &env), OTEL_OK);
    assert_int_equal(o.agent_port, 0);
    assert_int_equal(o.api_version, OTEL_DATADOG_API_DEFAULT);
    assert_int_equal(o.request_timeout_ns, 0);
    assert_false(o.sampler.has_sample_rate);
    assert_false(o.sampler.has_rate_limit);
    assert_false(o.native_span_events);
    assert_int_equal(log_capture_count(), 6);
    otel_datadog_options_cleanup(&o);
}

static void test_native_span_events_takes_1_and_0(void **state)
{
    (void)state;
    ENV(on, { "DD_TRACE_NATIVE_SPAN_EVENTS", "1" });
    otel_datadog_options o = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o, &on), OTEL_OK);
    assert_true(o.native_span_events);
    ENV(off, { "DD_TRACE_NATIVE_SPAN_EVENTS", "0" });
    assert_int_equal(otel_datadog_options_from_env(&o, &off), OTEL_OK);
    assert_false(o.native_span_events);
    ENV(off2, { "DD_TRACE_NATIVE_SPAN_EVENTS", "FALSE" });
    o.native_span_events = true;
    assert_int_equal(otel_datadog_options_from_env(&o, &off2), OTEL_OK);
    assert_false(o.native_span_events);
    assert_int_equal(log_capture_count(), 0);
    otel_datadog_options_cleanup(&o);
}

static void test_empty_values_mean_unset(void **state)
{
    (void)state;
    ENV(env, { "DD_SERVICE", "" }, { "DD_TRACE_AGENT_URL", "  " });
    otel_datadog_options o = { 0 };
    assert_int_equal(otel_datadog_options_from_env(&o, &env), OTEL_OK);
    assert_null(o.service);
    assert_null(o.agent_url);
    otel_datadog_options_cleanup(&o);
}

static void test_code_values_survive_unset_variables(void **state)
{
    (void)state;
    ENV(env, { "DD_ENV", "from-env" });
    otel_datadog_options o = { .service = "from-code", .env = "code-env" };
    assert_int_equal(otel_datadog_options_from_env(&o, &env), OTEL_OK);
    assert_string_equal(o.service, "from-code");
    assert_string_equal(o.env, "from-env");
    otel_datadog_options_cleanup(&o);
}

static int from_env_scenario(void *arg)
{
    const otel_env *env = arg;
    otel_datadog_options o = { 0 };
    otel_status st = otel_datadog_options_from_env(&o, env);
    otel_datadog_options_cleanup(&o);
    return (int)st;
}

static void test_from_env_survives_every_allocation_failure(void **state)
{
    (void)state;
    ENV(env, { "DD_TRACE_AGENT_URL", "http://a:1" }, { "DD_SERVICE", "s" }, { "DD_ENV", "e" },
        { "DD_VERSION", "v" }, { "DD_TAGS", "a:b" }, { "DD_TRACE_SAMPLING_RULES", "[]" });
    failalloc_result r = failalloc_run(from_env_scenario, &env);
    assert_true(r.allocations >= 7);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

static void test_cleanup_accepts_null_and_code_strings(void **state)
{
    (void)state;
    otel_datadog_options_cleanup(NULL);
    otel_datadog_options o = { .service = "literal, not freed" };
    otel_datadog_options_cleanup(&o);
    assert_null(o.service);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_all_variables_are_read, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_defaults_when_nothing_is_set, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_native_span_events_takes_1_and_0, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_host_and_port_build_the_url, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_unix_urls_and_socket_option, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_values_keep_defaults_with_a_diagnostic, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_values_mean_unset, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_code_values_survive_unset_variables, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_from_env_survives_every_allocation_failure, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_accepts_null_and_code_strings, setup,
                                        log_capture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
