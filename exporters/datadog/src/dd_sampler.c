/* The Datadog-compatible sampler: for a new trace it applies the user's sampling rules (first
 * match wins; rule keeps pass through a token-bucket rate limiter), else the agent's rate for
 * the span's service and environment, else keeps the trace; spans with a parent follow the
 * parent's sampled flag. Decisions hash the trace id's lower 64 bits with Knuth's factor, as the
 * Datadog tracers and agent do, and are recorded in the trace state's "dd" member, which the
 * exporter reads back (see otel/exporters/datadog.h). The hot path takes no lock: rules are
 * immutable, the limiter hands out tokens in per-thread blocks, and the agent rate of the default service is
 * cached per generation of the shared rate table. */
#include "dd_sampler.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dd_json.h"
#include "dd_rates.h"
#include "log_internal.h"
#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * Globs
 * ------------------------------------------------------------------------------------------- */

/* ASCII lowercase by table: one load per subject byte. */
const unsigned char otel__dd_lower_tab[256] = {
#define L4(i) L1(i), L1(i + 1), L1(i + 2), L1(i + 3)
#define L1(i) (unsigned char)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i))
#define L16(i) L4(i), L4(i + 4), L4(i + 8), L4(i + 12)
#define L64(i) L16(i), L16(i + 16), L16(i + 32), L16(i + 48)
    L64(0), L64(64), L64(128), L64(192)
#undef L64
#undef L16
#undef L1
#undef L4
};

otel_status otel__dd_glob_init(struct otel__dd_glob *g, otel_str pattern)
{
    memset(g, 0, sizeof(*g));
    bool only_stars = true, star = false;
    for (size_t i = 0; i < pattern.len; i++) {
        if (pattern.data[i] != '*')
            only_stars = false;
        else
            star = true;
    }
    if (pattern.len > 0 && only_stars) {
        g->kind = OTEL__DD_GLOB_ANY;
        return OTEL_OK;
    }
    if (pattern.len > UINT32_MAX - 1)
        return OTEL_ERR_NOMEM; /* a 4 GiB pattern: treat as the allocation it would be */
    /* The pattern, its NUL, and a byte mask of the pattern: 0xff where a subject byte must equal
     * it, 0 for '?' and '*'. */
    g->pattern = otel__malloc(2 * pattern.len + 2);
    if (!g->pattern)
        return OTEL_ERR_NOMEM;
    /* Collapse runs of '*' (they mean the same). */
    uint32_t n = 0;
    for (size_t i = 0; i < pattern.len; i++) {
        unsigned char c = (unsigned char)pattern.data[i];
        if (c == '*' && n > 0 && g->pattern[n - 1] == '*')
            continue;
        g->pattern[n++] = (char)otel__dd_lower_tab[c];
        if (c != '*')
            g->min_len++;
    }
    g->pattern[n] = '\0';
    g->len = n;
    g->care = (unsigned char *)g->pattern + n + 1;
    for (uint32_t i = 0; i < n; i++)
        g->care[i] = g->pattern[i] == '?' || g->pattern[i] == '*' ? 0 : 0xff;
    g->kind = star ? OTEL__DD_GLOB_PATTERN : OTEL__DD_GLOB_LITERAL;
    if (star) {
        const char *first = memchr(g->pattern, '*', n);
        const char *last = strrchr(g->pattern, '*');
        g->prefix_len = (uint32_t)(first - g->pattern);
        g->suffix_len = (uint32_t)(n - (size_t)(last - g->pattern) - 1);
        g->one_star = first == last;
    }
    /* Bytes every match must start and end with ('?' and '*' excluded). */
    if (n && g->pattern[0] != '*' && g->pattern[0] != '?')
        g->first = (unsigned char)g->pattern[0];
    if (n && g->pattern[n - 1] != '*' && g->pattern[n - 1] != '?')
        g->last = (unsigned char)g->pattern[n - 1];
    return OTEL_OK;
}

void otel__dd_glob_cleanup(struct otel__dd_glob *g)
{
    otel__free(g->pattern);
    memset(g, 0, sizeof(*g));
}

bool otel__dd_glob_match_bytes(const struct otel__dd_glob *g, otel_str subject)
{
    if (g->kind == OTEL__DD_GLOB_ANY)
        return true;
    if (g->kind == OTEL__DD_GLOB_LITERAL)
        return subject.len == g->len && otel__dd_seg_eq(g, 0, subject.data, g->len);
    if (subject.len < g->min_len)
        return false;
    const char *p = g->pattern;
    const char *s = subject.data;
    /* Anchored ends first: the cheapest rejections. */
    if (!otel__dd_seg_eq(g, g->len - g->suffix_len, s + subject.len - g->suffix_len, g->suffix_len) ||
        !otel__dd_seg_eq(g, 0, s, g->prefix_len))
        return false;
    /* Middle segments, in order, leftmost-first inside the window between prefix and suffix. */
    size_t pi = g->prefix_len + 1;            /* after the first '*' */
    size_t pend = g->len - g->suffix_len - 1; /* the last '*' */
    size_t si = g->prefix_len, send = subject.len - g->suffix_len;
    while (pi < pend) {
        size_t seg = pi;
        while (p[seg] != '*')
            seg++;
        size_t sl = seg - pi;
        bool found = false;
        for (; si + sl <= send; si++) {
            if (otel__dd_seg_eq(g, pi, s + si, sl)) {
                found = true;
                break;
            }
        }
        if (!found)
            return false;
        si += sl;
        pi = seg + 1;
    }
    return true;
}

