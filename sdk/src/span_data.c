/* Finished spans as processors and exporters hold them: references on pooled records
 * (otel_span_data_retain/release), deep clones that outlive the provider, and attribute lookup.
 * Both a record and a clone keep a reference count just in front of their otel_span_data, so
 * retain and release work on either. */
#include <stdalign.h>
#include <string.h>

#include "copy.h"
#include "mem.h"
#include "span.h"

static inline struct otel__span_data_box *box_of(const otel_span_data *d)
{
    return (struct otel__span_data_box *)(void *)((char *)(uintptr_t)d -
                                                  offsetof(struct otel__span_data_box, data));
}

static inline struct otel__span_record *record_of(struct otel__span_data_box *box)
{
    return (struct otel__span_record *)(void *)((char *)box - offsetof(struct otel__span_record, box));
}

const otel_span_data *otel_span_data_retain(const otel_span_data *span)
{
    if (span)
        atomic_fetch_add_explicit(&box_of(span)->refs, 1u, memory_order_relaxed);
    return span;
}

static void clone_destroy(struct otel__span_data_box *box)
{
    otel_span_data *d = &box->data;
    otel_resource_release(d->resource);
    otel_trace_state_release(d->trace_state);
    for (uint32_t i = 0; i < d->link_count; i++)
        otel_trace_state_release(d->links[i].trace_state);
    otel__free(box);
}

void otel_span_data_release(const otel_span_data *span)
{
    if (!span)
        return;
    struct otel__span_data_box *box = box_of(span);
    /* A holder that sees the count at 1 is the last one (see otel__span_record_release). The
     * kind bit is the same in both values: no reference changes it. */
    uint32_t refs = atomic_load_explicit(&box->refs, memory_order_acquire);
    if ((refs & OTEL__REFS_COUNT) != 1u &&
        (atomic_fetch_sub_explicit(&box->refs, 1u, memory_order_acq_rel) & OTEL__REFS_COUNT) != 1u)
        return;
    if (!(refs & OTEL__REFS_CLONE))
        otel__span_record_recycle(record_of(box));
    else
        clone_destroy(box);
}

void otel_span_data_free(otel_span_data *span)
{
    otel_span_data_release(span);
}

/* ---------------------------------------------------------------------------------------------
 * Deep copies
 * ------------------------------------------------------------------------------------------- */

otel_str otel__bump_str(struct otel__bump *b, otel_str s)
{
    char *p = otel__bump_alloc(b, s.len + 1, 1);
    if (p) {
        if (s.len)
            memcpy(p, s.data, s.len);
        p[s.len] = '\0';
    }
    return (otel_str){ p, s.len };
}

otel_value otel__bump_value(struct otel__bump *b, const otel_value *v)
{
    otel_value out = *v;
    out.flags = (uint16_t)(v->flags & ~(OTEL_VALUE_STATIC | OTEL_VALUE_STATIC_KEY));
    switch (v->type) {
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES:
        out.as.s = otel__bump_str(b, v->as.s);
        break;
    case OTEL_VALUE_ARRAY: {
        size_t n = v->as.array.len, es = otel_value_array_item_size((otel_value_type)v->array_type);
        if (n == 0 || es == 0 || !v->as.array.items) {
            out.as.array.items = NULL;
            out.as.array.len = 0;
            break;
        }
        void *items = otel__bump_alloc(b, n * es, 8);
        if (v->array_type == OTEL_VALUE_STR) {
            const otel_str *in = v->as.array.items;
            otel_str *o = items;
            for (size_t i = 0; i < n; i++) {
                otel_str s = otel__bump_str(b, in[i]);
                if (o)
                    o[i] = s;
            }
        } else if (items) {
            memcpy(items, v->as.array.items, n * es);
        }
        out.as.array.items = items;
        break;
    }
    default:
        break;
    }
    return out;
}

const otel_attr *otel__bump_attrs(struct otel__bump *b, const otel_attr *src, size_t n)
{
    if (!src || n == 0)
        return NULL;
    otel_attr *arr = otel__bump_alloc(b, n * sizeof(*arr), 8);
    for (size_t i = 0; i < n; i++) {
        otel_str k = otel__bump_str(b, src[i].key);
        otel_value v = otel__bump_value(b, &src[i].value);
        if (arr) {
            arr[i].key = k;
            arr[i].value = v;
        }
    }
    return arr;
}

