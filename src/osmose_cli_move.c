/*  osmose_cli_move.c: "osmose move PATH", "osmose policy" and "osmose
    tasks": steer where this device is and what it lends, and see the work
    it runs (DESIGN.md, "Mobility and migration").
*/
#include "osmose_prelude.h"
#include "osmose_client.h"
#include "osmose_cli.h"

static bool
s_wants_help (int argc, char *argv [])
{
    for (int index = 1; index < argc; index++)
        if (streq (argv [index], "--help") || streq (argv [index], "-h"))
            return true;
    return false;
}

int
osmose_cli_move (osmose_cli_t *cli, int argc, char *argv [])
{
    if (s_wants_help (argc, argv)) {
        printf ("Usage: osmose move PATH\n"
                "Tell this peer it is now at PATH (building/floor/room/..., segments of\n"
                "[A-Za-z0-9._-]). The move is a MOVE entry in the log and spreads with the\n"
                "member record; leases whose provider is now beyond their latency bound,\n"
                "or that a much nearer provider could hold (lease/move_gain_us), are\n"
                "re-placed near PATH and their tasks move with them. A positioning script\n"
                "can do the same by writing paths to node/location_source.\n"
                "Exit status: 0 moved (or already there), 2 bad path, 3 no daemon.\n");
        return 0;
    }
    if (argc != 2) {
        fprintf (stderr, "Usage: osmose move PATH\n");
        return OSMOSE_EXIT_USAGE;
    }
    json_t *request = json_pack ("{s:s}", "location", argv [1]);
    json_t *reply = NULL;
    int rc = osmose_cli_call (cli, "MOVE", request, &reply);
    json_decref (request);
    if (rc)
        return rc == OSMOSE_EXIT_FAILURE? OSMOSE_EXIT_USAGE: rc;
    if (cli->json)
        osmose_cli_print_json (cli, reply);
    else
        printf ("moved from %s to %s\n",
                *json_string_value (json_object_get (reply, "from"))?
                json_string_value (json_object_get (reply, "from")): "(nowhere)",
                json_string_value (json_object_get (reply, "to")));
    json_decref (reply);
    return 0;
}

int
osmose_cli_policy (osmose_cli_t *cli, int argc, char *argv [])
{
    if (s_wants_help (argc, argv) || argc < 2) {
        FILE *out = argc < 2? stderr: stdout;
        fprintf (out,
                "Usage: osmose policy show\n"
                "       osmose policy set KEY=VALUE...\n"
                "Show what this device lends, or change the owner's policy and resource\n"
                "overrides at once, without a restart: KEY is a policy/* or resources/*\n"
                "setting of osmose.conf(5), e.g.\n"
                "  osmose policy set policy/lease_cpus=2 policy/battery_min_percent=30\n"
                "  osmose policy set resources/power=battery resources/battery_percent=10\n"
                "A battery below policy/battery_min_percent hands every lease back (their\n"
                "holders move their tasks elsewhere). Each change is a POLICY log entry;\n"
                "the file is not rewritten, so edit it too to keep a change.\n"
                "Exit status: 0 done, 2 bad key or value, 3 no daemon.\n");
        return argc < 2? OSMOSE_EXIT_USAGE: 0;
    }
    json_t *set = json_object ();
    for (int index = 2; set && streq (argv [1], "set") && index < argc; index++) {
        char *equals = strchr (argv [index], '=');
        if (!equals) {
            fprintf (stderr, "osmose: policy set: expected KEY=VALUE, got '%s'\n", argv [index]);
            json_decref (set);
            return OSMOSE_EXIT_USAGE;
        }
        *equals = 0;
        json_object_set_new (set, argv [index], json_string (equals + 1));
    }
    if (!streq (argv [1], "set") && !streq (argv [1], "show")) {
        fprintf (stderr, "osmose: policy: unknown verb '%s' (show or set)\n", argv [1]);
        json_decref (set);
        return OSMOSE_EXIT_USAGE;
    }
    json_t *request = json_pack ("{s:o}", "set", set);
    json_t *reply = NULL;
    int rc = osmose_cli_call (cli, "POLICY", request, &reply);
    json_decref (request);
    if (rc)
        return rc == OSMOSE_EXIT_FAILURE? OSMOSE_EXIT_USAGE: rc;
    osmose_cli_print_json (cli, reply);
    json_decref (reply);
    return 0;
}

