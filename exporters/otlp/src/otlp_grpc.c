/* A minimal gRPC client for OTLP: unary calls on one long-lived HTTP/2 connection (nghttp2),
 * over plain TCP or TLS (OpenSSL, ALPN "h2", certificate and host name verification on). It is
 * driven entirely by the exporting thread: the socket is non-blocking and every wait is a poll()
 * bounded by the call's deadline, so a dead or slow collector costs at most the export timeout
 * (the one exception is a DNS lookup of a host name, which getaddrinfo() cannot bound).
 * OpenSSL never touches the socket: it reads and writes memory BIOs and this file moves the
 * bytes, so a closed peer cannot raise SIGPIPE and the TLS and plaintext paths share one loop.
 * A GOAWAY, a reset or an end of file closes the connection; the next call opens a new one. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "exporter_common.h"
#include "log_internal.h"
#include "mem.h"
#include "otlp_internal.h"

#define IO_CHUNK 16384
#define OUT_HIGH_WATER (256 * 1024) /* stop asking nghttp2 for bytes past this much unsent */

struct otel__grpc_client {
    /* Settings, copied at creation. */
    char *host;
    uint16_t port;
    bool tls;
    bool gzip;
    char *authority;
    char *path;
    char *user_agent;
    char **md_names;
    char **md_values;
    size_t md_count;
    SSL_CTX *ssl_ctx;
    _Atomic uint64_t connections; /* written by the exporting thread, read by get_stats */

    /* The connection; fd < 0 when there is none. */
    int fd;
    SSL *ssl;
    BIO *rbio; /* ciphertext in (owned by ssl) */
    BIO *wbio; /* ciphertext out (owned by ssl) */
    nghttp2_session *h2;
    otel__buf out; /* bytes waiting for the socket */
    size_t out_off;
    bool eof;
    bool goaway;
    bool io_error;

    /* The call in progress. */
    int32_t stream_id;
    const uint8_t *req;
    size_t req_len;
    size_t req_off;
    uint8_t prefix[5];
    bool stream_closed;
    uint32_t stream_error;
    int http_status;
    int grpc_status; /* -1: none yet */
    char grpc_message[256];
    int64_t retry_delay_ns;
    bool response_compressed;
    otel__buf resp;
};

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

static char *dup_cstr(const char *s)
{
    return s ? otel__strndup(s, strlen(s)) : NULL;
}

