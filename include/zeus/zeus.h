/* Zeus in C: umbrella header. */
#ifndef ZEUS_ZEUS_H
#define ZEUS_ZEUS_H

#include "zeus/version.h"
#include "zeus/common.h"
#include "zeus/device.h"
#include "zeus/sim.h"
#include "zeus/soc.h"
#include "zeus/zeusd_client.h"
#include "zeus/monitor.h"
#include "zeus/job_window.h"
#include "zeus/metric.h"
#include "zeus/plot.h"
#include "zeus/lease.h"
#include "zeus/output.h"
#include "zeus/power_limit.h"
#include "zeus/carbon_api.h"
#include "zeus/carbon.h"
#include "zeus/sampler.h"
#include "zeus/rng.h"
#include "zeus/batch_size.h"
#include "zeus/simulate.h"
#include "zeus/pipeline_frequency.h"

#endif
