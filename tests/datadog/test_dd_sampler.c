/* The Datadog-compatible sampler: glob patterns (the Datadog reference table), rule parsing and
 * its diagnostics, rule precedence, tag matching, the Knuth decision, the rate limiter driven by a
 * fake clock, agent rates, parent-based children, and the sampler inside a real tracer
 * provider. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dd_rates.h"
#include "dd_sampler.h"
#include "failalloc.h"
#include "log_capture.h"
#include "otel/exporters/datadog.h"
#include "otel/exporters/memory.h"

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */

struct fake_clock {
    int64_t now;
};

static int64_t fake_now(void *user_data)
{
    return ((struct fake_clock *)user_data)->now;
}

static void set_trace_id_low(uint8_t id[16], uint64_t low)
{
    memset(id, 0, 16);
    id[0] = 0xab; /* the high half plays no part */
    for (int i = 0; i < 8; i++)
        id[8 + i] = (uint8_t)(low >> (56 - 8 * i));
}

/* A root span's sampling parameters. */
struct root {
    otel_parent parent;
    uint8_t trace_id[16];
    otel_sampling_params params;
};

static void root_init(struct root *r, uint64_t low, const char *name, otel_span_kind kind,
                      const otel_attr *attrs, size_t n)
{
    memset(r, 0, sizeof(*r));
    set_trace_id_low(r->trace_id, low);
    r->params.parent = &r->parent;
    r->params.trace_id = r->trace_id;
    r->params.name = otel_str_from_cstr(name);
    r->params.kind = kind;
    r->params.attrs = attrs;
    r->params.attr_count = n;
}

