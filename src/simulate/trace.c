/* Loading the NSDI'23 traces: validation, the join, and the (workload, target, batch size)
 * index the simulator looks runs up in (see sim_internal.h). */
#include "simulate/sim_internal.h"

#include "core/internal.h"
#include "core/array.h"
#include "core/npstats.h"
#include "core/csv.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: everything a trace owns is freed at once ------------------------------------- */

struct zeus_arena_block {
    zeus_arena_block *next;
    size_t used, size;
    alignas(16) unsigned char data[];
};

static void *arena_alloc(zeus_arena_block **arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    zeus_arena_block *b = *arena;
    if (!b || b->size - b->used < size) {
        size_t block = size > 65536 ? size : 65536;
        zeus_arena_block *nb = malloc(sizeof *nb + block);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->size = block;
        if (b && size > 65536) { /* keep filling the current block */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            *arena = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static void arena_free(zeus_arena_block *arena)
{
    while (arena) {
        zeus_arena_block *next = arena->next;
        free(arena);
        arena = next;
    }
}

/* ---- loading ------------------------------------------------------------------------------- */

typedef struct {
    const char **items;
    size_t n, cap;
} string_table;

typedef struct {
    size_t ds, net, opt; /* interned string ids */
    int bs;
    double target, target_epoch;
    size_t index; /* file order */
} train_row;

typedef struct {
    size_t ds, net, opt;
    int bs, pl;
    double tpe, ap;
    size_t index;
} power_row;

typedef struct {
    zeus_trace *trace;
    string_table strings;
    train_row *train;
    size_t n_train;
    power_row *power;
    size_t n_power;
    const char **train_columns; /* the train file's header, for the join-column check */
    size_t n_train_columns;
} loader;

#define NOMEM() zeus__error(ZEUS_ENOMEM, "trace: out of memory")

static int intern(loader *ld, const char *s, size_t *id)
{
    string_table *t = &ld->strings;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->items[i], s) == 0) {
            *id = i;
            return ZEUS_OK;
        }
    }
    int rc = zeus__array_reserve((void **)&t->items, &t->cap, t->n, sizeof *t->items, 32);
    if (rc != ZEUS_OK)
        return rc;
    size_t len = strlen(s) + 1;
    char *copy = arena_alloc(&ld->trace->arena, len);
    if (!copy)
        return NOMEM();
    memcpy(copy, s, len);
    t->items[t->n] = copy;
    *id = t->n++;
    return ZEUS_OK;
}

static int grow(void **array, size_t *cap, size_t n, size_t elem)
{
    return zeus__array_reserve(array, cap, n, elem, 1024);
}

/* Column indexes: dataset, network, batch_size, optimizer, then the file's own. */
static int key_columns(const zeus_csv *csv, size_t idx[4])
{
    static const char *const keys[] = {"dataset", "network", "batch_size", "optimizer"};
    for (size_t i = 0; i < 4; i++) {
        int rc = zeus__csv_column(csv, keys[i], &idx[i]);
        if (rc != ZEUS_OK)
            return rc;
    }
    return ZEUS_OK;
}

static int read_key(loader *ld, const zeus_csv *csv, const size_t idx[4], size_t *ds, size_t *net,
                    size_t *opt, int *bs)
{
    const char *d, *n, *o;
    long b;
    int rc;
    if ((rc = zeus__csv_text(csv, idx[0], &d)) || (rc = zeus__csv_text(csv, idx[1], &n)) ||
        (rc = zeus__csv_int(csv, idx[2], 1, 1L << 30, &b)) ||
        (rc = zeus__csv_text(csv, idx[3], &o)) || (rc = intern(ld, d, ds)) ||
        (rc = intern(ld, n, net)) || (rc = intern(ld, o, opt)))
        return rc;
    *bs = (int)b;
    return ZEUS_OK;
}

