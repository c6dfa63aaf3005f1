/* The OpenTelemetry -> Datadog naming rules (operation name "V2", resource, span type), as a
 * table of cases taken from the Datadog agent's OTLP mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dd_mapping.h"

struct kv {
    const char *key;
    const char *value; /* NULL ends the list */
};

struct mapping_case {
    otel_span_kind kind;
    const char *span_name;
    struct kv attrs[6];
    const char *name, *resource, *type;
};

static const struct mapping_case cases[] = {
    /* operation.name / resource.name / span.type win. */
    { OTEL_SPAN_KIND_SERVER,
      "n",
      { { "operation.name", "custom.op" },
        { "resource.name", "R" },
        { "span.type", "worker" },
        { "http.request.method", "GET" } },
      "custom.op",
      "R",
      "worker" },
    /* HTTP */
    { OTEL_SPAN_KIND_SERVER,
      "GET /u/{id}",
      { { "http.request.method", "GET" }, { "http.route", "/u/:id" } },
      "http.server.request",
      "GET /u/:id",
      "web" },
    { OTEL_SPAN_KIND_SERVER, "x", { { "http.method", "POST" } }, "http.server.request", "POST", "web" },
    { OTEL_SPAN_KIND_SERVER,
      "x",
      { { "http.request.method", "_OTHER" }, { "http.route", "/r" } },
      "http.server.request",
      "HTTP /r",
      "web" },
    { OTEL_SPAN_KIND_CLIENT,
      "x",
      { { "http.request.method", "GET" }, { "http.route", "/r" } },
      "http.client.request",
      "GET",
      "http" },
    /* HTTP method on an internal span: no http name; the resource still uses the method. */
    { OTEL_SPAN_KIND_INTERNAL, "x", { { "http.request.method", "GET" } }, "internal", "GET", "custom" },
    /* Databases */
    { OTEL_SPAN_KIND_CLIENT,
      "q",
      { { "db.system", "PostgreSQL" }, { "db.statement", "SELECT 1" } },
      "postgresql.query",
      "SELECT 1",
      "sql" },
    { OTEL_SPAN_KIND_CLIENT,
      "q",
      { { "db.system.name", "redis" }, { "db.query.text", "GET k" } },
      "redis.query",
      "GET k",
      "redis" },
    { OTEL_SPAN_KIND_CLIENT, "q", { { "db.system", "mongodb" } }, "mongodb.query", "q", "mongodb" },
    { OTEL_SPAN_KIND_CLIENT, "q", { { "db.system", "couchdb" } }, "couchdb.query", "q", "db" },
    { OTEL_SPAN_KIND_SERVER, "q", { { "db.system", "mysql" } }, "server.request", "q", "web" },
    /* Messaging */
    { OTEL_SPAN_KIND_CONSUMER,
      "m",
      { { "messaging.system", "Kafka" },
        { "messaging.operation.type", "process" },
        { "messaging.destination.name", "orders" } },
      "kafka.process",
      "process orders",
      "custom" },
    { OTEL_SPAN_KIND_PRODUCER,
      "m",
      { { "messaging.system", "rabbitmq" }, { "messaging.operation", "publish" } },
      "rabbitmq.publish",
      "publish",
      "custom" },
    { OTEL_SPAN_KIND_INTERNAL,
      "m",
      { { "messaging.system", "kafka" }, { "messaging.operation", "x" } },
      "internal",
      "x",
      "custom" },
    /* RPC */
    { OTEL_SPAN_KIND_CLIENT,
      "r",
      { { "rpc.system", "aws-api" }, { "rpc.service", "DynamoDB" }, { "rpc.method", "GetItem" } },
      "aws.dynamodb.request",
      "GetItem DynamoDB",
      "http" },
    { OTEL_SPAN_KIND_CLIENT, "r", { { "rpc.system", "aws-api" } }, "aws.client.request", "r", "http" },
    { OTEL_SPAN_KIND_CLIENT,
      "r",
      { { "rpc.system", "gRPC" }, { "rpc.method", "Get" } },
      "grpc.client.request",
      "Get",
      "http" },
    { OTEL_SPAN_KIND_SERVER,
      "r",
      { { "rpc.system", "grpc" }, { "rpc.service", "S" }, { "rpc.method", "M" } },
      "grpc.server.request",
      "M S",
      "web" },
    /* FaaS */
    { OTEL_SPAN_KIND_CLIENT,
      "f",
      { { "faas.invoked_provider", "AWS" }, { "faas.invoked_name", "MyFn" } },
      "aws.myfn.invoke",
      "f",
      "http" },
    { OTEL_SPAN_KIND_SERVER, "f", { { "faas.trigger", "Datasource" } }, "datasource.invoke", "f", "web" },
    /* Any gen_ai.* attribute makes an LLM span (after span.type, before the kind). */
    { OTEL_SPAN_KIND_CLIENT,
      "chat gpt-4",
      { { "gen_ai.operation.name", "chat" }, { "gen_ai.request.model", "gpt-4" } },
      "client.request",
      "chat gpt-4",
      "llm" },
    { OTEL_SPAN_KIND_INTERNAL, "c", { { "a", "b" }, { "gen_ai.system", "openai" } }, "internal", "c", "llm" },
    { OTEL_SPAN_KIND_CLIENT,
      "c",
      { { "http.request.method", "POST" }, { "gen_ai.system", "openai" } },
      "http.client.request",
      "POST",
      "llm" },
    { OTEL_SPAN_KIND_SERVER,
      "c",
      { { "gen_ai.system", "x" }, { "span.type", "worker" } },
      "server.request",
      "c",
      "worker" },
    { OTEL_SPAN_KIND_SERVER, "c", { { "gen_ai", "x" }, { "gen_aix.y", "x" } }, "server.request", "c", "web" },
    /* GraphQL */
    { OTEL_SPAN_KIND_INTERNAL,
      "g",
      { { "graphql.operation.type", "query" }, { "graphql.operation.name", "Q" } },
      "graphql.server.request",
      "query Q",
      "custom" },
    /* Generic server / client */
    { OTEL_SPAN_KIND_SERVER,
      "s",
      { { "network.protocol.name", "AMQP" } },
      "amqp.server.request",
      "s",
      "web" },
    { OTEL_SPAN_KIND_CLIENT, "c", { { NULL, NULL } }, "client.request", "c", "http" },
    { OTEL_SPAN_KIND_SERVER, "s", { { NULL, NULL } }, "server.request", "s", "web" },
    /* HTTP spans next to keys that take precedence over the HTTP rules or change them */
    { OTEL_SPAN_KIND_CLIENT,
      "c",
      { { "http.request.method", "GET" }, { "db.system", "redis" } },
      "http.client.request",
      "GET",
      "redis" },
    { OTEL_SPAN_KIND_CLIENT,
      "c",
      { { "http.request.method", "GET" }, { "db.system.name", "postgresql" } },
      "http.client.request",
      "GET",
      "sql" },
    { OTEL_SPAN_KIND_SERVER,
      "s",
      { { "http.request.method", "GET" }, { "db.system", "redis" }, { "http.route", "/r" } },
      "http.server.request",
      "GET /r",
      "web" },
    { OTEL_SPAN_KIND_SERVER,
      "s",
      { { "http.request.method", "GET" }, { "operation.name", "op" }, { "resource.name", "res" } },
      "op",
      "res",
      "web" },
    { OTEL_SPAN_KIND_CLIENT,
      "c",
      { { "http.request.method", "GET" }, { "span.type", "cache" } },
      "http.client.request",
      "GET",
      "cache" },
    { OTEL_SPAN_KIND_SERVER,
      "s",
      { { "http.request.method", "" }, { "http.method", "PUT" }, { "http.route", "/p" } },
      "http.server.request",
      "PUT /p",
      "web" },
    { OTEL_SPAN_KIND_SERVER,
      "s",
      { { "http.request.method", "" }, { "messaging.operation", "send" } },
      "http.server.request",
      "send",
      "web" },
    { OTEL_SPAN_KIND_SERVER,
      "s",
      { { "http.request.method", "_OTHER" }, { "http.route", "/o" } },
      "http.server.request",
      "HTTP /o",
      "web" },
    { OTEL_SPAN_KIND_PRODUCER, "p", { { "http.request.method", "GET" } }, "producer", "GET", "custom" },
    { OTEL_SPAN_KIND_INTERNAL, "i", { { "http.method", "GET" } }, "internal", "GET", "custom" },
    /* Kind names */
    { OTEL_SPAN_KIND_PRODUCER, "p", { { NULL, NULL } }, "producer", "p", "custom" },
    { OTEL_SPAN_KIND_CONSUMER, "c", { { NULL, NULL } }, "consumer", "c", "custom" },
    { OTEL_SPAN_KIND_INTERNAL, "i", { { NULL, NULL } }, "internal", "i", "custom" },
};

