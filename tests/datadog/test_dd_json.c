/* The Datadog exporter's JSON reader (for sampling rules and agent answers) and writer (events
 * and links in meta), and the agent-rates table built from answers. Writer output is checked by
 * parsing it back and, when available, with Python's json module. */
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dd_json.h"
#include "dd_rates.h"
#include "failalloc.h"
#include "log_capture.h"
#include "otel/exporters/datadog.h"

/* The inline check agrees with otel__json_is_plain for every byte value at every position of
 * strings of 7 to 17 bytes (the inline range is 8 to 16). */
static void test_plain_fast_agrees_with_is_plain(void **state)
{
    (void)state;
    for (size_t len = 7; len <= 17; len++) {
        char buf[17];
        memset(buf, 'a', sizeof(buf));
        assert_true(otel__json_is_plain_fast(buf, len));
        for (size_t pos = 0; pos < len; pos++) {
            for (int c = 0; c < 256; c++) {
                buf[pos] = (char)c;
                bool want = otel__json_is_plain(buf, len);
                assert_int_equal(otel__json_is_plain_fast(buf, len), want);
                assert_int_equal(want, c >= 0x20 && c < 0x80 && c != '"' && c != '\\');
            }
            buf[pos] = 'a';
        }
    }
}

static void test_parser_builds_the_tree(void **state)
{
    (void)state;
    struct otel__json_doc doc;
    assert_int_equal(otel__json_parse(OTEL_STR(" {\"a\": [1, -2.5e3, true, false, null], \"b\": {\"c\": "
                                               "\"\\u00e9\\n\\ud83d\\ude00\"}, \"a\": 7} "),
                                      &doc, NULL, NULL),
                     OTEL_OK);
    const struct otel__json_node *root = &doc.nodes[0];
    assert_int_equal(root->type, OTEL__JSON_OBJECT);
    assert_int_equal(root->count, 3);
    /* A repeated key: the last one wins. */
    const struct otel__json_node *a = otel__json_get(&doc, root, "a");
    assert_int_equal(a->type, OTEL__JSON_NUMBER);
    assert_true(a->number == 7);
    const struct otel__json_node *arr = otel__json_child(&doc, root);
    assert_int_equal(arr->type, OTEL__JSON_ARRAY);
    assert_int_equal(arr->count, 5);
    const struct otel__json_node *n = otel__json_child(&doc, arr);
    assert_true(n->number == 1);
    n = otel__json_next(&doc, n);
    assert_true(n->number == -2500);
    assert_int_equal(otel__json_next(&doc, n)->type, OTEL__JSON_TRUE);
    const struct otel__json_node *c = otel__json_get(&doc, otel__json_get(&doc, root, "b"), "c");
    assert_string_equal(c->str.data, "\xc3\xa9\n\xf0\x9f\x98\x80");
    assert_int_equal(c->str.len, 7);
    otel__json_free(&doc);
}

static void test_parser_rejects_invalid_json_with_an_offset(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } bad[] = {
        { "", 0 },        { "[1,]", 3 },       { "{\"a\" 1}", 5 }, { "[01]", 2 },  { "[1.]", 3 },
        { "\"\\x\"", 2 }, { "[\"a\nb\"]", 3 }, { "tru", 0 },       { "{} {}", 3 }, { "[1e]", 3 },
        { "{1:2}", 1 },   { "\"open", 5 },     { "[-]", 1 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct otel__json_doc doc;
        size_t at = 999;
        const char *what = NULL;
        if (otel__json_parse(otel_str_from_cstr(bad[i].text), &doc, &at, &what) != OTEL_ERR_INVALID_ARG)
            fail_msg("accepted %s", bad[i].text);
        assert_non_null(what);
        if (at != bad[i].at)
            fail_msg("%s: error at %zu, want %zu (%s)", bad[i].text, at, bad[i].at, what);
    }
}

static void test_parser_limits_nesting(void **state)
{
    (void)state;
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    struct otel__json_doc doc;
    const char *what = NULL;
    assert_int_equal(otel__json_parse((otel_str){ deep, 200 }, &doc, NULL, &what), OTEL_ERR_INVALID_ARG);
    assert_string_equal(what, "nested too deeply");
    assert_int_equal(otel__json_parse((otel_str){ deep + 90, 20 }, &doc, NULL, NULL), OTEL_OK);
    otel__json_free(&doc);
}