static void expect_state(const otel_sampling_result *res, const char *want)
{
    assert_true(res->set_trace_state);
    char buf[128];
    otel_trace_state_serialize(res->trace_state, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static double attr_double(const otel_sampling_result *res, const char *key)
{
    for (size_t i = 0; i < res->attr_count; i++)
        if (otel_str_eq(res->attrs[i].key, otel_str_from_cstr(key)))
            return res->attrs[i].value.as.d;
    fail_msg("sampler attribute %s missing", key);
    return -1;
}

static bool has_attr(const otel_sampling_result *res, const char *key)
{
    for (size_t i = 0; i < res->attr_count; i++)
        if (otel_str_eq(res->attrs[i].key, otel_str_from_cstr(key)))
            return true;
    return false;
}

static void result_release(otel_sampling_result *res)
{
    if (res->set_trace_state)
        otel_trace_state_release(res->trace_state);
}

/* ---------------------------------------------------------------------------------------------
 * Globs
 * ------------------------------------------------------------------------------------------- */

static void test_glob_matches_the_datadog_reference_table(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *subject;
        bool match;
    } cases[] = {
        /* From Datadog's reference implementation (tag-matching-sampling-rules glob.mjs). */
        { "foo", "foo", true },
        { "foo.*", "foo.you", true },
        { "foo.*", "snafoo.", false },
        { "hi*there", "hithere", true },
        { "*stuff", "lots of stuff", true },
        { "*stuff", "stuff to think about", false },
        { "*a*a*a*a*a*a", "aaaaaaaaaaaaaaaaaaaaaaaaaax", false },
        { "*a*a*a*a*a*a", "aaaaaaaarrrrrrraaaraaarararaarararaarararaaa", true },
        { "aok*", "aok**", true },
        { "mysql??", "mysql01", true },
        { "mysql??", "mysql1x", true },
        { "n?-ingress-*", "ny-ingress-backup", true },
        { "n?-ingress-*", "nj-ingress-leader", true },
        { "n?-ingress-*", "nj-ingress", false },
        { "", "", true },
        { "", "a", false },
        { "*", "", true },
        { "?", "", false },
        /* Case does not matter, in either the pattern or the subject. */
        { "true", "TRUE", true },
        { "true", "True", true },
        { "True", "tRue", true },
        { "WEB-*", "web-api", true },
        { "web-?PI", "Web-Api", true },
        /* More. */
        { "**", "anything", true },
        { "a*b*c", "abc", true },
        { "a*b*c", "axxbyyc", true },
        { "a*b*c", "axxbyy", false },
        { "?", "ab", false },
        { "*.*", "no-dot", false },
        { "*-*-*", "a-b-c", true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = otel__dd_glob_match_str(otel_str_from_cstr(cases[i].pattern),
                                           otel_str_from_cstr(cases[i].subject));
        if (got != cases[i].match)
            fail_msg("glob \"%s\" vs \"%s\": got %d, want %d", cases[i].pattern, cases[i].subject, got,
                     cases[i].match);
    }
}

/* A plain recursive matcher, the definition the compiled globs must agree with. */
static int naive_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool naive_match(const char *p, size_t pn, const char *s, size_t sn)
{
    if (pn == 0)
        return sn == 0;
    if (p[0] == '*')
        return naive_match(p + 1, pn - 1, s, sn) || (sn > 0 && naive_match(p, pn, s + 1, sn - 1));
    if (sn == 0)
        return false;
    if (p[0] != '?' && naive_lower((unsigned char)p[0]) != naive_lower((unsigned char)s[0]))
        return false;
    return naive_match(p + 1, pn - 1, s + 1, sn - 1);
}

/* Random patterns and subjects over an alphabet that straddles the case boundaries ('@', 'A',
 * 'Z', '[', '`', 'a', 'z', '{', a byte >= 0x80), long enough for the 8-byte compares. */
static void test_glob_agrees_with_a_naive_matcher(void **state)
{
    (void)state;
    static const char alpha[] = "@AZ[`az{\xc3"
                                "bB";
    uint64_t x = UINT64_C(0x2545f4914f6cdd1d);
    char pat[40], sub[40];
    for (int round = 0; round < 200000; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t pn = (size_t)(x % 24), sn = (size_t)((x >> 8) % 30);
        for (size_t i = 0; i < pn; i++) {
            uint64_t r = (x >> (i % 50)) ^ (uint64_t)i * 0x9e3779b97f4a7c15;
            unsigned k = (unsigned)(r % 16);
            pat[i] = k < 12 ? alpha[k % (sizeof(alpha) - 1)] : k < 14 ? '?' : '*';
        }
        /* Subjects often built from the pattern so that matches happen. */
        bool from_pattern = (x >> 40) & 1;
        for (size_t i = 0; i < sn; i++) {
            uint64_t r = (x >> (i % 40)) ^ (uint64_t)i * 0xbf58476d1ce4e5b9;
            char c = alpha[r % (sizeof(alpha) - 1)];
            if (from_pattern && i < pn && pat[i] != '*' && pat[i] != '?')
                c = (r >> 7) & 1 && pat[i] >= 'a' && pat[i] <= 'z' ? (char)(pat[i] - 32) : pat[i];
            sub[i] = c;
        }
        bool want = naive_match(pat, pn, sub, sn);
        bool got = otel__dd_glob_match_str((otel_str){ pat, pn }, (otel_str){ sub, sn });
        if (want != got)
            fail_msg("pattern \"%.*s\" subject \"%.*s\": want %d got %d", (int)pn, pat, (int)sn, sub, want,
                     got);
    }
}

static void test_glob_pathological_pattern_is_linear(void **state)
{
    (void)state;
    static char subject[20001];
    memset(subject, 'a', sizeof(subject) - 1);
    subject[sizeof(subject) - 2] = 'b';
    /* Exponential backtracking would never finish. */
    assert_false(
        otel__dd_glob_match_str(OTEL_STR("*a*a*a*a*a*a*a*a*a*a*a*a*a*c"), otel_str_from_cstr(subject)));
}

/* ---------------------------------------------------------------------------------------------
 * Rules: parsing and diagnostics
 * ------------------------------------------------------------------------------------------- */

static void test_rules_parse_valid_rules(void **state)
{
    (void)state;
    struct otel__dd_rule *rules;
    size_t n;
    assert_int_equal(otel__dd_rules_parse(OTEL_STR("[{\"service\":\"web\",\"name\":\"http.*\","
                                                   "\"resource\":\"GET /\",\"tags\":{\"k\":\"v\"},"
                                                   "\"sample_rate\":0.25,\"provenance\":\"customer\"},"
                                                   " {\"sample_rate\": 1}, {}]"),
                                          "TEST", &rules, &n),
                     OTEL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rules[0].service.kind, OTEL__DD_GLOB_LITERAL);
    assert_int_equal(rules[0].name.kind, OTEL__DD_GLOB_PATTERN);
    assert_int_equal(rules[0].tag_count, 1);
    assert_true(rules[0].rate == 0.25);
    assert_false(rules[0].keep_all);
    assert_true(rules[1].keep_all);
    assert_int_equal(rules[2].service.kind, OTEL__DD_GLOB_ANY);
    assert_true(rules[2].rate == 1.0); /* sample_rate defaults to 1 */
    otel__dd_rules_free(rules, n);
    assert_int_equal(log_capture_count(), 0);
}

static void test_unparsable_rules_json_drops_all_rules_with_one_diagnostic(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[{\"service\":\"web\",\"sample_rate\":0.5}", /* unterminated */
        "[{\"service\":\"web\",},]",                  /* trailing commas */
        "{\"service\":\"web\"}",                      /* not an array */
        "nonsense",
        "[{\"sample_rate\": 0.5}] trailing",
        "[\"\\u12\"]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        log_capture_reset();
        struct otel__dd_rule *rules = (struct otel__dd_rule *)1;
        size_t n = 99;
        assert_int_equal(
            otel__dd_rules_parse(otel_str_from_cstr(bad[i]), "DD_TRACE_SAMPLING_RULES", &rules, &n), OTEL_OK);
        assert_int_equal(n, 0);
        assert_null(rules);
        assert_int_equal(log_capture_count(), 1);
        assert_non_null(strstr(logged_last, "DD_TRACE_SAMPLING_RULES"));
        assert_non_null(strstr(logged_last, "ignoring all sampling rules"));
    }
}

static void test_bad_rule_is_skipped_with_one_diagnostic_and_others_kept(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        const char *why;
    } bad[] = {
        { "42", "must be a JSON object" },
        { "{\"sample_rate\": 1.5}", "between 0 and 1" },
        { "{\"sample_rate\": -0.1}", "between 0 and 1" },
        { "{\"sample_rate\": \"0.5\"}", "must be a number" },
        { "{\"service\": 5}", "\"service\" must be a string" },
        { "{\"name\": [\"a\"]}", "\"name\" must be a string" },
        { "{\"resource\": true}", "\"resource\" must be a string" },
        { "{\"tags\": [\"a\"]}", "\"tags\" must be an object" },
        { "{\"tags\": {\"k\": 1}}", "every value in \"tags\" must be a string" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[256];
        snprintf(json, sizeof(json), "[{\"service\":\"a\"}, %s, {\"service\":\"b\"}]", bad[i].rule);
        log_capture_reset();
        struct otel__dd_rule *rules;
        size_t n;
        assert_int_equal(
            otel__dd_rules_parse(otel_str_from_cstr(json), "DD_TRACE_SAMPLING_RULES", &rules, &n), OTEL_OK);
        assert_int_equal(n, 2);
        assert_true(otel__dd_glob_match(&rules[0].service, OTEL_STR("a")));
        assert_true(otel__dd_glob_match(&rules[1].service, OTEL_STR("b")));
        assert_int_equal(log_capture_count(), 1);
        if (!strstr(logged_last, bad[i].why) || !strstr(logged_last, "rule 1"))
            fail_msg("diagnostic for %s: %s", bad[i].rule, logged_last);
        otel__dd_rules_free(rules, n);
    }
}

static void test_empty_rules_text_means_no_rules_silently(void **state)
{
    (void)state;
    struct otel__dd_rule *rules;
    size_t n;
    assert_int_equal(otel__dd_rules_parse(OTEL_STR("  "), NULL, &rules, &n), OTEL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(otel__dd_rules_parse(OTEL_STR("[]"), NULL, &rules, &n), OTEL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(log_capture_count(), 0);
}

static int rules_parse_scenario(void *arg)
{
    (void)arg;
    struct otel__dd_rule *rules;
    size_t n;
    otel_status st = otel__dd_rules_parse(
        OTEL_STR(
            "[{\"service\":\"web*\",\"name\":\"n\",\"resource\":\"r?\",\"tags\":{\"a\":\"b\",\"c\":\"d*\"},"
            "\"sample_rate\":0.5},{\"sample_rate\":0.1}]"),
        NULL, &rules, &n);
    if (st == OTEL_OK)
        otel__dd_rules_free(rules, n);
    return (int)st;
}

static void test_rules_parse_survives_every_allocation_failure(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(rules_parse_scenario, NULL);
    assert_true(r.allocations > 0);
    assert_int_equal(r.clean_status, 0);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Rules: matching
 * ------------------------------------------------------------------------------------------- */

static long match(const struct otel__dd_rule *rules, size_t n, const char *service, const char *name,
                  otel_span_kind kind, const otel_attr *attrs, size_t nattrs)
{
    struct root r;
    root_init(&r, 1, name, kind, attrs, nattrs);
    struct otel__dd_attr_index ix;
    otel__dd_index_attrs(attrs, nattrs, &ix);
    struct otel__dd_span_props p = { .service = otel_str_from_cstr(service), .params = &r.params, .ix = &ix };
    return otel__dd_rules_match(rules, n, &p);
}

static void test_first_matching_rule_wins(void **state)
{
    (void)state;
    struct otel__dd_rule *rules;
    size_t n;
    assert_int_equal(
        otel__dd_rules_parse(OTEL_STR("[{\"service\":\"web\",\"name\":\"internal\",\"sample_rate\":0},"
                                      " {\"service\":\"web\",\"sample_rate\":1},"
                                      " {\"service\":\"web*\",\"sample_rate\":0.5},"
                                      " {\"sample_rate\":0.1}]"),
                             NULL, &rules, &n),
        OTEL_OK);
    assert_int_equal(match(rules, n, "web", "health", OTEL_SPAN_KIND_INTERNAL, NULL, 0), 0);
    assert_int_equal(match(rules, n, "WEB", "x", OTEL_SPAN_KIND_SERVER, NULL, 0), 1);
    assert_int_equal(match(rules, n, "web-api", "x", OTEL_SPAN_KIND_SERVER, NULL, 0), 2);
    assert_int_equal(match(rules, n, "db", "x", OTEL_SPAN_KIND_SERVER, NULL, 0), 3);
    otel__dd_rules_free(rules, n);
}

static void test_rule_name_and_resource_use_the_datadog_mapping(void **state)
{
    (void)state;
    struct otel__dd_rule *rules;
    size_t n;
    assert_int_equal(
        otel__dd_rules_parse(OTEL_STR("[{\"name\":\"http.server.request\",\"resource\":\"GET /users/*\"},"
                                      " {\"name\":\"postgresql.query\"},"
                                      " {\"resource\":\"my span\"}]"),
                             NULL, &rules, &n),
        OTEL_OK);
    otel_attr http[] = { OTEL_ATTR_STR_LIT("http.request.method", "GET"),
                         OTEL_ATTR_STR_LIT("http.route", "/users/:id") };
    otel_attr http_post[] = { OTEL_ATTR_STR_LIT("http.request.method", "POST"),
                              OTEL_ATTR_STR_LIT("http.route", "/users/:id") };
    otel_attr db[] = { OTEL_ATTR_STR_LIT("db.system", "postgresql") };
    assert_int_equal(match(rules, n, "s", "GET /users/{id}", OTEL_SPAN_KIND_SERVER, http, 2), 0);
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, http_post, 2), -1);
    /* A client HTTP span is http.client.request: no rule. */
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_CLIENT, http, 2), -1);
    assert_int_equal(match(rules, n, "s", "q", OTEL_SPAN_KIND_CLIENT, db, 1), 1);
    /* Without semantic attributes the resource is the span name. */
    assert_int_equal(match(rules, n, "s", "My Span", OTEL_SPAN_KIND_INTERNAL, NULL, 0), 2);
    otel__dd_rules_free(rules, n);
}

static void test_rule_tags_match_start_attributes(void **state)
{
    (void)state;
    struct otel__dd_rule *rules;
    size_t n;
    assert_int_equal(
        otel__dd_rules_parse(
            OTEL_STR("[{\"tags\":{\"tier\":\"gold*\",\"http.method\":\"get\"},\"sample_rate\":1},"
                     " {\"tags\":{\"http.status_code\":\"20?\"}},"
                     " {\"tags\":{\"ratio\":\"*\"}},"
                     " {\"tags\":{\"ratio\":\"1.5\"}},"
                     " {\"tags\":{\"flag\":\"TRUE\"}},"
                     " {\"tags\":{\"count\":\"42\"}}]"),
            NULL, &rules, &n),
        OTEL_OK);
    otel_attr gold[] = { OTEL_ATTR_STR_LIT("tier", "GOLDEN"),
                         OTEL_ATTR_STR_LIT("http.request.method", "GET") };
    otel_attr gold_post[] = { OTEL_ATTR_STR_LIT("tier", "gold"),
                              OTEL_ATTR_STR_LIT("http.request.method", "POST") };
    otel_attr gold_only[] = { OTEL_ATTR_STR_LIT("tier", "gold") };
    otel_attr status[] = { OTEL_ATTR_INT("http.response.status_code", 204) };
    otel_attr status_404[] = { OTEL_ATTR_INT("http.status_code", 404) };
    otel_attr ratio[] = { OTEL_ATTR_DOUBLE("ratio", 1.5) };
    otel_attr flag[] = { OTEL_ATTR_BOOL("flag", true) };
    otel_attr count[] = { OTEL_ATTR_DOUBLE("count", 42.0) };
    /* OpenTelemetry's http.request.method stands for Datadog's http.method. */
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, gold, 2), 0);
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, gold_post, 2), -1);
    /* A tag the span lacks never matches. */
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, gold_only, 1), -1);
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, status, 1), 1);
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, status_404, 1), -1);
    /* A non-integral number only matches "*". */
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, ratio, 1), 2);
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, flag, 1), 4);
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, count, 1), 5);
    assert_int_equal(match(rules, n, "s", "x", OTEL_SPAN_KIND_SERVER, NULL, 0), -1);
    otel__dd_rules_free(rules, n);
}

