/* https:// in libzeus's HTTP client (core/https_client.c: libcurl loaded at run time) against a
 * real HTTPS server on 127.0.0.1 with a self-signed certificate it makes (https_provider.py,
 * answering like ElectricityMaps): the carbon-intensity API and `zeus monitor energy --carbon`
 * over https with SSL_CERT_FILE naming the test's CA; verification failing without it, for a host
 * name the certificate does not name, and with a CA file that does not exist; POST with headers,
 * the answer-size limit and the time-out; and the "needs libcurl" error when the library is
 * missing (ZEUS_CURL_LIBRARY naming a file that does not exist). */
#include "core/http_client.h"
#include "test_support.h"
#include "zeus/carbon.h"
#include "zeus/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *server_dir, *ca_path;
static char base[64], plain_base[64]; /* https://127.0.0.1:PORT/v3, http://127.0.0.1:PORT/v3 */
static int server_port, plain_port, server_stdin = -1;
static pid_t server_pid = -1;

/* Starts https_provider.py in its own directory and reads the port it prints. */
static int start_server(void **state)
{
    (void)state;
    for (const char *const *v =
             (const char *const[]){"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL};
         *v; v++)
        unsetenv(*v); /* the test talks to loopback only */
    server_dir = zt_mkdtemp();
    ca_path = zt_path(server_dir, "cert.pem");
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    fflush(NULL);
    server_pid = fork();
    if (server_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(ZEUS_TEST_PYTHON3, ZEUS_TEST_PYTHON3, ZEUS_HTTPS_PROVIDER, server_dir, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", ZEUS_TEST_PYTHON3, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    server_stdin = in[1];
    /* Its first line: "HTTPS_PORT HTTP_PORT" (within 30 s: openssl, Python's start). */
    char line[32] = "";
    size_t len = 0;
    double until = zt_now_s() + 30;
    while (!memchr(line, '\n', len) && len + 1 < sizeof line && zt_now_s() < until) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, 1000) != 1)
            continue;
        ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break;
        len += n > 0 ? (size_t)n : 0;
        line[len] = '\0';
    }
    close(out[0]);
    if (sscanf(line, "%d %d", &server_port, &plain_port) != 2) {
        fprintf(stderr, "the HTTPS server (python3 %s, openssl) did not start: '%s'\n",
                ZEUS_HTTPS_PROVIDER, line);
        return -1;
    }
    snprintf(base, sizeof base, "https://127.0.0.1:%d/v3", server_port);
    snprintf(plain_base, sizeof plain_base, "http://127.0.0.1:%d/v3", plain_port);
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    if (server_stdin >= 0)
        close(server_stdin); /* the server ends when its stdin closes */
    if (server_pid > 0 && zt_wait(server_pid, 10) < 0)
        fprintf(stderr, "the HTTPS server did not end: killed\n");
    zt_rmtree(server_dir);
    free(server_dir);
    free(ca_path);
    return 0;
}

/* The fake grid of https_provider.py: the intensity of the hour starting at t. */
static double intensity_of(long hour_start)
{
    return 200.0 + 5.0 * (double)((hour_start / 3600) % 24);
}

static void carbon_options(zeus_carbon_api_options *o, const char *url, const char *key)
{
    zeus_carbon_api_options_init(o);
    o->api_url = url;
    o->api_key = key;
    o->location = "DE";
    o->cache_dir = NULL;
    o->timeout_s = 10;
}

