/* The lease journal (issue 17 item 1): a process holding a lease is killed with -9 (the fake
 * NVML's state file shows its GPU changed, persistence mode on), then each way back restores
 * the limit AND persistence mode: `zeus power-limit reset`, the next libzeus lease of that GPU,
 * `zeus power-limit recover`. A journal naming a reused pid (same pid, another start time) is
 * a gone holder's; a live holder's is left alone by recover and carried on by a new lease. The
 * sweep after a release reaches GPUs this process does not see (issue 20 item 4: a rank given
 * only its own GPU puts back a killed rank's). */
#include "test_support.h"

#include "power_limit/lease_internal.h"
#include "zeus/lease.h"
#include "zeus/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define JOURNAL "gpu-GPU-5eed0000-0000-4000-8000-000000000000.journal"

static char *state_path;
static char tmp_dir[32]; /* a directory under /tmp a test made, removed at teardown */

static int setup(void **state)
{
    zt_setup(state);
    zt_use_fake_nvml(zt_dir, NULL); /* 4 x A40, 100-300 W */
    state_path = zt_path(zt_dir, "fake_nvml.state");
    return 0;
}

static int teardown(void **state)
{
    if (tmp_dir[0])
        zt_rmtree(tmp_dir);
    tmp_dir[0] = '\0';
    free(state_path);
    return zt_teardown(state);
}

static void write_state(unsigned gpu0_mw, int persistence)
{
    char text[256];
    snprintf(text, sizeof text,
             "gpu 0 limit_mw %u persistence %d\ngpu 1 limit_mw 300000 persistence 0\n"
             "gpu 2 limit_mw 300000 persistence 0\ngpu 3 limit_mw 300000 persistence 0\n",
             gpu0_mw, persistence);
    free(zt_write(zt_dir, "fake_nvml.state", text));
}

/* GPU 0 is at mw with persistence mode pers in the fake driver's state file. */
static void expect_gpu0(unsigned mw, int pers)
{
    char want[96];
    snprintf(want, sizeof want, "gpu 0 limit_mw %u persistence %d\n", mw, pers);
    assert_file_contains(state_path, want);
}

static char *journal_path(void)
{
    return zt_path(getenv("ZEUS_LOCK_DIR"), JOURNAL);
}

static bool journal_exists(void)
{
    char *path = journal_path();
    bool yes = access(path, F_OK) == 0;
    free(path);
    return yes;
}

/* A process that leases GPU gpu as the optimizer does (persistence recorded), sets 130 W and
 * persistence mode on, and is killed with -9 while holding it. */
static void killed_holder_of(unsigned gpu);

static void killed_holder(void)
{
    killed_holder_of(0);
    expect_gpu0(130000, 1); /* left changed: nothing could put it back */
    assert_true(journal_exists());
}

static void killed_holder_of(unsigned gpu)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        zeus_devices *d;
        zeus_lease *l;
        if (zt_open(&d) != 0 ||
            zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_PERSISTENCE | ZEUS_LEASE_RESTORE_AT_EXIT,
                              &l) != 0 ||
            zeus_lease_set_power_limit_mw(l, gpu, 130000) != 0 ||
            zeus_lease_set_persistence_mode(l, gpu, true) != 0) {
            _exit(1);
        }
        char ok = 'k';
        if (write(p[1], &ok, 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    kill(pid, SIGKILL);
    assert_int_equal(zt_wait(pid, 10), 128 + SIGKILL);
}

static void test_reset_after_kill9(void **state)
{
    (void)state;
    write_state(225000, 0);
    killed_holder();
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "reset", "--gpu-indices", "0", NULL), 0);
    /* reset sets the default limit; persistence mode is put back too (it stayed on before). */
    expect_gpu0(300000, 0);
    assert_contains(err, "left it changed and is gone: put back to 225 W, persistence mode off");
    assert_false(journal_exists());
    free(out);
    free(err);
}

