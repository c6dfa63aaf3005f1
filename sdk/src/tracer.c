/* SDK tracers and span start: ids, the sampling decision, a record from the pool, its fields
 * filled in place, then the processors' on_start. This is the hot path of the SDK: no lock (the
 * new record belongs to the starting thread until its handle is returned) and no allocation in
 * steady state. Spans that will not record come from the API's non-recording pool. */
#include <string.h>

#include "log_internal.h"
#include "provider.h"
#include "span.h"

static inline bool span_context_valid(const otel_span_context *sc)
{
    uint8_t t = 0, s = 0;
    for (size_t i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        t |= sc->trace_id[i];
    for (size_t i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        s |= sc->span_id[i];
    return t && s;
}

static inline bool str_ok_name(otel_str s)
{
    return s.data != NULL || s.len == 0;
}

static const otel_span_start_options no_opts;
static const otel_parent no_parent;

static otel_span start_span(otel_tracer *tracer, otel_str name, const otel_span_start_options *opts,
                            const otel_parent *parent)
{
    struct otel__tracer *t = (struct otel__tracer *)tracer;
    struct otel__provider *p = t->provider;
    otel__count(&p->counters.spans_started, 1);
    if (!opts)
        opts = &no_opts;
    if (!parent || (opts->flags & OTEL_SPAN_START_ROOT))
        parent = &no_parent;
    bool has_parent = span_context_valid(&parent->span_context);

    if (p->disabled || atomic_load_explicit(&p->shut_down, memory_order_relaxed)) {
        if (!has_parent)
            return OTEL_SPAN_NONE;
        return otel_nonrecording_span_create(&parent->span_context, parent->trace_state);
    }

    otel_span_context sc;
    if (has_parent) {
        memcpy(sc.trace_id, parent->span_context.trace_id, OTEL_TRACE_ID_SIZE);
        sc.trace_flags = (uint8_t)(parent->span_context.trace_flags & OTEL_TRACE_FLAG_RANDOM);
    } else {
        if (p->builtin_ids)
            otel__random_trace_id(sc.trace_id);
        else
            p->id_generator.new_trace_id(p->id_generator.user_data, sc.trace_id);
        sc.trace_flags = p->id_generator.random_trace_ids ? OTEL_TRACE_FLAG_RANDOM : 0;
    }
    if (p->builtin_ids)
        otel__random_span_id(sc.span_id);
    else
        p->id_generator.new_span_id(p->id_generator.user_data, sc.span_id);
    sc.is_remote = false;

    if (!str_ok_name(name))
        name = (otel_str){ "", 0 };
    otel_sampling_params params = {
        .parent = parent,
        .trace_id = sc.trace_id,
        .name = name,
        .kind = opts->kind,
        .attrs = opts->attrs,
        .attr_count = opts->attrs ? opts->attr_count : 0,
        .links = opts->links,
        .link_count = opts->links ? opts->link_count : 0,
    };
    otel_sampling_result res = otel__sampler_decide(&p->sampler, &params);
    /* The span's trace state: the sampler's (its reference becomes ours) or the parent's. */
    const otel_trace_state *ts = res.set_trace_state ? res.trace_state : parent->trace_state;

    if (res.decision != OTEL_SAMPLING_RECORD_ONLY && res.decision != OTEL_SAMPLING_RECORD_AND_SAMPLE) {
        otel_span s = otel_nonrecording_span_create(&sc, ts);
        if (res.set_trace_state)
            otel_trace_state_release(res.trace_state);
        return s;
    }
    bool sampled = res.decision == OTEL_SAMPLING_RECORD_AND_SAMPLE;
    if (sampled)
        sc.trace_flags |= OTEL_TRACE_FLAG_SAMPLED;

    struct otel__span_record *rec = otel__pool_take(&p->pool);
    char *name_copy = NULL;
    if (rec && !(opts->flags & OTEL_SPAN_START_STATIC_NAME) && name.len) {
        name_copy = otel__arena_strdup(&rec->arena, name.data, name.len);
        if (!name_copy) {
            otel__arena_reset(&rec->arena);
            otel__pool_put(&p->pool, rec);
            rec = NULL;
        }
    }
    if (!rec) {
        /* The decision stands for the rest of the trace; only this span is lost. */
        otel__count(&p->counters.spans_dropped, 1);
        OTEL__LOG(OTEL_LOG_WARN, "span start: out of memory for a span record; span dropped");
        otel_span s = otel_nonrecording_span_create(&sc, ts);
        if (res.set_trace_state)
            otel_trace_state_release(res.trace_state);
        return s;
    }

    otel_span_data *d = &rec->box.data;
    memset(d, 0, sizeof(*d));
    d->context = sc;
    if (has_parent) {
        memcpy(d->parent_span_id, parent->span_context.span_id, OTEL_SPAN_ID_SIZE);
        d->parent_is_remote = parent->span_context.is_remote;
    }
    d->kind = (unsigned)opts->kind <= OTEL_SPAN_KIND_CONSUMER ? opts->kind : OTEL_SPAN_KIND_INTERNAL;
    d->name = name;
    rec->name_copied = name_copy != NULL;
    if (name_copy)
        d->name.data = name_copy;
    if (opts->start_time_ns) {
        d->start_time_ns = opts->start_time_ns;
        rec->has_mono_start = false;
    } else {
        d->start_time_ns = otel_time_now_ns();
        rec->start_mono_ns = otel__mono_ns();
        rec->has_mono_start = true;
    }
    d->attrs = rec->inline_attrs;
    rec->attr_cap = OTEL__SPAN_INLINE_ATTRS;
    rec->event_cap = 0;
    rec->link_cap = 0;
    d->status_description = (otel_str){ "", 0 };
    d->trace_state = res.set_trace_state ? ts : otel_trace_state_retain(ts);
    d->resource = p->resource;
    d->scope = &t->scope;
    rec->state = OTEL__REC_RECORDING;

    uint32_t invalid = 0, attrs_dropped = 0, links_dropped = 0;
    if (opts->attrs && opts->attr_count)
        attrs_dropped += otel__record_set_attrs(rec, opts->attrs, opts->attr_count, &invalid);
    if (res.attrs && res.attr_count)
        attrs_dropped += otel__record_set_attrs(rec, res.attrs, res.attr_count, &invalid);
    if (opts->links) {
        for (size_t i = 0; i < opts->link_count; i++)
            links_dropped += otel__record_add_link(rec, &opts->links[i], &attrs_dropped);
    }

    otel__count(&p->counters.spans_recorded, 1);
    if (sampled)
        otel__count(&p->counters.spans_sampled, 1);
    if (attrs_dropped)
        otel__count(&p->counters.attrs_dropped, attrs_dropped);
    if (links_dropped)
        otel__count(&p->counters.links_dropped, links_dropped);
    otel__log_invalid_attrs(invalid);

    otel_span span = { &rec->impl, atomic_load_explicit(&rec->gen, memory_order_relaxed) };
    for (size_t i = 0; i < p->processor_count; i++) {
        if (p->processors[i].on_start)
            p->processors[i].on_start(p->processors[i].user_data, span, d, parent);
    }
    return span;
}

static bool tracer_enabled(otel_tracer *tracer)
{
    struct otel__tracer *t = (struct otel__tracer *)tracer;
    return !t->provider->disabled &&
           !atomic_load_explicit(&t->provider->shut_down, memory_order_relaxed);
}

const struct otel_tracer_ops otel__tracer_ops = {
    .start_span = start_span,
    .enabled = tracer_enabled,
};

void otel__tracer_init(struct otel__tracer *t, struct otel__provider *p, const otel_scope_data *scope)
{
    t->base.ops = &otel__tracer_ops;
    t->provider = p;
    t->scope = *scope;
}
