/* W3C Baggage propagator: parsing (OWS, properties, percent-decoding with U+FFFD replacement),
 * invalid members skipped, the 64-member / 8192-byte limits, merging into the context's
 * baggage, injection with percent-encoding, and round trips. Cases follow the W3C baggage
 * repository's test/test_baggage.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "prop_test_util.h"

static otel_propagator g_bg;

static int setup(void **state)
{
    (void)state;
    return otel_propagator_baggage(&g_bg) == OTEL_OK ? 0 : -1;
}

static otel_context *extract1(const char *value)
{
    otel_header h[] = { { OTEL_STR("baggage"), otel_str_from_cstr(value) } };
    return extract_list(&g_bg, h, 1);
}

static bool meta_is(const otel_context *c, const char *name, const char *want)
{
    otel_str meta;
    if (!otel_baggage_get(otel_context_get_baggage(c), otel_str_from_cstr(name), NULL, &meta))
        return false;
    return otel_str_eq(meta, otel_str_from_cstr(want));
}

static void test_simple_member(void **state)
{
    (void)state;
    otel_context *c = extract1("SomeKey=SomeValue");
    assert_int_equal(otel_baggage_count(otel_context_get_baggage(c)), 1);
    assert_true(bg_is(c, "SomeKey", "SomeValue"));
    assert_true(meta_is(c, "SomeKey", ""));
    otel_context_release(c);
}

static void test_multiple_members_with_properties(void **state)
{
    (void)state;
    otel_context *c = extract1("SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal");
    assert_int_equal(otel_baggage_count(otel_context_get_baggage(c)), 2);
    assert_true(bg_is(c, "SomeKey", "SomeValue"));
    assert_true(meta_is(c, "SomeKey", "SomeProp"));
    assert_true(bg_is(c, "SomeKey2", "SomeValue2"));
    assert_true(meta_is(c, "SomeKey2", "ValueProp=PropVal"));
    otel_context_release(c);
}

static void test_ows_everywhere_is_ignored(void **state)
{
    (void)state;
    otel_context *c = extract1("SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t "
                               "SomeValue2 \t ; \t ValueProp \t = \t PropVal");
    assert_true(bg_is(c, "SomeKey", "SomeValue"));
    assert_true(meta_is(c, "SomeKey", "SomeProp"));
    assert_true(bg_is(c, "SomeKey2", "SomeValue2"));
    assert_true(meta_is(c, "SomeKey2", "ValueProp=PropVal"));
    otel_context_release(c);
}

static void test_value_may_hold_equal_signs_and_be_empty(void **state)
{
    (void)state;
    otel_context *c = extract1("SomeKey=SomeValue=equals,empty=,k=v;p1;p1=x;p1=y");
    assert_true(bg_is(c, "SomeKey", "SomeValue=equals"));
    assert_true(bg_is(c, "empty", ""));
    assert_true(meta_is(c, "k", "p1;p1=x;p1=y"));
    otel_context_release(c);
}

static void test_values_are_percent_decoded(void **state)
{
    (void)state;
    /* urllib.parse.quote("\t \"';=asdf!@#$%^&*()") as in the W3C test. */
    otel_context *c = extract1("SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29,"
                               "userId=Am%C3%A9lie,serverNode=DF%2028,plus=a+b");
    assert_true(bg_is(c, "SomeKey", "\t \"';=asdf!@#$%^&*()"));
    assert_true(bg_is(c, "userId", "Am\xc3\xa9lie"));
    assert_true(bg_is(c, "serverNode", "DF 28"));
    assert_true(bg_is(c, "plus", "a+b"));
    otel_context_release(c);
}

