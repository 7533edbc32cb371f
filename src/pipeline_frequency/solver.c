/* The Phillips-Dessouky time-cost tradeoff solver over the 1F1B pipeline DAG (spec 5.3-5.4 of
 * pipeline-frequency-api.md; lowtime 0.3.0's PhillipsDessouky).
 *
 * lowtime splits every operation into an activity-on-arc edge left(v) -> right(v) and every
 * dependency u -> v into a dummy edge right(u) -> left(v), numbering the split nodes 2i and
 * 2i + 1 where i is v's place in a breadth-first walk of the pipeline from the source; we run
 * the critical-path method on the pipeline's nodes and build the flow network with lowtime's
 * numbers. The min cut is lowtime's (its Rust find_min_cut) step for step: the same f64
 * capacities (rounded down to multiples of 1e-6 as it rounds them), the same two maximum flows
 * (pathfinding's Edmonds-Karp, edmonds_karp.c), the same rounding of residuals below 1e-6 and
 * the same reading of the source side, so that where two operations are equally cheap to
 * shorten we shorten the one lowtime shortens. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "zeus/util.h"
#include "pf_internal.h"
#include "zeus/pipeline_frequency.h"

#define PF_EPS 1e-6
#define PF_INF_COST 10000.0 /* lowtime's "infinite" capacity */

/* An edge of the critical activity-on-arc network: an activity (tag = its pipeline node) or a
 * dependency (tag = -1 - its index), between lowtime's node numbers a -> b. */
typedef struct {
    int tag, a, b;
    double lb, ub, flow;
} crit_edge;

struct zeus_pf_solver {
    int S, M;
    double unit_time;
    zeus_pf_spec *specs; /* 2S, copied */
    double **cost_tab;   /* per spec: cost at q = min-1 .. max+1 */
    int n;               /* AON nodes: 0 source, 1 sink, 2 + s*2M + k */
    int *spec_of;        /* -1 for source and sink */
    zeus_pf_instruction *inst_of;
    int *mb_of;
    long *dur, *dmin, *dmax;
    int n_edges;
    int *eu, *ev;
    int *out_start, *out_list, *in_start, *in_list; /* edge indexes by node */
    int *topo;
    long *es, *ef, *ls, *lf;
    long max_time, min_time, makespan;
    long iteration;
    bool done;
    /* the flow network */
    int *scratch_a, *scratch_b; /* scratch, 2 n + 2 ints each */
    int *aoa; /* per network node (2v left, 2v + 1 right): lowtime's node number */
    crit_edge *ce;
    int n_ce;
    zeus__pf_arc *arcs;
    zeus__pf_ek ek;
    char *in_s; /* by lowtime's node number */
    double *inlb, *outlb;
    int *stack;
};

static double cost_of(const zeus_pf_solver *s, int spec, long q)
{
    return s
        ->cost_tab[spec][q - (s->specs[spec].options[s->specs[spec].n_options - 1].quant_time - 1)];
}

int zeus_pf_1f1b(int num_stages, int num_microbatches, int stage, zeus_pf_instruction *instructions,
                 int *microbatches)
{
    if (num_stages < 1 || num_microbatches < 1 || stage < 0 || stage >= num_stages ||
        !instructions || !microbatches)
        return zeus__error(ZEUS_EINVAL, "1F1B: need stages >= 1, microbatches >= 1 and a stage "
                                        "in range");
    int warmup = num_stages - stage < num_microbatches ? num_stages - stage : num_microbatches;
    int f = 0, b = 0, k = 0;
    for (; f < warmup; f++, k++) {
        instructions[k] = ZEUS_PF_FORWARD;
        microbatches[k] = f;
    }
    while (f < num_microbatches) {
        instructions[k] = ZEUS_PF_BACKWARD;
        microbatches[k++] = b++;
        instructions[k] = ZEUS_PF_FORWARD;
        microbatches[k++] = f++;
    }
    while (b < num_microbatches) {
        instructions[k] = ZEUS_PF_BACKWARD;
        microbatches[k++] = b++;
    }
    return 0;
}