static void tls_error_text(char *out, size_t cap, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    snprintf(out, cap, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

size_t otel__base64_decode(const char *in, size_t len, uint8_t *out)
{
    while (len && in[len - 1] == '=')
        len--;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return (size_t)-1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Reads the next field of a message: its number, wire type and, for length-delimited fields,
 * the payload. Returns false at the end or on malformed input. */
static bool pb_next(const uint8_t **p, const uint8_t *end, uint32_t *field, uint32_t *wt, uint64_t *value,
                    const uint8_t **payload, size_t *payload_len)
{
    uint64_t tag;
    if (*p >= end || !pb_varint(p, end, &tag))
        return false;
    *field = (uint32_t)(tag >> 3);
    *wt = (uint32_t)(tag & 7);
    switch (*wt) {
    case 0:
        return pb_varint(p, end, value);
    case 1:
        if (end - *p < 8)
            return false;
        *p += 8;
        return true;
    case 5:
        if (end - *p < 4)
            return false;
        *p += 4;
        return true;
    case 2: {
        uint64_t n;
        if (!pb_varint(p, end, &n) || n > (uint64_t)(end - *p))
            return false;
        *payload = *p;
        *payload_len = (size_t)n;
        *p += n;
        return true;
    }
    default:
        return false;
    }
}

/* google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3 }
 * Any { string type_url = 1; bytes value = 2 }
 * RetryInfo { google.protobuf.Duration retry_delay = 1 }, Duration { int64 seconds = 1; int32 nanos = 2 } */
int64_t otel__grpc_parse_retry_info(const uint8_t *p, size_t len)
{
    static const char retry_info[] = "type.googleapis.com/google.rpc.RetryInfo";
    const uint8_t *end = p + len;
    uint32_t f, wt;
    uint64_t v;
    const uint8_t *pl;
    size_t pn;
    while (pb_next(&p, end, &f, &wt, &v, &pl, &pn)) {
        if (f != 3 || wt != 2)
            continue;
        const uint8_t *a = pl, *aend = pl + pn;
        const uint8_t *value = NULL;
        size_t value_len = 0;
        bool is_retry = false;
        while (pb_next(&a, aend, &f, &wt, &v, &pl, &pn)) {
            if (f == 1 && wt == 2)
                is_retry = pn == sizeof(retry_info) - 1 && memcmp(pl, retry_info, pn) == 0;
            else if (f == 2 && wt == 2) {
                value = pl;
                value_len = pn;
            }
        }
        if (!is_retry || !value)
            continue;
        const uint8_t *r = value, *rend = value + value_len;
        while (pb_next(&r, rend, &f, &wt, &v, &pl, &pn)) {
            if (f != 1 || wt != 2)
                continue;
            int64_t secs = 0, nanos = 0;
            const uint8_t *d = pl, *dend = pl + pn;
            while (pb_next(&d, dend, &f, &wt, &v, &pl, &pn)) {
                if (f == 1 && wt == 0)
                    secs = (int64_t)v;
                else if (f == 2 && wt == 0)
                    nanos = (int64_t)(int32_t)v;
            }
            if (secs < 0 || nanos < 0)
                return 0;
            if (secs > INT64_MAX / 2000000000)
                return INT64_MAX / 2;
            return secs * 1000000000 + nanos;
        }
        return 0; /* RetryInfo without a delay: retry with our own backoff */
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Moving bytes: socket <-> (TLS) <-> nghttp2
 * ------------------------------------------------------------------------------------------- */

static void close_connection(struct otel__grpc_client *c)
{
    if (c->h2) {
        nghttp2_session_del(c->h2);
        c->h2 = NULL;
    }
    if (c->ssl) {
        SSL_free(c->ssl); /* frees both BIOs */
        c->ssl = NULL;
        c->rbio = c->wbio = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    otel__buf_clear(&c->out);
    c->out_off = 0;
    c->eof = false;
    c->goaway = false;
    c->io_error = false;
}

static bool out_pending(const struct otel__grpc_client *c)
{
    return c->out_off < c->out.len;
}

/* Moves TLS output from the write BIO to |out|. */
static bool drain_wbio(struct otel__grpc_client *c)
{
    size_t pending;
    while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
        if (!otel__buf_reserve(&c->out, pending))
            return false;
        int n = BIO_read(c->wbio, c->out.data + c->out.len, (int)(pending > INT_MAX ? INT_MAX : pending));
        if (n <= 0)
            return false;
        c->out.len += (size_t)n;
    }
    return true;
}

/* Queues |n| plaintext bytes for the peer. */
static bool queue_out(struct otel__grpc_client *c, const uint8_t *p, size_t n)
{
    if (!c->ssl) {
        otel__buf_append(&c->out, p, n);
        return !c->out.failed;
    }
    while (n) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        int w = SSL_write(c->ssl, p, chunk); /* into a memory BIO: never blocks */
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
        if (!drain_wbio(c))
            return false;
    }
    return true;
}

/* Writes what it can of |out| without blocking. False on a socket error. */
static bool flush_out(struct otel__grpc_client *c)
{
    while (out_pending(c)) {
        ssize_t n =
            send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            return false;
        }
        c->out_off += (size_t)n;
    }
    otel__buf_clear(&c->out);
    c->out_off = 0;
    return true;
}

/* Asks nghttp2 for frames to send, up to a bound on unsent bytes. */
static bool pump_h2(struct otel__grpc_client *c)
{
    while (c->out.len - c->out_off < OUT_HIGH_WATER) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->h2, &data);
        if (n < 0)
            return false;
        if (n == 0)
            break;
        if (!queue_out(c, data, (size_t)n))
            return false;
    }
    return true;
}

/* Hands plaintext from the peer to nghttp2. */
static bool feed_h2(struct otel__grpc_client *c, const uint8_t *p, size_t n)
{
    ssize_t rc = nghttp2_session_mem_recv(c->h2, p, n);
    return rc >= 0 && (size_t)rc == n;
}

/* Reads what the socket has (without blocking) into nghttp2. Sets |eof| when the peer closed. */
static bool read_in(struct otel__grpc_client *c)
{
    uint8_t buf[IO_CHUNK];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            return false;
        }
        if (n == 0) {
            c->eof = true;
            return true;
        }
        if (!c->ssl) {
            if (!feed_h2(c, buf, (size_t)n))
                return false;
            continue;
        }
        if (BIO_write(c->rbio, buf, (int)n) != (int)n)
            return false;
        for (;;) {
            uint8_t plain[IO_CHUNK];
            int r = SSL_read(c->ssl, plain, sizeof(plain));
            if (r > 0) {
                if (!feed_h2(c, plain, (size_t)r))
                    return false;
                continue;
            }
            int err = SSL_get_error(c->ssl, r);
            if (err == SSL_ERROR_WANT_READ)
                break;
            if (err == SSL_ERROR_ZERO_RETURN) {
                c->eof = true;
                break;
            }
            return false;
        }
        /* TLS 1.3 may answer (key updates, session tickets): send it along. */
        if (!drain_wbio(c))
            return false;
    }
}

