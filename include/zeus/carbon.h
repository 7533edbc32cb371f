/* Carbon-aware power-limit selection (docs/carbon.md): the ZeusCost trade-off with the energy
 * weighted by the grid's carbon intensity in the hours being trained in,
 *   cost = eta * (I / I_ref) * E + (1 - eta) * MaxPower * T,
 * so a dirty hour (I > I_ref) weighs energy more and picks a lower limit, a clean hour picks a
 * faster one; at I == I_ref it is ZeusCost exactly. The intensity comes from the caller (a
 * callback: a live feed, a forecast, a recorded trace), read each time the selector runs, so a
 * recurring job whose runs load a saved profile shifts its limit as the grid changes.
 * Also: hourly intensity traces (CSV) for simulations.
 * Thread safety: the functions are pure; a zeus_carbon_cost_selector is used by one optimizer
 * at a time (the selection writes its last_* fields). */
#ifndef ZEUS_CARBON_H
#define ZEUS_CARBON_H

#include "zeus/common.h"
#include "zeus/power_limit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cost = zeus_cost((I / I_ref) * energy, time, eta, max power). NaN when an intensity is not
 * positive and finite. */
ZEUS_API double zeus_carbon_cost(double energy_j, double time_s, double eta_knob,
                                 double max_power_w, double g_per_kwh, double reference_g_per_kwh);

/* The intensity (gCO2eq/kWh) of the hours the job is about to train in: write it and return 0,
 * or return a negative ZEUS_E* code (the selection fails with it: no limit is chosen on a
 * guess). */
typedef int (*zeus_carbon_intensity_fn)(void *user, double *g_per_kwh);

typedef struct {
    double eta_knob;            /* 0 <= eta <= 1 */
    int world_size;             /* >= 1: MaxPower = max profiled limit x world_size */
    double reference_g_per_kwh; /* > 0: the intensity at which this is ZeusCost */
    zeus_carbon_intensity_fn intensity;
    void *user;
    /* Written by the selection: the intensity it used and the limit it chose. */
    double last_g_per_kwh;
    unsigned last_limit_w;
    char name[96]; /* "CarbonCost(eta_knob=0.5, reference=100.0)", set by _init */
} zeus_carbon_cost_selector;

/* Fills state and *out, a ZEUS_SELECTOR_CUSTOM selector over state (which must outlive every
 * use of *out). ZEUS_EINVAL naming the bad field (eta, world size, reference, no callback). */
ZEUS_API int zeus_selector_carbon_cost(zeus_carbon_cost_selector *state, double eta_knob,
                                       int world_size, double reference_g_per_kwh,
                                       zeus_carbon_intensity_fn intensity, void *user,
                                       zeus_optimum_selector *out);

/* ---- Intensity traces ------------------------------------------------------------------------
 * CSV with columns unix_s (interval start, Unix seconds, increasing by a constant period) and
 * carbon_intensity (gCO2eq/kWh, > 0); other columns (a readable datetime) are ignored. */
typedef struct {
    size_t count;
    double start_s, period_s; /* first interval's start, interval length */
    double *g_per_kwh;        /* count values, malloc'd */
} zeus_carbon_trace;

/* ZEUS_EPARSE naming the file and line for a bad value or an irregular period. */
ZEUS_API int zeus_carbon_trace_read(const char *path, zeus_carbon_trace *out);
ZEUS_API void zeus_carbon_trace_free(zeus_carbon_trace *trace);
/* The intensity at t, the trace repeated cyclically (a day's trace stands for every day). */
ZEUS_API double zeus_carbon_trace_at(const zeus_carbon_trace *trace, double unix_s);
/* The time-weighted mean intensity over [from, from + duration) (cyclic); duration 0: _at. */
ZEUS_API double zeus_carbon_trace_mean(const zeus_carbon_trace *trace, double from_s,
                                       double duration_s);

/* ---- The carbon-intensity API (ElectricityMaps) with the disk cache -------------------------
 * What `zeus monitor energy --carbon` and the exporter use; the same requests and cache files as
 * the Python client (zeus.monitor.carbon, docs/carbon.md#cache): a directory with one JSON file
 * per (location, emission factor type, hour), written atomically, read by every process. An
 * https:// URL (https://api.electricitymap.org/v3) goes through libcurl, loaded at run time
 * (libcurl.so.4, Debian's libcurl4; ZEUS_ELIB "needs libcurl" without it), the certificate
 * always verified against the system's CA certificates or SSL_CERT_FILE / SSL_CERT_DIR
 * (docs/carbon.md#https); http:// uses libzeus's own socket client. */
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
