/* The batch span processor (sdk/src/batch_processor.c): export by batch size and by schedule
 * delay, force_flush and shutdown semantics (deadlines, idempotence, a hanging exporter), drops
 * on a full queue, counters, only sampled spans queued, the export timeout handed to the
 * exporter, exporters that retain spans, the generic (composite) path, event-loop mode, and
 * creation under failing allocations. Waits on the worker are bounded polls with generous
 * timeouts, never sleeps used as synchronisation. */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "failalloc.h"
#include "log_capture.h"
#include "log_internal.h"
#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "sdk_testlib.h"
#include "batch.h"

#define MS INT64_C(1000000)
#define HOUR (INT64_C(3600) * 1000 * MS)
#define WAIT_LIMIT_MS 20000 /* generous: CI machines are slow and shared */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
    struct timespec ts = { 0, (long)ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* Polls |cond| until it holds or WAIT_LIMIT_MS passed; returns whether it held. */
#define WAIT_FOR(cond)                             \
    __extension__({                                \
        int64_t until_ = now_ms() + WAIT_LIMIT_MS; \
        while (!(cond) && now_ms() < until_)       \
            pause_ms(1);                           \
        (bool)(cond);                              \
    })

/* ---------------------------------------------------------------------------------------------
 * A gate in front of the collector: exports block while the gate is closed, and the test can
 * wait until an export is inside.
 * ------------------------------------------------------------------------------------------- */

typedef struct gate {
    collector c;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool closed;
    _Atomic int inside;     /* exports waiting at the closed gate */
    _Atomic int concurrent; /* exports running now */
    _Atomic int overlaps;   /* times two exports ran at once */
    _Atomic int64_t last_timeout;
    _Atomic int retain; /* keep every span (otel_span_data_retain) */
    const otel_span_data *retained[64];
    _Atomic int retained_count;
    pthread_t export_thread;
    _Atomic bool export_thread_set;
} gate;

static otel_export_result gate_export(void *ud, const otel_span_data *const *spans, size_t n,
                                      int64_t timeout_ns)
{
    gate *g = ud;
    if (atomic_fetch_add(&g->concurrent, 1) != 0)
        atomic_fetch_add(&g->overlaps, 1);
    atomic_store(&g->last_timeout, timeout_ns);
    g->export_thread = pthread_self();
    atomic_store(&g->export_thread_set, true);
    pthread_mutex_lock(&g->lock);
    atomic_fetch_add(&g->inside, 1);
    while (g->closed)
        pthread_cond_wait(&g->cv, &g->lock);
    atomic_fetch_sub(&g->inside, 1);
    pthread_mutex_unlock(&g->lock);
    if (atomic_load(&g->retain)) {
        for (size_t i = 0; i < n; i++) {
            int k = atomic_fetch_add(&g->retained_count, 1);
            if (k < 64)
                g->retained[k] = otel_span_data_retain(spans[i]);
        }
    }
    otel_export_result r = collector_export(&g->c, spans, n, timeout_ns);
    atomic_fetch_sub(&g->concurrent, 1);
    return r;
}

static otel_status gate_flush(void *ud, int64_t timeout_ns)
{
    return collector_flush(&((gate *)ud)->c, timeout_ns);
}

static otel_status gate_shutdown(void *ud, int64_t timeout_ns)
{
    return collector_shutdown(&((gate *)ud)->c, timeout_ns);
}

static void gate_destroy(void *ud)
{
    collector_destroy(&((gate *)ud)->c);
}

static void gate_init(gate *g)
{
    memset(g, 0, sizeof(*g));
    collector_init(&g->c);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_set(gate *g, bool closed)
{
    pthread_mutex_lock(&g->lock);
    g->closed = closed;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->lock);
}

/* Spans an exporter retains live in the provider's records: give them back before the provider
 * is destroyed. */
static void gate_release_retained(gate *g)
{
    int n = atomic_load(&g->retained_count);
    for (int i = 0; i < n && i < 64; i++)
        otel_span_data_release(g->retained[i]);
    atomic_store(&g->retained_count, 0);
}

static void gate_cleanup(gate *g)
{
    collector_cleanup(&g->c);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cv);
}

static otel_span_exporter gate_exporter(gate *g)
{
    otel_span_exporter e = {
        .export_spans = gate_export,
        .force_flush = gate_flush,
        .shutdown = gate_shutdown,
        .destroy = gate_destroy,
        .user_data = g,
    };
    return e;
}

/* A provider whose only processor is a batch processor in front of |g|. */
struct fx {
    gate g;
    otel_span_processor bp;
    otel_tracer_provider *tp;
    otel_tracer *t;
};

static struct fx *fx_new(const otel_batch_options *bo, const otel_tracer_provider_options *po)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    gate_init(&f->g);
    assert_int_equal(otel_batch_processor_create(gate_exporter(&f->g), bo, &f->bp), OTEL_OK);
    otel_tracer_provider_options o = { 0 };
    if (po)
        o = *po;
    o.processors = &f->bp;
    o.processor_count = 1;
    assert_int_equal(otel_tracer_provider_create(&o, &f->tp), OTEL_OK);
    f->t = otel_tracer_provider_get_tracer(f->tp, OTEL_STR("batch-test"), NULL);
    return f;
}

