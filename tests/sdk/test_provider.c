/* The SDK tracer provider: option validation and ownership, tracers keyed by scope, shutdown
 * (idempotent, spans afterwards do not record), force_flush, counters, the disabled provider and
 * destroying a provider that is still global. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "log_capture.h"
#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "provider.h"
#include "sdk_testlib.h"

static otel_span_context make_sc(uint8_t seed, uint8_t flags)
{
    otel_span_context sc = { .trace_flags = flags, .is_remote = true };
    for (int i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        sc.trace_id[i] = (uint8_t)(seed + i);
    for (int i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        sc.span_id[i] = (uint8_t)(seed + 2 * i + 1);
    return sc;
}

static otel_tracer_provider_stats stats_of(otel_tracer_provider *tp)
{
    otel_tracer_provider_stats s;
    assert_int_equal(otel_tracer_provider_get_stats(tp, &s), OTEL_OK);
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * Creation
 * ------------------------------------------------------------------------------------------- */

static void test_provider_create_with_defaults_and_destroy(void **state)
{
    (void)state;
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(NULL, &tp), OTEL_OK);
    assert_non_null(tp);
    assert_true(otel_tracer_provider_is_sdk(tp));
    const otel_resource *r = otel_tracer_provider_resource(tp);
    assert_non_null(r);
    assert_true(otel_resource_get(r, OTEL_STR("service.name"), NULL));
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    assert_true(otel_tracer_enabled(t));
    otel_span s = otel_tracer_start_span(t, OTEL_STR("no processors"), NULL);
    assert_true(otel_span_is_recording(s));
    otel_span_end(s);
    otel_tracer_provider_destroy(tp);
    otel_tracer_provider_destroy(NULL);
}

static void test_provider_create_keeps_the_given_resource(void **state)
{
    (void)state;
    otel_attr a = OTEL_ATTR_STR_LIT("service.name", "checkout");
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(&a, 1, OTEL_STR(""), &r), OTEL_OK);
    otel_tracer_provider_options o = { .resource = r };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_resource_release(r); /* the provider holds its own reference */
    assert_ptr_equal(otel_tracer_provider_resource(tp), r);
    otel_value v;
    assert_true(otel_resource_get(otel_tracer_provider_resource(tp), OTEL_STR("service.name"), &v));
    assert_true(str_is(v.as.s, "checkout"));
    otel_tracer_provider_destroy(tp);
}

static void noop_destroy(void *ud)
{
    (*(int *)ud)++;
}

static otel_sampling_result keep_all(void *ud, const otel_sampling_params *p)
{
    (void)ud;
    (void)p;
    otel_sampling_result r = { .decision = OTEL_SAMPLING_RECORD_AND_SAMPLE };
    return r;
}

static void span_id_fn(void *ud, uint8_t out[OTEL_SPAN_ID_SIZE])
{
    (void)ud;
    memset(out, 1, OTEL_SPAN_ID_SIZE);
}

static void test_provider_create_rejects_invalid_options_and_owns_nothing(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c), &sp), OTEL_OK);
    int sampler_destroyed = 0;
    otel_tracer_provider *tp = (otel_tracer_provider *)0x1;

    assert_int_equal(otel_tracer_provider_create(NULL, NULL), OTEL_ERR_INVALID_ARG);

    otel_tracer_provider_options o = { .processors = NULL, .processor_count = 1 };
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_ERR_INVALID_ARG);

    otel_span_processor no_on_end = sp;
    no_on_end.on_end = NULL;
    otel_span_processor two[2] = { sp, no_on_end };
    o = (otel_tracer_provider_options){ .processors = two, .processor_count = 2 };
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_ERR_INVALID_ARG);

    /* A sampler with callbacks but no decision function. */
    o = (otel_tracer_provider_options){ .processors = &sp, .processor_count = 1 };
    o.sampler.destroy = noop_destroy;
    o.sampler.user_data = &sampler_destroyed;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_ERR_INVALID_ARG);

    /* An id generator with only one of its two functions. */
    o = (otel_tracer_provider_options){ .processors = &sp, .processor_count = 1 };
    o.id_generator.new_span_id = span_id_fn;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_ERR_INVALID_ARG);

    assert_ptr_equal(tp, (otel_tracer_provider *)0x1); /* untouched on failure */
    assert_int_equal(atomic_load(&c.destroy_calls), 0);
    assert_int_equal(sampler_destroyed, 0);
    sp.destroy(sp.user_data);
    assert_int_equal(atomic_load(&c.destroy_calls), 1);
    collector_cleanup(&c);
}

