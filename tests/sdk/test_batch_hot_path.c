/* The span hot path that the batch processor rides on (sdk/src/tracer.c, span.c, pool.c,
 * clock.c): dropped spans whose ids are drawn on first use, the span clock (TSC or
 * CLOCK_MONOTONIC) against the wall clock, records that come back to the pool through the
 * batch processor without growing it, per-thread counters, and the record's size. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "provider.h"
#include "sdk_testlib.h"
#include "span.h"

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static otel_export_result discard(void *ud, const otel_span_data *const *spans, size_t n, int64_t timeout_ns)
{
    (void)ud, (void)spans, (void)n, (void)timeout_ns;
    return OTEL_EXPORT_SUCCESS;
}

static otel_tracer_provider *provider_with(otel_sampler sampler, otel_span_processor *bp, bool event_loop)
{
    otel_span_exporter ex = { .export_spans = discard };
    otel_batch_options bo = { .no_thread = event_loop };
    assert_int_equal(otel_batch_processor_create(ex, &bo, bp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = bp, .processor_count = 1, .sampler = sampler };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    return tp;
}

/* ---------------------------------------------------------------------------------------------
 * Dropped spans
 * ------------------------------------------------------------------------------------------- */

static void test_dropped_root_span_has_a_new_trace_stable_on_every_read(void **state)
{
    (void)state;
    otel_span_processor bp;
    otel_tracer_provider *tp = provider_with(otel_sampler_always_off(), &bp, true);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span a = otel_tracer_start_span(t, OTEL_STR("a"), NULL);
    otel_span b = otel_tracer_start_span(t, OTEL_STR("b"), NULL);
    assert_false(otel_span_is_recording(a));
    otel_span_context sa = otel_span_get_context(a);
    assert_true(otel_span_context_is_valid(&sa));
    assert_false(sa.trace_flags & OTEL_TRACE_FLAG_SAMPLED);
    assert_true(sa.trace_flags & OTEL_TRACE_FLAG_RANDOM);
    assert_false(sa.is_remote);
    otel_span_context again = otel_span_get_context(a);
    assert_memory_equal(&again, &sa, sizeof(sa));
    otel_span_context sb = otel_span_get_context(b);
    assert_memory_not_equal(sb.trace_id, sa.trace_id, OTEL_TRACE_ID_SIZE);

    /* A child of the dropped span joins its trace (and is dropped too: parent not sampled). */
    otel_context_token tok = otel_span_make_current(a);
    otel_span child = otel_tracer_start_span(t, OTEL_STR("child"), NULL);
    otel_span_context sc = otel_span_get_context(child);
    assert_memory_equal(sc.trace_id, sa.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_not_equal(sc.span_id, sa.span_id, OTEL_SPAN_ID_SIZE);
    otel_span_end(child);
    otel_context_detach(tok);

    otel_span_end(a);
    otel_span_end(b);
    /* Ended: the handles are dead. */
    otel_span_context dead = otel_span_get_context(a);
    assert_false(otel_span_context_is_valid(&dead));
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_started, 3);
    assert_int_equal(st.spans_recorded, 0);
    assert_int_equal(st.spans_ended, 0);
    otel_tracer_provider_destroy(tp);
}

static void test_dropped_child_of_unsampled_parent_keeps_trace_and_trace_state(void **state)
{
    (void)state;
    otel_span_processor bp;
    otel_tracer_provider *tp = provider_with((otel_sampler){ 0 }, &bp, true);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_context parent = { .trace_flags = OTEL_TRACE_FLAG_RANDOM, .is_remote = true };
    memset(parent.trace_id, 0x5a, OTEL_TRACE_ID_SIZE);
    memset(parent.span_id, 0x77, OTEL_SPAN_ID_SIZE);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("vendor=x"), &ts), OTEL_OK);
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &parent, ts, &ctx), OTEL_OK);
    otel_context_token tok = otel_context_attach(ctx);
    otel_span s = otel_tracer_start_span(t, OTEL_STR("unsampled"), NULL);
    otel_context_detach(tok);
    otel_context_release(ctx);
    assert_false(otel_span_is_recording(s));
    otel_trace_state *got = otel_span_get_trace_state(s);
    otel_str v;
    assert_true(otel_trace_state_get(got, OTEL_STR("vendor"), &v));
    otel_trace_state_release(got);
    otel_span_context sc = otel_span_get_context(s);
    assert_memory_equal(sc.trace_id, parent.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_not_equal(sc.span_id, parent.span_id, OTEL_SPAN_ID_SIZE);
    assert_int_equal(sc.trace_flags, OTEL_TRACE_FLAG_RANDOM);
    otel_span_end(s);
    otel_span_end(s); /* a second end is harmless */
    otel_trace_state_release(ts);
    otel_tracer_provider_destroy(tp);
}