static void test_next_lease_after_kill9(void **state)
{
    (void)state;
    write_state(225000, 0);
    killed_holder();
    zeus_devices *d;
    assert_int_equal(zt_open(&d), 0);
    unsigned gpu = 0, original;
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, &gpu, 1, 0, &l), 0);
    expect_gpu0(225000, 0); /* put back before this lease records the GPU */
    assert_int_equal(zeus_lease_original_mw(l, 0, &original), 0);
    assert_int_equal(original, 225000);
    assert_false(journal_exists());
    /* This lease's own change is journaled, and the journal goes when it is put back. */
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 0, 200000), 0);
    assert_true(journal_exists());
    char *path = journal_path();
    assert_file_contains(path, "original_power_limit_mw=225000\n");
    char pid_line[64];
    snprintf(pid_line, sizeof pid_line, "holder_pid=%ld\n", (long)getpid());
    assert_file_contains(path, pid_line);
    free(path);
    zeus_lease_release(l);
    expect_gpu0(225000, 0);
    assert_false(journal_exists());
    zeus_devices_close(d);
}

static void test_recover_after_kill9(void **state)
{
    (void)state;
    write_state(225000, 0);
    killed_holder();
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "recover", NULL), 0);
    expect_gpu0(225000, 0);
    assert_contains(
        out, "0000:01:00.0): put back to 225 W, persistence mode off (left changed by process");
    assert_false(journal_exists());
    free(out);
    free(err);
    /* Two GPUs left changed by two killed processes: both are put back and both listed (the
     * first one's lease must not put back the second on release before recover reads it). */
    write_state(225000, 0);
    killed_holder_of(0);
    killed_holder_of(1);
    assert_file_contains(state_path, "gpu 1 limit_mw 130000 persistence 1\n");
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "recover", NULL), 0);
    expect_gpu0(225000, 0);
    assert_file_contains(state_path, "gpu 1 limit_mw 300000 persistence 0\n");
    assert_contains(
        out, "0000:01:00.0): put back to 225 W, persistence mode off (left changed by process");
    assert_contains(
        out, "0000:02:00.0): put back to 300 W, persistence mode off (left changed by process");
    free(out);
    free(err);
    /* Nothing left: says so. */
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "recover", NULL), 0);
    assert_contains(out, "nothing to recover");
    free(out);
    free(err);
}

/* "Never left changed past the next zeus command on that GPU": the read-only commands put
 * back too, and say so on stderr. */
static void test_read_only_commands_after_kill9(void **state)
{
    (void)state;
    const char *commands[][6] = {
        {"power-limit", "get", NULL},
        {"show-env", NULL},
        {"monitor", "energy", "--gpu-indices", "0", "--", "true"},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        write_state(225000, 0);
        killed_holder();
        char *out, *err;
        const char **c = commands[i];
        assert_int_equal(zt_zeus(&out, &err, c[0], c[1], c[2], c[3], c[4], c[5], NULL), 0);
        expect_gpu0(225000, 0);
        assert_contains(err, "zeus: GPU 0 (");
        assert_contains(err,
                        "0000:01:00.0): put back to 225 W, persistence mode off (left changed");
        assert_false(journal_exists());
        free(out);
        free(err);
    }
}

static void write_journal_boot(pid_t pid, unsigned long long start_time, const char *boot)
{
    char dir[4096], text[512];
    assert_int_equal(zeus_lock_dir(dir, sizeof dir), 0); /* made if missing */
    snprintf(text, sizeof text,
             "version=1\nuuid=GPU-5eed0000-0000-4000-8000-000000000000\nindex=0\n"
             "power_limit_changed=1\noriginal_power_limit_mw=225000\n"
             "persistence_changed=1\noriginal_persistence=0\n"
             "gpu_clocks_locked=0\nmemory_clocks_locked=0\n"
             "holder_pid=%ld\nholder_start_time=%llu\nholder_uid=0\nboot_id=%s\n",
             (long)pid, start_time, boot);
    free(zt_write(getenv("ZEUS_LOCK_DIR"), JOURNAL, text));
}

static void write_journal(pid_t pid, unsigned long long start_time)
{
    write_journal_boot(pid, start_time, "");
}

/* A journal naming a live process by pid but with another start time (the pid was reused) is
 * a gone holder's: put back. One naming a live process exactly is left alone by recover, and a
 * new lease carries on its record (the original it must put back is the journal's). */