static void test_provider_destroy_destroys_what_it_owns(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    int sampler_destroyed = 0;
    otel_tracer_provider_options o = {
        .sampler = { .should_sample = keep_all, .destroy = noop_destroy, .user_data = &sampler_destroyed },
    };
    otel_tracer_provider *tp = testlib_provider(&c, &o);
    assert_non_null(tp);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(sampler_destroyed, 1);
    assert_int_equal(atomic_load(&c.shutdown_calls), 1); /* shut down first */
    assert_int_equal(atomic_load(&c.destroy_calls), 1);
    collector_cleanup(&c);
}

static void trace_id_fn(void *ud, uint8_t out[OTEL_TRACE_ID_SIZE])
{
    (void)ud;
    memset(out, 2, OTEL_TRACE_ID_SIZE);
}

static void test_provider_destroy_calls_the_id_generator_destroy(void **state)
{
    (void)state;
    int destroyed = 0;
    otel_tracer_provider_options o = {
        .id_generator = { .new_trace_id = trace_id_fn,
                          .new_span_id = span_id_fn,
                          .destroy = noop_destroy,
                          .user_data = &destroyed },
    };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(destroyed, 1);
}

static void test_provider_is_sdk_only_for_sdk_providers(void **state)
{
    (void)state;
    assert_false(otel_tracer_provider_is_sdk(NULL));
    otel_tracer_provider *noop = otel_global_tracer_provider();
    assert_false(otel_tracer_provider_is_sdk(noop));
    assert_null(otel_tracer_provider_resource(noop));
    otel_tracer_provider_stats st;
    assert_int_equal(otel_tracer_provider_get_stats(noop, &st), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_tracer_provider_force_flush(noop, 0), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_tracer_provider_shutdown(noop, 0), OTEL_ERR_INVALID_ARG);
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(NULL, &tp), OTEL_OK);
    assert_int_equal(otel_tracer_provider_get_stats(tp, NULL), OTEL_ERR_INVALID_ARG);
    otel_tracer_provider_destroy(tp);
}

/* ---------------------------------------------------------------------------------------------
 * Tracers
 * ------------------------------------------------------------------------------------------- */

static void test_get_tracer_same_arguments_give_the_same_tracer(void **state)
{
    (void)state;
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(NULL, &tp), OTEL_OK);
    otel_attr a1 = OTEL_ATTR_STR_LIT("k", "v");
    otel_attr a2 = OTEL_ATTR_STR_LIT("k", "w");
    otel_tracer_options v1 = { .version = OTEL_STR("1.0") };
    otel_tracer_options v2 = { .version = OTEL_STR("2.0") };
    otel_tracer_options s1 = { .version = OTEL_STR("1.0"), .schema_url = OTEL_STR("https://x/1") };
    otel_tracer_options at1 = { .attrs = &a1, .attr_count = 1 };
    otel_tracer_options at2 = { .attrs = &a2, .attr_count = 1 };

    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    assert_ptr_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL), t);
    otel_tracer_options empty = { 0 };
    assert_ptr_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &empty), t);
    assert_ptr_not_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("other"), NULL), t);
    otel_tracer *tv1 = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &v1);
    assert_ptr_not_equal(tv1, t);
    assert_ptr_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &v1), tv1);
    assert_ptr_not_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &v2), tv1);
    otel_tracer *ts1 = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &s1);
    assert_ptr_not_equal(ts1, tv1);
    assert_ptr_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &s1), ts1);
    otel_tracer *ta1 = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &at1);
    assert_ptr_not_equal(ta1, t);
    assert_ptr_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &at1), ta1);
    assert_ptr_not_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &at2), ta1);
    /* Many distinct tracers (the table grows). */
    for (int i = 0; i < 50; i++) {
        char name[16];
        int n = snprintf(name, sizeof(name), "lib%d", i);
        otel_tracer *x = otel_tracer_provider_get_tracer(tp, (otel_str){ name, (size_t)n }, NULL);
        assert_ptr_equal(otel_tracer_provider_get_tracer(tp, (otel_str){ name, (size_t)n }, NULL), x);
    }
    assert_ptr_equal(otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL), t);
    otel_tracer_provider_destroy(tp);
}