static void test_mapping_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mapping_case *c = &cases[i];
        otel_attr attrs[6];
        size_t n = 0;
        for (; n < 6 && c->attrs[n].key; n++) {
            attrs[n].key = otel_str_from_cstr(c->attrs[n].key);
            attrs[n].value = otel_value_str(otel_str_from_cstr(c->attrs[n].value));
        }
        struct otel__dd_attr_index ix;
        otel__dd_index_attrs(attrs, n, &ix);
        struct otel__dd_view v = {
            .kind = c->kind, .name = otel_str_from_cstr(c->span_name), .attrs = attrs, .ix = &ix
        };
        char buf[128];
        otel_str name, resource, type;
        otel__dd_map_span(&v, buf, sizeof(buf), &name, &resource, &type);
        if (!otel_str_eq(name, otel_str_from_cstr(c->name)) ||
            !otel_str_eq(resource, otel_str_from_cstr(c->resource)) ||
            !otel_str_eq(type, otel_str_from_cstr(c->type)))
            fail_msg("case %zu: got (%.*s, %.*s, %.*s), want (%s, %s, %s)", i, (int)name.len, name.data,
                     (int)resource.len, resource.data, (int)type.len, type.data, c->name, c->resource,
                     c->type);
        /* With a resource (one without keys the mapping reads) every rule is taken in turn, not
         * the HTTP shortcut: the same result. */
        otel_attr res[] = { OTEL_ATTR_STR_LIT("host.name", "h") };
        struct otel__dd_attr_index rix;
        otel__dd_index_attrs(res, 1, &rix);
        v.res_attrs = res;
        v.res_ix = &rix;
        char buf2[128];
        otel_str name2, resource2, type2;
        otel__dd_map_span(&v, buf2, sizeof(buf2), &name2, &resource2, &type2);
        if (!otel_str_eq(name, name2) || !otel_str_eq(resource, resource2) || !otel_str_eq(type, type2))
            fail_msg("case %zu: the general rules give (%.*s, %.*s, %.*s)", i, (int)name2.len, name2.data,
                     (int)resource2.len, resource2.data, (int)type2.len, type2.data);
    }
}