static void test_reused_pid_and_live_holder(void **state)
{
    (void)state;
    zeus__process_id me;
    assert_int_equal(zeus__process_identity(getpid(), &me), 0);
    write_state(130000, 1);
    write_journal(getpid(), me.start_time + 1);
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "recover", "--json", NULL), 0);
    assert_contains(out, "\"recovered\":\ttrue");
    expect_gpu0(225000, 0);
    free(out);
    free(err);

    write_state(130000, 1);
    write_journal(getpid(), me.start_time);
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "recover", NULL), 0);
    assert_contains(out, "which still runs; left alone");
    expect_gpu0(130000, 1);
    free(out);
    free(err);
    zeus_devices *d;
    assert_int_equal(zt_open(&d), 0);
    unsigned gpu = 0, original;
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_PERSISTENCE, &l), 0);
    assert_int_equal(zeus_lease_original_mw(l, 0, &original), 0);
    assert_int_equal(original, 225000);
    zeus_lease_release(l);
    expect_gpu0(225000, 0);
    assert_false(journal_exists());

    /* A journal of an earlier boot is dropped: the driver reset the GPU since. */
    write_state(130000, 1);
    write_journal_boot(4242, 1, "00000000-0000-0000-0000-000000000000");
    assert_int_equal(zeus_lease_create(d, &gpu, 1, 0, &l), 0);
    zeus_lease_release(l);
    expect_gpu0(130000, 1);
    assert_false(journal_exists());
    zeus_devices_close(d);

    /* A journal that is not one names the file and line. */
    free(zt_write(getenv("ZEUS_LOCK_DIR"), JOURNAL, "version=1\nholder_pid=x\n"));
    assert_int_not_equal(zt_zeus(&out, &err, "power-limit", "recover", NULL), 0);
    assert_contains(err, JOURNAL ":2: holder_pid = 'x' is not a number");
    free(out);
    free(err);
}

/* Root takes a GPU another process holds with `zeus power-limit set --force`: at once, logged
 * with both processes; the former holder's next change is refused naming who took it, and its
 * release puts nothing back. */
static void test_force_breaks_a_lease(void **state)
{
    (void)state;
    write_state(225000, 0);
    int ready[2], cmd[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(cmd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        zeus_devices *d;
        zeus_lease *l;
        unsigned gpu = 0;
        if (zt_open(&d) != 0 || zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_PERSISTENCE, &l) != 0 ||
            zeus_lease_set_power_limit_mw(l, gpu, 130000) != 0 ||
            zeus_lease_set_persistence_mode(l, 0, true) != 0)
            _exit(1);
        char c = 'k';
        if (write(ready[1], &c, 1) != 1 || read(cmd[0], &c, 1) != 1)
            _exit(2);
        int rc = zeus_lease_set_power_limit_mw(l, 0, 140000);
        char msg[512];
        int n = snprintf(msg, sizeof msg, "%d %s", rc, zeus_last_error());
        if (write(ready[1], msg, (size_t)n) != n)
            _exit(3);
        zeus_lease_release(l);
        zeus_devices_close(d);
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    { /* Without --force a second user is told how an operator takes the GPU back. */
        zeus_devices *d;
        zeus_lease *l;
        unsigned gpu = 0;
        assert_int_equal(zt_open(&d), 0);
        assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_NO_WAIT, &l), ZEUS_ETIMEOUT);
        assert_contains(zeus_last_error(),
                        "take it back as root with 'zeus power-limit set|reset --force'");
        zeus_devices_close(d);
    }
    char *out, *err;
    int64_t t0 = zeus_now_ns();
    assert_int_equal(
        zt_zeus(&out, &err, "power-limit", "set", "200", "--gpu-indices", "0", "--force", NULL), 0);
    assert_true(zeus_now_ns() - t0 < 5000000000LL); /* not the 10 s lock wait */
    char want[160];
    snprintf(want, sizeof want, "GPU 0: the lease of process %ld (uid 0) is broken by process",
             (long)pid);
    assert_contains(err, want);
    expect_gpu0(200000, 0); /* the broken lease's persistence mode undone too */
    free(out);
    free(err);
    assert_int_equal(write(cmd[1], "c", 1), 1);
    char msg[512] = "";
    ssize_t n = read(ready[0], msg, sizeof msg - 1);
    assert_true(n > 0);
    msg[n] = '\0';
    assert_int_equal(atoi(msg), ZEUS_ESTATE);
    assert_contains(msg, "GPU 0 was taken from this process by process");
    assert_contains(msg, "(uid 0) with force");
    assert_int_equal(zt_wait(pid, 10), 0);
    expect_gpu0(200000, 0); /* its release put nothing back */
    close(ready[0]);
    close(ready[1]);
    close(cmd[0]);
    close(cmd[1]);
}

