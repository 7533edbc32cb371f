/* zeus._zeus: the power-limit optimizer (zeus.optimizer.GlobalPowerLimitOptimizer is a Python
 * class over it). */
#include "zeuspy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Power-limit optimizer ---- */
typedef struct {
    PyObject_HEAD zeus_power_limit_optimizer *plo;
    PyObject *monitor;        /* keeps the monitor alive */
    PyObject *selector;       /* custom selector callable or NULL */
    PyObject *all_reduce;     /* all_reduce(list of float, "sum" | "max") -> list, or NULL */
    PyObject *selector_error; /* the selector's or all_reduce's exception */
    PyObject *dict;
    PyObject *weaklist;
    pid_t owner_pid;
    int inflight; /* hooks running with the GIL released */
} OptimizerObject;

/* Keeps the Python exception of a callback for the hook to raise (the first one wins). */
static void keep_callback_error(OptimizerObject *self)
{
    if (PyErr_Occurred() && !self->selector_error) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        if (tb)
            PyException_SetTraceback(v, tb);
        self->selector_error = v;
        Py_XDECREF(t);
        Py_XDECREF(tb);
    }
    PyErr_Clear();
}

static int custom_selector(const zeus_power_limit_measurement *ms, size_t count, void *user,
                           unsigned *optimal_w)
{
    OptimizerObject *self = user;
    int rc = ZEUS_EINVAL;
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *t = Py_BuildValue("(Idd)", ms[i].power_limit_w, ms[i].energy_j, ms[i].time_s);
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    PyObject *r = list ? PyObject_CallOneArg(self->selector, list) : NULL;
    Py_XDECREF(list);
    if (r) {
        unsigned long w = PyLong_AsUnsignedLong(r);
        if (!PyErr_Occurred()) {
            *optimal_w = (unsigned)w;
            rc = ZEUS_OK;
        }
        Py_DECREF(r);
    }
    if (rc != ZEUS_OK)
        keep_callback_error(self);
    PyErr_Clear();
    PyGILState_Release(st);
    return rc;
}

/* Distributed training: libzeus's collective backed by the package's all_reduce (torch). */
static int python_all_reduce(double *values, size_t count, zeus_reduce_op op, void *user)
{
    OptimizerObject *self = user;
    int rc = ZEUS_EIO;
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (size_t i = 0; list && i < count; i++) {
        PyObject *f = PyFloat_FromDouble(values[i]);
        if (!f) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, f);
    }
    PyObject *r = list ? PyObject_CallFunction(self->all_reduce, "Os", list,
                                               op == ZEUS_REDUCE_SUM ? "sum" : "max")
                       : NULL;
    Py_XDECREF(list);
    PyObject *seq = r ? PySequence_Fast(r, "all_reduce must return a list") : NULL;
    if (seq && PySequence_Fast_GET_SIZE(seq) != (Py_ssize_t)count)
        PyErr_Format(PyExc_RuntimeError, "all_reduce returned %zd values for %zu",
                     PySequence_Fast_GET_SIZE(seq), count);
    else if (seq) {
        rc = ZEUS_OK;
        for (size_t i = 0; i < count && rc == ZEUS_OK; i++) {
            values[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i));
            if (PyErr_Occurred())
                rc = ZEUS_EIO;
        }
    }
    Py_XDECREF(seq);
    Py_XDECREF(r);
    if (rc != ZEUS_OK)
        keep_callback_error(self);
    PyGILState_Release(st);
    return rc;
}

/* Error after a hook: the monitor's sync or the selector's exception first, else libzeus's. */
static PyObject *optimizer_error(OptimizerObject *self, int rc)
{
    MonitorObject *mon = (MonitorObject *)self->monitor;
    if (zpy_raise_sync_error(mon) < 0)
        return NULL;
    if (self->selector_error) {
        PyObject *v = self->selector_error;
        self->selector_error = NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(v), v);
        Py_DECREF(v);
        return NULL;
    }
    if (rc == ZEUS_OK)
        Py_RETURN_NONE;
    return zpy_raise(rc, NULL); /* ZEUS_EPERM: ZeusGPUNoPermissionError, a RuntimeError as in 0.8 */
}

