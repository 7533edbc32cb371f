/* The watched client: a thread that puts a lease back when its client process exits or its
 * connection closes (zeus_lease_watch_pid, zeus_lease_watch_connection). */
#include "power_limit/lease_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void zeus__lease_stop_watcher(zeus_lease *l)
{
    if (!l->watching)
        return;
    if (write(l->stop_pipe[1], "x", 1) != 1) {
        /* the pipe is ours and empty: cannot fail short of a bug */
    }
    pthread_join(l->watcher, NULL);
    l->watching = false;
}

void zeus__lease_close_watch_fds(zeus_lease *l)
{
    int *fds[] = {&l->watch_fd, &l->stop_pipe[0], &l->stop_pipe[1]};
    for (size_t i = 0; i < ZEUS_ARRAY_LEN(fds); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

static bool client_exited(pid_t pid)
{
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    /* A zombie (exited, not yet reaped) still answers kill(). */
    zeus__process_id who;
    return zeus__process_identity(pid, &who) == ZEUS_OK && who.zombie;
}

static void *watcher_main(void *arg)
{
    zeus_lease *l = arg;
    /* A pidfd is readable when the process exits; a connection hangs up when its peer closes. */
    short events = l->watched_pid ? POLLIN : POLLRDHUP;
    struct pollfd fds[2] = {{.fd = l->stop_pipe[0], .events = POLLIN},
                            {.fd = l->watch_fd, .events = events}};
    for (;;) {
        /* Without a pidfd (kernels before 5.3) the process is polled every 50 ms. */
        int n = poll(fds, l->watch_fd >= 0 ? 2 : 1, l->watch_fd >= 0 ? -1 : 50);
        if (n < 0 && errno != EINTR)
            return NULL;
        if (n > 0 && fds[0].revents)
            return NULL; /* released */
        bool gone = l->watch_fd >= 0 ? n > 0 && fds[1].revents : client_exited(l->watched_pid);
        if (!gone)
            continue;
        zeus__no_fork_begin();
        restore_report r = {.len = 0};
        pthread_mutex_lock(&l->lock);
        zeus__lease_restore_locked(l, &r);
        l->client_gone = true;
        pthread_mutex_unlock(&l->lock);
        zeus__no_fork_end();
        zeus__lease_log_report(&r, "lease client gone");
        atomic_store(&l->client_gone_seen, true);
        if (l->watched_pid)
            ZEUS_INFO("lease: client process %ld exited; its changes were put back",
                      (long)l->watched_pid);
        else
            ZEUS_INFO("lease: the client's connection closed; its changes were put back");
        return NULL;
    }
}

/* Starts the watcher over l->watch_fd (or l->watched_pid polled). */
static int start_watcher(zeus_lease *l)
{
    if (pipe2(l->stop_pipe, O_CLOEXEC) != 0) {
        int rc = zeus__error(ZEUS_EIO, "cannot make a pipe: %s", strerror(errno));
        zeus__lease_close_watch_fds(l);
        return rc;
    }
    if (pthread_create(&l->watcher, NULL, watcher_main, l) != 0) {
        zeus__lease_close_watch_fds(l);
        return zeus__error(ZEUS_ENOMEM, "cannot start the lease watcher thread");
    }
    l->watching = true;
    return ZEUS_OK;
}

static int check_not_watching(const zeus_lease *l)
{
    if (!l->watching)
        return ZEUS_OK;
    if (l->watched_pid)
        return zeus__error(ZEUS_ESTATE, "this lease already watches process %ld",
                           (long)l->watched_pid);
    return zeus__error(ZEUS_ESTATE, "this lease already watches a connection");
}

int zeus_lease_watch_pid(zeus_lease *l, pid_t pid)
{
    if (pid <= 0)
        return zeus__error(ZEUS_EINVAL, "cannot watch process %ld", (long)pid);
    int rc = check_not_watching(l);
    if (rc != ZEUS_OK)
        return rc;
#ifdef SYS_pidfd_open
    l->watch_fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (l->watch_fd < 0 && errno == ESRCH)
        return zeus__error(ZEUS_ENOENT, "process %ld does not exist", (long)pid);
#endif
    if (l->watch_fd < 0 && kill(pid, 0) != 0 && errno == ESRCH)
        return zeus__error(ZEUS_ENOENT, "process %ld does not exist", (long)pid);
    l->watched_pid = pid;
    /* From now on the journal names the client: if this process dies, the next lease of the
     * GPU (a restarted daemon) finds out whether the client still lives. */
    zeus__process_id who;
    if (zeus__process_identity(pid, &who) == ZEUS_OK) {
        pthread_mutex_lock(&l->lock);
        l->holder = who;
        for (size_t i = 0; i < l->count; i++)
            if (l->gpus[i].journal_written)
                zeus__journal_sync(l, &l->gpus[i]);
        pthread_mutex_unlock(&l->lock);
    }
    return start_watcher(l);
}

int zeus_lease_watch_connection(zeus_lease *l, int fd)
{
    int rc = check_not_watching(l);
    if (rc != ZEUS_OK)
        return rc;
    /* Our own reference: the caller may close its descriptor, only the peer's close counts. */
    l->watch_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (l->watch_fd < 0)
        return zeus__error(ZEUS_EINVAL, "cannot watch descriptor %d: %s", fd, strerror(errno));
    l->watched_pid = 0;
    return start_watcher(l);
}
