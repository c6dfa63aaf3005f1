/* The batch span processor (OpenTelemetry SDK spec, "Batching processor"): span end puts the
 * finished record into a bounded queue; one consumer (the worker thread, or the host's event
 * loop in no_thread mode) takes batches out and calls the exporter.
 *
 * The queue is one single-producer lane per thread that ends spans, so producers share no cache
 * line on the common path (a shared ring's tail would cost every span a contended atomic: the
 * two-thread throughput of such a design is about 1.1x one thread on the build machine). A lane
 * is a chain of fixed segments: the producer writes a slot and publishes its tail count with a
 * release store; the consumer reads up to the tail and advances its head. The bound is global
 * and exact: the queue holds max_queue_size credits; a lane takes them in small chunks (one
 * compare-and-swap per chunk) and the consumer gives them back in bulk, so spans queued never
 * exceed max_queue_size. A producer wakes the consumer when the credits handed out reach a
 * batch, once per wake-up (a flag), through an eventfd the worker polls or the host watches.
 * Under a sustained high span rate the producers signal only at a high-water mark (three
 * quarters of the queue, at most eight batches) and the worker then exports everything that
 * waits (worker_main): a signal is a system call, and on a virtual machine the inter-processor
 * interrupt behind it costs the producing thread several microseconds, paid by the application
 * once per signal. When a CPU is to spare (fewer threads queueing than the CPUs the affinity and a
 * cgroup quota allow), the worker does not wait for that signal: it times its own next look at
 * the span rate it measures (pace_next), so the timer's cost falls on that CPU, which was idle
 * as far as the worker can tell; with every CPU busy producing it keeps to the signals, as a
 * timer would preempt a producer just the same, and more often. Pacing costs the worker more CPU
 * than the signals (more wake-ups, each of an idle vCPU costing its thread tens of microseconds
 * on the build machine): opts->no_pacing turns it off.
 *
 * The record travels with one reference: the provider's fast path hands it over (no count
 * traffic), other callers retain it. After the export the consumer does not touch the records it
 * got through the fast path: it sends them back, in arrays, to the lanes they came from, where
 * the producing thread's pool picks them up (and drops the queue's reference as it reuses each
 * one), so a record's cache lines stay with the core that fills them and the exporting core
 * writes none of them. The exporter is called by the consumer only, under export_lock, so never
 * concurrently. Shutdown that outlives its deadline leaves the worker running on its own
 * reference; it pins the provider so the records it holds stay valid.
 *
 * fork(): prepare takes every processor's state and consume locks (never export_lock, which a
 * hung export may hold); the child gets a fresh export_lock and eventfd and defers the rest to
 * its first use (records cannot go back to the pool inside an atfork handler): queued spans of
 * the parent are dropped, lanes of threads that do not exist in the child are freed for reuse,
 * the worker is started. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sched.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "log_internal.h"
#include "mem.h"
#include "provider.h"
#include "span.h"

#define NS_PER_S INT64_C(1000000000)
#define DEFAULT_QUEUE 2048u
#define DEFAULT_BATCH 512u
#define DEFAULT_DELAY_NS (INT64_C(5) * NS_PER_S)
#define DEFAULT_TIMEOUT_NS (INT64_C(30) * NS_PER_S)
#define MAX_QUEUE (1u << 24)
#define DESTROY_TIMEOUT_NS (INT64_C(5) * NS_PER_S)
#define CACHE_LINE 64u
#define CHUNK_MAX 64u                     /* credits a lane takes at once, at most */
#define RECHECK_NS (INT64_C(1) * 1000000) /* see worker_main */
#define RECHECK_FOR_NS (INT64_C(100) * 1000000)
#define HIGH_ENTER_NS (INT64_C(1) * 1000000) /* batch signals closer than this: high-water mode */
#define HIGH_IDLE_NS (INT64_C(5) * 1000000)  /* see worker_main */
#define HIGH_BATCHES 8u                      /* the high-water mark: at most this many batches */
#define PACE_MIN_NS (INT64_C(20) * 1000)     /* see pace_next */
#define PACE_SAMPLE_NS (INT64_C(20) * 1000)
#define PACE_LATE_MAX_NS (INT64_C(200) * 1000)
#define SEG_SLOTS OTEL__BATCH_SEG_SLOTS
#define TLS_LANES OTEL__BATCH_TLS_LANES

/* ---------------------------------------------------------------------------------------------
 * Registry (fork handlers) and the calling thread's lanes
 * ------------------------------------------------------------------------------------------- */

__thread struct otel__lane_ref otel__batch_lanes_tls[OTEL__BATCH_TLS_LANES]
    __attribute__((tls_model("initial-exec")));
#define t_lanes otel__batch_lanes_tls
static __thread bool t_lanes_armed __attribute__((tls_model("initial-exec")));

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct otel__batch *registry;
static _Atomic uint64_t next_serial = 1;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_key_t lanes_key;
static bool lanes_key_ok;

