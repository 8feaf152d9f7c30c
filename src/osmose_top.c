/*  osmose_top.c: osmose-top, a live view of the mesh in the manner of top.

    Each frame asks the local daemon for STATUS and PEERS, plus LEASES,
    TASKS or LOG_TAIL when they are on screen (all of them in batch mode),
    and hands the frame to the model (osmose_top_model.c). The frame is then
    drawn with ncurses (osmose_top_view.c), printed as plain text (-b) or as
    one JSON object per line (--json). A command the daemon does not know
    (ENOTSUP) is not asked again for a minute, so an older daemon costs one
    round trip per frame.

    --replay FILE reads frames from FILE (one JSON object per line, as
    --json writes them) instead of a daemon: for tests and for measuring
    the cost of a frame.
*/
#include "osmose_prelude.h"
#include "osmose_client.h"
#include "osmose_top_model.h"
#include "osmose_top_view.h"
#include <getopt.h>
#include <sys/resource.h>
#include <signal.h>

#define S_EXIT_USAGE 2
#define S_EXIT_DAEMON 3
#define S_RETRY_UNSUPPORTED_MS 60000

typedef struct {
    const char *endpoint;
    const char *replay;
    const char *filter;
    int sort;
    bool reverse;
    int delay_ms;
    int count;                  //  frames to show; 0 means until quit
    bool batch;
    bool json;
    bool colour;
    bool cpu_report;
} s_options_t;

//  Where frames come from: the daemon, or a file of frames
typedef struct {
    osmose_t *client;
    FILE *replay;
    const char *replay_name;
    size_t line_nbr;
    size_t frames_read;
    char error [256];           //  why the replay stopped, said after curses
    int64_t unsupported_at [OSMOSE_TOP_TABS];
} s_source_t;

static const char *s_commands [OSMOSE_TOP_TABS] = { "PEERS", "LEASES", "TASKS", "LOG_TAIL" };
static const char *s_keys [OSMOSE_TOP_TABS] = { "peers", "leases", "tasks", "log" };

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: osmose-top [OPTION]...\n"
"Show the osmose mesh live, as top does for processes: a summary of the mesh\n"
"(peers, free CPUs, GPUs, NPUs and memory, leases, tasks, log), then the peers\n"
"nearest first, and views of leases, tasks and the log.\n"
"\n"
"  -e, --endpoint EP   daemon endpoint (default $OSMOSE_ENDPOINT or\n"
"                      " OSMOSE_DEFAULT_ENDPOINT ")\n"
"  -d, --delay SECS    refresh interval in seconds (default 1.0)\n"
"  -n, --iterations N  stop after N frames\n"
"  -b, --batch         print plain-text frames instead of a screen, like top -b\n"
"  -j, --json          print one JSON object per frame (implies -b)\n"
"  -s, --sort KEY      order peers by proximity (default), name, location,\n"
"                      state, rtt, cpu, load or log\n"
"  -r, --reverse       reverse the order\n"
"  -f, --filter TEXT   show only rows that contain TEXT\n"
"  -C, --no-color      no colours (also when NO_COLOR is set)\n"
"  -h, --help          show this help\n"
"\n"
"Keys: arrows, PgUp/PgDn move; Tab or 1-4 change view; s sort; r reverse;\n"
"/ filter; Enter details; space refresh; h help; q quit.\n"
"Exit status: 0 ok, 2 usage error, 3 daemon not reachable.\n");
}

//  --------------------------------------------------------------------------
//  Frames from the daemon

