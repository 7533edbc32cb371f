/* Internal header of the lease code (src/power_limit/lease*.c), not installed. The lease code
 * is split at its seams: lease.c (creation, release, changes), lease_restore.c (putting back,
 * nesting), lease_lock.c (lock directory, per-GPU lock files), lease_watch.c (the watched
 * client), lease_signal.c (the signal restore thread), lease_fork.c (fork handling),
 * lease_many.c (all-or-nothing multi-GPU changes), lease_journal.c (the crash-safe journal)
 * and lease_state.c (the shared state: the list of leases, process identities). The calls among
 * them go one way (scripts/check-layers.py checks that no circle forms): lease_state.c calls none
 * of the others; lease_lock.c only it; lease_journal.c the lock code; lease_restore.c,
 * lease_watch.c and lease_signal.c those; lease_fork.c the lock and signal code; lease.c all of
 * these (and zeus_lease_recover, which creates leases); lease_many.c only lease.c's API and what is
 * below it. */
#ifndef ZEUS_POWER_LIMIT_LEASE_INTERNAL_H
#define ZEUS_POWER_LIMIT_LEASE_INTERNAL_H

#include "zeus/lease.h"

#include "core/internal.h"
#include "device/backend.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#define LOCK_PATH_MAX 4352 /* a directory of up to 4 KiB and a file name */

/* A process as the journal names it: a pid alone could be reused (lease_journal.c). */
typedef struct {
    pid_t pid;
    unsigned long long start_time; /* field 22 of /proc/PID/stat */
    uid_t uid;
    char boot_id[40];
    bool zombie;
} zeus__process_id;

/* An internal lease flag beside zeus_lease_flags (the sweep's leases, lease.c): a journal whose
 * holder lives is left as it is, not carried on. */
#define ZEUS__LEASE_ONLY_GONE (1u << 31)

/* One GPU's journal: what to put back if its holder is gone. */
typedef struct {
    char uuid[ZEUS_GPU_UUID_LEN];
    unsigned index; /* the backend's index, for a GPU without a UUID */
    bool limit_changed, persistence_changed, clocks_changed[2];
    unsigned original_mw;
    int original_persistence; /* -1: not recorded */
    zeus__process_id holder;
} zeus__journal_record;

typedef struct {
    unsigned gpu;
    unsigned original_mw;
    unsigned current_mw;      /* as last set through the lease */
    int original_persistence; /* -1: not recorded */
    atomic_bool limit_changed, persistence_changed;
    /* Per zeus_clock_domain: locked through the lease (put back by a reset), to what. */
    atomic_bool clocks_changed[2];
    unsigned clocks_min_mhz[2], clocks_max_mhz[2];
    int lock_fd;
    bool nested;      /* another lease of this process held the GPU first: its record is ours */
    bool handed_over; /* released while another lease of this process holds it: not restored */
    bool adopted;     /* the record came from the journal of a live holder without the lock */
    zeus__process_id adopted_from; /* that holder */
    char *lock_path; /* its lock file (malloc'd; shared with the holder when nested) */
    zeus_gpu_info info;
    /* The journal file as last written (lease_journal.c). */
    bool journal_written;
    size_t journal_len;
    char journal_text[1024];
} lease_gpu;

struct zeus_lease {
    zeus_lease *next; /* every lease of the process */
    zeus_devices *devices;
    pid_t pid; /* the process that created it: the only one that ever restores it */
    unsigned flags;
    size_t count;
    lease_gpu *gpus;
    pthread_mutex_t lock; /* serializes this lease's device changes */
    bool client_gone;     /* the watched client exited: changes refused */
    atomic_bool client_gone_seen, signalled;
    /* The watched client (zeus_lease_watch_pid). */
    bool watching;
    pthread_t watcher;
    pid_t watched_pid; /* 0 when watching a connection */
    int watch_fd;      /* pidfd, our duplicate of a connection, or -1 when polling a pid */
    int stop_pipe[2];  /* written by release to stop the watcher */
    /* Whom the journal names as the holder: this process, or the watched client. */
    zeus__process_id holder;
    zeus__process_id self; /* this process (the lock holder a force names) */
};

/* Every lease of the process, under zeus__leases_lock (lease_state.c). */
extern pthread_mutex_t zeus__leases_lock;
extern zeus_lease *zeus__leases;
/* Set by the restore thread while it handles a signal: changes are refused meanwhile. */
extern atomic_bool zeus__signal_in_progress;

/* ---- putting back (lease_restore.c) ---- */

/* What a restore could not put back, logged once the locks are released (the log callback
 * may call the library). */
typedef struct {
    char text[1024];
    size_t len;
} restore_report;

void zeus__lease_report(restore_report *r, const char *fmt, ...) ZEUS_PRINTF(2, 3);
void zeus__lease_log_report(const restore_report *r, const char *why);
/* Puts back what the lease changed on one GPU / on all its GPUs. Called with l->lock held.
 * Return the first failure. */
