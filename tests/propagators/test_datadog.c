/* Datadog propagator: decimal ids, sampling priority, origin and x-datadog-tags (_dd.p.tid for
 * the high 64 bits, _dd.p.* kept in the tracestate "dd" member), the tags length limit in both
 * directions, malformed input, round trips, and interop with the tracecontext propagator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "prop_test_util.h"

static otel_propagator g_dd;

static int setup(void **state)
{
    (void)state;
    return otel_propagator_datadog(NULL, &g_dd) == OTEL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    otel_propagator_destroy(&g_dd);
    return 0;
}

static const char *dd_member(const otel_context *c, char *buf, size_t cap)
{
    otel_str v;
    buf[0] = '\0';
    if (otel_trace_state_get(otel_context_get_trace_state(c), OTEL_STR("dd"), &v))
        snprintf(buf, cap, "%.*s", (int)v.len, v.data);
    return buf;
}

static void test_ids_priority_origin_and_tags(void **state)
{
    (void)state;
    otel_header h[] = {
        H("x-datadog-trace-id", "7277407061855694839"),
        H("x-datadog-parent-id", "5208689426229999396"),
        H("x-datadog-sampling-priority", "2"),
        H("x-datadog-origin", "rum"),
        H("x-datadog-tags", "_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000,_dd.p.usr.id=baz64,other=1"),
    };
    otel_context *c = extract_list(&g_dd, h, COUNT(h));
    char t[33], s[17], m[300];
    /* 7277407061855694839 = 0x64fe8b2a57d3eff7; 5208689426229999396 = 0x4848fb6fb3c5b724 */
    assert_string_equal(trace_hex(c, t), "640cfd8d0000000064fe8b2a57d3eff7");
    assert_string_equal(span_hex(c, s), "4848fb6fb3c5b724");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    assert_true(otel_context_get_span_context(c).is_remote);
    assert_string_equal(dd_member(c, m, sizeof(m)), "s:2;o:rum;t.dm:-4;t.usr.id:baz64");
    otel_context_release(c);
}

static void test_priority_decides_sampled_flag(void **state)
{
    (void)state;
    struct {
        const char *prio;
        uint8_t flags;
        const char *member;
    } cases[] = { { "-1", 0, "s:-1" }, { "0", 0, "s:0" }, { "1", 1, "s:1" },
                  { "2", 1, "s:2" },   { "x", 0, "" },    { NULL, 0, "" } };
    for (size_t i = 0; i < COUNT(cases); i++) {
        otel_header h[3] = { H("x-datadog-trace-id", "1"), H("x-datadog-parent-id", "2") };
        size_t n = 2;
        if (cases[i].prio)
            h[n++] =
                (otel_header){ OTEL_STR("x-datadog-sampling-priority"), otel_str_from_cstr(cases[i].prio) };
        otel_context *c = extract_list(&g_dd, h, n);
        assert_true(ctx_valid(c));
        assert_int_equal(ctx_flags(c), cases[i].flags);
        char m[64];
        assert_string_equal(dd_member(c, m, sizeof(m)), cases[i].member);
        otel_context_release(c);
    }
}

static void test_missing_or_invalid_ids_give_nothing(void **state)
{
    (void)state;
    const char *ids[][2] = {
        { "0", "1" }, { "1", "0" },   { "-1", "1" },   { "1", "x" }, { "18446744073709551616", "1" },
        { "", "1" },  { "1 2", "1" }, { "0x10", "1" },
    };
    for (size_t i = 0; i < COUNT(ids); i++) {
        otel_header h[] = { { OTEL_STR("x-datadog-trace-id"), otel_str_from_cstr(ids[i][0]) },
                            { OTEL_STR("x-datadog-parent-id"), otel_str_from_cstr(ids[i][1]) } };
        assert_null(extract_list(&g_dd, h, 2));
    }
    otel_header only[] = { H("x-datadog-trace-id", "1") };
    assert_null(extract_list(&g_dd, only, 1));
    otel_header max[] = { H("x-datadog-trace-id", "18446744073709551615"), H("x-datadog-parent-id", " 1 ") };
    otel_context *c = extract_list(&g_dd, max, 2);
    char t[33];
    assert_string_equal(trace_hex(c, t), "0000000000000000ffffffffffffffff");
    otel_context_release(c);
}

