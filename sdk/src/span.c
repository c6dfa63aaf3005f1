/* The operations of SDK spans (the otel_span_ops table behind otel_span_* calls), and the
 * attribute, event and link storage they share with span start. Every setter locks the record,
 * checks that the handle's generation is still the record's and that the span still records,
 * acts, and unlocks; end retires the generation with a compare-exchange and waits out a lock
 * holder instead (recording_end). Nothing here calls user code under the lock. Copies go into
 * the record's arena, with the provider's limits applied while copying. */
#include <string.h>

#include "log_internal.h"
#include "mem.h"
#include "batch.h"
#include "clock.h"
#include "provider.h"
#include "span.h"

/* ---------------------------------------------------------------------------------------------
 * Validation and copying of values
 * ------------------------------------------------------------------------------------------- */

static inline bool str_ok(otel_str s)
{
    return s.data != NULL || s.len == 0;
}

static inline bool value_is_valid(const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_BOOL:
    case OTEL_VALUE_INT:
    case OTEL_VALUE_DOUBLE:
        return true;
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES:
        return str_ok(v->as.s);
    case OTEL_VALUE_ARRAY:
        if (v->as.array.len && !v->as.array.items)
            return false;
        switch (v->array_type) {
        case OTEL_VALUE_BOOL:
        case OTEL_VALUE_INT:
        case OTEL_VALUE_DOUBLE:
            return true;
        case OTEL_VALUE_STR: {
            const otel_str *items = v->as.array.items;
            for (size_t i = 0; i < v->as.array.len; i++)
                if (!str_ok(items[i]))
                    return false;
            return true;
        }
        default:
            return false;
        }
    case OTEL_VALUE_EMPTY:
    default:
        return false;
    }
}

static inline bool attr_is_valid(const otel_attr *a)
{
    return a->key.len > 0 && a->key.data != NULL && value_is_valid(&a->value);
}

/* Keys are mostly short literals: the same pointer, or a difference in the first bytes, decides
 * without calling memcmp. */
static inline bool key_eq(otel_str a, otel_str b)
{
    if (a.len != b.len)
        return false;
    if (a.data == b.data)
        return true;
    if (a.len >= 8) {
        uint64_t x, y;
        memcpy(&x, a.data, 8);
        memcpy(&y, b.data, 8);
        if (x != y)
            return false;
    } else if (a.len && a.data[0] != b.data[0]) {
        return false;
    }
    return memcmp(a.data, b.data, a.len) == 0;
}

/* Bytes of the first |max_chars| characters of |s|. The specification counts characters (code
 * points) for the attribute value length limit; a cut never splits a multi-byte sequence.
 * Malformed bytes count as one character each, so the result stays bounded. */
static size_t utf8_prefix(const char *s, size_t len, uint32_t max_chars)
{
    if (max_chars == UINT32_MAX || len <= max_chars)
        return len;
    size_t i = 0;
    uint32_t chars = 0;
    while (i < len && chars < max_chars) {
        unsigned char b = (unsigned char)s[i];
        size_t n = b < 0x80             ? 1
                   : (b & 0xE0) == 0xC0 ? 2
                   : (b & 0xF0) == 0xE0 ? 3
                   : (b & 0xF8) == 0xF0 ? 4
                                        : 1;
        size_t j = 1;
        while (j < n && i + j < len && ((unsigned char)s[i + j] & 0xC0) == 0x80)
            j++;
        i += j;
        chars++;
    }
    return i;
}

/* Copies |src| (valid) into |dst| with the length limit; strings flagged static are kept by
 * pointer (a static string cut by the limit is just a shorter slice). False when out of memory. */
