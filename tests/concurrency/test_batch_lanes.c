/* The batch span processor's lanes with foreign spans and credits (review of the run-copying
 * consumer, the per-segment foreign marks and the inline room count):
 *  - many threads mixing the provider's fast path with foreign spans (clones handed to on_end,
 *    another provider's records) through a small queue in front of a slow exporter: every span
 *    accounted for (exported + dropped == ended), each exported once, no leak (ASan), no race
 *    (TSan);
 *  - queue room a lane holds goes back when its thread exits, when its lane is evicted from the
 *    thread's lane cache, and in a forked child: afterwards one thread fills the queue to exactly
 *    max_queue_size.
 * Runs under ThreadSanitizer in CI. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "sanitizers.h"

OTEL_TEST_TSAN_FORK_OPTIONS()

static void pause_us(int us)
{
    struct timespec ts = { 0, (long)us * 1000L };
    nanosleep(&ts, NULL);
}

static void quiet(void *ud, otel_log_level level, const char *msg)
{
    (void)ud, (void)level, (void)msg;
}

/* Counts exported spans by name ("own", "clone", "other"); spans with any other name, or the
 * same span pointer twice in one batch, are bad. */
struct counting {
    _Atomic uint64_t own, clone, other, bad, calls;
    _Atomic int inside, overlaps;
    int pause_us;
};

static bool named(const otel_span_data *d, const char *s)
{
    size_t n = strlen(s);
    return d->name.len == n && memcmp(d->name.data, s, n) == 0;
}

static otel_export_result counting_export(void *ud, const otel_span_data *const *spans, size_t n,
                                          int64_t timeout_ns)
{
    (void)timeout_ns;
    struct counting *e = ud;
    if (atomic_fetch_add(&e->inside, 1) != 0)
        atomic_fetch_add(&e->overlaps, 1);
    for (size_t i = 0; i < n; i++) {
        const otel_span_data *d = spans[i];
        if (!(d->context.trace_flags & OTEL_TRACE_FLAG_SAMPLED))
            atomic_fetch_add(&e->bad, 1);
        else if (named(d, "own"))
            atomic_fetch_add(&e->own, 1);
        else if (named(d, "clone"))
            atomic_fetch_add(&e->clone, 1);
        else if (named(d, "other"))
            atomic_fetch_add(&e->other, 1);
        else
            atomic_fetch_add(&e->bad, 1);
        for (size_t j = i + 1; j < n && j < i + 64; j++)
            if (spans[j] == d)
                atomic_fetch_add(&e->bad, 1);
    }
    if (e->pause_us)
        pause_us(e->pause_us);
    atomic_fetch_add(&e->calls, 1);
    atomic_fetch_sub(&e->inside, 1);
    return OTEL_EXPORT_SUCCESS;
}