static void test_invalid_utf8_becomes_replacement_character(void **state)
{
    (void)state;
    otel_context *c = extract1("a=x%FFy,b=%C3,c=%E2%82,d=%ED%A0%80,e=%F0%9F%98%80,f=%C0%AF");
    assert_true(bg_is(c, "a", "x\xef\xbf\xbdy"));
    assert_true(bg_is(c, "b", "\xef\xbf\xbd"));
    /* A truncated sequence is one maximal subpart: one replacement. */
    assert_true(bg_is(c, "c", "\xef\xbf\xbd"));
    /* Surrogates (ED A0..BF) are not UTF-8: each byte is replaced on its own. */
    assert_true(bg_is(c, "d", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
    assert_true(bg_is(c, "e", "\xf0\x9f\x98\x80"));
    assert_true(bg_is(c, "f", "\xef\xbf\xbd\xef\xbf\xbd"));
    otel_context_release(c);
}

static void test_invalid_members_are_skipped_not_fatal(void **state)
{
    (void)state;
    otel_context *c = extract1("good1=1,noequals,=novalue,bad key=1,k=bad value,k2=a\"b,"
                               "k3=%G1,k4=%4,k5=v;bad prop,k6=v;=x,good2=2, ,,good3=3;ok=1");
    const otel_baggage *b = otel_context_get_baggage(c);
    assert_int_equal(otel_baggage_count(b), 3);
    assert_true(bg_is(c, "good1", "1"));
    assert_true(bg_is(c, "good2", "2"));
    assert_true(bg_is(c, "good3", "3"));
    assert_true(meta_is(c, "good3", "ok=1"));
    otel_context_release(c);
}

static void test_header_without_valid_member_changes_nothing(void **state)
{
    (void)state;
    otel_context *c = extract1("not valid");
    assert_null(c);
    otel_header none[] = { H("x-other", "a=1") };
    c = extract_list(&g_bg, none, 1);
    assert_null(c);
}

static void test_repeated_lines_combine_and_later_key_wins(void **state)
{
    (void)state;
    otel_header h[] = { H("baggage", "userId=alice,dup=1"), H("Baggage", "serverNode=DF%2028,dup=2"),
                        H("BAGGAGE", "isProduction=false") };
    otel_context *c = extract_list(&g_bg, h, 3);
    assert_int_equal(otel_baggage_count(otel_context_get_baggage(c)), 4);
    assert_true(bg_is(c, "userId", "alice"));
    assert_true(bg_is(c, "serverNode", "DF 28"));
    assert_true(bg_is(c, "isProduction", "false"));
    assert_true(bg_is(c, "dup", "2"));
    otel_context_release(c);
}

static void test_extract_merges_into_existing_baggage(void **state)
{
    (void)state;
    otel_baggage *mine = NULL;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("local"), OTEL_STR("x"), OTEL_STR(""), &mine), OTEL_OK);
    otel_baggage *mine2 = NULL;
    assert_int_equal(otel_baggage_set(mine, OTEL_STR("shared"), OTEL_STR("old"), OTEL_STR(""), &mine2),
                     OTEL_OK);
    otel_context *base = NULL;
    assert_int_equal(otel_context_with_baggage(NULL, mine2, &base), OTEL_OK);
    otel_header h[] = { H("baggage", "shared=new,remote=y") };
    otel_header_list list = { h, 1 };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *c = otel_propagator_extract(&g_bg, base, &r);
    assert_true(bg_is(c, "local", "x"));
    assert_true(bg_is(c, "shared", "new"));
    assert_true(bg_is(c, "remote", "y"));
    /* The original baggage is untouched (immutable). */
    assert_true(bg_is(base, "shared", "old"));
    otel_context_release(c);
    otel_context_release(base);
    otel_baggage_release(mine2);
    otel_baggage_release(mine);
}

static void test_member_limit_keeps_first_64(void **state)
{
    (void)state;
    static char text[2048];
    text[0] = '\0';
    for (int i = 0; i < 70; i++) {
        char m[16];
        snprintf(m, sizeof(m), "%sk%d=%d", i ? "," : "", i, i);
        strcat(text, m);
    }
    otel_context *c = extract1(text);
    assert_int_equal(otel_baggage_count(otel_context_get_baggage(c)), 64);
    assert_true(bg_is(c, "k0", "0"));
    assert_true(bg_is(c, "k63", "63"));
    assert_null(bg_get(c, "k64").data);
    otel_context_release(c);
}

static void test_byte_limit_drops_whole_members(void **state)
{
    (void)state;
    /* Three members of ~3000 bytes: the third would pass 8192 bytes. */
    static char text[10000];
    char v[3001];
    memset(v, 'v', 3000);
    v[3000] = '\0';
    snprintf(text, sizeof(text), "a=%s,b=%s,c=%s,d=1", v, v, v);
    otel_context *c = extract1(text);
    assert_int_equal(bg_get(c, "a").len, 3000);
    assert_int_equal(bg_get(c, "b").len, 3000);
    assert_null(bg_get(c, "c").data);
    otel_context_release(c);
}

static void test_too_many_lines_are_ignored(void **state)
{
    (void)state;
    otel_header h[OTEL_PROPAGATORS_BAGGAGE_MAX_LINES + 1];
    for (size_t i = 0; i < COUNT(h); i++)
        h[i] = (otel_header)H("baggage", "k=v");
    otel_context *c = extract_list(&g_bg, h, COUNT(h));
    assert_null(c);
    c = extract_list(&g_bg, h, COUNT(h) - 1);
    assert_true(bg_is(c, "k", "v"));
    otel_context_release(c);
}

static otel_context *ctx_with_baggage(const char *const *kvm, size_t n)
{
    otel_baggage *b = NULL;
    for (size_t i = 0; i < n; i++) {
        otel_baggage *next = NULL;
        assert_int_equal(otel_baggage_set(b, otel_str_from_cstr(kvm[3 * i]),
                                          otel_str_from_cstr(kvm[3 * i + 1]),
                                          otel_str_from_cstr(kvm[3 * i + 2]), &next),
                         OTEL_OK);
        otel_baggage_release(b);
        b = next;
    }
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_baggage(NULL, b, &c), OTEL_OK);
    otel_baggage_release(b);
    return c;
}

