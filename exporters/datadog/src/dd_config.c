/* Datadog exporter configuration: reading the DD_* environment variables into
 * otel_datadog_options (the strings are copied into storage the options own until cleanup), and
 * resolving the agent's address from a URL, a socket path or host and port. Every invalid value
 * gives one diagnostic naming the variable and what is used instead. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dd_exporter.h"
#include "log_internal.h"
#include "mem.h"

const char *otel__dd_default_socket_path = "/var/run/datadog/apm.socket";

/* The strings from_env allocated. */
struct env_storage {
    char *agent_url;
    char *agent_host;
    char *agent_socket;
    char *service;
    char *env;
    char *version;
    char *tags;
    char *rules;
};

static otel_status take_str(const otel_env *env, const char *name, char **slot, const char **field)
{
    otel_str v;
    if (!otel_env_get_str(env, name, &v))
        return OTEL_OK;
    char *copy = otel__strndup(v.data, v.len);
    if (!copy)
        return OTEL_ERR_NOMEM;
    otel__free(*slot);
    *slot = copy;
    *field = copy;
    return OTEL_OK;
}

static bool is_socket(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

otel_status otel_datadog_options_from_env(otel_datadog_options *opts, const otel_env *env)
{
    if (!opts)
        return OTEL_ERR_INVALID_ARG;
    struct env_storage *s = opts->env_storage_;
    if (!s) {
        s = otel__calloc(1, sizeof(*s));
        if (!s)
            return OTEL_ERR_NOMEM;
        opts->env_storage_ = s;
    }
    otel_status st = OTEL_OK, r;
#define TAKE(name, slot, field)                            \
    do {                                                   \
        r = take_str(env, (name), &s->slot, &opts->field); \
        if (r != OTEL_OK)                                  \
            st = r;                                        \
    } while (0)
    TAKE("DD_TRACE_AGENT_URL", agent_url, agent_url);
    TAKE("DD_AGENT_HOST", agent_host, agent_host);
    TAKE("DD_SERVICE", service, service);
    TAKE("DD_ENV", env, env);
    TAKE("DD_VERSION", version, version);
    TAKE("DD_TAGS", tags, tags);
    TAKE("DD_TRACE_SAMPLING_RULES", rules, sampler.rules_json);
#undef TAKE
    int64_t port = opts->agent_port ? opts->agent_port : 8126;
    bool port_set = otel_env_get_int(env, "DD_TRACE_AGENT_PORT", 1, 65535, &port);
    if (port_set)
        opts->agent_port = (uint16_t)port;

    /* The default socket, when nothing names the agent (dd-trace-py's rule). */
    otel_str tmp;
    if (!otel_env_get_str(env, "DD_TRACE_AGENT_URL", &tmp) && !otel_env_get_str(env, "DD_AGENT_HOST", &tmp) &&
        !otel_env_get_str(env, "DD_TRACE_AGENT_PORT", &tmp) && !opts->agent_url && !opts->agent_host &&
        !opts->agent_port && !opts->agent_socket && is_socket(otel__dd_default_socket_path)) {
        char *copy = otel__strndup(otel__dd_default_socket_path, strlen(otel__dd_default_socket_path));
        if (!copy) {
            st = OTEL_ERR_NOMEM;
        } else {
            otel__free(s->agent_socket);
            s->agent_socket = copy;
            opts->agent_socket = copy;
        }
    }

    static const char *const versions[] = { "v0.4", "v0.5" };
    size_t vi = opts->api_version == OTEL_DATADOG_API_V05 ? 1 : 0;
    if (otel_env_get_enum(env, "DD_TRACE_API_VERSION", versions, 2, &vi))
        opts->api_version = vi ? OTEL_DATADOG_API_V05 : OTEL_DATADOG_API_V04;

    otel_str flag;
    if (otel_env_get_str(env, "DD_TRACE_NATIVE_SPAN_EVENTS", &flag)) {
        /* The Datadog tracers take 1/0 as well as true/false. */
        if (otel_str_eq(flag, OTEL_STR("1")))
            opts->native_span_events = true;
        else if (otel_str_eq(flag, OTEL_STR("0")))
            opts->native_span_events = false;
        else
            otel_env_get_bool(env, "DD_TRACE_NATIVE_SPAN_EVENTS", &opts->native_span_events);
    }

    double secs = opts->request_timeout_ns ? (double)opts->request_timeout_ns / 1e9 : 2.0;
    if (otel_env_get_double(env, "DD_TRACE_AGENT_TIMEOUT_SECONDS", 0.001, 3600.0, &secs))
        opts->request_timeout_ns = (int64_t)(secs * 1e9);

    double rate = opts->sampler.has_sample_rate ? opts->sampler.sample_rate : 1.0;
    if (otel_env_get_double(env, "DD_TRACE_SAMPLE_RATE", 0.0, 1.0, &rate)) {
        opts->sampler.has_sample_rate = true;
        opts->sampler.sample_rate = rate;
    }
    double limit = opts->sampler.has_rate_limit ? opts->sampler.rate_limit : 100.0;
    if (otel_env_get_double(env, "DD_TRACE_RATE_LIMIT", -1.0, 1e9, &limit)) {
        opts->sampler.has_rate_limit = true;
        opts->sampler.rate_limit = limit;
    }
    /* The sampler keys agent rates and matches rules by the same service and env. */
    if (opts->service && !opts->sampler.service)
        opts->sampler.service = opts->service;
    if (opts->env && !opts->sampler.env)
        opts->sampler.env = opts->env;
    return st;
}

void otel_datadog_options_cleanup(otel_datadog_options *opts)
{
    if (!opts)
        return;
    struct env_storage *s = opts->env_storage_;
    if (s) {
        otel__free(s->agent_url);
        otel__free(s->agent_host);
        otel__free(s->agent_socket);
        otel__free(s->service);
        otel__free(s->env);
        otel__free(s->version);
        otel__free(s->tags);
        otel__free(s->rules);
        otel__free(s);
    }
    memset(opts, 0, sizeof(*opts));
}

/* ---------------------------------------------------------------------------------------------
 * Agent address
 * ------------------------------------------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool set_socket(struct otel__dd_agent_addr *out, const char *path)
{
    if (!path[0] || strlen(path) >= sizeof(out->socket))
        return false;
    snprintf(out->socket, sizeof(out->socket), "%s", path);
    snprintf(out->base_url, sizeof(out->base_url), "http://localhost");
    return true;
}

otel_status otel__dd_resolve_agent(const otel_datadog_options *opts, struct otel__dd_agent_addr *out)
{
    memset(out, 0, sizeof(*out));
    const char *url = opts ? opts->agent_url : NULL;
    if (url && url[0]) {
        const char *path = NULL;
        if (starts_with(url, "unix://"))
            path = url + 7;
        else if (starts_with(url, "http+unix://"))
            path = url + 12;
        if (path) {
            if (path[0] != '/' || !set_socket(out, path)) {
                otel__log(OTEL_LOG_ERROR, "datadog: agent URL \"%.200s\": expected unix:///absolute/path",
                          url);
                return OTEL_ERR_INVALID_ARG;
            }
            return OTEL_OK;
        }
        if (!starts_with(url, "http://") && !starts_with(url, "https://")) {
            otel__log(OTEL_LOG_ERROR,
                      "datadog: agent URL \"%.200s\": expected http://host:port, "
                      "https://host:port or unix:///path",
                      url);
            return OTEL_ERR_INVALID_ARG;
        }
        const char *host = strstr(url, "://") + 3;
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        if (!host[0] || host[0] == '/' || n >= sizeof(out->base_url) || strchr(host, ' ') ||
            strchr(host, '\r') || strchr(host, '\n')) {
            otel__log(OTEL_LOG_ERROR, "datadog: agent URL \"%.200s\" has no usable host", url);
            return OTEL_ERR_INVALID_ARG;
        }
        memcpy(out->base_url, url, n);
        out->base_url[n] = '\0';
        return OTEL_OK;
    }
    if (opts && opts->agent_socket && opts->agent_socket[0]) {
        if (!set_socket(out, opts->agent_socket)) {
            otel__log(OTEL_LOG_ERROR, "datadog: agent socket path is too long");
            return OTEL_ERR_INVALID_ARG;
        }
        return OTEL_OK;
    }
    const char *host = opts && opts->agent_host && opts->agent_host[0] ? opts->agent_host : "localhost";
    unsigned port = opts && opts->agent_port ? opts->agent_port : 8126;
    if (strlen(host) > 300 || strpbrk(host, "/ \r\n@")) {
        otel__log(OTEL_LOG_ERROR, "datadog: agent host \"%.200s\" is not a host name or address", host);
        return OTEL_ERR_INVALID_ARG;
    }
    /* An IPv6 literal needs brackets in a URL. */
    bool v6 = strchr(host, ':') && host[0] != '[';
    snprintf(out->base_url, sizeof(out->base_url), v6 ? "http://[%s]:%u" : "http://%s:%u", host, port);
    return OTEL_OK;
}
