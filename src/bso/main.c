/* zeus-bso entry point: `zeus bso serve|run|history`, and `zeus run` / `zeus history` through
 * the zeus command's git-style lookup of zeus-run / zeus-history (links to this executable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bso.h"

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
