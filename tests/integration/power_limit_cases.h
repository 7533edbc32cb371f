/* Spec 11.2: the recorded profiling logs in data/profile_data and the optimal power
 * limits (W) each selector must pick from them. Shared by tests/unit/test_selectors.c and the
 * power-limit integration tests. */
#ifndef ZEUS_TEST_POWER_LIMIT_CASES_H
#define ZEUS_TEST_POWER_LIMIT_CASES_H

#include "zeus/power_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_ETA_COUNT 5
#define PL_FACTOR_COUNT 8

static const double pl_etas[PL_ETA_COUNT] = {0.0, 0.25, 0.5, 0.75, 1.0};
static const double pl_factors[PL_FACTOR_COUNT] = {1.0, 1.1, 1.2, 1.5, 2.0, 3.0, 5.0, 100.0};

typedef struct {
    const char *file;
    unsigned min_w, max_w;
    unsigned gpus;
    unsigned zeus[PL_ETA_COUNT];
    unsigned energy, time;
    unsigned slowdown[PL_FACTOR_COUNT];
} pl_case;

/* clang-format off */
static const pl_case pl_cases[] = {
    {"A40+bert-base-uncased+gpu0.csv", 100, 300, 1, {275, 275, 275, 200, 200}, 200, 275,
     {275, 250, 200, 175, 150, 125, 100, 100}},
    {"A40+resnet18+gpu0,1,2,3.csv", 100, 300, 4, {275, 275, 300, 300, 100}, 100, 275,
     {275, 125, 100, 100, 100, 100, 100, 100}},
    {"A40+resnet18+gpu0.csv", 100, 300, 1, {175, 175, 175, 175, 175}, 175, 175,
     {175, 175, 150, 150, 125, 100, 100, 100}},
    {"A40+resnet50+gpu0,1,2,3.csv", 100, 300, 4, {150, 150, 150, 100, 100}, 100, 150,
     {125, 100, 100, 100, 100, 100, 100, 100}},
    {"A40+resnet50+gpu0.csv", 100, 300, 1, {300, 225, 200, 200, 175}, 175, 300,
     {300, 200, 175, 175, 150, 100, 100, 100}},
    {"A40+shufflenetv2+gpu0.csv", 100, 300, 1, {300, 300, 150, 150, 150}, 150, 300,
     {300, 150, 150, 125, 125, 100, 100, 100}},
    {"V100+bert-base-uncased+gpu0.csv", 100, 250, 1, {250, 250, 200, 150, 125}, 125, 250,
     {250, 200, 200, 125, 100, 100, 100, 100}},
    {"V100+resnet18+gpu0,1.csv", 100, 250, 2, {250, 100, 100, 100, 100}, 100, 250,
     {250, 100, 100, 100, 100, 100, 100, 100}},
    {"V100+resnet18+gpu0.csv", 100, 250, 1, {250, 150, 150, 150, 125}, 125, 250,
     {250, 150, 125, 125, 100, 100, 100, 100}},
    {"V100+resnet50+gpu0,1.csv", 100, 250, 2, {250, 250, 175, 150, 125}, 125, 250,
     {250, 175, 150, 125, 100, 100, 100, 100}},
    {"V100+resnet50+gpu0.csv", 100, 250, 1, {250, 250, 175, 175, 150}, 150, 250,
     {250, 200, 175, 150, 125, 100, 100, 100}},
    {"V100+shufflenetv2+gpu0.csv", 100, 250, 1, {200, 200, 100, 100, 100}, 100, 200,
     {200, 125, 100, 100, 100, 100, 100, 100}},
};
/* clang-format on */

#define PL_CASE_COUNT (sizeof pl_cases / sizeof pl_cases[0])

static inline char *pl_case_path(const pl_case *c)
{
    size_t n = strlen(ZEUS_DATA_DIR) + strlen(c->file) + 32;
    char *p = malloc(n);
    snprintf(p, n, "%s/profile_data/%s", ZEUS_DATA_DIR, c->file);
    return p;
}

/* Reads a ZeusMonitor log the way the original test does: the limit from the window name's
 * suffix, energy = the GPU columns summed left to right. Returns the row count (<= cap). */
static inline size_t pl_case_read(const pl_case *c, zeus_power_limit_measurement *out, size_t cap)
{
    char *path = pl_case_path(c);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
    char line[1024];
    size_t n = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (n < cap && fgets(line, sizeof line, f)) {
        char *save = NULL;
        char *start = strtok_r(line, ",\n", &save);
        char *name = strtok_r(NULL, ",\n", &save);
        char *elapsed = strtok_r(NULL, ",\n", &save);
        if (!start || !name || !elapsed)
            break;
        const char *us = strrchr(name, '_');
        double energy = 0;
        for (char *e = strtok_r(NULL, ",\n", &save); e; e = strtok_r(NULL, ",\n", &save))
            energy += strtod(e, NULL);
        out[n++] =
            (zeus_power_limit_measurement){.power_limit_w = (unsigned)strtoul(us + 1, NULL, 10),
                                           .energy_j = energy,
                                           .time_s = strtod(elapsed, NULL)};
    }
    fclose(f);
    return n;
}

#endif
