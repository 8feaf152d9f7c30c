/*  osmose_members_int.h: what the files of the membership engine share
    (osmose_members.c: table and record rules; osmose_members_proto.c:
    timers and messages; osmose_members_view.c: probe rotation and active
    view). Private: nothing outside the engine includes it. What these
    files share is named members_*, what one file keeps to itself s_*.
*/
#ifndef OSMOSE_MEMBERS_INT_H_INCLUDED
#define OSMOSE_MEMBERS_INT_H_INCLUDED

#include "osmose_members.h"
#include "osmose_members_msg.h"

#define MEMBERS_SEEDS_MAX 16
#define MEMBERS_CONFIRM_MAX 8         //  suspecters remembered per suspicion
#define MEMBERS_RELAYS 64             //  PING_REQs we are probing for
#define MEMBERS_VIEW_MAX 80
#define MEMBERS_HELPERS_MAX 16     //  indirect_probes at most
#define MEMBERS_TX_DONE (1 << 30)  //  tx_sent of old news           //  active_view (64) + random_view (16)

typedef enum {
    MEMBERS_PROBE_NONE = 0,
    MEMBERS_PROBE_DIRECT,             //  PING sent, waiting for ACK
    MEMBERS_PROBE_INDIRECT            //  PING_REQs sent, waiting for a relayed ACK
} members_probe_phase_t;

//  The least RTT heard over the last one to two windows: the path's own
//  delay, which a busy peer's queueing does not raise
typedef struct {
    int64_t least;              //  this window's least sample, -1 none
    int64_t before;             //  the last window's, -1 none
    int64_t window_at;          //  when this window began
} members_rtt_floor_t;

#define MEMBERS_RTT_WINDOW_US   INT64_C (10000000)

typedef struct {
    char id [OSMOSE_ID_SIZE + 1];
    uint8_t idb [MEMBERS_IDB];
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
    members_rtt_floor_t rtt_floor;
    int64_t last_heard;
    int64_t told_at;                //  we last sent it our record to mend a stale accusation
    uint8_t pulse [OSMOSE_MEMBERS_PULSE_MAX];   //  its own word on its fast figures
    size_t pulse_size;
    int64_t pulse_at;           //  when heard, -1 never
    uint32_t tiebreak;          //  random order among equals in the view
    //  Suspicion (Lifeguard): who suspects it, and until when
    int64_t suspect_start, suspect_deadline;
    uint8_t suspecters [MEMBERS_CONFIRM_MAX][MEMBERS_IDB];
    int suspecter_count;
    uint8_t gossip_suspecter [MEMBERS_IDB];
    //  Dissemination: messages this member's news has ridden; it rides
    //  until members_retransmits (checked at send time, so news told when
    //  the mesh was small still goes far enough as it grows)
    int tx_sent;
    int tx_free;                //  and to newer members, uncounted
    int64_t news_at;            //  when its news began
    int64_t added_at;           //  when it entered our table
    int64_t pushed_at;          //  when it last pushed news to us (its view holds us)
    //  Our probe of it
    members_probe_phase_t probe_phase;
    uint32_t probe_seq;
    int64_t probe_sent, probe_deadline, probe_timeout;
    bool probe_now;             //  evidence says: probe it out of turn
    int64_t table_sent;         //  when we last sent it our whole table
    int probe_helpers, probe_nacks;     //  PING_REQs sent, NACKs back
    uint8_t helpers [MEMBERS_HELPERS_MAX][MEMBERS_IDB];    //  who may answer for it
} members_entry_t;

typedef struct {
    char id [OSMOSE_ID_SIZE + 1];
    char endpoint [OSMOSE_MEMBERS_TEXT_MAX + 1];
    uint8_t public_key [OSMOSE_KEY_SIZE];
} members_seed_t;

typedef struct {
    uint32_t our_seq;           //  our PING to the target
    uint32_t their_seq;         //  the requester's probe
    char requester [OSMOSE_ID_SIZE + 1];
    uint8_t target [MEMBERS_IDB];
    int64_t nack_at;            //  NACK the requester then, unless acked
    int64_t expires;            //  0 when the slot is free
} members_relay_t;

struct _osmose_members_t {
    osmose_members_params_t params;
    int64_t now;
    uint64_t rng;
    members_entry_t *me;
    members_entry_t **members;       //  the table, us included
    size_t size, capacity;
    zhashx_t *index;            //  id -> members_entry_t *
    zlistx_t *outbox;           //  osmose_members_out_t *
    uint8_t *app;               //  our app blob
    size_t app_size;
    members_seed_t seeds [MEMBERS_SEEDS_MAX];
    size_t seed_count;
    bool joined;                //  some peer sent us its table
    int early_syncs;            //  quick syncs still due after joining
    bool leaving;
    bool tell_sender;           //  the message's sender needs our own record
    int health;                 //  Lifeguard local health multiplier
    uint32_t seq;
    members_relay_t relays [MEMBERS_RELAYS];
    size_t relay_next;
    members_entry_t **rotation;      //  probe order, reshuffled each round
    size_t rotation_size, rotation_capacity, rotation_pos;
    uint64_t probes_started;    //  every fourth probe walks the rotation
    size_t view_pos;            //  next view member to probe
    members_entry_t *near [MEMBERS_VIEW_MAX], *random [MEMBERS_VIEW_MAX];
    size_t near_size, random_size;
    int64_t rtt_default;        //  assumed RTT of members not yet measured
    int64_t probe_next, gossip_next, sync_next, view_next, join_next;
    int64_t asked;              //  the deadline we last asked to be ticked at
    osmose_members_stats_t stats;
};

//  osmose_members.c
uint64_t members_random (osmose_members_t *self);
members_entry_t *members_find (osmose_members_t *self, const uint8_t *idb);
int members_retransmits (osmose_members_t *self);
void members_news (osmose_members_t *self, members_entry_t *member);
void members_suspect (osmose_members_t *self, members_entry_t *member,
                      uint32_t incarnation, const uint8_t *suspecter);
void members_confirm (osmose_members_t *self, members_entry_t *member,
                      const uint8_t *suspecter);
int64_t members_suspect_timeout (osmose_members_t *self, int confirmations);
void members_reap (osmose_members_t *self, size_t index);

//  osmose_members_proto.c
void members_rtt_floor_init (members_rtt_floor_t *floor);
void members_rtt_floor_add (members_rtt_floor_t *floor, int64_t sample, int64_t now);
int64_t members_rtt_floor (const members_rtt_floor_t *floor);
void members_send (osmose_members_t *self, const char *to, uint8_t type,
                   uint32_t seq, const uint8_t *target);
void members_send_join (osmose_members_t *self, const char *to);
void members_send_self (osmose_members_t *self, const char *to);
void members_handle (osmose_members_t *self, const char *from,
                     members_entry_t *sender, const members_msg_header_t *header);

//  osmose_members_view.c
void members_rotation_insert (osmose_members_t *self, members_entry_t *member);
members_entry_t *members_rotation_next (osmose_members_t *self);
members_entry_t *members_probe_next (osmose_members_t *self);
bool members_view_has (osmose_members_t *self, const members_entry_t *member);
bool members_linked (osmose_members_t *self, const members_entry_t *member);
size_t members_pick (osmose_members_t *self, members_entry_t **picked, size_t wanted,
                     const members_entry_t *besides);
void members_view_update (osmose_members_t *self);
void members_view_forget (osmose_members_t *self, members_entry_t *member);

#endif
