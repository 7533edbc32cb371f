/* zeus._zeus: the CPython extension over libzeus (the Python face's hot path).
 *
 * The Python package (python/zeus/) gives the original's names and signatures; this module does
 * the work: devices, monitor windows, measurements, the power sampler and the power-limit
 * optimizer. The GIL is released around every call into libzeus that may block (device calls,
 * synchronisation, sampler start/stop). Python callbacks libzeus calls (synchronisation, custom
 * selectors, logging) take the GIL themselves; an exception raised in one is kept and raised
 * when the libzeus call returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "zeus/sim.h"
#include "zeus/zeus.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if PY_VERSION_HEX >= 0x030D0000
#define ZEUSPY_FINALIZING() Py_IsFinalizing()
#else
#define ZEUSPY_FINALIZING() _Py_IsFinalizing()
#endif

/* ---- Module state (one interpreter) ---- */
static zeus_devices *g_devices; /* opened on first use, kept for the process */
static PyObject *g_error_base;  /* zeus.exception.ZeusBaseError, set by the package */
static PyObject *g_log_handler; /* callable(level:int, message:str) or NULL */
static PyObject *MeasurementType_obj;

/* Raises the Python exception for a libzeus error code. kind: the exception class to use for
 * "expected" codes (ValueError for invalid arguments), NULL for the default mapping. */
static PyObject *raise_zeus(int rc, PyObject *kind)
{
    const char *detail = zeus_last_error();
    const char *msg = detail && *detail ? detail : zeus_strerror(rc);
    PyObject *exc = kind;
    if (!exc) {
        switch (rc) {
        case ZEUS_EINVAL:
        case ZEUS_ERANGE:
        case ZEUS_EEXIST:
        case ZEUS_ENOENT:
            exc = PyExc_ValueError;
            break;
        case ZEUS_ENOMEM:
            return PyErr_NoMemory();
        case ZEUS_EPERM:
            exc = PyExc_RuntimeError;
            break;
        case ZEUS_EPARSE:
            exc = PyExc_ValueError;
            break;
        default:
            exc = g_error_base ? g_error_base : PyExc_RuntimeError;
            break;
        }
    }
    PyObject *args = Py_BuildValue("(s)", msg);
    if (!args)
        return NULL;
    PyObject *e = PyObject_Call(exc, args, NULL);
    Py_DECREF(args);
    if (!e)
        return NULL;
    /* The libzeus code as an attribute, for tests and for users that branch on it. */
    PyObject *code = PyUnicode_FromString(zeus_error_name(rc));
    if (code) {
        PyObject_SetAttrString(e, "zeus_error", code);
        Py_DECREF(code);
    }
    PyErr_Clear();
    PyErr_SetObject((PyObject *)Py_TYPE(e), e);
    Py_DECREF(e);
    return NULL;
}

static zeus_devices *devices_get(void)
{
    if (g_devices)
        return g_devices;
    zeus_devices *d = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_devices_open(&d);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK) {
        raise_zeus(rc, g_error_base);
        return NULL;
    }
    if (g_devices) { /* another thread won while the GIL was released */
        zeus_devices_close(d);
        return g_devices;
    }
    g_devices = d;
    return d;
}

/* ---- Logging into Python's logging module ---- */
static void log_to_python(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    if (!Py_IsInitialized() || ZEUSPY_FINALIZING())
        return;
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *handler = g_log_handler;
    if (handler) {
        PyObject *saved_type, *saved_value, *saved_tb;
        PyErr_Fetch(&saved_type, &saved_value, &saved_tb); /* logging must not eat an error */
        Py_INCREF(handler);
        PyObject *r = PyObject_CallFunction(handler, "is", (int)level, message);
        if (!r)
            PyErr_Clear();
        Py_XDECREF(r);
        Py_DECREF(handler);
        PyErr_Restore(saved_type, saved_value, saved_tb);
    }
    PyGILState_Release(st);
}

static PyObject *py_set_log_handler(PyObject *self, PyObject *handler)
{
    (void)self;
    if (handler == Py_None) {
        zeus_set_log_callback(NULL, NULL);
        Py_CLEAR(g_log_handler);
        Py_RETURN_NONE;
    }
    if (!PyCallable_Check(handler))
        return PyErr_Format(PyExc_TypeError, "the log handler must be callable");
    Py_INCREF(handler);
    Py_XSETREF(g_log_handler, handler);
    zeus_set_log_callback(log_to_python, NULL);
    Py_RETURN_NONE;
}

static PyObject *py_set_log_level(PyObject *self, PyObject *arg)
{
    (void)self;
    long level = PyLong_AsLong(arg);
    if (level == -1 && PyErr_Occurred())
        return NULL;
    if (level < ZEUS_LOG_ERROR || level > ZEUS_LOG_DEBUG)
        return PyErr_Format(PyExc_ValueError, "log level %ld out of range", level);
    zeus_set_log_level((zeus_log_level)level);
    Py_RETURN_NONE;
}

static PyObject *py_set_error_base(PyObject *self, PyObject *cls)
{
    (void)self;
    Py_INCREF(cls);
    Py_XSETREF(g_error_base, cls);
    Py_RETURN_NONE;
}

/* ---- Devices ---- */
static int gpu_arg(PyObject *arg, unsigned *gpu)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    zeus_devices *d = devices_get();
    if (!d)
        return -1;
    if (v < 0 || (unsigned long)v >= zeus_gpu_count(d)) {
        PyErr_Format(PyExc_IndexError, "GPU index %ld out of range (%u GPUs)", v,
                     zeus_gpu_count(d));
        return -1;
    }
    *gpu = (unsigned)v;
    return 0;
}

static PyObject *py_gpu_count(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = devices_get();
    return d ? PyLong_FromUnsignedLong(zeus_gpu_count(d)) : NULL;
}

static PyObject *py_gpu_backend(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = devices_get();
    if (!d)
        return NULL;
    const char *b = zeus_devices_gpu_backend(d);
    if (!b)
        Py_RETURN_NONE;
    return PyUnicode_FromString(b);
}