bool otel__dd_glob_match_str(otel_str pattern, otel_str subject)
{
    struct otel__dd_glob g;
    if (otel__dd_glob_init(&g, pattern) != OTEL_OK)
        return false;
    bool r = otel__dd_glob_match(&g, subject);
    otel__dd_glob_cleanup(&g);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Knuth threshold
 * ------------------------------------------------------------------------------------------- */

uint64_t otel__dd_rate_threshold(double rate, bool *keep_all)
{
    *keep_all = false;
    if (!(rate > 0.0))
        return 0;
    if (rate >= 1.0) {
        *keep_all = true;
        return UINT64_MAX;
    }
    /* rate * 2^64 is exact scaling and below 2^64 for rate < 1. */
    return (uint64_t)ldexp(rate, 64);
}

/* ---------------------------------------------------------------------------------------------
 * Rules
 * ------------------------------------------------------------------------------------------- */

static void rule_cleanup(struct otel__dd_rule *r)
{
    otel__dd_glob_cleanup(&r->service);
    otel__dd_glob_cleanup(&r->name);
    otel__dd_glob_cleanup(&r->resource);
    for (size_t i = 0; i < r->tag_count; i++) {
        otel__free(r->tags[i].key);
        otel__dd_glob_cleanup(&r->tags[i].value);
    }
    otel__free(r->tags);
    memset(r, 0, sizeof(*r));
}

void otel__dd_rules_free(struct otel__dd_rule *rules, size_t count)
{
    if (!rules)
        return;
    for (size_t i = 0; i < count; i++)
        rule_cleanup(&rules[i]);
    otel__free(rules);
}

/* Datadog tag names that OpenTelemetry spells differently: a rule on "http.method" also matches
 * a span with "http.request.method". */
static int alt_key_for(otel_str key)
{
    if (otel_str_eq(key, OTEL_STR("http.method")))
        return OTEL__DDK_HTTP_REQUEST_METHOD;
    if (otel_str_eq(key, OTEL_STR("http.status_code")))
        return OTEL__DDK_HTTP_RESPONSE_STATUS_CODE;
    if (otel_str_eq(key, OTEL_STR("http.url")))
        return OTEL__DDK_URL_FULL;
    return -1;
}

/* Builds one rule from |node|. Returns OTEL_OK, OTEL_ERR_INVALID_ARG with |*why| set (the rule
 * is skipped), or OTEL_ERR_NOMEM. */
static otel_status rule_from_json(const struct otel__json_doc *doc, const struct otel__json_node *node,
                                  struct otel__dd_rule *r, const char **why)
{
    memset(r, 0, sizeof(*r));
    if (node->type != OTEL__JSON_OBJECT) {
        *why = "a rule must be a JSON object";
        return OTEL_ERR_INVALID_ARG;
    }
    static const char *const fields[] = { "service", "name", "resource" };
    struct otel__dd_glob *globs[] = { &r->service, &r->name, &r->resource };
    otel_status st;
    for (size_t i = 0; i < 3; i++) {
        const struct otel__json_node *f = otel__json_get(doc, node, fields[i]);
        if (!f || f->type == OTEL__JSON_NULL)
            continue; /* absent: matches everything (ANY is the zero glob) */
        if (f->type != OTEL__JSON_STRING) {
            static const char *const msgs[] = { "\"service\" must be a string", "\"name\" must be a string",
                                                "\"resource\" must be a string" };
            *why = msgs[i];
            st = OTEL_ERR_INVALID_ARG;
            goto out_cleanup;
        }
        st = otel__dd_glob_init(globs[i], f->str);
        if (st != OTEL_OK)
            goto out_cleanup;
    }
    r->rate = 1.0;
    const struct otel__json_node *rate = otel__json_get(doc, node, "sample_rate");
    if (rate) {
        if (rate->type != OTEL__JSON_NUMBER) {
            *why = "\"sample_rate\" must be a number";
            st = OTEL_ERR_INVALID_ARG;
            goto out_cleanup;
        }
        if (!(rate->number >= 0.0 && rate->number <= 1.0)) {
            *why = "\"sample_rate\" must be between 0 and 1";
            st = OTEL_ERR_INVALID_ARG;
            goto out_cleanup;
        }
        r->rate = rate->number;
    }
    r->threshold = otel__dd_rate_threshold(r->rate, &r->keep_all);
    r->needs_mapping = r->name.kind != OTEL__DD_GLOB_ANY || r->resource.kind != OTEL__DD_GLOB_ANY;

    const struct otel__json_node *tags = otel__json_get(doc, node, "tags");
    if (tags && tags->type != OTEL__JSON_NULL) {
        if (tags->type != OTEL__JSON_OBJECT) {
            *why = "\"tags\" must be an object of strings";
            st = OTEL_ERR_INVALID_ARG;
            goto out_cleanup;
        }
        if (tags->count) {
            r->tags = otel__calloc(tags->count, sizeof(*r->tags));
            if (!r->tags) {
                st = OTEL_ERR_NOMEM;
                goto out_cleanup;
            }
        }
        for (const struct otel__json_node *t = otel__json_child(doc, tags); t; t = otel__json_next(doc, t)) {
            if (t->type != OTEL__JSON_STRING) {
                *why = "every value in \"tags\" must be a string";
                st = OTEL_ERR_INVALID_ARG;
                goto out_cleanup;
            }
            struct otel__dd_tag_matcher *m = &r->tags[r->tag_count];
            m->key = otel__strndup(t->key.data, t->key.len);
            if (!m->key) {
                st = OTEL_ERR_NOMEM;
                goto out_cleanup;
            }
            r->tag_count++;
            m->key_len = t->key.len;
            m->alt_key = alt_key_for(t->key);
            st = otel__dd_glob_init(&m->value, t->str);
            if (st != OTEL_OK)
                goto out_cleanup;
        }
    }
    return OTEL_OK;
out_cleanup:
    rule_cleanup(r);
    return st;
}

otel_status otel__dd_rules_parse(otel_str json, const char *source, struct otel__dd_rule **rules,
                                 size_t *count)
{
    *rules = NULL;
    *count = 0;
    if (!source)
        source = "sampling rules";
    /* Empty or blank text means no rules. */
    size_t b = 0;
    while (b < json.len &&
           (json.data[b] == ' ' || json.data[b] == '\t' || json.data[b] == '\n' || json.data[b] == '\r'))
        b++;
    if (b == json.len)
        return OTEL_OK;

    struct otel__json_doc doc;
    size_t err_at = 0;
    const char *what = NULL;
    otel_status st = otel__json_parse(json, &doc, &err_at, &what);
    if (st == OTEL_ERR_NOMEM)
        return st;
    if (st != OTEL_OK) {
        otel__log(OTEL_LOG_WARN, "%s: not valid JSON (%s at byte %zu); ignoring all sampling rules", source,
                  what ? what : "syntax error", err_at);
        return OTEL_OK;
    }
    const struct otel__json_node *root = &doc.nodes[0];
    if (root->type != OTEL__JSON_ARRAY) {
        otel__log(OTEL_LOG_WARN,
                  "%s: expected a JSON array of rules, got a %s; ignoring all "
                  "sampling rules",
                  source, otel__json_type_name(root->type));
        otel__json_free(&doc);
        return OTEL_OK;
    }
    struct otel__dd_rule *out = NULL;
    size_t n = 0;
    if (root->count) {
        out = otel__calloc(root->count, sizeof(*out));
        if (!out) {
            otel__json_free(&doc);
            return OTEL_ERR_NOMEM;
        }
    }
    size_t index = 0;
    for (const struct otel__json_node *e = otel__json_child(&doc, root); e;
         e = otel__json_next(&doc, e), index++) {
        const char *why = NULL;
        st = rule_from_json(&doc, e, &out[n], &why);
        if (st == OTEL_ERR_NOMEM) {
            otel__dd_rules_free(out, n);
            otel__json_free(&doc);
            return st;
        }
        if (st != OTEL_OK) {
            otel__log(OTEL_LOG_WARN, "%s: ignoring rule %zu: %s", source, index, why);
            continue;
        }
        n++;
    }
    otel__json_free(&doc);
    if (n == 0) {
        otel__free(out);
        out = NULL;
    }
    *rules = out;
    *count = n;
    return OTEL_OK;
}

/* An attribute value as a tag subject: strings as they are, booleans as "true"/"false",
 * integers (and integral doubles) in decimal. A non-integral double matches only a pattern of
 * stars, as in the Datadog tracers; arrays and bytes never match. */
static bool tag_value_matches(const struct otel__dd_glob *g, const otel_value *v)
{
    char tmp[32];
    otel_str s;
    switch (v->type) {
    case OTEL_VALUE_STR:
        return otel__dd_glob_match(g, v->as.s);
    case OTEL_VALUE_BOOL:
        s = v->as.b ? OTEL_STR("true") : OTEL_STR("false");
        return otel__dd_glob_match(g, s);
    case OTEL_VALUE_INT: {
        int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v->as.i);
        s.data = tmp;
        s.len = (size_t)n;
        return otel__dd_glob_match(g, s);
    }
    case OTEL_VALUE_DOUBLE: {
        double d = v->as.d;
        if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d)
            return g->kind == OTEL__DD_GLOB_ANY;
        int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)(int64_t)d);
        s.data = tmp;
        s.len = (size_t)n;
        return otel__dd_glob_match(g, s);
    }
    default:
        return false;
    }
}

