/*  osmose_cli_status.c: "osmose status", "osmose peers" (and its --near
    ranking of providers for a request), "osmose feeds", "osmose event". */
#include "osmose_prelude.h"
#include "osmose_cli.h"
#include <getopt.h>

int
osmose_cli_view_options (osmose_cli_t *cli, int argc, char *argv [], const char *help)
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
    int rc = osmose_cli_view_options (cli, argc, argv,
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

static const char *s_peers_help =
"Usage: osmose peers [--json]\n"
"       osmose peers --near [REQUEST OPTION]... [--json]\n"
"List every member of the mesh with its id, name, location and state.\n"
"\n"
"With --near, rank the providers as this peer would for a lease of the\n"
"request the options describe (default: one CPU), nearest first: measured\n"
"round-trip time plus a cost for each hop between location paths\n"
"(proximity/topology_weight_us), and whether each can serve the request\n"
"or why not. 'osmose lease' with the same options bids among the first.\n"
"\n"
"  -n, --near         rank providers for a request instead of listing members\n"
"  -j, --json         machine-readable output\n"
"  -h, --help         show this help\n"
"\n"
OSMOSE_CLI_REQUEST_HELP;

static void
s_print_members (json_t *reply)
{
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

static json_int_t
s_int (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    return json_is_real (value)? (json_int_t) json_real_value (value): json_integer_value (value);
}

//  The ranking as a table: self marked "*", as osmose-top does
static void
s_print_near (json_t *ranking)
{
    printf ("%4s %-16s %-24s %8s %4s %9s %7s %7s %-8s %s\n", "RANK", "NAME", "LOCATION", "RTT",
            "HOPS", "SCORE", "CPUS", "GPUS", "POWER", "QUALIFIES");
    size_t index;
    json_t *peer;
    json_array_foreach (ranking, index, peer) {
        const char *name = json_string_value (json_object_get (peer, "name"));
        const char *location = json_string_value (json_object_get (peer, "location"));
        const char *power = json_string_value (json_object_get (peer, "power"));
        const char *reason = json_string_value (json_object_get (peer, "reason"));
        bool qualifies = json_is_true (json_object_get (peer, "qualifies"));
        char label [32], rtt [16], score [16];
        snprintf (label, sizeof (label), "%.15s%s", name && *name? name:
                  json_string_value (json_object_get (peer, "id")),
                  json_is_true (json_object_get (peer, "self"))? "*": "");
        if (json_is_integer (json_object_get (peer, "rtt_us")) && s_int (peer, "rtt_us") >= 0)
            snprintf (rtt, sizeof (rtt), "%" JSON_INTEGER_FORMAT "us", s_int (peer, "rtt_us"));
        else
            snprintf (rtt, sizeof (rtt), "-");     //  not measured yet
        snprintf (score, sizeof (score), "%" JSON_INTEGER_FORMAT "us", s_int (peer, "score_us"));
        json_int_t rank = s_int (peer, "rank");
        printf ("%4" JSON_INTEGER_FORMAT " %-16s %-24.24s %8s %4" JSON_INTEGER_FORMAT " %9s %7"
                JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT " %-8.8s %s%s%s\n",
                rank > 0? rank: (json_int_t) index + 1, label,
                location && *location? location: "-", rtt, s_int (peer, "hops"), score,
                s_int (peer, "cpus_free"), s_int (peer, "gpus_free"), power && *power? power: "-",
                qualifies? "yes": "no", !qualifies && reason && *reason? ": ": "",
                !qualifies && reason? reason: "");
    }
}

//  "peers --near": the ranking for REQUEST through the public API
static int
s_near (osmose_cli_t *cli, const osmose_request_t *request)
{
    osmose_t *client = osmose_cli_connect (cli);
    if (!client)
        return OSMOSE_EXIT_DAEMON;
    char *text = NULL;
    int rc = osmose_near_json (client, request, &text);
    osmose_disconnect (&client);
    json_t *ranking = rc == 0? json_loads (text, 0, NULL): NULL;
    osmose_free (text);
    if (!ranking) {
        fprintf (stderr, "osmose peers --near: %s\n", osmose_strerror (rc? rc: OSMOSE_EPROTO));
        return osmose_cli_exit_code (rc? rc: OSMOSE_EPROTO);
    }
    if (cli->json)
        osmose_cli_print_json (cli, ranking);
    else
        s_print_near (ranking);
    json_decref (ranking);
    return 0;
}

int
osmose_cli_peers (osmose_cli_t *cli, int argc, char *argv [])
{
    static const struct option options [] = {
        OSMOSE_CLI_REQUEST_OPTIONS,
        { "near", no_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    osmose_request_t request;
    osmose_request_init (&request);
    bool near = false, requested = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "njh", options, NULL)) != -1) {
        if (opt == 'n')
            near = true;
        else
        if (opt == 'j')
            cli->json = true;
        else
        if (opt == 'h') {
            printf ("%s", s_peers_help);
            return 0;
        }
        else {
            int rc = osmose_cli_request_option (&request, opt, optarg, "peers");
            if (rc)
                return rc;
            requested = true;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "osmose peers: unexpected argument '%s'\n", argv [optind]);
        return OSMOSE_EXIT_USAGE;
    }
    if (requested && !near) {
        fprintf (stderr, "osmose peers: the request options go with --near\n");
        return OSMOSE_EXIT_USAGE;
    }
    if (near)
        return s_near (cli, &request);
    json_t *reply;
    int rc = osmose_cli_call (cli, "PEERS", NULL, &reply);
    if (rc)
        return rc;
    if (cli->json)
        osmose_cli_print_json (cli, reply);
    else
        s_print_members (reply);
    json_decref (reply);
    return 0;
}

int
osmose_cli_feeds (osmose_cli_t *cli, int argc, char *argv [])
{
    int rc = osmose_cli_view_options (cli, argc, argv,
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
