/* Allocation-failure checks shared by the OTLP tests (failalloc.h underneath): the assertions on
 * a failalloc run, and the encoders' scenario. Header-only; include after cmocka.h. */
#ifndef OTEL_TESTS_OTLP_FAILALLOC_H
#define OTEL_TESTS_OTLP_FAILALLOC_H

#include "failalloc.h"
#include "otlp_testlib.h"

/* Runs |scenario| failing each of its allocations in turn: it succeeds when nothing fails, makes
 * more than |more_than| allocations, never leaks and never reports success after a failure. */
static inline void check_survives_every_allocation_failure(int (*scenario)(void *), void *arg,
                                                           size_t more_than)
{
    failalloc_result res = failalloc_run(scenario, arg);
    assert_int_equal(res.clean_status, 0);
    assert_true(res.allocations > more_than);
    assert_int_equal(res.leaked_run, 0);
    assert_int_equal(res.ok_with_failure, 0);
}

typedef otel_status (*otlp_encode_fn)(struct otel__otlp_encoder *e, const otel_span_data *const *spans,
                                      size_t n, const uint8_t **data, size_t *len);

struct encode_scenario {
    otlp_encode_fn encode;
    const otel_span_data *span;
    size_t n; /* copies of span in the batch, at most 200 */
};

/* A fresh encoder encodes a batch of c->n copies of c->span with c->encode. */
static inline int encode_scenario(void *arg)
{
    const struct encode_scenario *c = arg;
    const otel_span_data *spans[200];
    for (size_t i = 0; i < c->n; i++)
        spans[i] = c->span;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const uint8_t *data;
    size_t len;
    otel_status st = c->encode(&e, spans, c->n, &data, &len);
    otel__otlp_encoder_cleanup(&e);
    return (int)st;
}

/* |encode| survives every allocation failure encoding |n| copies of a full span. */
static inline void check_encoder_survives_every_allocation_failure(otlp_encode_fn encode, size_t n)
{
    struct full_span f;
    full_span_init(&f);
    struct encode_scenario c = { encode, &f.data, n };
    check_survives_every_allocation_failure(encode_scenario, &c, 0);
    full_span_cleanup(&f);
}

#endif
