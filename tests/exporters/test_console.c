/* Tests for the console exporter (exporters/console): the text and OTLP/JSON line formats,
 * escaping, file output, failures. Spans are built by hand as otel_span_data, so the expected
 * lines are exact; the output goes to a tmpfile() or a temporary path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failalloc.h"
#include "log_capture.h"
#include "log_internal.h"
#include "otel/exporters/console.h"

/* ---- a minimal JSON validator (RFC 8259 grammar, no semantics) ------------------------------- */

struct json {
    const char *p;
    const char *end;
};

static void ws(struct json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool lit(struct json *j, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, s, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool jstring(struct json *j)
{
    if (!lit(j, "\""))
        return false;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (j->p >= j->end)
                return false;
            char e = *j->p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++, j->p++)
                    if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
                        return false;
            } else if (!strchr("\"\\/bfnrt", e)) {
                return false;
            }
        }
    }
    return false;
}

static bool jvalue(struct json *j, int depth);

static bool jnumber(struct json *j)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return false;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return false;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > s;
}

static bool jcontainer(struct json *j, int depth, char open, char close, bool object)
{
    if (!lit(j, (char[]){ open, 0 }))
        return false;
    ws(j);
    if (lit(j, (char[]){ close, 0 }))
        return true;
    for (;;) {
        ws(j);
        if (object) {
            if (!jstring(j))
                return false;
            ws(j);
            if (!lit(j, ":"))
                return false;
        }
        if (!jvalue(j, depth + 1))
            return false;
        ws(j);
        if (lit(j, (char[]){ close, 0 }))
            return true;
        if (!lit(j, ","))
            return false;
    }
}

static bool jvalue(struct json *j, int depth)
{
    if (depth > 64)
        return false;
    ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        return jcontainer(j, depth, '{', '}', true);
    case '[':
        return jcontainer(j, depth, '[', ']', false);
    case '"':
        return jstring(j);
    case 't':
        return lit(j, "true");
    case 'f':
        return lit(j, "false");
    case 'n':
        return lit(j, "null");
    default:
        return jnumber(j);
    }
}

static bool json_valid(const char *s, size_t n)
{
    struct json j = { s, s + n };
    if (!jvalue(&j, 0))
        return false;
    ws(&j);
    return j.p == j.end;
}

