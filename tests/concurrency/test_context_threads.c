/* The API's shared state under threads (run under ThreadSanitizer too): per-thread context
 * stacks used concurrently, a context handed from one thread to another, shared contexts and
 * trace states retained and released from many threads, stale span handles read while their
 * records are recycled, and the global provider swapped under running proxy tracers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api_internal.h"
#include "otel/baggage.h"
#include "otel/context.h"
#include "otel/impl.h"

#define THREADS 8
#define ITERATIONS 20000

static const otel_context_key key_thread = { "test.thread" };

static otel_span_context make_sc(uint32_t seed)
{
    otel_span_context sc = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED };
    memcpy(sc.trace_id, &seed, sizeof(seed));
    sc.trace_id[15] = 1;
    memcpy(sc.span_id, &seed, sizeof(seed));
    sc.span_id[7] = 1;
    return sc;
}

static bool sc_eq(otel_span_context a, otel_span_context b)
{
    return memcmp(a.trace_id, b.trace_id, sizeof(a.trace_id)) == 0 &&
           memcmp(a.span_id, b.span_id, sizeof(a.span_id)) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Per-thread stacks
 * ------------------------------------------------------------------------------------------- */

struct stack_arg {
    pthread_barrier_t *barrier;
    otel_context *shared;
    uintptr_t id;
    int failures;
};

static void *stack_worker(void *p)
{
    struct stack_arg *a = p;
    pthread_barrier_wait(a->barrier);
    otel_tracer *tracer = otel_global_get_tracer(OTEL_STR("threads"), NULL);
    for (int i = 0; i < ITERATIONS; i++) {
        otel_context *mine = NULL;
        if (otel_context_with_value(a->shared, &key_thread, (void *)a->id, NULL, &mine) != OTEL_OK) {
            a->failures++;
            continue;
        }
        otel_context_token t1 = otel_context_attach(mine);
        otel_span_context sc = make_sc((uint32_t)(a->id << 20 | (uintptr_t)i));
        otel_span parent = otel_nonrecording_span_create(&sc, otel_context_get_trace_state(mine));
        otel_context_token t2 = otel_span_make_current(parent);
        otel_span child = otel_tracer_start_span(tracer, OTEL_STR("child"), NULL);
        if (!sc_eq(otel_span_get_context(child), sc))
            a->failures++;
        if (i % 16 == 0) {
            otel_context *cur = otel_context_current();
            if (otel_context_get_value(cur, &key_thread) != (void *)a->id ||
                !sc_eq(otel_context_get_span_context(cur), sc))
                a->failures++;
            otel_context_release(cur);
        }
        otel_span_end(child);
        if (otel_context_detach(t2) != OTEL_OK || otel_context_detach(t1) != OTEL_OK)
            a->failures++;
        otel_span_end(parent);
        otel_context_release(mine);
    }
    return NULL;
}

static void test_threads_use_their_own_context_stacks(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("shared=1"), &ts), OTEL_OK);
    otel_span_context root = make_sc(0xabcdef);
    otel_context *shared = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &root, ts, &shared), OTEL_OK);
    otel_trace_state_release(ts);

    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t th[THREADS];
    struct stack_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct stack_arg){ &barrier, shared, (uintptr_t)i + 1, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, stack_worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    pthread_barrier_destroy(&barrier);
    otel_context_release(shared);
}

/* ---------------------------------------------------------------------------------------------
 * Hand-off: a context taken on one thread, attached on another
 * ------------------------------------------------------------------------------------------- */

struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    otel_context *ctx;
    otel_span_context expected;
    bool full;
    bool done;
    int failures;
    int received;
};

