/* Resources: the immutable, reference-counted set of attributes that describes the entity
 * producing telemetry. A resource keeps its attributes, their array items and every string
 * (each NUL-terminated) in one allocation, so sharing it between spans and threads costs an
 * atomic increment and freeing it costs one free. Also parses OTEL_RESOURCE_ATTRIBUTES and
 * builds the SDK's default resource (service, telemetry.sdk.*, process and host). */
#include "otel/sdk/resource.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_internal.h"
#include "mem.h"
#include "utf8.h"

struct otel_resource {
    _Atomic size_t refs;
    size_t count;
    otel_attr *attrs; /* |count| entries, inside this allocation */
    otel_str schema_url;
    /* Then: the attributes, the array items, the string bytes. */
};

/* The attributes a resource is built from, seen as one sequence of two segments: merge passes
 * the base's and the update's attributes without concatenating them first. */
struct attr_seq {
    const otel_attr *a;
    size_t na;
    const otel_attr *b;
    size_t nb;
};

static const otel_attr *seq_at(const struct attr_seq *s, size_t i)
{
    return i < s->na ? &s->a[i] : &s->b[i - s->na];
}

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* Adds |n| to |*total|; false on overflow. */
static bool size_add(size_t *total, size_t n)
{
    if (n > SIZE_MAX - *total)
        return false;
    *total += n;
    return true;
}

/* True for a value a resource can hold: a scalar, a string or bytes with storage, or a
 * homogeneous array of scalars or strings. The empty value says nothing about the entity, so a
 * resource does not keep it. */
static bool value_is_valid(const otel_value *v)
{
    switch (v->type) {
    case OTEL_VALUE_BOOL:
    case OTEL_VALUE_INT:
    case OTEL_VALUE_DOUBLE:
        return true;
    case OTEL_VALUE_STR:
    case OTEL_VALUE_BYTES:
        return v->as.s.data != NULL || v->as.s.len == 0;
    case OTEL_VALUE_ARRAY: {
        size_t item = otel_value_array_item_size((otel_value_type)v->array_type);
        if (item == 0)
            return false;
        if (v->as.array.len == 0)
            return true;
        if (!v->as.array.items || v->as.array.len > SIZE_MAX / 64)
            return false;
        if (v->array_type == OTEL_VALUE_STR) {
            const otel_str *items = v->as.array.items;
            for (size_t i = 0; i < v->as.array.len; i++)
                if (!items[i].data && items[i].len != 0)
                    return false;
        }
        return true;
    }
    case OTEL_VALUE_EMPTY:
    default:
        return false;
    }
}

static bool attr_is_valid(const otel_attr *a)
{
    return a->key.len > 0 && a->key.data != NULL && value_is_valid(&a->value);
}

static void report_invalid(const otel_attr *a)
{
    if (a->key.len == 0 || !a->key.data)
        otel__log(OTEL_LOG_WARN, "resource: attribute with an empty key skipped");
    else
        otel__log(OTEL_LOG_WARN, "resource: attribute \"%.*s\" has an invalid value; skipped",
                  (int)(a->key.len > 200 ? 200 : a->key.len), a->key.data);
}

/* For a repeated key the last valid value wins, at the place of the first valid occurrence (so
 * a merge keeps the base's order: service.name stays first). Returns the attribute that goes
 * into the resource at position |i|, or NULL when nothing does: |i| is invalid, or a valid
 * attribute with its key came earlier. */
static const otel_attr *attr_at_slot(const struct attr_seq *s, size_t i)
{
    const otel_attr *a = seq_at(s, i);
    if (!attr_is_valid(a))
        return NULL;
    for (size_t j = 0; j < i; j++) {
        const otel_attr *b = seq_at(s, j);
        if (otel_str_eq(a->key, b->key) && attr_is_valid(b))
            return NULL;
    }
    size_t n = s->na + s->nb;
    for (size_t j = n; j-- > i + 1;) {
        const otel_attr *b = seq_at(s, j);
        if (otel_str_eq(a->key, b->key) && attr_is_valid(b))
            return b;
    }
    return a;
}

