/* B3 propagators (single and multi header): the openzipkin/b3-propagation README cases and
 * the OpenTelemetry B3 requirements (single header first, debug implies sampled and is passed
 * on, no X-B3-ParentSpanId written, 64-bit ids left-padded), invalid inputs and round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "prop_test_util.h"

static otel_propagator g_single;
static otel_propagator g_multi;

static int setup(void **state)
{
    (void)state;
    if (otel_propagator_b3(&g_single) != OTEL_OK || otel_propagator_b3multi(&g_multi) != OTEL_OK)
        return -1;
    return 0;
}

static otel_context *single(const char *v)
{
    otel_header h[] = { { OTEL_STR("b3"), otel_str_from_cstr(v) } };
    return extract_list(&g_single, h, 1);
}

static void test_single_header_with_all_fields(void **state)
{
    (void)state;
    otel_context *c = single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90");
    char t[33], s[17];
    assert_string_equal(trace_hex(c, t), "80f198ee56343ba864fe8b2a57d3eff7");
    assert_string_equal(span_hex(c, s), "e457b5a2e4d86bd1");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    assert_true(otel_context_get_span_context(c).is_remote);
    otel_context_release(c);
}

static void test_single_header_sampling_states(void **state)
{
    (void)state;
    otel_context *c = single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1");
    assert_true(ctx_valid(c));
    assert_int_equal(ctx_flags(c), 0); /* defer: not sampled here */
    otel_context_release(c);
    c = single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0");
    assert_true(ctx_valid(c));
    assert_int_equal(ctx_flags(c), 0);
    otel_context_release(c);
    c = single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    otel_context_release(c);
}

static void test_single_header_64bit_trace_id_is_left_padded(void **state)
{
    (void)state;
    otel_context *c = single("64fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
    char t[33];
    assert_string_equal(trace_hex(c, t), "000000000000000064fe8b2a57d3eff7");
    otel_context_release(c);
}

static void test_sampling_only_headers_give_no_context(void **state)
{
    (void)state;
    const char *only[] = { "0", "1", "d" };
    for (size_t i = 0; i < COUNT(only); i++)
        assert_null(single(only[i]));
    otel_header h[] = { H("X-B3-Sampled", "0") };
    assert_null(extract_list(&g_multi, h, 1));
}

static void test_invalid_single_headers_are_ignored(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "x",
        "80f198ee56343ba864fe8b2a57d3eff7",
        "80f198ee56343ba864fe8b2a57d3eff7-",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-11",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
        "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1",
        "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1-1",
        "80f198ee56343ba8-e457b5a2e4d86bd-1",
        "00000000000000000000000000000000-e457b5a2e4d86bd1-1",
        "80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1",
        "80f198ee56343ba864fe8b2a57d3eff7--1",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        otel_context *c = single(bad[i]);
        assert_false(ctx_valid(c));
        otel_context_release(c);
    }
}

