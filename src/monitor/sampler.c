/* The power sampler: one thread polling GPU power into a ring buffer (see zeus/sampler.h). */
#include "core/internal.h"
#include "monitor/monitor_internal.h"
#include "zeus/monitor.h"
#include "zeus/sampler.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INFER_POLL_NS 1000000LL     /* 1 ms between readings while inferring the period */
#define INFER_LIMIT_NS 2000000000LL /* give up on a model after 2 s */
#define INFER_CHANGES 4             /* changes to see before trusting the minimum gap */
#define PERIOD_CAP_S 0.1
/* The first CPU interval lasts at least 10 ms (or one period, if shorter). */
#define CPU_FIRST_GAP_NS 10000000LL

/* What a CPU column reads. */
typedef struct {
    unsigned slot; /* position in cpus[] */
    bool dram;     /* DRAM rather than package energy */
} cpu_column;

struct zeus_sampler {
    zeus_devices *devices;
    unsigned gpu_count;
    unsigned gpus[ZEUS_MAX_GPUS];
    unsigned cpu_count;
    unsigned cpus[ZEUS_MAX_CPUS];
    unsigned columns; /* gpu_count + CPU package and DRAM columns */
    cpu_column cpu_columns[2 * ZEUS_MAX_CPUS];
    char names[ZEUS_SAMPLER_MAX_COLUMNS][16];
    /* The sampling thread's previous RAPL reading, for power over each interval. */
    zeus_cpu_energy last_cpu[ZEUS_MAX_CPUS];
    bool last_cpu_ok[ZEUS_MAX_CPUS];
    bool cpu_failing[ZEUS_MAX_CPUS]; /* warned about, until a read succeeds again */
    double last_cpu_t;
    int64_t cpu_primed_ns;   /* monotonic time of the reading zeus_sampler_start took */
    _Atomic double period_s; /* while inferring: the inference's polling period */
    bool infer;              /* the thread infers the period while it samples */
    zeus_clock_fn clock;
    void *clock_user;
    zeus_sample_fn on_sample;
    void *on_sample_user;

    pthread_mutex_t lock; /* guards the ring and stop */
    pthread_cond_t wake;
    bool stop;
    size_t capacity, head, len; /* head: next row to write */
    double *times;
    /* capacity x columns, in milliwatts: NVML's integer mW readings are exact in a float (up to
     * 16.7 kW), so a reading comes back as the W it was (79800 mW: 79.8, not 79.80000305). */
    float *power_mw;
    /* Energy over every sample ever taken, however many the ring has dropped since. */
    double start_s;                           /* clock when the sampler started */
    double total_j[ZEUS_SAMPLER_MAX_COLUMNS]; /* from the first sample to the last */
    double first_t, last_t;
    float first_mw[ZEUS_SAMPLER_MAX_COLUMNS], last_mw[ZEUS_SAMPLER_MAX_COLUMNS];
    size_t taken;

    pthread_t thread;
    bool thread_started; /* false in a forked child: the thread stayed in the parent */
    zeus_sampler *next;  /* live samplers, for fork() */
};

/* Every live sampler, so that fork() can take their locks (see core/internal.h). */
static pthread_mutex_t samplers_lock = PTHREAD_MUTEX_INITIALIZER;
static zeus_sampler *samplers;

