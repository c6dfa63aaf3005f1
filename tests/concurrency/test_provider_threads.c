/* One SDK provider under many threads: 8 threads starting and ending spans with attributes and
 * events through a simple processor (counters must add up), and several threads hammering ONE
 * span while another thread ends it and immediately reuses its record for new spans (the stale
 * handle must never change the new spans). Runs under ThreadSanitizer in CI. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"

#define THREADS 8
#define SPANS_PER_THREAD 10000

/* ---------------------------------------------------------------------------------------------
 * Many threads, many spans
 * ------------------------------------------------------------------------------------------- */

struct counting_exporter {
    _Atomic uint64_t spans;
    _Atomic uint64_t bad; /* spans whose data did not look as written */
};

static otel_export_result count_export(void *ud, const otel_span_data *const *spans, size_t n,
                                       int64_t timeout_ns)
{
    (void)timeout_ns;
    struct counting_exporter *e = ud;
    for (size_t i = 0; i < n; i++) {
        const otel_span_data *d = spans[i];
        const otel_attr *a = otel_attrs_find(d->attrs, d->attr_count, OTEL_STR("thread.id"));
        const otel_attr *b = otel_attrs_find(d->attrs, d->attr_count, OTEL_STR("payload"));
        bool ok = a && b && d->attr_count == 3 && d->event_count == 1 && b->value.as.s.len == 24 &&
                  d->end_time_ns >= d->start_time_ns && d->name.len == 4 &&
                  memcmp(d->name.data, "work", 4) == 0;
        if (!ok)
            atomic_fetch_add(&e->bad, 1);
    }
    atomic_fetch_add(&e->spans, n);
    return OTEL_EXPORT_SUCCESS;
}

struct worker_arg {
    otel_tracer *tracer;
    int id;
};

static void *worker(void *p)
{
    struct worker_arg *w = p;
    char payload[32];
    for (int i = 0; i < SPANS_PER_THREAD; i++) {
        otel_span s = otel_tracer_start_span(w->tracer, OTEL_STR("work"), NULL);
        otel_span_set_attr_int(s, OTEL_STR("thread.id"), w->id);
        snprintf(payload, sizeof(payload), "payload-%02d-%013d", w->id, i);
        otel_span_set_attr_str(s, OTEL_STR("payload"), (otel_str){ payload, 24 });
        otel_span_set_attr_int(s, OTEL_STR("i"), i);
        otel_attr ea = OTEL_ATTR_STR("event.payload", ((otel_str){ payload, 24 }));
        otel_span_add_event(s, OTEL_STR("step"), 0, &ea, 1);
        otel_span_end(s);
    }
    return NULL;
}

static void test_many_threads_many_spans_counters_add_up(void **state)
{
    (void)state;
    struct counting_exporter e = { 0 };
    otel_span_exporter exp = { .export_spans = count_export, .user_data = &e };
    otel_span_processor sp;
    assert_int_equal(otel_simple_processor_create(exp, &sp), OTEL_OK);
    otel_sampler ratio;
    assert_int_equal(otel_sampler_trace_id_ratio(0.5, &ratio), OTEL_OK);
    otel_tracer_provider_options o = { .processors = &sp, .processor_count = 1, .sampler = ratio };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);

    pthread_t th[THREADS];
    struct worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        char name[16];
        int n = snprintf(name, sizeof(name), "lib.%d", i % 3);
        /* Tracers are created concurrently too. */
        args[i] =
            (struct worker_arg){ otel_tracer_provider_get_tracer(tp, (otel_str){ name, (size_t)n }, NULL),
                                 i };
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    otel_tracer_provider_stats st;
    assert_int_equal(otel_tracer_provider_get_stats(tp, &st), OTEL_OK);
    uint64_t total = (uint64_t)THREADS * SPANS_PER_THREAD;
    assert_int_equal(st.spans_started, total);
    assert_int_equal(st.spans_recorded, st.spans_ended);
    assert_int_equal(st.spans_sampled, st.spans_recorded);
    assert_true(st.spans_sampled > total / 3 && st.spans_sampled < total * 2 / 3);
    assert_int_equal(st.spans_exported, st.spans_sampled);
    assert_int_equal(atomic_load(&e.spans), st.spans_sampled);
    assert_int_equal(atomic_load(&e.bad), 0);
    assert_int_equal(st.spans_dropped, 0);
    assert_int_equal(st.attrs_dropped, 0);
    otel_tracer_provider_destroy(tp);
}