static void test_malformed_tags_are_ignored_as_a_whole(void **state)
{
    (void)state;
    const char *bad[] = { "_dd.p.dm", "_dd.p.dm=-4,", ",_dd.p.dm=-4", "_dd.p.dm=-4,,x=1",
                          "=1",       "_dd.p.dm=",    "_dd.p.d m=1",  "_dd.p.dm=\x01" };
    for (size_t i = 0; i < COUNT(bad); i++) {
        otel_header h[] = { H("x-datadog-trace-id", "1"),
                            H("x-datadog-parent-id", "2"),
                            { OTEL_STR("x-datadog-tags"), otel_str_from_cstr(bad[i]) } };
        otel_context *c = extract_list(&g_dd, h, 3);
        assert_true(ctx_valid(c));
        char m[64];
        assert_string_equal(dd_member(c, m, sizeof(m)), "");
        otel_context_release(c);
    }
}

static void test_malformed_tid_loses_only_the_high_bits(void **state)
{
    (void)state;
    const char *tids[] = { "640CFD8D00000000", "640cfd8d0000000", "640cfd8d000000000", "zzzzzzzzzzzzzzzz" };
    for (size_t i = 0; i < COUNT(tids); i++) {
        char tags[64];
        snprintf(tags, sizeof(tags), "_dd.p.tid=%s,_dd.p.dm=-1", tids[i]);
        otel_header h[] = { H("x-datadog-trace-id", "1"),
                            H("x-datadog-parent-id", "2"),
                            { OTEL_STR("x-datadog-tags"), otel_str_from_cstr(tags) } };
        otel_context *c = extract_list(&g_dd, h, 3);
        char t[33], m[64];
        assert_string_equal(trace_hex(c, t), "00000000000000000000000000000001");
        assert_string_equal(dd_member(c, m, sizeof(m)), "t.dm:-1");
        otel_context_release(c);
    }
}

static void test_tags_over_the_limit_are_ignored(void **state)
{
    (void)state;
    char tags[600];
    strcpy(tags, "_dd.p.dm=-4,_dd.p.x=");
    size_t len = strlen(tags);
    memset(tags + len, 'a', 512 - len);
    tags[512] = '\0';
    otel_header h[] = { H("x-datadog-trace-id", "1"),
                        H("x-datadog-parent-id", "2"),
                        { OTEL_STR("x-datadog-tags"), otel_str_from_cstr(tags) } };
    otel_context *c = extract_list(&g_dd, h, 3);
    char m[400];
    /* Exactly 512 bytes is accepted; the member drops the field that does not fit in 256. */
    assert_string_equal(dd_member(c, m, sizeof(m)), "t.dm:-4");
    otel_context_release(c);
    tags[512] = 'a';
    tags[513] = '\0';
    h[2].value = otel_str_from_cstr(tags);
    c = extract_list(&g_dd, h, 3);
    assert_true(ctx_valid(c));
    assert_string_equal(dd_member(c, m, sizeof(m)), "");
    otel_context_release(c);

    /* A smaller configured limit. */
    otel_propagator small;
    otel_datadog_propagator_options o = { .tags_max_bytes = 10 };
    assert_int_equal(otel_propagator_datadog(&o, &small), OTEL_OK);
    otel_header h2[] = { H("x-datadog-trace-id", "1"), H("x-datadog-parent-id", "2"),
                         H("x-datadog-tags", "_dd.p.dm=-4") };
    c = extract_list(&small, h2, 3);
    assert_string_equal(dd_member(c, m, sizeof(m)), "");
    otel_context_release(c);
    otel_propagator_destroy(&small);
}

static void test_origin_and_tag_values_are_escaped_for_tracestate(void **state)
{
    (void)state;
    otel_header h[] = { H("x-datadog-trace-id", "1"), H("x-datadog-parent-id", "2"),
                        H("x-datadog-origin", "a=b;c~d"), H("x-datadog-tags", "_dd.p.k=v=w;x~y") };
    otel_context *c = extract_list(&g_dd, h, COUNT(h));
    char m[128];
    assert_string_equal(dd_member(c, m, sizeof(m)), "o:a~b_c_d;t.k:v~w_x_y");
    /* '~' comes back as '=' on inject; '_' stays. */
    test_out o;
    inject_into(&g_dd, c, &o);
    assert_true(out_is(&o, "x-datadog-origin", "a=b_c_d"));
    assert_true(out_is(&o, "x-datadog-tags", "_dd.p.k=v=w_x_y"));
    otel_context_release(c);
}

