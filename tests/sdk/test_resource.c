/* Tests for resources (sdk/src/resource.c): deep copies, duplicate keys, merge and schema URLs,
 * the default resource, OTEL_RESOURCE_ATTRIBUTES parsing, and allocation failures. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "failalloc.h"
#include "log_capture.h"
#include "log_internal.h"
#include "otel/sdk/resource.h"

/* Diagnostics are captured through the public log handler (tests/support/log_capture.h). */

/* ---- helpers --------------------------------------------------------------------------------- */

static otel_str S(const char *s)
{
    return otel_str_from_cstr(s);
}

/* The string value of |key|, NUL-terminated (resources store a NUL after every string). */
static const char *get_str(const otel_resource *r, const char *key)
{
    otel_value v;
    if (!otel_resource_get(r, S(key), &v) || v.type != OTEL_VALUE_STR)
        return NULL;
    assert_int_equal(v.as.s.data[v.as.s.len], '\0');
    return v.as.s.data;
}

static otel_resource *parse(const char *text, const char *service)
{
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_parse(S(text), S(service), "OTEL_RESOURCE_ATTRIBUTES", &r), OTEL_OK);
    assert_non_null(r);
    return r;
}

/* ---- create ---------------------------------------------------------------------------------- */

static void test_resource_create_copies_every_value_kind(void **state)
{
    (void)state;
    char key[] = "svc";
    char val[] = "checkout";
    char item0[] = "a", item1[] = "bc";
    otel_str strs[] = { { item0, 1 }, { item1, 2 } };
    int64_t ints[] = { 1, -2, 3 };
    bool bools[] = { true, false };
    double dbls[] = { 0.5 };
    unsigned char bytes[] = { 0, 1, 0xff };
    otel_attr attrs[] = {
        { { key, 3 }, otel_value_str((otel_str){ val, 8 }) },
        OTEL_ATTR_INT("n", 42),
        OTEL_ATTR_BOOL("ok", true),
        OTEL_ATTR_DOUBLE("pi", 3.25),
        { OTEL_STR("strs"), otel_value_array(OTEL_VALUE_STR, strs, 2) },
        { OTEL_STR("ints"), otel_value_array(OTEL_VALUE_INT, ints, 3) },
        { OTEL_STR("bools"), otel_value_array(OTEL_VALUE_BOOL, bools, 2) },
        { OTEL_STR("dbls"), otel_value_array(OTEL_VALUE_DOUBLE, dbls, 1) },
        { OTEL_STR("none"), otel_value_array(OTEL_VALUE_INT, NULL, 0) },
        { OTEL_STR("raw"), otel_value_bytes(bytes, sizeof(bytes)) },
    };
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(attrs, 10, OTEL_STR("https://x/1.0"), &r), OTEL_OK);

    /* Scribble over everything the caller passed: the resource must not notice. */
    memset(key, 'X', 3);
    memset(val, 'X', 8);
    item0[0] = 'X';
    item1[1] = 'X';
    ints[0] = 99;
    bools[0] = false;
    dbls[0] = 9;
    bytes[2] = 7;

    size_t n = 0;
    const otel_attr *a = otel_resource_attrs(r, &n);
    assert_non_null(a);
    assert_int_equal(n, 10);
    assert_string_equal(get_str(r, "svc"), "checkout");
    otel_value v;
    assert_true(otel_resource_get(r, OTEL_STR("n"), &v));
    assert_int_equal(v.type, OTEL_VALUE_INT);
    assert_int_equal(v.as.i, 42);
    assert_true(otel_resource_get(r, OTEL_STR("ok"), &v) && v.as.b);
    assert_true(otel_resource_get(r, OTEL_STR("pi"), &v) && v.as.d == 3.25);

    assert_true(otel_resource_get(r, OTEL_STR("strs"), &v));
    assert_int_equal(v.type, OTEL_VALUE_ARRAY);
    assert_int_equal(v.array_type, OTEL_VALUE_STR);
    assert_int_equal(v.as.array.len, 2);
    const otel_str *sv = v.as.array.items;
    assert_true(otel_str_eq(sv[0], OTEL_STR("a")));
    assert_true(otel_str_eq(sv[1], OTEL_STR("bc")));
    assert_int_equal(sv[1].data[2], '\0');
    assert_ptr_not_equal(sv, strs);

    assert_true(otel_resource_get(r, OTEL_STR("ints"), &v));
    const int64_t *iv = v.as.array.items;
    assert_int_equal(iv[0], 1);
    assert_int_equal(iv[1], -2);
    assert_int_equal(iv[2], 3);
    assert_int_equal((uintptr_t)iv % _Alignof(int64_t), 0);
    assert_true(otel_resource_get(r, OTEL_STR("bools"), &v));
    assert_true(((const bool *)v.as.array.items)[0]);
    assert_true(otel_resource_get(r, OTEL_STR("dbls"), &v));
    assert_true(((const double *)v.as.array.items)[0] == 0.5);
    assert_true(otel_resource_get(r, OTEL_STR("none"), &v));
    assert_int_equal(v.as.array.len, 0);
    assert_true(otel_resource_get(r, OTEL_STR("raw"), &v));
    assert_int_equal(v.type, OTEL_VALUE_BYTES);
    assert_int_equal(v.as.s.len, 3);
    assert_memory_equal(v.as.s.data, "\x00\x01\xff", 3);

    otel_str url = otel_resource_schema_url(r);
    assert_true(otel_str_eq(url, OTEL_STR("https://x/1.0")));
    assert_int_equal(log_capture_warnings(), 0);
    otel_resource_release(r);
}

