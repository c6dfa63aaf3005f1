/* The OpenTelemetry trace API: span contexts and trace state, the tracer provider, tracers and
 * spans. With no SDK registered every call is a cheap no-op, yet a span started under a valid
 * parent still carries the parent's span context, so propagation keeps working when tracing is
 * off. An SDK plugs in at run time with otel_global_set_tracer_provider(); this library has no
 * link-time dependency on any SDK. */
#ifndef OTEL_TRACE_H
#define OTEL_TRACE_H

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Span context: ids and flags. A plain value: copy it freely, it holds no pointers.
 * ------------------------------------------------------------------------------------------- */

#define OTEL_TRACE_ID_SIZE 16
#define OTEL_SPAN_ID_SIZE 8
#define OTEL_TRACE_ID_HEX_SIZE 32
#define OTEL_SPAN_ID_HEX_SIZE 16

/* W3C trace-flags bits. */
#define OTEL_TRACE_FLAG_SAMPLED 0x01u
#define OTEL_TRACE_FLAG_RANDOM 0x02u /* W3C Trace Context Level 2: trace id is random */

typedef struct otel_span_context {
    uint8_t trace_id[OTEL_TRACE_ID_SIZE]; /* big-endian, as printed in hex */
    uint8_t span_id[OTEL_SPAN_ID_SIZE];
    uint8_t trace_flags; /* OTEL_TRACE_FLAG_* */
    bool is_remote;      /* extracted from a carrier rather than created here */
} otel_span_context;

/* True when the trace id is not all zeros. Thread-safety: safe. */
OTEL_API bool otel_trace_id_is_valid(const uint8_t trace_id[OTEL_TRACE_ID_SIZE]);
/* True when the span id is not all zeros. Thread-safety: safe. */
OTEL_API bool otel_span_id_is_valid(const uint8_t span_id[OTEL_SPAN_ID_SIZE]);
/* True when both ids are valid. NULL gives false. Thread-safety: safe. */
OTEL_API bool otel_span_context_is_valid(const otel_span_context *sc);
/* True when |sc| is valid and has the sampled flag. Thread-safety: safe. */
OTEL_API bool otel_span_context_is_sampled(const otel_span_context *sc);

/* Writes 2*|len| lowercase hex digits of |bytes| to |out| followed by a NUL (|out| must hold
 * 2*|len|+1 bytes). Thread-safety: safe. */
OTEL_API void otel_hex_encode(const uint8_t *bytes, size_t len, char *out);

/* Decodes exactly 2*|len| hex digits from |hex| into |out|. Lowercase only when |lowercase_only|
 * (W3C headers), else either case. Returns OTEL_OK, or OTEL_ERR_INVALID_ARG for a wrong length
 * or a non-hex digit; |out| is written only on success. Thread-safety: safe. */
OTEL_API otel_status otel_hex_decode(otel_str hex, uint8_t *out, size_t len, bool lowercase_only);

/* ---------------------------------------------------------------------------------------------
 * Trace state: the W3C tracestate list. Immutable and reference-counted; NULL is the empty
 * list. "Changing" one returns a new object and leaves the original untouched.
 * ------------------------------------------------------------------------------------------- */

typedef struct otel_trace_state otel_trace_state;

#define OTEL_TRACE_STATE_MAX_MEMBERS 32
#define OTEL_TRACE_STATE_MAX_KEY_LEN 256
#define OTEL_TRACE_STATE_MAX_VALUE_LEN 256

/* Parses a tracestate header value (several header lines joined with ','), per W3C Trace Context
 * level 2. Empty and whitespace-only members are skipped; a repeated key keeps its first
 * (left-most) member. Any invalid member or more than 32 members makes the whole value invalid:
 * then *out is NULL and OTEL_ERR_INVALID_ARG is returned.
 * An empty value gives OTEL_OK and NULL. On OTEL_OK, *out is a new reference (or NULL).
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_trace_state_parse(otel_str header, otel_trace_state **out);

/* Returns |ts| with one more reference (NULL stays NULL). Thread-safety: safe. */
OTEL_API otel_trace_state *otel_trace_state_retain(const otel_trace_state *ts);
/* Drops one reference; frees on the last. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_trace_state_release(const otel_trace_state *ts);

/* Number of members. NULL has 0. Thread-safety: safe. */
OTEL_API size_t otel_trace_state_count(const otel_trace_state *ts);
/* Member |index| (0 is the left-most, most recently updated). Returns false past the end.
 * The slices point into |ts| and live as long as it. Thread-safety: safe. */
