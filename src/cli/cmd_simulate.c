/* zeus simulate: the trace-driven simulator (the original's examples/trace_driven/run_single.py
 * and run_alibaba.py) with a summary the original never printed: the oracle knobs, what was
 * saved against the default, and the cumulative regret. */
#include "cli/simulate.h"

#include "zeus/simulate.h"
#include "zeus/util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const gpu_names[] = {"v100", "a40", "rtx6000", "p100"};

/* The traces that come with zeus (cli_find_data), or NULL. */
static const char *default_trace_dir(void)
{
    static char path[PATH_MAX];
    return cli_find_data("nsdi23-traces", path, sizeof path) ? path : NULL;
}

static void usage(FILE *out)
{
    const char *traces = default_trace_dir();
    fprintf(
        out,
        "usage: zeus simulate single  [options]\n"
        "       zeus simulate alibaba --groups FILE [options]\n"
        "       zeus simulate compare [--policies LIST] [--seeds N] [--all] [options]\n\n"
        "Replay the NSDI'23 traces with Zeus's batch-size optimizer (pruning, then Gaussian\n"
        "Thompson sampling) and JIT power-limit profiling, making exactly the decisions of\n"
        "the original simulator for the same seed.\n\n"
        "  single    one recurring job (run_single.py)\n"
        "  alibaba   every job group of an Alibaba-style trace, concurrent submissions\n"
        "            included, each with its dataset's default job and seed adler32(group)\n"
        "            (run_alibaba.py); groups run in parallel\n"
        "  compare   batch-size policies side by side on the same job(s) and seeds: per\n"
        "            configuration the cumulative cost, the regret against the oracle and\n"
        "            the ratio to the original's (pruning-gts), means over the seeds\n\n"
        "common options:\n"
        "  --trace-dir DIR       folder with summary_train.csv and summary_power_<gpu>.csv\n"
        "                        (default: $ZEUS_TRACE_DIR, else the NSDI'23 traces that\n"
        "                        come with zeus: %s)\n"
        "  --gpu NAME            v100 (default), a40, rtx6000 or p100\n"
        "  --eta X               energy/time trade-off of the cost, in [0, 1] (0.5)\n"
        "  --beta X              early stop at beta x the cheapest recurrence (2.0; inf: never)\n"
        "  --csv FILE            one row per simulated run ('-': standard output, and the\n"
        "                        summary goes to standard error)\n"
        "  --plot FILE           single: a picture of the run (FILE.svg, or FILE.png): cost\n"
        "                        and regret against the oracle over the recurrences, and the\n"
        "                        batch size chosen in each\n"
        "  --fast                the bandit keeps running moments instead of recomputing\n"
        "                        numpy's variance over the whole history (linear time; not\n"
        "                        bit-exact with the original, same decisions on the\n"
        "                        reference configurations: docs/simulate.md)\n"
        "  --policy NAME         single, alibaba: the batch-size policy, pruning-gts (the\n"
        "                        original's pruning + Gaussian Thompson sampling, the\n"
        "                        default) or walk-ts (one walk that stops where the cost\n"
        "                        rises, then Thompson sampling with pooled noise: lower\n"
        "                        cost, docs/simulate.md)\n"
        "  -v, --verbose         the simulator's log on standard error\n"
        "  -h, --help            show this help\n\n"
        "single:\n"
        "  --dataset NAME        librispeech\n"
        "  --model NAME          deepspeech2\n"
        "  --optimizer NAME      adamw\n"
        "  --target-metric X     40.0\n"
        "  --max-epochs N        16\n"
        "  --b0 N                default batch size (192)\n"
        "  --seed N              1 (0 to 2^64 - 1, as numpy's default_rng(seed))\n"
        "  --num-recurrence N    default 2 x |batch sizes| x |power limits| of the job\n"
        "                        (at most 1000000: every run is kept in memory)\n\n"
        "compare (the job options of single; --seed is the first seed):\n"
        "  --policies LIST       comma-separated policies (walk-ts); the original's\n"
        "                        pruning-gts always runs too, as the reference\n"
        "  --seeds N             seeds seed .. seed + N - 1 (5)\n"
        "  --all                 the 24 paper-default configurations: every GPU with each\n"
        "                        of the six datasets' default jobs (run_alibaba.py's)\n"
        "  --plot FILE           regret curves (means over the seeds), one per policy (SVG\n"
        "                        or PNG); with --all one panel per GPU, in %% of the\n"
        "                        oracle's cumulative cost, over the share of recurrences\n\n"
        "alibaba:\n"
        "  --groups FILE         CSV: group,start_time,end_time,dataset,runtime_ratio\n"
        "  --jobs N              threads (default: one per CPU)\n\n"
        "The original script's spellings (--target_metric, --max_epochs, --b_0, --eta_knob,\n"
        "--beta_knob, --num_recurrence) are accepted too. Exit status: 0 success, 1 failure,\n"
        "2 usage error.\n\n"
        "example:\n"
        "  zeus simulate single --gpu a40 --eta 0.5 --num-recurrence 100 --csv runs.csv\n"
        "  zeus simulate compare --all --seeds 5 --plot regret.svg\n",
        traces ? traces : "none found: give --trace-dir");
}

