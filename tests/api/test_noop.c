/* The API without an SDK: no-op tracing that still carries a valid parent's context, safety of
 * every span operation on OTEL_SPAN_NONE and on ended spans, the non-recording span pool, the
 * global provider slot and the proxy tracers that follow it, and the span dispatchers (checked
 * against a fake span implementation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api_internal.h"
#include "failalloc.h"
#include "otel/context.h"
#include "otel/impl.h"
#include "otel/trace.h"

static otel_span_context make_sc(uint8_t seed)
{
    otel_span_context sc = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED, .is_remote = true };
    for (int i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        sc.trace_id[i] = (uint8_t)(seed + i);
    for (int i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        sc.span_id[i] = (uint8_t)(seed + 2 * i + 1);
    return sc;
}

static bool sc_eq(otel_span_context a, otel_span_context b)
{
    return memcmp(a.trace_id, b.trace_id, sizeof(a.trace_id)) == 0 &&
           memcmp(a.span_id, b.span_id, sizeof(a.span_id)) == 0 && a.trace_flags == b.trace_flags;
}

/* Every operation, with arguments a careless caller might pass. */
static void call_every_span_op(otel_span s)
{
    otel_attr attrs[] = { OTEL_ATTR_INT("k", 1) };
    otel_link link = { .context = make_sc(99) };
    otel_span_set_attr(s, OTEL_STR("k"), otel_value_int(1));
    otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("v"));
    otel_span_set_attrs(s, attrs, 1);
    otel_span_set_attrs(s, NULL, 3);
    otel_span_add_event(s, OTEL_STR("e"), 0, attrs, 1);
    otel_span_add_event(s, OTEL_STR("e"), 0, NULL, 5);
    otel_span_add_link(s, &link);
    otel_span_add_link(s, NULL);
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("bad"));
    otel_span_update_name(s, OTEL_STR("n"));
    otel_span_record_exception(s, OTEL_STR("T"), OTEL_STR("m"), OTEL_STR(""), attrs, 1);
    assert_false(otel_span_is_recording(s));
}

static void test_without_sdk_a_root_span_is_none(void **state)
{
    (void)state;
    otel_tracer *t = otel_tracer_provider_get_tracer(otel_global_tracer_provider(), OTEL_STR("lib"), NULL);
    assert_non_null(t);
    assert_false(otel_tracer_enabled(t));
    otel_span s = otel_tracer_start_span(t, OTEL_STR("root"), NULL);
    assert_null(s.impl);
    s = otel_tracer_start_span(NULL, OTEL_STR("root"), NULL);
    assert_null(s.impl);
    otel_span_context sc = otel_span_get_context(s);
    assert_false(otel_span_context_is_valid(&sc));
}

static void test_without_sdk_a_child_of_a_remote_parent_carries_its_context(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(1);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("vendor=abc"), &ts), OTEL_OK);
    otel_context *parent = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &sc, ts, &parent), OTEL_OK);
    otel_trace_state_release(ts);

    otel_tracer *t = otel_global_get_tracer(OTEL_STR("lib"), NULL);
    otel_span_start_options opts = { .parent = parent };
    otel_span s = otel_tracer_start_span(t, OTEL_STR("child"), &opts);
    assert_non_null(s.impl);
    assert_true(otel__span_is_nonrecording(s));
    assert_false(otel_span_is_recording(s));
    assert_true(sc_eq(otel_span_get_context(s), sc));
    otel_trace_state *got = otel_span_get_trace_state(s);
    otel_str v;
    assert_true(otel_trace_state_get(got, OTEL_STR("vendor"), &v));
    assert_true(otel_str_eq(v, OTEL_STR("abc")));
    otel_trace_state_release(got);
    otel_span_end(s);

    /* The same through the current context. */
    otel_context_token tok = otel_context_attach(parent);
    s = otel_tracer_start_span(t, OTEL_STR("child"), NULL);
    assert_true(sc_eq(otel_span_get_context(s), sc));
    otel_span_end(s);
    assert_int_equal(otel_context_detach(tok), OTEL_OK);
    otel_context_release(parent);
}