/* selector: None (default), ("energy",), ("time",), ("zeus_cost", eta, world_size),
 * ("max_slowdown", factor), or a callable(list of (W, J, s)) -> W. */
static int set_selector(OptimizerObject *self, PyObject *selector, zeus_optimum_selector *out)
{
    if (selector == Py_None)
        return 0;
    if (PyCallable_Check(selector)) {
        Py_INCREF(selector);
        Py_XSETREF(self->selector, selector);
        out->kind = ZEUS_SELECTOR_CUSTOM;
        out->fn = custom_selector;
        out->user = self;
        out->name = Py_TYPE(selector)->tp_name;
        return 0;
    }
    const char *kind;
    double x = 0;
    int ws = ZEUS_WORLD_SIZE_AUTO;
    if (!PyArg_ParseTuple(selector, "s|di", &kind, &x, &ws))
        return -1;
    int rc = ZEUS_OK;
    if (!strcmp(kind, "energy"))
        *out = zeus_selector_energy();
    else if (!strcmp(kind, "time"))
        *out = zeus_selector_time();
    else if (!strcmp(kind, "zeus_cost"))
        rc = zeus_selector_zeus_cost(x, ws, out);
    else if (!strcmp(kind, "max_slowdown"))
        rc = zeus_selector_max_slowdown(x, out);
    else
        return PyErr_Format(PyExc_ValueError, "unknown selector %s", kind), -1;
    if (rc != ZEUS_OK)
        return zpy_raise(rc, PyExc_ValueError), -1;
    return 0;
}

static int optimizer_init(OptimizerObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"monitor",
                            "selector",
                            "wait_steps",
                            "warmup_steps",
                            "profile_steps",
                            "pl_step",
                            "profile_path",
                            "restore_on_exit",
                            "profile_gpu_model",
                            "all_reduce",
                            "profiling",
                            "profiling_budget",
                            NULL};
    PyObject *monitor, *selector = Py_None, *path = Py_None, *all_reduce = Py_None;
    int wait = 1, warmup = 10, profile = 40, step = 25, on_exit = 1, gpu_model = 0;
    const char *profiling = "full";
    double budget = NAN; /* NAN: the library's default */
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|OiiiiOppOsd:Optimizer", names, &zpy_MonitorType,
                                     &monitor, &selector, &wait, &warmup, &profile, &step, &path,
                                     &on_exit, &gpu_model, &all_reduce, &profiling, &budget))
        return -1;
    if (self->plo) {
        PyErr_SetString(PyExc_RuntimeError, "the optimizer is already initialised");
        return -1;
    }
    MonitorObject *mon = (MonitorObject *)monitor;
    if (zpy_monitor_ready(mon) < 0)
        return -1;
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.wait_steps = wait;
    o.warmup_steps = warmup;
    o.profile_steps = profile;
    o.pl_step_w = step;
    o.restore_on_exit = on_exit;
    o.restore_on_signal = false; /* Python keeps SIGINT; the package restores on its own */
    o.profile_gpu_model = gpu_model;
    if (!isnan(budget))
        o.profiling_budget = budget;
    int prc = zeus_power_limit_profiling_parse(profiling, &o.profiling);
    if (prc != ZEUS_OK) {
        PyErr_SetString(PyExc_ValueError, zeus_last_error());
        return -1;
    }
    if (all_reduce != Py_None) {
        Py_INCREF(all_reduce);
        Py_XSETREF(self->all_reduce, all_reduce);
        o.all_reduce = python_all_reduce;
        o.all_reduce_user = self;
    }
    if (set_selector(self, selector, &o.selector) < 0)
        return -1;
    PyObject *path_bytes = NULL;
    if (path != Py_None && !PyUnicode_FSConverter(path, &path_bytes))
        return -1;
    o.profile_path = path_bytes ? PyBytes_AS_STRING(path_bytes) : NULL;
    Py_INCREF(monitor);
    Py_XSETREF(self->monitor, monitor);
    int rc;
    zeus_power_limit_optimizer *plo = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_power_limit_optimizer_create(mon->monitor, &o, &plo);
    Py_END_ALLOW_THREADS
    Py_XDECREF(path_bytes);
    if (rc != ZEUS_OK) {
        optimizer_error(self, rc);
        return -1;
    }
    self->plo = plo;
    self->owner_pid = getpid();
    mon->optimizers++;
    return 0;
}

