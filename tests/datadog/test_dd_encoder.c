/* The Datadog payload encoders, checked by decoding their output with python3-msgpack (through
 * dd_decode.py): every mapped field for v0.4 and v0.5, exact 64-bit ids, grouping into chunks,
 * local roots and top-level spans, splitting into several payloads, and allocation behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dd_encoder.h"
#include "failalloc.h"
#include "otel/exporters/datadog.h"

#include "dd_testutil.h"

#define U64MAX UINT64_C(18446744073709551615)
#define P63 (UINT64_C(1) << 63)

static otel_resource *make_resource(const char *service)
{
    otel_attr attrs[4];
    size_t n = 0;
    if (service)
        attrs[n++] = (otel_attr){ OTEL_STR("service.name"), otel_value_str(otel_str_from_cstr(service)) };
    attrs[n++] = OTEL_ATTR_STR_LIT("telemetry.sdk.language", "c");
    attrs[n++] = OTEL_ATTR_INT("process.pid", 4242);
    otel_resource *r = NULL;
    assert_int_equal(otel_resource_create(attrs, n, OTEL_STR(""), &r), OTEL_OK);
    return r;
}

static const otel_scope_data test_scope = { .name = OTEL_STR("my.lib"), .version = OTEL_STR("1.2") };

static otel_span_data base_span(const otel_resource *res, const char *name, otel_span_kind kind)
{
    otel_span_data d;
    memset(&d, 0, sizeof(d));
    d.name = otel_str_from_cstr(name);
    d.kind = kind;
    d.start_time_ns = INT64_C(1700000000000000000);
    d.end_time_ns = d.start_time_ns + 1500;
    d.resource = res;
    d.scope = &test_scope;
    d.context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    return d;
}

struct encoded {
    char *out;
};

static char *encode_and_decode(int version, const struct otel__dd_encoder_config *cfg_in,
                               const otel_span_data *const *spans, size_t n)
{
    struct otel__dd_encoder_config cfg = cfg_in ? *cfg_in : (struct otel__dd_encoder_config){ 0 };
    cfg.api_version = version;
    struct otel__dd_encoder e;
    otel__dd_encoder_init(&e, &cfg);
    assert_int_equal(otel__dd_encode_all(&e, spans, n), OTEL_OK);
    char *out = dd_decode(e.payload, e.payload_len, version == 5 ? "v0.5" : "v0.4");
    otel__dd_encoder_cleanup(&e);
    assert_non_null(out);
    DD_ASSERT_LACKS(out, "ERROR");
    return out;
}

/* A server root span (HTTP), a client DB child with an error and an exception event, and a link. */
static void check_full_trace(int version)
{
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("checkout");
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("dd=s:2;t.dm:-3,other=x"), &ts), OTEL_OK);

    otel_attr root_attrs[] = {
        OTEL_ATTR_STR_LIT("http.request.method", "GET"),
        OTEL_ATTR_STR_LIT("http.route", "/users/:id"),
        OTEL_ATTR_INT("http.response.status_code", 200),
        OTEL_ATTR_BOOL("cache.hit", true),
        OTEL_ATTR_DOUBLE("ratio", 0.25),
    };
    otel_span_data root = base_span(res, "GET /users/{id}", OTEL_SPAN_KIND_SERVER);
    dd_set_ids(&root, UINT64_C(0x0123456789abcdef), U64MAX, P63, 0);
    root.attrs = root_attrs;
    root.attr_count = 5;
    root.trace_state = ts;
    root.status_code = OTEL_SPAN_STATUS_OK;

    otel_attr ev_attrs[] = {
        OTEL_ATTR_STR_LIT("exception.type", "IOError"),
        OTEL_ATTR_STR_LIT("exception.message", "disk on fire"),
        OTEL_ATTR_STR_LIT("exception.stacktrace", "at main.c:12\nat start"),
    };
    otel_event_data events[] = {
        { .name = OTEL_STR("retry"), .time_ns = 1700000000000000100 },
        { .name = OTEL_STR("exception"), .time_ns = 1700000000000000200, .attrs = ev_attrs, .attr_count = 3 },
    };
    otel_attr link_attrs[] = { OTEL_ATTR_STR_LIT("link.kind", "follows") };
    otel_trace_state *lts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("vendor=abc"), &lts), OTEL_OK);
    otel_link_data links[1];
    memset(links, 0, sizeof(links));
    for (int i = 0; i < 16; i++)
        links[0].context.trace_id[i] = (uint8_t)(0x10 + i);
    for (int i = 0; i < 8; i++)
        links[0].context.span_id[i] = (uint8_t)(0xa0 + i);
    links[0].context.trace_flags = 1;
    links[0].trace_state = lts;
    links[0].attrs = link_attrs;
    links[0].attr_count = 1;

    otel_attr db_attrs[] = {
        OTEL_ATTR_STR_LIT("db.system", "PostgreSQL"),
        OTEL_ATTR_STR_LIT("db.statement", "SELECT * FROM users WHERE id = $1"),
        OTEL_ATTR_STR_LIT("peer.service", "users-db"),
    };
    otel_span_data db = base_span(res, "SELECT users", OTEL_SPAN_KIND_CLIENT);
    dd_set_ids(&db, UINT64_C(0x0123456789abcdef), U64MAX, 7, P63);
    db.attrs = db_attrs;
    db.attr_count = 3;
    db.events = events;
    db.event_count = 2;
    db.links = links;
    db.link_count = 1;
    db.status_code = OTEL_SPAN_STATUS_ERROR;
    db.status_description = OTEL_STR("query failed");
    db.trace_state = ts;

    struct otel__dd_tag tags[] = { { OTEL_STR("team"), OTEL_STR("payments") } };
    struct otel__dd_encoder_config cfg = {
        .env = OTEL_STR("prod"),
        .version = OTEL_STR("1.4.2"),
        .tags = tags,
        .tag_count = 1,
    };
    const otel_span_data *spans[] = { &root, &db };
    char *out = encode_and_decode(version, &cfg, spans, 2);
    DD_ASSERT_HAS(out, "TRACES 1\n");

    const char *r = dd_span_line(out, 0);
    assert_non_null(r);
    DD_ASSERT_HAS(r, "\"trace_id\":\"i:18446744073709551615\"");
    DD_ASSERT_HAS(r, "\"span_id\":\"i:9223372036854775808\"");
    DD_ASSERT_HAS(r, "\"parent_id\":\"i:0\"");
    DD_ASSERT_HAS(r, "\"start\":\"i:1700000000000000000\"");
    DD_ASSERT_HAS(r, "\"duration\":\"i:1500\"");
    DD_ASSERT_HAS(r, "\"error\":\"i:0\"");
    DD_ASSERT_HAS(r, "\"service\":\"s:checkout\"");
    DD_ASSERT_HAS(r, "\"name\":\"s:http.server.request\"");
    DD_ASSERT_HAS(r, "\"resource\":\"s:GET /users/:id\"");
    DD_ASSERT_HAS(r, "\"type\":\"s:web\"");
    DD_ASSERT_HAS(r, "\"_dd.p.tid\":\"s:0123456789abcdef\"");
    DD_ASSERT_HAS(r, "\"_dd.p.dm\":\"s:-3\"");
    DD_ASSERT_HAS(r, "\"_sampling_priority_v1\":\"f:2.0\"");
    DD_ASSERT_HAS(r, "\"_dd.top_level\":\"f:1.0\"");
    DD_ASSERT_LACKS(r, "_dd.measured");
    DD_ASSERT_HAS(r, "\"http.method\":\"s:GET\"");
    DD_ASSERT_HAS(r, "\"http.request.method\":\"s:GET\"");
    DD_ASSERT_HAS(r, "\"http.status_code\":\"s:200\"");
    DD_ASSERT_HAS(r, "\"http.response.status_code\":\"f:200.0\"");
    DD_ASSERT_HAS(r, "\"cache.hit\":\"s:true\"");
    DD_ASSERT_HAS(r, "\"ratio\":\"f:0.25\"");
    DD_ASSERT_HAS(r, "\"span.kind\":\"s:server\"");
    DD_ASSERT_HAS(r, "\"otel.scope.name\":\"s:my.lib\"");
    DD_ASSERT_HAS(r, "\"otel.scope.version\":\"s:1.2\"");
    DD_ASSERT_HAS(r, "\"otel.status_code\":\"s:Ok\"");
    DD_ASSERT_HAS(r, "\"env\":\"s:prod\"");
    DD_ASSERT_HAS(r, "\"version\":\"s:1.4.2\"");
    DD_ASSERT_HAS(r, "\"team\":\"s:payments\"");
    DD_ASSERT_HAS(r, "\"telemetry.sdk.language\":\"s:c\"");
    DD_ASSERT_HAS(r, "\"process.pid\":\"f:4242.0\"");
    DD_ASSERT_LACKS(r, "error.message");

    const char *c = dd_span_line(out, 1);
    assert_non_null(c);
    DD_ASSERT_HAS(c, "\"trace_id\":\"i:18446744073709551615\"");
    DD_ASSERT_HAS(c, "\"span_id\":\"i:7\"");
    DD_ASSERT_HAS(c, "\"parent_id\":\"i:9223372036854775808\"");
    DD_ASSERT_HAS(c, "\"name\":\"s:postgresql.query\"");
    DD_ASSERT_HAS(c, "\"resource\":\"s:SELECT * FROM users WHERE id = $1\"");
    DD_ASSERT_HAS(c, "\"type\":\"s:sql\"");
    DD_ASSERT_HAS(c, "\"error\":\"i:1\"");
    DD_ASSERT_HAS(c, "\"error.message\":\"s:query failed\"");
    DD_ASSERT_HAS(c, "\"error.type\":\"s:IOError\"");
    DD_ASSERT_HAS(c, "\"error.stack\":\"s:at main.c:12\\nat start\"");
    DD_ASSERT_HAS(c, "\"otel.status_code\":\"s:Error\"");
    DD_ASSERT_HAS(c, "\"_dd.span_events.has_exception\":\"s:true\"");
    DD_ASSERT_HAS(c, "\"span.kind\":\"s:client\"");
    DD_ASSERT_HAS(c, "\"_dd.measured\":\"f:1.0\"");
    DD_ASSERT_HAS(c, "\"peer.service\":\"s:users-db\"");
    DD_ASSERT_LACKS(c, "_dd.top_level");
    DD_ASSERT_LACKS(c, "_sampling_priority_v1");
    DD_ASSERT_LACKS(c, "_dd.p.tid");
    DD_ASSERT_LACKS(c, "_dd.p.dm");
    /* Events as JSON in meta (both versions). */
    DD_ASSERT_HAS(c, "\"events\":\"s:[{\\\"name\\\":\\\"retry\\\",\\\"time_unix_nano\\\":"
                     "1700000000000000100},{\\\"name\\\":\\\"exception\\\",\\\"time_unix_nano\\\":"
                     "1700000000000000200,\\\"attributes\\\":{\\\"exception.type\\\":\\\"IOError\\\"");
    if (version == 5) {
        DD_ASSERT_HAS(c,
                      "\"_dd.span_links\":\"s:[{\\\"trace_id\\\":\\\"101112131415161718191a1b1c1d1e1f\\\","
                      "\\\"span_id\\\":\\\"a0a1a2a3a4a5a6a7\\\",\\\"attributes\\\":{\\\"link.kind\\\":"
                      "\\\"follows\\\"},\\\"tracestate\\\":\\\"vendor=abc\\\",\\\"flags\\\":2147483649}]\"");
        DD_ASSERT_LACKS(c, "span_links\":[");
    } else {
        /* Native links: low and high 64 bits of the trace id, flags with bit 31 set. */
        DD_ASSERT_HAS(c, "\"span_links\":[{\"attributes\":{\"link.kind\":\"s:follows\"},"
                         "\"flags\":\"i:2147483649\",\"span_id\":\"i:11574711341044573863\","
                         "\"trace_id\":\"i:1736447835066146335\",\"trace_id_high\":\"i:1157726452361532951\","
                         "\"tracestate\":\"s:vendor=abc\"}]");
        DD_ASSERT_LACKS(c, "_dd.span_links");
    }
    free(out);
    otel_trace_state_release(ts);
    otel_trace_state_release(lts);
    otel_resource_release(res);
}

