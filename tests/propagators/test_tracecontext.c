/* W3C Trace Context propagator: the cases of the W3C test suite (w3c/trace-context test/test.py,
 * rewritten as extraction checks), level 2's random flag, limits, injection and the Datadog
 * interop of the tracestate "dd" member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "prop_test_util.h"

#define TP "00-12345678901234567890123456789012-1234567890123456-01"
#define TID "12345678901234567890123456789012"

static otel_propagator g_tc;

static int setup(void **state)
{
    (void)state;
    return otel_propagator_tracecontext(&g_tc) == OTEL_OK ? 0 : -1;
}

/* Extracts one traceparent value; true when a valid context came out. */
static bool tp_ok(const char *value)
{
    otel_header h[] = { { OTEL_STR("traceparent"), otel_str_from_cstr(value) } };
    otel_context *c = extract_list(&g_tc, h, 1);
    bool ok = ctx_valid(c);
    otel_context_release(c);
    return ok;
}

/* Extracts traceparent TP (flags 00) plus the given tracestate lines; returns the serialized
 * trace state in |buf| and asserts the traceparent survived. */
static const char *ts_of(const char *const *lines, size_t n, char *buf, size_t cap)
{
    otel_header h[40];
    h[0] = (otel_header){ OTEL_STR("traceparent"),
                          OTEL_STR("00-12345678901234567890123456789012-1234567890123456-00") };
    for (size_t i = 0; i < n; i++)
        h[i + 1] = (otel_header){ OTEL_STR("tracestate"), otel_str_from_cstr(lines[i]) };
    otel_context *c = extract_list(&g_tc, h, n + 1);
    char t[33];
    assert_string_equal(trace_hex(c, t), TID);
    ts_str(c, buf, cap);
    otel_context_release(c);
    return buf;
}