static void fx_free(struct fx *f)
{
    gate_set(&f->g, false);
    gate_release_retained(&f->g);
    otel_tracer_provider_destroy(f->tp);
    assert_int_equal(atomic_load(&f->g.c.destroy_calls), 1);
    assert_int_equal(atomic_load(&f->g.overlaps), 0);
    gate_cleanup(&f->g);
    free(f);
}

static void end_spans(struct fx *f, const char *name, int n)
{
    for (int i = 0; i < n; i++) {
        otel_span s = otel_tracer_start_span(f->t, otel_str_from_cstr(name), NULL);
        otel_span_set_attr_int(s, OTEL_STR("i"), i);
        otel_span_end(s);
    }
}

static otel_batch_processor_stats stats_of(struct fx *f)
{
    otel_batch_processor_stats st;
    assert_int_equal(otel_batch_processor_get_stats(&f->bp, &st), OTEL_OK);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Creation
 * ------------------------------------------------------------------------------------------- */

static void test_batch_create_rejects_invalid_arguments_and_owns_nothing(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    otel_span_processor bp;
    otel_span_exporter none = { 0 };
    assert_int_equal(otel_batch_processor_create(gate_exporter(&g), NULL, NULL), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_batch_processor_create(none, NULL, &bp), OTEL_ERR_INVALID_ARG);
    otel_batch_options neg = { .schedule_delay_ns = -1 };
    assert_int_equal(otel_batch_processor_create(gate_exporter(&g), &neg, &bp), OTEL_ERR_INVALID_ARG);
    otel_batch_options huge = { .max_queue_size = (1u << 24) + 1 };
    assert_int_equal(otel_batch_processor_create(gate_exporter(&g), &huge, &bp), OTEL_ERR_INVALID_ARG);
    assert_int_equal(atomic_load(&g.c.destroy_calls), 0);
    gate_cleanup(&g);
}

static void test_batch_create_and_destroy_without_a_provider(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    otel_span_processor bp;
    assert_int_equal(otel_batch_processor_create(gate_exporter(&g), NULL, &bp), OTEL_OK);
    bp.destroy(bp.user_data); /* shuts down first */
    assert_int_equal(atomic_load(&g.c.shutdown_calls), 1);
    assert_int_equal(atomic_load(&g.c.destroy_calls), 1);
    gate_cleanup(&g);
}

static void test_batch_stats_and_event_loop_calls_reject_other_processors(void **state)
{
    (void)state;
    collector c;
    collector_init(&c);
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c), &sp), OTEL_OK);
    otel_batch_processor_stats st;
    assert_int_equal(otel_batch_processor_get_stats(&sp, &st), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_batch_processor_get_stats(NULL, &st), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_batch_processor_fd(&sp), -1);
    assert_int_equal(otel_batch_processor_next_timeout_ns(&sp), -1);
    assert_int_equal(otel_batch_processor_tick(&sp), OTEL_ERR_INVALID_ARG);
    sp.destroy(sp.user_data);
    collector_cleanup(&c);
}

/* ---------------------------------------------------------------------------------------------
 * When exports happen
 * ------------------------------------------------------------------------------------------- */

static void test_batch_exports_a_full_batch_without_waiting_for_the_delay(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_export_batch_size = 4, .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "full", 4);
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == 4));
    assert_int_equal(atomic_load(&f->g.c.export_calls), 1);
    end_spans(f, "partial", 3); /* less than a batch: waits for the (hour-long) delay */
    pause_ms(50);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 4);
    assert_int_equal(stats_of(f).spans_queued, 3);
    fx_free(f);
}

/* Hands the processor a sampled span named "foreign" that is not one of the provider's records
 * (a clone) through on_end, as a composite processor or the application would; the queue keeps
 * a reference of its own. */
static void end_foreign_span(struct fx *f)
{
    otel_span_data src;
    memset(&src, 0, sizeof(src));
    src.name = OTEL_STR("foreign");
    src.context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    src.context.trace_id[0] = 1;
    src.context.span_id[0] = 1;
    otel_span_data *c;
    assert_int_equal(otel_span_data_clone(&src, &c), OTEL_OK);
    f->bp.on_end(f->bp.user_data, c);
    otel_span_data_release(c);
}

/* Spans handed to on_end directly (clones here: "foreign" to the provider's fast path, the queue
 * holds a reference of its own) interleaved with the provider's own spans in one thread's lane:
 * runs of both kinds cross segment and batch boundaries. Every span is exported once, each kind
 * is given back its own way (the clones released, which ASan checks, the records reused). */
