/* The built-in id generator: never an all-zero id, no repeats, distinct streams per thread, and
 * a forked child that re-seeds instead of repeating its parent's ids. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "clock.h"
#include "provider.h"

#define N_IDS 100000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t span_id_u64(void)
{
    uint8_t id[OTEL_SPAN_ID_SIZE];
    otel__random_span_id(id);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | id[i];
    return v;
}

static void test_span_ids_are_never_zero_and_do_not_repeat(void **state)
{
    (void)state;
    uint64_t *ids = malloc(N_IDS * sizeof(*ids));
    assert_non_null(ids);
    for (size_t i = 0; i < N_IDS; i++) {
        ids[i] = span_id_u64();
        assert_true(ids[i] != 0);
    }
    qsort(ids, N_IDS, sizeof(*ids), cmp_u64);
    for (size_t i = 1; i < N_IDS; i++)
        assert_true(ids[i] != ids[i - 1]);
    free(ids);
}

static void test_trace_ids_are_valid_and_both_halves_vary(void **state)
{
    (void)state;
    uint8_t prev[OTEL_TRACE_ID_SIZE] = { 0 };
    int hi_same = 0, lo_same = 0;
    for (int i = 0; i < 1000; i++) {
        uint8_t id[OTEL_TRACE_ID_SIZE];
        otel__random_trace_id(id);
        assert_true(otel_trace_id_is_valid(id));
        hi_same += memcmp(id, prev, 8) == 0;
        lo_same += memcmp(id + 8, prev + 8, 8) == 0;
        memcpy(prev, id, sizeof(id));
    }
    assert_int_equal(hi_same, 0);
    assert_int_equal(lo_same, 0);
}

static void test_builtin_generator_struct_declares_random_ids(void **state)
{
    (void)state;
    otel_id_generator g = otel__id_generator_builtin();
    assert_true(g.random_trace_ids);
    uint8_t a[OTEL_SPAN_ID_SIZE], b[OTEL_SPAN_ID_SIZE];
    g.new_span_id(g.user_data, a);
    g.new_span_id(g.user_data, b);
    assert_true(otel_span_id_is_valid(a));
    assert_memory_not_equal(a, b, sizeof(a));
}

static void *thread_ids(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < 1000; i++)
        out[i] = span_id_u64();
    return NULL;
}

static void test_threads_get_distinct_streams(void **state)
{
    (void)state;
    static uint64_t ids[4][1000];
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_ids, ids[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    uint64_t *all = malloc(sizeof(ids));
    memcpy(all, ids, sizeof(ids));
    qsort(all, 4000, sizeof(*all), cmp_u64);
    for (size_t i = 1; i < 4000; i++)
        assert_true(all[i] != all[i - 1]);
    free(all);
}

#define FORK_IDS 64

/* Reads the FORK_IDS ids child |pid| writes to |fd| into |out|, closes |fd| and requires that
 * the child exited with status 0 after writing all of them. */
static void read_child_ids(int fd, pid_t pid, uint64_t out[FORK_IDS])
{
    size_t want = FORK_IDS * sizeof(out[0]), got = 0;
    while (got < want) {
        ssize_t n = read(fd, (char *)out + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, want);
}

static void test_forked_child_reseeds(void **state)
{
    (void)state;
    (void)span_id_u64(); /* make sure the parent's state is seeded before the fork */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        uint64_t ids[FORK_IDS];
        for (int i = 0; i < FORK_IDS; i++)
            ids[i] = span_id_u64();
        ssize_t w = write(fds[1], ids, sizeof(ids));
        _exit(w == (ssize_t)sizeof(ids) ? 0 : 1);
    }
    close(fds[1]);
    uint64_t mine[FORK_IDS], child[FORK_IDS];
    for (int i = 0; i < FORK_IDS; i++)
        mine[i] = span_id_u64();
    read_child_ids(fds[0], pid, child);
    /* Without a re-seed the child would repeat exactly the parent's next ids. */
    int same = 0;
    for (int i = 0; i < FORK_IDS; i++)
        for (int j = 0; j < FORK_IDS; j++)
            same += mine[i] == child[j];
    assert_int_equal(same, 0);
}

static void test_provider_spans_get_distinct_ids(void **state)
{
    (void)state;
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(NULL, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_context prev = { 0 };
    for (int i = 0; i < 100; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("s"), NULL);
        otel_span_context sc = otel_span_get_context(s);
        otel_span_end(s);
        assert_true(otel_span_context_is_valid(&sc));
        assert_memory_not_equal(sc.trace_id, prev.trace_id, OTEL_TRACE_ID_SIZE);
        assert_memory_not_equal(sc.span_id, prev.span_id, OTEL_SPAN_ID_SIZE);
        prev = sc;
    }
    otel_tracer_provider_destroy(tp);
}

/* Spans started without options (the SDK's short path) in a forked child: the child's generator
 * is re-seeded there too, so its spans do not repeat the parent's ids. */
static void span_ids_of(otel_tracer *t, uint64_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("forked"), NULL);
        otel_span_context sc = otel_span_get_context(s);
        otel_span_end(s);
        memcpy(&out[i], sc.span_id, 8);
    }
}

static void test_forked_child_short_path_spans_get_their_own_ids(void **state)
{
    (void)state;
    otel__clock_init();
    otel__clock_set_mode(OTEL__CLOCK_TSC); /* the short path needs TSC ticks where usable */
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(NULL, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    uint64_t warm[4];
    span_ids_of(t, warm, 4); /* binds this thread and seeds its generator */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        uint64_t ids[FORK_IDS];
        span_ids_of(t, ids, FORK_IDS);
        ssize_t w = write(fds[1], ids, sizeof(ids));
        _exit(w == (ssize_t)sizeof(ids) ? 0 : 1);
    }
    close(fds[1]);
    uint64_t mine[FORK_IDS], child[FORK_IDS];
    span_ids_of(t, mine, FORK_IDS);
    read_child_ids(fds[0], pid, child);
    int same = 0;
    for (int i = 0; i < FORK_IDS; i++) {
        assert_true(child[i] != 0);
        for (int j = 0; j < FORK_IDS; j++)
            same += mine[i] == child[j];
    }
    assert_int_equal(same, 0);
    otel_tracer_provider_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_span_ids_are_never_zero_and_do_not_repeat),
        cmocka_unit_test(test_trace_ids_are_valid_and_both_halves_vary),
        cmocka_unit_test(test_builtin_generator_struct_declares_random_ids),
        cmocka_unit_test(test_threads_get_distinct_streams),
        cmocka_unit_test(test_forked_child_reseeds),
        cmocka_unit_test(test_provider_spans_get_distinct_ids),
        cmocka_unit_test(test_forked_child_short_path_spans_get_their_own_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
