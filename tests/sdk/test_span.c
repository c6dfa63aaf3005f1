/* SDK spans: every span operation on a recording span, attribute values of every type, limits
 * and their dropped counts, truncation on UTF-8 boundaries, static versus copied strings, status
 * rules, what ended and stale handles may (not) do, timestamps, ids, parents, trace state and
 * trace flags. The data is read from the live records through a retaining processor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "sdk_testlib.h"
#include "span.h"

struct fixture {
    retainer ret;
    otel_tracer_provider *tp;
    otel_tracer *tracer;
};

static struct fixture *fx_new(const otel_tracer_provider_options *opts)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    retainer_init(&f->ret);
    f->tp = retainer_provider(&f->ret, opts);
    assert_non_null(f->tp);
    f->tracer = otel_tracer_provider_get_tracer(f->tp, OTEL_STR("test.span"), NULL);
    assert_non_null(f->tracer);
    return f;
}

static void fx_free(struct fixture *f)
{
    retainer_release_all(&f->ret);
    otel_tracer_provider_destroy(f->tp);
    pthread_mutex_destroy(&f->ret.lock);
    free(f);
}

static otel_tracer_provider_stats fx_stats(struct fixture *f)
{
    otel_tracer_provider_stats s;
    assert_int_equal(otel_tracer_provider_get_stats(f->tp, &s), OTEL_OK);
    return s;
}

/* Ends |s| and returns its data (retained until fx_free or retainer_release_all). */
static const otel_span_data *end_and_get(struct fixture *f, otel_span s)
{
    size_t before = f->ret.count;
    otel_span_end(s);
    assert_int_equal(f->ret.count, before + 1);
    return retainer_last(&f->ret);
}

static otel_span start(struct fixture *f, const char *name)
{
    otel_span_start_options o = { .flags = OTEL_SPAN_START_ROOT };
    otel_span s = otel_tracer_start_span(f->tracer, otel_str_from_cstr(name), &o);
    assert_true(otel_span_is_recording(s));
    return s;
}

static otel_span_context make_sc(uint8_t seed, uint8_t flags, bool remote)
{
    otel_span_context sc = { .trace_flags = flags, .is_remote = remote };
    for (int i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        sc.trace_id[i] = (uint8_t)(seed + i);
    for (int i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        sc.span_id[i] = (uint8_t)(seed + 2 * i + 1);
    return sc;
}

/* ---------------------------------------------------------------------------------------------
 * Basics
 * ------------------------------------------------------------------------------------------- */

static void test_span_start_end_fills_span_data(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    int64_t before = otel_time_now_ns();
    otel_span_start_options o = { .kind = OTEL_SPAN_KIND_SERVER };
    otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("GET /users"), &o);
    assert_true(otel_span_is_recording(s));
    otel_span_context sc = otel_span_get_context(s);
    assert_true(otel_span_context_is_valid(&sc));
    assert_true(sc.trace_flags & OTEL_TRACE_FLAG_SAMPLED);
    assert_false(sc.is_remote);
    const otel_span_data *d = end_and_get(f, s);
    int64_t after = otel_time_now_ns();

    assert_true(str_is(d->name, "GET /users"));
    assert_int_equal(d->kind, OTEL_SPAN_KIND_SERVER);
    assert_memory_equal(d->context.trace_id, sc.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_equal(d->context.span_id, sc.span_id, OTEL_SPAN_ID_SIZE);
    static const uint8_t zero[OTEL_SPAN_ID_SIZE];
    assert_memory_equal(d->parent_span_id, zero, OTEL_SPAN_ID_SIZE);
    assert_false(d->parent_is_remote);
    assert_true(d->start_time_ns >= before);
    assert_true(d->end_time_ns >= d->start_time_ns);
    /* The end time comes from a monotonic delta; allow for a little drift against the wall. */
    assert_true(d->end_time_ns <= after + 1000000);
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_UNSET);
    assert_int_equal(d->attr_count, 0);
    assert_int_equal(d->event_count, 0);
    assert_int_equal(d->link_count, 0);
    assert_null(d->trace_state);
    assert_ptr_equal(d->resource, otel_tracer_provider_resource(f->tp));
    assert_non_null(d->scope);
    assert_true(str_is(d->scope->name, "test.span"));

    otel_tracer_provider_stats st = fx_stats(f);
    assert_int_equal(st.spans_started, 1);
    assert_int_equal(st.spans_recorded, 1);
    assert_int_equal(st.spans_sampled, 1);
    assert_int_equal(st.spans_ended, 1);
    fx_free(f);
}

static void test_span_invalid_kind_becomes_internal(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span_start_options o = { .kind = (otel_span_kind)42 };
    const otel_span_data *d = end_and_get(f, otel_tracer_start_span(f->tracer, OTEL_STR("k"), &o));
    assert_int_equal(d->kind, OTEL_SPAN_KIND_INTERNAL);
    fx_free(f);
}

static void test_span_attrs_of_every_type(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "types");
    bool bools[] = { true, false, true };
    int64_t ints[] = { -1, 0, INT64_MAX };
    double doubles[] = { 1.5, -0.25 };
    otel_str strs[] = { OTEL_STR("a"), OTEL_STR(""), OTEL_STR("ccc") };
    uint8_t bytes[] = { 0, 1, 2, 255 };
    otel_span_set_attr_bool(s, OTEL_STR("b"), true);
    otel_span_set_attr_int(s, OTEL_STR("i"), -42);
    otel_span_set_attr_double(s, OTEL_STR("d"), 3.25);
    otel_span_set_attr_str(s, OTEL_STR("s"), OTEL_STR("text"));
    otel_span_set_attr_str(s, OTEL_STR("empty"), OTEL_STR(""));
    otel_span_set_attr(s, OTEL_STR("bytes"), otel_value_bytes(bytes, sizeof(bytes)));
    otel_span_set_attr(s, OTEL_STR("ab"), otel_value_array(OTEL_VALUE_BOOL, bools, 3));
    otel_span_set_attr(s, OTEL_STR("ai"), otel_value_array(OTEL_VALUE_INT, ints, 3));
    otel_span_set_attr(s, OTEL_STR("ad"), otel_value_array(OTEL_VALUE_DOUBLE, doubles, 2));
    otel_span_set_attr(s, OTEL_STR("as"), otel_value_array(OTEL_VALUE_STR, strs, 3));
    otel_span_set_attr(s, OTEL_STR("a0"), otel_value_array(OTEL_VALUE_INT, NULL, 0));
    /* Overwrite the caller's arrays: the span holds copies. */
    bools[0] = false;
    ints[0] = 7;
    doubles[0] = 9.0;
    strs[0] = OTEL_STR("zzz");
    bytes[0] = 9;
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 11);
    assert_int_equal(d->dropped_attr_count, 0);

    const otel_attr *a = find_attr(d->attrs, d->attr_count, "b");
    assert_int_equal(a->value.type, OTEL_VALUE_BOOL);
    assert_true(a->value.as.b);
    a = find_attr(d->attrs, d->attr_count, "i");
    assert_int_equal(a->value.as.i, -42);
    a = find_attr(d->attrs, d->attr_count, "d");
    assert_true(a->value.as.d == 3.25);
    a = find_attr(d->attrs, d->attr_count, "s");
    assert_true(str_is(a->value.as.s, "text"));
    assert_int_equal(a->value.as.s.data[4], '\0'); /* copies are NUL-terminated */
    a = find_attr(d->attrs, d->attr_count, "empty");
    assert_int_equal(a->value.type, OTEL_VALUE_STR);
    assert_int_equal(a->value.as.s.len, 0);
    a = find_attr(d->attrs, d->attr_count, "bytes");
    assert_int_equal(a->value.type, OTEL_VALUE_BYTES);
    assert_int_equal(a->value.as.s.len, 4);
    assert_memory_equal(a->value.as.s.data, "\0\1\2\377", 4);
    a = find_attr(d->attrs, d->attr_count, "ab");
    assert_int_equal(a->value.array_type, OTEL_VALUE_BOOL);
    assert_int_equal(a->value.as.array.len, 3);
    assert_true(((const bool *)a->value.as.array.items)[0]);
    a = find_attr(d->attrs, d->attr_count, "ai");
    assert_int_equal(((const int64_t *)a->value.as.array.items)[0], -1);
    assert_int_equal(((const int64_t *)a->value.as.array.items)[2], INT64_MAX);
    a = find_attr(d->attrs, d->attr_count, "ad");
    assert_true(((const double *)a->value.as.array.items)[0] == 1.5);
    a = find_attr(d->attrs, d->attr_count, "as");
    const otel_str *items = a->value.as.array.items;
    assert_true(str_is(items[0], "a"));
    assert_true(str_is(items[1], ""));
    assert_true(str_is(items[2], "ccc"));
    a = find_attr(d->attrs, d->attr_count, "a0");
    assert_int_equal(a->value.as.array.len, 0);
    fx_free(f);
}

