/* The batch span processor's internals shared with span end (span.c), so the provider's fast
 * path can queue a finished span inline: the per-thread lanes, the processor struct, and the
 * common case of enqueue. Everything else lives in batch_processor.c. */
#ifndef OTEL_SDK_BATCH_H
#define OTEL_SDK_BATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/sdk/trace.h"
#include "span.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTEL__BATCH_CACHE_LINE 64u
#define OTEL__BATCH_SEG_SLOTS 256u /* spans per lane segment (2 KB) */
#define OTEL__BATCH_TLS_LANES 8u   /* processors a thread keeps a lane for at once */

struct otel__provider;

/* A lane segment. Slots hold the queued spans' data pointers, so a run of them is copied into
 * the export batch as it is. Spans of the provider's fast path come with the one reference the
 * queue then holds, and their records go back to the producing thread after the export; others
 * (on_end callers, other providers' spans) are marked in |foreign| and released one by one. The
 * producer writes |foreign| (relaxed atomics: the consumer reads earlier words while later bits
 * are set) before it publishes the slot, and clears it when it reuses the segment. */
struct otel__seg {
    struct otel__seg *_Atomic next;
    _Atomic uint64_t foreign[OTEL__BATCH_SEG_SLOTS / 64u];
    const otel_span_data *slots[OTEL__BATCH_SEG_SLOTS];
    /* What the producer's write prefetch 16 slots ahead reaches past the last slot (see
     * otel__batch_enqueue_owned), so it never takes a line of another object away. */
    char prefetch_pad[16u * sizeof(const otel_span_data *)];
};

struct otel__lane {
    /* Producer side: written by the owning thread only; the fast path's fields first, in one
     * cache line. */
    _Atomic uint64_t tail; /* spans ever queued here; release-stored after the slot */
    struct otel__seg *tail_seg;
    uint32_t tail_idx;
    /* Slots the fast path may fill with no other check: paid for with credits (queue room) and
     * inside tail_seg. The slow path refills it from |credits| (further credits this lane holds)
     * and the next segment. */
    uint32_t room;
    uint32_t credits;
    uint32_t unused0;
    /* Counters (relaxed load + store by the owner). Spans received: tail + these four. */
    _Atomic uint64_t unsampled;
    _Atomic uint64_t dropped_full;
    _Atomic uint64_t dropped_shutdown;
    _Atomic uint64_t dropped_other;
    struct otel__seg *free_segs; /* drained segments ready for reuse (linked by next) */
    /* Consumer side: written under the processor's consume_lock only. */
    _Alignas(OTEL__BATCH_CACHE_LINE) _Atomic uint64_t head;
    struct otel__seg *head_seg;
    uint32_t head_idx;
    uint32_t unused;
    uint64_t flush_target; /* the tail a flush in progress drains up to (under export_lock) */
    uint64_t paced_tail;   /* the tail the worker's pacing saw last (the worker's, not locked) */
    /* Drained segments on their way back to the producer (pushed by the consumer, taken all
     * at once by the producer into free_segs): the queue allocates nothing in steady state. */
    _Alignas(OTEL__BATCH_CACHE_LINE) _Atomic(struct otel__seg *) returned_segs;
    /* Arrays of this lane's exported records on their way back to the owning thread's pool
     * (struct otel__rec_array, linked by next): pushed by the consumer, taken all at once by the
     * owner (otel__pool_take_slow), so records stay in the cache of the core that fills them. */
    _Atomic(struct otel__rec_array *) inbox;
    struct otel__lane *next; /* set before the lane is published, then constant */
    bool owned;              /* under b->lock */
    void *block;             /* the allocation the lane is aligned in */
};

/* A run of b->batch that came from one lane: released together after the export. */
struct otel__batch_run {
    struct otel__lane *lane;
    uint32_t start;
    uint32_t count;
    bool mixed; /* some entries are foreign: b->owned says which are not */
};

