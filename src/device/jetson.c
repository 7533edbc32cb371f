/* The jetson backends: an NVIDIA Jetson's INA3221 power rails under sysfs, as the newer Zeus
 * reads them (docs/spec devices-carbon 2.1). "jetson" (GPU kind) shows the SoC's GPU as one GPU;
 * "jetson-cpu" (CPU kind) shows its CPU rail as one CPU package. Neither has power-limit control.
 *
 * Detection: <root>/etc/nv_tegra_release or <root>/usr/lib/aarch64-linux-gnu/tegra, and (on the
 * real filesystem, no sysfs_root) an aarch64 machine. Rails: the first existing of
 * <root>/sys/bus/i2c/drivers/ina3221x and .../ina3221; in every <driver>/<device>/<subdevice>
 * and its hwmon* children, "in<N>_label" (hwmon) or "rail_name_<N>" (legacy iio) name a rail;
 * a name with "cpu" is the CPU rail, else one with "gpu" the GPU rail, else one with "system",
 * "_in" or "total" the total; a later match replaces an earlier one (sorted order, as glob).
 * A rail's power: power<N>_input / in_power<N>_input taken as mW, else voltage (mV) x current
 * (mA) / 1000.
 *
 * Update model: one thread per open backend reads every rail each 100 ms and adds power x dt
 * (rectangle rule) to cumulative mJ counters, like the original's sampling process; energy
 * reads return those counters. The counters stop in a forked child (the thread is not there). */
#include "core/internal.h"
#include "device/backend.h"
#include "zeus/soc.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define JETSON_PERIOD_NS (100 * 1000000LL)

enum { RAIL_CPU, RAIL_GPU, RAIL_TOTAL, RAIL_COUNT };
static const char *const rail_names[RAIL_COUNT] = {"CPU", "GPU", "total"};

typedef struct {
    bool present;
    char name[64];
    char power[512]; /* power file (mW); empty: voltage x current */
    char voltage[512], current[512];
} jetson_rail;

typedef struct {
    jetson_rail rails[RAIL_COUNT];
    char model[ZEUS_GPU_NAME_LEN];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool thread_started;
    pthread_t thread;
    pid_t owner; /* the process that started the thread (a forked child has no thread) */
    int64_t last_ns;
    double energy_mj[RAIL_COUNT];
    unsigned power_mw[RAIL_COUNT];
    unsigned peak_mw[RAIL_COUNT]; /* the highest reading since open */
    int read_error;               /* last rail read error (ZEUS_E*), 0 if fine */
} jetson_state;

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A small text file's content (cut to size), through the library's file reader. */
static int read_text(const char *path, char *buf, size_t size)
{
    char *data = NULL;
    size_t n = 0;
    int rc = zeus__read_file(path, &data, &n);
    if (rc == ZEUS_OK)
        snprintf(buf, size, "%.*s", (int)n, data);
    free(data);
    return rc;
}

static int read_number(const char *path, double *out)
{
    char buf[64];
    int rc = read_text(path, buf, sizeof buf);
    if (rc != ZEUS_OK)
        return rc;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    while (*end == '\n' || *end == ' ')
        end++;
    if (end == buf || *end || errno)
        return zeus__error(ZEUS_EDEVICE, "%s: '%s' is not a number", path, buf);
    *out = v;
    return ZEUS_OK;
}

/* A rail's power in mW. */
static int rail_power_mw(const jetson_rail *r, double *mw)
{
    if (r->power[0])
        return read_number(r->power, mw);
    double mv, ma;
    int rc = read_number(r->voltage, &mv);
    if (rc == ZEUS_OK && (rc = read_number(r->current, &ma)) == ZEUS_OK)
        *mw = mv * ma / 1000.0;
    return rc;
}

static int classify(const char *name)
{
    char lower[64];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    lower[i] = '\0';
    if (strstr(lower, "cpu"))
        return RAIL_CPU;
    if (strstr(lower, "gpu"))
        return RAIL_GPU;
    if (strstr(lower, "system") || strstr(lower, "_in") || strstr(lower, "total"))
        return RAIL_TOTAL;
    return -1;
}

