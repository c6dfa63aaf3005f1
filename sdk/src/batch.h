/* The batch span processor's internals shared with span end (span.c), so the provider's fast
 * path can queue a finished span inline: the per-thread lanes, the processor struct, and the
 * common case of enqueue. Everything else lives in batch_processor.c. */
#ifndef OTEL_SDK_BATCH_H
#define OTEL_SDK_BATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* A queued span: the data pointer, with OTEL__BATCH_OWNED set when it came through the
 * provider's fast path (a record of b->provider whose one reference the queue holds). */
#define OTEL__BATCH_OWNED ((uintptr_t)1)

struct otel__seg {
    struct otel__seg *_Atomic next;
    uintptr_t slots[OTEL__BATCH_SEG_SLOTS];
};

struct otel__lane {
    /* Producer side: written by the owning thread only. */
    _Atomic uint64_t tail; /* spans ever queued here; release-stored after the slot */
    struct otel__seg *tail_seg;
    uint32_t tail_idx;
    uint32_t credits;          /* queue room this lane holds */
    _Atomic uint64_t received; /* counters: relaxed load + store by the owner */
    _Atomic uint64_t dropped_full;
    _Atomic uint64_t dropped_shutdown;
    _Atomic uint64_t dropped_other;
    struct otel__seg *free_segs; /* drained segments ready for reuse (linked by next) */
    /* Consumer side: written under the processor's consume_lock only. */
    _Atomic uint64_t head;
    struct otel__seg *head_seg;
    uint32_t head_idx;
    uint32_t unused;
    uint64_t flush_target; /* the tail a flush in progress drains up to (under export_lock) */
    char pad1[OTEL__BATCH_CACHE_LINE - 32];
    /* Drained segments on their way back to the producer (pushed by the consumer, taken all
     * at once by the producer into free_segs): the queue allocates nothing in steady state. */
    _Atomic(struct otel__seg *) returned_segs;
    /* Arrays of this lane's exported records on their way back to the owning thread's pool
     * (struct otel__rec_array, linked by next): pushed by the consumer, taken all at once by the
     * owner (otel__pool_take_slow), so records stay in the cache of the core that fills them. */
    _Atomic(struct otel__rec_array *) inbox;
    struct otel__lane *next; /* set before the lane is published, then constant */
    bool owned;              /* under b->lock */
    void *block;             /* the allocation the lane is aligned in */
};

struct otel__batch {
    /* Read by producers on every span: constant after creation (fork aside). */
    uint64_t serial;
    uint32_t max_queue;
    uint32_t batch_size;
    int64_t delay_ns;
    int64_t export_timeout_ns; /* 0: no limit */
    bool no_thread;
    _Atomic bool accepting;     /* false from shutdown on */
    _Atomic uint32_t attention; /* nonzero: producers take the slow path first (see attend) */
    _Atomic(struct otel__lane *) lanes;
    _Atomic(struct otel__provider *) provider; /* learned from the first span, for pins */
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
    bool *owned;                  /* batch_size entries: batch[i] came with OWNED_RECORD */
    struct otel__lane **from;     /* batch_size entries: the lane batch[i] came from */
    _Atomic size_t inflight;      /* entries of |batch| not released yet (under consume_lock) */
    _Atomic int64_t next_export;  /* CLOCK_MONOTONIC time the schedule delay elapses */
    struct otel__lane *rotor;     /* where the next collection starts (under consume_lock) */

    _Atomic uint64_t exported;
    _Atomic uint64_t failed;
    _Atomic uint64_t export_calls;
    _Atomic uint64_t dropped_other; /* consumer-side drops (deadline, fork) */

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

/* The whole enqueue (batch_processor.c). */
bool otel__batch_enqueue(struct otel__batch *b, const otel_span_data *d, uintptr_t tag);

/* Queues a sampled |span| whose reference the caller hands over (the provider's fast path).
 * Returns false when the span was not queued (dropped and counted, or not sampled); the
 * reference is then still the caller's. Never blocks. The common case inline: the calling
 * thread's lane is the last one it used, it holds credits, its segment has room. */
static inline bool otel__batch_enqueue_owned(struct otel__batch *b, struct otel__thread *th,
                                             const otel_span_data *d)
{
    struct otel__lane_ref *ref = OTEL__TLS_ADDR(otel__batch_lanes_tls[0]);
    struct otel__lane *l = ref->lane;
    if (__builtin_expect(ref->serial != b->serial || th->inbox != &l->inbox ||
                             atomic_load_explicit(&b->attention, memory_order_acquire) != 0 ||
                             !atomic_load_explicit(&b->provider, memory_order_relaxed) ||
                             !atomic_load_explicit(&b->accepting, memory_order_relaxed) ||
                             !(d->context.trace_flags & OTEL_TRACE_FLAG_SAMPLED) || l->credits == 0 ||
                             l->tail_idx == OTEL__BATCH_SEG_SLOTS,
                         0))
        return otel__batch_enqueue(b, d, OTEL__BATCH_OWNED);
    atomic_store_explicit(&l->received, atomic_load_explicit(&l->received, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    l->credits--;
    l->tail_seg->slots[l->tail_idx++] = (uintptr_t)d | OTEL__BATCH_OWNED;
    atomic_store_explicit(&l->tail, atomic_load_explicit(&l->tail, memory_order_relaxed) + 1,
                          memory_order_release);
    return true;
}

#ifdef __cplusplus
}
#endif

#endif