static void test_resource_copy_does_not_keep_static_flags(void **state)
{
    (void)state;
    otel_attr a = OTEL_ATTR_STR_LIT("k", "v");
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(&a, 1, (otel_str){ 0 }, &r), OTEL_OK);
    size_t n;
    const otel_attr *got = otel_resource_attrs(r, &n);
    assert_int_equal(got[0].value.flags, 0);
    assert_ptr_not_equal(got[0].value.as.s.data, a.value.as.s.data);
    otel_resource_release(r);
}

static void test_resource_create_last_duplicate_wins(void **state)
{
    (void)state;
    otel_attr attrs[] = {
        OTEL_ATTR_STR_LIT("k", "first"),
        OTEL_ATTR_INT("other", 1),
        OTEL_ATTR_STR_LIT("k", "last"),
    };
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(attrs, 3, (otel_str){ 0 }, &r), OTEL_OK);
    size_t n;
    const otel_attr *got = otel_resource_attrs(r, &n);
    assert_int_equal(n, 2);
    assert_string_equal(get_str(r, "k"), "last");
    /* ... in the place of the first. */
    assert_true(otel_str_eq(got[0].key, OTEL_STR("k")));
    assert_true(otel_str_eq(got[1].key, OTEL_STR("other")));
    otel_resource_release(r);
}

static void test_resource_create_skips_invalid_attributes_with_one_diagnostic_each(void **state)
{
    (void)state;
    otel_value empty = { .type = OTEL_VALUE_EMPTY };
    otel_value bad_array = otel_value_array(OTEL_VALUE_BYTES, "x", 1);
    otel_value null_items = otel_value_array(OTEL_VALUE_INT, NULL, 2);
    otel_value null_str = otel_value_str((otel_str){ NULL, 3 });
    otel_str bad_items[] = { { "a", 1 }, { NULL, 1 } };
    otel_value bad_str_items = otel_value_array(OTEL_VALUE_STR, bad_items, 2);
    otel_value unknown = { .type = (otel_value_type)42 };
    otel_attr attrs[] = {
        { { NULL, 0 }, otel_value_int(1) },
        { OTEL_STR(""), otel_value_int(1) },
        { OTEL_STR("empty"), empty },
        { OTEL_STR("bad_array"), bad_array },
        { OTEL_STR("null_items"), null_items },
        { OTEL_STR("null_str"), null_str },
        { OTEL_STR("bad_str_items"), bad_str_items },
        { OTEL_STR("unknown"), unknown },
        OTEL_ATTR_INT("good", 7),
    };
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(attrs, 9, (otel_str){ 0 }, &r), OTEL_OK);
    size_t n;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 1);
    assert_true(otel_resource_get(r, OTEL_STR("good"), NULL));
    assert_int_equal(log_capture_warnings(), 8);
    otel_resource_release(r);
}

