/* Internals of the Datadog sampler, exposed for tests and benchmarks: glob patterns, the rule
 * list, the rate limiter (with an injectable clock) and the Knuth sampling threshold. */
#ifndef OTEL_DD_SAMPLER_H
#define OTEL_DD_SAMPLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dd_mapping.h"
#include "otel/exporters/datadog.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Datadog sampling priorities and mechanisms (the decision maker is "-<mechanism>"). */
enum {
    OTEL__DD_PRIORITY_USER_DROP = -1,
    OTEL__DD_PRIORITY_AUTO_DROP = 0,
    OTEL__DD_PRIORITY_AUTO_KEEP = 1,
    OTEL__DD_PRIORITY_USER_KEEP = 2,
};
enum {
    OTEL__DD_MECH_DEFAULT = 0,
    OTEL__DD_MECH_AGENT_RATE = 1,
    OTEL__DD_MECH_RULE = 3,
};

/* ---------------------------------------------------------------------------------------------
 * Glob patterns: '*' any run, '?' one byte, everything else itself, ASCII case-insensitive.
 * ------------------------------------------------------------------------------------------- */

enum otel__dd_glob_kind {
    OTEL__DD_GLOB_ANY = 0, /* only '*': matches everything */
    OTEL__DD_GLOB_LITERAL, /* no '*' (maybe '?'): same length, byte by byte */
    OTEL__DD_GLOB_PATTERN, /* at least one '*' */
};

/* A compiled pattern: "<prefix>*<middle>*...*<suffix>". A subject matches when it is long enough
 * for every literal byte, starts with the prefix, ends with the suffix, and holds the middle
 * segments in order in between (found leftmost-first, which is exact for '*' globs). Most
 * non-matching subjects are rejected by the length check or the first byte of the prefix or
 * suffix. */
struct otel__dd_glob {
    enum otel__dd_glob_kind kind;
    char *pattern;       /* lowercased copy with runs of '*' collapsed, NUL-terminated; NULL for ANY */
    unsigned char *care; /* after the pattern: 0xff per byte a subject must match, 0 for '?' */
    uint32_t len;
    uint32_t min_len;    /* bytes a subject needs: the pattern's non-'*' bytes */
    uint32_t prefix_len; /* bytes before the first '*' */
    uint32_t suffix_len; /* bytes after the last '*' */
    unsigned char first; /* the pattern's first byte when it must equal the subject's (no '*' or
                          * '?'), else 0 */
    unsigned char last;  /* the same for the last byte */
    bool one_star;       /* "<prefix>*<suffix>": no middle segments */
};

/* ASCII lowercase table. */
extern const unsigned char otel__dd_lower_tab[256];

/* Compiles |pattern| into |g| (allocates the copy). Errors: OTEL_ERR_NOMEM. */
otel_status otel__dd_glob_init(struct otel__dd_glob *g, otel_str pattern);
void otel__dd_glob_cleanup(struct otel__dd_glob *g);
/* The byte-level part of otel__dd_glob_match, once the length allows a match. */
bool otel__dd_glob_match_bytes(const struct otel__dd_glob *g, otel_str subject);

/* The 8 bytes at |s| with ASCII 'A'..'Z' lowercased, in one word: a byte below 0x80 whose low 7
 * bits reach 'A' but not 'Z' + 1 gets 0x20 added (no carries cross bytes). The empty asm hides
 * where |s| came from, so that inlining into a caller with a short constant subject does not
 * make gcc warn about a read it cannot prove unreachable (n >= 8 is checked by the caller). */
static inline uint64_t otel__dd_lower8(const char *s)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
    __asm__("" : "+r"(s));
    uint64_t w;
    memcpy(&w, s, 8);
    uint64_t b = w & ~high;
    uint64_t upper = (b + ones * (0x80 - 'A')) & ~(b + ones * (0x80 - 'Z' - 1)) & ~w & high;
    return w | (upper >> 2);
}

static inline bool otel__dd_word_eq(const struct otel__dd_glob *g, size_t at, const char *s)
{
    uint64_t pw, cw;
    memcpy(&pw, g->pattern + at, 8);
    memcpy(&cw, g->care + at, 8);
    return ((otel__dd_lower8(s) ^ pw) & cw) == 0;
}

/* Pattern bytes [at, at + n) (lowercase; '?' matches any byte) against |n| subject bytes: 8 at a
 * time, the tail as an overlapping word. */
