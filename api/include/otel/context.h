/* Contexts: immutable key/value maps that carry the active span, the baggage and any value an
 * instrumentation library wants to pass along a request. Each thread has a current context;
 * attaching a context (or a span, cheaply) returns a token that detaches it again. To hand work
 * to another thread, take a reference to a context and attach it on that thread. */
#ifndef OTEL_CONTEXT_H
#define OTEL_CONTEXT_H

#include "otel/common.h"
#include "otel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* typedef struct otel_context otel_context; -- declared in otel/trace.h.
 * Immutable and reference-counted. NULL is the empty (root) context and is accepted wherever a
 * context is read here. (Where a function takes an optional context to act on, such as
 * otel_span_start_options.parent or otel_propagator_inject(), NULL means the calling thread's
 * current context instead; each says so.) */

typedef struct otel_baggage otel_baggage; /* see otel/baggage.h */

/* A context key is the address of a static object: declare one per purpose,
 *     static const otel_context_key request_key = { "my_lib.request" };
 * Two keys never collide, whatever their names; the name only helps debugging. */
typedef struct otel_context_key {
    const char *name;
} otel_context_key;

/* Returns |ctx| with one more reference (NULL stays NULL). Thread-safety: safe. */
OTEL_API otel_context *otel_context_retain(const otel_context *ctx);

/* Drops one reference; on the last, destroys the context and calls the destroy callbacks of the
 * values it alone held. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_context_release(const otel_context *ctx);

/* A new context: |parent| plus |key| -> |value|. The new context owns |value| from the moment
 * the call succeeds and calls |destroy|(value) (if not NULL) when the last context holding it
 * goes away; on failure ownership stays with the caller. *out receives a new reference.
 * Errors: OTEL_ERR_INVALID_ARG (NULL key or out), OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_context_with_value(const otel_context *parent, const otel_context_key *key,
                                             void *value, void (*destroy)(void *value), otel_context **out);

/* The value stored under |key| in |ctx| or its ancestors, or NULL. The pointer stays valid as
 * long as |ctx| does. Thread-safety: safe. */
OTEL_API void *otel_context_get_value(const otel_context *ctx, const otel_context_key *key);

/* A new context: |parent| with |span| as the active span. The span's context (ids, flags and
 * trace state) is copied in, so children can still be started from it after the span ended.
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_context_with_span(const otel_context *parent, otel_span span, otel_context **out);

/* A new context: |parent| with a span context that has no local span, typically one a
 * propagator extracted (set is_remote). |trace_state| is retained (may be NULL).
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_context_with_span_context(const otel_context *parent,
                                                    const otel_span_context *span_context,
                                                    const otel_trace_state *trace_state, otel_context **out);

/* The active span's handle in |ctx|; OTEL_SPAN_NONE when there is none. For a span context
 * without a local span (extracted from a carrier) it is a non-recording span wrapping that span
 * context, valid as long as |ctx|. Thread-safety: safe. */
OTEL_API otel_span otel_context_get_span(const otel_context *ctx);

/* The active span's context in |ctx| (valid even after that span ended); all zero when none.
 * Thread-safety: safe. */
OTEL_API otel_span_context otel_context_get_span_context(const otel_context *ctx);

/* The active span's trace state in |ctx|, borrowed: valid as long as |ctx|. May be NULL.
 * Thread-safety: safe. */
OTEL_API const otel_trace_state *otel_context_get_trace_state(const otel_context *ctx);

/* A new context: |parent| with |baggage| (retained; NULL removes the baggage).
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_context_with_baggage(const otel_context *parent, const otel_baggage *baggage,
                                               otel_context **out);

/* The baggage in |ctx|, borrowed: valid as long as |ctx|. NULL when none. Thread-safety: safe. */
OTEL_API const otel_baggage *otel_context_get_baggage(const otel_context *ctx);

/* ---------------------------------------------------------------------------------------------
 * The current context of the calling thread
 * ------------------------------------------------------------------------------------------- */

/* Identifies one attach. Zero is never a valid token. */
typedef uint64_t otel_context_token;

/* A new reference to the calling thread's current context (NULL when it is the empty context).
 * Release it with otel_context_release(). Pass it to another thread and attach it there to
 * continue the same trace. Thread-safety: safe; reads only the calling thread's state. */
OTEL_API otel_context *otel_context_current(void);

/* Makes |ctx| current on the calling thread (it is retained while attached) and returns the
 * token that undoes it. Returns 0 only when memory runs out (diagnostic given; nothing changed).
 * Thread-safety: affects only the calling thread. */
OTEL_API otel_context_token otel_context_attach(const otel_context *ctx);

/* Restores the context that was current before the attach that returned |token|, on the thread
 * that made it. Detaching out of order is reported with a diagnostic: when |token| is an older
 * attach of this thread, everything attached after it is detached too and OTEL_ERR_INVALID_ARG is
 * returned; an unknown token (another thread's, already detached, 0) changes nothing and returns
 * OTEL_ERR_INVALID_ARG. Thread-safety: affects only the calling thread. */
OTEL_API otel_status otel_context_detach(otel_context_token token);

/* Makes |span| the active span of the calling thread's current context, without allocating a
 * context; detach with otel_context_detach(). The cheap way to nest spans:
 *     otel_span s = otel_tracer_start_span(t, OTEL_STR("work"), NULL);
 *     otel_context_token tok = otel_span_make_current(s);
 *     ... children started here get |s| as parent ...
 *     otel_context_detach(tok);
 *     otel_span_end(s);
 * Returns 0 only when memory runs out. Thread-safety: affects only the calling thread. */
OTEL_API otel_context_token otel_span_make_current(otel_span span);

/* The active span of the calling thread's current context (OTEL_SPAN_NONE when none).
 * Thread-safety: safe. */
OTEL_API otel_span otel_span_current(void);

/* The context of the calling thread's active span; all zero when none. Thread-safety: safe. */
OTEL_API otel_span_context otel_span_current_context(void);

#ifdef __cplusplus
}
#endif

#endif