static void test_resource_attributes_are_consulted_after_the_span(void **state)
{
    (void)state;
    otel_attr span_attrs[] = { OTEL_ATTR_STR_LIT("http.request.method", "GET") };
    otel_attr res_attrs[] = { OTEL_ATTR_STR_LIT("http.route", "/from/resource"),
                              OTEL_ATTR_STR_LIT("span.type", "res-type") };
    struct otel__dd_attr_index ix, rix;
    otel__dd_index_attrs(span_attrs, 1, &ix);
    otel__dd_index_attrs(res_attrs, 2, &rix);
    struct otel__dd_view v = { .kind = OTEL_SPAN_KIND_SERVER,
                               .name = OTEL_STR("x"),
                               .attrs = span_attrs,
                               .ix = &ix,
                               .res_attrs = res_attrs,
                               .res_ix = &rix };
    char buf[64];
    otel_str name, resource, type;
    otel__dd_map_span(&v, buf, sizeof(buf), &name, &resource, &type);
    assert_true(otel_str_eq(resource, OTEL_STR("GET /from/resource")));
    assert_true(otel_str_eq(type, OTEL_STR("res-type")));
}

static void test_composed_names_report_the_space_they_need(void **state)
{
    (void)state;
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("http.request.method", "GET"),
                          OTEL_ATTR_STR_LIT("http.route", "/a/very/long/route/that/does/not/fit") };
    struct otel__dd_attr_index ix;
    otel__dd_index_attrs(attrs, 2, &ix);
    struct otel__dd_view v = {
        .kind = OTEL_SPAN_KIND_SERVER, .name = OTEL_STR("x"), .attrs = attrs, .ix = &ix
    };
    char small[8];
    otel_str name, resource, type;
    size_t need = otel__dd_map_span(&v, small, sizeof(small), &name, &resource, &type);
    assert_int_equal(need, strlen("GET /a/very/long/route/that/does/not/fit"));
    assert_int_equal(resource.len, sizeof(small)); /* cut, never overflowing */
    char big[64];
    otel__dd_map_span(&v, big, need, &name, &resource, &type);
    assert_true(otel_str_eq(resource, OTEL_STR("GET /a/very/long/route/that/does/not/fit")));
    /* No buffer at all: still no write. */
    assert_int_equal(otel__dd_map_span(&v, NULL, 0, &name, &resource, &type), need);
}

