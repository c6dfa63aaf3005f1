/* The allocation funnel (see mem.h). By default each call goes straight to libc; tests install
 * hooks to count allocations or fail the k-th one. The hooks pointer is read with one acquire
 * load per call, so installing hooks while other threads allocate is at least not a data race. */
#include "mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static _Atomic(const otel__mem_hooks *) g_hooks;

void *otel__malloc(size_t n)
{
    const otel__mem_hooks *h = atomic_load_explicit(&g_hooks, memory_order_acquire);
    if (n == 0)
        n = 1;
    return h ? h->malloc_fn(n) : malloc(n);
}

void *otel__calloc(size_t n, size_t size)
{
    const otel__mem_hooks *h = atomic_load_explicit(&g_hooks, memory_order_acquire);
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
    const otel__mem_hooks *h = atomic_load_explicit(&g_hooks, memory_order_acquire);
    /* realloc(p, 0) may free p and return NULL, which callers would take for a failure. */
    if (n == 0)
        n = 1;
    return h ? h->realloc_fn(p, n) : realloc(p, n);
}

void otel__free(void *p)
{
    if (!p)
        return;
    const otel__mem_hooks *h = atomic_load_explicit(&g_hooks, memory_order_acquire);
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
    atomic_store_explicit(&g_hooks, h, memory_order_release);
}
