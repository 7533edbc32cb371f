/* The power-limit optimizer in a data-parallel job over MPI: one process per GPU, each with its
 * own monitor and optimizer; at the end of every profiling window the ranks all-reduce what
 * they measured (energy summed, time the slowest rank's) through MPI_Allreduce, so every rank
 * chooses the same limit. Needs root or CAP_SYS_ADMIN on real GPUs. Without a GPU, try
 *   ZEUS_DEVICE=sim mpirun -np 4 ./build/example_power_limit_mpi
 * Build against an installed Zeus:
 *   mpicc power_limit_mpi.c $(pkg-config --cflags --libs zeus)
 * Arguments (all optional): profile steps per limit (default 40), warmup steps (10), steps per
 * epoch (300), and a profile file (written after profiling, loaded when it exists). */
#include <zeus/zeus.h>

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

/* The optimizer's collective, backed by MPI. MPI_ERRORS_RETURN on the communicator turns a
 * failed collective into an error instead of an abort; a dead peer usually makes mpirun end
 * the job first. */
static int mpi_all_reduce(double *values, size_t count, zeus_reduce_op op, void *user)
{
    MPI_Comm comm = *(MPI_Comm *)user;
    int rc = MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_DOUBLE,
                           op == ZEUS_REDUCE_SUM ? MPI_SUM : MPI_MAX, comm);
    return rc == MPI_SUCCESS ? ZEUS_OK : ZEUS_EIO;
}

/* Your training step; here, one simulated step on this rank's GPU (a no-op on real GPUs). */
static void train_one_step(zeus_devices *devices, unsigned gpu)
{
    zeus_sim_launch_step(devices, gpu, NULL);
    zeus_sim_synchronize(devices, gpu);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm comm = MPI_COMM_WORLD, node;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    int rank, local_rank;
    MPI_Comm_rank(comm, &rank);
    /* This rank's GPU: its index among the ranks on this host. */
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_free(&node);

    zeus_devices *devices = NULL;
    zeus_monitor *monitor = NULL;
    zeus_power_limit_optimizer *plo = NULL;
    int status = 1;
    if (zeus_install_signal_handlers() != ZEUS_OK || zeus_devices_open(&devices) != ZEUS_OK)
        goto fail;
    unsigned gpu = (unsigned)local_rank % zeus_gpu_count(devices);
    zeus_monitor_options mo;
    zeus_monitor_options_init(&mo);
    mo.gpu_indices = &gpu; /* one GPU per rank */
    mo.gpu_count = 1;
    if (zeus_monitor_open(devices, &mo, &monitor) != ZEUS_OK)
        goto fail;
    zeus_power_limit_options o;
    zeus_power_limit_options_init(&o);
    o.profile_steps = argc > 1 ? atoi(argv[1]) : 40;
    o.warmup_steps = argc > 2 ? atoi(argv[2]) : 10;
    int steps = argc > 3 ? atoi(argv[3]) : 300;
    o.profile_path = argc > 4 ? argv[4] : NULL;
    o.all_reduce = mpi_all_reduce;
    o.all_reduce_user = &comm;
    /* Collective: every rank creates its optimizer, or none goes on. */
    if (zeus_power_limit_optimizer_create(monitor, &o, &plo) != ZEUS_OK)
        goto fail;
    for (int epoch = 0; epoch < 2; epoch++) {
        for (int step = 0; step < steps; step++) {
            /* Collective at the end of each limit's profiling window. */
            if (zeus_power_limit_on_step_begin(plo) != ZEUS_OK)
                goto fail;
            train_one_step(devices, gpu);
            zeus_power_limit_on_step_end(plo);
        }
        zeus_power_limit_on_epoch_end(plo);
    }
    zeus_power_limit_measurement m[64];
    size_t n = zeus_power_limit_measurements(plo, m, 64);
    double energy = 0;
    for (size_t i = 0; i < n && i < 64; i++)
        energy += m[i].energy_j;
    printf("rank %d: GPU %u optimal power limit %u W (profile: %zu limits, %.3f J in all)\n", rank,
           gpu, zeus_power_limit_optimal_mw(plo) / 1000, n, energy);
    status = 0;
fail:
    if (status != 0)
        fprintf(stderr, "rank %d: zeus: %s\n", rank, zeus_last_error());
    zeus_power_limit_optimizer_destroy(plo); /* the GPU goes back to its limit */
    zeus_monitor_close(monitor);
    zeus_devices_close(devices);
    if (status != 0)
        MPI_Abort(comm, status); /* the other ranks stop too, rather than wait */
    MPI_Finalize();
    return status;
}
