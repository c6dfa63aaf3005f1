/* The batch span processor under many threads: 8 producers end spans through a small queue in
 * front of a slow exporter, so the queue fills and spans are dropped; afterwards every span is
 * accounted for (exported + dropped == ended), the exporter never ran twice at once, and what it
 * received was intact. Also: force_flush from several threads while producers run, threads that
 * come and go (their queue lanes are reused), and a provider shared by producers and the event-loop
 * mode's tick from another thread. Runs under ThreadSanitizer in CI. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"

#define THREADS 8
#define SPANS_PER_THREAD 20000

struct slow_exporter {
    _Atomic uint64_t spans;
    _Atomic uint64_t calls;
    _Atomic int inside;
    _Atomic int overlaps;
    _Atomic uint64_t bad;
    int pause_us;
};

static void pause_us(int us)
{
    struct timespec ts = { 0, (long)us * 1000L };
    nanosleep(&ts, NULL);
}

static otel_export_result slow_export(void *ud, const otel_span_data *const *spans, size_t n,
                                      int64_t timeout_ns)
{
    (void)timeout_ns;
    struct slow_exporter *e = ud;
    if (atomic_fetch_add(&e->inside, 1) != 0)
        atomic_fetch_add(&e->overlaps, 1);
    for (size_t i = 0; i < n; i++) {
        const otel_span_data *d = spans[i];
        const otel_attr *a = otel_attrs_find(d->attrs, d->attr_count, OTEL_STR("thread.id"));
        const otel_attr *p = otel_attrs_find(d->attrs, d->attr_count, OTEL_STR("payload"));
        bool ok = a && p && d->attr_count == 2 && d->end_time_ns >= d->start_time_ns &&
                  p->value.as.s.len == 19 && d->name.len == 4 && memcmp(d->name.data, "work", 4) == 0 &&
                  (d->context.trace_flags & OTEL_TRACE_FLAG_SAMPLED);
        if (!ok)
            atomic_fetch_add(&e->bad, 1);
    }
    if (e->pause_us)
        pause_us(e->pause_us); /* a slow backend */
    atomic_fetch_add(&e->spans, n);
    atomic_fetch_add(&e->calls, 1);
    atomic_fetch_sub(&e->inside, 1);
    return OTEL_EXPORT_SUCCESS;
}

struct producer_arg {
    otel_tracer *tracer;
    int id;
    int spans;
};

static void *producer(void *p)
{
    struct producer_arg *w = p;
    char payload[32];
    for (int i = 0; i < w->spans; i++) {
        otel_span s = otel_tracer_start_span(w->tracer, OTEL_STR("work"), NULL);
        otel_span_set_attr_int(s, OTEL_STR("thread.id"), w->id);
        int n = snprintf(payload, sizeof(payload), "t%02d-span-%010d", w->id, i);
        otel_span_set_attr_str(s, OTEL_STR("payload"), (otel_str){ payload, (size_t)n });
        otel_span_end(s);
    }
    return NULL;
}