static void test_inject_percent_encodes_values(void **state)
{
    (void)state;
    const char *kvm[] = {
        "userId", "Am\xc3\xa9lie", "", "serverNode", "DF 28", "", "k", "\t \"';=asdf!@#$%^&*(),\\", "p1;p2=v",
    };
    otel_context *c = ctx_with_baggage(kvm, 3);
    test_out o;
    inject_into(&g_bg, c, &o);
    assert_true(out_is(&o, "baggage",
                       "userId=Am%C3%A9lie,serverNode=DF%2028,"
                       "k=%09%20%22'%3B=asdf!@#$%25^&*()%2C%5C;p1;p2=v"));
    otel_context_release(c);
}

static void test_inject_skips_entries_that_cannot_be_sent(void **state)
{
    (void)state;
    const char *kvm[] = {
        "bad name", "1", "", "ok", "1", "", "badmeta", "1", "a,b", "ok2", "2", "",
    };
    otel_context *c = ctx_with_baggage(kvm, 4);
    test_out o;
    inject_into(&g_bg, c, &o);
    assert_true(out_is(&o, "baggage", "ok=1,ok2=2"));
    otel_context_release(c);

    /* Nothing at all when there is no baggage. */
    inject_into(&g_bg, NULL, &o);
    assert_int_equal(o.buf.count, 0);
}

static void test_inject_never_exceeds_8192_bytes(void **state)
{
    (void)state;
    /* Values that triple in size when encoded: 2 x 2000 raw bytes -> 2 x 6000 encoded. */
    char v[2001];
    memset(v, ' ', 2000);
    v[2000] = '\0';
    const char *kvm[] = { "a", v, "", "b", v, "", "c", "small", "" };
    otel_context *c = ctx_with_baggage(kvm, 3);
    test_out o;
    inject_into(&g_bg, c, &o);
    otel_str out = out_get(&o, "baggage");
    assert_true(out.len <= OTEL_BAGGAGE_MAX_BYTES);
    assert_int_equal(out.len, 2 + 6000 + 8);
    assert_memory_equal(out.data + out.len - 8, ",c=small", 8);
    otel_context_release(c);
}

static void test_round_trip_keeps_entries(void **state)
{
    (void)state;
    const char *kvm[] = {
        "k1", "plain", "", "k2", "with space,comma;semi%percent", "prop;x=1", "k3", "\xe2\x82\xac uro",
        "",   "k4",    "", "",
    };
    otel_context *c1 = ctx_with_baggage(kvm, 4);
    test_out o;
    inject_into(&g_bg, c1, &o);
    otel_context *c2 = extract_out(&g_bg, &o);
    const otel_baggage *a = otel_context_get_baggage(c1);
    const otel_baggage *b = otel_context_get_baggage(c2);
    assert_int_equal(otel_baggage_count(b), 4);
    for (size_t i = 0; i < 4; i++) {
        otel_str n1, v1, m1, n2, v2, m2;
        assert_true(otel_baggage_entry(a, i, &n1, &v1, &m1));
        assert_true(otel_baggage_entry(b, i, &n2, &v2, &m2));
        assert_true(otel_str_eq(n1, n2));
        assert_true(otel_str_eq(v1, v2));
        assert_true(otel_str_eq(m1, m2));
    }
    otel_context_release(c1);
    otel_context_release(c2);
}

static void test_fields_and_null_out(void **state)
{
    (void)state;
    otel_str names[2];
    assert_int_equal(g_bg.fields(g_bg.user_data, names, 2), 1);
    assert_true(otel_str_eq(names[0], OTEL_STR("baggage")));
    assert_int_equal(otel_propagator_baggage(NULL), OTEL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_member),
        cmocka_unit_test(test_multiple_members_with_properties),
        cmocka_unit_test(test_ows_everywhere_is_ignored),
        cmocka_unit_test(test_value_may_hold_equal_signs_and_be_empty),
        cmocka_unit_test(test_values_are_percent_decoded),
        cmocka_unit_test(test_invalid_utf8_becomes_replacement_character),
        cmocka_unit_test(test_invalid_members_are_skipped_not_fatal),
        cmocka_unit_test(test_header_without_valid_member_changes_nothing),
        cmocka_unit_test(test_repeated_lines_combine_and_later_key_wins),
        cmocka_unit_test(test_extract_merges_into_existing_baggage),
        cmocka_unit_test(test_member_limit_keeps_first_64),
        cmocka_unit_test(test_byte_limit_drops_whole_members),
        cmocka_unit_test(test_too_many_lines_are_ignored),
        cmocka_unit_test(test_inject_percent_encodes_values),
        cmocka_unit_test(test_inject_skips_entries_that_cannot_be_sent),
        cmocka_unit_test(test_inject_never_exceeds_8192_bytes),
        cmocka_unit_test(test_round_trip_keeps_entries),
        cmocka_unit_test(test_fields_and_null_out),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
