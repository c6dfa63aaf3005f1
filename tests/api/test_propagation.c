/* Propagation plumbing: the inject/extract wrappers, the global propagator (no-op default,
 * replacement with destroy callbacks, shutdown) and the header-list carrier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otel/impl.h"
#include "otel/propagation.h"

static const otel_context_key key_found = { "test.found" };

struct fake_prop {
    int injects;
    int extracts;
    int destroys;
    const otel_context *last_inject_ctx;
    otel_span_context last_inject_sc;
};

static void fp_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    struct fake_prop *f = user_data;
    f->injects++;
    f->last_inject_ctx = ctx;
    f->last_inject_sc = otel_context_get_span_context(ctx);
    w->set(w->user_data, OTEL_STR("x-fake"), OTEL_STR("1"));
}

static otel_context *fp_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    struct fake_prop *f = user_data;
    f->extracts++;
    otel_str v;
    if (r->get(r->user_data, OTEL_STR("x-fake"), &v, 1) == 0)
        return otel_context_retain(ctx);
    otel_context *out = NULL;
    if (otel_context_with_value(ctx, &key_found, (void *)&key_found, NULL, &out) != OTEL_OK)
        return otel_context_retain(ctx);
    return out;
}

static size_t fp_fields(void *user_data, otel_str *names, size_t cap)
{
    (void)user_data;
    if (cap > 0)
        names[0] = OTEL_STR("x-fake");
    return 1;
}

static void fp_destroy(void *user_data)
{
    ((struct fake_prop *)user_data)->destroys++;
}

static otel_propagator fake_propagator(struct fake_prop *f)
{
    return (otel_propagator){ fp_inject, fp_extract, fp_fields, fp_destroy, f };
}

struct collected {
    int sets;
    char name[32];
    char value[32];
};

static void collect_set(void *user_data, otel_str name, otel_str value)
{
    struct collected *c = user_data;
    c->sets++;
    snprintf(c->name, sizeof(c->name), "%.*s", (int)name.len, name.data);
    snprintf(c->value, sizeof(c->value), "%.*s", (int)value.len, value.data);
}

static void test_global_propagator_defaults_to_a_noop(void **state)
{
    (void)state;
    const otel_propagator *p = otel_global_propagator();
    assert_non_null(p);
    struct collected c = { 0 };
    otel_carrier_writer w = { collect_set, &c };
    otel_propagator_inject(p, NULL, &w);
    assert_int_equal(c.sets, 0);
    otel_header h[] = { { OTEL_STR("x-fake"), OTEL_STR("1") } };
    otel_header_list list = { h, 1 };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *base = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key_found, NULL, NULL, &base), OTEL_OK);
    otel_context *out = otel_propagator_extract(p, base, &r);
    assert_ptr_equal(out, base); /* a new reference to the same context */
    otel_context_release(out);
    otel_context_release(base);
    assert_null(otel_propagator_extract(p, NULL, &r));
    otel_str names[2];
    assert_int_equal(p->fields(p->user_data, names, 2), 0);
}

static void test_set_replaces_and_keeps_the_previous_propagator_until_shutdown(void **state)
{
    (void)state;
    struct fake_prop f1 = { 0 }, f2 = { 0 };
    otel_propagator p1 = fake_propagator(&f1);
    otel_global_set_propagator(&p1);
    memset(&p1, 0, sizeof(p1)); /* the global keeps a copy */
    const otel_propagator *g = otel_global_propagator();
    assert_ptr_equal(g->user_data, &f1);

    struct collected c = { 0 };
    otel_carrier_writer w = { collect_set, &c };
    otel_propagator_inject(g, NULL, &w);
    assert_int_equal(f1.injects, 1);
    assert_string_equal(c.name, "x-fake");

    otel_propagator p2 = fake_propagator(&f2);
    otel_global_set_propagator(&p2);
    /* A thread that loaded |g| before the replacement may still be using it. */
    assert_int_equal(f1.destroys, 0);
    assert_int_equal(f2.destroys, 0);
    assert_ptr_equal(g->user_data, &f1);
    assert_ptr_equal(otel_global_propagator()->user_data, &f2);
    otel_global_inject(NULL, &w);
    assert_int_equal(f2.injects, 1);

    otel_global_propagator_shutdown();
    assert_int_equal(f1.destroys, 1);
    assert_int_equal(f2.destroys, 1);
    assert_null(otel_global_propagator()->user_data);
    otel_global_propagator_shutdown(); /* nothing left to destroy */
    assert_int_equal(f1.destroys, 1);
    assert_int_equal(f2.destroys, 1);
}

