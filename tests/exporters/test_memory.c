/* Tests for the in-memory exporter (exporters/memory): deep copies, bounds and drop counts, the
 * store's lifetime against its exporters and the provider, shutdown, concurrent exports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "failalloc.h"
#include "log_internal.h"
#include "otel/exporters/memory.h"

static int setup(void **state)
{
    (void)state;
    otel__log_set_rate_limit_ns(0);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_NONE); /* drops are expected here */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    return 0;
}

static otel_span_data span_named(const char *name, const otel_resource *res)
{
    otel_span_data s = { 0 };
    memset(s.context.trace_id, 0x11, OTEL_TRACE_ID_SIZE);
    memset(s.context.span_id, 0x22, OTEL_SPAN_ID_SIZE);
    s.context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    s.name = otel_str_from_cstr(name);
    s.start_time_ns = 1000;
    s.end_time_ns = 2000;
    s.resource = res;
    return s;
}

static otel_export_result export1(otel_span_exporter *e, const otel_span_data *s)
{
    const otel_span_data *spans[] = { s };
    return e->export_spans(e->user_data, spans, 1, 0);
}

static otel_memory_exporter *new_store(size_t max)
{
    otel_memory_exporter_options o = { .max_spans = max };
    otel_memory_exporter *m = NULL;
    assert_int_equal(otel_memory_exporter_create(max ? &o : NULL, &m), OTEL_OK);
    return m;
}

static void test_memory_exporter_keeps_deep_copies(void **state)
{
    (void)state;
    otel_memory_exporter *m = new_store(0);
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    assert_non_null(e.export_spans);

    otel_attr rattr = OTEL_ATTR_STR_LIT("service.name", "svc");
    otel_resource *res = NULL;
    assert_int_equal(otel_resource_create(&rattr, 1, (otel_str){ 0 }, &res), OTEL_OK);
    char name[] = "original";
    char value[] = "value";
    otel_attr attrs[] = { { OTEL_STR("k"), otel_value_str((otel_str){ value, 5 }) } };
    otel_span_data s = span_named("", res);
    s.name = (otel_str){ name, 8 };
    s.attrs = attrs;
    s.attr_count = 1;
    assert_int_equal(export1(&e, &s), OTEL_EXPORT_SUCCESS);

    memset(name, 'X', 8);
    memset(value, 'X', 5);
    otel_resource_release(res); /* the copy holds its own reference */

    assert_int_equal(otel_memory_exporter_count(m), 1);
    const otel_span_data *got = otel_memory_exporter_span(m, 0);
    assert_non_null(got);
    assert_ptr_not_equal(got, &s);
    assert_true(otel_str_eq(got->name, OTEL_STR("original")));
    assert_int_equal(got->attr_count, 1);
    assert_true(otel_str_eq(got->attrs[0].value.as.s, OTEL_STR("value")));
    otel_value svc;
    assert_true(otel_resource_get(got->resource, OTEL_STR("service.name"), &svc));
    assert_true(otel_str_eq(svc.as.s, OTEL_STR("svc")));
    assert_memory_equal(got->context.trace_id, s.context.trace_id, OTEL_TRACE_ID_SIZE);

    e.destroy(e.user_data);
    otel_memory_exporter_release(m);
}

static void test_memory_exporter_finds_spans_by_name_and_index(void **state)
{
    (void)state;
    otel_memory_exporter *m = new_store(0);
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    otel_span_data a = span_named("a", NULL), b = span_named("b", NULL), b2 = span_named("b", NULL);
    b2.end_time_ns = 9999;
    const otel_span_data *spans[] = { &a, &b, &b2 };
    assert_int_equal(e.export_spans(e.user_data, spans, 3, 0), OTEL_EXPORT_SUCCESS);
    assert_int_equal(otel_memory_exporter_count(m), 3);
    assert_true(otel_str_eq(otel_memory_exporter_span(m, 0)->name, OTEL_STR("a")));
    assert_true(otel_str_eq(otel_memory_exporter_span(m, 2)->name, OTEL_STR("b")));
    assert_null(otel_memory_exporter_span(m, 3));
    const otel_span_data *found = otel_memory_exporter_find(m, OTEL_STR("b"));
    assert_non_null(found);
    assert_int_equal(found->end_time_ns, 2000); /* the first one */
    assert_null(otel_memory_exporter_find(m, OTEL_STR("c")));
    e.destroy(e.user_data);
    otel_memory_exporter_release(m);
}

