/*  osmose_cli_resources.c: "osmose resources": probe this machine and show
    what osmosed would advertise, after the config's overrides and caps.
    Works offline: it reads /proc, /sys and /dev itself and never calls the
    daemon, so an operator can check a config before starting osmosed.

    For tests, --root DIR (or $OSMOSE_SYSROOT) probes a fake tree instead of
    the real one; the option is left out of --help on purpose.
*/
#include "osmose_prelude.h"
#include "osmose_cli.h"
#include "osmose_config.h"
#include "osmose_resources.h"
#include <getopt.h>

#define S_DEFAULT_CONFIG SYSCONFDIR "/osmose/osmose.conf"

static void
s_usage (void)
{
    printf (
"Usage: osmose resources [-c CONFIG] [--json]\n"
"Probe this machine and show what osmosed would advertise to the mesh:\n"
"CPUs, memory, load, GPUs, NPUs, power source, battery and location, with\n"
"the overrides (resources/...) and lease caps (policy/lease_...) of CONFIG\n"
"applied. Does not need a running daemon.\n"
"\n"
"  -c, --config FILE   configuration to apply; by default\n"
"                      " S_DEFAULT_CONFIG "\n"
"                      if it exists, else the built-in defaults\n"
"  -j, --json          one JSON document: {\"capacity\", \"load\", \"battery_low\"}\n"
"  -h, --help          show this help\n");
}

//  The config named, the installed one, or the defaults
static osmose_config_t *
s_config (const char *filename)
{
    if (!filename && access (S_DEFAULT_CONFIG, F_OK) != 0)
        return osmose_config_new_default ();
    char error [512];
    osmose_config_t *config = osmose_config_load (filename? filename: S_DEFAULT_CONFIG,
                                                  error, sizeof (error));
    if (!config)
        fprintf (stderr, "osmose resources: %s\n", error);
    return config;
}

static void
s_print_table (const osmose_resources_t *res, bool battery_low, int battery_min)
{
    const osmose_resources_capacity_t *capacity = &res->capacity;
    printf ("%-10s %d%s%s%s\n", "cpus", capacity->cpus,
            *capacity->cpu_model? " (": "", capacity->cpu_model,
            *capacity->cpu_model? ")": "");
    printf ("%-10s %" PRId64 " MiB, %" PRId64 " MiB free\n", "memory",
            capacity->memory_total_mb, res->load.memory_free_mb);
    printf ("%-10s %d.%02d\n", "load", res->load.load1 / 100, res->load.load1 % 100);
    printf ("%-10s %d", "gpus", capacity->gpus);
    for (int index = 0; index < capacity->gpu_models; index++)
        printf ("%s%s", index? ", ": ": ", capacity->gpu [index].name);
    if (capacity->gpus > capacity->gpu_models && capacity->gpu_models > 0)
        printf (", ...");
    printf ("\n%-10s %d\n", "npus", capacity->npus);
    printf ("%-10s %s", "power", osmose_resources_power_name (capacity->power));
    if (res->load.battery_percent >= 0)
        printf (", battery %d%%", res->load.battery_percent);
    if (battery_low)
        printf (" (below %d%%: refuses leases)", battery_min);
    printf ("\n%-10s %s\n", "location", *capacity->location? capacity->location: "-");
    printf ("%-10s %d cpus, %d gpus, %d npus, %" PRId64 " MiB\n", "leasable",
            capacity->lease_cpus, capacity->lease_gpus, capacity->lease_npus,
            capacity->lease_memory_mb);
}

int
osmose_cli_resources (osmose_cli_t *cli, int argc, char *argv [])
{
    static const struct option options [] = {
        { "config", required_argument, NULL, 'c' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { "root", required_argument, NULL, 'R' },   //  hidden: tests only
        { NULL, 0, NULL, 0 }
    };
    const char *config_file = NULL;
    const char *root = getenv (OSMOSE_RESOURCES_SYSROOT_ENV);
    int opt;
    while ((opt = getopt_long (argc, argv, "c:jh", options, NULL)) != -1) {
        switch (opt) {
            case 'c': config_file = optarg; break;
            case 'j': cli->json = true; break;
            case 'R': root = optarg; break;
            case 'h':
                s_usage ();
                return OSMOSE_EXIT_OK;
            default:
                fprintf (stderr, "Try 'osmose resources --help' for more information.\n");
                return OSMOSE_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "osmose resources: unexpected argument '%s'\n", argv [optind]);
        return OSMOSE_EXIT_USAGE;
    }
    if (root && !*root)
        root = NULL;
    osmose_config_t *config = s_config (config_file);
    if (!config)
        return OSMOSE_EXIT_FAILURE;
    osmose_resources_t res;
    int rc = osmose_resources_probe (&res, root, config);
    if (rc) {
        fprintf (stderr, "osmose resources: cannot probe %s: not a directory\n",
                 root? root: "/");
        osmose_config_destroy (&config);
        return OSMOSE_EXIT_USAGE;
    }
    int battery_min = (int) osmose_config_int (config, "policy/battery_min_percent");
    bool battery_low = osmose_resources_battery_low (&res, battery_min);
    osmose_config_destroy (&config);

    if (cli->json) {
        json_t *json = osmose_resources_json (&res);
        if (!json || json_object_set_new (json, "battery_low", json_boolean (battery_low))) {
            json_decref (json);
            fprintf (stderr, "osmose resources: out of memory\n");
            return OSMOSE_EXIT_FAILURE;
        }
        //  Six digits: load1 is 1.57, not 1.5700000000000001
        json_dumpf (json, stdout, JSON_COMPACT | JSON_REAL_PRECISION (6));
        printf ("\n");
        json_decref (json);
    }
    else
        s_print_table (&res, battery_low, battery_min);
    return OSMOSE_EXIT_OK;
}
