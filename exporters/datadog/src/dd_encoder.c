/* Encodes batches of finished OpenTelemetry spans as Datadog agent payloads: /v0.4/traces (an
 * array of chunks, each an array of span maps) and /v0.5/traces ([string table, chunks], each
 * span a 12-element array of string-table indexes and values). Grouping runs first: spans are
 * bucketed by 128-bit trace id with a hash table (O(n), order of first appearance kept), and a
 * span-id table finds each span's parent within its chunk to tell local roots and top-level
 * spans. Encoding then writes straight into a reused buffer: counts of map entries are worked
 * out before writing so no header is ever patched or moved, and the tags every span of a
 * resource shares (resource attributes, DD_TAGS, env, version) are encoded once per batch and
 * copied. */
#include "dd_encoder.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "dd_json.h"
#include "dd_sampler.h"
#include "mem.h"

#define NONE32 UINT32_MAX

/* ---------------------------------------------------------------------------------------------
 * Constant strings (keys and frequent values), pre-encoded for v0.4, interned once per payload
 * for v0.5.
 * ------------------------------------------------------------------------------------------- */

enum ckey {
    CK_EMPTY,
    CK_SPAN_KIND,
    CK_SCOPE_NAME,
    CK_SCOPE_VERSION,
    CK_STATUS_CODE,
    CK_ERROR_MESSAGE,
    CK_ERROR_TYPE,
    CK_ERROR_STACK,
    CK_HAS_EXCEPTION,
    CK_EVENTS,
    CK_SPAN_LINKS_JSON,
    CK_P_TID,
    CK_P_DM,
    CK_TOP_LEVEL,
    CK_MEASURED,
    CK_PRIORITY,
    CK_HTTP_METHOD,
    CK_HTTP_STATUS_CODE,
    CK_HTTP_URL,
    CK_TRUE,
    CK_FALSE,
    CK_OK,
    CK_ERROR,
    CK_KIND_INTERNAL,
    CK_KIND_SERVER,
    CK_KIND_CLIENT,
    CK_KIND_PRODUCER,
    CK_KIND_CONSUMER,
    CK_COUNT
};

static const struct {
    const char *s;
    uint8_t len;
} ckeys[CK_COUNT] = {
#define CS(lit)                 \
    {                           \
        "" lit, sizeof(lit) - 1 \
    }
    [CK_EMPTY] = CS(""),
    [CK_SPAN_KIND] = CS("span.kind"),
    [CK_SCOPE_NAME] = CS("otel.scope.name"),
    [CK_SCOPE_VERSION] = CS("otel.scope.version"),
    [CK_STATUS_CODE] = CS("otel.status_code"),
    [CK_ERROR_MESSAGE] = CS("error.message"),
    [CK_ERROR_TYPE] = CS("error.type"),
    [CK_ERROR_STACK] = CS("error.stack"),
    [CK_HAS_EXCEPTION] = CS("_dd.span_events.has_exception"),
    [CK_EVENTS] = CS("events"),
    [CK_SPAN_LINKS_JSON] = CS("_dd.span_links"),
    [CK_P_TID] = CS("_dd.p.tid"),
    [CK_P_DM] = CS("_dd.p.dm"),
    [CK_TOP_LEVEL] = CS("_dd.top_level"),
    [CK_MEASURED] = CS("_dd.measured"),
    [CK_PRIORITY] = CS("_sampling_priority_v1"),
    [CK_HTTP_METHOD] = CS("http.method"),
    [CK_HTTP_STATUS_CODE] = CS("http.status_code"),
    [CK_HTTP_URL] = CS("http.url"),
    [CK_TRUE] = CS("true"),
    [CK_FALSE] = CS("false"),
    [CK_OK] = CS("Ok"),
    [CK_ERROR] = CS("Error"),
    [CK_KIND_INTERNAL] = CS("internal"),
    [CK_KIND_SERVER] = CS("server"),
    [CK_KIND_CLIENT] = CS("client"),
    [CK_KIND_PRODUCER] = CS("producer"),
    [CK_KIND_CONSUMER] = CS("consumer"),
#undef CS
};

/* v0.4 constant keys pre-encoded (fixstr header + bytes) in 32-byte rows, so that writing one is
 * a fixed 32-byte copy (the span's bound has the slack) and a cursor bump. */
static uint8_t ckey_rows[CK_COUNT][32];
/* "span.kind" and its value, pre-encoded per kind (OTEL_SPAN_KIND_* 0..5), with its length. */
static uint8_t kind_rows[6][32];
static uint8_t kind_row_len[6];
static pthread_once_t ckey_rows_once = PTHREAD_ONCE_INIT;

static enum ckey kind_ckey(otel_span_kind k);

static void ckey_rows_init(void)
{
    for (size_t k = 0; k < CK_COUNT; k++) {
        /* Every constant fits a fixstr and a row (checked by the tests' round trips). */
        ckey_rows[k][0] = (uint8_t)(0xa0 | ckeys[k].len);
        memcpy(&ckey_rows[k][1], ckeys[k].s, ckeys[k].len);
    }
    for (int kind = 0; kind < 6; kind++) {
        enum ckey v = kind_ckey((otel_span_kind)kind);
        size_t a = 1 + ckeys[CK_SPAN_KIND].len, b = 1 + ckeys[v].len;
        memcpy(kind_rows[kind], ckey_rows[CK_SPAN_KIND], a);
        memcpy(kind_rows[kind] + a, ckey_rows[v], b);
        kind_row_len[kind] = (uint8_t)(a + b);
    }
}

static inline otel_str ckey_str(enum ckey k)
{
    otel_str s = { ckeys[k].s, ckeys[k].len };
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* otel_str_eq with a shortcut for the usual case here: both point at the same bytes (services
 * that come from the same resource). */
static inline bool same_str(otel_str a, otel_str b)
{
    return a.len == b.len && (a.data == b.data || memcmp(a.data, b.data, a.len) == 0);
}

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * UINT64_C(0x94d049bb133111eb);
    return mix64(h);
}

static bool grow_array(void **p, size_t count, size_t elem)
{
    void *q = otel__realloc(*p, count * elem);
    if (!q)
        return false;
    *p = q;
    return true;
}

static inline bool is_v05(const struct otel__dd_encoder *e)
{
    return e->cfg.api_version == 5;
}

/* ---------------------------------------------------------------------------------------------
 * v0.5 string interning
 * ------------------------------------------------------------------------------------------- */

#define STRTAB_RESERVE 6 /* fixarray(2) + up to a 5-byte array header */
#define OUT_RESERVE 5    /* up to a 5-byte array header */

static void strtab_reset(struct otel__dd_encoder *e)
{
    otel__dd_buf_restart(&e->strtab);
    otel__dd_buf_reserve(&e->strtab, STRTAB_RESERVE);
    e->strtab.len = e->strtab.failed ? 0 : STRTAB_RESERVE;
    if (e->slots)
        memset(e->slots, 0, e->slot_cap * sizeof(*e->slots));
    e->string_count = 0;
    e->payload_gen++;
}

static bool slots_grow(struct otel__dd_encoder *e)
{
    size_t cap = e->slot_cap ? e->slot_cap * 2 : 256;
    struct otel__dd_intern_slot *s = otel__calloc(cap, sizeof(*s));
    if (!s)
        return false;
    for (size_t i = 0; i < e->slot_cap; i++) {
        if (!e->slots[i].index)
            continue;
        size_t j = e->slots[i].hash & (cap - 1);
        while (s[j].index)
            j = (j + 1) & (cap - 1);
        s[j] = e->slots[i];
    }
    otel__free(e->slots);
    e->slots = s;
    e->slot_cap = cap;
    return true;
}

/* The string-table index of |s|, adding it when new. On allocation failure the buffers are
 * marked failed and 0 is returned (the payload is discarded anyway). */
static uint32_t intern(struct otel__dd_encoder *e, otel_str s)
{
    if (s.len == 0 && e->string_count > 0)
        return 0; /* "" is always index 0 */
    if ((size_t)(e->string_count + 1) * 2 > e->slot_cap && !slots_grow(e)) {
        e->strtab.failed = true;
        return 0;
    }
    uint64_t h = hash_bytes(s.data, s.len);
    size_t mask = e->slot_cap - 1;
    size_t j = h & mask;
    while (e->slots[j].index) {
        struct otel__dd_intern_slot *sl = &e->slots[j];
        if (sl->hash == h && sl->len == s.len && memcmp(e->strtab.data + sl->off, s.data, s.len) == 0)
            return sl->index - 1;
        j = (j + 1) & mask;
    }
    otel__mp_ostr(&e->strtab, s);
    if (e->strtab.failed)
        return 0;
    struct otel__dd_intern_slot *sl = &e->slots[j];
    sl->hash = h;
    sl->len = (uint32_t)s.len;
    sl->off = e->strtab.len - s.len;
    sl->index = ++e->string_count;
    return sl->index - 1;
}

static inline uint32_t intern_ckey(struct otel__dd_encoder *e, enum ckey k)
{
    if (e->const_gen[k] != e->payload_gen) {
        e->const_idx[k] = intern(e, ckey_str(k));
        e->const_gen[k] = e->payload_gen;
    }
    return e->const_idx[k];
}

/* ---------------------------------------------------------------------------------------------
 * Values as text
 * ------------------------------------------------------------------------------------------- */

static enum ckey kind_ckey(otel_span_kind k)
{
    switch (k) {
    case OTEL_SPAN_KIND_SERVER:
        return CK_KIND_SERVER;
    case OTEL_SPAN_KIND_CLIENT:
        return CK_KIND_CLIENT;
    case OTEL_SPAN_KIND_PRODUCER:
        return CK_KIND_PRODUCER;
    case OTEL_SPAN_KIND_CONSUMER:
        return CK_KIND_CONSUMER;
    case OTEL_SPAN_KIND_INTERNAL:
        break;
    }
    return CK_KIND_INTERNAL;
}

/* The text of a non-numeric attribute value for meta: strings as they are, booleans as
 * "true"/"false", empty values as "", bytes as base64, arrays as JSON. May use |scratch|. */