static void test_operations_on_none_are_harmless(void **state)
{
    (void)state;
    call_every_span_op(OTEL_SPAN_NONE);
    assert_null(otel_span_get_trace_state(OTEL_SPAN_NONE));
    otel_span_end(OTEL_SPAN_NONE);
    otel_span_end_at(OTEL_SPAN_NONE, 5);
}

static void test_operations_on_an_ended_span_are_harmless(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(2);
    otel_span s = otel_nonrecording_span_create(&sc, NULL);
    call_every_span_op(s);
    otel_span_end(s);
    call_every_span_op(s);
    otel_span_end(s); /* twice */
    otel_span_end_at(s, 1);
    otel_span_context after = otel_span_get_context(s);
    assert_false(otel_span_context_is_valid(&after));
    assert_null(otel_span_get_trace_state(s));
}

static void test_a_stale_handle_never_sees_the_recycled_record(void **state)
{
    (void)state;
    otel_span_context sc1 = make_sc(3), sc2 = make_sc(4);
    otel_span s1 = otel_nonrecording_span_create(&sc1, NULL);
    otel_span_end(s1);
    otel_span s2 = otel_nonrecording_span_create(&sc2, NULL);
    assert_ptr_equal(s2.impl, s1.impl); /* the pool gave the record back (LIFO) */
    assert_int_not_equal(s2.gen, s1.gen);
    otel_span_context stale = otel_span_get_context(s1);
    assert_false(otel_span_context_is_valid(&stale));
    otel_span_end(s1); /* must not end s2 */
    assert_true(sc_eq(otel_span_get_context(s2), sc2));
    otel_span_end(s2);
}

static void test_nonrecording_create_with_invalid_context_is_none(void **state)
{
    (void)state;
    otel_span_context zero = { 0 };
    assert_null(otel_nonrecording_span_create(&zero, NULL).impl);
    assert_null(otel_nonrecording_span_create(NULL, NULL).impl);
}

static void test_nonrecording_pool_grows_past_one_slab(void **state)
{
    (void)state;
    enum { N = 300 };
    static otel_span spans[N];
    for (int i = 0; i < N; i++) {
        otel_span_context sc = make_sc((uint8_t)i);
        sc.span_id[0] = 0xee;
        spans[i] = otel_nonrecording_span_create(&sc, NULL);
        assert_non_null(spans[i].impl);
    }
    for (int i = 0; i < N; i++) {
        otel_span_context got = otel_span_get_context(spans[i]);
        assert_int_equal(got.trace_id[0], (uint8_t)i);
        otel_span_end(spans[i]);
    }
}

/* ---------------------------------------------------------------------------------------------
 * A fake SDK: counts calls and remembers arguments.
 * ------------------------------------------------------------------------------------------- */

struct fake_span {
    struct otel_span_impl hdr;
    uint64_t gen;
    int set_attrs_calls;
    size_t last_attr_count;
    otel_attr last_attrs[64];
    int events;
    otel_str last_event_name;
    int ends;
    int64_t last_end_ns;
};

static void f_set_attrs(struct otel_span_impl *s, uint64_t gen, const otel_attr *a, size_t n)
{
    struct fake_span *f = (struct fake_span *)s;
    if (gen != f->gen)
        return;
    f->set_attrs_calls++;
    f->last_attr_count = n;
    memcpy(f->last_attrs, a, (n < 64 ? n : 64) * sizeof(*a));
}

static void f_add_event(struct otel_span_impl *s, uint64_t gen, otel_str name, int64_t t, const otel_attr *a,
                        size_t n)
{
    (void)t;
    struct fake_span *f = (struct fake_span *)s;
    if (gen != f->gen)
        return;
    f->events++;
    f->last_event_name = name;
    f->last_attr_count = n;
    memcpy(f->last_attrs, a, (n < 64 ? n : 64) * sizeof(*a));
}

static bool f_is_recording(struct otel_span_impl *s, uint64_t gen)
{
    return gen == ((struct fake_span *)s)->gen;
}