/* ---------------------------------------------------------------------------------------------
 * Knuth sampling
 * ------------------------------------------------------------------------------------------- */

static uint64_t inverse_mod_2_64(uint64_t a)
{
    uint64_t x = a; /* Newton's iteration: each step doubles the correct low bits */
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}

static void test_knuth_decision_matches_the_reference_formula(void **state)
{
    (void)state;
    bool all;
    assert_int_equal(otel__dd_rate_threshold(0.0, &all), 0);
    assert_false(all);
    assert_int_equal(otel__dd_rate_threshold(0.5, &all), UINT64_C(1) << 63);
    assert_int_equal(otel__dd_rate_threshold(0.25, &all), UINT64_C(1) << 62);
    otel__dd_rate_threshold(1.0, &all);
    assert_true(all);

    /* The trace ids whose hash is exactly 2^63 - 1 and 2^63: rate 0.5 keeps the first only. */
    uint64_t inv = inverse_mod_2_64(OTEL__DD_KNUTH_FACTOR);
    assert_int_equal(inv * OTEL__DD_KNUTH_FACTOR, 1);
    uint64_t below = ((UINT64_C(1) << 63) - 1) * inv, at = (UINT64_C(1) << 63) * inv;
    uint64_t t = otel__dd_rate_threshold(0.5, &all);
    assert_true(otel__dd_knuth_keep(below, t, all));
    assert_false(otel__dd_knuth_keep(at, t, all));
    /* The id hashing to 2^64 - 1 is kept at rate 1 and dropped just below. */
    uint64_t top = UINT64_MAX * inv;
    t = otel__dd_rate_threshold(1.0, &all);
    assert_true(otel__dd_knuth_keep(top, t, all));
    t = otel__dd_rate_threshold(0.999999, &all);
    assert_false(otel__dd_knuth_keep(top, t, all));
    /* Known values of the hash (computed with Python: (id * 1111111111111111111) % 2**64). */
    assert_int_equal((uint64_t)1 * OTEL__DD_KNUTH_FACTOR, UINT64_C(1111111111111111111));
    assert_int_equal(UINT64_C(12345678901234567890) * OTEL__DD_KNUTH_FACTOR, UINT64_C(1908804064858086206));
}