static void test_resource_invalid_duplicate_does_not_hide_valid_one(void **state)
{
    (void)state;
    otel_attr attrs[] = {
        OTEL_ATTR_STR_LIT("k", "valid"),
        { OTEL_STR("k"), { .type = OTEL_VALUE_EMPTY } },
    };
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(attrs, 2, (otel_str){ 0 }, &r), OTEL_OK);
    assert_string_equal(get_str(r, "k"), "valid");
    assert_int_equal(log_capture_warnings(), 1);
    otel_resource_release(r);
}

static void test_resource_create_rejects_bad_arguments(void **state)
{
    (void)state;
    otel_resource *r = NULL;
    otel_attr a = OTEL_ATTR_INT("k", 1);
    assert_int_equal(otel_resource_create(&a, 1, (otel_str){ 0 }, NULL), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_resource_create(NULL, 1, (otel_str){ 0 }, &r), OTEL_ERR_INVALID_ARG);
    assert_null(r);
    assert_int_equal(otel_resource_create(NULL, 0, (otel_str){ 0 }, &r), OTEL_OK);
    size_t n = 5;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 0);
    assert_int_equal(otel_resource_schema_url(r).len, 0);
    otel_resource_release(r);
}

static void test_resource_null_is_an_empty_resource_for_readers(void **state)
{
    (void)state;
    size_t n = 3;
    assert_null(otel_resource_attrs(NULL, &n));
    assert_int_equal(n, 0);
    assert_false(otel_resource_get(NULL, OTEL_STR("k"), NULL));
    assert_int_equal(otel_resource_schema_url(NULL).len, 0);
    assert_null(otel_resource_retain(NULL));
    otel_resource_release(NULL);
}

static void test_resource_retain_keeps_it_alive(void **state)
{
    (void)state;
    otel_attr a = OTEL_ATTR_INT("k", 1);
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(&a, 1, (otel_str){ 0 }, &r), OTEL_OK);
    assert_ptr_equal(otel_resource_retain(r), r);
    assert_ptr_equal(otel_resource_retain(r), r);
    otel_resource_release(r);
    otel_resource_release(r);
    assert_true(otel_resource_get(r, OTEL_STR("k"), NULL)); /* one reference left */
    otel_resource_release(r);
}

/* ---- merge ----------------------------------------------------------------------------------- */

static otel_resource *make(const otel_attr *attrs, size_t n, const char *schema)
{
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(attrs, n, S(schema), &r), OTEL_OK);
    return r;
}

static void test_resource_merge_update_wins(void **state)
{
    (void)state;
    otel_attr base_attrs[] = { OTEL_ATTR_STR_LIT("a", "base"), OTEL_ATTR_STR_LIT("b", "base") };
    otel_attr upd_attrs[] = { OTEL_ATTR_STR_LIT("b", "update"), OTEL_ATTR_STR_LIT("c", "update") };
    otel_resource *base = make(base_attrs, 2, "");
    otel_resource *upd = make(upd_attrs, 2, "");
    otel_resource *m = NULL;
    assert_int_equal(otel_resource_merge(base, upd, &m), OTEL_OK);
    size_t n;
    const otel_attr *got = otel_resource_attrs(m, &n);
    assert_int_equal(n, 3);
    /* The base's order is kept; new keys follow. */
    assert_true(otel_str_eq(got[0].key, OTEL_STR("a")));
    assert_true(otel_str_eq(got[1].key, OTEL_STR("b")));
    assert_true(otel_str_eq(got[2].key, OTEL_STR("c")));
    assert_string_equal(get_str(m, "a"), "base");
    assert_string_equal(get_str(m, "b"), "update");
    assert_string_equal(get_str(m, "c"), "update");
    otel_resource_release(base);
    otel_resource_release(upd);
    /* The merged resource owns its copies. */
    assert_string_equal(get_str(m, "a"), "base");
    otel_resource_release(m);
}

