/* The SDK core under failing allocations: provider, tracer, processors, samplers, span records,
 * attribute/event/link copies and clones, with allocation 1, 2, ... N failing in turn. Every run
 * must return cleanly, leak nothing, and make the failure visible (an error status, a counted
 * drop, or data visibly missing), never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "provider.h"
#include "sdk_testlib.h"

struct inputs {
    otel_resource *resource;
    otel_trace_state *ts;
};

static void quiet_log(void *ud, otel_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
}

static int scenario_provider(void *arg)
{
    struct inputs *in = arg;
    collector c;
    collector_init(&c);
    c.clone = false;
    otel_span_processor sp;
    otel_status st = otel_simple_processor_create(collector_exporter(&c), &sp);
    if (st != OTEL_OK)
        goto out;
    otel_tracer_provider_options o = { .resource = in->resource, .processors = &sp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    st = otel_tracer_provider_create(&o, &tp);
    if (st != OTEL_OK) {
        sp.destroy(sp.user_data);
        goto out;
    }
    otel_tracer_provider_destroy(tp);
out:
    collector_cleanup(&c);
    return (int)st;
}

static void test_provider_create_under_failing_allocations(void **state)
{
    struct inputs *in = *state;
    failalloc_result r = failalloc_run(scenario_provider, in);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations > 0);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

static int scenario_tracer(void *arg)
{
    struct inputs *in = arg;
    otel_tracer_provider_options o = { .resource = in->resource };
    otel_tracer_provider *tp = NULL;
    otel_status st = otel_tracer_provider_create(&o, &tp);
    if (st != OTEL_OK)
        return (int)st;
    int result = 0;
    otel_attr attrs[] = { OTEL_ATTR_STR("k", OTEL_STR("value")) };
    otel_tracer_options to = { .version = OTEL_STR("1"), .attrs = attrs, .attr_count = 1 };
    for (int i = 0; i < 6; i++) {
        char name[16];
        int n = snprintf(name, sizeof(name), "lib%d", i);
        otel_tracer *t = otel_tracer_provider_get_tracer(tp, (otel_str){ name, (size_t)n }, &to);
        if (!t)
            return 99; /* never NULL */
        if (t == &((struct otel__provider *)tp)->fallback_tracer.base)
            result = 1; /* visible: the fallback tracer */
        otel_span s = otel_tracer_start_span(t, OTEL_STR("s"), NULL);
        otel_span_end(s);
    }
    otel_tracer_provider_stats stats;
    otel_tracer_provider_get_stats(tp, &stats);
    if (stats.spans_dropped)
        result = 1; /* visible: no record for a span */
    otel_tracer_provider_destroy(tp);
    return result;
}

