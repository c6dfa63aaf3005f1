/* A loopback gRPC (HTTP/2, nghttp2 server session) receiver for the OTLP/gRPC exporter tests, in
 * plaintext or TLS (a self-signed certificate made at run time with the OpenSSL API). Each call
 * is answered from a script (grpc-status and message, RetryInfo, partial success, a delay, a
 * GOAWAY afterwards, an abrupt close, a bare HTTP status) and recorded (headers, the request
 * message with its 5-byte prefix removed). One connection at a time; every wait is bounded and
 * the thread checks its stop flag every 10 ms. Header-only; include after cmocka.h. */
#ifndef OTEL_TESTS_GRPC_RECEIVER_H
#define OTEL_TESTS_GRPC_RECEIVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "loopback.h"
#include <openssl/x509v3.h>

#define GRECV_MAX_SCRIPT 8
#define GRECV_MAX_CALLS 32

struct grecv_answer {
    int grpc_status;          /* sent in the trailers (or trailers-only when not 0) */
    const char *grpc_message; /* percent-encoded by the caller when needed */
    int retry_delay_ms;       /* > 0: a google.rpc.RetryInfo in grpc-status-details-bin */
    int64_t rejected;         /* > 0: a partial success in the reply */
    const char *partial_message;
    int http_status;      /* != 0 and != 200: a bare HTTP answer without grpc-status */
    int delay_ms;         /* wait before answering */
    bool goaway_after;    /* send GOAWAY and close after answering */
    bool drop_connection; /* close the TCP connection instead of answering */
};

struct grecv_call {
    char path[256];
    char headers[4096]; /* "name: value\n" lines */
    uint8_t *message;   /* the request message without the gRPC prefix */
    size_t message_len;
    bool compressed; /* the prefix's compressed flag */
    int connection;
    int32_t stream_id;
};

struct grecv_stream {
    int32_t id;
    uint8_t *body;
    size_t len;
    size_t cap;
    char path[256];
    char headers[4096];
    bool ended;
    int64_t answer_at_ms;
    struct grecv_answer answer;
    uint8_t reply[64];
    size_t reply_len;
    size_t reply_off;
};

struct grpc_receiver {
    int listen_fd;
    uint16_t port;
    pthread_t thread;
    _Atomic bool stop;
    SSL_CTX *tls;       /* NULL: plaintext */
    char cert_path[64]; /* the self-signed certificate, PEM, for the client's CA file */
    struct grecv_answer script[GRECV_MAX_SCRIPT];
    int script_len;
    struct grecv_call calls[GRECV_MAX_CALLS];
    _Atomic int call_count;
    _Atomic int answered_ok;
    _Atomic int connections;
    char alpn[16]; /* what TLS negotiated */
    /* Per connection. */
    int fd;
    SSL *ssl;
    nghttp2_session *h2;
    struct grecv_stream streams[4];
    bool close_now;
    bool streams_dropped; /* close abruptly (drop_connection) */
};

/* ---------------------------------------------------------------------------------------------
 * A self-signed certificate for "localhost" and 127.0.0.1 (or only |dns_name| when given).
 * ------------------------------------------------------------------------------------------- */

static inline bool grecv_make_cert(SSL_CTX *ctx, const char *dns_name, const char *path)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x)
        return false;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)(dns_name ? dns_name : "localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    char san[128];
    if (dns_name)
        snprintf(san, sizeof(san), "DNS:%s", dns_name);
    else
        snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1");
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, key, EVP_sha256());
    FILE *f = fopen(path, "w");
    bool ok = f && PEM_write_X509(f, x);
    if (f)
        fclose(f);
    ok = ok && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

static inline int grecv_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                    const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    for (unsigned i = 0; i + 1 < inlen; i += 1u + in[i])
        if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ---------------------------------------------------------------------------------------------
 * I/O
 * ------------------------------------------------------------------------------------------- */

static inline ssize_t grecv_write(struct grpc_receiver *r, const uint8_t *p, size_t n)
{
    if (r->ssl)
        return SSL_write(r->ssl, p, (int)n);
    return send(r->fd, p, n, MSG_NOSIGNAL);
}

static inline ssize_t grecv_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags,
                                    void *user_data)
{
    (void)s;
    (void)flags;
    struct grpc_receiver *r = user_data;
    size_t off = 0;
    while (off < len) {
        ssize_t w = grecv_write(r, data + off, len - off);
        if (w <= 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        off += (size_t)w;
    }
    return (ssize_t)len;
}

static inline struct grecv_stream *grecv_stream(struct grpc_receiver *r, int32_t id, bool create)
{
    for (int i = 0; i < 4; i++)
        if (r->streams[i].id == id)
            return &r->streams[i];
    if (!create)
        return NULL;
    for (int i = 0; i < 4; i++)
        if (r->streams[i].id == 0) {
            memset(&r->streams[i], 0, sizeof(r->streams[i]));
            r->streams[i].id = id;
            return &r->streams[i];
        }
    return NULL;
}

static inline int grecv_on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    (void)s;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        grecv_stream(ud, frame->hd.stream_id, true);
    return 0;
}

