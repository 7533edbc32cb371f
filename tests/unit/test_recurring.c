/* The recurring-job driver (zeus/recurring.h) on outcomes made up by the test: the protocol, the
 * early-stopping bound, the never-ran penalty, retries and the two ways a job gives up. The
 * simulator's golden tests (test_simulate.c) check that it makes the original's decisions. */
#include "test_support.h"

#include "zeus/recurring.h"

#include <math.h>
#include <stdlib.h>

static const int sizes[] = {8, 16, 32};

static zeus_recurring *make(int max_tries, bool concurrency)
{
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "toy", "net", "sgd", 0.5, 5, 16, NAN), ZEUS_OK);
    zeus_recurring_config cfg;
    zeus_recurring_config_default(&cfg);
    cfg.max_power_w = 250;
    cfg.max_tries = max_tries;
    cfg.bso.concurrency = concurrency; /* run_alibaba.py sets it */
    zeus_recurring *r;
    assert_int_equal(zeus_recurring_create(&cfg, &job, sizes, 3, &r), ZEUS_OK);
    return r;
}

/* The next try, profiled if the batch size is new. */
static zeus_recurring_attempt next(zeus_recurring *r)
{
    zeus_recurring_attempt a;
    assert_int_equal(zeus_recurring_next(r, &a), ZEUS_OK);
    if (a.profile) {
        assert_int_equal(a.power_limit, 0);
        /* Highest first; the first of equal costs wins (200 W, not 150 W). */
        static const zeus_pl_cost costs[] = {{250, 5.0}, {200, 3.0}, {150, 3.0}};
        assert_int_equal(zeus_recurring_profile(r, &a, costs, 3), ZEUS_OK);
        assert_int_equal(a.power_limit, 200);
    }
    return a;
}

static zeus_recurring_verdict report(zeus_recurring *r, double e, double t, bool reached, int rc)
{
    zeus_recurring_verdict v;
    zeus_recurring_result res = {e, t, reached};
    assert_int_equal(zeus_recurring_report(r, &res, &v), rc);
    return v;
}

static void test_protocol_and_bound(void **state)
{
    (void)state;
    zeus_recurring *r = make(ZEUS_RECURRING_MAX_TRIES, false);
    assert_true(zeus_recurring_min_cost(r) == INFINITY);
    zeus_recurring_attempt a = next(r);
    assert_int_equal(a.recurrence, 0);
    assert_int_equal(a.try_index, 1);
    assert_int_equal(a.batch_size, 16); /* pruning starts at the default */
    assert_true(a.profile);
    assert_true(a.cost_ub == INFINITY);
    /* One try at a time. */
    zeus_recurring_attempt b;
    assert_int_equal(zeus_recurring_next(r, &b), ZEUS_ESTATE);
    /* cost = 0.5 * 100 J + 0.5 * 250 W * 10 s */
    zeus_recurring_verdict v = report(r, 100, 10, true, ZEUS_OK);
    assert_true(v.ran && v.done);
    assert_true(v.cost == 1300.0);
    assert_int_equal(zeus_recurring_recurrences(r), 1);
    assert_true(zeus_recurring_min_cost(r) == 1300.0);
    v = report(r, 100, 10, true, ZEUS_ESTATE); /* nothing awaits a report */

    /* Recurrence 1: stopped at beta x 1300. A try that could not run an epoch is retried and
     * the optimizer sees the penalty 100 x beta x the cheapest cost. */
    a = next(r);
    assert_int_equal(a.recurrence, 1);
    assert_int_equal(a.try_index, 1);
    assert_true(a.cost_ub == 2600.0);
    int bs = a.batch_size;
    v = report(r, 0, 0, false, ZEUS_OK);
    assert_false(v.ran || v.done);
    const double *rewards;
    size_t n;
    assert_int_equal(zeus_bso_rewards(zeus_recurring_bso(r), bs, &rewards, &n), ZEUS_OK);
    assert_true(n >= 1 && rewards[n - 1] == -260000.0);
    a = next(r);
    assert_int_equal(a.recurrence, 1);
    assert_int_equal(a.try_index, 2);
    /* A recurrence's cost is its tries summed: 1000 + 200 is cheaper than 1300. */
    v = report(r, 400, 8 - 1.6, false, ZEUS_OK);
    assert_true(v.ran && !v.done);
    a = next(r);
    assert_int_equal(a.try_index, 3);
    v = report(r, 100, 1.2, true, ZEUS_OK);
    assert_true(v.done);
    assert_int_equal(zeus_recurring_recurrences(r), 2);
    assert_true(fabs(zeus_recurring_min_cost(r) - (1000.0 + 200.0)) < 1e-9);
    a = next(r);
    assert_int_equal(a.recurrence, 2);
    assert_int_equal(a.try_index, 1);
    assert_true(a.cost_ub == 2 * zeus_recurring_min_cost(r));
    zeus_recurring_destroy(r);
}

