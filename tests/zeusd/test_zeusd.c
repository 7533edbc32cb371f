/* zeusd as a real process over the fake NVML and a fake RAPL tree, the API itself: every route's
 * shape and errors (docs/spec/zeusd-api.md), groups, tokens, leases (a client killed with -9 gets
 * its limit put back), locked clocks, the unprivileged client. Clients, connections and start-up:
 * test_zeusd_clients.c. */
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

static void test_discover_time_and_reads(void **state)
{
    (void)state;
    zr_start(&daemon_, NULL);
    zr_reply r;
    assert_int_equal(req("GET", "/discover", &r), 200);
    assert_contains(r.raw, "Content-Type: application/json");
    assert_string_equal(
        r.body,
        "{\"gpus\":[{\"id\":0,\"name\":\"NVIDIA A40\",\"pci_address\":\"0000:01:00.0\","
        "\"cumulative_energy_available\":true},{\"id\":1,\"name\":\"NVIDIA A40\","
        "\"pci_address\":\"0000:02:00.0\",\"cumulative_energy_available\":true},{\"id\":2,"
        "\"name\":\"NVIDIA A40\",\"pci_address\":\"0000:03:00.0\","
        "\"cumulative_energy_available\":true},{\"id\":3,\"name\":\"NVIDIA A40\","
        "\"pci_address\":\"0000:04:00.0\",\"cumulative_energy_available\":true}],\"cpus\":[{\"id\":"
        "0,\"dram_available\":"
        "true},{\"id\":1,\"dram_available\":false}],\"enabled_api_groups\":[\"gpu-control\","
        "\"gpu-read\",\"cpu-read\"],\"auth_required\":false}");
    zr_free(&r);

    assert_int_equal(req("GET", "/time", &r), 200);
    cJSON *j = json_of(&r);
    double ms = cJSON_GetObjectItem(j, "timestamp_ms")->valuedouble;
    assert_true(ms > 1.7e12 && ms - zeus_wall_s() * 1000 < 5000);
    cJSON_Delete(j);
    zr_free(&r);

    expect("GET", "/auth/whoami", 404,
           "{\"error\":\"Authentication is not enabled on this server.\"}");
    expect("GET", "/gpu/get_power_limit?gpu_ids=1,0", 200,
           "{\"0\":{\"power_limit_mw\":300000},\"1\":{\"power_limit_mw\":300000}}");
    expect("GET", "/gpu/get_power_limit_constraints?gpu_ids=2", 200,
           "{\"2\":{\"min_power_limit_mw\":100000,\"max_power_limit_mw\":300000}}");
    if (zt_vendor_has_persistence())
        expect("GET", "/gpu/get_persistence_mode?gpu_ids=3", 200, "{\"3\":{\"enabled\":false}}");
    else /* AMD, as the newer daemon's AMD backend */
        expect_contains("GET", "/gpu/get_persistence_mode?gpu_ids=3", 400,
                        "persistence mode is not supported on AMD GPUs");
    expect_contains("GET", "/gpu/get_cumulative_energy?gpu_ids=0", 200, "{\"0\":{\"energy_mj\":");
    expect_contains("GET", "/gpu/get_power", 200, "\"power_mw\":{\"0\":");
    expect("GET", "/gpu/get_power?gpu_ids=9", 400, "{\"error\":\"GPU 9 not found\"}");
    expect("GET", "/gpu/get_power?gpu_ids=", 400,
           "{\"error\":\"gpu_ids must contain at least one GPU index\"}");
    expect("GET", "/gpu/get_power?gpu_ids=0,,1", 400,
           "{\"error\":\"gpu_ids contains an empty GPU index\"}");
    expect("GET", "/gpu/get_power?gpu_ids=0,x", 400, "{\"error\":\"Invalid GPU index: x\"}");
    expect_contains("GET", "/gpu/get_power?foo=1", 400, "unknown field `foo`");

    expect("GET", "/cpu/get_cumulative_energy?cpu=true&dram=true", 200,
           "{\"0\":{\"cpu_energy_uj\":0,\"dram_energy_uj\":0},\"1\":{\"cpu_energy_uj\":0,"
           "\"dram_energy_uj\":null}}");
    expect("GET", "/cpu/get_cumulative_energy?cpu=false&dram=false&cpu_ids=0", 200,
           "{\"0\":{\"cpu_energy_uj\":null,\"dram_energy_uj\":null}}");
    expect_contains("GET", "/cpu/get_cumulative_energy?cpu=true", 400, "missing field `dram`");
    expect_contains("GET", "/cpu/get_cumulative_energy?cpu=yes&dram=true", 400,
                    "provided string was not `true` or `false`");
    expect("GET", "/cpu/get_cumulative_energy?cpu=true&dram=true&cpu_ids=2", 400,
           "{\"error\":\"CPU 2 not found\"}");
    expect_contains("GET", "/cpu/get_power?cpu_ids=1", 200,
                    "\"power_mw\":{\"1\":{\"cpu_mw\":0,\"dram_mw\":null}}");
    expect("GET", "/nowhere", 404, "");
    expect("POST", "/gpu/get_power", 405, "");
    expect("GET", "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=1&block=true", 405, "");
}