static int load_train(loader *ld, const char *path)
{
    zeus_csv csv;
    int rc = zeus__csv_open(&csv, path);
    if (rc != ZEUS_OK)
        return rc;
    size_t key[4], target_col, epoch_col, cap = 0;
    if ((rc = key_columns(&csv, key)) ||
        (rc = zeus__csv_column(&csv, "target_metric", &target_col)) ||
        (rc = zeus__csv_column(&csv, "target_epoch", &epoch_col)))
        goto done;
    ld->train_columns = arena_alloc(&ld->trace->arena, csv.n_header * sizeof *ld->train_columns);
    if (!ld->train_columns) {
        rc = NOMEM();
        goto done;
    }
    for (size_t i = 0; i < csv.n_header; i++) {
        size_t id;
        if ((rc = intern(ld, csv.header[i], &id)) != ZEUS_OK)
            goto done;
        ld->train_columns[i] = ld->strings.items[id];
    }
    ld->n_train_columns = csv.n_header;
    for (;;) {
        bool eof, missing;
        if ((rc = zeus__csv_next(&csv, &eof)) != ZEUS_OK || eof)
            break;
        if ((rc = grow((void **)&ld->train, &cap, ld->n_train, sizeof *ld->train)) != ZEUS_OK)
            break;
        train_row *r = &ld->train[ld->n_train];
        r->index = ld->n_train;
        if ((rc = read_key(ld, &csv, key, &r->ds, &r->net, &r->opt, &r->bs)) ||
            (rc = zeus__csv_number(&csv, target_col, true, &r->target, &missing)) ||
            (rc = zeus__csv_number(&csv, epoch_col, false, &r->target_epoch, &missing)))
            break;
        /* A missing target epoch is a run that never reached that target. */
        if (!missing && !(r->target_epoch >= 1)) {
            rc = zeus__error(ZEUS_EPARSE,
                             "%s:%d: column 'target_epoch': %s is not a positive "
                             "epoch count",
                             path, csv.line, csv.fields[epoch_col]);
            break;
        }
        ld->n_train++;
    }
    if (rc == ZEUS_OK && ld->n_train == 0)
        rc = zeus__error(ZEUS_EPARSE, "%s: no data rows", path);
done:
    zeus__csv_close(&csv);
    return rc;
}

static int note_power_dataset(loader *ld, size_t ds, int bs, size_t *cap)
{
    zeus_trace *t = ld->trace;
    const char *name = ld->strings.items[ds];
    for (size_t i = 0; i < t->n_power_datasets; i++) {
        if (t->power_datasets[i].dataset == name) {
            if (bs > t->power_datasets[i].max_bs)
                t->power_datasets[i].max_bs = bs;
            return ZEUS_OK;
        }
    }
    int rc = grow((void **)&t->power_datasets, cap, t->n_power_datasets, sizeof *t->power_datasets);
    if (rc != ZEUS_OK)
        return rc;
    t->power_datasets[t->n_power_datasets++] = (zeus_power_dataset){name, bs};
    return ZEUS_OK;
}

static int load_power(loader *ld, const char *path, const char *train_path)
{
    zeus_csv csv;
    int rc = zeus__csv_open(&csv, path);
    if (rc != ZEUS_OK)
        return rc;
    size_t key[4], pl_col, tpe_col, ap_col, cap = 0, ds_cap = 0;
    if ((rc = key_columns(&csv, key)) || (rc = zeus__csv_column(&csv, "power_limit", &pl_col)) ||
        (rc = zeus__csv_column(&csv, "time_per_epoch", &tpe_col)) ||
        (rc = zeus__csv_column(&csv, "average_power", &ap_col)))
        goto done;
    /* The original joins on every column the two files share; only the four keys may be. */
    for (size_t i = 0; i < csv.n_header; i++) {
        bool is_key = i == key[0] || i == key[1] || i == key[2] || i == key[3];
        for (size_t j = 0; !is_key && j < ld->n_train_columns; j++) {
            if (strcmp(csv.header[i], ld->train_columns[j]) == 0) {
                rc = zeus__error(ZEUS_EPARSE,
                                 "%s: column '%s' also appears in %s; the traces "
                                 "may share only dataset, network, batch_size and "
                                 "optimizer",
                                 path, csv.header[i], train_path);
                goto done;
            }
        }
    }
    for (;;) {
        bool eof, missing;
        long pl;
        if ((rc = zeus__csv_next(&csv, &eof)) != ZEUS_OK || eof)
            break;
        if ((rc = grow((void **)&ld->power, &cap, ld->n_power, sizeof *ld->power)) != ZEUS_OK)
            break;
        power_row *r = &ld->power[ld->n_power];
        r->index = ld->n_power;
        if ((rc = read_key(ld, &csv, key, &r->ds, &r->net, &r->opt, &r->bs)) ||
            (rc = zeus__csv_int(&csv, pl_col, 1, 100000, &pl)) ||
            (rc = zeus__csv_number(&csv, tpe_col, true, &r->tpe, &missing)) ||
            (rc = zeus__csv_number(&csv, ap_col, true, &r->ap, &missing)))
            break;
        if (r->tpe <= 0 || r->ap <= 0) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: column '%s' is not positive", path, csv.line,
                             r->tpe <= 0 ? "time_per_epoch" : "average_power");
            break;
        }
        r->pl = (int)pl;
        if ((rc = note_power_dataset(ld, r->ds, r->bs, &ds_cap)) != ZEUS_OK)
            break;
        ld->n_power++;
    }
    if (rc == ZEUS_OK && ld->n_power == 0)
        rc = zeus__error(ZEUS_EPARSE, "%s: no data rows", path);