static void test_resource_merge_accepts_null_sides(void **state)
{
    (void)state;
    otel_attr attrs[] = { OTEL_ATTR_INT("k", 1) };
    otel_resource *r = make(attrs, 1, "s");
    otel_resource *m = NULL;
    assert_int_equal(otel_resource_merge(NULL, r, &m), OTEL_OK);
    assert_true(otel_resource_get(m, OTEL_STR("k"), NULL));
    assert_true(otel_str_eq(otel_resource_schema_url(m), OTEL_STR("s")));
    otel_resource_release(m);
    assert_int_equal(otel_resource_merge(r, NULL, &m), OTEL_OK);
    assert_true(otel_resource_get(m, OTEL_STR("k"), NULL));
    otel_resource_release(m);
    assert_int_equal(otel_resource_merge(NULL, NULL, &m), OTEL_OK);
    size_t n;
    otel_resource_attrs(m, &n);
    assert_int_equal(n, 0);
    otel_resource_release(m);
    assert_int_equal(otel_resource_merge(r, r, NULL), OTEL_ERR_INVALID_ARG);
    otel_resource_release(r);
}

static void test_resource_merge_schema_url_rules(void **state)
{
    (void)state;
    otel_resource *none = make(NULL, 0, "");
    otel_resource *a = make(NULL, 0, "https://a");
    otel_resource *a2 = make(NULL, 0, "https://a");
    otel_resource *b = make(NULL, 0, "https://b");
    otel_resource *m = NULL;

    assert_int_equal(otel_resource_merge(none, a, &m), OTEL_OK);
    assert_true(otel_str_eq(otel_resource_schema_url(m), OTEL_STR("https://a")));
    otel_resource_release(m);
    assert_int_equal(otel_resource_merge(a, none, &m), OTEL_OK);
    assert_true(otel_str_eq(otel_resource_schema_url(m), OTEL_STR("https://a")));
    otel_resource_release(m);
    assert_int_equal(otel_resource_merge(a, a2, &m), OTEL_OK);
    assert_true(otel_str_eq(otel_resource_schema_url(m), OTEL_STR("https://a")));
    otel_resource_release(m);
    assert_int_equal(log_capture_warnings(), 0);

    assert_int_equal(otel_resource_merge(a, b, &m), OTEL_OK);
    assert_int_equal(otel_resource_schema_url(m).len, 0);
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged_last, "https://a"));
    assert_non_null(strstr(logged_last, "https://b"));
    otel_resource_release(m);

    otel_resource_release(none);
    otel_resource_release(a);
    otel_resource_release(a2);
    otel_resource_release(b);
}

/* ---- default --------------------------------------------------------------------------------- */

static void test_resource_default_describes_sdk_process_and_host(void **state)
{
    (void)state;
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_default(&r), OTEL_OK);
    /* The kernel knows this program as "test_resource" (under 16 bytes, so not cut). */
    assert_string_equal(get_str(r, "service.name"), "unknown_service:test_resource");
    assert_string_equal(get_str(r, "process.executable.name"), "test_resource");
    assert_string_equal(get_str(r, "telemetry.sdk.name"), "otelc");
    assert_string_equal(get_str(r, "telemetry.sdk.language"), "c");
    assert_string_equal(get_str(r, "telemetry.sdk.version"), OTEL_VERSION_STRING);
    otel_value v;
    assert_true(otel_resource_get(r, OTEL_STR("process.pid"), &v));
    assert_int_equal(v.type, OTEL_VALUE_INT);
    assert_int_equal(v.as.i, getpid());
    char host[300] = { 0 };
    assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
    assert_string_equal(get_str(r, "host.name"), host);
    assert_int_equal(otel_resource_schema_url(r).len, 0);
    assert_int_equal(otel_resource_default(NULL), OTEL_ERR_INVALID_ARG);
    otel_resource_release(r);
}

/* ---- OTEL_RESOURCE_ATTRIBUTES ---------------------------------------------------------------- */

static void test_resource_parse_reads_pairs_as_strings(void **state)
{
    (void)state;
    otel_resource *r = parse("k1=v1,k2=v2,n=3", "");
    size_t n;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 3);
    assert_string_equal(get_str(r, "k1"), "v1");
    assert_string_equal(get_str(r, "k2"), "v2");
    assert_string_equal(get_str(r, "n"), "3"); /* every value is a string */
    assert_int_equal(log_capture_warnings(), 0);
    otel_resource_release(r);
}

