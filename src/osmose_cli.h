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

//  Map an osmose error code to an exit code.
int
    osmose_cli_exit_code (int code);

//  Print JSON pretty for people, compact for --json.
void
    osmose_cli_print_json (osmose_cli_t *cli, json_t *value);

//  Subcommands
int osmose_cli_status (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_peers (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_trust (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_feeds (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_event (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_resources (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_log (osmose_cli_t *cli, int argc, char *argv []);
int osmose_cli_plugin (osmose_cli_t *cli, int argc, char *argv []);

#endif
