/* The span record pool of a provider, and each thread's view of it. Records are allocated in
 * cache-line-aligned slabs and freed only with the provider, so a stale span handle always
 * points at valid memory. Each thread keeps a small cache of free records for the provider it
 * last used: starting a span takes from it with no lock, and the cache trades batches with the
 * provider's shared list under a mutex, so the mutex is taken about once per OTEL__POOL_BATCH
 * spans. Records may come back on any thread (the exporter's, typically); they join that
 * thread's cache and flow back in batches. The same per-thread binding gives each thread its own
 * counter slot, so counting spans writes no cache line another thread writes.
 *
 * A thread cache names its pool by a serial number that is never reused, so a cache left over
 * from a destroyed provider is recognised and abandoned (its records died with their slabs).
 * Pools live in a process-wide registry, which lets a thread moving to another provider hand its
 * cache back to the old one only if that one still exists, and lets fork() take every pool lock
 * so the child never inherits a lock held by a thread that does not exist there. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "log_internal.h"
#include "mem.h"
#include "provider.h"
#include "span.h"

#define CACHE_LINE 64u

struct otel__pool_slab {
    struct otel__pool_slab *next;
    size_t count;
    struct otel__span_record *recs; /* |count| records, cache-line aligned, in this block */
};

__thread struct otel__thread otel__thread_tls __attribute__((tls_model("initial-exec")));

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct otel__pool *registry;
static _Atomic uint64_t next_serial = 1;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;
static bool cache_key_ok;

/* Pushes the magazine |head| (|count| records linked by next_free) on |pool|'s shared stack; the
 * caller holds pool->lock. */
static void push_magazine_locked(struct otel__pool *pool, struct otel__span_record *head, uint32_t count)
{
    if (!head)
        return;
    head->next_magazine = pool->magazines;
    head->magazine_count = count;
    pool->magazines = head;
    pool->magazine_count++;
}

/* Hands the calling thread's records and counter slot back to its pool if that pool still
 * exists. */
static void cache_give_back(struct otel__thread *t)
{
    if (t->serial) {
        pthread_mutex_lock(&registry_lock);
        for (struct otel__pool *p = registry; p; p = p->registry_next) {
            if (p->serial == t->serial) {
                pthread_mutex_lock(&p->lock);
                push_magazine_locked(p, t->head, t->count);
                push_magazine_locked(p, t->spare, OTEL__POOL_MAGAZINE);
                for (struct otel__rec_array *a = t->array, *n; a; a = n) {
                    n = a->next;
                    a->next = p->arrays;
                    p->arrays = a;
                }
                if (t->slot < OTEL__TSTATS_SLOTS)
                    p->tstats_used[t->slot] = false;
                pthread_mutex_unlock(&p->lock);
                break;
            }
        }
        pthread_mutex_unlock(&registry_lock);
    }
    t->head = NULL;
    t->count = 0;
    t->spare = NULL;
    t->array = NULL;
    t->inbox = NULL;
    t->serial = 0;
    t->stats = NULL;
    t->slot = OTEL__TSTATS_SLOTS;
}

void otel__thread_release(void)
{
    cache_give_back(OTEL__TLS_ADDR(otel__thread_tls));
}

static void cache_key_destructor(void *arg)
{
    (void)arg;
    cache_give_back(OTEL__TLS_ADDR(otel__thread_tls));
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct otel__pool *p = registry; p; p = p->registry_next) {
        pthread_mutex_lock(&p->provider->tracers_lock);
        pthread_mutex_lock(&p->lock);
    }
}

