/* The per-thread block cache behind context nodes and trace states (api/src/mem.c), under
 * threads and under the sanitizers: contexts extracted on some threads are released on others
 * (so blocks move between threads' caches), each thread's cache stays bounded, and every block
 * is freed once the threads exit. Allocations are counted through hooks that keep the cache on. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mem.h"
#include "otel/context.h"
#include "otel/propagators.h"
#include "otel/trace.h"

#define EXTRACTORS 4
#define RELEASERS 3
#define PER_THREAD 20000
#define QUEUE_CAP 64

#define TRACEPARENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
static const char k_traceparent[] = TRACEPARENT;
static const char k_tracestate[] = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

/* Allocations through the funnel that are not freed yet, and all allocations made. */
static _Atomic long g_live;
static _Atomic long g_allocs;

static void *count_malloc(size_t n)
{
    void *p = malloc(n);
    atomic_fetch_add(&g_allocs, 1);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

static void *count_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    atomic_fetch_add(&g_allocs, 1);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

static void *count_realloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    atomic_fetch_add(&g_allocs, 1);
    if (p && !old)
        atomic_fetch_add(&g_live, 1);
    return p;
}

static void count_free(void *p)
{
    if (p)
        atomic_fetch_sub(&g_live, 1);
    free(p);
}

/* no_cache stays false: the cache is what is under test. */
static const otel__mem_hooks g_counting = { count_malloc, count_calloc, count_realloc, count_free, false };

static otel_context *extract_one(const otel_propagator *p, const char *tracestate)
{
    otel_header h[2] = {
        { OTEL_STR("traceparent"), OTEL_STR(TRACEPARENT) },
        { OTEL_STR("tracestate"), otel_str_from_cstr(tracestate) },
    };
    otel_header_list list = { h, 2 };
    otel_carrier_reader r = otel_header_list_reader(&list);
    return otel_propagator_extract(p, NULL, &r);
}

/* True when |c| holds what extract_one() put into it, read through inject. */
static bool context_intact(const otel_propagator *p, const otel_context *c, const char *tracestate)
{
    otel_header out[4];
    char bytes[512];
    otel_header_buffer b;
    otel_header_buffer_init(&b, out, 4, bytes, sizeof(bytes));
    otel_carrier_writer w = otel_header_buffer_writer(&b);
    otel_propagator_inject(p, c, &w);
    return b.count == 2 && b.headers[0].value.len == strlen(k_traceparent) &&
           memcmp(b.headers[0].value.data, k_traceparent, strlen(k_traceparent)) == 0 &&
           b.headers[1].value.len == strlen(tracestate) &&
           memcmp(b.headers[1].value.data, tracestate, strlen(tracestate)) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Extract on some threads, release on others
 * ------------------------------------------------------------------------------------------- */

/* Trace states of several sizes, so blocks of more than one size class travel. */
static const char *const g_states[] = {
    "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    "a=1",
    "vendor1=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,vendor2=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb,"
    "vendor3=cccccccccccccccccccccccccccccccccccccccccccc,vendor4=dddddddddddddddddddddddddddddddddddddddd",
};
#define STATES (sizeof(g_states) / sizeof(g_states[0]))

struct handoff {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    otel_context *items[QUEUE_CAP];
    size_t states[QUEUE_CAP];
    size_t head;
    size_t count;
    size_t producers_left;
    otel_propagator p;
    _Atomic size_t bad;
};

static void *extractor(void *arg)
{
    struct handoff *q = arg;
    for (size_t i = 0; i < PER_THREAD; i++) {
        size_t s = i % STATES;
        otel_context *c = extract_one(&q->p, g_states[s]);
        if (i % 3 == 0) {
            /* Some stay on this thread: released here, the blocks are reused here. */
            if (!context_intact(&q->p, c, g_states[s]))
                atomic_fetch_add(&q->bad, 1);
            otel_context_release(c);
            continue;
        }
        pthread_mutex_lock(&q->lock);
        while (q->count == QUEUE_CAP)
            pthread_cond_wait(&q->not_full, &q->lock);
        size_t at = (q->head + q->count) % QUEUE_CAP;
        q->items[at] = c;
        q->states[at] = s;
        q->count++;
        pthread_cond_signal(&q->not_empty);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_lock(&q->lock);
    q->producers_left--;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static void *releaser(void *arg)
{
    struct handoff *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->count == 0 && q->producers_left > 0)
            pthread_cond_wait(&q->not_empty, &q->lock);
        if (q->count == 0) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        otel_context *c = q->items[q->head];
        size_t s = q->states[q->head];
        q->head = (q->head + 1) % QUEUE_CAP;
        q->count--;
        pthread_cond_signal(&q->not_full);
        pthread_mutex_unlock(&q->lock);
        if (!context_intact(&q->p, c, g_states[s]))
            atomic_fetch_add(&q->bad, 1);
        otel_context_release(c);
        /* A releasing thread also extracts now and then: it takes from the blocks it holds. */
        if (s == 0) {
            otel_context *own = extract_one(&q->p, g_states[1]);
            if (!context_intact(&q->p, own, g_states[1]))
                atomic_fetch_add(&q->bad, 1);
            otel_context_release(own);
        }
    }
}

static void test_contexts_released_on_other_threads_leak_nothing(void **state)
{
    (void)state;
    static struct handoff q;
    memset(&q, 0, sizeof(q));
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.not_empty, NULL);
    pthread_cond_init(&q.not_full, NULL);
    q.producers_left = EXTRACTORS;
    assert_int_equal(otel_propagator_tracecontext(&q.p), OTEL_OK);

    otel__mem_set_hooks(&g_counting);
    long before = atomic_load(&g_live);
    pthread_t ex[EXTRACTORS], rel[RELEASERS];
    for (size_t i = 0; i < EXTRACTORS; i++)
        assert_int_equal(pthread_create(&ex[i], NULL, extractor, &q), 0);
    for (size_t i = 0; i < RELEASERS; i++)
        assert_int_equal(pthread_create(&rel[i], NULL, releaser, &q), 0);
    for (size_t i = 0; i < EXTRACTORS; i++)
        assert_int_equal(pthread_join(ex[i], NULL), 0);
    for (size_t i = 0; i < RELEASERS; i++)
        assert_int_equal(pthread_join(rel[i], NULL), 0);
    long after = atomic_load(&g_live);
    otel__mem_set_hooks(NULL);

    assert_int_equal(atomic_load(&q.bad), 0);
    assert_int_equal(q.count, 0);
    /* Every thread's cached blocks were freed when it exited. */
    assert_int_equal(after, before);
    otel_propagator_destroy(&q.p);
    pthread_cond_destroy(&q.not_full);
    pthread_cond_destroy(&q.not_empty);
    pthread_mutex_destroy(&q.lock);
}

