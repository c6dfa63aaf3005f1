/* The slow paths of the Datadog exporter's growable buffer (dd_msgpack.h): growth by doubling
 * through the allocation funnel, and freeing. Everything else is inline in the header so that
 * the encoders' per-field writes compile to a capacity check and a store. */
#include "dd_msgpack.h"

#include "mem.h"

bool otel__dd_buf_grow(struct otel__dd_buf *b, size_t more)
{
    if (b->failed)
        return false;
    if (more <= b->cap - b->len)
        return true;
    if (more > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + more;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = otel__realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void otel__dd_buf_free(struct otel__dd_buf *b)
{
    otel__free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}
