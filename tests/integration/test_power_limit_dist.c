/* The power-limit optimizer across ranks (distributed training): four ranks as four threads,
 * each with its own simulated GPU (a different workload, so that each would choose a different
 * limit alone) and its own optimizer, joined by an all-reduce over a barrier. Checks that every
 * rank chooses the same limit, that the profile is the sum (energy) and max (time) of what the
 * ranks measured, that ZeusCost counts every rank's GPUs, and that creation and windows fail on
 * every rank together (a rank that failed, profile files on some ranks only, a failed
 * collective). The real collectives (MPI, torch.distributed) are tested in
 * tests/e2e/test_power_limit_mpi.c and tests/python/test_distributed.py. */
#include "test_support.h"

#include "core/internal.h"
#include "power_limit/power_limit_dist.h"
#include "zeus/zeus.h"

#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANKS 4
#define MAX_VALUES 8
#define MAX_CALLS 64

/* ---- a collective over threads ---- */
typedef struct {
    pthread_barrier_t barrier;
    double slots[RANKS][MAX_VALUES];
} group;

typedef struct {
    group *g;
    unsigned rank;
    int fail_at; /* the n-th call fails (ZEUS_EIO), 0: never */
    int calls;
    /* what this rank contributed to each window's collectives */
    double energy_in[MAX_CALLS], time_in[MAX_CALLS];
    size_t energies, times;
} rank_comm;

static int thread_all_reduce(double *values, size_t count, zeus_reduce_op op, void *user)
{
    rank_comm *c = user;
    if (++c->calls == c->fail_at)
        return ZEUS_EIO;
    if (count == 3 && op == ZEUS_REDUCE_SUM && c->energies < MAX_CALLS)
        c->energy_in[c->energies++] = values[0];
    if (count == 1 && op == ZEUS_REDUCE_MAX && c->times < MAX_CALLS)
        c->time_in[c->times++] = values[0];
    memcpy(c->g->slots[c->rank], values, count * sizeof *values);
    pthread_barrier_wait(&c->g->barrier);
    for (size_t i = 0; i < count; i++) {
        double acc = c->g->slots[0][i];
        for (unsigned r = 1; r < RANKS; r++)
            acc = op == ZEUS_REDUCE_SUM ? acc + c->g->slots[r][i] : fmax(acc, c->g->slots[r][i]);
        values[i] = acc;
    }
    pthread_barrier_wait(&c->g->barrier); /* nobody overwrites a slot still being read */
    return ZEUS_OK;
}

/* ---- one rank: its own simulated GPU, monitor and optimizer ---- */
typedef struct {
    rank_comm comm;
    const char *profile_path;
    bool distributed;
    bool adaptive; /* profiling = ZEUS_PL_PROFILING_ADAPTIVE */
    int create_rc, hook_rc;
    unsigned optimal_w;
    zeus_power_limit_measurement profile[16];
    size_t profiled;
    zeus_optimum_selector selector;
    double energy_update_ms; /* this rank's counter period (0: 0.5 ms) */
    char error[512];
} rank_run;

