/* `zeus run`'s job file and the driver's output helpers (run_jobfile.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "run_jobfile.h"
#include "zeus/device.h"
#include "zeus/util.h"

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("[Zeus Master] ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zeus run: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

/* Python's str(float) */
const char *pyf(double v, char *buf)
{
    return zeus_format_double(v, buf, ZEUS_DOUBLE_BUF);
}

char *read_text(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* ---- the job file --------------------------------------------------------------------------- */
static int jf_error(const char *path, const char *what)
{
    return fail("job file %s: %s", path, what);
}

/* The job's names (dataset, network, optimizer; job_id, optional, may be NULL) into vals. */
static int jf_names(const char *path, cJSON *d, const char *vals[4])
{
    char err[512];
    const char *names[] = {"dataset", "network", "optimizer", "job_id"};
    for (int i = 0; i < 4; i++) {
        cJSON *f = cJSON_GetObjectItemCaseSensitive(d, names[i]);
        const char *problem = cJSON_IsString(f)
                                  ? bso_text_problem(f->valuestring, strlen(f->valuestring))
                                  : "must be a string";
        if (i == 3 && !f) /* job_id is optional */
            problem = NULL;
        if (problem) {
            snprintf(err, sizeof err, "'%s' %s", names[i], problem);
            return jf_error(path, err);
        }
        vals[i] = f ? f->valuestring : NULL;
    }
    return 0;
}

/* The job (zeus_job_init) from the names and the numbers. */
static int jf_job(const char *path, cJSON *d, const char *const vals[4], jobfile *jf)
{
    cJSON *tm = cJSON_GetObjectItemCaseSensitive(d, "target_metric");
    cJSON *me = cJSON_GetObjectItemCaseSensitive(d, "max_epochs");
    cJSON *dbs = cJSON_GetObjectItemCaseSensitive(d, "default_bs");
    cJSON *dlr = cJSON_GetObjectItemCaseSensitive(d, "default_lr");
    long long max_epochs, default_bs;
    if (!cJSON_IsNumber(tm))
        return jf_error(path, "'target_metric' must be a number");
    if (bso_json_int(me, 1, BSO_INT_MAX, &max_epochs) != BSO_INT_OK)
        return jf_error(path, "'max_epochs' must be an integer from 1 to 2147483647");
    if (bso_json_int(dbs, 1, BSO_INT_MAX, &default_bs) != BSO_INT_OK)
        return jf_error(path, "'default_bs' is required: an integer from 1 to 2147483647");
    if (dlr && !cJSON_IsNull(dlr) && !cJSON_IsNumber(dlr))
        return jf_error(path, "'default_lr' must be a number");
    if (zeus_job_init(&jf->job, vals[0], vals[1], vals[2], tm->valuedouble, (int)max_epochs,
                      (int)default_bs, cJSON_IsNumber(dlr) ? dlr->valuedouble : NAN) < 0)
        return jf_error(path, zeus_last_error());
    return 0;
}

/* The command, its working directory and the batch sizes. */
static int jf_command(const char *path, cJSON *d, jobfile *jf)
{
    long long v;
    cJSON *cmd = cJSON_GetObjectItemCaseSensitive(d, "command"), *e;
    if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) < 1 || cJSON_GetArraySize(cmd) >= MAX_ARGS)
        return jf_error(path, "'command' is required: a non-empty list of strings");
    cJSON_ArrayForEach(e, cmd)
    {
        if (!cJSON_IsString(e))
            return jf_error(path, "'command' must be a list of strings");
        jf->argv[jf->argc++] = e->valuestring;
    }
    cJSON *wd = cJSON_GetObjectItemCaseSensitive(d, "workdir");
    if (wd && !cJSON_IsNull(wd) && !cJSON_IsString(wd))
        return jf_error(path, "'workdir' must be a string");
    snprintf(jf->workdir, sizeof jf->workdir, "%s", cJSON_IsString(wd) ? wd->valuestring : ".");
    cJSON *bs = cJSON_GetObjectItemCaseSensitive(d, "batch_sizes");
    if (!cJSON_IsArray(bs) || cJSON_GetArraySize(bs) < 1 || cJSON_GetArraySize(bs) > MAX_BS)
        return jf_error(path, "'batch_sizes' is required: a list of 1 to 64 positive integers");
    cJSON_ArrayForEach(e, bs)
    {
        if (bso_json_int(e, 1, BSO_INT_MAX, &v) != BSO_INT_OK)
            return jf_error(path, "'batch_sizes' must hold integers from 1 to 2147483647");
        jf->bs[jf->n_bs++] = (int)v;
    }
    return 0;
}