static void test_resource_parse_percent_decodes_keys_and_values(void **state)
{
    (void)state;
    otel_resource *r = parse("a%3Db=x%2Cy%20z,plus=a+b,accent=caf%C3%A9,raw=caf\xc3\xa9,"
                             "pct=100%25",
                             "");
    assert_string_equal(get_str(r, "a=b"), "x,y z");
    assert_string_equal(get_str(r, "plus"), "a+b"); /* '+' is not a space in baggage */
    assert_string_equal(get_str(r, "accent"), "caf\xc3\xa9");
    assert_string_equal(get_str(r, "raw"), "caf\xc3\xa9");
    assert_string_equal(get_str(r, "pct"), "100%");
    assert_int_equal(log_capture_warnings(), 0);
    otel_resource_release(r);
}

static void test_resource_parse_replaces_invalid_utf8(void **state)
{
    (void)state;
    otel_resource *r = parse("a=%FF,b=x%C3,c=\xc0\xaf,d=%ED%A0%80", "");
    assert_string_equal(get_str(r, "a"), "\xef\xbf\xbd");
    assert_string_equal(get_str(r, "b"), "x\xef\xbf\xbd");
    assert_string_equal(get_str(r, "c"), "\xef\xbf\xbd\xef\xbf\xbd");             /* overlong '/' */
    assert_string_equal(get_str(r, "d"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    otel_resource_release(r);
}

static void test_resource_parse_trims_spaces_around_entries_keys_and_values(void **state)
{
    (void)state;
    otel_resource *r = parse("  k1 = v1 ,\tk2=v 2\t,  ", "");
    size_t n;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 2);
    assert_string_equal(get_str(r, "k1"), "v1");
    assert_string_equal(get_str(r, "k2"), "v 2");
    assert_int_equal(log_capture_warnings(), 0);
    otel_resource_release(r);
}

static void test_resource_parse_skips_bad_entries_and_reports_each(void **state)
{
    (void)state;
    otel_resource *r = parse("good=1,noequals,=empty,bad=%zz,short=%4,k%g=1,ok=2", "");
    size_t n;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 2);
    assert_string_equal(get_str(r, "good"), "1");
    assert_string_equal(get_str(r, "ok"), "2");
    assert_int_equal(log_capture_warnings(), 5);
    /* The last one names the source and the entry. */
    assert_non_null(strstr(logged_last, "OTEL_RESOURCE_ATTRIBUTES"));
    assert_non_null(strstr(logged_last, "k%g=1"));
    otel_resource_release(r);
}

static void test_resource_parse_value_may_be_empty_and_contain_equals(void **state)
{
    (void)state;
    otel_resource *r = parse("empty=,eq=a=b", "");
    assert_string_equal(get_str(r, "empty"), "");
    assert_string_equal(get_str(r, "eq"), "a=b");
    assert_int_equal(log_capture_warnings(), 0);
    otel_resource_release(r);
}

static void test_resource_parse_last_duplicate_wins(void **state)
{
    (void)state;
    otel_resource *r = parse("k=1,x=0,k=2", "");
    size_t n;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 2);
    assert_string_equal(get_str(r, "k"), "2");
    otel_resource_release(r);
}

static void test_resource_parse_service_name_overrides_attribute(void **state)
{
    (void)state;
    otel_resource *r = parse("service.name=from-attrs,service.version=1.2", "from-env");
    assert_string_equal(get_str(r, "service.name"), "from-env");
    assert_string_equal(get_str(r, "service.version"), "1.2");
    otel_resource_release(r);
    r = parse("", "only%20name"); /* not decoded: OTEL_SERVICE_NAME is a plain value */
    assert_string_equal(get_str(r, "service.name"), "only%20name");
    otel_resource_release(r);
    r = parse("service.name=kept", "");
    assert_string_equal(get_str(r, "service.name"), "kept");
    otel_resource_release(r);
}

static void test_resource_parse_empty_input_gives_empty_resource(void **state)
{
    (void)state;
    otel_resource *r = parse("", "");
    size_t n = 1;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 0);
    otel_resource_release(r);
    r = parse(" , ,, ", "");
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 0);
    otel_resource_release(r);
    assert_int_equal(otel_resource_parse((otel_str){ NULL, 5 }, (otel_str){ NULL, 3 }, NULL, &r), OTEL_OK);
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 0);
    otel_resource_release(r);
    assert_int_equal(log_capture_warnings(), 0);
    assert_int_equal(otel_resource_parse(OTEL_STR("a=b"), OTEL_STR(""), NULL, NULL), OTEL_ERR_INVALID_ARG);
}