static void test_knuth_keeps_the_requested_share_of_sequential_ids(void **state)
{
    (void)state;
    bool all;
    uint64_t t = otel__dd_rate_threshold(0.3, &all);
    size_t kept = 0;
    for (uint64_t id = 1; id <= 100000; id++)
        kept += otel__dd_knuth_keep(id, t, all);
    assert_in_range(kept, 29000, 31000);
}

/* ---------------------------------------------------------------------------------------------
 * Rate limiter
 * ------------------------------------------------------------------------------------------- */

static void test_limiter_allows_a_full_bucket_then_refills_at_the_rate(void **state)
{
    (void)state;
    struct fake_clock clk = { .now = INT64_C(1000) * 1000000000 };
    struct otel__dd_limiter l;
    otel__dd_limiter_init(&l, 100);
    otel__dd_limiter_set_clock(&l, fake_now, &clk);
    for (int i = 0; i < 100; i++)
        assert_true(otel__dd_limiter_allow(&l));
    assert_false(otel__dd_limiter_allow(&l));
    clk.now += 9999999; /* just under one token */
    assert_false(otel__dd_limiter_allow(&l));
    clk.now += 1;
    assert_true(otel__dd_limiter_allow(&l));
    assert_false(otel__dd_limiter_allow(&l));
    /* A long pause refills only up to the burst. */
    clk.now += INT64_C(60) * 1000000000;
    int allowed = 0;
    for (int i = 0; i < 500; i++)
        allowed += otel__dd_limiter_allow(&l);
    assert_int_equal(allowed, 100);
}