static void test_get_tracer_copies_its_arguments_into_the_scope(void **state)
{
    (void)state;
    retainer r;
    retainer_init(&r);
    otel_tracer_provider *tp = retainer_provider(&r, NULL);
    char name[] = "my.lib";
    char version[] = "1.2.3";
    char url[] = "https://opentelemetry.io/schemas/1.21.0";
    char val[] = "scope value";
    otel_attr attr = { OTEL_STR("scope.attr"), otel_value_str(otel_str_from_cstr(val)) };
    otel_tracer_options o = { .version = otel_str_from_cstr(version),
                              .schema_url = otel_str_from_cstr(url),
                              .attrs = &attr,
                              .attr_count = 1 };
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, otel_str_from_cstr(name), &o);
    memset(name, 'X', sizeof(name) - 1);
    memset(version, 'X', sizeof(version) - 1);
    memset(url, 'X', sizeof(url) - 1);
    memset(val, 'X', sizeof(val) - 1);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("s"), NULL));
    const otel_span_data *d = retainer_last(&r);
    assert_true(str_is(d->scope->name, "my.lib"));
    assert_true(str_is(d->scope->version, "1.2.3"));
    assert_true(str_is(d->scope->schema_url, "https://opentelemetry.io/schemas/1.21.0"));
    assert_int_equal(d->scope->attr_count, 1);
    assert_true(str_is(d->scope->attrs[0].value.as.s, "scope value"));
    retainer_release_all(&r);
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&r.lock);
}

static void test_get_tracer_with_empty_name_works_and_warns(void **state)
{
    (void)state;
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(NULL, &tp), OTEL_OK);
    log_capture_setup(NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR(""), NULL);
    log_capture_teardown(NULL);
    assert_non_null(t);
    assert_true(log_capture_count() >= 1);
    assert_non_null(strstr(logged_last, "empty"));
    otel_span s = otel_tracer_start_span(t, OTEL_STR("x"), NULL);
    assert_true(otel_span_is_recording(s));
    otel_span_end(s);
    assert_ptr_equal(otel_tracer_provider_get_tracer(tp, (otel_str){ NULL, 0 }, NULL), t);
    otel_tracer_provider_destroy(tp);
}

/* ---------------------------------------------------------------------------------------------
 * Shutdown and flush
 * ------------------------------------------------------------------------------------------- */

static void test_shutdown_is_idempotent(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_tracer_provider *tp = testlib_provider(&c, NULL);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&c.shutdown_calls), 1);
    assert_int_equal(atomic_load(&c.last_shutdown_timeout), 0); /* no limit passed on */
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&c.shutdown_calls), 1);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(atomic_load(&c.shutdown_calls), 1);
    collector_cleanup(&c);
}

static void test_shutdown_passes_the_remaining_deadline_and_the_first_error(void **state)
{
    (void)state;
    collector c1, c2;
    collector_init(&c1);
    collector_init(&c2);
    c1.shutdown_result = OTEL_ERR_TIMEOUT;
    c2.shutdown_result = OTEL_ERR_EXPORT;
    otel_span_processor sp[2];
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c1), &sp[0]), OTEL_OK);
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c2), &sp[1]), OTEL_OK);
    otel_tracer_provider_options o = { .processors = sp, .processor_count = 2 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    int64_t timeout = INT64_C(2000000000);
    assert_int_equal(otel_tracer_provider_shutdown(tp, timeout), OTEL_ERR_TIMEOUT);
    int64_t t1 = atomic_load(&c1.last_shutdown_timeout), t2 = atomic_load(&c2.last_shutdown_timeout);
    assert_true(t1 > 0 && t1 <= timeout);
    assert_true(t2 > 0 && t2 <= t1); /* both processors shut down, sharing one deadline */
    assert_int_equal(atomic_load(&c2.shutdown_calls), 1);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c1);
    collector_cleanup(&c2);
}