static void test_resource_parse_does_not_read_past_the_slice(void **state)
{
    (void)state;
    const char text[] = "k=v%41,x=yz";
    otel_resource *r = NULL;
    /* Only "k=v%4" is given: a cut escape is a bad entry, never a read past the slice. */
    assert_int_equal(otel_resource_parse((otel_str){ text, 5 }, OTEL_STR(""), NULL, &r), OTEL_OK);
    size_t n;
    otel_resource_attrs(r, &n);
    assert_int_equal(n, 0);
    assert_int_equal(log_capture_warnings(), 1);
    otel_resource_release(r);
}

/* ---- allocation failures --------------------------------------------------------------------- */

static int scenario_create(void *arg)
{
    (void)arg;
    otel_str items[] = { OTEL_STR("x"), OTEL_STR("y") };
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("k", "v"),
                          { OTEL_STR("arr"), otel_value_array(OTEL_VALUE_STR, items, 2) } };
    otel_resource *r = NULL;
    otel_status st = otel_resource_create(attrs, 2, OTEL_STR("s"), &r);
    otel_resource_release(r);
    return (int)st;
}

static int scenario_merge(void *arg)
{
    (void)arg;
    otel_resource *a = NULL, *b = NULL, *m = NULL;
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("k", "v") };
    otel_status st = otel_resource_create(attrs, 1, (otel_str){ 0 }, &a);
    if (st == OTEL_OK)
        st = otel_resource_default(&b);
    if (st == OTEL_OK)
        st = otel_resource_merge(b, a, &m);
    otel_resource_release(a);
    otel_resource_release(b);
    otel_resource_release(m);
    return (int)st;
}

static int scenario_parse(void *arg)
{
    (void)arg;
    otel_resource *r = NULL;
    otel_status st = otel_resource_parse(OTEL_STR("a=1,b=%41,c=%FF,bad"), OTEL_STR("svc"), "test", &r);
    otel_resource_release(r);
    return (int)st;
}

static void check_failalloc(int (*scenario)(void *))
{
    failalloc_result res = failalloc_run(scenario, NULL);
    assert_int_equal(res.clean_status, 0);
    assert_true(res.allocations > 0);
    assert_int_equal(res.leaked_run, 0);
    assert_int_equal(res.ok_with_failure, 0);
}

static void test_resource_create_survives_allocation_failures(void **state)
{
    (void)state;
    check_failalloc(scenario_create);
}

static void test_resource_merge_survives_allocation_failures(void **state)
{
    (void)state;
    check_failalloc(scenario_merge);
}

static void test_resource_parse_survives_allocation_failures(void **state)
{
    (void)state;
    check_failalloc(scenario_parse);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, log_capture_setup, log_capture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_resource_create_copies_every_value_kind),
        T(test_resource_copy_does_not_keep_static_flags),
        T(test_resource_create_last_duplicate_wins),
        T(test_resource_create_skips_invalid_attributes_with_one_diagnostic_each),
        T(test_resource_invalid_duplicate_does_not_hide_valid_one),
        T(test_resource_create_rejects_bad_arguments),
        T(test_resource_null_is_an_empty_resource_for_readers),
        T(test_resource_retain_keeps_it_alive),
        T(test_resource_merge_update_wins),
        T(test_resource_merge_accepts_null_sides),
        T(test_resource_merge_schema_url_rules),
        T(test_resource_default_describes_sdk_process_and_host),
        T(test_resource_parse_reads_pairs_as_strings),
        T(test_resource_parse_percent_decodes_keys_and_values),
        T(test_resource_parse_replaces_invalid_utf8),
        T(test_resource_parse_trims_spaces_around_entries_keys_and_values),
        T(test_resource_parse_skips_bad_entries_and_reports_each),
        T(test_resource_parse_value_may_be_empty_and_contain_equals),
        T(test_resource_parse_last_duplicate_wins),
        T(test_resource_parse_service_name_overrides_attribute),
        T(test_resource_parse_empty_input_gives_empty_resource),
        T(test_resource_parse_does_not_read_past_the_slice),
        T(test_resource_create_survives_allocation_failures),
        T(test_resource_merge_survives_allocation_failures),
        T(test_resource_parse_survives_allocation_failures),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
