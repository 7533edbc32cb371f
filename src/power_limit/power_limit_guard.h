/* Process-wide guards that put GPUs back to their original power limits at normal exit and on
 * SIGINT/SIGTERM, for every live power-limit optimizer.
 *
 * A guard is a record (devices, GPUs, original limits) in a fixed table that the signal handler
 * walks without locks or allocation: slots are published with an atomic flag after they are
 * filled. The handler restores every guard of this process (a forked child that exits does not
 * touch its parent's GPUs), then chains to the handler that was installed before ours, or
 * restores the default action and re-raises. Setting a limit goes through the device layer
 * (NVML is not formally async-signal-safe); so that a lock held by the interrupted thread can
 * never hang the process, the handler arms a 5 s alarm with the default (terminating) action
 * around the restore. SIGKILL cannot be caught: nothing runs, the limit stays.
 */
#ifndef ZEUS_POWER_LIMIT_POWER_LIMIT_GUARD_H
#define ZEUS_POWER_LIMIT_POWER_LIMIT_GUARD_H

#include "zeus/device.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct zeus_pl_guard zeus_pl_guard;

/* Registers the original limits of count GPUs. ZEUS_ENOMEM if the table is full (a warning-
 * worthy situation: the caller still restores at destroy). */
int zeus__pl_guard_register(zeus_devices *devices, const unsigned *gpus, const unsigned *originals,
                            size_t count, bool on_signal, bool on_exit, zeus_pl_guard **out);
void zeus__pl_guard_unregister(zeus_pl_guard *guard);
/* True once after a signal handler restored this guard's GPUs and the process went on (the
 * previous handler did not terminate it): the owner must set its limits again. */
bool zeus__pl_guard_take_signalled(zeus_pl_guard *guard);

#endif
