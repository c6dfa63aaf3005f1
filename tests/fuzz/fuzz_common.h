/* Shared by the propagator fuzz targets (tests/fuzz/fuzz_*.c): turns the fuzzer's bytes into a
 * header list and checks the property every extractor must keep: no crash, and a valid
 * extracted context re-injects and re-extracts to the same ids and sampled flag.
 * Input scheme, one header per line ('\n'): "name: value" (split at the first ": "); a line
 * without ": " is a value of the target's main header. At most 64 headers. */
#ifndef OTEL_FUZZ_COMMON_H
#define OTEL_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otel/baggage.h"
#include "otel/propagators.h"

#define FUZZ_MAX_HEADERS 64

typedef struct fuzz_headers {
    otel_header h[FUZZ_MAX_HEADERS];
    size_t n;
} fuzz_headers;

static inline void fuzz_split(const uint8_t *data, size_t size, const char *main_header, fuzz_headers *out)
{
    const char *p = (const char *)data;
    size_t pos = 0;
    out->n = 0;
    while (pos <= size && out->n < FUZZ_MAX_HEADERS) {
        const char *line = p + pos;
        const char *nl = pos < size ? memchr(line, '\n', size - pos) : NULL;
        size_t len = nl ? (size_t)(nl - line) : size - pos;
        pos += len + 1;
        otel_header *h = &out->h[out->n++];
        const char *sep = NULL;
        for (size_t i = 0; i + 1 < len; i++) {
            if (line[i] == ':' && line[i + 1] == ' ') {
                sep = line + i;
                break;
            }
        }
        if (sep) {
            h->name = (otel_str){ line, (size_t)(sep - line) };
            h->value = (otel_str){ sep + 2, len - (size_t)(sep - line) - 2 };
        } else {
            h->name = otel_str_from_cstr(main_header);
            h->value = (otel_str){ line, len };
        }
    }
}

static inline void fuzz_quiet_log(void *user_data, otel_log_level level, const char *message)
{
    (void)user_data, (void)level;
    /* Touch the message so a bad format shows up under the sanitizers. */
    volatile size_t n = strlen(message);
    (void)n;
}

/* Extracts with |p|; when a valid span context comes out, injects it, extracts again and aborts
 * unless the ids and the sampled flag match. Returns the first context (caller releases). */
static inline otel_context *fuzz_round_trip(const otel_propagator *p, const fuzz_headers *in)
{
    static int quiet;
    if (!quiet) {
        /* Debug level: the diagnostics' formatting runs too. */
        otel_log_set_handler(fuzz_quiet_log, NULL, OTEL_LOG_DEBUG);
        quiet = 1;
    }
    otel_header_list list = { in->h, in->n };
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *c1 = otel_propagator_extract(p, NULL, &r);
    otel_span_context a = otel_context_get_span_context(c1);

    static otel_header out_h[128];
    static char out_bytes[1 << 17];
    otel_header_buffer buf;
    otel_header_buffer_init(&buf, out_h, 128, out_bytes, sizeof(out_bytes));
    otel_carrier_writer w = otel_header_buffer_writer(&buf);
    otel_propagator_inject(p, c1, &w);
    if (buf.dropped)
        abort();
    if (!otel_span_context_is_valid(&a))
        return c1;

    otel_header_list list2 = otel_header_buffer_list(&buf);
    otel_carrier_reader r2 = otel_header_list_reader(&list2);
    otel_context *c2 = otel_propagator_extract(p, NULL, &r2);
    otel_span_context b = otel_context_get_span_context(c2);
    if (memcmp(a.trace_id, b.trace_id, sizeof(a.trace_id)) != 0 ||
        memcmp(a.span_id, b.span_id, sizeof(a.span_id)) != 0 ||
        (a.trace_flags & OTEL_TRACE_FLAG_SAMPLED) != (b.trace_flags & OTEL_TRACE_FLAG_SAMPLED) ||
        !b.is_remote)
        abort();
    otel_context_release(c2);
    return c1;
}

/* Aborts unless every baggage entry of |sub| is in |full| with the same value. */
static inline void fuzz_check_baggage_subset(const otel_context *sub, const otel_context *full)
{
    const otel_baggage *s = otel_context_get_baggage(sub);
    const otel_baggage *f = otel_context_get_baggage(full);
    otel_str name, value, got;
    for (size_t i = 0; otel_baggage_entry(s, i, &name, &value, NULL); i++)
        if (!otel_baggage_get(f, name, &got, NULL) || !otel_str_eq(got, value))
            abort();
}

/* Injects the baggage of |c1| with |p|, extracts it again and checks it against |c1|. */
static inline void fuzz_baggage_round_trip(const otel_propagator *p, const otel_context *c1)
{
    static otel_header out_h[128];
    static char out_bytes[1 << 18];
    otel_header_buffer buf;
    otel_header_buffer_init(&buf, out_h, 128, out_bytes, sizeof(out_bytes));
    otel_carrier_writer w = otel_header_buffer_writer(&buf);
    otel_propagator_inject(p, c1, &w);
    otel_header_list list = otel_header_buffer_list(&buf);
    otel_carrier_reader r = otel_header_list_reader(&list);
    otel_context *c2 = otel_propagator_extract(p, NULL, &r);
    fuzz_check_baggage_subset(c2, c1);
    otel_context_release(c2);
}

#endif
