/* Baggage: an immutable, reference-counted list of (name, value, metadata) entries in insertion
 * order, stored as one allocation like the trace state. Names, values and metadata are arbitrary
 * bytes; the baggage propagator percent-encodes them on the wire. The size limit is checked
 * against the unencoded header form, name=value[;metadata] joined with ',', which is what the
 * W3C 8192-byte limit measures when nothing needs encoding. */
#include <stdatomic.h>
#include <string.h>

#include "context_internal.h"
#include "mem.h"
#include "otel/baggage.h"

struct bg_entry {
    size_t name_off;
    size_t name_len;
    size_t value_off;
    size_t value_len;
    size_t meta_off;
    size_t meta_len;
};

struct otel_baggage {
    _Atomic uint32_t refs;
    uint32_t count;
    struct bg_entry entries[]; /* |count| of them, then the bytes they point into */
};

/* One entry being assembled: slices borrowed from the caller or an existing baggage. */
struct bg_triple {
    otel_str name;
    otel_str value;
    otel_str meta;
};

static inline const char *bg_bytes(const otel_baggage *b)
{
    return (const char *)&b->entries[b->count];
}

static struct bg_triple bg_get_triple(const otel_baggage *b, size_t i)
{
    const struct bg_entry *e = &b->entries[i];
    const char *bytes = bg_bytes(b);
    return (struct bg_triple){
        { bytes + e->name_off, e->name_len },
        { bytes + e->value_off, e->value_len },
        { bytes + e->meta_off, e->meta_len },
    };
}

/* Size of one entry in the header form, without the ',' separating it from the next. */
static size_t triple_size(const struct bg_triple *t)
{
    return t->name.len + 1 + t->value.len + (t->meta.len ? 1 + t->meta.len : 0);
}

static otel_baggage *bg_build(const struct bg_triple *t, size_t count)
{
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++)
        bytes += t[i].name.len + t[i].value.len + t[i].meta.len;
    otel_baggage *b = otel__malloc(sizeof(*b) + count * sizeof(b->entries[0]) + bytes);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->count = (uint32_t)count;
    char *dst = (char *)&b->entries[count];
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        struct bg_entry *e = &b->entries[i];
        e->name_off = off;
        e->name_len = t[i].name.len;
        if (t[i].name.len)
            memcpy(dst + off, t[i].name.data, t[i].name.len);
        off += t[i].name.len;
        e->value_off = off;
        e->value_len = t[i].value.len;
        if (t[i].value.len)
            memcpy(dst + off, t[i].value.data, t[i].value.len);
        off += t[i].value.len;
        e->meta_off = off;
        e->meta_len = t[i].meta.len;
        if (t[i].meta.len)
            memcpy(dst + off, t[i].meta.data, t[i].meta.len);
        off += t[i].meta.len;
    }
    return b;
}

otel_baggage *otel_baggage_retain(const otel_baggage *b)
{
    otel_baggage *m = (otel_baggage *)b;
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void otel_baggage_release(const otel_baggage *b)
{
    otel_baggage *m = (otel_baggage *)b;
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        otel__free(m);
}

size_t otel_baggage_count(const otel_baggage *b)
{
    return b ? b->count : 0;
}

bool otel_baggage_entry(const otel_baggage *b, size_t index, otel_str *name, otel_str *value,
                        otel_str *metadata)
{
    if (!b || index >= b->count)
        return false;
    struct bg_triple t = bg_get_triple(b, index);
    if (name)
        *name = t.name;
    if (value)
        *value = t.value;
    if (metadata)
        *metadata = t.meta;
    return true;
}

static bool bg_find(const otel_baggage *b, otel_str name, size_t *index)
{
    for (size_t i = 0; b && i < b->count; i++) {
        const struct bg_entry *e = &b->entries[i];
        if (otel_str_eq((otel_str){ bg_bytes(b) + e->name_off, e->name_len }, name)) {
            *index = i;
            return true;
        }
    }
    return false;
}

bool otel_baggage_get(const otel_baggage *b, otel_str name, otel_str *value, otel_str *metadata)
{
    size_t i;
    if (!bg_find(b, name, &i))
        return false;
    struct bg_triple t = bg_get_triple(b, i);
    if (value)
        *value = t.value;
    if (metadata)
        *metadata = t.meta;
    return true;
}

otel_status otel_baggage_set(const otel_baggage *b, otel_str name, otel_str value, otel_str metadata,
                             otel_baggage **out)
{
    if (!out || name.len == 0 || !name.data || (value.len && !value.data) || (metadata.len && !metadata.data))
        return OTEL_ERR_INVALID_ARG;
    size_t old_count = otel_baggage_count(b);
    size_t replace = SIZE_MAX;
    bg_find(b, name, &replace);
    size_t count = replace == SIZE_MAX ? old_count + 1 : old_count;
    if (count > OTEL_BAGGAGE_MAX_MEMBERS)
        return OTEL_ERR_LIMIT;

    /* Check the size before allocating: each length is at most the limit once checked, so the
     * sums below cannot overflow. */
    struct bg_triple fresh = { name, value, metadata };
    if (name.len > OTEL_BAGGAGE_MAX_BYTES || value.len > OTEL_BAGGAGE_MAX_BYTES ||
        metadata.len > OTEL_BAGGAGE_MAX_BYTES)
        return OTEL_ERR_LIMIT;
    size_t total = triple_size(&fresh);
    for (size_t i = 0; i < old_count; i++) {
        if (i == replace)
            continue;
        struct bg_triple t = bg_get_triple(b, i);
        total += 1 + triple_size(&t);
    }
    if (total > OTEL_BAGGAGE_MAX_BYTES)
        return OTEL_ERR_LIMIT;

    struct bg_triple triples[OTEL_BAGGAGE_MAX_MEMBERS];
    for (size_t i = 0; i < old_count; i++)
        triples[i] = i == replace ? fresh : bg_get_triple(b, i);
    if (replace == SIZE_MAX)
        triples[old_count] = fresh;
    otel_baggage *n = bg_build(triples, count);
    if (!n)
        return OTEL_ERR_NOMEM;
    *out = n;
    return OTEL_OK;
}

otel_status otel_baggage_remove(const otel_baggage *b, otel_str name, otel_baggage **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    size_t skip;
    if (!bg_find(b, name, &skip)) {
        *out = otel_baggage_retain(b);
        return OTEL_OK;
    }
    if (b->count == 1) {
        *out = NULL;
        return OTEL_OK;
    }
    struct bg_triple triples[OTEL_BAGGAGE_MAX_MEMBERS];
    size_t count = 0;
    for (size_t i = 0; i < b->count; i++)
        if (i != skip)
            triples[count++] = bg_get_triple(b, i);
    otel_baggage *n = bg_build(triples, count);
    if (!n)
        return OTEL_ERR_NOMEM;
    *out = n;
    return OTEL_OK;
}

const otel_baggage *otel_baggage_current(void)
{
    return otel__context_current_baggage();
}