static void test_gives_up(void **state)
{
    (void)state;
    /* The first recurrence must reach the target; the run is still described. */
    zeus_recurring *r = make(ZEUS_RECURRING_MAX_TRIES, false);
    next(r);
    zeus_recurring_verdict v = report(r, 100, 10, false, ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "The default batch size 16 did not converge.");
    assert_true(v.ran && !v.done && v.cost == 1300.0);
    zeus_recurring_attempt a;
    assert_int_equal(zeus_recurring_next(r, &a), ZEUS_ESTATE);
    zeus_recurring_destroy(r);

    /* Out of tries: the last run missed, or could not run at all. */
    for (int never_ran = 0; never_ran < 2; never_ran++) {
        r = make(3, false);
        next(r);
        report(r, 100, 10, true, ZEUS_OK);
        next(r);
        report(r, 100, 1, false, ZEUS_OK);
        next(r);
        report(r, 100, 1, false, ZEUS_OK);
        a = next(r);
        assert_int_equal(a.try_index, 3);
        v = never_ran ? report(r, 0, 0, false, ZEUS_ESTATE) : report(r, 100, 1, false, ZEUS_ESTATE);
        assert_contains(zeus_last_error(), "Job did not reach the target metric in 3 tries.");
        assert_int_equal(v.ran, !never_ran);
        assert_int_equal(zeus_recurring_next(r, &a), ZEUS_ESTATE);
        zeus_recurring_destroy(r);
    }
}

static void test_concurrent(void **state)
{
    (void)state;
    zeus_recurring *r = make(ZEUS_RECURRING_MAX_TRIES, true);
    zeus_recurring_attempt a;
    /* Nothing profiled yet: a submission beside running ones has no known limit. */
    assert_int_equal(zeus_recurring_next_concurrent(r, true, &a), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "Power not profiled for best known BS 16");
    assert_int_equal(zeus_recurring_next_concurrent(r, false, &a), ZEUS_OK);
    assert_int_equal(a.batch_size, 16);
    assert_true(a.profile);
    static const zeus_pl_cost costs[] = {{250, 5.0}, {200, 3.0}};
    assert_int_equal(zeus_recurring_profile(r, &a, costs, 2), ZEUS_OK);
    /* Beside a running job: the best known size (the default) at its known limit. */
    zeus_recurring_attempt c;
    assert_int_equal(zeus_recurring_next_concurrent(r, true, &c), ZEUS_OK);
    assert_int_equal(c.batch_size, 16);
    assert_int_equal(c.power_limit, 200);
    assert_false(c.profile);
    zeus_recurring_verdict v;
    zeus_recurring_result res = {100, 10, true};
    assert_int_equal(zeus_recurring_report_concurrent(r, 16, 1, &res, &v), ZEUS_OK);
    assert_true(v.ran && v.done && v.cost == 1300.0);
    assert_true(zeus_recurring_min_cost(r) == 1300.0);
    /* [quirk] A run that never ran is observed with cost 0. */
    res = (zeus_recurring_result){0, 0, false};
    assert_int_equal(zeus_recurring_report_concurrent(r, 16, 1, &res, &v), ZEUS_OK);
    assert_false(v.ran || v.done);
    const double *rewards;
    size_t n;
    assert_int_equal(zeus_bso_rewards(zeus_recurring_bso(r), 16, &rewards, &n), ZEUS_OK);
    assert_true(n == 2 && rewards[1] == 0.0);
    /* A submission that keeps missing gives up at its max_concurrent_tries-th try (1000), where
     * the original retries forever. */
    res = (zeus_recurring_result){100, 10, false};
    assert_int_equal(zeus_recurring_report_concurrent(r, 16, 999, &res, &v), ZEUS_OK);
    assert_int_equal(zeus_recurring_report_concurrent(r, 16, 1000, &res, &v), ZEUS_ESTATE);
    assert_contains(zeus_last_error(), "Job did not reach the target metric in 1000 tries.");
    assert_true(v.ran && !v.done);
    zeus_recurring_destroy(r);
}