static inline void add_owned(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static void wake(struct otel__batch *b, bool always);

/* Gives a lane back: its credits to the queue, the lane itself to the next thread that needs
 * one. The caller is the lane's owner (or the only thread, in a forked child). */
static void lane_release(struct otel__batch *b, struct otel__lane *l)
{
    if (l->credits + l->room) {
        atomic_fetch_add_explicit(&b->credits, (int64_t)l->credits + l->room, memory_order_acq_rel);
        l->credits = 0;
        l->room = 0;
    }
    /* Records still on their way back through the lane wait in its inbox for the thread that
     * adopts it (not handed to the pool here: this runs under the registry lock, and the pool's
     * lock must never be taken under it, or fork's prepare handlers could deadlock). */
    struct otel__thread *th = OTEL__TLS_ADDR(otel__thread_tls);
    if (th->inbox == &l->inbox)
        th->inbox = NULL;
    pthread_mutex_lock(&b->lock);
    l->owned = false;
    pthread_mutex_unlock(&b->lock);
}

/* Releases the lane of |ref| if its processor still exists. */
static void lane_ref_drop(struct otel__lane_ref *ref)
{
    if (!ref->serial)
        return;
    pthread_mutex_lock(&registry_lock);
    for (struct otel__batch *b = registry; b; b = b->registry_next) {
        if (b->serial == ref->serial) {
            lane_release(b, ref->lane);
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    ref->serial = 0;
    ref->lane = NULL;
}

static void lanes_key_destructor(void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < TLS_LANES; i++)
        lane_ref_drop(&t_lanes[i]);
    t_lanes_armed = false;
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct otel__batch *b = registry; b; b = b->registry_next) {
        pthread_mutex_lock(&b->lock);
        pthread_mutex_lock(&b->consume_lock);
    }
}

static void atfork_parent(void)
{
    for (struct otel__batch *b = registry; b; b = b->registry_next) {
        pthread_mutex_unlock(&b->consume_lock);
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

static bool thread_owns_lane(uint64_t serial, const struct otel__lane *l)
{
    for (uint32_t i = 0; i < TLS_LANES; i++)
        if (t_lanes[i].serial == serial && t_lanes[i].lane == l)
            return true;
    return false;
}

static void init_cv(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* In a forked child, the lane of a thread that does not exist here: that thread may have been
 * in the middle of queueing (slot written, tail_idx advanced, maybe the next segment linked, but
 * tail not yet published). Its producer position goes back to the published tail, and the slots
 * from there on lose any foreign mark, so the thread that adopts the lane writes where the
 * consumer reads next. */
static void lane_resync(struct otel__lane *l)
{
    uint64_t left = atomic_load_explicit(&l->tail, memory_order_relaxed) -
                    atomic_load_explicit(&l->head, memory_order_relaxed);
    struct otel__seg *s = l->head_seg;
    uint32_t idx = l->head_idx;
    while (left) {
        if (idx == SEG_SLOTS) {
            s = atomic_load_explicit(&s->next, memory_order_relaxed);
            idx = 0;
        }
        uint32_t k = SEG_SLOTS - idx < left ? SEG_SLOTS - idx : (uint32_t)left;
        idx += k;
        left -= k;
    }
    struct otel__seg *next = atomic_load_explicit(&s->next, memory_order_relaxed);
    if (idx == SEG_SLOTS && next) {
        /* The next segment was linked, nothing published in it yet (its marks were cleared
         * when it was taken). */
        s = next;
        idx = 0;
    }
    l->tail_seg = s;
    l->tail_idx = idx;
    for (uint32_t i = idx; i < SEG_SLOTS; i++) {
        _Atomic uint64_t *w = &s->foreign[i / 64u];
        atomic_store_explicit(w, atomic_load_explicit(w, memory_order_relaxed) & ~(UINT64_C(1) << (i % 64u)),
                              memory_order_relaxed);
    }
}

/* Only the forking thread exists in the child. Everything that can be done without taking
 * another component's locks is done here; the rest waits for the first use (attend). */
static void atfork_child(void)
{
    for (struct otel__batch *b = registry; b; b = b->registry_next) {
        /* export_lock may be held by the parent's worker, which does not exist here: a fresh
         * one. The condition variable may have had waiters that do not exist either. */
        pthread_mutex_init(&b->export_lock, NULL);
        init_cv(&b->cv);
        /* A new eventfd under the same number: the parent's would wake the parent's worker. */
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd >= 0) {
            dup2(fd, b->efd);
            close(fd);
        }
        /* The same for the timerfd: the parent's worker arms that one. */
        if (b->tfd >= 0) {
            fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
            if (fd >= 0) {
                dup2(fd, b->tfd);
                close(fd);
            }
        }
        atomic_store_explicit(&b->wake_pending, false, memory_order_relaxed);
        atomic_store_explicit(&b->wake_threshold, b->batch_size, memory_order_relaxed);
        for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_relaxed); l; l = l->next) {
            l->owned = thread_owns_lane(b->serial, l);
            l->credits = 0;
            l->room = 0;
            if (!l->owned)
                lane_resync(l);
        }
        atomic_store_explicit(&b->credits, (int64_t)b->max_queue, memory_order_relaxed);
        b->flush_done = b->flush_requested;
        b->stop_requested = false;
        b->worker_done = false;
        b->worker_failed = false;
        b->child_reset = true;
        if (b->worker_running || (b->abandoned && !b->worker_done)) {
            /* The parent's worker held a reference the child must not wait for. (A provider
             * pin an abandoned worker holds stays: that provider is never freed in the child.) */
            atomic_fetch_sub_explicit(&b->refs, 1u, memory_order_relaxed);
        }
        b->worker_running = false;
        atomic_store_explicit(&b->attention, 1u, memory_order_release);
        atomic_fetch_or_explicit(&b->gate, OTEL__BATCH_GATE_ATTEND, memory_order_release);
    }
    /* The locks prepare took belong to this thread: release them as the parent does. */
    atfork_parent();
}

static void global_init(void)
{
    lanes_key_ok = pthread_key_create(&lanes_key, lanes_key_destructor) == 0;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static struct otel__seg *seg_new(void)
{
    struct otel__seg *s = otel__malloc(sizeof(*s));
    if (s) {
        atomic_init(&s->next, NULL);
        for (size_t i = 0; i < SEG_SLOTS / 64u; i++)
            atomic_init(&s->foreign[i], 0);
    }
    return s;
}

/* A lane for the calling thread: one another thread gave up, or a new one. */
static struct otel__lane *lane_acquire(struct otel__batch *b)
{
    pthread_mutex_lock(&b->lock);
    for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_acquire); l; l = l->next) {
        if (!l->owned) {
            l->owned = true;
            pthread_mutex_unlock(&b->lock);
            return l;
        }
    }
    pthread_mutex_unlock(&b->lock);

    void *block = otel__calloc(1, sizeof(struct otel__lane) + CACHE_LINE);
    if (!block)
        return NULL;
    struct otel__seg *first = seg_new();
    if (!first) {
        otel__free(block);
        return NULL;
    }
    struct otel__lane *l =
        (struct otel__lane *)(((uintptr_t)block + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1));
    l->block = block;
    l->tail_seg = first;
    l->head_seg = first;
    atomic_init(&l->returned_segs, NULL);
    l->owned = true;
    pthread_mutex_lock(&b->lock);
    l->next = atomic_load_explicit(&b->lanes, memory_order_relaxed);
    /* Release: the consumer walking the list sees the lane's fields. */
    atomic_store_explicit(&b->lanes, l, memory_order_release);
    b->lane_count++;
    /* Smaller chunks as threads multiply, so credits parked in idle lanes stay a small share
     * of the queue (at most an eighth). */
    uint32_t chunk = b->max_queue / (8u * b->lane_count);
    if (chunk > b->batch_size / 4u)
        chunk = b->batch_size / 4u;
    if (chunk > CHUNK_MAX)
        chunk = CHUNK_MAX;
    atomic_store_explicit(&b->chunk, chunk ? chunk : 1u, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);
    return l;
}

/* The calling thread's lane into |b|, or NULL when memory runs out. */
static struct otel__lane *lane_slow(struct otel__batch *b)
{
    for (uint32_t i = 1; i < TLS_LANES; i++) {
        if (t_lanes[i].serial == b->serial) {
            struct otel__lane_ref hit = t_lanes[i];
            memmove(&t_lanes[1], &t_lanes[0], i * sizeof(t_lanes[0]));
            t_lanes[0] = hit;
            return hit.lane;
        }
    }
    pthread_once(&global_once, global_init);
    struct otel__lane *l = lane_acquire(b);
    if (!l)
        return NULL;
    /* The least recently used entry makes room (its lane goes back to its processor). */
    lane_ref_drop(&t_lanes[TLS_LANES - 1]);
    memmove(&t_lanes[1], &t_lanes[0], (TLS_LANES - 1) * sizeof(t_lanes[0]));
    t_lanes[0] = (struct otel__lane_ref){ b->serial, l };
    if (!t_lanes_armed && lanes_key_ok) {
        pthread_setspecific(lanes_key, t_lanes);
        t_lanes_armed = true;
    }
    return l;
}

static inline struct otel__lane *lane_of_thread(struct otel__batch *b)
{
    if (__builtin_expect(t_lanes[0].serial == b->serial, 1))
        return t_lanes[0].lane;
    return lane_slow(b);
}

/* ---------------------------------------------------------------------------------------------
 * Producers
 * ------------------------------------------------------------------------------------------- */

static void attend(struct otel__batch *b);

/* Takes a chunk of credits for |l|; false when the queue is full. Sets |*wake| when the credits
 * handed out cover a batch: the caller wakes the consumer once its span is published (not
 * before, or the consumer could count one span short and go back to sleep). */
static bool take_credits(struct otel__batch *b, struct otel__lane *l, bool *wake_after)
{
    int64_t chunk = atomic_load_explicit(&b->chunk, memory_order_relaxed);
    int64_t avail = atomic_load_explicit(&b->credits, memory_order_relaxed);
    int64_t take;
    do {
        if (avail <= 0)
            return false;
        take = chunk < avail ? chunk : avail;
    } while (!atomic_compare_exchange_weak_explicit(&b->credits, &avail, avail - take, memory_order_seq_cst,
                                                    memory_order_relaxed));
    l->credits = (uint32_t)take;
    *wake_after = (int64_t)b->max_queue - (avail - take) >=
                  (int64_t)atomic_load_explicit(&b->wake_threshold, memory_order_seq_cst);
    return true;
}

/* Moves to the next segment of |l|: a drained one, or a new one. */
static bool next_segment(struct otel__lane *l)
{
    struct otel__seg *s = l->free_segs;
    if (!s)
        s = atomic_exchange_explicit(&l->returned_segs, NULL, memory_order_acquire);
    if (s) {
        l->free_segs = atomic_load_explicit(&s->next, memory_order_relaxed);
        /* The consumer has read the marks of the spans this segment held: forget them. */
        for (size_t i = 0; i < SEG_SLOTS / 64u; i++)
            atomic_store_explicit(&s->foreign[i], 0, memory_order_relaxed);
    } else {
        s = seg_new();
        if (!s)
            return false;
    }
    atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
    /* Release: the consumer that sees a tail beyond this segment sees the link. */
    atomic_store_explicit(&l->tail_seg->next, s, memory_order_release);
    l->tail_seg = s;
    l->tail_idx = 0;
    return true;
}

static void log_full(uint64_t dropped)
{
    /* A power of two: a storm of drops costs one check per drop, not a diagnostic. */
    if ((dropped & (dropped - 1)) == 0)
        OTEL__LOG(OTEL_LOG_WARN,
                  "batch span processor: queue full, %llu span(s) dropped so far "
                  "on this thread (raise OTEL_BSP_MAX_QUEUE_SIZE or export faster)",
                  (unsigned long long)dropped);
}