/* Why there are no GPUs (or a note about the backend in use). */
static PyObject *py_backend_reasons(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = devices_get();
    if (!d)
        return NULL;
    PyObject *out = PyDict_New();
    for (size_t i = 0; out && i < zeus_devices_backend_count(d); i++) {
        zeus_backend_status s;
        if (zeus_devices_backend(d, i, &s) != ZEUS_OK)
            continue;
        PyObject *v = Py_BuildValue("(Os)", s.available ? Py_True : Py_False, s.reason);
        if (!v || PyDict_SetItemString(out, s.name, v) < 0) {
            Py_XDECREF(v);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(v);
    }
    return out;
}

static PyObject *py_gpu_info(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    zeus_gpu_info info;
    int rc = zeus_gpu_get_info(g_devices, gpu, &info);
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    return Py_BuildValue("{s:I,s:I,s:s,s:s,s:s,s:O,s:O,s:I,s:I,s:I,s:O}", "index", info.index,
                         "device_index", info.device_index, "name", info.name, "uuid", info.uuid,
                         "architecture", zeus_gpu_arch_name(info.arch), "has_energy_counter",
                         info.has_energy_counter ? Py_True : Py_False, "power_limit_valid",
                         info.power_limit_valid ? Py_True : Py_False, "min_power_limit_mw",
                         info.min_power_limit_mw, "max_power_limit_mw", info.max_power_limit_mw,
                         "default_power_limit_mw", info.default_power_limit_mw, "simulated",
                         info.simulated ? Py_True : Py_False);
}

static PyObject *py_gpu_energy_mj(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    uint64_t mj = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_energy_mj(g_devices, gpu, &mj);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    return PyLong_FromUnsignedLongLong(mj);
}

static PyObject *py_gpu_power(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    zeus_gpu_power p;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_read_power(g_devices, gpu, &p);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    PyObject *instant =
        p.instant_valid ? PyLong_FromUnsignedLong(p.instant_mw) : Py_NewRef(Py_None);
    PyObject *average =
        p.average_valid ? PyLong_FromUnsignedLong(p.average_mw) : Py_NewRef(Py_None);
    return Py_BuildValue("{s:I,s:N,s:N}", "usage_mw", p.usage_mw, "instant_mw", instant,
                         "average_mw", average);
}

static PyObject *py_gpu_power_limit_mw(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu, mw = 0;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_power_limit_mw(g_devices, gpu, &mw);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    return PyLong_FromUnsignedLong(mw);
}

static PyObject *py_gpu_set_power_limit_mw(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *g;
    unsigned mw;
    unsigned gpu;
    if (!PyArg_ParseTuple(args, "OI", &g, &mw) || gpu_arg(g, &gpu) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_set_power_limit_mw(g_devices, gpu, mw);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *py_gpu_set_persistence_mode(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *g;
    int enabled;
    unsigned gpu;
    if (!PyArg_ParseTuple(args, "Op", &g, &enabled) || gpu_arg(g, &gpu) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_set_persistence_mode(g_devices, gpu, enabled);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    Py_RETURN_NONE;
}

/* (gpu, domain, min MHz, max MHz): domain 0 locks the GPU clocks, 1 the memory clocks. */
static PyObject *py_gpu_set_locked_clocks(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *g;
    int domain;
    unsigned gpu, min_mhz, max_mhz;
    if (!PyArg_ParseTuple(args, "OiII", &g, &domain, &min_mhz, &max_mhz) || gpu_arg(g, &gpu) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_set_locked_clocks(g_devices, gpu, (zeus_clock_domain)domain, min_mhz, max_mhz);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *py_gpu_reset_locked_clocks(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *g;
    int domain;
    unsigned gpu;
    if (!PyArg_ParseTuple(args, "Oi", &g, &domain) || gpu_arg(g, &gpu) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_reset_locked_clocks(g_devices, gpu, (zeus_clock_domain)domain);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *py_gpu_persistence_mode(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    bool on = false;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_persistence_mode(g_devices, gpu, &on);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    return PyBool_FromLong(on);
}

static PyObject *py_check_homogeneous(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = devices_get();
    if (!d)
        return NULL;
    int rc = zeus_gpu_check_homogeneous(d, NULL, 0);
    if (rc != ZEUS_OK)
        return raise_zeus(rc, g_error_base);
    Py_RETURN_NONE;
}

/* Simulated GPUs (ZEUS_DEVICE=sim): queue one training step, like a kernel launch. */
static PyObject *py_sim_launch_step(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    int rc = zeus_sim_launch_step(g_devices, gpu, NULL);
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    Py_RETURN_NONE;
}

/* Waits for a simulated GPU's queued steps (torch.cuda.synchronize's part for sim GPUs). */
static PyObject *py_sim_synchronize(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_sim_synchronize(g_devices, gpu);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *py_cpu_count(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = devices_get();
    return d ? PyLong_FromUnsignedLong(zeus_cpu_count(d)) : NULL;
}

static int cpu_arg(PyObject *arg, unsigned *cpu)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    zeus_devices *d = devices_get();
    if (!d)
        return -1;
    if (v < 0 || (unsigned long)v >= zeus_cpu_count(d)) {
        PyErr_Format(PyExc_IndexError, "CPU index %ld out of range (%u CPU packages)", v,
                     zeus_cpu_count(d));
        return -1;
    }
    *cpu = (unsigned)v;
    return 0;
}

static PyObject *py_cpu_info(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned cpu;
    zeus_cpu_info info;
    if (cpu_arg(arg, &cpu) < 0)
        return NULL;
    int rc = zeus_cpu_get_info(g_devices, cpu, &info);
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    return Py_BuildValue("{s:I,s:s,s:O}", "index", info.index, "name", info.name, "has_dram",
                         info.has_dram ? Py_True : Py_False);
}

static PyObject *py_cpu_energy(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned cpu;
    zeus_cpu_energy e;
    int rc;
    if (cpu_arg(arg, &cpu) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_cpu_read_energy(g_devices, cpu, &e);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    PyObject *dram = e.dram_valid ? PyLong_FromUnsignedLongLong(e.dram_uj) : Py_NewRef(Py_None);
    return Py_BuildValue("{s:K,s:N}", "package_uj", (unsigned long long)e.package_uj, "dram_uj",
                         dram);
}

static PyObject *py_gpu_temperature_c(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned gpu, c = 0;
    int rc;
    if (gpu_arg(arg, &gpu) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_temperature_c(g_devices, gpu, &c);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL);
    return PyLong_FromUnsignedLong(c);
}

static PyObject *py_zeus_cost(PyObject *self, PyObject *args)
{
    (void)self;
    double e, t, eta, p;
    if (!PyArg_ParseTuple(args, "dddd", &e, &t, &eta, &p))
        return NULL;
    return PyFloat_FromDouble(zeus_cost(e, t, eta, p));
}

/* ---- Measurement ---- */
typedef struct {
    PyObject_HEAD double time;
    double start_time;
    bool cancelled;
    unsigned gpu_count;
    zeus_gpu_measurement *gpus; /* NULL for one built from Python */
    unsigned cpu_count;
    zeus_cpu_measurement *cpus;
    PyObject *energy; /* dict, built on first access */
    PyObject *cpu_energy;
    PyObject *dram_energy;
} MeasurementObject;

static PyTypeObject MeasurementType;

static void measurement_dealloc(MeasurementObject *self)
{
    free(self->gpus);
    free(self->cpus);
    Py_XDECREF(self->energy);
    Py_XDECREF(self->cpu_energy);
    Py_XDECREF(self->dram_energy);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Copies a libzeus measurement into a new Python object. */
static PyObject *measurement_from(const zeus_measurement *m)
{
    MeasurementObject *o = PyObject_New(MeasurementObject, &MeasurementType);
    if (!o)
        return NULL;
    o->time = zeus_measurement_time_s(m);
    o->start_time = zeus_measurement_start_time_s(m);
    o->cancelled = zeus_measurement_cancelled(m);
    o->gpu_count = zeus_measurement_gpu_count(m);
    o->cpu_count = zeus_measurement_cpu_count(m);
    o->gpus = NULL;
    o->cpus = NULL;
    o->energy = o->cpu_energy = o->dram_energy = NULL;
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
    if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(b, &MeasurementType))
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

static PyGetSetDef measurement_getset[] = {
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

static PyTypeObject MeasurementType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus.monitor.Measurement",
    .tp_basicsize = sizeof(MeasurementObject),
    .tp_dealloc = (destructor)measurement_dealloc,
    .tp_repr = (reprfunc)measurement_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Measurement(time, energy): time (s) and energy (J per GPU index) of a window.",
    .tp_richcompare = measurement_richcompare,
    .tp_getset = measurement_getset,
    .tp_init = (initproc)measurement_init,
    .tp_new = PyType_GenericNew,
};

/* ---- Monitor ---- */
typedef struct {
    PyObject_HEAD zeus_monitor *monitor;
    zeus_measurement *scratch; /* reused by one call at a time (scratch_busy, under the GIL) */
    bool scratch_busy;
    int inflight;   /* calls running with the GIL released (close() must not free under them) */
    int optimizers; /* live optimizers bound to this monitor (they must go first) */
    PyObject *sync; /* callable(gpu) or NULL */
    PyObject *sync_error;  /* exception raised by sync, re-raised after the call */
    PyObject *exists_exc;  /* exception classes for a duplicate begin / unknown end */
    PyObject *missing_exc; /* (ValueError for ZeusMonitor, RuntimeError for the replay) */
    PyObject *gpu_indices; /* list */
    PyObject *cpu_indices; /* list */
    PyObject *dict;
    PyObject *weaklist;
    pid_t owner_pid;
} MonitorObject;

static PyTypeObject MonitorType;

static void monitor_sync(unsigned gpu, void *user)
{
    MonitorObject *self = user;
    PyGILState_STATE st = PyGILState_Ensure();
    if (!self->sync_error && self->sync) {
        PyObject *r = PyObject_CallFunction(self->sync, "I", gpu);
        if (!r) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_NormalizeException(&t, &v, &tb);
            if (tb)
                PyException_SetTraceback(v, tb);
            self->sync_error = v;
            Py_XDECREF(t);
            Py_XDECREF(tb);
        }
        Py_XDECREF(r);
    }
    PyGILState_Release(st);
}

static int raise_sync_error(MonitorObject *self)
{
    if (!self->sync_error)
        return 0;
    PyObject *v = self->sync_error;
    self->sync_error = NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(v), v);
    Py_DECREF(v);
    return -1;
}

static int index_list(PyObject *seq, unsigned *out, int *count, int max, const char *what)
{
    if (seq == Py_None) {
        *count = -1;
        return 0;
    }
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > max) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "at most %d %s", max, what);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        if (v < 0) {
            Py_DECREF(fast);
            PyErr_Format(PyExc_IndexError, "negative index %ld in %s", v, what);
            return -1;
        }
        out[i] = (unsigned)v;
    }
    *count = (int)n;
    Py_DECREF(fast);
    return 0;
}

static int monitor_init(MonitorObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {
        "gpu_indices", "cpu_indices",       "approx_instant_energy", "log_file",       "sync",
        "replay_log",  "match_window_name", "measure_update_period", "sampler_period", "log_append",
        NULL};
    PyObject *gpus = Py_None, *cpus = Py_None, *log = Py_None, *sync = Py_None, *replay = Py_None;
    int approx = 0, match = 1, measure = 1, append = 0;
    double sampler_period = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOpOOOppdp:Monitor", names, &gpus, &cpus, &approx,
                                     &log, &sync, &replay, &match, &measure, &sampler_period,
                                     &append))
        return -1;
    if (self->monitor) {
        PyErr_SetString(PyExc_RuntimeError, "the monitor is already initialised");
        return -1;
    }
    zeus_devices *d = devices_get();
    if (!d)
        return -1;
    unsigned gidx[ZEUS_MAX_GPUS], cidx[ZEUS_MAX_CPUS];
    int gcount, ccount;
    if (index_list(gpus, gidx, &gcount, ZEUS_MAX_GPUS, "gpu_indices") < 0 ||
        index_list(cpus, cidx, &ccount, ZEUS_MAX_CPUS, "cpu_indices") < 0)
        return -1;
    if (ccount < 0)
        ccount = 0; /* the original monitors no CPU unless asked */
    for (int i = 0; i < gcount; i++)
        if (gidx[i] >= zeus_gpu_count(d)) {
            PyErr_Format(PyExc_IndexError, "GPU index %u out of range (%u GPUs)", gidx[i],
                         zeus_gpu_count(d));
            return -1;
        }
    PyObject *log_bytes = NULL, *replay_bytes = NULL;
    if (log != Py_None && !PyUnicode_FSConverter(log, &log_bytes))
        return -1;
    if (replay != Py_None && !PyUnicode_FSConverter(replay, &replay_bytes)) {
        Py_XDECREF(log_bytes);
        return -1;
    }
    if (sync != Py_None) {
        Py_INCREF(sync);
        Py_XSETREF(self->sync, sync);
    }
    int rc;
    zeus_monitor *m = NULL;
    if (replay_bytes) {
        const char *path = PyBytes_AS_STRING(replay_bytes);
        Py_BEGIN_ALLOW_THREADS
        rc = zeus_monitor_open_replay(d, path, match, &m);
        Py_END_ALLOW_THREADS
    } else {
        zeus_monitor_options o;
        zeus_monitor_options_init(&o);
        o.gpu_indices = gidx;
        o.gpu_count = gcount;
        o.cpu_indices = cidx;
        o.cpu_count = ccount;
        o.approx_instant_energy = approx;
        o.log_file = log_bytes ? PyBytes_AS_STRING(log_bytes) : NULL;
        o.log_append = append;
        o.sync = self->sync ? monitor_sync : NULL;
        o.sync_user = self;
        o.measure_update_period = measure;
        o.sampler_period_s = sampler_period;
        Py_BEGIN_ALLOW_THREADS
        rc = zeus_monitor_open(d, &o, &m);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(log_bytes);
    Py_XDECREF(replay_bytes);
    if (rc != ZEUS_OK)
        return raise_zeus(rc, NULL), -1;
    self->monitor = m;
    self->owner_pid = getpid();
    self->scratch = zeus_measurement_new();
    if (!self->scratch)
        return PyErr_NoMemory(), -1;
    PyObject *gl = PyList_New(zeus_monitor_gpu_count(m));
    for (unsigned i = 0; gl && i < zeus_monitor_gpu_count(m); i++)
        PyList_SET_ITEM(gl, i, PyLong_FromUnsignedLong(zeus_monitor_gpu_index(m, i)));
    if (!gl)
        return -1;
    Py_XSETREF(self->gpu_indices, gl);
    PyObject *cl = PyList_New(ccount);
    for (int i = 0; cl && i < ccount; i++)
        PyList_SET_ITEM(cl, i, PyLong_FromUnsignedLong(cidx[i]));
    if (!cl)
        return -1;
    Py_XSETREF(self->cpu_indices, cl);
    bool is_replay = replay_bytes != NULL;
    Py_XSETREF(self->exists_exc, Py_NewRef(is_replay ? PyExc_RuntimeError : PyExc_ValueError));
    Py_XSETREF(self->missing_exc, Py_NewRef(is_replay ? PyExc_RuntimeError : PyExc_ValueError));
    return 0;
}

static void monitor_close_now(MonitorObject *self)
{
    if (self->monitor) {
        zeus_monitor *m = self->monitor;
        self->monitor = NULL;
        Py_BEGIN_ALLOW_THREADS
        zeus_monitor_close(m);
        Py_END_ALLOW_THREADS
    }
    zeus_measurement_free(self->scratch);
    self->scratch = NULL;
}

static int monitor_traverse(MonitorObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->sync);
    Py_VISIT(self->dict);
    return 0;
}

static int monitor_clear(MonitorObject *self)
{
    Py_CLEAR(self->sync);
    Py_CLEAR(self->dict);
    return 0;
}

static void monitor_dealloc(MonitorObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weaklist)
        PyObject_ClearWeakRefs((PyObject *)self);
    monitor_close_now(self);
    monitor_clear(self);
    Py_CLEAR(self->sync_error);
    Py_CLEAR(self->exists_exc);
    Py_CLEAR(self->missing_exc);
    Py_CLEAR(self->gpu_indices);
    Py_CLEAR(self->cpu_indices);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int monitor_ready(MonitorObject *self)
{
    if (self->monitor)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "the monitor is closed");
    return -1;
}

/* begin_window(key, sync_execution=True, *, sync_cuda=None, restart=False) and
 * end_window(key, sync_execution=True, cancel=False, *, sync_cuda=None): parsed by hand, since
 * they run every training step. */
static int parse_window_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                             const char *key_names[], int n_pos, PyObject **out, int n_out)
{
    for (int i = 0; i < n_out; i++)
        out[i] = NULL;
    if (nargs > n_pos) { /* none is fine: key may be given by name, as in the original */
        PyErr_Format(PyExc_TypeError, "expected at most %d positional arguments, got %zd", n_pos,
                     nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int found = -1;
        for (int i = 0; i < n_out; i++)
            if (PyUnicode_CompareWithASCIIString(name, key_names[i]) == 0) {
                found = i;
                break;
            }
        if (found < 0) {
            PyErr_Format(PyExc_TypeError, "unexpected keyword argument '%U'", name);
            return -1;
        }
        if (out[found]) {
            PyErr_Format(PyExc_TypeError, "argument '%U' given twice", name);
            return -1;
        }
        out[found] = args[nargs + k];
    }
    if (!out[0]) {
        PyErr_SetString(PyExc_TypeError, "missing the window name");
        return -1;
    }
    return 0;
}

static int truth(PyObject *o, int dflt)
{
    return o ? PyObject_IsTrue(o) : dflt;
}

/* sync_execution and sync_cuda both given: the one that is not None wins; default True. */
static int sync_flag(PyObject *sync_execution, PyObject *sync_cuda)
{
    if (sync_cuda && sync_cuda != Py_None)
        return PyObject_IsTrue(sync_cuda);
    if (sync_execution && sync_execution != Py_None)
        return PyObject_IsTrue(sync_execution);
    return 1;
}

/* What begin_window and end_window were asked: (key, sync_execution=True, FLAG=False, *,
 * sync_cuda=None), FLAG being restart (keyword-only: n_pos 2) or cancel (positional: n_pos 3);
 * names: those four names in that order. Also checks that the monitor is open. */
typedef struct {
    PyObject *key_obj;
    const char *key;
    int sync, flag;
} window_call;

static int window_call_parse(MonitorObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames, const char *names[], int n_pos, window_call *c)
{
    PyObject *a[4];
    if (parse_window_args(args, nargs, kwnames, names, n_pos, a, 4) < 0 || monitor_ready(self) < 0)
        return -1;
    c->key_obj = a[0];
    if (!(c->key = PyUnicode_AsUTF8(a[0])))
        return -1;
    c->sync = sync_flag(a[1], a[3]);
    c->flag = truth(a[2], 0);
    return c->sync < 0 || c->flag < 0 ? -1 : 0;
}

static PyObject *window_error(MonitorObject *self, int rc, PyObject *key, bool begin)
{
    if (rc == ZEUS_EEXIST && begin)
        return raise_zeus(rc, self->exists_exc);
    if (rc == ZEUS_ENOENT || rc == ZEUS_ESTATE)
        return raise_zeus(rc, self->missing_exc);
    (void)key;
    return raise_zeus(rc, NULL);
}

/* The measurement a call fills with the GIL released: the monitor's own, or a fresh one when
 * another thread's call is using it (windows may be ended from several threads at once). */
static zeus_measurement *scratch_take(MonitorObject *self)
{
    if (!self->scratch_busy) {
        self->scratch_busy = true;
        return self->scratch;
    }
    zeus_measurement *m = zeus_measurement_new();
    if (!m)
        PyErr_NoMemory();
    return m;
}

static void scratch_give(MonitorObject *self, zeus_measurement *m)
{
    if (m == self->scratch)
        self->scratch_busy = false;
    else
        zeus_measurement_free(m);
}

static PyObject *monitor_begin_window(MonitorObject *self, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames)
{
    static const char *names[] = {"key", "sync_execution", "restart", "sync_cuda"};
    window_call c;
    if (window_call_parse(self, args, nargs, kwnames, names, 2, &c) < 0)
        return NULL;
    const char *key = c.key;
    int sync = c.sync, restart = c.flag, rc;
    zeus_monitor *m = self->monitor;
    zeus_measurement *scratch = scratch_take(self);
    if (!scratch)
        return NULL;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_monitor_begin_window(m, key, sync);
    if (rc == ZEUS_EEXIST && restart) {
        rc = zeus_monitor_end_window(m, key, false, true, scratch);
        if (rc == ZEUS_OK)
            rc = zeus_monitor_begin_window(m, key, sync);
    }
    Py_END_ALLOW_THREADS
    if (self->sync_error && rc == ZEUS_OK) {
        /* The framework failed to synchronise: the window is not begun. */
        Py_BEGIN_ALLOW_THREADS
        zeus_monitor_end_window(m, key, false, true, scratch);
        Py_END_ALLOW_THREADS
    }
    self->inflight--;
    scratch_give(self, scratch);
    if (raise_sync_error(self) < 0)
        return NULL;
    if (rc != ZEUS_OK)
        return window_error(self, rc, c.key_obj, true);
    Py_RETURN_NONE;
}

static PyObject *monitor_end_window(MonitorObject *self, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    static const char *names[] = {"key", "sync_execution", "cancel", "sync_cuda"};
    window_call c;
    if (window_call_parse(self, args, nargs, kwnames, names, 3, &c) < 0)
        return NULL;
    const char *key = c.key;
    int sync = c.sync, cancel = c.flag, rc;
    zeus_monitor *m = self->monitor;
    zeus_measurement *r = scratch_take(self);
    if (!r)
        return NULL;
    self->inflight++;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_monitor_end_window(m, key, sync, cancel, r);
    Py_END_ALLOW_THREADS
    self->inflight--;
    PyObject *result = rc == ZEUS_OK ? measurement_from(r) : NULL;
    scratch_give(self, r);
    if (raise_sync_error(self) < 0) {
        Py_XDECREF(result);
        return NULL;
    }
    if (rc != ZEUS_OK)
        return window_error(self, rc, c.key_obj, false);
    return result;
}

static PyObject *monitor_close(MonitorObject *self, PyObject *unused)
{
    (void)unused;
    if (self->inflight) {
        PyErr_SetString(PyExc_RuntimeError, "the monitor is in use by another thread");
        return NULL;
    }
    if (self->optimizers) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a power-limit optimizer uses this monitor: close the optimizer first");
        return NULL;
    }
    monitor_close_now(self);
    Py_RETURN_NONE;
}

static PyObject *monitor_update_period(MonitorObject *self, PyObject *arg)
{
    if (monitor_ready(self) < 0)
        return NULL;
    long gpu = PyLong_AsLong(arg);
    if (gpu == -1 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(zeus_monitor_update_period_s(self->monitor, (unsigned)gpu));
}

static PyObject *monitor_wait_update_period(MonitorObject *self, PyObject *unused)
{
    (void)unused;
    if (monitor_ready(self) < 0)
        return NULL;
    zeus_monitor *m = self->monitor;
    Py_BEGIN_ALLOW_THREADS
    zeus_monitor_wait_update_period(m);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *monitor_get_gpu_indices(MonitorObject *self, void *c)
{
    (void)c;
    if (!self->gpu_indices)
        return PyList_New(0);
    return PyList_GetSlice(self->gpu_indices, 0, PY_SSIZE_T_MAX);
}

static PyObject *monitor_get_cpu_indices(MonitorObject *self, void *c)
{
    (void)c;
    if (!self->cpu_indices)
        return PyList_New(0);
    return PyList_GetSlice(self->cpu_indices, 0, PY_SSIZE_T_MAX);
}

static PyObject *monitor_get_closed(MonitorObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->monitor == NULL);
}

static PyMethodDef monitor_methods[] = {
    {"begin_window", (PyCFunction)(void (*)(void))monitor_begin_window,
     METH_FASTCALL | METH_KEYWORDS,
     "begin_window(key, sync_execution=True, *, sync_cuda=None, restart=False)"},
    {"end_window", (PyCFunction)(void (*)(void))monitor_end_window, METH_FASTCALL | METH_KEYWORDS,
     "end_window(key, sync_execution=True, cancel=False, *, sync_cuda=None) -> Measurement"},
    {"close", (PyCFunction)monitor_close, METH_NOARGS, "Stops the monitor's threads."},
    {"update_period", (PyCFunction)monitor_update_period, METH_O,
     "Measured energy-counter update period of a GPU (s); 0 if not known yet."},
    {"wait_update_period", (PyCFunction)monitor_wait_update_period, METH_NOARGS,
     "Waits for the background update-period measurement."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef monitor_getset[] = {
    {"gpu_indices", (getter)monitor_get_gpu_indices, NULL, "Monitored GPUs.", NULL},
    {"cpu_indices", (getter)monitor_get_cpu_indices, NULL, "Monitored CPU packages.", NULL},
    {"closed", (getter)monitor_get_closed, NULL, "The monitor was closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MonitorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.Monitor",
    .tp_basicsize = sizeof(MonitorObject),
    .tp_dealloc = (destructor)monitor_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "libzeus monitor (use zeus.monitor.ZeusMonitor).",
    .tp_traverse = (traverseproc)monitor_traverse,
    .tp_clear = (inquiry)monitor_clear,
    .tp_methods = monitor_methods,
    .tp_getset = monitor_getset,
    .tp_init = (initproc)monitor_init,
    .tp_new = PyType_GenericNew,
    .tp_dictoffset = offsetof(MonitorObject, dict),
    .tp_weaklistoffset = offsetof(MonitorObject, weaklist),
};

/* ---- PowerMonitor (sampler) ---- */
typedef struct {
    PyObject_HEAD zeus_sampler *sampler;
    PyObject *dict;
} SamplerObject;

static int sampler_init(SamplerObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"gpu_indices", "update_period", "cpu_indices", NULL};
    PyObject *gpus = Py_None, *period = Py_None, *cpus = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO:PowerMonitor", names, &gpus, &period, &cpus))
        return -1;
    zeus_devices *d = devices_get();
    if (!d)
        return -1;
    unsigned gidx[ZEUS_MAX_GPUS], cidx[ZEUS_MAX_CPUS];
    int gcount, ccount;
    if (index_list(gpus, gidx, &gcount, ZEUS_MAX_GPUS, "gpu_indices") < 0 ||
        index_list(cpus, cidx, &ccount, ZEUS_MAX_CPUS, "cpu_indices") < 0)
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
        return raise_zeus(rc, NULL), -1;
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

static PyObject *sampler_get_energy(SamplerObject *self, PyObject *args)
{
    double start, end;
    if (!PyArg_ParseTuple(args, "dd", &start, &end) || sampler_ready(self) < 0)
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
        return raise_zeus(rc, NULL);
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
        return raise_zeus(rc, NULL);
    return sampler_dict(self, p, true);
}

static PyObject *sampler_stop(SamplerObject *self, PyObject *unused)
{
    (void)unused;
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
    double since = -INFINITY;
    if (!PyArg_ParseTuple(args, "|d", &since) || sampler_ready(self) < 0)
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
        raise_zeus(rc, NULL);
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
     "_timeline(since=-inf) -> (times, {column: [W]}) of the kept samples"},
    {"get_energy", (PyCFunction)sampler_get_energy, METH_VARARGS,
     "get_energy(start, end) -> {gpu: J} or None"},
    {"get_power", (PyCFunction)(void (*)(void))sampler_get_power, METH_VARARGS | METH_KEYWORDS,
     "get_power(time=None) -> {gpu: W} or None"},
    {"stop", (PyCFunction)sampler_stop, METH_NOARGS, "Stops sampling."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sampler_getset[] = {
    {"update_period", (getter)sampler_get_update_period, NULL, "Sampling period (s).", NULL},
    {"gpu_indices", (getter)sampler_get_gpu_indices, NULL, "Sampled GPUs.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.Sampler",
    .tp_basicsize = sizeof(SamplerObject),
    .tp_dealloc = (destructor)sampler_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "libzeus power sampler (use zeus.monitor.PowerMonitor).",
    .tp_methods = sampler_methods,
    .tp_getset = sampler_getset,
    .tp_init = (initproc)sampler_init,
    .tp_new = PyType_GenericNew,
    .tp_dictoffset = offsetof(SamplerObject, dict),
};

/* ---- Power-limit optimizer ---- */
typedef struct {
    PyObject_HEAD zeus_power_limit_optimizer *plo;
    PyObject *monitor;  /* keeps the monitor alive */
    PyObject *selector; /* custom selector callable or NULL */
    PyObject *selector_error;
    PyObject *dict;
    PyObject *weaklist;
    pid_t owner_pid;
    int inflight; /* hooks running with the GIL released */
} OptimizerObject;

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
    if (rc != ZEUS_OK && PyErr_Occurred() && !self->selector_error) {
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
    PyGILState_Release(st);
    return rc;
}

/* Error after a hook: the monitor's sync or the selector's exception first, else libzeus's. */
static PyObject *optimizer_error(OptimizerObject *self, int rc)
{
    MonitorObject *mon = (MonitorObject *)self->monitor;
    if (raise_sync_error(mon) < 0)
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
    return raise_zeus(rc, rc == ZEUS_EPERM ? PyExc_RuntimeError : NULL);
}

static int optimizer_init(OptimizerObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"monitor",           "selector", "wait_steps",   "warmup_steps",
                            "profile_steps",     "pl_step",  "profile_path", "restore_on_exit",
                            "profile_gpu_model", NULL};
    PyObject *monitor, *selector = Py_None, *path = Py_None;
    int wait = 1, warmup = 10, profile = 40, step = 25, on_exit = 1, gpu_model = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|OiiiiOpp:Optimizer", names, &MonitorType,
                                     &monitor, &selector, &wait, &warmup, &profile, &step, &path,
                                     &on_exit, &gpu_model))
        return -1;
    if (self->plo) {
        PyErr_SetString(PyExc_RuntimeError, "the optimizer is already initialised");
        return -1;
    }
    MonitorObject *mon = (MonitorObject *)monitor;
    if (monitor_ready(mon) < 0)
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
    /* selector: None (default), ("energy",), ("time",), ("zeus_cost", eta, world_size),
     * ("max_slowdown", factor), or a callable(list of (W, J, s)) -> W. */
    if (selector != Py_None) {
        if (PyCallable_Check(selector)) {
            Py_INCREF(selector);
            Py_XSETREF(self->selector, selector);
            o.selector.kind = ZEUS_SELECTOR_CUSTOM;
            o.selector.fn = custom_selector;
            o.selector.user = self;
            o.selector.name = Py_TYPE(selector)->tp_name;
        } else {
            const char *kind;
            double x = 0;
            int ws = ZEUS_WORLD_SIZE_AUTO;
            if (!PyArg_ParseTuple(selector, "s|di", &kind, &x, &ws))
                return -1;
            int rc = ZEUS_OK;
            if (!strcmp(kind, "energy"))
                o.selector = zeus_selector_energy();
            else if (!strcmp(kind, "time"))
                o.selector = zeus_selector_time();
            else if (!strcmp(kind, "zeus_cost"))
                rc = zeus_selector_zeus_cost(x, ws, &o.selector);
            else if (!strcmp(kind, "max_slowdown"))
                rc = zeus_selector_max_slowdown(x, &o.selector);
            else
                return PyErr_Format(PyExc_ValueError, "unknown selector %s", kind), -1;
            if (rc != ZEUS_OK)
                return raise_zeus(rc, PyExc_ValueError), -1;
        }
    }
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
    Py_VISIT(self->dict);
    return 0;
}

static int optimizer_clear(OptimizerObject *self)
{
    /* The optimizer must go before its monitor: destroy first. */
    optimizer_destroy_now(self);
    Py_CLEAR(self->monitor);
    Py_CLEAR(self->selector);
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
            "The " #name " hook (extra arguments, such as Hugging Face's, are ignored)."           \
    }
static PyMethodDef optimizer_methods[] = {
    HOOK_DEF(on_train_begin),
    HOOK_DEF(on_train_end),
    HOOK_DEF(on_epoch_begin),
    HOOK_DEF(on_epoch_end),
    HOOK_DEF(on_step_begin),
    HOOK_DEF(on_step_end),
    {"restore", (PyCFunction)optimizer_restore, METH_NOARGS,
     "Puts every GPU's limit and persistence mode back now (a later hook re-applies them); "
     "nothing in a forked child."},
    {"close", (PyCFunction)optimizer_close, METH_NOARGS,
     "Puts every GPU back and frees the optimizer."},
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

static PyTypeObject OptimizerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.Optimizer",
    .tp_basicsize = sizeof(OptimizerObject),
    .tp_dealloc = (destructor)optimizer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "libzeus power-limit optimizer (use zeus.optimizer.GlobalPowerLimitOptimizer).",
    .tp_traverse = (traverseproc)optimizer_traverse,
    .tp_clear = (inquiry)optimizer_clear,
    .tp_methods = optimizer_methods,
    .tp_getset = optimizer_getset,
    .tp_init = (initproc)optimizer_init,
    .tp_new = PyType_GenericNew,
    .tp_dictoffset = offsetof(OptimizerObject, dict),
    .tp_weaklistoffset = offsetof(OptimizerObject, weaklist),
};

/* ---- Plots (zeus/plot.h) ---- */

/* plot_power_svg(times, columns, windows=(), width=0, height=0, title=None) -> str: libzeus's
 * SVG picture. columns: [(name, [W per time])]; windows: [(name, start_s, end_s)]. */
static PyObject *py_plot_power_svg(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *names[] = {"times", "columns", "windows", "width", "height", "title", NULL};
    PyObject *times_o, *cols_o, *wins_o = Py_None;
    unsigned width = 0, height = 0;
    const char *title = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OIIz:plot_power_svg", names, &times_o, &cols_o,
                                     &wins_o, &width, &height, &title))
        return NULL;
    PyObject *times = NULL, *cols = NULL, *wins = NULL, *result = NULL;
    double *t = NULL, *p = NULL;
    const char **cnames = NULL;
    zeus_plot_window *w = NULL;
    char *svg = NULL;
    if (!(times = PySequence_Fast(times_o, "times must be a sequence")) ||
        !(cols = PySequence_Fast(cols_o, "columns must be a sequence of (name, values)")) ||
        (wins_o != Py_None &&
         !(wins = PySequence_Fast(wins_o, "windows must be a sequence of (name, start, end)"))))
        goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(times), nc = PySequence_Fast_GET_SIZE(cols),
               nw = wins ? PySequence_Fast_GET_SIZE(wins) : 0;
    if (nc > ZEUS_SAMPLER_MAX_COLUMNS) {
        PyErr_Format(PyExc_ValueError, "at most %d columns", ZEUS_SAMPLER_MAX_COLUMNS);
        goto done;
    }
    t = PyMem_Calloc(n ? (size_t)n : 1, sizeof *t);
    p = PyMem_Calloc((n ? (size_t)n : 1) * (nc ? (size_t)nc : 1), sizeof *p);
    cnames = PyMem_Calloc(nc ? (size_t)nc : 1, sizeof *cnames);
    w = PyMem_Calloc(nw ? (size_t)nw : 1, sizeof *w);
    if (!t || !p || !cnames || !w) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < n; k++)
        if ((t[k] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(times, k))) == -1 && PyErr_Occurred())
            goto done;
    for (Py_ssize_t i = 0; i < nc; i++) {
        PyObject *name, *values_o, *values;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(cols, i), "UO;columns: (name, values)",
                              &name, &values_o) ||
            !(cnames[i] = PyUnicode_AsUTF8(name)) ||
            !(values = PySequence_Fast(values_o, "a column's values must be a sequence")))
            goto done;
        if (PySequence_Fast_GET_SIZE(values) != n) {
            PyErr_Format(PyExc_ValueError, "column '%s' has %zd values for %zd times", cnames[i],
                         PySequence_Fast_GET_SIZE(values), n);
            Py_DECREF(values);
            goto done;
        }
        for (Py_ssize_t k = 0; k < n; k++) {
            PyObject *v = PySequence_Fast_GET_ITEM(values, k);
            p[k * nc + i] = v == Py_None ? NAN : PyFloat_AsDouble(v);
            if (p[k * nc + i] == -1 && PyErr_Occurred()) {
                Py_DECREF(values);
                goto done;
            }
        }
        Py_DECREF(values);
    }
    for (Py_ssize_t i = 0; i < nw; i++)
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(wins, i), "sdd;windows: (name, start, end)",
                              &w[i].name, &w[i].start_s, &w[i].end_s))
            goto done;
    zeus_power_plot plot = {.times_s = t,
                            .power_w = p,
                            .count = (size_t)n,
                            .column_count = (unsigned)nc,
                            .column_names = cnames,
                            .windows = w,
                            .window_count = (size_t)nw,
                            .width_px = width,
                            .height_px = height,
                            .title = title};
    int rc = zeus_plot_power_svg(&plot, &svg);
    result = rc == ZEUS_OK ? PyUnicode_FromString(svg) : raise_zeus(rc, NULL);