//  The daemon's LEASES object ({"held", "granted", "local"}) as the rows
//  of the leases view: one per lease, who holds it from whom; takes REPLY
static json_t *
s_lease_rows (json_t *reply)
{
    json_t *rows = json_array ();
    const char *id = json_string_value (json_object_get (reply, "id"));
    const char *kinds [] = { "held", "granted", "local" };
    for (size_t kind = 0; rows && kind < 3; kind++) {
        size_t index;
        json_t *lease;
        json_array_foreach (json_object_get (reply, kinds [kind]), index, lease) {
            const char *peer = json_string_value (json_object_get (
                lease, kind == 1? "client": "provider"));
            json_t *row = json_pack ("{s:O, s:s, s:s, s:s, s:O, s:{s:O, s:O, s:O, s:O}}",
                "id", json_object_get (lease, "lease"),
                "client", kind == 1 && peer? peer: id? id: "",
                "provider", kind == 1 || !peer? (id? id: ""): peer,
                "state", kinds [kind],
                "ttl_ms", json_object_get (lease, "ttl_left_ms")?
                          json_object_get (lease, "ttl_left_ms"): json_null (),
                "resources", "cpus", json_object_get (lease, "cpus"),
                "gpus", json_object_get (lease, "gpus"),
                "npus", json_object_get (lease, "npus"),
                "memory_mb", json_object_get (lease, "memory_mb"));
            if (row)
                json_array_append_new (rows, row);
        }
    }
    json_decref (reply);
    return rows;
}

//  Ask COMMAND unless the daemon said lately that it does not know it;
//  returns the reply or NULL. Sets *rc_p only when the daemon is gone.
static json_t *
s_ask (s_source_t *source, osmose_top_tab_t tab, json_t *arguments, int *rc_p)
{
    int64_t now = zclock_mono ();
    if (source->unsupported_at [tab]
    &&  now - source->unsupported_at [tab] < S_RETRY_UNSUPPORTED_MS)
        return NULL;
    json_t *reply = NULL;
    int rc = osmose_client_call (source->client, s_commands [tab], arguments, &reply);
    if (rc == 0 && tab == OSMOSE_TOP_LEASES && json_is_object (reply))
        return s_lease_rows (reply);
    if (rc == 0)
        return reply;
    json_decref (reply);
    if (rc == OSMOSE_ENOTSUP)
        source->unsupported_at [tab] = now;
    else
    if (rc == OSMOSE_ETIMEDOUT || rc == OSMOSE_EDAEMON || rc == OSMOSE_ECANCELED)
        *rc_p = rc;
    return NULL;
}

//  One frame with what WANTED asks for; absent parts are null
static int
s_fetch_daemon (s_source_t *source, const bool *wanted, int log_count, json_t **frame_p)
{
    json_t *status = NULL;
    int rc = osmose_client_call (source->client, "STATUS", NULL, &status);
    if (rc) {
        json_decref (status);
        return rc;
    }
    json_t *frame = json_pack ("{s:I, s:o}", "time_ms", (json_int_t) zclock_time (),
                               "status", status);
    if (!frame)
        return OSMOSE_ENOMEM;
    for (int tab = 0; tab < OSMOSE_TOP_TABS && rc == 0; tab++) {
        json_t *reply = NULL;
        if (wanted [tab]) {
            json_t *arguments = tab == OSMOSE_TOP_LOG?
                json_pack ("{s:i}", "count", log_count): NULL;
            reply = s_ask (source, (osmose_top_tab_t) tab, arguments, &rc);
            json_decref (arguments);
        }
        json_object_set_new (frame, s_keys [tab], reply? reply: json_null ());
    }
    if (rc) {
        json_decref (frame);
        return rc;
    }
    *frame_p = frame;
    return 0;
}

