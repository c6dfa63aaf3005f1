/* otel_configure_from_env(): the usual pipeline from the OTEL_* environment in one call. It reads
 * otel_sdk_config, lets the program override it, applies the log level, then builds the resource,
 * the sampler and one processor per OTEL_TRACES_EXPORTER name (through the registry), and creates
 * (and by default installs) the tracer provider. Names it cannot honour are reported and skipped:
 * a tracing misconfiguration must never stop the program. */
#include "otel/configure.h"
#include "otel/propagators.h"

#include <string.h>

#include "log_internal.h"
#include "mem.h"
#include "registry.h"

/* A printable, bounded form of a name from the environment, for diagnostics. */
#define NAME_MAX_SHOWN 64
static const char *shown(otel_str s, char buf[NAME_MAX_SHOWN + 4])
{
    size_t n = s.len < NAME_MAX_SHOWN ? s.len : NAME_MAX_SHOWN;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.data[i];
        buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (n < s.len) {
        memcpy(buf + n, "...", 4);
        return buf;
    }
    buf[n] = '\0';
    return buf;
}

/* Iterates over a comma-separated list: sets |item| to the next trimmed, non-empty item. */
static bool next_item(const char **cursor, otel_str *item)
{
    const char *p = *cursor;
    while (p && *p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *z = end;
        p = *end ? end + 1 : end;
        while (a < z && (*a == ' ' || *a == '\t'))
            a++;
        while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
            z--;
        if (a < z) {
            *cursor = p;
            *item = (otel_str){ a, (size_t)(z - a) };
            return true;
        }
    }
    *cursor = p;
    return false;
}