static void test_get_tracer_under_failing_allocations_never_returns_null(void **state)
{
    struct inputs *in = *state;
    failalloc_result r = failalloc_run(scenario_tracer, in);
    assert_int_equal(r.clean_status, 0);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

/* Set when a run finds data that is present but wrong: a failed copy must drop, never corrupt. */
static int corrupted;

static void check_integrity(const otel_span_data *d, const char *key, const char *val)
{
    if (!str_is(d->name, "copied span name") &&
        !str_is(d->name, "a renamed span, longer than the original name"))
        corrupted++;
    for (uint32_t i = 0; i < d->attr_count; i++) {
        const otel_attr *a = &d->attrs[i];
        if (str_is(a->key, key))
            corrupted += !str_is(a->value.as.s, val);
        else if (str_is(a->key, "array"))
            corrupted += a->value.as.array.len != 2 ||
                         !str_is(((const otel_str *)a->value.as.array.items)[1], "item two");
        else if (a->key.len >= 6 && memcmp(a->key.data, "attr.", 5) == 0)
            corrupted += !str_is(a->value.as.s, "some longer string value");
        else
            corrupted++;
    }
    for (uint32_t i = 0; i < d->event_count; i++) {
        const otel_event_data *e = &d->events[i];
        corrupted += !str_is(e->name, "an event") || e->attr_count > 1;
        if (e->attr_count == 1)
            corrupted +=
                !str_is(e->attrs[0].key, "e.k") || !str_is(e->attrs[0].value.as.s, "event attribute value");
    }
    for (uint32_t i = 0; i < d->link_count; i++) {
        const otel_link_data *l = &d->links[i];
        corrupted += l->context.trace_id[15] != 1 || l->context.span_id[7] != 2 ||
                     otel_trace_state_count(l->trace_state) != 1 || l->attr_count > 1;
        if (l->attr_count == 1)
            corrupted += !str_is(l->attrs[0].value.as.s, "event attribute value");
    }
    if (d->status_description.len)
        corrupted += !str_is(d->status_description, "a status description");
}

/* Everything a span can hold, copied; then checks that all of it arrived, or that a drop was
 * counted. */
static int scenario_span(void *arg)
{
    struct inputs *in = arg;
    retainer ret;
    retainer_init(&ret);
    otel_tracer_provider *tp =
        retainer_provider(&ret, &(otel_tracer_provider_options){ .resource = in->resource });
    if (!tp) {
        pthread_mutex_destroy(&ret.lock);
        return (int)OTEL_ERR_NOMEM;
    }
    int problems = 0;
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span s = otel_tracer_start_span(t, OTEL_STR("copied span name"), NULL);
    char key[] = "copied.key";
    char val[] = "a copied value that is not short";
    otel_str items[] = { OTEL_STR("item one"), OTEL_STR("item two") };
    otel_span_set_attr_str(s, otel_str_from_cstr(key), otel_str_from_cstr(val));
    otel_span_set_attr(s, OTEL_STR("array"), otel_value_array(OTEL_VALUE_STR, items, 2));
    for (int i = 0; i < 12; i++) {
        char k[16];
        int n = snprintf(k, sizeof(k), "attr.%d", i);
        otel_span_set_attr_str(s, (otel_str){ k, (size_t)n }, OTEL_STR("some longer string value"));
    }
    otel_attr eattrs[] = { OTEL_ATTR_STR("e.k", OTEL_STR("event attribute value")) };
    for (int i = 0; i < 6; i++)
        otel_span_add_event(s, OTEL_STR("an event"), 0, eattrs, 1);
    otel_span_context lsc = { .trace_flags = 1 };
    memset(lsc.trace_id, 1, OTEL_TRACE_ID_SIZE);
    memset(lsc.span_id, 2, OTEL_SPAN_ID_SIZE);
    otel_link link = { .context = lsc, .trace_state = in->ts, .attrs = eattrs, .attr_count = 1 };
    otel_span_add_link(s, &link);
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("a status description"));
    otel_span_update_name(s, OTEL_STR("a renamed span, longer than the original name"));
    otel_span_end(s);

    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    if (st.spans_dropped || st.attrs_dropped || st.events_dropped || st.links_dropped)
        problems++;
    const otel_span_data *d = retainer_last(&ret);
    if (!d) {
        problems++;
    } else {
        check_integrity(d, key, val);
        problems += !str_is(d->name, "a renamed span, longer than the original name");
        problems += !str_is(d->scope->name, "lib");
        problems += d->attr_count != 14;
        problems += d->event_count != 6;
        problems += d->link_count != 1;
        problems += !str_is(d->status_description, "a status description");
        otel_span_data *clone = NULL;
        if (otel_span_data_clone(d, &clone) != OTEL_OK)
            problems++;
        else if (clone->attr_count != d->attr_count)
            problems += 100; /* a clone is whole or absent */
        otel_span_data_free(clone);
    }
    retainer_release_all(&ret);
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&ret.lock);
    return problems;
}

static void test_span_copies_under_failing_allocations(void **state)
{
    struct inputs *in = *state;
    corrupted = 0;
    failalloc_result r = failalloc_run(scenario_span, in);
    assert_int_equal(corrupted, 0);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations >= 3); /* provider, slab, arena, ... */
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

static int scenario_samplers(void *arg)
{
    (void)arg;
    otel_sampler ratio, pb, root;
    otel_status st = otel_sampler_trace_id_ratio(0.5, &ratio);
    if (st != OTEL_OK)
        return (int)st;
    st = otel_sampler_trace_id_ratio(0.25, &root);
    if (st != OTEL_OK) {
        otel_sampler_destroy(&ratio);
        return (int)st;
    }
    otel_parent_based_options o = { .remote_parent_sampled = ratio };
    st = otel_sampler_parent_based(root, &o, &pb);
    if (st != OTEL_OK) {
        otel_sampler_destroy(&ratio);
        otel_sampler_destroy(&root);
        return (int)st;
    }
    otel_sampler_destroy(&pb);
    return 0;
}