static inline __attribute__((always_inline)) bool copy_value(struct otel__arena *a, otel_value *dst,
                                                             const otel_value *src, uint32_t max_len)
{
    *dst = *src;
    bool is_static = (src->flags & OTEL_VALUE_STATIC) != 0;
    if (src->type != OTEL_VALUE_STR && src->type != OTEL_VALUE_BYTES && src->type != OTEL_VALUE_ARRAY)
        return true; /* numbers and booleans: the copy above is all */
    switch (src->type) {
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES: {
        size_t n = src->as.s.len;
        if (__builtin_expect(max_len != UINT32_MAX, 0))
            n = src->type == OTEL_VALUE_STR ? utf8_prefix(src->as.s.data, n, max_len)
                                            : (n > max_len ? max_len : n);
        dst->as.s.len = n;
        if (is_static)
            return true;
        char *p = otel__arena_strdup(a, src->as.s.data, n);
        if (!p)
            return false;
        dst->as.s.data = p;
        dst->flags &= (uint16_t)~OTEL_VALUE_STATIC;
        return true;
    }
    case OTEL_VALUE_ARRAY: {
        size_t n = src->as.array.len;
        if (n == 0)
            return true;
        if (src->array_type != OTEL_VALUE_STR) {
            if (is_static)
                return true;
            size_t es = otel_value_array_item_size((otel_value_type)src->array_type);
            void *items = otel__arena_alloc(a, n * es, 8);
            if (!items)
                return false;
            memcpy(items, src->as.array.items, n * es);
            dst->as.array.items = items;
            dst->flags &= (uint16_t)~OTEL_VALUE_STATIC;
            return true;
        }
        const otel_str *in = src->as.array.items;
        if (is_static) {
            bool cut = false;
            for (size_t i = 0; i < n && !cut; i++)
                cut = utf8_prefix(in[i].data, in[i].len, max_len) != in[i].len;
            if (!cut)
                return true;
        }
        otel_str *out = otel__arena_alloc(a, n * sizeof(*out), 8);
        if (!out)
            return false;
        for (size_t i = 0; i < n; i++) {
            size_t len = utf8_prefix(in[i].data, in[i].len, max_len);
            if (is_static) {
                out[i] = (otel_str){ in[i].data, len };
                continue;
            }
            char *p = otel__arena_strdup(a, in[i].data, len);
            if (!p)
                return false;
            out[i] = (otel_str){ p, len };
        }
        dst->as.array.items = out;
        /* The array now lives in the arena, so the value is no longer static as a whole. */
        dst->flags &= (uint16_t)~OTEL_VALUE_STATIC;
        return true;
    }
    default:
        return true;
    }
}

/* Overwrites an arena-owned string value in place when the new one (not static) fits: keeps a
 * loop that updates one attribute from growing the arena. */
static bool replace_in_place(otel_value *old, const otel_value *nv, uint32_t max_len)
{
    if (old->type != OTEL_VALUE_STR || nv->type != OTEL_VALUE_STR)
        return false;
    if ((old->flags | nv->flags) & OTEL_VALUE_STATIC)
        return false;
    size_t n = utf8_prefix(nv->as.s.data, nv->as.s.len, max_len);
    if (n > old->as.s.len)
        return false;
    char *p = (char *)old->as.s.data;
    memmove(p, nv->as.s.data, n);
    p[n] = '\0';
    old->as.s.len = n;
    old->flags = (uint16_t)((nv->flags & ~(OTEL_VALUE_STATIC | OTEL_VALUE_STATIC_KEY)) |
                            (old->flags & OTEL_VALUE_STATIC_KEY));
    return true;
}

enum set_result { SET_STORED, SET_DROPPED, SET_INVALID };

/* Adds or replaces |src| in |*attrs| (|*count| used, |*cap| allocated, at most |limit|).
 * |inline_storage| is the array *attrs starts in, if any (no growth out of a fixed array when
 * it is NULL). */
/* |key_lens| has bit (length % 32) set for the length of every key in the list: a key whose bit
 * is clear cannot be there, so most puts skip the duplicate scan. */
static inline __attribute__((always_inline)) enum set_result
attr_put(struct otel__arena *a, otel_attr **attrs, uint32_t *count, uint32_t *cap, uint32_t *key_lens,
         uint32_t limit, uint32_t max_len, const otel_attr *src)
{
    if (!attr_is_valid(src))
        return SET_INVALID;
    otel_attr *arr = *attrs;
    const size_t key_len = src->key.len;
    const uint32_t len_bit = UINT32_C(1) << (key_len & 31u);
    const uint32_t n = (*key_lens & len_bit) ? *count : 0;
    for (uint32_t i = 0; i < n; i++) {
        /* Mostly keys of other lengths: one compare each, before key_eq. */
        if (__builtin_expect(arr[i].key.len != key_len, 1) || !key_eq(arr[i].key, src->key))
            continue;
        if (replace_in_place(&arr[i].value, &src->value, max_len))
            return SET_STORED;
        otel_value v;
        if (!copy_value(a, &v, &src->value, max_len))
            return SET_DROPPED; /* the old value stays */
        v.flags =
            (uint16_t)((v.flags & ~OTEL_VALUE_STATIC_KEY) | (arr[i].value.flags & OTEL_VALUE_STATIC_KEY));
        arr[i].value = v;
        return SET_STORED;
    }
    if (*count >= limit)
        return SET_DROPPED;
    if (*count == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 4;
        if (ncap > limit || ncap < *cap)
            ncap = limit;
        otel_attr *grown = otel__arena_alloc(a, (size_t)ncap * sizeof(*grown), 8);
        if (!grown)
            return SET_DROPPED;
        if (*count)
            memcpy(grown, arr, (size_t)*count * sizeof(*grown));
        *attrs = arr = grown;
        *cap = ncap;
    }
    struct otel__arena_mark m = otel__arena_mark(a);
    *key_lens |= len_bit;
    otel_attr *dst = &arr[*count];
    dst->key = src->key;
    if (!(src->value.flags & OTEL_VALUE_STATIC_KEY)) {
        char *k = otel__arena_strdup(a, src->key.data, src->key.len);
        if (!k)
            return SET_DROPPED;
        dst->key.data = k;
    }
    if (!copy_value(a, &dst->value, &src->value, max_len)) {
        otel__arena_rollback(a, m);
        return SET_DROPPED;
    }
    if (!(src->value.flags & OTEL_VALUE_STATIC_KEY))
        dst->value.flags &= (uint16_t)~OTEL_VALUE_STATIC_KEY;
    (*count)++;
    return SET_STORED;
}

