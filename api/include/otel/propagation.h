/* The propagation interface: how a context is written into and read from the headers of a
 * request. A carrier is three callbacks over whatever header store the program has (an array
 * of name/value pairs, libmicrohttpd's connection, an nghttp2 header list, a curl slist). A
 * propagator is a set of callbacks too; the propagators library provides W3C tracecontext and
 * baggage, B3, Jaeger, Datadog and the composite. The global propagator lets instrumentation
 * inject and extract without knowing which formats are configured. */
#ifndef OTEL_PROPAGATION_H
#define OTEL_PROPAGATION_H

#include "otel/common.h"
#include "otel/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reading side of a carrier. Header names must be matched case-insensitively.
 * |get| stores up to |cap| values of header |name| (several lines of one header are separate
 * values) into |values| and returns how many the carrier has in all (may exceed |cap|). Values
 * must stay valid until extract returns.
 * |key_at| (may be NULL) stores the name of header |index| and returns false past the end; used
 * by formats with prefixed keys (uberctx-*). */
typedef struct otel_carrier_reader {
    size_t (*get)(void *user_data, otel_str name, otel_str *values, size_t cap);
    bool (*key_at)(void *user_data, size_t index, otel_str *name);
    void *user_data;
} otel_carrier_reader;

/* Writing side: |set| stores header |name| = |value| (both valid only during the call; copy
 * them), replacing an existing header of that name. */
typedef struct otel_carrier_writer {
    void (*set)(void *user_data, otel_str name, otel_str value);
    void *user_data;
} otel_carrier_writer;

/* A propagator. |inject| writes what |ctx| holds (nothing when it holds nothing of its kind).
 * |extract| returns a new reference: |ctx| plus what the carrier holds, or a new reference to
 * |ctx| itself when the carrier holds nothing valid (never NULL unless |ctx| is NULL and nothing
 * was found). Extraction must never trust the carrier: malformed input is ignored (a debug
 * diagnostic at most). |fields| lists the header names it may write, for carriers that must
 * pre-clear them; it returns the count and stores up to |cap| names (static strings).
 * |destroy| (may be NULL) frees |user_data|. All callbacks must be safe to call concurrently. */
typedef struct otel_propagator {
    void (*inject)(void *user_data, const otel_context *ctx, const otel_carrier_writer *carrier);
    otel_context *(*extract)(void *user_data, const otel_context *ctx, const otel_carrier_reader *carrier);
    size_t (*fields)(void *user_data, otel_str *names, size_t cap);
    void (*destroy)(void *user_data);
    void *user_data;
} otel_propagator;

/* Injects |ctx| (NULL: the calling thread's current context) with |p|. NULL |p| or carrier does
 * nothing. Thread-safety: safe. */
OTEL_API void otel_propagator_inject(const otel_propagator *p, const otel_context *ctx,
                                     const otel_carrier_writer *carrier);

/* Extracts from |carrier| with |p| on top of |ctx| (NULL: the empty context, as servers want for
 * an incoming request). Returns a new reference (NULL means the empty context). NULL |p| returns
 * a new reference to |ctx|. Thread-safety: safe. */
OTEL_API otel_context *otel_propagator_extract(const otel_propagator *p, const otel_context *ctx,
                                               const otel_carrier_reader *carrier);

/* The global propagator: a no-op until one is set. The returned pointer stays valid until
 * otel_global_propagator_shutdown() (replaced propagators are kept, not destroyed, until then).
 * Thread-safety: safe. */
OTEL_API const otel_propagator *otel_global_propagator(void);

/* Installs |p| (copied; the global now owns p->user_data and calls p->destroy at
 * otel_global_propagator_shutdown(); a replaced propagator stays alive until then, so threads
 * still using it are safe). NULL installs the no-op. Thread-safety: safe. */
OTEL_API void otel_global_set_propagator(const otel_propagator *p);

/* otel_propagator_inject() / otel_propagator_extract() with the global propagator.
 * Thread-safety: safe. */
OTEL_API void otel_global_inject(const otel_context *ctx, const otel_carrier_writer *carrier);
OTEL_API otel_context *otel_global_extract(const otel_context *ctx, const otel_carrier_reader *carrier);

/* Destroys the installed global propagator and installs the no-op. For the end of main() and
 * for tests. Thread-safety: as otel_global_set_propagator(). */
OTEL_API void otel_global_propagator_shutdown(void);

/* A carrier over a plain array of name/value pairs, the simplest header store. */
typedef struct otel_header {
    otel_str name;
    otel_str value;
} otel_header;

typedef struct otel_header_list {
    const otel_header *headers;
    size_t count;
} otel_header_list;

/* A reader over |list| (borrowed: it and its headers must outlive every use of the reader).
 * Names are matched case-insensitively. Thread-safety: safe. */
OTEL_API otel_carrier_reader otel_header_list_reader(const otel_header_list *list);

#ifdef __cplusplus
}
#endif

#endif
