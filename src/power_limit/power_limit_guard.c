/* Restoring original power limits at exit and on SIGINT/SIGTERM (see power_limit_guard.h). */
#include "power_limit/power_limit_guard.h"

#include "core/internal.h"
#include "zeus/monitor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUARD_SLOTS 32
#define RESTORE_TIMEOUT_S 5

struct zeus_pl_guard {
    atomic_int active; /* 1: published, the handler may use it */
    zeus_devices *devices;
    pid_t pid;
    size_t count;
    unsigned gpus[ZEUS_MAX_GPUS];
    unsigned originals[ZEUS_MAX_GPUS];
    bool on_signal;
    bool on_exit;
    atomic_int signalled;
};

static zeus_pl_guard slots[GUARD_SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static int signal_users;
static bool exit_hook_registered;

static const int guarded_signals[] = {SIGINT, SIGTERM};
static struct sigaction previous[ZEUS_ARRAY_LEN(guarded_signals)];
static bool installed[ZEUS_ARRAY_LEN(guarded_signals)];

/* Async-signal-safe apart from the device call itself: no locks of ours, no allocation. */
static void restore_all(bool from_signal)
{
    pid_t self = getpid();
    for (size_t i = 0; i < GUARD_SLOTS; i++) {
        zeus_pl_guard *g = &slots[i];
        if (atomic_load(&g->active) != 1 || g->pid != self)
            continue;
        if (from_signal ? !g->on_signal : !g->on_exit)
            continue;
        for (size_t k = 0; k < g->count; k++)
            zeus_gpu_set_power_limit_mw(g->devices, g->gpus[k], g->originals[k]);
        if (from_signal)
            atomic_store(&g->signalled, 1);
    }
}

static void exit_hook(void)
{
    restore_all(false);
}

static void signal_handler(int sig, siginfo_t *info, void *context)
{
    int saved_errno = errno;
    size_t which = 0;
    while (which + 1 < ZEUS_ARRAY_LEN(guarded_signals) && guarded_signals[which] != sig)
        which++;

    /* A lock held by the interrupted thread must not turn the restore into a hang. */
    struct sigaction alarm_default, alarm_previous;
    memset(&alarm_default, 0, sizeof alarm_default);
    alarm_default.sa_handler = SIG_DFL;
    sigemptyset(&alarm_default.sa_mask);
    sigaction(SIGALRM, &alarm_default, &alarm_previous);
    unsigned pending_alarm = alarm(RESTORE_TIMEOUT_S);
    restore_all(true);
    alarm(pending_alarm);
    sigaction(SIGALRM, &alarm_previous, NULL);

    const struct sigaction *prev = &previous[which];
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction)
            prev->sa_sigaction(sig, info, context);
    } else if (prev->sa_handler == SIG_DFL) {
        /* Default action: uninstall ourselves and re-raise. The signal is blocked while we run,
         * so it is delivered (and terminates the process) as soon as we return. */
        sigaction(sig, prev, NULL);
        raise(sig);
    } else if (prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
    }
    errno = saved_errno;
}

static bool is_ours(int sig)
{
    struct sigaction cur;
    return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == signal_handler;
}

/* Called with slots_lock held. A signal that is ignored stays ignored: it cannot end the
 * process, so there is nothing to restore. */
static void install_handlers(void)
{
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(guarded_signals); i++) {
        int sig = guarded_signals[i];
        struct sigaction cur;
        if (installed[i] || sigaction(sig, NULL, &cur) != 0)
            continue;
        if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN)
            continue;
        struct sigaction act;
        memset(&act, 0, sizeof act);
        act.sa_sigaction = signal_handler;
        act.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&act.sa_mask);
        for (size_t k = 0; k < ZEUS_ARRAY_LEN(guarded_signals); k++)
            sigaddset(&act.sa_mask, guarded_signals[k]);
        previous[i] = cur;
        if (sigaction(sig, &act, NULL) == 0)
            installed[i] = true;
    }
}

/* Called with slots_lock held when the last guard that wanted signals goes. If someone
 * installed a handler over ours since, ours stays (it only chains when no guard is left). */
static void uninstall_handlers(void)
{
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(guarded_signals); i++) {
        if (!installed[i] || !is_ours(guarded_signals[i]))
            continue;
        if (sigaction(guarded_signals[i], &previous[i], NULL) == 0)
            installed[i] = false;
    }
}

/* The table is changed with the guarded signals blocked in this thread, so our own handler
 * never sees it half-way from this thread; other threads only read published slots. */
static void block_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(guarded_signals); i++)
        sigaddset(&set, guarded_signals[i]);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

int zeus__pl_guard_register(zeus_devices *devices, const unsigned *gpus, const unsigned *originals,
                            size_t count, bool on_signal, bool on_exit, zeus_pl_guard **out)
{
    *out = NULL;
    if (count > ZEUS_MAX_GPUS)
        return zeus__error(ZEUS_EINVAL, "too many GPUs to guard: %zu", count);
    sigset_t old;
    block_signals(&old);
    pthread_mutex_lock(&slots_lock);
    zeus_pl_guard *g = NULL;
    for (size_t i = 0; i < GUARD_SLOTS && !g; i++)
        if (atomic_load(&slots[i].active) == 0)
            g = &slots[i];
    int rc = ZEUS_OK;
    if (!g) {
        rc = zeus__error(ZEUS_ENOMEM, "more than %d power-limit optimizers alive in this process",
                         GUARD_SLOTS);
        goto done;
    }
    g->devices = devices;
    g->pid = getpid();
    g->count = count;
    memcpy(g->gpus, gpus, count * sizeof *gpus);
    memcpy(g->originals, originals, count * sizeof *originals);
    g->on_signal = on_signal;
    g->on_exit = on_exit;
    atomic_store(&g->signalled, 0);
    atomic_store(&g->active, 1);
    if (on_signal && signal_users++ == 0)
        install_handlers();
    if (on_exit && !exit_hook_registered && atexit(exit_hook) == 0)
        exit_hook_registered = true;
    *out = g;
done:
    pthread_mutex_unlock(&slots_lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void zeus__pl_guard_unregister(zeus_pl_guard *g)
{
    if (!g)
        return;
    sigset_t old;
    block_signals(&old);
    pthread_mutex_lock(&slots_lock);
    atomic_store(&g->active, 0);
    if (g->on_signal && --signal_users == 0)
        uninstall_handlers();
    pthread_mutex_unlock(&slots_lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

bool zeus__pl_guard_take_signalled(zeus_pl_guard *g)
{
    return g && atomic_load_explicit(&g->signalled, memory_order_relaxed) &&
           atomic_exchange(&g->signalled, 0);
}
