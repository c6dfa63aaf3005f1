/* Span records: the pooled objects behind SDK span handles, with the per-span string arena and the
 * per-provider record pool. A record's public view (otel_span_data) is filled in place, so
 * processors and exporters read it with no conversion. Used by the provider, the tracer, the span
 * operations and otel_span_data_*; exporters may include this header too. */
#ifndef OTEL_SDK_SPAN_H
#define OTEL_SDK_SPAN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

struct otel__provider;

/* ---------------------------------------------------------------------------------------------
 * Arena: bump allocation of copied strings and arrays, in chunks that stay with the record when
 * it is recycled (up to OTEL__ARENA_KEEP_BYTES), so a steady stream of spans allocates nothing.
 * ------------------------------------------------------------------------------------------- */

/* Chunk sizes include the chunk header. The first chunk is small (a long span name, or the
 * first attributes); each next one doubles, or fits the request that needed it with room to
 * spare. */
#define OTEL__ARENA_FIRST_CHUNK 64u
/* Chunks a recycled record keeps for its next span: bounds what the pool holds. */
#define OTEL__ARENA_KEEP_BYTES 1024u
/* A span whose copies pass this size drops further attributes (counted): the bound on memory a
 * runaway loop of set_attr calls with ever-new strings can take. */
#define OTEL__ARENA_MAX_BYTES (8u * 1024u * 1024u)

struct otel__arena_chunk {
    struct otel__arena_chunk *next;
    uint32_t cap;
    uint32_t used;
    /* In the head chunk only: the bytes of all chunks (at most OTEL__ARENA_MAX_BYTES). Kept here
     * rather than in struct otel__arena, whose every byte the 256-byte record pays for, even
     * when the span copies nothing and has no chunk at all. */
    uint32_t total_cap;
    uint32_t unused;
    /* cap bytes follow, 8-byte aligned */
};

struct otel__arena {
    struct otel__arena_chunk *head; /* chunks in allocation order */
    struct otel__arena_chunk *cur;  /* the chunk being filled; later ones are empty */
};

/* The bytes of all of |a|'s chunks. */
static inline size_t otel__arena_total_cap(const struct otel__arena *a)
{
    return a->head ? a->head->total_cap : 0;
}

/* A position to roll back to when a multi-part copy fails half-way. */
struct otel__arena_mark {
    struct otel__arena_chunk *cur;
    size_t used;
};

/* memcpy for the short strings of span names and attributes: up to 16 bytes in two overlapping
 * loads and stores, no call. */
static inline void otel__copy_small(char *dst, const char *src, size_t len)
{
    if (len >= 8 && len <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + len - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + len - 8, &b, 8);
    } else if (len >= 4 && len < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + len - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + len - 4, &b, 4);
    } else if (len < 4) {
        for (size_t i = 0; i < len; i++)
            dst[i] = src[i];
    } else {
        memcpy(dst, src, len);
    }
}

/* The same, with no call for any length: more than 16 bytes go in 8-byte words.
 * For span start's short path, which must not call anything. */
static inline void otel__copy_small_inline(char *dst, const char *src, size_t len)
{
    uint64_t w;
    if (__builtin_expect(len > 16, 0)) {
        for (size_t i = 0; i + 8 < len; i += 8) {
            memcpy(&w, src + i, 8);
            __asm__("" : "+r"(w)); /* a loop of words, not a call to memcpy */
            memcpy(dst + i, &w, 8);
        }
        memcpy(&w, src + len - 8, 8);
        memcpy(dst + len - 8, &w, 8);
    } else if (len >= 8) {
        uint64_t b;
        memcpy(&w, src, 8);
        memcpy(&b, src + len - 8, 8);
        memcpy(dst, &w, 8);
        memcpy(dst + len - 8, &b, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + len - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + len - 4, &b, 4);
    } else if (len) {
        /* 1 to 3 bytes: the first, then the last two (overlapping). */
        dst[0] = src[0];
        if (len > 1) {
            uint16_t h;
            memcpy(&h, src + len - 2, 2);
            memcpy(dst + len - 2, &h, 2);
        }
    }
}

/* The chunk header, rounded to 8 bytes; the chunk's bytes follow it. */
#define OTEL__ARENA_CHUNK_HEADER ((sizeof(struct otel__arena_chunk) + 7u) & ~(size_t)7u)