//  The next frame of the replay file; at its end, start again when the
//  caller asks for more frames than it holds (LOOP). OSMOSE_ECLOSED at the
//  end, OSMOSE_EPROTO on a line that is not a frame (source->error says
//  which).
static int
s_fetch_replay (s_source_t *source, bool loop, json_t **frame_p)
{
    char *line = NULL;
    size_t size = 0;
    int rc = OSMOSE_ECLOSED;
    for (int attempt = 0; attempt < 2 && rc == OSMOSE_ECLOSED; attempt++) {
        ssize_t length;
        while ((length = getline (&line, &size, source->replay)) >= 0) {
            source->line_nbr++;
            if (strspn (line, " \t\r\n") == (size_t) length)
                continue;
            json_error_t error;
            json_t *frame = json_loads (line, 0, &error);
            if (!json_is_object (frame)) {
                snprintf (source->error, sizeof (source->error),
                          "osmose-top: %s:%zu: not a JSON frame: %s",
                          source->replay_name, source->line_nbr,
                          frame? "not an object": error.text);
                json_decref (frame);
                rc = OSMOSE_EPROTO;
                break;
            }
            source->frames_read++;
            *frame_p = frame;
            rc = 0;
            break;
        }
        if (rc != OSMOSE_ECLOSED || !loop || !source->frames_read
        ||  fseek (source->replay, 0, SEEK_SET) != 0)
            break;
        source->line_nbr = 0;
    }
    free (line);
    return rc;
}

static int
s_fetch (s_source_t *source, const s_options_t *options, osmose_top_tab_t tab,
         int log_count, json_t **frame_p)
{
    if (source->replay)
        return s_fetch_replay (source, options->count || !options->batch, frame_p);
    //  Batch frames carry everything; the screen only what it shows
    bool wanted [OSMOSE_TOP_TABS] = { true, false, false, false };
    for (int other = 1; other < OSMOSE_TOP_TABS; other++)
        wanted [other] = options->batch || other == (int) tab;
    return s_fetch_daemon (source, wanted, log_count, frame_p);
}

//  --------------------------------------------------------------------------
//  Batch and screen loops

static double
s_cpu_ms (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec * 1e3 + usage.ru_utime.tv_usec / 1e3
         + usage.ru_stime.tv_sec * 1e3 + usage.ru_stime.tv_usec / 1e3;
}

static void
s_print (osmose_top_model_t *model, const s_options_t *options)
{
    if (options->json) {
        json_t *frame = osmose_top_model_frame (model);
        json_object_set_new (frame, "summary", osmose_top_model_summary_json (model));
        json_dumpf (frame, stdout, JSON_COMPACT);
        printf ("\n");
    }
    else
        osmose_top_model_print (model, stdout);
    fflush (stdout);
}

//  Returns 0 when done, or the error that stopped us
static int
s_run_batch (s_options_t *options, s_source_t *source, osmose_top_model_t *model,
             int *frames_p)
{
    int rc = 0;
    for (int frame_nbr = 0; !options->count || frame_nbr < options->count; frame_nbr++) {
        if (frame_nbr && options->delay_ms)
            zclock_sleep (options->delay_ms);
        if (zsys_interrupted)
            break;
        json_t *frame = NULL;
        rc = s_fetch (source, options, OSMOSE_TOP_PEERS, 50, &frame);
        if (rc == 0)
            rc = osmose_top_model_update (model, &frame);
        if (rc)
            break;
        s_print (model, options);
        *frames_p = frame_nbr + 1;
    }
    //  The end of a replay, or Ctrl-C in the middle of a call, is no error
    return rc == OSMOSE_ECLOSED || zsys_interrupted? 0: rc;
}