done:
    zeus_free(svg);
    PyMem_Free(w);
    PyMem_Free(cnames);
    PyMem_Free(p);
    PyMem_Free(t);
    Py_XDECREF(wins);
    Py_XDECREF(cols);
    Py_XDECREF(times);
    return result;
}

/* write_file(path, data): libzeus's one writer (zeus/output.h): a regular file atomically, a
 * device, FIFO or a symlink's target in place. OSError with libzeus's reason. */
static PyObject *py_write_file(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *path = NULL;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "O&s*", PyUnicode_FSConverter, &path, &data))
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_write_file(PyBytes_AS_STRING(path), data.buf, (size_t)data.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    Py_DECREF(path);
    if (rc != ZEUS_OK)
        return raise_zeus(rc, PyExc_OSError);
    Py_RETURN_NONE;
}

/* read_windows(log_file) -> [(name, start_s, end_s)]: the windows of a ZeusMonitor log. */
static PyObject *py_read_windows(PyObject *mod, PyObject *arg)
{
    (void)mod;
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(arg, &path))
        return NULL;
    zeus_plot_window *w = NULL;
    size_t n = 0;
    int rc = zeus_plot_read_windows(PyBytes_AS_STRING(path), &w, &n);
    Py_DECREF(path);
    if (rc != ZEUS_OK)
        return raise_zeus(rc, rc == ZEUS_ENOENT ? PyExc_FileNotFoundError : NULL);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l && i < n; i++) {
        PyObject *item = Py_BuildValue("(sdd)", w[i].name, w[i].start_s, w[i].end_s);
        if (!item)
            Py_CLEAR(l);
        else
            PyList_SET_ITEM(l, (Py_ssize_t)i, item);
    }
    zeus_free(w);
    return l;
}

