/* The optimizer's safety and errors against the fake NVML: permission advice, range and model
 * checks, knob validation, profile mismatch and corruption, and never leaving a GPU at a wrong
 * limit (destroy, normal exit, SIGTERM/SIGINT with chaining, a forked child's exit). */
#include "power_limit_rig.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static const pl_case *a40 = &pl_cases[2];   /* A40 resnet18 gpu0: Zeus(0.5) -> 175 W */
static const pl_case *a40x4 = &pl_cases[1]; /* 4 GPUs */

static zeus_optimum_selector default_selector(void)
{
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    return o.selector;
}

/* Steps without an epoch end (an epoch end would interrupt the limit being profiled). */
static void steps(zeus_power_limit_optimizer *plo, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(zeus_power_limit_on_step_begin(plo), ZEUS_OK);
}

static unsigned limit_of(zeus_devices *d, unsigned gpu)
{
    unsigned mw = 0;
    assert_int_equal(zeus_gpu_power_limit_mw(d, gpu, &mw), ZEUS_OK);
    return mw;
}

/* Opens the fake NVML and a replay monitor with a custom fake config. */
static void rig_open_config(rig *r, const pl_case *c, const char *config)
{
    zt_use_fake_nvml(zt_dir, config);
    r->log = zt_path(zt_dir, "nvml.log");
    unlink(r->log);
    setenv("ZEUS_FAKE_NVML_LOG", r->log, 1);
    assert_int_equal(zt_open(&r->devices), ZEUS_OK);
    char *csv = pl_case_path(c);
    assert_int_equal(zeus_monitor_open_replay(r->devices, csv, false, &r->monitor), ZEUS_OK);
    free(csv);
}

static int try_create(rig *r, const zeus_power_limit_options *o, zeus_power_limit_optimizer **out)
{
    *out = NULL;
    return zeus_power_limit_optimizer_create(r->monitor, o, out);
}

typedef struct {
    rig *r;
    zeus_power_limit_options *o;
} unwritable_case;

/* In a child as nobody: creating the optimizer with an unwritable profile path is EPERM, naming
 * the path, before any GPU is touched. */
static int create_refused(void *arg)
{
    unwritable_case *c = arg;
    zeus_power_limit_optimizer *plo;
    int rc = try_create(c->r, c->o, &plo);
    if (rc != ZEUS_EPERM) {
        fprintf(stderr, "create: %d %s\n", rc, zeus_last_error());
        return 1;
    }
    return strstr(zeus_last_error(), c->o->profile_path) ? 0 : 2;
}

static void test_no_permission(void **state)
{
    (void)state;
    static const char *const functions[] = {"nvmlDeviceSetPersistenceMode",
                                            "nvmlDeviceSetPowerManagementLimit"};
    /* AMD (the vendor matrix) has no persistence mode, and names its call amdsmi_set_power_cap. */
    for (size_t i = zt_vendor_has_persistence() ? 0 : 1; i < 2; i++) {
        char config[512];
        snprintf(config, sizeof config,
                 "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 4, \"errors\": {\"%s\": "
                 "{\"code\": \"NO_PERMISSION\"}}}]}",
                 functions[i]);
        rig r;
        rig_open_config(&r, a40, config);
        zeus_power_limit_optimizer *plo;
        assert_int_equal(try_create(&r, NULL, &plo), ZEUS_EPERM);
        assert_null(plo);
        const char *msg = zeus_last_error();
        assert_contains(msg, "SYS_ADMIN capability is required to modify GPU power limits. Using "
                             "--cap-add SYS_ADMIN when running the Docker container is the "
                             "easiest way to do this.");
        assert_contains(msg, zt_vendor_amd() ? "amdsmi_set_power_cap" : functions[i]);
        nvml_log l;
        read_log(r.log, &l);
        assert_int_equal(l.limits, 0);
        rig_close(&r);
    }
}