void otel__log_invalid_attrs(uint32_t invalid)
{
    if (invalid)
        OTEL__LOG(OTEL_LOG_DEBUG,
                  "span: dropped %u invalid attribute(s) (empty key, empty value, or an array "
                  "that is not of bool, int, double or string)",
                  invalid);
}

uint32_t otel__record_set_attrs(struct otel__span_record *rec, const otel_attr *attrs, size_t count,
                                uint32_t *invalid)
{
    if (!attrs)
        return 0;
    const struct otel__limits *lim = &rec->provider->limits;
    otel_span_data *d = &rec->box.data;
    otel__record_dirty(rec);
    if (rec->attr_cap == 0 && count > 4 && lim->attr_count > 4) {
        /* Room for the whole call at once rather than growing 4, 8, 16 (the arena does not
         * give back a grown-out-of array). */
        uint32_t want = count < lim->attr_count ? (uint32_t)count : lim->attr_count;
        otel_attr *first = otel__arena_alloc(&rec->arena, (size_t)want * sizeof(*first), 8);
        if (first) {
            d->attrs = first;
            rec->attr_cap = want;
        }
    }
    otel_attr *arr = (otel_attr *)d->attrs;
    uint32_t dropped = 0;
    for (size_t i = 0; i < count; i++) {
        switch (attr_put(&rec->arena, &arr, &d->attr_count, &rec->attr_cap, &rec->attr_key_lens,
                         lim->attr_count, lim->attr_value_length, &attrs[i])) {
        case SET_STORED:
            break;
        case SET_DROPPED:
            d->dropped_attr_count++;
            dropped++;
            break;
        case SET_INVALID:
            (*invalid)++;
            dropped++;
            break;
        }
    }
    d->attrs = arr;
    return dropped;
}

/* Copies a list of event or link attributes (duplicates: the last wins) into an exact-size array.
 * Returns false only when the array itself cannot be allocated. */
static bool copy_attr_list(struct otel__arena *a, const otel_attr *src, size_t n, uint32_t limit,
                           uint32_t max_len, const otel_attr **out, uint32_t *out_count, uint32_t *dropped,
                           uint32_t *invalid)
{
    *out = NULL;
    *out_count = 0;
    if (!src || n == 0)
        return true;
    uint32_t cap = n < limit ? (uint32_t)n : limit;
    otel_attr *arr = NULL;
    if (cap) {
        arr = otel__arena_alloc(a, (size_t)cap * sizeof(*arr), 8);
        if (!arr)
            return false;
    }
    uint32_t count = 0, key_lens = 0;
    for (size_t i = 0; i < n; i++) {
        switch (attr_put(a, &arr, &count, &cap, &key_lens, limit, max_len, &src[i])) {
        case SET_STORED:
            break;
        case SET_DROPPED:
            (*dropped)++;
            break;
        case SET_INVALID:
            (*invalid)++;
            break;
        }
    }
    *out = arr;
    *out_count = count;
    return true;
}

