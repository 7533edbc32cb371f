/* zeus simulate: the trace-driven simulator (the original's examples/trace_driven/run_single.py
 * and run_alibaba.py) with a summary the original never printed: the oracle knobs, what was
 * saved against the default, and the cumulative regret. */
#include "cli/cli.h"

#include "core/internal.h"
#include "zeus/simulate.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const gpu_names[] = {"v100", "a40", "rtx6000", "p100"};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: zeus simulate single  [options]\n"
        "       zeus simulate alibaba --groups FILE [options]\n\n"
        "Replay the NSDI'23 traces with Zeus's batch-size optimizer (pruning, then Gaussian\n"
        "Thompson sampling) and JIT power-limit profiling, making exactly the decisions of\n"
        "the original simulator for the same seed.\n\n"
        "  single    one recurring job (run_single.py)\n"
        "  alibaba   every job group of an Alibaba-style trace, concurrent submissions\n"
        "            included, each with its dataset's default job and seed adler32(group)\n"
        "            (run_alibaba.py); groups run in parallel\n\n"
        "common options:\n"
        "  --trace-dir DIR       folder with summary_train.csv and summary_power_<gpu>.csv\n"
        "                        (default: $ZEUS_TRACE_DIR, else the NSDI'23 traces that\n"
        "                        come with zeus: " ZEUS_INSTALL_TRACE_DIR ")\n"
        "  --gpu NAME            v100 (default), a40, rtx6000 or p100\n"
        "  --eta X               energy/time trade-off of the cost, in [0, 1] (0.5)\n"
        "  --beta X              early stop at beta x the cheapest recurrence (2.0; inf: never)\n"
        "  --csv FILE            one row per simulated run ('-': standard output, and the\n"
        "                        summary goes to standard error)\n"
        "  -v, --verbose         the simulator's log on standard error\n"
        "  -h, --help            show this help\n\n"
        "single:\n"
        "  --dataset NAME        librispeech\n"
        "  --model NAME          deepspeech2\n"
        "  --optimizer NAME      adamw\n"
        "  --target-metric X     40.0\n"
        "  --max-epochs N        16\n"
        "  --b0 N                default batch size (192)\n"
        "  --seed N              1\n"
        "  --num-recurrence N    default 2 x |batch sizes| x |power limits| of the job\n\n"
        "alibaba:\n"
        "  --groups FILE         CSV: group,start_time,end_time,dataset,runtime_ratio\n"
        "  --jobs N              threads (default: one per CPU)\n\n"
        "The original script's spellings (--target_metric, --max_epochs, --b_0, --eta_knob,\n"
        "--beta_knob, --num_recurrence) are accepted too. Exit status: 0 success, 1 failure,\n"
        "2 usage error.\n");
}

enum {
    OPT_TRACE_DIR = 1000,
    OPT_GPU,
    OPT_ETA,
    OPT_BETA,
    OPT_CSV,
    OPT_DATASET,
    OPT_MODEL,
    OPT_OPTIMIZER,
    OPT_TARGET,
    OPT_MAX_EPOCHS,
    OPT_B0,
    OPT_SEED,
    OPT_NUM_REC,
    OPT_GROUPS,
    OPT_JOBS,
};

typedef struct {
    const char *trace_dir, *gpu, *csv, *groups;
    const char *dataset, *model, *optimizer;
    double eta, beta, target;
    long max_epochs, b0, seed, num_recurrence, jobs;
    bool verbose;
} options;

static int parse_number(const char *flag, const char *text, double min, double max, double *out)
{
    if (zeus_parse_double(text, out) != ZEUS_OK || !(*out >= min && *out <= max))
        return cli_error(CLI_USAGE, "simulate: %s must be a number in [%g, %g], got '%s'", flag,
                         min, max, text);
    return CLI_OK;
}

static int parse_integer(const char *flag, const char *text, long min, long *out)
{
    if (zeus_parse_long(text, out) != ZEUS_OK || *out < min)
        return cli_error(CLI_USAGE, "simulate: %s must be an integer >= %ld, got '%s'", flag, min,
                         text);
    return CLI_OK;
}

