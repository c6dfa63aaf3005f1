/* The benchmark harness: every benchmarks/bench_<scenario>.c defines a table of named cases
 * (configs) and calls bench_main(). Each case runs |iterations| times per repetition; the harness
 * reports ns per operation for every repetition, their median, mean and standard deviation, and
 * the allocations per operation made through otelc's allocation funnel (otel__malloc & co).
 *
 *   bench_span                      all configs, JSON lines on stdout
 *   bench_span --list               config names, one per line
 *   bench_span --configs a,b        only these
 *   bench_span --repetitions 9      repetitions (default 7)
 *   bench_span --iterations 1000    fixed iterations per repetition (default: calibrated so one
 *                                   repetition takes about --min-time-ms, default 200)
 *   bench_span --out-dir DIR        also write DIR/results.<config>.json
 *   bench_span --quick              1 repetition, few iterations (smoke test, callgrind runs)
 *
 * Instruction counts come from running the program under callgrind twice with two --iterations
 * values and dividing the difference (scripts/run-benchmarks does that), which cancels set-up.
 * Header-only: each benchmark is one translation unit. */
#ifndef OTEL_BENCH_H
#define OTEL_BENCH_H

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h" /* api/src: the allocation funnel and its test hooks */

struct bench {
    size_t iterations; /* how many times run() must do its operation */
    void *state;       /* set by setup(), for run() and teardown() */
    const char *config;
    /* Optional. run() may add the time of work it does not want measured (e.g. ending the
     * spans of a "start" case); the harness subtracts it from the repetition. */
    int64_t paused_ns;
    /* Optional. Extra JSON members (`"name":value,...`, no braces) that run() or teardown()
     * writes; the harness appends them to the result line. */
    char extra_json[512];
};

struct bench_case {
    const char *name;
    void (*run)(struct bench *b);
    /* Optional, outside the timed region. setup() may allocate and fill b->state. */
    void (*setup)(struct bench *b);
    void (*teardown)(struct bench *b);
    /* Operations one iteration performs (e.g. 1000 spans per iteration); 0 means 1. ns/op and
     * allocs/op are per operation. */
    size_t ops_per_iteration;
};

/* Keeps the compiler from optimising away a value. */
#define BENCH_KEEP(x) __asm__ __volatile__("" : : "g"(x) : "memory")

static _Atomic uint64_t bench_alloc_count;

static void *bench_malloc(size_t n)
{
    atomic_fetch_add_explicit(&bench_alloc_count, 1, memory_order_relaxed);
    return malloc(n);
}
static void *bench_calloc(size_t n, size_t size)
{
    atomic_fetch_add_explicit(&bench_alloc_count, 1, memory_order_relaxed);
    return calloc(n, size);
}
static void *bench_realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&bench_alloc_count, 1, memory_order_relaxed);
    return realloc(p, n);
}
static const otel__mem_hooks bench_hooks = { bench_malloc, bench_calloc, bench_realloc, free, false };

