/* The carbon-intensity API (ElectricityMaps) with the disk cache (src/metric/carbon_api.c).
 * What `zeus monitor energy --carbon` and the exporter use; the same requests and cache files as
 * the Python client (zeus.monitor.carbon, docs/carbon.md#cache): a directory with one JSON file
 * per (location, emission factor type, hour), written atomically, read by every process. An
 * https:// URL (https://api.electricitymap.org/v3) goes through libcurl, loaded at run time
 * (libcurl.so.4, Debian's libcurl4; ZEUS_ELIB "needs libcurl" without it), the certificate
 * always verified against the system's CA certificates or SSL_CERT_FILE / SSL_CERT_DIR
 * (docs/carbon.md#https); http:// uses libzeus's own socket client.
 * Its own header below zeus/carbon.h (which includes it): the client is on the metric floor, the
 * carbon-aware selector above it on the power-limit floor (scripts/check-layers.py).
 * Thread safety: the functions may be called from any thread; the cache files are written
 * atomically. */
#ifndef ZEUS_CARBON_API_H
#define ZEUS_CARBON_API_H

#include "zeus/common.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t size;                      /* sizeof(zeus_carbon_api_options), set by _init */
    const char *api_url;              /* "http[s]://HOST[:PORT][/PREFIX]" (the /v3 base) */
    const char *api_key;              /* sent as auth-token; NULL: none (as the original) */
    const char *location;             /* "LAT,LON" or a zone ("DE") */
    const char *emission_factor_type; /* "direct" (default) or "lifecycle" */
    bool estimate;                    /* accept estimated values (default true) */
    const char *cache_dir;            /* NULL: no disk cache */
    double timeout_s;                 /* default 10 */
    double cache_ttl_s;               /* how long an answer about the current hour is reused,
                                         default 600 */
    double period_s;                  /* the interval one value covers: 3600 (tests shorten it) */
    char cache_dir_storage[1024];     /* where _env puts the default cache directory */
} zeus_carbon_api_options;

ZEUS_API void zeus_carbon_api_options_init(zeus_carbon_api_options *options);
/* The environment fallback, the one place it is read (faces call it after _init and before
 * their own flags): api_url ZEUS_CARBON_API, api_key ZEUS_CARBON_API_KEY, location
 * ZEUS_CARBON_LOCATION, timeout_s ZEUS_CARBON_TIMEOUT, cache_dir ZEUS_CARBON_CACHE_DIR else
 * $XDG_CACHE_HOME/zeus/carbon else $HOME/.cache/zeus/carbon (as the Python client), period_s
 * ZEUS_CARBON_TEST_PERIOD_S (tests). ZEUS_EINVAL naming a variable that is not a positive
 * number. The strings point into the environment: set the options again after setenv(). */
ZEUS_API int zeus_carbon_api_options_env(zeus_carbon_api_options *options);
/* The intensity (gCO2eq/kWh) of the UTC hour containing unix_s: from the cache, else
 * /carbon-intensity/latest for the current hour, /history for an earlier one (storing every
 * hour it returns). Errors: ZEUS_EINVAL a bad option (named); ZEUS_EPERM the key was refused
 * (401/403); ZEUS_EIO no connection, a 429 rate limit or another HTTP error, or an answer that is
 * not JSON; ZEUS_ETIMEOUT no answer in time; ZEUS_ENOENT the API has no value for that hour.
 * The message says which, with the URL (never the key). */
ZEUS_API int zeus_carbon_api_intensity(const zeus_carbon_api_options *options, double unix_s,
                                       double *g_per_kwh);

#ifdef __cplusplus
}
#endif

#endif
