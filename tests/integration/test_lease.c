/* Limit leases (zeus/lease.h) against the fake NVML and the sim backend: recording and
 * restoring, refusing unreadable limits, persistence mode, all-or-nothing changes, per-GPU locks,
 * a signal while the signalled thread holds a backend lock (the deadlock of issue 9), a client
 * killed with SIGKILL, and fork() with a running sampler. */
#include "test_support.h"

#include "zeus/util.h"
#include "zeus/zeus.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned limit_of(zeus_devices *d, unsigned gpu)
{
    unsigned mw = 0;
    assert_int_equal(zeus_gpu_power_limit_mw(d, gpu, &mw), ZEUS_OK);
    return mw;
}

/* A fresh handle reads what the shared state file says now. */
static unsigned limit_now(unsigned gpu)
{
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    unsigned mw = limit_of(d, gpu);
    zeus_devices_close(d);
    return mw;
}

static zeus_devices *open_fake(const char *config)
{
    zt_use_fake_nvml(zt_dir, config);
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    return d;
}

static void test_restore_on_release(void **state)
{
    (void)state;
    zeus_devices *d = open_fake(NULL);
    assert_int_equal(zeus_gpu_set_power_limit_mw(d, 1, 250000), ZEUS_OK);
    /* AMD GPUs have no persistence mode (the vendor matrix): asked for, it is refused. */
    bool has_pm = zt_vendor_has_persistence();
    bool pm = true;
    assert_int_equal(zeus_gpu_persistence_mode(d, 1, &pm), has_pm ? ZEUS_OK : ZEUS_ENOTSUP);
    assert_true(!has_pm || !pm);
    unsigned gpus[] = {1, 3};
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, gpus, 2, ZEUS_LEASE_PERSISTENCE, &l), ZEUS_OK);
    assert_int_equal(zeus_lease_gpu_count(l), 2);
    unsigned orig;
    assert_int_equal(zeus_lease_original_mw(l, 1, &orig), ZEUS_OK);
    assert_int_equal(orig, 250000);
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 1, 150000), ZEUS_OK);
    assert_int_equal(zeus_lease_set_persistence_mode(l, 1, true), has_pm ? ZEUS_OK : ZEUS_ENOTSUP);
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 0, 150000), ZEUS_EINVAL); /* not covered */
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 3, 50000), ZEUS_ERANGE);
    assert_int_equal(limit_of(d, 1), 150000);
    assert_int_equal(zeus_gpu_persistence_mode(d, 1, &pm), has_pm ? ZEUS_OK : ZEUS_ENOTSUP);
    assert_true(!has_pm || pm);
    /* restore, then changes again, then release: back to what it had, persistence off. */
    assert_int_equal(zeus_lease_restore(l), ZEUS_OK);
    assert_int_equal(limit_of(d, 1), 250000);
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 1, 175000), ZEUS_OK);
    zeus_lease_release(l);
    assert_int_equal(limit_of(d, 1), 250000);
    assert_int_equal(zeus_gpu_persistence_mode(d, 1, &pm), has_pm ? ZEUS_OK : ZEUS_ENOTSUP);
    assert_true(!has_pm || !pm);
    /* commit keeps the change. */
    assert_int_equal(zeus_lease_create(d, gpus, 2, 0, &l), ZEUS_OK);
    unsigned limits[] = {200000, 225000};
    assert_int_equal(zeus_lease_set_power_limits_mw(l, limits), ZEUS_OK);
    assert_int_equal(zeus_lease_commit(l), ZEUS_OK);
    zeus_lease_release(l);
    assert_int_equal(limit_of(d, 1), 200000);
    assert_int_equal(limit_of(d, 3), 225000);
    /* A repeated GPU is refused. */
    unsigned twice[] = {2, 2};
    assert_int_equal(zeus_lease_create(d, twice, 2, 0, &l), ZEUS_EINVAL);
    zeus_devices_close(d);
}