static void test_samplers_under_failing_allocations(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(scenario_samplers, NULL);
    assert_int_equal(r.clean_status, 0);
    assert_int_equal(r.allocations, 3);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

static void ignore_end(void *ud, const otel_span_data *span)
{
    (void)ud;
    (void)span;
}

static int scenario_composite(void *arg)
{
    (void)arg;
    collector c;
    collector_init(&c);
    otel_span_processor kids[2];
    otel_status st = otel_simple_processor_create(collector_exporter(&c), &kids[0]);
    if (st != OTEL_OK)
        goto out;
    kids[1] = (otel_span_processor){ .on_end = ignore_end };
    otel_span_processor comp;
    st = otel_composite_processor_create(kids, 2, &comp);
    if (st != OTEL_OK) {
        kids[0].destroy(kids[0].user_data);
        goto out;
    }
    comp.destroy(comp.user_data);
out:
    collector_cleanup(&c);
    return (int)st;
}

static void test_processors_under_failing_allocations(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(scenario_composite, NULL);
    assert_int_equal(r.clean_status, 0);
    assert_int_equal(r.allocations, 2);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

static void test_spans_in_steady_state_allocate_nothing(void **state)
{
    struct inputs *in = *state;
    collector c;
    collector_init(&c);
    c.clone = false;
    otel_tracer_provider_options o = { .resource = in->resource };
    otel_tracer_provider *tp = testlib_provider(&c, &o);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_attr attrs[] = { OTEL_ATTR_STR("http.url", OTEL_STR("https://example.com/a/b")),
                          OTEL_ATTR_INT("http.status", 200) };
    /* Warm up: the slab and the record's first arena chunk. */
    for (int i = 0; i < 10; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("GET"), NULL);
        otel_span_set_attrs(s, attrs, 2);
        otel_span_add_event(s, OTEL_STR("e"), 0, attrs, 1);
        otel_span_end(s);
    }
    failalloc_install();
    for (int i = 0; i < 1000; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("GET"), NULL);
        otel_span_set_attrs(s, attrs, 2);
        otel_span_add_event(s, OTEL_STR("e"), 0, attrs, 1);
        otel_span_end(s);
    }
    size_t n = failalloc_count();
    failalloc_uninstall();
    assert_int_equal(n, 0);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

static int setup(void **state)
{
    static struct inputs in;
    otel_attr a = OTEL_ATTR_STR_LIT("service.name", "alloc-test");
    if (otel_resource_create(&a, 1, OTEL_STR(""), &in.resource) != OTEL_OK)
        return -1;
    if (otel_trace_state_parse(OTEL_STR("k=v"), &in.ts) != OTEL_OK)
        return -1;
    /* The API's pool of non-recording spans (used for dropped spans) is a process-wide cache
     * that grows on first use: warm it up so it does not count as a leak. */
    otel_span_context sc = { .trace_flags = 0 };
    memset(sc.trace_id, 1, OTEL_TRACE_ID_SIZE);
    memset(sc.span_id, 1, OTEL_SPAN_ID_SIZE);
    otel_span_end(otel_nonrecording_span_create(&sc, NULL));
    otel_log_set_handler(quiet_log, NULL, OTEL_LOG_DEBUG);
    *state = &in;
    return 0;
}

static int teardown(void **state)
{
    struct inputs *in = *state;
    otel_resource_release(in->resource);
    otel_trace_state_release(in->ts);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_create_under_failing_allocations),
        cmocka_unit_test(test_get_tracer_under_failing_allocations_never_returns_null),
        cmocka_unit_test(test_span_copies_under_failing_allocations),
        cmocka_unit_test(test_samplers_under_failing_allocations),
        cmocka_unit_test(test_processors_under_failing_allocations),
        cmocka_unit_test(test_spans_in_steady_state_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