static bool same_name(otel_str a, otel_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        char x = a.data[i], y = b.data[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* True when |item| already appeared in |list| before |item|. */
static bool seen_before(const char *list, otel_str item)
{
    const char *cursor = list;
    otel_str prev;
    while (next_item(&cursor, &prev) && prev.data < item.data)
        if (same_name(prev, item))
            return true;
    return false;
}

/* True when OTEL_TRACES_EXPORTER names |exporter|. */
static bool exporter_listed(const otel_sdk_config *cfg, const char *exporter)
{
    const char *cursor = cfg->traces_exporter ? cfg->traces_exporter : "otlp";
    otel_str item;
    while (next_item(&cursor, &item))
        if (same_name(item, otel_str_from_cstr(exporter)))
            return true;
    return false;
}

static otel_status make_sampler(const otel_sdk_config *cfg, const otel_env *env,
                                const otel_resource *resource, otel_sampler *out)
{
    /* With the Datadog exporter and no sampler chosen, sample as Datadog tracers do, so the
     * agent's rates and the user's DD_TRACE_SAMPLING_RULES apply (documented in datadog.h). */
    if (!cfg->sampler_name && exporter_listed(cfg, "datadog")) {
        otel_status dst = otel__datadog_sampler_factory(cfg, env, resource, out);
        if (dst == OTEL_OK || dst == OTEL_ERR_NOMEM)
            return dst;
        otel__log(OTEL_LOG_WARN,
                  "the Datadog sampler could not be created (%s); using "
                  "parentbased_always_on",
                  otel_status_str(dst));
    }
    otel_status st = otel_sdk_config_make_sampler(cfg, out);
    if (st == OTEL_OK || st == OTEL_ERR_NOMEM)
        return st;
    char buf[NAME_MAX_SHOWN + 4];
    otel_str name = otel_str_from_cstr(cfg->sampler_name ? cfg->sampler_name : "other");
    if (st == OTEL_ERR_NOT_FOUND) {
        const struct otel__sampler_entry *e = otel__sampler_find(name);
        if (e && e->create) {
            st = e->create(cfg, env, resource, out);
            if (st == OTEL_OK || st == OTEL_ERR_NOMEM)
                return st;
        }
        otel__log(OTEL_LOG_WARN,
                  "OTEL_TRACES_SAMPLER: sampler %s is not available in this build, using "
                  "parentbased_always_on",
                  shown(name, buf));
    } else {
        otel__log(OTEL_LOG_WARN, "sampler settings rejected (%s, ratio %g); using parentbased_always_on",
                  otel_status_str(st), cfg->sampler_ratio);
    }
    *out = (otel_sampler){ 0 }; /* the provider's default: parentbased_always_on */
    return OTEL_OK;
}

static void destroy_processors(otel_span_processor *procs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (procs[i].destroy)
            procs[i].destroy(procs[i].user_data);
}

/* The registry entry |name| stands for, following a deprecated alias (with a warning when
 * |report|); NULL for an unknown name (reported too). */
static const struct otel__exporter_entry *resolve_exporter(otel_str name, bool report)
{
    char buf[NAME_MAX_SHOWN + 4];
    const struct otel__exporter_entry *e = otel__exporter_find(name);
    if (!e) {
        if (report)
            otel__log(OTEL_LOG_WARN, "OTEL_TRACES_EXPORTER: unknown exporter %s; skipped", shown(name, buf));
        return NULL;
    }
    if (e->deprecated_for) {
        if (report)
            otel__log(OTEL_LOG_WARN, "OTEL_TRACES_EXPORTER: %s is deprecated; using %s", e->name,
                      e->deprecated_for);
        e = otel__exporter_find(otel_str_from_cstr(e->deprecated_for));
    }
    return e;
}

/* True when a name before |item| in |list| stands for the same exporter ("logging,console"). */
static bool built_before(const char *list, otel_str item, const struct otel__exporter_entry *e)
{
    const char *cursor = list;
    otel_str prev;
    while (next_item(&cursor, &prev) && prev.data < item.data)
        if (resolve_exporter(prev, false) == e)
            return true;
    return false;
}

/* One processor per usable OTEL_TRACES_EXPORTER name. On success *out (NULL when *count is 0)
 * belongs to the caller. */
static otel_status make_processors(const otel_sdk_config *cfg, const otel_env *env, otel_span_processor **out,
                                   size_t *count)
{
    const char *list = cfg->traces_exporter ? cfg->traces_exporter : "otlp";
    size_t max = 0;
    const char *cursor = list;
    otel_str item;
    while (next_item(&cursor, &item))
        max++;
    otel_span_processor *procs = max ? otel__calloc(max, sizeof(*procs)) : NULL;
    if (max && !procs)
        return OTEL_ERR_NOMEM;

    size_t n = 0, others = 0;
    bool none = false;
    cursor = list;
    while (next_item(&cursor, &item)) {
        if (seen_before(list, item))
            continue;
        if (same_name(item, OTEL_STR("none"))) {
            none = true;
            continue;
        }
        others++;
        const struct otel__exporter_entry *e = resolve_exporter(item, true);
        if (!e)
            continue;
        if (!e->create) {
            otel__log(OTEL_LOG_WARN,
                      "OTEL_TRACES_EXPORTER: exporter %s is not available in this build yet; "
                      "skipped",
                      e->name);
            continue;
        }
        if (built_before(list, item, e))
            continue;
        otel_status st = e->create(cfg, env, &procs[n]);
        if (st == OTEL_OK) {
            n++;
        } else if (st == OTEL_ERR_NOMEM) {
            destroy_processors(procs, n);
            otel__free(procs);
            return st;
        } else {
            otel__log(OTEL_LOG_WARN, "OTEL_TRACES_EXPORTER: exporter %s could not be created (%s); skipped",
                      e->name, otel_status_str(st));
        }
    }
    if (none && others)
        otel__log(OTEL_LOG_WARN, "OTEL_TRACES_EXPORTER: \"none\" is combined with other "
                                 "exporters; ignoring \"none\"");
    if (n == 0 && others)
        otel__log(OTEL_LOG_INFO, "no span exporter configured: spans are recorded but not exported");
    if (n == 0) {
        otel__free(procs);
        procs = NULL;
    }
    *out = procs;
    *count = n;
    return OTEL_OK;
}

/* Builds the propagators OTEL_PROPAGATORS names (the propagators library reports unknown and
 * unsupported names itself) and installs them as the global propagator. */
static otel_status install_propagators(const otel_sdk_config *cfg)
{
    otel_propagator p;
    otel_status st = otel_propagators_from_names(otel_str_from_cstr(cfg->propagators), &p);
    if (st != OTEL_OK)
        return st;
    otel_global_set_propagator(&p);
    return OTEL_OK;
}

otel_status otel_configure_from_env(const otel_configure_options *opts, otel_tracer_provider **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    const otel_env *env = opts ? opts->env : NULL;
    otel_sdk_config cfg;
    otel_sdk_config_init(&cfg);
    /* Unset OTEL_LOG_LEVEL keeps the level the program chose before calling us. */
    cfg.log_level = otel_log_get_level();
    /* Apply a valid OTEL_LOG_LEVEL before reading the rest, so that the diagnostics about the
     * other variables already respect it. */
    otel_str lv;
    otel_log_level early;
    if (otel_env_get_str(env, "OTEL_LOG_LEVEL", &lv) && otel_log_level_parse(lv, &early))
        otel_log_set_level(early);

    otel_status st = otel_sdk_config_from_env(&cfg, env);
    if (st != OTEL_OK)
        goto out_cleanup_cfg;
    if (opts && opts->override)
        opts->override(opts->user_data, &cfg);
    otel_log_set_level(cfg.log_level);
    /* Propagation works even when the SDK is disabled: it is how a service stays in the trace. */
    if (!(opts && opts->no_global)) {
        st = install_propagators(&cfg);
        if (st != OTEL_OK)
            goto out_cleanup_cfg;
    }

    otel_tracer_provider_options po = { .limits = cfg.limits, .disabled = cfg.disabled };
    otel_resource *resource = NULL;
    otel_span_processor *procs = NULL;
    size_t nprocs = 0;
    if (cfg.disabled) {
        otel__log(OTEL_LOG_DEBUG, "OTEL_SDK_DISABLED=true: the tracer provider records nothing");
    } else {
        st = otel_sdk_config_make_resource(&cfg, &resource);
        if (st != OTEL_OK)
            goto out_cleanup_cfg;
        st = make_sampler(&cfg, env, resource, &po.sampler);
        if (st != OTEL_OK)
            goto out_release_resource;
        st = make_processors(&cfg, env, &procs, &nprocs);
        if (st != OTEL_OK)
            goto out_destroy_sampler;
    }
    po.resource = resource;
    po.processors = procs;
    po.processor_count = nprocs;
    otel_tracer_provider *tp = NULL;
    st = otel_tracer_provider_create(&po, &tp);
    if (st != OTEL_OK)
        goto out_destroy_processors;
    otel__free(procs);
    otel_resource_release(resource); /* the provider holds its own reference */
    otel_sdk_config_cleanup(&cfg);
    if (!(opts && opts->no_global))
        otel_global_set_tracer_provider(tp);
    *out = tp;
    return OTEL_OK;

out_destroy_processors:
    /* On failure the provider owns nothing it was given. */
    destroy_processors(procs, nprocs);
    otel__free(procs);
out_destroy_sampler:
    otel_sampler_destroy(&po.sampler);
out_release_resource:
    otel_resource_release(resource);
out_cleanup_cfg:
    otel_sdk_config_cleanup(&cfg);
    return st;
}