/* Bytes of array items and of strings (each with its NUL) that attribute |a| needs. */
static bool attr_sizes(const otel_attr *a, size_t *items, size_t *strs)
{
    if (!size_add(strs, a->key.len) || !size_add(strs, 1))
        return false;
    const otel_value *v = &a->value;
    if (v->type == OTEL_VALUE_STR || v->type == OTEL_VALUE_BYTES)
        return size_add(strs, v->as.s.len) && size_add(strs, 1);
    if (v->type != OTEL_VALUE_ARRAY)
        return true;
    *items = align_up(*items, alignof(max_align_t));
    if (!size_add(items, v->as.array.len * otel_value_array_item_size((otel_value_type)v->array_type)))
        return false;
    if (v->array_type == OTEL_VALUE_STR) {
        const otel_str *s = v->as.array.items;
        for (size_t i = 0; i < v->as.array.len; i++)
            if (!size_add(strs, s[i].len) || !size_add(strs, 1))
                return false;
    }
    return true;
}

/* Copies |len| bytes to the string area and NUL-terminates them. */
static otel_str put_str(char **strs, const char *data, size_t len)
{
    char *p = *strs;
    if (len)
        memcpy(p, data, len);
    p[len] = '\0';
    *strs = p + len + 1;
    return (otel_str){ p, len };
}

static void copy_attr(otel_attr *dst, const otel_attr *src, char **items, char **strs)
{
    dst->key = put_str(strs, src->key.data, src->key.len);
    dst->value = src->value;
    /* The copy belongs to the resource: nothing in it points at the caller's memory. */
    dst->value.flags = 0;
    const otel_value *v = &src->value;
    if (v->type == OTEL_VALUE_STR || v->type == OTEL_VALUE_BYTES) {
        dst->value.as.s = put_str(strs, v->as.s.data, v->as.s.len);
    } else if (v->type == OTEL_VALUE_ARRAY) {
        size_t len = v->as.array.len;
        /* The item area starts max_align_t-aligned, so aligning the address here matches the
         * offsets attr_sizes() counted. */
        char *base = *items;
        uintptr_t addr = (uintptr_t)base;
        base += align_up(addr, alignof(max_align_t)) - addr;
        if (v->array_type == OTEL_VALUE_STR) {
            const otel_str *from = v->as.array.items;
            otel_str *to = (otel_str *)(void *)base;
            for (size_t i = 0; i < len; i++)
                to[i] = put_str(strs, from[i].data, from[i].len);
        } else if (len) {
            memcpy(base, v->as.array.items, len * otel_value_array_item_size((otel_value_type)v->array_type));
        }
        dst->value.as.array.items = len ? base : NULL;
        *items = base + len * otel_value_array_item_size((otel_value_type)v->array_type);
    }
}

/* Builds a resource from the attributes of |s| (invalid ones skipped and, with |report|,
 * reported; for a repeated key the last one wins, see attr_at_slot()) and |schema_url|. */
