/* Tests for the OTLP/JSON encoder (exporters/otlp/src/otlp_json.c): the output is parsed by a
 * small strict JSON parser written here (RFC 8259 syntax, UTF-8 checked) and its content checked
 * against the OTLP/JSON rules: hex ids, lowerCamelCase keys, 64-bit integers as strings, enums
 * as integers, base64 bytes, non-finite doubles as strings, U+FFFD for invalid UTF-8, numbers
 * unaffected by the program's locale. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "otlp_testlib.h"
#include "otlp_failalloc.h"

/* ---------------------------------------------------------------------------------------------
 * A strict JSON syntax checker
 * ------------------------------------------------------------------------------------------- */

struct jp {
    const char *p;
    const char *end;
    int depth;
};

static void ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static bool value(struct jp *j);

static bool string(struct jp *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return false;
            if (*j->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (j->p + i >= j->end || !strchr("0123456789abcdefABCDEF", j->p[i]))
                        return false;
                j->p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", *j->p))
                return false;
            j->p++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = otel__utf8_seq_len((const unsigned char *)j->p, (size_t)(j->end - j->p));
            if (l == 0)
                return false;
            j->p += l;
            continue;
        }
        j->p++;
    }
    if (j->p >= j->end)
        return false;
    j->p++;
    return true;
}

static bool number(struct jp *j)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return false;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > s;
}

static bool literal(struct jp *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool container(struct jp *j, char open, char close, bool object)
{
    if (++j->depth > 64)
        return false;
    j->p++; /* open */
    (void)open;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        ws(j);
        if (object) {
            if (!string(j))
                return false;
            ws(j);
            if (j->p >= j->end || *j->p != ':')
                return false;
            j->p++;
        }
        if (!value(j))
            return false;
        ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return false;
    }
}

static bool value(struct jp *j)
{
    ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        return container(j, '{', '}', true);
    case '[':
        return container(j, '[', ']', false);
    case '"':
        return string(j);
    case 't':
        return literal(j, "true");
    case 'f':
        return literal(j, "false");
    case 'n':
        return literal(j, "null");
    default:
        return number(j);
    }
}

static bool json_valid(const uint8_t *p, size_t n)
{
    struct jp j = { (const char *)p, (const char *)p + n, 0 };
    if (!value(&j))
        return false;
    ws(&j);
    return j.p == j.end;
}

/* ---------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------- */

static char *encode(struct otel__otlp_encoder *e, const otel_span_data *const *spans, size_t n)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(otel__otlp_encode_json(e, spans, n, &data, &len), OTEL_OK);
    if (!json_valid(data, len))
        fail_msg("not valid JSON: %.*s", (int)len, (const char *)data);
    char *s = malloc(len + 1);
    memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

#define HAS(text, part)                                   \
    do {                                                  \
        if (!strstr((text), (part)))                      \
            fail_msg("missing %s in %s", (part), (text)); \
    } while (0)