bool otel__record_add_link(struct otel__span_record *rec, const otel_link *link, uint32_t *attrs_dropped)
{
    struct otel__provider *p = rec->provider;
    const struct otel__limits *lim = &p->limits;
    otel_span_data *d = &rec->box.data;
    otel__record_dirty(rec);
    uint8_t acc = 0;
    for (size_t i = 0; i < OTEL_TRACE_ID_SIZE; i++)
        acc |= link->context.trace_id[i];
    uint8_t acc2 = 0;
    for (size_t i = 0; i < OTEL_SPAN_ID_SIZE; i++)
        acc2 |= link->context.span_id[i];
    if ((!acc || !acc2) && !link->trace_state && !(link->attrs && link->attr_count))
        return true; /* says nothing: counted by the provider only */
    if (d->link_count >= lim->link_count) {
        d->dropped_link_count++;
        return true;
    }
    otel_link_data *links = (otel_link_data *)d->links;
    if (d->link_count == rec->link_cap) {
        uint32_t ncap = rec->link_cap ? rec->link_cap * 2 : 2;
        if (ncap > lim->link_count || ncap < rec->link_cap)
            ncap = lim->link_count;
        otel_link_data *grown = otel__arena_alloc(&rec->arena, (size_t)ncap * sizeof(*grown), 8);
        if (!grown) {
            d->dropped_link_count++;
            return true;
        }
        if (d->link_count)
            memcpy(grown, links, (size_t)d->link_count * sizeof(*grown));
        d->links = links = grown;
        rec->link_cap = ncap;
    }
    /* The mark after the growth: a grown array stays in use whatever happens next. */
    struct otel__arena_mark m = otel__arena_mark(&rec->arena);
    otel_link_data *l = &links[d->link_count];
    uint32_t dropped = 0, invalid = 0;
    if (!copy_attr_list(&rec->arena, link->attrs, link->attr_count, lim->link_attr_count,
                        lim->attr_value_length, &l->attrs, &l->attr_count, &dropped, &invalid)) {
        otel__arena_rollback(&rec->arena, m);
        d->dropped_link_count++;
        return true;
    }
    l->context = link->context;
    l->dropped_attr_count = dropped;
    l->trace_state = otel_trace_state_retain(link->trace_state);
    if (l->trace_state)
        rec->flags |= OTEL__REC_HAS_REFS;
    d->link_count++;
    *attrs_dropped += dropped + invalid;
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * The span operations
 * ------------------------------------------------------------------------------------------- */

/* Locks |rec| if |gen| still names a recording span; false (and unlocked) otherwise. */
static inline bool lock_live(struct otel__span_record *rec, uint64_t gen)
{
    /* Not recording: nothing to change, and no lock taken (a lock held by a thread that does not
     * exist in a forked child would stop the span's end there, see nonrecording_end). */
    if (atomic_load_explicit(&rec->gen, memory_order_relaxed) != gen ||
        atomic_load_explicit(&rec->state, memory_order_relaxed) != OTEL__REC_RECORDING)
        return false;
    otel__spin_lock(&rec->lock);
    /* seq_cst: see nonrecording_end. */
    if (atomic_load_explicit(&rec->gen, memory_order_seq_cst) != gen ||
        atomic_load_explicit(&rec->state, memory_order_relaxed) != OTEL__REC_RECORDING) {
        otel__spin_unlock(&rec->lock);
        return false;
    }
    return true;
}

/* The calling thread's counters for |rec|'s provider. */
static inline struct otel__thread *thread_of(struct otel__span_record *rec)
{
    return otel__thread_bind(&rec->provider->pool);
}

static void span_set_attrs(struct otel_span_impl *impl, uint64_t gen, const otel_attr *attrs, size_t count)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (!attrs || count == 0 || !lock_live(rec, gen))
        return;
    uint32_t invalid = 0;
    uint32_t dropped = otel__record_set_attrs(rec, attrs, count, &invalid);
    otel__spin_unlock(&rec->lock);
    if (__builtin_expect(dropped != 0, 0)) {
        OTEL__TCOUNT(thread_of(rec), attrs_dropped, dropped);
        otel__log_invalid_attrs(invalid);
    }
}