/* Settings private to one process (sim without a state file) take no lock; shared ones do. */
static void test_private_settings_unlocked(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    unsigned gpu = 0;
    zeus_lease *a, *b;
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_NO_WAIT, &a), ZEUS_OK);
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_NO_WAIT, &b), ZEUS_OK);
    zeus_lease_release(b);
    zeus_lease_release(a);
    zeus_devices_close(d);
    char *path = zt_write(zt_dir, "sim.state", "");
    zt_options.sim_state = path;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    char *lock =
        zt_path(getenv("ZEUS_LOCK_DIR"), "gpu-GPU-5eed0000-0000-4000-8000-000000000000.lock");
    assert_int_equal(access(lock, F_OK), -1);
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_NO_WAIT, &a), ZEUS_OK);
    assert_int_equal(access(lock, F_OK), 0);
    zeus_lease_release(a);
    /* Locks live where the API says, before the environment. */
    char *dir = zt_path(zt_dir, "api-locks");
    assert_int_equal(zeus_set_lock_dir(dir), ZEUS_OK);
    char where[4096];
    assert_int_equal(zeus_lock_dir(where, sizeof where), ZEUS_OK);
    assert_string_equal(where, dir);
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_NO_WAIT, &b), ZEUS_OK);
    char *api_lock = zt_path(dir, "gpu-GPU-5eed0000-0000-4000-8000-000000000000.lock");
    assert_int_equal(access(api_lock, F_OK), 0);
    zeus_lease_release(b);
    assert_int_equal(zeus_set_lock_dir(NULL), ZEUS_OK);
    assert_int_equal(zeus_lock_dir(where, sizeof where), ZEUS_OK);
    assert_string_equal(where, getenv("ZEUS_LOCK_DIR"));
    free(api_lock);
    free(lock);
    free(dir);
    zeus_devices_close(d);
    free(path);
}

/* Clocks a lease locked are put back by a reset (on release, restore and when the watched
 * client dies); a committed lock stays; the sim backend keeps them in its shared state file. */
