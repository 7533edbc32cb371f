/* The signal restore thread: an async-signal-safe handler writes the signal to a pipe; a thread
 * puts back the leases and passes the signal on (zeus_install_signal_handlers). */
#include "power_limit/lease_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static const int handled_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define SIGNAL_COUNT ZEUS_ARRAY_LEN(handled_signals)

/* Signal state, changed under signals_lock; the handler reads only the pipe and the pid. */
static pthread_mutex_t signals_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous[SIGNAL_COUNT];
static bool installed[SIGNAL_COUNT];
static bool thread_running;
static pthread_t restore_thread;
static int pipe_fds[2] = {-1, -1};
static volatile sig_atomic_t handler_pipe = -1; /* write end, -1 when there is no thread */
static volatile sig_atomic_t handler_pid;       /* the process whose thread reads the pipe */

static size_t signal_slot(int sig)
{
    for (size_t i = 0; i < SIGNAL_COUNT; i++)
        if (handled_signals[i] == sig)
            return i;
    return 0;
}

/* Async-signal-safe: one write of the siginfo (atomic below PIPE_BUF). Where no restore thread
 * reads the pipe in this process (a forked child before its fork handler ran), the signal goes
 * straight on as if we were not there. */
static void signal_handler(int sig, siginfo_t *info, void *context)
{
    int saved_errno = errno;
    int fd = handler_pipe;
    if (fd >= 0 && handler_pid == getpid()) {
        if (write(fd, info, sizeof *info) != (ssize_t)sizeof *info) {
            /* pipe full: a restore is already on its way */
        }
    } else {
        const struct sigaction *prev = &previous[signal_slot(sig)];
        if (prev->sa_flags & SA_SIGINFO) {
            if (prev->sa_sigaction)
                prev->sa_sigaction(sig, info, context);
        } else if (prev->sa_handler == SIG_DFL) {
            sigaction(sig, prev, NULL);
            raise(sig); /* delivered when we return: blocked while we run */
        } else if (prev->sa_handler != SIG_IGN) {
            prev->sa_handler(sig);
        }
    }
    errno = saved_errno;
}

static bool is_ours(int sig)
{
    struct sigaction cur;
    return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == signal_handler;
}

/* What the signal would have done without us, from the restore thread. */
static void pass_on(const siginfo_t *info)
{
    int sig = info->si_signo;
    size_t i = signal_slot(sig);
    pthread_mutex_lock(&signals_lock);
    struct sigaction prev = previous[i];
    pthread_mutex_unlock(&signals_lock);
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction)
            prev.sa_sigaction(sig, (siginfo_t *)info, NULL);
    } else if (prev.sa_handler == SIG_DFL) {
        /* Die of the signal, as without us: the default action, raised in this thread with it
         * unblocked here. */
        sigaction(sig, &prev, NULL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
    } else if (prev.sa_handler != SIG_IGN) {
        prev.sa_handler(sig);
    }
}

static void *restore_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        siginfo_t info;
        ssize_t n = read(fd, &info, sizeof info);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof info || info.si_signo == 0)
            return NULL; /* closed, or zeus_uninstall_signal_handlers */
        atomic_store(&zeus__signal_in_progress, true);
        zeus__no_fork_begin();
        zeus__lease_restore_all(ZEUS_LEASE_RESTORE_ON_SIGNAL, "on a signal");
        zeus__no_fork_end();
        pass_on(&info);
        /* Still alive: the previous handler let the process go on. */
        atomic_store(&zeus__signal_in_progress, false);
    }
}

/* Called with signals_lock held. */
static void uninstall_locked(bool stop_thread)
{
    for (size_t i = 0; i < SIGNAL_COUNT; i++) {
        if (installed[i] && is_ours(handled_signals[i]))
            sigaction(handled_signals[i], &previous[i], NULL);
        installed[i] = false;
    }
    handler_pipe = -1;
    if (thread_running && stop_thread) {
        siginfo_t stop;
        memset(&stop, 0, sizeof stop);
        if (write(pipe_fds[1], &stop, sizeof stop) == (ssize_t)sizeof stop &&
            !pthread_equal(pthread_self(), restore_thread))
            pthread_join(restore_thread, NULL);
        else
            pthread_detach(restore_thread);
    }
    thread_running = false;
    for (int k = 0; k < 2; k++) {
        if (pipe_fds[k] >= 0)
            close(pipe_fds[k]);
        pipe_fds[k] = -1;
    }
}

int zeus__lease_signals_install(void)
{
    pthread_mutex_lock(&signals_lock);
    int rc = ZEUS_OK;
    if (thread_running)
        goto done;
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        rc = zeus__error(ZEUS_EIO, "cannot make the signal pipe: %s", strerror(errno));
        goto done;
    }
    fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK);
    /* The thread blocks every signal: it must never run our handler itself. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int created =
        pthread_create(&restore_thread, NULL, restore_main, (void *)(intptr_t)pipe_fds[0]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (created != 0) {
        uninstall_locked(false);
        rc = zeus__error(ZEUS_ENOMEM, "cannot start the restore thread");
        goto done;
    }
    thread_running = true;
    handler_pid = getpid();
    handler_pipe = pipe_fds[1];
    for (size_t i = 0; i < SIGNAL_COUNT; i++) {
        int sig = handled_signals[i];
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) != 0)
            continue;
        /* An ignored signal cannot end the process: nothing to restore. */
        if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN)
            continue;
        struct sigaction act;
        memset(&act, 0, sizeof act);
        act.sa_sigaction = signal_handler;
        act.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&act.sa_mask);
        previous[i] = cur;
        if (sigaction(sig, &act, NULL) == 0)
            installed[i] = true;
    }
done:
    pthread_mutex_unlock(&signals_lock);
    return rc;
}

void zeus_uninstall_signal_handlers(void)
{
    pthread_mutex_lock(&signals_lock);
    uninstall_locked(true);
    pthread_mutex_unlock(&signals_lock);
}

bool zeus__lease_handlers_installed(void)
{
    pthread_mutex_lock(&signals_lock);
    bool yes = thread_running;
    pthread_mutex_unlock(&signals_lock);
    return yes;
}

void zeus__lease_add_handled_signals(sigset_t *set)
{
    for (size_t i = 0; i < SIGNAL_COUNT; i++)
        sigaddset(set, handled_signals[i]);
}

void zeus__lease_signals_atfork(zeus__fork_phase phase)
{
    if (phase == ZEUS__FORK_PREPARE) {
        pthread_mutex_lock(&signals_lock);
        return;
    }
    if (phase == ZEUS__FORK_CHILD) {
        /* The child has no restore thread: back to the dispositions found at install. */
        handler_pipe = -1;
        uninstall_locked(false);
    }
    pthread_mutex_unlock(&signals_lock);
}
