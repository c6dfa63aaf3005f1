/* The in-memory exporter: keeps deep copies of exported spans so tests (otelc's own and its
 * users') can inspect them, even after the provider is gone. Bounded: past |max_spans| it
 * counts what it drops. */
#ifndef OTEL_EXPORTERS_MEMORY_H
#define OTEL_EXPORTERS_MEMORY_H

#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct otel_memory_exporter otel_memory_exporter;

typedef struct otel_memory_exporter_options {
    size_t max_spans; /* 0: 100000 */
} otel_memory_exporter_options;

/* Creates the store; the caller holds one reference. |opts| may be NULL.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out), OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_memory_exporter_create(const otel_memory_exporter_options *opts,
                                                 otel_memory_exporter **out);

/* An exporter that appends to |m|. It holds its own reference to |m|, dropped by its destroy
 * callback, so the caller may keep reading |m| after the provider is destroyed.
 * Thread-safety: safe. */
OTEL_API otel_span_exporter otel_memory_exporter_as_exporter(otel_memory_exporter *m);

/* Drops the caller's reference; the store is freed with the last one. NULL is ignored.
 * Thread-safety: safe. */
OTEL_API void otel_memory_exporter_release(otel_memory_exporter *m);

/* Number of spans held. Thread-safety: safe. */
OTEL_API size_t otel_memory_exporter_count(otel_memory_exporter *m);

/* Span |index| in export order, or NULL past the end. Valid until otel_memory_exporter_reset()
 * or the last release. Thread-safety: safe. */
OTEL_API const otel_span_data *otel_memory_exporter_span(otel_memory_exporter *m, size_t index);

/* The first span named |name|, or NULL. Same lifetime as otel_memory_exporter_span().
 * Thread-safety: safe. */
OTEL_API const otel_span_data *otel_memory_exporter_find(otel_memory_exporter *m, otel_str name);

/* Spans refused because the store was full or the exporter was shut down. Thread-safety: safe. */
OTEL_API uint64_t otel_memory_exporter_dropped(otel_memory_exporter *m);

/* Frees every held span (pointers obtained earlier become invalid) and zeroes the drop count.
 * Thread-safety: safe, but not against readers still using span pointers. */
OTEL_API void otel_memory_exporter_reset(otel_memory_exporter *m);

#ifdef __cplusplus
}
#endif

#endif
