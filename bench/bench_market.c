/*  bench_market.c: CPU time of one lease acquisition among 16 candidate
    peers, market engines alone (no sockets), against the unavoidable cost:
    one Ed25519 sign + verify of a token, measured in the same run.

    Each acquisition runs the whole exchange in one process on a simulated
    mesh with zero delays: call for bids to 3 peers, their bids, award,
    rejects, the signed lease, the client's check of the token, and the
    release that frees it. Prints medians over batches and the ratio.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_market_sim.h"
#include <time.h>

#define S_BATCHES 31
#define S_PER_BATCH 200

static int64_t
s_cpu_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double
s_median (double *values, size_t count)
{
    qsort (values, count, sizeof (double), s_compare);
    return values [count / 2];
}

//  CPU microseconds per acquisition over one batch, the client verifying
//  token signatures or not
static double
s_acquisitions (osmose_market_sim_t *sim, bool verify, size_t *failures)
{
    osmose_market_t *client = osmose_market_sim_engine (sim, 0);
    osmose_market_settings_t settings;
    osmose_market_settings (client, &settings);
    settings.verify_tokens = verify;
    if (osmose_market_set_settings (client, &settings) != 0)
        (*failures)++;
    osmose_market_request_t request = { .cpus = 1, .count = 1, .extra = -1 };
    int64_t start = s_cpu_ns ();
    for (int round = 0; round < S_PER_BATCH; round++) {
        uint64_t id;
        if (osmose_market_sim_acquire (sim, 0, &request, &id) != 0
        ||  osmose_market_sim_run_request (sim, 0, id,
                                           osmose_market_sim_now (sim) + 1000000) < 0) {
            (*failures)++;
            continue;
        }
        osmose_market_lease_info_t info;
        if (osmose_market_leases (client, OSMOSE_MARKET_HELD, &info, 1, 0) != 1
        ||  osmose_market_release (client, info.lease_id, osmose_market_sim_now (sim)) != 0)
            (*failures)++;
        osmose_market_sim_pump (sim, 0);
        osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 1);
        osmose_market_sim_clear (sim);
    }
    return (double) (s_cpu_ns () - start) / 1000.0 / S_PER_BATCH;
}

//  Baseline: CPU microseconds of one token signed by PROVIDER and verified
static double
s_sign_verify (osmose_identity_t *provider, size_t *failures)
{
    osmose_token_t token = { .cpus = 1, .issued_us = 1, .expiry_us = 2 };
    int64_t start = s_cpu_ns ();
    for (int round = 0; round < S_PER_BATCH; round++) {
        token.issued_us++;
        token.expiry_us++;
        osmose_token_sign (&token, provider);
        if (osmose_token_verify (&token) != 0)
            (*failures)++;
    }
    return (double) (s_cpu_ns () - start) / 1000.0 / S_PER_BATCH;
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    //  17 peers: the client and 16 candidates, zero delays
    osmose_market_sim_t *sim = osmose_market_sim_new (17, NULL, 1000, 0, 0);
    double plain_us [S_BATCHES], verified_us [S_BATCHES], crypto_us [S_BATCHES];
    size_t failures = 0;
    //  Interleaved, so that a noisy neighbour hurts all three alike
    for (int batch = 0; batch < S_BATCHES; batch++) {
        plain_us [batch] = s_acquisitions (sim, false, &failures);
        verified_us [batch] = s_acquisitions (sim, true, &failures);
        crypto_us [batch] = s_sign_verify (osmose_market_sim_identity (sim, 1), &failures);
    }
    double plain = s_median (plain_us, S_BATCHES);
    double verified = s_median (verified_us, S_BATCHES);
    double crypto = s_median (crypto_us, S_BATCHES);
    printf ("baseline Ed25519 sign + verify of a token:          median %7.2f us CPU\n", crypto);
    printf ("acquisition among 16 peers (client checks binding): median %7.2f us CPU,"
            " ratio %.2f\n", plain, plain / crypto);
    printf ("acquisition among 16 peers (client verifies token): median %7.2f us CPU,"
            " ratio %.2f\n", verified, verified / crypto);
    printf ("(%d batches of %d acquisitions each: call for bids to 3, bids, award,"
            " rejects, signed lease, release)\n", S_BATCHES, S_PER_BATCH);
    osmose_market_sim_destroy (&sim);
    if (failures)
        fprintf (stderr, "bench_market: %zu acquisitions failed\n", failures);
    return failures? 1: 0;
}
