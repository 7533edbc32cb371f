/* A simulated history as the CSV `zeus simulate --csv` writes. */
#include "simulate/sim_internal.h"

#include "core/internal.h"
#include "zeus/output.h"

#include <stdio.h>
#include <stdlib.h>

int zeus_sim_csv_format(const zeus_sim_csv_part *parts, size_t n, bool group_column, char **text,
                        size_t *len)
{
    if ((!parts && n) || !text || !len)
        return zeus__error(ZEUS_EINVAL, "csv: NULL argument");
    *text = NULL;
    *len = 0;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return zeus__error(ZEUS_ENOMEM, "csv: out of memory");
    fprintf(f, "%srecurrence,try,batch_size,power_limit,energy,time,reached,cost\n",
            group_column ? "group," : "");
    char e[ZEUS_DOUBLE_BUF], t[ZEUS_DOUBLE_BUF], c[ZEUS_DOUBLE_BUF];
    for (size_t p = 0; p < n; p++) {
        const zeus_sim_history *h = parts[p].history;
        const char *group = group_column && parts[p].group ? parts[p].group : "";
        for (size_t i = 0; h && i < h->n; i++) {
            const zeus_sim_run *r = &h->runs[i];
            fprintf(f, "%s%s%d,%d,%d,%d,%s,%s,%s,%s\n", group, group_column ? "," : "",
                    r->recurrence + 1, r->try_index, r->batch_size, r->power_limit,
                    zeus_format_double(r->energy_j, e, sizeof e),
                    zeus_format_double(r->time_s, t, sizeof t), r->reached ? "True" : "False",
                    zeus_format_double(r->cost, c, sizeof c));
        }
    }
    bool bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        free(buf);
        return zeus__error(ZEUS_ENOMEM, "csv: out of memory");
    }
    *text = buf;
    *len = size;
    return ZEUS_OK;
}

int zeus_sim_csv_save(const char *path, const zeus_sim_csv_part *parts, size_t n, bool group_column)
{
    if (!path)
        return zeus__error(ZEUS_EINVAL, "csv: NULL argument");
    char *text;
    size_t len;
    int rc = zeus_sim_csv_format(parts, n, group_column, &text, &len);
    if (rc != ZEUS_OK)
        return rc;
    rc = zeus_write_file(path, text, len);
    free(text);
    return rc;
}