static void test_carbon_over_https(void **state)
{
    (void)state;
    setenv("SSL_CERT_FILE", ca_path, 1);
    zeus_carbon_api_options o;
    carbon_options(&o, base, "k3y");
    double g = 0, now = zeus_wall_s();
    assert_int_equal(zeus_carbon_api_intensity(&o, now, &g), ZEUS_OK);
    assert_true(g == 321.5); /* /latest */
    long two_ago = (long)(now / 3600) * 3600 - 2 * 3600;
    assert_int_equal(zeus_carbon_api_intensity(&o, (double)two_ago + 60, &g), ZEUS_OK);
    assert_true(g == intensity_of(two_ago)); /* /history, that hour's entry */
    /* The same server over plain http:// (the socket client) gives the same answers. */
    carbon_options(&o, plain_base, "k3y");
    assert_int_equal(zeus_carbon_api_intensity(&o, (double)two_ago + 60, &g), ZEUS_OK);
    assert_true(g == intensity_of(two_ago));
    /* The key travels as auth-token: a refused one is the API's 401, said as such. */
    carbon_options(&o, base, "bad");
    assert_int_equal(zeus_carbon_api_intensity(&o, now, &g), ZEUS_EPERM);
    assert_contains(zeus_last_error(), "the API key was refused (HTTP 401) at https://127.0.0.1:");
}

/* Never silently insecure: without the test's CA the self-signed certificate is refused, the
 * message naming the host and curl's reason. */
static void test_verification_always_on(void **state)
{
    (void)state;
    zeus_carbon_api_options o;
    double g = 0;
    unsetenv("SSL_CERT_FILE");
    carbon_options(&o, base, NULL);
    assert_int_equal(zeus_carbon_api_intensity(&o, zeus_wall_s(), &g), ZEUS_EIO);
    assert_contains(zeus_last_error(), "carbon-intensity API: TLS with 127.0.0.1 failed: ");
    assert_contains(zeus_last_error(), "certificate");
    assert_contains(zeus_last_error(), "CA certificates: the system's");
    /* The right CA, the wrong name: the certificate is for 127.0.0.1, not localhost. */
    setenv("SSL_CERT_FILE", ca_path, 1);
    char other[80];
    snprintf(other, sizeof other, "https://localhost:%d/v3", server_port);
    carbon_options(&o, other, NULL);
    assert_int_equal(zeus_carbon_api_intensity(&o, zeus_wall_s(), &g), ZEUS_EIO);
    assert_contains(zeus_last_error(), "TLS with localhost failed: ");
    /* A CA file that is not there is an error, not a fallback. */
    char *missing = zt_path(zt_dir, "no-such-ca.pem");
    setenv("SSL_CERT_FILE", missing, 1);
    carbon_options(&o, base, NULL);
    assert_int_equal(zeus_carbon_api_intensity(&o, zeus_wall_s(), &g), ZEUS_EIO);
    assert_contains(zeus_last_error(), "SSL_CERT_FILE=");
    assert_contains(zeus_last_error(), "no-such-ca.pem");
    free(missing);
}

static zeus__http_request_spec spec_for(const char *method, const char *target, double timeout_s)
{
    static char root[64];
    snprintf(root, sizeof root, "https://127.0.0.1:%d", server_port);
    return (zeus__http_request_spec){.what = "test server",
                                     .method = method,
                                     .base_url = root,
                                     .target = target,
                                     .deadline_ns = zeus_now_ns() + (int64_t)(timeout_s * 1e9),
                                     .max_reply = 1 << 20};
}

/* The internal request: a POST body and headers both ways, the status, the size limit and the
 * time-out. */
