/* The composite propagator (first valid span context wins, baggage merges, fields union,
 * ownership), OTEL_PROPAGATORS parsing (default, case, trimming, duplicates, unknown names,
 * "none", Datadog interop), the no-op propagator and the header buffer writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "log_capture.h"
#include "prop_test_util.h"

#define TP_A "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaaa-01"
#define B3_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-bbbbbbbbbbbbbbbb-1"

/* Captured diagnostics: warnings and errors only. */
static int setup(void **state)
{
    (void)state;
    log_capture_start(OTEL_LOG_WARN);
    return 0;
}

static otel_propagator from_names(const char *names)
{
    otel_propagator p;
    assert_int_equal(otel_propagators_from_names(otel_str_from_cstr(names), &p), OTEL_OK);
    return p;
}

/* The fields of |p| joined with ','. */
static const char *fields_of(const otel_propagator *p, char *buf, size_t cap)
{
    otel_str names[32];
    size_t n = p->fields(p->user_data, names, COUNT(names));
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < COUNT(names); i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%.*s", i ? "," : "", (int)names[i].len, names[i].data);
    }
    return buf;
}

static otel_propagator make(otel_status (*fn)(otel_propagator *))
{
    otel_propagator p;
    assert_int_equal(fn(&p), OTEL_OK);
    return p;
}