/* Looks at one directory's rail label files (both naming styles). */
static void scan_dir(jetson_state *s, const char *dir)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *f = list[i]->d_name;
        char label[600], num[32] = "", name[64];
        bool hwmon = false;
        size_t len = strlen(f);
        if (strncmp(f, "rail_name_", 10) == 0) {
            zeus__strlcpy(num, f + 10, sizeof num);
        } else if (len > 6 && strcmp(f + len - 6, "_label") == 0 && f[0] == 'i') {
            /* "in<N>_label": the text before '_' without its leading i/n characters */
            size_t k = strspn(f, "in");
            snprintf(num, sizeof num, "%.*s", (int)(strcspn(f, "_") - k), f + k);
            hwmon = true;
        }
        if (!num[0])
            continue;
        snprintf(label, sizeof label, "%s/%s", dir, f);
        if (read_text(label, name, sizeof name) != ZEUS_OK)
            continue;
        name[strcspn(name, "\n")] = '\0';
        int kind = classify(name);
        if (kind < 0)
            continue;
        jetson_rail r = {.present = true};
        zeus__strlcpy(r.name, name, sizeof r.name);
        char power[512];
        snprintf(power, sizeof power, hwmon ? "%s/power%s_input" : "%s/in_power%s_input", dir, num);
        if (exists(power)) {
            zeus__strlcpy(r.power, power, sizeof r.power);
        } else {
            snprintf(r.voltage, sizeof r.voltage, hwmon ? "%s/in%s_input" : "%s/in_voltage%s_input",
                     dir, num);
            snprintf(r.current, sizeof r.current,
                     hwmon ? "%s/curr%s_input" : "%s/in_current%s_input", dir, num);
            if (!exists(r.voltage) || !exists(r.current))
                continue; /* neither: this metric is unavailable */
        }
        s->rails[kind] = r;
    }
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Calls scan_dir on every <driver>/<device>/<subdevice> and its hwmon* children. */
static void discover(jetson_state *s, const char *driver)
{
    struct dirent **devs = NULL;
    int nd = scandir(driver, &devs, NULL, alphasort);
    for (int i = 0; i < nd; i++) {
        char dev[600];
        snprintf(dev, sizeof dev, "%s/%s", driver, devs[i]->d_name);
        struct dirent **subs = NULL;
        int ns = devs[i]->d_name[0] == '.' ? 0 : scandir(dev, &subs, NULL, alphasort);
        for (int j = 0; j < ns; j++) {
            char sub[900];
            snprintf(sub, sizeof sub, "%s/%s", dev, subs[j]->d_name);
            struct stat st;
            if (subs[j]->d_name[0] != '.' && stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
                scan_dir(s, sub);
                struct dirent **hw = NULL;
                int nh = scandir(sub, &hw, NULL, alphasort);
                for (int k = 0; k < nh; k++) {
                    if (strncmp(hw[k]->d_name, "hwmon", 5) == 0) {
                        char h[1200];
                        snprintf(h, sizeof h, "%s/%s", sub, hw[k]->d_name);
                        scan_dir(s, h);
                    }
                    free(hw[k]);
                }
                free(hw);
            }
            free(subs[j]);
        }
        free(subs);
        free(devs[i]);
    }
    free(devs);
}

/* One sampling step: reads every rail, adds power x dt. Holds the lock. */
static void sample_locked(jetson_state *s, int64_t now)
{
    double dt = (now - s->last_ns) / 1e9;
    s->last_ns = now;
    for (int k = 0; k < RAIL_COUNT; k++) {
        double mw;
        if (!s->rails[k].present)
            continue;
        int rc = rail_power_mw(&s->rails[k], &mw);
        if (rc != ZEUS_OK) {
            s->read_error = rc;
            continue;
        }
        s->power_mw[k] = mw > 0 ? (unsigned)mw : 0;
        if (s->power_mw[k] > s->peak_mw[k])
            s->peak_mw[k] = s->power_mw[k];
        s->energy_mj[k] += mw * dt;
    }
}

static void *sampler_main(void *arg)
{
    jetson_state *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += JETSON_PERIOD_NS;
        until.tv_sec += until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->lock);
        zeus__no_fork_begin();
        pthread_mutex_lock(&s->lock);
        sample_locked(s, zeus_now_ns());
        pthread_mutex_unlock(&s->lock);
        zeus__no_fork_end();
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void jetson_close(void *state)
{
    jetson_state *s = state;
    if (!s)
        return;
    /* In a forked child the thread is not there and the condition variable still counts the
     * parent's waiter (destroying it would wait forever): leave both alone. */
    if (!s->thread_started || s->owner == getpid())
        zeus__thread_finish(&s->lock, &s->wake, &s->stop, s->thread_started, s->thread);
    free(s);
}

