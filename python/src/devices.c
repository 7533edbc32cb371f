/* zeus._zeus: the device functions. The calls on one GPU (gpu_info, gpu_power,
 * gpu_set_power_limit_mw, ...) come from one table: a row names the Python function, the
 * arguments after the GPU index, the libzeus call and how its result becomes a Python value; one
 * generic function parses the index, releases the GIL around the call and raises on an error. */
#include "zeuspy.h"

#include "zeus/sim.h"

#include <string.h>

/* ---- Arguments and results of the table's calls ---- */
typedef union {
    int i;
    unsigned u;
} gpu_arg_slot;

typedef union {
    unsigned u;
    uint64_t u64;
    bool b;
    zeus_gpu_info info;
    zeus_gpu_power power;
    char text[ZEUS_GPU_PCI_ADDRESS_LEN];
} gpu_result;

typedef struct {
    const char *name;
    const char *doc;
    const char *args; /* PyArg_ParseTuple format after the GPU index ("" : METH_O), at most 3 */
    int (*call)(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r);
    PyObject *(*result)(const gpu_result *r); /* NULL: None */
} gpu_call;

static PyObject *result_uint(const gpu_result *r)
{
    return PyLong_FromUnsignedLong(r->u);
}

static PyObject *result_u64(const gpu_result *r)
{
    return PyLong_FromUnsignedLongLong(r->u64);
}

static PyObject *result_bool(const gpu_result *r)
{
    return PyBool_FromLong(r->b);
}

static PyObject *result_text(const gpu_result *r)
{
    return PyUnicode_FromString(r->text);
}

static PyObject *result_info(const gpu_result *r)
{
    const zeus_gpu_info *info = &r->info;
    return Py_BuildValue("{s:I,s:I,s:s,s:s,s:s,s:O,s:O,s:I,s:I,s:I,s:O}", "index", info->index,
                         "device_index", info->device_index, "name", info->name, "uuid", info->uuid,
                         "architecture", zeus_gpu_arch_name(info->arch), "has_energy_counter",
                         info->has_energy_counter ? Py_True : Py_False, "power_limit_valid",
                         info->power_limit_valid ? Py_True : Py_False, "min_power_limit_mw",
                         info->min_power_limit_mw, "max_power_limit_mw", info->max_power_limit_mw,
                         "default_power_limit_mw", info->default_power_limit_mw, "simulated",
                         info->simulated ? Py_True : Py_False);
}

static PyObject *result_power(const gpu_result *r)
{
    const zeus_gpu_power *p = &r->power;
    PyObject *instant =
        p->instant_valid ? PyLong_FromUnsignedLong(p->instant_mw) : Py_NewRef(Py_None);
    PyObject *average =
        p->average_valid ? PyLong_FromUnsignedLong(p->average_mw) : Py_NewRef(Py_None);
    return Py_BuildValue("{s:I,s:N,s:N}", "usage_mw", p->usage_mw, "instant_mw", instant,
                         "average_mw", average);
}

/* ---- The libzeus calls, one line each ---- */
static int call_info(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a;
    return zeus_gpu_get_info(d, gpu, &r->info);
}

static int call_energy(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a;
    return zeus_gpu_energy_mj(d, gpu, &r->u64);
}

static int call_power(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a;
    return zeus_gpu_read_power(d, gpu, &r->power);
}

static int call_limit(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a;
    return zeus_gpu_power_limit_mw(d, gpu, &r->u);
}

static int call_set_limit(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)r;
    return zeus_gpu_set_power_limit_mw(d, gpu, a[0].u);
}

static int call_set_persistence(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)r;
    return zeus_gpu_set_persistence_mode(d, gpu, a[0].i);
}

static int call_persistence(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a;
    return zeus_gpu_persistence_mode(d, gpu, &r->b);
}

static int call_lock_clocks(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)r;
    return zeus_gpu_set_locked_clocks(d, gpu, (zeus_clock_domain)a[0].i, a[1].u, a[2].u);
}

static int call_reset_clocks(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)r;
    return zeus_gpu_reset_locked_clocks(d, gpu, (zeus_clock_domain)a[0].i);
}

