/* The simulator's summary and CSV as library calls (what `zeus simulate` prints, for any face):
 * the golden run's most used knobs and comparisons, a job without an oracle, the group totals,
 * the CSV text, and the bound on recurrences. */
#include "test_support.h"

#include "zeus/simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_DIR ZEUS_DATA_DIR "/nsdi23-traces"
#define GROUPS_CSV ZEUS_DATA_DIR "/alibaba_groups_synth.csv"

static zeus_trace *trace;

static int load(void **state)
{
    (void)state;
    return zeus_trace_load_dir(TRACE_DIR, "v100", &trace) == ZEUS_OK ? 0 : -1;
}

static int unload(void **state)
{
    (void)state;
    zeus_trace_destroy(trace);
    return 0;
}

static void simulate(zeus_job *job, const char *ds, const char *net, const char *opt, double target,
                     int epochs, int b0, size_t n_rec, zeus_sim_history *h)
{
    assert_int_equal(zeus_job_init(job, ds, net, opt, target, epochs, b0, NAN), ZEUS_OK);
    zeus_sim_params p;
    zeus_sim_params_default(&p);
    p.seed = p.bso.seed = 1;
    assert_int_equal(zeus_simulate_one_job(trace, job, n_rec, &p, h), ZEUS_OK);
}

static void test_golden_summary_and_csv(void **state)
{
    (void)state;
    zeus_job job;
    zeus_sim_history h = {0};
    simulate(&job, "librispeech", "deepspeech2", "adamw", 40.0, 16, 192, 210, &h);
    zeus_sim_summary s;
    assert_int_equal(zeus_sim_summarize(trace, &job, 0.5, &h, 210, NULL, &s), ZEUS_OK);
    assert_true(s.has_oracle);
    static const zeus_sim_knob_use most[] = {{48, 150, 182}, {32, 150, 6}, {96, 175, 4}};
    assert_int_equal(s.n_most_used, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s.most_used[i].batch_size, most[i].batch_size);
        assert_int_equal(s.most_used[i].power_limit, most[i].power_limit);
        assert_int_equal(s.most_used[i].runs, most[i].runs);
    }
    /* What the CLI printed before the summary moved into the library. */
    assert_true(fabs(s.energy_saved_pct - 36.2) < 0.05);
    assert_true(fabs(s.time_saved_pct - 20.7) < 0.05);
    assert_true(fabs(s.regret_pct - 3.2) < 0.05);
    assert_true(s.regret_pct == 100.0 * s.regret / s.oracle_cost);

    char *text;
    size_t len;
    zeus_sim_csv_part part = {NULL, &h};
    assert_int_equal(zeus_sim_csv_format(&part, 1, false, &text, &len), ZEUS_OK);
    assert_int_equal(strlen(text), len);
    assert_true(strncmp(text,
                        "recurrence,try,batch_size,power_limit,energy,time,reached,cost\n"
                        "1,1,192,225,8495173.59414267,56443.485714285714,True,11303022.51135705\n",
                        strlen("recurrence,try,batch_size,power_limit,energy,time,reached,cost\n"
                               "1,1,192,225,8495173.59414267,56443.485714285714,True,"
                               "11303022.51135705\n")) == 0);
    free(text);
    part.group = "g1";
    assert_int_equal(zeus_sim_csv_format(&part, 1, true, &text, &len), ZEUS_OK);
    assert_contains(text, "group,recurrence,");
    assert_contains(text, "\ng1,1,1,192,225,");
    free(text);
    zeus_sim_history_free(&h);
}

static void test_no_oracle(void **state)
{
    (void)state;
    zeus_job job;
    zeus_sim_history h = {0};
    simulate(&job, "squad", "bert_base_uncased", "adamw", 84.5, 6, 8, 98, &h);
    zeus_sim_summary s;
    assert_int_equal(zeus_sim_summarize(trace, &job, 0.5, &h, 98, NULL, &s), ZEUS_OK);
    assert_false(s.has_oracle);
    assert_true(s.regret == 0 && s.oracle_cost == 0 && s.regret_pct == 0);
    assert_int_equal(s.default_choice.batch_size, 8);
    assert_int_equal(s.default_choice.power_limit, 250);
    assert_int_equal(s.runs, 109);
    /* The trace query keeps its error. */
    zeus_sim_choice oracle, deflt;
    assert_int_equal(zeus_trace_oracle(trace, &job, 0.5, &oracle, &deflt), ZEUS_ENOENT);
    assert_contains(zeus_last_error(), "always reaches the target within 6 epochs");
    zeus_sim_history_free(&h);
}

static void test_group_totals(void **state)
{
    (void)state;
    zeus_groups *groups;
    assert_int_equal(zeus_groups_load(GROUPS_CSV, &groups), ZEUS_OK);
    size_t n = zeus_groups_count(groups);
    zeus_group_result *r;
    assert_int_equal(zeus_simulate_alibaba(trace, groups, 0.5, 2.0, 1, &r), ZEUS_OK);
    zeus_sim_summary *per = calloc(n, sizeof *per), total;
    assert_int_equal(zeus_sim_summarize_alibaba(trace, groups, r, 0.5, per, &total), ZEUS_OK);
    size_t runs = 0;
    double regret = 0;
    for (size_t i = 0; i < n; i++) {
        runs += per[i].runs;
        regret += per[i].regret;
        assert_true(per[i].n_most_used >= 1);
    }
    assert_int_equal(total.runs, 979);
    assert_int_equal(runs, 979);
    assert_true(total.regret == regret);
    assert_true(total.has_oracle);
    assert_true(total.n_most_used >= 1);
    /* A failed group counts for nothing. */
    r[0].status = ZEUS_ESTATE;
    zeus_sim_summary total2;
    assert_int_equal(zeus_sim_summarize_alibaba(trace, groups, r, 0.5, per, &total2), ZEUS_OK);
    assert_int_equal(per[0].runs, 0);
    assert_int_equal(total2.runs, 979 - r[0].history.n);
    free(per);
    zeus_group_results_free(r, n);
    zeus_groups_destroy(groups);
}

static void test_recurrence_bound(void **state)
{
    (void)state;
    zeus_job job;
    assert_int_equal(zeus_job_init(&job, "librispeech", "deepspeech2", "adamw", 40.0, 16, 192, NAN),
                     ZEUS_OK);
    zeus_sim_params p;
    zeus_sim_params_default(&p);
    zeus_sim_history h = {0};
    assert_int_equal(
        zeus_simulate_one_job(trace, &job, (size_t)ZEUS_SIM_MAX_RECURRENCES + 1, &p, &h),
        ZEUS_EINVAL);
    assert_contains(zeus_last_error(), "more than the 1000000");
    assert_int_equal(h.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_summary_and_csv),
        cmocka_unit_test(test_no_oracle),
        cmocka_unit_test(test_group_totals),
        cmocka_unit_test(test_recurrence_bound),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
