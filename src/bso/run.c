#include "bso.h"
int bso_cmd_run(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int bso_cmd_history(int argc, char **argv) { (void)argc; (void)argv; return 1; }
