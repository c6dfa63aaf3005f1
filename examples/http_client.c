/* An instrumented HTTP client on libcurl: one request as a CLIENT span, a root span (or a child of
 * a traceparent given with --parent), with its context injected into the request headers by the
 * configured propagators. The README demo uses it as the first hop of its trace; the tests use
 * it (with --no-span) to send hand-written headers to the example server.
 *
 *     http_client [-X METHOD] [-H 'Name: value']... [-d BODY|@FILE] [--status] [--no-span]
 *                 [--parent TRACEPARENT] URL
 *
 * Prints the response body (or, with --status, the HTTP status code) on stdout. Exit status 0
 * when a response arrived (any status), 1 when none did, 2 for a usage error. Tracing is set up
 * from the OTEL_* environment, as in the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <otel/configure.h>
#include <otel/propagators.h>

#include "http_common.h"

static int usage(void)
{
    fprintf(stderr, "usage: http_client [-X METHOD] [-H 'Name: value']... [-d BODY|@FILE] [--status] "
                    "[--no-span] [--parent TRACEPARENT] URL\n");
    return 2;
}

/* The whole of |path| in a new buffer (NUL added), or NULL. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            char *grown = realloc(buf, cap + 65536 + 1);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
            cap += 65536;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    const char *method = NULL;
    const char *body = NULL;
    char *body_file = NULL;
    size_t body_len = 0;
    const char *url = NULL;
    const char *parent = NULL;
    bool status_only = false;
    bool no_span = false;
    struct curl_slist *headers = NULL;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-X") == 0 || strcmp(a, "-H") == 0 || strcmp(a, "-d") == 0 ||
             strcmp(a, "--parent") == 0) &&
            i + 1 >= argc)
            goto out_usage;
        if (strcmp(a, "-X") == 0) {
            method = argv[++i];
        } else if (strcmp(a, "-H") == 0) {
            struct curl_slist *t = curl_slist_append(headers, argv[++i]);
            if (!t)
                goto out_usage;
            headers = t;
        } else if (strcmp(a, "-d") == 0) {
            body = argv[++i];
            body_len = strlen(body);
            if (body[0] == '@') {
                free(body_file);
                body_file = read_file(body + 1, &body_len);
                if (!body_file) {
                    perror(body + 1);
                    goto out_usage;
                }
                body = body_file;
            }
        } else if (strcmp(a, "--parent") == 0) {
            parent = argv[++i];
        } else if (strcmp(a, "--status") == 0) {
            status_only = true;
        } else if (strcmp(a, "--no-span") == 0) {
            no_span = true;
        } else if (a[0] == '-' || url) {
            goto out_usage;
        } else {
            url = a;
        }
    }
    if (!url)
        goto out_usage;
    if (!method)
        method = body ? "POST" : "GET";

    rc = 1;
    otel_tracer_provider *tp = NULL;
    otel_status st = otel_configure_from_env(NULL, &tp);
    if (st != OTEL_OK) {
        fprintf(stderr, "http_client: otel_configure_from_env: %s\n", otel_status_str(st));
        goto out_free_headers;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    otel_tracer_options topts = { .version = OTEL_STR(OTEL_VERSION_STRING) };
    otel_tracer *tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("otelc-http-client"), &topts);

    /* --parent: continue a trace started elsewhere, the way a server would after extracting. */
    otel_context *parent_ctx = NULL;
    otel_context_token tok = 0;
    if (parent) {
        /* Read with the W3C propagator whatever OTEL_PROPAGATORS says: the option takes a
         * traceparent value. */
        otel_header h = { OTEL_STR("traceparent"), otel_str_from_cstr(parent) };
        otel_header_list list = { &h, 1 };
        otel_carrier_reader reader = otel_header_list_reader(&list);
        otel_propagator w3c;
        if (otel_propagator_tracecontext(&w3c) == OTEL_OK) {
            parent_ctx = otel_propagator_extract(&w3c, NULL, &reader);
            otel_propagator_destroy(&w3c);
        }
        otel_span_context psc = otel_context_get_span_context(parent_ctx);
        if (!otel_span_context_is_valid(&psc))
            fprintf(stderr, "http_client: --parent %s is not a valid traceparent; ignored\n", parent);
        tok = otel_context_attach(parent_ctx);
    }

    struct http_call call = {
        .method = method,
        .url = url,
        .body = body,
        .body_len = body_len,
        .headers = headers,
        .no_span = no_span,
    };
    bool ok = http_call_perform(tracer, &call);
    if (tok)
        otel_context_detach(tok);
    otel_context_release(parent_ctx);
    if (ok) {
        if (status_only)
            printf("%ld\n", call.status);
        else if (call.response)
            fwrite(call.response, 1, call.response_len, stdout);
        rc = 0;
    } else {
        fprintf(stderr, "http_client: %s %s: %s\n", method, url, call.error);
    }
    if (!no_span && otel_span_context_is_valid(&call.span_context)) {
        char trace_id[OTEL_TRACE_ID_HEX_SIZE + 1], span_id[OTEL_SPAN_ID_HEX_SIZE + 1];
        otel_hex_encode(call.span_context.trace_id, OTEL_TRACE_ID_SIZE, trace_id);
        otel_hex_encode(call.span_context.span_id, OTEL_SPAN_ID_SIZE, span_id);
        fprintf(stderr, "http_client: trace %s, client span %s\n", trace_id, span_id);
    }
    free(call.response);
    curl_global_cleanup();
    if (otel_tracer_provider_shutdown(tp, INT64_C(5000000000)) != OTEL_OK)
        rc = 1;
    otel_tracer_provider_destroy(tp);
    otel_global_propagator_shutdown();
out_free_headers:
    curl_slist_free_all(headers);
    free(body_file);
    return rc;

out_usage:
    curl_slist_free_all(headers);
    free(body_file);
    return usage();
}
