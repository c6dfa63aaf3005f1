/* Spans through the batch span processor's queue: start + end on 1, 2 and 4 producer threads at
 * default settings in front of an exporter that discards. ns/op is wall time per span over all
 * threads (so 1e9 / ns/op is spans per second); each line reports the spans ended, dropped and
 * the drop rate. The memory_* configs measure the bytes one queued finished span holds (records,
 * arena chunks, queue segments: the allocation-funnel bytes of N2 queued spans minus those of
 * N1, divided by N2 - N1), with the event-loop mode so that nothing is exported meanwhile; their
 * ns/op is meaningless.
 *
 * Latest results (2026-11-21 12:23-12:33 UTC, 19ffa0a; 2 vCPU Xeon VM, gcc 12.2 -O3 Release;
 * quiet machine, see docs/PERFORMANCE.md), median of 3 runs x 7 repetitions:
 *   producers_1        53 ns/span   19.0 M spans/s  0.5 % dropped   0 allocs
 *   producers_2        41 ns/span   24.3 M spans/s 8-12 % dropped   0 allocs
 *   producers_4        33 ns/span   30.0 M spans/s   30 % dropped   0 allocs
 *   memory_plain                    266 bytes per queued span (266 with a static name)
 *   memory_4attrs_event             594 bytes per queued span
 * (the memory lines: 2026-11-21 12:10 UTC, branch wip-mem, a short copied span name in the
 * record; 265.9 / 265.9 / 593.9, was 337.9 / 265.9 / 665.9; deterministic, one repetition:
 *   build/bench/benchmarks/bench_batch_processor --configs
 *       memory_plain,memory_plain_static_name,memory_4attrs_event --repetitions 1)
 *
 *   ninja -C build/bench bench_batch_processor
 *   build/bench/benchmarks/bench_batch_processor --repetitions 7
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>

#include "bench.h"
#include "otel/otel.h"
#include "otel/sdk/trace.h"

#define SPANS_PER_ITER 1000u
#define MAX_THREADS 8

static otel_export_result discard_export(void *ud, const otel_span_data *const *spans, size_t n,
                                         int64_t timeout_ns)
{
    (void)ud, (void)spans, (void)n, (void)timeout_ns;
    return OTEL_EXPORT_SUCCESS;
}

struct fixture {
    otel_tracer_provider *tp;
    otel_tracer *tracer;
    otel_span_processor bp;
    otel_batch_processor_stats before;
    int threads;
    size_t iterations;
};

static struct fixture fx;

static void setup_threads(struct bench *b, int threads)
{
    (void)b;
    memset(&fx, 0, sizeof(fx));
    fx.threads = threads;
    otel_span_exporter ex = { .export_spans = discard_export };
    if (otel_batch_processor_create(ex, NULL, &fx.bp) != OTEL_OK)
        abort();
    otel_tracer_provider_options o = { .processors = &fx.bp, .processor_count = 1 };
    if (otel_tracer_provider_create(&o, &fx.tp) != OTEL_OK)
        abort();
    fx.tracer = otel_tracer_provider_get_tracer(fx.tp, OTEL_STR("bench"), NULL);
    otel_batch_processor_get_stats(&fx.bp, &fx.before);
}

static void setup_1(struct bench *b)
{
    setup_threads(b, 1);
}
static void setup_2(struct bench *b)
{
    setup_threads(b, 2);
}
static void setup_4(struct bench *b)
{
    setup_threads(b, 4);
}

static void teardown(struct bench *b)
{
    otel_batch_processor_stats st;
    otel_tracer_provider_force_flush(fx.tp, 0);
    otel_batch_processor_get_stats(&fx.bp, &st);
    uint64_t received = st.spans_received - fx.before.spans_received;
    uint64_t dropped = st.spans_dropped_full - fx.before.spans_dropped_full;
    snprintf(b->extra_json, sizeof(b->extra_json),
             "\"threads\":%d,\"spans_ended\":%llu,\"spans_dropped\":%llu,\"drop_rate\":%.6f,"
             "\"export_calls\":%llu",
             fx.threads, (unsigned long long)received, (unsigned long long)dropped,
             received ? (double)dropped / (double)received : 0.0,
             (unsigned long long)(st.export_calls - fx.before.export_calls));
    otel_tracer_provider_destroy(fx.tp);
}

static void *producer(void *arg)
{
    size_t iterations = *(const size_t *)arg;
    for (size_t i = 0; i < iterations; i++)
        for (unsigned k = 0; k < SPANS_PER_ITER; k++)
            otel_span_end(otel_tracer_start_span(fx.tracer, OTEL_STR("GET /users/:id"), NULL));
    return NULL;
}

/* Every thread ends b->iterations * 1000 spans; ops_per_iteration counts all threads' spans. */
static void bench_producers(struct bench *b)
{
    if (fx.threads == 1) {
        producer(&b->iterations);
        return;
    }
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < fx.threads; i++)
        pthread_create(&th[i], NULL, producer, &b->iterations);
    for (int i = 0; i < fx.threads; i++)
        pthread_join(th[i], NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Memory per queued span
 * ------------------------------------------------------------------------------------------- */

static _Atomic long long mem_live;

static void *mem_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&mem_live, (long long)malloc_usable_size(p));
    return p;
}
static void *mem_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p)
        atomic_fetch_add(&mem_live, (long long)malloc_usable_size(p));
    return p;
}
static void *mem_realloc(void *old, size_t n)
{
    long long before = old ? (long long)malloc_usable_size(old) : 0;
    void *p = realloc(old, n);
    if (p)
        atomic_fetch_add(&mem_live, (long long)malloc_usable_size(p) - before);
    return p;
}
static void mem_free(void *p)
{
    if (p)
        atomic_fetch_sub(&mem_live, (long long)malloc_usable_size(p));
    free(p);
}
static const otel__mem_hooks mem_hooks = { mem_malloc, mem_calloc, mem_realloc, mem_free, false };