static int node_of(const zeus_pf_solver *s, int stage, int pos)
{
    return 2 + stage * 2 * s->M + pos;
}

/* The knob for a duration: the slowest option whose quant_time fits, else the fastest. */
static long knob_for(const zeus_pf_spec *spec, long duration)
{
    for (size_t i = 0; i < spec->n_options; i++) /* quant_time descending */
        if (spec->options[i].quant_time <= duration)
            return spec->options[i].knob_mhz;
    return spec->options[spec->n_options - 1].knob_mhz;
}

static void cpm(zeus_pf_solver *s)
{
    for (int i = 0; i < s->n; i++) {
        int v = s->topo[i];
        long es = 0;
        for (int j = s->in_start[v]; j < s->in_start[v + 1]; j++) {
            int u = s->eu[s->in_list[j]];
            es = s->ef[u] > es ? s->ef[u] : es;
        }
        s->es[v] = es;
        s->ef[v] = es + s->dur[v];
    }
    s->makespan = s->ef[1];
    for (int i = s->n - 1; i >= 0; i--) {
        int u = s->topo[i];
        long lf = s->out_start[u] == s->out_start[u + 1] ? s->makespan : LONG_MAX;
        for (int j = s->out_start[u]; j < s->out_start[u + 1]; j++) {
            int v = s->ev[s->out_list[j]];
            lf = s->ls[v] < lf ? s->ls[v] : lf;
        }
        s->lf[u] = lf;
        s->ls[u] = lf - s->dur[u];
    }
}

static void free_solver(zeus_pf_solver *s)
{
    if (!s)
        return;
    if (s->cost_tab)
        for (int i = 0; i < 2 * s->S; i++)
            free(s->cost_tab[i]);
    free(s->cost_tab);
    zeus_pf_specs_free(s->specs, s->S);
    void *arrays[] = {s->spec_of, s->inst_of, s->mb_of,     s->dur,       s->dmin,     s->dmax,
                      s->eu,      s->ev,      s->out_start, s->out_list,  s->in_start, s->in_list,
                      s->topo,    s->es,      s->ef,        s->ls,        s->lf,       s->ce,
                      s->arcs,    s->aoa,     s->scratch_a, s->scratch_b, s->stack,    s->in_s,
                      s->inlb,    s->outlb};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        free(arrays[i]);
    zeus__pf_ek_free(&s->ek);
    free(s);
}

void zeus_pf_solver_destroy(zeus_pf_solver *solver)
{
    free_solver(solver);
}

long zeus_pf_solver_max_time(const zeus_pf_solver *solver)
{
    return solver->max_time;
}
long zeus_pf_solver_min_time(const zeus_pf_solver *solver)
{
    return solver->min_time;
}

static int add_dep(zeus_pf_solver *s, int u, int v)
{
    s->eu[s->n_edges] = u;
    s->ev[s->n_edges] = v;
    s->n_edges++;
    return 0;
}

static int check_specs(int num_stages, const zeus_pf_spec *specs)
{
    for (int i = 0; i < 2 * num_stages; i++) {
        if (!specs[i].options || specs[i].n_options == 0)
            return zeus__error(ZEUS_EINVAL, "stage %d %s has no options", i / 2,
                               zeus_pf_instruction_name((zeus_pf_instruction)(i % 2)));
        for (size_t j = 1; j < specs[i].n_options; j++)
            if (specs[i].options[j].quant_time >= specs[i].options[j - 1].quant_time)
                return zeus__error(ZEUS_EINVAL,
                                   "stage %d %s: options must have strictly descending "
                                   "quantised times",
                                   i / 2, zeus_pf_instruction_name((zeus_pf_instruction)(i % 2)));
    }
    return ZEUS_OK;
}