/* ---------------------------------------------------------------------------------------------
 * The span clock
 * ------------------------------------------------------------------------------------------- */

static void check_clock_mode(int mode)
{
    otel__clock_init();
    otel__clock_set_mode(mode);
    retainer r;
    retainer_init(&r);
    otel_tracer_provider *tp = retainer_provider(&r, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    for (int i = 0; i < 50; i++) {
        int64_t before = wall_ns();
        otel_span s = otel_tracer_start_span(t, OTEL_STR("timed"), NULL);
        struct timespec pause = { 0, 200000 }; /* 0.2 ms: a duration to measure */
        nanosleep(&pause, NULL);
        otel_span_end(s);
        int64_t after = wall_ns();
        const otel_span_data *d = retainer_last(&r);
        assert_non_null(d);
        /* Within the wall-clock readings around it, give or take the anchor's reading time. */
        assert_true(d->start_time_ns >= before - 100000);
        assert_true(d->end_time_ns <= after + 100000);
        assert_true(d->end_time_ns - d->start_time_ns >= 200000 - 20000);
        assert_true(d->end_time_ns - d->start_time_ns <= after - before + 100000);
        retainer_release_all(&r);
    }
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&r.lock);
}

static void test_span_times_follow_the_wall_clock_in_every_clock_mode(void **state)
{
    (void)state;
    check_clock_mode(OTEL__CLOCK_MONO);
    check_clock_mode(OTEL__CLOCK_TSC); /* falls back to MONO where the TSC is not usable */
    print_message("clock mode in use: %s\n",
                  otel__clock_mode() == OTEL__CLOCK_TSC ? "TSC" : "CLOCK_MONOTONIC");
}

/* ---------------------------------------------------------------------------------------------
 * The short path of span start (no options, batch processor, TSC clock when usable)
 * ------------------------------------------------------------------------------------------- */

/* A provider whose only processor is a batch processor in event-loop mode in front of |c|
 * (initialised here; collector_cleanup after the provider is destroyed), with TSC ticks where
 * the machine allows them: what span start's short path needs. */
