/* The OTLP encoders: a batch of finished spans to an ExportTraceServiceRequest, as protobuf bytes
 * or as OTLP/JSON text, with the spans grouped by resource and then by instrumentation scope.
 * Both write into buffers the encoder keeps between batches, so steady-state encoding allocates
 * nothing. Used by the OTLP exporter, the tests (which decode the output with protobuf-c) and the
 * encoder benchmark. */
#ifndef OTEL_OTLP_ENCODE_H
#define OTEL_OTLP_ENCODE_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporter_common.h"
#include "otel/sdk/trace.h"
#include "utf8.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A protobuf writer that fills its buffer from the end towards the start. Writing a message's
 * fields last to first means a nested message's length is known by the time its prefix is
 * written, so the output is canonical protobuf in one pass, with no size pre-computation and
 * no moving of bytes. The encoded bytes are [pos, end). */
struct otel__pbw {
    uint8_t *base;
    uint8_t *pos;
    uint8_t *end; /* base + cap */
    size_t cap;
    size_t max_bytes; /* 0: no limit */
    bool failed;      /* an allocation failed or max_bytes was reached: the output is void */
};

/* Spans of one resource and one scope. */
struct otel__otlp_group {
    const otel_resource *resource;
    const otel_scope_data *scope;
    uint32_t count;          /* spans in the group */
    uint32_t start;          /* index of its first span in the encoder's |order| */
    uint32_t resource_first; /* index of the first group created with the same resource */
};

struct otel__otlp_encoder {
    struct otel__pbw pb;
    otel__buf json;
    /* Grouping scratch, grown to the largest batch seen. */
    uint32_t *group_of;    /* per span: its group */
    uint32_t *order;       /* span indexes, grouped */
    uint32_t *group_order; /* group indexes, each resource's groups together */
    struct otel__otlp_group *groups;
    size_t span_cap;
    size_t group_count;
    locale_t c_locale; /* JSON numbers are written in the C locale whatever the program's */
};

/* |max_bytes| caps the encoded size of one batch (0: 64 MiB). */
void otel__otlp_encoder_init(struct otel__otlp_encoder *e, size_t max_bytes);
void otel__otlp_encoder_cleanup(struct otel__otlp_encoder *e);

/* Encodes |count| spans as an ExportTraceServiceRequest. On OTEL_OK, *data and *len give the
 * bytes, valid until the next call on |e|. Errors: OTEL_ERR_NOMEM (out of memory, or the
 * batch exceeds the size limit). */
otel_status otel__otlp_encode_proto(struct otel__otlp_encoder *e, const otel_span_data *const *spans,
                                    size_t count, const uint8_t **data, size_t *len);

/* The same request as OTLP/JSON (hex ids, lowerCamelCase keys, 64-bit integers as strings, enums
 * as integers, invalid UTF-8 replaced with U+FFFD). Errors: OTEL_ERR_NOMEM. */
otel_status otel__otlp_encode_json(struct otel__otlp_encoder *e, const otel_span_data *const *spans,
                                   size_t count, const uint8_t **data, size_t *len);

/* Groups |count| spans by resource (pointer identity) and then by scope (pointer identity, or
 * equal name, version, schema URL and attributes): fills e->groups, e->group_order and e->order.
 * Errors: OTEL_ERR_NOMEM. */
otel_status otel__otlp_group_spans(struct otel__otlp_encoder *e, const otel_span_data *const *spans,
                                   size_t count);

/* OTLP span and link flags: W3C trace flags in bits 0-7, bit 8 "is_remote is known", bit 9
 * "is remote". */
static inline uint32_t otel__otlp_flags(uint8_t trace_flags, bool is_remote)
{
    return (uint32_t)trace_flags | 0x100u | (is_remote ? 0x200u : 0u);
}

/* Parses an ExportTraceServiceResponse (protobuf): the partial success's rejected count and
 * error message (|message| points into |body|). False when |body| is not valid protobuf. */
bool otel__otlp_parse_response(const uint8_t *body, size_t len, int64_t *rejected, otel_str *message);

/* The same from an OTLP/JSON response body. */
bool otel__otlp_parse_response_json(const uint8_t *body, size_t len, int64_t *rejected, otel_str *message);

#ifdef __cplusplus
}
#endif

#endif