static void test_clocks_put_back(void **state)
{
    (void)state;
    char *path = zt_write(zt_dir, "sim.state", "");
    zt_options.backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"count\": 2}]}";
    zt_options.sim_state = path;
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    unsigned gpus[] = {0, 1};
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, gpus, 2, 0, &l), ZEUS_OK);
    assert_int_equal(zeus_lease_set_locked_clocks(l, 1, ZEUS_CLOCK_GPU, 900, 1500), ZEUS_OK);
    assert_int_equal(zeus_lease_set_locked_clocks(l, 1, ZEUS_CLOCK_MEMORY, 810, 810), ZEUS_OK);
    assert_int_equal(zeus_lease_set_locked_clocks(l, 1, ZEUS_CLOCK_GPU, 2000, 1000), ZEUS_EINVAL);
    assert_int_equal(zeus_lease_set_locked_clocks(l, 3, ZEUS_CLOCK_GPU, 1, 2), ZEUS_EINVAL);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0 gpu_clocks_mhz 900 1500 "
                               "mem_clocks_mhz 810 810\n");
    assert_int_equal(zeus_lease_restore(l), ZEUS_OK);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0\n");
    /* A reset through the lease leaves nothing to put back; a lock does, at release. */
    assert_int_equal(zeus_lease_set_locked_clocks(l, 0, ZEUS_CLOCK_GPU, 600, 600), ZEUS_OK);
    assert_int_equal(zeus_lease_reset_locked_clocks(l, 0, ZEUS_CLOCK_GPU), ZEUS_OK);
    assert_int_equal(zeus_lease_set_locked_clocks(l, 1, ZEUS_CLOCK_MEMORY, 405, 810), ZEUS_OK);
    zeus_lease_release(l);
    assert_file_contains(path, "gpu 0 limit_mw 300000 persistence 0\n");
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0\n");
    /* Committed: the lock stays after release. */
    assert_int_equal(zeus_lease_create(d, gpus, 1, 0, &l), ZEUS_OK);
    assert_int_equal(zeus_lease_set_locked_clocks(l, 0, ZEUS_CLOCK_GPU, 1200, 1200), ZEUS_OK);
    assert_int_equal(zeus_lease_commit(l), ZEUS_OK);
    zeus_lease_release(l);
    assert_file_contains(path, "gpu 0 limit_mw 300000 persistence 0 gpu_clocks_mhz 1200 1200\n");
    /* A watched client killed with -9: its lock is reset by the watcher. */
    pid_t client = fork();
    if (client == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
            pause();
    }
    assert_int_equal(zeus_lease_create(d, gpus + 1, 1, 0, &l), ZEUS_OK);
    assert_int_equal(zeus_lease_watch_pid(l, client), ZEUS_OK);
    assert_int_equal(zeus_lease_set_locked_clocks(l, 1, ZEUS_CLOCK_GPU, 210, 600), ZEUS_OK);
    kill(client, SIGKILL);
    for (int i = 0; i < 300 && !zeus_lease_client_gone(l); i++)
        usleep(10000);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0\n");
    zeus_lease_release(l);
    assert_int_equal(zt_wait(client, 5), 128 + SIGKILL);
    /* The simulator's own checks and its PCI address. */
    assert_int_equal(zeus_gpu_set_locked_clocks(d, 0, ZEUS_CLOCK_GPU, 0, 0), ZEUS_EINVAL);
    char pci[ZEUS_GPU_PCI_ADDRESS_LEN];
    assert_int_equal(zeus_gpu_pci_address(d, 1, pci, sizeof pci), ZEUS_OK);
    assert_string_equal(pci, "0000:02:00.0");
    zeus_devices_close(d);
    /* A state file with an impossible locked range is refused, naming the line. */
    free(zt_write(zt_dir, "sim.state",
                  "gpu 0 limit_mw 300000 persistence 0\n"
                  "gpu 1 limit_mw 300000 persistence 0 gpu_clocks_mhz 1500 900\n"));
    assert_int_not_equal(zt_open(&d), ZEUS_OK);
    assert_contains(zeus_last_error(), "sim.state:2: expected");
    free(path);
}

/* Issue 9 item 2: a GPU whose limit cannot be read is refused before any GPU changes. */
static void test_unreadable_refused(void **state)
{
    (void)state;
    /* AMD reads the range and the limit with one call: its first (the range, at open) works. */
    char config[300];
    snprintf(config, sizeof config,
             "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 2}, {\"name\": "
             "\"NVIDIA A40\", \"errors\": {\"nvmlDeviceGetPowerManagementLimit\":"
             " {\"code\": \"UNKNOWN\", \"after\": %d}}}, {\"name\": \"NVIDIA A40\"}]}",
             zt_vendor_amd() ? 1 : 0);
    zeus_devices *d = open_fake(config);
    char *log = zt_path(zt_dir, "nvml.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1);
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, NULL, 0, 0, &l), ZEUS_EDEVICE);
    assert_contains(zeus_last_error(), "GPU 2");
    assert_contains(zeus_last_error(), "cannot be read");
    assert_int_equal(zeus_power_limit_set_many(d, NULL, 0, 200000, NULL), ZEUS_EDEVICE);
    unsigned ok[] = {0, 1, 3};
    zeus_power_limit_change changes[3];
    assert_int_equal(zeus_power_limit_set_many(d, ok, 3, 200000, changes), ZEUS_OK);
    assert_int_equal(changes[2].gpu, 3);
    assert_int_equal(changes[2].after_mw, 200000);
    char *text = zt_read_calls(log);
    /* Only the three readable GPUs were ever set. */
    assert_string_equal(text, "nvmlDeviceSetPowerManagementLimit 0 200000\n"
                              "nvmlDeviceSetPowerManagementLimit 1 200000\n"
                              "nvmlDeviceSetPowerManagementLimit 3 200000\n");
    free(text);
    free(log);
    zeus_devices_close(d);
}

