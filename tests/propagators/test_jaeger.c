/* Jaeger propagator: uber-trace-id with short, long and percent-encoded ids, flags (sampled,
 * debug), invalid values, uberctx- baggage in both directions, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "prop_test_util.h"

static otel_propagator g_j;

static int setup(void **state)
{
    (void)state;
    return otel_propagator_jaeger(&g_j) == OTEL_OK ? 0 : -1;
}

static otel_context *uber(const char *v)
{
    otel_header h[] = { { OTEL_STR("uber-trace-id"), otel_str_from_cstr(v) } };
    return extract_list(&g_j, h, 1);
}

static void test_full_width_ids(void **state)
{
    (void)state;
    otel_context *c = uber("000000000000000000000000deadbeef:00000000deadbef0:0:01");
    char t[33], s[17];
    assert_string_equal(trace_hex(c, t), "000000000000000000000000deadbeef");
    assert_string_equal(span_hex(c, s), "00000000deadbef0");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    assert_true(otel_context_get_span_context(c).is_remote);
    otel_context_release(c);
}

static void test_short_ids_are_left_padded(void **state)
{
    (void)state;
    otel_context *c = uber("51729f13a64c2ef3:258169797d519815:51729f13a64c2ef3:1");
    char t[33], s[17];
    assert_string_equal(trace_hex(c, t), "000000000000000051729f13a64c2ef3");
    assert_string_equal(span_hex(c, s), "258169797d519815");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    otel_context_release(c);
    c = uber("abc:1:0:0");
    assert_string_equal(trace_hex(c, t), "00000000000000000000000000000abc");
    assert_string_equal(span_hex(c, s), "0000000000000001");
    assert_int_equal(ctx_flags(c), 0);
    otel_context_release(c);
}

static void test_url_encoded_value(void **state)
{
    (void)state;
    otel_context *c = uber("51729f13a64c2ef3%3A258169797d519815%3a0%3A3");
    char t[33];
    assert_string_equal(trace_hex(c, t), "000000000000000051729f13a64c2ef3");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    otel_context_release(c);
}

static void test_uppercase_hex_is_accepted(void **state)
{
    (void)state;
    otel_context *c = uber("DEADBEEF:ABCDEF:0:1");
    char t[33];
    assert_string_equal(trace_hex(c, t), "000000000000000000000000deadbeef");
    otel_context_release(c);
}

static void test_invalid_values_are_ignored(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        ":::",
        "1:2:3",
        "1:2:3:4:5",
        "0:1:0:1",
        "1:0:0:1",
        "000000000000000000000000000000001:1:0:1", /* 33 digits */
        "1:00000000000000001:0:1",                 /* 17 digits */
        "1:1:00000000000000001:1",
        "1:1:0:001",
        "1:1:0:",
        "x:1:0:1",
        "1:1:x:1",
        "1:1:0:g",
        "1%3G1:0:1",
        "1:1:0:1%",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        otel_context *c = uber(bad[i]);
        assert_false(ctx_valid(c));
        otel_context_release(c);
    }
}

static void test_debug_flag_means_sampled_and_is_passed_on(void **state)
{
    (void)state;
    otel_context *c = uber("deadbeef:1:0:2");
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED);
    test_out o;
    inject_into(&g_j, c, &o);
    assert_true(out_is(&o, "uber-trace-id", "000000000000000000000000deadbeef:0000000000000001:0:03"));
    otel_context_release(c);
}

static void test_uberctx_headers_become_baggage(void **state)
{
    (void)state;
    otel_header h[] = {
        H("uber-trace-id", "deadbeef:1:0:1"),
        H("uberctx-user", "alice"),
        H("UberCtx-Session", "a%20b+c%2Bd"),
        H("uberctx-", "no key"),
        H("uberctx-bad", "%zz"),
        H("x-other", "1"),
    };
    otel_context *c = extract_list(&g_j, h, COUNT(h));
    assert_true(ctx_valid(c));
    assert_true(bg_is(c, "user", "alice"));
    assert_true(bg_is(c, "Session", "a b c+d"));
    assert_null(bg_get(c, "bad").data);
    assert_int_equal(otel_baggage_count(otel_context_get_baggage(c)), 2);
    otel_context_release(c);
}