static otel_tracer_provider *make_provider(struct counting *e, const otel_batch_options *bo,
                                           otel_span_processor *bp)
{
    otel_span_exporter ex = { .export_spans = counting_export, .user_data = e };
    assert_int_equal(otel_batch_processor_create(ex, bo, bp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = bp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    return tp;
}

/* A processor that hands every span it sees to a batch processor's on_end: another provider's
 * spans in the batch processor's lanes. */
static _Atomic bool forward_off; /* the batch processor is gone: forward nothing */

static void forward_on_end(void *ud, const otel_span_data *d)
{
    const otel_span_processor *bp = ud;
    if (!atomic_load(&forward_off))
        bp->on_end(bp->user_data, d);
}

static otel_tracer_provider *make_forwarding_provider(otel_span_processor *bp)
{
    static otel_span_processor fwd;
    fwd = (otel_span_processor){ .on_end = forward_on_end, .user_data = bp };
    otel_tracer_provider_options o = { .processors = &fwd, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    return tp;
}

static void end_named(otel_tracer *t, const char *name, int n)
{
    for (int i = 0; i < n; i++) {
        otel_span s = otel_tracer_start_span(t, otel_str_from_cstr(name), NULL);
        otel_span_set_attr_int(s, OTEL_STR("i"), i);
        otel_span_end(s);
    }
}

static void end_clones(otel_span_processor *bp, int n)
{
    otel_span_data src;
    memset(&src, 0, sizeof(src));
    src.name = OTEL_STR("clone");
    src.context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    src.context.trace_id[0] = 1;
    src.context.span_id[0] = 1;
    for (int i = 0; i < n; i++) {
        otel_span_data *c;
        assert_int_equal(otel_span_data_clone(&src, &c), OTEL_OK);
        bp->on_end(bp->user_data, c);
        otel_span_data_release(c);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Mixed producers
 * ------------------------------------------------------------------------------------------- */

#define MIX_THREADS 8
#define MIX_SPANS 6000

struct mix_arg {
    otel_tracer *own;
    otel_tracer *other;
    otel_span_processor *bp;
    int seed;
    uint64_t own_n, clone_n, other_n;
};

static void *mix_producer(void *p)
{
    struct mix_arg *a = p;
    unsigned x = (unsigned)a->seed * 2654435761u + 1u;
    for (int i = 0; i < MIX_SPANS;) {
        x = x * 1103515245u + 12345u;
        int kind = (int)((x >> 16) % 10u);
        int run = 1 + (int)((x >> 8) % 70u); /* runs of one kind, some over 64 */
        if (run > MIX_SPANS - i)
            run = MIX_SPANS - i;
        if (kind < 6) {
            end_named(a->own, "own", run);
            a->own_n += (uint64_t)run;
        } else if (kind < 8) {
            end_clones(a->bp, run);
            a->clone_n += (uint64_t)run;
        } else {
            end_named(a->other, "other", run);
            a->other_n += (uint64_t)run;
        }
        i += run;
        if (((x >> 4) & 3u) == 0)
            pause_us(50); /* now and then the exporter catches up */
    }
    return NULL;
}

struct ticker_arg {
    otel_span_processor *bp;
    _Atomic bool stop;
};

static void *ticker(void *p)
{
    struct ticker_arg *a = p;
    while (!atomic_load(&a->stop)) {
        otel_batch_processor_tick(a->bp);
        pause_us(20);
    }
    return NULL;
}

static void run_mixed(bool event_loop)
{
    otel_log_set_handler(quiet, NULL, OTEL_LOG_WARN);
    struct counting e = { .pause_us = 40 };
    otel_batch_options bo = { .max_queue_size = 2048,
                              .max_export_batch_size = 96,
                              .schedule_delay_ns = 2000000,
                              .no_thread = event_loop };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer_provider *other_tp = make_forwarding_provider(&bp);
    otel_tracer *own = otel_tracer_provider_get_tracer(tp, OTEL_STR("own"), NULL);
    otel_tracer *other = otel_tracer_provider_get_tracer(other_tp, OTEL_STR("other"), NULL);
    end_named(own, "own", 1); /* the processor learns its provider from its own spans */

    struct ticker_arg ta = { &bp, false };
    pthread_t tk;
    if (event_loop)
        assert_int_equal(pthread_create(&tk, NULL, ticker, &ta), 0);
    pthread_t th[MIX_THREADS];
    struct mix_arg args[MIX_THREADS];
    for (int i = 0; i < MIX_THREADS; i++) {
        args[i] = (struct mix_arg){ own, other, &bp, i + 1, 0, 0, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, mix_producer, &args[i]), 0);
    }
    uint64_t own_n = 1, clone_n = 0, other_n = 0;
    for (int i = 0; i < MIX_THREADS; i++) {
        pthread_join(th[i], NULL);
        own_n += args[i].own_n;
        clone_n += args[i].clone_n;
        other_n += args[i].other_n;
    }
    if (event_loop) {
        atomic_store(&ta.stop, true);
        pthread_join(tk, NULL);
    }
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    otel_batch_processor_stats st;
    assert_int_equal(otel_batch_processor_get_stats(&bp, &st), OTEL_OK);
    uint64_t ended = own_n + clone_n + other_n;
    uint64_t dropped = st.spans_dropped_full + st.spans_dropped_shutdown + st.spans_dropped_other;
    print_message("ended %llu (own %llu clone %llu other %llu) exported %llu dropped %llu\n",
                  (unsigned long long)ended, (unsigned long long)own_n, (unsigned long long)clone_n,
                  (unsigned long long)other_n, (unsigned long long)st.spans_exported,
                  (unsigned long long)dropped);
    assert_int_equal(st.spans_received, ended);
    assert_int_equal(st.spans_queued, 0);
    assert_int_equal(st.spans_exported + dropped, ended);
    assert_int_equal(atomic_load(&e.own) + atomic_load(&e.clone) + atomic_load(&e.other), st.spans_exported);
    assert_true(atomic_load(&e.own) <= own_n);
    assert_true(atomic_load(&e.clone) <= clone_n);
    assert_true(atomic_load(&e.other) <= other_n);
    assert_int_equal(atomic_load(&e.bad), 0);
    assert_int_equal(atomic_load(&e.overlaps), 0);
    otel_tracer_provider_destroy(tp);
    otel_tracer_provider_destroy(other_tp);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
}

static void test_lanes_mixed_fast_path_and_foreign_spans_every_span_accounted_for(void **state)
{
    (void)state;
    run_mixed(false);
}

/* The same with the event-loop mode's tick on another thread as the consumer. */
static void test_lanes_mixed_spans_event_loop_mode_every_span_accounted_for(void **state)
{
    (void)state;
    run_mixed(true);
}

/* ---------------------------------------------------------------------------------------------
 * Queue room given back
 * ------------------------------------------------------------------------------------------- */

#define Q 256

/* Ends |n| more own spans than fit on the calling thread and checks that the queue held exactly
 * max_queue_size of them (event-loop mode: nothing is exported meanwhile). */
static void fill_exactly(otel_span_processor *bp, otel_tracer *t)
{
    otel_batch_processor_stats before, after;
    assert_int_equal(otel_batch_processor_get_stats(bp, &before), OTEL_OK);
    assert_int_equal(before.spans_queued, 0);
    end_named(t, "own", Q + 40);
    assert_int_equal(otel_batch_processor_get_stats(bp, &after), OTEL_OK);
    print_message("queued %llu of %d, dropped (full) %llu\n", (unsigned long long)after.spans_queued, Q,
                  (unsigned long long)(after.spans_dropped_full - before.spans_dropped_full));
    assert_int_equal(after.spans_queued, Q);
    assert_int_equal(after.spans_dropped_full - before.spans_dropped_full, 40);
}

struct few_arg {
    otel_tracer *t;
    otel_span_processor *bp;
};

static void *end_a_few(void *p)
{
    struct few_arg *a = p;
    end_named(a->t, "own", 3); /* takes a chunk of credits, uses 3 */
    end_clones(a->bp, 2);
    return NULL;
}

static void test_lanes_exiting_threads_give_their_room_back(void **state)
{
    (void)state;
    otel_log_set_handler(quiet, NULL, OTEL_LOG_ERROR);
    struct counting e = { 0 };
    otel_batch_options bo = { .no_thread = true, .max_queue_size = Q, .max_export_batch_size = 64 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("room"), NULL);
    struct few_arg a = { t, &bp };
    for (int wave = 0; wave < 5; wave++) { /* later waves adopt the lanes of earlier ones */
        pthread_t th[6];
        for (int i = 0; i < 6; i++)
            assert_int_equal(pthread_create(&th[i], NULL, end_a_few, &a), 0);
        for (int i = 0; i < 6; i++)
            pthread_join(th[i], NULL);
    }
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&e.own) + atomic_load(&e.clone), 5 * 6 * 5);
    fill_exactly(&bp, t);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    fill_exactly(&bp, t); /* and again, on a lane that has been round its segments */
    otel_tracer_provider_destroy(tp);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
}

/* A thread keeps a lane for 8 processors at once: using 8 others evicts its lane into the first
 * one, which must give its room back while the thread lives on. */
struct evict_arg {
    otel_tracer *t;
    otel_span_processor *others;
    _Atomic int step;
};

static void *end_then_evict(void *p)
{
    struct evict_arg *a = p;
    end_named(a->t, "own", 3);
    for (int i = 0; i < 8; i++)
        end_clones(&a->others[i], 1);
    atomic_store(&a->step, 1);
    while (atomic_load(&a->step) != 2)
        pause_us(100);
    end_named(a->t, "own", 1); /* its lane comes back: still works */
    return NULL;
}

static void test_lanes_evicted_lane_gives_its_room_back(void **state)
{
    (void)state;
    otel_log_set_handler(quiet, NULL, OTEL_LOG_ERROR);
    struct counting e = { 0 }, e2 = { 0 };
    otel_batch_options bo = { .no_thread = true, .max_queue_size = Q, .max_export_batch_size = 64 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("room"), NULL);
    otel_span_processor others[8];
    otel_span_exporter ex = { .export_spans = counting_export, .user_data = &e2 };
    otel_batch_options obo = { .no_thread = true };
    for (int i = 0; i < 8; i++)
        assert_int_equal(otel_batch_processor_create(ex, &obo, &others[i]), OTEL_OK);
    struct evict_arg a = { t, others, 0 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, end_then_evict, &a), 0);
    while (atomic_load(&a.step) != 1)
        pause_us(100);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    fill_exactly(&bp, t);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    atomic_store(&a.step, 2);
    pthread_join(th, NULL);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&e.own), 3 + Q + 1);
    for (int i = 0; i < 8; i++)
        others[i].destroy(others[i].user_data);
    assert_int_equal(atomic_load(&e2.clone), 8);
    otel_tracer_provider_destroy(tp);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
}

