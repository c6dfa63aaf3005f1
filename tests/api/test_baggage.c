/* Baggage: set, get, replace in place, remove, the 64-entry and 8192-byte limits, immutability
 * of the original, and allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "failalloc.h"
#include "otel/baggage.h"

static void test_set_and_get_an_entry_with_metadata(void **state)
{
    (void)state;
    otel_baggage *b = NULL;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("user"), OTEL_STR("alice"), OTEL_STR("ttl=60"), &b),
                     OTEL_OK);
    assert_int_equal(otel_baggage_count(b), 1);
    otel_str v, m;
    assert_true(otel_baggage_get(b, OTEL_STR("user"), &v, &m));
    assert_true(otel_str_eq(v, OTEL_STR("alice")));
    assert_true(otel_str_eq(m, OTEL_STR("ttl=60")));
    assert_false(otel_baggage_get(b, OTEL_STR("User"), &v, &m)); /* case-sensitive */
    assert_true(otel_baggage_get(b, OTEL_STR("user"), NULL, NULL));
    otel_baggage_release(b);
}

static void test_entries_keep_insertion_order(void **state)
{
    (void)state;
    otel_baggage *b = NULL, *b2 = NULL, *b3 = NULL;
    otel_str none = { NULL, 0 };
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("a"), OTEL_STR("1"), none, &b), OTEL_OK);
    assert_int_equal(otel_baggage_set(b, OTEL_STR("b"), OTEL_STR("2"), none, &b2), OTEL_OK);
    assert_int_equal(otel_baggage_set(b2, OTEL_STR("c"), OTEL_STR(""), none, &b3), OTEL_OK);
    assert_int_equal(otel_baggage_count(b3), 3);
    otel_str n, v, m;
    assert_true(otel_baggage_entry(b3, 0, &n, &v, &m));
    assert_true(otel_str_eq(n, OTEL_STR("a")));
    assert_int_equal(m.len, 0);
    assert_true(otel_baggage_entry(b3, 2, &n, &v, NULL));
    assert_true(otel_str_eq(n, OTEL_STR("c")));
    assert_int_equal(v.len, 0);
    assert_false(otel_baggage_entry(b3, 3, &n, &v, &m));
    assert_int_equal(otel_baggage_count(b), 1); /* originals unchanged */
    assert_int_equal(otel_baggage_count(b2), 2);
    otel_baggage_release(b);
    otel_baggage_release(b2);
    otel_baggage_release(b3);
}

static void test_set_replaces_an_existing_entry_in_place(void **state)
{
    (void)state;
    otel_baggage *b = NULL, *b2 = NULL, *b3 = NULL;
    otel_str none = { NULL, 0 };
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("a"), OTEL_STR("1"), none, &b), OTEL_OK);
    assert_int_equal(otel_baggage_set(b, OTEL_STR("b"), OTEL_STR("2"), none, &b2), OTEL_OK);
    assert_int_equal(otel_baggage_set(b2, OTEL_STR("a"), OTEL_STR("9"), OTEL_STR("p"), &b3), OTEL_OK);
    assert_int_equal(otel_baggage_count(b3), 2);
    otel_str n, v, m;
    assert_true(otel_baggage_entry(b3, 0, &n, &v, &m));
    assert_true(otel_str_eq(n, OTEL_STR("a")));
    assert_true(otel_str_eq(v, OTEL_STR("9")));
    assert_true(otel_str_eq(m, OTEL_STR("p")));
    assert_true(otel_baggage_get(b2, OTEL_STR("a"), &v, NULL));
    assert_true(otel_str_eq(v, OTEL_STR("1")));
    otel_baggage_release(b);
    otel_baggage_release(b2);
    otel_baggage_release(b3);
}