done:
    zeus__csv_close(&csv);
    return rc;
}

/* ---- the join and its index ----------------------------------------------------------------- */

static int cmp_size(size_t a, size_t b)
{
    return (a > b) - (a < b);
}

/* Train rows by (workload, target, batch size), file order within. */
static int cmp_train(const void *pa, const void *pb)
{
    const train_row *a = pa, *b = pb;
    int c;
    if ((c = cmp_size(a->ds, b->ds)) || (c = cmp_size(a->net, b->net)) ||
        (c = cmp_size(a->opt, b->opt)))
        return c;
    if (a->target != b->target)
        return a->target < b->target ? -1 : 1;
    if (a->bs != b->bs)
        return a->bs < b->bs ? -1 : 1;
    return cmp_size(a->index, b->index);
}

static int cmp_power_key(const power_row *a, size_t ds, size_t net, size_t opt, int bs)
{
    int c;
    if ((c = cmp_size(a->ds, ds)) || (c = cmp_size(a->net, net)) || (c = cmp_size(a->opt, opt)))
        return c;
    return (a->bs > bs) - (a->bs < bs);
}

/* Power rows by (workload, batch size), file order within. */
static int cmp_power(const void *pa, const void *pb)
{
    const power_row *a = pa, *b = pb;
    int c = cmp_power_key(a, b->ds, b->net, b->opt, b->bs);
    return c ? c : cmp_size(a->index, b->index);
}

