/* Which sanitizer a test is built with (UNDER_TSAN, UNDER_ASAN), for the fork tests that must
 * skip what a sanitizer cannot follow, and OTEL_TEST_TSAN_FORK_OPTIONS, which defines the
 * ThreadSanitizer options such tests need. Include it in one translation unit per test program. */
#ifndef OTEL_TEST_SANITIZERS_H
#define OTEL_TEST_SANITIZERS_H

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* ThreadSanitizer: a child of a multithreaded parent may start threads (the batch worker).
 * Default visibility: the build hides symbols, and the sanitizer runtime must find this one.
 * (Even so TSan loses track of thread ids across such a fork and aborts the child: tests whose
 * children start a worker thread are skipped under TSan.) */
#define OTEL_TEST_TSAN_FORK_OPTIONS()                                                      \
    __attribute__((visibility("default"), used)) const char *__tsan_default_options(void); \
    __attribute__((visibility("default"), used)) const char *__tsan_default_options(void)  \
    {                                                                                      \
        return "die_after_fork=0";                                                         \
    }

#endif
