/* Samplers: always on/off, TraceIdRatioBased on known trace ids at the threshold, ParentBased's
 * five cases (root and the four parent kinds), custom samplers that add attributes and replace
 * the trace state, and what DROP and RECORD_ONLY mean for the span and the processors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otel/otel.h"
#include "otel/sdk/trace.h"
#include "sdk_testlib.h"

/* A trace id whose upper half is |hi| and lower half |lo| (big-endian). */
static void make_trace_id(uint8_t out[OTEL_TRACE_ID_SIZE], uint64_t hi, uint64_t lo)
{
    for (int i = 7; i >= 0; i--, hi >>= 8)
        out[i] = (uint8_t)hi;
    for (int i = 15; i >= 8; i--, lo >>= 8)
        out[i] = (uint8_t)lo;
}

static otel_sampling_decision decide(const otel_sampler *s, const otel_parent *parent, uint64_t hi,
                                     uint64_t lo)
{
    uint8_t tid[OTEL_TRACE_ID_SIZE];
    make_trace_id(tid, hi, lo);
    static const otel_parent none;
    otel_sampling_params p = { .parent = parent ? parent : &none, .trace_id = tid, .name = OTEL_STR("s") };
    otel_sampling_result r = s->should_sample(s->user_data, &p);
    assert_false(r.set_trace_state);
    assert_int_equal(r.attr_count, 0);
    return r.decision;
}

static otel_parent parent_of(bool remote, bool sampled)
{
    otel_parent p = { 0 };
    make_trace_id(p.span_context.trace_id, 1, 2);
    memset(p.span_context.span_id, 3, OTEL_SPAN_ID_SIZE);
    p.span_context.is_remote = remote;
    p.span_context.trace_flags = sampled ? OTEL_TRACE_FLAG_SAMPLED : 0;
    return p;
}