static void sampler_atfork(zeus__fork_phase phase)
{
    if (phase == ZEUS__FORK_PREPARE) {
        pthread_mutex_lock(&samplers_lock);
        for (zeus_sampler *s = samplers; s; s = s->next)
            pthread_mutex_lock(&s->lock);
        return;
    }
    for (zeus_sampler *s = samplers; s; s = s->next) {
        if (phase == ZEUS__FORK_CHILD) {
            /* The child keeps the samples taken so far but no thread: it answers queries
             * from them, and stop only frees. The condition variable may have had the
             * parent's thread waiting on it: give the child a fresh one. */
            s->thread_started = false;
            s->stop = true;
            pthread_condattr_t attr;
            pthread_condattr_init(&attr);
            pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
            pthread_cond_init(&s->wake, &attr);
            pthread_condattr_destroy(&attr);
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&samplers_lock);
}

static void register_sampler(zeus_sampler *s)
{
    zeus__fork_register(sampler_atfork, 2); /* the monitor floor */
    pthread_mutex_lock(&samplers_lock);
    s->next = samplers;
    samplers = s;
    pthread_mutex_unlock(&samplers_lock);
}

static void unregister_sampler(zeus_sampler *s)
{
    pthread_mutex_lock(&samplers_lock);
    for (zeus_sampler **p = &samplers; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&samplers_lock);
}

static double anchor_wall;
static int64_t anchor_mono;
static pthread_once_t anchor_once = PTHREAD_ONCE_INIT;

static void anchor_init(void)
{
    anchor_mono = zeus_now_ns();
    anchor_wall = zeus_wall_s();
}

double zeus_steady_time_s(void *unused)
{
    (void)unused;
    pthread_once(&anchor_once, anchor_init);
    return anchor_wall + (double)(zeus_now_ns() - anchor_mono) * 1e-9;
}

void zeus_sampler_options_init(zeus_sampler_options *o)
{
    memset(o, 0, sizeof *o);
    o->gpu_count = -1;
}

/* A stored milliwatt value in watts. */
static double watts(float mw)
{
    return (double)mw / 1000.0;
}

/* Reads every CPU package; a column's power is the energy since the previous reading over the
 * time since. Each reading is timed just before it is taken, not at the row's time: the GPU
 * readings before it take time, and over the short first interval (a thread's start) that time
 * inflated the first CPU power (a Jetson's 5 W CPU rail read 8 W). Failed or first readings give
 * NaN: unknown, never zero. */
static void read_cpus(zeus_sampler *s, float *cpu_row)
{
    zeus_cpu_energy now[ZEUS_MAX_CPUS];
    bool ok[ZEUS_MAX_CPUS];
    double t = s->clock(s->clock_user);
    for (unsigned i = 0; i < s->cpu_count; i++) {
        ok[i] = zeus_cpu_read_energy(s->devices, s->cpus[i], &now[i]) == ZEUS_OK;
        if (!ok[i] && !s->cpu_failing[i]) /* once per failure, with its detail */
            ZEUS_WARN("power sampler: CPU %u: %s (its power is NaN until a read succeeds)",
                      s->cpus[i], zeus_last_error());
        s->cpu_failing[i] = !ok[i];
    }
    double dt = t - s->last_cpu_t;
    for (unsigned c = 0; c + s->gpu_count < s->columns; c++) {
        const cpu_column *col = &s->cpu_columns[c];
        unsigned i = col->slot;
        bool valid = ok[i] && s->last_cpu_ok[i] && dt > 0 &&
                     (!col->dram || (now[i].dram_valid && s->last_cpu[i].dram_valid));
        uint64_t before = col->dram ? s->last_cpu[i].dram_uj : s->last_cpu[i].package_uj;
        uint64_t after = col->dram ? now[i].dram_uj : now[i].package_uj;
        cpu_row[c] = valid ? (float)((double)(after - before) / 1e3 / dt) : NAN; /* mW */
    }
    memcpy(s->last_cpu, now, sizeof now[0] * s->cpu_count);
    memcpy(s->last_cpu_ok, ok, sizeof ok[0] * s->cpu_count);
    s->last_cpu_t = t;
}

/* Takes one sample of every column into the ring (row receives it too, in mW), keeps the
 * running total, and hands it to the caller's on_sample (in W). */
static void take_sample(zeus_sampler *s, float *row)
{
    double t = s->clock(s->clock_user);
    /* No fork() while this thread is inside a device call holding a backend's lock. */
    zeus__no_fork_begin();
    for (unsigned i = 0; i < s->gpu_count; i++) {
        unsigned mw;
        /* A failed reading is stored as NaN, so energy over it reads as unknown, not zero. */
        row[i] = zeus_gpu_power_mw(s->devices, s->gpus[i], &mw) == ZEUS_OK ? (float)mw : NAN;
    }
    if (s->cpu_count > 0)
        read_cpus(s, row + s->gpu_count);
    zeus__no_fork_end();
    pthread_mutex_lock(&s->lock);
    s->times[s->head] = t;
    memcpy(&s->power_mw[s->head * s->columns], row, s->columns * sizeof row[0]);
    s->head = (s->head + 1) % s->capacity;
    if (s->len < s->capacity)
        s->len++;
    if (s->taken++ == 0) {
        s->first_t = t;
        memcpy(s->first_mw, row, s->columns * sizeof row[0]);
    } else {
        for (unsigned g = 0; g < s->columns; g++)
            s->total_j[g] += (t - s->last_t) * (watts(s->last_mw[g]) + watts(row[g])) / 2.0;
    }
    s->last_t = t;
    memcpy(s->last_mw, row, s->columns * sizeof row[0]);
    pthread_mutex_unlock(&s->lock);
    if (s->on_sample) {
        double values[ZEUS_SAMPLER_MAX_COLUMNS];
        for (unsigned g = 0; g < s->columns; g++)
            values[g] = watts(row[g]);
        s->on_sample(s, t, values, s->on_sample_user);
    }
}

/* Sleeps until the next deadline (period_ns after the last one, or now after a stall, so the
 * period neither drifts nor bursts to catch up). Caller holds the lock. False once stopped. */
static bool wait_next(zeus_sampler *s, struct timespec *deadline, int64_t period_ns)
{
    int64_t next = (int64_t)deadline->tv_sec * 1000000000LL + deadline->tv_nsec + period_ns;
    int64_t now = zeus_now_ns();
    if (next < now)
        next = now;
    deadline->tv_sec = next / 1000000000LL;
    deadline->tv_nsec = next % 1000000000LL;
    while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, deadline) != ETIMEDOUT) {
    }
    return !s->stop;
}

