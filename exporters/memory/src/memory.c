/* The in-memory exporter: a bounded, reference-counted store of deep copies of exported spans,
 * for tests. The program holds one reference and every exporter made from the store holds
 * another, so spans stay readable after the provider (and its record pool) is gone. One mutex
 * guards the list; it is a test tool, not a hot path. */
#include "otel/exporters/memory.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "log_internal.h"
#include "mem.h"

#define DEFAULT_MAX_SPANS 100000

struct otel_memory_exporter {
    _Atomic size_t refs;
    pthread_mutex_t lock;
    /* Guarded by |lock|: */
    otel_span_data **spans;
    size_t count;
    size_t cap;
    uint64_t dropped;
    bool shut_down;
    /* Set at creation: */
    size_t max_spans;
};

otel_status otel_memory_exporter_create(const otel_memory_exporter_options *opts, otel_memory_exporter **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    otel_memory_exporter *m = otel__calloc(1, sizeof(*m));
    if (!m)
        return OTEL_ERR_NOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        otel__free(m);
        return OTEL_ERR_NOMEM;
    }
    atomic_init(&m->refs, 1);
    m->max_spans = opts && opts->max_spans ? opts->max_spans : DEFAULT_MAX_SPANS;
    *out = m;
    return OTEL_OK;
}

static void free_spans(otel_memory_exporter *m)
{
    for (size_t i = 0; i < m->count; i++)
        otel_span_data_free(m->spans[i]);
    otel__free(m->spans);
    m->spans = NULL;
    m->count = 0;
    m->cap = 0;
}

void otel_memory_exporter_release(otel_memory_exporter *m)
{
    if (!m)
        return;
    /* acq_rel rather than release + fence: ThreadSanitizer does not understand fences. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    free_spans(m);
    pthread_mutex_destroy(&m->lock);
    otel__free(m);
}

/* Room for one more span pointer; false when the array cannot grow. */
static bool reserve_one(otel_memory_exporter *m)
{
    if (m->count < m->cap)
        return true;
    size_t cap = m->cap ? m->cap * 2 : 64;
    if (cap > m->max_spans)
        cap = m->max_spans;
    if (cap > SIZE_MAX / sizeof(otel_span_data *))
        return false;
    otel_span_data **p = otel__realloc(m->spans, cap * sizeof(*p));
    if (!p)
        return false;
    m->spans = p;
    m->cap = cap;
    return true;
}

static otel_export_result mem_export(void *user_data, const otel_span_data *const *spans, size_t count,
                                     int64_t timeout_ns)
{
    (void)timeout_ns;
    otel_memory_exporter *m = user_data;
    size_t full = 0, nomem = 0;
    pthread_mutex_lock(&m->lock);
    if (m->shut_down) {
        m->dropped += count;
        pthread_mutex_unlock(&m->lock);
        return OTEL_EXPORT_FAILURE;
    }
    for (size_t i = 0; i < count; i++) {
        if (m->count >= m->max_spans) {
            full++;
            continue;
        }
        otel_span_data *copy = NULL;
        if (!reserve_one(m) || otel_span_data_clone(spans[i], &copy) != OTEL_OK) {
            nomem++;
            continue;
        }
        m->spans[m->count++] = copy;
    }
    m->dropped += full + nomem;
    pthread_mutex_unlock(&m->lock);
    if (full)
        OTEL__LOG(OTEL_LOG_WARN, "memory exporter: full (%zu spans); %zu spans dropped", m->max_spans, full);
    if (nomem)
        OTEL__LOG(OTEL_LOG_ERROR, "memory exporter: out of memory; %zu spans dropped", nomem);
    return full + nomem ? OTEL_EXPORT_FAILURE : OTEL_EXPORT_SUCCESS;
}

static otel_status mem_force_flush(void *user_data, int64_t timeout_ns)
{
    (void)user_data;
    (void)timeout_ns;
    return OTEL_OK; /* nothing is ever pending */
}

/* The flag lives in the store, not in the exporter: a store is meant to serve one pipeline, and
 * after that pipeline shut down it refuses spans as the specification asks of exporters. */
static otel_status mem_shutdown(void *user_data, int64_t timeout_ns)
{
    (void)timeout_ns;
    otel_memory_exporter *m = user_data;
    pthread_mutex_lock(&m->lock);
    m->shut_down = true;
    pthread_mutex_unlock(&m->lock);
    return OTEL_OK;
}

static void mem_destroy(void *user_data)
{
    otel_memory_exporter_release(user_data);
}

otel_span_exporter otel_memory_exporter_as_exporter(otel_memory_exporter *m)
{
    otel_span_exporter e = { 0 };
    if (!m)
        return e; /* no export_spans: a processor refuses it with OTEL_ERR_INVALID_ARG */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    e.export_spans = mem_export;
    e.force_flush = mem_force_flush;
    e.shutdown = mem_shutdown;
    e.destroy = mem_destroy;
    e.user_data = m;
    return e;
}

size_t otel_memory_exporter_count(otel_memory_exporter *m)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    size_t n = m->count;
    pthread_mutex_unlock(&m->lock);
    return n;
}

const otel_span_data *otel_memory_exporter_span(otel_memory_exporter *m, size_t index)
{
    if (!m)
        return NULL;
    pthread_mutex_lock(&m->lock);
    const otel_span_data *s = index < m->count ? m->spans[index] : NULL;
    pthread_mutex_unlock(&m->lock);
    return s;
}

const otel_span_data *otel_memory_exporter_find(otel_memory_exporter *m, otel_str name)
{
    if (!m)
        return NULL;
    const otel_span_data *found = NULL;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->count && !found; i++)
        if (otel_str_eq(m->spans[i]->name, name))
            found = m->spans[i];
    pthread_mutex_unlock(&m->lock);
    return found;
}

uint64_t otel_memory_exporter_dropped(otel_memory_exporter *m)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    uint64_t n = m->dropped;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void otel_memory_exporter_reset(otel_memory_exporter *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    free_spans(m);
    m->dropped = 0;
    pthread_mutex_unlock(&m->lock);
}
