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

static const char *const clock_words[2] = {"gpu_clocks_mhz", "mem_clocks_mhz"};

/* " <word> <min> <max>" after the persistence field, in domain order, when locked. */
static bool take_clocks(const char **p, zeus_sim_clocks *locked)
{
    for (int d = 0; d < 2; d++) {
        unsigned long lo, hi;
        locked[d] = (zeus_sim_clocks){0, 0};
        /* The persistence number consumed the space before the word. */
        if (**p == '\0' || !take_word(p, clock_words[d]))
            continue;
        if (!take_number(p, UINT_MAX, &lo) || !take_number(p, UINT_MAX, &hi) || lo > hi || hi == 0)
            return false;
        locked[d] = (zeus_sim_clocks){(unsigned)lo, (unsigned)hi};
    }
    return **p == '\0';
}

/* One line "gpu <i> limit_mw <mW> persistence <0|1>[ gpu_clocks_mhz <min> <max>][ mem_clocks_mhz
 * <min> <max>]", exactly. */
static bool parse_line(const char *line, unsigned long *idx, unsigned long *limit,
                       unsigned long *pers, zeus_sim_clocks *locked)
{
    const char *p = line;
    return take_word(&p, "gpu") && take_number(&p, ZEUS_SIM_MAX_GPUS - 1, idx) &&
           take_word(&p, "limit_mw") && take_number(&p, UINT_MAX, limit) &&
           take_word(&p, "persistence") && take_number(&p, 1, pers) && take_clocks(&p, locked);
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
    zeus_sim_clocks locked_of[ZEUS_SIM_MAX_GPUS][2];
    int line_no = 0;
    for (char *line = text, *next; line && *line; line = next) {
        line_no++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        unsigned long idx, limit, pers;
        zeus_sim_clocks locked[2];
        if (!parse_line(line, &idx, &limit, &pers, locked)) {
            rc = zeus__error(ZEUS_EPARSE,
                             "%s:%d: expected 'gpu <index below %d> limit_mw <mW> persistence "
                             "<0|1>', then optionally 'gpu_clocks_mhz <min> <max>' and "
                             "'mem_clocks_mhz <min> <max>'",
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
        memcpy(locked_of[idx], locked, sizeof locked);
    }
    for (unsigned i = 0; i < ZEUS_SIM_MAX_GPUS; i++) {
        if (i < count) {
            if (seen[i] && gpus[i].limit_mw != limits[i])
                zeus__sim_gpu_set_limit(&gpus[i], limits[i], now_ns);
            if (seen[i]) {
                persistence[i] = pers_of[i];
                for (int d = 0; d < 2; d++)
                    if (memcmp(&gpus[i].locked[d], &locked_of[i][d], sizeof locked_of[i][d]))
                        zeus__sim_gpu_set_locked(&gpus[i], (zeus_clock_domain)d, locked_of[i][d],
                                                 now_ns);
            }
        } else {
            s->other_known[i] = seen[i];
            s->other_limit_mw[i] = seen[i] ? limits[i] : 0;
            s->other_persistence[i] = seen[i] && pers_of[i];
            memset(s->other_locked[i], 0, sizeof s->other_locked[i]);
            if (seen[i])
                memcpy(s->other_locked[i], locked_of[i], sizeof s->other_locked[i]);
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
    char buf[ZEUS_SIM_MAX_GPUS * 160];
    size_t n = 0;
    for (unsigned i = 0; i < ZEUS_SIM_MAX_GPUS; i++) {
        if (i >= count && !s->other_known[i])
            continue;
        bool mine = i < count;
        const zeus_sim_clocks *locked = mine ? gpus[i].locked : s->other_locked[i];
        n += (size_t)snprintf(buf + n, sizeof buf - n, "gpu %u limit_mw %u persistence %d", i,
                              mine ? gpus[i].limit_mw : s->other_limit_mw[i],
                              (mine ? persistence[i] : s->other_persistence[i]) ? 1 : 0);
        for (int d = 0; d < 2; d++)
            if (locked[d].max_mhz)
                n += (size_t)snprintf(buf + n, sizeof buf - n, " %s %u %u", clock_words[d],
                                      locked[d].min_mhz, locked[d].max_mhz);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\n");
    }
    int rc = zeus_write_file(s->path, buf, n);
    struct stat st;
    if (rc == ZEUS_OK && stat(s->path, &st) == 0)
        remember(s, &st);
    return rc;
}