static otel_status build(const struct attr_seq *s, otel_str schema_url, bool report, otel_resource **out)
{
    size_t n = s->na + s->nb;
    size_t count = 0, items = 0, strs = 0;
    for (size_t i = 0; i < n; i++) {
        if (report && !attr_is_valid(seq_at(s, i)))
            report_invalid(seq_at(s, i));
        const otel_attr *a = attr_at_slot(s, i);
        if (!a)
            continue;
        count++;
        if (!attr_sizes(a, &items, &strs))
            return OTEL_ERR_NOMEM;
    }
    if (!schema_url.data)
        schema_url.len = 0;
    if (!size_add(&strs, schema_url.len) || !size_add(&strs, 1))
        return OTEL_ERR_NOMEM;

    /* Layout: header | attrs | items (each array max_align_t-aligned) | strings. */
    size_t off_attrs = align_up(sizeof(struct otel_resource), alignof(max_align_t));
    if (count > (SIZE_MAX - off_attrs) / sizeof(otel_attr))
        return OTEL_ERR_NOMEM;
    size_t off_items = align_up(off_attrs + count * sizeof(otel_attr), alignof(max_align_t));
    size_t total = off_items;
    if (!size_add(&total, items) || !size_add(&total, alignof(max_align_t)) || !size_add(&total, strs))
        return OTEL_ERR_NOMEM;
    size_t off_strs = total - strs;

    char *mem = otel__malloc(total);
    if (!mem)
        return OTEL_ERR_NOMEM;
    otel_resource *r = (otel_resource *)(void *)mem;
    atomic_init(&r->refs, 1);
    r->count = count;
    r->attrs = (otel_attr *)(void *)(mem + off_attrs);
    char *item_p = mem + off_items;
    char *str_p = mem + off_strs;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const otel_attr *a = attr_at_slot(s, i);
        if (a)
            copy_attr(&r->attrs[k++], a, &item_p, &str_p);
    }
    r->schema_url = put_str(&str_p, schema_url.data, schema_url.len);
    *out = r;
    return OTEL_OK;
}

otel_status otel_resource_create(const otel_attr *attrs, size_t count, otel_str schema_url,
                                 otel_resource **out)
{
    if (!out || (!attrs && count > 0))
        return OTEL_ERR_INVALID_ARG;
    struct attr_seq s = { attrs, count, NULL, 0 };
    return build(&s, schema_url, true, out);
}

otel_resource *otel_resource_retain(const otel_resource *r)
{
    otel_resource *m = (otel_resource *)r;
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void otel_resource_release(const otel_resource *r)
{
    otel_resource *m = (otel_resource *)r;
    if (!m)
        return;
    /* acq_rel: our last reads happen before the free, and the freeing thread sees everyone's.
     * (A release decrement plus an acquire fence is cheaper, but ThreadSanitizer does not
     * understand fences.) */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        otel__free(m);
}

otel_status otel_resource_merge(const otel_resource *base, const otel_resource *update, otel_resource **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    otel_str bs = otel_resource_schema_url(base);
    otel_str us = otel_resource_schema_url(update);
    otel_str schema = bs.len ? bs : us;
    if (bs.len && us.len && !otel_str_eq(bs, us)) {
        /* The specification calls this a merging error and leaves the outcome to the SDK; an
         * empty schema URL claims nothing that might be wrong for half of the attributes. */
        otel__log(OTEL_LOG_WARN,
                  "resource: merging resources with different schema URLs (%.*s and %.*s); the "
                  "merged resource has none",
                  (int)(bs.len > 200 ? 200 : bs.len), bs.data, (int)(us.len > 200 ? 200 : us.len), us.data);
        schema = (otel_str){ NULL, 0 };
    }
    struct attr_seq s = { base ? base->attrs : NULL, base ? base->count : 0, update ? update->attrs : NULL,
                          update ? update->count : 0 };
    return build(&s, schema, false, out);
}

/* ---------------------------------------------------------------------------------------------
 * The default resource
 * ------------------------------------------------------------------------------------------- */

/* The process name as the kernel reports it (/proc/self/comm, what process.executable.name
 * means on Linux). The kernel cuts it at 15 bytes; when program_invocation_short_name (argv[0]'s
 * base name) continues it, that longer form is the real name. */
static size_t process_name(char *buf, size_t cap)
{
    size_t len = 0;
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n;
        do
            n = read(fd, buf, cap - 1);
        while (n < 0 && errno == EINTR);
        close(fd);
        if (n > 0) {
            len = (size_t)n;
            while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\0'))
                len--;
        }
    }
    const char *inv = program_invocation_short_name;
    size_t inv_len = inv ? strlen(inv) : 0;
    if (inv_len > 0 && inv_len < cap &&
        (len == 0 || (len >= 15 && inv_len > len && memcmp(inv, buf, len) == 0))) {
        memcpy(buf, inv, inv_len);
        len = inv_len;
    }
    buf[len] = '\0';
    return len;
}

