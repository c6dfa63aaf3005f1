/* The console exporter: one line per span, for development and for seeing what a program
 * traces. OTEL_TRACES_EXPORTER=console selects it. */
#ifndef OTEL_EXPORTERS_CONSOLE_H
#define OTEL_EXPORTERS_CONSOLE_H

#include <stdio.h>

#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum otel_console_format {
    /* Readable: "trace=<hex> span=<hex> parent=<hex|-> kind name duration status attrs..." */
    OTEL_CONSOLE_TEXT = 0,
    /* One OTLP/JSON-like object per line (a ResourceSpans with one span): hex ids, lowerCamelCase
     * field names, int64 as strings, enums as integers. */
    OTEL_CONSOLE_JSON = 1,
} otel_console_format;

typedef struct otel_console_options {
    FILE *stream;     /* borrowed, never closed; NULL: stdout (unless |path| is set) */
    const char *path; /* a file to append to (opened by create, closed by destroy) */
    otel_console_format format;
} otel_console_options;

/* Creates a console exporter (each export writes and flushes whole lines, so lines of
 * concurrent processes do not interleave within a line). |opts| may be NULL.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out, both stream and path), OTEL_ERR_EXPORT (|path| cannot
 * be opened; the error is logged), OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_console_exporter_create(const otel_console_options *opts, otel_span_exporter *out);

#ifdef __cplusplus
}
#endif

#endif
