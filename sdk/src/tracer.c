/* SDK tracers and span start: ids, the sampling decision, a record from the calling thread's
 * pool cache, its fields filled in place, then the processors' on_start. This is the hot path of
 * the SDK: no lock (the new record belongs to the starting thread until its handle is returned),
 * no allocation in steady state, no write to a cache line another thread writes (counters are
 * per thread), and one clock read (clock.h). Spans the sampler drops get a record too, in the
 * non-recording state: cheaper than any shared pool, and it carries the new span's context. */
#include <string.h>

#include "clock.h"
#include "log_internal.h"
#include "provider.h"
#include "span.h"

static inline bool str_ok_name(otel_str s)
{
    return s.data != NULL || s.len == 0;
}

static const otel_span_start_options no_opts;
static const otel_parent no_parent;

/* The decision for a shortcut sampler (provider.h), from the parent alone. */
static inline otel_sampling_decision shortcut_decide(int shortcut, bool has_parent,
                                                     const otel_span_context *psc)
{
    switch (shortcut) {
    case OTEL__SAMPLER_ALWAYS_ON:
        return OTEL_SAMPLING_RECORD_AND_SAMPLE;
    case OTEL__SAMPLER_ALWAYS_OFF:
        return OTEL_SAMPLING_DROP;
    default: /* OTEL__SAMPLER_PARENT_ON */
        return !has_parent || (psc->trace_flags & OTEL_TRACE_FLAG_SAMPLED) ? OTEL_SAMPLING_RECORD_AND_SAMPLE
                                                                           : OTEL_SAMPLING_DROP;
    }
}

/* A non-recording span for a DROP decision: a record in the non-recording state that carries
 * |sc| and owns |ts| (a reference). Falls back to the API's pool when no record is to be had. */
static inline __attribute__((always_inline)) otel_span start_nonrecording(struct otel__provider *p,
                                                                          struct otel__thread *th,
                                                                          const otel_span_context *sc,
                                                                          otel_trace_state *ts)
{
    OTEL__TCOUNT(th, spans_not_recorded, 1);
    struct otel__span_record *rec = otel__pool_take(&p->pool, th);
    if (__builtin_expect(!rec, 0)) {
        otel_span s = otel_nonrecording_span_create(sc, ts);
        otel_trace_state_release(ts);
        return s;
    }
    otel__record_store_context(rec, sc);
    __atomic_store_n(&rec->box.data.trace_state, ts, __ATOMIC_RELEASE);
    rec->flags = ts ? OTEL__REC_HAS_REFS : 0;
    atomic_store_explicit(&rec->state, OTEL__REC_NONRECORDING, memory_order_relaxed);
    return (otel_span){ &rec->impl, atomic_load_explicit(&rec->gen, memory_order_relaxed) };
}

/* The same for the fast path, whose ids come from the built-in generator: the new span's ids
 * are drawn only when someone first asks for its context (span.c, materialize_ids), which most
 * dropped spans never see. The parent's trace id and flags are stored now. */