static inline bool otel__dd_seg_eq(const struct otel__dd_glob *g, size_t at, const char *s, size_t n)
{
    if (n < 8) {
        const char *p = g->pattern + at;
        for (size_t i = 0; i < n; i++) {
            unsigned char pc = (unsigned char)p[i];
            if (pc != otel__dd_lower_tab[(unsigned char)s[i]] && pc != '?')
                return false;
        }
        return true;
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        if (!otel__dd_word_eq(g, at + i, s + i))
            return false;
    return i == n || otel__dd_word_eq(g, at + n - 8, s + n - 8);
}

/* Inline so that most rules are decided by a kind or length compare without a call. */
static inline bool otel__dd_glob_match(const struct otel__dd_glob *g, otel_str subject)
{
    switch (g->kind) {
    case OTEL__DD_GLOB_ANY:
        return true;
    case OTEL__DD_GLOB_LITERAL:
        if (subject.len != g->len)
            return false;
        break;
    case OTEL__DD_GLOB_PATTERN:
        if (subject.len < g->min_len)
            return false;
        break;
    }
    /* First and last bytes reject most non-matching subjects ("web-*" vs "checkout"). */
    if (subject.len) {
        if (g->first && g->first != otel__dd_lower_tab[(unsigned char)subject.data[0]])
            return false;
        if (g->last && g->last != otel__dd_lower_tab[(unsigned char)subject.data[subject.len - 1]])
            return false;
    }
    if (g->kind == OTEL__DD_GLOB_PATTERN && g->one_star)
        return otel__dd_seg_eq(g, 0, subject.data, g->prefix_len) &&
               otel__dd_seg_eq(g, g->len - g->suffix_len, subject.data + subject.len - g->suffix_len,
                               g->suffix_len);
    return otel__dd_glob_match_bytes(g, subject);
}
/* Matches an uncompiled pattern (tests). */
bool otel__dd_glob_match_str(otel_str pattern, otel_str subject);

/* ---------------------------------------------------------------------------------------------
 * Rules
 * ------------------------------------------------------------------------------------------- */

struct otel__dd_tag_matcher {
    char *key;
    size_t key_len;
    int alt_key; /* an OpenTelemetry key that stands for a Datadog one (otel__ddk), or -1 */
    struct otel__dd_glob value;
};

struct otel__dd_rule {
    struct otel__dd_glob service;
    struct otel__dd_glob name;
    struct otel__dd_glob resource;
    struct otel__dd_tag_matcher *tags;
    size_t tag_count;
    bool needs_mapping; /* a name or resource pattern: the span's Datadog names are needed */
    double rate;
    uint64_t threshold; /* keep when knuth(trace id) < threshold ... */
    bool keep_all;      /* ... or always, for a rate of 1 */
};

#define OTEL__DD_MAPPED_NAME 1u
#define OTEL__DD_MAPPED_RESOURCE 2u
#define OTEL__DD_MAPPED_RESOURCE_PARTS 4u

/* What a rule is matched against. |name| and |resource| are computed lazily: a rule that does
 * not look at them never pays for the mapping (the resource is composed only when a rule may
 * match it, as judged from its parts). */
struct otel__dd_span_props {
    otel_str service;
    const otel_sampling_params *params; /* attributes for tags, kind and name for the mapping */
    const struct otel__dd_attr_index *ix;
    uint8_t mapped; /* OTEL__DD_MAPPED_*: which of name and resource are known */
    otel_str name;
    otel_str resource;
    otel_str res_a, res_b;             /* the resource's parts (OTEL__DD_MAPPED_RESOURCE_PARTS) */
    uint8_t res_parts;                 /* 1: |res_a|; 2: |res_a| " " |res_b| */
    unsigned char res_first, res_last; /* the composed resource's end bytes, lowercased */
    size_t res_len;                    /* and its length */
    char name_buf[128];
    char resource_buf[256];
};

/* Parses DD_TRACE_SAMPLING_RULES text into |*rules| / |*count| (owned; free with
 * otel__dd_rules_free). Bad rules are skipped with one diagnostic each; unparsable text gives
 * one diagnostic and no rules. |source| names the origin in diagnostics. Errors: OTEL_ERR_NOMEM
 * only. */
otel_status otel__dd_rules_parse(otel_str json, const char *source, struct otel__dd_rule **rules,
                                 size_t *count);
void otel__dd_rules_free(struct otel__dd_rule *rules, size_t count);

/* Index of the first rule matching |props|, or -1. */
long otel__dd_rules_match(const struct otel__dd_rule *rules, size_t count, struct otel__dd_span_props *props);

/* Bit i set when rule i (i < 64) has a service pattern matching |service|. */
uint64_t otel__dd_rules_service_mask(const struct otel__dd_rule *rules, size_t count, otel_str service);

/* otel__dd_rules_match for a span whose service is the one |mask| was computed for: rules 0..63
 * are tried only when their bit is set, without testing the service again. */
long otel__dd_rules_match_masked(const struct otel__dd_rule *rules, size_t count, uint64_t mask,
                                 struct otel__dd_span_props *props);

/* ---------------------------------------------------------------------------------------------
 * Knuth sampling
 * ------------------------------------------------------------------------------------------- */

#define OTEL__DD_KNUTH_FACTOR UINT64_C(1111111111111111111)

/* The threshold for |rate| in [0, 1]; |*keep_all| is set for 1. */
uint64_t otel__dd_rate_threshold(double rate, bool *keep_all);

static inline bool otel__dd_knuth_keep(uint64_t trace_id_low, uint64_t threshold, bool keep_all)
{
    return keep_all || trace_id_low * OTEL__DD_KNUTH_FACTOR < threshold;
}

/* ---------------------------------------------------------------------------------------------
 * Rate limiter: a token bucket of |limit| tokens refilled at |limit| per second, kept as one
 * atomic "theoretical arrival time" (GCRA), plus packed per-second counters for the effective
 * rate the Datadog tracers report as _dd.limit_psr.
 *
 * Each thread takes tokens from the bucket in blocks (one CAS for |block| tokens, |block| at most
 * 1% of the limit, so 1 below 200 per second) and spends them without touching shared memory or
 * reading the clock; when the bucket is empty it remembers the time the next token becomes
 * available and denies until then with one clock read and no shared access. The count of tokens
 * handed out is exact, so the rate over time is; a thread's unspent block can at most add
 * |block| - 1 to a later burst. Decisions are counted per thread and added to the shared
 * per-second window when the thread sees the second change, takes a block, or asks for the
 * effective rate, so the statistic lags by at most a second on other threads.
 * ------------------------------------------------------------------------------------------- */

typedef int64_t (*otel__dd_clock_fn)(void *user_data);

struct otel__dd_limiter {
    int mode;                        /* 0 normal, 1 allow all, -1 deny all */
    int64_t interval_ns;             /* time per token */
    int64_t tolerance_ns;            /* (burst - 1) * interval */
    int64_t block;                   /* tokens a thread takes at once */
    uint64_t id;                     /* tells the threads' caches of this limiter from others */
    _Atomic int64_t tat;             /* theoretical arrival time, ns on the limiter's clock */
    _Atomic uint64_t window;         /* [second:16][allowed:24][total:24] */
    _Atomic uint64_t prev_rate_bits; /* rate of the previous second as double bits; ~0: none */
    otel__dd_clock_fn clock;         /* NULL: CLOCK_MONOTONIC_COARSE */
    void *clock_user_data;
};

/* |limit| tokens per second: 0 denies all, negative allows all. */
void otel__dd_limiter_init(struct otel__dd_limiter *l, double limit);
void otel__dd_limiter_set_clock(struct otel__dd_limiter *l, otel__dd_clock_fn fn, void *user_data);
/* One decision: true when a token was taken. */
bool otel__dd_limiter_allow(struct otel__dd_limiter *l);
/* The share of decisions allowed over the current and the previous second. */
double otel__dd_limiter_effective_rate(struct otel__dd_limiter *l);

/* ---------------------------------------------------------------------------------------------
 * The sampler
 * ------------------------------------------------------------------------------------------- */

struct otel__dd_sampler;

/* The sampler behind an otel_sampler made by otel_datadog_sampler_create(), or NULL when
 * |s| is not one. */
struct otel__dd_sampler *otel__dd_sampler_of(const otel_sampler *s);

/* Replaces the rate limiter's clock (tests). */
void otel__dd_sampler_set_clock(struct otel__dd_sampler *s, otel__dd_clock_fn fn, void *user_data);

/* The rule list and limiter (tests and benchmarks). */
const struct otel__dd_rule *otel__dd_sampler_rules(const struct otel__dd_sampler *s, size_t *count);
struct otel__dd_limiter *otel__dd_sampler_limiter(struct otel__dd_sampler *s);

/* Parses the priority and mechanism from a trace state's "dd" member ("s:<p>;...;t.dm:-<m>").
 * Returns false when there is no dd member or no "s:" in it; |*mechanism| is -1 when absent. */
bool otel__dd_trace_state_decision(const otel_trace_state *ts, int *priority, int *mechanism);

#ifdef __cplusplus
}
#endif

#endif
