/* Captures otelc's diagnostics in a test: log_capture_setup() installs a handler at debug level
 * with rate limiting off and empties |logged|, which then collects every message, one per line,
 * from any thread; log_capture_teardown() restores the default sink. Use them as cmocka
 * setup/teardown functions and search |logged| with strstr(). Header-only: each test program
 * gets its own buffer. */
#ifndef OTEL_TEST_LOG_CAPTURE_H
#define OTEL_TEST_LOG_CAPTURE_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log_internal.h"
#include "otel/common.h"

static char logged[16384];
static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_capture_handler(void *user_data, otel_log_level level, const char *message)
{
    (void)user_data;
    (void)level;
    pthread_mutex_lock(&logged_lock);
    size_t used = strlen(logged);
    snprintf(logged + used, sizeof(logged) - used, "%s\n", message);
    pthread_mutex_unlock(&logged_lock);
}

static int log_capture_setup(void **state)
{
    (void)state;
    otel__log_set_rate_limit_ns(0);
    pthread_mutex_lock(&logged_lock);
    logged[0] = '\0';
    pthread_mutex_unlock(&logged_lock);
    otel_log_set_handler(log_capture_handler, NULL, OTEL_LOG_DEBUG);
    return 0;
}

static int log_capture_teardown(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    return 0;
}

#endif