static void f_end(struct otel_span_impl *s, uint64_t gen, int64_t end_ns)
{
    struct fake_span *f = (struct fake_span *)s;
    if (gen != f->gen)
        return;
    f->ends++;
    f->last_end_ns = end_ns;
    f->gen++;
}

/* Optional operations are left NULL on purpose: the API must cope. */
static const struct otel_span_ops fake_span_ops = {
    .set_attrs = f_set_attrs,
    .add_event = f_add_event,
    .is_recording = f_is_recording,
    .end = f_end,
};

struct fake_tracer {
    otel_tracer hdr;
    int starts;
    otel_parent last_parent;
    struct fake_span span;
};

static otel_span ft_start(otel_tracer *t, otel_str name, const otel_span_start_options *opts,
                          const otel_parent *parent)
{
    (void)name, (void)opts;
    struct fake_tracer *f = (struct fake_tracer *)t;
    f->starts++;
    f->last_parent = *parent;
    return (otel_span){ &f->span.hdr, f->span.gen };
}

static bool ft_enabled(otel_tracer *t)
{
    (void)t;
    return true;
}

static const struct otel_tracer_ops fake_tracer_ops = { ft_start, ft_enabled };

struct fake_provider {
    otel_tracer_provider hdr;
    int get_tracer_calls;
    char last_name[32];
    char last_version[32];
    char last_schema[32];
    size_t last_attr_count;
    char last_attr0_str[32];
    int64_t last_attr1_ints[3];
    char last_attr2_items[2][8];
    struct fake_tracer tracer;
};

static otel_tracer *fp_get_tracer(otel_tracer_provider *tp, otel_str name, const otel_tracer_options *opts)
{
    struct fake_provider *f = (struct fake_provider *)tp;
    f->get_tracer_calls++;
    snprintf(f->last_name, sizeof(f->last_name), "%.*s", (int)name.len, name.data);
    if (!opts)
        return &f->tracer.hdr;
    snprintf(f->last_version, sizeof(f->last_version), "%.*s", (int)opts->version.len,
             opts->version.data ? opts->version.data : "");
    snprintf(f->last_schema, sizeof(f->last_schema), "%.*s", (int)opts->schema_url.len,
             opts->schema_url.data ? opts->schema_url.data : "");
    f->last_attr_count = opts->attr_count;
    if (opts->attr_count == 3) {
        const otel_attr *a = opts->attrs;
        snprintf(f->last_attr0_str, sizeof(f->last_attr0_str), "%.*s=%.*s", (int)a[0].key.len, a[0].key.data,
                 (int)a[0].value.as.s.len, a[0].value.as.s.data);
        memcpy(f->last_attr1_ints, a[1].value.as.array.items, sizeof(f->last_attr1_ints));
        const otel_str *items = a[2].value.as.array.items;
        for (int i = 0; i < 2; i++)
            snprintf(f->last_attr2_items[i], sizeof(f->last_attr2_items[i]), "%.*s", (int)items[i].len,
                     items[i].data);
    }
    return &f->tracer.hdr;
}

static const struct otel_tracer_provider_ops fake_provider_ops = { fp_get_tracer };

static void fake_provider_init(struct fake_provider *p)
{
    memset(p, 0, sizeof(*p));
    p->hdr.ops = &fake_provider_ops;
    p->tracer.hdr.ops = &fake_tracer_ops;
    p->tracer.span.hdr.ops = &fake_span_ops;
    p->tracer.span.gen = 1;
}

