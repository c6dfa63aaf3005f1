/* Finished span data: retain/release on pooled records (a retained record is not reused), deep
 * clones that copy every part and outlive the provider, and attribute lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "sdk_testlib.h"
#include "span.h"

static void test_retained_span_data_outlives_on_end_and_blocks_reuse(void **state)
{
    (void)state;
    retainer r;
    retainer_init(&r);
    otel_tracer_provider *tp = retainer_provider(&r, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span a = otel_tracer_start_span(t, OTEL_STR("kept"), NULL);
    otel_span_set_attr_str(a, OTEL_STR("k"), OTEL_STR("v"));
    otel_span_end(a);
    const otel_span_data *d = retainer_last(&r);
    /* While retained, new spans get other records and the data stays intact. */
    for (int i = 0; i < 200; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("other"), NULL);
        assert_ptr_not_equal(s.impl, a.impl);
        otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("other value"));
        otel_span_end(s);
        if (r.count > 100) { /* keep the first one */
            pthread_mutex_lock(&r.lock);
            for (size_t j = 1; j < r.count; j++)
                otel_span_data_release(r.spans[j]);
            r.count = 1;
            pthread_mutex_unlock(&r.lock);
        }
    }
    d = r.spans[0];
    assert_true(str_is(d->name, "kept"));
    assert_true(str_is(d->attrs[0].value.as.s, "v"));
    /* A second reference: one release does not recycle. */
    otel_span_data_retain(d);
    otel_span_data_release(d);
    assert_true(str_is(d->name, "kept"));
    retainer_release_all(&r);
    /* Released: the record serves new spans again. */
    bool reused = false;
    for (int i = 0; i < 200 && !reused; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("again"), NULL);
        reused = s.impl == a.impl;
        otel_span_end(s);
        retainer_release_all(&r);
    }
    assert_true(reused);
    otel_span_data_release(NULL);
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&r.lock);
}

static const otel_span_data *make_rich_span(otel_tracer_provider *tp, retainer *r)
{
    otel_attr scope_attr = OTEL_ATTR_STR_LIT("scope.k", "scope.v");
    otel_tracer_options to = {
        .version = OTEL_STR("9.9"), .schema_url = OTEL_STR("https://s"), .attrs = &scope_attr, .attr_count = 1
    };
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("rich.lib"), &to);
    otel_trace_state *ts = NULL, *lts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("span=1"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_parse(OTEL_STR("link=2"), &lts), OTEL_OK);
    otel_span_context parent = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED, .is_remote = true };
    memset(parent.trace_id, 0x12, OTEL_TRACE_ID_SIZE);
    memset(parent.span_id, 0x34, OTEL_SPAN_ID_SIZE);
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &parent, ts, &ctx), OTEL_OK);
    otel_trace_state_release(ts);
    otel_span_start_options so = { .parent = ctx,
                                   .kind = OTEL_SPAN_KIND_PRODUCER,
                                   .flags = OTEL_SPAN_START_STATIC_NAME };
    otel_span s = otel_tracer_start_span(t, OTEL_STR("rich"), &so);
    otel_context_release(ctx);
    bool bools[] = { true, false };
    int64_t ints[] = { 1, 2, 3 };
    double dbl[] = { 0.5 };
    otel_str strs[] = { OTEL_STR("x"), OTEL_STR("yy") };
    otel_span_set_attr_str(s, OTEL_STR("s"), OTEL_STR("string"));
    otel_span_set_attr_int(s, OTEL_STR("i"), 42);
    otel_span_set_attr_double(s, OTEL_STR("d"), 2.5);
    otel_span_set_attr_bool(s, OTEL_STR("b"), true);
    otel_span_set_attr(s, OTEL_STR("bytes"), otel_value_bytes("\1\2\3", 3));
    otel_span_set_attr(s, OTEL_STR("ab"), otel_value_array(OTEL_VALUE_BOOL, bools, 2));
    otel_span_set_attr(s, OTEL_STR("ai"), otel_value_array(OTEL_VALUE_INT, ints, 3));
    otel_span_set_attr(s, OTEL_STR("ad"), otel_value_array(OTEL_VALUE_DOUBLE, dbl, 1));
    otel_span_set_attr(s, OTEL_STR("as"), otel_value_array(OTEL_VALUE_STR, strs, 2));
    otel_span_set_attr(s, OTEL_STR("a0"), otel_value_array(OTEL_VALUE_STR, NULL, 0));
    otel_attr lit = OTEL_ATTR_STR_LIT("static.key", "static value");
    otel_span_set_attrs(s, &lit, 1);
    otel_attr eattrs[] = { OTEL_ATTR_INT("e.n", 5), OTEL_ATTR_STR("e.s", OTEL_STR("ev")) };
    otel_span_add_event(s, OTEL_STR("event one"), 1000, eattrs, 2);
    otel_span_add_event(s, OTEL_STR("event two"), 2000, NULL, 0);
    otel_span_context lsc = parent;
    lsc.span_id[0] = 0x99;
    otel_link link = { .context = lsc, .trace_state = lts, .attrs = eattrs, .attr_count = 1 };
    otel_span_add_link(s, &link);
    otel_trace_state_release(lts);
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("went wrong"));
    otel_span_end(s);
    return retainer_last(r);
}

