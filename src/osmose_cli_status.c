/*  osmose_cli_status.c: "osmose status" and "osmose peers". */
#include "osmose_prelude.h"
#include "osmose_cli.h"
#include <getopt.h>

//  Parse the options every read-only view takes: --json and --help
static int
s_view_options (osmose_cli_t *cli, int argc, char *argv [], const char *help)
{
    static const struct option options [] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "jh", options, NULL)) != -1) {
        if (opt == 'j')
            cli->json = true;
        else
        if (opt == 'h') {
            printf ("%s", help);
            return -1;
        }
        else
            return OSMOSE_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf (stderr, "osmose %s: unexpected argument '%s'\n", argv [0], argv [optind]);
        return OSMOSE_EXIT_USAGE;
    }
    return 0;
}

int
osmose_cli_status (osmose_cli_t *cli, int argc, char *argv [])
{
    int rc = s_view_options (cli, argc, argv,
        "Usage: osmose status [--json]\n"
        "Show this peer: id, name, location, version, uptime and allocator.\n");
    if (rc)
        return rc < 0? 0: rc;
    json_t *reply;
    rc = osmose_cli_call (cli, "STATUS", NULL, &reply);
    if (rc)
        return rc;
    if (cli->json)
        osmose_cli_print_json (cli, reply);
    else {
        const char *keys [] = { "id", "name", "location", "version", "bind" };
        for (size_t index = 0; index < sizeof (keys) / sizeof (keys [0]); index++) {
            const char *value = json_string_value (json_object_get (reply, keys [index]));
            printf ("%-10s %s\n", keys [index], value && *value? value: "-");
        }
        printf ("%-10s %.1f s\n", "uptime",
                json_integer_value (json_object_get (reply, "uptime_ms")) / 1000.0);
        json_t *allocator = json_object_get (reply, "allocator");
        printf ("%-10s %s\n", "allocator",
                json_string_value (json_object_get (allocator, "name")));
    }
    json_decref (reply);
    return 0;
}

int
osmose_cli_peers (osmose_cli_t *cli, int argc, char *argv [])
{
    int rc = s_view_options (cli, argc, argv,
        "Usage: osmose peers [--json]\n"
        "List every member of the mesh with its id, name, location and state.\n");
    if (rc)
        return rc < 0? 0: rc;
    json_t *reply;
    rc = osmose_cli_call (cli, "PEERS", NULL, &reply);
    if (rc)
        return rc;
    if (cli->json)
        osmose_cli_print_json (cli, reply);
    else {
        printf ("%-16s %-16s %-28s %-8s\n", "ID", "NAME", "LOCATION", "STATE");
        size_t index;
        json_t *peer;
        json_array_foreach (reply, index, peer) {
            const char *location = json_string_value (json_object_get (peer, "location"));
            printf ("%-16s %-16.16s %-28.28s %-8s\n",
                    json_string_value (json_object_get (peer, "id")),
                    json_string_value (json_object_get (peer, "name")),
                    location && *location? location: "-",
                    json_string_value (json_object_get (peer, "state")));
        }
    }
    json_decref (reply);
    return 0;
}

int
osmose_cli_feeds (osmose_cli_t *cli, int argc, char *argv [])
{
    int rc = s_view_options (cli, argc, argv,
        "Usage: osmose feeds [--json]\n"
        "List every feed (signed log) this peer holds, its own and the replicas\n"
        "of the other peers' feeds: writer id, entries, and the signed root.\n"
        "Two peers that list the same size and root for a feed hold the same log.\n");
    if (rc)
        return rc < 0? 0: rc;
    json_t *reply;
    rc = osmose_cli_call (cli, "FEEDS", NULL, &reply);
    if (rc)
        return rc;
    if (cli->json)
        osmose_cli_print_json (cli, reply);
    else {
        printf ("%-16s %10s  %-64s\n", "WRITER", "ENTRIES", "ROOT");
        size_t index;
        json_t *feed;
        json_array_foreach (reply, index, feed)
            printf ("%-16s %10" JSON_INTEGER_FORMAT "  %s%s\n",
                    json_string_value (json_object_get (feed, "id")),
                    json_integer_value (json_object_get (feed, "size")),
                    json_string_value (json_object_get (feed, "root")),
                    json_is_true (json_object_get (feed, "own"))? "  (own)": "");
    }
    json_decref (reply);
    return 0;
}

int
osmose_cli_event (osmose_cli_t *cli, int argc, char *argv [])
{
    if (argc == 2 && (streq (argv [1], "--help") || streq (argv [1], "-h"))) {
        printf ("Usage: osmose event TEXT\n"
                "Record TEXT as an EVENT entry in this peer's signed log; it spreads\n"
                "to every peer with the log.\n");
        return 0;
    }
    if (argc != 2) {
        fprintf (stderr, "Usage: osmose event TEXT\n");
        return OSMOSE_EXIT_USAGE;
    }
    json_t *request = json_pack ("{s:s}", "text", argv [1]);
    json_t *reply;
    int rc = osmose_cli_call (cli, "EVENT", request, &reply);
    json_decref (request);
    if (rc)
        return rc;
    if (cli->json)
        osmose_cli_print_json (cli, reply);
    json_decref (reply);
    return 0;
}