static void test_memory_exporter_is_bounded_and_counts_drops(void **state)
{
    (void)state;
    otel_memory_exporter *m = new_store(2);
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    otel_span_data s = span_named("s", NULL);
    const otel_span_data *spans[] = { &s, &s, &s };
    assert_int_equal(e.export_spans(e.user_data, spans, 3, 0), OTEL_EXPORT_FAILURE);
    assert_int_equal(otel_memory_exporter_count(m), 2);
    assert_int_equal(otel_memory_exporter_dropped(m), 1);
    assert_int_equal(export1(&e, &s), OTEL_EXPORT_FAILURE);
    assert_int_equal(otel_memory_exporter_dropped(m), 2);

    otel_memory_exporter_reset(m);
    assert_int_equal(otel_memory_exporter_count(m), 0);
    assert_int_equal(otel_memory_exporter_dropped(m), 0);
    assert_int_equal(export1(&e, &s), OTEL_EXPORT_SUCCESS);
    assert_int_equal(otel_memory_exporter_count(m), 1);
    e.destroy(e.user_data);
    otel_memory_exporter_release(m);
}

static void test_memory_exporter_grows_past_its_first_allocation(void **state)
{
    (void)state;
    otel_memory_exporter *m = new_store(0);
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    char name[16];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        otel_span_data s = span_named(name, NULL);
        assert_int_equal(export1(&e, &s), OTEL_EXPORT_SUCCESS);
    }
    assert_int_equal(otel_memory_exporter_count(m), 300);
    assert_true(otel_str_eq(otel_memory_exporter_span(m, 299)->name, OTEL_STR("s299")));
    assert_non_null(otel_memory_exporter_find(m, OTEL_STR("s150")));
    e.destroy(e.user_data);
    otel_memory_exporter_release(m);
}

static void test_memory_exporter_store_and_exporter_release_in_any_order(void **state)
{
    (void)state;
    /* Exporter gone first: the store is still readable. */
    otel_memory_exporter *m = new_store(0);
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    otel_span_data s = span_named("kept", NULL);
    assert_int_equal(export1(&e, &s), OTEL_EXPORT_SUCCESS);
    e.destroy(e.user_data);
    assert_non_null(otel_memory_exporter_find(m, OTEL_STR("kept")));
    otel_memory_exporter_release(m);

    /* Store released first: the exporter keeps working until its destroy frees everything. */
    m = new_store(0);
    e = otel_memory_exporter_as_exporter(m);
    otel_memory_exporter_release(m);
    assert_int_equal(export1(&e, &s), OTEL_EXPORT_SUCCESS);
    e.destroy(e.user_data);
}

static void test_memory_exporter_refuses_spans_after_shutdown(void **state)
{
    (void)state;
    otel_memory_exporter *m = new_store(0);
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    otel_span_data s = span_named("s", NULL);
    assert_int_equal(export1(&e, &s), OTEL_EXPORT_SUCCESS);
    assert_int_equal(e.force_flush(e.user_data, 0), OTEL_OK);
    assert_int_equal(e.shutdown(e.user_data, 0), OTEL_OK);
    assert_int_equal(export1(&e, &s), OTEL_EXPORT_FAILURE);
    assert_int_equal(otel_memory_exporter_count(m), 1);
    assert_int_equal(otel_memory_exporter_dropped(m), 1);
    e.destroy(e.user_data);
    otel_memory_exporter_release(m);
}

static void test_memory_exporter_null_is_harmless(void **state)
{
    (void)state;
    assert_int_equal(otel_memory_exporter_create(NULL, NULL), OTEL_ERR_INVALID_ARG);
    otel_span_exporter e = otel_memory_exporter_as_exporter(NULL);
    assert_null(e.export_spans);
    assert_int_equal(otel_memory_exporter_count(NULL), 0);
    assert_null(otel_memory_exporter_span(NULL, 0));
    assert_null(otel_memory_exporter_find(NULL, OTEL_STR("x")));
    assert_int_equal(otel_memory_exporter_dropped(NULL), 0);
    otel_memory_exporter_reset(NULL);
    otel_memory_exporter_release(NULL);
}

#define THREADS 4
#define PER_THREAD 500

