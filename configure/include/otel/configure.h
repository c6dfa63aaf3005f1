/* One call that builds the whole pipeline from the standard OTEL_* environment: resource,
 * sampler, span limits, exporters (OTEL_TRACES_EXPORTER) with their processors, the global
 * tracer provider, the global propagator (OTEL_PROPAGATORS) and the log level (OTEL_LOG_LEVEL).
 * For programs that want the usual setup without writing it. */
#ifndef OTEL_CONFIGURE_H
#define OTEL_CONFIGURE_H

#include "otel/sdk/config.h"
#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct otel_configure_options {
    const otel_env *env; /* NULL: the process environment */
    /* Applied after the environment was read, so code wins over the environment: may change any
     * field of |cfg| (replace strings with heap copies). May be NULL. */
    void (*override)(void *user_data, otel_sdk_config *cfg);
    void *user_data;
    bool no_global; /* do not install the provider and propagator globally */
} otel_configure_options;

/* Reads the environment and builds a tracer provider with every exporter named in
 * OTEL_TRACES_EXPORTER (console, none, otlp, ... as far as this build has them), sets it and the
 * configured propagators globally (unless |no_global|), and returns the provider in *out. An
 * unknown or unavailable exporter or propagator name gives a diagnostic and is skipped.
 * OTEL_SDK_DISABLED=true gives a provider that records nothing (propagation still works).
 * Shut it down with otel_tracer_provider_shutdown() and free it with
 * otel_tracer_provider_destroy() before the program exits.
 * Exporters available in this build: "console" ("logging" is its deprecated alias), behind a
 * simple processor; "none". The console exporter also reads two otelc-specific variables:
 * OTEL_C_CONSOLE_PATH, a file to append the lines to instead of stdout, and
 * OTEL_C_CONSOLE_FORMAT, "text" (default) or "json" (one OTLP/JSON ResourceSpans per line).
 * OTEL_LOG_LEVEL, when set, becomes the diagnostics threshold; unset, the current one is kept.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out), OTEL_ERR_NOMEM. Thread-safety: call once, at
 * start-up. */
OTEL_API otel_status otel_configure_from_env(const otel_configure_options *opts, otel_tracer_provider **out);

#ifdef __cplusplus
}
#endif

#endif
