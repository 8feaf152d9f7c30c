/*  bench_members.c: the membership engine in simulated meshes, baseline
    timings (the first config defaults: probe 1000 ms, probe timeout 300 ms,
    a fixed 3000 ms suspicion, gossip every 200 ms) against the current
    defaults (probe 200 ms, timeout 100 ms, suspicion 500-1500 ms with
    Lifeguard confirmations, gossip 50 ms), measured in the same run.

    For N = 32 and 128 and several seeds: time until all see all after the
    last start (peers start 10 ms apart through one seed), idle payload
    bytes/s per peer, time until a killed peer is DEAD at every peer, with
    transport evidence (connections reset) and silent (probes only), and
    false deaths over 5 minutes with 1% loss, slow peers and CPU stalls.
    Prints medians over seeds and the ratio current / baseline.

    Usage: bench_members [-s SEEDS] [-k KILLS] [-q]
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_members.h"
#include "../src/osmose_members_sim.h"
#include <getopt.h>

#define S_SEEDS_MAX 16

typedef struct {
    double join_ms, idle_bps;
    double reset_p50_ms, reset_p99_ms, reset_all_ms;
    double silent_p50_ms, silent_p99_ms, silent_all_ms;
    double false_deaths;
} s_figures_t;

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t) count, sizeof (double), s_cmp_double);
    return values [count / 2];
}

static void
s_run_mesh (int n, uint64_t seed, const osmose_members_params_t *params, int kills,
            s_figures_t *figures)
{
    osmose_members_sim_t *sim = osmose_members_sim_new (n, seed, false, params);
    int64_t join = osmose_members_sim_join_all (sim, 10000);
    figures->join_ms = join < 0? -1: join / 1000.0;
    osmose_members_sim_run (sim, sim->now + 20000000);
    uint64_t bytes = osmose_members_sim_bytes (sim);
    osmose_members_sim_run (sim, sim->now + 30000000);
    figures->idle_bps = (double) (osmose_members_sim_bytes (sim) - bytes) / n / 30.0;
    osmose_members_sim_kills_t result;
    osmose_members_sim_kill_series (sim, kills, true, &result);
    figures->reset_p50_ms = result.p50_us / 1000.0;
    figures->reset_p99_ms = result.p99_us / 1000.0;
    figures->reset_all_ms = result.worst_us < 0? -1: result.worst_us / 1000.0;
    osmose_members_sim_kill_series (sim, kills, false, &result);
    figures->silent_p50_ms = result.p50_us / 1000.0;
    figures->silent_p99_ms = result.p99_us / 1000.0;
    figures->silent_all_ms = result.worst_us < 0? -1: result.worst_us / 1000.0;
    osmose_members_sim_destroy (&sim);

    //  False positives: 5 minutes, 1% loss, 4 slow peers, CPU stalls
    sim = osmose_members_sim_new (32, seed + 1000, false, params);
    osmose_members_sim_join_all (sim, 10000);
    sim->loss = 0.01;
    for (int i = 1; i <= 4; i++)
        sim->slow_us [i * 7] = 50000;
    for (int second = 0; second < 300; second++) {
        int starved = (int) (osmose_members_sim_rand (sim) % 32);
        sim->stall_until [starved] = sim->now + 100000
                                   + (int64_t) (osmose_members_sim_rand (sim) % 300000);
        osmose_members_sim_run (sim, sim->now + 1000000);
    }
    figures->false_deaths = sim->false_deaths;
    osmose_members_sim_destroy (&sim);
}

//  Median over seeds of each figure
static void
s_run (int n, int seeds, int kills, const osmose_members_params_t *params, s_figures_t *median)
{
    s_figures_t figures [S_SEEDS_MAX];
    for (int s = 0; s < seeds; s++)
        s_run_mesh (n, 101 + (uint64_t) s * 7919, params, kills, &figures [s]);
    size_t fields = sizeof (s_figures_t) / sizeof (double);
    for (size_t f = 0; f < fields; f++) {
        double values [S_SEEDS_MAX];
        for (int s = 0; s < seeds; s++)
            values [s] = ((double *) &figures [s]) [f];
        ((double *) median) [f] = s_median (values, seeds);
    }
}

static void
s_row (const char *what, double baseline, double current)
{
    printf ("  %-36s %10.1f %10.1f %8.2f\n", what, baseline, current,
            baseline > 0? current / baseline: 0.0);
}

int
main (int argc, char *argv [])
{
    int seeds = 3, kills = 10, opt;
    while ((opt = getopt (argc, argv, "s:k:h")) != -1) {
        if (opt == 's')
            seeds = atoi (optarg);
        else
        if (opt == 'k')
            kills = atoi (optarg);
        else {
            printf ("Usage: bench_members [-s SEEDS] [-k KILLS]\n"
                    "Simulated meshes of the membership engine: baseline timings\n"
                    "against the current defaults (medians over SEEDS, default 3;\n"
                    "KILLS kills per mesh and kind, default 10).\n");
            return opt == 'h'? 0: 2;
        }
    }
    if (seeds < 1 || seeds > S_SEEDS_MAX || kills < 1 || kills > 30) {
        fprintf (stderr, "bench_members: SEEDS must be 1-%d and KILLS 1-30\n", S_SEEDS_MAX);
        return 2;
    }
    if (sodium_init () < 0)
        return 1;
    osmose_members_params_t baseline, current;
    osmose_members_params_default (&current);
    osmose_members_params_default (&baseline);
    baseline.probe_interval_ms = 1000;
    baseline.probe_timeout_ms = 300;
    baseline.suspect_timeout_ms = 3000;
    baseline.suspect_max_mult = 1;
    baseline.gossip_interval_ms = 200;
    int sizes [] = { 32, 128 };
    for (size_t i = 0; i < 2; i++) {
        int n = sizes [i];
        s_figures_t base, cur;
        s_run (n, seeds, kills, &baseline, &base);
        s_run (n, seeds, kills, &current, &cur);
        printf ("N=%d (medians of %d seeds, %d kills per kind)\n", n, seeds, kills);
        printf ("  %-36s %10s %10s %8s\n", "figure", "baseline", "current", "ratio");
        s_row ("all see all after last start, ms", base.join_ms, cur.join_ms);
        s_row ("idle payload out, B/s per peer", base.idle_bps, cur.idle_bps);
        s_row ("kill+reset: DEAD at a peer p50, ms", base.reset_p50_ms, cur.reset_p50_ms);
        s_row ("kill+reset: DEAD at a peer p99, ms", base.reset_p99_ms, cur.reset_p99_ms);
        s_row ("kill+reset: DEAD at all, worst, ms", base.reset_all_ms, cur.reset_all_ms);
        s_row ("silent kill: DEAD at a peer p50, ms", base.silent_p50_ms, cur.silent_p50_ms);
        s_row ("silent kill: DEAD at a peer p99, ms", base.silent_p99_ms, cur.silent_p99_ms);
        s_row ("silent kill: DEAD at all, worst, ms", base.silent_all_ms, cur.silent_all_ms);
        s_row ("false deaths in 5 min (N=32, stalls)", base.false_deaths, cur.false_deaths);
    }
    return 0;
}
