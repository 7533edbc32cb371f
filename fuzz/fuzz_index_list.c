/* zeus_parse_index_list: no crash, and an accepted list is in range, free of duplicates, and
 * prints back to the text it came from (up to leading zeros). */
#include "fuzz_util.h"

#include "zeus/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    unsigned out[8] = {7}; /* one index already given, as a second argument would find */
    size_t n = 1;
    int rc = zeus_parse_index_list(text, out, 8, &n);
    if (rc == ZEUS_OK) {
        FUZZ_CHECK(n > 1 && n <= 8);
        size_t pos = 0;
        for (size_t i = 1; i < n; i++) {
            FUZZ_CHECK(out[i] <= ZEUS_MAX_INDEX);
            for (size_t j = 0; j < i; j++)
                FUZZ_CHECK(out[i] != out[j]);
            while (text[pos] == '0' && text[pos + 1] >= '0' && text[pos + 1] <= '9')
                pos++;
            char number[16];
            int len = snprintf(number, sizeof number, "%u", out[i]);
            FUZZ_CHECK(strncmp(text + pos, number, (size_t)len) == 0);
            pos += (size_t)len;
            FUZZ_CHECK(text[pos] == (i + 1 < n ? ',' : '\0'));
            pos++;
        }
    } else {
        FUZZ_CHECK(n == 1);
        FUZZ_CHECK(rc == ZEUS_EPARSE || rc == ZEUS_ERANGE || rc == ZEUS_EINVAL);
    }
    free(text);
    return 0;
}
