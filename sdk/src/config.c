/* Configuration from the standard OTEL_* environment variables: the otel_env_* readers that apply
 * the specification's parsing rules, and otel_sdk_config, the plain struct they fill. Every
 * invalid value produces exactly one warning that names the variable, shows the value and says
 * what is used instead; nothing here fails because of a bad value. The configure library and
 * out-of-tree exporters build on these readers. */
#include "otel/sdk/config.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_internal.h"
#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * Reading one variable
 * ------------------------------------------------------------------------------------------- */

static const char *env_lookup(const otel_env *env, const char *name)
{
    if (!name)
        return NULL;
    if (env && env->getenv)
        return env->getenv(env->user_data, name);
    /* secure_getenv: a set-user-ID program must not let its caller pick, say, the file the
     * console exporter appends to. */
    return secure_getenv(name);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool eq_nocase(otel_str a, const char *b)
{
    size_t n = strlen(b);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(a.data[i]) != lower(b[i]))
            return false;
    return true;
}

bool otel_env_get_str(const otel_env *env, const char *name, otel_str *value)
{
    const char *raw = env_lookup(env, name);
    if (!raw)
        return false;
    otel_str s = otel_str_from_cstr(raw);
    while (s.len > 0 && is_space(s.data[0])) {
        s.data++;
        s.len--;
    }
    while (s.len > 0 && is_space(s.data[s.len - 1]))
        s.len--;
    if (s.len == 0)
        return false; /* the specification: empty means unset */
    if (value)
        *value = s;
    return true;
}

/* A printable, bounded rendering of a bad value for a diagnostic: a value may hold anything,
 * including terminal escape sequences, and may be long. */
#define QUOTED_MAX 64
static const char *quote(otel_str v, char buf[QUOTED_MAX * 4 + 8])
{
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    size_t i = 0;
    for (; i < v.len && i < QUOTED_MAX; i++) {
        unsigned char c = (unsigned char)v.data[i];
        if (c == '"' || c == '\\') {
            buf[w++] = '\\';
            buf[w++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            buf[w++] = '\\';
            buf[w++] = 'x';
            buf[w++] = hex[c >> 4];
            buf[w++] = hex[c & 15];
        } else {
            buf[w++] = (char)c;
        }
    }
    if (i < v.len) {
        memcpy(buf + w, "...", 3);
        w += 3;
    }
    buf[w] = '\0';
    return buf;
}

static void report_invalid(const char *name, otel_str value, const char *expected, const char *used)
{
    char q[QUOTED_MAX * 4 + 8];
    otel__log(OTEL_LOG_WARN, "%s=\"%s\" is invalid (expected %s); using %s", name, quote(value, q), expected,
              used);
}

bool otel_env_get_bool(const otel_env *env, const char *name, bool *out)
{
    otel_str v;
    if (!otel_env_get_str(env, name, &v))
        return false;
    if (eq_nocase(v, "true")) {
        *out = true;
    } else {
        if (!eq_nocase(v, "false"))
            report_invalid(name, v, "true or false", "false");
        *out = false;
    }
    return true;
}

/* A decimal integer with an optional sign and nothing else; false on overflow. */
static bool parse_int(otel_str v, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < v.len && (v.data[i] == '+' || v.data[i] == '-'))
        neg = v.data[i++] == '-';
    if (i == v.len)
        return false;
    uint64_t n = 0;
    for (; i < v.len; i++) {
        char c = v.data[i];
        if (c < '0' || c > '9')
            return false;
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(c - '0');
        if (n > (uint64_t)INT64_MAX)
            return false;
    }
    *out = neg ? -(int64_t)n : (int64_t)n;
    return true;
}

/* otel_env_get_int with the diagnostic's "using ..." text given by the caller (NULL: *out), and
 * |what| the value should be ("an integer"). */
