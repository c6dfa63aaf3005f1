/* The diagnostics sink: one process-wide handler (stderr by default) and threshold, shared by
 * every otelc library. Messages are formatted into a stack buffer and delivered outside any
 * lock; OTEL__LOG call sites are rate-limited (one message per site per interval, suppressed
 * ones counted and reported with the next message that passes). */
#include "log_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RATE_LIMIT_NS INT64_C(1000000000)

static _Atomic int g_level = OTEL_LOG_INFO;
static _Atomic int64_t g_rate_limit_ns = DEFAULT_RATE_LIMIT_NS;

/* The handler and its user_data change together, so they sit under a mutex; the mutex is held
 * only to copy them, never while the handler runs. */
static pthread_mutex_t g_handler_lock = PTHREAD_MUTEX_INITIALIZER;
static otel_log_fn g_handler;
static void *g_handler_user_data;

static const char *level_name(otel_log_level level)
{
    switch (level) {
    case OTEL_LOG_NONE:
        return "none";
    case OTEL_LOG_ERROR:
        return "error";
    case OTEL_LOG_WARN:
        return "warn";
    case OTEL_LOG_INFO:
        return "info";
    case OTEL_LOG_DEBUG:
        return "debug";
    }
    return "log";
}

static void default_handler(otel_log_level level, const char *message)
{
    char line[OTEL__LOG_MAX_MESSAGE + 32];
    int n = snprintf(line, sizeof(line), "otelc: %s: %s\n", level_name(level), message);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (len > 0 && line[len - 1] != '\n')
        line[len - 1] = '\n';
    /* One write() so that lines from several threads do not interleave. Nothing sensible can be
     * done when it fails. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

static void deliver(otel_log_level level, const char *message)
{
    pthread_mutex_lock(&g_handler_lock);
    otel_log_fn fn = g_handler;
    void *user_data = g_handler_user_data;
    pthread_mutex_unlock(&g_handler_lock);
    if (fn)
        fn(user_data, level, message);
    else
        default_handler(level, message);
}

/* Formats into |buf| (OTEL__LOG_MAX_MESSAGE bytes), marking truncation with "...". */
static void format_message(char *buf, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, OTEL__LOG_MAX_MESSAGE, fmt, ap);
    if (n < 0) {
        snprintf(buf, OTEL__LOG_MAX_MESSAGE, "(unformattable diagnostic: %s)", fmt);
        return;
    }
    if ((size_t)n >= OTEL__LOG_MAX_MESSAGE)
        memcpy(buf + OTEL__LOG_MAX_MESSAGE - 4, "...", 4);
}

/* Appends " (N similar messages suppressed)", keeping the result within the buffer. */
static void append_suppressed(char *buf, uint32_t suppressed)
{
    char tail[64];
    int t = snprintf(tail, sizeof(tail), " (%u similar message%s suppressed)", (unsigned)suppressed,
                     suppressed == 1 ? "" : "s");
    if (t <= 0)
        return;
    size_t len = strlen(buf);
    size_t tail_len = (size_t)t;
    if (len + tail_len >= OTEL__LOG_MAX_MESSAGE)
        len = OTEL__LOG_MAX_MESSAGE - 1 - tail_len; /* overwrite the end of a long message */
    memcpy(buf + len, tail, tail_len + 1);
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

bool otel__log_enabled(otel_log_level level)
{
    int min = atomic_load_explicit(&g_level, memory_order_relaxed);
    return level != OTEL_LOG_NONE && (int)level <= min;
}

void otel__logv(otel_log_level level, const char *fmt, va_list ap)
{
    if (!otel__log_enabled(level))
        return;
    char buf[OTEL__LOG_MAX_MESSAGE];
    format_message(buf, fmt, ap);
    deliver(level, buf);
}

void otel__log(otel_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    otel__logv(level, fmt, ap);
    va_end(ap);
}

void otel_log(otel_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    otel__logv(level, fmt, ap);
    va_end(ap);
}

void otel__log_site_emit(otel__log_site *site, otel_log_level level, const char *fmt, ...)
{
    if (!otel__log_enabled(level))
        return;
    int64_t interval = atomic_load_explicit(&g_rate_limit_ns, memory_order_relaxed);
    if (interval > 0) {
        int64_t now = monotonic_ns();
        int64_t next = atomic_load_explicit(&site->next_ns, memory_order_relaxed);
        /* Of the threads that see the window open, only the one whose CAS wins speaks. */
        if (now < next ||
            !atomic_compare_exchange_strong_explicit(&site->next_ns, &next, now + interval,
                                                     memory_order_relaxed, memory_order_relaxed)) {
            atomic_fetch_add_explicit(&site->suppressed, 1, memory_order_relaxed);
            return;
        }
    }
    uint32_t suppressed = atomic_exchange_explicit(&site->suppressed, 0, memory_order_relaxed);
    char buf[OTEL__LOG_MAX_MESSAGE];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, fmt, ap);
    va_end(ap);
    if (suppressed)
        append_suppressed(buf, suppressed);
    deliver(level, buf);
}

void otel__log_set_rate_limit_ns(int64_t ns)
{
    atomic_store_explicit(&g_rate_limit_ns, ns < 0 ? 0 : ns, memory_order_relaxed);
}

void otel_log_set_handler(otel_log_fn fn, void *user_data, otel_log_level min_level)
{
    pthread_mutex_lock(&g_handler_lock);
    g_handler = fn;
    g_handler_user_data = fn ? user_data : NULL;
    pthread_mutex_unlock(&g_handler_lock);
    otel_log_set_level(min_level);
}

void otel_log_set_level(otel_log_level min_level)
{
    if ((int)min_level < OTEL_LOG_NONE)
        min_level = OTEL_LOG_NONE;
    if ((int)min_level > OTEL_LOG_DEBUG)
        min_level = OTEL_LOG_DEBUG;
    atomic_store_explicit(&g_level, (int)min_level, memory_order_relaxed);
}

otel_log_level otel_log_get_level(void)
{
    return (otel_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

static bool ascii_ieq(otel_str a, const char *lit)
{
    size_t n = strlen(lit);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a.data[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

bool otel_log_level_parse(otel_str text, otel_log_level *out)
{
    static const struct {
        const char *name;
        otel_log_level level;
    } names[] = {
        { "error", OTEL_LOG_ERROR }, { "warn", OTEL_LOG_WARN },   { "warning", OTEL_LOG_WARN },
        { "info", OTEL_LOG_INFO },   { "debug", OTEL_LOG_DEBUG }, { "none", OTEL_LOG_NONE },
        { "off", OTEL_LOG_NONE },
    };
    if (!out || (!text.data && text.len))
        return false;
    /* Environment values often carry stray blanks. */
    while (text.len && (text.data[0] == ' ' || text.data[0] == '\t')) {
        text.data++;
        text.len--;
    }
    while (text.len && (text.data[text.len - 1] == ' ' || text.data[text.len - 1] == '\t'))
        text.len--;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (ascii_ieq(text, names[i].name)) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}
