/*  osmose_members.h: membership and failure detection, as a pure engine.

    SWIM with the Lifeguard refinements: each peer probes the members in a
    shuffled rotation (PING/ACK), asks k others to probe one that does not
    answer (PING_REQ), then suspects it; a suspected member refutes by
    raising its incarnation, and one that does not is declared DEAD when its
    suspicion times out. The suspicion timeout shrinks as independent peers
    confirm it; the local health multiplier stretches our own timeouts when
    we are the slow one (CPU load), so a busy peer does not accuse others.
    Each message also carries the sender's pulse, its fast figures (load),
    heard only from the member itself. Updates ride piggybacked on every
    message (each sent about 3 * log2(n + 1) times) and are pushed, while
    any are pending, to the active view and to the members whose view
    holds us (those that pushed to us within the last second); a periodic
    push-pull with a random member (a table hash first, the full table
    only when the hashes differ) is the anti-entropy backstop.

    The engine does no I/O, reads no clock and starts no thread: the daemon
    hands it time (microseconds, any monotonic origin), received bytes and
    transport evidence, and drains the messages it wants sent. That makes it
    deterministic, so tests run whole meshes in simulated time.

    Trust: the transport authenticates the sender, so FROM is trusted; what
    a message claims about others is not. A member's ALIVE record (its
    endpoint, name, location, key, app blob, incarnation) is signed with its
    own Ed25519 key and its id must hash from that key, so only a member can
    announce or refute for itself. Decoding is bounds-checked and never
    asserts: bad messages return OSMOSE_EPROTO and are counted.

    Driving it from the actor: feed every received frame to _receive, then
    call _tick when the poller times out; poll with a timeout of
    (_deadline () - now) / 1000 ms, taking _deadline after each receive
    (input first, timers second: after a stall, ACKs that arrived must be
    seen before probes time out). After each call drain _next_out and send
    each message to out.to: at out.endpoint with out.public_key as the
    CurveZMQ server key, or, when endpoint is "" (a stranger's first
    message: PING or JOIN from a peer we do not know yet), back over the
    connection it came in on. Feed socket monitor disconnects and
    heartbeat losses to _evidence_down: they start a probe at once, which
    is how a killed peer is found in well under a second.

    Thread safety: none; one engine belongs to one actor.
*/
#ifndef OSMOSE_MEMBERS_H_INCLUDED
#define OSMOSE_MEMBERS_H_INCLUDED

#include "osmose_identity.h"
#include "osmose_config.h"

#define OSMOSE_MEMBERS_TEXT_MAX 255     //  endpoint, name, location
#define OSMOSE_MEMBERS_APP_MAX 1024     //  opaque app blob per member
#define OSMOSE_MEMBERS_PULSE_MAX 32     //  opaque fast figures per member

typedef struct _osmose_members_t osmose_members_t;

typedef enum {
    OSMOSE_MEMBER_ALIVE = 1,
    OSMOSE_MEMBER_SUSPECT = 2,
    OSMOSE_MEMBER_DEAD = 3,
    OSMOSE_MEMBER_LEFT = 4
} osmose_member_state_t;

//  What a member says about itself (copied by the engine).
typedef struct {
    const char *endpoint;               //  where peers reach it (tcp://...)
    const char *name;                   //  human name, may be ""
    const char *location;               //  path a/b/c, may be ""
    const uint8_t *public_key;          //  OSMOSE_KEY_SIZE bytes (Ed25519)
} osmose_member_info_t;

//  Signs our ALIVE records: SIZE bytes of DATA into SIGNATURE
//  (OSMOSE_SIG_SIZE bytes). The daemon passes osmose_identity_sign.
typedef void (osmose_members_sign_fn) (void *arg, const uint8_t *data,
                                       size_t size, uint8_t *signature);

//  Told of every change of a member's state (a new member arrives as
//  ALIVE with OLD_STATE 0) and of every new incarnation of a live member
//  (ALIVE to ALIVE: its info or app blob may have changed). Must not call
//  back into the engine.
typedef void (osmose_members_change_fn) (void *arg, const char *id,
                                         int old_state, int new_state);

//  May a member with this id and key join our table? The daemon checks
//  its trust store; NULL admits every key that signs its own record.
typedef bool (osmose_members_admit_fn) (void *arg, const char *id,
                                        const uint8_t *public_key);

//  Is a connection open between us and this member, either way? Over
//  CurveZMQ a message to anyone else opens one (a handshake that costs
//  both sides scalar multiplications, then evicts another link), and with
//  a hundred members that churn, under load, is what loses probes and
//  feeds false suspicions. So indirect-probe helpers are picked among
//  linked members first, and linked members always confirm a suspicion
//  (others only by lot). NULL counts every member as linked.
typedef bool (osmose_members_linked_fn) (void *arg, const char *id);