static void learn_provider(struct otel__batch *b, const otel_span_data *d);

/* Makes room in |l| for one more span: the next segment, credits. False (and counted) when the
 * queue is full or memory ran out. */
static bool lane_refill(struct otel__batch *b, struct otel__lane *l, bool *wake_after)
{
    if (l->tail_idx == SEG_SLOTS && !next_segment(l)) {
        add_owned(&l->dropped_other, 1);
        return false;
    }
    if (l->credits == 0 && !take_credits(b, l, wake_after)) {
        add_owned(&l->dropped_full, 1);
        log_full(atomic_load_explicit(&l->dropped_full, memory_order_relaxed));
        return false;
    }
    uint32_t left = SEG_SLOTS - l->tail_idx;
    l->room = l->credits < left ? l->credits : left;
    l->credits -= l->room;
    return true;
}

/* Queues |d| (its reference is handed over) unless the queue is full or shut down: the whole
 * path, of which batch.h inlines the common case. */
bool otel__batch_enqueue(struct otel__batch *b, const otel_span_data *d, bool owned)
{
    if (__builtin_expect(atomic_load_explicit(&b->attention, memory_order_acquire) != 0, 0))
        attend(b);
    struct otel__lane *l = lane_of_thread(b);
    if (l && owned) {
        /* The records this thread ends come back to it through its lane (release_batch), and
         * the inline fast path finds the lane there. */
        struct otel__provider *p = atomic_load_explicit(&b->provider, memory_order_relaxed);
        struct otel__thread *th = otel__thread_bind(&p->pool);
        th->inbox = &l->inbox;
    }
    if (__builtin_expect(!l, 0)) {
        atomic_fetch_add_explicit(&b->dropped_other, 1, memory_order_relaxed);
        OTEL__LOG(OTEL_LOG_WARN, "batch span processor: out of memory for a thread's queue lane; "
                                 "span dropped");
        return false;
    }
    if (!(d->context.trace_flags & OTEL_TRACE_FLAG_SAMPLED)) {
        add_owned(&l->unsampled, 1);
        return false;
    }
    if (__builtin_expect(!atomic_load_explicit(&b->accepting, memory_order_relaxed), 0)) {
        add_owned(&l->dropped_shutdown, 1);
        return false;
    }
    bool wake_after = false;
    if (l->room == 0 && !lane_refill(b, l, &wake_after))
        return false;
    l->room--;
    uint32_t idx = l->tail_idx++;
    l->tail_seg->slots[idx] = d;
    if (!owned) {
        _Atomic uint64_t *w = &l->tail_seg->foreign[idx / 64u];
        atomic_store_explicit(w, atomic_load_explicit(w, memory_order_relaxed) | (UINT64_C(1) << (idx % 64u)),
                              memory_order_relaxed);
    }
    atomic_store_explicit(&l->tail, atomic_load_explicit(&l->tail, memory_order_relaxed) + 1,
                          memory_order_release);
    if (wake_after)
        wake(b, false);
    return true;
}

bool otel__batch_attach_provider(struct otel__batch *b, struct otel__provider *p)
{
    struct otel__provider *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&b->provider, &none, p, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return none == p;
    atomic_fetch_and_explicit(&b->gate, ~(uint32_t)OTEL__BATCH_GATE_NO_PROVIDER, memory_order_release);
    return true;
}

/* Remembers the provider of the first record an on_end caller queues: the one to pin if the
 * worker is abandoned (when no provider feeds the fast path). */
static void learn_provider(struct otel__batch *b, const otel_span_data *d)
{
    const struct otel__span_data_box *box =
        (const void *)((const char *)d - offsetof(struct otel__span_data_box, data));
    /* The caller holds a reference: the kind bit cannot change under us. */
    if (atomic_load_explicit(&box->refs, memory_order_relaxed) & OTEL__REFS_CLONE)
        return;
    const struct otel__span_record *rec =
        (const void *)((const char *)box - offsetof(struct otel__span_record, box));
    struct otel__provider *none = NULL;
    atomic_compare_exchange_strong_explicit(&b->pin_provider, &none, rec->provider, memory_order_relaxed,
                                            memory_order_relaxed);
}

/* The provider whose records the worker may hold when shutdown abandons it. */
static struct otel__provider *provider_to_pin(struct otel__batch *b)
{
    struct otel__provider *p = atomic_load_explicit(&b->provider, memory_order_relaxed);
    return p ? p : atomic_load_explicit(&b->pin_provider, memory_order_relaxed);
}

void otel__batch_on_end(void *user_data, const otel_span_data *d)
{
    struct otel__batch *b = user_data;
    if (__builtin_expect(!atomic_load_explicit(&b->pin_provider, memory_order_relaxed), 0))
        learn_provider(b, d);
    /* The span is lent for this call: the queue keeps a reference of its own. */
    otel_span_data_retain(d);
    if (!otel__batch_enqueue(b, d, false))
        otel_span_data_release(d);
}

/* ---------------------------------------------------------------------------------------------
 * The consumer (holder of export_lock)
 * ------------------------------------------------------------------------------------------- */

static inline int64_t mono_now(void)
{
    return otel__mono_ns();
}

static inline int64_t add_sat(int64_t a, int64_t b)
{
    return b > INT64_MAX - a ? INT64_MAX : a + b;
}

/* Signals the consumer. Producers pass always=false: one signal per wake-up, then nothing
 * until the consumer clears the flag. Flush and shutdown requests always signal. */
static void wake(struct otel__batch *b, bool always)
{
    if (!always && (atomic_load_explicit(&b->wake_pending, memory_order_relaxed) ||
                    atomic_exchange_explicit(&b->wake_pending, true, memory_order_seq_cst)))
        return;
    if (!always)
        atomic_fetch_add_explicit(&b->signals, 1, memory_order_relaxed);
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(b->efd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, the descriptor is readable anyway. */
}

static void drain_efd(struct otel__batch *b)
{
    uint64_t v;
    ssize_t n;
    do {
        n = read(b->efd, &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
}

static uint64_t queued(struct otel__batch *b)
{
    uint64_t n = 0;
    for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_acquire); l; l = l->next)
        n += atomic_load_explicit(&l->tail, memory_order_acquire) -
             atomic_load_explicit(&l->head, memory_order_relaxed);
    return n;
}

/* Takes up to |max| spans out of the lanes into b->batch (up to each lane's flush target when
 * |to_target|), and gives their credits back. */
/* Gives drained segment |s| back to |l|'s producer. */
static void return_segment(struct otel__lane *l, struct otel__seg *s)
{
    struct otel__seg *head = atomic_load_explicit(&l->returned_segs, memory_order_relaxed);
    do {
        atomic_store_explicit(&s->next, head, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(&l->returned_segs, &head, s, memory_order_release,
                                                    memory_order_relaxed));
}

/* Whether slots [from, from + count) of |s| hold a foreign span. */
static bool seg_has_foreign(struct otel__seg *s, uint32_t from, uint32_t count)
{
    uint32_t end = from + count; /* <= SEG_SLOTS */
    for (uint32_t w = from / 64u; w * 64u < end; w++) {
        uint64_t bits = atomic_load_explicit(&s->foreign[w], memory_order_relaxed);
        uint32_t lo = w * 64u < from ? from - w * 64u : 0;
        uint32_t hi = end - w * 64u < 64u ? end - w * 64u : 64u;
        uint64_t mask = (hi == 64u ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1u) & ~((UINT64_C(1) << lo) - 1u);
        if (bits & mask)
            return true;
    }
    return false;
}

/* Takes up to |max| spans out of the lanes into b->batch (up to each lane's flush target when
 * |to_target|), runs of slots at a time, notes the lane runs they came from in b->runs, and
 * gives their credits back unless |credit| is false. */
static size_t collect_locked(struct otel__batch *b, size_t max, bool to_target, bool credit)
{
    b->run_count = 0;
    struct otel__lane *first = atomic_load_explicit(&b->lanes, memory_order_acquire);
    if (!first)
        return 0;
    struct otel__lane *start = b->rotor ? b->rotor : first;
    struct otel__lane *l = start;
    size_t n = 0;
    do {
        uint64_t h = atomic_load_explicit(&l->head, memory_order_relaxed);
        uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);
        if (to_target && t > l->flush_target)
            t = l->flush_target;
        if (h < t) {
            while (h < t && n < max) {
                if (l->head_idx == SEG_SLOTS) {
                    struct otel__seg *next = atomic_load_explicit(&l->head_seg->next, memory_order_acquire);
                    struct otel__seg *done = l->head_seg;
                    l->head_seg = next;
                    l->head_idx = 0;
                    return_segment(l, done);
                }
                uint64_t k = t - h;
                if (k > SEG_SLOTS - l->head_idx)
                    k = SEG_SLOTS - l->head_idx;
                if (k > max - n)
                    k = max - n;
                struct otel__seg *seg = l->head_seg;
                memcpy(&b->batch[n], &seg->slots[l->head_idx], (size_t)k * sizeof(b->batch[0]));
                bool mixed = seg_has_foreign(seg, l->head_idx, (uint32_t)k);
                if (mixed) {
                    for (uint32_t i = 0; i < k; i++) {
                        uint32_t idx = l->head_idx + i;
                        uint64_t bits = atomic_load_explicit(&seg->foreign[idx / 64u], memory_order_relaxed);
                        b->owned[n + i] = !((bits >> (idx % 64u)) & 1u);
                    }
                }
                struct otel__batch_run *r = b->run_count ? &b->runs[b->run_count - 1] : NULL;
                if (r && r->lane == l && !r->mixed && !mixed) {
                    r->count += (uint32_t)k;
                } else {
                    r = &b->runs[b->run_count++];
                    r->lane = l;
                    r->start = (uint32_t)n;
                    r->count = (uint32_t)k;
                    r->mixed = mixed;
                }
                l->head_idx += (uint32_t)k;
                h += k;
                n += k;
            }
            atomic_store_explicit(&l->head, h, memory_order_release);
        }
        l = l->next ? l->next : first;
    } while (l != start && n < max);
    b->rotor = l;
    if (n && credit)
        atomic_fetch_add_explicit(&b->credits, (int64_t)n, memory_order_acq_rel);
    return n;
}

static size_t collect(struct otel__batch *b, size_t max, bool to_target)
{
    pthread_mutex_lock(&b->consume_lock);
    size_t n = collect_locked(b, max, to_target, true);
    atomic_store_explicit(&b->inflight, n, memory_order_relaxed);
    pthread_mutex_unlock(&b->consume_lock);
    return n;
}

/* Hands array |a| of records that came through lane |l| back to the lane's owner (see the
 * lane's inbox). */
static void send_home(struct otel__lane *l, struct otel__rec_array *a)
{
    struct otel__rec_array *head = atomic_load_explicit(&l->inbox, memory_order_relaxed);
    do {
        a->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&l->inbox, &head, a, memory_order_release,
                                                    memory_order_relaxed));
}

