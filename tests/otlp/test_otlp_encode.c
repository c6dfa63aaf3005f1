/* Tests for the OTLP protobuf encoder (exporters/otlp/src/otlp_proto.c): everything it writes is
 * decoded with the protobuf-c code generated from our .proto files (the reference decoder) and
 * compared field by field with the spans it came from. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "log_internal.h"
#include "otel/exporters/memory.h"
#include "otlp_testlib.h"
#include "otlp_failalloc.h"

static int setup(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_NONE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    return 0;
}

static pb_request *encode_decode(struct otel__otlp_encoder *e, const otel_span_data *const *spans, size_t n)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(otel__otlp_encode_proto(e, spans, n, &data, &len), OTEL_OK);
    pb_request *r = pb_decode(data, len);
    assert_non_null(r);
    return r;
}

static void test_encode_every_field_round_trips(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    pb_request *r = encode_decode(&e, spans, 1);
    assert_int_equal(r->n_resource_spans, 1);
    check_resource(r->resource_spans[0], f.resource);
    assert_int_equal(r->resource_spans[0]->n_scope_spans, 1);
    pb_scope_spans *ss = r->resource_spans[0]->scope_spans[0];
    check_scope(ss, &f.scope);
    assert_int_equal(ss->n_spans, 1);
    check_span(ss->spans[0], &f.data);
    /* A few fields spelled out, so a bug shared by encoder and checker still shows. */
    pb_span *p = ss->spans[0];
    assert_int_equal(p->flags, 0x303);
    assert_int_equal(p->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
    assert_string_equal(p->trace_state, "vendor=abc,ot=th:8;rv:1");
    assert_int_equal(p->links[0]->flags, 0x301);
    assert_int_equal(p->links[1]->flags, 0x100);
    assert_int_equal(p->status->code,
                     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_output_is_canonical(void **state)
{
    (void)state;
    /* protobuf-c packs fields in order with minimal varints: our bytes must be identical. */
    struct full_span f;
    full_span_init(&f);
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    const uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(otel__otlp_encode_proto(&e, spans, 1, &data, &len), OTEL_OK);
    pb_request *r = pb_decode(data, len);
    assert_non_null(r);
    size_t packed =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(r);
    assert_int_equal(packed, len);
    uint8_t *again = malloc(packed);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(r, again);
    assert_memory_equal(again, data, len);
    free(again);
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_every_span_kind_is_shifted_by_one(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    for (int k = OTEL_SPAN_KIND_INTERNAL; k <= OTEL_SPAN_KIND_CONSUMER; k++) {
        f.data.kind = (otel_span_kind)k;
        const otel_span_data *spans[] = { &f.data };
        pb_request *r = encode_decode(&e, spans, 1);
        assert_int_equal((int)r->resource_spans[0]->scope_spans[0]->spans[0]->kind, k + 1);
        pb_free(r);
    }
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_root_span_has_no_parent_and_local_flags(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    memset(f.data.parent_span_id, 0, OTEL_SPAN_ID_SIZE);
    f.data.parent_is_remote = false;
    f.data.context.trace_flags = 0;
    f.data.status_code = OTEL_SPAN_STATUS_UNSET;
    f.data.status_description = (otel_str){ NULL, 0 };
    f.data.trace_state = NULL;
    f.data.dropped_attr_count = 0;
    f.data.dropped_event_count = 0;
    f.data.dropped_link_count = 0;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    pb_request *r = encode_decode(&e, spans, 1);
    pb_span *p = r->resource_spans[0]->scope_spans[0]->spans[0];
    check_span(p, &f.data);
    assert_int_equal(p->parent_span_id.len, 0);
    assert_int_equal(p->flags, 0x100);
    assert_null(p->status);
    assert_string_equal(p->trace_state, "");
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_status_ok_without_message(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    f.data.status_code = OTEL_SPAN_STATUS_OK;
    f.data.status_description = (otel_str){ NULL, 0 };
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    pb_request *r = encode_decode(&e, spans, 1);
    pb_span *p = r->resource_spans[0]->scope_spans[0]->spans[0];
    assert_non_null(p->status);
    assert_int_equal(p->status->code, 1);
    assert_string_equal(p->status->message, "");
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_replaces_invalid_utf8(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    /* Lone continuation byte, truncated sequence, overlong '/', surrogate, valid 4-byte emoji. */
    static const char bad_name[] = "a\x80"
                                   "b\xe2\x82"
                                   "c\xc0\xaf"
                                   "d\xed\xa0\x80"
                                   "e\xf0\x9f\x98\x80";
    static const char want_name[] = "a\xef\xbf\xbd"
                                    "b\xef\xbf\xbd\xef\xbf\xbd"
                                    "c\xef\xbf\xbd\xef\xbf\xbd"
                                    "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                    "e\xf0\x9f\x98\x80";
    otel_attr attrs[] = {
        { { "k\xff", 2 }, { .type = OTEL_VALUE_STR, .as.s = { "v\xfe", 2 } } },
    };
    otel_str arr[] = { { "\xc3", 1 } };
    otel_attr attrs2[] = {
        { { "arr", 3 }, { .type = OTEL_VALUE_ARRAY, .array_type = OTEL_VALUE_STR, .as.array = { arr, 1 } } },
    };
    f.data.name = (otel_str){ bad_name, sizeof(bad_name) - 1 };
    f.data.attrs = attrs;
    f.data.attr_count = 1;
    f.data.status_description = (otel_str){ "x\x80", 2 };
    f.events[0].name = (otel_str){ "\xff", 1 };
    f.events[0].attrs = attrs2;
    f.events[0].attr_count = 1;
    f.scope.name = (otel_str){ "s\xc3", 2 };
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    /* protobuf-c rejects strings that are not UTF-8, so decoding at all is half the check. */
    pb_request *r = encode_decode(&e, spans, 1);
    pb_scope_spans *ss = r->resource_spans[0]->scope_spans[0];
    pb_span *p = ss->spans[0];
    assert_string_equal(p->name, want_name);
    assert_string_equal(p->attributes[0]->key, "k\xef\xbf\xbd");
    assert_string_equal(p->attributes[0]->value->string_value, "v\xef\xbf\xbd");
    assert_string_equal(p->status->message, "x\xef\xbf\xbd");
    assert_string_equal(p->events[0]->name, "\xef\xbf\xbd");
    assert_string_equal(p->events[0]->attributes[0]->value->array_value->values[0]->string_value,
                        "\xef\xbf\xbd");
    assert_string_equal(ss->scope->name, "s\xef\xbf\xbd");
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_empty_values_with_null_pointers(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    otel_attr a[] = {
        { { "b", 1 }, { .type = OTEL_VALUE_BYTES, .as.s = { NULL, 0 } } },
        { { "s", 1 }, { .type = OTEL_VALUE_STR, .as.s = { NULL, 0 } } },
        { { NULL, 0 }, { .type = OTEL_VALUE_INT, .as.i = 1 } },
    };
    f.data.attrs = a;
    f.data.attr_count = 3;
    f.data.name = (otel_str){ NULL, 0 };
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    pb_request *r = encode_decode(&e, spans, 1);
    pb_span *p = r->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(p->n_attributes, 3);
    assert_int_equal(p->attributes[0]->value->value_case,
                     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    assert_int_equal(p->attributes[0]->value->bytes_value.len, 0);
    assert_string_equal(p->attributes[1]->value->string_value, "");
    assert_string_equal(p->attributes[2]->key, "");
    assert_string_equal(p->name, "");
    pb_free(r);
    const uint8_t *data;
    size_t len;
    assert_int_equal(otel__otlp_encode_json(&e, spans, 1, &data, &len), OTEL_OK);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_bytes_values_are_not_utf8_checked(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const otel_span_data *spans[] = { &f.data };
    pb_request *r = encode_decode(&e, spans, 1);
    pb_kv *kv = r->resource_spans[0]->scope_spans[0]->spans[0]->attributes[9];
    assert_string_equal(kv->key, "bytes");
    assert_int_equal(kv->value->bytes_value.len, 5);
    assert_memory_equal(kv->value->bytes_value.data, full_bytes, 5);
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

/* Two resources, two scopes each, spans interleaved: grouped resource first, then scope, each in
 * order of first appearance, spans keeping their batch order within a group. */
static void test_encode_groups_by_resource_then_scope(void **state)
{
    (void)state;
    struct full_span base;
    full_span_init(&base);
    otel_resource *res2 = NULL;
    otel_attr r2attrs[] = { OTEL_ATTR_STR_LIT("service.name", "other") };
    assert_int_equal(otel_resource_create(r2attrs, 1, (otel_str){ NULL, 0 }, &res2), OTEL_OK);
    otel_scope_data scope_a = { OTEL_STR("a"), OTEL_STR(""), OTEL_STR(""), NULL, 0 };
    otel_scope_data scope_b = { OTEL_STR("b"), OTEL_STR("2"), OTEL_STR(""), NULL, 0 };
    /* A copy of scope_a at another address: the same scope. */
    otel_scope_data scope_a2 = scope_a;
    enum { N = 8 };
    otel_span_data spans_data[N];
    const otel_span_data *spans[N];
    const otel_resource *res_of[N] = { base.resource, res2,          base.resource, res2,
                                       base.resource, base.resource, res2,          base.resource };
    const otel_scope_data *scope_of[N] = { &scope_a,  &scope_a, &scope_b, &scope_b,
                                           &scope_a2, NULL,     &scope_a, &scope_b };
    for (int i = 0; i < N; i++) {
        spans_data[i] = base.data;
        spans_data[i].resource = res_of[i];
        spans_data[i].scope = scope_of[i];
        spans_data[i].context.span_id[0] = (uint8_t)i;
        spans[i] = &spans_data[i];
    }
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    pb_request *r = encode_decode(&e, spans, N);
    assert_int_equal(r->n_resource_spans, 2);
    /* Resource 1: scope a {0, 4}, scope b {2, 7}, empty scope {5}. */
    pb_resource_spans *r1 = r->resource_spans[0];
    check_resource(r1, base.resource);
    assert_int_equal(r1->n_scope_spans, 3);
    check_scope(r1->scope_spans[0], &scope_a);
    assert_int_equal(r1->scope_spans[0]->n_spans, 2);
    assert_int_equal(r1->scope_spans[0]->spans[0]->span_id.data[0], 0);
    assert_int_equal(r1->scope_spans[0]->spans[1]->span_id.data[0], 4);
    check_scope(r1->scope_spans[1], &scope_b);
    assert_int_equal(r1->scope_spans[1]->n_spans, 2);
    assert_int_equal(r1->scope_spans[1]->spans[0]->span_id.data[0], 2);
    assert_int_equal(r1->scope_spans[1]->spans[1]->span_id.data[0], 7);
    check_scope(r1->scope_spans[2], NULL);
    assert_int_equal(r1->scope_spans[2]->n_spans, 1);
    assert_int_equal(r1->scope_spans[2]->spans[0]->span_id.data[0], 5);
    /* Resource 2: scope a {1, 6}, scope b {3}. */
    pb_resource_spans *r2 = r->resource_spans[1];
    check_resource(r2, res2);
    assert_int_equal(r2->n_scope_spans, 2);
    check_scope(r2->scope_spans[0], &scope_a);
    assert_int_equal(r2->scope_spans[0]->n_spans, 2);
    assert_int_equal(r2->scope_spans[0]->spans[0]->span_id.data[0], 1);
    assert_int_equal(r2->scope_spans[0]->spans[1]->span_id.data[0], 6);
    check_scope(r2->scope_spans[1], &scope_b);
    assert_int_equal(r2->scope_spans[1]->spans[0]->span_id.data[0], 3);
    for (size_t i = 0; i < r1->scope_spans[0]->n_spans; i++)
        check_span(r1->scope_spans[0]->spans[i], spans[i == 0 ? 0 : 4]);
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    otel_resource_release(res2);
    full_span_cleanup(&base);
}

static void test_encode_empty_batch_is_empty_request(void **state)
{
    (void)state;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const uint8_t *data = NULL;
    size_t len = 99;
    assert_int_equal(otel__otlp_encode_proto(&e, NULL, 0, &data, &len), OTEL_OK);
    assert_int_equal(len, 0);
    otel__otlp_encoder_cleanup(&e);
}

static void test_encode_large_batch_grows_buffer(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    enum { N = 3000 };
    const otel_span_data **spans = malloc(N * sizeof(*spans));
    for (int i = 0; i < N; i++)
        spans[i] = &f.data;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    pb_request *r = encode_decode(&e, spans, N);
    assert_int_equal(r->resource_spans[0]->scope_spans[0]->n_spans, N);
    check_span(r->resource_spans[0]->scope_spans[0]->spans[N - 1], &f.data);
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    free(spans);
    full_span_cleanup(&f);
}

static void test_encode_second_batch_allocates_nothing(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    const otel_span_data *spans[64];
    for (int i = 0; i < 64; i++)
        spans[i] = &f.data;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    const uint8_t *data;
    size_t len;
    assert_int_equal(otel__otlp_encode_proto(&e, spans, 64, &data, &len), OTEL_OK);
    failalloc_install();
    assert_int_equal(otel__otlp_encode_proto(&e, spans, 64, &data, &len), OTEL_OK);
    assert_int_equal(otel__otlp_encode_proto(&e, spans, 10, &data, &len), OTEL_OK);
    size_t n = failalloc_count();
    failalloc_uninstall();
    assert_int_equal(n, 0);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_batch_over_size_limit_fails(void **state)
{
    (void)state;
    struct full_span f;
    full_span_init(&f);
    const otel_span_data *spans[100];
    for (int i = 0; i < 100; i++)
        spans[i] = &f.data;
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 8192);
    const uint8_t *data;
    size_t len;
    assert_int_equal(otel__otlp_encode_proto(&e, spans, 100, &data, &len), OTEL_ERR_NOMEM);
    /* The encoder stays usable for a batch that fits. */
    assert_int_equal(otel__otlp_encode_proto(&e, spans, 1, &data, &len), OTEL_OK);
    assert_true(len < 8192);
    otel__otlp_encoder_cleanup(&e);
    full_span_cleanup(&f);
}

static void test_encode_survives_every_allocation_failure(void **state)
{
    (void)state;
    check_encoder_survives_every_allocation_failure(otel__otlp_encode_proto, 200);
}

/* Spans recorded by a real provider, cloned by the memory exporter: every clone has its own copy
 * of the scope, yet they share one ScopeSpans. */
static void test_encode_spans_from_provider(void **state)
{
    (void)state;
    otel_memory_exporter *mem = NULL;
    assert_int_equal(otel_memory_exporter_create(NULL, &mem), OTEL_OK);
    otel_span_processor proc;
    assert_int_equal(otel_simple_processor_create(otel_memory_exporter_as_exporter(mem), &proc), OTEL_OK);
    otel_resource *res = NULL;
    otel_attr rattrs[] = { OTEL_ATTR_STR_LIT("service.name", "svc") };
    assert_int_equal(otel_resource_create(rattrs, 1, (otel_str){ NULL, 0 }, &res), OTEL_OK);
    otel_tracer_provider_options po = { .resource = res, .processors = &proc, .processor_count = 1 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&po, &tp), OTEL_OK);
    otel_tracer_options to = { .version = OTEL_STR("9.9") };
    otel_tracer *tracer = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), &to);
    for (int i = 0; i < 3; i++) {
        otel_attr a[] = { OTEL_ATTR_INT("i", i), OTEL_ATTR_STR_LIT("k", "v") };
        otel_span_start_options so = { .kind = OTEL_SPAN_KIND_SERVER, .attrs = a, .attr_count = 2 };
        otel_span s = otel_tracer_start_span(tracer, OTEL_STR("op"), &so);
        otel_span_add_event(s, OTEL_STR("ev"), 0, a, 1);
        otel_span_set_status(s, OTEL_SPAN_STATUS_ERROR, OTEL_STR("bad"));
        otel_span_end(s);
    }
    assert_int_equal(otel_memory_exporter_count(mem), 3);
    const otel_span_data *spans[3];
    for (size_t i = 0; i < 3; i++)
        spans[i] = otel_memory_exporter_span(mem, i);
    struct otel__otlp_encoder e;
    otel__otlp_encoder_init(&e, 0);
    pb_request *r = encode_decode(&e, spans, 3);
    assert_int_equal(r->n_resource_spans, 1);
    check_resource(r->resource_spans[0], res);
    assert_int_equal(r->resource_spans[0]->n_scope_spans, 1);
    pb_scope_spans *ss = r->resource_spans[0]->scope_spans[0];
    assert_string_equal(ss->scope->name, "lib");
    assert_string_equal(ss->scope->version, "9.9");
    assert_int_equal(ss->n_spans, 3);
    for (size_t i = 0; i < 3; i++)
        check_span(ss->spans[i], spans[i]);
    pb_free(r);
    otel__otlp_encoder_cleanup(&e);
    otel_tracer_provider_destroy(tp);
    otel_resource_release(res);
    otel_memory_exporter_release(mem);
}

static void test_parse_response_reads_partial_success(void **state)
{
    (void)state;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    ps.rejected_spans = 17;
    ps.error_message = "too old";
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    resp.partial_success = &ps;
    uint8_t buf[128];
    size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp, buf);
    int64_t rejected = -1;
    otel_str msg;
    assert_true(otel__otlp_parse_response(buf, n, &rejected, &msg));
    assert_int_equal(rejected, 17);
    assert_int_equal(msg.len, 7);
    assert_memory_equal(msg.data, "too old", 7);
    /* Empty body: full success. */
    assert_true(otel__otlp_parse_response(buf, 0, &rejected, &msg));
    assert_int_equal(rejected, 0);
    assert_int_equal(msg.len, 0);
    /* Truncated: not protobuf. */
    assert_false(otel__otlp_parse_response(buf, n - 1, &rejected, &msg));
    /* Unknown fields are skipped. */
    uint8_t unknown[] = { 0x10, 0x05, 0x1a, 0x01, 'x', 0x0a, 0x02, 0x08, 0x03 };
    assert_true(otel__otlp_parse_response(unknown, sizeof(unknown), &rejected, &msg));
    assert_int_equal(rejected, 3);
}

static void test_parse_response_json_reads_partial_success(void **state)
{
    (void)state;
    const char *body = "{\"partialSuccess\": {\"errorMessage\":\"x \\\"y\\\"\", \"rejectedSpans\": \"12\"}}";
    int64_t rejected = -1;
    otel_str msg;
    assert_true(otel__otlp_parse_response_json((const uint8_t *)body, strlen(body), &rejected, &msg));
    assert_int_equal(rejected, 12);
    assert_int_equal(msg.len, strlen("x \\\"y\\\""));
    body = "{\"partialSuccess\":{}}";
    assert_true(otel__otlp_parse_response_json((const uint8_t *)body, strlen(body), &rejected, &msg));
    assert_int_equal(rejected, 0);
    body = "{\"note\":\"partialSuccess\",\"rejectedSpans\":5}";
    assert_true(otel__otlp_parse_response_json((const uint8_t *)body, strlen(body), &rejected, &msg));
    assert_int_equal(rejected, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_every_field_round_trips),
        cmocka_unit_test(test_encode_output_is_canonical),
        cmocka_unit_test(test_encode_every_span_kind_is_shifted_by_one),
        cmocka_unit_test(test_encode_root_span_has_no_parent_and_local_flags),
        cmocka_unit_test(test_encode_status_ok_without_message),
        cmocka_unit_test(test_encode_replaces_invalid_utf8),
        cmocka_unit_test(test_encode_empty_values_with_null_pointers),
        cmocka_unit_test(test_encode_bytes_values_are_not_utf8_checked),
        cmocka_unit_test(test_encode_groups_by_resource_then_scope),
        cmocka_unit_test(test_encode_empty_batch_is_empty_request),
        cmocka_unit_test(test_encode_large_batch_grows_buffer),
        cmocka_unit_test(test_encode_second_batch_allocates_nothing),
        cmocka_unit_test(test_encode_batch_over_size_limit_fails),
        cmocka_unit_test(test_encode_survives_every_allocation_failure),
        cmocka_unit_test(test_encode_spans_from_provider),
        cmocka_unit_test(test_parse_response_reads_partial_success),
        cmocka_unit_test(test_parse_response_json_reads_partial_success),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