static void test_non_string_values_and_unknown_keys_are_ignored(void **state)
{
    (void)state;
    otel_attr attrs[] = { OTEL_ATTR_INT("http.request.method", 5), OTEL_ATTR_STR_LIT("db.systemx", "pg"),
                          OTEL_ATTR_STR_LIT("operation.name", "") };
    struct otel__dd_attr_index ix;
    otel__dd_index_attrs(attrs, 3, &ix);
    /* The int method still marks the span as HTTP for the name (presence), but is no resource. */
    struct otel__dd_view v = {
        .kind = OTEL_SPAN_KIND_CLIENT, .name = OTEL_STR("n"), .attrs = attrs, .ix = &ix
    };
    char buf[64];
    otel_str name, resource, type;
    otel__dd_map_span(&v, buf, sizeof(buf), &name, &resource, &type);
    assert_true(otel_str_eq(name, OTEL_STR("http.client.request")));
    assert_true(otel_str_eq(resource, OTEL_STR("n")));
    assert_int_equal(otel__dd_key_of(OTEL_STR("db.systemx")), -1);
    assert_int_equal(otel__dd_key_of(OTEL_STR("")), -1);
    assert_int_equal(otel__dd_key_of(OTEL_STR("deployment.environment.name")),
                     OTEL__DDK_DEPLOYMENT_ENVIRONMENT_NAME);
}

static void test_every_known_key_is_found_and_near_misses_are_not(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int k;
    } known[] = {
        { "db.query.text", OTEL__DDK_DB_QUERY_TEXT },
        { "db.statement", OTEL__DDK_DB_STATEMENT },
        { "db.system", OTEL__DDK_DB_SYSTEM },
        { "db.system.name", OTEL__DDK_DB_SYSTEM_NAME },
        { "deployment.environment", OTEL__DDK_DEPLOYMENT_ENVIRONMENT },
        { "deployment.environment.name", OTEL__DDK_DEPLOYMENT_ENVIRONMENT_NAME },
        { "faas.invoked_name", OTEL__DDK_FAAS_INVOKED_NAME },
        { "faas.invoked_provider", OTEL__DDK_FAAS_INVOKED_PROVIDER },
        { "faas.trigger", OTEL__DDK_FAAS_TRIGGER },
        { "graphql.operation.name", OTEL__DDK_GRAPHQL_OPERATION_NAME },
        { "graphql.operation.type", OTEL__DDK_GRAPHQL_OPERATION_TYPE },
        { "http.method", OTEL__DDK_HTTP_METHOD },
        { "http.request.method", OTEL__DDK_HTTP_REQUEST_METHOD },
        { "http.response.status_code", OTEL__DDK_HTTP_RESPONSE_STATUS_CODE },
        { "http.route", OTEL__DDK_HTTP_ROUTE },
        { "http.status_code", OTEL__DDK_HTTP_STATUS_CODE },
        { "messaging.destination", OTEL__DDK_MESSAGING_DESTINATION },
        { "messaging.destination.name", OTEL__DDK_MESSAGING_DESTINATION_NAME },
        { "messaging.operation", OTEL__DDK_MESSAGING_OPERATION },
        { "messaging.operation.type", OTEL__DDK_MESSAGING_OPERATION_TYPE },
        { "messaging.system", OTEL__DDK_MESSAGING_SYSTEM },
        { "network.protocol.name", OTEL__DDK_NETWORK_PROTOCOL_NAME },
        { "operation.name", OTEL__DDK_OPERATION_NAME },
        { "resource.name", OTEL__DDK_RESOURCE_NAME },
        { "rpc.method", OTEL__DDK_RPC_METHOD },
        { "rpc.service", OTEL__DDK_RPC_SERVICE },
        { "rpc.system", OTEL__DDK_RPC_SYSTEM },
        { "sampling.priority", OTEL__DDK_SAMPLING_PRIORITY },
        { "service.name", OTEL__DDK_SERVICE_NAME },
        { "service.version", OTEL__DDK_SERVICE_VERSION },
        { "span.type", OTEL__DDK_SPAN_TYPE },
        { "url.full", OTEL__DDK_URL_FULL },
    };
    assert_int_equal(sizeof(known) / sizeof(known[0]), OTEL__DDK_COUNT);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        char buf[64];
        size_t n = strlen(known[i].key);
        memcpy(buf, known[i].key, n);
        assert_int_equal(otel__dd_key_of((otel_str){ buf, n }), known[i].k);
        /* Every single-byte change, a byte more or less: none is a known key. */
        for (size_t j = 0; j < n; j++) {
            char c = buf[j];
            buf[j] = (char)(c ^ 0x20);
            assert_int_equal(otel__dd_key_of((otel_str){ buf, n }), -1);
            buf[j] = c;
        }
        buf[n] = 'x';
        assert_int_equal(otel__dd_key_of((otel_str){ buf, n + 1 }), -1);
        assert_int_equal(otel__dd_key_of((otel_str){ buf, n - 1 }), -1);
        assert_int_equal(otel__dd_key_of((otel_str){ buf + 1, n - 1 }), -1);
    }
    /* The index: positions, the last duplicate winning. */
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("http.route", "/a"), OTEL_ATTR_STR_LIT("x.y", "z"),
                          OTEL_ATTR_STR_LIT("http.route", "/b"), OTEL_ATTR_STR_LIT("gen_ai.system", "o") };
    struct otel__dd_attr_index ix;
    otel__dd_index_attrs(attrs, 4, &ix);
    assert_int_equal(ix.at[OTEL__DDK_HTTP_ROUTE], 3);
    assert_int_equal(ix.at[OTEL__DDK_HTTP_METHOD], 0);
    assert_true(ix.gen_ai);
}