/* A period in nanoseconds that cannot overflow (a period of centuries is "once"). */
static int64_t period_ns_of(double period_s)
{
    return period_s >= 1e9 ? (int64_t)1e18 : (int64_t)(period_s * 1e9);
}

/* The original's intended inference (its code busy-loops: spec 3.2), done while sampling so that
 * starting never waits: sample every millisecond; per GPU model, the shortest interval between
 * changes of its power reading (after INFER_CHANGES of them, or 2 s); the smallest over models,
 * halved, capped at 0.1 s. Caller holds the lock. */
static void infer_period(zeus_sampler *s, struct timespec *deadline)
{
    struct {
        unsigned column;
        float last;
        int64_t last_change;
        int gaps;
    } models[ZEUS_MAX_GPUS] = {{0}};
    unsigned n = 0;
    for (unsigned i = 0; i < s->gpu_count; i++) {
        zeus_gpu_info gi, gj;
        zeus_gpu_get_info(s->devices, s->gpus[i], &gi);
        bool seen = false;
        for (unsigned k = 0; k < n && !seen; k++) {
            zeus_gpu_get_info(s->devices, s->gpus[models[k].column], &gj);
            seen = strcmp(gi.name, gj.name) == 0;
        }
        if (!seen)
            models[n++].column = i;
    }
    double best = INFINITY;
    int64_t start = zeus_now_ns();
    bool first = true, done = n == 0;
    while (!done && zeus_now_ns() - start < INFER_LIMIT_NS) {
        pthread_mutex_unlock(&s->lock);
        float row[ZEUS_SAMPLER_MAX_COLUMNS];
        take_sample(s, row);
        int64_t now = zeus_now_ns();
        done = true;
        for (unsigned k = 0; k < n; k++) {
            float v = row[models[k].column];
            if (!first && v != models[k].last && !isnan(v)) {
                if (models[k].last_change > 0) {
                    double gap = (double)(now - models[k].last_change) * 1e-9;
                    best = gap < best ? gap : best;
                    models[k].gaps++;
                }
                models[k].last_change = now;
            }
            models[k].last = v;
            done = done && models[k].gaps >= INFER_CHANGES - 1;
        }
        first = false;
        pthread_mutex_lock(&s->lock);
        if (!wait_next(s, deadline, INFER_POLL_NS))
            return;
    }
    double period = best / 2, inferred = period;
    if (!isfinite(best) || period > PERIOD_CAP_S)
        period = PERIOD_CAP_S;
    atomic_store(&s->period_s, period);
    /* The log callback runs outside our lock (it may call the library). */
    pthread_mutex_unlock(&s->lock);
    if (!isfinite(best) && n > 0)
        ZEUS_WARN("power sampler: no GPU's power reading changed within 2 s; sampling every %g s",
                  PERIOD_CAP_S);
    else if (isfinite(best) && inferred > PERIOD_CAP_S)
        ZEUS_WARN("power sampler: inferred period %g s capped at %g s", inferred, PERIOD_CAP_S);
    pthread_mutex_lock(&s->lock);
}

