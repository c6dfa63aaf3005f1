/* The per-span arena: copied strings and arrays of one span are bump-allocated from chunks that
 * stay with the span record when it is recycled, so spans in steady state allocate nothing.
 * Only the owner of the record (the thread holding its lock, or the one recycling it) uses it. */
#include <string.h>

#include "mem.h"
#include "span.h"

#define CHUNK_HEADER OTEL__ARENA_CHUNK_HEADER

static inline char *chunk_data(struct otel__arena_chunk *c)
{
    return (char *)c + CHUNK_HEADER;
}

static void *chunk_take(struct otel__arena_chunk *c, size_t size, size_t align)
{
    size_t off = (c->used + (align - 1)) & ~(align - 1);
    if (off > c->cap || c->cap - off < size)
        return NULL;
    c->used = (uint32_t)(off + size);
    return chunk_data(c) + off;
}

void *otel__arena_alloc_slow(struct otel__arena *a, size_t size, size_t align)
{
    /* Later chunks are empty (reset or rollback emptied them): move on to them first. */
    for (struct otel__arena_chunk *c = a->cur; c; c = c->next) {
        void *p = chunk_take(c, size, align);
        if (p) {
            a->cur = c;
            return p;
        }
    }
    size_t total = otel__arena_total_cap(a);
    if (size > OTEL__ARENA_MAX_BYTES || total + size > OTEL__ARENA_MAX_BYTES)
        return NULL;
    /* Chunks double, so a span with much text needs few of them; a chunk made for a request
     * that does not fit keeps some room for what usually follows it. Sizes count the header,
     * so each allocation is about a malloc size class. */
    size_t bytes = OTEL__ARENA_FIRST_CHUNK;
    struct otel__arena_chunk *last = a->head;
    while (last && last->next)
        last = last->next;
    if (last && (last->cap + CHUNK_HEADER) * 2 > bytes)
        bytes = (last->cap + CHUNK_HEADER) * 2;
    if (bytes > 64u * 1024u)
        bytes = 64u * 1024u;
    if (bytes < CHUNK_HEADER + size + align)
        bytes = CHUNK_HEADER + size + align + 2 * OTEL__ARENA_FIRST_CHUNK;
    size_t cap = bytes - CHUNK_HEADER;
    struct otel__arena_chunk *c = otel__malloc(CHUNK_HEADER + cap);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = (uint32_t)cap;
    c->used = 0;
    c->unused = 0;
    if (last)
        last->next = c;
    else
        a->head = c;
    a->head->total_cap = (uint32_t)(total + cap);
    a->cur = c;
    return chunk_take(c, size, align);
}

void otel__arena_rollback(struct otel__arena *a, struct otel__arena_mark m)
{
    struct otel__arena_chunk *c = m.cur ? m.cur : a->head;
    if (!c)
        return;
    c->used = m.cur ? m.used : 0;
    for (struct otel__arena_chunk *n = c->next; n; n = n->next)
        n->used = 0;
    a->cur = c;
}

void otel__arena_reset_slow(struct otel__arena *a)
{
    size_t kept = 0;
    struct otel__arena_chunk **link = &a->head;
    while (*link) {
        struct otel__arena_chunk *c = *link;
        if (kept + c->cap > OTEL__ARENA_KEEP_BYTES) {
            /* Free this one and everything after it. */
            *link = NULL;
            while (c) {
                struct otel__arena_chunk *next = c->next;
                otel__free(c);
                c = next;
            }
            break;
        }
        kept += c->cap;
        c->used = 0;
        link = &c->next;
    }
    if (a->head)
        a->head->total_cap = (uint32_t)kept;
    a->cur = a->head;
}

void otel__arena_free(struct otel__arena *a)
{
    struct otel__arena_chunk *c = a->head;
    while (c) {
        struct otel__arena_chunk *next = c->next;
        otel__free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = NULL;
}