OTEL_API bool otel_trace_state_entry(const otel_trace_state *ts, size_t index, otel_str *key,
                                     otel_str *value);
/* Looks up |key|. On success |value| points into |ts|. Thread-safety: safe. */
OTEL_API bool otel_trace_state_get(const otel_trace_state *ts, otel_str key, otel_str *value);

/* A new trace state with |key|=|value| as the left-most member (an existing member with that
 * key is removed first, as the W3C update rule asks). When the list already has 32 members the
 * right-most one is dropped. *out receives a new reference.
 * Errors: OTEL_ERR_INVALID_ARG (key or value breaks the W3C grammar; *out untouched),
 * OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_trace_state_set(const otel_trace_state *ts, otel_str key, otel_str value,
                                          otel_trace_state **out);
/* A new trace state without |key| (*out may be NULL when it becomes empty). Deleting an absent
 * key gives a new reference to the same list. Errors: OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_trace_state_delete(const otel_trace_state *ts, otel_str key,
                                             otel_trace_state **out);

/* Writes the header form ("k1=v1,k2=v2") into |buf| (at most |cap| bytes, NUL-terminated when
 * |cap| > 0) and returns the length the full text needs, without the NUL, like snprintf.
 * Thread-safety: safe. */
OTEL_API size_t otel_trace_state_serialize(const otel_trace_state *ts, char *buf, size_t cap);

/* W3C grammar checks for one key or value. Thread-safety: safe. */
OTEL_API bool otel_trace_state_key_is_valid(otel_str key);
OTEL_API bool otel_trace_state_value_is_valid(otel_str value);

/* ---------------------------------------------------------------------------------------------
 * Span kinds and status
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_span_kind {
    OTEL_SPAN_KIND_INTERNAL = 0, /* the default */
    OTEL_SPAN_KIND_SERVER = 1,
    OTEL_SPAN_KIND_CLIENT = 2,
    OTEL_SPAN_KIND_PRODUCER = 3,
    OTEL_SPAN_KIND_CONSUMER = 4,
} otel_span_kind;

/* Lowercase name ("internal", "server", ...); static. Thread-safety: safe. */
OTEL_API const char *otel_span_kind_str(otel_span_kind kind);

typedef enum otel_span_status_code {
    OTEL_SPAN_STATUS_UNSET = 0,
    OTEL_SPAN_STATUS_OK = 1,
    OTEL_SPAN_STATUS_ERROR = 2,
} otel_span_status_code;

/* ---------------------------------------------------------------------------------------------
 * Spans
 *
 * An otel_span is a small handle passed by value: a reference to a span record plus the
 * record's generation. The handle is live from start until otel_span_end() returns. After that
 * every call with it (from any thread, however late, as long as the provider that made it has
 * not been destroyed) is a harmless no-op: the record may already serve another span, and the
 * generation check makes sure the stale handle never touches it.
 * Deviation from the specification: otel_span_get_context() on an ended handle returns an
 * invalid context (the spec keeps it readable for the span's whole lifetime, which a recycled
 * record cannot offer without a second reference count on the hot path). Copy the
 * otel_span_context value before ending if you still need the ids.
 * The zero handle (OTEL_SPAN_NONE) is a valid, non-recording span with an invalid context.
 * ------------------------------------------------------------------------------------------- */

struct otel_span_impl; /* see otel/impl.h */

typedef struct otel_span {
    struct otel_span_impl *impl; /* private */
    uint64_t gen;                /* private */
} otel_span;

#define OTEL_SPAN_NONE ((otel_span){ NULL, 0 })

typedef struct otel_context otel_context; /* see otel/context.h */

/* A link to another span, for start options and otel_span_add_link(). Borrowed for the call. */
typedef struct otel_link {
    otel_span_context context;
    const otel_trace_state *trace_state; /* may be NULL */
    const otel_attr *attrs;
    size_t attr_count;
} otel_link;