/* The records of b->batch on their way home: the array being filled and its lane. */
struct homing {
    struct otel__pool *pool;
    struct otel__rec_array *a;
    struct otel__lane *home;
};

/* Adds the |count| fast-path records of |data| (from lane |l|) to arrays for their thread;
 * what finds no array (memory ran out) is released here. */
static void send_records(struct homing *hm, struct otel__lane *l, const otel_span_data *const *data,
                         size_t count)
{
    while (count) {
        if (hm->a && (hm->home != l || hm->a->count == OTEL__POOL_ARRAY)) {
            send_home(hm->home, hm->a);
            hm->a = NULL;
        }
        if (!hm->a) {
            hm->a = otel__pool_array_get(hm->pool);
            hm->home = l;
            if (!hm->a) {
                for (size_t i = 0; i < count; i++)
                    otel_span_data_release(data[i]);
                return;
            }
        }
        size_t k = OTEL__POOL_ARRAY - hm->a->count;
        if (k > count)
            k = count;
        struct otel__span_record **out = &hm->a->recs[hm->a->count];
        for (size_t i = 0; i < k; i++)
            out[i] = otel__record_of_data(data[i]);
        hm->a->count += (uint32_t)k;
        data += k;
        count -= k;
    }
}

/* Gives the records of b->batch back. Those of the provider's fast path go in arrays to the
 * threads that ended them (through their lanes), untouched (see struct otel__rec_array); others
 * are released one by one. A forked child that still sees them in |inflight| drops them itself:
 * from then on they are the parent's. */
static void release_batch(struct otel__batch *b, size_t n)
{
    (void)n; /* b->runs cover b->batch's |n| entries */
    pthread_mutex_lock(&b->consume_lock);
    atomic_store_explicit(&b->inflight, 0, memory_order_relaxed);
    pthread_mutex_unlock(&b->consume_lock);
    struct otel__provider *p = atomic_load_explicit(&b->provider, memory_order_relaxed);
    struct homing hm = { p ? &p->pool : NULL, NULL, NULL };
    for (uint32_t r = 0; r < b->run_count; r++) {
        const struct otel__batch_run *run = &b->runs[r];
        const otel_span_data *const *data = &b->batch[run->start];
        if (!run->mixed && p) {
            send_records(&hm, run->lane, data, run->count);
            continue;
        }
        for (uint32_t i = 0; i < run->count; i++) {
            if (p && b->owned[run->start + i])
                send_records(&hm, run->lane, &data[i], 1);
            else
                otel_span_data_release(data[i]);
        }
    }
    b->run_count = 0;
    if (hm.a)
        send_home(hm.home, hm.a);
}

/* Exports the |n| spans in b->batch within |deadline| (CLOCK_MONOTONIC; INT64_MAX: none) and
 * releases them. Once the deadline has passed they are dropped instead. */
static otel_status export_collected(struct otel__batch *b, size_t n, int64_t deadline)
{
    int64_t timeout = b->export_timeout_ns;
    if (deadline != INT64_MAX) {
        int64_t left = deadline - mono_now();
        if (left <= 0) {
            atomic_fetch_add_explicit(&b->dropped_other, n, memory_order_relaxed);
            release_batch(b, n);
            return OTEL_ERR_TIMEOUT;
        }
        if (timeout == 0 || left < timeout)
            timeout = left;
    }
    otel_export_result r = b->exporter.export_spans(b->exporter.user_data, b->batch, n, timeout);
    atomic_fetch_add_explicit(&b->export_calls, 1, memory_order_relaxed);
    if (r == OTEL_EXPORT_SUCCESS)
        atomic_fetch_add_explicit(&b->exported, n, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&b->failed, n, memory_order_relaxed);
    release_batch(b, n);
    if (r != OTEL_EXPORT_SUCCESS) {
        OTEL__LOG(OTEL_LOG_WARN, "batch span processor: export of %zu span(s) failed%s", n,
                  r == OTEL_EXPORT_RETRYABLE ? " (transient)" : "");
        return OTEL_ERR_EXPORT;
    }
    return OTEL_OK;
}

/* Exports everything queued when called (not what arrives meanwhile), batch by batch. */
static otel_status export_all(struct otel__batch *b, int64_t deadline)
{
    for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_acquire); l; l = l->next)
        l->flush_target = atomic_load_explicit(&l->tail, memory_order_acquire);
    otel_status result = OTEL_OK;
    size_t n;
    while ((n = collect(b, b->batch_size, true)) > 0) {
        otel_status st = export_collected(b, n, deadline);
        if (st != OTEL_OK && result == OTEL_OK)
            result = st;
    }
    return result;
}

/* One scheduled step: a full batch, or what waits once the delay elapsed. Returns true when it
 * exported (the caller loops), false when nothing was due. */
static bool export_due(struct otel__batch *b, otel_status *result)
{
    int64_t now = mono_now();
    uint64_t pending = queued(b);
    int64_t next = atomic_load_explicit(&b->next_export, memory_order_relaxed);
    bool timer = now >= next;
    if (timer)
        atomic_store_explicit(&b->next_export, add_sat(now, b->delay_ns), memory_order_relaxed);
    if (pending < b->batch_size && (!timer || pending == 0))
        return false;
    size_t n = collect(b, b->batch_size, false);
    if (n == 0)
        return false;
    otel_status st = export_collected(b, n, INT64_MAX);
    if (st != OTEL_OK && *result == OTEL_OK)
        *result = st;
    return true;
}

static otel_status exporter_flush(struct otel__batch *b, int64_t deadline)
{
    if (!b->exporter.force_flush)
        return OTEL_OK;
    return b->exporter.force_flush(b->exporter.user_data, otel__remaining(deadline));
}

/* Drops (without exporting) every span queued in the lanes and any batch the parent's worker
 * was exporting when the process forked. Runs in the child, as the consumer. Records go back to
 * the pool outside consume_lock (fork handlers take it after the pool's locks). */
