/* zeus._recurring: libzeus's recurring-job code for Python (zeus.policy, zeus.simulate, ...):
 * the Gaussian Thompson-sampling bandit, the pruning explorer, the pruning + GTS batch-size
 * optimizer, the JIT power-limit policy and the trace-driven simulator (zeus/batch_size.h,
 * zeus/simulate.h). Pure logic, no devices: a module of its own beside zeus._zeus.
 *
 * Each object is a capsule that owns its libzeus handle; the Python classes in zeus.policy and
 * zeus.simulate hold them. A libzeus error becomes the exception of the package's one table
 * (zeus/device/exception.py, BY_ZEUS_ERROR: ZEUS_EINVAL a ValueError, ZEUS_ENOMEM a MemoryError,
 * ...) through zeus._zeus's zpy_raise_detail, with zeus_last_error()'s detail (this module's: it
 * links its own libzeus); except ZEUS_ENOENT: the original looks jobs and batch sizes up in
 * dicts, so an unknown one is its KeyError. */
#include "zeuspy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* zeus._zeus's zpy_raise_detail, from the capsule it exports (set by PyInit__recurring). */
static const zpy_raise_api *g_raise;

static PyObject *fail(int rc)
{
    return g_raise->raise(rc, rc == ZEUS_ENOENT ? PyExc_KeyError : NULL, zeus_last_error());
}

/* ---- sequences -------------------------------------------------------------------------- */
static int int_list(PyObject *seq, int **out, size_t *n)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of integers");
    if (!fast)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    int *v = malloc(sizeof *v * (size_t)(len ? len : 1));
    if (!v) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        long x = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (x == -1 && PyErr_Occurred()) {
            free(v);
            Py_DECREF(fast);
            return -1;
        }
        v[i] = (int)x;
    }
    Py_DECREF(fast);
    *out = v;
    *n = (size_t)len;
    return 0;
}

static int double_list(PyObject *seq, double **out, size_t *n)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of numbers");
    if (!fast)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    double *v = malloc(sizeof *v * (size_t)(len ? len : 1));
    if (!v) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        v[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (v[i] == -1.0 && PyErr_Occurred()) {
            free(v);
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    *out = v;
    *n = (size_t)len;
    return 0;
}

static PyObject *int_array(const int *v, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++)
        PyList_SET_ITEM(list, (Py_ssize_t)i, PyLong_FromLong(v[i]));
    return list;
}