enum {
    OPT_TRACE_DIR = 1000,
    OPT_GPU,
    OPT_ETA,
    OPT_BETA,
    OPT_CSV,
    OPT_PLOT,
    OPT_FAST,
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
    OPT_POLICY,
    OPT_POLICIES,
    OPT_SEEDS,
    OPT_ALL,
};

typedef enum { MODE_SINGLE, MODE_ALIBABA, MODE_COMPARE } sim_mode;
static const char *const mode_names[] = {"single", "alibaba", "compare"};

typedef sim_options options;

static int parse_number(const char *flag, const char *text, double min, double max, double *out)
{
    if (zeus_parse_double(text, out) != ZEUS_OK || !(*out >= min && *out <= max))
        return cli_error(CLI_USAGE, "simulate: %s must be a number in [%g, %g], got '%s'", flag,
                         min, max, text);
    return CLI_OK;
}

static int parse_integer(const char *flag, const char *text, long min, long max, long *out)
{
    if (zeus_parse_long(text, out) != ZEUS_OK || *out < min)
        return cli_error(CLI_USAGE, "simulate: %s must be an integer >= %ld, got '%s'", flag, min,
                         text);
    if (*out > max)
        return cli_error(CLI_USAGE, "simulate: %s must be at most %ld, got '%s'", flag, max, text);
    return CLI_OK;
}

/* numpy's default_rng(seed) takes any non-negative integer; the generator here takes 64 bits. */
static int parse_seed(const char *text, uint64_t *out)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    char *end = (char *)p;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)*p) ? strtoull(p, &end, 10) : 0;
    while (isspace((unsigned char)*end))
        end++;
    if (end == p || *end || errno == ERANGE)
        return cli_error(CLI_USAGE,
                         "simulate: --seed must be an integer from 0 to 2^64 - 1 "
                         "(18446744073709551615), got '%s'%s",
                         text, errno == ERANGE ? " (seeds are 64-bit)" : "");
    *out = (uint64_t)v;
    return CLI_OK;
}

/* simulate single/alibaba options (getopt_long); the original's underscore spellings too. */
static const struct option long_options[] = {
    {"trace-dir", required_argument, NULL, OPT_TRACE_DIR},
    {"gpu", required_argument, NULL, OPT_GPU},
    {"eta", required_argument, NULL, OPT_ETA},
    {"eta_knob", required_argument, NULL, OPT_ETA},
    {"beta", required_argument, NULL, OPT_BETA},
    {"beta_knob", required_argument, NULL, OPT_BETA},
    {"csv", required_argument, NULL, OPT_CSV},
    {"plot", required_argument, NULL, OPT_PLOT},
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
    {"fast", no_argument, NULL, OPT_FAST},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"policies", required_argument, NULL, OPT_POLICIES},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"all", no_argument, NULL, OPT_ALL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What the options say together: a known GPU, traces to read, the options of the other mode. */
