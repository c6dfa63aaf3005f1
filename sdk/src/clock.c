/* The span clock (see clock.h): deciding whether the TSC can serve as the tick, measuring its
 * rate against CLOCK_MONOTONIC without making anyone wait, and the per-thread anchors that turn
 * ticks into wall-clock time. Calibration piggybacks on the anchor refreshes that span starts do
 * anyway: the first refresh at least 1 ms after start-up measures the rate and switches ticks to
 * the TSC; later refreshes at doubling intervals refine it against a longer baseline. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

struct otel__clock_global otel__clock_g;
__thread struct otel__clock_anchor otel__clock_tls __attribute__((tls_model("initial-exec")));

#define NS_PER_S INT64_C(1000000000)
#define FIRST_CALIBRATION_NS INT64_C(1000000) /* 1 ms baseline: about 10 ppm */
#define LAST_REFINEMENT_NS (INT64_C(3600) * NS_PER_S)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool tsc_capable;
/* The first (tick, CLOCK_MONOTONIC) pair, the baseline of every rate measurement. */
static int64_t cal_tick0;
static int64_t cal_mono0;
/* CLOCK_MONOTONIC time of the next rate measurement; a thread claims it with a CAS. */
static _Atomic int64_t next_calibration_mono;

static inline int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

#if defined(__x86_64__)
static inline int64_t rdtsc(void)
{
    return (int64_t)__builtin_ia32_rdtsc();
}

/* The kernel keeps time with the TSC only when it trusts it (invariant, synchronised across
 * CPUs, stable under the hypervisor): its verdict is worth more than anything we could test. */
static bool kernel_uses_tsc(void)
{
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[16] = { 0 };
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n >= 3 && memcmp(buf, "tsc", 3) == 0 && (n == 3 || buf[3] == '\n');
}

static bool cpu_has_invariant_tsc(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x80000007u)
        return false;
    if (!__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx))
        return false;
    return (edx & (1u << 8)) != 0;
}

/* A (tick, CLOCK_MONOTONIC) pair read as close together as this thread manages: the best of a
 * few tries. Returns the spread in ticks (the pair's uncertainty). */
static int64_t read_pair(int64_t *tick, int64_t *mono)
{
    int64_t best = INT64_MAX;
    *tick = 0;
    *mono = 0;
    for (int i = 0; i < 3; i++) {
        int64_t a = rdtsc();
        int64_t m = otel__clock_mono_ns();
        int64_t b = rdtsc();
        if (b - a < best) {
            best = b - a;
            *tick = a + (b - a) / 2;
            *mono = m;
        }
    }
    return best;
}

/* Measures the rate against the baseline pair and publishes it. */
static void calibrate(int64_t now_mono)
{
    int64_t tick = 0, mono = 0;
    int64_t spread = read_pair(&tick, &mono);
    int64_t dtick = tick - cal_tick0, dmono = mono - cal_mono0;
    if (dtick <= 0 || dmono <= 0 || spread > dtick / 10000) {
        /* A disturbed reading (preempted between the reads): try again a little later. */
        atomic_store_explicit(&next_calibration_mono, now_mono + FIRST_CALIBRATION_NS, memory_order_relaxed);
        return;
    }
    __extension__ unsigned __int128 q = ((unsigned __int128)(uint64_t)dmono << 32) / (uint64_t)dtick;
    uint64_t mult = (uint64_t)q;
    if (mult == 0 || q >> 64) {
        atomic_store_explicit(&next_calibration_mono, INT64_MAX, memory_order_relaxed);
        return;
    }
    atomic_store_explicit(&otel__clock_g.mult, mult, memory_order_relaxed);
    __extension__ unsigned __int128 at = ((unsigned __int128)OTEL__CLOCK_ANCHOR_NS << 32) / mult;
    atomic_store_explicit(&otel__clock_g.anchor_ticks, (int64_t)at, memory_order_relaxed);
    /* Refine at doubling baselines; an hour's baseline is as good as it gets. */
    int64_t next = dmono >= LAST_REFINEMENT_NS ? INT64_MAX : mono + dmono;
    atomic_store_explicit(&next_calibration_mono, next, memory_order_relaxed);
    /* Release: a thread that sees the TSC mode also sees the rate. */
    atomic_store_explicit(&otel__clock_g.mode, OTEL__CLOCK_TSC, memory_order_release);
}
#endif

static void init_once_fn(void)
{
#if defined(__x86_64__)
    tsc_capable = cpu_has_invariant_tsc() && kernel_uses_tsc();
    if (tsc_capable) {
        read_pair(&cal_tick0, &cal_mono0);
        atomic_store_explicit(&next_calibration_mono, cal_mono0 + FIRST_CALIBRATION_NS, memory_order_relaxed);
    }
#endif
    atomic_store_explicit(&otel__clock_g.mode, OTEL__CLOCK_MONO, memory_order_release);
}

void otel__clock_init(void)
{
    pthread_once(&init_once, init_once_fn);
}

int otel__clock_set_mode(int mode)
{
    otel__clock_init();
#if defined(__x86_64__)
    if (mode == OTEL__CLOCK_TSC && tsc_capable) {
        if (atomic_load_explicit(&otel__clock_g.mult, memory_order_relaxed) == 0) {
            /* Not measured yet: wait for the first baseline. */
            while (otel__clock_mono_ns() - cal_mono0 < FIRST_CALIBRATION_NS)
                ;
            calibrate(otel__clock_mono_ns());
        }
        if (atomic_load_explicit(&otel__clock_g.mult, memory_order_relaxed) != 0)
            atomic_store_explicit(&otel__clock_g.mode, OTEL__CLOCK_TSC, memory_order_release);
    } else if (mode == OTEL__CLOCK_MONO) {
        atomic_store_explicit(&next_calibration_mono, INT64_MAX, memory_order_relaxed);
        atomic_store_explicit(&otel__clock_g.mode, OTEL__CLOCK_MONO, memory_order_release);
    }
#else
    (void)mode;
#endif
    return otel__clock_mode();
}

int64_t otel__clock_reanchor(int mode, int64_t tick)
{
    if (mode == 0) {
        /* Ticks read before otel__clock_init() are CLOCK_MONOTONIC ns (see otel__clock_tick). */
        otel__clock_init();
        mode = OTEL__CLOCK_MONO;
    }
#if defined(__x86_64__)
    if (tsc_capable) {
        int64_t due = atomic_load_explicit(&next_calibration_mono, memory_order_relaxed);
        int64_t now = otel__clock_mono_ns();
        /* One thread measures; the others go on with the rate they have. */
        if (now >= due && atomic_compare_exchange_strong_explicit(&next_calibration_mono, &due, INT64_MAX,
                                                                  memory_order_relaxed, memory_order_relaxed))
            calibrate(now);
    }
#endif
    struct otel__clock_anchor *a = &otel__clock_tls;
    __asm__("" : "+r"(a)); /* see OTEL__TLS_ADDR in span.h */
    /* The tick first, then the wall clock: the wall reading belongs to a tick at or after
     * a->tick, so derived times err late by at most the reading's duration, never early. */
    int64_t t0 = otel__clock_tick(mode);
    a->wall_ns = realtime_ns();
    a->tick = t0;
    a->mode = mode;
    a->expires = t0 + (mode == OTEL__CLOCK_TSC
                           ? atomic_load_explicit(&otel__clock_g.anchor_ticks, memory_order_relaxed)
                           : OTEL__CLOCK_ANCHOR_NS);
    if (tick >= t0)
        return a->wall_ns;
    return a->wall_ns - otel__clock_ticks_to_ns(mode, t0 - tick);
}
