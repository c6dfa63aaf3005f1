/* A plug-in that carries its own static copy of the otelc API, as a module of a host program
 * that knows nothing of otelc. Built twice (PLUGIN_NAME a and b) by tests/CMakeLists.txt. */
#include "otel/impl.h"
#include "otel/trace.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

/* Installs |tp| as the global provider through this plug-in's copy of the API. */
__attribute__((visibility("default"))) void CAT(PLUGIN_NAME, _set)(otel_tracer_provider *tp)
{
    otel_global_set_tracer_provider(tp);
}

/* The global provider as this plug-in's copy of the API sees it. */
__attribute__((visibility("default"))) otel_tracer_provider *CAT(PLUGIN_NAME, _get)(void)
{
    return otel_global_tracer_provider();
}
