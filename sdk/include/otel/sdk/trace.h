/* The otelc trace SDK: a tracer provider that records spans and hands finished ones to span
 * processors, which pass them to exporters. Everything pluggable (samplers, id generators,
 * processors, exporters) is a small struct of callbacks plus a user_data pointer, copied by
 * value; "ownership" of such a struct means the duty to call its destroy callback. */
#ifndef OTEL_SDK_TRACE_H
#define OTEL_SDK_TRACE_H

#include "otel/impl.h"
#include "otel/sdk/resource.h"
#include "otel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Finished spans, as processors and exporters see them
 * ------------------------------------------------------------------------------------------- */

/* The instrumentation scope of a tracer. */
typedef struct otel_scope_data {
    otel_str name;
    otel_str version;
    otel_str schema_url;
    const otel_attr *attrs;
    size_t attr_count;
} otel_scope_data;

typedef struct otel_event_data {
    otel_str name;
    int64_t time_ns;
    const otel_attr *attrs;
    uint32_t attr_count;
    uint32_t dropped_attr_count;
} otel_event_data;

typedef struct otel_link_data {
    otel_span_context context;
    const otel_trace_state *trace_state; /* may be NULL */
    const otel_attr *attrs;
    uint32_t attr_count;
    uint32_t dropped_attr_count;
} otel_link_data;

/* A finished span, read-only. Every pointer stays valid as long as the span data does (until the
 * on_end call returns, or until the matching otel_span_data_release()). Strings are not
 * NUL-terminated in general: use the lengths. */
typedef struct otel_span_data {
    otel_span_context context;
    uint8_t parent_span_id[OTEL_SPAN_ID_SIZE]; /* all zero for a root span */
    bool parent_is_remote;
    otel_span_kind kind;
    otel_str name;
    int64_t start_time_ns; /* ns since the Unix epoch */
    int64_t end_time_ns;
    const otel_attr *attrs;
    uint32_t attr_count;
    uint32_t dropped_attr_count;
    const otel_event_data *events;
    uint32_t event_count;
    uint32_t dropped_event_count;
    const otel_link_data *links;
    uint32_t link_count;
    uint32_t dropped_link_count;
    otel_span_status_code status_code;
    otel_str status_description;
    const otel_trace_state *trace_state; /* may be NULL */
    const otel_resource *resource;
    const otel_scope_data *scope;
} otel_span_data;

/* Keeps |span| alive past the on_end call that lent it; pair with otel_span_data_release().
 * Returns |span|. Thread-safety: safe. */
OTEL_API const otel_span_data *otel_span_data_retain(const otel_span_data *span);
/* Gives back a reference taken with otel_span_data_retain(); the last one returns the record to
 * its provider's pool. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_span_data_release(const otel_span_data *span);

/* A deep copy of |src| in one allocation (the resource is retained), independent of the
 * provider's record pool: it stays valid after the provider is destroyed. Free it with
 * otel_span_data_free(). Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_span_data_clone(const otel_span_data *src, otel_span_data **out);
/* Frees a clone. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_span_data_free(otel_span_data *span);

/* Looks up attribute |key| among |count| attributes; returns NULL when absent.
 * Thread-safety: safe. */
OTEL_API const otel_attr *otel_attrs_find(const otel_attr *attrs, size_t count, otel_str key);

/* ---------------------------------------------------------------------------------------------
 * Exporters
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_export_result {
    OTEL_EXPORT_SUCCESS = 0,
    OTEL_EXPORT_FAILURE = 1,   /* the batch is lost; do not retry */
    OTEL_EXPORT_RETRYABLE = 2, /* the batch is lost, but the cause was transient */
} otel_export_result;

/* Sends finished spans somewhere. otelc's processors never call |export_spans|,
 * |force_flush| and |shutdown| concurrently with each other; it must return within |timeout_ns| (0: no limit)
 * and must not keep the span pointers after it returns (retain them if it must). |force_flush|, |shutdown|,
 * |destroy| may be NULL. After |shutdown| an exporter fails every export. */
typedef struct otel_span_exporter {
    otel_export_result (*export_spans)(void *user_data, const otel_span_data *const *spans, size_t count,
                                       int64_t timeout_ns);
    otel_status (*force_flush)(void *user_data, int64_t timeout_ns);
    otel_status (*shutdown)(void *user_data, int64_t timeout_ns);
    void (*destroy)(void *user_data);
    void *user_data;
} otel_span_exporter;

/* ---------------------------------------------------------------------------------------------
 * Span processors
 * ------------------------------------------------------------------------------------------- */