static void atfork_parent(void)
{
    for (struct otel__pool *p = registry; p; p = p->registry_next) {
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_unlock(&p->provider->tracers_lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* In the child only the forking thread exists: the counter slots of the others are free again
 * (their counts stay in the sums), and their cached records are lost with them. */
static void atfork_child(void)
{
    struct otel__thread *t = OTEL__TLS_ADDR(otel__thread_tls);
    for (struct otel__pool *p = registry; p; p = p->registry_next) {
        for (uint32_t i = 0; i < OTEL__TSTATS_SLOTS; i++)
            p->tstats_used[i] = t->serial == p->serial && t->slot == i;
    }
    atfork_parent();
}

static void global_init(void)
{
    cache_key_ok = pthread_key_create(&cache_key, cache_key_destructor) == 0;
    if (!cache_key_ok)
        otel__log(OTEL_LOG_WARN, "span pool: no thread-exit hook; records cached by exiting "
                                 "threads stay unused until the provider is destroyed");
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

struct otel__thread *otel__thread_bind_slow(struct otel__pool *pool)
{
    struct otel__thread *t = OTEL__TLS_ADDR(otel__thread_tls);
    if (t->serial == pool->serial)
        return t;
    cache_give_back(t);
    pthread_mutex_lock(&pool->lock);
    uint32_t slot = OTEL__TSTATS_SLOTS;
    for (uint32_t i = 0; i < OTEL__TSTATS_SLOTS; i++) {
        if (!pool->tstats_used[i]) {
            pool->tstats_used[i] = true;
            slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    t->slot = slot;
    t->stats = &pool->tstats[slot];
    t->serial = pool->serial;
    if (!t->key_armed && cache_key_ok) {
        /* Any non-NULL value makes the destructor run at thread exit. */
        pthread_setspecific(cache_key, t);
        t->key_armed = true;
    }
    return t;
}

otel_status otel__pool_init(struct otel__pool *pool, struct otel__provider *provider)
{
    pthread_once(&global_once, global_init);
    memset(pool, 0, sizeof(*pool));
    pool->tstats_block = otel__calloc(OTEL__TSTATS_SLOTS + 2, sizeof(struct otel__tstats));
    if (!pool->tstats_block)
        return OTEL_ERR_NOMEM;
    uintptr_t at = ((uintptr_t)pool->tstats_block + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1);
    pool->tstats = (struct otel__tstats *)at;
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        otel__free(pool->tstats_block);
        return OTEL_ERR_NOMEM;
    }
    pool->provider = provider;
    pool->serial = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
    pthread_mutex_lock(&registry_lock);
    pool->registry_next = registry;
    registry = pool;
    pthread_mutex_unlock(&registry_lock);
    return OTEL_OK;
}

void otel__pool_destroy(struct otel__pool *pool)
{
    pthread_mutex_lock(&registry_lock);
    for (struct otel__pool **link = &registry; *link; link = &(*link)->registry_next) {
        if (*link == pool) {
            *link = pool->registry_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    /* Other threads' caches are abandoned lazily (their serial is no longer registered). */
    struct otel__thread *t = OTEL__TLS_ADDR(otel__thread_tls);
    if (t->serial == pool->serial) {
        t->head = NULL;
        t->count = 0;
        t->spare = NULL;
        t->array = NULL;
        t->inbox = NULL;
        t->serial = 0;
        t->stats = NULL;
    }
    struct otel__pool_slab *s = pool->slabs;
    while (s) {
        struct otel__pool_slab *next = s->next;
        for (size_t i = 0; i < s->count; i++)
            otel__span_record_cleanup(&s->recs[i]);
        otel__free(s);
        s = next;
    }
    pool->slabs = NULL;
    pool->magazines = NULL;
    /* Threads' caches may still point at some arrays; they are never used again (the serial
     * is gone), so all of them go. */
    struct otel__rec_array *a = pool->all_arrays;
    while (a) {
        struct otel__rec_array *next = a->all_next;
        otel__free(a);
        a = next;
    }
    pool->all_arrays = NULL;
    pool->arrays = NULL;
    pool->empty_arrays = NULL;
    pthread_mutex_destroy(&pool->lock);
    otel__free(pool->tstats_block);
    pool->tstats_block = NULL;
    pool->tstats = NULL;
}

static struct otel__pool_slab *slab_new(struct otel__pool *pool)
{
    size_t n = OTEL__POOL_SLAB_RECORDS;
    struct otel__pool_slab *slab =
        otel__calloc(1, sizeof(*slab) + CACHE_LINE + n * sizeof(struct otel__span_record));
    if (!slab)
        return NULL;
    uintptr_t at = ((uintptr_t)(slab + 1) + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1);
    slab->recs = (struct otel__span_record *)at;
    slab->count = n;
    const otel_resource *resource = pool->provider->resource;
    for (size_t i = 0; i < n; i++) {
        struct otel__span_record *r = &slab->recs[i];
        r->impl.ops = &otel__span_ops;
        atomic_init(&r->gen, 1);
        atomic_init(&r->lock, 0);
        atomic_init(&r->state, OTEL__REC_FREE);
        atomic_init(&r->box.refs, 0); /* no OTEL__REFS_CLONE: a record */
        r->provider = pool->provider;
        /* Constant for the provider's lifetime: set once here, not at every start. */
        r->box.data.resource = resource;
    }
    return slab;
}

/* Makes |m| (|count| records) the thread's magazine in use and takes its first record. */
static struct otel__span_record *load_and_take(struct otel__thread *t, struct otel__span_record *m,
                                               uint32_t count)
{
    t->head = m->next_free;
    t->count = count - 1;
    if (t->head)
        __builtin_prefetch(t->head, 1, 3);
    return m;
}

bool otel__pool_claim_returned(struct otel__span_record *r)
{
    uint32_t refs = atomic_load_explicit(&r->box.refs, memory_order_acquire);
    if (refs != 1u && atomic_fetch_sub_explicit(&r->box.refs, 1u, memory_order_acq_rel) != 1u)
        return false; /* an exporter still holds it: its release recycles it */
    if (r->flags & OTEL__REC_HAS_REFS)
        otel__span_record_release_refs(r);
    if (r->flags & OTEL__REC_BIG_ARENA)
        otel__arena_reset_slow(&r->arena); /* frees the chunks beyond the keep limit */
    r->flags = 0;
    return true;
}

/* The next record of the calling thread's returned array, or NULL when it is used up. */
static struct otel__span_record *take_from_array(struct otel__thread *t)
{
    struct otel__rec_array *a = t->array;
    while (a && a->count) {
        struct otel__span_record *r = a->recs[--a->count];
        if (otel__pool_claim_returned(r))
            return r;
    }
    return NULL;
}

/* Moves to the next returned array: the thread's own (its inbox), else NULL. The used-up one
 * goes back to the pool empty. */
static bool next_own_array(struct otel__pool *pool, struct otel__thread *t)
{
    struct otel__rec_array *a = t->array;
    if (a && a->next) {
        /* More arrays came with the last inbox. */
        t->array = a->next;
    } else if (t->inbox && atomic_load_explicit(t->inbox, memory_order_relaxed)) {
        t->array = atomic_exchange_explicit(t->inbox, NULL, memory_order_acquire);
    } else {
        return false;
    }
    if (a) {
        a->next = NULL;
        otel__pool_array_put(pool, a);
    }
    return true;
}

struct otel__span_record *otel__pool_take_slow(struct otel__pool *pool, struct otel__thread *t)
{
    for (;;) {
        struct otel__span_record *r = take_from_array(t);
        if (r)
            return r;
        if (next_own_array(pool, t))
            continue;
        if (t->spare) {
            struct otel__span_record *m = t->spare;
            t->spare = NULL;
            return load_and_take(t, m, OTEL__POOL_MAGAZINE);
        }
        /* From the shared pool: a magazine, else a returned array (the used-up one goes back
         * empty, for the consumer to fill again). */
        pthread_mutex_lock(&pool->lock);
        struct otel__span_record *m = pool->magazines;
        uint32_t count = 0;
        if (m) {
            pool->magazines = m->next_magazine;
            pool->magazine_count--;
            count = (uint32_t)m->magazine_count;
        } else if (pool->arrays) {
            if (t->array) {
                t->array->next = pool->empty_arrays;
                pool->empty_arrays = t->array;
            }
            t->array = pool->arrays;
            pool->arrays = t->array->next;
            t->array->next = NULL;
        }
        pthread_mutex_unlock(&pool->lock);
        if (m)
            return load_and_take(t, m, count);
        if (!t->array || !t->array->count)
            break;
    }

    struct otel__pool_slab *slab = slab_new(pool);
    if (!slab)
        return NULL;
    /* recs[0] for the caller, recs[1..] as the magazine in use, the rest as the spare. */
    struct otel__span_record *head = NULL;
    size_t split = slab->count > OTEL__POOL_MAGAZINE ? slab->count - OTEL__POOL_MAGAZINE : slab->count;
    for (size_t i = split; i-- > 1;) {
        slab->recs[i].next_free = head;
        head = &slab->recs[i];
    }
    t->head = head;
    t->count = (uint32_t)(split - 1);
    struct otel__span_record *spare = NULL;
    for (size_t i = slab->count; i-- > split;) {
        slab->recs[i].next_free = spare;
        spare = &slab->recs[i];
    }
    t->spare = spare;
    pthread_mutex_lock(&pool->lock);
    slab->next = pool->slabs;
    pool->slabs = slab;
    pool->slab_count++;
    pthread_mutex_unlock(&pool->lock);
    return &slab->recs[0];
}

void otel__pool_put_slow(struct otel__pool *pool, struct otel__thread *t)
{
    /* The magazine in use is full: it becomes the spare, and an older spare goes to the
     * shared stack so one thread (the exporter's) does not hoard what others need. */
    struct otel__span_record *full = t->head;
    t->head = NULL;
    t->count = 0;
    if (!t->spare) {
        t->spare = full;
        return;
    }
    struct otel__span_record *older = t->spare;
    t->spare = full;
    pthread_mutex_lock(&pool->lock);
    push_magazine_locked(pool, older, OTEL__POOL_MAGAZINE);
    pthread_mutex_unlock(&pool->lock);
}

struct otel__rec_array *otel__pool_array_get(struct otel__pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    struct otel__rec_array *a = pool->empty_arrays;
    if (a)
        pool->empty_arrays = a->next;
    pthread_mutex_unlock(&pool->lock);
    if (!a) {
        a = otel__malloc(sizeof(*a));
        if (!a)
            return NULL;
        pthread_mutex_lock(&pool->lock);
        a->all_next = pool->all_arrays;
        pool->all_arrays = a;
        pthread_mutex_unlock(&pool->lock);
    }
    a->next = NULL;
    a->count = 0;
    return a;
}

void otel__pool_array_put(struct otel__pool *pool, struct otel__rec_array *a)
{
    pthread_mutex_lock(&pool->lock);
    if (a->count) {
        /* Oldest last: threads take the newest first, whose lines are likeliest in a cache. */
        a->next = pool->arrays;
        pool->arrays = a;
    } else {
        a->next = pool->empty_arrays;
        pool->empty_arrays = a;
    }
    pthread_mutex_unlock(&pool->lock);
}

size_t otel__pool_record_count(struct otel__pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->slab_count * OTEL__POOL_SLAB_RECORDS;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void otel__pool_sum_stats(struct otel__pool *pool, otel_tracer_provider_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i <= OTEL__TSTATS_SLOTS; i++) {
        const struct otel__tstats *s = &pool->tstats[i];
        uint64_t sampled = atomic_load_explicit(&s->spans_sampled, memory_order_relaxed);
        uint64_t record_only = atomic_load_explicit(&s->spans_record_only, memory_order_relaxed);
        uint64_t not_recorded = atomic_load_explicit(&s->spans_not_recorded, memory_order_relaxed);
        out->spans_started += sampled + record_only + not_recorded;
        out->spans_sampled += sampled;
        out->spans_recorded += sampled + record_only;
        out->spans_ended += atomic_load_explicit(&s->spans_ended, memory_order_relaxed);
        out->spans_dropped += atomic_load_explicit(&s->spans_dropped, memory_order_relaxed);
        out->attrs_dropped += atomic_load_explicit(&s->attrs_dropped, memory_order_relaxed);
        out->events_dropped += atomic_load_explicit(&s->events_dropped, memory_order_relaxed);
        out->links_dropped += atomic_load_explicit(&s->links_dropped, memory_order_relaxed);
    }
}