static otel_tracer_provider *short_path_provider(collector *c)
{
    otel__clock_init();
    otel__clock_set_mode(OTEL__CLOCK_TSC);
    collector_init(c);
    otel_span_processor bp;
    otel_batch_options bo = { .no_thread = true };
    assert_int_equal(otel_batch_processor_create(collector_exporter(c), &bo, &bp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = &bp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    return tp;
}

static const char long_text[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_+*/";

/* Root spans and children of a current span with names of every length from 0 to 67 (the
 * first arena chunk holds 39), every other one with attributes, an event and a status that
 * the record's next span must not inherit, on records that come back through the batch
 * processor and are reused. */
static void test_short_path_spans_are_complete_on_reused_records(void **state)
{
    (void)state;
    collector c;
    otel_tracer_provider *tp = short_path_provider(&c);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    const size_t lens = sizeof(long_text); /* 0 .. sizeof - 1 */
    for (int round = 0; round < 6; round++) {
        otel_span parent = otel_tracer_start_span(t, OTEL_STR("parent"), NULL);
        otel_span_context psc = otel_span_get_context(parent);
        otel_context_token tok = otel_span_make_current(parent);
        for (size_t len = 0; len < lens; len++) {
            otel_span s = otel_tracer_start_span(t, (otel_str){ long_text, len }, NULL);
            if ((len + (size_t)round) % 2) {
                otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("a value copied into the arena, long"));
                otel_span_set_attr_int(s, OTEL_STR("n"), (int64_t)len);
                otel_span_add_event(s, OTEL_STR("ev"), 0, NULL, 0);
                otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("failed"));
            }
            otel_span_end(s);
        }
        otel_context_detach(tok);
        otel_span_end(parent);
        for (size_t len = 0; len < lens; len++) {
            otel_span s = otel_tracer_start_span(t, (otel_str){ long_text, len }, NULL);
            if ((len + (size_t)round) % 2)
                otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("another value copied into the arena"));
            otel_span_end(s);
        }
        assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
        assert_int_equal(c.count, 2 * lens + 1);
        static const uint8_t zero[OTEL_SPAN_ID_SIZE];
        for (size_t i = 0; i < 2 * lens; i++) {
            /* The parent ended after its children: it is exported after them. */
            const otel_span_data *d = c.spans[i < lens ? i : i + 1];
            size_t len = i % lens;
            bool child = i < lens;
            bool dirty = (len + (size_t)round) % 2;
            assert_int_equal(d->name.len, len);
            assert_memory_equal(d->name.data, long_text, len);
            assert_int_equal(d->name.data[len], '\0');
            assert_int_equal(d->kind, OTEL_SPAN_KIND_INTERNAL);
            uint64_t hi, lo;
            memcpy(&hi, d->context.trace_id, 8);
            memcpy(&lo, d->context.trace_id + 8, 8);
            assert_true(hi != 0 && lo != 0);
            assert_memory_not_equal(d->context.span_id, zero, OTEL_SPAN_ID_SIZE);
            assert_int_equal(d->context.trace_flags, OTEL_TRACE_FLAG_SAMPLED | OTEL_TRACE_FLAG_RANDOM);
            assert_false(d->context.is_remote);
            if (child) {
                assert_memory_equal(d->context.trace_id, psc.trace_id, OTEL_TRACE_ID_SIZE);
                assert_memory_equal(d->parent_span_id, psc.span_id, OTEL_SPAN_ID_SIZE);
            } else {
                assert_memory_not_equal(d->context.trace_id, psc.trace_id, OTEL_TRACE_ID_SIZE);
                assert_memory_equal(d->parent_span_id, zero, OTEL_SPAN_ID_SIZE);
            }
            assert_false(d->parent_is_remote);
            assert_true(d->start_time_ns > 0 && d->end_time_ns >= d->start_time_ns);
            assert_int_equal(d->attr_count, dirty ? (child ? 2 : 1) : 0);
            assert_int_equal(d->event_count, dirty && child ? 1 : 0);
            assert_int_equal(d->status_code,
                             dirty && child ? OTEL_SPAN_STATUS_ERROR : OTEL_SPAN_STATUS_UNSET);
            assert_int_equal(d->status_description.len, dirty && child ? 6 : 0);
            assert_int_equal(d->link_count, 0);
            assert_int_equal(d->dropped_attr_count + d->dropped_event_count + d->dropped_link_count, 0);
            assert_null(d->trace_state);
            assert_non_null(d->scope);
        }
        collector_clear(&c);
    }
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_sampled, 6 * (2 * lens + 1));
    assert_int_equal(st.spans_ended, 6 * (2 * lens + 1));
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

/* Records whose spans held trace-state references (a link's) are given back with their flags
 * reset (so without OTEL__REC_CLEAN); the next span on them, started without options, must still
 * start with nothing of the old one. */
