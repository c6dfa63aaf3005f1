/* The built-in samplers: always_on, always_off, TraceIdRatioBased and ParentBased. They are
 * ordinary otel_sampler values, but the span-start path recognises them by their should_sample
 * function and decides inline (otel__sampler_decide), so the default parentbased_always_on costs
 * a few compares and no indirect call. None of them touches the trace state. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "provider.h"

static otel_sampling_result always_on_fn(void *user_data, const otel_sampling_params *params);
static otel_sampling_result always_off_fn(void *user_data, const otel_sampling_params *params);
static otel_sampling_result ratio_fn(void *user_data, const otel_sampling_params *params);
static otel_sampling_result parent_based_fn(void *user_data, const otel_sampling_params *params);

struct ratio_state {
    uint64_t threshold; /* sample when the id's lower 64 bits are below it */
    bool always;        /* ratio 1: every id, including the all-ones one */
    char description[48];
};

struct parent_based_state {
    otel_sampler root;
    otel_sampler remote_sampled;
    otel_sampler remote_not_sampled;
    otel_sampler local_sampled;
    otel_sampler local_not_sampled;
    char *description; /* allocated with the state, after it */
};

static inline otel_sampling_result decision(otel_sampling_decision d)
{
    otel_sampling_result r = { .decision = d };
    return r;
}

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline bool ratio_samples(const struct ratio_state *st, const uint8_t *trace_id)
{
    if (st->always)
        return true;
    return trace_id && load_be64(trace_id + 8) < st->threshold;
}

static inline const otel_sampler *parent_based_pick(const struct parent_based_state *st,
                                                    const otel_parent *parent)
{
    if (!parent)
        return &st->root;
    const otel_span_context *sc = &parent->span_context;
    if (!otel__span_context_valid(sc))
        return &st->root;
    bool sampled = (sc->trace_flags & OTEL_TRACE_FLAG_SAMPLED) != 0;
    if (sc->is_remote)
        return sampled ? &st->remote_sampled : &st->remote_not_sampled;
    return sampled ? &st->local_sampled : &st->local_not_sampled;
}

otel_sampling_result otel__sampler_decide(const otel_sampler *s, const otel_sampling_params *params)
{
    for (;;) {
        if (s->should_sample == parent_based_fn) {
            s = parent_based_pick(s->user_data, params->parent);
            continue;
        }
        if (s->should_sample == always_on_fn)
            return decision(OTEL_SAMPLING_RECORD_AND_SAMPLE);
        if (s->should_sample == always_off_fn)
            return decision(OTEL_SAMPLING_DROP);
        if (s->should_sample == ratio_fn)
            return decision(ratio_samples(s->user_data, params->trace_id) ? OTEL_SAMPLING_RECORD_AND_SAMPLE
                                                                          : OTEL_SAMPLING_DROP);
        if (!s->should_sample)
            return decision(OTEL_SAMPLING_DROP);
        return s->should_sample(s->user_data, params);
    }
}

/* ---------------------------------------------------------------------------------------------
 * The callbacks, for callers that use the samplers through the struct (e.g. inside a custom
 * sampler that delegates).
 * ------------------------------------------------------------------------------------------- */

static otel_sampling_result always_on_fn(void *user_data, const otel_sampling_params *params)
{
    (void)user_data;
    (void)params;
    return decision(OTEL_SAMPLING_RECORD_AND_SAMPLE);
}

static otel_sampling_result always_off_fn(void *user_data, const otel_sampling_params *params)
{
    (void)user_data;
    (void)params;
    return decision(OTEL_SAMPLING_DROP);
}

static otel_sampling_result ratio_fn(void *user_data, const otel_sampling_params *params)
{
    return decision(ratio_samples(user_data, params->trace_id) ? OTEL_SAMPLING_RECORD_AND_SAMPLE
                                                               : OTEL_SAMPLING_DROP);
}

static otel_sampling_result parent_based_fn(void *user_data, const otel_sampling_params *params)
{
    const otel_sampler *s = parent_based_pick(user_data, params->parent);
    return otel__sampler_decide(s, params);
}

static const char *always_on_description(void *user_data)
{
    (void)user_data;
    return "AlwaysOnSampler";
}

static const char *always_off_description(void *user_data)
{
    (void)user_data;
    return "AlwaysOffSampler";
}

static const char *ratio_description(void *user_data)
{
    return ((const struct ratio_state *)user_data)->description;
}

static const char *parent_based_description(void *user_data)
{
    return ((const struct parent_based_state *)user_data)->description;
}

static void ratio_destroy(void *user_data)
{
    otel__free(user_data);
}

static void parent_based_destroy(void *user_data)
{
    struct parent_based_state *st = user_data;
    otel_sampler_destroy(&st->root);
    otel_sampler_destroy(&st->remote_sampled);
    otel_sampler_destroy(&st->remote_not_sampled);
    otel_sampler_destroy(&st->local_sampled);
    otel_sampler_destroy(&st->local_not_sampled);
    otel__free(st);
}

/* ---------------------------------------------------------------------------------------------
 * Public constructors
 * ------------------------------------------------------------------------------------------- */

otel_sampler otel_sampler_always_on(void)
{
    otel_sampler s = { .should_sample = always_on_fn, .description = always_on_description };
    return s;
}

otel_sampler otel_sampler_always_off(void)
{
    otel_sampler s = { .should_sample = always_off_fn, .description = always_off_description };
    return s;
}

/* "%f" by hand: printf would use the program's LC_NUMERIC decimal separator. */
static void format_ratio(char *out, size_t cap, double ratio)
{
    uint64_t micro = (uint64_t)llround(ratio * 1e6);
    snprintf(out, cap, "TraceIdRatioBased{%u.%06u}", (unsigned)(micro / 1000000u),
             (unsigned)(micro % 1000000u));
}

