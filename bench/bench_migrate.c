/*  bench_migrate: what a migration costs a program, measured with real
    daemons (bench/bench_migrate.sh starts them and runs this).

    bench_migrate ENDPOINT kill VICTIMS
        3 leases, tasks (sleep.ms 1) flowing on each; after 1 s the
        provider of lease 1 is killed with SIGKILL (VICTIMS maps provider
        ids to pids: "ID=PID,ID=PID,..."). Prints the time from the kill to
        the first result of a task re-executed elsewhere, to the last of
        the tasks that were in flight on the dead provider, the throughput
        dip (50 ms buckets) and the lost and duplicated counts.
    bench_migrate ENDPOINT move FROM TO ROUNDS
        2 leases near FROM; every 1.5 s the device moves (osmose_move) to
        the other place. Prints, per move, the time until every lease is
        on a provider at the new place, and the lost/duplicated counts.

    Every loop is bounded in time (at most 20 s per phase).
*/
#include <osmose.h>
#include <czmq.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_LEASES_MAX 4
#define S_WINDOW 64
#define S_BUCKET_US 50000
#define S_BUCKETS 400

typedef struct {
    osmose_lease_t *lease;
    char provider [32];
    uint64_t sent;
    char *seen;                 //  by task id
    size_t seen_size;
} s_slot_t;

typedef struct {
    s_slot_t slot [S_LEASES_MAX];
    int count;
    uint64_t received, duplicates, failed;
    int64_t start_us;
    uint32_t buckets [S_BUCKETS];
} s_run_t;

static int64_t
s_now_us (void)
{
    return zclock_usecs ();
}

static int
s_acquire (osmose_t *mesh, s_run_t *run, int count)
{
    osmose_request_t request;
    osmose_request_init (&request);
    for (int index = 0; index < count; index++) {
        int rc = osmose_lease_acquire (mesh, &request, 5000, &run->slot [index].lease);
        if (rc) {
            fprintf (stderr, "bench_migrate: acquire: %s\n", osmose_strerror (rc));
            return rc;
        }
        snprintf (run->slot [index].provider, sizeof (run->slot [index].provider), "%s",
                  osmose_lease_provider (run->slot [index].lease));
        run->slot [index].seen_size = 1 << 20;
        run->slot [index].seen = (char *) calloc (run->slot [index].seen_size, 1);
    }
    run->count = count;
    run->start_us = s_now_us ();
    return 0;
}

//  Keep the window full on every lease and take what came back; returns
//  the lease index of the last result, or -1
static int
s_pump (s_run_t *run)
{
    int last = -1;
    for (int index = 0; index < run->count; index++) {
        s_slot_t *slot = &run->slot [index];
        while (osmose_lease_in_flight (slot->lease) < S_WINDOW
           &&  slot->sent + 1 < slot->seen_size) {
            uint64_t id;
            if (osmose_lease_submit (slot->lease, "sleep.ms", "1", 1, &id) != 0)
                break;
            slot->sent++;
        }
        osmose_result_t result;
        while (osmose_lease_next_result (slot->lease, index == 0? 2: 0, &result) == 0) {
            if (result.task_id < slot->seen_size && slot->seen [result.task_id]++)
                run->duplicates++;
            if (result.status)
                run->failed++;
            run->received++;
            size_t bucket = (size_t) ((s_now_us () - run->start_us) / S_BUCKET_US);
            if (bucket < S_BUCKETS)
                run->buckets [bucket]++;
            last = index;
        }
    }
    return last;
}

//  Results still owed: every task sent and not answered
static uint64_t
s_lost (s_run_t *run)
{
    uint64_t lost = 0;
    for (int index = 0; index < run->count; index++)
        for (uint64_t id = 1; id <= run->slot [index].sent; id++)
            lost += run->slot [index].seen [id] == 0;
    return lost;
}