/* The solver's arrays for s->n nodes and s->S stages; false when out of memory. */
static bool alloc_arrays(zeus_pf_solver *s)
{
    int n = s->n, num_stages = s->S;
    int max_edges = 2 * n + 2 * n; /* program order + cross-stage + source/sink */
    s->specs = calloc((size_t)2 * num_stages, sizeof *s->specs);
    s->cost_tab = calloc((size_t)2 * num_stages, sizeof *s->cost_tab);
    s->spec_of = calloc(n, sizeof *s->spec_of);
    s->inst_of = calloc(n, sizeof *s->inst_of);
    s->mb_of = calloc(n, sizeof *s->mb_of);
    s->dur = calloc(n, sizeof(long));
    s->dmin = calloc(n, sizeof(long));
    s->dmax = calloc(n, sizeof(long));
    s->eu = calloc(max_edges, sizeof(int));
    s->ev = calloc(max_edges, sizeof(int));
    s->out_start = calloc(n + 1, sizeof(int));
    s->in_start = calloc(n + 1, sizeof(int));
    s->out_list = calloc(max_edges, sizeof(int));
    s->in_list = calloc(max_edges, sizeof(int));
    s->topo = calloc(n, sizeof(int));
    s->es = calloc(n, sizeof(long));
    s->ef = calloc(n, sizeof(long));
    s->ls = calloc(n, sizeof(long));
    s->lf = calloc(n, sizeof(long));
    int nn = 2 * n + 2, max_arcs = n + max_edges + 2 * nn + 1;
    s->ce = calloc(n + max_edges, sizeof *s->ce);
    s->arcs = calloc(max_arcs, sizeof *s->arcs);
    s->aoa = calloc(nn, sizeof(int));
    s->scratch_a = calloc(nn, sizeof(int));
    s->scratch_b = calloc(nn, sizeof(int));
    s->stack = calloc((size_t)2 * max_arcs + 1, sizeof(int));
    s->in_s = calloc(nn, 1);
    s->inlb = calloc(nn, sizeof(double));
    s->outlb = calloc(nn, sizeof(double));
    return s->specs && s->cost_tab && s->spec_of && s->inst_of && s->mb_of && s->dur && s->dmin &&
           s->dmax && s->eu && s->ev && s->out_start && s->in_start && s->out_list && s->in_list &&
           s->topo && s->es && s->ef && s->ls && s->lf && s->ce && s->arcs && s->aoa &&
           s->scratch_a && s->scratch_b && s->stack && s->in_s && s->inlb && s->outlb &&
           zeus__pf_ek_init(&s->ek, nn, max_arcs) == 0;
}

/* Copies the specs and tabulates each one's cost around its quantised times; false when out of
 * memory. */
static bool copy_specs(zeus_pf_solver *s, const zeus_pf_spec *specs)
{
    for (int i = 0; i < 2 * s->S; i++) {
        zeus_pf_spec *sp = &s->specs[i];
        sp->model = specs[i].model;
        sp->n_options = specs[i].n_options;
        sp->options = malloc(sp->n_options * sizeof *sp->options);
        if (!sp->options)
            return false;
        memcpy(sp->options, specs[i].options, sp->n_options * sizeof *sp->options);
        long qmin = sp->options[sp->n_options - 1].quant_time, qmax = sp->options[0].quant_time;
        s->cost_tab[i] = malloc((size_t)(qmax - qmin + 3) * sizeof(double));
        if (!s->cost_tab[i])
            return false;
        for (long q = qmin - 1; q <= qmax + 1; q++)
            s->cost_tab[i][q - (qmin - 1)] = zeus_pf_cost(&sp->model, q);
    }
    return true;
}