static void span_add_event(struct otel_span_impl *impl, uint64_t gen, otel_str name, int64_t time_ns,
                           const otel_attr *attrs, size_t attr_count)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (atomic_load_explicit(&rec->gen, memory_order_relaxed) != gen)
        return;
    if (time_ns == 0)
        time_ns = otel__clock_wall_now(); /* read before locking: keeps the lock short */
    if (!lock_live(rec, gen))
        return;
    otel__record_dirty(rec);
    struct otel__provider *p = rec->provider;
    const struct otel__limits *lim = &p->limits;
    otel_span_data *d = &rec->box.data;
    uint32_t attrs_dropped = 0, invalid = 0;
    bool event_dropped = true;

    if (d->event_count >= lim->event_count) {
        d->dropped_event_count++;
        goto out_unlock;
    }
    otel_event_data *events = (otel_event_data *)d->events;
    if (d->event_count == rec->event_cap) {
        uint32_t ncap = rec->event_cap ? rec->event_cap * 2 : 1;
        if (ncap > lim->event_count || ncap < rec->event_cap)
            ncap = lim->event_count;
        otel_event_data *grown = otel__arena_alloc(&rec->arena, (size_t)ncap * sizeof(*grown), 8);
        if (!grown)
            goto out_count_dropped;
        if (d->event_count)
            memcpy(grown, events, (size_t)d->event_count * sizeof(*grown));
        d->events = events = grown;
        rec->event_cap = ncap;
    }
    /* The mark after the growth: a grown array stays in use whatever happens next. */
    struct otel__arena_mark m = otel__arena_mark(&rec->arena);
    otel_event_data *e = &events[d->event_count];
    char *copied = str_ok(name) ? otel__arena_strdup(&rec->arena, name.data, name.len) : NULL;
    if (!copied)
        goto out_rollback;
    uint32_t edropped = 0;
    if (!copy_attr_list(&rec->arena, attrs, attr_count, lim->event_attr_count, lim->attr_value_length,
                        &e->attrs, &e->attr_count, &edropped, &invalid))
        goto out_rollback;
    e->name = (otel_str){ copied, name.len };
    e->time_ns = time_ns;
    e->dropped_attr_count = edropped;
    attrs_dropped = edropped + invalid;
    d->event_count++;
    event_dropped = false;
    goto out_unlock;

out_rollback:
    otel__arena_rollback(&rec->arena, m);
out_count_dropped:
    d->dropped_event_count++;
out_unlock:
    otel__spin_unlock(&rec->lock);
    if (__builtin_expect(event_dropped || attrs_dropped, 0)) {
        struct otel__thread *th = thread_of(rec);
        if (event_dropped)
            OTEL__TCOUNT(th, events_dropped, 1);
        if (attrs_dropped)
            OTEL__TCOUNT(th, attrs_dropped, attrs_dropped);
        otel__log_invalid_attrs(invalid);
    }
}

static void span_add_link(struct otel_span_impl *impl, uint64_t gen, const otel_link *link)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (!link || !lock_live(rec, gen))
        return;
    uint32_t attrs_dropped = 0;
    bool dropped = otel__record_add_link(rec, link, &attrs_dropped);
    otel__spin_unlock(&rec->lock);
    if (dropped || attrs_dropped) {
        struct otel__thread *th = thread_of(rec);
        if (dropped)
            OTEL__TCOUNT(th, links_dropped, 1);
        if (attrs_dropped)
            OTEL__TCOUNT(th, attrs_dropped, attrs_dropped);
    }
}

static void span_set_status(struct otel_span_impl *impl, uint64_t gen, otel_span_status_code code,
                            otel_str description)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if ((code != OTEL_SPAN_STATUS_OK && code != OTEL_SPAN_STATUS_ERROR) || !lock_live(rec, gen))
        return;
    otel_span_data *d = &rec->box.data;
    otel__record_dirty(rec);
    if (d->status_code != OTEL_SPAN_STATUS_OK) { /* OK is final */
        if (code == OTEL_SPAN_STATUS_OK) {
            d->status_code = OTEL_SPAN_STATUS_OK;
            d->status_description = (otel_str){ "", 0 };
        } else {
            d->status_code = OTEL_SPAN_STATUS_ERROR;
            otel_str desc = { "", 0 };
            if (description.len && description.data) {
                /* A description that cannot be copied is lost; the status is still ERROR. */
                char *p = otel__arena_strdup(&rec->arena, description.data, description.len);
                if (p)
                    desc = (otel_str){ p, description.len };
            }
            d->status_description = desc;
        }
    }
    otel__spin_unlock(&rec->lock);
}

static void span_update_name(struct otel_span_impl *impl, uint64_t gen, otel_str name)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (!str_ok(name) || !lock_live(rec, gen))
        return;
    otel_span_data *d = &rec->box.data;
    /* The record's own copy is overwritten when the new name fits in it (no NUL after it: a
     * name in name_buf may fill the buffer). */
    if ((rec->flags & OTEL__REC_NAME_COPIED) && name.len <= d->name.len) {
        if (name.len)
            memmove((char *)d->name.data, name.data, name.len);
        d->name.len = name.len;
    } else if (name.len <= OTEL__NAME_INLINE) {
        if (name.len)
            memmove(rec->name_buf, name.data, name.len);
        d->name = (otel_str){ rec->name_buf, name.len };
        rec->flags |= OTEL__REC_NAME_COPIED;
    } else {
        char *p = otel__arena_strdup(&rec->arena, name.data, name.len);
        if (p) {
            d->name = (otel_str){ p, name.len };
            rec->flags |= OTEL__REC_NAME_COPIED;
        }
    }
    otel__spin_unlock(&rec->lock);
}