static bool get_int(const otel_env *env, const char *name, int64_t min, int64_t max, int64_t *out,
                    const char *what, const char *used)
{
    otel_str v;
    if (!otel_env_get_str(env, name, &v))
        return false;
    int64_t n;
    if (parse_int(v, &n) && n >= min && n <= max) {
        *out = n;
        return true;
    }
    char expected[96], dflt[32];
    snprintf(expected, sizeof(expected), "%s in [%lld, %lld]", what, (long long)min, (long long)max);
    if (!used) {
        snprintf(dflt, sizeof(dflt), "%lld", (long long)*out);
        used = dflt;
    }
    report_invalid(name, v, expected, used);
    return false;
}

bool otel_env_get_int(const otel_env *env, const char *name, int64_t min, int64_t max, int64_t *out)
{
    return get_int(env, name, min, max, out, "an integer", NULL);
}

#define MS_MAX INT64_C(2147483647)
#define NS_PER_MS INT64_C(1000000)

static bool get_duration(const otel_env *env, const char *name, int64_t *out_ns, const char *used)
{
    char dflt[40];
    if (!used) {
        if (*out_ns < 0)
            used = "no limit";
        else {
            snprintf(dflt, sizeof(dflt), "%lld ms", (long long)(*out_ns / NS_PER_MS));
            used = dflt;
        }
    }
    int64_t ms = 0;
    if (!get_int(env, name, 0, MS_MAX, &ms, "milliseconds", used))
        return false;
    *out_ns = ms * NS_PER_MS;
    return true;
}

bool otel_env_get_duration_ms(const otel_env *env, const char *name, int64_t *out_ns)
{
    return get_duration(env, name, out_ns, NULL);
}

bool otel_env_get_double(const otel_env *env, const char *name, double min, double max, double *out)
{
    otel_str v;
    if (!otel_env_get_str(env, name, &v))
        return false;
    bool ok = false;
    double d = 0;
    char buf[64];
    if (v.len < sizeof(buf)) {
        memcpy(buf, v.data, v.len);
        buf[v.len] = '\0';
        /* Parse in the C locale: "0.5" must not depend on the program's LC_NUMERIC. */
        locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (c) {
            char *end = NULL;
            d = strtod_l(buf, &end, c);
            ok = end == buf + v.len && isfinite(d) && d >= min && d <= max;
            freelocale(c);
        }
    }
    if (ok) {
        *out = d;
        return true;
    }
    char expected[96], dflt[32];
    snprintf(expected, sizeof(expected), "a number in [%g, %g]", min, max);
    snprintf(dflt, sizeof(dflt), "%g", *out);
    report_invalid(name, v, expected, dflt);
    return false;
}

/* "a, b, c" into |buf|. */
static const char *join_names(const char *const *names, size_t count, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && w < cap; i++) {
        if (!names[i])
            continue;
        int n = snprintf(buf + w, cap - w, "%s%s", w ? ", " : "", names[i]);
        if (n < 0)
            break;
        w += (size_t)n;
    }
    return buf;
}

