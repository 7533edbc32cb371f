/* The energy monitor: named windows over GPU energy counters, sampled power and RAPL. */
#include "core/internal.h"
#include "device/backend.h"
#include "monitor/monitor_internal.h"
#include "zeus/output.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_POLL_NS 1000000LL     /* read the counter every 1 ms while probing */
#define PROBE_LIMIT_NS 1500000000LL /* per model */
#define PROBE_CHANGES 5             /* intervals between changes */

typedef struct {
    double start;
    uint64_t start_mj[ZEUS_MAX_GPUS];
    int start_error[ZEUS_MAX_GPUS];
    char *start_message[ZEUS_MAX_GPUS]; /* why start_error, for the warning at end (or NULL) */
    zeus_cpu_energy start_cpu[ZEUS_MAX_CPUS];
    int start_cpu_error[ZEUS_MAX_CPUS];
} window;

struct zeus_monitor {
    zeus_devices *devices;
    unsigned gpu_count;
    unsigned gpus[ZEUS_MAX_GPUS];
    bool counter[ZEUS_MAX_GPUS];       /* has an energy counter */
    int sampled[ZEUS_MAX_GPUS];        /* position in the sampler, -1 if not sampled */
    double max_power_w[ZEUS_MAX_GPUS]; /* for error bounds */
    bool modelled[ZEUS_MAX_GPUS];      /* the backend says how its counter updates (jetson) */
    unsigned cpu_count;
    unsigned cpus[ZEUS_MAX_CPUS];
    bool cpu_dram[ZEUS_MAX_CPUS];
    bool approx_instant_energy;
    zeus_sync_fn sync;
    void *sync_user;
    zeus_clock_fn clock;
    void *clock_user;
    zeus_output *log;
    zeus__window_end_fn on_end; /* zeus__monitor_on_window_end (the Pushgateway push) */
    void *on_end_user;
    void (*on_end_free)(void *user);
    zeus_sampler *sampler;
    zeus_replay *replay;

    /* Open windows: a compact index (hash, name) scanned on begin/end, each slot owning a
     * window record that is kept and reused after the window ends. */
    pthread_mutex_t lock; /* guards the slots and the log */
    struct slot {
        uint64_t hash;
        char *name; /* NULL: free */
        window *w;
    } * slots;
    size_t slot_count;
    /* Window names already warned about a 0 J reading: once per name, as the newer Zeus's
     * warnings.warn does, so a per-step window does not print a line per step. */
    char **zero_warned;
    size_t zero_warned_count;

    /* Background measurement of counter update periods. */
    pthread_t probe_thread;
    bool probe_started;
    pid_t owner_pid; /* a forked child has no probe thread to join */
    atomic_bool probe_stop;
    _Atomic double update_period_s[ZEUS_MAX_GPUS];
    /* zeus_monitor_cross_check: the sampler beside the monitor and its column per GPU. */
    zeus_sampler *check_sampler;
    zeus_cross_check_mode check_mode;
    int check_column[ZEUS_MAX_GPUS];
    atomic_bool check_warned[ZEUS_MAX_GPUS];
};

void zeus_monitor_options_init(zeus_monitor_options *o)
{
    memset(o, 0, sizeof *o);
    o->gpu_count = -1;
    o->cpu_count = 0;
    o->measure_update_period = true;
}

/* ---- counter update period, measured in the background ---- */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int read_counter(void *ctx, uint64_t *value)
{
    const zeus_gpu_ref *g = ctx;
    /* The probe thread: no fork() while it is inside a backend (see core/internal.h). */
    zeus__no_fork_begin();
    int rc = zeus_gpu_energy_mj(g->devices, g->gpu, value);
    zeus__no_fork_end();
    return rc;
}

/* Median interval between changes of a GPU's energy counter, polled every millisecond; 0 if it
 * did not change often enough. The median, not the minimum, so that one late poll followed by
 * a prompt one does not shorten the estimate. */
static double probe_counter_period(zeus_monitor *m, unsigned gpu)
{
    double gaps[PROBE_CHANGES];
    zeus_gpu_ref ref = {m->devices, gpu};
    int n = zeus__change_intervals(read_counter, &ref, PROBE_POLL_NS, PROBE_LIMIT_NS,
                                   &m->probe_stop, gaps, PROBE_CHANGES);
    if (n == 0)
        return 0.0;
    qsort(gaps, (size_t)n, sizeof gaps[0], compare_doubles);
    return gaps[n / 2];
}