static int call_sim_step(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a, (void)r;
    return zeus_sim_launch_step(d, gpu, NULL);
}

static int call_temperature(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a;
    return zeus_gpu_temperature_c(d, gpu, &r->u);
}

static int call_pci_address(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a;
    return zeus_gpu_pci_address(d, gpu, r->text, sizeof r->text);
}

static int call_sim_sync(zeus_devices *d, unsigned gpu, const gpu_arg_slot *a, gpu_result *r)
{
    (void)a, (void)r;
    return zeus_sim_synchronize(d, gpu);
}

/* The table. */
static const gpu_call gpu_calls[] = {
    {"gpu_info", "gpu_info(gpu, /)\n--\n\nA GPU's static facts.", "", call_info, result_info},
    {"gpu_energy_mj", "gpu_energy_mj(gpu, /)\n--\n\nCumulative energy counter (mJ).", "",
     call_energy, result_u64},
    {"gpu_power", "gpu_power(gpu, /)\n--\n\nPower readings (mW).", "", call_power, result_power},
    {"gpu_power_limit_mw", "gpu_power_limit_mw(gpu, /)\n--\n\nCurrent power limit (mW).", "",
     call_limit, result_uint},
    {"gpu_set_power_limit_mw",
     "gpu_set_power_limit_mw(gpu, limit_mw, /)\n--\n\nSets a GPU's power limit (mW).", "I",
     call_set_limit, NULL},
    {"gpu_set_persistence_mode",
     "gpu_set_persistence_mode(gpu, enabled, /)\n--\n\nSets a GPU's persistence mode.", "p",
     call_set_persistence, NULL},
    {"gpu_persistence_mode", "gpu_persistence_mode(gpu, /)\n--\n\nPersistence mode.", "",
     call_persistence, result_bool},
    {"gpu_temperature_c", "gpu_temperature_c(gpu, /)\n--\n\nGPU temperature (degrees C).", "",
     call_temperature, result_uint},
    {"gpu_pci_address",
     "gpu_pci_address(gpu, /)\n--\n\nThe GPU's PCI address, \"dddd:bb:dd.f\" (lowercase hex).", "",
     call_pci_address, result_text},
    /* domain 0 locks the GPU clocks, 1 the memory clocks */
    {"gpu_set_locked_clocks",
     "gpu_set_locked_clocks(gpu, domain, min_mhz, max_mhz, /)\n--\n\nLocks the clocks of a "
     "domain (0 GPU, 1 memory) between min_mhz and max_mhz.",
     "iII", call_lock_clocks, NULL},
    {"gpu_reset_locked_clocks",
     "gpu_reset_locked_clocks(gpu, domain, /)\n--\n\nUnlocks the clocks of a domain (0 GPU, 1 "
     "memory).",
     "i", call_reset_clocks, NULL},
    /* Simulated GPUs (ZEUS_DEVICE=sim): queue one training step, like a kernel launch; wait for
     * the queued steps (torch.cuda.synchronize's part for sim GPUs). */
    {"sim_launch_step", "sim_launch_step(gpu, /)\n--\n\nQueues a step on a simulated GPU.", "",
     call_sim_step, NULL},
    {"sim_synchronize", "sim_synchronize(gpu, /)\n--\n\nWaits for a simulated GPU's steps.", "",
     call_sim_sync, NULL},
};
#define GPU_CALL_COUNT (sizeof gpu_calls / sizeof gpu_calls[0])

/* ---- The generic function ---- */
static int gpu_arg(PyObject *arg, unsigned *gpu)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    zeus_devices *d = zpy_devices_get();
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

static const char CAPSULE[] = "zeus._zeus.gpu_call";

static PyObject *gpu_call_run(const gpu_call *c, PyObject *g, const gpu_arg_slot *a)
{
    unsigned gpu;
    if (gpu_arg(g, &gpu) < 0)
        return NULL;
    zeus_devices *d = zpy_devices_get();
    gpu_result r;
    memset(&r, 0, sizeof r);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = c->call(d, gpu, a, &r);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    if (!c->result)
        Py_RETURN_NONE;
    return c->result(&r);
}

