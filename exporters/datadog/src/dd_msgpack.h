/* A growable byte buffer and a MessagePack writer on top of it, for the Datadog exporter's
 * encoders. The buffer is reused across batches, so steady-state encoding allocates nothing. A
 * failed allocation sets |failed| and later writes do nothing: encoders write without checks and
 * look at the flag once at the end. Integers use the smallest MessagePack form, except where the
 * agent's schema wants a fixed one (ids are always uint64, so 2^63 and 2^64-1 survive any
 * decoder); doubles are always float64. */
#ifndef OTEL_DD_MSGPACK_H
#define OTEL_DD_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct otel__dd_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed since the last reset */
};

/* Grows |b| so that |more| bytes fit after |len|; false (and |failed| set) when memory runs out.
 * The slow path of otel__dd_buf_reserve. */
bool otel__dd_buf_grow(struct otel__dd_buf *b, size_t more);

/* Frees the storage. */
void otel__dd_buf_free(struct otel__dd_buf *b);

/* Empties |b| for reuse, keeping its storage. A failure stays recorded (scratch buffers are
 * emptied many times per payload; the payload must still see that one of them failed). */
static inline void otel__dd_buf_reset(struct otel__dd_buf *b)
{
    b->len = 0;
}

/* Empties |b| and forgets an earlier allocation failure: the start of a new payload. */
static inline void otel__dd_buf_restart(struct otel__dd_buf *b)
{
    b->len = 0;
    b->failed = false;
}

static inline bool otel__dd_buf_reserve(struct otel__dd_buf *b, size_t more)
{
    if (__builtin_expect(b->cap - b->len >= more, 1))
        return true;
    return otel__dd_buf_grow(b, more);
}

