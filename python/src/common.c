/* zeus._zeus: what the types share: the devices, the error mapping, logging, index lists (see
 * zeuspy.h). */
#include "zeuspy.h"

#include <stdlib.h>
#include <string.h>

/* ---- Module state (one interpreter) ---- */
static zeus_devices *g_devices;   /* opened on first use, kept for the process */
static bool g_reopen;             /* the next use opens the devices again (_reopen_devices) */
static PyObject *g_error_table;   /* {libzeus error name: class}, set by the package */
static PyObject *g_error_default; /* zeus.exception.ZeusBaseError: a name not in the table */
static PyObject *g_log_handler;   /* callable(level:int, message:str) or NULL */

/* The default class comes from the package's one table (zeus/device/exception.py,
 * BY_ZEUS_ERROR), keyed by the libzeus error name. */
PyObject *zpy_raise(int rc, PyObject *kind)
{
    return zpy_raise_detail(rc, kind, zeus_last_error());
}

PyObject *zpy_raise_detail(int rc, PyObject *kind, const char *detail)
{
    const char *msg = detail && *detail ? detail : zeus_strerror(rc);
    PyObject *exc = kind;
    if (!exc && g_error_table)
        exc = PyDict_GetItemString(g_error_table, zeus_error_name(rc)); /* borrowed */
    if (!exc)
        exc = g_error_default ? g_error_default : PyExc_RuntimeError;
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
    if (g_devices && !g_reopen)
        return g_devices;
    zeus_devices *d = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_devices_open(&d);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK) {
        zpy_raise(rc, NULL);
        return NULL;
    }
    if (g_devices && !g_reopen) { /* another thread won while the GIL was released */
        zeus_devices_close(d);
        return g_devices;
    }
    /* A set opened before is not closed: monitors and samplers made on it still read it. */
    g_devices = d;
    g_reopen = false;
    return d;
}

/* The package's get_gpus() after `zeus.device.gpu._gpus = None` (as the original's tests reset
 * it between cases): what is made from now on sees the devices as they are now. */
static PyObject *py_reopen_devices(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    g_reopen = g_devices != NULL;
    Py_RETURN_NONE;
}

/* ---- Logging into Python's logging module ---- */
static _Thread_local zpy_log_capture *g_capture;

void zpy_log_capture_begin(zpy_log_capture *c)
{
    c->count = 0;
    g_capture = c;
}

static void log_to_python(zeus_log_level level, const char *message, void *user);

void zpy_log_capture_end(zpy_log_capture *c, int skip)
{
    g_capture = NULL;
    for (int i = 0; i < c->count; i++) {
        if (i != skip)
            log_to_python(ZEUS_LOG_WARN, c->messages[i], NULL);
        free(c->messages[i]);
    }
    c->count = 0;
}

static void log_to_python(zeus_log_level level, const char *message, void *user)
{
    (void)user;
    zpy_log_capture *c = g_capture;
    if (c && level == ZEUS_LOG_WARN && c->count < ZPY_CAPTURE_MAX) {
        char *copy = strdup(message);
        if (copy) { /* out of memory: logged at once below instead */
            c->messages[c->count++] = copy;
            return;
        }
    }
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

/* _set_error_table(table, default): the package's one table of exception classes. */
static PyObject *py_set_error_table(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *table, *dflt;
    if (!PyArg_ParseTuple(args, "O!O", &PyDict_Type, &table, &dflt))
        return NULL;
    if (!PyType_Check(dflt) ||
        !PyType_IsSubtype((PyTypeObject *)dflt, (PyTypeObject *)PyExc_Exception))
        return PyErr_Format(PyExc_TypeError, "the default must be an exception class");
    Py_INCREF(table);
    Py_XSETREF(g_error_table, table);
    Py_INCREF(dflt);
    Py_XSETREF(g_error_default, dflt);
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

PyMethodDef zpy_common_methods[] = {
    {"_reopen_devices", py_reopen_devices, METH_NOARGS,
     "_reopen_devices($module, /)\n--\n\nThe next use opens the devices again."},
    {"_set_log_handler", py_set_log_handler, METH_O,
     "_set_log_handler($module, handler, /)\n--\n\nhandler: callable(level, message) or None"},
    {"_set_log_level", py_set_log_level, METH_O,
     "_set_log_level($module, level, /)\n--\n\nlevel: 0 error .. 3 debug"},
    {"_set_error_table", py_set_error_table, METH_VARARGS,
     "_set_error_table($module, table, default, /)\n--\n\n"
     "table: {libzeus error name: class}; default: the class of other errors"},
    {NULL, NULL, 0, NULL},
};
