/* Tests for the OTEL_* environment readers and otel_sdk_config (sdk/src/config.c). The
 * environment is a table passed through otel_env, so no test calls setenv. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "log_capture.h"
#include "log_internal.h"
#include "otel/sdk/config.h"

/* ---- a table environment --------------------------------------------------------------------- */

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

#define ENV(...) (&(otel_env){ table_getenv, (void *)(const struct kv[]){ __VA_ARGS__, { NULL, NULL } } })
#define NO_ENV ENV({ "UNRELATED", "x" })

/* Exactly one warning since the last reset, naming every one of |parts|. */
static void expect_one_warning(const char *p1, const char *p2, const char *p3)
{
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged_last_warning, p1));
    if (p2)
        assert_non_null(strstr(logged_last_warning, p2));
    if (p3)
        assert_non_null(strstr(logged_last_warning, p3));
    log_capture_reset();
}

static void from_env(otel_sdk_config *cfg, const otel_env *env)
{
    otel_sdk_config_init(cfg);
    assert_int_equal(otel_sdk_config_from_env(cfg, env), OTEL_OK);
}

/* ---- the readers ----------------------------------------------------------------------------- */

static void test_env_str_trims_and_treats_empty_as_unset(void **state)
{
    (void)state;
    otel_str v = { 0 };
    const otel_env *env = ENV({ "A", "  x y \t" }, { "EMPTY", "" }, { "BLANK", "  " });
    assert_true(otel_env_get_str(env, "A", &v));
    assert_true(otel_str_eq(v, OTEL_STR("x y")));
    assert_false(otel_env_get_str(env, "EMPTY", &v));
    assert_false(otel_env_get_str(env, "BLANK", &v));
    assert_false(otel_env_get_str(env, "MISSING", &v));
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_env_reads_the_process_environment_when_env_is_null(void **state)
{
    (void)state;
    /* The one place a test needs the real environment. */
    setenv("OTELC_TEST_CONFIG_VAR", "42", 1);
    int64_t n = 0;
    assert_true(otel_env_get_int(NULL, "OTELC_TEST_CONFIG_VAR", 0, 100, &n));
    assert_int_equal(n, 42);
    otel_env empty = { NULL, NULL };
    assert_true(otel_env_get_int(&empty, "OTELC_TEST_CONFIG_VAR", 0, 100, &n));
    unsetenv("OTELC_TEST_CONFIG_VAR");
}

static void test_env_bool_is_true_only_for_true(void **state)
{
    (void)state;
    const otel_env *env =
        ENV({ "T", "TRUE" }, { "T2", " true " }, { "F", "False" }, { "BAD", "yes" }, { "ONE", "1" });
    bool b = false;
    assert_true(otel_env_get_bool(env, "T", &b));
    assert_true(b);
    assert_true(otel_env_get_bool(env, "T2", &b));
    assert_true(b);
    assert_true(otel_env_get_bool(env, "F", &b));
    assert_false(b);
    assert_int_equal(log_capture_warnings(), 0);

    b = true;
    assert_true(otel_env_get_bool(env, "BAD", &b));
    assert_false(b);
    expect_one_warning("BAD", "\"yes\"", "false");
    b = true;
    assert_true(otel_env_get_bool(env, "ONE", &b));
    assert_false(b);
    expect_one_warning("ONE", "\"1\"", "false");

    b = true;
    assert_false(otel_env_get_bool(env, "MISSING", &b));
    assert_true(b); /* untouched */
}

static void test_env_int_accepts_only_decimal_in_range(void **state)
{
    (void)state;
    const otel_env *env = ENV({ "OK", "2147483647" }, { "PLUS", "+5" }, { "ZERO", "0" }, { "NEG", "-1" },
                              { "BIG", "2147483648" }, { "HUGE", "99999999999999999999999" },
                              { "JUNK", "12abc" }, { "HEX", "0x10" }, { "FLOAT", "1.5" }, { "SIGN", "-" });
    int64_t n = 7;
    assert_true(otel_env_get_int(env, "OK", 0, INT32_MAX, &n));
    assert_int_equal(n, INT32_MAX);
    assert_true(otel_env_get_int(env, "PLUS", 0, INT32_MAX, &n));
    assert_int_equal(n, 5);
    assert_true(otel_env_get_int(env, "ZERO", 0, INT32_MAX, &n));
    assert_int_equal(n, 0);
    assert_int_equal(log_capture_warnings(), 0);

    const char *bad[] = { "NEG", "BIG", "HUGE", "JUNK", "HEX", "FLOAT", "SIGN" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 77;
        assert_false(otel_env_get_int(env, bad[i], 0, INT32_MAX, &n));
        assert_int_equal(n, 77);
        expect_one_warning(bad[i], "using 77", "2147483647");
    }
}

static void test_env_duration_is_milliseconds_stored_as_nanoseconds(void **state)
{
    (void)state;
    const otel_env *env = ENV({ "D", "250" }, { "BAD", "1s" });
    int64_t ns = 0;
    assert_true(otel_env_get_duration_ms(env, "D", &ns));
    assert_int_equal(ns, INT64_C(250000000));
    ns = INT64_C(5000000000);
    assert_false(otel_env_get_duration_ms(env, "BAD", &ns));
    assert_int_equal(ns, INT64_C(5000000000));
    expect_one_warning("BAD", "\"1s\"", "5000 ms");
}

static void test_env_double_checks_range_and_ignores_locale(void **state)
{
    (void)state;
    const otel_env *env = ENV({ "HALF", "0.5" }, { "ONE", "1" }, { "BIG", "1.5" }, { "NAN", "nan" },
                              { "INF", "inf" }, { "JUNK", "0.5x" }, { "COMMA", "0,5" });
    /* A program running in a locale with a decimal comma still reads "0.5" (proves something
     * only where de_DE.UTF-8 is installed). */
    const char *had = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    double d = 0;
    assert_true(otel_env_get_double(env, "HALF", 0, 1, &d));
    assert_true(d == 0.5);
    assert_true(otel_env_get_double(env, "ONE", 0, 1, &d));
    assert_true(d == 1.0);
    if (had)
        setlocale(LC_NUMERIC, "C");
    assert_int_equal(log_capture_warnings(), 0);
    const char *bad[] = { "BIG", "NAN", "INF", "JUNK", "COMMA" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = 0.25;
        assert_false(otel_env_get_double(env, bad[i], 0, 1, &d));
        assert_true(d == 0.25);
        expect_one_warning(bad[i], "using 0.25", NULL);
    }
}

static void test_env_enum_is_case_insensitive_and_lists_choices(void **state)
{
    (void)state;
    static const char *const names[] = { "alpha", "beta", "gamma" };
    const otel_env *env = ENV({ "E", " BeTa " }, { "BAD", "delta" });
    size_t i = 0;
    assert_true(otel_env_get_enum(env, "E", names, 3, &i));
    assert_int_equal(i, 1);
    i = 2;
    assert_false(otel_env_get_enum(env, "BAD", names, 3, &i));
    assert_int_equal(i, 2);
    expect_one_warning("BAD", "alpha, beta, gamma", "using gamma");
}

static void test_env_diagnostic_escapes_and_bounds_the_value(void **state)
{
    (void)state;
    char longv[300];
    memset(longv, 'z', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    const otel_env *env = ENV({ "ESC", "\x1b[31mred\"" }, { "LONG", longv });
    bool b;
    otel_env_get_bool(env, "ESC", &b);
    assert_null(strchr(logged_last_warning, '\x1b'));
    expect_one_warning("ESC", "\\x1b[31mred\\\"", NULL);
    otel_env_get_bool(env, "LONG", &b);
    assert_true(strlen(logged_last_warning) < 200);
    expect_one_warning("LONG", "zzz...", NULL);
}

/* ---- otel_sdk_config ------------------------------------------------------------------------- */

static void test_config_defaults(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, NO_ENV);
    assert_false(cfg.disabled);
    assert_int_equal(cfg.log_level, OTEL_LOG_INFO);
    assert_null(cfg.service_name);
    assert_null(cfg.resource_attributes);
    assert_int_equal(cfg.sampler, OTEL_SAMPLER_PARENTBASED_ALWAYS_ON);
    assert_null(cfg.sampler_name);
    assert_null(cfg.sampler_arg);
    assert_true(cfg.sampler_ratio == 1.0);
    otel_span_limits zero_limits = { 0 };
    assert_memory_equal(&cfg.limits, &zero_limits, sizeof(zero_limits));
    otel_batch_options zero_batch = { 0 };
    assert_memory_equal(&cfg.batch, &zero_batch, sizeof(zero_batch));
    assert_string_equal(cfg.traces_exporter, "otlp");
    assert_string_equal(cfg.propagators, "tracecontext,baggage");
    assert_int_equal(log_capture_warnings(), 0);
    otel_sdk_config_cleanup(&cfg);
    assert_null(cfg.traces_exporter);
    otel_sdk_config_cleanup(NULL);
    otel_sdk_config_init(NULL);
    assert_int_equal(otel_sdk_config_from_env(NULL, NO_ENV), OTEL_ERR_INVALID_ARG);
}

static void test_config_reads_every_variable(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg,
             ENV({ "OTEL_SDK_DISABLED", "true" }, { "OTEL_LOG_LEVEL", "DEBUG" },
                 { "OTEL_SERVICE_NAME", " checkout " }, { "OTEL_RESOURCE_ATTRIBUTES", "a=1,b=2" },
                 { "OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio" }, { "OTEL_TRACES_SAMPLER_ARG", "0.25" },
                 { "OTEL_ATTRIBUTE_COUNT_LIMIT", "10" }, { "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100" },
                 { "OTEL_SPAN_EVENT_COUNT_LIMIT", "11" }, { "OTEL_SPAN_LINK_COUNT_LIMIT", "12" },
                 { "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "13" }, { "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "14" },
                 { "OTEL_BSP_SCHEDULE_DELAY", "100" }, { "OTEL_BSP_EXPORT_TIMEOUT", "2000" },
                 { "OTEL_BSP_MAX_QUEUE_SIZE", "4096" }, { "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256" },
                 { "OTEL_TRACES_EXPORTER", "console" }, { "OTEL_PROPAGATORS", "b3multi" }));
    assert_true(cfg.disabled);
    assert_int_equal(cfg.log_level, OTEL_LOG_DEBUG);
    assert_string_equal(cfg.service_name, "checkout");
    assert_string_equal(cfg.resource_attributes, "a=1,b=2");
    assert_int_equal(cfg.sampler, OTEL_SAMPLER_PARENTBASED_TRACEIDRATIO);
    assert_string_equal(cfg.sampler_name, "parentbased_traceidratio");
    assert_string_equal(cfg.sampler_arg, "0.25");
    assert_true(cfg.sampler_ratio == 0.25);
    assert_int_equal(cfg.limits.attr_count, 10);
    assert_int_equal(cfg.limits.attr_value_length, 100);
    assert_int_equal(cfg.limits.event_count, 11);
    assert_int_equal(cfg.limits.link_count, 12);
    assert_int_equal(cfg.limits.event_attr_count, 13);
    assert_int_equal(cfg.limits.link_attr_count, 14);
    assert_int_equal(cfg.batch.schedule_delay_ns, INT64_C(100000000));
    assert_int_equal(cfg.batch.export_timeout_ns, INT64_C(2000000000));
    assert_int_equal(cfg.batch.max_queue_size, 4096);
    assert_int_equal(cfg.batch.max_export_batch_size, 256);
    assert_string_equal(cfg.traces_exporter, "console");
    assert_string_equal(cfg.propagators, "b3multi");
    assert_int_equal(log_capture_warnings(), 0);
    otel_sdk_config_cleanup(&cfg);
}