static void test_global_proxy_follows_the_registered_provider(void **state)
{
    (void)state;
    char name_buf[] = "my.lib";
    otel_tracer_options opts = { .version = OTEL_STR("1.2") };
    otel_tracer *proxy = otel_global_get_tracer(otel_str_from_cstr(name_buf), &opts);
    memset(name_buf, 'x', sizeof(name_buf) - 1); /* arguments were copied */
    assert_ptr_equal(otel_global_get_tracer(OTEL_STR("my.lib"), &opts), proxy);
    assert_ptr_not_equal(otel_global_get_tracer(OTEL_STR("my.lib"), NULL), proxy);
    assert_false(otel_tracer_enabled(proxy));
    assert_null(otel_tracer_start_span(proxy, OTEL_STR("s"), NULL).impl);

    static struct fake_provider p1, p2;
    fake_provider_init(&p1);
    fake_provider_init(&p2);
    otel_global_set_tracer_provider(&p1.hdr);
    assert_ptr_equal(otel_global_tracer_provider(), &p1.hdr);
    assert_true(otel_tracer_enabled(proxy));
    otel_span s = otel_tracer_start_span(proxy, OTEL_STR("s"), NULL);
    assert_ptr_equal(s.impl, &p1.tracer.span.hdr);
    otel_tracer_start_span(proxy, OTEL_STR("s"), NULL);
    assert_int_equal(p1.tracer.starts, 2);
    assert_int_equal(p1.get_tracer_calls, 1); /* cached for the epoch */
    assert_string_equal(p1.last_name, "my.lib");
    assert_string_equal(p1.last_version, "1.2");

    otel_global_set_tracer_provider(&p2.hdr);
    s = otel_tracer_start_span(proxy, OTEL_STR("s"), NULL);
    assert_ptr_equal(s.impl, &p2.tracer.span.hdr);
    assert_int_equal(p2.get_tracer_calls, 1);
    assert_int_equal(p1.tracer.starts, 2);

    /* Setting the same provider again costs one more lookup, nothing else. */
    otel_global_set_tracer_provider(&p2.hdr);
    otel_tracer_start_span(proxy, OTEL_STR("s"), NULL);
    assert_int_equal(p2.tracer.starts, 2);

    assert_false(otel_global_unset_tracer_provider(&p1.hdr));
    assert_ptr_equal(otel_global_tracer_provider(), &p2.hdr);
    assert_true(otel_global_unset_tracer_provider(&p2.hdr));
    assert_ptr_equal(otel_global_tracer_provider(), otel__noop_tracer_provider());
    assert_null(otel_tracer_start_span(proxy, OTEL_STR("s"), NULL).impl);
    assert_int_equal(p2.tracer.starts, 2);
}

static void test_global_proxy_copies_scope_attributes(void **state)
{
    (void)state;
    char key[] = "scope.key", value[] = "scope-value", schema[] = "https://schema/1";
    int64_t ints[3] = { 1, 2, 3 };
    char s0[] = "ab", s1[] = "cde";
    otel_str strs[2] = { { s0, 2 }, { s1, 3 } };
    otel_attr attrs[3] = {
        { otel_str_from_cstr(key), otel_value_str(otel_str_from_cstr(value)) },
        { OTEL_STR("ints"), otel_value_array(OTEL_VALUE_INT, ints, 3) },
        { OTEL_STR("strs"), otel_value_array(OTEL_VALUE_STR, strs, 2) },
    };
    otel_tracer_options opts = {
        .version = OTEL_STR("9"), .schema_url = otel_str_from_cstr(schema), .attrs = attrs, .attr_count = 3
    };
    otel_tracer *proxy = otel_global_get_tracer(OTEL_STR("scoped"), &opts);
    /* Scribble over everything the caller passed. */
    memset(key, 'x', sizeof(key) - 1);
    memset(value, 'x', sizeof(value) - 1);
    memset(schema, 'x', sizeof(schema) - 1);
    memset(ints, 0, sizeof(ints));
    memset(s0, 'x', 2);
    memset(s1, 'x', 3);
    memset(strs, 0, sizeof(strs));
    memset(attrs, 0, sizeof(attrs));

    static struct fake_provider p;
    fake_provider_init(&p);
    otel_global_set_tracer_provider(&p.hdr);
    otel_tracer_start_span(proxy, OTEL_STR("s"), NULL);
    assert_int_equal(p.get_tracer_calls, 1);
    assert_string_equal(p.last_name, "scoped");
    assert_string_equal(p.last_version, "9");
    assert_string_equal(p.last_schema, "https://schema/1");
    assert_int_equal(p.last_attr_count, 3);
    assert_string_equal(p.last_attr0_str, "scope.key=scope-value");
    assert_int_equal(p.last_attr1_ints[2], 3);
    assert_string_equal(p.last_attr2_items[0], "ab");
    assert_string_equal(p.last_attr2_items[1], "cde");
    otel_global_set_tracer_provider(NULL);
}