/* Room held at fork: the parent's thread holds room in its lane (it ended a few spans), other
 * threads hold some in theirs; the child's one thread fills the queue to exactly its size. */
static void test_lanes_forked_child_has_the_whole_queue(void **state)
{
    (void)state;
    otel_log_set_handler(quiet, NULL, OTEL_LOG_ERROR);
    struct counting e = { 0 };
    otel_batch_options bo = { .no_thread = true, .max_queue_size = Q, .max_export_batch_size = 64 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("fork"), NULL);
    end_named(t, "own", 5);
    end_clones(&bp, 2);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child: the parent's 7 are dropped at its first use, then the queue is whole. */
        int code = 0;
        end_named(t, "own", Q + 40);
        otel_batch_processor_stats st;
        otel_batch_processor_get_stats(&bp, &st);
        if (st.spans_queued != Q)
            code |= 1;
        if (otel_batch_processor_tick(&bp) != OTEL_OK)
            code |= 2;
        if (otel_tracer_provider_force_flush(tp, 0) != OTEL_OK)
            code |= 4;
        if (atomic_load(&e.own) != Q || atomic_load(&e.clone) != 0)
            code |= 8;
        end_named(t, "own", Q + 40); /* and again, with the room the exports gave back */
        otel_batch_processor_get_stats(&bp, &st);
        if (st.spans_queued != Q)
            code |= 16;
        if (code)
            fprintf(stderr, "child: queued %llu exported own %llu clone %llu\n",
                    (unsigned long long)st.spans_queued, (unsigned long long)atomic_load(&e.own),
                    (unsigned long long)atomic_load(&e.clone));
        _exit(code);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's own spans are still its own. */
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&e.own), 5);
    assert_int_equal(atomic_load(&e.clone), 2);
    fill_exactly(&bp, t);
    otel_tracer_provider_destroy(tp);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
}