static void drop_inherited(struct otel__batch *b)
{
    size_t n = atomic_load_explicit(&b->inflight, memory_order_relaxed);
    if (n) {
        atomic_fetch_add_explicit(&b->dropped_other, n, memory_order_relaxed);
        release_batch(b, n);
    }
    for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_acquire); l; l = l->next)
        l->flush_target = atomic_load_explicit(&l->tail, memory_order_acquire);
    for (;;) {
        pthread_mutex_lock(&b->consume_lock);
        /* No credits back: the fork handler already reset them to a full queue. */
        n = collect_locked(b, b->batch_size, true, false);
        atomic_store_explicit(&b->inflight, n, memory_order_relaxed);
        pthread_mutex_unlock(&b->consume_lock);
        if (!n)
            break;
        atomic_fetch_add_explicit(&b->dropped_other, n, memory_order_relaxed);
        release_batch(b, n);
    }
}

/* ---------------------------------------------------------------------------------------------
 * The worker thread
 * ------------------------------------------------------------------------------------------- */

static void batch_free(struct otel__batch *b);

static void batch_unref(struct otel__batch *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1u, memory_order_acq_rel) == 1u)
        batch_free(b);
}

/* Sleeps until a signal or |until| (CLOCK_MONOTONIC; INT64_MAX: no limit). Returns true when the
 * time ran out, false on a signal (or when |until| had passed already). */
static bool wait_for_wake(struct otel__batch *b, int64_t until);

/* wait_for_wake for a paced look: on the timerfd, which has no timer slack (a poll timeout gets
 * 50 us by default, which made 40 us sleeps last 120 us here). Without one, wait_for_wake. */
static bool wait_paced(struct otel__batch *b, int64_t until)
{
    if (b->tfd < 0)
        return wait_for_wake(b, until);
    struct itimerspec its = { { 0, 0 }, { (time_t)(until / NS_PER_S), (long)(until % NS_PER_S) } };
    if (timerfd_settime(b->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        return wait_for_wake(b, until);
    struct pollfd pfd[2] = { { .fd = b->efd, .events = POLLIN }, { .fd = b->tfd, .events = POLLIN } };
    int rc;
    do {
        rc = ppoll(pfd, 2, NULL, NULL);
    } while (rc < 0 && errno == EINTR);
    bool timed = rc > 0 && (pfd[1].revents & POLLIN);
    if (timed) {
        uint64_t expirations;
        (void)!read(b->tfd, &expirations, sizeof(expirations));
    } else {
        /* Disarmed, so that it does not fire into a later wait. */
        struct itimerspec off = { { 0, 0 }, { 0, 0 } };
        (void)timerfd_settime(b->tfd, 0, &off, NULL);
    }
    if (rc > 0 && (pfd[0].revents & POLLIN))
        drain_efd(b);
    return timed;
}

static bool wait_for_wake(struct otel__batch *b, int64_t until)
{
    int64_t left = until - mono_now();
    if (left <= 0)
        return false;
    struct timespec ts = { (time_t)(left / NS_PER_S), (long)(left % NS_PER_S) };
    struct pollfd pfd = { .fd = b->efd, .events = POLLIN };
    int rc = ppoll(&pfd, 1, until == INT64_MAX ? NULL : &ts, NULL);
    if (rc > 0)
        drain_efd(b);
    return rc == 0;
}

/* The worker's high-water mode (see the comment at the top): entered when two producer signals
 * come closer than HIGH_ENTER_NS. Producers then signal only at the high-water mark (three
 * quarters of the queue, at most HIGH_BATCHES batches), and the worker exports everything that
 * waits at each wake-up; it also looks every HIGH_IDLE_NS, and goes back to a signal per batch
 * when such a look finds less than half a batch. */
struct high_state {
    bool on;
    int64_t last_signal; /* time of the last producer signal outside the mode */
    int64_t active_at;   /* in the mode: the last wake-up that found work */
    /* Pacing (pace_next): what the last sample of the lanes saw, and what was learned. */
    int64_t sampled_at;  /* 0: no sample yet */
    uint64_t tails;      /* the sum of the lanes' tails then */
    uint32_t busy_lanes; /* lanes that queued spans between the last two samples */
    uint32_t cpus;       /* CPUs the worker may run on */
    uint32_t high;       /* the producers' signal threshold in the mode */
    double rate;         /* spans per ns, smoothed; 0: not known */
    int64_t late_ns;     /* how late a timed wake-up comes, smoothed (to within 7 ns) */
};

/* The CPU time a cgroup (v2) quota grants the calling process, in whole CPUs rounded up; 0 when
 * there is no quota or it cannot be read. The process's own cgroup and each ancestor's cpu.max
 * ("max 100000" or "<quota> <period>" in microseconds) are read, the least counts. */
static uint32_t cgroup_cpu_limit(void)
{
    char path[512], line[600];
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return 0;
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "0::", 3) == 0) {
            size_t n = strcspn(line + 3, "\n");
            if (n < sizeof(path)) {
                memcpy(path, line + 3, n);
                path[n] = '\0';
                found = true;
            }
            break;
        }
    }
    fclose(f);
    if (!found)
        return 0;
    uint32_t limit = 0;
    for (;;) {
        char file[600];
        snprintf(file, sizeof(file), "/sys/fs/cgroup%s/cpu.max", strcmp(path, "/") == 0 ? "" : path);
        FILE *m = fopen(file, "re");
        if (m) {
            long long quota, period;
            if (fscanf(m, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
                long long cpus = (quota + period - 1) / period;
                if (cpus < 1)
                    cpus = 1;
                if (limit == 0 || cpus < (long long)limit)
                    limit = cpus > UINT32_MAX ? UINT32_MAX : (uint32_t)cpus;
            }
            fclose(m);
        }
        char *slash = strrchr(path, '/');
        if (!slash || slash == path)
            break;
        *slash = '\0';
    }
    return limit;
}

/* The CPUs the calling thread may use (at least 1): its affinity, capped by a cgroup quota. */
static uint32_t usable_cpus(void)
{
    uint32_t n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        n = (uint32_t)CPU_COUNT(&set);
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (uint32_t)online : 1u;
    }
    uint32_t quota = cgroup_cpu_limit();
    return quota && quota < n ? quota : n;
}

/* In the high-water mode with a CPU to spare (fewer lanes busy than CPUs), the worker does not
 * wait for the producers' signal: it wakes itself when the queue should be half full (or half
 * the high-water mark, whichever is lower), at the span rate it measures, earlier by the
 * lateness of its timed wake-ups (otel__batch_pace_delay). A signal from a producer
 * makes it pay an inter-processor interrupt on a virtual machine, several microseconds of the
 * application's time each; a timer costs the idle CPU instead. The signal at the high-water
 * mark stays as the backstop. With every CPU busy producing, a timer wake-up preempts a producer
 * as a signal does, and more often: the worker keeps to the signals then. Returns when to look
 * next, INT64_MAX for no pacing. */
static int64_t pace_next(struct otel__batch *b, struct high_state *hs, int64_t now, uint64_t waiting)
{
    if (now - hs->sampled_at >= PACE_SAMPLE_NS) {
        uint64_t tails = 0;
        uint32_t busy = 0;
        for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_acquire); l; l = l->next) {
            uint64_t t = atomic_load_explicit(&l->tail, memory_order_relaxed);
            busy += t != l->paced_tail;
            l->paced_tail = t;
            tails += t;
        }
        if (hs->sampled_at) {
            double r = (double)(tails - hs->tails) / (double)(now - hs->sampled_at);
            hs->rate = hs->rate > 0 ? hs->rate + (r - hs->rate) * 0.25 : r;
            hs->busy_lanes = busy;
        }
        hs->tails = tails;
        hs->sampled_at = now;
    }
    if (!b->pacing || hs->busy_lanes == 0 || hs->busy_lanes >= hs->cpus)
        return INT64_MAX;
    return now + otel__batch_pace_delay(b->max_queue, hs->high, waiting, hs->rate, hs->late_ns);
}

