/* OTEL_EXPORTER_OTLP_* configuration: reads the generic and the traces-specific variables into an
 * otel_otlp_options, the signal-specific one winning, with the specification's parsing rules
 * (through the SDK's public otel_env_* helpers). Endpoints and header lists may carry
 * credentials, so their diagnostics name the variable and never quote the value. */
#include <string.h>

#include "exporter_common.h"
#include "log_internal.h"
#include "mem.h"
#include "otel/exporters/otlp.h"
#include "otlp_internal.h"

#define VAR(suffix) "OTEL_EXPORTER_OTLP_" suffix
#define TRACES_VAR(suffix) "OTEL_EXPORTER_OTLP_TRACES_" suffix

static const char *const protocol_names[] = { "http/protobuf", "http/json", "grpc" };
static const char *const compression_names[] = { "none", "gzip" };

static const char *default_endpoint(otel_otlp_protocol p)
{
    return p == OTEL_OTLP_GRPC ? "http://localhost:4317" : "http://localhost:4318/v1/traces";
}

static otel_status set_string(char **field, otel_str v)
{
    char *s = otel__strndup(v.data, v.len);
    if (!s)
        return OTEL_ERR_NOMEM;
    otel__free(*field);
    *field = s;
    return OTEL_OK;
}

/* The generic endpoint plus "/v1/traces", without doubling a trailing slash; a query string
 * stays at the end. */
static otel_status set_generic_http_endpoint(char **field, otel_str v, const struct otel__otlp_url *u)
{
    static const char suffix[] = "v1/traces";
    size_t before = (size_t)(u->path.data - v.data) + u->path.len; /* up to the end of the path */
    otel_str rest = { v.data + before, v.len - before };
    bool slash = u->path.len && u->path.data[u->path.len - 1] == '/';
    size_t n = before + (slash ? 0 : 1) + sizeof(suffix) - 1 + rest.len;
    char *s = otel__malloc(n + 1);
    if (!s)
        return OTEL_ERR_NOMEM;
    char *p = s;
    memcpy(p, v.data, before);
    p += before;
    if (!slash)
        *p++ = '/';
    memcpy(p, suffix, sizeof(suffix) - 1);
    p += sizeof(suffix) - 1;
    memcpy(p, rest.data, rest.len);
    p[rest.len] = '\0';
    otel__free(*field);
    *field = s;
    return OTEL_OK;
}

static otel_status read_endpoint(const otel_env *env, otel_otlp_options *o)
{
    bool grpc = o->protocol == OTEL_OTLP_GRPC;
    const char *what = grpc ? "an http(s):// URL or host:port" : "an http(s):// URL";
    otel_str v;
    struct otel__otlp_url u;
    const char *current = o->endpoint ? "the endpoint set before" : default_endpoint(o->protocol);
    if (otel_env_get_str(env, TRACES_VAR("ENDPOINT"), &v)) {
        if (otel__otlp_url_parse(v, grpc, &u))
            return set_string(&o->endpoint, v);
        OTEL__LOG(OTEL_LOG_WARN, "%s is not %s; using %s", TRACES_VAR("ENDPOINT"), what, current);
        /* An invalid signal-specific value falls back to the generic one, as for the others. */
    }
    if (!otel_env_get_str(env, VAR("ENDPOINT"), &v))
        return OTEL_OK;
    if (!otel__otlp_url_parse(v, grpc, &u)) {
        OTEL__LOG(OTEL_LOG_WARN, "%s is not %s; using %s", VAR("ENDPOINT"), what, current);
        return OTEL_OK;
    }
    return grpc ? set_string(&o->endpoint, v) : set_generic_http_endpoint(&o->endpoint, v, &u);
}

static void free_headers(otel_otlp_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        otel__free(h[i].name);
        if (h[i].value) {
            /* The value may be a credential: do not leave it in freed memory. */
            memset(h[i].value, 0, strlen(h[i].value));
            otel__free(h[i].value);
        }
    }
    otel__free(h);
}

static otel_str trim(otel_str s)
{
    while (s.len && (s.data[0] == ' ' || s.data[0] == '\t')) {
        s.data++;
        s.len--;
    }
    while (s.len && (s.data[s.len - 1] == ' ' || s.data[s.len - 1] == '\t'))
        s.len--;
    return s;
}

static bool is_token_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Parses "k1=v1,k2=v2" (keys and values percent-decoded, spaces around them trimmed). A bad
 * entry is skipped with a diagnostic that gives its position, never its text. */
