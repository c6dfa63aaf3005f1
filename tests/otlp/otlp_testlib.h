/* Helpers shared by the OTLP tests: a span that sets every field otelc can export, and checks
 * that compare what protobuf-c decoded from our bytes with the otel_span_data it came from,
 * field by field. Header-only; include after cmocka.h. */
#ifndef OTEL_TESTS_OTLP_TESTLIB_H
#define OTEL_TESTS_OTLP_TESTLIB_H

#include <math.h>
#include <string.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otel/sdk/trace.h"
#include "otlp_encode.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;

static inline pb_request *pb_decode(const uint8_t *data, size_t len)
{
    return opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, data);
}

static inline void pb_free(pb_request *r)
{
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * A span with everything
 * ------------------------------------------------------------------------------------------- */

struct full_span {
    otel_span_data data;
    otel_scope_data scope;
    otel_resource *resource;
    otel_trace_state *trace_state;
    otel_trace_state *link_trace_state;
    otel_event_data events[2];
    otel_link_data links[2];
};

static const bool full_bools[] = { true, false, true };
static const int64_t full_ints[] = { 0, -1, INT64_MAX, INT64_MIN };
static const double full_doubles[] = { 0.5, -2.25, 1e300 };
static const otel_str full_strs[] = { { "a", 1 }, { "", 0 }, { "\xc3\xa9t\xc3\xa9", 5 } };
static const uint8_t full_bytes[] = { 0, 1, 2, 0xff, 0x80 };

static const otel_attr full_attrs[] = {
    { { "str", 3 }, { .type = OTEL_VALUE_STR, .as.s = { "value", 5 } } },
    { { "empty_str", 9 }, { .type = OTEL_VALUE_STR, .as.s = { "", 0 } } },
    { { "bool_true", 9 }, { .type = OTEL_VALUE_BOOL, .as.b = true } },
    { { "bool_false", 10 }, { .type = OTEL_VALUE_BOOL, .as.b = false } },
    { { "int", 3 }, { .type = OTEL_VALUE_INT, .as.i = 42 } },
    { { "int_zero", 8 }, { .type = OTEL_VALUE_INT, .as.i = 0 } },
    { { "int_neg", 7 }, { .type = OTEL_VALUE_INT, .as.i = -123456789012345 } },
    { { "double", 6 }, { .type = OTEL_VALUE_DOUBLE, .as.d = 3.25 } },
    { { "double_zero", 11 }, { .type = OTEL_VALUE_DOUBLE, .as.d = 0.0 } },
    { { "bytes", 5 }, { .type = OTEL_VALUE_BYTES, .as.s = { (const char *)full_bytes, 5 } } },
    { { "empty", 5 }, { .type = OTEL_VALUE_EMPTY } },
    { { "bools", 5 },
      { .type = OTEL_VALUE_ARRAY, .array_type = OTEL_VALUE_BOOL, .as.array = { full_bools, 3 } } },
    { { "ints", 4 },
      { .type = OTEL_VALUE_ARRAY, .array_type = OTEL_VALUE_INT, .as.array = { full_ints, 4 } } },
    { { "doubles", 7 },
      { .type = OTEL_VALUE_ARRAY, .array_type = OTEL_VALUE_DOUBLE, .as.array = { full_doubles, 3 } } },
    { { "strs", 4 },
      { .type = OTEL_VALUE_ARRAY, .array_type = OTEL_VALUE_STR, .as.array = { full_strs, 3 } } },
    { { "empty_array", 11 },
      { .type = OTEL_VALUE_ARRAY, .array_type = OTEL_VALUE_INT, .as.array = { NULL, 0 } } },
};
#define FULL_ATTR_COUNT (sizeof(full_attrs) / sizeof(full_attrs[0]))

static const otel_attr event_attrs[] = {
    { { "exception.type", 14 }, { .type = OTEL_VALUE_STR, .as.s = { "E", 1 } } },
    { { "n", 1 }, { .type = OTEL_VALUE_INT, .as.i = 7 } },
};
static const otel_attr link_attrs[] = {
    { { "link.kind", 9 }, { .type = OTEL_VALUE_STR, .as.s = { "follows", 7 } } },
};
static const otel_attr scope_attrs[] = {
    { { "scope.attr", 10 }, { .type = OTEL_VALUE_BOOL, .as.b = true } },
};
static const otel_attr resource_attrs[] = {
    { { "service.name", 12 }, { .type = OTEL_VALUE_STR, .as.s = { "checkout", 8 } } },
    { { "host.cores", 10 }, { .type = OTEL_VALUE_INT, .as.i = 8 } },
};

static inline void full_span_init(struct full_span *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(otel_resource_create(resource_attrs, 2, OTEL_STR("https://schema/res"), &f->resource),
                     OTEL_OK);
    assert_int_equal(otel_trace_state_parse(OTEL_STR("vendor=abc,ot=th:8;rv:1"), &f->trace_state), OTEL_OK);
    assert_int_equal(otel_trace_state_parse(OTEL_STR("linked=1"), &f->link_trace_state), OTEL_OK);
    f->scope = (otel_scope_data){ OTEL_STR("io.test.lib"), OTEL_STR("1.2.3"),
                                  OTEL_STR("https://schema/scope"), scope_attrs, 1 };
    otel_span_data *s = &f->data;
    for (int i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        s->context.trace_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < OTEL_SPAN_ID_SIZE; i++) {
        s->context.span_id[i] = (uint8_t)(0x10 + i);
        s->parent_span_id[i] = (uint8_t)(0x30 + i);
    }
    s->context.trace_flags = OTEL_TRACE_FLAG_SAMPLED | OTEL_TRACE_FLAG_RANDOM;
    s->parent_is_remote = true;
    s->kind = OTEL_SPAN_KIND_CLIENT;
    s->name = OTEL_STR("GET /checkout");
    s->start_time_ns = 1700000000123456789;
    s->end_time_ns = 1700000000223456789;
    s->attrs = full_attrs;
    s->attr_count = (uint32_t)FULL_ATTR_COUNT;
    s->dropped_attr_count = 3;
    f->events[0] = (otel_event_data){ OTEL_STR("exception"), 1700000000150000000, event_attrs, 2, 1 };
    f->events[1] = (otel_event_data){ OTEL_STR("retry"), 1700000000160000000, NULL, 0, 0 };
    s->events = f->events;
    s->event_count = 2;
    s->dropped_event_count = 4;
    otel_span_context lc = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED, .is_remote = true };
    memset(lc.trace_id, 0x77, OTEL_TRACE_ID_SIZE);
    memset(lc.span_id, 0x88, OTEL_SPAN_ID_SIZE);
    f->links[0] = (otel_link_data){ lc, f->link_trace_state, link_attrs, 1, 2 };
    lc.is_remote = false;
    lc.trace_flags = 0;
    memset(lc.span_id, 0x99, OTEL_SPAN_ID_SIZE);
    f->links[1] = (otel_link_data){ lc, NULL, NULL, 0, 0 };
    s->links = f->links;
    s->link_count = 2;
    s->dropped_link_count = 5;
    s->status_code = OTEL_SPAN_STATUS_ERROR;
    s->status_description = OTEL_STR("payment declined");
    s->trace_state = f->trace_state;
    s->resource = f->resource;
    s->scope = &f->scope;
}