static void *run_rank(void *arg)
{
    rank_run *r = arg;
    static const double fractions[RANKS] = {0.1, 0.5, 0.8, 0.98};
    char config[512];
    snprintf(config, sizeof config,
             "{\"gpus\": [{\"name\": \"NVIDIA A40\", \"min_power_limit_w\": 100, "
             "\"max_power_limit_w\": 300, \"step_time_ms\": 2, \"compute_fraction\": %g, "
             "\"energy_update_ms\": %g}]}",
             fractions[r->comm.rank], r->energy_update_ms > 0 ? r->energy_update_ms : 0.5);
    zeus_device_options d;
    zeus_device_options_init(&d);
    d.backend = "sim";
    d.sim_config = config;
    d.allowed_backends = "sim";
    zeus_devices *devices = NULL;
    zeus_monitor *monitor = NULL;
    zeus_power_limit_optimizer *plo = NULL;
    zeus_monitor_options mo;
    zeus_monitor_options_init(&mo);
    mo.measure_update_period = false;
    r->create_rc = zeus_devices_open_with(&d, &devices);
    if (r->create_rc != ZEUS_OK)
        zeus__strlcpy(r->error, zeus_last_error(), sizeof r->error);
    if (r->create_rc == ZEUS_OK)
        r->create_rc = zeus_monitor_open(devices, &mo, &monitor);
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.wait_steps = 0;
    o.warmup_steps = 1;
    o.profile_steps = 4;
    o.pl_step_w = 25;
    o.profile_path = r->profile_path;
    o.restore_on_exit = o.restore_on_signal = false;
    if (r->adaptive) {
        o.profile_steps = 16; /* windows of 2 steps */
        o.profiling = ZEUS_PL_PROFILING_ADAPTIVE;
    }
    if (r->distributed) {
        o.all_reduce = thread_all_reduce;
        o.all_reduce_user = &r->comm;
    }
    if (r->create_rc == ZEUS_OK)
        r->create_rc = zeus_power_limit_optimizer_create(monitor, &o, &plo);
    if (r->create_rc != ZEUS_OK) {
        zeus__strlcpy(r->error, zeus_last_error(), sizeof r->error);
        goto done;
    }
    zeus_power_limit_state st = {0};
    for (int step = 0; step < 3000 && r->hook_rc == ZEUS_OK && st.phase != ZEUS_PL_DONE; step++) {
        zeus_power_limit_get_state(plo, &st);
        r->hook_rc = zeus_power_limit_on_step_begin(plo);
        zeus_sim_launch_step(devices, 0, NULL);
        zeus_sim_synchronize(devices, 0);
    }
    if (r->hook_rc != ZEUS_OK)
        zeus__strlcpy(r->error, zeus_last_error(), sizeof r->error);
    r->optimal_w = zeus_power_limit_optimal_mw(plo) / 1000;
    r->profiled = zeus_power_limit_measurements(plo, r->profile, 16);
    r->selector = zeus_power_limit_selector(plo);
done:
    zeus_power_limit_optimizer_destroy(plo);
    zeus_monitor_close(monitor);
    zeus_devices_close(devices);
    return NULL;
}

static void run_job(rank_run *runs, bool distributed, const char *const *profile_paths)
{
    static group g;
    pthread_barrier_init(&g.barrier, NULL, RANKS);
    pthread_t threads[RANKS];
    for (unsigned i = 0; i < RANKS; i++) {
        runs[i].comm.g = &g;
        runs[i].comm.rank = i;
        runs[i].distributed = distributed;
        runs[i].profile_path = profile_paths ? profile_paths[i] : NULL;
        assert_int_equal(pthread_create(&threads[i], NULL, run_rank, &runs[i]), 0);
    }
    for (unsigned i = 0; i < RANKS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&g.barrier);
}

static void test_every_rank_chooses_the_same_limit(void **state)
{
    (void)state;
    /* Alone, the ranks' workloads lead to different limits: what the test relies on. */
    rank_run alone[RANKS] = {0};
    run_job(alone, false, NULL);
    bool differ = false;
    for (unsigned i = 0; i < RANKS; i++) {
        if (alone[i].create_rc != ZEUS_OK)
            fprintf(stderr, "rank %u: %s\n", i, alone[i].error);
        assert_int_equal(alone[i].create_rc, ZEUS_OK);
        assert_int_equal(alone[i].hook_rc, ZEUS_OK);
        assert_int_equal(alone[i].selector.world_size, 1);
        differ |= alone[i].optimal_w != alone[0].optimal_w;
    }
    assert_true(differ);

    /* Every run, not most: real timing differs from run to run, the agreement must not. */
    for (int again = 0; again < 9; again++) {
        rank_run more[RANKS] = {0};
        run_job(more, true, NULL);
        for (unsigned i = 0; i < RANKS; i++) {
            assert_int_equal(more[i].hook_rc, ZEUS_OK);
            assert_int_not_equal(more[i].optimal_w, 0);
            assert_int_equal(more[i].optimal_w, more[0].optimal_w);
            assert_memory_equal(more[i].profile, more[0].profile, sizeof more[0].profile);
        }
    }
    rank_run runs[RANKS] = {0};
    run_job(runs, true, NULL);
    for (unsigned i = 0; i < RANKS; i++) {
        assert_int_equal(runs[i].create_rc, ZEUS_OK);
        if (runs[i].hook_rc != ZEUS_OK)
            fprintf(stderr, "rank %u: %s\n", i, runs[i].error);
        assert_int_equal(runs[i].hook_rc, ZEUS_OK);
        assert_int_not_equal(runs[i].optimal_w, 0);
        assert_int_equal(runs[i].optimal_w, runs[0].optimal_w);
        /* ZeusCost's world size: the GPUs of every rank, not this rank's one. */
        assert_int_equal(runs[i].selector.world_size, RANKS);
        assert_int_equal(runs[i].profiled, 9);
        assert_memory_equal(runs[i].profile, runs[0].profile, sizeof runs[0].profile);
        assert_int_equal(runs[i].comm.energies, 9);
        assert_int_equal(runs[i].comm.times, 9);
    }
    /* The profile: energy summed over the ranks, time the slowest rank's. */
    for (size_t w = 0; w < 9; w++) {
        double sum = 0, slowest = 0;
        for (unsigned i = 0; i < RANKS; i++) {
            assert_true(runs[i].comm.energy_in[w] > 0);
            sum += runs[i].comm.energy_in[w];
            slowest = fmax(slowest, runs[i].comm.time_in[w]);
        }
        assert_float_equal(runs[0].profile[w].energy_j, sum, 1e-9 * sum);
        assert_float_equal(runs[0].profile[w].time_s, slowest, 0);
    }
    /* And the choice is the selector's on that profile, with MaxPower = 300 W x 4 GPUs. */
    zeus_optimum_selector cost;
    assert_int_equal(zeus_selector_zeus_cost(0.5, RANKS, &cost), ZEUS_OK);
    unsigned expected = 0;
    assert_int_equal(zeus_selector_select(&cost, runs[0].profile, 9, &expected), ZEUS_OK);
    assert_int_equal(runs[0].optimal_w, expected);
}