static void check_rich(const otel_span_data *d)
{
    assert_true(str_is(d->name, "rich"));
    assert_int_equal(d->name.data[d->name.len], '\0');
    assert_int_equal(d->kind, OTEL_SPAN_KIND_PRODUCER);
    assert_true(d->parent_is_remote);
    assert_int_equal(d->parent_span_id[0], 0x34);
    assert_int_equal(d->attr_count, 11);
    assert_true(str_is(find_attr(d->attrs, 11, "s")->value.as.s, "string"));
    assert_int_equal(find_attr(d->attrs, 11, "i")->value.as.i, 42);
    assert_true(find_attr(d->attrs, 11, "d")->value.as.d == 2.5);
    assert_true(find_attr(d->attrs, 11, "b")->value.as.b);
    const otel_attr *a = find_attr(d->attrs, 11, "bytes");
    assert_int_equal(a->value.type, OTEL_VALUE_BYTES);
    assert_memory_equal(a->value.as.s.data, "\1\2\3", 3);
    a = find_attr(d->attrs, 11, "ab");
    assert_false(((const bool *)a->value.as.array.items)[1]);
    a = find_attr(d->attrs, 11, "ai");
    assert_int_equal(((const int64_t *)a->value.as.array.items)[2], 3);
    a = find_attr(d->attrs, 11, "ad");
    assert_true(((const double *)a->value.as.array.items)[0] == 0.5);
    a = find_attr(d->attrs, 11, "as");
    assert_true(str_is(((const otel_str *)a->value.as.array.items)[1], "yy"));
    a = find_attr(d->attrs, 11, "a0");
    assert_int_equal(a->value.as.array.len, 0);
    assert_true(str_is(find_attr(d->attrs, 11, "static.key")->value.as.s, "static value"));
    assert_int_equal(d->event_count, 2);
    assert_true(str_is(d->events[0].name, "event one"));
    assert_int_equal(d->events[0].time_ns, 1000);
    assert_int_equal(d->events[0].attr_count, 2);
    assert_true(str_is(find_attr(d->events[0].attrs, 2, "e.s")->value.as.s, "ev"));
    assert_true(str_is(d->events[1].name, "event two"));
    assert_int_equal(d->link_count, 1);
    assert_int_equal(d->links[0].context.span_id[0], 0x99);
    assert_int_equal(d->links[0].attr_count, 1);
    otel_str v;
    assert_true(otel_trace_state_get(d->links[0].trace_state, OTEL_STR("link"), &v));
    assert_true(otel_trace_state_get(d->trace_state, OTEL_STR("span"), &v));
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_ERROR);
    assert_true(str_is(d->status_description, "went wrong"));
    assert_non_null(d->scope);
    assert_true(str_is(d->scope->name, "rich.lib"));
    assert_true(str_is(d->scope->version, "9.9"));
    assert_true(str_is(d->scope->schema_url, "https://s"));
    assert_int_equal(d->scope->attr_count, 1);
    assert_true(str_is(d->scope->attrs[0].value.as.s, "scope.v"));
    assert_non_null(d->resource);
    assert_true(otel_resource_get(d->resource, OTEL_STR("service.name"), NULL));
}

