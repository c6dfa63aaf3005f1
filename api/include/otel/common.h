/* Basic types shared by every otelc header: strings with a length, attribute values of the
 * OpenTelemetry value kinds, status codes, time, the version query and the diagnostics hook.
 * Everything here belongs to the API library (otel::api), which has no dependency but libc
 * and pthreads. */
#ifndef OTEL_COMMON_H
#define OTEL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otel/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Conventions for every otelc function unless its comment says otherwise: a NULL handle
 * (span, tracer, context, trace state, baggage, resource, exporter store) is accepted and the call
 * does nothing or returns an empty result; a NULL array with a count of 0 is fine, a NULL array
 * with a count above 0 is treated as empty; out-parameters are written only on success. */

#if defined(__GNUC__) || defined(__clang__)
#define OTEL_API __attribute__((visibility("default")))
#define OTEL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define OTEL_API
#define OTEL_PRINTF(fmt, args)
#endif

/* ---------------------------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------------------------- */

/* A string slice: |len| bytes at |data|. No NUL terminator is required, so a caller can pass a
 * piece of its request buffer without copying it. {NULL, 0} is the empty string. */
typedef struct otel_str {
    const char *data;
    size_t len;
} otel_str;

/* An otel_str for a string literal, computed at compile time. Only literals compile here.
 * The OTEL_STR and OTEL_ATTR_* macros use C99 compound literals: C only, not C++. */
#define OTEL_STR(lit) ((otel_str){ "" lit, sizeof(lit) - 1 })

/* An otel_str for a NUL-terminated string; NULL gives the empty string. */
static inline otel_str otel_str_from_cstr(const char *s)
{
    otel_str r;
    r.data = s;
    r.len = 0;
    if (s)
        while (s[r.len])
            r.len++;
    return r;
}

