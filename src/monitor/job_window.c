/* Job windows: the ranks' windows combined (zeus/job_window.h). Pure logic over what the
 * caller's all-gather brought; the only device access is the UUID lookup of
 * zeus_job_part_from_measurement. */
#include "zeus/job_window.h"

#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int zeus_job_part_from_measurement(const zeus_monitor *monitor, const zeus_measurement *m,
                                   unsigned rank, const char *host, zeus_job_part *part,
                                   zeus_job_reading *readings, size_t capacity, size_t *count)
{
    if (!monitor || !m || !part || !count || (capacity && !readings))
        return zeus__error(ZEUS_EINVAL, "job window: missing argument");
    memset(part, 0, sizeof *part);
    part->rank = rank;
    zeus__strlcpy(part->host, host ? host : "", sizeof part->host);
    part->start_s = zeus_measurement_start_time_s(m);
    part->time_s = zeus_measurement_time_s(m);
    zeus_devices *devices = zeus_monitor_devices(monitor);
    unsigned n = zeus_measurement_gpu_count(m);
    *count = n;
    if (n > capacity)
        return zeus__error(ZEUS_ERANGE, "job window: %u GPU readings, room for %zu", n, capacity);
    for (unsigned i = 0; i < n; i++) {
        const zeus_gpu_measurement *g = zeus_measurement_gpu(m, i);
        zeus_gpu_info info;
        int rc = zeus_gpu_get_info(devices, g->index, &info);
        if (rc != ZEUS_OK)
            return rc;
        zeus_job_reading *r = &readings[i];
        memset(r, 0, sizeof *r);
        r->rank = rank;
        zeus__strlcpy(r->host, part->host, sizeof r->host);
        zeus__strlcpy(r->uuid, info.uuid, sizeof r->uuid);
        r->energy_j = g->error == ZEUS_OK ? g->energy_j : NAN;
    }
    return ZEUS_OK;
}

static int by_uuid(const void *a, const void *b)
{
    const zeus_job_reading *x = *(const zeus_job_reading *const *)a;
    const zeus_job_reading *y = *(const zeus_job_reading *const *)b;
    return strncmp(x->uuid, y->uuid, sizeof x->uuid);
}

static int check_parts(const zeus_job_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const zeus_job_part *p = &parts[i];
        if (!isfinite(p->time_s) || p->time_s < 0 || !isfinite(p->start_s))
            return zeus__error(ZEUS_EINVAL, "job window: rank %u reported time %g s from %g",
                               p->rank, p->time_s, p->start_s);
        if (!isfinite(p->sync_before_s) || !isfinite(p->sync_after_s) ||
            p->sync_after_s < p->sync_before_s)
            return zeus__error(ZEUS_EINVAL,
                               "job window: rank %u's clock barrier ended (%.6f) before it began "
                               "(%.6f)",
                               p->rank, p->sync_after_s, p->sync_before_s);
        for (size_t j = 0; j < i; j++)
            if (parts[j].rank == p->rank)
                return zeus__error(ZEUS_EINVAL, "job window: two parts for rank %u", p->rank);
    }
    return ZEUS_OK;
}

static bool has_rank(const zeus_job_part *parts, size_t n, unsigned rank)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].rank == rank)
            return true;
    return false;
}

int zeus_job_window_combine(const zeus_job_part *parts, size_t part_count,
                            const zeus_job_reading *readings, size_t reading_count,
                            zeus_job_measurement *out)
{
    if (!out || !parts || part_count == 0 || (reading_count && !readings))
        return zeus__error(ZEUS_EINVAL, "job window: no parts to combine");
    memset(out, 0, sizeof *out);
    int rc = check_parts(parts, part_count);
    if (rc != ZEUS_OK)
        return rc;
    double first = INFINITY, last = -INFINITY, t0 = INFINITY, t1 = -INFINITY;
    for (size_t i = 0; i < part_count; i++) {
        const zeus_job_part *p = &parts[i];
        out->time_s = fmax(out->time_s, p->time_s);
        first = fmin(first, p->start_s);
        last = fmax(last, p->start_s + p->time_s);
        t0 = fmin(t0, p->sync_before_s);
        t1 = fmax(t1, p->sync_after_s);
    }
    out->ranks = (unsigned)part_count;
    out->span_s = last - first;
    out->clock_skew_bound_s = t1 - t0;
    out->readings = (unsigned)reading_count;
    if (reading_count == 0)
        return ZEUS_OK;
    const zeus_job_reading **sorted = malloc(reading_count * sizeof *sorted);
    if (!sorted)
        return zeus__error(ZEUS_ENOMEM, "job window: out of memory for %zu readings",
                           reading_count);
    for (size_t i = 0; i < reading_count; i++) {
        const zeus_job_reading *r = &readings[i];
        if (!r->uuid[0] || !has_rank(parts, part_count, r->rank)) {
            rc = zeus__error(ZEUS_EINVAL, "job window: reading %zu (rank %u) has %s", i, r->rank,
                             r->uuid[0] ? "no part for its rank" : "no GPU UUID");
            goto done;
        }
        sorted[i] = r;
    }
    qsort(sorted, reading_count, sizeof *sorted, by_uuid);
    for (size_t i = 0; i < reading_count;) {
        /* One physical GPU: its readings i..j-1. The largest one counts. */
        size_t j = i + 1;
        double hi = sorted[i]->energy_j, lo = sorted[i]->energy_j;
        for (; j < reading_count && by_uuid(&sorted[i], &sorted[j]) == 0; j++) {
            if (strncmp(sorted[i]->host, sorted[j]->host, ZEUS_JOB_HOST_LEN) != 0) {
                rc = zeus__error(ZEUS_EINVAL,
                                 "job window: GPU %.*s is reported by host %s (rank %u) and by "
                                 "host %s (rank %u); GPU UUIDs are unique, so one of them is "
                                 "misconfigured",
                                 ZEUS_GPU_UUID_LEN, sorted[i]->uuid, sorted[i]->host,
                                 sorted[i]->rank, sorted[j]->host, sorted[j]->rank);
                goto done;
            }
            hi = fmax(hi, sorted[j]->energy_j); /* fmax ignores a NAN beside a number */
            lo = fmin(lo, sorted[j]->energy_j);
        }
        out->gpu_count++;
        out->duplicates += (unsigned)(j - i - 1);
        if (j - i > 1 && isfinite(hi - lo))
            out->duplicate_spread_j = fmax(out->duplicate_spread_j, hi - lo);
        out->total_energy_j += hi; /* NAN stays NAN: no reading of this GPU */
        i = j;
    }
done:
    free(sorted);
    return rc;
}
