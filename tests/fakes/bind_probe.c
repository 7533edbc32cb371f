/* LD_PRELOAD probe for tests: after each bind() of a Unix socket, records the socket file's
 * mode as bind() left it (before the program could chmod it) in $ZEUS_TEST_BIND_PROBE, one
 * "PATH MODE" line per bind. Shows whether a daemon's socket was ever wider than asked. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    int (*real)(int, const struct sockaddr *, socklen_t) =
        (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    int rc = real(fd, addr, len);
    const char *out = getenv("ZEUS_TEST_BIND_PROBE");
    if (rc == 0 && out && addr->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        struct stat st;
        if (un->sun_path[0] && lstat(un->sun_path, &st) == 0) {
            char line[256];
            int n = snprintf(line, sizeof line, "%.200s %04o\n", un->sun_path,
                             (unsigned)(st.st_mode & 07777));
            int o = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (o >= 0) {
                if (write(o, line, (size_t)n) != n) {
                    /* the test sees the line missing */
                }
                close(o);
            }
        }
    }
    return rc;
}
