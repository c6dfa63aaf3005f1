/* The propagators library (otel::propagators): the wire formats that carry a trace across
 * process boundaries, as otel_propagator values (otel/propagation.h) ready for
 * otel_global_set_propagator() or otel_propagator_inject()/_extract():
 *   W3C Trace Context (traceparent, tracestate; levels 1 and 2), W3C Baggage, B3 single and
 *   multi header, Jaeger (uber-trace-id, uberctx-*), Datadog (x-datadog-*), the composite,
 *   and OTEL_PROPAGATORS parsing.
 * Every extractor treats the carrier as hostile: malformed or oversized input is ignored (with a
 * rate-limited debug diagnostic), never trusted, and never makes extraction allocate more than
 * the limits below allow. Injectors do not allocate.
 *
 * Ownership, for every constructor here: on OTEL_OK, *out holds a propagator whose user_data
 * belongs to the caller; release it with otel_propagator_destroy() (or hand it to
 * otel_global_set_propagator() or otel_propagator_composite(), which take ownership). *out is
 * written only on success. The propagators are immutable once built: every callback may be
 * called from any number of threads at once. */
#ifndef OTEL_PROPAGATORS_H
#define OTEL_PROPAGATORS_H

#include "otel/common.h"
#include "otel/context.h"
#include "otel/propagation.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Limits applied on extraction. A header above its limit is ignored as a whole (debug
 * diagnostic); so are more repeated header lines than the carrier array below holds.
 * ------------------------------------------------------------------------------------------- */

#define OTEL_PROPAGATORS_TRACEPARENT_MAX_BYTES 512  /* one traceparent value (future versions) */
#define OTEL_PROPAGATORS_TRACESTATE_MAX_BYTES 8192  /* all tracestate lines, joined with ',' */
#define OTEL_PROPAGATORS_TRACESTATE_MAX_LINES 32    /* repeated tracestate header lines */
#define OTEL_PROPAGATORS_BAGGAGE_MAX_LINES 64       /* repeated baggage header lines */
#define OTEL_PROPAGATORS_ID_HEADER_MAX_BYTES 256    /* b3, x-b3-*, uber-trace-id, x-datadog-* ids */
#define OTEL_PROPAGATORS_DATADOG_TAGS_MAX_BYTES 512 /* default x-datadog-tags limit */

/* The OTEL_PROPAGATORS value used when the variable is unset or empty. */
#define OTEL_PROPAGATORS_DEFAULT "tracecontext,baggage"

/* ---------------------------------------------------------------------------------------------
 * W3C Trace Context: traceparent and tracestate
 * ------------------------------------------------------------------------------------------- */

typedef struct otel_tracecontext_propagator_options {
    /* Datadog interoperability: on inject, write (or refresh) the "dd" member of tracestate from
     * the span context, as Datadog tracers do: "s:<sampling priority>;p:<span id>" plus the
     * origin ("o:") and "t.*" trace tags of the dd member already present (see
     * otel_propagator_datadog()). The updated member moves to the left of the list, as the W3C
     * mutation rules require. Off: the trace state is written exactly as the context holds it. */
    bool datadog_interop;
} otel_tracecontext_propagator_options;

/* The W3C Trace Context propagator (Recommendation level 1 and level 2), without Datadog
 * interoperability.
 * Extract: exactly one traceparent header line (two or more make the whole header invalid);
 * leading/trailing spaces and tabs are ignored; version = 2 lowercase hex digits, "ff" invalid;
 * version 00 must be exactly 55 characters; a higher version must be at least 55 characters and,
 * when longer, continue with '-' after the flags (the fields after it are ignored); trace id,
 * parent id and flags are lowercase hex, all-zero ids are invalid. Only the flags this version
 * defines are kept: sampled (0x01) and random (0x02, level 2); the others are zeroed.
 * The tracestate lines are joined with ',' and parsed by otel_trace_state_parse(): an invalid
 * tracestate (see that function) discards the tracestate only, never the traceparent, and no
 * tracestate is read without a valid traceparent. The result is ctx plus a remote span context
 * (is_remote = true) and its trace state.
 * Inject: "traceparent: 00-<trace id>-<span id>-<flags & 0x03>" and, when the context has a
 * trace state, "tracestate" (whole members beyond 8192 bytes are dropped: first members longer
 * than 128 characters, then from the right, as the W3C truncation rule says). Nothing when the
 * context has no valid span context. Fields: "traceparent", "tracestate".
 * Errors: OTEL_ERR_INVALID_ARG (NULL out). No allocation. Thread-safety: safe. */
