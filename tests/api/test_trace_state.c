/* The W3C tracestate list: key and value grammar, parsing rules (whitespace, empty members,
 * repeated keys, the 32-member limit), set/delete ordering, serialization and allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "otel/trace.h"

static otel_str S(const char *s)
{
    return otel_str_from_cstr(s);
}

/* Parses |header|, which must be valid, and returns its serialization in |buf|. */
static void parse_and_serialize(const char *header, char *buf, size_t cap)
{
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(S(header), &ts), OTEL_OK);
    otel_trace_state_serialize(ts, buf, cap);
    otel_trace_state_release(ts);
}

static void expect_invalid(const char *header)
{
    otel_trace_state *ts = (otel_trace_state *)1;
    otel_status st = otel_trace_state_parse(S(header), &ts);
    if (st != OTEL_ERR_INVALID_ARG)
        fail_msg("accepted invalid tracestate \"%s\"", header);
    assert_null(ts);
}

static void test_simple_keys_follow_the_w3c_grammar(void **state)
{
    (void)state;
    assert_true(otel_trace_state_key_is_valid(S("a")));
    assert_true(otel_trace_state_key_is_valid(S("rojo")));
    assert_true(otel_trace_state_key_is_valid(S("a0_-*/z")));
    assert_false(otel_trace_state_key_is_valid(S("")));
    assert_true(otel_trace_state_key_is_valid(S("0abc"))); /* level 2: a digit may come first */
    assert_false(otel_trace_state_key_is_valid(S("Abc"))); /* uppercase */
    assert_false(otel_trace_state_key_is_valid(S("a b")));
    assert_false(otel_trace_state_key_is_valid(S("a.b")));
    assert_false(otel_trace_state_key_is_valid(S("_abc")));
    char key[258];
    memset(key, 'k', sizeof(key));
    assert_true(otel_trace_state_key_is_valid((otel_str){ key, 256 }));
    assert_false(otel_trace_state_key_is_valid((otel_str){ key, 257 }));
}

static void test_keys_with_at_signs_follow_the_level_2_grammar(void **state)
{
    (void)state;
    /* Level 2: key = ( lcalpha / DIGIT ) 0*255( keychar ), and keychar includes '@'. */
    assert_true(otel_trace_state_key_is_valid(S("fw529a3039@dt")));
    assert_true(otel_trace_state_key_is_valid(S("0tenant@sys")));
    assert_true(otel_trace_state_key_is_valid(S("t@s0_-*/")));
    assert_true(otel_trace_state_key_is_valid(S("tenant@")));
    assert_true(otel_trace_state_key_is_valid(S("foo@@bar")));
    assert_true(otel_trace_state_key_is_valid(S("t@s@x")));
    assert_true(otel_trace_state_key_is_valid(S("tenant@0sys")));
    assert_false(otel_trace_state_key_is_valid(S("@sys")));
    assert_false(otel_trace_state_key_is_valid(S("_t@sys")));
    assert_false(otel_trace_state_key_is_valid(S("T@sys")));
    char key[300];
    memset(key, 't', sizeof(key));
    memcpy(key + 242, "@v", 2); /* the level 1 tenant limit (241) no longer applies */
    assert_true(otel_trace_state_key_is_valid((otel_str){ key, 244 }));
    memcpy(key + 1, "@vvvvvvvvvvvvvvv", 16); /* nor the level 1 system limit (14) */
    assert_true(otel_trace_state_key_is_valid((otel_str){ key, 17 }));
    assert_false(otel_trace_state_key_is_valid((otel_str){ key, 257 }));
}

static void test_values_follow_the_w3c_grammar(void **state)
{
    (void)state;
    assert_true(otel_trace_state_value_is_valid(S("00f067aa0ba902b7")));
    assert_true(otel_trace_state_value_is_valid(S(" leading space ok")));
    assert_true(otel_trace_state_value_is_valid(S("!~\"#$%&'()*+-./:;<>?@[\\]^_`{|}")));
    assert_false(otel_trace_state_value_is_valid(S("")));
    assert_false(otel_trace_state_value_is_valid(S("trailing ")));
    assert_false(otel_trace_state_value_is_valid(S("a,b")));
    assert_false(otel_trace_state_value_is_valid(S("a=b")));
    assert_false(otel_trace_state_value_is_valid(S("tab\there")));
    assert_false(otel_trace_state_value_is_valid(S("\x7f")));
    assert_false(otel_trace_state_value_is_valid(S("caf\xc3\xa9")));
    char value[257];
    memset(value, 'v', sizeof(value));
    assert_true(otel_trace_state_value_is_valid((otel_str){ value, 256 }));
    assert_false(otel_trace_state_value_is_valid((otel_str){ value, 257 }));
}

