/* examples/power_limit_mpi.c run for real with `mpirun -np 4` (Debian's OpenMPI): four
 * processes, one simulated GPU each (the GPUs' settings shared through ZEUS_SIM_STATE, as
 * hardware is), the optimizer's all-reduce over MPI_Allreduce. Checks that every rank chooses
 * the same limit and reports the same whole-job profile, that every rank wrote the same
 * profile file and a second job loads it, and that a rank killed (SIGKILL) mid-profiling ends the
 * job in bounded time with the other ranks' GPUs put back. */
#include "test_support.h"

#include "zeus/zeus.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* OpenMPI keeps allocations (its plugins') until exit: the ASan build's leak check would fail
 * every rank on them. The library's own leaks are checked by the other tests. */
static void quiet_mpi_leaks(void)
{
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
}

static const char *example(void)
{
    const char *p = getenv("ZEUS_TEST_MPI_EXAMPLE");
    assert_non_null(p);
    return p;
}

/* Four GPUs whose workloads differ, so that alone each rank would choose another limit. */
static const char *const sim_config =
    "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"min_power_limit_w\": 100, \"max_power_limit_w\": "
    "300, \"step_time_ms\": %d, \"energy_update_ms\": 0.5, \"compute_fraction\": %g}, "
    "{\"name\": \"NVIDIA A40\", \"min_power_limit_w\": 100, \"max_power_limit_w\": 300, "
    "\"step_time_ms\": %d, \"energy_update_ms\": 0.5, \"compute_fraction\": %g}, "
    "{\"name\": \"NVIDIA A40\", \"min_power_limit_w\": 100, \"max_power_limit_w\": 300, "
    "\"step_time_ms\": %d, \"energy_update_ms\": 0.5, \"compute_fraction\": %g}, "
    "{\"name\": \"NVIDIA A40\", \"min_power_limit_w\": 100, \"max_power_limit_w\": 300, "
    "\"step_time_ms\": %d, \"energy_update_ms\": 0.5, \"compute_fraction\": %g}]}";

static char *setup_sim(const char *dir, int step_ms)
{
    char config[2048];
    snprintf(config, sizeof config, sim_config, step_ms, 0.1, step_ms, 0.5, step_ms, 0.8, step_ms,
             0.98);
    char *path = zt_write(dir, "sim.json", config);
    char *state = zt_path(dir, "state");
    zt_options.backend = "sim";
    zt_options.sim_config = zt_keep(path);
    zt_options.sim_state = zt_keep(state);
    free(path);
    return state;
}

/* The limit every GPU has in the shared state file (mW), or -1 where it differs. */
static void read_limits(const char *state, unsigned *limits)
{
    for (int i = 0; i < 4; i++)
        limits[i] = 300000; /* a GPU never changed has no line */
    FILE *f = fopen(state, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned gpu, mw;
        if (sscanf(line, "gpu %u limit_mw %u", &gpu, &mw) == 2 && gpu < 4)
            limits[gpu] = mw;
    }
    fclose(f);
}

