/* Contexts: values and their destroy callbacks, the span and baggage slots, the per-thread stack
 * of current frames (attach/detach order, out-of-order and foreign tokens, span frames and their
 * lazily built context objects) and allocation failure. Spans here come from the API's
 * non-recording pool, which has real handle semantics (generation, end). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api_internal.h"
#include "failalloc.h"
#include "log_capture.h"
#include "log_internal.h"
#include "otel/baggage.h"
#include "otel/context.h"
#include "otel/impl.h"

static const otel_context_key key_a = { "test.a" };
static const otel_context_key key_b = { "test.b" };
static const otel_context_key key_same_name = { "test.a" };

static int setup(void **state)
{
    return log_capture_setup(state);
}

static int teardown(void **state)
{
    assert_int_equal(otel__context_stack_depth(), 0);
    return log_capture_teardown(state);
}

static otel_span_context make_sc(uint8_t seed)
{
    otel_span_context sc = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED };
    for (int i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        sc.trace_id[i] = (uint8_t)(seed + i);
    for (int i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        sc.span_id[i] = (uint8_t)(seed * 3 + i + 1);
    return sc;
}

static bool sc_eq(otel_span_context a, otel_span_context b)
{
    return memcmp(a.trace_id, b.trace_id, sizeof(a.trace_id)) == 0 &&
           memcmp(a.span_id, b.span_id, sizeof(a.span_id)) == 0 && a.trace_flags == b.trace_flags;
}

static bool span_eq(otel_span a, otel_span b)
{
    return a.impl == b.impl && a.gen == b.gen;
}

static int g_destroyed;

static void count_destroy(void *value)
{
    (void)value;
    g_destroyed++;
}

/* ---------------------------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------------------------- */

static void test_values_are_found_in_the_context_and_its_ancestors(void **state)
{
    (void)state;
    int a = 1, b = 2, a2 = 3;
    otel_context *c1 = NULL, *c2 = NULL, *c3 = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key_a, &a, NULL, &c1), OTEL_OK);
    assert_int_equal(otel_context_with_value(c1, &key_b, &b, NULL, &c2), OTEL_OK);
    assert_int_equal(otel_context_with_value(c2, &key_a, &a2, NULL, &c3), OTEL_OK);
    assert_ptr_equal(otel_context_get_value(c1, &key_a), &a);
    assert_null(otel_context_get_value(c1, &key_b));
    assert_ptr_equal(otel_context_get_value(c2, &key_a), &a);
    assert_ptr_equal(otel_context_get_value(c2, &key_b), &b);
    assert_ptr_equal(otel_context_get_value(c3, &key_a), &a2); /* the nearest one wins */
    assert_null(otel_context_get_value(c3, &key_same_name));   /* keys compare by address */
    assert_null(otel_context_get_value(NULL, &key_a));
    assert_null(otel_context_get_value(c3, NULL));
    otel_context_release(c1);
    otel_context_release(c2);
    assert_ptr_equal(otel_context_get_value(c3, &key_b), &b); /* kept alive by c3 */
    otel_context_release(c3);
}

static void test_destroy_is_called_once_when_the_last_holder_goes(void **state)
{
    (void)state;
    g_destroyed = 0;
    otel_context *c1 = NULL, *c2 = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key_a, &g_destroyed, count_destroy, &c1), OTEL_OK);
    assert_int_equal(otel_context_with_value(c1, &key_b, NULL, NULL, &c2), OTEL_OK);
    assert_ptr_equal(otel_context_retain(c1), c1);
    otel_context_release(c1);
    otel_context_release(c1);
    assert_int_equal(g_destroyed, 0); /* c2 still holds c1 */
    otel_context_release(c2);
    assert_int_equal(g_destroyed, 1);
}

static void test_with_value_rejects_null_key_and_out(void **state)
{
    (void)state;
    otel_context *c = (otel_context *)1;
    assert_int_equal(otel_context_with_value(NULL, NULL, NULL, NULL, &c), OTEL_ERR_INVALID_ARG);
    assert_ptr_equal(c, (otel_context *)1);
    assert_int_equal(otel_context_with_value(NULL, &key_a, NULL, NULL, NULL), OTEL_ERR_INVALID_ARG);
    otel_context_release(NULL);
    assert_null(otel_context_retain(NULL));
}

