/*  bench_mesh.c: the mesh's figures with real osmosed processes.

    Run by bench/bench_mesh.sh, which starts N peers on loopback and writes
    one line per peer, "API-ENDPOINT PEER-ID PID [STATE-DIR KEY-HEX]", to a
    file. Measures, in one run: time until all see all (from the last
    start), time for a new log entry to reach every peer (p50, p99 over
    many entries), time until every peer marks a killed peer dead, idle
    traffic per peer, and idle memory (RSS, its anonymous part, and PSS,
    the fair share of pages shared between the peers).

    Entry spread is measured twice. First from the peers' own disks: each
    peer writes an imported entry and its signed head to the writer's
    replica (state/feeds/KEY/) at once, in the import itself, so an
    inotify watch on every replica's heads.log tells when each peer took
    the entry, to a fraction of a millisecond, and costs the peers
    nothing. A FEEDS call afterwards checks that each holds it. Then
    through the local API as a client sees it: FEEDS asked of every peer
    that lacks the entry at once (in parallel), round after round; one
    round is the resolution, printed with the results.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_client.h"
#include <signal.h>
#include <poll.h>
#include <sys/inotify.h>

#define MAX_PEERS 256

typedef struct {
    char endpoint [256];
    char id [32];
    int pid;
    char state [256];               //  "" when the peers file does not say
    char key [65];
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

//  The value of FIELD (in KiB) in a /proc file of PID, -1 if absent
static long
s_proc_kb (int pid, const char *file_name, const char *field)
{
    char path [64], line [256];
    snprintf (path, sizeof (path), "/proc/%d/%s", pid, file_name);
    FILE *file = fopen (path, "r");
    long value = -1;
    size_t length = strlen (field);
    while (file && fgets (line, sizeof (line), file))
        if (strncmp (line, field, length) == 0 && line [length] == ':')
            value = atol (line + length + 1);
    if (file)
        fclose (file);
    return value;
}

//  CPU time PID used so far (user + system), in ms
static double
s_cpu_ms (int pid)
{
    char path [64], line [1024];
    snprintf (path, sizeof (path), "/proc/%d/stat", pid);
    FILE *file = fopen (path, "r");
    double ms = 0;
    if (file && fgets (line, sizeof (line), file)) {
        //  Fields after the command name, which may hold spaces: the
        //  14th and 15th of the line are utime and stime, in ticks
        char *after = strrchr (line, ')');
        unsigned long utime = 0, stime = 0;
        if (after && sscanf (after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                             &utime, &stime) == 2)
            ms = (utime + stime) * 1000.0 / sysconf (_SC_CLK_TCK);
    }
    if (file)
        fclose (file);
    return ms;
}

//  Does PEER hold SIZE entries of WRITER's feed? (-1 when it has none)
static bool
s_holds (s_peer_t *peer, const char *writer, json_int_t size)
{
    return s_feed_size (peer, writer) >= size;
}

static void
s_report_spread (const char *how, double *spread, int spread_count, int entries,
                 size_t count, const char *resolution)
{
    if (!spread_count) {
        printf ("entry reaches all %zu peers (%s): none of %d entries did\n", count, how, entries);
        return;
    }
    double p50 = s_percentile (spread, spread_count, 0.5);
    double p99 = s_percentile (spread, spread_count, 0.99);
    printf ("entry reaches all %zu peers (%s): p50 %.1f ms, p99 %.1f ms, max %.1f ms "
            "over %d entries (%d lost; %s)\n", count, how, p50, p99, spread [spread_count - 1],
            spread_count, entries - spread_count, resolution);
}

//  Post ENTRIES events, each on the next peer, and time until every other
//  peer imported it, as its replica files show. Returns how many reached
//  all; their times in SPREAD (ms); -1 when the peers file names no state.
static int
s_spread_inotify (s_peer_t *peers, size_t count, int entries, double *spread,
                  double *per_peer_sum, double *first_sum)
{
    if (!*peers [0].state || !*peers [0].key)
        return -1;
    int fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return -1;
    int spread_count = 0;
    int *watch = (int *) calloc (count, sizeof (int));
    for (int entry = 0; entry < entries; entry++) {
        s_peer_t *writer = &peers [entry % count];
        size_t watched = 0;
        for (size_t index = 0; index < count; index++) {
            watch [index] = -1;
            if (&peers [index] == writer)
                continue;
            char path [600];
            snprintf (path, sizeof (path), "%s/feeds/%s/heads.log", peers [index].state, writer->key);
            watch [index] = inotify_add_watch (fd, path, IN_MODIFY);
            if (watch [index] >= 0)
                watched++;
        }
        json_t *request = json_pack ("{s:s}", "text", "bench entry"), *reply = NULL;
        int64_t start = zclock_usecs ();
        int rc = osmose_client_call (writer->client, "EVENT", request, &reply);
        json_int_t size = rc == 0? json_integer_value (json_object_get (reply, "size")): -1;
        json_decref (request);
        json_decref (reply);
        size_t reached = 0;
        int64_t last = 0, give_up = start + 5000000;
        bool *have = (bool *) calloc (count, sizeof (bool));
        double *at = (double *) calloc (count, sizeof (double));
        while (size >= 0 && reached < watched && zclock_usecs () < give_up) {
            struct pollfd item = { fd, POLLIN, 0 };
            if (poll (&item, 1, 100) <= 0)
                continue;
            int64_t now = zclock_usecs ();
            char events [4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
            ssize_t length = read (fd, events, sizeof (events));
            for (char *cursor = events; length > 0 && cursor < events + length;
                 cursor += sizeof (struct inotify_event) + ((struct inotify_event *) cursor)->len) {
                int wd = ((struct inotify_event *) cursor)->wd;
                for (size_t index = 0; index < count; index++)
                    if (watch [index] == wd && !have [index]) {
                        have [index] = true;
                        at [index] = (now - start) / 1000.0;
                        last = now;
                        reached++;
                    }
            }
        }
        for (size_t index = 0; index < count; index++)
            if (watch [index] >= 0)
                inotify_rm_watch (fd, watch [index]);
        //  Drain what the removals queued (IN_IGNORED)
        char events [4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
        while (read (fd, events, sizeof (events)) > 0)
            ;
        //  A write is not proof: each peer must now hold the entry
        bool all = size >= 0 && reached == count - 1;
        for (size_t index = 0; all && index < count; index++)
            if (&peers [index] != writer && !s_holds (&peers [index], writer->id, size))
                all = false;
        if (all) {
            double first_ms = 0;
            for (size_t index = 0; index < count; index++)
                if (have [index] && (first_ms == 0 || at [index] < first_ms))
                    first_ms = at [index];
            *first_sum += first_ms;
            spread [spread_count++] = (last - start) / 1000.0;
            for (size_t index = 0; index < count; index++)
                per_peer_sum [index] += at [index];
        }
        free (have);
        free (at);
        zclock_sleep (20);
    }
    free (watch);
    close (fd);
    return spread_count;
}

//  The same as a client sees it: FEEDS asked of every peer that lacks the
//  entry, all at once, round after round. *ROUND_MS: mean round time.
static int
s_spread_api (s_peer_t *peers, size_t count, int entries, double *spread, double *round_ms)
{
    int spread_count = 0;
    int64_t rounds = 0, round_us = 0;
    uint64_t *sequence = (uint64_t *) calloc (count, sizeof (uint64_t));
    bool *asked = (bool *) calloc (count, sizeof (bool));
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
                asked [index] = !have [index]
                    && osmose_client_send (peers [index].client, "FEEDS", NULL, NULL, NULL,
                                           &sequence [index]) == 0;
            for (size_t index = 0; index < count; index++) {
                if (!asked [index])
                    continue;
                json_t *feeds = NULL;
                void *attachment = NULL;
                if (osmose_client_wait (peers [index].client, sequence [index], 5000,
                                        &feeds, &attachment) == 0) {
                    size_t at;
                    json_t *feed;
                    json_array_foreach (feeds, at, feed)
                        if (streq (json_string_value (json_object_get (feed, "id")), writer->id)
                        &&  json_integer_value (json_object_get (feed, "size")) >= size) {
                            have [index] = true;
                            reached++;
                        }
                }
                json_decref (feeds);
            }
            round_us += zclock_usecs () - round;
            rounds++;
        }
        free (have);
        if (reached == count)
            spread [spread_count++] = (zclock_usecs () - start) / 1000.0;
        zclock_sleep (20);
    }
    free (sequence);
    free (asked);
    *round_ms = rounds? round_us / 1000.0 / rounds: 0;
    return spread_count;
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
                   &peers [count].pid) == 3) {
        //  The state directory and key are optional: the rest of the line
        char rest [512] = "";
        if (fgets (rest, sizeof (rest), file)
        &&  sscanf (rest, "%255s %64s", peers [count].state, peers [count].key) != 2)
            peers [count].state [0] = peers [count].key [0] = 0;
        count++;
    }
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
    //  Each round asks every peer, so that the time each one first saw
    //  all is known too: the shape of the join, not only its end
    bool all = false;
    int64_t deadline = zclock_mono () + 60000;
    double *saw_all = (double *) calloc (count, sizeof (double));
    size_t seen = 0;
    while (!all && zclock_mono () < deadline) {
        all = true;
        for (size_t index = 0; index < count; index++) {
            if (saw_all [index] > 0)
                continue;
            if (s_status_int (&peers [index], "peers", "alive") == (json_int_t) count) {
                saw_all [index] = (zclock_time () / 1000.0 - last_start) * 1000;
                seen++;
            }
            else
                all = false;
        }
    }
    double all_see_all = zclock_time () / 1000.0 - last_start;
    //  What one whole polling round costs: the resolution of that figure
    int64_t round_start = zclock_usecs ();
    for (size_t index = 0; index < count; index++)
        s_status_int (&peers [index], "peers", "alive");
    double status_round_ms = (zclock_usecs () - round_start) / 1000.0;
    printf ("peers: %zu\n", count);
    printf ("all see all: %s %.0f ms after the last peer started\n",
            all? "yes,": "NO, gave up", all_see_all * 1000);
    if (seen) {
        double *times = (double *) calloc (seen, sizeof (double));
        size_t filled = 0;
        for (size_t index = 0; index < count; index++)
            if (saw_all [index] > 0)
                times [filled++] = saw_all [index];
        printf ("  each peer first saw all: first %.0f ms, p50 %.0f ms, p90 %.0f ms, "
                "last %.0f ms (%zu of %zu peers)\n", s_percentile (times, seen, 0),
                s_percentile (times, seen, 0.5), s_percentile (times, seen, 0.9),
                s_percentile (times, seen, 1), seen, count);
        free (times);
    }
    free (saw_all);

    //  2. Idle traffic and memory, over 10 s, once the joins have settled
    zclock_sleep (5000);
    json_int_t *before = (json_int_t *) calloc (count, sizeof (json_int_t));
    double cpu_before = 0;
    for (size_t index = 0; index < count; index++) {
        before [index] = s_status_int (&peers [index], "peers", "bytes_out");
        cpu_before += s_cpu_ms (peers [index].pid);
    }
    zclock_sleep (10000);
    double bytes = 0, cpu_after = 0;
    long rss_max = 0, rss_sum = 0, anon_sum = 0, pss_sum = 0, pss_max = 0;
    for (size_t index = 0; index < count; index++) {
        bytes += s_status_int (&peers [index], "peers", "bytes_out") - before [index];
        cpu_after += s_cpu_ms (peers [index].pid);
        long rss = s_proc_kb (peers [index].pid, "status", "VmRSS");
        long pss = s_proc_kb (peers [index].pid, "smaps_rollup", "Pss");
        rss_sum += rss;
        anon_sum += s_proc_kb (peers [index].pid, "status", "RssAnon");
        pss_sum += pss;
        if (rss > rss_max)
            rss_max = rss;
        if (pss > pss_max)
            pss_max = pss;
    }
    printf ("idle traffic: %.0f B/s per peer (mean, frames sent, before CurveZMQ)\n",
            bytes / 10 / count);
    printf ("idle CPU: %.1f ms/s per peer (mean, user + system)\n",
            (cpu_after - cpu_before) / 10 / count);
    printf ("idle RSS: mean %ld KiB, max %ld KiB (anonymous: mean %ld KiB)\n",
            rss_sum / (long) count, rss_max, anon_sum / (long) count);
    printf ("idle PSS: mean %ld KiB, max %ld KiB (shared library pages split among "
            "the %zu peers)\n", pss_sum / (long) count, pss_max, count);
    //  Baseline: a bare CZMQ + libsodium program with one CURVE session
    const char *floor_pid = getenv ("BENCH_FLOOR_PID");
    long floor_rss = floor_pid? s_proc_kb (atoi (floor_pid), "status", "VmRSS"): -1;
    if (floor_rss > 0)
        printf ("baseline: a bare CZMQ + libsodium program (one CURVE round trip, then idle): "
                "RSS %ld KiB (anonymous %ld KiB); idle peer / baseline: %.2fx RSS\n",
                floor_rss, s_proc_kb (atoi (floor_pid), "status", "RssAnon"),
                (double) rss_sum / (double) count / (double) floor_rss);

    //  3. Entry spread: post on one peer, see when every other has it
    double *spread = (double *) calloc (entries, sizeof (double));
    double *per_peer = (double *) calloc (count, sizeof (double));
    double first_sum = 0;
    int spread_count = s_spread_inotify (peers, count, entries, spread, per_peer, &first_sum);
    if (spread_count >= 0) {
        s_report_spread ("imports seen on the peers' disks", spread, spread_count, entries,
                         count, "inotify on every replica, sub-millisecond");
        //  Mean time to each peer: the slow ones, if the spread is uneven
        double slowest = 0, mean = 0;
        for (size_t index = 0; spread_count && index < count; index++) {
            double value = per_peer [index] / spread_count;
            mean += value / (count - 1);
            if (value > slowest)
                slowest = value;
        }
        printf ("  mean time to the first peer %.1f ms, to one peer %.1f ms, to the "
                "slowest on average %.1f ms\n", spread_count? first_sum / spread_count: 0,
                mean, slowest);
    }
    double round_ms = 0;
    spread_count = s_spread_api (peers, count, entries, spread, &round_ms);
    char resolution [64];
    snprintf (resolution, sizeof (resolution), "one parallel FEEDS round takes %.1f ms", round_ms);
    s_report_spread ("FEEDS polled in parallel", spread, spread_count, entries, count, resolution);

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
    printf ("(polling resolution: one status round over all peers took %.1f ms)\n", status_round_ms);
    for (size_t index = 0; index < count; index++)
        osmose_disconnect (&peers [index].client);
    free (dead);
    free (before);
    free (spread);
    free (per_peer);
    free (peers);
    return 0;
}