/* Made-up outcomes: small batch sizes miss the target now and then. */
static zeus_recurring_result outcome(const zeus_recurring_attempt *a, int step)
{
    bool reached = a->batch_size >= 16 || step % 3 != 0;
    double epochs = reached ? 3 + step % 2 : 5;
    zeus_recurring_result res = {epochs * a->batch_size * 40.0 + a->power_limit,
                                 epochs * 400.0 / a->batch_size, reached};
    if (a->cost_ub < INFINITY && zeus_cost(res.energy_j, res.time_s, 0.5, 250) > a->cost_ub)
        res = (zeus_recurring_result){0, 0, false};
    return res;
}

static bool same_attempt(const zeus_recurring_attempt *x, const zeus_recurring_attempt *y)
{
    return x->recurrence == y->recurrence && x->try_index == y->try_index &&
           x->batch_size == y->batch_size && x->power_limit == y->power_limit &&
           x->profile == y->profile && x->cost_ub == y->cost_ub;
}

/* Saved mid-try and loaded, a driver makes the same decisions as the one that went on. */
static void test_save_load(void **state)
{
    (void)state;
    zeus_recurring *r = make(ZEUS_RECURRING_MAX_TRIES, false), *copy = NULL;
    static const zeus_pl_cost costs[] = {{250, 5.0}, {200, 3.0}, {150, 4.0}};
    int compared = 0;
    for (int step = 0; step < 60; step++) {
        zeus_recurring_attempt a, b;
        int rc = zeus_recurring_next(r, &a);
        if (copy) {
            assert_int_equal(zeus_recurring_next(copy, &b), rc);
            if (rc == ZEUS_OK)
                assert_true(same_attempt(&a, &b));
        }
        if (rc != ZEUS_OK)
            break;
        if (a.profile) {
            assert_int_equal(zeus_recurring_profile(r, &a, costs, 3), ZEUS_OK);
            if (copy) {
                assert_int_equal(zeus_recurring_profile(copy, &b, costs, 3), ZEUS_OK);
                assert_int_equal(b.power_limit, a.power_limit);
            }
        }
        if (step == 7) { /* a try in progress */
            char *json;
            assert_int_equal(zeus_recurring_save(r, &json), ZEUS_OK);
            assert_int_equal(zeus_recurring_load(json, &copy), ZEUS_OK);
            free(json);
            b = a;
        }
        zeus_recurring_result res = outcome(&a, step);
        zeus_recurring_verdict v, w;
        rc = zeus_recurring_report(r, &res, &v);
        if (copy) {
            assert_int_equal(zeus_recurring_report(copy, &res, &w), rc);
            assert_true(v.cost == w.cost && v.ran == w.ran && v.done == w.done);
            compared++;
        }
        if (rc != ZEUS_OK)
            break;
    }
    assert_true(compared > 20);
    assert_int_equal(zeus_recurring_recurrences(copy), zeus_recurring_recurrences(r));
    assert_true(zeus_recurring_min_cost(copy) == zeus_recurring_min_cost(r));
    /* Not a driver's state. */
    char *json;
    assert_int_equal(zeus_bso_save(zeus_recurring_bso(r), &json), ZEUS_OK);
    zeus_recurring *bad = NULL;
    assert_int_equal(zeus_recurring_load(json, &bad), ZEUS_EPARSE);
    assert_int_equal(zeus_recurring_load("{", &bad), ZEUS_EPARSE);
    assert_null(bad);
    free(json);
    zeus_recurring_destroy(copy);
    zeus_recurring_destroy(r);
}

static void test_bad_config(void **state)
{
    (void)state;
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "toy", "net", "sgd", 0.5, 5, 16, NAN), ZEUS_OK);
    zeus_recurring_config cfg;
    zeus_recurring_config_default(&cfg);
    zeus_recurring *r;
    assert_int_equal(zeus_recurring_create(&cfg, &job, sizes, 3, &r), ZEUS_EINVAL); /* power */
    cfg.max_power_w = 250;
    cfg.beta_knob = 0;
    assert_int_equal(zeus_recurring_create(&cfg, &job, sizes, 3, &r), ZEUS_EINVAL);
    cfg.beta_knob = 2;
    cfg.eta_knob = NAN;
    assert_int_equal(zeus_recurring_create(&cfg, &job, sizes, 3, &r), ZEUS_EINVAL);
    cfg.eta_knob = 0.5;
    job.default_bs = 12; /* not a feasible size */
    assert_int_equal(zeus_recurring_create(&cfg, &job, sizes, 3, &r), ZEUS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_and_bound), cmocka_unit_test(test_gives_up),
        cmocka_unit_test(test_concurrent),         cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
