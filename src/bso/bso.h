/* zeus-bso: the batch-size optimizer service (`zeus bso serve`), the recurring-job driver
 * (`zeus run`) and its history (`zeus history`), one executable that links the database and
 * HTTP libraries so that the zeus command does not. */
#ifndef ZEUS_BSO_BSO_H
#define ZEUS_BSO_BSO_H

int bso_cmd_serve(int argc, char **argv);
int bso_cmd_run(int argc, char **argv);
int bso_cmd_history(int argc, char **argv);

#endif
