/* Cost of the power-limit optimizer's hooks in the training loop: zeus_power_limit_on_step_begin
 * while warming up / profiling (a counter decrement) and once Done (a comparison), against an
 * empty call through a function pointer measured in the same run. Runs on the sim backend (no
 * GPU needed). Usage: bench_power_limit_hooks [calls] */
#include "zeus/zeus.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int empty_hook(zeus_power_limit_optimizer *plo)
{
    (void)plo;
    return 0;
}

/* One rank alone: the values are already the job's. */
static int identity_all_reduce(double *values, size_t count, zeus_reduce_op op, void *user)
{
    (void)values, (void)count, (void)op, (void)user;
    return ZEUS_OK;
}

static double per_call_ns(int (*hook)(zeus_power_limit_optimizer *), zeus_power_limit_optimizer *p,
                          long calls)
{
    double t0 = now_s();
    for (long i = 0; i < calls; i++)
        if (hook(p) != ZEUS_OK)
            return -1;
    return (now_s() - t0) * 1e9 / (double)calls;
}

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 20000000;
    setenv("ZEUS_DEVICE", "sim", 1);
    zeus_devices *d;
    zeus_monitor *m;
    zeus_monitor_options mo;
    zeus_monitor_options_init(&mo);
    mo.measure_update_period = false;
    if (zeus_devices_open(&d) != ZEUS_OK || zeus_monitor_open(d, &mo, &m) != ZEUS_OK) {
        fprintf(stderr, "%s\n", zeus_last_error());
        return 1;
    }
    int (*volatile empty)(zeus_power_limit_optimizer *) = empty_hook;
    int (*volatile hook)(zeus_power_limit_optimizer *) = zeus_power_limit_on_step_begin;

    /* Warmup long enough that every measured call is a plain step inside a phase. */
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.wait_steps = 0;
    o.warmup_steps = 2000000000;
    zeus_power_limit_optimizer *p;
    if (zeus_power_limit_optimizer_create(m, &o, &p) != ZEUS_OK) {
        fprintf(stderr, "%s\n", zeus_last_error());
        return 1;
    }
    double base = per_call_ns(empty, p, calls);
    double phase = per_call_ns(hook, p, calls);
    zeus_power_limit_optimizer_destroy(p);

    /* The same with an all-reduce (distributed training): it runs only at window ends. */
    o.all_reduce = identity_all_reduce;
    if (zeus_power_limit_optimizer_create(m, &o, &p) != ZEUS_OK) {
        fprintf(stderr, "%s\n", zeus_last_error());
        return 1;
    }
    double dist_phase = per_call_ns(hook, p, calls);
    zeus_power_limit_optimizer_destroy(p);
    o.all_reduce = NULL;

    /* Done: a saved profile. */
    char path[] = "/tmp/zeus-bench-profile-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    static const zeus_power_limit_measurement prof[] = {{300, 100, 1}, {200, 80, 1.1}};
    zeus_power_limit_profile_write(path, prof, 2, NULL);
    o.profile_path = path;
    if (zeus_power_limit_optimizer_create(m, &o, &p) != ZEUS_OK) {
        fprintf(stderr, "%s\n", zeus_last_error());
        return 1;
    }
    double done = per_call_ns(hook, p, calls);
    zeus_power_limit_optimizer_destroy(p);
    unlink(path);

    printf("zeus_power_limit_on_step_begin, %ld calls, %u simulated GPUs:\n", calls,
           zeus_gpu_count(d));
    printf("  empty hook (baseline)     %6.2f ns/call\n", base);
    printf("  inside a phase (warmup)   %6.2f ns/call (%.2fx baseline)\n", phase, phase / base);
    printf("  inside a phase, all-reduce set (distributed) %6.2f ns/call (%.2fx baseline)\n",
           dist_phase, dist_phase / base);
    printf("  done                      %6.2f ns/call (%.2fx baseline)\n", done, done / base);
    zeus_monitor_close(m);
    zeus_devices_close(d);
    return 0;
}
