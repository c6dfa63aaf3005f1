/* The span half of the API: each otel_span_* call checks the handle and dispatches through the
 * record's operations table (otel/impl.h), so OTEL_SPAN_NONE costs one branch. Also here: the
 * API's pool of non-recording spans, which carry a span context (a valid parent with no SDK, a
 * span an SDK chose not to record) under the same generation rule as SDK spans. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "api_internal.h"
#include "log_internal.h"
#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------------------------- */

void otel_span_set_attrs(otel_span span, const otel_attr *attrs, size_t count)
{
    if (span.impl && count && attrs && span.impl->ops->set_attrs)
        span.impl->ops->set_attrs(span.impl, span.gen, attrs, count);
}

void otel_span_set_attr(otel_span span, otel_str key, otel_value value)
{
    if (!span.impl || !span.impl->ops->set_attrs)
        return;
    otel_attr attr = { key, value };
    span.impl->ops->set_attrs(span.impl, span.gen, &attr, 1);
}

void otel_span_add_event(otel_span span, otel_str name, int64_t time_ns, const otel_attr *attrs,
                         size_t attr_count)
{
    if (!attrs)
        attr_count = 0;
    if (span.impl && span.impl->ops->add_event)
        span.impl->ops->add_event(span.impl, span.gen, name, time_ns, attrs, attr_count);
}

void otel_span_add_link(otel_span span, const otel_link *link)
{
    if (span.impl && link && span.impl->ops->add_link)
        span.impl->ops->add_link(span.impl, span.gen, link);
}

void otel_span_set_status(otel_span span, otel_span_status_code code, otel_str description)
{
    if (span.impl && span.impl->ops->set_status)
        span.impl->ops->set_status(span.impl, span.gen, code, description);
}

void otel_span_update_name(otel_span span, otel_str name)
{
    if (span.impl && span.impl->ops->update_name)
        span.impl->ops->update_name(span.impl, span.gen, name);
}

/* Attributes record_exception builds on the stack; more than this are copied to the heap. */
#define EXCEPTION_STACK_ATTRS 16

void otel_span_record_exception(otel_span span, otel_str type, otel_str message, otel_str stacktrace,
                                const otel_attr *attrs, size_t attr_count)
{
    if (!span.impl || !span.impl->ops->add_event)
        return;
    if (!attrs)
        attr_count = 0;
    otel_attr stack_attrs[EXCEPTION_STACK_ATTRS];
    otel_attr *all = stack_attrs;
    size_t cap = EXCEPTION_STACK_ATTRS;
    if (attr_count > EXCEPTION_STACK_ATTRS - 3 && attr_count <= SIZE_MAX / sizeof(otel_attr) - 3) {
        otel_attr *heap = otel__malloc((attr_count + 3) * sizeof(*heap));
        if (heap) {
            all = heap;
            cap = attr_count + 3;
        } else {
            OTEL__LOG(OTEL_LOG_WARN,
                      "otel_span_record_exception: out of memory; extra "
                      "attributes beyond the first %d dropped",
                      EXCEPTION_STACK_ATTRS - 3);
        }
    }
    size_t n = 0;
    /* The semantic-convention keys are literals: the SDK need not copy them. */
    if (type.len)
        all[n++] = (otel_attr){ OTEL_STR("exception.type"),
                                { .type = OTEL_VALUE_STR, .flags = OTEL_VALUE_STATIC_KEY, .as.s = type } };
    if (message.len)
        all[n++] = (otel_attr){ OTEL_STR("exception.message"),
                                { .type = OTEL_VALUE_STR, .flags = OTEL_VALUE_STATIC_KEY, .as.s = message } };
    if (stacktrace.len)
        all[n++] =
            (otel_attr){ OTEL_STR("exception.stacktrace"),
                         { .type = OTEL_VALUE_STR, .flags = OTEL_VALUE_STATIC_KEY, .as.s = stacktrace } };
    for (size_t i = 0; i < attr_count && n < cap; i++)
        all[n++] = attrs[i];
    span.impl->ops->add_event(span.impl, span.gen, OTEL_STR("exception"), 0, all, n);
    if (all != stack_attrs)
        otel__free(all);
}