static void
s_drain (s_run_t *run, int64_t until_us)
{
    while (s_now_us () < until_us) {
        bool busy = false;
        for (int index = 0; index < run->count; index++) {
            osmose_result_t result;
            s_slot_t *slot = &run->slot [index];
            while (osmose_lease_next_result (slot->lease, 5, &result) == 0) {
                if (result.task_id < slot->seen_size && slot->seen [result.task_id]++)
                    run->duplicates++;
                run->received++;
            }
            busy |= osmose_lease_in_flight (slot->lease) > 0;
        }
        if (!busy)
            break;
    }
}

static void
s_release (s_run_t *run)
{
    for (int index = 0; index < run->count; index++) {
        osmose_lease_release (&run->slot [index].lease);
        free (run->slot [index].seen);
    }
}

static int
s_kill (osmose_t *mesh, const char *victims)
{
    s_run_t run = { 0 };
    if (s_acquire (mesh, &run, 3))
        return 1;
    const char *victim = run.slot [1].provider;
    const char *at = strstr (victims, victim);
    int pid = at? atoi (strchr (at, '=') + 1): 0;
    if (pid <= 0) {
        fprintf (stderr, "bench_migrate: no pid for provider %s\n", victim);
        return 1;
    }
    int64_t kill_at = run.start_us + 1000000, first_us = 0, done_us = 0;
    uint64_t owed_at_kill = 0;
    int64_t answered_at_move = -1;      //  of those, answered when the lease moved
    bool killed = false;
    while (s_now_us () < run.start_us + 20000000) {
        if (!killed && s_now_us () >= kill_at) {
            owed_at_kill = run.slot [1].sent;
            kill (pid, SIGKILL);
            killed = true;
            kill_at = s_now_us ();
        }
        s_pump (&run);
        if (!killed || strcmp (osmose_lease_provider (run.slot [1].lease), victim) == 0)
            continue;
        //  Moved: results for tasks sent before the kill now come from the
        //  new provider, so the first new one is the first re-executed
        int64_t answered = 0;
        for (uint64_t id = 1; id <= owed_at_kill; id++)
            answered += run.slot [1].seen [id] != 0;
        if (answered_at_move < 0)
            answered_at_move = answered;
        if (!first_us && answered > answered_at_move)
            first_us = s_now_us ();
        if (!done_us && answered == (int64_t) owed_at_kill) {
            done_us = s_now_us ();
            if (!first_us)
                first_us = done_us;
        }
        if (done_us && s_now_us () > done_us + 1000000)
            break;
    }
    s_drain (&run, s_now_us () + 3000000);
    //  Throughput: median bucket before the kill, the lowest after
    size_t kill_bucket = (size_t) ((kill_at - run.start_us) / S_BUCKET_US);
    uint32_t before [S_BUCKETS];
    size_t count = 0;
    for (size_t bucket = 4; bucket < kill_bucket && bucket < S_BUCKETS; bucket++)
        before [count++] = run.buckets [bucket];
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && before [j - 1] > before [j]; j--) {
            uint32_t swap = before [j];
            before [j] = before [j - 1];
            before [j - 1] = swap;
        }
    uint32_t median = count? before [count / 2]: 0, lowest = UINT32_MAX;
    size_t end = (size_t) (((done_us? done_us: s_now_us ()) - run.start_us) / S_BUCKET_US);
    for (size_t bucket = kill_bucket; bucket <= end && bucket < S_BUCKETS; bucket++)
        if (run.buckets [bucket] < lowest)
            lowest = run.buckets [bucket];
    printf ("kill -9 of %s: first re-executed result after %.1f ms, all %lu tasks it owed"
            " after %.1f ms; throughput %.0f tasks/s before, lowest %.0f tasks/s during;"
            " moved to %s; lost %lu, duplicated %lu, failed %lu\n",
            victim, first_us? (first_us - kill_at) / 1000.0: -1.0,
            (unsigned long) (owed_at_kill - (answered_at_move < 0? 0: (uint64_t) answered_at_move)),
            done_us? (done_us - kill_at) / 1000.0: -1.0,
            median * 1e6 / S_BUCKET_US, (lowest == UINT32_MAX? 0: lowest) * 1e6 / S_BUCKET_US,
            osmose_lease_provider (run.slot [1].lease),
            (unsigned long) s_lost (&run), (unsigned long) run.duplicates,
            (unsigned long) run.failed);
    bool ok = first_us && done_us && s_lost (&run) == 0 && run.duplicates == 0;
    s_release (&run);
    return ok? 0: 1;
}