static void test_v04_round_trip_maps_every_field(void **state)
{
    (void)state;
    check_full_trace(4);
}

static void test_v05_round_trip_maps_every_field(void **state)
{
    (void)state;
    check_full_trace(5);
}

static void check_grouping(int version)
{
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    otel_span_data s[7];
    const otel_span_data *spans[7];
    /* Three traces interleaved: A(1,2,3) B(4,5) C(6); the last is a second chunk of A. */
    uint64_t trace[7] = { 1, 2, 1, 3, 2, 1, 1 };
    uint64_t span[7] = { 10, 20, 11, 30, 21, 12, 13 };
    uint64_t parent[7] = { 0, 0, 10, 0, 20, 11, 999 };
    for (int i = 0; i < 7; i++) {
        s[i] = base_span(res, "op", OTEL_SPAN_KIND_INTERNAL);
        dd_set_ids(&s[i], trace[i] == 1 ? P63 : 0, trace[i], span[i], parent[i]);
        spans[i] = &s[i];
    }
    char *out = encode_and_decode(version, NULL, spans, 7);
    DD_ASSERT_HAS(out, "TRACES 3\n");
    /* Chunks in order of first appearance, spans in arrival order. */
    const char *want[7][2] = {
        { "SPAN 0 ", "\"span_id\":\"i:10\"" }, { "SPAN 0 ", "\"span_id\":\"i:11\"" },
        { "SPAN 0 ", "\"span_id\":\"i:12\"" }, { "SPAN 0 ", "\"span_id\":\"i:13\"" },
        { "SPAN 1 ", "\"span_id\":\"i:20\"" }, { "SPAN 1 ", "\"span_id\":\"i:21\"" },
        { "SPAN 2 ", "\"span_id\":\"i:30\"" },
    };
    for (int i = 0; i < 7; i++) {
        const char *line = dd_span_line(out, i);
        assert_non_null(line);
        assert_true(strncmp(line, want[i][0], 7) == 0);
        DD_ASSERT_HAS(line, want[i][1]);
    }
    /* _dd.p.tid on the first span of trace A's chunk only (B and C have no high bits). */
    assert_int_equal(dd_count(out, "_dd.p.tid"), 1);
    DD_ASSERT_HAS(dd_span_line(out, 0), "\"_dd.p.tid\":\"s:8000000000000000\"");
    /* Local roots: 10, 20, 30 (no parent) and 13 (parent 999 not in the batch). */
    assert_int_equal(dd_count(out, "_sampling_priority_v1\":\"f:1.0"), 4);
    DD_ASSERT_HAS(dd_span_line(out, 3), "_sampling_priority_v1");
    DD_ASSERT_LACKS(dd_span_line(out, 1), "_sampling_priority_v1");
    /* No trace state: a local trace root gets the default mechanism, a partial chunk nothing. */
    DD_ASSERT_HAS(dd_span_line(out, 0), "\"_dd.p.dm\":\"s:-0\"");
    /* Internal children of the same service are not top-level; 13's parent is local (not
     * remote) and internal, so it is not either. */
    assert_int_equal(dd_count(out, "_dd.top_level"), 3);
    free(out);
    otel_resource_release(res);
}

