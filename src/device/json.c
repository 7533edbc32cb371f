/* The JSON form of a device set (what `zeus show-env --json` prints), for every face. */
#include "core/internal.h"
#include "zeus/device.h"

#include <cjson/cJSON.h>

static void add_string_or_null(cJSON *o, const char *key, const char *value)
{
    if (value)
        cJSON_AddStringToObject(o, key, value);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *gpu_json(zeus_devices *d, const zeus_gpu_info *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", g->index);
    cJSON_AddNumberToObject(o, "device_index", g->device_index);
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddStringToObject(o, "uuid", g->uuid);
    cJSON_AddStringToObject(o, "architecture", zeus_gpu_arch_name(g->arch));
    char pci[ZEUS_GPU_PCI_ADDRESS_LEN];
    add_string_or_null(o, "pci_address",
                       zeus_gpu_pci_address(d, g->index, pci, sizeof pci) == ZEUS_OK ? pci : NULL);
    cJSON_AddBoolToObject(o, "energy_counter", g->has_energy_counter);
    cJSON_AddBoolToObject(o, "simulated", g->simulated);
    if (g->power_limit_valid) {
        cJSON_AddNumberToObject(o, "min_power_limit_w", g->min_power_limit_mw / 1000.0);
        cJSON_AddNumberToObject(o, "max_power_limit_w", g->max_power_limit_mw / 1000.0);
        cJSON_AddNumberToObject(o, "default_power_limit_w", g->default_power_limit_mw / 1000.0);
    }
    unsigned limit;
    if (zeus_gpu_power_limit_mw(d, g->index, &limit) == ZEUS_OK)
        cJSON_AddNumberToObject(o, "power_limit_w", limit / 1000.0);
    else
        cJSON_AddStringToObject(o, "power_limit_error", zeus_last_error());
    return o;
}

static cJSON *cpu_json(zeus_devices *d, const zeus_cpu_info *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", c->index);
    unsigned id;
    if (zeus_cpu_package_id(d, c->index, &id) == ZEUS_OK)
        cJSON_AddNumberToObject(o, "package_id", id);
    cJSON_AddStringToObject(o, "name", c->name);
    cJSON *zones = cJSON_AddArrayToObject(o, "zones");
    cJSON_AddItemToArray(zones, cJSON_CreateString("package"));
    if (c->has_dram)
        cJSON_AddItemToArray(zones, cJSON_CreateString("dram"));
    zeus_cpu_energy e;
    cJSON_AddBoolToObject(o, "energy_readable", zeus_cpu_read_energy(d, c->index, &e) == ZEUS_OK);
    return o;
}

int zeus_devices_to_json(zeus_devices *d, char **json)
{
    *json = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    cJSON_AddStringToObject(root, "version", zeus_version());
    cJSON *backends = cJSON_AddArrayToObject(root, "backends");
    for (size_t i = 0; i < zeus_devices_backend_count(d); i++) {
        zeus_backend_status s;
        zeus_devices_backend(d, i, &s);
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "name", s.name);
        cJSON_AddStringToObject(b, "kind", s.kind == ZEUS_BACKEND_GPU ? "gpu" : "cpu");
        cJSON_AddBoolToObject(b, "available", s.available);
        cJSON_AddStringToObject(b, s.available ? "note" : "reason", s.reason);
        add_string_or_null(b, "visible_devices_variable", s.visible_devices_variable);
        cJSON_AddItemToArray(backends, b);
    }
    /* The key keeps its historical name; the variable it came from is named beside it. */
    add_string_or_null(root, "cuda_visible_devices", zeus_devices_visible_devices(d));
    add_string_or_null(root, "visible_devices_variable", zeus_devices_visible_devices_variable(d));
    add_string_or_null(root, "gpu_backend", zeus_devices_gpu_backend(d));
    add_string_or_null(root, "knob_backend", zeus_devices_knob_backend(d));
    cJSON *gpus = cJSON_AddArrayToObject(root, "gpus");
    for (unsigned i = 0; i < zeus_gpu_count(d); i++) {
        zeus_gpu_info g;
        zeus_gpu_get_info(d, i, &g);
        cJSON_AddItemToArray(gpus, gpu_json(d, &g));
    }
    cJSON *cpus = cJSON_AddArrayToObject(root, "cpus");
    for (unsigned i = 0; i < zeus_cpu_count(d); i++) {
        zeus_cpu_info c;
        zeus_cpu_get_info(d, i, &c);
        cJSON_AddItemToArray(cpus, cpu_json(d, &c));
    }
    *json = cJSON_Print(root);
    cJSON_Delete(root);
    if (!*json)
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    zeus__clear_error();
    return ZEUS_OK;
}
