/* The Pushgateway client (zeus/metric.h) against a loopback server in this process that records
 * the exact request and answers as told: the request's bytes, grouping-label encoding, error
 * answers, timeouts, refused connections, bad targets; and the histogram's text. (The real
 * Pushgateway and Prometheus: tests/exporter/test_exporter.py.) */
#include "test_support.h"
#include "zeus/metric.h"
#include "zeus/util.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int listen_fd;
    int port;
    const char *answer; /* NULL: read the request and never answer */
    char request[8192];
    pthread_t thread;
} server;

static void *serve_one(void *arg)
{
    server *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t len = 0;
    for (;;) { /* headers, then Content-Length bytes of body */
        ssize_t n = recv(fd, s->request + len, sizeof s->request - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        s->request[len] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        char *cl = strstr(s->request, "Content-Length: ");
        if (end && cl && strlen(end + 4) >= strtoul(cl + 16, NULL, 10))
            break;
    }
    if (s->answer)
        (void)!write(fd, s->answer, strlen(s->answer));
    else
        sleep(2); /* longer than the client's timeout */
    close(fd);
    return NULL;
}

static void server_start(server *s, const char *answer)
{
    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    socklen_t al = sizeof a;
    getsockname(s->listen_fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, serve_one, s);
}

static void server_join(server *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

static const char ok_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

static void test_request_bytes(void **state)
{
    (void)state;
    server s;
    server_start(&s, ok_answer);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/gw/", s.port);
    const char *grouping[] = {"instance", "node-1", "stage", "a/b c", "empty", "", NULL};
    zeus_push_target t;
    zeus_push_target_init(&t);
    t.url = url;
    t.job = "train";
    t.grouping = grouping;
    const char *body = "# TYPE x gauge\nx 1\n";
    assert_int_equal(zeus_push_text(&t, body, true), ZEUS_OK);
    server_join(&s);
    /* "a/b c" is YS9iIGM= in base64url; the empty value is "=". */
    assert_contains(s.request, "PUT /gw/metrics/job/train/instance/node-1/stage@base64/YS9iIGM=/"
                               "empty@base64/= HTTP/1.1\r\n");
    char host[64];
    snprintf(host, sizeof host, "Host: 127.0.0.1:%d\r\n", s.port);
    assert_contains(s.request, host);
    assert_contains(s.request, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
    assert_contains(s.request, "Content-Length: 19\r\n");
    assert_contains(s.request, "\r\n\r\n# TYPE x gauge\nx 1\n");

    server_start(&s, ok_answer);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    t.grouping = NULL;
    t.job = "job/with slash";
    assert_int_equal(zeus_push_text(&t, "", false), ZEUS_OK);
    server_join(&s);
    assert_contains(s.request, "POST /metrics/job@base64/am9iL3dpdGggc2xhc2g= HTTP/1.1\r\n");
}

static void test_refusal_is_reported(void **state)
{
    (void)state;
    server s;
    server_start(&s, "HTTP/1.1 400 Bad Request\r\nContent-Length: 57\r\n\r\n"
                     "pushed metrics are invalid or inconsistent with existing\n");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    zeus_push_target t;
    zeus_push_target_init(&t);
    t.url = url;
    t.job = "j";
    assert_int_equal(zeus_push_text(&t, "x 1\n", true), ZEUS_EIO);
    server_join(&s);
    assert_contains(zeus_last_error(), "HTTP/1.1 400 Bad Request");
    assert_contains(zeus_last_error(), "pushed metrics are invalid");
}

static void test_timeout_and_refused(void **state)
{
    (void)state;
    server s;
    server_start(&s, NULL); /* never answers */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    zeus_push_target t;
    zeus_push_target_init(&t);
    t.url = url;
    t.job = "j";
    t.timeout_s = 0.3;
    int64_t t0 = zeus_now_ns();
    assert_int_equal(zeus_push_text(&t, "x 1\n", true), ZEUS_ETIMEOUT);
    double took = (double)(zeus_now_ns() - t0) / 1e9;
    assert_true(took >= 0.25 && took < 1.5 * zt_sleep_scale(0.3, 1)); /* a 0.3 s sleep now */
    assert_contains(zeus_last_error(), "timed out");
    server_join(&s);

    /* A port nobody listens on: the listener is closed, so the port is free. */
    assert_int_equal(zeus_push_text(&t, "x 1\n", true), ZEUS_EIO);
    assert_contains(zeus_last_error(), "cannot connect to the Pushgateway");
    assert_contains(zeus_last_error(), "Connection refused");
}

static void test_bad_targets(void **state)
{
    (void)state;
    zeus_push_target t;
    zeus_push_target_init(&t);
    t.job = "j";
    const char *bad[] = {NULL,         "https://x:1",  "ftp://x",        "http://",
                         "http://:80", "http://h:x/",  "http://h:1?q=1", "http://[::1",
                         "http://h:",  "http://[::1]x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t.url = bad[i];
        assert_int_equal(zeus_push_text(&t, "", true), ZEUS_EINVAL);
    }
    t.url = "http://127.0.0.1:1";
    assert_int_equal(zeus_push_target_check(&t), ZEUS_OK); /* no connection is made */
    t.url = "https://x";
    assert_int_equal(zeus_push_target_check(&t), ZEUS_EINVAL);
    t.url = "http://127.0.0.1:1";
    t.job = "";
    assert_int_equal(zeus_push_target_check(&t), ZEUS_EINVAL);
    assert_int_equal(zeus_push_text(&t, "", true), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "job");
    t.job = "j";
    const char *bad_label[] = {"0abc", "v", NULL};
    t.grouping = bad_label;
    assert_int_equal(zeus_push_text(&t, "", true), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "'0abc'");
    const char *job_again[] = {"job", "v", NULL};
    t.grouping = job_again;
    assert_int_equal(zeus_push_text(&t, "", true), ZEUS_EINVAL);
}

/* A measurement from the sim backend through a real monitor; the histogram counts it in the
 * right bucket and the text is cumulative per bucket. */
static void test_histogram_text(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"idle_power_w\": 100, \"count\": 1}]}";
    zeus_devices *d = NULL;
    zeus_monitor *mon = NULL;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_monitor_open(d, NULL, &mon), ZEUS_OK);
    zeus_measurement *m = zeus_measurement_new();
    assert_int_equal(zeus_monitor_begin_window(mon, "w\"1", false), ZEUS_OK);
    zeus_sleep_ns(300000000);
    assert_int_equal(zeus_monitor_end_window(mon, "w\"1", false, false, m), ZEUS_OK);
    double j = zeus_measurement_gpu(m, 0)->energy_j;
    assert_true(j > 20 && j < 50); /* 100 W for 0.3 s */

    server s;
    server_start(&s, ok_answer);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    static const double buckets[] = {10, 30, 100};
    zeus_energy_histogram_options o;
    zeus_energy_histogram_options_init(&o);
    o.target.url = url;
    o.target.job = "train";
    o.gpu_buckets = buckets;
    o.gpu_bucket_count = 3;
    zeus_energy_histogram *h = NULL;
    assert_int_equal(zeus_energy_histogram_new(&o, &h), ZEUS_OK);
    assert_int_equal(zeus_energy_histogram_observe(h, "w\"1", m), ZEUS_OK);
    server_join(&s);
    assert_contains(s.request, "PUT /metrics/job/train HTTP/1.1");
    assert_contains(s.request, "# TYPE energy_monitor_gpu_energy_joules histogram\n");
    assert_contains(
        s.request,
        "energy_monitor_gpu_energy_joules_bucket{window=\"w\\\"1\",index=\"0\",le=\"10.0\"} 0\n");
    const char *le30 = j <= 30 ? "le=\"30.0\"} 1\n" : "le=\"30.0\"} 0\n";
    assert_contains(s.request, le30);
    assert_contains(s.request, "le=\"100.0\"} 1\n");
    assert_contains(s.request, "le=\"+Inf\"} 1\n");
    assert_contains(s.request,
                    "energy_monitor_gpu_energy_joules_count{window=\"w\\\"1\",index=\"0\"} 1.0\n");
    /* A failed push keeps the observation: the next text counts two. */
    o.target.url = "http://127.0.0.1:1";
    zeus_energy_histogram *h2 = NULL;
    assert_int_equal(zeus_energy_histogram_new(&o, &h2), ZEUS_OK);
    assert_int_equal(zeus_energy_histogram_observe(h2, "w", m), ZEUS_EIO);
    assert_int_equal(zeus_energy_histogram_observe(h2, "w", m), ZEUS_EIO);
    char *text = NULL;
    assert_int_equal(zeus_energy_histogram_text(h2, &text), ZEUS_OK);
    assert_contains(text, "energy_monitor_gpu_energy_joules_count{window=\"w\",index=\"0\"} 2.0\n");
    zeus_free(text);
    static const double unsorted[] = {10, 5};
    o.gpu_buckets = unsorted;
    o.gpu_bucket_count = 2;
    zeus_energy_histogram *h3 = NULL;
    assert_int_equal(zeus_energy_histogram_new(&o, &h3), ZEUS_EINVAL);
    assert_null(h3);
    zeus_energy_histogram_free(h2);
    zeus_energy_histogram_free(h);
    zeus_measurement_free(m);
    zeus_monitor_close(mon);
    zeus_devices_close(d);
}

/* The exposition helpers the exporter shares with the library. */
static void test_exposition_helpers(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(zeus_metric_escape_label("a\\b\"c\nd", buf, sizeof buf), 10);
    assert_string_equal(buf, "a\\\\b\\\"c\\nd");
    /* Too small: truncated, terminated, the needed length returned (as snprintf). */
    char small[4];
    assert_int_equal(zeus_metric_escape_label("\"\"\"", small, sizeof small), 6);
    assert_string_equal(small, "\\\"\\");
    assert_int_equal(zeus_metric_escape_label("x", NULL, 0), 1);
    assert_string_equal(zeus_metric_format_value(INFINITY, buf, sizeof buf), "+Inf");
    assert_string_equal(zeus_metric_format_value(-INFINITY, buf, sizeof buf), "-Inf");
    assert_string_equal(zeus_metric_format_value(NAN, buf, sizeof buf), "NaN");
    assert_string_equal(zeus_metric_format_value(10, buf, sizeof buf), "10.0");
    assert_string_equal(zeus_metric_format_value(0.1 + 0.2, buf, sizeof buf),
                        "0.30000000000000004");
}

static char warned[1024];

static void capture_log(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    if (level == ZEUS_LOG_WARN)
        snprintf(warned, sizeof warned, "%s", message);
}

/* The monitor pushes every window it ends once told to; a failed push only warns. */
static void test_monitor_pushes_windows(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"idle_power_w\": 100, \"count\": 2}]}";
    zeus_devices *d = NULL;
    zeus_monitor *mon = NULL;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    assert_int_equal(zeus_monitor_open(d, NULL, &mon), ZEUS_OK);
    zeus_measurement *m = zeus_measurement_new();
    server s;
    server_start(&s, ok_answer);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    const char *grouping[] = {"instance", "node-1", NULL};
    zeus_push_target t;
    zeus_push_target_init(&t);
    t.url = url;
    t.job = "train";
    t.grouping = grouping;
    assert_int_equal(zeus_monitor_push_windows(mon, &t), ZEUS_OK);
    url[0] = 'X'; /* copied: the caller's strings may change */
    assert_int_equal(zeus_monitor_begin_window(mon, "epoch", false), ZEUS_OK);
    zeus_sleep_ns(200000000);
    assert_int_equal(zeus_monitor_end_window(mon, "epoch", false, false, m), ZEUS_OK);
    server_join(&s);
    assert_contains(s.request, "PUT /metrics/job/train/instance/node-1/window/epoch HTTP/1.1");
    assert_contains(s.request, "zeus_window_gpu_energy_joules{gpu=\"1\"} ");
    assert_contains(s.request, "zeus_window_duration_seconds 0.2");
    /* A cancelled window pushes nothing (no server is listening: a push would warn). */
    zeus_set_log_callback(capture_log, NULL);
    warned[0] = '\0';
    assert_int_equal(zeus_monitor_begin_window(mon, "c", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(mon, "c", false, true, m), ZEUS_OK);
    assert_string_equal(warned, "");
    /* The gateway is gone: the window is still measured, the failure is a warning. */
    assert_int_equal(zeus_monitor_begin_window(mon, "late", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(mon, "late", false, false, m), ZEUS_OK);
    assert_false(isnan(zeus_measurement_gpu(m, 0)->energy_j));
    assert_contains(warned, "window 'late' was not pushed");
    assert_contains(warned, "cannot connect to the Pushgateway");
    /* NULL stops pushing. */
    assert_int_equal(zeus_monitor_push_windows(mon, NULL), ZEUS_OK);
    warned[0] = '\0';
    assert_int_equal(zeus_monitor_begin_window(mon, "after", false), ZEUS_OK);
    assert_int_equal(zeus_monitor_end_window(mon, "after", false, false, m), ZEUS_OK);
    assert_null(strstr(warned, "not pushed"));
    t.job = "";
    assert_int_equal(zeus_monitor_push_windows(mon, &t), ZEUS_EINVAL);
    zeus_set_log_callback(NULL, NULL);
    zeus_measurement_free(m);
    zeus_monitor_close(mon);
    zeus_devices_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exposition_helpers, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_request_bytes, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_is_reported, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_and_refused, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_targets, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_histogram_text, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_monitor_pushes_windows, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
