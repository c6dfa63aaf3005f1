/* The SDK's built-in samplers, one decision per op: TraceIdRatioBased(0.25), ParentBased with a
 * sampled local parent and with a not-sampled remote parent, always_on. Each is measured twice:
 * through the otel_sampler struct (should_sample, the indirect call a custom sampler or a
 * delegating one pays) and through otel__sampler_decide, the inline path span start takes for the
 * built-in samplers. The trace id changes every op so the ratio decision is not constant (about
 * a quarter of the ids sample). The baseline is a custom sampler returning a constant through
 * the struct: the cost of the indirect call alone.
 *
 * Latest results (2026-11-21, 2-vCPU Xeon VM, load average 5-6, gcc 12.2 -O3; median of three
 * runs' medians of 7 repetitions; instructions per decision from callgrind, loop included; 0
 * allocations everywhere; details in docs/PERFORMANCE.md, "## Sampler"):
 *   baseline_custom_constant                  3.1 ns   21 instr
 *   ratio                                     5.8 ns   55 instr
 *   ratio_inline                              6.8 ns   74 instr
 *   parent_based_local_sampled                5.8 ns   50 instr
 *   parent_based_local_sampled_inline         6.9 ns   57 instr
 *   parent_based_remote_not_sampled           5.9 ns   53 instr
 *   parent_based_remote_not_sampled_inline    6.6 ns   60 instr
 *   always_on                                 3.2 ns   21 instr
 *   always_on_inline                          3.7 ns   34 instr
 *
 *   cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTEL_BUILD_BENCHMARKS=ON
 *   ninja -C build/bench bench_sampler && build/bench/benchmarks/bench_sampler
 *   scripts/run-benchmarks --check --scenario sampler --baseline-bin build/bench/benchmarks \
 *       --candidate-bin build/bench/benchmarks --threshold 0.5 --retries 0     # instructions */
#include <string.h>

#include "bench.h"
#include "otel/sdk/trace.h"
#include "provider.h" /* sdk/src: otel__sampler_decide */

struct state {
    otel_sampler sampler;
    otel_parent parent;
    uint8_t trace_id[OTEL_TRACE_ID_SIZE];
    otel_sampling_params params;
    uint64_t sampled; /* decisions that sampled, for the report */
    uint64_t decisions;
};

static otel_sampling_result constant_fn(void *user_data, const otel_sampling_params *params)
{
    (void)user_data;
    (void)params;
    otel_sampling_result r = { .decision = OTEL_SAMPLING_RECORD_AND_SAMPLE };
    return r;
}

static struct state *new_state(void)
{
    struct state *s = calloc(1, sizeof(*s));
    if (!s) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        s->trace_id[i] = (uint8_t)(i * 37 + 11);
    s->params = (otel_sampling_params){
        .parent = &s->parent,
        .trace_id = s->trace_id,
        .name = OTEL_STR("GET /api/v1/users/{id}"),
        .kind = OTEL_SPAN_KIND_SERVER,
    };
    return s;
}

static void check(otel_status st, const char *what)
{
    if (st != OTEL_OK) {
        fprintf(stderr, "%s failed: %d\n", what, (int)st);
        exit(1);
    }
}

static void setup_baseline(struct bench *b)
{
    struct state *s = new_state();
    s->sampler = (otel_sampler){ .should_sample = constant_fn };
    b->state = s;
}

static void setup_always_on(struct bench *b)
{
    struct state *s = new_state();
    s->sampler = otel_sampler_always_on();
    b->state = s;
}

static void setup_ratio(struct bench *b)
{
    struct state *s = new_state();
    check(otel_sampler_trace_id_ratio(0.25, &s->sampler), "otel_sampler_trace_id_ratio");
    b->state = s;
}

/* ParentBased(root = ratio 0.25) with the spec's defaults for the four parent kinds. */
static void setup_parent_based(struct bench *b, bool remote, bool sampled)
{
    struct state *s = new_state();
    otel_sampler root;
    check(otel_sampler_trace_id_ratio(0.25, &root), "otel_sampler_trace_id_ratio");
    check(otel_sampler_parent_based(root, NULL, &s->sampler), "otel_sampler_parent_based");
    memcpy(s->parent.span_context.trace_id, s->trace_id, OTEL_TRACE_ID_SIZE);
    for (int i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        s->parent.span_context.span_id[i] = (uint8_t)(i + 1);
    s->parent.span_context.trace_flags = sampled ? OTEL_TRACE_FLAG_SAMPLED : 0;
    s->parent.span_context.is_remote = remote;
    s->parent.span = OTEL_SPAN_NONE;
    b->state = s;
}

static void setup_parent_based_local_sampled(struct bench *b)
{
    setup_parent_based(b, false, true);
}

static void setup_parent_based_remote_not_sampled(struct bench *b)
{
    setup_parent_based(b, true, false);
}

static void teardown(struct bench *b)
{
    struct state *s = b->state;
    if (s->decisions)
        fprintf(stderr, "%s: %.1f%% of the decisions sampled\n", b->config,
                100.0 * (double)s->sampled / (double)s->decisions);
    otel_sampler_destroy(&s->sampler);
    free(s);
}

/* The lower 8 bytes of the trace id decide the ratio (big-endian): vary the top one of them. */
static inline void next_id(struct state *s, size_t it)
{
    s->trace_id[8] = (uint8_t)(it * 0x9Du);
    s->trace_id[15] = (uint8_t)it;
}

static void run_struct(struct bench *b)
{
    struct state *s = b->state;
    uint64_t sampled = 0;
    for (size_t it = 0; it < b->iterations; it++) {
        next_id(s, it);
        otel_sampling_result r = s->sampler.should_sample(s->sampler.user_data, &s->params);
        sampled += r.decision == OTEL_SAMPLING_RECORD_AND_SAMPLE;
    }
    BENCH_KEEP(sampled);
    s->sampled += sampled;
    s->decisions += b->iterations;
}

static void run_decide(struct bench *b)
{
    struct state *s = b->state;
    uint64_t sampled = 0;
    for (size_t it = 0; it < b->iterations; it++) {
        next_id(s, it);
        otel_sampling_result r = otel__sampler_decide(&s->sampler, &s->params);
        sampled += r.decision == OTEL_SAMPLING_RECORD_AND_SAMPLE;
    }
    BENCH_KEEP(sampled);
    s->sampled += sampled;
    s->decisions += b->iterations;
}

static const struct bench_case cases[] = {
    { "baseline_custom_constant", run_struct, setup_baseline, teardown, 1 },
    { "ratio", run_struct, setup_ratio, teardown, 1 },
    { "ratio_inline", run_decide, setup_ratio, teardown, 1 },
    { "parent_based_local_sampled", run_struct, setup_parent_based_local_sampled, teardown, 1 },
    { "parent_based_local_sampled_inline", run_decide, setup_parent_based_local_sampled, teardown, 1 },
    { "parent_based_remote_not_sampled", run_struct, setup_parent_based_remote_not_sampled, teardown, 1 },
    { "parent_based_remote_not_sampled_inline", run_decide, setup_parent_based_remote_not_sampled, teardown,
      1 },
    { "always_on", run_struct, setup_always_on, teardown, 1 },
    { "always_on_inline", run_decide, setup_always_on, teardown, 1 },
};

int main(int argc, char **argv)
{
    return bench_main(argc, argv, "sampler", cases, sizeof(cases) / sizeof(cases[0]));
}