otel_status otel_resource_default(otel_resource **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    static const char prefix[] = "unknown_service:";
    char service[sizeof(prefix) + 256];
    char host[256 + 1];
    otel_attr attrs[7];
    size_t n = 0;

    memcpy(service, prefix, sizeof(prefix) - 1);
    char *name = service + sizeof(prefix) - 1;
    size_t name_len = process_name(name, sizeof(service) - (sizeof(prefix) - 1));
    /* The specification's fallback when even the process name is unknown: "unknown_service". */
    otel_str service_str = { service, name_len ? sizeof(prefix) - 1 + name_len : sizeof(prefix) - 2 };
    attrs[n++] = (otel_attr){ OTEL_STR("service.name"), otel_value_str(service_str) };
    attrs[n++] = OTEL_ATTR_STR_LIT("telemetry.sdk.name", "otelc");
    attrs[n++] = OTEL_ATTR_STR_LIT("telemetry.sdk.language", "c");
    attrs[n++] = OTEL_ATTR_STR_LIT("telemetry.sdk.version", OTEL_VERSION_STRING);
    attrs[n++] = OTEL_ATTR_INT("process.pid", getpid());
    if (name_len > 0)
        attrs[n++] =
            (otel_attr){ OTEL_STR("process.executable.name"), otel_value_str((otel_str){ name, name_len }) };
    /* gethostname() may not terminate a name that fills the buffer. */
    if (gethostname(host, sizeof(host) - 1) == 0) {
        host[sizeof(host) - 1] = '\0';
        size_t host_len = strlen(host);
        if (host_len > 0)
            attrs[n++] = (otel_attr){ OTEL_STR("host.name"), otel_value_str((otel_str){ host, host_len }) };
    }
    struct attr_seq s = { attrs, n, NULL, 0 };
    return build(&s, (otel_str){ NULL, 0 }, false, out);
}

/* ---------------------------------------------------------------------------------------------
 * OTEL_RESOURCE_ATTRIBUTES
 * ------------------------------------------------------------------------------------------- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static otel_str trim(otel_str s)
{
    while (s.len > 0 && is_ows(s.data[0])) {
        s.data++;
        s.len--;
    }
    while (s.len > 0 && is_ows(s.data[s.len - 1]))
        s.len--;
    return s;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes |in| (into |tmp|, room for in.len bytes) and writes the result to |out| (room
 * for 3 * in.len bytes) with every byte that is not part of valid UTF-8 replaced by U+FFFD, as
 * W3C Baggage asks of decoders: exporters need attribute strings in valid UTF-8. Returns false
 * for a '%' not followed by two hex digits. */
static bool percent_decode(otel_str in, char *tmp, char *out, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.data[i];
        if (c == '%') {
            if (in.len - i < 3)
                return false;
            int h = hex_val(in.data[i + 1]), l = hex_val(in.data[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = (char)(h << 4 | l);
            i += 2;
        }
        tmp[n++] = c;
    }
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t l = otel__utf8_seq_len((const unsigned char *)tmp + i, n - i);
        if (l == 0) {
            out[w++] = (char)0xef;
            out[w++] = (char)0xbf;
            out[w++] = (char)0xbd;
            i++;
        } else {
            memcpy(out + w, tmp + i, l);
            w += l;
            i += l;
        }
    }
    *out_len = w;
    return true;
}