/* Counters a processor may report; the provider adds them up in otel_tracer_provider_stats. */
typedef struct otel_processor_stats {
    uint64_t spans_received; /* on_end calls */
    uint64_t spans_dropped;  /* never handed to an exporter (queue full, after shutdown) */
    uint64_t spans_exported; /* exported successfully */
    uint64_t spans_failed;   /* handed to an exporter that failed */
} otel_processor_stats;

/* Sees every recording span start and end. |on_start| runs inside otel_tracer_start_span() on the
 * application thread, before the handle is returned; it may read the span through |data| (valid
 * for the call) and change it through its handle. |on_end| runs inside
 * otel_span_end() for every recording span (sampled or not: check
 * span->context.trace_flags); |span| is lent for the call. Both must be fast and must never block.
 * All callbacks may be NULL except on_end; they may be called from many threads at once. */
typedef struct otel_span_processor {
    void (*on_start)(void *user_data, otel_span span, const otel_span_data *data, const otel_parent *parent);
    void (*on_end)(void *user_data, const otel_span_data *span);
    otel_status (*force_flush)(void *user_data, int64_t timeout_ns);
    otel_status (*shutdown)(void *user_data, int64_t timeout_ns);
    void (*get_stats)(void *user_data, otel_processor_stats *out);
    void (*destroy)(void *user_data);
    void *user_data;
} otel_span_processor;

/* A processor that exports each sampled span synchronously in on_end, one export at a time (a
 * mutex serialises concurrent ends). For tests, debugging and the console exporter; production
 * services want the batch processor. Takes ownership of |exporter| on success.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out or no export_spans), OTEL_ERR_NOMEM.
 * Thread-safety: safe. */
OTEL_API otel_status otel_simple_processor_create(otel_span_exporter exporter, otel_span_processor *out);

/* A processor that calls |count| processors in order (force_flush and shutdown share the deadline;
 * the first error is returned; stats are summed). Takes ownership of all of them on success.
 * The provider itself accepts an array, so this is for building trees of processors.
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_composite_processor_create(const otel_span_processor *processors, size_t count,
                                                     otel_span_processor *out);

/* ---------------------------------------------------------------------------------------------
 * The batch span processor
 *
 * Finished sampled spans wait in a bounded queue and are exported in batches by one worker
 * thread (or, in event-loop mode, by the host's own loop): a batch as soon as max_export_batch_size
 * spans wait, otherwise whatever waits every schedule_delay_ns. Span end never blocks and never
 * waits for the exporter: when the queue is full the span is dropped and counted. The exporter
 * is called from one thread at a time, never concurrently, each export bounded by
 * export_timeout_ns (passed to export_spans). Memory is bounded by the queue size whatever the
 * exporter does. Each thread that ends spans gets its own lane into the queue (about 2.3 KB), so
 * producers share no cache line on the common path; lanes of exited threads are reused.
 *
 * fork(): in the child the processor keeps working. Spans the parent had queued are dropped
 * there (counted in spans_dropped_other, never exported twice), its locks are fresh, and its
 * worker thread starts on first use. The parent is unaffected. In event-loop mode the eventfd
 * keeps its number in the child but is a new one: re-register it with the child's event loop.
 * ------------------------------------------------------------------------------------------- */

/* Batch span processor settings (OTEL_BSP_*; otel_sdk_config_from_env() fills the first four).
 * Zero means default. */
typedef struct otel_batch_options {
    uint32_t max_queue_size;        /* default 2048: spans waiting for export, at most;
                                     * at most 16777216 */
    uint32_t max_export_batch_size; /* default 512; above max_queue_size: max_queue_size */
    int64_t schedule_delay_ns;      /* default 5 s: the longest a span waits while no batch fills */
    int64_t export_timeout_ns;      /* default 30 s; negative: no limit (what the env value 0
                                     * means) */
    bool no_thread;                 /* event-loop mode: no SDK thread; the host drives exports
                                     * with otel_batch_processor_tick() */
    bool no_pacing;                 /* the worker never times its own looks: under a sustained
                                     * high span rate with a CPU to spare it normally does,
                                     * which saves span end the cost of waking it (several us
                                     * per wake-up on a virtual machine) and drops fewer spans,
                                     * for more of the worker's CPU (docs/ARCHITECTURE.md) */
} otel_batch_options;