static void test_parse_keeps_member_order(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(S("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_count(ts), 2);
    otel_str k, v;
    assert_true(otel_trace_state_entry(ts, 0, &k, &v));
    assert_true(otel_str_eq(k, OTEL_STR("rojo")));
    assert_true(otel_str_eq(v, OTEL_STR("00f067aa0ba902b7")));
    assert_true(otel_trace_state_entry(ts, 1, &k, &v));
    assert_true(otel_str_eq(k, OTEL_STR("congo")));
    assert_false(otel_trace_state_entry(ts, 2, &k, &v));
    assert_true(otel_trace_state_get(ts, OTEL_STR("congo"), &v));
    assert_true(otel_str_eq(v, OTEL_STR("t61rcWkgMzE")));
    assert_false(otel_trace_state_get(ts, OTEL_STR("rojo2"), &v));
    otel_trace_state_release(ts);
}

static void test_parse_trims_whitespace_and_skips_empty_members(void **state)
{
    (void)state;
    char buf[128];
    parse_and_serialize(" \t a=1 ,, \t,b=2\t,  ,", buf, sizeof(buf));
    assert_string_equal(buf, "a=1,b=2");
    parse_and_serialize("a= x y", buf, sizeof(buf)); /* inner and leading value spaces are kept */
    assert_string_equal(buf, "a= x y");
}

static void test_parse_of_empty_or_blank_header_gives_null(void **state)
{
    (void)state;
    otel_trace_state *ts = (otel_trace_state *)1;
    assert_int_equal(otel_trace_state_parse(S(""), &ts), OTEL_OK);
    assert_null(ts);
    ts = (otel_trace_state *)1;
    assert_int_equal(otel_trace_state_parse(S(" , \t,"), &ts), OTEL_OK);
    assert_null(ts);
    ts = (otel_trace_state *)1;
    assert_int_equal(otel_trace_state_parse((otel_str){ NULL, 0 }, &ts), OTEL_OK);
    assert_null(ts);
    assert_int_equal(otel_trace_state_count(NULL), 0);
}

static void test_parse_rejects_any_invalid_member(void **state)
{
    (void)state;
    expect_invalid("a=1,B=2");
    expect_invalid("a=1,b");
    expect_invalid("a=1,=2");
    expect_invalid("a=1,b=");
    expect_invalid("a=1,b=2=3");
    expect_invalid("a =1");
    expect_invalid("a=1 x=2");
    expect_invalid("a=\x01");
    expect_invalid("@a=1");
}

static void test_parse_keeps_the_first_member_of_a_repeated_key(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(S("a=1,b=2,a=3"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_count(ts), 2);
    otel_str v;
    assert_true(otel_trace_state_get(ts, S("a"), &v));
    assert_true(otel_str_eq(v, S("1")));
    otel_trace_state_release(ts);
    assert_int_equal(otel_trace_state_parse(S("t@s=1, t@s=1"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_count(ts), 1);
    otel_trace_state_release(ts);
}

static void test_parse_accepts_32_members_and_rejects_33(void **state)
{
    (void)state;
    char header[33 * 8];
    size_t len = 0;
    for (int i = 0; i < 33; i++)
        len += (size_t)snprintf(header + len, sizeof(header) - len, "%sk%d=%d", i ? "," : "", i, i);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse((otel_str){ header, len }, &ts), OTEL_ERR_INVALID_ARG);
    assert_null(ts);
    char *last_comma = strrchr(header, ',');
    size_t len32 = (size_t)(last_comma - header);
    assert_int_equal(otel_trace_state_parse((otel_str){ header, len32 }, &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_count(ts), 32);
    otel_trace_state_release(ts);
    /* Empty members do not count. */
    char padded[33 * 8 + 16];
    memcpy(padded, header, len32);
    memcpy(padded + len32, ",,,, ,", 6);
    assert_int_equal(otel_trace_state_parse((otel_str){ padded, len32 + 6 }, &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_count(ts), 32);
    otel_trace_state_release(ts);
}

/* Headers of up to 64 bytes take a separate fast path in the parser; the same header followed by
 * empty members (commas), which the grammar ignores, is longer and takes the general one. Both
 * must agree on validity, members and text, for hand-picked and for pseudo-random headers. */
static void check_short_header_like_padded(const char *h, size_t len)
{
    char padded[160];
    memcpy(padded, h, len);
    memset(padded + len, ',', 80);
    otel_trace_state *a = NULL, *b = NULL;
    otel_status sa = otel_trace_state_parse((otel_str){ h, len }, &a);
    otel_status sb = otel_trace_state_parse((otel_str){ padded, len + 80 }, &b);
    if (sa != sb || otel_trace_state_count(a) != otel_trace_state_count(b))
        fail_msg("\"%.*s\": status %d/%d, count %zu/%zu", (int)len, h, (int)sa, (int)sb,
                 otel_trace_state_count(a), otel_trace_state_count(b));
    char ta[160], tb[160];
    otel_trace_state_serialize(a, ta, sizeof(ta));
    otel_trace_state_serialize(b, tb, sizeof(tb));
    if (strcmp(ta, tb) != 0)
        fail_msg("\"%.*s\": \"%s\" vs \"%s\"", (int)len, h, ta, tb);
    for (size_t i = 0; i < otel_trace_state_count(a); i++) {
        otel_str ka, va, kb, vb;
        assert_true(otel_trace_state_entry(a, i, &ka, &va));
        assert_true(otel_trace_state_entry(b, i, &kb, &vb));
        assert_true(otel_str_eq(ka, kb) && otel_str_eq(va, vb));
    }
    otel_trace_state_release(a);
    otel_trace_state_release(b);
}

static void test_short_headers_parse_like_longer_equivalent_ones(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "a=1",
        "a=1,",
        ",a=1",
        "a=1,,b=2",
        "a==1",
        "a=1=2",
        "=1",
        "a=",
        "A=1",
        "a=1,a=2",
        "a=1,b=2,a=3",
        "a=1 ",
        " a=1",
        "a=1\t",
        "a=\x7f",
        "a=b c",
        "1a=x",
        "a@b=c",
        "a/b=c,d*e=f",
        "k=,",
        "k=v,=",
        "k=v,,",
        "k",
        "k,",
        ",",
        "a=~",
        "a=1,b",
        "a-b_c=x!y",
        "a=1,b==",
        "z=\x80",
        "a@b@c=1",
        "@a=1",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "abcdefghijklmnop=qrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyza", /* 64 */
        "abcdefghijklmnop=qrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz",  /* 63 */
        "abcdefg=12345678",
        "abcdefg=1234567",
        "abcdefg=123456789",
        "a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_short_header_like_padded(cases[i], strlen(cases[i]));
    /* Pseudo-random headers over the characters that matter, mostly well formed. */
    static const char alphabet[] = "abz09==,,,, \t@*/-_A~\x7f";
    uint32_t x = 12345;
    for (int n = 0; n < 20000; n++) {
        char h[64];
        x = x * 1103515245u + 12345u;
        size_t len = 1 + (x >> 16) % 64;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            unsigned r = (x >> 16) % 100;
            /* 85 %: lowercase letters and digits; the rest from the alphabet. */
            h[i] = r < 85 ? "abcdefghijklmnopqrstuvwxyz0123456789"[r % 36]
                          : alphabet[r % (sizeof(alphabet) - 1)];
            if (i % 6 == 3 && r < 50)
                h[i] = '=';
            else if (i % 6 == 5 && r < 50)
                h[i] = ',';
        }
        check_short_header_like_padded(h, len);
    }
}

static void test_set_puts_the_member_first_and_removes_the_old_one(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL, *ts2 = NULL, *ts3 = NULL;
    assert_int_equal(otel_trace_state_parse(S("a=1,b=2,c=3"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_set(ts, OTEL_STR("b"), OTEL_STR("9"), &ts2), OTEL_OK);
    char buf[64];
    otel_trace_state_serialize(ts2, buf, sizeof(buf));
    assert_string_equal(buf, "b=9,a=1,c=3");
    otel_trace_state_serialize(ts, buf, sizeof(buf));
    assert_string_equal(buf, "a=1,b=2,c=3"); /* the original is untouched */
    assert_int_equal(otel_trace_state_set(ts2, OTEL_STR("new"), OTEL_STR("x"), &ts3), OTEL_OK);
    otel_trace_state_serialize(ts3, buf, sizeof(buf));
    assert_string_equal(buf, "new=x,b=9,a=1,c=3");
    otel_trace_state_release(ts);
    otel_trace_state_release(ts2);
    otel_trace_state_release(ts3);
}

static void test_set_on_null_creates_a_list(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_set(NULL, OTEL_STR("k"), OTEL_STR("v"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_count(ts), 1);
    otel_trace_state_release(ts);
}

static void test_set_rejects_invalid_key_or_value_without_output(void **state)
{
    (void)state;
    otel_trace_state *ts = (otel_trace_state *)1;
    assert_int_equal(otel_trace_state_set(NULL, OTEL_STR("Bad"), OTEL_STR("v"), &ts), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_trace_state_set(NULL, OTEL_STR("k"), OTEL_STR("v,"), &ts), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_trace_state_set(NULL, OTEL_STR("k"), OTEL_STR(""), &ts), OTEL_ERR_INVALID_ARG);
    assert_ptr_equal(ts, (otel_trace_state *)1);
}

static void test_set_on_a_full_list_drops_the_right_most_member(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    for (int i = 0; i < 32; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", i);
        otel_trace_state *next = NULL;
        assert_int_equal(otel_trace_state_set(ts, S(key), OTEL_STR("v"), &next), OTEL_OK);
        otel_trace_state_release(ts);
        ts = next;
    }
    assert_int_equal(otel_trace_state_count(ts), 32);
    otel_str k;
    assert_true(otel_trace_state_entry(ts, 31, &k, NULL));
    assert_true(otel_str_eq(k, OTEL_STR("k0")));
    otel_trace_state *full = NULL;
    assert_int_equal(otel_trace_state_set(ts, OTEL_STR("n"), OTEL_STR("v"), &full), OTEL_OK);
    assert_int_equal(otel_trace_state_count(full), 32);
    assert_true(otel_trace_state_entry(full, 0, &k, NULL));
    assert_true(otel_str_eq(k, OTEL_STR("n")));
    assert_false(otel_trace_state_get(full, OTEL_STR("k0"), NULL));
    assert_true(otel_trace_state_get(full, OTEL_STR("k1"), NULL));
    /* Updating an existing key of a full list drops nothing. */
    otel_trace_state *upd = NULL;
    assert_int_equal(otel_trace_state_set(ts, OTEL_STR("k0"), OTEL_STR("w"), &upd), OTEL_OK);
    assert_int_equal(otel_trace_state_count(upd), 32);
    assert_true(otel_trace_state_get(upd, OTEL_STR("k1"), NULL));
    otel_trace_state_release(upd);
    otel_trace_state_release(full);
    otel_trace_state_release(ts);
}

static void test_delete_removes_a_member_and_keeps_the_order(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL, *out = NULL;
    assert_int_equal(otel_trace_state_parse(S("a=1,b=2,c=3"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_delete(ts, OTEL_STR("b"), &out), OTEL_OK);
    char buf[64];
    otel_trace_state_serialize(out, buf, sizeof(buf));
    assert_string_equal(buf, "a=1,c=3");
    otel_trace_state_release(out);
    /* An absent key gives the same list. */
    assert_int_equal(otel_trace_state_delete(ts, OTEL_STR("zz"), &out), OTEL_OK);
    assert_ptr_equal(out, ts);
    otel_trace_state_release(out);
    otel_trace_state_release(ts);
}

static void test_delete_of_the_last_member_gives_null(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL, *out = (otel_trace_state *)1;
    assert_int_equal(otel_trace_state_parse(S("only=1"), &ts), OTEL_OK);
    assert_int_equal(otel_trace_state_delete(ts, OTEL_STR("only"), &out), OTEL_OK);
    assert_null(out);
    otel_trace_state_release(ts);
    out = (otel_trace_state *)1;
    assert_int_equal(otel_trace_state_delete(NULL, OTEL_STR("x"), &out), OTEL_OK);
    assert_null(out);
}

static void test_serialize_reports_needed_length_and_truncates(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(S("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), &ts), OTEL_OK);
    size_t need = otel_trace_state_serialize(ts, NULL, 0);
    assert_int_equal(need, strlen("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    char small[8];
    memset(small, 'X', sizeof(small));
    assert_int_equal(otel_trace_state_serialize(ts, small, sizeof(small)), need);
    assert_string_equal(small, "rojo=00");
    char one[1] = { 'X' };
    otel_trace_state_serialize(ts, one, 1);
    assert_int_equal(one[0], '\0');
    char empty[4] = "abc";
    assert_int_equal(otel_trace_state_serialize(NULL, empty, sizeof(empty)), 0);
    assert_string_equal(empty, "");
    otel_trace_state_release(ts);
}

static void test_serialize_round_trips_through_parse(void **state)
{
    (void)state;
    const char *in = "fw529a3039@dt=abc,rojo=00f067aa0ba902b7,x= y!~";
    char buf[128];
    parse_and_serialize(in, buf, sizeof(buf));
    assert_string_equal(buf, in);
    char buf2[128];
    parse_and_serialize(buf, buf2, sizeof(buf2));
    assert_string_equal(buf2, in);
}

static void test_retain_and_release_count_references(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(S("a=1"), &ts), OTEL_OK);
    assert_ptr_equal(otel_trace_state_retain(ts), ts);
    otel_trace_state_release(ts);
    assert_int_equal(otel_trace_state_count(ts), 1); /* still alive: ASan would catch it */
    otel_trace_state_release(ts);
    assert_null(otel_trace_state_retain(NULL));
    otel_trace_state_release(NULL);
}

static int trace_state_scenario(void *arg)
{
    (void)arg;
    otel_trace_state *ts = NULL, *set = NULL, *del = NULL;
    otel_status st = otel_trace_state_parse(OTEL_STR("a=1,b=2,c=3"), &ts);
    if (st != OTEL_OK)
        return (int)st;
    st = otel_trace_state_set(ts, OTEL_STR("d"), OTEL_STR("4"), &set);
    if (st != OTEL_OK)
        goto out_ts;
    st = otel_trace_state_delete(set, OTEL_STR("a"), &del);
    if (st != OTEL_OK)
        goto out_set;
    otel_trace_state_release(del);
out_set:
    otel_trace_state_release(set);
out_ts:
    otel_trace_state_release(ts);
    return (int)st;
}

/* Out of memory does not hide an invalid header: it is reported as invalid, as before any
 * allocation; a valid one reports the lack of memory. */
static void test_invalid_header_is_invalid_even_without_memory(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    failalloc_install();
    failalloc_fail_at(1);
    assert_int_equal(otel_trace_state_parse(OTEL_STR("a=1,B=2"), &ts), OTEL_ERR_INVALID_ARG);
    failalloc_fail_at(1);
    assert_int_equal(otel_trace_state_parse(OTEL_STR("a=1,b=2,a=3"), &ts), OTEL_ERR_NOMEM);
    failalloc_fail_at(1);
    assert_int_equal(otel_trace_state_parse(OTEL_STR("a=1,b=2"), &ts), OTEL_ERR_NOMEM);
    assert_true(failalloc_failed());
    assert_null(ts);
    failalloc_uninstall();
}

static void test_allocation_failures_are_reported_and_leak_nothing(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(trace_state_scenario, NULL);
    assert_int_equal(r.clean_status, OTEL_OK);
    assert_int_equal(r.allocations, 3);
    assert_int_equal(r.runs, 3);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_keys_follow_the_w3c_grammar),
        cmocka_unit_test(test_keys_with_at_signs_follow_the_level_2_grammar),
        cmocka_unit_test(test_values_follow_the_w3c_grammar),
        cmocka_unit_test(test_parse_keeps_member_order),
        cmocka_unit_test(test_parse_trims_whitespace_and_skips_empty_members),
        cmocka_unit_test(test_parse_of_empty_or_blank_header_gives_null),
        cmocka_unit_test(test_parse_rejects_any_invalid_member),
        cmocka_unit_test(test_parse_keeps_the_first_member_of_a_repeated_key),
        cmocka_unit_test(test_parse_accepts_32_members_and_rejects_33),
        cmocka_unit_test(test_short_headers_parse_like_longer_equivalent_ones),
        cmocka_unit_test(test_set_puts_the_member_first_and_removes_the_old_one),
        cmocka_unit_test(test_set_on_null_creates_a_list),
        cmocka_unit_test(test_set_rejects_invalid_key_or_value_without_output),
        cmocka_unit_test(test_set_on_a_full_list_drops_the_right_most_member),
        cmocka_unit_test(test_delete_removes_a_member_and_keeps_the_order),
        cmocka_unit_test(test_delete_of_the_last_member_gives_null),
        cmocka_unit_test(test_serialize_reports_needed_length_and_truncates),
        cmocka_unit_test(test_serialize_round_trips_through_parse),
        cmocka_unit_test(test_retain_and_release_count_references),
        cmocka_unit_test(test_allocation_failures_are_reported_and_leak_nothing),
        cmocka_unit_test(test_invalid_header_is_invalid_even_without_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
