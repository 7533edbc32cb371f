/* The replay monitor (the original's ReplayZeusMonitor): plays back a monitor CSV log. */
#include "core/csv.h"
#include "core/internal.h"
#include "monitor/monitor_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct zeus_replay {
    char *path; /* owned: the reader borrows it */
    zeus_csv csv;
    bool match_window_name;
    char **ongoing;
    size_t ongoing_count;
    unsigned columns; /* energy columns */
    size_t consumed;  /* records played back */
};

void zeus__replay_close(zeus_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ongoing_count; i++)
        free(r->ongoing[i]);
    free(r->ongoing);
    zeus__csv_close(&r->csv);
    free(r->path);
    free(r);
}

/* GPU index of a header column "gpu<i>_energy". */
static int parse_gpu_column(const char *col, unsigned *gpu)
{
    long v;
    char num[16];
    const char *end = strstr(col, "_energy");
    size_t n = end ? (size_t)(end - col) : 0;
    if (strncmp(col, "gpu", 3) != 0 || !end || strcmp(end, "_energy") != 0 || n <= 3 ||
        n - 3 >= sizeof num)
        return ZEUS_EPARSE;
    memcpy(num, col + 3, n - 3);
    num[n - 3] = '\0';
    if (zeus_parse_long(num, &v) != ZEUS_OK || v < 0)
        return ZEUS_EPARSE;
    *gpu = (unsigned)v;
    return ZEUS_OK;
}

int zeus__replay_open(const char *log_file, bool match_window_name, zeus_replay **out,
                      unsigned *gpus, unsigned *gpu_count)
{
    static const char *const fixed[] = {"start_time", "window_name", "elapsed_time"};
    *out = NULL;
    if (!log_file)
        return zeus__error(ZEUS_EINVAL, "the replay monitor needs a log file");
    zeus_replay *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(log_file))) {
        free(r);
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    r->match_window_name = match_window_name;
    int rc = zeus__csv_open(&r->csv, r->path);
    if (rc != ZEUS_OK)
        goto fail;
    size_t n = r->csv.n_header;
    for (size_t i = 0; i < 3; i++) {
        if (i >= n || strcmp(r->csv.header[i], fixed[i]) != 0) {
            rc = zeus__error(ZEUS_EPARSE,
                             "%s:1: not a Zeus monitor log (the header must start with "
                             "start_time,window_name,elapsed_time)",
                             log_file);
            goto fail;
        }
    }
    /* The original writes a dangling comma after the columns when it monitors no GPU. */
    if (n == 4 && r->csv.header[3][0] == '\0')
        n = 3;
    *gpu_count = 0;
    for (size_t i = 3; i < n; i++) {
        const char *col = r->csv.header[i];
        if (*gpu_count == ZEUS_MAX_GPUS || parse_gpu_column(col, &gpus[*gpu_count]) != ZEUS_OK) {
            rc = zeus__error(ZEUS_EPARSE, "%s:1: column '%s' is not gpu<N>_energy", log_file, col);
            goto fail;
        }
        (*gpu_count)++;
    }
    r->columns = *gpu_count;
    *out = r;
    return ZEUS_OK;
fail:
    zeus__replay_close(r);
    return rc;
}

void zeus__replay_reset(zeus_replay *r)
{
    for (size_t i = 0; i < r->ongoing_count; i++)
        free(r->ongoing[i]);
    r->ongoing_count = 0;
}

static ssize_t find_ongoing(const zeus_replay *r, const char *name)
{
    for (size_t i = 0; i < r->ongoing_count; i++)
        if (strcmp(r->ongoing[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

int zeus__replay_begin(zeus_replay *r, const char *name)
{
    if (find_ongoing(r, name) >= 0)
        return zeus__error(ZEUS_EEXIST, "Window %s is already ongoing.", name);
    char **grown = realloc(r->ongoing, (r->ongoing_count + 1) * sizeof *grown);
    char *copy = strdup(name);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            r->ongoing = grown;
        return zeus__error(ZEUS_ENOMEM, "out of memory");
    }
    r->ongoing = grown;
    r->ongoing[r->ongoing_count++] = copy;
    return ZEUS_OK;
}

/* Python's float(): correctly rounded, unlike the pandas-compatible reader of the traces. */
static int parse_field(const zeus_replay *r, size_t column, double *out)
{
    if (zeus_parse_double(r->csv.fields[column], out) != ZEUS_OK)
        return zeus__error(ZEUS_EPARSE, "%s:%d: column %zu: %s", r->path, r->csv.line, column + 1,
                           zeus_last_error());
    return ZEUS_OK;
}

/* At the end of what was read: rows a live monitor appended since (the original keeps the file
 * open and reads on). The file is read again and the rows already played back are skipped. */
static int read_appended(zeus_replay *r, bool *eof)
{
    size_t columns = r->csv.n_header;
    zeus__csv_close(&r->csv);
    int rc = zeus__csv_open(&r->csv, r->path);
    if (rc == ZEUS_OK && r->csv.n_header != columns)
        rc = zeus__error(ZEUS_EPARSE, "%s:1: the header changed while replaying", r->path);
    for (size_t i = 0; rc == ZEUS_OK && i < r->consumed; i++) /* (their errors were told) */
        if (zeus__csv_next(&r->csv, eof) == ZEUS_OK && *eof)
            return ZEUS_OK;
    return rc == ZEUS_OK ? zeus__csv_next(&r->csv, eof) : rc;
}

int zeus__replay_end(zeus_replay *r, const char *name, bool cancel, const unsigned *gpus,
                     unsigned gpu_count, zeus_measurement *out)
{
    ssize_t at = find_ongoing(r, name);
    if (at < 0)
        return zeus__error(ZEUS_ENOENT, "Window %s is not ongoing.", name);
    free(r->ongoing[at]);
    r->ongoing[at] = r->ongoing[--r->ongoing_count];
    zeus__measurement_zero(out, gpus, gpu_count, NULL, 0);
    if (cancel) {
        out->cancelled = true;
        return ZEUS_OK;
    }
    /* Rows are consumed in end order; a bad row fails the window that consumes it. */
    bool eof;
    int rc = zeus__csv_next(&r->csv, &eof);
    if (rc == ZEUS_OK && eof)
        rc = read_appended(r, &eof);
    if (rc != ZEUS_OK || !eof)
        r->consumed++; /* a bad row is consumed by the window that fails on it */
    if (rc != ZEUS_OK)
        return rc;
    if (eof)
        return zeus__error(ZEUS_ENOENT, "No more lines in the log file.");
    if (r->match_window_name && strcmp(r->csv.fields[1], name) != 0)
        return zeus__error(ZEUS_ESTATE, "Was expecting %s, not %s.", r->csv.fields[1], name);
    if ((rc = parse_field(r, 0, &out->start_time_s)) != ZEUS_OK ||
        (rc = parse_field(r, 2, &out->time_s)) != ZEUS_OK)
        return rc;
    for (unsigned i = 0; i < gpu_count; i++) {
        zeus_gpu_measurement *g = &out->gpus[i];
        if (r->csv.fields[3 + i][0] == '\0') { /* the live monitor's "unavailable" */
            g->energy_j = NAN;
            g->error = ZEUS_EDEVICE;
            continue;
        }
        if ((rc = parse_field(r, 3 + i, &g->energy_j)) != ZEUS_OK)
            return rc;
        g->method = ZEUS_METHOD_COUNTER;
    }
    zeus__measurement_total(out);
    return ZEUS_OK;
}