/* A batch span processor in front of |exporter|; |opts| may be NULL (all defaults). Takes
 * ownership of |exporter| on success (its destroy runs when the processor is destroyed, after
 * its shutdown). Starts the worker thread unless opts->no_thread.
 * Its force_flush exports every span queued before the call, then calls the exporter's
 * force_flush; it returns OTEL_OK, OTEL_ERR_EXPORT (an export failed), OTEL_ERR_TIMEOUT (the
 * deadline passed first; the rest is exported later) or OTEL_ERR_SHUT_DOWN. Its shutdown
 * flushes, calls the exporter's shutdown and stops the worker within the deadline; a second
 * call returns OTEL_OK at once; spans ended afterwards are dropped and counted; a non-zero drop
 * count is logged. If the exporter is still busy at the deadline, shutdown returns
 * OTEL_ERR_TIMEOUT and leaves the worker to finish that export on its own (the provider may be
 * destroyed meanwhile: what the export holds stays valid until it returns).
 * Errors: OTEL_ERR_INVALID_ARG (NULL out, no export_spans, a negative schedule delay, a queue
 * larger than 16777216), OTEL_ERR_NOMEM (also: the worker thread or the eventfd could not be
 * created). On failure nothing is owned and *out is untouched.
 * Thread-safety: safe. */
OTEL_API otel_status otel_batch_processor_create(otel_span_exporter exporter, const otel_batch_options *opts,
                                                 otel_span_processor *out);

/* The batch processor's counters (otel_processor_stats has the four the provider sums). */
typedef struct otel_batch_processor_stats {
    uint64_t spans_received;         /* on_end calls, sampled or not */
    uint64_t spans_queued;           /* waiting in the queue now */
    uint64_t spans_dropped_full;     /* dropped because the queue was full */
    uint64_t spans_dropped_shutdown; /* ended after shutdown */
    uint64_t spans_dropped_other;    /* left unexported at the shutdown deadline; queued by the
                                      * parent before fork (in the child); no memory for a lane */
    uint64_t spans_exported;         /* handed to a successful export */
    uint64_t spans_failed;           /* handed to a failed export */
    uint64_t export_calls;
    /* The worker's wake-ups, for judging its cost: signals span end sent it (a batch ready, or
     * the queue at its high-water mark), and the looks it timed itself under a sustained high
     * rate with a CPU to spare (instead of a signal: a timer costs the application nothing). */
    uint64_t signals;
    uint64_t paced_wakeups;
} otel_batch_processor_stats;

/* Reads the counters of |bp| (the processor otel_batch_processor_create() filled; the copy the
 * caller kept stays usable until the provider that owns it is destroyed). Counters are read
 * with relaxed atomics, each may miss a concurrent update.
 * Errors: OTEL_ERR_INVALID_ARG (not a batch processor, NULL out). Thread-safety: safe. */
OTEL_API otel_status otel_batch_processor_get_stats(const otel_span_processor *bp,
                                                    otel_batch_processor_stats *out);

/* Event-loop mode (opts->no_thread). No SDK thread exists; the host waits on a file descriptor
 * and a timeout and calls tick, which exports what is due on the calling thread:
 *
 *     int fd = otel_batch_processor_fd(&bp);                 // watch for readability
 *     for (;;) {
 *         int64_t ns = otel_batch_processor_next_timeout_ns(&bp);
 *         poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, ns < 0 ? -1 : (int)((ns + 999999) / 1000000));
 *         otel_batch_processor_tick(&bp);
 *     }
 *
 * Span end makes the descriptor readable (once per batch, not per span) when a full batch
 * waits; the timeout covers the schedule delay. force_flush and shutdown export on the calling
 * thread in this mode, so an exporter that hangs holds up that thread (up to their deadline
 * for each export, given that the exporter honours its timeout). */

/* The eventfd (non-blocking, close-on-exec) that becomes readable when a batch is ready, or -1
 * when |bp| is not a batch processor in event-loop mode. Owned by the processor: do not close
 * it; tick reads it. Thread-safety: safe. */
OTEL_API int otel_batch_processor_fd(const otel_span_processor *bp);

/* Nanoseconds until tick has something to do: 0 when a batch is ready now, otherwise the time
 * left until the schedule delay elapses (the full delay when nothing waits, so a host that
 * always waits at most this long exports every span in time); -1 once the processor is shut
 * down, or when |bp| is not a batch processor in event-loop mode. Thread-safety: safe. */
OTEL_API int64_t otel_batch_processor_next_timeout_ns(const otel_span_processor *bp);

/* Exports on the calling thread every full batch waiting and, when the schedule delay has
 * elapsed, what else waits; returns at once if another thread is ticking or flushing. Bounded:
 * spans queued while it runs wait for the next tick. Returns OTEL_OK, OTEL_ERR_EXPORT (an export
 * failed; the spans are counted as failed), OTEL_ERR_SHUT_DOWN, or OTEL_ERR_INVALID_ARG (not a
 * batch processor in event-loop mode). Thread-safety: safe. */