bool otel_env_get_enum(const otel_env *env, const char *name, const char *const *names, size_t count,
                       size_t *out)
{
    otel_str v;
    if (!otel_env_get_str(env, name, &v))
        return false;
    for (size_t i = 0; i < count; i++) {
        if (names[i] && eq_nocase(v, names[i])) {
            *out = i;
            return true;
        }
    }
    char expected[512];
    size_t w = (size_t)snprintf(expected, sizeof(expected), "one of ");
    join_names(names, count, expected + w, sizeof(expected) - w);
    report_invalid(name, v, expected, *out < count && names[*out] ? names[*out] : "the default");
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * otel_sdk_config
 *
 * The string fields are freed with otel__free(). The header lets a program store a strdup()'d
 * string there; that works because the allocation funnel forwards to libc (its test hooks must,
 * too: see mem.h).
 * ------------------------------------------------------------------------------------------- */

void otel_sdk_config_init(otel_sdk_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = OTEL_LOG_INFO;
    cfg->sampler = OTEL_SAMPLER_PARENTBASED_ALWAYS_ON;
    cfg->sampler_ratio = 1.0;
}

void otel_sdk_config_cleanup(otel_sdk_config *cfg)
{
    if (!cfg)
        return;
    otel__free(cfg->service_name);
    otel__free(cfg->resource_attributes);
    otel__free(cfg->sampler_name);
    otel__free(cfg->sampler_arg);
    otel__free(cfg->traces_exporter);
    otel__free(cfg->propagators);
    otel_sdk_config_init(cfg);
}

/* Replaces |*field| with a copy of |v|; on NOMEM the field is left as it was. */
static otel_status set_str(char **field, otel_str v, bool lowercase)
{
    char *s = otel__strndup(v.data, v.len);
    if (!s)
        return OTEL_ERR_NOMEM;
    if (lowercase)
        for (size_t i = 0; i < v.len; i++)
            s[i] = lower(s[i]);
    otel__free(*field);
    *field = s;
    return OTEL_OK;
}

static otel_status read_str(const otel_env *env, const char *name, char **field)
{
    otel_str v;
    if (!otel_env_get_str(env, name, &v))
        return OTEL_OK;
    return set_str(field, v, false);
}

static const char *const log_level_names[] = { "none", "error", "warn", "info", "debug" };

static void read_log_level(const otel_env *env, otel_sdk_config *cfg)
{
    otel_str v;
    if (!otel_env_get_str(env, "OTEL_LOG_LEVEL", &v))
        return;
    if (otel_log_level_parse(v, &cfg->log_level))
        return;
    size_t cur = (size_t)cfg->log_level;
    report_invalid("OTEL_LOG_LEVEL", v, "one of none, error, warn, info, debug",
                   cur < sizeof(log_level_names) / sizeof(log_level_names[0]) ? log_level_names[cur]
                                                                              : "info");
}

static const struct {
    const char *name;
    otel_sampler_kind kind;
} samplers[] = {
    { "parentbased_always_on", OTEL_SAMPLER_PARENTBASED_ALWAYS_ON },
    { "always_on", OTEL_SAMPLER_ALWAYS_ON },
    { "always_off", OTEL_SAMPLER_ALWAYS_OFF },
    { "traceidratio", OTEL_SAMPLER_TRACEIDRATIO },
    { "parentbased_always_off", OTEL_SAMPLER_PARENTBASED_ALWAYS_OFF },
    { "parentbased_traceidratio", OTEL_SAMPLER_PARENTBASED_TRACEIDRATIO },
    /* Samplers the specification (or a vendor) defines that the SDK does not build itself: the
     * configure library decides what to do with them. */
    { "jaeger_remote", OTEL_SAMPLER_OTHER },
    { "parentbased_jaeger_remote", OTEL_SAMPLER_OTHER },
    { "xray", OTEL_SAMPLER_OTHER },
    { "datadog", OTEL_SAMPLER_OTHER },
};
#define SAMPLER_COUNT (sizeof(samplers) / sizeof(samplers[0]))

static const char *sampler_kind_name(const otel_sdk_config *cfg)
{
    if (cfg->sampler == OTEL_SAMPLER_OTHER)
        return cfg->sampler_name ? cfg->sampler_name : "other";
    for (size_t i = 0; i < SAMPLER_COUNT; i++)
        if (samplers[i].kind == cfg->sampler)
            return samplers[i].name;
    return "parentbased_always_on";
}

static bool sampler_takes_ratio(otel_sampler_kind k)
{
    return k == OTEL_SAMPLER_TRACEIDRATIO || k == OTEL_SAMPLER_PARENTBASED_TRACEIDRATIO;
}

static otel_status read_sampler(const otel_env *env, otel_sdk_config *cfg)
{
    otel_status st = OTEL_OK;
    otel_str v;
    if (otel_env_get_str(env, "OTEL_TRACES_SAMPLER", &v)) {
        size_t i = 0;
        while (i < SAMPLER_COUNT && !eq_nocase(v, samplers[i].name))
            i++;
        if (i == SAMPLER_COUNT) {
            const char *names[SAMPLER_COUNT];
            for (size_t k = 0; k < SAMPLER_COUNT; k++)
                names[k] = samplers[k].name;
            char expected[512];
            size_t w = (size_t)snprintf(expected, sizeof(expected), "one of ");
            join_names(names, SAMPLER_COUNT, expected + w, sizeof(expected) - w);
            report_invalid("OTEL_TRACES_SAMPLER", v, expected, sampler_kind_name(cfg));
        }
        /* Named before the kind changes: the warning above names the sampler still in use. */
        if (set_str(&cfg->sampler_name, v, true) != OTEL_OK)
            st = OTEL_ERR_NOMEM;
        if (i < SAMPLER_COUNT)
            cfg->sampler = samplers[i].kind;
    }
    if (otel_env_get_str(env, "OTEL_TRACES_SAMPLER_ARG", &v)) {
        if (set_str(&cfg->sampler_arg, v, false) != OTEL_OK)
            st = OTEL_ERR_NOMEM;
        /* For other samplers the argument means something else (jaeger_remote: endpoint=...),
         * or nothing, which the specification says to ignore. */
        if (sampler_takes_ratio(cfg->sampler))
            otel_env_get_double(env, "OTEL_TRACES_SAMPLER_ARG", 0.0, 1.0, &cfg->sampler_ratio);
    }
    return st;
}

/* A span limit: 0..2^31-1, where 0 is an explicit zero (OTEL_LIMIT_ZERO, since 0 in the struct
 * means "default"). */
static void read_limit(const otel_env *env, const char *name, uint32_t *field, const char *default_text)
{
    char used[32];
    if (*field == OTEL_LIMIT_DEFAULT)
        snprintf(used, sizeof(used), "%s", default_text);
    else if (*field == OTEL_LIMIT_ZERO)
        snprintf(used, sizeof(used), "0");
    else if (*field == OTEL_LIMIT_UNLIMITED)
        snprintf(used, sizeof(used), "no limit");
    else
        snprintf(used, sizeof(used), "%lu", (unsigned long)*field);
    int64_t v = 0;
    if (get_int(env, name, 0, MS_MAX, &v, "an integer", used))
        *field = v == 0 ? OTEL_LIMIT_ZERO : (uint32_t)v;
}

static void read_limits(const otel_env *env, otel_span_limits *l)
{
    /* The generic variable first, so the span-specific one overrides it, and an invalid
     * span-specific value leaves the generic one in force (named in its diagnostic). */
    read_limit(env, "OTEL_ATTRIBUTE_COUNT_LIMIT", &l->attr_count, "the default 128");
    read_limit(env, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", &l->attr_count, "the default 128");
    read_limit(env, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", &l->attr_value_length, "no limit");
    read_limit(env, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", &l->attr_value_length, "no limit");
    read_limit(env, "OTEL_SPAN_EVENT_COUNT_LIMIT", &l->event_count, "the default 128");
    read_limit(env, "OTEL_SPAN_LINK_COUNT_LIMIT", &l->link_count, "the default 128");
    read_limit(env, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", &l->event_attr_count, "the default 128");
    read_limit(env, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", &l->link_attr_count, "the default 128");
}

#define BSP_QUEUE_DEFAULT 2048u
#define BSP_BATCH_DEFAULT 512u

static void read_batch(const otel_env *env, otel_batch_options *b)
{
    int64_t ns = b->schedule_delay_ns;
    if (get_duration(env, "OTEL_BSP_SCHEDULE_DELAY", &ns, ns ? NULL : "the default 5000 ms"))
        /* 0 in the struct means "default"; a delay of 0 ms asks to export as soon as possible,
         * which the smallest positive delay does. */
        b->schedule_delay_ns = ns > 0 ? ns : 1;

    ns = b->export_timeout_ns;
    if (get_duration(env, "OTEL_BSP_EXPORT_TIMEOUT", &ns, ns ? NULL : "the default 30000 ms"))
        b->export_timeout_ns = ns > 0 ? ns : -1; /* the specification: 0 is no limit */

    char used[40];
    int64_t v = b->max_queue_size;
    snprintf(used, sizeof(used), "%s%lld", v ? "" : "the default ",
             v ? (long long)v : (long long)BSP_QUEUE_DEFAULT);
    bool queue_set = get_int(env, "OTEL_BSP_MAX_QUEUE_SIZE", 1, MS_MAX, &v, "an integer", used);
    if (queue_set)
        b->max_queue_size = (uint32_t)v;

    v = b->max_export_batch_size;
    snprintf(used, sizeof(used), "%s%lld", v ? "" : "the default ",
             v ? (long long)v : (long long)BSP_BATCH_DEFAULT);
    bool batch_set = get_int(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, MS_MAX, &v, "an integer", used);
    if (batch_set)
        b->max_export_batch_size = (uint32_t)v;

    uint32_t queue = b->max_queue_size ? b->max_queue_size : BSP_QUEUE_DEFAULT;
    uint32_t batch = b->max_export_batch_size ? b->max_export_batch_size : BSP_BATCH_DEFAULT;
    if (batch > queue && (queue_set || batch_set)) {
        /* The specification: the batch size must not exceed the queue size. Only a batch size
         * the user gave is worth a warning; a default one simply follows a small queue. */
        if (batch_set)
            otel__log(OTEL_LOG_WARN,
                      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=%lu is larger than the queue size %lu; "
                      "using %lu",
                      (unsigned long)batch, (unsigned long)queue, (unsigned long)queue);
        b->max_export_batch_size = queue;
    }
}

/* Lowercases |v|, trims its comma-separated items, and drops empty and repeated ones. Writes
 * the result (possibly empty) to |out| (room for v.len + 1 bytes). */
static void normalize_list(otel_str v, char *out)
{
    size_t w = 0;
    size_t pos = 0;
    while (pos < v.len) {
        size_t end = pos;
        while (end < v.len && v.data[end] != ',')
            end++;
        size_t a = pos, z = end;
        pos = end + 1;
        while (a < z && is_space(v.data[a]))
            a++;
        while (z > a && is_space(v.data[z - 1]))
            z--;
        if (a == z)
            continue;
        /* Compare with the items already written (lowercase) before appending. */
        otel_str item = { v.data + a, z - a };
        bool dup = false;
        size_t p = 0;
        while (p < w && !dup) {
            size_t e = p;
            while (e < w && out[e] != ',')
                e++;
            dup = e - p == item.len;
            for (size_t k = 0; dup && k < item.len; k++)
                dup = out[p + k] == lower(item.data[k]);
            p = e + 1;
        }
        if (dup)
            continue;
        if (w)
            out[w++] = ',';
        for (size_t k = 0; k < item.len; k++)
            out[w++] = lower(item.data[k]);
    }
    out[w] = '\0';
}

static otel_status read_list(const otel_env *env, const char *name, char **field, const char *default_value)
{
    otel_str v;
    if (otel_env_get_str(env, name, &v)) {
        char *s = otel__malloc(v.len + 1);
        if (!s)
            return OTEL_ERR_NOMEM;
        normalize_list(v, s);
        if (s[0]) {
            otel__free(*field);
            *field = s;
            return OTEL_OK;
        }
        otel__free(s);
        report_invalid(name, v, "a comma-separated list of names", *field ? *field : default_value);
    }
    if (!*field) {
        *field = otel__strndup(default_value, strlen(default_value));
        if (!*field)
            return OTEL_ERR_NOMEM;
    }
    return OTEL_OK;
}

otel_status otel_sdk_config_from_env(otel_sdk_config *cfg, const otel_env *env)
{
    if (!cfg)
        return OTEL_ERR_INVALID_ARG;
    otel_status st = OTEL_OK;
    otel_str v;

    if (otel_env_get_str(env, "OTEL_CONFIG_FILE", &v) ||
        otel_env_get_str(env, "OTEL_EXPERIMENTAL_CONFIG_FILE", &v))
        otel__log(OTEL_LOG_WARN,
                  "OTEL_CONFIG_FILE is set, but otelc does not read configuration files; using "
                  "the other OTEL_* variables");

    otel_env_get_bool(env, "OTEL_SDK_DISABLED", &cfg->disabled);
    read_log_level(env, cfg);
    if (read_str(env, "OTEL_SERVICE_NAME", &cfg->service_name) != OTEL_OK)
        st = OTEL_ERR_NOMEM;
    if (read_str(env, "OTEL_RESOURCE_ATTRIBUTES", &cfg->resource_attributes) != OTEL_OK)
        st = OTEL_ERR_NOMEM;
    if (read_sampler(env, cfg) != OTEL_OK)
        st = OTEL_ERR_NOMEM;
    read_limits(env, &cfg->limits);
    read_batch(env, &cfg->batch);
    if (read_list(env, "OTEL_TRACES_EXPORTER", &cfg->traces_exporter, "otlp") != OTEL_OK)
        st = OTEL_ERR_NOMEM;
    if (read_list(env, "OTEL_PROPAGATORS", &cfg->propagators, "tracecontext,baggage") != OTEL_OK)
        st = OTEL_ERR_NOMEM;
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Turning the settings into objects
 * ------------------------------------------------------------------------------------------- */

otel_status otel_sdk_config_make_sampler(const otel_sdk_config *cfg, otel_sampler *out)
{
    if (!cfg || !out)
        return OTEL_ERR_INVALID_ARG;
    otel_sampler root = { 0 };
    otel_status st;
    switch (cfg->sampler) {
    case OTEL_SAMPLER_ALWAYS_ON:
        *out = otel_sampler_always_on();
        return OTEL_OK;
    case OTEL_SAMPLER_ALWAYS_OFF:
        *out = otel_sampler_always_off();
        return OTEL_OK;
    case OTEL_SAMPLER_TRACEIDRATIO:
        return otel_sampler_trace_id_ratio(cfg->sampler_ratio, out);
    case OTEL_SAMPLER_PARENTBASED_ALWAYS_ON:
        root = otel_sampler_always_on();
        break;
    case OTEL_SAMPLER_PARENTBASED_ALWAYS_OFF:
        root = otel_sampler_always_off();
        break;
    case OTEL_SAMPLER_PARENTBASED_TRACEIDRATIO:
        st = otel_sampler_trace_id_ratio(cfg->sampler_ratio, &root);
        if (st != OTEL_OK)
            return st;
        break;
    case OTEL_SAMPLER_OTHER:
        return OTEL_ERR_NOT_FOUND;
    default:
        return OTEL_ERR_INVALID_ARG;
    }
    st = otel_sampler_parent_based(root, NULL, out);
    if (st != OTEL_OK)
        otel_sampler_destroy(&root); /* not owned by parent_based on failure */
    return st;
}

otel_status otel_sdk_config_make_resource(const otel_sdk_config *cfg, otel_resource **out)
{
    if (!cfg || !out)
        return OTEL_ERR_INVALID_ARG;
    otel_resource *def = NULL, *env = NULL;
    otel_status st = otel_resource_default(&def);
    if (st != OTEL_OK)
        return st;
    st = otel_resource_parse(otel_str_from_cstr(cfg->resource_attributes),
                             otel_str_from_cstr(cfg->service_name), "OTEL_RESOURCE_ATTRIBUTES", &env);
    if (st == OTEL_OK)
        st = otel_resource_merge(def, env, out);
    otel_resource_release(env);
    otel_resource_release(def);
    return st;
}
