/* zeus._zeus: the pipeline frequency optimizer's calls (zeus/pipeline_frequency.h): the
 * frequency controller and the supported-clocks query, for
 * zeus.optimizer.pipeline_frequency. */
#include "zeuspy.h"
#include "zeus/sim.h"

#define CAPSULE "zeus.pf_controller"

static void capsule_free(PyObject *capsule)
{
    zeus_pf_controller *c = PyCapsule_GetPointer(capsule, CAPSULE);
    if (c) {
        Py_BEGIN_ALLOW_THREADS
        zeus_pf_controller_stop(c);
        Py_END_ALLOW_THREADS
    }
}

static PyObject *py_pf_controller_start(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned gpu;
    if (!PyArg_ParseTuple(args, "I", &gpu))
        return NULL;
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return NULL;
    zeus_pf_controller *c = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_pf_controller_start(d, gpu, &c);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    return PyCapsule_New(c, CAPSULE, capsule_free);
}

static zeus_pf_controller *controller_arg(PyObject *capsule)
{
    if (!PyCapsule_IsValid(capsule, CAPSULE)) {
        PyErr_SetString(PyExc_ValueError, "the frequency controller has stopped");
        return NULL;
    }
    return PyCapsule_GetPointer(capsule, CAPSULE);
}

/* Only queues (a mutex held for a few instructions): the training thread never waits. */
static PyObject *py_pf_controller_set_frequency(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *capsule;
    unsigned mhz;
    if (!PyArg_ParseTuple(args, "OI", &capsule, &mhz))
        return NULL;
    zeus_pf_controller *c = controller_arg(capsule);
    if (!c)
        return NULL;
    int rc = zeus_pf_controller_set_frequency(c, mhz);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    Py_RETURN_NONE;
}

/* Blocks (without the GIL) until the queued frequencies are applied. */
static PyObject *py_pf_controller_wait(PyObject *self, PyObject *capsule)
{
    (void)self;
    zeus_pf_controller *c = controller_arg(capsule);
    if (!c)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    zeus_pf_controller_wait(c);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_pf_controller_state(PyObject *self, PyObject *capsule)
{
    (void)self;
    zeus_pf_controller *c = controller_arg(capsule);
    if (!c)
        return NULL;
    unsigned fmax, cur;
    unsigned long locks;
    zeus_pf_controller_state(c, &fmax, &cur, &locks);
    return Py_BuildValue("(IIk)", fmax, cur, locks);
}

static PyObject *py_pf_controller_stop(PyObject *self, PyObject *capsule)
{
    (void)self;
    if (!PyCapsule_IsValid(capsule, CAPSULE))
        Py_RETURN_NONE; /* stopped already: stopping is idempotent */
    zeus_pf_controller *c = PyCapsule_GetPointer(capsule, CAPSULE);
    if (PyCapsule_SetPointer(capsule, (void *)1) < 0) /* not NULL: a capsule needs a pointer */
        return NULL;
    PyCapsule_SetDestructor(capsule, NULL);
    PyCapsule_SetName(capsule, "zeus.pf_controller.stopped");
    Py_BEGIN_ALLOW_THREADS
    zeus_pf_controller_stop(c);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_gpu_supported_clocks(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned gpu, memory_mhz = 0;
    int domain;
    if (!PyArg_ParseTuple(args, "Ii|I", &gpu, &domain, &memory_mhz))
        return NULL;
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return NULL;
    unsigned mhz[1024], n = 1024;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_gpu_supported_clocks(d, gpu, (zeus_clock_domain)domain, memory_mhz, mhz, &n);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    PyObject *list = PyList_New(n);
    for (unsigned i = 0; list && i < n; i++)
        PyList_SET_ITEM(list, i, PyLong_FromUnsignedLong(mhz[i]));
    return list;
}

static PyObject *py_sim_step_cost(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned gpu;
    if (!PyArg_ParseTuple(args, "I", &gpu))
        return NULL;
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return NULL;
    double seconds, busy_w, idle_w;
    int rc = zeus_sim_step_cost(d, gpu, &seconds, &busy_w, &idle_w);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    return Py_BuildValue("(ddd)", seconds, busy_w, idle_w);
}

PyMethodDef zpy_pipeline_frequency_methods[] = {
    {"pf_controller_start", py_pf_controller_start, METH_VARARGS,
     "pf_controller_start($module, gpu, /)\n--\n\nA controller: lease, default power limit, clocks "
     "at their highest, thread"},
    {"pf_controller_set_frequency", py_pf_controller_set_frequency, METH_VARARGS,
     "pf_controller_set_frequency($module, controller, mhz, /)\n--\n\nQueues a frequency (0: no "
     "change)"},
    {"pf_controller_wait", py_pf_controller_wait, METH_O,
     "pf_controller_wait($module, controller, /)\n--\n\nWaits until the queued frequencies are "
     "applied."},
    {"sim_step_cost", py_sim_step_cost, METH_VARARGS,
     "sim_step_cost($module, gpu, /)\n--\n\n(seconds, busy W, idle W) of a simulated step "
     "launched now"},
    {"pf_controller_state", py_pf_controller_state, METH_O,
     "pf_controller_state($module, controller, /)\n--\n\n(max MHz, current MHz, lock calls)"},
    {"pf_controller_stop", py_pf_controller_stop, METH_O,
     "pf_controller_stop($module, controller, /)\n--\n\nApplies what is queued, stops, unlock the "
     "clocks"},
    {"gpu_supported_clocks", py_gpu_supported_clocks, METH_VARARGS,
     "gpu_supported_clocks($module, gpu, domain, memory_mhz=0, /)\n--\n\nSupported MHz of a domain "
     "(0 GPU, 1 memory; memory_mhz for the GPU domain), highest first"},
    {NULL, NULL, 0, NULL},
};