/* Each stage's 1F1B program: its nodes, their durations, and program-order edges. */
static void add_program_order(zeus_pf_solver *s)
{
    s->spec_of[0] = s->spec_of[1] = -1;
    s->dmax[0] = s->dmax[1] = LONG_MAX;
    for (int st = 0; st < s->S; st++) {
        zeus_pf_instruction *kinds = s->inst_of + node_of(s, st, 0);
        int *mbs = s->mb_of + node_of(s, st, 0);
        zeus_pf_1f1b(s->S, s->M, st, kinds, mbs);
        for (int k = 0; k < 2 * s->M; k++) {
            int v = node_of(s, st, k);
            int spec = st * 2 + (int)s->inst_of[v];
            s->spec_of[v] = spec;
            s->dmax[v] = s->specs[spec].options[0].quant_time;
            s->dmin[v] = s->specs[spec].options[s->specs[spec].n_options - 1].quant_time;
            s->dur[v] = s->dmax[v];
            if (k > 0)
                add_dep(s, v - 1, v);
        }
    }
}

/* Forward(s, m) -> Forward(s+1, m); Backward(s+1, m) -> Backward(s, m). False when out of
 * memory. */
static bool add_cross_stage(zeus_pf_solver *s)
{
    int num_stages = s->S, num_microbatches = s->M;
    int *pos = calloc((size_t)num_stages * 2 * num_microbatches, sizeof(int));
    if (!pos)
        return false;
    for (int st = 0; st < num_stages; st++)
        for (int k = 0; k < 2 * num_microbatches; k++) {
            int v = node_of(s, st, k);
            pos[(st * 2 + (int)s->inst_of[v]) * num_microbatches + s->mb_of[v]] = v;
        }
    for (int st = 0; st + 1 < num_stages; st++)
        for (int m = 0; m < num_microbatches; m++) {
            add_dep(s, pos[(st * 2) * num_microbatches + m],
                    pos[((st + 1) * 2) * num_microbatches + m]);
            add_dep(s, pos[((st + 1) * 2 + 1) * num_microbatches + m],
                    pos[(st * 2 + 1) * num_microbatches + m]);
        }
    free(pos);
    return true;
}

/* The dummy source and sink join every node without predecessors / successors; then the
 * out/in adjacency lists. */
static void join_ends_and_index(zeus_pf_solver *s)
{
    int n = s->n;
    int *indeg = s->scratch_a, *outdeg = s->scratch_b; /* scratch, n <= nn */
    memset(indeg, 0, sizeof(int) * n);
    memset(outdeg, 0, sizeof(int) * n);
    for (int e = 0; e < s->n_edges; e++) {
        outdeg[s->eu[e]]++;
        indeg[s->ev[e]]++;
    }
    for (int v = 2; v < n; v++) {
        if (indeg[v] == 0)
            add_dep(s, 0, v);
        if (outdeg[v] == 0)
            add_dep(s, v, 1);
    }
    for (int e = 0; e < s->n_edges; e++) {
        s->out_start[s->eu[e] + 1]++;
        s->in_start[s->ev[e] + 1]++;
    }
    for (int v = 0; v < n; v++) {
        s->out_start[v + 1] += s->out_start[v];
        s->in_start[v + 1] += s->in_start[v];
    }
    memcpy(indeg, s->out_start, sizeof(int) * n);
    memcpy(outdeg, s->in_start, sizeof(int) * n);
    for (int e = 0; e < s->n_edges; e++) {
        s->out_list[indeg[s->eu[e]]++] = e;
        s->in_list[outdeg[s->ev[e]]++] = e;
    }
}

/* Kahn's topological order into s->topo; false when the graph has a cycle. */
static bool topo_order(zeus_pf_solver *s)
{
    int n = s->n;
    int *indeg = s->scratch_a; /* scratch */
    for (int v = 0; v < n; v++)
        indeg[v] = s->in_start[v + 1] - s->in_start[v];
    int qh = 0, qt = 0;
    for (int v = 0; v < n; v++)
        if (indeg[v] == 0)
            s->topo[qt++] = v;
    while (qh < qt) {
        int u = s->topo[qh++];
        for (int j = s->out_start[u]; j < s->out_start[u + 1]; j++) {
            int v = s->ev[s->out_list[j]];
            if (--indeg[v] == 0)
                s->topo[qt++] = v;
        }
    }
    return qt == n;
}