static void test_v04_groups_spans_into_chunks_by_trace_id(void **state)
{
    (void)state;
    check_grouping(4);
}

static void test_v05_groups_spans_into_chunks_by_trace_id(void **state)
{
    (void)state;
    check_grouping(5);
}

/* Each chunk's decision comes from its own root's trace state, also when consecutive chunks
 * share one (the encoder parses a trace state once while it repeats). */
static void test_each_chunk_takes_its_roots_trace_state_decision(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    otel_trace_state *keep = NULL, *drop = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("dd=s:2;t.dm:-3"), &keep), OTEL_OK);
    assert_int_equal(otel_trace_state_parse(OTEL_STR("dd=s:-1;t.dm:-3"), &drop), OTEL_OK);
    /* Roots of five traces: keep, keep, drop, none, keep. */
    const otel_trace_state *ts[5] = { keep, keep, drop, NULL, keep };
    otel_span_data s[5];
    const otel_span_data *spans[5];
    for (int i = 0; i < 5; i++) {
        s[i] = base_span(res, "op", OTEL_SPAN_KIND_SERVER);
        dd_set_ids(&s[i], 0, (uint64_t)i + 1, (uint64_t)i + 100, 0);
        s[i].trace_state = ts[i];
        spans[i] = &s[i];
    }
    for (int v = 4; v <= 5; v++) {
        char *out = encode_and_decode(v, NULL, spans, 5);
        DD_ASSERT_HAS(out, "TRACES 5\n");
        const char *want[5][2] = {
            { "_sampling_priority_v1\":\"f:2.0", "\"_dd.p.dm\":\"s:-3\"" },
            { "_sampling_priority_v1\":\"f:2.0", "\"_dd.p.dm\":\"s:-3\"" },
            { "_sampling_priority_v1\":\"f:-1.0", "\"_dd.p.dm\":\"s:-3\"" },
            { "_sampling_priority_v1\":\"f:1.0", "\"_dd.p.dm\":\"s:-0\"" },
            { "_sampling_priority_v1\":\"f:2.0", "\"_dd.p.dm\":\"s:-3\"" },
        };
        for (int i = 0; i < 5; i++) {
            const char *line = dd_span_line(out, i);
            assert_non_null(line);
            DD_ASSERT_HAS(line, want[i][0]);
            DD_ASSERT_HAS(line, want[i][1]);
        }
        free(out);
    }
    otel_trace_state_release(keep);
    otel_trace_state_release(drop);
    otel_resource_release(res);
}

/* A "sampling.priority" attribute on a chunk's root is a manual decision: priority 2 (keep) or
 * -1 (drop), decision maker -4, whatever the trace state says. */
static void test_sampling_priority_attribute_on_the_root_is_a_manual_decision(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    otel_trace_state *ts = NULL;
    assert_int_equal(otel_trace_state_parse(OTEL_STR("dd=s:1;t.dm:-1"), &ts), OTEL_OK);
    otel_attr keep[] = { OTEL_ATTR_STR_LIT("x", "y"), OTEL_ATTR_INT("sampling.priority", 1) };
    otel_attr drop[] = { OTEL_ATTR_DOUBLE("sampling.priority", 0) };
    otel_span_data s[3];
    const otel_span_data *spans[3];
    for (int i = 0; i < 3; i++) {
        s[i] = base_span(res, "op", OTEL_SPAN_KIND_SERVER);
        dd_set_ids(&s[i], 0, (uint64_t)i + 1, (uint64_t)i + 100, 0);
        s[i].trace_state = ts;
        spans[i] = &s[i];
    }
    s[0].attrs = keep;
    s[0].attr_count = 2;
    s[1].attrs = drop;
    s[1].attr_count = 1;
    for (int v = 4; v <= 5; v++) {
        char *out = encode_and_decode(v, NULL, spans, 3);
        DD_ASSERT_HAS(dd_span_line(out, 0), "_sampling_priority_v1\":\"f:2.0");
        DD_ASSERT_HAS(dd_span_line(out, 0), "\"_dd.p.dm\":\"s:-4\"");
        DD_ASSERT_HAS(dd_span_line(out, 1), "_sampling_priority_v1\":\"f:-1.0");
        DD_ASSERT_HAS(dd_span_line(out, 1), "\"_dd.p.dm\":\"s:-4\"");
        DD_ASSERT_HAS(dd_span_line(out, 2), "_sampling_priority_v1\":\"f:1.0");
        DD_ASSERT_HAS(dd_span_line(out, 2), "\"_dd.p.dm\":\"s:-1\"");
        free(out);
    }
    otel_trace_state_release(ts);
    otel_resource_release(res);
}

