/* The lease code's shared state and what every seam needs, at the bottom of the lease files:
 * it calls none of them (see lease_internal.h). */
#include "power_limit/lease_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

pthread_mutex_t zeus__leases_lock = PTHREAD_MUTEX_INITIALIZER;
zeus_lease *zeus__leases;
atomic_bool zeus__signal_in_progress;

/* ---- holders ---- */

void zeus__boot_id(char *out, size_t size)
{
    out[0] = '\0';
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, size - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

int zeus__process_identity(pid_t pid, zeus__process_id *out)
{
    memset(out, 0, sizeof *out);
    out->pid = pid;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ZEUS_ENOENT;
    struct stat st;
    bool have_uid = fstat(fd, &st) == 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return ZEUS_ENOENT;
    buf[n] = '\0';
    /* The name (field 2) may hold spaces and parentheses: fields 3.. follow the last ')'. */
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return ZEUS_EPARSE;
    p += 2;
    out->zombie = *p == 'Z' || *p == 'X';
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return ZEUS_EPARSE;
        p++;
    }
    char *end;
    errno = 0;
    out->start_time = strtoull(p, &end, 10);
    if (errno || end == p)
        return ZEUS_EPARSE;
    out->uid = have_uid ? st.st_uid : 0;
    zeus__boot_id(out->boot_id, sizeof out->boot_id);
    return ZEUS_OK;
}