static void test_a_long_chain_is_released_without_recursion(void **state)
{
    (void)state;
    g_destroyed = 0;
    otel_context *c = NULL;
    for (int i = 0; i < 200000; i++) {
        otel_context *next = NULL;
        assert_int_equal(otel_context_with_value(c, &key_a, NULL, count_destroy, &next), OTEL_OK);
        otel_context_release(c);
        c = next;
    }
    otel_context_release(c);
    assert_int_equal(g_destroyed, 200000);
}

/* ---------------------------------------------------------------------------------------------
 * Span and baggage slots
 * ------------------------------------------------------------------------------------------- */

static void test_with_span_keeps_the_span_context_after_the_span_ended(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("a=1"), &ts), OTEL_OK);
    otel_span_context sc = make_sc(1);
    otel_span span = otel_nonrecording_span_create(&sc, ts);
    otel_trace_state_release(ts);
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_span(NULL, span, &c), OTEL_OK);
    otel_span_end(span);
    assert_true(span_eq(otel_context_get_span(c), span));
    assert_true(sc_eq(otel_context_get_span_context(c), sc));
    const otel_trace_state *got = otel_context_get_trace_state(c);
    assert_non_null(got);
    assert_true(otel_trace_state_get(got, OTEL_STR("a"), NULL));
    /* The dead handle is harmless. */
    assert_false(otel_span_is_recording(otel_context_get_span(c)));
    assert_false(otel_span_context_is_valid(&(otel_span_context){ 0 }));
    otel_context_release(c);
}

static void test_with_span_of_an_ended_span_stores_an_invalid_context(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(2);
    otel_span span = otel_nonrecording_span_create(&sc, NULL);
    otel_span_end(span);
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_span(NULL, span, &c), OTEL_OK);
    otel_span_context got = otel_context_get_span_context(c);
    assert_false(otel_span_context_is_valid(&got));
    otel_context_release(c);
}

static void test_with_span_context_gets_a_nonrecording_wrapper_span(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(3);
    sc.is_remote = true;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("k=v"), &ts), OTEL_OK);
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &sc, ts, &c), OTEL_OK);
    otel_trace_state_release(ts); /* the context holds its own reference */
    otel_span wrapper = otel_context_get_span(c);
    assert_non_null(wrapper.impl);
    assert_false(otel_span_is_recording(wrapper));
    otel_span_context via_span = otel_span_get_context(wrapper);
    assert_true(sc_eq(via_span, sc));
    otel_trace_state *wts = otel_span_get_trace_state(wrapper);
    assert_true(otel_trace_state_get(wts, OTEL_STR("k"), NULL));
    otel_trace_state_release(wts);
    otel_span_set_attr_int(wrapper, OTEL_STR("ignored"), 1); /* harmless */
    otel_span_end(wrapper);                                  /* harmless, stays readable */
    assert_true(sc_eq(otel_span_get_context(wrapper), sc));
    /* A child context inherits the wrapper, and the current-span query sees it once attached. */
    otel_context *child = NULL;
    static const otel_context_key k = { "k" };
    assert_int_equal(otel_context_with_value(c, &k, NULL, NULL, &child), OTEL_OK);
    assert_ptr_equal(otel_context_get_span(child).impl, wrapper.impl);
    otel_context_token tok = otel_context_attach(child);
    assert_true(sc_eq(otel_span_get_context(otel_span_current()), sc));
    assert_int_equal(otel_context_detach(tok), OTEL_OK);
    otel_context_release(child);
    otel_span_context got = otel_context_get_span_context(c);
    assert_true(sc_eq(got, sc));
    assert_true(got.is_remote);
    assert_true(otel_trace_state_get(otel_context_get_trace_state(c), OTEL_STR("k"), NULL));
    otel_context_release(c);
    otel_context *bad = (otel_context *)1;
    assert_int_equal(otel_context_with_span_context(NULL, NULL, NULL, &bad), OTEL_ERR_INVALID_ARG);
    assert_ptr_equal(bad, (otel_context *)1);
}