/* http.response.status_code (and an integer http.status_code) reach meta["http.status_code"]
 * as decimal text, inside and outside the three-digit range. */
static void test_status_codes_as_text(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    static const int64_t codes[] = {
        100, 101, 199, 200, 204, 310, 404, 500, 599, 999, 99, 0, 1000, -1, 123456
    };
    enum { N = sizeof(codes) / sizeof(codes[0]) };
    otel_attr attrs[N][1];
    otel_span_data s[N];
    const otel_span_data *spans[N];
    for (size_t i = 0; i < N; i++) {
        if (i % 2)
            attrs[i][0] = (otel_attr)OTEL_ATTR_INT("http.response.status_code", codes[i]);
        else
            attrs[i][0] = (otel_attr)OTEL_ATTR_INT("http.status_code", codes[i]);
        s[i] = base_span(res, "op", OTEL_SPAN_KIND_SERVER);
        dd_set_ids(&s[i], 0, 1, (uint64_t)i + 100, 0);
        s[i].attrs = attrs[i];
        s[i].attr_count = 1;
        spans[i] = &s[i];
    }
    for (int v = 4; v <= 5; v++) {
        char *out = encode_and_decode(v, NULL, spans, N);
        for (size_t i = 0; i < N; i++) {
            char want[64];
            snprintf(want, sizeof(want), "\"http.status_code\":\"s:%lld\"", (long long)codes[i]);
            DD_ASSERT_HAS(dd_span_line(out, (int)i), want);
        }
        free(out);
    }
    otel_resource_release(res);
}

static void test_top_level_for_remote_parent_entry_kinds_and_service_changes(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("front");
    otel_attr other_service[] = { OTEL_ATTR_STR_LIT("service.name", "backend") };
    otel_span_data s[5];
    const otel_span_data *spans[5];
    /* 1: child of a remote parent; 2: internal child of 1; 3: consumer child of 2;
     * 4: internal child of 2 in another service; 5: producer child of 2. */
    uint64_t parent[5] = { 77, 1, 2, 2, 2 };
    otel_span_kind kinds[5] = { OTEL_SPAN_KIND_INTERNAL, OTEL_SPAN_KIND_INTERNAL, OTEL_SPAN_KIND_CONSUMER,
                                OTEL_SPAN_KIND_INTERNAL, OTEL_SPAN_KIND_PRODUCER };
    for (int i = 0; i < 5; i++) {
        s[i] = base_span(res, "op", kinds[i]);
        dd_set_ids(&s[i], 0, 5, (uint64_t)i + 1, parent[i]);
        spans[i] = &s[i];
    }
    s[0].parent_is_remote = true;
    s[3].attrs = other_service;
    s[3].attr_count = 1;
    char *out = encode_and_decode(4, NULL, spans, 5);
    DD_ASSERT_HAS(dd_span_line(out, 0), "_dd.top_level");
    DD_ASSERT_LACKS(dd_span_line(out, 1), "_dd.top_level");
    DD_ASSERT_HAS(dd_span_line(out, 2), "_dd.top_level");
    DD_ASSERT_HAS(dd_span_line(out, 3), "_dd.top_level");
    DD_ASSERT_HAS(dd_span_line(out, 3), "\"service\":\"s:backend\"");
    DD_ASSERT_LACKS(dd_span_line(out, 4), "_dd.top_level");
    DD_ASSERT_HAS(dd_span_line(out, 4), "\"_dd.measured\":\"f:1.0\"");
    /* The remote-parented span is the chunk's local root; no default dm for a continued trace. */
    DD_ASSERT_HAS(dd_span_line(out, 0), "_sampling_priority_v1\":\"f:1.0\"");
    DD_ASSERT_LACKS(dd_span_line(out, 0), "_dd.p.dm");
    free(out);
    otel_resource_release(res);
}

static void test_service_precedence_span_attr_resource_then_dd_service(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *named = make_resource("from-resource");
    otel_resource *dflt = make_resource("unknown_service:a.out");
    otel_resource *none = make_resource(NULL);
    otel_attr attr_service[] = { OTEL_ATTR_STR_LIT("service.name", "from-attr") };
    otel_span_data s[4];
    const otel_span_data *spans[4];
    const otel_resource *res[4] = { named, dflt, none, named };
    for (int i = 0; i < 4; i++) {
        s[i] = base_span(res[i], "op", OTEL_SPAN_KIND_INTERNAL);
        dd_set_ids(&s[i], 0, (uint64_t)i + 1, 1, 0);
        spans[i] = &s[i];
    }
    s[3].attrs = attr_service;
    s[3].attr_count = 1;
    struct otel__dd_encoder_config cfg = { .service = OTEL_STR("from-dd-service") };
    char *out = encode_and_decode(4, &cfg, spans, 4);
    DD_ASSERT_HAS(dd_span_line(out, 0), "\"service\":\"s:from-resource\"");
    DD_ASSERT_HAS(dd_span_line(out, 1), "\"service\":\"s:from-dd-service\"");
    DD_ASSERT_HAS(dd_span_line(out, 2), "\"service\":\"s:from-dd-service\"");
    DD_ASSERT_HAS(dd_span_line(out, 3), "\"service\":\"s:from-attr\"");
    free(out);
    /* Without DD_SERVICE the SDK default stays. */
    out = encode_and_decode(4, NULL, spans, 2);
    DD_ASSERT_HAS(dd_span_line(out, 1), "\"service\":\"s:unknown_service:a.out\"");
    free(out);
    otel_resource_release(named);
    otel_resource_release(dflt);
    otel_resource_release(none);
}

