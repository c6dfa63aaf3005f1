/* The OpenTelemetry -> Datadog naming rules (see dd_mapping.h). They follow the Datadog agent's
 * OTLP ingestion (pkg/trace/traceutil/otel_util.go: operation name "V2", resource, span type),
 * in the same order of precedence, so that spans sent by otelc look the same in Datadog as the
 * ones an agent receives over OTLP. Key lookup switches on the key length first: most keys are
 * rejected by one compare, which matters because the encoder indexes every attribute of every
 * span. */
#include "dd_mapping.h"

#include <string.h>

struct known_key {
    const char *name;
    uint8_t len;
    uint8_t key;
};

#define KK(lit, k)                            \
    {                                         \
        "" lit, sizeof(lit) - 1, (uint8_t)(k) \
    }

/* Grouped by length; the lookup scans only the group of the key's length. */
static const struct known_key keys_8[] = { KK("url.full", OTEL__DDK_URL_FULL) };
static const struct known_key keys_9[] = { KK("span.type", OTEL__DDK_SPAN_TYPE),
                                           KK("db.system", OTEL__DDK_DB_SYSTEM) };
static const struct known_key keys_10[] = { KK("http.route", OTEL__DDK_HTTP_ROUTE),
                                            KK("rpc.system", OTEL__DDK_RPC_SYSTEM),
                                            KK("rpc.method", OTEL__DDK_RPC_METHOD) };
static const struct known_key keys_11[] = { KK("http.method", OTEL__DDK_HTTP_METHOD),
                                            KK("rpc.service", OTEL__DDK_RPC_SERVICE) };
static const struct known_key keys_12[] = { KK("service.name", OTEL__DDK_SERVICE_NAME),
                                            KK("db.statement", OTEL__DDK_DB_STATEMENT),
                                            KK("faas.trigger", OTEL__DDK_FAAS_TRIGGER) };
static const struct known_key keys_13[] = { KK("resource.name", OTEL__DDK_RESOURCE_NAME),
                                            KK("db.query.text", OTEL__DDK_DB_QUERY_TEXT) };
static const struct known_key keys_14[] = { KK("operation.name", OTEL__DDK_OPERATION_NAME),
                                            KK("db.system.name", OTEL__DDK_DB_SYSTEM_NAME) };
static const struct known_key keys_15[] = { KK("service.version", OTEL__DDK_SERVICE_VERSION) };
static const struct known_key keys_16[] = { KK("messaging.system", OTEL__DDK_MESSAGING_SYSTEM),
                                            KK("http.status_code", OTEL__DDK_HTTP_STATUS_CODE) };
static const struct known_key keys_17[] = { KK("faas.invoked_name", OTEL__DDK_FAAS_INVOKED_NAME),
                                            KK("sampling.priority", OTEL__DDK_SAMPLING_PRIORITY) };
static const struct known_key keys_19[] = {
    KK("http.request.method", OTEL__DDK_HTTP_REQUEST_METHOD),
    KK("messaging.operation", OTEL__DDK_MESSAGING_OPERATION),
};
static const struct known_key keys_21[] = {
    KK("messaging.destination", OTEL__DDK_MESSAGING_DESTINATION),
    KK("faas.invoked_provider", OTEL__DDK_FAAS_INVOKED_PROVIDER),
    KK("network.protocol.name", OTEL__DDK_NETWORK_PROTOCOL_NAME),
};
static const struct known_key keys_22[] = {
    KK("graphql.operation.type", OTEL__DDK_GRAPHQL_OPERATION_TYPE),
    KK("graphql.operation.name", OTEL__DDK_GRAPHQL_OPERATION_NAME),
    KK("deployment.environment", OTEL__DDK_DEPLOYMENT_ENVIRONMENT),
};
static const struct known_key keys_24[] = {
    KK("messaging.operation.type", OTEL__DDK_MESSAGING_OPERATION_TYPE),
};
static const struct known_key keys_25[] = {
    KK("http.response.status_code", OTEL__DDK_HTTP_RESPONSE_STATUS_CODE),
};
static const struct known_key keys_26[] = {
    KK("messaging.destination.name", OTEL__DDK_MESSAGING_DESTINATION_NAME),
};
static const struct known_key keys_27[] = {
    KK("deployment.environment.name", OTEL__DDK_DEPLOYMENT_ENVIRONMENT_NAME),
};

