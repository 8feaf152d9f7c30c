/*  osmose_members_sim.h: a simulated mesh of membership engines, for the
    self-test and bench/bench_members. N engines in one process, simulated
    time, a simulated network: each message takes 0.1-2 ms, plus up to
    slow_us[i] for a slow member, may be lost (loss), is dropped while
    either end is cut off (cut_until), and waits while its receiver is
    starved of CPU (stall_until). The struct is open: tests set and read
    the knobs directly. Single-threaded, deterministic for a given seed.
*/
#ifndef OSMOSE_MEMBERS_SIM_H_INCLUDED
#define OSMOSE_MEMBERS_SIM_H_INCLUDED

#include "osmose_members.h"
#include "osmose_identity.h"

typedef struct {
    int64_t at;
    uint64_t order;
    int from, to;
    uint8_t *data;
    size_t size;
} osmose_members_sim_flight_t;

typedef struct _osmose_members_sim_t osmose_members_sim_t;

typedef struct {
    osmose_members_sim_t *sim;
    int index;
} osmose_members_sim_ref_t;

struct _osmose_members_sim_t {
    int n;
    osmose_members_t **engines;
    osmose_identity_t **identities;
    osmose_members_sim_ref_t *refs;
    bool *up;                   //  started and not killed
    int64_t *deadline;
    int64_t *slow_us;           //  extra delay, up to this, on its messages
    int64_t *cut_until;         //  partitioned until (drop to/from)
    int64_t *stall_until;       //  frozen until (CPU starved: no ticks, input waits)
    uint64_t *bytes_out;
    zhashx_t *index;            //  id -> index + 1
    osmose_members_sim_flight_t *heap;
    size_t heap_size, heap_capacity;
    uint64_t order;
    uint64_t rng;
    int64_t now;
    double loss;
    bool evidence;              //  kills reset connections (transport evidence)
    int victim;                 //  whose DEAD/LEFT we time
    int64_t *seen_at;           //  per observer: when the victim was marked
    int false_deaths;           //  live members marked DEAD
    int suspicions_of_live;
    osmose_members_params_t params;
    bool signatures;
    uint64_t ping_reqs, unlinked_ping_reqs;    //  sent; to members neither's view holds
};


//  Kills in a row, and how long until they were marked DEAD
typedef struct {
    int kills;
    int64_t worst_us;           //  slowest "all peers marked it"; -1: one never was
    int64_t p50_us, p99_us;     //  per peer, over all kills
} osmose_members_sim_kills_t;

//  N engines, PARAMS (NULL: defaults) with signed records when SIGNATURES.
//  None is started yet.
osmose_members_sim_t *
    osmose_members_sim_new (int n, uint64_t seed, bool signatures,
                            const osmose_members_params_t *params);
void
    osmose_members_sim_destroy (osmose_members_sim_t **self_p);
uint64_t
    osmose_members_sim_rand (osmose_members_sim_t *self);
//  Start member I, joining through SEED (none when SEED < 0 or I)
void
    osmose_members_sim_start (osmose_members_sim_t *self, int i, int seed);
//  Member I comes back as a fresh process (same key, first incarnation,
//  empty table) and joins through SEED
void
    osmose_members_sim_restart (osmose_members_sim_t *self, int i, int seed);
//  Put member I's outbox on the wire (after calling its engine directly)
void
    osmose_members_sim_drain (osmose_members_sim_t *self, int i);
//  Deliver messages and tick engines until UNTIL (µs)
void
    osmose_members_sim_run (osmose_members_sim_t *self, int64_t until);
//  Start all through member 0, STAGGER µs apart; µs from the last start
//  until all see all, or -1 after 10 s
int64_t
    osmose_members_sim_join_all (osmose_members_sim_t *self, int64_t stagger);
bool
    osmose_members_sim_all_see_all (osmose_members_sim_t *self);
//  Stop member VICTIM; with evidence set, the members connected to it
//  (either's active view) get evidence_down at once, as a reset would give
void
    osmose_members_sim_kill (osmose_members_sim_t *self, int victim);
//  Run until all live members marked the victim DEAD or LEFT; the time
//  from START, or -1 after LIMIT
int64_t
    osmose_members_sim_until_all_marked (osmose_members_sim_t *self, int64_t start,
                                         int64_t limit);
//  KILLS random members, one after the other, 2-3 s apart
void
    osmose_members_sim_kill_series (osmose_members_sim_t *self, int kills, bool evidence,
                                    osmose_members_sim_kills_t *result);
//  Bytes all members sent so far
uint64_t
    osmose_members_sim_bytes (osmose_members_sim_t *self);
//  Sort VALUES; their median, 99th percentile and maximum
void
    osmose_members_sim_percentiles (int64_t *values, int count, int64_t *p50,
                                    int64_t *p99, int64_t *max);

#endif