static inline int grecv_on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                                  size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                                  void *ud)
{
    (void)s;
    (void)flags;
    struct grecv_stream *st = grecv_stream(ud, frame->hd.stream_id, false);
    if (!st)
        return 0;
    if (namelen == 5 && memcmp(name, ":path", 5) == 0)
        snprintf(st->path, sizeof(st->path), "%.*s", (int)valuelen, value);
    size_t used = strlen(st->headers);
    snprintf(st->headers + used, sizeof(st->headers) - used, "%.*s: %.*s\n", (int)namelen, name,
             (int)valuelen, value);
    return 0;
}

static inline int grecv_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
                                size_t len, void *ud)
{
    (void)s;
    (void)flags;
    struct grecv_stream *st = grecv_stream(ud, id, false);
    if (!st)
        return 0;
    if (st->len + len > st->cap) {
        st->cap = (st->len + len) * 2;
        st->body = realloc(st->body, st->cap);
    }
    memcpy(st->body + st->len, data, len);
    st->len += len;
    return 0;
}

static inline size_t grecv_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline ssize_t grecv_read_reply(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                                       uint32_t *data_flags, nghttp2_data_source *source, void *ud)
{
    (void)ud;
    struct grecv_stream *st = source->ptr;
    size_t n = st->reply_len - st->reply_off;
    if (n > length)
        n = length;
    memcpy(buf, st->reply + st->reply_off, n);
    st->reply_off += n;
    if (st->reply_off == st->reply_len) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        const struct grecv_answer *a = &st->answer;
        char code[8];
        snprintf(code, sizeof(code), "%d", a->grpc_status);
        nghttp2_nv tr[2] = {
            { (uint8_t *)"grpc-status", (uint8_t *)code, 11, strlen(code), NGHTTP2_NV_FLAG_NONE },
            { (uint8_t *)"grpc-message", (uint8_t *)(a->grpc_message ? a->grpc_message : ""), 12,
              a->grpc_message ? strlen(a->grpc_message) : 0, NGHTTP2_NV_FLAG_NONE },
        };
        nghttp2_submit_trailer(s, id, tr, a->grpc_message ? 2 : 1);
    }
    return (ssize_t)n;
}