static void test_numbers_ignore_the_program_locale(void **state)
{
    (void)state;
    /* A locale with a decimal comma, if the machine has one. */
    const char *old = setlocale(LC_NUMERIC, NULL);
    char saved[64];
    snprintf(saved, sizeof(saved), "%s", old ? old : "C");
    bool comma = setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8");
    struct otel__json_doc doc;
    assert_int_equal(otel__json_parse(OTEL_STR("0.25"), &doc, NULL, NULL), OTEL_OK);
    assert_true(doc.nodes[0].number == 0.25);
    otel__json_free(&doc);
    struct otel__dd_buf b = { 0 };
    otel__json_put_double(&b, 1.5);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "1.5", 3);
    otel__dd_buf_free(&b);
    setlocale(LC_NUMERIC, saved);
    if (!comma)
        print_message("(no decimal-comma locale installed; checked under the C locale only)\n");
}

static int parse_scenario(void *arg)
{
    (void)arg;
    struct otel__json_doc doc;
    otel_status st = otel__json_parse(OTEL_STR("{\"a\":[1,\"x\"]}"), &doc, NULL, NULL);
    if (st == OTEL_OK)
        otel__json_free(&doc);
    return (int)st;
}

static void test_parser_survives_allocation_failures(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(parse_scenario, NULL);
    assert_int_equal(r.allocations, 2);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

static void test_writer_escapes_and_round_trips(void **state)
{
    (void)state;
    struct otel__dd_buf b = { 0 };
    const char raw[] = "q\"b\\s/\n\t\x01\x7f h\xc3\xa9 bad\xff\xc3 end";
    otel__json_put_str(&b, raw, sizeof(raw) - 1);
    assert_false(b.failed);
    struct otel__json_doc doc;
    assert_int_equal(otel__json_parse((otel_str){ (const char *)b.data, b.len }, &doc, NULL, NULL), OTEL_OK);
    /* Invalid UTF-8 bytes became U+FFFD; the rest came back unchanged. */
    assert_string_equal(doc.nodes[0].str.data,
                        "q\"b\\s/\n\t\x01\x7f h\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd end");
    otel__json_free(&doc);
    otel__dd_buf_reset(&b);
    otel__json_put_int(&b, INT64_MIN);
    otel__dd_buf_byte(&b, ' ');
    otel__json_put_uint(&b, UINT64_MAX);
    otel__dd_buf_byte(&b, ' ');
    otel__json_put_double(&b, 0.1);
    otel__dd_buf_byte(&b, ' ');
    otel__json_put_double(&b, NAN);
    otel__dd_buf_byte(&b, '\0');
    assert_string_equal((const char *)b.data, "-9223372036854775808 18446744073709551615 0.1 \"NaN\"");
    otel__dd_buf_free(&b);
}

static void test_writer_formats_attribute_values(void **state)
{
    (void)state;
    static const double ds[] = { 1.0, -0.5 };
    static const otel_str ss[] = { OTEL_STR("a"), OTEL_STR("") };
    otel_value vals[] = {
        otel_value_bool(true),
        otel_value_int(-3),
        otel_value_double(2.5),
        otel_value_str(OTEL_STR("x")),
        otel_value_bytes("abcd", 4),
        otel_value_array(OTEL_VALUE_DOUBLE, ds, 2),
        otel_value_array(OTEL_VALUE_STR, ss, 2),
        { .type = OTEL_VALUE_EMPTY },
    };
    static const char *const want[] = { "true",         "-3",       "2.5",          "\"x\"",
                                        "\"YWJjZA==\"", "[1,-0.5]", "[\"a\",\"\"]", "null" };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct otel__dd_buf b = { 0 };
        otel__json_put_value(&b, &vals[i]);
        otel__dd_buf_byte(&b, '\0');
        assert_string_equal((const char *)b.data, want[i]);
        otel__dd_buf_free(&b);
    }
}