static void test_limiter_accuracy_over_ten_seconds_of_overload(void **state)
{
    (void)state;
    struct fake_clock clk = { .now = INT64_C(5000) * 1000000000 };
    struct otel__dd_limiter l;
    otel__dd_limiter_init(&l, 100);
    otel__dd_limiter_set_clock(&l, fake_now, &clk);
    /* 1000 requests per second for 10 s: the full bucket, then 100 per second. */
    int allowed = 0;
    for (int i = 0; i < 10000; i++) {
        allowed += otel__dd_limiter_allow(&l);
        clk.now += 1000000;
    }
    assert_in_range(allowed, 1099, 1101);
    /* Over the last seconds one decision in ten was allowed. */
    double eff = otel__dd_limiter_effective_rate(&l);
    assert_true(eff > 0.09 && eff < 0.11);
    /* 50 requests per second (under the limit): everything passes. */
    allowed = 0;
    clk.now += INT64_C(2) * 1000000000;
    for (int i = 0; i < 500; i++) {
        allowed += otel__dd_limiter_allow(&l);
        clk.now += 20000000;
    }
    assert_int_equal(allowed, 500);
    assert_true(otel__dd_limiter_effective_rate(&l) == 1.0);
}

/* A high limit: the thread takes tokens in blocks (64 here) and spends them without the clock;
 * what is allowed still follows the bucket, short of at most one unspent block. */
static void test_limiter_blocks_keep_the_rate_at_high_limits(void **state)
{
    (void)state;
    struct fake_clock clk = { .now = INT64_C(9000) * 1000000000 };
    struct otel__dd_limiter l;
    otel__dd_limiter_init(&l, 20000);
    otel__dd_limiter_set_clock(&l, fake_now, &clk);
    assert_int_equal(l.block, 64);
    /* 100000 requests per second for 3 s: the full bucket, then 20000 per second. */
    int allowed = 0;
    for (int i = 0; i < 300000; i++) {
        allowed += otel__dd_limiter_allow(&l);
        clk.now += 10000;
    }
    assert_in_range(allowed, 80000 - 64, 80001);
    /* The last two seconds allowed one in five. */
    double eff = otel__dd_limiter_effective_rate(&l);
    assert_true(eff > 0.199 && eff < 0.201);
    /* Under the limit everything passes, and the blocks are spent. */
    clk.now += INT64_C(2) * 1000000000;
    allowed = 0;
    for (int i = 0; i < 10000; i++) {
        allowed += otel__dd_limiter_allow(&l);
        clk.now += 100000;
    }
    assert_int_equal(allowed, 10000);
}

static void test_limiter_fractional_zero_and_negative_limits(void **state)
{
    (void)state;
    struct fake_clock clk = { .now = INT64_C(1) << 40 };
    struct otel__dd_limiter l;
    otel__dd_limiter_init(&l, 0.5); /* one every two seconds, burst 1 */
    otel__dd_limiter_set_clock(&l, fake_now, &clk);
    assert_true(otel__dd_limiter_allow(&l));
    assert_false(otel__dd_limiter_allow(&l));
    clk.now += INT64_C(1999999999);
    assert_false(otel__dd_limiter_allow(&l));
    clk.now += 1;
    assert_true(otel__dd_limiter_allow(&l));

    otel__dd_limiter_init(&l, 0);
    otel__dd_limiter_set_clock(&l, fake_now, &clk);
    for (int i = 0; i < 10; i++)
        assert_false(otel__dd_limiter_allow(&l));
    assert_true(otel__dd_limiter_effective_rate(&l) == 0.0);

    otel__dd_limiter_init(&l, -1);
    for (int i = 0; i < 1000; i++)
        assert_true(otel__dd_limiter_allow(&l));
    assert_true(otel__dd_limiter_effective_rate(&l) == 1.0);
}

struct limiter_thread_arg {
    struct otel__dd_limiter *l;
    int allowed;
};

static void *limiter_thread(void *p)
{
    struct limiter_thread_arg *a = p;
    for (int i = 0; i < 20000; i++)
        a->allowed += otel__dd_limiter_allow(a->l);
    return NULL;
}

static void test_limiter_never_exceeds_the_bucket_across_threads(void **state)
{
    (void)state;
    struct fake_clock clk = { .now = INT64_C(77) * 1000000000 };
    struct otel__dd_limiter l;
    otel__dd_limiter_init(&l, 1000);
    otel__dd_limiter_set_clock(&l, fake_now, &clk); /* time stands still: only the burst */
    pthread_t th[4];
    struct limiter_thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct limiter_thread_arg){ &l, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, limiter_thread, &args[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += args[i].allowed;
    }
    assert_int_equal(total, 1000);
}

/* ---------------------------------------------------------------------------------------------
 * The sampler
 * ------------------------------------------------------------------------------------------- */

static uint64_t kept_id(double rate, bool want_keep)
{
    bool all;
    uint64_t t = otel__dd_rate_threshold(rate, &all);
    for (uint64_t id = 1;; id++)
        if (otel__dd_knuth_keep(id, t, all) == want_keep)
            return id;
}