static void test_spans_after_shutdown_do_not_record(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_tracer_provider *tp = testlib_provider(&c, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    assert_false(otel_tracer_enabled(t));
    otel_span s = otel_tracer_start_span(t, OTEL_STR("late root"), NULL);
    assert_false(otel_span_is_recording(s));
    otel_span_context sc = otel_span_get_context(s);
    assert_false(otel_span_context_is_valid(&sc));
    otel_span_end(s);
    /* A child of a valid parent carries the parent's context. */
    otel_span_context parent = make_sc(3, OTEL_TRACE_FLAG_SAMPLED);
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &parent, NULL, &ctx), OTEL_OK);
    otel_span_start_options so = { .parent = ctx };
    s = otel_tracer_start_span(t, OTEL_STR("late child"), &so);
    assert_false(otel_span_is_recording(s));
    sc = otel_span_get_context(s);
    assert_memory_equal(sc.trace_id, parent.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_equal(sc.span_id, parent.span_id, OTEL_SPAN_ID_SIZE);
    otel_span_end(s);
    otel_context_release(ctx);
    otel_tracer_provider_stats st = stats_of(tp);
    assert_int_equal(st.spans_started, 2);
    assert_int_equal(st.spans_recorded, 0);
    assert_int_equal(atomic_load(&c.export_calls), 0);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static void test_span_open_at_shutdown_is_dropped_and_counted(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_tracer_provider *tp = testlib_provider(&c, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span s = otel_tracer_start_span(t, OTEL_STR("open"), NULL);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    assert_true(otel_span_is_recording(s));
    otel_span_end(s);
    otel_tracer_provider_stats st = stats_of(tp);
    assert_int_equal(st.spans_ended, 1);
    assert_int_equal(st.spans_dropped, 1);
    assert_int_equal(st.spans_exported, 0);
    assert_int_equal(atomic_load(&c.export_calls), 0);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static void test_force_flush_reaches_every_processor(void **state)
{
    (void)state;
    collector c1, c2;
    collector_init(&c1);
    collector_init(&c2);
    c2.flush_result = OTEL_ERR_TIMEOUT;
    otel_span_processor sp[2];
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c1), &sp[0]), OTEL_OK);
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c2), &sp[1]), OTEL_OK);
    otel_tracer_provider_options o = { .processors = sp, .processor_count = 2 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_ERR_TIMEOUT);
    assert_int_equal(atomic_load(&c1.flush_calls), 1);
    assert_int_equal(atomic_load(&c2.flush_calls), 1);
    assert_int_equal(atomic_load(&c1.last_flush_timeout), 0);
    c2.flush_result = OTEL_OK;
    assert_int_equal(otel_tracer_provider_force_flush(tp, INT64_C(1000000000)), OTEL_OK);
    int64_t t1 = atomic_load(&c1.last_flush_timeout);
    assert_true(t1 > 0 && t1 <= INT64_C(1000000000));
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_ERR_SHUT_DOWN);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c1);
    collector_cleanup(&c2);
}

/* ---------------------------------------------------------------------------------------------
 * Stats, disabled, global
 * ------------------------------------------------------------------------------------------- */

static otel_sampling_result by_name(void *ud, const otel_sampling_params *p)
{
    (void)ud;
    otel_sampling_result r = { .decision = OTEL_SAMPLING_RECORD_AND_SAMPLE };
    if (str_is(p->name, "drop"))
        r.decision = OTEL_SAMPLING_DROP;
    else if (str_is(p->name, "record"))
        r.decision = OTEL_SAMPLING_RECORD_ONLY;
    return r;
}

