/* The composite propagator, the no-op propagator and OTEL_PROPAGATORS parsing. The composite
 * runs its members in order; on extract it lets the first member that finds a span context win
 * (the "first valid context in configured order"), while every member still adds its
 * baggage and values. otel_propagators_from_names() is what the configure library calls for
 * OTEL_PROPAGATORS. */
#include <string.h>

#include "prop_internal.h"

#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * No-op
 * ------------------------------------------------------------------------------------------- */

static void none_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    (void)user_data, (void)ctx, (void)w;
}

static otel_context *none_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    (void)user_data, (void)r;
    return otel_context_retain(ctx);
}

static size_t none_fields(void *user_data, otel_str *names, size_t cap)
{
    (void)user_data, (void)names, (void)cap;
    return 0;
}

otel_status otel_propagator_none(otel_propagator *out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    *out = (otel_propagator){
        .inject = none_inject,
        .extract = none_extract,
        .fields = none_fields,
        .destroy = NULL,
        .user_data = NULL,
    };
    return OTEL_OK;
}

void otel_propagator_destroy(otel_propagator *p)
{
    if (!p)
        return;
    if (p->destroy)
        p->destroy(p->user_data);
    memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------------------------------------------
 * Composite
 * ------------------------------------------------------------------------------------------- */

struct composite {
    size_t count;
    otel_propagator *members;
    size_t field_count;
    otel_str *fields; /* union of the members' fields, in order */
};

static void composite_destroy(void *user_data)
{
    struct composite *c = user_data;
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        if (c->members[i].destroy)
            c->members[i].destroy(c->members[i].user_data);
    otel__free(c->members);
    otel__free(c->fields);
    otel__free(c);
}

static void composite_inject(void *user_data, const otel_context *ctx, const otel_carrier_writer *w)
{
    const struct composite *c = user_data;
    for (size_t i = 0; i < c->count; i++)
        if (c->members[i].inject)
            c->members[i].inject(c->members[i].user_data, ctx, w);
}

static bool same_span_context(const otel_span_context *a, const otel_span_context *b)
{
    return memcmp(a->trace_id, b->trace_id, OTEL_TRACE_ID_SIZE) == 0 &&
           memcmp(a->span_id, b->span_id, OTEL_SPAN_ID_SIZE) == 0 && a->trace_flags == b->trace_flags &&
           a->is_remote == b->is_remote;
}

static otel_context *composite_extract(void *user_data, const otel_context *ctx, const otel_carrier_reader *r)
{
    const struct composite *c = user_data;
    otel_context *cur = otel_context_retain(ctx);
    bool found = false;
    otel_span_context win_sc;
    memset(&win_sc, 0, sizeof(win_sc));
    otel_trace_state *win_ts = NULL; /* owned */
    for (size_t i = 0; i < c->count; i++) {
        const otel_propagator *m = &c->members[i];
        if (!m->extract)
            continue;
        otel_span_context before_sc = otel_context_get_span_context(cur);
        const otel_trace_state *before_ts = otel_context_get_trace_state(cur);
        otel_span before_span = otel_context_get_span(cur);
        otel_context *next = m->extract(m->user_data, cur, r);
        otel_context_release(cur);
        cur = next;

        otel_span_context sc = otel_context_get_span_context(cur);
        const otel_trace_state *ts = otel_context_get_trace_state(cur);
        otel_span span = otel_context_get_span(cur);
        bool slot_changed = !same_span_context(&sc, &before_sc) || ts != before_ts ||
                            span.impl != before_span.impl || span.gen != before_span.gen;
        if (!slot_changed)
            continue;
        if (!found) {
            if (otel_span_context_is_valid(&sc)) {
                found = true;
                win_sc = sc;
                win_ts = otel_trace_state_retain(ts);
            }
            continue;
        }
        if (same_span_context(&sc, &win_sc) && ts == win_ts)
            continue;
        /* A later format disagrees: the first one found stays on top. */
        otel_context *fixed = NULL;
        if (otel_context_with_span_context(cur, &win_sc, win_ts, &fixed) != OTEL_OK) {
            OTEL__LOG(OTEL_LOG_WARN, "propagators: out of memory in composite extract");
            continue;
        }
        otel_context_release(cur);
        cur = fixed;
    }
    otel_trace_state_release(win_ts);
    return cur;
}

static size_t composite_fields(void *user_data, otel_str *names, size_t cap)
{
    const struct composite *c = user_data;
    for (size_t i = 0; i < cap && i < c->field_count; i++)
        names[i] = c->fields[i];
    return c->field_count;
}

/* Collects the members' fields, each name once (compared case-insensitively). */
static otel_status collect_fields(struct composite *c)
{
    size_t total = 0;
    for (size_t i = 0; i < c->count; i++)
        if (c->members[i].fields)
            total += c->members[i].fields(c->members[i].user_data, NULL, 0);
    if (total == 0)
        return OTEL_OK;
    otel_str *all = otel__calloc(total, sizeof(*all));
    if (!all)
        return OTEL_ERR_NOMEM;
    size_t pos = 0;
    for (size_t i = 0; i < c->count && pos < total; i++) {
        if (!c->members[i].fields)
            continue;
        size_t got = c->members[i].fields(c->members[i].user_data, all + pos, total - pos);
        pos += got < total - pos ? got : total - pos;
    }
    size_t unique = 0;
    for (size_t i = 0; i < pos; i++) {
        bool dup = false;
        for (size_t j = 0; j < unique && !dup; j++)
            dup = otel__prop_name_ieq(all[j], all[i]);
        if (!dup)
            all[unique++] = all[i];
    }
    c->fields = all;
    c->field_count = unique;
    return OTEL_OK;
}

otel_status otel_propagator_composite(const otel_propagator *list, size_t n, otel_propagator *out)
{
    if (!out || (!list && n > 0))
        return OTEL_ERR_INVALID_ARG;
    struct composite *c = otel__calloc(1, sizeof(*c));
    if (!c)
        return OTEL_ERR_NOMEM;
    if (n) {
        c->members = otel__calloc(n, sizeof(*c->members));
        if (!c->members)
            goto out_free;
        memcpy(c->members, list, n * sizeof(*list));
    }
    c->count = n;
    if (collect_fields(c) != OTEL_OK)
        goto out_free;
    *out = (otel_propagator){
        .inject = composite_inject,
        .extract = composite_extract,
        .fields = composite_fields,
        .destroy = composite_destroy,
        .user_data = c,
    };
    return OTEL_OK;
out_free:
    /* Ownership of the members stays with the caller. */
    otel__free(c->members);
    otel__free(c);
    return OTEL_ERR_NOMEM;
}

/* ---------------------------------------------------------------------------------------------
 * OTEL_PROPAGATORS
 * ------------------------------------------------------------------------------------------- */

enum kind {
    KIND_TRACECONTEXT,
    KIND_BAGGAGE,
    KIND_B3,
    KIND_B3MULTI,
    KIND_JAEGER,
    KIND_DATADOG,
    KIND_COUNT,
    KIND_NONE = KIND_COUNT,
    KIND_UNSUPPORTED,
    KIND_UNKNOWN,
};

static enum kind kind_of(otel_str name)
{
    static const struct {
        otel_str name;
        enum kind kind;
    } names[] = {
        { { "tracecontext", 12 }, KIND_TRACECONTEXT },
        { { "baggage", 7 }, KIND_BAGGAGE },
        { { "b3", 2 }, KIND_B3 },
        { { "b3multi", 7 }, KIND_B3MULTI },
        { { "jaeger", 6 }, KIND_JAEGER },
        { { "datadog", 7 }, KIND_DATADOG },
        { { "none", 4 }, KIND_NONE },
        { { "xray", 4 }, KIND_UNSUPPORTED },
        { { "ottrace", 7 }, KIND_UNSUPPORTED },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (otel__prop_name_ieq(name, names[i].name))
            return names[i].kind;
    return KIND_UNKNOWN;
}

/* Calls |fn| for each non-empty trimmed item of the comma-separated |list|. */
static void for_each_item(otel_str list, void (*fn)(void *arg, otel_str item, size_t start), void *arg)
{
    size_t pos = 0;
    while (pos < list.len) {
        const char *start = list.data + pos;
        const char *comma = memchr(start, ',', list.len - pos);
        size_t len = comma ? (size_t)(comma - start) : list.len - pos;
        size_t at = pos;
        pos += len + 1;
        otel_str item = otel__prop_trim((otel_str){ start, len });
        if (item.len)
            fn(arg, item, at);
    }
}

struct names_scan {
    otel_str list;
    enum kind order[KIND_COUNT];
    size_t count;
    bool seen[KIND_COUNT];
    bool none;
    size_t items;  /* non-empty items */
    size_t others; /* items other than "none" */
};

/* True when |item| (at offset |start| of the list) already appeared earlier in the list. */
static bool seen_before(otel_str list, otel_str item, size_t start)
{
    size_t pos = 0;
    while (pos < start) {
        const char *s = list.data + pos;
        const char *comma = memchr(s, ',', start - pos);
        size_t len = comma ? (size_t)(comma - s) : start - pos;
        pos += len + 1;
        if (otel__prop_name_ieq(otel__prop_trim((otel_str){ s, len }), item))
            return true;
    }
    return false;
}

static void scan_item(void *arg, otel_str item, size_t start)
{
    struct names_scan *s = arg;
    s->items++;
    enum kind k = kind_of(item);
    if (k != KIND_NONE)
        s->others++;
    int shown = item.len > 64 ? 64 : (int)item.len;
    switch (k) {
    case KIND_NONE:
        s->none = true;
        return;
    case KIND_UNSUPPORTED:
        if (!seen_before(s->list, item, start))
            otel__log(OTEL_LOG_WARN,
                      "OTEL_PROPAGATORS: propagator \"%.*s\" is not available in otelc; skipped", shown,
                      item.data);
        return;
    case KIND_UNKNOWN:
        if (!seen_before(s->list, item, start))
            otel__log(OTEL_LOG_WARN, "OTEL_PROPAGATORS: unknown propagator \"%.*s\" skipped", shown,
                      item.data);
        return;
    default:
        if (!s->seen[k]) {
            s->seen[k] = true;
            s->order[s->count++] = k;
        }
        return;
    }
}

static otel_status make_kind(enum kind k, bool datadog_interop, otel_propagator *out)
{
    switch (k) {
    case KIND_TRACECONTEXT: {
        otel_tracecontext_propagator_options o = { .datadog_interop = datadog_interop };
        return otel_propagator_tracecontext_with_options(&o, out);
    }
    case KIND_BAGGAGE:
        return otel_propagator_baggage(out);
    case KIND_B3:
        return otel_propagator_b3(out);
    case KIND_B3MULTI:
        return otel_propagator_b3multi(out);
    case KIND_JAEGER:
        return otel_propagator_jaeger(out);
    case KIND_DATADOG:
        return otel_propagator_datadog(NULL, out);
    default:
        return otel_propagator_none(out);
    }
}

otel_status otel_propagators_from_names(otel_str names, otel_propagator *out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    if (!names.data)
        names.len = 0;
    struct names_scan s;
    memset(&s, 0, sizeof(s));
    s.list = names;
    for_each_item(names, scan_item, &s);
    if (s.items == 0) {
        s.list = OTEL_STR(OTEL_PROPAGATORS_DEFAULT);
        for_each_item(s.list, scan_item, &s);
    }
    if (s.none) {
        if (s.others > 0)
            otel__log(OTEL_LOG_WARN, "OTEL_PROPAGATORS: \"none\" given with other propagators; "
                                     "no propagator is used");
        return otel_propagator_none(out);
    }
    if (s.count == 0) {
        otel__log(OTEL_LOG_WARN, "OTEL_PROPAGATORS: no usable propagator; none is used");
        return otel_propagator_none(out);
    }
    otel_propagator list[KIND_COUNT];
    otel_status st = OTEL_OK;
    size_t built = 0;
    for (; built < s.count; built++) {
        st = make_kind(s.order[built], s.seen[KIND_DATADOG], &list[built]);
        if (st != OTEL_OK)
            goto out_destroy;
    }
    if (s.count == 1) {
        *out = list[0];
        return OTEL_OK;
    }
    st = otel_propagator_composite(list, s.count, out);
    if (st == OTEL_OK)
        return OTEL_OK;
out_destroy:
    for (size_t i = 0; i < built; i++)
        otel_propagator_destroy(&list[i]);
    return st;
}