static inline void full_span_cleanup(struct full_span *f)
{
    otel_resource_release(f->resource);
    otel_trace_state_release(f->trace_state);
    otel_trace_state_release(f->link_trace_state);
}

/* ---------------------------------------------------------------------------------------------
 * Field-by-field comparison
 * ------------------------------------------------------------------------------------------- */

static inline void check_str(const char *got, otel_str want)
{
    assert_non_null(got);
    assert_int_equal(strlen(got), want.len);
    assert_memory_equal(got, want.len ? want.data : "", want.len);
}

static inline void check_scalar(const pb_any *v, otel_value_type type, const void *p)
{
    assert_non_null(v);
    switch (type) {
    case OTEL_VALUE_BOOL:
        assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
        assert_int_equal(!!v->bool_value, *(const bool *)p);
        break;
    case OTEL_VALUE_INT:
        assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
        assert_true(v->int_value == *(const int64_t *)p);
        break;
    case OTEL_VALUE_DOUBLE:
        assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
        assert_memory_equal(&v->double_value, p, sizeof(double));
        break;
    case OTEL_VALUE_STR:
        assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
        check_str(v->string_value, *(const otel_str *)p);
        break;
    default:
        fail_msg("unexpected scalar type %d", (int)type);
    }
}

static inline void check_value(const pb_any *v, const otel_value *want)
{
    assert_non_null(v);
    switch (want->type) {
    case OTEL_VALUE_BOOL:
        check_scalar(v, OTEL_VALUE_BOOL, &want->as.b);
        break;
    case OTEL_VALUE_INT:
        check_scalar(v, OTEL_VALUE_INT, &want->as.i);
        break;
    case OTEL_VALUE_DOUBLE:
        check_scalar(v, OTEL_VALUE_DOUBLE, &want->as.d);
        break;
    case OTEL_VALUE_STR:
        check_scalar(v, OTEL_VALUE_STR, &want->as.s);
        break;
    case OTEL_VALUE_BYTES:
        assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
        assert_int_equal(v->bytes_value.len, want->as.s.len);
        if (want->as.s.len)
            assert_memory_equal(v->bytes_value.data, want->as.s.data, want->as.s.len);
        break;
    case OTEL_VALUE_EMPTY:
        assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
        break;
    case OTEL_VALUE_ARRAY: {
        assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
        assert_non_null(v->array_value);
        assert_int_equal(v->array_value->n_values, want->as.array.len);
        size_t es = want->array_type == OTEL_VALUE_BOOL     ? sizeof(bool)
                    : want->array_type == OTEL_VALUE_INT    ? sizeof(int64_t)
                    : want->array_type == OTEL_VALUE_DOUBLE ? sizeof(double)
                                                            : sizeof(otel_str);
        for (size_t i = 0; i < want->as.array.len; i++)
            check_scalar(v->array_value->values[i], (otel_value_type)want->array_type,
                         (const char *)want->as.array.items + i * es);
        break;
    }
    default:
        fail_msg("unexpected value type %d", (int)want->type);
    }
}

