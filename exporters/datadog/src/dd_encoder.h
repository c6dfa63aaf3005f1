/* The Datadog agent payload encoders (/v0.4/traces and /v0.5/traces) and the grouping of a
 * batch of spans into trace chunks. An encoder owns every buffer it needs and reuses them from
 * batch to batch, so steady-state encoding allocates nothing; it is not thread-safe (the
 * exporter's single export thread owns it). */
#ifndef OTEL_DD_ENCODER_H
#define OTEL_DD_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dd_mapping.h"
#include "dd_msgpack.h"
#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A "key:value" tag from DD_TAGS. */
struct otel__dd_tag {
    otel_str key;
    otel_str value;
};

/* What the encoder needs from the exporter's options. Strings are borrowed for the encoder's
 * lifetime. */
struct otel__dd_encoder_config {
    int api_version;                 /* 4 or 5 */
    otel_str service;                /* DD_SERVICE, for spans whose resource has the SDK default name */
    otel_str env;                    /* DD_ENV ("" when unset) */
    otel_str version;                /* DD_VERSION */
    const struct otel__dd_tag *tags; /* DD_TAGS */
    size_t tag_count;
    /* v0.4: span events in the span's native "span_events" field rather than as JSON in
     * meta["events"] (DD_TRACE_NATIVE_SPAN_EVENTS). Ignored for v0.5, which has no such field. */
    bool native_span_events;
};

/* One extra tag, prepared once per resource and batch: resource attributes, DD_TAGS, env and
 * version, which every span of that resource carries. */
struct otel__dd_extra {
    otel_str key;
    bool metric;
    otel_str str;   /* meta value */
    double number;  /* metric value */
    size_t str_off; /* while building: offset of a converted value in the cache's strings */
    bool str_owned;
    uint32_t key_idx, val_idx; /* v0.5 string-table indexes, valid for |gen| */
    uint64_t gen;
};

struct otel__dd_extras {
    const otel_resource *resource; /* what the cache was built for (within one batch) */
    bool valid;
    struct otel__dd_extra *items;
    size_t count;
    size_t cap;
    uint32_t meta_count;
    uint32_t metric_count;
    otel_str service;           /* resource service.name */
    const otel_attr *res_attrs; /* the resource's attributes and their index, for the mapping */
    size_t res_count;
    struct otel__dd_attr_index res_ix;
    bool res_for_map; /* the resource holds keys the mapping reads (else the view goes without) */
    struct otel__dd_buf meta_blob;   /* v0.4: the meta entries, encoded */
    struct otel__dd_buf metric_blob; /* v0.4: the metrics entries, encoded */
    struct otel__dd_buf strings;     /* converted values (arrays as JSON, ...) */
};

/* v0.5 string interning table entry. */
struct otel__dd_intern_slot {
    uint64_t hash;
    uint32_t index; /* string-table index + 1; 0: empty slot */
    uint32_t len;
    size_t off; /* offset of the bytes in |strtab| */
};

/* Where encoding resumes in the grouped batch. */
struct otel__dd_cursor {
    size_t chunk;      /* the next chunk to encode */
    uint32_t span;     /* the chunk's next span when it was split over payloads, else UINT32_MAX */
    uint32_t in_chunk; /* spans of that chunk already sent (or dropped) */
    size_t consumed;   /* spans of the batch already sent (or dropped) */
};

/* What one payload holds. */
struct otel__dd_payload_info {
    size_t traces;  /* trace chunks (X-Datadog-Trace-Count) */
    size_t spans;   /* spans in the payload */
    size_t dropped; /* spans passed over because each alone exceeds the size limit */
};

