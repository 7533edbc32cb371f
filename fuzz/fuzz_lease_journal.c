/* The lease journal's parser (a file in the lock directory, which its user can write): no
 * crash, and an accepted journal has values in their documented ranges. */
#include "fuzz_util.h"

#include "power_limit/lease_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    zeus__journal_record r;
    if (zeus__journal_parse("gpu-x.journal", text, &r) == ZEUS_OK) {
        FUZZ_CHECK(r.original_persistence >= -1 && r.original_persistence <= 1);
        FUZZ_CHECK(r.holder.pid >= 0);
        FUZZ_CHECK(memchr(r.uuid, '\0', sizeof r.uuid) != NULL);
        FUZZ_CHECK(memchr(r.holder.boot_id, '\0', sizeof r.holder.boot_id) != NULL);
    }
    free(text);
    return 0;
}
