/* libFuzzer target: the tracestate parser behind the tracecontext extractor
 * (otel_trace_state_parse, fed the raw input). A list that parses must serialize to a header that
 * parses again to the same members, and its Datadog member must parse for injection. Inputs of up
 * to 64 bytes (the parser's fast path) must parse like the same list padded with empty members. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    otel_trace_state *ts = NULL;
    otel_status st = otel_trace_state_parse((otel_str){ (const char *)data, size }, &ts);
    /* Up to 64 bytes take the parser's fast path; the same list followed by empty members is
     * longer and takes the general one: both must give the same answer. */
    if (size <= 64) {
        char padded[64 + 80];
        memcpy(padded, data, size);
        memset(padded + size, ',', 80);
        otel_trace_state *slow = NULL;
        if (otel_trace_state_parse((otel_str){ padded, size + 80 }, &slow) != st ||
            otel_trace_state_count(slow) != otel_trace_state_count(ts))
            abort();
        for (size_t i = 0; i < otel_trace_state_count(ts); i++) {
            otel_str k1, v1, k2, v2;
            if (!otel_trace_state_entry(ts, i, &k1, &v1) || !otel_trace_state_entry(slow, i, &k2, &v2) ||
                !otel_str_eq(k1, k2) || !otel_str_eq(v1, v2))
                abort();
        }
        otel_trace_state_release(slow);
    }
    if (st != OTEL_OK)
        return 0;
    static char buf[1 << 15];
    size_t n = otel_trace_state_serialize(ts, buf, sizeof(buf));
    if (n >= sizeof(buf))
        abort();
    otel_trace_state *again = NULL;
    if (otel_trace_state_parse((otel_str){ buf, n }, &again) != OTEL_OK)
        abort();
    size_t count = otel_trace_state_count(ts);
    if (otel_trace_state_count(again) != count)
        abort();
    for (size_t i = 0; i < count; i++) {
        otel_str k1, v1, k2, v2;
        if (!otel_trace_state_entry(ts, i, &k1, &v1) || !otel_trace_state_entry(again, i, &k2, &v2) ||
            !otel_str_eq(k1, k2) || !otel_str_eq(v1, v2))
            abort();
    }
    /* Inject through the tracecontext propagator with Datadog interop: exercises the dd member
     * parser and the truncation path on any list the parser accepts. */
    static otel_propagator tc;
    static int ready;
    if (!ready) {
        otel_tracecontext_propagator_options o = { .datadog_interop = true };
        if (otel_propagator_tracecontext_with_options(&o, &tc) != OTEL_OK)
            abort();
        otel_log_set_handler(fuzz_quiet_log, NULL, OTEL_LOG_DEBUG);
        ready = 1;
    }
    otel_span_context sc = { .trace_id = { 1 }, .span_id = { 1 }, .trace_flags = 1 };
    otel_context *c = NULL;
    if (otel_context_with_span_context(NULL, &sc, ts, &c) == OTEL_OK) {
        static otel_header h[4];
        static char bytes[1 << 15];
        otel_header_buffer b;
        otel_header_buffer_init(&b, h, 4, bytes, sizeof(bytes));
        otel_carrier_writer w = otel_header_buffer_writer(&b);
        otel_propagator_inject(&tc, c, &w);
        otel_header_list list = otel_header_buffer_list(&b);
        otel_carrier_reader r = otel_header_list_reader(&list);
        otel_context *c2 = otel_propagator_extract(&tc, NULL, &r);
        /* What interop writes must itself be a valid tracestate. */
        if (!otel_context_get_trace_state(c2))
            abort();
        otel_context_release(c2);
        otel_context_release(c);
    }
    otel_trace_state_release(again);
    otel_trace_state_release(ts);
    return 0;
}
