/* fork() safety: one pthread_atfork registration for the whole library (see core/internal.h).
 * Order: the fork lock first (no library thread is inside a device call), then the leases,
 * the samplers, the log; released in reverse. */
#include "core/internal.h"

#include <pthread.h>

static pthread_rwlock_t fork_lock;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void prepare(void)
{
    pthread_rwlock_wrlock(&fork_lock);
    zeus__lease_atfork(ZEUS__FORK_PREPARE);
    zeus__sampler_atfork(ZEUS__FORK_PREPARE);
    zeus__log_atfork(ZEUS__FORK_PREPARE);
}

static void init_lock(void)
{
    /* Writer preference: a sampler polling at a high rate must not starve fork(). */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&fork_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

static void release(zeus__fork_phase phase)
{
    zeus__log_atfork(phase);
    zeus__sampler_atfork(phase);
    zeus__lease_atfork(phase);
    /* glibc unlocks a write-locked rwlock only for the thread id that took it, and the child's
     * thread has a new id: the child starts from a fresh lock instead. */
    if (phase == ZEUS__FORK_CHILD)
        init_lock();
    else
        pthread_rwlock_unlock(&fork_lock);
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
    init_lock();
    pthread_atfork(prepare, parent, child);
}

void zeus__fork_init(void)
{
    pthread_once(&fork_once, init_once);
}

void zeus__fork_read_begin(void)
{
    zeus__fork_init();
    pthread_rwlock_rdlock(&fork_lock);
}

void zeus__fork_read_end(void)
{
    pthread_rwlock_unlock(&fork_lock);
}
