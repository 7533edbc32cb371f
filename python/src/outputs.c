/* zeus._zeus: plots and files (zeus/plot.h, zeus/output.h). */
#include "zeuspy.h"

#include <math.h>

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
            !(cnames[i] = zpy_text(name, "the column name")) ||
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
    result = rc == ZEUS_OK ? PyUnicode_FromString(svg) : zpy_raise(rc, NULL);
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
        return zpy_raise(rc, PyExc_OSError);
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
        return zpy_raise(rc, rc == ZEUS_ENOENT ? PyExc_FileNotFoundError : NULL);
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

PyMethodDef zpy_output_methods[] = {
    {"plot_power_svg", (PyCFunction)(void (*)(void))py_plot_power_svg, METH_VARARGS | METH_KEYWORDS,
     "plot_power_svg($module, /, times, columns, windows=None, width=0, height=0, "
     "title=None)\n--\n\n"
     "SVG text of a power plot"},
    {"write_file", py_write_file, METH_VARARGS,
     "write_file($module, path, data, /)\n--\n\nWrites str or bytes: atomic for a regular file, in "
     "place for a device or FIFO"},
    {"read_windows", py_read_windows, METH_O,
     "read_windows($module, log_file, /)\n--\n\n[(name, start_s, end_s)] of a ZeusMonitor log"},
    {NULL, NULL, 0, NULL},
};
