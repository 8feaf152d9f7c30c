/*  osmose_market_sim.h: an in-process mesh of market engines with
    simulated time and delays, for the self-test and the benchmark.

    Each peer has an identity, an engine and resources. Messages an engine
    emits travel with the one-way delay between the two peers and arrive in
    time order (FIFO between equal times, so each link keeps ZeroMQ's
    per-pair order). Time jumps to the next delivery or engine deadline.
    A peer may be cut (its traffic dropped both ways, as a partition or a
    crash) or frozen (drops what arrives and runs no timers: a silent
    client). Events every engine emits are kept in one list, in order.

    Not thread safe; test code only (asserts on misuse).
*/
#ifndef OSMOSE_MARKET_SIM_H_INCLUDED
#define OSMOSE_MARKET_SIM_H_INCLUDED

#include "osmose_market.h"

#define OSMOSE_MARKET_SIM_MAX_PEERS 32

typedef struct {
    int peer;                       //  whose engine emitted it
    int64_t at_us;
    osmose_market_event_t event;
} osmose_market_sim_event_t;

typedef struct _osmose_market_sim_t osmose_market_sim_t;

//  PEERS peers at LOCATIONS (NULL: "b/fF/rR/dP" by index P, four per
//  floor, two per room, one per desk), each with CPUS leasable CPUs and 4096 MB, on wall power.
//  One-way delay = base_us + hop_us x location hops. Time starts at 10^15 us.
osmose_market_sim_t *
    osmose_market_sim_new (int peers, const char **locations, int cpus,
                           int64_t base_us, int64_t hop_us);
void
    osmose_market_sim_destroy (osmose_market_sim_t **self_p);

osmose_market_t *
    osmose_market_sim_engine (osmose_market_sim_t *self, int peer);
osmose_identity_t *
    osmose_market_sim_identity (osmose_market_sim_t *self, int peer);
const char *
    osmose_market_sim_id (osmose_market_sim_t *self, int peer);
//  Index of the peer with ID, or -1
int
    osmose_market_sim_peer (osmose_market_sim_t *self, const char *id);
int64_t
    osmose_market_sim_now (osmose_market_sim_t *self);
//  Set every one-way delay to DELAY_US (uniform mesh)
void
    osmose_market_sim_set_delay (osmose_market_sim_t *self, int64_t delay_us);
//  Set the one-way delay from FROM to TO only (a slow peer)
void
    osmose_market_sim_set_link_delay (osmose_market_sim_t *self, int from, int to,
                                      int64_t delay_us);
int64_t
    osmose_market_sim_delay (osmose_market_sim_t *self, int from, int to);
//  The peer's resources: change them, then call _apply
osmose_resources_t *
    osmose_market_sim_resources (osmose_market_sim_t *self, int peer);
void
    osmose_market_sim_apply (osmose_market_sim_t *self, int peer);
void
    osmose_market_sim_cut (osmose_market_sim_t *self, int peer, bool cut);
void
    osmose_market_sim_freeze (osmose_market_sim_t *self, int peer, bool frozen);

//  Fill CANDIDATES (room for every peer) with what CLIENT's member table
//  would say of the others (measured RTT, advertised caps); returns how
//  many. Including CLIENT itself when WITH_SELF.
size_t
    osmose_market_sim_candidates (osmose_market_sim_t *self, int client, bool with_self,
                                  osmose_proximity_candidate_t *candidates);
//  Acquire from CLIENT among all others; returns acquire's code
int
    osmose_market_sim_acquire (osmose_market_sim_t *self, int client,
                               const osmose_market_request_t *request, uint64_t *request_p);
//  Send whatever PEER's engine queued (after a direct call on it)
void
    osmose_market_sim_pump (osmose_market_sim_t *self, int peer);
//  Run one step; false when nothing is scheduled before UNTIL_US
bool
    osmose_market_sim_step (osmose_market_sim_t *self, int64_t until_us);
//  Run until UNTIL_US (bounded in steps)
void
    osmose_market_sim_run (osmose_market_sim_t *self, int64_t until_us);
//  Run until PEER emits DONE for REQUEST (or UNTIL_US); its index in the
//  event list, or -1
int
    osmose_market_sim_run_request (osmose_market_sim_t *self, int peer, uint64_t request,
                                   int64_t until_us);

//  Events so far, and messages delivered so far
size_t
    osmose_market_sim_events (osmose_market_sim_t *self, const osmose_market_sim_event_t **events);
uint64_t
    osmose_market_sim_messages (osmose_market_sim_t *self);
//  Forget the events kept so far
void
    osmose_market_sim_clear (osmose_market_sim_t *self);
//  Index of the first event of KIND emitted by PEER (-1: any) from index
//  FROM on, or -1
int
    osmose_market_sim_find (osmose_market_sim_t *self, int peer, osmose_market_event_kind_t kind,
                            size_t from);

#endif
