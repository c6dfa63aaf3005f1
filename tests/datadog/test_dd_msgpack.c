/* The Datadog exporter's MessagePack writer: exact bytes at every width boundary, and a round
 * trip of boundary values through python3-msgpack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dd_msgpack.h"
#include "otel/sdk/trace.h"

#include "dd_testutil.h"

static void expect_bytes(const struct otel__dd_buf *b, const uint8_t *want, size_t n)
{
    assert_false(b->failed);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

#define EXPECT(buf, ...)                                \
    do {                                                \
        static const uint8_t want_[] = { __VA_ARGS__ }; \
        expect_bytes((buf), want_, sizeof(want_));      \
    } while (0)

/* otel__w_copy copies exactly |n| bytes for every size class (0 to 70), writing nothing
 * around them. */
static void test_cursor_copy_writes_exactly_n_bytes(void **state)
{
    (void)state;
    uint8_t src[80], dst[96];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 7 + 1);
    for (size_t n = 0; n <= 70; n++) {
        memset(dst, 0xee, sizeof(dst));
        uint8_t *end = otel__w_copy(dst + 8, src + 3, n);
        assert_ptr_equal(end, dst + 8 + n);
        assert_memory_equal(dst + 8, src + 3, n);
        for (size_t i = 0; i < 8; i++)
            assert_int_equal(dst[i], 0xee);
        for (size_t i = 8 + n; i < sizeof(dst); i++)
            assert_int_equal(dst[i], 0xee);
    }
}

static void test_uint_uses_smallest_form_at_each_boundary(void **state)
{
    (void)state;
    struct otel__dd_buf b = { 0 };
    otel__mp_uint(&b, 0);
    EXPECT(&b, 0x00);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, 127);
    EXPECT(&b, 0x7f);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, 128);
    EXPECT(&b, 0xcc, 0x80);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, 255);
    EXPECT(&b, 0xcc, 0xff);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, 256);
    EXPECT(&b, 0xcd, 0x01, 0x00);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, 65535);
    EXPECT(&b, 0xcd, 0xff, 0xff);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, 65536);
    EXPECT(&b, 0xce, 0x00, 0x01, 0x00, 0x00);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, UINT32_MAX);
    EXPECT(&b, 0xce, 0xff, 0xff, 0xff, 0xff);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, (uint64_t)UINT32_MAX + 1);
    EXPECT(&b, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0);
    otel__dd_buf_reset(&b);
    otel__mp_uint(&b, UINT64_MAX);
    EXPECT(&b, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    otel__dd_buf_free(&b);
}

static void test_int_negative_forms_at_each_boundary(void **state)
{
    (void)state;
    struct otel__dd_buf b = { 0 };
    otel__mp_int(&b, -1);
    EXPECT(&b, 0xff);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, -32);
    EXPECT(&b, 0xe0);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, -33);
    EXPECT(&b, 0xd0, 0xdf);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, -128);
    EXPECT(&b, 0xd0, 0x80);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, -129);
    EXPECT(&b, 0xd1, 0xff, 0x7f);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, INT16_MIN - 1);
    EXPECT(&b, 0xd2, 0xff, 0xff, 0x7f, 0xff);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, (int64_t)INT32_MIN - 1);
    EXPECT(&b, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, INT64_MIN);
    EXPECT(&b, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0);
    otel__dd_buf_reset(&b);
    otel__mp_int(&b, INT64_MAX); /* positive: unsigned form */
    EXPECT(&b, 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    otel__dd_buf_free(&b);
}

static void test_ids_always_use_uint64(void **state)
{
    (void)state;
    struct otel__dd_buf b = { 0 };
    otel__mp_u64(&b, 1);
    EXPECT(&b, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1);
    otel__dd_buf_reset(&b);
    otel__mp_u64(&b, UINT64_C(1) << 63);
    EXPECT(&b, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0);
    otel__dd_buf_free(&b);
}

