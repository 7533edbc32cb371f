/* zeus._zeus: zeus.monitor.Measurement, the result of a window (see zeuspy.h). */
#include "zeuspy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- Measurement ---- */
typedef struct {
    PyObject_HEAD double time;
    double start_time;
    bool cancelled;
    unsigned gpu_count;
    zeus_gpu_measurement *gpus; /* NULL for one built from Python */
    unsigned cpu_count;
    zeus_cpu_measurement *cpus;
    PyObject *cross_check; /* tuple of dicts (zeus_monitor_cross_check), or NULL: not checked */
    PyObject *energy;      /* dict, built on first access */
    PyObject *cpu_energy;
    PyObject *dram_energy;
} MeasurementObject;

static void measurement_dealloc(MeasurementObject *self)
{
    free(self->gpus);
    free(self->cpus);
    Py_XDECREF(self->energy);
    Py_XDECREF(self->cross_check);
    Py_XDECREF(self->cpu_energy);
    Py_XDECREF(self->dram_energy);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *float_or_none(double v);

PyObject *zpy_measurement_from(const zeus_measurement *m)
{
    MeasurementObject *o = PyObject_New(MeasurementObject, &zpy_MeasurementType);
    if (!o)
        return NULL;
    o->time = zeus_measurement_time_s(m);
    o->start_time = zeus_measurement_start_time_s(m);
    o->cancelled = zeus_measurement_cancelled(m);
    o->gpu_count = zeus_measurement_gpu_count(m);
    o->cpu_count = zeus_measurement_cpu_count(m);
    o->gpus = NULL;
    o->cpus = NULL;
    o->cross_check = NULL;
    o->energy = o->cpu_energy = o->dram_energy = NULL;
    bool checked = false;
    for (unsigned i = 0; i < o->gpu_count; i++)
        checked |= zeus_measurement_gpu_cross_check(m, i, NULL, NULL, NULL) != ZEUS_CHECK_NONE;
    if (checked && !(o->cross_check = PyTuple_New(o->gpu_count)))
        goto nomem;
    for (unsigned i = 0; checked && i < o->gpu_count; i++) {
        double c, s, a;
        zeus_cross_check_status st = zeus_measurement_gpu_cross_check(m, i, &c, &s, &a);
        PyObject *d =
            Py_BuildValue("{s:I,s:s,s:N,s:N,s:N}", "index", zeus_measurement_gpu(m, i)->index,
                          "status", zeus_cross_check_status_name(st), "counter", float_or_none(c),
                          "sampled", float_or_none(s), "allowed", float_or_none(a));
        if (!d)
            goto nomem;
        PyTuple_SET_ITEM(o->cross_check, i, d);
    }
    if (o->gpu_count) {
        o->gpus = malloc(o->gpu_count * sizeof *o->gpus);
        if (!o->gpus)
            goto nomem;
        for (unsigned i = 0; i < o->gpu_count; i++)
            o->gpus[i] = *zeus_measurement_gpu(m, i);
    }
    if (o->cpu_count) {
        o->cpus = malloc(o->cpu_count * sizeof *o->cpus);
        if (!o->cpus)
            goto nomem;
        for (unsigned i = 0; i < o->cpu_count; i++)
            o->cpus[i] = *zeus_measurement_cpu(m, i);
    }
    return (PyObject *)o;
nomem:
    Py_DECREF(o);
    return PyErr_NoMemory();
}

static int measurement_init(MeasurementObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"time", "energy", "cpu_energy", "dram_energy", NULL};
    double time;
    PyObject *energy, *cpu = Py_None, *dram = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "dO|OO:Measurement", names, &time, &energy, &cpu,
                                     &dram))
        return -1;
    self->time = time;
    self->start_time = NAN;
    Py_INCREF(energy);
    Py_XSETREF(self->energy, energy);
    if (cpu != Py_None) {
        Py_INCREF(cpu);
        Py_XSETREF(self->cpu_energy, cpu);
    }
    if (dram != Py_None) {
        Py_INCREF(dram);
        Py_XSETREF(self->dram_energy, dram);
    }
    return 0;
}

static PyObject *float_or_none(double v)
{
    if (isnan(v))
        Py_RETURN_NONE;
    return PyFloat_FromDouble(v);
}

static PyObject *measurement_get_energy(MeasurementObject *self, void *closure)
{
    (void)closure;
    if (!self->energy) {
        PyObject *d = PyDict_New();
        for (unsigned i = 0; d && i < self->gpu_count; i++) {
            PyObject *k = PyLong_FromUnsignedLong(self->gpus[i].index);
            PyObject *v = PyFloat_FromDouble(self->gpus[i].energy_j);
            if (!k || !v || PyDict_SetItem(d, k, v) < 0)
                Py_CLEAR(d);
            Py_XDECREF(k);
            Py_XDECREF(v);
        }
        if (!d)
            return NULL;
        self->energy = d;
    }
    return Py_NewRef(self->energy);
}