/* Adaptive profiling: every short window is all-reduced, and since every decision (another
 * window, the next limit, done) depends only on the reduced values, every rank measures the same
 * limits, the same number of windows, and chooses the same limit. */
static void test_adaptive_every_rank_the_same(void **state)
{
    (void)state;
    for (int again = 0; again < 3; again++) {
        rank_run runs[RANKS] = {0};
        for (unsigned i = 0; i < RANKS; i++)
            runs[i].adaptive = true;
        run_job(runs, true, NULL);
        for (unsigned i = 0; i < RANKS; i++) {
            if (runs[i].hook_rc != ZEUS_OK)
                fprintf(stderr, "rank %u: %s\n", i, runs[i].error);
            assert_int_equal(runs[i].create_rc, ZEUS_OK);
            assert_int_equal(runs[i].hook_rc, ZEUS_OK);
            assert_int_not_equal(runs[i].optimal_w, 0);
            assert_int_equal(runs[i].optimal_w, runs[0].optimal_w);
            assert_int_equal(runs[i].profiled, runs[0].profiled);
            assert_memory_equal(runs[i].profile, runs[0].profile, sizeof runs[0].profile);
            assert_int_equal(runs[i].comm.energies, runs[0].comm.energies);
        }
        /* Every limit seen (or the rest skipped once two rose far above the best), each in
         * at least one window, the first in four (the pooled variance's 3 degrees of
         * freedom). */
        assert_true(runs[0].profiled >= 3 && runs[0].profiled <= 9);
        assert_true(runs[0].comm.energies >= runs[0].profiled + 3);
    }
}

static void test_a_rank_that_reads_nothing_retries_everywhere(void **state)
{
    (void)state;
    /* Rank 2's counter updates every 20 ms: its 4-step windows (8 ms) read 0 J at first, so
     * every rank retries each such limit with longer windows, together. */
    rank_run runs[RANKS] = {0};
    runs[2].energy_update_ms = 20;
    run_job(runs, true, NULL);
    for (unsigned i = 0; i < RANKS; i++) {
        if (runs[i].hook_rc != ZEUS_OK)
            fprintf(stderr, "rank %u: %s\n", i, runs[i].error);
        assert_int_equal(runs[i].hook_rc, ZEUS_OK);
        assert_int_equal(runs[i].profiled, 9);
        assert_int_not_equal(runs[i].optimal_w, 0);
        assert_int_equal(runs[i].optimal_w, runs[0].optimal_w);
        assert_memory_equal(runs[i].profile, runs[0].profile, sizeof runs[0].profile);
        assert_true(runs[i].comm.energies > 9); /* some windows were taken again */
        assert_int_equal(runs[i].comm.energies, runs[0].comm.energies);
    }
}

