/*  bench_log.c: throughput and latency of the log, against the hashing limit.

    Usage: bench_log [-n ENTRIES] [-r RUNS] [-d DIR]
    Measures, on ENTRIES (default 1,000,000) entries of 100-byte payloads:
      baseline   raw crypto_generichash over the same encoded entries
      append     batched, no fsync; and with group commit (10 ms)
      latency    one append + signed head (written, fsync per policy never)
      verify     a whole feed from disk, as osmose log verify does
      import     the whole feed into a replica, in gossip-sized batches
      proofs     inclusion and consistency, generation and check
    Prints the median of RUNS runs of each and the ratio to the baseline.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_feed.h"
#include <getopt.h>

#define S_PAYLOAD 100
#define S_BATCH 10000           //  entries per commit / per import batch

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

static double
s_median (double *values, int count)
{
    qsort (values, count, sizeof (double), s_compare);
    return count % 2? values [count / 2]: (values [count / 2 - 1] + values [count / 2]) / 2;
}

static void
s_remove (const char *dir)
{
    zdir_t *tree = zdir_new (dir, NULL);
    if (tree) {
        zdir_remove (tree, true);
        zdir_destroy (&tree);
    }
}

static uint8_t *s_encoded;          //  every entry, encoded, for the baseline
static size_t s_entry_size = OSMOSE_ENTRY_HEADER + S_PAYLOAD;

//  Entries per second of raw BLAKE2b-256 over the encoded entries
static double
s_baseline (uint64_t count)
{
    uint8_t hash [OSMOSE_HASH_SIZE];
    double start = s_now ();
    for (uint64_t index = 0; index < count; index++)
        crypto_generichash (hash, sizeof (hash), s_encoded + index * s_entry_size, s_entry_size, NULL, 0);
    return count / (s_now () - start);
}

static void
s_payload (uint64_t index, uint8_t *payload)
{
    memset (payload, 'a' + index % 26, S_PAYLOAD);
    memcpy (payload, &index, sizeof (index));
}

//  Append COUNT entries to a new feed in DIR; returns seconds
static double
s_append_run (const char *dir, osmose_identity_t *identity, uint64_t count,
              osmose_fsync_t policy, int batch)
{
    s_remove (dir);
    osmose_feed_t *feed;
    char error [256];
    int rc = osmose_feed_open (dir, identity, 0, error, sizeof (error), &feed);
    if (rc) {
        fprintf (stderr, "bench_log: %s\n", error);
        exit (1);
    }
    osmose_feed_set_fsync (feed, policy, 10);
    uint8_t payload [S_PAYLOAD];
    double start = s_now ();
    for (uint64_t index = 1; index < count; index++) {
        s_payload (index, payload);
        rc = osmose_feed_append (feed, OSMOSE_ENTRY_EVENT, payload, S_PAYLOAD, 0, NULL);
        if (rc == 0 && index % batch == 0)
            rc = osmose_feed_commit (feed, false);
        assert (rc == 0);
    }
    rc = osmose_feed_commit (feed, policy != OSMOSE_FSYNC_NEVER);
    assert (rc == 0);
    double took = s_now () - start;
    osmose_feed_destroy (&feed);
    return took;
}

int
main (int argc, char *argv [])
{
    uint64_t count = 1000000;
    int runs = 3;
    const char *base = "/tmp";
    int opt;
    while ((opt = getopt (argc, argv, "n:r:d:h")) != -1) {
        if (opt == 'n')
            count = strtoull (optarg, NULL, 10);
        else
        if (opt == 'r')
            runs = atoi (optarg);
        else
        if (opt == 'd')
            base = optarg;
        else {
            printf ("Usage: bench_log [-n ENTRIES] [-r RUNS] [-d DIR]\n");
            return opt == 'h'? 0: 2;
        }
    }
    if (sodium_init () < 0 || count < 2 * S_BATCH || runs < 1 || runs > 15)
        return 1;
    zsys_init ();
    char dir [PATH_MAX], replica_dir [PATH_MAX];
    snprintf (dir, sizeof (dir), "%s/bench-log-%d/feed", base, getpid ());
    snprintf (replica_dir, sizeof (replica_dir), "%s/bench-log-%d/replica", base, getpid ());
    osmose_identity_t *identity = osmose_identity_new ();
    double samples [15];
    printf ("bench_log: %" PRIu64 " entries of %d-byte payloads, median of %d runs, in %s\n",
            count, S_PAYLOAD, runs, base);

    //  Baseline: raw BLAKE2b-256 over every encoded entry, one call each.
    //  Measured again beside each measurement: the machine is shared, so
    //  each ratio compares two rates taken within a second of each other
    s_encoded = (uint8_t *) malloc (count * s_entry_size);
    for (uint64_t index = 0; index < count; index++) {
        uint8_t payload [S_PAYLOAD];
        s_payload (index, payload);
        osmose_entry_t entry = { .seq = index, .time_us = index, .type = OSMOSE_ENTRY_EVENT,
                                 .payload = payload, .payload_size = S_PAYLOAD };
        size_t size;
        int rc = osmose_entry_encode (&entry, s_encoded + index * s_entry_size, s_entry_size, &size);
        assert (rc == 0 && size == s_entry_size);
    }
    double ratios [15], baselines [45];
    int baseline_count = 0;
    for (int run = 0; run < runs; run++)
        baselines [baseline_count++] = s_baseline (count);
    double baseline = s_median (baselines, runs);
    printf ("%-34s %12.0f entries/s  %7.1f MB/s  (baseline)\n", "raw crypto_generichash",
            baseline, baseline * s_entry_size / 1e6);

    for (int run = 0; run < runs; run++) {
        samples [run] = count / s_append_run (dir, identity, count, OSMOSE_FSYNC_NEVER, S_BATCH);
        ratios [run] = samples [run] / s_baseline (count);
    }
    printf ("%-34s %12.0f entries/s  ratio %.2f  (target >= 1000000/s)\n",
            "append, batched, no fsync", s_median (samples, runs), s_median (ratios, runs));
    for (int run = 0; run < runs; run++) {
        samples [run] = count / s_append_run (dir, identity, count, OSMOSE_FSYNC_GROUP, 1000);
        ratios [run] = samples [run] / s_baseline (count);
    }
    printf ("%-34s %12.0f entries/s  ratio %.2f\n", "append, group commit (10 ms)",
            s_median (samples, runs), s_median (ratios, runs));

    //  Single append latency: one entry, a signed head, written out
    osmose_feed_t *feed;
    char error [256];
    int rc = osmose_feed_open (dir, identity, 0, error, sizeof (error), &feed);
    assert (rc == 0);
    osmose_feed_set_fsync (feed, OSMOSE_FSYNC_NEVER, 0);
    #define S_LATENCY 2000
    static double latency [S_LATENCY];
    uint8_t payload [S_PAYLOAD];
    for (int index = 0; index < S_LATENCY; index++) {
        s_payload (index, payload);
        double start = s_now ();
        rc = osmose_feed_append (feed, OSMOSE_ENTRY_EVENT, payload, S_PAYLOAD, 0, NULL);
        rc |= osmose_feed_commit (feed, false);
        latency [index] = s_now () - start;
        assert (rc == 0);
    }
    double p50 = s_median (latency, S_LATENCY);
    //  The floor: one Ed25519 signature of a head
    static double signing [S_LATENCY];
    for (int index = 0; index < S_LATENCY; index++) {
        osmose_sth_t sth = { .size = (uint64_t) index };
        double start = s_now ();
        osmose_sth_sign (&sth, identity);
        signing [index] = s_now () - start;
    }
    printf ("%-34s %12.1f us median\n", "  of which: Ed25519 head signature",
            s_median (signing, S_LATENCY) * 1e6);
    printf ("%-34s %12.1f us median, %.1f us p99  (target <= 25 us)\n",
            "single append + signed head", p50 * 1e6, latency [S_LATENCY * 99 / 100] * 1e6);
    uint64_t size = osmose_feed_size (feed);
    osmose_feed_destroy (&feed);

    //  Verify from disk: every checksum, the tree, the head
    for (int run = 0; run < runs; run++) {
        rc = osmose_feed_open (dir, NULL, 0, error, sizeof (error), &feed);
        assert (rc == 0);
        double start = s_now ();
        rc = osmose_feed_verify (feed, error, sizeof (error));
        samples [run] = size / (s_now () - start);
        ratios [run] = samples [run] / s_baseline (count);
        assert (rc == 0);
        osmose_feed_destroy (&feed);
    }
    printf ("%-34s %12.0f entries/s  ratio %.2f  (target >= 0.50)\n", "verify whole feed",
            s_median (samples, runs), s_median (ratios, runs));

    //  Import: the whole feed, in batches, each with the writer's head
    rc = osmose_feed_open (dir, NULL, 0, error, sizeof (error), &feed);
    assert (rc == 0);
    uint8_t *entries = (uint8_t *) malloc (size * (s_entry_size + 8) + OSMOSE_ENTRY_MAX);
    const uint8_t **pointers = (const uint8_t **) malloc (size * sizeof (uint8_t *));
    size_t *sizes = (size_t *) malloc (size * sizeof (size_t));
    size_t used = 0;
    for (uint64_t index = 0; index < size; index++) {
        osmose_entry_t entry;
        rc = osmose_feed_entry (feed, index, entries + used, &sizes [index], &entry);
        assert (rc == 0);
        pointers [index] = entries + used;
        used += sizes [index];
    }
    uint64_t batches = (size + S_BATCH - 1) / S_BATCH;
    osmose_sth_t *heads = (osmose_sth_t *) calloc (batches, sizeof (osmose_sth_t));
    for (uint64_t batch = 0; batch < batches; batch++) {
        uint64_t end = (batch + 1) * S_BATCH < size? (batch + 1) * S_BATCH: size;
        heads [batch].size = end;
        heads [batch].time_us = end;
        rc = osmose_feed_root (feed, end, heads [batch].root);
        assert (rc == 0);
        osmose_sth_sign (&heads [batch], identity);
    }
    for (int run = 0; run < runs; run++) {
        s_remove (replica_dir);
        osmose_feed_t *replica;
        rc = osmose_feed_open (replica_dir, NULL, OSMOSE_FEED_REPLICA, error, sizeof (error), &replica);
        assert (rc == 0);
        osmose_feed_set_fsync (replica, OSMOSE_FSYNC_GROUP, 10);
        double start = s_now ();
        for (uint64_t batch = 0; batch < batches; batch++) {
            uint64_t first = batch * S_BATCH;
            rc = osmose_feed_import (replica, first, pointers + first, sizes + first,
                                     (size_t) (heads [batch].size - first), &heads [batch], NULL);
            assert (rc == 0);
        }
        rc = osmose_feed_commit (replica, true);
        samples [run] = size / (s_now () - start);
        assert (rc == 0 && osmose_feed_size (replica) == size);
        osmose_feed_destroy (&replica);
        ratios [run] = samples [run] / s_baseline (count);
    }
    printf ("%-34s %12.0f entries/s  ratio %.2f  (target >= 500000/s)\n",
            "import whole feed (10k batches)", s_median (samples, runs), s_median (ratios, runs));
    free (heads);
    free (entries);
    free (pointers);
    free (sizes);

    //  Proofs at full size, random leaves / old sizes
    #define S_PROOFS 20000
    static double gen [S_PROOFS], check [S_PROOFS];
    osmose_sth_t head;
    rc = osmose_feed_head (feed, &head);
    assert (rc == 0 && head.size == size);
    size_t hashes = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (int index = 0; index < S_PROOFS; index++) {
            uint64_t leaf = randombytes_uniform ((uint32_t) size - 1) + 1;
            osmose_proof_t proof;
            double start = s_now ();
            rc = kind? osmose_feed_consistency (feed, leaf, size, &proof):
                       osmose_feed_inclusion (feed, leaf, size, &proof);
            double middle = s_now ();
            uint8_t old_root [OSMOSE_HASH_SIZE];
            if (kind) {
                rc |= osmose_feed_root (feed, leaf, old_root);
                middle = s_now ();      //  the checker knows the old root
                rc |= osmose_merkle_verify_consistency (&proof, old_root, head.root);
            }
            else
                rc |= osmose_merkle_verify_inclusion (&proof, osmose_feed_leaf (feed, leaf), head.root);
            check [index] = s_now () - middle;
            gen [index] = middle - start;
            hashes += proof.count;
            assert (rc == 0);
        }
        double gen_median = s_median (gen, S_PROOFS), check_median = s_median (check, S_PROOFS);
        printf ("%-34s %8.2f us generate, %.2f us check, %.1f hashes  (target < 50 us)\n",
                kind? "consistency proof at full size": "inclusion proof at full size",
                gen_median * 1e6, check_median * 1e6, (double) hashes / S_PROOFS);
        hashes = 0;
    }
    osmose_feed_destroy (&feed);
    s_remove (dir);
    s_remove (replica_dir);
    char parent [PATH_MAX];
    snprintf (parent, sizeof (parent), "%s/bench-log-%d", base, getpid ());
    zsys_dir_delete ("%s", parent);
    osmose_identity_destroy (&identity);
    free (s_encoded);
    return 0;
}