static void test_batch_mixes_foreign_spans_with_the_fast_path(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_queue_size = 4096,
                              .max_export_batch_size = 100,
                              .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    int own = 0, foreign = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 700; i++) {
            if (i % 3 == 1 || (i >= 300 && i < 380)) { /* singles, and a run over 64 */
                end_foreign_span(f);
                foreign++;
            } else {
                end_spans(f, "own", 1);
                own++;
            }
        }
        assert_int_equal(otel_tracer_provider_force_flush(f->tp, 10 * 1000 * MS), OTEL_OK);
    }
    otel_batch_processor_stats st = stats_of(f);
    assert_int_equal(st.spans_exported, own + foreign);
    assert_int_equal(st.spans_received, own + foreign);
    assert_int_equal(st.spans_queued, 0);
    int seen_own = 0, seen_foreign = 0;
    pthread_mutex_lock(&f->g.c.lock);
    for (size_t i = 0; i < f->g.c.count; i++) {
        otel_str n = f->g.c.spans[i]->name;
        if (n.len == 3 && memcmp(n.data, "own", 3) == 0)
            seen_own++;
        else if (n.len == 7 && memcmp(n.data, "foreign", 7) == 0)
            seen_foreign++;
    }
    pthread_mutex_unlock(&f->g.c.lock);
    assert_int_equal(seen_own, own);
    assert_int_equal(seen_foreign, foreign);
    fx_free(f);
}

/* A clone handed to on_end before any of the provider's own spans: the processor must not take
 * it for a record (a clone names no provider to learn), and the fast path must work
 * once the own spans come. */
static void test_batch_foreign_span_first_then_the_fast_path(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_queue_size = 1024,
                              .max_export_batch_size = 64,
                              .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    end_foreign_span(f);
    for (int round = 0; round < 5; round++) {
        end_spans(f, "own", 300);
        assert_int_equal(otel_tracer_provider_force_flush(f->tp, 10 * 1000 * MS), OTEL_OK);
    }
    otel_batch_processor_stats st = stats_of(f);
    assert_int_equal(st.spans_exported, 1 + 5 * 300);
    assert_int_equal(st.spans_received, 1 + 5 * 300);
    otel_tracer_provider_stats ps;
    assert_int_equal(otel_tracer_provider_get_stats(f->tp, &ps), OTEL_OK);
    assert_int_equal(ps.spans_ended, 5 * 300);
    fx_free(f);
}

/* Under a sustained high rate the worker stops asking producers for a signal per batch: they
 * signal at the high-water mark, and the worker looks every few milliseconds; when the spans
 * stop it goes back to a signal per batch. Both ways a full batch goes out without waiting for
 * the (hour-long) schedule delay: the burst (20 batches in a queue big enough that producers
 * never reach the high-water mark) is exported by the worker's looks, the batch completed after
 * the quiet spell by a producer's signal. */
static void test_batch_exports_full_batches_in_high_water_mode_and_after(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_queue_size = 65536,
                              .max_export_batch_size = 512,
                              .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    for (int round = 0; round < 20; round++)
        end_spans(f, "burst", 512);
    /* The worker exports full batches, and drains smaller remainders at its wake-ups; at most a
     * small remainder it did not see before the spans stopped waits for the delay. */
    assert_true(
        WAIT_FOR(atomic_load(&f->g.c.exported_spans) + (int64_t)stats_of(f).spans_queued == 20 * 512 &&
                 stats_of(f).spans_queued < 512));
    pause_ms(50); /* no arrivals: the worker's next look ends the high-water mode */
    int64_t queued = (int64_t)stats_of(f).spans_queued;
    end_spans(f, "after", 512 - (int)queued); /* completes one batch: a producer's signal */
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == 20 * 512 + 512 - queued));
    otel_batch_processor_stats st = stats_of(f);
    assert_int_equal(st.spans_queued, 0);
    assert_int_equal(st.spans_dropped_full, 0);
    fx_free(f);
}

/* Spans paced at about 1 per microsecond: the worker enters the high-water mode (and drains what
 * waits at each of its wake-ups). The run ends part-way into a batch, so this thread's lane may
 * hold credits taken under the high threshold (no signal). After a pause the worker leaves the
 * mode; the spans that then complete a batch may use those credits and signal nobody, yet the
 * batch must go out at once, not at the (hour-long) schedule delay. */
static void test_batch_exports_a_batch_completed_after_the_high_water_mode_ends(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_queue_size = 65536,
                              .max_export_batch_size = 512,
                              .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    const int first = 20 * 512 + 449;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < first; i++) {
        for (;;) { /* pace: span i no earlier than i microseconds after the start */
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t us = (int64_t)(now.tv_sec - t0.tv_sec) * 1000000 + (now.tv_nsec - t0.tv_nsec) / 1000;
            if (us >= i)
                break;
        }
        end_spans(f, "paced", 1);
    }
    pause_ms(30);
    /* What is still queued (a partial batch the drain left, or nothing) plus the rest of a batch
     * makes exactly one full batch. */
    int64_t queued = (int64_t)stats_of(f).spans_queued;
    int64_t before = atomic_load(&f->g.c.exported_spans);
    int rest = 512 - (int)(queued % 512);
    end_spans(f, "rest", rest);
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == before + queued + rest));
    assert_int_equal(stats_of(f).spans_queued, 0);
    fx_free(f);
}

