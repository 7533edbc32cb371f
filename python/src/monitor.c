/* zeus._zeus: the monitor (zeus.monitor.ZeusMonitor and the replay monitor are Python classes
 * over it); begin_window and end_window are the hot path (see zeuspy.h). */
#include "zeuspy.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

/* Keeps the exception a callback raised, to be raised when the call returns (GIL held). */
static void keep_callback_error(MonitorObject *self)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb)
        PyException_SetTraceback(v, tb);
    self->sync_error = v;
    Py_XDECREF(t);
    Py_XDECREF(tb);
}

static void monitor_sync(unsigned gpu, void *user)
{
    MonitorObject *self = user;
    PyGILState_STATE st = PyGILState_Ensure();
    if (!self->sync_error && self->sync) {
        PyObject *r = PyObject_CallFunction(self->sync, "I", gpu);
        if (!r)
            keep_callback_error(self);
        Py_XDECREF(r);
    }
    PyGILState_Release(st);
}

/* Set while this thread is in begin_window or end_window. */
static _Thread_local bool in_window_call;

/* The window clock when the package passes one: `zeus.monitor.energy.time` replaced (the
 * original's tests patch it to count windows in whole seconds). It times the windows only:
 * libzeus's background threads (the power sampler of GPUs without an energy counter) keep the
 * steady clock, and do not take the test's ticks. */
static double monitor_clock(void *user)
{
    if (!in_window_call)
        return zeus_steady_time_s(NULL);
    MonitorObject *self = user;
    PyGILState_STATE st = PyGILState_Ensure();
    double now = NAN;
    if (!self->sync_error) {
        PyObject *r = PyObject_CallNoArgs(self->clock);
        now = r ? PyFloat_AsDouble(r) : NAN;
        if (PyErr_Occurred())
            keep_callback_error(self);
        Py_XDECREF(r);
    }
    PyGILState_Release(st);
    return now;
}

int zpy_raise_sync_error_now(MonitorObject *self)
{
    PyObject *v = self->sync_error;
    self->sync_error = NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(v), v);
    Py_DECREF(v);
    return -1;
}

/* The opened monitor becomes self's, with its index lists and error classes. */
static int monitor_adopt(MonitorObject *self, zeus_monitor *m, const unsigned *cidx, int ccount,
                         bool is_replay)
{
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
    Py_XSETREF(self->exists_exc, Py_NewRef(is_replay ? PyExc_RuntimeError : PyExc_ValueError));
    Py_XSETREF(self->missing_exc, Py_NewRef(is_replay ? PyExc_RuntimeError : PyExc_ValueError));
    return 0;
}

static int monitor_init(MonitorObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"gpu_indices",
                            "cpu_indices",
                            "approx_instant_energy",
                            "log_file",
                            "sync",
                            "replay_log",
                            "match_window_name",
                            "measure_update_period",
                            "sampler_period",
                            "log_append",
                            "clock",
                            NULL};
    PyObject *gpus = Py_None, *cpus = Py_None, *log = Py_None, *sync = Py_None, *replay = Py_None;
    PyObject *clock = Py_None;
    int approx = 0, match = 1, measure = 1, append = 0;
    double sampler_period = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOpOOOppdpO:Monitor", names, &gpus, &cpus, &approx,
                                     &log, &sync, &replay, &match, &measure, &sampler_period,
                                     &append, &clock))
        return -1;
    if (self->monitor) {
        PyErr_SetString(PyExc_RuntimeError, "the monitor is already initialised");
        return -1;
    }
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return -1;
    unsigned gidx[ZEUS_MAX_GPUS], cidx[ZEUS_MAX_CPUS];
    int gcount, ccount;
    if (zpy_index_list(gpus, gidx, &gcount, ZEUS_MAX_GPUS, "gpu_indices") < 0 ||
        zpy_index_list(cpus, cidx, &ccount, ZEUS_MAX_CPUS, "cpu_indices") < 0)
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
    if (clock != Py_None) {
        Py_INCREF(clock);
        Py_XSETREF(self->clock, clock);
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
        o.clock = self->clock ? monitor_clock : NULL;
        o.clock_user = self;
        o.measure_update_period = measure;
        o.sampler_period_s = sampler_period;
        Py_BEGIN_ALLOW_THREADS
        rc = zeus_monitor_open(d, &o, &m);
        Py_END_ALLOW_THREADS
    }
    bool is_replay = replay_bytes != NULL;
    Py_XDECREF(log_bytes);
    Py_XDECREF(replay_bytes);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL), -1;
    return monitor_adopt(self, m, cidx, ccount, is_replay);
}

