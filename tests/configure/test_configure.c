/* Tests for otel_configure_from_env() (configure/): exporters chosen by OTEL_TRACES_EXPORTER
 * (the console one writing to a file through OTEL_C_CONSOLE_PATH), "none", unknown and
 * unavailable names, the sampler, disabled SDK, the override hook, log level and propagator
 * names. The environment is a table passed through otel_env. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failalloc.h"
#include "log_capture.h"
#include "log_internal.h"
#include "otel/configure.h"
#include "otel/propagation.h"

/* ---- environment table ----------------------------------------------------------------------- */

struct kv {
    const char *name;
    const char *value;
};

static const char *table_getenv(void *user_data, const char *name)
{
    for (const struct kv *p = user_data; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p->value;
    return NULL;
}

/* ---- fixture: a temporary output file -------------------------------------------------------- */

static char g_path[64];

/* Diagnostics are captured (tests/support/log_capture.h). */
static int setup(void **state)
{
    log_capture_setup(state);
    snprintf(g_path, sizeof(g_path), "/tmp/otelc-configure-XXXXXX");
    int fd = mkstemp(g_path);
    assert_true(fd >= 0);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    unlink(g_path);
    otel_global_set_tracer_provider(NULL);
    return log_capture_teardown(state);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* Configures with |table| (no_global), runs one span named "work", shuts down, destroys, and
 * returns the file's content. */
static char *run_with(const struct kv *table, void (*override)(void *, otel_sdk_config *), void *user_data)
{
    otel_env env = { table_getenv, (void *)table };
    otel_configure_options o = {
        .env = &env, .override = override, .user_data = user_data, .no_global = true
    };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_configure_from_env(&o, &tp), OTEL_OK);
    assert_non_null(tp);
    assert_true(otel_tracer_provider_is_sdk(tp));
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("test"), NULL);
    otel_span s = otel_tracer_start_span(t, OTEL_STR("work"), NULL);
    otel_span_end(s);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 1000000000), OTEL_OK);
    otel_tracer_provider_destroy(tp);
    return read_file(g_path);
}

static char *run(const struct kv *table, void (*override)(void *, otel_sdk_config *))
{
    return run_with(table, override, NULL);
}

/* ---- exporters ------------------------------------------------------------------------------- */

static void test_configure_console_exporter_writes_to_the_configured_file(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "console" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { "OTEL_SERVICE_NAME", "configured" },
                                { NULL, NULL } };
    char *text = run(table, NULL);
    assert_int_equal(count_lines(text), 1);
    assert_non_null(strstr(text, "span trace_id="));
    assert_non_null(strstr(text, "name=\"work\""));
    assert_non_null(strstr(text, "service=\"configured\""));
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_configure_console_json_format(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "console" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { "OTEL_C_CONSOLE_FORMAT", "JSON" },
                                { NULL, NULL } };
    char *text = run(table, NULL);
    assert_int_equal(count_lines(text), 1);
    assert_true(strncmp(text, "{\"resource\":{\"attributes\":[", 27) == 0);
    assert_non_null(strstr(text, "\"name\":\"work\""));
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_configure_none_builds_no_exporter_quietly(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "none" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { NULL, NULL } };
    char *text = run(table, NULL);
    assert_string_equal(text, "");
    assert_int_equal(log_capture_warnings(), 0);
    assert_int_equal(log_capture_count_at(OTEL_LOG_INFO), 0);
}

static void test_configure_unknown_exporter_warns_and_is_skipped(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "carrier-pigeon" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { NULL, NULL } };
    char *text = run(table, NULL);
    assert_string_equal(text, "");
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged, "unknown exporter carrier-pigeon"));
    assert_int_equal(log_capture_count_at(OTEL_LOG_INFO), 1);
    assert_non_null(strstr(logged, "no span exporter configured"));
}

/* Configures with |table| (no_global), ends one span, shuts down and returns the stats: for the
 * exporters that need a peer, pointed at a closed port, the span must reach the exporter and
 * fail there (within the short timeouts the table sets). */
static otel_tracer_provider_stats run_stats(const struct kv *table)
{
    otel_env env = { table_getenv, (void *)table };
    otel_configure_options o = { .env = &env, .no_global = true };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_configure_from_env(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("test"), NULL);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("work"), NULL));
    otel_tracer_provider_shutdown(tp, 5000000000);
    otel_tracer_provider_stats st;
    assert_int_equal(otel_tracer_provider_get_stats(tp, &st), OTEL_OK);
    otel_tracer_provider_destroy(tp);
    return st;
}

static void test_configure_default_exporter_is_otlp_behind_a_batch_processor(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1" },
                                { "OTEL_EXPORTER_OTLP_TIMEOUT", "300" },
                                { NULL, NULL } };
    otel_tracer_provider_stats st = run_stats(table);
    assert_int_equal(st.spans_ended, 1);
    assert_int_equal(st.spans_exported, 0);
    assert_int_equal(st.spans_failed, 1);
}

