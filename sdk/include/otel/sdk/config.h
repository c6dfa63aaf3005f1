/* Configuration from the standard OTEL_* environment variables. One explicit call reads the
 * environment into a plain struct that the program may inspect and override before building
 * the pipeline; no other otelc component reads the environment by itself. Every invalid value
 * gives one diagnostic naming the variable and the default used instead, and never aborts.
 * The otel_env_* helpers apply the specification's parsing rules and are public so that
 * exporters and propagators outside this tree read their variables the same way. */
#ifndef OTEL_SDK_CONFIG_H
#define OTEL_SDK_CONFIG_H

#include "otel/sdk/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Looks up an environment variable: returns its value or NULL when unset. The returned string
 * must stay valid until the next call. */
typedef const char *(*otel_getenv_fn)(void *user_data, const char *name);

/* An environment source: |getenv| NULL means the process environment. Tests pass a table. */
typedef struct otel_env {
    otel_getenv_fn getenv;
    void *user_data;
} otel_env;

/* The value of |name| with surrounding white space trimmed, or false when unset or empty (the
 * spec: empty means unset). |value| points into the environment's storage.
 * Thread-safety: as getenv. */
OTEL_API bool otel_env_get_str(const otel_env *env, const char *name, otel_str *value);

/* Boolean per the spec: true only for case-insensitive "true"; "false" is false; anything else
 * gives a warning naming the variable and yields false. Unset leaves |out| untouched and returns
 * false; a present value (valid or not) returns true. Thread-safety: as getenv. */
OTEL_API bool otel_env_get_bool(const otel_env *env, const char *name, bool *out);

/* Integer in [|min|, |max|] (the spec's range is 0..2^31-1). An invalid or out-of-range value
 * gives a warning naming the variable and |out|'s current value as the default used, and leaves
 * |out| untouched. Returns true only when |out| was set. Thread-safety: as getenv. */
OTEL_API bool otel_env_get_int(const otel_env *env, const char *name, int64_t min, int64_t max, int64_t *out);

/* Duration or timeout in milliseconds (spec), stored in nanoseconds. Same rules as
 * otel_env_get_int with range 0..2^31-1 ms. Thread-safety: as getenv. */
OTEL_API bool otel_env_get_duration_ms(const otel_env *env, const char *name, int64_t *out_ns);

/* Floating-point value in [|min|, |max|]; same rules as otel_env_get_int. */
OTEL_API bool otel_env_get_double(const otel_env *env, const char *name, double min, double max, double *out);

/* Case-insensitive enum: sets *out to the index in |names| (|count| entries) of the value.
 * Unknown values give a warning listing the accepted ones and naming the default
 * (names[*out]), and leave |out| untouched. Returns true only when |out| was set.
 * Thread-safety: as getenv. */
OTEL_API bool otel_env_get_enum(const otel_env *env, const char *name, const char *const *names, size_t count,
                                size_t *out);

/* ---------------------------------------------------------------------------------------------
 * The SDK's own settings
 * ------------------------------------------------------------------------------------------- */

typedef enum otel_sampler_kind {
    OTEL_SAMPLER_PARENTBASED_ALWAYS_ON = 0, /* the default */
    OTEL_SAMPLER_ALWAYS_ON = 1,
    OTEL_SAMPLER_ALWAYS_OFF = 2,
    OTEL_SAMPLER_TRACEIDRATIO = 3,
    OTEL_SAMPLER_PARENTBASED_ALWAYS_OFF = 4,
    OTEL_SAMPLER_PARENTBASED_TRACEIDRATIO = 5,
    OTEL_SAMPLER_OTHER = 6, /* a name the SDK does not build itself (e.g. "datadog"): see
                             * otel_sdk_config.sampler_name; the configure library resolves it */
} otel_sampler_kind;

/* otel_batch_options (OTEL_BSP_*) is declared in otel/sdk/trace.h, next to the batch processor. */

/* Everything the SDK-level OTEL_* variables say. Strings are owned by the struct (heap copies,
 * NUL-terminated, NULL when unset); free them with otel_sdk_config_cleanup(). A program may
 * replace a string field with its own heap string (strdup) or NULL. */
typedef struct otel_sdk_config {
    bool disabled;             /* OTEL_SDK_DISABLED */
    otel_log_level log_level;  /* OTEL_LOG_LEVEL, default info */
    char *service_name;        /* OTEL_SERVICE_NAME */
    char *resource_attributes; /* OTEL_RESOURCE_ATTRIBUTES */
    otel_sampler_kind sampler; /* OTEL_TRACES_SAMPLER */
    char *sampler_name;        /* OTEL_TRACES_SAMPLER as given (lowercase), always set by
                                * from_env when the variable is present */
    double sampler_ratio;      /* OTEL_TRACES_SAMPLER_ARG for the ratio samplers, default 1.0 */
    char *sampler_arg;         /* OTEL_TRACES_SAMPLER_ARG as given, for other samplers */
    otel_span_limits limits;   /* OTEL_*_LIMIT (span-specific ones win over OTEL_ATTRIBUTE_*) */
    otel_batch_options batch;  /* OTEL_BSP_* */
    char *traces_exporter;     /* OTEL_TRACES_EXPORTER, default "otlp" (comma-separated list) */
    char *propagators;         /* OTEL_PROPAGATORS, default "tracecontext,baggage" */
} otel_sdk_config;

/* Fills |cfg| with the defaults (no allocation). Thread-safety: safe. */
OTEL_API void otel_sdk_config_init(otel_sdk_config *cfg);

/* Reads the variables from |env| (NULL: the process environment) on top of what |cfg| holds
 * (call otel_sdk_config_init() first). Invalid values keep the current field and give a
 * diagnostic naming the variable and the value used. Returns OTEL_OK, or OTEL_ERR_NOMEM (some
 * strings may be missing) or OTEL_ERR_INVALID_ARG (NULL cfg). Thread-safety: as getenv. */
OTEL_API otel_status otel_sdk_config_from_env(otel_sdk_config *cfg, const otel_env *env);

/* Frees the strings and re-initialises |cfg|. NULL is ignored. Thread-safety: safe. */
OTEL_API void otel_sdk_config_cleanup(otel_sdk_config *cfg);

/* The sampler |cfg| asks for. OTEL_SAMPLER_OTHER gives OTEL_ERR_NOT_FOUND (the caller resolves
 * it, or falls back to the default with a diagnostic). Errors: OTEL_ERR_INVALID_ARG,
 * OTEL_ERR_NOMEM, OTEL_ERR_NOT_FOUND. Thread-safety: safe. */
OTEL_API otel_status otel_sdk_config_make_sampler(const otel_sdk_config *cfg, otel_sampler *out);

/* The default resource merged with OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from |cfg|.
 * Errors: OTEL_ERR_INVALID_ARG, OTEL_ERR_NOMEM. Thread-safety: safe. */
OTEL_API otel_status otel_sdk_config_make_resource(const otel_sdk_config *cfg, otel_resource **out);

#ifdef __cplusplus
}
#endif

#endif