#define GROUP(arr) arr, sizeof(arr) / sizeof(arr[0])

/* |n| (>= 8) bytes equal, compared 8 at a time (the last word overlapping), without a call. */
static inline bool key_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
}

static int lookup(const struct known_key *group, size_t n, otel_str key)
{
    for (size_t i = 0; i < n; i++) {
        /* The last byte differs between most same-length keys: test it first. */
        if (group[i].name[key.len - 1] == key.data[key.len - 1] && key_eq(group[i].name, key.data, key.len))
            return group[i].key;
    }
    return -1;
}

static inline __attribute__((always_inline)) int key_of(otel_str key)
{
    switch (key.len) {
    case 8:
        return lookup(GROUP(keys_8), key);
    case 9:
        return lookup(GROUP(keys_9), key);
    case 10:
        return lookup(GROUP(keys_10), key);
    case 11:
        return lookup(GROUP(keys_11), key);
    case 12:
        return lookup(GROUP(keys_12), key);
    case 13:
        return lookup(GROUP(keys_13), key);
    case 14:
        return lookup(GROUP(keys_14), key);
    case 15:
        return lookup(GROUP(keys_15), key);
    case 16:
        return lookup(GROUP(keys_16), key);
    case 17:
        return lookup(GROUP(keys_17), key);
    case 19:
        return lookup(GROUP(keys_19), key);
    case 21:
        return lookup(GROUP(keys_21), key);
    case 22:
        return lookup(GROUP(keys_22), key);
    case 24:
        return lookup(GROUP(keys_24), key);
    case 25:
        return lookup(GROUP(keys_25), key);
    case 26:
        return lookup(GROUP(keys_26), key);
    case 27:
        return lookup(GROUP(keys_27), key);
    default:
        return -1;
    }
}

int otel__dd_key_of(otel_str key)
{
    return key_of(key);
}

void otel__dd_index_attrs(const otel_attr *attrs, size_t count, struct otel__dd_attr_index *ix)
{
    memset(ix, 0, sizeof(*ix));
    if (!attrs)
        return;
    if (count > UINT16_MAX - 1)
        count = UINT16_MAX - 1;
    bool gen_ai = false;
    for (size_t i = 0; i < count; i++) {
        otel_str key = attrs[i].key;
        int k = key_of(key);
        if (k >= 0)
            ix->at[k] = (uint16_t)(i + 1);
        else if (key.len > 7 && key.data[0] == 'g')
            /* The agent's "llm" span type: any key starting with "gen_ai.". */
            gen_ai |= memcmp(key.data, "gen_ai.", 7) == 0;
    }
    ix->gen_ai = gen_ai;
}

bool otel__dd_get_str(const struct otel__dd_view *v, enum otel__ddk k, bool use_resource, otel_str *out)
{
    uint16_t at = v->ix->at[k];
    if (at) {
        const otel_value *val = &v->attrs[at - 1].value;
        if (val->type == OTEL_VALUE_STR && val->as.s.len) {
            *out = val->as.s;
            return true;
        }
    }
    if (use_resource && v->res_ix) {
        at = v->res_ix->at[k];
        if (at) {
            const otel_value *val = &v->res_attrs[at - 1].value;
            if (val->type == OTEL_VALUE_STR && val->as.s.len) {
                *out = val->as.s;
                return true;
            }
        }
    }
    return false;
}

static bool get_either(const struct otel__dd_view *v, enum otel__ddk a, enum otel__ddk b, bool use_resource,
                       otel_str *out)
{
    return otel__dd_get_str(v, a, use_resource, out) || otel__dd_get_str(v, b, use_resource, out);
}