static void test_always_on_and_always_off(void **state)
{
    (void)state;
    otel_sampler on = otel_sampler_always_on(), off = otel_sampler_always_off();
    assert_int_equal(decide(&on, NULL, 1, 1), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_int_equal(decide(&off, NULL, 1, 1), OTEL_SAMPLING_DROP);
    assert_string_equal(on.description(on.user_data), "AlwaysOnSampler");
    assert_string_equal(off.description(off.user_data), "AlwaysOffSampler");
    otel_sampler_destroy(&on);
    otel_sampler_destroy(&off);
    otel_sampler_destroy(NULL);
}

static void test_ratio_compares_the_lower_64_bits_with_ratio_times_2_64(void **state)
{
    (void)state;
    otel_sampler half;
    assert_int_equal(otel_sampler_trace_id_ratio(0.5, &half), OTEL_OK);
    uint64_t threshold = UINT64_C(1) << 63;
    assert_int_equal(decide(&half, NULL, 0, threshold - 1), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_int_equal(decide(&half, NULL, 0, threshold), OTEL_SAMPLING_DROP);
    assert_int_equal(decide(&half, NULL, UINT64_MAX, 0), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_int_equal(decide(&half, NULL, 0, UINT64_MAX), OTEL_SAMPLING_DROP);
    /* The upper half does not matter. */
    assert_int_equal(decide(&half, NULL, 12345, threshold - 1), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_string_equal(half.description(half.user_data), "TraceIdRatioBased{0.500000}");
    otel_sampler_destroy(&half);

    otel_sampler quarter;
    assert_int_equal(otel_sampler_trace_id_ratio(0.25, &quarter), OTEL_OK);
    assert_int_equal(decide(&quarter, NULL, 0, (UINT64_C(1) << 62) - 1), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_int_equal(decide(&quarter, NULL, 0, UINT64_C(1) << 62), OTEL_SAMPLING_DROP);
    assert_string_equal(quarter.description(quarter.user_data), "TraceIdRatioBased{0.250000}");
    otel_sampler_destroy(&quarter);
    assert_null(quarter.should_sample); /* destroy zeroes the struct */
}

static void test_ratio_zero_never_and_one_always(void **state)
{
    (void)state;
    otel_sampler zero, one;
    assert_int_equal(otel_sampler_trace_id_ratio(0.0, &zero), OTEL_OK);
    assert_int_equal(otel_sampler_trace_id_ratio(1.0, &one), OTEL_OK);
    assert_int_equal(decide(&zero, NULL, 1, 0), OTEL_SAMPLING_DROP);
    assert_int_equal(decide(&zero, NULL, 1, 1), OTEL_SAMPLING_DROP);
    assert_int_equal(decide(&one, NULL, 0, UINT64_MAX), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_int_equal(decide(&one, NULL, 0, 1), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_string_equal(zero.description(zero.user_data), "TraceIdRatioBased{0.000000}");
    assert_string_equal(one.description(one.user_data), "TraceIdRatioBased{1.000000}");
    otel_sampler_destroy(&zero);
    otel_sampler_destroy(&one);
}

static void test_ratio_rejects_values_outside_0_1(void **state)
{
    (void)state;
    otel_sampler s = { 0 };
    assert_int_equal(otel_sampler_trace_id_ratio(-0.01, &s), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_sampler_trace_id_ratio(1.01, &s), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_sampler_trace_id_ratio(NAN, &s), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_sampler_trace_id_ratio(INFINITY, &s), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_sampler_trace_id_ratio(0.5, NULL), OTEL_ERR_INVALID_ARG);
    assert_null(s.should_sample);
}

static void test_ratio_samples_about_the_ratio_of_random_traces(void **state)
{
    (void)state;
    otel_sampler s;
    assert_int_equal(otel_sampler_trace_id_ratio(0.1, &s), OTEL_OK);
    int sampled = 0;
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sampled += decide(&s, NULL, 1, x) == OTEL_SAMPLING_RECORD_AND_SAMPLE;
    }
    assert_true(sampled > 9000 && sampled < 11000);
    otel_sampler_destroy(&s);
}

static void test_parent_based_defaults_follow_the_parent(void **state)
{
    (void)state;
    otel_sampler pb;
    assert_int_equal(otel_sampler_parent_based(otel_sampler_always_off(), NULL, &pb), OTEL_OK);
    otel_parent rs = parent_of(true, true), rn = parent_of(true, false);
    otel_parent ls = parent_of(false, true), ln = parent_of(false, false);
    assert_int_equal(decide(&pb, NULL, 1, 1), OTEL_SAMPLING_DROP); /* root: always_off */
    assert_int_equal(decide(&pb, &rs, 1, 1), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_int_equal(decide(&pb, &rn, 1, 1), OTEL_SAMPLING_DROP);
    assert_int_equal(decide(&pb, &ls, 1, 1), OTEL_SAMPLING_RECORD_AND_SAMPLE);
    assert_int_equal(decide(&pb, &ln, 1, 1), OTEL_SAMPLING_DROP);
    const char *desc = pb.description(pb.user_data);
    assert_non_null(strstr(desc, "ParentBased{root=AlwaysOffSampler"));
    assert_non_null(strstr(desc, "remoteParentSampled=AlwaysOnSampler"));
    assert_non_null(strstr(desc, "localParentNotSampled=AlwaysOffSampler"));
    otel_sampler_destroy(&pb);
}

/* A sampler that records which case called it. */
struct tagged {
    int tag;
    int *last;
    int *destroyed;
    otel_sampling_decision decision;
};

static otel_sampling_result tagged_fn(void *ud, const otel_sampling_params *p)
{
    (void)p;
    struct tagged *t = ud;
    *t->last = t->tag;
    otel_sampling_result r = { .decision = t->decision };
    return r;
}

static void tagged_destroy(void *ud)
{
    struct tagged *t = ud;
    (*t->destroyed)++;
}

static otel_sampler tagged_sampler(struct tagged *t)
{
    otel_sampler s = { .should_sample = tagged_fn, .destroy = tagged_destroy, .user_data = t };
    return s;
}

static void test_parent_based_uses_each_of_the_five_samplers(void **state)
{
    (void)state;
    int last = -1, destroyed = 0;
    struct tagged t[5];
    for (int i = 0; i < 5; i++)
        t[i] = (struct tagged){ i, &last, &destroyed, OTEL_SAMPLING_RECORD_ONLY };
    otel_parent_based_options o = {
        .remote_parent_sampled = tagged_sampler(&t[1]),
        .remote_parent_not_sampled = tagged_sampler(&t[2]),
        .local_parent_sampled = tagged_sampler(&t[3]),
        .local_parent_not_sampled = tagged_sampler(&t[4]),
    };
    otel_sampler pb;
    assert_int_equal(otel_sampler_parent_based(tagged_sampler(&t[0]), &o, &pb), OTEL_OK);
    otel_parent rs = parent_of(true, true), rn = parent_of(true, false);
    otel_parent ls = parent_of(false, true), ln = parent_of(false, false);
    assert_int_equal(decide(&pb, NULL, 1, 1), OTEL_SAMPLING_RECORD_ONLY);
    assert_int_equal(last, 0);
    decide(&pb, &rs, 1, 1);
    assert_int_equal(last, 1);
    decide(&pb, &rn, 1, 1);
    assert_int_equal(last, 2);
    decide(&pb, &ls, 1, 1);
    assert_int_equal(last, 3);
    decide(&pb, &ln, 1, 1);
    assert_int_equal(last, 4);
    /* A parent with an invalid context is no parent. */
    otel_parent invalid = { 0 };
    invalid.span_context.trace_flags = OTEL_TRACE_FLAG_SAMPLED;
    decide(&pb, &invalid, 1, 1);
    assert_int_equal(last, 0);
    otel_sampler_destroy(&pb);
    assert_int_equal(destroyed, 5);
}

static void test_parent_based_rejects_bad_arguments_and_owns_nothing(void **state)
{
    (void)state;
    int last = -1, destroyed = 0;
    struct tagged t = { 0, &last, &destroyed, OTEL_SAMPLING_DROP };
    otel_sampler out = { 0 };
    otel_sampler zero = { 0 };
    assert_int_equal(otel_sampler_parent_based(zero, NULL, &out), OTEL_ERR_INVALID_ARG);
    assert_int_equal(otel_sampler_parent_based(tagged_sampler(&t), NULL, NULL), OTEL_ERR_INVALID_ARG);
    otel_parent_based_options o = { .local_parent_sampled = { .destroy = tagged_destroy, .user_data = &t } };
    assert_int_equal(otel_sampler_parent_based(tagged_sampler(&t), &o, &out), OTEL_ERR_INVALID_ARG);
    assert_int_equal(destroyed, 0);
    assert_null(out.should_sample);
}

/* ---------------------------------------------------------------------------------------------
 * Samplers inside a provider
 * ------------------------------------------------------------------------------------------- */

struct seen {
    int calls;
    otel_str name;
    otel_span_kind kind;
    size_t attr_count;
    size_t link_count;
    uint8_t trace_id[OTEL_TRACE_ID_SIZE];
    bool had_parent;
    otel_trace_state *give; /* returned as the new trace state */
    otel_sampling_decision decision;
};

static const otel_attr sampler_attrs[] = {
    { { "sampler.name", 12 }, { .type = OTEL_VALUE_STR, .as.s = { "custom", 6 } } },
    { { "sampler.rate", 12 }, { .type = OTEL_VALUE_DOUBLE, .as.d = 0.5 } },
};

static otel_sampling_result custom_fn(void *ud, const otel_sampling_params *p)
{
    struct seen *s = ud;
    s->calls++;
    s->name = p->name;
    s->kind = p->kind;
    s->attr_count = p->attr_count;
    s->link_count = p->link_count;
    memcpy(s->trace_id, p->trace_id, OTEL_TRACE_ID_SIZE);
    s->had_parent = otel_span_context_is_valid(&p->parent->span_context);
    otel_sampling_result r = { .decision = s->decision, .attrs = sampler_attrs, .attr_count = 2 };
    if (s->give) {
        r.set_trace_state = true;
        r.trace_state = otel_trace_state_retain(s->give);
    }
    return r;
}

static void test_custom_sampler_sees_the_params_and_adds_attrs_and_trace_state(void **state)
{
    (void)state;
    struct seen seen = { .decision = OTEL_SAMPLING_RECORD_AND_SAMPLE };
    assert_int_equal(otel_trace_state_parse(OTEL_STR("mine=yes"), &seen.give), OTEL_OK);
    retainer r;
    retainer_init(&r);
    otel_tracer_provider_options o = { .sampler = { .should_sample = custom_fn, .user_data = &seen } };
    otel_tracer_provider *tp = retainer_provider(&r, &o);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_attr attrs[] = { OTEL_ATTR_INT("given", 1) };
    otel_link link = { .attrs = attrs, .attr_count = 1 };
    otel_span_start_options so = {
        .kind = OTEL_SPAN_KIND_CLIENT, .attrs = attrs, .attr_count = 1, .links = &link, .link_count = 1
    };
    otel_span s = otel_tracer_start_span(t, OTEL_STR("sampled op"), &so);
    otel_span_context sc = otel_span_get_context(s);
    otel_span_end(s);
    assert_int_equal(seen.calls, 1);
    assert_true(str_is(seen.name, "sampled op"));
    assert_int_equal(seen.kind, OTEL_SPAN_KIND_CLIENT);
    assert_int_equal(seen.attr_count, 1);
    assert_int_equal(seen.link_count, 1);
    assert_false(seen.had_parent);
    assert_memory_equal(seen.trace_id, sc.trace_id, OTEL_TRACE_ID_SIZE);
    const otel_span_data *d = retainer_last(&r);
    assert_int_equal(d->attr_count, 3);
    assert_non_null(find_attr(d->attrs, 3, "given"));
    assert_true(str_is(find_attr(d->attrs, 3, "sampler.name")->value.as.s, "custom"));
    otel_str v;
    assert_true(otel_trace_state_get(d->trace_state, OTEL_STR("mine"), &v));
    retainer_release_all(&r);
    otel_tracer_provider_destroy(tp);
    otel_trace_state_release(seen.give);
    pthread_mutex_destroy(&r.lock);
}

static void test_drop_gives_a_non_recording_span_with_a_new_span_id(void **state)
{
    (void)state;
    struct seen seen = { .decision = OTEL_SAMPLING_DROP };
    assert_int_equal(otel_trace_state_parse(OTEL_STR("dropped=1"), &seen.give), OTEL_OK);
    retainer r;
    retainer_init(&r);
    otel_tracer_provider_options o = { .sampler = { .should_sample = custom_fn, .user_data = &seen } };
    otel_tracer_provider *tp = retainer_provider(&r, &o);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span_context parent = { .trace_flags = OTEL_TRACE_FLAG_SAMPLED | OTEL_TRACE_FLAG_RANDOM,
                                 .is_remote = true };
    memset(parent.trace_id, 0xab, OTEL_TRACE_ID_SIZE);
    memset(parent.span_id, 0xcd, OTEL_SPAN_ID_SIZE);
    otel_context *ctx = NULL;
    assert_int_equal(otel_context_with_span_context(NULL, &parent, NULL, &ctx), OTEL_OK);
    otel_span_start_options so = { .parent = ctx };
    otel_span s = otel_tracer_start_span(t, OTEL_STR("dropped"), &so);
    otel_context_release(ctx);
    assert_true(seen.had_parent);
    assert_false(otel_span_is_recording(s));
    otel_span_context sc = otel_span_get_context(s);
    assert_true(otel_span_context_is_valid(&sc));
    assert_memory_equal(sc.trace_id, parent.trace_id, OTEL_TRACE_ID_SIZE);
    assert_memory_not_equal(sc.span_id, parent.span_id, OTEL_SPAN_ID_SIZE);
    assert_false(sc.trace_flags & OTEL_TRACE_FLAG_SAMPLED);
    assert_true(sc.trace_flags & OTEL_TRACE_FLAG_RANDOM);
    otel_trace_state *ts = otel_span_get_trace_state(s);
    otel_str v;
    assert_true(otel_trace_state_get(ts, OTEL_STR("dropped"), &v));
    otel_trace_state_release(ts);
    otel_span_end(s);
    assert_int_equal(atomic_load(&r.starts), 0);
    assert_int_equal(atomic_load(&r.ends), 0);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_started, 1);
    assert_int_equal(st.spans_recorded, 0);
    otel_tracer_provider_destroy(tp);
    otel_trace_state_release(seen.give);
    pthread_mutex_destroy(&r.lock);
}

static void test_record_only_reaches_on_end_but_is_not_exported(void **state)
{
    (void)state;
    struct seen seen = { .decision = OTEL_SAMPLING_RECORD_ONLY };
    retainer r;
    retainer_init(&r);
    collector c;
    collector_init(&c);
    otel_span_processor sp[2];
    sp[0] = retainer_processor(&r);
    assert_int_equal(otel_simple_processor_create(collector_exporter(&c), &sp[1]), OTEL_OK);
    otel_tracer_provider_options o = { .sampler = { .should_sample = custom_fn, .user_data = &seen },
                                       .processors = sp,
                                       .processor_count = 2 };
    otel_tracer_provider *tp = NULL;
    assert_int_equal(otel_tracer_provider_create(&o, &tp), OTEL_OK);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    otel_span s = otel_tracer_start_span(t, OTEL_STR("record only"), NULL);
    assert_true(otel_span_is_recording(s));
    otel_span_context sc = otel_span_get_context(s);
    assert_false(sc.trace_flags & OTEL_TRACE_FLAG_SAMPLED);
    otel_span_end(s);
    assert_int_equal(atomic_load(&r.ends), 1);
    assert_int_equal(atomic_load(&c.export_calls), 0);
    otel_tracer_provider_stats st;
    otel_tracer_provider_get_stats(tp, &st);
    assert_int_equal(st.spans_recorded, 1);
    assert_int_equal(st.spans_sampled, 0);
    assert_int_equal(st.spans_exported, 0);
    retainer_release_all(&r);
    otel_tracer_provider_destroy(tp);
    collector_cleanup(&c);
    pthread_mutex_destroy(&r.lock);
}

static void test_default_sampler_is_parent_based_always_on(void **state)
{
    (void)state;
    retainer r;
    retainer_init(&r);
    otel_tracer_provider *tp = retainer_provider(&r, NULL);
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    /* Root: sampled. */
    otel_span s = otel_tracer_start_span(t, OTEL_STR("root"), NULL);
    assert_true(otel_span_get_context(s).trace_flags & OTEL_TRACE_FLAG_SAMPLED);
    otel_span_end(s);
    /* Remote parent not sampled: dropped. Sampled: recorded. */
    for (int sampled = 0; sampled < 2; sampled++) {
        otel_span_context parent = { .trace_flags = sampled ? OTEL_TRACE_FLAG_SAMPLED : 0,
                                     .is_remote = true };
        memset(parent.trace_id, 0x42, OTEL_TRACE_ID_SIZE);
        memset(parent.span_id, 0x24, OTEL_SPAN_ID_SIZE);
        otel_context *ctx = NULL;
        assert_int_equal(otel_context_with_span_context(NULL, &parent, NULL, &ctx), OTEL_OK);
        otel_span_start_options so = { .parent = ctx };
        s = otel_tracer_start_span(t, OTEL_STR("child"), &so);
        assert_int_equal(otel_span_is_recording(s), sampled);
        otel_span_end(s);
        otel_context_release(ctx);
    }
    assert_int_equal(atomic_load(&r.ends), 2);
    retainer_release_all(&r);
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&r.lock);
}

static void test_ratio_sampler_in_a_provider_decides_on_the_trace_id(void **state)
{
    (void)state;
    retainer r;
    retainer_init(&r);
    otel_sampler zero;
    assert_int_equal(otel_sampler_trace_id_ratio(0.0, &zero), OTEL_OK);
    otel_tracer_provider_options o = { .sampler = zero };
    otel_tracer_provider *tp = retainer_provider(&r, &o); /* owns |zero| now */
    otel_tracer *t = otel_tracer_provider_get_tracer(tp, OTEL_STR("lib"), NULL);
    for (int i = 0; i < 100; i++) {
        otel_span s = otel_tracer_start_span(t, OTEL_STR("never"), NULL);
        assert_false(otel_span_is_recording(s));
        otel_span_context sc = otel_span_get_context(s);
        assert_true(otel_span_context_is_valid(&sc)); /* a root still gets ids to propagate */
        otel_span_end(s);
    }
    assert_int_equal(atomic_load(&r.ends), 0);
    otel_tracer_provider_destroy(tp);
    pthread_mutex_destroy(&r.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_always_on_and_always_off),
        cmocka_unit_test(test_ratio_compares_the_lower_64_bits_with_ratio_times_2_64),
        cmocka_unit_test(test_ratio_zero_never_and_one_always),
        cmocka_unit_test(test_ratio_rejects_values_outside_0_1),
        cmocka_unit_test(test_ratio_samples_about_the_ratio_of_random_traces),
        cmocka_unit_test(test_parent_based_defaults_follow_the_parent),
        cmocka_unit_test(test_parent_based_uses_each_of_the_five_samplers),
        cmocka_unit_test(test_parent_based_rejects_bad_arguments_and_owns_nothing),
        cmocka_unit_test(test_custom_sampler_sees_the_params_and_adds_attrs_and_trace_state),
        cmocka_unit_test(test_drop_gives_a_non_recording_span_with_a_new_span_id),
        cmocka_unit_test(test_record_only_reaches_on_end_but_is_not_exported),
        cmocka_unit_test(test_default_sampler_is_parent_based_always_on),
        cmocka_unit_test(test_ratio_sampler_in_a_provider_decides_on_the_trace_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
