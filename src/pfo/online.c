/* zeus-pfo's Online scheduler (ours; no version of the original has it): the server profiles the
 * pipeline itself, one clock per training iteration, from the per-instruction times and
 * energies the ranks post with POST /result, then solves the profile with libzeus and serves
 * the last frontier point (the all-maximum-frequency time with the slack slowed down). The
 * ranks fetch a schedule every profiling iteration and keep the plan once it comes. */
#include "pfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zeus/zeus.h"

static int plan_alloc(pfo_plan *p, size_t n)
{
    p->n = n;
    p->names = calloc(n + 1, sizeof p->names[0]);
    p->freqs = calloc(n + 1, sizeof *p->freqs);
    return p->names && p->freqs ? 0 : -1;
}

int pfo_online_profiling_plan(long stages, long mbs, long stage, int mhz, pfo_plan *out, char *err,
                              size_t size)
{
    zeus_pf_instruction inst[2 * 1024];
    int mb[2 * 1024];
    if (mbs < 1 || mbs > 1024 || zeus_pf_1f1b((int)stages, (int)mbs, (int)stage, inst, mb) < 0) {
        snprintf(err, size, "Online: %ld microbatches on %ld stages: %s", mbs, stages,
                 mbs > 1024 ? "at most 1024 microbatches" : zeus_last_error());
        return -1;
    }
    if (plan_alloc(out, (size_t)(2 * mbs)) < 0) {
        snprintf(err, size, "Online: out of memory");
        return -1;
    }
    for (long k = 0; k < 2 * mbs; k++) {
        snprintf(out->names[k], sizeof out->names[k], "%s", zeus_pf_instruction_name(inst[k]));
        out->freqs[k] = mhz;
    }
    return 0;
}

int pfo_online_solve(const char *csv, long stages, long mbs, const pfo_settings *s, pfo_plan *plans,
                     char *err, size_t size)
{
    char path[] = "/tmp/zeus-pfo-profile-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, size, "Online: cannot write the profile to /tmp");
        return -1;
    }
    size_t len = strlen(csv);
    bool written = write(fd, csv, len) == (ssize_t)len;
    close(fd);
    zeus_pf_profile_options opts;
    zeus_pf_profile_options_init(&opts);
    opts.unit_time_s = s->online_unit_time_s;
    opts.p2p_power_w = s->online_p2p_power_w;
    zeus_pf_spec *specs = NULL;
    zeus_pf_solver *solver = NULL;
    zeus_pf_step *steps = calloc((size_t)(2 * mbs), sizeof *steps);
    int rc = -1;
    if (!written || !steps) {
        snprintf(err, size, "Online: cannot write the profile to %s", path);
        goto done;
    }
    zeus_pf_result r;
    int st;
    if (zeus_pf_profile_load(path, (int)stages, &opts, &specs) < 0 ||
        zeus_pf_solver_create((int)stages, (int)mbs, specs, opts.unit_time_s, &solver) < 0) {
        snprintf(err, size, "Online: solving the profile: %s", zeus_last_error());
        goto done;
    }
    while ((st = zeus_pf_solver_step(solver, &r)) == 1)
        ; /* to the last frontier point */
    if (st < 0) {
        snprintf(err, size, "Online: solving the profile: %s", zeus_last_error());
        goto done;
    }
    for (long stage = 0; stage < stages; stage++) {
        if (zeus_pf_solver_plan(solver, (int)stage, steps) < 0 ||
            plan_alloc(&plans[stage], (size_t)(2 * mbs)) < 0) {
            snprintf(err, size, "Online: the plan of stage %ld: %s", stage, zeus_last_error());
            goto done;
        }
        for (long k = 0; k < 2 * mbs; k++) {
            snprintf(plans[stage].names[k], sizeof plans[stage].names[k], "%s",
                     zeus_pf_instruction_name(steps[k].instruction));
            plans[stage].freqs[k] = (int)steps[k].knob_mhz;
        }
    }
    rc = 0;
done:
    unlink(path);
    free(steps);
    zeus_pf_solver_destroy(solver);
    if (specs)
        zeus_pf_specs_free(specs, (int)stages);
    return rc;
}
