/* Span timestamps at the cost of one cheap counter read per start and per end. A "tick" is the
 * CPU's time-stamp counter (rdtsc, about 9 ns on the build machine against about 20 ns for
 * clock_gettime) when the CPU says it is invariant and the kernel itself keeps time with it;
 * otherwise it is CLOCK_MONOTONIC in nanoseconds. A span stores its start tick and start wall
 * time; its end time is the start time plus the tick delta, so durations never go negative.
 * Ticks turn into wall-clock time through a per-thread anchor (a CLOCK_REALTIME reading paired
 * with a tick, refreshed every OTEL__CLOCK_ANCHOR_NS) and a tick rate calibrated once per
 * process, so no thread writes shared memory to read the time. Used by span start, end and
 * add_event (tracer.c, span.c). */
#ifndef OTEL_SDK_CLOCK_H
#define OTEL_SDK_CLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How long a thread's anchor serves before the next span start re-reads the wall clock. Short
 * enough that a wall clock slewed by NTP (at most 500 ppm) drifts from the tick-derived time by
 * less than the anchor's own reading error; long enough that the re-read costs nothing per span. */
#define OTEL__CLOCK_ANCHOR_NS INT64_C(200000)

enum otel__clock_mode {
    OTEL__CLOCK_MONO = 1, /* ticks are CLOCK_MONOTONIC nanoseconds */
    OTEL__CLOCK_TSC = 2,  /* ticks are TSC cycles */
};

/* Process-wide, written once by otel__clock_init() (and by otel__clock_set_mode() in tests). */
struct otel__clock_global {
    _Atomic int mode;             /* enum otel__clock_mode; 0 before init */
    _Atomic uint64_t mult;        /* ns = ticks * mult >> 32 (TSC mode) */
    _Atomic int64_t anchor_ticks; /* OTEL__CLOCK_ANCHOR_NS in ticks */
};

extern struct otel__clock_global otel__clock_g;

/* The calling thread's anchor: wall_ns was read at (or just after) |tick|. */
struct otel__clock_anchor {
    int64_t tick;
    int64_t wall_ns;
    int64_t expires; /* tick after which the anchor is re-read */
    int mode;        /* the mode the anchor was made in; 0: none yet */
};

extern __thread struct otel__clock_anchor otel__clock_tls __attribute__((tls_model("initial-exec")));

/* Decides, once per process, whether ticks can be TSC cycles. Ticks start as CLOCK_MONOTONIC
 * nanoseconds in any case; once the TSC rate has been measured over at least 1 ms (by the anchor
 * refreshes of span starts, so nothing waits for it) the mode switches to OTEL__CLOCK_TSC. A
 * span keeps the mode it started in, so its end time is never computed from mixed units.
 * Thread-safety: safe. */
void otel__clock_init(void);

/* For tests and benchmarks: forces a mode (OTEL__CLOCK_TSC only when the machine allows it).
 * Returns the mode in force. Not safe while spans are open. */
int otel__clock_set_mode(int mode);

static inline int64_t otel__clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* The mode ticks are read in now. */
static inline int otel__clock_mode(void)
{
    return atomic_load_explicit(&otel__clock_g.mode, memory_order_relaxed);
}

/* The current tick in |mode|. */
static inline int64_t otel__clock_tick(int mode)
{
#if defined(__x86_64__)
    if (__builtin_expect(mode == OTEL__CLOCK_TSC, 1))
        return (int64_t)__builtin_ia32_rdtsc();
#else
    (void)mode;
#endif
    return otel__clock_mono_ns();
}

/* Nanoseconds in |ticks| ticks of |mode| (|ticks| >= 0; any size). */
static inline int64_t otel__clock_ticks_to_ns(int mode, int64_t ticks)
{
#if defined(__x86_64__)
    if (mode == OTEL__CLOCK_TSC) {
        __extension__ unsigned __int128 p = (unsigned __int128)(uint64_t)ticks *
                                            atomic_load_explicit(&otel__clock_g.mult, memory_order_relaxed);
        return (int64_t)(p >> 32);
    }
#else
    (void)mode;
#endif
    return ticks;
}

/* Re-reads the wall clock for the calling thread's anchor (the slow path of otel__clock_wall_at);
 * returns the wall time of |tick|, read just before in |mode|. */
int64_t otel__clock_reanchor(int mode, int64_t tick);

/* Wall-clock nanoseconds since the Unix epoch at |tick|, read just now in |mode|. */
static inline int64_t otel__clock_wall_at(int mode, int64_t tick)
{
    struct otel__clock_anchor *a = &otel__clock_tls;
    __asm__("" : "+r"(a)); /* see OTEL__TLS_ADDR in span.h */
    if (__builtin_expect(tick >= a->expires || tick < a->tick || a->mode != mode, 0))
        return otel__clock_reanchor(mode, tick);
    /* The anchor is at most OTEL__CLOCK_ANCHOR_NS old, so 64 bits hold the product. */
    int64_t d = tick - a->tick;
#if defined(__x86_64__)
    if (mode == OTEL__CLOCK_TSC)
        d = (int64_t)(((uint64_t)d * atomic_load_explicit(&otel__clock_g.mult, memory_order_relaxed)) >> 32);
#endif
    return a->wall_ns + d;
}

/* Wall-clock nanoseconds now; also the tick and mode it was derived from. */
static inline int64_t otel__clock_now(int *mode_out, int64_t *tick_out)
{
    int mode = otel__clock_mode();
    int64_t tick = otel__clock_tick(mode);
    *mode_out = mode;
    *tick_out = tick;
    return otel__clock_wall_at(mode, tick);
}

/* Wall-clock nanoseconds now. */
static inline int64_t otel__clock_wall_now(void)
{
    int mode = otel__clock_mode();
    return otel__clock_wall_at(mode, otel__clock_tick(mode));
}

/* The end time of a span that started at |start_wall_ns|, tick |start_tick| in |start_mode|:
 * the start time plus the ticks elapsed, so never before the start. */
static inline int64_t otel__clock_end(int start_mode, int64_t start_tick, int64_t start_wall_ns)
{
    int mode = otel__clock_mode();
    if (__builtin_expect(mode != start_mode, 0))
        return otel__clock_wall_at(mode, otel__clock_tick(mode)); /* the one mode switch */
    int64_t d = otel__clock_tick(mode) - start_tick;
    return start_wall_ns + (d > 0 ? otel__clock_ticks_to_ns(mode, d) : 0);
}

#ifdef __cplusplus
}
#endif

#endif