static void test_str_headers_at_each_boundary(void **state)
{
    (void)state;
    static char text[70000];
    memset(text, 'a', sizeof(text));
    struct otel__dd_buf b = { 0 };
    const struct {
        size_t len;
        uint8_t head[5];
        size_t head_len;
    } cases[] = {
        { 0, { 0xa0 }, 1 },
        { 31, { 0xbf }, 1 },
        { 32, { 0xd9, 32 }, 2 },
        { 255, { 0xd9, 0xff }, 2 },
        { 256, { 0xda, 0x01, 0x00 }, 3 },
        { 65535, { 0xda, 0xff, 0xff }, 3 },
        { 65536, { 0xdb, 0x00, 0x01, 0x00, 0x00 }, 5 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        otel__dd_buf_reset(&b);
        otel__mp_str(&b, text, cases[i].len);
        assert_false(b.failed);
        assert_int_equal(b.len, cases[i].head_len + cases[i].len);
        assert_memory_equal(b.data, cases[i].head, cases[i].head_len);
    }
    otel__dd_buf_free(&b);
}

static void test_array_and_map_headers_at_each_boundary(void **state)
{
    (void)state;
    struct otel__dd_buf b = { 0 };
    otel__mp_array(&b, 15);
    EXPECT(&b, 0x9f);
    otel__dd_buf_reset(&b);
    otel__mp_array(&b, 16);
    EXPECT(&b, 0xdc, 0x00, 0x10);
    otel__dd_buf_reset(&b);
    otel__mp_array(&b, 65536);
    EXPECT(&b, 0xdd, 0x00, 0x01, 0x00, 0x00);
    otel__dd_buf_reset(&b);
    otel__mp_map(&b, 15);
    EXPECT(&b, 0x8f);
    otel__dd_buf_reset(&b);
    otel__mp_map(&b, 16);
    EXPECT(&b, 0xde, 0x00, 0x10);
    otel__dd_buf_reset(&b);
    otel__mp_map(&b, 70000);
    EXPECT(&b, 0xdf, 0x00, 0x01, 0x11, 0x70);
    otel__dd_buf_free(&b);
}

static void test_double_is_float64_big_endian(void **state)
{
    (void)state;
    struct otel__dd_buf b = { 0 };
    otel__mp_f64(&b, 1.0);
    EXPECT(&b, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0);
    otel__dd_buf_free(&b);
}

static void test_boundary_values_round_trip_through_python_msgpack(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    struct otel__dd_buf b = { 0 };
    otel__mp_array(&b, 16);
    otel__mp_u64(&b, UINT64_MAX);
    otel__mp_u64(&b, UINT64_C(1) << 63);
    otel__mp_uint(&b, UINT64_MAX);
    otel__mp_uint(&b, (UINT64_C(1) << 63) + 1);
    otel__mp_int(&b, INT64_MIN);
    otel__mp_int(&b, -33);
    otel__mp_int(&b, 65536);
    otel__mp_f64(&b, 0.1);
    otel__mp_f64(&b, -1.5e300);
    otel__mp_bool(&b, true);
    otel__mp_nil(&b);
    otel__mp_str(&b, "h\xc3\xa9llo", 6);
    OTEL__MP_LIT(&b, "lit");
    otel__mp_map(&b, 1);
    otel__mp_uint(&b, 7);
    otel__mp_str(&b, "", 0);
    static char big[300];
    memset(big, 'z', sizeof(big));
    otel__mp_str(&b, big, sizeof(big));
    otel__mp_array(&b, 0);
    assert_false(b.failed);
    char *out = dd_decode(b.data, b.len, "raw");
    assert_non_null(out);
    DD_ASSERT_LACKS(out, "ERROR");
    DD_ASSERT_HAS(out, "\"i:18446744073709551615\",\"i:9223372036854775808\","
                       "\"i:18446744073709551615\",\"i:9223372036854775809\","
                       "\"i:-9223372036854775808\",\"i:-33\",\"i:65536\",\"f:0.1\",\"f:-1.5e+300\","
                       "\"b:true\",\"nil\",\"s:h\xc3\xa9llo\",\"s:lit\",{\"i:7\":\"s:\"},\"s:zzz");
    DD_ASSERT_HAS(out, "zzz\",[]]");
    free(out);
    otel__dd_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_copy_writes_exactly_n_bytes),
        cmocka_unit_test(test_uint_uses_smallest_form_at_each_boundary),
        cmocka_unit_test(test_int_negative_forms_at_each_boundary),
        cmocka_unit_test(test_ids_always_use_uint64),
        cmocka_unit_test(test_str_headers_at_each_boundary),
        cmocka_unit_test(test_array_and_map_headers_at_each_boundary),
        cmocka_unit_test(test_double_is_float64_big_endian),
        cmocka_unit_test(test_boundary_values_round_trip_through_python_msgpack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
