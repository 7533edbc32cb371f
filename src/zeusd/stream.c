/* Server-sent power events (§7): one poller thread per device, started by the first
 * subscriber and asleep whenever it has none; streams get the latest sample ("watch"
 * semantics: a slow reader skips samples, a new one waits for a fresh sample). */
#include "zeusd.h"

#include "zeus/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    struct zd_pollers *owner;
    bool cpu;
    unsigned id;    /* libzeus index */
    unsigned label; /* the id clients see: the index, or a CPU's RAPL package number */
    pthread_t thread;
    bool started;
    bool polling; /* awake (for tests and the docs' claim) */
    unsigned subscribers;
    pthread_cond_t wake;
    uint64_t seq; /* bumped for every emitted sample */
    uint64_t timestamp_ms;
    unsigned power_mw;
    unsigned dram_mw;
    bool dram_valid;
} zd_poller;

struct zd_pollers {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stop;
    zeus_devices *devices;
    unsigned gpu_period_ms, cpu_period_ms;
    zd_poller *gpus, *cpus;
    unsigned gpu_count, cpu_count;
};

struct zd_stream {
    zd_pollers *p;
    bool cpu;
    size_t count;
    unsigned ids[ZD_MAX_IDS];
    uint64_t seen[ZD_MAX_IDS];
};

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *poll_main(void *arg)
{
    zd_poller *po = arg;
    zd_pollers *p = po->owner;
    unsigned period_ms = po->cpu ? p->cpu_period_ms : p->gpu_period_ms;
    bool have_prev = false, primed = false;
    zeus_cpu_energy base = {0};
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        if (po->subscribers == 0) {
            /* Forget the previous value: the first sample after a resume is always sent. */
            have_prev = primed = false;
            if (po->polling)
                zd_log("INFO", "%s %u power poller: asleep (no stream)", po->cpu ? "CPU" : "GPU",
                       po->label);
            po->polling = false;
            pthread_cond_wait(&po->wake, &p->lock);
            continue;
        }
        if (!po->polling)
            zd_log("INFO", "%s %u power poller: polling", po->cpu ? "CPU" : "GPU", po->label);
        po->polling = true;
        pthread_mutex_unlock(&p->lock);
        bool emit = false;
        unsigned power = 0, dram = 0;
        bool dram_valid = false;
        if (!po->cpu) {
            emit = zeus_gpu_power_mw(p->devices, po->id, &power) == 0;
        } else {
            zeus_cpu_energy e;
            if (zeus_cpu_read_energy(p->devices, po->id, &e) == 0) {
                if (primed) {
                    uint64_t period_us = (uint64_t)period_ms * 1000u;
                    power = (unsigned)((e.package_uj - base.package_uj) * 1000u / period_us);
                    dram_valid = e.dram_valid;
                    dram =
                        dram_valid ? (unsigned)((e.dram_uj - base.dram_uj) * 1000u / period_us) : 0;
                    emit = true;
                }
                base = e;
                primed = true;
            }
        }
        pthread_mutex_lock(&p->lock);
        if (emit && (!have_prev || power != po->power_mw || dram != po->dram_mw)) {
            po->power_mw = power;
            po->dram_mw = dram;
            po->dram_valid = dram_valid;
            po->timestamp_ms = unix_ms();
            po->seq++;
            have_prev = true;
            pthread_cond_broadcast(&p->changed);
        }
        struct timespec ts;
        deadline_in(&ts, period_ms);
        while (!p->stop && pthread_cond_timedwait(&po->wake, &p->lock, &ts) != ETIMEDOUT)
            ;
    }
    po->polling = false;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static zd_poller *make(zd_pollers *p, bool cpu, unsigned count)
{
    zd_poller *list = calloc(count ? count : 1, sizeof *list);
    for (unsigned i = 0; list && i < count; i++) {
        list[i].owner = p;
        list[i].cpu = cpu;
        list[i].id = list[i].label = i;
        if (cpu)
            zeus_cpu_package_id(p->devices, i, &list[i].label);
        pthread_cond_init(&list[i].wake, NULL);
    }
    return list;
}

zd_pollers *zd_pollers_create(zeus_devices *devices, unsigned gpu_hz, unsigned cpu_hz)
{
    zd_pollers *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    p->devices = devices;
    /* A rate of 0 counts as 1 Hz, as the original. */
    p->gpu_period_ms = 1000u / (gpu_hz ? gpu_hz : 1);
    p->cpu_period_ms = 1000u / (cpu_hz ? cpu_hz : 1);
    if (!p->gpu_period_ms)
        p->gpu_period_ms = 1;
    if (!p->cpu_period_ms)
        p->cpu_period_ms = 1;
    p->gpu_count = devices ? zeus_gpu_count(devices) : 0;
    p->cpu_count = devices ? zeus_cpu_count(devices) : 0;
    p->gpus = make(p, false, p->gpu_count);
    p->cpus = make(p, true, p->cpu_count);
    if (!p->gpus || !p->cpus) {
        zd_pollers_destroy(p);
        return NULL;
    }
    return p;
}