static void body_hold_lock(int ready_fd, int release_fd)
{
    zeus_devices *d;
    zeus_lease *l;
    unsigned gpu = 1;
    if (zt_open(&d) != ZEUS_OK || zeus_lease_create(d, &gpu, 1, 0, &l) != ZEUS_OK)
        _exit(101);
    if (write(ready_fd, "R", 1) != 1)
        _exit(102);
    char c;
    if (read(release_fd, &c, 1) != 1)
        _exit(103);
    zeus_lease_release(l);
    zeus_devices_close(d);
    _exit(0);
}

/* Two changers of one GPU take turns: a lease elsewhere holds GPU 1's lock; `zeus power-limit
 * set` waits for it and then changes every GPU; NO_WAIT fails at once naming the holder. */
static void test_lock_serializes(void **state)
{
    (void)state;
    zeus_devices *d = open_fake(NULL);
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        body_hold_lock(ready[1], go[0]);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    unsigned gpu = 1;
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_NO_WAIT, &l), ZEUS_ETIMEOUT);
    char holder[32];
    snprintf(holder, sizeof holder, "process %d", (int)pid);
    assert_contains(zeus_last_error(), holder);

    char *argv[] = {ZEUS_CLI_PATH, "power-limit", "set", "200", NULL};
    int64_t t0 = zeus_now_ns();
    pid_t cli = zt_spawn(argv);
    usleep(300 * 1000);
    assert_int_equal(waitpid(cli, NULL, WNOHANG), 0); /* still waiting for the lock */
    assert_int_equal(limit_now(0), 300000);           /* and has changed nothing */
    assert_int_equal(write(go[1], "G", 1), 1);
    assert_int_equal(zt_wait(cli, 10), 0);
    assert_true(zeus_now_ns() - t0 >= 300 * 1000 * 1000);
    for (unsigned g = 0; g < 4; g++)
        assert_int_equal(limit_now(g), 200000);
    assert_int_equal(zt_wait(pid, 5), 0);
    close(ready[0]);
    close(ready[1]);
    close(go[0]);
    close(go[1]);
    zeus_devices_close(d);
}

/* A child process tries GPU 1 without waiting: 0 if it got it, 1 if the lock was held. */
static int other_process_leases_gpu1(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        zeus_devices *d;
        zeus_lease *l;
        unsigned gpu = 1;
        if (zt_open(&d) != ZEUS_OK)
            _exit(101);
        int rc = zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_NO_WAIT, &l);
        _exit(rc == ZEUS_OK ? 0 : rc == ZEUS_ETIMEOUT ? 1 : 102);
    }
    return zt_wait(pid, 10);
}

/* Two leases of one process on one GPU (a second optimizer in a notebook): the second is made at
 * once, shares the lock and the first's record, and the GPU is put back to what it had before
 * either when the last of them is released, in either order. */
