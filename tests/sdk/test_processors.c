/* The simple and composite span processors, and how the provider drives its processors: which
 * spans get exported, failure and drop counters, shutdown and flush, call order, and on_start
 * changing the span. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "sdk_testlib.h"

static otel_sampling_result by_name(void *ud, const otel_sampling_params *p)
{
    (void)ud;
    otel_sampling_result r = { .decision = OTEL_SAMPLING_RECORD_AND_SAMPLE };
    if (str_is(p->name, "record"))
        r.decision = OTEL_SAMPLING_RECORD_ONLY;
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Simple
 * ------------------------------------------------------------------------------------------- */

static void test_simple_exports_each_sampled_span_before_end_returns(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_tracer_provider_options o = { .sampler = { .should_sample = by_name } };
    otel_tracer_provider *tp = testlib_provider(&c, &o);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span s = otel_tracer_start_span(t, OTEL_STR("sampled"), NULL);
    otel_span_set_attr_int(s, OTEL_STR("n"), 7);
    otel_span_end(s);
    assert_int_equal(atomic_load(&c.export_calls), 1);
    const otel_span_data *d = collector_find(&c, "sampled");
    assert_non_null(d);
    assert_int_equal(find_attr(d->attrs, d->attr_count, "n")->value.as.i, 7);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("record"), NULL));
    assert_int_equal(atomic_load(&c.export_calls), 1); /* not sampled: not exported */
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_exported, 1);
    assert_int_equal(st.spans_dropped, 0);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static void test_simple_counts_export_failures(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c), &sp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = &sp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    c.result = OTEL_EXPORT_FAILURE;
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("a"), NULL));
    c.result = OTEL_EXPORT_RETRYABLE;
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("b"), NULL));
    c.result = OTEL_EXPORT_SUCCESS;
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("c"), NULL));
    otel_processor_stats ps = { 0 };
    sp.get_stats(sp.user_data, &ps);
    assert_int_equal(ps.spans_received, 3);
    assert_int_equal(ps.spans_failed, 2);
    assert_int_equal(ps.spans_exported, 1);
    assert_int_equal(ps.spans_dropped, 0);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_failed, 2);
    assert_int_equal(st.spans_exported, 1);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static void test_simple_after_shutdown_drops_and_counts(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c), &sp), OTEL_OK);
    assert_int_equal(sp.shutdown(sp.user_data, 0), OTEL_OK);
    assert_int_equal(sp.shutdown(sp.user_data, 0), OTEL_OK);
    assert_int_equal(atomic_load(&c.shutdown_calls), 1);
    assert_int_equal(sp.force_flush(sp.user_data, 0), OTEL_ERR_SHUT_DOWN);
    /* A span ending after the processor shut down (the provider is still live). */
    otel_tracer_provider_options o = { .processors = &sp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("late"), NULL));
    assert_int_equal(atomic_load(&c.export_calls), 0);
    otel_processor_stats ps = { 0 };
    sp.get_stats(sp.user_data, &ps);
    assert_int_equal(ps.spans_dropped, 1);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_dropped, 1);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(atomic_load(&c.shutdown_calls), 1);
    assert_int_equal(atomic_load(&c.destroy_calls), 1);
    collector_cleanup(&c);
}

static void test_simple_force_flush_reaches_the_exporter(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    c.flush_result = OTEL_ERR_EXPORT;
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c), &sp), OTEL_OK);
    assert_int_equal(sp.force_flush(sp.user_data, 123), OTEL_ERR_EXPORT);
    assert_int_equal(atomic_load(&c.flush_calls), 1);
    assert_int_equal(atomic_load(&c.last_flush_timeout), 123);
    sp.destroy(sp.user_data);
    assert_int_equal(atomic_load(&c.destroy_calls), 1);
    collector_cleanup(&c);
}

static otel_export_result export_only(void *ud, const otel_span_data *const *spans, size_t n,
                                      int64_t timeout_ns)
{
    (void)spans;
    (void)timeout_ns;
    *(int *)ud += (int)n;
    return OTEL_EXPORT_SUCCESS;
}

static void test_simple_accepts_an_exporter_with_only_export(void **state)
{
    (void)state;
    int exported = 0;
    otel_span_exporter e = { .export_spans = export_only, .user_data = &exported };
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(e, &sp), OTEL_OK);
    assert_int_equal(sp.force_flush(sp.user_data, 0), OTEL_OK);
    assert_int_equal(sp.shutdown(sp.user_data, 0), OTEL_OK);
    sp.destroy(sp.user_data);
}