static void test_post_limits_timeout(void **state)
{
    (void)state;
    setenv("SSL_CERT_FILE", ca_path, 1);
    char body[5000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    const char *headers[] = {"X-Test: hello there", "Content-Type: text/plain", NULL};
    zeus__http_request_spec r = spec_for("POST", "/echo", 10);
    r.headers = headers;
    r.body = body;
    r.body_len = sizeof body;
    zeus__http_reply reply;
    assert_int_equal(zeus__http_request(&r, &reply), ZEUS_OK);
    assert_int_equal(reply.status, 201);
    assert_int_equal(reply.body_len, sizeof body);
    assert_memory_equal(reply.body, body, sizeof body);
    assert_int_equal(reply.body[reply.body_len], '\0');
    char echo[64] = "";
    assert_true(zeus__http_header(&reply, "x-echo", echo, sizeof echo));
    assert_string_equal(echo, "hello there");
    assert_true(zeus__http_header(&reply, "Content-Length", echo, sizeof echo));
    assert_string_equal(echo, "5000");
    zeus__http_reply_free(&reply);
    r.max_reply = 100;
    assert_int_equal(zeus__http_request(&r, &reply), ZEUS_EIO);
    assert_contains(zeus_last_error(), "test server: answer larger than 100 bytes");
    zeus__http_request_spec slow = spec_for("GET", "/slow", 0.5);
    double t0 = zt_now_s();
    assert_int_equal(zeus__http_request(&slow, &reply), ZEUS_ETIMEOUT);
    assert_true(zt_now_s() - t0 < 2.5); /* the server answers after 3 s */
    assert_contains(zeus_last_error(), "test server: timed out");
    assert_null(reply.raw);
}

/* Which URLs the request takes: http:// and https:// (port 443 when left out), nothing else. */
static void test_parse_any_url(void **state)
{
    (void)state;
    char host[64], port[8], prefix[64];
    bool tls = false;
    assert_int_equal(zeus__http_parse_any_url("API", "https://[::1]/v3/", &tls, host, sizeof host,
                                              port, sizeof port, prefix, sizeof prefix),
                     ZEUS_OK);
    assert_true(tls);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "443");
    assert_string_equal(prefix, "/v3");
    assert_int_equal(zeus__http_parse_any_url("API", "http://h:81", &tls, host, sizeof host, port,
                                              sizeof port, prefix, sizeof prefix),
                     ZEUS_OK);
    assert_false(tls);
    assert_string_equal(port, "81");
    assert_string_equal(prefix, "");
    assert_int_equal(zeus__http_parse_any_url("API", "ftp://h/v3", &tls, host, sizeof host, port,
                                              sizeof port, prefix, sizeof prefix),
                     ZEUS_EINVAL);
    assert_string_equal(zeus_last_error(), "API URL 'ftp://h/v3' must start with http:// or "
                                           "https://");
    assert_int_equal(zeus__http_parse_any_url("API", "https://h:x/", &tls, host, sizeof host, port,
                                              sizeof port, prefix, sizeof prefix),
                     ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "bad port");
}

/* `zeus monitor energy --carbon` over https, and the same without libcurl. */
static void test_cli_carbon_https(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    setenv("SSL_CERT_FILE", ca_path, 1);
    char *cache = zt_path(zt_dir, "cache"), *nolib = zt_path(zt_dir, "none/libcurl.so.4");
    setenv("ZEUS_CARBON_CACHE_DIR", cache, 1);
    char *out = NULL, *err = NULL;
    int rc = zt_zeus(&out, &err, "monitor", "energy", "--gpu-indices", "0", "--carbon",
                     "--location", "DE", "--carbon-api", base, "--", "true", NULL);
    if (rc != 0)
        fprintf(stderr, "%s%s", out, err);
    assert_int_equal(rc, 0);
    assert_contains(out, "Carbon: ");
    assert_contains(out, "(321.5 g/kWh)");
    free(out);
    free(err);
    /* A fresh cache, so the command has to ask; no libcurl where it is looked for. */
    char *cache2 = zt_path(zt_dir, "cache2");
    setenv("ZEUS_CARBON_CACHE_DIR", cache2, 1);
    setenv("ZEUS_CURL_LIBRARY", nolib, 1);
    rc = zt_zeus(&out, &err, "monitor", "energy", "--gpu-indices", "0", "--carbon", "--location",
                 "DE", "--carbon-api", base, "--", "true", NULL);
    assert_int_equal(rc, 1);
    assert_contains(out, "Carbon: not known");
    assert_contains(err, "carbon-intensity API: https://127.0.0.1:");
    assert_contains(err, ": needs libcurl (");
    assert_contains(err, "none/libcurl.so.4 not found: install libcurl4");
    unsetenv("ZEUS_CURL_LIBRARY");
    free(out);
    free(err);
    free(cache);
    free(cache2);
    free(nolib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_carbon_over_https, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_verification_always_on, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_post_limits_timeout, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_cli_carbon_https, zt_setup, zt_teardown),
        cmocka_unit_test(test_parse_any_url),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