static PyObject *measurement_cpu_dict(MeasurementObject *self, bool dram)
{
    PyObject **cache = dram ? &self->dram_energy : &self->cpu_energy;
    if (*cache)
        return Py_NewRef(*cache);
    if (!self->cpus) /* the newer API: None when no CPU was monitored */
        Py_RETURN_NONE;
    PyObject *d = PyDict_New();
    for (unsigned i = 0; d && i < self->cpu_count; i++) {
        const zeus_cpu_measurement *c = &self->cpus[i];
        if (dram && !c->dram_valid)
            continue;
        PyObject *k = PyLong_FromUnsignedLong(c->index);
        PyObject *v = PyFloat_FromDouble(dram ? c->dram_j : c->package_j);
        if (!k || !v || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    if (!d)
        return NULL;
    *cache = d;
    return Py_NewRef(d);
}

static PyObject *measurement_get_cpu_energy(MeasurementObject *self, void *closure)
{
    (void)closure;
    return measurement_cpu_dict(self, false);
}

static PyObject *measurement_get_dram_energy(MeasurementObject *self, void *closure)
{
    (void)closure;
    return measurement_cpu_dict(self, true);
}

static PyObject *measurement_get_total_energy(MeasurementObject *self, void *closure)
{
    (void)closure;
    if (self->gpus && !self->energy) {
        double sum = 0;
        for (unsigned i = 0; i < self->gpu_count; i++)
            sum += self->gpus[i].energy_j;
        return PyFloat_FromDouble(sum);
    }
    PyObject *e = measurement_get_energy(self, NULL);
    if (!e)
        return NULL;
    PyObject *values = PyObject_CallMethod(e, "values", NULL);
    Py_DECREF(e);
    if (!values)
        return NULL;
    PyObject *zero = PyFloat_FromDouble(0.0);
    PyObject *args = Py_BuildValue("(NN)", values, zero);
    if (!args)
        return NULL;
    PyObject *builtins = PyEval_GetBuiltins();
    PyObject *sum = PyDict_GetItemString(builtins, "sum");
    PyObject *r = PyObject_Call(sum, args, NULL);
    Py_DECREF(args);
    return r;
}

static PyObject *measurement_get_time(MeasurementObject *self, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(self->time);
}

static PyObject *measurement_get_start_time(MeasurementObject *self, void *closure)
{
    (void)closure;
    return float_or_none(self->start_time);
}

static PyObject *measurement_get_cancelled(MeasurementObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->cancelled);
}

/* Per-GPU detail: how the energy was obtained and how far to trust it. */
static PyObject *measurement_get_gpus(MeasurementObject *self, void *closure)
{
    (void)closure;
    PyObject *out = PyTuple_New(self->gpu_count);
    for (unsigned i = 0; out && i < self->gpu_count; i++) {
        const zeus_gpu_measurement *g = &self->gpus[i];
        PyObject *err =
            g->error ? PyUnicode_FromString(zeus_strerror(g->error)) : Py_NewRef(Py_None);
        PyObject *item =
            Py_BuildValue("{s:I,s:N,s:s,s:d,s:d,s:O,s:N,s:N}", "index", g->index, "energy",
                          float_or_none(g->energy_j), "method", zeus_energy_method_name(g->method),
                          "update_period", g->update_period_s, "updates", g->updates,
                          "below_resolution", g->below_resolution ? Py_True : Py_False,
                          "error_bound", float_or_none(g->error_bound_j), "error", err);
        if (!item) {
            Py_CLEAR(out);
            break;
        }
        PyTuple_SET_ITEM(out, i, item);
    }
    return out;
}

static PyObject *measurement_repr(MeasurementObject *self)
{
    PyObject *e = measurement_get_energy(self, NULL);
    if (!e)
        return NULL;
    PyObject *t = PyFloat_FromDouble(self->time);
    PyObject *r = NULL;
    if (t) {
        if (self->cpus) {
            PyObject *c = measurement_cpu_dict(self, false);
            PyObject *d = measurement_cpu_dict(self, true);
            if (c && d)
                r = PyUnicode_FromFormat("Measurement(time=%R, gpu_energy=%R, cpu_energy=%R, "
                                         "dram_energy=%R)",
                                         t, e, c, d);
            Py_XDECREF(c);
            Py_XDECREF(d);
        } else {
            r = PyUnicode_FromFormat("Measurement(time=%R, energy=%R)", t, e);
        }
    }
    Py_XDECREF(t);
    Py_DECREF(e);
    return r;
}

static PyObject *measurement_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(b, &zpy_MeasurementType))
        Py_RETURN_NOTIMPLEMENTED;
    MeasurementObject *x = (MeasurementObject *)a, *y = (MeasurementObject *)b;
    int eq = x->time == y->time;
    if (eq) {
        PyObject *ex = measurement_get_energy(x, NULL), *ey = measurement_get_energy(y, NULL);
        if (!ex || !ey) {
            Py_XDECREF(ex);
            Py_XDECREF(ey);
            return NULL;
        }
        eq = PyObject_RichCompareBool(ex, ey, Py_EQ);
        Py_DECREF(ex);
        Py_DECREF(ey);
        if (eq < 0)
            return NULL;
    }
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *measurement_get_cross_check(MeasurementObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->cross_check ? self->cross_check : Py_None);
}