int64_t otel__batch_pace_delay(uint32_t max_queue, uint32_t high, uint64_t waiting, double rate,
                               int64_t late_ns)
{
    /* Half the queue, and never past half of the high-water mark: the signal there comes
     * first otherwise (a large queue's mark is eight batches). */
    uint32_t target = max_queue / 2u < high / 2u ? max_queue / 2u : high / 2u;
    if (!(rate > 0) || waiting >= target)
        return PACE_MIN_NS;
    double t = (double)(target - waiting) / rate - (double)late_ns;
    if (!(t > (double)PACE_MIN_NS)) /* (NaN too) */
        return PACE_MIN_NS;
    return t < (double)HIGH_IDLE_NS ? (int64_t)t : HIGH_IDLE_NS;
}

static void high_enter(struct otel__batch *b, struct high_state *hs, int64_t now)
{
    uint32_t high = b->max_queue - b->max_queue / 4u;
    if (high > HIGH_BATCHES * b->batch_size)
        high = HIGH_BATCHES * b->batch_size;
    if (high <= b->batch_size)
        return; /* no room above a batch: keep the signals */
    hs->on = true;
    hs->active_at = now;
    hs->high = high;
    hs->sampled_at = 0;
    hs->rate = 0;
    hs->busy_lanes = 0;
    atomic_store_explicit(&b->wake_threshold, high, memory_order_seq_cst);
}

static void high_leave(struct otel__batch *b, struct high_state *hs)
{
    hs->on = false;
    atomic_store_explicit(&b->wake_threshold, b->batch_size, memory_order_seq_cst);
    /* The caller then clears wake_pending and looks at the queue again (seq_cst on both
     * sides), and treats the change as a signal (the 1 ms rechecks while credits handed out
     * cover a batch): a producer that passed the batch mark under the old threshold did not
     * signal, and spans paid with credits it already holds signal nobody. */
}

static void *worker_main(void *arg)
{
    struct otel__batch *b = arg;
    int64_t recheck_until = 0;
    struct high_state hs = { .on = false, .last_signal = INT64_MIN / 2, .cpus = usable_cpus() };
    for (;;) {
        pthread_mutex_lock(&b->lock);
        bool stop = b->stop_requested;
        uint64_t flush_req = b->flush_requested;
        bool flush = flush_req != b->flush_done;
        int64_t deadline = stop ? b->stop_deadline : b->flush_deadline;
        pthread_mutex_unlock(&b->lock);
        if (stop)
            break;
        if (flush) {
            pthread_mutex_lock(&b->export_lock);
            otel_status st = export_all(b, deadline);
            otel_status fst = exporter_flush(b, deadline);
            pthread_mutex_unlock(&b->export_lock);
            if (st == OTEL_OK)
                st = fst;
            pthread_mutex_lock(&b->lock);
            b->flush_done = flush_req;
            b->flush_result = st;
            pthread_cond_broadcast(&b->cv);
            pthread_mutex_unlock(&b->lock);
            continue;
        }
        otel_status ignored = OTEL_OK;
        pthread_mutex_lock(&b->export_lock);
        bool exported = export_due(b, &ignored);
        pthread_mutex_unlock(&b->export_lock);
        if (exported)
            continue;
        int64_t until = atomic_load_explicit(&b->next_export, memory_order_relaxed);
        bool left_high = false;
        if (hs.on) {
            /* Signals come at the high-water mark (and for flush, shutdown). Clear the flag
             * first, then look at the queue, as below. */
            atomic_store_explicit(&b->wake_pending, false, memory_order_seq_cst);
            int64_t now = mono_now();
            uint64_t waiting = queued(b);
            /* (Not an empty queue: half a batch of one is nothing.) */
            if (waiting > 0 && waiting >= b->batch_size / 2u) {
                /* Export all that waits (full batches, then the rest), so the queue starts each
                 * round nearly empty instead of carrying up to a batch over. */
                pthread_mutex_lock(&b->export_lock);
                export_all(b, INT64_MAX);
                pthread_mutex_unlock(&b->export_lock);
                hs.active_at = now;
                continue;
            }
            if (now - hs.active_at < HIGH_IDLE_NS) {
                int64_t look = hs.active_at + HIGH_IDLE_NS;
                int64_t paced = pace_next(b, &hs, now, waiting);
                if (paced < look)
                    look = paced;
                if (look > until)
                    look = until;
                bool timed = look == paced ? wait_paced(b, look) : wait_for_wake(b, look);
                if (timed && look == paced) {
                    atomic_fetch_add_explicit(&b->paced_wakeups, 1, memory_order_relaxed);
                    int64_t late = mono_now() - look;
                    hs.late_ns += ((late < PACE_LATE_MAX_NS ? late : PACE_LATE_MAX_NS) - hs.late_ns) / 8;
                }
                continue;
            }
            high_leave(b, &hs);
            left_high = true;
        }
        /* Clear the flag, then look again: a producer that found it set did not signal. */
        bool signalled = atomic_exchange_explicit(&b->wake_pending, false, memory_order_seq_cst);
        if (queued(b) >= b->batch_size)
            continue;
        /* A producer signals when the credits handed out cover a batch, some of them not yet
         * used: the batch is probably a few spans away. Look again every RECHECK_NS while
         * that is so, for up to RECHECK_FOR_NS after the signal, rather than at the delay. */
        int64_t now = mono_now();
        /* Leaving the high-water mode counts as a signal: lanes may hold credits handed out
         * under the high threshold that cover the rest of a batch, and spending them signals
         * nobody. */
        if (signalled || left_high)
            recheck_until = now + RECHECK_FOR_NS;
        if (signalled) {
            int64_t previous = hs.last_signal;
            hs.last_signal = now;
            if (now - previous < HIGH_ENTER_NS && !b->no_thread) {
                high_enter(b, &hs, now);
                if (hs.on)
                    continue;
            }
        }
        if (now < recheck_until &&
            (int64_t)b->max_queue - atomic_load_explicit(&b->credits, memory_order_relaxed) >=
                (int64_t)b->batch_size &&
            now + RECHECK_NS < until)
            until = now + RECHECK_NS;
        wait_for_wake(b, until);
    }

    /* Shutdown: export what is queued within the deadline, drop the rest, shut the exporter. */
    pthread_mutex_lock(&b->lock);
    int64_t deadline = b->stop_deadline;
    pthread_mutex_unlock(&b->lock);
    pthread_mutex_lock(&b->export_lock);
    otel_status st = export_all(b, deadline);
    if (b->exporter.shutdown) {
        otel_status sst = b->exporter.shutdown(b->exporter.user_data, otel__remaining(deadline));
        if (st == OTEL_OK)
            st = sst;
    }
    pthread_mutex_unlock(&b->export_lock);
    pthread_mutex_lock(&b->lock);
    b->worker_done = true;
    b->shutdown_result = st;
    /* Flushes still waiting: everything was exported (or dropped) by now. */
    b->flush_done = b->flush_requested;
    b->flush_result = st;
    bool abandoned = b->abandoned;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->lock);
    if (abandoned) {
        struct otel__provider *p = provider_to_pin(b);
        /* The records are back in the pool; the worker's own cache of them must go back too
         * before the provider may be freed (its thread-exit hook would be too late). */
        if (p)
            otel__thread_release();
        otel__log(OTEL_LOG_WARN, "batch span processor: an export abandoned at shutdown has "
                                 "returned; the worker thread exits now");
        batch_unref(b);
        if (p)
            otel__provider_unpin(p);
        return NULL;
    }
    batch_unref(b);
    return NULL;
}

static bool start_worker(struct otel__batch *b)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_fetch_add_explicit(&b->refs, 1u, memory_order_relaxed);
    int rc = pthread_create(&b->worker, NULL, worker_main, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_fetch_sub_explicit(&b->refs, 1u, memory_order_relaxed);
        return false;
    }
    pthread_setname_np(b->worker, "otel-bsp");
    b->worker_running = true;
    b->worker_done = false;
    return true;
}

/* The slow path producers (and flush, shutdown, tick) take while |attention| is set: in a
 * forked child, drop what the parent had queued and start the worker. */