static void test_values_are_arbitrary_bytes(void **state)
{
    (void)state;
    const char raw[] = { 'x', '\0', ',', ';', '=', '\xff' };
    otel_baggage *b = NULL;
    assert_int_equal(
        otel_baggage_set(NULL, OTEL_STR("k k"), (otel_str){ raw, sizeof(raw) }, (otel_str){ NULL, 0 }, &b),
        OTEL_OK);
    otel_str v;
    assert_true(otel_baggage_get(b, OTEL_STR("k k"), &v, NULL));
    assert_int_equal(v.len, sizeof(raw));
    assert_memory_equal(v.data, raw, sizeof(raw));
    otel_baggage_release(b);
}

static void test_empty_name_is_rejected(void **state)
{
    (void)state;
    otel_baggage *b = (otel_baggage *)1;
    assert_int_equal(otel_baggage_set(NULL, (otel_str){ NULL, 0 }, OTEL_STR("v"), (otel_str){ NULL, 0 }, &b),
                     OTEL_ERR_INVALID_ARG);
    assert_ptr_equal(b, (otel_baggage *)1);
}

static void test_remove_deletes_one_entry(void **state)
{
    (void)state;
    otel_baggage *b = NULL, *b2 = NULL, *r = NULL;
    otel_str none = { NULL, 0 };
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("a"), OTEL_STR("1"), none, &b), OTEL_OK);
    assert_int_equal(otel_baggage_set(b, OTEL_STR("b"), OTEL_STR("2"), none, &b2), OTEL_OK);
    assert_int_equal(otel_baggage_remove(b2, OTEL_STR("a"), &r), OTEL_OK);
    assert_int_equal(otel_baggage_count(r), 1);
    assert_false(otel_baggage_get(r, OTEL_STR("a"), NULL, NULL));
    assert_true(otel_baggage_get(r, OTEL_STR("b"), NULL, NULL));
    otel_baggage_release(r);
    /* Absent name: the same baggage. */
    assert_int_equal(otel_baggage_remove(b2, OTEL_STR("zz"), &r), OTEL_OK);
    assert_ptr_equal(r, b2);
    otel_baggage_release(r);
    /* Removing the last entry gives NULL. */
    r = (otel_baggage *)1;
    assert_int_equal(otel_baggage_remove(b, OTEL_STR("a"), &r), OTEL_OK);
    assert_null(r);
    r = (otel_baggage *)1;
    assert_int_equal(otel_baggage_remove(NULL, OTEL_STR("a"), &r), OTEL_OK);
    assert_null(r);
    otel_baggage_release(b);
    otel_baggage_release(b2);
}

static void test_more_than_64_entries_is_a_limit_error(void **state)
{
    (void)state;
    otel_baggage *b = NULL;
    for (int i = 0; i < OTEL_BAGGAGE_MAX_MEMBERS; i++) {
        char name[8];
        snprintf(name, sizeof(name), "k%d", i);
        otel_baggage *next = NULL;
        assert_int_equal(
            otel_baggage_set(b, otel_str_from_cstr(name), OTEL_STR("v"), (otel_str){ NULL, 0 }, &next),
            OTEL_OK);
        otel_baggage_release(b);
        b = next;
    }
    otel_baggage *out = (otel_baggage *)1;
    assert_int_equal(otel_baggage_set(b, OTEL_STR("one-more"), OTEL_STR("v"), (otel_str){ NULL, 0 }, &out),
                     OTEL_ERR_LIMIT);
    assert_ptr_equal(out, (otel_baggage *)1);
    /* Replacing an existing entry is still fine at the limit. */
    assert_int_equal(otel_baggage_set(b, OTEL_STR("k3"), OTEL_STR("w"), (otel_str){ NULL, 0 }, &out),
                     OTEL_OK);
    assert_int_equal(otel_baggage_count(out), OTEL_BAGGAGE_MAX_MEMBERS);
    otel_baggage_release(out);
    otel_baggage_release(b);
}