/* The batch processor learns "its" provider from the first span it sees. When that is another
 * provider's span handed to on_end (a foreign span, which the design allows), the processor
 * takes that provider for its own: its fast path then binds the producing thread to the other
 * provider's pool and sends the fast path's records home in that pool's arrays, so the other
 * provider's spans are started on this provider's records (and once this provider is destroyed,
 * on freed memory). */
static void test_lanes_another_providers_span_first_keeps_the_pools_apart(void **state)
{
    (void)state;
    otel_log_set_handler(quiet, NULL, OTEL_LOG_ERROR);
    atomic_store(&forward_off, false);
    struct counting e = { 0 };
    otel_batch_options bo = { .schedule_delay_ns = 3600ll * 1000000000ll };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer_provider *other_tp = make_forwarding_provider(&bp);
    otel_tracer *own = otel_tracer_provider_get_tracer(tp, OTEL_STR("own"), NULL);
    otel_tracer *other = otel_tracer_provider_get_tracer(other_tp, OTEL_STR("other"), NULL);
    end_named(other, "other", 1); /* the first span the batch processor sees */
    for (int round = 0; round < 4; round++) {
        end_named(own, "own", 300);
        assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
        end_named(other, "other", 300);
        assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    }
    assert_int_equal(atomic_load(&e.own), 4 * 300);
    assert_int_equal(atomic_load(&e.other), 4 * 300 + 1);
    otel_tracer_provider_stats ps, qs;
    assert_int_equal(otel_tracer_provider_get_stats(tp, &ps), OTEL_OK);
    assert_int_equal(otel_tracer_provider_get_stats(other_tp, &qs), OTEL_OK);
    print_message("own provider: %llu ended; other provider: %llu ended\n",
                  (unsigned long long)ps.spans_ended, (unsigned long long)qs.spans_ended);
    assert_int_equal(ps.spans_ended, 4 * 300);
    assert_int_equal(qs.spans_ended, 4 * 300 + 1);
    end_named(own, "own", 300); /* their records are on their way home when tp goes */
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    atomic_store(&forward_off, true);
    otel_tracer_provider_destroy(tp);
    end_named(other, "other", 300); /* must not touch the destroyed provider's records */
    otel_tracer_provider_destroy(other_tp);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
}

/* fork() while other threads are in the middle of queueing (the inline fast path has no lock
 * for fork's prepare handler to wait for): the child's new threads adopt the lanes of the
 * parent's producers, and must export exactly their own spans, none of the parent's, none lost. */
struct hammer {
    otel_tracer *t;
    otel_span_processor *clones_to; /* non-NULL: queue clones through on_end instead */
    _Atomic bool stop;
};