/* f(gpu): self is the capsule holding the row. */
static PyObject *gpu_call_o(PyObject *self, PyObject *arg)
{
    const gpu_call *c = PyCapsule_GetPointer(self, CAPSULE);
    return c ? gpu_call_run(c, arg, NULL) : NULL;
}

/* f(gpu, ...): the row's format after the index. */
static PyObject *gpu_call_varargs(PyObject *self, PyObject *args)
{
    const gpu_call *c = PyCapsule_GetPointer(self, CAPSULE);
    if (!c)
        return NULL;
    char format[16];
    PyObject *g;
    gpu_arg_slot a[3] = {{0}, {0}, {0}};
    PyOS_snprintf(format, sizeof format, "O%s", c->args);
    if (!PyArg_ParseTuple(args, format, &g, &a[0], &a[1], &a[2]))
        return NULL;
    return gpu_call_run(c, g, a);
}

static PyMethodDef gpu_call_defs[GPU_CALL_COUNT];

int zpy_add_gpu_functions(PyObject *module)
{
    PyObject *modname = PyModule_GetNameObject(module);
    if (!modname)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < GPU_CALL_COUNT; i++) {
        const gpu_call *c = &gpu_calls[i];
        bool one = !c->args[0];
        gpu_call_defs[i] = (PyMethodDef){c->name, one ? gpu_call_o : gpu_call_varargs,
                                         one ? METH_O : METH_VARARGS, c->doc};
        PyObject *self = PyCapsule_New((void *)c, CAPSULE, NULL);
        PyObject *fn = self ? PyCFunction_NewEx(&gpu_call_defs[i], self, modname) : NULL;
        rc = fn ? PyModule_AddObjectRef(module, c->name, fn) : -1;
        Py_XDECREF(fn);
        Py_XDECREF(self);
    }
    Py_DECREF(modname);
    return rc;
}

/* ---- The calls on all devices ---- */
static PyObject *py_gpu_count(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = zpy_devices_get();
    return d ? PyLong_FromUnsignedLong(zeus_gpu_count(d)) : NULL;
}

/* A backend's name as the devices report it (which(d)), or None. */
static PyObject *backend_name(const char *(*which)(const zeus_devices *))
{
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return NULL;
    const char *b = which(d);
    if (!b)
        Py_RETURN_NONE;
    return PyUnicode_FromString(b);
}

static PyObject *py_gpu_backend(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return backend_name(zeus_devices_gpu_backend);
}

/* The backend that carries out changes: "zeusd" when a daemon does (libzeus decides it from
 * ZEUSD_SOCK_PATH / ZEUSD_HOST_PORT), else the GPU backend's name, or None. */
static PyObject *py_knob_backend(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return backend_name(zeus_devices_knob_backend);
}

/* Why there are no GPUs (or a note about the backend in use). */
static PyObject *py_backend_reasons(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = zpy_devices_get();
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

static PyObject *py_check_homogeneous(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return NULL;
    int rc = zeus_gpu_check_homogeneous(d, NULL, 0);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL); /* ZEUS_EHETERO: ZeusGPUHeterogeneousError */
    Py_RETURN_NONE;
}

static PyObject *py_cpu_count(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = zpy_devices_get();
    return d ? PyLong_FromUnsignedLong(zeus_cpu_count(d)) : NULL;
}

/* A Jetson's rail energies (zeus/soc.h): {"cpu_mj", "gpu_mj", "total_mj"}, None for a rail the
 * board lacks. */
static PyObject *py_soc_energy(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    zeus_devices *d = zpy_devices_get();
    if (!d)
        return NULL;
    zeus_soc_energy e;
    int rc = zeus_soc_read_energy(d, &e);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    PyObject *cpu = e.cpu_valid ? PyFloat_FromDouble(e.cpu_mj) : Py_NewRef(Py_None);
    PyObject *gpu = e.gpu_valid ? PyFloat_FromDouble(e.gpu_mj) : Py_NewRef(Py_None);
    PyObject *total = e.total_valid ? PyFloat_FromDouble(e.total_mj) : Py_NewRef(Py_None);
    PyObject *out = cpu && gpu && total
                        ? Py_BuildValue("{sOsOsO}", "cpu_mj", cpu, "gpu_mj", gpu, "total_mj", total)
                        : NULL;
    Py_XDECREF(cpu);
    Py_XDECREF(gpu);
    Py_XDECREF(total);
    return out;
}