static void test_nested_leases(void **state)
{
    (void)state;
    zeus_devices *d = open_fake(NULL), *d2;
    assert_int_equal(zt_open(&d2), ZEUS_OK); /* another device set of the process: same GPUs */
    unsigned one = 1, both[] = {1, 2};
    for (int first_out = 0; first_out < 2; first_out++) {
        zeus_lease *a, *b;
        assert_int_equal(zeus_lease_create(d, &one, 1, ZEUS_LEASE_NO_WAIT, &a), ZEUS_OK);
        assert_int_equal(zeus_lease_set_power_limit_mw(a, 1, 200000), ZEUS_OK);
        int64_t t0 = zeus_now_ns();
        assert_int_equal(zeus_lease_create(d2, both, 2, 0, &b), ZEUS_OK);
        assert_true(zeus_now_ns() - t0 < 1000 * 1000 * 1000);
        unsigned orig;
        assert_int_equal(zeus_lease_original_mw(b, 1, &orig), ZEUS_OK);
        assert_int_equal(orig, 300000); /* not a's 200 W */
        assert_int_equal(zeus_lease_set_power_limit_mw(b, 1, 150000), ZEUS_OK);
        assert_int_equal(zeus_lease_set_power_limit_mw(b, 2, 175000), ZEUS_OK);
        zeus_lease_release(first_out ? b : a);
        assert_int_equal(limit_now(1), 150000); /* the other lease still holds GPU 1 */
        assert_int_equal(other_process_leases_gpu1(), 1);
        zeus_lease_release(first_out ? a : b);
        assert_int_equal(limit_now(1), 300000);
        assert_int_equal(limit_now(2), 300000);
        assert_int_equal(other_process_leases_gpu1(), 0);
    }
    /* What the first released lease changed is put back by the one that stays. */
    zeus_lease *a, *b;
    assert_int_equal(zeus_lease_create(d, &one, 1, 0, &a), ZEUS_OK);
    assert_int_equal(zeus_lease_create(d, &one, 1, 0, &b), ZEUS_OK);
    assert_int_equal(zeus_lease_set_power_limit_mw(a, 1, 200000), ZEUS_OK);
    zeus_lease_release(a);
    assert_int_equal(limit_now(1), 200000);
    zeus_lease_release(b);
    assert_int_equal(limit_now(1), 300000);
    /* Clocks the first released lease locked are reset by the one that stays, at its release. */
    char *path = zt_path(zt_dir, "fake_nvml.state");
    assert_int_equal(zeus_lease_create(d, &one, 1, 0, &a), ZEUS_OK);
    assert_int_equal(zeus_lease_create(d2, &one, 1, 0, &b), ZEUS_OK);
    assert_int_equal(zeus_lease_set_locked_clocks(a, 1, ZEUS_CLOCK_GPU, 900, 1500), ZEUS_OK);
    zeus_lease_release(a);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0 gpu_clocks_mhz 900 1500\n");
    zeus_lease_release(b);
    assert_file_contains(path, "gpu 1 limit_mw 300000 persistence 0\n");
    free(path);
    zeus_devices_close(d2);
    zeus_devices_close(d);
}

/* ---- issue 9 item 1: SIGTERM while the signalled thread holds the sim backend's lock ---- */

static void body_sim_loop(int ready_fd)
{
    zeus_devices *d;
    zeus_lease *l;
    unsigned gpu = 0, mw;
    if (zeus_install_signal_handlers() != ZEUS_OK || zt_open(&d) != ZEUS_OK)
        _exit(101);
    if (zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_RESTORE_ON_SIGNAL, &l) != ZEUS_OK ||
        zeus_lease_set_power_limit_mw(l, 0, 200000) != ZEUS_OK)
        _exit(102);
    if (write(ready_fd, "R", 1) != 1)
        _exit(103);
    /* Every read takes the backend's lock and looks at the state file. */
    for (;;)
        zeus_gpu_power_limit_mw(d, 0, &mw);
}

