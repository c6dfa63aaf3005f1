/* Baggage: name/value pairs (each with optional metadata) that travel with a request across
 * services, as in the W3C Baggage specification. An otel_baggage is immutable and
 * reference-counted; NULL is the empty baggage. Put it into a context with
 * otel_context_with_baggage(); the baggage propagator reads and writes the header. */
#ifndef OTEL_BAGGAGE_H
#define OTEL_BAGGAGE_H

#include "otel/common.h"
#include "otel/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* W3C limits: at most 64 members and 8192 bytes in the serialized header. */
#define OTEL_BAGGAGE_MAX_MEMBERS 64
#define OTEL_BAGGAGE_MAX_BYTES 8192

/* Returns |b| with one more reference (NULL stays NULL). Thread-safety: safe. */
OTEL_API otel_baggage *otel_baggage_retain(const otel_baggage *b);
/* Drops one reference; frees on the last. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_baggage_release(const otel_baggage *b);

/* Number of entries. NULL has 0. Thread-safety: safe. */
OTEL_API size_t otel_baggage_count(const otel_baggage *b);

/* Entry |index| in insertion order; false past the end. Slices point into |b| and live as long
 * as it; |metadata| (may be NULL) receives the property string, empty when none.
 * Thread-safety: safe. */
OTEL_API bool otel_baggage_entry(const otel_baggage *b, size_t index, otel_str *name, otel_str *value,
                                 otel_str *metadata);

/* Looks up |name| (case-sensitive). |value| and |metadata| (each may be NULL) point into |b|.
 * Thread-safety: safe. */
OTEL_API bool otel_baggage_get(const otel_baggage *b, otel_str name, otel_str *value, otel_str *metadata);

/* A new baggage with |name|=|value| (+ |metadata|, may be empty): an existing entry with that
 * name is replaced in place. Name, value and metadata are arbitrary bytes here (propagators
 * percent-encode on the wire); the name must not be empty. *out receives a new reference.
 * Errors: OTEL_ERR_INVALID_ARG (empty name), OTEL_ERR_LIMIT (64 entries or 8192 bytes would be
 * exceeded; nothing changes), OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_baggage_set(const otel_baggage *b, otel_str name, otel_str value, otel_str metadata,
                                      otel_baggage **out);

/* A new baggage without |name| (NULL when it becomes empty). Errors: OTEL_ERR_NOMEM.
 * Thread-safety: safe. */
OTEL_API otel_status otel_baggage_remove(const otel_baggage *b, otel_str name, otel_baggage **out);

/* The baggage of the calling thread's current context, borrowed: valid until that context is
 * detached. NULL when none. Thread-safety: safe. */
OTEL_API const otel_baggage *otel_baggage_current(void);

#ifdef __cplusplus
}
#endif

#endif