static void test_first_valid_span_context_wins(void **state)
{
    (void)state;
    otel_header h[] = { H("traceparent", TP_A), H("tracestate", "a=1"), H("b3", B3_B) };
    otel_propagator list1[] = { make(otel_propagator_tracecontext), make(otel_propagator_b3) };
    otel_propagator tc_b3;
    assert_int_equal(otel_propagator_composite(list1, 2, &tc_b3), OTEL_OK);
    otel_context *c = extract_list(&tc_b3, h, COUNT(h));
    char t[33], buf[64];
    assert_string_equal(trace_hex(c, t), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_string_equal(ts_str(c, buf, sizeof(buf)), "a=1");
    assert_true(otel_context_get_span_context(c).is_remote);
    otel_context_release(c);

    otel_propagator list2[] = { make(otel_propagator_b3), make(otel_propagator_tracecontext) };
    otel_propagator b3_tc;
    assert_int_equal(otel_propagator_composite(list2, 2, &b3_tc), OTEL_OK);
    c = extract_list(&b3_tc, h, COUNT(h));
    assert_string_equal(trace_hex(c, t), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_null(otel_context_get_trace_state(c));
    otel_context_release(c);

    /* When the first format is absent or invalid, the next one is used. */
    otel_header only_b3[] = { H("traceparent", "garbage"), H("b3", B3_B) };
    c = extract_list(&tc_b3, only_b3, COUNT(only_b3));
    assert_string_equal(trace_hex(c, t), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    otel_context_release(c);
    otel_propagator_destroy(&tc_b3);
    otel_propagator_destroy(&b3_tc);
}

static void test_same_context_from_two_formats_keeps_first_trace_state(void **state)
{
    (void)state;
    otel_header h[] = { H("traceparent", "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaaa-01"),
                        H("tracestate", "a=1"),
                        H("b3", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaaa-1") };
    otel_propagator list[] = { make(otel_propagator_tracecontext), make(otel_propagator_b3) };
    otel_propagator p;
    assert_int_equal(otel_propagator_composite(list, 2, &p), OTEL_OK);
    otel_context *c = extract_list(&p, h, COUNT(h));
    char buf[64];
    assert_string_equal(ts_str(c, buf, sizeof(buf)), "a=1");
    otel_context_release(c);
    otel_propagator_destroy(&p);
}

static void test_baggage_merges_across_members(void **state)
{
    (void)state;
    otel_header h[] = { H("b3", B3_B), H("traceparent", TP_A), H("baggage", "k=w3c,w=1"),
                        H("uberctx-k", "jaeger"), H("uberctx-j", "2") };
    otel_propagator p = from_names("b3,tracecontext,baggage,jaeger");
    otel_context *c = extract_list(&p, h, COUNT(h));
    char t[33];
    assert_string_equal(trace_hex(c, t), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_true(bg_is(c, "w", "1"));
    assert_true(bg_is(c, "j", "2"));
    assert_true(bg_is(c, "k", "jaeger")); /* the later member's entry replaces the earlier one */
    otel_context_release(c);
    otel_propagator_destroy(&p);
}

static void test_inject_runs_every_member(void **state)
{
    (void)state;
    otel_propagator p = from_names("tracecontext,b3multi,jaeger,datadog");
    otel_context *c = ctx_with(make_sc("0000000000000000000000000000000f", "00000000000000ff", 1), NULL);
    test_out o;
    inject_into(&p, c, &o);
    assert_true(out_is(&o, "traceparent", "00-0000000000000000000000000000000f-00000000000000ff-01"));
    assert_true(out_is(&o, "x-b3-traceid", "0000000000000000000000000000000f"));
    assert_true(out_is(&o, "uber-trace-id", "0000000000000000000000000000000f:00000000000000ff:0:01"));
    assert_true(out_is(&o, "x-datadog-trace-id", "15"));
    assert_true(out_is(&o, "x-datadog-parent-id", "255"));
    /* "datadog" in the list turns the tracecontext Datadog interop on. */
    assert_true(out_is(&o, "tracestate", "dd=s:1;p:00000000000000ff"));
    otel_context_release(c);
    otel_propagator_destroy(&p);
}

static void test_fields_are_the_union_in_order(void **state)
{
    (void)state;
    otel_propagator p = from_names("tracecontext,baggage,b3,b3multi,jaeger,datadog");
    char buf[512];
    assert_string_equal(fields_of(&p, buf, sizeof(buf)),
                        "traceparent,tracestate,baggage,b3,x-b3-traceid,x-b3-spanid,x-b3-sampled,"
                        "x-b3-flags,uber-trace-id,x-datadog-trace-id,x-datadog-parent-id,"
                        "x-datadog-sampling-priority,x-datadog-origin,x-datadog-tags");
    otel_propagator_destroy(&p);
    otel_propagator list[] = { make(otel_propagator_b3), make(otel_propagator_b3) };
    assert_int_equal(otel_propagator_composite(list, 2, &p), OTEL_OK);
    assert_string_equal(fields_of(&p, buf, sizeof(buf)), "b3");
    otel_propagator_destroy(&p);
}

static void test_empty_composite_does_nothing(void **state)
{
    (void)state;
    otel_propagator p;
    assert_int_equal(otel_propagator_composite(NULL, 0, &p), OTEL_OK);
    otel_header h[] = { H("traceparent", TP_A) };
    assert_null(extract_list(&p, h, 1));
    assert_int_equal(p.fields(p.user_data, NULL, 0), 0);
    otel_propagator_destroy(&p);
    assert_int_equal(otel_propagator_composite(NULL, 1, &p), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_propagator_composite(NULL, 0, NULL), OTEL_ERR_INVALID_ARG);
}

/* A member that counts its destroy calls, to check ownership. */
static int g_destroyed;
static void count_destroy(void *user_data)
{
    (void)user_data;
    g_destroyed++;
}

static void test_composite_owns_members(void **state)
{
    (void)state;
    otel_propagator m = make(otel_propagator_none);
    m.destroy = count_destroy;
    otel_propagator list[] = { m, m };
    otel_propagator p;
    g_destroyed = 0;
    assert_int_equal(otel_propagator_composite(list, 2, &p), OTEL_OK);
    assert_int_equal(g_destroyed, 0);
    otel_propagator_destroy(&p);
    assert_int_equal(g_destroyed, 2);
    assert_null(p.inject);
    otel_propagator_destroy(&p); /* zeroed: harmless */
    otel_propagator_destroy(NULL);
    assert_int_equal(g_destroyed, 2);
}

static void test_global_propagator_with_composite(void **state)
{
    (void)state;
    otel_propagator p = from_names("");
    otel_global_set_propagator(&p);
    otel_header h[] = { H("traceparent", TP_A), H("baggage", "k=v") };
    otel_header_list list = { h, COUNT(h) };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *c = otel_global_extract(NULL, &r);
    assert_true(ctx_valid(c));
    assert_true(bg_is(c, "k", "v"));
    test_out o;
    out_init(&o);
    otel_carrier_writer w = otel_header_buffer_writer(&o.buf);
    otel_global_inject(c, &w);
    assert_true(out_is(&o, "traceparent", TP_A));
    assert_true(out_is(&o, "baggage", "k=v"));
    otel_context_release(c);
    otel_global_propagator_shutdown();
}

/* ---------------------------------------------------------------------------------------------
 * OTEL_PROPAGATORS
 * ------------------------------------------------------------------------------------------- */

static void test_default_is_tracecontext_and_baggage(void **state)
{
    (void)state;
    const char *defaults[] = { "", " ", " , ,", "\t" };
    for (size_t i = 0; i < COUNT(defaults); i++) {
        otel_propagator p = from_names(defaults[i]);
        char buf[128];
        assert_string_equal(fields_of(&p, buf, sizeof(buf)), "traceparent,tracestate,baggage");
        otel_propagator_destroy(&p);
    }
    otel_propagator p;
    assert_int_equal(otel_propagators_from_names((otel_str){ NULL, 0 }, &p), OTEL_OK);
    otel_propagator_destroy(&p);
    assert_int_equal(otel_propagators_from_names(OTEL_STR("b3"), NULL), OTEL_ERR_INVALID_ARG);
    assert_int_equal(log_capture_count(), 0);
}

static void test_names_are_case_insensitive_trimmed_and_deduplicated(void **state)
{
    (void)state;
    otel_propagator p = from_names(" B3Multi ,\tTRACECONTEXT,b3multi, tracecontext ,,Baggage");
    char buf[256];
    assert_string_equal(fields_of(&p, buf, sizeof(buf)),
                        "x-b3-traceid,x-b3-spanid,x-b3-sampled,x-b3-flags,traceparent,tracestate,baggage");
    otel_propagator_destroy(&p);
    assert_int_equal(log_capture_count(), 0);
}

static void test_single_name_gives_that_propagator(void **state)
{
    (void)state;
    otel_propagator p = from_names("jaeger");
    char buf[64];
    assert_string_equal(fields_of(&p, buf, sizeof(buf)), "uber-trace-id");
    assert_null(p.destroy); /* not wrapped in a composite */
    otel_propagator_destroy(&p);
}

static void test_unknown_names_are_reported_once_and_skipped(void **state)
{
    (void)state;
    log_capture_reset();
    otel_propagator p = from_names("tracecontext,foo,xray,FOO,ottrace,b3");
    char buf[128];
    assert_string_equal(fields_of(&p, buf, sizeof(buf)), "traceparent,tracestate,b3");
    assert_int_equal(log_capture_count(), 3);
    assert_non_null(strstr(logged, "\"foo\""));
    assert_non_null(strstr(logged, "\"xray\""));
    assert_non_null(strstr(logged, "\"ottrace\""));
    otel_propagator_destroy(&p);

    log_capture_reset();
    p = from_names("nope");
    assert_int_equal(p.fields(p.user_data, NULL, 0), 0);
    otel_header h[] = { H("traceparent", TP_A) };
    assert_null(extract_list(&p, h, 1));
    assert_int_equal(log_capture_count(), 2); /* the name, then "no usable propagator" */
    otel_propagator_destroy(&p);
}

static void test_none_disables_propagation(void **state)
{
    (void)state;
    log_capture_reset();
    otel_propagator p = from_names("none");
    otel_header h[] = { H("traceparent", TP_A), H("baggage", "k=v") };
    assert_null(extract_list(&p, h, COUNT(h)));
    otel_context *c = ctx_with(make_sc("0000000000000000000000000000000f", "00000000000000ff", 1), NULL);
    test_out o;
    inject_into(&p, c, &o);
    assert_int_equal(o.buf.count, 0);
    assert_int_equal(log_capture_count(), 0);
    otel_propagator_destroy(&p);

    p = from_names("tracecontext,NONE");
    assert_int_equal(p.fields(p.user_data, NULL, 0), 0);
    assert_int_equal(log_capture_count(), 1);
    otel_propagator_destroy(&p);
    otel_context_release(c);
}

static void test_tracecontext_without_datadog_has_no_interop(void **state)
{
    (void)state;
    otel_propagator p = from_names("tracecontext,b3");
    otel_context *c = ctx_with(make_sc("0000000000000000000000000000000f", "00000000000000ff", 1), NULL);
    test_out o;
    inject_into(&p, c, &o);
    assert_null(out_get(&o, "tracestate").data);
    otel_context_release(c);
    otel_propagator_destroy(&p);
}

/* ---------------------------------------------------------------------------------------------
 * Header buffer
 * ------------------------------------------------------------------------------------------- */

static void test_header_buffer_replaces_and_counts_drops(void **state)
{
    (void)state;
    otel_header hs[2];
    char bytes[32];
    otel_header_buffer b;
    otel_header_buffer_init(&b, hs, 2, bytes, sizeof(bytes));
    otel_carrier_writer w = otel_header_buffer_writer(&b);
    w.set(w.user_data, OTEL_STR("a"), OTEL_STR("1"));
    w.set(w.user_data, OTEL_STR("B"), OTEL_STR("2"));
    w.set(w.user_data, OTEL_STR("A"), OTEL_STR("3")); /* replaces "a" in place */
    assert_int_equal(b.count, 2);
    assert_true(otel_str_eq(hs[0].name, OTEL_STR("a")));
    assert_true(otel_str_eq(hs[0].value, OTEL_STR("3")));
    w.set(w.user_data, OTEL_STR("c"), OTEL_STR("4")); /* no slot left */
    assert_int_equal(b.dropped, 1);
    w.set(w.user_data, OTEL_STR("b"), OTEL_STR("a value far too long for the bytes"));
    assert_int_equal(b.dropped, 2);
    assert_true(otel_str_eq(hs[1].value, OTEL_STR("2")));
    otel_header_list l = otel_header_buffer_list(&b);
    assert_int_equal(l.count, 2);
    otel_header_buffer_reset(&b);
    assert_int_equal(b.count, 0);
    assert_int_equal(b.dropped, 0);
    assert_int_equal(otel_header_buffer_list(NULL).count, 0);
}

/* Values and names of every length up to 80 bytes are copied exactly, back to back, without
 * touching the bytes after them. */
static void test_header_buffer_copies_every_length_exactly(void **state)
{
    (void)state;
    char src[81];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)('A' + i % 50);
    for (size_t len = 0; len <= 80; len++) {
        otel_header hs[2];
        char bytes[256];
        memset(bytes, '#', sizeof(bytes));
        otel_header_buffer b;
        otel_header_buffer_init(&b, hs, 2, bytes, 2 * len + 5);
        otel_carrier_writer w = otel_header_buffer_writer(&b);
        w.set(w.user_data, (otel_str){ "k1234", 5 }, (otel_str){ src, len });
        w.set(w.user_data, (otel_str){ "k1234", 5 }, (otel_str){ src + 1, len }); /* replaces */
        assert_int_equal(b.count, 1);
        assert_int_equal(b.dropped, 0);
        assert_int_equal(b.bytes_used, 2 * len + 5);
        assert_true(otel_str_eq(hs[0].name, OTEL_STR("k1234")));
        assert_int_equal(hs[0].value.len, len);
        assert_memory_equal(hs[0].value.data, src + 1, len);
        assert_memory_equal(bytes, src, len);
        for (size_t i = 2 * len + 5; i < sizeof(bytes); i++)
            assert_int_equal(bytes[i], '#');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_valid_span_context_wins, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_same_context_from_two_formats_keeps_first_trace_state, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_baggage_merges_across_members, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_inject_runs_every_member, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_fields_are_the_union_in_order, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_composite_does_nothing, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_composite_owns_members, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_global_propagator_with_composite, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_default_is_tracecontext_and_baggage, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_names_are_case_insensitive_trimmed_and_deduplicated, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_single_name_gives_that_propagator, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_names_are_reported_once_and_skipped, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_none_disables_propagation, setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_tracecontext_without_datadog_has_no_interop, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_header_buffer_replaces_and_counts_drops, setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_header_buffer_copies_every_length_exactly, setup,
                                        log_capture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
