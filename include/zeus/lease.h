/* Zeus limit leases: changing GPU settings so that they are put back.
 *
 * A lease covers some GPUs. Creating it takes an advisory lock per GPU (so two changers of the
 * same GPUs take turns, see below) and records each GPU's current power limit, refusing a GPU
 * whose limit cannot be read back (nothing could restore it). Changes made through the lease
 * (and clocks it locked, reset: see zeus_lease_set_locked_clocks) are put back when it is released,
 * and, as its flags ask, when the process exits normally (atexit), on SIGINT/SIGTERM/SIGHUP (once
 * zeus_install_signal_handlers() was called), and when a client process it is tied to exits,
 * however it exits (zeus_lease_watch_pid, or zeus_lease_watch_connection for a client's socket). A
 * lease that should keep its changes is committed first (zeus_lease_commit).
 *
 *   zeus_lease *lease;
 *   zeus_lease_create(devices, gpus, 2, ZEUS_LEASE_RESTORE_AT_EXIT |
 *                                       ZEUS_LEASE_RESTORE_ON_SIGNAL, &lease);
 *   zeus_lease_set_power_limit_mw(lease, gpus[0], 200000);
 *   ...
 *   zeus_lease_release(lease);                 // GPU back to the limit it had
 *
 * Signals. The library installs no signal handler by itself: a Python interpreter, for one,
 * keeps its own KeyboardInterrupt handling. An application (the zeus command, the C examples)
 * that wants its GPUs restored when interrupted calls zeus_install_signal_handlers() once. The
 * handler is async-signal-safe by design: it only writes the signal to a pipe. A restore thread
 * (started by the install call) wakes, puts back every lease of this process that has
 * ZEUS_LEASE_RESTORE_ON_SIGNAL, and then passes the signal on: to the handler that was
 * installed before (called from that thread), or, for the default action, by re-raising it so
 * that the process dies of it as it would have. A thread interrupted inside a device call keeps
 * its locks only until the call returns, so the restore never waits on its own thread (this was
 * a deadlock with an in-handler restore). While a signal is being handled, changes through any
 * lease fail with ZEUS_ESTATE. A signal that is ignored when handlers are installed stays
 * ignored. SIGKILL cannot be caught: see the journal below.
 *
 * The journal (crash safety). Before a lease first changes a GPU (and whenever what it would put
 * back changes) it writes, fsyncs and renames into place one small file per GPU,
 * gpu-<UUID>.journal in zeus_journal_dir() (the lock directory unless zeus_set_journal_dir
 * chose another, as zeusd's --state-dir does): the GPU, its original limit, persistence mode and
 * locked clocks, and the holder (this process, or the client it watches) by pid, start time
 * and boot. The file is removed once everything is put back (or committed). A holder killed
 * with -9 leaves it behind; the next lease of that GPU (any process: the optimizer, `zeus
 * power-limit set|reset|recover`, a daemon) finds it after taking the GPU's lock and, if the
 * holder is gone (no such pid, or the pid now belongs to a process started at another time),
 * puts the GPU back at once. If the holder still lives without holding the lock (a daemon
 * that was restarted), the new lease carries on its record, so that it later puts back the
 * true original. So a GPU is never left changed past the next lease of it.
 *
 * Locks. Each GPU has a lock file named after its UUID in the directory zeus_lock_dir() names
 * (zeus_set_lock_dir, $ZEUS_LOCK_DIR, /run/zeus for root, /tmp/zeus-locks-<uid>); a lease holds
 * flock() on it from creation to release. Every changer in Zeus takes it (the optimizer, `zeus
 * power-limit`, a daemon), so concurrent changes of the same GPU are serialized rather than
 * interleaved. A lease waits up to ZEUS_LEASE_LOCK_WAIT_S for a lock held elsewhere
 * (ZEUS_LEASE_NO_WAIT: not at all), then fails with ZEUS_ETIMEOUT naming the holder's process. The
 * lock is advisory: nvidia-smi does not take it.
 *
 * Nesting. A second lease of the same process on a GPU (a second optimizer in a notebook) is
 * made at once: it shares the first one's lock and its record of what to put back (so its
 * zeus_lease_original_mw is what the GPU had before the first lease, not the first lease's
 * setting). Releasing one of them leaves the GPU to the others, with what it changed; the GPU is
 * put back when the last of them is released (zeus_lease_restore, the exit and signal paths
 * still put it back at once). As in the original, the last setting made wins meanwhile.
 *
 * Simulated GPUs whose settings live in this process only (the sim backend without
 * ZEUS_SIM_STATE) take no lock.
 *
 * fork(). A child inherits no restore thread, no watcher thread and no signal handler of ours
 * (they are put back to what they were before zeus_install_signal_handlers). The parent's leases
 * stay the parent's: the child never restores them, not at exit, not on a signal, not on release
 * (releasing one in the child only frees its memory), and it does not keep their locks.
 *
 * Thread safety: every function may be called from any thread; one lease's changes are
 * serialized; zeus_lease_release must not race with other calls on the same lease. A lease
 * must be released before its devices are closed (the exit and signal paths use them).
 */
