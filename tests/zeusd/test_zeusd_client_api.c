/* The public zeusd client (zeus/zeusd_client.h): requests and event streams against a real
 * zeusd on a temporary Unix socket (with and without tokens), and against a scripted server on
 * another socket for what a daemon rarely does: an answer cut off in the middle, no answer
 * (the timeout), a chunked answer, a stream that goes quiet (timeout, cancel from another
 * thread) or ends. */
#include "test_support.h"
#include "zeusd_rig_suite.h"

#include "zeus/common.h"
#include "zeus/zeusd_client.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static zeus_zeusd_client *client_at(const char *sock, const char *token, double timeout_s)
{
    zeus_zeusd_client_options o;
    zeus_zeusd_client_options_init(&o);
    o.socket_path = sock;
    o.token = token;
    o.timeout_s = timeout_s;
    zeus_zeusd_client *c = NULL;
    assert_int_equal(zeus_zeusd_client_open(&o, &c), ZEUS_OK);
    return c;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Requests, statuses, headers and a stream's events from the real daemon. */
static void test_real_daemon(void **state)
{
    (void)state;
    setenv("ZEUS_FAKE_NVML_NOISE_W", "3", 1); /* power changes, so it is streamed */
    zr_start(&daemon_, NULL);
    zeus_zeusd_client *c = client_at(daemon_.sock, NULL, 0);
    char name[200];
    snprintf(name, sizeof name, "zeusd at %s", daemon_.sock);
    assert_string_equal(zeus_zeusd_client_name(c), name);
    zeus_zeusd_reply r;
    assert_int_equal(zeus_zeusd_request(c, "GET", "/discover", NULL, NULL, 0, &r), ZEUS_OK);
    assert_int_equal(r.status, 200);
    assert_contains(r.content_type, "application/json");
    assert_contains(r.body, "\"gpus\"");
    assert_int_equal(strlen(r.body), r.body_len);
    assert_contains(r.headers, "Content-Length:");
    zeus_zeusd_reply_free(&r);
    /* Another status is an answer, not an error. */
    assert_int_equal(zeus_zeusd_request(c, "GET", "/gpu/get_power?gpu_ids=9", NULL, NULL, 0, &r),
                     ZEUS_OK);
    assert_int_equal(r.status, 400);
    assert_contains(r.body, "9");
    zeus_zeusd_reply_free(&r);
    /* A streaming route through the plain request is refused with the way to open it. */
    assert_int_equal(zeus_zeusd_request(c, "GET", "/gpu/stream_power", NULL, NULL, 0, &r),
                     ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "zeus_zeusd_stream_open");
    /* The stream: events one by one, each a "data: {...}" line. */
    zeus_zeusd_stream *s = NULL;
    assert_int_equal(
        zeus_zeusd_stream_open(c, "GET", "/gpu/stream_power?gpu_ids=1", NULL, NULL, 0, &r, &s),
        ZEUS_OK);
    assert_non_null(s);
    assert_int_equal(r.status, 200);
    assert_contains(r.content_type, "text/event-stream");
    zeus_zeusd_reply_free(&r);
    for (int i = 0; i < 3; i++) {
        char *event = NULL;
        size_t len = 0;
        int rc = zeus_zeusd_stream_next(s, 5.0, &event, &len);
        if (rc != ZEUS_OK)
            fprintf(stderr, "%s\n", zeus_last_error());
        assert_int_equal(rc, ZEUS_OK);
        assert_non_null(event);
        assert_int_equal(strlen(event), len);
        assert_true(strncmp(event, "data: {", 7) == 0);
        assert_contains(event, "\"gpu_id\":1");
        assert_null(strstr(event, "\n\n"));
        zeus_free(event);
    }
    zeus_zeusd_stream_cancel(s);
    char *event = NULL;
    size_t len;
    assert_int_equal(zeus_zeusd_stream_next(s, 5.0, &event, &len), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "cancelled");
    zeus_zeusd_stream_close(s);
    /* A refused stream is a whole answer and no stream. */
    assert_int_equal(
        zeus_zeusd_stream_open(c, "GET", "/gpu/stream_power?gpu_ids=7", NULL, NULL, 0, &r, &s),
        ZEUS_OK);
    assert_null(s);
    assert_int_equal(r.status, 400);
    assert_contains(r.body, "Unknown GPU indices");
    zeus_zeusd_reply_free(&r);
    zeus_zeusd_client_close(c);
}

/* A token is sent as a bearer token: a bad one gets the daemon's 401, a good one its answer. */
static void test_tokens(void **state)
{
    (void)state;
    char *key = zt_write(zt_dir, "key", "k3y");
    char *token = issue(key, "gpu-read", "1h");
    zr_start(&daemon_, "--signing-key-path", key, NULL);
    zeus_zeusd_client *bad = client_at(daemon_.sock, "not-a-token", 0);
    zeus_zeusd_client *good = client_at(daemon_.sock, token, 0);
    zeus_zeusd_reply r;
    assert_int_equal(zeus_zeusd_request(bad, "GET", "/auth/whoami", NULL, NULL, 0, &r), ZEUS_OK);
    assert_int_equal(r.status, 401);
    zeus_zeusd_reply_free(&r);
    assert_int_equal(zeus_zeusd_request(good, "GET", "/auth/whoami", NULL, NULL, 0, &r), ZEUS_OK);
    assert_int_equal(r.status, 200);
    assert_contains(r.body, "gpu-read");
    zeus_zeusd_reply_free(&r);
    zeus_zeusd_client_close(bad);
    zeus_zeusd_client_close(good);
    free(token);
    free(key);
}

/* Options and requests that are refused before any connection, and a daemon that is not there. */
static void test_refusals(void **state)
{
    (void)state;
    zeus_zeusd_client_options o;
    zeus_zeusd_client_options_init(&o);
    zeus_zeusd_client *c = NULL;
    assert_int_equal(zeus_zeusd_client_open(&o, &c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "no zeusd address");
    o.host_port = "nohost";
    assert_int_equal(zeus_zeusd_client_open(&o, &c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "'nohost' is not HOST:PORT");
    o.host_port = "127.0.0.1:1";
    o.token = "a\r\nX-Injected: 1";
    assert_int_equal(zeus_zeusd_client_open(&o, &c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "line break");
    o.token = NULL;
    o.timeout_s = -1;
    assert_int_equal(zeus_zeusd_client_open(&o, &c), ZEUS_EINVAL);
    o.struct_size = 0;
    assert_int_equal(zeus_zeusd_client_open(&o, &c), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "zeus_zeusd_client_options_init");
    assert_null(c);

    char *gone = zt_path(zt_dir, "gone.sock");
    c = client_at(gone, NULL, 2.0);
    zeus_zeusd_reply r;
    assert_int_equal(zeus_zeusd_request(c, "GET", "/discover", NULL, NULL, 0, &r), ZEUS_ENODEV);
    assert_contains(zeus_last_error(), gone);
    assert_contains(zeus_last_error(), "GET /discover");
    assert_contains(zeus_last_error(), "No such file or directory");
    assert_int_equal(zeus_zeusd_request(c, "GET", "no-slash", NULL, NULL, 0, &r), ZEUS_EINVAL);
    assert_int_equal(zeus_zeusd_request(c, "GET", "/a b", NULL, NULL, 0, &r), ZEUS_EINVAL);
    assert_int_equal(zeus_zeusd_request(c, "get", "/", NULL, NULL, 0, &r), ZEUS_EINVAL);
    assert_int_equal(zeus_zeusd_request(c, "HEAD", "/", NULL, NULL, 0, &r), ZEUS_EINVAL);
    assert_int_equal(
        zeus_zeusd_request(c, "GET", "/", "X: 1\r\n\r\nGET /evil HTTP/1.1\r\n", NULL, 0, &r),
        ZEUS_EINVAL);
    assert_int_equal(zeus_zeusd_request(c, "GET", "/", "Host: evil\r\n", NULL, 0, &r), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "Host header is the client's own");
    zeus_zeusd_client_close(c);
    free(gone);
}

/* ---- a scripted server: one connection, the request kept, parts written, then closed or held ----
 */

typedef struct {
    char path[200];
    int listen_fd;
    const char *parts[4]; /* written one after another */
    double hold_s;        /* then the connection stays open this long (or until the peer goes) */
    char request[4096];
    pthread_t thread;
} script;

static void *script_run(void *arg)
{
    script *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t got = 0;
    while (got + 1 < sizeof s->request && !strstr(s->request, "\r\n\r\n")) {
        ssize_t n = recv(fd, s->request + got, sizeof s->request - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        s->request[got] = '\0';
    }
    for (int i = 0; i < 4 && s->parts[i]; i++) {
        if (send(fd, s->parts[i], strlen(s->parts[i]), MSG_NOSIGNAL) < 0)
            break;
        usleep(20000);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char byte;
    if (s->hold_s > 0 && poll(&p, 1, (int)(s->hold_s * 1000)) > 0)
        (void)!recv(fd, &byte, 1, 0);
    close(fd);
    return NULL;
}

static void script_start(script *s, double hold_s, const char *a, const char *b, const char *c)
{
    static int count;
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s/script%d.sock", zt_dir, count++);
    s->parts[0] = a;
    s->parts[1] = b;
    s->parts[2] = c;
    s->hold_s = hold_s;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->listen_fd >= 0);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, script_run, s), 0);
}

static void script_join(script *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    unlink(s->path);
}

/* An answer cut off by the daemon, no answer at all, a malformed one, a chunked one. */
static void test_answers_cut_short_late_or_chunked(void **state)
{
    (void)state;
    zeus_zeusd_reply r;
    script s;
    script_start(&s, 0, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"gp", NULL, NULL);
    zeus_zeusd_client *c = client_at(s.path, "tok", 5.0);
    assert_int_equal(
        zeus_zeusd_request(c, "POST", "/x?a=1", "Content-Type: text/plain\r\n", "hi", 2, &r),
        ZEUS_EIO);
    assert_contains(zeus_last_error(), "in the middle of the answer");
    assert_contains(zeus_last_error(), "POST /x?a=1");
    assert_contains(zeus_last_error(), s.path);
    script_join(&s);
    assert_contains(s.request, "POST /x?a=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    assert_contains(s.request, "Authorization: Bearer tok\r\n");
    assert_contains(s.request, "Content-Length: 2\r\nContent-Type: text/plain\r\n\r\n");
    zeus_zeusd_client_close(c);

    script_start(&s, 0, "HTTP/1.1 200 OK\r\nContent-Le", NULL, NULL);
    c = client_at(s.path, NULL, 5.0);
    assert_int_equal(zeus_zeusd_request(c, "GET", "/", NULL, NULL, 0, &r), ZEUS_EIO);
    assert_contains(zeus_last_error(), "in the middle of the answer's head");
    script_join(&s);
    zeus_zeusd_client_close(c);

    script_start(&s, 3.0, NULL, NULL, NULL); /* accepts, reads, says nothing */
    c = client_at(s.path, NULL, 0.3);
    double t0 = now_s();
    assert_int_equal(zeus_zeusd_request(c, "GET", "/time", NULL, NULL, 0, &r), ZEUS_ETIMEOUT);
    assert_true(now_s() - t0 < 2.5);
    assert_contains(zeus_last_error(), "timed out waiting for the answer");
    zeus_zeusd_client_close(c);
    script_join(&s);

    /* A 204 has no body whatever its headers say: answered without waiting for the close. */
    script_start(&s, 3.0, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", NULL, NULL);
    c = client_at(s.path, NULL, 5.0);
    t0 = now_s();
    assert_int_equal(zeus_zeusd_request(c, "POST", "/gpu/x", NULL, NULL, 0, &r), ZEUS_OK);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    zeus_zeusd_reply_free(&r);
    zeus_zeusd_client_close(c);
    script_join(&s);

    script_start(&s, 0, "SSH-2.0-OpenSSH\r\n\r\n", NULL, NULL);
    c = client_at(s.path, NULL, 5.0);
    assert_int_equal(zeus_zeusd_request(c, "GET", "/", NULL, NULL, 0, &r), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), "no HTTP/1.x status line");
    script_join(&s);
    zeus_zeusd_client_close(c);

    script_start(&s, 0,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json"
                 "\r\n\r\n5\r\n{\"a\":",
                 "\r\n2;x=y\r\n1}\r\n0\r\n", "\r\n");
    c = client_at(s.path, NULL, 5.0);
    assert_int_equal(zeus_zeusd_request(c, "GET", "/", NULL, NULL, 0, &r), ZEUS_OK);
    assert_string_equal(r.body, "{\"a\":1}");
    assert_int_equal(r.body_len, 7);
    assert_string_equal(r.content_type, "application/json");
    zeus_zeusd_reply_free(&r);
    script_join(&s);
    zeus_zeusd_client_close(c);
}

static void *cancel_later(void *arg)
{
    usleep(200000);
    zeus_zeusd_stream_cancel(arg);
    return NULL;
}

#define SSE_HEAD                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

/* A stream that goes quiet: the timeout leaves it usable, a cancel from another thread ends the
 * wait; a stream the daemon ends; an event split across chunks and reads. */
static void test_stream_quiet_cancel_end(void **state)
{
    (void)state;
    zeus_zeusd_reply r;
    zeus_zeusd_stream *st = NULL;
    char *event = NULL;
    size_t len;
    script s;
    script_start(&s, 5.0, SSE_HEAD "a\r\ndata: {\"a\"\r\n", "5\r\n:1}\n\n\r\n", NULL);
    zeus_zeusd_client *c = client_at(s.path, NULL, 5.0);
    assert_int_equal(zeus_zeusd_stream_open(c, "GET", "/gpu/stream_power", NULL, NULL, 0, &r, &st),
                     ZEUS_OK);
    assert_non_null(st);
    zeus_zeusd_reply_free(&r);
    assert_int_equal(zeus_zeusd_stream_next(st, 5.0, &event, &len), ZEUS_OK);
    assert_string_equal(event, "data: {\"a\":1}");
    zeus_free(event);
    double t0 = now_s();
    assert_int_equal(zeus_zeusd_stream_next(st, 0.2, &event, &len), ZEUS_ETIMEOUT);
    assert_contains(zeus_last_error(), "timed out waiting for an event");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, st), 0);
    assert_int_equal(zeus_zeusd_stream_next(st, -1, &event, &len), ZEUS_ESTATE);
    assert_true(now_s() - t0 < 3.0);
    pthread_join(t, NULL);
    zeus_zeusd_stream_close(st);
    script_join(&s);

    /* Ended by the daemon (the last chunk): the events before it, then NULL. */
    script_start(&s, 0, SSE_HEAD "14\r\ndata: 1\r\n\r\ndata: 2\n\n\r\n", "0\r\n\r\n", NULL);
    zeus_zeusd_client_close(c);
    c = client_at(s.path, NULL, 5.0);
    assert_int_equal(zeus_zeusd_stream_open(c, "GET", "/s", NULL, NULL, 0, &r, &st), ZEUS_OK);
    zeus_zeusd_reply_free(&r);
    assert_int_equal(zeus_zeusd_stream_next(st, 5.0, &event, &len), ZEUS_OK);
    assert_string_equal(event, "data: 1");
    zeus_free(event);
    assert_int_equal(zeus_zeusd_stream_next(st, 5.0, &event, &len), ZEUS_OK);
    assert_string_equal(event, "data: 2");
    zeus_free(event);
    assert_int_equal(zeus_zeusd_stream_next(st, 5.0, &event, &len), ZEUS_OK);
    assert_null(event);
    zeus_zeusd_stream_close(st);
    script_join(&s);

    /* Closed in the middle of a chunk: an error, not an end. */
    script_start(&s, 0, SSE_HEAD "40\r\ndata: {", NULL, NULL);
    zeus_zeusd_client_close(c);
    c = client_at(s.path, NULL, 5.0);
    assert_int_equal(zeus_zeusd_stream_open(c, "GET", "/s", NULL, NULL, 0, &r, &st), ZEUS_OK);
    zeus_zeusd_reply_free(&r);
    assert_int_equal(zeus_zeusd_stream_next(st, 5.0, &event, &len), ZEUS_EIO);
    assert_contains(zeus_last_error(), "GET /s");
    zeus_zeusd_stream_close(st);
    script_join(&s);
    zeus_zeusd_client_close(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_real_daemon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_cut_short_late_or_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_quiet_cancel_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
