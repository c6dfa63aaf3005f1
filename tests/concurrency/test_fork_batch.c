/* fork() with the batch span processor. A parent with spans waiting in its queue (and, in the
 * second test, producer threads and an exporter busy at the moment of fork) forks 20 children;
 * each child ends its own spans, flushes, and reports through a pipe what its exporter saw. Every
 * child's spans must arrive exactly once, none of the parent's queued spans may be exported by a
 * child, and the parent must keep working and export its own spans exactly once. Runs under
 * ThreadSanitizer in CI (which is told not to abort children that start threads after fork). */
#include <errno.h>
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

#define CHILDREN 20
#define CHILD_SPANS 300
#define PARENT_SPANS 100

OTEL_TEST_TSAN_FORK_OPTIONS()

/* Counts spans by the first letter of their name: 'p' parent, 'c' child, 'b' background. */
struct counter {
    _Atomic uint64_t parent;
    _Atomic uint64_t child;
    _Atomic uint64_t background;
    _Atomic uint64_t other;
    _Atomic int inside;
    _Atomic int overlaps;
    _Atomic int slow_us;
};

static struct counter counts;

static otel_export_result count_export(void *ud, const otel_span_data *const *spans, size_t n,
                                       int64_t timeout_ns)
{
    (void)timeout_ns;
    struct counter *c = ud;
    if (atomic_fetch_add(&c->inside, 1) != 0)
        atomic_fetch_add(&c->overlaps, 1);
    for (size_t i = 0; i < n; i++) {
        char k = spans[i]->name.len ? spans[i]->name.data[0] : '?';
        atomic_fetch_add(k == 'p'   ? &c->parent
                         : k == 'c' ? &c->child
                         : k == 'b' ? &c->background
                                    : &c->other,
                         1);
    }
    int us = atomic_load(&c->slow_us);
    if (us) {
        struct timespec ts = { 0, (long)us * 1000L };
        nanosleep(&ts, NULL);
    }
    atomic_fetch_sub(&c->inside, 1);
    return OTEL_EXPORT_SUCCESS;
}

struct report {
    uint64_t parent;
    uint64_t child;
    uint64_t background;
    uint64_t other;
    int overlaps;
    int flush_status;
    int shutdown_status;
};

static void end_spans(otel_tracer *t, const char *name, int n)
{
    for (int i = 0; i < n; i++)
        otel_span_end(otel_tracer_start_span(t, otel_str_from_cstr(name), NULL));
}

/* The child: its own spans, a flush, a report on |fd|, then _exit. */
static void child_main(otel_tracer_provider *tp, otel_tracer *t, int fd)
{
    struct report r = { 0 };
    end_spans(t, "child", CHILD_SPANS);
    r.flush_status = (int)otel_tracer_provider_force_flush(tp, INT64_C(20000000000));
    r.parent = atomic_load(&counts.parent);
    r.child = atomic_load(&counts.child);
    r.background = atomic_load(&counts.background);
    r.other = atomic_load(&counts.other);
    r.overlaps = atomic_load(&counts.overlaps);
    r.shutdown_status = (int)otel_tracer_provider_shutdown(tp, INT64_C(20000000000));
    ssize_t w = write(fd, &r, sizeof(r));
    _exit(w == (ssize_t)sizeof(r) ? 0 : 3);
}

static void read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        got += (size_t)n;
    }
}

/* Forks CHILDREN children one after another and checks each one's report. */
static void fork_children(otel_tracer_provider *tp, otel_tracer *t)
{
    for (int i = 0; i < CHILDREN; i++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            /* The child counts only what its own exporter sees. */
            atomic_store(&counts.parent, 0);
            atomic_store(&counts.child, 0);
            atomic_store(&counts.background, 0);
            atomic_store(&counts.other, 0);
            atomic_store(&counts.overlaps, 0);
            atomic_store(&counts.inside, 0);
            atomic_store(&counts.slow_us, 0);
            child_main(tp, t, fds[1]);
        }
        close(fds[1]);
        struct report r;
        read_full(fds[0], &r, sizeof(r));
        close(fds[0]);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(r.flush_status, OTEL_OK);
        assert_int_equal(r.shutdown_status, OTEL_OK);
        assert_int_equal(r.child, CHILD_SPANS); /* every child span, exactly once */
        assert_int_equal(r.parent, 0);          /* nothing the parent had queued */
        assert_int_equal(r.background, 0);      /* nor what its other threads queued */
        assert_int_equal(r.other, 0);
        assert_int_equal(r.overlaps, 0);
    }
}