static void test_signal_while_backend_locked(void **state)
{
    (void)state;
    zt_options.backend = "sim";
    zt_options.sim_config = "{\"gpus\": [{\"name\": \"NVIDIA A40\"}]}";
    char *path = zt_write(zt_dir, "sim.state", "gpu 0 limit_mw 250000 persistence 0\n");
    zt_options.sim_state = path;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        body_sim_loop(fds[1]);
    }
    close(fds[1]);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    /* Replace the state file with a FIFO: the child's next read opens it and blocks inside the
     * backend, holding its lock, until we write. Once our non-blocking open succeeds, the child
     * is in there. */
    char *fifo = zt_path(zt_dir, "sim.fifo");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(rename(fifo, path), 0);
    int w = -1;
    for (int i = 0; i < 3000 && w < 0; i++) {
        w = open(path, O_WRONLY | O_NONBLOCK);
        if (w < 0)
            usleep(1000);
    }
    assert_true(w >= 0);
    assert_int_equal(kill(pid, SIGTERM), 0);
    usleep(200 * 1000); /* an in-handler restore would now be blocked on its own thread's lock */
    /* Let the child's read finish, with a regular file back in place for what follows. */
    char *regular = zt_write(zt_dir, "sim.next", "gpu 0 limit_mw 200000 persistence 0\n");
    assert_int_equal(rename(regular, path), 0);
    const char line[] = "gpu 0 limit_mw 200000 persistence 0\n";
    assert_int_equal(write(w, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
    close(w);
    /* Restored, then dead of SIGTERM; never hung (the old handler hung here until a 5 s alarm
     * killed it with SIGALRM, limits not restored). */
    assert_int_equal(zt_wait(pid, 4), 128 + SIGTERM);
    assert_file_contains(path, "gpu 0 limit_mw 250000");
    free(regular);
    free(fifo);
    free(path);
}

/* No fixed cap on live leases (the old guard table had 32 slots): 64 leases restored at exit. */
static void test_many_leases_restored_at_exit(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 64}]}");
    pid_t pid = fork();
    if (pid == 0) {
        zeus_devices *d;
        if (zt_open(&d) != ZEUS_OK)
            _exit(101);
        for (unsigned g = 0; g < 64; g++) {
            zeus_lease *l;
            if (zeus_lease_create(d, &g, 1, ZEUS_LEASE_RESTORE_AT_EXIT, &l) != ZEUS_OK ||
                zeus_lease_set_power_limit_mw(l, g, 100000 + g * 1000) != ZEUS_OK)
                _exit(102);
        }
        exit(0); /* no release: the exit hook restores all 64 */
    }
    assert_int_equal(zt_wait(pid, 20), 0);
    for (unsigned g = 0; g < 64; g++)
        assert_int_equal(limit_now(g), 300000);
}

/* ---- a daemon's lease tied to a client that is killed with SIGKILL ---- */

static void body_client(int request_fd, int reply_fd)
{
    if (write(request_fd, "175", 3) != 3)
        _exit(101);
    char c;
    if (read(reply_fd, &c, 1) != 1)
        _exit(102);
    for (;;)
        pause();
}

static void test_client_killed(void **state)
{
    (void)state;
    zeus_devices *d = open_fake(NULL);
    int request[2], reply[2];
    assert_int_equal(pipe(request), 0);
    assert_int_equal(pipe(reply), 0);
    pid_t client = fork();
    if (client == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        body_client(request[1], reply[0]);
    }
    /* The holder serves the client's request under a lease tied to it. */
    char buf[8] = "";
    assert_int_equal(read(request[0], buf, 3), 3);
    unsigned gpus[] = {0, 2};
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, gpus, 2, 0, &l), ZEUS_OK);
    assert_int_equal(zeus_lease_watch_pid(l, client), ZEUS_OK);
    assert_int_equal(zeus_lease_watch_pid(l, client), ZEUS_ESTATE);
    unsigned limits[] = {(unsigned)atoi(buf) * 1000, (unsigned)atoi(buf) * 1000};
    assert_int_equal(zeus_lease_set_power_limits_mw(l, limits), ZEUS_OK);
    assert_int_equal(write(reply[1], "k", 1), 1);
    assert_int_equal(limit_of(d, 0), 175000);
    assert_false(zeus_lease_client_gone(l));

    kill(client, SIGKILL);
    /* The watcher restores without our help, even before the client is reaped. */
    for (int i = 0; i < 300 && limit_of(d, 2) != 300000; i++)
        usleep(10000);
    assert_int_equal(limit_of(d, 0), 300000);
    assert_int_equal(limit_of(d, 2), 300000);
    for (int i = 0; i < 100 && !zeus_lease_client_gone(l); i++)
        usleep(10000);
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 0, 200000), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "exited");
    zeus_lease_release(l);
    assert_int_equal(zt_wait(client, 5), 128 + SIGKILL);
    /* A process that does not exist cannot be watched. */
    assert_int_equal(zeus_lease_create(d, gpus, 2, 0, &l), ZEUS_OK);
    assert_int_equal(zeus_lease_watch_pid(l, client), ZEUS_ENOENT);
    zeus_lease_release(l);
    for (int k = 0; k < 2; k++) {
        close(request[k]);
        close(reply[k]);
    }
    zeus_devices_close(d);
}

