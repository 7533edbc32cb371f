/* CUDA_VISIBLE_DEVICES: parsing and resolution against a machine of 64 GPUs with MIG instances
 * on some (with their older MIG-GPU-<uuid>/<gi>/<ci> names on some of those); no crash, and an
 * accepted value maps to distinct existing devices. */
#include "fuzz_util.h"

#include "device/visible_devices.h"
#include "zeus/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GPUS 64
#define MIGS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char uuids_text[GPUS * (2 * MIGS + 1)][96];
    static zeus_cvd_device uuids[GPUS * (2 * MIGS + 1)];
    static size_t uuid_count;
    if (uuid_count == 0) {
        for (unsigned g = 0; g < GPUS; g++) {
            snprintf(uuids_text[uuid_count], 96, "GPU-%08x-1111-2222-3333-444444444444", g * 17);
            uuids[uuid_count] = (zeus_cvd_device){uuids_text[uuid_count], g};
            uuid_count++;
            for (unsigned m = 0; g % 4 == 3 && m < MIGS; m++) {
                snprintf(uuids_text[uuid_count], 96, "MIG-%08x-aaaa-bbbb-cccc-%012x", g, m);
                uuids[uuid_count] = (zeus_cvd_device){uuids_text[uuid_count], g};
                uuid_count++;
                if (g % 8 == 7) /* a backend that knows instance ids: the older names too */
                    continue;
                snprintf(uuids_text[uuid_count], 96,
                         "MIG-GPU-%08x-1111-2222-3333-444444444444/%u/0", g * 17, m + 1);
                uuids[uuid_count] = (zeus_cvd_device){uuids_text[uuid_count], g};
                uuid_count++;
            }
        }
    }
    char *text = fuzz_text(data, size);
    zeus_cvd_entry entries[ZEUS_CVD_MAX];
    size_t count = 0;
    if (zeus__cvd_parse(text, entries, ZEUS_CVD_MAX, &count) == ZEUS_OK) {
        FUZZ_CHECK(count <= ZEUS_CVD_MAX);
        unsigned map[ZEUS_CVD_MAX];
        if (zeus__cvd_resolve(entries, count, GPUS, uuids, uuid_count, map) == ZEUS_OK) {
            for (size_t i = 0; i < count; i++) {
                FUZZ_CHECK(map[i] < GPUS);
                for (size_t j = 0; j < i; j++)
                    FUZZ_CHECK(map[i] != map[j]);
            }
        }
    }
    free(text);
    return 0;
}
