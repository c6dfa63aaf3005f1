/* Deadlines, sleeping and retry pacing for exporters: exponential backoff with jitter (so that
 * many processes restarted together do not hit a recovering collector in lockstep) and the
 * server's own Retry-After hint, always bounded by the export's deadline so that an export never
 * outlives its timeout. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "exporter_common.h"

int64_t otel__mono_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t otel__deadline_after(int64_t timeout_ns)
{
    if (timeout_ns <= 0)
        return INT64_MAX;
    int64_t now = otel__mono_now_ns();
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

int64_t otel__time_left(int64_t deadline_ns)
{
    if (deadline_ns == INT64_MAX)
        return INT64_MAX;
    int64_t left = deadline_ns - otel__mono_now_ns();
    return left > 0 ? left : 0;
}

void otel__sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---------------------------------------------------------------------------------------------
 * Backoff
 * ------------------------------------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

void otel__backoff_init(otel__backoff *b, int64_t initial_ns, int64_t max_ns, double multiplier)
{
    b->initial_ns = initial_ns > 0 ? initial_ns : 1000000000;
    b->max_ns = max_ns > 0 ? max_ns : 5000000000;
    if (b->max_ns < b->initial_ns)
        b->max_ns = b->initial_ns;
    b->multiplier = multiplier > 1.0 ? multiplier : 1.5;
    b->jitter = 0.2;
    b->current_ns = b->initial_ns;
    /* Jitter only needs to differ between processes and exporters, not to be unpredictable. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b->rng =
        ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)b ^ 0x9e3779b97f4a7c15u;
    if (b->rng == 0)
        b->rng = 1;
}

void otel__backoff_reset(otel__backoff *b)
{
    b->current_ns = b->initial_ns;
}

int64_t otel__backoff_next(otel__backoff *b)
{
    double unit = (double)(xorshift(&b->rng) >> 11) / 9007199254740992.0; /* [0, 1) */
    double factor = 1.0 - b->jitter + 2.0 * b->jitter * unit;
    double d = (double)b->current_ns * factor;
    if (d > (double)b->max_ns)
        d = (double)b->max_ns;
    double grown = (double)b->current_ns * b->multiplier;
    b->current_ns = grown > (double)b->max_ns ? b->max_ns : (int64_t)grown;
    return (int64_t)d;
}

bool otel__backoff_wait(otel__backoff *b, int64_t retry_after_ns, int64_t deadline_ns)
{
    int64_t delay = retry_after_ns >= 0 ? retry_after_ns : otel__backoff_next(b);
    int64_t left = otel__time_left(deadline_ns);
    if (delay >= left)
        return false;
    otel__sleep_ns(delay);
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Retry-After
 * ------------------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct scan {
    const char *p;
    const char *end;
};

static bool at_end(const struct scan *s)
{
    return s->p >= s->end;
}

static void skip_spaces(struct scan *s)
{
    while (!at_end(s) && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t take_alpha(struct scan *s, const char **word)
{
    *word = s->p;
    while (!at_end(s) && is_alpha(*s->p))
        s->p++;
    return (size_t)(s->p - *word);
}

/* Reads 1 to |max| digits. */
static bool take_number(struct scan *s, size_t max, int64_t *out)
{
    size_t n = 0;
    int64_t v = 0;
    while (!at_end(s) && is_digit(*s->p) && n < max) {
        v = v * 10 + (*s->p - '0');
        s->p++;
        n++;
    }
    *out = v;
    return n > 0;
}

static bool take_char(struct scan *s, char c)
{
    if (at_end(s) || *s->p != c)
        return false;
    s->p++;
    return true;
}

static int month_index(const char *w, size_t n)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (n != 3)
        return -1;
    for (int i = 0; i < 12; i++)
        if (strncmp(months + 3 * i, w, 3) == 0)
            return i + 1;
    return -1;
}

static bool take_time(struct scan *s, int64_t *h, int64_t *mi, int64_t *sec)
{
    return take_number(s, 2, h) && take_char(s, ':') && take_number(s, 2, mi) && take_char(s, ':') &&
           take_number(s, 2, sec) && *h < 24 && *mi < 60 && *sec <= 60;
}

static bool take_gmt(struct scan *s)
{
    skip_spaces(s);
    const char *w;
    size_t n = take_alpha(s, &w);
    return n == 3 && strncmp(w, "GMT", 3) == 0;
}

/* The three HTTP-date forms; the weekday is read but not checked against the date. */
static bool parse_http_date(otel_str v, int64_t *unix_s)
{
    struct scan s = { v.data, v.data + v.len };
    const char *w;
    int64_t day, year, h, mi, sec;
    int month;
    if (take_alpha(&s, &w) < 3)
        return false;
    if (take_char(&s, ',')) {
        skip_spaces(&s);
        if (!take_number(&s, 2, &day))
            return false;
        if (take_char(&s, '-')) {
            /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
            size_t n = take_alpha(&s, &w);
            month = month_index(w, n);
            if (month < 0 || !take_char(&s, '-') || !take_number(&s, 2, &year))
                return false;
            /* Two-digit years: RFC 9110 reads a year more than 50 years ahead as the past. */
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            int64_t this_year = 1970 + (int64_t)now.tv_sec / 31556952;
            year += this_year - this_year % 100;
            if (year > this_year + 50)
                year -= 100;
        } else {
            /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            skip_spaces(&s);
            size_t n = take_alpha(&s, &w);
            month = month_index(w, n);
            skip_spaces(&s);
            if (month < 0 || !take_number(&s, 4, &year))
                return false;
        }
        skip_spaces(&s);
        if (!take_time(&s, &h, &mi, &sec) || !take_gmt(&s))
            return false;
    } else {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        skip_spaces(&s);
        size_t n = take_alpha(&s, &w);
        month = month_index(w, n);
        skip_spaces(&s);
        if (month < 0 || !take_number(&s, 2, &day))
            return false;
        skip_spaces(&s);
        if (!take_time(&s, &h, &mi, &sec))
            return false;
        skip_spaces(&s);
        if (!take_number(&s, 4, &year))
            return false;
    }
    skip_spaces(&s);
    if (!at_end(&s) || day < 1 || day > 31)
        return false;
    *unix_s = days_from_civil(year, month, day) * 86400 + h * 3600 + mi * 60 + sec;
    return true;
}

int64_t otel__retry_after_parse(otel_str value, int64_t now_unix_s)
{
    while (value.len && (value.data[0] == ' ' || value.data[0] == '\t')) {
        value.data++;
        value.len--;
    }
    while (value.len && (value.data[value.len - 1] == ' ' || value.data[value.len - 1] == '\t' ||
                         value.data[value.len - 1] == '\r' || value.data[value.len - 1] == '\n'))
        value.len--;
    if (value.len == 0)
        return -1;
    if (is_digit(value.data[0])) {
        int64_t secs = 0;
        for (size_t i = 0; i < value.len; i++) {
            if (!is_digit(value.data[i]))
                return -1;
            if (secs > (INT64_MAX / 1000000000 - 9) / 10)
                return INT64_MAX / 2; /* absurdly far: longer than any deadline */
            secs = secs * 10 + (value.data[i] - '0');
        }
        return secs * 1000000000;
    }
    int64_t when;
    if (!parse_http_date(value, &when))
        return -1;
    if (when <= now_unix_s)
        return 0;
    int64_t d = when - now_unix_s;
    return d > INT64_MAX / 2000000000 ? INT64_MAX / 2 : d * 1000000000;
}
