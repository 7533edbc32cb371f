/* Optimum power-limit selectors (spec 4.4): pure functions of the profiled measurements. */
#include "zeus/power_limit.h"

#include "core/internal.h"
#include "zeus/cost.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

zeus_optimum_selector zeus_selector_energy(void)
{
    return (zeus_optimum_selector){.kind = ZEUS_SELECTOR_ENERGY};
}

zeus_optimum_selector zeus_selector_time(void)
{
    return (zeus_optimum_selector){.kind = ZEUS_SELECTOR_TIME};
}

zeus_optimum_selector zeus_selector_custom(zeus_selector_fn fn, void *user, const char *name)
{
    return (zeus_optimum_selector){
        .kind = ZEUS_SELECTOR_CUSTOM, .fn = fn, .user = user, .name = name};
}

int zeus_selector_validate(const zeus_optimum_selector *s)
{
    if (!s)
        return zeus__error(ZEUS_EINVAL, "no selector given");
    char buf[ZEUS_DOUBLE_BUF];
    switch (s->kind) {
    case ZEUS_SELECTOR_ENERGY:
    case ZEUS_SELECTOR_TIME:
        return ZEUS_OK;
    case ZEUS_SELECTOR_ZEUS_COST:
        /* NaN passes the original's check (every comparison is false); we reject it. */
        if (!(s->eta_knob >= 0 && s->eta_knob <= 1))
            return zeus__error(ZEUS_EINVAL,
                               "eta_knob must be between 0 and 1, inclusive both sides. Got %s.",
                               zeus_format_double(s->eta_knob, buf, sizeof buf));
        if (s->world_size < 0)
            return zeus__error(ZEUS_EINVAL,
                               "world_size must be greater than or equal to 1. Got %d.",
                               s->world_size);
        return ZEUS_OK;
    case ZEUS_SELECTOR_MAX_SLOWDOWN:
        if (!(s->factor >= 1.0))
            return zeus__error(ZEUS_EINVAL,
                               "max_slowdown_factor must be greater than or equal to 1.0. Got %s.",
                               zeus_format_double(s->factor, buf, sizeof buf));
        return ZEUS_OK;
    case ZEUS_SELECTOR_CUSTOM:
        if (!s->fn)
            return zeus__error(ZEUS_EINVAL, "custom selector without a function");
        return ZEUS_OK;
    }
    return zeus__error(ZEUS_EINVAL, "unknown selector kind %d", (int)s->kind);
}

int zeus_selector_zeus_cost(double eta_knob, int world_size, zeus_optimum_selector *out)
{
    zeus_optimum_selector s = {
        .kind = ZEUS_SELECTOR_ZEUS_COST, .eta_knob = eta_knob, .world_size = world_size};
    int rc = zeus_selector_validate(&s);
    if (rc == ZEUS_OK)
        *out = s;
    return rc;
}

int zeus_selector_max_slowdown(double factor, zeus_optimum_selector *out)
{
    zeus_optimum_selector s = {.kind = ZEUS_SELECTOR_MAX_SLOWDOWN, .factor = factor};
    int rc = zeus_selector_validate(&s);
    if (rc == ZEUS_OK)
        *out = s;
    return rc;
}

static unsigned max_limit(const zeus_power_limit_measurement *m, size_t n)
{
    unsigned best = m[0].power_limit_w;
    for (size_t i = 1; i < n; i++)
        if (m[i].power_limit_w > best)
            best = m[i].power_limit_w;
    return best;
}

/* min(measurements, key=...) in Python: the first of the smallest. */
static unsigned argmin_field(const zeus_power_limit_measurement *m, size_t n, bool by_energy)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++) {
        double v = by_energy ? m[i].energy_j : m[i].time_s;
        double b = by_energy ? m[best].energy_j : m[best].time_s;
        if (v < b)
            best = i;
    }
    return m[best].power_limit_w;
}

/* The original builds {power_limit: cost} (a later measurement of the same limit overwrites the
 * earlier one's cost but keeps its position) and takes the first key of minimum cost. */
static unsigned select_zeus_cost(const zeus_optimum_selector *s,
                                 const zeus_power_limit_measurement *m, size_t n)
{
    double world = s->world_size == ZEUS_WORLD_SIZE_AUTO ? 1.0 : (double)s->world_size;
    double max_power = (double)max_limit(m, n) * world;
    size_t best = SIZE_MAX;
    double best_cost = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = m[j].power_limit_w == m[i].power_limit_w;
        if (seen)
            continue; /* this key's position is the first occurrence's */
        size_t last = i;
        for (size_t j = i + 1; j < n; j++)
            if (m[j].power_limit_w == m[i].power_limit_w)
                last = j;
        double cost = zeus_cost(m[last].energy_j, m[last].time_s, s->eta_knob, max_power);
        if (best == SIZE_MAX || cost < best_cost) {
            best = i;
            best_cost = cost;
        }
    }
    return m[best].power_limit_w;
}