static void optimizer_destroy_now(OptimizerObject *self)
{
    if (!self->plo)
        return;
    zeus_power_limit_optimizer *plo = self->plo;
    self->plo = NULL;
    Py_BEGIN_ALLOW_THREADS
    zeus_power_limit_optimizer_destroy(plo);
    Py_END_ALLOW_THREADS((MonitorObject *)self->monitor)
    ->optimizers--;
}

static int optimizer_traverse(OptimizerObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->monitor);
    Py_VISIT(self->selector);
    Py_VISIT(self->all_reduce);
    Py_VISIT(self->dict);
    return 0;
}

static int optimizer_clear(OptimizerObject *self)
{
    /* The optimizer must go before its monitor: destroy first. */
    optimizer_destroy_now(self);
    Py_CLEAR(self->monitor);
    Py_CLEAR(self->selector);
    Py_CLEAR(self->all_reduce);
    Py_CLEAR(self->dict);
    return 0;
}

static void optimizer_dealloc(OptimizerObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weaklist)
        PyObject_ClearWeakRefs((PyObject *)self);
    optimizer_clear(self);
    Py_CLEAR(self->selector_error);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

typedef int (*hook_fn)(zeus_power_limit_optimizer *);

static PyObject *run_hook(OptimizerObject *self, hook_fn fn)
{
    if (!self->plo) {
        PyErr_SetString(PyExc_RuntimeError, "the power-limit optimizer is closed");
        return NULL;
    }
    int rc;
    zeus_power_limit_optimizer *plo = self->plo;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(plo);
    Py_END_ALLOW_THREADS
    self->inflight--;
    return optimizer_error(self, rc);
}

#define HOOK(name)                                                                                 \
    static PyObject *optimizer_##name(OptimizerObject *self, PyObject *const *args,                \
                                      Py_ssize_t nargs, PyObject *kwnames)                         \
    {                                                                                              \
        (void)args, (void)nargs, (void)kwnames; /* HF passes (args, state, control, **kw) */       \
        return run_hook(self, zeus_power_limit_##name);                                            \
    }
HOOK(on_train_begin)
HOOK(on_train_end)
HOOK(on_epoch_begin)
HOOK(on_epoch_end)
HOOK(on_step_begin)
HOOK(on_step_end)

static PyObject *optimizer_restore(OptimizerObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->plo || self->owner_pid != getpid()) /* a forked child never restores */
        Py_RETURN_NONE;
    return run_hook(self, zeus_power_limit_optimizer_restore);
}

static PyObject *optimizer_close(OptimizerObject *self, PyObject *unused)
{
    (void)unused;
    if (self->inflight) {
        PyErr_SetString(PyExc_RuntimeError, "the optimizer is in use by another thread");
        return NULL;
    }
    optimizer_destroy_now(self);
    Py_RETURN_NONE;
}

static PyObject *optimizer_get_state(OptimizerObject *self, void *c)
{
    (void)c;
    if (!self->plo)
        Py_RETURN_NONE;
    zeus_power_limit_state s;
    zeus_power_limit_get_state(self->plo, &s);
    return Py_BuildValue("(sIlnn)", zeus_power_limit_phase_name(s.phase), s.power_limit_mw, s.steps,
                         (Py_ssize_t)s.profiled, (Py_ssize_t)s.limit_count);
}

static PyObject *optimizer_get_optimal(OptimizerObject *self, void *c)
{
    (void)c;
    if (!self->plo)
        Py_RETURN_NONE;
    unsigned mw = zeus_power_limit_optimal_mw(self->plo);
    if (!mw)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(mw);
}

