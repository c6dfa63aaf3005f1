/* The README demo: one call configures tracing from the OTEL_* environment, then a made-up
 * checkout request produces a small trace (a server span with a cache-miss event, a nested
 * database query, a failing payment call) that the console exporter prints, one line per span.
 * Needs no collector: OTEL_TRACES_EXPORTER defaults to console here. Try
 *     OTEL_SERVICE_NAME=shop OTEL_C_CONSOLE_FORMAT=json build/demo/examples/demo
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <otel/configure.h>

/* Stands in for real work, so the durations look like a request's. */
static void work(long ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

static void load_cart(otel_tracer *tracer)
{
    otel_span cart = otel_tracer_start_span(tracer, OTEL_STR("load cart"), NULL);
    otel_span_set_attr_int(cart, OTEL_STR("app.cart.items"), 3);
    otel_context_token tok = otel_span_make_current(cart);

    /* Started while "load cart" is current, so it becomes its child. */
    const otel_attr db_attrs[] = {
        OTEL_ATTR_STR_LIT("db.system.name", "postgresql"),
        OTEL_ATTR_STR_LIT("db.namespace", "shop"),
        OTEL_ATTR_STR_LIT("db.operation.name", "SELECT"),
        OTEL_ATTR_STR_LIT("db.collection.name", "orders"),
        OTEL_ATTR_STR_LIT("db.query.text", "SELECT id, total_cents FROM orders WHERE customer_id = $1"),
        OTEL_ATTR_STR_LIT("server.address", "db.internal"),
        OTEL_ATTR_INT("server.port", 5432),
    };
    otel_span_start_options db_opts = { .kind = OTEL_SPAN_KIND_CLIENT,
                                        .attrs = db_attrs,
                                        .attr_count = sizeof(db_attrs) / sizeof(db_attrs[0]) };
    otel_span query = otel_tracer_start_span(tracer, OTEL_STR("SELECT orders"), &db_opts);
    work(3);
    otel_span_end(query);

    work(1);
    otel_context_detach(tok);
    otel_span_end(cart);
}

static void charge_card(otel_tracer *tracer)
{
    const otel_attr attrs[] = {
        OTEL_ATTR_STR_LIT("http.request.method", "POST"),
        OTEL_ATTR_STR_LIT("url.full", "https://payments.example.com/v1/charges"),
        OTEL_ATTR_STR_LIT("server.address", "payments.example.com"),
        OTEL_ATTR_INT("server.port", 443),
    };
    otel_span_start_options opts = { .kind = OTEL_SPAN_KIND_CLIENT,
                                     .attrs = attrs,
                                     .attr_count = sizeof(attrs) / sizeof(attrs[0]) };
    otel_span charge = otel_tracer_start_span(tracer, OTEL_STR("charge card"), &opts);
    work(5);
    otel_span_set_attr_int(charge, OTEL_STR("http.response.status_code"), 402);
    otel_span_set_attr_str(charge, OTEL_STR("error.type"), OTEL_STR("PaymentDeclined"));
    otel_span_record_exception(charge, OTEL_STR("PaymentDeclined"),
                               OTEL_STR("card declined: insufficient funds"), OTEL_STR(""), NULL, 0);
    otel_span_set_status(charge, OTEL_SPAN_STATUS_ERROR, OTEL_STR("card declined"));
    otel_span_end(charge);
}

static void handle_checkout(otel_tracer *tracer)
{
    const otel_attr attrs[] = {
        OTEL_ATTR_STR_LIT("http.request.method", "GET"),
        OTEL_ATTR_STR_LIT("url.scheme", "https"),
        OTEL_ATTR_STR_LIT("url.path", "/checkout"),
        OTEL_ATTR_STR_LIT("http.route", "/checkout"),
        OTEL_ATTR_STR_LIT("server.address", "shop.example.com"),
        OTEL_ATTR_INT("server.port", 443),
        OTEL_ATTR_STR_LIT("client.address", "203.0.113.7"),
        OTEL_ATTR_STR_LIT("user_agent.original", "curl/8.5.0"),
    };
    otel_span_start_options opts = { .kind = OTEL_SPAN_KIND_SERVER,
                                     .attrs = attrs,
                                     .attr_count = sizeof(attrs) / sizeof(attrs[0]) };
    otel_span request = otel_tracer_start_span(tracer, OTEL_STR("GET /checkout"), &opts);
    otel_context_token tok = otel_span_make_current(request);

    const otel_attr miss[] = { OTEL_ATTR_STR_LIT("cache.key", "cart:42") };
    otel_span_add_event(request, OTEL_STR("cache miss"), 0, miss, 1);
    load_cart(tracer);
    charge_card(tracer);

    /* A 4xx answer is the client's problem: a server span keeps an unset status. */
    otel_span_set_attr_int(request, OTEL_STR("http.response.status_code"), 402);
    otel_context_detach(tok);
    otel_span_end(request);
}

int main(void)
{
    /* Print to the console unless the environment chose an exporter (empty counts as unset). */
    const char *exporter = getenv("OTEL_TRACES_EXPORTER");
    if (!exporter || !*exporter)
        setenv("OTEL_TRACES_EXPORTER", "console", 1);

    otel_tracer_provider *tp = NULL;
    otel_status st = otel_configure_from_env(NULL, &tp);
    if (st != OTEL_OK) {
        fprintf(stderr, "demo: otel_configure_from_env: %s\n", otel_status_str(st));
        return 1;
    }
    otel_tracer_options topts = { .version = OTEL_STR(OTEL_VERSION_STRING) };
    otel_tracer *tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("otelc-demo"), &topts);

    handle_checkout(tracer);

    st = otel_tracer_provider_shutdown(tp, INT64_C(5000000000));
    otel_tracer_provider_stats stats = { 0 };
    otel_tracer_provider_get_stats(tp, &stats);
    fprintf(stderr,
            "demo: %llu spans started, %llu recorded, %llu exported, %llu dropped, %llu failed; "
            "shutdown: %s\n",
            (unsigned long long)stats.spans_started, (unsigned long long)stats.spans_recorded,
            (unsigned long long)stats.spans_exported, (unsigned long long)stats.spans_dropped,
            (unsigned long long)stats.spans_failed, otel_status_str(st));
    otel_tracer_provider_destroy(tp);
    return st == OTEL_OK ? 0 : 1;
}
