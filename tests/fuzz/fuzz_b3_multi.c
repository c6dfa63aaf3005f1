/* libFuzzer target: the b3multi propagator's extractor (main header "x-b3-traceid"); see fuzz_common.h
 * for the input scheme and the round-trip property checked. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static otel_propagator p;
    static int ready;
    if (!ready) {
        if (otel_propagator_b3multi(&p) != OTEL_OK)
            abort();
        ready = 1;
    }
    fuzz_headers in;
    fuzz_split(data, size, "x-b3-traceid", &in);
    otel_context_release(fuzz_round_trip(&p, &in));
    return 0;
}