static void test_span_set_attr_replaces_existing_key(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "replace");
    otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("first value"));
    otel_span_set_attr_int(s, OTEL_STR("other"), 1);
    otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("second"));
    otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("a longer third value"));
    otel_span_set_attr_int(s, OTEL_STR("k"), 5); /* a new type replaces too */
    otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("last"));
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 2);
    assert_true(str_is(d->attrs[0].key, "k"));
    assert_true(str_is(d->attrs[0].value.as.s, "last"));
    assert_true(str_is(d->attrs[1].key, "other"));
    fx_free(f);
}

/* Keys whose lengths share a value modulo 32 (1 and 33, 7 and 39): the duplicate check must
 * still find them, in separate calls and within one set_attrs call, and keep distinct keys of
 * equal length apart. */
static void test_span_replaces_keys_whose_lengths_collide(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "collide");
#define K33 "k23456789012345678901234567890123" /* 33 bytes */
    otel_span_set_attr_int(s, OTEL_STR("k"), 1);
    otel_span_set_attr_int(s, OTEL_STR(K33), 2);
    otel_span_set_attr_int(s, OTEL_STR("k"), 3);
    otel_span_set_attr_int(s, OTEL_STR(K33), 4);
    otel_attr batch[] = {
        OTEL_ATTR_INT("abcdefg", 5),
        OTEL_ATTR_INT("abcdefh", 6),
        OTEL_ATTR_INT("abcdefg012345678901234567890123456789", 7), /* 39 bytes */
        OTEL_ATTR_INT("abcdefg", 8),
    };
    otel_span_set_attrs(s, batch, 4);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 5);
    assert_int_equal(find_attr(d->attrs, d->attr_count, "k")->value.as.i, 3);
    assert_int_equal(find_attr(d->attrs, d->attr_count, K33)->value.as.i, 4);
    assert_int_equal(find_attr(d->attrs, d->attr_count, "abcdefg")->value.as.i, 8);
    assert_int_equal(find_attr(d->attrs, d->attr_count, "abcdefh")->value.as.i, 6);
    assert_int_equal(find_attr(d->attrs, d->attr_count, "abcdefg012345678901234567890123456789")->value.as.i,
                     7);
    fx_free(f);
#undef K33
}

static void test_span_replacing_a_string_in_a_loop_does_not_grow_the_arena(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "loop");
    char buf[32];
    otel_span_set_attr_str(s, OTEL_STR("progress"), OTEL_STR("progress 00000"));
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(s.impl);
    size_t cap = otel__arena_total_cap(&rec->arena);
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(buf, sizeof(buf), "progress %05d", i);
        otel_span_set_attr_str(s, OTEL_STR("progress"), (otel_str){ buf, (size_t)n });
    }
    assert_int_equal(otel__arena_total_cap(&rec->arena), cap);
    const otel_span_data *d = end_and_get(f, s);
    assert_true(str_is(d->attrs[0].value.as.s, "progress 09999"));
    fx_free(f);
}

static void test_span_many_attrs_beyond_inline_storage(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "many");
    char key[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof(key), "key%d", i);
        otel_span_set_attr_int(s, (otel_str){ key, (size_t)n }, i);
    }
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 100);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        const otel_attr *a = find_attr(d->attrs, d->attr_count, key);
        assert_non_null(a);
        assert_int_equal(a->value.as.i, i);
    }
    fx_free(f);
}

static void test_span_attr_count_limit_drops_and_counts(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .attr_count = 3 } };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "limited");
    for (int i = 0; i < 5; i++) {
        char key[8];
        int n = snprintf(key, sizeof(key), "k%d", i);
        otel_span_set_attr_int(s, (otel_str){ key, (size_t)n }, i);
    }
    /* At the limit an existing key can still be replaced. */
    otel_span_set_attr_int(s, OTEL_STR("k1"), 100);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 3);
    assert_int_equal(d->dropped_attr_count, 2);
    assert_int_equal(find_attr(d->attrs, 3, "k1")->value.as.i, 100);
    assert_null(find_attr(d->attrs, 3, "k3"));
    assert_int_equal(fx_stats(f).attrs_dropped, 2);
    fx_free(f);
}

static void test_span_limit_zero_drops_every_attr(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .attr_count = OTEL_LIMIT_ZERO,
                                                   .event_count = OTEL_LIMIT_ZERO,
                                                   .link_count = OTEL_LIMIT_ZERO } };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "zero");
    otel_span_set_attr_int(s, OTEL_STR("a"), 1);
    otel_span_add_event(s, OTEL_STR("e"), 0, NULL, 0);
    otel_link link = { .context = make_sc(1, 0, true) };
    otel_span_add_link(s, &link);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 0);
    assert_int_equal(d->dropped_attr_count, 1);
    assert_int_equal(d->event_count, 0);
    assert_int_equal(d->dropped_event_count, 1);
    assert_int_equal(d->link_count, 0);
    assert_int_equal(d->dropped_link_count, 1);
    otel_tracer_provider_stats st = fx_stats(f);
    assert_int_equal(st.attrs_dropped, 1);
    assert_int_equal(st.events_dropped, 1);
    assert_int_equal(st.links_dropped, 1);
    fx_free(f);
}

