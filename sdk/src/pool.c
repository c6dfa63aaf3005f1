/* The span record pool of a provider. Records are allocated in slabs and freed only with the
 * provider, so a stale span handle always points at valid memory. Each thread keeps a small
 * cache of free records for the provider it last used: starting a span takes from it with no
 * lock, and the cache trades batches with the provider's shared list under a mutex, so the mutex
 * is taken about once per OTEL__POOL_BATCH spans. Records may come back on any thread (the
 * exporter's, typically); they join that thread's cache and flow back in batches.
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

struct otel__pool_slab {
    struct otel__pool_slab *next;
    size_t count;
    struct otel__span_record recs[];
};

struct thread_cache {
    uint64_t serial; /* of the pool the records belong to; 0: none */
    struct otel__span_record *head;
    uint32_t count;
    bool key_armed;
};

static _Thread_local struct thread_cache tcache;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct otel__pool *registry;
static _Atomic uint64_t next_serial = 1;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;
static bool cache_key_ok;

/* Moves the |count| records of |head| onto |pool|'s shared list; the caller holds pool->lock. */
static void splice_locked(struct otel__pool *pool, struct otel__span_record *head, uint32_t count)
{
    if (!head)
        return;
    struct otel__span_record *tail = head;
    while (tail->next_free)
        tail = tail->next_free;
    tail->next_free = pool->free_list;
    pool->free_list = head;
    pool->free_count += count;
}

/* Hands the calling thread's cache back to its pool if that pool still exists. */
static void cache_give_back(struct thread_cache *c)
{
    if (c->head) {
        pthread_mutex_lock(&registry_lock);
        for (struct otel__pool *p = registry; p; p = p->registry_next) {
            if (p->serial == c->serial) {
                pthread_mutex_lock(&p->lock);
                splice_locked(p, c->head, c->count);
                pthread_mutex_unlock(&p->lock);
                break;
            }
        }
        pthread_mutex_unlock(&registry_lock);
    }
    c->head = NULL;
    c->count = 0;
    c->serial = 0;
}

static void cache_key_destructor(void *arg)
{
    (void)arg;
    cache_give_back(&tcache);
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct otel__pool *p = registry; p; p = p->registry_next) {
        pthread_mutex_lock(&p->provider->tracers_lock);
        pthread_mutex_lock(&p->lock);
    }
}

static void atfork_release(void)
{
    for (struct otel__pool *p = registry; p; p = p->registry_next) {
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_unlock(&p->provider->tracers_lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

static void global_init(void)
{
    cache_key_ok = pthread_key_create(&cache_key, cache_key_destructor) == 0;
    if (!cache_key_ok)
        otel__log(OTEL_LOG_WARN, "span pool: no thread-exit hook; records cached by exiting "
                                 "threads stay unused until the provider is destroyed");
    pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

/* Makes the calling thread's cache serve |pool|. */
static void cache_bind(struct thread_cache *c, struct otel__pool *pool)
{
    if (c->serial == pool->serial)
        return;
    cache_give_back(c);
    c->serial = pool->serial;
    if (!c->key_armed && cache_key_ok) {
        /* Any non-NULL value makes the destructor run at thread exit. */
        pthread_setspecific(cache_key, c);
        c->key_armed = true;
    }
}

otel_status otel__pool_init(struct otel__pool *pool, struct otel__provider *provider)
{
    pthread_once(&global_once, global_init);
    memset(pool, 0, sizeof(*pool));
    if (pthread_mutex_init(&pool->lock, NULL) != 0)
        return OTEL_ERR_NOMEM;
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
    if (tcache.serial == pool->serial) {
        tcache.head = NULL;
        tcache.count = 0;
        tcache.serial = 0;
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
    pool->free_list = NULL;
    pthread_mutex_destroy(&pool->lock);
}

static struct otel__span_record *take_slow(struct otel__pool *pool)
{
    struct thread_cache *c = &tcache;
    cache_bind(c, pool);

    pthread_mutex_lock(&pool->lock);
    uint32_t moved = 0;
    while (pool->free_list && moved < OTEL__POOL_BATCH) {
        struct otel__span_record *r = pool->free_list;
        pool->free_list = r->next_free;
        r->next_free = c->head;
        c->head = r;
        moved++;
    }
    pool->free_count -= moved;
    pthread_mutex_unlock(&pool->lock);
    c->count += moved;

    if (!c->head) {
        struct otel__pool_slab *slab = otel__calloc(
            1, sizeof(*slab) + OTEL__POOL_SLAB_RECORDS * sizeof(struct otel__span_record));
        if (!slab)
            return NULL;
        slab->count = OTEL__POOL_SLAB_RECORDS;
        for (size_t i = 0; i < slab->count; i++) {
            struct otel__span_record *r = &slab->recs[i];
            r->impl.ops = &otel__span_ops;
            atomic_init(&r->gen, 1);
            atomic_init(&r->lock, 0);
            atomic_init(&r->box.refs, 0);
            r->box.kind = OTEL__BOX_RECORD;
            r->state = OTEL__REC_FREE;
            r->provider = pool->provider;
        }
        /* Keep recs[0] for the caller; the rest fill the cache. */
        for (size_t i = slab->count; i-- > 1;) {
            slab->recs[i].next_free = c->head;
            c->head = &slab->recs[i];
        }
        c->count += (uint32_t)(slab->count - 1);
        pthread_mutex_lock(&pool->lock);
        slab->next = pool->slabs;
        pool->slabs = slab;
        pool->slab_count++;
        pthread_mutex_unlock(&pool->lock);
        slab->recs[0].next_free = NULL;
        return &slab->recs[0];
    }
    struct otel__span_record *r = c->head;
    c->head = r->next_free;
    c->count--;
    r->next_free = NULL;
    return r;
}

struct otel__span_record *otel__pool_take(struct otel__pool *pool)
{
    struct thread_cache *c = &tcache;
    if (c->serial == pool->serial && c->head) {
        struct otel__span_record *r = c->head;
        c->head = r->next_free;
        c->count--;
        r->next_free = NULL;
        return r;
    }
    return take_slow(pool);
}

void otel__pool_put(struct otel__pool *pool, struct otel__span_record *rec)
{
    struct thread_cache *c = &tcache;
    if (c->serial != pool->serial)
        cache_bind(c, pool);
    rec->next_free = c->head;
    c->head = rec;
    c->count++;
    if (c->count <= OTEL__POOL_CACHE_MAX)
        return;
    /* Give a batch back so one thread (the exporter's) does not hoard what others need. */
    struct otel__span_record *first = c->head, *last = c->head;
    for (uint32_t i = 1; i < OTEL__POOL_BATCH; i++)
        last = last->next_free;
    c->head = last->next_free;
    c->count -= OTEL__POOL_BATCH;
    last->next_free = NULL;
    pthread_mutex_lock(&pool->lock);
    last->next_free = pool->free_list;
    pool->free_list = first;
    pool->free_count += OTEL__POOL_BATCH;
    pthread_mutex_unlock(&pool->lock);
}

size_t otel__pool_record_count(struct otel__pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->slab_count * OTEL__POOL_SLAB_RECORDS;
    pthread_mutex_unlock(&pool->lock);
    return n;
}
