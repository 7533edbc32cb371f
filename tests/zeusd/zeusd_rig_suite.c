/* The shared set-up and reply checks of the zeusd tests (zeusd_rig_suite.h). */
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

zr_daemon daemon_;

void rapl_zone(const char *rel, const char *name, const char *energy)
{
    char path[512];
    snprintf(path, sizeof path, "rapl/sys/class/powercap/%s/name", rel);
    free(zt_write(zt_dir, path, name));
    snprintf(path, sizeof path, "rapl/sys/class/powercap/%s/energy_uj", rel);
    free(zt_write(zt_dir, path, energy));
    snprintf(path, sizeof path, "rapl/sys/class/powercap/%s/max_energy_range_uj", rel);
    free(zt_write(zt_dir, path, "262143328850\n"));
}

int setup(void **state)
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
int teardown(void **state)
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

int req(const char *method, const char *target, zr_reply *r)
{
    return zr_request(daemon_.sock, method, target, NULL, r);
}

cJSON *json_of(const zr_reply *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (!j)
        fprintf(stderr, "not JSON: %s\n", r->raw);
    assert_non_null(j);
    return j;
}

/* The reply has this status and exactly this body. */
void expect(const char *method, const char *target, int status, const char *body)
{
    zr_reply r;
    int got = req(method, target, &r);
    if (got != status || strcmp(r.body, body) != 0)
        fprintf(stderr, "%s %s:\n%s\n(wanted %d %s)\n", method, target, r.raw, status, body);
    assert_int_equal(got, status);
    assert_string_equal(r.body, body);
    zr_free(&r);
}

void expect_contains(const char *method, const char *target, int status, const char *text)
{
    zr_reply r;
    int got = req(method, target, &r);
    if (got != status)
        fprintf(stderr, "%s %s:\n%s\n", method, target, r.raw);
    assert_int_equal(got, status);
    assert_contains(r.raw, text);
    zr_free(&r);
}

unsigned limit_via_daemon(unsigned gpu)
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
bool limit_becomes(unsigned gpu, unsigned want, double timeout_s)
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
int read_stream(const char *target, const char *text, char *buf, size_t size)
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

char *issue(const char *key_path, const char *scope, const char *expires)
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

/* The fake driver's state file, where it keeps locked clock ranges (NVML cannot read them). */
char *fake_state(void)
{
    char *text = zt_read(getenv("ZEUS_FAKE_NVML_STATE"));
    return text ? text : strdup("");
}

char *daemon_log(void)
{
    return zr_log(&daemon_);
}

/* Waits up to timeout_s for read()'s text (malloc'd) to contain text. */
bool text_becomes(char *(*read)(void), const char *text, double timeout_s)
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

bool state_becomes(const char *line, double timeout_s)
{
    return text_becomes(fake_state, line, timeout_s);
}

bool log_becomes(const char *text, double timeout_s)
{
    return text_becomes(daemon_log, text, timeout_s);
}