/* With a larger batch each lane takes credits in chunks (16 here), so the producer that
 * signals holds credits it has not used yet: the batch must still go out without the delay. */
static void test_batch_exports_a_full_batch_taken_in_credit_chunks(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_export_batch_size = 64, .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "chunked", 64);
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == 64));
    assert_int_equal(atomic_load(&f->g.c.export_calls), 1);
    fx_free(f);
}

/* CPU time of the whole process, in milliseconds. */
static int64_t cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A batch of one: every span a producer queues is a batch and signals the worker, so a steady
 * stream of spans puts the worker into the high-water mode. Once the spans stop the worker must
 * go back to sleep (nothing is queued), not look at the empty queue in a loop: "at least half a
 * batch waits" must not hold for an empty queue. */
static void test_batch_of_one_worker_sleeps_when_the_spans_stop(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_queue_size = 2048, .max_export_batch_size = 1, .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    for (int i = 0; i < 500; i++) {
        end_spans(f, "one", 1); /* a signal each, about 0.1 ms apart */
        struct timespec ts = { 0, 100000L };
        nanosleep(&ts, NULL);
    }
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == 500));
    pause_ms(20); /* the worker's 5 ms look has passed */
    int64_t cpu0 = cpu_ms(), wall0 = now_ms();
    pause_ms(200);
    int64_t cpu = cpu_ms() - cpu0, wall = now_ms() - wall0;
    print_message("idle for %lld ms: %lld ms of CPU\n", (long long)wall, (long long)cpu);
    assert_true(cpu < wall / 4); /* a spinning worker burns about all of it */
    fx_free(f);
}

/* One thread ending spans as fast as it can for 300 ms, with a CPU to spare: the worker enters
 * the high-water mode and then times its own looks at the rate it measures (paced_wakeups)
 * instead of waiting for the producer's signals, also with a queue large enough that its
 * high-water mark (eight batches) is below half of it. Every span is accounted for. Drops may
 * happen on a busy machine (the default queue holds about 0.1 ms of spans); when there are few,
 * the worker was not starved, and its own looks must outnumber the signals. */
static void paced_run(uint32_t queue, bool pacing)
{
    otel_batch_options bo = { .max_queue_size = queue, .schedule_delay_ns = HOUR, .no_pacing = !pacing };
    struct fx *f = fx_new(&bo, NULL);
    f->g.c.clone = false; /* an exporter that keeps up: count, do not copy */
    int64_t ended = 0, until = now_ms() + 300;
    while (now_ms() < until) {
        end_spans(f, "fast", 1000);
        ended += 1000;
    }
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 10 * 1000 * MS), OTEL_OK);
    otel_batch_processor_stats st = stats_of(f);
    print_message("queue %u%s: %lld spans, %llu exported, %llu dropped; %llu signals, %llu paced "
                  "wake-ups\n",
                  queue, pacing ? "" : " (no_pacing)", (long long)ended,
                  (unsigned long long)st.spans_exported, (unsigned long long)st.spans_dropped_full,
                  (unsigned long long)st.signals, (unsigned long long)st.paced_wakeups);
    assert_int_equal(st.spans_received, ended);
    assert_int_equal(st.spans_exported + st.spans_dropped_full, ended);
    assert_int_equal(st.spans_queued, 0);
    if (!pacing) {
        assert_int_equal(st.paced_wakeups, 0);
    } else {
        assert_true(st.paced_wakeups > 0);
        if (st.spans_dropped_full * 100 < (uint64_t)ended)
            assert_true(st.paced_wakeups > st.signals);
    }
    fx_free(f);
}

static void test_batch_paces_its_looks_under_a_high_rate_with_a_cpu_to_spare(void **state)
{
    (void)state;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) < 2) {
        print_message("one CPU: the worker has none to spare, nothing to check\n");
        skip();
    }
    paced_run(2048, true);
    paced_run(16384, true);
    paced_run(2048, false);
}

/* The pacing arithmetic: the look comes when the queue should be half full (or half the
 * high-water mark, if lower), earlier by the lateness learned, within 20 us and 5 ms. */
static void test_batch_pace_delay(void **state)
{
    (void)state;
    const int64_t us = 1000;
    /* 2048 queue, mark 1536 (target 768), 10 spans/us, nothing waiting, not late: 76.8 us. */
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 0, 0.01, 0), 76800);
    /* Learned lateness comes off; what waits already too. */
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 0, 0.01, 30 * us), 46800);
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 268, 0.01, 0), 50000);
    /* A large queue: half of the mark (8 batches of 512), not half of the queue. */
    assert_int_equal(otel__batch_pace_delay(65536, 4096, 0, 0.01, 0), 204800);
    /* Bounds: at least 20 us (at or past the target, or very late), at most 5 ms. */
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 768, 0.01, 0), 20 * us);
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 5000, 0.01, 0), 20 * us);
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 0, 0.01, 200 * us), 20 * us);
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 0, 1e-9, 0), 5000 * us);
    /* No rate known (or nonsense): the shortest look. */
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 0, 0.0, 0), 20 * us);
    assert_int_equal(otel__batch_pace_delay(2048, 1536, 0, -1.0, 0), 20 * us);
}

