/* The environment fallback: the one place the device layer reads environment variables. It fills
 * zeus_device_options from them, and zeus_devices_open() opens a set with the result. */
#include "core/internal.h"
#include "device/backend.h"

#include <stdlib.h>
#include <string.h>

/* A set, non-empty variable's value, else NULL. */
static const char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The visible-devices variable of the backend the choice names; for auto (and none, so that
 * show-env reports the selection even without GPUs), the first auto candidate's variable that
 * is set (nvml's CUDA_VISIBLE_DEVICES, then amdsmi's HIP_VISIBLE_DEVICES). Set-but-empty counts:
 * CUDA_VISIBLE_DEVICES= hides every GPU. */
static const char *visible_devices(const char *choice)
{
    bool is_auto =
        !choice || !*choice || strcmp(choice, "auto") == 0 || strcmp(choice, "none") == 0;
    for (size_t i = 0; i < zeus__backend_count; i++) {
        const zeus_backend_ops *ops = zeus__backends[i];
        if (ops->kind != ZEUS_BACKEND_GPU || !ops->visible_devices_variable)
            continue;
        if (is_auto ? !ops->auto_candidate : strcmp(choice, ops->name) != 0)
            continue;
        const char *v = getenv(ops->visible_devices_variable);
        if (!v && ops->visible_devices_fallback) /* amdsmi: HIP's, else CUDA's */
            v = getenv(ops->visible_devices_fallback);
        if (v || !is_auto)
            return v;
    }
    return NULL;
}

int zeus_device_options_from_env(zeus_device_options *o)
{
    const char *v = env_value("ZEUS_DEVICE");
    char names[128];
    if (!zeus__gpu_backend_choice_valid(v, names, sizeof names))
        return zeus__error(ZEUS_EINVAL, "ZEUS_DEVICE='%s' is not one of %s", v, names);
    if (v)
        o->backend = v;
    if ((v = env_value("ZEUS_NVML_LIBRARY")))
        o->nvml_library = v;
    if ((v = env_value("ZEUS_AMDSMI_LIBRARY")))
        o->amdsmi_library = v;
    if ((v = env_value("ROCM_PATH")))
        o->rocm_path = v;
    if ((v = env_value("ZEUS_AMDSMI_CHECK_MS"))) {
        char *end;
        unsigned long ms = strtoul(v, &end, 10);
        if (*end || ms == 0 || ms > 60000)
            return zeus__error(ZEUS_EINVAL,
                               "ZEUS_AMDSMI_CHECK_MS='%s' is not a number of milliseconds "
                               "between 1 and 60000",
                               v);
        o->amdsmi_check_ms = (unsigned)ms;
    }
    if ((v = env_value("ZEUS_SIM_CONFIG")))
        o->sim_config = v;
    if ((v = env_value("ZEUS_SIM_STATE")))
        o->sim_state = v;
    if ((v = env_value("ZEUS_SYSFS_ROOT")))
        o->sysfs_root = v;
    if ((v = visible_devices(o->backend)))
        o->visible_devices = v;
    /* The newer Zeus's client variables: a daemon carries out what needs privileges. */
    if ((v = env_value("ZEUSD_SOCK_PATH")))
        o->zeusd_socket_path = v;
    if ((v = env_value("ZEUSD_HOST_PORT")))
        o->zeusd_host_port = v;
    if ((v = env_value("ZEUSD_TOKEN")))
        o->zeusd_token = v;
    return ZEUS_OK;
}

int zeus_devices_open(zeus_devices **out)
{
    *out = NULL;
    zeus_device_options o;
    zeus_device_options_init(&o);
    int rc = zeus_device_options_from_env(&o);
    return rc != ZEUS_OK ? rc : zeus_devices_open_with(&o, out);
}