OTEL_API otel_status otel_propagator_tracecontext(otel_propagator *out);

/* As otel_propagator_tracecontext(), with |opts| (NULL: all defaults).
 * Errors: OTEL_ERR_INVALID_ARG (NULL out). No allocation. Thread-safety: safe. */
OTEL_API otel_status otel_propagator_tracecontext_with_options(
    const otel_tracecontext_propagator_options *opts, otel_propagator *out);

/* ---------------------------------------------------------------------------------------------
 * W3C Baggage
 * ------------------------------------------------------------------------------------------- */

/* The W3C Baggage propagator ("baggage" header).
 * Extract: every baggage line is a comma-separated list of key=value members with optional
 * ";"-separated properties. Spaces and tabs around keys, values, properties and separators are
 * ignored. Keys must be RFC 7230 tokens and are taken as they are; values are percent-decoded
 * (a decoded byte sequence that is not valid UTF-8 becomes U+FFFD, as the specification
 * requires); the properties are kept, without the surrounding whitespace and still
 * percent-encoded, as the entry's metadata ("p1;p2=v2"). An invalid member (bad key, a character
 * outside baggage-octet, a broken percent escape, a bad property) is skipped and the rest is
 * kept. Members beyond OTEL_BAGGAGE_MAX_MEMBERS (64) or beyond OTEL_BAGGAGE_MAX_BYTES (8192)
 * of decoded entries are dropped whole. A repeated key replaces the earlier value. The entries
 * are merged into ctx's baggage (same key: the carrier wins).
 * Inject: "baggage: k1=v1;meta,k2=v2" with the values percent-encoded (everything outside
 * baggage-octet, and '%'); an entry whose name is not a token, or whose metadata holds a comma
 * or a byte outside printable ASCII, is left out (debug diagnostic); whole entries that would
 * take the header past 64 members or 8192 bytes are left out. Nothing when the baggage is empty.
 * Fields: "baggage".
 * Errors: OTEL_ERR_INVALID_ARG (NULL out). No allocation. Thread-safety: safe. */
OTEL_API otel_status otel_propagator_baggage(otel_propagator *out);

/* ---------------------------------------------------------------------------------------------
 * B3 (Zipkin)
 * ------------------------------------------------------------------------------------------- */

/* The B3 propagator that injects the single "b3" header; otel_propagator_b3multi() injects the
 * X-B3-* headers instead. Both extract both forms, the single header first (OpenTelemetry B3
 * requirements).
 * Extract, single: "b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]", trace id 16 or
 * 32 lowercase hex digits (16 are left-padded with zeros to 128 bits), span id 16, sampling
 * state "1" (accept), "0" (deny) or "d" (debug), parent span id 16 (checked, not used). When the
 * single header is absent or invalid, the multi form is tried: X-B3-TraceId, X-B3-SpanId,
 * X-B3-Sampled ("1"/"0", and the legacy "true"/"false"), X-B3-Flags ("1": debug); the first
 * line of each wins. Debug implies sampled, and is kept in the context so that inject passes it
 * on (for the same trace id). A header carrying only a sampling state ("b3: 0", "b3: 1", "b3: d",
 * or X-B3-Sampled alone) has no ids, so it gives no span context: OpenTelemetry has no parent to
 * hold the decision, and the local sampler decides.
 * Inject (single): "b3: {32 hex}-{16 hex}-{1|0|d}". X-B3-ParentSpanId is never written.
 * Fields: "b3".
 * Errors: OTEL_ERR_INVALID_ARG (NULL out). No allocation. Thread-safety: safe. */
OTEL_API otel_status otel_propagator_b3(otel_propagator *out);

/* The B3 propagator that injects the multi-header form: x-b3-traceid (32 hex), x-b3-spanid and
 * either x-b3-sampled ("1"/"0") or, for a debug trace, x-b3-flags: 1 alone. Extraction as
 * otel_propagator_b3(). Fields: "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags".
 * Errors: OTEL_ERR_INVALID_ARG (NULL out). No allocation. Thread-safety: safe. */
OTEL_API otel_status otel_propagator_b3multi(otel_propagator *out);

/* ---------------------------------------------------------------------------------------------
 * Jaeger
 * ------------------------------------------------------------------------------------------- */

