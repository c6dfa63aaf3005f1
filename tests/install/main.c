/* A minimal program built against an installed otelc, by CMake (find_package) and by pkg-config.
 * With OTEL_TRACES_EXPORTER=console it prints the span "consumer-span". */
#include <stdio.h>

#include <otel/configure.h>

int main(void)
{
    otel_tracer_provider *tp = NULL;
    if (otel_configure_from_env(NULL, &tp) != OTEL_OK) {
        fprintf(stderr, "consumer: otel_configure_from_env failed\n");
        return 1;
    }
    otel_tracer *t = otel_global_get_tracer(OTEL_STR("consumer"), NULL);
    otel_span s = otel_tracer_start_span(t, OTEL_STR("consumer-span"), NULL);
    otel_span_end(s);
    otel_tracer_provider_shutdown(tp, 1000000000);
    otel_tracer_provider_destroy(tp);
    return 0;
}