static void test_inject_from_w3c_context(void **state)
{
    (void)state;
    otel_context *c = ctx_with(make_sc("640cfd8d0000000064fe8b2a57d3eff7", "4848fb6fb3c5b724", 1), NULL);
    test_out o;
    inject_into(&g_dd, c, &o);
    assert_true(out_is(&o, "x-datadog-trace-id", "7277407061855694839"));
    assert_true(out_is(&o, "x-datadog-parent-id", "5208689426229999396"));
    assert_true(out_is(&o, "x-datadog-sampling-priority", "1"));
    assert_true(out_is(&o, "x-datadog-tags", "_dd.p.tid=640cfd8d00000000"));
    assert_null(out_get(&o, "x-datadog-origin").data);
    otel_context_release(c);

    /* 64-bit trace id: no tags at all. Unsampled: priority 0. */
    c = ctx_with(make_sc("000000000000000064fe8b2a57d3eff7", "4848fb6fb3c5b724", 0), NULL);
    inject_into(&g_dd, c, &o);
    assert_true(out_is(&o, "x-datadog-sampling-priority", "0"));
    assert_null(out_get(&o, "x-datadog-tags").data);
    assert_int_equal(o.buf.count, 3);
    otel_context_release(c);

    /* Low 64 bits zero: Datadog cannot carry it. */
    c = ctx_with(make_sc("64fe8b2a57d3eff70000000000000000", "4848fb6fb3c5b724", 1), NULL);
    inject_into(&g_dd, c, &o);
    assert_int_equal(o.buf.count, 0);
    otel_context_release(c);
}

static void test_inject_priority_from_dd_member(void **state)
{
    (void)state;
    struct {
        const char *ts;
        uint8_t flags;
        const char *want;
    } cases[] = { { "dd=s:2", 1, "2" },
                  { "dd=s:2", 0, "0" },
                  { "dd=s:-1", 0, "-1" },
                  { "dd=s:-1", 1, "1" },
                  { "dd=o:x", 1, "1" } };
    for (size_t i = 0; i < COUNT(cases); i++) {
        otel_trace_state *ts = NULL;
        assert_int_equal(otel_trace_state_parse(otel_str_from_cstr(cases[i].ts), &ts), OTEL_OK);
        otel_context *c =
            ctx_with(make_sc("000000000000000064fe8b2a57d3eff7", "4848fb6fb3c5b724", cases[i].flags), ts);
        test_out o;
        inject_into(&g_dd, c, &o);
        assert_true(out_is(&o, "x-datadog-sampling-priority", cases[i].want));
        otel_context_release(c);
        otel_trace_state_release(ts);
    }
}

static void test_inject_omits_tags_over_the_limit_but_keeps_the_trace_id_high_half(void **state)
{
    (void)state;
    otel_propagator small;
    otel_datadog_propagator_options opts = { .tags_max_bytes = 20 };
    assert_int_equal(otel_propagator_datadog(&opts, &small), OTEL_OK);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("dd=t.dm:-4;t.long:aaaaaaaaaaaa"), &ts), OTEL_OK);
    otel_context *c = ctx_with(make_sc("000000000000000064fe8b2a57d3eff7", "4848fb6fb3c5b724", 1), ts);
    test_out o;
    inject_into(&small, c, &o);
    assert_true(out_is(&o, "x-datadog-trace-id", "7277407061855694839"));
    assert_null(out_get(&o, "x-datadog-tags").data);
    inject_into(&g_dd, c, &o);
    assert_true(out_is(&o, "x-datadog-tags", "_dd.p.dm=-4,_dd.p.long=aaaaaaaaaaaa"));
    otel_context_release(c);

    /* With a 128-bit trace id the high half is still sent when the other tags do not fit
     * (found by fuzz_datadog: the round trip changed the trace id). */
    otel_propagator medium;
    otel_datadog_propagator_options mo = { .tags_max_bytes = 40 };
    assert_int_equal(otel_propagator_datadog(&mo, &medium), OTEL_OK);
    c = ctx_with(make_sc("640cfd8d0000000064fe8b2a57d3eff7", "4848fb6fb3c5b724", 1), ts);
    inject_into(&medium, c, &o);
    assert_true(out_is(&o, "x-datadog-tags", "_dd.p.tid=640cfd8d00000000"));
    otel_context *back = extract_out(&medium, &o);
    otel_span_context a = otel_context_get_span_context(c), b = otel_context_get_span_context(back);
    assert_memory_equal(a.trace_id, b.trace_id, 16);
    otel_context_release(back);
    otel_context_release(c);
    /* A tag whose value ends in a space would lose it in transit (carriers trim) and make the
     * whole list malformed for the receiver: it is left out. */
    otel_trace_state *sp = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("dd=t.a: ;t.dm:-4"), &sp), OTEL_OK);
    c = ctx_with(make_sc("640cfd8d0000000064fe8b2a57d3eff7", "4848fb6fb3c5b724", 1), sp);
    inject_into(&g_dd, c, &o);
    assert_true(out_is(&o, "x-datadog-tags", "_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4"));
    otel_context_release(c);
    otel_trace_state_release(sp);
    otel_propagator_destroy(&medium);
    otel_trace_state_release(ts);
    otel_propagator_destroy(&small);
}

