/* otlp_send: the sending side of the interop test (tests/otlp/run_interop.sh). Exports one fixed
 * batch (the "full span" of otlp_testlib.h, plus a minimal span with another scope and a name
 * that is not UTF-8) through the OTLP exporter with the protocol and options given on the
 * command line, and exits 0 when the export succeeded, 1 on a failure, 2 when it gave up on a
 * transient failure, 3 on bad usage. The receiver's decoding of the batch is compared with
 * tests/otlp/receiver/expected.json.
 *
 *   otlp_send --protocol grpc|http/protobuf|http/json --endpoint URL [--gzip] [--ca FILE]
 *             [--insecure] [--timeout-ms N] [--header name=value] [--retries N] */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "otel/exporters/otlp.h"
#include "otlp_testlib.h"

static int usage(void)
{
    fprintf(stderr, "usage: otlp_send --protocol P --endpoint URL [--gzip] [--ca FILE] [--insecure] "
                    "[--timeout-ms N] [--header name=value] [--retries N]\n");
    return 3;
}

int main(int argc, char **argv)
{
    otel_otlp_options o = { .retry_initial_backoff_ns = 100000000, .retry_max_backoff_ns = 500000000 };
    otel_otlp_header header = { NULL, NULL };
    char header_buf[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--gzip")) {
            o.compression = OTEL_OTLP_COMPRESSION_GZIP;
        } else if (!strcmp(a, "--insecure")) {
            o.insecure = true;
        } else if (v && !strcmp(a, "--protocol")) {
            i++;
            if (!strcmp(v, "grpc"))
                o.protocol = OTEL_OTLP_GRPC;
            else if (!strcmp(v, "http/protobuf"))
                o.protocol = OTEL_OTLP_HTTP_PROTOBUF;
            else if (!strcmp(v, "http/json"))
                o.protocol = OTEL_OTLP_HTTP_JSON;
            else
                return usage();
        } else if (v && !strcmp(a, "--endpoint")) {
            o.endpoint = (char *)v;
            i++;
        } else if (v && !strcmp(a, "--ca")) {
            o.certificate_file = (char *)v;
            i++;
        } else if (v && !strcmp(a, "--timeout-ms")) {
            o.timeout_ns = strtoll(v, NULL, 10) * 1000000;
            i++;
        } else if (v && !strcmp(a, "--retries")) {
            o.retry_max_attempts = (uint32_t)strtoul(v, NULL, 10) + 1;
            i++;
        } else if (v && !strcmp(a, "--header")) {
            snprintf(header_buf, sizeof(header_buf), "%s", v);
            char *eq = strchr(header_buf, '=');
            if (!eq)
                return usage();
            *eq = '\0';
            header = (otel_otlp_header){ header_buf, eq + 1 };
            o.headers = &header;
            o.header_count = 1;
            i++;
        } else {
            return usage();
        }
    }
    if (!o.endpoint)
        return usage();

    otel_span_exporter e;
    if (otel_otlp_exporter_create(&o, &e) != OTEL_OK)
        return 3;
    struct full_span f;
    full_span_init(&f);
    otel_scope_data other_scope = { OTEL_STR("other.lib"), OTEL_STR(""), OTEL_STR(""), NULL, 0 };
    otel_span_data minimal = { 0 };
    memset(minimal.context.trace_id, 0x42, OTEL_TRACE_ID_SIZE);
    memset(minimal.context.span_id, 0x24, OTEL_SPAN_ID_SIZE);
    minimal.name = (otel_str){ "bad\xffname", 8 };
    minimal.start_time_ns = 1;
    minimal.end_time_ns = 2;
    minimal.resource = f.resource;
    minimal.scope = &other_scope;
    const otel_span_data *spans[] = { &f.data, &minimal };
    otel_export_result r = e.export_spans(e.user_data, spans, 2, 0);
    otel_otlp_exporter_stats s;
    otel_otlp_exporter_get_stats(&e, &s);
    printf("{\"result\":%d,\"requests\":%llu,\"retries\":%llu,\"bytes\":%llu}\n", (int)r,
           (unsigned long long)s.requests, (unsigned long long)s.retries, (unsigned long long)s.bytes_sent);
    e.shutdown(e.user_data, 0);
    e.destroy(e.user_data);
    full_span_cleanup(&f);
    return r == OTEL_EXPORT_SUCCESS ? 0 : r == OTEL_EXPORT_FAILURE ? 1 : 2;
}