static void test_sampler_rule_decisions_are_user_keep_and_user_drop(void **state)
{
    (void)state;
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    otel_datadog_sampler_options o = {
        .rules_json = "[{\"service\":\"web\",\"sample_rate\":0.5}]",
        .service = "web",
        .rates = rates,
    };
    otel_sampler s;
    assert_int_equal(otel_datadog_sampler_create(&o, &s), OTEL_OK);
    assert_string_equal(s.description(s.user_data), "DatadogSampler{rules=1,rate_limit=100}");
    struct root r;
    root_init(&r, kept_id(0.5, true), "op", OTEL_SPAN_KIND_SERVER, NULL, 0);
    otel_sampling_result res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_RECORD_AND_SAMPLE);
    expect_state(&res, "dd=s:2;t.dm:-3");
    assert_true(attr_double(&res, "_dd.rule_psr") == 0.5);
    assert_true(attr_double(&res, "_dd.limit_psr") == 1.0);
    assert_false(has_attr(&res, "_dd.agent_psr"));
    result_release(&res);

    root_init(&r, kept_id(0.5, false), "op", OTEL_SPAN_KIND_SERVER, NULL, 0);
    res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_DROP);
    expect_state(&res, "dd=s:-1;t.dm:-3");
    result_release(&res);
    uint64_t traces, spans;
    otel__dd_rates_take_drops(rates, &traces, &spans);
    assert_int_equal(traces, 1);
    assert_int_equal(spans, 1);
    otel_sampler_destroy(&s);
    otel_datadog_rates_release(rates);
}

static void test_sampler_rate_limiter_drops_rule_keeps_over_the_limit(void **state)
{
    (void)state;
    otel_datadog_sampler_options o = {
        .has_sample_rate = true,
        .sample_rate = 1.0,
        .has_rate_limit = true,
        .rate_limit = 2,
        .rates = NULL, /* the shared object */
    };
    otel_sampler s;
    assert_int_equal(otel_datadog_sampler_create(&o, &s), OTEL_OK);
    struct otel__dd_sampler *ds = otel__dd_sampler_of(&s);
    assert_non_null(ds);
    struct fake_clock clk = { .now = INT64_C(3) * 1000000000 };
    otel__dd_sampler_set_clock(ds, fake_now, &clk);
    struct root r;
    int kept = 0;
    for (uint64_t i = 1; i <= 4; i++) {
        root_init(&r, i, "op", OTEL_SPAN_KIND_INTERNAL, NULL, 0);
        otel_sampling_result res = s.should_sample(s.user_data, &r.params);
        if (res.decision == OTEL_SAMPLING_RECORD_AND_SAMPLE) {
            kept++;
            expect_state(&res, "dd=s:2;t.dm:-3");
        } else {
            expect_state(&res, "dd=s:-1;t.dm:-3");
        }
        result_release(&res);
    }
    assert_int_equal(kept, 2);
    otel_sampler_destroy(&s);
}

static void test_sampler_uses_agent_rates_when_no_rule_matches(void **state)
{
    (void)state;
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    otel_datadog_sampler_options o = {
        .rules_json = "[{\"service\":\"other\",\"sample_rate\":1}]",
        .service = "checkout",
        .env = "prod",
        .rates = rates,
    };
    otel_sampler s;
    assert_int_equal(otel_datadog_sampler_create(&o, &s), OTEL_OK);

    /* No agent answer yet: keep, mechanism "default". */
    struct root r;
    root_init(&r, 12345, "op", OTEL_SPAN_KIND_SERVER, NULL, 0);
    otel_sampling_result res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_RECORD_AND_SAMPLE);
    expect_state(&res, "dd=s:1;t.dm:-0");
    assert_int_equal(res.attr_count, 0);
    result_release(&res);

    assert_int_equal(otel_datadog_rates_update_json(
                         rates, OTEL_STR("{\"rate_by_service\":{\"service:checkout,env:prod\":0,"
                                         "\"service:,env:\":0.5}}")),
                     OTEL_OK);
    res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_DROP);
    expect_state(&res, "dd=s:0;t.dm:-1");
    result_release(&res);

    /* Another service (a start attribute) falls back to the default key. */
    otel_attr svc[] = { OTEL_ATTR_STR_LIT("service.name", "cart") };
    root_init(&r, kept_id(0.5, true), "op", OTEL_SPAN_KIND_SERVER, svc, 1);
    res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_RECORD_AND_SAMPLE);
    expect_state(&res, "dd=s:1;t.dm:-1");
    assert_true(attr_double(&res, "_dd.agent_psr") == 0.5);
    result_release(&res);
    root_init(&r, kept_id(0.5, false), "op", OTEL_SPAN_KIND_SERVER, svc, 1);
    res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_DROP);
    expect_state(&res, "dd=s:0;t.dm:-1");
    result_release(&res);

    /* A later answer replaces the table (and the sampler's cache). */
    assert_int_equal(otel_datadog_rates_update_json(
                         rates, OTEL_STR("{\"rate_by_service\":{\"service:checkout,env:prod\":1}}")),
                     OTEL_OK);
    root_init(&r, 12345, "op", OTEL_SPAN_KIND_SERVER, NULL, 0);
    res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_RECORD_AND_SAMPLE);
    expect_state(&res, "dd=s:1;t.dm:-1");
    result_release(&res);

    /* A rule still wins over agent rates. */
    otel_attr other[] = { OTEL_ATTR_STR_LIT("service.name", "other") };
    root_init(&r, 12345, "op", OTEL_SPAN_KIND_SERVER, other, 1);
    res = s.should_sample(s.user_data, &r.params);
    expect_state(&res, "dd=s:2;t.dm:-3");
    result_release(&res);
    otel_sampler_destroy(&s);
    otel_datadog_rates_release(rates);
}