static void props_view(const struct otel__dd_span_props *p, struct otel__dd_view *v)
{
    v->kind = p->params->kind;
    v->name = p->params->name;
    v->attrs = p->params->attrs;
    v->ix = p->ix;
    v->res_attrs = NULL;
    v->res_ix = NULL;
}

/* The span's Datadog name, on first use. */
static __attribute__((noinline)) void props_name(struct otel__dd_span_props *p)
{
    struct otel__dd_view v;
    props_view(p, &v);
    otel__dd_map_name(&v, p->name_buf, sizeof(p->name_buf), &p->name);
    p->mapped |= OTEL__DD_MAPPED_NAME;
}

/* The span's resource as parts, with the composed resource's length and first and last bytes
 * (lowercased), on first use. */
static __attribute__((noinline)) void props_resource_parts(struct otel__dd_span_props *p)
{
    struct otel__dd_view v;
    props_view(p, &v);
    otel_str a, b;
    int parts = otel__dd_map_resource_parts(&v, &a, &b);
    p->res_a = a;
    p->res_b = b;
    p->res_parts = (uint8_t)parts;
    size_t len = a.len + (parts == 2 ? 1 + b.len : 0);
    p->res_len = len;
    p->res_first = len ? otel__dd_lower_tab[a.len ? (unsigned char)a.data[0] : ' '] : 0;
    unsigned char last = parts != 2 ? (a.len ? (unsigned char)a.data[a.len - 1] : 0)
                         : b.len    ? (unsigned char)b.data[b.len - 1]
                                    : ' ';
    p->res_last = otel__dd_lower_tab[last];
    p->mapped |= OTEL__DD_MAPPED_RESOURCE_PARTS;
}