static bool span_is_recording(struct otel_span_impl *impl, uint64_t gen)
{
    /* end() bumps the generation, so a matching generation means "not ended yet"; the state
     * tells a recording span from a dropped one. Both are re-checked in that order: a state
     * read for a record that moved on is discarded by the second generation check. */
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (atomic_load_explicit(&rec->gen, memory_order_acquire) != gen)
        return false;
    bool recording = atomic_load_explicit(&rec->state, memory_order_acquire) == OTEL__REC_RECORDING;
    return recording && atomic_load_explicit(&rec->gen, memory_order_relaxed) == gen;
}

/* Draws the ids of a lazy non-recording span (tracer.c, start_nonrecording_lazy) on first
 * demand, under the record's lock so concurrent readers agree; false for a stale handle. */
static __attribute__((noinline)) bool materialize_ids(struct otel__span_record *rec, uint64_t gen)
{
    otel__spin_lock(&rec->lock);
    if (atomic_load_explicit(&rec->gen, memory_order_seq_cst) != gen) { /* see nonrecording_end */
        otel__spin_unlock(&rec->lock);
        return false;
    }
    if (atomic_load_explicit(&rec->state, memory_order_relaxed) == OTEL__REC_NONRECORDING_LAZY) {
        otel_span_context sc;
        if (rec->flags & OTEL__REC_LAZY_ROOT) {
            otel__random_trace_id(sc.trace_id);
            sc.trace_flags = OTEL_TRACE_FLAG_RANDOM;
        } else {
            otel__record_load_context(rec, &sc);
        }
        otel__random_span_id(sc.span_id);
        sc.is_remote = false;
        otel__record_store_context(rec, &sc);
        atomic_store_explicit(&rec->state, OTEL__REC_NONRECORDING, memory_order_release);
    }
    otel__spin_unlock(&rec->lock);
    return true;
}

/* Lock-free, like a sequence lock: the generation, then the words, then the generation again. A
 * reader that saw words of a newer span also sees the generation bump that preceded them
 * (release stores in otel__record_store_context, acquire loads here) and discards them. */
static bool span_get_context(struct otel_span_impl *impl, uint64_t gen, otel_span_context *out)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (atomic_load_explicit(&rec->gen, memory_order_acquire) != gen)
        return false;
    if (__builtin_expect(
            atomic_load_explicit(&rec->state, memory_order_acquire) == OTEL__REC_NONRECORDING_LAZY, 0) &&
        !materialize_ids(rec, gen))
        return false;
    otel_span_context sc;
    otel__record_load_context(rec, &sc);
    if (atomic_load_explicit(&rec->gen, memory_order_relaxed) != gen)
        return false;
    *out = sc;
    return true;
}

static otel_trace_state *span_get_trace_state(struct otel_span_impl *impl, uint64_t gen)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (atomic_load_explicit(&rec->gen, memory_order_acquire) != gen)
        return NULL;
    /* Most spans have no trace state: say so without the lock. */
    if (!__atomic_load_n(&rec->box.data.trace_state, __ATOMIC_ACQUIRE))
        return NULL;
    otel__spin_lock(&rec->lock);
    otel_trace_state *ts = NULL;
    if (atomic_load_explicit(&rec->gen, memory_order_seq_cst) == gen) /* see nonrecording_end */
        ts = otel_trace_state_retain(rec->box.data.trace_state);
    otel__spin_unlock(&rec->lock);
    return ts;
}

static bool span_snapshot(struct otel_span_impl *impl, uint64_t gen, otel_span_context *out,
                          otel_trace_state **ts_out)
{
    if (!span_get_context(impl, gen, out))
        return false;
    *ts_out = span_get_trace_state(impl, gen);
    return true;
}

/* End of a span the sampler dropped: exactly one end wins the generation, then the record goes
 * straight back to the pool (after waiting out a stale get_trace_state under the lock). */
