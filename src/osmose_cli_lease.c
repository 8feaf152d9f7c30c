/*  osmose_cli_lease.c: "osmose lease", "osmose run" and "osmose leases":
    the leasing layer (osmose.h, "Leasing workers on nearby peers") from the
    command line.
        osmose lease [REQUEST] [--timeout MS] [--hold SECONDS]
        osmose run PLUGIN.FUNCTION [--input FILE|-] [--data TEXT] [--count N]
        osmose leases
    They go through the public API only, as any program would: the daemon
    bids for the lease among the nearest peers, and "run" then sends its
    tasks straight to the provider the lease names.
*/
#include "osmose_prelude.h"
#include "osmose_cli.h"
#include <getopt.h>
#include <signal.h>

#define S_ACQUIRE_TIMEOUT_MS 5000
//  Tasks "run" keeps in flight: enough to fill the pipe, few enough that
//  a large input is not copied a thousand times over
#define S_RUN_WINDOW 256
//  How often a wait looks at the signal flag
#define S_SLICE_MS 200

//  --------------------------------------------------------------------------
//  Request options, shared with "peers --near"

//  Parse a whole decimal number in [MIN, MAX]; false when ARG is not one
static bool
s_number (const char *arg, int64_t min, int64_t max, int64_t *value_p)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll (arg, &end, 10);
    if (errno || end == arg || *end || value < min || value > max)
        return false;
    *value_p = value;
    return true;
}

int
osmose_cli_request_option (osmose_request_t *request, int opt, const char *arg,
                           const char *command)
{
    int64_t value = 0;
    switch (opt) {
        case OSMOSE_CLI_OPT_CPUS:
        case OSMOSE_CLI_OPT_GPUS:
        case OSMOSE_CLI_OPT_NPUS:
            if (!s_number (arg, 0, 65536, &value))
                break;
            if (opt == OSMOSE_CLI_OPT_CPUS)
                request->cpus = (int) value;
            else
            if (opt == OSMOSE_CLI_OPT_GPUS)
                request->gpus = (int) value;
            else
                request->npus = (int) value;
            return 0;
        case OSMOSE_CLI_OPT_MEMORY:
            if (!s_number (arg, 0, INT64_MAX / 2, &request->memory_mb))
                break;
            return 0;
        case OSMOSE_CLI_OPT_LATENCY:
            if (!s_number (arg, 0, INT64_MAX / 2, &request->latency_bound_us))
                break;
            return 0;
        case OSMOSE_CLI_OPT_TTL:
            if (!s_number (arg, 0, 86400000, &value))
                break;
            request->ttl_ms = (uint32_t) value;
            return 0;
        case OSMOSE_CLI_OPT_STRATEGY:
            if (streq (arg, "eager-remote"))
                request->strategy = OSMOSE_EAGER_REMOTE;
            else
            if (streq (arg, "local-first"))
                request->strategy = OSMOSE_LOCAL_FIRST;
            else {
                fprintf (stderr, "osmose %s: --strategy '%s': expected eager-remote or local-first\n",
                         command, arg);
                return OSMOSE_EXIT_USAGE;
            }
            return 0;
        case OSMOSE_CLI_OPT_FAILURE:
            if (streq (arg, "retry-local"))
                request->failure = OSMOSE_RETRY_LOCAL;
            else
            if (streq (arg, "retry-remote"))
                request->failure = OSMOSE_RETRY_REMOTE;
            else
            if (streq (arg, "fail"))
                request->failure = OSMOSE_FAIL;
            else {
                fprintf (stderr, "osmose %s: --failure '%s': expected retry-local, retry-remote"
                         " or fail\n", command, arg);
                return OSMOSE_EXIT_USAGE;
            }
            return 0;
        default:
            fprintf (stderr, "Try 'osmose %s --help' for more information.\n", command);
            return OSMOSE_EXIT_USAGE;
    }
    const char *names [] = { "cpus 0 to 65536", "gpus 0 to 65536", "npus 0 to 65536",
                             "memory from 0", "latency-bound from 0", "", "", "ttl 0 to 86400000" };
    const char *name = names [opt - OSMOSE_CLI_OPT_CPUS];
    fprintf (stderr, "osmose %s: --%.*s '%s': expected a whole number%s\n", command,
             (int) strcspn (name, " "), name, arg, name + strcspn (name, " "));
    return OSMOSE_EXIT_USAGE;
}