/* lowtime's node numbers (aon_dag_to_aoa_dag): a breadth-first walk of the pipeline from the
 * source (networkx's bfs_edges: successors in the order their edges were added, which is ours:
 * program order, then the other stage, then the sink) splits the i-th node into 2i and 2i + 1. */
static void number_like_lowtime(zeus_pf_solver *s)
{
    int *order = s->scratch_a, *seen = s->scratch_b; /* scratch */
    memset(seen, 0, sizeof(int) * (size_t)s->n);
    int qh = 0, qt = 0;
    order[qt++] = 0;
    seen[0] = 1;
    while (qh < qt) {
        int u = order[qh++];
        for (int j = s->out_start[u]; j < s->out_start[u + 1]; j++) {
            int v = s->ev[s->out_list[j]];
            if (!seen[v]) {
                seen[v] = 1;
                order[qt++] = v;
            }
        }
    }
    for (int i = 0; i < qt; i++) {
        s->aoa[2 * order[i]] = 2 * i;
        s->aoa[2 * order[i] + 1] = 2 * i + 1;
    }
}

int zeus_pf_solver_create(int num_stages, int num_microbatches, const zeus_pf_spec *specs,
                          double unit_time_s, zeus_pf_solver **out)
{
    if (!out || !specs || num_stages < 1 || num_microbatches < 1 || num_stages > 4096 ||
        num_microbatches > 1 << 16 || !(unit_time_s > 0))
        return zeus__error(ZEUS_EINVAL, "zeus_pf_solver_create: need stages >= 1, microbatches "
                                        ">= 1, specs and a positive unit time");
    int rc = check_specs(num_stages, specs);
    if (rc != ZEUS_OK)
        return rc;
    *out = NULL;
    zeus_pf_solver *s = calloc(1, sizeof *s);
    if (!s)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    s->S = num_stages;
    s->M = num_microbatches;
    s->unit_time = unit_time_s;
    s->n = 2 + 2 * num_stages * num_microbatches;
    if (!alloc_arrays(s) || !copy_specs(s, specs))
        goto nomem;
    add_program_order(s);
    if (!add_cross_stage(s))
        goto nomem;
    join_ends_and_index(s);
    if (!topo_order(s)) {
        free_solver(s);
        return zeus__error(ZEUS_EINVAL, "the pipeline graph has a cycle");
    }
    number_like_lowtime(s);
    int n = s->n;
    for (int v = 2; v < n; v++)
        s->dur[v] = s->dmin[v];
    cpm(s);
    s->min_time = s->makespan;
    for (int v = 2; v < n; v++)
        s->dur[v] = s->dmax[v];
    cpm(s);
    s->max_time = s->makespan;
    *out = s;
    return 0;
nomem:
    free_solver(s);
    return zeus__error(ZEUS_ENOMEM, "out of memory for the pipeline solver");
}

/* lowtime's rounding `x // 1e-6 * 1e-6`. */
static double round_down(double x)
{
    return zeus__pf_floordiv(x, PF_EPS) * PF_EPS;
}

static bool critical_node(const zeus_pf_solver *s, int v)
{
    return s->ef[v] == s->lf[v];
}

/* lb and ub of an activity at its duration (lowtime's annotate_capacities). */
static void bounds(const zeus_pf_solver *s, int v, double *lb, double *ub)
{
    int spec = s->spec_of[v];
    long d = s->dur[v];
    double l, u;
    if (spec < 0 || (d == s->dmin[v] && d == s->dmax[v])) {
        l = 0.0;
        u = PF_INF_COST;
    } else if (d - 1 < s->dmin[v]) {
        l = fabs(cost_of(s, spec, d) - cost_of(s, spec, d + 1));
        u = PF_INF_COST;
    } else if (d + 1 > s->dmax[v]) {
        l = 0.0;
        u = fabs(cost_of(s, spec, d - 1) - cost_of(s, spec, d));
    } else {
        l = fabs(cost_of(s, spec, d) - cost_of(s, spec, d + 1));
        u = fabs(cost_of(s, spec, d - 1) - cost_of(s, spec, d)) + PF_EPS;
    }
    *lb = round_down(l);
    *ub = round_down(u);
}