//  Where a provider is, from the member table
static void
s_location_of (osmose_t *mesh, const char *id, char *location, size_t size)
{
    char *text = NULL;
    *location = 0;
    if (osmose_peers_json (mesh, &text) != 0)
        return;
    json_error_t error;
    json_t *peers = json_loads (text, 0, &error);
    size_t index;
    json_t *peer;
    json_array_foreach (peers, index, peer)
        if (strcmp (json_string_value (json_object_get (peer, "id")), id) == 0)
            snprintf (location, size, "%s", json_string_value (json_object_get (peer, "location")));
    json_decref (peers);
    osmose_free (text);
}

static int
s_move (osmose_t *mesh, const char *from, const char *to, int rounds)
{
    if (osmose_move (mesh, from) != 0)
        return 1;
    s_run_t run = { 0 };
    if (s_acquire (mesh, &run, 2))
        return 1;
    double worst = 0, sum = 0;
    int moved = 0;
    for (int round = 0; round < rounds; round++) {
        const char *target = round % 2? from: to;
        int64_t until = s_now_us () + 1500000;
        while (s_now_us () < until)
            s_pump (&run);
        int64_t moved_at = s_now_us ();
        if (osmose_move (mesh, target) != 0)
            return 1;
        int64_t placed = 0;
        while (!placed && s_now_us () < moved_at + 10000000) {
            s_pump (&run);
            bool all = true;
            for (int index = 0; index < run.count && all; index++) {
                char location [256];
                s_location_of (mesh, osmose_lease_provider (run.slot [index].lease),
                               location, sizeof (location));
                all = strcmp (location, target) == 0;
            }
            if (all)
                placed = s_now_us ();
        }
        double ms = placed? (placed - moved_at) / 1000.0: -1;
        printf ("move %d to %s: every lease re-placed there after %.1f ms\n", round + 1,
                target, ms);
        if (placed) {
            moved++;
            sum += ms;
            if (ms > worst)
                worst = ms;
        }
    }
    s_drain (&run, s_now_us () + 3000000);
    printf ("moves: %d of %d re-placed, mean %.1f ms, worst %.1f ms; lost %lu, duplicated %lu\n",
            moved, rounds, moved? sum / moved: -1.0, worst, (unsigned long) s_lost (&run),
            (unsigned long) run.duplicates);
    bool ok = moved == rounds && s_lost (&run) == 0 && run.duplicates == 0;
    s_release (&run);
    return ok? 0: 1;
}

int
main (int argc, char **argv)
{
    if (argc < 4 || (strcmp (argv [2], "move") == 0 && argc < 6)) {
        fprintf (stderr, "usage: bench_migrate ENDPOINT kill ID=PID,...\n"
                         "       bench_migrate ENDPOINT move FROM TO ROUNDS\n");
        return 2;
    }
    zsys_init ();
    osmose_t *mesh = NULL;
    int rc = osmose_connect (argv [1], 3000, &mesh);
    if (rc) {
        fprintf (stderr, "bench_migrate: %s\n", osmose_strerror (rc));
        return 1;
    }
    int status = strcmp (argv [2], "kill") == 0? s_kill (mesh, argv [3])
               : s_move (mesh, argv [3], argv [4], atoi (argv [5]));
    osmose_disconnect (&mesh);
    return status;
}
