/* The replay monitor (the original's ReplayZeusMonitor): plays back a monitor CSV log. */
#include "core/internal.h"
#include "monitor/monitor_internal.h"

#include <stdlib.h>
#include <string.h>

struct zeus_replay {
    char *path;
    char *text;   /* the whole file */
    char **lines; /* data rows, in file order */
    size_t line_count, next;
    bool match_window_name;
    char **ongoing;
    size_t ongoing_count;
    unsigned columns; /* energy columns */
};

void zeus_replay_close(zeus_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ongoing_count; i++)
        free(r->ongoing[i]);
    free(r->ongoing);
    free(r->lines);
    free(r->text);
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

int zeus_replay_open(const char *log_file, bool match_window_name, zeus_replay **out,
                     unsigned *gpus, unsigned *gpu_count)
{
    *out = NULL;
    if (!log_file)
        return zeus_error(ZEUS_EINVAL, "the replay monitor needs a log file");
    zeus_replay *r = calloc(1, sizeof *r);
    if (!r)
        return zeus_error(ZEUS_ENOMEM, "out of memory");
    int rc = zeus_read_file(log_file, &r->text, NULL);
    if (rc != ZEUS_OK)
        goto fail;
    r->path = strdup(log_file);
    r->match_window_name = match_window_name;
    size_t cap = 16;
    r->lines = malloc(cap * sizeof *r->lines);
    if (!r->path || !r->lines) {
        rc = zeus_error(ZEUS_ENOMEM, "out of memory");
        goto fail;
    }
    char *save = NULL;
    char *header = strtok_r(r->text, "\n", &save);
    if (!header || strncmp(header, "start_time,window_name,elapsed_time", 35) != 0) {
        rc = zeus_error(ZEUS_EPARSE,
                        "%s:1: not a Zeus monitor log (the header must start with "
                        "start_time,window_name,elapsed_time)",
                        log_file);
        goto fail;
    }
    header[strcspn(header, "\r")] = '\0';
    *gpu_count = 0;
    char *col_save = NULL;
    strtok_r(header, ",", &col_save);
    strtok_r(NULL, ",", &col_save);
    strtok_r(NULL, ",", &col_save);
    for (char *col; (col = strtok_r(NULL, ",", &col_save)) != NULL;) {
        if (*gpu_count == ZEUS_MAX_GPUS || parse_gpu_column(col, &gpus[*gpu_count]) != ZEUS_OK) {
            rc = zeus_error(ZEUS_EPARSE, "%s:1: column '%s' is not gpu<N>_energy", log_file, col);
            goto fail;
        }
        (*gpu_count)++;
    }
    r->columns = *gpu_count;
    for (char *line; (line = strtok_r(NULL, "\n", &save)) != NULL;) {
        if (r->line_count == cap) {
            cap *= 2;
            char **grown = realloc(r->lines, cap * sizeof *grown);
            if (!grown) {
                rc = zeus_error(ZEUS_ENOMEM, "out of memory");
                goto fail;
            }
            r->lines = grown;
        }
        line[strcspn(line, "\r")] = '\0';
        r->lines[r->line_count++] = line;
    }
    *out = r;
    return ZEUS_OK;
fail:
    zeus_replay_close(r);
    return rc;
}

static ssize_t find_ongoing(const zeus_replay *r, const char *name)
{
    for (size_t i = 0; i < r->ongoing_count; i++)
        if (strcmp(r->ongoing[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

int zeus_replay_begin(zeus_replay *r, const char *name)
{
    if (find_ongoing(r, name) >= 0)
        return zeus_error(ZEUS_EEXIST, "Window %s is already ongoing.", name);
    char **grown = realloc(r->ongoing, (r->ongoing_count + 1) * sizeof *grown);
    char *copy = strdup(name);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            r->ongoing = grown;
        return zeus_error(ZEUS_ENOMEM, "out of memory");
    }
    r->ongoing = grown;
    r->ongoing[r->ongoing_count++] = copy;
    return ZEUS_OK;
}

int zeus_replay_end(zeus_replay *r, const char *name, bool cancel, const unsigned *gpus,
                    unsigned gpu_count, zeus_measurement *out)
{
    ssize_t at = find_ongoing(r, name);
    if (at < 0)
        return zeus_error(ZEUS_ENOENT, "Window %s is not ongoing.", name);
    free(r->ongoing[at]);
    r->ongoing[at] = r->ongoing[--r->ongoing_count];
    zeus_measurement_zero(out, gpus, gpu_count, NULL, 0);
    if (cancel) {
        out->cancelled = true;
        return ZEUS_OK;
    }
    if (r->next == r->line_count)
        return zeus_error(ZEUS_ENOENT, "No more lines in the log file.");
    size_t line_no = r->next + 2; /* 1-based, after the header */
    char row[4096];
    if (zeus_strlcpy(row, r->lines[r->next++], sizeof row) >= sizeof row)
        return zeus_error(ZEUS_EPARSE, "%s:%zu: line too long", r->path, line_no);
    char *fields[ZEUS_MAX_GPUS + 3];
    unsigned n = 0;
    char *save = NULL;
    for (char *f = strtok_r(row, ",", &save); f && n < ZEUS_ARRAY_LEN(fields);
         f = strtok_r(NULL, ",", &save))
        fields[n++] = f;
    if (n != r->columns + 3)
        return zeus_error(ZEUS_EPARSE, "%s:%zu: expected %u fields, found %u", r->path, line_no,
                          r->columns + 3, n);
    if (r->match_window_name && strcmp(fields[1], name) != 0)
        return zeus_error(ZEUS_ESTATE, "Was expecting %s, not %s.", fields[1], name);
    if (zeus_parse_double(fields[0], &out->start_time_s) != ZEUS_OK ||
        zeus_parse_double(fields[2], &out->time_s) != ZEUS_OK)
        return zeus_error(ZEUS_EPARSE, "%s:%zu: %s", r->path, line_no, zeus_last_error());
    for (unsigned i = 0; i < gpu_count; i++) {
        zeus_gpu_measurement *g = &out->gpus[i];
        if (zeus_parse_double(fields[3 + i], &g->energy_j) != ZEUS_OK)
            return zeus_error(ZEUS_EPARSE, "%s:%zu: %s", r->path, line_no, zeus_last_error());
        g->method = ZEUS_METHOD_COUNTER;
        out->total_energy_j += g->energy_j;
    }
    return ZEUS_OK;
}