/* ---------------------------------------------------------------------------------------------
 * One thread: bounded cache, no allocation in steady state, freed at exit
 * ------------------------------------------------------------------------------------------- */

struct bounded_result {
    long cached_after_burst; /* blocks the thread kept after releasing 200 contexts */
    long steady_allocations; /* allocations of 1000 extract + release pairs once warm */
    bool intact;
};

static void *burst_then_steady(void *arg)
{
    struct bounded_result *r = arg;
    otel_propagator p;
    otel_propagator_tracecontext(&p);
    long start = atomic_load(&g_live);
    otel_context *held[200];
    for (size_t i = 0; i < 200; i++)
        held[i] = extract_one(&p, k_tracestate);
    for (size_t i = 0; i < 200; i++)
        otel_context_release(held[i]);
    r->cached_after_burst = atomic_load(&g_live) - start;
    r->intact = true;
    long warm = atomic_load(&g_allocs);
    for (size_t i = 0; i < 1000; i++) {
        otel_context *c = extract_one(&p, k_tracestate);
        r->intact = r->intact && context_intact(&p, c, k_tracestate);
        otel_context_release(c);
    }
    r->steady_allocations = atomic_load(&g_allocs) - warm;
    /* A flushed cache holds nothing; what it held is freed at once. */
    otel__cache_flush();
    if (atomic_load(&g_live) != start)
        r->intact = false;
    /* Fill it again: the thread's exit must free this. */
    otel_context_release(extract_one(&p, k_tracestate));
    return NULL;
}

static void test_thread_cache_is_bounded_and_freed_at_exit(void **state)
{
    (void)state;
    otel__mem_set_hooks(&g_counting);
    long before = atomic_load(&g_live);
    struct bounded_result r = { 0 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, burst_then_steady, &r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    long after = atomic_load(&g_live);
    otel__mem_set_hooks(NULL);

    assert_true(r.intact);
    /* At most OTEL__CACHE_PER_CLASS nodes and as many trace states stay cached. */
    assert_true(r.cached_after_burst > 0);
    assert_true(r.cached_after_burst <= 2 * OTEL__CACHE_PER_CLASS);
    assert_int_equal(r.steady_allocations, 0);
    assert_int_equal(after, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contexts_released_on_other_threads_leak_nothing),
        cmocka_unit_test(test_thread_cache_is_bounded_and_freed_at_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