static void *sampler_main(void *arg)
{
    zeus_sampler *s = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    double start = s->clock(s->clock_user);
    pthread_mutex_lock(&s->lock);
    s->start_s = start;
    if (s->cpu_count > 0) {
        /* The first CPU power covers the time since zeus_sampler_start's reading: a few
         * microseconds if taken at once, where a reading's own jitter would be a large share. */
        int64_t gap = period_ns_of(atomic_load(&s->period_s));
        struct timespec primed = {.tv_sec = s->cpu_primed_ns / 1000000000LL,
                                  .tv_nsec = s->cpu_primed_ns % 1000000000LL};
        wait_next(s, &primed, gap < CPU_FIRST_GAP_NS ? gap : CPU_FIRST_GAP_NS);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
    }
    if (s->infer)
        infer_period(s, &deadline);
    int64_t period_ns = period_ns_of(atomic_load(&s->period_s));
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        float row[ZEUS_SAMPLER_MAX_COLUMNS];
        take_sample(s, row);
        pthread_mutex_lock(&s->lock);
        wait_next(s, &deadline, period_ns);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int select_devices(zeus_sampler *s, const zeus_sampler_options *o)
{
    unsigned available = zeus_gpu_count(s->devices), cpus = zeus_cpu_count(s->devices);
    s->gpu_count = o->gpu_count < 0 ? available : (unsigned)o->gpu_count;
    s->cpu_count = o->cpu_count < 0 ? cpus : (unsigned)o->cpu_count;
    if (o->gpu_count == 0 && s->cpu_count == 0)
        return zeus__error(ZEUS_EINVAL, "the power sampler needs at least one GPU "
                                        "(gpu_indices must be either all or non-empty)");
    if (s->gpu_count > ZEUS_MAX_GPUS)
        return zeus__error(ZEUS_ERANGE, "at most %d GPUs can be sampled", ZEUS_MAX_GPUS);
    if (s->cpu_count > ZEUS_MAX_CPUS)
        return zeus__error(ZEUS_ERANGE, "at most %d CPU packages can be polled", ZEUS_MAX_CPUS);
    if (s->gpu_count + s->cpu_count == 0)
        return zeus__error(ZEUS_ENODEV, "the power sampler has no GPU to sample");
    for (unsigned i = 0; i < s->gpu_count; i++) {
        s->gpus[i] = o->gpu_count < 0 ? i : o->gpu_indices[i];
        zeus_gpu_info info;
        int rc = zeus_gpu_get_info(s->devices, s->gpus[i], &info);
        if (rc != ZEUS_OK)
            return rc;
        snprintf(s->names[i], sizeof s->names[i], "gpu%u", s->gpus[i]);
    }
    s->columns = s->gpu_count;
    for (unsigned i = 0; i < s->cpu_count; i++) {
        s->cpus[i] = o->cpu_count < 0 ? i : o->cpu_indices[i];
        zeus_cpu_info info;
        int rc = zeus_cpu_get_info(s->devices, s->cpus[i], &info);
        if (rc != ZEUS_OK)
            return rc;
        for (int dram = 0; dram <= (info.has_dram ? 1 : 0); dram++) {
            s->cpu_columns[s->columns - s->gpu_count] = (cpu_column){i, dram != 0};
            snprintf(s->names[s->columns], sizeof s->names[0], "%s%u", dram ? "dram" : "cpu",
                     s->cpus[i]);
            s->columns++;
        }
    }
    return ZEUS_OK;
}

int zeus_sampler_start(zeus_devices *devices, const zeus_sampler_options *options,
                       zeus_sampler **out)
{
    zeus_sampler_options defaults;
    if (!options) {
        zeus_sampler_options_init(&defaults);
        options = &defaults;
    }
    *out = NULL;
    if (options->period_s < 0 || !isfinite(options->period_s))
        return zeus__error(ZEUS_EINVAL, "sampling period %g s must be positive (or 0 to infer)",
                           options->period_s);
    zeus_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    int rc;
    s->devices = devices;
    s->clock = options->clock ? options->clock : zeus_steady_time_s;
    s->clock_user = options->clock_user;
    s->capacity = options->capacity ? options->capacity : ZEUS_SAMPLER_DEFAULT_CAPACITY;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    if ((rc = select_devices(s, options)) != ZEUS_OK)
        goto fail;
    s->times = malloc(s->capacity * sizeof *s->times);
    s->power_mw = malloc(s->capacity * s->columns * sizeof *s->power_mw);
    if (!s->times || !s->power_mw) {
        rc = zeus__error(ZEUS_ENOMEM, "out of memory for %zu power samples", s->capacity);
        goto fail;
    }
    s->infer = !(options->period_s > 0);
    /* While inferring, samples come at the inference's polling rate. */
    atomic_store(&s->period_s, s->infer ? INFER_POLL_NS / 1e9 : options->period_s);
    if (s->infer && s->gpu_count == 0) { /* CPU packages only: no power reading to watch */
        s->infer = false;
        atomic_store(&s->period_s, PERIOD_CAP_S);
    }
    s->on_sample = options->on_sample;
    s->on_sample_user = options->on_sample_user;
    /* The first sample's CPU power covers the time since this reading. */
    if (s->cpu_count > 0) {
        float ignored[2 * ZEUS_MAX_CPUS];
        read_cpus(s, ignored);
        s->cpu_primed_ns = zeus_now_ns();
    }
    if (!s->infer && options->period_s < 0.001)
        ZEUS_WARN("power sampler: a period of %g s costs CPU time and NVML bandwidth",
                  options->period_s);
    register_sampler(s);
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
        rc = zeus__error(ZEUS_ENOMEM, "cannot start the power sampler thread");
        goto fail;
    }
    s->thread_started = true;
    *out = s;
    return ZEUS_OK;
fail:
    zeus_sampler_stop(s);
    return rc;
}

