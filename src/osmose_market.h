/*  osmose_market.h: contract-net bidding and leases, as an I/O-free engine.

    Every peer is both client and provider, so one engine holds both roles
    (DESIGN.md, "Bidding"). The engine does no I/O, reads no clock and
    starts no thread: the daemon's actor feeds it what arrives, the time
    (wall clock, microseconds) and membership news, and drains what it must
    send and what happened. Tests drive sixteen engines in one process.

    Flow of one acquisition (one round trip, 3k messages for k asked):
        client                                    providers (k = wanted + d)
        acquire: rank candidates (proximity) ---> CALL_FOR_BIDS x k
                                             <--- BID (reservation held, with the
                                                  lease it would be: ttl, signed
                                                  token) or REFUSE
        the best bids are leases: ACQUIRED
        per lease, then DONE; meanwhile      ---> AWARD x wanted, REJECT x rest
    then RENEW every heartbeat (batched per provider) <-> RENEWED (fresh
    token); RELEASE on request; REVOKE when a provider withdraws.

    The client awards as soon as it holds `wanted` bids no farther than any
    candidate still silent (a silent one could not win), or when every
    candidate answered, or at the bid timeout, whichever comes first. The
    bid timeout is max(2 x largest RTT asked, bid_timeout_min_us) capped at
    bid_timeout_max_us; candidates without RTT count as bid_timeout_min_us.
    At the bid timeout the best bids in hand win, unless a silent
    candidate scores D us better than them: then the client waits D us
    more (once, within bid_timeout_max_us from the start), since a score
    is latency every task pays. With no bid in hand yet the client waits
    on, up to bid_timeout_max_us from the start, and awards the first bid
    that comes (a busy mesh is slow, not empty).
    A winning bid whose token does not check is not held (bad_tokens):
    it is rejected like a losing one. An AWARD that reaches the provider
    after its hold lapsed is refused (EXPIRED), and the client loses that
    lease (LEASE_LOST), as it would a revoked one; a lost AWARD leaves a
    reservation that lapses, and the first renewal is refused.

    Provider side: a CALL_FOR_BIDS is refused (REFUSE with a reason) when
    the client is not in policy/allow (POLICY), the device runs on battery
    below policy/battery_min_percent (BATTERY), its 1-minute load per CPU
    is past policy/load_max_percent (WITHDRAWN), the lease caps less what is
    reserved and leased cannot cover it (CAPACITY), or too many
    reservations are open (BUSY). Otherwise the resources are reserved for
    hold_us, so two clients are never promised the same CPU, and the bid
    carries the lease's id and signed token (osmose_token); AWARD, or the
    OPEN of the client's program if it comes first (lease_valid), turns
    the reservation into the lease (GRANT), REJECT or the hold's end frees
    it. A lease lives ttl_us past its grant or last
    renewal; silence past that expires it and frees its resources.

    Identity: every message is bound to the sender's key that the transport
    authenticated (CurveZMQ User-Id), never to an id inside the payload.
    Peers are named by id (osmose_identity_id_of their key).

    Thread safety: none; one engine belongs to one actor.
*/
#ifndef OSMOSE_MARKET_H_INCLUDED
#define OSMOSE_MARKET_H_INCLUDED

#include "osmose_identity.h"
#include "osmose_config.h"
#include "osmose_proximity.h"
#include "osmose_market_msg.h"
#include <jansson.h>

#define OSMOSE_MARKET_MAX_WANTED    16      //  leases in one request
#define OSMOSE_MARKET_MAX_ASKED     64      //  candidates asked in one request
#define OSMOSE_MARKET_MAX_RESERVED  1024    //  open reservations, all clients
#define OSMOSE_MARKET_MAX_RESERVED_PER_CLIENT 64
#define OSMOSE_MARKET_MAX_LEASES    4096    //  granted, and held, each
#define OSMOSE_MARKET_NEVER         INT64_MAX

typedef struct _osmose_market_t osmose_market_t;

