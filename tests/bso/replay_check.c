/* Test helper: replays a `zeus run` job's recorded trials (zeus history --json) through a fresh
 * zeus_recurring (the simulator's driver) configured from the job file, and checks that every
 * recorded batch size is the decision the simulator's code makes for the same observed costs.
 * Usage: replay_check JOBFILE HISTORY_JSON. Prints "replay ok N" and exits 0, or 1. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zeus/recurring.h"

static cJSON *load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cJSON_Parse(buf);
}

static double num(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    cJSON *jf = load(argv[1]), *h = load(argv[2]);
    if (!jf || !h) {
        fprintf(stderr, "cannot parse the inputs\n");
        return 1;
    }
    zeus_job job;
    zeus_job_init(&job, cJSON_GetObjectItem(jf, "dataset")->valuestring,
                  cJSON_GetObjectItem(jf, "network")->valuestring,
                  cJSON_GetObjectItem(jf, "optimizer")->valuestring, num(jf, "target_metric", 0),
                  (int)num(jf, "max_epochs", 1), (int)num(jf, "default_bs", 0),
                  num(jf, "default_lr", NAN));
    int bs[64], n = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(jf, "batch_sizes")) bs[n++] = e->valueint;
    zeus_recurring_config cfg;
    zeus_recurring_config_default(&cfg);
    cfg.eta_knob = num(jf, "eta_knob", 0.5);
    cfg.beta_knob = num(jf, "beta_knob", 2.0);
    cfg.max_power_w = (int)num(jf, "max_power_w", 0);
    cfg.bso.seed = (uint64_t)num(jf, "seed", 123456);
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(jf, "policy");
    if (policy && zeus_bso_policy_parse(policy->valuestring, &cfg.bso.policy) < 0) {
        printf("replay: %s\n", zeus_last_error());
        return 1;
    }
    zeus_recurring *r;
    if (zeus_recurring_create(&cfg, &job, bs, (size_t)n, &r) < 0) {
        fprintf(stderr, "create: %s\n", zeus_last_error());
        return 1;
    }
    int checked = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(h, "trials"))
    {
        const char *status = cJSON_GetObjectItem(e, "status")->valuestring;
        if (strcmp(status, "Succeeded") && strcmp(status, "NotConverged"))
            continue; /* Failed and Interrupted trials were never reported */
        zeus_recurring_attempt a;
        if (zeus_recurring_next(r, &a) < 0) {
            fprintf(stderr, "next: %s\n", zeus_last_error());
            return 1;
        }
        int want = (int)num(e, "batch_size", 0);
        if (a.batch_size != want) {
            fprintf(stderr, "trial %d: recorded batch size %d, the simulator's driver says %d\n",
                    (int)num(e, "trial_number", 0), want, a.batch_size);
            return 1;
        }
        if (a.profile) {
            zeus_pl_cost c = {(int)num(e, "power_limit", cfg.max_power_w), 1.0};
            zeus_recurring_profile(r, &a, &c, 1);
        }
        zeus_recurring_result res = {num(e, "energy", 0), num(e, "time", 0),
                                     cJSON_IsTrue(cJSON_GetObjectItem(e, "reached"))};
        zeus_recurring_verdict v;
        if (zeus_recurring_report(r, &res, &v) < 0 && !cJSON_GetObjectItem(e, "message")) {
            fprintf(stderr, "report: %s\n", zeus_last_error());
            return 1;
        }
        double cost = num(e, "cost", NAN);
        if (v.ran && cost != v.cost) {
            fprintf(stderr, "trial %d: recorded cost %.17g, the simulator's %.17g\n",
                    (int)num(e, "trial_number", 0), cost, v.cost);
            return 1;
        }
        checked++;
    }
    printf("replay ok %d\n", checked);
    zeus_recurring_destroy(r);
    cJSON_Delete(jf);
    cJSON_Delete(h);
    return 0;
}
