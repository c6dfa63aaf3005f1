/* Internal interface between the context module (context nodes and the per-thread stack of
 * current frames) and the rest of the API library: the tracer resolves a new span's parent from
 * here, the baggage module reads the current baggage. Not exported. */
#ifndef OTEL_CONTEXT_INTERNAL_H
#define OTEL_CONTEXT_INTERNAL_H

#include <string.h>

#include "otel/baggage.h"
#include "otel/context.h"
#include "otel/impl.h"

/* Every frame keeps what a child span needs as an otel_parent, so starting a span under it
 * passes a pointer to the frame (otel__context_top_parent) instead of a copy. In a span frame,
 * p.span and p.span_context are the span and its context when it was made current,
 * p.trace_state is an owned reference, and p.context is the context object built on demand
 * (owned; NULL until something asks for it). In a context frame everything in p is borrowed
 * from ctx. */
struct otel__frame {
    otel_parent p;
    otel_context *ctx;           /* context frame: the attached context (owned; NULL: empty) */
    const otel_baggage *baggage; /* span frame: the frame below's baggage (borrowed) */
    uint32_t serial;
    bool is_span;
};

/* The references a span frame owns, through the const members of otel_parent. */
#define FRAME_TS(f) ((otel_trace_state *)(uintptr_t)(f)->p.trace_state)
#define FRAME_CTX(f) ((otel_context *)(uintptr_t)(f)->p.context)

struct otel__tls_stack {
    struct otel__frame *frames;
    uint32_t depth;
    uint32_t cap;
    uint32_t serial;
    bool registered; /* the pthread key destructor will run for this thread */
};

/* The calling thread's stack of current frames (context.c). initial-exec: a TLS access is one
 * instruction off the thread pointer, also in the shared library (the struct is small enough for
 * the static TLS surplus glibc keeps for dlopen). */
extern __thread struct otel__tls_stack otel__t_stack __attribute__((tls_model("initial-exec")));

/* A parent with nothing in it (a root span). */
extern const otel_parent otel__no_parent;

/* The parent a span started now on this thread would get: the top frame's (a pointer into the
 * stack, no copy), or no parent when nothing is attached. Borrowed: valid until the thread's
 * stack changes (a make_current, attach or detach may move the frames). Inline for
 * otel_tracer_start_span. No allocation, no lock. */
static inline const otel_parent *otel__context_top_parent(void)
{
    struct otel__tls_stack *s = &otel__t_stack;
    if (s->depth == 0)
        return &otel__no_parent;
    return &s->frames[s->depth - 1].p;
}

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
