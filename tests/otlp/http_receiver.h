/* A loopback HTTP/1.1 receiver for the OTLP/HTTP exporter tests: a thread with a listening
 * socket on 127.0.0.1 (port 0, so tests never collide) that answers each request from a script
 * (status, headers, body, delay, or a reset connection) and records what it received. Every
 * wait is bounded: a delayed answer ends early when the client hangs up, and the thread checks
 * its stop flag at least every 20 ms. Header-only; include after cmocka.h. */
#ifndef OTEL_TESTS_HTTP_RECEIVER_H
#define OTEL_TESTS_HTTP_RECEIVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loopback.h"

#define RECV_MAX_SCRIPT 8
#define RECV_MAX_REQUESTS 32

struct recv_response {
    int status;          /* 0: reset the connection after reading the request */
    const char *headers; /* extra header lines, each ending in \r\n */
    const void *body;
    size_t body_len;
    int delay_ms; /* wait before answering (ends early if the client leaves) */
};

struct recv_request {
    char method[8];
    char path[256];
    char headers[4096]; /* raw header block, lowercased names kept as sent */
    unsigned char *body;
    size_t body_len;
    int connection; /* which accepted connection carried it (1-based) */
};

struct receiver {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    _Atomic bool stop;
    pthread_mutex_t lock;
    struct recv_response script[RECV_MAX_SCRIPT];
    int script_len; /* the last entry repeats */
    struct recv_request requests[RECV_MAX_REQUESTS];
    _Atomic int request_count;
    _Atomic int answered_ok; /* requests answered with 2xx */
    _Atomic int connections;
};

/* Reads until |n| bytes are in |buf| or the peer leaves; returns false on EOF/error/stop. */
static inline bool recv_read_more(struct receiver *r, int fd, char *buf, size_t cap, size_t *len)
{
    while (!atomic_load(&r->stop)) {
        struct pollfd p = { fd, POLLIN, 0 };
        int rc = poll(&p, 1, 20);
        if (rc < 0 && errno != EINTR)
            return false;
        if (rc <= 0)
            continue;
        if (*len >= cap)
            return false;
        ssize_t n = recv(fd, buf + *len, cap - *len, 0);
        if (n <= 0)
            return false;
        *len += (size_t)n;
        return true;
    }
    return false;
}

static inline bool recv_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

static inline size_t recv_content_length(const char *headers)
{
    const char *p = headers;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

/* Serves one connection until the client closes it or the script resets it. */
static inline void recv_serve(struct receiver *r, int fd, int conn)
{
    size_t cap = 1 << 22;
    char *buf = malloc(cap);
    size_t len = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4)))
            if (!recv_read_more(r, fd, buf, cap, &len))
                goto out;
        size_t head = (size_t)(end - buf) + 4;
        buf[head - 1] = '\0';
        size_t body_len = recv_content_length(buf);
        while (len < head + body_len)
            if (!recv_read_more(r, fd, buf, cap, &len))
                goto out;
        int idx = atomic_load(&r->request_count);
        struct recv_response resp = r->script[idx < r->script_len ? idx : r->script_len - 1];
        if (idx < RECV_MAX_REQUESTS) {
            struct recv_request *q = &r->requests[idx];
            sscanf(buf, "%7s %255s", q->method, q->path);
            snprintf(q->headers, sizeof(q->headers), "%s", buf);
            q->body = malloc(body_len ? body_len : 1);
            memcpy(q->body, buf + head, body_len);
            q->body_len = body_len;
            q->connection = conn;
        }
        atomic_fetch_add(&r->request_count, 1);
        memmove(buf, buf + head + body_len, len - head - body_len);
        len -= head + body_len;
        if (resp.delay_ms) {
            int64_t until = loopback_now_ms() + resp.delay_ms;
            while (!atomic_load(&r->stop) && loopback_now_ms() < until) {
                struct pollfd p = { fd, POLLIN, 0 };
                if (poll(&p, 1, 20) > 0) {
                    char c;
                    if (recv(fd, &c, 1, MSG_PEEK) <= 0)
                        goto out; /* the client gave up */
                }
            }
        }
        if (resp.status == 0) {
            struct linger lg = { 1, 0 }; /* close with RST */
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            goto out;
        }
        char head_out[1024];
        int n = snprintf(head_out, sizeof(head_out), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n",
                         resp.status, resp.body_len, resp.headers ? resp.headers : "");
        /* Counted before sending: the client may look as soon as it has the answer. */
        if (resp.status >= 200 && resp.status < 300)
            atomic_fetch_add(&r->answered_ok, 1);
        if (!recv_send_all(fd, head_out, (size_t)n) ||
            (resp.body_len && !recv_send_all(fd, resp.body, resp.body_len)))
            goto out;
    }
out:
    free(buf);
    close(fd);
}

static inline void *recv_main(void *arg)
{
    struct receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = { r->listen_fd, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(r->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int conn = atomic_fetch_add(&r->connections, 1) + 1;
        recv_serve(r, fd, conn);
    }
    return NULL;
}

/* A port nothing listens on (bound once, then released). */
static inline uint16_t recv_free_port(void)
{
    uint16_t port = 0;
    int fd = loopback_listen(0, &port);
    close(fd);
    return port;
}

static inline struct receiver *recv_start_on(uint16_t port, const struct recv_response *script, int n)
{
    struct receiver *r = calloc(1, sizeof(*r));
    r->listen_fd = loopback_listen(port, &r->port);
    assert_true(r->listen_fd >= 0);
    pthread_mutex_init(&r->lock, NULL);
    memcpy(r->script, script, (size_t)n * sizeof(*script));
    r->script_len = n;
    assert_int_equal(pthread_create(&r->thread, NULL, recv_main, r), 0);
    return r;
}

static inline struct receiver *recv_start(const struct recv_response *script, int n)
{
    return recv_start_on(0, script, n);
}

static inline void recv_stop(struct receiver *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
    int n = atomic_load(&r->request_count);
    for (int i = 0; i < n && i < RECV_MAX_REQUESTS; i++)
        free(r->requests[i].body);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* The value of header |name| in request |q| (case-insensitive name), copied to |out|. */
static inline bool recv_header(const struct recv_request *q, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    const char *p = q->headers;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t l = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)l, v);
            return true;
        }
    }
    return false;
}

#endif