/* A daemon's client on a socket: the connection's end (kill -9 here) restores. */
static void test_client_connection_closed(void **state)
{
    (void)state;
    zeus_devices *d = open_fake(NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t client = fork();
    if (client == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        for (;;)
            pause();
    }
    close(sv[1]);
    unsigned gpu = 3;
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, &gpu, 1, 0, &l), ZEUS_OK);
    assert_int_equal(zeus_lease_watch_connection(l, sv[0]), ZEUS_OK);
    assert_int_equal(zeus_lease_watch_pid(l, client), ZEUS_ESTATE);
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 3, 125000), ZEUS_OK);
    usleep(50000);
    assert_int_equal(limit_of(d, 3), 125000); /* an open connection keeps it */
    kill(client, SIGKILL);
    for (int i = 0; i < 300 && limit_of(d, 3) != 300000; i++)
        usleep(10000);
    assert_int_equal(limit_of(d, 3), 300000);
    zeus_lease_release(l);
    assert_int_equal(zt_wait(client, 5), 128 + SIGKILL);
    close(sv[0]);
    zeus_devices_close(d);
}

/* ---- fork with a running sampler and a lease (PyTorch DataLoader workers fork) ---- */

static void child_uses_library(zeus_devices *d, zeus_sampler *s, zeus_monitor *m, zeus_lease *l,
                               int how)
{
    unsigned mw;
    double power[ZEUS_SAMPLER_MAX_COLUMNS], t;
    if (zeus_gpu_power_mw(d, 0, &mw) != ZEUS_OK || zeus_gpu_power_limit_mw(d, 0, &mw) != ZEUS_OK)
        _exit(101);
    if (mw != 200000)
        _exit(102);
    if (zeus_sampler_get_power(s, NAN, power, &t) != ZEUS_OK)
        _exit(103);
    /* The monitor (whose counter probe thread may have been polling at the fork) still works. */
    zeus_measurement *r = zeus_measurement_new();
    if (!r || zeus_monitor_begin_window(m, "child", false) != ZEUS_OK ||
        zeus_monitor_end_window(m, "child", false, false, r) != ZEUS_OK)
        _exit(105);
    zeus_measurement_free(r);
    zeus_monitor_close(m); /* no probe thread to join here */
    /* The parent's lease is not the child's: no change, no restore. */
    if (zeus_lease_set_power_limit_mw(l, 0, 150000) != ZEUS_ESTATE)
        _exit(104);
    zeus_sampler_stop(s); /* no thread to join here: frees only */
    if (how == 1)
        zeus_lease_release(l); /* frees the child's copy only */
    if (how == 2)
        raise(SIGTERM); /* no handler of ours in the child: it just dies */
    exit(0);            /* atexit: the parent's lease is skipped */
}

