/* The CSV reader and its number conversions (trace and group files): no crash, no undefined
 * behaviour, and every number it accepts is finite and in the documented range. */
#include "fuzz_util.h"

#include "core/csv.h"
#include "zeus/simulate.h"

#include <limits.h>
#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    zeus_csv csv;
    if (zeus__csv_open(&csv, path) == ZEUS_OK) {
        for (int rows = 0; rows < 1000; rows++) {
            bool eof, missing;
            if (zeus__csv_next(&csv, &eof) != ZEUS_OK || eof)
                break;
            FUZZ_CHECK(csv.n_fields == csv.n_header);
            for (size_t i = 0; i < csv.n_fields; i++) {
                double v;
                if (zeus__csv_double(&csv, i, &v, &missing) == ZEUS_OK)
                    FUZZ_CHECK(missing ? isnan(v) : !isinf(v));
                if (zeus__csv_number(&csv, i, true, &v, &missing) == ZEUS_OK) {
                    FUZZ_CHECK(!missing && isfinite(v));
                    FUZZ_CHECK(v == 0 || (fabs(v) <= ZEUS_CSV_MAX_MAGNITUDE &&
                                          fabs(v) >= 1 / ZEUS_CSV_MAX_MAGNITUDE));
                }
                long l;
                if (zeus__csv_int(&csv, i, -5, 1L << 30, &l) == ZEUS_OK)
                    FUZZ_CHECK(l >= -5 && l <= 1L << 30);
                const char *text;
                if (zeus__csv_text(&csv, i, &text) == ZEUS_OK)
                    FUZZ_CHECK(*text != '\0');
            }
        }
        zeus__csv_close(&csv);
    }
    /* The group-trace loader on the same text (a file with its columns gets that far). */
    zeus_groups *groups = NULL;
    if (zeus_groups_load(path, &groups) == ZEUS_OK) {
        for (size_t i = 0; i < zeus_groups_count(groups); i++) {
            zeus_group g;
            zeus_groups_get(groups, i, &g);
            FUZZ_CHECK(g.n_rows > 0);
            for (size_t r = 0; r < g.n_rows; r++)
                FUZZ_CHECK(g.rows[r].runtime_ratio > 0 && isfinite(g.rows[r].end_time));
        }
        zeus_groups_destroy(groups);
    }
    /* The trace loader and its join: an input with a line "---" is a train file, then a power
     * file. */
    const uint8_t *sep = memmem(data, size, "\n---\n", 5);
    if (sep) {
        size_t train_size = (size_t)(sep - data) + 1;
        const char *train = fuzz_file_n(1, data, train_size);
        const char *power = fuzz_file_n(2, sep + 5, size - train_size - 4);
        zeus_trace *trace = NULL;
        if (zeus_trace_load(train, power, &trace) == ZEUS_OK)
            zeus_trace_destroy(trace);
    }
    return 0;
}
