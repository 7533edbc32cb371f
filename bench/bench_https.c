/* What https:// costs in libzeus's HTTP client (core/https_client.c, libcurl loaded at run time)
 * against plain http:// (core/http_client.c's sockets), on the same loopback server
 * (tests/integration/https_provider.py: Python's http.server, one port with TLS, one without),
 * the same request (the carbon-intensity API's /latest), a new connection per request as the
 * callers make them. Reports the first https request (dlopen + curl_global_init + handshake) and
 * the median of N of each, alternating, and their ratio.
 *
 *   ./build/bench/bench_https [N]      (needs python3 and openssl, as the test) */
#include "core/http_client.h"
#include "zeus/util.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Milliseconds one GET of root + /v3/carbon-intensity/latest takes; exits on an error. */
static double one_request(const char *root)
{
    const char *headers[] = {"auth-token: bench", "Accept: application/json", NULL};
    zeus__http_request_spec r = {.what = "bench server",
                                 .method = "GET",
                                 .base_url = root,
                                 .target = "/v3/carbon-intensity/latest?zone=DE",
                                 .headers = headers,
                                 .deadline_ns = zeus_now_ns() + 10 * 1000000000LL,
                                 .max_reply = 1 << 20};
    zeus__http_reply reply;
    int64_t t0 = zeus_now_ns();
    int rc = zeus__http_request(&r, &reply);
    double ms = (double)(zeus_now_ns() - t0) / 1e6;
    if (rc != ZEUS_OK || reply.status != 200) {
        fprintf(stderr, "bench_https: %s\n", rc ? zeus_last_error() : "not HTTP 200");
        exit(1);
    }
    zeus__http_reply_free(&reply);
    return ms;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    char dir[] = "/tmp/zeus-bench-https.XXXXXX", ca[64], line[64] = "";
    int to_server[2], from_server[2];
    if (n < 1 || !mkdtemp(dir) || pipe2(to_server, O_CLOEXEC) != 0 ||
        pipe2(from_server, O_CLOEXEC) != 0)
        return 2;
    snprintf(ca, sizeof ca, "%s/cert.pem", dir);
    setenv("SSL_CERT_FILE", ca, 1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_server[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from_server[1], 1);
    char *args[] = {"python3", ZEUS_HTTPS_PROVIDER, dir, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "python3", &fa, NULL, args, environ) != 0)
        return 2;
    close(to_server[0]);
    close(from_server[1]);
    int tls_port = 0, plain_port = 0;
    FILE *out = fdopen(from_server[0], "r");
    if (!out || !fgets(line, sizeof line, out) ||
        sscanf(line, "%d %d", &tls_port, &plain_port) != 2)
        return fprintf(stderr, "bench_https: the server did not start\n"), 1;
    char https_root[64], http_root[64];
    snprintf(https_root, sizeof https_root, "https://127.0.0.1:%d", tls_port);
    snprintf(http_root, sizeof http_root, "http://127.0.0.1:%d", plain_port);
    double first = one_request(https_root);
    double *tls = calloc((size_t)n, sizeof *tls), *plain = calloc((size_t)n, sizeof *plain);
    for (int i = 0; i < n; i++) {
        plain[i] = one_request(http_root);
        tls[i] = one_request(https_root);
    }
    qsort(tls, (size_t)n, sizeof *tls, cmp_double);
    qsort(plain, (size_t)n, sizeof *plain, cmp_double);
    printf("first https request (dlopen libcurl, curl_global_init, handshake): %.2f ms\n", first);
    printf("median of %d: http:// %.3f ms, https:// %.3f ms: %.2f x, +%.3f ms per request\n", n,
           plain[n / 2], tls[n / 2], tls[n / 2] / plain[n / 2], tls[n / 2] - plain[n / 2]);
    close(to_server[1]); /* the server ends when its stdin closes */
    waitpid(pid, NULL, 0);
    fclose(out);
    free(tls);
    free(plain);
    char rm[96];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    return system(rm) == 0 ? 0 : 1;
}