/* Flags in otel_span_start_options.flags. */
enum {
    /* Start a new trace: ignore |parent| and the current context. */
    OTEL_SPAN_START_ROOT = 1u << 0,
    /* The name outlives the tracer provider (a literal): the SDK keeps the pointer. */
    OTEL_SPAN_START_STATIC_NAME = 1u << 1,
};

/* How to start a span. Zero means default everywhere: {0} starts an INTERNAL span, now, as a
 * child of the current context. */
typedef struct otel_span_start_options {
    otel_span_kind kind;
    uint32_t flags;             /* OTEL_SPAN_START_* */
    const otel_context *parent; /* explicit parent context; NULL: the current context */
    int64_t start_time_ns;      /* ns since the Unix epoch; 0: now */
    const otel_attr *attrs;     /* initial attributes (samplers see them) */
    size_t attr_count;
    const otel_link *links;
    size_t link_count;
} otel_span_start_options;

typedef struct otel_tracer_provider otel_tracer_provider;
typedef struct otel_tracer otel_tracer;

/* Identity of the instrumentation library asking for a tracer. All fields optional. */
typedef struct otel_tracer_options {
    otel_str version;
    otel_str schema_url;
    const otel_attr *attrs; /* instrumentation scope attributes */
    size_t attr_count;
} otel_tracer_options;

/* The registered global tracer provider, or the built-in no-op provider when none is. Never NULL.
 * Thread-safety: safe. */
OTEL_API otel_tracer_provider *otel_global_tracer_provider(void);

/* Makes |tp| the global provider (NULL restores the no-op provider). Does not take ownership:
 * |tp| must stay alive until it is replaced; shut it down and destroy it only after replacing it
 * (otel_tracer_provider_destroy() does that by itself when |tp| is still global). There is one
 * global per process even when several shared objects carry their own copy of this library.
 * Thread-safety: safe. */
OTEL_API void otel_global_set_tracer_provider(otel_tracer_provider *tp);

/* A tracer for the instrumentation scope |name| (+ |opts|, may be NULL) from |tp|. The same
 * arguments give the same tracer. The tracer belongs to |tp| and lives as long as it; never
 * NULL (an invalid or empty name gives a working tracer and a diagnostic, as the spec asks).
 * Arguments are copied. Thread-safety: safe. */
OTEL_API otel_tracer *otel_tracer_provider_get_tracer(otel_tracer_provider *tp, otel_str name,
                                                      const otel_tracer_options *opts);

/* A tracer that always follows the global provider: usable before the SDK is registered and
 * after it is replaced, at the cost of one atomic load per span start. Lives until process exit
 * (kept in a small process-wide table keyed by the arguments). Never NULL.
 * Thread-safety: safe. */
OTEL_API otel_tracer *otel_global_get_tracer(otel_str name, const otel_tracer_options *opts);

/* True when spans from |tracer| may be recorded right now (a provider is registered, not shut
 * down and not disabled). Lets instrumentation skip expensive attribute preparation.
 * Thread-safety: safe. */
OTEL_API bool otel_tracer_enabled(otel_tracer *tracer);

/* Starts a span named |name| (copied unless OTEL_SPAN_START_STATIC_NAME). |opts| may be NULL;
 * a NULL |tracer| means the global provider's default tracer. Never fails.
 * - With an SDK that samples the span: a recording span.
 * - With an SDK whose sampler drops it: a non-recording span with its own new span id (and a new
 *   trace id for a root), the sampled flag clear and the sampler's trace state, so downstream
 *   services still join the same trace.
 * - With no SDK (or a disabled or shut-down one): a non-recording span that carries the parent's
 *   span context, or OTEL_SPAN_NONE when there is no valid parent.
 * End every span you start. The span is NOT made current; see otel_span_make_current().
 * Attributes known at start belong in |opts|: samplers only see those.
 * Thread-safety: safe. */
OTEL_API otel_span otel_tracer_start_span(otel_tracer *tracer, otel_str name,
                                          const otel_span_start_options *opts);

/* Sets one attribute; an existing key is replaced (never dropped by the count limit). Key and
 * value are copied unless marked OTEL_VALUE_STATIC(_KEY). Empty strings, empty arrays and
 * OTEL_VALUE_EMPTY values are stored as given. Dropped and counted when the span is at its
 * attribute limit; ignored when it does not record or has ended; an invalid attribute (empty key,
 * an ARRAY whose array_type is not BOOL, INT, DOUBLE or STR) is dropped with a diagnostic.
 * Prefer passing attributes known at start in the start options: samplers only see those.
 * Thread-safety: safe, also concurrently on one span. */