/* Drops the PowerMonitor of cross_check(), detaching it from the monitor first. */
static void detach_sampler(MonitorObject *self)
{
    if (!self->check_sampler)
        return;
    if (self->monitor)
        zeus_monitor_cross_check(self->monitor, NULL, ZEUS_CROSS_CHECK_OFF);
    zpy_sampler_attach(self->check_sampler, -1);
    Py_CLEAR(self->check_sampler);
}

static void monitor_close_now(MonitorObject *self)
{
    detach_sampler(self);
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
    Py_VISIT(self->clock);
    Py_VISIT(self->zero_warned);
    Py_VISIT(self->dict);
    Py_VISIT(self->check_sampler);
    return 0;
}

static int monitor_clear(MonitorObject *self)
{
    detach_sampler(self);
    Py_CLEAR(self->sync);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->zero_warned);
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

int zpy_monitor_ready(MonitorObject *self)
{
    if (self->monitor)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "the monitor is closed");
    return -1;
}

/* begin_window(key, sync_execution=True, restart=False, *, sync_cuda=None) and
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
    if (parse_window_args(args, nargs, kwnames, names, n_pos, a, 4) < 0 ||
        zpy_monitor_ready(self) < 0)
        return -1;
    c->key_obj = a[0];
    if (!(c->key = zpy_text(a[0], "the window name")))
        return -1;
    c->sync = sync_flag(a[1], a[3]);
    c->flag = truth(a[2], 0);
    return c->sync < 0 || c->flag < 0 ? -1 : 0;
}

static PyObject *window_error(MonitorObject *self, int rc, PyObject *key, bool begin)
{
    if (rc == ZEUS_EEXIST && begin)
        return zpy_raise(rc, self->exists_exc);
    if (rc == ZEUS_ENOENT || rc == ZEUS_ESTATE)
        return zpy_raise(rc, self->missing_exc);
    (void)key;
    return zpy_raise(rc, NULL);
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
    if (window_call_parse(self, args, nargs, kwnames, names, 3, &c) < 0)
        return NULL;
    const char *key = c.key;
    int sync = c.sync, restart = c.flag, rc;
    zeus_monitor *m = self->monitor;
    zeus_measurement *scratch = scratch_take(self);
    if (!scratch)
        return NULL;
    self->inflight++;
    in_window_call = true;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_monitor_begin_window(m, key, sync);
    if (rc == ZEUS_EEXIST && restart) {
        rc = zeus_monitor_end_window(m, key, false, true, scratch);
        if (rc == ZEUS_OK)
            rc = zeus_monitor_begin_window(m, key, sync);
    }
    Py_END_ALLOW_THREADS
    in_window_call = false;
    if (self->sync_error && rc == ZEUS_OK) {
        /* The framework failed to synchronise: the window is not begun. */
        Py_BEGIN_ALLOW_THREADS
        zeus_monitor_end_window(m, key, false, true, scratch);
        Py_END_ALLOW_THREADS
    }
    self->inflight--;
    scratch_give(self, scratch);
    if (zpy_raise_sync_error(self) < 0)
        return NULL;
    if (rc != ZEUS_OK)
        return window_error(self, rc, c.key_obj, true);
    Py_RETURN_NONE;
}

/* The original's text, which its tests match. */
#define ZERO_ENERGY_WARNING                                                                        \
    "The energy consumption of one or more GPUs was measured as zero. This means that the time "   \
    "duration of the measurement window was shorter than the GPU's energy counter update "         \
    "period. Consider turning on the `approx_instant_energy` option in `ZeusMonitor`, which "      \
    "approximates the energy consumption of a short time window as instant power draw x window "   \
    "duration."

/* Windows the package opens for itself (the carbon monitor's "__zeus_interval__/" windows):
 * their 0 J readings are the user's window's, which warns for them. */
static bool internal_window(const char *key)
{
    return strncmp(key, "__zeus", 6) == 0;
}

/* The captured libzeus warning about this window's 0 J reading (monitor.c's handle_zeros says
 * "read 0 J"), or -1. */
static int zero_message(const zpy_log_capture *c)
{
    for (int i = 0; i < c->count; i++)
        if (strstr(c->messages[i], "read 0 J"))
            return i;
    return -1;
}