//  --------------------------------------------------------------------------
//  What "lease" and "run" share: their options, signals, the acquisition

typedef struct {
    osmose_request_t request;
    int timeout_ms;             //  --timeout: to acquire
    int64_t hold_s;             //  lease --hold; -1: until a signal
    const char *input_file;     //  run --input
    const char *data;           //  run --data
    int64_t count;              //  run --count
    int64_t task_timeout_ms;    //  run --task-timeout; -1: none of its own
    char reason [256];          //  the last failure the library reported
    bool failed;                //  the lease failed while held
} s_options_t;

static volatile sig_atomic_t s_signal;

static void
s_on_signal (int signal_number)
{
    s_signal = signal_number;
}

//  SIGINT and SIGTERM end a hold or a run cleanly, through a flag we look
//  at between waits. CZMQ's own handler is turned off, or it would make
//  the library's sockets fail half-way through a release.
static void
s_catch_signals (void)
{
    zsys_handler_set (NULL);
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

//  The library tells us why a lease failed; keep it for the message
static void
s_on_failure (osmose_lease_t *lease, int code, const char *reason, void *arg)
{
    s_options_t *options = (s_options_t *) arg;
    snprintf (options->reason, sizeof (options->reason), "%s",
              reason && *reason? reason: osmose_strerror (code));
    options->failed = true;
}

//  Parse the options of "lease" (RUN false) or "run" (RUN true); returns
//  0, -1 after --help, or an exit code
static int
s_parse (osmose_cli_t *cli, int argc, char *argv [], bool run, const char *help,
         s_options_t *options)
{
    enum { S_TIMEOUT = 0x200, S_HOLD, S_INPUT, S_DATA, S_COUNT, S_TASK_TIMEOUT };
    static const struct option long_options [] = {
        OSMOSE_CLI_REQUEST_OPTIONS,
        { "timeout", required_argument, NULL, S_TIMEOUT },
        { "hold", required_argument, NULL, S_HOLD },
        { "input", required_argument, NULL, S_INPUT },
        { "data", required_argument, NULL, S_DATA },
        { "count", required_argument, NULL, S_COUNT },
        { "task-timeout", required_argument, NULL, S_TASK_TIMEOUT },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    memset (options, 0, sizeof (*options));
    osmose_request_init (&options->request);
    options->request.on_failure = s_on_failure;
    options->request.failure_arg = options;
    options->timeout_ms = S_ACQUIRE_TIMEOUT_MS;
    options->hold_s = -1;
    options->count = 1;
    options->task_timeout_ms = -1;
    const char *command = run? "run": "lease";
    int64_t value;
    int opt;
    while ((opt = getopt_long (argc, argv, run? "i:d:n:jh": "jh", long_options, NULL)) != -1) {
        opt = opt == 'i'? S_INPUT: opt == 'd'? S_DATA: opt == 'n'? S_COUNT: opt;
        bool ours = run? (opt == S_INPUT || opt == S_DATA || opt == S_COUNT
                          || opt == S_TASK_TIMEOUT): opt == S_HOLD;
        if (opt > S_TIMEOUT && !ours) {
            fprintf (stderr, "osmose %s: %s is an option of 'osmose %s'\n", command,
                     argv [optind - 1], run? "lease": "run");
            return OSMOSE_EXIT_USAGE;
        }
        switch (opt) {
            case 'j': cli->json = true; break;
            case 'h': printf ("%s", help); return -1;
            case S_INPUT: options->input_file = optarg; break;
            case S_DATA: options->data = optarg; break;
            case S_TIMEOUT:
            case S_HOLD:
            case S_COUNT:
            case S_TASK_TIMEOUT:
                if (!s_number (optarg, opt == S_COUNT? 1: 0, INT32_MAX, &value)) {
                    const char *names [] = { "timeout", "hold", "", "", "count", "task-timeout" };
                    fprintf (stderr, "osmose %s: --%s '%s': expected a whole number%s\n",
                             command, names [opt - S_TIMEOUT], optarg,
                             opt == S_COUNT? " > 0": " >= 0");
                    return OSMOSE_EXIT_USAGE;
                }
                if (opt == S_TIMEOUT)
                    options->timeout_ms = (int) value;
                else
                if (opt == S_HOLD)
                    options->hold_s = value;
                else
                if (opt == S_COUNT)
                    options->count = value;
                else
                    options->task_timeout_ms = value;
                break;
            default: {
                int rc = osmose_cli_request_option (&options->request, opt, optarg, command);
                if (rc)
                    return rc;
            }
        }
    }
    if (options->input_file && options->data) {
        fprintf (stderr, "osmose run: give --input or --data, not both\n");
        return OSMOSE_EXIT_USAGE;
    }
    return 0;
}

//  Exit code for a failed acquisition, after one line that says why
static int
s_acquire_failed (const char *command, int rc, const s_options_t *options)
{
    const osmose_request_t *request = &options->request;
    const char *detail = *options->reason? options->reason: osmose_strerror (rc);
    if (rc == OSMOSE_ETIMEDOUT) {
        fprintf (stderr, "osmose %s: no lease of %d cpus, %d gpus, %d npus, %" PRId64
                 " MiB within %d ms: %s\n", command, request->cpus, request->gpus, request->npus,
                 request->memory_mb, options->timeout_ms, detail);
        return OSMOSE_EXIT_NOPEER;
    }
    if (rc == OSMOSE_ENOPEER) {
        fprintf (stderr, "osmose %s: no peer leases %d cpus, %d gpus, %d npus, %" PRId64
                 " MiB: %s\n", command, request->cpus, request->gpus, request->npus,
                 request->memory_mb, detail);
        return OSMOSE_EXIT_NOPEER;
    }
    fprintf (stderr, "osmose %s: cannot lease: %s\n", command, detail);
    if (rc == OSMOSE_EINVAL)
        return OSMOSE_EXIT_USAGE;
    if (rc == OSMOSE_EDAEMON)
        return OSMOSE_EXIT_DAEMON;
    return OSMOSE_EXIT_FAILURE;
}

//  Connect and acquire; on failure print one line and return the exit code
static int
s_acquire (osmose_cli_t *cli, const char *command, s_options_t *options,
           osmose_t **client_p, osmose_lease_t **lease_p)
{
    *client_p = osmose_cli_connect (cli);
    if (!*client_p)
        return OSMOSE_EXIT_DAEMON;
    int rc = osmose_lease_acquire (*client_p, &options->request, options->timeout_ms, lease_p);
    if (rc) {
        osmose_disconnect (client_p);
        return s_acquire_failed (command, rc, options);
    }
    return 0;
}

//  The lease as the library describes it; NULL when it cannot
static json_t *
s_lease_json (osmose_lease_t *lease)
{
    char *text = NULL;
    json_t *json = NULL;
    if (osmose_lease_json (lease, &text) == 0)
        json = json_loads (text, 0, NULL);
    osmose_free (text);
    return json;
}

static const char *
s_string (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value && *value? value: "-";
}

static json_int_t
s_int (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    return json_is_real (value)? (json_int_t) json_real_value (value): json_integer_value (value);
}

//  "peer2 (hq/f1/r1)", or the id when the lease has no name
static void
s_provider_name (osmose_lease_t *lease, json_t *json, char *name, size_t size)
{
    const char *peer = json_string_value (json_object_get (json, "name"));
    const char *location = json_string_value (json_object_get (json, "location"));
    if (!peer || !*peer)
        peer = osmose_lease_provider (lease);
    if (location && *location)
        snprintf (name, size, "%s (%s)%s", peer, location, osmose_lease_local (lease)? ", local": "");
    else
        snprintf (name, size, "%s%s", peer, osmose_lease_local (lease)? " (local)": "");
}

static void
s_print_lease (osmose_lease_t *lease, json_t *json, int64_t hold_s)
{
    char name [256];
    s_provider_name (lease, json, name, sizeof (name));
    printf ("%-10s %s\n", "lease", s_string (json, "lease"));
    printf ("%-10s %s %s\n", "provider", osmose_lease_provider (lease), name);
    printf ("%-10s %s\n", "endpoint", s_string (json, "endpoint"));
    printf ("%-10s %" JSON_INTEGER_FORMAT " cpus, %" JSON_INTEGER_FORMAT " gpus, %"
            JSON_INTEGER_FORMAT " npus, %" JSON_INTEGER_FORMAT " MiB\n", "resources",
            s_int (json, "cpus"), s_int (json, "gpus"), s_int (json, "npus"),
            s_int (json, "memory_mb"));
    char rtt [32] = "not measured";
    if (s_int (json, "rtt_us") >= 0)
        snprintf (rtt, sizeof (rtt), "%" JSON_INTEGER_FORMAT " us", s_int (json, "rtt_us"));
    printf ("%-10s rtt %s, %" JSON_INTEGER_FORMAT " hops, score %" JSON_INTEGER_FORMAT " us\n",
            "proximity", rtt, s_int (json, "hops"), s_int (json, "score_us"));
    printf ("%-10s %" JSON_INTEGER_FORMAT " ms without renewal\n", "ttl", s_int (json, "ttl_ms"));
    if (hold_s >= 0)
        printf ("%-10s %" PRId64 " s\n", "hold", hold_s);
    else
        printf ("%-10s until SIGINT or SIGTERM (Ctrl-C)\n", "hold");
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  osmose lease

static const char *s_lease_help =
"Usage: osmose lease [OPTION]...\n"
"Lease workers on the nearest peer that can serve the request, print the\n"
"lease, hold it, then give it back. The daemon bids among the nearest peers\n"
"(by measured RTT and location) and renews the lease while it is held.\n"
"\n"
OSMOSE_CLI_REQUEST_HELP
"\n"
"      --timeout MS         how long to wait for a lease (default 5000)\n"
"      --hold SECONDS       hold the lease this long (default: until SIGINT\n"
"                           or SIGTERM; 0: release at once)\n"
"  -j, --json               print the lease as one JSON object: lease,\n"
"                           provider, name, location, endpoint, local, cpus,\n"
"                           gpus, npus, memory_mb, ttl_ms, rtt_us, score_us\n"
"  -h, --help               show this help\n"
"\n"
"A lease that ends while held (its provider died, or the daemon re-placed it\n"
"on a much nearer peer) is bid for again and the new lease printed.\n"
"\n"
"Exit status: 0 the lease was held and released, 1 it ended while held and\n"
"no new lease came, 2 usage error, 3 osmosed not reachable, 6 no peer leased\n"
"in time.\n";

//  Whether the daemon still holds LEASE, held from a peer or on this
//  device. The library hears that a lease ended only while tasks are in
//  flight, and a hold has none: the daemon may have re-placed the lease
//  (a much nearer provider has room), or lost it with its provider.
//  True when in doubt: a busy daemon does not end a hold.
static bool
s_daemon_holds (osmose_t *client, osmose_lease_t *lease)
{
    json_t *mine = s_lease_json (lease);
    const char *id = json_string_value (json_object_get (mine, "lease"));
    char *text = NULL;
    json_t *view = id && osmose_leases_json (client, &text) == 0? json_loads (text, 0, NULL): NULL;
    osmose_free (text);
    bool holds = !view;
    const char *lists [] = { "held", "local" };
    for (size_t list = 0; view && list < 2; list++) {
        size_t index;
        json_t *entry;
        json_array_foreach (json_object_get (view, lists [list]), index, entry) {
            const char *lease_id = json_string_value (json_object_get (entry, "lease"));
            holds |= lease_id && streq (lease_id, id);
        }
    }
    json_decref (view);
    json_decref (mine);
    return holds;
}

//  Hold LEASE until DEADLINE or a signal; false when it ended meanwhile,
//  with the reason in OPTIONS
static bool
s_hold (osmose_t *client, osmose_lease_t *lease, int64_t deadline, s_options_t *options)
{
    int64_t next_check = zclock_mono () + 1000;
    while (!s_signal && !options->failed) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        //  Nothing is in flight, so this only lets the library tell us
        //  that the lease ended
        osmose_result_t result;
        int rc = osmose_lease_next_result (lease, 0, &result);
        if (rc == OSMOSE_ENOLEASE) {
            if (!*options->reason) {
                const char *why = osmose_lease_last_error (lease);
                snprintf (options->reason, sizeof (options->reason), "%s%s%s",
                          osmose_strerror (rc), *why? ": ": "", why);
            }
            return false;
        }
        if (zclock_mono () >= next_check) {
            if (!s_daemon_holds (client, lease)) {
                snprintf (options->reason, sizeof (options->reason),
                          "the daemon no longer holds it (re-placed, revoked or expired)");
                return false;
            }
            next_check = zclock_mono () + 1000;
        }
        struct timespec pause = { 0, (long) (left < S_SLICE_MS? left: S_SLICE_MS) * 1000000L };
        nanosleep (&pause, NULL);       //  a signal cuts it short
    }
    return !options->failed;
}

static void
s_show_lease (osmose_cli_t *cli, osmose_lease_t *lease, int64_t hold_s)
{
    json_t *json = s_lease_json (lease);
    if (cli->json)
        osmose_cli_print_json (cli, json? json: json_null ());
    else
        s_print_lease (lease, json, hold_s);
    fflush (stdout);
    json_decref (json);
}

int
osmose_cli_lease (osmose_cli_t *cli, int argc, char *argv [])
{
    s_options_t options;
    int rc = s_parse (cli, argc, argv, false, s_lease_help, &options);
    if (rc)
        return rc < 0? OSMOSE_EXIT_OK: rc;
    if (optind < argc) {
        fprintf (stderr, "osmose lease: unexpected argument '%s'\n", argv [optind]);
        return OSMOSE_EXIT_USAGE;
    }
    s_catch_signals ();
    osmose_t *client;
    osmose_lease_t *lease;
    rc = s_acquire (cli, "lease", &options, &client, &lease);
    if (rc)
        return rc;
    s_show_lease (cli, lease, options.hold_s);
    int64_t started = zclock_mono ();
    int64_t deadline = options.hold_s >= 0? started + options.hold_s * 1000: INT64_MAX;
    //  A lease that ends while held is bid for again, as a program's lease
    //  would move: the hold is of workers, not of one provider
    while (!s_hold (client, lease, deadline, &options)) {
        fprintf (stderr, "osmose lease: the lease on %s ended after %.1f s: %s; bidding again\n",
                 osmose_lease_provider (lease), (zclock_mono () - started) / 1000.0,
                 options.reason);
        osmose_lease_release (&lease);
        options.failed = false;
        *options.reason = '\0';
        rc = osmose_lease_acquire (client, &options.request, options.timeout_ms, &lease);
        if (rc) {
            osmose_disconnect (&client);
            s_acquire_failed ("lease", rc, &options);
            return OSMOSE_EXIT_FAILURE;
        }
        s_show_lease (cli, lease, options.hold_s);
    }
    osmose_lease_release (&lease);
    osmose_disconnect (&client);
    if (!cli->json)
        printf ("released after %.1f s%s\n", (zclock_mono () - started) / 1000.0,
                s_signal == SIGINT? " (SIGINT)": s_signal == SIGTERM? " (SIGTERM)": "");
    return OSMOSE_EXIT_OK;
}

//  --------------------------------------------------------------------------
//  osmose run

static const char *s_run_help =
"Usage: osmose run PLUGIN.FUNCTION [OPTION]...\n"
"Lease a worker as 'osmose lease' does and run the plugin function\n"
"PLUGIN.FUNCTION there (e.g. echo.echo, hash.blake2b): input bytes in,\n"
"output bytes out, in an isolated worker process on the provider. The tasks\n"
"go straight to the provider, pipelined, and each task's output is written\n"
"to standard output as it comes, unchanged (binary-safe), in completion\n"
"order. Errors go to standard error with the task's own reason.\n"
"\n"
"  -i, --input FILE         the task's input: the bytes of FILE ('-' for\n"
"                           standard input)\n"
"  -d, --data TEXT          the task's input: TEXT, without a newline\n"
"                           (neither: an empty input)\n"
"  -n, --count N            run the task N times (default 1)\n"
"      --task-timeout MS    give up on a result after MS (default: wait; the\n"
"                           provider kills a task after its\n"
"                           exec/task_timeout_ms)\n"
"      --timeout MS         how long to wait for a lease (default 5000)\n"
"  -j, --json               one JSON object instead of the raw output: lease,\n"
"                           tasks, succeeded, failed, elapsed_ms and results\n"
"                           (task_id, status, error, reason, output_size,\n"
"                           output_base64), in completion order\n"
"  -h, --help               show this help\n"
"\n"
OSMOSE_CLI_REQUEST_HELP
"\n"
"Exit status: 0 every task succeeded, 1 a task failed (or the lease ended),\n"
"2 usage error, 3 osmosed not reachable, 4 the provider has no trusted plugin\n"
"offering FUNCTION, 6 no peer leased in time.\n";

//  The whole of FILE ("-": standard input) into *data_p (caller frees)
static int
s_read_input (const char *filename, uint8_t **data_p, size_t *size_p)
{
    FILE *file = streq (filename, "-")? stdin: fopen (filename, "rb");
    if (!file) {
        fprintf (stderr, "osmose run: cannot open %s: %s\n", filename, strerror (errno));
        return errno == ENOENT? OSMOSE_EXIT_NOTFOUND: OSMOSE_EXIT_FAILURE;
    }
    size_t size = 0, capacity = 65536;
    uint8_t *data = (uint8_t *) malloc (capacity);
    while (data) {
        size += fread (data + size, 1, capacity - size, file);
        if (size < capacity)
            break;
        uint8_t *bigger = (uint8_t *) realloc (data, capacity * 2);
        if (!bigger) {
            free (data);
            data = NULL;
        }
        else {
            data = bigger;
            capacity *= 2;
        }
    }
    bool error = ferror (file);
    if (file != stdin)
        fclose (file);
    if (!data || error) {
        fprintf (stderr, "osmose run: cannot read %s: %s\n", filename,
                 data? strerror (errno): "out of memory");
        free (data);
        return OSMOSE_EXIT_FAILURE;
    }
    *data_p = data;
    *size_p = size;
    return 0;
}

typedef struct {
    osmose_cli_t *cli;
    const char *function;
    const char *provider;       //  "peer2 (hq/f1/r1)", for messages
    json_t *results;            //  --json: what each task gave
    int64_t succeeded, failed;
    int exit_code;              //  of the first failure
    int last_status;            //  so a repeated failure is said once
    char last_reason [256];
} s_run_t;

static void
s_result_json (s_run_t *self, const osmose_result_t *result)
{
    size_t encoded_size = sodium_base64_ENCODED_LEN (result->output_size,
                                                     sodium_base64_VARIANT_ORIGINAL);
    char *encoded = (char *) malloc (encoded_size);
    if (encoded)
        sodium_bin2base64 (encoded, encoded_size, result->output_size? result->output:
                           (const unsigned char *) "", result->output_size,
                           sodium_base64_VARIANT_ORIGINAL);
    json_array_append_new (self->results, json_pack ("{s:I, s:i, s:s, s:s, s:I, s:s}",
        "task_id", (json_int_t) result->task_id, "status", result->status,
        "error", result->status? osmose_strerror_name (result->status): "",
        "reason", result->reason? result->reason: "",
        "output_size", (json_int_t) result->output_size, "output_base64", encoded? encoded: ""));
    free (encoded);
}

//  One task's outcome: its output to stdout, or one line on stderr
static void
s_result (s_run_t *self, const osmose_result_t *result)
{
    if (self->cli->json)
        s_result_json (self, result);
    if (result->status == 0) {
        self->succeeded++;
        if (!self->cli->json && result->output_size)
            fwrite (result->output, 1, result->output_size, stdout);
        return;
    }
    self->failed++;
    if (self->exit_code == 0)
        self->exit_code = result->status == OSMOSE_ENOTFOUND? OSMOSE_EXIT_NOTFOUND:
                                                              OSMOSE_EXIT_FAILURE;
    const char *reason = result->reason? result->reason: "";
    if (self->cli->json
    ||  (self->last_status == result->status && streq (self->last_reason, reason)))
        return;
    self->last_status = result->status;
    snprintf (self->last_reason, sizeof (self->last_reason), "%s", reason);
    if (result->status == OSMOSE_ENOTFOUND)
        fprintf (stderr, "osmose run: %s on %s: %s ('osmose plugin list' on that peer shows"
                 " what is trusted)\n", self->function, self->provider,
                 *reason? reason: "no trusted plugin offers this function");
    else
        fprintf (stderr, "osmose run: %s: task %" PRIu64 " on %s: %s%s%s\n", self->function,
                 result->task_id, self->provider, osmose_strerror (result->status),
                 *reason? ": ": "", reason);
}

//  Submit COUNT tasks, keeping S_RUN_WINDOW in flight, and collect them;
//  returns 0 or the library's code that stopped the run
static int
s_pipeline (s_run_t *self, osmose_lease_t *lease, const s_options_t *options,
            const uint8_t *input, size_t input_size)
{
    int64_t submitted = 0, collected = 0;
    int64_t last_progress = zclock_mono ();
    while (collected < options->count && !s_signal) {
        while (submitted < options->count && !s_signal
        &&     osmose_lease_in_flight (lease) < S_RUN_WINDOW) {
            uint64_t task_id;
            int rc = osmose_lease_submit (lease, self->function, input, input_size, &task_id);
            if (rc == OSMOSE_EBUSY)
                break;
            if (rc)
                return rc;
            submitted++;
        }
        osmose_result_t result;
        int rc = osmose_lease_next_result (lease, S_SLICE_MS, &result);
        if (rc == OSMOSE_ETIMEDOUT) {
            if (options->task_timeout_ms >= 0
            &&  zclock_mono () - last_progress > options->task_timeout_ms)
                return OSMOSE_ETIMEDOUT;
            continue;
        }
        if (rc)
            return rc;
        last_progress = zclock_mono ();
        collected++;
        s_result (self, &result);
    }
    return 0;
}

//  FUNCTION must be PLUGIN.FUNCTION, both parts named
static bool
s_function_valid (const char *function)
{
    const char *dot = strchr (function, '.');
    return dot && dot > function && dot [1] && !strchr (dot + 1, '.');
}

static int
s_run_report (s_run_t *self, osmose_lease_t *lease, s_options_t *options, int rc,
              int64_t elapsed_ms)
{
    if (rc && rc != OSMOSE_ETIMEDOUT) {
        if (!*options->reason)
            snprintf (options->reason, sizeof (options->reason), "%s",
                      osmose_lease_last_error (lease));
        fprintf (stderr, "osmose run: %s on %s stopped: %s%s%s\n", self->function, self->provider,
                 osmose_strerror (rc), *options->reason? ": ": "", options->reason);
        self->exit_code = rc == OSMOSE_EINVAL? OSMOSE_EXIT_USAGE:
                          rc == OSMOSE_EDAEMON? OSMOSE_EXIT_DAEMON: OSMOSE_EXIT_FAILURE;
    }
    else
    if (rc == OSMOSE_ETIMEDOUT) {
        fprintf (stderr, "osmose run: %s on %s: no result within %" PRId64 " ms\n",
                 self->function, self->provider, options->task_timeout_ms);
        self->exit_code = OSMOSE_EXIT_FAILURE;
    }
    if (s_signal) {
        fprintf (stderr, "osmose run: interrupted after %" PRId64 " of %" PRId64 " tasks\n",
                 self->succeeded + self->failed, options->count);
        if (self->exit_code == 0)
            self->exit_code = OSMOSE_EXIT_FAILURE;
    }
    if (!self->cli->json && self->failed > 1)
        fprintf (stderr, "osmose run: %" PRId64 " of %" PRId64 " tasks failed\n", self->failed,
                 options->count);
    if (self->cli->verbose)
        fprintf (stderr, "osmose run: %" PRId64 " tasks of %s on %s in %.3f s\n",
                 self->succeeded + self->failed, self->function, self->provider,
                 elapsed_ms / 1000.0);
    if (self->cli->json) {
        json_t *json = s_lease_json (lease);
        json_t *document = json_pack ("{s:s, s:o, s:I, s:I, s:I, s:I, s:O}",
            "function", self->function, "lease", json? json: json_null (),
            "tasks", (json_int_t) options->count, "succeeded", (json_int_t) self->succeeded,
            "failed", (json_int_t) self->failed, "elapsed_ms", (json_int_t) elapsed_ms,
            "results", self->results);
        if (document)
            osmose_cli_print_json (self->cli, document);
        json_decref (document);
    }
    if (fflush (stdout) || ferror (stdout)) {
        fprintf (stderr, "osmose run: cannot write the output: %s\n", strerror (errno));
        return OSMOSE_EXIT_FAILURE;
    }
    return self->exit_code;
}

int
osmose_cli_run (osmose_cli_t *cli, int argc, char *argv [])
{
    s_options_t options;
    int rc = s_parse (cli, argc, argv, true, s_run_help, &options);
    if (rc)
        return rc < 0? OSMOSE_EXIT_OK: rc;
    if (optind != argc - 1 || !s_function_valid (argv [optind])) {
        fprintf (stderr, optind >= argc? "osmose run: name the function to run, as PLUGIN.FUNCTION\n":
                 optind < argc - 1? "osmose run: one function at a time ('%s' is extra)\n":
                 "osmose run: '%s': expected PLUGIN.FUNCTION, e.g. echo.echo\n",
                 argv [optind < argc - 1? optind + 1: optind]);
        return OSMOSE_EXIT_USAGE;
    }
    uint8_t *input = NULL;
    size_t input_size = options.data? strlen (options.data): 0;
    if (options.input_file && (rc = s_read_input (options.input_file, &input, &input_size)))
        return rc;
    s_catch_signals ();
    osmose_t *client;
    osmose_lease_t *lease;
    rc = s_acquire (cli, "run", &options, &client, &lease);
    if (rc) {
        free (input);
        return rc;
    }
    json_t *lease_json = s_lease_json (lease);
    char provider [256];
    s_provider_name (lease, lease_json, provider, sizeof (provider));
    json_decref (lease_json);
    s_run_t run = { .cli = cli, .function = argv [optind], .provider = provider,
                    .results = json_array () };
    int64_t started = zclock_mono ();
    rc = s_pipeline (&run, lease, &options, input? input: (const uint8_t *) options.data,
                     input_size);
    int exit_code = s_run_report (&run, lease, &options, rc, zclock_mono () - started);
    json_decref (run.results);
    free (input);
    osmose_lease_release (&lease);
    osmose_disconnect (&client);
    return exit_code;
}

//  --------------------------------------------------------------------------
//  osmose leases

//  One row per lease of LIST; PEER_KEY names the other end (NULL: this
//  device, a local lease)
static void
s_print_leases (json_t *list, const char *role, const char *peer_key)
{
    size_t index;
    json_t *lease;
    json_array_foreach (list, index, lease) {
        char pid [24] = "-";
        if (json_integer_value (json_object_get (lease, "pid")) > 0)
            snprintf (pid, sizeof (pid), "%" JSON_INTEGER_FORMAT, s_int (lease, "pid"));
        printf ("%-8s %-32.32s %-16.16s %7s %4" JSON_INTEGER_FORMAT " %4" JSON_INTEGER_FORMAT
                " %4" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT, role, s_string (lease, "lease"),
                peer_key? s_string (lease, peer_key): "this device", pid, s_int (lease, "cpus"),
                s_int (lease, "gpus"), s_int (lease, "npus"), s_int (lease, "memory_mb"));
        if (json_object_get (lease, "ttl_left_ms"))
            printf (" %8" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT "\n",
                    s_int (lease, "ttl_left_ms"), s_int (lease, "renewals"));
        else
            printf (" %8s %8s\n", "-", "-");
    }
}

int
osmose_cli_leases (osmose_cli_t *cli, int argc, char *argv [])
{
    int rc = osmose_cli_view_options (cli, argc, argv,
        "Usage: osmose leases [--json]\n"
        "List the leases this peer holds for its programs (held: from\n"
        "another peer; local: on this device) and has granted to other\n"
        "peers (granted), with the program holding each (PID), what it\n"
        "covers, the time left before it expires without renewal, and how\n"
        "often it was renewed; then what this peer has free to lease.\n"
        "\n"
        "  -j, --json   one JSON object: {\"held\": [...], \"local\": [...],\n"
        "               \"granted\": [...], \"free\": {...}, ...}\n"
        "  -h, --help   show this help\n");
    if (rc)
        return rc < 0? OSMOSE_EXIT_OK: rc;
    osmose_t *client = osmose_cli_connect (cli);
    if (!client)
        return OSMOSE_EXIT_DAEMON;
    char *text = NULL;
    rc = osmose_leases_json (client, &text);
    osmose_disconnect (&client);
    json_t *json = rc == 0? json_loads (text, 0, NULL): NULL;
    osmose_free (text);
    if (!json) {
        fprintf (stderr, "osmose leases: %s\n", osmose_strerror (rc? rc: OSMOSE_EPROTO));
        return osmose_cli_exit_code (rc? rc: OSMOSE_EPROTO);
    }
    if (cli->json)
        osmose_cli_print_json (cli, json);
    else {
        printf ("%-8s %-32s %-16s %7s %4s %4s %4s %8s %8s %8s\n", "ROLE", "LEASE", "PEER",
                "PID", "CPUS", "GPUS", "NPUS", "MEM-MB", "TTL-MS", "RENEWALS");
        s_print_leases (json_object_get (json, "held"), "held", "provider");
        s_print_leases (json_object_get (json, "local"), "local", NULL);
        s_print_leases (json_object_get (json, "granted"), "granted", "client");
        json_t *free_ = json_object_get (json, "free");
        if (json_is_object (free_))
            printf ("free: %" JSON_INTEGER_FORMAT " cpus, %" JSON_INTEGER_FORMAT " gpus, %"
                    JSON_INTEGER_FORMAT " npus, %" JSON_INTEGER_FORMAT " MiB\n",
                    s_int (free_, "cpus"), s_int (free_, "gpus"), s_int (free_, "npus"),
                    s_int (free_, "memory_mb"));
    }
    json_decref (json);
    return OSMOSE_EXIT_OK;
}