/* ---------------------------------------------------------------------------------------------
 * One shared span, ended while in use, its record reused at once
 * ------------------------------------------------------------------------------------------- */

struct shared {
    otel_tracer *tracer;
    otel_span span;
    _Atomic int ops_done;
    _Atomic bool stop;
    _Atomic uint64_t fresh_checked;
    _Atomic uint64_t fresh_bad;
    _Atomic int shared_ended;
};

static void checking_on_end(void *ud, const otel_span_data *d)
{
    struct shared *sh = ud;
    if (d->name.len == 5 && memcmp(d->name.data, "fresh", 5) == 0) {
        bool ok = d->attr_count == 1 && d->event_count == 0 && d->link_count == 0 &&
                  d->status_code == OTEL_SPAN_STATUS_UNSET && d->dropped_attr_count == 0 &&
                  d->attrs[0].key.len == 10 && memcmp(d->attrs[0].key.data, "fresh.attr", 10) == 0;
        if (!ok)
            atomic_fetch_add(&sh->fresh_bad, 1);
        atomic_fetch_add(&sh->fresh_checked, 1);
    } else {
        atomic_fetch_add(&sh->shared_ended, 1);
    }
}

static void *hammer(void *p)
{
    struct shared *sh = p;
    char value[48];
    otel_link link = { .context = { .trace_flags = 1 } };
    memset(link.context.trace_id, 7, OTEL_TRACE_ID_SIZE);
    memset(link.context.span_id, 8, OTEL_SPAN_ID_SIZE);
    for (int i = 0; !atomic_load(&sh->stop); i++) {
        int n = snprintf(value, sizeof(value), "value %d", i);
        otel_span_set_attr_str(sh->span, OTEL_STR("k"), (otel_str){ value, (size_t)n });
        char key[16];
        int kn = snprintf(key, sizeof(key), "key%d", i % 200);
        otel_span_set_attr_int(sh->span, (otel_str){ key, (size_t)kn }, i);
        otel_span_add_event(sh->span, OTEL_STR("hammered"), 0, NULL, 0);
        otel_span_add_link(sh->span, &link);
        otel_span_update_name(sh->span, (otel_str){ value, (size_t)n });
        otel_span_set_status(sh->span, OTEL_SPAN_STATUS_ERROR, (otel_str){ value, (size_t)n });
        (void)otel_span_get_context(sh->span);
        otel_trace_state_release(otel_span_get_trace_state(sh->span));
        (void)otel_span_is_recording(sh->span);
        atomic_fetch_add(&sh->ops_done, 1);
    }
    return NULL;
}

static void *ender(void *p)
{
    struct shared *sh = p;
    while (atomic_load(&sh->ops_done) < 2000)
        ;
    otel_span_end(sh->span);
    /* The shared span's record is back in this thread's cache: new spans reuse it while the
     * hammering threads still hold the stale handle. */
    bool reused = false;
    for (int i = 0; i < 5000; i++) {
        otel_span s = otel_tracer_start_span(sh->tracer, OTEL_STR("fresh"), NULL);
        reused |= s.impl == sh->span.impl;
        otel_span_set_attr_int(s, OTEL_STR("fresh.attr"), i);
        otel_span_end(s);
    }
    atomic_store(&sh->stop, true);
    return reused ? (void *)1 : NULL;
}