static void test_span_unlimited_attr_count_keeps_more_than_default(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .attr_count = OTEL_LIMIT_UNLIMITED } };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "unlimited");
    char key[16];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(key, sizeof(key), "key%d", i);
        otel_span_set_attr_int(s, (otel_str){ key, (size_t)n }, i);
    }
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 300);
    fx_free(f);
}

static void test_span_default_attr_limit_is_128(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "default");
    char key[16];
    for (int i = 0; i < 130; i++) {
        int n = snprintf(key, sizeof(key), "key%d", i);
        otel_span_set_attr_int(s, (otel_str){ key, (size_t)n }, i);
    }
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 128);
    assert_int_equal(d->dropped_attr_count, 2);
    fx_free(f);
}

static void test_span_invalid_attrs_are_dropped_and_counted(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "invalid");
    int64_t ints[] = { 1 };
    otel_value empty = { .type = OTEL_VALUE_EMPTY };
    otel_value bad_array = otel_value_array(OTEL_VALUE_BYTES, ints, 1);
    otel_value nested = otel_value_array(OTEL_VALUE_ARRAY, ints, 1);
    otel_value unknown = { .type = (otel_value_type)77 };
    otel_value null_items = otel_value_array(OTEL_VALUE_INT, NULL, 3);
    otel_span_set_attr_int(s, OTEL_STR(""), 1);
    otel_span_set_attr_int(s, (otel_str){ NULL, 3 }, 1);
    otel_span_set_attr(s, OTEL_STR("empty"), empty);
    otel_span_set_attr(s, OTEL_STR("bad_array"), bad_array);
    otel_span_set_attr(s, OTEL_STR("nested"), nested);
    otel_span_set_attr(s, OTEL_STR("unknown"), unknown);
    otel_span_set_attr(s, OTEL_STR("null_items"), null_items);
    otel_span_set_attr_str(s, OTEL_STR("null_str"), (otel_str){ NULL, 2 });
    otel_span_set_attr_int(s, OTEL_STR("good"), 1);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->attr_count, 1);
    assert_true(str_is(d->attrs[0].key, "good"));
    assert_int_equal(d->dropped_attr_count, 0); /* limits only */
    assert_int_equal(fx_stats(f).attrs_dropped, 8);
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Truncation
 * ------------------------------------------------------------------------------------------- */

static void test_span_value_length_limit_counts_characters_not_bytes(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .attr_value_length = 3 } };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "truncate");
    otel_span_set_attr_str(s, OTEL_STR("ascii"), OTEL_STR("abcdef"));
    otel_span_set_attr_str(s, OTEL_STR("short"), OTEL_STR("ab"));
    otel_span_set_attr_str(s, OTEL_STR("latin"), OTEL_STR("h\xc3\xa9llo")); /* héllo */
    otel_span_set_attr_str(s, OTEL_STR("cjk"),
                           OTEL_STR("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86")); /* 日本語テ */
    otel_span_set_attr_str(s, OTEL_STR("emoji"),
                           OTEL_STR("\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82\xf0\x9f\x98\x83"));
    /* A malformed sequence counts byte by byte: still bounded. */
    otel_span_set_attr_str(s, OTEL_STR("broken"), OTEL_STR("\x80\x80\x80\x80\x80"));
    /* A lead byte whose sequence is cut short by the end of the string. */
    otel_span_set_attr_str(s, OTEL_STR("cut"), OTEL_STR("ab\xe6\x97"));
    uint8_t bytes[] = { 1, 2, 3, 4, 5 };
    otel_span_set_attr(s, OTEL_STR("bytes"), otel_value_bytes(bytes, 5));
    otel_str items[] = { OTEL_STR("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), OTEL_STR("xy") };
    otel_span_set_attr(s, OTEL_STR("array"), otel_value_array(OTEL_VALUE_STR, items, 2));
    otel_span_set_attr_int(s, OTEL_STR("int"), 123456789);
    const otel_span_data *d = end_and_get(f, s);

    assert_true(str_is(find_attr(d->attrs, d->attr_count, "ascii")->value.as.s, "abc"));
    assert_true(str_is(find_attr(d->attrs, d->attr_count, "short")->value.as.s, "ab"));
    assert_true(str_is(find_attr(d->attrs, d->attr_count, "latin")->value.as.s, "h\xc3\xa9l"));
    assert_true(str_is(find_attr(d->attrs, d->attr_count, "cjk")->value.as.s,
                       "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"));
    assert_true(str_is(find_attr(d->attrs, d->attr_count, "emoji")->value.as.s,
                       "\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82"));
    assert_int_equal(find_attr(d->attrs, d->attr_count, "broken")->value.as.s.len, 3);
    assert_true(str_is(find_attr(d->attrs, d->attr_count, "cut")->value.as.s, "ab\xe6\x97"));
    const otel_attr *b = find_attr(d->attrs, d->attr_count, "bytes");
    assert_int_equal(b->value.as.s.len, 3); /* bytes count bytes */
    const otel_attr *a = find_attr(d->attrs, d->attr_count, "array");
    const otel_str *out = a->value.as.array.items;
    assert_true(str_is(out[0], "\xc3\xa9\xc3\xa9\xc3\xa9"));
    assert_true(str_is(out[1], "xy"));
    assert_int_equal(find_attr(d->attrs, d->attr_count, "int")->value.as.i, 123456789);
    fx_free(f);
}

static void test_span_truncation_applies_to_event_and_link_attrs(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .attr_value_length = 2 } };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "truncate");
    otel_attr ea[] = { OTEL_ATTR_STR("k", OTEL_STR("long")) };
    otel_span_add_event(s, OTEL_STR("e"), 0, ea, 1);
    otel_link link = { .context = make_sc(3, 1, true), .attrs = ea, .attr_count = 1 };
    otel_span_add_link(s, &link);
    const otel_span_data *d = end_and_get(f, s);
    assert_true(str_is(d->events[0].attrs[0].value.as.s, "lo"));
    assert_true(str_is(d->links[0].attrs[0].value.as.s, "lo"));
    fx_free(f);
}

static void test_span_static_value_cut_by_limit_stays_a_pointer(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .attr_value_length = 4 } };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "static-cut");
    static const char text[] = "static text";
    otel_value v = otel_value_str((otel_str){ text, sizeof(text) - 1 });
    v.flags = OTEL_VALUE_STATIC;
    otel_span_set_attr(s, OTEL_STR("k"), v);
    static const otel_str items[] = { { "abcdef", 6 }, { "ab", 2 } };
    otel_value arr = otel_value_array(OTEL_VALUE_STR, items, 2);
    arr.flags = OTEL_VALUE_STATIC;
    otel_span_set_attr(s, OTEL_STR("arr"), arr);
    const otel_span_data *d = end_and_get(f, s);
    const otel_attr *a = find_attr(d->attrs, d->attr_count, "k");
    assert_ptr_equal(a->value.as.s.data, text);
    assert_int_equal(a->value.as.s.len, 4);
    a = find_attr(d->attrs, d->attr_count, "arr");
    const otel_str *out = a->value.as.array.items;
    assert_ptr_not_equal(out, items); /* the slices had to change */
    assert_ptr_equal(out[0].data, items[0].data);
    assert_int_equal(out[0].len, 4);
    assert_true(str_is(out[1], "ab"));
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Static versus copied strings
 * ------------------------------------------------------------------------------------------- */