static void test_children_follow_the_parent_sampled_flag(void **state)
{
    (void)state;
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    otel_datadog_sampler_options o = { .has_sample_rate = true, .sample_rate = 0, .rates = rates };
    otel_sampler s;
    assert_int_equal(otel_datadog_sampler_create(&o, &s), OTEL_OK);
    struct root r;
    root_init(&r, 1, "child", OTEL_SPAN_KIND_INTERNAL, NULL, 0);
    memset(r.parent.span_context.trace_id, 7, 16);
    memset(r.parent.span_context.span_id, 9, 8);
    r.parent.span_context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    for (int remote = 0; remote <= 1; remote++) {
        r.parent.span_context.is_remote = remote;
        r.parent.span_context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
        otel_sampling_result res = s.should_sample(s.user_data, &r.params);
        /* A rate-0 rule would drop a root; the sampled parent wins. */
        assert_int_equal(res.decision, OTEL_SAMPLING_RECORD_AND_SAMPLE);
        assert_false(res.set_trace_state);
        r.parent.span_context.trace_flags = 0;
        res = s.should_sample(s.user_data, &r.params);
        assert_int_equal(res.decision, OTEL_SAMPLING_DROP);
        assert_false(res.set_trace_state);
    }
    uint64_t traces, spans;
    otel__dd_rates_take_drops(rates, &traces, &spans);
    assert_int_equal(traces, 0);
    assert_int_equal(spans, 2);
    otel_sampler_destroy(&s);
    otel_datadog_rates_release(rates);
}

static void test_sampler_create_rejects_bad_options_and_reports_bad_rules(void **state)
{
    (void)state;
    otel_sampler s;
    assert_int_equal(otel_datadog_sampler_create(NULL, NULL), OTEL_ERR_INVALID_ARG);
    otel_datadog_sampler_options o = { .has_sample_rate = true, .sample_rate = 1.5 };
    assert_int_equal(otel_datadog_sampler_create(&o, &s), OTEL_ERR_INVALID_ARG);
    o.sample_rate = 0.0 / 0.0;
    assert_int_equal(otel_datadog_sampler_create(&o, &s), OTEL_ERR_INVALID_ARG);
    /* Broken rules: the sampler is still made, with a diagnostic. */
    log_capture_reset();
    otel_datadog_sampler_options o2 = { .rules_json = "[{\"sample_rate\": oops}]" };
    assert_int_equal(otel_datadog_sampler_create(&o2, &s), OTEL_OK);
    assert_int_equal(log_capture_count(), 1);
    assert_string_equal(s.description(s.user_data), "DatadogSampler{rules=0,rate_limit=100}");
    otel_sampler_destroy(&s);
    /* NULL options: defaults. */
    assert_int_equal(otel_datadog_sampler_create(NULL, &s), OTEL_OK);
    otel_sampler_destroy(&s);
}

static void test_sampler_takes_service_and_env_from_the_resource(void **state)
{
    (void)state;
    otel_attr ra[] = { OTEL_ATTR_STR_LIT("service.name", "from-res"),
                       OTEL_ATTR_STR_LIT("deployment.environment.name", "staging") };
    otel_resource *res_obj;
    assert_int_equal(otel_resource_create(ra, 2, OTEL_STR(""), &res_obj), OTEL_OK);
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    assert_int_equal(otel_datadog_rates_update_json(
                         rates, OTEL_STR("{\"rate_by_service\":{\"service:from-res,env:staging\":0}}")),
                     OTEL_OK);
    otel_datadog_sampler_options o = { .resource = res_obj, .rates = rates };
    otel_sampler s;
    assert_int_equal(otel_datadog_sampler_create(&o, &s), OTEL_OK);
    otel_resource_release(res_obj); /* only read during create */
    struct root r;
    root_init(&r, 5, "op", OTEL_SPAN_KIND_SERVER, NULL, 0);
    otel_sampling_result res = s.should_sample(s.user_data, &r.params);
    assert_int_equal(res.decision, OTEL_SAMPLING_DROP);
    expect_state(&res, "dd=s:0;t.dm:-1");
    result_release(&res);
    otel_sampler_destroy(&s);
    otel_datadog_rates_release(rates);
}

static void test_trace_state_decision_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *ts;
        bool ok;
        int prio, mech;
    } cases[] = {
        { "dd=s:2;t.dm:-3", true, 2, 3 },
        { "a=b,dd=o:rum;s:-1;p:00f067aa0ba902b7;t.dm:-4;t.usr.id:x", true, -1, 4 },
        { "dd=s:1", true, 1, -1 },
        { "dd=t.dm:-1", false, 0, 1 },
        { "other=s:1", false, 0, -1 },
        { "dd=s:x;t.dm:-3", false, 0, 3 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        otel_trace_state *ts;
        assert_int_equal(otel_trace_state_parse(otel_str_from_cstr(cases[i].ts), &ts), OTEL_OK);
        int p = 0, m = 0;
        assert_int_equal(otel__dd_trace_state_decision(ts, &p, &m), cases[i].ok);
        if (cases[i].ok)
            assert_int_equal(p, cases[i].prio);
        assert_int_equal(m, cases[i].mech);
        otel_trace_state_release(ts);
    }
}

