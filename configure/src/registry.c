/* The tables behind registry.h, and the factories of the exporters this build provides. A name
 * with no factory is one the specification (or a vendor) defines and otelc will provide later: it
 * gets a clearer diagnostic than a misspelt name. */
#include "registry.h"

#include "log_internal.h"
#include "mem.h"
#include "otel/exporters/console.h"
#include "otel/exporters/datadog.h"
#include "otel/exporters/otlp.h"

static const struct otel__exporter_entry exporters[] = {
    { "console", otel__console_factory, NULL },
    { "logging", NULL, "console" },
    { "otlp", otel__otlp_factory, NULL },
    { "otlp/stdout", NULL, NULL },
    { "zipkin", NULL, NULL },
    { "datadog", otel__datadog_factory, NULL },
};

static const struct otel__sampler_entry samplers[] = {
    { "jaeger_remote", NULL },
    { "parentbased_jaeger_remote", NULL },
    { "xray", NULL },
    { "datadog", otel__datadog_sampler_factory },
};

static bool eq_nocase(otel_str a, const char *b)
{
    size_t i = 0;
    for (; i < a.len && b[i]; i++) {
        char c = a.data[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != b[i])
            return false;
    }
    return i == a.len && b[i] == '\0';
}

const struct otel__exporter_entry *otel__exporter_find(otel_str name)
{
    for (size_t i = 0; i < sizeof(exporters) / sizeof(exporters[0]); i++)
        if (eq_nocase(name, exporters[i].name))
            return &exporters[i];
    return NULL;
}

const struct otel__sampler_entry *otel__sampler_find(otel_str name)
{
    for (size_t i = 0; i < sizeof(samplers) / sizeof(samplers[0]); i++)
        if (eq_nocase(name, samplers[i].name))
            return &samplers[i];
    return NULL;
}

otel_status otel__console_factory(const otel_sdk_config *cfg, const otel_env *env, otel_span_processor *out)
{
    (void)cfg;
    static const char *const formats[] = { "text", "json" };
    size_t format = OTEL_CONSOLE_TEXT;
    otel_env_get_enum(env, "OTEL_C_CONSOLE_FORMAT", formats, 2, &format);

    otel_console_options o = { .format = (otel_console_format)format };
    char *path = NULL;
    otel_str v;
    if (otel_env_get_str(env, "OTEL_C_CONSOLE_PATH", &v)) {
        /* The value is a trimmed slice of the environment: fopen needs its own string. */
        path = otel__strndup(v.data, v.len);
        if (!path)
            return OTEL_ERR_NOMEM;
        o.path = path;
    }
    otel_span_exporter exporter;
    otel_status st = otel_console_exporter_create(&o, &exporter);
    otel__free(path);
    if (st != OTEL_OK)
        return st;
    st = otel_simple_processor_create(exporter, out);
    if (st != OTEL_OK && exporter.destroy)
        exporter.destroy(exporter.user_data); /* not owned by the processor on failure */
    return st;
}

/* Puts |exporter| behind a batch processor configured by OTEL_BSP_*. On failure the exporter is
 * destroyed here, so the factories below have one exit path. */
static otel_status batch(const otel_sdk_config *cfg, otel_span_exporter exporter, otel_span_processor *out)
{
    otel_status st = otel_batch_processor_create(exporter, &cfg->batch, out);
    if (st != OTEL_OK && exporter.destroy)
        exporter.destroy(exporter.user_data); /* not owned by the processor on failure */
    return st;
}

otel_status otel__otlp_factory(const otel_sdk_config *cfg, const otel_env *env, otel_span_processor *out)
{
    otel_otlp_options o = { 0 };
    otel_status st = otel_otlp_options_from_env(&o, env);
    otel_span_exporter exporter;
    if (st == OTEL_OK)
        st = otel_otlp_exporter_create(&o, &exporter);
    otel_otlp_options_cleanup(&o);
    if (st != OTEL_OK)
        return st;
    return batch(cfg, exporter, out);
}

otel_status otel__datadog_factory(const otel_sdk_config *cfg, const otel_env *env, otel_span_processor *out)
{
    otel_datadog_options o = { 0 };
    otel_status st = otel_datadog_options_from_env(&o, env);
    otel_span_exporter exporter;
    if (st == OTEL_OK)
        st = otel_datadog_exporter_create(&o, &exporter);
    otel_datadog_options_cleanup(&o);
    if (st != OTEL_OK)
        return st;
    return batch(cfg, exporter, out);
}

otel_status otel__datadog_sampler_factory(const otel_sdk_config *cfg, const otel_env *env,
                                          const otel_resource *resource, otel_sampler *out)
{
    (void)cfg;
    otel_datadog_options o = { 0 };
    otel_status st = otel_datadog_options_from_env(&o, env);
    if (st == OTEL_OK) {
        o.sampler.resource = resource;
        st = otel_datadog_sampler_create(&o.sampler, out);
    }
    otel_datadog_options_cleanup(&o);
    return st;
}