static void test_attribute_types_map_to_meta_and_metrics(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    static const otel_str strs[] = { OTEL_STR("a"), OTEL_STR("b\"c") };
    static const int64_t ints[] = { 1, -2 };
    static const bool bools[] = { true, false };
    otel_attr attrs[] = {
        OTEL_ATTR_STR_LIT("s", "text"),
        OTEL_ATTR_INT("i", -7),
        OTEL_ATTR_DOUBLE("d", 1.5),
        OTEL_ATTR_BOOL("b", false),
        { OTEL_STR("as"), otel_value_array(OTEL_VALUE_STR, strs, 2) },
        { OTEL_STR("ai"), otel_value_array(OTEL_VALUE_INT, ints, 2) },
        { OTEL_STR("ab"), otel_value_array(OTEL_VALUE_BOOL, bools, 2) },
        { OTEL_STR("bytes"), otel_value_bytes("\x01\x02\xff", 3) },
        { OTEL_STR("empty"), { .type = OTEL_VALUE_EMPTY } },
        OTEL_ATTR_STR_LIT("utf8", "h\xc3\xa9"),
    };
    otel_span_data d = base_span(res, "op", OTEL_SPAN_KIND_PRODUCER);
    dd_set_ids(&d, 0, 1, 2, 0);
    d.attrs = attrs;
    d.attr_count = sizeof(attrs) / sizeof(attrs[0]);
    const otel_span_data *spans[] = { &d };
    for (int v = 4; v <= 5; v++) {
        char *out = encode_and_decode(v, NULL, spans, 1);
        const char *l = dd_span_line(out, 0);
        DD_ASSERT_HAS(l, "\"s\":\"s:text\"");
        DD_ASSERT_HAS(l, "\"i\":\"f:-7.0\"");
        DD_ASSERT_HAS(l, "\"d\":\"f:1.5\"");
        DD_ASSERT_HAS(l, "\"b\":\"s:false\"");
        DD_ASSERT_HAS(l, "\"as\":\"s:[\\\"a\\\",\\\"b\\\\\\\"c\\\"]\"");
        DD_ASSERT_HAS(l, "\"ai\":\"s:[1,-2]\"");
        DD_ASSERT_HAS(l, "\"ab\":\"s:[true,false]\"");
        DD_ASSERT_HAS(l, "\"bytes\":\"s:AQL/\"");
        DD_ASSERT_HAS(l, "\"empty\":\"s:\"");
        DD_ASSERT_HAS(l, "\"utf8\":\"s:h\xc3\xa9\"");
        DD_ASSERT_HAS(l, "\"name\":\"s:producer\"");
        DD_ASSERT_HAS(l, "\"type\":\"s:custom\"");
        DD_ASSERT_HAS(l, "\"resource\":\"s:op\"");
        /* A producer root is top-level, so not "measured". */
        DD_ASSERT_HAS(l, "_dd.top_level");
        DD_ASSERT_LACKS(l, "_dd.measured");
        free(out);
    }
    otel_resource_release(res);
}

static void test_v05_string_table_interns_each_string_once(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    otel_span_data s[50];
    const otel_span_data *spans[50];
    otel_attr attrs[] = { OTEL_ATTR_STR_LIT("k", "same value") };
    for (int i = 0; i < 50; i++) {
        s[i] = base_span(res, "same-name", OTEL_SPAN_KIND_INTERNAL);
        dd_set_ids(&s[i], 0, (uint64_t)i % 5 + 1, (uint64_t)i + 1, 0);
        s[i].attrs = attrs;
        s[i].attr_count = 1;
        spans[i] = &s[i];
    }
    char *out = encode_and_decode(5, NULL, spans, 50);
    /* dd_decode.py reports ERROR on duplicates; the table stays small. */
    DD_ASSERT_HAS(out, "TRACES 5\n");
    const char *p = strstr(out, "STRINGS ");
    assert_non_null(p);
    assert_true(atoi(p + 8) < 30);
    assert_int_equal(dd_count(out, "\"k\":\"s:same value\""), 50);
    free(out);
    otel_resource_release(res);
}

/* Event times in the events JSON: the encoder keeps the leading digits between events, so the
 * times here change them (and the digit count) from one event to the next. */
static void test_event_times_in_json_across_magnitudes(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    static const int64_t times[] = { INT64_C(1700000000000000005),
                                     INT64_C(1700000000300000007),
                                     INT64_C(1700000000300000123),
                                     99999999,
                                     100000000,
                                     INT64_C(999999999999999999),
                                     INT64_C(1000000000000000000),
                                     0,
                                     INT64_C(1700000000000000005),
                                     INT64_MAX };
    enum { N = sizeof(times) / sizeof(times[0]) };
    otel_event_data ev[N];
    otel_span_data s[N];
    const otel_span_data *spans[N];
    for (int i = 0; i < N; i++) {
        ev[i] = (otel_event_data){ .name = OTEL_STR("tick"), .time_ns = times[i] };
        s[i] = base_span(res, "op", OTEL_SPAN_KIND_INTERNAL);
        dd_set_ids(&s[i], 0, 3, (uint64_t)i + 1, 0);
        s[i].events = &ev[i];
        s[i].event_count = 1;
        spans[i] = &s[i];
    }
    char *out = encode_and_decode(4, NULL, spans, N);
    for (int i = 0; i < N; i++) {
        char want[96];
        snprintf(want, sizeof(want), "\\\"time_unix_nano\\\":%lld}]\"", (long long)times[i]);
        const char *line = dd_span_line(out, i);
        assert_non_null(line);
        DD_ASSERT_HAS(line, want);
    }
    free(out);
    otel_resource_release(res);
}

/* Many numeric attributes (more than the encoder lists on the side): every one in metrics. */
/* Mixed attribute types around the 16 attributes counted in one go, with an integer
 * http.status_code among the numbers (it goes to meta as text): every attribute lands where it
 * belongs and the map headers match (the decoder checks them). */
static void test_mixed_attributes_around_sixteen_with_an_integer_status_code(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    enum { N = 40 };
    static char keys[N][8];
    otel_attr attrs[N];
    static const int ns[] = { 1, 2, 15, 16, 17, 40 };
    for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        int n = ns[t];
        int status = n / 2;
        for (int i = 0; i < n; i++) {
            snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
            otel_str key = { keys[i], 3 };
            switch (i % 5) {
            case 0:
                attrs[i] = (otel_attr){ key, otel_value_int(i) };
                break;
            case 1:
                attrs[i] = (otel_attr){ key, otel_value_str(OTEL_STR("v")) };
                break;
            case 2:
                attrs[i] = (otel_attr){ key, otel_value_double(i + 0.5) };
                break;
            case 3:
                attrs[i] = (otel_attr){ key, otel_value_bool(i & 1) };
                break;
            default:
                attrs[i] = (otel_attr){ key, { .type = OTEL_VALUE_EMPTY } };
                break;
            }
        }
        attrs[status] = (otel_attr)OTEL_ATTR_INT("http.status_code", 404);
        otel_span_data d = base_span(res, "op", OTEL_SPAN_KIND_INTERNAL);
        dd_set_ids(&d, 0, 5, 6, 0);
        d.attrs = attrs;
        d.attr_count = (uint32_t)n;
        const otel_span_data *spans[] = { &d };
        for (int v = 4; v <= 5; v++) {
            char *out = encode_and_decode(v, NULL, spans, 1);
            DD_ASSERT_HAS(out, "\"http.status_code\":\"s:404\"");
            for (int i = 0; i < n; i++) {
                if (i == status)
                    continue;
                char want[64];
                switch (i % 5) {
                case 0:
                    snprintf(want, sizeof(want), "\"k%02d\":\"f:%d.0\"", i, i);
                    break;
                case 1:
                    snprintf(want, sizeof(want), "\"k%02d\":\"s:v\"", i);
                    break;
                case 2:
                    snprintf(want, sizeof(want), "\"k%02d\":\"f:%d.5\"", i, i);
                    break;
                case 3:
                    snprintf(want, sizeof(want), "\"k%02d\":\"s:%s\"", i, (i & 1) ? "true" : "false");
                    break;
                default:
                    snprintf(want, sizeof(want), "\"k%02d\":\"s:\"", i);
                    break;
                }
                DD_ASSERT_HAS(out, want);
            }
            free(out);
        }
    }
    otel_resource_release(res);
}