static otel_str value_text(struct otel__dd_buf *scratch, const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_STR:
        return v->as.s;
    case OTEL_VALUE_BOOL:
        return v->as.b ? OTEL_STR("true") : OTEL_STR("false");
    case OTEL_VALUE_EMPTY:
        return OTEL_STR("");
    case OTEL_VALUE_BYTES: {
        otel__dd_buf_reset(scratch);
        otel__json_put_value(scratch, v);
        if (scratch->failed || scratch->len < 2)
            return OTEL_STR("");
        otel_str s = { (const char *)scratch->data + 1, scratch->len - 2 }; /* unquoted */
        return s;
    }
    default: {
        otel__dd_buf_reset(scratch);
        otel__json_put_value(scratch, v);
        if (scratch->failed)
            return OTEL_STR("");
        otel_str s = { (const char *)scratch->data, scratch->len };
        return s;
    }
    }
}

static inline bool is_metric(const otel_value *v)
{
    return v->type == OTEL_VALUE_INT || v->type == OTEL_VALUE_DOUBLE;
}

static inline double metric_value(const otel_value *v)
{
    return v->type == OTEL_VALUE_INT ? (double)v->as.i : v->as.d;
}

/* ---------------------------------------------------------------------------------------------
 * Per-resource extras: resource attributes, DD_TAGS, env, version
 * ------------------------------------------------------------------------------------------- */

static bool extras_add(struct otel__dd_extras *x, otel_str key, bool metric, otel_str str, double number,
                       bool str_owned, size_t str_off)
{
    /* A later source replaces an earlier one with the same key. */
    for (size_t i = 0; i < x->count; i++) {
        if (otel_str_eq(x->items[i].key, key)) {
            memmove(&x->items[i], &x->items[i + 1], (x->count - i - 1) * sizeof(x->items[0]));
            x->count--;
            break;
        }
    }
    if (x->count == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        if (!grow_array((void **)&x->items, cap, sizeof(x->items[0])))
            return false;
        x->cap = cap;
    }
    struct otel__dd_extra *it = &x->items[x->count++];
    memset(it, 0, sizeof(*it));
    it->key = key;
    it->metric = metric;
    it->str = str;
    it->number = number;
    it->str_owned = str_owned;
    it->str_off = str_off;
    return true;
}

/* Builds the extras for |res| (valid for the current batch only: a resource pointer may be
 * reused by a later one). */
static otel_status extras_build(struct otel__dd_encoder *e, const otel_resource *res)
{
    struct otel__dd_extras *x = &e->extras;
    x->count = 0;
    x->meta_count = 0;
    x->metric_count = 0;
    x->resource = res;
    x->valid = false;
    x->service = OTEL_STR("");
    otel__dd_buf_restart(&x->strings);
    otel__dd_buf_restart(&x->meta_blob);
    otel__dd_buf_restart(&x->metric_blob);

    size_t n = 0;
    const otel_attr *attrs = otel_resource_attrs(res, &n);
    x->res_attrs = attrs;
    x->res_count = n;
    otel__dd_index_attrs(attrs, n, &x->res_ix);
    x->res_for_map = n && otel__dd_index_has_resource_keys(&x->res_ix);
    otel_str env = e->cfg.env, version = e->cfg.version;
    otel_str res_env = { "", 0 }, res_env_old = { "", 0 }, res_version = { "", 0 };
    for (size_t i = 0; i < n; i++) {
        const otel_attr *a = &attrs[i];
        if (a->value.type == OTEL_VALUE_STR) {
            if (otel_str_eq(a->key, OTEL_STR("service.name")))
                x->service = a->value.as.s;
            else if (otel_str_eq(a->key, OTEL_STR("deployment.environment.name")))
                res_env = a->value.as.s;
            else if (otel_str_eq(a->key, OTEL_STR("deployment.environment")))
                res_env_old = a->value.as.s;
            else if (otel_str_eq(a->key, OTEL_STR("service.version")))
                res_version = a->value.as.s;
        }
        bool ok;
        if (is_metric(&a->value)) {
            ok = extras_add(x, a->key, true, OTEL_STR(""), metric_value(&a->value), false, 0);
        } else if (a->value.type == OTEL_VALUE_STR || a->value.type == OTEL_VALUE_BOOL ||
                   a->value.type == OTEL_VALUE_EMPTY) {
            ok = extras_add(x, a->key, false, value_text(&e->scratch, &a->value), 0, false, 0);
        } else {
            /* Converted text goes to |strings|; pointers are fixed up once it stops growing. */
            otel_str t = value_text(&e->scratch, &a->value);
            size_t off = x->strings.len;
            otel__dd_buf_put(&x->strings, t.data, t.len);
            ok = extras_add(x, a->key, false, (otel_str){ NULL, t.len }, 0, true, off);
        }
        if (!ok || e->scratch.failed)
            return OTEL_ERR_NOMEM;
    }
    for (size_t i = 0; i < e->cfg.tag_count; i++)
        if (!extras_add(x, e->cfg.tags[i].key, false, e->cfg.tags[i].value, 0, false, 0))
            return OTEL_ERR_NOMEM;
    if (!env.len)
        env = res_env.len ? res_env : res_env_old;
    if (!version.len)
        version = res_version;
    if (env.len && !extras_add(x, OTEL_STR("env"), false, env, 0, false, 0))
        return OTEL_ERR_NOMEM;
    if (version.len && !extras_add(x, OTEL_STR("version"), false, version, 0, false, 0))
        return OTEL_ERR_NOMEM;
    if (x->strings.failed)
        return OTEL_ERR_NOMEM;
    for (size_t i = 0; i < x->count; i++) {
        struct otel__dd_extra *it = &x->items[i];
        if (it->str_owned)
            it->str.data = (const char *)x->strings.data + it->str_off;
        if (it->metric)
            x->metric_count++;
        else
            x->meta_count++;
    }
    if (!is_v05(e)) {
        for (size_t i = 0; i < x->count; i++) {
            const struct otel__dd_extra *it = &x->items[i];
            if (it->metric) {
                otel__mp_ostr(&x->metric_blob, it->key);
                otel__mp_f64(&x->metric_blob, it->number);
            } else {
                otel__mp_ostr(&x->meta_blob, it->key);
                otel__mp_ostr(&x->meta_blob, it->str);
            }
        }
        if (x->meta_blob.failed || x->metric_blob.failed)
            return OTEL_ERR_NOMEM;
    }
    x->valid = true;
    return OTEL_OK;
}

