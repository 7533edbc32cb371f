/* zeus pipeline-frequency solve: the pipeline frequency optimizer's offline step (Perseus), what
 * zeus's examples/pipeline_frequency_optimizer/run_optimization.py does with lowtime: profile CSV
 * -> energy-time frontier of the 1F1B pipeline -> one frequency plan file per frontier point. */
#include "cli/cli.h"
#include "zeus/pipeline_frequency.h"
#include "zeus/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: zeus pipeline-frequency solve PROFILE.csv --out DIR --num-stages S --num-mbs M\n"
        "                                    [--p2p-power W] [--unit-time S]\n"
        "                                    [--noise-factor F] [--cost-models FILE]\n\n"
        "Computes the iteration time-energy frontier of a synchronous 1F1B pipeline from a\n"
        "profile of every stage's forward and backward at every SM frequency (columns\n"
        "stage,instruction,frequency,time,energy) and writes, as the original's\n"
        "run_optimization.py does with lowtime, DIR/freqs_pipeline_NNNNN.py for every\n"
        "frontier point (the plan the server's PointSolution scheduler serves; the last one\n"
        "keeps the all-maximum-frequency iteration time), plus DIR/frontier.csv,\n"
        "DIR/cost_models.csv (the fitted curves) and DIR/job.log. DIR must not exist.\n\n"
        "options:\n"
        "  --out DIR, --output-dir DIR  output folder (created)\n"
        "  --inst-profile FILE          the profile CSV (or as the first argument)\n"
        "  --num-stages S, --num-mbs M  pipeline stages and microbatches per iteration\n"
        "  --p2p-power W                power while blocked on P2P (default 70)\n"
        "  --unit-time S                seconds per time quantum (default 0.001)\n"
        "  --noise-factor F             soft Pareto filter for <= 3 options (default 0.95)\n"
        "  --cost-models FILE           fixed models (stage,instruction,a,b,c), no fit\n"
        "  --plans-jsonl                all plans in DIR/plans.jsonl (a line per point: each\n"
        "                               stage's frequencies in 1F1B order) instead of a\n"
        "                               freqs_pipeline_NNNNN.py per point\n"
        "  -h, --help                   show this help\n\n"
        "example:\n"
        "  zeus pipeline-frequency solve profile.csv --out plans --num-stages 4 --num-mbs 16\n");
}

/* The parent's help: what each subcommand does (solve's options are in its own --help). */
static void parent_usage(FILE *out)
{
    fprintf(out,
            "usage: zeus pipeline-frequency solve PROFILE.csv --out DIR --num-stages S\n"
            "                                    --num-mbs M [options]\n"
            "       zeus pipeline-frequency serve [options]\n\n"
            "The pipeline frequency optimizer (Perseus) for pipeline-parallel training.\n\n"
            "commands:\n"
            "  solve  the time-energy frontier of a 1F1B pipeline from a profile, and a\n"
            "         frequency plan per frontier point (lowtime's run_optimization.py)\n"
            "  serve  the server handing each rank its plan (zeus-pfo; needs libmicrohttpd)\n\n"
            "options:\n"
            "  -h, --help  show this help; 'zeus pipeline-frequency solve|serve --help' for a\n"
            "              command's options\n\n"
            "example:\n"
            "  zeus pipeline-frequency solve profile.csv --out plans --num-stages 4 --num-mbs 16\n"
            "  zeus pipeline-frequency serve --solution plans/freqs_pipeline_00042.py\n");
}

static int parse_number(const char *option, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return cli_error(CLI_USAGE, "%s: '%s' is not a number", option, text);
    *out = v;
    return CLI_OK;
}

static int parse_count(const char *option, const char *text, int *out)
{
    double v;
    if (parse_number(option, text, &v) != CLI_OK)
        return CLI_USAGE;
    if (v < 1 || v > 65536 || v != floor(v))
        return cli_error(CLI_USAGE, "%s: '%s' is not a whole number from 1 to 65536", option, text);
    *out = (int)v;
    return CLI_OK;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = zeus_write_file(path, text, strlen(text));
    return rc < 0 ? cli_lib_error(CLI_FAIL, rc, path) : CLI_OK;
}

typedef struct {
    char *buf;
    size_t len, cap;
} text_buf;

static int tb_printf(text_buf *t, const char *fmt, ...) ZEUS_PRINTF(2, 3);
static int tb_printf(text_buf *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (t->buf && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return 0;
        }
        size_t cap = t->cap * 2 + (size_t)n + 256;
        char *b = realloc(t->buf, cap);
        if (!b)
            return -1;
        t->buf = b;
        t->cap = cap;
    }
}

typedef struct {
    const char *profile, *out_dir, *models;
    int stages, mbs;
    bool jsonl;
    zeus_pf_profile_options opts;
} solve_args;

/* Parses solve's options into *a; *stop is set when the command ends here (--help, bad usage),
 * with the return value its exit status. */