static void test_span_static_strings_are_kept_by_pointer(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    static const char name[] = "static name";
    otel_span_start_options o = { .flags = OTEL_SPAN_START_STATIC_NAME };
    otel_span s = otel_tracer_start_span(f->tracer, (otel_str){ name, sizeof(name) - 1 }, &o);
    otel_attr lit = OTEL_ATTR_STR_LIT("lit.key", "lit value");
    otel_span_set_attrs(s, &lit, 1);
    static const int64_t ints[] = { 1, 2, 3 };
    otel_value arr = otel_value_array(OTEL_VALUE_INT, ints, 3);
    arr.flags = OTEL_VALUE_STATIC | OTEL_VALUE_STATIC_KEY;
    static const char arr_key[] = "arr";
    otel_span_set_attr(s, (otel_str){ arr_key, 3 }, arr);
    const otel_span_data *d = end_and_get(f, s);
    assert_ptr_equal(d->name.data, name);
    const otel_attr *a = find_attr(d->attrs, d->attr_count, "lit.key");
    assert_ptr_equal(a->key.data, lit.key.data);
    assert_ptr_equal(a->value.as.s.data, lit.value.as.s.data);
    a = find_attr(d->attrs, d->attr_count, "arr");
    assert_ptr_equal(a->key.data, arr_key);
    assert_ptr_equal(a->value.as.array.items, ints);
    fx_free(f);
}

static void test_span_copies_what_is_not_static(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    char name[] = "copied name";
    char key[] = "copied.key";
    char val[] = "copied value";
    char ename[] = "event";
    char desc[] = "description";
    char newname[] = "renamed";
    otel_str items[] = { { val, 6 } };
    otel_span s = otel_tracer_start_span(f->tracer, otel_str_from_cstr(name), NULL);
    otel_span_set_attr_str(s, otel_str_from_cstr(key), otel_str_from_cstr(val));
    otel_span_set_attr(s, OTEL_STR("arr"), otel_value_array(OTEL_VALUE_STR, items, 1));
    otel_attr eattr = { otel_str_from_cstr(key), otel_value_str(otel_str_from_cstr(val)) };
    otel_span_add_event(s, otel_str_from_cstr(ename), 0, &eattr, 1);
    otel_link link = { .context = make_sc(5, 1, true), .attrs = &eattr, .attr_count = 1 };
    otel_span_add_link(s, &link);
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, otel_str_from_cstr(desc));
    /* The caller reuses every buffer as soon as the calls return. */
    memset(name, 'X', sizeof(name) - 1);
    memset(key, 'X', sizeof(key) - 1);
    memset(val, 'X', sizeof(val) - 1);
    memset(ename, 'X', sizeof(ename) - 1);
    memset(desc, 'X', sizeof(desc) - 1);
    memset(items, 0, sizeof(items));
    const otel_span_data *d = end_and_get(f, s);
    assert_true(str_is(d->name, "copied name"));
    assert_ptr_not_equal(d->name.data, name);
    const otel_attr *a = find_attr(d->attrs, d->attr_count, "copied.key");
    assert_non_null(a);
    assert_true(str_is(a->value.as.s, "copied value"));
    a = find_attr(d->attrs, d->attr_count, "arr");
    assert_true(str_is(((const otel_str *)a->value.as.array.items)[0], "copied"));
    assert_true(str_is(d->events[0].name, "event"));
    assert_true(str_is(d->events[0].attrs[0].key, "copied.key"));
    assert_true(str_is(d->events[0].attrs[0].value.as.s, "copied value"));
    assert_true(str_is(d->links[0].attrs[0].value.as.s, "copied value"));
    assert_true(str_is(d->status_description, "description"));

    /* update_name copies too. */
    retainer_release_all(&f->ret);
    s = start(f, "x");
    otel_span_update_name(s, otel_str_from_cstr(newname));
    memset(newname, 'X', sizeof(newname) - 1);
    d = end_and_get(f, s);
    assert_true(str_is(d->name, "renamed"));
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Events and links
 * ------------------------------------------------------------------------------------------- */

static void test_span_events_keep_order_time_and_attrs(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "events");
    int64_t before = otel_time_now_ns();
    otel_attr attrs[] = { OTEL_ATTR_INT("n", 1), OTEL_ATTR_STR("s", OTEL_STR("v")),
                          OTEL_ATTR_INT("n", 2) /* duplicate: the last wins */ };
    otel_span_add_event(s, OTEL_STR("first"), 0, attrs, 3);
    otel_span_add_event(s, OTEL_STR("second"), 12345, NULL, 0);
    for (int i = 0; i < 10; i++)
        otel_span_add_event(s, OTEL_STR("more"), 0, NULL, 0);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->event_count, 12);
    assert_true(str_is(d->events[0].name, "first"));
    assert_true(d->events[0].time_ns >= before);
    assert_int_equal(d->events[0].attr_count, 2);
    assert_int_equal(find_attr(d->events[0].attrs, 2, "n")->value.as.i, 2);
    assert_true(str_is(d->events[1].name, "second"));
    assert_int_equal(d->events[1].time_ns, 12345);
    assert_int_equal(d->events[1].attr_count, 0);
    fx_free(f);
}

static void test_span_event_and_event_attr_limits(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .event_count = 2, .event_attr_count = 1 } };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "limits");
    otel_attr attrs[] = { OTEL_ATTR_INT("a", 1), OTEL_ATTR_INT("b", 2), OTEL_ATTR_INT("c", 3) };
    otel_span_add_event(s, OTEL_STR("e1"), 0, attrs, 3);
    otel_span_add_event(s, OTEL_STR("e2"), 0, attrs, 1);
    otel_span_add_event(s, OTEL_STR("e3"), 0, attrs, 3);
    otel_span_add_event(s, OTEL_STR("e4"), 0, NULL, 0);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->event_count, 2);
    assert_int_equal(d->dropped_event_count, 2);
    assert_true(str_is(d->events[0].name, "e1")); /* the first events are kept */
    assert_int_equal(d->events[0].attr_count, 1);
    assert_int_equal(d->events[0].dropped_attr_count, 2);
    assert_int_equal(d->events[1].attr_count, 1);
    assert_int_equal(d->events[1].dropped_attr_count, 0);
    otel_tracer_provider_stats st = fx_stats(f);
    assert_int_equal(st.events_dropped, 2);
    assert_int_equal(st.attrs_dropped, 2);
    fx_free(f);
}