static void test_multi_headers(void **state)
{
    (void)state;
    otel_header h[] = {
        H("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
        H("X-B3-SpanId", "a2fb4a1d1a96d312"),
        H("X-B3-ParentSpanId", "0020000000000001"),
        H("X-B3-Sampled", "1"),
    };
    otel_context *c = extract_list(&g_multi, h, COUNT(h));
    char t[33], s[17];
    assert_string_equal(trace_hex(c, t), "463ac35c9f6413ad48485a3953bb6124");
    assert_string_equal(span_hex(c, s), "a2fb4a1d1a96d312");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    otel_context_release(c);
}

static void test_multi_sampled_values_and_debug(void **state)
{
    (void)state;
    struct {
        const char *sampled;
        const char *flags;
        uint8_t want;
    } cases[] = {
        { "1", NULL, 1 },  { "0", NULL, 0 }, { "true", NULL, 1 }, { "false", NULL, 0 }, { "yes", NULL, 0 },
        { NULL, NULL, 0 }, { NULL, "1", 1 }, { "0", "1", 1 },     { "1", "0", 1 },      { "0", "0", 0 },
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        otel_header h[4] = { H("x-b3-traceid", "64fe8b2a57d3eff7"), H("x-b3-spanid", "e457b5a2e4d86bd1") };
        size_t n = 2;
        if (cases[i].sampled)
            h[n++] = (otel_header){ OTEL_STR("x-b3-sampled"), otel_str_from_cstr(cases[i].sampled) };
        if (cases[i].flags)
            h[n++] = (otel_header){ OTEL_STR("x-b3-flags"), otel_str_from_cstr(cases[i].flags) };
        otel_context *c = extract_list(&g_multi, h, n);
        assert_true(ctx_valid(c));
        assert_int_equal(ctx_flags(c), cases[i].want);
        char t[33];
        assert_string_equal(trace_hex(c, t), "000000000000000064fe8b2a57d3eff7");
        otel_context_release(c);
    }
}

static void test_multi_first_value_wins(void **state)
{
    (void)state;
    otel_header h[] = {
        H("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
        H("x-b3-spanid", "a2fb4a1d1a96d312"),
        H("x-b3-traceid", "11111111111111111111111111111111"),
        H("x-b3-sampled", "1"),
        H("x-b3-sampled", "0"),
    };
    otel_context *c = extract_list(&g_multi, h, COUNT(h));
    char t[33];
    assert_string_equal(trace_hex(c, t), "463ac35c9f6413ad48485a3953bb6124");
    assert_int_equal(ctx_flags(c), 1);
    otel_context_release(c);
}

static void test_invalid_multi_headers_are_ignored(void **state)
{
    (void)state;
    otel_header a[] = { H("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124") };
    otel_header b[] = { H("x-b3-traceid", "463AC35C9F6413AD48485A3953BB6124"),
                        H("x-b3-spanid", "a2fb4a1d1a96d312") };
    otel_header c[] = { H("x-b3-traceid", "463ac35c9f6413ad"), H("x-b3-spanid", "a2fb4a1d1a96d31") };
    otel_header d[] = { H("x-b3-traceid", ""), H("x-b3-spanid", "a2fb4a1d1a96d312") };
    assert_null(extract_list(&g_multi, a, COUNT(a)));
    assert_null(extract_list(&g_multi, b, COUNT(b)));
    assert_null(extract_list(&g_multi, c, COUNT(c)));
    assert_null(extract_list(&g_multi, d, COUNT(d)));
}

static void test_single_header_takes_precedence_and_invalid_single_falls_back(void **state)
{
    (void)state;
    otel_header h[] = {
        H("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
        H("x-b3-spanid", "a2fb4a1d1a96d312"),
        H("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
    };
    /* Both propagators extract both forms. */
    const otel_propagator *props[] = { &g_single, &g_multi };
    for (size_t i = 0; i < 2; i++) {
        otel_context *c = extract_list(props[i], h, COUNT(h));
        char t[33];
        assert_string_equal(trace_hex(c, t), "80f198ee56343ba864fe8b2a57d3eff7");
        otel_context_release(c);
    }
    h[2] = (otel_header)H("b3", "garbage");
    otel_context *c = extract_list(&g_single, h, COUNT(h));
    char t[33];
    assert_string_equal(trace_hex(c, t), "463ac35c9f6413ad48485a3953bb6124");
    otel_context_release(c);
}

static void test_inject_single(void **state)
{
    (void)state;
    test_out o;
    otel_context *c = ctx_with(make_sc("80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1", 1), NULL);
    inject_into(&g_single, c, &o);
    assert_int_equal(o.buf.count, 1);
    assert_true(out_is(&o, "b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"));
    otel_context_release(c);
    c = ctx_with(make_sc("0000000000000000e457b5a2e4d86bd1", "e457b5a2e4d86bd1", 0), NULL);
    inject_into(&g_single, c, &o);
    assert_true(out_is(&o, "b3", "0000000000000000e457b5a2e4d86bd1-e457b5a2e4d86bd1-0"));
    otel_context_release(c);
    inject_into(&g_single, NULL, &o);
    assert_int_equal(o.buf.count, 0);
}

static void test_inject_multi_never_writes_parent(void **state)
{
    (void)state;
    test_out o;
    otel_context *c = ctx_with(make_sc("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", 1), NULL);
    inject_into(&g_multi, c, &o);
    assert_int_equal(o.buf.count, 3);
    assert_true(out_is(&o, "x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"));
    assert_true(out_is(&o, "x-b3-spanid", "a2fb4a1d1a96d312"));
    assert_true(out_is(&o, "x-b3-sampled", "1"));
    assert_null(out_get(&o, "x-b3-parentspanid").data);
    otel_context_release(c);
}

static void test_debug_is_kept_and_passed_on(void **state)
{
    (void)state;
    otel_context *c = single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d");
    test_out o;
    inject_into(&g_single, c, &o);
    assert_true(out_is(&o, "b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"));
    inject_into(&g_multi, c, &o);
    assert_true(out_is(&o, "x-b3-flags", "1"));
    assert_null(out_get(&o, "x-b3-sampled").data);

    /* A child span context of the same trace (as a span started under |c| would have) keeps the
     * debug decision; a new trace under the same context does not. */
    otel_span_context child = make_sc("80f198ee56343ba864fe8b2a57d3eff7", "1111111111111111", 1);
    otel_context *cc = NULL;
    assert_int_equal(otel_context_with_span_context(c, &child, NULL, &cc), OTEL_OK);
    inject_into(&g_single, cc, &o);
    assert_true(out_is(&o, "b3", "80f198ee56343ba864fe8b2a57d3eff7-1111111111111111-d"));
    otel_context_release(cc);
    otel_span_context other = make_sc("22222222222222222222222222222222", "1111111111111111", 1);
    assert_int_equal(otel_context_with_span_context(c, &other, NULL, &cc), OTEL_OK);
    inject_into(&g_single, cc, &o);
    assert_true(out_is(&o, "b3", "22222222222222222222222222222222-1111111111111111-1"));
    otel_context_release(cc);
    otel_context_release(c);
}

static void test_round_trips(void **state)
{
    (void)state;
    const otel_propagator *props[] = { &g_single, &g_multi };
    const uint8_t flags[] = { 0, 1 };
    for (size_t p = 0; p < 2; p++) {
        for (size_t f = 0; f < 2; f++) {
            otel_context *c1 =
                ctx_with(make_sc("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", flags[f]), NULL);
            test_out o;
            inject_into(props[p], c1, &o);
            otel_context *c2 = extract_out(props[p], &o);
            otel_span_context a = otel_context_get_span_context(c1);
            otel_span_context b = otel_context_get_span_context(c2);
            assert_memory_equal(a.trace_id, b.trace_id, 16);
            assert_memory_equal(a.span_id, b.span_id, 8);
            assert_int_equal(a.trace_flags, b.trace_flags);
            otel_context_release(c1);
            otel_context_release(c2);
        }
    }
}

static void test_fields(void **state)
{
    (void)state;
    otel_str names[8];
    assert_int_equal(g_single.fields(g_single.user_data, names, 8), 1);
    assert_true(otel_str_eq(names[0], OTEL_STR("b3")));
    assert_int_equal(g_multi.fields(g_multi.user_data, names, 8), 4);
    assert_true(otel_str_eq(names[0], OTEL_STR("x-b3-traceid")));
    assert_true(otel_str_eq(names[3], OTEL_STR("x-b3-flags")));
    assert_int_equal(otel_propagator_b3(NULL), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_propagator_b3multi(NULL), OTEL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_header_with_all_fields),
        cmocka_unit_test(test_single_header_sampling_states),
        cmocka_unit_test(test_single_header_64bit_trace_id_is_left_padded),
        cmocka_unit_test(test_sampling_only_headers_give_no_context),
        cmocka_unit_test(test_invalid_single_headers_are_ignored),
        cmocka_unit_test(test_multi_headers),
        cmocka_unit_test(test_multi_sampled_values_and_debug),
        cmocka_unit_test(test_multi_first_value_wins),
        cmocka_unit_test(test_invalid_multi_headers_are_ignored),
        cmocka_unit_test(test_single_header_takes_precedence_and_invalid_single_falls_back),
        cmocka_unit_test(test_inject_single),
        cmocka_unit_test(test_inject_multi_never_writes_parent),
        cmocka_unit_test(test_debug_is_kept_and_passed_on),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
