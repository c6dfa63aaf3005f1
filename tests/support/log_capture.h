/* Captures otelc's diagnostics in a test: log_capture_setup() installs a handler at debug level
 * with rate limiting off and empties what was captured; from then on every message, from any
 * thread, is appended to |logged| (one per line), counted by level, and kept whole in
 * |logged_last| (and, at WARN or ERROR, in |logged_last_warning|). log_capture_teardown()
 * restores the default sink and rate limit. Use them as cmocka setup/teardown functions (or call
 * them directly), search |logged| and the last messages with strstr(), and read the counts with
 * log_capture_count(), log_capture_warnings() and log_capture_count_at().
 * log_capture_start(level) captures from another minimum level; log_capture_reset() empties
 * the capture mid-test. Header-only: each test program gets its own buffers. */
#ifndef OTEL_TEST_LOG_CAPTURE_H
#define OTEL_TEST_LOG_CAPTURE_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log_internal.h"
#include "otel/common.h"

static char logged[16384];
static char logged_last[OTEL__LOG_MAX_MESSAGE];
static char logged_last_warning[OTEL__LOG_MAX_MESSAGE];
static int logged_counts[OTEL_LOG_DEBUG + 1]; /* messages per level */
static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_capture_handler(void *user_data, otel_log_level level, const char *message)
{
    (void)user_data;
    pthread_mutex_lock(&logged_lock);
    size_t used = strlen(logged);
    snprintf(logged + used, sizeof(logged) - used, "%s\n", message);
    snprintf(logged_last, sizeof(logged_last), "%s", message);
    if (level == OTEL_LOG_ERROR || level == OTEL_LOG_WARN)
        snprintf(logged_last_warning, sizeof(logged_last_warning), "%s", message);
    if (level >= OTEL_LOG_ERROR && level <= OTEL_LOG_DEBUG)
        logged_counts[level]++;
    pthread_mutex_unlock(&logged_lock);
}

/* Empties the capture: buffers and counts. */
static inline void log_capture_reset(void)
{
    pthread_mutex_lock(&logged_lock);
    logged[0] = '\0';
    logged_last[0] = '\0';
    logged_last_warning[0] = '\0';
    memset(logged_counts, 0, sizeof(logged_counts));
    pthread_mutex_unlock(&logged_lock);
}

/* Empties the capture and captures every message at |min_level| or more severe. */
static inline void log_capture_start(otel_log_level min_level)
{
    otel__log_set_rate_limit_ns(0);
    log_capture_reset();
    otel_log_set_handler(log_capture_handler, NULL, min_level);
}

static inline int log_capture_setup(void **state)
{
    (void)state;
    log_capture_start(OTEL_LOG_DEBUG);
    return 0;
}

static inline int log_capture_teardown(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    otel__log_set_rate_limit_ns(1000000000); /* the default: one second */
    return 0;
}

/* Messages captured at exactly |level|. */
static inline int log_capture_count_at(otel_log_level level)
{
    pthread_mutex_lock(&logged_lock);
    int n = level >= OTEL_LOG_ERROR && level <= OTEL_LOG_DEBUG ? logged_counts[level] : 0;
    pthread_mutex_unlock(&logged_lock);
    return n;
}

/* Messages captured at WARN or ERROR. */
static inline int log_capture_warnings(void)
{
    return log_capture_count_at(OTEL_LOG_WARN) + log_capture_count_at(OTEL_LOG_ERROR);
}

/* Every message captured. */
static inline int log_capture_count(void)
{
    return log_capture_warnings() + log_capture_count_at(OTEL_LOG_INFO) +
           log_capture_count_at(OTEL_LOG_DEBUG);
}

#endif