/* The Jaeger propagator: "uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}".
 * Extract: the value may be percent-encoded (":" sent as "%3A"); trace id 1 to 32 hex digits and
 * span id 1 to 16 (either case, left-padded with zeros; zero is invalid); parent span id 1 to 16
 * hex digits (checked, not used); flags 1 or 2 hex digits, bit 0x01 sampled, 0x02 debug (debug
 * implies sampled and is passed on by inject, as for B3). Headers "uberctx-{key}" (any case)
 * become baggage entries {key} with the percent-decoded value ('+' decodes to a space, as the
 * Jaeger clients encode it), merged into ctx's baggage with the W3C baggage limits.
 * Inject: "uber-trace-id: {32 hex}:{16 hex}:0:{01|00|03}" and one "uberctx-{name}" header per
 * baggage entry whose name is a token (value percent-encoded; metadata is not carried).
 * Fields: "uber-trace-id" (the uberctx- names depend on the baggage, so they are not listed).
 * Errors: OTEL_ERR_INVALID_ARG (NULL out). No allocation. Thread-safety: safe. */
OTEL_API otel_status otel_propagator_jaeger(otel_propagator *out);

/* ---------------------------------------------------------------------------------------------
 * Datadog
 * ------------------------------------------------------------------------------------------- */

typedef struct otel_datadog_propagator_options {
    /* Longest x-datadog-tags value accepted on extract and written on inject; 0: 512
     * (OTEL_PROPAGATORS_DATADOG_TAGS_MAX_BYTES, Datadog's DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH). */
    size_t tags_max_bytes;
} otel_datadog_propagator_options;

/* The Datadog propagator (x-datadog-* headers).
 * Extract: x-datadog-trace-id (decimal, the low 64 bits of the trace id) and x-datadog-parent-id
 * (decimal span id), both required and non-zero; x-datadog-sampling-priority (decimal integer:
 * above 0 sets the sampled flag); x-datadog-origin; x-datadog-tags, a comma-separated list of
 * key=value pairs of which the "_dd.p.*" ones are kept: "_dd.p.tid" (16 lowercase hex digits)
 * gives the high 64 bits of the trace id; a malformed list, or one longer than tags_max_bytes,
 * is ignored as a whole (a malformed _dd.p.tid only loses the high bits).
 * An OpenTelemetry span context has no room for the priority, origin and tags, so they travel
 * in the Datadog member of the W3C trace state, in the format Datadog tracers use:
 *     dd=s:<priority>;o:<origin>;t.<tag>:<value>;...     (t.dm for _dd.p.dm, and so on)
 * ('=' in a value becomes '~'; ',', ';', '~' and bytes outside printable ASCII become '_'; whole
 * fields beyond the 256-character member limit are dropped). The extracted context gets a trace
 * state holding just that member (none when there is nothing to keep). Spans started under it
 * inherit the trace state, so inject finds it again, and the tracecontext propagator forwards
 * it to W3C services.
 * Inject: x-datadog-trace-id and x-datadog-parent-id (decimal, low 64 bits of the trace id);
 * x-datadog-sampling-priority: the dd member's "s:" value when it agrees with the sampled flag,
 * else 1 or 0 from the flag; x-datadog-origin from "o:"; x-datadog-tags with "_dd.p.tid" (when
 * the high 64 bits are not zero) and the "t.*" fields as "_dd.p.*" (when the list would be
 * longer than tags_max_bytes, the "_dd.p.*" fields are left out with a debug diagnostic and only
 * "_dd.p.tid" is sent, so the trace id survives). Nothing when the low 64 bits of the trace
 * id are zero. Fields: the five header names.
 * |opts| may be NULL (defaults). Errors: OTEL_ERR_INVALID_ARG (NULL out), OTEL_ERR_NOMEM.
 * Thread-safety: safe. */
OTEL_API otel_status otel_propagator_datadog(const otel_datadog_propagator_options *opts,
                                             otel_propagator *out);

/* ---------------------------------------------------------------------------------------------
 * Composite, OTEL_PROPAGATORS, and releasing a propagator
 * ------------------------------------------------------------------------------------------- */

/* A propagator that runs the |n| propagators of |list| in order. Takes ownership of the
 * propagators in |list| (their user_data) on success only; the array itself is copied.
 * Inject: each one in order (when two write the same header, the later one wins).
 * Extract, FIRST VALID SPAN CONTEXT WINS: each propagator extracts on top of the previous result,
 * so each one adds what it carries (baggage from the baggage and Jaeger propagators, trace
 * state, values); but once a propagator has put a valid span context into the result, a later
 * propagator that would replace it (with different ids, flags or trace state) is overruled: the
 * first span context, with its trace state, is put back on top of the later one's result.
 * So with "tracecontext,b3" a request carrying disagreeing traceparent and b3 headers continues
 * the traceparent trace, and with "b3,tracecontext" the b3 trace.
 * This differs from the OpenTelemetry specification's plain chaining, where the LAST propagator
 * that finds a context wins; list the preferred format first. (Datadog tracers also take the
 * first format in their configured order.) Baggage still merges: a later propagator's entries
 * are added to, and for the same key replace, an earlier one's.
 * Fields: the union of the members' fields, each name once, in order.
 * A NULL |list| with |n| 0 gives a propagator that does nothing.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out, NULL list with n > 0), OTEL_ERR_NOMEM.
 * Thread-safety: safe. */
