/* zeus._zeus: the module, its state, the error mapping and logging (see zeuspy.h). */
#include "zeuspy.h"

/* ---- Module state (one interpreter) ---- */
static zeus_devices *g_devices; /* opened on first use, kept for the process */
PyObject *zpy_error_base;       /* zeus.exception.ZeusBaseError, set by the package */
static PyObject *g_log_handler; /* callable(level:int, message:str) or NULL */

/* kind: the exception class to use for "expected" codes (ValueError for invalid arguments),
 * NULL for the default mapping. */
PyObject *zpy_raise(int rc, PyObject *kind)
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
            exc = zpy_error_base ? zpy_error_base : PyExc_RuntimeError;
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

zeus_devices *zpy_devices_get(void)
{
    if (g_devices)
        return g_devices;
    zeus_devices *d = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_devices_open(&d);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK) {
        zpy_raise(rc, zpy_error_base);
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
    Py_XSETREF(zpy_error_base, cls);
    Py_RETURN_NONE;
}

/* ---- Arguments shared by the types ---- */
int zpy_index_list(PyObject *seq, unsigned *out, int *count, int max, const char *what)
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
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        /* Checked whole, as the CLI does: a cast to unsigned made 2**32 + 1 GPU 1. */
        if (overflow || v < 0 || v > (long long)UINT16_MAX) {
            PyErr_Format(PyExc_IndexError, "index %R in %s is out of range (0 to %d)", item, what,
                         UINT16_MAX);
            Py_DECREF(fast);
            return -1;
        }
        out[i] = (unsigned)v;
    }
    *count = (int)n;
    Py_DECREF(fast);
    return 0;
}

const char *zpy_text(PyObject *s, const char *what)
{
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(s, &len);
    if (text && strlen(text) != (size_t)len) {
        PyErr_Format(PyExc_ValueError, "%s %R contains a NUL character", what, s);
        return NULL;
    }
    return text;
}

/* ---- Module ---- */
static PyMethodDef module_methods[] = {
    {"_set_log_handler", py_set_log_handler, METH_O, "callable(level, message) or None"},
    {"_set_log_level", py_set_log_level, METH_O, "0 error .. 3 debug"},
    {"_set_error_base", py_set_error_base, METH_O, "the base exception class"},
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
    if (PyType_Ready(&zpy_MeasurementType) < 0 || PyType_Ready(&zpy_MonitorType) < 0 ||
        PyType_Ready(&zpy_SamplerType) < 0 || PyType_Ready(&zpy_OptimizerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (PyModule_AddFunctions(m, zpy_device_methods) < 0 || zpy_add_gpu_functions(m) < 0 ||
        PyModule_AddFunctions(m, zpy_output_methods) < 0 ||
        PyModule_AddFunctions(m, zpy_pipeline_frequency_methods) < 0 ||
        PyModule_AddFunctions(m, zpy_job_window_methods) < 0 ||
        PyModule_AddObjectRef(m, "Measurement", (PyObject *)&zpy_MeasurementType) < 0 ||
        PyModule_AddObjectRef(m, "Monitor", (PyObject *)&zpy_MonitorType) < 0 ||
        PyModule_AddObjectRef(m, "Sampler", (PyObject *)&zpy_SamplerType) < 0 ||
        PyModule_AddObjectRef(m, "Optimizer", (PyObject *)&zpy_OptimizerType) < 0 ||
        PyModule_AddStringConstant(m, "libzeus_version", zeus_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