static void test_simple_create_rejects_bad_arguments(void **state)
{
    (void)state;
    otel_span_exporter none = { 0 };
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(none, &sp), OTEL_ERR_INVALID_ARG);
    int n = 0;
    otel_span_exporter e = { .export_spans = export_only, .user_data = &n };
    assert_int_equal(otel_simple_processor_create(e, NULL), OTEL_ERR_INVALID_ARG);
}

/* The exporter contract: export is never called concurrently with itself. */
static _Atomic int in_export;
static _Atomic int overlaps;

static otel_export_result exclusive_export(void *ud, const otel_span_data *const *spans, size_t n,
                                           int64_t timeout_ns)
{
    (void)ud;
    (void)spans;
    (void)timeout_ns;
    (void)n;
    if (atomic_fetch_add(&in_export, 1) != 0)
        atomic_fetch_add(&overlaps, 1);
    for (volatile int i = 0; i < 200; i++) {
    }
    atomic_fetch_sub(&in_export, 1);
    return OTEL_EXPORT_SUCCESS;
}

static void *end_spans(void *arg)
{
    otel_tracer *t = arg;
    for (int i = 0; i < 2000; i++)
        otel_span_end(otel_tracer_start_span(t, OTEL_STR("x"), NULL));
    return NULL;
}

static void test_simple_serialises_exports(void **state)
{
    (void)state;
    otel_span_exporter e = { .export_spans = exclusive_export };
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(e, &sp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = &sp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, end_spans, t), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&overlaps), 0);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_exported, 8000);
    otel_tracer_provider_destroy(tp);
}

/* ---------------------------------------------------------------------------------------------
 * Order, on_start, composite
 * ------------------------------------------------------------------------------------------- */

struct order_log {
    char events[64][16];
    int n;
};

struct tagged_proc {
    const char *tag;
    struct order_log *log;
    otel_status flush_result;
    otel_status shutdown_result;
    int64_t last_timeout;
    int destroyed;
    otel_processor_stats stats;
};

static void log_event(struct order_log *log, const char *what, const char *tag)
{
    if (log->n < 64)
        snprintf(log->events[log->n++], 16, "%s:%s", what, tag);
}

static void tp_on_start(void *ud, otel_span span, const otel_span_data *data, const otel_parent *p)
{
    (void)span;
    (void)data;
    (void)p;
    struct tagged_proc *t = ud;
    log_event(t->log, "start", t->tag);
}

static void tp_on_end(void *ud, const otel_span_data *span)
{
    (void)span;
    struct tagged_proc *t = ud;
    log_event(t->log, "end", t->tag);
}

static otel_status tp_flush(void *ud, int64_t timeout_ns)
{
    struct tagged_proc *t = ud;
    t->last_timeout = timeout_ns;
    log_event(t->log, "flush", t->tag);
    return t->flush_result;
}

static otel_status tp_shutdown(void *ud, int64_t timeout_ns)
{
    struct tagged_proc *t = ud;
    t->last_timeout = timeout_ns;
    log_event(t->log, "shutdown", t->tag);
    return t->shutdown_result;
}

static void tp_stats(void *ud, otel_processor_stats *out)
{
    struct tagged_proc *t = ud;
    *out = t->stats;
}

static void tp_destroy(void *ud)
{
    struct tagged_proc *t = ud;
    t->destroyed++;
    log_event(t->log, "destroy", t->tag);
}

static otel_span_processor tagged(struct tagged_proc *t)
{
    otel_span_processor p = { .on_start = tp_on_start,
                              .on_end = tp_on_end,
                              .force_flush = tp_flush,
                              .shutdown = tp_shutdown,
                              .get_stats = tp_stats,
                              .destroy = tp_destroy,
                              .user_data = t };
    return p;
}

static void test_provider_calls_processors_in_order(void **state)
{
    (void)state;
    struct order_log log = { .n = 0 };
    struct tagged_proc a = { .tag = "a", .log = &log }, b = { .tag = "b", .log = &log };
    otel_span_processor sp[2] = { tagged(&a), tagged(&b) };
    otel_tracer_provider_options o = { .processors = sp, .processor_count = 2 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("x"), NULL));
    otel_tracer_provider_force_flush(tp, 0);
    otel_tracer_provider_destroy(tp);
    const char *expect[] = { "start:a", "start:b",    "end:a",      "end:b",     "flush:a",
                             "flush:b", "shutdown:a", "shutdown:b", "destroy:a", "destroy:b" };
    assert_int_equal(log.n, 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(log.events[i], expect[i]);
}