static void test_json_parser_is_strict(void **state)
{
    (void)state;
    /* The checker must be able to fail, or the other tests prove nothing. */
    const char *bad[] = { "{",        "{\"a\":}", "[1,]",       "{\"a\" 1}", "\"\x01\"",
                          "\"\xff\"", "01",       "{\"a\":1}x", "[1 2]",     "\"\\q\"" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(json_valid((const uint8_t *)bad[i], strlen(bad[i])));
    const char *good = "{\"a\":[1,-2.5e3,true,false,null,\"\\u00e9\\n\"],\"b\":{}}";
    assert_true(json_valid((const uint8_t *)good, strlen(good)));
}

static void test_json_every_field_follows_otlp_json(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    char *s = encode(&e, spans, 1);
    HAS(s, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
           "\"stringValue\":\"checkout\"}},"
           "{\"key\":\"host.cores\",\"value\":{\"intValue\":\"8\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
           "\"io.test.lib\","
           "\"version\":\"1.2.3\",\"attributes\":[{\"key\":\"scope.attr\",\"value\":{\"boolValue\":true}}]},"
           "\"spans\":[{");
    HAS(s, "\"traceId\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"");
    HAS(s, "\"spanId\":\"1011121314151617\"");
    HAS(s, "\"parentSpanId\":\"3031323334353637\"");
    HAS(s, "\"traceState\":\"vendor=abc,ot=th:8;rv:1\"");
    HAS(s, "\"flags\":771"); /* 0x303 */
    HAS(s, "\"name\":\"GET /checkout\"");
    HAS(s, "\"kind\":3");
    HAS(s, "\"startTimeUnixNano\":\"1700000000123456789\"");
    HAS(s, "\"endTimeUnixNano\":\"1700000000223456789\"");
    HAS(s, "{\"key\":\"empty_str\",\"value\":{\"stringValue\":\"\"}}");
    HAS(s, "{\"key\":\"bool_false\",\"value\":{\"boolValue\":false}}");
    HAS(s, "{\"key\":\"int_neg\",\"value\":{\"intValue\":\"-123456789012345\"}}");
    HAS(s, "{\"key\":\"double\",\"value\":{\"doubleValue\":3.25}}");
    HAS(s, "{\"key\":\"double_zero\",\"value\":{\"doubleValue\":0}}");
    HAS(s, "{\"key\":\"bytes\",\"value\":{\"bytesValue\":\"AAEC/4A=\"}}");
    HAS(s, "{\"key\":\"empty\",\"value\":{}}");
    HAS(s,
        "{\"key\":\"ints\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"0\"},{\"intValue\":\"-1\"},"
        "{\"intValue\":\"9223372036854775807\"},{\"intValue\":\"-9223372036854775808\"}]}}}");
    HAS(s, "{\"key\":\"doubles\",\"value\":{\"arrayValue\":{\"values\":[{\"doubleValue\":0.5},{"
           "\"doubleValue\":-2.25},"
           "{\"doubleValue\":1e+300}]}}}");
    HAS(s, "{\"key\":\"strs\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{"
           "\"stringValue\":\"\"},"
           "{\"stringValue\":\"\xc3\xa9t\xc3\xa9\"}]}}}");
    HAS(s, "{\"key\":\"empty_array\",\"value\":{\"arrayValue\":{}}}");
    HAS(s, "\"droppedAttributesCount\":3");
    HAS(s, "\"events\":[{\"timeUnixNano\":\"1700000000150000000\",\"name\":\"exception\",\"attributes\":[");
    HAS(s, "\"droppedAttributesCount\":1}");
    HAS(s, "{\"timeUnixNano\":\"1700000000160000000\",\"name\":\"retry\"}");
    HAS(s, "\"droppedEventsCount\":4");
    HAS(s, "\"links\":[{\"traceId\":\"77777777777777777777777777777777\",\"spanId\":\"8888888888888888\","
           "\"traceState\":\"linked=1\",\"attributes\":[{\"key\":\"link.kind\",\"value\":{\"stringValue\":"
           "\"follows\"}}],"
           "\"droppedAttributesCount\":2,\"flags\":769}");
    HAS(s,
        "{\"traceId\":\"77777777777777777777777777777777\",\"spanId\":\"9999999999999999\",\"flags\":256}");
    HAS(s, "\"droppedLinksCount\":5");
    HAS(s, "\"status\":{\"message\":\"payment declined\",\"code\":2}");
    HAS(s, "\"schemaUrl\":\"https://schema/scope\"}],\"schemaUrl\":\"https://schema/res\"}]}");
    free(s);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_json_escapes_and_replaces_invalid_utf8(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    f.data.name = (otel_str){ "q\"b\\n\n\x01\x7f\xff\xe2\x82\xac", 12 };
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("k=a\"b"), &ts), OTEL_OK);
    f.data.trace_state = ts;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    char *s = encode(&e, spans, 1);
    HAS(s, "\"name\":\"q\\\"b\\\\n\\n\\u0001\x7f\\ufffd\xe2\x82\xac\"");
    HAS(s, "\"traceState\":\"k=a\\\"b\"");
    free(s);
    otel_trace_state_release(ts);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_json_non_finite_doubles_are_strings(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    otel_attr a[] = { OTEL_ATTR_DOUBLE("nan", NAN), OTEL_ATTR_DOUBLE("inf", INFINITY),
                      OTEL_ATTR_DOUBLE("ninf", -INFINITY), OTEL_ATTR_DOUBLE("third", 1.0 / 3) };
    f.data.attrs = a;
    f.data.attr_count = 4;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    char *s = encode(&e, spans, 1);
    HAS(s, "{\"doubleValue\":\"NaN\"}");
    HAS(s, "{\"doubleValue\":\"Infinity\"}");
    HAS(s, "{\"doubleValue\":\"-Infinity\"}");
    HAS(s, "{\"doubleValue\":0.3333333333333333}");
    free(s);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_json_numbers_ignore_the_program_locale(void **state)
{
    (void)state;
    /* A locale with a decimal comma, when the system has one. */
    const char *names[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "C.UTF-8" };
    const char *got = NULL;
    for (size_t i = 0; i < 4 && !got; i++)
        got = setlocale(LC_NUMERIC, names[i]);
    struct full_span f;
    full_span_init(&f);
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    char *s = encode(&e, spans, 1);
    HAS(s, "{\"doubleValue\":3.25}");
    free(s);
    setlocale(LC_NUMERIC, "C");
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_json_minimal_span_leaves_defaults_out(void **state)
{
    (void)state;
    otel_span_data d = { 0 };
    memset(d.context.trace_id, 0xab, OTEL_TRACE_ID_SIZE);
    memset(d.context.span_id, 0xcd, OTEL_SPAN_ID_SIZE);
    d.start_time_ns = 1;
    d.end_time_ns = 2;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &d };
    char *s = encode(&e, spans, 1);
    assert_string_equal(
        s, "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"scope\":{},\"spans\":[{"
           "\"traceId\":\"abababababababababababababababab\",\"spanId\":\"cdcdcdcdcdcdcdcd\","
           "\"flags\":256,\"kind\":1,\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\"}]}]}]}");
    free(s);
    otel__otlp_encoder_cleanup(&e);
}

static void test_json_groups_like_protobuf(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    otel_scope_data other = { OTEL_STR("other"), OTEL_STR(""), OTEL_STR(""), NULL, 0 };
    otel_span_data b = f.data;
    b.scope = &other;
    const otel_span_data *spans[] = { &f.data, &b, &f.data };
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    char *s = encode(&e, spans, 3);
    /* One resource, two scopes, the first holding two spans. */
    assert_null(strstr(strstr(s, "\"resource\":") + 1, "\"resource\":"));
    char *second = strstr(s, "{\"scope\":{\"name\":\"other\"}");
    assert_non_null(second);
    char *first_spans = strstr(s, "\"spans\":[");
    assert_true(first_spans < second);
    size_t n = 0;
    for (char *p = first_spans; p < second && (p = strstr(p, "\"traceId\":\"a0")) && p < second; p++)
        n++;
    assert_int_equal(n, 2);
    free(s);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_json_survives_every_allocation_failure(void **state)
{
    (void)state;
    check_encoder_survives_every_allocation_failure(otel__otlp_encode_json, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parser_is_strict),
        cmocka_unit_test(test_json_every_field_follows_otlp_json),
        cmocka_unit_test(test_json_escapes_and_replaces_invalid_utf8),
        cmocka_unit_test(test_json_non_finite_doubles_are_strings),
        cmocka_unit_test(test_json_numbers_ignore_the_program_locale),
        cmocka_unit_test(test_json_minimal_span_leaves_defaults_out),
        cmocka_unit_test(test_json_groups_like_protobuf),
        cmocka_unit_test(test_json_survives_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