static void test_many_numeric_attributes_all_reach_metrics(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    enum { N = 40 };
    static char keys[N][8];
    otel_attr attrs[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "n%02d", i);
        attrs[i] = (otel_attr){ { keys[i], 3 }, i % 3 ? otel_value_int(i) : otel_value_double(i + 0.5) };
    }
    otel_span_data d = base_span(res, "op", OTEL_SPAN_KIND_INTERNAL);
    dd_set_ids(&d, 0, 5, 6, 0);
    const otel_span_data *spans[] = { &d };
    for (int n = 15; n <= N; n += 25) {
        d.attrs = attrs;
        d.attr_count = (uint32_t)n;
        for (int v = 4; v <= 5; v++) {
            char *out = encode_and_decode(v, NULL, spans, 1);
            for (int i = 0; i < n; i++) {
                char want[64];
                if (i % 3)
                    snprintf(want, sizeof(want), "\"n%02d\":\"f:%d.0\"", i, i);
                else
                    snprintf(want, sizeof(want), "\"n%02d\":\"f:%d.5\"", i, i);
                DD_ASSERT_HAS(out, want);
            }
            free(out);
        }
    }
    otel_resource_release(res);
}

/* Native v0.4 span_events: typed attribute values as the agent's AttributeAnyValue, nothing in
 * meta["events"]; v0.5 (no such field) keeps the JSON form even when native events are asked
 * for. */
static void test_native_span_events_round_trip(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    static const otel_str strs[] = { { "a", 1 }, { "b\"c", 3 } };
    static const int64_t ints[] = { -1, INT64_MAX };
    static const double dbls[] = { 0.5 };
    static const bool bools[] = { true, false };
    otel_attr ev_attrs[] = {
        OTEL_ATTR_STR_LIT("s", "text"),
        OTEL_ATTR_BOOL("b", true),
        OTEL_ATTR_INT("i", INT64_MIN),
        OTEL_ATTR_DOUBLE("d", 2.5),
        { OTEL_STR("as"), otel_value_array(OTEL_VALUE_STR, strs, 2) },
        { OTEL_STR("ai"), otel_value_array(OTEL_VALUE_INT, ints, 2) },
        { OTEL_STR("ad"), otel_value_array(OTEL_VALUE_DOUBLE, dbls, 1) },
        { OTEL_STR("ab"), otel_value_array(OTEL_VALUE_BOOL, bools, 2) },
        { OTEL_STR("ae"), otel_value_array(OTEL_VALUE_STR, NULL, 0) },
    };
    otel_attr exc_attrs[] = { OTEL_ATTR_STR_LIT("exception.type", "E") };
    otel_event_data events[] = {
        { .name = OTEL_STR("cache miss"),
          .time_ns = INT64_C(1700000000000000123),
          .attrs = ev_attrs,
          .attr_count = sizeof(ev_attrs) / sizeof(ev_attrs[0]) },
        { .name = OTEL_STR("exception"), .time_ns = 5, .attrs = exc_attrs, .attr_count = 1 },
        { .name = OTEL_STR("bare"), .time_ns = 6 },
    };
    otel_span_data d = base_span(res, "op", OTEL_SPAN_KIND_INTERNAL);
    dd_set_ids(&d, 0, U64MAX, P63, 0);
    d.events = events;
    d.event_count = 3;
    const otel_span_data *spans[] = { &d };
    struct otel__dd_encoder_config cfg = { .native_span_events = true };

    char *out = encode_and_decode(4, &cfg, spans, 1);
    const char *l = dd_span_line(out, 0);
    assert_non_null(l);
    DD_ASSERT_HAS(l, "\"span_events\":[{\"attributes\":{");
    DD_ASSERT_HAS(l, "\"s\":{\"string_value\":\"s:text\",\"type\":\"i:0\"}");
    DD_ASSERT_HAS(l, "\"b\":{\"bool_value\":\"b:true\",\"type\":\"i:1\"}");
    DD_ASSERT_HAS(l, "\"i\":{\"int_value\":\"i:-9223372036854775808\",\"type\":\"i:2\"}");
    DD_ASSERT_HAS(l, "\"d\":{\"double_value\":\"f:2.5\",\"type\":\"i:3\"}");
    DD_ASSERT_HAS(l, "\"as\":{\"array_value\":{\"values\":[{\"string_value\":\"s:a\",\"type\":\"i:0\"},"
                     "{\"string_value\":\"s:b\\\"c\",\"type\":\"i:0\"}]},\"type\":\"i:4\"}");
    DD_ASSERT_HAS(l, "\"ai\":{\"array_value\":{\"values\":[{\"int_value\":\"i:-1\",\"type\":\"i:2\"},"
                     "{\"int_value\":\"i:9223372036854775807\",\"type\":\"i:2\"}]},\"type\":\"i:4\"}");
    DD_ASSERT_HAS(l, "\"ad\":{\"array_value\":{\"values\":[{\"double_value\":\"f:0.5\",\"type\":\"i:3\"}]}");
    DD_ASSERT_HAS(l, "\"ab\":{\"array_value\":{\"values\":[{\"bool_value\":\"b:true\",\"type\":\"i:1\"},"
                     "{\"bool_value\":\"b:false\",\"type\":\"i:1\"}]},\"type\":\"i:4\"}");
    DD_ASSERT_HAS(l, "\"ae\":{\"array_value\":{\"values\":[]},\"type\":\"i:4\"}");
    DD_ASSERT_HAS(l, "},\"name\":\"s:cache miss\",\"time_unix_nano\":\"i:1700000000000000123\"}");
    DD_ASSERT_HAS(l, "{\"attributes\":{\"exception.type\":{\"string_value\":\"s:E\",\"type\":\"i:0\"}},"
                     "\"name\":\"s:exception\",\"time_unix_nano\":\"i:5\"}");
    DD_ASSERT_HAS(l, "{\"attributes\":{},\"name\":\"s:bare\",\"time_unix_nano\":\"i:6\"}]");
    /* The exception flag stays in meta; the JSON form is gone. */
    DD_ASSERT_HAS(l, "\"_dd.span_events.has_exception\":\"s:true\"");
    DD_ASSERT_LACKS(l, "\"events\":");
    free(out);

    /* Off (the default): JSON in meta, no span_events field. */
    out = encode_and_decode(4, NULL, spans, 1);
    DD_ASSERT_HAS(out, "\"events\":\"s:[{\\\"name\\\":\\\"cache miss\\\"");
    DD_ASSERT_LACKS(out, "span_events\":[");
    free(out);
    /* v0.5 has no span_events field: JSON in meta even when native is asked for. */
    out = encode_and_decode(5, &cfg, spans, 1);
    DD_ASSERT_HAS(out, "\"events\":\"s:[{\\\"name\\\":\\\"cache miss\\\"");
    DD_ASSERT_LACKS(out, "span_events\":[");
    free(out);
    otel_resource_release(res);
}