static void test_every_rank_chooses_the_same_limit(void **state)
{
    (void)state;
    quiet_mpi_leaks();
    char *dir = zt_mkdtemp();
    char *sim_state = setup_sim(dir, 2);
    char *profile = zt_path(dir, "profile.json");
    char *argv[] = {"/usr/bin/mpirun",
                    "--allow-run-as-root",
                    "--oversubscribe",
                    "-np",
                    "4",
                    (char *)example(),
                    "4",
                    "1",
                    "60",
                    profile,
                    NULL};
    for (int run = 0; run < 2; run++) { /* the second run loads the profile */
        char *out = NULL, *err = NULL;
        int rc = zt_run(argv, &out, &err, 120);
        if (rc != 0)
            fprintf(stderr, "mpirun: %d\n%s\n%s\n", rc, out, err);
        assert_int_equal(rc, 0);
        unsigned limit[4] = {0}, seen = 0;
        char first_profile[128] = "";
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            int rank;
            unsigned gpu, w;
            char rest[128];
            if (sscanf(line, "rank %d: GPU %u optimal power limit %u W %127[^\n]", &rank, &gpu, &w,
                       rest) != 4)
                continue;
            assert_true(rank >= 0 && rank < 4);
            assert_int_equal(gpu, (unsigned)rank); /* one GPU per rank */
            limit[rank] = w;
            seen |= 1u << rank;
            /* The same whole-job profile on every rank. */
            if (!first_profile[0])
                snprintf(first_profile, sizeof first_profile, "%s", rest);
            assert_string_equal(rest, first_profile);
        }
        assert_int_equal(seen, 0xf);
        for (int r = 0; r < 4; r++) {
            assert_true(limit[r] >= 100 && limit[r] <= 300);
            assert_int_equal(limit[r], limit[0]);
        }
        /* Every rank wrote the profile atomically: one whole file. */
        zeus_power_limit_profile p;
        assert_int_equal(zeus_power_limit_profile_read(profile, &p), ZEUS_OK);
        assert_int_equal(p.count, 9);
        zeus_power_limit_profile_free(&p);
        /* The GPUs are back at their limit. */
        unsigned now[4];
        read_limits(sim_state, now);
        for (int g = 0; g < 4; g++)
            assert_int_equal(now[g], 300000);
        free(out);
        free(err);
    }
    free(profile);
    free(sim_state);
    zt_rmtree(dir);
    free(dir);
}

/* The pid of the process whose environment has OMPI_COMM_WORLD_RANK=<rank> and our marker. */
static int find_rank(int rank, const char *marker)
{
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)) && !found) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], env[65536];
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(env, 1, sizeof env - 1, f);
        fclose(f);
        bool has_rank = false, has_marker = false;
        for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
            env[n] = '\0';
            has_rank |= strcmp(env + i, want) == 0;
            has_marker |= strcmp(env + i, marker) == 0;
        }
        if (has_rank && has_marker)
            found = pid;
    }
    if (d)
        closedir(d);
    return found;
}

static void test_a_killed_rank_ends_the_job(void **state)
{
    (void)state;
    quiet_mpi_leaks();
    char *dir = zt_mkdtemp();
    char *sim_state = setup_sim(dir, 10);
    char marker[512];
    snprintf(marker, sizeof marker, "ZEUS_TEST_MPI_MARKER=%s", dir);
    setenv("ZEUS_TEST_MPI_MARKER", dir, 1);
    /* mpirun gives the other ranks 3 s after its SIGTERM to put their GPUs back (its default,
     * 1 s, is short on a loaded machine; docs/power-limit.md says so). */
    char *argv[] = {"/usr/bin/mpirun",
                    "--allow-run-as-root",
                    "--oversubscribe",
                    "--mca",
                    "odls_base_sigkill_timeout",
                    "3",
                    "-np",
                    "4",
                    (char *)example(),
                    "40",
                    "1",
                    "400",
                    NULL};
    int job = zt_spawn(argv);
    assert_true(job > 0);
    /* Wait until profiling has lowered a limit, then kill rank 1. */
    int victim = 0;
    for (int i = 0; i < 3000 && !victim; i++) {
        unsigned now[4];
        read_limits(sim_state, now);
        if (now[0] < 300000 && now[1] < 300000)
            victim = find_rank(1, marker);
        else
            usleep(10000);
    }
    assert_true(victim > 0);
    assert_int_equal(kill(victim, SIGKILL), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = zt_wait(job, 60);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_not_equal(rc, -1); /* no hang */
    assert_int_not_equal(rc, 0);  /* the job failed */
    assert_true(t1.tv_sec - t0.tv_sec < 30);
    /* The other ranks put their GPUs back; the killed one's GPU keeps what it had (nothing
     * runs on SIGKILL: `zeus power-limit reset` puts it back). */
    unsigned now[4];
    read_limits(sim_state, now);
    assert_int_equal(now[0], 300000);
    assert_int_equal(now[2], 300000);
    assert_int_equal(now[3], 300000);
    unsetenv("ZEUS_TEST_MPI_MARKER");
    free(sim_state);
    zt_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rank_chooses_the_same_limit),
        cmocka_unit_test(test_a_killed_rank_ends_the_job),
    };
    return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
