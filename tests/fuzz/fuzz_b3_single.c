/* libFuzzer target: the b3 propagator's extractor (main header "b3"); see fuzz_common.h
 * for the input scheme and the round-trip property checked. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static otel_propagator p;
    static int ready;
    if (!ready) {
        if (otel_propagator_b3(&p) != OTEL_OK)
            abort();
        ready = 1;
    }
    fuzz_headers in;
    fuzz_split(data, size, "b3", &in);
    otel_context_release(fuzz_round_trip(&p, &in));
    return 0;
}
