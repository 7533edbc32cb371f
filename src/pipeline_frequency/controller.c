/* The pipeline frequency optimizer's frequency controller (spec 2 of pipeline-frequency-api.md):
 * a thread that locks SM clocks through a lease, fed by a queue the training thread never waits
 * on for longer than a mutex. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "zeus/lease.h"
#include "zeus/pipeline_frequency.h"

#define QUEUE_LEN 4096

struct zeus_pf_controller {
    zeus_devices *devices;
    unsigned gpu;
    zeus_lease *lease;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t applied; /* signalled when the queue drains (zeus_pf_controller_wait) */
    bool busy;              /* a lock call is in flight */
    unsigned queue[QUEUE_LEN];
    size_t head, len;
    bool stop;
    unsigned max_mhz, current_mhz;
    unsigned long locks;
};

static void *run(void *arg)
{
    zeus_pf_controller *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->len == 0 && !c->stop) {
            c->busy = false;
            pthread_cond_broadcast(&c->applied);
            pthread_cond_wait(&c->cond, &c->lock);
        }
        if (c->len == 0)
            break;
        unsigned f = c->queue[c->head];
        c->head = (c->head + 1) % QUEUE_LEN;
        c->len--;
        c->busy = true;
        if (f == c->current_mhz)
            continue; /* the original's deduplication */
        pthread_mutex_unlock(&c->lock);
        int rc = zeus_lease_set_locked_clocks(c->lease, c->gpu, ZEUS_CLOCK_GPU, f, f);
        pthread_mutex_lock(&c->lock);
        if (rc == ZEUS_OK) {
            c->current_mhz = f;
            c->locks++;
        } else {
            ZEUS_WARN("pipeline frequency controller: GPU %u: locking %u MHz failed: %s", c->gpu, f,
                      zeus_last_error());
        }
    }
    c->busy = false;
    pthread_cond_broadcast(&c->applied);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int zeus_pf_controller_start(zeus_devices *devices, unsigned gpu, zeus_pf_controller **out)
{
    if (!devices || !out)
        return zeus__error(ZEUS_EINVAL, "zeus_pf_controller_start: NULL argument");
    *out = NULL;
    zeus_pf_controller *c = calloc(1, sizeof *c);
    if (!c)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    c->devices = devices;
    c->gpu = gpu;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_cond_init(&c->applied, NULL);
    int rc = zeus_lease_create(
        devices, &gpu, 1, ZEUS_LEASE_RESTORE_AT_EXIT | ZEUS_LEASE_RESTORE_ON_SIGNAL, &c->lease);
    if (rc < 0)
        goto fail;
    zeus_gpu_info info;
    unsigned limit;
    if ((rc = zeus_gpu_get_info(devices, gpu, &info)) < 0 ||
        (rc = zeus_gpu_power_limit_mw(devices, gpu, &limit)) < 0)
        goto fail;
    if (limit != info.default_power_limit_mw &&
        (rc = zeus_lease_set_power_limit_mw(c->lease, gpu, info.default_power_limit_mw)) < 0)
        goto fail;
    unsigned mem[64], n = 64, mem_max = 0;
    if ((rc = zeus_gpu_supported_clocks(devices, gpu, ZEUS_CLOCK_MEMORY, 0, mem, &n)) < 0)
        goto fail;
    for (unsigned i = 0; i < n; i++)
        mem_max = mem[i] > mem_max ? mem[i] : mem_max;
    rc = zeus_lease_set_locked_clocks(c->lease, gpu, ZEUS_CLOCK_MEMORY, mem_max, mem_max);
    if (rc < 0 && rc != ZEUS_ENOTSUP)
        goto fail;
    unsigned sm[512];
    n = 512;
    if ((rc = zeus_gpu_supported_clocks(devices, gpu, ZEUS_CLOCK_GPU, mem_max, sm, &n)) < 0)
        goto fail;
    for (unsigned i = 0; i < n; i++)
        c->max_mhz = sm[i] > c->max_mhz ? sm[i] : c->max_mhz;
    if ((rc = zeus_lease_set_locked_clocks(c->lease, gpu, ZEUS_CLOCK_GPU, c->max_mhz, c->max_mhz)) <
        0)
        goto fail;
    c->current_mhz = c->max_mhz;
    c->locks = 1;
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        rc = zeus__error(ZEUS_ENOMEM, "cannot start the frequency controller thread");
        goto fail;
    }
    *out = c;
    return 0;
fail:;
    char detail[ZEUS_ERROR_DETAIL_LEN];
    snprintf(detail, sizeof detail, "%s", zeus_last_error());
    zeus_lease_release(c->lease);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    pthread_cond_destroy(&c->applied);
    free(c);
    return zeus__error(rc, "pipeline frequency controller on GPU %u: %s", gpu, detail);
}

int zeus_pf_controller_set_frequency(zeus_pf_controller *c, unsigned mhz)
{
    if (!c)
        return zeus__error(ZEUS_EINVAL, "zeus_pf_controller_set_frequency: NULL controller");
    if (mhz == 0)
        return 0; /* 0: leave the clock as it is */
    pthread_mutex_lock(&c->lock);
    if (c->stop) {
        pthread_mutex_unlock(&c->lock);
        return zeus__error(ZEUS_ESTATE, "the frequency controller has stopped");
    }
    if (c->len == QUEUE_LEN) /* far behind: the newest frequency is the one that matters */
        c->queue[(c->head + c->len - 1) % QUEUE_LEN] = mhz;
    else
        c->queue[(c->head + c->len++) % QUEUE_LEN] = mhz;
    c->busy = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void zeus_pf_controller_wait(zeus_pf_controller *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    while (c->busy && !c->stop)
        pthread_cond_wait(&c->applied, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

void zeus_pf_controller_state(zeus_pf_controller *c, unsigned *max_mhz, unsigned *current_mhz,
                              unsigned long *locks)
{
    pthread_mutex_lock(&c->lock);
    if (max_mhz)
        *max_mhz = c->max_mhz;
    if (current_mhz)
        *current_mhz = c->current_mhz;
    if (locks)
        *locks = c->locks;
    pthread_mutex_unlock(&c->lock);
}

void zeus_pf_controller_stop(zeus_pf_controller *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    zeus_lease_release(c->lease); /* unlocks the clocks, puts the power limit back */
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    pthread_cond_destroy(&c->applied);
    free(c);
}
