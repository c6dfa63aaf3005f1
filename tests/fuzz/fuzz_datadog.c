/* libFuzzer target: the Datadog extractor (main header "x-datadog-tags", the richest one; use
 * "x-datadog-trace-id: ..." lines for the others). Besides the round trip of fuzz_common.h, the
 * extracted "dd" tracestate member must survive a hop through the tracecontext propagator with
 * Datadog interop (W3C out, W3C in, Datadog out) with the same ids. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static otel_propagator dd, dd_small, tc;
    static int ready;
    if (!ready) {
        otel_datadog_propagator_options small = { .tags_max_bytes = 64 };
        otel_tracecontext_propagator_options o = { .datadog_interop = true };
        if (otel_propagator_datadog(NULL, &dd) != OTEL_OK ||
            otel_propagator_datadog(&small, &dd_small) != OTEL_OK ||
            otel_propagator_tracecontext_with_options(&o, &tc) != OTEL_OK)
            abort();
        ready = 1;
    }
    fuzz_headers in;
    fuzz_split(data, size, "x-datadog-tags", &in);
    otel_context_release(fuzz_round_trip(&dd_small, &in));
    otel_context *c = fuzz_round_trip(&dd, &in);
    otel_span_context a = otel_context_get_span_context(c);
    if (otel_span_context_is_valid(&a)) {
        /* Through W3C and back. */
        static otel_header h[16];
        static char bytes[4096];
        otel_header_buffer buf;
        otel_header_buffer_init(&buf, h, 16, bytes, sizeof(bytes));
        otel_carrier_writer w = otel_header_buffer_writer(&buf);
        otel_propagator_inject(&tc, c, &w);
        otel_header_list list = otel_header_buffer_list(&buf);
        otel_carrier_reader r = otel_header_list_reader(&list);
        otel_context *w3c = otel_propagator_extract(&tc, NULL, &r);
        otel_span_context b = otel_context_get_span_context(w3c);
        if (memcmp(a.trace_id, b.trace_id, 16) != 0 || memcmp(a.span_id, b.span_id, 8) != 0)
            abort();
        /* The tracestate must be there (the dd member is always written with interop on). */
        if (!otel_context_get_trace_state(w3c))
            abort();
        fuzz_headers again = { .n = list.count };
        memcpy(again.h, list.headers, list.count * sizeof(otel_header));
        otel_context_release(fuzz_round_trip(&dd, &again));
        otel_context_release(w3c);
    }
    otel_context_release(c);
    return 0;
}
