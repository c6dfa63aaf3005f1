/* The shared text encoders (api/src/text.h): base64 against the RFC 4648 test vectors, and the
 * shortest round-tripping double. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static void expect_base64(const char *in, const char *want)
{
    char out[64];
    size_t n = strlen(in);
    assert_int_equal(otel__base64_len(n), strlen(want));
    otel__base64_encode((const uint8_t *)in, n, out);
    assert_memory_equal(out, want, strlen(want));
}

static void test_base64_matches_the_rfc_4648_vectors(void **state)
{
    (void)state;
    expect_base64("", "");
    expect_base64("f", "Zg==");
    expect_base64("fo", "Zm8=");
    expect_base64("foo", "Zm9v");
    expect_base64("foob", "Zm9vYg==");
    expect_base64("fooba", "Zm9vYmE=");
    expect_base64("foobar", "Zm9vYmFy");
    const uint8_t bin[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };
    char out[8];
    otel__base64_encode(bin, sizeof(bin), out);
    assert_memory_equal(out, "3q2+7wE=", 8);
}

static void test_format_double_gives_the_shortest_text_that_reads_back(void **state)
{
    (void)state;
    setlocale(LC_NUMERIC, "C");
    const double cases[] = { 0.0, 1.0, -2.5, 0.1, 1.0 / 3.0, 1e300, 5e-324, 123456789.125 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[OTEL__DOUBLE_TEXT_MAX];
        size_t n = otel__format_double(cases[i], buf);
        assert_int_equal(n, strlen(buf));
        assert_true(strtod(buf, NULL) == cases[i]);
    }
    char buf[OTEL__DOUBLE_TEXT_MAX];
    otel__format_double(0.1, buf);
    assert_string_equal(buf, "0.1");
    otel__format_double(-2.5, buf);
    assert_string_equal(buf, "-2.5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_matches_the_rfc_4648_vectors),
        cmocka_unit_test(test_format_double_gives_the_shortest_text_that_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