enum span_shape { PLAIN, PLAIN_STATIC_NAME, ATTRS4_EVENT };

/* Bytes held after queueing |n| spans of |shape| (none exported: event-loop mode, no tick). */
static long long bytes_with_queued(size_t n, enum span_shape shape)
{
    otel__mem_set_hooks(&mem_hooks);
    long long before = atomic_load(&mem_live);
    otel_span_exporter ex = { .export_spans = discard_export };
    otel_batch_options bo = { .max_queue_size = (uint32_t)n, .no_thread = true };
    otel_span_processor bp;
    otel_tracer_provider *tp = NULL;
    if (otel_batch_processor_create(ex, &bo, &bp) != OTEL_OK)
        abort();
    otel_tracer_provider_options o = { .processors = &bp, .processor_count = 1 };
    if (otel_tracer_provider_create(&o, &tp) != OTEL_OK)
        abort();
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("bench"), NULL);
    static const char url[] = "https://example.com/users/42";
    otel_span_start_options so = { .flags = shape == PLAIN_STATIC_NAME ? OTEL_SPAN_START_STATIC_NAME : 0 };
    for (size_t i = 0; i < n; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("GET /users/:id"), &so);
        if (shape == ATTRS4_EVENT) {
            otel_attr attrs[] = {
                OTEL_ATTR_STR("http.request.method", OTEL_STR("GET")),
                OTEL_ATTR_STR("url.full", ((otel_str){ url, sizeof(url) - 1 })),
                OTEL_ATTR_INT("http.response.status_code", 200),
                OTEL_ATTR_BOOL("cache.hit", false),
            };
            otel_span_set_attrs(s, attrs, 4);
            otel_span_add_event(s, OTEL_STR("cache.miss"), 0, NULL, 0);
        }
        otel_span_end(s);
    }
    otel_batch_processor_stats st;
    otel_batch_processor_get_stats(&bp, &st);
    if (st.spans_queued != n)
        abort();
    long long held = atomic_load(&mem_live) - before;
    otel_tracer_provider_destroy(tp);
    otel__mem_set_hooks(NULL);
    return held;
}

static void memory_setup(struct bench *b, enum span_shape shape, const char *what)
{
    const size_t n1 = 2000, n2 = 20000;
    long long b1 = bytes_with_queued(n1, shape);
    long long b2 = bytes_with_queued(n2, shape);
    snprintf(b->extra_json, sizeof(b->extra_json),
             "\"span\":\"%s\",\"bytes_per_queued_span\":%.1f,\"queued_low\":%zu,"
             "\"bytes_low\":%lld,\"queued_high\":%zu,\"bytes_high\":%lld",
             what, (double)(b2 - b1) / (double)(n2 - n1), n1, b1, n2, b2);
}

static void memory_plain_setup(struct bench *b)
{
    memory_setup(b, PLAIN, "plain, copied name");
}
static void memory_static_setup(struct bench *b)
{
    memory_setup(b, PLAIN_STATIC_NAME, "plain, static name");
}
static void memory_rich_setup(struct bench *b)
{
    memory_setup(b, ATTRS4_EVENT, "4 attributes (literal keys, 2 copied strings, int, bool) + 1 event");
}

static void bench_nothing(struct bench *b)
{
    BENCH_KEEP(b->iterations);
}

static const struct bench_case cases[] = {
    { "producers_1", bench_producers, setup_1, teardown, SPANS_PER_ITER },
    { "producers_2", bench_producers, setup_2, teardown, 2 * SPANS_PER_ITER },
    { "producers_4", bench_producers, setup_4, teardown, 4 * SPANS_PER_ITER },
    { "memory_plain", bench_nothing, memory_plain_setup, NULL, 1 },
    { "memory_plain_static_name", bench_nothing, memory_static_setup, NULL, 1 },
    { "memory_4attrs_event", bench_nothing, memory_rich_setup, NULL, 1 },
};

int main(int argc, char **argv)
{
    return bench_main(argc, argv, "batch_processor", cases, sizeof(cases) / sizeof(cases[0]));
}