/* Waits for the socket until |deadline|; returns poll's revents, 0 on timeout, -1 on error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = otel__time_left(deadline);
        if (left == 0)
            return 0;
        int ms = left == INT64_MAX || left / 1000000 >= INT_MAX ? INT_MAX : (int)((left + 999999) / 1000000);
        struct pollfd p = { fd, events, 0 };
        int rc = poll(&p, 1, ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue; /* re-check the deadline (poll rounds up to ms) */
        return p.revents;
    }
}

/* ---------------------------------------------------------------------------------------------
 * nghttp2 callbacks: they only record what arrives for the current stream.
 * ------------------------------------------------------------------------------------------- */

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    (void)session;
    (void)flags;
    struct otel__grpc_client *c = user_data;
    if (frame->hd.stream_id != c->stream_id)
        return 0;
    if (name_is(name, namelen, ":status")) {
        int s = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            s = s * 10 + (value[i] - '0');
        c->http_status = s;
    } else if (name_is(name, namelen, "grpc-status")) {
        int s = 0;
        for (size_t i = 0; i < valuelen && i < 4; i++) {
            if (value[i] < '0' || value[i] > '9') {
                s = OTEL__GRPC_UNKNOWN;
                break;
            }
            s = s * 10 + (value[i] - '0');
        }
        c->grpc_status = s;
    } else if (name_is(name, namelen, "grpc-message")) {
        char decoded[256];
        otel_str v = { (const char *)value, valuelen < sizeof(decoded) ? valuelen : sizeof(decoded) - 1 };
        size_t n = otel__percent_decode(v, decoded);
        if (n == (size_t)-1)
            otel__sanitize_for_log(v, c->grpc_message, sizeof(c->grpc_message));
        else
            otel__sanitize_for_log((otel_str){ decoded, n }, c->grpc_message, sizeof(c->grpc_message));
    } else if (name_is(name, namelen, "grpc-status-details-bin")) {
        if (valuelen <= 65536) {
            uint8_t *bin = otel__malloc(valuelen * 3 / 4 + 3);
            if (bin) {
                size_t n = otel__base64_decode((const char *)value, valuelen, bin);
                if (n != (size_t)-1)
                    c->retry_delay_ns = otel__grpc_parse_retry_info(bin, n);
                otel__free(bin);
            }
        }
    } else if (name_is(name, namelen, "grpc-encoding")) {
        c->response_compressed = !name_is(value, valuelen, "identity");
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user_data)
{
    (void)session;
    (void)flags;
    struct otel__grpc_client *c = user_data;
    if (stream_id != c->stream_id)
        return 0;
    size_t room = c->resp.max_bytes - c->resp.len;
    otel__buf_append(&c->resp, data, len < room ? len : room);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    (void)session;
    struct otel__grpc_client *c = user_data;
    if (stream_id == c->stream_id) {
        c->stream_closed = true;
        c->stream_error = error_code;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    (void)session;
    struct otel__grpc_client *c = user_data;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        c->goaway = true;
    return 0;
}

static ssize_t read_request(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)session;
    (void)stream_id;
    (void)source;
    struct otel__grpc_client *c = user_data;
    size_t total = sizeof(c->prefix) + c->req_len;
    size_t n = 0;
    while (n < length && c->req_off < total) {
        if (c->req_off < sizeof(c->prefix)) {
            buf[n++] = c->prefix[c->req_off++];
            continue;
        }
        size_t off = c->req_off - sizeof(c->prefix);
        size_t take = c->req_len - off < length - n ? c->req_len - off : length - n;
        memcpy(buf + n, c->req + off, take);
        n += take;
        c->req_off += take;
    }
    if (c->req_off == total)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* nghttp2 allocates through otelc's funnel. */
static void *h2_malloc(size_t size, void *ud)
{
    (void)ud;
    return otel__malloc(size);
}
static void h2_free(void *p, void *ud)
{
    (void)ud;
    otel__free(p);
}
static void *h2_calloc(size_t n, size_t size, void *ud)
{
    (void)ud;
    return otel__calloc(n, size);
}
static void *h2_realloc(void *p, size_t size, void *ud)
{
    (void)ud;
    return otel__realloc(p, size);
}

/* ---------------------------------------------------------------------------------------------
 * Connecting
 * ------------------------------------------------------------------------------------------- */

/* TCP connect to any address of the host, without blocking past |deadline|. */
static enum otel__grpc_outcome tcp_connect(struct otel__grpc_client *c, int64_t deadline, char *err,
                                           size_t cap)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)c->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(c->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, cap, "cannot resolve the host: %s", gai_strerror(rc));
        return OTEL__GRPC_CONNECT;
    }
    enum otel__grpc_outcome outcome = OTEL__GRPC_CONNECT;
    snprintf(err, cap, "no address to connect to");
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            snprintf(err, cap, "socket: %s", strerror(errno));
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            snprintf(err, cap, "connect: %s", strerror(errno));
            close(fd);
            continue;
        }
        int ev = wait_fd(fd, POLLOUT, deadline);
        if (ev == 0) {
            snprintf(err, cap, "connect: timed out");
            close(fd);
            outcome = OTEL__GRPC_TIMEOUT;
            break;
        }
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        if (ev < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error) {
            snprintf(err, cap, "connect: %s", strerror(so_error ? so_error : errno));
            close(fd);
            continue;
        }
        c->fd = fd;
        outcome = OTEL__GRPC_STATUS; /* "no error" */
        break;
    }
    freeaddrinfo(res);
    return outcome;
}

