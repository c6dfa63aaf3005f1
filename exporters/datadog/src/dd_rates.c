/* otel_datadog_rates: the agent's rate_by_service table, shared by the Datadog exporter (which
 * parses the agent's answers into it) and the Datadog sampler (which reads it when no rule
 * matches a new trace), plus the counts of traces and spans the sampler dropped, which the
 * exporter reports to the agent. Tables are immutable: an update builds a new one and swaps it
 * in under the mutex; readers copy one double out under the same mutex, which is cheap next to
 * a span start and rare thanks to the sampler's per-generation cache. */
#include "dd_rates.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "dd_json.h"
#include "log_internal.h"
#include "mem.h"

struct rate_entry {
    otel_str service;
    otel_str env;
    double rate;
};

/* One allocation: the header, the entries, then the key strings. */
struct rate_table {
    size_t count;
    bool has_default;
    double default_rate;
    struct rate_entry entries[];
};

struct otel_datadog_rates {
    _Atomic long refs;
    bool is_shared; /* the process-wide object: never freed */
    pthread_mutex_t mu;
    struct rate_table *table; /* NULL until the first answer */
    _Atomic uint64_t generation;
    _Atomic uint64_t dropped_traces;
    _Atomic uint64_t dropped_spans;
};

static void rates_init(otel_datadog_rates *r)
{
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->mu, NULL);
    r->table = NULL;
    atomic_init(&r->generation, 1);
    atomic_init(&r->dropped_traces, 0);
    atomic_init(&r->dropped_spans, 0);
}

otel_status otel_datadog_rates_create(otel_datadog_rates **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    otel_datadog_rates *r = otel__calloc(1, sizeof(*r));
    if (!r)
        return OTEL_ERR_NOMEM;
    rates_init(r);
    *out = r;
    return OTEL_OK;
}

static otel_datadog_rates shared_rates;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void shared_init(void)
{
    rates_init(&shared_rates);
    shared_rates.is_shared = true;
}

otel_datadog_rates *otel_datadog_rates_shared(void)
{
    pthread_once(&shared_once, shared_init);
    return &shared_rates;
}

otel_datadog_rates *otel_datadog_rates_retain(otel_datadog_rates *r)
{
    if (r && !r->is_shared)
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void otel_datadog_rates_release(otel_datadog_rates *r)
{
    if (!r || r->is_shared)
        return;
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&r->mu);
    otel__free(r->table);
    otel__free(r);
}

/* Splits "service:<svc>,env:<env>" into its parts. The service may itself contain ',' (the
 * agent does not forbid it), so the split is at the last ",env:". */
static bool split_key(otel_str key, otel_str *service, otel_str *env)
{
    static const char svc[] = "service:";
    static const char envp[] = ",env:";
    size_t sl = sizeof(svc) - 1, el = sizeof(envp) - 1;
    if (key.len < sl + el || memcmp(key.data, svc, sl) != 0)
        return false;
    for (size_t i = key.len - el + 1; i-- > sl;) {
        if (memcmp(key.data + i, envp, el) == 0) {
            service->data = key.data + sl;
            service->len = i - sl;
            env->data = key.data + i + el;
            env->len = key.len - i - el;
            return true;
        }
    }
    return false;
}