static inline void otel__dd_buf_put(struct otel__dd_buf *b, const void *p, size_t n)
{
    if (!otel__dd_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void otel__dd_buf_byte(struct otel__dd_buf *b, uint8_t c)
{
    if (!otel__dd_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
}

static inline void otel__dd_put_be16(uint8_t *p, uint16_t v)
{
    v = __builtin_bswap16(v);
    memcpy(p, &v, 2);
}

static inline void otel__dd_put_be32(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
}

static inline void otel__dd_put_be64(uint8_t *p, uint64_t v)
{
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

/* ---------------------------------------------------------------------------------------------
 * MessagePack
 * ------------------------------------------------------------------------------------------- */

/* A header (array, map, str) of the family whose fix/16/32 type bytes are given. */
static inline void otel__mp_header(struct otel__dd_buf *b, uint32_t n, uint8_t fix, uint32_t fix_max,
                                   uint8_t t8, uint8_t t16, uint8_t t32)
{
    if (!otel__dd_buf_reserve(b, 5))
        return;
    uint8_t *p = b->data + b->len;
    if (n <= fix_max) {
        p[0] = (uint8_t)(fix | n);
        b->len += 1;
    } else if (t8 && n <= 0xff) {
        p[0] = t8;
        p[1] = (uint8_t)n;
        b->len += 2;
    } else if (n <= 0xffff) {
        p[0] = t16;
        otel__dd_put_be16(p + 1, (uint16_t)n);
        b->len += 3;
    } else {
        p[0] = t32;
        otel__dd_put_be32(p + 1, n);
        b->len += 5;
    }
}

static inline void otel__mp_array(struct otel__dd_buf *b, uint32_t n)
{
    otel__mp_header(b, n, 0x90, 15, 0, 0xdc, 0xdd);
}

static inline void otel__mp_map(struct otel__dd_buf *b, uint32_t n)
{
    otel__mp_header(b, n, 0x80, 15, 0, 0xde, 0xdf);
}

/* A str of |len| bytes (a length above 2^32-1 is cut: MessagePack cannot say more). */
static inline void otel__mp_str(struct otel__dd_buf *b, const char *s, size_t len)
{
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    if (!otel__dd_buf_reserve(b, 5 + len))
        return;
    uint8_t *p = b->data + b->len;
    if (len <= 31) {
        *p++ = (uint8_t)(0xa0 | len);
    } else if (len <= 0xff) {
        *p++ = 0xd9;
        *p++ = (uint8_t)len;
    } else if (len <= 0xffff) {
        *p++ = 0xda;
        otel__dd_put_be16(p, (uint16_t)len);
        p += 2;
    } else {
        *p++ = 0xdb;
        otel__dd_put_be32(p, (uint32_t)len);
        p += 4;
    }
    if (len)
        memcpy(p, s, len);
    b->len = (size_t)(p - b->data) + len;
}

static inline void otel__mp_ostr(struct otel__dd_buf *b, otel_str s)
{
    otel__mp_str(b, s.data, s.len);
}

/* A string literal as a fixstr (literals of up to 31 bytes only; checked at compile time). */
#define OTEL__MP_LIT(b, lit)                                                        \
    do {                                                                            \
        _Static_assert(sizeof(lit) - 1 <= 31, "OTEL__MP_LIT takes short literals"); \
        otel__mp_fixstr_lit((b), "" lit, sizeof(lit) - 1);                          \
    } while (0)

static inline void otel__mp_fixstr_lit(struct otel__dd_buf *b, const char *s, size_t len)
{
    if (!otel__dd_buf_reserve(b, 1 + len))
        return;
    uint8_t *p = b->data + b->len;
    p[0] = (uint8_t)(0xa0 | len);
    memcpy(p + 1, s, len);
    b->len += 1 + len;
}

static inline void otel__mp_nil(struct otel__dd_buf *b)
{
    otel__dd_buf_byte(b, 0xc0);
}

static inline void otel__mp_bool(struct otel__dd_buf *b, bool v)
{
    otel__dd_buf_byte(b, v ? 0xc3 : 0xc2);
}

/* The smallest unsigned form. */
static inline void otel__mp_uint(struct otel__dd_buf *b, uint64_t v)
{
    if (!otel__dd_buf_reserve(b, 9))
        return;
    uint8_t *p = b->data + b->len;
    if (v <= 0x7f) {
        p[0] = (uint8_t)v;
        b->len += 1;
    } else if (v <= 0xff) {
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
        b->len += 2;
    } else if (v <= 0xffff) {
        p[0] = 0xcd;
        otel__dd_put_be16(p + 1, (uint16_t)v);
        b->len += 3;
    } else if (v <= 0xffffffffu) {
        p[0] = 0xce;
        otel__dd_put_be32(p + 1, (uint32_t)v);
        b->len += 5;
    } else {
        p[0] = 0xcf;
        otel__dd_put_be64(p + 1, v);
        b->len += 9;
    }
}

/* The smallest form for a signed value (non-negative values use the unsigned forms, as the
 * MessagePack specification recommends). */
static inline void otel__mp_int(struct otel__dd_buf *b, int64_t v)
{
    if (v >= 0) {
        otel__mp_uint(b, (uint64_t)v);
        return;
    }
    if (!otel__dd_buf_reserve(b, 9))
        return;
    uint8_t *p = b->data + b->len;
    if (v >= -32) {
        p[0] = (uint8_t)(int8_t)v; /* negative fixint: 111xxxxx */
        b->len += 1;
    } else if (v >= INT8_MIN) {
        p[0] = 0xd0;
        p[1] = (uint8_t)(int8_t)v;
        b->len += 2;
    } else if (v >= INT16_MIN) {
        p[0] = 0xd1;
        otel__dd_put_be16(p + 1, (uint16_t)(int16_t)v);
        b->len += 3;
    } else if (v >= INT32_MIN) {
        p[0] = 0xd2;
        otel__dd_put_be32(p + 1, (uint32_t)(int32_t)v);
        b->len += 5;
    } else {
        p[0] = 0xd3;
        otel__dd_put_be64(p + 1, (uint64_t)v);
        b->len += 9;
    }
}

/* Always the 9-byte uint64 form: trace and span ids. */
static inline void otel__mp_u64(struct otel__dd_buf *b, uint64_t v)
{
    if (!otel__dd_buf_reserve(b, 9))
        return;
    uint8_t *p = b->data + b->len;
    p[0] = 0xcf;
    otel__dd_put_be64(p + 1, v);
    b->len += 9;
}

/* Always float64. */
static inline void otel__mp_f64(struct otel__dd_buf *b, double d)
{
    if (!otel__dd_buf_reserve(b, 9))
        return;
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    uint8_t *p = b->data + b->len;
    p[0] = 0xcb;
    otel__dd_put_be64(p + 1, bits);
    b->len += 9;
}

/* ---------------------------------------------------------------------------------------------
 * Cursor writers: the same encodings written through a local pointer into space reserved
 * beforehand (no capacity checks, and no reloading of the buffer's fields after each store, which
 * a uint8_t store through the buffer would force since it may alias them). Each returns the
 * advanced cursor. The encoder reserves an upper bound per span and then uses only these.
 * ------------------------------------------------------------------------------------------- */

#define OTEL__MP_INLINE static inline __attribute__((always_inline))

/* Copies |n| bytes; copies up to 32 bytes without a call (overlapping 16-, 8- or 4-byte
 * moves). The tests go by halves (16, then 8 or 32), so each size class is two or three
 * compares away. */
OTEL__MP_INLINE uint8_t *otel__w_copy(uint8_t *p, const void *src, size_t n)
{
    const uint8_t *s = (const uint8_t *)src;
    if (n <= 16) {
        if (n >= 8) {
            uint64_t a, b;
            memcpy(&a, s, 8);
            memcpy(&b, s + n - 8, 8);
            memcpy(p, &a, 8);
            memcpy(p + n - 8, &b, 8);
        } else if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, s, 4);
            memcpy(&b, s + n - 4, 4);
            memcpy(p, &a, 4);
            memcpy(p + n - 4, &b, 4);
        } else if (n) { /* bytes 0, n/2 and n-1 cover 1 to 3 bytes */
            uint8_t a = s[0], b = s[n >> 1], c = s[n - 1];
            p[0] = a;
            p[n >> 1] = b;
            p[n - 1] = c;
        }
    } else if (n <= 32) {
        uint8_t a[16], b[16];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(p, a, 16);
        memcpy(p + n - 16, b, 16);
    } else {
        memcpy(p, s, n);
    }
    return p + n;
}

OTEL__MP_INLINE uint8_t *otel__w_header(uint8_t *p, uint32_t n, uint8_t fix, uint8_t t16, uint8_t t32)
{
    if (n <= 15) {
        *p = (uint8_t)(fix | n);
        return p + 1;
    }
    if (n <= 0xffff) {
        p[0] = t16;
        otel__dd_put_be16(p + 1, (uint16_t)n);
        return p + 3;
    }
    p[0] = t32;
    otel__dd_put_be32(p + 1, n);
    return p + 5;
}

OTEL__MP_INLINE uint8_t *otel__w_array(uint8_t *p, uint32_t n)
{
    return otel__w_header(p, n, 0x90, 0xdc, 0xdd);
}

OTEL__MP_INLINE uint8_t *otel__w_map(uint8_t *p, uint32_t n)
{
    return otel__w_header(p, n, 0x80, 0xde, 0xdf);
}

/* A string header for |len| bytes (at most UINT32_MAX): at most 5 bytes. */
OTEL__MP_INLINE uint8_t *otel__w_str_header(uint8_t *p, size_t len)
{
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    if (len <= 31) {
        *p++ = (uint8_t)(0xa0 | len);
    } else if (len <= 0xff) {
        *p++ = 0xd9;
        *p++ = (uint8_t)len;
    } else if (len <= 0xffff) {
        *p++ = 0xda;
        otel__dd_put_be16(p, (uint16_t)len);
        p += 2;
    } else {
        *p++ = 0xdb;
        otel__dd_put_be32(p, (uint32_t)len);
        p += 4;
    }
    return p;
}

/* At most 5 + |len| bytes (a string over UINT32_MAX bytes is cut there). */
OTEL__MP_INLINE uint8_t *otel__w_str(uint8_t *p, const char *s, size_t len)
{
    if (len <= 31) {
        *p = (uint8_t)(0xa0 | len);
        return otel__w_copy(p + 1, s, len);
    }
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    return otel__w_copy(otel__w_str_header(p, len), s, len);
}

/* Pre-encoded bytes (a constant key with its fixstr header). */
OTEL__MP_INLINE uint8_t *otel__w_raw(uint8_t *p, const char *bytes, size_t n)
{
    memcpy(p, bytes, n);
    return p + n;
}

/* At most 9 bytes. */
OTEL__MP_INLINE uint8_t *otel__w_uint(uint8_t *p, uint64_t v)
{
    if (v <= 0x7f) {
        *p = (uint8_t)v;
        return p + 1;
    }
    if (v <= 0xff) {
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
        return p + 2;
    }
    if (v <= 0xffff) {
        p[0] = 0xcd;
        otel__dd_put_be16(p + 1, (uint16_t)v);
        return p + 3;
    }
    if (v <= 0xffffffffu) {
        p[0] = 0xce;
        otel__dd_put_be32(p + 1, (uint32_t)v);
        return p + 5;
    }
    p[0] = 0xcf;
    otel__dd_put_be64(p + 1, v);
    return p + 9;
}

OTEL__MP_INLINE uint8_t *otel__w_int(uint8_t *p, int64_t v)
{
    if (v >= 0)
        return otel__w_uint(p, (uint64_t)v);
    if (v >= -32) {
        *p = (uint8_t)(int8_t)v;
        return p + 1;
    }
    if (v >= INT8_MIN) {
        p[0] = 0xd0;
        p[1] = (uint8_t)(int8_t)v;
        return p + 2;
    }
    if (v >= INT16_MIN) {
        p[0] = 0xd1;
        otel__dd_put_be16(p + 1, (uint16_t)(int16_t)v);
        return p + 3;
    }
    if (v >= INT32_MIN) {
        p[0] = 0xd2;
        otel__dd_put_be32(p + 1, (uint32_t)(int32_t)v);
        return p + 5;
    }
    p[0] = 0xd3;
    otel__dd_put_be64(p + 1, (uint64_t)v);
    return p + 9;
}

OTEL__MP_INLINE uint8_t *otel__w_u64(uint8_t *p, uint64_t v)
{
    p[0] = 0xcf;
    otel__dd_put_be64(p + 1, v);
    return p + 9;
}

OTEL__MP_INLINE uint8_t *otel__w_f64(uint8_t *p, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    p[0] = 0xcb;
    otel__dd_put_be64(p + 1, bits);
    return p + 9;
}

#ifdef __cplusplus
}
#endif

#endif
