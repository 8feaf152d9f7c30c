/*  osmose_cli_plugin.c: "osmose plugin": what an administrator needs to
    decide which plugins this peer runs. Works on files; needs no daemon.
        osmose plugin hash FILE...
        osmose plugin trust FILE... [--state-dir DIR]
        osmose plugin list [--state-dir DIR] [--dir PLUGINDIR]
    A plugin runs only when the BLAKE2b-256 hash of its file is listed in
    STATE_DIR/plugins.trust; osmosed's workers read that file when they
    start, so trust a plugin, then restart osmosed (or its workers).
*/
#include "osmose_prelude.h"
#include "osmose_cli.h"
#include "osmose_plugins.h"
#include <getopt.h>

#define S_STATE_DIR "/var/lib/osmose"

static const char *s_help =
"Usage: osmose plugin hash FILE...\n"
"       osmose plugin trust FILE... [--state-dir DIR]\n"
"       osmose plugin list [--state-dir DIR] [--dir PLUGINDIR] [--json]\n"
"Decide which plugins this peer may run. Only plugin files whose\n"
"BLAKE2b-256 hash is listed in STATE_DIR/" OSMOSE_PLUGINS_TRUST_FILE " are loaded.\n"
"\n"
"  hash    print the hash of each FILE\n"
"  trust   add each FILE's hash to the trust file (restart osmosed after)\n"
"  list    show each plugin in PLUGINDIR: trusted, untrusted, or why refused\n"
"\n"
"  -s, --state-dir DIR   state directory (default " S_STATE_DIR ")\n"
"  -d, --dir PLUGINDIR   plugin directory (default " OSMOSE_PLUGIN_DIR ")\n"
"  -j, --json            machine-readable output\n"
"  -h, --help            show this help\n";

static int
s_hash (int count, char *files [], const char *trust_file)
{
    int exit_code = OSMOSE_EXIT_OK;
    for (int index = 0; index < count; index++) {
        char hex [OSMOSE_PLUGINS_HASH_HEX];
        int rc = osmose_plugins_hash_file (files [index], hex);
        if (rc) {
            fprintf (stderr, "osmose plugin: cannot read %s: %s\n", files [index], osmose_strerror (rc));
            exit_code = osmose_cli_exit_code (rc);
            continue;
        }
        if (!trust_file) {
            printf ("%s  %s\n", hex, files [index]);
            continue;
        }
        const char *base = strrchr (files [index], '/');
        rc = osmose_plugins_trust_append (trust_file, hex, base? base + 1: files [index]);
        if (rc) {
            fprintf (stderr, "osmose plugin: cannot write %s: %s\n", trust_file, strerror (errno));
            return OSMOSE_EXIT_FAILURE;
        }
        printf ("trusted %s  %s\n", hex, files [index]);
    }
    return exit_code;
}

static int
s_list (osmose_cli_t *cli, const char *dir, const char *trust_file)
{
    osmose_plugins_t *plugins = osmose_plugins_new ();
    if (!plugins)
        return OSMOSE_EXIT_FAILURE;
    int rc = osmose_plugins_trust_file (plugins, trust_file);
    if (rc == 0 && osmose_plugins_scan (plugins, dir, false) < 0)
        rc = OSMOSE_EIO;
    if (rc) {
        fprintf (stderr, "osmose plugin: cannot read %s: %s\n",
                 rc == OSMOSE_EIO? dir: trust_file, osmose_strerror (rc));
        osmose_plugins_destroy (&plugins);
        return OSMOSE_EXIT_FAILURE;
    }
    json_t *list = json_array ();
    for (size_t index = 0; index < osmose_plugins_size (plugins); index++) {
        const osmose_plugins_entry_t *entry = osmose_plugins_entry (plugins, index);
        if (cli->json)
            json_array_append_new (list, json_pack ("{s:s, s:s, s:s, s:s}",
                "file", entry->path, "hash", entry->hash,
                "status", osmose_plugins_status_name (entry->status), "reason", entry->reason));
        else
            printf ("%-10s %-64s %s\n", osmose_plugins_status_name (entry->status),
                    entry->hash, entry->path);
    }
    if (cli->json)
        osmose_cli_print_json (cli, list);
    json_decref (list);
    osmose_plugins_destroy (&plugins);
    return OSMOSE_EXIT_OK;
}

int
osmose_cli_plugin (osmose_cli_t *cli, int argc, char *argv [])
{
    static const struct option options [] = {
        { "state-dir", required_argument, NULL, 's' },
        { "dir", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *state_dir = S_STATE_DIR, *dir = OSMOSE_PLUGIN_DIR;
    int opt;
    while ((opt = getopt_long (argc, argv, "s:d:jh", options, NULL)) != -1) {
        if (opt == 's')
            state_dir = optarg;
        else if (opt == 'd')
            dir = optarg;
        else if (opt == 'j')
            cli->json = true;
        else {
            fputs (s_help, opt == 'h'? stdout: stderr);
            return opt == 'h'? OSMOSE_EXIT_OK: OSMOSE_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs (s_help, stderr);
        return OSMOSE_EXIT_USAGE;
    }
    const char *verb = argv [optind++];
    char trust_file [4096];
    if (snprintf (trust_file, sizeof (trust_file), "%s/%s", state_dir, OSMOSE_PLUGINS_TRUST_FILE)
        >= (int) sizeof (trust_file)) {
        fprintf (stderr, "osmose plugin: state directory name too long\n");
        return OSMOSE_EXIT_USAGE;
    }
    if ((streq (verb, "hash") || streq (verb, "trust")) && optind >= argc) {
        fprintf (stderr, "osmose plugin %s: name at least one plugin file\n", verb);
        return OSMOSE_EXIT_USAGE;
    }
    if (streq (verb, "hash"))
        return s_hash (argc - optind, argv + optind, NULL);
    if (streq (verb, "trust"))
        return s_hash (argc - optind, argv + optind, trust_file);
    if (streq (verb, "list") && optind == argc)
        return s_list (cli, dir, trust_file);
    fprintf (stderr, "osmose plugin: unknown or malformed command '%s' (see --help)\n", verb);
    return OSMOSE_EXIT_USAGE;
}