static __attribute__((noinline)) void nonrecording_end(struct otel__span_record *rec, uint64_t gen)
{
    uint64_t expected = gen;
    if (!atomic_compare_exchange_strong_explicit(&rec->gen, &expected, gen + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return;
    /* A reader holding the lock (materialize_ids drawing the ids, get_trace_state taking a
     * reference) took it before the generation changed and may still write or read the record:
     * wait it out before the record can serve another span. No need to take the lock: a reader
     * that takes it after the change sees the new generation and leaves (the compare-exchange
     * above, the lock's exchange and the generation and lock loads are all sequentially
     * consistent, so one side sees the other's write). */
    while (atomic_load_explicit(&rec->lock, memory_order_seq_cst))
        otel__cpu_relax();
    if (rec->flags & OTEL__REC_HAS_REFS) {
        otel_trace_state *ts = (otel_trace_state *)rec->box.data.trace_state;
        __atomic_store_n(&rec->box.data.trace_state, NULL, __ATOMIC_RELAXED);
        otel_trace_state_release(ts);
    }
    atomic_store_explicit(&rec->state, OTEL__REC_FREE, memory_order_relaxed);
    otel__pool_put(&rec->provider->pool, rec);
}

/* The rest of a recording span's end when it is not the common case (the calling thread not
 * bound to the provider yet, a shut-down provider, processors other than one batch processor):
 * the handle is retired and the end time stored already. */
static __attribute__((noinline)) void recording_end_finish(struct otel__span_record *rec)
{
    otel_span_data *d = &rec->box.data;
    struct otel__provider *p = rec->provider;
    struct otel__thread *th = otel__thread_bind(&p->pool);
    OTEL__TCOUNT(th, spans_ended, 1);
    atomic_store_explicit(&rec->box.refs, 1u, memory_order_relaxed);
    if (__builtin_expect(atomic_load_explicit(&p->shut_down, memory_order_acquire), 0)) {
        OTEL__TCOUNT(th, spans_dropped, 1);
    } else if (p->fast_batch) {
        /* The batch processor takes the record's one reference over. */
        if (otel__batch_enqueue_owned(p->fast_batch, th, d))
            return;
    } else {
        for (size_t i = 0; i < p->processor_count; i++)
            p->processors[i].on_end(p->processors[i].user_data, d);
    }
    otel__span_record_release(rec);
}

/* Gives back the reference of a span the batch processor did not queue (out of line: only |d|
 * then lives across the enqueue's call). */
static __attribute__((noinline)) void release_refused(const otel_span_data *d)
{
    otel__span_record_release(otel__record_of_data(d));
}

/* The end time and the rest of the end when the time is not a TSC delta: given by the caller,
 * a span with an explicit start time (no start tick), ticks that are not TSC cycles. */
static __attribute__((noinline)) void recording_end_timed(struct otel__span_record *rec, int64_t end_time_ns)
{
    otel_span_data *d = &rec->box.data;
    if (end_time_ns == 0)
        end_time_ns = rec->tick_mode ? otel__clock_end(rec->tick_mode, rec->start_tick, d->start_time_ns)
                                     : otel__clock_wall_now();
    d->end_time_ns = end_time_ns < d->start_time_ns ? d->start_time_ns : end_time_ns;
    if (__builtin_expect(otel__arena_total_cap(&rec->arena) > OTEL__ARENA_KEEP_BYTES, 0))
        rec->flags |= OTEL__REC_BIG_ARENA;
    recording_end_finish(rec);
}

/* End of a recording span, without taking the record's lock: the same protocol as
 * nonrecording_end. Exactly one end wins the compare-exchange of the generation; every setter,
 * and every reader that locks (get_trace_state), takes the lock and then re-reads the generation,
 * both sequentially consistent, as is the compare-exchange and the load of the lock word below.
 * So either such a thread sees the new generation and leaves without touching the data, or this
 * end sees its lock and waits until it has unlocked (a release store: its writes are then
 * visible here). After the wait nobody else writes the record, and no lock is needed for the
 * rest. Only the winner writes the state. The clock is read after the handle is dead. */
static inline __attribute__((always_inline)) void recording_end(struct otel__span_record *rec, uint64_t gen,
                                                                int64_t end_time_ns)
{
    uint64_t expected = gen;
    if (!atomic_compare_exchange_strong_explicit(&rec->gen, &expected, gen + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return;
    while (__builtin_expect(atomic_load_explicit(&rec->lock, memory_order_seq_cst) != 0, 0))
        otel__cpu_relax();
    atomic_store_explicit(&rec->state, OTEL__REC_ENDED, memory_order_relaxed);

    otel_span_data *d = &rec->box.data;
#if defined(__x86_64__)
    /* The start time plus the TSC ticks elapsed (never before the start), when the span started
     * in TSC mode and the clock is still in it; everything else on the slow path, which leaves
     * no call here that returns before the enqueue. */
    if (__builtin_expect(end_time_ns != 0 || rec->tick_mode != OTEL__CLOCK_TSC ||
                             otel__clock_mode() != OTEL__CLOCK_TSC,
                         0)) {
        recording_end_timed(rec, end_time_ns);
        return;
    }
    int64_t ticks = (int64_t)__builtin_ia32_rdtsc() - rec->start_tick;
    int64_t ns = 0;
    if (__builtin_expect(ticks > 0, 1)) {
        /* otel__clock_ticks_to_ns as one unsigned 64 x 64 -> 128 multiply (GCC 12 made a signed
         * one of it, three instructions more). */
        uint64_t lo = (uint64_t)ticks, hi;
        __asm__("mulq %2"
                : "+a"(lo), "=d"(hi)
                : "r"(atomic_load_explicit(&otel__clock_g.mult, memory_order_relaxed))
                : "cc");
        ns = (int64_t)((hi << 32) | (lo >> 32));
    }
    d->end_time_ns = d->start_time_ns + ns;
#else
    recording_end_timed(rec, end_time_ns);
    return;
#endif
    if (__builtin_expect(otel__arena_total_cap(&rec->arena) > OTEL__ARENA_KEEP_BYTES, 0))
        rec->flags |= OTEL__REC_BIG_ARENA;

    struct otel__provider *p = rec->provider;
    struct otel__thread *th = OTEL__TLS_ADDR(otel__thread_tls);
    struct otel__batch *b = p->fast_batch;
    if (__builtin_expect(th->serial != p->pool.serial || !b ||
                             atomic_load_explicit(&p->shut_down, memory_order_acquire),
                         0)) {
        recording_end_finish(rec);
        return;
    }
    OTEL__TCOUNT(th, spans_ended, 1);
    atomic_store_explicit(&rec->box.refs, 1u, memory_order_relaxed);
    /* The batch processor takes the record's one reference over. */
    if (__builtin_expect(!otel__batch_enqueue_owned(b, th, d), 0))
        release_refused(d);
}

/* A small dispatcher, so each kind of span pays only for its own path. Both paths start with
 * the compare-exchange of the generation, which fails for a stale handle: the state read here
 * may then belong to another span of the record (or none), and which path fails does not
 * matter. */
static void span_end(struct otel_span_impl *impl, uint64_t gen, int64_t end_time_ns)
{
    struct otel__span_record *rec = OTEL__RECORD_FROM_IMPL(impl);
    if (atomic_load_explicit(&rec->state, memory_order_relaxed) >= OTEL__REC_NONRECORDING)
        nonrecording_end(rec, gen);
    else
        recording_end(rec, gen, end_time_ns);
}

const struct otel_span_ops otel__span_ops = {
    .set_attrs = span_set_attrs,
    .add_event = span_add_event,
    .add_link = span_add_link,
    .set_status = span_set_status,
    .update_name = span_update_name,
    .is_recording = span_is_recording,
    .get_context = span_get_context,
    .get_trace_state = span_get_trace_state,
    .end = span_end,
    .snapshot = span_snapshot,
};

/* ---------------------------------------------------------------------------------------------
 * Recycling
 * ------------------------------------------------------------------------------------------- */

void otel__span_record_release_refs(struct otel__span_record *rec)
{
    otel_span_data *d = &rec->box.data;
    otel_trace_state *ts = (otel_trace_state *)d->trace_state;
    /* A stale get_trace_state may look at the pointer (never retains it: its generation check
     * under the lock fails), so the store is atomic. */
    __atomic_store_n(&d->trace_state, NULL, __ATOMIC_RELAXED);
    otel_trace_state_release(ts);
    for (uint32_t i = 0; i < d->link_count; i++)
        otel_trace_state_release(d->links[i].trace_state);
    d->link_count = 0;
    d->links = NULL;
    rec->flags &= (uint8_t)~OTEL__REC_HAS_REFS;
}

/* Runs on whichever thread drops the last reference (the exporter's, typically), so it touches
 * only the record's first cache line unless the flags ask for more; the arena is emptied by the
 * next start, on the thread that fills it. */
void otel__span_record_recycle(struct otel__span_record *rec)
{
    if (__builtin_expect(rec->flags & (OTEL__REC_HAS_REFS | OTEL__REC_BIG_ARENA), 0)) {
        if (rec->flags & OTEL__REC_HAS_REFS)
            otel__span_record_release_refs(rec);
        if (rec->flags & OTEL__REC_BIG_ARENA)
            otel__arena_reset_slow(&rec->arena); /* frees the chunks beyond the keep limit */
        rec->flags = 0;
    }
    atomic_store_explicit(&rec->state, OTEL__REC_FREE, memory_order_relaxed);
    otel__pool_put(&rec->provider->pool, rec);
}

void otel__span_record_cleanup(struct otel__span_record *rec)
{
    if (atomic_load_explicit(&rec->state, memory_order_relaxed) != OTEL__REC_FREE &&
        (rec->flags & OTEL__REC_HAS_REFS))
        otel__span_record_release_refs(rec);
    otel__arena_free(&rec->arena);
}