/* The slow paths of the inline functions below. */
void *otel__arena_alloc_slow(struct otel__arena *a, size_t size, size_t align);
void otel__arena_reset_slow(struct otel__arena *a);

/* |size| bytes aligned to |align| (1, 2, 4 or 8); NULL when memory runs out or the arena reached
 * OTEL__ARENA_MAX_BYTES. */
static inline void *otel__arena_alloc(struct otel__arena *a, size_t size, size_t align)
{
    struct otel__arena_chunk *c = a->cur;
    if (__builtin_expect(c != NULL, 1)) {
        size_t off = (c->used + (align - 1)) & ~(align - 1);
        if (__builtin_expect(off <= c->cap && c->cap - off >= size, 1)) {
            c->used = (uint32_t)(off + size);
            return (char *)c + OTEL__ARENA_CHUNK_HEADER + off;
        }
        /* The next chunk is empty (kept from an earlier span): start it. */
        c = c->next;
        if (c && size <= c->cap) {
            a->cur = c;
            c->used = (uint32_t)size;
            return (char *)c + OTEL__ARENA_CHUNK_HEADER;
        }
    }
    return otel__arena_alloc_slow(a, size, align);
}

/* A NUL-terminated copy of |len| bytes of |s|. */
static inline char *otel__arena_strdup(struct otel__arena *a, const char *s, size_t len)
{
    if (__builtin_expect(len == SIZE_MAX, 0))
        return NULL;
    char *p = otel__arena_alloc(a, len + 1, 1);
    if (!p)
        return NULL;
    otel__copy_small(p, s, len);
    p[len] = '\0';
    return p;
}

static inline struct otel__arena_mark otel__arena_mark(const struct otel__arena *a)
{
    struct otel__arena_mark m = { a->cur, a->cur ? a->cur->used : 0 };
    return m;
}
void otel__arena_rollback(struct otel__arena *a, struct otel__arena_mark m);

/* Empties the arena for the next span, keeping the first chunks up to OTEL__ARENA_KEEP_BYTES. */
static inline void otel__arena_reset(struct otel__arena *a)
{
    struct otel__arena_chunk *c = a->head;
    if (!c)
        return;
    if (__builtin_expect(c->total_cap <= OTEL__ARENA_KEEP_BYTES, 1)) {
        for (; c; c = c->next)
            c->used = 0;
        a->cur = a->head;
        return;
    }
    otel__arena_reset_slow(a);
}
/* Frees every chunk. */
void otel__arena_free(struct otel__arena *a);

/* ---------------------------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------------------------- */

/* A record is 256 bytes on x86-64, four cache lines (test_record_is_four_cache_lines guards
 * it): 56 bytes of bookkeeping, the 168-byte otel_span_data that processors and exporters read
 * in place, a 16-byte buffer for a short copied name, and the arena. The first line holds
 * everything the exporting thread touches to give a finished record back (reference count,
 * state, flags, free-list links, provider), so recycling costs one cache line moving between
 * cores; the data starts in its last 8 bytes (the first word of the trace id). The second line
 * holds the rest of the context, the parent, kind, name and start and end times; the third the
 * attributes, events, links and status; the fourth the trace state, resource, scope, the name
 * buffer and the arena. Attributes, events, links and longer copied strings live in the arena,
 * whose first chunk (OTEL__ARENA_FIRST_CHUNK bytes) is allocated on the first copy and kept
 * across reuse: a span with a short copied name and nothing else allocates no chunk. */

enum otel__record_state {
    OTEL__REC_FREE = 0,              /* in the pool */
    OTEL__REC_RECORDING = 1,         /* started, handle live */
    OTEL__REC_ENDED = 2,             /* ended, lent to processors or retained by them */
    OTEL__REC_NONRECORDING = 3,      /* a span the sampler dropped: carries its context only */
    OTEL__REC_NONRECORDING_LAZY = 4, /* the same, its new ids not drawn yet (see span.c) */
};

/* Copied span names up to this length live in the record itself (name_buf). */
#define OTEL__NAME_INLINE 16u