static void test_write_validation(void **state)
{
    (void)state;
    zr_start(&daemon_, NULL);
    const char *pl = "/gpu/set_power_limit";
    char t[256];
    snprintf(t, sizeof t, "%s?gpu_ids=7&power_limit_mw=200000&block=true", pl);
    expect("POST", t, 400, "GPU index 7 does not exist.");
    expect_contains("POST", t, 400, "Content-Type: text/plain");
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=true", pl);
    expect_contains("POST", t, 400, "Query deserialize error: missing field `power_limit_mw`");
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=true&power_limit_mw=12x", pl);
    expect_contains("POST", t, 400, "Query deserialize error: invalid digit");
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=true&power_limit_mw=99999999999", pl);
    expect_contains("POST", t, 400, "Query deserialize error:");
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=maybe&power_limit_mw=1", pl);
    expect_contains("POST", t, 400, "provided string was not `true` or `false`");
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=true&block=true&power_limit_mw=1", pl);
    expect_contains("POST", t, 400, "duplicate field `block`");
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=true&power_limit_mw=150000&bogus=1", pl);
    expect_contains("POST", t, 400, "unknown field `bogus`");
    snprintf(t, sizeof t, "%s?gpu_ids=%%20&block=true&power_limit_mw=150000", pl);
    expect("POST", t, 400, "{\"error\":\"gpu_ids must contain at least one GPU index\"}");
    /* Outside the GPU's range: refused by us before the driver, with the driver's status. */
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=true&power_limit_mw=50000", pl);
    expect_contains("POST", t, 400, "{\"errors\":{\"0\":\"Invalid request:");
    /* block=false answers 200 whatever happens (the original queues it). */
    snprintf(t, sizeof t, "%s?gpu_ids=0&block=false&power_limit_mw=50000", pl);
    expect("POST", t, 200, "");
    assert_int_equal(limit_via_daemon(0), 300000);
    /* block=false is carried out after the reply, in order with later changes of that GPU. */
    expect("POST", "/gpu/set_power_limit?gpu_ids=3&block=false&power_limit_mw=140000&persist=true",
           200, "");
    assert_true(limit_becomes(3, 140000, 5));
    expect("POST", "/gpu/set_power_limit?gpu_ids=3&block=false&power_limit_mw=120000&persist=true",
           200, "");
    expect("POST", "/gpu/set_power_limit?gpu_ids=3&block=true&power_limit_mw=130000&persist=true",
           200, "");
    assert_int_equal(limit_via_daemon(3), 130000);
    /* Permanent changes (persist=true) stay after the client (this process's request) ends. */
    snprintf(t, sizeof t, "%s?gpu_ids=0,1&block=true&power_limit_mw=150000&persist=true", pl);
    expect("POST", t, 200, "");
    assert_int_equal(limit_via_daemon(0), 150000);
    assert_int_equal(limit_via_daemon(1), 150000);
    if (zt_vendor_has_persistence()) {
        expect("POST", "/gpu/set_persistence_mode?gpu_ids=2&enabled=true&block=true&persist=true",
               200, "");
        expect("GET", "/gpu/get_persistence_mode?gpu_ids=2", 200, "{\"2\":{\"enabled\":true}}");
    } else {
        expect_contains("POST",
                        "/gpu/set_persistence_mode?gpu_ids=2&enabled=true&block=true&persist=true",
                        400, "persistence mode is not supported on AMD GPUs");
    }
    /* Every change is logged with who made it. */
    char *log = zr_log(&daemon_);
    assert_contains(log, "set_power_limit gpu=1 power_limit_mw=150000 by root (uid 0, pid ");
    assert_contains(log, "[permanent]: ok");
    free(log);
}

