/* Internal interface between the context module (context nodes and the per-thread stack of
 * current frames) and the rest of the API library: the tracer resolves a new span's parent from
 * here, the baggage module reads the current baggage. Not exported. */
#ifndef OTEL_CONTEXT_INTERNAL_H
#define OTEL_CONTEXT_INTERNAL_H

#include <string.h>

#include "otel/baggage.h"
#include "otel/context.h"
#include "otel/impl.h"

/* The parent a span started now on this thread would get: the top frame of the thread's stack,
 * or no parent when nothing is attached. Returns a pointer into the stack when the top frame is
 * a span (no copy), else fills and returns |scratch|. The result and the pointers in it are
 * borrowed: valid until the thread's stack changes (a make_current, attach or detach, which
 * may move the frames). No allocation, no lock. */
const otel_parent *otel__context_current_parent_ref(otel_parent *scratch);

/* A parent with nothing in it (a root span). */
extern const otel_parent otel__no_parent;

/* The span's context and a new reference to its trace state (NULL when it has none), through
 * its ops; an invalid context and NULL for OTEL_SPAN_NONE or a stale handle. */
static inline void otel__span_snapshot(otel_span span, otel_span_context *sc, otel_trace_state **ts)
{
    *ts = NULL;
    if (span.impl) {
        const struct otel_span_ops *ops = span.impl->ops;
        if (ops->snapshot) {
            if (ops->snapshot(span.impl, span.gen, sc, ts))
                return;
            *ts = NULL;
        } else if (ops->get_context && ops->get_context(span.impl, span.gen, sc)) {
            if (ops->get_trace_state)
                *ts = ops->get_trace_state(span.impl, span.gen);
            return;
        }
    }
    memset(sc, 0, sizeof(*sc));
}

/* Fills |out| from context |ctx| (NULL: no parent). Borrowed pointers live as long as |ctx|. */
void otel__context_parent_from(const otel_context *ctx, otel_parent *out);

/* The baggage of the calling thread's current context, borrowed. */
const otel_baggage *otel__context_current_baggage(void);

#endif
