/* libFuzzer target: the jaeger propagator's extractor (main header "uber-trace-id"); see fuzz_common.h
 * for the input scheme and the round-trip property checked. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static otel_propagator p;
    static int ready;
    if (!ready) {
        if (otel_propagator_jaeger(&p) != OTEL_OK)
            abort();
        ready = 1;
    }
    fuzz_headers in;
    fuzz_split(data, size, "uber-trace-id", &in);
    otel_context *c = fuzz_round_trip(&p, &in);
    fuzz_baggage_round_trip(&p, c);
    otel_context_release(c);
    return 0;
}