#ifndef ZEUS_LEASE_H
#define ZEUS_LEASE_H

#include "zeus/common.h"
#include "zeus/device.h"

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zeus_lease zeus_lease;

enum {
    ZEUS_LEASE_RESTORE_AT_EXIT = 1u << 0,   /* put back at normal process exit (atexit) */
    ZEUS_LEASE_RESTORE_ON_SIGNAL = 1u << 1, /* put back on SIGINT/SIGTERM/SIGHUP (see above) */
    ZEUS_LEASE_PERSISTENCE = 1u << 2,       /* also record persistence mode, to put it back */
    ZEUS_LEASE_NO_WAIT = 1u << 3,           /* fail at once if a GPU's lock is held elsewhere */
    /* Break a lock held by another process at once (an operator taking a GPU back; the zeus
     * command allows it to root only, with --force). The holder keeps its flock, but a marker
     * beside the lock file tells it that the GPU was taken: its later changes of that GPU fail
     * with ZEUS_ESTATE naming who took it, and it puts nothing back there. The new lease
     * carries on the holder's record (the journal), so it puts back the true original. Logged
     * (a warning) with both processes' identities. */
    ZEUS_LEASE_FORCE = 1u << 4
};

/* How long a lease waits for a GPU lock held by another lease, seconds. */
#define ZEUS_LEASE_LOCK_WAIT_S 10

/* Covers count GPUs (framework indices; gpus NULL: every GPU). ZEUS_EINVAL for a repeated or
 * missing GPU; ZEUS_ETIMEOUT when a lock stays held elsewhere; the device's error when a GPU's
 * power limit (or, with ZEUS_LEASE_PERSISTENCE, persistence mode where the backend can read it)
 * cannot be read. Nothing is changed by creating a lease. */
ZEUS_API int zeus_lease_create(zeus_devices *devices, const unsigned *gpus, size_t count,
                               unsigned flags, zeus_lease **out);
/* Puts back what the lease changed (unless committed), drops its locks, frees. NULL: no-op. */
ZEUS_API void zeus_lease_release(zeus_lease *lease);

ZEUS_API size_t zeus_lease_gpu_count(const zeus_lease *lease);
ZEUS_API unsigned zeus_lease_gpu(const zeus_lease *lease, size_t i);
/* The limit the GPU had when the lease was created (what a restore puts back). */
ZEUS_API int zeus_lease_original_mw(const zeus_lease *lease, unsigned gpu, unsigned *limit_mw);

/* Changes one covered GPU (ZEUS_EINVAL if the lease does not cover it, ZEUS_ERANGE outside its
 * range, ZEUS_ESTATE while a signal is handled or after the watched client exited). */
ZEUS_API int zeus_lease_set_power_limit_mw(zeus_lease *lease, unsigned gpu, unsigned limit_mw);
/* Changes every covered GPU, limits_mw[i] for zeus_lease_gpu(lease, i), all or nothing: every
 * range is checked before any GPU is changed, and if one GPU fails (or a signal arrives) the
 * GPUs already changed are put back to what they had before this call. */
ZEUS_API int zeus_lease_set_power_limits_mw(zeus_lease *lease, const unsigned *limits_mw);
ZEUS_API int zeus_lease_set_persistence_mode(zeus_lease *lease, unsigned gpu, bool enabled);
/* Locks / unlocks a covered GPU's clock domain (zeus_gpu_set_locked_clocks,
 * zeus_gpu_reset_locked_clocks). Clocks are put back by unlocking them (a reset to the driver's
 * default), because no driver call reads a locked range back: a domain the lease locked is reset
 * on restore; a range that was locked before the lease is not locked again. A reset through the
 * lease leaves nothing to put back for that domain. */
ZEUS_API int zeus_lease_set_locked_clocks(zeus_lease *lease, unsigned gpu, zeus_clock_domain domain,
                                          unsigned min_mhz, unsigned max_mhz);
ZEUS_API int zeus_lease_reset_locked_clocks(zeus_lease *lease, unsigned gpu,
                                            zeus_clock_domain domain);
/* Puts everything back now; the lease stays usable. */
ZEUS_API int zeus_lease_restore(zeus_lease *lease);
/* Keeps the current settings: from now on nothing is put back (until the next change). */
ZEUS_API int zeus_lease_commit(zeus_lease *lease);
/* True once after a signal put this lease's GPUs back and the process went on (the handler
 * installed before ours did not end it): the owner may set its limits again. */
ZEUS_API bool zeus_lease_take_signalled(zeus_lease *lease);