/* ---- capsules ----------------------------------------------------------------------------- */
#define CAPSULE(name, type, destroy)                                                               \
    static void name##_free(PyObject *cap)                                                         \
    {                                                                                              \
        destroy((type *)PyCapsule_GetPointer(cap, #name));                                         \
    }                                                                                              \
    static type *name##_of(PyObject *cap)                                                          \
    {                                                                                              \
        return (type *)PyCapsule_GetPointer(cap, #name);                                           \
    }                                                                                              \
    static PyObject *name##_wrap(type *p)                                                          \
    {                                                                                              \
        PyObject *cap = PyCapsule_New(p, #name, name##_free);                                      \
        if (!cap)                                                                                  \
            destroy(p);                                                                            \
        return cap;                                                                                \
    }

CAPSULE(gts, zeus_gts, zeus_gts_destroy)
CAPSULE(pruning, zeus_pruning, zeus_pruning_destroy)
CAPSULE(bso, zeus_bso, zeus_bso_destroy)
CAPSULE(jit, zeus_jit_plo, zeus_jit_plo_destroy)
CAPSULE(trace, zeus_trace, zeus_trace_destroy)

/* ---- GaussianTS ------------------------------------------------------------------------------ */
static PyObject *py_gts_new(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *arms_seq;
    zeus_gts_config cfg;
    zeus_gts_config_default(&cfg);
    unsigned long long seed = cfg.seed;
    if (!PyArg_ParseTuple(args, "OdddiK", &arms_seq, &cfg.reward_precision, &cfg.prior_mean,
                          &cfg.prior_precision, &cfg.num_exploration, &seed))
        return NULL;
    cfg.seed = seed;
    int *arms;
    size_t n;
    if (int_list(arms_seq, &arms, &n) < 0)
        return NULL;
    zeus_gts *g = NULL;
    int rc = zeus_gts_create(&cfg, arms, n, &g);
    free(arms);
    return rc ? fail(rc) : gts_wrap(g);
}

static PyObject *py_gts_fit(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *dec_seq, *rew_seq;
    int reset;
    if (!PyArg_ParseTuple(args, "OOOp", &cap, &dec_seq, &rew_seq, &reset))
        return NULL;
    zeus_gts *g = gts_of(cap);
    int *dec = NULL;
    double *rew = NULL;
    size_t nd, nr;
    if (!g || int_list(dec_seq, &dec, &nd) < 0)
        return NULL;
    if (double_list(rew_seq, &rew, &nr) < 0) {
        free(dec);
        return NULL;
    }
    int rc = nd != nr ? ZEUS_EINVAL : zeus_gts_fit(g, dec, rew, nd, reset);
    free(dec);
    free(rew);
    if (nd != nr) {
        PyErr_SetString(PyExc_ValueError, "decisions and rewards must have the same length");
        return NULL;
    }
    return rc ? fail(rc) : Py_NewRef(Py_None);
}

static PyObject *py_gts_fit_arm(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *rew_seq;
    int arm, reset;
    if (!PyArg_ParseTuple(args, "OiOp", &cap, &arm, &rew_seq, &reset))
        return NULL;
    zeus_gts *g = gts_of(cap);
    double *rew;
    size_t n;
    if (!g || double_list(rew_seq, &rew, &n) < 0)
        return NULL;
    int rc = zeus_gts_fit_arm(g, arm, rew, n, reset);
    free(rew);
    return rc ? fail(rc) : Py_NewRef(Py_None);
}

static PyObject *py_gts_predict(PyObject *self, PyObject *cap)
{
    (void)self;
    zeus_gts *g = gts_of(cap);
    int arm = 0, rc;
    if (!g)
        return NULL;
    rc = zeus_gts_predict(g, &arm);
    return rc ? fail(rc) : PyLong_FromLong(arm);
}

static PyObject *py_gts_arms(PyObject *self, PyObject *cap)
{
    (void)self;
    zeus_gts *g = gts_of(cap);
    if (!g)
        return NULL;
    size_t n = zeus_gts_arm_count(g);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        zeus_gts_arm a;
        zeus_gts_get_arm(g, i, &a);
        PyList_SET_ITEM(
            list, (Py_ssize_t)i,
            Py_BuildValue("(iddn)", a.arm, a.mean, a.precision, (Py_ssize_t)a.observations));
    }
    return list;
}

static PyObject *py_gts_set_reward_precision(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    int arm;
    double precision;
    if (!PyArg_ParseTuple(args, "Oid", &cap, &arm, &precision))
        return NULL;
    zeus_gts *g = gts_of(cap);
    if (!g)
        return NULL;
    int rc = zeus_gts_set_reward_precision(g, arm, precision);
    return rc ? fail(rc) : Py_NewRef(Py_None);
}

/* ---- PruningExploreManager ---------------------------------------------------------------- */
static PyObject *py_pruning_new(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bs_seq;
    int def, rounds;
    if (!PyArg_ParseTuple(args, "Oii", &bs_seq, &def, &rounds))
        return NULL;
    int *bs;
    size_t n;
    if (int_list(bs_seq, &bs, &n) < 0)
        return NULL;
    zeus_pruning *p = NULL;
    int rc = zeus_pruning_create(bs, n, def, rounds, &p);
    free(bs);
    return rc ? fail(rc) : pruning_wrap(p);
}

/* The next batch size, or None when exploration is over. */
static PyObject *py_pruning_next(PyObject *self, PyObject *cap)
{
    (void)self;
    zeus_pruning *p = pruning_of(cap);
    int bs = 0;
    bool done = false;
    if (!p)
        return NULL;
    int rc = zeus_pruning_next(p, &bs, &done);
    if (rc)
        return fail(rc);
    return done ? Py_NewRef(Py_None) : PyLong_FromLong(bs);
}

static PyObject *py_pruning_report(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    int bs, reached;
    double cost;
    if (!PyArg_ParseTuple(args, "Oidp", &cap, &bs, &cost, &reached))
        return NULL;
    zeus_pruning *p = pruning_of(cap);
    if (!p)
        return NULL;
    int rc = zeus_pruning_report(p, bs, cost, reached);
    return rc ? fail(rc) : Py_NewRef(Py_None);
}

static PyObject *py_pruning_batch_sizes(PyObject *self, PyObject *cap)
{
    (void)self;
    zeus_pruning *p = pruning_of(cap);
    const int *v;
    size_t n;
    if (!p)
        return NULL;
    zeus_pruning_batch_sizes(p, &v, &n);
    return int_array(v, n);
}

/* ---- jobs ----------------------------------------------------------------------------------- */
/* (dataset, network, optimizer, target_metric, max_epochs, default_bs or 0, default_lr or nan) */
static int job_arg(PyObject *t, zeus_job *job)
{
    const char *ds, *net, *opt;
    double target, lr;
    int epochs, bs;
    if (!PyArg_ParseTuple(t, "sssdiid", &ds, &net, &opt, &target, &epochs, &bs, &lr))
        return -1;
    int rc = zeus_job_init(job, ds, net, opt, target, epochs, bs, lr);
    if (rc) {
        fail(rc);
        return -1;
    }
    return 0;
}

/* ---- PruningGTSBatchSizeOptimizer (one job) ----------------------------------------------- */
static int bso_config_arg(PyObject *t, zeus_bso_config *cfg)
{
    zeus_bso_config_default(cfg);
    Py_ssize_t window;
    int concurrency;
    unsigned long long seed;
    const char *policy = NULL; /* ours, optional: the original's pruning-gts when absent */
    if (!PyArg_ParseTuple(t, "ddnpK|s", &cfg->prior_mean, &cfg->prior_precision, &window,
                          &concurrency, &seed, &policy))
        return -1;
    if (policy && zeus_bso_policy_parse(policy, &cfg->policy) != ZEUS_OK) {
        PyErr_SetString(PyExc_ValueError, zeus_last_error());
        return -1;
    }
    if (window < 0) {
        PyErr_SetString(PyExc_ValueError, "window_size must be >= 0");
        return -1;
    }
    cfg->window_size = (size_t)window;
    cfg->concurrency = concurrency;
    cfg->seed = seed;
    return 0;
}

/* The batch-size policies' names (zeus_bso_policy_names), the default first. */
static PyObject *py_bso_policies(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *list = PyList_New(0);
    for (const char *const *n = zeus_bso_policy_names(); list && *n; n++) {
        PyObject *s = PyUnicode_FromString(*n);
        if (!s || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(s);
    }
    return list;
}

static PyObject *py_bso_new(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cfg_t, *job_t, *bs_seq;
    if (!PyArg_ParseTuple(args, "OOO", &cfg_t, &job_t, &bs_seq))
        return NULL;
    zeus_bso_config cfg;
    zeus_job job;
    int *bs;
    size_t n;
    if (bso_config_arg(cfg_t, &cfg) < 0 || job_arg(job_t, &job) < 0 ||
        int_list(bs_seq, &bs, &n) < 0)
        return NULL;
    zeus_bso *b = NULL;
    int rc = zeus_bso_create(&cfg, &job, bs, n, &b);
    free(bs);
    return rc ? fail(rc) : bso_wrap(b);
}

static PyObject *py_bso_predict(PyObject *self, PyObject *cap)
{
    (void)self;
    zeus_bso *b = bso_of(cap);
    int bs = 0;
    if (!b)
        return NULL;
    int rc = zeus_bso_predict(b, &bs);
    return rc ? fail(rc) : PyLong_FromLong(bs);
}

static PyObject *py_bso_observe(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *conv;
    int bs;
    double cost;
    if (!PyArg_ParseTuple(args, "OidO", &cap, &bs, &cost, &conv))
        return NULL;
    zeus_bso *b = bso_of(cap);
    if (!b)
        return NULL;
    int converged = conv == Py_None ? ZEUS_CONVERGED_UNKNOWN : PyObject_IsTrue(conv);
    if (converged < ZEUS_CONVERGED_UNKNOWN)
        return NULL;
    int rc = zeus_bso_observe(b, bs, cost, converged);
    return rc ? fail(rc) : Py_NewRef(Py_None);
}

static PyObject *py_bso_in_pruning(PyObject *self, PyObject *cap)
{
    (void)self;
    zeus_bso *b = bso_of(cap);
    return b ? PyBool_FromLong(zeus_bso_in_pruning(b)) : NULL;
}

/* ---- JITPowerLimitOptimizer --------------------------------------------------------------- */
static PyObject *py_jit_new(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_jit_plo *p = NULL;
    int rc = zeus_jit_plo_create(&p);
    return rc ? fail(rc) : jit_wrap(p);
}

/* The best limit (W) for the batch size, or None when it still needs profiling. */
static PyObject *py_jit_predict(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    int bs, pl = 0;
    if (!PyArg_ParseTuple(args, "Oi", &cap, &bs))
        return NULL;
    zeus_jit_plo *p = jit_of(cap);
    if (!p)
        return NULL;
    int rc = zeus_jit_plo_predict(p, bs, &pl);
    if (rc)
        return fail(rc);
    return pl ? PyLong_FromLong(pl) : Py_NewRef(Py_None);
}

static PyObject *py_jit_observe(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    int bs, pl;
    double cost;
    if (!PyArg_ParseTuple(args, "Oiid", &cap, &bs, &pl, &cost))
        return NULL;
    zeus_jit_plo *p = jit_of(cap);
    if (!p)
        return NULL;
    int rc = zeus_jit_plo_observe(p, bs, pl, cost);
    return rc ? fail(rc) : Py_NewRef(Py_None);
}

/* ---- the recurring-job driver (ZeusMaster) ------------------------------------------------- */
typedef struct {
    zeus_recurring *r;
    zeus_recurring_attempt a; /* the try handed out last */
} driver;

static void driver_destroy(driver *d)
{
    if (d) {
        zeus_recurring_destroy(d->r);
        free(d);
    }
}

CAPSULE(driver, driver, driver_destroy)

/* recurring_new((eta, beta, max_power_w, bso_config), job, batch_sizes) */
static PyObject *py_recurring_new(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bso_t, *job_t, *bs_seq;
    zeus_recurring_config cfg;
    zeus_recurring_config_default(&cfg);
    if (!PyArg_ParseTuple(args, "(ddiO)OO", &cfg.eta_knob, &cfg.beta_knob, &cfg.max_power_w, &bso_t,
                          &job_t, &bs_seq))
        return NULL;
    zeus_job job;
    int *bs;
    size_t n;
    if (bso_config_arg(bso_t, &cfg.bso) < 0 || job_arg(job_t, &job) < 0 ||
        int_list(bs_seq, &bs, &n) < 0)
        return NULL;
    driver *d = calloc(1, sizeof *d);
    int rc = d ? zeus_recurring_create(&cfg, &job, bs, n, &d->r) : ZEUS_ENOMEM;
    free(bs);
    if (rc) {
        free(d);
        return fail(rc);
    }
    return driver_wrap(d);
}

/* The next try: (recurrence, try_index, batch_size, power_limit, profile, cost_ub). */
static PyObject *py_recurring_next(PyObject *self, PyObject *cap)
{
    (void)self;
    driver *d = driver_of(cap);
    if (!d)
        return NULL;
    int rc = zeus_recurring_next(d->r, &d->a);
    if (rc)
        return fail(rc);
    return Py_BuildValue("(niiiOd)", (Py_ssize_t)d->a.recurrence, d->a.try_index, d->a.batch_size,
                         d->a.power_limit, d->a.profile ? Py_True : Py_False, d->a.cost_ub);
}

/* recurring_profile(driver, [(power_limit_w, epoch_cost), ...]) -> the chosen limit (W) */
static PyObject *py_recurring_profile(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *seq;
    if (!PyArg_ParseTuple(args, "OO", &cap, &seq))
        return NULL;
    driver *d = driver_of(cap);
    PyObject *fast = d ? PySequence_Fast(seq, "a sequence of (power_limit, cost)") : NULL;
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    zeus_pl_cost *costs = calloc((size_t)(n ? n : 1), sizeof *costs);
    for (Py_ssize_t i = 0; costs && i < n; i++)
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "id", &costs[i].power_limit,
                              &costs[i].cost)) {
            free(costs);
            Py_DECREF(fast);
            return NULL;
        }
    Py_DECREF(fast);
    if (!costs)
        return PyErr_NoMemory();
    int rc = zeus_recurring_profile(d->r, &d->a, costs, (size_t)n);
    free(costs);
    return rc ? fail(rc) : PyLong_FromLong(d->a.power_limit);
}

/* recurring_report(driver, energy_j, time_s, reached) -> (cost, ran, done, give_up_message) */
static PyObject *py_recurring_report(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    zeus_recurring_result res;
    int reached;
    if (!PyArg_ParseTuple(args, "Oddp", &cap, &res.energy_j, &res.time_s, &reached))
        return NULL;
    driver *d = driver_of(cap);
    if (!d)
        return NULL;
    res.reached = reached;
    zeus_recurring_verdict v;
    int rc = zeus_recurring_report(d->r, &res, &v);
    if (rc && rc != ZEUS_ESTATE)
        return fail(rc);
    return Py_BuildValue("(dOOs)", v.cost, v.ran ? Py_True : Py_False, v.done ? Py_True : Py_False,
                         rc ? zeus_last_error() : "");
}

/* ---- Simulator ---------------------------------------------------------------------------- */
static PyObject *py_trace_load(PyObject *self, PyObject *args)
{
    (void)self;
    const char *train, *power;
    if (!PyArg_ParseTuple(args, "ss", &train, &power))
        return NULL;
    zeus_trace *t = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_trace_load(train, power, &t);
    Py_END_ALLOW_THREADS
    return rc ? fail(rc) : trace_wrap(t);
}

static PyObject *py_trace_batch_sizes(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *job_t;
    if (!PyArg_ParseTuple(args, "OO", &cap, &job_t))
        return NULL;
    zeus_trace *t = trace_of(cap);
    zeus_job job;
    const int *v;
    size_t n;
    if (!t || job_arg(job_t, &job) < 0)
        return NULL;
    int rc = zeus_trace_batch_sizes(t, &job, &v, &n);
    return rc ? fail(rc) : int_array(v, n);
}

/* [(bs, pl, energy, reached, time), ...], one per run, as the original's HistoryEntry. */
static PyObject *history_list(const zeus_sim_history *h)
{
    PyObject *list = PyList_New((Py_ssize_t)h->n);
    for (size_t i = 0; list && i < h->n; i++) {
        const zeus_sim_run *r = &h->runs[i];
        PyList_SET_ITEM(list, (Py_ssize_t)i,
                        Py_BuildValue("(iidOd)", r->batch_size, r->power_limit, r->energy_j,
                                      r->reached ? Py_True : Py_False, r->time_s));
    }
    return list;
}

static int sim_params_arg(PyObject *args, PyObject **trace, PyObject **job_t, PyObject **extra,
                          zeus_sim_params *p, const char *fmt)
{
    zeus_sim_params_default(p);
    PyObject *cfg_t;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, fmt, trace, job_t, extra, &p->beta_knob, &p->eta_knob, &seed,
                          &cfg_t))
        return -1;
    p->seed = seed;
    return bso_config_arg(cfg_t, &p->bso);
}