/* The traces installed with zeus, or (run from a build tree) the source tree's copy. */
static const char *default_trace_dir(void)
{
    struct stat st;
    if (stat(ZEUS_INSTALL_TRACE_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return ZEUS_INSTALL_TRACE_DIR;
    return ZEUS_SOURCE_TRACE_DIR;
}

static int parse_options(int argc, char **argv, bool alibaba, options *o)
{
    static const struct option long_options[] = {
        {"trace-dir", required_argument, NULL, OPT_TRACE_DIR},
        {"gpu", required_argument, NULL, OPT_GPU},
        {"eta", required_argument, NULL, OPT_ETA},
        {"eta_knob", required_argument, NULL, OPT_ETA},
        {"beta", required_argument, NULL, OPT_BETA},
        {"beta_knob", required_argument, NULL, OPT_BETA},
        {"csv", required_argument, NULL, OPT_CSV},
        {"dataset", required_argument, NULL, OPT_DATASET},
        {"model", required_argument, NULL, OPT_MODEL},
        {"optimizer", required_argument, NULL, OPT_OPTIMIZER},
        {"target-metric", required_argument, NULL, OPT_TARGET},
        {"target_metric", required_argument, NULL, OPT_TARGET},
        {"max-epochs", required_argument, NULL, OPT_MAX_EPOCHS},
        {"max_epochs", required_argument, NULL, OPT_MAX_EPOCHS},
        {"b0", required_argument, NULL, OPT_B0},
        {"b_0", required_argument, NULL, OPT_B0},
        {"seed", required_argument, NULL, OPT_SEED},
        {"num-recurrence", required_argument, NULL, OPT_NUM_REC},
        {"num_recurrence", required_argument, NULL, OPT_NUM_REC},
        {"groups", required_argument, NULL, OPT_GROUPS},
        {"jobs", required_argument, NULL, OPT_JOBS},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (options){.trace_dir = getenv("ZEUS_TRACE_DIR"),
                   .gpu = "v100",
                   .dataset = "librispeech",
                   .model = "deepspeech2",
                   .optimizer = "adamw",
                   .eta = 0.5,
                   .beta = 2.0,
                   .target = 40.0,
                   .max_epochs = 16,
                   .b0 = 192,
                   .seed = 1,
                   .num_recurrence = -1};
    int c, rc = CLI_OK;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+hv", long_options, NULL)) != -1) {
        bool single_only = c == OPT_DATASET || c == OPT_MODEL || c == OPT_OPTIMIZER ||
                           c == OPT_TARGET || c == OPT_MAX_EPOCHS || c == OPT_B0 || c == OPT_SEED ||
                           c == OPT_NUM_REC;
        bool alibaba_only = c == OPT_GROUPS || c == OPT_JOBS;
        if ((alibaba && single_only) || (!alibaba && alibaba_only))
            return cli_error(CLI_USAGE, "simulate %s: option '%s' belongs to 'simulate %s'",
                             alibaba ? "alibaba" : "single", argv[optind - 1],
                             alibaba ? "single" : "alibaba");
        switch (c) {
        case OPT_TRACE_DIR:
            o->trace_dir = optarg;
            break;
        case OPT_GPU:
            o->gpu = optarg;
            break;
        case OPT_ETA:
            rc = parse_number("--eta", optarg, 0, 1, &o->eta);
            break;
        case OPT_BETA:
            rc = parse_number("--beta", optarg, 1e-300, INFINITY, &o->beta);
            break;
        case OPT_CSV:
            o->csv = optarg; /* checked now, not after the whole run */
            if (zeus_output_check(optarg) != ZEUS_OK)
                rc = cli_error(CLI_FAIL, "--csv: %s", zeus_last_error());
            break;
        case OPT_DATASET:
            o->dataset = optarg;
            break;
        case OPT_MODEL:
            o->model = optarg;
            break;
        case OPT_OPTIMIZER:
            o->optimizer = optarg;
            break;
        case OPT_TARGET:
            rc = parse_number("--target-metric", optarg, -INFINITY, INFINITY, &o->target);
            break;
        case OPT_MAX_EPOCHS:
            rc = parse_integer("--max-epochs", optarg, 1, &o->max_epochs);
            break;
        case OPT_B0:
            rc = parse_integer("--b0", optarg, 1, &o->b0);
            break;
        case OPT_SEED:
            rc = parse_integer("--seed", optarg, 0, &o->seed);
            break;
        case OPT_NUM_REC:
            rc = parse_integer("--num-recurrence", optarg, 0, &o->num_recurrence);
            break;
        case OPT_GROUPS:
            o->groups = optarg;
            break;
        case OPT_JOBS:
            rc = parse_integer("--jobs", optarg, 1, &o->jobs);
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return cli_error(CLI_USAGE, "simulate: unknown option or missing value '%s'",
                             argv[optind - 1]);
        }
        if (rc != CLI_OK)
            return rc;
    }
    if (optind < argc)
        return cli_error(CLI_USAGE, "simulate: unexpected argument '%s'", argv[optind]);
    size_t g;
    for (g = 0; g < ZEUS_ARRAY_LEN(gpu_names) && strcmp(o->gpu, gpu_names[g]) != 0; g++) {
    }
    if (g == ZEUS_ARRAY_LEN(gpu_names))
        return cli_error(CLI_USAGE, "simulate: --gpu must be v100, a40, rtx6000 or p100, got '%s'",
                         o->gpu);
    if (!o->trace_dir || !*o->trace_dir)
        o->trace_dir = default_trace_dir();
    if (alibaba && !o->groups)
        return cli_error(CLI_USAGE, "simulate alibaba: --groups FILE is required");
    if (o->b0 > 1L << 30 || o->max_epochs > 1L << 30)
        return cli_error(CLI_USAGE, "simulate: --b0 and --max-epochs must be below 2^30");
    return CLI_OK;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* The CSV is built in memory and written atomically (or printed, for "-"), so a failed or
 * interrupted run never leaves a truncated file behind. */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} csv_out;

static int open_csv(csv_out *c, const char *path, bool alibaba)
{
    c->buf = NULL;
    c->len = 0;
    c->f = strcmp(path, "-") == 0 ? stdout : open_memstream(&c->buf, &c->len);
    if (!c->f)
        return cli_error(CLI_FAIL, "simulate: out of memory for %s", path);
    fprintf(c->f, "%srecurrence,try,batch_size,power_limit,energy,time,reached,cost\n",
            alibaba ? "group," : "");
    return CLI_OK;
}

static void csv_rows(FILE *f, const char *group, const zeus_sim_history *h)
{
    char e[ZEUS_DOUBLE_BUF], t[ZEUS_DOUBLE_BUF], c[ZEUS_DOUBLE_BUF];
    for (size_t i = 0; i < h->n; i++) {
        const zeus_sim_run *r = &h->runs[i];
        fprintf(f, "%s%s%d,%d,%d,%d,%s,%s,%s,%s\n", group ? group : "", group ? "," : "",
                r->recurrence + 1, r->try_index, r->batch_size, r->power_limit,
                zeus_format_double(r->energy_j, e, sizeof e),
                zeus_format_double(r->time_s, t, sizeof t), r->reached ? "True" : "False",
                zeus_format_double(r->cost, c, sizeof c));
    }
}

static int close_csv(csv_out *c, const char *path)
{
    if (c->f == stdout)
        return fflush(stdout) != 0 || ferror(stdout)
                   ? cli_error(CLI_FAIL, "simulate: error writing %s", path)
                   : CLI_OK;
    bool bad = ferror(c->f) != 0;
    bad |= fclose(c->f) != 0;
    int rc = bad ? ZEUS_ENOMEM : zeus_write_file(path, c->buf, c->len);
    free(c->buf);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "simulate: cannot write the CSV");
    return CLI_OK;
}

static double percent(double part, double whole)
{
    return whole != 0 ? 100.0 * part / whole : 0.0;
}

static void print_choice(FILE *out, const char *label, const zeus_sim_choice *c)
{
    fprintf(out, "  %-17s bs %d @ %d W: %.6g J, %.6g s, cost %.6g per recurrence\n", label,
            c->batch_size, c->power_limit, c->energy_j, c->time_s, c->cost);
}

static void print_savings(FILE *out, const zeus_sim_summary *s)
{
    print_choice(out, "oracle", &s->oracle);
    print_choice(out, "default", &s->default_choice);
    fprintf(out, "  %-17s energy %.6g J (%.1f %%), time %.6g s (%.1f %%)\n", "saved vs default",
            s->energy_saved_j, percent(s->energy_saved_j, s->default_energy_j), s->time_saved_s,
            percent(s->time_saved_s, s->default_time_s));
    fprintf(out, "  %-17s %.6g (%.1f %% above the oracle's %.6g)\n", "regret", s->regret,
            percent(s->regret, s->oracle_cost), s->oracle_cost);
}

typedef struct {
    int bs, pl;
    size_t count;
} knob_count;

static int cmp_count(const void *a, const void *b)
{
    const knob_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->bs - y->bs;
}

/* Distinct (batch size, power limit) pairs of a history, most used first (free() it). */
static size_t count_knobs(const zeus_sim_history *h, knob_count **out)
{
    knob_count *k = calloc(h->n ? h->n : 1, sizeof *k);
    size_t n = 0;
    for (size_t i = 0; k && i < h->n; i++) {
        size_t j;
        for (j = 0;
             j < n && (k[j].bs != h->runs[i].batch_size || k[j].pl != h->runs[i].power_limit);
             j++) {
        }
        if (j == n)
            k[n++] = (knob_count){h->runs[i].batch_size, h->runs[i].power_limit, 0};
        k[j].count++;
    }
    if (k)
        qsort(k, n, sizeof *k, cmp_count);
    *out = k;
    return n;
}

/* "bs 48 @ 150 W (182 runs), bs 32 @ 150 W (6), ..." for the three most used knobs. */
static void print_most_used(FILE *out, const zeus_sim_history *h)
{
    knob_count *k;
    size_t n = count_knobs(h, &k);
    fprintf(out, "  %-17s", "most used");
    for (size_t i = 0; k && i < n && i < 3; i++)
        fprintf(out, "%s bs %d @ %d W (%zu%s)", i ? "," : "", k[i].bs, k[i].pl, k[i].count,
                i                 ? ""
                : k[i].count == 1 ? " run"
                                  : " runs");
    fprintf(out, "\n");
    free(k);
}

static void print_totals(FILE *out, const zeus_sim_summary *s)
{
    char e[ZEUS_DOUBLE_BUF], t[ZEUS_DOUBLE_BUF];
    fprintf(out, "  %-17s %zu (%zu stopped before the target)\n", "runs", s->runs,
            s->unreached_runs);
    fprintf(out, "  %-17s %s J\n", "energy", zeus_format_double(s->energy_j, e, sizeof e));
    fprintf(out, "  %-17s %s s\n", "time", zeus_format_double(s->time_s, t, sizeof t));
}

static void print_elapsed(FILE *out, int64_t ns, size_t runs)
{
    fprintf(out, "  %-17s %.3f ms (%.2f us per run)\n", "simulated in", ns / 1e6,
            runs ? ns / 1e3 / (double)runs : 0.0);
}

/* ---- the two commands ------------------------------------------------------------------------ */

static int run_single(const options *o)
{
    zeus_trace *trace = NULL;
    zeus_sim_history h = {0};
    FILE *out = o->csv && strcmp(o->csv, "-") == 0 ? stderr : stdout;
    int status = CLI_FAIL, rc;
    zeus_job job;
    if ((rc = zeus_job_init(&job, o->dataset, o->model, o->optimizer, o->target, (int)o->max_epochs,
                            (int)o->b0, NAN)) != ZEUS_OK)
        return cli_lib_error(CLI_USAGE, rc, "simulate");
    if ((rc = zeus_trace_load_dir(o->trace_dir, o->gpu, &trace)) != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "cannot load the traces");
    size_t nb = 0, np = 0, n_rec;
    if ((rc = zeus_trace_job_space(trace, &job, &nb, &np)) != ZEUS_OK && o->num_recurrence < 0) {
        cli_lib_error(CLI_FAIL, rc, "simulate");
        goto done;
    }
    n_rec = o->num_recurrence >= 0 ? (size_t)o->num_recurrence : 2 * nb * np;
    zeus_sim_params p;
    zeus_sim_params_default(&p);
    p.eta_knob = o->eta;
    p.beta_knob = o->beta;
    p.seed = p.bso.seed = (uint64_t)o->seed;
    int64_t t0 = zeus_now_ns();
    rc = zeus_simulate_one_job(trace, &job, n_rec, &p, &h);
    int64_t elapsed = zeus_now_ns() - t0;
    if (rc != ZEUS_OK) {
        cli_lib_error(CLI_FAIL, rc, "simulation failed");
        goto done;
    }
    if (o->csv) {
        csv_out c;
        if (open_csv(&c, o->csv, false) != CLI_OK)
            goto done;
        csv_rows(c.f, NULL, &h);
        if (close_csv(&c, o->csv) != CLI_OK)
            goto done;
    }
    char name[4 * ZEUS_JOB_NAME_MAX], num[ZEUS_DOUBLE_BUF];
    fprintf(out, "zeus simulate single: %s on %s\n", zeus_job_format(&job, name, sizeof name),
            o->gpu);
    fprintf(out, "  %-17s %s (%zu joined rows, max power %d W)\n", "traces", o->trace_dir,
            zeus_trace_rows(trace), zeus_trace_max_power(trace));
    fprintf(out, "  %-17s eta %g, beta %s, seed %ld\n", "knobs", o->eta,
            zeus_format_double(o->beta, num, sizeof num), o->seed);
    if (o->num_recurrence < 0)
        fprintf(out, "  %-17s %zu (2 x %zu batch sizes x %zu power limits)\n", "recurrences", n_rec,
                nb, np);
    else
        fprintf(out, "  %-17s %zu\n", "recurrences", n_rec);
    zeus_sim_summary s;
    rc = zeus_sim_summarize(trace, &job, o->eta, &h, n_rec, NULL, &s);
    if (rc != ZEUS_OK) {
        cli_lib_error(CLI_FAIL, rc, "summary");
        goto done;
    }
    print_totals(out, &s);
    print_most_used(out, &h);
    print_savings(out, &s);
    print_elapsed(out, elapsed, h.n);
    status = CLI_OK;
done:
    zeus_sim_history_free(&h);
    zeus_trace_destroy(trace);
    return status;
}

static int run_alibaba(const options *o)
{
    zeus_trace *trace = NULL;
    zeus_groups *groups = NULL;
    zeus_group_result *results = NULL;
    size_t n_groups = 0;
    FILE *out = o->csv && strcmp(o->csv, "-") == 0 ? stderr : stdout;
    int status = CLI_FAIL, rc;
    if ((rc = zeus_trace_load_dir(o->trace_dir, o->gpu, &trace)) != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "cannot load the traces");
    if ((rc = zeus_groups_load(o->groups, &groups)) != ZEUS_OK) {
        cli_lib_error(CLI_FAIL, rc, "cannot load the groups");
        goto done;
    }
    n_groups = zeus_groups_count(groups);
    unsigned threads = o->jobs > 0 ? (unsigned)o->jobs : 0;
    int64_t t0 = zeus_now_ns();
    if ((rc = zeus_simulate_alibaba(trace, groups, o->eta, o->beta, threads, &results)) !=
        ZEUS_OK) {
        cli_lib_error(CLI_FAIL, rc, "simulation failed");
        goto done;
    }
    int64_t elapsed = zeus_now_ns() - t0;
    size_t failed = 0, jobs = 0, runs = 0;
    zeus_sim_summary total = {0};
    for (size_t i = 0; i < n_groups; i++) {
        zeus_group g;
        zeus_groups_get(groups, i, &g);
        jobs += g.n_rows;
        if (results[i].status != ZEUS_OK) {
            failed++;
            cli_error(CLI_FAIL, "simulate alibaba: group %s (%s): %s", g.id, g.dataset,
                      results[i].error);
        }
        runs += results[i].history.n;
    }
    if (o->csv) {
        csv_out c;
        if (open_csv(&c, o->csv, true) != CLI_OK)
            goto done;
        for (size_t i = 0; i < n_groups; i++) {
            zeus_group g;
            zeus_groups_get(groups, i, &g);
            if (results[i].status == ZEUS_OK)
                csv_rows(c.f, g.id, &results[i].history);
        }
        if (close_csv(&c, o->csv) != CLI_OK)
            goto done;
    }
    char num[ZEUS_DOUBLE_BUF];
    fprintf(out, "zeus simulate alibaba: %zu groups, %zu jobs from %s on %s\n", n_groups, jobs,
            o->groups, o->gpu);
    fprintf(out, "  %-17s %s (%zu joined rows, max power %d W)\n", "traces", o->trace_dir,
            zeus_trace_rows(trace), zeus_trace_max_power(trace));
    fprintf(out, "  %-17s eta %g, beta %s, seed adler32(group)\n", "knobs", o->eta,
            zeus_format_double(o->beta, num, sizeof num));
    fprintf(out, "\n  %-32s %-12s %5s %5s %9s %9s %9s  %s\n", "group", "dataset", "jobs", "runs",
            "E saved", "T saved", "regret", "knobs most used");
    for (size_t i = 0; i < n_groups; i++) {
        zeus_group g;
        zeus_groups_get(groups, i, &g);
        if (results[i].status != ZEUS_OK) {
            fprintf(out, "  %-32s %-12s %5zu failed\n", g.id, g.dataset, g.n_rows);
            continue;
        }
        double *w = malloc((g.n_rows ? g.n_rows : 1) * sizeof *w);
        if (!w)
            goto done;
        for (size_t k = 0; k < g.n_rows; k++)
            w[k] = g.rows[k].runtime_ratio;
        zeus_sim_summary s;
        rc = zeus_sim_summarize(trace, &results[i].job, o->eta, &results[i].history, g.n_rows, w,
                                &s);
        free(w);
        if (rc != ZEUS_OK) {
            fprintf(out, "  %-32s %-12s %5zu summary failed: %s\n", g.id, g.dataset, g.n_rows,
                    zeus_last_error());
            continue;
        }
        /* Savings against the default, per group. */
        fprintf(out, "  %-32s %-12s %5zu %5zu %8.1f%% %8.1f%% %8.1f%% ", g.id, g.dataset, g.n_rows,
                s.runs, percent(s.energy_saved_j, s.default_energy_j),
                percent(s.time_saved_s, s.default_time_s), percent(s.regret, s.oracle_cost));
        knob_count *k;
        if (count_knobs(&results[i].history, &k) > 0 && k)
            fprintf(out, " bs %d @ %d W (%zu)\n", k[0].bs, k[0].pl, k[0].count);
        else
            fprintf(out, " -\n");
        free(k);
        total.runs += s.runs;
        total.unreached_runs += s.unreached_runs;
        total.energy_j += s.energy_j;
        total.time_s += s.time_s;
        total.default_energy_j += s.default_energy_j;
        total.default_time_s += s.default_time_s;
        total.energy_saved_j += s.energy_saved_j;
        total.time_saved_s += s.time_saved_s;
        total.regret += s.regret;
        total.oracle_cost += s.oracle_cost;
    }
    fprintf(out, "  (energy and time: saved against each group's default batch size at its "
                 "highest\n   power limit; regret: cost above the oracle knobs, per group)\n\n");
    print_totals(out, &total);
    fprintf(out, "  %-17s energy %.6g J (%.1f %%), time %.6g s (%.1f %%)\n", "saved vs default",
            total.energy_saved_j, percent(total.energy_saved_j, total.default_energy_j),
            total.time_saved_s, percent(total.time_saved_s, total.default_time_s));
    fprintf(out, "  %-17s %.6g (%.1f %% above the oracles)\n", "regret", total.regret,
            percent(total.regret, total.oracle_cost));
    if (failed)
        fprintf(out, "  %-17s %zu\n", "failed groups", failed);
    print_elapsed(out, elapsed, runs);
    status = failed ? CLI_FAIL : CLI_OK;
done:
    zeus_group_results_free(results, n_groups);
    zeus_groups_destroy(groups);
    zeus_trace_destroy(trace);
    return status;
}

int cli_simulate(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    bool alibaba;
    if (strcmp(argv[1], "single") == 0)
        alibaba = false;
    else if (strcmp(argv[1], "alibaba") == 0)
        alibaba = true;
    else
        return cli_error(CLI_USAGE, "simulate: unknown mode '%s' (single or alibaba)", argv[1]);
    options o;
    int rc = parse_options(argc - 1, argv + 1, alibaba, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if (o.verbose)
        zeus_set_log_level(ZEUS_LOG_DEBUG);
    return alibaba ? run_alibaba(&o) : run_single(&o);
}
