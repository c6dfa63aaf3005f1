/* libFuzzer target: the W3C baggage extractor (main header "baggage"). Checks that what was
 * extracted re-injects and re-extracts to the same entries (a subset when the encoded header
 * would pass 8192 bytes) and that the injected header respects the W3C limits. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static otel_propagator p;
    static int ready;
    if (!ready) {
        if (otel_propagator_baggage(&p) != OTEL_OK)
            abort();
        otel_log_set_handler(fuzz_quiet_log, NULL, OTEL_LOG_DEBUG);
        ready = 1;
    }
    fuzz_headers in;
    fuzz_split(data, size, "baggage", &in);
    otel_header_list list = { in.h, in.n };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *c = otel_propagator_extract(&p, NULL, &r);
    if (otel_baggage_count(otel_context_get_baggage(c)) > OTEL_BAGGAGE_MAX_MEMBERS)
        abort();
    static otel_header out_h[4];
    static char out_bytes[16384];
    otel_header_buffer buf;
    otel_header_buffer_init(&buf, out_h, 4, out_bytes, sizeof(out_bytes));
    otel_carrier_writer w = otel_header_buffer_writer(&buf);
    otel_propagator_inject(&p, c, &w);
    if (buf.count > 1 || (buf.count == 1 && buf.headers[0].value.len > OTEL_BAGGAGE_MAX_BYTES))
        abort();
    fuzz_baggage_round_trip(&p, c);
    otel_context_release(c);
    return 0;
}