static bool host_is_ip(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

static enum otel__grpc_outcome tls_handshake(struct otel__grpc_client *c, int64_t deadline, char *err,
                                             size_t cap)
{
    c->ssl = SSL_new(c->ssl_ctx);
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    if (!c->ssl || !r || !w) {
        BIO_free(r);
        BIO_free(w);
        snprintf(err, cap, "out of memory");
        return OTEL__GRPC_OTHER;
    }
    SSL_set_bio(c->ssl, r, w);
    c->rbio = r;
    c->wbio = w;
    SSL_set_connect_state(c->ssl);
    /* Verify the certificate against the host name (or IP address) we connect to. */
    if (host_is_ip(c->host)) {
        if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host))
            goto out_setup;
    } else {
        if (!SSL_set_tlsext_host_name(c->ssl, c->host) || !SSL_set1_host(c->ssl, c->host))
            goto out_setup;
    }
    for (;;) {
        int rc = SSL_do_handshake(c->ssl);
        if (!drain_wbio(c) || !flush_out(c)) {
            snprintf(err, cap, "TLS handshake: connection failed: %s", strerror(errno));
            return OTEL__GRPC_BROKEN;
        }
        if (rc == 1)
            break;
        int e = SSL_get_error(c->ssl, rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            long vr = SSL_get_verify_result(c->ssl);
            if (vr != X509_V_OK)
                snprintf(err, cap, "TLS certificate verification failed: %s",
                         X509_verify_cert_error_string(vr));
            else
                tls_error_text(err, cap, "TLS handshake failed");
            ERR_clear_error();
            return OTEL__GRPC_TLS;
        }
        int ev = wait_fd(c->fd, (short)(POLLIN | (out_pending(c) ? POLLOUT : 0)), deadline);
        if (ev == 0) {
            snprintf(err, cap, "TLS handshake timed out");
            return OTEL__GRPC_TIMEOUT;
        }
        if (ev < 0) {
            snprintf(err, cap, "poll: %s", strerror(errno));
            return OTEL__GRPC_BROKEN;
        }
        uint8_t buf[IO_CHUNK];
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            snprintf(err, cap, "TLS handshake: the server closed the connection");
            return OTEL__GRPC_BROKEN;
        }
        if (n > 0 && BIO_write(c->rbio, buf, (int)n) != (int)n) {
            snprintf(err, cap, "out of memory");
            return OTEL__GRPC_OTHER;
        }
    }
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
        snprintf(err, cap, "the server did not agree to HTTP/2 (ALPN h2)");
        return OTEL__GRPC_TLS;
    }
    return OTEL__GRPC_STATUS;
