/* The built-in id generator: a per-thread wyrand generator (64-bit state, one multiply per
 * output), seeded from getrandom(), so making ids takes no lock and no system call (the
 * generator itself is inline in provider.h, so span start pays no call). A forked child
 * re-seeds (a pthread_atfork handler bumps a generation that every thread's state checks),
 * so parent and child never produce the same ids. Ids are never all zero. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log_internal.h"
#include "provider.h"

__thread struct otel__rng otel__rng_tls __attribute__((tls_model("initial-exec")));
_Atomic uint64_t otel__rng_fork_generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_child(void)
{
    atomic_fetch_add_explicit(&otel__rng_fork_generation, 1, memory_order_relaxed);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, atfork_child);
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static bool read_urandom(void *buf, size_t len)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return got == len;
}

static uint64_t os_seed(void)
{
    uint64_t seed = 0;
    ssize_t n;
    do {
        n = getrandom(&seed, sizeof(seed), 0);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(seed))
        return seed;
    if (read_urandom(&seed, sizeof(seed)))
        return seed;
    /* No OS randomness: ids are still unique enough within this process, but predictable. */
    OTEL__LOG(OTEL_LOG_WARN, "id generator: no OS randomness (getrandom, /dev/urandom); "
                             "seeding from time, pid and addresses");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
    clock_gettime(CLOCK_REALTIME, &ts);
    t ^= mix64((uint64_t)ts.tv_nsec + ((uint64_t)ts.tv_sec << 32));
    return mix64(t ^ mix64((uint64_t)getpid()) ^ mix64((uint64_t)(uintptr_t)&otel__rng_tls));
}

void otel__rng_reseed(struct otel__rng *r, uint64_t gen)
{
    pthread_once(&atfork_once, register_atfork);
    r->state = os_seed();
    r->fork_gen = gen;
}

/* Ids are random bytes: the byte order of the random words does not matter. */
void otel__random_trace_id(uint8_t out[OTEL_TRACE_ID_SIZE])
{
    uint64_t hi, lo;
    do {
        hi = otel__rand64();
        lo = otel__rand64();
    } while ((hi | lo) == 0);
    memcpy(out, &hi, 8);
    memcpy(out + 8, &lo, 8);
}

void otel__random_span_id(uint8_t out[OTEL_SPAN_ID_SIZE])
{
    uint64_t v = otel__rand64_nonzero();
    memcpy(out, &v, 8);
}

static void builtin_trace_id(void *user_data, uint8_t out[OTEL_TRACE_ID_SIZE])
{
    (void)user_data;
    otel__random_trace_id(out);
}

static void builtin_span_id(void *user_data, uint8_t out[OTEL_SPAN_ID_SIZE])
{
    (void)user_data;
    otel__random_span_id(out);
}

otel_id_generator otel__id_generator_builtin(void)
{
    otel_id_generator g = {
        .new_trace_id = builtin_trace_id,
        .new_span_id = builtin_span_id,
        .random_trace_ids = true,
    };
    return g;
}
