/* Diagnostics: the threshold, the handler, the default stderr format, truncation of long
 * messages, per-site rate limiting with the suppressed count, and level parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log_internal.h"

struct capture {
    int count;
    otel_log_level last_level;
    char last[2048];
};

static struct capture g_cap;

static void capture_handler(void *user_data, otel_log_level level, const char *message)
{
    struct capture *c = user_data;
    c->count++;
    c->last_level = level;
    snprintf(c->last, sizeof(c->last), "%s", message);
}

static int setup(void **state)
{
    (void)state;
    memset(&g_cap, 0, sizeof(g_cap));
    otel_log_set_handler(capture_handler, &g_cap, OTEL_LOG_INFO);
    otel__log_set_rate_limit_ns(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    otel__log_set_rate_limit_ns(1000000000);
    return 0;
}

static void test_messages_below_the_threshold_are_dropped(void **state)
{
    (void)state;
    assert_int_equal(otel_log_get_level(), OTEL_LOG_INFO);
    otel__log(OTEL_LOG_DEBUG, "debug %d", 1);
    assert_int_equal(g_cap.count, 0);
    assert_false(otel__log_enabled(OTEL_LOG_DEBUG));
    assert_true(otel__log_enabled(OTEL_LOG_INFO));
    assert_true(otel__log_enabled(OTEL_LOG_ERROR));
    assert_false(otel__log_enabled(OTEL_LOG_NONE));
    otel__log(OTEL_LOG_WARN, "warn %s", "x");
    assert_int_equal(g_cap.count, 1);
    assert_int_equal(g_cap.last_level, OTEL_LOG_WARN);
    assert_string_equal(g_cap.last, "warn x");
    otel_log_set_level(OTEL_LOG_DEBUG);
    otel__log(OTEL_LOG_DEBUG, "now %s", "visible");
    assert_int_equal(g_cap.count, 2);
    otel_log_set_level(OTEL_LOG_NONE);
    otel__log(OTEL_LOG_ERROR, "silenced");
    otel_log(OTEL_LOG_ERROR, "silenced");
    assert_int_equal(g_cap.count, 2);
}

static void test_public_otel_log_reaches_the_handler(void **state)
{
    (void)state;
    otel_log(OTEL_LOG_ERROR, "exporter %s failed: %d", "otlp", 503);
    assert_int_equal(g_cap.count, 1);
    assert_string_equal(g_cap.last, "exporter otlp failed: 503");
}

static void test_long_messages_are_truncated_with_an_ellipsis(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    otel__log(OTEL_LOG_ERROR, "%s", big);
    size_t len = strlen(g_cap.last);
    assert_int_equal(len, OTEL__LOG_MAX_MESSAGE - 1);
    assert_string_equal(g_cap.last + len - 3, "...");
}

static void emit_from_one_site(int i)
{
    OTEL__LOG(OTEL_LOG_WARN, "storm %d", i);
}

static void emit_from_another_site(int i)
{
    OTEL__LOG(OTEL_LOG_WARN, "other %d", i);
}

static void test_one_message_per_site_passes_the_rate_limit(void **state)
{
    (void)state;
    otel__log_set_rate_limit_ns(INT64_C(3600) * 1000000000); /* one hour: no second passes */
    for (int i = 0; i < 5; i++)
        emit_from_one_site(i);
    assert_int_equal(g_cap.count, 1);
    assert_string_equal(g_cap.last, "storm 0");
    emit_from_another_site(0); /* sites are independent */
    assert_int_equal(g_cap.count, 2);
    emit_from_another_site(1);
    assert_int_equal(g_cap.count, 2);
    /* Once the window opens (here: the limit is lifted), the count of suppressed ones rides
     * along with the next message. */
    otel__log_set_rate_limit_ns(0);
    emit_from_one_site(5);
    assert_int_equal(g_cap.count, 3);
    assert_string_equal(g_cap.last, "storm 5 (4 similar messages suppressed)");
    emit_from_one_site(6);
    assert_string_equal(g_cap.last, "storm 6");
    emit_from_another_site(2);
    assert_string_equal(g_cap.last, "other 2 (1 similar message suppressed)");
}

static void test_filtered_messages_are_not_counted_as_suppressed(void **state)
{
    (void)state;
    otel__log_set_rate_limit_ns(INT64_C(3600) * 1000000000);
    otel_log_set_level(OTEL_LOG_ERROR);
    for (int i = 0; i < 3; i++)
        OTEL__LOG(OTEL_LOG_WARN, "filtered %d", i);
    assert_int_equal(g_cap.count, 0);
}

static void test_default_handler_writes_one_prefixed_line_to_stderr(void **state)
{
    (void)state;
    char path[] = "/tmp/otel_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    otel_log_set_handler(NULL, NULL, OTEL_LOG_INFO);
    otel__log(OTEL_LOG_WARN, "disk %s", "full");
    otel__log(OTEL_LOG_DEBUG, "hidden");
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    char buf[256] = { 0 };
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    assert_string_equal(buf, "otelc: warn: disk full\n");
    assert_int_equal(g_cap.count, 0);
}

static void test_level_names_parse_case_insensitively(void **state)
{
    (void)state;
    otel_log_level l = OTEL_LOG_INFO;
    assert_true(otel_log_level_parse(OTEL_STR("ERROR"), &l));
    assert_int_equal(l, OTEL_LOG_ERROR);
    assert_true(otel_log_level_parse(OTEL_STR("Warning"), &l));
    assert_int_equal(l, OTEL_LOG_WARN);
    assert_true(otel_log_level_parse(OTEL_STR("warn"), &l));
    assert_int_equal(l, OTEL_LOG_WARN);
    assert_true(otel_log_level_parse(OTEL_STR("debug"), &l));
    assert_int_equal(l, OTEL_LOG_DEBUG);
    assert_true(otel_log_level_parse(OTEL_STR("info"), &l));
    assert_int_equal(l, OTEL_LOG_INFO);
    assert_true(otel_log_level_parse(OTEL_STR("OFF"), &l));
    assert_int_equal(l, OTEL_LOG_NONE);
    assert_true(otel_log_level_parse(OTEL_STR("none"), &l));
    assert_int_equal(l, OTEL_LOG_NONE);
    l = OTEL_LOG_DEBUG;
    assert_false(otel_log_level_parse(OTEL_STR("verbose"), &l));
    assert_false(otel_log_level_parse(OTEL_STR(""), &l));
    assert_false(otel_log_level_parse(OTEL_STR("err"), &l));
    assert_int_equal(l, OTEL_LOG_DEBUG);
}

/* Every test runs with the capturing handler installed and no rate limit. */
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_messages_below_the_threshold_are_dropped),
        TEST(test_public_otel_log_reaches_the_handler),
        TEST(test_long_messages_are_truncated_with_an_ellipsis),
        TEST(test_one_message_per_site_passes_the_rate_limit),
        TEST(test_filtered_messages_are_not_counted_as_suppressed),
        TEST(test_default_handler_writes_one_prefixed_line_to_stderr),
        TEST(test_level_names_parse_case_insensitively),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