static void *producer(void *p)
{
    struct mailbox *m = p;
    for (int i = 0; i < 2000; i++) {
        otel_baggage *bg = NULL;
        otel_context *base = NULL;
        otel_baggage_set(NULL, OTEL_STR("i"), OTEL_STR("x"), (otel_str){ NULL, 0 }, &bg);
        otel_context_with_baggage(NULL, bg, &base);
        otel_baggage_release(bg);
        otel_context_token t1 = otel_context_attach(base);
        otel_span_context sc = make_sc((uint32_t)i + 1);
        otel_span s = otel_nonrecording_span_create(&sc, NULL);
        otel_context_token t2 = otel_span_make_current(s);
        otel_context *ctx = otel_context_current();
        otel_context_detach(t2);
        otel_context_detach(t1);
        otel_context_release(base);
        otel_span_end(s); /* the context keeps the span context */

        pthread_mutex_lock(&m->lock);
        while (m->full)
            pthread_cond_wait(&m->cond, &m->lock);
        m->ctx = ctx;
        m->expected = sc;
        m->full = true;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);
    }
    pthread_mutex_lock(&m->lock);
    while (m->full)
        pthread_cond_wait(&m->cond, &m->lock);
    m->done = true;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void *consumer(void *p)
{
    struct mailbox *m = p;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        while (!m->full && !m->done)
            pthread_cond_wait(&m->cond, &m->lock);
        if (!m->full) {
            pthread_mutex_unlock(&m->lock);
            return NULL;
        }
        otel_context *ctx = m->ctx;
        otel_span_context expected = m->expected;
        m->full = false;
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->lock);

        otel_context_token t = otel_context_attach(ctx);
        otel_context_release(ctx); /* the attach holds it now */
        otel_span child = otel_tracer_start_span(NULL, OTEL_STR("continued"), NULL);
        if (!sc_eq(otel_span_get_context(child), expected) || !otel_baggage_current())
            m->failures++;
        otel_span_end(child);
        if (otel_context_detach(t) != OTEL_OK)
            m->failures++;
        m->received++;
    }
}

static void test_a_context_continues_on_another_thread(void **state)
{
    (void)state;
    struct mailbox m = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, producer, &m), 0);
    assert_int_equal(pthread_create(&b, NULL, consumer, &m), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_equal(m.failures, 0);
    assert_int_equal(m.received, 2000);
}

/* ---------------------------------------------------------------------------------------------
 * Shared references
 * ------------------------------------------------------------------------------------------- */

struct refs_arg {
    pthread_barrier_t *barrier;
    otel_context *ctx;
    otel_trace_state *ts;
    otel_baggage *bg;
};

static void *refs_worker(void *p)
{
    struct refs_arg *a = p;
    pthread_barrier_wait(a->barrier);
    for (int i = 0; i < ITERATIONS; i++) {
        otel_context *c = otel_context_retain(a->ctx);
        otel_trace_state *t = otel_trace_state_retain(a->ts);
        otel_baggage *b = otel_baggage_retain(a->bg);
        otel_trace_state *t2 = NULL;
        otel_trace_state_set(t, OTEL_STR("mine"), OTEL_STR("1"), &t2);
        otel_trace_state_release(t2);
        otel_context_release(c);
        otel_trace_state_release(t);
        otel_baggage_release(b);
    }
    /* Each thread drops the reference the test gave it: the last one frees. */
    otel_context_release(a->ctx);
    otel_trace_state_release(a->ts);
    otel_baggage_release(a->bg);
    return NULL;
}

static int g_destroyed;

static void count_destroy(void *v)
{
    (void)v;
    g_destroyed++; /* runs once, on whichever thread releases last */
}

