/* zeus-bso entry point: `zeus bso serve|run|history`, and `zeus run` / `zeus history` through
 * the zeus command's git-style lookup of zeus-run / zeus-history (links to this executable). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bso.h"
#include "zeus/util.h"

int bso_parse_long(const char *text, long min, long max, long *out)
{
    long v;
    if (zeus_parse_long(text, &v) < 0 || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int bso_sockaddr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int rc = mkdir(path, 0700);
            *p = '/';
            if (rc < 0 && errno != EEXIST)
                return -1;
        }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int bso_resolve_db(const char *given, char *url, size_t size)
{
    const char *v = given && *given ? given : getenv("ZEUS_DB");
    if (v && *v) {
        const char *s = v;
        if (strncmp(v, "sqlite", 6) == 0 && strstr(v, ":///"))
            s = strstr(v, ":///") + 4; /* sqlite+aiosqlite:///rel.db, sqlite:////abs.db */
        else if (strncmp(v, "postgresql+", 11) == 0 && strstr(v, "://"))
            return snprintf(url, size, "postgresql%s", strstr(v, "://")) < (int)size ? 0 : -1;
        if (snprintf(url, size, "%s", s) >= (int)size)
            return -1;
        return 0;
    }
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char dir[4000];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/zeus", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/share/zeus", home);
    else {
        fprintf(stderr, "zeus: error: no --db given and neither ZEUS_DB, XDG_DATA_HOME nor HOME "
                        "is set\n");
        return -1;
    }
    if (mkdirs(dir) < 0) {
        fprintf(stderr, "zeus: error: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(url, size, "%s/history.db", dir);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zeus bso serve [OPTIONS]     the batch-size optimizer service\n"
               "       zeus run JOBFILE [OPTIONS]   drive a recurring job (zeus bso run)\n"
               "       zeus history [JOB] [OPTIONS] trials and the bandit's beliefs\n"
               "See docs/bso.md.\n");
}

int main(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strcmp(self, "zeus-run") == 0 || strcmp(self, "run") == 0)
        return bso_cmd_run(argc, argv);
    if (strcmp(self, "zeus-history") == 0 || strcmp(self, "history") == 0)
        return bso_cmd_history(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return bso_cmd_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return bso_cmd_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "history") == 0)
        return bso_cmd_history(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "zeus bso: error: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