static void test_span_and_baggage_slots_are_inherited_and_shadowed(void **state)
{
    (void)state;
    otel_baggage *bg = NULL;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("u"), OTEL_STR("1"), (otel_str){ NULL, 0 }, &bg),
                     OTEL_OK);
    otel_span_context sc1 = make_sc(4), sc2 = make_sc(5);
    otel_context *c1 = NULL, *c2 = NULL, *c3 = NULL, *c4 = NULL, *c5 = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &sc1, NULL, &c1), OTEL_OK);
    assert_int_equal(otel_context_with_baggage(c1, bg, &c2), OTEL_OK);
    otel_baggage_release(bg);
    assert_int_equal(otel_context_with_value(c2, &key_a, NULL, NULL, &c3), OTEL_OK);
    assert_int_equal(otel_context_with_span_context(c3, &sc2, NULL, &c4), OTEL_OK);
    assert_int_equal(otel_context_with_baggage(c4, NULL, &c5), OTEL_OK);
    assert_null(otel_context_get_baggage(c1));
    assert_ptr_equal(otel_context_get_baggage(c2), bg);
    assert_ptr_equal(otel_context_get_baggage(c3), bg);
    assert_ptr_equal(otel_context_get_baggage(c4), bg);
    assert_null(otel_context_get_baggage(c5)); /* removed */
    assert_true(sc_eq(otel_context_get_span_context(c3), sc1));
    assert_true(sc_eq(otel_context_get_span_context(c4), sc2));
    assert_true(sc_eq(otel_context_get_span_context(c5), sc2));
    assert_null(otel_context_get_baggage(NULL));
    assert_null(otel_context_get_trace_state(NULL));
    assert_null(otel_context_get_span(NULL).impl);
    otel_context_release(c1);
    otel_context_release(c2);
    otel_context_release(c3);
    otel_context_release(c4);
    otel_context_release(c5);
}

/* ---------------------------------------------------------------------------------------------
 * Current context
 * ------------------------------------------------------------------------------------------- */

static void test_attach_and_detach_in_order_restore_the_previous_context(void **state)
{
    (void)state;
    int a = 1, b = 2;
    otel_context *c1 = NULL, *c2 = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key_a, &a, NULL, &c1), OTEL_OK);
    assert_int_equal(otel_context_with_value(NULL, &key_a, &b, NULL, &c2), OTEL_OK);
    assert_null(otel_context_current());
    otel_context_token t1 = otel_context_attach(c1);
    assert_int_not_equal(t1, 0);
    otel_context_token t2 = otel_context_attach(c2);
    assert_int_not_equal(t2, 0);
    assert_int_not_equal(t1, t2);
    otel_context *cur = otel_context_current();
    assert_ptr_equal(cur, c2);
    otel_context_release(cur);
    assert_int_equal(otel_context_detach(t2), OTEL_OK);
    cur = otel_context_current();
    assert_ptr_equal(cur, c1);
    otel_context_release(cur);
    assert_int_equal(otel_context_detach(t1), OTEL_OK);
    assert_null(otel_context_current());
    assert_int_equal(log_capture_count_at(OTEL_LOG_WARN), 0);
    otel_context_release(c1);
    otel_context_release(c2);
}

static void test_attached_context_is_retained_while_attached(void **state)
{
    (void)state;
    g_destroyed = 0;
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key_a, NULL, count_destroy, &c), OTEL_OK);
    otel_context_token t = otel_context_attach(c);
    otel_context_release(c);
    assert_int_equal(g_destroyed, 0);
    assert_int_equal(otel_context_detach(t), OTEL_OK);
    assert_int_equal(g_destroyed, 1);
}

static void test_attaching_null_makes_the_empty_context_current(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(6);
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &sc, NULL, &c), OTEL_OK);
    otel_context_token t1 = otel_context_attach(c);
    otel_context_token t2 = otel_context_attach(NULL);
    assert_null(otel_context_current());
    otel_span_context cur = otel_span_current_context();
    assert_false(otel_span_context_is_valid(&cur));
    assert_int_equal(otel_context_detach(t2), OTEL_OK);
    cur = otel_span_current_context();
    assert_true(sc_eq(cur, sc));
    assert_int_equal(otel_context_detach(t1), OTEL_OK);
    otel_context_release(c);
}