/* otel__span_record.flags */
enum {
    /* data.name is the record's own copy (in name_buf or the arena), which update_name may
     * overwrite in place; else it points at the caller's static string. */
    OTEL__REC_NAME_COPIED = 1u << 0,
    OTEL__REC_HAS_REFS = 1u << 1,  /* data holds trace-state references to release */
    OTEL__REC_BIG_ARENA = 1u << 2, /* the arena outgrew OTEL__ARENA_KEEP_BYTES: trim it */
    OTEL__REC_LAZY_ROOT = 1u << 3, /* lazy non-recording span of a new trace: no trace id yet */
    /* The record's data is as otel__record_clear_data leaves it (what the setters fill is
     * empty, the kind is INTERNAL, no trace state): no setter ran since the last clear, and the
     * span did not start with another kind or a trace state. Setters remove it; anything that
     * resets the flags to 0 only costs a clear. */
    OTEL__REC_CLEAN = 1u << 4,
};

/* What otel_span_data_retain/release find in front of an otel_span_data, both in a record and in
 * a clone, so retain and release work on either. The kind of holder is a bit of the reference
 * count, set for a clone and never for a record, which retain and release leave alone: a record's
 * count is then the plain number, and the hot paths that test it for 1 need no mask. */
#define OTEL__REFS_CLONE (1u << 31)
#define OTEL__REFS_COUNT (~OTEL__REFS_CLONE)

struct otel__span_data_box {
    uint32_t owner;        /* a record's lock, state, flags and tick mode (see below); 0 in a clone */
    _Atomic uint32_t refs; /* references, and OTEL__REFS_CLONE */
    otel_span_data data;
};

/* Fields a stale handle may read without the lock (gen, state, data.context, data.trace_state)
 * are written with atomic stores, so such a read is never a data race; the reader re-checks the
 * generation afterwards and discards what it read if the record moved on. */
struct otel__span_record {
    struct otel_span_impl impl; /* first: the API dispatches through impl.ops */
    /* The handle generation: bumped by end, so every older handle is dead. */
    _Atomic uint64_t gen;
    union {
        struct {               /* while the span lives */
            uint32_t attr_cap; /* capacity of data.attrs */
            uint32_t event_cap;
            uint32_t link_cap;
            uint32_t attr_key_lens; /* see attr_put in span.c */
        };
        struct { /* while in the pool: the head record of a magazine links the next one */
            struct otel__span_record *next_magazine;
            uint64_t magazine_count; /* records in the magazine this record heads */
        };
    };
    union {
        int64_t start_tick;                  /* while the span lives: clock.h tick at start */
        struct otel__span_record *next_free; /* while in the pool */
    };
    struct otel__provider *provider;
    /* The box's owner word holds the record's own bytes: lock, state, flags, tick mode and the
     * reference count share one 8-byte word at the end of the first line. */
    union {
        struct {
            /* Guards the mutable fields while the span records (state, data, arrays, arena). */
            _Atomic uint8_t lock;
            _Atomic uint8_t state; /* enum otel__record_state */
            uint8_t flags;         /* OTEL__REC_* */
            uint8_t tick_mode;     /* the clock mode of start_tick (clock.h); 0: explicit start time */
        };
        struct otel__span_data_box box; /* box.data is what processors and exporters see */
    };
    /* A copied span name of up to OTEL__NAME_INLINE bytes, so a span that copies nothing else
     * needs no arena chunk at all (no NUL: otel_str has a length). Longer names go to the
     * arena. */
    char name_buf[OTEL__NAME_INLINE];
    struct otel__arena arena;
};

/* The overlay of the record's own bytes on the box's owner word, and the count right in front of
 * the data, as in a clone (retain and release find it there in both). */
_Static_assert(offsetof(struct otel__span_record, lock) == offsetof(struct otel__span_record, box.owner),
               "lock, state, flags and tick mode overlay the box's owner word");
_Static_assert(offsetof(struct otel__span_record, tick_mode) + 1 ==
                   offsetof(struct otel__span_record, box.refs),
               "the owner word's four bytes are lock, state, flags and tick mode");
_Static_assert(offsetof(struct otel__span_data_box, data) == 8, "the count is just in front of the data");
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct otel__span_record) == 256, "a record is four cache lines on 64-bit targets");
#endif

#define OTEL__RECORD_FROM_IMPL(p) ((struct otel__span_record *)(void *)(p))