static void test_profile_files_must_agree(void **state)
{
    (void)state;
    char *dir = zt_mkdtemp();
    char *shared = zt_path(dir, "profile.json");
    const char *paths[RANKS] = {shared, shared, shared, shared};
    rank_run first[RANKS] = {0};
    run_job(first, true, paths);
    for (unsigned i = 0; i < RANKS; i++)
        assert_int_equal(first[i].hook_rc, ZEUS_OK);
    /* Every rank wrote the same file (atomically); what is there is one whole profile. */
    zeus_power_limit_profile p;
    assert_int_equal(zeus_power_limit_profile_read(shared, &p), ZEUS_OK);
    assert_int_equal(p.count, 9);
    assert_memory_equal(p.measurements, first[0].profile, 9 * sizeof *p.measurements);
    zeus_power_limit_profile_free(&p);

    /* A second job loads it on every rank: same limit, nothing profiled. */
    rank_run again[RANKS] = {0};
    run_job(again, true, paths);
    for (unsigned i = 0; i < RANKS; i++) {
        assert_int_equal(again[i].create_rc, ZEUS_OK);
        assert_int_equal(again[i].optimal_w, first[0].optimal_w);
        assert_int_equal(again[i].comm.energies, 0);
    }

    /* The file on rank 2 only: some would load while others profile; every rank refuses. */
    char *other = zt_path(dir, "missing.json");
    const char *mixed[RANKS] = {other, other, shared, other};
    rank_run split[RANKS] = {0};
    run_job(split, true, mixed);
    for (unsigned i = 0; i < RANKS; i++) {
        assert_int_equal(split[i].create_rc, ZEUS_EINVAL);
        assert_contains(split[i].error, "exists on 1 of the job's 4 ranks");
    }
    zt_rmtree(dir);
    free(other);
    free(shared);
    free(dir);
}

static void test_a_failed_rank_stops_every_rank(void **state)
{
    (void)state;
    /* Rank 1 cannot create its optimizer (its profile path is under a regular file): all fail,
     * and the others put their GPUs back. */
    char *dir = zt_mkdtemp();
    char *file = zt_write(dir, "file", "x");
    char bad[512];
    snprintf(bad, sizeof bad, "%s/profile.json", file);
    const char *paths[RANKS] = {NULL, bad, NULL, NULL};
    rank_run runs[RANKS] = {0};
    run_job(runs, true, paths);
    assert_int_equal(runs[1].create_rc, ZEUS_ENOENT);
    for (unsigned i = 0; i < RANKS; i++) {
        if (i == 1)
            continue;
        assert_int_equal(runs[i].create_rc, ZEUS_ESTATE);
        assert_contains(runs[i].error, "1 of the job's 4 ranks could not");
    }
    zt_rmtree(dir);
    free(file);
    free(dir);
}

/* ---- the exchange itself, against one simulated peer that contributes fixed values ---- */
typedef struct {
    double peer[MAX_VALUES];
    int rc;
} fake_peer;

static int peer_reduce(double *values, size_t count, zeus_reduce_op op, void *user)
{
    fake_peer *p = user;
    for (size_t i = 0; i < count; i++)
        values[i] = op == ZEUS_REDUCE_SUM ? values[i] + p->peer[i] : fmax(values[i], p->peer[i]);
    return p->rc;
}

static void test_window_exchange(void **state)
{
    (void)state;
    fake_peer peer = {.peer = {30, 0, 0}};
    zeus_pl_dist d = {.fn = peer_reduce, .user = &peer};
    double t = 1.5, e = 10;
    /* The peer measured 30 J in (peer[0] again for the max call) 30 s. */
    assert_int_equal(zeus__pl_dist_window(&d, ZEUS_OK, &t, &e), ZEUS_OK);
    assert_float_equal(e, 40, 0);
    assert_float_equal(t, 30, 0);
    /* The peer could not measure: this rank fails too, and learns why. */
    peer = (fake_peer){.peer = {0, 1, 0}};
    t = 1.5, e = 10;
    assert_int_equal(zeus__pl_dist_window(&d, ZEUS_OK, &t, &e), ZEUS_EIO);
    assert_contains(zeus_last_error(), "1 rank(s) could not measure");
    /* The peer read 0 J: the window reads 0 J everywhere (every rank retries it longer). */
    peer = (fake_peer){.peer = {0, 0, 1}};
    assert_int_equal(zeus__pl_dist_window(&d, ZEUS_OK, &t, &e), ZEUS_OK);
    assert_float_equal(e, 0, 0);
    /* This rank failed: its own error, after taking part in the collective. */
    peer = (fake_peer){.peer = {5, 0, 0}};
    zeus__error(ZEUS_ELOST, "GPU 0 is lost");
    assert_int_equal(zeus__pl_dist_window(&d, ZEUS_ELOST, &t, &e), ZEUS_ELOST);
    assert_contains(zeus_last_error(), "GPU 0 is lost");
    /* The collective failed (a peer died). */
    peer = (fake_peer){.rc = ZEUS_ETIMEOUT};
    t = 1, e = 1;
    assert_int_equal(zeus__pl_dist_window(&d, ZEUS_OK, &t, &e), ZEUS_ETIMEOUT);
    assert_contains(zeus_last_error(), "all-reduce of the profiling window failed");
    /* A positive return is no success. */
    peer = (fake_peer){.rc = 1};
    assert_int_equal(zeus__pl_dist_window(&d, ZEUS_OK, &t, &e), ZEUS_EIO);
}

