/* zeusd as a real process over the fake NVML and a fake RAPL tree, its clients and connections:
 * libzeus's client side (Unix socket and TCP with a token), the allowlist, concurrency, slow and
 * malformed clients, workers, streams, CPU ids, start-up socket handling, --help and bad flags,
 * socket permissions, the original's Python client, a client without local NVML. The API
 * itself: test_zeusd.c. */
#include "test_support.h"
#include "zeusd.h"
#include "zeusd_rig_suite.h"

#include "zeus/common.h"
#include "zeus/device.h"
#include "zeus/lease.h"
#include "zeus/util.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Lets nobody read and write the fake driver's shared state (the fake hardware). */
static void share_fake_state(void)
{
    chmod(zt_dir, 0755);
    const char *state = getenv("ZEUS_FAKE_NVML_STATE");
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.lock", state);
    const char *files[] = {state, lock};
    for (int i = 0; i < 2; i++) {
        int fd = open(files[i], O_RDWR | O_CREAT, 0666);
        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0666), 0);
        close(fd);
    }
}

/* libzeus's client side: with ZEUSD_SOCK_PATH, a process of nobody changes limits through the
 * daemon (reads stay local) and reads RAPL through it; what it changed with a lease it kept
 * (zeus_lease_commit) stays, the rest is put back when it exits; `zeus power-limit set` run by
 * nobody works unchanged. */
/* True when uid 65534 can read and execute path: a checkout under a folder only root may
 * enter (such as /root) cannot be used by an unprivileged client at all. */
