/* The power-limit profile reader: no crash, and whatever it accepts the writer writes back
 * into a file that reads as the same profile (round trip). */
#include "fuzz_util.h"

#include "zeus/power_limit.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    zeus_power_limit_profile p;
    if (zeus_power_limit_profile_parse(text, "fuzz", &p) == ZEUS_OK) {
        FUZZ_CHECK(p.count > 0);
        char *again = NULL;
        FUZZ_CHECK(zeus_power_limit_profile_format(p.measurements, p.count,
                                                   p.gpu_model[0] ? p.gpu_model : NULL,
                                                   &again) == ZEUS_OK);
        zeus_power_limit_profile q;
        FUZZ_CHECK(zeus_power_limit_profile_parse(again, "fuzz-again", &q) == ZEUS_OK);
        FUZZ_CHECK(q.count == p.count);
        for (size_t i = 0; i < p.count; i++) {
            FUZZ_CHECK(q.measurements[i].power_limit_w == p.measurements[i].power_limit_w);
            FUZZ_CHECK(q.measurements[i].energy_j == p.measurements[i].energy_j);
            FUZZ_CHECK(q.measurements[i].time_s == p.measurements[i].time_s);
        }
        FUZZ_CHECK(strcmp(q.gpu_model, p.gpu_model) == 0);
        zeus_power_limit_profile_free(&q);
        free(again);
        zeus_power_limit_profile_free(&p);
    }
    free(text);
    return 0;
}