bool otel__value_eq(const otel_value *a, const otel_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case OTEL_VALUE_BOOL:
        return a->as.b == b->as.b;
    case OTEL_VALUE_INT:
        return a->as.i == b->as.i;
    case OTEL_VALUE_DOUBLE:
        return memcmp(&a->as.d, &b->as.d, sizeof(double)) == 0;
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES:
        return a->as.s.len == b->as.s.len &&
               (a->as.s.len == 0 || memcmp(a->as.s.data, b->as.s.data, a->as.s.len) == 0);
    case OTEL_VALUE_ARRAY: {
        if (a->array_type != b->array_type || a->as.array.len != b->as.array.len)
            return false;
        size_t n = a->as.array.len, es = otel_value_array_item_size((otel_value_type)a->array_type);
        if (n == 0)
            return true;
        if (a->array_type != OTEL_VALUE_STR)
            return memcmp(a->as.array.items, b->as.array.items, n * es) == 0;
        const otel_str *x = a->as.array.items, *y = b->as.array.items;
        for (size_t i = 0; i < n; i++)
            if (x[i].len != y[i].len || (x[i].len && memcmp(x[i].data, y[i].data, x[i].len)))
                return false;
        return true;
    }
    default:
        return true;
    }
}

/* One pass of the clone: measures when b->base is NULL, else fills |out|. */
static otel_span_data *clone_layout(struct otel__bump *b, const otel_span_data *src)
{
    struct otel__span_data_box *box = otel__bump_alloc(b, sizeof(*box), alignof(struct otel__span_data_box));
    otel_span_data *d = box ? &box->data : NULL;
    if (d)
        *d = *src;

    otel_str name = otel__bump_str(b, src->name);
    const otel_attr *attrs = otel__bump_attrs(b, src->attrs, src->attr_count);

    otel_event_data *events = NULL;
    if (src->events && src->event_count) {
        events = otel__bump_alloc(b, src->event_count * sizeof(*events), 8);
        for (uint32_t i = 0; i < src->event_count; i++) {
            const otel_event_data *e = &src->events[i];
            otel_str en = otel__bump_str(b, e->name);
            const otel_attr *ea = otel__bump_attrs(b, e->attrs, e->attr_count);
            if (events) {
                events[i] = *e;
                events[i].name = en;
                events[i].attrs = ea;
                if (!ea)
                    events[i].attr_count = 0;
            }
        }
    }

    otel_link_data *links = NULL;
    if (src->links && src->link_count) {
        links = otel__bump_alloc(b, src->link_count * sizeof(*links), 8);
        for (uint32_t i = 0; i < src->link_count; i++) {
            const otel_link_data *l = &src->links[i];
            const otel_attr *la = otel__bump_attrs(b, l->attrs, l->attr_count);
            if (links) {
                links[i] = *l;
                links[i].attrs = la;
                if (!la)
                    links[i].attr_count = 0;
            }
        }
    }

    otel_str desc = otel__bump_str(b, src->status_description);

    otel_scope_data *scope = NULL;
    if (src->scope) {
        scope = otel__bump_alloc(b, sizeof(*scope), 8);
        otel_str sn = otel__bump_str(b, src->scope->name);
        otel_str sv = otel__bump_str(b, src->scope->version);
        otel_str su = otel__bump_str(b, src->scope->schema_url);
        const otel_attr *sa = otel__bump_attrs(b, src->scope->attrs, src->scope->attr_count);
        if (scope) {
            scope->name = sn;
            scope->version = sv;
            scope->schema_url = su;
            scope->attrs = sa;
            scope->attr_count = sa ? src->scope->attr_count : 0;
        }
    }

    if (!d)
        return NULL;
    box->owner = 0;
    atomic_init(&box->refs, 1u | OTEL__REFS_CLONE);
    d->name = name;
    d->attrs = attrs;
    if (!attrs)
        d->attr_count = 0;
    d->events = events;
    if (!events)
        d->event_count = 0;
    d->links = links;
    if (!links)
        d->link_count = 0;
    d->status_description = desc;
    d->scope = scope;
    return d;
}

otel_status otel_span_data_clone(const otel_span_data *src, otel_span_data **out)
{
    if (!src || !out)
        return OTEL_ERR_INVALID_ARG;
    struct otel__bump measure = { NULL, 0 };
    clone_layout(&measure, src);
    char *block = otel__malloc(measure.off);
    if (!block)
        return OTEL_ERR_NOMEM;
    struct otel__bump fill = { block, 0 };
    otel_span_data *d = clone_layout(&fill, src);
    /* The clone owns references to everything shared. */
    d->resource = otel_resource_retain(src->resource);
    d->trace_state = otel_trace_state_retain(src->trace_state);
    for (uint32_t i = 0; i < d->link_count; i++)
        ((otel_link_data *)d->links)[i].trace_state = otel_trace_state_retain(src->links[i].trace_state);
    *out = d;
    return OTEL_OK;
}

const otel_attr *otel_attrs_find(const otel_attr *attrs, size_t count, otel_str key)
{
    if (!attrs)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (attrs[i].key.len == key.len &&
            (key.len == 0 || memcmp(attrs[i].key.data, key.data, key.len) == 0))
            return &attrs[i];
    }
    return NULL;
}
