/* Helpers for the Datadog exporter tests: run python3-msgpack (through dd_decode.py, next to
 * this file) on a payload and capture its canonical output; build otel_span_data values by hand.
 * Header-only, included by tests/datadog/ and tests/exporters/test_datadog_*.c.
 *
 * The decoder is found as $OTEL_TEST_PYTHON, /usr/bin/python3 or python3 on PATH, whichever
 * imports msgpack first (Debian: apt-get install python3-msgpack). Without one, the round-trip
 * tests are skipped with a message (cmocka "SKIPPED"), unless OTEL_TEST_REQUIRE_MSGPACK=1,
 * which turns that into a failure (for CI). */
#ifndef OTEL_TESTS_DD_TESTUTIL_H
#define OTEL_TESTS_DD_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *dd_python(void)
{
    static char found[256];
    static int state; /* 0 unknown, 1 found, -1 none */
    if (state)
        return state > 0 ? found : NULL;
    const char *candidates[3] = { getenv("OTEL_TEST_PYTHON"), "/usr/bin/python3", "python3" };
    for (int i = 0; i < 3; i++) {
        if (!candidates[i] || !candidates[i][0])
            continue;
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "'%s' -c 'import msgpack' >/dev/null 2>&1", candidates[i]);
        if (system(cmd) == 0) {
            snprintf(found, sizeof(found), "%s", candidates[i]);
            state = 1;
            return found;
        }
    }
    state = -1;
    return NULL;
}

/* The directory of this header (where dd_decode.py lives). */
static inline void dd_script_path(char *out, size_t cap)
{
    const char *f = __FILE__;
    const char *slash = strrchr(f, '/');
    size_t n = slash ? (size_t)(slash - f) : 1;
    snprintf(out, cap, "%.*s/dd_decode.py", (int)n, slash ? f : ".");
}

/* Decodes |len| bytes with python3-msgpack in |mode| ("v0.4", "v0.5", "raw") and returns its
 * output (malloc'd, NUL-terminated), or NULL when no decoder is available. */
static inline char *dd_decode(const void *payload, size_t len, const char *mode)
{
    const char *py = dd_python();
    if (!py)
        return NULL;
    char dir[] = "/tmp/otel-dd-test-XXXXXX";
    if (!mkdtemp(dir))
        return NULL;
    char file[300];
    snprintf(file, sizeof(file), "%s/payload.msgpack", dir);
    FILE *f = fopen(file, "wb");
    if (!f)
        return NULL;
    if (len)
        fwrite(payload, 1, len, f);
    fclose(f);
    char script[1024];
    dd_script_path(script, sizeof(script));
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' %s '%s' 2>&1", py, script, mode, file);
    FILE *p = popen(cmd, "r");
    char *out = NULL;
    size_t n = 0, cap = 0;
    if (p) {
        char chunk[4096];
        size_t r;
        while ((r = fread(chunk, 1, sizeof(chunk), p)) > 0) {
            if (n + r + 1 > cap) {
                cap = (n + r + 1) * 2;
                out = realloc(out, cap);
            }
            memcpy(out + n, chunk, r);
            n += r;
        }
        pclose(p);
    }
    if (!out)
        out = calloc(1, 1);
    else
        out[n] = '\0';
    unlink(file);
    rmdir(dir);
    return out;
}

/* Skips the calling test when no decoder is installed (or fails it when one is required). */
#define DD_REQUIRE_DECODER()                                                         \
    do {                                                                             \
        if (!dd_python()) {                                                          \
            const char *req_ = getenv("OTEL_TEST_REQUIRE_MSGPACK");                  \
            if (req_ && req_[0] == '1')                                              \
                fail_msg("python3-msgpack not found (OTEL_TEST_REQUIRE_MSGPACK=1)"); \
            print_message("python3-msgpack not found: skipping (apt-get install "    \
                          "python3-msgpack)\n");                                     \
            skip();                                                                  \
        }                                                                            \
    } while (0)

/* Fails when |out| contains no |needle|, printing the output. */
#define DD_ASSERT_HAS(out, needle)                                           \
    do {                                                                     \
        if (!strstr((out), (needle)))                                        \
            fail_msg("expected %s in decoder output:\n%s", (needle), (out)); \
    } while (0)

#define DD_ASSERT_LACKS(out, needle)                                               \
    do {                                                                           \
        if (strstr((out), (needle)))                                               \
            fail_msg("did not expect %s in decoder output:\n%s", (needle), (out)); \
    } while (0)

/* Counts occurrences of |needle|. */
static inline int dd_count(const char *hay, const char *needle)
{
    int n = 0;
    size_t l = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + l, needle))
        n++;
    return n;
}

/* The |n|-th "SPAN" line (0-based), or NULL; the returned pointer is into a static copy. */
static inline const char *dd_span_line(const char *out, int n)
{
    static char line[65536];
    const char *p = out;
    int i = 0;
    while ((p = strstr(p, "SPAN ")) != NULL) {
        if (p != out && p[-1] != '\n') {
            p += 5;
            continue;
        }
        const char *end = strchr(p, '\n');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (i++ == n) {
            if (l >= sizeof(line))
                l = sizeof(line) - 1;
            memcpy(line, p, l);
            line[l] = '\0';
            return line;
        }
        p += l;
    }
    return NULL;
}

/* Sets trace and span ids from integers (big-endian, as the SDK stores them). */
static inline void dd_set_ids(otel_span_data *d, uint64_t trace_hi, uint64_t trace_lo, uint64_t span,
                              uint64_t parent)
{
    for (int i = 0; i < 8; i++) {
        d->context.trace_id[i] = (uint8_t)(trace_hi >> (56 - 8 * i));
        d->context.trace_id[8 + i] = (uint8_t)(trace_lo >> (56 - 8 * i));
        d->context.span_id[i] = (uint8_t)(span >> (56 - 8 * i));
        d->parent_span_id[i] = (uint8_t)(parent >> (56 - 8 * i));
    }
}

#endif