/* True when |a| and |b| hold the same bytes. */
static inline bool otel_str_eq(otel_str a, otel_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (a.data[i] != b.data[i])
            return false;
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Attribute values: exactly the OpenTelemetry kinds.
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_value_type {
    OTEL_VALUE_EMPTY = 0,
    OTEL_VALUE_BOOL = 1,
    OTEL_VALUE_INT = 2, /* int64_t */
    OTEL_VALUE_DOUBLE = 3,
    OTEL_VALUE_STR = 4,   /* UTF-8 text */
    OTEL_VALUE_BYTES = 5, /* opaque bytes (exported as OTLP bytes_value) */
    OTEL_VALUE_ARRAY = 6, /* homogeneous array of BOOL, INT, DOUBLE or STR */
    /* append only */
} otel_value_type;

/* Flags in otel_value.flags. */
enum {
    /* The string value (STR, BYTES, or the items of a STR array and the array itself) outlives
     * the tracer provider: the SDK may keep the pointer instead of copying. */
    OTEL_VALUE_STATIC = 1u << 0,
    /* The attribute's key outlives the tracer provider: the SDK may keep the pointer. */
    OTEL_VALUE_STATIC_KEY = 1u << 1,
};

/* One attribute value. For OTEL_VALUE_ARRAY, |array_type| names the element type and
 * |as.array.items| points to |len| elements of `bool`, `int64_t`, `double` or `otel_str`. */
typedef struct otel_value {
    otel_value_type type;
    uint16_t array_type; /* otel_value_type of the elements of an ARRAY */
    uint16_t flags;      /* OTEL_VALUE_STATIC, OTEL_VALUE_STATIC_KEY */
    union {
        bool b;
        int64_t i;
        double d;
        otel_str s; /* STR and BYTES */
        struct {
            const void *items;
            size_t len;
        } array;
    } as;
} otel_value;

/* A key and its value. Arrays of these, written with the macros below or designated
 * initializers, live on the caller's stack and cost no allocation. */
typedef struct otel_attr {
    otel_str key;
    otel_value value;
} otel_attr;

static inline otel_value otel_value_bool(bool b)
{
    otel_value v;
    v.type = OTEL_VALUE_BOOL;
    v.array_type = 0;
    v.flags = 0;
    v.as.array.items = NULL;
    v.as.array.len = 0;
    v.as.b = b;
    return v;
}
static inline otel_value otel_value_int(int64_t i)
{
    otel_value v;
    v.type = OTEL_VALUE_INT;
    v.array_type = 0;
    v.flags = 0;
    v.as.array.items = NULL;
    v.as.array.len = 0;
    v.as.i = i;
    return v;
}
static inline otel_value otel_value_double(double d)
{
    otel_value v;
    v.type = OTEL_VALUE_DOUBLE;
    v.array_type = 0;
    v.flags = 0;
    v.as.array.items = NULL;
    v.as.array.len = 0;
    v.as.d = d;
    return v;
}
static inline otel_value otel_value_str(otel_str s)
{
    otel_value v;
    v.type = OTEL_VALUE_STR;
    v.array_type = 0;
    v.flags = 0;
    v.as.array.items = NULL;
    v.as.array.len = 0;
    v.as.s = s;
    return v;
}
static inline otel_value otel_value_bytes(const void *data, size_t len)
{
    otel_value v;
    v.type = OTEL_VALUE_BYTES;
    v.array_type = 0;
    v.flags = 0;
    v.as.s.data = (const char *)data;
    v.as.s.len = len;
    return v;
}
/* |elem_type| is OTEL_VALUE_BOOL (bool[]), INT (int64_t[]), DOUBLE (double[]) or STR (otel_str[]). */
static inline otel_value otel_value_array(otel_value_type elem_type, const void *items, size_t len)
{
    otel_value v;
    v.type = OTEL_VALUE_ARRAY;
    v.array_type = (uint16_t)elem_type;
    v.flags = 0;
    v.as.array.items = items;
    v.as.array.len = len;
    return v;
}

/* Size in bytes of one item of an OTEL_VALUE_ARRAY whose array_type is |type|: bool, int64_t,
 * double or otel_str; 0 for a type arrays cannot hold. */
static inline size_t otel_value_array_item_size(otel_value_type type)
{
    switch (type) {
    case OTEL_VALUE_BOOL:
        return sizeof(bool);
    case OTEL_VALUE_INT:
        return sizeof(int64_t);
    case OTEL_VALUE_DOUBLE:
        return sizeof(double);
    case OTEL_VALUE_STR:
        return sizeof(otel_str);
    case OTEL_VALUE_EMPTY:
    case OTEL_VALUE_BYTES:
    case OTEL_VALUE_ARRAY:
        break;
    }
    return 0;
}

/* Attribute initializers. The *_LIT forms take string literals for key (and value) and mark them
 * static, so the SDK keeps the pointers instead of copying. */
#define OTEL_ATTR_STR_LIT(k, v)                                         \
    ((otel_attr){ OTEL_STR(k),                                          \
                  { .type = OTEL_VALUE_STR,                             \
                    .flags = OTEL_VALUE_STATIC | OTEL_VALUE_STATIC_KEY, \
                    .as.s = OTEL_STR(v) } })
#define OTEL_ATTR_STR(k, v) /* literal key, otel_str value (copied) */ \
    ((otel_attr){ OTEL_STR(k), { .type = OTEL_VALUE_STR, .flags = OTEL_VALUE_STATIC_KEY, .as.s = (v) } })
#define OTEL_ATTR_INT(k, v)    \
    ((otel_attr){ OTEL_STR(k), \
                  { .type = OTEL_VALUE_INT, .flags = OTEL_VALUE_STATIC_KEY, .as.i = (int64_t)(v) } })
#define OTEL_ATTR_DOUBLE(k, v) \
    ((otel_attr){ OTEL_STR(k), \
                  { .type = OTEL_VALUE_DOUBLE, .flags = OTEL_VALUE_STATIC_KEY, .as.d = (double)(v) } })
#define OTEL_ATTR_BOOL(k, v)   \
    ((otel_attr){ OTEL_STR(k), \
                  { .type = OTEL_VALUE_BOOL, .flags = OTEL_VALUE_STATIC_KEY, .as.b = (bool)(v) } })

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_status {
    OTEL_OK = 0,
    OTEL_ERR_INVALID_ARG = 1,
    OTEL_ERR_NOMEM = 2,
    OTEL_ERR_QUEUE_FULL = 3,
    OTEL_ERR_TIMEOUT = 4,
    OTEL_ERR_SHUT_DOWN = 5,
    OTEL_ERR_EXPORT = 6,
    OTEL_ERR_LIMIT = 7,     /* a size or count limit was reached; nothing was changed */
    OTEL_ERR_NOT_FOUND = 8, /* a named thing (key, exporter, propagator) does not exist */
    OTEL_ERR_UNSUPPORTED = 9,
    /* new codes go last; existing values never change and are never reused */
} otel_status;

/* Static English text for |st|, never NULL. Thread-safety: safe. */
OTEL_API const char *otel_status_str(otel_status st);

/* ---------------------------------------------------------------------------------------------
 * Time and version
 * ------------------------------------------------------------------------------------------- */

/* Nanoseconds since the Unix epoch from the wall clock (CLOCK_REALTIME).
 * Thread-safety: safe. */
OTEL_API int64_t otel_time_now_ns(void);

/* OTEL_VERSION_NUMBER of the library loaded at run time. Thread-safety: safe. */
OTEL_API uint32_t otel_version_number(void);
/* "MAJOR.MINOR.PATCH" of the loaded library; static. Thread-safety: safe. */
OTEL_API const char *otel_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Diagnostics: what otelc has to say about itself (bad configuration, dropped data, export
 * failures). One process-wide sink, shared by the API, SDK, exporters and propagators.
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_log_level {
    OTEL_LOG_NONE = 0, /* as a threshold: log nothing */
    OTEL_LOG_ERROR = 1,
    OTEL_LOG_WARN = 2,
    OTEL_LOG_INFO = 3,
    OTEL_LOG_DEBUG = 4,
} otel_log_level;

/* Receives one diagnostic. |message| is NUL-terminated, has no trailing newline, and is valid
 * only during the call. Called from whichever thread noticed the problem, never while otelc holds
 * one of its locks; it must not call back into otelc logging. */
typedef void (*otel_log_fn)(void *user_data, otel_log_level level, const char *message);

/* Sends diagnostics at |min_level| or more severe to |fn| (NULL restores the default: stderr,
 * prefixed "otelc: LEVEL: "). Messages are rate-limited per call site; a suppressed message is
 * counted and the count is reported with the next one that passes. The default threshold is
 * OTEL_LOG_INFO; the configure library applies OTEL_LOG_LEVEL.
 * Thread-safety: safe; a message being delivered concurrently may still reach the old sink. */
OTEL_API void otel_log_set_handler(otel_log_fn fn, void *user_data, otel_log_level min_level);

/* Changes only the threshold. Thread-safety: safe. */
OTEL_API void otel_log_set_level(otel_log_level min_level);

/* The current threshold. Thread-safety: safe. */
OTEL_API otel_log_level otel_log_get_level(void);

/* Parses "error", "warn", "info", "debug", "none" (case-insensitive; "warning" and "off" also
 * accepted). Returns false and leaves |out| untouched on anything else. Thread-safety: safe. */
OTEL_API bool otel_log_level_parse(otel_str text, otel_log_level *out);

/* Emits one diagnostic through the sink, for components built on otelc (exporters, propagators
 * outside this tree). Not rate-limited; use sparingly. Thread-safety: safe. */
OTEL_API void otel_log(otel_log_level level, const char *fmt, ...) OTEL_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif
