/*  osmose_market_int.h: the market engine's state, shared by its three
    files: osmose_market.c (life cycle, queues, dispatch, queries),
    osmose_market_provider.c and osmose_market_client.c. Not for anyone
    else.
*/
#ifndef OSMOSE_MARKET_INT_H_INCLUDED
#define OSMOSE_MARKET_INT_H_INCLUDED

#include "osmose_market.h"

//  Provider: one reservation (behind a bid) or one lease
typedef enum { S_RESERVED = 1, S_LEASED = 2 } osmose_market_grant_state_t;

typedef struct {
    osmose_market_grant_state_t state;
    char client [OSMOSE_ID_SIZE + 1];
    uint8_t client_key [OSMOSE_KEY_SIZE];
    uint64_t request;
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    int cpus, gpus, npus;
    int64_t memory_mb;
    int64_t ttl_us;
    int64_t expiry_us;              //  hold's end, or lease expiry
    uint32_t renewals;
    uint16_t token_size;            //  the token its bid carried
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];
} osmose_market_grant_t;

//  Client: one candidate asked in a request
typedef enum {
    S_PENDING = 1, S_BID, S_REFUSED, S_OBTAINED, S_FAILED, S_REJECTED
} osmose_market_asked_state_t;

typedef struct {
    char id [OSMOSE_ID_SIZE + 1];
    char location [OSMOSE_LOCATION_MAX_LENGTH + 1];
    osmose_proximity_candidate_t fresh;     //  advert, updated by the bid
    int64_t score;
    int64_t topology_us;                    //  the part of score that is not RTT
    osmose_market_asked_state_t state;
    int64_t bid_valid_until;
    //  The lease its bid carried: ours once we award it
    uint8_t key [OSMOSE_KEY_SIZE];
    uint32_t ttl_ms;
    uint16_t token_size;
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];
} osmose_market_asked_t;

typedef struct {
    uint64_t id;
    osmose_market_request_t spec;
    int64_t timeout_us;
    int64_t deadline_us;
    int64_t started_us;
    int64_t recheck_us;             //  when a late candidate stops blocking
    bool waiting_first;             //  past the bid timeout, with no bid yet
    bool waited_nearer;             //  the bid timeout was stretched once
    bool timed_out;                 //  someone stayed silent
    int obtained;
    size_t asked_count;
    osmose_market_asked_t asked [];
} osmose_market_pending_t;

//  Client: a lease held
typedef struct {
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    char provider [OSMOSE_ID_SIZE + 1];
    uint8_t provider_key [OSMOSE_KEY_SIZE];
    uint64_t request;
    int cpus, gpus, npus;
    int64_t memory_mb;
    int64_t ttl_us;
    int64_t expiry_us;              //  our clock: by the last confirmed renewal
    int64_t next_renew_us;
    int64_t renew_sent_us;          //  0: no RENEW outstanding
    uint32_t renewals;
    uint16_t token_size;
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];
} osmose_market_held_t;

typedef struct {
    char to [OSMOSE_ID_SIZE + 1];
    uint8_t *data;
    size_t size;
} osmose_market_queued_t;

struct _osmose_market_t {
    osmose_identity_t *identity;    //  borrowed
    char id [OSMOSE_ID_SIZE + 1];
    osmose_market_settings_t settings;
    bool allow_all;
    char *allow;                    //  " id id id " for substring lookup
    osmose_resources_t resources;
    int64_t now_us;                 //  time of the last call

    osmose_market_grant_t *grants;  //  provider: reservations and leases
    size_t grant_count, grant_size;
    size_t reserved_count;

    osmose_market_pending_t **requests;     //  client: open requests
    size_t request_count, request_size;
    uint64_t next_request;
    osmose_market_held_t *held;     //  client: leases held
    size_t held_count, held_size;

    osmose_market_queued_t *out;    //  outgoing, FIFO
    size_t out_head, out_tail, out_size;
    uint8_t *handed;                //  data of the last message handed out
    osmose_market_event_t *events;  //  FIFO
    size_t event_head, event_tail, event_size;

    struct {                        //  client: who refused us last, and when
        char id [OSMOSE_ID_SIZE + 1];
        int64_t at_us;
    } refusers [OSMOSE_MARKET_REFUSERS];
    size_t next_refuser;            //  the slot the next one takes

    osmose_market_msg_t *scratch;   //  decoded incoming message
    osmose_market_msg_t *reply;     //  outgoing message being built
    osmose_market_counters_t counters;
};

//  osmose_market.c
osmose_market_msg_t *
    osmose_market_outgoing (osmose_market_t *self, osmose_market_kind_t kind);
int
    osmose_market_send (osmose_market_t *self, const char *to, const osmose_market_msg_t *msg);
void
    osmose_market_emit (osmose_market_t *self, const osmose_market_event_t *event);
bool
    osmose_market_grow (void **array, size_t *size, size_t count, size_t item_size);

//  osmose_market_provider.c
void
    osmose_market_provider_receive (osmose_market_t *self, const char *from,
                                    const uint8_t *from_key, const osmose_market_msg_t *msg);
void
    osmose_market_provider_tick (osmose_market_t *self);
int64_t
    osmose_market_provider_deadline (osmose_market_t *self);
void
    osmose_market_provider_used (osmose_market_t *self, int *cpus, int *gpus, int *npus,
                                 int64_t *memory_mb);
//  GRANT a reservation: by AWARD, or by the program's OPEN that overtook it
void
    osmose_market_provider_grant (osmose_market_t *self, osmose_market_grant_t *grant);

//  osmose_market_client.c
void
    osmose_market_client_receive (osmose_market_t *self, const char *from,
                                  const uint8_t *from_key, const osmose_market_msg_t *msg);
void
    osmose_market_client_tick (osmose_market_t *self);
int64_t
    osmose_market_client_deadline (osmose_market_t *self);
void
    osmose_market_client_peer_down (osmose_market_t *self, const char *id);
void
    osmose_market_client_destroy (osmose_market_t *self);

#endif