//  Timing and policy. osmose_market_new reads them from the config:
//  lease/ttl_ms, lease/heartbeat_ms, policy/battery_min_percent,
//  policy/load_max_percent,
//  proximity/topology_weight_us; the rest are the defaults shown.
typedef struct {
    int64_t ttl_us;                 //  lease life without renewal (10 s)
    int64_t heartbeat_us;           //  renewal period; at most ttl/3 (2 s)
    int64_t hold_us;                //  reservation behind a bid (500 ms)
    int64_t bid_timeout_min_us;     //  (5 ms)
    int64_t bid_timeout_max_us;     //  (200 ms)
    //  A candidate ranked above a bid in hand by its RTT alone is waited
    //  for twice its RTT plus this grace, plus what it would gain (500 us)
    int64_t bid_grace_us;
    int extra;                      //  d: candidates asked beyond wanted (2)
    int battery_min_percent;        //  (20)
    int64_t load_max_percent;       //  load per CPU that refuses (0: never)
    int64_t topology_weight_us;     //  (1000)
    //  Client: also verify the signature of tokens received (false). The
    //  token is for the provider's work endpoint; the LEASE itself came
    //  over the provider's authenticated channel, so by default the client
    //  checks only the token's form and binding (provider, us, lease id,
    //  resources), which saves one Ed25519 verify per lease and renewal.
    bool verify_tokens;
} osmose_market_settings_t;

//  What a client asks for. Figures of zero mean none; at least one must be
//  positive.
typedef struct {
    int cpus;
    int gpus;
    int npus;
    int64_t memory_mb;
    int64_t latency_bound_us;       //  0: no bound
    int count;                      //  leases wanted, 1..MAX_WANTED
    int extra;                      //  d for this request; -1: settings
    uint32_t ttl_ms;                //  0: the provider's default; else at most it
} osmose_market_request_t;

//  A message to send: the body of an OSMOSE_MSG_MARKET frame for peer TO.
//  DATA belongs to the engine and stays valid until the next call on it.
typedef struct {
    char to [OSMOSE_ID_SIZE + 1];
    const uint8_t *data;
    size_t size;
} osmose_market_out_t;

typedef enum {
    //  Client side
    OSMOSE_MARKET_ACQUIRED = 1,     //  a lease for REQUEST: peer, lease, token
    OSMOSE_MARKET_DONE = 2,         //  REQUEST finished: status, count obtained
    OSMOSE_MARKET_LEASE_LOST = 3,   //  a held lease is gone: reason
    //  Provider side: each is a log entry for the daemon
    OSMOSE_MARKET_GRANT = 4,        //  lease granted to peer
    OSMOSE_MARKET_RENEW_FAIL = 5,   //  renewal of an unknown or expired lease
    OSMOSE_MARKET_EXPIRE = 6,       //  lease expired on silence, freed
    OSMOSE_MARKET_RELEASE = 7,      //  lease released by its client, freed
    OSMOSE_MARKET_REVOKE = 8        //  lease revoked by withdraw, freed
} osmose_market_event_kind_t;

typedef struct {
    osmose_market_event_kind_t kind;
    uint64_t request;               //  ACQUIRED, DONE; GRANT: the client's
    int status;                     //  DONE: 0, OSMOSE_ENOPEER, OSMOSE_ETIMEDOUT
    int count;                      //  DONE: leases obtained (may be < wanted)
    int reason;                     //  LEASE_LOST, REVOKE: osmose_market_reason_t
    char peer [OSMOSE_ID_SIZE + 1]; //  the provider (client side) or client
    uint8_t peer_key [OSMOSE_KEY_SIZE];
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    int cpus;
    int gpus;
    int npus;
    int64_t memory_mb;
    int64_t ttl_us;
    int64_t expiry_us;              //  provider side: in its clock
    uint16_t token_size;            //  ACQUIRED, GRANT
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];
} osmose_market_event_t;

typedef enum {
    OSMOSE_MARKET_HELD = 1,         //  leases this peer holds (client)
    OSMOSE_MARKET_GRANTED = 2       //  leases this peer granted (provider)
} osmose_market_role_t;

typedef struct {
    osmose_market_role_t role;
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    char peer [OSMOSE_ID_SIZE + 1];
    int cpus;
    int gpus;
    int npus;
    int64_t memory_mb;
    int64_t ttl_left_us;            //  held: by our last confirmed renewal
    bool renewing;                  //  held: a RENEW awaits its answer
    uint32_t renewals;
    uint16_t token_size;            //  held: the latest token
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];
} osmose_market_lease_info_t;