static void attend(struct otel__batch *b)
{
    /* export_lock first, as the consumer: records go back to the pool here, which must not
     * happen under b->lock (fork handlers take b->lock after the pool's locks). */
    pthread_mutex_lock(&b->export_lock);
    pthread_mutex_lock(&b->lock);
    bool reset = b->child_reset;
    b->child_reset = false;
    pthread_mutex_unlock(&b->lock);
    if (reset)
        drop_inherited(b);
    pthread_mutex_unlock(&b->export_lock);

    pthread_mutex_lock(&b->lock);
    if (!b->no_thread && !b->shutdown_called && !b->worker_running && !b->worker_failed) {
        atomic_store_explicit(&b->next_export, add_sat(mono_now(), b->delay_ns), memory_order_relaxed);
        if (!start_worker(b)) {
            b->worker_failed = true;
            otel__log(OTEL_LOG_ERROR, "batch span processor: cannot start the worker thread "
                                      "(in a forked child); spans are exported only by "
                                      "force_flush and shutdown");
        }
    }
    atomic_store_explicit(&b->attention, 0u, memory_order_release);
    atomic_fetch_and_explicit(&b->gate, ~(uint32_t)OTEL__BATCH_GATE_ATTEND, memory_order_release);
    pthread_mutex_unlock(&b->lock);
}

/* ---------------------------------------------------------------------------------------------
 * The processor interface
 * ------------------------------------------------------------------------------------------- */

static bool lock_export_until(struct otel__batch *b, int64_t deadline)
{
    if (deadline == INT64_MAX) {
        pthread_mutex_lock(&b->export_lock);
        return true;
    }
    /* pthread_mutex_timedlock counts on CLOCK_REALTIME. */
    int64_t left = deadline - mono_now();
    if (left < 0)
        left = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t at = (int64_t)now.tv_sec * NS_PER_S + now.tv_nsec + left;
    struct timespec abs = { (time_t)(at / NS_PER_S), (long)(at % NS_PER_S) };
    return pthread_mutex_timedlock(&b->export_lock, &abs) == 0;
}

/* Flush on the calling thread (event-loop mode, or no worker could be started). */
static otel_status flush_inline(struct otel__batch *b, int64_t deadline)
{
    if (!lock_export_until(b, deadline))
        return OTEL_ERR_TIMEOUT;
    otel_status st = export_all(b, deadline);
    otel_status fst = exporter_flush(b, deadline);
    pthread_mutex_unlock(&b->export_lock);
    return st != OTEL_OK ? st : fst;
}

static bool wait_cv_until(struct otel__batch *b, int64_t deadline)
{
    if (deadline == INT64_MAX) {
        pthread_cond_wait(&b->cv, &b->lock);
        return true;
    }
    struct timespec ts = { (time_t)(deadline / NS_PER_S), (long)(deadline % NS_PER_S) };
    return pthread_cond_timedwait(&b->cv, &b->lock, &ts) != ETIMEDOUT;
}

static otel_status batch_force_flush(void *user_data, int64_t timeout_ns)
{
    struct otel__batch *b = user_data;
    int64_t deadline = otel__deadline(timeout_ns);
    if (atomic_load_explicit(&b->attention, memory_order_acquire))
        attend(b);
    pthread_mutex_lock(&b->lock);
    if (b->shutdown_called) {
        pthread_mutex_unlock(&b->lock);
        return OTEL_ERR_SHUT_DOWN;
    }
    if (!b->worker_running) {
        pthread_mutex_unlock(&b->lock);
        return flush_inline(b, deadline);
    }
    uint64_t ticket = ++b->flush_requested;
    b->flush_deadline = deadline;
    pthread_mutex_unlock(&b->lock);
    wake(b, true);
    pthread_mutex_lock(&b->lock);
    while (b->flush_done < ticket && b->worker_running)
        if (!wait_cv_until(b, deadline))
            break;
    otel_status st = b->flush_done >= ticket ? b->flush_result : OTEL_ERR_TIMEOUT;
    pthread_mutex_unlock(&b->lock);
    return st;
}

static void log_drops(struct otel__batch *b);

static otel_status batch_shutdown(void *user_data, int64_t timeout_ns)
{
    struct otel__batch *b = user_data;
    int64_t deadline = otel__deadline(timeout_ns);
    if (atomic_load_explicit(&b->attention, memory_order_acquire))
        attend(b);
    pthread_mutex_lock(&b->lock);
    if (b->shutdown_called) {
        pthread_mutex_unlock(&b->lock);
        return OTEL_OK;
    }
    b->shutdown_called = true;
    atomic_store_explicit(&b->accepting, false, memory_order_relaxed);
    atomic_fetch_or_explicit(&b->gate, OTEL__BATCH_GATE_CLOSED, memory_order_relaxed);
    if (!b->worker_running) {
        pthread_mutex_unlock(&b->lock);
        otel_status st = OTEL_ERR_TIMEOUT;
        if (lock_export_until(b, deadline)) {
            st = export_all(b, deadline);
            if (b->exporter.shutdown) {
                otel_status sst = b->exporter.shutdown(b->exporter.user_data, otel__remaining(deadline));
                if (st == OTEL_OK)
                    st = sst;
            }
            pthread_mutex_unlock(&b->export_lock);
        }
        log_drops(b);
        return st;
    }
    b->stop_requested = true;
    b->stop_deadline = deadline;
    pthread_mutex_unlock(&b->lock);
    wake(b, true);

    pthread_mutex_lock(&b->lock);
    while (!b->worker_done)
        if (!wait_cv_until(b, deadline))
            break;
    bool done = b->worker_done;
    otel_status st = done ? b->shutdown_result : OTEL_ERR_TIMEOUT;
    if (!done) {
        /* The exporter is stuck: leave the worker to finish on its own reference, and keep
         * the records it holds valid until it does. */
        b->abandoned = true;
        struct otel__provider *p = provider_to_pin(b);
        if (p)
            otel__provider_pin(p);
    }
    pthread_t worker = b->worker;
    b->worker_running = false;
    pthread_mutex_unlock(&b->lock);
    if (done) {
        pthread_join(worker, NULL);
    } else {
        pthread_detach(worker);
        otel__log(OTEL_LOG_WARN, "batch span processor: shutdown deadline passed while the "
                                 "exporter was busy; the export is abandoned (its spans are "
                                 "counted when it returns)");
    }
    log_drops(b);
    return st;
}

static void fill_stats(struct otel__batch *b, otel_batch_processor_stats *s)
{
    memset(s, 0, sizeof(*s));
    for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_acquire); l; l = l->next) {
        s->spans_received += atomic_load_explicit(&l->tail, memory_order_relaxed) +
                             atomic_load_explicit(&l->unsampled, memory_order_relaxed) +
                             atomic_load_explicit(&l->dropped_full, memory_order_relaxed) +
                             atomic_load_explicit(&l->dropped_shutdown, memory_order_relaxed) +
                             atomic_load_explicit(&l->dropped_other, memory_order_relaxed);
        s->spans_dropped_full += atomic_load_explicit(&l->dropped_full, memory_order_relaxed);
        s->spans_dropped_shutdown += atomic_load_explicit(&l->dropped_shutdown, memory_order_relaxed);
        s->spans_dropped_other += atomic_load_explicit(&l->dropped_other, memory_order_relaxed);
    }
    s->spans_dropped_other += atomic_load_explicit(&b->dropped_other, memory_order_relaxed);
    s->spans_queued = queued(b);
    s->spans_exported = atomic_load_explicit(&b->exported, memory_order_relaxed);
    s->spans_failed = atomic_load_explicit(&b->failed, memory_order_relaxed);
    s->export_calls = atomic_load_explicit(&b->export_calls, memory_order_relaxed);
    s->signals = atomic_load_explicit(&b->signals, memory_order_relaxed);
    s->paced_wakeups = atomic_load_explicit(&b->paced_wakeups, memory_order_relaxed);
}

static void log_drops(struct otel__batch *b)
{
    otel_batch_processor_stats s;
    fill_stats(b, &s);
    uint64_t dropped = s.spans_dropped_full + s.spans_dropped_shutdown + s.spans_dropped_other;
    if (dropped)
        otel__log(OTEL_LOG_WARN,
                  "batch span processor: %llu span(s) dropped (%llu queue full, %llu after "
                  "shutdown, %llu other); %llu exported, %llu failed",
                  (unsigned long long)dropped, (unsigned long long)s.spans_dropped_full,
                  (unsigned long long)s.spans_dropped_shutdown, (unsigned long long)s.spans_dropped_other,
                  (unsigned long long)s.spans_exported, (unsigned long long)s.spans_failed);
}

static void batch_get_stats(void *user_data, otel_processor_stats *out)
{
    otel_batch_processor_stats s;
    fill_stats(user_data, &s);
    out->spans_received = s.spans_received;
    out->spans_dropped = s.spans_dropped_full + s.spans_dropped_shutdown + s.spans_dropped_other;
    out->spans_exported = s.spans_exported;
    out->spans_failed = s.spans_failed;
}

