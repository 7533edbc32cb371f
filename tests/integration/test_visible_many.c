/* CUDA_VISIBLE_DEVICES on a large machine through the fake NVML and the real loader: every GPU
 * and MIG UUID is known however many there are (issue 9, item 12). */
#include "test_support.h"

#include "zeus/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64 GPUs, 4 MIG instances on each: 320 UUIDs (the registry used to know the first 256). */
static void use_big_machine(void)
{
    size_t size = 64 * 400 + 64, n = 0;
    char *json = malloc(size);
    n += (size_t)snprintf(json + n, size - n, "{\"gpus\": [");
    for (unsigned g = 0; g < 64; g++) {
        n += (size_t)snprintf(json + n, size - n,
                              "%s{\"name\": \"NVIDIA A100\", \"uuid\": "
                              "\"GPU-%08x-0000-0000-0000-000000000000\", \"mig\": [",
                              g ? ", " : "", g);
        for (unsigned m = 0; m < 4; m++)
            n += (size_t)snprintf(json + n, size - n, "%s\"MIG-%08x-1111-2222-3333-%012x\"",
                                  m ? ", " : "", g, m);
        n += (size_t)snprintf(json + n, size - n, "]}");
    }
    snprintf(json + n, size - n, "]}");
    zt_use_fake_nvml(zt_dir, json);
    free(json);
}

static void expect_device(const char *cvd, unsigned device)
{
    zt_options.visible_devices = cvd;
    zeus_devices *d;
    if (zt_open(&d) != ZEUS_OK)
        fail_msg("CUDA_VISIBLE_DEVICES=%s: %s", cvd, zeus_last_error());
    assert_int_equal(zeus_gpu_count(d), 1);
    zeus_gpu_info g;
    assert_int_equal(zeus_gpu_get_info(d, 0, &g), ZEUS_OK);
    assert_int_equal(g.device_index, device);
    zeus_devices_close(d);
}

static void expect_refused(const char *cvd, const char *needle)
{
    zt_options.visible_devices = cvd;
    zeus_devices *d = NULL;
    assert_int_not_equal(zt_open(&d), ZEUS_OK);
    assert_null(d);
    assert_contains(zeus_last_error(), needle);
}

static void test_mig_uuid_of_gpu_63(void **state)
{
    (void)state;
    use_big_machine();
    expect_device("MIG-0000003f-1111-2222-3333-000000000003", 63);
    expect_device("GPU-0000003f-0000-0000-0000-000000000000", 63);
    expect_device("MIG-GPU-0000003f-0000-0000-0000-000000000000/1/0", 63);
    expect_device("MIG-GPU-0000003f-0000-0000-0000-000000000000/4/0", 63);
    expect_refused("MIG-GPU-0000003f-0000-0000-0000-000000000000/5/0", "does not have");
    expect_device("MIG-00000000-1111-2222-3333-000000000000", 0);
    /* A MIG instance that does not exist matches nothing. */
    expect_refused("MIG-0000003f-1111-2222-3333-000000000004", "matches no device");
    expect_refused("MIG-00000040-1111-2222-3333-000000000000", "matches no device");
}

static void test_old_mig_form_needs_instances(void **state)
{
    (void)state;
    zt_use_fake_nvml(zt_dir, "{\"gpus\": [{\"name\": \"NVIDIA A100\", \"uuid\": \"GPU-aaaa\"}, "
                             "{\"name\": \"NVIDIA A100\", \"uuid\": \"GPU-bbbb\", "
                             "\"mig\": [\"MIG-cccc\"]}]}");
    expect_device("MIG-GPU-bbbb/1/0", 1);
    /* GPU-bbbb has one instance, GPU instance 1, compute instance 0: no other. */
    expect_refused("MIG-GPU-bbbb/2/0", "names a MIG instance device 1 does not have");
    expect_refused("MIG-GPU-bbbb/1/1", "names a MIG instance device 1 does not have");
    expect_refused("MIG-GPU-bb/1/0", "matches no device"); /* the GPU's whole UUID */
    /* GPU-aaaa has no MIG instance: this used to select it. */
    expect_refused("MIG-GPU-aaaa/1/0", "which has none");
    expect_refused("MIG-GPU-bbbb", "is not MIG-GPU-<uuid>/<gi>/<ci>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mig_uuid_of_gpu_63, zt_setup, zt_teardown),
        cmocka_unit_test_setup_teardown(test_old_mig_form_needs_instances, zt_setup, zt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