void zeus_sampler_stop(zeus_sampler *s)
{
    if (!s)
        return;
    unregister_sampler(s);
    zeus__thread_finish(&s->lock, &s->wake, &s->stop, s->thread_started, s->thread);
    free(s->times);
    free(s->power_mw);
    free(s);
}

double zeus_sampler_period_s(const zeus_sampler *s)
{
    return atomic_load(&((zeus_sampler *)s)->period_s);
}

int zeus_sampler_total_energy(zeus_sampler *s, double end, double *energy_j, double *start_s)
{
    pthread_mutex_lock(&s->lock);
    size_t taken = s->taken;
    for (unsigned g = 0; g < s->columns; g++) {
        /* Held flat from the start to the first sample and from the last sample to end. */
        double before =
            s->first_t > s->start_s ? (s->first_t - s->start_s) * watts(s->first_mw[g]) : 0;
        double after = end > s->last_t ? (end - s->last_t) * watts(s->last_mw[g]) : 0;
        energy_j[g] = taken ? before + s->total_j[g] + after : 0.0;
    }
    if (start_s)
        *start_s = s->start_s;
    pthread_mutex_unlock(&s->lock);
    if (taken == 0)
        return zeus__error(ZEUS_ENOENT, "no power sample yet");
    return ZEUS_OK;
}

unsigned zeus_sampler_gpu_count(const zeus_sampler *s)
{
    return s->gpu_count;
}

unsigned zeus_sampler_gpu_index(const zeus_sampler *s, unsigned i)
{
    return i < s->gpu_count ? s->gpus[i] : (unsigned)-1;
}

unsigned zeus_sampler_column_count(const zeus_sampler *s)
{
    return s->columns;
}

const char *zeus_sampler_column_name(const zeus_sampler *s, unsigned column)
{
    return column < s->columns ? s->names[column] : NULL;
}

size_t zeus_sampler_sample_count(const zeus_sampler *s)
{
    zeus_sampler *m = (zeus_sampler *)s;
    pthread_mutex_lock(&m->lock);
    size_t n = m->len;
    pthread_mutex_unlock(&m->lock);
    return n;
}