static void test_span_record_exception_adds_an_exception_event(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "exc");
    otel_attr extra = OTEL_ATTR_BOOL("handled", true);
    otel_span_record_exception(s, OTEL_STR("IOError"), OTEL_STR("disk full"), OTEL_STR(""), &extra, 1);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->event_count, 1);
    assert_true(str_is(d->events[0].name, "exception"));
    const otel_attr *a = find_attr(d->events[0].attrs, d->events[0].attr_count, "exception.type");
    assert_non_null(a);
    assert_true(str_is(a->value.as.s, "IOError"));
    assert_non_null(find_attr(d->events[0].attrs, d->events[0].attr_count, "exception.message"));
    assert_null(find_attr(d->events[0].attrs, d->events[0].attr_count, "exception.stacktrace"));
    assert_non_null(find_attr(d->events[0].attrs, d->events[0].attr_count, "handled"));
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_UNSET);
    fx_free(f);
}

static void test_span_links_at_start_and_later_with_limits(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .limits = { .link_count = 2, .link_attr_count = 1 } };
    struct fixture *f = fx_new(&o);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("vendor=value"), &ts), OTEL_OK);
    otel_attr attrs[] = { OTEL_ATTR_INT("a", 1), OTEL_ATTR_INT("b", 2) };
    otel_link start_link = {
        .context = make_sc(10, 1, true), .trace_state = ts, .attrs = attrs, .attr_count = 2
    };
    otel_span_start_options so = { .links = &start_link, .link_count = 1 };
    otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("links"), &so);
    otel_link later = { .context = make_sc(20, 0, false) };
    otel_span_add_link(s, &later);
    otel_span_add_link(s, &later); /* over the limit */
    /* Invalid context, no trace state, no attributes: says nothing, dropped. */
    otel_link empty = { 0 };
    otel_span_add_link(s, &empty);
    otel_trace_state_release(ts); /* the span keeps its own reference */
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->link_count, 2);
    assert_int_equal(d->dropped_link_count, 1);
    assert_memory_equal(d->links[0].context.trace_id, start_link.context.trace_id, OTEL_TRACE_ID_SIZE);
    assert_true(d->links[0].context.is_remote);
    assert_int_equal(d->links[0].attr_count, 1);
    assert_int_equal(d->links[0].dropped_attr_count, 1);
    otel_str v;
    assert_true(otel_trace_state_get(d->links[0].trace_state, OTEL_STR("vendor"), &v));
    assert_true(str_is(v, "value"));
    assert_null(d->links[1].trace_state);
    otel_tracer_provider_stats st = fx_stats(f);
    assert_int_equal(st.links_dropped, 2);
    assert_int_equal(st.attrs_dropped, 1);
    fx_free(f);
}

static void test_span_link_with_invalid_context_but_attributes_is_kept(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "link");
    otel_attr a = OTEL_ATTR_INT("why", 1);
    otel_link link = { .attrs = &a, .attr_count = 1 };
    otel_span_add_link(s, &link);
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->link_count, 1);
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Status and name
 * ------------------------------------------------------------------------------------------- */

static void test_span_status_error_keeps_the_latest_description(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "status");
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("first"));
    otel_span_set_status(s, OTEL_SPAN_STATUS_UNSET, OTEL_STR("ignored"));
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("second"));
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_ERROR);
    assert_true(str_is(d->status_description, "second"));
    fx_free(f);
}

static void test_span_status_ok_is_final_and_has_no_description(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "status");
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("bad"));
    otel_span_set_status(s, OTEL_SPAN_STATUS_OK, OTEL_STR("ignored for OK"));
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("too late"));
    otel_span_set_status(s, (otel_span_status_code)9, OTEL_STR("invalid"));
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_OK);
    assert_int_equal(d->status_description.len, 0);
    fx_free(f);
}

static void test_span_status_unset_alone_leaves_unset(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "status");
    otel_span_set_status(s, OTEL_SPAN_STATUS_UNSET, OTEL_STR("x"));
    const otel_span_data *d = end_and_get(f, s);
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_UNSET);
    assert_int_equal(d->status_description.len, 0);
    fx_free(f);
}

static void test_span_update_name_replaces_the_name(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "original name");
    otel_span_update_name(s, OTEL_STR("short"));
    otel_span_update_name(s, OTEL_STR("a much longer name than before"));
    otel_span_update_name(s, OTEL_STR("final"));
    const otel_span_data *d = end_and_get(f, s);
    assert_true(str_is(d->name, "final"));
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * End, ended and stale handles
 * ------------------------------------------------------------------------------------------- */

static void test_span_end_twice_is_noop(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "twice");
    otel_span_end_at(s, otel_time_now_ns() + 1000);
    const otel_span_data *d = retainer_last(&f->ret);
    int64_t end = d->end_time_ns;
    otel_span_end(s);
    otel_span_end_at(s, end + 1000000);
    assert_int_equal(atomic_load(&f->ret.ends), 1);
    assert_int_equal(d->end_time_ns, end);
    assert_int_equal(fx_stats(f).spans_ended, 1);
    fx_free(f);
}

static void test_span_ops_after_end_are_noops(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "ended");
    otel_span_set_attr_int(s, OTEL_STR("before"), 1);
    const otel_span_data *d = end_and_get(f, s);
    assert_false(otel_span_is_recording(s));
    otel_span_context sc = otel_span_get_context(s);
    assert_false(otel_span_context_is_valid(&sc));
    assert_null(otel_span_get_trace_state(s));
    otel_span_set_attr_int(s, OTEL_STR("after"), 2);
    otel_span_add_event(s, OTEL_STR("after"), 0, NULL, 0);
    otel_link link = { .context = make_sc(1, 1, true) };
    otel_span_add_link(s, &link);
    otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("after"));
    otel_span_update_name(s, OTEL_STR("after"));
    assert_int_equal(d->attr_count, 1);
    assert_int_equal(d->event_count, 0);
    assert_int_equal(d->link_count, 0);
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_UNSET);
    assert_true(str_is(d->name, "ended"));
    fx_free(f);
}

static void test_stale_handle_does_not_touch_a_recycled_record(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span a = start(f, "span A");
    otel_span_end(a);
    retainer_release_all(&f->ret); /* A's record goes back to the pool */
    otel_span b = start(f, "span B");
    assert_ptr_equal(b.impl, a.impl); /* the same record serves B */
    assert_int_not_equal(b.gen, a.gen);
    otel_span_context bsc = otel_span_get_context(b);

    otel_span_set_attr_int(a, OTEL_STR("stale"), 1);
    otel_span_add_event(a, OTEL_STR("stale"), 0, NULL, 0);
    otel_link link = { .context = make_sc(1, 1, true) };
    otel_span_add_link(a, &link);
    otel_span_set_status(a, OTEL_SPAN_STATUS_ERROR, OTEL_STR("stale"));
    otel_span_update_name(a, OTEL_STR("stale"));
    assert_false(otel_span_is_recording(a));
    otel_span_context asc = otel_span_get_context(a);
    assert_false(otel_span_context_is_valid(&asc));
    otel_span_end(a);

    assert_true(otel_span_is_recording(b));
    assert_int_equal(atomic_load(&f->ret.ends), 1);
    otel_span_set_attr_int(b, OTEL_STR("mine"), 2);
    const otel_span_data *d = end_and_get(f, b);
    assert_true(str_is(d->name, "span B"));
    assert_int_equal(d->attr_count, 1);
    assert_true(str_is(d->attrs[0].key, "mine"));
    assert_int_equal(d->event_count, 0);
    assert_int_equal(d->link_count, 0);
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_UNSET);
    assert_memory_equal(d->context.span_id, bsc.span_id, OTEL_SPAN_ID_SIZE);
    fx_free(f);
}