/* The newer Zeus's warning (warnings.warn, which its users filter or turn into errors) when a
 * GPU's counter read exactly 0 J, as one message with libzeus's detail (the update period).
 * Once per window name and monitor, as libzeus's line: a step window that always reads 0 J
 * would otherwise go through the warnings machinery (about 0.5 us) on every step, more than
 * the window itself costs. Returns the captured message it used (-1: none), or -2 on error. */
static int warn_if_zero(MonitorObject *self, const char *key, PyObject *key_obj,
                        const zeus_measurement *r, const zpy_log_capture *captured)
{
    int used = zero_message(captured);
    bool zero = false;
    for (unsigned i = 0; i < zeus_measurement_gpu_count(r) && !zero; i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(r, i);
        zero = g->method == ZEUS_METHOD_COUNTER && g->energy_j == 0.0;
    }
    if (!zero || internal_window(key))
        return used;
    if (!self->zero_warned && !(self->zero_warned = PySet_New(NULL)))
        return -2;
    int seen = PySet_Contains(self->zero_warned, key_obj);
    if (seen != 0)
        return seen < 0 ? -2 : -1;
    if (PySet_Add(self->zero_warned, key_obj) < 0)
        return -2;
    if (used < 0)
        return PyErr_WarnEx(PyExc_UserWarning, "zeus: " ZERO_ENERGY_WARNING, 1) < 0 ? -2 : -1;
    int rc = PyErr_WarnFormat(PyExc_UserWarning, 1, "zeus: %s (%s)", ZERO_ENERGY_WARNING,
                              captured->messages[used]);
    return rc < 0 ? -2 : used;
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
    in_window_call = true;
    zpy_log_capture captured;
    zpy_log_capture_begin(&captured);
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_monitor_end_window(m, key, sync, cancel, r);
    Py_END_ALLOW_THREADS
    in_window_call = false;
    self->inflight--;
    PyObject *result = rc == ZEUS_OK ? zpy_measurement_from(r) : NULL;
    int used = result && !cancel ? warn_if_zero(self, key, c.key_obj, r, &captured) : -1;
    if (used == -2)
        Py_CLEAR(result);
    zpy_log_capture_end(&captured, used);
    scratch_give(self, r);
    if (zpy_raise_sync_error(self) < 0) {
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
    if (zpy_monitor_ready(self) < 0)
        return NULL;
    long gpu = PyLong_AsLong(arg);
    if (gpu == -1 && PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(zeus_monitor_update_period_s(self->monitor, (unsigned)gpu));
}

static PyObject *nan_as_none(double v)
{
    return isnan(v) ? Py_NewRef(Py_None) : PyFloat_FromDouble(v);
}

/* (time, gpu J list, cpu J list, dram J list) of an open window: the package's
 * measurement_states (None where a counter was not read). */
static PyObject *monitor_window_start(MonitorObject *self, PyObject *arg)
{
    if (zpy_monitor_ready(self) < 0)
        return NULL;
    const char *key = PyUnicode_AsUTF8(arg);
    if (!key)
        return NULL;
    double t, gpu_j[ZEUS_MAX_GPUS], cpu_j[ZEUS_MAX_CPUS], dram_j[ZEUS_MAX_CPUS];
    unsigned ng = zeus_monitor_gpu_count(self->monitor);
    unsigned nc = zeus_monitor_cpu_count(self->monitor);
    int rc = zeus_monitor_window_start(self->monitor, key, &t, gpu_j, ZEUS_MAX_GPUS, cpu_j, dram_j,
                                       ZEUS_MAX_CPUS);
    if (rc == ZEUS_ENOENT)
        return PyErr_SetObject(PyExc_KeyError, arg), NULL;
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    PyObject *g = PyList_New(ng), *c = PyList_New(nc), *d = PyList_New(nc);
    for (unsigned i = 0; g && i < ng; i++)
        PyList_SET_ITEM(g, i, nan_as_none(gpu_j[i]));
    for (unsigned i = 0; c && d && i < nc; i++) {
        PyList_SET_ITEM(c, i, nan_as_none(cpu_j[i]));
        PyList_SET_ITEM(d, i, nan_as_none(dram_j[i]));
    }
    PyObject *out = g && c && d ? Py_BuildValue("(dOOO)", t, g, c, d) : NULL;
    Py_XDECREF(g);
    Py_XDECREF(c);
    Py_XDECREF(d);
    return out;
}

static PyObject *monitor_reset_windows(MonitorObject *self, PyObject *unused)
{
    (void)unused;
    if (zpy_monitor_ready(self) < 0)
        return NULL;
    zeus_monitor_reset_windows(self->monitor);
    Py_RETURN_NONE;
}

static PyObject *monitor_cross_check(MonitorObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"power_monitor", "mode", NULL};
    PyObject *pm;
    const char *mode_name = "flag";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|s:cross_check", names, &pm, &mode_name))
        return NULL;
    if (zpy_monitor_ready(self) < 0)
        return NULL;
    zeus_cross_check_mode mode;
    if (strcmp(mode_name, "flag") == 0)
        mode = ZEUS_CROSS_CHECK_FLAG;
    else if (strcmp(mode_name, "fallback") == 0)
        mode = ZEUS_CROSS_CHECK_FALLBACK;
    else
        return PyErr_Format(PyExc_ValueError, "mode must be 'flag' or 'fallback', not '%s'",
                            mode_name);
    detach_sampler(self);
    if (pm == Py_None)
        Py_RETURN_NONE;
    zeus_sampler *s = zpy_sampler_attach(pm, +1);
    if (!s)
        return NULL;
    int rc = zeus_monitor_cross_check(self->monitor, s, mode);
    if (rc != ZEUS_OK) {
        zpy_sampler_attach(pm, -1);
        return zpy_raise(rc, PyExc_ValueError);
    }
    self->check_sampler = Py_NewRef(pm);
    Py_RETURN_NONE;
}

static PyObject *monitor_wait_update_period(MonitorObject *self, PyObject *unused)
{
    (void)unused;
    if (zpy_monitor_ready(self) < 0)
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
     "begin_window($self, /, key, sync_execution=True, restart=False, *, sync_cuda=None)\n--\n\n"
     "Begins the measurement window key."},
    {"end_window", (PyCFunction)(void (*)(void))monitor_end_window, METH_FASTCALL | METH_KEYWORDS,
     "end_window($self, /, key, sync_execution=True, cancel=False, *, sync_cuda=None)\n--\n\n"
     "Ends the window key: its Measurement."},
    {"close", (PyCFunction)monitor_close, METH_NOARGS,
     "close($self, /)\n--\n\nStops the monitor's threads."},
    {"cross_check", (PyCFunction)(void (*)(void))monitor_cross_check, METH_VARARGS | METH_KEYWORDS,
     "cross_check($self, /, power_monitor, mode='flag')\n--\n\nCompares every window's counter "
     "energy with the PowerMonitor's sampled power (docs/measurement.md); None detaches."},
    {"update_period", (PyCFunction)monitor_update_period, METH_O,
     "update_period($self, gpu, /)\n--\n\nMeasured energy-counter update period of a GPU (s); 0 if "
     "not known yet."},
    {"reset_windows", (PyCFunction)monitor_reset_windows, METH_NOARGS,
     "reset_windows($self, /)\n--\n\nCancels every open window (nothing is logged)."},
    {"_window_start", (PyCFunction)monitor_window_start, METH_O,
     "_window_start($self, key, /)\n--\n\n(time, GPU J, CPU J, DRAM J) of the open window key "
     "(KeyError if none)."},
    {"wait_update_period", (PyCFunction)monitor_wait_update_period, METH_NOARGS,
     "wait_update_period($self, /)\n--\n\nWaits for the background update-period measurement."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef monitor_getset[] = {
    {"gpu_indices", (getter)monitor_get_gpu_indices, NULL, "Monitored GPUs.", NULL},
    {"cpu_indices", (getter)monitor_get_cpu_indices, NULL, "Monitored CPU packages.", NULL},
    {"closed", (getter)monitor_get_closed, NULL, "The monitor was closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zpy_MonitorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.Monitor",
    .tp_basicsize = sizeof(MonitorObject),
    .tp_dealloc = (destructor)monitor_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc =
        "Monitor(gpu_indices=None, cpu_indices=None, approx_instant_energy=False, "
        "log_file=None, sync=None, replay_log=None, match_window_name=True, "
        "measure_update_period=True, sampler_period=0.0, log_append=False, clock=None)\n--\n\n"
        "libzeus monitor (use zeus.monitor.ZeusMonitor).",
    .tp_traverse = (traverseproc)monitor_traverse,
    .tp_clear = (inquiry)monitor_clear,
    .tp_methods = monitor_methods,
    .tp_getset = monitor_getset,
    .tp_init = (initproc)monitor_init,
    .tp_new = PyType_GenericNew,
    .tp_dictoffset = offsetof(MonitorObject, dict),
    .tp_weaklistoffset = offsetof(MonitorObject, weaklist),
};