static int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool bench_selected(const char *name, const char *configs)
{
    if (!configs || !*configs)
        return true;
    size_t n = strlen(name);
    for (const char *p = configs; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* One timed repetition: ns for |iterations| iterations. */
static double bench_time_once(const struct bench_case *c, struct bench *b)
{
    b->paused_ns = 0;
    int64_t t0 = bench_now_ns();
    c->run(b);
    int64_t t1 = bench_now_ns();
    return (double)(t1 - t0 - b->paused_ns);
}

static int bench_run_case(const char *scenario, const struct bench_case *c, int repetitions,
                          size_t fixed_iterations, int64_t min_time_ns, const char *out_dir)
{
    size_t ops_per_iter = c->ops_per_iteration ? c->ops_per_iteration : 1;
    struct bench b = { .iterations = 1, .state = NULL, .config = c->name, .paused_ns = 0 };
    if (c->setup)
        c->setup(&b);

    size_t iterations = fixed_iterations;
    if (!iterations) {
        /* Calibrate: grow until one repetition takes min_time_ns (also warms caches and pools). */
        iterations = 1;
        for (;;) {
            b.iterations = iterations;
            double ns = bench_time_once(c, &b);
            if (ns >= (double)min_time_ns || iterations >= ((size_t)1 << 40))
                break;
            double factor = ns > 0 ? (double)min_time_ns / ns * 1.2 : 10.0;
            if (factor > 10.0)
                factor = 10.0;
            if (factor < 1.5)
                factor = 1.5;
            iterations = (size_t)((double)iterations * factor) + 1;
        }
    } else {
        b.iterations = iterations < 16 ? iterations : 16; /* warm-up */
        c->run(&b);
    }
    b.iterations = iterations;

    double *values = calloc((size_t)repetitions, sizeof(*values));
    if (!values)
        return 1;
    uint64_t allocs = 0;
    for (int r = 0; r < repetitions; r++) {
        otel__mem_set_hooks(&bench_hooks);
        uint64_t a0 = atomic_load(&bench_alloc_count);
        double ns = bench_time_once(c, &b);
        allocs += atomic_load(&bench_alloc_count) - a0;
        otel__mem_set_hooks(NULL);
        values[r] = ns / ((double)iterations * (double)ops_per_iter);
    }
    if (c->teardown)
        c->teardown(&b);

    double sum = 0, sq = 0;
    for (int r = 0; r < repetitions; r++)
        sum += values[r];
    double mean = sum / repetitions;
    for (int r = 0; r < repetitions; r++)
        sq += (values[r] - mean) * (values[r] - mean);
    double stddev = repetitions > 1 ? sqrt(sq / (repetitions - 1)) : 0.0;
    double *sorted = calloc((size_t)repetitions, sizeof(*sorted));
    if (!sorted) {
        free(values);
        return 1;
    }
    memcpy(sorted, values, (size_t)repetitions * sizeof(*sorted));
    qsort(sorted, (size_t)repetitions, sizeof(*sorted), bench_cmp_double);
    double median = repetitions % 2 ? sorted[repetitions / 2]
                                    : (sorted[repetitions / 2 - 1] + sorted[repetitions / 2]) / 2;
    double allocs_per_op = (double)allocs / ((double)iterations * (double)ops_per_iter * (double)repetitions);

    char line[4096];
    int n = snprintf(line, sizeof(line),
                     "{\"scenario\":\"%s\",\"config\":\"%s\",\"unit\":\"ns/op\","
                     "\"iterations\":%zu,\"ops_per_iteration\":%zu,\"repetitions\":[",
                     scenario, c->name, iterations, ops_per_iter);
    for (int r = 0; r < repetitions && n > 0 && (size_t)n < sizeof(line) - 64; r++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%.3f", r ? "," : "", values[r]);
    if (n > 0 && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n,
                      "],\"median\":%.3f,\"mean\":%.3f,\"stddev\":%.3f,\"allocs_per_op\":%.4f", median, mean,
                      stddev, allocs_per_op);
    if (n > 0 && (size_t)n < sizeof(line))
        snprintf(line + n, sizeof(line) - (size_t)n, "%s%s}", b.extra_json[0] ? "," : "", b.extra_json);
    printf("%s\n", line);
    fflush(stdout);
    if (out_dir) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/results.%s.json", out_dir, c->name);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
        } else {
            fprintf(f, "%s\n", line);
            fclose(f);
        }
    }
    free(sorted);
    free(values);
    return 0;
}

static int bench_main(int argc, char **argv, const char *scenario, const struct bench_case *cases,
                      size_t count)
{
    const char *configs = NULL, *out_dir = NULL;
    int repetitions = 7;
    size_t iterations = 0;
    int64_t min_time_ns = 200 * 1000000LL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--list")) {
            list = true;
        } else if (!strcmp(a, "--quick")) {
            repetitions = 1;
            if (!iterations)
                iterations = 10;
        } else if (v && !strcmp(a, "--configs")) {
            configs = v, i++;
        } else if (v && !strcmp(a, "--out-dir")) {
            out_dir = v, i++;
        } else if (v && !strcmp(a, "--repetitions")) {
            repetitions = atoi(v), i++;
        } else if (v && !strcmp(a, "--iterations")) {
            iterations = (size_t)strtoull(v, NULL, 10), i++;
        } else if (v && !strcmp(a, "--min-time-ms")) {
            min_time_ns = (int64_t)atoll(v) * 1000000LL, i++;
        } else {
            fprintf(stderr,
                    "usage: %s [--list] [--configs a,b] [--repetitions N] [--iterations N] "
                    "[--min-time-ms N] [--out-dir DIR] [--quick]\n",
                    argv[0]);
            return 2;
        }
    }
    if (repetitions < 1)
        repetitions = 1;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (list) {
            printf("%s\n", cases[i].name);
            continue;
        }
        if (bench_selected(cases[i].name, configs))
            rc |= bench_run_case(scenario, &cases[i], repetitions, iterations, min_time_ns, out_dir);
    }
    return rc;
}

#endif