static void test_config_each_invalid_value_gives_one_diagnostic(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *value;
        const char *used;
    } cases[] = {
        { "OTEL_SDK_DISABLED", "yes", "false" },
        { "OTEL_LOG_LEVEL", "verbose", "info" },
        { "OTEL_TRACES_SAMPLER", "sometimes", "parentbased_always_on" },
        { "OTEL_ATTRIBUTE_COUNT_LIMIT", "-1", "128" },
        { "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many", "128" },
        { "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1k", "no limit" },
        { "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3000000000", "no limit" },
        { "OTEL_SPAN_EVENT_COUNT_LIMIT", "x", "128" },
        { "OTEL_SPAN_LINK_COUNT_LIMIT", "x", "128" },
        { "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "x", "128" },
        { "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "x", "128" },
        { "OTEL_BSP_SCHEDULE_DELAY", "5s", "5000 ms" },
        { "OTEL_BSP_EXPORT_TIMEOUT", "-5", "30000 ms" },
        { "OTEL_BSP_MAX_QUEUE_SIZE", "0", "2048" },
        { "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0", "512" },
        { "OTEL_TRACES_EXPORTER", ", ,", "otlp" },
        { "OTEL_PROPAGATORS", ",", "tracecontext,baggage" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kv table[] = { { cases[i].name, cases[i].value }, { NULL, NULL } };
        otel_env env = { table_getenv, table };
        otel_sdk_config cfg;
        otel_sdk_config_init(&cfg);
        assert_int_equal(otel_sdk_config_from_env(&cfg, &env), OTEL_OK);
        expect_one_warning(cases[i].name, cases[i].value, cases[i].used);
        otel_sdk_config_cleanup(&cfg);
        /* The field kept its default. */
        otel_sdk_config defaults;
        otel_sdk_config_init(&defaults);
        otel_sdk_config_init(&cfg);
        assert_int_equal(otel_sdk_config_from_env(&cfg, &env), OTEL_OK);
        log_capture_reset();
        assert_int_equal(cfg.disabled, defaults.disabled);
        assert_int_equal(cfg.log_level, defaults.log_level);
        assert_int_equal(cfg.sampler, defaults.sampler);
        assert_memory_equal(&cfg.limits, &defaults.limits, sizeof(cfg.limits));
        assert_memory_equal(&cfg.batch, &defaults.batch, sizeof(cfg.batch));
        otel_sdk_config_cleanup(&cfg);
    }
}

static void test_config_sampler_names(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        otel_sampler_kind kind;
        const char *name;
    } cases[] = {
        { "always_on", OTEL_SAMPLER_ALWAYS_ON, "always_on" },
        { "ALWAYS_OFF", OTEL_SAMPLER_ALWAYS_OFF, "always_off" },
        { "traceidratio", OTEL_SAMPLER_TRACEIDRATIO, "traceidratio" },
        { "parentbased_always_on", OTEL_SAMPLER_PARENTBASED_ALWAYS_ON, "parentbased_always_on" },
        { "parentbased_always_off", OTEL_SAMPLER_PARENTBASED_ALWAYS_OFF, "parentbased_always_off" },
        { "parentbased_traceidratio", OTEL_SAMPLER_PARENTBASED_TRACEIDRATIO, "parentbased_traceidratio" },
        { "Jaeger_Remote", OTEL_SAMPLER_OTHER, "jaeger_remote" },
        { "parentbased_jaeger_remote", OTEL_SAMPLER_OTHER, "parentbased_jaeger_remote" },
        { "xray", OTEL_SAMPLER_OTHER, "xray" },
        { "datadog", OTEL_SAMPLER_OTHER, "datadog" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kv table[] = { { "OTEL_TRACES_SAMPLER", cases[i].value }, { NULL, NULL } };
        otel_env env = { table_getenv, table };
        otel_sdk_config cfg;
        from_env(&cfg, &env);
        assert_int_equal(cfg.sampler, cases[i].kind);
        assert_string_equal(cfg.sampler_name, cases[i].name);
        otel_sdk_config_cleanup(&cfg);
    }
    assert_int_equal(log_capture_warnings(), 0);

    /* An unknown name keeps the default sampler but records what was asked for. */
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_TRACES_SAMPLER", "Sometimes" }));
    assert_int_equal(cfg.sampler, OTEL_SAMPLER_PARENTBASED_ALWAYS_ON);
    assert_string_equal(cfg.sampler_name, "sometimes");
    expect_one_warning("OTEL_TRACES_SAMPLER", "Sometimes", "always_on, always_off");
    otel_sdk_config_cleanup(&cfg);
}

static void test_config_sampler_arg(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_TRACES_SAMPLER", "traceidratio" }, { "OTEL_TRACES_SAMPLER_ARG", "1.5" }));
    assert_true(cfg.sampler_ratio == 1.0);
    assert_string_equal(cfg.sampler_arg, "1.5");
    expect_one_warning("OTEL_TRACES_SAMPLER_ARG", "\"1.5\"", "using 1");
    otel_sdk_config_cleanup(&cfg);

    from_env(&cfg, ENV({ "OTEL_TRACES_SAMPLER", "traceidratio" }, { "OTEL_TRACES_SAMPLER_ARG", "abc" }));
    assert_true(cfg.sampler_ratio == 1.0);
    expect_one_warning("OTEL_TRACES_SAMPLER_ARG", "\"abc\"", "using 1");
    otel_sdk_config_cleanup(&cfg);

    from_env(&cfg, ENV({ "OTEL_TRACES_SAMPLER", "traceidratio" }, { "OTEL_TRACES_SAMPLER_ARG", "0" }));
    assert_true(cfg.sampler_ratio == 0.0);
    otel_sdk_config_cleanup(&cfg);

    /* Other samplers keep the argument as text, unparsed. */
    from_env(&cfg, ENV({ "OTEL_TRACES_SAMPLER", "jaeger_remote" },
                       { "OTEL_TRACES_SAMPLER_ARG", "endpoint=http://localhost:14250" }));
    assert_string_equal(cfg.sampler_arg, "endpoint=http://localhost:14250");
    assert_true(cfg.sampler_ratio == 1.0);
    otel_sdk_config_cleanup(&cfg);
    from_env(&cfg, ENV({ "OTEL_TRACES_SAMPLER_ARG", "0.5" })); /* default sampler: ignored */
    assert_true(cfg.sampler_ratio == 1.0);
    otel_sdk_config_cleanup(&cfg);
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_config_span_specific_limits_win(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_ATTRIBUTE_COUNT_LIMIT", "10" }, { "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "20" },
                       { "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "30" },
                       { "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "40" }));
    assert_int_equal(cfg.limits.attr_count, 20);
    assert_int_equal(cfg.limits.attr_value_length, 40);
    otel_sdk_config_cleanup(&cfg);

    from_env(&cfg,
             ENV({ "OTEL_ATTRIBUTE_COUNT_LIMIT", "10" }, { "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "30" }));
    assert_int_equal(cfg.limits.attr_count, 10);
    assert_int_equal(cfg.limits.attr_value_length, 30);
    otel_sdk_config_cleanup(&cfg);

    /* An invalid span-specific value leaves the generic one in force, and says so. */
    from_env(&cfg,
             ENV({ "OTEL_ATTRIBUTE_COUNT_LIMIT", "10" }, { "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "lots" }));
    assert_int_equal(cfg.limits.attr_count, 10);
    expect_one_warning("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "lots", "using 10");
    otel_sdk_config_cleanup(&cfg);
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_config_zero_limit_is_an_explicit_zero(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "0" },
                       { "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "0" }, { "OTEL_SPAN_EVENT_COUNT_LIMIT", "0" }));
    assert_int_equal(cfg.limits.attr_count, OTEL_LIMIT_ZERO);
    assert_int_equal(cfg.limits.attr_value_length, OTEL_LIMIT_ZERO);
    assert_int_equal(cfg.limits.event_count, OTEL_LIMIT_ZERO);
    assert_int_equal(cfg.limits.link_count, OTEL_LIMIT_DEFAULT);
    otel_sdk_config_cleanup(&cfg);
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_config_batch_timeouts(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_BSP_EXPORT_TIMEOUT", "0" }, { "OTEL_BSP_SCHEDULE_DELAY", "0" }));
    assert_true(cfg.batch.export_timeout_ns < 0); /* no limit */
    assert_true(cfg.batch.schedule_delay_ns > 0); /* as soon as possible, not "default" */
    assert_true(cfg.batch.schedule_delay_ns < 1000);
    otel_sdk_config_cleanup(&cfg);
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_config_batch_size_is_clamped_to_queue_size(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_BSP_MAX_QUEUE_SIZE", "100" }, { "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200" }));
    assert_int_equal(cfg.batch.max_queue_size, 100);
    assert_int_equal(cfg.batch.max_export_batch_size, 100);
    expect_one_warning("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200", "using 100");
    otel_sdk_config_cleanup(&cfg);

    /* Against the default queue size (2048). */
    from_env(&cfg, ENV({ "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5000" }));
    assert_int_equal(cfg.batch.max_export_batch_size, 2048);
    expect_one_warning("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5000", "2048");
    otel_sdk_config_cleanup(&cfg);

    /* A small queue with the default batch size: the batch follows, without a warning. */
    from_env(&cfg, ENV({ "OTEL_BSP_MAX_QUEUE_SIZE", "64" }));
    assert_int_equal(cfg.batch.max_queue_size, 64);
    assert_int_equal(cfg.batch.max_export_batch_size, 64);
    otel_sdk_config_cleanup(&cfg);

    from_env(&cfg, ENV({ "OTEL_BSP_MAX_QUEUE_SIZE", "64" }, { "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64" }));
    assert_int_equal(cfg.batch.max_export_batch_size, 64);
    otel_sdk_config_cleanup(&cfg);
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_config_lists_are_lowercased_trimmed_and_deduplicated(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_TRACES_EXPORTER", " Console , OTLP,console,,none " },
                       { "OTEL_PROPAGATORS", "tracecontext,baggage,TraceContext, b3" }));
    assert_string_equal(cfg.traces_exporter, "console,otlp,none");
    assert_string_equal(cfg.propagators, "tracecontext,baggage,b3");
    otel_sdk_config_cleanup(&cfg);

    /* A prefix of an earlier item is not a duplicate. */
    from_env(&cfg, ENV({ "OTEL_PROPAGATORS", "b3multi,b3" }));
    assert_string_equal(cfg.propagators, "b3multi,b3");
    otel_sdk_config_cleanup(&cfg);
    assert_int_equal(log_capture_warnings(), 0);
}

static void test_config_reads_on_top_of_existing_values(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    otel_sdk_config_init(&cfg);
    cfg.service_name = strdup("from-code"); /* the header allows strdup'd strings */
    cfg.traces_exporter = strdup("none");
    cfg.limits.attr_count = 5;
    cfg.batch.max_queue_size = 10;
    assert_int_equal(otel_sdk_config_from_env(
                         &cfg, ENV({ "OTEL_PROPAGATORS", "b3" }, { "OTEL_SPAN_LINK_COUNT_LIMIT", "bad" })),
                     OTEL_OK);
    assert_string_equal(cfg.service_name, "from-code");
    assert_string_equal(cfg.traces_exporter, "none");
    assert_int_equal(cfg.limits.attr_count, 5);
    assert_int_equal(cfg.batch.max_queue_size, 10);
    assert_int_equal(cfg.batch.max_export_batch_size, 0); /* neither size came from env */
    expect_one_warning("OTEL_SPAN_LINK_COUNT_LIMIT", "bad", NULL);

    /* A value from the environment replaces (and frees) the earlier string. */
    assert_int_equal(otel_sdk_config_from_env(&cfg, ENV({ "OTEL_SERVICE_NAME", "env" })), OTEL_OK);
    assert_string_equal(cfg.service_name, "env");
    otel_sdk_config_cleanup(&cfg);
}

static void test_config_warns_that_config_files_are_not_read(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_CONFIG_FILE", "/etc/otel.yaml" }));
    expect_one_warning("OTEL_CONFIG_FILE", NULL, NULL);
    otel_sdk_config_cleanup(&cfg);
}

/* ---- make_sampler / make_resource ------------------------------------------------------------ */

static otel_sampling_decision decide(otel_sampler *s, uint8_t last_byte)
{
    uint8_t trace_id[OTEL_TRACE_ID_SIZE] = { 0 };
    trace_id[0] = 1;
    trace_id[15] = last_byte;
    otel_parent parent = { 0 };
    otel_sampling_params p = { .parent = &parent, .trace_id = trace_id, .name = OTEL_STR("x") };
    otel_sampling_result r = s->should_sample(s->user_data, &p);
    otel_trace_state_release(r.trace_state);
    return r.decision;
}

static void test_config_make_sampler_builds_each_kind(void **state)
{
    (void)state;
    static const struct {
        otel_sampler_kind kind;
        double ratio;
        otel_sampling_decision root;
    } cases[] = {
        { OTEL_SAMPLER_ALWAYS_ON, 1, OTEL_SAMPLING_RECORD_AND_SAMPLE },
        { OTEL_SAMPLER_ALWAYS_OFF, 1, OTEL_SAMPLING_DROP },
        { OTEL_SAMPLER_TRACEIDRATIO, 0, OTEL_SAMPLING_DROP },
        { OTEL_SAMPLER_TRACEIDRATIO, 1, OTEL_SAMPLING_RECORD_AND_SAMPLE },
        { OTEL_SAMPLER_PARENTBASED_ALWAYS_ON, 1, OTEL_SAMPLING_RECORD_AND_SAMPLE },
        { OTEL_SAMPLER_PARENTBASED_ALWAYS_OFF, 1, OTEL_SAMPLING_DROP },
        { OTEL_SAMPLER_PARENTBASED_TRACEIDRATIO, 0, OTEL_SAMPLING_DROP },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        otel_sdk_config cfg;
        otel_sdk_config_init(&cfg);
        cfg.sampler = cases[i].kind;
        cfg.sampler_ratio = cases[i].ratio;
        otel_sampler s = { 0 };
        assert_int_equal(otel_sdk_config_make_sampler(&cfg, &s), OTEL_OK);
        assert_non_null(s.should_sample);
        assert_int_equal(decide(&s, 0x42), cases[i].root);
        otel_sampler_destroy(&s);
    }

    otel_sdk_config cfg;
    otel_sdk_config_init(&cfg);
    otel_sampler s = { 0 };
    cfg.sampler = OTEL_SAMPLER_OTHER;
    assert_int_equal(otel_sdk_config_make_sampler(&cfg, &s), OTEL_ERR_NOT_FOUND);
    cfg.sampler = OTEL_SAMPLER_TRACEIDRATIO;
    cfg.sampler_ratio = NAN;
    assert_int_equal(otel_sdk_config_make_sampler(&cfg, &s), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_sdk_config_make_sampler(NULL, &s), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_sdk_config_make_sampler(&cfg, NULL), OTEL_ERR_INVALID_ARG);
}

static const char *res_str(const otel_resource *r, const char *key)
{
    otel_value v;
    if (!otel_resource_get(r, otel_str_from_cstr(key), &v) || v.type != OTEL_VALUE_STR)
        return NULL;
    return v.as.s.data;
}

static void test_config_make_resource_merges_env_over_default(void **state)
{
    (void)state;
    otel_sdk_config cfg;
    from_env(&cfg, ENV({ "OTEL_RESOURCE_ATTRIBUTES", "service.name=attrs,deployment.environment.name=prod,"
                                                     "telemetry.sdk.language=cobol" },
                       { "OTEL_SERVICE_NAME", "checkout" }));
    otel_resource *r = NULL;
    assert_int_equal(otel_sdk_config_make_resource(&cfg, &r), OTEL_OK);
    assert_string_equal(res_str(r, "service.name"), "checkout");
    assert_string_equal(res_str(r, "deployment.environment.name"), "prod");
    assert_string_equal(res_str(r, "telemetry.sdk.name"), "otelc");
    assert_string_equal(res_str(r, "telemetry.sdk.language"), "cobol"); /* the user's word wins */
    assert_true(otel_resource_get(r, OTEL_STR("process.pid"), NULL));
    otel_resource_release(r);
    otel_sdk_config_cleanup(&cfg);

    from_env(&cfg, NO_ENV);
    assert_int_equal(otel_sdk_config_make_resource(&cfg, &r), OTEL_OK);
    assert_string_equal(res_str(r, "service.name"), "unknown_service:test_config");
    otel_resource_release(r);
    otel_sdk_config_cleanup(&cfg);
    assert_int_equal(otel_sdk_config_make_resource(NULL, &r), OTEL_ERR_INVALID_ARG);
    assert_int_equal(log_capture_warnings(), 0);
}

/* ---- allocation failures --------------------------------------------------------------------- */

static int scenario_from_env(void *arg)
{
    (void)arg;
    otel_sdk_config cfg;
    otel_sdk_config_init(&cfg);
    otel_status st = otel_sdk_config_from_env(
        &cfg, ENV({ "OTEL_SERVICE_NAME", "svc" }, { "OTEL_RESOURCE_ATTRIBUTES", "a=1" },
                  { "OTEL_TRACES_SAMPLER", "traceidratio" }, { "OTEL_TRACES_SAMPLER_ARG", "0.5" },
                  { "OTEL_TRACES_EXPORTER", "console" }, { "OTEL_PROPAGATORS", "b3" }));
    otel_resource *r = NULL;
    if (st == OTEL_OK)
        st = otel_sdk_config_make_resource(&cfg, &r);
    otel_sampler s = { 0 };
    if (st == OTEL_OK)
        st = otel_sdk_config_make_sampler(&cfg, &s);
    otel_sampler_destroy(&s);
    otel_resource_release(r);
    otel_sdk_config_cleanup(&cfg);
    return (int)st;
}

static void test_config_survives_allocation_failures(void **state)
{
    (void)state;
    failalloc_result res = failalloc_run(scenario_from_env, NULL);
    assert_int_equal(res.clean_status, 0);
    assert_true(res.allocations > 0);
    assert_int_equal(res.leaked_run, 0);
    assert_int_equal(res.ok_with_failure, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, log_capture_setup, log_capture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_env_str_trims_and_treats_empty_as_unset),
        T(test_env_reads_the_process_environment_when_env_is_null),
        T(test_env_bool_is_true_only_for_true),
        T(test_env_int_accepts_only_decimal_in_range),
        T(test_env_duration_is_milliseconds_stored_as_nanoseconds),
        T(test_env_double_checks_range_and_ignores_locale),
        T(test_env_enum_is_case_insensitive_and_lists_choices),
        T(test_env_diagnostic_escapes_and_bounds_the_value),
        T(test_config_defaults),
        T(test_config_reads_every_variable),
        T(test_config_each_invalid_value_gives_one_diagnostic),
        T(test_config_sampler_names),
        T(test_config_sampler_arg),
        T(test_config_span_specific_limits_win),
        T(test_config_zero_limit_is_an_explicit_zero),
        T(test_config_batch_timeouts),
        T(test_config_batch_size_is_clamped_to_queue_size),
        T(test_config_lists_are_lowercased_trimmed_and_deduplicated),
        T(test_config_reads_on_top_of_existing_values),
        T(test_config_warns_that_config_files_are_not_read),
        T(test_config_make_sampler_builds_each_kind),
        T(test_config_make_resource_merges_env_over_default),
        T(test_config_survives_allocation_failures),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
