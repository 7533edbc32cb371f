/* zeusd as a real process over the fake NVML and a fake RAPL tree: every route's shape and
 * errors (docs/spec/zeusd-api.md), groups, tokens, the allowlist, leases (a client killed with
 * -9 gets its limit put back), concurrency, slow and malformed clients, shutdown. */
#include "test_support.h"
#include "zeusd.h"
#include "zeusd_rig.h"

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

static zr_daemon daemon_;

static void rapl_zone(const char *rel, const char *name, const char *energy)
{
    char path[512];
    snprintf(path, sizeof path, "rapl/sys/class/powercap/%s/name", rel);
    free(zt_write(zt_dir, path, name));
    snprintf(path, sizeof path, "rapl/sys/class/powercap/%s/energy_uj", rel);
    free(zt_write(zt_dir, path, energy));
    snprintf(path, sizeof path, "rapl/sys/class/powercap/%s/max_energy_range_uj", rel);
    free(zt_write(zt_dir, path, "262143328850\n"));
}

static int setup(void **state)
{
    zt_setup(state);
    zt_use_fake_nvml(zt_dir, NULL);
    /* The daemon is a child process: it takes its devices from the environment (the vendor
     * matrix: the fake AMD library under --gpu-backend amdsmi's name, ZEUS_DEVICE). */
    setenv("ZEUS_DEVICE", zt_vendor_amd() ? "amdsmi" : "nvml", 1);
    setenv("ZEUS_NVML_LIBRARY", ZEUS_FAKE_NVML_PATH, 1);
    setenv("ZEUS_AMDSMI_LIBRARY", ZEUS_FAKE_AMDSMI_PATH, 1);
    setenv("ZEUS_AMDSMI_CHECK_MS", ZT_STR(ZT_AMDSMI_CHECK_MS), 1);
    rapl_zone("intel-rapl:0", "package-0\n", "1000000\n");
    rapl_zone("intel-rapl:0/intel-rapl:0:0", "dram\n", "500000\n");
    rapl_zone("intel-rapl:1", "package-1\n", "2000000\n");
    char *root = zt_path(zt_dir, "rapl");
    setenv("ZEUS_SYSFS_ROOT", root, 1);
    free(root);
    memset(&daemon_, 0, sizeof daemon_);
    return 0;
}

/* The daemon must end cleanly: exit status 0 (a sanitizer report makes it non-zero). */
static int teardown(void **state)
{
    int status = 0;
    if (daemon_.pid > 0) {
        kill(daemon_.pid, SIGTERM);
        status = zt_wait(daemon_.pid, 20);
        daemon_.pid = 0;
        if (status != 0) {
            char *log = zr_log(&daemon_);
            fprintf(stderr, "zeusd exited with %d:\n%s\n", status, log ? log : "");
            free(log);
        }
        zr_stop(&daemon_);
    }
    zt_teardown(state);
    return status == 0 ? 0 : -1;
}

static int req(const char *method, const char *target, zr_reply *r)
{
    return zr_request(daemon_.sock, method, target, NULL, r);
}

static cJSON *json_of(const zr_reply *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (!j)
        fprintf(stderr, "not JSON: %s\n", r->raw);
    assert_non_null(j);
    return j;
}

/* The reply has this status and exactly this body. */
static void expect(const char *method, const char *target, int status, const char *body)
{
    zr_reply r;
    int got = req(method, target, &r);
    if (got != status || strcmp(r.body, body) != 0)
        fprintf(stderr, "%s %s:\n%s\n(wanted %d %s)\n", method, target, r.raw, status, body);
    assert_int_equal(got, status);
    assert_string_equal(r.body, body);
    zr_free(&r);
}

static void expect_contains(const char *method, const char *target, int status, const char *text)
{
    zr_reply r;
    int got = req(method, target, &r);
    if (got != status)
        fprintf(stderr, "%s %s:\n%s\n", method, target, r.raw);
    assert_int_equal(got, status);
    assert_contains(r.raw, text);
    zr_free(&r);
}

static unsigned limit_via_daemon(unsigned gpu)
{
    char target[128];
    snprintf(target, sizeof target, "/gpu/get_power_limit?gpu_ids=%u", gpu);
    zr_reply r;
    assert_int_equal(req("GET", target, &r), 200);
    cJSON *j = json_of(&r);
    char key[16];
    snprintf(key, sizeof key, "%u", gpu);
    cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, key), "power_limit_mw");
    assert_true(cJSON_IsNumber(v));
    unsigned mw = (unsigned)v->valuedouble;
    cJSON_Delete(j);
    zr_free(&r);
    return mw;
}

/* Waits up to timeout_s for the GPU's limit to become want. */
static bool limit_becomes(unsigned gpu, unsigned want, double timeout_s)
{
    int64_t end = zeus_now_ns() + (int64_t)(timeout_s * 1e9);
    do {
        if (limit_via_daemon(gpu) == want)
            return true;
        usleep(20000);
    } while (zeus_now_ns() < end);
    return false;
}

/* Opens a stream (GET target) and reads it into buf until text arrives (5 s at most). Returns
 * the connection, still open. */
static int read_stream(const char *target, const char *text, char *buf, size_t size)
{
    int fd = zr_connect(daemon_.sock);
    char q[256];
    int len = snprintf(q, sizeof q, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
    assert_int_equal(send(fd, q, (size_t)len, 0), len);
    size_t used = 0;
    buf[0] = '\0';
    int64_t end = zeus_now_ns() + 5000000000LL;
    while (!strstr(buf, text) && zeus_now_ns() < end && used < size - 1) {
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
    }
    return fd;
}

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

static char *issue(const char *key_path, const char *scope, const char *expires)
{
    char *out = NULL, *err = NULL;
    char *argv[] = {ZEUS_ZEUSD_PATH,  "token",     "issue",         "--signing-key-path",
                    (char *)key_path, "--user",    "alice",         "--scope",
                    (char *)scope,    "--expires", (char *)expires, NULL};
    assert_int_equal(zt_run(argv, &out, &err, 10), 0);
    free(err);
    out[strcspn(out, "\n")] = '\0';
    return out;
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

/* The fake driver's state file, where it keeps locked clock ranges (NVML cannot read them). */
static char *fake_state(void)
{
    char *text = zt_read(getenv("ZEUS_FAKE_NVML_STATE"));
    return text ? text : strdup("");
}

static char *daemon_log(void)
{
    return zr_log(&daemon_);
}

/* Waits up to timeout_s for read()'s text (malloc'd) to contain text. */
static bool text_becomes(char *(*read)(void), const char *text, double timeout_s)
{
    int64_t end = zeus_now_ns() + (int64_t)(timeout_s * 1e9);
    do {
        char *now = read();
        bool found = now && strstr(now, text) != NULL;
        free(now);
        if (found)
            return true;
        usleep(20000);
    } while (zeus_now_ns() < end);
    return false;
}

static bool state_becomes(const char *line, double timeout_s)
{
    return text_becomes(fake_state, line, timeout_s);
}

static bool log_becomes(const char *text, double timeout_s)
{
    return text_becomes(daemon_log, text, timeout_s);
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
    assert_contains(err, "Usage");
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
        cmocka_unit_test_setup_teardown(test_discover_time_and_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_kill9_and_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_leases_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unprivileged_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowlist_by_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_and_slow_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_num_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_ids_are_package_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_without_local_nvml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_clocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_socket_handling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_and_bad_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_side_in_libzeus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_with_token_through_libzeus, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