static void test_valid_traceparent_gives_remote_sampled_context(void **state)
{
    (void)state;
    otel_header h[] = { H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") };
    otel_context *c = extract_list(&g_tc, h, 1);
    char t[33], s[17];
    assert_string_equal(trace_hex(c, t), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(span_hex(c, s), "00f067aa0ba902b7");
    otel_span_context sc = otel_context_get_span_context(c);
    assert_true(sc.is_remote);
    assert_int_equal(sc.trace_flags, OTEL_TRACE_FLAG_SAMPLED);
    assert_null(otel_context_get_trace_state(c));
    /* The context also answers with a non-recording span wrapping the remote context. */
    otel_span span = otel_context_get_span(c);
    assert_false(otel_span_is_recording(span));
    otel_context_release(c);
}

static void test_header_name_is_case_insensitive(void **state)
{
    (void)state;
    const char *names[] = { "TraceParent", "TrAcEpArEnT", "TRACEPARENT" };
    for (size_t i = 0; i < COUNT(names); i++) {
        otel_header h[] = { { otel_str_from_cstr(names[i]), OTEL_STR(TP) } };
        otel_context *c = extract_list(&g_tc, h, 1);
        assert_true(ctx_valid(c));
        otel_context_release(c);
    }
}

static void test_wrong_header_names_are_ignored(void **state)
{
    (void)state;
    otel_header h[] = { H("trace-parent", TP), H("trace.parent", TP) };
    otel_context *c = extract_list(&g_tc, h, 2);
    assert_null(c);
}

static void test_two_traceparent_headers_are_invalid(void **state)
{
    (void)state;
    otel_header h[] = {
        H("traceparent", "00-12345678901234567890123456789011-1234567890123456-01"),
        H("traceparent", "00-12345678901234567890123456789012-1234567890123456-01"),
    };
    otel_context *c = extract_list(&g_tc, h, 2);
    assert_false(ctx_valid(c));
    otel_context_release(c);
}

static void test_version_00_must_end_after_flags(void **state)
{
    (void)state;
    assert_true(tp_ok(TP));
    assert_false(tp_ok(TP "."));
    assert_false(tp_ok(TP "-what-the-future-will-be-like"));
    assert_false(tp_ok(TP "-"));
}

/* Every byte value at every id digit: lowercase hex digits decode to their value, anything else
 * (uppercase, the neighbours of the digit ranges, bytes from 0x80 up) invalidates the header. */
static void test_each_id_digit_accepts_exactly_lowercase_hex(void **state)
{
    (void)state;
    char tp[] = "00-0123456789abcdef0123456789abcdef-fedcba9876543210-01";
    static const char hex[] = "0123456789abcdef";
    for (size_t pos = 3; pos < 52; pos++) {
        if (pos == 35)
            continue;
        char saved = tp[pos];
        for (unsigned c = 0; c < 256; c++) {
            tp[pos] = (char)c;
            const char *digit = c ? memchr(hex, (int)c, 16) : NULL;
            otel_header h[] = { { OTEL_STR("traceparent"), { tp, sizeof(tp) - 1 } } };
            otel_context *ctx = extract_list(&g_tc, h, 1);
            otel_span_context sc = otel_context_get_span_context(ctx);
            if (!digit) {
                if (otel_span_context_is_valid(&sc))
                    fail_msg("byte 0x%02x at %zu accepted", c, pos);
            } else {
                unsigned v = (unsigned)(digit - hex);
                size_t d = pos < 35 ? pos - 3 : pos - 36;
                const uint8_t *id = pos < 35 ? sc.trace_id : sc.span_id;
                unsigned got = d % 2 ? id[d / 2] & 0x0fu : (unsigned)id[d / 2] >> 4;
                if (!otel_span_context_is_valid(&sc) || got != v)
                    fail_msg("digit %c at %zu: %u", (char)c, pos, got);
            }
            otel_context_release(ctx);
        }
        tp[pos] = saved;
    }
}

static void test_higher_version_accepts_trailing_dash_fields(void **state)
{
    (void)state;
    assert_true(tp_ok("cc-12345678901234567890123456789012-1234567890123456-01"));
    assert_true(
        tp_ok("cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like"));
    assert_false(
        tp_ok("cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like"));
    /* Shorter than 55 characters: never parsed, whatever the version. */
    assert_false(tp_ok("cc-12345678901234567890123456789012-1234567890123456-0"));
}

static void test_higher_version_keeps_only_known_fields(void **state)
{
    (void)state;
    otel_header h[] = { H("traceparent", "01-12345678901234567890123456789012-1234567890123456-03-ab") };
    otel_context *c = extract_list(&g_tc, h, 1);
    assert_true(ctx_valid(c));
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED | OTEL_TRACE_FLAG_RANDOM);
    test_out o;
    otel_propagator p = g_tc;
    inject_into(&p, c, &o);
    /* Inject always writes version 00 and nothing of the unknown fields. */
    assert_true(out_is(&o, "traceparent", "00-12345678901234567890123456789012-1234567890123456-03"));
    otel_context_release(c);
}

static void test_version_ff_is_invalid(void **state)
{
    (void)state;
    assert_false(tp_ok("ff-12345678901234567890123456789012-1234567890123456-01"));
}

static void test_bad_version_field_is_invalid(void **state)
{
    (void)state;
    assert_false(tp_ok(".0-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(tp_ok("0.-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(tp_ok("000-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(tp_ok("0000-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(tp_ok("0-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(tp_ok("0A-12345678901234567890123456789012-1234567890123456-01"));
}

static void test_bad_trace_id_is_invalid(void **state)
{
    (void)state;
    assert_false(tp_ok("00-00000000000000000000000000000000-1234567890123456-01"));
    assert_false(tp_ok("00-.2345678901234567890123456789012-1234567890123456-01"));
    assert_false(tp_ok("00-1234567890123456789012345678901.-1234567890123456-01"));
    assert_false(tp_ok("00-123456789012345678901234567890123-1234567890123456-01"));
    assert_false(tp_ok("00-1234567890123456789012345678901-1234567890123456-01"));
    assert_false(tp_ok("00-4BF92F3577B34DA6A3CE929D0E0E4736-1234567890123456-01"));
}

static void test_bad_parent_id_is_invalid(void **state)
{
    (void)state;
    assert_false(tp_ok("00-12345678901234567890123456789012-0000000000000000-01"));
    assert_false(tp_ok("00-12345678901234567890123456789012-.234567890123456-01"));
    assert_false(tp_ok("00-12345678901234567890123456789012-123456789012345.-01"));
    assert_false(tp_ok("00-12345678901234567890123456789012-12345678901234567-01"));
    assert_false(tp_ok("00-12345678901234567890123456789012-123456789012345-01"));
    assert_false(tp_ok("00-12345678901234567890123456789012-00F067AA0BA902B7-01"));
}

static void test_bad_flags_are_invalid(void **state)
{
    (void)state;
    assert_false(tp_ok("00-12345678901234567890123456789012-1234567890123456-.0"));
    assert_false(tp_ok("00-12345678901234567890123456789012-1234567890123456-0."));
    assert_false(tp_ok("00-12345678901234567890123456789012-1234567890123456-001"));
    assert_false(tp_ok("00-12345678901234567890123456789012-1234567890123456-1"));
    assert_false(tp_ok("00-12345678901234567890123456789012-1234567890123456-0F"));
}

static void test_wrong_delimiters_are_invalid(void **state)
{
    (void)state;
    assert_false(tp_ok("00_12345678901234567890123456789012-1234567890123456-01"));
    assert_false(tp_ok("00-12345678901234567890123456789012_1234567890123456-01"));
    assert_false(tp_ok("00-12345678901234567890123456789012-1234567890123456_01"));
    assert_false(tp_ok(""));
}

static void test_traceparent_ows_is_ignored(void **state)
{
    (void)state;
    assert_true(tp_ok(" " TP));
    assert_true(tp_ok("\t" TP));
    assert_true(tp_ok(TP " "));
    assert_true(tp_ok(TP "\t"));
    assert_true(tp_ok("\t " TP " \t"));
}

static void test_random_flag_is_carried_and_unknown_flags_zeroed(void **state)
{
    (void)state;
    otel_header h[] = { H("traceparent", "00-12345678901234567890123456789012-1234567890123456-02") };
    otel_context *c = extract_list(&g_tc, h, 1);
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_RANDOM);
    otel_context_release(c);

    otel_header h2[] = { H("traceparent", "00-12345678901234567890123456789012-1234567890123456-ff") };
    c = extract_list(&g_tc, h2, 1);
    assert_int_equal(ctx_flags(c), OTEL_TRACE_FLAG_SAMPLED | OTEL_TRACE_FLAG_RANDOM);
    otel_context_release(c);

    /* Inject masks unknown flags of a local span context too. */
    otel_context *local = ctx_with(make_sc(TID, "1234567890123456", 0x86), NULL);
    test_out o;
    inject_into(&g_tc, local, &o);
    assert_true(out_is(&o, "traceparent", "00-12345678901234567890123456789012-1234567890123456-02"));
    otel_context_release(local);
}

static void test_oversized_traceparent_is_ignored(void **state)
{
    (void)state;
    char big[OTEL_PROPAGATORS_TRACEPARENT_MAX_BYTES + 2];
    memcpy(big, "cc-12345678901234567890123456789012-1234567890123456-01-", 56);
    memset(big + 56, 'a', sizeof(big) - 57);
    big[sizeof(big) - 1] = '\0';
    assert_false(tp_ok(big));
    big[OTEL_PROPAGATORS_TRACEPARENT_MAX_BYTES] = '\0';
    assert_true(tp_ok(big));
}

static void test_tracestate_without_traceparent_is_ignored(void **state)
{
    (void)state;
    otel_header h[] = { H("tracestate", "foo=1,bar=2") };
    otel_context *c = extract_list(&g_tc, h, 1);
    assert_null(c);
    /* Nor with an invalid traceparent. */
    otel_header h2[] = { H("traceparent", "00-00000000000000000000000000000000-1234567890123456-01"),
                         H("tracestate", "foo=1") };
    c = extract_list(&g_tc, h2, 2);
    assert_null(otel_context_get_trace_state(c));
    otel_context_release(c);
}

static void test_tracestate_is_inherited(void **state)
{
    (void)state;
    char buf[512];
    const char *l[] = { "foo=1,bar=2" };
    assert_string_equal(ts_of(l, 1, buf, sizeof(buf)), "foo=1,bar=2");
    const char *casing[] = { "TraceState", "TrAcEsTaTe", "TRACESTATE" };
    for (size_t i = 0; i < COUNT(casing); i++) {
        otel_header h[] = { H("traceparent", TP), { otel_str_from_cstr(casing[i]), OTEL_STR("foo=1") } };
        otel_context *c = extract_list(&g_tc, h, 2);
        assert_string_equal(ts_str(c, buf, sizeof(buf)), "foo=1");
        otel_context_release(c);
    }
}

static void test_tracestate_wrong_names_are_ignored(void **state)
{
    (void)state;
    otel_header h[] = { H("traceparent", TP), H("trace-state", "foo=1"), H("trace.state", "foo=1") };
    otel_context *c = extract_list(&g_tc, h, 3);
    assert_true(ctx_valid(c));
    assert_null(otel_context_get_trace_state(c));
    otel_context_release(c);
}

static void test_empty_tracestate_lines_are_accepted(void **state)
{
    (void)state;
    char buf[512];
    const char *a[] = { "" };
    assert_string_equal(ts_of(a, 1, buf, sizeof(buf)), "");
    const char *b[] = { "foo=1", "" };
    assert_string_equal(ts_of(b, 2, buf, sizeof(buf)), "foo=1");
    const char *c[] = { "", "foo=1" };
    assert_string_equal(ts_of(c, 2, buf, sizeof(buf)), "foo=1");
    const char *d[] = { " , ,\t", "foo=1,,  ,bar=2" };
    assert_string_equal(ts_of(d, 2, buf, sizeof(buf)), "foo=1,bar=2");
}

static void test_tracestate_lines_are_joined_in_order(void **state)
{
    (void)state;
    char buf[512];
    const char *l[] = { "foo=1,bar=2", "rojo=1,congo=2", "baz=3" };
    assert_string_equal(ts_of(l, 3, buf, sizeof(buf)), "foo=1,bar=2,rojo=1,congo=2,baz=3");
}

static void test_tracestate_all_allowed_characters(void **state)
{
    (void)state;
    char key[64] = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    char value[128];
    size_t n = 0;
    for (int c = 0x20; c <= 0x7e; c++)
        if (c != ',' && c != '=')
            value[n++] = (char)c;
    value[n] = '\0';
    char line[256];
    char buf[512];
    snprintf(line, sizeof(line), "%s=%s", key, value);
    const char *l[] = { line };
    assert_string_equal(ts_of(l, 1, buf, sizeof(buf)), line);
    strcat(key, "@a-z0-9_-*/");
    snprintf(line, sizeof(line), "%s=%s", key, value);
    assert_string_equal(ts_of(l, 1, buf, sizeof(buf)), line);
}

static void test_tracestate_ows_is_ignored(void **state)
{
    (void)state;
    char buf[512];
    const char *a[] = { "foo=1 \t , \t bar=2, \t baz=3" };
    assert_string_equal(ts_of(a, 1, buf, sizeof(buf)), "foo=1,bar=2,baz=3");
    const char *b[] = { "foo=1\t \t,\t \tbar=2,\t \tbaz=3" };
    assert_string_equal(ts_of(b, 1, buf, sizeof(buf)), "foo=1,bar=2,baz=3");
    const char *c[] = { " foo=1" }, *d[] = { "\tfoo=1" }, *e[] = { "foo=1 " }, *f[] = { "foo=1\t" },
               *g[] = { "\t foo=1 \t" };
    const char *const *all[] = { c, d, e, f, g };
    for (size_t i = 0; i < COUNT(all); i++)
        assert_string_equal(ts_of(all[i], 1, buf, sizeof(buf)), "foo=1");
}

static void test_invalid_tracestate_member_discards_tracestate_only(void **state)
{
    (void)state;
    char buf[512];
    const char *bad[] = { "foo =1", "FOO=1", "foo.bar=1",    "foo=bar=baz", "foo=,bar=3",
                          "=1",     "foo",   "foo=1,@bar=2", "foo=\x01" };
    for (size_t i = 0; i < COUNT(bad); i++) {
        const char *l[] = { bad[i] };
        assert_string_equal(ts_of(l, 1, buf, sizeof(buf)), "");
    }
}

static void test_tracestate_duplicates_and_level2_keys(void **state)
{
    (void)state;
    char buf[1024];
    /* W3C suite, strict level 2: duplicated keys keep the tracestate (one of them at least). */
    const char *dup1[] = { "foo=1,foo=1" }, *dup2[] = { "foo=1,foo=2" }, *dup3[] = { "foo=1", "foo=2" };
    assert_non_null(strstr(ts_of(dup1, 1, buf, sizeof(buf)), "foo=1"));
    ts_of(dup2, 1, buf, sizeof(buf));
    assert_true(strstr(buf, "foo=1") || strstr(buf, "foo=2"));
    ts_of(dup3, 2, buf, sizeof(buf));
    assert_true(strstr(buf, "foo=1") || strstr(buf, "foo=2"));
    /* Key grammar: '@' is a key character anywhere but first. */
    const char *at[] = { "foo@=1,bar=2" }, *atat[] = { "foo@@bar=1,bar=2" },
               *two[] = { "foo@bar@baz=1,bar=2" };
    assert_string_equal(ts_of(at, 1, buf, sizeof(buf)), "foo@=1,bar=2");
    assert_string_equal(ts_of(atat, 1, buf, sizeof(buf)), "foo@@bar=1,bar=2");
    assert_string_equal(ts_of(two, 1, buf, sizeof(buf)), "foo@bar@baz=1,bar=2");
    const char *lead[] = { "@foo=1,bar=2" };
    assert_string_equal(ts_of(lead, 1, buf, sizeof(buf)), "");
    char key[300], line[320];
    memset(key, 't', 241);
    key[241] = '@';
    memset(key + 242, 'v', 14);
    key[256] = '\0';
    snprintf(line, sizeof(line), "%s=1", key);
    const char *l241[] = { "foo=1", line };
    assert_non_null(strstr(ts_of(l241, 2, buf, sizeof(buf)), key));
    snprintf(line, sizeof(line), "t@vvvvvvvvvvvvvvv=1");
    assert_non_null(strstr(ts_of(l241, 2, buf, sizeof(buf)), "t@vvvvvvvvvvvvvvv=1"));
}

static void test_tracestate_member_count_limit(void **state)
{
    (void)state;
    char buf[1024];
    const char *ok[] = {
        "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,bar07=07,bar08=08,bar09=09,bar10=10",
        "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,bar17=17,bar18=18,bar19=19,bar20=20",
        "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,bar27=27,bar28=28,bar29=29,bar30=30",
        "bar31=31,bar32=32",
    };
    ts_of(ok, 4, buf, sizeof(buf));
    assert_non_null(strstr(buf, "bar01=01"));
    assert_non_null(strstr(buf, "bar32=32"));
    const char *over[] = { ok[0], ok[1], ok[2], "bar31=31,bar32=32,bar33=33" };
    assert_string_equal(ts_of(over, 4, buf, sizeof(buf)), "");
}

static void test_tracestate_key_length_limit(void **state)
{
    (void)state;
    char key[300];
    char line[320];
    char buf[1024];
    memset(key, 'z', 256);
    key[256] = '\0';
    snprintf(line, sizeof(line), "%s=1", key);
    const char *l[] = { "foo=1", line };
    ts_of(l, 2, buf, sizeof(buf));
    assert_non_null(strstr(buf, "foo=1"));
    assert_non_null(strstr(buf, key));
    memset(key, 'z', 257);
    key[257] = '\0';
    snprintf(line, sizeof(line), "%s=1", key);
    assert_string_equal(ts_of(l, 2, buf, sizeof(buf)), "");
}

static void test_oversized_or_too_many_tracestate_lines_are_ignored(void **state)
{
    (void)state;
    /* 33 lines: more than the carrier array takes. */
    const char *many[OTEL_PROPAGATORS_TRACESTATE_MAX_LINES + 1];
    for (size_t i = 0; i < COUNT(many); i++)
        many[i] = "";
    many[0] = "foo=1";
    char buf[512];
    assert_string_equal(ts_of(many, COUNT(many), buf, sizeof(buf)), "");
    assert_string_equal(ts_of(many, COUNT(many) - 1, buf, sizeof(buf)), "foo=1");

    /* More than 8192 bytes in all (whitespace padding, otherwise valid). */
    static char line[OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES + 16];
    memset(line, ' ', sizeof(line) - 1);
    memcpy(line, "foo=1,", 6);
    line[sizeof(line) - 1] = '\0';
    const char *big[] = { line };
    assert_string_equal(ts_of(big, 1, buf, sizeof(buf)), "");
    line[OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES] = '\0';
    assert_string_equal(ts_of(big, 1, buf, sizeof(buf)), "foo=1");
}

static void test_extract_keeps_what_the_context_already_holds(void **state)
{
    (void)state;
    static const otel_context_key key = { "test" };
    otel_context *base = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key, (void *)&key, NULL, &base), OTEL_OK);
    otel_header h[] = { H("traceparent", TP) };
    otel_header_list list = { h, 1 };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *c = otel_propagator_extract(&g_tc, base, &r);
    assert_true(ctx_valid(c));
    assert_ptr_equal(otel_context_get_value(c, &key), &key);
    /* Nothing found: a new reference to the same context. */
    otel_header none[] = { H("other", "x") };
    list = (otel_header_list){ none, 1 };
    otel_context *same = otel_propagator_extract(&g_tc, base, &r);
    assert_ptr_equal(same, base);
    otel_context_release(same);
    otel_context_release(c);
    otel_context_release(base);
}

static void test_inject_writes_version_00_and_tracestate(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), &ts),
                     OTEL_OK);
    otel_context *c = ctx_with(make_sc("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1), ts);
    test_out o;
    inject_into(&g_tc, c, &o);
    assert_int_equal(o.buf.count, 2);
    assert_true(out_is(&o, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert_true(out_is(&o, "tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    otel_context_release(c);
    otel_trace_state_release(ts);
}

static void test_inject_without_valid_context_writes_nothing(void **state)
{
    (void)state;
    test_out o;
    inject_into(&g_tc, NULL, &o); /* the current context: empty here */
    assert_int_equal(o.buf.count, 0);
    otel_context *c = ctx_with(make_sc(TID, "0000000000000000", 1), NULL);
    inject_into(&g_tc, c, &o);
    assert_int_equal(o.buf.count, 0);
    otel_context_release(c);
    c = ctx_with(make_sc("00000000000000000000000000000000", "00f067aa0ba902b7", 1), NULL);
    inject_into(&g_tc, c, &o);
    assert_int_equal(o.buf.count, 0);
    otel_context_release(c);
}

static void test_inject_truncates_long_tracestate_by_whole_members(void **state)
{
    (void)state;
    /* "aa=1", 30 members of 277 characters, "zz=1": 8349 bytes, over the 8192-byte limit. */
    static char text[9000];
    char value[257];
    memset(value, 'v', 256);
    value[256] = '\0';
    strcpy(text, "aa=1");
    for (int i = 0; i < 30; i++) {
        char member[300];
        snprintf(member, sizeof(member), ",k%02dxxxxxxxxxxxxxxxxx=%s", i, value);
        strcat(text, member);
    }
    strcat(text, ",zz=1");
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(otel_str_from_cstr(text), &ts), OTEL_OK);
    otel_context *c = ctx_with(make_sc(TID, "1234567890123456", 1), ts);
    test_out o;
    inject_into(&g_tc, c, &o);
    otel_str v = out_get(&o, "tracestate");
    assert_non_null(v.data);
    assert_true(v.len <= OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES);
    char *copy = strndup(v.data, v.len);
    /* Long members go first, from the right: k29 goes, the short right-most "zz" stays. */
    assert_memory_equal(copy, "aa=1,k00", 8);
    assert_null(strstr(copy, "k29"));
    assert_non_null(strstr(copy, "k28"));
    assert_non_null(strstr(copy, ",zz=1"));
    /* What remains is a valid list of whole members. */
    otel_trace_state *back = NULL;
    assert_int_equal(otel_trace_state_parse(v, &back), OTEL_OK);
    assert_int_equal(otel_trace_state_count(back), 31);
    otel_trace_state_release(back);
    free(copy);
    otel_context_release(c);
    otel_trace_state_release(ts);
}

static void test_round_trip_keeps_ids_flags_and_tracestate(void **state)
{
    (void)state;
    otel_header h[] = { H("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"),
                        H("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7") };
    otel_context *c1 = extract_list(&g_tc, h, 2);
    test_out o;
    inject_into(&g_tc, c1, &o);
    assert_true(out_is(&o, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"));
    otel_context *c2 = extract_out(&g_tc, &o);
    otel_span_context a = otel_context_get_span_context(c1);
    otel_span_context b = otel_context_get_span_context(c2);
    assert_memory_equal(a.trace_id, b.trace_id, 16);
    assert_memory_equal(a.span_id, b.span_id, 8);
    assert_int_equal(a.trace_flags, b.trace_flags);
    char x[256], y[256];
    assert_string_equal(ts_str(c1, x, sizeof(x)), ts_str(c2, y, sizeof(y)));
    otel_context_release(c1);
    otel_context_release(c2);
}

/* Pseudo-random ids and every flags byte: inject writes what a plain formatter writes (only the
 * known flags), and extracting it gives the same ids back. */
static void test_round_trip_of_random_ids_and_every_flags_byte(void **state)
{
    (void)state;
    uint32_t x = 7;
    for (unsigned flags = 0; flags < 256; flags++) {
        otel_span_context sc = { .trace_flags = (uint8_t)flags };
        for (size_t i = 0; i < 16; i++) {
            x = x * 1103515245u + 12345u;
            sc.trace_id[i] = (uint8_t)(x >> 16);
        }
        for (size_t i = 0; i < 8; i++) {
            x = x * 1103515245u + 12345u;
            sc.span_id[i] = (uint8_t)(x >> 16);
        }
        sc.trace_id[flags % 16] |= 1;
        sc.span_id[flags % 8] |= 1;
        char want[56];
        int pos = snprintf(want, sizeof(want), "00-");
        for (size_t i = 0; i < 16; i++)
            pos += snprintf(want + pos, sizeof(want) - (size_t)pos, "%02x", sc.trace_id[i]);
        pos += snprintf(want + pos, sizeof(want) - (size_t)pos, "-");
        for (size_t i = 0; i < 8; i++)
            pos += snprintf(want + pos, sizeof(want) - (size_t)pos, "%02x", sc.span_id[i]);
        snprintf(want + pos, sizeof(want) - (size_t)pos, "-%02x", flags & 3u);
        otel_context *c = NULL;
        assert_int_equal(otel_context_with_span_context(NULL, &sc, NULL, &c), OTEL_OK);
        test_out o;
        inject_into(&g_tc, c, &o);
        assert_true(out_is(&o, "traceparent", want));
        otel_context *back = extract_out(&g_tc, &o);
        otel_span_context b = otel_context_get_span_context(back);
        assert_memory_equal(b.trace_id, sc.trace_id, 16);
        assert_memory_equal(b.span_id, sc.span_id, 8);
        assert_int_equal(b.trace_flags, flags & 3u);
        assert_true(b.is_remote);
        otel_context_release(back);
        otel_context_release(c);
    }
}

static void test_fields_lists_both_headers(void **state)
{
    (void)state;
    otel_str names[4];
    assert_int_equal(g_tc.fields(g_tc.user_data, names, 4), 2);
    assert_true(otel_str_eq(names[0], OTEL_STR("traceparent")));
    assert_true(otel_str_eq(names[1], OTEL_STR("tracestate")));
    assert_int_equal(g_tc.fields(g_tc.user_data, NULL, 0), 2);
}

static void test_constructor_rejects_null_out(void **state)
{
    (void)state;
    assert_int_equal(otel_propagator_tracecontext(NULL), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_propagator_tracecontext_with_options(NULL, NULL), OTEL_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------------
 * Datadog interop
 * ------------------------------------------------------------------------------------------- */

static void inject_interop(const char *tracestate, uint8_t flags, test_out *o)
{
    otel_propagator p;
    otel_tracecontext_propagator_options opts = { .datadog_interop = true };
    assert_int_equal(otel_propagator_tracecontext_with_options(&opts, &p), OTEL_OK);
    otel_trace_state *ts = NULL;
    if (tracestate)
        assert_int_equal(otel_trace_state_parse(otel_str_from_cstr(tracestate), &ts), OTEL_OK);
    otel_context *c = ctx_with(make_sc(TID, "00f067aa0ba902b7", flags), ts);
    inject_into(&p, c, o);
    otel_context_release(c);
    otel_trace_state_release(ts);
    otel_propagator_destroy(&p);
}

static void test_interop_writes_dd_member_first(void **state)
{
    (void)state;
    test_out o;
    inject_interop(NULL, 1, &o);
    assert_true(out_is(&o, "tracestate", "dd=s:1;p:00f067aa0ba902b7"));
    inject_interop("rojo=1,congo=2", 0, &o);
    assert_true(out_is(&o, "tracestate", "dd=s:0;p:00f067aa0ba902b7,rojo=1,congo=2"));
}

static void test_interop_keeps_origin_tags_and_agreeing_priority(void **state)
{
    (void)state;
    test_out o;
    inject_interop("rojo=1,dd=s:2;p:0000000000000001;o:rum;t.dm:-4;x:y", 1, &o);
    assert_true(out_is(&o, "tracestate", "dd=s:2;p:00f067aa0ba902b7;o:rum;t.dm:-4;x:y,rojo=1"));
    /* The flag says not sampled: the user-keep priority no longer applies. */
    inject_interop("dd=s:2;o:rum", 0, &o);
    assert_true(out_is(&o, "tracestate", "dd=s:0;p:00f067aa0ba902b7;o:rum"));
    inject_interop("dd=s:-1", 0, &o);
    assert_true(out_is(&o, "tracestate", "dd=s:-1;p:00f067aa0ba902b7"));
}

static void test_interop_respects_32_member_limit(void **state)
{
    (void)state;
    char ts[1024] = "";
    for (int i = 0; i < 32; i++) {
        char m[16];
        snprintf(m, sizeof(m), "%sk%02d=1", i ? "," : "", i);
        strcat(ts, m);
    }
    test_out o;
    inject_interop(ts, 1, &o);
    otel_str v = out_get(&o, "tracestate");
    otel_trace_state *parsed = NULL;
    assert_int_equal(otel_trace_state_parse(v, &parsed), OTEL_OK);
    assert_int_equal(otel_trace_state_count(parsed), 32);
    assert_false(otel_trace_state_get(parsed, OTEL_STR("k31"), NULL));
    assert_true(otel_trace_state_get(parsed, OTEL_STR("k30"), NULL));
    otel_trace_state_release(parsed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_traceparent_gives_remote_sampled_context),
        cmocka_unit_test(test_each_id_digit_accepts_exactly_lowercase_hex),
        cmocka_unit_test(test_header_name_is_case_insensitive),
        cmocka_unit_test(test_wrong_header_names_are_ignored),
        cmocka_unit_test(test_two_traceparent_headers_are_invalid),
        cmocka_unit_test(test_version_00_must_end_after_flags),
        cmocka_unit_test(test_higher_version_accepts_trailing_dash_fields),
        cmocka_unit_test(test_higher_version_keeps_only_known_fields),
        cmocka_unit_test(test_version_ff_is_invalid),
        cmocka_unit_test(test_bad_version_field_is_invalid),
        cmocka_unit_test(test_bad_trace_id_is_invalid),
        cmocka_unit_test(test_bad_parent_id_is_invalid),
        cmocka_unit_test(test_bad_flags_are_invalid),
        cmocka_unit_test(test_wrong_delimiters_are_invalid),
        cmocka_unit_test(test_traceparent_ows_is_ignored),
        cmocka_unit_test(test_random_flag_is_carried_and_unknown_flags_zeroed),
        cmocka_unit_test(test_oversized_traceparent_is_ignored),
        cmocka_unit_test(test_tracestate_without_traceparent_is_ignored),
        cmocka_unit_test(test_tracestate_is_inherited),
        cmocka_unit_test(test_tracestate_wrong_names_are_ignored),
        cmocka_unit_test(test_empty_tracestate_lines_are_accepted),
        cmocka_unit_test(test_tracestate_lines_are_joined_in_order),
        cmocka_unit_test(test_tracestate_all_allowed_characters),
        cmocka_unit_test(test_tracestate_ows_is_ignored),
        cmocka_unit_test(test_invalid_tracestate_member_discards_tracestate_only),
        cmocka_unit_test(test_tracestate_duplicates_and_level2_keys),
        cmocka_unit_test(test_tracestate_member_count_limit),
        cmocka_unit_test(test_tracestate_key_length_limit),
        cmocka_unit_test(test_oversized_or_too_many_tracestate_lines_are_ignored),
        cmocka_unit_test(test_extract_keeps_what_the_context_already_holds),
        cmocka_unit_test(test_inject_writes_version_00_and_tracestate),
        cmocka_unit_test(test_inject_without_valid_context_writes_nothing),
        cmocka_unit_test(test_inject_truncates_long_tracestate_by_whole_members),
        cmocka_unit_test(test_round_trip_keeps_ids_flags_and_tracestate),
        cmocka_unit_test(test_round_trip_of_random_ids_and_every_flags_byte),
        cmocka_unit_test(test_fields_lists_both_headers),
        cmocka_unit_test(test_constructor_rejects_null_out),
        cmocka_unit_test(test_interop_writes_dd_member_first),
        cmocka_unit_test(test_interop_keeps_origin_tags_and_agreeing_priority),
        cmocka_unit_test(test_interop_respects_32_member_limit),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
