/* Contexts and the current context of each thread. A context is an immutable, reference-counted
 * node (one key/value, a span slot or a baggage slot) on top of a retained parent; each node also
 * caches the nearest span slot and baggage of its chain, so those lookups never walk. The current
 * context is a per-thread stack of frames: attaching a context pushes a reference to it, making a
 * span current pushes the span's handle and context without allocating a node (one is built only
 * if someone asks for the current context as an object). */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "api_internal.h"
#include "context_internal.h"
#include "log_internal.h"
#include "block_cache.h"
#include "mem.h"

/* ---------------------------------------------------------------------------------------------
 * Context nodes
 * ------------------------------------------------------------------------------------------- */

enum ctx_kind {
    CTX_VALUE,
    CTX_SPAN,
    CTX_BAGGAGE,
};

struct otel_context {
    _Atomic size_t refs;
    enum ctx_kind kind;
    struct otel_context *parent; /* retained */
    /* CTX_VALUE */
    const otel_context_key *key;
    void *value;
    void (*destroy)(void *value);
    /* The nearest span slot and baggage of the chain. A CTX_SPAN node owns |ts| and a
     * CTX_BAGGAGE node owns |baggage|; other nodes borrow them from an ancestor, which they
     * keep alive through |parent|. */
    otel_span span;
    otel_span_context sc;
    const otel_trace_state *ts;
    const otel_baggage *baggage;
    /* For a span slot that holds only a span context (extracted from a carrier): the
     * non-recording span that wraps it, so otel_context_get_span() has a span to return. Its
     * handle lives as long as this node. */
    struct otel_span_impl wrap;
};

/* Operations of the wrapping span: it reads its node's span context and records nothing. */
static otel_context *wrap_node(struct otel_span_impl *impl)
{
    return (otel_context *)((char *)impl - offsetof(struct otel_context, wrap));
}
static void wrap_set_attrs(struct otel_span_impl *s, uint64_t g, const otel_attr *a, size_t n)
{
    (void)s, (void)g, (void)a, (void)n;
}
static void wrap_add_event(struct otel_span_impl *s, uint64_t g, otel_str name, int64_t t, const otel_attr *a,
                           size_t n)
{
    (void)s, (void)g, (void)name, (void)t, (void)a, (void)n;
}
static void wrap_add_link(struct otel_span_impl *s, uint64_t g, const otel_link *l)
{
    (void)s, (void)g, (void)l;
}
static void wrap_set_status(struct otel_span_impl *s, uint64_t g, otel_span_status_code c, otel_str d)
{
    (void)s, (void)g, (void)c, (void)d;
}
static void wrap_update_name(struct otel_span_impl *s, uint64_t g, otel_str name)
{
    (void)s, (void)g, (void)name;
}
static bool wrap_is_recording(struct otel_span_impl *s, uint64_t g)
{
    (void)s, (void)g;
    return false;
}
static bool wrap_get_context(struct otel_span_impl *s, uint64_t g, otel_span_context *out)
{
    (void)g;
    *out = wrap_node(s)->sc;
    return true;
}
static otel_trace_state *wrap_get_trace_state(struct otel_span_impl *s, uint64_t g)
{
    (void)g;
    return otel_trace_state_retain(wrap_node(s)->ts);
}
static void wrap_end(struct otel_span_impl *s, uint64_t g, int64_t t)
{
    (void)s, (void)g, (void)t;
}

static const struct otel_span_ops wrap_ops = {
    .set_attrs = wrap_set_attrs,
    .add_event = wrap_add_event,
    .add_link = wrap_add_link,
    .set_status = wrap_set_status,
    .update_name = wrap_update_name,
    .is_recording = wrap_is_recording,
    .get_context = wrap_get_context,
    .get_trace_state = wrap_get_trace_state,
    .end = wrap_end,
};

/* A node of |kind| over |parent| with the parent's cached slots; NULL when out of memory. */
static otel_context *node_new(const otel_context *parent, enum ctx_kind kind)
{
    /* From the per-thread block cache (a server extracts and drops one node per request), and
     * not zeroed: every field is set here. */
    otel_context *n = otel__cache_take(sizeof(*n));
    if (!n)
        return NULL;
    atomic_init(&n->refs, 1);
    n->kind = kind;
    n->parent = otel_context_retain(parent);
    n->key = NULL;
    n->value = NULL;
    n->destroy = NULL;
    n->wrap.ops = NULL;
    if (parent) {
        n->span = parent->span;
        n->sc = parent->sc;
        n->ts = parent->ts;
        n->baggage = parent->baggage;
    } else {
        n->span = OTEL_SPAN_NONE;
        memset(&n->sc, 0, sizeof(n->sc));
        n->ts = NULL;
        n->baggage = NULL;
    }
    return n;
}

