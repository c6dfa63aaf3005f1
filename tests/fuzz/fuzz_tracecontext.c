/* libFuzzer target: the W3C tracecontext extractor (main header "traceparent"), run with and
 * without Datadog interop; see fuzz_common.h for the input scheme and the round-trip property. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static otel_propagator plain, interop;
    static int ready;
    if (!ready) {
        otel_tracecontext_propagator_options o = { .datadog_interop = true };
        if (otel_propagator_tracecontext(&plain) != OTEL_OK ||
            otel_propagator_tracecontext_with_options(&o, &interop) != OTEL_OK)
            abort();
        ready = 1;
    }
    fuzz_headers in;
    fuzz_split(data, size, "traceparent", &in);
    otel_context_release(fuzz_round_trip(&plain, &in));
    otel_context_release(fuzz_round_trip(&interop, &in));
    return 0;
}