static void test_recycled_record_starts_clean(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span a = start(f, "full");
    for (int i = 0; i < 20; i++) {
        char key[8];
        int n = snprintf(key, sizeof(key), "k%d", i);
        otel_span_set_attr_int(a, (otel_str){ key, (size_t)n }, i);
    }
    otel_span_add_event(a, OTEL_STR("e"), 0, NULL, 0);
    otel_link link = { .context = make_sc(1, 1, true) };
    otel_span_add_link(a, &link);
    otel_span_set_status(a, OTEL_SPAN_STATUS_ERROR, OTEL_STR("x"));
    otel_span_end(a);
    retainer_release_all(&f->ret);
    otel_span b = start(f, "empty");
    assert_ptr_equal(b.impl, a.impl);
    const otel_span_data *d = end_and_get(f, b);
    assert_int_equal(d->attr_count, 0);
    assert_int_equal(d->event_count, 0);
    assert_int_equal(d->link_count, 0);
    assert_int_equal(d->dropped_attr_count, 0);
    assert_int_equal(d->status_code, OTEL_SPAN_STATUS_UNSET);
    assert_null(d->trace_state);
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------------------------- */

static void test_span_explicit_timestamps_are_used_as_given(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span_start_options o = { .start_time_ns = INT64_C(1700000000000000000) };
    otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("explicit"), &o);
    otel_span_end_at(s, INT64_C(1700000000000000500));
    const otel_span_data *d = retainer_last(&f->ret);
    assert_int_equal(d->start_time_ns, INT64_C(1700000000000000000));
    assert_int_equal(d->end_time_ns, INT64_C(1700000000000000500));
    fx_free(f);
}

static void test_span_end_before_start_is_clamped_to_start(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span_start_options o = { .start_time_ns = INT64_C(2000000000000000000) };
    otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("clamp"), &o);
    otel_span_end_at(s, INT64_C(1000));
    const otel_span_data *d = retainer_last(&f->ret);
    assert_int_equal(d->end_time_ns, d->start_time_ns);
    /* "Now" is before a start in the future: clamped too. */
    s = otel_tracer_start_span(f->tracer, OTEL_STR("future"), &o);
    otel_span_end(s);
    d = retainer_last(&f->ret);
    assert_int_equal(d->end_time_ns, d->start_time_ns);
    fx_free(f);
}

static void test_span_explicit_start_and_default_end_uses_wall_clock(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    int64_t start_ns = otel_time_now_ns() - INT64_C(1000000000);
    otel_span_start_options o = { .start_time_ns = start_ns };
    otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("past"), &o);
    int64_t before_end = otel_time_now_ns();
    otel_span_end(s);
    const otel_span_data *d = retainer_last(&f->ret);
    assert_true(d->end_time_ns >= before_end);
    assert_true(d->end_time_ns - d->start_time_ns >= INT64_C(1000000000));
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Ids, parents, trace state, flags
 * ------------------------------------------------------------------------------------------- */

static void test_span_child_of_local_parent_shares_trace_id(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span parent = start(f, "parent");
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span(NULL, parent, &ctx), OTEL_OK);
    otel_span_start_options o = { .parent = ctx };
    otel_span child = otel_tracer_start_span(f->tracer, OTEL_STR("child"), &o);
    otel_span_context psc = otel_span_get_context(parent);
    otel_span_context csc = otel_span_get_context(child);
    const otel_span_data *cd = end_and_get(f, child);
    otel_span_end(parent);
    otel_context_release(ctx);
    assert_memory_equal(csc.trace_id, psc.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_not_equal(csc.span_id, psc.span_id, OTEL_SPAN_ID_SIZE);
    assert_memory_equal(cd->parent_span_id, psc.span_id, OTEL_SPAN_ID_SIZE);
    assert_false(cd->parent_is_remote);
    fx_free(f);
}

static void test_span_child_of_current_span(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span parent = start(f, "parent");
    otel_context_token tok = otel_span_make_current(parent);
    otel_span child = otel_tracer_start_span(f->tracer, OTEL_STR("child"), NULL);
    otel_context_detach(tok);
    otel_span_context psc = otel_span_get_context(parent);
    const otel_span_data *cd = end_and_get(f, child);
    otel_span_end(parent);
    assert_memory_equal(cd->context.trace_id, psc.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_equal(cd->parent_span_id, psc.span_id, OTEL_SPAN_ID_SIZE);
    fx_free(f);
}

static void test_span_remote_parent_sets_parent_is_remote_and_inherits_trace_state(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span_context remote = make_sc(7, OTEL_TRACE_FLAG_SAMPLED, true);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("a=1,b=2"), &ts), OTEL_OK);
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &remote, ts, &ctx), OTEL_OK);
    otel_trace_state_release(ts);
    otel_span_start_options o = { .parent = ctx };
    otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("server"), &o);
    otel_context_release(ctx);
    otel_trace_state *got = otel_span_get_trace_state(s);
    assert_non_null(got);
    otel_str v;
    assert_true(otel_trace_state_get(got, OTEL_STR("b"), &v));
    assert_true(str_is(v, "2"));
    otel_trace_state_release(got);
    const otel_span_data *d = end_and_get(f, s);
    assert_memory_equal(d->context.trace_id, remote.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_equal(d->parent_span_id, remote.span_id, OTEL_SPAN_ID_SIZE);
    assert_true(d->parent_is_remote);
    assert_false(d->context.is_remote);
    assert_int_equal(otel_trace_state_count(d->trace_state), 2);
    fx_free(f);
}

static void test_span_root_flag_ignores_the_current_parent(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span parent = start(f, "parent");
    otel_context_token tok = otel_span_make_current(parent);
    otel_span_start_options o = { .flags = OTEL_SPAN_START_ROOT };
    otel_span root = otel_tracer_start_span(f->tracer, OTEL_STR("root"), &o);
    otel_context_detach(tok);
    otel_span_context psc = otel_span_get_context(parent);
    const otel_span_data *d = end_and_get(f, root);
    otel_span_end(parent);
    assert_memory_not_equal(d->context.trace_id, psc.trace_id, OTEL_TRACE_ID_SIZE);
    static const uint8_t zero[OTEL_SPAN_ID_SIZE];
    assert_memory_equal(d->parent_span_id, zero, OTEL_SPAN_ID_SIZE);
    fx_free(f);
}

static void test_span_random_flag_set_for_new_traces_with_builtin_ids(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "root");
    otel_span_context sc = otel_span_get_context(s);
    otel_span_end(s);
    assert_true(sc.trace_flags & OTEL_TRACE_FLAG_RANDOM);
    fx_free(f);
}