static void test_out_of_order_detach_unwinds_and_is_reported(void **state)
{
    (void)state;
    otel_context *c1 = NULL, *c2 = NULL, *c3 = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key_a, NULL, NULL, &c1), OTEL_OK);
    assert_int_equal(otel_context_with_value(NULL, &key_a, NULL, NULL, &c2), OTEL_OK);
    assert_int_equal(otel_context_with_value(NULL, &key_a, NULL, NULL, &c3), OTEL_OK);
    otel_context_token t1 = otel_context_attach(c1);
    otel_context_token t2 = otel_context_attach(c2);
    otel_context_token t3 = otel_context_attach(c3);
    assert_int_equal(otel_context_detach(t2), OTEL_ERR_INVALID_ARG);
    assert_int_equal(log_capture_count_at(OTEL_LOG_WARN), 1);
    assert_int_equal(otel__context_stack_depth(), 1);
    otel_context *cur = otel_context_current();
    assert_ptr_equal(cur, c1);
    otel_context_release(cur);
    /* t3 went with t2: detaching it now is an unknown token and changes nothing. */
    assert_int_equal(otel_context_detach(t3), OTEL_ERR_INVALID_ARG);
    assert_int_equal(log_capture_count_at(OTEL_LOG_WARN), 2);
    assert_int_equal(otel__context_stack_depth(), 1);
    assert_int_equal(otel_context_detach(t1), OTEL_OK);
    assert_int_equal(log_capture_count_at(OTEL_LOG_WARN), 2);
    otel_context_release(c1);
    otel_context_release(c2);
    otel_context_release(c3);
}

static void test_detach_of_a_stale_token_at_a_reused_depth_is_rejected(void **state)
{
    (void)state;
    otel_context_token t1 = otel_context_attach(NULL);
    assert_int_equal(otel_context_detach(t1), OTEL_OK);
    otel_context_token t2 = otel_context_attach(NULL); /* same depth, new serial */
    assert_int_not_equal(t1, t2);
    assert_int_equal(otel_context_detach(t1), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel__context_stack_depth(), 1);
    assert_int_equal(otel_context_detach(t2), OTEL_OK);
    assert_int_equal(otel_context_detach(0), OTEL_ERR_INVALID_ARG);
    assert_int_equal(log_capture_count_at(OTEL_LOG_WARN), 2);
}

static void *attach_on_other_thread(void *arg)
{
    otel_context_token *out = arg;
    out[0] = otel_context_attach(NULL);
    out[1] = otel_context_attach(NULL);
    /* Leave them attached: the thread-exit cleanup must release them. */
    return NULL;
}

static void test_a_token_from_another_thread_changes_nothing(void **state)
{
    (void)state;
    otel_context_token foreign[2] = { 0, 0 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, attach_on_other_thread, foreign), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_not_equal(foreign[0], 0);
    otel_context_token mine1 = otel_context_attach(NULL);
    otel_context_token mine2 = otel_context_attach(NULL);
    assert_int_equal(otel_context_detach(foreign[1]), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_context_detach(foreign[0]), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel__context_stack_depth(), 2);
    assert_int_equal(otel_context_detach(mine2), OTEL_OK);
    assert_int_equal(otel_context_detach(mine1), OTEL_OK);
    assert_int_equal(log_capture_count_at(OTEL_LOG_WARN), 2);
}

static void test_make_current_nests_spans_without_contexts(void **state)
{
    (void)state;
    otel_span_context sc1 = make_sc(10), sc2 = make_sc(11);
    otel_span s1 = otel_nonrecording_span_create(&sc1, NULL);
    otel_span s2 = otel_nonrecording_span_create(&sc2, NULL);
    assert_null(otel_span_current().impl);
    otel_context_token t1 = otel_span_make_current(s1);
    assert_true(span_eq(otel_span_current(), s1));
    otel_context_token t2 = otel_span_make_current(s2);
    assert_true(span_eq(otel_span_current(), s2));
    assert_true(sc_eq(otel_span_current_context(), sc2));
    /* A child started now has s2 as parent (the no-op tracer carries the parent's context). */
    otel_span child = otel_tracer_start_span(NULL, OTEL_STR("child"), NULL);
    otel_span_context csc = otel_span_get_context(child);
    assert_true(sc_eq(csc, sc2));
    otel_span_end(child);
    assert_int_equal(otel_context_detach(t2), OTEL_OK);
    assert_true(span_eq(otel_span_current(), s1));
    assert_true(sc_eq(otel_span_current_context(), sc1));
    assert_int_equal(otel_context_detach(t1), OTEL_OK);
    assert_null(otel_span_current().impl);
    otel_span_end(s1);
    otel_span_end(s2);
}