/* base64 of a google.rpc.Status carrying a RetryInfo of |ms|. */
static inline void grecv_retry_info(int ms, char *out, size_t cap)
{
    static const char url[] = "type.googleapis.com/google.rpc.RetryInfo";
    uint8_t dur[24], ri[32], any[128], status[160];
    size_t dn = 0, rn = 0, an = 0, sn = 0;
    dur[dn++] = 0x08;
    dn += grecv_varint(dur + dn, (uint64_t)(ms / 1000));
    dur[dn++] = 0x10;
    dn += grecv_varint(dur + dn, (uint64_t)(ms % 1000) * 1000000);
    ri[rn++] = 0x0a;
    ri[rn++] = (uint8_t)dn;
    memcpy(ri + rn, dur, dn);
    rn += dn;
    any[an++] = 0x0a;
    any[an++] = sizeof(url) - 1;
    memcpy(any + an, url, sizeof(url) - 1);
    an += sizeof(url) - 1;
    any[an++] = 0x12;
    any[an++] = (uint8_t)rn;
    memcpy(any + an, ri, rn);
    an += rn;
    status[sn++] = 0x08;
    status[sn++] = 8;
    status[sn++] = 0x1a;
    status[sn++] = (uint8_t)an;
    memcpy(status + sn, any, an);
    sn += an;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < sn && o + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)status[i] << 16 | (i + 1 < sn ? (uint32_t)status[i + 1] << 8 : 0) |
                     (i + 2 < sn ? status[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        if (i + 1 < sn)
            out[o++] = b64[v >> 6 & 63];
        if (i + 2 < sn)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
}

static inline void grecv_answer(struct grpc_receiver *r, struct grecv_stream *st)
{
    const struct grecv_answer *a = &st->answer;
    if (a->drop_connection) {
        r->close_now = true;
        r->streams_dropped = true;
        return;
    }
    char status[8], code[8], details[256];
    if (a->http_status && a->http_status != 200) {
        snprintf(status, sizeof(status), "%d", a->http_status);
        nghttp2_nv nv[] = { { (uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0 } };
        nghttp2_submit_response(r->h2, st->id, nv, 1, NULL);
    } else if (a->grpc_status != 0) {
        /* Trailers-only. */
        snprintf(code, sizeof(code), "%d", a->grpc_status);
        nghttp2_nv nv[5];
        size_t n = 0;
        nv[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)"200", 7, 3, 0 };
        nv[n++] = (nghttp2_nv){ (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0 };
        nv[n++] = (nghttp2_nv){ (uint8_t *)"grpc-status", (uint8_t *)code, 11, strlen(code), 0 };
        if (a->grpc_message)
            nv[n++] = (nghttp2_nv){ (uint8_t *)"grpc-message", (uint8_t *)a->grpc_message, 12,
                                    strlen(a->grpc_message), 0 };
        if (a->retry_delay_ms > 0) {
            grecv_retry_info(a->retry_delay_ms, details, sizeof(details));
            nv[n++] = (nghttp2_nv){ (uint8_t *)"grpc-status-details-bin", (uint8_t *)details, 23,
                                    strlen(details), 0 };
        }
        nghttp2_submit_response(r->h2, st->id, nv, n, NULL);
    } else {
        /* ExportTraceServiceResponse, possibly with a partial success. */
        uint8_t msg[48];
        size_t mn = 0;
        if (a->rejected > 0 || a->partial_message) {
            uint8_t ps[40];
            size_t pn = 0;
            ps[pn++] = 0x08;
            pn += grecv_varint(ps + pn, (uint64_t)a->rejected);
            if (a->partial_message) {
                size_t l = strlen(a->partial_message);
                ps[pn++] = 0x12;
                ps[pn++] = (uint8_t)l;
                memcpy(ps + pn, a->partial_message, l);
                pn += l;
            }
            msg[mn++] = 0x0a;
            msg[mn++] = (uint8_t)pn;
            memcpy(msg + mn, ps, pn);
            mn += pn;
        }
        st->reply[0] = 0;
        st->reply[1] = st->reply[2] = st->reply[3] = 0;
        st->reply[4] = (uint8_t)mn;
        memcpy(st->reply + 5, msg, mn);
        st->reply_len = 5 + mn;
        st->reply_off = 0;
        nghttp2_nv nv[] = {
            { (uint8_t *)":status", (uint8_t *)"200", 7, 3, 0 },
            { (uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0 },
        };
        nghttp2_data_provider prd = { .source.ptr = st, .read_callback = grecv_read_reply };
        nghttp2_submit_response(r->h2, st->id, nv, 2, &prd);
        atomic_fetch_add(&r->answered_ok, 1);
    }
    if (a->goaway_after) {
        nghttp2_submit_goaway(r->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR, NULL, 0);
        r->close_now = true;
    }
}

static inline int grecv_on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    (void)s;
    struct grpc_receiver *r = ud;
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
        (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS))
        return 0;
    struct grecv_stream *st = grecv_stream(r, frame->hd.stream_id, false);
    if (!st || st->ended)
        return 0;
    st->ended = true;
    int idx = atomic_load(&r->call_count);
    st->answer = r->script[idx < r->script_len ? idx : r->script_len - 1];
    if (idx < GRECV_MAX_CALLS) {
        struct grecv_call *c = &r->calls[idx];
        /* Same sizes, both NUL-terminated. */
        memcpy(c->path, st->path, sizeof(c->path));
        memcpy(c->headers, st->headers, sizeof(c->headers));
        c->connection = atomic_load(&r->connections);
        c->stream_id = st->id;
        if (st->len >= 5) {
            c->compressed = st->body[0] != 0;
            c->message_len = st->len - 5;
            c->message = malloc(c->message_len ? c->message_len : 1);
            memcpy(c->message, st->body + 5, c->message_len);
        }
    }
    atomic_fetch_add(&r->call_count, 1);
    st->answer_at_ms = loopback_now_ms() + st->answer.delay_ms;
    return 0;
}

static inline int grecv_on_stream_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)s;
    (void)code;
    struct grecv_stream *st = grecv_stream(ud, id, false);
    if (st) {
        free(st->body);
        memset(st, 0, sizeof(*st));
    }
    return 0;
}

