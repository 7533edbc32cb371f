/* Settings of simulated GPUs (power limits, persistence mode) shared between processes through
 * a file, so that a limit set by one process is seen by the next, as on real GPUs. Used by the
 * sim backend (ZEUS_SIM_STATE) and the fake NVML (ZEUS_FAKE_NVML_STATE). Format: one line per
 * GPU, "gpu <i> limit_mw <mW> persistence <0|1>", followed by "gpu_clocks_mhz <min> <max>" and
 * "mem_clocks_mhz <min> <max>" while those clocks are locked; written atomically. A process that
 * simulates fewer GPUs keeps the lines of the others as it found them; a line that does not have
 * this form, names a GPU twice or sets a limit outside the GPU's range is an error naming the file
 * and line (the file is then left alone). */
#ifndef ZEUS_SIM_STATE_H
#define ZEUS_SIM_STATE_H

#include "device/sim_model.h"

#include <sys/types.h>
#include <time.h>

typedef struct {
    char path[4096]; /* empty: nothing is shared */
    /* Identity of the file last read: every save renames a new file into place, so a new
     * inode means new content even where timestamps are coarse. */
    struct timespec mtime;
    ino_t ino;
    /* The file's settings of GPUs this process does not simulate, written back by save. */
    bool other_known[ZEUS_SIM_MAX_GPUS];
    unsigned other_limit_mw[ZEUS_SIM_MAX_GPUS];
    bool other_persistence[ZEUS_SIM_MAX_GPUS];
    zeus_sim_clocks other_locked[ZEUS_SIM_MAX_GPUS][2];
} zeus_sim_state;

/* path NULL or empty: the settings stay in this process. */
void zeus__sim_state_init(zeus_sim_state *s, const char *path);
/* Applies the file's settings to the GPUs if it changed since the last load or save. A missing
 * file is no change; a malformed one is ZEUS_EPARSE ("PATH:LINE: ...") and changes nothing. */
int zeus__sim_state_load(zeus_sim_state *s, zeus_sim_gpu *gpus, bool *persistence, unsigned count,
                         int64_t now_ns);
/* A change is lock, load, modify, save, unlock, so that two processes do not lose each other's
 * change. lock returns a descriptor for unlock (-1 when not shared). */
int zeus__sim_state_lock(const zeus_sim_state *s);
void zeus__sim_state_unlock(int fd);
int zeus__sim_state_save(zeus_sim_state *s, const zeus_sim_gpu *gpus, const bool *persistence,
                         unsigned count);

#endif