static void test_ranges_and_models(void **state)
{
    (void)state;
    rig r;
    zeus_power_limit_optimizer *plo;
    rig_open_config(&r, a40x4,
                    "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 3}, {\"name\": \"NVIDIA "
                    "A40\", \"max_power_limit_w\": 250}]}");
    assert_int_equal(try_create(&r, NULL, &plo), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "Power limits ranges are not uniform across GPUs.");
    rig_close(&r);

    rig_open_config(&r, a40x4,
                    "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"count\": 3}, {\"name\": \"NVIDIA "
                    "A40-PCIE\"}]}");
    assert_int_equal(try_create(&r, NULL, &plo), ZEUS_EHETERO);
    rig_close(&r);

    /* A replay monitor without devices has nowhere to set limits. */
    zeus_monitor *m;
    char *csv = pl_case_path(a40);
    assert_int_equal(zeus_monitor_open_replay(NULL, csv, false, &m), ZEUS_OK);
    assert_int_equal(zeus_power_limit_optimizer_create(m, NULL, &plo), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "no devices");
    zeus_monitor_close(m);
    free(csv);
}

static void test_knobs(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, a40, "nvml.log");
    struct {
        int wait, warmup, profile, step;
        const char *message;
    } bad[] = {{-1, 10, 40, 25, "wait_steps must be non-negative."},
               {1, -1, 40, 25, "warmup_steps must be non-negative."},
               {1, 10, 0, 25, "profile_steps must be positive."},
               {1, 10, 40, 0, "pl_step must be positive."}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zeus_power_limit_options o;
        zeus_power_limit_options_init(&o);
        o.wait_steps = bad[i].wait;
        o.warmup_steps = bad[i].warmup;
        o.profile_steps = bad[i].profile;
        o.pl_step_w = bad[i].step;
        zeus_power_limit_optimizer *plo;
        assert_int_equal(try_create(&r, &o, &plo), ZEUS_EINVAL);
        assert_contains(zeus_last_error(), bad[i].message);
    }
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.selector.eta_knob = 1.5;
    zeus_power_limit_optimizer *plo;
    assert_int_equal(try_create(&r, &o, &plo), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "eta_knob must be between 0 and 1");
    const double budgets[] = {0, -0.5, 1.5, NAN};
    for (size_t i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        zeus_power_limit_options_init(&o);
        assert_true(o.profiling_budget == 0.45);
        o.profiling = ZEUS_PL_PROFILING_ADAPTIVE;
        o.profiling_budget = budgets[i];
        assert_int_equal(try_create(&r, &o, &plo), ZEUS_EINVAL);
        assert_contains(zeus_last_error(), "profiling_budget must be above 0 and at most 1");
    }
    nvml_log l;
    read_log(r.log, &l);
    assert_int_equal(l.limits + l.persistence_count, 0); /* nothing touched */

    /* warmup_steps = 0 (crashes in the original) profiles straight after each change. */
    zeus_power_limit_options_init(&o);
    o.warmup_steps = 0;
    assert_int_equal(try_create(&r, &o, &plo), ZEUS_OK);
    train(plo, 1, 2 + 9 * 40, true);
    assert_int_equal(zeus_power_limit_optimal_mw(plo), 175000);
    zeus_power_limit_optimizer_destroy(plo);
    rig_close(&r);
}