/* A copy of span name |s| (|len| bytes) that |rec| owns: in name_buf when it fits, else in the
 * arena (followed by a NUL when copied, though update_name may later shorten it in place
 * without one: readers use the length); NULL when memory runs out. */
static inline char *otel__record_copy_name(struct otel__span_record *rec, const char *s, size_t len)
{
    if (__builtin_expect(len <= OTEL__NAME_INLINE, 1)) {
        otel__copy_small(rec->name_buf, s, len);
        return rec->name_buf;
    }
    return otel__arena_strdup(&rec->arena, s, len);
}

/* The record whose box.data is |d| (only for data that lives in a record). */
static inline struct otel__span_record *otel__record_of_data(const otel_span_data *d)
{
    return (struct otel__span_record *)(void *)((char *)(uintptr_t)d -
                                                offsetof(struct otel__span_record, box.data));
}

/* The span context of a record as three 64-bit words and one 16-bit word (flags, is_remote),
 * accessed with atomics: written by start, read without the lock by get_context. */
static inline void otel__record_store_context(struct otel__span_record *rec, const otel_span_context *sc)
{
    uint64_t w[3];
    uint16_t f;
    memcpy(w, sc, sizeof(w));
    memcpy(&f, &sc->trace_flags, sizeof(f));
    uint64_t *dst = (uint64_t *)(void *)&rec->box.data.context;
    /* Release: a stale reader that sees any of these words also sees the end that retired its
     * generation (see span_get_context). */
    __atomic_store_n(&dst[0], w[0], __ATOMIC_RELEASE);
    __atomic_store_n(&dst[1], w[1], __ATOMIC_RELEASE);
    __atomic_store_n(&dst[2], w[2], __ATOMIC_RELEASE);
    __atomic_store_n((uint16_t *)(void *)&rec->box.data.context.trace_flags, f, __ATOMIC_RELEASE);
}

/* The same from the words themselves: trace id halves |w0| and |w1|, span id |w2| (as stored
 * in memory), |flags|, not remote. */
static inline __attribute__((always_inline)) void
otel__record_store_context_words(struct otel__span_record *rec, uint64_t w0, uint64_t w1, uint64_t w2,
                                 uint8_t flags)
{
    uint8_t fb[2] = { flags, 0 }; /* trace_flags, is_remote */
    uint16_t f;
    memcpy(&f, fb, sizeof(f));
    uint64_t *dst = (uint64_t *)(void *)&rec->box.data.context;
    __atomic_store_n(&dst[0], w0, __ATOMIC_RELEASE);
    __atomic_store_n(&dst[1], w1, __ATOMIC_RELEASE);
    __atomic_store_n(&dst[2], w2, __ATOMIC_RELEASE);
    __atomic_store_n((uint16_t *)(void *)&rec->box.data.context.trace_flags, f, __ATOMIC_RELEASE);
}

/* The capacities of a new span's arrays, which share their bytes with the pool's magazine links
 * (so they are cleared whatever the flags say). */
static inline void otel__record_clear_caps(struct otel__span_record *rec)
{
    rec->attr_cap = 0;
    rec->attr_key_lens = 0;
    rec->event_cap = 0;
    rec->link_cap = 0;
}

/* Empties what a span's setters fill (attributes, events, links, status), and sets the kind
 * to INTERNAL and no trace state, for a new span in |rec|; the caller sets OTEL__REC_CLEAN
 * (and writes another kind or trace state after it, if any, without it). */
static inline void otel__record_clear_data(struct otel__span_record *rec)
{
    otel_span_data *d = &rec->box.data;
    d->kind = OTEL_SPAN_KIND_INTERNAL;
    /* A stale get_trace_state may read it without the lock: an atomic store. */
    __atomic_store_n(&d->trace_state, NULL, __ATOMIC_RELAXED);
    d->attrs = NULL;
    d->attr_count = 0;
    d->dropped_attr_count = 0;
    d->events = NULL;
    d->event_count = 0;
    d->dropped_event_count = 0;
    d->links = NULL;
    d->link_count = 0;
    d->dropped_link_count = 0;
    d->status_code = OTEL_SPAN_STATUS_UNSET;
    d->status_description = (otel_str){ "", 0 };
}

/* All of the above, and the end time. */
static inline void otel__record_clear_fields(struct otel__span_record *rec)
{
    otel__record_clear_data(rec);
    rec->box.data.end_time_ns = 0;
    otel__record_clear_caps(rec);
}

