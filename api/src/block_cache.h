/* Inline fast paths of the per-thread block cache (otel__cache_malloc/otel__cache_free, mem.h)
 * for the API library's own request-path objects: context nodes and trace states. Only files of
 * api/src may include this header: it reaches the cache's thread-local state and the hooks
 * pointer of mem.c directly, which are hidden inside the API library. */
#ifndef OTEL_BLOCK_CACHE_H
#define OTEL_BLOCK_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

#define OTEL__CACHE_CLASSES (OTEL__CACHE_MAX_BYTES / OTEL__CACHE_CLASS_BYTES)

enum otel__cache_state {
    OTEL__CACHE_UNREGISTERED = 0,
    OTEL__CACHE_LIVE,
    OTEL__CACHE_DEAD, /* the thread is exiting, or the destructor could not be registered */
};

struct otel__cache_block {
    struct otel__cache_block *next;
};

struct otel__block_cache {
    struct otel__cache_block *head[OTEL__CACHE_CLASSES];
    uint8_t count[OTEL__CACHE_CLASSES];
    uint8_t state; /* enum otel__cache_state */
};

/* Defined in mem.c. initial-exec: one instruction off the thread pointer, as for the context
 * stack. */
extern __thread struct otel__block_cache otel__t_block_cache
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
extern _Atomic(const otel__mem_hooks *) otel__g_mem_hooks __attribute__((visibility("hidden")));

static inline bool otel__cache_bypassed(void)
{
    const otel__mem_hooks *h = atomic_load_explicit(&otel__g_mem_hooks, memory_order_acquire);
    return h && h->no_cache;
}

/* A cached block of class |k| from the calling thread's cache, or NULL. */
static inline void *otel__cache_pop(size_t k)
{
    struct otel__block_cache *c = &otel__t_block_cache;
    struct otel__cache_block *b = c->head[k];
    if (!b || otel__cache_bypassed())
        return NULL;
    c->head[k] = b->next;
    c->count[k]--;
    return b;
}

/* otel__cache_malloc(n): a cached block of |n|'s class when the thread has one. */
static inline void *otel__cache_take(size_t n)
{
    if (n - 1 < OTEL__CACHE_MAX_BYTES) {
        void *b = otel__cache_pop((n - 1) / OTEL__CACHE_CLASS_BYTES);
        if (b)
            return b;
    }
    return otel__cache_malloc(n);
}

/* otel__cache_free(p, n): keeps |p| in the thread's cache when it has room. */
static inline void otel__cache_give(void *p, size_t n)
{
    if (p && n - 1 < OTEL__CACHE_MAX_BYTES) {
        size_t k = (n - 1) / OTEL__CACHE_CLASS_BYTES;
        struct otel__block_cache *c = &otel__t_block_cache;
        if (c->state == OTEL__CACHE_LIVE && c->count[k] < OTEL__CACHE_PER_CLASS && !otel__cache_bypassed()) {
            struct otel__cache_block *b = p;
            b->next = c->head[k];
            c->head[k] = b;
            c->count[k]++;
            return;
        }
    }
    otel__cache_free(p, n);
}

#endif