static int check_options(sim_mode mode, options *o)
{
    bool alibaba = mode == MODE_ALIBABA;
    size_t g;
    size_t n_gpus = sizeof gpu_names / sizeof gpu_names[0];
    for (g = 0; g < n_gpus && strcmp(o->gpu, gpu_names[g]) != 0; g++) {
    }
    if (g == n_gpus)
        return cli_error(CLI_USAGE, "simulate: --gpu must be v100, a40, rtx6000 or p100, got '%s'",
                         o->gpu);
    if ((!o->trace_dir || !*o->trace_dir) && !(o->trace_dir = default_trace_dir()))
        return cli_error(CLI_USAGE,
                         "simulate: no traces came with this zeus (looked for share/zeus/"
                         "nsdi23-traces beside the executable): give --trace-dir DIR or set "
                         "ZEUS_TRACE_DIR");
    if (alibaba && o->fast)
        return cli_error(CLI_USAGE, "simulate alibaba: --fast is for simulate single (groups are "
                                    "short: exact mode is fast there)");
    if (alibaba && o->plot)
        return cli_error(CLI_USAGE, "simulate alibaba: --plot draws a single job's run (simulate "
                                    "single); for groups use --csv");
    if (alibaba && !o->groups)
        return cli_error(CLI_USAGE, "simulate alibaba: --groups FILE is required");
    if (mode == MODE_COMPARE && o->all && o->job_given)
        return cli_error(CLI_USAGE, "simulate compare: --all runs the 24 paper-default "
                                    "configurations; it takes no job or --gpu options");
    if (mode == MODE_COMPARE && o->n_policies == 0)
        o->policies[o->n_policies++] = ZEUS_BSO_POLICY_WALK_TS;
    return CLI_OK;
}

/* The mode an option is for, when it is not for the given one (NULL: allowed). */
static const char *wrong_mode(int c, sim_mode mode)
{
    bool job = c == OPT_DATASET || c == OPT_MODEL || c == OPT_OPTIMIZER || c == OPT_TARGET ||
               c == OPT_MAX_EPOCHS || c == OPT_B0 || c == OPT_SEED || c == OPT_NUM_REC;
    if (c == OPT_GROUPS || c == OPT_JOBS)
        return mode == MODE_ALIBABA ? NULL : "alibaba";
    if (job)
        return mode == MODE_ALIBABA ? "single' or 'simulate compare" : NULL;
    if (c == OPT_POLICIES || c == OPT_SEEDS || c == OPT_ALL)
        return mode == MODE_COMPARE ? NULL : "compare";
    if (c == OPT_POLICY || c == OPT_CSV)
        return mode == MODE_COMPARE ? "single' or 'simulate alibaba" : NULL;
    return NULL;
}

/* --policies a,b: the original's pruning-gts is the reference, so it is not listed again. */
static int parse_policies(const char *text, options *o)
{
    char buf[256];
    if ((size_t)snprintf(buf, sizeof buf, "%s", text) >= sizeof buf)
        return cli_error(CLI_USAGE, "simulate: --policies '%s' is too long", text);
    o->n_policies = 0;
    for (char *save = NULL, *name = strtok_r(buf, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        int policy;
        if (zeus_bso_policy_parse(name, &policy) != ZEUS_OK)
            return cli_error(CLI_USAGE, "simulate: --policies: %s", zeus_last_error());
        bool seen = policy == ZEUS_BSO_POLICY_PRUNING_GTS;
        for (size_t i = 0; i < o->n_policies; i++)
            seen |= o->policies[i] == policy;
        if (!seen && o->n_policies < SIM_MAX_POLICIES)
            o->policies[o->n_policies++] = policy;
    }
    return CLI_OK;
}

static int parse_option(int c, options *o);

static int parse_options(int argc, char **argv, sim_mode mode, options *o)
{
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
                   .num_recurrence = -1,
                   .seeds = 5};
    int c, rc = CLI_OK;
    opterr = 0;
    optind = 1;
    int li = -1;
    while ((c = getopt_long(argc, argv, "+hv", long_options, &li)) != -1) {
        const char *other = wrong_mode(c, mode);
        if (other) /* the option's name (argv[optind - 1] may be its value) */
            return cli_error(CLI_USAGE, "simulate %s: option '--%s' belongs to 'simulate %s'",
                             mode_names[mode], li >= 0 ? long_options[li].name : "?", other);
        li = -1;
        if (c == 'h') {
            usage(stdout);
            return -1;
        }
        if (c == '?' || c == ':')
            return cli_error(CLI_USAGE, "simulate: unknown option or missing value '%s'",
                             argv[optind - 1]);
        o->job_given |= c == OPT_GPU || c == OPT_DATASET || c == OPT_MODEL || c == OPT_OPTIMIZER ||
                        c == OPT_TARGET || c == OPT_MAX_EPOCHS || c == OPT_B0;
        if ((rc = parse_option(c, o)) != CLI_OK)
            return rc;
    }
    if (optind < argc)
        return cli_error(CLI_USAGE, "simulate: unexpected argument '%s'", argv[optind]);
    return check_options(mode, o);
}