/* otel__batch.gate: the reasons producers must take the slow path. */
enum {
    OTEL__BATCH_GATE_ATTEND = 1u,      /* see attend (forked child) */
    OTEL__BATCH_GATE_NO_PROVIDER = 2u, /* the provider is not known yet (learn_provider) */
    OTEL__BATCH_GATE_CLOSED = 4u,      /* shut down */
};

struct otel__batch {
    /* Read by producers on every span: constant after creation (fork aside). */
    uint64_t serial;
    uint32_t max_queue;
    uint32_t batch_size;
    int64_t delay_ns;
    int64_t export_timeout_ns; /* 0: no limit */
    bool no_thread;
    bool pacing;                /* the worker may time its own looks (pace_next) */
    _Atomic bool accepting;     /* false from shutdown on */
    _Atomic uint32_t attention; /* nonzero: producers take the slow path first (see attend) */
    /* OTEL__BATCH_GATE_* bits: zero lets the inline fast path queue (one load instead of three:
     * attention, provider and accepting each set or clear their bit too). */
    _Atomic uint32_t gate;
    _Atomic(struct otel__lane *) lanes;
    /* The provider whose fast path feeds this processor (otel__batch_attach_provider): its
     * records come with the queue's reference and go back to its pool. */
    _Atomic(struct otel__provider *) provider;
    /* The provider of the first span an on_end caller queued: pinned instead when |provider|
     * is NULL and shutdown abandons the worker. */
    _Atomic(struct otel__provider *) pin_provider;
    char pad0[OTEL__BATCH_CACHE_LINE];
    /* Credits: touched once per chunk by producers and once per batch by the consumer. */
    _Atomic int64_t credits;
    _Atomic uint32_t chunk;
    _Atomic bool wake_pending; /* a wake-up was signalled and not consumed yet */
    /* Credits handed out at which a producer signals the consumer: batch_size, or the high-water
     * mark while the worker polls on a timer (worker_main), so producers make no system call. */
    _Atomic uint32_t wake_threshold;
    char pad1[OTEL__BATCH_CACHE_LINE];
    int efd;
    int tfd;             /* the worker's timerfd for paced looks, or -1 */
    uint32_t lane_count; /* under lock */

    /* State shared by callers and the worker, under lock; cv signals flush and worker exit. */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    uint64_t flush_requested;
    uint64_t flush_done;
    otel_status flush_result;
    int64_t flush_deadline;
    int64_t stop_deadline;
    otel_status shutdown_result;
    bool stop_requested;
    bool shutdown_called;
    bool worker_running; /* a worker thread exists (joined or abandoned clears it) */
    bool worker_done;
    bool worker_failed; /* could not be started (in a forked child): work inline */
    bool abandoned;     /* shutdown gave up waiting; the worker frees its share itself */
    bool child_reset;   /* forked: the parent's spans wait to be dropped (see attend) */
    pthread_t worker;

    /* The consumer. export_lock makes one consumer at a time and is held across the export
     * (so fork handlers never take it: a hung exporter would hang fork); consume_lock is held
     * only while spans move out of the lanes, so a forked child finds the lanes consistent. */
    pthread_mutex_t export_lock;
    pthread_mutex_t consume_lock;
    otel_span_exporter exporter;
    const otel_span_data **batch; /* batch_size entries */
    bool *owned;                  /* batch_size entries, set in mixed runs only: not foreign */
    struct otel__batch_run *runs; /* batch_size entries: where batch's entries came from */
    uint32_t run_count;
    _Atomic size_t inflight;     /* entries of |batch| not released yet (under consume_lock) */
    _Atomic int64_t next_export; /* CLOCK_MONOTONIC time the schedule delay elapses */
    struct otel__lane *rotor;    /* where the next collection starts (under consume_lock) */

