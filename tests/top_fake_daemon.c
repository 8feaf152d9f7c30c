/*  top_fake_daemon.c: a stand-in for osmosed's local API, for osmose-top's
    tests: it answers STATUS, PEERS, LEASES, TASKS and LOG_TAIL from a file
    of frames (one JSON object a line, as osmose-top --json writes them),
    moving to the next frame on each STATUS. A part that is null or absent
    in the frame is answered with OSMOSE_ENOTSUP, as an older daemon does.
    So the tests drive osmose-top's real client path with any number of
    peers before the daemon has a mesh to report.

    Usage: top_fake_daemon ENDPOINT FRAMES_FILE
    Runs until SIGTERM/SIGINT, then prints how often each command was asked
    ("STATUS 12", one a line) on stdout.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_api.h"

typedef struct {
    const char *key;            //  part of the frame this command returns
    size_t asked;
} s_part_t;

static json_t *s_frames;
static size_t s_current;

static int
s_answer (void *arg, json_t *request, json_t **reply)
{
    s_part_t *part = (s_part_t *) arg;
    part->asked++;
    if (!part->key) {           //  PING
        *reply = json_pack ("{s:s}", "version", "fake");
        return 0;
    }
    if (streq (part->key, "status"))
        s_current = (s_current + 1) % json_array_size (s_frames);
    json_t *value = json_object_get (json_array_get (s_frames, s_current), part->key);
    if (!value || json_is_null (value)) {
        *reply = json_pack ("{s:s}", "error", "unknown command");
        return OSMOSE_ENOTSUP;
    }
    *reply = json_incref (value);
    return 0;
}

static json_t *
s_load (const char *name)
{
    FILE *file = fopen (name, "r");
    if (!file)
        return NULL;
    json_t *frames = json_array ();
    char *line = NULL;
    size_t size = 0;
    while (getline (&line, &size, file) > 0) {
        json_error_t error;
        json_t *frame = json_loads (line, 0, &error);
        if (json_is_object (frame))
            json_array_append_new (frames, frame);
        else
            json_decref (frame);
    }
    free (line);
    fclose (file);
    return frames;
}

int
main (int argc, char *argv [])
{
    if (argc != 3) {
        fprintf (stderr, "usage: top_fake_daemon ENDPOINT FRAMES_FILE\n");
        return 2;
    }
    s_frames = s_load (argv [2]);
    if (!s_frames || json_array_size (s_frames) == 0) {
        fprintf (stderr, "top_fake_daemon: %s: no frames\n", argv [2]);
        json_decref (s_frames);
        return 2;
    }
    s_current = json_array_size (s_frames) - 1;     //  the first STATUS shows frame 0
    zsys_init ();
    char error [256];
    osmose_api_t *api = osmose_api_new (argv [1], error, sizeof (error));
    if (!api) {
        fprintf (stderr, "top_fake_daemon: %s\n", error);
        json_decref (s_frames);
        return 1;
    }
    s_part_t parts [] = {
        { .key = NULL }, { .key = "status" }, { .key = "peers" }, { .key = "leases" },
        { .key = "tasks" }, { .key = "log" }
    };
    const char *commands [] = { "PING", "STATUS", "PEERS", "LEASES", "TASKS", "LOG_TAIL" };
    for (size_t index = 0; index < 6; index++)
        if (osmose_api_register (api, commands [index], s_answer, &parts [index])) {
            fprintf (stderr, "top_fake_daemon: cannot register %s\n", commands [index]);
            return 1;
        }
    zpoller_t *poller = zpoller_new (osmose_api_socket (api), NULL);
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, 200);
        if (which)
            osmose_api_handle (api);
        else
        if (zpoller_terminated (poller))
            break;
    }
    for (size_t index = 0; index < 6; index++)
        printf ("%s %zu\n", commands [index], parts [index].asked);
    zpoller_destroy (&poller);
    osmose_api_destroy (&api);
    json_decref (s_frames);
    return 0;
}