static void test_uberctx_without_trace_id_still_gives_baggage(void **state)
{
    (void)state;
    otel_header h[] = { H("uberctx-k", "v"), H("uber-trace-id", "garbage") };
    otel_context *c = extract_list(&g_j, h, COUNT(h));
    assert_false(ctx_valid(c));
    assert_true(bg_is(c, "k", "v"));
    otel_context_release(c);
    otel_header none[] = { H("x", "y") };
    assert_null(extract_list(&g_j, none, 1));
}

static void test_baggage_limit_applies_to_uberctx(void **state)
{
    (void)state;
    static otel_header h[70];
    static char names[70][16];
    for (size_t i = 0; i < COUNT(h); i++) {
        snprintf(names[i], sizeof(names[i]), "uberctx-k%zu", i);
        h[i] = (otel_header){ otel_str_from_cstr(names[i]), OTEL_STR("v") };
    }
    otel_context *c = extract_list(&g_j, h, COUNT(h));
    assert_int_equal(otel_baggage_count(otel_context_get_baggage(c)), 64);
    otel_context_release(c);
}

static void test_inject_writes_trace_id_and_uberctx(void **state)
{
    (void)state;
    otel_baggage *b = NULL, *b2 = NULL, *b3 = NULL;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("user"), OTEL_STR("a b/c"), OTEL_STR("m"), &b), OTEL_OK);
    assert_int_equal(otel_baggage_set(b, OTEL_STR("bad name"), OTEL_STR("x"), OTEL_STR(""), &b2), OTEL_OK);
    assert_int_equal(otel_baggage_set(b2, OTEL_STR("k"), OTEL_STR(""), OTEL_STR(""), &b3), OTEL_OK);
    otel_context *base = NULL;
    assert_int_equal(otel_context_with_baggage(NULL, b3, &base), OTEL_OK);
    otel_span_context sc = make_sc("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", 0);
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_span_context(base, &sc, NULL, &c), OTEL_OK);
    test_out o;
    inject_into(&g_j, c, &o);
    assert_true(out_is(&o, "uber-trace-id", "463ac35c9f6413ad48485a3953bb6124:a2fb4a1d1a96d312:0:00"));
    assert_true(out_is(&o, "uberctx-user", "a%20b%2Fc"));
    assert_true(out_is(&o, "uberctx-k", ""));
    assert_int_equal(o.buf.count, 3);
    otel_context_release(c);
    otel_context_release(base);
    otel_baggage_release(b3);
    otel_baggage_release(b2);
    otel_baggage_release(b);
}

static void test_round_trip(void **state)
{
    (void)state;
    otel_header h[] = { H("uber-trace-id", "463ac35c9f6413ad48485a3953bb6124:a2fb4a1d1a96d312:0:1"),
                        H("uberctx-text", "caf\xc3\xa9 & co") };
    otel_context *c1 = extract_list(&g_j, h, COUNT(h));
    test_out o;
    inject_into(&g_j, c1, &o);
    otel_context *c2 = extract_out(&g_j, &o);
    otel_span_context a = otel_context_get_span_context(c1), b = otel_context_get_span_context(c2);
    assert_memory_equal(a.trace_id, b.trace_id, 16);
    assert_memory_equal(a.span_id, b.span_id, 8);
    assert_int_equal(a.trace_flags, b.trace_flags);
    assert_true(bg_is(c2, "text", "caf\xc3\xa9 & co"));
    otel_context_release(c1);
    otel_context_release(c2);
}

static void test_fields(void **state)
{
    (void)state;
    otel_str names[2];
    assert_int_equal(g_j.fields(g_j.user_data, names, 2), 1);
    assert_true(otel_str_eq(names[0], OTEL_STR("uber-trace-id")));
    assert_int_equal(otel_propagator_jaeger(NULL), OTEL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_width_ids),
        cmocka_unit_test(test_short_ids_are_left_padded),
        cmocka_unit_test(test_url_encoded_value),
        cmocka_unit_test(test_uppercase_hex_is_accepted),
        cmocka_unit_test(test_invalid_values_are_ignored),
        cmocka_unit_test(test_debug_flag_means_sampled_and_is_passed_on),
        cmocka_unit_test(test_uberctx_headers_become_baggage),
        cmocka_unit_test(test_uberctx_without_trace_id_still_gives_baggage),
        cmocka_unit_test(test_baggage_limit_applies_to_uberctx),
        cmocka_unit_test(test_inject_writes_trace_id_and_uberctx),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