static inline __attribute__((always_inline)) otel_span
start_nonrecording_lazy(struct otel__provider *p, struct otel__thread *th, const otel_span_context *psc,
                        bool has_parent, otel_trace_state *ts)
{
    OTEL__TCOUNT(th, spans_not_recorded, 1);
    struct otel__span_record *rec = otel__pool_take(&p->pool, th);
    if (__builtin_expect(!rec, 0)) {
        /* No record: draw the ids now and use the API's pool. */
        otel_span_context sc = { .is_remote = false };
        if (has_parent) {
            memcpy(sc.trace_id, psc->trace_id, OTEL_TRACE_ID_SIZE);
            sc.trace_flags = (uint8_t)(psc->trace_flags & OTEL_TRACE_FLAG_RANDOM);
        } else {
            otel__random_trace_id(sc.trace_id);
            sc.trace_flags = OTEL_TRACE_FLAG_RANDOM;
        }
        otel__random_span_id(sc.span_id);
        otel_span s = otel_nonrecording_span_create(&sc, ts);
        otel_trace_state_release(ts);
        return s;
    }
    uint8_t flags = ts ? OTEL__REC_HAS_REFS : 0;
    if (has_parent) {
        otel_span_context sc = *psc;
        sc.trace_flags = (uint8_t)(psc->trace_flags & OTEL_TRACE_FLAG_RANDOM);
        sc.is_remote = false;
        otel__record_store_context(rec, &sc);
    } else {
        flags |= OTEL__REC_LAZY_ROOT;
    }
    rec->flags = flags;
    __atomic_store_n(&rec->box.data.trace_state, ts, __ATOMIC_RELEASE);
    atomic_store_explicit(&rec->state, OTEL__REC_NONRECORDING_LAZY, memory_order_relaxed);
    return (otel_span){ &rec->impl, atomic_load_explicit(&rec->gen, memory_order_relaxed) };
}

/* No record (or no memory for its name): the decision stands for the rest of the trace; only
 * this span is lost, and counted. */
static __attribute__((noinline)) otel_span
start_without_record(struct otel__thread *th, struct otel__span_record *rec, struct otel__provider *p,
                     const otel_span_context *sc, otel_trace_state *ts)
{
    if (rec)
        otel__pool_put(&p->pool, rec);
    OTEL__TCOUNT(th, spans_dropped, 1);
    OTEL__LOG(OTEL_LOG_WARN, "span start: out of memory for a span record; span dropped");
    otel_span s = otel_nonrecording_span_create(sc, ts);
    otel_trace_state_release(ts);
    return s;
}

/* Takes a record and fills every field of its data for a recording span (no memset: most fields
 * would be written twice; resource is constant and was set when the slab was made). Returns
 * NULL (and keeps nothing) when memory runs out. */
static inline __attribute__((always_inline)) struct otel__span_record *
record_start(struct otel__provider *p, struct otel__thread *th, const struct otel__tracer *t,
             const otel_span_context *sc, const otel_span_context *psc, bool has_parent, otel_str name,
             bool copy_name, otel_span_kind kind, int64_t start_time_ns, otel_trace_state *ts,
             struct otel__span_record *rec)
{
    if (!rec)
        rec = otel__pool_take(&p->pool, th);
    if (__builtin_expect(!rec, 0))
        return NULL;
    otel__arena_reset(&rec->arena); /* left as the last span used it */
    otel_span_data *d = &rec->box.data;
    uint8_t flags = ts ? OTEL__REC_HAS_REFS : 0;
    d->name = name;
    if (copy_name && name.len) {
        char *copy = otel__record_copy_name(rec, name.data, name.len);
        if (__builtin_expect(!copy, 0)) {
            otel__pool_put(&p->pool, rec);
            return NULL;
        }
        d->name.data = copy;
        flags |= OTEL__REC_NAME_COPIED;
    }
    /* Clean (otel__record_clear_data's state) unless the kind or a trace state differ. */
    rec->flags = flags | (kind == OTEL_SPAN_KIND_INTERNAL && !ts ? OTEL__REC_CLEAN : 0);
    otel__record_store_context(rec, sc);
    if (has_parent) {
        memcpy(d->parent_span_id, psc->span_id, OTEL_SPAN_ID_SIZE);
        d->parent_is_remote = psc->is_remote;
    } else {
        memset(d->parent_span_id, 0, OTEL_SPAN_ID_SIZE);
        d->parent_is_remote = false;
    }
    if (__builtin_expect(start_time_ns == 0, 1)) {
        int mode;
        d->start_time_ns = otel__clock_now(&mode, &rec->start_tick);
        rec->tick_mode = (uint8_t)mode;
    } else {
        d->start_time_ns = start_time_ns;
        rec->tick_mode = 0;
    }
    otel__record_clear_fields(rec);
    d->kind = kind;
    __atomic_store_n(&d->trace_state, ts, __ATOMIC_RELEASE);
    d->scope = &t->scope;
    atomic_store_explicit(&rec->state, OTEL__REC_RECORDING, memory_order_relaxed);
    return rec;
}