out_setup:
    tls_error_text(err, cap, "TLS setup failed");
    return OTEL__GRPC_OTHER;
}

static enum otel__grpc_outcome open_connection(struct otel__grpc_client *c, int64_t deadline, char *err,
                                               size_t cap)
{
    enum otel__grpc_outcome o = tcp_connect(c, deadline, err, cap);
    if (o != OTEL__GRPC_STATUS)
        return o;
    atomic_store_explicit(&c->connections, atomic_load_explicit(&c->connections, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (c->tls) {
        o = tls_handshake(c, deadline, err, cap);
        if (o != OTEL__GRPC_STATUS) {
            close_connection(c);
            return o;
        }
    }
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        close_connection(c);
        snprintf(err, cap, "out of memory");
        return OTEL__GRPC_OTHER;
    }
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_mem mem = { NULL, h2_malloc, h2_free, h2_calloc, h2_realloc };
    int rc = nghttp2_session_client_new3(&c->h2, cb, c, NULL, &mem);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        c->h2 = NULL;
        close_connection(c);
        snprintf(err, cap, "out of memory");
        return OTEL__GRPC_OTHER;
    }
    nghttp2_settings_entry iv[] = {
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 16 },
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0) {
        close_connection(c);
        snprintf(err, cap, "out of memory");
        return OTEL__GRPC_OTHER;
    }
    return OTEL__GRPC_STATUS;
}

/* A kept connection may have been closed by the server while idle (GOAWAY, FIN): look without
 * waiting, so the call opens a fresh one instead of failing on a dead one. */
static void check_idle_connection(struct otel__grpc_client *c)
{
    if (c->fd < 0)
        return;
    struct pollfd p = { c->fd, POLLIN, 0 };
    if (poll(&p, 1, 0) > 0 && (!read_in(c) || c->eof))
        c->io_error = true;
    if (c->io_error || c->eof || c->goaway || !nghttp2_session_want_read(c->h2) || !pump_h2(c) ||
        !flush_out(c))
        close_connection(c);
}

/* ---------------------------------------------------------------------------------------------
 * The call
 * ------------------------------------------------------------------------------------------- */

static void make_nv(nghttp2_nv *nv, const char *name, const char *value)
{
    nv->name = (uint8_t *)(uintptr_t)name;
    nv->namelen = strlen(name);
    nv->value = (uint8_t *)(uintptr_t)value;
    nv->valuelen = strlen(value);
    nv->flags = NGHTTP2_NV_FLAG_NONE;
}