/* The knobs, the seed, the power limit and the job id's form. */
static int jf_knobs(const char *path, cJSON *d, cJSON *id, jobfile *jf)
{
    long long v;
    cJSON *eta = cJSON_GetObjectItemCaseSensitive(d, "eta_knob");
    cJSON *beta = cJSON_GetObjectItemCaseSensitive(d, "beta_knob");
    cJSON *seed = cJSON_GetObjectItemCaseSensitive(d, "seed");
    cJSON *mp = cJSON_GetObjectItemCaseSensitive(d, "max_power_w");
    cJSON *policy = cJSON_GetObjectItemCaseSensitive(d, "policy");
    if (policy && !cJSON_IsString(policy))
        return jf_error(path, "'policy' must be a string: pruning-gts or walk-ts");
    if (policy && policy_of(path, policy->valuestring, &jf->policy) != 0)
        return 1;
    jf->eta = cJSON_IsNumber(eta) ? eta->valuedouble : 0.5;
    jf->beta = cJSON_IsNumber(beta) ? beta->valuedouble : 2.0;
    if ((eta && !cJSON_IsNumber(eta)) || !(jf->eta >= 0 && jf->eta <= 1))
        return jf_error(path, "'eta_knob' must be a number in [0, 1]");
    if ((beta && !cJSON_IsNumber(beta)) || !(jf->beta > 0))
        return jf_error(path, "'beta_knob' must be a number > 0");
    if (seed && bso_json_int(seed, 0, BSO_BIGINT_MAX, &v) != BSO_INT_OK)
        return jf_error(path, "'seed' must be an integer from 0 to 2^53");
    jf->seed = seed ? (unsigned long long)v : 123456;
    if (mp && (!cJSON_IsNumber(mp) || mp->valuedouble < 1 || mp->valuedouble > 1e6))
        return jf_error(path, "'max_power_w' must be a positive number of watts");
    jf->max_power_w = mp ? (int)mp->valuedouble : 0;
    if (id && (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) >= 300))
        return jf_error(path, "'job_id' must be a non-empty string");
    return 0;
}

/* The default batch size among the batch sizes, and the job id (given or the original's). */
static int jf_job_id(const char *path, cJSON *id, const char *const vals[4], jobfile *jf)
{
    char err[512];
    bool has_default = false;
    for (int i = 0; i < jf->n_bs; i++)
        has_default = has_default || jf->bs[i] == jf->job.default_bs;
    if (!has_default)
        return jf_error(path, "'default_bs' must be one of 'batch_sizes'");
    char lr[ZEUS_DOUBLE_BUF], t[ZEUS_DOUBLE_BUF];
    if (id)
        snprintf(jf->job_id, sizeof jf->job_id, "%s", id->valuestring);
    else /* the original's Job.to_logdir() names the job */
        snprintf(jf->job_id, sizeof jf->job_id, "%s+%s+bs%d+%s+lr%s+tm%s+me%d", vals[0], vals[1],
                 jf->job.default_bs, vals[2],
                 isnan(jf->job.default_lr) ? "None" : pyf(jf->job.default_lr, lr),
                 pyf(jf->job.target_metric, t), jf->job.max_epochs);
    /* The job id names the log folder under --log-base: it must stay a single folder there. */
    const char *problem = bso_path_part_problem(jf->job_id);
    if (problem) {
        snprintf(err, sizeof err,
                 "the job id '%s' %s: it names the log folder under --log-base (%s)", jf->job_id,
                 problem, id ? "give another 'job_id'" : "from 'dataset', 'network', 'optimizer'");
        return jf_error(path, err);
    }
    return 0;
}

int load_jobfile(const char *path, jobfile *jf)
{
    char err[512];
    memset(jf, 0, sizeof *jf);
    char *text = read_text(path, err, sizeof err);
    if (!text)
        return fail("%s", err);
    bool nul = bso_json_has_nul(text);
    jf->doc = nul ? NULL : cJSON_Parse(text);
    free(text);
    cJSON *d = jf->doc;
    if (nul)
        return jf_error(path, "strings must not contain a NUL character (\\u0000)");
    if (!cJSON_IsObject(d))
        return jf_error(path, "not a JSON object");
    const char *vals[4];
    int rc;
    cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "job_id");
    if ((rc = jf_names(path, d, vals)) != 0 || (rc = jf_job(path, d, vals, jf)) != 0 ||
        (rc = jf_command(path, d, jf)) != 0 || (rc = jf_knobs(path, d, id, jf)) != 0)
        return rc;
    return jf_job_id(path, id, vals, jf);
}

int policy_of(const char *where, const char *name, int *policy)
{
    if (zeus_bso_policy_parse(name, policy) != ZEUS_OK)
        return fail("%s: %s", where, zeus_last_error());
    return 0;
}

/* What identifies the job's configuration: a stored job must match it. */
char *job_spec(const jobfile *jf)
{
    cJSON *j = cJSON_CreateObject();
    char buf[256];
    zeus_job_format(&jf->job, buf, sizeof buf);
    cJSON_AddStringToObject(j, "job", buf);
    cJSON_AddItemToObject(j, "batch_sizes", cJSON_CreateIntArray(jf->bs, jf->n_bs));
    cJSON_AddNumberToObject(j, "eta_knob", jf->eta);
    cJSON_AddNumberToObject(j, "beta_knob", jf->beta);
    cJSON_AddNumberToObject(j, "seed", (double)jf->seed);
    cJSON_AddNumberToObject(j, "max_power_w", jf->max_power_w);
    if (jf->policy != ZEUS_BSO_POLICY_PRUNING_GTS) /* absent: the original's (older jobs) */
        cJSON_AddStringToObject(j, "policy", zeus_bso_policy_name(jf->policy));
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

int gpu_max_power(int *out)
{
    zeus_devices *d;
    if (zeus_devices_open(&d) < 0)
        return fail("cannot open the GPUs: %s", zeus_last_error());
    unsigned n = zeus_gpu_count(d);
    zeus_gpu_info info;
    int rc = n ? zeus_gpu_get_info(d, 0, &info) : -1;
    zeus_devices_close(d);
    if (rc < 0 || !info.power_limit_valid)
        return fail("no GPU power limit to price time with: give 'max_power_w' in the job file");
    *out = (int)(info.max_power_limit_mw / 1000) * (int)n;
    say("Max power limit of %s: %uW (x%u GPUs)", info.name, info.max_power_limit_mw / 1000, n);
    return 0;
}
