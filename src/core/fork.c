/* fork() safety: one pthread_atfork registration for the whole library (see core/internal.h).
 * Order: first no library thread is inside a device call, then the registered hooks from the
 * highest floor down (the leases, then the samplers), then the log are locked; released in
 * reverse. Core keeps the registry and never names the floors above it.
 *
 * "Inside a device call" is a counter with a flag rather than a rwlock: a rwlock write-locked
 * by the forking thread cannot be unlocked in the child (glibc checks the thread id) and
 * re-initializing a locked one is undefined. Sequentially consistent atomics make it a Dekker
 * handshake: a thread counts itself in, then checks the flag; fork sets the flag, then waits
 * for the count to drop to zero. */
#include "core/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

static pthread_mutex_t fork_mutex = PTHREAD_MUTEX_INITIALIZER; /* one fork() at a time */
static atomic_int busy;                                        /* threads inside device calls */
static atomic_bool forking;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* The registered hooks, sorted by rank, highest first (under fork_mutex). */
#define MAX_HOOKS 8
static struct {
    zeus__fork_hook fn;
    int rank;
} hooks[MAX_HOOKS];
static size_t hook_count;

static void pause_briefly(void)
{
    zeus_sleep_ns(100 * 1000);
}

static void prepare(void)
{
    pthread_mutex_lock(&fork_mutex);
    atomic_store(&forking, true);
    while (atomic_load(&busy) > 0)
        pause_briefly();
    for (size_t i = 0; i < hook_count; i++)
        hooks[i].fn(ZEUS__FORK_PREPARE);
    zeus__log_atfork(ZEUS__FORK_PREPARE);
}

static void release(zeus__fork_phase phase)
{
    zeus__log_atfork(phase);
    for (size_t i = hook_count; i-- > 0;)
        hooks[i].fn(phase);
    if (phase == ZEUS__FORK_CHILD)
        atomic_store(&busy, 0); /* the threads that were counted stayed in the parent */
    atomic_store(&forking, false);
    pthread_mutex_unlock(&fork_mutex);
}

static void parent(void)
{
    release(ZEUS__FORK_PARENT);
}

static void child(void)
{
    release(ZEUS__FORK_CHILD);
}

static void init_once(void)
{
    pthread_atfork(prepare, parent, child);
}

void zeus__fork_init(void)
{
    pthread_once(&fork_once, init_once);
}

int zeus__fork_register(zeus__fork_hook fn, int rank)
{
    zeus__fork_init();
    int rc = ZEUS_OK;
    pthread_mutex_lock(&fork_mutex);
    size_t i = 0;
    while (i < hook_count && hooks[i].fn != fn)
        i++;
    if (i < hook_count) {
        /* already registered */
    } else if (hook_count == MAX_HOOKS) {
        rc = zeus__error(ZEUS_ENOMEM, "more than %d fork hooks", MAX_HOOKS);
    } else {
        size_t at = 0;
        while (at < hook_count && hooks[at].rank >= rank)
            at++;
        for (size_t k = hook_count; k > at; k--)
            hooks[k] = hooks[k - 1];
        hooks[at].fn = fn;
        hooks[at].rank = rank;
        hook_count++;
    }
    pthread_mutex_unlock(&fork_mutex);
    return rc;
}

void zeus__no_fork_begin(void)
{
    zeus__fork_init();
    for (;;) {
        atomic_fetch_add(&busy, 1);
        if (!atomic_load(&forking))
            return;
        /* A fork is waiting for us to be out: step back until it is done. */
        atomic_fetch_sub(&busy, 1);
        while (atomic_load(&forking))
            pause_briefly();
    }
}

void zeus__no_fork_end(void)
{
    atomic_fetch_sub(&busy, 1);
}

void zeus__thread_finish(pthread_mutex_t *lock, pthread_cond_t *wake, bool *stop, bool started,
                         pthread_t thread)
{
    if (started) {
        pthread_mutex_lock(lock);
        *stop = true;
        pthread_cond_signal(wake);
        pthread_mutex_unlock(lock);
        pthread_join(thread, NULL);
    }
    pthread_cond_destroy(wake);
    pthread_mutex_destroy(lock);
}