static void test_configure_datadog_exporter_is_built_from_dd_variables(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "datadog" },
                                { "DD_TRACE_AGENT_URL", "http://127.0.0.1:1" },
                                { "DD_TRACE_AGENT_TIMEOUT_SECONDS", "0.3" },
                                { NULL, NULL } };
    otel_tracer_provider_stats st = run_stats(table);
    assert_int_equal(st.spans_ended, 1);
    assert_int_equal(st.spans_failed, 1);
    assert_non_null(strstr(logged, "127.0.0.1")); /* the failure is reported, naming the agent */
}

static void test_configure_none_with_others_is_ignored_with_a_warning(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "none,console" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { NULL, NULL } };
    char *text = run(table, NULL);
    assert_int_equal(count_lines(text), 1);
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged, "\"none\""));
}

static void test_configure_logging_is_a_deprecated_console(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "logging,console" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { NULL, NULL } };
    char *text = run(table, NULL);
    assert_int_equal(count_lines(text), 1); /* one console exporter, not two */
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged, "logging is deprecated"));
}

static void test_configure_unopenable_console_path_skips_the_exporter(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "console" },
                                { "OTEL_C_CONSOLE_PATH", "/nonexistent-otelc/out.log" },
                                { NULL, NULL } };
    otel_env env = { table_getenv, (void *)table };
    otel_configure_options o = { .env = &env, .no_global = true };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_configure_from_env(&o, &tp), OTEL_OK);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(log_capture_warnings(), 2); /* cannot open; exporter skipped */
    assert_non_null(strstr(logged, "/nonexistent-otelc/out.log"));
    assert_non_null(strstr(logged, "could not be created"));
    assert_int_equal(log_capture_count_at(OTEL_LOG_INFO), 1);
}

/* ---- sampler, disabled, override ------------------------------------------------------------- */

static void test_configure_unavailable_sampler_falls_back_to_default(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "console" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { "OTEL_TRACES_SAMPLER", "jaeger_remote" },
                                { NULL, NULL } };
    char *text = run(table, NULL);
    assert_int_equal(count_lines(text), 1); /* parentbased_always_on samples the root */
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged, "sampler jaeger_remote is not available in this build, using "
                                   "parentbased_always_on"));
}

static void test_configure_always_off_sampler_exports_nothing(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "console" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { "OTEL_TRACES_SAMPLER", "always_off" },
                                { NULL, NULL } };
    assert_string_equal(run(table, NULL), "");
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_configure_disabled_sdk_records_nothing(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_SDK_DISABLED", "true" },
                                { "OTEL_TRACES_EXPORTER", "console,carrier-pigeon" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { NULL, NULL } };
    otel_env env = { table_getenv, (void *)table };
    otel_configure_options o = { .env = &env, .no_global = true };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_configure_from_env(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("test"), NULL);
    assert_false(otel_tracer_enabled(t));
    otel_span s = otel_tracer_start_span(t, OTEL_STR("work"), NULL);
    assert_false(otel_span_is_recording(s));
    otel_span_end(s);
    otel_tracer_provider_shutdown(tp, 0);
    otel_tracer_provider_destroy(tp);
    assert_string_equal(read_file(g_path), "");
    assert_int_equal(log_capture_warnings(), 0); /* exporters are not even looked at */
}

/* Code replaces a string field with its own strdup()'d copy, as configure.h allows. */
static void override_service(void *user_data, otel_sdk_config *cfg)
{
    free(cfg->service_name);
    cfg->service_name = strdup((const char *)user_data);
}

static void test_configure_override_wins_over_the_environment(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "console" },
                                { "OTEL_C_CONSOLE_PATH", g_path },
                                { "OTEL_SERVICE_NAME", "from-env" },
                                { NULL, NULL } };
    char *text = run_with(table, override_service, "from-code");
    assert_non_null(strstr(text, "service=\"from-code\""));
}

/* ---- log level, propagators, global ---------------------------------------------------------- */

static void test_configure_applies_log_level(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "none" },
                                { "OTEL_LOG_LEVEL", "error" },
                                { "OTEL_BSP_MAX_QUEUE_SIZE", "many" }, /* a warning, now muted */
                                { NULL, NULL } };
    run(table, NULL);
    assert_int_equal(otel_log_get_level(), OTEL_LOG_ERROR);
    assert_int_equal(log_capture_warnings(), 0);

    /* Unset: the level the program chose stays. */
    otel_log_set_level(OTEL_LOG_DEBUG);
    const struct kv unset[] = { { "OTEL_TRACES_EXPORTER", "none" }, { NULL, NULL } };
    run(unset, NULL);
    assert_int_equal(otel_log_get_level(), OTEL_LOG_DEBUG);
}

/* Configures with |table|, installing the provider and propagators globally, then frees the
 * provider (the propagator stays installed). */