/* A resource whose only known key is one that otel__dd_index_has_resource_keys does not report
 * maps every span as no resource at all would; one it reports is a key the mapping reads. */
static void test_resource_keys_the_mapping_reads(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "operation.name",
        "resource.name",
        "span.type",
        "service.name",
        "http.request.method",
        "http.method",
        "http.route",
        "db.system",
        "db.system.name",
        "db.statement",
        "db.query.text",
        "messaging.system",
        "messaging.operation",
        "messaging.operation.type",
        "messaging.destination",
        "messaging.destination.name",
        "rpc.system",
        "rpc.service",
        "rpc.method",
        "faas.invoked_provider",
        "faas.invoked_name",
        "faas.trigger",
        "graphql.operation.type",
        "graphql.operation.name",
        "network.protocol.name",
        "http.response.status_code",
        "http.status_code",
        "url.full",
        "deployment.environment",
        "deployment.environment.name",
        "service.version",
        "sampling.priority",
    };
    assert_int_equal(sizeof(keys) / sizeof(keys[0]), OTEL__DDK_COUNT);
    otel_attr span_sets[3][2] = {
        { OTEL_ATTR_STR_LIT("x", "y"), OTEL_ATTR_STR_LIT("z", "w") },
        { OTEL_ATTR_STR_LIT("http.request.method", "GET"), OTEL_ATTR_STR_LIT("z", "w") },
        { OTEL_ATTR_STR_LIT("db.system", "redis"), OTEL_ATTR_STR_LIT("messaging.system", "kafka") },
    };
    size_t reported = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        otel_attr res[] = { { otel_str_from_cstr(keys[i]), otel_value_str(OTEL_STR("v")) } };
        struct otel__dd_attr_index rix;
        otel__dd_index_attrs(res, 1, &rix);
        bool has = otel__dd_index_has_resource_keys(&rix);
        reported += has;
        bool differs = false;
        for (int kind = 0; kind <= OTEL_SPAN_KIND_CONSUMER; kind++) {
            for (size_t set = 0; set < 3; set++) {
                struct otel__dd_attr_index ix;
                otel__dd_index_attrs(span_sets[set], 2, &ix);
                struct otel__dd_view v = {
                    .kind = (otel_span_kind)kind, .name = OTEL_STR("n"), .attrs = span_sets[set], .ix = &ix
                };
                char b1[64], b2[64];
                otel_str n1, r1, t1, n2, r2, t2;
                otel__dd_map_span(&v, b1, sizeof(b1), &n1, &r1, &t1);
                v.res_attrs = res;
                v.res_ix = &rix;
                otel__dd_map_span(&v, b2, sizeof(b2), &n2, &r2, &t2);
                differs |= !otel_str_eq(n1, n2) || !otel_str_eq(r1, r2) || !otel_str_eq(t1, t2);
            }
        }
        if (differs && !has)
            fail_msg("the mapping reads %s from the resource, but it is not reported", keys[i]);
    }
    /* The resource keys of resource_parts and map_type. */
    assert_int_equal(reported, 17);
}

static void test_default_service_detection(void **state)
{
    (void)state;
    assert_true(otel__dd_is_default_service(OTEL_STR("unknown_service")));
    assert_true(otel__dd_is_default_service(OTEL_STR("unknown_service:a.out")));
    assert_false(otel__dd_is_default_service(OTEL_STR("unknown_services")));
    assert_false(otel__dd_is_default_service(OTEL_STR("checkout")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping_table),
        cmocka_unit_test(test_every_known_key_is_found_and_near_misses_are_not),
        cmocka_unit_test(test_resource_keys_the_mapping_reads),
        cmocka_unit_test(test_resource_attributes_are_consulted_after_the_span),
        cmocka_unit_test(test_composed_names_report_the_space_they_need),
        cmocka_unit_test(test_non_string_values_and_unknown_keys_are_ignored),
        cmocka_unit_test(test_default_service_detection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
