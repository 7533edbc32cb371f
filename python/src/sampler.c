/* zeus._zeus: the power sampler (zeus.monitor.PowerMonitor is a Python class over it). */
#include "zeuspy.h"

#include <math.h>

/* ---- PowerMonitor (sampler) ---- */
typedef struct {
    PyObject_HEAD zeus_sampler *sampler;
    PyObject *dict;
    int attached; /* ZeusMonitors cross-checking against it */
} SamplerObject;

zeus_sampler *zpy_sampler_attach(PyObject *obj, int delta)
{
    if (!PyObject_TypeCheck(obj, &zpy_SamplerType)) {
        PyErr_SetString(PyExc_TypeError, "cross_check needs a PowerMonitor");
        return NULL;
    }
    SamplerObject *self = (SamplerObject *)obj;
    if (delta > 0 && !self->sampler) {
        PyErr_SetString(PyExc_RuntimeError, "the PowerMonitor is stopped");
        return NULL;
    }
    self->attached += delta;
    return self->sampler;
}

static int sampler_init(SamplerObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"gpu_indices", "update_period", "cpu_indices", NULL};
    PyObject *gpus = Py_None, *period = Py_None, *cpus = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO:PowerMonitor", names, &gpus, &period, &cpus))
        return -1;
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return -1;
    unsigned gidx[ZEUS_MAX_GPUS], cidx[ZEUS_MAX_CPUS];
    int gcount, ccount;
    if (zpy_index_list(gpus, gidx, &gcount, ZEUS_MAX_GPUS, "gpu_indices") < 0 ||
        zpy_index_list(cpus, cidx, &ccount, ZEUS_MAX_CPUS, "cpu_indices") < 0)
        return -1;
    if (gcount == 0) {
        PyErr_SetString(PyExc_ValueError, "`gpu_indices` must be either `None` or non-empty");
        return -1;
    }
    zeus_sampler_options o;
    zeus_sampler_options_init(&o);
    o.gpu_indices = gidx;
    o.gpu_count = gcount;
    o.cpu_indices = cidx;
    o.cpu_count = ccount < 0 ? 0 : ccount;
    if (period != Py_None) {
        o.period_s = PyFloat_AsDouble(period);
        if (o.period_s == -1 && PyErr_Occurred())
            return -1;
        if (!(o.period_s > 0)) {
            PyErr_SetString(PyExc_ValueError, "update_period must be positive");
            return -1;
        }
    }
    int rc;
    zeus_sampler *s = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_sampler_start(d, &o, &s);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL), -1;
    self->sampler = s;
    return 0;
}

static void sampler_stop_now(SamplerObject *self)
{
    if (self->sampler) {
        zeus_sampler *s = self->sampler;
        self->sampler = NULL;
        Py_BEGIN_ALLOW_THREADS
        zeus_sampler_stop(s);
        Py_END_ALLOW_THREADS
    }
}

static void sampler_dealloc(SamplerObject *self)
{
    sampler_stop_now(self);
    Py_CLEAR(self->dict);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int sampler_ready(SamplerObject *self)
{
    if (self->sampler)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "the power monitor is stopped");
    return -1;
}

/* Column values -> {gpu: W or J} (GPU columns only) and, if any, {"cpu<i>"/"dram<i>": ...}. */
static PyObject *sampler_dict(SamplerObject *self, const double *values, bool gpus_only)
{
    PyObject *d = PyDict_New();
    unsigned ng = zeus_sampler_gpu_count(self->sampler);
    unsigned nc = zeus_sampler_column_count(self->sampler);
    for (unsigned i = 0; d && i < (gpus_only ? ng : nc); i++) {
        PyObject *k = i < ng ? PyLong_FromUnsignedLong(zeus_sampler_gpu_index(self->sampler, i))
                             : PyUnicode_FromString(zeus_sampler_column_name(self->sampler, i));
        PyObject *v = PyFloat_FromDouble(values[i]);
        if (!k || !v || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *sampler_get_energy(SamplerObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"start_time", "end_time", NULL};
    double start, end;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "dd:get_energy", names, &start, &end) ||
        sampler_ready(self) < 0)
        return NULL;
    double e[ZEUS_SAMPLER_MAX_COLUMNS];
    size_t n = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_sampler_get_energy(self->sampler, start, end, e, &n);
    Py_END_ALLOW_THREADS
    if (rc == ZEUS_ENOENT)
        Py_RETURN_NONE;
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    return sampler_dict(self, e, true);
}

static PyObject *sampler_get_power(SamplerObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"time", NULL};
    PyObject *t = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", names, &t) || sampler_ready(self) < 0)
        return NULL;
    double when = NAN;
    if (t != Py_None && (when = PyFloat_AsDouble(t)) == -1 && PyErr_Occurred())
        return NULL;
    double p[ZEUS_SAMPLER_MAX_COLUMNS];
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_sampler_get_power(self->sampler, when, p, NULL);
    Py_END_ALLOW_THREADS
    if (rc == ZEUS_ENOENT)
        Py_RETURN_NONE;
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    return sampler_dict(self, p, true);
}