static void *export_many(void *arg)
{
    otel_span_exporter *e = arg;
    otel_span_data s = span_named("t", NULL);
    for (int i = 0; i < PER_THREAD; i++)
        if (export1(e, &s) != OTEL_EXPORT_SUCCESS)
            return (void *)1;
    return NULL;
}

static void test_memory_exporter_concurrent_exports_lose_nothing(void **state)
{
    (void)state;
    otel_memory_exporter *m = new_store(0);
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, export_many, &e), 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(otel_memory_exporter_count(m), THREADS * PER_THREAD);
    e.destroy(e.user_data);
    otel_memory_exporter_release(m);
}

/* Through a real provider: the store outlives the provider and its record pool. */
static void test_memory_exporter_with_provider_outlives_it(void **state)
{
    (void)state;
    otel_memory_exporter *m = new_store(0);
    otel_span_processor proc;
    assert_int_equal(otel_simple_processor_create(otel_memory_exporter_as_exporter(m), &proc), OTEL_OK);
    otel_attr rattr = OTEL_ATTR_STR_LIT("service.name", "memtest");
    otel_resource *res = NULL;
    assert_int_equal(otel_resource_create(&rattr, 1, (otel_str){ 0 }, &res), OTEL_OK);
    otel_tracer_provider_options po = { .resource = res, .processors = &proc, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&po, &tp), OTEL_OK);
    otel_resource_release(res);

    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("test"), NULL);
    otel_span parent = otel_tracer_start_span(t, OTEL_STR("parent"), NULL);
    otel_context_token tok = otel_span_make_current(parent);
    otel_span child = otel_tracer_start_span(t, OTEL_STR("child"), NULL);
    otel_span_set_attr_int(child, OTEL_STR("n"), 7);
    otel_span_end(child);
    otel_context_detach(tok);
    otel_span_end(parent);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    otel_tracer_provider_destroy(tp);

    assert_int_equal(otel_memory_exporter_count(m), 2);
    const otel_span_data *c = otel_memory_exporter_find(m, OTEL_STR("child"));
    const otel_span_data *p = otel_memory_exporter_find(m, OTEL_STR("parent"));
    assert_non_null(c);
    assert_non_null(p);
    assert_memory_equal(c->parent_span_id, p->context.span_id, OTEL_SPAN_ID_SIZE);
    const otel_attr *n = otel_attrs_find(c->attrs, c->attr_count, OTEL_STR("n"));
    assert_non_null(n);
    assert_int_equal(n->value.as.i, 7);
    otel_value svc;
    assert_true(otel_resource_get(c->resource, OTEL_STR("service.name"), &svc));
    assert_true(otel_str_eq(svc.as.s, OTEL_STR("memtest")));
    assert_true(otel_str_eq(c->scope->name, OTEL_STR("test")));
    otel_memory_exporter_release(m);
}

static int scenario_export(void *arg)
{
    (void)arg;
    otel_memory_exporter *m = NULL;
    otel_status st = otel_memory_exporter_create(NULL, &m);
    if (st != OTEL_OK)
        return (int)st;
    otel_span_exporter e = otel_memory_exporter_as_exporter(m);
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("k", "v") };
    otel_span_data s = span_named("s", NULL);
    s.attrs = attrs;
    s.attr_count = 1;
    const otel_span_data *spans[] = { &s, &s };
    if (e.export_spans(e.user_data, spans, 2, 0) != OTEL_EXPORT_SUCCESS)
        st = OTEL_ERR_EXPORT;
    else if (otel_memory_exporter_count(m) != 2)
        st = OTEL_ERR_EXPORT;
    e.destroy(e.user_data);
    otel_memory_exporter_release(m);
    return (int)st;
}

static void test_memory_exporter_survives_allocation_failures(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(scenario_export, NULL);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations >= 3);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_memory_exporter_keeps_deep_copies),
        T(test_memory_exporter_finds_spans_by_name_and_index),
        T(test_memory_exporter_is_bounded_and_counts_drops),
        T(test_memory_exporter_grows_past_its_first_allocation),
        T(test_memory_exporter_store_and_exporter_release_in_any_order),
        T(test_memory_exporter_refuses_spans_after_shutdown),
        T(test_memory_exporter_null_is_harmless),
        T(test_memory_exporter_concurrent_exports_lose_nothing),
        T(test_memory_exporter_with_provider_outlives_it),
        T(test_memory_exporter_survives_allocation_failures),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
