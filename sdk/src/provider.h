/* The SDK tracer provider and its tracers, as the other SDK files see them: resolved limits,
 * counters, the flat processor array, and the internal entry points of the built-in samplers
 * and id generator that the span-start path calls directly. */
#ifndef OTEL_SDK_PROVIDER_H
#define OTEL_SDK_PROVIDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
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

struct otel__batch; /* batch_processor.c */

/* otel__provider.pins: the low bits count pins, this bit says destroy is waiting for them. */
#define OTEL__PROVIDER_ZOMBIE 0x80000000u

struct otel__provider {
    struct otel_tracer_provider base; /* first: the API dispatches through base.ops */
    uint32_t magic;
    bool disabled;
    _Atomic bool shut_down;
    const otel_resource *resource;
    otel_sampler sampler;
    otel_id_generator id_generator;
    bool builtin_ids;         /* id_generator is the built-in one: call it directly */
    uint8_t sampler_shortcut; /* enum otel__sampler_shortcut */
    /* Starts without options take the short path of tracer.c: built-in ids, a shortcut
     * sampler, no on_start, not disabled. */
    bool fast_start;
    struct otel__limits limits;
    otel_span_processor *processors;
    size_t processor_count;
    /* The hot path's view of the processors: the one batch processor when it is the only
     * processor (span end queues the span directly, handing over the record's reference), and
     * whether any processor wants on_start. */
    struct otel__batch *fast_batch;
    bool any_on_start;
    /* Holders of records that may outlive destroy (an export abandoned by a shutdown deadline)
     * pin the provider; destroy then leaves the pool and the provider to the last unpin. */
    _Atomic uint32_t pins;
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

/* Keeps |p|'s records, tracers and resource alive past otel_tracer_provider_destroy() until the
 * matching otel__provider_unpin(), which frees them if destroy already ran. */
void otel__provider_pin(struct otel__provider *p);
void otel__provider_unpin(struct otel__provider *p);

/* The batch processor's on_end (batch_processor.c), by which the provider recognises it. Its
 * fast path for the provider, otel__batch_enqueue_owned(), is in batch.h. */
void otel__batch_on_end(void *user_data, const otel_span_data *span);
/* Makes |p| the provider whose fast path feeds batch processor |b| (at provider creation, when
 * |b| is its only processor). False when another provider already does: |p| then uses on_end. */
bool otel__batch_attach_provider(struct otel__batch *b, struct otel__provider *p);

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

/* True when the span context has a non-zero trace id and span id. */
static inline bool otel__span_context_valid(const otel_span_context *sc)
{
    uint64_t a, b, c;
    memcpy(&a, sc->trace_id, 8);
    memcpy(&b, sc->trace_id + 8, 8);
    memcpy(&c, sc->span_id, 8);
    return (a | b) != 0 && c != 0;
}

/* Samplers the span-start path decides without building sampling parameters. */
enum otel__sampler_shortcut {
    OTEL__SAMPLER_GENERAL = 0, /* call otel__sampler_decide */
    OTEL__SAMPLER_ALWAYS_ON = 1,
    OTEL__SAMPLER_ALWAYS_OFF = 2,
    OTEL__SAMPLER_PARENT_ON = 3, /* ParentBased(AlwaysOn) with the default delegates */
};
int otel__sampler_shortcut(const otel_sampler *s);

/* The decision of |s| for |params|, calling built-in samplers inline (sampler.c). */
otel_sampling_result otel__sampler_decide(const otel_sampler *s, const otel_sampling_params *params);
/* The default sampler, parentbased_always_on, which needs no allocation. */
otel_sampler otel__sampler_default(void);

/* The built-in id generator (id_generator.c): per-thread state seeded from the OS, re-seeded in
 * a forked child, never all-zero. */
struct otel__rng {
    uint64_t state;
    uint64_t fork_gen; /* otel__rng_fork_generation when seeded; 0: never seeded */
};
extern __thread struct otel__rng otel__rng_tls __attribute__((tls_model("initial-exec")));
extern _Atomic uint64_t otel__rng_fork_generation;
/* Seeds the calling thread's generator (first use, or first use after fork). */
void otel__rng_reseed(struct otel__rng *r, uint64_t gen);

/* 64 random bits (wyrand: one multiply). */
static inline uint64_t otel__rand64(void)
{
    struct otel__rng *r = &otel__rng_tls;
    __asm__("" : "+r"(r)); /* see OTEL__TLS_ADDR in span.h */
    uint64_t gen = atomic_load_explicit(&otel__rng_fork_generation, memory_order_relaxed);
    if (__builtin_expect(r->fork_gen != gen, 0))
        otel__rng_reseed(r, gen);
    r->state += UINT64_C(0xa0761d6478bd642f);
#ifdef __SIZEOF_INT128__
    __extension__ unsigned __int128 m =
        (unsigned __int128)r->state * (r->state ^ UINT64_C(0xe7037ed1a0b428db));
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
#else
    uint64_t z = r->state;
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
#endif
}

/* 64 random bits, never zero. */
static inline uint64_t otel__rand64_nonzero(void)
{
    uint64_t v;
    do {
        v = otel__rand64();
    } while (__builtin_expect(v == 0, 0));
    return v;
}

/* The calling thread's generator, seeded: for drawing several numbers with one fork check. */
static inline struct otel__rng *otel__rng_self(void)
{
    struct otel__rng *r = &otel__rng_tls;
    __asm__("" : "+r"(r)); /* see OTEL__TLS_ADDR in span.h */
    uint64_t gen = atomic_load_explicit(&otel__rng_fork_generation, memory_order_relaxed);
    if (__builtin_expect(r->fork_gen != gen, 0))
        otel__rng_reseed(r, gen);
    return r;
}

/* True when the calling thread's generator is seeded for this process (otel__rng_self would
 * not reseed it). */
static inline bool otel__rng_seeded(void)
{
    struct otel__rng *r = &otel__rng_tls;
    __asm__("" : "+r"(r)); /* see OTEL__TLS_ADDR in span.h */
    return r->fork_gen == atomic_load_explicit(&otel__rng_fork_generation, memory_order_relaxed);
}

/* One wyrand step on the state |*s|. */
static inline uint64_t otel__wyrand(uint64_t *s)
{
    *s += UINT64_C(0xa0761d6478bd642f);
#ifdef __SIZEOF_INT128__
    __extension__ unsigned __int128 m = (unsigned __int128)*s * (*s ^ UINT64_C(0xe7037ed1a0b428db));
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
#else
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
#endif
}

/* Fills |out| with |n| (1 to 3) non-zero numbers of |r|, the state in a register throughout;
 * a zero (one draw in 2^64) is redrawn. */
static inline __attribute__((always_inline)) void otel__rng_fill_nonzero(struct otel__rng *r, uint64_t *out,
                                                                         int n)
{
    uint64_t s = r->state;
    uint64_t v0 = otel__wyrand(&s);
    uint64_t v1 = n > 1 ? otel__wyrand(&s) : 1;
    uint64_t v2 = n > 2 ? otel__wyrand(&s) : 1;
    while (__builtin_expect(!v0 || !v1 || !v2, 0)) {
        if (!v0)
            v0 = otel__wyrand(&s);
        if (!v1)
            v1 = otel__wyrand(&s);
        if (!v2)
            v2 = otel__wyrand(&s);
    }
    r->state = s;
    out[0] = v0;
    if (n > 1)
        out[1] = v1;
    if (n > 2)
        out[2] = v2;
}

/* The next non-zero number of |r| (wyrand; zero is redrawn). */
static inline uint64_t otel__rng_next_nonzero(struct otel__rng *r)
{
    for (;;) {
        r->state += UINT64_C(0xa0761d6478bd642f);
#ifdef __SIZEOF_INT128__
        __extension__ unsigned __int128 m =
            (unsigned __int128)r->state * (r->state ^ UINT64_C(0xe7037ed1a0b428db));
        uint64_t v = (uint64_t)(m >> 64) ^ (uint64_t)m;
#else
        uint64_t z = r->state;
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        uint64_t v = z ^ (z >> 31);
#endif
        if (__builtin_expect(v != 0, 1))
            return v;
    }
}

otel_id_generator otel__id_generator_builtin(void);
void otel__random_trace_id(uint8_t out[OTEL_TRACE_ID_SIZE]);
void otel__random_span_id(uint8_t out[OTEL_SPAN_ID_SIZE]);

/* Span-level attribute copying (span.c), shared with start. Each call takes the record locked
 * (or owned exclusively during start) and returns how many attributes it dropped for the
 * provider's counter. |invalid| receives the number of invalid ones (to log after unlocking). */
uint32_t otel__record_set_attrs(struct otel__span_record *rec, const otel_attr *attrs, size_t count,
                                uint32_t *invalid);
/* Adds a link; returns true when it was dropped. */
bool otel__record_add_link(struct otel__span_record *rec, const otel_link *link, uint32_t *attrs_dropped);
/* Logs |invalid| dropped invalid attributes (rate-limited, not under a lock). */
void otel__log_invalid_attrs(uint32_t invalid);

#ifdef __cplusplus
}
#endif

#endif