struct otel__dd_encoder {
    struct otel__dd_encoder_config cfg;
    struct otel__dd_cursor pos;
    /* Output. For v0.4 |out| holds the payload after a reserved 5-byte header area; |payload|
     * and |payload_len| point at the finished bytes. */
    struct otel__dd_buf out;
    const uint8_t *payload;
    size_t payload_len;
    /* v0.5: the string table (msgpack str items) and its interning hash. */
    struct otel__dd_buf strtab;
    struct otel__dd_intern_slot *slots;
    size_t slot_cap;
    uint32_t string_count;
    uint64_t payload_gen;
    uint32_t const_idx[64]; /* interned constant keys for the current payload */
    uint64_t const_gen[64];
    /* Scratch for JSON values and composed names. */
    struct otel__dd_buf scratch;
    struct otel__dd_buf scratch2;
    struct otel__dd_buf scratch3;
    struct otel__dd_buf vtext; /* converted attribute values of the span being encoded */
    struct otel__dd_buf names;
    /* The decimal digits of the last event time above its last eight (see w_event_time). */
    uint64_t ts_hi;
    uint8_t ts_text[16];
    uint8_t ts_len;
    /* The last root trace state's Datadog decision (see chunk_decision), valid for one batch:
     * the spans hold their trace states, so a pointer seen again is the same state. */
    const otel_trace_state *ts_for;
    bool ts_has;
    int ts_priority, ts_mechanism;
    /* The batch being encoded. */
    const otel_span_data *const *spans;
    size_t span_count;
    size_t span_cap;
    uint64_t *trace_hi;
    uint64_t *trace_lo;
    uint64_t *span_id;
    uint64_t *parent_id;
    uint32_t *next; /* next span of the same chunk; UINT32_MAX ends */
    otel_str *service;
    uint8_t *flags; /* SPAN_* below */
    /* Chunks in order of first appearance. */
    uint32_t *chunk_first;
    uint32_t *chunk_last;
    uint32_t *chunk_size;
    size_t chunk_count;
    /* Hash tables (indexes + 1; 0 empty) over trace ids and span ids. */
    uint32_t *trace_tab;
    uint32_t *span_tab;
    size_t tab_cap;
    struct otel__dd_extras extras;
    /* v0.4: the otel.scope.* entries of the last scope, encoded (see scope_blob_build). */
    struct otel__dd_buf scope_blob;
    const otel_scope_data *scope_for;
    uint32_t scope_pairs;
    bool scope_valid;
};

/* Span flags computed by grouping. */
enum {
    OTEL__DD_SPAN_LOCAL_ROOT = 1u << 0, /* parent absent from the chunk (or none) */
    OTEL__DD_SPAN_TOP_LEVEL = 1u << 1,
};

/* Copies |cfg| (borrowing its strings). */
void otel__dd_encoder_init(struct otel__dd_encoder *e, const struct otel__dd_encoder_config *cfg);
void otel__dd_encoder_cleanup(struct otel__dd_encoder *e);

/* Groups |count| spans (borrowed until the next group call) into chunks by trace id and works
 * out local roots, top-level spans and services. Returns the number of chunks, or 0 with
 * OTEL_ERR_NOMEM in *st. */
size_t otel__dd_encoder_group(struct otel__dd_encoder *e, const otel_span_data *const *spans, size_t count,
                              otel_status *st);

/* Encodes the next payload from e->pos (the group call puts it at the start) and advances
 * e->pos past what it holds. A payload holds whole chunks while they fit in |max_bytes|; a chunk
 * that does not fit in an empty payload is split over several payloads (each part a chunk of its
 * own, every span of a part carrying the sampling priority and its first span the decision
 * maker and _dd.p.tid); a span that alone does not fit is passed over and counted in
 * info->dropped. The payload is at e->payload / e->payload_len until the next call; it never
 * exceeds |max_bytes|, and holds no chunk (info->traces == 0) only when every remaining span was
 * dropped. Errors: OTEL_ERR_NOMEM. */
otel_status otel__dd_encoder_encode(struct otel__dd_encoder *e, size_t max_bytes,
                                    struct otel__dd_payload_info *info);

/* True when e->pos is past the last chunk. */
bool otel__dd_encoder_finished(const struct otel__dd_encoder *e);

/* Puts e->pos back at the start of the grouped batch. */
void otel__dd_encoder_rewind(struct otel__dd_encoder *e);

/* Convenience for tests and benchmarks: group and encode everything into one payload. */
otel_status otel__dd_encode_all(struct otel__dd_encoder *e, const otel_span_data *const *spans, size_t count);

/* Parses a DD_TAGS value ("k:v,k2:v2" or space-separated) into |out| (up to |cap| tags, slices
 * of |text|); returns how many were found. Entries without a ':' or with an empty key are skipped
 * and counted in *bad. */
size_t otel__dd_parse_tags(otel_str text, struct otel__dd_tag *out, size_t cap, size_t *bad);

#ifdef __cplusplus
}
#endif

#endif