static void test_json_validator_rejects_what_it_should(void **state)
{
    (void)state;
    /* The validator itself must be able to fail, or the JSON tests below prove nothing. */
    const char *good = "{\"a\":[1,-2.5e3,\"x\\u00e9\",true,null,{}], \"b\" : 0.5}";
    assert_true(json_valid(good, strlen(good)));
    const char *bad[] = { "{\"a\":}", "{\"a\" 1}", "[1,]",       "\"\x01\"", "{\"a\":01}",
                          "[1.]",     "\"\\x41\"", "{\"a\":1}}", "[nan]" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(json_valid(bad[i], strlen(bad[i])));
}

/* ---- span fixtures --------------------------------------------------------------------------- */

#define START_NS INT64_C(1700000000123456789) /* 2023-11-14T22:13:20.123456789Z */

struct fixture {
    otel_resource *resource;
    otel_scope_data scope;
    otel_attr attrs[8];
    otel_attr event_attrs[1];
    otel_event_data events[2];
    otel_attr link_attrs[1];
    otel_link_data links[1];
    otel_trace_state *ts;
    int64_t ints[2];
    otel_str strs[2];
    otel_span_data span;
};

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    otel_attr rattrs[] = { OTEL_ATTR_STR_LIT("service.name", "checkout"), OTEL_ATTR_INT("process.pid", 42) };
    assert_int_equal(otel_resource_create(rattrs, 2, OTEL_STR("https://opentelemetry.io/s/1"), &f->resource),
                     OTEL_OK);
    f->scope = (otel_scope_data){ .name = OTEL_STR("test-scope"), .version = OTEL_STR("1.2.3") };
    f->ints[0] = 1;
    f->ints[1] = 2;
    f->strs[0] = OTEL_STR("a");
    f->strs[1] = OTEL_STR("b");
    static const unsigned char raw[] = { 0xde, 0xad, 0xbe, 0xef, 0x01 };
    f->attrs[0] = OTEL_ATTR_STR_LIT("http.request.method", "GET");
    f->attrs[1] = OTEL_ATTR_INT("n", 3);
    f->attrs[2] = OTEL_ATTR_BOOL("ok", true);
    f->attrs[3] = OTEL_ATTR_DOUBLE("ratio", 0.1);
    f->attrs[4] = (otel_attr){ OTEL_STR("list"), otel_value_array(OTEL_VALUE_INT, f->ints, 2) };
    f->attrs[5] = (otel_attr){ OTEL_STR("strs"), otel_value_array(OTEL_VALUE_STR, f->strs, 2) };
    f->attrs[6] = (otel_attr){ OTEL_STR("raw"), otel_value_bytes(raw, sizeof(raw)) };
    f->attrs[7] = (otel_attr){ OTEL_STR("odd key"), otel_value_int(-7) };
    f->event_attrs[0] = OTEL_ATTR_BOOL("hit", false);
    f->events[0] = (otel_event_data){
        .name = OTEL_STR("cache miss"), .time_ns = START_NS + 500000, .attrs = f->event_attrs, .attr_count = 1
    };
    f->events[1] = (otel_event_data){ .name = OTEL_STR("done"), .time_ns = START_NS + 1000000 };
    assert_int_equal(otel_trace_state_parse(OTEL_STR("vendor=v1"), &f->ts), OTEL_OK);
    f->link_attrs[0] = OTEL_ATTR_STR_LIT("link.kind", "follows");
    otel_span_context lc = { .trace_flags = 1, .is_remote = true };
    memset(lc.trace_id, 0x22, sizeof(lc.trace_id));
    memset(lc.span_id, 0x33, sizeof(lc.span_id));
    f->links[0] = (otel_link_data){
        .context = lc, .trace_state = f->ts, .attrs = f->link_attrs, .attr_count = 1, .dropped_attr_count = 2
    };

    otel_span_data *s = &f->span;
    for (int i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        s->context.trace_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        s->context.span_id[i] = (uint8_t)(0x10 + i);
    s->context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    s->kind = OTEL_SPAN_KIND_SERVER;
    s->name = OTEL_STR("GET /checkout");
    s->start_time_ns = START_NS;
    s->end_time_ns = START_NS + 1500250;
    s->attrs = f->attrs;
    s->attr_count = 8;
    s->dropped_attr_count = 1;
    s->events = f->events;
    s->event_count = 2;
    s->links = f->links;
    s->link_count = 1;
    s->dropped_link_count = 4;
    s->status_code = OTEL_SPAN_STATUS_ERROR;
    s->status_description = OTEL_STR("card declined");
    s->resource = f->resource;
    s->scope = &f->scope;
}

static void fixture_cleanup(struct fixture *f)
{
    otel_trace_state_release(f->ts);
    otel_resource_release(f->resource);
}

/* A minimal root span: no attributes, events or links. */
static otel_span_data minimal_span(const otel_resource *res, const char *name)
{
    otel_span_data s = { 0 };
    memset(s.context.trace_id, 0x01, OTEL_TRACE_ID_SIZE);
    memset(s.context.span_id, 0x02, OTEL_SPAN_ID_SIZE);
    s.context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    s.name = otel_str_from_cstr(name);
    s.start_time_ns = START_NS;
    s.end_time_ns = START_NS + 2000;
    s.resource = res;
    return s;
}

/* ---- running an export ----------------------------------------------------------------------- */

/* Exports |n| spans with a fresh exporter writing to a tmpfile() and returns what was written
 * (heap string, caller frees). */
static char *export_to_string(otel_console_format format, const otel_span_data *const *spans, size_t n,
                              otel_export_result *result)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    otel_console_options o = { .stream = f, .format = format };
    otel_span_exporter e;
    assert_int_equal(otel_console_exporter_create(&o, &e), OTEL_OK);
    otel_export_result r = e.export_spans(e.user_data, spans, n, 0);
    if (result)
        *result = r;
    assert_int_equal(e.shutdown(e.user_data, 0), OTEL_OK);
    e.destroy(e.user_data);
    long size = ftell(f);
    assert_true(size >= 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

static char *export_one(otel_console_format format, const otel_span_data *s)
{
    otel_export_result r;
    char *text = export_to_string(format, &s, 1, &r);
    assert_int_equal(r, OTEL_EXPORT_SUCCESS);
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* ---- text ------------------------------------------------------------------------------------ */

static void test_console_text_line_shows_the_whole_span(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    memset(f.span.parent_span_id, 0x55, OTEL_SPAN_ID_SIZE);
    f.span.trace_state = f.ts;
    char *text = export_one(OTEL_CONSOLE_TEXT, &f.span);
    const char *expected =
        "span trace_id=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf span_id=1011121314151617 "
        "parent_id=5555555555555555 kind=server name=\"GET /checkout\" service=\"checkout\" "
        "scope=\"test-scope\" start=2023-11-14T22:13:20.123456789Z duration_us=1500.250 "
        "status=error(\"card declined\") trace_state=\"vendor=v1\" "
        "attrs={http.request.method=\"GET\", n=3, ok=true, ratio=0.1, list=[1, 2], "
        "strs=[\"a\", \"b\"], raw=0xdeadbeef01, \"odd key\"=-7} "
        "events=[\"cache miss\"@+500.000us{hit=false}, \"done\"@+1000.000us] "
        "links=[22222222222222222222222222222222-3333333333333333{link.kind=\"follows\"}] "
        "dropped(attrs=1 events=0 links=4)\n";
    assert_string_equal(text, expected);
    free(text);
    fixture_cleanup(&f);
}

static void test_console_text_root_span_is_short(void **state)
{
    (void)state;
    otel_span_data s = minimal_span(NULL, "work");
    s.status_code = OTEL_SPAN_STATUS_OK;
    char *text = export_one(OTEL_CONSOLE_TEXT, &s);
    assert_string_equal(text, "span trace_id=01010101010101010101010101010101 "
                              "span_id=0202020202020202 parent_id=- kind=internal name=\"work\" "
                              "start=2023-11-14T22:13:20.123456789Z duration_us=2.000 status=ok "
                              "attrs={}\n");
    free(text);
}

static void test_console_text_escapes_quotes_controls_and_invalid_utf8(void **state)
{
    (void)state;
    const char name[] = "a\"b\\c\nd\te\x01\x7f\xff caf\xc3\xa9 \xe2\x82";
    otel_span_data s = minimal_span(NULL, "");
    s.name = (otel_str){ name, sizeof(name) - 1 };
    char *text = export_one(OTEL_CONSOLE_TEXT, &s);
    assert_non_null(strstr(text, "name=\"a\\\"b\\\\c\\nd\\te\\x01\\x7f\\xff caf\xc3\xa9 \\xe2\\x82\" "));
    assert_int_equal(count_lines(text), 1); /* the newline in the name did not split the line */
    free(text);
}

static void test_console_text_one_line_per_span_in_a_batch(void **state)
{
    (void)state;
    otel_span_data a = minimal_span(NULL, "a"), b = minimal_span(NULL, "b"), c = minimal_span(NULL, "c");
    const otel_span_data *spans[] = { &a, &b, &c };
    otel_export_result r;
    char *text = export_to_string(OTEL_CONSOLE_TEXT, spans, 3, &r);
    assert_int_equal(r, OTEL_EXPORT_SUCCESS);
    assert_int_equal(count_lines(text), 3);
    char *pa = strstr(text, "name=\"a\""), *pb = strstr(text, "name=\"b\""), *pc = strstr(text, "name=\"c\"");
    assert_true(pa && pb && pc && pa < pb && pb < pc);
    free(text);
}

static void test_console_numbers_ignore_the_program_locale(void **state)
{
    (void)state;
    otel_attr a = OTEL_ATTR_DOUBLE("d", 1.5);
    otel_span_data s = minimal_span(NULL, "x");
    s.attrs = &a;
    s.attr_count = 1;
    /* Proves something only where de_DE.UTF-8 is installed; elsewhere it checks the C locale. */
    const char *had = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    char *text = export_one(OTEL_CONSOLE_TEXT, &s);
    char *json = export_one(OTEL_CONSOLE_JSON, &s);
    if (had)
        setlocale(LC_NUMERIC, "C");
    assert_non_null(strstr(text, "attrs={d=1.5}"));
    assert_non_null(strstr(json, "{\"doubleValue\":1.5}"));
    free(text);
    free(json);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void test_console_json_line_is_an_otlp_resource_spans(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    memset(f.span.parent_span_id, 0x55, OTEL_SPAN_ID_SIZE);
    f.span.parent_is_remote = true;
    char *text = export_one(OTEL_CONSOLE_JSON, &f.span);
    assert_int_equal(count_lines(text), 1);
    assert_true(json_valid(text, strlen(text)));
    static const char *const parts[] = {
        "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
        "\"checkout\"}},{\"key\":\"process.pid\",\"value\":{\"intValue\":\"42\"}}]}",
        "\"scopeSpans\":[{\"scope\":{\"name\":\"test-scope\",\"version\":\"1.2.3\"}",
        "\"traceId\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\"",
        "\"spanId\":\"1011121314151617\"",
        "\"traceState\":\"vendor=v1\"",
        "\"parentSpanId\":\"5555555555555555\"",
        "\"flags\":769", /* sampled | has-is-remote | is-remote */
        "\"name\":\"GET /checkout\"",
        "\"kind\":2", /* SERVER */
        "\"startTimeUnixNano\":\"1700000000123456789\"",
        "\"endTimeUnixNano\":\"1700000000124957039\"",
        "{\"key\":\"n\",\"value\":{\"intValue\":\"3\"}}",
        "{\"key\":\"ok\",\"value\":{\"boolValue\":true}}",
        "{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.1}}",
        "{\"key\":\"list\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},"
        "{\"intValue\":\"2\"}]}}}",
        "{\"key\":\"strs\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},"
        "{\"stringValue\":\"b\"}]}}}",
        "{\"key\":\"raw\",\"value\":{\"bytesValue\":\"3q2+7wE=\"}}",
        "\"droppedAttributesCount\":1",
        "\"events\":[{\"timeUnixNano\":\"1700000000123956789\",\"name\":\"cache miss\","
        "\"attributes\":[{\"key\":\"hit\",\"value\":{\"boolValue\":false}}],"
        "\"droppedAttributesCount\":0}",
        "\"droppedEventsCount\":0",
        "\"links\":[{\"traceId\":\"22222222222222222222222222222222\",\"spanId\":"
        "\"3333333333333333\",\"traceState\":\"vendor=v1\",\"attributes\":[{\"key\":"
        "\"link.kind\",\"value\":{\"stringValue\":\"follows\"}}],\"droppedAttributesCount\":2,"
        "\"flags\":769}]",
        "\"droppedLinksCount\":4",
        "\"status\":{\"message\":\"card declined\",\"code\":2}",
        "\"schemaUrl\":\"https://opentelemetry.io/s/1\"}\n",
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (!strstr(text, parts[i]))
            fail_msg("missing %s\nin %s", parts[i], text);
    }
    free(text);
    fixture_cleanup(&f);
}

static void test_console_json_root_span_has_empty_parent_and_local_flags(void **state)
{
    (void)state;
    otel_span_data s = minimal_span(NULL, "root");
    s.kind = OTEL_SPAN_KIND_CONSUMER;
    char *text = export_one(OTEL_CONSOLE_JSON, &s);
    assert_true(json_valid(text, strlen(text)));
    assert_non_null(strstr(text, "\"parentSpanId\":\"\""));
    assert_non_null(strstr(text, "\"flags\":257"));
    assert_non_null(strstr(text, "\"kind\":5"));
    assert_non_null(strstr(text, "\"status\":{\"code\":0}"));
    assert_non_null(strstr(text, "{\"resource\":{\"attributes\":[]}"));
    assert_null(strstr(text, "traceState"));
    free(text);
}

static void test_console_json_escapes_and_special_doubles(void **state)
{
    (void)state;
    const char name[] = "q\"b\\n\n\x01\x7f\xff\xc3\xa9";
    otel_attr attrs[] = { OTEL_ATTR_DOUBLE("nan", NAN),
                          OTEL_ATTR_DOUBLE("inf", INFINITY),
                          OTEL_ATTR_DOUBLE("ninf", -INFINITY),
                          OTEL_ATTR_DOUBLE("big", 1e300),
                          { OTEL_STR("k\"ey"), { .type = OTEL_VALUE_EMPTY } } };
    otel_span_data s = minimal_span(NULL, "");
    s.name = (otel_str){ name, sizeof(name) - 1 };
    s.attrs = attrs;
    s.attr_count = 5;
    char *text = export_one(OTEL_CONSOLE_JSON, &s);
    assert_true(json_valid(text, strlen(text)));
    assert_non_null(strstr(text, "\"name\":\"q\\\"b\\\\n\\n\\u0001\\u007f\\ufffd\xc3\xa9\""));
    assert_non_null(strstr(text, "{\"doubleValue\":\"NaN\"}"));
    assert_non_null(strstr(text, "{\"doubleValue\":\"Infinity\"}"));
    assert_non_null(strstr(text, "{\"doubleValue\":\"-Infinity\"}"));
    assert_non_null(strstr(text, "{\"doubleValue\":1e+300}"));
    assert_non_null(strstr(text, "{\"key\":\"k\\\"ey\",\"value\":{}}"));
    free(text);
}

static void test_console_json_batch_gives_one_valid_object_per_line(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    otel_span_data b = minimal_span(f.resource, "b");
    const otel_span_data *spans[] = { &f.span, &b, &f.span };
    otel_export_result r;
    char *text = export_to_string(OTEL_CONSOLE_JSON, spans, 3, &r);
    assert_int_equal(r, OTEL_EXPORT_SUCCESS);
    assert_int_equal(count_lines(text), 3);
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        assert_true(json_valid(line, (size_t)(nl - line)));
    free(text);
    fixture_cleanup(&f);
}

/* ---- files, options and failures ------------------------------------------------------------- */

static void test_console_path_appends_to_the_file(void **state)
{
    (void)state;
    char path[] = "/tmp/otelc-console-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "existing\n", 9), 9);
    close(fd);

    otel_console_options o = { .path = path };
    otel_span_exporter e;
    assert_int_equal(otel_console_exporter_create(&o, &e), OTEL_OK);
    otel_span_data s = minimal_span(NULL, "to-file");
    const otel_span_data *spans[] = { &s };
    assert_int_equal(e.export_spans(e.user_data, spans, 1, 0), OTEL_EXPORT_SUCCESS);
    /* Unbuffered: the line is in the file as soon as export returns. */
    FILE *f = fopen(path, "r");
    char line[512];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "existing\n");
    assert_non_null(fgets(line, sizeof(line), f));
    assert_non_null(strstr(line, "name=\"to-file\""));
    fclose(f);
    assert_int_equal(e.force_flush(e.user_data, 0), OTEL_OK);
    e.destroy(e.user_data); /* closes the file, without a shutdown first */
    unlink(path);
}

static void test_console_create_rejects_bad_options(void **state)
{
    (void)state;
    otel_span_exporter e = { 0 };
    otel_console_options both = { .stream = stdout, .path = "/tmp/x" };
    assert_int_equal(otel_console_exporter_create(&both, &e), OTEL_ERR_INVALID_ARG);
    otel_console_options bad_format = { .format = (otel_console_format)7 };
    assert_int_equal(otel_console_exporter_create(&bad_format, &e), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_console_exporter_create(NULL, NULL), OTEL_ERR_INVALID_ARG);
    assert_null(e.export_spans);
    assert_int_equal(log_capture_warnings(), 0);

    otel_console_options missing = { .path = "/nonexistent-otelc-dir/spans.log" };
    assert_int_equal(otel_console_exporter_create(&missing, &e), OTEL_ERR_EXPORT);
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged_last_warning, "/nonexistent-otelc-dir/spans.log"));
    assert_null(e.export_spans);

    /* NULL options: stdout, text. */
    assert_int_equal(otel_console_exporter_create(NULL, &e), OTEL_OK);
    e.destroy(e.user_data);
}

static void test_console_export_after_shutdown_fails(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    otel_console_options o = { .stream = f };
    otel_span_exporter e;
    assert_int_equal(otel_console_exporter_create(&o, &e), OTEL_OK);
    assert_int_equal(e.shutdown(e.user_data, 0), OTEL_OK);
    assert_int_equal(e.shutdown(e.user_data, 0), OTEL_OK);
    otel_span_data s = minimal_span(NULL, "late");
    const otel_span_data *spans[] = { &s };
    assert_int_equal(e.export_spans(e.user_data, spans, 1, 0), OTEL_EXPORT_FAILURE);
    e.destroy(e.user_data);
    assert_int_equal(ftell(f), 0);
    fclose(f); /* a borrowed stream is never closed by the exporter */
}

static void test_console_write_error_fails_the_export_with_a_diagnostic(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        skip();
    otel_console_options o = { .stream = f };
    otel_span_exporter e;
    assert_int_equal(otel_console_exporter_create(&o, &e), OTEL_OK);
    otel_span_data s = minimal_span(NULL, "lost");
    const otel_span_data *spans[] = { &s };
    assert_int_equal(e.export_spans(e.user_data, spans, 1, 0), OTEL_EXPORT_FAILURE);
    assert_int_equal(log_capture_warnings(), 1);
    assert_non_null(strstr(logged_last_warning, "console exporter"));
    e.destroy(e.user_data);
    fclose(f);
}

static int scenario_export(void *arg)
{
    (void)arg;
    otel_span_data s = minimal_span(NULL, "x");
    otel_attr a = OTEL_ATTR_STR_LIT("k", "v");
    s.attrs = &a;
    s.attr_count = 1;
    FILE *out = fopen("/dev/null", "w");
    otel_console_options o = { .stream = out, .format = OTEL_CONSOLE_JSON };
    otel_span_exporter e;
    otel_status st = otel_console_exporter_create(&o, &e);
    if (st == OTEL_OK) {
        const otel_span_data *spans[] = { &s, &s };
        if (e.export_spans(e.user_data, spans, 2, 0) != OTEL_EXPORT_SUCCESS)
            st = OTEL_ERR_EXPORT;
        e.destroy(e.user_data);
    }
    fclose(out);
    return (int)st;
}

static void test_console_survives_allocation_failures(void **state)
{
    (void)state;
    failalloc_result r = failalloc_run(scenario_export, NULL);
    assert_int_equal(r.clean_status, 0);
    assert_true(r.allocations >= 2);
    assert_int_equal(r.leaked_run, 0);
    assert_int_equal(r.ok_with_failure, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, log_capture_setup, log_capture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_json_validator_rejects_what_it_should),
        T(test_console_text_line_shows_the_whole_span),
        T(test_console_text_root_span_is_short),
        T(test_console_text_escapes_quotes_controls_and_invalid_utf8),
        T(test_console_text_one_line_per_span_in_a_batch),
        T(test_console_numbers_ignore_the_program_locale),
        T(test_console_json_line_is_an_otlp_resource_spans),
        T(test_console_json_root_span_has_empty_parent_and_local_flags),
        T(test_console_json_escapes_and_special_doubles),
        T(test_console_json_batch_gives_one_valid_object_per_line),
        T(test_console_path_appends_to_the_file),
        T(test_console_create_rejects_bad_options),
        T(test_console_export_after_shutdown_fails),
        T(test_console_write_error_fails_the_export_with_a_diagnostic),
        T(test_console_survives_allocation_failures),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