static bool nobody_can_use(const char *path)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(setgid(65534) == 0 && setuid(65534) == 0 && access(path, R_OK | X_OK) == 0 ? 0 : 1);
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static void test_client_side_in_libzeus(void **state)
{
    (void)state;
    if (!nobody_can_use(ZEUS_FAKE_NVML_PATH) || !nobody_can_use(ZEUS_CLI_PATH)) {
        fprintf(stderr,
                "skipped: user nobody cannot reach the build tree (%s); check out "
                "the repository where every user can enter to run this test\n",
                ZEUS_CLI_PATH);
        zt_skip("user nobody cannot reach the build tree");
    }
    setenv("ZEUS_FAKE_NVML_ROOT_ONLY", "1", 1);
    zr_start(&daemon_, NULL);
    assert_int_equal(limit_via_daemon(0), 300000);
    share_fake_state();
    char locks[200], env_locks[220];
    snprintf(locks, sizeof locks, "%s/client-locks", daemon_.dir);
    assert_int_equal(mkdir(locks, 0777), 0);
    assert_int_equal(chmod(locks, 0777), 0);
    snprintf(env_locks, sizeof env_locks, "ZEUS_LOCK_DIR=%s", locks);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        setenv("ZEUSD_SOCK_PATH", daemon_.sock, 1);
        setenv("ZEUS_SYSFS_ROOT", "/nonexistent-rapl", 1); /* no local RAPL */
        setenv("ZEUS_LOCK_DIR", locks, 1);
        zeus_devices *d;
        if (zeus_devices_open(&d) != 0)
            _exit(11);
        const char *knob = zeus_devices_knob_backend(d);
        if (!knob || strcmp(knob, "zeusd") != 0 ||
            strcmp(zeus_devices_gpu_backend(d), zt_vendor_amd() ? "amdsmi" : "nvml"))
            _exit(12);
        unsigned mw = 0;
        if (zeus_gpu_set_power_limit_mw(d, 0, 150000) != 0 ||
            zeus_gpu_power_limit_mw(d, 0, &mw) != 0 || mw != 150000)
            _exit(13);
        zeus_cpu_energy e;
        if (zeus_cpu_count(d) != 2 || zeus_cpu_read_energy(d, 0, &e) != 0 || !e.dram_valid ||
            zeus_cpu_read_energy(d, 1, &e) != 0 || e.dram_valid)
            _exit(14);
        unsigned gpu = 1;
        zeus_lease *lease;
        if (zeus_lease_create(d, &gpu, 1, 0, &lease) != 0 ||
            zeus_lease_set_power_limit_mw(lease, 1, 160000) != 0 || zeus_lease_commit(lease) != 0) {
            fprintf(stderr, "lease: %s\n", zeus_last_error());
            _exit(15);
        }
        zeus_lease_release(lease);
        /* An out-of-range limit is refused. */
        if (zeus_gpu_set_power_limit_mw(d, 2, 5) == 0)
            _exit(16);
        /* Clocks through the daemon: a plain lock is reset when this process exits, a
         * committed lease's stays. */
        gpu = 3;
        if (zeus_gpu_set_locked_clocks(d, 2, ZEUS_CLOCK_GPU, 900, 1500) != 0 ||
            zeus_lease_create(d, &gpu, 1, 0, &lease) != 0 ||
            zeus_lease_set_locked_clocks(lease, 3, ZEUS_CLOCK_MEMORY, 810, 810) != 0 ||
            zeus_lease_commit(lease) != 0) {
            fprintf(stderr, "clocks: %s\n", zeus_last_error());
            _exit(17);
        }
        zeus_lease_release(lease);
        zeus_devices_close(d);
        /* Without the daemon, its own driver refuses it (root only), as the real one. */
        unsetenv("ZEUSD_SOCK_PATH");
        if (zeus_devices_open(&d) != 0)
            _exit(18);
        if (zeus_gpu_set_locked_clocks(d, 0, ZEUS_CLOCK_GPU, 900, 900) != ZEUS_EPERM ||
            zeus_gpu_reset_locked_clocks(d, 0, ZEUS_CLOCK_MEMORY) != ZEUS_EPERM) {
            fprintf(stderr, "local clocks: %s\n", zeus_last_error());
            _exit(19);
        }
        zeus_devices_close(d);
        _exit(0);
    }
    assert_int_equal(zt_wait(pid, 30), 0);
    assert_true(limit_becomes(0, 300000, 5));
    assert_int_equal(limit_via_daemon(1), 160000);
    char *log = zr_log(&daemon_);
    assert_contains(log, "set_power_limit gpu=0 power_limit_mw=150000 by nobody");
    assert_contains(log, "set_gpu_locked_clocks gpu=2 min_clock_mhz=900 max_clock_mhz=1500 by "
                         "nobody");
    assert_contains(log, "set_mem_locked_clocks gpu=3 min_clock_mhz=810 max_clock_mhz=810 by "
                         "nobody (uid 65534, pid ");
    free(log);
    assert_true(state_becomes("gpu 2 limit_mw 300000 persistence 0\n", 5));
    assert_true(state_becomes("gpu 3 limit_mw 300000 persistence 0 mem_clocks_mhz 810 810\n", 5));
    assert_true(log_becomes("exited: GPU 2 put back", 5));

    /* The zeus command, unchanged, as nobody. */
    char env_sock[200], env_lib[400], env_state[4200];
    snprintf(env_sock, sizeof env_sock, "ZEUSD_SOCK_PATH=%s", daemon_.sock);
    snprintf(env_lib, sizeof env_lib, "ZEUS_NVML_LIBRARY=%s", ZEUS_FAKE_NVML_PATH);
    char env_amd_lib[400];
    snprintf(env_amd_lib, sizeof env_amd_lib, "ZEUS_AMDSMI_LIBRARY=%s", ZEUS_FAKE_AMDSMI_PATH);
    snprintf(env_state, sizeof env_state, "ZEUS_FAKE_NVML_STATE=%s",
             getenv("ZEUS_FAKE_NVML_STATE"));
    char *argv[] = {"/usr/bin/setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "/usr/bin/env",
                    env_sock,
                    zt_vendor_amd() ? "ZEUS_DEVICE=amdsmi" : "ZEUS_DEVICE=nvml",
                    env_lib,
                    env_amd_lib,
                    "ZEUS_AMDSMI_CHECK_MS=" ZT_STR(ZT_AMDSMI_CHECK_MS),
                    env_state,
                    "ZEUS_FAKE_NVML_ROOT_ONLY=1",
                    env_locks,
                    ZEUS_CLI_PATH,
                    "power-limit",
                    "set",
                    "170",
                    "--gpu-indices",
                    "3",
                    NULL};
    if (access(argv[0], X_OK) != 0) {
        fprintf(stderr, "setpriv missing: the zeus command part is skipped\n");
        return;
    }
    char *out = NULL, *err = NULL;
    int rc = zt_run(argv, &out, &err, 30);
    if (rc != 0)
        fprintf(stderr, "%s\n%s\n", out, err);
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    usleep(300000);
    assert_int_equal(limit_via_daemon(3), 170000); /* kept after the command exited */
    unsetenv("ZEUS_FAKE_NVML_ROOT_ONLY");
}