otel_status otel_datadog_rates_update_json(otel_datadog_rates *r, otel_str body)
{
    if (!r)
        return OTEL_ERR_INVALID_ARG;
    struct otel__json_doc doc;
    size_t err_at = 0;
    const char *what = NULL;
    otel_status st = otel__json_parse(body, &doc, &err_at, &what);
    if (st == OTEL_ERR_NOMEM)
        return st;
    if (st != OTEL_OK) {
        OTEL__LOG(OTEL_LOG_WARN,
                  "datadog: agent response is not valid JSON (%s at byte %zu); sampling rates "
                  "unchanged",
                  what ? what : "syntax error", err_at);
        return OTEL_ERR_INVALID_ARG;
    }
    const struct otel__json_node *root = &doc.nodes[0];
    if (root->type != OTEL__JSON_OBJECT) {
        OTEL__LOG(OTEL_LOG_WARN,
                  "datadog: agent response is not a JSON object (got %s); sampling "
                  "rates unchanged",
                  otel__json_type_name(root->type));
        otel__json_free(&doc);
        return OTEL_ERR_INVALID_ARG;
    }
    const struct otel__json_node *rbs = otel__json_get(&doc, root, "rate_by_service");
    if (!rbs) {
        otel__json_free(&doc);
        return OTEL_OK;
    }
    if (rbs->type != OTEL__JSON_OBJECT) {
        OTEL__LOG(OTEL_LOG_WARN,
                  "datadog: agent response: rate_by_service is not an object (got "
                  "%s); sampling rates unchanged",
                  otel__json_type_name(rbs->type));
        otel__json_free(&doc);
        return OTEL_ERR_INVALID_ARG;
    }
    /* Validate everything before building, so a bad answer changes nothing. */
    size_t count = 0, bytes = 0;
    for (const struct otel__json_node *m = otel__json_child(&doc, rbs); m; m = otel__json_next(&doc, m)) {
        otel_str service, env;
        if (m->type != OTEL__JSON_NUMBER || !(m->number >= 0.0 && m->number <= 1.0)) {
            OTEL__LOG(OTEL_LOG_WARN,
                      "datadog: agent response: rate for \"%.*s\" is not a number "
                      "in [0, 1]; sampling rates unchanged",
                      (int)(m->key.len > 200 ? 200 : m->key.len), m->key.data);
            otel__json_free(&doc);
            return OTEL_ERR_INVALID_ARG;
        }
        if (!split_key(m->key, &service, &env)) {
            OTEL__LOG(OTEL_LOG_WARN,
                      "datadog: agent response: ignoring rate key \"%.*s\" (not "
                      "\"service:<name>,env:<name>\")",
                      (int)(m->key.len > 200 ? 200 : m->key.len), m->key.data);
            continue;
        }
        count++;
        bytes += service.len + env.len;
    }
    struct rate_table *t = otel__malloc(sizeof(*t) + count * sizeof(t->entries[0]) + bytes + 1);
    if (!t) {
        otel__json_free(&doc);
        return OTEL_ERR_NOMEM;
    }
    t->count = 0;
    t->has_default = false;
    t->default_rate = 1.0;
    char *strings = (char *)&t->entries[count];
    for (const struct otel__json_node *m = otel__json_child(&doc, rbs); m; m = otel__json_next(&doc, m)) {
        otel_str service, env;
        if (!split_key(m->key, &service, &env))
            continue;
        if (service.len == 0 && env.len == 0) {
            t->has_default = true;
            t->default_rate = m->number;
        }
        struct rate_entry *e = &t->entries[t->count++];
        memcpy(strings, service.data, service.len);
        e->service.data = strings;
        e->service.len = service.len;
        strings += service.len;
        memcpy(strings, env.data, env.len);
        e->env.data = strings;
        e->env.len = env.len;
        strings += env.len;
        e->rate = m->number;
    }
    otel__json_free(&doc);

    /* Readers hold the lock for a table lookup only; a lock that stays busy means a child
     * process inherited it locked from a fork: skip the update rather than hang the exporter. */
    int rc = EBUSY;
    for (int i = 0; i < 1000 && (rc = pthread_mutex_trylock(&r->mu)) != 0; i++)
        sched_yield();
    if (rc != 0) {
        otel__free(t);
        OTEL__LOG(OTEL_LOG_DEBUG, "datadog: sampling rates busy; update skipped");
        return OTEL_OK;
    }
    struct rate_table *old = r->table;
    r->table = t;
    atomic_fetch_add_explicit(&r->generation, 1, memory_order_release);
    pthread_mutex_unlock(&r->mu);
    otel__free(old);
    return OTEL_OK;
}

/* The lookup itself; the caller holds the mutex. */
static bool lookup_locked(const otel_datadog_rates *m, otel_str service, otel_str env, double *rate)
{
    bool found = false;
    double v = 0;
    const struct rate_table *t = m->table;
    if (t) {
        for (size_t i = 0; i < t->count; i++) {
            if (otel_str_eq(t->entries[i].service, service) && otel_str_eq(t->entries[i].env, env)) {
                v = t->entries[i].rate;
                found = true;
                break;
            }
        }
        if (!found && t->has_default) {
            v = t->default_rate;
            found = true;
        }
    }
    if (found && rate)
        *rate = v;
    return found;
}

bool otel_datadog_rates_get(const otel_datadog_rates *r, otel_str service, otel_str env, double *rate)
{
    if (!r)
        return false;
    otel_datadog_rates *m = (otel_datadog_rates *)r; /* the mutex is not part of the value */
    pthread_mutex_lock(&m->mu);
    bool found = lookup_locked(m, service, env, rate);
    pthread_mutex_unlock(&m->mu);
    return found;
}

bool otel__dd_rates_try_get(const otel_datadog_rates *r, otel_str service, otel_str env, double *rate,
                            bool *found)
{
    otel_datadog_rates *m = (otel_datadog_rates *)r;
    if (pthread_mutex_trylock(&m->mu) != 0)
        return false;
    *found = lookup_locked(m, service, env, rate);
    pthread_mutex_unlock(&m->mu);
    return true;
}

uint64_t otel__dd_rates_generation(const otel_datadog_rates *r)
{
    return atomic_load_explicit(&((otel_datadog_rates *)r)->generation, memory_order_acquire);
}

void otel__dd_rates_count_drops(otel_datadog_rates *r, uint64_t traces, uint64_t spans)
{
    if (traces)
        atomic_fetch_add_explicit(&r->dropped_traces, traces, memory_order_relaxed);
    if (spans)
        atomic_fetch_add_explicit(&r->dropped_spans, spans, memory_order_relaxed);
}

void otel__dd_rates_take_drops(otel_datadog_rates *r, uint64_t *traces, uint64_t *spans)
{
    *traces = atomic_exchange_explicit(&r->dropped_traces, 0, memory_order_relaxed);
    *spans = atomic_exchange_explicit(&r->dropped_spans, 0, memory_order_relaxed);
}

size_t otel__dd_rates_count(const otel_datadog_rates *r)
{
    otel_datadog_rates *m = (otel_datadog_rates *)r;
    pthread_mutex_lock(&m->mu);
    size_t n = m->table ? m->table->count : 0;
    pthread_mutex_unlock(&m->mu);
    return n;
}
