/* Simulated GPU settings shared between processes (see sim_state.h). */
#include "device/sim_state.h"
#include "core/internal.h"
#include "zeus/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void zeus__sim_state_init(zeus_sim_state *s, const char *path)
{
    memset(s, 0, sizeof *s);
    if (path)
        zeus__strlcpy(s->path, path, sizeof s->path);
}

static void remember(zeus_sim_state *s, const struct stat *st)
{
    s->mtime = st->st_mtim;
    s->ino = st->st_ino;
}

void zeus__sim_state_load(zeus_sim_state *s, zeus_sim_gpu *gpus, bool *persistence, unsigned count,
                          int64_t now_ns)
{
    struct stat st;
    if (!s->path[0] || stat(s->path, &st) != 0)
        return;
    if (st.st_ino == s->ino && st.st_mtim.tv_sec == s->mtime.tv_sec &&
        st.st_mtim.tv_nsec == s->mtime.tv_nsec)
        return;
    FILE *f = fopen(s->path, "r");
    if (!f)
        return;
    remember(s, &st);
    unsigned idx, limit;
    int pers;
    while (fscanf(f, "gpu %u limit_mw %u persistence %d\n", &idx, &limit, &pers) == 3) {
        if (idx >= count)
            continue;
        if (gpus[idx].limit_mw != limit)
            zeus__sim_gpu_set_limit(&gpus[idx], limit, now_ns);
        persistence[idx] = pers != 0;
    }
    fclose(f);
}

int zeus__sim_state_lock(const zeus_sim_state *s)
{
    if (!s->path[0])
        return -1;
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s.lock", s->path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
        }
    return fd;
}

void zeus__sim_state_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

int zeus__sim_state_save(zeus_sim_state *s, const zeus_sim_gpu *gpus, const bool *persistence,
                         unsigned count)
{
    if (!s->path[0])
        return ZEUS_OK;
    char buf[ZEUS_SIM_MAX_GPUS * 64];
    size_t n = 0;
    for (unsigned i = 0; i < count; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "gpu %u limit_mw %u persistence %d\n", i,
                              gpus[i].limit_mw, persistence[i] ? 1 : 0);
    int rc = zeus_write_file(s->path, buf, n);
    struct stat st;
    if (rc == ZEUS_OK && stat(s->path, &st) == 0)
        remember(s, &st);
    return rc;
}
