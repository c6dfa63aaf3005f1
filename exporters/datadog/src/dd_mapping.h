/* How an OpenTelemetry span becomes a Datadog span's service, operation name, resource and type,
 * following the Datadog agent's own OTLP mapping ("V2" operation names). The encoder uses it for
 * finished spans and the sampler for spans being started (with the start attributes only), so
 * a sampling rule on "name" or "resource" sees the same values the agent will show.
 * Attributes are looked up once per span: otel__dd_index_attrs records where each attribute
 * this mapping cares about sits, and the rest reads the index. */
#ifndef OTEL_DD_MAPPING_H
#define OTEL_DD_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The attribute keys the mapping (and the encoder) look at. */
enum otel__ddk {
    OTEL__DDK_OPERATION_NAME,
    OTEL__DDK_RESOURCE_NAME,
    OTEL__DDK_SPAN_TYPE,
    OTEL__DDK_SERVICE_NAME,
    OTEL__DDK_HTTP_REQUEST_METHOD,
    OTEL__DDK_HTTP_METHOD,
    OTEL__DDK_HTTP_ROUTE,
    OTEL__DDK_DB_SYSTEM,
    OTEL__DDK_DB_SYSTEM_NAME,
    OTEL__DDK_DB_STATEMENT,
    OTEL__DDK_DB_QUERY_TEXT,
    OTEL__DDK_MESSAGING_SYSTEM,
    OTEL__DDK_MESSAGING_OPERATION,
    OTEL__DDK_MESSAGING_OPERATION_TYPE,
    OTEL__DDK_MESSAGING_DESTINATION,
    OTEL__DDK_MESSAGING_DESTINATION_NAME,
    OTEL__DDK_RPC_SYSTEM,
    OTEL__DDK_RPC_SERVICE,
    OTEL__DDK_RPC_METHOD,
    OTEL__DDK_FAAS_INVOKED_PROVIDER,
    OTEL__DDK_FAAS_INVOKED_NAME,
    OTEL__DDK_FAAS_TRIGGER,
    OTEL__DDK_GRAPHQL_OPERATION_TYPE,
    OTEL__DDK_GRAPHQL_OPERATION_NAME,
    OTEL__DDK_NETWORK_PROTOCOL_NAME,
    OTEL__DDK_HTTP_RESPONSE_STATUS_CODE,
    OTEL__DDK_HTTP_STATUS_CODE,
    OTEL__DDK_URL_FULL,
    OTEL__DDK_DEPLOYMENT_ENVIRONMENT,
    OTEL__DDK_DEPLOYMENT_ENVIRONMENT_NAME,
    OTEL__DDK_SERVICE_VERSION,
    OTEL__DDK_SAMPLING_PRIORITY,
    OTEL__DDK_COUNT
};

/* Where each known key sits in an attribute array: index + 1, 0 when absent. */
struct otel__dd_attr_index {
    uint16_t at[OTEL__DDK_COUNT];
    bool gen_ai; /* some attribute key starts with "gen_ai." (span type "llm") */
};

/* The known key |key| is, or -1. */
int otel__dd_key_of(otel_str key);

/* Fills |ix| for |count| attributes (only the first 65534 are looked at). */
void otel__dd_index_attrs(const otel_attr *attrs, size_t count, struct otel__dd_attr_index *ix);

/* A span as the mapping sees it: kind, name, attributes with their index, and optionally the
 * resource's attributes with theirs (consulted after the span's). */
struct otel__dd_view {
    otel_span_kind kind;
    otel_str name;
    const otel_attr *attrs;
    const struct otel__dd_attr_index *ix;
    const otel_attr *res_attrs;               /* may be NULL */
    const struct otel__dd_attr_index *res_ix; /* NULL when res_attrs is */
};

/* The value of known key |k| if it is a non-empty string: the span's attribute, else the
 * resource's when |use_resource|. */
bool otel__dd_get_str(const struct otel__dd_view *v, enum otel__ddk k, bool use_resource, otel_str *out);

/* The attribute for known key |k| on the span (NULL when absent). */
static inline const otel_attr *otel__dd_span_attr(const struct otel__dd_view *v, enum otel__ddk k)
{
    uint16_t at = v->ix->at[k];
    return at ? &v->attrs[at - 1] : NULL;
}

/* True when |ix| (a resource's index) holds a key that the mapping reads from the resource;
 * when it does not, a view may leave res_attrs and res_ix NULL and map the same. */
bool otel__dd_index_has_resource_keys(const struct otel__dd_attr_index *ix);

/* The operation name, resource and type of the span. Composed strings ("postgresql.query",
 * "GET /users/:id") are written to |buf| (|cap| bytes); the others point into the attributes or
 * static storage. Returns the bytes |buf| needed: when that is more than |cap|, the composed
 * strings were cut to fit and a caller that cares calls again with a bigger buffer. |type| may
 * be NULL (not computed). */
size_t otel__dd_map_span(const struct otel__dd_view *v, char *buf, size_t cap, otel_str *name,
                         otel_str *resource, otel_str *type);

/* Only the operation name, or only the resource, of otel__dd_map_span (same buffer rules). */
size_t otel__dd_map_name(const struct otel__dd_view *v, char *buf, size_t cap, otel_str *name);
size_t otel__dd_map_resource(const struct otel__dd_view *v, char *buf, size_t cap, otel_str *resource);

/* The resource as otel__dd_map_resource composes it, without composing: 1 when it is |*a| alone,
 * 2 when it is |*a| + " " + |*b|. Nothing is copied; the parts point into the attributes or the
 * span name. */
int otel__dd_map_resource_parts(const struct otel__dd_view *v, otel_str *a, otel_str *b);

/* Lowercase kind name: "server", "client", "producer", "consumer", "internal". */
otel_str otel__dd_kind_name(otel_span_kind kind);

/* True when |s| is the SDK's default service name ("unknown_service" or "unknown_service:..."),
 * which a configured DD_SERVICE replaces. */
bool otel__dd_is_default_service(otel_str s);

#ifdef __cplusplus
}
#endif

#endif