/* A setter is about to fill |rec|'s data (under the lock, or while starting it). */
static inline void otel__record_dirty(struct otel__span_record *rec)
{
    rec->flags &= (uint8_t)~OTEL__REC_CLEAN;
}

static inline void otel__record_load_context(const struct otel__span_record *rec, otel_span_context *out)
{
    const uint64_t *src = (const uint64_t *)(const void *)&rec->box.data.context;
    uint64_t w[3];
    w[0] = __atomic_load_n(&src[0], __ATOMIC_ACQUIRE);
    w[1] = __atomic_load_n(&src[1], __ATOMIC_ACQUIRE);
    w[2] = __atomic_load_n(&src[2], __ATOMIC_ACQUIRE);
    uint16_t f =
        __atomic_load_n((const uint16_t *)(const void *)&rec->box.data.context.trace_flags, __ATOMIC_ACQUIRE);
    memcpy(out, w, sizeof(w));
    memcpy(&out->trace_flags, &f, sizeof(f));
}

extern const struct otel_span_ops otel__span_ops;

static inline void otel__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Tiny spin lock: spans are locked for a few hundred nanoseconds at most and never across a
 * call into user code, so a futex-backed mutex would only add size. Sequentially consistent (an
 * xchg on x86 either way): span end (recording_end, nonrecording_end in span.c) relies on it. */
static inline void otel__spin_lock(_Atomic uint8_t *l)
{
    for (;;) {
        if (!atomic_exchange_explicit(l, 1u, memory_order_seq_cst))
            return;
        while (atomic_load_explicit(l, memory_order_relaxed)) {
            otel__cpu_relax();
        }
    }
}

static inline void otel__spin_unlock(_Atomic uint8_t *l)
{
    atomic_store_explicit(l, 0u, memory_order_release);
}

/* Gives |rec| back to its pool after its last reference went away: releases its trace states,
 * resets its fields and keeps its first arena chunks. */
void otel__span_record_recycle(struct otel__span_record *rec);
/* Releases the trace-state references |rec|'s data holds (OTEL__REC_HAS_REFS). */
void otel__span_record_release_refs(struct otel__span_record *rec);
/* Releases what |rec| holds, whatever its state (provider destroy). */
void otel__span_record_cleanup(struct otel__span_record *rec);

/* Drops one reference to an ended record; the last one recycles it. A holder that sees the
 * count at 1 is the last (nobody else holds a reference to take another from), so the common
 * case of a single holder costs a load, not a read-modify-write. */
static inline void otel__span_record_release(struct otel__span_record *rec)
{
    if (atomic_load_explicit(&rec->box.refs, memory_order_acquire) == 1u ||
        atomic_fetch_sub_explicit(&rec->box.refs, 1u, memory_order_acq_rel) == 1u)
        otel__span_record_recycle(rec);
}

/* ---------------------------------------------------------------------------------------------
 * Pool: per provider, records allocated in slabs and never freed before the provider, so stale
 * handles always point at valid memory. Each thread keeps a small cache per provider and trades
 * with the shared list in batches under the pool's mutex.
 * ------------------------------------------------------------------------------------------- */

#define OTEL__POOL_SLAB_RECORDS 64u
#define OTEL__POOL_MAGAZINE 32u /* records moved between a thread and the shared pool at once */
#define OTEL__POOL_ARRAY 256u   /* records per returned array */

/* Ended records handed back in bulk by a batch processor's consumer without touching them:
 * each still holds the queue's reference, which the thread that takes the record from the array
 * drops (reusing the record when that was the last reference). The exporting core so never
 * writes a record, and its cache lines stay with the threads that start spans. */
struct otel__rec_array {
    struct otel__rec_array *next;
    struct otel__rec_array *all_next; /* every array of the pool, freed with it */
    uint32_t count;
    uint32_t unused;
    struct otel__span_record *recs[OTEL__POOL_ARRAY];
};

/* Per-thread counters of one provider: a thread adds to its own slot with plain (relaxed
 * load + store) updates, so counting shares no cache line between threads; readers sum the
 * slots. One cache line. Threads beyond OTEL__TSTATS_SLOTS share the last slot and add to it
 * with atomic read-modify-writes. */