static void test_short_path_spans_on_records_that_held_references_start_clean(void **state)
{
    (void)state;
    collector c;
    otel_tracer_provider *tp = short_path_provider(&c);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("a=1"), &ts), OTEL_OK);
    otel_link link = { .trace_state = ts };
    memset(link.context.trace_id, 3, OTEL_TRACE_ID_SIZE);
    memset(link.context.span_id, 4, OTEL_SPAN_ID_SIZE);
    enum { SPANS = 100 };
    for (int round = 0; round < 4; round++) { /* even rounds set fields, odd ones not */
        for (int i = 0; i < SPANS; i++) {
            otel_span s = otel_tracer_start_span(t, OTEL_STR("span"), NULL);
            if (round % 2 == 0) {
                otel_span_add_link(s, &link);
                otel_span_set_attr_int(s, OTEL_STR("n"), i);
                otel_span_set_status(s, OTEL_SPAN_STATUS_OK, (otel_str){ NULL, 0 });
            }
            otel_span_end(s);
        }
        assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
        assert_int_equal(c.count, SPANS);
        for (int i = 0; i < SPANS; i++) {
            const otel_span_data *d = c.spans[i];
            bool set = round % 2 == 0;
            assert_int_equal(d->link_count, set ? 1 : 0);
            assert_int_equal(d->attr_count, set ? 1 : 0);
            assert_int_equal(d->status_code, set ? OTEL_SPAN_STATUS_OK : OTEL_SPAN_STATUS_UNSET);
            assert_int_equal(d->event_count, 0);
        }
        collector_clear(&c);
    }
    otel_trace_state_release(ts);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

/* Spans of another kind or with a trace state (started on the other paths) leave their records
 * without the clean mark; the short-path spans that reuse them get kind INTERNAL and no trace
 * state. */
static void test_short_path_spans_after_other_kinds_and_trace_states(void **state)
{
    (void)state;
    collector c;
    otel_tracer_provider *tp = short_path_provider(&c);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_context remote = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED, .is_remote = true };
    memset(remote.trace_id, 5, OTEL_TRACE_ID_SIZE);
    memset(remote.span_id, 6, OTEL_SPAN_ID_SIZE);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("k=v"), &ts), OTEL_OK);
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &remote, ts, &ctx), OTEL_OK);
    otel_trace_state_release(ts);
    enum { SPANS = 50 };
    for (int round = 0; round < 6; round++) { /* even rounds: other kinds, trace states */
        for (int i = 0; i < SPANS; i++) {
            otel_span s;
            if (round % 2 == 0 && i % 2 == 0) {
                otel_span_start_options so = { .kind = OTEL_SPAN_KIND_SERVER };
                s = otel_tracer_start_span(t, OTEL_STR("server"), &so);
            } else if (round % 2 == 0) {
                otel_context_token tok = otel_context_attach(ctx);
                s = otel_tracer_start_span(t, OTEL_STR("child of remote"), NULL);
                otel_context_detach(tok);
            } else {
                s = otel_tracer_start_span(t, OTEL_STR("plain"), NULL);
            }
            otel_span_end(s);
        }
        assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
        assert_int_equal(c.count, SPANS);
        for (int i = 0; i < SPANS; i++) {
            const otel_span_data *d = c.spans[i];
            if (round % 2 == 0 && i % 2 == 0) {
                assert_int_equal(d->kind, OTEL_SPAN_KIND_SERVER);
                assert_null(d->trace_state);
            } else if (round % 2 == 0) {
                assert_int_equal(d->kind, OTEL_SPAN_KIND_INTERNAL);
                assert_non_null(d->trace_state);
                assert_true(d->parent_is_remote);
            } else {
                assert_int_equal(d->kind, OTEL_SPAN_KIND_INTERNAL);
                assert_null(d->trace_state);
                assert_false(d->parent_is_remote);
            }
        }
        collector_clear(&c);
    }
    otel_context_release(ctx);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

/* Options that name only the kind or mark the name static take the short path too: mixed with
 * spans whose names and attributes filled the records' arenas, and with plain spans, on reused
 * records. A static name is the caller's own string (NULL data: an empty name), a copied one is
 * not; the kind is the one asked for and does not stick to the record; what the span copies
 * afterwards (an attribute) lands in an emptied arena. */
