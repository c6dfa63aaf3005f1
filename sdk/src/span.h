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

#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

struct otel__provider;

/* ---------------------------------------------------------------------------------------------
 * Arena: bump allocation of copied strings and arrays, in chunks that stay with the record when
 * it is recycled (up to OTEL__ARENA_KEEP_BYTES), so a steady stream of spans allocates nothing.
 * ------------------------------------------------------------------------------------------- */

#define OTEL__ARENA_FIRST_CHUNK 512u
#define OTEL__ARENA_KEEP_BYTES 4096u
/* A span whose copies pass this size drops further attributes (counted): the bound on memory a
 * runaway loop of set_attr calls with ever-new strings can take. */
#define OTEL__ARENA_MAX_BYTES (8u * 1024u * 1024u)

struct otel__arena_chunk {
    struct otel__arena_chunk *next;
    size_t cap;
    size_t used;
    /* cap bytes follow, 8-byte aligned */
};

struct otel__arena {
    struct otel__arena_chunk *head; /* chunks in allocation order */
    struct otel__arena_chunk *cur;  /* the chunk being filled; later ones are empty */
    size_t total_cap;
};

/* A position to roll back to when a multi-part copy fails half-way. */
struct otel__arena_mark {
    struct otel__arena_chunk *cur;
    size_t used;
};

/* |size| bytes aligned to |align| (1, 2, 4 or 8); NULL when memory runs out or the arena reached
 * OTEL__ARENA_MAX_BYTES. */
void *otel__arena_alloc(struct otel__arena *a, size_t size, size_t align);
/* A NUL-terminated copy of |len| bytes of |s|. */
char *otel__arena_strdup(struct otel__arena *a, const char *s, size_t len);
struct otel__arena_mark otel__arena_mark(const struct otel__arena *a);
void otel__arena_rollback(struct otel__arena *a, struct otel__arena_mark m);
/* Empties the arena for the next span, keeping the first chunks up to OTEL__ARENA_KEEP_BYTES. */
void otel__arena_reset(struct otel__arena *a);
/* Frees every chunk. */
void otel__arena_free(struct otel__arena *a);

/* ---------------------------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------------------------- */

/* A plain record is about 580 bytes on x86-64 (eight inline attributes are 320 of them; the
 * test_span_record_memory_footprint test guards the size); its first arena chunk,
 * OTEL__ARENA_FIRST_CHUNK bytes, is allocated on the first copy and kept across reuse. */
#define OTEL__SPAN_INLINE_ATTRS 8u

enum otel__record_state {
    OTEL__REC_FREE = 0,      /* in the pool */
    OTEL__REC_RECORDING = 1, /* started, handle live */
    OTEL__REC_ENDED = 2,     /* ended, lent to processors or retained by them */
};

enum otel__box_kind {
    OTEL__BOX_RECORD = 1,
    OTEL__BOX_CLONE = 2,
};

/* What otel_span_data_retain/release find in front of an otel_span_data, both in a record and in
 * a clone, so retain and release work on either. */
struct otel__span_data_box {
    _Atomic uint32_t refs;
    uint32_t kind; /* enum otel__box_kind */
    otel_span_data data;
};

struct otel__span_record {
    struct otel_span_impl impl; /* first: the API dispatches through impl.ops */
    /* The handle generation: bumped by end, so every older handle is dead. */
    _Atomic uint64_t gen;
    /* Guards the mutable fields below while the span records (state, data, arrays, arena). */
    _Atomic uint32_t lock;
    uint8_t state;        /* enum otel__record_state */
    bool has_mono_start;  /* start_mono_ns is valid: end time = start + monotonic delta */
    bool name_copied;     /* data.name lives in the arena (may be overwritten in place) */
    uint32_t attr_cap;    /* capacity of data.attrs */
    uint32_t event_cap;
    uint32_t link_cap;
    int64_t start_mono_ns;
    struct otel__provider *provider;
    struct otel__span_record *next_free;
    struct otel__arena arena;
    struct otel__span_data_box box; /* box.data is what processors and exporters see */
    otel_attr inline_attrs[OTEL__SPAN_INLINE_ATTRS];
};

#define OTEL__RECORD_FROM_IMPL(p) ((struct otel__span_record *)(void *)(p))

extern const struct otel_span_ops otel__span_ops;

/* Tiny spin lock: spans are locked for a few hundred nanoseconds at most and never across a
 * call into user code, so a futex-backed mutex would only add size. */
static inline void otel__spin_lock(_Atomic uint32_t *l)
{
    for (;;) {
        if (!atomic_exchange_explicit(l, 1u, memory_order_acquire))
            return;
        while (atomic_load_explicit(l, memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            __asm__ __volatile__("yield");
#endif
        }
    }
}

static inline void otel__spin_unlock(_Atomic uint32_t *l)
{
    atomic_store_explicit(l, 0u, memory_order_release);
}

/* Gives |rec| back to its pool after its last reference went away: releases its trace states,
 * resets its fields and keeps its first arena chunks. */
void otel__span_record_recycle(struct otel__span_record *rec);
/* Releases what |rec| holds, whatever its state (provider destroy). */
void otel__span_record_cleanup(struct otel__span_record *rec);

/* Drops one reference to an ended record; the last one recycles it. */
void otel__span_record_release(struct otel__span_record *rec);

/* ---------------------------------------------------------------------------------------------
 * Pool: per provider, records allocated in slabs and never freed before the provider, so stale
 * handles always point at valid memory. Each thread keeps a small cache per provider and trades
 * with the shared list in batches under the pool's mutex.
 * ------------------------------------------------------------------------------------------- */

#define OTEL__POOL_SLAB_RECORDS 64u
#define OTEL__POOL_BATCH 32u       /* records moved between a thread cache and the shared list */
#define OTEL__POOL_CACHE_MAX 64u   /* a thread cache above this gives a batch back */

struct otel__pool_slab;

struct otel__pool {
    pthread_mutex_t lock;
    struct otel__span_record *free_list; /* shared free records */
    size_t free_count;
    struct otel__pool_slab *slabs;
    size_t slab_count;
    uint64_t serial; /* process-unique, never reused: names the pool in thread caches */
    struct otel__provider *provider;
    struct otel__pool *registry_next;
};

otel_status otel__pool_init(struct otel__pool *pool, struct otel__provider *provider);
/* Frees every slab and what each record holds. No thread may use the pool any more. */
void otel__pool_destroy(struct otel__pool *pool);
/* A free record, or NULL when memory runs out. */
struct otel__span_record *otel__pool_take(struct otel__pool *pool);
/* Returns a recycled record. */
void otel__pool_put(struct otel__pool *pool, struct otel__span_record *rec);
/* Records allocated so far (for tests and the memory report). */
size_t otel__pool_record_count(struct otel__pool *pool);

#ifdef __cplusplus
}
#endif

#endif
