/* A short real profiling run of the power-limit optimizer on GPU 0, driving a training-step
 * worker process (one byte in = one step, one byte out = done), then checking that the GPU is
 * back at the limit it had. For GPU validation (scripts/validate-gpu.sh):
 *
 *   ./build/bench/validate_power_limit [--pl-step W] [--warmup N] [--profile N]
 *                                      -- python3 scripts/matmul_worker.py 50
 *
 * On simulated GPUs each step also runs a simulated step, so the run can be tried anywhere:
 *   ZEUS_DEVICE=sim ./build/bench/validate_power_limit -- cat */
#include "core/internal.h"
#include "zeus/zeus.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int to_worker = -1, from_worker = -1;

static int step(zeus_devices *d)
{
    char c = 's';
    if (write(to_worker, &c, 1) != 1 || read(from_worker, &c, 1) != 1)
        return -1;
    if (zeus_sim_launch_step(d, 0, NULL) == ZEUS_OK) /* simulated GPUs: draw the step's power */
        zeus_sim_synchronize(d, 0);
    return 0;
}

static pid_t start_worker(char **argv)
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execvp(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_worker = in[1];
    from_worker = out[0];
    return pid;
}

int main(int argc, char **argv)
{
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.warmup_steps = 3;
    o.profile_steps = 10;
    o.pl_step_w = 100;
    int i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        int v = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--pl-step") == 0)
            o.pl_step_w = v;
        else if (strcmp(argv[i], "--warmup") == 0)
            o.warmup_steps = v;
        else if (strcmp(argv[i], "--profile") == 0)
            o.profile_steps = v;
    }
    if (i >= argc - 1 || strcmp(argv[i], "--") != 0) {
        fprintf(stderr, "usage: validate_power_limit [--pl-step W] [--warmup N] [--profile N] "
                        "-- WORKER [ARG ...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    zeus_devices *d;
    zeus_monitor *m;
    zeus_power_limit_optimizer *plo = NULL;
    unsigned gpu0 = 0, before = 0, after = 0;
    if (zeus_devices_open(&d) != ZEUS_OK || zeus_gpu_power_limit_mw(d, 0, &before) != ZEUS_OK) {
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
        return 1;
    }
    zeus_monitor_options mo;
    zeus_monitor_options_init(&mo);
    mo.gpu_indices = &gpu0;
    mo.gpu_count = 1;
    if (zeus_monitor_open(d, &mo, &m) != ZEUS_OK) {
        fprintf(stderr, "zeus: %s\n", zeus_last_error());
        return 1;
    }
    pid_t worker = start_worker(argv + i + 1);
    int rc = zeus_power_limit_optimizer_create(m, &o, &plo);
    if (rc != ZEUS_OK) {
        printf("optimizer: %s\n", zeus_last_error());
        goto done;
    }
    printf("GPU 0 limit before: %u W; profiling every %d W with %d warmup + %d measured steps\n",
           before / 1000, o.pl_step_w, o.warmup_steps, o.profile_steps);
    int64_t t0 = zeus_now_ns();
    int steps = 0;
    while (zeus_power_limit_optimal_mw(plo) == 0 && steps < 10000) {
        if ((rc = zeus_power_limit_on_step_begin(plo)) != ZEUS_OK) {
            printf("on_step_begin: %s\n", zeus_last_error());
            break;
        }
        if (step(d) != 0) {
            printf("the worker stopped after %d steps\n", steps);
            break;
        }
        zeus_power_limit_on_step_end(plo);
        steps++;
    }
    unsigned settled = 0;
    zeus_gpu_power_limit_mw(d, 0, &settled);
    printf("%d steps in %.1f s; optimal limit %u W, GPU 0 now at %u W\n", steps,
           (double)(zeus_now_ns() - t0) * 1e-9, zeus_power_limit_optimal_mw(plo) / 1000,
           settled / 1000);
    zeus_power_limit_measurement p[64];
    size_t n = zeus_power_limit_measurements(plo, p, 64);
    for (size_t k = 0; k < n && k < 64; k++)
        printf("  %4u W  %8.3f s  %10.2f J  %7.1f W average\n", p[k].power_limit_w, p[k].time_s,
               p[k].energy_j, p[k].energy_j / p[k].time_s);
done:
    zeus_power_limit_optimizer_destroy(plo);
    zeus_gpu_power_limit_mw(d, 0, &after);
    printf("GPU 0 limit after the optimizer is destroyed: %u W (%s)\n", after / 1000,
           after == before ? "restored" : "NOT RESTORED");
    close(to_worker);
    if (worker > 0)
        waitpid(worker, NULL, 0);
    zeus_monitor_close(m);
    zeus_devices_close(d);
    return after == before ? 0 : 1;
}