static void test_one_span_shared_by_threads_and_ended_under_them(void **state)
{
    (void)state;
    struct shared sh = { 0 };
    otel_span_processor sp = { .on_end = checking_on_end, .user_data = &sh };
    otel_tracer_provider_options o = { .processors = &sp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    sh.tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("shared"), NULL);
    sh.span = otel_tracer_start_span(sh.tracer, OTEL_STR("shared span"), NULL);

    pthread_t h[4], e;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&h[i], NULL, hammer, &sh), 0);
    assert_int_equal(pthread_create(&e, NULL, ender, &sh), 0);
    void *reused = NULL;
    pthread_join(e, &reused);
    for (int i = 0; i < 4; i++)
        pthread_join(h[i], NULL);

    assert_non_null(reused); /* the test exercised a recycled record */
    assert_int_equal(atomic_load(&sh.shared_ended), 1);
    assert_int_equal(atomic_load(&sh.fresh_checked), 5000);
    assert_int_equal(atomic_load(&sh.fresh_bad), 0);
    assert_false(otel_span_is_recording(sh.span));
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_started, st.spans_ended);
    otel_tracer_provider_destroy(tp);
}

/* ---------------------------------------------------------------------------------------------
 * Records released on another thread (as a batch exporter does)
 * ------------------------------------------------------------------------------------------- */

#define HANDOFF 4096

struct handoff {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const otel_span_data *queue[HANDOFF];
    size_t head, tail;
    bool done;
    uint64_t released;
};

static void handoff_on_end(void *ud, const otel_span_data *d)
{
    struct handoff *h = ud;
    pthread_mutex_lock(&h->lock);
    while (h->tail - h->head == HANDOFF)
        pthread_cond_wait(&h->cond, &h->lock);
    h->queue[h->tail++ % HANDOFF] = otel_span_data_retain(d);
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static void *releaser(void *p)
{
    struct handoff *h = p;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (h->head == h->tail && !h->done)
            pthread_cond_wait(&h->cond, &h->lock);
        if (h->head == h->tail && h->done)
            break;
        const otel_span_data *d = h->queue[h->head++ % HANDOFF];
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
        otel_span_data_release(d);
        pthread_mutex_lock(&h->lock);
        h->released++;
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void *producer(void *p)
{
    otel_tracer *t = p;
    for (int i = 0; i < SPANS_PER_THREAD; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("handed off"), NULL);
        otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("a value copied into the arena"));
        otel_span_end(s);
    }
    return NULL;
}

static void test_records_released_on_another_thread_flow_back(void **state)
{
    (void)state;
    struct handoff h = { .head = 0 };
    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.cond, NULL);
    otel_span_processor sp = { .on_end = handoff_on_end, .user_data = &h };
    otel_tracer_provider_options o = { .processors = &sp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("handoff"), NULL);
    pthread_t r, prod[4];
    assert_int_equal(pthread_create(&r, NULL, releaser, &h), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&prod[i], NULL, producer, t), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(prod[i], NULL);
    pthread_mutex_lock(&h.lock);
    h.done = true;
    pthread_cond_broadcast(&h.cond);
    pthread_mutex_unlock(&h.lock);
    pthread_join(r, NULL);
    assert_int_equal(h.released, 4 * SPANS_PER_THREAD);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_ended, 4 * SPANS_PER_THREAD);
    otel_tracer_provider_destroy(tp);
    pthread_cond_destroy(&h.cond);
    pthread_mutex_destroy(&h.lock);
}

/* ---------------------------------------------------------------------------------------------
 * Ends racing setters (span end takes no lock: it wins the generation, then waits out a setter
 * that holds the record's lock)
 * ------------------------------------------------------------------------------------------- */

#define RACE_THREADS 3
#define RACE_ROUNDS 300