/* The composed resource, on first use. */
static __attribute__((noinline)) otel_str props_resource(struct otel__dd_span_props *p)
{
    struct otel__dd_view v;
    props_view(p, &v);
    otel__dd_map_resource(&v, p->resource_buf, sizeof(p->resource_buf), &p->resource);
    p->mapped |= OTEL__DD_MAPPED_RESOURCE;
    return p->resource;
}

/* Whether the resource can match |g| at all, judged from its parts (length, first and last
 * byte) before it is composed: "GET /users/:id" is never copied for a "POST /admin/..." rule. */
static inline bool resource_may_match(const struct otel__dd_glob *g, const struct otel__dd_span_props *p)
{
    size_t len = p->res_len;
    if (len > sizeof(p->resource_buf))
        return true; /* composing cuts it: decide on the composed text */
    if (g->kind == OTEL__DD_GLOB_LITERAL ? len != g->len : len < g->min_len)
        return false;
    return !len || ((!g->first || g->first == p->res_first) && (!g->last || g->last == p->res_last));
}

/* Everything but the service. */
static inline bool rule_matches_rest(const struct otel__dd_rule *r, struct otel__dd_span_props *p)
{
    if (r->needs_mapping) {
        if (r->name.kind != OTEL__DD_GLOB_ANY) {
            if (!(p->mapped & OTEL__DD_MAPPED_NAME))
                props_name(p);
            if (!otel__dd_glob_match(&r->name, p->name))
                return false;
        }
        if (r->resource.kind != OTEL__DD_GLOB_ANY) {
            if (!(p->mapped & OTEL__DD_MAPPED_RESOURCE)) {
                if (!(p->mapped & OTEL__DD_MAPPED_RESOURCE_PARTS))
                    props_resource_parts(p);
                if (!resource_may_match(&r->resource, p))
                    return false;
            }
            if (!otel__dd_glob_match(
                    &r->resource, (p->mapped & OTEL__DD_MAPPED_RESOURCE) ? p->resource : props_resource(p)))
                return false;
        }
    }
    const otel_sampling_params *params = p->params;
    for (size_t i = 0; i < r->tag_count; i++) {
        const struct otel__dd_tag_matcher *m = &r->tags[i];
        otel_str key = { m->key, m->key_len };
        const otel_attr *a = otel_attrs_find(params->attrs, params->attr_count, key);
        if (!a && m->alt_key >= 0 && p->ix->at[m->alt_key])
            a = &params->attrs[p->ix->at[m->alt_key] - 1];
        if (!a || !tag_value_matches(&m->value, &a->value))
            return false;
    }
    return true;
}

static inline bool rule_matches(const struct otel__dd_rule *r, struct otel__dd_span_props *p)
{
    return otel__dd_glob_match(&r->service, p->service) && rule_matches_rest(r, p);
}

long otel__dd_rules_match(const struct otel__dd_rule *rules, size_t count, struct otel__dd_span_props *props)
{
    for (size_t i = 0; i < count; i++)
        if (rule_matches(&rules[i], props))
            return (long)i;
    return -1;
}

uint64_t otel__dd_rules_service_mask(const struct otel__dd_rule *rules, size_t count, otel_str service)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < count && i < 64; i++)
        if (otel__dd_glob_match(&rules[i].service, service))
            mask |= UINT64_C(1) << i;
    return mask;
}