/* One option of any mode (wrong_mode has checked it belongs to this one). */
static int parse_option(int c, options *o)
{
    int rc = CLI_OK;
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
    case OPT_PLOT:
        o->plot = optarg; /* the format and the path are checked before the work */
        if ((rc = cli_plot_format_of(optarg, &o->plot_format)) == CLI_OK &&
            zeus_output_check(optarg) != ZEUS_OK)
            rc = cli_error(CLI_FAIL, "--plot: %s", zeus_last_error());
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
        rc = parse_integer("--max-epochs", optarg, 1, 1L << 30, &o->max_epochs);
        break;
    case OPT_B0:
        rc = parse_integer("--b0", optarg, 1, 1L << 30, &o->b0);
        break;
    case OPT_SEED:
        rc = parse_seed(optarg, &o->seed);
        break;
    case OPT_NUM_REC:
        /* The whole history is kept: bound it before memory runs out. */
        rc = parse_integer("--num-recurrence", optarg, 0, ZEUS_SIM_MAX_RECURRENCES,
                           &o->num_recurrence);
        break;
    case OPT_GROUPS:
        o->groups = optarg;
        break;
    case OPT_JOBS:
        rc = parse_integer("--jobs", optarg, 1, 4096, &o->jobs);
        break;
    case 'v':
        o->verbose = true;
        break;
    case OPT_FAST:
        o->fast = true;
        break;
    case OPT_POLICY:
        if (zeus_bso_policy_parse(optarg, &o->policy) != ZEUS_OK)
            rc = cli_error(CLI_USAGE, "simulate: --policy: %s", zeus_last_error());
        break;
    case OPT_POLICIES:
        rc = parse_policies(optarg, o);
        break;
    case OPT_SEEDS:
        rc = parse_integer("--seeds", optarg, 1, 1000, &o->seeds);
        break;
    case OPT_ALL:
        o->all = true;
        break;
    }
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* The runs as CSV: printed for "-", else written atomically (zeus_sim_csv_save), so a failed or
 * interrupted run never leaves a truncated file behind. */
static int write_csv(const char *path, const zeus_sim_csv_part *parts, size_t n, bool groups)
{
    int rc;
    if (strcmp(path, "-") != 0) {
        if ((rc = zeus_sim_csv_save(path, parts, n, groups)) != ZEUS_OK)
            return cli_lib_error(CLI_FAIL, rc, "simulate: cannot write the CSV");
        return CLI_OK;
    }
    char *text;
    size_t len;
    if ((rc = zeus_sim_csv_format(parts, n, groups, &text, &len)) != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "simulate: cannot write the CSV");
    bool bad = fwrite(text, 1, len, stdout) != len;
    bad |= fflush(stdout) != 0 || ferror(stdout);
    free(text);
    return bad ? cli_error(CLI_FAIL, "simulate: error writing %s", path) : CLI_OK;
}

/* Energy and time as people read them: kWh, h (the exact J and s are printed beside). */
static const char *kwh(double j, char *buf, size_t size)
{
    snprintf(buf, size, "%.4g kWh", j / 3.6e6);
    return buf;
}

static const char *hours(double s, char *buf, size_t size)
{
    snprintf(buf, size, "%.4g h", s / 3600);
    return buf;
}

static void print_choice(FILE *out, const char *label, const zeus_sim_choice *c)
{
    char e[32], t[32];
    fprintf(out, "  %-17s bs %d @ %d W: %.6g J (%s), %.6g s (%s), cost %.6g J per recurrence\n",
            label, c->batch_size, c->power_limit, c->energy_j, kwh(c->energy_j, e, sizeof e),
            c->time_s, hours(c->time_s, t, sizeof t), c->cost);
}

static void print_saved(FILE *out, const zeus_sim_summary *s)
{
    char e[32], t[32];
    fprintf(out, "  %-17s energy %.6g J (%s, %.1f %%), time %.6g s (%s, %.1f %%)\n",
            "saved vs default", s->energy_saved_j, kwh(s->energy_saved_j, e, sizeof e),
            s->energy_saved_pct, s->time_saved_s, hours(s->time_saved_s, t, sizeof t),
            s->time_saved_pct);
}

