/* For SDK implementers only: the dispatch tables behind the opaque API handles. Instrumented
 * code never needs this header. The API resolves the parent of a new span (explicit context,
 * the thread's current context, or none for a root) before it calls the tracer, so an SDK never
 * reads the API's thread state itself. */
#ifndef OTEL_IMPL_H
#define OTEL_IMPL_H

#include "otel/context.h"
#include "otel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Span operations. Each receives the record and the generation from the caller's handle and
 * must do nothing (return false / an invalid context) when the generation no longer matches:
 * the record may serve another span by then. Records must never be freed while a stale handle
 * could still reach them (pool them for the provider's lifetime). */
struct otel_span_ops {
    void (*set_attrs)(struct otel_span_impl *span, uint64_t gen, const otel_attr *attrs, size_t count);
    void (*add_event)(struct otel_span_impl *span, uint64_t gen, otel_str name, int64_t time_ns,
                      const otel_attr *attrs, size_t attr_count);
    void (*add_link)(struct otel_span_impl *span, uint64_t gen, const otel_link *link);
    void (*set_status)(struct otel_span_impl *span, uint64_t gen, otel_span_status_code code,
                       otel_str description);
    void (*update_name)(struct otel_span_impl *span, uint64_t gen, otel_str name);
    bool (*is_recording)(struct otel_span_impl *span, uint64_t gen);
    /* Stores the context and returns true, or returns false for a stale handle. */
    bool (*get_context)(struct otel_span_impl *span, uint64_t gen, otel_span_context *out);
    /* A new reference, or NULL. */
    otel_trace_state *(*get_trace_state)(struct otel_span_impl *span, uint64_t gen);
    /* |end_time_ns| is as the caller gave it: 0 means "now", read with the implementation's
     * own clock (which may be a monotonic delta from the start time). */
    void (*end)(struct otel_span_impl *span, uint64_t gen, int64_t end_time_ns);
    /* Optional (NULL: the API calls get_context, then get_trace_state): both in one call, for
     * otel_span_make_current. Stores the context and a new trace-state reference (NULL when the
     * span has none) and returns true, or returns false for a stale handle. */
    bool (*snapshot)(struct otel_span_impl *span, uint64_t gen, otel_span_context *out,
                     otel_trace_state **trace_state_out);
};

/* The first member of every span record. */
struct otel_span_impl {
    const struct otel_span_ops *ops;
};

/* The parent of a span being started, resolved by the API. */
typedef struct otel_parent {
    otel_span_context span_context;      /* all zero: no parent (a root span) */
    const otel_trace_state *trace_state; /* borrowed for the call; may be NULL */
    otel_span span;                      /* the local parent's handle, or OTEL_SPAN_NONE */
    const otel_context *context;         /* the parent context when one exists as an object;
                                          * may be NULL even when there is a parent */
} otel_parent;

struct otel_tracer_ops {
    /* |parent| is never NULL. It and the pointers in it are borrowed for the call and may point
     * into the calling thread's context stack: an implementation that calls out to user code
     * (samplers, processors' on_start) which could attach or detach contexts copies the struct
     * first. */
    otel_span (*start_span)(otel_tracer *tracer, otel_str name, const otel_span_start_options *opts,
                            const otel_parent *parent);
    bool (*enabled)(otel_tracer *tracer);
};

/* The first member of every tracer. */
struct otel_tracer {
    const struct otel_tracer_ops *ops;
};

struct otel_tracer_provider_ops {
    otel_tracer *(*get_tracer)(otel_tracer_provider *tp, otel_str name, const otel_tracer_options *opts);
};

/* The first member of every tracer provider. */
struct otel_tracer_provider {
    const struct otel_tracer_provider_ops *ops;
};

/* A non-recording span that carries |sc| (and a reference to |trace_state|), the span an SDK
 * returns when it decides not to record, or when it has been shut down. Returns OTEL_SPAN_NONE
 * when |sc| is invalid. Uses the API's own small pool; ending the span returns it there.
 * Thread-safety: safe. */
OTEL_API otel_span otel_nonrecording_span_create(const otel_span_context *sc,
                                                 const otel_trace_state *trace_state);

/* Makes the no-op provider global again, but only if |tp| is the global one now. Returns true
 * when it did. SDKs call this when destroying a provider. Thread-safety: safe. */
OTEL_API bool otel_global_unset_tracer_provider(otel_tracer_provider *tp);

#ifdef __cplusplus
}
#endif

#endif
