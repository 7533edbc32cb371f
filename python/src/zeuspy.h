/* zeus._zeus: what the files of the CPython extension share (internal to python/src/).
 *
 * The Python package (python/zeus/) gives the original's names and signatures; this module does
 * the work: devices, monitor windows, measurements, the power sampler and the power-limit
 * optimizer. The GIL is released around every call into libzeus that may block (device calls,
 * synchronisation, sampler start/stop). Python callbacks libzeus calls (synchronisation, custom
 * selectors, logging) take the GIL themselves; an exception raised in one is kept and raised
 * when the libzeus call returns.
 *
 * One file per type: common.c (the devices, errors, logging), module.c (the module), devices.c
 * (the device functions, most from one table), measurement.c, monitor.c, sampler.c,
 * optimizer.c, outputs.c (plots and files), pipeline_frequency.c (the pipeline frequency
 * optimizer's controller), zeusd.c (the zeusd client under zeus.utils.zeusd). The module is built
 * with hidden visibility, so the zpy_ names below never leave the shared object.
 */
#ifndef ZEUSPY_H
#define ZEUSPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "zeus/zeus.h"

#include <stdbool.h>
#include <sys/types.h>

#if PY_VERSION_HEX >= 0x030D0000
#define ZEUSPY_FINALIZING() Py_IsFinalizing()
#else
#define ZEUSPY_FINALIZING() _Py_IsFinalizing()
#endif

/* ---- common.c: the devices, errors, logging, index lists ---- */
extern PyMethodDef zpy_common_methods[];

/* Raises the Python exception for a libzeus error code and returns NULL, the libzeus name in its
 * zeus_error attribute. kind: the class to use where the original raised a particular one
 * there, NULL for the package's one table (zeus/device/exception.py, BY_ZEUS_ERROR). */
PyObject *zpy_raise(int rc, PyObject *kind);
/* The same with the detail given (NULL or "": zeus_strerror's text). For the package's other
 * extension module, zeus._recurring: zeus._zeus exports it in a capsule of this name, so both
 * raise through the one table. That module is a shared object of its own with its own copy of
 * libzeus, whose zeus_last_error() this one cannot see: it passes its detail. */
PyObject *zpy_raise_detail(int rc, PyObject *kind, const char *detail);
#define ZPY_RAISE_CAPSULE "zeus._zeus._raise_api"
typedef struct {
    PyObject *(*raise)(int rc, PyObject *kind, const char *detail);
} zpy_raise_api;

/* libzeus's warnings logged by this thread while a capture is set are kept in it instead of
 * going to Python's logging: a window call turns the one about its own 0 J reading into the
 * UserWarning the original raises (one message, not two) and forwards the others. */
#define ZPY_CAPTURE_MAX 4
typedef struct {
    char *messages[ZPY_CAPTURE_MAX]; /* malloc'd; NULL past count */
    int count;
} zpy_log_capture;
void zpy_log_capture_begin(zpy_log_capture *c);
/* Stops capturing, hands every kept message to Python's logging except the one at skip (-1:
 * none) and frees them. Needs the GIL. */
void zpy_log_capture_end(zpy_log_capture *c, int skip);

/* The process's devices, opened on first use (NULL with an exception set). */
zeus_devices *zpy_devices_get(void);

/* seq: None (*count = -1) or a sequence of at most max indices, each 0..65535 (as the CLI):
 * IndexError naming the index otherwise. */
int zpy_index_list(PyObject *seq, unsigned *out, int *count, int max, const char *what);
/* The UTF-8 text of str s (owned by s), or NULL with an exception: TypeError for a non-str,
 * ValueError naming what for a NUL character (C would cut the string there). */
const char *zpy_text(PyObject *s, const char *what);

/* ---- pipeline_frequency.c: the frequency controller, supported clocks ---- */
extern PyMethodDef zpy_pipeline_frequency_methods[];

/* ---- devices.c ---- */
extern PyMethodDef zpy_device_methods[];
/* Adds the functions of the device table (gpu_info, gpu_power, ...) to the module. */
int zpy_add_gpu_functions(PyObject *module);

/* ---- measurement.c ---- */
extern PyTypeObject zpy_MeasurementType;
/* Copies a libzeus measurement into a new zeus.monitor.Measurement. */
PyObject *zpy_measurement_from(const zeus_measurement *m);

/* ---- monitor.c ---- */
typedef struct {
    PyObject_HEAD zeus_monitor *monitor;
    zeus_measurement *scratch; /* reused by one call at a time (scratch_busy, under the GIL) */
    bool scratch_busy;
    int inflight;    /* calls running with the GIL released (close() must not free under them) */
    int optimizers;  /* live optimizers bound to this monitor (they must go first) */
    PyObject *sync;  /* callable(gpu) or NULL */
    PyObject *clock; /* callable() -> seconds, or NULL (libzeus's clock) */
    PyObject *zero_warned; /* set of window names already warned about 0 J, or NULL */
    PyObject *sync_error;  /* exception raised by sync or clock, re-raised after the call */
    PyObject *exists_exc;  /* exception classes for a duplicate begin / unknown end */
    PyObject *missing_exc; /* (ValueError for ZeusMonitor, RuntimeError for the replay) */
    PyObject *gpu_indices; /* list */
    PyObject *cpu_indices; /* list */
    PyObject *dict;
    PyObject *weaklist;
    pid_t owner_pid;
    PyObject *check_sampler; /* cross_check(): the PowerMonitor attached, or NULL */
} MonitorObject;

extern PyTypeObject zpy_MonitorType;
/* 0 if the monitor is open, else -1 with RuntimeError. */
int zpy_monitor_ready(MonitorObject *self);
/* Raises the exception the sync callable raised during the last call (-1), else 0. Inline: the
 * optimizer's hooks check it every training step. */
int zpy_raise_sync_error_now(MonitorObject *self);
static inline int zpy_raise_sync_error(MonitorObject *self)
{
    return self->sync_error ? zpy_raise_sync_error_now(self) : 0;
}

/* ---- sampler.c, optimizer.c ---- */
extern PyTypeObject zpy_SamplerType;
/* The running sampler of a PowerMonitor, counted as attached to a monitor (delta +1) or no longer
 * (-1): an attached PowerMonitor refuses stop(). NULL with an exception if it is not a running
 * PowerMonitor (+1 only). */
zeus_sampler *zpy_sampler_attach(PyObject *sampler, int delta);
extern PyTypeObject zpy_OptimizerType;

/* ---- zeusd.c: ZeusdConnection, ZeusdStream (libzeus's zeusd client) ---- */
extern PyTypeObject zpy_ZeusdConnectionType;
int zpy_add_zeusd_types(PyObject *module);

/* ---- outputs.c ---- */
extern PyMethodDef zpy_output_methods[];

/* ---- measurement.c: job windows ---- */
extern PyMethodDef zpy_job_window_methods[];

#endif
