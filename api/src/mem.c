/* The allocation funnel (see mem.h). By default each call goes straight to libc; tests install
 * hooks to count allocations or fail the k-th one. The hooks pointer is read with one acquire
 * load per call, so installing hooks while other threads allocate is at least not a data race.
 * In front of it, a small per-thread cache of fixed-size blocks lets the request path (context
 * nodes, trace states) reuse what the previous request freed without a malloc/free pair. */
#include "mem.h"

#include "block_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

_Atomic(const otel__mem_hooks *) otel__g_mem_hooks;

void *otel__malloc(size_t n)
{
    const otel__mem_hooks *h = atomic_load_explicit(&otel__g_mem_hooks, memory_order_acquire);
    if (n == 0)
        n = 1;
    return h ? h->malloc_fn(n) : malloc(n);
}

void *otel__calloc(size_t n, size_t size)
{
    const otel__mem_hooks *h = atomic_load_explicit(&otel__g_mem_hooks, memory_order_acquire);
    if (n == 0 || size == 0) {
        n = 1;
        size = 1;
    }
    if (n > SIZE_MAX / size)
        return NULL;
    return h ? h->calloc_fn(n, size) : calloc(n, size);
}

void *otel__realloc(void *p, size_t n)
{
    const otel__mem_hooks *h = atomic_load_explicit(&otel__g_mem_hooks, memory_order_acquire);
    /* realloc(p, 0) may free p and return NULL, which callers would take for a failure. */
    if (n == 0)
        n = 1;
    return h ? h->realloc_fn(p, n) : realloc(p, n);
}

void otel__free(void *p)
{
    if (!p)
        return;
    const otel__mem_hooks *h = atomic_load_explicit(&otel__g_mem_hooks, memory_order_acquire);
    if (h)
        h->free_fn(p);
    else
        free(p);
}

char *otel__strndup(const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = otel__malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void otel__mem_set_hooks(const otel__mem_hooks *h)
{
    atomic_store_explicit(&otel__g_mem_hooks, h, memory_order_release);
}

/* ---------------------------------------------------------------------------------------------
 * Per-thread block cache
 *
 * One LIFO list per size class. Blocks freed on another thread than the one that allocated them
 * go to the freeing thread's cache (or to free() when it is full), so a thread's cache holds at
 * most OTEL__CACHE_PER_CLASS blocks of each class whatever the traffic between threads. A thread
 * registers a pthread key destructor the first time it keeps a block; the destructor frees the
 * blocks and marks the cache dead, so frees made later in the thread's exit (other keys'
 * destructors releasing contexts) go straight to the funnel instead of being stranded.
 * ------------------------------------------------------------------------------------------- */

#define CACHE_CLASSES OTEL__CACHE_CLASSES

/* The state block_cache.h's inline fast paths reach. */
__thread struct otel__block_cache otel__t_block_cache __attribute__((tls_model("initial-exec")));

static pthread_key_t g_cache_key;
static pthread_once_t g_cache_key_once = PTHREAD_ONCE_INIT;
static bool g_cache_key_ok;

static void cache_drain(struct otel__block_cache *c)
{
    for (size_t k = 0; k < CACHE_CLASSES; k++) {
        struct otel__cache_block *b = c->head[k];
        c->head[k] = NULL;
        c->count[k] = 0;
        while (b) {
            struct otel__cache_block *next = b->next;
            otel__free(b);
            b = next;
        }
    }
}

static void cache_thread_exit(void *arg)
{
    struct otel__block_cache *c = arg;
    c->state = OTEL__CACHE_DEAD;
    cache_drain(c);
}

static void make_cache_key(void)
{
    g_cache_key_ok = pthread_key_create(&g_cache_key, cache_thread_exit) == 0;
}

/* Registers the thread-exit cleanup; false when the cache must not keep blocks. */
static bool cache_register(struct otel__block_cache *c)
{
    if (c->state == OTEL__CACHE_UNREGISTERED) {
        pthread_once(&g_cache_key_once, make_cache_key);
        c->state =
            g_cache_key_ok && pthread_setspecific(g_cache_key, c) == 0 ? OTEL__CACHE_LIVE : OTEL__CACHE_DEAD;
    }
    return c->state == OTEL__CACHE_LIVE;
}

void *otel__cache_malloc(size_t n)
{
    if (n == 0)
        n = 1;
    if (n > OTEL__CACHE_MAX_BYTES)
        return otel__malloc(n);
    size_t k = (n - 1) / OTEL__CACHE_CLASS_BYTES;
    void *b = otel__cache_pop(k);
    if (b)
        return b;
    /* Every block gets its class's full size: it may serve any request of the class later. */
    return otel__malloc((k + 1) * OTEL__CACHE_CLASS_BYTES);
}

void otel__cache_free(void *p, size_t n)
{
    if (!p)
        return;
    if (n == 0)
        n = 1;
    if (n <= OTEL__CACHE_MAX_BYTES) {
        size_t k = (n - 1) / OTEL__CACHE_CLASS_BYTES;
        struct otel__block_cache *c = &otel__t_block_cache;
        if (c->count[k] < OTEL__CACHE_PER_CLASS && !otel__cache_bypassed() &&
            (c->state == OTEL__CACHE_LIVE || cache_register(c))) {
            struct otel__cache_block *b = p;
            b->next = c->head[k];
            c->head[k] = b;
            c->count[k]++;
            return;
        }
    }
    otel__free(p);
}

void otel__cache_flush(void)
{
    cache_drain(&otel__t_block_cache);
}