static void test_creation_exchange(void **state)
{
    (void)state;
    /* The peer: one rank, ready, 2 GPUs, no profile. */
    fake_peer peer = {.peer = {1, 1, 2, 0}};
    zeus_pl_dist d = {.fn = peer_reduce, .user = &peer};
    zeus_pl_dist_job job;
    assert_int_equal(zeus__pl_dist_agree_start(&d, ZEUS_OK, 1, false, &job), ZEUS_OK);
    assert_int_equal(job.ranks, 2);
    assert_int_equal(job.total_gpus, 3);
    assert_int_equal(zeus__pl_dist_agree_start(&d, ZEUS_OK, 1, true, &job), ZEUS_EINVAL);
    peer.peer[0] = 0; /* the peer failed */
    assert_int_equal(zeus__pl_dist_agree_start(&d, ZEUS_OK, 1, false, &job), ZEUS_ESTATE);
    fake_peer ready = {.peer = {1, 1}};
    d.user = &ready;
    assert_int_equal(zeus__pl_dist_agree_end(&d, ZEUS_OK), ZEUS_OK);
    ready.peer[0] = 0;
    assert_int_equal(zeus__pl_dist_agree_end(&d, ZEUS_OK), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "1 of the job's 2 ranks could not take their GPUs");
}

static void test_options_struct_size(void **state)
{
    (void)state;
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    assert_int_equal(o.struct_size, sizeof o);
    assert_null(o.all_reduce);
    assert_int_equal(o.profile_steps, 40);
    zeus_power_limit_optimizer *plo = NULL;
    o.struct_size = 0; /* never initialized */
    assert_int_equal(zeus_power_limit_optimizer_create(NULL, &o, &plo), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "zeus_power_limit_options_init");
    /* A newer caller's struct with a field this library does not know set. */
    struct {
        zeus_power_limit_options o;
        int newer;
    } big;
    zeus_power_limit_options_init_sized(&big.o, sizeof big);
    big.newer = 1;
    assert_int_equal(zeus_power_limit_optimizer_create(NULL, &big.o, &plo), ZEUS_ENOTSUP);
    /* An older caller's struct (without the all-reduce): the fields it has are read. */
    zeus_power_limit_options old;
    zeus_power_limit_options_init_sized(&old, offsetof(zeus_power_limit_options, all_reduce));
    assert_int_equal(old.struct_size, offsetof(zeus_power_limit_options, all_reduce));
    old.profile_steps = 0;
    assert_int_equal(zeus_power_limit_optimizer_create(NULL, &old, &plo), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "profile_steps must be positive");
    /* One without profiling_budget (bytes past its size are NaN here): the default applies, so
     * creation gets past the budget's check to the missing monitor. */
    zeus_power_limit_options older;
    memset(&older, 0xff, sizeof older);
    zeus_power_limit_options_init_sized(&older,
                                        offsetof(zeus_power_limit_options, profiling_budget));
    older.profiling = ZEUS_PL_PROFILING_ADAPTIVE;
    assert_true(isnan(older.profiling_budget));
    assert_int_equal(zeus_power_limit_optimizer_create(NULL, &older, &plo), ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "no monitor given");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_struct_size),
        cmocka_unit_test(test_window_exchange),
        cmocka_unit_test(test_creation_exchange),
        cmocka_unit_test(test_every_rank_chooses_the_same_limit),
        cmocka_unit_test(test_adaptive_every_rank_the_same),
        cmocka_unit_test(test_a_rank_that_reads_nothing_retries_everywhere),
        cmocka_unit_test(test_profile_files_must_agree),
        cmocka_unit_test(test_a_failed_rank_stops_every_rank),
    };
    return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
