/* Re-entrancy into the context stack from code the API and SDK call while a span starts or is
 * made current: a log handler, a provider's get_tracer, a span implementation's ops. Such code
 * may attach and detach contexts (a "suppress instrumentation" key is a common pattern), and an
 * attach on a full stack moves the frames. Starting a span passes the parent by a pointer into
 * the stack, so every caller of user code must have copied it first. Each case runs on a fresh
 * thread, so its stack starts empty and the capacity (8, then 16) is known. Under ASan a stale
 * pointer is a use-after-free report. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "log_internal.h"
#include "otel/impl.h"
#include "otel/otel.h"
#include "otel/sdk/trace.h"

static const otel_context_key suppress_key = { "test.suppress" };
static _Atomic int handler_calls;

/* A log handler that attaches a context of its own while it runs. */
static void attaching_handler(void *ud, otel_log_level level, const char *msg)
{
    (void)ud, (void)level, (void)msg;
    atomic_fetch_add(&handler_calls, 1);
    otel_context *cur = otel_context_current();
    otel_context *c = NULL;
    assert_int_equal(otel_context_with_value(cur, &suppress_key, (void *)1, NULL, &c), OTEL_OK);
    otel_context_release(cur);
    otel_context_token tk = otel_context_attach(c); /* on a full stack: the frames move */
    assert_int_equal(otel_context_detach(tk), OTEL_OK);
    otel_context_release(c);
}

static void run_on_new_thread(void *(*fn)(void *))
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fn, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
}

#define DEPTH 8 /* the stack's first capacity */

static void *proxy_start_under_full_stack(void *arg)
{
    (void)arg;
    otel_tracer_provider *tp = NULL;
    otel_tracer_provider_options o = { 0 };
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_global_set_tracer_provider(tp);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("reentrancy"), NULL);
    /* A proxy with an empty scope name: its first use looks the tracer up, which warns. */
    otel_tracer *proxy = otel_global_get_tracer(OTEL_STR(""), NULL);
    otel_span spans[DEPTH];
    otel_context_token tokens[DEPTH];
    for (int i = 0; i < DEPTH; i++) {
        spans[i] = otel_tracer_start_span(t, OTEL_STR("outer"), NULL);
        tokens[i] = otel_span_make_current(spans[i]);
    }
    atomic_store(&handler_calls, 0);
    otel_log_set_handler(attaching_handler, NULL, OTEL_LOG_DEBUG);
    otel__log_set_rate_limit_ns(0);
    otel_span child = otel_tracer_start_span(proxy, OTEL_STR("child"), NULL);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    otel__log_set_rate_limit_ns(1000000000);
    assert_true(atomic_load(&handler_calls) > 0); /* the handler did run inside the start */
    otel_span_context cc = otel_span_get_context(child);
    otel_span_context pc = otel_span_get_context(spans[DEPTH - 1]);
    assert_memory_equal(cc.trace_id, pc.trace_id, OTEL_TRACE_ID_SIZE);
    otel_span_end(child);
    for (int i = DEPTH - 1; i >= 0; i--) {
        assert_int_equal(otel_context_detach(tokens[i]), OTEL_OK);
        otel_span_end(spans[i]);
    }
    otel_global_unset_tracer_provider(tp);
    otel_tracer_provider_destroy(tp);
    return NULL;
}

/* The proxy tracer resolves its tracer (provider code that logs) with the parent pointing into
 * the stack: the handler's attach moves the frames, the child must still get its parent. */
static void test_proxy_start_while_a_log_handler_attaches_on_a_full_stack(void **state)
{
    (void)state;
    run_on_new_thread(proxy_start_under_full_stack);
}

/* A span implementation whose get_context attaches a context (a bridge suppressing its own
 * tracing, say). */
static bool attaching_get_context(struct otel_span_impl *s, uint64_t gen, otel_span_context *out)
{
    (void)s, (void)gen;
    otel_context_token tk = otel_context_attach(NULL);
    assert_int_equal(otel_context_detach(tk), OTEL_OK);
    memset(out, 0, sizeof(*out));
    memset(out->trace_id, 0x42, OTEL_TRACE_ID_SIZE);
    memset(out->span_id, 0x17, OTEL_SPAN_ID_SIZE);
    out->trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    return true;
}
static const struct otel_span_ops attaching_ops = { .get_context = attaching_get_context };
static struct otel_span_impl attaching_impl = { &attaching_ops };

static void *make_current_under_full_stack(void *arg)
{
    (void)arg;
    otel_context_token tokens[DEPTH - 1];
    for (int i = 0; i < DEPTH - 1; i++)
        tokens[i] = otel_context_attach(NULL);
    /* The eighth frame fills the stack; the ops' attach needs a ninth. */
    otel_context_token tk = otel_span_make_current((otel_span){ &attaching_impl, 1 });
    assert_int_not_equal(tk, 0);
    otel_span_context sc = otel_span_current_context();
    assert_int_equal(sc.span_id[0], 0x17);
    assert_int_equal(sc.trace_id[15], 0x42);
    otel_context *cur = otel_context_current(); /* the frame's context object, built now */
    otel_span_context from_ctx = otel_context_get_span_context(cur);
    assert_int_equal(from_ctx.span_id[7], 0x17);
    otel_context_release(cur);
    assert_int_equal(otel_context_detach(tk), OTEL_OK);
    for (int i = DEPTH - 2; i >= 0; i--)
        assert_int_equal(otel_context_detach(tokens[i]), OTEL_OK);
    return NULL;
}

static void test_make_current_while_the_span_ops_attach_on_a_full_stack(void **state)
{
    (void)state;
    run_on_new_thread(make_current_under_full_stack);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_start_while_a_log_handler_attaches_on_a_full_stack),
        cmocka_unit_test(test_make_current_while_the_span_ops_attach_on_a_full_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
