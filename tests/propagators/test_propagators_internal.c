/* Internal helpers of the propagators library (hex, decimal, percent coding with UTF-8
 * replacement), and allocation-failure runs of every extractor and of the constructors: each
 * failing allocation leaves no leak and still returns a usable context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "failalloc.h"
#include "prop_internal.h"
#include "prop_test_util.h"

static size_t decode(const char *in, char *out, size_t cap, bool plus, bool utf8)
{
    return otel__prop_percent_decode(otel_str_from_cstr(in), out, cap, plus, utf8);
}

static void test_percent_decode(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(decode("a%20b%2fc", out, sizeof(out), false, false), 5);
    assert_memory_equal(out, "a b/c", 5);
    assert_int_equal(decode("a+b", out, sizeof(out), true, false), 3);
    assert_memory_equal(out, "a b", 3);
    assert_int_equal(decode("a+b", out, sizeof(out), false, false), 3);
    assert_memory_equal(out, "a+b", 3);
    assert_int_equal(decode("%", out, sizeof(out), false, false), SIZE_MAX);
    assert_int_equal(decode("%4", out, sizeof(out), false, false), SIZE_MAX);
    assert_int_equal(decode("%4g", out, sizeof(out), false, false), SIZE_MAX);
    assert_int_equal(decode("abc", out, 2, false, false), SIZE_MAX);
    assert_int_equal(decode("", out, 0, false, true), 0);
    /* A raw byte outside ASCII gives 3 output bytes: the capacity is checked. */
    assert_int_equal(decode("\xff", out, 2, false, true), SIZE_MAX);
    assert_int_equal(decode("\xff", out, 3, false, true), 3);
    assert_memory_equal(out, "\xef\xbf\xbd", 3);
    /* Valid sequences of each length pass unchanged. */
    assert_int_equal(decode("%C3%A9%E2%82%AC%F0%9F%98%80%F4%8F%BF%BF", out, sizeof(out), false, true), 13);
    assert_memory_equal(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13);
    /* Overlong, out of range, lone continuation: one U+FFFD per maximal subpart. */
    assert_int_equal(decode("%E0%80%80", out, sizeof(out), false, true), 9);
    assert_int_equal(decode("%F4%90%80%80", out, sizeof(out), false, true), 12);
    assert_int_equal(decode("%80a", out, sizeof(out), false, true), 4);
    assert_memory_equal(out,
                        "\xef\xbf\xbd"
                        "a",
                        4);
    assert_int_equal(decode("%F0%9F%98a", out, sizeof(out), false, true), 4);
    assert_memory_equal(out,
                        "\xef\xbf\xbd"
                        "a",
                        4);
}

static void test_percent_encode(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(otel__prop_percent_encode(OTEL_STR("a b%"), out, sizeof(out), OTEL__CC_BAGGAGE), 8);
    assert_memory_equal(out, "a%20b%25", 8);
    assert_int_equal(otel__prop_percent_encode(OTEL_STR("   "), out, 8, OTEL__CC_BAGGAGE), SIZE_MAX);
    assert_int_equal(otel__prop_percent_encode(OTEL_STR("abc"), out, 2, OTEL__CC_BAGGAGE), SIZE_MAX);
}

static void test_hex_helpers(void **state)
{
    (void)state;
    uint8_t b[8];
    assert_true(otel__prop_hex_decode_padded(OTEL_STR("abc"), b, 8, false));
    assert_memory_equal(b, "\0\0\0\0\0\0\x0a\xbc", 8);
    assert_true(otel__prop_hex_decode_padded(OTEL_STR("ABCDEF0123456789"), b, 8, false));
    assert_memory_equal(b, "\xab\xcd\xef\x01\x23\x45\x67\x89", 8);
    assert_false(otel__prop_hex_decode_padded(OTEL_STR("ABCDEF0123456789"), b, 8, true));
    assert_false(otel__prop_hex_decode_padded(OTEL_STR("00000000000000000"), b, 8, false));
    assert_false(otel__prop_hex_decode_padded(OTEL_STR(""), b, 8, false));
    assert_false(otel__prop_hex_decode_padded(OTEL_STR("0x1"), b, 8, false));
    assert_false(otel__prop_hex_decode("0g", 1, b, false));
    char hex[16];
    otel__prop_hex_encode((const uint8_t *)"\x00\xff\x10", 3, hex);
    assert_memory_equal(hex, "00ff10", 6);
}

static void test_hex_decode_checks_every_position(void **state)
{
    (void)state;
    const char *good = "0123456789abcdef0123456789ABCDEF";
    uint8_t out[16];
    assert_false(otel__prop_hex_decode(good, 16, out, true)); /* uppercase */
    assert_true(otel__prop_hex_decode(good, 16, out, false));
    assert_memory_equal(out, "\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef", 16);
    const unsigned char bad[] = {
        0x00, 0x10, 0x19, '/', ':', '@', 'G', '`', 'g', 0x7f, 0x80, 0xb0, 0xe1, 0xff
    };
    for (size_t pos = 0; pos < 32; pos++) {
        for (size_t k = 0; k < sizeof(bad); k++) {
            char s[33];
            memcpy(s, "0123456789abcdef0123456789abcdef", 33);
            s[pos] = (char)bad[k];
            assert_false(otel__prop_hex_decode(s, 16, out, true));
            assert_false(otel__prop_hex_decode(s, 16, out, false));
        }
    }
    char enc[32];
    assert_true(otel__prop_hex_decode("0123456789abcdef0123456789abcdef", 16, out, true));
    otel__prop_hex_encode(out, 16, enc);
    assert_memory_equal(enc, "0123456789abcdef0123456789abcdef", 32);
}

