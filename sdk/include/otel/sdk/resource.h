/* Resources: the attributes that describe the entity producing telemetry (service, process,
 * host, SDK). Immutable and reference-counted; shared by every span of a tracer provider. */
#ifndef OTEL_SDK_RESOURCE_H
#define OTEL_SDK_RESOURCE_H

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct otel_resource otel_resource;

/* A resource holding copies of |attrs| (a repeated key: the last one wins; an empty key or an
 * invalid value is skipped with a diagnostic) and |schema_url| (may be empty). *out receives a new
 * reference. Errors: OTEL_ERR_INVALID_ARG (NULL out, or attrs NULL with count > 0),
 * OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_resource_create(const otel_attr *attrs, size_t count, otel_str schema_url,
                                          otel_resource **out);

/* Returns |r| with one more reference (NULL stays NULL). Thread-safety: safe. */
OTEL_API otel_resource *otel_resource_retain(const otel_resource *r);
/* Drops one reference; frees on the last. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_resource_release(const otel_resource *r);

/* |base| merged with |update| (either may be NULL): keys of |update| win. Schema URLs: if one is
 * empty the other is used; if both are set and differ, the merged schema URL is empty and a
 * diagnostic is given (the specification leaves this case to the implementation).
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_resource_merge(const otel_resource *base, const otel_resource *update,
                                         otel_resource **out);

/* The SDK's default resource: service.name = "unknown_service:<process name>",
 * telemetry.sdk.name = "otelc", telemetry.sdk.language = "c", telemetry.sdk.version,
 * process.pid, process.executable.name, host.name (each process/host attribute omitted when it
 * cannot be read). Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_resource_default(otel_resource **out);

/* Parses an OTEL_RESOURCE_ATTRIBUTES value ("k1=v1,k2=v2", keys and values percent-decoded,
 * surrounding spaces trimmed) into a resource. A malformed entry (no '=', empty key, bad
 * percent-escape) is skipped with a diagnostic naming |source| (e.g. "OTEL_RESOURCE_ATTRIBUTES";
 * may be NULL) and the rest is kept. A non-empty |service_name| (OTEL_SERVICE_NAME) overrides
 * service.name. Empty input gives an empty resource.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out), OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_resource_parse(otel_str attributes, otel_str service_name, const char *source,
                                         otel_resource **out);

/* The attributes, borrowed: valid as long as |r|. *count receives their number (0 for NULL).
 * Thread-safety: safe. */
OTEL_API const otel_attr *otel_resource_attrs(const otel_resource *r, size_t *count);

/* Looks up |key|; |value| (may be NULL) is borrowed from |r|. Thread-safety: safe. */
OTEL_API bool otel_resource_get(const otel_resource *r, otel_str key, otel_value *value);

/* The schema URL, borrowed; empty when none. Thread-safety: safe. */
OTEL_API otel_str otel_resource_schema_url(const otel_resource *r);

#ifdef __cplusplus
}
#endif

#endif