static bool same_cell(const train_row *a, const train_row *b)
{
    return a->ds == b->ds && a->net == b->net && a->opt == b->opt && a->target == b->target &&
           a->bs == b->bs;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The cell's recorded runs and power rows, both in file order. */
static int copy_cell_rows(loader *ld, zeus_cell *cell, const train_row *train, size_t n_runs,
                          const power_row *power, size_t n_power)
{
    zeus_arena_block **arena = &ld->trace->arena;
    cell->bs = train[0].bs;
    cell->n_runs = n_runs;
    cell->n_power = n_power;
    cell->target_epochs = arena_alloc(arena, n_runs * sizeof *cell->target_epochs);
    cell->power = arena_alloc(arena, n_power * sizeof *cell->power);
    if (!cell->target_epochs || !cell->power)
        return NOMEM();
    for (size_t r = 0; r < n_runs; r++)
        cell->target_epochs[r] = train[r].target_epoch;
    cell->max_pl = 0;
    for (size_t j = 0; j < n_power; j++) {
        const power_row *p = &power[j];
        cell->power[j] = (zeus_power_row){p->pl, p->tpe, p->ap, p->tpe * p->ap};
        if (p->pl > cell->max_pl)
            cell->max_pl = p->pl;
    }
    return ZEUS_OK;
}

/* The profiling epoch: numpy means over the joined rows, runs outer, power rows inner. */
static int cell_profiling_epoch(zeus_cell *cell)
{
    size_t n_runs = cell->n_runs, n_power = cell->n_power;
    double *joined = malloc(n_runs * n_power * sizeof *joined);
    if (!joined)
        return NOMEM();
    for (size_t r = 0; r < n_runs; r++)
        for (size_t j = 0; j < n_power; j++)
            joined[r * n_power + j] = cell->power[j].epe;
    cell->mean_epe = zeus__np_mean(joined, n_runs * n_power);
    for (size_t r = 0; r < n_runs; r++)
        for (size_t j = 0; j < n_power; j++)
            joined[r * n_power + j] = cell->power[j].tpe;
    cell->mean_tpe = zeus__np_mean(joined, n_runs * n_power);
    free(joined);
    return ZEUS_OK;
}

/* Power-limit groups, ascending, with pandas' Kahan group means in row order. */
static int cell_power_groups(loader *ld, zeus_cell *cell)
{
    zeus_arena_block **arena = &ld->trace->arena;
    size_t n_power = cell->n_power;
    cell->groups = arena_alloc(arena, n_power * sizeof *cell->groups);
    int *pls = arena_alloc(arena, n_power * sizeof *pls);
    if (!cell->groups || !pls)
        return NOMEM();
    for (size_t j = 0; j < n_power; j++)
        pls[j] = cell->power[j].pl;
    qsort(pls, n_power, sizeof *pls, cmp_int);
    cell->n_groups = 0;
    for (size_t j = 0; j < n_power; j++) {
        if (j > 0 && pls[j] == pls[j - 1])
            continue;
        zeus_pl_group *g = &cell->groups[cell->n_groups++];
        g->pl = pls[j];
        g->rows = arena_alloc(arena, n_power * sizeof *g->rows);
        if (!g->rows)
            return NOMEM();
        for (size_t k = 0; k < n_power; k++)
            if (cell->power[k].pl == g->pl)
                g->rows[g->count++] = k;
        zeus_kahan ap = {0}, tpe = {0};
        for (size_t r = 0; r < cell->n_runs; r++) {
            for (size_t k = 0; k < g->count; k++) {
                zeus__kahan_add(&ap, cell->power[g->rows[k]].ap);
                zeus__kahan_add(&tpe, cell->power[g->rows[k]].tpe);
            }
        }
        g->mean_ap = zeus__kahan_mean(&ap);
        g->mean_tpe = zeus__kahan_mean(&tpe);
    }
    return ZEUS_OK;
}

/* Fills a cell from its train rows (file order) and power rows (file order). */
static int build_cell(loader *ld, zeus_cell *cell, const train_row *train, size_t n_runs,
                      const power_row *power, size_t n_power)
{
    int rc;
    if ((rc = copy_cell_rows(ld, cell, train, n_runs, power, n_power)) != ZEUS_OK ||
        (rc = cell_profiling_epoch(cell)) != ZEUS_OK)
        return rc;
    return cell_power_groups(ld, cell);
}

/* The sorted power rows of train row r's (workload, batch size): [*lo, *end). */
static void power_rows_of(const loader *ld, const train_row *r, size_t *lo, size_t *end)
{
    size_t a = 0, b = ld->n_power;
    while (a < b) { /* binary search for the first */
        size_t mid = (a + b) / 2;
        if (cmp_power_key(&ld->power[mid], r->ds, r->net, r->opt, r->bs) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    while (a < ld->n_power && cmp_power_key(&ld->power[a], r->ds, r->net, r->opt, r->bs) == 0)
        a++;
    *end = a;
}

/* The cells of the (workload, target) whose sorted train rows start at *i (advanced past them):
 * one per batch size that has power rows, each joined with them. */
typedef struct {
    zeus_cell *items;
    size_t n, cap;
} cell_list;

static int collect_cells(loader *ld, size_t *i, cell_list *cells)
{
    const train_row *first = &ld->train[*i];
    size_t j = *i;
    int rc;
    cells->n = 0;
    while (j < ld->n_train) {
        const train_row *r = &ld->train[j];
        if (r->ds != first->ds || r->net != first->net || r->opt != first->opt ||
            r->target != first->target)
            break;
        size_t k = j, lo, end;
        while (k < ld->n_train && same_cell(&ld->train[k], r))
            k++;
        power_rows_of(ld, r, &lo, &end);
        if (end > lo) {
            if ((rc = grow((void **)&cells->items, &cells->cap, cells->n, sizeof *cells->items)) !=
                ZEUS_OK)
                return rc;
            zeus_cell *cell = &cells->items[cells->n];
            memset(cell, 0, sizeof *cell);
            if ((rc = build_cell(ld, cell, ld->train + j, k - j, ld->power + lo, end - lo)) !=
                ZEUS_OK)
                return rc;
            ld->trace->rows += (k - j) * (end - lo);
            cells->n++;
        }
        j = k;
    }
    *i = j;
    return ZEUS_OK;
}

/* The index of train row r's workload (dataset, network, optimizer), added if new. */
static int intern_workload(loader *ld, const train_row *r, size_t *cap, size_t *w)
{
    zeus_trace *t = ld->trace;
    const char *ds = ld->strings.items[r->ds], *net = ld->strings.items[r->net],
               *opt = ld->strings.items[r->opt];
    for (*w = 0; *w < t->n_workloads; (*w)++)
        if (t->workloads[*w].dataset == ds && t->workloads[*w].network == net &&
            t->workloads[*w].optimizer == opt)
            return ZEUS_OK;
    int rc = grow((void **)&t->workloads, cap, t->n_workloads, sizeof *t->workloads);
    if (rc != ZEUS_OK)
        return rc;
    t->workloads[t->n_workloads++] = (zeus_workload){ds, net, opt, NULL, 0};
    return ZEUS_OK;
}

/* Distinct power limits over a table's cells. */
static int count_power_limits(zeus_job_table *table)
{
    size_t n_pl = 0;
    for (size_t c = 0; c < table->n_cells; c++)
        n_pl += table->cells[c].n_groups;
    int *pl = malloc((n_pl ? n_pl : 1) * sizeof *pl);
    if (!pl)
        return NOMEM();
    n_pl = 0;
    for (size_t c = 0; c < table->n_cells; c++)
        for (size_t g = 0; g < table->cells[c].n_groups; g++)
            pl[n_pl++] = table->cells[c].groups[g].pl;
    qsort(pl, n_pl, sizeof *pl, cmp_int);
    table->n_pls = 0;
    for (size_t k = 0; k < n_pl; k++)
        table->n_pls += k == 0 || pl[k] != pl[k - 1];
    free(pl);
    return ZEUS_OK;
}

/* A (workload, target) table owning copies of the cells; raises the trace's max power. */
static int add_table(loader *ld, size_t workload, double target, const cell_list *cells,
                     size_t *cap)
{
    zeus_trace *t = ld->trace;
    int rc = grow((void **)&t->tables, cap, t->n_tables, sizeof *t->tables);
    if (rc != ZEUS_OK)
        return rc;
    zeus_job_table *table = &t->tables[t->n_tables++];
    memset(table, 0, sizeof *table);
    table->workload = workload;
    table->target = target;
    table->n_cells = cells->n;
    table->cells = arena_alloc(&t->arena, cells->n * sizeof *table->cells);
    if (!table->cells)
        return NOMEM();
    memcpy(table->cells, cells->items, cells->n * sizeof *table->cells);
    if ((rc = count_power_limits(table)) != ZEUS_OK)
        return rc;
    for (size_t c = 0; c < table->n_cells; c++)
        if (table->cells[c].max_pl > t->max_power)
            t->max_power = table->cells[c].max_pl;
    return ZEUS_OK;
}

/* A workload's sorted, distinct batch sizes over all its tables. */
static int workload_batch_sizes(zeus_trace *t, size_t w)
{
    size_t n = 0;
    for (size_t k = 0; k < t->n_tables; k++)
        if (t->tables[k].workload == w)
            n += t->tables[k].n_cells;
    int *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return NOMEM();
    n = 0;
    for (size_t k = 0; k < t->n_tables; k++)
        if (t->tables[k].workload == w)
            for (size_t c = 0; c < t->tables[k].n_cells; c++)
                all[n++] = t->tables[k].cells[c].bs;
    qsort(all, n, sizeof *all, cmp_int);
    zeus_workload *wl = &t->workloads[w];
    wl->batch_sizes = arena_alloc(&t->arena, (n ? n : 1) * sizeof *wl->batch_sizes);
    if (!wl->batch_sizes) {
        free(all);
        return NOMEM();
    }
    for (size_t k = 0; k < n; k++)
        if (k == 0 || all[k] != all[k - 1])
            wl->batch_sizes[wl->n_bs++] = all[k];
    free(all);
    return ZEUS_OK;
}

/* Groups the sorted train rows into tables and cells, joining each with its power rows. */
static int build_index(loader *ld)
{
    zeus_trace *t = ld->trace;
    size_t table_cap = 0, workload_cap = 0;
    cell_list cells = {0};
    int rc = ZEUS_OK;
    for (size_t i = 0; i < ld->n_train && rc == ZEUS_OK;) {
        const train_row *first = &ld->train[i];
        size_t w;
        if ((rc = collect_cells(ld, &i, &cells)) == ZEUS_OK && cells.n > 0 &&
            (rc = intern_workload(ld, first, &workload_cap, &w)) == ZEUS_OK)
            rc = add_table(ld, w, first->target, &cells, &table_cap);
    }
    for (size_t w = 0; w < t->n_workloads && rc == ZEUS_OK; w++)
        rc = workload_batch_sizes(t, w);
    free(cells.items);
    return rc;
}

static int copy_path(zeus_trace *t, const char *path, const char **out)
{
    size_t len = strlen(path) + 1;
    char *copy = arena_alloc(&t->arena, len);
    if (!copy)
        return NOMEM();
    memcpy(copy, path, len);
    *out = copy;
    return ZEUS_OK;
}

int zeus_trace_load(const char *train_csv, const char *power_csv, zeus_trace **out)
{
    if (!train_csv || !power_csv || !out)
        return zeus__error(ZEUS_EINVAL, "trace: NULL argument");
    loader ld = {0};
    int rc;
    ld.trace = calloc(1, sizeof *ld.trace);
    if (!ld.trace)
        return NOMEM();
    zeus_trace *t = ld.trace;
    if ((rc = copy_path(t, train_csv, &t->train_path)) ||
        (rc = copy_path(t, power_csv, &t->power_path)) || (rc = load_train(&ld, train_csv)) ||
        (rc = load_power(&ld, power_csv, train_csv)))
        goto fail;
    qsort(ld.train, ld.n_train, sizeof *ld.train, cmp_train);
    qsort(ld.power, ld.n_power, sizeof *ld.power, cmp_power);
    if ((rc = build_index(&ld)) != ZEUS_OK)
        goto fail;
    if (t->rows == 0) {
        rc = zeus__error(ZEUS_EPARSE,
                         "%s and %s have no rows in common on (dataset, network, "
                         "batch_size, optimizer): the join is empty",
                         train_csv, power_csv);
        goto fail;
    }
    *out = t;
    t = NULL;
fail:
    free(ld.train);
    free(ld.power);
    free(ld.strings.items);
    zeus_trace_destroy(t);
    return rc;
}

int zeus_trace_load_dir(const char *dir, const char *gpu, zeus_trace **out)
{
    if (!dir || !gpu || !out)
        return zeus__error(ZEUS_EINVAL, "trace: NULL argument");
    char train[4096], power[4096];
    if ((size_t)snprintf(train, sizeof train, "%s/summary_train.csv", dir) >= sizeof train ||
        (size_t)snprintf(power, sizeof power, "%s/summary_power_%s.csv", dir, gpu) >= sizeof power)
        return zeus__error(ZEUS_EINVAL, "trace: path too long");
    return zeus_trace_load(train, power, out);
}

void zeus_trace_destroy(zeus_trace *trace)
{
    if (!trace)
        return;
    free(trace->workloads);
    free(trace->tables);
    free(trace->power_datasets);
    arena_free(trace->arena);
    free(trace);
}
