/* Span context helpers: id validity, hex encoding and decoding, kind and status texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "otel/trace.h"

static void test_all_zero_ids_are_invalid(void **state)
{
    (void)state;
    uint8_t trace_id[OTEL_TRACE_ID_SIZE] = { 0 };
    uint8_t span_id[OTEL_SPAN_ID_SIZE] = { 0 };
    assert_false(otel_trace_id_is_valid(trace_id));
    assert_false(otel_span_id_is_valid(span_id));
    trace_id[15] = 1;
    span_id[0] = 0x80;
    assert_true(otel_trace_id_is_valid(trace_id));
    assert_true(otel_span_id_is_valid(span_id));
}

static void test_span_context_valid_needs_both_ids(void **state)
{
    (void)state;
    otel_span_context sc = { 0 };
    assert_false(otel_span_context_is_valid(NULL));
    assert_false(otel_span_context_is_valid(&sc));
    sc.trace_id[3] = 7;
    assert_false(otel_span_context_is_valid(&sc));
    sc.span_id[7] = 9;
    assert_true(otel_span_context_is_valid(&sc));
    memset(sc.trace_id, 0, sizeof(sc.trace_id));
    assert_false(otel_span_context_is_valid(&sc));
}

static void test_sampled_needs_valid_context_and_flag(void **state)
{
    (void)state;
    otel_span_context sc = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED };
    assert_false(otel_span_context_is_sampled(&sc));
    sc.trace_id[0] = 1;
    sc.span_id[0] = 1;
    assert_true(otel_span_context_is_sampled(&sc));
    sc.trace_flags = OTEL_TRACE_FLAG_RANDOM;
    assert_false(otel_span_context_is_sampled(&sc));
    assert_false(otel_span_context_is_sampled(NULL));
}

static void test_hex_encode_is_lowercase_and_nul_terminated(void **state)
{
    (void)state;
    const uint8_t bytes[] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };
    char out[OTEL_SPAN_ID_HEX_SIZE + 2];
    memset(out, 'X', sizeof(out));
    otel_hex_encode(bytes, sizeof(bytes), out);
    assert_string_equal(out, "00f067aa0ba902b7");
    assert_int_equal(out[OTEL_SPAN_ID_HEX_SIZE + 1], 'X');
}

static void test_hex_decode_round_trips_a_trace_id(void **state)
{
    (void)state;
    otel_str hex = OTEL_STR("4bf92f3577b34da6a3ce929d0e0e4736");
    uint8_t id[OTEL_TRACE_ID_SIZE];
    assert_int_equal(otel_hex_decode(hex, id, sizeof(id), true), OTEL_OK);
    assert_int_equal(id[0], 0x4b);
    assert_int_equal(id[15], 0x36);
    char back[OTEL_TRACE_ID_HEX_SIZE + 1];
    otel_hex_encode(id, sizeof(id), back);
    assert_memory_equal(back, hex.data, hex.len);
}

static void test_hex_decode_rejects_uppercase_when_lowercase_only(void **state)
{
    (void)state;
    uint8_t out[2] = { 0x11, 0x22 };
    assert_int_equal(otel_hex_decode(OTEL_STR("ABcd"), out, 2, true), OTEL_ERR_INVALID_ARG);
    assert_int_equal(out[0], 0x11); /* untouched on failure */
    assert_int_equal(otel_hex_decode(OTEL_STR("ABcd"), out, 2, false), OTEL_OK);
    assert_int_equal(out[0], 0xab);
    assert_int_equal(out[1], 0xcd);
}

static void test_hex_decode_rejects_bad_digits_and_lengths(void **state)
{
    (void)state;
    uint8_t out[4] = { 1, 2, 3, 4 };
    assert_int_equal(otel_hex_decode(OTEL_STR("00112g33"), out, 4, false), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_hex_decode(OTEL_STR("0011223"), out, 4, false), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_hex_decode(OTEL_STR("001122334"), out, 4, false), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_hex_decode(OTEL_STR("-0112233"), out, 4, false), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_hex_decode(OTEL_STR(" 0112233"), out, 4, false), OTEL_ERR_INVALID_ARG);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[3], 4);
}

static void test_kind_and_status_texts_are_static_and_named(void **state)
{
    (void)state;
    assert_string_equal(otel_span_kind_str(OTEL_SPAN_KIND_INTERNAL), "internal");
    assert_string_equal(otel_span_kind_str(OTEL_SPAN_KIND_SERVER), "server");
    assert_string_equal(otel_span_kind_str(OTEL_SPAN_KIND_CLIENT), "client");
    assert_string_equal(otel_span_kind_str(OTEL_SPAN_KIND_PRODUCER), "producer");
    assert_string_equal(otel_span_kind_str(OTEL_SPAN_KIND_CONSUMER), "consumer");
    assert_string_equal(otel_span_kind_str((otel_span_kind)99), "unknown");
    assert_string_equal(otel_status_str(OTEL_OK), "ok");
    for (int st = 0; st <= OTEL_ERR_UNSUPPORTED; st++) {
        const char *s = otel_status_str((otel_status)st);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown status");
    }
    assert_string_equal(otel_status_str((otel_status)1000), "unknown status");
}

static void test_version_matches_headers(void **state)
{
    (void)state;
    assert_int_equal(otel_version_number(), OTEL_VERSION_NUMBER);
    assert_string_equal(otel_version_string(), OTEL_VERSION_STRING);
}

static void test_time_now_is_after_2020(void **state)
{
    (void)state;
    int64_t t = otel_time_now_ns();
    assert_true(t > INT64_C(1577836800) * 1000000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_zero_ids_are_invalid),
        cmocka_unit_test(test_span_context_valid_needs_both_ids),
        cmocka_unit_test(test_sampled_needs_valid_context_and_flag),
        cmocka_unit_test(test_hex_encode_is_lowercase_and_nul_terminated),
        cmocka_unit_test(test_hex_decode_round_trips_a_trace_id),
        cmocka_unit_test(test_hex_decode_rejects_uppercase_when_lowercase_only),
        cmocka_unit_test(test_hex_decode_rejects_bad_digits_and_lengths),
        cmocka_unit_test(test_kind_and_status_texts_are_static_and_named),
        cmocka_unit_test(test_version_matches_headers),
        cmocka_unit_test(test_time_now_is_after_2020),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