long otel__dd_rules_match_masked(const struct otel__dd_rule *rules, size_t count, uint64_t mask,
                                 struct otel__dd_span_props *props)
{
    /* Ascending bit order keeps "the first matching rule wins". */
    while (mask) {
        unsigned i = (unsigned)__builtin_ctzll(mask);
        if (i >= count)
            break;
        if (rule_matches_rest(&rules[i], props))
            return (long)i;
        mask &= mask - 1;
    }
    for (size_t i = 64; i < count; i++)
        if (rule_matches(&rules[i], props))
            return (long)i;
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Rate limiter
 * ------------------------------------------------------------------------------------------- */

#define WIN_SHIFT 48
#define ALLOWED_SHIFT 24
#define FIELD_MASK ((UINT64_C(1) << 24) - 1)
#define NO_PREV_RATE UINT64_MAX

static int64_t coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Atomic uint64_t limiter_ids;

/* The calling thread's cache of one limiter (the last one it used). */
struct limiter_tls {
    uint64_t id;        /* the limiter's id; 0: none */
    int64_t tokens;     /* taken from the bucket, not spent yet */
    int64_t deny_until; /* no token in the bucket before this time */
    int64_t sec;        /* the second of the counts below */
    uint32_t allowed;   /* decisions not yet in the shared window */
    uint32_t total;
};

static __thread struct limiter_tls t_limiter __attribute__((tls_model("initial-exec")));

void otel__dd_limiter_init(struct otel__dd_limiter *l, double limit)
{
    memset(l, 0, sizeof(*l));
    l->id = atomic_fetch_add(&limiter_ids, 1) + 1;
    atomic_init(&l->tat, INT64_MIN / 2);
    atomic_init(&l->window, 0);
    atomic_init(&l->prev_rate_bits, NO_PREV_RATE);
    l->block = 1;
    if (isnan(limit) || limit == 0.0) {
        l->mode = -1;
        return;
    }
    if (limit < 0.0 || limit >= 1e9) {
        l->mode = 1;
        return;
    }
    double interval = 1e9 / limit;
    double burst = limit < 1.0 ? 1.0 : limit;
    l->interval_ns = (int64_t)interval;
    if (l->interval_ns < 1)
        l->interval_ns = 1;
    l->tolerance_ns = (int64_t)((burst - 1.0) * interval);
    double block = limit / 100.0;
    l->block = block < 1.0 ? 1 : block > 64.0 ? 64 : (int64_t)block;
}

void otel__dd_limiter_set_clock(struct otel__dd_limiter *l, otel__dd_clock_fn fn, void *user_data)
{
    l->clock = fn;
    l->clock_user_data = user_data;
    /* A new clock may start anywhere: begin with a full bucket on it, and no thread's cache. */
    l->id = atomic_fetch_add(&limiter_ids, 1) + 1;
    atomic_store(&l->tat, INT64_MIN / 2);
    atomic_store(&l->window, 0);
    atomic_store(&l->prev_rate_bits, NO_PREV_RATE);
}

static inline int64_t limiter_now(const struct otel__dd_limiter *l)
{
    return l->clock ? l->clock(l->clock_user_data) : coarse_now();
}

static inline double window_rate(uint64_t w)
{
    uint64_t total = w & FIELD_MASK;
    uint64_t allowed = (w >> ALLOWED_SHIFT) & FIELD_MASK;
    return total ? (double)allowed / (double)total : 1.0;
}

/* Adds |allowed| of |total| decisions made in second |sec| to the shared window, starting a new
 * window (and remembering the previous one's rate) when |sec| is later than the window's. Counts
 * of a second the window has already left are dropped. The add is a relaxed load and store, not
 * a locked add: under contention an update may be lost, which only blurs the _dd.limit_psr
 * statistic (the limit itself is exact). */
static void window_add(struct otel__dd_limiter *l, int64_t sec_in, uint32_t allowed, uint32_t total)
{
    if (!total)
        return;
    uint64_t sec = (uint64_t)sec_in & 0xffff;
    uint64_t w = atomic_load_explicit(&l->window, memory_order_relaxed);
    while ((w >> WIN_SHIFT) != sec) {
        if ((w & FIELD_MASK) && ((sec - (w >> WIN_SHIFT)) & 0xffff) > 0x8000)
            return; /* an older second */
        uint64_t fresh = (sec << WIN_SHIFT) | ((uint64_t)allowed << ALLOWED_SHIFT) | total;
        if (atomic_compare_exchange_weak_explicit(&l->window, &w, fresh, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            uint64_t prev_sec = w >> WIN_SHIFT;
            uint64_t bits = NO_PREV_RATE;
            if ((w & FIELD_MASK) && ((prev_sec + 1) & 0xffff) == sec) {
                double r = window_rate(w);
                memcpy(&bits, &r, sizeof(bits));
            }
            atomic_store_explicit(&l->prev_rate_bits, bits, memory_order_relaxed);
            return;
        }
    }
    if ((w & FIELD_MASK) + total >= FIELD_MASK)
        return; /* 16 million decisions in one second: stop counting rather than overflow */
    atomic_store_explicit(&l->window, w + (((uint64_t)allowed << ALLOWED_SHIFT) | total),
                          memory_order_relaxed);
}

static inline void tls_flush(struct otel__dd_limiter *l, struct limiter_tls *t)
{
    window_add(l, t->sec, t->allowed, t->total);
    t->allowed = t->total = 0;
}

/* Points the thread's cache at |l| and the second of |now|. */
static void tls_sync(struct otel__dd_limiter *l, struct limiter_tls *t, int64_t now)
{
    int64_t sec = now / 1000000000;
    if (t->id != l->id) {
        /* The previous limiter may be gone: its unspent tokens and counts are dropped. */
        t->id = l->id;
        t->tokens = 0;
        t->deny_until = INT64_MIN;
        t->allowed = t->total = 0;
        t->sec = sec;
    } else if (sec != t->sec) {
        tls_flush(l, t);
        t->sec = sec;
    }
}

/* The slow path: a new second, another limiter, or no token in the cache and the bucket may have
 * some. */
static __attribute__((noinline)) bool limiter_refill(struct otel__dd_limiter *l, struct limiter_tls *t,
                                                     int64_t now)
{
    tls_sync(l, t, now);
    if (now < t->deny_until) {
        t->total++;
        return false;
    }
    int64_t tat = atomic_load_explicit(&l->tat, memory_order_relaxed);
    for (;;) {
        int64_t base = tat > now ? tat : now;
        int64_t room = l->tolerance_ns + l->interval_ns - (base - now); /* time for whole tokens */
        if (room < l->interval_ns) {
            /* Empty: the next token is there when base - now <= tolerance. */
            t->deny_until = base - l->tolerance_ns;
            t->total++;
            return false;
        }
        int64_t n = room / l->interval_ns;
        if (n > l->block)
            n = l->block;
        if (atomic_compare_exchange_weak_explicit(&l->tat, &tat, base + n * l->interval_ns,
                                                  memory_order_relaxed, memory_order_relaxed)) {
            t->tokens = n - 1;
            t->allowed++;
            t->total++;
            return true;
        }
    }
}

bool otel__dd_limiter_allow(struct otel__dd_limiter *l)
{
    struct limiter_tls *t = &t_limiter;
    if (__builtin_expect(t->id == l->id, 1) && t->tokens > 0) {
        /* A token of this thread's block: no clock, no shared memory. */
        t->tokens--;
        t->allowed++;
        t->total++;
        return true;
    }
    if (l->mode != 0) {
        if (l->mode < 0) {
            tls_sync(l, t, limiter_now(l));
            t->total++;
        }
        return l->mode > 0;
    }
    int64_t now = limiter_now(l);
    if (__builtin_expect(t->id == l->id && now < t->deny_until && now / 1000000000 == t->sec, 1)) {
        t->total++; /* the bucket is known to be empty until deny_until */
        return false;
    }
    return limiter_refill(l, t, now);
}

double otel__dd_limiter_effective_rate(struct otel__dd_limiter *l)
{
    if (l->mode > 0)
        return 1.0;
    struct limiter_tls *t = &t_limiter;
    if (t->id == l->id)
        tls_flush(l, t);
    uint64_t w = atomic_load_explicit(&l->window, memory_order_relaxed);
    double cur = window_rate(w);
    uint64_t bits = atomic_load_explicit(&l->prev_rate_bits, memory_order_relaxed);
    if (bits == NO_PREV_RATE)
        return cur;
    double prev;
    memcpy(&prev, &bits, sizeof(prev));
    return (cur + prev) / 2.0;
}

/* ---------------------------------------------------------------------------------------------
 * Trace state
 * ------------------------------------------------------------------------------------------- */

bool otel__dd_trace_state_decision(const otel_trace_state *ts, int *priority, int *mechanism)
{
    otel_str v;
    *mechanism = -1;
    if (!ts || !otel_trace_state_get(ts, OTEL_STR("dd"), &v))
        return false;
    bool have_priority = false;
    size_t i = 0;
    while (i < v.len) {
        size_t j = i;
        while (j < v.len && v.data[j] != ';')
            j++;
        otel_str item = { v.data + i, j - i };
        if (item.len > 2 && item.data[0] == 's' && item.data[1] == ':') {
            int sign = 1, val = 0;
            size_t k = 2;
            if (item.data[k] == '-') {
                sign = -1;
                k++;
            }
            bool digits = k < item.len;
            for (; k < item.len && digits; k++) {
                if (item.data[k] < '0' || item.data[k] > '9' || val > 1000)
                    digits = false;
                else
                    val = val * 10 + (item.data[k] - '0');
            }
            if (digits) {
                *priority = sign * val;
                have_priority = true;
            }
        } else if (item.len > 6 && memcmp(item.data, "t.dm:-", 6) == 0) {
            int val = 0;
            bool digits = true;
            for (size_t k = 6; k < item.len; k++) {
                if (item.data[k] < '0' || item.data[k] > '9' || val > 1000) {
                    digits = false;
                    break;
                }
                val = val * 10 + (item.data[k] - '0');
            }
            if (digits)
                *mechanism = val;
        }
        i = j + 1;
    }
    return have_priority;
}

/* ---------------------------------------------------------------------------------------------
 * The sampler
 * ------------------------------------------------------------------------------------------- */

enum decision_kind { DK_RULE_KEEP, DK_RULE_DROP, DK_AGENT_KEEP, DK_AGENT_DROP, DK_DEFAULT_KEEP, DK_COUNT };

static const char *const decision_states[DK_COUNT] = {
    "dd=s:2;t.dm:-3", "dd=s:-1;t.dm:-3", "dd=s:1;t.dm:-1", "dd=s:0;t.dm:-1", "dd=s:1;t.dm:-0",
};

#define NOT_FOUND_BITS UINT64_MAX

struct otel__dd_sampler {
    struct otel__dd_rule *rules;
    size_t rule_count;
    struct otel__dd_limiter limiter;
    otel_datadog_rates *rates;
    char *service;
    size_t service_len;
    char *env;
    size_t env_len;
    otel_trace_state *states[DK_COUNT];
    uint64_t service_mask; /* rules whose service pattern matches |service| */
    /* The agent rate of (service, env) as of rates generation |cache_gen|. */
    _Atomic uint64_t cache_gen;
    _Atomic uint64_t cache_rate_bits;
    char description[96];
};

static _Thread_local otel_attr tls_attrs[2];

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static bool parent_valid(const otel_parent *parent)
{
    if (!parent)
        return false;
    uint8_t a = 0, b = 0;
    for (size_t i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        a |= parent->span_context.trace_id[i];
    for (size_t i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        b |= parent->span_context.span_id[i];
    return a && b;
}

static inline otel_attr psr_attr(otel_str key, double v)
{
    otel_attr a;
    a.key = key;
    a.value = otel_value_double(v);
    a.value.flags = OTEL_VALUE_STATIC_KEY;
    return a;
}

/* The agent's rate for the span's service. Never waits: when the table is busy the sampler
 * uses its cached rate for the default service, else "no rate" (keep, mechanism default). */
static bool agent_rate(struct otel__dd_sampler *s, otel_str service, bool default_service, double *rate)
{
    otel_str env = { s->env, s->env_len };
    bool found = false;
    double r = 0;
    if (!default_service)
        return otel__dd_rates_try_get(s->rates, service, env, rate, &found) && found;
    uint64_t gen = otel__dd_rates_generation(s->rates);
    uint64_t cached_gen = atomic_load_explicit(&s->cache_gen, memory_order_acquire);
    if (cached_gen != gen && otel__dd_rates_try_get(s->rates, service, env, &r, &found)) {
        uint64_t bits = NOT_FOUND_BITS;
        if (found)
            memcpy(&bits, &r, sizeof(bits));
        atomic_store_explicit(&s->cache_rate_bits, bits, memory_order_relaxed);
        atomic_store_explicit(&s->cache_gen, gen, memory_order_release);
        if (found)
            *rate = r;
        return found;
    }
    uint64_t bits = atomic_load_explicit(&s->cache_rate_bits, memory_order_relaxed);
    if (bits == NOT_FOUND_BITS)
        return false;
    memcpy(rate, &bits, sizeof(*rate));
    return true;
}

static otel_sampling_result dd_should_sample(void *user_data, const otel_sampling_params *params)
{
    struct otel__dd_sampler *s = user_data;
    otel_sampling_result res = { .decision = OTEL_SAMPLING_DROP };

    if (parent_valid(params->parent)) {
        if (params->parent->span_context.trace_flags & OTEL_TRACE_FLAG_SAMPLED) {
            res.decision = OTEL_SAMPLING_RECORD_AND_SAMPLE;
        } else {
            otel__dd_rates_count_drops(s->rates, 0, 1);
        }
        return res;
    }

    uint64_t low = params->trace_id ? load_be64(params->trace_id + 8) : 0;
    struct otel__dd_attr_index ix;
    struct otel__dd_span_props props;
    props.params = params;
    props.ix = &ix;
    props.mapped = 0;
    props.service.data = s->service;
    props.service.len = s->service_len;
    bool default_service = true;
    otel__dd_index_attrs(params->attrs, params->attr_count, &ix);
    if (ix.at[OTEL__DDK_SERVICE_NAME]) {
        const otel_value *v = &params->attrs[ix.at[OTEL__DDK_SERVICE_NAME] - 1].value;
        if (v->type == OTEL_VALUE_STR && v->as.s.len) {
            props.service = v->as.s;
            default_service = false;
        }
    }

    enum decision_kind dk;
    size_t nattrs = 0;
    long rule = -1;
    if (s->rule_count)
        rule = default_service ? otel__dd_rules_match_masked(s->rules, s->rule_count, s->service_mask, &props)
                               : otel__dd_rules_match(s->rules, s->rule_count, &props);
    if (rule >= 0) {
        const struct otel__dd_rule *r = &s->rules[rule];
        bool keep = otel__dd_knuth_keep(low, r->threshold, r->keep_all);
        tls_attrs[nattrs++] = psr_attr(OTEL_STR("_dd.rule_psr"), r->rate);
        if (keep) {
            keep = otel__dd_limiter_allow(&s->limiter);
            if (s->limiter.mode <= 0)
                tls_attrs[nattrs++] =
                    psr_attr(OTEL_STR("_dd.limit_psr"), otel__dd_limiter_effective_rate(&s->limiter));
        }
        dk = keep ? DK_RULE_KEEP : DK_RULE_DROP;
    } else {
        double rate;
        if (agent_rate(s, props.service, default_service, &rate)) {
            bool keep_all;
            uint64_t threshold = otel__dd_rate_threshold(rate, &keep_all);
            tls_attrs[nattrs++] = psr_attr(OTEL_STR("_dd.agent_psr"), rate);
            dk = otel__dd_knuth_keep(low, threshold, keep_all) ? DK_AGENT_KEEP : DK_AGENT_DROP;
        } else {
            dk = DK_DEFAULT_KEEP;
        }
    }

    res.set_trace_state = true;
    res.trace_state = otel_trace_state_retain(s->states[dk]);
    if (dk == DK_RULE_DROP || dk == DK_AGENT_DROP) {
        otel__dd_rates_count_drops(s->rates, 1, 1);
        res.decision = OTEL_SAMPLING_DROP;
        return res;
    }
    res.decision = OTEL_SAMPLING_RECORD_AND_SAMPLE;
    res.attrs = tls_attrs;
    res.attr_count = nattrs;
    return res;
}

static const char *dd_description(void *user_data)
{
    return ((const struct otel__dd_sampler *)user_data)->description;
}

static void dd_destroy(void *user_data)
{
    struct otel__dd_sampler *s = user_data;
    if (!s)
        return;
    otel__dd_rules_free(s->rules, s->rule_count);
    for (size_t i = 0; i < DK_COUNT; i++)
        otel_trace_state_release(s->states[i]);
    otel_datadog_rates_release(s->rates);
    otel__free(s->service);
    otel__free(s->env);
    otel__free(s);
}

struct otel__dd_sampler *otel__dd_sampler_of(const otel_sampler *s)
{
    if (!s || s->should_sample != dd_should_sample)
        return NULL;
    return s->user_data;
}

void otel__dd_sampler_set_clock(struct otel__dd_sampler *s, otel__dd_clock_fn fn, void *user_data)
{
    otel__dd_limiter_set_clock(&s->limiter, fn, user_data);
}

const struct otel__dd_rule *otel__dd_sampler_rules(const struct otel__dd_sampler *s, size_t *count)
{
    *count = s->rule_count;
    return s->rules;
}

struct otel__dd_limiter *otel__dd_sampler_limiter(struct otel__dd_sampler *s)
{
    return &s->limiter;
}

/* The service and env a sampler uses for spans that do not name their own service. */
static otel_str resource_str(const otel_resource *res, const char *key)
{
    otel_value v;
    if (res && otel_resource_get(res, otel_str_from_cstr(key), &v) && v.type == OTEL_VALUE_STR)
        return v.as.s;
    return (otel_str){ "", 0 };
}

static otel_status copy_str(otel_str s, char **out, size_t *len)
{
    *out = otel__strndup(s.data ? s.data : "", s.len);
    if (!*out)
        return OTEL_ERR_NOMEM;
    *len = s.len;
    return OTEL_OK;
}

otel_status otel_datadog_sampler_create(const otel_datadog_sampler_options *opts, otel_sampler *out)
{
    static const otel_datadog_sampler_options defaults;
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    if (!opts)
        opts = &defaults;
    if (opts->has_sample_rate && !(opts->sample_rate >= 0.0 && opts->sample_rate <= 1.0))
        return OTEL_ERR_INVALID_ARG;

    otel_status st = OTEL_ERR_NOMEM;
    struct otel__dd_sampler *s = otel__calloc(1, sizeof(*s));
    if (!s)
        return OTEL_ERR_NOMEM;
    s->rates = otel_datadog_rates_retain(opts->rates ? opts->rates : otel_datadog_rates_shared());

    otel_str service = opts->service ? otel_str_from_cstr(opts->service) : (otel_str){ "", 0 };
    if (!opts->service) {
        otel_str rs = resource_str(opts->resource, "service.name");
        if (!otel__dd_is_default_service(rs))
            service = rs;
    }
    otel_str env = opts->env ? otel_str_from_cstr(opts->env) : (otel_str){ "", 0 };
    if (!opts->env) {
        env = resource_str(opts->resource, "deployment.environment.name");
        if (!env.len)
            env = resource_str(opts->resource, "deployment.environment");
    }
    st = copy_str(service, &s->service, &s->service_len);
    if (st != OTEL_OK)
        goto out_destroy;
    st = copy_str(env, &s->env, &s->env_len);
    if (st != OTEL_OK)
        goto out_destroy;

    struct otel__dd_rule *rules = NULL;
    size_t count = 0;
    if (opts->rules_json) {
        st = otel__dd_rules_parse(otel_str_from_cstr(opts->rules_json), "DD_TRACE_SAMPLING_RULES", &rules,
                                  &count);
        if (st != OTEL_OK)
            goto out_destroy;
    }
    if (opts->has_sample_rate) {
        /* DD_TRACE_SAMPLE_RATE: a catch-all rule after the user's. */
        struct otel__dd_rule *grown = otel__realloc(rules, (count + 1) * sizeof(*rules));
        if (!grown) {
            otel__dd_rules_free(rules, count);
            st = OTEL_ERR_NOMEM;
            goto out_destroy;
        }
        rules = grown;
        memset(&rules[count], 0, sizeof(rules[count]));
        rules[count].rate = opts->sample_rate;
        rules[count].threshold = otel__dd_rate_threshold(opts->sample_rate, &rules[count].keep_all);
        count++;
    }
    s->rules = rules;
    s->rule_count = count;
    s->service_mask = otel__dd_rules_service_mask(rules, count, (otel_str){ s->service, s->service_len });

    double limit = opts->has_rate_limit ? opts->rate_limit : 100.0;
    otel__dd_limiter_init(&s->limiter, limit);

    for (size_t i = 0; i < DK_COUNT; i++) {
        st = otel_trace_state_parse(otel_str_from_cstr(decision_states[i]), &s->states[i]);
        if (st != OTEL_OK)
            goto out_destroy;
    }
    atomic_init(&s->cache_gen, 0);
    atomic_init(&s->cache_rate_bits, NOT_FOUND_BITS);

    char limit_text[32];
    if (s->limiter.mode > 0)
        snprintf(limit_text, sizeof(limit_text), "none");
    else
        otel__json_format_double(s->limiter.mode < 0 ? 0.0 : limit, limit_text);
    snprintf(s->description, sizeof(s->description), "DatadogSampler{rules=%zu,rate_limit=%s}", count,
             limit_text);

    out->should_sample = dd_should_sample;
    out->description = dd_description;
    out->destroy = dd_destroy;
    out->user_data = s;
    return OTEL_OK;
out_destroy:
    dd_destroy(s);
    return st;
}