/* Opens the rails; needs the rail `need` (RAIL_GPU or RAIL_CPU). */
static int open_rails(void **state, const zeus_device_options *o, int need, char *reason,
                      size_t reason_size)
{
    const char *root = o->sysfs_root ? o->sysfs_root : "";
    char path[600], driver[600];
    snprintf(path, sizeof path, "%s/etc/nv_tegra_release", root);
    snprintf(driver, sizeof driver, "%s/usr/lib/aarch64-linux-gnu/tegra", root);
    struct utsname u;
    bool arm = o->sysfs_root || (uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0);
    if (!arm || (!exists(path) && !exists(driver))) {
        snprintf(reason, reason_size, "not an NVIDIA Jetson (no %s%s)", path,
                 arm ? " nor L4T's tegra libraries" : ", not aarch64");
        return ZEUS_ENODEV;
    }
    jetson_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(reason, reason_size, "out of memory");
        return ZEUS_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    snprintf(driver, sizeof driver, "%s/sys/bus/i2c/drivers/ina3221x", root);
    if (!exists(driver))
        snprintf(driver, sizeof driver, "%s/sys/bus/i2c/drivers/ina3221", root);
    discover(s, driver);
    int rc = ZEUS_OK;
    if (!s->rails[need].present) {
        snprintf(reason, reason_size, "Jetson without a %s power rail under %s", rail_names[need],
                 driver);
        rc = ZEUS_ENODEV;
        goto fail;
    }
    snprintf(path, sizeof path, "%s/proc/device-tree/model", root);
    if (read_text(path, s->model, sizeof s->model) != ZEUS_OK)
        zeus__strlcpy(s->model, "NVIDIA Jetson", sizeof s->model);
    s->model[strcspn(s->model, "\n")] = '\0';
    s->last_ns = zeus_now_ns();
    pthread_mutex_lock(&s->lock);
    sample_locked(s, s->last_ns); /* first reading: checks that the rails can be read */
    pthread_mutex_unlock(&s->lock);
    if (s->read_error) {
        snprintf(reason, reason_size, "%s", zeus_last_error());
        rc = s->read_error;
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
        snprintf(reason, reason_size, "cannot start the rail sampling thread");
        rc = ZEUS_ENOMEM;
        goto fail;
    }
    s->thread_started = true;
    s->owner = getpid();
    size_t n = (size_t)snprintf(reason, reason_size, "%s, rails:", s->model);
    for (int k = 0; k < RAIL_COUNT && n < reason_size; k++)
        n += (size_t)snprintf(reason + n, reason_size - n, " %s=%s", rail_names[k],
                              s->rails[k].present ? s->rails[k].name : "-");
    *state = s;
    return ZEUS_OK;
fail:
    jetson_close(s);
    return rc;
}

static int jetson_gpu_open(void **state, const zeus_device_options *o, char *reason,
                           size_t reason_size)
{
    return open_rails(state, o, RAIL_GPU, reason, reason_size);
}

static int jetson_cpu_open(void **state, const zeus_device_options *o, char *reason,
                           size_t reason_size)
{
    return open_rails(state, o, RAIL_CPU, reason, reason_size);
}

static unsigned jetson_count(void *state)
{
    (void)state;
    return 1;
}