/* ---- Module ---- */
static PyMethodDef module_methods[] = {
    {"_set_log_handler", py_set_log_handler, METH_O, "callable(level, message) or None"},
    {"_set_log_level", py_set_log_level, METH_O, "0 error .. 3 debug"},
    {"_set_error_base", py_set_error_base, METH_O, "the base exception class"},
    {"gpu_count", py_gpu_count, METH_NOARGS, "GPUs visible (after CUDA_VISIBLE_DEVICES)."},
    {"gpu_backend", py_gpu_backend, METH_NOARGS, "'nvml', 'sim' or None."},
    {"backend_reasons", py_backend_reasons, METH_NOARGS, "{backend: (available, reason)}"},
    {"gpu_info", py_gpu_info, METH_O, "A GPU's static facts."},
    {"gpu_energy_mj", py_gpu_energy_mj, METH_O, "Cumulative energy counter (mJ)."},
    {"gpu_power", py_gpu_power, METH_O, "Power readings (mW)."},
    {"gpu_power_limit_mw", py_gpu_power_limit_mw, METH_O, "Current power limit (mW)."},
    {"gpu_set_power_limit_mw", py_gpu_set_power_limit_mw, METH_VARARGS, "(gpu, mW)"},
    {"gpu_set_persistence_mode", py_gpu_set_persistence_mode, METH_VARARGS, "(gpu, enabled)"},
    {"gpu_set_locked_clocks", py_gpu_set_locked_clocks, METH_VARARGS,
     "(gpu, domain (0 GPU, 1 memory), min MHz, max MHz)"},
    {"gpu_reset_locked_clocks", py_gpu_reset_locked_clocks, METH_VARARGS,
     "(gpu, domain (0 GPU, 1 memory))"},
    {"gpu_persistence_mode", py_gpu_persistence_mode, METH_O, "Persistence mode."},
    {"check_homogeneous", py_check_homogeneous, METH_NOARGS, "Raises if GPU models differ."},
    {"sim_launch_step", py_sim_launch_step, METH_O, "Queues a step on a simulated GPU."},
    {"sim_synchronize", py_sim_synchronize, METH_O, "Waits for a simulated GPU's steps."},
    {"cpu_count", py_cpu_count, METH_NOARGS, "CPU packages (RAPL)."},
    {"cpu_info", py_cpu_info, METH_O, "A CPU package's index, name, has_dram."},
    {"cpu_energy", py_cpu_energy, METH_O, "A CPU package's energy since open (uJ)."},
    {"gpu_temperature_c", py_gpu_temperature_c, METH_O, "GPU temperature (degrees C)."},
    {"zeus_cost", py_zeus_cost, METH_VARARGS, "zeus_cost(energy, time, eta_knob, max_power)"},
    {"plot_power_svg", (PyCFunction)(void (*)(void))py_plot_power_svg, METH_VARARGS | METH_KEYWORDS,
     "plot_power_svg(times, columns, windows=(), width=0, height=0, title=None) -> SVG text"},
    {"write_file", py_write_file, METH_VARARGS,
     "write_file(path, str or bytes): atomic for a regular file, in place for a device or FIFO"},
    {"read_windows", py_read_windows, METH_O,
     "read_windows(log_file) -> [(name, start_s, end_s)] of a ZeusMonitor log"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "zeus._zeus",
    "libzeus for Python (use the zeus package).",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__zeus(void);
PyMODINIT_FUNC PyInit__zeus(void)
{
    if (PyType_Ready(&MeasurementType) < 0 || PyType_Ready(&MonitorType) < 0 ||
        PyType_Ready(&SamplerType) < 0 || PyType_Ready(&OptimizerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    MeasurementType_obj = (PyObject *)&MeasurementType;
    if (PyModule_AddObjectRef(m, "Measurement", MeasurementType_obj) < 0 ||
        PyModule_AddObjectRef(m, "Monitor", (PyObject *)&MonitorType) < 0 ||
        PyModule_AddObjectRef(m, "Sampler", (PyObject *)&SamplerType) < 0 ||
        PyModule_AddObjectRef(m, "Optimizer", (PyObject *)&OptimizerType) < 0 ||
        PyModule_AddStringConstant(m, "libzeus_version", zeus_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