bool otel_span_is_recording(otel_span span)
{
    if (!span.impl || !span.impl->ops->is_recording)
        return false;
    return span.impl->ops->is_recording(span.impl, span.gen);
}

otel_span_context otel_span_get_context(otel_span span)
{
    otel_span_context sc = { 0 };
    if (span.impl && span.impl->ops->get_context && !span.impl->ops->get_context(span.impl, span.gen, &sc))
        memset(&sc, 0, sizeof(sc));
    return sc;
}

otel_trace_state *otel_span_get_trace_state(otel_span span)
{
    if (!span.impl || !span.impl->ops->get_trace_state)
        return NULL;
    return span.impl->ops->get_trace_state(span.impl, span.gen);
}

void otel_span_end(otel_span span)
{
    if (span.impl && span.impl->ops->end)
        span.impl->ops->end(span.impl, span.gen, 0);
}

void otel_span_end_at(otel_span span, int64_t end_time_ns)
{
    if (span.impl && span.impl->ops->end)
        span.impl->ops->end(span.impl, span.gen, end_time_ns);
}

/* ---------------------------------------------------------------------------------------------
 * Non-recording span pool
 *
 * Records live in slabs that are never freed, so a stale handle always points at valid memory;
 * the generation tells a live handle from a stale one. Free records form a lock-free stack of
 * 32-bit record numbers with a 32-bit ABA tag in one 64-bit word. A new slab is added (under a
 * mutex, rarely) only when every record is in use, so the pool stays as large as the most
 * non-recording spans alive at once.
 *
 * The span context is read like a sequence lock: check the generation, copy the words, check
 * the generation again. A stale reader may copy words that a new span is writing, but then the
 * second check fails and the copy is discarded; the words are atomics so that this is not a
 * data race. Only the trace state needs the record's spin lock (a stale reader must not retain
 * it while end releases it), and only when there is one.
 * ------------------------------------------------------------------------------------------- */

#define NR_SLAB_SHIFT 6
#define NR_SLAB_RECORDS (1u << NR_SLAB_SHIFT)
#define NR_MAX_SLABS 16384u /* 1M records alive at once */
#define NR_SC_WORDS ((sizeof(otel_span_context) + 7) / 8)

struct nr_span {
    struct otel_span_impl hdr;
    _Atomic uint64_t gen;
    _Atomic uint64_t sc_words[NR_SC_WORDS]; /* the otel_span_context, bytewise */
    _Atomic(otel_trace_state *) ts;
    atomic_flag lock;      /* guards |ts| against a stale reader retaining it during end */
    _Atomic uint32_t next; /* free list: number + 1 of the next free record; 0 ends it */
    uint32_t number;
};

static struct nr_span *_Atomic g_nr_slabs[NR_MAX_SLABS];
static _Atomic uint64_t g_nr_free; /* tag << 32 | (number + 1) of the top free record */
static pthread_mutex_t g_nr_grow_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_nr_slab_count; /* under g_nr_grow_lock */

static void nr_lock(struct nr_span *r)
{
    while (atomic_flag_test_and_set_explicit(&r->lock, memory_order_acquire))
        sched_yield();
}

static void nr_unlock(struct nr_span *r)
{
    atomic_flag_clear_explicit(&r->lock, memory_order_release);
}

static struct nr_span *nr_record(uint32_t number)
{
    struct nr_span *slab = atomic_load_explicit(&g_nr_slabs[number >> NR_SLAB_SHIFT], memory_order_acquire);
    return &slab[number & (NR_SLAB_RECORDS - 1)];
}