static void test_batch_exports_in_batches_of_at_most_the_batch_size(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_queue_size = 100, .max_export_batch_size = 8, .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "many", 40);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 40);
    assert_true(atomic_load(&f->g.c.export_calls) >= 5);
    pthread_mutex_lock(&f->g.c.lock);
    size_t count = f->g.c.count;
    pthread_mutex_unlock(&f->g.c.lock);
    assert_int_equal(count, 40);
    fx_free(f);
}

static void test_batch_exports_a_partial_batch_after_the_schedule_delay(void **state)
{
    (void)state;
    otel_batch_options bo = { .schedule_delay_ns = 20 * MS };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "delayed", 3);
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == 3));
    const otel_span_data *d = collector_find(&f->g.c, "delayed");
    assert_non_null(d);
    assert_non_null(find_attr(d->attrs, d->attr_count, "i"));
    /* And again: the delay restarts after each export. */
    end_spans(f, "later", 2);
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == 5));
    fx_free(f);
}

static otel_sampling_result record_only_for_r(void *ud, const otel_sampling_params *p)
{
    (void)ud;
    otel_sampling_result r = { .decision = OTEL_SAMPLING_RECORD_AND_SAMPLE };
    if (str_is(p->name, "r"))
        r.decision = OTEL_SAMPLING_RECORD_ONLY;
    return r;
}

static void test_batch_queues_only_sampled_spans(void **state)
{
    (void)state;
    otel_tracer_provider_options po = { .sampler = { .should_sample = record_only_for_r } };
    struct fx *f = fx_new(NULL, &po);
    end_spans(f, "r", 5);
    end_spans(f, "s", 2);
    otel_batch_processor_stats st = stats_of(f);
    assert_int_equal(st.spans_received, 7);
    assert_int_equal(st.spans_queued, 2);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 2);
    assert_null(collector_find(&f->g.c, "r"));
    fx_free(f);
}

static void test_batch_passes_the_export_timeout_to_the_exporter(void **state)
{
    (void)state;
    otel_batch_options bo = { .export_timeout_ns = 123 * MS, .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "t", 1);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.last_timeout), 123 * MS);
    fx_free(f);

    /* A flush deadline shorter than the export timeout bounds the export. */
    otel_batch_options bo2 = { .export_timeout_ns = HOUR, .schedule_delay_ns = HOUR };
    f = fx_new(&bo2, NULL);
    end_spans(f, "t", 1);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 10000 * MS), OTEL_OK);
    int64_t t = atomic_load(&f->g.last_timeout);
    assert_true(t > 0 && t <= 10000 * MS);
    fx_free(f);

    /* Negative: no limit (0 for the exporter). */
    otel_batch_options bo3 = { .export_timeout_ns = -1, .schedule_delay_ns = HOUR };
    f = fx_new(&bo3, NULL);
    end_spans(f, "t", 1);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.last_timeout), 0);
    fx_free(f);
}

static void test_batch_counts_failed_exports(void **state)
{
    (void)state;
    otel_batch_options bo = { .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    f->g.c.result = OTEL_EXPORT_FAILURE;
    end_spans(f, "f", 3);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_ERR_EXPORT);
    otel_batch_processor_stats st = stats_of(f);
    assert_int_equal(st.spans_failed, 3);
    assert_int_equal(st.spans_exported, 0);
    otel_tracer_provider_stats ps;
    otel_tracer_provider_get_stats(f->tp, &ps);
    assert_int_equal(ps.spans_failed, 3);
    f->g.c.result = OTEL_EXPORT_SUCCESS;
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * force_flush and shutdown
 * ------------------------------------------------------------------------------------------- */

static void test_batch_force_flush_exports_everything_queued_before_the_call(void **state)
{
    (void)state;
    otel_batch_options bo = { .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "flushed", 10);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 0);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 5000 * MS), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 10);
    assert_int_equal(atomic_load(&f->g.c.flush_calls), 1); /* the exporter's flush too */
    assert_int_equal(stats_of(f).spans_queued, 0);
    /* Nothing queued: still OK. */
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 5000 * MS), OTEL_OK);
    fx_free(f);
}

