/* What the SDK (and tests) may use from the API's internals beyond otel/impl.h: the no-op
 * provider and tracer, the global state, and a way to inspect the calling thread's context stack.
 * Keep it small: the SDK should need little more than the public dispatch tables. */
#ifndef OTEL_API_INTERNAL_H
#define OTEL_API_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "otel/context.h"
#include "otel/impl.h"
#include "otel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The process-wide global slot. It is ONE default-visibility data symbol so that when several
 * shared objects each carry a static copy of the API, the dynamic linker binds all of them to a
 * single definition (the first one loaded). Its layout is versioned by the name: any change to
 * it needs a new symbol (otel__global_v2). |provider| is NULL while the no-op provider is
 * global; |epoch| grows on every set, so proxy tracers know when to look up their tracer again. */
struct otel__global_state {
    _Atomic(otel_tracer_provider *) provider;
    _Atomic uint64_t epoch;
};
OTEL_API extern struct otel__global_state otel__global_v1;

/* The built-in no-op provider and tracer (static objects, never freed). The no-op tracer starts
 * non-recording spans that carry a valid parent's context, else OTEL_SPAN_NONE. */
OTEL_API otel_tracer_provider *otel__noop_tracer_provider(void);
OTEL_API otel_tracer *otel__noop_tracer(void);

/* True when |span| is a span of the API's non-recording pool (not an SDK span). */
OTEL_API bool otel__span_is_nonrecording(otel_span span);

/* otel_context_with_span_context() taking over the caller's reference to |trace_state| (may be
 * NULL) instead of retaining it; the reference is released on failure too. An extractor hands
 * over the trace state it has just parsed without a locked increment and decrement. */
OTEL_API otel_status otel__context_with_span_context_owned(const otel_context *parent,
                                                           const otel_span_context *span_context,
                                                           otel_trace_state *trace_state, otel_context **out);

/* The header text "k1=v1,k2=v2" that |ts| keeps (exactly what otel_trace_state_serialize()
 * writes), borrowed for as long as |ts| lives; empty for NULL. Lets an injector hand the text to
 * its carrier without a copy. */
OTEL_API otel_str otel__trace_state_text(const otel_trace_state *ts);

/* Depth of the calling thread's current-context stack (0 when nothing is attached). For tests. */
OTEL_API size_t otel__context_stack_depth(void);

#ifdef __cplusplus
}
#endif

#endif