/* Everything the fast path does not handle: options, custom id generators and samplers,
 * on_start, a disabled or shut-down provider. */
static __attribute__((noinline)) otel_span start_general(struct otel__tracer *t, struct otel__provider *p,
                                                         otel_str name, const otel_span_start_options *opts,
                                                         const otel_parent *parent)
{
    struct otel__thread *th = otel__thread_bind(&p->pool);
    if (!opts)
        opts = &no_opts;
    if (!parent || (opts->flags & OTEL_SPAN_START_ROOT))
        parent = &no_parent;
    /* |parent| may point into this thread's context stack, which the sampler or an on_start
     * callback could change: work on a copy. */
    otel_parent parent_copy = *parent;
    parent = &parent_copy;
    const otel_span_context *psc = &parent->span_context;
    bool has_parent = otel__span_context_valid(psc);

    if (p->disabled || atomic_load_explicit(&p->shut_down, memory_order_relaxed)) {
        OTEL__TCOUNT(th, spans_not_recorded, 1);
        if (!has_parent)
            return OTEL_SPAN_NONE;
        return otel_nonrecording_span_create(psc, parent->trace_state);
    }

    otel_span_context sc;
    if (has_parent) {
        memcpy(sc.trace_id, psc->trace_id, OTEL_TRACE_ID_SIZE);
        sc.trace_flags = (uint8_t)(psc->trace_flags & OTEL_TRACE_FLAG_RANDOM);
    } else if (p->builtin_ids) {
        otel__random_trace_id(sc.trace_id);
        sc.trace_flags = OTEL_TRACE_FLAG_RANDOM;
    } else {
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
    otel_sampling_result res = { .decision = OTEL_SAMPLING_DROP };
    if (p->sampler_shortcut != OTEL__SAMPLER_GENERAL) {
        res.decision = shortcut_decide(p->sampler_shortcut, has_parent, psc);
    } else {
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
        res = otel__sampler_decide(&p->sampler, &params);
    }
    /* The span's trace state, as a reference of its own: the sampler's or the parent's. */
    otel_trace_state *ts = res.set_trace_state   ? res.trace_state
                           : parent->trace_state ? otel_trace_state_retain(parent->trace_state)
                                                 : NULL;

    if (res.decision != OTEL_SAMPLING_RECORD_ONLY && res.decision != OTEL_SAMPLING_RECORD_AND_SAMPLE)
        return start_nonrecording(p, th, &sc, ts);
    bool sampled = res.decision == OTEL_SAMPLING_RECORD_AND_SAMPLE;
    if (sampled)
        sc.trace_flags |= OTEL_TRACE_FLAG_SAMPLED;
    otel_span_kind kind =
        (unsigned)opts->kind <= OTEL_SPAN_KIND_CONSUMER ? opts->kind : OTEL_SPAN_KIND_INTERNAL;
    struct otel__span_record *rec =
        record_start(p, th, t, &sc, psc, has_parent, name, !(opts->flags & OTEL_SPAN_START_STATIC_NAME), kind,
                     opts->start_time_ns, ts, NULL);
    if (!rec)
        return start_without_record(th, NULL, p, &sc, ts);
    if (sampled)
        OTEL__TCOUNT(th, spans_sampled, 1);
    else
        OTEL__TCOUNT(th, spans_record_only, 1);

    if ((opts->attrs && opts->attr_count) || (res.attrs && res.attr_count) ||
        (opts->links && opts->link_count)) {
        uint32_t invalid = 0, attrs_dropped = 0, links_dropped = 0;
        if (opts->attrs && opts->attr_count)
            attrs_dropped += otel__record_set_attrs(rec, opts->attrs, opts->attr_count, &invalid);
        if (res.attrs && res.attr_count)
            attrs_dropped += otel__record_set_attrs(rec, res.attrs, res.attr_count, &invalid);
        if (opts->links) {
            for (size_t i = 0; i < opts->link_count; i++)
                links_dropped += otel__record_add_link(rec, &opts->links[i], &attrs_dropped);
        }
        if (attrs_dropped)
            OTEL__TCOUNT(th, attrs_dropped, attrs_dropped);
        if (links_dropped)
            OTEL__TCOUNT(th, links_dropped, links_dropped);
        otel__log_invalid_attrs(invalid);
    }

    otel_span span = { &rec->impl, atomic_load_explicit(&rec->gen, memory_order_relaxed) };
    if (p->any_on_start) {
        for (size_t i = 0; i < p->processor_count; i++) {
            if (p->processors[i].on_start)
                p->processors[i].on_start(p->processors[i].user_data, span, &rec->box.data, parent);
        }
    }
    return span;
}

/* The fast path's recording span (its own function: the dropped-span path stays small). */
static inline __attribute__((always_inline)) otel_span
start_recording(struct otel__tracer *t, struct otel__provider *p, struct otel__thread *th, otel_str name,
                const otel_span_context *psc, bool has_parent, bool copy_name, otel_span_kind kind,
                otel_trace_state *ts, struct otel__span_record *taken)
{
    struct otel__rng *rng = OTEL__TLS_ADDR(otel__rng_tls); /* seeded: see start_span */
    otel_span_context sc;
    if (has_parent) {
        memcpy(sc.trace_id, psc->trace_id, OTEL_TRACE_ID_SIZE);
        sc.trace_flags = (uint8_t)(psc->trace_flags & OTEL_TRACE_FLAG_RANDOM);
        uint64_t id;
        otel__rng_fill_nonzero(rng, &id, 1);
        memcpy(sc.span_id, &id, 8);
    } else {
        /* Both halves never zero: the trace id is never all zero. */
        uint64_t ids[3];
        otel__rng_fill_nonzero(rng, ids, 3);
        memcpy(sc.trace_id, ids, 16);
        memcpy(sc.span_id, &ids[2], 8);
        sc.trace_flags = OTEL_TRACE_FLAG_RANDOM;
    }
    sc.is_remote = false;
    sc.trace_flags |= OTEL_TRACE_FLAG_SAMPLED;
    if (__builtin_expect(!name.data, 0))
        name.len = 0;
    struct otel__span_record *rec =
        record_start(p, th, t, &sc, psc, has_parent, name, copy_name, kind, 0, ts, taken);
    if (__builtin_expect(!rec, 0))
        return start_without_record(th, NULL, p, &sc, ts);
    OTEL__TCOUNT(th, spans_sampled, 1);
    return (otel_span){ &rec->impl, atomic_load_explicit(&rec->gen, memory_order_relaxed) };
}

/* Options that name only the kind or mark the name static, a parent with a trace state, and
 * whatever start_span does not finish itself: the common case with these, else start_general.
 * One fork check for all three random numbers. */
static __attribute__((noinline)) otel_span start_span_common(otel_tracer *tracer, otel_str name,
                                                             const otel_span_start_options *opts,
                                                             const otel_parent *parent)
{
    struct otel__tracer *t = (struct otel__tracer *)tracer;
    struct otel__provider *p = t->provider;
    /* Options that only name the kind or mark the name static stay on this path. */
    bool copy_name = true;
    otel_span_kind kind = OTEL_SPAN_KIND_INTERNAL;
    if (opts) {
        if (opts->parent || opts->start_time_ns || opts->attrs || opts->links ||
            (opts->flags & ~(uint32_t)OTEL_SPAN_START_STATIC_NAME) ||
            (unsigned)opts->kind > OTEL_SPAN_KIND_CONSUMER)
            return start_general(t, p, name, opts, parent);
        copy_name = !(opts->flags & OTEL_SPAN_START_STATIC_NAME);
        kind = opts->kind;
    }
    /* |parent| may point into this thread's context stack, which a log handler could change:
     * the fast path runs nothing that logs (the thread is bound to the provider already, the
     * generator is seeded for this process); the first span of a thread, or after fork, takes
     * the general path, which copies the parent first. */
    struct otel__thread *th = OTEL__TLS_ADDR(otel__thread_tls);
    if (__builtin_expect(!parent || !p->fast_start || th->serial != p->pool.serial || !otel__rng_seeded() ||
                             atomic_load_explicit(&p->shut_down, memory_order_relaxed),
                         0))
        return start_general(t, p, name, opts, parent);
    const otel_span_context *psc = &parent->span_context;
    bool has_parent = otel__span_context_valid(psc);
    bool sampled = has_parent ? p->sampler_shortcut == OTEL__SAMPLER_ALWAYS_ON ||
                                    (p->sampler_shortcut == OTEL__SAMPLER_PARENT_ON &&
                                     (psc->trace_flags & OTEL_TRACE_FLAG_SAMPLED))
                              : p->sampler_shortcut != OTEL__SAMPLER_ALWAYS_OFF;
    otel_trace_state *ts = parent->trace_state ? otel_trace_state_retain(parent->trace_state) : NULL;
    if (!sampled)
        return start_nonrecording_lazy(p, th, psc, has_parent, ts);
    return start_recording(t, p, th, name, psc, has_parent, copy_name, kind, ts, NULL);
}

/* One wyrand step (otel__wyrand) for start_span, its result opaque to the optimizer: a zero
 * test of the result then stays a test of one register, instead of a comparison of the
 * product's two halves that keeps both live. */
static inline uint64_t draw(uint64_t *s)
{
#if defined(__x86_64__)
    /* The 64 x 64 -> 128 multiply as one instruction: with an __int128, GCC 12 reserves a
     * register pair in start_span and then saves two registers it never uses. */
    *s += UINT64_C(0xa0761d6478bd642f);
    uint64_t lo = *s, hi;
    __asm__("mulq %2" : "+a"(lo), "=d"(hi) : "r"(*s ^ UINT64_C(0xe7037ed1a0b428db)) : "cc");
    uint64_t v = hi ^ lo;
    __asm__("" : "+r"(v));
    return v;
#else
    uint64_t v = otel__wyrand(s);
    __asm__("" : "+r"(v));
    return v;
#endif
}

/* A span the sampler drops on the short path, with no trace state (start_span's tail). */
static __attribute__((noinline)) otel_span start_dropped(struct otel__provider *p, struct otel__thread *th,
                                                         const otel_span_context *psc, bool has_parent)
{
    return start_nonrecording_lazy(p, th, psc, has_parent, NULL);
}

/* The rest of start_span's recording span when something is not at hand: no record without a
 * call, an arena that is not ready for the name, a clock anchor to refresh, ticks that are not
 * TSC cycles. |rec| is a record start_span took already, or NULL. */
static __attribute__((noinline)) otel_span start_recording_slow(struct otel__tracer *t, otel_str name,
                                                                const otel_parent *parent,
                                                                struct otel__span_record *rec, bool copy_name,
                                                                otel_span_kind kind)
{
    struct otel__provider *p = t->provider;
    struct otel__thread *th = OTEL__TLS_ADDR(otel__thread_tls); /* bound: see start_span */
    /* A copy, as on every path that may call something that logs (see start_span): seeding the
     * generator (the first span of a thread, or after fork) may. */
    otel_span_context psc = parent->span_context;
    bool has_parent = otel__span_context_valid(&psc);
    (void)otel__rng_self();
    return start_recording(t, p, th, name, &psc, has_parent, copy_name, kind, NULL, rec);
}

/* The rest of start_span, for a root span (|has_parent| false) or a child, inlined into it
 * once for each (and into start_span_opts for options that name only the kind or a static
 * name: |opts|, |copy_name| and |kind| say what they ask). */
static inline __attribute__((always_inline)) otel_span
start_short(struct otel__tracer *t, struct otel__provider *p, struct otel__thread *th, otel_str name,
            const otel_parent *parent, bool has_parent, const otel_span_start_options *opts, bool copy_name,
            otel_span_kind kind)
{
    otel_tracer *tracer = &t->base;
    const otel_span_context *psc = &parent->span_context;
    bool sampled = has_parent ? p->sampler_shortcut == OTEL__SAMPLER_ALWAYS_ON ||
                                    (p->sampler_shortcut == OTEL__SAMPLER_PARENT_ON &&
                                     (psc->trace_flags & OTEL_TRACE_FLAG_SAMPLED))
                              : p->sampler_shortcut != OTEL__SAMPLER_ALWAYS_OFF;
    if (!sampled) {
        /* As start_nonrecording_lazy, when a record is at hand. Its ids are drawn later, maybe
         * under the record's lock, where seeding the generator (which may log) must not
         * happen: an unseeded generator takes the general path, which draws them now. */
        if (__builtin_expect(!otel__rng_seeded(), 0))
            return start_span_common(tracer, name, opts, parent);
        struct otel__span_record *rec = otel__pool_take_fast(th);
        if (__builtin_expect(!rec, 0))
            return start_dropped(p, th, psc, has_parent);
        OTEL__TCOUNT(th, spans_not_recorded, 1);
        if (has_parent) {
            uint8_t flags = (uint8_t)(psc->trace_flags & OTEL_TRACE_FLAG_RANDOM);
            uint64_t w0, w1, w2;
            memcpy(&w0, psc->trace_id, 8);
            memcpy(&w1, psc->trace_id + 8, 8);
            memcpy(&w2, psc->span_id, 8);
            otel__record_store_context_words(rec, w0, w1, w2, flags);
            rec->flags = 0;
        } else {
            rec->flags = OTEL__REC_LAZY_ROOT;
        }
        __atomic_store_n(&rec->box.data.trace_state, NULL, __ATOMIC_RELEASE);
        atomic_store_explicit(&rec->state, OTEL__REC_NONRECORDING_LAZY, memory_order_relaxed);
        return (otel_span){ &rec->impl, atomic_load_explicit(&rec->gen, memory_order_relaxed) };
    }

#if defined(__x86_64__)
    /* Written so that few values are live at once (few registers to save): the parent's words
     * are read again below (nothing on this path can change the frame |parent| points into). */
    struct otel__span_record *rec = otel__pool_take_fast(th);
    if (__builtin_expect(!rec, 0))
        return start_recording_slow(t, name, parent, NULL, copy_name, kind);
    /* A copied name goes into the record's name buffer, or (longer) at the start of the arena's
     * first chunk. The arena is emptied first (the chunks after the one being filled are empty
     * already); a span that never copied more than a short name has no chunk. */
    struct otel__arena_chunk *c = rec->arena.head;
    if (c) {
        struct otel__arena_chunk *cur = rec->arena.cur;
        if (cur != c) {
            for (struct otel__arena_chunk *x = c; x != cur;) {
                x = x->next;
                x->used = 0;
            }
            rec->arena.cur = c;
        }
        c->used = 0;
    }
    otel_span_data *d = &rec->box.data;
    if (copy_name) {
        size_t len = name.data ? name.len : 0; /* no data: an empty name, as on the other paths */
        char *copy = rec->name_buf;
        if (__builtin_expect(len > OTEL__NAME_INLINE, 0)) {
            if (!c || len >= c->cap)
                return start_recording_slow(t, name, parent, rec, copy_name, kind);
            copy = (char *)c + OTEL__ARENA_CHUNK_HEADER;
            c->used = (uint32_t)len + 1;
            copy[len] = '\0';
        }
        otel__copy_small_inline(copy, name.data, len);
        d->name = (otel_str){ copy, len };
    } else {
        d->name = name.data ? name : (otel_str){ "", 0 };
    }

    /* The start time: a stale anchor is refreshed on the slow path (which copies the name
     * again). The thread-local anchor and generator are named directly (no pointer to them, so
     * no OTEL__TLS_ADDR is needed): the compiler addresses them from %fs itself. */
    int mode = otel__clock_mode();
    if (__builtin_expect(mode != OTEL__CLOCK_TSC || otel__clock_tls.mode != mode, 0))
        return start_recording_slow(t, name, parent, rec, copy_name, kind);
    int64_t tick = (int64_t)__builtin_ia32_rdtsc();
    int64_t anchor_tick = otel__clock_tls.tick;
    if (__builtin_expect(tick >= otel__clock_tls.expires || tick < anchor_tick, 0))
        return start_recording_slow(t, name, parent, rec, copy_name, kind);
    rec->start_tick = tick;
    rec->tick_mode = (uint8_t)mode;
    /* The anchor is at most OTEL__CLOCK_ANCHOR_NS old, so 64 bits hold the product. */
    d->start_time_ns = otel__clock_tls.wall_ns +
                       (int64_t)(((uint64_t)(tick - anchor_tick) *
                                  atomic_load_explicit(&otel__clock_g.mult, memory_order_relaxed)) >>
                                 32);

    /* Ids: wyrand steps from one state, once the generator is known to be seeded for this
     * process. A zero (one draw in 2^64) becomes 1, without a branch or a loop that would keep
     * more values live: a trace id with a zero half or a zero span id never leaves here. */
    if (__builtin_expect(otel__rng_tls.fork_gen !=
                             atomic_load_explicit(&otel__rng_fork_generation, memory_order_relaxed),
                         0))
        return start_recording_slow(t, name, parent, rec, copy_name, kind); /* seeds it (may log) */
    uint64_t s = otel__rng_tls.state;
    uint64_t w0, w1, w2;
    uint8_t flags;
    if (has_parent) {
        memcpy(&w0, psc->trace_id, 8);
        memcpy(&w1, psc->trace_id + 8, 8);
        flags = (uint8_t)((psc->trace_flags & OTEL_TRACE_FLAG_RANDOM) | OTEL_TRACE_FLAG_SAMPLED);
        memcpy(d->parent_span_id, psc->span_id, OTEL_SPAN_ID_SIZE);
        d->parent_is_remote = psc->is_remote;
    } else {
        w0 = draw(&s);
        w0 += w0 == 0;
        w1 = draw(&s);
        w1 += w1 == 0;
        flags = OTEL_TRACE_FLAG_RANDOM | OTEL_TRACE_FLAG_SAMPLED;
        memset(d->parent_span_id, 0, OTEL_SPAN_ID_SIZE);
        d->parent_is_remote = false;
    }
    w2 = draw(&s);
    w2 += w2 == 0;
    otel__rng_tls.state = s;
    otel__record_store_context_words(rec, w0, w1, w2, flags); /* not remote */

    /* A record whose last span set nothing has nothing to clear; the end time is written by the
     * end before anyone reads it (nothing sees this span's data before: no on_start here). */
    uint8_t old_flags = rec->flags;
    uint8_t new_flags = (uint8_t)((copy_name ? OTEL__REC_NAME_COPIED : 0) | OTEL__REC_CLEAN);
    if (__builtin_expect(!(old_flags & OTEL__REC_CLEAN), 0))
        otel__record_clear_data(rec); /* also: kind INTERNAL, no trace state */
    if (kind != OTEL_SPAN_KIND_INTERNAL) {
        d->kind = kind;
        new_flags = (uint8_t)(new_flags & ~OTEL__REC_CLEAN);
    }
    rec->flags = new_flags;
    otel__record_clear_caps(rec);
    d->scope = &t->scope;
    atomic_store_explicit(&rec->state, OTEL__REC_RECORDING, memory_order_relaxed);
    OTEL__TCOUNT(th, spans_sampled, 1);
    return (otel_span){ &rec->impl, atomic_load_explicit(&rec->gen, memory_order_relaxed) };
#else
    return start_recording_slow(t, name, parent, NULL, copy_name, kind);
#endif
}

/* start_span with options: those that name only the kind or mark the name static take the
 * short path too (a string literal as the name is then not copied); everything else goes to
 * start_span_common. */
static __attribute__((noinline)) otel_span start_span_opts(otel_tracer *tracer, otel_str name,
                                                           const otel_span_start_options *opts,
                                                           const otel_parent *parent)
{
    struct otel__tracer *t = (struct otel__tracer *)tracer;
    struct otel__provider *p = t->provider;
    struct otel__thread *th = OTEL__TLS_ADDR(otel__thread_tls);
    if (opts->parent || opts->start_time_ns || opts->attrs || opts->links ||
        (opts->flags & ~(uint32_t)OTEL_SPAN_START_STATIC_NAME) ||
        (unsigned)opts->kind > OTEL_SPAN_KIND_CONSUMER || !p->fast_start || th->serial != p->pool.serial ||
        atomic_load_explicit(&p->shut_down, memory_order_relaxed) || parent->trace_state)
        return start_span_common(tracer, name, opts, parent);
    bool copy_name = !(opts->flags & OTEL_SPAN_START_STATIC_NAME);
    if (!otel__span_context_valid(&parent->span_context))
        return start_short(t, p, th, name, parent, false, opts, copy_name, opts->kind);
    return start_short(t, p, th, name, parent, true, opts, copy_name, opts->kind);
}

/* The common case, kept short and with no call on the way (so with few registers to save): no
 * start options, a parent without a trace state, the built-in id generator, a built-in sampler
 * that needs only the parent, no on_start, TSC ticks with a fresh anchor, a record at hand that
 * takes the name (in its name buffer, or a longer one in its arena's first chunk). Everything else goes on in
 * a call at the end (mostly a tail call): before the first change, to start_span_common (which handles all of
 * it), after taking the record, to start_recording_slow; a dropped span without a record at hand to
 * start_dropped. */
static otel_span start_span(otel_tracer *tracer, otel_str name, const otel_span_start_options *opts,
                            const otel_parent *parent)
{
    struct otel__tracer *t = (struct otel__tracer *)tracer;
    struct otel__provider *p = t->provider;
    /* |parent| may point into this thread's context stack, which a log handler could change:
     * this path runs nothing that logs (the thread is bound to the provider already, the
     * generator is seeded for this process, checked where it is used); the first span of a
     * thread takes the general path, the first span after fork (an unseeded generator) the
     * general path or start_recording_slow, which copy the parent first. */
    struct otel__thread *th = OTEL__TLS_ADDR(otel__thread_tls);
    /* |parent| is never NULL (otel/impl.h; the API's callers pass the thread's top frame, an
     * empty parent, or a copy). */
    if (__builtin_expect(opts != NULL, 0))
        return start_span_opts(tracer, name, opts, parent);
    if (__builtin_expect(!p->fast_start || th->serial != p->pool.serial ||
                             atomic_load_explicit(&p->shut_down, memory_order_relaxed) || parent->trace_state,
                         0))
        return start_span_common(tracer, name, NULL, parent);
    /* Root spans and children each get their own copy of the rest (start_short). */
    if (!otel__span_context_valid(&parent->span_context))
        return start_short(t, p, th, name, parent, false, NULL, true, OTEL_SPAN_KIND_INTERNAL);
    return start_short(t, p, th, name, parent, true, NULL, true, OTEL_SPAN_KIND_INTERNAL);
}

static bool tracer_enabled(otel_tracer *tracer)
{
    struct otel__tracer *t = (struct otel__tracer *)tracer;
    return !t->provider->disabled && !atomic_load_explicit(&t->provider->shut_down, memory_order_relaxed);
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