static void test_fork_with_sampler_and_lease(void **state)
{
    (void)state;
    zeus_devices *d = open_fake(NULL);
    char *log = zt_path(zt_dir, "nvml.log");
    setenv("ZEUS_FAKE_NVML_LOG", log, 1);
    assert_int_equal(zeus_install_signal_handlers(), ZEUS_OK);
    zeus_sampler_options o;
    zeus_sampler_options_init(&o);
    o.period_s = 0.0005;
    zeus_sampler *s;
    assert_int_equal(zeus_sampler_start(d, &o, &s), ZEUS_OK);
    zeus_monitor *m;
    assert_int_equal(zeus_monitor_open(d, NULL, &m), ZEUS_OK); /* probes counters for ~2 s */
    zeus_lease *l;
    unsigned gpu = 0;
    assert_int_equal(zeus_lease_create(
                         d, &gpu, 1, ZEUS_LEASE_RESTORE_AT_EXIT | ZEUS_LEASE_RESTORE_ON_SIGNAL, &l),
                     ZEUS_OK);
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 0, 200000), ZEUS_OK);
    usleep(20000); /* samples in the ring */
    for (int i = 0; i < 30; i++) {
        pid_t pid = fork();
        if (pid == 0)
            child_uses_library(d, s, m, l, i % 3);
        int status = zt_wait(pid, 5);
        assert_int_equal(status, i % 3 == 2 ? 128 + SIGTERM : 0);
        assert_int_equal(limit_of(d, 0), 200000); /* still the parent's limit */
    }
    /* The parent's sampler and lease still work. */
    size_t before = zeus_sampler_sample_count(s);
    usleep(20000);
    assert_true(zeus_sampler_sample_count(s) > before);
    zeus_sampler_stop(s);
    zeus_monitor_close(m);
    zeus_lease_release(l);
    assert_int_equal(limit_of(d, 0), 300000);
    char *text = zt_read_calls(log);
    assert_string_equal(text, "nvmlDeviceSetPowerManagementLimit 0 200000\n"
                              "nvmlDeviceSetPowerManagementLimit 0 300000\n");
    free(text);
    free(log);
    zeus_uninstall_signal_handlers();
    zeus_devices_close(d);
}

/* The log callback is called outside the library's locks: it may call the library, even change
 * the callback (that deadlocked when the callback ran under the log lock). */
static int reentered;
static zeus_lease *logged_lease;

static void reentrant_logger(zeus_log_level level, const char *message, void *user)
{
    (void)level;
    (void)user;
    if (strstr(message, "cannot put GPU 0 back"))
        reentered++;
    zeus_set_log_callback(NULL, NULL);
    zeus_lease_commit(logged_lease); /* takes the lease's lock: the warning came after it */
}

static void test_log_callback_outside_lock(void **state)
{
    (void)state;
    /* The second set (the restore) fails, which warns. */
    zeus_devices *d = open_fake("{\"gpus\": [{\"name\": \"NVIDIA A40\", \"errors\": "
                                "{\"nvmlDeviceSetPowerManagementLimit\": {\"code\": \"UNKNOWN\", "
                                "\"after\": 1}}}]}");
    pid_t pid = fork();
    if (pid == 0) {
        zeus_set_log_callback(reentrant_logger, NULL);
        zeus_lease *l;
        unsigned gpu = 0;
        if (zeus_lease_create(d, &gpu, 1, 0, &l) != ZEUS_OK ||
            zeus_lease_set_power_limit_mw(l, 0, 200000) != ZEUS_OK)
            _exit(101);
        logged_lease = l;
        if (zeus_lease_restore(l) != ZEUS_EDEVICE)
            _exit(103);
        zeus_lease_release(l);
        _exit(reentered == 1 ? 0 : 102);
    }
    assert_int_equal(zt_wait(pid, 5), 0);
    zeus_devices_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_on_release, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_private_settings_unlocked, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_refused, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_lock_serializes, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_nested_leases, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_signal_while_backend_locked, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_many_leases_restored_at_exit, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_client_killed, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_client_connection_closed, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_clocks_put_back, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_fork_with_sampler_and_lease, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_log_callback_outside_lock, zt_setup, zt_teardown),
    };
    if (getenv("ZT_FILTER"))
        cmocka_set_test_filter(getenv("ZT_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