/* Encodes the grouped batch in payloads of at most |max| bytes, decoding each; returns the
 * number of payloads and adds up the spans and drops seen. */
static size_t encode_payloads(struct otel__dd_encoder *e, int v, size_t max, size_t *spans_seen,
                              size_t *dropped, size_t *priorities)
{
    size_t payloads = 0;
    *spans_seen = *dropped = *priorities = 0;
    while (!otel__dd_encoder_finished(e)) {
        struct otel__dd_payload_info info;
        assert_int_equal(otel__dd_encoder_encode(e, max, &info), OTEL_OK);
        *dropped += info.dropped;
        if (info.traces == 0) {
            assert_int_equal(info.spans, 0);
            continue;
        }
        assert_true(e->payload_len <= max);
        char *out = dd_decode(e->payload, e->payload_len, v == 5 ? "v0.5" : "v0.4");
        DD_ASSERT_LACKS(out, "ERROR");
        char want[32];
        snprintf(want, sizeof(want), "TRACES %zu\n", info.traces);
        DD_ASSERT_HAS(out, want);
        assert_int_equal(dd_count(out, "\nSPAN "), (int)info.spans);
        *spans_seen += info.spans;
        *priorities += (size_t)dd_count(out, "_sampling_priority_v1");
        /* Every chunk (or part of one) starts with its trace id's high bits. */
        assert_int_equal(dd_count(out, "_dd.p.tid"), (int)info.traces);
        free(out);
        payloads++;
    }
    return payloads;
}

static void test_large_batch_is_split_into_payloads_at_chunk_boundaries(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    enum { N = 40 };
    otel_span_data s[N];
    const otel_span_data *spans[N];
    for (int i = 0; i < N; i++) {
        s[i] = base_span(res, "op", OTEL_SPAN_KIND_INTERNAL);
        dd_set_ids(&s[i], 1, (uint64_t)i / 4 + 1, (uint64_t)i + 1, i % 4 ? (uint64_t)i : 0);
        spans[i] = &s[i];
    }
    for (int v = 4; v <= 5; v++) {
        struct otel__dd_encoder_config cfg = { .api_version = v };
        struct otel__dd_encoder e;
        otel__dd_encoder_init(&e, &cfg);
        otel_status st;
        size_t chunks = otel__dd_encoder_group(&e, spans, N, &st);
        assert_int_equal(st, OTEL_OK);
        assert_int_equal(chunks, 10);
        size_t seen, dropped, prio;
        size_t payloads = encode_payloads(&e, v, 1500, &seen, &dropped, &prio);
        assert_true(payloads > 1);
        assert_int_equal(seen, N);
        assert_int_equal(dropped, 0);
        /* Whole chunks only: one priority per chunk, on its root. */
        assert_int_equal(prio, 10);
        otel__dd_encoder_cleanup(&e);
    }
    otel_resource_release(res);
}

/* One trace bigger than the limit goes out in parts, each a chunk whose spans all carry the
 * sampling priority; a span bigger than the limit on its own is dropped and counted, and the
 * rest still goes. */
static void test_oversized_chunk_is_split_and_oversized_span_dropped(void **state)
{
    (void)state;
    DD_REQUIRE_DECODER();
    otel_resource *res = make_resource("svc");
    enum { N = 30 };
    static char big[6000];
    memset(big, 'x', sizeof(big));
    otel_attr big_attr[] = { { OTEL_STR("blob"), otel_value_str((otel_str){ big, sizeof(big) }) } };
    otel_attr small_attr[3];
    otel_span_data s[N];
    const otel_span_data *spans[N];
    for (int i = 0; i < N; i++) {
        s[i] = base_span(res, "op", OTEL_SPAN_KIND_INTERNAL);
        /* One trace: span 1 is the root, the others its children, in the order they ended. */
        dd_set_ids(&s[i], 7, 9, (uint64_t)i + 1, i == 0 ? 0 : 1);
        spans[i] = &s[i];
    }
    for (int i = 0; i < 3; i++)
        small_attr[i] = (otel_attr){ OTEL_STR("k"), otel_value_int(i) };
    s[5].attrs = big_attr; /* alone over the limit */
    s[5].attr_count = 1;
    s[6].attrs = small_attr;
    s[6].attr_count = 3;
    for (int v = 4; v <= 5; v++) {
        struct otel__dd_encoder_config cfg = { .api_version = v };
        struct otel__dd_encoder e;
        otel__dd_encoder_init(&e, &cfg);
        otel_status st;
        assert_int_equal(otel__dd_encoder_group(&e, spans, N, &st), 1);
        size_t seen, dropped, prio;
        size_t payloads = encode_payloads(&e, v, 2000, &seen, &dropped, &prio);
        assert_true(payloads > 1);
        assert_int_equal(dropped, 1);
        assert_int_equal(seen, N - 1);
        assert_int_equal(prio, N - 1);
        assert_true(otel__dd_encoder_finished(&e));

        /* Without a limit it is one payload and one priority. */
        assert_int_equal(otel__dd_encoder_group(&e, spans, N, &st), 1);
        payloads = encode_payloads(&e, v, SIZE_MAX, &seen, &dropped, &prio);
        assert_int_equal(payloads, 1);
        assert_int_equal(seen, N);
        assert_int_equal(prio, 1);

        /* A limit no span fits: everything is dropped, nothing is sent. */
        assert_int_equal(otel__dd_encoder_group(&e, spans, N, &st), 1);
        payloads = encode_payloads(&e, v, 20, &seen, &dropped, &prio);
        assert_int_equal(payloads, 0);
        assert_int_equal(dropped, N);
        otel__dd_encoder_cleanup(&e);
    }
    otel_resource_release(res);
}

