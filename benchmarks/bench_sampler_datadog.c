/* The Datadog sampler: rule matching over 10 glob rules, the rate limiter's decision, and a whole
 * root-span decision. Targets (issue 7): rule match with 10 glob rules <= 50 ns, rate limiter
 * decision <= 15 ns. The baseline is the SDK's own TraceIdRatioBased decision through the
 * otel_sampler struct.
 *
 * Latest results (2026-11-21, 2-vCPU Xeon VM shared with other builds, gcc 12.2 -O3; median of
 * three runs' medians of 7 repetitions, alternating with a build of 06b095b, whose figures
 * follow the arrows' left sides; instructions from callgrind; see docs/PERFORMANCE.md):
 *   baseline_trace_id_ratio              3.2 ns             49 instr
 *   rule_match_10_globs                   41 -> 27 ns      530 -> 415 instr   (target 50)
 *   rule_match_10_globs_other_service     43 -> 41 ns      533 -> 480 instr
 *   rule_match_10_globs_premapped         61 -> 48 ns      742 -> 595 instr
 *   should_sample_root_10_rules           59 -> 47 ns      777 -> 669 instr
 *   limiter_allow_open                  11.3 -> 4.8 ns      79 -> 28 instr    (target 15)
 *   limiter_allow_saturated              9.8 -> 7.0 ns      76 -> 58 instr    (+ the vDSO clock read)
 *   knuth_decision                       0.3 ns              5 instr
 *   0 allocations per op in every config.
 *
 *   cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTEL_BUILD_BENCHMARKS=ON
 *   ninja -C build/bench bench_sampler_datadog && build/bench/benchmarks/bench_sampler_datadog */
#include <string.h>

#include "bench.h"
#include "dd_sampler.h"
#include "otel/exporters/datadog.h"

/* Ten rules in the shapes Datadog users write: service globs, operation names, resources. The
 * subject matches none of the first nine (each rejected at its first differing byte or after a
 * short scan) and matches the last. */
static const char rules_json[] =
    "[{\"service\":\"billing-*\",\"sample_rate\":0.1},"
    " {\"service\":\"auth-?\",\"sample_rate\":0.2},"
    " {\"service\":\"*-worker\",\"sample_rate\":0.3},"
    " {\"service\":\"search\",\"name\":\"http.*\",\"sample_rate\":0.4},"
    " {\"service\":\"check*\",\"name\":\"grpc.*\",\"sample_rate\":0.5},"
    " {\"service\":\"inventory*\",\"sample_rate\":0.6},"
    " {\"service\":\"*-canary\",\"sample_rate\":0.7},"
    " {\"service\":\"checkout\",\"resource\":\"POST /admin/*\",\"sample_rate\":0.8},"
    " {\"service\":\"ch?ckout-v?\",\"sample_rate\":0.9},"
    " {\"service\":\"check*\",\"name\":\"http.server.*\",\"sample_rate\":1}]";

static const otel_attr start_attrs[2] = {
    { { "http.request.method", 19 }, { .type = OTEL_VALUE_STR, .as.s = { "GET", 3 } } },
    { { "http.route", 10 }, { .type = OTEL_VALUE_STR, .as.s = { "/api/v1/users/:id", 17 } } },
};

struct state {
    otel_sampler sampler;
    otel_sampler baseline;
    struct otel__dd_sampler *dd;
    const struct otel__dd_rule *rules;
    size_t rule_count;
    uint64_t mask;
    struct otel__dd_limiter limiter;
    otel_parent parent;
    uint8_t trace_id[16];
    otel_sampling_params params;
    struct otel__dd_attr_index ix;
};

static void setup(struct bench *b)
{
    struct state *s = calloc(1, sizeof(*s));
    otel_datadog_rates *rates;
    otel_datadog_rates_create(&rates);
    otel_datadog_sampler_options o = {
        .rules_json = rules_json,
        .service = "checkout",
        .has_rate_limit = true,
        .rate_limit = -1, /* the whole-decision case measures rules, not the limiter */
        .rates = rates,
    };
    if (otel_datadog_sampler_create(&o, &s->sampler) != OTEL_OK) {
        fprintf(stderr, "sampler create failed\n");
        exit(1);
    }
    otel_datadog_rates_release(rates);
    s->dd = otel__dd_sampler_of(&s->sampler);
    s->rules = otel__dd_sampler_rules(s->dd, &s->rule_count);
    s->mask = otel__dd_rules_service_mask(s->rules, s->rule_count, OTEL_STR("checkout"));
    otel_sampler_trace_id_ratio(0.5, &s->baseline);
    for (int i = 0; i < 16; i++)
        s->trace_id[i] = (uint8_t)(i * 37 + 11);
    s->params = (otel_sampling_params){
        .parent = &s->parent,
        .trace_id = s->trace_id,
        .name = OTEL_STR("GET /api/v1/users/{id}"),
        .kind = OTEL_SPAN_KIND_SERVER,
        .attrs = start_attrs,
        .attr_count = 2,
    };
    otel__dd_index_attrs(start_attrs, 2, &s->ix);
    b->state = s;
}