static void test_inject_without_context_uses_the_current_one(void **state)
{
    (void)state;
    struct fake_prop f = { 0 };
    otel_propagator p = fake_propagator(&f);
    otel_span_context sc = { .trace_id = { 1 }, .span_id = { 2 } };
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &sc, NULL, &ctx), OTEL_OK);
    otel_context_token t = otel_context_attach(ctx);
    struct collected c = { 0 };
    otel_carrier_writer w = { collect_set, &c };
    otel_propagator_inject(&p, NULL, &w);
    assert_int_equal(f.injects, 1);
    assert_ptr_equal(f.last_inject_ctx, ctx);
    /* A span made current is materialized for the propagator, then released. */
    otel_span s =
        otel_nonrecording_span_create(&(otel_span_context){ .trace_id = { 3 }, .span_id = { 4 } }, NULL);
    otel_context_token ts = otel_span_make_current(s);
    otel_propagator_inject(&p, NULL, &w);
    assert_int_equal(f.last_inject_sc.trace_id[0], 3);
    assert_int_equal(otel_context_detach(ts), OTEL_OK);
    otel_span_end(s);
    assert_int_equal(otel_context_detach(t), OTEL_OK);
    otel_context_release(ctx);
    /* NULL propagator or carrier: nothing. */
    otel_propagator_inject(NULL, NULL, &w);
    otel_propagator_inject(&p, NULL, NULL);
    assert_int_equal(f.injects, 2);
}

static void test_extract_adds_to_the_given_context(void **state)
{
    (void)state;
    struct fake_prop f = { 0 };
    otel_propagator p = fake_propagator(&f);
    otel_header h[] = { { OTEL_STR("X-Fake"), OTEL_STR("1") } };
    otel_header_list list = { h, 1 };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *out = otel_propagator_extract(&p, NULL, &r);
    assert_non_null(out);
    assert_non_null(otel_context_get_value(out, &key_found));
    otel_context_release(out);
    assert_null(otel_propagator_extract(NULL, NULL, &r));
    assert_null(otel_propagator_extract(&p, NULL, NULL));
    assert_int_equal(f.extracts, 1);
}

static void test_header_list_reader_matches_names_case_insensitively(void **state)
{
    (void)state;
    otel_header h[] = {
        { OTEL_STR("Content-Type"), OTEL_STR("text/plain") },
        { OTEL_STR("tracestate"), OTEL_STR("a=1") },
        { OTEL_STR("TraceState"), OTEL_STR("b=2") },
        { OTEL_STR("TRACESTATE"), OTEL_STR("c=3") },
    };
    otel_header_list list = { h, 4 };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_str values[2];
    assert_int_equal(r.get(r.user_data, OTEL_STR("tracestate"), values, 2), 3);
    assert_true(otel_str_eq(values[0], OTEL_STR("a=1")));
    assert_true(otel_str_eq(values[1], OTEL_STR("b=2")));
    assert_int_equal(r.get(r.user_data, OTEL_STR("content-type"), values, 2), 1);
    assert_true(otel_str_eq(values[0], OTEL_STR("text/plain")));
    assert_int_equal(r.get(r.user_data, OTEL_STR("traceparent"), values, 2), 0);
    assert_int_equal(r.get(r.user_data, OTEL_STR("tracestate"), NULL, 0), 3);
    otel_str name;
    assert_true(r.key_at(r.user_data, 0, &name));
    assert_true(otel_str_eq(name, OTEL_STR("Content-Type")));
    assert_true(r.key_at(r.user_data, 3, &name));
    assert_false(r.key_at(r.user_data, 4, &name));

    otel_header_list empty = { NULL, 0 };
    r = otel_header_list_reader(&empty);
    assert_int_equal(r.get(r.user_data, OTEL_STR("x"), values, 2), 0);
    assert_false(r.key_at(r.user_data, 0, &name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_propagator_defaults_to_a_noop),
        cmocka_unit_test(test_set_replaces_and_keeps_the_previous_propagator_until_shutdown),
        cmocka_unit_test(test_inject_without_context_uses_the_current_one),
        cmocka_unit_test(test_extract_adds_to_the_given_context),
        cmocka_unit_test(test_header_list_reader_matches_names_case_insensitively),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