/* Cumulative energy and current power of one rail, brought up to now. */
static int rail_read(jetson_state *s, int k, double *mj, unsigned *mw)
{
    pthread_mutex_lock(&s->lock);
    s->read_error = 0;
    sample_locked(s, zeus_now_ns());
    int rc = s->read_error;
    if (mj)
        *mj = s->energy_mj[k];
    if (mw)
        *mw = s->power_mw[k];
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int jetson_gpu_info(void *state, unsigned dev, zeus_gpu_info *out)
{
    jetson_state *s = state;
    memset(out, 0, sizeof *out);
    out->device_index = dev;
    snprintf(out->name, sizeof out->name, "%s", s->model);
    snprintf(out->uuid, sizeof out->uuid, "jetson-gpu");
    out->arch = ZEUS_ARCH_UNKNOWN;
    out->has_energy_counter = true; /* the rail integrated every 100 ms */
    return ZEUS_OK;
}

static int jetson_gpu_energy_mj(void *state, unsigned dev, uint64_t *energy_mj)
{
    (void)dev;
    double mj = 0;
    int rc = rail_read(state, RAIL_GPU, &mj, NULL);
    *energy_mj = (uint64_t)mj;
    return rc;
}

static int jetson_gpu_power(void *state, unsigned dev, zeus_gpu_power *out)
{
    (void)dev;
    memset(out, 0, sizeof *out);
    int rc = rail_read(state, RAIL_GPU, NULL, &out->instant_mw);
    out->instant_valid = rc == ZEUS_OK;
    out->usage_mw = out->instant_mw;
    return rc;
}

/* The GPU rail's counter: power x dt at least every 100 ms (and at every read), so a reading's
 * last step is at most one period long; its error bound's power is the highest read so far. */
static int jetson_gpu_energy_model(void *state, unsigned dev, double *period_s, double *peak_w)
{
    (void)dev;
    jetson_state *s = state;
    pthread_mutex_lock(&s->lock);
    *peak_w = s->peak_mw[RAIL_GPU] / 1000.0;
    pthread_mutex_unlock(&s->lock);
    *period_s = JETSON_PERIOD_NS / 1e9;
    return ZEUS_OK;
}

static int no_limit(unsigned dev)
{
    return zeus__error(ZEUS_ENOTSUP,
                       "GPU %u is an NVIDIA Jetson's: Jetson power limits are set by its power "
                       "mode (nvpmodel), not by Zeus; power-limit control is not supported",
                       dev);
}

static int jetson_gpu_power_limit_mw(void *state, unsigned dev, unsigned *limit_mw)
{
    (void)state;
    (void)limit_mw;
    return no_limit(dev);
}

static int jetson_gpu_set_power_limit_mw(void *state, unsigned dev, unsigned limit_mw)
{
    (void)state;
    (void)limit_mw;
    return no_limit(dev);
}

static int jetson_cpu_info(void *state, unsigned dev, zeus_cpu_info *out)
{
    jetson_state *s = state;
    memset(out, 0, sizeof *out);
    out->index = dev;
    snprintf(out->name, sizeof out->name, "jetson-%s", s->rails[RAIL_CPU].name);
    return ZEUS_OK;
}

static int jetson_cpu_energy(void *state, unsigned dev, zeus_cpu_energy *out)
{
    (void)dev;
    double mj = 0;
    int rc = rail_read(state, RAIL_CPU, &mj, NULL);
    memset(out, 0, sizeof *out);
    out->package_uj = (uint64_t)(mj * 1000.0);
    return rc;
}

int zeus__jetson_read_energy(void *state, zeus_soc_energy *out)
{
    jetson_state *s = state;
    pthread_mutex_lock(&s->lock);
    s->read_error = 0;
    sample_locked(s, zeus_now_ns());
    int rc = s->read_error;
    out->cpu_valid = s->rails[RAIL_CPU].present;
    out->gpu_valid = s->rails[RAIL_GPU].present;
    out->total_valid = s->rails[RAIL_TOTAL].present;
    out->cpu_mj = s->energy_mj[RAIL_CPU];
    out->gpu_mj = s->energy_mj[RAIL_GPU];
    out->total_mj = s->energy_mj[RAIL_TOTAL];
    pthread_mutex_unlock(&s->lock);
    return rc;
}

const zeus_backend_ops zeus__jetson_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "jetson",
    .kind = ZEUS_BACKEND_GPU,
    .auto_candidate = true,
    .open = jetson_gpu_open,
    .close = jetson_close,
    .count = jetson_count,
    .gpu_info = jetson_gpu_info,
    .gpu_energy_mj = jetson_gpu_energy_mj,
    .gpu_power = jetson_gpu_power,
    .gpu_power_limit_mw = jetson_gpu_power_limit_mw,
    .gpu_set_power_limit_mw = jetson_gpu_set_power_limit_mw,
    .gpu_energy_model = jetson_gpu_energy_model,
};

const zeus_backend_ops zeus__jetson_cpu_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "jetson-cpu",
    .kind = ZEUS_BACKEND_CPU,
    .open = jetson_cpu_open,
    .close = jetson_close,
    .count = jetson_count,
    .cpu_info = jetson_cpu_info,
    .cpu_energy = jetson_cpu_energy,
};
