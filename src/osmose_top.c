/*  osmose_top.c: osmose-top, a live view of the mesh in the manner of top.

    Each frame asks the local daemon for STATUS and PEERS and draws them:
    with ncurses on a terminal, as plain text frames with -b, or as one JSON
    object per frame with --json.
*/
#include "osmose_prelude.h"
#include "osmose_client.h"
#include <getopt.h>
#include <curses.h>

typedef struct {
    const char *endpoint;
    int delay_ms;
    int count;                  //  frames to show; 0 means until quit
    bool batch;
    bool json;
} s_options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: osmose-top [OPTION]...\n"
"Show the osmose mesh live: this peer, its members, their state.\n"
"\n"
"  -e, --endpoint EP   daemon endpoint (default $OSMOSE_ENDPOINT or\n"
"                      " OSMOSE_DEFAULT_ENDPOINT ")\n"
"  -d, --delay SECS    refresh interval in seconds (default 1.0)\n"
"  -n, --iterations N  stop after N frames\n"
"  -b, --batch         print plain-text frames instead of a screen\n"
"  -j, --json          print one JSON object per frame (implies -b)\n"
"  -h, --help          show this help\n"
"\n"
"Keys: q quit, h help. Exit status: 0 ok, 2 usage error, 3 daemon not reachable.\n");
}

//  One frame's data: {"status": {...}, "peers": [...]}; NULL on failure
static json_t *
s_fetch (osmose_t *client, int *rc_p)
{
    json_t *status = NULL, *peers = NULL;
    int rc = osmose_client_call (client, "STATUS", NULL, &status);
    if (rc == 0)
        rc = osmose_client_call (client, "PEERS", NULL, &peers);
    *rc_p = rc;
    if (rc) {
        json_decref (status);
        json_decref (peers);
        return NULL;
    }
    return json_pack ("{s:o, s:o, s:I}", "status", status, "peers", peers,
                      "time_ms", (json_int_t) zclock_time ());
}

static const char *
s_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value && *value? value: "-";
}

static void
s_print_frame (json_t *frame)
{
    json_t *status = json_object_get (frame, "status");
    json_t *peers = json_object_get (frame, "peers");
    printf ("osmose-top - peer %s (%s) at %s, up %.0f s, %zu peers\n",
            s_str (status, "id"), s_str (status, "name"), s_str (status, "location"),
            json_integer_value (json_object_get (status, "uptime_ms")) / 1000.0,
            json_array_size (peers));
    printf ("%-16s %-16s %-28s %-8s\n", "ID", "NAME", "LOCATION", "STATE");
    size_t index;
    json_t *peer;
    json_array_foreach (peers, index, peer)
        printf ("%-16s %-16.16s %-28.28s %-8s\n", s_str (peer, "id"),
                s_str (peer, "name"), s_str (peer, "location"), s_str (peer, "state"));
    printf ("\n");
    fflush (stdout);
}

static void
s_draw_frame (json_t *frame)
{
    erase ();
    json_t *status = json_object_get (frame, "status");
    json_t *peers = json_object_get (frame, "peers");
    attron (A_BOLD);
    mvprintw (0, 0, "osmose-top - peer %s (%s) at %s", s_str (status, "id"),
              s_str (status, "name"), s_str (status, "location"));
    attroff (A_BOLD);
    mvprintw (1, 0, "peers: %zu   uptime: %.0f s   q: quit",
              json_array_size (peers),
              json_integer_value (json_object_get (status, "uptime_ms")) / 1000.0);
    attron (A_REVERSE);
    mvprintw (3, 0, "%-16s %-16s %-28s %-8s", "ID", "NAME", "LOCATION", "STATE");
    attroff (A_REVERSE);
    size_t index;
    json_t *peer;
    json_array_foreach (peers, index, peer)
        if ((int) index + 4 < LINES)
            mvprintw ((int) index + 4, 0, "%-16s %-16.16s %-28.28s %-8s",
                      s_str (peer, "id"), s_str (peer, "name"),
                      s_str (peer, "location"), s_str (peer, "state"));
    refresh ();
}

static int
s_run (s_options_t *options, osmose_t *client)
{
    bool screen = !options->batch;
    if (screen) {
        initscr ();
        cbreak ();
        noecho ();
        curs_set (0);
        keypad (stdscr, TRUE);
        timeout (options->delay_ms);
    }
    int rc = 0;
    for (int frame_nbr = 0; !options->count || frame_nbr < options->count; frame_nbr++) {
        json_t *frame = s_fetch (client, &rc);
        if (!frame)
            break;
        if (options->json) {
            json_dumpf (frame, stdout, JSON_COMPACT);
            printf ("\n");
            fflush (stdout);
        }
        else
        if (options->batch)
            s_print_frame (frame);
        else
            s_draw_frame (frame);
        json_decref (frame);
        if (options->count && frame_nbr + 1 == options->count)
            break;
        if (screen) {
            int key = getch ();
            if (key == 'q' || key == 'Q')
                break;
        }
        else
        if (zclock_sleep (options->delay_ms), zsys_interrupted)
            break;
    }
    if (screen)
        endwin ();
    if (rc)
        fprintf (stderr, "osmose-top: lost the daemon: %s\n", osmose_strerror (rc));
    return rc? 3: 0;
}

int
main (int argc, char *argv [])
{
    static const struct option long_options [] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "delay", required_argument, NULL, 'd' },
        { "iterations", required_argument, NULL, 'n' },
        { "batch", no_argument, NULL, 'b' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    s_options_t options = { .delay_ms = 1000 };
    int opt;
    while ((opt = getopt_long (argc, argv, "e:d:n:bjh", long_options, NULL)) != -1) {
        switch (opt) {
            case 'e': options.endpoint = optarg; break;
            case 'd': {
                double seconds = atof (optarg);
                if (seconds < 0.05 || seconds > 3600) {
                    fprintf (stderr, "osmose-top: --delay '%s': expected 0.05 to 3600 seconds\n", optarg);
                    return 2;
                }
                options.delay_ms = (int) (seconds * 1000);
                break;
            }
            case 'n':
                options.count = atoi (optarg);
                if (options.count <= 0) {
                    fprintf (stderr, "osmose-top: --iterations '%s': expected a count > 0\n", optarg);
                    return 2;
                }
                break;
            case 'b': options.batch = true; break;
            case 'j': options.json = options.batch = true; break;
            case 'h': s_usage (stdout); return 0;
            default:
                fprintf (stderr, "Try 'osmose-top --help' for more information.\n");
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "osmose-top: unexpected argument '%s'\n", argv [optind]);
        return 2;
    }
    osmose_t *client = NULL;
    int rc = osmose_connect (options.endpoint, 3000, &client);
    if (rc) {
        const char *endpoint = options.endpoint? options.endpoint:
            getenv ("OSMOSE_ENDPOINT")? getenv ("OSMOSE_ENDPOINT"): OSMOSE_DEFAULT_ENDPOINT;
        fprintf (stderr, "osmose-top: osmosed is not running at %s\n", endpoint);
        return 3;
    }
    rc = s_run (&options, client);
    osmose_disconnect (&client);
    return rc;
}