static otel_tracer_provider *make_provider(struct slow_exporter *e, const otel_batch_options *bo,
                                           otel_span_processor *bp)
{
    otel_span_exporter ex = { .export_spans = slow_export, .user_data = e };
    assert_int_equal(otel_batch_processor_create(ex, bo, bp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = bp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    return tp;
}

static void run_producers(otel_tracer *t, int threads, int spans)
{
    pthread_t th[THREADS];
    struct producer_arg args[THREADS];
    for (int i = 0; i < threads; i++) {
        args[i] = (struct producer_arg){ t, i, spans };
        assert_int_equal(pthread_create(&th[i], NULL, producer, &args[i]), 0);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
}

static void quiet(void *ud, otel_log_level level, const char *msg)
{
    (void)ud, (void)level, (void)msg;
}

static void test_batch_many_threads_slow_exporter_exported_plus_dropped_equals_ended(void **state)
{
    (void)state;
    otel_log_set_handler(quiet, NULL, OTEL_LOG_WARN);
    struct slow_exporter e = { .pause_us = 2000 };
    otel_batch_options bo = { .max_queue_size = 1024,
                              .max_export_batch_size = 128,
                              .schedule_delay_ns = 5 * 1000000 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("stress"), NULL);
    run_producers(t, THREADS, SPANS_PER_THREAD);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);

    const uint64_t ended = (uint64_t)THREADS * SPANS_PER_THREAD;
    otel_batch_processor_stats st;
    assert_int_equal(otel_batch_processor_get_stats(&bp, &st), OTEL_OK);
    print_message(
        "ended %llu exported %llu dropped %llu (full %llu) in %llu exports\n", (unsigned long long)ended,
        (unsigned long long)st.spans_exported,
        (unsigned long long)(st.spans_dropped_full + st.spans_dropped_shutdown + st.spans_dropped_other),
        (unsigned long long)st.spans_dropped_full, (unsigned long long)st.export_calls);
    assert_int_equal(st.spans_received, ended);
    assert_int_equal(st.spans_queued, 0);
    assert_int_equal(st.spans_exported + st.spans_dropped_full + st.spans_dropped_shutdown +
                         st.spans_dropped_other,
                     ended);
    assert_true(st.spans_dropped_full > 0); /* the exporter was too slow: the queue filled */
    assert_int_equal(atomic_load(&e.spans), st.spans_exported);
    assert_int_equal(atomic_load(&e.overlaps), 0);
    assert_int_equal(atomic_load(&e.bad), 0);
    otel_tracer_provider_stats ps;
    assert_int_equal(otel_tracer_provider_get_stats(tp, &ps), OTEL_OK);
    assert_int_equal(ps.spans_ended, ended);
    assert_int_equal(ps.spans_exported + ps.spans_dropped, ended);
    otel_tracer_provider_destroy(tp);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
}

struct flusher_arg {
    otel_tracer_provider *tp;
    _Atomic bool *stop;
    int failures;
};

static void *flusher(void *p)
{
    struct flusher_arg *f = p;
    while (!atomic_load(f->stop)) {
        if (otel_tracer_provider_force_flush(f->tp, 0) != OTEL_OK)
            f->failures++;
    }
    return NULL;
}

static void test_batch_force_flush_from_many_threads_while_producing(void **state)
{
    (void)state;
    struct slow_exporter e = { 0 };
    otel_batch_options bo = { .schedule_delay_ns = 1000000 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("flush"), NULL);
    _Atomic bool stop = false;
    pthread_t fl[2];
    struct flusher_arg fa[2] = { { tp, &stop, 0 }, { tp, &stop, 0 } };
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&fl[i], NULL, flusher, &fa[i]), 0);
    run_producers(t, 4, 5000);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(fl[i], NULL);
    assert_int_equal(fa[0].failures + fa[1].failures, 0);
    /* Everything ended before this flush is exported when it returns. */
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    otel_batch_processor_stats st;
    otel_batch_processor_get_stats(&bp, &st);
    assert_int_equal(st.spans_exported + st.spans_dropped_full, 4 * 5000);
    assert_int_equal(atomic_load(&e.spans), st.spans_exported);
    assert_int_equal(atomic_load(&e.overlaps), 0);
    assert_int_equal(atomic_load(&e.bad), 0);
    otel_tracer_provider_destroy(tp);
}

static void test_batch_threads_that_come_and_go(void **state)
{
    (void)state;
    struct slow_exporter e = { 0 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, NULL, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("churn"), NULL);
    for (int round = 0; round < 50; round++)
        run_producers(t, 4, 50);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    otel_batch_processor_stats st;
    otel_batch_processor_get_stats(&bp, &st);
    assert_int_equal(st.spans_received, 50 * 4 * 50);
    assert_int_equal(st.spans_exported + st.spans_dropped_full, 50 * 4 * 50);
    assert_int_equal(atomic_load(&e.bad), 0);
    otel_tracer_provider_destroy(tp);
}

struct ticker_arg {
    otel_span_processor *bp;
    _Atomic bool *stop;
};

static void *ticker(void *p)
{
    struct ticker_arg *a = p;
    while (!atomic_load(a->stop))
        otel_batch_processor_tick(a->bp);
    return NULL;
}

static void test_batch_event_loop_mode_with_producers_on_other_threads(void **state)
{
    (void)state;
    struct slow_exporter e = { 0 };
    otel_batch_options bo = { .no_thread = true, .schedule_delay_ns = 1000000 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&e, &bo, &bp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("loop"), NULL);
    _Atomic bool stop = false;
    pthread_t tk;
    struct ticker_arg ta = { &bp, &stop };
    assert_int_equal(pthread_create(&tk, NULL, ticker, &ta), 0);
    run_producers(t, 4, 5000);
    atomic_store(&stop, true);
    pthread_join(tk, NULL);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    otel_batch_processor_stats st;
    otel_batch_processor_get_stats(&bp, &st);
    assert_int_equal(st.spans_exported + st.spans_dropped_full, 4 * 5000);
    assert_int_equal(atomic_load(&e.overlaps), 0);
    assert_int_equal(atomic_load(&e.bad), 0);
    otel_tracer_provider_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_many_threads_slow_exporter_exported_plus_dropped_equals_ended),
        cmocka_unit_test(test_batch_force_flush_from_many_threads_while_producing),
        cmocka_unit_test(test_batch_threads_that_come_and_go),
        cmocka_unit_test(test_batch_event_loop_mode_with_producers_on_other_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