static otel_tracer_provider *make_provider(otel_span_processor *bp, const otel_batch_options *bo)
{
    otel_span_exporter ex = { .export_spans = count_export, .user_data = &counts };
    assert_int_equal(otel_batch_processor_create(ex, bo, bp), OTEL_OK);
    otel_tracer_provider_options o = { .processors = bp, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    return tp;
}

static void reset_counts(void)
{
    memset(&counts, 0, sizeof(counts));
}

static void test_fork_children_export_their_own_spans_exactly_once(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    skip();
#endif
    reset_counts();
    otel_batch_options bo = { .schedule_delay_ns = INT64_C(3600000000000) };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&bp, &bo);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("fork"), NULL);
#ifdef UNDER_ASAN
    /* A round trip through the worker: its thread has finished starting. The sanitizer's
     * allocator (gcc 12) is not fork-safe, and a new thread allocates as it starts: a fork at
     * that moment leaves the child's allocator locked forever (seen about once in 40 runs). */
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
#endif
    end_spans(t, "parent", PARENT_SPANS); /* queued, not exported: the delay is an hour */
    otel_batch_processor_stats st;
    otel_batch_processor_get_stats(&bp, &st);
    assert_int_equal(st.spans_queued, PARENT_SPANS);

    fork_children(tp, t);

    /* The parent is unaffected: its queue is intact and exported once. */
    assert_int_equal(atomic_load(&counts.parent), 0);
    end_spans(t, "parent", PARENT_SPANS);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&counts.parent), 2 * PARENT_SPANS);
    assert_int_equal(atomic_load(&counts.child), 0);
    assert_int_equal(atomic_load(&counts.overlaps), 0);
    otel_tracer_provider_destroy(tp);
}

struct background {
    otel_tracer *t;
    _Atomic bool stop;
    _Atomic uint64_t ended;
};

static void *background_producer(void *p)
{
    struct background *bg = p;
    while (!atomic_load(&bg->stop)) {
        end_spans(bg->t, "background", 10);
        atomic_fetch_add(&bg->ended, 10);
    }
    return NULL;
}

/* Forks while another thread produces spans and the worker is busy exporting (a slow exporter):
 * fork may happen while the worker or a producer holds a lock, and must not deadlock. */
static void test_fork_while_producing_and_exporting_does_not_deadlock(void **state)
{
    (void)state;
#if defined(UNDER_TSAN) || defined(UNDER_ASAN)
    /* The sanitizers' own allocators (gcc 12) are not fork-safe: a child can block forever in
     * malloc when another parent thread was allocating at the moment of fork. */
    skip();
#endif
    reset_counts();
    atomic_store(&counts.slow_us, 200);
    otel_batch_options bo = { .max_export_batch_size = 64, .schedule_delay_ns = 1000000 };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&bp, &bo);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("fork"), NULL);
    struct background bg = { .t = t };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, background_producer, &bg), 0);
    fork_children(tp, t);
    atomic_store(&bg.stop, true);
    pthread_join(th, NULL);
    atomic_store(&counts.slow_us, 0);
    assert_int_equal(otel_tracer_provider_shutdown(tp, 0), OTEL_OK);
    otel_batch_processor_stats st;
    otel_batch_processor_get_stats(&bp, &st);
    assert_int_equal(st.spans_exported + st.spans_dropped_full, atomic_load(&bg.ended));
    assert_int_equal(atomic_load(&counts.background), st.spans_exported);
    assert_int_equal(atomic_load(&counts.child), 0);
    assert_int_equal(atomic_load(&counts.overlaps), 0);
    otel_tracer_provider_destroy(tp);
}

static void test_fork_event_loop_mode_child_works(void **state)
{
    (void)state;
    reset_counts();
    otel_batch_options bo = { .no_thread = true };
    otel_span_processor bp;
    otel_tracer_provider *tp = make_provider(&bp, &bo);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("fork"), NULL);
    end_spans(t, "parent", PARENT_SPANS);
    int fd = otel_batch_processor_fd(&bp);
    assert_true(fd >= 0);
    fork_children(tp, t); /* each child flushes on its own thread */
    assert_int_equal(otel_batch_processor_fd(&bp), fd);
    assert_int_equal(otel_tracer_provider_force_flush(tp, 0), OTEL_OK);
    assert_int_equal(atomic_load(&counts.parent), PARENT_SPANS);
    otel_tracer_provider_destroy(tp);
}

static void quiet(void *ud, otel_log_level level, const char *msg)
{
    (void)ud, (void)level, (void)msg;
}

int main(void)
{
    /* Children drop the spans their parent had queued, and say so at shutdown: expected. */
    otel_log_set_handler(quiet, NULL, OTEL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_children_export_their_own_spans_exactly_once),
        cmocka_unit_test(test_fork_while_producing_and_exporting_does_not_deadlock),
        cmocka_unit_test(test_fork_event_loop_mode_child_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