/* ---- CPU packages ---- */
static int cpu_arg(PyObject *arg, zeus_devices **d, unsigned *cpu)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!(*d = zpy_devices_get()))
        return -1;
    if (v < 0 || (unsigned long)v >= zeus_cpu_count(*d)) {
        PyErr_Format(PyExc_IndexError, "CPU index %ld out of range (%u CPU packages)", v,
                     zeus_cpu_count(*d));
        return -1;
    }
    *cpu = (unsigned)v;
    return 0;
}

static PyObject *py_cpu_info(PyObject *self, PyObject *arg)
{
    (void)self;
    zeus_devices *d;
    unsigned cpu;
    zeus_cpu_info info;
    if (cpu_arg(arg, &d, &cpu) < 0)
        return NULL;
    int rc = zeus_cpu_get_info(d, cpu, &info);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    return Py_BuildValue("{s:I,s:s,s:O}", "index", info.index, "name", info.name, "has_dram",
                         info.has_dram ? Py_True : Py_False);
}

static PyObject *py_cpu_energy(PyObject *self, PyObject *arg)
{
    (void)self;
    zeus_devices *d;
    unsigned cpu;
    zeus_cpu_energy e;
    int rc;
    if (cpu_arg(arg, &d, &cpu) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_cpu_read_energy(d, cpu, &e);
    Py_END_ALLOW_THREADS
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    PyObject *dram = e.dram_valid ? PyLong_FromUnsignedLongLong(e.dram_uj) : Py_NewRef(Py_None);
    return Py_BuildValue("{s:K,s:N}", "package_uj", (unsigned long long)e.package_uj, "dram_uj",
                         dram);
}

static PyObject *py_zeus_cost(PyObject *self, PyObject *args)
{
    (void)self;
    double e, t, eta, p;
    if (!PyArg_ParseTuple(args, "dddd", &e, &t, &eta, &p))
        return NULL;
    return PyFloat_FromDouble(zeus_cost(e, t, eta, p));
}

PyMethodDef zpy_device_methods[] = {
    {"gpu_count", py_gpu_count, METH_NOARGS,
     "gpu_count($module, /)\n--\n\nGPUs visible (after CUDA_VISIBLE_DEVICES)."},
    {"gpu_backend", py_gpu_backend, METH_NOARGS,
     "gpu_backend($module, /)\n--\n\n'nvml', 'amdsmi', 'jetson', 'sim' or None."},
    {"knob_backend", py_knob_backend, METH_NOARGS,
     "knob_backend($module, /)\n--\n\nThe backend that carries out changes ('zeusd' through a "
     "daemon), or None."},
    {"backend_reasons", py_backend_reasons, METH_NOARGS,
     "backend_reasons($module, /)\n--\n\n{backend: (available, reason)}"},
    {"check_homogeneous", py_check_homogeneous, METH_NOARGS,
     "check_homogeneous($module, /)\n--\n\nRaises if GPU models differ."},
    {"cpu_count", py_cpu_count, METH_NOARGS, "cpu_count($module, /)\n--\n\nCPU packages (RAPL)."},
    {"cpu_info", py_cpu_info, METH_O,
     "cpu_info($module, cpu, /)\n--\n\nA CPU package's index, name, has_dram."},
    {"cpu_energy", py_cpu_energy, METH_O,
     "cpu_energy($module, cpu, /)\n--\n\nA CPU package's energy since open (uJ)."},
    {"zeus_cost", py_zeus_cost, METH_VARARGS,
     "zeus_cost($module, energy, time, eta_knob, max_power, /)\n--\n\n"
     "The Zeus cost of a run: eta_knob * energy + (1 - eta_knob) * max_power * time."},
    {"soc_energy", py_soc_energy, METH_NOARGS,
     "soc_energy($module, /)\n--\n\nA Jetson's rails: {cpu_mj, gpu_mj, total_mj}."},
    {NULL, NULL, 0, NULL},
};