//  Tunables; osmose_members_params_default fills the defaults, which meet
//  the mesh's targets with 32 peers on loopback (see the self-test).
typedef struct {
    int probe_interval_ms;      //  one probe per interval (mesh/probe_interval_ms)
    int probe_timeout_ms;       //  direct probe wait (mesh/probe_timeout_ms)
    int indirect_probes;        //  k for PING_REQ (mesh/indirect_probes)
    int suspect_timeout_ms;     //  suspicion, fully confirmed (mesh/suspect_timeout_ms)
    int suspect_max_mult;       //  unconfirmed suspicion lasts this many times longer
    int suspect_confirmations;  //  K: confirmations that bring it to the minimum
    int gossip_interval_ms;     //  push of pending updates (mesh/gossip_interval_ms)
    int gossip_fanout;          //  peers per push
    int sync_interval_ms;       //  anti-entropy push-pull (mesh/sync_interval_ms)
    int join_retry_ms;          //  JOIN again while no seed answered
    int reap_ms;                //  forget DEAD/LEFT members after this long
    int retransmit_mult;        //  lambda: each update rides lambda*log2(n+1) messages
    int max_message_bytes;      //  piggyback budget per message
    int health_max;             //  Lifeguard local health multiplier cap
    int active_view;            //  nearest members kept connected (mesh/active_view)
    int random_view;            //  random members kept connected (mesh/random_view)
    int hop_weight_us;          //  proximity: one location hop costs this much RTT
    int max_members;            //  table size limit, us included
    uint32_t incarnation;       //  our first incarnation (persist it to restart above)
    uint64_t seed;              //  PRNG seed; 0 means random
    bool require_signatures;    //  reject unsigned/forged ALIVE records
    osmose_members_sign_fn *sign;       //  may be NULL: records go unsigned
    void *sign_arg;
    osmose_members_change_fn *on_change;    //  may be NULL
    void *change_arg;
    osmose_members_admit_fn *admit;         //  may be NULL
    void *admit_arg;
    osmose_members_linked_fn *linked;       //  may be NULL
    void *linked_arg;
} osmose_members_params_t;

//  A member as the table sees it. Pointers are owned by the engine and stay
//  valid until the next call that changes the engine (receive, tick, ...).
typedef struct {
    const char *id;                     //  16 hex chars
    const char *endpoint;
    const char *name;
    const char *location;
    const uint8_t *public_key;          //  OSMOSE_KEY_SIZE bytes
    const uint8_t *app;                 //  NULL when app_size is 0
    size_t app_size;
    osmose_member_state_t state;
    uint32_t incarnation;
    int64_t rtt_us;                     //  EWMA of probe RTT; -1 if never measured
    int64_t rtt_floor_us;               //  least probe RTT of the last 10-20 s;
                                        //  -1 if never measured
    int64_t last_heard_us;              //  last message from it; -1 never
    int64_t state_since_us;             //  when it entered its state
    bool is_self;
    //  Its pulse: what it last said of its fast figures, itself, in a
    //  message to us (our own: what we set). NULL when pulse_size is 0
    const uint8_t *pulse;
    size_t pulse_size;
    int64_t pulse_us;                   //  when heard; -1 never
} osmose_member_t;

//  One message to send. DATA is heap memory the caller owns (free()).
typedef struct {
    char to [OSMOSE_ID_SIZE + 1];
    char endpoint [OSMOSE_MEMBERS_TEXT_MAX + 1];
    uint8_t public_key [OSMOSE_KEY_SIZE];   //  its Ed25519 key (zeros if unknown);
                                            //  osmose_identity_curve_z85 gives
                                            //  the CurveZMQ server key
    uint8_t *data;
    size_t size;
} osmose_members_out_t;

//  Message kinds, for the counters: ping, ack, ping-req, gossip, join,
//  sync-hash, sync-full, nack (osmose_members_kind_name)
#define OSMOSE_MEMBERS_KINDS 9
const char *
    osmose_members_kind_name (int kind);

//  Counters, for osmose-top and tests.
typedef struct {
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    uint64_t malformed;                 //  rejected messages
    uint64_t rejected_records;          //  well-formed records we refused (forged,
                                        //  bad key, not admitted, table full)
    uint64_t probes, probe_failures, indirect_probes;
    uint64_t suspicions, refutations, deaths;
    uint64_t syncs;                     //  full-table exchanges
    uint64_t sent_by_kind [OSMOSE_MEMBERS_KINDS];   //  messages we sent, by kind
    int health;                         //  current local health multiplier
} osmose_members_stats_t;

void
    osmose_members_params_default (osmose_members_params_t *params);

//  The defaults, then the mesh/* settings of CONFIG (probe_interval_ms,
//  probe_timeout_ms, indirect_probes, suspect_timeout_ms,
//  gossip_interval_ms, sync_interval_ms, active_view, random_view) and
//  proximity/topology_weight_us.
void
    osmose_members_params_from_config (osmose_members_params_t *params,
                                       osmose_config_t *config);