static otel_status finish(struct otel__grpc_result *res, enum otel__grpc_outcome o)
{
    res->outcome = o;
    if (o == OTEL__GRPC_STATUS)
        return OTEL_OK;
    return o == OTEL__GRPC_TIMEOUT ? OTEL_ERR_TIMEOUT : OTEL_ERR_EXPORT;
}

otel_status otel__grpc_call(struct otel__grpc_client *c, const uint8_t *msg, size_t len, int64_t deadline,
                            struct otel__grpc_result *res)
{
    memset(res, 0, sizeof(*res));
    res->retry_delay_ns = -1;
    res->status = -1;
    if (len > UINT32_MAX) {
        snprintf(res->error, sizeof(res->error), "request too large");
        return finish(res, OTEL__GRPC_OTHER);
    }
    check_idle_connection(c);
    if (c->fd < 0) {
        enum otel__grpc_outcome o = open_connection(c, deadline, res->error, sizeof(res->error));
        if (o != OTEL__GRPC_STATUS) {
            close_connection(c);
            return finish(res, o);
        }
    }

    c->req = msg;
    c->req_len = len;
    c->req_off = 0;
    c->prefix[0] = c->gzip ? 1 : 0;
    c->prefix[1] = (uint8_t)(len >> 24);
    c->prefix[2] = (uint8_t)(len >> 16);
    c->prefix[3] = (uint8_t)(len >> 8);
    c->prefix[4] = (uint8_t)len;
    c->stream_closed = false;
    c->stream_error = 0;
    c->http_status = 0;
    c->grpc_status = -1;
    c->grpc_message[0] = '\0';
    c->retry_delay_ns = -1;
    c->response_compressed = false;
    otel__buf_clear(&c->resp);

    enum { FIXED = 10 };
    nghttp2_nv stack_nv[FIXED + 16];
    nghttp2_nv *nv = stack_nv;
    if (c->md_count > 16) {
        nv = otel__calloc(FIXED + c->md_count, sizeof(*nv));
        if (!nv) {
            snprintf(res->error, sizeof(res->error), "out of memory");
            return finish(res, OTEL__GRPC_OTHER);
        }
    }
    size_t n = 0;
    char timeout[24];
    make_nv(&nv[n++], ":method", "POST");
    make_nv(&nv[n++], ":scheme", c->tls ? "https" : "http");
    make_nv(&nv[n++], ":path", c->path);
    make_nv(&nv[n++], ":authority", c->authority);
    make_nv(&nv[n++], "content-type", "application/grpc");
    make_nv(&nv[n++], "te", "trailers");
    make_nv(&nv[n++], "user-agent", c->user_agent);
    make_nv(&nv[n++], "grpc-accept-encoding", "identity");
    if (c->gzip)
        make_nv(&nv[n++], "grpc-encoding", "gzip");
    if (deadline != INT64_MAX) {
        /* At most 8 digits: milliseconds up to ~27 h, then seconds. */
        int64_t ms = (otel__time_left(deadline) + 999999) / 1000000;
        if (ms <= 99999999)
            snprintf(timeout, sizeof(timeout), "%lldm", (long long)(ms > 0 ? ms : 1));
        else
            snprintf(timeout, sizeof(timeout), "%lldS",
                     (long long)(ms / 1000 > 99999999 ? 99999999 : ms / 1000));
        make_nv(&nv[n++], "grpc-timeout", timeout);
    }
    for (size_t i = 0; i < c->md_count; i++) {
        make_nv(&nv[n], c->md_names[i], c->md_values[i]);
        nv[n++].flags = NGHTTP2_NV_FLAG_NO_INDEX; /* may be a credential: keep out of HPACK tables */
    }
    nghttp2_data_provider prd = { .source.ptr = c, .read_callback = read_request };
    int32_t sid = nghttp2_submit_request(c->h2, NULL, nv, n, &prd, c);
    if (nv != stack_nv)
        otel__free(nv);
    if (sid < 0) {
        /* Stream ids used up or the session is going away: a new connection next time. */
        close_connection(c);
        snprintf(res->error, sizeof(res->error), "cannot start a stream: %s", nghttp2_strerror(sid));
        return finish(res, OTEL__GRPC_BROKEN);
    }
    c->stream_id = sid;