static void print_savings(FILE *out, const zeus_sim_summary *s, const zeus_job *job)
{
    if (s->has_oracle)
        print_choice(out, "oracle", &s->oracle);
    else
        fprintf(out,
                "  %-17s none: no (batch size, power limit) always reaches the target within "
                "%d epochs\n",
                "oracle", job->max_epochs);
    print_choice(out, "default", &s->default_choice);
    print_saved(out, s);
    if (s->has_oracle)
        fprintf(out, "  %-17s %.6g J (%.1f %% above the oracle's %.6g J)\n", "regret", s->regret,
                s->regret_pct, s->oracle_cost);
    else
        fprintf(out, "  %-17s unknown (no oracle)\n", "regret");
}

/* "bs 48 @ 150 W (182 runs), bs 32 @ 150 W (6), ..." for the most used knobs. */
static void print_most_used(FILE *out, const zeus_sim_summary *s)
{
    fprintf(out, "  %-17s", "most used");
    for (size_t i = 0; i < s->n_most_used; i++) {
        const zeus_sim_knob_use *k = &s->most_used[i];
        fprintf(out, "%s bs %d @ %d W (%zu%s)", i ? "," : "", k->batch_size, k->power_limit,
                k->runs,
                i              ? ""
                : k->runs == 1 ? " run"
                               : " runs");
    }
    fprintf(out, "\n");
}

static void print_totals(FILE *out, const zeus_sim_summary *s)
{
    char e[ZEUS_DOUBLE_BUF], t[ZEUS_DOUBLE_BUF];
    fprintf(out, "  %-17s %zu (%zu stopped before the target)\n", "runs", s->runs,
            s->unreached_runs);
    char human[32];
    fprintf(out, "  %-17s %s J (%s)\n", "energy", zeus_format_double(s->energy_j, e, sizeof e),
            kwh(s->energy_j, human, sizeof human));
    fprintf(out, "  %-17s %s s (%s)\n", "time", zeus_format_double(s->time_s, t, sizeof t),
            hours(s->time_s, human, sizeof human));
}

static void print_elapsed(FILE *out, int64_t ns, size_t runs)
{
    fprintf(out, "  %-17s %.3f ms (%.2f us per run)\n", "simulated in", ns / 1e6,
            runs ? ns / 1e3 / (double)runs : 0.0);
}

/* ---- --plot -----------------------------------------------------------------------------------
 */

#define PLOT_WIDTH_PX 960
#define PLOT_HEIGHT_PX 1000