static void test_clone_copies_everything_and_survives_the_provider(void **state)
{
    (void)state;
    retainer r;
    retainer_init(&r);
    otel_tracer_provider *tp = retainer_provider(&r, NULL);
    const otel_span_data *d = make_rich_span(tp, &r);
    check_rich(d);
    otel_span_data *clone = NULL;
    assert_int_equal(otel_span_data_clone(d, &clone), OTEL_OK);
    check_rich(clone);
    /* Nothing is shared with the record, not even static strings. */
    assert_ptr_not_equal(clone->name.data, d->name.data);
    assert_ptr_not_equal(clone->attrs, d->attrs);
    assert_ptr_not_equal(find_attr(clone->attrs, 11, "static.key")->value.as.s.data,
                         find_attr(d->attrs, 11, "static.key")->value.as.s.data);
    assert_ptr_not_equal(clone->scope, d->scope);
    assert_ptr_equal(clone->resource, d->resource); /* shared by reference */
    retainer_release_all(&r);
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&r.lock);
    /* The provider is gone; the clone is whole. */
    check_rich(clone);
    /* Clones take retain/release too. */
    otel_span_data_retain(clone);
    otel_span_data_release(clone);
    check_rich(clone);
    otel_span_data_free(clone);
    otel_span_data_free(NULL);
}

static void test_clone_of_a_clone_and_of_a_plain_span(void **state)
{
    (void)state;
    retainer r;
    retainer_init(&r);
    otel_tracer_provider *tp = retainer_provider(&r, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_end(otel_tracer_start_span(t, OTEL_STR("plain"), NULL));
    otel_span_data *c1 = NULL, *c2 = NULL;
    assert_int_equal(otel_span_data_clone(retainer_last(&r), &c1), OTEL_OK);
    assert_int_equal(otel_span_data_clone(c1, &c2), OTEL_OK);
    assert_true(str_is(c2->name, "plain"));
    assert_int_equal(c2->attr_count, 0);
    assert_null(c2->events);
    assert_null(c2->links);
    assert_null(c2->trace_state);
    retainer_release_all(&r);
    otel_tracer_provider_destroy(tp);
    otel_span_data_free(c1);
    assert_true(str_is(c2->scope->name, "lib"));
    otel_span_data_free(c2);
    pthread_mutex_destroy(&r.lock);
}

static void test_clone_rejects_bad_arguments(void **state)
{
    (void)state;
    otel_span_data *out = NULL;
    assert_int_equal(otel_span_data_clone(NULL, &out), OTEL_ERR_INVALID_ARG);
    otel_span_data d = { 0 };
    assert_int_equal(otel_span_data_clone(&d, NULL), OTEL_ERR_INVALID_ARG);
}

static void test_attrs_find(void **state)
{
    (void)state;
    otel_attr attrs[] = { OTEL_ATTR_INT("a", 1), OTEL_ATTR_INT("bb", 2), OTEL_ATTR_INT("b", 3) };
    assert_ptr_equal(otel_attrs_find(attrs, 3, OTEL_STR("b")), &attrs[2]);
    assert_ptr_equal(otel_attrs_find(attrs, 3, OTEL_STR("bb")), &attrs[1]);
    assert_null(otel_attrs_find(attrs, 3, OTEL_STR("c")));
    assert_null(otel_attrs_find(attrs, 1, OTEL_STR("b")));
    assert_null(otel_attrs_find(NULL, 3, OTEL_STR("a")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retained_span_data_outlives_on_end_and_blocks_reuse),
        cmocka_unit_test(test_clone_copies_everything_and_survives_the_provider),
        cmocka_unit_test(test_clone_of_a_clone_and_of_a_plain_span),
        cmocka_unit_test(test_clone_rejects_bad_arguments),
        cmocka_unit_test(test_attrs_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