static void *hammer_producer(void *p)
{
    struct hammer *h = p;
    while (!atomic_load(&h->stop)) {
        if (h->clones_to)
            end_clones(h->clones_to, 16);
        else
            end_named(h->t, "bg", 16);
    }
    return NULL;
}

#define FORK_KIDS 1200 /* the window is a few instructions: about 1 child in 250 hits it */
#define KID_THREADS 4
#define KID_SPANS 40

static struct counting fork_counts;

static void *kid_producer(void *p)
{
    end_named(p, "own", KID_SPANS);
    return NULL;
}

static void fork_while_queueing(bool clones);

static void test_lanes_fork_while_threads_queue_child_adopts_their_lanes(void **state)
{
    (void)state;
    fork_while_queueing(false);
}

/* The same with the parent's threads queueing foreign spans (clones through on_end): a slot the
 * child reads without its foreign mark is a clone taken for a record of the pool. */
static void test_lanes_fork_while_threads_queue_foreign_spans_child_adopts_their_lanes(void **state)
{
    (void)state;
    fork_while_queueing(true);
}

static void fork_while_queueing(bool clones)
{
#if defined(UNDER_TSAN) || defined(UNDER_ASAN)
    skip(); /* children start threads; the sanitizers' allocators are not fork-safe (gcc 12) */
#endif
    otel_log_set_handler(quiet, NULL, OTEL_LOG_ERROR);
    memset(&fork_counts, 0, sizeof(fork_counts));
    otel_batch_options bo = { .max_queue_size = 65536,
                              .max_export_batch_size = 512,
                              .schedule_delay_ns = 1000000 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&fork_counts, &bo, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("fork"), NULL);
    struct hammer h = { t, clones ? &bp : NULL, false };
    pthread_t bg[KID_THREADS];
    for (int i = 0; i < KID_THREADS; i++)
        assert_int_equal(pthread_create(&bg[i], NULL, hammer_producer, &h), 0);
    pause_us(2000);
    int bad = 0;
    int kids = clones ? FORK_KIDS / 8 : FORK_KIDS; /* clones: a slower path, a smaller window */
    for (int k = 0; k < kids; k++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            atomic_store(&fork_counts.own, 0);
            atomic_store(&fork_counts.bad, 0);
            atomic_store(&fork_counts.clone, 0);
            pthread_t th[KID_THREADS];
            for (int i = 0; i < KID_THREADS; i++)
                if (pthread_create(&th[i], NULL, kid_producer, t) != 0)
                    _exit(100);
            for (int i = 0; i < KID_THREADS; i++)
                pthread_join(th[i], NULL);
            if (otel_tracer_provider_force_flush(tp, INT64_C(20000000000)) != OTEL_OK)
                _exit(101);
            uint64_t own = atomic_load(&fork_counts.own),
                     bgn = atomic_load(&fork_counts.bad) + atomic_load(&fork_counts.clone);
            /* "bg" spans count as bad: the parent's */
            if (own != KID_THREADS * KID_SPANS || bgn != 0) {
                fprintf(stderr, "child %d: exported %llu own of %d, %llu of the parent's\n", k,
                        (unsigned long long)own, KID_THREADS * KID_SPANS, (unsigned long long)bgn);
                _exit(1);
            }
            _exit(0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "child %d: %s %d\n", k, WIFEXITED(status) ? "exit" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        if ((!WIFEXITED(status) || WEXITSTATUS(status) != 0) && ++bad == 2)
            break; /* shown */
    }
    atomic_store(&h.stop, true);
    for (int i = 0; i < KID_THREADS; i++)
        pthread_join(bg[i], NULL);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    print_message("%d children exported the wrong spans\n", bad);
    assert_int_equal(bad, 0);
    otel_tracer_provider_destroy(tp);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lanes_mixed_fast_path_and_foreign_spans_every_span_accounted_for),
        cmocka_unit_test(test_lanes_mixed_spans_event_loop_mode_every_span_accounted_for),
        cmocka_unit_test(test_lanes_exiting_threads_give_their_room_back),
        cmocka_unit_test(test_lanes_evicted_lane_gives_its_room_back),
        cmocka_unit_test(test_lanes_forked_child_has_the_whole_queue),
        cmocka_unit_test(test_lanes_another_providers_span_first_keeps_the_pools_apart),
        cmocka_unit_test(test_lanes_fork_while_threads_queue_child_adopts_their_lanes),
        cmocka_unit_test(test_lanes_fork_while_threads_queue_foreign_spans_child_adopts_their_lanes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