typedef struct {
    //  Client side
    uint64_t requests, requests_ok, requests_failed;
    uint64_t calls_sent, bids_received, refusals_received;
    uint64_t awards_sent, rejects_sent, leases_acquired, leases_lost;
    uint64_t renewals_sent, releases_sent, bad_tokens;
    //  Provider side
    uint64_t calls_received, bids_sent, refusals_sent [OSMOSE_MARKET_REASON_LIMIT];
    uint64_t grants, renewals, renew_failures, expirations, releases, revocations;
    uint64_t reservations_expired;
    //  Both
    uint64_t messages_in, messages_out, malformed, unexpected;
} osmose_market_counters_t;

//  Engine for the peer whose key is IDENTITY (borrowed: must outlive the
//  engine), with settings from CONFIG (NULL: defaults, allow "*").
//  Capacity is zero until osmose_market_set_resources. NULL when out of
//  memory or when CONFIG's policy/allow is neither "*" nor peer ids (a
//  daemon that wants to report that creates with NULL, then calls
//  osmose_market_apply_config).
osmose_market_t *
    osmose_market_new (osmose_identity_t *identity, osmose_config_t *config);

void
    osmose_market_destroy (osmose_market_t **self_p);

//  Re-read settings and policy/allow from CONFIG after a reload. Leases in
//  force are kept; call osmose_market_withdraw to hand them back.
//  Returns 0 or OSMOSE_EINVAL (bad allow list: the old one stays).
int OSMOSE_CHECK
    osmose_market_apply_config (osmose_market_t *self, osmose_config_t *config);

void
    osmose_market_settings (osmose_market_t *self, osmose_market_settings_t *settings);
//  Returns 0 or OSMOSE_EINVAL for values out of range (nothing changes).
int OSMOSE_CHECK
    osmose_market_set_settings (osmose_market_t *self, const osmose_market_settings_t *settings);

//  Who may lease: "*" or space-separated peer ids (16 hex). 0 or EINVAL.
int OSMOSE_CHECK
    osmose_market_set_allow (osmose_market_t *self, const char *allow);

//  This device's resources (copied): lease caps bound what may be reserved
//  and leased; power, battery and load go into bids; location is where the
//  client ranks from. Call after every probe. Lowering the caps below what
//  is leased keeps the leases (withdraw to revoke them).
void
    osmose_market_set_resources (osmose_market_t *self, const osmose_resources_t *resources);

//  Client: ask for REQUEST among COUNT CANDIDATES (from the member table;
//  ids must be peer ids; everything is copied). Ranks them with
//  osmose_proximity_rank and calls for bids from the best count + d. On
//  success returns 0, sets *request_p, and later emits ACQUIRED per lease
//  and one DONE. Returns OSMOSE_EINVAL (bad request), OSMOSE_ENOPEER (no
//  candidate qualifies; no event follows) or OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_market_acquire (osmose_market_t *self, const osmose_market_request_t *request,
                           const osmose_proximity_candidate_t *candidates, size_t count,
                           int64_t now_us, uint64_t *request_p);

//  Client: give back a held lease (sends RELEASE). 0 or OSMOSE_ENOLEASE.
int OSMOSE_CHECK
    osmose_market_release (osmose_market_t *self, const uint8_t *lease_id, int64_t now_us);

//  Provider: the owner takes resources back (battery low, policy change):
//  revokes every granted lease (REVOKE to each client, a REVOKE event each)
//  and drops open reservations. Returns the number of leases revoked.
int
    osmose_market_withdraw (osmose_market_t *self, osmose_market_reason_t reason,
                            int64_t now_us);

//  Membership declared peer ID dead: its held leases are lost (LEASE_LOST,
//  PEER_DOWN), it counts as silent in open requests, and reservations it
//  holds here are dropped. Leases granted to it run out by their TTL, so a
//  false suspicion costs no work.
void
    osmose_market_peer_down (osmose_market_t *self, const char *id, int64_t now_us);