/* For a daemon: ties the lease to a client process. When that process exits, however (kill -9
 * included), a watcher thread puts the lease's changes back, and later changes fail with
 * ZEUS_ESTATE; the holder still releases the lease. One watched process per lease. */
ZEUS_API int zeus_lease_watch_pid(zeus_lease *lease, pid_t pid);
/* The same for a client connected through a socket (or a pipe's read end): when the peer
 * closes its end -- however it exits -- the changes are put back. The lease keeps its own
 * duplicate of fd. */
ZEUS_API int zeus_lease_watch_connection(zeus_lease *lease, int fd);
/* True once the watched client exited and its changes were put back. */
ZEUS_API bool zeus_lease_client_gone(zeus_lease *lease);

/* Installs the SIGINT/SIGTERM/SIGHUP handlers and starts the restore thread (see above).
 * Idempotent. Call it from the main thread before starting other threads if you can. */
ZEUS_API int zeus_install_signal_handlers(void);
/* Puts back the dispositions found at install (unless someone replaced ours since) and stops
 * the restore thread. */
ZEUS_API void zeus_uninstall_signal_handlers(void);

/* The directory of the per-GPU lock files (created if missing): the one set with
 * zeus_set_lock_dir, else $ZEUS_LOCK_DIR, else /run/zeus (root), else /tmp/zeus-locks-<uid>. */
ZEUS_API int zeus_lock_dir(char *path, size_t size);
/* Sets the lock directory for this process (NULL or "": back to the environment and defaults).
 * Every process that should exclude another must use the same directory. */
ZEUS_API int zeus_set_lock_dir(const char *path);

/* The directory of the lease journal (created if missing): the one set with
 * zeus_set_journal_dir, else the lock directory. */
ZEUS_API int zeus_journal_dir(char *path, size_t size);
/* Sets it for this process (NULL or "": the lock directory). A daemon keeps its own. */
ZEUS_API int zeus_set_journal_dir(const char *path);

/* One GPU's journal, as zeus_lease_journal_read and zeus_lease_recover report it. */
typedef struct {
    unsigned gpu;             /* framework index */
    pid_t holder_pid;         /* the process whose lease left it */
    uid_t holder_uid;         /* its owner when the journal was written */
    bool holder_alive;        /* the same process (pid and start time) still runs */
    unsigned original_mw;     /* the limit to put back */
    int original_persistence; /* persistence mode to put back: 0, 1, -1 (not changed) */
} zeus_lease_journal_entry;

/* The journals in zeus_journal_dir() of the devices' GPUs (at most max; *count of them). */
ZEUS_API int zeus_lease_journal_read(zeus_devices *devices, zeus_lease_journal_entry *entries,
                                     size_t max, size_t *count);
/* Puts back at once what a gone holder left changed on count GPUs (gpus NULL: every GPU), by
 * taking a lease of each GPU that has a journal (ZEUS_ETIMEOUT if its lock is held elsewhere);
 * a journal whose holder lives is left alone. entries (optional, room for count entries, or
 * zeus_gpu_count with gpus NULL) receives the journals found; *entry_count how many. */
ZEUS_API int zeus_lease_recover(zeus_devices *devices, const unsigned *gpus, size_t count,
                                zeus_lease_journal_entry *entries, size_t *entry_count);

/* ---- Several GPUs at once, for faces (`zeus power-limit set|reset`) ---- */

/* ZEUS_POWER_LIMIT_DEFAULT as limit_mw: each GPU's default limit (a reset). */
#define ZEUS_POWER_LIMIT_DEFAULT 0u

typedef struct {
    unsigned gpu;
    unsigned before_mw; /* the limit it had */
    unsigned after_mw;  /* the limit it has now */
} zeus_power_limit_change;

/* Sets count GPUs (gpus NULL: every GPU) to limit_mw, all or nothing: every GPU must exist,
 * report its range and have limit_mw inside it (checked before anything changes), and its
 * current limit must be readable; the GPUs' locks are taken (waiting as a lease does); a
 * failure puts back the GPUs already changed; SIGINT/SIGTERM/SIGHUP meanwhile either find it
 * done or undone (blocked in the calling thread while no handler of ours is installed, else
 * handled by the restore thread). changes (optional, count entries) receives before/after. */
ZEUS_API int zeus_power_limit_set_many(zeus_devices *devices, const unsigned *gpus, size_t count,
                                       unsigned limit_mw, zeus_power_limit_change *changes);
/* The same with lease flags: ZEUS_LEASE_FORCE breaks other processes' locks (`--force`). */
ZEUS_API int zeus_power_limit_set_many_with(zeus_devices *devices, const unsigned *gpus,
                                            size_t count, unsigned limit_mw, unsigned flags,
                                            zeus_power_limit_change *changes);

#ifdef __cplusplus
}
#endif
#endif
