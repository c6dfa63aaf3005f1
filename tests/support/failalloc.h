/* Allocation-failure testing on top of the allocation funnel (api/src/mem.h): counts the
 * allocations a scenario makes, then reruns it failing allocation 1, 2, ... N, and checks that
 * every run leaves no allocation behind. Header-only (static inline functions, state per test
 * executable); the hooks forward to libc, so memory allocated before they were installed can
 * be freed while they are installed and the other way round.
 *
 *     static int scenario(void *arg)
 *     {
 *         otel_trace_state *ts = NULL;
 *         otel_status st = otel_trace_state_parse(OTEL_STR("a=1,b=2"), &ts);
 *         otel_trace_state_release(ts);
 *         return (int)st;
 *     }
 *     failalloc_result r = failalloc_run(scenario, NULL);
 *     assert_true(r.allocations > 0);
 *     assert_int_equal(r.leaked_run, 0);
 *     assert_int_equal(r.ok_with_failure, 0); // only if every failure must be reported
 */
#ifndef OTEL_TESTS_FAILALLOC_H
#define OTEL_TESTS_FAILALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mem.h"

typedef struct failalloc_state {
    _Atomic size_t count;   /* allocations attempted since the last reset */
    _Atomic size_t fail_at; /* 1-based index of the allocation to fail; 0: none */
    _Atomic bool failed;    /* an allocation was failed since the last reset */
    _Atomic long live;      /* successful allocations minus frees, through the hooks */
} failalloc_state;

static failalloc_state failalloc_g;

/* True when this allocation must fail. */
static inline bool failalloc_should_fail(void)
{
    size_t n = atomic_fetch_add(&failalloc_g.count, 1) + 1;
    size_t k = atomic_load(&failalloc_g.fail_at);
    if (k != 0 && n == k) {
        atomic_store(&failalloc_g.failed, true);
        return true;
    }
    return false;
}

static inline void *failalloc_malloc(size_t n)
{
    if (failalloc_should_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&failalloc_g.live, 1);
    return p;
}

static inline void *failalloc_calloc(size_t n, size_t size)
{
    if (failalloc_should_fail())
        return NULL;
    void *p = calloc(n, size);
    if (p)
        atomic_fetch_add(&failalloc_g.live, 1);
    return p;
}

static inline void *failalloc_realloc(void *old, size_t n)
{
    if (failalloc_should_fail())
        return NULL;
    void *p = realloc(old, n);
    if (p && !old)
        atomic_fetch_add(&failalloc_g.live, 1);
    return p;
}

static inline void failalloc_free(void *p)
{
    if (p)
        atomic_fetch_sub(&failalloc_g.live, 1);
    free(p);
}

/* Starts counting from zero and fails allocation |k| from now (1-based; 0: fail none). */
static inline void failalloc_fail_at(size_t k)
{
    atomic_store(&failalloc_g.count, 0);
    atomic_store(&failalloc_g.failed, false);
    atomic_store(&failalloc_g.fail_at, k);
}

/* Installs the counting hooks (failing nothing yet). */
static inline void failalloc_install(void)
{
    static const otel__mem_hooks hooks = {
        failalloc_malloc,
        failalloc_calloc,
        failalloc_realloc,
        failalloc_free,
        true, /* no_cache: every allocation reaches the hooks, so each one can be failed */
    };
    failalloc_fail_at(0);
    otel__mem_set_hooks(&hooks);
}

/* Restores libc. */
static inline void failalloc_uninstall(void)
{
    otel__mem_set_hooks(NULL);
    failalloc_fail_at(0);
}

/* Allocations attempted since the last failalloc_fail_at()/install. */
static inline size_t failalloc_count(void)
{
    return atomic_load(&failalloc_g.count);
}

/* True when an allocation was failed since the last failalloc_fail_at(). */
static inline bool failalloc_failed(void)
{
    return atomic_load(&failalloc_g.failed);
}

/* Allocations made through the hooks and not freed yet (may be negative when memory allocated
 * before the hooks were installed is freed through them). */
static inline long failalloc_live(void)
{
    return atomic_load(&failalloc_g.live);
}

typedef struct failalloc_result {
    size_t allocations;     /* allocations of the scenario run without failures */
    int clean_status;       /* what that run returned (scenarios return 0 for success) */
    size_t runs;            /* failing runs made (== allocations) */
    size_t leaked_run;      /* first k whose run left allocations behind; 0: none leaked */
    long leaked_count;      /* how many that run left behind */
    size_t ok_with_failure; /* first k whose run returned 0 although allocation k failed; 0: none */
} failalloc_result;

/* Runs |scenario| once to count its allocations (N), then N times failing allocation 1..N. The
 * scenario must release everything it allocated before returning; it returns 0 on success and
 * nonzero (e.g. an otel_status) when it saw a failure. Installs and uninstalls the hooks.
 * Memory a scenario keeps on purpose (a per-thread cache warmed up on first use) must be warmed
 * up before calling this, or it shows up as a leak. The hooks bypass the per-thread block cache
 * of otel__cache_malloc (mem.h), so context nodes and trace states are allocated and freed
 * through them as if there were no cache. */
static inline failalloc_result failalloc_run(int (*scenario)(void *arg), void *arg)
{
    failalloc_result r = { 0 };
    failalloc_install();
    long before = failalloc_live();
    r.clean_status = scenario(arg);
    r.allocations = failalloc_count();
    if (failalloc_live() != before && r.leaked_run == 0) {
        r.leaked_run = (size_t)-1; /* the clean run leaked */
        r.leaked_count = failalloc_live() - before;
    }
    for (size_t k = 1; k <= r.allocations; k++) {
        before = failalloc_live();
        failalloc_fail_at(k);
        int st = scenario(arg);
        r.runs++;
        long after = failalloc_live();
        if (after != before && r.leaked_run == 0) {
            r.leaked_run = k;
            r.leaked_count = after - before;
        }
        if (st == 0 && failalloc_failed() && r.ok_with_failure == 0)
            r.ok_with_failure = k;
    }
    failalloc_uninstall();
    return r;
}

#endif