otel_str otel__dd_kind_name(otel_span_kind kind)
{
    switch (kind) {
    case OTEL_SPAN_KIND_SERVER:
        return OTEL_STR("server");
    case OTEL_SPAN_KIND_CLIENT:
        return OTEL_STR("client");
    case OTEL_SPAN_KIND_PRODUCER:
        return OTEL_STR("producer");
    case OTEL_SPAN_KIND_CONSUMER:
        return OTEL_STR("consumer");
    case OTEL_SPAN_KIND_INTERNAL:
        break;
    }
    return OTEL_STR("internal");
}

bool otel__dd_is_default_service(otel_str s)
{
    static const char prefix[] = "unknown_service";
    size_t n = sizeof(prefix) - 1;
    return s.len >= n && memcmp(s.data, prefix, n) == 0 && (s.len == n || s.data[n] == ':');
}

/* ---------------------------------------------------------------------------------------------
 * Composing strings into the caller's buffer
 * ------------------------------------------------------------------------------------------- */

struct composer {
    char *buf;
    size_t cap;
    size_t used;   /* bytes written so far (never more than cap) */
    size_t needed; /* bytes a big enough buffer would have taken */
    size_t start;
};

static void c_begin(struct composer *c)
{
    c->start = c->used;
}

static void c_put(struct composer *c, otel_str s, bool lower)
{
    c->needed += s.len;
    size_t n = c->cap - c->used < s.len ? c->cap - c->used : s.len;
    if (!lower) {
        if (n)
            memcpy(c->buf + c->used, s.data, n);
        c->used += n;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s.data[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        c->buf[c->used++] = ch;
    }
}

static otel_str c_end(struct composer *c)
{
    otel_str r = { c->buf + c->start, c->used - c->start };
    return r;
}

#define C_LIT(c, lit, lower) c_put((c), OTEL_STR(lit), (lower))

/* ---------------------------------------------------------------------------------------------
 * Operation name, resource, type
 * ------------------------------------------------------------------------------------------- */

static otel_str map_name(const struct otel__dd_view *v, struct composer *c)
{
    otel_str s, t;
    if (otel__dd_get_str(v, OTEL__DDK_OPERATION_NAME, false, &s))
        return s;
    bool client = v->kind == OTEL_SPAN_KIND_CLIENT;
    bool server = v->kind == OTEL_SPAN_KIND_SERVER;

    if (v->ix->at[OTEL__DDK_HTTP_REQUEST_METHOD] || v->ix->at[OTEL__DDK_HTTP_METHOD]) {
        if (client)
            return OTEL_STR("http.client.request");
        if (server)
            return OTEL_STR("http.server.request");
    }
    if (client && get_either(v, OTEL__DDK_DB_SYSTEM, OTEL__DDK_DB_SYSTEM_NAME, false, &s)) {
        c_begin(c);
        c_put(c, s, true);
        C_LIT(c, ".query", false);
        return c_end(c);
    }
    if (v->kind != OTEL_SPAN_KIND_INTERNAL && otel__dd_get_str(v, OTEL__DDK_MESSAGING_SYSTEM, false, &s) &&
        get_either(v, OTEL__DDK_MESSAGING_OPERATION, OTEL__DDK_MESSAGING_OPERATION_TYPE, false, &t)) {
        c_begin(c);
        c_put(c, s, true);
        C_LIT(c, ".", false);
        c_put(c, t, true);
        return c_end(c);
    }
    if (otel__dd_get_str(v, OTEL__DDK_RPC_SYSTEM, false, &s)) {
        if (client && otel_str_eq(s, OTEL_STR("aws-api"))) {
            if (!otel__dd_get_str(v, OTEL__DDK_RPC_SERVICE, false, &t))
                return OTEL_STR("aws.client.request");
            c_begin(c);
            C_LIT(c, "aws.", false);
            c_put(c, t, true);
            C_LIT(c, ".request", false);
            return c_end(c);
        }
        if (client || server) {
            c_begin(c);
            c_put(c, s, true);
            if (client)
                C_LIT(c, ".client.request", false);
            else
                C_LIT(c, ".server.request", false);
            return c_end(c);
        }
    }
    if (client && otel__dd_get_str(v, OTEL__DDK_FAAS_INVOKED_PROVIDER, false, &s) &&
        otel__dd_get_str(v, OTEL__DDK_FAAS_INVOKED_NAME, false, &t)) {
        c_begin(c);
        c_put(c, s, true);
        C_LIT(c, ".", false);
        c_put(c, t, true);
        C_LIT(c, ".invoke", false);
        return c_end(c);
    }
    if (server && otel__dd_get_str(v, OTEL__DDK_FAAS_TRIGGER, false, &s)) {
        c_begin(c);
        c_put(c, s, true);
        C_LIT(c, ".invoke", false);
        return c_end(c);
    }
    if (otel__dd_get_str(v, OTEL__DDK_GRAPHQL_OPERATION_TYPE, false, &s))
        return OTEL_STR("graphql.server.request");
    if (server || client) {
        if (!otel__dd_get_str(v, OTEL__DDK_NETWORK_PROTOCOL_NAME, false, &s))
            return server ? OTEL_STR("server.request") : OTEL_STR("client.request");
        c_begin(c);
        c_put(c, s, true);
        if (server)
            C_LIT(c, ".server.request", false);
        else
            C_LIT(c, ".client.request", false);
        return c_end(c);
    }
    return otel__dd_kind_name(v->kind);
}

static otel_str join2(struct composer *c, otel_str a, otel_str b)
{
    size_t n = a.len + 1 + b.len;
    if (c->cap - c->used >= n) {
        /* The usual case, in one go: "GET /users/:id". */
        char *d = c->buf + c->used;
        memcpy(d, a.data, a.len);
        d[a.len] = ' ';
        memcpy(d + a.len + 1, b.data, b.len);
        c->used += n;
        c->needed += n;
        otel_str r = { d, n };
        return r;
    }
    c_begin(c);
    c_put(c, a, false);
    C_LIT(c, " ", false);
    c_put(c, b, false);
    return c_end(c);
}

static inline int part1(otel_str *a, otel_str x)
{
    *a = x;
    return 1;
}

static inline int part2(otel_str *a, otel_str *b, otel_str x, otel_str y)
{
    *a = x;
    *b = y;
    return 2;
}

/* The keys resource_parts and map_type read from the resource too (use_resource): keep in step
 * with them. */
static const uint8_t resource_keys[] = {
    OTEL__DDK_RESOURCE_NAME,
    OTEL__DDK_HTTP_REQUEST_METHOD,
    OTEL__DDK_HTTP_METHOD,
    OTEL__DDK_HTTP_ROUTE,
    OTEL__DDK_MESSAGING_OPERATION_TYPE,
    OTEL__DDK_MESSAGING_OPERATION,
    OTEL__DDK_MESSAGING_DESTINATION,
    OTEL__DDK_MESSAGING_DESTINATION_NAME,
    OTEL__DDK_RPC_METHOD,
    OTEL__DDK_RPC_SERVICE,
    OTEL__DDK_GRAPHQL_OPERATION_TYPE,
    OTEL__DDK_GRAPHQL_OPERATION_NAME,
    OTEL__DDK_DB_SYSTEM_NAME,
    OTEL__DDK_DB_SYSTEM,
    OTEL__DDK_DB_STATEMENT,
    OTEL__DDK_DB_QUERY_TEXT,
    OTEL__DDK_SPAN_TYPE,
};

bool otel__dd_index_has_resource_keys(const struct otel__dd_attr_index *ix)
{
    for (size_t i = 0; i < sizeof(resource_keys); i++)
        if (ix->at[resource_keys[i]])
            return true;
    return false;
}

/* The resource as one part, or two joined by a space. */
static int resource_parts(const struct otel__dd_view *v, otel_str *a, otel_str *b)
{
    otel_str s, t;
    if (otel__dd_get_str(v, OTEL__DDK_RESOURCE_NAME, true, &s))
        return part1(a, s);
    if (get_either(v, OTEL__DDK_HTTP_REQUEST_METHOD, OTEL__DDK_HTTP_METHOD, true, &s)) {
        if (otel_str_eq(s, OTEL_STR("_OTHER")))
            s = OTEL_STR("HTTP");
        if (v->kind == OTEL_SPAN_KIND_SERVER && otel__dd_get_str(v, OTEL__DDK_HTTP_ROUTE, true, &t))
            return part2(a, b, s, t);
        return part1(a, s);
    }
    if (get_either(v, OTEL__DDK_MESSAGING_OPERATION_TYPE, OTEL__DDK_MESSAGING_OPERATION, true, &s)) {
        if (get_either(v, OTEL__DDK_MESSAGING_DESTINATION, OTEL__DDK_MESSAGING_DESTINATION_NAME, true, &t))
            return part2(a, b, s, t);
        return part1(a, s);
    }
    if (otel__dd_get_str(v, OTEL__DDK_RPC_METHOD, true, &s)) {
        if (otel__dd_get_str(v, OTEL__DDK_RPC_SERVICE, true, &t))
            return part2(a, b, s, t);
        return part1(a, s);
    }
    if (otel__dd_get_str(v, OTEL__DDK_GRAPHQL_OPERATION_TYPE, true, &s)) {
        if (otel__dd_get_str(v, OTEL__DDK_GRAPHQL_OPERATION_NAME, true, &t))
            return part2(a, b, s, t);
        return part1(a, s);
    }
    if (get_either(v, OTEL__DDK_DB_SYSTEM_NAME, OTEL__DDK_DB_SYSTEM, true, &s)) {
        if (otel__dd_get_str(v, OTEL__DDK_DB_STATEMENT, true, &t) ||
            otel__dd_get_str(v, OTEL__DDK_DB_QUERY_TEXT, true, &t))
            return part1(a, t);
    }
    return part1(a, v->name);
}

static otel_str map_resource(const struct otel__dd_view *v, struct composer *c)
{
    otel_str a, b;
    return resource_parts(v, &a, &b) == 2 ? join2(c, a, b) : a;
}

int otel__dd_map_resource_parts(const struct otel__dd_view *v, otel_str *a, otel_str *b)
{
    return resource_parts(v, a, b);
}

/* |a| equals the lowercase |b| ignoring ASCII case. */
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

/* Datadog span types for db.system values (the agent's checkDBType, which compares exactly;
 * here case does not matter, like the operation name, which is lowercased). */
static otel_str db_type(otel_str sys)
{
    static const char *const sql[] = {
        "other_sql",   "mssql",      "mysql",     "oracle",    "db2",        "postgresql",
        "redshift",    "cloudscape", "hsqldb",    "maxdb",     "ingres",     "firstsql",
        "edb",         "cache",      "firebird",  "derby",     "informix",   "mariadb",
        "sqlite",      "sybase",     "teradata",  "vertica",   "h2",         "coldfusion",
        "cockroachdb", "progress",   "hanadb",    "adabas",    "filemaker",  "instantdb",
        "interbase",   "netezza",    "pervasive", "pointbase", "clickhouse", "microsoft.sql_server",
        "ibm.db2",     "oracle.db",  "trino",     "spanner",   "tidb",
    };
    static const struct {
        const char *sys;
        const char *type;
    } other[] = {
        { "cassandra", "cassandra" },         { "redis", "redis" },
        { "memcached", "memcached" },         { "mongodb", "mongodb" },
        { "elasticsearch", "elasticsearch" }, { "opensearch", "opensearch" },
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
        if (eq_nocase(sys, sql[i]))
            return OTEL_STR("sql");
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        if (eq_nocase(sys, other[i].sys))
            return otel_str_from_cstr(other[i].type);
    return OTEL_STR("db");
}

static otel_str map_type(const struct otel__dd_view *v)
{
    otel_str s;
    if (otel__dd_get_str(v, OTEL__DDK_SPAN_TYPE, true, &s))
        return s;
    /* The agent's mapping: a span with any gen_ai.* attribute is an LLM span. */
    if (v->ix->gen_ai)
        return OTEL_STR("llm");
    switch (v->kind) {
    case OTEL_SPAN_KIND_SERVER:
        return OTEL_STR("web");
    case OTEL_SPAN_KIND_CLIENT:
        if (get_either(v, OTEL__DDK_DB_SYSTEM_NAME, OTEL__DDK_DB_SYSTEM, true, &s))
            return db_type(s);
        return OTEL_STR("http");
    default:
        return OTEL_STR("custom");
    }
}

/* The usual HTTP server or client span, mapped without going through every rule: it has an
 * HTTP method (a non-empty string) and none of the keys that would take precedence or change
 * the outcome (operation.name, resource.name, span.type, gen_ai.*, a client's db.system*), and
 * the resource holds no key the mapping reads. The result is what map_name, map_resource and
 * map_type give (test_dd_mapping's table covers both ways). False: take the general way. */
static inline bool map_http(const struct otel__dd_view *v, char *buf, size_t cap, otel_str *name,
                            otel_str *resource, otel_str *type, size_t *needed)
{
    const struct otel__dd_attr_index *ix = v->ix;
    if (!(ix->at[OTEL__DDK_HTTP_REQUEST_METHOD] | ix->at[OTEL__DDK_HTTP_METHOD]))
        return false;
    *needed = 0;
    bool server = v->kind == OTEL_SPAN_KIND_SERVER;
    if (!(server || v->kind == OTEL_SPAN_KIND_CLIENT) || v->res_ix || ix->gen_ai ||
        ix->at[OTEL__DDK_OPERATION_NAME] || ix->at[OTEL__DDK_RESOURCE_NAME] || ix->at[OTEL__DDK_SPAN_TYPE] ||
        (!server && (ix->at[OTEL__DDK_DB_SYSTEM_NAME] || ix->at[OTEL__DDK_DB_SYSTEM])))
        return false;
    otel_str m, route;
    if (!get_either(v, OTEL__DDK_HTTP_REQUEST_METHOD, OTEL__DDK_HTTP_METHOD, false, &m))
        return false;
    if (otel_str_eq(m, OTEL_STR("_OTHER")))
        m = OTEL_STR("HTTP");
    if (server) {
        *name = OTEL_STR("http.server.request");
        *resource = m;
        if (otel__dd_get_str(v, OTEL__DDK_HTTP_ROUTE, false, &route)) {
            struct composer c = { .buf = buf, .cap = buf ? cap : 0 };
            *resource = join2(&c, m, route);
            *needed = c.needed;
        }
        if (type)
            *type = OTEL_STR("web");
    } else {
        *name = OTEL_STR("http.client.request");
        *resource = m;
        if (type)
            *type = OTEL_STR("http");
    }
    return true;
}

size_t otel__dd_map_span(const struct otel__dd_view *v, char *buf, size_t cap, otel_str *name,
                         otel_str *resource, otel_str *type)
{
    size_t needed;
    if (map_http(v, buf, cap, name, resource, type, &needed))
        return needed;
    struct composer c = { .buf = buf, .cap = buf ? cap : 0 };
    *name = map_name(v, &c);
    *resource = map_resource(v, &c);
    if (type)
        *type = map_type(v);
    return c.needed;
}

size_t otel__dd_map_name(const struct otel__dd_view *v, char *buf, size_t cap, otel_str *name)
{
    struct composer c = { .buf = buf, .cap = buf ? cap : 0 };
    *name = map_name(v, &c);
    return c.needed;
}

size_t otel__dd_map_resource(const struct otel__dd_view *v, char *buf, size_t cap, otel_str *resource)
{
    struct composer c = { .buf = buf, .cap = buf ? cap : 0 };
    *resource = map_resource(v, &c);
    return c.needed;
}
