/*  osmose_cli.c: the osmose command-line tool: one grammar,
    "osmose [GLOBAL OPTIONS] COMMAND [ARGS]", for every subcommand.
*/
#include "osmose_prelude.h"
#include "osmose_client.h"
#include "osmose_cli.h"
#include <getopt.h>

typedef struct {
    const char *name;
    osmose_cli_fn *run;
    const char *summary;
} s_command_t;

static const s_command_t s_commands [] = {
    { "status", osmose_cli_status, "show this peer: id, name, location, uptime" },
    { "peers", osmose_cli_peers, "list the members of the mesh; --near ranks providers" },
    { "trust", osmose_cli_trust, "enrol, revoke and list trusted keys" },
    { "feeds", osmose_cli_feeds, "list the signed logs held here and their heads" },
    { "event", osmose_cli_event, "record an event in this peer's log" },
    { "resources", osmose_cli_resources, "probe this machine: what it would advertise" },
    { "log", osmose_cli_log, "show, verify, prove and erase entries of a log store" },
    { "plugin", osmose_cli_plugin, "hash, trust and list task plugins (no daemon needed)" },
    { "lease", osmose_cli_lease, "lease workers on the nearest peer and hold them" },
    { "run", osmose_cli_run, "run a plugin function on a leased worker" },
    { "leases", osmose_cli_leases, "list the leases held and granted here" },
    { "tasks", osmose_cli_tasks, "where work runs: tasks served here, tasks sent away" },
    { "move", osmose_cli_move, "tell this peer it is somewhere else; leases follow" },
    { "policy", osmose_cli_policy, "show or change what this device lends, at once" },
};
#define S_COMMANDS (sizeof (s_commands) / sizeof (s_commands [0]))

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: osmose [OPTION]... COMMAND [ARG]...\n"
"Inspect and steer the osmose mesh through the local osmosed daemon.\n"
"\n"
"Commands:\n");
    for (size_t index = 0; index < S_COMMANDS; index++)
        fprintf (out, "  %-10s %s\n", s_commands [index].name, s_commands [index].summary);
    fprintf (out,
"\n"
"Options (before the command):\n"
"  -e, --endpoint EP   daemon endpoint (default $OSMOSE_ENDPOINT or\n"
"                      " OSMOSE_DEFAULT_ENDPOINT ")\n"
"  -t, --timeout MS    how long to wait for the daemon (default 3000)\n"
"  -j, --json          machine-readable output, one JSON document\n"
"  -v, --verbose       say more\n"
"  -V, --version       print the version and exit\n"
"  -h, --help          show this help; 'osmose COMMAND --help' for a command\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error, 3 daemon not reachable,\n"
"4 not found, 5 damaged or unverifiable data, 6 no peer leased in time.\n"
"See osmose(1).\n");
}

osmose_t *
osmose_cli_connect (osmose_cli_t *cli)
{
    osmose_t *client = NULL;
    int rc = osmose_connect (cli->endpoint, cli->timeout_ms, &client);
    if (rc) {
        const char *endpoint = cli->endpoint? cli->endpoint:
            getenv ("OSMOSE_ENDPOINT")? getenv ("OSMOSE_ENDPOINT"): OSMOSE_DEFAULT_ENDPOINT;
        if (rc == OSMOSE_EDAEMON)
            fprintf (stderr, "osmose: osmosed is not running at %s (start it with 'systemctl start osmosed')\n",
                     endpoint);
        else
            fprintf (stderr, "osmose: cannot connect to %s: %s\n", endpoint, osmose_strerror (rc));
    }
    return client;
}

int
osmose_cli_exit_code (int code)
{
    switch (code) {
        case 0:                 return OSMOSE_EXIT_OK;
        case OSMOSE_EDAEMON:
        case OSMOSE_ETIMEDOUT:  return OSMOSE_EXIT_DAEMON;
        case OSMOSE_ENOTFOUND:  return OSMOSE_EXIT_NOTFOUND;
        case OSMOSE_EINVAL:     return OSMOSE_EXIT_USAGE;
        case OSMOSE_ECORRUPT:
        case OSMOSE_EVERIFY:
        case OSMOSE_EFORK:      return OSMOSE_EXIT_DATA;
        default:                return OSMOSE_EXIT_FAILURE;
    }
}

int
osmose_cli_call (osmose_cli_t *cli, const char *command, json_t *arguments,
                 json_t **reply_p)
{
    *reply_p = NULL;
    osmose_t *client = osmose_cli_connect (cli);
    if (!client)
        return OSMOSE_EXIT_DAEMON;
    int rc = osmose_client_call (client, command, arguments, reply_p);
    if (rc) {
        const char *detail = *reply_p? json_string_value (json_object_get (*reply_p, "error")): NULL;
        fprintf (stderr, "osmose: %s: %s%s%s\n", command, osmose_strerror (rc),
                 detail? ": ": "", detail? detail: "");
        json_decref (*reply_p);
        *reply_p = NULL;
    }
    osmose_disconnect (&client);
    return osmose_cli_exit_code (rc);
}

void
osmose_cli_print_json (osmose_cli_t *cli, json_t *value)
{
    json_dumpf (value, stdout, cli->json? JSON_COMPACT: JSON_INDENT (2));
    printf ("\n");
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "verbose", no_argument, NULL, 'v' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    osmose_cli_t cli = { .timeout_ms = 3000 };
    int opt;
    //  '+' stops at the command, so its own options are left to it
    while ((opt = getopt_long (argc, argv, "+e:t:jvVh", options, NULL)) != -1) {
        switch (opt) {
            case 'e': cli.endpoint = optarg; break;
            case 't':
                cli.timeout_ms = atoi (optarg);
                if (cli.timeout_ms <= 0) {
                    fprintf (stderr, "osmose: --timeout '%s': expected milliseconds > 0\n", optarg);
                    return OSMOSE_EXIT_USAGE;
                }
                break;
            case 'j': cli.json = true; break;
            case 'v': cli.verbose = true; break;
            case 'V':
                printf ("osmose %s\n", PACKAGE_VERSION);
                return 0;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                fprintf (stderr, "Try 'osmose --help' for more information.\n");
                return OSMOSE_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        s_usage (stderr);
        return OSMOSE_EXIT_USAGE;
    }
    const char *name = argv [optind];
    for (size_t index = 0; index < S_COMMANDS; index++)
        if (streq (s_commands [index].name, name)) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0;         //  full reset for the subcommand's getopt
            if (sodium_init () < 0) {
                fprintf (stderr, "osmose: libsodium failed to initialise\n");
                return OSMOSE_EXIT_FAILURE;
            }
            return s_commands [index].run (&cli, sub_argc, sub_argv);
        }
    fprintf (stderr, "osmose: unknown command '%s'\nTry 'osmose --help' for the list.\n", name);
    return OSMOSE_EXIT_USAGE;
}