struct otel__tstats {
    /* Every start is counted once, in one of these three (started, recorded and sampled are
     * sums of them): a span costs one counter update at start. */
    _Atomic uint64_t spans_sampled;
    _Atomic uint64_t spans_record_only;
    _Atomic uint64_t spans_not_recorded;
    _Atomic uint64_t spans_ended;
    _Atomic uint64_t spans_dropped;
    _Atomic uint64_t attrs_dropped;
    _Atomic uint64_t events_dropped;
    _Atomic uint64_t links_dropped;
};

#define OTEL__TSTATS_SLOTS 64u /* private slots; slot OTEL__TSTATS_SLOTS is the shared one */

struct otel__pool_slab;

struct otel__pool {
    pthread_mutex_t lock;
    /* Full magazines (lists of OTEL__POOL_MAGAZINE free records, linked by next_free), stacked
     * through their head records' next_magazine: a whole magazine moves in O(1), without
     * walking records that another core wrote last. */
    struct otel__span_record *magazines;
    size_t magazine_count;
    struct otel__rec_array *arrays;       /* returned records, oldest last */
    struct otel__rec_array *empty_arrays; /* containers for the consumer to fill */
    struct otel__rec_array *all_arrays;   /* all of them, wherever they are */
    struct otel__pool_slab *slabs;
    size_t slab_count;
    uint64_t serial; /* process-unique, never reused: names the pool in thread caches */
    struct otel__provider *provider;
    struct otel__pool *registry_next;
    struct otel__tstats *tstats;          /* OTEL__TSTATS_SLOTS + 1 slots, cache-line aligned */
    void *tstats_block;                   /* the allocation tstats lives in */
    bool tstats_used[OTEL__TSTATS_SLOTS]; /* under lock */
};

/* The calling thread's view of the provider it last used: two magazines of free records (the
 * one in use and at most one full spare) and its counter slot. */
struct otel__thread {
    uint64_t serial;                /* of the pool it serves; 0: none */
    struct otel__span_record *head; /* the magazine in use */
    uint32_t count;
    uint32_t slot;                   /* index into pool->tstats */
    struct otel__span_record *spare; /* a full magazine, or NULL */
    struct otel__rec_array *array;   /* returned records being taken, or NULL */
    /* Where a batch processor sends this thread's records back (its queue lane's inbox), or
     * NULL. Set by the batch processor; reset when the thread moves to another provider. */
    _Atomic(struct otel__rec_array *) *inbox;
    struct otel__tstats *stats;
    bool key_armed;
};

extern __thread struct otel__thread otel__thread_tls __attribute__((tls_model("initial-exec")));

/* The address of a thread-local object, made opaque to the optimizer. GCC 12 with
 * -fsanitize=null tests a TLS address computed by lea against stale flags (a false "null pointer"
 * report); through an opaque value it emits a real test. Costs nothing. */
#define OTEL__TLS_ADDR(var)                   \
    __extension__({                           \
        __typeof__(&(var)) otel__p_ = &(var); \
        __asm__("" : "+r"(otel__p_));         \
        otel__p_;                             \
    })

otel_status otel__pool_init(struct otel__pool *pool, struct otel__provider *provider);
/* Frees every slab and what each record holds. No thread may use the pool any more. */
void otel__pool_destroy(struct otel__pool *pool);

/* Gives the calling thread's cached records and counter slot back to their pool. */
void otel__thread_release(void);

/* Binds the calling thread to |pool| (giving back what it holds of another pool). Never fails. */
struct otel__thread *otel__thread_bind_slow(struct otel__pool *pool);

static inline struct otel__thread *otel__thread_bind(struct otel__pool *pool)
{
    struct otel__thread *t = OTEL__TLS_ADDR(otel__thread_tls);
    if (__builtin_expect(t->serial == pool->serial, 1))
        return t;
    return otel__thread_bind_slow(pool);
}

/* Adds |n| to counter |field| of the calling thread's slot (|t| bound to the provider). */
#define OTEL__TCOUNT(t, field, n)                                                                            \
    do {                                                                                                     \
        struct otel__thread *otel__t_ = (t);                                                                 \
        if (__builtin_expect(otel__t_->slot < OTEL__TSTATS_SLOTS, 1))                                        \
            atomic_store_explicit(&otel__t_->stats->field,                                                   \
                                  atomic_load_explicit(&otel__t_->stats->field, memory_order_relaxed) + (n), \
                                  memory_order_relaxed);                                                     \
        else                                                                                                 \
            atomic_fetch_add_explicit(&otel__t_->stats->field, (n), memory_order_relaxed);                   \
    } while (0)