static void test_sampler_inside_a_tracer_provider_records_the_decision(void **state)
{
    (void)state;
    otel_memory_exporter *mem;
    assert_int_equal(otel_memory_exporter_create(NULL, &mem), OTEL_OK);
    otel_span_processor proc;
    assert_int_equal(otel_simple_processor_create(otel_memory_exporter_as_exporter(mem), &proc), OTEL_OK);
    otel_datadog_rates *rates;
    assert_int_equal(otel_datadog_rates_create(&rates), OTEL_OK);
    otel_datadog_sampler_options so = {
        .rules_json = "[{\"name\":\"internal\",\"resource\":\"drop-me\",\"sample_rate\":0},"
                      " {\"sample_rate\":1}]",
        .rates = rates,
    };
    otel_tracer_provider_options po = { .processors = &proc, .processor_count = 1 };
    assert_int_equal(otel_datadog_sampler_create(&so, &po.sampler), OTEL_OK);
    otel_tracer_provider *tp;
    assert_int_equal(otel_tracer_provider_create(&po, &tp), OTEL_OK);
    otel_tracer *tr = otel_tracer_provider_get_tracer(tp, OTEL_STR("test"), NULL);

    otel_span root = otel_tracer_start_span(tr, OTEL_STR("keep-me"), NULL);
    assert_true(otel_span_is_recording(root));
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span(NULL, root, &ctx), OTEL_OK);
    otel_span_start_options co = { .parent = ctx };
    otel_span child = otel_tracer_start_span(tr, OTEL_STR("child"), &co);
    otel_span_end(child);
    otel_context_release(ctx);
    otel_span_end(root);

    otel_span dropped = otel_tracer_start_span(tr, OTEL_STR("drop-me"), NULL);
    assert_false(otel_span_is_recording(dropped));
    otel_trace_state *dts = otel_span_get_trace_state(dropped);
    char buf[64];
    otel_trace_state_serialize(dts, buf, sizeof(buf));
    assert_string_equal(buf, "dd=s:-1;t.dm:-3");
    otel_trace_state_release(dts);
    otel_span_end(dropped);

    assert_int_equal(otel_memory_exporter_count(mem), 2);
    const otel_span_data *r = otel_memory_exporter_find(mem, OTEL_STR("keep-me"));
    const otel_span_data *c = otel_memory_exporter_find(mem, OTEL_STR("child"));
    assert_non_null(r);
    assert_non_null(c);
    int p, m;
    assert_true(otel__dd_trace_state_decision(r->trace_state, &p, &m));
    assert_int_equal(p, 2);
    assert_int_equal(m, 3);
    /* The child inherits the decision through the trace state. */
    assert_true(otel__dd_trace_state_decision(c->trace_state, &p, &m));
    assert_int_equal(p, 2);
    const otel_attr *psr = otel_attrs_find(r->attrs, r->attr_count, OTEL_STR("_dd.rule_psr"));
    assert_non_null(psr);
    assert_true(psr->value.as.d == 1.0);
    assert_null(otel_attrs_find(c->attrs, c->attr_count, OTEL_STR("_dd.rule_psr")));
    uint64_t traces, spans;
    otel__dd_rates_take_drops(rates, &traces, &spans);
    assert_int_equal(traces, 1);

    otel_tracer_provider_shutdown(tp, 0);
    otel_tracer_provider_destroy(tp);
    otel_memory_exporter_release(mem);
    otel_datadog_rates_release(rates);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_matches_the_datadog_reference_table),
        cmocka_unit_test(test_glob_agrees_with_a_naive_matcher),
        cmocka_unit_test(test_glob_pathological_pattern_is_linear),
        cmocka_unit_test_setup_teardown(test_rules_parse_valid_rules, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_unparsable_rules_json_drops_all_rules_with_one_diagnostic,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_rule_is_skipped_with_one_diagnostic_and_others_kept,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_rules_text_means_no_rules_silently, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test_setup_teardown(test_rules_parse_survives_every_allocation_failure, log_capture_setup,
                                        log_capture_teardown),
        cmocka_unit_test(test_first_matching_rule_wins),
        cmocka_unit_test(test_rule_name_and_resource_use_the_datadog_mapping),
        cmocka_unit_test(test_rule_tags_match_start_attributes),
        cmocka_unit_test(test_knuth_decision_matches_the_reference_formula),
        cmocka_unit_test(test_knuth_keeps_the_requested_share_of_sequential_ids),
        cmocka_unit_test(test_limiter_allows_a_full_bucket_then_refills_at_the_rate),
        cmocka_unit_test(test_limiter_accuracy_over_ten_seconds_of_overload),
        cmocka_unit_test(test_limiter_blocks_keep_the_rate_at_high_limits),
        cmocka_unit_test(test_limiter_fractional_zero_and_negative_limits),
        cmocka_unit_test(test_limiter_never_exceeds_the_bucket_across_threads),
        cmocka_unit_test(test_sampler_rule_decisions_are_user_keep_and_user_drop),
        cmocka_unit_test(test_sampler_rate_limiter_drops_rule_keeps_over_the_limit),
        cmocka_unit_test(test_sampler_uses_agent_rates_when_no_rule_matches),
        cmocka_unit_test(test_children_follow_the_parent_sampled_flag),
        cmocka_unit_test_setup_teardown(test_sampler_create_rejects_bad_options_and_reports_bad_rules,
                                        log_capture_setup, log_capture_teardown),
        cmocka_unit_test(test_sampler_takes_service_and_env_from_the_resource),
        cmocka_unit_test(test_trace_state_decision_parsing),
        cmocka_unit_test(test_sampler_inside_a_tracer_provider_records_the_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