static void test_empty_batch_encodes_an_empty_array(void **state)
{
    (void)state;
    struct otel__dd_encoder_config cfg = { .api_version = 4 };
    struct otel__dd_encoder e;
    otel__dd_encoder_init(&e, &cfg);
    assert_int_equal(otel__dd_encode_all(&e, NULL, 0), OTEL_OK);
    assert_int_equal(e.payload_len, 1);
    assert_int_equal(e.payload[0], 0x90);
    otel__dd_encoder_cleanup(&e);
    cfg.api_version = 5;
    otel__dd_encoder_init(&e, &cfg);
    assert_int_equal(otel__dd_encode_all(&e, NULL, 0), OTEL_OK);
    static const uint8_t want[] = { 0x92, 0x91, 0xa0, 0x90 };
    assert_int_equal(e.payload_len, sizeof(want));
    assert_memory_equal(e.payload, want, sizeof(want));
    otel__dd_encoder_cleanup(&e);
}

/* A batch to encode repeatedly. */
struct alloc_batch {
    otel_resource *res;
    otel_span_data s[20];
    const otel_span_data *spans[20];
    otel_attr attrs[4];
    otel_event_data ev;
    int version;
};

static void alloc_batch_init(struct alloc_batch *b, int version)
{
    b->res = make_resource("svc");
    b->version = version;
    b->attrs[0] = OTEL_ATTR_STR_LIT("http.request.method", "POST");
    b->attrs[1] = OTEL_ATTR_STR_LIT("http.route", "/orders");
    b->attrs[2] = OTEL_ATTR_INT("http.response.status_code", 201);
    b->attrs[3] = OTEL_ATTR_STR_LIT("user.id", "u-123");
    b->ev = (otel_event_data){ .name = OTEL_STR("work"), .time_ns = 5, .attrs = b->attrs, .attr_count = 1 };
    for (int i = 0; i < 20; i++) {
        b->s[i] = base_span(b->res, "op", i % 3 ? OTEL_SPAN_KIND_CLIENT : OTEL_SPAN_KIND_SERVER);
        dd_set_ids(&b->s[i], 9, (uint64_t)i / 5 + 1, (uint64_t)i + 100, i % 5 ? (uint64_t)i + 99 : 0);
        b->s[i].attrs = b->attrs;
        b->s[i].attr_count = 4;
        b->s[i].events = &b->ev;
        b->s[i].event_count = 1;
        b->spans[i] = &b->s[i];
    }
}

static int encode_scenario(void *arg)
{
    struct alloc_batch *b = arg;
    struct otel__dd_encoder_config cfg = { .api_version = b->version, .env = OTEL_STR("e") };
    struct otel__dd_encoder e;
    otel__dd_encoder_init(&e, &cfg);
    otel_status st = otel__dd_encode_all(&e, b->spans, 20);
    if (st == OTEL_OK)
        st = otel__dd_encode_all(&e, b->spans, 20);
    otel__dd_encoder_cleanup(&e);
    return (int)st;
}

static void test_encoder_survives_every_allocation_failure(void **state)
{
    (void)state;
    for (int v = 4; v <= 5; v++) {
        struct alloc_batch b;
        alloc_batch_init(&b, v);
        failalloc_result r = failalloc_run(encode_scenario, &b);
        assert_true(r.allocations > 0);
        assert_int_equal(r.leaked_run, 0);
        assert_int_equal(r.ok_with_failure, 0);
        otel_resource_release(b.res);
    }
}

static void test_steady_state_encoding_allocates_nothing(void **state)
{
    (void)state;
    for (int v = 4; v <= 5; v++) {
        struct alloc_batch b;
        alloc_batch_init(&b, v);
        struct otel__dd_encoder_config cfg = { .api_version = v };
        struct otel__dd_encoder e;
        otel__dd_encoder_init(&e, &cfg);
        assert_int_equal(otel__dd_encode_all(&e, b.spans, 20), OTEL_OK);
        failalloc_install();
        for (int i = 0; i < 10; i++)
            assert_int_equal(otel__dd_encode_all(&e, b.spans, 20), OTEL_OK);
        size_t n = failalloc_count();
        failalloc_uninstall();
        assert_int_equal(n, 0);
        otel__dd_encoder_cleanup(&e);
        otel_resource_release(b.res);
    }
}

static void test_dd_tags_parse_commas_or_spaces(void **state)
{
    (void)state;
    struct otel__dd_tag t[8];
    size_t bad;
    size_t n =
        otel__dd_parse_tags(OTEL_STR(" team:pay , region:eu-west-1,bad,:x,url:http://a:b "), t, 8, &bad);
    assert_int_equal(n, 3);
    assert_int_equal(bad, 2);
    assert_true(otel_str_eq(t[0].key, OTEL_STR("team")));
    assert_true(otel_str_eq(t[0].value, OTEL_STR("pay")));
    assert_true(otel_str_eq(t[1].value, OTEL_STR("eu-west-1")));
    assert_true(otel_str_eq(t[2].key, OTEL_STR("url")));
    assert_true(otel_str_eq(t[2].value, OTEL_STR("http://a:b")));
    n = otel__dd_parse_tags(OTEL_STR("a:1 b:2"), t, 8, &bad);
    assert_int_equal(n, 2);
    assert_true(otel_str_eq(t[1].key, OTEL_STR("b")));
    /* Counting without storage. */
    assert_int_equal(otel__dd_parse_tags(OTEL_STR("a:1,b:2,c:3"), t, 0, &bad), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v04_round_trip_maps_every_field),
        cmocka_unit_test(test_v05_round_trip_maps_every_field),
        cmocka_unit_test(test_v04_groups_spans_into_chunks_by_trace_id),
        cmocka_unit_test(test_v05_groups_spans_into_chunks_by_trace_id),
        cmocka_unit_test(test_each_chunk_takes_its_roots_trace_state_decision),
        cmocka_unit_test(test_sampling_priority_attribute_on_the_root_is_a_manual_decision),
        cmocka_unit_test(test_status_codes_as_text),
        cmocka_unit_test(test_top_level_for_remote_parent_entry_kinds_and_service_changes),
        cmocka_unit_test(test_service_precedence_span_attr_resource_then_dd_service),
        cmocka_unit_test(test_attribute_types_map_to_meta_and_metrics),
        cmocka_unit_test(test_v05_string_table_interns_each_string_once),
        cmocka_unit_test(test_event_times_in_json_across_magnitudes),
        cmocka_unit_test(test_many_numeric_attributes_all_reach_metrics),
        cmocka_unit_test(test_mixed_attributes_around_sixteen_with_an_integer_status_code),
        cmocka_unit_test(test_native_span_events_round_trip),
        cmocka_unit_test(test_large_batch_is_split_into_payloads_at_chunk_boundaries),
        cmocka_unit_test(test_oversized_chunk_is_split_and_oversized_span_dropped),
        cmocka_unit_test(test_empty_batch_encodes_an_empty_array),
        cmocka_unit_test(test_encoder_survives_every_allocation_failure),
        cmocka_unit_test(test_steady_state_encoding_allocates_nothing),
        cmocka_unit_test(test_dd_tags_parse_commas_or_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