static void test_global_proxy_creation_survives_allocation_failure(void **state)
{
    (void)state;
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("a", "b") };
    otel_tracer_options opts = {
        .version = OTEL_STR("1"), .schema_url = OTEL_STR("s"), .attrs = attrs, .attr_count = 1
    };
    otel_log_set_level(OTEL_LOG_NONE); /* the out-of-memory diagnostics are expected */
    failalloc_install();
    otel_global_get_tracer(OTEL_STR("fa-0"), &opts);
    size_t n = failalloc_count(); /* a proxy is kept for the process: not a leak */
    assert_int_equal(n, 5);
    for (size_t k = 1; k <= n; k++) {
        char name[16];
        snprintf(name, sizeof(name), "fa-%zu", k);
        long before = failalloc_live();
        failalloc_fail_at(k);
        otel_tracer *t = otel_global_get_tracer(otel_str_from_cstr(name), &opts);
        assert_ptr_equal(t, otel__noop_tracer());
        assert_int_equal(failalloc_live(), before);
    }
    failalloc_uninstall();
    otel_log_set_level(OTEL_LOG_INFO);
}

static void test_set_null_restores_the_noop_provider(void **state)
{
    (void)state;
    static struct fake_provider p;
    fake_provider_init(&p);
    otel_global_set_tracer_provider(&p.hdr);
    otel_global_set_tracer_provider(NULL);
    assert_ptr_equal(otel_global_tracer_provider(), otel__noop_tracer_provider());
    assert_false(otel_global_unset_tracer_provider(NULL));
}

static void test_start_span_passes_the_resolved_parent(void **state)
{
    (void)state;
    static struct fake_provider p;
    fake_provider_init(&p);
    otel_tracer *t = otel_tracer_provider_get_tracer(&p.hdr, OTEL_STR("x"), NULL);
    assert_ptr_equal(t, &p.tracer.hdr);

    otel_tracer_start_span(t, OTEL_STR("root"), NULL);
    assert_false(otel_span_context_is_valid(&p.tracer.last_parent.span_context));
    assert_null(p.tracer.last_parent.context);

    otel_span_context sc = make_sc(7);
    otel_span parent_span = otel_nonrecording_span_create(&sc, NULL);
    otel_context_token tok = otel_span_make_current(parent_span);
    otel_tracer_start_span(t, OTEL_STR("child"), NULL);
    assert_true(sc_eq(p.tracer.last_parent.span_context, sc));
    assert_ptr_equal(p.tracer.last_parent.span.impl, parent_span.impl);

    otel_context *ctx = otel_context_current();
    otel_tracer_start_span(t, OTEL_STR("child"), NULL);
    assert_ptr_equal(p.tracer.last_parent.context, ctx); /* materialized, so passed along */
    otel_span_start_options root = { .flags = OTEL_SPAN_START_ROOT };
    otel_tracer_start_span(t, OTEL_STR("root"), &root);
    assert_false(otel_span_context_is_valid(&p.tracer.last_parent.span_context));
    assert_null(p.tracer.last_parent.span.impl);
    otel_context_release(ctx);
    assert_int_equal(otel_context_detach(tok), OTEL_OK);
    otel_span_end(parent_span);
}