static void put_extras(struct otel__dd_encoder *e, bool metrics)
{
    struct otel__dd_extras *x = &e->extras;
    if (!is_v05(e)) {
        const struct otel__dd_buf *blob = metrics ? &x->metric_blob : &x->meta_blob;
        otel__dd_buf_put(&e->out, blob->data, blob->len);
        return;
    }
    for (size_t i = 0; i < x->count; i++) {
        struct otel__dd_extra *it = &x->items[i];
        if (it->metric != metrics)
            continue;
        if (it->gen != e->payload_gen) {
            it->key_idx = intern(e, it->key);
            it->val_idx = it->metric ? 0 : intern(e, it->str);
            it->gen = e->payload_gen;
        }
        otel__mp_uint(&e->out, it->key_idx);
        if (metrics)
            otel__mp_f64(&e->out, it->number);
        else
            otel__mp_uint(&e->out, it->val_idx);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Grouping
 * ------------------------------------------------------------------------------------------- */

void otel__dd_encoder_init(struct otel__dd_encoder *e, const struct otel__dd_encoder_config *cfg)
{
    pthread_once(&ckey_rows_once, ckey_rows_init);
    memset(e, 0, sizeof(*e));
    e->cfg = *cfg;
    if (e->cfg.api_version != 5)
        e->cfg.api_version = 4;
    e->payload_gen = 1;
}

void otel__dd_encoder_cleanup(struct otel__dd_encoder *e)
{
    otel__dd_buf_free(&e->out);
    otel__dd_buf_free(&e->strtab);
    otel__dd_buf_free(&e->scratch);
    otel__dd_buf_free(&e->scratch2);
    otel__dd_buf_free(&e->scratch3);
    otel__dd_buf_free(&e->vtext);
    otel__dd_buf_free(&e->names);
    otel__dd_buf_free(&e->scope_blob);
    otel__free(e->slots);
    otel__free(e->trace_hi);
    otel__free(e->trace_lo);
    otel__free(e->span_id);
    otel__free(e->parent_id);
    otel__free(e->next);
    otel__free(e->service);
    otel__free(e->flags);
    otel__free(e->chunk_first);
    otel__free(e->chunk_last);
    otel__free(e->chunk_size);
    otel__free(e->trace_tab);
    otel__free(e->span_tab);
    otel__free(e->extras.items);
    otel__dd_buf_free(&e->extras.meta_blob);
    otel__dd_buf_free(&e->extras.metric_blob);
    otel__dd_buf_free(&e->extras.strings);
    memset(e, 0, sizeof(*e));
}

static bool ensure_capacity(struct otel__dd_encoder *e, size_t count)
{
    if (count <= e->span_cap)
        return true;
    size_t cap = e->span_cap ? e->span_cap : 64;
    while (cap < count)
        cap *= 2;
    if (!grow_array((void **)&e->trace_hi, cap, sizeof(uint64_t)) ||
        !grow_array((void **)&e->trace_lo, cap, sizeof(uint64_t)) ||
        !grow_array((void **)&e->span_id, cap, sizeof(uint64_t)) ||
        !grow_array((void **)&e->parent_id, cap, sizeof(uint64_t)) ||
        !grow_array((void **)&e->next, cap, sizeof(uint32_t)) ||
        !grow_array((void **)&e->service, cap, sizeof(otel_str)) ||
        !grow_array((void **)&e->flags, cap, sizeof(uint8_t)) ||
        !grow_array((void **)&e->chunk_first, cap, sizeof(uint32_t)) ||
        !grow_array((void **)&e->chunk_last, cap, sizeof(uint32_t)) ||
        !grow_array((void **)&e->chunk_size, cap, sizeof(uint32_t)) ||
        !grow_array((void **)&e->trace_tab, cap * 2, sizeof(uint32_t)) ||
        !grow_array((void **)&e->span_tab, cap * 2, sizeof(uint32_t)))
        return false;
    e->span_cap = cap;
    e->tab_cap = cap * 2;
    return true;
}

/* The span's Datadog service: its own service.name attribute, else the resource's unless that
 * is the SDK default and DD_SERVICE is set, else DD_SERVICE, else the resource's default. */
static otel_str span_service(struct otel__dd_encoder *e, const otel_span_data *d,
                             const otel_resource **last_res, otel_str *last_res_service)
{
    for (uint32_t i = 0; i < d->attr_count; i++) {
        const otel_attr *a = &d->attrs[i];
        if (a->key.len == 12 && a->value.type == OTEL_VALUE_STR && a->value.as.s.len &&
            memcmp(a->key.data, "service.name", 12) == 0)
            return a->value.as.s;
    }
    if (d->resource != *last_res) {
        otel_value v;
        *last_res = d->resource;
        *last_res_service = OTEL_STR("");
        if (otel_resource_get(d->resource, OTEL_STR("service.name"), &v) && v.type == OTEL_VALUE_STR)
            *last_res_service = v.as.s;
    }
    otel_str rs = *last_res_service;
    if (rs.len && !(e->cfg.service.len && otel__dd_is_default_service(rs)))
        return rs;
    if (e->cfg.service.len)
        return e->cfg.service;
    if (rs.len)
        return rs;
    return OTEL_STR("otlpresourcenoservicename");
}

static inline size_t trace_slot(uint64_t hi, uint64_t lo, size_t mask)
{
    return (size_t)mix64(lo ^ (hi * UINT64_C(0x9e3779b97f4a7c15))) & mask;
}

size_t otel__dd_encoder_group(struct otel__dd_encoder *e, const otel_span_data *const *spans, size_t count,
                              otel_status *st)
{
    *st = OTEL_OK;
    e->spans = spans;
    e->span_count = 0;
    e->chunk_count = 0;
    otel__dd_encoder_rewind(e);
    e->extras.valid = false;
    e->scope_valid = false;
    e->ts_for = NULL;
    e->extras.resource = NULL;
    if (count == 0)
        return 0;
    if (count > UINT32_MAX / 4 || !ensure_capacity(e, count)) {
        *st = OTEL_ERR_NOMEM;
        return 0;
    }
    e->span_count = count;
    size_t mask = e->tab_cap - 1;
    /* tab_cap is a power of two: span_cap is 64 << k. */
    memset(e->trace_tab, 0, e->tab_cap * sizeof(uint32_t));
    memset(e->span_tab, 0, e->tab_cap * sizeof(uint32_t));

    const otel_resource *last_res = NULL;
    otel_str last_res_service = { "", 0 };
    for (size_t i = 0; i < count; i++) {
        const otel_span_data *d = spans[i];
        uint64_t hi = load_be64(d->context.trace_id);
        uint64_t lo = load_be64(d->context.trace_id + 8);
        e->trace_hi[i] = hi;
        e->trace_lo[i] = lo;
        e->span_id[i] = load_be64(d->context.span_id);
        e->parent_id[i] = load_be64(d->parent_span_id);
        e->next[i] = NONE32;
        e->flags[i] = 0;
        e->service[i] = span_service(e, d, &last_res, &last_res_service);

        size_t j = trace_slot(hi, lo, mask);
        for (;;) {
            uint32_t c1 = e->trace_tab[j];
            if (!c1) {
                size_t c = e->chunk_count++;
                e->trace_tab[j] = (uint32_t)c + 1;
                e->chunk_first[c] = (uint32_t)i;
                e->chunk_last[c] = (uint32_t)i;
                e->chunk_size[c] = 1;
                break;
            }
            uint32_t f = e->chunk_first[c1 - 1];
            if (e->trace_hi[f] == hi && e->trace_lo[f] == lo) {
                e->next[e->chunk_last[c1 - 1]] = (uint32_t)i;
                e->chunk_last[c1 - 1] = (uint32_t)i;
                e->chunk_size[c1 - 1]++;
                break;
            }
            j = (j + 1) & mask;
        }
        j = (size_t)mix64(e->span_id[i]) & mask;
        while (e->span_tab[j])
            j = (j + 1) & mask;
        e->span_tab[j] = (uint32_t)i + 1;
    }

    for (size_t i = 0; i < count; i++) {
        const otel_span_data *d = spans[i];
        uint64_t p = e->parent_id[i];
        bool entry_kind = d->kind == OTEL_SPAN_KIND_SERVER || d->kind == OTEL_SPAN_KIND_CONSUMER;
        if (p == 0) {
            e->flags[i] = OTEL__DD_SPAN_LOCAL_ROOT | OTEL__DD_SPAN_TOP_LEVEL;
            continue;
        }
        uint32_t parent = NONE32;
        size_t j = (size_t)mix64(p) & mask;
        while (e->span_tab[j]) {
            uint32_t k = e->span_tab[j] - 1;
            if (e->span_id[k] == p && e->trace_lo[k] == e->trace_lo[i] && e->trace_hi[k] == e->trace_hi[i]) {
                parent = k;
                break;
            }
            j = (j + 1) & mask;
        }
        uint8_t f = 0;
        if (parent == NONE32)
            f |= OTEL__DD_SPAN_LOCAL_ROOT;
        if (entry_kind || d->parent_is_remote ||
            (parent != NONE32 && !same_str(e->service[parent], e->service[i])))
            f |= OTEL__DD_SPAN_TOP_LEVEL;
        e->flags[i] = f;
    }
    return e->chunk_count;
}

/* ---------------------------------------------------------------------------------------------
 * Span encoding
 * ------------------------------------------------------------------------------------------- */

/* What a chunk's local roots carry. */
struct chunk_info {
    int priority;
    int mechanism;   /* -1: unknown, not written */
    bool every_span; /* a part of a chunk split over payloads: every span carries the priority,
                      * the part's first span the decision maker */
};

static struct chunk_info chunk_decision(struct otel__dd_encoder *e, size_t c)
{
    struct chunk_info ci = { 1, -1, false };
    uint32_t root = NONE32;
    for (uint32_t i = e->chunk_first[c]; i != NONE32; i = e->next[i]) {
        if (e->flags[i] & OTEL__DD_SPAN_LOCAL_ROOT) {
            root = i;
            break;
        }
    }
    if (root == NONE32)
        root = e->chunk_first[c];
    const otel_span_data *d = e->spans[root];
    /* The Datadog sampler gives every root it decides one of a few shared trace states, so
     * consecutive chunks mostly carry the same one: it is parsed once. */
    if (!d->trace_state || d->trace_state != e->ts_for) {
        e->ts_for = d->trace_state;
        e->ts_has = otel__dd_trace_state_decision(d->trace_state, &e->ts_priority, &e->ts_mechanism);
    }
    if (e->ts_has) {
        ci.priority = e->ts_priority;
        ci.mechanism = e->ts_mechanism;
    } else {
        ci.priority = (d->context.trace_flags & OTEL_TRACE_FLAG_SAMPLED) ? 1 : 0;
        if (e->parent_id[root] == 0)
            ci.mechanism = OTEL__DD_MECH_DEFAULT;
    }
    /* A "sampling.priority" attribute on the root is a manual decision (mechanism 4). */
    const otel_attr *sp = otel_attrs_find(d->attrs, d->attr_count, OTEL_STR("sampling.priority"));
    if (sp && is_metric(&sp->value)) {
        double v = metric_value(&sp->value);
        ci.priority = v > 0 ? 2 : -1;
        ci.mechanism = 4;
    }
    return ci;
}

/* The last "exception" event's attributes. */
struct exception_info {
    bool present;
    otel_str type;
    otel_str message;
    otel_str stack;
};

static inline bool has_exception_event(const otel_span_data *d)
{
    for (uint32_t i = 0; i < d->event_count; i++)
        if (d->events[i].name.len == 9 && memcmp(d->events[i].name.data, "exception", 9) == 0)
            return true;
    return false;
}

static struct exception_info find_exception(const otel_span_data *d)
{
    struct exception_info x = { 0 };
    for (uint32_t i = d->event_count; i-- > 0;) {
        const otel_event_data *ev = &d->events[i];
        if (!otel_str_eq(ev->name, OTEL_STR("exception")))
            continue;
        x.present = true;
        for (uint32_t k = 0; k < ev->attr_count; k++) {
            const otel_attr *a = &ev->attrs[k];
            if (a->value.type != OTEL_VALUE_STR)
                continue;
            if (otel_str_eq(a->key, OTEL_STR("exception.type")))
                x.type = a->value.as.s;
            else if (otel_str_eq(a->key, OTEL_STR("exception.message")))
                x.message = a->value.as.s;
            else if (otel_str_eq(a->key, OTEL_STR("exception.stacktrace")))
                x.stack = a->value.as.s;
        }
        break;
    }
    return x;
}

/* meta["events"]: [{"name":..,"time_unix_nano":..,"attributes":{..}}, ...] into |scratch|. */
static otel_str events_json(struct otel__dd_buf *b, const otel_span_data *d)
{
    otel__dd_buf_reset(b);
    otel__dd_buf_byte(b, '[');
    for (uint32_t i = 0; i < d->event_count; i++) {
        const otel_event_data *ev = &d->events[i];
        if (i)
            otel__dd_buf_byte(b, ',');
        OTEL__JSON_LIT(b, "{\"name\":");
        otel__json_put_str(b, ev->name.data, ev->name.len);
        OTEL__JSON_LIT(b, ",\"time_unix_nano\":");
        otel__json_put_int(b, ev->time_ns);
        if (ev->attr_count) {
            OTEL__JSON_LIT(b, ",\"attributes\":{");
            for (uint32_t k = 0; k < ev->attr_count; k++) {
                if (k)
                    otel__dd_buf_byte(b, ',');
                otel__json_put_str(b, ev->attrs[k].key.data, ev->attrs[k].key.len);
                otel__dd_buf_byte(b, ':');
                otel__json_put_value(b, &ev->attrs[k].value);
            }
            otel__dd_buf_byte(b, '}');
        }
        if (ev->dropped_attr_count) {
            OTEL__JSON_LIT(b, ",\"dropped_attributes_count\":");
            otel__json_put_uint(b, ev->dropped_attr_count);
        }
        otel__dd_buf_byte(b, '}');
    }
    otel__dd_buf_byte(b, ']');
    if (b->failed)
        return OTEL_STR("");
    otel_str s = { (const char *)b->data, b->len };
    return s;
}

/* The length of a JSON integer. */
static inline size_t json_int_len(int64_t v)
{
    return v < 0 ? 1 + otel__json_uint_len((uint64_t)0 - (uint64_t)v) : otel__json_uint_len((uint64_t)v);
}

static inline uint8_t *w_json_int(uint8_t *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return otel__json_w_uint(p, (uint64_t)0 - (uint64_t)v);
    }
    return otel__json_w_uint(p, (uint64_t)v);
}

#define W_LIT(p, lit) otel__w_raw((p), "" lit, sizeof(lit) - 1)

/* The exact length of the events JSON when every event is plain: a name and attribute keys that
 * need no escaping, string values that need none, booleans and integers, no dropped count; 0
 * otherwise (events_json then builds it in scratch). The plain JSON is written straight into
 * the output by w_events_plain, byte for byte what events_json would produce. */
static size_t events_plain_len(const struct otel__dd_encoder *e, const otel_span_data *d)
{
    size_t n = 2 + (d->event_count - 1); /* brackets, commas */
    for (uint32_t i = 0; i < d->event_count; i++) {
        const otel_event_data *ev = &d->events[i];
        if (ev->dropped_attr_count || !otel__json_is_plain_fast(ev->name.data, ev->name.len))
            return 0;
        /* The time's length from the digits w_event_time keeps, when they apply. */
        size_t tl = ev->time_ns >= 100000000 && (uint64_t)ev->time_ns / 100000000 == e->ts_hi
                        ? (size_t)e->ts_len + 8
                        : json_int_len(ev->time_ns);
        n += sizeof("{\"name\":\"\",\"time_unix_nano\":}") - 1 + ev->name.len + tl;
        if (!ev->attr_count)
            continue;
        n += sizeof(",\"attributes\":{}") - 1 + (ev->attr_count - 1);
        for (uint32_t k = 0; k < ev->attr_count; k++) {
            const otel_attr *a = &ev->attrs[k];
            if (!otel__json_is_plain_fast(a->key.data, a->key.len))
                return 0;
            n += a->key.len + 3; /* quotes, colon */
            switch (a->value.type) {
            case OTEL_VALUE_STR:
                if (!otel__json_is_plain_fast(a->value.as.s.data, a->value.as.s.len))
                    return 0;
                n += a->value.as.s.len + 2;
                break;
            case OTEL_VALUE_BOOL:
                n += a->value.as.b ? 4 : 5;
                break;
            case OTEL_VALUE_INT:
                n += json_int_len(a->value.as.i);
                break;
            default:
                return 0;
            }
        }
    }
    return n;
}

/* An event time in JSON. The digits above the last eight change every 0.1 s, so consecutive
 * events mostly share them: they are kept from the last call and only the last eight are
 * converted. */
static inline uint8_t *w_event_time(struct otel__dd_encoder *e, uint8_t *p, int64_t v)
{
    if (v < 100000000)
        return w_json_int(p, v);
    uint64_t hi = (uint64_t)v / 100000000;
    if (hi != e->ts_hi) {
        e->ts_hi = hi;
        e->ts_len = (uint8_t)(otel__json_w_uint(e->ts_text, hi) - e->ts_text);
    }
    p = otel__w_copy(p, e->ts_text, e->ts_len);
    return otel__json_w_8digits(p, (uint32_t)((uint64_t)v - hi * 100000000));
}

static inline __attribute__((always_inline)) uint8_t *w_events_plain(struct otel__dd_encoder *e, uint8_t *p,
                                                                     const otel_span_data *d)
{
    *p++ = '[';
    for (uint32_t i = 0; i < d->event_count; i++) {
        const otel_event_data *ev = &d->events[i];
        if (i)
            *p++ = ',';
        p = W_LIT(p, "{\"name\":\"");
        p = otel__w_copy(p, ev->name.data, ev->name.len);
        p = W_LIT(p, "\",\"time_unix_nano\":");
        p = w_event_time(e, p, ev->time_ns);
        if (ev->attr_count) {
            p = W_LIT(p, ",\"attributes\":{");
            for (uint32_t k = 0; k < ev->attr_count; k++) {
                const otel_attr *a = &ev->attrs[k];
                if (k)
                    *p++ = ',';
                *p++ = '"';
                p = otel__w_copy(p, a->key.data, a->key.len);
                p = W_LIT(p, "\":");
                switch (a->value.type) {
                case OTEL_VALUE_STR:
                    *p++ = '"';
                    p = otel__w_copy(p, a->value.as.s.data, a->value.as.s.len);
                    *p++ = '"';
                    break;
                case OTEL_VALUE_BOOL:
                    p = a->value.as.b ? W_LIT(p, "true") : W_LIT(p, "false");
                    break;
                default: /* OTEL_VALUE_INT, as events_plain_len checked */
                    p = w_json_int(p, a->value.as.i);
                    break;
                }
            }
            *p++ = '}';
        }
        *p++ = '}';
    }
    *p++ = ']';
    return p;
}

/* The 8 lowercase hex digits of |v| in one word, first digit in the lowest byte: the nibbles
 * spread one per byte, then '0' or 'a' - 10 added to each. */
static inline uint64_t hex_u32_word(uint32_t v)
{
    uint64_t x = v;
    x = ((x & 0xffff0000u) << 16) | (x & 0xffffu);
    x = ((x & UINT64_C(0x0000ff000000ff00)) << 8) | (x & UINT64_C(0x000000ff000000ff));
    x = ((x & UINT64_C(0x00f000f000f000f0)) << 4) | (x & UINT64_C(0x000f000f000f000f));
    /* Now byte i holds nibble i from the least significant; 1 in each byte whose nibble >= 10. */
    uint64_t letters = ((x + UINT64_C(0x0606060606060606)) >> 4) & UINT64_C(0x0101010101010101);
    x += UINT64_C(0x3030303030303030) + letters * ('a' - '0' - 10);
    return __builtin_bswap64(x);
}

static void hex_u64(uint64_t v, char out[16])
{
    uint64_t hi = hex_u32_word((uint32_t)(v >> 32)), lo = hex_u32_word((uint32_t)v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    hi = __builtin_bswap64(hi);
    lo = __builtin_bswap64(lo);
#endif
    memcpy(out, &hi, 8);
    memcpy(out + 8, &lo, 8);
}

/* Appends a link attribute value as a JSON string (the agent wants map<str,str>): non-strings
 * as their JSON text, quoted. |tmp| is scratch. */
static void put_attr_text_json(struct otel__dd_buf *b, struct otel__dd_buf *tmp, const otel_value *v)
{
    if (v->type == OTEL_VALUE_STR) {
        otel__json_put_str(b, v->as.s.data, v->as.s.len);
        return;
    }
    otel_str t;
    if (is_metric(v)) {
        otel__dd_buf_reset(tmp);
        otel__json_put_value(tmp, v);
        t = (otel_str){ (const char *)tmp->data, tmp->failed ? 0 : tmp->len };
    } else {
        t = value_text(tmp, v);
    }
    otel__json_put_str(b, t.data, t.len);
}

/* meta["_dd.span_links"] (v0.5): JSON as dd-trace-py writes it. */
static otel_str links_json(struct otel__dd_buf *b, struct otel__dd_buf *tmp, const otel_span_data *d)
{
    otel__dd_buf_reset(b);
    otel__dd_buf_byte(b, '[');
    for (uint32_t i = 0; i < d->link_count; i++) {
        const otel_link_data *l = &d->links[i];
        char tid[OTEL_TRACE_ID_HEX_SIZE + 1], sid[OTEL_SPAN_ID_HEX_SIZE + 1];
        otel_hex_encode(l->context.trace_id, OTEL_TRACE_ID_SIZE, tid);
        otel_hex_encode(l->context.span_id, OTEL_SPAN_ID_SIZE, sid);
        if (i)
            otel__dd_buf_byte(b, ',');
        OTEL__JSON_LIT(b, "{\"trace_id\":\"");
        otel__dd_buf_put(b, tid, OTEL_TRACE_ID_HEX_SIZE);
        OTEL__JSON_LIT(b, "\",\"span_id\":\"");
        otel__dd_buf_put(b, sid, OTEL_SPAN_ID_HEX_SIZE);
        otel__dd_buf_byte(b, '"');
        if (l->attr_count) {
            OTEL__JSON_LIT(b, ",\"attributes\":{");
            for (uint32_t k = 0; k < l->attr_count; k++) {
                if (k)
                    otel__dd_buf_byte(b, ',');
                otel__json_put_str(b, l->attrs[k].key.data, l->attrs[k].key.len);
                otel__dd_buf_byte(b, ':');
                put_attr_text_json(b, tmp, &l->attrs[k].value);
            }
            otel__dd_buf_byte(b, '}');
        }
        if (l->dropped_attr_count) {
            OTEL__JSON_LIT(b, ",\"dropped_attributes_count\":");
            otel__json_put_uint(b, l->dropped_attr_count);
        }
        if (l->trace_state) {
            char ts[1024];
            size_t n = otel_trace_state_serialize(l->trace_state, ts, sizeof(ts));
            if (n > 0 && n < sizeof(ts)) {
                OTEL__JSON_LIT(b, ",\"tracestate\":");
                otel__json_put_str(b, ts, n);
            }
        }
        OTEL__JSON_LIT(b, ",\"flags\":");
        otel__json_put_uint(b, (uint64_t)(0x80000000u | l->context.trace_flags));
        otel__dd_buf_byte(b, '}');
    }
    otel__dd_buf_byte(b, ']');
    if (b->failed)
        return OTEL_STR("");
    otel_str s = { (const char *)b->data, b->len };
    return s;
}

/* v0.4 native span_links. */
static void put_links_native(struct otel__dd_encoder *e, const otel_span_data *d)
{
    struct otel__dd_buf *o = &e->out;
    otel__mp_array(o, d->link_count);
    for (uint32_t i = 0; i < d->link_count; i++) {
        const otel_link_data *l = &d->links[i];
        uint64_t hi = load_be64(l->context.trace_id);
        char ts[1024];
        size_t ts_len = l->trace_state ? otel_trace_state_serialize(l->trace_state, ts, sizeof(ts)) : 0;
        if (ts_len >= sizeof(ts))
            ts_len = 0;
        uint32_t n = 3 + (hi != 0) + (l->attr_count != 0) + (ts_len != 0);
        otel__mp_map(o, n);
        OTEL__MP_LIT(o, "trace_id");
        otel__mp_u64(o, load_be64(l->context.trace_id + 8));
        if (hi) {
            OTEL__MP_LIT(o, "trace_id_high");
            otel__mp_u64(o, hi);
        }
        OTEL__MP_LIT(o, "span_id");
        otel__mp_u64(o, load_be64(l->context.span_id));
        if (l->attr_count) {
            OTEL__MP_LIT(o, "attributes");
            otel__mp_map(o, l->attr_count);
            for (uint32_t k = 0; k < l->attr_count; k++) {
                const otel_attr *a = &l->attrs[k];
                otel__mp_ostr(o, a->key);
                if (is_metric(&a->value)) {
                    otel__dd_buf_reset(&e->scratch);
                    otel__json_put_value(&e->scratch, &a->value);
                    otel__mp_str(o, (const char *)e->scratch.data, e->scratch.len);
                } else {
                    otel__mp_ostr(o, value_text(&e->scratch, &a->value));
                }
            }
        }
        if (ts_len) {
            OTEL__MP_LIT(o, "tracestate");
            otel__mp_str(o, ts, ts_len);
        }
        OTEL__MP_LIT(o, "flags");
        otel__mp_uint(o, 0x80000000u | l->context.trace_flags);
    }
}

/* One attribute value of a native span event: {"type": t, "<kind>_value": v} with the agent's
 * AttributeAnyValue types (0 string, 1 bool, 2 int, 3 double, 4 array). Bytes and empty values
 * are sent as strings (their meta text). */
static void put_event_scalar(struct otel__dd_buf *o, otel_value_type type, const void *item)
{
    otel__mp_map(o, 2);
    OTEL__MP_LIT(o, "type");
    switch (type) {
    case OTEL_VALUE_BOOL:
        otel__mp_uint(o, 1);
        OTEL__MP_LIT(o, "bool_value");
        otel__mp_bool(o, *(const bool *)item);
        break;
    case OTEL_VALUE_INT:
        otel__mp_uint(o, 2);
        OTEL__MP_LIT(o, "int_value");
        otel__mp_int(o, *(const int64_t *)item);
        break;
    case OTEL_VALUE_DOUBLE:
        otel__mp_uint(o, 3);
        OTEL__MP_LIT(o, "double_value");
        otel__mp_f64(o, *(const double *)item);
        break;
    default:
        otel__mp_uint(o, 0);
        OTEL__MP_LIT(o, "string_value");
        otel__mp_ostr(o, *(const otel_str *)item);
        break;
    }
}

static void put_event_value(struct otel__dd_encoder *e, const otel_value *v)
{
    struct otel__dd_buf *o = &e->out;
    switch (v->type) {
    case OTEL_VALUE_BOOL:
        put_event_scalar(o, OTEL_VALUE_BOOL, &v->as.b);
        return;
    case OTEL_VALUE_INT:
        put_event_scalar(o, OTEL_VALUE_INT, &v->as.i);
        return;
    case OTEL_VALUE_DOUBLE:
        put_event_scalar(o, OTEL_VALUE_DOUBLE, &v->as.d);
        return;
    case OTEL_VALUE_STR:
        put_event_scalar(o, OTEL_VALUE_STR, &v->as.s);
        return;
    case OTEL_VALUE_ARRAY: {
        otel_value_type et = (otel_value_type)v->array_type;
        size_t n = v->as.array.len;
        size_t size = 0;
        switch (et) {
        case OTEL_VALUE_BOOL:
            size = sizeof(bool);
            break;
        case OTEL_VALUE_INT:
            size = sizeof(int64_t);
            break;
        case OTEL_VALUE_DOUBLE:
            size = sizeof(double);
            break;
        case OTEL_VALUE_STR:
            size = sizeof(otel_str);
            break;
        default:
            n = 0;
            break;
        }
        otel__mp_map(o, 2);
        OTEL__MP_LIT(o, "type");
        otel__mp_uint(o, 4);
        OTEL__MP_LIT(o, "array_value");
        otel__mp_map(o, 1);
        OTEL__MP_LIT(o, "values");
        otel__mp_array(o, (uint32_t)n);
        const uint8_t *items = v->as.array.items;
        for (size_t i = 0; i < n; i++)
            put_event_scalar(o, et, items + i * size);
        return;
    }
    default: {
        otel_str t = value_text(&e->scratch3, v);
        put_event_scalar(o, OTEL_VALUE_STR, &t);
        return;
    }
    }
}

/* v0.4 native span_events: [{"name", "time_unix_nano", "attributes": {key: typed value}}]. */
static void put_events_native(struct otel__dd_encoder *e, const otel_span_data *d)
{
    struct otel__dd_buf *o = &e->out;
    otel__mp_array(o, d->event_count);
    for (uint32_t i = 0; i < d->event_count; i++) {
        const otel_event_data *ev = &d->events[i];
        otel__mp_map(o, 3);
        OTEL__MP_LIT(o, "name");
        otel__mp_ostr(o, ev->name);
        OTEL__MP_LIT(o, "time_unix_nano");
        otel__mp_uint(o, ev->time_ns > 0 ? (uint64_t)ev->time_ns : 0);
        OTEL__MP_LIT(o, "attributes");
        otel__mp_map(o, ev->attr_count);
        for (uint32_t k = 0; k < ev->attr_count; k++) {
            otel__mp_ostr(o, ev->attrs[k].key);
            put_event_value(e, &ev->attrs[k].value);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Cursor writing: encode_span works out an upper bound of its bytes, reserves it once, and
 * writes through a local cursor (see the otel__w_* writers in dd_msgpack.h).
 * ------------------------------------------------------------------------------------------- */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Bytes a string may take: header + bytes for v0.4; a string-table index for v0.5. */
ALWAYS_INLINE size_t str_bound(bool v05, size_t len)
{
    return v05 ? 5 : 5 + len;
}

#define CKEY_BOUND 32 /* any constant key or value, in either format */

ALWAYS_INLINE uint8_t *c_str(struct otel__dd_encoder *e, bool v05, uint8_t *p, otel_str s)
{
    if (v05)
        return otel__w_uint(p, intern(e, s));
    return otel__w_str(p, s.data, s.len);
}

ALWAYS_INLINE uint8_t *c_ckey(struct otel__dd_encoder *e, bool v05, uint8_t *p, enum ckey k)
{
    if (v05)
        return otel__w_uint(p, intern_ckey(e, k));
    memcpy(p, ckey_rows[k], 32);
    return p + 1 + ckeys[k].len;
}

/* A v0.4 field name: the fixstr header byte and the literal. */
#define W_KEY(p, hdr, lit) otel__w_raw((p), hdr lit, sizeof(lit))

/* The decimal text of an integer status code (at most 20 bytes) into |buf|. */
ALWAYS_INLINE otel_str status_text(char *buf, const otel_value *v)
{
    if (v->type == OTEL_VALUE_STR)
        return v->as.s;
    int64_t code = v->type == OTEL_VALUE_INT ? v->as.i : (int64_t)v->as.d;
    if (code >= 100 && code < 1000) { /* HTTP status codes, without the general conversion */
        uint32_t c = (uint32_t)code, h = c / 100;
        buf[0] = (char)('0' + h);
        memcpy(buf + 1, otel__json_digit_pairs + 2 * (c - h * 100), 2);
        return (otel_str){ buf, 3 };
    }
    uint8_t *end = w_json_int((uint8_t *)buf, code);
    otel_str s = { buf, (size_t)(end - (uint8_t *)buf) };
    return s;
}

/* The http.status_code attribute, when it is an integer: Datadog wants it in meta as text.
 * |status_at| is the index's entry for http.status_code (read once per span). */
ALWAYS_INLINE bool is_int_status_code(const otel_attr *a, uint32_t i, uint32_t status_at)
{
    return a->value.type == OTEL_VALUE_INT && status_at == i + 1;
}

/* v0.4: otel.scope.name and otel.scope.version of |scope| pre-encoded, kept while the spans
 * share the scope (within one batch: scopes are not compared across batches). */
static void scope_blob_build(struct otel__dd_encoder *e, const otel_scope_data *scope)
{
    struct otel__dd_buf *b = &e->scope_blob;
    otel__dd_buf_reset(b);
    e->scope_pairs = 0;
    if (scope && scope->name.len) {
        otel__dd_buf_put(b, ckey_rows[CK_SCOPE_NAME], 1 + ckeys[CK_SCOPE_NAME].len);
        otel__mp_ostr(b, scope->name);
        e->scope_pairs++;
    }
    if (scope && scope->version.len) {
        otel__dd_buf_put(b, ckey_rows[CK_SCOPE_VERSION], 1 + ckeys[CK_SCOPE_VERSION].len);
        otel__mp_ostr(b, scope->version);
        e->scope_pairs++;
    }
    e->scope_for = scope;
    e->scope_valid = !b->failed;
}

/* Everything encode_span needs to know before writing. */
struct span_plan {
    otel_str name, resource, type;
    struct exception_info exc;
    otel_str err_msg;
    otel_str events; /* JSON, in e->scratch */
    otel_str links;  /* JSON (v0.5), in e->scratch2 */
    const otel_attr *remap_method, *remap_status, *remap_url;
    uint32_t meta, metrics;
    bool error, local_root, top_level, measured, tid, dm, scope_name, scope_version;
    size_t bound;
};

ALWAYS_INLINE void encode_span_impl(struct otel__dd_encoder *e, uint32_t idx, bool first_in_chunk,
                                    const struct chunk_info *ci, const bool v05)
{
    const otel_span_data *d = e->spans[idx];
    uint8_t flags = e->flags[idx];
    struct span_plan pl;
    pl.local_root = (flags & OTEL__DD_SPAN_LOCAL_ROOT) != 0 || ci->every_span;
    pl.top_level = (flags & OTEL__DD_SPAN_TOP_LEVEL) != 0;

    struct otel__dd_attr_index ix;
    otel__dd_index_attrs(d->attrs, d->attr_count, &ix);
    const uint32_t status_at = ix.at[OTEL__DDK_HTTP_STATUS_CODE];
    struct otel__dd_view view = {
        .kind = d->kind,
        .name = d->name,
        .attrs = d->attrs,
        .ix = &ix,
    };
    if (e->extras.res_for_map) {
        view.res_attrs = e->extras.res_attrs;
        view.res_ix = &e->extras.res_ix;
    }
    otel__dd_buf_reset(&e->names);
    size_t cap = e->names.cap;
    size_t need = otel__dd_map_span(&view, (char *)e->names.data, cap, &pl.name, &pl.resource, &pl.type);
    if (need > cap) {
        if (otel__dd_buf_reserve(&e->names, need))
            otel__dd_map_span(&view, (char *)e->names.data, e->names.cap, &pl.name, &pl.resource, &pl.type);
        else
            e->out.failed = true;
    }
    if (!pl.resource.len)
        pl.resource = pl.name;

    pl.error = d->status_code == OTEL_SPAN_STATUS_ERROR;
    memset(&pl.exc, 0, sizeof(pl.exc));
    if (d->event_count && has_exception_event(d))
        pl.exc = find_exception(d);
    pl.err_msg = d->status_description.len ? d->status_description : pl.exc.message;
    /* Events: native span_events (v0.4, when configured), else JSON in meta["events"]. v0.4
     * writes plain events JSON in place; anything else goes through scratch. */
    bool events_native = !v05 && d->event_count && e->cfg.native_span_events;
    bool events_meta = d->event_count && !events_native;
    size_t events_plain = !v05 && events_meta ? events_plain_len(e, d) : 0;
    if (events_plain > UINT32_MAX)
        events_plain = 0;
    pl.events = events_meta && !events_plain ? events_json(&e->scratch, d) : OTEL_STR("");
    bool links_meta = v05 && d->link_count;
    pl.links = links_meta ? links_json(&e->scratch2, &e->scratch3, d) : OTEL_STR("");

    /* Attributes: count, bound, and convert the values that need text (into e->vtext, in order). */
    otel__dd_buf_reset(&e->vtext);
    size_t bound = 0;
    uint32_t meta = e->extras.meta_count, metrics = e->extras.metric_count;
    /* The numeric attributes, for the metrics loop (all attributes are walked there when there
     * are more than fit here). */
    uint32_t num_idx[16], num_count = 0;
    /* Up to 16 attributes of the usual types (strings, numbers, booleans, empty) are counted
     * without branching on the type: per attribute at most a 5-byte key header and key, and a
     * string value with its header, a float64 (9 bytes) or "false" with its header (6): key and
     * string bytes + 15. An integer http.status_code goes to meta as text (at most 26 bytes
     * more). Other types (converted to text) take the walk below. */
    bool walk = d->attr_count > 16;
    if (!walk) {
        size_t bytes = 0;
        for (uint32_t i = 0; i < d->attr_count; i++) {
            const otel_attr *a = &d->attrs[i];
            otel_value_type t = a->value.type;
            num_idx[num_count] = i;
            num_count += (unsigned)t - OTEL_VALUE_INT <= 1;
            bytes += a->key.len + (t == OTEL_VALUE_STR ? a->value.as.s.len : 0);
            walk |= t > OTEL_VALUE_STR;
        }
        if (!walk) {
            bool int_status = status_at && d->attrs[status_at - 1].value.type == OTEL_VALUE_INT;
            if (int_status) {
                uint32_t k = 0, j = 0;
                for (; k < num_count; k++)
                    if (num_idx[k] != status_at - 1)
                        num_idx[j++] = num_idx[k];
                num_count = j;
                bound += 26;
            }
            metrics += num_count;
            meta += d->attr_count - num_count;
            bound += v05 ? (size_t)d->attr_count * 14 : bytes + (size_t)d->attr_count * 15;
        } else {
            num_count = 0;
        }
    }
    for (uint32_t i = 0; walk && i < d->attr_count; i++) {
        const otel_attr *a = &d->attrs[i];
        bound += str_bound(v05, a->key.len);
        switch (a->value.type) {
        case OTEL_VALUE_INT:
        case OTEL_VALUE_DOUBLE:
            if (is_int_status_code(a, i, status_at)) {
                meta++;
                bound += str_bound(v05, 21);
            } else {
                metrics++;
                bound += 9;
                if (num_count < 16)
                    num_idx[num_count] = i;
                num_count++;
            }
            break;
        case OTEL_VALUE_STR:
            meta++;
            bound += str_bound(v05, a->value.as.s.len);
            break;
        case OTEL_VALUE_BOOL:
        case OTEL_VALUE_EMPTY:
            meta++;
            bound += str_bound(v05, 5);
            break;
        default: {
            meta++;
            otel_str t = value_text(&e->scratch3, &a->value);
            size_t off = e->vtext.len;
            otel__dd_buf_put(&e->vtext, t.data, t.len);
            (void)off;
            bound += str_bound(v05, t.len);
            break;
        }
        }
    }
    pl.remap_method = pl.remap_status = pl.remap_url = NULL;
    if (ix.at[OTEL__DDK_HTTP_REQUEST_METHOD] && !ix.at[OTEL__DDK_HTTP_METHOD])
        pl.remap_method = &d->attrs[ix.at[OTEL__DDK_HTTP_REQUEST_METHOD] - 1];
    if (ix.at[OTEL__DDK_HTTP_RESPONSE_STATUS_CODE] && !ix.at[OTEL__DDK_HTTP_STATUS_CODE])
        pl.remap_status = &d->attrs[ix.at[OTEL__DDK_HTTP_RESPONSE_STATUS_CODE] - 1];
    if (ix.at[OTEL__DDK_URL_FULL])
        pl.remap_url = &d->attrs[ix.at[OTEL__DDK_URL_FULL] - 1];
    if (pl.remap_method && pl.remap_method->value.type != OTEL_VALUE_STR)
        pl.remap_method = NULL;
    if (pl.remap_status &&
        !(is_metric(&pl.remap_status->value) || pl.remap_status->value.type == OTEL_VALUE_STR))
        pl.remap_status = NULL;
    if (pl.remap_url && pl.remap_url->value.type != OTEL_VALUE_STR)
        pl.remap_url = NULL;
    if (pl.remap_method) {
        meta++;
        bound += CKEY_BOUND + str_bound(v05, pl.remap_method->value.as.s.len);
    }
    if (pl.remap_status) {
        meta++;
        bound += CKEY_BOUND + str_bound(v05, pl.remap_status->value.type == OTEL_VALUE_STR
                                                 ? pl.remap_status->value.as.s.len
                                                 : 21);
    }
    if (pl.remap_url) {
        meta++;
        bound += CKEY_BOUND + str_bound(v05, pl.remap_url->value.as.s.len);
    }
    meta += 1; /* span.kind */
    const otel_scope_data *scope = d->scope;
    if (!v05) {
        if (!e->scope_valid || e->scope_for != scope)
            scope_blob_build(e, scope);
        meta += e->scope_pairs;
        bound += e->scope_blob.len;
    }
    pl.scope_name = v05 && scope && scope->name.len;
    pl.scope_version = v05 && scope && scope->version.len;
    if (pl.scope_name) {
        meta++;
        bound += CKEY_BOUND + str_bound(v05, scope->name.len);
    }
    if (pl.scope_version) {
        meta++;
        bound += CKEY_BOUND + str_bound(v05, scope->version.len);
    }
    meta += d->status_code != OTEL_SPAN_STATUS_UNSET;
    bool err_message = pl.error && pl.err_msg.len, err_type = pl.error && pl.exc.type.len,
         err_stack = pl.error && pl.exc.stack.len;
    meta += err_message + err_type + err_stack + pl.exc.present;
    if (err_message)
        bound += CKEY_BOUND + str_bound(v05, pl.err_msg.len);
    if (err_type)
        bound += CKEY_BOUND + str_bound(v05, pl.exc.type.len);
    if (err_stack)
        bound += CKEY_BOUND + str_bound(v05, pl.exc.stack.len);
    if (events_meta) {
        meta++;
        bound += CKEY_BOUND + str_bound(v05, events_plain ? events_plain : pl.events.len);
    }
    if (links_meta) {
        meta++;
        bound += CKEY_BOUND + str_bound(v05, pl.links.len);
    }
    pl.tid = first_in_chunk && e->trace_hi[idx] != 0;
    pl.dm = ((flags & OTEL__DD_SPAN_LOCAL_ROOT) || (ci->every_span && first_in_chunk)) && ci->mechanism >= 0;
    meta += pl.tid + pl.dm;
    pl.measured = !pl.top_level && (d->kind == OTEL_SPAN_KIND_CLIENT || d->kind == OTEL_SPAN_KIND_PRODUCER);
    metrics += pl.top_level + pl.measured + pl.local_root;
    /* Fixed fields, constant keys and values (at most ~20 of them, each written as a 32-byte
     * copy), the three metrics, the strings computed above, the extras. */
    bound += 1024 + str_bound(v05, e->service[idx].len) + str_bound(v05, pl.name.len) +
             str_bound(v05, pl.resource.len) + str_bound(v05, pl.type.len);
    bound += v05 ? (size_t)e->extras.count * 14 : e->extras.meta_blob.len + e->extras.metric_blob.len;

    int64_t duration = d->end_time_ns - d->start_time_ns;
    if (duration < 0)
        duration = 0;

    struct otel__dd_buf *o = &e->out;
    if (e->scratch.failed || e->scratch2.failed || e->scratch3.failed || e->vtext.failed ||
        e->scope_blob.failed || !otel__dd_buf_reserve(o, bound)) {
        o->failed = true;
        return;
    }
    uint8_t *p = o->data + o->len;

    /* Header and the fixed fields. */
    if (v05) {
        p = otel__w_array(p, 12);
        p = c_str(e, v05, p, e->service[idx]);
        p = c_str(e, v05, p, pl.name);
        p = c_str(e, v05, p, pl.resource);
        p = otel__w_u64(p, e->trace_lo[idx]);
        p = otel__w_u64(p, e->span_id[idx]);
        p = otel__w_u64(p, e->parent_id[idx]);
        p = otel__w_int(p, d->start_time_ns);
        p = otel__w_int(p, duration);
        *p++ = pl.error;
    } else {
        p = otel__w_map(p, 12 + (d->link_count != 0) + events_native);
        p = W_KEY(p, "\xa7", "service");
        p = otel__w_str(p, e->service[idx].data, e->service[idx].len);
        p = W_KEY(p, "\xa4", "name");
        p = otel__w_str(p, pl.name.data, pl.name.len);
        p = W_KEY(p, "\xa8", "resource");
        p = otel__w_str(p, pl.resource.data, pl.resource.len);
        p = W_KEY(p, "\xa8", "trace_id");
        p = otel__w_u64(p, e->trace_lo[idx]);
        p = W_KEY(p, "\xa7", "span_id");
        p = otel__w_u64(p, e->span_id[idx]);
        p = W_KEY(p, "\xa9", "parent_id");
        p = otel__w_u64(p, e->parent_id[idx]);
        p = W_KEY(p, "\xa5", "start");
        p = otel__w_int(p, d->start_time_ns);
        p = W_KEY(p, "\xa8", "duration");
        p = otel__w_int(p, duration);
        p = W_KEY(p, "\xa5", "error");
        *p++ = pl.error;
        p = W_KEY(p, "\xa4", "meta");
    }

    /* meta */
    p = otel__w_map(p, meta);
    if (v05) {
        o->len = (size_t)(p - o->data);
        put_extras(e, false); /* interns; writes its indexes within the bound */
        p = o->data + o->len;
    } else {
        p = otel__w_copy(p, e->extras.meta_blob.data, e->extras.meta_blob.len);
    }
    const uint8_t *vt = e->vtext.data;
    for (uint32_t i = 0; i < d->attr_count; i++) {
        const otel_attr *a = &d->attrs[i];
        otel_str text;
        char buf[24];
        switch (a->value.type) {
        case OTEL_VALUE_INT:
        case OTEL_VALUE_DOUBLE:
            if (!is_int_status_code(a, i, status_at))
                continue;
            text = status_text(buf, &a->value);
            break;
        case OTEL_VALUE_STR:
            text = a->value.as.s;
            break;
        case OTEL_VALUE_BOOL:
            /* "true" / "false" as their constant rows. */
            p = c_str(e, v05, p, a->key);
            p = c_ckey(e, v05, p, a->value.as.b ? CK_TRUE : CK_FALSE);
            continue;
        case OTEL_VALUE_EMPTY:
            text = OTEL_STR("");
            break;
        default: {
            /* Converted above, in the same order. */
            otel_str t = value_text(&e->scratch3, &a->value);
            text.data = (const char *)vt;
            text.len = t.len;
            vt += t.len;
            break;
        }
        }
        p = c_str(e, v05, p, a->key);
        p = c_str(e, v05, p, text);
    }
    if (pl.remap_method) {
        p = c_ckey(e, v05, p, CK_HTTP_METHOD);
        p = c_str(e, v05, p, pl.remap_method->value.as.s);
    }
    if (pl.remap_status) {
        char buf[24];
        p = c_ckey(e, v05, p, CK_HTTP_STATUS_CODE);
        p = c_str(e, v05, p, status_text(buf, &pl.remap_status->value));
    }
    if (pl.remap_url) {
        p = c_ckey(e, v05, p, CK_HTTP_URL);
        p = c_str(e, v05, p, pl.remap_url->value.as.s);
    }
    if (v05) {
        p = c_ckey(e, v05, p, CK_SPAN_KIND);
        p = c_ckey(e, v05, p, kind_ckey(d->kind));
    } else {
        unsigned kind = (unsigned)d->kind < 6 ? (unsigned)d->kind : 0;
        memcpy(p, kind_rows[kind], 32);
        p += kind_row_len[kind];
        p = otel__w_copy(p, e->scope_blob.data, e->scope_blob.len);
    }
    if (pl.scope_name) {
        p = c_ckey(e, v05, p, CK_SCOPE_NAME);
        p = c_str(e, v05, p, scope->name);
    }
    if (pl.scope_version) {
        p = c_ckey(e, v05, p, CK_SCOPE_VERSION);
        p = c_str(e, v05, p, scope->version);
    }
    if (d->status_code != OTEL_SPAN_STATUS_UNSET) {
        p = c_ckey(e, v05, p, CK_STATUS_CODE);
        p = c_ckey(e, v05, p, pl.error ? CK_ERROR : CK_OK);
    }
    if (err_message) {
        p = c_ckey(e, v05, p, CK_ERROR_MESSAGE);
        p = c_str(e, v05, p, pl.err_msg);
    }
    if (err_type) {
        p = c_ckey(e, v05, p, CK_ERROR_TYPE);
        p = c_str(e, v05, p, pl.exc.type);
    }
    if (err_stack) {
        p = c_ckey(e, v05, p, CK_ERROR_STACK);
        p = c_str(e, v05, p, pl.exc.stack);
    }
    if (pl.exc.present) {
        p = c_ckey(e, v05, p, CK_HAS_EXCEPTION);
        p = c_ckey(e, v05, p, CK_TRUE);
    }
    if (events_meta) {
        p = c_ckey(e, v05, p, CK_EVENTS);
        if (events_plain)
            p = w_events_plain(e, otel__w_str_header(p, events_plain), d);
        else
            p = c_str(e, v05, p, pl.events);
    }
    if (links_meta) {
        p = c_ckey(e, v05, p, CK_SPAN_LINKS_JSON);
        p = c_str(e, v05, p, pl.links);
    }
    if (pl.tid) {
        char hex[16];
        hex_u64(e->trace_hi[idx], hex);
        p = c_ckey(e, v05, p, CK_P_TID);
        p = c_str(e, v05, p, (otel_str){ hex, 16 });
    }
    if (pl.dm) {
        char buf[8];
        buf[0] = '-';
        size_t n = 1;
        int m = ci->mechanism;
        if (m >= 100)
            buf[n++] = (char)('0' + m / 100 % 10);
        if (m >= 10)
            buf[n++] = (char)('0' + m / 10 % 10);
        buf[n++] = (char)('0' + m % 10);
        p = c_ckey(e, v05, p, CK_P_DM);
        p = c_str(e, v05, p, (otel_str){ buf, n });
    }

    /* metrics */
    if (!v05)
        p = W_KEY(p, "\xa7", "metrics");
    p = otel__w_map(p, metrics);
    if (v05) {
        o->len = (size_t)(p - o->data);
        put_extras(e, true);
        p = o->data + o->len;
    } else {
        p = otel__w_copy(p, e->extras.metric_blob.data, e->extras.metric_blob.len);
    }
    if (num_count <= 16) {
        for (uint32_t k = 0; k < num_count; k++) {
            const otel_attr *a = &d->attrs[num_idx[k]];
            p = c_str(e, v05, p, a->key);
            p = otel__w_f64(p, metric_value(&a->value));
        }
    } else {
        for (uint32_t i = 0; i < d->attr_count; i++) {
            const otel_attr *a = &d->attrs[i];
            if (!is_metric(&a->value) || is_int_status_code(a, i, status_at))
                continue;
            p = c_str(e, v05, p, a->key);
            p = otel__w_f64(p, metric_value(&a->value));
        }
    }
    if (pl.top_level) {
        p = c_ckey(e, v05, p, CK_TOP_LEVEL);
        p = otel__w_f64(p, 1.0);
    }
    if (pl.measured) {
        p = c_ckey(e, v05, p, CK_MEASURED);
        p = otel__w_f64(p, 1.0);
    }
    if (pl.local_root) {
        p = c_ckey(e, v05, p, CK_PRIORITY);
        p = otel__w_f64(p, (double)ci->priority);
    }

    if (v05) {
        p = c_str(e, v05, p, pl.type);
        o->len = (size_t)(p - o->data);
        return;
    }
    p = W_KEY(p, "\xa4", "type");
    p = otel__w_str(p, pl.type.data, pl.type.len);
    o->len = (size_t)(p - o->data);
    if (d->link_count) {
        OTEL__MP_LIT(o, "span_links");
        put_links_native(e, d);
    }
    if (events_native) {
        OTEL__MP_LIT(o, "span_events");
        put_events_native(e, d);
    }
}

static void encode_span_v04(struct otel__dd_encoder *e, uint32_t idx, bool first_in_chunk,
                            const struct chunk_info *ci)
{
    encode_span_impl(e, idx, first_in_chunk, ci, false);
}

static void encode_span_v05(struct otel__dd_encoder *e, uint32_t idx, bool first_in_chunk,
                            const struct chunk_info *ci)
{
    encode_span_impl(e, idx, first_in_chunk, ci, true);
}

/* Writes |n| as an array header right-aligned into the |reserve| bytes before |at|, returning
 * where the header starts. */
static size_t header_before(uint8_t *base, size_t at, uint32_t n, bool map)
{
    uint8_t tmp[5];
    size_t len;
    if (n <= 15) {
        tmp[0] = (uint8_t)((map ? 0x80 : 0x90) | n);
        len = 1;
    } else if (n <= 0xffff) {
        tmp[0] = map ? 0xde : 0xdc;
        otel__dd_put_be16(tmp + 1, (uint16_t)n);
        len = 3;
    } else {
        tmp[0] = map ? 0xdf : 0xdd;
        otel__dd_put_be32(tmp + 1, n);
        len = 5;
    }
    memcpy(base + at - len, tmp, len);
    return at - len;
}

/* A point to roll the output back to: a span or a chunk part that does not fit. */
struct enc_mark {
    size_t out_len;
    size_t strtab_len;
    uint32_t strings;
};

static inline struct enc_mark enc_mark(const struct otel__dd_encoder *e)
{
    struct enc_mark m = { e->out.len, e->strtab.len, e->string_count };
    return m;
}

/* v0.5: forgets the strings added after |m| and rebuilds the interning hash from the table
 * (rare: once per payload at most, when something did not fit). */
static void strtab_truncate(struct otel__dd_encoder *e, const struct enc_mark *m)
{
    e->strtab.len = m->strtab_len;
    e->string_count = m->strings;
    memset(e->slots, 0, e->slot_cap * sizeof(*e->slots));
    size_t mask = e->slot_cap - 1;
    size_t off = STRTAB_RESERVE;
    const uint8_t *t = e->strtab.data;
    for (uint32_t idx = 1; idx <= m->strings; idx++) {
        size_t len;
        uint8_t h = t[off++];
        if ((h & 0xe0) == 0xa0) {
            len = h & 0x1f;
        } else if (h == 0xd9) {
            len = t[off++];
        } else if (h == 0xda) {
            len = (size_t)t[off] << 8 | t[off + 1];
            off += 2;
        } else {
            len = (size_t)t[off] << 24 | (size_t)t[off + 1] << 16 | (size_t)t[off + 2] << 8 | t[off + 3];
            off += 4;
        }
        uint64_t hash = hash_bytes((const char *)t + off, len);
        size_t j = hash & mask;
        while (e->slots[j].index)
            j = (j + 1) & mask;
        e->slots[j].hash = hash;
        e->slots[j].len = (uint32_t)len;
        e->slots[j].off = off;
        e->slots[j].index = idx;
        off += len;
    }
    /* Cached indexes of forgotten strings must be interned again. */
    for (int k = 0; k < CK_COUNT; k++)
        if (e->const_gen[k] == e->payload_gen && e->const_idx[k] >= m->strings)
            e->const_gen[k] = 0;
    for (size_t i = 0; i < e->extras.count; i++) {
        struct otel__dd_extra *it = &e->extras.items[i];
        if (it->gen == e->payload_gen && (it->key_idx >= m->strings || it->val_idx >= m->strings))
            it->gen = 0;
    }
}

static void enc_rollback(struct otel__dd_encoder *e, const struct enc_mark *m)
{
    e->out.len = m->out_len;
    if (is_v05(e) && e->string_count != m->strings)
        strtab_truncate(e, m);
}

/* The payload's size so far (the reserved header room counts as used). */
static inline size_t enc_size(const struct otel__dd_encoder *e)
{
    return e->out.len + (is_v05(e) ? e->strtab.len : 0);
}

static inline size_t array_header_len(uint32_t n)
{
    return n <= 15 ? 1 : n <= 0xffff ? 3 : 5;
}

/* Rewrites the array header at |at| (written for a larger count) for |n| elements, moving what
 * follows when the header's length changes. */
static void patch_array_header(struct otel__dd_buf *o, size_t at, size_t old_len, uint32_t n)
{
    size_t new_len = array_header_len(n);
    if (new_len != old_len) {
        memmove(o->data + at + new_len, o->data + at + old_len, o->len - at - old_len);
        o->len = o->len - old_len + new_len;
    }
    size_t saved = o->len;
    o->len = at;
    otel__mp_array(o, n);
    o->len = saved;
}

void otel__dd_encoder_rewind(struct otel__dd_encoder *e)
{
    e->pos.chunk = 0;
    e->pos.span = NONE32;
    e->pos.in_chunk = 0;
    e->pos.consumed = 0;
}

static inline bool enc_failed(const struct otel__dd_encoder *e)
{
    return e->out.failed || e->strtab.failed || e->scratch.failed || e->scratch2.failed ||
           e->scratch3.failed || e->vtext.failed || e->names.failed || e->scope_blob.failed;
}

otel_status otel__dd_encoder_encode(struct otel__dd_encoder *e, size_t max_bytes,
                                    struct otel__dd_payload_info *info)
{
    memset(info, 0, sizeof(*info));
    e->payload = NULL;
    e->payload_len = 0;
    otel__dd_buf_restart(&e->out);
    otel__dd_buf_restart(&e->scratch);
    otel__dd_buf_restart(&e->scratch2);
    otel__dd_buf_restart(&e->scratch3);
    otel__dd_buf_restart(&e->vtext);
    otel__dd_buf_restart(&e->names);
    otel__dd_buf_restart(&e->scope_blob);
    e->scope_valid = false;
    otel__dd_buf_reserve(&e->out, OUT_RESERVE);
    e->out.len = OUT_RESERVE;
    if (is_v05(e)) {
        strtab_reset(e);
        intern(e, OTEL_STR("")); /* index 0 */
    }
    if (e->out.failed || e->strtab.failed)
        return OTEL_ERR_NOMEM;

    struct otel__dd_cursor *pos = &e->pos;
    uint32_t traces = 0;
    bool full = false;
    while (!full && pos->chunk < e->chunk_count) {
        size_t c = pos->chunk;
        uint32_t head = pos->span == NONE32 ? e->chunk_first[c] : pos->span;
        struct chunk_info ci = chunk_decision(e, c);
        /* A part that resumes a chunk split over payloads. */
        ci.every_span = pos->span != NONE32;
        uint32_t part_in_chunk = pos->in_chunk;
        size_t part_consumed = pos->consumed;
        /* A chunk is first encoded whole and the size checked at its end; only when it does not
         * fit is it encoded again checking each span (rare: once per payload at most). */
        bool careful = ci.every_span;
again:;
        uint32_t remaining = e->chunk_size[c] - pos->in_chunk;
        struct enc_mark part = enc_mark(e);
        size_t hdr_at = e->out.len;
        otel__mp_array(&e->out, remaining);
        size_t hdr_len = e->out.len - hdr_at;
        uint32_t n = 0;
        uint32_t stop = NONE32;
        bool first_span = true;
        for (uint32_t i = head; i != NONE32; i = e->next[i]) {
            if (e->spans[i]->resource != e->extras.resource || !e->extras.valid) {
                otel_status st = extras_build(e, e->spans[i]->resource);
                if (st != OTEL_OK)
                    return st;
            }
            if (!careful) {
                if (is_v05(e))
                    encode_span_v05(e, i, first_span, &ci);
                else
                    encode_span_v04(e, i, first_span, &ci);
                n++;
                first_span = false;
                continue;
            }
            struct enc_mark sm = enc_mark(e);
            if (is_v05(e))
                encode_span_v05(e, i, first_span, &ci);
            else
                encode_span_v04(e, i, first_span, &ci);
            /* (A failed buffer is noticed after the chunk; the payload is discarded then.) */
            if (enc_size(e) > max_bytes) {
                enc_rollback(e, &sm);
                if (n == 0 && traces == 0) {
                    /* Alone in an empty payload and still too big: this span cannot be sent. */
                    info->dropped++;
                    pos->in_chunk++;
                    pos->consumed++;
                    ci.every_span = true; /* it may have been the root that carried the decision */
                    continue;
                }
                if (!ci.every_span && traces == 0) {
                    /* The chunk alone is too big: send it in parts, each with the decision. */
                    enc_rollback(e, &part);
                    ci.every_span = true;
                    pos->in_chunk = part_in_chunk;
                    pos->consumed = part_consumed;
                    goto again;
                }
                if (n == 0 || !ci.every_span) {
                    /* Starts the next payload instead (whole, if it fits there). */
                    enc_rollback(e, &part);
                    pos->in_chunk = part_in_chunk;
                    pos->consumed = part_consumed;
                    n = 0;
                    full = true;
                    break;
                }
                stop = i;
                full = true;
                break;
            }
            n++;
            pos->in_chunk++;
            pos->consumed++;
            first_span = false;
        }
        if (enc_failed(e))
            return OTEL_ERR_NOMEM;
        if (!careful) {
            if (enc_size(e) > max_bytes) {
                enc_rollback(e, &part);
                careful = true;
                goto again;
            }
            pos->in_chunk += n;
            pos->consumed += n;
        }
        if (n == 0) {
            enc_rollback(e, &part);
        } else {
            if (n != remaining)
                patch_array_header(&e->out, hdr_at, hdr_len, n);
            traces++;
            info->spans += n;
        }
        if (stop != NONE32) {
            pos->span = stop; /* the next payload resumes the chunk here */
        } else if (pos->in_chunk == e->chunk_size[c]) {
            pos->chunk++;
            pos->span = NONE32;
            pos->in_chunk = 0;
        } /* else: rolled back whole, for the next payload */
    }
    info->traces = traces;
    if (!is_v05(e)) {
        size_t start = header_before(e->out.data, OUT_RESERVE, traces, false);
        e->payload = e->out.data + start;
        e->payload_len = e->out.len - start;
        return OTEL_OK;
    }
    /* v0.5: [fixarray(2)][strings header][strings][chunks header][chunks]. */
    size_t chunks_start = header_before(e->out.data, OUT_RESERVE, traces, false);
    size_t table_start = header_before(e->strtab.data, STRTAB_RESERVE, e->string_count, false);
    e->strtab.data[--table_start] = 0x92;
    otel__dd_buf_put(&e->strtab, e->out.data + chunks_start, e->out.len - chunks_start);
    if (e->strtab.failed)
        return OTEL_ERR_NOMEM;
    e->payload = e->strtab.data + table_start;
    e->payload_len = e->strtab.len - table_start;
    return OTEL_OK;
}

bool otel__dd_encoder_finished(const struct otel__dd_encoder *e)
{
    return e->pos.chunk >= e->chunk_count;
}

otel_status otel__dd_encode_all(struct otel__dd_encoder *e, const otel_span_data *const *spans, size_t count)
{
    otel_status st;
    otel__dd_encoder_group(e, spans, count, &st);
    if (st != OTEL_OK)
        return st;
    struct otel__dd_payload_info info;
    return otel__dd_encoder_encode(e, SIZE_MAX, &info);
}

/* ---------------------------------------------------------------------------------------------
 * DD_TAGS
 * ------------------------------------------------------------------------------------------- */

size_t otel__dd_parse_tags(otel_str text, struct otel__dd_tag *out, size_t cap, size_t *bad)
{
    size_t n = 0;
    *bad = 0;
    /* Comma-separated when there is a comma, else space-separated (the Datadog tracers' rule). */
    bool commas = memchr(text.data ? text.data : "", ',', text.len) != NULL;
    size_t i = 0;
    while (i < text.len) {
        size_t j = i;
        while (j < text.len && text.data[j] != (commas ? ',' : ' '))
            j++;
        size_t a = i, b = j;
        while (a < b && (text.data[a] == ' ' || text.data[a] == '\t'))
            a++;
        while (b > a && (text.data[b - 1] == ' ' || text.data[b - 1] == '\t'))
            b--;
        if (a < b) {
            const char *colon = memchr(text.data + a, ':', b - a);
            if (!colon || colon == text.data + a) {
                (*bad)++;
            } else if (n < cap) {
                size_t k = (size_t)(colon - text.data);
                size_t ke = k, vs = k + 1;
                while (ke > a && text.data[ke - 1] == ' ')
                    ke--;
                while (vs < b && text.data[vs] == ' ')
                    vs++;
                out[n].key = (otel_str){ text.data + a, ke - a };
                out[n].value = (otel_str){ text.data + vs, b - vs };
                n++;
            } else {
                n++;
            }
        }
        i = j + 1;
    }
    return n;
}