/* The critical activity-on-arc network with lowtime's node numbers and bounds. */
static void critical_edges(zeus_pf_solver *s)
{
    s->n_ce = 0;
    for (int v = 0; v < s->n; v++)
        if (critical_node(s, v)) {
            crit_edge *c = &s->ce[s->n_ce++];
            *c = (crit_edge){v, s->aoa[2 * v], s->aoa[2 * v + 1], 0, 0, 0};
            bounds(s, v, &c->lb, &c->ub);
        }
    for (int e = 0; e < s->n_edges; e++) {
        int u = s->eu[e], v = s->ev[e];
        if (s->ef[u] == s->ls[v] && critical_node(s, u) && critical_node(s, v))
            s->ce[s->n_ce++] = (crit_edge){-1 - e,          s->aoa[2 * u + 1],       s->aoa[2 * v],
                                           round_down(0.0), round_down(PF_INF_COST), 0};
    }
}

/* The flow pathfinding reports on an arc a -> b: its flow when positive, else none (0). */
static double reported(double flow)
{
    return flow > 0 ? flow : 0.0;
}

/* A feasible flow within the bounds, as lowtime finds it: the maximum flow from s' to t' in the
 * network of capacities ub - lb, s' -> x (the lower bounds into x), x -> t' (out of x) and
 * sink -> source (infinite). False when it does not saturate s' and t' within 1e-6. */
static bool feasible_flow(zeus_pf_solver *s)
{
    int N2 = 2 * s->n, sp = N2, tp = N2 + 1, n_arcs = 0;
    for (int x = 0; x < N2; x++)
        s->inlb[x] = s->outlb[x] = 0.0;
    for (int i = 0; i < s->n_ce; i++) {
        const crit_edge *c = &s->ce[i];
        s->arcs[n_arcs++] = (zeus__pf_arc){c->a, c->b, {c->ub - c->lb, 0.0}, 0.0};
        s->inlb[c->b] = s->inlb[c->b] + c->lb;
        s->outlb[c->a] = s->outlb[c->a] + c->lb;
    }
    int first_aux = n_arcs;
    for (int x = 0; x < N2; x++) {
        if (s->inlb[x] != 0.0)
            s->arcs[n_arcs++] = (zeus__pf_arc){sp, x, {s->inlb[x], 0.0}, 0.0};
        if (s->outlb[x] != 0.0)
            s->arcs[n_arcs++] = (zeus__pf_arc){x, tp, {s->outlb[x], 0.0}, 0.0};
    }
    s->arcs[n_arcs++] = (zeus__pf_arc){s->aoa[3], s->aoa[0], {INFINITY, 0.0}, 0.0};
    zeus__pf_edmonds_karp(&s->ek, N2 + 2, s->arcs, n_arcs, sp, tp);
    for (int i = first_aux; i < n_arcs - 1; i++) {
        const zeus__pf_arc *arc = &s->arcs[i];
        double cap = arc->a == sp ? s->inlb[arc->b] : s->outlb[arc->a];
        if (fabs(reported(arc->flow) - cap) > PF_EPS)
            return false;
    }
    for (int i = 0; i < s->n_ce; i++)
        s->ce[i].flow = reported(s->arcs[i].flow) + s->ce[i].lb;
    return true;
}

/* Residuals below 1e-6 in magnitude count as 0 (lowtime's find_min_cut). */
static double snap(double x)
{
    return fabs(x) < PF_EPS ? 0.0 : x;
}

/* lowtime's min cut of the critical network with flow bounds; in_s marks the source side by
 * lowtime's node number. Returns false when no feasible flow exists. */
