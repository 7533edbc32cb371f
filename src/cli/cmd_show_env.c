/* zeus show-env: what Zeus sees — library, backends, GPUs, CPU packages, visible devices. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: zeus show-env [--json]\n\n"
                 "Show the Zeus library version, every device backend and why it is or is not\n"
                 "available, the GPUs (framework index, NVML index, name, architecture, energy\n"
                 "counter, power-limit range, current limit), the CPU packages and RAPL zones,\n"
                 "and how CUDA_VISIBLE_DEVICES was interpreted.\n\n"
                 "options:\n  --json      print one JSON object instead of text\n"
                 "  -h, --help  show this help\n\n"
                 "example:\n"
                 "  CUDA_VISIBLE_DEVICES=1,0 zeus show-env --json\n");
}

static int print_json(zeus_devices *d)
{
    char *json;
    int rc = zeus_devices_to_json(d, &json);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "show-env");
    puts(json);
    zeus_free(json);
    return CLI_OK;
}

static void print_text(zeus_devices *d)
{
    printf("Zeus %s\n\nBackends:\n", zeus_version());
    for (size_t i = 0; i < zeus_devices_backend_count(d); i++) {
        zeus_backend_status s;
        zeus_devices_backend(d, i, &s);
        printf("  %-10s %-4s %-11s %s\n", s.name, s.kind == ZEUS_BACKEND_GPU ? "gpu" : "cpu",
               s.available ? "available" : "unavailable", s.reason);
    }
    const char *cvd = zeus_devices_visible_devices(d);
    const char *variable = zeus_devices_visible_devices_variable(d);
    unsigned n = zeus_gpu_count(d);
    printf("\n%s: %s%s%s\n", variable ? variable : "CUDA_VISIBLE_DEVICES", cvd ? "\"" : "",
           cvd ? cvd : "(unset: all GPUs)", cvd ? "\"" : "");
    if (n > 0) {
        printf("  framework index -> device index:");
        for (unsigned i = 0; i < n; i++) {
            zeus_gpu_info g;
            zeus_gpu_get_info(d, i, &g);
            printf(" %u->%u", i, g.device_index);
        }
        printf("\n");
    }
    const char *backend = zeus_devices_gpu_backend(d);
    printf("\nGPUs (%u%s%s%s):\n", n, backend ? ", " : "", backend ? backend : "",
           backend && !strcmp(backend, "sim") ? ": SIMULATED" : "");
    if (n == 0)
        printf("  none%s%s\n", *cli_reads_hint(d) ? ": " : "", cli_reads_hint(d));
    else
        /* the framework index, the backend's own (NVML's, as nvidia-smi, zeusd and the exporter
         * number GPUs) and the PCI address: the columns of zeus power-limit get */
        printf("  %-3s %-6s %-13s %-24s %-9s %-7s %-13s %s\n", "idx", cli_gpu_backend_label(d),
               "PCI", "name", "arch", "energy", "limits (W)", "current (W)");
    for (unsigned i = 0; i < n; i++) {
        zeus_gpu_info g;
        zeus_gpu_get_info(d, i, &g);
        char limits[32] = "n/a", current[32] = "n/a";
        if (g.power_limit_valid)
            snprintf(limits, sizeof limits, "%.0f-%.0f", g.min_power_limit_mw / 1000.0,
                     g.max_power_limit_mw / 1000.0);
        unsigned limit;
        if (zeus_gpu_power_limit_mw(d, i, &limit) == ZEUS_OK)
            snprintf(current, sizeof current, "%.0f", limit / 1000.0);
        char pci[ZEUS_GPU_PCI_ADDRESS_LEN];
        if (zeus_gpu_pci_address(d, i, pci, sizeof pci) != ZEUS_OK)
            snprintf(pci, sizeof pci, "-");
        printf("  %-3u %-6u %-13s %-24s %-9s %-7s %-13s %s\n", i, g.device_index, pci, g.name,
               zeus_gpu_arch_name(g.arch), g.has_energy_counter ? "counter" : "sampled", limits,
               current);
    }
    unsigned c = zeus_cpu_count(d);
    printf("\nCPU packages (%u, RAPL):\n", c);
    if (c == 0)
        printf("  none\n");
    for (unsigned i = 0; i < c; i++) {
        zeus_cpu_info info;
        zeus_cpu_energy e;
        zeus_cpu_get_info(d, i, &info);
        int rc = zeus_cpu_read_energy(d, i, &e);
        printf("  %-3u %-12s zones: package%s  %s\n", i, info.name, info.has_dram ? ", dram" : "",
               rc == ZEUS_OK ? "readable" : zeus_last_error());
    }
}

int cli_show_env(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return cli_error(CLI_USAGE, "show-env: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_error(CLI_USAGE, "show-env: unexpected argument '%s'", argv[optind]);
    zeus_devices *d;
    int rc = zeus_devices_open(&d);
    if (rc != ZEUS_OK)
        return cli_lib_error(CLI_FAIL, rc, "cannot open devices");
    cli_put_back_gone(d);
    rc = CLI_OK;
    if (json)
        rc = print_json(d);
    else
        print_text(d);
    zeus_devices_close(d);
    return rc;
}