static void test_span_random_flag_is_inherited_from_the_parent(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    for (int with_random = 0; with_random < 2; with_random++) {
        uint8_t flags = (uint8_t)(OTEL_TRACE_FLAG_SAMPLED | (with_random ? OTEL_TRACE_FLAG_RANDOM : 0));
        otel_span_context remote = make_sc(9, flags, true);
        otel_context *ctx = NULL;
        assert_int_equal(otel_context_with_span_context(NULL, &remote, NULL, &ctx), OTEL_OK);
        otel_span_start_options o = { .parent = ctx };
        otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("child"), &o);
        otel_span_context sc = otel_span_get_context(s);
        otel_span_end(s);
        otel_context_release(ctx);
        assert_int_equal((sc.trace_flags & OTEL_TRACE_FLAG_RANDOM) != 0, with_random);
        assert_true(sc.trace_flags & OTEL_TRACE_FLAG_SAMPLED);
    }
    fx_free(f);
}

static void fixed_trace_id(void *ud, uint8_t out[OTEL_TRACE_ID_SIZE])
{
    (void)ud;
    memset(out, 0x11, OTEL_TRACE_ID_SIZE);
}

static void counting_span_id(void *ud, uint8_t out[OTEL_SPAN_ID_SIZE])
{
    uint64_t n = ++*(uint64_t *)ud;
    for (int i = 7; i >= 0; i--, n >>= 8)
        out[i] = (uint8_t)n;
}

static void test_span_custom_id_generator_without_random_ids(void **state)
{
    (void)state;
    uint64_t counter = 0;
    otel_tracer_provider_options o = {
        .id_generator = { .new_trace_id = fixed_trace_id,
                          .new_span_id = counting_span_id,
                          .user_data = &counter },
    };
    struct fixture *f = fx_new(&o);
    otel_span s = start(f, "custom");
    otel_span_context sc = otel_span_get_context(s);
    otel_span_end(s);
    assert_false(sc.trace_flags & OTEL_TRACE_FLAG_RANDOM);
    uint8_t expect_trace[OTEL_TRACE_ID_SIZE];
    memset(expect_trace, 0x11, sizeof(expect_trace));
    assert_memory_equal(sc.trace_id, expect_trace, OTEL_TRACE_ID_SIZE);
    assert_int_equal(sc.span_id[7], 1);
    assert_int_equal(counter, 1);
    fx_free(f);
}

static void test_span_initial_attrs_from_start_options(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("http.method", "GET"), OTEL_ATTR_INT("n", 3) };
    otel_span_start_options o = { .attrs = attrs, .attr_count = 2 };
    const otel_span_data *d = end_and_get(f, otel_tracer_start_span(f->tracer, OTEL_STR("init"), &o));
    assert_int_equal(d->attr_count, 2);
    assert_true(str_is(find_attr(d->attrs, 2, "http.method")->value.as.s, "GET"));
    fx_free(f);
}

static void test_span_get_context_and_trace_state_on_recording_span(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "ctx");
    assert_null(otel_span_get_trace_state(s)); /* root without sampler trace state */
    otel_span_context sc = otel_span_get_context(s);
    const otel_span_data *d = end_and_get(f, s);
    assert_memory_equal(&d->context, &sc, sizeof(sc));
    fx_free(f);
}

/* Whether |d|'s name lives in its record's name buffer. */
static bool name_is_inline(const otel_span_data *d)
{
    const struct otel__span_record *rec = otel__record_of_data(d);
    return d->name.data == rec->name_buf;
}

/* |len| bytes of a pattern that differs per length, in |buf|. */
static otel_str pattern_name(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (i * 7 + len) % 26);
    return (otel_str){ buf, len };
}

static void test_span_names_of_15_16_17_bytes_inline_or_in_the_arena(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span_start_options root = { .flags = OTEL_SPAN_START_ROOT };
    const size_t lens[] = { 0, 1, 15, 16, 17, 39, 40, 100 };
    /* Twice: the first span of the thread takes the general path, later ones the short path;
     * the options take the general path every time. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            for (int with_opts = 0; with_opts < 2; with_opts++) {
                char buf[128], want[128];
                otel_str name = pattern_name(buf, lens[i]);
                memcpy(want, buf, lens[i]);
                otel_span s = otel_tracer_start_span(f->tracer, name, with_opts ? &root : NULL);
                memset(buf, '#', sizeof(buf)); /* the span holds a copy */
                const otel_span_data *d = end_and_get(f, s);
                assert_int_equal(d->name.len, lens[i]);
                assert_memory_equal(d->name.data, want, lens[i]);
                if (lens[i] > 0)
                    assert_int_equal(name_is_inline(d), lens[i] <= OTEL__NAME_INLINE);
                if (lens[i] > OTEL__NAME_INLINE)
                    assert_int_equal(d->name.data[lens[i]], '\0'); /* arena copies end in a NUL */
            }
        }
        retainer_release_all(&f->ret);
    }
    fx_free(f);
}

static void test_span_short_copied_name_needs_no_arena_chunk(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    for (int i = 0; i < 3; i++) {
        otel_span s = otel_tracer_start_span(f->tracer, OTEL_STR("GET /users/:id"), NULL);
        const otel_span_data *d = end_and_get(f, s);
        assert_true(str_is(d->name, "GET /users/:id"));
        assert_true(name_is_inline(d));
        assert_null(otel__record_of_data(d)->arena.head);
    }
    fx_free(f);
}

static void test_span_update_name_from_inline_to_longer_and_shorter(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "sixteen-bytes-16");
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(s.impl);
    assert_true(rec->box.data.name.data == rec->name_buf);
    otel_span_update_name(s, OTEL_STR("abc")); /* shorter: in place, no NUL past the buffer */
    assert_null(rec->arena.head);
    assert_true(rec->box.data.name.data == rec->name_buf);
    otel_span_update_name(s, OTEL_STR("a name of twenty-six bytes")); /* longer: the arena */
    assert_true(rec->box.data.name.data != rec->name_buf);
    otel_span_update_name(s, OTEL_STR("short again"));                 /* shorter: over the arena copy */
    otel_span_update_name(s, OTEL_STR("a name of twenty-seven byte")); /* longer again: the arena */
    otel_span_update_name(s, OTEL_STR(""));                            /* empty */
    otel_span_update_name(s, OTEL_STR("16 bytes exactly"));
    const otel_span_data *d = end_and_get(f, s);
    assert_true(str_is(d->name, "16 bytes exactly"));

    /* From a static name: a short new one goes to the name buffer, never over the literal. */
    otel_span_start_options o = { .flags = OTEL_SPAN_START_ROOT | OTEL_SPAN_START_STATIC_NAME };
    s = otel_tracer_start_span(f->tracer, OTEL_STR("static name"), &o);
    otel_span_update_name(s, OTEL_STR("new"));
    d = end_and_get(f, s);
    assert_true(str_is(d->name, "new"));
    assert_true(name_is_inline(d));
    fx_free(f);
}