static int
s_run_screen (s_options_t *options, s_source_t *source, osmose_top_model_t *model,
              osmose_top_view_t *view, int *frames_p)
{
    int64_t next = zclock_mono ();
    bool ended = false;                 //  a replay that cannot loop
    int rc = 0;
    while (!zsys_interrupted) {
        if (!ended && zclock_mono () >= next) {
            json_t *frame = NULL;
            rc = s_fetch (source, options, osmose_top_view_tab (view), 200, &frame);
            if (rc == 0)
                rc = osmose_top_model_update (model, &frame);
            if (rc == OSMOSE_EPROTO && source->replay)
                return rc;
            if (rc == OSMOSE_ECLOSED)
                ended = true;
            else
            if (rc) {
                //  Keep the last frame up and say why it is not moving
                char message [160];
                snprintf (message, sizeof (message),
                          "osmosed at %s does not answer (%s): retrying every %.1fs",
                          osmose_client_endpoint (source->client), osmose_strerror (rc),
                          options->delay_ms / 1000.0);
                osmose_top_view_set_message (view, message);
            }
            else {
                osmose_top_view_set_message (view, NULL);
                (*frames_p)++;
            }
            osmose_top_view_draw (view);
            next = zclock_mono () + options->delay_ms;
            if (options->count && *frames_p >= options->count)
                break;
        }
        int64_t wait = ended? 1000: next - zclock_mono ();
        int key = osmose_top_view_key (view, (int) (wait < 0? 0: wait));
        if (key < 0)
            continue;
        osmose_top_action_t action = osmose_top_view_handle (view, key);
        if (action == OSMOSE_TOP_QUIT)
            break;
        if (action == OSMOSE_TOP_REFRESH)
            next = zclock_mono ();
    }
    return 0;
}

static int
s_run (s_options_t *options, s_source_t *source)
{
    osmose_top_model_t *model = osmose_top_model_new ();
    if (!model) {
        fprintf (stderr, "osmose-top: out of memory\n");
        return 1;
    }
    osmose_top_model_set_sort (model, (osmose_top_sort_t) options->sort, options->reverse);
    osmose_top_model_set_filter (model, options->filter);
    osmose_top_view_t *view = NULL;
    if (!options->batch) {
        view = osmose_top_view_new (model, options->colour, options->delay_ms);
        if (!view) {
            fprintf (stderr, "osmose-top: cannot use this terminal (TERM=%s);"
                     " try -b for plain text\n", getenv ("TERM")? getenv ("TERM"): "");
            osmose_top_model_destroy (&model);
            return S_EXIT_USAGE;
        }
    }
    int frames = 0;
    double cpu_start = s_cpu_ms ();
    int rc = view? s_run_screen (options, source, model, view, &frames):
                   s_run_batch (options, source, model, &frames);
    double cpu_ms = s_cpu_ms () - cpu_start;
    osmose_top_view_destroy (&view);            //  the terminal is back
    osmose_top_model_destroy (&model);
    if (options->cpu_report)
        fprintf (stderr, "osmose-top: %d frames, %.3f ms CPU per frame\n",
                 frames, frames? cpu_ms / frames: 0.0);
    if (rc == OSMOSE_EPROTO && source->replay) {
        fprintf (stderr, "%s\n", source->error);
        return S_EXIT_USAGE;
    }
    if (rc) {
        fprintf (stderr, "osmose-top: lost osmosed at %s: %s\n",
                 source->client? osmose_client_endpoint (source->client): "-",
                 osmose_strerror (rc));
        return S_EXIT_DAEMON;
    }
    return 0;
}

//  --------------------------------------------------------------------------

static void
s_signal (int signal_nbr)
{
    zsys_interrupted = 1;
}