static inline void grecv_serve(struct grpc_receiver *r, int fd)
{
    r->fd = fd;
    r->ssl = NULL;
    r->close_now = false;
    r->streams_dropped = false;
    memset(r->streams, 0, sizeof(r->streams));
    int one = 1; /* as real gRPC servers do: no Nagle delay on small frames */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (r->tls) {
        r->ssl = SSL_new(r->tls);
        SSL_set_fd(r->ssl, fd);
        if (SSL_accept(r->ssl) != 1) {
            ERR_clear_error();
            goto out;
        }
        const unsigned char *alpn;
        unsigned alen;
        SSL_get0_alpn_selected(r->ssl, &alpn, &alen);
        snprintf(r->alpn, sizeof(r->alpn), "%.*s", (int)alen, alpn);
    }
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, grecv_send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, grecv_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, grecv_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, grecv_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, grecv_on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, grecv_on_stream_close);
    nghttp2_session_server_new(&r->h2, cb, r);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(r->h2, NGHTTP2_FLAG_NONE, NULL, 0);
    while (!atomic_load(&r->stop)) {
        if (nghttp2_session_send(r->h2) != 0)
            break;
        if (r->close_now)
            break;
        for (int i = 0; i < 4; i++) {
            struct grecv_stream *st = &r->streams[i];
            if (st->id && st->ended && st->answer_at_ms && loopback_now_ms() >= st->answer_at_ms) {
                st->answer_at_ms = 0;
                grecv_answer(r, st);
            }
        }
        if (nghttp2_session_send(r->h2) != 0 || r->close_now)
            break;
        bool pending = r->ssl && SSL_pending(r->ssl) > 0;
        struct pollfd p = { fd, POLLIN, 0 };
        if (!pending && poll(&p, 1, 10) <= 0)
            continue;
        uint8_t buf[16384];
        ssize_t n = r->ssl ? SSL_read(r->ssl, buf, sizeof(buf)) : recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        if (nghttp2_session_mem_recv(r->h2, buf, (size_t)n) < 0)
            break;
    }
    if (r->close_now && !r->streams_dropped && !atomic_load(&r->stop)) {
        /* A graceful close after GOAWAY: closing with unread bytes would send a RST, which can
         * destroy the answer the client has not read yet. */
        shutdown(fd, SHUT_WR);
        int64_t until = loopback_now_ms() + 500;
        uint8_t junk[4096];
        while (loopback_now_ms() < until) {
            struct pollfd p = { fd, POLLIN, 0 };
            if (poll(&p, 1, 10) > 0 && recv(fd, junk, sizeof(junk), 0) <= 0)
                break;
        }
    }
    nghttp2_session_del(r->h2);
    r->h2 = NULL;
    for (int i = 0; i < 4; i++)
        free(r->streams[i].body);
    memset(r->streams, 0, sizeof(r->streams));
out:
    if (r->ssl) {
        SSL_free(r->ssl);
        r->ssl = NULL;
    }
    close(fd);
}

static inline void *grecv_main(void *arg)
{
    struct grpc_receiver *r = arg;
    /* SSL_write() on a socket the client closed raises SIGPIPE in the writing thread: block it
     * here only, so a SIGPIPE from the exporter's own thread would still fail the test. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    while (!atomic_load(&r->stop)) {
        struct pollfd p = { r->listen_fd, POLLIN, 0 };
        if (poll(&p, 1, 10) <= 0)
            continue;
        int fd = accept(r->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&r->connections, 1);
        grecv_serve(r, fd);
    }
    return NULL;
}

/* |tls_name|: NULL for plaintext, "" for a certificate for localhost and 127.0.0.1, or a DNS
 * name that is the only one the certificate names. */
static inline struct grpc_receiver *grecv_start_on(uint16_t port, const char *tls_name,
                                                   const struct grecv_answer *script, int n)
{
    struct grpc_receiver *r = calloc(1, sizeof(*r));
    r->listen_fd = loopback_listen(port, &r->port);
    assert_true(r->listen_fd >= 0);
    memcpy(r->script, script, (size_t)n * sizeof(*script));
    r->script_len = n;
    if (tls_name) {
        r->tls = SSL_CTX_new(TLS_server_method());
        snprintf(r->cert_path, sizeof(r->cert_path), "/tmp/otelc-grpc-cert-%d-%u.pem", (int)getpid(),
                 (unsigned)r->port);
        assert_true(grecv_make_cert(r->tls, tls_name[0] ? tls_name : NULL, r->cert_path));
        SSL_CTX_set_alpn_select_cb(r->tls, grecv_alpn_select, NULL);
    }
    assert_int_equal(pthread_create(&r->thread, NULL, grecv_main, r), 0);
    return r;
}

static inline struct grpc_receiver *grecv_start(const char *tls_name, const struct grecv_answer *script,
                                                int n)
{
    return grecv_start_on(0, tls_name, script, n);
}

static inline void grecv_stop(struct grpc_receiver *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
    int n = atomic_load(&r->call_count);
    for (int i = 0; i < n && i < GRECV_MAX_CALLS; i++)
        free(r->calls[i].message);
    if (r->tls) {
        SSL_CTX_free(r->tls);
        unlink(r->cert_path);
    }
    free(r);
}

/* The value of header |name| in call |c|, or NULL. */
static inline const char *grecv_header(const struct grecv_call *c, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = c->headers; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            break;
        if (strncmp(p, name, n) == 0 && p[n] == ':' && p[n + 1] == ' ') {
            snprintf(out, cap, "%.*s", (int)(eol - p - n - 2), p + n + 2);
            return out;
        }
        p = eol + 1;
    }
    return NULL;
}

#endif