//  A market body of SIZE bytes arrived from the peer whose authenticated
//  key is FROM_KEY. Returns 0 (handled, or stale and ignored), or
//  OSMOSE_EPROTO (malformed: count it, maybe rate-limit the peer).
int
    osmose_market_receive (osmose_market_t *self, const uint8_t *from_key,
                           const uint8_t *data, size_t size, int64_t now_us);

//  Run timers due at NOW_US: bid and award timeouts, renewals, expiries.
void
    osmose_market_tick (osmose_market_t *self, int64_t now_us);

//  When the next timer falls due (OSMOSE_MARKET_NEVER: none): the actor's
//  poller timeout is deadline - now.
int64_t
    osmose_market_deadline (osmose_market_t *self);

//  Next message to send, if any. Messages this engine addresses to itself
//  (a daemon listing itself as a candidate) are handled internally, at the
//  time of the last call, and never come out.
bool
    osmose_market_next_out (osmose_market_t *self, osmose_market_out_t *out);

//  Next event, if any, copied into *event.
bool
    osmose_market_next_event (osmose_market_t *self, osmose_market_event_t *event);

//  Provider: is LEASE_ID a live lease granted to CLIENT_KEY (NULL: anyone)?
//  The work endpoint calls this beside osmose_token_check, so a revoked or
//  released lease stops working before its token expires. A reservation
//  whose bid carried LEASE_ID is granted now (the GRANT event): the OPEN
//  of the client's program overtook its daemon's AWARD. 0 or
//  OSMOSE_ENOLEASE.
int
    osmose_market_lease_valid (osmose_market_t *self, const uint8_t *lease_id,
                               const uint8_t *client_key, int64_t now_us);

//  Fill up to MAX entries of INFO with leases of ROLE; returns how many
//  there are (possibly more than MAX).
size_t
    osmose_market_leases (osmose_market_t *self, osmose_market_role_t role,
                          osmose_market_lease_info_t *info, size_t max, int64_t now_us);

//  Free capacity now (lease caps less reserved and leased).
void
    osmose_market_free (osmose_market_t *self, int *cpus, int *gpus, int *npus,
                        int64_t *memory_mb);

const osmose_market_counters_t *
    osmose_market_counters (osmose_market_t *self);

//  When peer ID last refused one of our calls for bids (the engine's
//  clock, us), or 0: not among the last OSMOSE_MARKET_REFUSERS to refuse.
//  An advert offers a provider's caps, not what other clients hold of
//  them; a refusal says it had no room for us.
#define OSMOSE_MARKET_REFUSERS 16
int64_t
    osmose_market_refused_at (osmose_market_t *self, const char *id);

//  This peer's id.
const char *
    osmose_market_id (osmose_market_t *self);

//  Requests in progress (client side).
size_t
    osmose_market_pending (osmose_market_t *self);

//  JSON views for the daemon's API, osmose-top and log entries (caller
//  owns the result; NULL only when out of memory). Lease ids are 32 hex
//  characters; times left in ms.
//  Engine: {"id", "free": {"cpus", "gpus", "npus", "memory_mb"}, "pending",
//  "held": [{"lease", "provider", "cpus", "gpus", "npus", "memory_mb",
//  "ttl_left_ms", "renewing", "renewals"}], "granted": [{"lease", "client",
//  ... as held without "renewing"}], "counters": {name: number}}
json_t *
    osmose_market_json (osmose_market_t *self, int64_t now_us);
//  Event: {"event": "grant"|"renew_fail"|"expire"|"release"|"revoke"|
//  "acquired"|"done"|"lease_lost", "peer", "lease", "request", "cpus",
//  "gpus", "npus", "memory_mb", "ttl_ms", "expiry_us", "reason" (name),
//  "status" (done: error name or "OK"), "count" (done), "token_hash"
//  (BLAKE2b-256 of the token, hex, when there is one)}. What a provider
//  appends to its log for GRANT, RENEW_FAIL, EXPIRE, RELEASE and REVOKE.
json_t *
    osmose_market_event_json (const osmose_market_event_t *event);
//  Name of an event kind: "grant", "acquired"... ("?" when unknown)
const char *
    osmose_market_event_name (int kind);

void
    osmose_market_test (bool verbose);
void
    osmose_market_json_test (bool verbose);

#endif