static void test_span_record_reused_after_a_long_name_then_a_short_one(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    /* One thread, one record at a time: each span reuses the record the last one freed. */
    const char *names[] = { "a long span name of thirty-four b",
                            "short",
                            "another rather long span name",
                            "",
                            "sixteen-bytes-16",
                            "seventeen-bytes-17" };
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            otel_span s = otel_tracer_start_span(f->tracer, otel_str_from_cstr(names[i]), NULL);
            const otel_span_data *d = end_and_get(f, s);
            assert_true(str_is(d->name, names[i]));
            if (d->name.len)
                assert_int_equal(name_is_inline(d), d->name.len <= OTEL__NAME_INLINE);
            retainer_release_all(&f->ret);
        }
    }
    fx_free(f);
}

static void test_span_inline_name_survives_retain_release_and_clone(void **state)
{
    (void)state;
    struct fixture *f = fx_new(NULL);
    otel_span s = start(f, "GET /users/:id");
    const otel_span_data *d = end_and_get(f, s);
    assert_true(name_is_inline(d));
    const struct otel__span_data_box *rbox =
        (const void *)((const char *)d - offsetof(struct otel__span_data_box, data));
    assert_false(atomic_load(&rbox->refs) & OTEL__REFS_CLONE);
    otel_span_data_retain(d);
    assert_int_equal(atomic_load(&rbox->refs), 2u);
    otel_span_data_release(d);
    assert_int_equal(atomic_load(&rbox->refs), 1u);

    otel_span_data *c = NULL;
    assert_int_equal(otel_span_data_clone(d, &c), OTEL_OK);
    retainer_release_all(&f->ret); /* the record goes back to the pool */
    s = start(f, "other name");    /* and serves another span */
    assert_true(str_is(c->name, "GET /users/:id"));
    const struct otel__span_data_box *cbox =
        (const void *)((const char *)c - offsetof(struct otel__span_data_box, data));
    assert_int_equal(atomic_load(&cbox->refs), 1u | OTEL__REFS_CLONE);
    otel_span_data_retain(c);
    assert_int_equal(atomic_load(&cbox->refs), 2u | OTEL__REFS_CLONE);
    otel_span_data_release(c);
    assert_int_equal(atomic_load(&cbox->refs), 1u | OTEL__REFS_CLONE);
    assert_true(str_is(c->name, "GET /users/:id"));

    /* A clone of a clone, then the first clone's last release frees it (ASan checks). */
    otel_span_data *c2 = NULL;
    assert_int_equal(otel_span_data_clone(c, &c2), OTEL_OK);
    otel_span_data_free(c);
    assert_true(str_is(c2->name, "GET /users/:id"));
    otel_span_data_free(c2);
    d = end_and_get(f, s);
    assert_true(str_is(d->name, "other name"));
    fx_free(f);
}

static void test_span_record_memory_footprint(void **state)
{
    (void)state;
    /* Guards against the record growing by accident (see span.h). */
    print_message("sizeof(struct otel__span_record) = %zu, first arena chunk = %u bytes\n",
                  sizeof(struct otel__span_record), OTEL__ARENA_FIRST_CHUNK);
    assert_true(sizeof(struct otel__span_record) <= 768);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span_start_end_fills_span_data),
        cmocka_unit_test(test_span_invalid_kind_becomes_internal),
        cmocka_unit_test(test_span_attrs_of_every_type),
        cmocka_unit_test(test_span_set_attr_replaces_existing_key),
        cmocka_unit_test(test_span_replaces_keys_whose_lengths_collide),
        cmocka_unit_test(test_span_replacing_a_string_in_a_loop_does_not_grow_the_arena),
        cmocka_unit_test(test_span_many_attrs_beyond_inline_storage),
        cmocka_unit_test(test_span_attr_count_limit_drops_and_counts),
        cmocka_unit_test(test_span_limit_zero_drops_every_attr),
        cmocka_unit_test(test_span_unlimited_attr_count_keeps_more_than_default),
        cmocka_unit_test(test_span_default_attr_limit_is_128),
        cmocka_unit_test(test_span_invalid_attrs_are_dropped_and_counted),
        cmocka_unit_test(test_span_value_length_limit_counts_characters_not_bytes),
        cmocka_unit_test(test_span_truncation_applies_to_event_and_link_attrs),
        cmocka_unit_test(test_span_static_value_cut_by_limit_stays_a_pointer),
        cmocka_unit_test(test_span_static_strings_are_kept_by_pointer),
        cmocka_unit_test(test_span_copies_what_is_not_static),
        cmocka_unit_test(test_span_events_keep_order_time_and_attrs),
        cmocka_unit_test(test_span_event_and_event_attr_limits),
        cmocka_unit_test(test_span_record_exception_adds_an_exception_event),
        cmocka_unit_test(test_span_links_at_start_and_later_with_limits),
        cmocka_unit_test(test_span_link_with_invalid_context_but_attributes_is_kept),
        cmocka_unit_test(test_span_status_error_keeps_the_latest_description),
        cmocka_unit_test(test_span_status_ok_is_final_and_has_no_description),
        cmocka_unit_test(test_span_status_unset_alone_leaves_unset),
        cmocka_unit_test(test_span_update_name_replaces_the_name),
        cmocka_unit_test(test_span_end_twice_is_noop),
        cmocka_unit_test(test_span_ops_after_end_are_noops),
        cmocka_unit_test(test_stale_handle_does_not_touch_a_recycled_record),
        cmocka_unit_test(test_recycled_record_starts_clean),
        cmocka_unit_test(test_span_explicit_timestamps_are_used_as_given),
        cmocka_unit_test(test_span_end_before_start_is_clamped_to_start),
        cmocka_unit_test(test_span_explicit_start_and_default_end_uses_wall_clock),
        cmocka_unit_test(test_span_child_of_local_parent_shares_trace_id),
        cmocka_unit_test(test_span_child_of_current_span),
        cmocka_unit_test(test_span_remote_parent_sets_parent_is_remote_and_inherits_trace_state),
        cmocka_unit_test(test_span_root_flag_ignores_the_current_parent),
        cmocka_unit_test(test_span_random_flag_set_for_new_traces_with_builtin_ids),
        cmocka_unit_test(test_span_random_flag_is_inherited_from_the_parent),
        cmocka_unit_test(test_span_custom_id_generator_without_random_ids),
        cmocka_unit_test(test_span_initial_attrs_from_start_options),
        cmocka_unit_test(test_span_get_context_and_trace_state_on_recording_span),
        cmocka_unit_test(test_span_record_memory_footprint),
        cmocka_unit_test(test_span_names_of_15_16_17_bytes_inline_or_in_the_arena),
        cmocka_unit_test(test_span_short_copied_name_needs_no_arena_chunk),
        cmocka_unit_test(test_span_update_name_from_inline_to_longer_and_shorter),
        cmocka_unit_test(test_span_record_reused_after_a_long_name_then_a_short_one),
        cmocka_unit_test(test_span_inline_name_survives_retain_release_and_clone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