static void batch_free(struct otel__batch *b)
{
    pthread_mutex_lock(&registry_lock);
    for (struct otel__batch **link = &registry; *link; link = &(*link)->registry_next) {
        if (*link == b) {
            *link = b->registry_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    /* Spans still queued here (a shutdown that timed out) go back without export. */
    size_t n;
    for (struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_relaxed); l; l = l->next)
        l->flush_target = atomic_load_explicit(&l->tail, memory_order_relaxed);
    while ((n = collect(b, b->batch_size, true)) > 0) {
        atomic_fetch_add_explicit(&b->dropped_other, n, memory_order_relaxed);
        release_batch(b, n);
    }
    if (b->exporter.destroy)
        b->exporter.destroy(b->exporter.user_data);
    struct otel__lane *l = atomic_load_explicit(&b->lanes, memory_order_relaxed);
    while (l) {
        struct otel__lane *next = l->next;
        struct otel__seg *s = l->head_seg;
        while (s) {
            struct otel__seg *sn = atomic_load_explicit(&s->next, memory_order_relaxed);
            otel__free(s);
            s = sn;
        }
        for (int list = 0; list < 2; list++) {
            s = list ? atomic_load_explicit(&l->returned_segs, memory_order_relaxed) : l->free_segs;
            while (s) {
                struct otel__seg *sn = atomic_load_explicit(&s->next, memory_order_relaxed);
                otel__free(s);
                s = sn;
            }
        }
        otel__free(l->block);
        l = next;
    }
    otel__free(b->batch);
    close(b->efd);
    if (b->tfd >= 0)
        close(b->tfd);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->lock);
    pthread_mutex_destroy(&b->export_lock);
    pthread_mutex_destroy(&b->consume_lock);
    otel__free(b);
}

static void batch_destroy(void *user_data)
{
    struct otel__batch *b = user_data;
    pthread_mutex_lock(&b->lock);
    bool shut = b->shutdown_called;
    pthread_mutex_unlock(&b->lock);
    if (!shut)
        batch_shutdown(b, DESTROY_TIMEOUT_NS);
    batch_unref(b);
}

otel_status otel_batch_processor_create(otel_span_exporter exporter, const otel_batch_options *opts,
                                        otel_span_processor *out)
{
    static const otel_batch_options defaults;
    if (!opts)
        opts = &defaults;
    if (!out || !exporter.export_spans || opts->schedule_delay_ns < 0 || opts->max_queue_size > MAX_QUEUE)
        return OTEL_ERR_INVALID_ARG;
    pthread_once(&global_once, global_init);

    otel_status st = OTEL_ERR_NOMEM;
    struct otel__batch *b = otel__calloc(1, sizeof(*b));
    if (!b)
        return OTEL_ERR_NOMEM;
    b->max_queue = opts->max_queue_size ? opts->max_queue_size : DEFAULT_QUEUE;
    b->batch_size = opts->max_export_batch_size ? opts->max_export_batch_size : DEFAULT_BATCH;
    if (b->batch_size > b->max_queue)
        b->batch_size = b->max_queue;
    b->delay_ns = opts->schedule_delay_ns ? opts->schedule_delay_ns : DEFAULT_DELAY_NS;
    b->export_timeout_ns = opts->export_timeout_ns == 0  ? DEFAULT_TIMEOUT_NS
                           : opts->export_timeout_ns < 0 ? 0
                                                         : opts->export_timeout_ns;
    b->no_thread = opts->no_thread;
    b->pacing = !opts->no_thread && !opts->no_pacing;
    b->exporter = exporter;
    b->serial = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
    atomic_init(&b->accepting, true);
    atomic_init(&b->attention, 0u);
    atomic_init(&b->gate, OTEL__BATCH_GATE_NO_PROVIDER);
    atomic_init(&b->lanes, NULL);
    atomic_init(&b->provider, NULL);
    atomic_init(&b->pin_provider, NULL);
    atomic_init(&b->credits, (int64_t)b->max_queue);
    uint32_t chunk = b->batch_size / 4u < CHUNK_MAX ? b->batch_size / 4u : CHUNK_MAX;
    atomic_init(&b->chunk, chunk ? chunk : 1u);
    atomic_init(&b->wake_pending, false);
    atomic_init(&b->wake_threshold, b->batch_size);
    atomic_init(&b->inflight, 0);
    atomic_init(&b->next_export, add_sat(mono_now(), b->delay_ns));
    atomic_init(&b->refs, 1u);

    b->batch = otel__calloc(b->batch_size, sizeof(*b->batch) + sizeof(*b->runs) + sizeof(*b->owned));
    if (!b->batch)
        goto out_free;
    b->runs = (struct otel__batch_run *)(b->batch + b->batch_size);
    b->owned = (bool *)(b->runs + b->batch_size);
    b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->efd < 0)
        goto out_free_batch;
    /* The worker's paced looks (pace_next); without it they use a poll timeout. */
    b->tfd = b->pacing ? timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK) : -1;
    if (pthread_mutex_init(&b->lock, NULL) != 0)
        goto out_close;
    if (pthread_mutex_init(&b->export_lock, NULL) != 0)
        goto out_destroy_lock;
    if (pthread_mutex_init(&b->consume_lock, NULL) != 0)
        goto out_destroy_export_lock;
    init_cv(&b->cv);
    if (!b->no_thread && !start_worker(b))
        goto out_destroy_cv;

    pthread_mutex_lock(&registry_lock);
    b->registry_next = registry;
    registry = b;
    pthread_mutex_unlock(&registry_lock);

    otel_span_processor sp = {
        .on_end = otel__batch_on_end,
        .force_flush = batch_force_flush,
        .shutdown = batch_shutdown,
        .get_stats = batch_get_stats,
        .destroy = batch_destroy,
        .user_data = b,
    };
    *out = sp;
    return OTEL_OK;

out_destroy_cv:
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->consume_lock);
out_destroy_export_lock:
    pthread_mutex_destroy(&b->export_lock);
out_destroy_lock:
    pthread_mutex_destroy(&b->lock);
out_close:
    if (b->tfd >= 0)
        close(b->tfd);
    close(b->efd);
out_free_batch:
    otel__free(b->batch);
out_free:
    otel__free(b);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Stats and event-loop mode
 * ------------------------------------------------------------------------------------------- */

static struct otel__batch *as_batch(const otel_span_processor *bp)
{
    return bp && bp->on_end == otel__batch_on_end ? bp->user_data : NULL;
}

otel_status otel_batch_processor_get_stats(const otel_span_processor *bp, otel_batch_processor_stats *out)
{
    struct otel__batch *b = as_batch(bp);
    if (!b || !out)
        return OTEL_ERR_INVALID_ARG;
    fill_stats(b, out);
    return OTEL_OK;
}

int otel_batch_processor_fd(const otel_span_processor *bp)
{
    struct otel__batch *b = as_batch(bp);
    return b && b->no_thread ? b->efd : -1;
}

int64_t otel_batch_processor_next_timeout_ns(const otel_span_processor *bp)
{
    struct otel__batch *b = as_batch(bp);
    if (!b || !b->no_thread)
        return -1;
    if (!atomic_load_explicit(&b->accepting, memory_order_relaxed))
        return -1;
    if (queued(b) >= b->batch_size)
        return 0;
    int64_t left = atomic_load_explicit(&b->next_export, memory_order_relaxed) - mono_now();
    return left > 0 ? left : 0;
}

otel_status otel_batch_processor_tick(const otel_span_processor *bp)
{
    struct otel__batch *b = as_batch(bp);
    if (!b || !b->no_thread)
        return OTEL_ERR_INVALID_ARG;
    if (atomic_load_explicit(&b->attention, memory_order_acquire))
        attend(b);
    if (!atomic_load_explicit(&b->accepting, memory_order_relaxed))
        return OTEL_ERR_SHUT_DOWN;
    if (pthread_mutex_trylock(&b->export_lock) != 0)
        return OTEL_OK; /* another thread is exporting */
    drain_efd(b);
    atomic_store_explicit(&b->wake_pending, false, memory_order_seq_cst);
    /* Bounded: the batches waiting now, plus the one the timer may add. */
    uint64_t rounds = queued(b) / b->batch_size + 1;
    otel_status result = OTEL_OK;
    while (rounds-- > 0 && export_due(b, &result))
        ;
    pthread_mutex_unlock(&b->export_lock);
    return result;
}