static void test_profile_errors(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, a40, "nvml.log");
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    zeus_power_limit_optimizer *plo;

    char *alien = zt_write(zt_dir, "alien.json",
                           "{\"measurements\": [{\"power_limit\": 350, \"energy\": 10, "
                           "\"time\": 1}, {\"power_limit\": 325, \"energy\": 9, \"time\": 1}]}");
    o.profile_path = alien;
    assert_int_equal(try_create(&r, &o, &plo), ZEUS_ERANGE);
    assert_contains(zeus_last_error(), alien);
    assert_contains(zeus_last_error(), "350 W is outside this GPU's range 100-300 W");

    char *corrupt = zt_write(zt_dir, "corrupt.json", "{\"measurements\": [{\"power_limit\": 3");
    o.profile_path = corrupt;
    assert_int_equal(try_create(&r, &o, &plo), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), corrupt);

    char *empty = zt_write(zt_dir, "empty.json", "");
    o.profile_path = empty;
    assert_int_equal(try_create(&r, &o, &plo), ZEUS_EPARSE);
    assert_contains(zeus_last_error(), empty);

    /* None of these re-profiled or touched the GPUs; the files are left as they were. */
    nvml_log l;
    read_log(r.log, &l);
    assert_int_equal(l.limits + l.persistence_count, 0);
    char *text = zt_read(empty);
    assert_string_equal(text, "");
    free(text);

    /* An unwritable place for a new profile is refused up front, not after profiling (checked
     * as user nobody in a child: root may write anywhere). */
    char *ro = zt_path(zt_dir, "ro");
    mkdir(ro, 0555);
    char *inside = zt_path(ro, "profile.json");
    o.profile_path = inside;
    unwritable_case c = {&r, &o};
    int rc = zt_as_nobody(create_refused, &c);
    if (rc == ZT_NOBODY_UNREACHABLE)
        zt_skip("user nobody cannot reach the build tree");
    assert_int_equal(rc, 0);
    free(inside);
    free(ro);
    free(alien);
    free(corrupt);
    free(empty);
    rig_close(&r);
}

/* With profile_gpu_model the file names the model, and another model refuses it. */
static void test_profile_gpu_model(void **state)
{
    (void)state;
    char *profile = zt_path(zt_dir, "model.json");
    rig r;
    rig_open(&r, a40, "nvml.log");
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.profile_path = profile;
    o.profile_gpu_model = true;
    zeus_power_limit_optimizer *plo;
    assert_int_equal(try_create(&r, &o, &plo), ZEUS_OK);
    train(plo, 1, 2 + 9 * 50, true);
    zeus_power_limit_optimizer_destroy(plo);
    rig_close(&r);
    char *text = zt_read(profile);
    assert_contains(text, "\"gpu_model\": \"NVIDIA A40\"");
    free(text);

    rig_open(&r, &pl_cases[8], "nvml.log"); /* V100 */
    assert_int_equal(try_create(&r, &o, &plo), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "was made on NVIDIA A40, but these GPUs are Tesla V100");
    assert_contains(zeus_last_error(), profile);
    rig_close(&r);
    free(profile);
}

/* Destroy puts each GPU back to the limit it had, not to the maximum. */
static void test_restore_original(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, a40x4, "nvml.log");
    unsigned before[4] = {200000, 250000, 300000, 125000};
    for (unsigned g = 0; g < 4; g++)
        assert_int_equal(zeus_gpu_set_power_limit_mw(r.devices, g, before[g]), ZEUS_OK);
    zeus_power_limit_optimizer *plo = create(&r, default_selector(), NULL);
    steps(plo, 60); /* warming up 275 W */
    bool pm = false;
    for (unsigned g = 0; g < 4; g++) {
        assert_int_equal(limit_of(r.devices, g), 275000);
        if (!zt_vendor_has_persistence())
            continue; /* AMD: nothing to enable */
        assert_int_equal(zeus_gpu_persistence_mode(r.devices, g, &pm), ZEUS_OK);
        assert_true(pm); /* the optimizer enables persistence mode, as the original does */
    }
    /* _restore() puts them back now; the next hook re-applies. */
    assert_int_equal(zeus_power_limit_optimizer_restore(plo), ZEUS_OK);
    for (unsigned g = 0; g < 4; g++)
        assert_int_equal(limit_of(r.devices, g), before[g]);
    bool has_pm = zt_vendor_has_persistence();
    assert_int_equal(zeus_gpu_persistence_mode(r.devices, 0, &pm), has_pm ? ZEUS_OK : ZEUS_ENOTSUP);
    assert_true(!has_pm || !pm);
    assert_int_equal(zeus_power_limit_on_step_begin(plo), ZEUS_OK);
    for (unsigned g = 0; g < 4; g++)
        assert_int_equal(limit_of(r.devices, g), 275000);
    assert_int_equal(zeus_gpu_persistence_mode(r.devices, 0, &pm), has_pm ? ZEUS_OK : ZEUS_ENOTSUP);
    assert_true(!has_pm || pm);
    zeus_power_limit_optimizer_destroy(plo);
    for (unsigned g = 0; g < 4; g++) {
        assert_int_equal(limit_of(r.devices, g), before[g]);
        /* ... and, unlike the original, puts it back (issue 9 item 14) */
        assert_int_equal(zeus_gpu_persistence_mode(r.devices, g, &pm),
                         has_pm ? ZEUS_OK : ZEUS_ENOTSUP);
        assert_true(!has_pm || !pm);
    }
    rig_close(&r);
}