static void teardown(struct bench *b)
{
    struct state *s = b->state;
    otel_sampler_destroy(&s->sampler);
    otel_sampler_destroy(&s->baseline);
    free(s);
}

static void run_baseline_ratio(struct bench *b)
{
    struct state *s = b->state;
    for (size_t it = 0; it < b->iterations; it++) {
        s->trace_id[15] = (uint8_t)it;
        otel_sampling_result r = s->baseline.should_sample(s->baseline.user_data, &s->params);
        BENCH_KEEP(r.decision);
    }
}

/* Matching 10 glob rules against a span of the sampler's default service, as the sampler does it
 * (the rules' service patterns were tested against that service once, at creation). The mapping
 * (Datadog name and resource from kind and attributes) runs once per span, as in a decision. */
static void run_rule_match(struct bench *b)
{
    struct state *s = b->state;
    for (size_t it = 0; it < b->iterations; it++) {
        struct otel__dd_span_props p;
        p.service = OTEL_STR("checkout");
        p.params = &s->params;
        p.ix = &s->ix;
        p.mapped = 0;
        long m = otel__dd_rules_match_masked(s->rules, s->rule_count, s->mask, &p);
        BENCH_KEEP(m);
    }
}

/* The same for a span naming another service: every rule's service pattern is tested. */
static void run_rule_match_other_service(struct bench *b)
{
    struct state *s = b->state;
    for (size_t it = 0; it < b->iterations; it++) {
        struct otel__dd_span_props p;
        p.service = OTEL_STR("checkout-v2");
        p.params = &s->params;
        p.ix = &s->ix;
        p.mapped = 0;
        long m = otel__dd_rules_match(s->rules, s->rule_count, &p);
        BENCH_KEEP(m);
    }
}

/* All ten rules' globs (service included) with name and resource given: glob matching alone. */
static void run_rule_match_premapped(struct bench *b)
{
    struct state *s = b->state;
    struct otel__dd_span_props p;
    p.service = OTEL_STR("checkout");
    p.params = &s->params;
    p.ix = &s->ix;
    p.mapped = OTEL__DD_MAPPED_NAME | OTEL__DD_MAPPED_RESOURCE;
    p.name = OTEL_STR("http.server.request");
    p.resource = OTEL_STR("GET /api/v1/users/:id");
    for (size_t it = 0; it < b->iterations; it++) {
        BENCH_KEEP(p.service.data);
        p.mapped = OTEL__DD_MAPPED_NAME | OTEL__DD_MAPPED_RESOURCE;
        long m = otel__dd_rules_match(s->rules, s->rule_count, &p);
        BENCH_KEEP(m);
    }
}

/* A whole root decision: attribute index, rules, Knuth hash, trace state. */
static void run_should_sample_root(struct bench *b)
{
    struct state *s = b->state;
    for (size_t it = 0; it < b->iterations; it++) {
        s->trace_id[15] = (uint8_t)it;
        otel_sampling_result r = s->sampler.should_sample(s->sampler.user_data, &s->params);
        BENCH_KEEP(r.decision);
        otel_trace_state_release(r.trace_state);
    }
}

static void setup_limiter_open(struct bench *b)
{
    setup(b);
    struct state *s = b->state;
    otel__dd_limiter_init(&s->limiter, 1e8); /* never empty: every decision takes a token (from the
                                              * thread's block of 64: one CAS per 64) */
}

static void setup_limiter_saturated(struct bench *b)
{
    setup(b);
    struct state *s = b->state;
    otel__dd_limiter_init(&s->limiter, 100); /* empty after 100: nearly every decision denied */
}

static void run_limiter(struct bench *b)
{
    struct state *s = b->state;
    for (size_t it = 0; it < b->iterations; it++) {
        bool ok = otel__dd_limiter_allow(&s->limiter);
        BENCH_KEEP(ok);
    }
}

static void run_knuth(struct bench *b)
{
    bool all;
    uint64_t t = otel__dd_rate_threshold(0.5, &all);
    uint64_t kept = 0;
    for (size_t it = 0; it < b->iterations; it++)
        kept += otel__dd_knuth_keep(it, t, all);
    BENCH_KEEP(kept);
}

static const struct bench_case cases[] = {
    { "baseline_trace_id_ratio", run_baseline_ratio, setup, teardown, 0 },
    { "rule_match_10_globs", run_rule_match, setup, teardown, 0 },
    { "rule_match_10_globs_premapped", run_rule_match_premapped, setup, teardown, 0 },
    { "rule_match_10_globs_other_service", run_rule_match_other_service, setup, teardown, 0 },
    { "should_sample_root_10_rules", run_should_sample_root, setup, teardown, 0 },
    { "limiter_allow_open", run_limiter, setup_limiter_open, teardown, 0 },
    { "limiter_allow_saturated", run_limiter, setup_limiter_saturated, teardown, 0 },
    { "knuth_decision", run_knuth, setup, teardown, 0 },
};

int main(int argc, char **argv)
{
    return bench_main(argc, argv, "sampler_datadog", cases, sizeof(cases) / sizeof(cases[0]));
}