static int parse_solve_args(int argc, char **argv, solve_args *a, bool *stop)
{
    static const struct option longopts[] = {{"out", required_argument, NULL, 'o'},
                                             {"output-dir", required_argument, NULL, 'o'},
                                             {"inst-profile", required_argument, NULL, 'i'},
                                             {"num-stages", required_argument, NULL, 's'},
                                             {"num-mbs", required_argument, NULL, 'm'},
                                             {"p2p-power", required_argument, NULL, 'p'},
                                             {"unit-time", required_argument, NULL, 'u'},
                                             {"noise-factor", required_argument, NULL, 'n'},
                                             {"cost-models", required_argument, NULL, 'c'},
                                             {"plans-jsonl", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *stop = true;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = CLI_OK;
        switch (c) {
        case 'o':
            a->out_dir = optarg;
            break;
        case 'i':
            a->profile = optarg;
            break;
        case 's':
            rc = parse_count("--num-stages", optarg, &a->stages);
            break;
        case 'm':
            rc = parse_count("--num-mbs", optarg, &a->mbs);
            break;
        case 'p':
            rc = parse_number("--p2p-power", optarg, &a->opts.p2p_power_w);
            break;
        case 'u':
            rc = parse_number("--unit-time", optarg, &a->opts.unit_time_s);
            break;
        case 'n':
            rc = parse_number("--noise-factor", optarg, &a->opts.noise_factor);
            break;
        case 'c':
            a->models = optarg;
            break;
        case 'j':
            a->jsonl = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
        if (rc != CLI_OK)
            return rc;
    }
    if (optind < argc && !a->profile)
        a->profile = argv[optind++];
    if (optind < argc)
        return cli_error(CLI_USAGE, "unexpected argument '%s'", argv[optind]);
    if (!a->profile || !a->out_dir || !a->stages || !a->mbs)
        return cli_error(CLI_USAGE, "solve needs PROFILE.csv, --out DIR, --num-stages and "
                                    "--num-mbs (see --help)");
    if (!(a->opts.unit_time_s > 0))
        return cli_error(CLI_USAGE, "--unit-time must be positive");
    *stop = false;
    return CLI_OK;
}

/* cost_models.csv (fits) and the log's line per stage and instruction. */
static void describe_fits(const zeus_pf_spec *specs, int stages, text_buf *fits, text_buf *log)
{
    char a[40], b[40], cc[40];
    tb_printf(fits, "stage,instruction,a,b,c\n");
    for (int i = 0; i < 2 * stages; i++) {
        const zeus_pf_spec *sp = &specs[i];
        tb_printf(fits, "%d,%s,%s,%s,%s\n", i / 2,
                  zeus_pf_instruction_name((zeus_pf_instruction)(i % 2)),
                  zeus_format_double(sp->model.a, a, sizeof a),
                  zeus_format_double(sp->model.b, b, sizeof b),
                  zeus_format_double(sp->model.c, cc, sizeof cc));
        tb_printf(log, "stage %d %s: %zu candidate options, cost(q) = %s * exp(%s * q) + %s\n",
                  i / 2, zeus_pf_instruction_name((zeus_pf_instruction)(i % 2)), sp->n_options, a,
                  b, cc);
    }
}

/* One frontier point's plan: a line of plans.jsonl, or its freqs_pipeline_NNNNN.py. */
static int write_plan(const solve_args *a, zeus_pf_solver *solver, long index,
                      const zeus_pf_result *r, zeus_pf_step *steps, text_buf *plans)
{
    if (a->jsonl) {
        for (int st = 0; st < a->stages; st++) {
            zeus_pf_solver_plan(solver, st, steps);
            tb_printf(plans, "%s[", st ? ", " : "[");
            for (int k = 0; k < 2 * a->mbs; k++)
                tb_printf(plans, "%s%ld", k ? ", " : "", steps[k].knob_mhz);
            tb_printf(plans, "]");
        }
        tb_printf(plans, "]\n");
        return CLI_OK;
    }
    char *text = NULL, name[64];
    int rc = zeus_pf_solver_format_plan(solver, index, r, a->opts.p2p_power_w, &text);
    if (rc < 0)
        return cli_lib_error(CLI_FAIL, rc, "formatting a plan");
    snprintf(name, sizeof name, "freqs_pipeline_%05ld.py", index);
    int wrc = write_text(a->out_dir, name, text);
    zeus_free(text);
    return wrc;
}

/* Steps the solver to the end, one frontier.csv row and one plan per point; *count: the points.
 */
static int walk_frontier(const solve_args *a, zeus_pf_solver *solver, zeus_pf_step *steps,
                         text_buf *frontier, text_buf *plans, long *count)
{
    char t[40], c[40], dc[40], p2p[40];
    tb_printf(frontier, "iteration,quant_time,real_time,cost,cost_change,cost_with_p2p\n");
    zeus_pf_result r;
    long index = 0;
    int rc;
    while ((rc = zeus_pf_solver_step(solver, &r)) == 1) {
        if (write_plan(a, solver, index, &r, steps, plans) != CLI_OK) {
            *count = index;
            return CLI_FAIL;
        }
        tb_printf(
            frontier, "%ld,%ld,%s,%s,%s,%s\n", r.iteration, r.quant_time,
            zeus_format_double(r.real_time_s, t, sizeof t), zeus_format_double(r.cost, c, sizeof c),
            zeus_format_double(r.cost_change, dc, sizeof dc),
            zeus_format_double(r.cost + (double)a->stages * r.real_time_s * a->opts.p2p_power_w,
                               p2p, sizeof p2p));
        index++;
    }
    *count = index;
    if (rc < 0)
        return cli_lib_error(CLI_FAIL, rc, "solving");
    return CLI_OK;
}

static int solve(int argc, char **argv)
{
    solve_args a = {0};
    zeus_pf_profile_options_init(&a.opts);
    bool stop;
    int prc = parse_solve_args(argc, argv, &a, &stop);
    if (stop)
        return prc;
    int stages = a.stages, mbs = a.mbs;
    const char *out_dir = a.out_dir;
    if (mkdir(out_dir, 0777) != 0)
        return cli_error(CLI_FAIL, "cannot create %s: %s%s", out_dir, strerror(errno),
                         errno == EEXIST ? " (the output folder must not exist yet)" : "");
    a.opts.no_fit = a.models != NULL;
    zeus_pf_spec *specs = NULL;
    zeus_pf_solver *solver = NULL;
    text_buf frontier = {0}, log = {0}, fits = {0}, plans = {0};
    zeus_pf_step *steps = calloc((size_t)mbs * 2, sizeof *steps);
    if (!steps)
        return cli_error(CLI_FAIL, "out of memory");
    int status = CLI_FAIL, rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = zeus_pf_profile_load(a.profile, stages, &a.opts, &specs)) < 0) {
        cli_lib_error(CLI_FAIL, rc, "reading the profile");
        goto done;
    }
    if (a.models && (rc = zeus_pf_cost_models_load(a.models, stages, specs)) < 0) {
        cli_lib_error(CLI_FAIL, rc, "reading the cost models");
        goto done;
    }
    describe_fits(specs, stages, &fits, &log);
    if ((rc = zeus_pf_solver_create(stages, mbs, specs, a.opts.unit_time_s, &solver)) < 0) {
        cli_lib_error(CLI_FAIL, rc, "building the pipeline");
        goto done;
    }
    tb_printf(&log, "quantised iteration time: %ld (all slowest) .. %ld (all fastest)\n",
              zeus_pf_solver_max_time(solver), zeus_pf_solver_min_time(solver));
    long index;
    if (walk_frontier(&a, solver, steps, &frontier, &plans, &index) != CLI_OK)
        goto done;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char e[40];
    if (a.jsonl)
        tb_printf(&log, "%ld frontier points (plans.jsonl), %s s\n", index,
                  zeus_format_double(secs, e, sizeof e));
    else
        tb_printf(&log, "%ld frontier points (freqs_pipeline_00000.py .. %05ld), %s s\n", index,
                  index ? index - 1 : 0, zeus_format_double(secs, e, sizeof e));
    if (!fits.buf || !log.buf || !frontier.buf || (a.jsonl && index && !plans.buf)) {
        cli_error(CLI_FAIL, "out of memory");
        goto done;
    }
    if (write_text(out_dir, "frontier.csv", frontier.buf) != CLI_OK ||
        write_text(out_dir, "cost_models.csv", fits.buf) != CLI_OK ||
        write_text(out_dir, "job.log", log.buf) != CLI_OK ||
        (a.jsonl && write_text(out_dir, "plans.jsonl", plans.buf ? plans.buf : "") != CLI_OK))
        goto done;
    printf("%ld frontier points in %s\n", index, out_dir);
    status = CLI_OK;
done:
    free(steps);
    free(plans.buf);
    free(frontier.buf);
    free(log.buf);
    free(fits.buf);
    zeus_pf_solver_destroy(solver);
    zeus_pf_specs_free(specs, stages);
    return status;
}

int cli_pipeline_frequency(int argc, char **argv)
{
    cli_install_logger();
    if (argc < 2 || cli_is_help(argv[1])) {
        parent_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "solve") == 0)
        return solve(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0) {
        /* The server brings libmicrohttpd: it is its own executable, zeus-pfo. */
        char path[4096];
        if (!cli_find_helper("zeus-pfo", X_OK, path, sizeof path))
            return cli_error(CLI_FAIL, "zeus-pfo (the pipeline frequency server) is not "
                                       "installed: it is built where libmicrohttpd is found");
        fflush(stdout);
        execv(path, argv);
        return cli_error(CLI_FAIL, "cannot run %s: %s", path, strerror(errno));
    }
    return cli_error(CLI_USAGE, "unknown pipeline-frequency command '%s' (solve, serve)", argv[1]);
}