/* ---- processes ---- */

/* Kept in globals so that LeakSanitizer does not count what a child deliberately never frees
 * before exit() as leaked. */
static rig child_rig;
static zeus_power_limit_optimizer *child_plo;

/* In a child: an optimizer on GPU 0 (original limit 250 W) profiling 275 W, then tell the
 * parent. Exits 100+ on a setup failure. */
static void child_start_profiling(int ready_fd)
{
    /* The application asks for the restore-on-signal handlers (the library installs none). */
    if (zeus_install_signal_handlers() != ZEUS_OK)
        _exit(100);
    if (zt_open(&child_rig.devices) != ZEUS_OK)
        _exit(101);
    if (zeus_gpu_set_power_limit_mw(child_rig.devices, 0, 250000) != ZEUS_OK)
        _exit(102);
    char *csv = pl_case_path(a40);
    if (zeus_monitor_open_replay(child_rig.devices, csv, false, &child_rig.monitor) != ZEUS_OK)
        _exit(103);
    free(csv);
    if (zeus_power_limit_optimizer_create(child_rig.monitor, NULL, &child_plo) != ZEUS_OK)
        _exit(104);
    for (int s = 0; s < 1 + 50 + 20; s++) /* 300 profiled; 275 in its profiling window */
        if (zeus_power_limit_on_step_begin(child_plo) != ZEUS_OK)
            _exit(105);
    zeus_power_limit_state st;
    zeus_power_limit_get_state(child_plo, &st);
    if (st.phase != ZEUS_PL_PROFILING || st.power_limit_mw != 275000)
        _exit(106);
    if (write(ready_fd, "R", 1) != 1)
        _exit(107);
}

/* Forks a child running body, waits until it wrote its ready byte. With channel, the pipe stays
 * open and *channel receives its read end (for what the child writes later). */
static pid_t spawn(void (*body)(int ready_fd), int *channel)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        close(fds[0]);
        body(fds[1]);
        _exit(99);
    }
    close(fds[1]);
    char c = 0;
    ssize_t n = read(fds[0], &c, 1);
    if (channel)
        *channel = fds[0];
    else
        close(fds[0]);
    if (n != 1 || c != 'R') {
        int status;
        waitpid(pid, &status, 0);
        fprintf(stderr, "child failed before it was ready: status %d\n", status);
        fail();
    }
    return pid;
}

static unsigned gpu0_limit_now(void)
{
    zeus_devices *d;
    assert_int_equal(zt_open(&d), ZEUS_OK);
    unsigned mw = limit_of(d, 0);
    zeus_devices_close(d);
    return mw;
}

static void body_sleep_forever(int ready_fd)
{
    child_start_profiling(ready_fd);
    for (;;) {
        zeus_power_limit_on_step_end(child_plo);
        usleep(1000);
    }
}

/* Done-when: a process killed by SIGTERM mid-profiling has restored the limit, as the fake
 * NVML's shared state shows; and it still dies by SIGTERM (default action re-raised). */
static void test_sigterm_restores(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    pid_t pid = spawn(body_sleep_forever, NULL);
    assert_int_equal(gpu0_limit_now(), 275000);
    kill(pid, SIGTERM);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_int_equal(gpu0_limit_now(), 250000);
}

static int chained_fd = -1;

