/* Simulated GPU settings shared between processes (see sim_state.h). */
#include "device/sim_state.h"
#include "core/internal.h"
#include "zeus/output.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Reads an unsigned decimal token (at most max) at *p and the one space or end after it. */
static bool take_number(const char **p, unsigned long max, unsigned long *out)
{
    const char *c = *p;
    unsigned long v = 0;
    if (*c < '0' || *c > '9')
        return false;
    for (; *c >= '0' && *c <= '9'; c++) {
        v = v * 10 + (unsigned long)(*c - '0');
        if (v > max)
            return false;
    }
    if (*c != ' ' && *c != '\0')
        return false;
    *p = *c ? c + 1 : c;
    *out = v;
    return true;
}

static bool take_word(const char **p, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(*p, word, n) != 0 || (*p)[n] != ' ')
        return false;
    *p += n + 1;
    return true;
}

/* One line "gpu <i> limit_mw <mW> persistence <0|1>", exactly. */
static bool parse_line(const char *line, unsigned long *idx, unsigned long *limit,
                       unsigned long *pers)
{
    const char *p = line;
    return take_word(&p, "gpu") && take_number(&p, ZEUS_SIM_MAX_GPUS - 1, idx) &&
           take_word(&p, "limit_mw") && take_number(&p, UINT_MAX, limit) &&
           take_word(&p, "persistence") && take_number(&p, 1, pers) && *p == '\0';
}

int zeus__sim_state_load(zeus_sim_state *s, zeus_sim_gpu *gpus, bool *persistence, unsigned count,
                         int64_t now_ns)
{
    struct stat st;
    if (!s->path[0] || stat(s->path, &st) != 0)
        return ZEUS_OK;
    if (st.st_ino == s->ino && st.st_mtim.tv_sec == s->mtime.tv_sec &&
        st.st_mtim.tv_nsec == s->mtime.tv_nsec)
        return ZEUS_OK;
    char *text = NULL;
    int rc = zeus__read_file(s->path, &text, NULL);
    if (rc != ZEUS_OK)
        return rc == ZEUS_ENOENT ? ZEUS_OK : rc; /* replaced between stat and open */
    /* Check every line before applying any. */
    bool seen[ZEUS_SIM_MAX_GPUS] = {false};
    unsigned limits[ZEUS_SIM_MAX_GPUS];
    bool pers_of[ZEUS_SIM_MAX_GPUS];
    int line_no = 0;
    for (char *line = text, *next; line && *line; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        unsigned long idx, limit, pers;
        if (!parse_line(line, &idx, &limit, &pers)) {
            rc = zeus__error(ZEUS_EPARSE,
                             "%s:%d: expected 'gpu <index below %d> limit_mw <mW> persistence "
                             "<0|1>'",
                             s->path, line_no, ZEUS_SIM_MAX_GPUS);
            goto done;
        }
        if (seen[idx]) {
            rc = zeus__error(ZEUS_EPARSE, "%s:%d: gpu %lu is listed twice", s->path, line_no, idx);
            goto done;
        }
        if (idx < count && (limit < gpus[idx].p.min_limit_mw || limit > gpus[idx].p.max_limit_mw)) {
            rc = zeus__error(
                ZEUS_EPARSE, "%s:%d: gpu %lu: limit_mw %lu is outside its range %u-%u mW", s->path,
                line_no, idx, limit, gpus[idx].p.min_limit_mw, gpus[idx].p.max_limit_mw);
            goto done;
        }
        seen[idx] = true;
        limits[idx] = (unsigned)limit;
        pers_of[idx] = pers != 0;
    }
    for (unsigned i = 0; i < ZEUS_SIM_MAX_GPUS; i++) {
        if (i < count) {
            if (seen[i] && gpus[i].limit_mw != limits[i])
                zeus__sim_gpu_set_limit(&gpus[i], limits[i], now_ns);
            if (seen[i])
                persistence[i] = pers_of[i];
        } else {
            s->other_known[i] = seen[i];
            s->other_limit_mw[i] = seen[i] ? limits[i] : 0;
            s->other_persistence[i] = seen[i] && pers_of[i];
        }
    }
    remember(s, &st);
done:
    free(text);
    return rc;
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
    for (unsigned i = 0; i < ZEUS_SIM_MAX_GPUS; i++) {
        if (i < count)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "gpu %u limit_mw %u persistence %d\n", i,
                                  gpus[i].limit_mw, persistence[i] ? 1 : 0);
        else if (s->other_known[i])
            n += (size_t)snprintf(buf + n, sizeof buf - n, "gpu %u limit_mw %u persistence %d\n", i,
                                  s->other_limit_mw[i], s->other_persistence[i] ? 1 : 0);
    }
    int rc = zeus_write_file(s->path, buf, n);
    struct stat st;
    if (rc == ZEUS_OK && stat(s->path, &st) == 0)
        remember(s, &st);
    return rc;
}