static void test_disabled_group(void **state)
{
    (void)state;
    zr_start(&daemon_, "--enable", "gpu-read", NULL);
    expect("POST", "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=150000&block=true", 404,
           "{\"error\":\"API group 'gpu-control' is not enabled on this server.\"}");
    expect("POST", "/gpu/set_foo", 404,
           "{\"error\":\"API group 'gpu-control' is not enabled on this server.\"}");
    expect("GET", "/cpu/get_power", 404,
           "{\"error\":\"API group 'cpu-read' is not enabled on this server.\"}");
    expect_contains("GET", "/discover", 200,
                    "\"cpus\":[],\"enabled_api_groups\":[\"gpu-read\"],\"auth_required\":false}");
}

static void test_tokens(void **state)
{
    (void)state;
    char *key = zt_write(zt_dir, "key", "secret\n");
    char *read_token = issue(key, "gpu-read", "1h");
    char *never = issue(key, "gpu-read,gpu-control", "never");
    zr_start(&daemon_, "--signing-key-path", key, NULL);
    char hdr[2048];
    zr_reply r;
    /* /discover and /time need no token. */
    expect_contains("GET", "/discover", 200, "\"auth_required\":true}");
    expect_contains("GET", "/time", 200, "timestamp_ms");
    assert_int_equal(req("GET", "/gpu/get_power", &r), 401);
    assert_contains(r.raw, "WWW-Authenticate: Bearer realm=\"zeusd\"");
    assert_string_equal(r.body, "{\"error\":\"Authentication required. Provide an "
                                "Authorization: Bearer <token> header.\"}");
    zr_free(&r);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", read_token);
    assert_int_equal(zr_request(daemon_.sock, "GET", "/auth/whoami", hdr, &r), 200);
    assert_contains(r.body, "{\"sub\":\"alice\",\"scopes\":[\"gpu-read\"],\"exp\":");
    zr_free(&r);
    assert_int_equal(zr_request(daemon_.sock, "GET", "/gpu/get_power", hdr, &r), 200);
    zr_free(&r);
    assert_int_equal(zr_request(daemon_.sock, "POST",
                                "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=150000&block=true",
                                hdr, &r),
                     403);
    assert_string_equal(r.body, "{\"error\":\"Token for user 'alice' lacks required scope "
                                "'gpu-control'. Token scopes: ['gpu-read']\"}");
    zr_free(&r);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", never);
    assert_int_equal(zr_request(daemon_.sock, "GET", "/auth/whoami", hdr, &r), 200);
    assert_string_equal(r.body, "{\"sub\":\"alice\",\"scopes\":[\"gpu-read\",\"gpu-control\"]}");
    zr_free(&r);
    assert_int_equal(zr_request(daemon_.sock, "POST",
                                "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=150000&block=true",
                                hdr, &r),
                     200);
    zr_free(&r);
    /* A token made by an independent HS256 implementation (Python's hmac) is accepted. */
    char *py_out = NULL, *py_err = NULL;
    char *py[] = {"/usr/bin/python3", "-c",
                  "import base64,hmac,hashlib,json,sys,time\n"
                  "b=lambda x: base64.urlsafe_b64encode(x).rstrip(b'=')\n"
                  "h=b(json.dumps({'alg':'HS256','typ':'JWT'}).encode())\n"
                  "c=b(json.dumps({'sub':'bob','scopes':['gpu-read'],"
                  "'exp':int(time.time())+600}).encode())\n"
                  "m=h+b'.'+c\n"
                  "k=open(sys.argv[1],'rb').read()\n"
                  "print((m+b'.'+b(hmac.new(k,m,hashlib.sha256).digest())).decode())",
                  key, NULL};
    assert_int_equal(zt_run(py, &py_out, &py_err, 20), 0);
    py_out[strcspn(py_out, "\n")] = '\0';
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", py_out);
    assert_int_equal(zr_request(daemon_.sock, "GET", "/auth/whoami", hdr, &r), 200);
    assert_contains(r.body, "{\"sub\":\"bob\",\"scopes\":[\"gpu-read\"],\"exp\":");
    zr_free(&r);
    free(py_out);
    free(py_err);
    /* A token signed with another key, a mangled one, an expired one, a non-Bearer header. */
    const unsigned char other[] = "other\n";
    zd_group g = ZD_GROUP_GPU_READ;
    char *forged = zd_token_issue(other, sizeof other - 1, "mallory", &g, 1, false, 0);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", forged);
    assert_int_equal(zr_request(daemon_.sock, "GET", "/gpu/get_power", hdr, &r), 401);
    assert_string_equal(r.body, "{\"error\":\"Invalid token: InvalidSignature\"}");
    assert_contains(r.raw, "WWW-Authenticate");
    zr_free(&r);
    assert_int_equal(
        zr_request(daemon_.sock, "GET", "/gpu/get_power", "Authorization: Bearer a.b\r\n", &r),
        401);
    assert_contains(r.body, "Invalid token:");
    zr_free(&r);
    assert_int_equal(
        zr_request(daemon_.sock, "GET", "/gpu/get_power", "Authorization: bearer x\r\n", &r), 401);
    zr_free(&r);
    const unsigned char secret[] = "secret\n";
    char *expired =
        zd_token_issue(secret, sizeof secret - 1, "alice", &g, 1, true, (int64_t)time(NULL) - 3600);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", expired);
    assert_int_equal(zr_request(daemon_.sock, "GET", "/gpu/get_power", hdr, &r), 401);
    assert_string_equal(r.body, "{\"error\":\"Token has expired.\"}");
    zr_free(&r);
    char *log = zr_log(&daemon_);
    assert_contains(log, "refused GET /gpu/get_power: Token has expired.");
    assert_contains(log, "refused POST /gpu/set_power_limit: Token for user 'alice' lacks");
    free(log);
    free(forged);
    free(expired);
    free(read_token);
    free(never);
    free(key);
}

