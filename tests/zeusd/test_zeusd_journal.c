/* zeusd's crash-safe leases (issue 17 item 1): zeusd killed with -9 and restarted on the same
 * --state-dir puts back at once what a client that is gone had changed, and keeps a live
 * client's lease with the ORIGINAL limit (the client's later change and its exit put back
 * 225 W, not its own earlier 130 W). Also: root breaking a client's lease with force=true
 * (item 4) and the socket's mode from bind on (item 9). */
#include "test_support.h"
#include "zeusd_rig.h"

#include "zeus/util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static zr_daemon daemon_;
static char *state_dir;

static int setup(void **state)
{
    zt_setup(state);
    zt_use_fake_nvml(zt_dir, NULL); /* 4 x A40, 100-300 W, at 300 W */
    setenv("ZEUS_DEVICE", "nvml", 1);
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    state_dir = zt_path(zt_dir, "state");
    memset(&daemon_, 0, sizeof daemon_);
    return 0;
}

static int teardown(void **state)
{
    int status = 0;
    if (daemon_.pid > 0) {
        kill(daemon_.pid, SIGTERM);
        status = zt_wait(daemon_.pid, 20);
        daemon_.pid = 0;
    }
    if (daemon_.dir[0])
        zr_stop(&daemon_);
    free(state_dir);
    zt_teardown(state);
    return status == 0 ? 0 : -1;
}

static void start(void)
{
    zr_start(&daemon_, "--enable", "gpu-control,gpu-read", "--state-dir", state_dir, NULL);
}

/* kill -9 of the daemon: nothing it holds is put back by itself. */
static void kill9_daemon(void)
{
    kill(daemon_.pid, SIGKILL);
    assert_int_equal(zt_wait(daemon_.pid, 10), 128 + SIGKILL);
    daemon_.pid = 0;
    zr_stop(&daemon_); /* removes its socket directory */
}

/* A client process that sends the requests it is told (one target per line on a pipe) from
 * one pid, and answers each status. */
typedef struct {
    pid_t pid;
    int to, from;
} client;