static bool min_cut(zeus_pf_solver *s)
{
    int N2 = 2 * s->n, src = s->aoa[0], dst = s->aoa[3];
    critical_edges(s);
    if (!feasible_flow(s))
        return false;
    /* The residual of the feasible flow, then the most flow from source to sink within it. */
    for (int i = 0; i < s->n_ce; i++) {
        const crit_edge *c = &s->ce[i];
        s->arcs[i] =
            (zeus__pf_arc){c->a, c->b, {snap(c->ub - c->flow), snap(c->flow - c->lb)}, 0.0};
    }
    zeus__pf_edmonds_karp(&s->ek, N2, s->arcs, s->n_ce, src, dst);
    for (int i = 0; i < s->n_ce; i++) {
        s->ce[i].flow += reported(s->arcs[i].flow);
        s->ce[i].flow -= reported(-s->arcs[i].flow);
    }
    /* The source side: what the source reaches over residuals above 1e-6 in magnitude. The index
     * of arc ends by node from the last flow serves (the same pairs). lowtime stops its search
     * when it takes the sink off its stack, in an order its HashMap decides; a maximum flow
     * leaves the sink unreachable, so the whole reachable set is the same. */
    memset(s->in_s, 0, (size_t)N2 + 2);
    int top = 0;
    s->stack[top++] = src;
    s->in_s[src] = 1;
    while (top > 0) {
        int u = s->stack[--top];
        for (int j = s->ek.start[u]; j < s->ek.start[u + 1]; j++) {
            int end = s->ek.adj[j].end, v = s->ek.adj[j].to;
            const crit_edge *c = &s->ce[end >> 1];
            double room = end & 1 ? c->flow - c->lb : c->ub - c->flow;
            if (!s->in_s[v] && fabs(room) > PF_EPS) {
                s->in_s[v] = 1;
                s->stack[top++] = v;
            }
        }
    }
    return true;
}

static double total_cost(const zeus_pf_solver *s)
{
    double cost = 0;
    for (int v = 2; v < s->n; v++)
        cost += cost_of(s, s->spec_of[v], s->dur[v]);
    return cost;
}

int zeus_pf_solver_step(zeus_pf_solver *s, zeus_pf_result *out)
{
    if (!s || !out)
        return zeus__error(ZEUS_EINVAL, "zeus_pf_solver_step: NULL argument");
    if (s->done)
        return 0;
    if (!min_cut(s)) {
        /* lowtime 0.3.0 panics here; earlier versions end the frontier, as we do. */
        ZEUS_INFO("pipeline frequency solver: no feasible flow; the frontier ends");
        s->done = true;
        return 0;
    }
    /* Activities crossing the cut: S->T are sped up, T->S slowed down (dependencies are
     * dummies). lowtime gives up (cost change infinite) if a dummy must speed up or an
     * operation is at its limit; with nothing to speed up the change is 0; both end it. */
    double up = 0, down = 0;
    bool any_speedup = false, abort = false;
    for (int i = 0; i < s->n_ce && !abort; i++) {
        int tag = s->ce[i].tag, u = s->ce[i].a, v = s->ce[i].b;
        if (s->in_s[u] && !s->in_s[v]) {
            any_speedup = true;
            if (tag < 0 || s->spec_of[tag] < 0 || s->dur[tag] - 1 < s->dmin[tag])
                abort = true;
        } else if (!s->in_s[u] && s->in_s[v]) {
            if (tag >= 0 && s->spec_of[tag] >= 0 && s->dur[tag] + 1 > s->dmax[tag])
                abort = true;
        }
    }
    if (abort || !any_speedup) {
        s->done = true;
        return 0;
    }
    for (int i = 0; i < s->n_ce; i++) {
        int tag = s->ce[i].tag, u = s->ce[i].a, v = s->ce[i].b;
        if (tag < 0 || s->spec_of[tag] < 0)
            continue;
        int spec = s->spec_of[tag];
        long d = s->dur[tag];
        if (s->in_s[u] && !s->in_s[v]) {
            up += fabs(cost_of(s, spec, d - 1) - cost_of(s, spec, d));
            s->dur[tag] = d - 1;
        }
    }
    for (int i = 0; i < s->n_ce; i++) {
        int tag = s->ce[i].tag, u = s->ce[i].a, v = s->ce[i].b;
        if (tag < 0 || s->spec_of[tag] < 0)
            continue;
        int spec = s->spec_of[tag];
        long d = s->dur[tag];
        if (!s->in_s[u] && s->in_s[v]) {
            down += fabs(cost_of(s, spec, d) - cost_of(s, spec, d + 1));
            s->dur[tag] = d + 1;
        }
    }
    double cost_change = up - down;
    if (fabs(cost_change) < PF_EPS) {
        s->done = true;
        return 0;
    }
    cpm(s);
    s->iteration++;
    out->iteration = s->iteration;
    out->cost_change = cost_change;
    out->cost = total_cost(s);
    out->quant_time = s->makespan;
    out->real_time_s = (double)s->makespan * s->unit_time;
    return 1;
}