static PyObject *simulate(PyObject *args, bool group)
{
    PyObject *cap, *job_t, *extra;
    zeus_sim_params params;
    if (sim_params_arg(args, &cap, &job_t, &extra, &params, "OOOddKO") < 0)
        return NULL;
    zeus_trace *t = trace_of(cap);
    zeus_job job;
    if (!t || job_arg(job_t, &job) < 0)
        return NULL;
    zeus_sim_history h = {0};
    zeus_group_job *rows = NULL;
    Py_ssize_t n = 0;
    int rc;
    if (group) {
        PyObject *fast = PySequence_Fast(extra, "rows: a sequence of (start, end, runtime ratio)");
        if (!fast)
            return NULL;
        n = PySequence_Fast_GET_SIZE(fast);
        rows = calloc((size_t)(n ? n : 1), sizeof *rows);
        for (Py_ssize_t i = 0; rows && i < n; i++)
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(fast, i), "ddd", &rows[i].start_time,
                                  &rows[i].end_time, &rows[i].runtime_ratio)) {
                free(rows);
                Py_DECREF(fast);
                return NULL;
            }
        Py_DECREF(fast);
        if (!rows)
            return PyErr_NoMemory();
    } else {
        n = PyLong_AsSsize_t(extra);
        if (n < 0)
            return PyErr_Occurred() ? NULL
                                    : PyErr_Format(PyExc_ValueError, "num_recurrence must be >= 0");
    }
    Py_BEGIN_ALLOW_THREADS
    rc = group ? zeus_simulate_one_alibaba_group(t, &job, rows, (size_t)n, &params, &h)
               : zeus_simulate_one_job(t, &job, (size_t)n, &params, &h);
    Py_END_ALLOW_THREADS
    free(rows);
    PyObject *out = rc ? fail(rc) : history_list(&h);
    zeus_sim_history_free(&h);
    return out;
}