static void client_start_as(client *c, bool nobody)
{
    int cmd[2], ans[2];
    assert_int_equal(pipe(cmd), 0);
    assert_int_equal(pipe(ans), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        close(cmd[1]);
        close(ans[0]);
        if (nobody && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(10);
        char line[512];
        for (;;) {
            size_t n = 0;
            while (n + 1 < sizeof line && read(cmd[0], &line[n], 1) == 1 && line[n] != '\n')
                n++;
            if (n == 0)
                _exit(0);
            line[n] = '\0';
            /* "sock target": the daemon's socket changes with each start. */
            char *space = strchr(line, ' ');
            *space = '\0';
            zr_reply r;
            int status = zr_request(line, "POST", space + 1, NULL, &r);
            char out[600];
            int len = snprintf(out, sizeof out, "%d %.500s\n", status, r.body ? r.body : "");
            zr_free(&r);
            if (write(ans[1], out, (size_t)len) != len)
                _exit(1);
        }
    }
    close(cmd[0]);
    close(ans[1]);
    c->to = cmd[1];
    c->from = ans[0];
}

static void client_start(client *c)
{
    client_start_as(c, false);
}

/* Sends one request through the client; returns its status, the body in body (if given). */
static int client_post(client *c, const char *target, char *body, size_t size)
{
    char line[512];
    int len = snprintf(line, sizeof line, "%s %s\n", daemon_.sock, target);
    assert_int_equal(write(c->to, line, (size_t)len), len);
    char buf[640];
    size_t n = 0;
    while (n + 1 < sizeof buf && read(c->from, &buf[n], 1) == 1 && buf[n] != '\n')
        n++;
    buf[n] = '\0';
    if (body)
        snprintf(body, size, "%s", strchr(buf, ' ') ? strchr(buf, ' ') + 1 : "");
    return atoi(buf);
}

static void client_kill9(client *c)
{
    kill(c->pid, SIGKILL);
    zt_wait(c->pid, 10);
    close(c->to);
    close(c->from);
}

static unsigned fake_limit(unsigned gpu)
{
    char *text = zt_read(getenv("ZEUS_FAKE_NVML_STATE"));
    char key[32];
    snprintf(key, sizeof key, "gpu %u limit_mw ", gpu);
    char *at = text ? strstr(text, key) : NULL;
    unsigned mw = at ? (unsigned)strtoul(at + strlen(key), NULL, 10) : 0;
    free(text);
    return mw;
}

static bool limit_becomes(unsigned gpu, unsigned want, double timeout_s)
{
    int64_t end = zeus_now_ns() + (int64_t)(timeout_s * 1e9);
    do {
        if (fake_limit(gpu) == want)
            return true;
        usleep(20000);
    } while (zeus_now_ns() < end);
    fprintf(stderr, "GPU %u is at %u mW, not %u\n", gpu, fake_limit(gpu), want);
    return false;
}

static void set_limit(client *c, unsigned gpu, unsigned mw, int want_status)
{
    char t[160];
    snprintf(t, sizeof t, "/gpu/set_power_limit?gpu_ids=%u&power_limit_mw=%u&block=true", gpu, mw);
    char body[512];
    int status = client_post(c, t, body, sizeof body);
    if (status != want_status)
        fprintf(stderr, "set GPU %u to %u: %d %s\n", gpu, mw, status, body);
    assert_int_equal(status, want_status);
}

/* A client gone while zeusd was down: its GPU is put back as the daemon starts. */
static void test_restart_with_dead_client(void **state)
{
    (void)state;
    start();
    client a;
    client_start(&a);
    set_limit(&a, 1, 140000, 200);
    set_limit(&a, 2, 150000, 200);
    kill9_daemon();
    client_kill9(&a);
    assert_int_equal(fake_limit(1), 140000); /* nobody put it back */
    start();
    /* Put back before the daemon answers its first request. */
    assert_int_equal(fake_limit(1), 300000);
    assert_int_equal(fake_limit(2), 300000);
    char *log = zr_log(&daemon_);
    char want[128];
    snprintf(want, sizeof want, "GPU 1: client pid %ld (uid 0) is gone: put back to 300 W",
             (long)a.pid);
    assert_contains(log, want);
    free(log);
}

/* The scenario: 225 W set for good; a client sets 130 W; zeusd is killed with -9 and
 * restarted; the live client changes the GPU again and exits: back to 225 W, not 130 W. */
static void test_restart_with_live_client(void **state)
{
    (void)state;
    start();
    client root_, a, b;
    client_start(&root_);
    assert_int_equal(
        client_post(&root_,
                    "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=225000&block=true&persist=true",
                    NULL, 0),
        200);
    client_kill9(&root_);
    client_start(&a);
    set_limit(&a, 0, 130000, 200);
    kill9_daemon();
    start();
    char *log = zr_log(&daemon_);
    char want[128];
    snprintf(want, sizeof want, "GPU 0 stays leased to client pid %ld", (long)a.pid);
    assert_contains(log, want);
    free(log);
    assert_int_equal(fake_limit(0), 130000); /* still the client's */
    /* Still the client's lease: another client is refused, the holder is not. */
    client_start(&b);
    set_limit(&b, 0, 120000, 409);
    client_kill9(&b);
    set_limit(&a, 0, 150000, 200);
    assert_int_equal(fake_limit(0), 150000);
    client_kill9(&a);
    assert_true(limit_becomes(0, 225000, 5));
}

static void expect_post(client *c, const char *target, int status, const char *text)
{
    char body[512];
    int got = client_post(c, target, body, sizeof body);
    if (got != status || !strstr(body, text))
        fprintf(stderr, "%s: %d %s (wanted %d, '%s')\n", target, got, body, status, text);
    assert_int_equal(got, status);
    assert_contains(body, text);
}

/* An unprivileged client's lease does not lock root out (issue 17 item 4): root breaks it with
 * force=true, logged with both identities; the former holder's next change is told who took the
 * GPU; the GPU goes back to its true original when the new holder exits. Only root and
 * --allow gpu-admin=... may force. */
static void test_force_breaks_a_clients_lease(void **state)
{
    (void)state;
    start();
    client nobody, root_;
    client_start_as(&nobody, true);
    client_start(&root_);
    set_limit(&nobody, 0, 130000, 200);
    expect_post(&root_, "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=200000&block=true", 409,
                "GPU 0 is leased by process");
    expect_post(&nobody,
                "/gpu/set_power_limit?gpu_ids=1&power_limit_mw=150000&block=true&force=true", 403,
                "force=true (breaking another client's lease) is for root");
    expect_post(&root_,
                "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=200000&block=true&force=true", 200,
                "");
    assert_int_equal(fake_limit(0), 200000);
    char *log = zr_log(&daemon_);
    char want[200];
    snprintf(want, sizeof want,
             "GPU 0: the lease of client pid %ld (uid 65534) is broken by root (uid 0, pid %ld) "
             "with force=true",
             (long)nobody.pid, (long)root_.pid);
    assert_contains(log, want);
    free(log);
    snprintf(want, sizeof want, "GPU 0 was taken from this client by root (uid 0, pid %ld)",
             (long)root_.pid);
    expect_post(&nobody, "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=140000&block=true", 409,
                want);
    assert_int_equal(fake_limit(0), 200000);
    client_kill9(&nobody); /* its exit puts nothing back: the GPU is root's client's now */
    usleep(300000);
    assert_int_equal(fake_limit(0), 200000);
    client_kill9(&root_);
    assert_true(limit_becomes(0, 300000, 5)); /* the original from before nobody's lease */

    /* `zeus power-limit set --force` (root, local NVML) breaks the daemon's lease of a client's
     * GPU: the client's next change is refused naming who took it, its exit puts nothing back,
     * and a later client leases the GPU as usual. */
    client_start_as(&nobody, true);
    set_limit(&nobody, 2, 130000, 200);
    char *out, *err;
    assert_int_equal(
        zt_zeus(&out, &err, "power-limit", "set", "210", "--gpu-indices", "2", "--force", NULL), 0);
    assert_contains(err, "is broken by process");
    free(out);
    free(err);
    assert_int_equal(fake_limit(2), 210000);
    expect_post(&nobody, "/gpu/set_power_limit?gpu_ids=2&power_limit_mw=140000&block=true", 409,
                "GPU 2 was taken from this process by process");
    client_kill9(&nobody);
    usleep(400000);
    assert_int_equal(fake_limit(2), 210000);
    client_start(&root_);
    set_limit(&root_, 2, 190000, 200);
    client_kill9(&root_);
    assert_true(limit_becomes(2, 210000, 5));

    /* The same through the daemon (ZEUSD_SOCK_PATH: zeusd carries out the CLI's changes):
     * without --force the CLI is refused naming the holder; with it the daemon is asked to
     * break the lease (force=true), and the setting stays after the CLI exits. */
    client_start_as(&nobody, true);
    set_limit(&nobody, 3, 130000, 200);
    setenv("ZEUSD_SOCK_PATH", daemon_.sock, 1);
    assert_int_not_equal(
        zt_zeus(&out, &err, "power-limit", "set", "220", "--gpu-indices", "3", NULL), 0);
    assert_contains(err, "GPU 3 is leased by process");
    free(out);
    free(err);
    assert_int_equal(fake_limit(3), 130000);
    assert_int_equal(
        zt_zeus(&out, &err, "power-limit", "set", "220", "--gpu-indices", "3", "--force", NULL), 0);
    unsetenv("ZEUSD_SOCK_PATH");
    free(out);
    free(err);
    assert_int_equal(fake_limit(3), 220000);
    log = zr_log(&daemon_);
    assert_contains(log, "GPU 3: the lease of client pid");
    assert_contains(log, "with force=true");
    free(log);
    client_kill9(&nobody);
    usleep(400000);
    assert_int_equal(fake_limit(3), 220000);

    /* A gpu-admin member may force too. */
    zr_stop(&daemon_);
    zr_start(&daemon_, "--enable", "gpu-control,gpu-read", "--state-dir", state_dir, "--allow",
             "gpu-admin=uid:65534", NULL);
    client_start(&root_);
    client_start_as(&nobody, true);
    set_limit(&root_, 1, 250000, 200);
    expect_post(&nobody,
                "/gpu/set_power_limit?gpu_ids=1&power_limit_mw=150000&block=true&force=true", 200,
                "");
    assert_int_equal(fake_limit(1), 150000);
    client_kill9(&root_);
    client_kill9(&nobody);
    assert_true(limit_becomes(1, 300000, 5));
}

/* zeusd's socket has the mode asked for from the moment bind() creates it (a probe preloaded
 * into the daemon records the mode right after bind, before any chmod could run). */
static void test_socket_mode_from_bind(void **state)
{
    (void)state;
    char *probe = zt_path(zt_dir, "bind.log");
    setenv("ZEUS_TEST_BIND_PROBE", probe, 1);
    setenv("LD_PRELOAD", ZEUS_BIND_PROBE_PATH, 1);
    /* An ASan daemon accepts a preloaded library ahead of its runtime. */
    const char *asan = getenv("ASAN_OPTIONS");
    char options[512];
    snprintf(options, sizeof options, "%s%sverify_asan_link_order=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", options, 1);
    umask(0); /* a wide umask in the daemon's environment must not widen the socket */
    zr_start(&daemon_, "--enable", "gpu-read", "--socket-permissions", "660", NULL);
    umask(022);
    unsetenv("LD_PRELOAD");
    unsetenv("ZEUS_TEST_BIND_PROBE");
    char want[200];
    snprintf(want, sizeof want, "%s 0660\n", daemon_.sock);
    assert_file_contains(probe, want);
    struct stat st;
    assert_int_equal(stat(daemon_.sock, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0660);
    free(probe);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart_with_dead_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_with_live_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_mode_from_bind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_force_breaks_a_clients_lease, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