/* A span-slot node; takes ownership of |ts| only on success. */
static otel_context *node_new_span(const otel_context *parent, otel_span span, const otel_span_context *sc,
                                   otel_trace_state *ts)
{
    otel_context *n = node_new(parent, CTX_SPAN);
    if (!n)
        return NULL;
    n->span = span;
    n->sc = *sc;
    n->ts = ts;
    return n;
}

otel_context *otel_context_retain(const otel_context *ctx)
{
    otel_context *m = (otel_context *)ctx;
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void otel_context_release(const otel_context *ctx)
{
    otel_context *n = (otel_context *)ctx;
    /* A loop rather than recursion: a chain may be thousands of nodes long. A count of one
     * is the caller's own reference (nobody else can retain the node meanwhile): the last
     * release skips the atomic read-modify-write, which costs more than the rest of it. */
    while (n && (atomic_load_explicit(&n->refs, memory_order_acquire) == 1 ||
                 atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1)) {
        otel_context *parent = n->parent;
        switch (n->kind) {
        case CTX_VALUE:
            if (n->destroy)
                n->destroy(n->value);
            break;
        case CTX_SPAN:
            otel_trace_state_release(n->ts);
            break;
        case CTX_BAGGAGE:
            otel_baggage_release(n->baggage);
            break;
        }
        otel__cache_give(n, sizeof(*n));
        n = parent;
    }
}

otel_status otel_context_with_value(const otel_context *parent, const otel_context_key *key, void *value,
                                    void (*destroy)(void *value), otel_context **out)
{
    if (!key || !out)
        return OTEL_ERR_INVALID_ARG;
    otel_context *n = node_new(parent, CTX_VALUE);
    if (!n)
        return OTEL_ERR_NOMEM;
    n->key = key;
    n->value = value;
    n->destroy = destroy;
    *out = n;
    return OTEL_OK;
}

void *otel_context_get_value(const otel_context *ctx, const otel_context_key *key)
{
    for (const otel_context *n = ctx; n && key; n = n->parent)
        if (n->kind == CTX_VALUE && n->key == key)
            return n->value;
    return NULL;
}

otel_status otel_context_with_span(const otel_context *parent, otel_span span, otel_context **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    otel_span_context sc;
    otel_trace_state *ts;
    otel__span_snapshot(span, &sc, &ts);
    otel_context *n = node_new_span(parent, span, &sc, ts);
    if (!n) {
        otel_trace_state_release(ts);
        return OTEL_ERR_NOMEM;
    }
    *out = n;
    return OTEL_OK;
}

otel_status otel_context_with_span_context(const otel_context *parent, const otel_span_context *span_context,
                                           const otel_trace_state *trace_state, otel_context **out)
{
    if (!span_context || !out)
        return OTEL_ERR_INVALID_ARG;
    return otel__context_with_span_context_owned(parent, span_context, otel_trace_state_retain(trace_state),
                                                 out);
}

otel_status otel__context_with_span_context_owned(const otel_context *parent,
                                                  const otel_span_context *span_context,
                                                  otel_trace_state *trace_state, otel_context **out)
{
    if (!span_context || !out) {
        otel_trace_state_release(trace_state);
        return OTEL_ERR_INVALID_ARG;
    }
    otel_context *n = node_new_span(parent, OTEL_SPAN_NONE, span_context, trace_state);
    if (!n) {
        otel_trace_state_release(trace_state);
        return OTEL_ERR_NOMEM;
    }
    if (otel_span_context_is_valid(span_context)) {
        n->wrap.ops = &wrap_ops;
        n->span = (otel_span){ &n->wrap, 1 };
    }
    *out = n;
    return OTEL_OK;
}

otel_span otel_context_get_span(const otel_context *ctx)
{
    return ctx ? ctx->span : OTEL_SPAN_NONE;
}

otel_span_context otel_context_get_span_context(const otel_context *ctx)
{
    if (ctx)
        return ctx->sc;
    return (otel_span_context){ 0 };
}

const otel_trace_state *otel_context_get_trace_state(const otel_context *ctx)
{
    return ctx ? ctx->ts : NULL;
}

otel_status otel_context_with_baggage(const otel_context *parent, const otel_baggage *baggage,
                                      otel_context **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    otel_context *n = node_new(parent, CTX_BAGGAGE);
    if (!n)
        return OTEL_ERR_NOMEM;
    n->baggage = otel_baggage_retain(baggage);
    *out = n;
    return OTEL_OK;
}

const otel_baggage *otel_context_get_baggage(const otel_context *ctx)
{
    return ctx ? ctx->baggage : NULL;
}

void otel__context_parent_from(const otel_context *ctx, otel_parent *out)
{
    if (!ctx) {
        memset(out, 0, sizeof(*out));
        return;
    }
    out->span_context = ctx->sc;
    out->trace_state = ctx->ts;
    out->span = ctx->span;
    out->context = ctx;
}

/* ---------------------------------------------------------------------------------------------
 * The per-thread stack of current frames
 *
 * Tokens are (depth << 32 | serial): |depth| (1-based) finds the frame, |serial| proves the
 * token belongs to it. Each thread starts its serials at a different point of the 32-bit space
 * (spread by a multiplicative hash of a thread counter), so another thread's token practically
 * never matches a frame of this one.
 * ------------------------------------------------------------------------------------------- */

__thread struct otel__tls_stack otel__t_stack __attribute__((tls_model("initial-exec")));

static pthread_key_t g_stack_key;
static pthread_once_t g_stack_key_once = PTHREAD_ONCE_INIT;
static bool g_stack_key_ok;
static _Atomic uint32_t g_thread_seq;

/* Pops the top frame. The frame leaves the stack before its references are released, because
 * releasing may run user destroy callbacks that use the stack. */
static inline void pop_top(struct otel__tls_stack *s)
{
    struct otel__frame *f = &s->frames[--s->depth];
    otel_context *ctx = f->ctx;
    otel_context *materialized = f->is_span ? FRAME_CTX(f) : NULL;
    otel_trace_state *ts = f->is_span ? FRAME_TS(f) : NULL;
    if (ctx)
        otel_context_release(ctx);
    if (materialized)
        otel_context_release(materialized);
    if (ts)
        otel_trace_state_release(ts);
}

static void stack_destroy(void *arg)
{
    struct otel__tls_stack *s = arg;
    while (s->depth > 0)
        pop_top(s);
    otel__free(s->frames);
    s->frames = NULL;
    s->cap = 0;
    s->registered = false;
}

static void make_stack_key(void)
{
    g_stack_key_ok = pthread_key_create(&g_stack_key, stack_destroy) == 0;
}

/* Makes room for one more frame. Allocates only when the stack outgrows what it had. */
static bool stack_reserve(struct otel__tls_stack *s)
{
    if (s->depth < s->cap)
        return true;
    if (s->cap == 0 && s->serial == 0) {
        uint32_t seq = atomic_fetch_add_explicit(&g_thread_seq, 1, memory_order_relaxed) + 1;
        s->serial = seq * UINT32_C(2654435761);
    }
    if (!s->registered) {
        pthread_once(&g_stack_key_once, make_stack_key);
        if (!g_stack_key_ok || pthread_setspecific(g_stack_key, s) != 0) {
            otel__log(OTEL_LOG_ERROR, "cannot register the context stack's thread-exit cleanup");
            return false;
        }
        s->registered = true;
    }
    if (s->cap >= UINT32_MAX / 2)
        return false;
    uint32_t cap = s->cap ? s->cap * 2 : 8;
    struct otel__frame *frames = otel__realloc(s->frames, cap * sizeof(*frames));
    if (!frames)
        return false;
    s->frames = frames;
    s->cap = cap;
    return true;
}

/* Pushes a frame and returns it with its token, or NULL when out of memory. Only the serial is
 * set: the caller sets every other member. */
static inline struct otel__frame *push(struct otel__tls_stack *s, otel_context_token *token)
{
    if (__builtin_expect(s->depth >= s->cap, 0) && !stack_reserve(s))
        return NULL;
    s->serial++;
    if (__builtin_expect(s->serial == 0, 0))
        s->serial = 1;
    struct otel__frame *f = &s->frames[s->depth++];
    f->serial = s->serial;
    *token = ((uint64_t)s->depth << 32) | f->serial;
    return f;
}

static struct otel__frame *top(struct otel__tls_stack *s)
{
    return s->depth ? &s->frames[s->depth - 1] : NULL;
}

/* The baggage a new frame on top of |s| sees. */
static const otel_baggage *top_baggage(struct otel__tls_stack *s)
{
    struct otel__frame *f = top(s);
    if (!f)
        return NULL;
    return f->is_span ? f->baggage : otel_context_get_baggage(f->ctx);
}

otel_context_token otel_context_attach(const otel_context *ctx)
{
    struct otel__tls_stack *s = &otel__t_stack;
    otel_context_token token;
    struct otel__frame *f = push(s, &token);
    if (!f) {
        OTEL__LOG(OTEL_LOG_ERROR, "otel_context_attach: out of memory; context not attached");
        return 0;
    }
    f->ctx = otel_context_retain(ctx);
    otel__context_parent_from(f->ctx, &f->p); /* borrowed from f->ctx */
    f->baggage = NULL;
    f->is_span = false;
    return token;
}

otel_context_token otel_span_make_current(otel_span span)
{
    struct otel__tls_stack *s = &otel__t_stack;
    /* The span's ops run first, outside the stack: an implementation may attach contexts. */
    otel_span_context sc;
    otel_trace_state *ts;
    otel__span_snapshot(span, &sc, &ts);
    const otel_baggage *baggage = top_baggage(s);
    otel_context_token token;
    struct otel__frame *f = push(s, &token);
    if (!f) {
        if (ts)
            otel_trace_state_release(ts);
        OTEL__LOG(OTEL_LOG_ERROR, "otel_span_make_current: out of memory; span not made current");
        return 0;
    }
    f->is_span = true;
    f->ctx = NULL;
    f->baggage = baggage;
    f->p.span = span;
    f->p.context = NULL;
    f->p.trace_state = ts;
    f->p.span_context = sc;
    return token;
}

static __attribute__((noinline)) otel_status detach_slow(struct otel__tls_stack *s, otel_context_token token)
{
    uint32_t depth = (uint32_t)(token >> 32);
    uint32_t serial = (uint32_t)token;
    if (depth == 0 || depth > s->depth || s->frames[depth - 1].serial != serial) {
        OTEL__LOG(OTEL_LOG_WARN,
                  "otel_context_detach: token %#llx is not attached on this thread (already "
                  "detached, or from another thread); nothing changed",
                  (unsigned long long)token);
        return OTEL_ERR_INVALID_ARG;
    }
    uint32_t above = s->depth - depth;
    while (s->depth >= depth)
        pop_top(s);
    if (above) {
        OTEL__LOG(OTEL_LOG_WARN,
                  "otel_context_detach: out of order; %u context(s) attached later were "
                  "detached too",
                  (unsigned)above);
        return OTEL_ERR_INVALID_ARG;
    }
    return OTEL_OK;
}

otel_status otel_context_detach(otel_context_token token)
{
    struct otel__tls_stack *s = &otel__t_stack;
    uint32_t depth = (uint32_t)(token >> 32);
    /* The common case inline, with no call: the top frame, a span frame that holds no reference
     * (no trace state, no context object built for it). */
    if (__builtin_expect(depth == s->depth && depth != 0, 1)) {
        const struct otel__frame *f = &s->frames[depth - 1];
        if (__builtin_expect(f->serial == (uint32_t)token && f->is_span && !f->p.trace_state && !f->p.context,
                             1)) {
            s->depth = depth - 1;
            return OTEL_OK;
        }
    }
    return detach_slow(s, token);
}

/* Builds the context objects of span frames up to and including frame |i|, bottom-up and
 * without recursion. Returns false when out of memory. */
static bool materialize(struct otel__tls_stack *s, uint32_t i)
{
    uint32_t j = i;
    while (j > 0 && s->frames[j - 1].is_span && !s->frames[j - 1].p.context)
        j--;
    for (uint32_t k = j; k <= i; k++) {
        struct otel__frame *f = &s->frames[k];
        if (!f->is_span || f->p.context)
            continue;
        const otel_context *base = NULL;
        if (k > 0) {
            struct otel__frame *below = &s->frames[k - 1];
            base = below->is_span ? below->p.context : below->ctx;
        }
        otel_trace_state *ts = otel_trace_state_retain(f->p.trace_state);
        f->p.context = node_new_span(base, f->p.span, &f->p.span_context, ts);
        if (!f->p.context) {
            otel_trace_state_release(ts);
            return false;
        }
    }
    return true;
}

otel_context *otel_context_current(void)
{
    struct otel__tls_stack *s = &otel__t_stack;
    struct otel__frame *f = top(s);
    if (!f)
        return NULL;
    if (!f->is_span)
        return otel_context_retain(f->ctx);
    if (materialize(s, s->depth - 1))
        return otel_context_retain(f->p.context);
    /* Out of memory: hand out the nearest context object below, without the span frames. */
    OTEL__LOG(OTEL_LOG_ERROR, "otel_context_current: out of memory; the active span is missing "
                              "from the returned context");
    for (uint32_t k = s->depth; k-- > 0;) {
        struct otel__frame *b = &s->frames[k];
        if (!b->is_span)
            return otel_context_retain(b->ctx);
        if (b->p.context)
            return otel_context_retain(b->p.context);
    }
    return NULL;
}

otel_span otel_span_current(void)
{
    struct otel__frame *f = top(&otel__t_stack);
    if (!f)
        return OTEL_SPAN_NONE;
    return f->is_span ? f->p.span : otel_context_get_span(f->ctx);
}

otel_span_context otel_span_current_context(void)
{
    struct otel__frame *f = top(&otel__t_stack);
    if (!f)
        return (otel_span_context){ 0 };
    return f->is_span ? f->p.span_context : otel_context_get_span_context(f->ctx);
}

const otel_baggage *otel__context_current_baggage(void)
{
    return top_baggage(&otel__t_stack);
}

const otel_parent otel__no_parent;

size_t otel__context_stack_depth(void)
{
    return otel__t_stack.depth;
}
