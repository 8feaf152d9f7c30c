/*  bench_mesh.c: the mesh's figures with real osmosed processes.

    Run by bench/bench_mesh.sh, which starts N peers on loopback and writes
    one line per peer, "API-ENDPOINT PEER-ID PID", to a file. Measures, in
    one run: time until all see all (from the last start), time for a new
    log entry to reach every peer (p50, p99 over many entries), time until
    every peer marks a killed peer dead, idle traffic per peer, and idle
    RSS. Polls the daemons through the local API with its own sockets, so
    the polling itself costs little (one round over all peers is the
    resolution, printed with the results).
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_client.h"
#include <signal.h>

#define MAX_PEERS 256

typedef struct {
    char endpoint [256];
    char id [32];
    int pid;
    osmose_t *client;
} s_peer_t;

static int
s_compare (const void *one, const void *two)
{
    double a = *(const double *) one, b = *(const double *) two;
    return a < b? -1: a > b;
}

static double
s_percentile (double *values, size_t count, double fraction)
{
    qsort (values, count, sizeof (double), s_compare);
    size_t index = (size_t) (fraction * (count - 1) + 0.5);
    return values [index];
}

static json_int_t
s_status_int (s_peer_t *peer, const char *section, const char *key)
{
    json_t *reply = NULL;
    json_int_t value = -1;
    if (osmose_client_call (peer->client, "STATUS", NULL, &reply) == 0)
        value = json_integer_value (json_object_get (json_object_get (reply, section), key));
    json_decref (reply);
    return value;
}

//  Size of WRITER's feed as PEER holds it (-1 when it has none)
static json_int_t
s_feed_size (s_peer_t *peer, const char *writer)
{
    json_t *reply = NULL;
    json_int_t size = -1;
    if (osmose_client_call (peer->client, "FEEDS", NULL, &reply) == 0) {
        size_t index;
        json_t *feed;
        json_array_foreach (reply, index, feed)
            if (streq (json_string_value (json_object_get (feed, "id")), writer))
                size = json_integer_value (json_object_get (feed, "size"));
    }
    json_decref (reply);
    return size;
}

static const char *
s_state_of (s_peer_t *peer, const char *id, char *state, size_t size)
{
    json_t *reply = NULL;
    snprintf (state, size, "?");
    if (osmose_client_call (peer->client, "PEERS", NULL, &reply) == 0) {
        size_t index;
        json_t *member;
        json_array_foreach (reply, index, member)
            if (streq (json_string_value (json_object_get (member, "id")), id))
                snprintf (state, size, "%s", json_string_value (json_object_get (member, "state")));
    }
    json_decref (reply);
    return state;
}

static long
s_rss_kb (int pid)
{
    char path [64], line [256];
    snprintf (path, sizeof (path), "/proc/%d/status", pid);
    FILE *file = fopen (path, "r");
    long rss = -1;
    while (file && fgets (line, sizeof (line), file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            rss = atol (line + 6);
    if (file)
        fclose (file);
    return rss;
}

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fprintf (stderr, "usage: bench_mesh PEERS-FILE LAST-START-EPOCH-SECONDS [ENTRIES]\n");
        return 2;
    }
    double last_start = atof (argv [2]);
    int entries = argc > 3? atoi (argv [3]): 100;
    s_peer_t *peers = (s_peer_t *) calloc (MAX_PEERS, sizeof (s_peer_t));
    FILE *file = fopen (argv [1], "r");
    size_t count = 0;
    while (file && count < MAX_PEERS
    &&     fscanf (file, "%255s %31s %d", peers [count].endpoint, peers [count].id,
                   &peers [count].pid) == 3)
        count++;
    if (file)
        fclose (file);
    if (count < 3) {
        fprintf (stderr, "bench_mesh: need at least 3 peers in %s\n", argv [1]);
        return 2;
    }
    for (size_t index = 0; index < count; index++)
        if (osmose_connect (peers [index].endpoint, 5000, &peers [index].client)) {
            fprintf (stderr, "bench_mesh: cannot reach %s\n", peers [index].endpoint);
            return 1;
        }

    //  1. All see all
    int64_t round_start = zclock_usecs ();
    bool all = false;
    int64_t deadline = zclock_mono () + 60000;
    while (!all && zclock_mono () < deadline) {
        all = true;
        for (size_t index = 0; index < count && all; index++)
            all = s_status_int (&peers [index], "peers", "alive") == (json_int_t) count;
    }
    double all_see_all = zclock_time () / 1000.0 - last_start;
    double round_ms = (zclock_usecs () - round_start) / 1000.0;
    printf ("peers: %zu\n", count);
    printf ("all see all: %s %.0f ms after the last peer started\n",
            all? "yes,": "NO, gave up", all_see_all * 1000);

    //  2. Idle traffic and memory, over 10 s, once the joins have settled
    zclock_sleep (5000);
    json_int_t *before = (json_int_t *) calloc (count, sizeof (json_int_t));
    for (size_t index = 0; index < count; index++)
        before [index] = s_status_int (&peers [index], "peers", "bytes_out");
    zclock_sleep (10000);
    double bytes = 0;
    long rss_max = 0, rss_sum = 0;
    for (size_t index = 0; index < count; index++) {
        bytes += s_status_int (&peers [index], "peers", "bytes_out") - before [index];
        long rss = s_rss_kb (peers [index].pid);
        rss_sum += rss;
        if (rss > rss_max)
            rss_max = rss;
    }
    printf ("idle traffic: %.0f B/s per peer (mean, frames sent, before CurveZMQ)\n",
            bytes / 10 / count);
    printf ("idle RSS: mean %ld KiB, max %ld KiB\n", rss_sum / (long) count, rss_max);

    //  3. Entry spread: post on one peer, poll all the others
    double *spread = (double *) calloc (entries, sizeof (double));
    int64_t poll_rounds = 0, poll_us = 0;
    int spread_count = 0;
    for (int entry = 0; entry < entries; entry++) {
        s_peer_t *writer = &peers [entry % count];
        json_t *request = json_pack ("{s:s}", "text", "bench entry"), *reply = NULL;
        int64_t start = zclock_usecs ();
        int rc = osmose_client_call (writer->client, "EVENT", request, &reply);
        json_int_t size = rc == 0? json_integer_value (json_object_get (reply, "size")): -1;
        json_decref (request);
        json_decref (reply);
        if (size < 0)
            continue;
        size_t reached = 1;
        bool *have = (bool *) calloc (count, sizeof (bool));
        have [entry % count] = true;
        int64_t give_up = start + 5000000;
        while (reached < count && zclock_usecs () < give_up) {
            int64_t round = zclock_usecs ();
            for (size_t index = 0; index < count; index++)
                if (!have [index] && s_feed_size (&peers [index], writer->id) >= size) {
                    have [index] = true;
                    reached++;
                }
            poll_us += zclock_usecs () - round;
            poll_rounds++;
        }
        free (have);
        if (reached == count)
            spread [spread_count++] = (zclock_usecs () - start) / 1000.0;
        zclock_sleep (20);
    }
    if (spread_count) {
        double round_avg = poll_rounds? poll_us / 1000.0 / poll_rounds: 0;
        double p50 = s_percentile (spread, spread_count, 0.5);
        double p99 = s_percentile (spread, spread_count, 0.99);
        printf ("entry reaches all %zu peers: p50 %.1f ms, p99 %.1f ms over %d entries "
                "(%d lost; one polling round takes %.1f ms)\n", count, p50, p99,
                spread_count, entries - spread_count, round_avg);
    }

    //  4. Kill -9 the last peer: time until every other marks it dead
    s_peer_t *victim = &peers [count - 1];
    osmose_disconnect (&victim->client);
    int64_t killed = zclock_usecs ();
    kill (victim->pid, SIGKILL);
    size_t marked = 0;
    bool *dead = (bool *) calloc (count, sizeof (bool));
    double last_dead = 0;
    while (marked < count - 1 && zclock_usecs () - killed < 20000000) {
        for (size_t index = 0; index + 1 < count; index++) {
            char state [16];
            if (!dead [index] && streq (s_state_of (&peers [index], victim->id, state,
                                                    sizeof (state)), "dead")) {
                dead [index] = true;
                marked++;
                last_dead = (zclock_usecs () - killed) / 1000.0;
            }
        }
    }
    printf ("killed peer marked dead by %zu of %zu peers, the last after %.0f ms\n",
            marked, count - 1, last_dead);
    printf ("(polling resolution: one status round over all peers took %.1f ms)\n", round_ms);
    for (size_t index = 0; index < count; index++)
        osmose_disconnect (&peers [index].client);
    free (dead);
    free (before);
    free (spread);
    free (peers);
    return 0;
}
