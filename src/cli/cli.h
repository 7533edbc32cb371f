/* The zeus command: shared declarations for its subcommands (one file each). */
#ifndef ZEUS_CLI_H
#define ZEUS_CLI_H

#include "zeus/zeus.h"

#include <stdio.h>

/* Exit codes (documented in docs/cli.md):
 *   0  success
 *   1  failure at run time (device error, unreadable file, ...)
 *   2  usage error (unknown option, bad value)
 *   3  no usable device for the request (e.g. no GPU and none simulated)
 * `zeus monitor energy -- CMD` exits with CMD's own status (128+N if killed by signal N). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_NODEV = 3 };

/* Each subcommand: argv[0] is the subcommand name. */
int cli_show_env(int argc, char **argv);
int cli_simulate(int argc, char **argv);
int cli_monitor(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_power_limit(int argc, char **argv);
int cli_pipeline_frequency(int argc, char **argv);

/* Prints "zeus: error: <message>" to stderr; returns code. */
int cli_error(int code, const char *fmt, ...) ZEUS_PRINTF(2, 3);
/* Prints the library's last error for a failed call: "zeus: error: <what>: <detail>". */
int cli_lib_error(int code, int rc, const char *what);
/* Installs a stderr log printer ("zeus: warning: ..."). */
void cli_install_logger(void);
/* "GPU 0 (NVIDIA A40, NVML 2, 0000:3b:00.0)": the framework index (after CUDA_VISIBLE_DEVICES,
 * as the rest of the command takes it) and the names nvidia-smi, the exporter and zeusd use:
 * the backend's own index and the PCI address (left out where the backend has none). */
const char *cli_gpu_label(const zeus_devices *d, const zeus_gpu_info *info, char *buf, size_t size);
/* Why GPUs cannot be read although a zeusd daemon is there to change them (reads need the
 * vendor library in this process; zeusd only carries out changes): a sentence to print, or ""
 * when that is not the case. */
const char *cli_reads_hint(const zeus_devices *d);

/* One line for a GPU that zeus_lease_recover found left changed by a lease holder, e.g.
 * "GPU 0 (NVIDIA A40, NVML 2, 0000:03:00.0): put back to 225 W, persistence mode off (left
 * changed by process 42, gone)". */
void cli_print_recovered(FILE *f, const zeus_devices *d, const zeus_lease_journal_entry *e);

/* Puts back what a killed process left changed on the GPUs d sees, as every zeus command that
 * opens them does (docs/power-limit.md: a GPU is never left changed past the next zeus command
 * on it); says so on stderr, and warns (without failing the command) when it cannot. */
void cli_put_back_gone(zeus_devices *d);
/* What the GPU backend calls its index: "NVML", "AMDSMI", "sim". */
const char *cli_gpu_backend_label(const zeus_devices *d);
/* True if arg is -h or --help. */
int cli_is_help(const char *arg);

/* Reads a device index list for an option like --gpu-indices: the option's argument, then any
 * following arguments that are bare index lists, so both "0,2" and "0 2" (the original's
 * argparse nargs='+') work, each read by zeus_parse_index_list. Advances *optind_io past what
 * it used. The option may be given once (*count > 0 on entry: an error). Returns CLI_OK or prints
 * an error naming the option and returns CLI_USAGE. */
int cli_take_indices(const char *option, const char *first, int argc, char **argv, int *optind_io,
                     unsigned *out, int max, int *count);

/* Finds FILE (accessible with access() MODE) where the zeus command keeps its helpers: next to
 * this executable (a build tree), then ../libexec/zeus relative to it, then the installed libexec
 * folder. */
bool cli_find_helper(const char *file, int mode, char *path, size_t size);

/* Finds NAME (e.g. "nsdi23-traces") among the data that comes with zeus: PREFIX/share/zeus/NAME
 * relative to this executable (an install, also one moved to another prefix), or the source
 * tree's data/NAME when run from the build tree. False if neither exists. */
bool cli_find_data(const char *name, char *path, size_t size);

/* --plot pictures (plot_png.c): the format a file's extension names (.svg, or .png when the
 * zeus-svg2png.so module, built with librsvg, is found; it is loaded then); otherwise prints why
 * and returns CLI_USAGE (unknown extension) or CLI_FAIL (PNG without the module). */
typedef enum { CLI_PLOT_SVG, CLI_PLOT_PNG } cli_plot_format;
int cli_plot_format_of(const char *path, cli_plot_format *format);
/* A chart (zeus/plot.h) as SVG, or rasterized to PNG, to path: CLI_OK, or the error said. */
int cli_write_chart(const zeus_plot_chart *chart, const char *path, cli_plot_format format);
/* Rasterizes SVG text to a width x height PNG (*png malloc'd, *len bytes); CLI_OK or prints
 * why and returns CLI_FAIL. */
int cli_svg_to_png(const char *svg, unsigned width, unsigned height, unsigned char **png,
                   size_t *len);

#endif