/* A change the driver refuses (no permission) changed nothing: no journal is left behind, so
 * the next lease of the GPU is not blocked by a "left changed" it cannot put back either. */
static void test_refused_change_leaves_no_journal(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"errors\": "
                             "{\"nvmlDeviceSetPersistenceMode\": {\"code\": \"NO_PERMISSION\"}, "
                             "\"nvmlDeviceSetPowerManagementLimit\": {\"code\": "
                             "\"NO_PERMISSION\"}}}]}");
    zeus_devices *d;
    assert_int_equal(zt_open(&d), 0);
    unsigned gpu = 0;
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_PERSISTENCE, &l), 0);
    assert_int_equal(zeus_lease_set_persistence_mode(l, 0, true), ZEUS_EPERM);
    assert_contains(zeus_last_error(), "Insufficient Permissions");
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 0, 150000), ZEUS_EPERM);
    assert_false(journal_exists());
    zeus_lease_release(l);
    assert_int_equal(zeus_lease_create(d, &gpu, 1, ZEUS_LEASE_PERSISTENCE, &l), 0);
    zeus_lease_release(l);
    zeus_devices_close(d);
}

/* In a shared lock directory (sticky, as /tmp), a gone process of another user left a journal
 * this user may not remove: it is not put back (again and again over later settings) but left
 * for root or that user, and this user's change of the GPU is refused with that advice. Run as
 * nobody in a directory under /tmp (any checkout path), the devices opened before dropping. */
static void test_other_users_journal(void **state)
{
    (void)state;
    char *dir = tmp_dir;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/zeus-journal-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    zt_use_fake_nvml(dir, NULL);
    char *locks = zt_path(dir, "locks");
    assert_int_equal(mkdir(locks, 01777), 0);
    assert_int_equal(chmod(locks, 01777), 0);
    setenv("ZEUS_LOCK_DIR", locks, 1);
    char *fake_state = zt_path(dir, "fake_nvml.state");
    char *fake_lock = zt_path(dir, "fake_nvml.state.lock");
    free(zt_write(dir, "fake_nvml.state", "gpu 0 limit_mw 130000 persistence 1\n"));
    free(zt_write(dir, "fake_nvml.state.lock", ""));
    assert_int_equal(chmod(fake_state, 0666), 0);
    assert_int_equal(chmod(fake_lock, 0666), 0);
    char text[256];
    snprintf(text, sizeof text,
             "version=1\nuuid=GPU-5eed0000-0000-4000-8000-000000000000\nindex=0\n"
             "power_limit_changed=1\noriginal_power_limit_mw=225000\nholder_pid=%d\n",
             INT32_MAX - 1);
    char *journal = zt_write(locks, JOURNAL, text);
    assert_int_equal(chown(journal, 1234, 1234), 0);
    zeus_devices *d;
    assert_int_equal(zt_open(&d), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        unsigned gpu = 0;
        zeus_lease *l;
        if (zeus_lease_create(d, &gpu, 1, 0, &l) != 0)
            _exit(11);
        int rc = zeus_lease_set_power_limit_mw(l, 0, 200000);
        bool advised = strstr(zeus_last_error(), "zeus power-limit recover` as root") != NULL;
        zeus_lease_release(l);
        _exit(rc == ZEUS_EPERM && advised ? 0 : 12);
    }
    assert_int_equal(zt_wait(pid, 20), 0);
    assert_file_contains(fake_state, "gpu 0 limit_mw 130000 persistence 1\n"); /* untouched */
    assert_int_equal(access(journal, F_OK), 0);                                /* kept */
    /* Root may: recover puts it back. */
    char *out, *err;
    assert_int_equal(zt_zeus(&out, &err, "power-limit", "recover", NULL), 0);
    assert_file_contains(fake_state, "gpu 0 limit_mw 225000 ");
    assert_int_not_equal(access(journal, F_OK), 0);
    free(out);
    free(err);
    zeus_devices_close(d);
    free(journal);
    free(fake_state);
    free(fake_lock);
    free(locks);
}

/* A signal while a lease is being released: the restore thread waits for the release's own
 * restore instead of letting the process die half-way through it (GPU 1's restore is made to
 * take 400 ms by the fake driver; SIGTERM comes 150 ms into it). */