static otel_status parse_headers(const char *var, otel_str list, otel_otlp_header **out, size_t *count)
{
    size_t cap = 1;
    for (size_t i = 0; i < list.len; i++)
        cap += list.data[i] == ',';
    otel_otlp_header *h = otel__calloc(cap, sizeof(*h));
    if (!h)
        return OTEL_ERR_NOMEM;
    size_t n = 0, index = 0;
    const char *p = list.data, *end = list.data + list.len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        otel_str entry = trim((otel_str){ p, (size_t)(stop - p) });
        p = stop + 1;
        if (entry.len == 0) {
            if (!comma)
                break;
            continue;
        }
        index++;
        const char *eq = memchr(entry.data, '=', entry.len);
        const char *problem = NULL;
        char *name = NULL, *value = NULL;
        if (!eq) {
            problem = "has no '='";
        } else {
            otel_str k = trim((otel_str){ entry.data, (size_t)(eq - entry.data) });
            otel_str v = trim((otel_str){ eq + 1, (size_t)(entry.data + entry.len - eq - 1) });
            name = otel__malloc(k.len + 1);
            value = otel__malloc(v.len + 1);
            if (!name || !value) {
                otel__free(name);
                otel__free(value);
                free_headers(h, n);
                return OTEL_ERR_NOMEM;
            }
            size_t kl = otel__percent_decode(k, name);
            size_t vl = otel__percent_decode(v, value);
            if (kl == (size_t)-1 || vl == (size_t)-1) {
                problem = "has a malformed percent-escape";
                name[0] = '\0';
                memset(value, 0, v.len + 1);
            } else {
                name[kl] = '\0';
                value[vl] = '\0';
                if (kl == 0) {
                    problem = "has an empty key";
                } else {
                    for (size_t i = 0; i < kl && !problem; i++)
                        if (!is_token_char((unsigned char)name[i]))
                            problem = "has a key that is not a valid header name";
                    for (size_t i = 0; i < vl && !problem; i++)
                        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
                            problem = "has a value with a line break or NUL";
                }
            }
        }
        if (problem) {
            OTEL__LOG(OTEL_LOG_WARN, "%s: entry %zu %s; skipped", var, index, problem);
            otel__free(name);
            if (value) {
                memset(value, 0, strlen(value));
                otel__free(value);
            }
        } else {
            h[n].name = name;
            h[n].value = value;
            n++;
        }
        if (!comma)
            break;
    }
    *out = h;
    *count = n;
    return OTEL_OK;
}

static otel_status read_headers(const otel_env *env, otel_otlp_options *o)
{
    const char *var = TRACES_VAR("HEADERS");
    otel_str v;
    if (!otel_env_get_str(env, var, &v)) {
        var = VAR("HEADERS");
        if (!otel_env_get_str(env, var, &v))
            return OTEL_OK;
    }
    otel_otlp_header *h = NULL;
    size_t n = 0;
    otel_status st = parse_headers(var, v, &h, &n);
    if (st != OTEL_OK)
        return st;
    free_headers(o->headers, o->header_count);
    o->headers = h;
    o->header_count = n;
    return OTEL_OK;
}

static otel_status read_path(const otel_env *env, const char *generic, const char *traces, char **field)
{
    otel_str v;
    if (otel_env_get_str(env, traces, &v) || otel_env_get_str(env, generic, &v))
        return set_string(field, v);
    return OTEL_OK;
}

otel_status otel_otlp_options_from_env(otel_otlp_options *o, const otel_env *env)
{
    if (!o)
        return OTEL_ERR_INVALID_ARG;
    size_t idx = (unsigned)o->protocol <= OTEL_OTLP_GRPC ? (size_t)o->protocol : 0;
    otel_env_get_enum(env, VAR("PROTOCOL"), protocol_names, 3, &idx);
    otel_env_get_enum(env, TRACES_VAR("PROTOCOL"), protocol_names, 3, &idx);
    o->protocol = (otel_otlp_protocol)idx;

    idx = (unsigned)o->compression <= OTEL_OTLP_COMPRESSION_GZIP ? (size_t)o->compression : 0;
    otel_env_get_enum(env, VAR("COMPRESSION"), compression_names, 2, &idx);
    otel_env_get_enum(env, TRACES_VAR("COMPRESSION"), compression_names, 2, &idx);
    o->compression = (otel_otlp_compression)idx;

    /* The spec: a timeout of 0 means no limit; here that is a negative timeout_ns. */
    int64_t ns = o->timeout_ns;
    bool set = otel_env_get_duration_ms(env, VAR("TIMEOUT"), &ns);
    set |= otel_env_get_duration_ms(env, TRACES_VAR("TIMEOUT"), &ns);
    if (set)
        o->timeout_ns = ns == 0 ? -1 : ns;

    otel_env_get_bool(env, VAR("INSECURE"), &o->insecure);
    otel_env_get_bool(env, TRACES_VAR("INSECURE"), &o->insecure);

    otel_status st = read_endpoint(env, o);
    if (st == OTEL_OK)
        st = read_headers(env, o);
    if (st == OTEL_OK)
        st = read_path(env, VAR("CERTIFICATE"), TRACES_VAR("CERTIFICATE"), &o->certificate_file);
    if (st == OTEL_OK)
        st = read_path(env, VAR("CLIENT_KEY"), TRACES_VAR("CLIENT_KEY"), &o->client_key_file);
    if (st == OTEL_OK)
        st = read_path(env, VAR("CLIENT_CERTIFICATE"), TRACES_VAR("CLIENT_CERTIFICATE"),
                       &o->client_certificate_file);
    return st;
}

void otel_otlp_options_cleanup(otel_otlp_options *o)
{
    if (!o)
        return;
    otel__free(o->endpoint);
    free_headers(o->headers, o->header_count);
    otel__free(o->certificate_file);
    otel__free(o->client_certificate_file);
    otel__free(o->client_key_file);
    memset(o, 0, sizeof(*o));
}