/* A peer allowed through a supplementary group; the same user without it is refused. */
static void test_allowlist_by_group(void **state)
{
    (void)state;
    zr_start(&daemon_, "--allow", "gpu-control=gid:4242", "--allow", "cpu-read=user:root", NULL);
    for (int with_group = 1; with_group >= 0; with_group--) {
        pid_t pid = fork();
        if (pid == 0) {
            gid_t extra = 4242;
            if (setgroups(with_group ? 1 : 0, &extra) != 0 || setgid(65534) != 0 ||
                setuid(65534) != 0)
                _exit(10);
            zr_reply r;
            int st = zr_request(daemon_.sock, "POST",
                                "/gpu/set_power_limit?gpu_ids=1&power_limit_mw=190000&block=true"
                                "&persist=true",
                                NULL, &r);
            if (st != (with_group ? 200 : 403))
                _exit(11);
            /* Reads of an open group are not limited; cpu-read is root only here. */
            if (zr_request(daemon_.sock, "GET", "/gpu/get_power", NULL, &r) != 200 ||
                zr_request(daemon_.sock, "GET", "/cpu/get_power", NULL, &r) != 403)
                _exit(12);
            _exit(0);
        }
        assert_int_equal(zt_wait(pid, 20), 0);
    }
    assert_int_equal(limit_via_daemon(1), 190000);
    char *log = zr_log(&daemon_);
    assert_contains(log, "refused POST /gpu/set_power_limit: User 'nobody' (uid 65534) is not "
                         "allowed to use API group 'gpu-control'");
    free(log);
}

typedef struct {
    const char *sock;
    int ok;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    for (int i = 0; i < 10; i++) {
        zr_reply r;
        if (zr_request(w->sock, "GET", "/gpu/get_power_limit?gpu_ids=0", NULL, &r) == 200)
            w->ok++;
        zr_free(&r);
    }
    return NULL;
}