int zeus__lease_restore_gpu_locked(zeus_lease *l, lease_gpu *g, restore_report *r);
int zeus__lease_restore_locked(zeus_lease *l, restore_report *r);
/* Restores every lease of this process that has flag (a forked child skips its parent's). */
void zeus__lease_restore_all(unsigned flag, const char *why);
void zeus__lease_exit_hook(void);
/* Nesting: a new lease joins this process's holders of its GPUs (shares their lock and their
 * record); a released one hands its changes over to them. Called without / with
 * zeus__leases_lock held (the released lease, still listed, is not its own holder). */
int zeus__lease_join_holders(zeus_lease *l);
void zeus__lease_hand_over_all(zeus_lease *l);

/* ---- locks (lease_lock.c) ---- */

/* A directory chosen for the process (zeus_set_lock_dir, zeus_set_journal_dir); "": none. */
typedef struct {
    pthread_mutex_t lock;
    char path[LOCK_PATH_MAX - 128];
} zeus__dir_setting;
int zeus__dir_setting_set(zeus__dir_setting *s, const char *path, const char *what);
void zeus__dir_setting_get(zeus__dir_setting *s, char *out, size_t size);

/* Locks every GPU of the lease in one global order; closes them (never LOCK_UN). */
int zeus__lease_take_locks(zeus_lease *l);
void zeus__lease_drop_locks(zeus_lease *l);
/* ZEUS_ESTATE (naming the taker) when another process took the GPU from this lease with
 * ZEUS_LEASE_FORCE; then nothing is to be changed or put back on it. */
int zeus__lease_check_taken(const zeus_lease *l, const lease_gpu *g);
/* The GPU's file in dir with the given suffix (".lock", ".journal"), named after its UUID. */
void zeus__lease_gpu_path(const char *dir, const zeus_gpu_info *info, const char *suffix,
                          char *path, size_t size);

/* The identity of a running process; ZEUS_ENOENT when there is none (lease_state.c). */
int zeus__process_identity(pid_t pid, zeus__process_id *out);
/* This boot's id (/proc/sys/kernel/random/boot_id), "" when unknown (lease_state.c). */
void zeus__boot_id(char *out, size_t size);

/* ---- the journal (lease_journal.c) ---- */

/* Parses a journal's text (modified in place); path names it in errors. */
int zeus__journal_parse(const char *path, char *text, zeus__journal_record *r);
/* Before a lease records a GPU (its lock held): a journal whose holder is gone is put back at
 * once and removed; one whose holder lives is taken over (g->adopted). */
int zeus__journal_take_over(zeus_lease *l, lease_gpu *g);
/* Makes the GPU's journal say what the lease must put back now (written and fsynced before a
 * change: call it after marking the change, before making it), or removes it when nothing is
 * left to put back. Called with l->lock held (or before the lease is shared). */
int zeus__journal_sync(zeus_lease *l, lease_gpu *g);
/* Every journal in the journal directory, read once, whose holder is gone (that of an earlier
 * boot too): *out malloc'd (free it), NULL when none. Journals that do not parse are left out. */
int zeus__journal_list_gone(zeus__journal_record **out, size_t *count);
/* The framework index of the GPU a journal names (its UUID, else its backend index) among
 * devices' GPUs, or -1. */
long zeus__journal_gpu_of(zeus_devices *devices, const zeus__journal_record *r);
/* The journal entry of one GPU (*found false when it has none). */
int zeus__journal_read_entry(zeus_devices *devices, unsigned gpu, zeus_lease_journal_entry *e,
                             bool *found);

/* ---- the watched client (lease_watch.c) ---- */

void zeus__lease_stop_watcher(zeus_lease *l);
void zeus__lease_close_watch_fds(zeus_lease *l);

/* ---- fork (lease_fork.c) ---- */

/* Registers the lease code's fork hook with core/fork.c (before a lease or the restore thread
 * exists). */
void zeus__lease_fork_init(void);

/* ---- signals (lease_signal.c) ---- */

/* Starts the restore thread and installs the handlers (zeus_install_signal_handlers, in
 * lease_fork.c, registers the fork hook first). */
int zeus__lease_signals_install(void);
bool zeus__lease_handlers_installed(void);
/* Blocks (adds to set) the signals the restore thread handles. */
void zeus__lease_add_handled_signals(sigset_t *set);
/* fork: PREPARE locks the signal state, PARENT unlocks it, CHILD forgets the thread and the
 * handlers (the child has no restore thread) and unlocks it. */
void zeus__lease_signals_atfork(zeus__fork_phase phase);

/* lease.c: after a lease's release or zeus_lease_restore, what a gone process left changed is
 * put back too (a rank killed with -9 beside this one), not only at the next command or lease:
 * on the GPUs of devices and on GPUs of its backend that devices does not see (by the UUID in
 * the journal, through zeus__devices_open_physical). Reads the journal directory once; touches
 * only journals whose holder is gone, through leases that do not wait; keeps the caller's
 * zeus_last_error. Not from the restore at exit or on a signal: a lease being created elsewhere
 * in the process may hold the creation lock there. */
void zeus__lease_recover_dead_holders(zeus_devices *devices);

#endif