/* Cumulative cost and regret against the oracle, and the batch size of each recurrence. */
static int plot_single(const options *o, const zeus_sim_history *h, size_t n,
                       const zeus_sim_summary *s, const char *job_name)
{
    double *buf = malloc(7 * (n ? n : 1) * sizeof *buf);
    if (!buf)
        return cli_error(CLI_FAIL, "out of memory");
    double *x = buf, *cum = x + n, *regret = cum + n, *bs = regret + n, *oracle = bs + n;
    double *dflt = oracle + n, *oracle_bs = dflt + n;
    double oracle_cost = s->has_oracle ? s->oracle.cost : NAN;
    int rc = zeus_sim_curves(h, n, oracle_cost, NULL, cum, regret, bs);
    for (size_t r = 0; r < n; r++) {
        x[r] = (double)r + 1;
        oracle[r] = (double)(r + 1) * oracle_cost;
        dflt[r] = (double)(r + 1) * s->default_choice.cost;
        oracle_bs[r] = s->has_oracle ? s->oracle.batch_size : NAN;
    }
    zeus_plot_series costs[] = {{"Zeus (simulated)", x, cum, n, false, false},
                                {"oracle", x, oracle, n, false, true},
                                {"default batch size", x, dflt, n, false, true}};
    zeus_plot_series regrets[] = {{"regret against the oracle", x, regret, n, false, false}};
    zeus_plot_series sizes[] = {{"chosen (last try)", x, bs, n, true, false},
                                {"oracle", x, oracle_bs, n, false, true}};
    zeus_plot_panel panels[] = {
        {"recurrence", "cumulative cost", ZEUS_PLOT_UNIT_NONE, ZEUS_PLOT_UNIT_JOULES, costs,
         s->has_oracle ? 3 : 1},
        {"recurrence", "cumulative regret", ZEUS_PLOT_UNIT_NONE, ZEUS_PLOT_UNIT_JOULES, regrets, 1},
        {"recurrence", "batch size", ZEUS_PLOT_UNIT_NONE, ZEUS_PLOT_UNIT_NONE, sizes,
         s->has_oracle ? 2 : 1}};
    char title[512];
    snprintf(title, sizeof title, "zeus simulate: %s on %s, eta %g", job_name, o->gpu, o->eta);
    /* Without an oracle there is no regret: the cost and batch-size panels only. */
    zeus_plot_panel kept[] = {panels[0], panels[2]};
    zeus_plot_chart chart = {title, s->has_oracle ? panels : kept, s->has_oracle ? 3 : 2,
                             PLOT_WIDTH_PX, s->has_oracle ? PLOT_HEIGHT_PX : 700};
    int result = rc == ZEUS_OK ? cli_write_chart(&chart, o->plot, o->plot_format)
                               : cli_lib_error(CLI_FAIL, rc, "--plot");
    free(buf);
    return result;
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
    p.seed = p.bso.seed = o->seed;
    p.bso.moments = o->fast ? ZEUS_BSO_MOMENTS_RUNNING : ZEUS_BSO_MOMENTS_EXACT;
    p.bso.policy = o->policy;
    int64_t t0 = zeus_now_ns();
    int sim_rc = zeus_simulate_one_job(trace, &job, n_rec, &p, &h);
    int64_t elapsed = zeus_now_ns() - t0;
    char sim_error[1024] = "";
    if (sim_rc != ZEUS_OK)
        snprintf(sim_error, sizeof sim_error, "%s", zeus_last_error());
    /* A failed simulation keeps the runs it made: they go to the CSV before the error. */
    if (o->csv && (sim_rc == ZEUS_OK || h.n > 0)) {
        zeus_sim_csv_part part = {NULL, &h};
        if (write_csv(o->csv, &part, 1, false) != CLI_OK)
            goto done;
    }
    if (sim_rc != ZEUS_OK) {
        cli_error(CLI_FAIL, "simulation failed: %s%s", sim_error,
                  o->csv && h.n > 0 ? " (the runs made so far are in the CSV)" : "");
        goto done;
    }
    char name[4 * ZEUS_JOB_NAME_MAX], num[ZEUS_DOUBLE_BUF];
    fprintf(out, "zeus simulate single: %s on %s\n", zeus_job_format(&job, name, sizeof name),
            o->gpu);
    fprintf(out, "  %-17s %s (%zu joined rows, max power %d W)\n", "traces", o->trace_dir,
            zeus_trace_rows(trace), zeus_trace_max_power(trace));
    fprintf(out, "  %-17s eta %g, beta %s, seed %" PRIu64 ", policy %s\n", "knobs", o->eta,
            zeus_format_double(o->beta, num, sizeof num), o->seed, zeus_bso_policy_name(o->policy));
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
    print_most_used(out, &s);
    print_savings(out, &s, &job);
    print_elapsed(out, elapsed, h.n);
    if (o->plot && plot_single(o, &h, n_rec, &s, name) != CLI_OK)
        goto done;
    status = CLI_OK;
done:
    zeus_sim_history_free(&h);
    zeus_trace_destroy(trace);
    return status;
}

static void print_group(FILE *out, const zeus_group *g, const zeus_group_result *r,
                        const zeus_sim_summary *s)
{
    if (r->status != ZEUS_OK) {
        fprintf(out, "  %-32s %-12s %5zu failed\n", g->id, g->dataset, g->n_rows);
        return;
    }
    /* Savings against the default, per group. */
    fprintf(out, "  %-32s %-12s %5zu %5zu %8.1f%% %8.1f%% ", g->id, g->dataset, g->n_rows, s->runs,
            s->energy_saved_pct, s->time_saved_pct);
    if (s->has_oracle)
        fprintf(out, "%8.1f%% ", s->regret_pct);
    else
        fprintf(out, "%9s ", "-");
    if (s->n_most_used > 0)
        fprintf(out, " bs %d @ %d W (%zu)\n", s->most_used[0].batch_size,
                s->most_used[0].power_limit, s->most_used[0].runs);
    else
        fprintf(out, " -\n");
}