static void join_all(zd_poller *list, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        if (list[i].started) {
            pthread_join(list[i].thread, NULL);
            list[i].started = false;
        }
}

void zd_pollers_stop(zd_pollers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->changed);
    /* Either list is NULL when making it ran out of memory (zd_pollers_create). */
    for (unsigned i = 0; p->gpus && i < p->gpu_count; i++)
        pthread_cond_broadcast(&p->gpus[i].wake);
    for (unsigned i = 0; p->cpus && i < p->cpu_count; i++)
        pthread_cond_broadcast(&p->cpus[i].wake);
    pthread_mutex_unlock(&p->lock);
    if (p->gpus)
        join_all(p->gpus, p->gpu_count);
    if (p->cpus)
        join_all(p->cpus, p->cpu_count);
}

void zd_pollers_destroy(zd_pollers *p)
{
    if (!p)
        return;
    zd_pollers_stop(p);
    for (unsigned i = 0; p->gpus && i < p->gpu_count; i++)
        pthread_cond_destroy(&p->gpus[i].wake);
    for (unsigned i = 0; p->cpus && i < p->cpu_count; i++)
        pthread_cond_destroy(&p->cpus[i].wake);
    free(p->gpus);
    free(p->cpus);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

unsigned zd_pollers_active(zd_pollers *p)
{
    unsigned n = 0;
    pthread_mutex_lock(&p->lock);
    for (unsigned i = 0; i < p->gpu_count; i++)
        n += p->gpus[i].polling;
    for (unsigned i = 0; i < p->cpu_count; i++)
        n += p->cpus[i].polling;
    pthread_mutex_unlock(&p->lock);
    return n;
}

static zd_poller *poller(zd_pollers *p, bool cpu, unsigned id)
{
    return cpu ? &p->cpus[id] : &p->gpus[id];
}

zd_stream *zd_stream_open(zd_pollers *p, bool cpu, const unsigned *ids, size_t count)
{
    zd_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->p = p;
    st->cpu = cpu;
    st->count = count > ZD_MAX_IDS ? ZD_MAX_IDS : count;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < st->count; i++) {
        zd_poller *po = poller(p, cpu, ids[i]);
        st->ids[i] = ids[i];
        st->seen[i] = po->seq; /* only fresh samples */
        if (po->subscribers++ == 0)
            pthread_cond_signal(&po->wake);
        if (!po->started && !p->stop)
            po->started = pthread_create(&po->thread, NULL, poll_main, po) == 0;
    }
    pthread_mutex_unlock(&p->lock);
    return st;
}

long zd_stream_next(zd_stream *st, char *buf, size_t size, int timeout_ms)
{
    zd_pollers *p = st->p;
    size_t used = 0;
    struct timespec ts;
    deadline_in(&ts, (unsigned)timeout_ms);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            return -1;
        }
        for (size_t i = 0; i < st->count; i++) {
            zd_poller *po = poller(p, st->cpu, st->ids[i]);
            if (po->seq == st->seen[i])
                continue;
            char ev[192];
            int n;
            if (!st->cpu) {
                n = snprintf(ev, sizeof ev,
                             "data: {\"timestamp_ms\":%llu,\"gpu_id\":%u,\"power_mw\":%u}\n\n",
                             (unsigned long long)po->timestamp_ms, po->label, po->power_mw);
            } else {
                char dram[16] = "null";
                if (po->dram_valid)
                    snprintf(dram, sizeof dram, "%u", po->dram_mw);
                n = snprintf(ev, sizeof ev,
                             "data: {\"timestamp_ms\":%llu,\"cpu_id\":%u,\"cpu_mw\":%u,"
                             "\"dram_mw\":%s}\n\n",
                             (unsigned long long)po->timestamp_ms, po->label, po->power_mw, dram);
            }
            if (n < 0 || used + (size_t)n > size)
                break;
            memcpy(buf + used, ev, (size_t)n);
            used += (size_t)n;
            st->seen[i] = po->seq;
        }
        if (used > 0 || pthread_cond_timedwait(&p->changed, &p->lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return (long)used;
}

void zd_stream_close(zd_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->p->lock);
    for (size_t i = 0; i < st->count; i++)
        poller(st->p, st->cpu, st->ids[i])->subscribers--;
    pthread_mutex_unlock(&st->p->lock);
    free(st);
}