static PyObject *py_simulate_one_job(PyObject *self, PyObject *args)
{
    (void)self;
    return simulate(args, false);
}

static PyObject *py_simulate_one_group(PyObject *self, PyObject *args)
{
    (void)self;
    return simulate(args, true);
}

static PyMethodDef methods[] = {
    {"gts_new", py_gts_new, METH_VARARGS,
     "gts_new($module, arms, reward_precision, prior_mean, prior_precision, num_exploration, seed, "
     "/)\n--\n\nA Gaussian Thompson sampling bandit"},
    {"gts_fit", py_gts_fit, METH_VARARGS,
     "gts_fit($module, gts, decisions, rewards, reset, /)\n--\n\ngts fit"},
    {"gts_fit_arm", py_gts_fit_arm, METH_VARARGS,
     "gts_fit_arm($module, gts, arm, rewards, reset, /)\n--\n\ngts fit arm"},
    {"gts_predict", py_gts_predict, METH_O, "gts_predict($module, gts, /)\n--\n\nReturns arm"},
    {"gts_arms", py_gts_arms, METH_O,
     "gts_arms($module, gts, /)\n--\n\n[(arm, mean, precision, observations)]"},
    {"gts_set_reward_precision", py_gts_set_reward_precision, METH_VARARGS,
     "gts_set_reward_precision($module, gts, arm, precision, /)\n--\n\ngts set reward precision"},
    {"pruning_new", py_pruning_new, METH_VARARGS,
     "pruning_new($module, batch_sizes, default, rounds, /)\n--\n\nA pruning stage over "
     "batch_sizes"},
    {"pruning_next", py_pruning_next, METH_O,
     "pruning_next($module, p, /)\n--\n\nnext batch size, None when done"},
    {"pruning_report", py_pruning_report, METH_VARARGS,
     "pruning_report($module, p, bs, cost, reached, /)\n--\n\npruning report"},
    {"pruning_batch_sizes", py_pruning_batch_sizes, METH_O,
     "pruning_batch_sizes($module, p, /)\n--\n\ncandidates, or the survivors"},
    {"bso_new", py_bso_new, METH_VARARGS,
     "bso_new($module, config, job, batch_sizes, /)\n--\n\nA batch-size optimizer"},
    {"bso_predict", py_bso_predict, METH_O,
     "bso_predict($module, bso, /)\n--\n\nReturns batch size"},
    {"bso_observe", py_bso_observe, METH_VARARGS,
     "bso_observe($module, bso, bs, cost, converged, /)\n--\n\nbso observe"},
    {"bso_in_pruning", py_bso_in_pruning, METH_O,
     "bso_in_pruning($module, bso, /)\n--\n\nwhether pruning is still going on"},
    {"bso_policies", py_bso_policies, METH_NOARGS,
     "bso_policies($module, /)\n--\n\nthe batch-size policies' names, the default first"},
    {"jit_new", py_jit_new, METH_NOARGS, "jit_new($module, /)\n--\n\na JIT power-limit policy"},
    {"jit_predict", py_jit_predict, METH_VARARGS,
     "jit_predict($module, p, bs, /)\n--\n\nReturns W or None"},
    {"jit_observe", py_jit_observe, METH_VARARGS,
     "jit_observe($module, p, bs, pl, cost, /)\n--\n\njit observe"},
    {"recurring_new", py_recurring_new, METH_VARARGS,
     "recurring_new($module, config, job, batch_sizes, /)\n--\n\nconfig: (eta, beta, max_power_w, "
     "bso_config); a recurring-job driver"},
    {"recurring_next", py_recurring_next, METH_O,
     "recurring_next($module, driver, /)\n--\n\n(recurrence, try, batch_size, power_limit, "
     "profile, cost_ub)"},
    {"recurring_profile", py_recurring_profile, METH_VARARGS,
     "recurring_profile($module, driver, profile, /)\n--\n\nprofile: [(pl, cost)]; returns the "
     "chosen pl"},
    {"recurring_report", py_recurring_report, METH_VARARGS,
     "recurring_report($module, driver, energy, time, reached, /)\n--\n\nReturns (cost, ran, done, "
     "give_up)"},
    {"trace_load", py_trace_load, METH_VARARGS,
     "trace_load($module, train_csv, power_csv, /)\n--\n\nLoads NSDI'23-style traces"},
    {"trace_batch_sizes", py_trace_batch_sizes, METH_VARARGS,
     "trace_batch_sizes($module, trace, job, /)\n--\n\nthe job's batch sizes"},
    {"simulate_one_job", py_simulate_one_job, METH_VARARGS,
     "simulate_one_job($module, trace, job, n, beta, eta, seed, bso_config, /)\n--\n\nReturns "
     "runs"},
    {"simulate_one_group", py_simulate_one_group, METH_VARARGS,
     "simulate_one_group($module, trace, job, rows, beta, eta, seed, bso_config, /)\n--\n\nReturns "
     "runs"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT,
                                        "zeus._recurring",
                                        "libzeus's recurring-job code",
                                        -1,
                                        methods,
                                        NULL,
                                        NULL,
                                        NULL,
                                        NULL};

PyMODINIT_FUNC PyInit__recurring(void);
PyMODINIT_FUNC PyInit__recurring(void)
{
    g_raise = PyCapsule_Import(ZPY_RAISE_CAPSULE, 0);
    return g_raise ? PyModule_Create(&module_def) : NULL;
}
