/* Test helper: a C trainer using the batch-size optimizer's C client (bso_client.h).
 * Usage: client_demo URL MODE [JOB_ID]; MODE ok (converges at epoch 2), fail (never), order
 * (reports before asking for a batch size). Each epoch takes 10 s and 1000 J. Prints
 * "JOB <id>", "BS <bs> <trial>", then "FINISHED <epoch>" or "TRAINFAIL <message>". */
#include <stdio.h>
#include <string.h>

#include "bso_client.h"

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int sizes[] = {32, 8, 16};
    zeus_bso_job_spec job;
    zeus_bso_job_spec_default(&job);
    job.job_id = argc > 3 ? argv[3] : NULL;
    job.job_id_prefix = "cjob";
    job.batch_sizes = sizes;
    job.n_batch_sizes = 3;
    job.default_batch_size = 16;
    job.target_metric = 0.9;
    job.max_epochs = 4;
    job.mab_seed = 3;
    zeus_bso_client *c;
    if (zeus_bso_client_create(argv[1], &job, 600, 2, "NVIDIA A40", &c) < 0) {
        printf("CREATE-ERROR %s\n", zeus_bso_client_last_error());
        return 0;
    }
    printf("JOB %s\n", zeus_bso_client_job_id(c));
    bool stop = false;
    if (strcmp(argv[2], "order") == 0) {
        printf("ORDER %d\n", zeus_bso_client_report(c, 1, 1, 1, &stop) == ZEUS_BSO_ORDER);
        zeus_bso_client_destroy(c);
        return 0;
    }
    int bs;
    if (zeus_bso_client_batch_size(c, &bs) < 0) {
        printf("BS-ERROR %s\n", zeus_bso_client_error(c));
        zeus_bso_client_destroy(c);
        return 1;
    }
    printf("BS %d %d\n", bs, zeus_bso_client_trial_number(c));
    for (int epoch = 1; epoch < 10; epoch++) {
        double metric = strcmp(argv[2], "ok") == 0 && epoch == 2 ? 0.95 : 0.1;
        int rc = zeus_bso_client_report(c, 10.0 * epoch, 1000.0 * epoch, metric, &stop);
        if (rc == ZEUS_BSO_TRAIN_FAILED) {
            printf("TRAINFAIL %s\n", zeus_bso_client_error(c));
            break;
        }
        if (rc < 0) {
            printf("REPORT-ERROR %s\n", zeus_bso_client_error(c));
            break;
        }
        if (stop) {
            printf("FINISHED %d\n", epoch);
            break;
        }
    }
    zeus_bso_client_destroy(c);
    return 0;
}