static void test_batch_force_flush_times_out_while_the_exporter_hangs(void **state)
{
    (void)state;
    otel_batch_options bo = { .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    gate_set(&f->g, true);
    end_spans(f, "stuck", 2);
    int64_t t0 = now_ms();
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 50 * MS), OTEL_ERR_TIMEOUT);
    assert_true(now_ms() - t0 < WAIT_LIMIT_MS);
    assert_true(WAIT_FOR(atomic_load(&f->g.inside) == 1));
    gate_set(&f->g, false);
    assert_true(WAIT_FOR(atomic_load(&f->g.c.exported_spans) == 2));
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    fx_free(f);
}

static void test_batch_shutdown_flushes_is_idempotent_and_drops_later_spans(void **state)
{
    (void)state;
    otel_batch_options bo = { .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "before", 5);
    assert_int_equal(f->bp.shutdown(f->bp.user_data, 5000 * MS), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 5);
    assert_int_equal(atomic_load(&f->g.c.shutdown_calls), 1);
    assert_int_equal(f->bp.shutdown(f->bp.user_data, 5000 * MS), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.shutdown_calls), 1);
    end_spans(f, "after", 3);
    otel_batch_processor_stats st = stats_of(f);
    assert_int_equal(st.spans_dropped_shutdown, 3);
    assert_int_equal(st.spans_queued, 0);
    assert_int_equal(f->bp.force_flush(f->bp.user_data, 0), OTEL_ERR_SHUT_DOWN);
    otel_tracer_provider_stats ps;
    otel_tracer_provider_get_stats(f->tp, &ps);
    assert_int_equal(ps.spans_dropped, 3);
    assert_int_equal(ps.spans_exported, 5);
    fx_free(f);
}

static void test_batch_shutdown_returns_by_its_deadline_while_the_exporter_hangs(void **state)
{
    (void)state;
    log_capture_setup(NULL);
    otel_batch_options bo = { .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    gate_set(&f->g, true);
    end_spans(f, "hung", 3);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 20 * MS), OTEL_ERR_TIMEOUT);
    assert_true(WAIT_FOR(atomic_load(&f->g.inside) == 1));
    end_spans(f, "queued", 2); /* behind the hung export */
    int64_t t0 = now_ms();
    assert_int_equal(otel_tracer_provider_shutdown(f->tp, 100 * MS), OTEL_ERR_TIMEOUT);
    assert_true(now_ms() - t0 < WAIT_LIMIT_MS);
    /* The application goes on, and may even destroy the provider: the abandoned export keeps
     * what it holds alive until it returns. */
    otel_tracer_provider_destroy(f->tp);
    assert_int_equal(atomic_load(&f->g.c.destroy_calls), 0);
    gate_set(&f->g, false);
    assert_true(WAIT_FOR(atomic_load(&f->g.c.destroy_calls) == 1));
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 3);
    assert_int_equal(atomic_load(&f->g.c.shutdown_calls), 1);
    assert_int_equal(atomic_load(&f->g.overlaps), 0);
    log_capture_teardown(NULL);
    gate_cleanup(&f->g);
    free(f);
}

static void test_batch_drops_and_counts_when_the_queue_is_full(void **state)
{
    (void)state;
    log_capture_setup(NULL);
    /* Event-loop mode: nothing leaves the queue until tick, so the counts are exact. */
    otel_batch_options bo = { .max_queue_size = 8, .no_thread = true };
    struct fx *f = fx_new(&bo, NULL);
    end_spans(f, "q", 20);
    otel_batch_processor_stats st = stats_of(f);
    assert_int_equal(st.spans_received, 20);
    assert_int_equal(st.spans_queued, 8);
    assert_int_equal(st.spans_dropped_full, 12);
    assert_true(log_capture_count() > 0); /* the drop is never silent */
    otel_tracer_provider_stats ps;
    otel_tracer_provider_get_stats(f->tp, &ps);
    assert_int_equal(ps.spans_dropped, 12);
    /* The drop count is logged at shutdown. */
    log_capture_reset();
    assert_int_equal(otel_tracer_provider_shutdown(f->tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 8);
    assert_non_null(strstr(logged_last, "12")); /* "... 12 dropped ..." in the provider summary */
    log_capture_teardown(NULL);
    fx_free(f);
}

static void test_batch_full_queue_with_a_slow_exporter_accounts_for_every_span(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_queue_size = 16, .max_export_batch_size = 4 };
    struct fx *f = fx_new(&bo, NULL);
    gate_set(&f->g, true);
    end_spans(f, "a", 200);
    otel_batch_processor_stats st = stats_of(f);
    assert_true(st.spans_dropped_full > 0);
    assert_true(st.spans_queued <= 16); /* memory bounded whatever the exporter does */
    gate_set(&f->g, false);
    assert_int_equal(otel_tracer_provider_shutdown(f->tp, 0), OTEL_OK);
    st = stats_of(f);
    assert_int_equal(st.spans_exported + st.spans_dropped_full, 200);
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Span data ownership
 * ------------------------------------------------------------------------------------------- */

static void test_batch_exporter_may_retain_spans_past_the_export(void **state)
{
    (void)state;
    otel_batch_options bo = { .schedule_delay_ns = HOUR };
    struct fx *f = fx_new(&bo, NULL);
    atomic_store(&f->g.retain, 1);
    end_spans(f, "kept", 3);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    atomic_store(&f->g.retain, 0);
    /* Many more spans: the records of the retained ones must not be reused meanwhile. */
    for (int round = 0; round < 10; round++) {
        end_spans(f, "churn", 300);
        assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    }
    assert_int_equal(atomic_load(&f->g.retained_count), 3);
    for (int i = 0; i < 3; i++) {
        const otel_span_data *d = f->g.retained[i];
        assert_true(str_is(d->name, "kept"));
        const otel_attr *a = find_attr(d->attrs, d->attr_count, "i");
        assert_non_null(a);
        assert_int_equal(a->value.as.i, i);
    }
    fx_free(f); /* releases them */
}

static void test_batch_works_inside_a_composite_processor(void **state)
{
    (void)state;
    gate g;
    gate_init(&g);
    retainer r;
    retainer_init(&r);
    otel_span_processor kids[2];
    otel_batch_options bo = { .schedule_delay_ns = HOUR };
    assert_int_equal(otel_batch_processor_create(gate_exporter(&g), &bo, &kids[0]), OTEL_OK);
    kids[1] = retainer_processor(&r);
    otel_span_processor comp;
    assert_int_equal(otel_composite_processor_create(kids, 2, &comp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = &comp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    for (int i = 0; i < 600; i++)
        otel_span_end(otel_tracer_start_span(t, OTEL_STR("composite"), NULL));
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&g.c.exported_spans), 600);
    retainer_release_all(&r);
    otel_batch_processor_stats st;
    assert_int_equal(otel_batch_processor_get_stats(&kids[0], &st), OTEL_OK);
    assert_int_equal(st.spans_exported, 600);
    otel_tracer_provider_destroy(tp);
    assert_int_equal(atomic_load(&g.c.destroy_calls), 1);
    pthread_mutex_destroy(&r.lock);
    gate_cleanup(&g);
}

/* ---------------------------------------------------------------------------------------------
 * Event-loop mode
 * ------------------------------------------------------------------------------------------- */

static bool fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1;
}

