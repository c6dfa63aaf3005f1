/* The SDK tracer provider and its tracers, as the other SDK files see them: resolved limits,
 * counters, the flat processor array, and the internal entry points of the built-in samplers
 * and id generator that the span-start path calls directly. */
#ifndef OTEL_SDK_PROVIDER_H
#define OTEL_SDK_PROVIDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "otel/sdk/trace.h"
#include "span.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTEL__PROVIDER_MAGIC 0x6f74656cu /* "otel" */

/* Limits with the defaults applied: UINT32_MAX means unlimited. */
struct otel__limits {
    uint32_t attr_count;
    uint32_t attr_value_length;
    uint32_t event_count;
    uint32_t link_count;
    uint32_t event_attr_count;
    uint32_t link_attr_count;
};

struct otel__tracer {
    struct otel_tracer base; /* first: the API dispatches through base.ops */
    struct otel__provider *provider;
    otel_scope_data scope; /* strings and attributes owned (copied), NUL-terminated */
};

/* Relaxed atomic counters; a later change may split them per thread. */
struct otel__counters {
    _Atomic uint64_t spans_started;
    _Atomic uint64_t spans_sampled;
    _Atomic uint64_t spans_recorded;
    _Atomic uint64_t spans_ended;
    _Atomic uint64_t spans_dropped;
    _Atomic uint64_t attrs_dropped;
    _Atomic uint64_t events_dropped;
    _Atomic uint64_t links_dropped;
};

struct otel__provider {
    struct otel_tracer_provider base; /* first: the API dispatches through base.ops */
    uint32_t magic;
    bool disabled;
    _Atomic bool shut_down;
    const otel_resource *resource;
    otel_sampler sampler;
    otel_id_generator id_generator;
    bool builtin_ids; /* id_generator is the built-in one: call it directly */
    struct otel__limits limits;
    otel_span_processor *processors;
    size_t processor_count;
    struct otel__counters counters;
    pthread_mutex_t tracers_lock;
    struct otel__tracer **tracers;
    size_t tracer_count;
    size_t tracer_cap;
    /* Handed out when a tracer cannot be allocated, so get_tracer never fails. */
    struct otel__tracer fallback_tracer;
    struct otel__pool pool;
};

static inline void otel__count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t otel__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* A deadline |timeout_ns| from now on the monotonic clock; 0 (no limit) gives INT64_MAX. */
static inline int64_t otel__deadline(int64_t timeout_ns)
{
    if (timeout_ns <= 0)
        return INT64_MAX;
    int64_t now = otel__mono_ns();
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/* The timeout to pass on for |deadline|: 0 (no limit) for INT64_MAX, at least 1 ns otherwise
 * (a passed deadline must not turn into "no limit"). */
static inline int64_t otel__remaining(int64_t deadline)
{
    if (deadline == INT64_MAX)
        return 0;
    int64_t left = deadline - otel__mono_ns();
    return left > 0 ? left : 1;
}

/* The tracer ops (tracer.c). */
extern const struct otel_tracer_ops otel__tracer_ops;

/* Sets a new tracer's fields; |scope| strings are already owned copies. */
void otel__tracer_init(struct otel__tracer *t, struct otel__provider *p, const otel_scope_data *scope);

/* The decision of |s| for |params|, calling built-in samplers inline (sampler.c). */
otel_sampling_result otel__sampler_decide(const otel_sampler *s, const otel_sampling_params *params);
/* The default sampler, parentbased_always_on, which needs no allocation. */
otel_sampler otel__sampler_default(void);

/* The built-in id generator (id_generator.c): per-thread state seeded from the OS, re-seeded in
 * a forked child, never all-zero. */
otel_id_generator otel__id_generator_builtin(void);
void otel__random_trace_id(uint8_t out[OTEL_TRACE_ID_SIZE]);
void otel__random_span_id(uint8_t out[OTEL_SPAN_ID_SIZE]);

/* Span-level attribute copying (span.c), shared with start. Each call takes the record locked
 * (or owned exclusively during start) and returns how many attributes it dropped for the
 * provider's counter. |invalid| receives the number of invalid ones (to log after unlocking). */
uint32_t otel__record_set_attrs(struct otel__span_record *rec, const otel_attr *attrs,
                                size_t count, uint32_t *invalid);
/* Adds a link; returns true when it was dropped. */
bool otel__record_add_link(struct otel__span_record *rec, const otel_link *link, uint32_t *attrs_dropped);
/* Logs |invalid| dropped invalid attributes (rate-limited, not under a lock). */
void otel__log_invalid_attrs(uint32_t invalid);

#ifdef __cplusplus
}
#endif

#endif