static void test_decimal_helpers(void **state)
{
    (void)state;
    uint64_t u;
    assert_true(otel__prop_parse_u64(OTEL_STR("18446744073709551615"), &u));
    assert_true(u == UINT64_MAX);
    assert_false(otel__prop_parse_u64(OTEL_STR("18446744073709551616"), &u));
    assert_false(otel__prop_parse_u64(OTEL_STR("99999999999999999999"), &u));
    assert_false(otel__prop_parse_u64(OTEL_STR("000000000000000000001"), &u));
    assert_false(otel__prop_parse_u64(OTEL_STR("+1"), &u));
    assert_false(otel__prop_parse_u64(OTEL_STR(""), &u));
    int32_t i;
    assert_true(otel__prop_parse_i32(OTEL_STR("-2147483648"), &i));
    assert_int_equal(i, INT32_MIN);
    assert_true(otel__prop_parse_i32(OTEL_STR("+2147483647"), &i));
    assert_int_equal(i, INT32_MAX);
    assert_false(otel__prop_parse_i32(OTEL_STR("2147483648"), &i));
    assert_false(otel__prop_parse_i32(OTEL_STR("-"), &i));
    assert_false(otel__prop_parse_i32(OTEL_STR("1.5"), &i));
    char buf[24];
    assert_int_equal(otel__prop_format_u64(UINT64_MAX, buf), 20);
    assert_memory_equal(buf, "18446744073709551615", 20);
    assert_int_equal(otel__prop_format_u64(0, buf), 1);
    assert_int_equal(otel__prop_format_i32(INT32_MIN, buf), 11);
    assert_memory_equal(buf, "-2147483648", 11);
}

/* ---------------------------------------------------------------------------------------------
 * Allocation failures
 * ------------------------------------------------------------------------------------------- */

struct scenario {
    const char *names;
    const otel_header *headers;
    size_t count;
    const char *span_hex; /* the span id the first format carries */
    size_t baggage;       /* baggage entries expected */
    bool debug;           /* a debug marker is expected */
    bool trace_state;     /* a trace state is expected */
    bool strict;          /* every failed allocation must be visible (no losing formats) */
};

/* Builds the propagators from names, extracts, injects, and releases everything. Returns 0
 * when everything that needed memory got it, 1 otherwise (a dropped part of the context). */
static int extract_scenario(void *arg)
{
    const struct scenario *s = arg;
    otel_propagator p;
    otel_status st = otel_propagators_from_names(otel_str_from_cstr(s->names), &p);
    if (st != OTEL_OK)
        return (int)st;
    otel_context *c = extract_list(&p, s->headers, s->count);
    int rc = 0;
    char sid[17];
    if (!ctx_valid(c) || otel_baggage_count(otel_context_get_baggage(c)) != s->baggage ||
        !otel_context_get_trace_state(c) != !s->trace_state || strcmp(span_hex(c, sid), s->span_hex) != 0 ||
        !otel_context_get_value(c, &otel__prop_debug_key) != !s->debug)
        rc = 1;
    test_out o;
    inject_into(&p, c, &o);
    otel_context_release(c);
    otel_propagator_destroy(&p);
    return rc;
}

static void run_scenario(const struct scenario *s)
{
    failalloc_result r = failalloc_run(extract_scenario, (void *)s);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations > 0);
    assert_int_equal(r.leaked_run, 0);
    /* A failure in a format that loses to an earlier one (composite) changes nothing visible. */
    if (s->strict)
        assert_int_equal(r.ok_with_failure, 0);
}

static void test_allocation_failures_leak_nothing(void **state)
{
    (void)state;
    otel_header w3c[] = { H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                          H("tracestate", "a=1,b=2"), H("baggage", "k=v,k2=v2;p") };
    struct scenario a = { "tracecontext,baggage", w3c, COUNT(w3c), "00f067aa0ba902b7", 2, false, true, true };
    run_scenario(&a);

    otel_header dbg[] = { H("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d") };
    struct scenario b = { "b3", dbg, COUNT(dbg), "e457b5a2e4d86bd1", 0, true, false, true };
    run_scenario(&b);

    otel_header mix[] = { H("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"),
                          H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                          H("tracestate", "a=1"), H("uberctx-k", "v"), H("baggage", "k2=v2") };
    struct scenario c = {
        "b3,tracecontext,jaeger,baggage", mix, COUNT(mix), "e457b5a2e4d86bd1", 2, true, false, false
    };
    run_scenario(&c);

    otel_header dd[] = { H("x-datadog-trace-id", "1"),
                         H("x-datadog-parent-id", "2"),
                         H("x-datadog-sampling-priority", "1"),
                         H("x-datadog-tags", "_dd.p.dm=-1"),
                         H("uberctx-a", "1"),
                         H("uberctx-b", "2") };
    struct scenario d = { "datadog,jaeger", dd, COUNT(dd), "0000000000000002", 2, false, true, true };
    run_scenario(&d);
}

int main(void)
{
    /* The out-of-memory warnings are expected here. */
    otel_log_set_level(OTEL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_decode),  cmocka_unit_test(test_percent_encode),
        cmocka_unit_test(test_hex_helpers),     cmocka_unit_test(test_hex_decode_checks_every_position),
        cmocka_unit_test(test_decimal_helpers), cmocka_unit_test(test_allocation_failures_leak_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
