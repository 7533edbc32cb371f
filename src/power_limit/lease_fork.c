/* fork() handling of the lease code: a child keeps none of the parent's threads, locks or
 * handlers, and never restores the parent's leases. */
#include "power_limit/lease_internal.h"

static void lease_atfork(zeus__fork_phase phase)
{
    if (phase == ZEUS__FORK_PREPARE) {
        zeus__lease_signals_atfork(phase);
        pthread_mutex_lock(&zeus__leases_lock);
        return;
    }
    if (phase == ZEUS__FORK_CHILD) {
        /* The child has no watchers; the parent's leases stay the parent's (their pid says
         * so), and their locks are not the child's to keep. */
        for (zeus_lease *l = zeus__leases; l; l = l->next) {
            zeus__lease_drop_locks(l);
            l->watching = false;
        }
        atomic_store(&zeus__signal_in_progress, false);
    }
    pthread_mutex_unlock(&zeus__leases_lock);
    zeus__lease_signals_atfork(phase);
}

void zeus__lease_fork_init(void)
{
    zeus__fork_register(lease_atfork, 4); /* the power_limit floor (core/internal.h) */
}

/* The fork hook (which also covers the restore thread's state) is registered before the thread
 * starts; lease_signal.c knows nothing of fork handling. */
int zeus_install_signal_handlers(void)
{
    zeus__lease_fork_init();
    return zeus__lease_signals_install();
}