/* A child process that sends POST target to the daemon, reports the status on a pipe and waits
 * to be killed. Returns its pid. */
static pid_t holder_post(const char *t, int *status_out)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        zr_reply r;
        int status = zr_request(daemon_.sock, "POST", t, NULL, &r);
        if (write(p[1], &status, sizeof status) != sizeof status)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], status_out, sizeof *status_out), (ssize_t)sizeof *status_out);
    close(p[0]);
    return pid;
}

/* holder_post setting GPU gpu's power limit. */
static pid_t holder(unsigned gpu, unsigned limit, int *status_out)
{
    char t[160];
    snprintf(t, sizeof t, "/gpu/set_power_limit?gpu_ids=%u&power_limit_mw=%u&block=true", gpu,
             limit);
    return holder_post(t, status_out);
}

/* The locked-clock routes through the per-GPU workers: validated, leased like power limits (a
 * client killed with -9 gets its clocks reset), persist=true kept, reset_locked_clocks resets
 * both domains and reports the first error. GPU 1 is a V100: no memory clocks, and its GPU
 * clock reset is made to fail. */
static void test_locked_clocks(void **state)
{
    (void)state;
    setenv("ZEUS_FAKE_NVML_CONFIG",
           "{\"gpus\": [{\"name\": \"NVIDIA A40\"}, {\"name\": \"NVIDIA V100\", \"architecture\": "
           "\"volta\", \"errors\": {\"nvmlDeviceResetGpuLockedClocks\": {\"code\": "
           "\"GPU_IS_LOST\", \"after\": 0}}}, {\"name\": \"NVIDIA A40\"}]}",
           1);
    zr_start(&daemon_, NULL);
    const char *set = "/gpu/set_gpu_locked_clocks";
    char t[256];
    snprintf(t, sizeof t,
             "%s?gpu_ids=0,2&min_clock_mhz=900&max_clock_mhz=1500&block=true"
             "&persist=true",
             set);
    expect("POST", t, 200, "");
    assert_true(state_becomes("gpu 2 limit_mw 300000 persistence 0 gpu_clocks_mhz 900 1500\n", 1));
    expect("POST",
           "/gpu/set_mem_locked_clocks?gpu_ids=0&min_clock_mhz=810&max_clock_mhz=810&block=true"
           "&persist=true",
           200, "");
    char *text = fake_state();
    assert_contains(text, "gpu 0 limit_mw 300000 persistence 0 gpu_clocks_mhz 900 1500 "
                          "mem_clocks_mhz 810 810\n");
    free(text);
    /* Validation: min above max, malformed and missing numbers, unknown GPUs. */
    snprintf(t, sizeof t, "%s?gpu_ids=0&min_clock_mhz=1500&max_clock_mhz=900&block=true", set);
    expect_contains("POST", t, 400,
                    "{\"errors\":{\"0\":\"Invalid request: locked GPU clocks "
                    "for GPU 0: the minimum 1500 MHz is above the maximum 900 MHz");
    snprintf(t, sizeof t, "%s?gpu_ids=0&min_clock_mhz=x&max_clock_mhz=900&block=true", set);
    expect_contains("POST", t, 400, "Query deserialize error: invalid digit");
    snprintf(t, sizeof t, "%s?gpu_ids=0&min_clock_mhz=4294967296&max_clock_mhz=1&block=true", set);
    expect_contains("POST", t, 400, "Query deserialize error:");
    snprintf(t, sizeof t, "%s?gpu_ids=0&min_clock_mhz=900&block=true", set);
    expect_contains("POST", t, 400, "missing field `max_clock_mhz`");
    snprintf(t, sizeof t, "%s?gpu_ids=5&min_clock_mhz=900&max_clock_mhz=900&block=true", set);
    expect("POST", t, 400, "GPU index 5 does not exist.");
    expect_contains("POST", "/gpu/reset_locked_clocks?gpu_ids=0&block=true&min_clock_mhz=1", 400,
                    "unknown field `min_clock_mhz`");
    if (zt_vendor_amd()) {
        /* AMD: no V100 restriction; the reset is the performance level "auto", which fails. */
        expect(
            "POST",
            "/gpu/set_mem_locked_clocks?gpu_ids=1&min_clock_mhz=810&max_clock_mhz=810&block=true",
            200, "");
        expect_contains("POST", "/gpu/reset_locked_clocks?gpu_ids=1&block=true&persist=true", 500,
                        "{\"errors\":{\"1\":\"IOError: amdsmi_set_gpu_perf_level(AMD GPU 1)");
    } else {
        /* A V100 has no memory clock locking: NVML's Not Supported. */
        expect(
            "POST",
            "/gpu/set_mem_locked_clocks?gpu_ids=1&min_clock_mhz=810&max_clock_mhz=810&block=true",
            400, "{\"errors\":{\"1\":\"NVML error: Not Supported\"}}");
        /* Both domains reset; the GPU domain's failure is the one reported. */
        expect_contains("POST", "/gpu/reset_locked_clocks?gpu_ids=1&block=true&persist=true", 500,
                        "{\"errors\":{\"1\":\"IOError: nvmlDeviceResetGpuLockedClocks(NVML GPU 1)");
    }
    expect("POST", "/gpu/reset_locked_clocks?gpu_ids=0&block=true&persist=true", 200, "");
    text = fake_state();
    assert_contains(text, "gpu 0 limit_mw 300000 persistence 0\n");
    free(text);
    expect("POST", "/gpu/reset_gpu_locked_clocks?gpu_ids=2&block=true&persist=true", 200, "");
    assert_true(state_becomes("gpu 2 limit_mw 300000 persistence 0\n", 1));

    /* Leased: a client locks GPU 2's clocks, another is refused, kill -9 resets them. */
    int status;
    snprintf(t, sizeof t, "%s?gpu_ids=2&min_clock_mhz=600&max_clock_mhz=1200&block=true", set);
    pid_t a = holder_post(t, &status);
    assert_int_equal(status, 200);
    assert_true(state_becomes("gpu 2 limit_mw 300000 persistence 0 gpu_clocks_mhz 600 1200\n", 1));
    zr_reply r;
    assert_int_equal(req("POST", "/gpu/reset_gpu_locked_clocks?gpu_ids=2&block=true", &r), 409);
    assert_contains(r.body, "is leased by process");
    zr_free(&r);
    pid_t b = holder_post("/gpu/set_mem_locked_clocks?gpu_ids=0&min_clock_mhz=405&max_clock_mhz="
                          "810&block=false",
                          &status);
    assert_int_equal(status, 200);
    assert_true(state_becomes("gpu 0 limit_mw 300000 persistence 0 mem_clocks_mhz 405 810\n", 5));
    kill(a, SIGKILL);
    kill(b, SIGKILL);
    waitpid(a, NULL, 0);
    waitpid(b, NULL, 0);
    assert_true(state_becomes("gpu 2 limit_mw 300000 persistence 0\n", 5));
    assert_true(state_becomes("gpu 0 limit_mw 300000 persistence 0\n", 5));
    /* Every change is logged with who made it and its values. */
    char *log = zr_log(&daemon_);
    assert_contains(log, "set_gpu_locked_clocks gpu=2 min_clock_mhz=600 max_clock_mhz=1200 by root "
                         "(uid 0, pid ");
    assert_contains(log, "reset_locked_clocks gpu=0 by root");
    /* A refused lock changed nothing: nothing to unlock when its lease ends. */
    assert_null(strstr(log, "cannot unlock GPU 1's memory clocks"));
    free(log);
    unsetenv("ZEUS_FAKE_NVML_CONFIG");
}

