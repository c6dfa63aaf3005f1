/* What the loopback receivers (http_receiver.h, grpc_receiver.h) and the exporter tests share: a
 * listening socket on 127.0.0.1 and a millisecond clock. Header-only. */
#ifndef OTEL_TESTS_LOOPBACK_H
#define OTEL_TESTS_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Binds 127.0.0.1:|port| (0: any free port) and listens; the port it got goes to |bound|.
 * Returns the socket, or -1. */
static inline int loopback_listen(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *bound = ntohs(a.sin_port);
    return fd;
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline int64_t loopback_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
