/* The rapl backend: CPU package and DRAM energy from Linux powercap sysfs
 * (/sys/class/powercap/intel-rapl:N and its intel-rapl:N:M subzones; AMD CPUs use the same
 * names). The sysfs_root option (ZEUS_SYSFS_ROOT) is prepended to every path, so tests (and
 * containers that mount the host's sysfs elsewhere) can point it at another tree. Counters wrap at
 * max_energy_range_uj; each read accumulates the wrap-corrected increase, so no helper process is
 * needed as long as reads come at least once per wrap period. Files are opened once and read with
 * pread. */
#include "core/internal.h"
#include "device/backend.h"
#include "device/counter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAPL_MAX_PACKAGES 16

typedef struct {
    char path[512]; /* energy_uj */
    int fd;
    int open_errno;
    uint64_t range_uj;
    uint64_t last_raw;
    uint64_t total_uj;
    bool primed;
} rapl_zone;

typedef struct {
    zeus_cpu_info info;
    int number; /* N of intel-rapl:N */
    rapl_zone package;
    bool has_dram;
    rapl_zone dram;
} rapl_package;

typedef struct {
    pthread_mutex_t lock;
    unsigned count;
    rapl_package packages[RAPL_MAX_PACKAGES];
} rapl_state;

static int read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

/* Reads a counter file; on failure says why in detail (errno text, or what the file holds). */
static int read_u64_fd(int fd, uint64_t *out, char *detail, size_t detail_size)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) {
        int err = n < 0 ? errno : 0;
        snprintf(detail, detail_size, "%s", n < 0 ? strerror(err) : "the file is empty");
        return n < 0 ? -err : -EIO;
    }
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    /* The first line counts (sysfs writes "<digits>\n"). */
    if (end == buf || errno || (*end && *end != '\n') || buf[0] == '-') {
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(detail, detail_size, "'%s' is not an energy count in uJ", buf);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int zone_open(rapl_zone *z, const char *dir, char *reason, size_t reason_size)
{
    char path[600], text[64];
    snprintf(path, sizeof path, "%s/max_energy_range_uj", dir);
    int err = read_text(path, text, sizeof text);
    long range;
    if (err != 0 || zeus_parse_long(text, &range) != ZEUS_OK || range <= 0) {
        snprintf(reason, reason_size, "%s: %s", path,
                 err ? strerror(-err) : "not a positive integer");
        return ZEUS_EIO;
    }
    z->range_uj = (uint64_t)range;
    snprintf(z->path, sizeof z->path, "%s/energy_uj", dir);
    z->fd = open(z->path, O_RDONLY | O_CLOEXEC);
    z->open_errno = z->fd < 0 ? errno : 0;
    return ZEUS_OK;
}

static void zone_close(rapl_zone *z)
{
    if (z->fd >= 0)
        close(z->fd);
    z->fd = -1;
}

/* Reads the counter and accumulates its wrap-corrected increase. */
static int zone_read(rapl_zone *z, uint64_t *total_uj)
{
    if (z->fd < 0) {
        if (z->open_errno == EACCES || z->open_errno == EPERM)
            return zeus__error(ZEUS_EPERM,
                               "%s: permission denied: reading RAPL energy needs root since Linux "
                               "5.10 (run as root, or grant read access to energy_uj)",
                               z->path);
        return zeus__error(ZEUS_EIO, "%s: %s", z->path, strerror(z->open_errno));
    }
    uint64_t raw = 0;
    char detail[128];
    int err = read_u64_fd(z->fd, &raw, detail, sizeof detail);
    if (err != 0)
        return zeus__error(err == -EACCES ? ZEUS_EPERM : ZEUS_EIO, "%s: %s", z->path, detail);
    if (raw > z->range_uj)
        return zeus__error(ZEUS_EIO, "%s: %llu exceeds max_energy_range_uj %llu", z->path,
                           (unsigned long long)raw, (unsigned long long)z->range_uj);
    if (z->primed)
        z->total_uj += zeus_wrap_delta(z->last_raw, raw, z->range_uj);
    z->last_raw = raw;
    z->primed = true;
    *total_uj = z->total_uj;
    return ZEUS_OK;
}

static int compare_packages(const void *a, const void *b)
{
    return ((const rapl_package *)a)->number - ((const rapl_package *)b)->number;
}

static void rapl_close(void *state)
{
    rapl_state *s = state;
    if (!s)
        return;
    for (unsigned i = 0; i < s->count; i++) {
        zone_close(&s->packages[i].package);
        zone_close(&s->packages[i].dram);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int find_dram(rapl_package *p, const char *base, char *reason, size_t reason_size)
{
    for (int m = 0; m < 16; m++) {
        char dir[512], path[600], name[64];
        snprintf(dir, sizeof dir, "%s/intel-rapl:%d/intel-rapl:%d:%d", base, p->number, p->number,
                 m);
        snprintf(path, sizeof path, "%s/name", dir);
        if (read_text(path, name, sizeof name) != 0)
            continue;
        if (strcmp(name, "dram") != 0)
            continue;
        int rc = zone_open(&p->dram, dir, reason, reason_size);
        if (rc != ZEUS_OK)
            return rc;
        p->has_dram = true;
        p->info.has_dram = true;
        p->info.dram_range_uj = p->dram.range_uj;
        return ZEUS_OK;
    }
    return ZEUS_OK;
}

static int rapl_open(void **state, const zeus_device_options *options, char *reason,
                     size_t reason_size)
{
    const char *root = options->sysfs_root;
    char base[400];
    snprintf(base, sizeof base, "%s/sys/class/powercap", root ? root : "");
    rapl_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(reason, reason_size, "out of memory");
        return ZEUS_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    int rc = ZEUS_OK;
    DIR *dir = opendir(base);
    if (!dir) {
        snprintf(reason, reason_size, "%s: %s (no powercap driver, or not Linux)", base,
                 strerror(errno));
        rc = ZEUS_ENODEV;
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && s->count < RAPL_MAX_PACKAGES) {
        int n, consumed = 0;
        /* Top-level zones only: "intel-rapl:N" (subzones have a second colon). */
        if (sscanf(e->d_name, "intel-rapl:%d%n", &n, &consumed) != 1 || e->d_name[consumed] != '\0')
            continue;
        rapl_package *p = &s->packages[s->count];
        p->number = n;
        p->package.fd = p->dram.fd = -1;
        char zdir[512], path[600], name[64];
        snprintf(zdir, sizeof zdir, "%s/%s", base, e->d_name);
        snprintf(path, sizeof path, "%s/name", zdir);
        if (read_text(path, name, sizeof name) != 0 || strncmp(name, "package", 7) != 0)
            continue; /* psys and other non-package zones */
        s->count++;
        zeus__strlcpy(p->info.name, name, sizeof p->info.name);
        if ((rc = zone_open(&p->package, zdir, reason, reason_size)) != ZEUS_OK ||
            (rc = find_dram(p, base, reason, reason_size)) != ZEUS_OK)
            break;
        p->info.package_range_uj = p->package.range_uj;
    }
    closedir(dir);
    if (rc != ZEUS_OK)
        goto fail;
    if (s->count == 0) {
        snprintf(reason, reason_size,
                 "no RAPL package zones under %s (not an Intel/AMD CPU, or the intel_rapl "
                 "driver is not loaded)",
                 base);
        rc = ZEUS_ENODEV;
        goto fail;
    }
    qsort(s->packages, s->count, sizeof s->packages[0], compare_packages);
    for (unsigned i = 0; i < s->count; i++)
        s->packages[i].info.index = i;
    /* Prime the accumulators so that energy counts from open; report unreadable counters. */
    int readable = 0;
    for (unsigned i = 0; i < s->count; i++) {
        uint64_t ignored;
        if (zone_read(&s->packages[i].package, &ignored) == ZEUS_OK)
            readable++;
        if (s->packages[i].has_dram)
            zone_read(&s->packages[i].dram, &ignored);
    }
    if (readable == (int)s->count)
        snprintf(reason, reason_size, "%u package%s under %s", s->count, s->count == 1 ? "" : "s",
                 base);
    else
        snprintf(reason, reason_size, "%u package%s under %s, but energy is unreadable: %s",
                 s->count, s->count == 1 ? "" : "s", base, zeus_last_error());
    *state = s;
    return ZEUS_OK;
fail:
    rapl_close(s);
    return rc;
}

static unsigned rapl_count(void *state)
{
    return ((rapl_state *)state)->count;
}

static int rapl_cpu_info(void *state, unsigned dev, zeus_cpu_info *out)
{
    *out = ((rapl_state *)state)->packages[dev].info;
    return ZEUS_OK;
}

static int rapl_cpu_energy(void *state, unsigned dev, zeus_cpu_energy *out)
{
    rapl_state *s = state;
    rapl_package *p = &s->packages[dev];
    pthread_mutex_lock(&s->lock);
    memset(out, 0, sizeof *out);
    int rc = zone_read(&p->package, &out->package_uj);
    if (rc == ZEUS_OK && p->has_dram)
        out->dram_valid = zone_read(&p->dram, &out->dram_uj) == ZEUS_OK;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int rapl_cpu_package_id(void *state, unsigned dev, unsigned *id)
{
    *id = (unsigned)((rapl_state *)state)->packages[dev].number;
    return ZEUS_OK;
}

const zeus_backend_ops zeus__rapl_backend = {
    .abi_version = ZEUS_BACKEND_ABI,
    .name = "rapl",
    .kind = ZEUS_BACKEND_CPU,
    .open = rapl_open,
    .close = rapl_close,
    .count = rapl_count,
    .cpu_info = rapl_cpu_info,
    .cpu_energy = rapl_cpu_energy,
    .cpu_package_id = rapl_cpu_package_id,
};