static void test_span_frame_keeps_its_context_after_the_span_ended(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(12);
    otel_span s = otel_nonrecording_span_create(&sc, NULL);
    otel_context_token t = otel_span_make_current(s);
    otel_span_end(s);
    assert_true(sc_eq(otel_span_current_context(), sc));
    otel_context *cur = otel_context_current();
    assert_true(sc_eq(otel_context_get_span_context(cur), sc));
    otel_context_release(cur);
    assert_int_equal(otel_context_detach(t), OTEL_OK);
}

static void test_context_current_materializes_span_frames_once(void **state)
{
    (void)state;
    int a = 7;
    otel_baggage *bg = NULL;
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("u"), OTEL_STR("1"), (otel_str){ NULL, 0 }, &bg),
                     OTEL_OK);
    otel_context *base = NULL, *base2 = NULL;
    assert_int_equal(otel_context_with_value(NULL, &key_a, &a, NULL, &base), OTEL_OK);
    assert_int_equal(otel_context_with_baggage(base, bg, &base2), OTEL_OK);
    otel_baggage_release(bg);
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("x=y"), &ts), OTEL_OK);
    otel_span_context sc1 = make_sc(20), sc2 = make_sc(21);
    otel_span s1 = otel_nonrecording_span_create(&sc1, ts);
    otel_span s2 = otel_nonrecording_span_create(&sc2, NULL);
    otel_trace_state_release(ts);

    otel_context_token tb = otel_context_attach(base2);
    otel_context_token t1 = otel_span_make_current(s1);
    otel_context_token t2 = otel_span_make_current(s2);
    assert_ptr_equal(otel_baggage_current(), bg);

    otel_context *cur = otel_context_current();
    assert_non_null(cur);
    assert_true(span_eq(otel_context_get_span(cur), s2));
    assert_true(sc_eq(otel_context_get_span_context(cur), sc2));
    assert_ptr_equal(otel_context_get_value(cur, &key_a), &a);
    assert_ptr_equal(otel_context_get_baggage(cur), bg);
    assert_null(otel_context_get_trace_state(cur));
    otel_context *again = otel_context_current();
    assert_ptr_equal(again, cur); /* cached in the frame */
    otel_context_release(again);

    assert_int_equal(otel_context_detach(t2), OTEL_OK);
    otel_context *cur1 = otel_context_current();
    assert_true(span_eq(otel_context_get_span(cur1), s1));
    assert_true(otel_trace_state_get(otel_context_get_trace_state(cur1), OTEL_STR("x"), NULL));
    assert_ptr_equal(otel_context_get_value(cur1, &key_a), &a);
    /* The released frame's context object outlives the frame while we hold it. */
    assert_true(sc_eq(otel_context_get_span_context(cur), sc2));
    otel_context_release(cur);
    otel_context_release(cur1);
    assert_int_equal(otel_context_detach(t1), OTEL_OK);
    assert_int_equal(otel_context_detach(tb), OTEL_OK);
    assert_null(otel_baggage_current());
    otel_span_end(s1);
    otel_span_end(s2);
    otel_context_release(base);
    otel_context_release(base2);
}