static PyGetSetDef measurement_getset[] = {
    {"cross_check", (getter)measurement_get_cross_check, NULL,
     "Per GPU, when the monitor cross-checks against a PowerMonitor: index, status (agree, "
     "disagree, fell_back, none), counter, sampled and allowed (J); else None.",
     NULL},
    {"time", (getter)measurement_get_time, NULL, "Elapsed time of the window (s).", NULL},
    {"energy", (getter)measurement_get_energy, NULL, "GPU index -> energy (J).", NULL},
    {"gpu_energy", (getter)measurement_get_energy, NULL, "Same as energy (newer name).", NULL},
    {"cpu_energy", (getter)measurement_get_cpu_energy, NULL,
     "CPU package index -> energy (J); None when no CPU was monitored.", NULL},
    {"dram_energy", (getter)measurement_get_dram_energy, NULL,
     "CPU package index -> DRAM energy (J); None when no CPU was monitored.", NULL},
    {"total_energy", (getter)measurement_get_total_energy, NULL, "Sum of GPU energies (J).", NULL},
    {"start_time", (getter)measurement_get_start_time, NULL, "Unix time the window began.", NULL},
    {"cancelled", (getter)measurement_get_cancelled, NULL, "The window was cancelled.", NULL},
    {"gpus", (getter)measurement_get_gpus, NULL,
     "Per GPU: index, energy, method, update_period, updates, below_resolution, error_bound, "
     "error.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zpy_MeasurementType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus.monitor.Measurement",
    .tp_basicsize = sizeof(MeasurementObject),
    .tp_dealloc = (destructor)measurement_dealloc,
    .tp_repr = (reprfunc)measurement_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Measurement(time, energy, cpu_energy=None, dram_energy=None)\n--\n\nTime (s) and "
              "energy (J per GPU index) of a window.",
    .tp_richcompare = measurement_richcompare,
    .tp_getset = measurement_getset,
    .tp_init = (initproc)measurement_init,
    .tp_new = PyType_GenericNew,
};

/* ---- Job windows (zeus/job_window.h) ---- */

/* parts [(rank, host, start_s, time_s, sync_before_s, sync_after_s)], readings [(rank, host,
 * uuid, energy_j or None)] -> dict. */
static PyObject *py_job_window_combine(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *parts_in, *readings_in, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &parts_in, &PyList_Type, &readings_in))
        return NULL;
    Py_ssize_t np = PyList_GET_SIZE(parts_in), nr = PyList_GET_SIZE(readings_in);
    zeus_job_part *parts = PyMem_Calloc((size_t)np + 1, sizeof *parts);
    zeus_job_reading *readings = PyMem_Calloc((size_t)nr + 1, sizeof *readings);
    if (!parts || !readings) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        zeus_job_part *p = &parts[i];
        const char *host;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(parts_in, i), "Isdddd", &p->rank, &host, &p->start_s,
                              &p->time_s, &p->sync_before_s, &p->sync_after_s))
            goto done;
        snprintf(p->host, sizeof p->host, "%s", host);
    }
    for (Py_ssize_t i = 0; i < nr; i++) {
        zeus_job_reading *r = &readings[i];
        const char *host, *uuid;
        PyObject *energy;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(readings_in, i), "IssO", &r->rank, &host, &uuid,
                              &energy))
            goto done;
        r->energy_j = energy == Py_None ? NAN : PyFloat_AsDouble(energy);
        if (PyErr_Occurred())
            goto done;
        snprintf(r->host, sizeof r->host, "%s", host);
        snprintf(r->uuid, sizeof r->uuid, "%s", uuid);
    }
    zeus_job_measurement m;
    int rc = zeus_job_window_combine(parts, (size_t)np, readings, (size_t)nr, &m);
    if (rc != ZEUS_OK) {
        zpy_raise(rc, PyExc_ValueError);
        goto done;
    }
    result = Py_BuildValue("{s:I,s:d,s:d,s:d,s:N,s:I,s:I,s:I,s:d}", "ranks", m.ranks, "time",
                           m.time_s, "span", m.span_s, "clock_skew_bound", m.clock_skew_bound_s,
                           "total_energy", float_or_none(m.total_energy_j), "gpu_count",
                           m.gpu_count, "readings", m.readings, "duplicates", m.duplicates,
                           "duplicate_spread", m.duplicate_spread_j);
done:
    PyMem_Free(parts);
    PyMem_Free(readings);
    return result;
}

PyMethodDef zpy_job_window_methods[] = {
    {"job_window_combine", py_job_window_combine, METH_VARARGS,
     "job_window_combine($module, parts, readings, /)\n--\n\nCombines ranks' windows "
     "(zeus/job_window.h): (parts, readings) -> dict."},
    {NULL, NULL, 0, NULL},
};