struct race {
    otel_tracer *tracer;
    pthread_barrier_t start, done;
    otel_span span;
    _Atomic uint64_t ended; /* spans the processor or exporter saw */
    _Atomic uint64_t bad;
};

/* Reads every field a setter writes: under ThreadSanitizer, a setter still writing after the
 * end would be reported here. */
static bool race_data_ok(const otel_span_data *d)
{
    size_t sum = d->name.len;
    for (uint32_t i = 0; i < d->attr_count; i++)
        sum += d->attrs[i].key.len + (size_t)d->attrs[i].value.as.i;
    for (uint32_t i = 0; i < d->event_count; i++)
        sum += d->events[i].name.len;
    sum += d->status_description.len + (size_t)d->status_code + d->dropped_attr_count;
    return sum > 0 && d->end_time_ns >= d->start_time_ns && d->attr_count <= RACE_THREADS &&
           d->event_count <= RACE_THREADS;
}

static void race_on_end(void *ud, const otel_span_data *d)
{
    struct race *r = ud;
    if (!race_data_ok(d))
        atomic_fetch_add(&r->bad, 1);
    atomic_fetch_add(&r->ended, 1);
}

static otel_export_result race_export(void *ud, const otel_span_data *const *spans, size_t n,
                                      int64_t timeout_ns)
{
    (void)timeout_ns;
    for (size_t i = 0; i < n; i++)
        race_on_end(ud, spans[i]);
    return OTEL_EXPORT_SUCCESS;
}

static void *race_worker(void *p)
{
    struct race *r = p;
    char key[8] = "k0";
    for (int round = 0; round < RACE_ROUNDS; round++) {
        pthread_barrier_wait(&r->start);
        otel_span s = r->span;
        key[1] = (char)('0' + round % 10);
        otel_span_set_attr_int(s, (otel_str){ key, 2 }, round);
        otel_span_add_event(s, OTEL_STR("raced"), 0, NULL, 0);
        otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("raced"));
        otel_span_end(s);
        otel_span_set_attr_int(s, OTEL_STR("late"), round); /* a no-op */
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

static void run_ends_racing_setters(bool batch)
{
    struct race r = { 0 };
    otel_span_processor sp = { .on_end = race_on_end, .user_data = &r };
    if (batch) {
        otel_span_exporter ex = { .export_spans = race_export, .user_data = &r };
        assert_int_equal(otel_batch_processor_create(ex, NULL, &sp), OTEL_OK);
    }
    otel_tracer_provider_options o = { .processors = &sp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    r.tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("race"), NULL);
    pthread_barrier_init(&r.start, NULL, RACE_THREADS + 1);
    pthread_barrier_init(&r.done, NULL, RACE_THREADS + 1);
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race_worker, &r), 0);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        r.span = otel_tracer_start_span(r.tracer, OTEL_STR("racing"), NULL);
        pthread_barrier_wait(&r.start);
        pthread_barrier_wait(&r.done);
        assert_false(otel_span_is_recording(r.span));
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&r.ended), RACE_ROUNDS); /* one end won each span */
    assert_int_equal(atomic_load(&r.bad), 0);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_ended, RACE_ROUNDS);
    otel_tracer_provider_shutdown(tp, 0);
    otel_tracer_provider_destroy(tp);
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.done);
}

static void test_ends_racing_setters_one_end_wins_simple_processor(void **state)
{
    (void)state;
    run_ends_racing_setters(false);
}

static void test_ends_racing_setters_one_end_wins_batch_processor(void **state)
{
    (void)state;
    run_ends_racing_setters(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_threads_many_spans_counters_add_up),
        cmocka_unit_test(test_one_span_shared_by_threads_and_ended_under_them),
        cmocka_unit_test(test_records_released_on_another_thread_flow_back),
        cmocka_unit_test(test_ends_racing_setters_one_end_wins_simple_processor),
        cmocka_unit_test(test_ends_racing_setters_one_end_wins_batch_processor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
