/* The zeusd client's reply parser (src/device/zeusd_client.c): no crash, and an accepted reply
 * has a status from 100 to 599 and a body inside the input. */
#include "fuzz_util.h"

#include "device/zeusd_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    int status = 0;
    char *body = NULL;
    if (zeus__zeusd_parse_reply(text, size, &status, &body) == 0) {
        FUZZ_CHECK(status >= 100 && status <= 599);
        FUZZ_CHECK(body >= text && body <= text + size);
    }
    free(text);
    return 0;
}