static void *probe_main(void *arg)
{
    zeus_monitor *m = arg;
    for (unsigned i = 0; i < m->gpu_count && !atomic_load(&m->probe_stop); i++) {
        if (!m->counter[i] || atomic_load(&m->update_period_s[i]) > 0)
            continue;
        double period = probe_counter_period(m, m->gpus[i]);
        if (period <= 0)
            continue;
        /* The period is a property of the model: share it with the same models. */
        zeus_gpu_info gi, gj;
        zeus_gpu_get_info(m->devices, m->gpus[i], &gi);
        for (unsigned j = i; j < m->gpu_count; j++) {
            zeus_gpu_get_info(m->devices, m->gpus[j], &gj);
            if (m->counter[j] && strcmp(gi.name, gj.name) == 0)
                atomic_store(&m->update_period_s[j], period);
        }
        ZEUS_DEBUG("GPU %u (%s): energy counter updates every %.1f ms", m->gpus[i], gi.name,
                   period * 1e3);
    }
    return NULL;
}

void zeus_monitor_wait_update_period(zeus_monitor *m)
{
    if (m->probe_started && m->owner_pid == getpid()) {
        pthread_join(m->probe_thread, NULL);
        m->probe_started = false;
    }
}

double zeus_monitor_update_period_s(const zeus_monitor *m, unsigned gpu)
{
    for (unsigned i = 0; i < m->gpu_count; i++)
        if (m->gpus[i] == gpu)
            return m->sampled[i] >= 0 ? zeus_sampler_period_s(m->sampler)
                                      : atomic_load(&((zeus_monitor *)m)->update_period_s[i]);
    return 0.0;
}

/* ---- open / close ---- */

/* The log's header line for this monitor's columns (without the newline); malloc'd. */
static char *log_header(const zeus_monitor *m)
{
    size_t cap = 64 + 24 * ((size_t)m->gpu_count + 2 * m->cpu_count), len = 0;
    char *h = malloc(cap);
    if (!h)
        return NULL;
    len += (size_t)snprintf(h + len, cap - len, "start_time,window_name,elapsed_time");
    for (unsigned i = 0; i < m->gpu_count; i++)
        len += (size_t)snprintf(h + len, cap - len, ",gpu%u_energy", m->gpus[i]);
    for (unsigned i = 0; i < m->cpu_count; i++) {
        len += (size_t)snprintf(h + len, cap - len, ",cpu%u_energy", m->cpus[i]);
        if (m->cpu_dram[i])
            len += (size_t)snprintf(h + len, cap - len, ",dram%u_energy", m->cpus[i]);
    }
    return h;
}

/* Appending to an existing log: its header must name the same columns, or the rows would be
 * read against the wrong devices. */
static int check_existing_header(const char *path, const char *header)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return zeus__error(ZEUS_EIO, "cannot read the log file %s: %s", path, strerror(errno));
    char line[4096] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!got || strcmp(line, header) != 0)
        return zeus__error(ZEUS_EINVAL,
                           "the log file %s has the columns '%s', not '%s': use another file", path,
                           line, header);
    return ZEUS_OK;
}

static int open_log(zeus_monitor *m, const char *path, bool append)
{
    char *header = log_header(m);
    if (!header)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    int rc = zeus_output_open(path, append ? ZEUS_OUTPUT_APPEND : 0, &m->log);
    if (rc != ZEUS_OK) {
        rc = zeus__error(rc, "log file: %s", zeus_last_error());
    } else {
        /* Flushed after every row (as the original), not after every cell. */
        zeus_output_set_flush_interval(m->log, INFINITY);
        if (!zeus_output_started_empty(m->log))
            rc = check_existing_header(path, header);
        else if ((rc = zeus_output_printf(m->log, "%s\n", header)) == ZEUS_OK)
            rc = zeus_output_flush(m->log); /* there at once, as the original (spec 2.1) */
    }
    free(header);
    return rc;
}