    enum otel__grpc_outcome outcome = OTEL__GRPC_STATUS;
    while (!c->stream_closed) {
        if (!pump_h2(c) || !flush_out(c)) {
            snprintf(res->error, sizeof(res->error), "connection failed while sending");
            outcome = OTEL__GRPC_BROKEN;
            break;
        }
        if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) && !out_pending(c)) {
            snprintf(res->error, sizeof(res->error), "the HTTP/2 session ended");
            outcome = OTEL__GRPC_BROKEN;
            break;
        }
        int ev = wait_fd(c->fd, (short)(POLLIN | (out_pending(c) ? POLLOUT : 0)), deadline);
        if (ev == 0) {
            snprintf(res->error, sizeof(res->error), "no answer before the deadline");
            outcome = OTEL__GRPC_TIMEOUT;
            break;
        }
        if (ev < 0) {
            snprintf(res->error, sizeof(res->error), "poll: %s", strerror(errno));
            outcome = OTEL__GRPC_BROKEN;
            break;
        }
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
            if (!read_in(c)) {
                snprintf(res->error, sizeof(res->error), "connection failed: %s",
                         errno ? strerror(errno) : "protocol error");
                outcome = OTEL__GRPC_BROKEN;
                break;
            }
            if (c->eof && !c->stream_closed) {
                snprintf(res->error, sizeof(res->error), "the server closed the connection");
                outcome = OTEL__GRPC_BROKEN;
                break;
            }
        }
    }
    c->stream_id = 0;
    res->http_status = c->http_status;
    res->retry_delay_ns = c->retry_delay_ns;
    if (outcome != OTEL__GRPC_STATUS) {
        /* The stream is abandoned: a connection in an unknown state is not reused. */
        close_connection(c);
        return finish(res, outcome);
    }
    if (c->goaway || c->eof)
        close_connection(c);
    if (c->grpc_status < 0) {
        if (c->stream_error == NGHTTP2_REFUSED_STREAM || (c->http_status == 200 && c->stream_error)) {
            snprintf(res->error, sizeof(res->error), "stream reset by the server (%s)",
                     nghttp2_http2_strerror(c->stream_error));
            return finish(res, OTEL__GRPC_BROKEN);
        }
        if (c->http_status == 200 || c->http_status == 0) {
            snprintf(res->error, sizeof(res->error), "the response had no grpc-status");
            return finish(res, c->http_status ? OTEL__GRPC_PROTOCOL : OTEL__GRPC_BROKEN);
        }
        return finish(res, OTEL__GRPC_PROTOCOL);
    }
    res->status = c->grpc_status;
    snprintf(res->error, sizeof(res->error), "%s", c->grpc_message);
    /* The reply message, when it is whole and uncompressed. */
    if (c->resp.len >= 5 && c->resp.data[0] == 0) {
        size_t mlen = (size_t)c->resp.data[1] << 24 | (size_t)c->resp.data[2] << 16 |
                      (size_t)c->resp.data[3] << 8 | c->resp.data[4];
        if (mlen <= c->resp.len - 5) {
            res->message = c->resp.data + 5;
            res->message_len = mlen;
        }
    }
    return finish(res, OTEL__GRPC_STATUS);
}

/* ---------------------------------------------------------------------------------------------
 * Lifetime
 * ------------------------------------------------------------------------------------------- */