static void configure_global(const struct kv *table)
{
    otel_env env = { table_getenv, (void *)table };
    otel_configure_options o = { .env = &env };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_configure_from_env(&o, &tp), OTEL_OK);
    otel_tracer_provider_destroy(tp);
}

/* Collects what a propagator injects. */
struct injected {
    char names[256];
};
static void collect_name(void *user_data, otel_str name, otel_str value)
{
    (void)value;
    struct injected *in = user_data;
    size_t used = strlen(in->names);
    if (used + name.len + 2 < sizeof(in->names)) {
        memcpy(in->names + used, name.data, name.len);
        in->names[used + name.len] = ' ';
        in->names[used + name.len + 1] = '\0';
    }
}

static void test_configure_installs_the_propagators_named_in_the_environment(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "none" },
                                { "OTEL_PROPAGATORS", "b3multi,smoke-signals" },
                                { NULL, NULL } };
    configure_global(table);
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged, "smoke-signals"));

    otel_span_context sc = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED };
    memset(sc.trace_id, 0x11, sizeof(sc.trace_id));
    memset(sc.span_id, 0x22, sizeof(sc.span_id));
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &sc, NULL, &ctx), OTEL_OK);
    struct injected in = { { 0 } };
    otel_carrier_writer w = { collect_name, &in };
    otel_global_inject(ctx, &w);
    assert_non_null(strcasestr(in.names, "x-b3-traceid"));
    assert_null(strstr(in.names, "traceparent"));
    otel_context_release(ctx);

    /* The default is tracecontext,baggage. */
    const struct kv defaults[] = { { "OTEL_TRACES_EXPORTER", "none" }, { NULL, NULL } };
    configure_global(defaults);
    assert_int_equal(otel_context_with_span_context(NULL, &sc, NULL, &ctx), OTEL_OK);
    memset(&in, 0, sizeof(in));
    otel_global_inject(ctx, &w);
    assert_non_null(strstr(in.names, "traceparent"));
    otel_context_release(ctx);
    otel_global_propagator_shutdown();
}

static void test_configure_installs_the_global_provider_unless_asked_not_to(void **state)
{
    (void)state;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "none" }, { NULL, NULL } };
    otel_env env = { table_getenv, (void *)table };
    otel_configure_options o = { .env = &env };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_configure_from_env(&o, &tp), OTEL_OK);
    assert_ptr_equal(otel_global_tracer_provider(), tp);
    otel_tracer_provider_destroy(tp); /* also uninstalls it */
    assert_ptr_not_equal(otel_global_tracer_provider(), tp);

    o.no_global = true;
    assert_int_equal(otel_configure_from_env(&o, &tp), OTEL_OK);
    assert_ptr_not_equal(otel_global_tracer_provider(), tp);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(otel_configure_from_env(&o, NULL), OTEL_ERR_INVALID_ARG);
}

/* ---- allocation failures --------------------------------------------------------------------- */

static int scenario_configure(void *arg)
{
    (void)arg;
    const struct kv table[] = { { "OTEL_TRACES_EXPORTER", "console,none,otlp" },
                                { "OTEL_C_CONSOLE_PATH", "/dev/null" },
                                { "OTEL_RESOURCE_ATTRIBUTES", "a=1" },
                                { "OTEL_TRACES_SAMPLER", "parentbased_traceidratio" },
                                { "OTEL_TRACES_SAMPLER_ARG", "0.5" },
                                { NULL, NULL } };
    otel_env env = { table_getenv, (void *)table };
    otel_configure_options o = { .env = &env, .no_global = true };
    otel_tracer_provider *tp = NULL;
    otel_status st = otel_configure_from_env(&o, &tp);
    if (st == OTEL_OK) {
        otel_tracer_provider_shutdown(tp, 0);
        otel_tracer_provider_destroy(tp);
    }
    return (int)st;
}

static void test_configure_survives_allocation_failures(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_NONE);
    failalloc_result r = failalloc_run(scenario_configure, NULL);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations > 5);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_configure_console_exporter_writes_to_the_configured_file),
        T(test_configure_console_json_format),
        T(test_configure_none_builds_no_exporter_quietly),
        T(test_configure_unknown_exporter_warns_and_is_skipped),
        T(test_configure_default_exporter_is_otlp_behind_a_batch_processor),
        T(test_configure_datadog_exporter_is_built_from_dd_variables),
        T(test_configure_none_with_others_is_ignored_with_a_warning),
        T(test_configure_logging_is_a_deprecated_console),
        T(test_configure_unopenable_console_path_skips_the_exporter),
        T(test_configure_unavailable_sampler_falls_back_to_default),
        T(test_configure_always_off_sampler_exports_nothing),
        T(test_configure_disabled_sdk_records_nothing),
        T(test_configure_override_wins_over_the_environment),
        T(test_configure_applies_log_level),
        T(test_configure_installs_the_propagators_named_in_the_environment),
        T(test_configure_installs_the_global_provider_unless_asked_not_to),
        T(test_configure_survives_allocation_failures),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