double zeus_sampler_cpu_time_s(const zeus_sampler *s)
{
    clockid_t cid;
    struct timespec ts;
    if (!s->thread_started || pthread_getcpuclockid(s->thread, &cid) != 0 ||
        clock_gettime(cid, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Ring position of the k-th oldest row. Caller holds the lock. */
static size_t row_at(const zeus_sampler *s, size_t k)
{
    return (s->head + s->capacity - s->len + k) % s->capacity;
}

/* First logical index whose time is >= t (len if none). Caller holds the lock. */
static size_t lower_bound(const zeus_sampler *s, double t)
{
    size_t lo = 0, hi = s->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->times[row_at(s, mid)] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Power of column g at time t from the samples around it: linear between samples, held flat
 * beyond the outermost ones. a and b are consecutive logical indices with t in between. */
static double interpolate(const zeus_sampler *s, size_t a, size_t b, unsigned g, double t)
{
    size_t ra = row_at(s, a), rb = row_at(s, b);
    double ta = s->times[ra], tb = s->times[rb];
    double pa = watts(s->power_mw[ra * s->columns + g]),
           pb = watts(s->power_mw[rb * s->columns + g]);
    if (tb <= ta)
        return pa;
    return pa + (pb - pa) * (t - ta) / (tb - ta);
}

int zeus_sampler_get_energy(zeus_sampler *s, double start, double end, double *energy_j,
                            size_t *samples)
{
    for (unsigned g = 0; g < s->columns; g++)
        energy_j[g] = 0.0;
    pthread_mutex_lock(&s->lock);
    /* Samples inside [start, end] plus the nearest one on each side: the power curve is
     * integrated over exactly the window (the original used only the samples inside, which
     * loses up to one period at each end: 2% of a 1 s window at 100 Hz). */
    size_t first = lower_bound(s, start), last = lower_bound(s, end);
    if (first > 0)
        first--;
    if (last == s->len)
        last--;
    size_t n = s->len == 0 ? 0 : last - first + 1;
    if (n >= 2) {
        for (unsigned g = 0; g < s->columns; g++) {
            double e = 0.0;
            for (size_t k = first; k < last; k++) {
                double t0 = s->times[row_at(s, k)], t1 = s->times[row_at(s, k + 1)];
                double lo = t0 > start ? t0 : start, hi = t1 < end ? t1 : end;
                if (hi > lo)
                    e += (hi - lo) *
                         (interpolate(s, k, k + 1, g, lo) + interpolate(s, k, k + 1, g, hi)) / 2.0;
            }
            /* Before the first and after the last sample: hold the nearest reading. */
            double t_first = s->times[row_at(s, first)], t_last = s->times[row_at(s, last)];
            if (start < t_first)
                e += ((end < t_first ? end : t_first) - start) *
                     watts(s->power_mw[row_at(s, first) * s->columns + g]);
            if (end > t_last)
                e += (end - (start > t_last ? start : t_last)) *
                     watts(s->power_mw[row_at(s, last) * s->columns + g]);
            energy_j[g] = e;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (samples)
        *samples = n;
    if (n < 2)
        return zeus__error(ZEUS_ENOENT, "fewer than two power samples around %.6f..%.6f", start,
                           end);
    return ZEUS_OK;
}

int zeus_sampler_get_power(zeus_sampler *s, double t, double *power_w, double *time_s)
{
    pthread_mutex_lock(&s->lock);
    if (s->len == 0) {
        pthread_mutex_unlock(&s->lock);
        return zeus__error(ZEUS_ENOENT, "no power sample yet");
    }
    size_t k = isnan(t) ? s->len - 1 : lower_bound(s, t);
    if (k >= s->len)
        k = s->len - 1;
    size_t r = row_at(s, k);
    for (unsigned g = 0; g < s->columns; g++)
        power_w[g] = watts(s->power_mw[r * s->columns + g]);
    if (time_s)
        *time_s = s->times[r];
    pthread_mutex_unlock(&s->lock);
    return ZEUS_OK;
}

int zeus_sampler_timeline(zeus_sampler *s, double since, size_t max, double *times, double *power_w,
                          size_t *count)
{
    pthread_mutex_lock(&s->lock);
    size_t n = 0;
    for (size_t k = lower_bound(s, since); k < s->len && n < max; k++, n++) {
        size_t r = row_at(s, k);
        times[n] = s->times[r];
        for (unsigned g = 0; g < s->columns; g++)
            power_w[n * s->columns + g] = watts(s->power_mw[r * s->columns + g]);
    }
    pthread_mutex_unlock(&s->lock);
    *count = n;
    return ZEUS_OK;
}