otel_status otel_sampler_trace_id_ratio(double ratio, otel_sampler *out)
{
    if (!out || !(ratio >= 0.0 && ratio <= 1.0))
        return OTEL_ERR_INVALID_ARG;
    struct ratio_state *st = otel__calloc(1, sizeof(*st));
    if (!st)
        return OTEL_ERR_NOMEM;
    if (ratio >= 1.0) {
        st->always = true;
    } else {
        /* ratio * 2^64 is exact scaling and stays below 2^64 for ratio < 1. */
        st->threshold = (uint64_t)ldexp(ratio, 64);
    }
    format_ratio(st->description, sizeof(st->description), ratio);
    otel_sampler s = {
        .should_sample = ratio_fn,
        .description = ratio_description,
        .destroy = ratio_destroy,
        .user_data = st,
    };
    *out = s;
    return OTEL_OK;
}

static bool sampler_is_zero(const otel_sampler *s)
{
    return !s->should_sample && !s->description && !s->destroy && !s->user_data;
}

static const char *describe(const otel_sampler *s)
{
    const char *d = s->description ? s->description(s->user_data) : NULL;
    return d ? d : "?";
}

static int print_parent_based(char *buf, size_t cap, const struct parent_based_state *st)
{
    return snprintf(buf, cap,
                    "ParentBased{root=%s,remoteParentSampled=%s,remoteParentNotSampled=%s,"
                    "localParentSampled=%s,localParentNotSampled=%s}",
                    describe(&st->root), describe(&st->remote_sampled), describe(&st->remote_not_sampled),
                    describe(&st->local_sampled), describe(&st->local_not_sampled));
}

otel_status otel_sampler_parent_based(otel_sampler root, const otel_parent_based_options *opts,
                                      otel_sampler *out)
{
    if (!out || !root.should_sample)
        return OTEL_ERR_INVALID_ARG;
    struct parent_based_state tmp = { .root = root };
    otel_sampler on = otel_sampler_always_on(), off = otel_sampler_always_off();
    tmp.remote_sampled = on;
    tmp.remote_not_sampled = off;
    tmp.local_sampled = on;
    tmp.local_not_sampled = off;
    if (opts) {
        const otel_sampler *given[4] = { &opts->remote_parent_sampled, &opts->remote_parent_not_sampled,
                                         &opts->local_parent_sampled, &opts->local_parent_not_sampled };
        otel_sampler *slot[4] = { &tmp.remote_sampled, &tmp.remote_not_sampled, &tmp.local_sampled,
                                  &tmp.local_not_sampled };
        for (size_t i = 0; i < 4; i++) {
            if (sampler_is_zero(given[i]))
                continue;
            if (!given[i]->should_sample)
                return OTEL_ERR_INVALID_ARG; /* callbacks without a decision function */
            *slot[i] = *given[i];
        }
    }
    int len = print_parent_based(NULL, 0, &tmp);
    if (len < 0)
        len = 0;
    struct parent_based_state *st = otel__malloc(sizeof(*st) + (size_t)len + 1);
    if (!st)
        return OTEL_ERR_NOMEM;
    *st = tmp;
    st->description = (char *)(st + 1);
    st->description[0] = '\0';
    print_parent_based(st->description, (size_t)len + 1, &tmp);
    otel_sampler s = {
        .should_sample = parent_based_fn,
        .description = parent_based_description,
        .destroy = parent_based_destroy,
        .user_data = st,
    };
    *out = s;
    return OTEL_OK;
}

void otel_sampler_destroy(otel_sampler *s)
{
    if (!s)
        return;
    if (s->destroy)
        s->destroy(s->user_data);
    memset(s, 0, sizeof(*s));
}

/* parentbased_always_on as a static object: the default of every provider. */
static struct parent_based_state default_state = {
    .root = { .should_sample = always_on_fn, .description = always_on_description },
    .remote_sampled = { .should_sample = always_on_fn, .description = always_on_description },
    .remote_not_sampled = { .should_sample = always_off_fn, .description = always_off_description },
    .local_sampled = { .should_sample = always_on_fn, .description = always_on_description },
    .local_not_sampled = { .should_sample = always_off_fn, .description = always_off_description },
    .description = "ParentBased{root=AlwaysOnSampler,remoteParentSampled=AlwaysOnSampler,"
                   "remoteParentNotSampled=AlwaysOffSampler,localParentSampled=AlwaysOnSampler,"
                   "localParentNotSampled=AlwaysOffSampler}",
};

otel_sampler otel__sampler_default(void)
{
    otel_sampler s = {
        .should_sample = parent_based_fn,
        .description = parent_based_description,
        .user_data = &default_state,
    };
    return s;
}

/* The shortcut for |s| (see provider.h): built-in samplers whose decision needs neither the
 * trace id nor the attributes. */
int otel__sampler_shortcut(const otel_sampler *s)
{
    if (s->should_sample == always_on_fn)
        return OTEL__SAMPLER_ALWAYS_ON;
    if (s->should_sample == always_off_fn)
        return OTEL__SAMPLER_ALWAYS_OFF;
    if (s->should_sample == parent_based_fn) {
        const struct parent_based_state *st = s->user_data;
        if (st->root.should_sample == always_on_fn && st->remote_sampled.should_sample == always_on_fn &&
            st->local_sampled.should_sample == always_on_fn &&
            st->remote_not_sampled.should_sample == always_off_fn &&
            st->local_not_sampled.should_sample == always_off_fn)
            return OTEL__SAMPLER_PARENT_ON;
    }
    return OTEL__SAMPLER_GENERAL;
}