OTEL_API otel_status otel_batch_processor_tick(const otel_span_processor *bp);

/* ---------------------------------------------------------------------------------------------
 * Samplers
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_sampling_decision {
    OTEL_SAMPLING_DROP = 0,        /* not recorded, not sampled */
    OTEL_SAMPLING_RECORD_ONLY = 1, /* recorded, processors see it, not sampled */
    OTEL_SAMPLING_RECORD_AND_SAMPLE = 2,
} otel_sampling_decision;

/* What a sampler sees. All pointers are borrowed for the call. */
typedef struct otel_sampling_params {
    const otel_parent *parent; /* parent->span_context all zero for a root span */
    const uint8_t *trace_id;   /* OTEL_TRACE_ID_SIZE bytes: the new span's trace id */
    otel_str name;
    otel_span_kind kind;
    const otel_attr *attrs;
    size_t attr_count;
    const otel_link *links;
    size_t link_count;
} otel_sampling_params;

/* What a sampler decides. |attrs| are added to the span (copied at once; they may live in the
 * sampler's own storage). When |set_trace_state| is true, |trace_state| (a new reference, or
 * NULL for empty) becomes the span's trace state and the SDK takes the reference; otherwise the
 * span inherits the parent's. */
typedef struct otel_sampling_result {
    otel_sampling_decision decision;
    const otel_attr *attrs;
    size_t attr_count;
    bool set_trace_state;
    otel_trace_state *trace_state;
} otel_sampling_result;

/* A sampler. |should_sample| runs on the application thread for every span start and may run
 * concurrently. |description| (may be NULL) returns a static or sampler-owned string such as
 * "TraceIdRatioBased{0.250000}". |destroy| may be NULL. */
typedef struct otel_sampler {
    otel_sampling_result (*should_sample)(void *user_data, const otel_sampling_params *params);
    const char *(*description)(void *user_data);
    void (*destroy)(void *user_data);
    void *user_data;
} otel_sampler;

/* Built-in samplers. The SDK recognises them and decides inline, without the indirect call. */
OTEL_API otel_sampler otel_sampler_always_on(void);
OTEL_API otel_sampler otel_sampler_always_off(void);

/* Samples |ratio| of traces, deterministically on the trace id (the spec's TraceIdRatioBased,
 * whose exact algorithm the spec leaves open: here the lower 8 bytes of the id as a big-endian
 * integer compared with ratio * 2^64, so children of one trace agree across otelc services). |ratio| outside
 * [0, 1] or NaN: OTEL_ERR_INVALID_ARG. Thread-safety: safe. */
OTEL_API otel_status otel_sampler_trace_id_ratio(double ratio, otel_sampler *out);

/* ParentBased: |root| decides for root spans; the other four decide by the parent's kind. A
 * zero-initialised member gets the spec's default (remote/local sampled: always_on;
 * not sampled: always_off). Takes ownership of all five on success.
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
typedef struct otel_parent_based_options {
    otel_sampler remote_parent_sampled;
    otel_sampler remote_parent_not_sampled;
    otel_sampler local_parent_sampled;
    otel_sampler local_parent_not_sampled;
} otel_parent_based_options;
OTEL_API otel_status otel_sampler_parent_based(otel_sampler root, const otel_parent_based_options *opts,
                                               otel_sampler *out);

/* Calls |s|'s destroy, for a sampler that was never handed to a provider. Thread-safety: as the
 * sampler. */
OTEL_API void otel_sampler_destroy(otel_sampler *s);

/* ---------------------------------------------------------------------------------------------
 * Id generators
 * ------------------------------------------------------------------------------------------- */

/* Makes ids for new spans. |new_trace_id| and |new_span_id| run on the application thread, may
 * run concurrently, and must never produce an all-zero id. Set |random_trace_ids| when the
 * trace ids are random enough for the W3C random flag (at least the right-most 7 bytes). */
typedef struct otel_id_generator {
    void (*new_trace_id)(void *user_data, uint8_t out[OTEL_TRACE_ID_SIZE]);
    void (*new_span_id)(void *user_data, uint8_t out[OTEL_SPAN_ID_SIZE]);
    bool random_trace_ids;
    void (*destroy)(void *user_data);
    void *user_data;
} otel_id_generator;

/* ---------------------------------------------------------------------------------------------
 * Span limits
 * ------------------------------------------------------------------------------------------- */