static void test_shared_references_are_counted_across_threads(void **state)
{
    (void)state;
    otel_trace_state *ts = NULL;
    otel_baggage *bg = NULL;
    otel_context *ctx = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("a=1,b=2"), &ts), OTEL_OK);
    assert_int_equal(otel_baggage_set(NULL, OTEL_STR("k"), OTEL_STR("v"), (otel_str){ NULL, 0 }, &bg),
                     OTEL_OK);
    assert_int_equal(otel_context_with_value(NULL, &key_thread, NULL, count_destroy, &ctx), OTEL_OK);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t th[THREADS];
    struct refs_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct refs_arg){ &barrier, otel_context_retain(ctx), otel_trace_state_retain(ts),
                                     otel_baggage_retain(bg) };
        assert_int_equal(pthread_create(&th[i], NULL, refs_worker, &args[i]), 0);
    }
    otel_context_release(ctx);
    otel_trace_state_release(ts);
    otel_baggage_release(bg);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(g_destroyed, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Stale handles racing with recycling
 * ------------------------------------------------------------------------------------------- */

#define SLOTS 16

struct slot {
    pthread_mutex_t lock;
    otel_span span;
    otel_span_context sc;
};

struct churn {
    struct slot slots[SLOTS];
    _Atomic bool stop;
    _Atomic int mismatches;
};

static void *churn_writer(void *p)
{
    struct churn *c = p;
    for (uint32_t i = 1; i <= ITERATIONS; i++) {
        struct slot *s = &c->slots[i % SLOTS];
        otel_span_context sc = make_sc(i);
        otel_span fresh = otel_nonrecording_span_create(&sc, NULL);
        pthread_mutex_lock(&s->lock);
        otel_span old = s->span;
        s->span = fresh;
        s->sc = sc;
        pthread_mutex_unlock(&s->lock);
        otel_span_end(old); /* readers may still hold |old| */
    }
    atomic_store(&c->stop, true);
    return NULL;
}

static void *churn_reader(void *p)
{
    struct churn *c = p;
    uint32_t i = 0;
    while (!atomic_load(&c->stop)) {
        struct slot *s = &c->slots[i++ % SLOTS];
        pthread_mutex_lock(&s->lock);
        otel_span span = s->span;
        otel_span_context expected = s->sc;
        pthread_mutex_unlock(&s->lock);
        otel_span_context got = otel_span_get_context(span);
        /* Either the span is still live and has its own context, or the handle is stale and
         * sees nothing: never another span's context. */
        if (otel_span_context_is_valid(&got) && !sc_eq(got, expected))
            atomic_fetch_add(&c->mismatches, 1);
        otel_trace_state_release(otel_span_get_trace_state(span));
        otel_span_end(span); /* racing ends: at most one wins */
    }
    return NULL;
}

static void test_stale_handles_never_see_a_recycled_record(void **state)
{
    (void)state;
    static struct churn c;
    for (int i = 0; i < SLOTS; i++)
        pthread_mutex_init(&c.slots[i].lock, NULL);
    pthread_t w, r[3];
    assert_int_equal(pthread_create(&w, NULL, churn_writer, &c), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&r[i], NULL, churn_reader, &c), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(r[i], NULL);
    for (int i = 0; i < SLOTS; i++) {
        otel_span_end(c.slots[i].span);
        pthread_mutex_destroy(&c.slots[i].lock);
    }
    assert_int_equal(atomic_load(&c.mismatches), 0);
}

/* ---------------------------------------------------------------------------------------------
 * Provider swaps under running proxies
 * ------------------------------------------------------------------------------------------- */

struct counting_provider {
    otel_tracer_provider hdr;
    otel_tracer tracer;
    _Atomic int starts;
};

static otel_span cp_start(otel_tracer *t, otel_str name, const otel_span_start_options *opts,
                          const otel_parent *parent)
{
    (void)name, (void)opts, (void)parent;
    struct counting_provider *p =
        (struct counting_provider *)((char *)t - offsetof(struct counting_provider, tracer));
    atomic_fetch_add(&p->starts, 1);
    return OTEL_SPAN_NONE;
}

static bool cp_enabled(otel_tracer *t)
{
    (void)t;
    return true;
}

static const struct otel_tracer_ops cp_tracer_ops = { cp_start, cp_enabled };

static otel_tracer *cp_get_tracer(otel_tracer_provider *tp, otel_str name, const otel_tracer_options *opts)
{
    (void)name, (void)opts;
    return &((struct counting_provider *)tp)->tracer;
}

static const struct otel_tracer_provider_ops cp_ops = { cp_get_tracer };

static _Atomic bool g_swapping;

static void *proxy_user(void *p)
{
    (void)p;
    otel_tracer *t = otel_global_get_tracer(OTEL_STR("swap"), NULL);
    while (atomic_load(&g_swapping)) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("s"), NULL);
        otel_span_end(s);
        (void)otel_tracer_enabled(t);
    }
    return NULL;
}

static void test_provider_swaps_are_safe_under_running_proxies(void **state)
{
    (void)state;
    static struct counting_provider p1 = { { &cp_ops }, { &cp_tracer_ops }, 0 };
    static struct counting_provider p2 = { { &cp_ops }, { &cp_tracer_ops }, 0 };
    atomic_store(&g_swapping, true);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, proxy_user, NULL), 0);
    for (int i = 0; i < 2000; i++) {
        otel_global_set_tracer_provider(i % 2 ? &p1.hdr : &p2.hdr);
        if (i % 7 == 0)
            otel_global_unset_tracer_provider(&p1.hdr);
    }
    otel_global_set_tracer_provider(&p1.hdr);
    /* Let the users see the final provider at least once, then stop them. */
    otel_tracer *t = otel_global_get_tracer(OTEL_STR("swap"), NULL);
    otel_tracer_start_span(t, OTEL_STR("s"), NULL);
    atomic_store(&g_swapping, false);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&p1.starts) > 0);
    otel_global_set_tracer_provider(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_use_their_own_context_stacks),
        cmocka_unit_test(test_a_context_continues_on_another_thread),
        cmocka_unit_test(test_shared_references_are_counted_across_threads),
        cmocka_unit_test(test_stale_handles_never_see_a_recycled_record),
        cmocka_unit_test(test_provider_swaps_are_safe_under_running_proxies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