static int select_devices(zeus_monitor *m, const zeus_monitor_options *o)
{
    zeus_devices *d = m->devices;
    unsigned n = o->gpu_count < 0 ? zeus_gpu_count(d) : (unsigned)o->gpu_count;
    if (n > ZEUS_MAX_GPUS)
        return zeus__error(ZEUS_ERANGE, "at most %d GPUs can be monitored", ZEUS_MAX_GPUS);
    m->gpu_count = n;
    for (unsigned i = 0; i < n; i++) {
        m->gpus[i] = o->gpu_count < 0 ? i : o->gpu_indices[i];
        for (unsigned j = 0; j < i; j++)
            if (m->gpus[j] == m->gpus[i])
                return zeus__error(ZEUS_EINVAL, "GPU %u is listed twice", m->gpus[i]);
        zeus_gpu_info info;
        int rc = zeus_gpu_get_info(d, m->gpus[i], &info);
        if (rc != ZEUS_OK)
            return rc;
        m->counter[i] = info.has_energy_counter;
        m->sampled[i] = -1;
        m->max_power_w[i] = info.power_limit_valid ? info.max_power_limit_mw / 1000.0 : 0.0;
        /* A counter the backend integrates itself (a Jetson's rails, every 100 ms) changes at
         * every read: probing would find the 1 ms poll, not its update period. */
        double period, peak;
        if (info.has_energy_counter &&
            zeus__gpu_energy_model(d, m->gpus[i], &period, &peak) == ZEUS_OK) {
            m->modelled[i] = true;
            atomic_store(&m->update_period_s[i], period);
        }
    }
    unsigned c = o->cpu_count < 0 ? zeus_cpu_count(d) : (unsigned)o->cpu_count;
    if (c > ZEUS_MAX_CPUS)
        return zeus__error(ZEUS_ERANGE, "at most %d CPU packages can be monitored", ZEUS_MAX_CPUS);
    m->cpu_count = c;
    for (unsigned i = 0; i < c; i++) {
        m->cpus[i] = o->cpu_count < 0 ? i : o->cpu_indices[i];
        for (unsigned j = 0; j < i; j++)
            if (m->cpus[j] == m->cpus[i])
                return zeus__error(ZEUS_EINVAL, "CPU package %u is listed twice", m->cpus[i]);
        zeus_cpu_info info;
        int rc = zeus_cpu_get_info(d, m->cpus[i], &info);
        if (rc != ZEUS_OK)
            return rc;
        m->cpu_dram[i] = info.has_dram;
    }
    return ZEUS_OK;
}

/* GPUs without an energy counter are measured by a power sampler, which also reads the RAPL
 * counters of monitored CPUs often enough (every second at least) that no wraparound is missed
 * between a window's begin and end. */
static int start_sampler(zeus_monitor *m, const zeus_monitor_options *o)
{
    unsigned sampled[ZEUS_MAX_GPUS], n = 0;
    for (unsigned i = 0; i < m->gpu_count; i++)
        if (!m->counter[i]) {
            m->sampled[i] = (int)n;
            sampled[n++] = m->gpus[i];
        }
    if (n == 0 && m->cpu_count == 0)
        return ZEUS_OK;
    zeus_sampler_options so;
    zeus_sampler_options_init(&so);
    so.gpu_indices = sampled;
    so.gpu_count = (int)n;
    so.cpu_indices = m->cpus;
    so.cpu_count = (int)m->cpu_count;
    so.period_s = o->sampler_period_s > 0 || n > 0 ? o->sampler_period_s : 1.0;
    so.capacity = o->sampler_capacity;
    /* Same clock as the windows, so that sampled energy covers exactly the window. */
    so.clock = o->clock;
    so.clock_user = o->clock_user;
    return zeus_sampler_start(m->devices, &so, &m->sampler);
}

int zeus_monitor_open(zeus_devices *devices, const zeus_monitor_options *options,
                      zeus_monitor **out)
{
    zeus_monitor_options defaults;
    if (!options) {
        zeus_monitor_options_init(&defaults);
        options = &defaults;
    }
    *out = NULL;
    if (!devices)
        return zeus__error(ZEUS_EINVAL, "zeus_monitor_open: devices is NULL");
    zeus_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    int rc;
    pthread_mutex_init(&m->lock, NULL);
    m->devices = devices;
    m->approx_instant_energy = options->approx_instant_energy;
    m->sync = options->sync;
    m->sync_user = options->sync_user;
    m->clock = options->clock ? options->clock : zeus_steady_time_s;
    m->clock_user = options->clock_user;
    if ((rc = select_devices(m, options)) != ZEUS_OK)
        goto fail;
    if (options->log_file && (rc = open_log(m, options->log_file, options->log_append)) != ZEUS_OK)
        goto fail;
    if ((rc = start_sampler(m, options)) != ZEUS_OK)
        goto fail;
    bool any_counter = false;
    for (unsigned i = 0; i < m->gpu_count; i++)
        any_counter = any_counter || m->counter[i];
    if (options->measure_update_period && any_counter) {
        m->owner_pid = getpid();
        if (pthread_create(&m->probe_thread, NULL, probe_main, m) == 0)
            m->probe_started = true;
    }
    *out = m;
    return ZEUS_OK;
fail:
    zeus_monitor_close(m);
    return rc;
}