OTEL_API otel_status otel_propagator_composite(const otel_propagator *list, size_t n, otel_propagator *out);

/* The propagators named by |names|, an OTEL_PROPAGATORS value: a comma-separated list of
 * "tracecontext", "baggage", "b3" (single header), "b3multi", "jaeger", "datadog" and "none".
 * Names are case-insensitive and trimmed of spaces and tabs; empty items are ignored; a name
 * given twice counts once. An empty |names| (or only spaces and commas) means
 * OTEL_PROPAGATORS_DEFAULT, "tracecontext,baggage". "none" gives a propagator that does nothing
 * (with a warning when other names are listed too: "none" wins, as in the other OpenTelemetry
 * SDKs). Each unknown name gets one warning and is skipped, as are "xray" and "ottrace", known
 * to OpenTelemetry but not implemented here. When both "tracecontext" and "datadog" are listed,
 * the tracecontext propagator is built with datadog_interop on, so W3C headers carry the Datadog
 * sampling priority, origin and tags. With one name *out is that propagator, with several the
 * composite of them in the listed order (first valid span context wins, see
 * otel_propagator_composite()), with none usable a propagator that does nothing.
 * Errors: OTEL_ERR_INVALID_ARG (NULL out), OTEL_ERR_NOMEM. Unknown names are not errors.
 * Thread-safety: safe. */
OTEL_API otel_status otel_propagators_from_names(otel_str names, otel_propagator *out);

/* A propagator that does nothing: inject writes nothing, extract returns a new reference to the
 * context it was given, no fields. Errors: OTEL_ERR_INVALID_ARG (NULL out). Thread-safety: safe. */
OTEL_API otel_status otel_propagator_none(otel_propagator *out);

/* Releases what |p| owns (calls p->destroy(p->user_data)) and zeroes *p. NULL, or a zeroed
 * propagator, is ignored. Do not call it for a propagator handed over to
 * otel_global_set_propagator() or otel_propagator_composite(). Thread-safety: not while |p| is
 * in use. */
OTEL_API void otel_propagator_destroy(otel_propagator *p);

/* ---------------------------------------------------------------------------------------------
 * A carrier writer over fixed storage: an array of otel_header plus a byte buffer that holds
 * the copied names and values. No allocation, so it suits tests, benchmarks and request
 * builders that turn the headers into their own form afterwards (a curl_slist, an nghttp2_nv
 * array). Read it back with otel_header_buffer_list() and otel_header_list_reader().
 * ------------------------------------------------------------------------------------------- */

typedef struct otel_header_buffer {
    otel_header *headers; /* caller's array of |cap| entries */
    size_t cap;
    size_t count; /* headers in use */
    char *bytes;  /* caller's storage for names and values */
    size_t bytes_cap;
    size_t bytes_used;
    size_t dropped; /* set() calls refused because a header or its bytes did not fit */
} otel_header_buffer;

/* Prepares |b| over |headers| (|cap| entries) and |bytes| (|bytes_cap| bytes), both borrowed
 * for the life of |b|. Thread-safety: one buffer per thread. */
OTEL_API void otel_header_buffer_init(otel_header_buffer *b, otel_header *headers, size_t cap, char *bytes,
                                      size_t bytes_cap);

/* Empties |b| (count, bytes_used and dropped back to 0) for reuse. Thread-safety: as above. */
OTEL_API void otel_header_buffer_reset(otel_header_buffer *b);

/* A writer whose set() copies name and value into |b|; a header with the same name (compared
 * case-insensitively) is replaced, keeping its position. When the array or the bytes are full
 * the header is dropped and counted in |dropped|. The names and values in b->headers are not
 * NUL-terminated. Thread-safety: the writer must not be used from two threads at once. */
OTEL_API otel_carrier_writer otel_header_buffer_writer(otel_header_buffer *b);

/* The headers written so far, as a list for otel_header_list_reader(). Valid until the next
 * write or reset. Thread-safety: as above. */
OTEL_API otel_header_list otel_header_buffer_list(const otel_header_buffer *b);

#ifdef __cplusplus
}
#endif

#endif