static int run_alibaba(const options *o)
{
    zeus_trace *trace = NULL;
    zeus_groups *groups = NULL;
    zeus_group_result *results = NULL;
    zeus_sim_summary *summaries = NULL;
    zeus_sim_csv_part *parts = NULL;
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
    if ((rc = zeus_simulate_alibaba_policy(trace, groups, o->eta, o->beta, o->policy, threads,
                                           &results)) != ZEUS_OK) {
        cli_lib_error(CLI_FAIL, rc, "simulation failed");
        goto done;
    }
    int64_t elapsed = zeus_now_ns() - t0;
    summaries = calloc(n_groups ? n_groups : 1, sizeof *summaries);
    parts = calloc(n_groups ? n_groups : 1, sizeof *parts);
    if (!summaries || !parts) {
        cli_error(CLI_FAIL, "simulate alibaba: out of memory");
        goto done;
    }
    size_t failed = 0, jobs = 0, runs = 0, n_parts = 0;
    for (size_t i = 0; i < n_groups; i++) {
        zeus_group g;
        zeus_groups_get(groups, i, &g);
        jobs += g.n_rows;
        if (results[i].status != ZEUS_OK) {
            failed++;
            cli_error(CLI_FAIL, "simulate alibaba: group %s (%s): %s%s", g.id, g.dataset,
                      results[i].error,
                      o->csv && results[i].history.n ? " (its runs so far are in the CSV)" : "");
        }
        /* A failed group's runs so far go to the CSV too. */
        parts[n_parts++] = (zeus_sim_csv_part){g.id, &results[i].history};
        runs += results[i].history.n;
    }
    if (o->csv && write_csv(o->csv, parts, n_parts, true) != CLI_OK)
        goto done;
    zeus_sim_summary total;
    if ((rc = zeus_sim_summarize_alibaba(trace, groups, results, o->eta, summaries, &total)) !=
        ZEUS_OK) {
        cli_lib_error(CLI_FAIL, rc, "summary");
        goto done;
    }
    char num[ZEUS_DOUBLE_BUF];
    fprintf(out, "zeus simulate alibaba: %zu groups, %zu jobs from %s on %s\n", n_groups, jobs,
            o->groups, o->gpu);
    fprintf(out, "  %-17s %s (%zu joined rows, max power %d W)\n", "traces", o->trace_dir,
            zeus_trace_rows(trace), zeus_trace_max_power(trace));
    fprintf(out, "  %-17s eta %g, beta %s, seed adler32(group), policy %s\n", "knobs", o->eta,
            zeus_format_double(o->beta, num, sizeof num), zeus_bso_policy_name(o->policy));
    fprintf(out, "\n  %-32s %-12s %5s %5s %9s %9s %9s  %s\n", "group", "dataset", "jobs", "runs",
            "E saved", "T saved", "regret", "knobs most used");
    for (size_t i = 0; i < n_groups; i++) {
        zeus_group g;
        zeus_groups_get(groups, i, &g);
        print_group(out, &g, &results[i], &summaries[i]);
    }
    fprintf(out, "  (energy and time: saved against each group's default batch size at its "
                 "highest\n   power limit; regret: cost above the oracle knobs, per group)\n\n");
    print_totals(out, &total);
    print_saved(out, &total);
    if (total.has_oracle)
        fprintf(out, "  %-17s %.6g (%.1f %% above the oracles)\n", "regret", total.regret,
                total.regret_pct);
    else
        fprintf(out, "  %-17s unknown (%s)\n", "regret",
                failed < n_groups ? "no group has an oracle" : "no group completed");
    if (failed)
        fprintf(out, "  %-17s %zu\n", "failed groups", failed);
    print_elapsed(out, elapsed, runs);
    status = failed ? CLI_FAIL : CLI_OK;
done:
    free(parts);
    free(summaries);
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
    sim_mode mode = MODE_SINGLE;
    while (mode <= MODE_COMPARE && strcmp(argv[1], mode_names[mode]) != 0)
        mode++;
    if (mode > MODE_COMPARE)
        return cli_error(CLI_USAGE, "simulate: unknown mode '%s' (single, alibaba or compare)",
                         argv[1]);
    options o;
    int rc = parse_options(argc - 1, argv + 1, mode, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if (o.verbose)
        zeus_set_log_level(ZEUS_LOG_DEBUG);
    if (mode == MODE_COMPARE)
        return cli_simulate_compare(&o);
    return mode == MODE_ALIBABA ? run_alibaba(&o) : run_single(&o);
}
