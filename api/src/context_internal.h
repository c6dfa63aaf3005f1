/* Internal interface between the context module (context nodes and the per-thread stack of
 * current frames) and the rest of the API library: the tracer resolves a new span's parent from
 * here, the baggage module reads the current baggage. Not exported. */
#ifndef OTEL_CONTEXT_INTERNAL_H
#define OTEL_CONTEXT_INTERNAL_H

#include "otel/baggage.h"
#include "otel/context.h"
#include "otel/impl.h"

/* Fills |out| with the parent a span started now on this thread would get: the top frame of the
 * thread's stack, or no parent when nothing is attached. Borrowed pointers stay valid while the
 * frame stays attached. No allocation, no lock. */
void otel__context_current_parent(otel_parent *out);

/* Fills |out| from context |ctx| (NULL: no parent). Borrowed pointers live as long as |ctx|. */
void otel__context_parent_from(const otel_context *ctx, otel_parent *out);

/* The baggage of the calling thread's current context, borrowed. */
const otel_baggage *otel__context_current_baggage(void);

#endif
