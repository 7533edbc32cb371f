/* One worker per GPU carrying out changes in arrival order (the original's management task):
 * block=true waits for its changes, block=false returns at once and its errors are only
 * logged. Different GPUs change in parallel. */
#include "zeusd.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    struct zd_queue *owner;
    unsigned gpu;
    pthread_t thread;
    bool started;
    pthread_cond_t wake;
    zd_change *head, *tail;
} zd_worker;

struct zd_queue {
    pthread_mutex_t lock;
    pthread_cond_t done; /* a blocking change finished */
    bool stop;
    zd_leases *leases;
    zd_worker *workers;
    unsigned count;
};

static void *worker_main(void *arg)
{
    zd_worker *w = arg;
    zd_queue *q = w->owner;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!w->head && !q->stop)
            pthread_cond_wait(&w->wake, &q->lock);
        zd_change *c = w->head;
        if (!c)
            break; /* stopping, and everything queued was carried out */
        w->head = c->next;
        if (!w->head)
            w->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        c->rc = zd_leases_set(q->leases, c->gpu, &c->setting, &c->who, c->err, sizeof c->err);
        zd_log(c->rc == 0 ? "INFO" : "WARN", "%s: %s", c->what, c->rc == 0 ? "ok" : c->err);
        pthread_mutex_lock(&q->lock);
        if (c->blocking) {
            c->done = true;
            pthread_cond_broadcast(&q->done);
        } else {
            free(c);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

zd_queue *zd_queue_create(zd_leases *leases, unsigned gpus)
{
    zd_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->workers = calloc(gpus ? gpus : 1, sizeof *q->workers);
    if (!q->workers) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->done, NULL);
    q->leases = leases;
    q->count = gpus;
    for (unsigned i = 0; i < gpus; i++) {
        q->workers[i].owner = q;
        q->workers[i].gpu = i;
        pthread_cond_init(&q->workers[i].wake, NULL);
    }
    return q;
}

void zd_queue_destroy(zd_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    for (unsigned i = 0; i < q->count; i++)
        pthread_cond_signal(&q->workers[i].wake);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->count; i++) {
        if (q->workers[i].started)
            pthread_join(q->workers[i].thread, NULL);
        /* Never started: nothing was queued for it. */
        pthread_cond_destroy(&q->workers[i].wake);
    }
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->lock);
    free(q->workers);
    free(q);
}

int zd_queue_submit(zd_queue *q, zd_change *c)
{
    if (c->gpu >= q->count)
        return -1;
    zd_worker *w = &q->workers[c->gpu];
    pthread_mutex_lock(&q->lock);
    if (q->stop ||
        (!w->started && !(w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0))) {
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    c->next = NULL;
    c->done = false;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

void zd_queue_wait(zd_queue *q, zd_change *c)
{
    pthread_mutex_lock(&q->lock);
    while (!c->done)
        pthread_cond_wait(&q->done, &q->lock);
    pthread_mutex_unlock(&q->lock);
}