//  One line per held lease: where its tasks run
static void
s_print_tasks (json_t *leases, json_t *status)
{
    json_t *tasks = json_object_get (json_object_get (status, "leases"), "tasks");
    printf ("Tasks run here for others: %" JSON_INTEGER_FORMAT " running, %"
            JSON_INTEGER_FORMAT " queued, %" JSON_INTEGER_FORMAT " done, %"
            JSON_INTEGER_FORMAT " failed, %" JSON_INTEGER_FORMAT " crashed\n",
            json_integer_value (json_object_get (tasks, "running")),
            json_integer_value (json_object_get (tasks, "queued")),
            json_integer_value (json_object_get (tasks, "completed")),
            json_integer_value (json_object_get (tasks, "failed")),
            json_integer_value (json_object_get (tasks, "crashed")));
    json_t *work = json_object_get (leases, "work");
    printf ("Work endpoint %s: %" JSON_INTEGER_FORMAT " connections, %" JSON_INTEGER_FORMAT
            " tasks in, %" JSON_INTEGER_FORMAT " results out\n",
            json_string_value (json_object_get (work, "endpoint")),
            json_integer_value (json_object_get (work, "sessions")),
            json_integer_value (json_object_get (work, "tasks")),
            json_integer_value (json_object_get (work, "results")));
    size_t index;
    json_t *lease;
    printf ("\nThis device's programs run tasks on:\n  %-32s %-16s %6s %8s\n",
            "LEASE", "PROVIDER", "PID", "TTL");
    json_array_foreach (json_object_get (leases, "held"), index, lease)
        printf ("  %-32s %-16s %6" JSON_INTEGER_FORMAT " %6" JSON_INTEGER_FORMAT "ms\n",
                json_string_value (json_object_get (lease, "lease")),
                json_string_value (json_object_get (lease, "provider")),
                json_integer_value (json_object_get (lease, "pid")),
                json_integer_value (json_object_get (lease, "ttl_left_ms")));
    json_array_foreach (json_object_get (leases, "local"), index, lease)
        printf ("  %-32s %-16s %6" JSON_INTEGER_FORMAT " %8s\n",
                json_string_value (json_object_get (lease, "lease")), "(this device)",
                json_integer_value (json_object_get (lease, "pid")), "-");
}

int
osmose_cli_tasks (osmose_cli_t *cli, int argc, char *argv [])
{
    if (s_wants_help (argc, argv)) {
        printf ("Usage: osmose tasks\n"
                "Where work runs: the tasks this device runs for leaseholders (running,\n"
                "queued, done, failed, crashed), its work endpoint, and the leases this\n"
                "device's programs hold and where their tasks go. The life of a task\n"
                "across peers (grants, migrations with their reasons, releases) is in\n"
                "the logs: 'osmose log show' on each peer's store.\n");
        return 0;
    }
    if (argc != 1) {
        fprintf (stderr, "Usage: osmose tasks\n");
        return OSMOSE_EXIT_USAGE;
    }
    json_t *leases = NULL, *status = NULL;
    int rc = osmose_cli_call (cli, "LEASES", NULL, &leases);
    if (rc == 0)
        rc = osmose_cli_call (cli, "STATUS", NULL, &status);
    if (rc == 0) {
        if (cli->json) {
            json_t *both = json_pack ("{s:O, s:O, s:O, s:O}",
                "tasks", json_object_get (json_object_get (status, "leases"), "tasks"),
                "work", json_object_get (leases, "work"),
                "held", json_object_get (leases, "held"),
                "local", json_object_get (leases, "local"));
            osmose_cli_print_json (cli, both);
            json_decref (both);
        }
        else
            s_print_tasks (leases, status);
    }
    json_decref (leases);
    json_decref (status);
    return rc;
}
