/* The allocation funnel: every allocation in otelc's libraries goes through these functions, so
 * a test can count allocations or fail the k-th one, and a benchmark can count them. They are
 * internal (otel__ names) but exported from the shared API library because the SDK, exporters and
 * propagators call them too. */
#ifndef OTEL_MEM_H
#define OTEL_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* malloc, calloc, realloc and free through the installed hooks (libc by default). A size of 0
 * is treated as 1 by otel__malloc/otel__calloc so that NULL always means "out of memory".
 * otel__calloc checks |n| * |size| for overflow. otel__free(NULL) does nothing.
 * Thread-safety: safe. */
OTEL_API void *otel__malloc(size_t n);
OTEL_API void *otel__calloc(size_t n, size_t size);
OTEL_API void *otel__realloc(void *p, size_t n);
OTEL_API void otel__free(void *p);

/* A NUL-terminated copy of the first |n| bytes of |s| (which need not be NUL-terminated and may
 * contain NULs; exactly |n| bytes are copied). |s| may be NULL when |n| is 0. NULL on failure.
 * Thread-safety: safe. */
OTEL_API char *otel__strndup(const char *s, size_t n);

/* A per-thread cache of small blocks, in front of the funnel, for objects that the request path
 * creates and drops once per operation (context nodes, trace states). otel__cache_malloc(n)
 * returns a block of at least |n| bytes, from the calling thread's cache when it holds one of
 * |n|'s size class; otel__cache_free(p, n) takes a block that otel__cache_malloc(n) returned
 * (the same |n|, or any |n| of the same size class), on any thread, and keeps it in the calling
 * thread's cache when there is room. Each thread keeps at most OTEL__CACHE_PER_CLASS blocks
 * per class of OTEL__CACHE_CLASS_BYTES-byte steps up to OTEL__CACHE_MAX_BYTES; larger requests
 * go straight to the funnel. A thread's blocks are freed when it exits (a pthread key
 * destructor); after that, its frees go straight to the funnel. Hooks with |no_cache| set
 * bypass the cache entirely (blocks still get their class's size), so allocation-failure tests
 * see, and can fail, every allocation.
 * Thread-safety: safe; each thread uses only its own cache. */
#define OTEL__CACHE_CLASS_BYTES 64
#define OTEL__CACHE_MAX_BYTES 512
#define OTEL__CACHE_PER_CLASS 8
OTEL_API void *otel__cache_malloc(size_t n);
OTEL_API void otel__cache_free(void *p, size_t n);

/* Frees the blocks the calling thread's cache holds (tests and benchmarks).
 * Thread-safety: safe; affects only the calling thread. */
OTEL_API void otel__cache_flush(void);

/* Test hook: the four functions every allocation goes through. |no_cache| (zero by default)
 * makes otel__cache_malloc/otel__cache_free bypass the per-thread cache, so every allocation
 * reaches the hooks. */
typedef struct otel__mem_hooks {
    void *(*malloc_fn)(size_t);
    void *(*calloc_fn)(size_t, size_t);
    void *(*realloc_fn)(void *, size_t);
    void (*free_fn)(void *);
    bool no_cache;
} otel__mem_hooks;

/* Installs |h| (the pointer is kept: |h| must stay valid until replaced, e.g. a static const
 * table; all four function members must be set); NULL restores libc. Memory must be freed by
 * the hooks that allocated it, so install hooks that forward to libc (as the failalloc test
 * helper and the benchmarks do) or install them only while nothing allocated earlier is still
 * alive; blocks kept in a thread's cache are freed later through whatever is installed then
 * (at the latest when the thread exits).
 * Thread-safety: tests only; not safe while other threads allocate. */
OTEL_API void otel__mem_set_hooks(const otel__mem_hooks *h);

#ifdef __cplusplus
}
#endif

#endif