static PyObject *sampler_stop(SamplerObject *self, PyObject *unused)
{
    (void)unused;
    if (self->attached > 0) {
        PyErr_SetString(PyExc_RuntimeError, "a ZeusMonitor cross-checks against this PowerMonitor: "
                                            "call its cross_check(None) first");
        return NULL;
    }
    sampler_stop_now(self);
    Py_RETURN_NONE;
}

static PyObject *sampler_get_update_period(SamplerObject *self, void *c)
{
    (void)c;
    if (sampler_ready(self) < 0)
        return NULL;
    return PyFloat_FromDouble(zeus_sampler_period_s(self->sampler));
}

static PyObject *sampler_get_gpu_indices(SamplerObject *self, void *c)
{
    (void)c;
    if (sampler_ready(self) < 0)
        return NULL;
    unsigned n = zeus_sampler_gpu_count(self->sampler);
    PyObject *l = PyList_New(n);
    for (unsigned i = 0; l && i < n; i++)
        PyList_SET_ITEM(l, i, PyLong_FromUnsignedLong(zeus_sampler_gpu_index(self->sampler, i)));
    return l;
}

/* The timeline kept in the ring (at or after since, oldest first): (times, {column name:
 * [W, ...]}), the columns in sampler order ("gpu<i>", then "cpu<i>"/"dram<i>"). For plots. */
static PyObject *sampler_timeline(SamplerObject *self, PyObject *args)
{
    /* since=None (all kept samples) rather than -math.inf: a default inspect.signature can
     * evaluate without `import math` (issue 24 item 15). */
    PyObject *since_arg = Py_None;
    double since = -INFINITY;
    if (!PyArg_ParseTuple(args, "|O", &since_arg) || sampler_ready(self) < 0)
        return NULL;
    if (since_arg != Py_None && (since = PyFloat_AsDouble(since_arg), since == -1.0) &&
        PyErr_Occurred())
        return NULL;
    unsigned columns = zeus_sampler_column_count(self->sampler);
    size_t max = zeus_sampler_sample_count(self->sampler), count = 0;
    double *times = PyMem_Calloc(max ? max : 1, sizeof *times);
    double *power = PyMem_Calloc((max ? max : 1) * columns, sizeof *power);
    PyObject *t = NULL, *cols = NULL, *result = NULL;
    if (!times || !power) {
        PyErr_NoMemory();
        goto done;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_sampler_timeline(self->sampler, since, max, times, power, &count);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK) {
        zpy_raise(rc, NULL);
        goto done;
    }
    if (!(t = PyList_New((Py_ssize_t)count)) || !(cols = PyDict_New()))
        goto done;
    for (size_t k = 0; k < count; k++) {
        PyObject *v = PyFloat_FromDouble(times[k]);
        if (!v)
            goto done;
        PyList_SET_ITEM(t, (Py_ssize_t)k, v);
    }
    for (unsigned i = 0; i < columns; i++) {
        PyObject *l = PyList_New((Py_ssize_t)count);
        int bad = !l;
        for (size_t k = 0; !bad && k < count; k++) {
            PyObject *v = PyFloat_FromDouble(power[k * columns + i]);
            if (!v)
                bad = 1;
            else
                PyList_SET_ITEM(l, (Py_ssize_t)k, v);
        }
        if (bad || PyDict_SetItemString(cols, zeus_sampler_column_name(self->sampler, i), l) < 0) {
            Py_XDECREF(l);
            goto done;
        }
        Py_DECREF(l);
    }
    result = PyTuple_Pack(2, t, cols);
done:
    Py_XDECREF(t);
    Py_XDECREF(cols);
    PyMem_Free(power);
    PyMem_Free(times);
    return result;
}

static PyMethodDef sampler_methods[] = {
    {"_timeline", (PyCFunction)sampler_timeline, METH_VARARGS,
     "_timeline($self, since=None, /)\n--\n\n(times, {column: [W]}) of the kept samples at or "
     "after since (None: all)"},
    {"get_energy", (PyCFunction)(void (*)(void))sampler_get_energy, METH_VARARGS | METH_KEYWORDS,
     "get_energy($self, /, start_time, end_time)\n--\n\n{gpu: J} between the two times, or None"},
    {"get_power", (PyCFunction)(void (*)(void))sampler_get_power, METH_VARARGS | METH_KEYWORDS,
     "get_power($self, /, time=None)\n--\n\n{gpu: W} at time (latest if None), or None"},
    {"stop", (PyCFunction)sampler_stop, METH_NOARGS, "stop($self, /)\n--\n\nStops sampling."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sampler_getset[] = {
    {"update_period", (getter)sampler_get_update_period, NULL, "Sampling period (s).", NULL},
    {"gpu_indices", (getter)sampler_get_gpu_indices, NULL, "Sampled GPUs.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zpy_SamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.Sampler",
    .tp_basicsize = sizeof(SamplerObject),
    .tp_dealloc = (destructor)sampler_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Sampler(gpu_indices=None, update_period=None, cpu_indices=None)\n--\n\n"
              "libzeus power sampler (use zeus.monitor.PowerMonitor).",
    .tp_methods = sampler_methods,
    .tp_getset = sampler_getset,
    .tp_init = (initproc)sampler_init,
    .tp_new = PyType_GenericNew,
    .tp_dictoffset = offsetof(SamplerObject, dict),
};
