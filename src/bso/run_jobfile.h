/* `zeus run`'s job file (load_jobfile: the original's job and this driver's settings) and the
 * output helpers the driver shares (run_jobfile.c; run.c is the driver). */
#ifndef ZEUS_BSO_RUN_JOBFILE_H
#define ZEUS_BSO_RUN_JOBFILE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "zeus/recurring.h"

#define MAX_BS 64
#define MAX_ARGS 256

typedef struct jobfile {
    zeus_job job;
    char workdir[4096];
    char *argv[MAX_ARGS];
    int argc;
    int bs[MAX_BS], n_bs;
    double eta, beta;
    unsigned long long seed;
    int max_power_w; /* 0: from the GPUs */
    int policy;      /* ZEUS_BSO_POLICY_*: "policy" in the job file, or --policy */
    char job_id[400];
    cJSON *doc;
} jobfile;

typedef struct opts {
    const char *jobfile, *db, *log_base, *job_id;
    const char *policy; /* --policy: overrides the job file's */
    long recurrences;
    bool observer;
    long wait_s, stale_s;
    long warmup, measure;
} opts;

/* Progress on stdout ("zeus run: ..."), and errors on stderr: fail returns 1. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Python's str(float), in buf (ZEUS_DOUBLE_BUF bytes). */
const char *pyf(double v, char *buf);
/* A whole file as text (malloc'd), or NULL with the reason in err. */
char *read_text(const char *path, char *err, size_t errlen);
/* Reads and checks a job file: 0, or 1 with the error said. */
int load_jobfile(const char *path, jobfile *jf);
/* The batch-size policy of a name (a job file's "policy" or --policy): 0, or 1 with the error
 * said (where: the file or the flag). */
int policy_of(const char *where, const char *name, int *policy);
/* What identifies the job's configuration (malloc'd JSON): a stored job must match it. */
char *job_spec(const jobfile *jf);
/* The GPUs' summed maximum power limit (W), for pricing time: 0, or 1 with the error said. */
int gpu_max_power(int *out);

#endif