static void test_stats_sum_provider_and_processor_counters(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    c.result = OTEL_EXPORT_FAILURE;
    otel_tracer_provider_options o = { .sampler = { .should_sample = by_name } };
    otel_tracer_provider *tp = testlib_provider(&c, &o);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("sample"), NULL));
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("sample"), NULL));
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("record"), NULL));
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("drop"), NULL));
    otel_tracer_provider_stats st = stats_of(tp);
    assert_int_equal(st.spans_started, 4);
    assert_int_equal(st.spans_sampled, 2);
    assert_int_equal(st.spans_recorded, 3);
    assert_int_equal(st.spans_ended, 3);
    assert_int_equal(st.spans_failed, 2);
    assert_int_equal(st.spans_exported, 0);
    c.result = OTEL_EXPORT_SUCCESS;
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("sample"), NULL));
    st = stats_of(tp);
    assert_int_equal(st.spans_exported, 1);
    assert_int_equal(st.spans_dropped, 0);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static void test_disabled_provider_records_nothing_but_carries_the_parent(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_tracer_provider_options o = { .disabled = true };
    otel_tracer_provider *tp = testlib_provider(&c, &o);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    assert_false(otel_tracer_enabled(t));
    otel_span s = otel_tracer_start_span(t, OTEL_STR("root"), NULL);
    assert_false(otel_span_is_recording(s));
    assert_null(s.impl); /* no parent: nothing to carry */
    otel_span_end(s);
    otel_span_context parent = make_sc(5, OTEL_TRACE_FLAG_SAMPLED);
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &parent, NULL, &ctx), OTEL_OK);
    otel_span_start_options so = { .parent = ctx };
    s = otel_tracer_start_span(t, OTEL_STR("child"), &so);
    assert_false(otel_span_is_recording(s));
    otel_span_context sc = otel_span_get_context(s);
    assert_memory_equal(sc.trace_id, parent.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_equal(sc.span_id, parent.span_id, OTEL_SPAN_ID_SIZE);
    otel_span_end(s);
    otel_context_release(ctx);
    otel_tracer_provider_stats st = stats_of(tp);
    assert_int_equal(st.spans_recorded, 0);
    assert_int_equal(st.spans_sampled, 0);
    assert_int_equal(st.spans_ended, 0);
    assert_int_equal(atomic_load(&c.export_calls), 0);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static void test_destroy_while_global_restores_the_noop_provider(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_tracer_provider *tp = testlib_provider(&c, NULL);
    otel_global_set_tracer_provider(tp);
    assert_ptr_equal(otel_global_tracer_provider(), tp);
    otel_tracer *proxy = otel_global_get_tracer(OTEL_STR("proxy.lib"), NULL);
    otel_span s = otel_tracer_start_span(proxy, OTEL_STR("through proxy"), NULL);
    assert_true(otel_span_is_recording(s));
    otel_span_end(s);
    assert_int_equal(atomic_load(&c.export_calls), 1);
    otel_tracer_provider_destroy(tp);
    assert_ptr_not_equal(otel_global_tracer_provider(), tp);
    assert_false(otel_tracer_provider_is_sdk(otel_global_tracer_provider()));
    s = otel_tracer_start_span(proxy, OTEL_STR("after destroy"), NULL);
    assert_false(otel_span_is_recording(s));
    otel_span_end(s);
    collector_cleanup(&c);
}

static void test_destroy_of_a_provider_that_is_not_global_leaves_the_global_alone(void **state)
{
    (void)state;
    otel_tracer_provider *a = NULL, *b = NULL;
    assert_int_equal(otel_tracer_provider_create(NULL, &a), OTEL_OK);
    assert_int_equal(otel_tracer_provider_create(NULL, &b), OTEL_OK);
    otel_global_set_tracer_provider(a);
    otel_tracer_provider_destroy(b);
    assert_ptr_equal(otel_global_tracer_provider(), a);
    otel_tracer_provider_destroy(a);
    assert_ptr_not_equal(otel_global_tracer_provider(), a);
}

static void test_many_spans_reuse_records(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    c.clone = false;
    otel_tracer_provider *tp = testlib_provider(&c, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    for (int i = 0; i < 10000; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("loop"), NULL);
        otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("a copied value"));
        otel_span_end(s);
    }
    /* One slab serves a steady stream of spans on one thread. */
    assert_true(otel__pool_record_count(&((struct otel__provider *)tp)->pool) <= OTEL__POOL_SLAB_RECORDS);
    assert_int_equal(atomic_load(&c.exported_spans), 10000);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_create_with_defaults_and_destroy),
        cmocka_unit_test(test_provider_create_keeps_the_given_resource),
        cmocka_unit_test(test_provider_create_rejects_invalid_options_and_owns_nothing),
        cmocka_unit_test(test_provider_destroy_destroys_what_it_owns),
        cmocka_unit_test(test_provider_destroy_calls_the_id_generator_destroy),
        cmocka_unit_test(test_provider_is_sdk_only_for_sdk_providers),
        cmocka_unit_test(test_get_tracer_same_arguments_give_the_same_tracer),
        cmocka_unit_test(test_get_tracer_copies_its_arguments_into_the_scope),
        cmocka_unit_test(test_get_tracer_with_empty_name_works_and_warns),
        cmocka_unit_test(test_shutdown_is_idempotent),
        cmocka_unit_test(test_shutdown_passes_the_remaining_deadline_and_the_first_error),
        cmocka_unit_test(test_spans_after_shutdown_do_not_record),
        cmocka_unit_test(test_span_open_at_shutdown_is_dropped_and_counted),
        cmocka_unit_test(test_force_flush_reaches_every_processor),
        cmocka_unit_test(test_stats_sum_provider_and_processor_counters),
        cmocka_unit_test(test_disabled_provider_records_nothing_but_carries_the_parent),
        cmocka_unit_test(test_destroy_while_global_restores_the_noop_provider),
        cmocka_unit_test(test_destroy_of_a_provider_that_is_not_global_leaves_the_global_alone),
        cmocka_unit_test(test_many_spans_reuse_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