void zeus_monitor_close(zeus_monitor *m)
{
    if (!m)
        return;
    atomic_store(&m->probe_stop, true);
    zeus_monitor_wait_update_period(m);
    zeus_sampler_stop(m->sampler);
    zeus__replay_close(m->replay);
    zeus_output_close(m->log);
    if (m->on_end_free)
        m->on_end_free(m->on_end_user);
    for (size_t i = 0; i < m->zero_warned_count; i++)
        free(m->zero_warned[i]);
    free(m->zero_warned);
    for (size_t i = 0; i < m->slot_count; i++) {
        free(m->slots[i].name);
        if (m->slots[i].w)
            for (unsigned g = 0; g < m->gpu_count; g++)
                free(m->slots[i].w->start_message[g]);
        free(m->slots[i].w);
    }
    free(m->slots);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int zeus_monitor_open_replay(zeus_devices *devices, const char *log_file, bool match_window_name,
                             zeus_monitor **out)
{
    *out = NULL;
    zeus_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->devices = devices;
    int rc = zeus__replay_open(log_file, match_window_name, &m->replay, m->gpus, &m->gpu_count);
    if (rc != ZEUS_OK) {
        zeus_monitor_close(m);
        return rc;
    }
    *out = m;
    return ZEUS_OK;
}

unsigned zeus_monitor_gpu_count(const zeus_monitor *m)
{
    return m->gpu_count;
}

unsigned zeus_monitor_gpu_index(const zeus_monitor *m, unsigned i)
{
    return i < m->gpu_count ? m->gpus[i] : (unsigned)-1;
}

unsigned zeus_monitor_cpu_count(const zeus_monitor *m)
{
    return m->cpu_count;
}

zeus_devices *zeus_monitor_devices(const zeus_monitor *m)
{
    return m->devices;
}

zeus_sampler *zeus_monitor_sampler(const zeus_monitor *m)
{
    return m->sampler;
}

int zeus_monitor_cross_check(zeus_monitor *m, zeus_sampler *sampler, zeus_cross_check_mode mode)
{
    if (!m)
        return zeus__error(ZEUS_EINVAL, "zeus_monitor_cross_check: monitor is NULL");
    if (mode < ZEUS_CROSS_CHECK_OFF || mode > ZEUS_CROSS_CHECK_FALLBACK)
        return zeus__error(ZEUS_EINVAL, "zeus_monitor_cross_check: unknown mode %d", (int)mode);
    if (m->replay)
        return zeus__error(ZEUS_ENOTSUP, "a replay monitor measures nothing to cross-check");
    int column[ZEUS_MAX_GPUS];
    unsigned found = 0;
    for (unsigned i = 0; i < m->gpu_count; i++) {
        column[i] = -1;
        for (unsigned k = 0; sampler && k < zeus_sampler_gpu_count(sampler); k++)
            if (zeus_sampler_gpu_index(sampler, k) == m->gpus[i])
                column[i] = (int)k;
        found += column[i] >= 0 && m->counter[i];
    }
    if (sampler && mode != ZEUS_CROSS_CHECK_OFF && found == 0)
        return zeus__error(ZEUS_EINVAL, "zeus_monitor_cross_check: the sampler samples none of "
                                        "the monitor's GPUs that have an energy counter");
    pthread_mutex_lock(&m->lock);
    memcpy(m->check_column, column, sizeof column);
    m->check_mode = sampler ? mode : ZEUS_CROSS_CHECK_OFF;
    m->check_sampler = m->check_mode == ZEUS_CROSS_CHECK_OFF ? NULL : sampler;
    pthread_mutex_unlock(&m->lock);
    return ZEUS_OK;
}

/* ---- windows ---- */

static uint64_t name_hash(const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static struct slot *find_slot(zeus_monitor *m, const char *name, uint64_t hash)
{
    for (size_t i = 0; i < m->slot_count; i++)
        if (m->slots[i].name && m->slots[i].hash == hash && strcmp(m->slots[i].name, name) == 0)
            return &m->slots[i];
    return NULL;
}

/* A free slot with its window record allocated, or NULL when out of memory. */
static struct slot *free_slot(zeus_monitor *m)
{
    struct slot *s = NULL;
    for (size_t i = 0; i < m->slot_count && !s; i++)
        if (!m->slots[i].name)
            s = &m->slots[i];
    if (!s) {
        size_t cap = m->slot_count ? m->slot_count * 2 : 4;
        struct slot *grown = realloc(m->slots, cap * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + m->slot_count, 0, (cap - m->slot_count) * sizeof *grown);
        m->slots = grown;
        s = &m->slots[m->slot_count];
        m->slot_count = cap;
    }
    if (!s->w && !(s->w = calloc(1, sizeof *s->w)))
        return NULL;
    return s;
}

static void sync_all(zeus_monitor *m)
{
    if (!m->sync)
        return;
    for (unsigned i = 0; i < m->gpu_count; i++)
        m->sync(m->gpus[i], m->sync_user);
}

int zeus_monitor_begin_window(zeus_monitor *m, const char *name, bool sync)
{
    if (!name)
        return zeus__error(ZEUS_EINVAL, "window name is NULL");
    if (m->replay)
        return zeus__replay_begin(m->replay, name);
    if (m->log && strpbrk(name, ",\r\n"))
        return zeus__error(ZEUS_EINVAL,
                           "window name '%s' contains a comma or newline, which would corrupt "
                           "the CSV log",
                           name);
    char *copy = strdup(name);
    if (!copy)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    uint64_t hash = name_hash(name);
    /* Reserve the name first so that a duplicate fails before any device work. The record is
     * filled outside the lock; ending the window before begin returns is the caller's race. */
    pthread_mutex_lock(&m->lock);
    if (find_slot(m, name, hash)) {
        pthread_mutex_unlock(&m->lock);
        free(copy);
        return zeus__error(ZEUS_EEXIST, "Measurement window '%s' already exists", name);
    }
    struct slot *s = free_slot(m);
    if (!s) {
        pthread_mutex_unlock(&m->lock);
        free(copy);
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    s->name = copy;
    s->hash = hash;
    window *w = s->w; /* records never move, only the slot index does */
    pthread_mutex_unlock(&m->lock);

    if (sync)
        sync_all(m);
    w->start = m->clock(m->clock_user);
    for (unsigned i = 0; i < m->gpu_count; i++) {
        w->start_error[i] =
            m->counter[i] ? zeus_gpu_energy_mj(m->devices, m->gpus[i], &w->start_mj[i]) : 0;
        /* This GPU's own detail: the thread's last error is overwritten by the next GPU. */
        w->start_message[i] = w->start_error[i] ? strdup(zeus_last_error()) : NULL;
    }
    for (unsigned i = 0; i < m->cpu_count; i++) {
        w->start_cpu_error[i] = zeus_cpu_read_energy(m->devices, m->cpus[i], &w->start_cpu[i]);
        if (w->start_cpu_error[i] != ZEUS_OK) /* the detail (file, errno text) is lost later */
            ZEUS_WARN("CPU %u: energy unavailable in this window: %s", m->cpus[i],
                      zeus_last_error());
    }
    return ZEUS_OK;
}

/* ---- ending a window: one function per step of the original's order (spec 2.3) ---- */

/* 1. Pops the window: copies what it recorded (taking its messages) and frees the name.
 * ZEUS_ENOENT if no window of that name is open. */
static int pop_window(zeus_monitor *m, const char *name, window *w)
{
    pthread_mutex_lock(&m->lock);
    struct slot *found = find_slot(m, name, name_hash(name));
    if (!found) {
        pthread_mutex_unlock(&m->lock);
        return zeus__error(ZEUS_ENOENT, "Measurement window '%s' does not exist", name);
    }
    /* Copy only what this window uses, then free the slot for reuse. */
    w->start = found->w->start;
    memcpy(w->start_mj, found->w->start_mj, m->gpu_count * sizeof w->start_mj[0]);
    memcpy(w->start_error, found->w->start_error, m->gpu_count * sizeof w->start_error[0]);
    memcpy(w->start_message, found->w->start_message, m->gpu_count * sizeof(char *));
    memset(found->w->start_message, 0, m->gpu_count * sizeof(char *));
    memcpy(w->start_cpu, found->w->start_cpu, m->cpu_count * sizeof w->start_cpu[0]);
    memcpy(w->start_cpu_error, found->w->start_cpu_error,
           m->cpu_count * sizeof w->start_cpu_error[0]);
    free(found->name);
    found->name = NULL;
    pthread_mutex_unlock(&m->lock);
    return ZEUS_OK;
}

int zeus_monitor_window_start(zeus_monitor *m, const char *name, double *time_s, double *gpu_j,
                              unsigned gpu_n, double *cpu_j, double *dram_j, unsigned cpu_n)
{
    if (!m || !name)
        return zeus__error(ZEUS_EINVAL, "zeus_monitor_window_start: NULL argument");
    pthread_mutex_lock(&m->lock);
    struct slot *found = find_slot(m, name, name_hash(name));
    if (!found) {
        pthread_mutex_unlock(&m->lock);
        return zeus__error(ZEUS_ENOENT, "Measurement window '%s' does not exist", name);
    }
    const window *w = found->w;
    if (time_s)
        *time_s = w->start;
    for (unsigned i = 0; gpu_j && i < gpu_n && i < m->gpu_count; i++)
        gpu_j[i] = m->counter[i] && !w->start_error[i] ? (double)w->start_mj[i] / 1000.0 : NAN;
    for (unsigned i = 0; i < cpu_n && i < m->cpu_count; i++) {
        bool ok = w->start_cpu_error[i] == ZEUS_OK;
        if (cpu_j)
            cpu_j[i] = ok ? (double)w->start_cpu[i].package_uj / 1e6 : NAN;
        if (dram_j)
            dram_j[i] =
                ok && w->start_cpu[i].dram_valid ? (double)w->start_cpu[i].dram_uj / 1e6 : NAN;
    }
    pthread_mutex_unlock(&m->lock);
    return ZEUS_OK;
}

void zeus_monitor_reset_windows(zeus_monitor *m)
{
    if (!m)
        return;
    if (m->replay) {
        zeus__replay_reset(m->replay);
        return;
    }
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->slot_count; i++) {
        struct slot *s = &m->slots[i];
        if (!s->name)
            continue;
        for (unsigned g = 0; g < m->gpu_count; g++) {
            free(s->w->start_message[g]);
            s->w->start_message[g] = NULL;
        }
        free(s->name);
        s->name = NULL;
    }
    pthread_mutex_unlock(&m->lock);
}

static void release_window(const zeus_monitor *m, window *w)
{
    for (unsigned i = 0; i < m->gpu_count; i++)
        free(w->start_message[i]);
}

/* 2. Instant power of every GPU for approx_instant_energy, and how long reading it took. */
static double read_instant_power(zeus_monitor *m, double *power_w)
{
    int64_t t0 = zeus_now_ns();
    for (unsigned i = 0; i < m->gpu_count; i++) {
        unsigned mw;
        power_w[i] = zeus_gpu_power_mw(m->devices, m->gpus[i], &mw) == ZEUS_OK ? mw / 1000.0 : 0.0;
    }
    return (double)(zeus_now_ns() - t0) * 1e-9;
}

/* A GPU whose energy cannot be known: NAN and the error, never a real-looking 0 J. */
static void gpu_unavailable(zeus_gpu_measurement *g, int error)
{
    g->error = error;
    g->method = ZEUS_METHOD_NONE;
    g->energy_j = NAN;
}

/* 6. Counter GPU: the difference of the counter at end and at begin. */
static void measure_counter(zeus_monitor *m, unsigned i, const window *w, double elapsed,
                            zeus_gpu_measurement *g)
{
    uint64_t now_mj = 0;
    int rc = w->start_error[i];
    if (rc != ZEUS_OK) {
        ZEUS_WARN("GPU %u: energy unavailable in this window (at its start): %s", m->gpus[i],
                  w->start_message[i] ? w->start_message[i] : zeus_strerror(rc));
        gpu_unavailable(g, rc);
        return;
    }
    if ((rc = zeus_gpu_energy_mj(m->devices, m->gpus[i], &now_mj)) != ZEUS_OK) {
        ZEUS_WARN("GPU %u: energy unavailable in this window: %s", m->gpus[i], zeus_last_error());
        gpu_unavailable(g, rc);
        return;
    }
    if (now_mj < w->start_mj[i]) {
        ZEUS_WARN("GPU %u: energy counter went backwards (%llu -> %llu mJ; driver reloaded?)",
                  m->gpus[i], (unsigned long long)w->start_mj[i], (unsigned long long)now_mj);
        gpu_unavailable(g, ZEUS_EDEVICE);
        return;
    }
    double period = atomic_load(&m->update_period_s[i]);
    /* Same arithmetic as the original (J = mJ / 1000 at each end), so logs match it. */
    g->energy_j = (double)now_mj / 1000.0 - (double)w->start_mj[i] / 1000.0;
    g->method = ZEUS_METHOD_COUNTER;
    g->update_period_s = period;
    g->updates = period > 0 ? elapsed / period : 0;
    g->below_resolution = g->energy_j == 0.0 || (period > 0 && elapsed < period);
    /* Without a power-limit range (a Jetson), the highest power the rail has read so far. */
    double max_w = m->max_power_w[i], model_period, peak_w;
    if (m->modelled[i] && max_w <= 0 &&
        zeus__gpu_energy_model(m->devices, m->gpus[i], &model_period, &peak_w) == ZEUS_OK)
        max_w = peak_w;
    g->error_bound_j = period * max_w;
}

/* 7. Counter-less GPU: the sampler's integral over the window. */
static void measure_sampled(zeus_monitor *m, unsigned i, const double *sampled_j, int sampled_rc,
                            size_t samples, zeus_gpu_measurement *g)
{
    double period = zeus_sampler_period_s(m->sampler);
    g->method = ZEUS_METHOD_SAMPLED;
    g->update_period_s = period;
    g->updates = (double)samples;
    g->error_bound_j = 2 * period * m->max_power_w[i];
    if (sampled_rc == ZEUS_OK && isnan(sampled_j[m->sampled[i]])) {
        ZEUS_WARN("GPU %u: energy unavailable in this window: a power reading failed", m->gpus[i]);
        gpu_unavailable(g, ZEUS_EDEVICE);
        return;
    }
    /* As the original: no two samples in the window reads as 0 J (flagged). */
    g->energy_j = sampled_rc == ZEUS_OK ? sampled_j[m->sampled[i]] : 0.0;
    g->below_resolution = sampled_rc != ZEUS_OK;
}

static void measure_gpus(zeus_monitor *m, const window *w, double end, zeus_measurement *out)
{
    double sampled_j[ZEUS_SAMPLER_MAX_COLUMNS];
    size_t samples = 0;
    bool any_sampled = false;
    for (unsigned i = 0; i < m->gpu_count; i++)
        any_sampled = any_sampled || m->sampled[i] >= 0;
    int sampled_rc = any_sampled
                         ? zeus_sampler_get_energy(m->sampler, w->start, end, sampled_j, &samples)
                         : ZEUS_OK;
    for (unsigned i = 0; i < m->gpu_count; i++) {
        if (m->counter[i])
            measure_counter(m, i, w, out->time_s, &out->gpus[i]);
        else
            measure_sampled(m, i, sampled_j, sampled_rc, samples, &out->gpus[i]);
    }
}

static void measure_cpus(zeus_monitor *m, const window *w, zeus_measurement *out)
{
    for (unsigned i = 0; i < m->cpu_count; i++) {
        zeus_cpu_measurement *c = &out->cpus[i];
        zeus_cpu_energy e;
        int rc = w->start_cpu_error[i] ? w->start_cpu_error[i]
                                       : zeus_cpu_read_energy(m->devices, m->cpus[i], &e);
        if (rc != ZEUS_OK) {
            c->error = rc;
            c->package_j = c->dram_j = NAN;
            if (!w->start_cpu_error[i]) /* a failure at the start was reported then */
                ZEUS_WARN("CPU %u: energy unavailable in this window: %s", m->cpus[i],
                          zeus_last_error());
            continue;
        }
        c->package_j = (double)(e.package_uj - w->start_cpu[i].package_uj) / 1e6;
        c->dram_valid = e.dram_valid && w->start_cpu[i].dram_valid;
        c->dram_j = c->dram_valid ? (double)(e.dram_uj - w->start_cpu[i].dram_uj) / 1e6 : NAN;
    }
}

/* True the first time a window name reads 0 J (and is remembered); false after. */
static bool first_zero_of(zeus_monitor *m, const char *name)
{
    bool first = true;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->zero_warned_count && first; i++)
        first = strcmp(m->zero_warned[i], name) != 0;
    if (first) {
        char **grown = realloc(m->zero_warned, (m->zero_warned_count + 1) * sizeof *grown);
        char *copy = strdup(name);
        if (grown)
            m->zero_warned = grown;
        if (grown && copy)
            m->zero_warned[m->zero_warned_count++] = copy;
        else
            free(copy); /* out of memory: warn again next time rather than fail the window */
    }
    pthread_mutex_unlock(&m->lock);
    return first;
}

/* 8. Exact zeros: approximate from instant power, or warn once per window name (as newer Zeus
 * does). */
static void handle_zeros(zeus_monitor *m, const char *name, const double *power_w,
                         double power_read_s, zeus_measurement *out)
{
    for (unsigned i = 0; i < m->gpu_count; i++) {
        zeus_gpu_measurement *g = &out->gpus[i];
        if (g->error || g->energy_j != 0.0)
            continue;
        if (m->approx_instant_energy) {
            g->energy_j = power_w[i] * (out->time_s - power_read_s);
            g->method = ZEUS_METHOD_INSTANT;
            continue;
        }
        /* The first GPU that read 0 J decides: once it is asked about, the name is known, so
         * no other GPU of this window would be warned about; the name is looked up (under the
         * lock) once per window, not once per GPU. */
        if (zeus_get_log_level() >= ZEUS_LOG_WARN && first_zero_of(m, name)) {
            char period[64] = "not measured yet";
            if (g->update_period_s > 0)
                snprintf(period, sizeof period, "%.3f s", g->update_period_s);
            ZEUS_WARN("window '%s': GPU %u read 0 J over %.3f s, less than the %s's update "
                      "period (%s). Use a longer window or approx_instant_energy (warned once "
                      "per window name).",
                      name, g->index, out->time_s,
                      g->method == ZEUS_METHOD_COUNTER ? "energy counter" : "power sampler",
                      period);
        }
        break;
    }
}

/* A CSV cell: the value as Python's str() writes it, or empty when unavailable. */
static void log_cell(zeus_output *log, double value)
{
    char a[ZEUS_DOUBLE_BUF];
    zeus_output_printf(log, ",%s", isnan(value) ? "" : zeus_format_double(value, a, sizeof a));
}

/* 9. Appends the window's row to the log. */
/* A time for the log. An injected clock is a test's tick counter: its whole ticks print as
 * integers, as the original's log prints the ints its tests' patched time() returns. */
static const char *log_time(const zeus_monitor *m, double t, char *buf, size_t size)
{
    if (m->clock != zeus_steady_time_s && t == floor(t) && fabs(t) < 1e15) {
        snprintf(buf, size, "%.0f", t);
        return buf;
    }
    return zeus_format_double(t, buf, size);
}

static void log_row(zeus_monitor *m, const char *name, zeus_measurement *r)
{
    char a[ZEUS_DOUBLE_BUF], b[ZEUS_DOUBLE_BUF];
    pthread_mutex_lock(&m->lock);
    zeus_output_printf(m->log, "%s,%s,%s", log_time(m, r->start_time_s, a, sizeof a), name,
                       log_time(m, r->time_s, b, sizeof b));
    for (unsigned i = 0; i < r->gpu_count; i++)
        log_cell(m->log, r->gpus[i].energy_j);
    for (unsigned i = 0; i < r->cpu_count; i++) {
        log_cell(m->log, r->cpus[i].package_j);
        if (m->cpu_dram[i])
            log_cell(m->log, r->cpus[i].dram_j);
    }
    r->log_failed =
        zeus_output_printf(m->log, "\n") != ZEUS_OK || zeus_output_flush(m->log) != ZEUS_OK;
    pthread_mutex_unlock(&m->lock);
    if (r->log_failed)
        ZEUS_WARN("cannot write window '%s' to the log: %s", name, zeus_last_error());
}

int zeus_monitor_end_window(zeus_monitor *m, const char *name, bool sync, bool cancel,
                            zeus_measurement *out)
{
    if (!name || !out)
        return zeus__error(ZEUS_EINVAL, "window name or measurement is NULL");
    if (m->replay)
        return zeus__replay_end(m->replay, name, cancel, m->gpus, m->gpu_count, out);
    window w;
    int rc = pop_window(m, name, &w);
    if (rc != ZEUS_OK)
        return rc;
    double power_w[ZEUS_MAX_GPUS] = {0}, power_read_s = 0;
    if (m->approx_instant_energy && !cancel)
        power_read_s = read_instant_power(m, power_w);
    /* 3. Synchronise. 4. Cancel: zeros, nothing logged (the original crashes here: spec 10). */
    if (sync)
        sync_all(m);
    zeus__measurement_zero(out, m->gpus, m->gpu_count, m->cpus, m->cpu_count);
    if (cancel) {
        out->cancelled = true;
        release_window(m, &w);
        return ZEUS_OK;
    }
    /* 5. End time. */
    double end = m->clock(m->clock_user);
    out->start_time_s = w.start;
    out->time_s = end - w.start;
    measure_gpus(m, &w, end, out);
    if (m->check_sampler) {
        zeus__check_ctx ctx = {.sampler = m->check_sampler,
                               .mode = m->check_mode,
                               .column = m->check_column,
                               .max_power_w = m->max_power_w,
                               .warned = m->check_warned};
        zeus__cross_check_window(&ctx, w.start, end, out);
    }
    measure_cpus(m, &w, out);
    handle_zeros(m, name, power_w, power_read_s, out);
    zeus__measurement_total(out);
    if (m->log)
        log_row(m, name, out);
    release_window(m, &w);
    if (m->on_end)
        m->on_end(m->on_end_user, name, out);
    return ZEUS_OK;
}

int zeus__monitor_on_window_end(zeus_monitor *m, zeus__window_end_fn fn, void *user,
                                void (*free_user)(void *user))
{
    if (m->replay)
        return zeus__error(ZEUS_ENOTSUP, "a replay monitor measures no window to hand on");
    if (m->on_end_free)
        m->on_end_free(m->on_end_user);
    m->on_end = fn;
    m->on_end_user = user;
    m->on_end_free = free_user;
    return ZEUS_OK;
}