//  New engine for us (SELF_ID, 16 hex chars, which must be the id of
//  INFO->public_key). PARAMS may be NULL for the defaults. NOW_US starts
//  the clock. Returns NULL on bad arguments or no memory.
osmose_members_t *
    osmose_members_new (const char *self_id, const osmose_member_info_t *info,
                        const osmose_members_params_t *params, int64_t now_us);

void
    osmose_members_destroy (osmose_members_t **self_p);

//  A peer exists with ID at ENDPOINT and PUBLIC_KEY (seed, mDNS): we send
//  it JOIN (and again every join_retry_ms until some peer answers with its
//  table). 0, OSMOSE_EINVAL, or OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_members_join (osmose_members_t *self, const char *id,
                         const char *endpoint, const uint8_t *public_key,
                         int64_t now_us);

//  Advance timers: probes, timeouts, suspicions, gossip, sync. Returns the
//  time (µs) by which it wants to be called again (as _deadline).
int64_t
    osmose_members_tick (osmose_members_t *self, int64_t now_us);

//  The time (µs) of the next timer (INT64_MAX: none; never before the
//  last time we were given); receive and the other calls may move it.
int64_t
    osmose_members_deadline (osmose_members_t *self);

//  A message from FROM (authenticated by the transport). 0, or
//  OSMOSE_EPROTO for a malformed message (counted, nothing applied).
int
    osmose_members_receive (osmose_members_t *self, const char *from,
                            const uint8_t *data, size_t size, int64_t now_us);

//  Take the next message to send into *OUT; true if there was one. The
//  caller frees out->data with free().
bool
    osmose_members_next_out (osmose_members_t *self, osmose_members_out_t *out);

//  Transport evidence: a connection to ID dropped or its heartbeats
//  stopped (down: probe it now, out of turn), or traffic arrived (up).
//  Evidence alone never changes a member's state. 0 or OSMOSE_ENOTFOUND.
int
    osmose_members_evidence_down (osmose_members_t *self, const char *id,
                                  int64_t now_us);
int
    osmose_members_evidence_up (osmose_members_t *self, const char *id,
                                int64_t now_us);
//  Stronger: reconnecting to ID was refused (nothing listens at its
//  endpoint any more): suspect it now, without waiting for probes to time
//  out. It can still refute. 0 or OSMOSE_ENOTFOUND.
int
    osmose_members_evidence_refused (osmose_members_t *self, const char *id,
                                     int64_t now_us);

//  Leave gracefully: announce LEFT to the active view and stop probing.
//  Drain next_out before closing the sockets.
int
    osmose_members_leave (osmose_members_t *self, int64_t now_us);

//  Replace our app blob (resource advert, log digest; at most
//  OSMOSE_MEMBERS_APP_MAX bytes): raises our incarnation and disseminates
//  it. 0, OSMOSE_ETOOBIG or OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_members_set_app (osmose_members_t *self, const uint8_t *app,
                            size_t size, int64_t now_us);

//  Replace our pulse (fast figures such as load; at most
//  OSMOSE_MEMBERS_PULSE_MAX bytes): it rides every message we send from
//  now on, told only to those we talk to, and raises no incarnation, so
//  it costs no signature and no dissemination. 0 or OSMOSE_ETOOBIG.
int OSMOSE_CHECK
    osmose_members_set_pulse (osmose_members_t *self, const uint8_t *pulse, size_t size,
                              int64_t now_us);

//  We moved: replace our location path, raise our incarnation and
//  disseminate it (the view follows, nearest first). 0 or OSMOSE_EINVAL.
int OSMOSE_CHECK
    osmose_members_set_location (osmose_members_t *self, const char *location,
                                 int64_t now_us);

//  Number of members, us included, in any state.
size_t
    osmose_members_size (osmose_members_t *self);

//  Member number INDEX (0 .. size - 1; order changes when members are
//  reaped) into *MEMBER. 0 or OSMOSE_ERANGE.
int
    osmose_members_at (osmose_members_t *self, size_t index, osmose_member_t *member);

//  Member ID into *MEMBER. 0 or OSMOSE_ENOTFOUND.
int
    osmose_members_lookup (osmose_members_t *self, const char *id, osmose_member_t *member);

//  Members in state ALIVE or SUSPECT, us included.
size_t
    osmose_members_alive (osmose_members_t *self);

//  The peers to keep connections to: the active_view nearest (RTT EWMA
//  plus hop_weight_us per location hop; stable, a member is replaced only
//  by a much nearer one) then random_view random ones. Writes up to MAX
//  pointers to ids (owned by the engine, valid as for osmose_member_t)
//  and returns how many.
size_t
    osmose_members_active_view (osmose_members_t *self, const char **ids, size_t max);

void
    osmose_members_stats (osmose_members_t *self, osmose_members_stats_t *stats);

const char *
    osmose_member_state_name (int state);

//  Location hops between paths A and B: steps up from A to the common
//  prefix plus steps down to B ("a/b/c" to "a/d" is 3).
int
    osmose_members_hops (const char *a, const char *b);

void
    osmose_members_test (bool verbose);

#endif