static void test_batch_event_loop_mode_exports_on_the_callers_thread(void **state)
{
    (void)state;
    otel_batch_options bo = { .max_export_batch_size = 4, .schedule_delay_ns = 30 * MS, .no_thread = true };
    struct fx *f = fx_new(&bo, NULL);
    int fd = otel_batch_processor_fd(&f->bp);
    assert_true(fd >= 0);
    assert_false(fd_readable(fd));
    int64_t timeout = otel_batch_processor_next_timeout_ns(&f->bp);
    assert_true(timeout > 0 && timeout <= 30 * MS);

    /* A full batch makes the descriptor readable and the timeout zero; tick exports it. */
    end_spans(f, "loop", 4);
    assert_true(fd_readable(fd));
    assert_int_equal(otel_batch_processor_next_timeout_ns(&f->bp), 0);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 0); /* no thread of its own */
    assert_int_equal(otel_batch_processor_tick(&f->bp), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 4);
    assert_true(pthread_equal(f->g.export_thread, pthread_self()));
    assert_false(fd_readable(fd));

    /* Less than a batch: nothing due until the delay has passed. */
    end_spans(f, "loop", 2);
    assert_false(fd_readable(fd));
    timeout = otel_batch_processor_next_timeout_ns(&f->bp);
    assert_true(timeout > 0);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    poll(&p, 1, (int)((timeout + MS - 1) / MS) + 1);
    assert_true(WAIT_FOR(otel_batch_processor_next_timeout_ns(&f->bp) == 0));
    assert_int_equal(otel_batch_processor_tick(&f->bp), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 6);

    /* force_flush works on the calling thread too. */
    end_spans(f, "loop", 1);
    assert_int_equal(otel_tracer_provider_force_flush(f->tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 7);

    end_spans(f, "loop", 1);
    assert_int_equal(otel_tracer_provider_shutdown(f->tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&f->g.c.exported_spans), 8);
    assert_int_equal(otel_batch_processor_next_timeout_ns(&f->bp), -1);
    assert_int_equal(otel_batch_processor_tick(&f->bp), OTEL_ERR_SHUT_DOWN);
    fx_free(f);
}

static void test_batch_thread_mode_has_no_event_loop_interface(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL, NULL);
    assert_int_equal(otel_batch_processor_fd(&f->bp), -1);
    assert_int_equal(otel_batch_processor_next_timeout_ns(&f->bp), -1);
    assert_int_equal(otel_batch_processor_tick(&f->bp), OTEL_ERR_INVALID_ARG);
    fx_free(f);
}

/* ---------------------------------------------------------------------------------------------
 * Allocation failures
 * ------------------------------------------------------------------------------------------- */

static otel_export_result discard(void *ud, const otel_span_data *const *spans, size_t n, int64_t timeout_ns)
{
    (void)ud, (void)spans, (void)n, (void)timeout_ns;
    return OTEL_EXPORT_SUCCESS;
}