static void test_concurrent_and_slow_clients(void **state)
{
    (void)state;
    zr_start(&daemon_, "--connection-timeout-s", "3", "--request-timeout-s", "5", NULL);
    /* A client sending one byte a second, and idle connections. */
    int slow = zr_connect(daemon_.sock);
    assert_true(slow >= 0);
    const char *partial = "GET /gpu/get_power HTTP/1.1\r\nHo";
    int idle[10];
    for (int i = 0; i < 10; i++)
        idle[i] = zr_connect(daemon_.sock);
    pthread_t threads[100];
    worker_arg args[100];
    int64_t t0 = zeus_now_ns();
    for (int i = 0; i < 100; i++) {
        args[i] = (worker_arg){daemon_.sock, 0};
        pthread_create(&threads[i], NULL, worker, &args[i]);
    }
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(send(slow, partial + i, 1, MSG_NOSIGNAL), 1);
        sleep(1);
    }
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        pthread_join(threads[i], NULL);
        ok += args[i].ok;
    }
    double took = (double)(zeus_now_ns() - t0) / 1e9;
    assert_int_equal(ok, 1000);
    assert_true(took < 20);
    /* The idle connections are closed after the timeout (EOF), the daemon still answers. */
    char c;
    struct timeval tv = {.tv_sec = 8};
    setsockopt(idle[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(recv(idle[0], &c, 1, 0), 0);
    for (int i = 0; i < 10; i++)
        close(idle[i]);
    /* The slow client, still one byte a second, is cut off once its request is 5 s late. */
    bool cut = false;
    for (size_t i = 3; i < 12 && !cut; i++) {
        cut = send(slow, partial + i, 1, MSG_NOSIGNAL) != 1;
        if (!cut) {
            struct pollfd p = {.fd = slow, .events = POLLIN};
            cut = poll(&p, 1, 1000) == 1; /* EOF (or a reply) */
        }
    }
    assert_true(cut);
    close(slow);
    char *log = zr_log(&daemon_);
    assert_contains(log, "closing a connection whose request did not arrive in 5 s");
    free(log);
    expect_contains("GET", "/time", 200, "timestamp_ms");
}

static void *cpu_power_request(void *arg)
{
    zr_reply r;
    *(int *)arg = req("GET", "/cpu/get_power?cpu_ids=0", &r);
    zr_free(&r);
    return NULL;
}

/* Seconds two concurrent /cpu/get_power requests (each one poll period, 0.5 s here) take. */
static double two_cpu_power_requests_s(void)
{
    pthread_t t[2];
    int status[2] = {0, 0};
    int64_t t0 = zeus_now_ns();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, cpu_power_request, &status[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(status[i], 200);
    }
    return (zeus_now_ns() - t0) / 1e9;
}

/* --num-workers bounds the requests handled at once (connections keep their own threads): one
 * worker serializes two slow requests, two run them together; a stream holds no worker. */
static void test_num_workers(void **state)
{
    (void)state;
    zr_start(&daemon_, "--num-workers", "1", "--cpu-power-poll-hz", "2", NULL);
    char buf[4096];
    int fd = read_stream("/gpu/stream_power?gpu_ids=0", "data: ", buf, sizeof buf);
    assert_contains(buf, "\"gpu_id\":0");
    expect_contains("GET", "/time", 200, "timestamp_ms");
    double one = two_cpu_power_requests_s();
    close(fd);
    assert_true(one >= 0.95);
    assert_int_equal(zr_stop(&daemon_), 0);
    zr_start(&daemon_, "--num-workers", "2", "--cpu-power-poll-hz", "2", NULL);
    double two = two_cpu_power_requests_s();
    fprintf(stderr, "two /cpu/get_power of 0.5 s: %.2f s with 1 worker, %.2f s with 2\n", one, two);
    assert_true(two < 0.8 * one); /* together: a ratio against the serialized baseline */
}

static void test_malformed_requests(void **state)
{
    (void)state;
    zr_start(&daemon_, "--max-connections", "8", NULL);
    zr_reply r;
    const char *garbage[] = {"GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                             "\x01\x02\x03\r\n\r\n", "GET /time HTTP/1.1\r\nX\r\n\r\n"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        int st = zr_raw(daemon_.sock, garbage[i], strlen(garbage[i]), &r);
        if (!(st == 0 || (st >= 400 && st < 600)))
            fprintf(stderr, "%zu: %d %s\n", i, st, r.raw);
        assert_true(st == 0 || (st >= 400 && st < 600));
        zr_free(&r);
    }
    /* A header too large (431) and a URL too long (414). */
    char *big = malloc(70000);
    int n = snprintf(big, 70000, "GET /time HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + n, 'a', 60000);
    strcpy(big + n + 60000, "\r\n\r\n");
    int st = zr_raw(daemon_.sock, big, strlen(big), &r);
    assert_true(st == 431 || st == 413 || st == 400);
    zr_free(&r);
    n = snprintf(big, 70000, "GET /gpu/get_power?gpu_ids=");
    memset(big + n, '0', 60000);
    strcpy(big + n + 60000, " HTTP/1.1\r\nHost: x\r\n\r\n");
    st = zr_raw(daemon_.sock, big, strlen(big), &r);
    assert_true(st == 414 || st == 431 || st == 400);
    zr_free(&r);
    /* A body where none is read, too large. */
    n = snprintf(big, 70000,
                 "POST /gpu/set_power_limit?gpu_ids=0&power_limit_mw=150000&block=true HTTP/1.1"
                 "\r\nHost: x\r\nConnection: close\r\nContent-Length: 66000\r\n\r\n");
    memset(big + n, 'b', 66000);
    assert_int_equal(zr_raw(daemon_.sock, big, (size_t)n + 66000, &r), 413);
    zr_free(&r);
    free(big);
    /* Percent escapes, NUL (refused, never cut: test_zeusd_input.c), many fields. */
    expect_contains("GET", "/gpu/get_power?gpu_ids=%00", 400, "contains a NUL character (%00)");
    expect("GET", "/gpu/get_power?gpu_ids=%zz", 400, "{\"error\":\"Invalid GPU index: %zz\"}");
    char many[2048] = "/gpu/get_power?";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=1&", i);
    expect_contains("GET", many, 400, "Query deserialize error");
    expect("GET", "/gpu/get_power?gpu_ids=4294967296", 400,
           "{\"error\":\"Invalid GPU index: 4294967296\"}");
    /* Too many connections: a request beyond --max-connections gets a 503 that says why, and
     * its connection is closed; the daemon recovers. */
    int fds[12];
    for (int i = 0; i < 12; i++)
        fds[i] = zr_connect(daemon_.sock);
    usleep(300000);
    assert_int_equal(req("GET", "/time", &r), 503);
    assert_contains(r.raw, "Connection: close");
    assert_contains(r.raw, "Content-Type: application/json");
    assert_string_equal(r.body, "{\"error\":\"Too many connections: this server serves at most 8 "
                                "at once (--max-connections). Try again later.\"}");
    zr_free(&r);
    /* An idle one beyond the limit is closed soon, not held for --request-timeout-s. */
    struct pollfd over = {.fd = fds[11], .events = POLLIN};
    assert_int_equal(poll(&over, 1, 5000), 1);
    char *log = zr_log(&daemon_);
    assert_contains(log, "503 for /time: more than 8 connections open");
    free(log);
    for (int i = 0; i < 12; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    usleep(200000);
    expect_contains("GET", "/time", 200, "timestamp_ms");
    assert_true(kill(daemon_.pid, 0) == 0);
}

static void test_streams(void **state)
{
    (void)state;
    setenv("ZEUS_FAKE_NVML_CONFIG",
           "{\"gpus\":[{\"name\":\"NVIDIA A40\",\"count\":2,\"idle_power_w\":80}]}", 1);
    zr_start(&daemon_, "--gpu-power-poll-hz", "50", NULL);
    expect("GET", "/gpu/stream_power?gpu_ids=0,7", 400,
           "{\"error\":\"Unknown GPU indices: [7]. Available: [0, 1]\"}");
    expect("GET", "/cpu/stream_power?cpu_ids=5", 400,
           "{\"error\":\"Unknown CPU indices: [5]. Available: [0, 1]\"}");
    char buf[4096];
    int fd = read_stream("/gpu/stream_power?gpu_ids=1", "\"power_mw\":", buf, sizeof buf);
    char *log = zr_log(&daemon_);
    assert_contains(log, "GPU 1 power poller: polling");
    assert_null(strstr(log, "GPU 0 power poller")); /* only requested devices are polled */
    free(log);
    close(fd);
    /* The stream's end is noticed and the poller goes to sleep. */
    bool asleep = false;
    for (int64_t give_up = zeus_now_ns() + 3000000000LL; !asleep && zeus_now_ns() < give_up;
         usleep(20000)) {
        log = zr_log(&daemon_);
        asleep = strstr(log, "GPU 1 power poller: asleep (no stream)") != NULL;
        free(log);
    }
    assert_true(asleep);
    assert_contains(buf, "HTTP/1.1 200");
    assert_contains(buf, "Content-Type: text/event-stream");
    assert_contains(buf, "Cache-Control: no-cache");
    assert_contains(buf, "data: {\"timestamp_ms\":");
    assert_contains(buf, ",\"gpu_id\":1,\"power_mw\":");
    /* The daemon still answers after the stream went away. */
    expect_contains("GET", "/time", 200, "timestamp_ms");
    unsetenv("ZEUS_FAKE_NVML_CONFIG");
}

/* CPU ids are the N of intel-rapl:N (spec §4.4): a node with packages 0 and 2 answers ids 0 and
 * 2 everywhere (discover, reads, streams), and 1 does not exist. */
static void test_cpu_ids_are_package_numbers(void **state)
{
    (void)state;
    char *one = zt_path(zt_dir, "rapl/sys/class/powercap/intel-rapl:1");
    zt_rmtree(one);
    free(one);
    rapl_zone("intel-rapl:2", "package-2\n", "3000000\n");
    zr_start(&daemon_, "--cpu-power-poll-hz", "50", NULL);
    expect_contains("GET", "/discover", 200,
                    "\"cpus\":[{\"id\":0,\"dram_available\":true},{\"id\":2,"
                    "\"dram_available\":false}]");
    expect("GET", "/cpu/get_cumulative_energy?cpu=true&dram=true", 200,
           "{\"0\":{\"cpu_energy_uj\":0,\"dram_energy_uj\":0},\"2\":{\"cpu_energy_uj\":0,"
           "\"dram_energy_uj\":null}}");
    expect("GET", "/cpu/get_cumulative_energy?cpu=true&dram=false&cpu_ids=2", 200,
           "{\"2\":{\"cpu_energy_uj\":0,\"dram_energy_uj\":null}}");
    expect("GET", "/cpu/get_cumulative_energy?cpu=true&dram=true&cpu_ids=1", 400,
           "{\"error\":\"CPU 1 not found\"}");
    expect_contains("GET", "/cpu/get_power?cpu_ids=2", 200,
                    "\"power_mw\":{\"2\":{\"cpu_mw\":0,\"dram_mw\":null}}");
    expect("GET", "/cpu/stream_power?cpu_ids=1,2", 400,
           "{\"error\":\"Unknown CPU indices: [1]. Available: [0, 2]\"}");
    char buf[4096];
    close(read_stream("/cpu/stream_power?cpu_ids=2", "\"cpu_mw\":", buf, sizeof buf));
    assert_contains(buf, ",\"cpu_id\":2,\"cpu_mw\":");
    /* libzeus through the daemon numbers the packages 0 and 1 and reads the right ones. */
    setenv("ZEUSD_SOCK_PATH", daemon_.sock, 1);
    setenv("ZEUS_SYSFS_ROOT", "/nonexistent-rapl", 1);
    zeus_devices *d;
    assert_int_equal(zeus_devices_open(&d), 0);
    unsetenv("ZEUSD_SOCK_PATH");
    assert_int_equal(zeus_cpu_count(d), 2);
    unsigned id;
    assert_int_equal(zeus_cpu_package_id(d, 1, &id), 0);
    assert_int_equal(id, 2);
    zeus_cpu_info info;
    assert_int_equal(zeus_cpu_get_info(d, 1, &info), 0);
    assert_false(info.has_dram);
    zeus_cpu_energy e;
    assert_int_equal(zeus_cpu_read_energy(d, 1, &e), 0);
    zeus_devices_close(d);
}

static void test_startup_socket_handling(void **state)
{
    (void)state;
    zr_start(&daemon_, NULL);
    /* A second daemon on a live socket refuses to start and leaves it alone. */
    char *out = NULL, *err = NULL;
    char *argv[] = {ZEUS_ZEUSD_PATH, "serve", "--socket-path", daemon_.sock, NULL};
    assert_int_equal(zt_run(argv, &out, &err, 10), 1);
    assert_contains(out, "in use by another process");
    free(out);
    free(err);
    expect_contains("GET", "/time", 200, "timestamp_ms");
    pid_t pid = daemon_.pid;
    /* Killed with -9, it leaves a stale socket, which the next start removes. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    daemon_.pid = 0;
    struct stat st;
    assert_int_equal(stat(daemon_.sock, &st), 0);
    pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int fd = -1;
    for (int i = 0; i < 300 && fd < 0; i++, usleep(10000))
        fd = zr_connect(daemon_.sock);
    assert_true(fd >= 0);
    close(fd);
    daemon_.pid = pid;
    assert_int_equal(zr_stop(&daemon_), 0);
    /* A regular file in the way is not removed. */
    char dir[] = "/tmp/zeusd-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *file = zt_write(dir, "zeusd.sock", "keep me");
    argv[3] = file;
    assert_int_equal(zt_run(argv, &out, &err, 10), 1);
    assert_contains(out, "occupied by a non-socket file");
    char *kept = zt_read(file);
    assert_string_equal(kept, "keep me");
    free(kept);
    free(out);
    free(err);
    free(file);
    zt_rmtree(dir);
}

static void test_help_and_bad_flags(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    char *help[] = {ZEUS_ZEUSD_PATH, "--help", NULL};
    assert_int_equal(zt_run(help, &out, &err, 10), 0);
    assert_contains(out, "--socket-permissions OCTAL");
    assert_contains(out, "--no-leases");
    free(out);
    free(err);
    char *bad[] = {ZEUS_ZEUSD_PATH, "serve", "--socket-permissions", "9z", NULL};
    assert_int_equal(zt_run(bad, &out, &err, 10), 1);
    assert_contains(out, "not an octal mode");
    free(out);
    free(err);
    char *bad_group[] = {ZEUS_ZEUSD_PATH, "serve", "--enable", "gpu-fly", NULL};
    assert_int_equal(zt_run(bad_group, &out, &err, 10), 1);
    free(out);
    free(err);
    /* Every number flag names itself when its value is not a number. */
    const char *number_flags[] = {
        "--num-workers",          "--gpu-power-poll-hz", "--cpu-power-poll-hz", "--max-connections",
        "--connection-timeout-s", "--request-timeout-s", "--socket-uid",        "--socket-gid"};
    for (size_t i = 0; i < sizeof number_flags / sizeof number_flags[0]; i++) {
        char *argv[] = {ZEUS_ZEUSD_PATH, "serve", (char *)number_flags[i], "x1", NULL};
        assert_int_equal(zt_run(argv, &out, &err, 10), 1);
        char want[96];
        snprintf(want, sizeof want, "%s: 'x1' is not a number", number_flags[i]);
        assert_contains(out, want);
        free(out);
        free(err);
    }
    char *bad_token[] = {ZEUS_ZEUSD_PATH, "token", "issue", "--bogus", NULL};
    assert_int_equal(zt_run(bad_token, &out, &err, 10), 2);
    assert_contains(err, "usage: zeusd");
    free(out);
    free(err);
}

static void test_socket_permissions(void **state)
{
    (void)state;
    zr_start(&daemon_, "--socket-permissions", "660", "--socket-gid", "65534", NULL);
    struct stat st;
    assert_int_equal(stat(daemon_.sock, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0660);
    assert_int_equal(st.st_gid, 65534);
}

static void test_python_client(void **state)
{
    (void)state;
    zr_start(&daemon_, NULL);
    char *out = NULL, *err = NULL;
    char *argv[] = {"/usr/bin/python3", ZEUS_ZEUSD_PY_CLIENT, daemon_.sock, NULL};
    int rc = zt_run(argv, &out, &err, 60);
    if (rc != 0)
        fprintf(stderr, "%s\n%s\n", out, err);
    assert_int_equal(rc, 0);
    assert_contains(out, "python client: ok");
    free(out);
    free(err);
    /* The Python process changed GPU 1's limit and persistence mode; both are put back. */
    assert_true(limit_becomes(1, 300000, 5));
    if (!zt_vendor_has_persistence())
        return; /* AMD: no persistence mode was changed */
    bool off = false;
    for (int64_t give_up = zeus_now_ns() + 3000000000LL; !off && zeus_now_ns() < give_up;
         usleep(20000)) {
        zr_reply r;
        assert_int_equal(req("GET", "/gpu/get_persistence_mode?gpu_ids=1", &r), 200);
        off = strcmp(r.body, "{\"1\":{\"enabled\":false}}") == 0;
        zr_free(&r);
    }
    assert_true(off);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* TCP with tokens, through libzeus's client (ZEUSD_HOST_PORT, ZEUSD_TOKEN): changes are
 * permanent there (no peer credentials), a missing token is reported at open. */
static void test_tcp_with_token_through_libzeus(void **state)
{
    (void)state;
    char *key = zt_write(zt_dir, "key", "k3y");
    char *token = issue(key, "gpu-control,gpu-read,cpu-read", "1h");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port());
    zr_start_tcp(&daemon_, addr, "--signing-key-path", key, NULL);
    setenv("ZEUSD_HOST_PORT", addr, 1);
    zeus_devices *d;
    /* Without the token the daemon is unusable: changes fail, reads stay local. */
    assert_int_equal(zeus_devices_open(&d), 0);
    assert_int_not_equal(zeus_gpu_set_power_limit_mw(d, 2, 150000), 0);
    unsigned mw;
    assert_int_equal(zeus_gpu_power_limit_mw(d, 2, &mw), 0);
    assert_int_equal(mw, 300000);
    zeus_devices_close(d);
    setenv("ZEUSD_TOKEN", token, 1);
    assert_int_equal(zeus_devices_open(&d), 0);
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 2, 150000), 0);
    assert_int_equal(zeus_gpu_power_limit_mw(d, 2, &mw), 0);
    assert_int_equal(mw, 150000);
    assert_int_equal(zeus_cpu_count(d), 2);
    zeus_devices_close(d);
    unsetenv("ZEUSD_HOST_PORT");
    unsetenv("ZEUSD_TOKEN");
    char *log = zr_log(&daemon_);
    assert_contains(log,
                    "set_power_limit gpu=2 power_limit_mw=150000 by tcp client [permanent]: ok");
    free(log);
    free(token);
    free(key);
}

/* A client with the daemon but without NVML of its own is told why it sees no GPU and what to
 * install (issue 24 item 5), in show-env and power-limit, and with ZEUS_DEVICE=zeusd. */
static void test_client_without_local_nvml(void **state)
{
    (void)state;
    zr_start(&daemon_, NULL);
    setenv("ZEUSD_SOCK_PATH", daemon_.sock, 1);
    setenv("ZEUS_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    setenv("ZEUS_AMDSMI_LIBRARY", "/nonexistent/libamd_smi.so", 1); /* no GPU library at all */
    setenv("ZEUS_DEVICE", "auto", 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "show-env", NULL), 0);
    assert_contains(out, "zeusd is configured to carry out changes, but reading GPUs");
    assert_contains(out, "libnvidia-ml.so.1");
    free(out);
    free(err);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "set", "200", NULL), 3);
    assert_contains(err, "zeusd is configured to carry out changes, but reading GPUs");
    /* the reason is in the message itself: power-limit prints no backend lines above it */
    assert_contains(err, "could not be loaded (nvml: NVML library "
                         "/nonexistent/libnvidia-ml.so.1");
    assert_null(strstr(err, "above"));
    free(out);
    free(err);
    setenv("ZEUS_DEVICE", "zeusd", 1);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "get", NULL), 1);
    assert_contains(err, "the zeusd backend only changes GPU settings");
    free(out);
    free(err);
    unsetenv("ZEUSD_SOCK_PATH");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allowlist_by_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_and_slow_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_num_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_ids_are_package_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_without_local_nvml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_socket_handling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_and_bad_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_side_in_libzeus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_with_token_through_libzeus, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