static void test_explicit_parent_and_root_flag_override_the_current_frame(void **state)
{
    (void)state;
    otel_span_context cur_sc = make_sc(30), explicit_sc = make_sc(31);
    otel_span s = otel_nonrecording_span_create(&cur_sc, NULL);
    otel_context_token t = otel_span_make_current(s);
    otel_context *parent = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &explicit_sc, NULL, &parent), OTEL_OK);

    otel_span_start_options opts = { .parent = parent };
    otel_span child = otel_tracer_start_span(NULL, OTEL_STR("c"), &opts);
    assert_true(sc_eq(otel_span_get_context(child), explicit_sc));
    otel_span_end(child);

    opts.flags = OTEL_SPAN_START_ROOT;
    child = otel_tracer_start_span(NULL, OTEL_STR("c"), &opts);
    assert_null(child.impl); /* no parent, no SDK: nothing to carry */

    assert_int_equal(otel_context_detach(t), OTEL_OK);
    otel_span_end(s);
    otel_context_release(parent);
}

static void test_current_span_of_an_attached_context(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(40);
    otel_span s = otel_nonrecording_span_create(&sc, NULL);
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_span(NULL, s, &c), OTEL_OK);
    otel_context_token t = otel_context_attach(c);
    assert_true(span_eq(otel_span_current(), s));
    assert_true(sc_eq(otel_span_current_context(), sc));
    assert_int_equal(otel_context_detach(t), OTEL_OK);
    otel_context_release(c);
    otel_span_end(s);
}

static void test_deep_nesting_grows_the_stack(void **state)
{
    (void)state;
    enum { DEPTH = 1000 };
    static otel_context_token tokens[DEPTH];
    otel_span_context sc = make_sc(50);
    otel_span s = otel_nonrecording_span_create(&sc, NULL);
    for (int i = 0; i < DEPTH; i++)
        tokens[i] = i % 2 ? otel_span_make_current(s) : otel_context_attach(NULL);
    assert_int_equal(otel__context_stack_depth(), DEPTH);
    otel_context *cur = otel_context_current();
    assert_true(sc_eq(otel_context_get_span_context(cur), sc));
    otel_context_release(cur);
    for (int i = DEPTH; i-- > 0;)
        assert_int_equal(otel_context_detach(tokens[i]), OTEL_OK);
    otel_span_end(s);
}

static void test_nested_spans_do_not_allocate_in_steady_state(void **state)
{
    (void)state;
    otel_span_context sc = make_sc(70);
    otel_context *remote = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &sc, NULL, &remote), OTEL_OK);
    otel_tracer *tracer = otel_global_get_tracer(OTEL_STR("steady"), NULL);
    for (int round = 0; round < 2; round++) {
        /* Round 0 warms up the frame stack and the span pool; round 1 must not allocate. */
        if (round == 1)
            failalloc_install();
        otel_context_token t0 = otel_context_attach(remote);
        for (int i = 0; i < 100; i++) {
            otel_span outer = otel_tracer_start_span(tracer, OTEL_STR("outer"), NULL);
            otel_context_token t1 = otel_span_make_current(outer);
            otel_span inner = otel_tracer_start_span(tracer, OTEL_STR("inner"), NULL);
            otel_context_token t2 = otel_span_make_current(inner);
            otel_span_set_attr_int(otel_span_current(), OTEL_STR("i"), i);
            assert_int_equal(otel_context_detach(t2), OTEL_OK);
            otel_span_end(inner);
            assert_int_equal(otel_context_detach(t1), OTEL_OK);
            otel_span_end(outer);
        }
        assert_int_equal(otel_context_detach(t0), OTEL_OK);
        if (round == 1) {
            assert_int_equal(failalloc_count(), 0);
            failalloc_uninstall();
        }
    }
    otel_context_release(remote);
}

/* ---------------------------------------------------------------------------------------------
 * Allocation failure
 * ------------------------------------------------------------------------------------------- */