static void test_rates_table_from_agent_answers(void **state)
{
    (void)state;
    log_capture_setup(NULL);
    otel_datadog_rates *r;
    assert_int_equal(otel_datadog_rates_create(&r), OTEL_OK);
    double v;
    assert_false(otel_datadog_rates_get(r, OTEL_STR("a"), OTEL_STR("b"), &v));
    uint64_t gen = otel__dd_rates_generation(r);
    assert_int_equal(otel_datadog_rates_update_json(
                         r, OTEL_STR("{\"rate_by_service\":{\"service:a,env:b\":0.1,\"service:a,b,env:\":0.2,"
                                     "\"service:,env:\":0.9,\"nonsense\":1}}")),
                     OTEL_OK);
    assert_true(otel__dd_rates_generation(r) > gen);
    assert_int_equal(otel__dd_rates_count(r), 3);
    assert_true(otel_datadog_rates_get(r, OTEL_STR("a"), OTEL_STR("b"), &v) && v == 0.1);
    assert_true(otel_datadog_rates_get(r, OTEL_STR("a,b"), OTEL_STR(""), &v) && v == 0.2);
    assert_true(otel_datadog_rates_get(r, OTEL_STR("zz"), OTEL_STR("b"), &v) && v == 0.9);
    assert_int_equal(log_capture_count(), 1); /* "nonsense" was reported */
    assert_non_null(strstr(logged_last, "nonsense"));
    /* An answer without rates changes nothing; a bad one neither. */
    gen = otel__dd_rates_generation(r);
    assert_int_equal(otel_datadog_rates_update_json(r, OTEL_STR("{\"other\":1}")), OTEL_OK);
    assert_int_equal(
        otel_datadog_rates_update_json(r, OTEL_STR("{\"rate_by_service\":{\"service:a,env:b\":-1}}")),
        OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_datadog_rates_update_json(r, OTEL_STR("[")), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel__dd_rates_generation(r), gen);
    assert_true(otel_datadog_rates_get(r, OTEL_STR("a"), OTEL_STR("b"), &v) && v == 0.1);
    /* An empty table removes the default. */
    assert_int_equal(otel_datadog_rates_update_json(r, OTEL_STR("{\"rate_by_service\":{}}")), OTEL_OK);
    assert_false(otel_datadog_rates_get(r, OTEL_STR("zz"), OTEL_STR("b"), &v));
    /* Reference counting; the shared object ignores it. */
    assert_ptr_equal(otel_datadog_rates_retain(r), r);
    otel_datadog_rates_release(r);
    otel_datadog_rates_release(r);
    otel_datadog_rates *s = otel_datadog_rates_shared();
    assert_ptr_equal(otel_datadog_rates_shared(), s);
    otel_datadog_rates_release(s);
    otel_datadog_rates_release(s);
    assert_false(otel_datadog_rates_get(NULL, OTEL_STR(""), OTEL_STR(""), &v));
    log_capture_teardown(NULL);
}

static int rates_scenario(void *arg)
{
    (void)arg;
    otel_datadog_rates *r;
    otel_status st = otel_datadog_rates_create(&r);
    if (st != OTEL_OK)
        return (int)st;
    st = otel_datadog_rates_update_json(r, OTEL_STR("{\"rate_by_service\":{\"service:a,env:b\":0.1}}"));
    otel_datadog_rates_release(r);
    return (int)st;
}

static void test_rates_survive_allocation_failures(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(rates_scenario, NULL);
    assert_true(r.allocations >= 3);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

/* otel__json_w_uint against printf: every digit count, the values around each power of ten,
 * and a pseudo-random spread of all magnitudes. */
static void check_uint(uint64_t v)
{
    uint8_t out[32];
    memset(out, 'Z', sizeof(out));
    uint8_t *end = otel__json_w_uint(out + 4, v);
    char want[32];
    int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
    assert_int_equal(end - (out + 4), n);
    assert_memory_equal(out + 4, want, (size_t)n);
    assert_int_equal(otel__json_uint_len(v), n);
    for (int i = 0; i < 4; i++) /* nothing written outside */
        assert_int_equal(out[i], 'Z');
    assert_int_equal(*end, 'Z');
}

static void test_uint_digits_match_printf(void **state)
{
    (void)state;
    uint64_t p = 1;
    for (int k = 0; k < 20; k++) {
        for (uint64_t d = 0; d < 3; d++) {
            check_uint(p + d);
            check_uint(p - 1 - d);
            check_uint(p * 2 + d);
            check_uint(p * 9 + d);
        }
        if (k < 19)
            p *= 10;
    }
    check_uint(0);
    check_uint(UINT64_MAX);
    check_uint(UINT64_MAX - 1);
    check_uint(UINT64_C(1700000000000000123));
    for (uint64_t v = 0; v < 100000; v++)
        check_uint(v);
    uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_uint(x >> (i % 64));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_fast_agrees_with_is_plain),
        cmocka_unit_test(test_parser_builds_the_tree),
        cmocka_unit_test(test_parser_rejects_invalid_json_with_an_offset),
        cmocka_unit_test(test_parser_limits_nesting),
        cmocka_unit_test(test_numbers_ignore_the_program_locale),
        cmocka_unit_test(test_parser_survives_allocation_failures),
        cmocka_unit_test(test_writer_escapes_and_round_trips),
        cmocka_unit_test(test_uint_digits_match_printf),
        cmocka_unit_test(test_writer_formats_attribute_values),
        cmocka_unit_test(test_rates_table_from_agent_answers),
        cmocka_unit_test(test_rates_survive_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