static inline void check_attrs(pb_kv **got, size_t n_got, const otel_attr *want, size_t n_want)
{
    assert_int_equal(n_got, n_want);
    for (size_t i = 0; i < n_want; i++) {
        check_str(got[i]->key, want[i].key);
        check_value(got[i]->value, &want[i].value);
    }
}

static inline void check_trace_state(const char *got, const otel_trace_state *ts)
{
    char buf[1024];
    size_t n = otel_trace_state_serialize(ts, buf, sizeof(buf));
    check_str(got, (otel_str){ buf, n });
}

static inline void check_span(const pb_span *p, const otel_span_data *s)
{
    assert_int_equal(p->trace_id.len, OTEL_TRACE_ID_SIZE);
    assert_memory_equal(p->trace_id.data, s->context.trace_id, OTEL_TRACE_ID_SIZE);
    assert_int_equal(p->span_id.len, OTEL_SPAN_ID_SIZE);
    assert_memory_equal(p->span_id.data, s->context.span_id, OTEL_SPAN_ID_SIZE);
    static const uint8_t zero[OTEL_SPAN_ID_SIZE] = { 0 };
    if (memcmp(s->parent_span_id, zero, OTEL_SPAN_ID_SIZE) == 0) {
        assert_int_equal(p->parent_span_id.len, 0);
    } else {
        assert_int_equal(p->parent_span_id.len, OTEL_SPAN_ID_SIZE);
        assert_memory_equal(p->parent_span_id.data, s->parent_span_id, OTEL_SPAN_ID_SIZE);
    }
    check_trace_state(p->trace_state, s->trace_state);
    assert_int_equal(p->flags,
                     (uint32_t)s->context.trace_flags | 0x100u | (s->parent_is_remote ? 0x200u : 0u));
    check_str(p->name, s->name);
    assert_int_equal((int)p->kind, (int)s->kind + 1);
    assert_true(p->start_time_unix_nano == (uint64_t)s->start_time_ns);
    assert_true(p->end_time_unix_nano == (uint64_t)s->end_time_ns);
    check_attrs(p->attributes, p->n_attributes, s->attrs, s->attr_count);
    assert_int_equal(p->dropped_attributes_count, s->dropped_attr_count);
    assert_int_equal(p->n_events, s->event_count);
    for (size_t i = 0; i < s->event_count; i++) {
        const otel_event_data *e = &s->events[i];
        assert_true(p->events[i]->time_unix_nano == (uint64_t)e->time_ns);
        check_str(p->events[i]->name, e->name);
        check_attrs(p->events[i]->attributes, p->events[i]->n_attributes, e->attrs, e->attr_count);
        assert_int_equal(p->events[i]->dropped_attributes_count, e->dropped_attr_count);
    }
    assert_int_equal(p->dropped_events_count, s->dropped_event_count);
    assert_int_equal(p->n_links, s->link_count);
    for (size_t i = 0; i < s->link_count; i++) {
        const otel_link_data *l = &s->links[i];
        const Opentelemetry__Proto__Trace__V1__Span__Link *pl = p->links[i];
        assert_int_equal(pl->trace_id.len, OTEL_TRACE_ID_SIZE);
        assert_memory_equal(pl->trace_id.data, l->context.trace_id, OTEL_TRACE_ID_SIZE);
        assert_int_equal(pl->span_id.len, OTEL_SPAN_ID_SIZE);
        assert_memory_equal(pl->span_id.data, l->context.span_id, OTEL_SPAN_ID_SIZE);
        check_trace_state(pl->trace_state, l->trace_state);
        check_attrs(pl->attributes, pl->n_attributes, l->attrs, l->attr_count);
        assert_int_equal(pl->dropped_attributes_count, l->dropped_attr_count);
        assert_int_equal(pl->flags,
                         (uint32_t)l->context.trace_flags | 0x100u | (l->context.is_remote ? 0x200u : 0u));
    }
    assert_int_equal(p->dropped_links_count, s->dropped_link_count);
    if (s->status_code == OTEL_SPAN_STATUS_UNSET && s->status_description.len == 0) {
        assert_true(p->status == NULL || (p->status->code == 0 && p->status->message[0] == 0));
    } else {
        assert_non_null(p->status);
        assert_int_equal((int)p->status->code, (int)s->status_code);
        check_str(p->status->message, s->status_description);
    }
}

static inline void check_scope(const pb_scope_spans *ss, const otel_scope_data *scope)
{
    assert_non_null(ss->scope);
    otel_scope_data empty = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 }, NULL, 0 };
    if (!scope)
        scope = &empty;
    check_str(ss->scope->name, scope->name);
    check_str(ss->scope->version, scope->version);
    check_attrs(ss->scope->attributes, ss->scope->n_attributes, scope->attrs, scope->attr_count);
    check_str(ss->schema_url, scope->schema_url);
}

static inline void check_resource(const pb_resource_spans *rs, const otel_resource *res)
{
    assert_non_null(rs->resource);
    size_t n = 0;
    const otel_attr *attrs = otel_resource_attrs(res, &n);
    check_attrs(rs->resource->attributes, rs->resource->n_attributes, attrs, n);
    check_str(rs->schema_url, otel_resource_schema_url(res));
}

#endif