static PyObject *optimizer_get_limits(OptimizerObject *self, void *c)
{
    (void)c;
    if (!self->plo)
        return PyList_New(0);
    unsigned buf[512];
    size_t n = zeus_power_limit_limits(self->plo, buf, 512);
    if (n > 512)
        n = 512;
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++)
        PyList_SET_ITEM(l, (Py_ssize_t)i, PyLong_FromUnsignedLong(buf[i]));
    return l;
}

static PyObject *optimizer_get_measurements(OptimizerObject *self, void *c)
{
    (void)c;
    if (!self->plo)
        return PyList_New(0);
    size_t n = zeus_power_limit_measurements(self->plo, NULL, 0);
    zeus_power_limit_measurement *ms = n ? calloc(n, sizeof *ms) : NULL;
    if (n && !ms)
        return PyErr_NoMemory();
    zeus_power_limit_measurements(self->plo, ms, n);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *t = Py_BuildValue("(Idd)", ms[i].power_limit_w, ms[i].energy_j, ms[i].time_s);
        if (!t) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    free(ms);
    return l;
}

static PyObject *optimizer_get_closed(OptimizerObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->plo == NULL);
}

#define HOOK_DEF(name)                                                                             \
    {                                                                                              \
#name, (PyCFunction)(void (*)(void))optimizer_##name, METH_FASTCALL | METH_KEYWORDS,       \
            #name "($self, /, *args, **kwargs)\n--\n\nThe " #name                                  \
                  " hook (extra arguments, such as Hugging Face's, are ignored)."                  \
    }
static PyMethodDef optimizer_methods[] = {
    HOOK_DEF(on_train_begin),
    HOOK_DEF(on_train_end),
    HOOK_DEF(on_epoch_begin),
    HOOK_DEF(on_epoch_end),
    HOOK_DEF(on_step_begin),
    HOOK_DEF(on_step_end),
    {"restore", (PyCFunction)optimizer_restore, METH_NOARGS,
     "restore($self, /)\n--\n\nPuts every GPU's limit and persistence mode back now (a later hook "
     "re-applies them); "
     "nothing in a forked child."},
    {"close", (PyCFunction)optimizer_close, METH_NOARGS,
     "close($self, /)\n--\n\nPuts every GPU back and frees the optimizer."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef optimizer_getset[] = {
    {"_state", (getter)optimizer_get_state, NULL,
     "(phase, power_limit_mw, steps, profiled, limit_count)", NULL},
    {"optimal_power_limit_mw", (getter)optimizer_get_optimal, NULL, "mW once done, else None.",
     NULL},
    {"power_limits", (getter)optimizer_get_limits, NULL, "Limits to profile (mW).", NULL},
    {"_measurements", (getter)optimizer_get_measurements, NULL, "[(W, J, s)]", NULL},
    {"closed", (getter)optimizer_get_closed, NULL, "The optimizer was closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zpy_OptimizerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.Optimizer",
    .tp_basicsize = sizeof(OptimizerObject),
    .tp_dealloc = (destructor)optimizer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Optimizer(monitor, selector=None, wait_steps=1, warmup_steps=10, profile_steps=40, "
              "pl_step=25, profile_path=None, restore_on_exit=True, profile_gpu_model=False, "
              "all_reduce=None, profiling='full', profiling_budget=0.45)\n--\n\nlibzeus "
              "power-limit optimizer (use "
              "zeus.optimizer.GlobalPowerLimitOptimizer).",
    .tp_traverse = (traverseproc)optimizer_traverse,
    .tp_clear = (inquiry)optimizer_clear,
    .tp_methods = optimizer_methods,
    .tp_getset = optimizer_getset,
    .tp_init = (initproc)optimizer_init,
    .tp_new = PyType_GenericNew,
    .tp_dictoffset = offsetof(OptimizerObject, dict),
    .tp_weaklistoffset = offsetof(OptimizerObject, weaklist),
};
