/*  osmose_cli.h: what the subcommands of the osmose CLI share.

    Each subcommand lives in its own file (osmose_cli_<name>.c) and exports
    one entry point with this signature; osmose_cli.c dispatches by name.
    Exit codes mean the same in every subcommand (OSMOSE_EXIT_*).
*/
#ifndef OSMOSE_CLI_H_INCLUDED
#define OSMOSE_CLI_H_INCLUDED

#include <jansson.h>

#define OSMOSE_EXIT_OK        0   //  success
#define OSMOSE_EXIT_FAILURE   1   //  the operation failed (e.g. verify failed)
#define OSMOSE_EXIT_USAGE     2   //  bad command line
#define OSMOSE_EXIT_DAEMON    3   //  osmosed not reachable
#define OSMOSE_EXIT_NOTFOUND  4   //  no such entry, peer, lease or key
#define OSMOSE_EXIT_DATA      5   //  damaged or unverifiable data
#define OSMOSE_EXIT_NOPEER    6   //  no peer leased in time (lease, run)

typedef struct {
    const char *endpoint;       //  -e, or NULL for the default
    int timeout_ms;             //  -t
    bool json;                  //  --json
    bool verbose;
} osmose_cli_t;

//  A subcommand: ARGV [0] is the subcommand's name; getopt state is reset.
typedef int (osmose_cli_fn) (osmose_cli_t *cli, int argc, char *argv []);

//  Connect to the daemon or print one clear line and return NULL.
osmose_t *
    osmose_cli_connect (osmose_cli_t *cli);

//  Call COMMAND on the daemon; on failure print one clear line and return
//  the exit code to use, else 0 with *reply_p set (caller owns).
int
    osmose_cli_call (osmose_cli_t *cli, const char *command, json_t *arguments,
                     json_t **reply_p);

//  Parse the options every read-only view takes, --json and --help (which
//  prints HELP). Returns 0 to go on, -1 when help was shown (exit 0), or
//  OSMOSE_EXIT_USAGE.
int
    osmose_cli_view_options (osmose_cli_t *cli, int argc, char *argv [], const char *help);

//  Map an osmose error code to an exit code.
int
    osmose_cli_exit_code (int code);

//  Print JSON pretty for people, compact for --json.
void
    osmose_cli_print_json (osmose_cli_t *cli, json_t *value);

//  What a request for a lease asks (lease, run, peers --near): long
//  options only, with these values, so a command adds
//  OSMOSE_CLI_REQUEST_OPTIONS to its getopt_long table, passes what getopt
//  returns to osmose_cli_request_option, and shows OSMOSE_CLI_REQUEST_HELP.
enum {
    OSMOSE_CLI_OPT_CPUS = 0x100, OSMOSE_CLI_OPT_GPUS, OSMOSE_CLI_OPT_NPUS,
    OSMOSE_CLI_OPT_MEMORY, OSMOSE_CLI_OPT_LATENCY, OSMOSE_CLI_OPT_STRATEGY,
    OSMOSE_CLI_OPT_FAILURE, OSMOSE_CLI_OPT_TTL
};
#define OSMOSE_CLI_REQUEST_OPTIONS \
    { "cpus", required_argument, NULL, OSMOSE_CLI_OPT_CPUS }, \
    { "gpus", required_argument, NULL, OSMOSE_CLI_OPT_GPUS }, \
    { "npus", required_argument, NULL, OSMOSE_CLI_OPT_NPUS }, \
    { "memory", required_argument, NULL, OSMOSE_CLI_OPT_MEMORY }, \
    { "latency-bound", required_argument, NULL, OSMOSE_CLI_OPT_LATENCY }, \
    { "strategy", required_argument, NULL, OSMOSE_CLI_OPT_STRATEGY }, \
    { "failure", required_argument, NULL, OSMOSE_CLI_OPT_FAILURE }, \
    { "ttl", required_argument, NULL, OSMOSE_CLI_OPT_TTL }
#define OSMOSE_CLI_REQUEST_HELP \
"What to lease (defaults: one CPU from the nearest peer):\n" \
"      --cpus N             CPUs (default 1)\n" \
"      --gpus N             GPUs (default 0)\n" \
"      --npus N             NPUs (default 0)\n" \
"      --memory MB          memory in MiB (default 0: no minimum)\n" \
"      --latency-bound US   farthest proximity score accepted, in\n" \
"                           microseconds (default 0: no bound)\n" \
"      --strategy S         eager-remote (default): a nearby peer, this device\n" \
"                           only as a fallback; local-first: this device when\n" \
"                           it has room, else a peer\n" \
"      --failure F          when no peer leases: retry-local (default) runs on\n" \
"                           this device; retry-remote keeps bidding until the\n" \
"                           timeout; fail gives up at once\n" \
"      --ttl MS             lease life without renewal (default: the\n" \
"                           provider's lease/ttl_ms)\n"

//  Apply request option OPT (a value above) with ARG to REQUEST. Returns 0,
//  or OSMOSE_EXIT_USAGE after one line naming COMMAND and the option.
int
    osmose_cli_request_option (osmose_request_t *request, int opt, const char *arg,
                               const char *command);

//  Subcommands
int osmose_cli_status (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_peers (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_trust (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_feeds (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_event (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_move (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_policy (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_tasks (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_resources (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_log (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_plugin (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_lease (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_run (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_leases (osmose_cli_t *cli, int argc, char *argv []);

#endif