int zeus_pf_solver_plan(const zeus_pf_solver *s, int stage, zeus_pf_step *out)
{
    if (!s || !out || stage < 0 || stage >= s->S)
        return zeus__error(ZEUS_EINVAL, "zeus_pf_solver_plan: stage %d out of range", stage);
    for (int k = 0; k < 2 * s->M; k++) {
        int v = node_of(s, stage, k);
        out[k].instruction = s->inst_of[v];
        out[k].microbatch = s->mb_of[v];
        out[k].duration = s->dur[v];
        out[k].knob_mhz = knob_for(&s->specs[s->spec_of[v]], s->dur[v]);
    }
    return 0;
}

/* Appends printf-formatted text to a growing buffer. */
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) ZEUS_PRINTF(4, 5);
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return zeus__error(ZEUS_EINVAL, "formatting the plan failed");
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return 0;
        }
        size_t ncap = *cap * 2 + (size_t)n;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            return zeus__error(ZEUS_ENOMEM, "out of memory formatting the plan");
        *buf = nb;
        *cap = ncap;
    }
}

int zeus_pf_solver_format_plan(const zeus_pf_solver *s, long index, const zeus_pf_result *result,
                               double p2p_power_w, char **text)
{
    if (!s || !result || !text)
        return zeus__error(ZEUS_EINVAL, "zeus_pf_solver_format_plan: NULL argument");
    *text = NULL;
    size_t len = 0, cap = 256 + (size_t)s->S * (size_t)s->M * 40;
    char *buf = malloc(cap);
    if (!buf)
        return zeus__error(ZEUS_ENOMEM, "out of memory formatting the plan");
    buf[0] = '\0';
    int rc = append(&buf, &len, &cap, "[\n");
    for (int st = 0; st < s->S && rc == 0; st++) {
        rc = append(&buf, &len, &cap, "[");
        for (int k = 0; k < 2 * s->M && rc == 0; k++) {
            int v = node_of(s, st, k);
            rc = append(&buf, &len, &cap, "%s('%s', %ld)", k ? ", " : "",
                        zeus_pf_instruction_name(s->inst_of[v]),
                        knob_for(&s->specs[s->spec_of[v]], s->dur[v]));
        }
        if (rc == 0)
            rc = append(&buf, &len, &cap, "],\n");
    }
    char a[40], b[40], c[40];
    /* run_optimization.py: result.cost + num_stages * result.real_time * p2p_power */
    double with_p2p = result->cost + (double)s->S * result->real_time_s * p2p_power_w;
    if (rc == 0)
        rc = append(&buf, &len, &cap,
                    "]\n# Iteration %ld cost change: %s\n# Iteration %ld total cost: %s\n"
                    "# Iteration %ld total cost with P2P: %s\n",
                    index, zeus_format_double(result->cost_change, a, sizeof a), index,
                    zeus_format_double(result->cost, b, sizeof b), index,
                    zeus_format_double(with_p2p, c, sizeof c));
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    return 0;
}
