/* `zeus monitor energy --carbon` (src/cli/carbon.c). */
#ifndef ZEUS_CLI_CARBON_H
#define ZEUS_CLI_CARBON_H

#include "zeus/util.h"
#include "zeus/zeus.h"

typedef struct {
    bool enabled;
    const char *location; /* --location LAT,LON|ZONE (else ZEUS_CARBON_LOCATION) */
    const char *api_url;  /* --carbon-api URL (else ZEUS_CARBON_API) */
    double price_per_kwh; /* --price (else ZEUS_PRICE_PER_KWH); 0: no cost */
} cli_carbon_args;

typedef struct cli_carbon cli_carbon;

/* Begins the hourly interval window on m and the thread that rolls it at each UTC hour. */
int cli_carbon_start(zeus_monitor *m, const cli_carbon_args *a, cli_carbon **out);
/* Stops the thread and closes the last interval (idempotent). */
void cli_carbon_stop(cli_carbon *c);
void cli_carbon_free(cli_carbon *c);
/* Looks up each hour's intensity and renders the grams and cost of r: *out (malloc'd) is the
 * '"carbon":{...}' member for --json, else text lines. CLI_FAIL (the reason printed, *out still
 * says it) when the intensity could not be had. */
int cli_carbon_report(cli_carbon *c, const cli_carbon_args *a, const zeus_measurement *r, bool json,
                      char **out);

#endif
