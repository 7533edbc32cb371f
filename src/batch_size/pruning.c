/* Pruning exploration (the original's PruningExploreManager, spec 6.4): per round, walk down
 * from the default batch size, then up, stopping a walk at the first size that does not reach
 * the target; the next round runs over the survivors, centred on the round's cheapest size. */
#include "batch_size/policy_internal.h"

#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int zeus__pruning_alloc(size_t cap, zeus_pruning **out)
{
    zeus_pruning *p = calloc(1, sizeof *p);
    if (!p)
        goto fail;
    size_t c = cap ? cap : 1;
    p->sizes = calloc(c, sizeof *p->sizes);
    p->down = calloc(c, sizeof *p->down);
    p->up = calloc(c, sizeof *p->up);
    p->good = calloc(c, sizeof *p->good);
    if (!p->sizes || !p->down || !p->up || !p->good)
        goto fail;
    p->cap = cap;
    *out = p;
    return ZEUS_OK;
fail:
    zeus_pruning_destroy(p);
    return zeus__error(ZEUS_ENOMEM, "pruning: out of memory");
}

int zeus_pruning_create(const int *batch_sizes, size_t n, int default_bs, int num_rounds,
                        zeus_pruning **out)
{
    if ((!batch_sizes && n) || !out)
        return zeus__error(ZEUS_EINVAL, "pruning: NULL argument");
    if (num_rounds < 0)
        return zeus__error(ZEUS_EINVAL, "pruning: num_pruning_rounds %d is negative", num_rounds);
    size_t i;
    for (i = 0; i < n && batch_sizes[i] != default_bs; i++) {
    }
    if (i == n)
        return zeus__error(ZEUS_EINVAL, "Default batch size %d not in the batch sizes.",
                           default_bs);
    zeus_pruning *p;
    int rc = zeus__pruning_alloc(n, &p);
    if (rc != ZEUS_OK)
        return rc;
    memcpy(p->sizes, batch_sizes, n * sizeof *batch_sizes);
    p->n_sizes = n;
    p->default_bs = default_bs;
    p->num_rounds = num_rounds;
    p->expecting = default_bs; /* as the original's constructor sets it */
    p->phase = ZEUS_PRUNING_START;
    *out = p;
    return ZEUS_OK;
}

void zeus_pruning_destroy(zeus_pruning *p)
{
    if (!p)
        return;
    free(p->sizes);
    free(p->down);
    free(p->up);
    free(p->good);
    free(p);
}

static int cmp_int_asc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_int_desc(const void *a, const void *b)
{
    return cmp_int_asc(b, a);
}

/* Sets up a round around the current default; false (and FAILED) if it is not a candidate. */
static bool begin_round(zeus_pruning *p)
{
    size_t idx;
    for (idx = 0; idx < p->n_sizes && p->sizes[idx] != p->default_bs; idx++) {
    }
    if (idx == p->n_sizes) {
        /* [quirk kept] A round that kept nothing leaves no centre for the next one; the
         * original dies here with list.index's ValueError. */
        p->phase = ZEUS_PRUNING_FAILED;
        return false;
    }
    p->n_down = idx + 1;
    memcpy(p->down, p->sizes, p->n_down * sizeof *p->down);
    qsort(p->down, p->n_down, sizeof *p->down, cmp_int_desc);
    p->n_up = p->n_sizes - idx - 1;
    memcpy(p->up, p->sizes + idx + 1, p->n_up * sizeof *p->up);
    qsort(p->up, p->n_up, sizeof *p->up, cmp_int_asc);
    p->n_good = 0;
    p->best_cost = INFINITY;
    p->dir = 0;
    p->pos = 0;
    return true;
}

static int no_centre(const zeus_pruning *p)
{
    return zeus__error(ZEUS_EINVAL,
                       "pruning: default batch size %d is not in the surviving list (no batch "
                       "size reached the target in the previous round)",
                       p->default_bs);
}

static void end_round(zeus_pruning *p)
{
    p->expecting = 0;
    memcpy(p->sizes, p->good, p->n_good * sizeof *p->good);
    p->n_sizes = p->n_good;
    qsort(p->sizes, p->n_sizes, sizeof *p->sizes, cmp_int_asc);
    p->round++;
}

int zeus_pruning_next(zeus_pruning *p, int *batch_size, bool *done)
{
    *batch_size = 0;
    *done = false;
    switch (p->phase) {
    case ZEUS_PRUNING_AWAIT:
        return zeus__error(ZEUS_ESTATE,
                           "pruning: the result of batch size %d has not been reported yet",
                           p->expecting);
    case ZEUS_PRUNING_FAILED:
        return zeus__error(ZEUS_ESTATE, "pruning: exploration ended with an error");
    case ZEUS_PRUNING_DONE:
        *done = true;
        return ZEUS_OK;
    case ZEUS_PRUNING_REPORTED: {
        /* The generator resumes after its empty yield and digests the result. */
        int bs = p->dir == 0 ? p->down[p->pos] : p->up[p->pos];
        if (p->reported_reached) {
            if (p->best_cost > p->reported_cost) {
                p->best_cost = p->reported_cost;
                p->default_bs = bs;
            }
            p->good[p->n_good++] = bs;
            p->pos++;
        } else {
            p->dir++; /* stop this walk */
            p->pos = 0;
        }
        break;
    }
    case ZEUS_PRUNING_START:
        if (p->round < p->num_rounds && !begin_round(p))
            return no_centre(p);
        break;
    }
    for (;;) {
        if (p->round >= p->num_rounds) {
            qsort(p->sizes, p->n_sizes, sizeof *p->sizes, cmp_int_asc);
            p->phase = ZEUS_PRUNING_DONE;
            p->expecting = 0;
            *done = true;
            return ZEUS_OK;
        }
        if (p->dir == 0 && p->pos >= p->n_down) {
            p->dir = 1;
            p->pos = 0;
        }
        if (p->dir == 1 && p->pos < p->n_up) {
            p->expecting = p->up[p->pos];
        } else if (p->dir == 0) {
            p->expecting = p->down[p->pos];
        } else {
            end_round(p);
            if (p->round < p->num_rounds && !begin_round(p))
                return no_centre(p);
            continue;
        }
        p->phase = ZEUS_PRUNING_AWAIT;
        *batch_size = p->expecting;
        return ZEUS_OK;
    }
}

int zeus_pruning_report(zeus_pruning *p, int batch_size, double cost, bool reached)
{
    if (p->phase != ZEUS_PRUNING_AWAIT)
        return zeus__error(ZEUS_ESTATE,
                           "pruning: result for batch size %d reported while none "
                           "was awaited",
                           batch_size);
    if (batch_size != p->expecting) {
        int expected = p->expecting;
        p->phase = ZEUS_PRUNING_FAILED; /* the original's generator dies with the error */
        return zeus__error(ZEUS_ESTATE,
                           "PruningExplorationManager: self.expecting=%d, "
                           "batch_size=%d",
                           expected, batch_size);
    }
    p->expecting = 0;
    p->reported_cost = cost;
    p->reported_reached = reached;
    p->phase = ZEUS_PRUNING_REPORTED;
    return ZEUS_OK;
}

int zeus_pruning_expecting(const zeus_pruning *p)
{
    return p->expecting;
}

bool zeus_pruning_done(const zeus_pruning *p)
{
    return p->phase == ZEUS_PRUNING_DONE;
}

void zeus_pruning_batch_sizes(const zeus_pruning *p, const int **sizes, size_t *n)
{
    *sizes = p->sizes;
    *n = p->n_sizes;
}
