/*  osmose_leasing.h: the daemon's leasing service, both roles.

    Drives the contract-net engine (osmose_market) from the peer actor:
    market messages over the mesh, the engine's timers, membership news
    (a dead provider's leases are lost), and its events, which become log
    entries on the provider side (grant, renewal failure, expiry, release,
    revocation). It owns the work endpoint (osmose_work) and the executor
    (osmose_exec, started on the first grant), and answers the local API:

      LEASE_ACQUIRE  deferred until the bidding is over: ranks the members
                     (osmose_proximity, from their adverts and RTT), bids,
                     and answers with the lease, the provider's work endpoint
                     and key, the token, and our signature delegating the
                     lease to the program's session key. Strategy
                     LOCAL_FIRST lists this peer first; failure RETRY_LOCAL
                     falls back to this peer alone, RETRY_REMOTE bids again
                     until the timeout, FAIL answers OSMOSE_ENOPEER.
      LEASE_RELEASE  gives a held lease back.
      LEASES         what is held and granted, free capacity, work figures.
      NEAR           the ranking of every member for a request.

    Leases held for a local program are bound to its process (pid and
    start time): when it dies the lease is released within a second.

    Thread safety: none; one service belongs to one actor.
*/
#ifndef OSMOSE_LEASING_H_INCLUDED
#define OSMOSE_LEASING_H_INCLUDED

#include <jansson.h>
#include "osmose_config.h"
#include "osmose_identity.h"
#include "osmose_trust.h"
#include "osmose_mesh.h"
#include "osmose_api.h"
#include "osmose_entry.h"
#include "osmose_resources.h"

typedef struct _osmose_leasing_t osmose_leasing_t;

//  Record an event in our log; takes PAYLOAD's reference.
typedef void (osmose_leasing_log_fn) (void *arg, osmose_entry_type_t type, json_t *payload);

//  Start the service for the peer with CONFIG, IDENTITY, TRUST, MESH and
//  API (all borrowed, outliving the service), advertising RESOURCES
//  (copied). Registers its API commands and the mesh's MARKET handler.
//  NULL with a reason in ERROR.
osmose_leasing_t *
    osmose_leasing_new (osmose_config_t *config, osmose_identity_t *identity,
                        osmose_trust_t *trust, osmose_mesh_t *mesh, osmose_api_t *api,
                        const osmose_resources_t *resources,
                        osmose_leasing_log_fn *log, void *log_arg,
                        char *error, size_t error_size);

//  Hand every lease back (RELEASE to providers, REVOKE to clients), stop
//  workers, free; accepts NULL, clears *self_p.
void
    osmose_leasing_destroy (osmose_leasing_t **self_p);

//  Our resources changed (new probe, config reload).
void
    osmose_leasing_set_resources (osmose_leasing_t *self, const osmose_resources_t *resources);

//  Read policy/* again after an override (allow list, battery threshold).
//  0, or OSMOSE_EINVAL for a bad allow list (the old one stays).
int OSMOSE_CHECK
    osmose_leasing_apply_config (osmose_leasing_t *self);

//  We moved (RESOURCES carry the new location): leases whose provider now
//  breaks their latency bound, or that a much nearer provider could hold
//  (lease/move_gain_us, not before lease/move_hold_ms), are given back;
//  their programs bid again from here. Checked again every half second.
void
    osmose_leasing_moved (osmose_leasing_t *self, const osmose_resources_t *resources);

//  Add the sockets to poll to POLLER; call osmose_leasing_handle with
//  whatever the poller returned: true when it was one of ours.
int OSMOSE_CHECK
    osmose_leasing_poll_on (osmose_leasing_t *self, osmose_poller_t *poller);
bool
    osmose_leasing_handle (osmose_leasing_t *self, void *which);

//  Milliseconds until osmose_leasing_tick wants to run.
int64_t
    osmose_leasing_timeout (osmose_leasing_t *self);

//  Run due timers, send what the market queued, act on its events.
void
    osmose_leasing_tick (osmose_leasing_t *self);

//  Where leaseholders connect (advertised with our resources).
const char *
    osmose_leasing_work_endpoint (osmose_leasing_t *self);

//  Why this device refuses every new lease now, its owner's policy:
//  "battery" (on battery below policy/battery_min_percent) or "load" (past
//  policy/load_max_percent); NULL while it lends. Advertised, so that
//  clients neither ask it nor move leases to it meanwhile.
const char *
    osmose_leasing_refusing (osmose_leasing_t *self);

//  Summary for STATUS: {"held", "granted", "pending", "tasks": {...}}.
json_t *
    osmose_leasing_status_json (osmose_leasing_t *self);

//  The tasks summary osmose-top shows: {"running", "queued", "done",
//  "migrated" (leases moved for our programs), "per_s"}.
json_t *
    osmose_leasing_tasks_json (osmose_leasing_t *self);

void
    osmose_leasing_test (bool verbose);

#endif
