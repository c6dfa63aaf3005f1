/* The allocation funnel: every allocation in otelc's libraries goes through these functions, so
 * a test can count allocations or fail the k-th one, and a benchmark can count them. They are
 * internal (otel__ names) but exported from the shared API library because the SDK, exporters and
 * propagators call them too. */
#ifndef OTEL_MEM_H
#define OTEL_MEM_H

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

/* Test hook: the four functions every allocation goes through. */
typedef struct otel__mem_hooks {
    void *(*malloc_fn)(size_t);
    void *(*calloc_fn)(size_t, size_t);
    void *(*realloc_fn)(void *, size_t);
    void (*free_fn)(void *);
} otel__mem_hooks;

/* Installs |h| (the pointer is kept: |h| must stay valid until replaced, e.g. a static const
 * table; all four members must be set); NULL restores libc. Memory must be freed by
 * the hooks that allocated it, so install hooks that forward to libc (as the failalloc test
 * helper does) or install them only while nothing allocated earlier is still alive.
 * Thread-safety: tests only; not safe while other threads allocate. */
OTEL_API void otel__mem_set_hooks(const otel__mem_hooks *h);

#ifdef __cplusplus
}
#endif

#endif