static bool load_tls(struct otel__grpc_client *c, const struct otel__grpc_options *o)
{
    char err[300];
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ssl_ctx) {
        tls_error_text(err, sizeof(err), "cannot create the TLS context");
        goto out_log;
    }
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char alpn[] = { 2, 'h', '2' };
    if (SSL_CTX_set_alpn_protos(c->ssl_ctx, alpn, sizeof(alpn)) != 0) {
        tls_error_text(err, sizeof(err), "cannot set ALPN");
        goto out_log;
    }
    if (o->ca_file ? SSL_CTX_load_verify_locations(c->ssl_ctx, o->ca_file, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1) {
        tls_error_text(err, sizeof(err), "cannot load the CA certificates");
        goto out_log;
    }
    if (o->client_cert_file && SSL_CTX_use_certificate_chain_file(c->ssl_ctx, o->client_cert_file) != 1) {
        tls_error_text(err, sizeof(err), "cannot load the client certificate");
        goto out_log;
    }
    if (o->client_key_file &&
        (SSL_CTX_use_PrivateKey_file(c->ssl_ctx, o->client_key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(c->ssl_ctx) != 1)) {
        tls_error_text(err, sizeof(err), "cannot load the client key");
        goto out_log;
    }
    return true;
out_log:
    otel__log(OTEL_LOG_ERROR, "otlp: %s", err);
    return false;
}

otel_status otel__grpc_client_create(const struct otel__grpc_options *o, struct otel__grpc_client **out)
{
    struct otel__grpc_client *c = otel__calloc(1, sizeof(*c));
    if (!c)
        return OTEL_ERR_NOMEM;
    c->fd = -1;
    c->port = o->port;
    c->tls = o->tls;
    c->gzip = o->gzip;
    c->resp.max_bytes = o->max_response_bytes ? o->max_response_bytes : 4u << 20;
    /* OTLP replies are a few bytes: with room for them now, a call never fails to keep its
     * reply (which would only lose a partial-success report, but silently). */
    if (!otel__buf_reserve(&c->resp, 512)) {
        otel__free(c);
        return OTEL_ERR_NOMEM;
    }
    c->host = dup_cstr(o->host);
    c->authority = dup_cstr(o->authority);
    c->path = dup_cstr(o->path);
    c->user_agent = dup_cstr(o->user_agent ? o->user_agent : "otelc");
    otel_status st = OTEL_ERR_NOMEM;
    if (!c->host || !c->authority || !c->path || !c->user_agent)
        goto out_destroy;
    if (o->metadata_count) {
        c->md_names = otel__calloc(o->metadata_count, sizeof(char *));
        c->md_values = otel__calloc(o->metadata_count, sizeof(char *));
        if (!c->md_names || !c->md_values)
            goto out_destroy;
        c->md_count = o->metadata_count;
        for (size_t i = 0; i < o->metadata_count; i++) {
            c->md_names[i] = dup_cstr(o->metadata_names[i]);
            c->md_values[i] = dup_cstr(o->metadata_values[i]);
            if (!c->md_names[i] || !c->md_values[i])
                goto out_destroy;
        }
    }
    if (c->tls && !load_tls(c, o)) {
        st = OTEL_ERR_INVALID_ARG;
        goto out_destroy;
    }
    *out = c;
    return OTEL_OK;
out_destroy:
    otel__grpc_client_destroy(c);
    return st;
}

void otel__grpc_close(struct otel__grpc_client *c)
{
    if (!c || c->fd < 0)
        return;
    /* Say goodbye if it can be done without waiting. */
    if (c->h2 && nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR) == 0 && pump_h2(c))
        flush_out(c);
    close_connection(c);
}

void otel__grpc_client_destroy(struct otel__grpc_client *c)
{
    if (!c)
        return;
    otel__grpc_close(c);
    close_connection(c);
    otel__buf_free(&c->out);
    otel__buf_free(&c->resp);
    for (size_t i = 0; i < c->md_count; i++) {
        otel__free(c->md_names[i]);
        if (c->md_values[i]) {
            memset(c->md_values[i], 0, strlen(c->md_values[i]));
            otel__free(c->md_values[i]);
        }
    }
    otel__free(c->md_names);
    otel__free(c->md_values);
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    otel__free(c->host);
    otel__free(c->authority);
    otel__free(c->path);
    otel__free(c->user_agent);
    otel__free(c);
}

uint64_t otel__grpc_connections(const struct otel__grpc_client *c)
{
    return atomic_load_explicit(&c->connections, memory_order_relaxed);
}