static void test_lease_kill9_and_conflict(void **state)
{
    (void)state;
    zr_start(&daemon_, NULL);
    int status;
    pid_t a = holder(0, 150000, &status);
    assert_int_equal(status, 200);
    assert_int_equal(limit_via_daemon(0), 150000);
    /* Another client may not change a GPU someone holds (409), but may change others. */
    zr_reply r;
    assert_int_equal(
        req("POST", "/gpu/set_power_limit?gpu_ids=0&power_limit_mw=120000&block=true", &r), 409);
    char want[96];
    snprintf(want, sizeof want, "GPU 0 is leased by process %ld", (long)a);
    assert_contains(r.body, want);
    zr_free(&r);
    pid_t b = holder(1, 200000, &status);
    assert_int_equal(status, 200);
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    assert_true(limit_becomes(0, 300000, 5));
    assert_int_equal(limit_via_daemon(1), 200000);
    /* The daemon lets go of GPU 0's lock soon, without waiting for another change. */
    zeus_devices *d0;
    assert_int_equal(zeus_devices_open(&d0), 0);
    unsigned gpu0 = 0;
    zeus_lease *mine = NULL;
    int64_t give_up = zeus_now_ns() + 3000000000LL;
    while (!mine && zeus_now_ns() < give_up)
        if (zeus_lease_create(d0, &gpu0, 1, ZEUS_LEASE_NO_WAIT, &mine) != 0)
            usleep(20000);
    assert_non_null(mine);
    zeus_lease_release(mine);
    zeus_devices_close(d0);
    /* Once the holder is gone the GPU is free again. */
    pid_t c = holder(0, 110000, &status);
    assert_int_equal(status, 200);
    kill(b, SIGKILL);
    waitpid(b, NULL, 0);
    assert_true(limit_becomes(1, 300000, 5));
    /* Shutdown puts back what live clients changed, and removes the socket. */
    assert_int_equal(limit_via_daemon(0), 110000);
    assert_int_equal(zr_stop(&daemon_), 0);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    zeus_devices *d;
    assert_int_equal(zeus_devices_open(&d), 0);
    unsigned mw;
    assert_int_equal(zeus_gpu_power_limit_mw(d, 0, &mw), 0);
    assert_int_equal(mw, 300000);
    zeus_devices_close(d);
}