static void test_short_path_spans_with_a_kind_or_a_static_name(void **state)
{
    (void)state;
    collector c;
    otel_tracer_provider *tp = short_path_provider(&c);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    static const char literal[] = "GET /static/name/that/is/longer/than/the/first/arena/chunk";
    enum { SPANS = 60 };
    for (int round = 0; round < 6; round++) {
        otel_span parent = otel_tracer_start_span(t, OTEL_STR("parent"), NULL);
        otel_span_context psc = otel_span_get_context(parent);
        otel_context_token tok = round % 2 ? otel_span_make_current(parent) : (otel_context_token){ 0 };
        for (int i = 0; i < SPANS; i++) {
            int shape = (i + round) % 4;
            otel_span_start_options so = { 0 };
            otel_str name = { literal, sizeof(literal) - 1 };
            if (shape == 0) {
                so.flags = OTEL_SPAN_START_STATIC_NAME;
            } else if (shape == 1) {
                so.flags = OTEL_SPAN_START_STATIC_NAME;
                so.kind = OTEL_SPAN_KIND_CLIENT;
                name = (otel_str){ NULL, 0 };
            } else if (shape == 2) {
                so.kind = OTEL_SPAN_KIND_SERVER;
                name = OTEL_STR("copied");
            }
            otel_span s = otel_tracer_start_span(t, name, shape == 3 ? NULL : &so);
            otel_span_set_attr_str(s, OTEL_STR("k"), (otel_str){ literal, (size_t)(i % 50) });
            otel_span_end(s);
        }
        if (round % 2)
            otel_context_detach(tok);
        otel_span_end(parent);
        assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
        assert_int_equal(c.count, SPANS + 1);
        for (int i = 0; i < SPANS; i++) {
            const otel_span_data *d = c.spans[i];
            int shape = (i + round) % 4;
            static const otel_span_kind kinds[] = { OTEL_SPAN_KIND_INTERNAL, OTEL_SPAN_KIND_CLIENT,
                                                    OTEL_SPAN_KIND_SERVER, OTEL_SPAN_KIND_INTERNAL };
            assert_int_equal(d->kind, kinds[shape]);
            if (shape == 1) {
                assert_int_equal(d->name.len, 0);
            } else if (shape == 2) {
                assert_int_equal(d->name.len, 6);
                assert_memory_equal(d->name.data, "copied", 6);
            } else {
                assert_int_equal(d->name.len, sizeof(literal) - 1);
                assert_memory_equal(d->name.data, literal, sizeof(literal) - 1);
            }
            assert_int_equal(d->attr_count, 1);
            assert_int_equal(d->attrs[0].value.as.s.len, (size_t)(i % 50));
            assert_memory_equal(d->attrs[0].value.as.s.data, literal, (size_t)(i % 50));
            if (round % 2) {
                assert_memory_equal(d->context.trace_id, psc.trace_id, OTEL_TRACE_ID_SIZE);
                assert_memory_equal(d->parent_span_id, psc.span_id, OTEL_SPAN_ID_SIZE);
            } else {
                assert_memory_not_equal(d->context.trace_id, psc.trace_id, OTEL_TRACE_ID_SIZE);
            }
            assert_int_equal(d->context.trace_flags, OTEL_TRACE_FLAG_SAMPLED | OTEL_TRACE_FLAG_RANDOM);
            assert_int_equal(d->event_count + d->link_count, 0);
            assert_int_equal(d->status_code, OTEL_SPAN_STATUS_UNSET);
            assert_true(d->start_time_ns > 0 && d->end_time_ns >= d->start_time_ns);
        }
        collector_clear(&c);
    }
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
}

/* ---------------------------------------------------------------------------------------------
 * Records, counters, size
 * ------------------------------------------------------------------------------------------- */