static int context_scenario(void *arg)
{
    (void)arg;
    g_destroyed = 0;
    otel_context *c1 = NULL, *c2 = NULL, *c3 = NULL;
    otel_span_context sc = make_sc(60);
    otel_status st = otel_context_with_value(NULL, &key_a, &g_destroyed, count_destroy, &c1);
    if (st != OTEL_OK) {
        /* Ownership stays with the caller on failure: no destroy call. */
        assert_int_equal(g_destroyed, 0);
        return (int)st;
    }
    st = otel_context_with_span_context(c1, &sc, NULL, &c2);
    if (st != OTEL_OK)
        goto out_c1;
    st = otel_context_with_baggage(c2, NULL, &c3);
    if (st != OTEL_OK)
        goto out_c2;
    otel_context_token t = otel_context_attach(c3);
    otel_span s = otel_nonrecording_span_create(&sc, NULL);
    otel_context_token ts = otel_span_make_current(s);
    otel_context *cur = otel_context_current(); /* allocates a node for the span frame */
    if (ts != 0 && cur && otel_context_get_span(cur).impl != s.impl)
        st = OTEL_ERR_NOMEM; /* the fallback without the span */
    if (!cur)
        st = OTEL_ERR_NOMEM;
    assert_ptr_equal(otel_context_get_value(cur, &key_a), &g_destroyed);
    otel_context_release(cur);
    if (ts)
        otel_context_detach(ts);
    otel_span_end(s);
    if (t)
        otel_context_detach(t);
    otel_context_release(c3);
out_c2:
    otel_context_release(c2);
out_c1:
    otel_context_release(c1);
    assert_int_equal(g_destroyed, 1);
    return (int)st;
}

static void test_allocation_failures_are_reported_and_leak_nothing(void **state)
{
    (void)state;
    /* Warm up what is kept for the thread or process (the frame stack, the span pool). */
    otel_context_token t = otel_context_attach(NULL);
    otel_context_detach(t);
    otel_span_context sc = make_sc(61);
    otel_span_end(otel_nonrecording_span_create(&sc, NULL));

    failalloc_result r = failalloc_run(context_scenario, NULL);
    assert_int_equal(r.clean_status, OTEL_OK);
    assert_int_equal(r.allocations, 4);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

static void *attach_with_failing_allocator(void *arg)
{
    (void)arg;
    failalloc_install();
    failalloc_fail_at(1);
    otel_context_token t = otel_context_attach(NULL);
    otel_context_token s = otel_span_make_current(OTEL_SPAN_NONE);
    failalloc_uninstall();
    return (void *)(uintptr_t)(t == 0 && s != 0 && otel__context_stack_depth() == 1 &&
                               otel_context_detach(s) == OTEL_OK);
}

static void test_attach_returns_zero_when_the_stack_cannot_grow(void **state)
{
    (void)state;
    pthread_t th;
    void *ok = NULL;
    assert_int_equal(pthread_create(&th, NULL, attach_with_failing_allocator, NULL), 0);
    assert_int_equal(pthread_join(th, &ok), 0);
    assert_non_null(ok);
    assert_int_equal(log_capture_count_at(OTEL_LOG_ERROR), 1);
}

/* Every test runs with the counting handler installed and checks the stack is empty after. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_values_are_found_in_the_context_and_its_ancestors),
        TEST(test_destroy_is_called_once_when_the_last_holder_goes),
        TEST(test_with_value_rejects_null_key_and_out),
        TEST(test_a_long_chain_is_released_without_recursion),
        TEST(test_with_span_keeps_the_span_context_after_the_span_ended),
        TEST(test_with_span_of_an_ended_span_stores_an_invalid_context),
        TEST(test_with_span_context_gets_a_nonrecording_wrapper_span),
        TEST(test_span_and_baggage_slots_are_inherited_and_shadowed),
        TEST(test_attach_and_detach_in_order_restore_the_previous_context),
        TEST(test_attached_context_is_retained_while_attached),
        TEST(test_attaching_null_makes_the_empty_context_current),
        TEST(test_out_of_order_detach_unwinds_and_is_reported),
        TEST(test_detach_of_a_stale_token_at_a_reused_depth_is_rejected),
        TEST(test_a_token_from_another_thread_changes_nothing),
        TEST(test_make_current_nests_spans_without_contexts),
        TEST(test_span_frame_keeps_its_context_after_the_span_ended),
        TEST(test_context_current_materializes_span_frames_once),
        TEST(test_explicit_parent_and_root_flag_override_the_current_frame),
        TEST(test_current_span_of_an_attached_context),
        TEST(test_deep_nesting_grows_the_stack),
        TEST(test_nested_spans_do_not_allocate_in_steady_state),
        TEST(test_allocation_failures_are_reported_and_leak_nothing),
        TEST(test_attach_returns_zero_when_the_stack_cannot_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