static void test_dispatch_reaches_the_span_implementation(void **state)
{
    (void)state;
    static struct fake_provider p;
    fake_provider_init(&p);
    otel_span s = otel_tracer_start_span(&p.tracer.hdr, OTEL_STR("s"), NULL);
    struct fake_span *f = &p.tracer.span;
    otel_span_set_attr_int(s, OTEL_STR("n"), 42);
    assert_int_equal(f->set_attrs_calls, 1);
    assert_int_equal(f->last_attr_count, 1);
    assert_true(otel_str_eq(f->last_attrs[0].key, OTEL_STR("n")));
    assert_int_equal(f->last_attrs[0].value.as.i, 42);
    assert_true(otel_span_is_recording(s));
    /* Operations the fake leaves NULL are skipped. */
    otel_span_set_status(s, OTEL_SPAN_STATUS_OK, OTEL_STR(""));
    otel_span_update_name(s, OTEL_STR("x"));
    otel_span_add_link(s, &(otel_link){ .context = make_sc(1) });
    otel_span_context sc = otel_span_get_context(s);
    assert_false(otel_span_context_is_valid(&sc));
    assert_null(otel_span_get_trace_state(s));
    otel_span_end_at(s, 1234);
    assert_int_equal(f->ends, 1);
    assert_int_equal(f->last_end_ns, 1234);
    otel_span_end(s);
    assert_int_equal(f->ends, 1); /* the fake's generation check */
    assert_false(otel_span_is_recording(s));
}

static void test_record_exception_builds_the_exception_event(void **state)
{
    (void)state;
    static struct fake_provider p;
    fake_provider_init(&p);
    otel_span s = otel_tracer_start_span(&p.tracer.hdr, OTEL_STR("s"), NULL);
    struct fake_span *f = &p.tracer.span;
    otel_attr extra[] = { OTEL_ATTR_INT("retry", 3) };
    otel_span_record_exception(s, OTEL_STR("IOError"), OTEL_STR(""), OTEL_STR("at main"), extra, 1);
    assert_int_equal(f->events, 1);
    assert_true(otel_str_eq(f->last_event_name, OTEL_STR("exception")));
    assert_int_equal(f->last_attr_count, 3);
    assert_true(otel_str_eq(f->last_attrs[0].key, OTEL_STR("exception.type")));
    assert_true(otel_str_eq(f->last_attrs[0].value.as.s, OTEL_STR("IOError")));
    assert_true(otel_str_eq(f->last_attrs[1].key, OTEL_STR("exception.stacktrace")));
    assert_true(otel_str_eq(f->last_attrs[2].key, OTEL_STR("retry")));

    /* Many extra attributes: none lost, no overflow. */
    otel_attr many[40];
    for (int i = 0; i < 40; i++)
        many[i] = OTEL_ATTR_INT("i", i);
    otel_span_record_exception(s, OTEL_STR("T"), OTEL_STR("m"), OTEL_STR("st"), many, 40);
    assert_int_equal(f->last_attr_count, 43);
    assert_int_equal(f->last_attrs[42].value.as.i, 39);
    otel_span_record_exception(s, OTEL_STR(""), OTEL_STR(""), OTEL_STR(""), NULL, 0);
    assert_int_equal(f->last_attr_count, 0);
    otel_span_end(s);
}

static void test_provider_get_tracer_with_null_provider_gives_noop(void **state)
{
    (void)state;
    otel_tracer *t = otel_tracer_provider_get_tracer(NULL, OTEL_STR("x"), NULL);
    assert_ptr_equal(t, otel__noop_tracer());
    assert_false(otel_tracer_enabled(t));
    assert_false(otel_tracer_enabled(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_sdk_a_root_span_is_none),
        cmocka_unit_test(test_without_sdk_a_child_of_a_remote_parent_carries_its_context),
        cmocka_unit_test(test_operations_on_none_are_harmless),
        cmocka_unit_test(test_operations_on_an_ended_span_are_harmless),
        cmocka_unit_test(test_a_stale_handle_never_sees_the_recycled_record),
        cmocka_unit_test(test_nonrecording_create_with_invalid_context_is_none),
        cmocka_unit_test(test_nonrecording_pool_grows_past_one_slab),
        cmocka_unit_test(test_global_proxy_follows_the_registered_provider),
        cmocka_unit_test(test_global_proxy_copies_scope_attributes),
        cmocka_unit_test(test_global_proxy_creation_survives_allocation_failure),
        cmocka_unit_test(test_set_null_restores_the_noop_provider),
        cmocka_unit_test(test_start_span_passes_the_resolved_parent),
        cmocka_unit_test(test_dispatch_reaches_the_span_implementation),
        cmocka_unit_test(test_record_exception_builds_the_exception_event),
        cmocka_unit_test(test_provider_get_tracer_with_null_provider_gives_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