    _Atomic uint64_t exported;
    _Atomic uint64_t failed;
    _Atomic uint64_t export_calls;
    _Atomic uint64_t dropped_other; /* consumer-side drops (deadline, fork) */
    _Atomic uint64_t signals;       /* producers' wake-up signals */
    _Atomic uint64_t paced_wakeups; /* the worker's own timed looks (pace_next) */

    _Atomic uint32_t refs; /* the owner's, and the worker's while it runs */
    struct otel__batch *registry_next;
};

/* The calling thread's lanes: entry 0 is the one used last. */
struct otel__lane_ref {
    uint64_t serial; /* of the processor; 0: none */
    struct otel__lane *lane;
};

extern __thread struct otel__lane_ref otel__batch_lanes_tls[OTEL__BATCH_TLS_LANES]
    __attribute__((tls_model("initial-exec")));

/* The whole enqueue (batch_processor.c). |owned|: |d| is a record of the processor's provider
 * whose one reference the queue takes over (the provider's fast path). */
bool otel__batch_enqueue(struct otel__batch *b, const otel_span_data *d, bool owned);

/* How long the worker sleeps before its next paced look (ns): until |waiting| spans grow, at
 * |rate| spans per ns, to half of |max_queue| and of the high-water mark |high|, less the
 * learned lateness |late_ns| of its timed wake-ups; at least 20 us, at most 5 ms. */
int64_t otel__batch_pace_delay(uint32_t max_queue, uint32_t high, uint64_t waiting, double rate,
                               int64_t late_ns);

/* Takes the line at |p| for writing ahead of a store (prefetchw; a no-op on x86-64 CPUs without
 * it, and never a fault). GCC's write-prefetch builtin emits a plain read prefetch unless built
 * with -mprfchw, which fetches a line the other core holds in the shared state, so the store
 * still waits for the other copy's invalidation. */
static inline void otel__prefetch_for_write(const char *p)
{
#if defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(*p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

/* Queues a sampled |span| whose reference the caller hands over (the provider's fast path).
 * Returns false when the span was not queued (dropped and counted, or not sampled); the
 * reference is then still the caller's. Never blocks. The common case inline: the thread's
 * lane into |b| is the one its records come back through (th->inbox), nothing gates the fast
 * path, and the lane has room. */
static inline bool otel__batch_enqueue_owned(struct otel__batch *b, struct otel__thread *th,
                                             const otel_span_data *d)
{
    _Atomic(struct otel__rec_array *) *inbox = th->inbox;
    if (__builtin_expect(inbox == NULL, 0))
        return otel__batch_enqueue(b, d, true);
    /* th->inbox is set only by otel__batch_enqueue, for the lane of the provider's one batch
     * processor (|b|, fixed at provider creation), and cleared when the thread binds to another
     * provider or gives the lane up: it is a lane of |b|. */
    struct otel__lane *l = (struct otel__lane *)(void *)((char *)inbox - offsetof(struct otel__lane, inbox));
    if (__builtin_expect(atomic_load_explicit(&b->gate, memory_order_acquire) != 0 ||
                             !(d->context.trace_flags & OTEL_TRACE_FLAG_SAMPLED) || l->room == 0,
                         0))
        return otel__batch_enqueue(b, d, true);
    l->room--;
    uint32_t idx = l->tail_idx++;
    l->tail_seg->slots[idx] = d;
    /* The slot line 16 spans ahead: the consumer read it when it last drained this segment, and
     * the store to it would otherwise wait for that copy's invalidation at the next locked
     * instruction (span end's). Measured -1 to -2.5 ns per span (bench_batch_processor
     * producers_1, 4 of 4 alternating runs). Near the end it reaches the segment's padding. */
    otel__prefetch_for_write((const char *)l->tail_seg + offsetof(struct otel__seg, slots) +
                             (size_t)(idx + 16u) * sizeof(l->tail_seg->slots[0]));
    atomic_store_explicit(&l->tail, atomic_load_explicit(&l->tail, memory_order_relaxed) + 1,
                          memory_order_release);
    return true;
}

#ifdef __cplusplus
}
#endif

#endif