static int
s_parse_options (int argc, char *argv [], s_options_t *options)
{
    enum { OPT_REPLAY = 256, OPT_CPU_REPORT };
    static const struct option long_options [] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "delay", required_argument, NULL, 'd' },
        { "iterations", required_argument, NULL, 'n' },
        { "batch", no_argument, NULL, 'b' },
        { "json", no_argument, NULL, 'j' },
        { "sort", required_argument, NULL, 's' },
        { "reverse", no_argument, NULL, 'r' },
        { "filter", required_argument, NULL, 'f' },
        { "no-color", no_argument, NULL, 'C' },
        { "no-colour", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        //  Hidden: for tests and measurements
        { "replay", required_argument, NULL, OPT_REPLAY },
        { "cpu-report", no_argument, NULL, OPT_CPU_REPORT },
        { NULL, 0, NULL, 0 }
    };
    const char *delay = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "e:d:n:bjs:rf:Ch", long_options, NULL)) != -1) {
        switch (opt) {
            case 'e': options->endpoint = optarg; break;
            case 'd': delay = optarg; break;
            case 'n': {
                char *end;
                long count = strtol (optarg, &end, 10);
                if (*end || count <= 0 || count > INT_MAX) {
                    fprintf (stderr, "osmose-top: --iterations '%s': expected a count > 0\n",
                             optarg);
                    return S_EXIT_USAGE;
                }
                options->count = (int) count;
                break;
            }
            case 'b': options->batch = true; break;
            case 'j': options->json = options->batch = true; break;
            case 's':
                options->sort = osmose_top_sort_parse (optarg);
                if (options->sort < 0) {
                    fprintf (stderr, "osmose-top: --sort '%s': expected proximity, name,"
                             " location, state, rtt, cpu, load or log\n", optarg);
                    return S_EXIT_USAGE;
                }
                break;
            case 'r': options->reverse = true; break;
            case 'f': options->filter = optarg; break;
            case 'C': options->colour = false; break;
            case OPT_REPLAY: options->replay = optarg; break;
            case OPT_CPU_REPORT: options->cpu_report = true; break;
            case 'h': s_usage (stdout); return -1;
            default:
                fprintf (stderr, "Try 'osmose-top --help' for more information.\n");
                return S_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "osmose-top: unexpected argument '%s'\n"
                         "Try 'osmose-top --help' for more information.\n", argv [optind]);
        return S_EXIT_USAGE;
    }
    if (delay) {
        //  A replay may run flat out, to measure; a daemon deserves a pause
        char *end;
        double seconds = strtod (delay, &end);
        double least = options->replay? 0: 0.1;
        if (*end || !(seconds >= least && seconds <= 3600)) {
            fprintf (stderr, "osmose-top: --delay '%s': expected %g to 3600 seconds\n",
                     delay, least);
            return S_EXIT_USAGE;
        }
        options->delay_ms = (int) (seconds * 1000 + 0.5);
    }
    const char *no_color = getenv ("NO_COLOR");
    if (no_color && *no_color)
        options->colour = false;
    return 0;
}

int
main (int argc, char *argv [])
{
    s_options_t options = { .delay_ms = 1000, .colour = true };
    int rc = s_parse_options (argc, argv, &options);
    if (rc)
        return rc < 0? 0: rc;
    //  Our own handler for SIGINT and SIGTERM, installed before curses
    //  so that curses leaves them to us: the loops stop between frames and
    //  give the terminal back, and Ctrl-C exits 0 as q does
    zsys_handler_set (NULL);
    struct sigaction action = { .sa_handler = s_signal };
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    s_source_t source = { .replay_name = options.replay };
    if (options.replay) {
        source.replay = streq (options.replay, "-")? stdin: fopen (options.replay, "r");
        if (!source.replay) {
            fprintf (stderr, "osmose-top: %s: cannot open: %s\n", options.replay,
                     strerror (errno));
            return S_EXIT_USAGE;
        }
    }
    else {
        rc = osmose_connect (options.endpoint, 2000, &source.client);
        if (rc) {
            const char *endpoint = options.endpoint? options.endpoint:
                getenv ("OSMOSE_ENDPOINT") && *getenv ("OSMOSE_ENDPOINT")?
                    getenv ("OSMOSE_ENDPOINT"): OSMOSE_DEFAULT_ENDPOINT;
            if (rc == OSMOSE_EDAEMON)
                fprintf (stderr, "osmose-top: osmosed is not running at %s\n", endpoint);
            else
                fprintf (stderr, "osmose-top: cannot reach osmosed at %s: %s\n", endpoint,
                         osmose_strerror (rc));
            return S_EXIT_DAEMON;
        }
    }
    rc = s_run (&options, &source);
    osmose_disconnect (&source.client);
    if (source.replay && source.replay != stdin)
        fclose (source.replay);
    return rc;
}
