/*  osmose_members_int.h: what the files of the membership engine share
    (osmose_members.c: table and record rules; osmose_members_proto.c:
    timers and messages; osmose_members_view.c: probe rotation and active
    view). Private: nothing outside the engine includes it.
*/
#ifndef OSMOSE_MEMBERS_INT_H_INCLUDED
#define OSMOSE_MEMBERS_INT_H_INCLUDED

#include "osmose_members.h"
#include "osmose_members_msg.h"

#define S_SEEDS_MAX 16
#define S_CONFIRM_MAX 8         //  suspecters remembered per suspicion
#define S_RELAYS 64             //  PING_REQs we are probing for
#define S_VIEW_MAX 80           //  active_view (64) + random_view (16)

typedef enum {
    S_PROBE_NONE = 0,
    S_PROBE_DIRECT,             //  PING sent, waiting for ACK
    S_PROBE_INDIRECT            //  PING_REQs sent, waiting for a relayed ACK
} s_probe_phase_t;

typedef struct {
    char id [OSMOSE_ID_SIZE + 1];
    uint8_t idb [S_IDB];
    osmose_member_state_t state;
    uint32_t incarnation;
    int64_t state_since;
    bool is_self;
    //  Its own signed info, as received, and the fields decoded from it
    uint8_t *info_wire;
    size_t info_wire_size;
    uint32_t info_incarnation;
    uint8_t public_key [OSMOSE_KEY_SIZE];
    char endpoint [OSMOSE_MEMBERS_TEXT_MAX + 1];
    char name [OSMOSE_MEMBERS_TEXT_MAX + 1];
    char location [OSMOSE_MEMBERS_TEXT_MAX + 1];
    const uint8_t *app;         //  points into info_wire
    size_t app_size;
    int64_t rtt_us;             //  EWMA, -1 unknown
    int64_t last_heard;
    uint32_t tiebreak;          //  random order among equals in the view
    //  Suspicion (Lifeguard): who suspects it, and until when
    int64_t suspect_start, suspect_deadline;
    uint8_t suspecters [S_CONFIRM_MAX][S_IDB];
    int suspecter_count;
    uint8_t gossip_suspecter [S_IDB];
    //  Dissemination: messages this member's news still rides
    int tx_left;
    //  Our probe of it
    s_probe_phase_t probe_phase;
    uint32_t probe_seq;
    int64_t probe_sent, probe_deadline, probe_timeout;
    bool probe_now;             //  evidence says: probe it out of turn
    int probe_helpers, probe_nacks;     //  PING_REQs sent, NACKs back
} s_member_t;

typedef struct {
    char id [OSMOSE_ID_SIZE + 1];
    char endpoint [OSMOSE_MEMBERS_TEXT_MAX + 1];
    uint8_t public_key [OSMOSE_KEY_SIZE];
} s_seed_t;

typedef struct {
    uint32_t our_seq;           //  our PING to the target
    uint32_t their_seq;         //  the requester's probe
    char requester [OSMOSE_ID_SIZE + 1];
    uint8_t target [S_IDB];
    int64_t nack_at;            //  NACK the requester then, unless acked
    int64_t expires;            //  0 when the slot is free
} s_relay_t;

struct _osmose_members_t {
    osmose_members_params_t params;
    int64_t now;
    uint64_t rng;
    s_member_t *me;
    s_member_t **members;       //  the table, us included
    size_t size, capacity;
    zhashx_t *index;            //  id -> s_member_t *
    zlistx_t *outbox;           //  osmose_members_out_t *
    uint8_t *app;               //  our app blob
    size_t app_size;
    s_seed_t seeds [S_SEEDS_MAX];
    size_t seed_count;
    bool joined;                //  some peer sent us its table
    bool leaving;
    int health;                 //  Lifeguard local health multiplier
    uint32_t seq;
    s_relay_t relays [S_RELAYS];
    size_t relay_next;
    s_member_t **rotation;      //  probe order, reshuffled each round
    size_t rotation_size, rotation_capacity, rotation_pos;
    s_member_t *near [S_VIEW_MAX], *random [S_VIEW_MAX];
    size_t near_size, random_size;
    int64_t probe_next, gossip_next, sync_next, view_next, join_next;
    osmose_members_stats_t stats;
};

//  osmose_members.c
uint64_t s_members_random (osmose_members_t *self);
s_member_t *s_members_find (osmose_members_t *self, const uint8_t *idb);
int s_members_retransmits (osmose_members_t *self);
void s_members_suspect (osmose_members_t *self, s_member_t *member,
                        uint32_t incarnation, const uint8_t *suspecter);
void s_members_confirm (osmose_members_t *self, s_member_t *member,
                        const uint8_t *suspecter);
int64_t s_members_suspect_timeout (osmose_members_t *self, int confirmations);
void s_members_reap (osmose_members_t *self, size_t index);

//  osmose_members_proto.c
void s_members_send (osmose_members_t *self, const char *to, uint8_t type,
                     uint32_t seq, const uint8_t *target);
void s_members_send_join (osmose_members_t *self, const char *to);
void s_members_handle (osmose_members_t *self, const char *from,
                       s_member_t *sender, const s_msg_header_t *header);

//  osmose_members_view.c
void s_members_rotation_insert (osmose_members_t *self, s_member_t *member);
s_member_t *s_members_rotation_next (osmose_members_t *self);
void s_members_view_update (osmose_members_t *self);
void s_members_view_forget (osmose_members_t *self, s_member_t *member);

#endif