static void test_no_leases_flag(void **state)
{
    (void)state;
    zr_start(&daemon_, "--no-leases", NULL);
    int status;
    pid_t a = holder(2, 140000, &status);
    assert_int_equal(status, 200);
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    usleep(300000);
    assert_int_equal(limit_via_daemon(2), 140000);
}

/* nobody cannot set a limit itself (the fake driver wants root, as the real one) but can
 * through the daemon; an allowlist that does not name it refuses it. */
static void test_unprivileged_client(void **state)
{
    (void)state;
    setenv("ZEUS_FAKE_NVML_ROOT_ONLY", "1", 1);
    zr_start(&daemon_, NULL);
    zeus_devices *d;
    assert_int_equal(zeus_devices_open(&d), 0);
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(10);
            if (zeus_gpu_set_power_limit_mw(d, 3, 120000) != ZEUS_EPERM)
                _exit(11);
            zr_reply r;
            int st = zr_request(daemon_.sock, "POST",
                                "/gpu/set_power_limit?gpu_ids=3&power_limit_mw=120000&block=true"
                                "&persist=true",
                                NULL, &r);
            if (round == 0 && st != 200)
                _exit(12);
            if (round == 1 && (st != 403 || !strstr(r.body, "(uid 65534) is not allowed")))
                _exit(13);
            _exit(0);
        }
        assert_int_equal(zt_wait(pid, 20), 0);
        if (round == 0) {
            assert_int_equal(limit_via_daemon(3), 120000);
            char *log = zr_log(&daemon_);
            assert_contains(log, "set_power_limit gpu=3 power_limit_mw=120000 by nobody (uid "
                                 "65534, pid ");
            free(log);
            zr_stop(&daemon_);
            zr_start(&daemon_, "--allow", "gpu-control=uid:12345,group:root", NULL);
        }
    }
    /* Root (this process) stays allowed. */
    expect("POST", "/gpu/set_power_limit?gpu_ids=3&power_limit_mw=130000&block=true&persist=true",
           200, "");
    zeus_devices_close(d);
    unsetenv("ZEUS_FAKE_NVML_ROOT_ONLY");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_discover_time_and_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_kill9_and_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_leases_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unprivileged_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_clocks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