static void test_more_than_8192_bytes_is_a_limit_error(void **state)
{
    (void)state;
    static char big[OTEL_BAGGAGE_MAX_BYTES];
    memset(big, 'v', sizeof(big));
    otel_baggage *b = NULL;
    otel_str none = { NULL, 0 };
    /* "k=" + value: exactly 8192 bytes fits. */
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("k"), (otel_str){ big, 8190 }, none, &b), OTEL_OK);
    otel_baggage_release(b);
    b = (otel_baggage *)1;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("k"), (otel_str){ big, 8191 }, none, &b),
                     OTEL_ERR_LIMIT);
    assert_ptr_equal(b, (otel_baggage *)1);
    /* Metadata counts too (";" + metadata). */
    assert_int_equal(
        otel_baggage_set(NULL, OTEL_STR("k"), (otel_str){ big, 8000 }, (otel_str){ big, 190 }, &b),
        OTEL_ERR_LIMIT);
    /* Separators between entries count: a=<4094>,b=<4093> is 4096 + 1 + 4095 = 8192. */
    otel_baggage *a = NULL, *ab = NULL;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("a"), (otel_str){ big, 4094 }, none, &a), OTEL_OK);
    assert_int_equal(otel_baggage_set(a, OTEL_STR("b"), (otel_str){ big, 4093 }, none, &ab), OTEL_OK);
    otel_baggage_release(ab);
    assert_int_equal(otel_baggage_set(a, OTEL_STR("b"), (otel_str){ big, 4094 }, none, &ab), OTEL_ERR_LIMIT);
    /* A replacement is measured without the entry it replaces. */
    assert_int_equal(otel_baggage_set(a, OTEL_STR("a"), (otel_str){ big, 8190 }, none, &ab), OTEL_OK);
    otel_baggage_release(ab);
    otel_baggage_release(a);
}

static void test_retain_release_and_null_baggage(void **state)
{
    (void)state;
    assert_int_equal(otel_baggage_count(NULL), 0);
    assert_false(otel_baggage_entry(NULL, 0, NULL, NULL, NULL));
    assert_false(otel_baggage_get(NULL, OTEL_STR("a"), NULL, NULL));
    assert_null(otel_baggage_retain(NULL));
    otel_baggage_release(NULL);
    otel_baggage *b = NULL;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("a"), OTEL_STR("1"), (otel_str){ NULL, 0 }, &b),
                     OTEL_OK);
    assert_ptr_equal(otel_baggage_retain(b), b);
    otel_baggage_release(b);
    assert_int_equal(otel_baggage_count(b), 1);
    otel_baggage_release(b);
}

static int baggage_scenario(void *arg)
{
    (void)arg;
    otel_baggage *a = NULL, *ab = NULL, *r = NULL;
    otel_str none = { NULL, 0 };
    otel_status st = otel_baggage_set(NULL, OTEL_STR("a"), OTEL_STR("1"), none, &a);
    if (st != OTEL_OK)
        return (int)st;
    st = otel_baggage_set(a, OTEL_STR("b"), OTEL_STR("2"), OTEL_STR("m"), &ab);
    if (st != OTEL_OK)
        goto out_a;
    st = otel_baggage_remove(ab, OTEL_STR("a"), &r);
    if (st != OTEL_OK)
        goto out_ab;
    otel_baggage_release(r);
out_ab:
    otel_baggage_release(ab);
out_a:
    otel_baggage_release(a);
    return (int)st;
}

static void test_allocation_failures_are_reported_and_leak_nothing(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(baggage_scenario, NULL);
    assert_int_equal(r.clean_status, OTEL_OK);
    assert_int_equal(r.allocations, 3);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_get_an_entry_with_metadata),
        cmocka_unit_test(test_entries_keep_insertion_order),
        cmocka_unit_test(test_set_replaces_an_existing_entry_in_place),
        cmocka_unit_test(test_values_are_arbitrary_bytes),
        cmocka_unit_test(test_empty_name_is_rejected),
        cmocka_unit_test(test_remove_deletes_one_entry),
        cmocka_unit_test(test_more_than_64_entries_is_a_limit_error),
        cmocka_unit_test(test_more_than_8192_bytes_is_a_limit_error),
        cmocka_unit_test(test_retain_release_and_null_baggage),
        cmocka_unit_test(test_allocation_failures_are_reported_and_leak_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