/* Reference time: the first measurement at the largest limit (not the shortest time). */
static unsigned select_max_slowdown(const zeus_optimum_selector *s,
                                    const zeus_power_limit_measurement *m, size_t n)
{
    unsigned top = max_limit(m, n);
    double reference = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].power_limit_w == top) {
            reference = m[i].time_s;
            break;
        }
    }
    unsigned best = top;
    for (size_t i = 0; i < n; i++)
        if (m[i].time_s <= s->factor * reference && m[i].power_limit_w < best)
            best = m[i].power_limit_w;
    return best;
}

int zeus_selector_select(const zeus_optimum_selector *s,
                         const zeus_power_limit_measurement *measurements, size_t count,
                         unsigned *optimal_w)
{
    int rc = zeus_selector_validate(s);
    if (rc != ZEUS_OK)
        return rc;
    if (!measurements || count == 0)
        return zeus__error(ZEUS_EINVAL, "no measurements to select an optimal power limit from");
    switch (s->kind) {
    case ZEUS_SELECTOR_ENERGY:
        *optimal_w = argmin_field(measurements, count, true);
        return ZEUS_OK;
    case ZEUS_SELECTOR_TIME:
        *optimal_w = argmin_field(measurements, count, false);
        return ZEUS_OK;
    case ZEUS_SELECTOR_ZEUS_COST:
        *optimal_w = select_zeus_cost(s, measurements, count);
        return ZEUS_OK;
    case ZEUS_SELECTOR_MAX_SLOWDOWN:
        *optimal_w = select_max_slowdown(s, measurements, count);
        return ZEUS_OK;
    case ZEUS_SELECTOR_CUSTOM: {
        unsigned w = 0;
        zeus__clear_error();
        rc = s->fn(measurements, count, s->user, &w);
        if (rc > 0)
            rc = ZEUS_EINVAL;
        if (rc != ZEUS_OK) {
            if (!*zeus_last_error())
                zeus__error(rc, "custom selector %s failed", s->name ? s->name : "");
            return rc;
        }
        if (w == 0)
            return zeus__error(ZEUS_ERANGE, "custom selector %s chose 0 W", s->name ? s->name : "");
        *optimal_w = w;
        return ZEUS_OK;
    }
    }
    return zeus__error(ZEUS_EINVAL, "unknown selector kind %d", (int)s->kind);
}

const char *zeus_selector_describe(const zeus_optimum_selector *s, char *buf, size_t size)
{
    char num[ZEUS_DOUBLE_BUF];
    if (!buf || size == 0)
        return "";
    switch (s ? s->kind : (zeus_selector_kind)-1) {
    case ZEUS_SELECTOR_ENERGY:
        snprintf(buf, size, "Energy()");
        break;
    case ZEUS_SELECTOR_TIME:
        snprintf(buf, size, "Time()");
        break;
    case ZEUS_SELECTOR_ZEUS_COST:
        if (s->world_size == ZEUS_WORLD_SIZE_AUTO)
            snprintf(buf, size, "ZeusCost(eta_knob=%s, world_size=auto)",
                     zeus_format_double(s->eta_knob, num, sizeof num));
        else
            snprintf(buf, size, "ZeusCost(eta_knob=%s, world_size=%d)",
                     zeus_format_double(s->eta_knob, num, sizeof num), s->world_size);
        break;
    case ZEUS_SELECTOR_MAX_SLOWDOWN:
        snprintf(buf, size, "MaxSlowdownConstraint(factor=%s)",
                 zeus_format_double(s->factor, num, sizeof num));
        break;
    case ZEUS_SELECTOR_CUSTOM:
        snprintf(buf, size, "%s", s->name && *s->name ? s->name : "Custom()");
        break;
    default:
        snprintf(buf, size, "?");
        break;
    }
    return buf;
}

int zeus_selector_parse(const char *name, double eta_knob, double factor,
                        zeus_optimum_selector *out)
{
    if (!name)
        return zeus__error(ZEUS_EINVAL, "no selector name");
    if (!strcasecmp(name, "zeus-cost") || !strcasecmp(name, "cost") ||
        !strcasecmp(name, "zeuscost"))
        return zeus_selector_zeus_cost(eta_knob, ZEUS_WORLD_SIZE_AUTO, out);
    if (!strcasecmp(name, "energy")) {
        *out = zeus_selector_energy();
        return ZEUS_OK;
    }
    if (!strcasecmp(name, "time")) {
        *out = zeus_selector_time();
        return ZEUS_OK;
    }
    if (!strcasecmp(name, "max-slowdown") || !strcasecmp(name, "maxslowdown"))
        return zeus_selector_max_slowdown(factor, out);
    return zeus__error(ZEUS_EINVAL,
                       "unknown selector '%s' (choose zeus-cost, energy, time or max-slowdown)",
                       name);
}
