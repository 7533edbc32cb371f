/* Helpers for the power-limit integration tests: the fake NVML set up with a recorded
 * profile's limit range, its call log, a replay monitor, a training loop. */
#ifndef ZEUS_TEST_POWER_LIMIT_RIG_H
#define ZEUS_TEST_POWER_LIMIT_RIG_H

#include "test_support.h"

#include "power_limit_cases.h"
#include "zeus/power_limit.h"
#include "zeus/zeus.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *fake_config(const pl_case *c)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"gpus\": [{\"name\": \"%s\", \"architecture\": \"%s\", "
             "\"min_power_limit_w\": %u, \"max_power_limit_w\": %u, \"count\": 4}]}",
             c->max_w == 300 ? "NVIDIA A40" : "Tesla V100-SXM2-32GB",
             c->max_w == 300 ? "ampere" : "volta", c->min_w, c->max_w);
    return buf;
}

/* The fake NVML's log, split into (function, gpu, value) triples. */
typedef struct {
    unsigned limit_gpu[4096], limit_mw[4096];
    size_t limits;
    unsigned persistence[64];
    size_t persistence_count;
    size_t persistence_after_limit; /* persistence calls after the first limit call */
} nvml_log;

static inline void read_log(const char *path, nvml_log *l)
{
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char fn[128];
    unsigned gpu, value;
    while (fscanf(f, "%127s %u %u", fn, &gpu, &value) == 3) {
        if ((strcmp(fn, "nvmlDeviceSetPowerManagementLimit") == 0 ||
             strcmp(fn, "amdsmi_set_power_cap") == 0) && /* the vendor matrix's two fakes */
            l->limits < 4096) {
            l->limit_gpu[l->limits] = gpu;
            l->limit_mw[l->limits++] = value;
        } else if (strcmp(fn, "nvmlDeviceSetPersistenceMode") == 0 && l->persistence_count < 64) {
            l->persistence[l->persistence_count++] = gpu * 10 + value;
            l->persistence_after_limit += l->limits > 0;
        }
    }
    fclose(f);
}

/* Each expected call appears once per monitored GPU, in ascending index order. */
static inline void assert_calls(const nvml_log *l, size_t from, const unsigned *calls_w,
                                size_t count, unsigned gpus, const char *what)
{
    bool ok = l->limits - from == count * gpus;
    for (size_t i = 0; ok && i < count; i++)
        for (unsigned g = 0; ok && g < gpus; g++)
            ok = l->limit_gpu[from + i * gpus + g] == g &&
                 l->limit_mw[from + i * gpus + g] == calls_w[i] * 1000;
    if (!ok) {
        fprintf(stderr, "%s\nexpected:", what);
        for (size_t i = 0; i < count; i++)
            fprintf(stderr, " %u", calls_w[i]);
        fprintf(stderr, " (x%u GPUs)\nreceived:", gpus);
        for (size_t i = from; i < l->limits; i++)
            fprintf(stderr, " %u@%u", l->limit_mw[i] / 1000, l->limit_gpu[i]);
        fprintf(stderr, "\n");
    }
    assert_true(ok);
}

typedef struct {
    zeus_devices *devices;
    zeus_monitor *monitor;
    char *log;
} rig;

static inline void rig_open(rig *r, const pl_case *c, const char *log_name)
{
    zt_use_fake_nvml(zt_dir, fake_config(c));
    r->log = zt_path(zt_dir, log_name);
    unlink(r->log);
    setenv("ZEUS_FAKE_NVML_LOG", r->log, 1);
    assert_int_equal(zt_open(&r->devices), ZEUS_OK);
    char *csv = pl_case_path(c);
    int rc = zeus_monitor_open_replay(r->devices, csv, false, &r->monitor);
    if (rc != ZEUS_OK)
        fprintf(stderr, "replay %s: %s\n", csv, zeus_last_error());
    assert_int_equal(rc, ZEUS_OK);
    assert_int_equal(zeus_monitor_gpu_count(r->monitor), c->gpus);
    free(csv);
}

static inline void rig_close(rig *r)
{
    zeus_monitor_close(r->monitor);
    zeus_devices_close(r->devices);
    unsetenv("ZEUS_FAKE_NVML_LOG");
    free(r->log);
}

static inline zeus_power_limit_optimizer *create(rig *r, zeus_optimum_selector sel,
                                                 const char *profile)
{
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.selector = sel;
    o.profile_path = profile;
    zeus_power_limit_optimizer *plo = NULL;
    int rc = zeus_power_limit_optimizer_create(r->monitor, &o, &plo);
    if (rc != ZEUS_OK)
        fprintf(stderr, "create: %s\n", zeus_last_error());
    assert_int_equal(rc, ZEUS_OK);
    return plo;
}

static inline void train(zeus_power_limit_optimizer *plo, unsigned epochs, unsigned steps,
                         bool fresh)
{
    for (unsigned e = 0; e < epochs; e++) {
        assert_int_equal(zeus_power_limit_on_epoch_begin(plo), ZEUS_OK);
        for (unsigned s = 0; s < steps; s++) {
            int rc = zeus_power_limit_on_step_begin(plo);
            if (rc != ZEUS_OK)
                fprintf(stderr, "epoch %u step %u: %s\n", e, s + 1, zeus_last_error());
            assert_int_equal(rc, ZEUS_OK);
            if (fresh && e == 0 && s == 0) {
                zeus_power_limit_state st;
                zeus_power_limit_get_state(plo, &st);
                assert_int_equal(st.phase, ZEUS_PL_READY);
            }
            assert_int_equal(zeus_power_limit_on_step_end(plo), ZEUS_OK);
        }
        assert_int_equal(zeus_power_limit_on_epoch_end(plo), ZEUS_OK);
    }
}

#endif
