/* Internal diagnostics: how otelc code reports problems through the one process-wide sink set
 * with otel_log_set_handler(). OTEL__LOG is rate-limited per call site (a message storm from a
 * hot path costs one message per second per site); otel__log is not, for one-off messages at
 * start-up and shutdown. Used by every otelc library. */
#ifndef OTEL_LOG_INTERNAL_H
#define OTEL_LOG_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "otel/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The state of one call site: the earliest monotonic time the next message may pass, and how
 * many were suppressed since the last one that did. Zero-initialized (static storage). */
typedef struct otel__log_site {
    _Atomic int64_t next_ns;
    _Atomic uint32_t suppressed;
} otel__log_site;

/* Emits a message for |site| if |level| passes the threshold and the site's rate limit allows;
 * otherwise counts it as suppressed. The suppressed count is appended to the next message that
 * passes: "(N similar messages suppressed)". Thread-safety: safe. */
OTEL_API void otel__log_site_emit(otel__log_site *site, otel_log_level level, const char *fmt, ...)
    OTEL_PRINTF(3, 4);

/* Rate-limited diagnostic, one limit per call site. */
#define OTEL__LOG(level, ...)                                    \
    do {                                                         \
        static otel__log_site otel__site_;                       \
        otel__log_site_emit(&otel__site_, (level), __VA_ARGS__); \
    } while (0)

/* Emits a message if |level| passes the threshold; not rate-limited. Thread-safety: safe. */
OTEL_API void otel__log(otel_log_level level, const char *fmt, ...) OTEL_PRINTF(2, 3);

/* Same, with a va_list. Thread-safety: safe. */
OTEL_API void otel__logv(otel_log_level level, const char *fmt, va_list ap) OTEL_PRINTF(2, 0);

/* True when a message at |level| would be delivered (one relaxed atomic load), so callers can
 * skip preparing expensive arguments. Thread-safety: safe. */
OTEL_API bool otel__log_enabled(otel_log_level level);

/* Sets the minimum interval between two messages of one call site (default one second);
 * 0 disables rate limiting. For tests. Thread-safety: safe. */
OTEL_API void otel__log_set_rate_limit_ns(int64_t ns);

/* Longest message delivered to a handler, including the NUL; longer ones end in "...". */
#define OTEL__LOG_MAX_MESSAGE 1024

#ifdef __cplusplus
}
#endif

#endif
