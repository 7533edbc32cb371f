/* zeus._zeus: the module, which adds every file's functions and types (see zeuspy.h). */
#include "zeuspy.h"

/* ---- Module ---- */
static PyMethodDef module_methods[] = {
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

static const zpy_raise_api raise_api = {zpy_raise_detail};

PyMODINIT_FUNC PyInit__zeus(void);
PyMODINIT_FUNC PyInit__zeus(void)
{
    if (PyType_Ready(&zpy_MeasurementType) < 0 || PyType_Ready(&zpy_MonitorType) < 0 ||
        PyType_Ready(&zpy_SamplerType) < 0 || PyType_Ready(&zpy_OptimizerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    PyObject *api = PyCapsule_New((void *)&raise_api, ZPY_RAISE_CAPSULE, NULL);
    int added = api ? PyModule_AddObjectRef(m, "_raise_api", api) : -1;
    Py_XDECREF(api);
    if (added < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddFunctions(m, zpy_common_methods) < 0 ||
        PyModule_AddFunctions(m, zpy_device_methods) < 0 || zpy_add_gpu_functions(m) < 0 ||
        PyModule_AddFunctions(m, zpy_output_methods) < 0 ||
        PyModule_AddFunctions(m, zpy_pipeline_frequency_methods) < 0 ||
        PyModule_AddFunctions(m, zpy_job_window_methods) < 0 || zpy_add_zeusd_types(m) < 0 ||
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