static void set_attr_on_start(void *ud, otel_span span, const otel_span_data *data, const otel_parent *parent)
{
    (void)parent;
    int *seen_name = ud;
    *seen_name = str_is(data->name, "decorated");
    otel_span_set_attr_str(span, OTEL_STR("added.by"), OTEL_STR("on_start"));
}

static void ignore_end(void *ud, const otel_span_data *span)
{
    (void)ud;
    (void)span;
}

static void test_on_start_can_set_attributes(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_span_processor export;
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c), &export), OTEL_OK);
    int seen_name = 0;
    otel_span_processor decorate = { .on_start = set_attr_on_start,
                                     .on_end = ignore_end,
                                     .user_data = &seen_name };
    otel_span_processor sp[2] = { decorate, export };
    otel_tracer_provider_options o = { .processors = sp, .processor_count = 2 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("decorated"), NULL));
    assert_true(seen_name);
    const otel_span_data *d = collector_find(&c, "decorated");
    assert_non_null(d);
    const otel_attr *a = find_attr(d->attrs, d->attr_count, "added.by");
    assert_non_null(a);
    assert_true(str_is(a->value.as.s, "on_start"));
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static void test_composite_fans_out_in_order_and_sums(void **state)
{
    (void)state;
    struct order_log log = { .n = 0 };
    struct tagged_proc a = { .tag = "a", .log = &log, .stats = { 1, 2, 3, 4 } };
    struct tagged_proc b = { .tag = "b",
                             .log = &log,
                             .stats = { 10, 20, 30, 40 },
                             .flush_result = OTEL_ERR_TIMEOUT,
                             .shutdown_result = OTEL_ERR_EXPORT };
    otel_span_processor children[2] = { tagged(&a), tagged(&b) };
    otel_span_processor comp;
    assert_int_equal(otel_composite_processor_create(children, 2, &comp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = &comp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("x"), NULL));
    otel_processor_stats ps;
    comp.get_stats(comp.user_data, &ps);
    assert_int_equal(ps.spans_received, 11);
    assert_int_equal(ps.spans_dropped, 22);
    assert_int_equal(ps.spans_exported, 33);
    assert_int_equal(ps.spans_failed, 44);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_exported, 33);
    assert_int_equal(otel_tracer_provider_force_flush(tp, INT64_C(1000000000)), OTEL_ERR_TIMEOUT);
    assert_true(a.last_timeout > 0 && a.last_timeout <= INT64_C(1000000000));
    assert_true(b.last_timeout > 0 && b.last_timeout <= a.last_timeout);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_ERR_EXPORT);
    assert_int_equal(a.last_timeout, 0);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(a.destroyed, 1);
    assert_int_equal(b.destroyed, 1);
    const char *expect[] = { "start:a", "start:b",    "end:a",      "end:b",     "flush:a",
                             "flush:b", "shutdown:a", "shutdown:b", "destroy:a", "destroy:b" };
    assert_int_equal(log.n, 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(log.events[i], expect[i]);
}

static void test_composite_create_rejects_bad_arguments(void **state)
{
    (void)state;
    struct order_log log = { .n = 0 };
    struct tagged_proc a = { .tag = "a", .log = &log };
    otel_span_processor bad = tagged(&a);
    bad.on_end = NULL;
    otel_span_processor out;
    assert_int_equal(otel_composite_processor_create(NULL, 1, &out), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_composite_processor_create(&bad, 1, &out), OTEL_ERR_INVALID_ARG);
    otel_span_processor good = tagged(&a);
    assert_int_equal(otel_composite_processor_create(&good, 1, NULL), OTEL_ERR_INVALID_ARG);
    assert_int_equal(a.destroyed, 0);
    /* An empty composite is allowed and does nothing. */
    assert_int_equal(otel_composite_processor_create(NULL, 0, &out), OTEL_OK);
    assert_int_equal(out.force_flush(out.user_data, 0), OTEL_OK);
    out.destroy(out.user_data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_exports_each_sampled_span_before_end_returns),
        cmocka_unit_test(test_simple_counts_export_failures),
        cmocka_unit_test(test_simple_after_shutdown_drops_and_counts),
        cmocka_unit_test(test_simple_force_flush_reaches_the_exporter),
        cmocka_unit_test(test_simple_accepts_an_exporter_with_only_export),
        cmocka_unit_test(test_simple_create_rejects_bad_arguments),
        cmocka_unit_test(test_simple_serialises_exports),
        cmocka_unit_test(test_provider_calls_processors_in_order),
        cmocka_unit_test(test_on_start_can_set_attributes),
        cmocka_unit_test(test_composite_fans_out_in_order_and_sums),
        cmocka_unit_test(test_composite_create_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