#define OTEL_LIMIT_DEFAULT 0u
#define OTEL_LIMIT_UNLIMITED UINT32_MAX
#define OTEL_LIMIT_ZERO (UINT32_MAX - 1u) /* an explicit limit of 0 (0 itself means default) */

/* Zero means the spec's default: 128 for every count, no limit for value length. What goes over
 * a limit is dropped and counted on the span (exported as dropped_*_count). Strings longer than
 * |attr_value_length| are cut on a UTF-8 character boundary (array items too). */
typedef struct otel_span_limits {
    uint32_t attr_count;
    uint32_t attr_value_length;
    uint32_t event_count;
    uint32_t link_count;
    uint32_t event_attr_count;
    uint32_t link_attr_count;
} otel_span_limits;

/* ---------------------------------------------------------------------------------------------
 * The tracer provider
 * ------------------------------------------------------------------------------------------- */

/* Zero means default everywhere. */
typedef struct otel_tracer_provider_options {
    const otel_resource *resource;  /* retained; NULL: otel_resource_default() */
    otel_sampler sampler;           /* owned on success; zero: parentbased_always_on */
    otel_id_generator id_generator; /* owned on success; zero: built-in fast random */
    otel_span_limits limits;
    const otel_span_processor *processors; /* each owned on success; called in this order */
    size_t processor_count;
    bool disabled; /* OTEL_SDK_DISABLED: record nothing; spans only carry their parent context */
} otel_tracer_provider_options;

/* Creates an SDK tracer provider. It is not made global: call otel_global_set_tracer_provider().
 * On failure nothing is owned and *out is untouched.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out, processors NULL with a count, a processor without
 * on_end, limits out of range), OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_tracer_provider_create(const otel_tracer_provider_options *opts,
                                                 otel_tracer_provider **out);

/* Asks every processor to export what it holds, within |timeout_ns| (0: no limit).
 * Returns OTEL_OK, OTEL_ERR_TIMEOUT (some spans may still be pending), OTEL_ERR_EXPORT (an
 * exporter failed), OTEL_ERR_SHUT_DOWN, OTEL_ERR_INVALID_ARG (not an SDK provider).
 * Thread-safety: safe. */
OTEL_API otel_status otel_tracer_provider_force_flush(otel_tracer_provider *tp, int64_t timeout_ns);

/* Flushes and shuts down every processor (and so every exporter) within |timeout_ns| (0: no
 * limit). Afterwards new spans do not record, and spans still open are dropped and counted when
 * they end. Idempotent: a second call returns OTEL_OK at once. Returns as force_flush.
 * Thread-safety: safe. */
OTEL_API otel_status otel_tracer_provider_shutdown(otel_tracer_provider *tp, int64_t timeout_ns);

/* Frees the provider, its tracers and its processors; shuts down first (with a 5 s deadline) if
 * that was not done. If |tp| is the global provider, the no-op provider becomes global first.
 * No thread may use |tp| or its tracers or spans concurrently or afterwards. NULL is ignored.
 * Thread-safety: not safe against concurrent use of |tp|. */
OTEL_API void otel_tracer_provider_destroy(otel_tracer_provider *tp);

/* Counters since creation; read with relaxed atomics, so concurrent updates may be missed by one. */
typedef struct otel_tracer_provider_stats {
    uint64_t spans_started;  /* every otel_tracer_start_span() on this provider */
    uint64_t spans_sampled;  /* started with RECORD_AND_SAMPLE */
    uint64_t spans_recorded; /* started recording (sampled or RECORD_ONLY) */
    uint64_t spans_ended;    /* recording spans ended */
    uint64_t spans_dropped;  /* recording spans that ended but never reached an exporter */
    uint64_t spans_exported; /* delivered by an exporter */
    uint64_t spans_failed;   /* handed to an exporter that failed */
    uint64_t attrs_dropped;  /* attributes dropped by limits or invalid values */
    uint64_t events_dropped;
    uint64_t links_dropped;
} otel_tracer_provider_stats;

/* Fills |out| (processor counters included). Errors: OTEL_ERR_INVALID_ARG (not an SDK provider
 * or NULL out). Thread-safety: safe. */
OTEL_API otel_status otel_tracer_provider_get_stats(otel_tracer_provider *tp,
                                                    otel_tracer_provider_stats *out);

/* True when |tp| was made by otel_tracer_provider_create(). Thread-safety: safe. */
OTEL_API bool otel_tracer_provider_is_sdk(const otel_tracer_provider *tp);

/* The provider's resource, borrowed. Thread-safety: safe. */
OTEL_API const otel_resource *otel_tracer_provider_resource(const otel_tracer_provider *tp);

#ifdef __cplusplus
}
#endif

#endif