otel_status otel_resource_parse(otel_str attributes, otel_str service_name, const char *source,
                                otel_resource **out)
{
    if (!out)
        return OTEL_ERR_INVALID_ARG;
    if (!attributes.data)
        attributes.len = 0;
    if (!service_name.data)
        service_name.len = 0;
    if (!source)
        source = "resource attributes";

    size_t max_entries = 2; /* the service name, and the last entry */
    for (size_t i = 0; i < attributes.len; i++)
        if (attributes.data[i] == ',')
            max_entries++;
    /* Scratch: the attribute array | decoded text (3 bytes per input byte at most, when every
     * byte becomes U+FFFD) | room to percent-decode one piece before validating it. */
    size_t attrs_bytes = align_up(max_entries * sizeof(otel_attr), alignof(max_align_t));
    if (attributes.len > (SIZE_MAX - attrs_bytes - 1) / 4)
        return OTEL_ERR_NOMEM;
    char *scratch = otel__malloc(attrs_bytes + attributes.len * 4 + 1);
    if (!scratch)
        return OTEL_ERR_NOMEM;
    otel_attr *attrs = (otel_attr *)(void *)scratch;
    char *text = scratch + attrs_bytes;
    char *tmp = text + attributes.len * 3;
    size_t n = 0;

    size_t pos = 0;
    while (pos <= attributes.len) {
        size_t end = pos;
        while (end < attributes.len && attributes.data[end] != ',')
            end++;
        otel_str entry = trim((otel_str){ attributes.data + pos, end - pos });
        pos = end + 1;
        if (entry.len == 0)
            continue; /* "a=1,,b=2" and a trailing comma: nothing to report */

        const char *eq = memchr(entry.data, '=', entry.len);
        const char *why = NULL;
        otel_str key = { NULL, 0 }, value = { NULL, 0 };
        if (!eq) {
            why = "no '='";
        } else {
            size_t key_len = (size_t)(eq - entry.data);
            otel_str raw_key = trim((otel_str){ entry.data, key_len });
            otel_str raw_value = trim((otel_str){ eq + 1, entry.len - key_len - 1 });
            size_t klen = 0, vlen = 0;
            char *kbuf = text;
            if (!percent_decode(raw_key, tmp, kbuf, &klen)) {
                why = "bad percent-encoding in the key";
            } else if (klen == 0) {
                why = "empty key";
            } else {
                char *vbuf = kbuf + klen;
                if (!percent_decode(raw_value, tmp, vbuf, &vlen)) {
                    why = "bad percent-encoding in the value";
                } else {
                    key = (otel_str){ kbuf, klen };
                    value = (otel_str){ vbuf, vlen };
                    text = vbuf + vlen;
                }
            }
        }
        if (why) {
            /* The specification says to discard the whole variable on any error; one mistyped
             * entry costing every other attribute (service.version, deployment.environment)
             * hurts more than it protects, so only that entry is skipped, loudly. */
            otel__log(OTEL_LOG_WARN, "%s: entry \"%.*s\" skipped (%s)", source,
                      (int)(entry.len > 200 ? 200 : entry.len), entry.data, why);
            continue;
        }
        attrs[n++] = (otel_attr){ key, otel_value_str(value) };
    }
    if (service_name.len > 0)
        attrs[n++] = (otel_attr){ OTEL_STR("service.name"), otel_value_str(service_name) };

    struct attr_seq s = { attrs, n, NULL, 0 };
    otel_status st = build(&s, (otel_str){ NULL, 0 }, false, out);
    otel__free(scratch);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

const otel_attr *otel_resource_attrs(const otel_resource *r, size_t *count)
{
    if (count)
        *count = r ? r->count : 0;
    return r ? r->attrs : NULL;
}

bool otel_resource_get(const otel_resource *r, otel_str key, otel_value *value)
{
    if (!r)
        return false;
    for (size_t i = 0; i < r->count; i++) {
        if (otel_str_eq(r->attrs[i].key, key)) {
            if (value)
                *value = r->attrs[i].value;
            return true;
        }
    }
    return false;
}

otel_str otel_resource_schema_url(const otel_resource *r)
{
    return r ? r->schema_url : (otel_str){ "", 0 };
}