static void nr_push(struct nr_span *r)
{
    uint64_t head = atomic_load_explicit(&g_nr_free, memory_order_relaxed);
    uint64_t next;
    do {
        atomic_store_explicit(&r->next, (uint32_t)head, memory_order_relaxed);
        next = ((head >> 32) + 1) << 32 | (uint64_t)(r->number + 1);
    } while (!atomic_compare_exchange_weak_explicit(&g_nr_free, &head, next, memory_order_release,
                                                    memory_order_relaxed));
}

static struct nr_span *nr_pop(void)
{
    uint64_t head = atomic_load_explicit(&g_nr_free, memory_order_acquire);
    for (;;) {
        uint32_t top = (uint32_t)head;
        if (top == 0)
            return NULL;
        struct nr_span *r = nr_record(top - 1);
        /* |r| may be popped and pushed again by another thread meanwhile; then the tag has
         * changed and the CAS below fails, whatever |next| we read. */
        uint32_t next = atomic_load_explicit(&r->next, memory_order_relaxed);
        uint64_t want = ((head >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&g_nr_free, &head, want, memory_order_acquire,
                                                  memory_order_acquire))
            return r;
    }
}

static const struct otel_span_ops nr_ops;

/* Adds a slab and returns one of its records (the others go to the free list). */
static struct nr_span *nr_grow(void)
{
    struct nr_span *r = NULL;
    pthread_mutex_lock(&g_nr_grow_lock);
    /* Another thread may have grown the pool while this one waited. */
    r = nr_pop();
    if (r || g_nr_slab_count == NR_MAX_SLABS)
        goto out_unlock;
    struct nr_span *slab = otel__calloc(NR_SLAB_RECORDS, sizeof(*slab));
    if (!slab)
        goto out_unlock;
    uint32_t base = g_nr_slab_count << NR_SLAB_SHIFT;
    for (uint32_t i = 0; i < NR_SLAB_RECORDS; i++) {
        slab[i].hdr.ops = &nr_ops;
        atomic_init(&slab[i].gen, 1);
        for (size_t w = 0; w < NR_SC_WORDS; w++)
            atomic_init(&slab[i].sc_words[w], 0);
        atomic_init(&slab[i].ts, NULL);
        atomic_flag_clear(&slab[i].lock);
        atomic_init(&slab[i].next, 0);
        slab[i].number = base + i;
    }
    atomic_store_explicit(&g_nr_slabs[g_nr_slab_count], slab, memory_order_release);
    g_nr_slab_count++;
    for (uint32_t i = 1; i < NR_SLAB_RECORDS; i++)
        nr_push(&slab[i]);
    r = &slab[0];
out_unlock:
    pthread_mutex_unlock(&g_nr_grow_lock);
    return r;
}

otel_span otel_nonrecording_span_create(const otel_span_context *sc, const otel_trace_state *trace_state)
{
    if (!otel_span_context_is_valid(sc))
        return OTEL_SPAN_NONE;
    struct nr_span *r = nr_pop();
    if (!r)
        r = nr_grow();
    if (!r) {
        OTEL__LOG(OTEL_LOG_ERROR, "out of memory for a non-recording span; its context is lost "
                                  "(the child spans start new traces)");
        return OTEL_SPAN_NONE;
    }
    /* The record is ours: its generation already differs from every handle issued before, so
     * stale readers discard whatever they see of these writes. */
    uint64_t words[NR_SC_WORDS] = { 0 };
    memcpy(words, sc, sizeof(*sc));
    /* Release stores pair with the acquire loads in nr_get_context: a reader that sees any of
     * the words below also sees the generation bump of the end that freed this record. (Release
     * and acquire on each word rather than fences: ThreadSanitizer does not model fences.) */
    for (size_t w = 0; w < NR_SC_WORDS; w++)
        atomic_store_explicit(&r->sc_words[w], words[w], memory_order_release);
    atomic_store_explicit(&r->ts, otel_trace_state_retain(trace_state), memory_order_relaxed);
    uint64_t gen = atomic_load_explicit(&r->gen, memory_order_relaxed);
    return (otel_span){ &r->hdr, gen };
}