static void test_records_come_back_through_the_batch_processor_without_growing_the_pool(void **state)
{
    (void)state;
    otel_span_processor bp;
    otel_tracer_provider *tp = provider_with((otel_sampler){ 0 }, &bp, true);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    struct otel__provider *p = (struct otel__provider *)tp;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 1000; i++) {
            otel_span s = otel_tracer_start_span(t, OTEL_STR("loop"), NULL);
            otel_span_set_attr_str(s, OTEL_STR("k"), OTEL_STR("a copied value"));
            otel_span_end(s);
        }
        assert_int_equal(otel_batch_processor_tick(&bp), OTEL_OK);
        assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    }
    /* 1000 spans in flight at most, and the pool's slack: never 200000 records. */
    size_t records = otel__pool_record_count(&p->pool);
    print_message("records allocated: %zu\n", records);
    assert_true(records <= 1000 + 4 * OTEL__POOL_SLAB_RECORDS);
    otel_batch_processor_stats st;
    otel_batch_processor_get_stats(&bp, &st);
    assert_int_equal(st.spans_exported, 200000);
    otel_tracer_provider_destroy(tp);
}

struct counting_arg {
    otel_tracer *t;
    int spans;
};

static void *count_thread(void *arg)
{
    struct counting_arg *a = arg;
    for (int i = 0; i < a->spans; i++)
        otel_span_end(otel_tracer_start_span(a->t, OTEL_STR("c"), NULL));
    return NULL;
}

static void test_per_thread_counters_add_up(void **state)
{
    (void)state;
    retainer r;
    retainer_init(&r);
    otel_tracer_provider *tp = retainer_provider(&r, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    /* More threads than private counter slots: the rest share one. */
    enum { N = OTEL__TSTATS_SLOTS + 8 };
    pthread_t th[N];
    struct counting_arg arg = { t, 100 };
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, count_thread, &arg), 0);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    count_thread(&arg);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_started, (N + 1) * 100);
    assert_int_equal(st.spans_sampled, (N + 1) * 100);
    assert_int_equal(st.spans_recorded, (N + 1) * 100);
    assert_int_equal(st.spans_ended, (N + 1) * 100);
    retainer_release_all(&r);
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&r.lock);
}

static void test_record_is_four_cache_lines(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct otel__span_record), 256);
    /* What the exporting core touches to give a record back sits in the first line. */
    assert_true(offsetof(struct otel__span_record, box.refs) < 64);
    assert_true(offsetof(struct otel__span_record, state) < 64);
    assert_true(offsetof(struct otel__span_record, next_free) < 64);
    assert_true(offsetof(struct otel__span_record, flags) < 64);
    assert_true(offsetof(struct otel__span_record, provider) < 64);
    assert_int_equal(offsetof(struct otel__span_record, box.data) % 8, 0);
    /* The count sits right in front of the data, in a record as in a clone (retain/release find
     * it from the data alone), and the record's own bytes fill the box's owner word. */
    assert_int_equal(offsetof(struct otel__span_record, box.data) -
                         offsetof(struct otel__span_record, box.refs),
                     offsetof(struct otel__span_data_box, data) - offsetof(struct otel__span_data_box, refs));
    assert_int_equal(offsetof(struct otel__span_record, lock), offsetof(struct otel__span_record, box.owner));
    assert_true(offsetof(struct otel__span_record, tick_mode) < offsetof(struct otel__span_record, box.refs));
    /* The name buffer is written by start with the scope and the arena: the fourth line. */
    assert_int_equal(offsetof(struct otel__span_record, name_buf) / 64, 3);
    assert_int_equal(offsetof(struct otel__span_record, arena) / 64, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropped_root_span_has_a_new_trace_stable_on_every_read),
        cmocka_unit_test(test_dropped_child_of_unsampled_parent_keeps_trace_and_trace_state),
        cmocka_unit_test(test_span_times_follow_the_wall_clock_in_every_clock_mode),
        cmocka_unit_test(test_short_path_spans_are_complete_on_reused_records),
        cmocka_unit_test(test_short_path_spans_on_records_that_held_references_start_clean),
        cmocka_unit_test(test_short_path_spans_after_other_kinds_and_trace_states),
        cmocka_unit_test(test_short_path_spans_with_a_kind_or_a_static_name),
        cmocka_unit_test(test_records_come_back_through_the_batch_processor_without_growing_the_pool),
        cmocka_unit_test(test_per_thread_counters_add_up),
        cmocka_unit_test(test_record_is_four_cache_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
