/* A dropped span draws its ids on first use (sdk/src/span.c, materialize_ids): threads that
 * read its context at the same time must all see the same ids, and reads racing with its end
 * (and the record's reuse for new spans) must see either those ids or nothing. Runs under
 * ThreadSanitizer in CI. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"

#define READERS 4
#define ROUNDS 2000

struct shared {
    otel_tracer *tracer;
    _Atomic(int) round;      /* the round whose span readers should read */
    otel_span spans[ROUNDS]; /* written before |round| is published */
    otel_span_context seen[READERS][ROUNDS];
    _Atomic int done;
};

struct reader_arg {
    struct shared *sh;
    int id;
};

static void *reader(void *p)
{
    struct reader_arg *a = p;
    struct shared *sh = a->sh;
    for (int r = 0; r < ROUNDS; r++) {
        while (atomic_load(&sh->round) < r)
            ;
        sh->seen[a->id][r] = otel_span_get_context(sh->spans[r]);
    }
    atomic_fetch_add(&sh->done, 1);
    return NULL;
}

static void test_concurrent_first_reads_of_a_dropped_span_agree(void **state)
{
    (void)state;
    otel_tracer_provider_options o = { .sampler = otel_sampler_always_off() };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    static struct shared sh;
    memset(&sh, 0, sizeof(sh));
    atomic_store(&sh.round, -1);
    sh.tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("lazy"), NULL);
    pthread_t th[READERS];
    struct reader_arg args[READERS];
    for (int i = 0; i < READERS; i++) {
        args[i] = (struct reader_arg){ &sh, i };
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int r = 0; r < ROUNDS; r++) {
        sh.spans[r] = otel_tracer_start_span(sh.tracer, OTEL_STR("dropped"), NULL);
        atomic_store(&sh.round, r);
        /* End some while the readers may still be reading: they see the ids or nothing. */
        if (r % 3 == 0)
            otel_span_end(sh.spans[r]);
    }
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    for (int r = 0; r < ROUNDS; r++) {
        const otel_span_context *first = NULL;
        for (int i = 0; i < READERS; i++) {
            const otel_span_context *sc = &sh.seen[i][r];
            if (!otel_span_context_is_valid(sc)) {
                assert_true(r % 3 == 0); /* only an ended span reads as nothing */
                continue;
            }
            assert_false(sc->trace_flags & OTEL_TRACE_FLAG_SAMPLED);
            if (!first)
                first = sc;
            else
                assert_memory_equal(sc, first, sizeof(*sc));
        }
        if (r % 3 != 0) {
            otel_span_context own = otel_span_get_context(sh.spans[r]);
            assert_memory_equal(&own, first, sizeof(own));
            otel_span_end(sh.spans[r]);
        }
    }
    otel_tracer_provider_destroy(tp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_first_reads_of_a_dropped_span_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