static void previous_handler(int sig)
{
    char c = sig == SIGINT ? 'I' : 'T';
    if (write(chained_fd, &c, 1) != 1)
        _exit(98);
    _exit(42);
}

static void body_with_previous_handler(int ready_fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = previous_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    chained_fd = ready_fd;
    child_start_profiling(ready_fd);
    for (;;)
        usleep(1000);
}

/* SIGINT: limits restored first, then the handler installed before the optimizer runs. */
static void test_sigint_chains(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    int channel;
    pid_t pid = spawn(body_with_previous_handler, &channel);
    char c = 0;
    assert_int_equal(gpu0_limit_now(), 275000);
    kill(pid, SIGINT);
    assert_int_equal(read(channel, &c, 1), 1);
    assert_int_equal(c, 'I');
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 42);
    assert_int_equal(gpu0_limit_now(), 250000);
    close(channel);
}

static void body_exit_normally(int ready_fd)
{
    child_start_profiling(ready_fd);
    exit(0); /* no destroy: the exit hook restores */
}

static void test_exit_restores(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, NULL);
    pid_t pid = spawn(body_exit_normally, NULL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(gpu0_limit_now(), 250000);
}

static atomic_int flag;

/* The restore thread runs the chained handler; wait (bounded) until it did. */
static void wait_flag(void)
{
    for (int i = 0; i < 500 && !atomic_load(&flag); i++)
        usleep(10000);
    assert_int_equal(atomic_load(&flag), 1);
}

static void flag_handler(int sig)
{
    (void)sig;
    atomic_store(&flag, 1);
}

/* A previous handler that lets the process go on: limits were restored, so the optimizer sets
 * its own again at the next hook. An ignored signal stays ignored. A forked child's normal exit
 * never touches the parent's GPUs. */
static void test_in_process_signal_paths(void **state)
{
    (void)state;
    struct sigaction sa, saved_term, saved_int;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = flag_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &saved_term);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, &saved_int);

    rig r;
    rig_open(&r, a40, "nvml.log");
    assert_int_equal(zeus_gpu_set_power_limit_mw(r.devices, 0, 225000), ZEUS_OK);
    zeus_power_limit_optimizer *plo = create(&r, default_selector(), NULL);
    /* The library installs nothing by itself (a Python interpreter keeps its handlers). */
    struct sigaction cur;
    sigaction(SIGTERM, NULL, &cur);
    assert_true(!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == flag_handler);
    assert_int_equal(zeus_install_signal_handlers(), ZEUS_OK);
    assert_int_equal(zeus_install_signal_handlers(), ZEUS_OK); /* idempotent */
    sigaction(SIGINT, NULL, &cur);
    assert_true(cur.sa_handler == SIG_IGN);
    steps(plo, 60); /* warming up 275 W */
    assert_int_equal(limit_of(r.devices, 0), 275000);

    atomic_store(&flag, 0);
    raise(SIGTERM);
    wait_flag(); /* restored first, then chained */
    assert_int_equal(limit_of(r.devices, 0), 225000);
    assert_int_equal(zeus_power_limit_on_step_begin(plo), ZEUS_OK);
    assert_int_equal(limit_of(r.devices, 0), 275000);

    pid_t pid = fork();
    if (pid == 0)
        exit(0);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(limit_of(r.devices, 0), 275000);

    zeus_power_limit_optimizer_destroy(plo);
    assert_int_equal(limit_of(r.devices, 0), 225000);
    zeus_uninstall_signal_handlers();
    /* The handler we chained to is back in place. */
    sigaction(SIGTERM, NULL, &cur);
    assert_true(!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == flag_handler);
    rig_close(&r);
    sigaction(SIGTERM, &saved_term, NULL);
    sigaction(SIGINT, &saved_int, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_permission, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_ranges_and_models, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_knobs, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_profile_errors, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_profile_gpu_model, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_restore_original, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_restores, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_sigint_chains, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_exit_restores, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_in_process_signal_paths, zt_setup, zt_teardown),
    };
    if (getenv("ZT_FILTER"))
        cmocka_set_test_filter(getenv("ZT_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
