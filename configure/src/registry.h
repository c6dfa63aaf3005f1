/* The exporters and samplers the configure library can build, by the names OTEL_TRACES_EXPORTER
 * and OTEL_TRACES_SAMPLER use. Each is one row of a static table in registry.c: adding the OTLP
 * or Datadog exporter to this library is writing its factory and filling in its row. Used only by
 * configure.c. */
#ifndef OTEL_CONFIGURE_REGISTRY_H
#define OTEL_CONFIGURE_REGISTRY_H

#include "otel/sdk/config.h"
#include "otel/sdk/resource.h"

/* Builds the span processor (exporter included) for one OTEL_TRACES_EXPORTER name, reading its
 * own variables from |env| (NULL: the process environment). On success *out is owned by the
 * caller. Errors: OTEL_ERR_NOMEM fails the whole configuration; anything else skips this
 * exporter with a warning (the factory logs the details). */
typedef otel_status (*otel__exporter_factory)(const otel_sdk_config *cfg, const otel_env *env,
                                              otel_span_processor *out);

struct otel__exporter_entry {
    const char *name;              /* lowercase, as in OTEL_TRACES_EXPORTER */
    otel__exporter_factory create; /* NULL: a known name this build does not provide yet */
    const char *deprecated_for;    /* non-NULL: a deprecated alias of that entry */
};

/* The entry for |name| (compared case-insensitively), or NULL for an unknown name. */
const struct otel__exporter_entry *otel__exporter_find(otel_str name);

/* Builds the sampler for an OTEL_TRACES_SAMPLER name the SDK does not build itself
 * (OTEL_SAMPLER_OTHER). Same error rules as otel__exporter_factory. */
typedef otel_status (*otel__sampler_factory)(const otel_sdk_config *cfg, const otel_env *env,
                                             const otel_resource *resource, otel_sampler *out);

struct otel__sampler_entry {
    const char *name;
    otel__sampler_factory create; /* NULL: known, not provided by this build yet */
};

/* The entry for |name|, or NULL. */
const struct otel__sampler_entry *otel__sampler_find(otel_str name);

/* OTEL_TRACES_EXPORTER=otlp: the OTLP exporter (OTEL_EXPORTER_OTLP_*) behind a batch processor
 * (OTEL_BSP_*). */
otel_status otel__otlp_factory(const otel_sdk_config *cfg, const otel_env *env, otel_span_processor *out);

/* OTEL_TRACES_EXPORTER=datadog: the Datadog agent exporter (DD_*) behind a batch processor. */
otel_status otel__datadog_factory(const otel_sdk_config *cfg, const otel_env *env, otel_span_processor *out);

/* OTEL_TRACES_SAMPLER=datadog (and the default with the Datadog exporter): the Datadog sampler
 * (DD_TRACE_SAMPLING_RULES, DD_TRACE_SAMPLE_RATE, DD_TRACE_RATE_LIMIT, agent rates). */
otel_status otel__datadog_sampler_factory(const otel_sdk_config *cfg, const otel_env *env,
                                          const otel_resource *resource, otel_sampler *out);

/* The console exporter's factory: OTEL_C_CONSOLE_PATH, OTEL_C_CONSOLE_FORMAT (see configure.h),
 * behind a simple processor. */
otel_status otel__console_factory(const otel_sdk_config *cfg, const otel_env *env, otel_span_processor *out);

#endif
