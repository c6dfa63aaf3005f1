/* Deep copies into one block, in two passes over the same code: first with no block to measure
 * the size, then into the block. Used by otel_span_data_clone() and for tracer scopes. */
#ifndef OTEL_SDK_COPY_H
#define OTEL_SDK_COPY_H

#include <stddef.h>

#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* |base| NULL: measuring (every placement returns NULL and only |off| grows). */
struct otel__bump {
    char *base;
    size_t off;
};

static inline void *otel__bump_alloc(struct otel__bump *b, size_t size, size_t align)
{
    b->off = (b->off + (align - 1)) & ~(align - 1);
    void *p = b->base ? b->base + b->off : NULL;
    b->off += size;
    return p;
}

/* A NUL-terminated copy of |s|; {NULL, len} while measuring. */
otel_str otel__bump_str(struct otel__bump *b, otel_str s);
/* A copy of |v| (strings, arrays and their strings); pointers NULL while measuring. */
otel_value otel__bump_value(struct otel__bump *b, const otel_value *v);
/* A copy of |n| attributes; NULL while measuring or when |n| is 0. */
const otel_attr *otel__bump_attrs(struct otel__bump *b, const otel_attr *src, size_t n);

/* Equality of two attribute values (same type and contents). */
bool otel__value_eq(const otel_value *a, const otel_value *b);

#ifdef __cplusplus
}
#endif

#endif