static void test_round_trip_with_tags(void **state)
{
    (void)state;
    otel_header h[] = {
        H("x-datadog-trace-id", "7277407061855694839"),
        H("x-datadog-parent-id", "5208689426229999396"),
        H("x-datadog-sampling-priority", "-1"),
        H("x-datadog-origin", "synthetics"),
        H("x-datadog-tags", "_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4"),
    };
    otel_context *c1 = extract_list(&g_dd, h, COUNT(h));
    test_out o;
    inject_into(&g_dd, c1, &o);
    assert_true(out_is(&o, "x-datadog-trace-id", "7277407061855694839"));
    assert_true(out_is(&o, "x-datadog-parent-id", "5208689426229999396"));
    assert_true(out_is(&o, "x-datadog-sampling-priority", "-1"));
    assert_true(out_is(&o, "x-datadog-origin", "synthetics"));
    assert_true(out_is(&o, "x-datadog-tags", "_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4"));
    otel_context *c2 = extract_out(&g_dd, &o);
    otel_span_context a = otel_context_get_span_context(c1), b = otel_context_get_span_context(c2);
    assert_memory_equal(a.trace_id, b.trace_id, 16);
    assert_memory_equal(a.span_id, b.span_id, 8);
    assert_int_equal(a.trace_flags, b.trace_flags);
    otel_context_release(c1);
    otel_context_release(c2);
}

static void test_dd_member_reaches_w3c_through_tracecontext(void **state)
{
    (void)state;
    otel_header h[] = {
        H("x-datadog-trace-id", "7277407061855694839"),
        H("x-datadog-parent-id", "5208689426229999396"),
        H("x-datadog-sampling-priority", "2"),
        H("x-datadog-origin", "rum"),
        H("x-datadog-tags", "_dd.p.dm=-4"),
    };
    otel_context *c = extract_list(&g_dd, h, COUNT(h));
    otel_propagator tc;
    otel_tracecontext_propagator_options opts = { .datadog_interop = true };
    assert_int_equal(otel_propagator_tracecontext_with_options(&opts, &tc), OTEL_OK);
    test_out o;
    inject_into(&tc, c, &o);
    assert_true(out_is(&o, "traceparent", "00-000000000000000064fe8b2a57d3eff7-4848fb6fb3c5b724-01"));
    assert_true(out_is(&o, "tracestate", "dd=s:2;p:4848fb6fb3c5b724;o:rum;t.dm:-4"));
    /* And back: a W3C hop keeps priority, origin and tags for the next Datadog hop. */
    otel_context *w3c = extract_out(&tc, &o);
    inject_into(&g_dd, w3c, &o);
    assert_true(out_is(&o, "x-datadog-sampling-priority", "2"));
    assert_true(out_is(&o, "x-datadog-origin", "rum"));
    assert_true(out_is(&o, "x-datadog-tags", "_dd.p.dm=-4"));
    otel_context_release(w3c);
    otel_context_release(c);
}

static void test_fields_and_null_out(void **state)
{
    (void)state;
    otel_str names[8];
    assert_int_equal(g_dd.fields(g_dd.user_data, names, 8), 5);
    assert_true(otel_str_eq(names[0], OTEL_STR("x-datadog-trace-id")));
    assert_true(otel_str_eq(names[4], OTEL_STR("x-datadog-tags")));
    assert_int_equal(otel_propagator_datadog(NULL, NULL), OTEL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_priority_origin_and_tags),
        cmocka_unit_test(test_priority_decides_sampled_flag),
        cmocka_unit_test(test_missing_or_invalid_ids_give_nothing),
        cmocka_unit_test(test_malformed_tags_are_ignored_as_a_whole),
        cmocka_unit_test(test_malformed_tid_loses_only_the_high_bits),
        cmocka_unit_test(test_tags_over_the_limit_are_ignored),
        cmocka_unit_test(test_origin_and_tag_values_are_escaped_for_tracestate),
        cmocka_unit_test(test_inject_from_w3c_context),
        cmocka_unit_test(test_inject_priority_from_dd_member),
        cmocka_unit_test(test_inject_omits_tags_over_the_limit_but_keeps_the_trace_id_high_half),
        cmocka_unit_test(test_round_trip_with_tags),
        cmocka_unit_test(test_dd_member_reaches_w3c_through_tracecontext),
        cmocka_unit_test(test_fields_and_null_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