static void test_signal_during_release(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A40\"}, {\"name\": \"NVIDIA A40\", "
                             "\"errors\": {\"nvmlDeviceSetPowerManagementLimit\": {\"code\": "
                             "\"SUCCESS\", \"after\": 1, \"delay_ms\": 400}}}]}");
    free(zt_write(zt_dir, "fake_nvml.state",
                  "gpu 0 limit_mw 225000 persistence 0\ngpu 1 limit_mw 225000 persistence 0\n"));
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        zeus_devices *d;
        zeus_lease *l;
        if (zeus_install_signal_handlers() != 0 || zt_open(&d) != 0 ||
            zeus_lease_create(d, NULL, 0, ZEUS_LEASE_RESTORE_ON_SIGNAL, &l) != 0 ||
            zeus_lease_set_power_limit_mw(l, 0, 150000) != 0 ||
            zeus_lease_set_power_limit_mw(l, 1, 150000) != 0)
            _exit(1);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        zeus_lease_release(l);
        for (;;)
            pause(); /* the signal ends it */
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    usleep(150000);
    kill(pid, SIGTERM);
    assert_int_equal(zt_wait(pid, 10), 128 + SIGTERM);
    assert_file_contains(state_path, "gpu 0 limit_mw 225000 ");
    assert_file_contains(state_path, "gpu 1 limit_mw 225000 ");
    close(ready[0]);
    close(ready[1]);
}

/* A process that sees only GPU 2 (CUDA_VISIBLE_DEVICES=2, a rank given its own GPU) releases
 * a lease: the sweep that follows puts back GPU 0, which a process killed with -9 left changed
 * and which this one does not see (found by the UUID in its journal), limit and persistence
 * mode; a GPU 0 journal whose holder lives is left as it is, and so is one naming a GPU this
 * machine does not have. */
static void test_sweep_reaches_gpus_not_seen(void **state)
{
    (void)state;
    write_state(225000, 0);
    killed_holder();
    zt_options.visible_devices = "2";
    zeus_devices *d;
    assert_int_equal(zt_open(&d), 0);
    assert_int_equal(zeus_gpu_count(d), 1);
    unsigned gpu = 0;
    zeus_lease *l;
    assert_int_equal(zeus_lease_create(d, &gpu, 1, 0, &l), 0);
    expect_gpu0(130000, 1); /* a lease of GPU 2 does not touch GPU 0 */
    assert_int_equal(zeus_lease_set_power_limit_mw(l, 0, 200000), 0);
    zeus_lease_release(l);
    expect_gpu0(225000, 0);
    assert_file_contains(state_path, "gpu 2 limit_mw 300000 persistence 0\n");
    assert_false(journal_exists());

    /* A live holder's journal (this process names itself): untouched by the sweep. */
    zeus__process_id me;
    assert_int_equal(zeus__process_identity(getpid(), &me), 0);
    write_state(130000, 1);
    write_journal(getpid(), me.start_time);
    char *path = journal_path(), *before = zt_read(path);
    assert_int_equal(zeus_lease_create(d, &gpu, 1, 0, &l), 0);
    zeus_lease_release(l);
    expect_gpu0(130000, 1);
    char *after = zt_read(path);
    assert_non_null(after);
    assert_string_equal(after, before);
    free(after);
    free(before);
    free(path);

    /* A gone holder's journal of a GPU this machine lacks: left as it is. */
    char dir[4096];
    assert_int_equal(zeus_lock_dir(dir, sizeof dir), 0);
    free(zt_write(dir, "gpu-GPU-0dd00000-0000-4000-8000-000000000000.journal",
                  "version=1\nuuid=GPU-0dd00000-0000-4000-8000-000000000000\nindex=9\n"
                  "power_limit_changed=1\noriginal_power_limit_mw=225000\n"
                  "holder_pid=4242\nholder_start_time=1\n"));
    assert_int_equal(zeus_lease_create(d, &gpu, 1, 0, &l), 0);
    zeus_lease_release(l);
    char *other = zt_path(dir, "gpu-GPU-0dd00000-0000-4000-8000-000000000000.journal");
    assert_int_equal(access(other, F_OK), 0);
    free(other);
    zeus_devices_close(d);
    zt_options.visible_devices = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_after_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_lease_after_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_after_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_commands_after_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reused_pid_and_live_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_force_breaks_a_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_change_leaves_no_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_users_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal_during_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_reaches_gpus_not_seen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