static int scenario_batch(void *arg)
{
    (void)arg;
    otel_span_exporter ex = { .export_spans = discard };
    otel_span_processor bp;
    /* Event-loop mode: no worker thread, so the allocations happen in the same order each run. */
    otel_batch_options bo = { .schedule_delay_ns = HOUR, .no_thread = true };
    otel_status st = otel_batch_processor_create(ex, &bo, &bp);
    if (st != OTEL_OK)
        return (int)st;
    otel_tracer_provider_options o = { .processors = &bp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    st = otel_tracer_provider_create(&o, &tp);
    if (st != OTEL_OK) {
        bp.destroy(bp.user_data);
        return (int)st;
    }
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    for (int i = 0; i < 300; i++)
        otel_span_end(otel_tracer_start_span(t, OTEL_STR("s"), NULL));
    otel_tracer_provider_force_flush(tp, 0);
    otel_batch_processor_stats bs;
    otel_batch_processor_get_stats(&bp, &bs);
    int result = bs.spans_exported == 300 ? 0 : 1; /* a failure shows as a drop */
    otel_tracer_provider_stats ps;
    otel_tracer_provider_get_stats(tp, &ps);
    if (ps.spans_dropped || ps.spans_exported != 300)
        result = 1;
    otel_tracer_provider_destroy(tp);
    return result;
}

static void quiet(void *ud, otel_log_level level, const char *msg)
{
    (void)ud, (void)level, (void)msg;
}

static void test_batch_under_failing_allocations(void **state)
{
    (void)state;
    otel_log_set_handler(quiet, NULL, OTEL_LOG_DEBUG);
    /* The API's pool of non-recording spans (a span start that finds no record falls back on
     * it) is a process-wide cache that grows on first use: warm it up so it is not a leak. */
    otel_span_context sc = { .trace_flags = 0 };
    memset(sc.trace_id, 1, OTEL_TRACE_ID_SIZE);
    memset(sc.span_id, 1, OTEL_SPAN_ID_SIZE);
    otel_span_end(otel_nonrecording_span_create(&sc, NULL));
    failalloc_result r = failalloc_run(scenario_batch, NULL);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations > 0);
    assert_int_equal(r.leaked_run, 0);
    /* ok_with_failure is not checked: a failed allocation of a record array on the export side
     * is absorbed (the records are given back one by one), as it should be. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_create_rejects_invalid_arguments_and_owns_nothing),
        cmocka_unit_test(test_batch_create_and_destroy_without_a_provider),
        cmocka_unit_test(test_batch_stats_and_event_loop_calls_reject_other_processors),
        cmocka_unit_test(test_batch_exports_a_full_batch_without_waiting_for_the_delay),
        cmocka_unit_test(test_batch_mixes_foreign_spans_with_the_fast_path),
        cmocka_unit_test(test_batch_foreign_span_first_then_the_fast_path),
        cmocka_unit_test(test_batch_exports_full_batches_in_high_water_mode_and_after),
        cmocka_unit_test(test_batch_exports_a_batch_completed_after_the_high_water_mode_ends),
        cmocka_unit_test(test_batch_exports_a_full_batch_taken_in_credit_chunks),
        cmocka_unit_test(test_batch_of_one_worker_sleeps_when_the_spans_stop),
        cmocka_unit_test(test_batch_paces_its_looks_under_a_high_rate_with_a_cpu_to_spare),
        cmocka_unit_test(test_batch_pace_delay),
        cmocka_unit_test(test_batch_exports_in_batches_of_at_most_the_batch_size),
        cmocka_unit_test(test_batch_exports_a_partial_batch_after_the_schedule_delay),
        cmocka_unit_test(test_batch_queues_only_sampled_spans),
        cmocka_unit_test(test_batch_passes_the_export_timeout_to_the_exporter),
        cmocka_unit_test(test_batch_counts_failed_exports),
        cmocka_unit_test(test_batch_force_flush_exports_everything_queued_before_the_call),
        cmocka_unit_test(test_batch_force_flush_times_out_while_the_exporter_hangs),
        cmocka_unit_test(test_batch_shutdown_flushes_is_idempotent_and_drops_later_spans),
        cmocka_unit_test(test_batch_shutdown_returns_by_its_deadline_while_the_exporter_hangs),
        cmocka_unit_test(test_batch_drops_and_counts_when_the_queue_is_full),
        cmocka_unit_test(test_batch_full_queue_with_a_slow_exporter_accounts_for_every_span),
        cmocka_unit_test(test_batch_exporter_may_retain_spans_past_the_export),
        cmocka_unit_test(test_batch_works_inside_a_composite_processor),
        cmocka_unit_test(test_batch_event_loop_mode_exports_on_the_callers_thread),
        cmocka_unit_test(test_batch_thread_mode_has_no_event_loop_interface),
        cmocka_unit_test(test_batch_under_failing_allocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