otel_span otel_span_wrap(const otel_span_context *sc, const otel_trace_state *trace_state)
{
    return otel_nonrecording_span_create(sc, trace_state);
}

bool otel__span_is_nonrecording(otel_span span)
{
    return span.impl && span.impl->ops == &nr_ops;
}

static void nr_set_attrs(struct otel_span_impl *s, uint64_t gen, const otel_attr *a, size_t n)
{
    (void)s, (void)gen, (void)a, (void)n;
}

static void nr_add_event(struct otel_span_impl *s, uint64_t gen, otel_str name, int64_t t, const otel_attr *a,
                         size_t n)
{
    (void)s, (void)gen, (void)name, (void)t, (void)a, (void)n;
}

static void nr_add_link(struct otel_span_impl *s, uint64_t gen, const otel_link *link)
{
    (void)s, (void)gen, (void)link;
}

static void nr_set_status(struct otel_span_impl *s, uint64_t gen, otel_span_status_code code,
                          otel_str description)
{
    (void)s, (void)gen, (void)code, (void)description;
}

static void nr_update_name(struct otel_span_impl *s, uint64_t gen, otel_str name)
{
    (void)s, (void)gen, (void)name;
}

static bool nr_is_recording(struct otel_span_impl *s, uint64_t gen)
{
    (void)s, (void)gen;
    return false;
}

static bool nr_get_context(struct otel_span_impl *s, uint64_t gen, otel_span_context *out)
{
    struct nr_span *r = (struct nr_span *)s;
    if (atomic_load_explicit(&r->gen, memory_order_acquire) != gen)
        return false;
    uint64_t words[NR_SC_WORDS];
    for (size_t w = 0; w < NR_SC_WORDS; w++)
        words[w] = atomic_load_explicit(&r->sc_words[w], memory_order_acquire);
    if (atomic_load_explicit(&r->gen, memory_order_relaxed) != gen)
        return false;
    memcpy(out, words, sizeof(*out));
    return true;
}

static otel_trace_state *nr_get_trace_state(struct otel_span_impl *s, uint64_t gen)
{
    struct nr_span *r = (struct nr_span *)s;
    if (atomic_load_explicit(&r->gen, memory_order_acquire) != gen ||
        !atomic_load_explicit(&r->ts, memory_order_relaxed))
        return NULL;
    otel_trace_state *ts = NULL;
    nr_lock(r);
    if (atomic_load_explicit(&r->gen, memory_order_relaxed) == gen)
        ts = otel_trace_state_retain(atomic_load_explicit(&r->ts, memory_order_relaxed));
    nr_unlock(r);
    return ts;
}

static void nr_end(struct otel_span_impl *s, uint64_t gen, int64_t end_time_ns)
{
    (void)end_time_ns;
    struct nr_span *r = (struct nr_span *)s;
    uint64_t expected = gen;
    /* Exactly one end wins; the handle is dead from here on. */
    if (!atomic_compare_exchange_strong_explicit(&r->gen, &expected, gen + 1, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return;
    otel_trace_state *ts = atomic_load_explicit(&r->ts, memory_order_relaxed);
    if (ts) {
        /* Wait out a stale reader that saw the old generation and is retaining |ts|. */
        nr_lock(r);
        atomic_store_explicit(&r->ts, NULL, memory_order_relaxed);
        nr_unlock(r);
        otel_trace_state_release(ts);
    }
    nr_push(r);
}

static const struct otel_span_ops nr_ops = {
    .set_attrs = nr_set_attrs,
    .add_event = nr_add_event,
    .add_link = nr_add_link,
    .set_status = nr_set_status,
    .update_name = nr_update_name,
    .is_recording = nr_is_recording,
    .get_context = nr_get_context,
    .get_trace_state = nr_get_trace_state,
    .end = nr_end,
};