OTEL_API void otel_span_set_attr(otel_span span, otel_str key, otel_value value);

/* Sets |count| attributes, as otel_span_set_attr() on each in order. Thread-safety: safe. */
OTEL_API void otel_span_set_attrs(otel_span span, const otel_attr *attrs, size_t count);

/* Convenience forms of otel_span_set_attr(). Thread-safety: safe. */
static inline void otel_span_set_attr_str(otel_span span, otel_str key, otel_str value)
{
    otel_span_set_attr(span, key, otel_value_str(value));
}
static inline void otel_span_set_attr_int(otel_span span, otel_str key, int64_t value)
{
    otel_span_set_attr(span, key, otel_value_int(value));
}
static inline void otel_span_set_attr_double(otel_span span, otel_str key, double value)
{
    otel_span_set_attr(span, key, otel_value_double(value));
}
static inline void otel_span_set_attr_bool(otel_span span, otel_str key, bool value)
{
    otel_span_set_attr(span, key, otel_value_bool(value));
}

/* Adds an event named |name| at |time_ns| (0: now) with |attr_count| attributes. Everything is
 * copied. Dropped and counted at the event limit (the span keeps the first events).
 * Thread-safety: safe. */
OTEL_API void otel_span_add_event(otel_span span, otel_str name, int64_t time_ns, const otel_attr *attrs,
                                  size_t attr_count);

/* Adds a link after start (samplers only see links given at start). Copied; dropped and counted
 * at the link limit or when the linked context is invalid and has neither trace state nor
 * attributes. Thread-safety: safe. */
OTEL_API void otel_span_add_link(otel_span span, const otel_link *link);

/* Sets the status. OK is final: later calls are ignored. ERROR keeps |description| (copied),
 * and a later ERROR replaces the description. UNSET is ignored. The description is ignored for
 * OK. Thread-safety: safe. */
OTEL_API void otel_span_set_status(otel_span span, otel_span_status_code code, otel_str description);

/* Replaces the span's name (copied). Thread-safety: safe. */
OTEL_API void otel_span_update_name(otel_span span, otel_str name);

/* Records an "exception" event with exception.type, exception.message and
 * exception.stacktrace (each omitted when empty) plus |attr_count| more attributes. It does not
 * change the status: call otel_span_set_status() too if the exception is an error.
 * Thread-safety: safe. */
OTEL_API void otel_span_record_exception(otel_span span, otel_str type, otel_str message, otel_str stacktrace,
                                         const otel_attr *attrs, size_t attr_count);

/* True while the span records (sampled or record-only, and not ended). Thread-safety: safe. */
OTEL_API bool otel_span_is_recording(otel_span span);

/* The span's context. Invalid (all zero) for OTEL_SPAN_NONE and after end.
 * Thread-safety: safe. */
OTEL_API otel_span_context otel_span_get_context(otel_span span);

/* A new reference to the span's trace state (NULL when empty, after end, or for no span).
 * Release it with otel_trace_state_release(). Thread-safety: safe. */
OTEL_API otel_trace_state *otel_span_get_trace_state(otel_span span);

/* A non-recording span that carries |sc| and a reference to |trace_state| (may be NULL): the
 * spec's "wrap a SpanContext into a Span", for handing a known context to code that takes a
 * span. End it when done (that returns its small slot to the API's pool). Returns OTEL_SPAN_NONE
 * when |sc| is invalid, or when memory runs out. Thread-safety: safe. */
OTEL_API otel_span otel_span_wrap(const otel_span_context *sc, const otel_trace_state *trace_state);

/* Ends the span now and hands it to the pipeline. Never blocks on I/O. The handle is dead
 * afterwards; a second end is ignored. Thread-safety: safe. */
OTEL_API void otel_span_end(otel_span span);

/* Ends the span at |end_time_ns| (ns since the Unix epoch; 0: now). An end time before the
 * start time is replaced by the start time. Thread-safety: safe. */
OTEL_API void otel_span_end_at(otel_span span, int64_t end_time_ns);

#ifdef __cplusplus
}
#endif

#endif
