/*  osmose_leasing_int.h: what the files of the leasing service share
    (osmose_leasing.c: acquisitions, market events, holders;
    osmose_leasing_place.c: local leases and re-placement after a move;
    osmose_leasing_views.c: LEASES, NEAR, TASKS and the status figures).
    Private to the service.
*/
#ifndef OSMOSE_LEASING_INT_H_INCLUDED
#define OSMOSE_LEASING_INT_H_INCLUDED

#include "osmose_leasing.h"
#include "osmose_market.h"
#include "osmose_members.h"
#include "osmose_proximity.h"
#include "osmose_location.h"
#include "osmose_exec.h"
#include "osmose_work.h"
#include "osmose_work_msg.h"

#define LEASING_MAX_CANDIDATES    OSMOSE_MARKET_MAX_ASKED * 16
#define LEASING_HOLDER_CHECK_US   500000      //  how often holders' processes are checked
#define LEASING_RETRY_US          100000      //  RETRY_REMOTE: bid again after this
#define LEASING_REFUSED_HOLD_US   60000000    //  no move toward a peer that refused us
#define LEASING_MAX_TIMEOUT_MS    600000
#define LEASING_REBIDS      2           //  rounds after a round everyone refused
#define LEASING_WIDEN       4           //  more candidates asked in each of them

//  An acquisition waiting for the market
typedef struct {
    osmose_api_pending_t *reply;
    uint64_t request;               //  the market's id for it
    osmose_market_request_t market;
    int strategy;                   //  OSMOSE_EAGER_REMOTE, OSMOSE_LOCAL_FIRST
    int failure;                    //  OSMOSE_RETRY_LOCAL...
    bool local_tried;
    int rounds;                     //  bids made again after all refused
    uint8_t session_key [32];
    int64_t pid;
    int64_t start_time;
    int64_t deadline_us;            //  answer by then
    int64_t retry_us;               //  RETRY_REMOTE: next bid, or 0
    char exclude [8][OSMOSE_ID_SIZE + 1];   //  providers not to ask (vanished)
    size_t excluded;
    json_t *migrate;                //  a migration: where the lease was, why
} leasing_acquire_t;

//  A lease we hold for a local program. A local lease (this device for
//  its own programs: LOCAL_FIRST, or the RETRY_LOCAL fallback) is ours
//  alone: no bidding, no caps (those are for others), no renewal
typedef struct {
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    int64_t pid;
    int64_t start_time;
    bool local;
    int cpus, gpus, npus;
    int64_t memory_mb;
    int64_t latency_bound_us;       //  the request's
    char provider [OSMOSE_ID_SIZE + 1];
    int64_t placed_us;              //  when it was granted
    const char *replaced;           //  why we gave it back, or NULL
} leasing_holder_t;

//  A member as a candidate, with the strings the candidate borrows
typedef struct {
    osmose_proximity_candidate_t candidate;
    char id [OSMOSE_ID_SIZE + 1];
    char name [64];
    char location [OSMOSE_LOCATION_MAX_LENGTH + 1];
    char work [256];
    const char *state;
    bool is_self;
    int64_t rtt_floor_us;           //  least RTT of late (0 self, -1 unknown)
    const char *refusing;           //  why it lends nothing now, or NULL
} leasing_member_t;

struct _osmose_leasing_t {
    osmose_config_t *config;
    osmose_identity_t *identity;
    osmose_trust_t *trust;
    osmose_mesh_t *mesh;
    osmose_api_t *api;
    osmose_leasing_log_fn *log;
    void *log_arg;
    osmose_market_t *market;
    osmose_work_t *work;
    osmose_exec_t *exec;            //  NULL until the first grant
    bool exec_failed;               //  tried and could not start: say it once
    osmose_poller_t *poller;        //  borrowed, to add the executor later
    bool battery_low;               //  on battery below policy/battery_min_percent
    bool overloaded;                //  load past policy/load_max_percent
    int64_t next_owner_check;       //  of battery and load, every 2 s
    osmose_resources_t resources;
    zlistx_t *acquires;             //  leasing_acquire_t
    zhashx_t *holders;              //  lease hex -> leasing_holder_t
    zhashx_t *replaced;             //  lease hex -> why we re-placed it (text)
    int64_t next_holder_check;
    leasing_member_t *members;            //  scratch for candidates
    uint64_t migrations;            //  leases re-placed for our programs
    uint64_t last_completed;        //  executor's count at the last sample
    int64_t next_sample;            //  of tasks/s, once a second
    double per_s [60];              //  the last minute, oldest first
    size_t samples;
    //  Holders seen in our /proc (pid, start time): a program acquires
    //  many leases, and reading /proc/PID/stat each time costs ~40 us of
    //  the acquisition. Seen once is seen for good: a pid namespace does
    //  not change, and a holder gone since is caught by the holder check.
    int64_t seen_pid [8], seen_start [8];
    size_t seen_next;
};

//  Fill self->members with candidates: alive members advertising a work
//  endpoint (WITH_SELF: us too; ONLY_SELF: us alone; ALL_STATES: every
//  member, for views). Returns how many.
size_t
    leasing_members (osmose_leasing_t *self, bool with_self, bool only_self, bool all_states);
leasing_member_t *
    leasing_member_find (osmose_leasing_t *self, size_t count, const char *id);
//  ENTRY as the candidate that the alive member ID is; false when it is
//  not alive or advertises no work endpoint
bool
    leasing_member_load (osmose_leasing_t *self, const char *id, leasing_member_t *entry);
int
    leasing_parse_request (json_t *request, leasing_acquire_t *acquire, char *error,
                           size_t error_size);
void
    leasing_answer_error (osmose_leasing_t *self, leasing_acquire_t *acquire, int code,
                          const char *text);
int
    leasing_answer_lease (osmose_leasing_t *self, leasing_acquire_t *acquire,
                          leasing_member_t *provider, const uint8_t *lease_id,
                          const uint8_t *provider_key, const uint8_t *token, size_t token_size,
                          const osmose_token_t *grant, int64_t ttl_us, bool local);
void
    leasing_exec_require (osmose_leasing_t *self);
//  Send what the market queued and act on its events: how many there were
size_t
    leasing_drain (osmose_leasing_t *self);
//  The start time of process PID (field 22 of /proc/PID/stat), or -1:
//  with the pid, it names a holder (pids are reused, start times are not)
int64_t
    leasing_start_time (int64_t pid);
//  The work endpoint's question (osmose_work_valid_fn, ARG the service):
//  is LEASE_ID live and held by CLIENT_KEY? 0 or OSMOSE_ENOLEASE. A local
//  lease is ours alone: only our own key holds it
int
    leasing_lease_valid (void *arg, const uint8_t *lease_id, const uint8_t *client_key);
int
    leasing_give_back (osmose_leasing_t *self, const char *lease, const uint8_t *lease_id,
                       const char *reason);
//  osmose_leasing_place.c
int
    leasing_local_lease (osmose_leasing_t *self, leasing_acquire_t *acquire);
bool
    leasing_local_room (osmose_leasing_t *self, const leasing_acquire_t *acquire);
void
    leasing_replace (osmose_leasing_t *self, int64_t now);
//  osmose_leasing_views.c
osmose_api_fn leasing_api_leases, leasing_api_near, leasing_api_tasks;
void
    leasing_sample (osmose_leasing_t *self, int64_t now);

#endif