struct otel__span_record *otel__pool_take_slow(struct otel__pool *pool, struct otel__thread *t);

/* Takes record |r| out of a returned array: drops the queue's reference, and says whether that
 * was the last one (else the holder of the other one recycles it later). */
bool otel__pool_claim_returned(struct otel__span_record *r);

/* Prefetches the lines of the next span's record that its start writes: the first (bookkeeping,
 * the trace id's first word), the second (context, name, start time) and the fourth (scope, name
 * buffer, arena); the third is written only when the last span set attributes, events or links. A record
 * coming back from the exporting core misses on all of them otherwise: measured about 3 ns per span off
 * start_end's 64-65 (alternating runs), for two more instructions. */
static inline void otel__prefetch_record(const struct otel__span_record *r)
{
    __builtin_prefetch(r, 1, 3);
    __builtin_prefetch((const char *)r + 64, 1, 3);
    __builtin_prefetch((const char *)r + 192, 1, 3);
}

/* A free record when one is at hand without a call (the magazine in use, or the next record of
 * the returned array when the queue's reference is its only one and it holds nothing to
 * release); NULL otherwise, with nothing changed. |t| is the calling thread, bound to a pool. */
static inline __attribute__((always_inline)) struct otel__span_record *
otel__pool_take_fast(struct otel__thread *t)
{
    struct otel__span_record *r = t->head;
    if (__builtin_expect(r != NULL, 1)) {
        struct otel__span_record *next = r->next_free;
        t->head = next;
        t->count--;
        if (next)
            otel__prefetch_record(next);
        return r;
    }
    struct otel__rec_array *a = t->array;
    if (a && a->count) {
        uint32_t n = a->count - 1;
        r = a->recs[n];
        if (__builtin_expect(atomic_load_explicit(&r->box.refs, memory_order_acquire) == 1u &&
                                 !(r->flags & (OTEL__REC_HAS_REFS | OTEL__REC_BIG_ARENA)),
                             1)) {
            a->count = n;
            if (n)
                otel__prefetch_record(a->recs[n - 1]);
            return r;
        }
    }
    return NULL;
}

/* A free record, or NULL when memory runs out. |t| is the calling thread, bound to |pool|. */
static inline struct otel__span_record *otel__pool_take(struct otel__pool *pool, struct otel__thread *t)
{
    struct otel__span_record *r = otel__pool_take_fast(t);
    if (__builtin_expect(r != NULL, 1))
        return r;
    struct otel__rec_array *a = t->array;
    if (a && a->count) {
        r = a->recs[--a->count];
        if (otel__pool_claim_returned(r))
            return r;
    }
    return otel__pool_take_slow(pool, t);
}

void otel__pool_put_slow(struct otel__pool *pool, struct otel__thread *t);

/* Returns a recycled record to the calling thread's magazine. The magazine is swapped out when
 * full before the push, not after: a thread alternating take and put then stays inside one
 * magazine instead of swapping at every span. */
static inline void otel__pool_put(struct otel__pool *pool, struct otel__span_record *rec)
{
    struct otel__thread *t = otel__thread_bind(pool);
    if (__builtin_expect(t->count >= OTEL__POOL_MAGAZINE, 0))
        otel__pool_put_slow(pool, t);
    rec->next_free = t->head;
    t->head = rec;
    t->count++;
}

/* An empty array for a consumer to fill (NULL when memory runs out), and the way back for a
 * filled one. Thread-safety: safe. */
struct otel__rec_array *otel__pool_array_get(struct otel__pool *pool);
void otel__pool_array_put(struct otel__pool *pool, struct otel__rec_array *a);

/* Records allocated so far (for tests and the memory report). */
size_t otel__pool_record_count(struct otel__pool *pool);

/* Sums every thread's counters. */
void otel__pool_sum_stats(struct otel__pool *pool, otel_tracer_provider_stats *out);

#ifdef __cplusplus
}
#endif

#endif
