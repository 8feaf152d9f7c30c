/*  osmose_members.c: the membership engine (see osmose_members.h).

    The table is an array of members (us included) with an id index. Each
    member carries its own probe, suspicion and dissemination state, so
    timers are plain fields scanned on tick: the table is small (invariant
    9), and a scan keeps the engine free of timer structures. Messages are
    built into the outbox; the active view lives in osmose_members_view.c.
*/
#include "osmose_prelude.h"
#include "osmose_members.h"
#include "osmose_members_int.h"

void
osmose_members_params_default (osmose_members_params_t *params)
{
    memset (params, 0, sizeof (*params));
    params->probe_interval_ms = 200;
    params->probe_timeout_ms = 100;
    params->indirect_probes = 3;
    params->suspect_timeout_ms = 500;
    params->suspect_max_mult = 3;
    params->suspect_confirmations = 3;
    params->gossip_interval_ms = 50;
    params->gossip_fanout = 3;
    params->sync_interval_ms = 10000;
    params->join_retry_ms = 500;
    params->reap_ms = 60000;
    params->retransmit_mult = 3;
    //  Over TCP there is no datagram to fit: a join burst leaves every
    //  peer with news of every member, and a small budget spreads it over
    //  many rounds (4 KB took 32 peers a second to see all on 2 cores)
    params->max_message_bytes = 32768;
    params->health_max = 4;
    params->active_view = 6;
    params->random_view = 2;
    params->hop_weight_us = 1000;
    params->max_members = 4096;
    params->require_signatures = true;
}

void
osmose_members_params_from_config (osmose_members_params_t *params,
                                   osmose_config_t *config)
{
    osmose_members_params_default (params);
    params->probe_interval_ms = (int) osmose_config_int (config, "mesh/probe_interval_ms");
    params->probe_timeout_ms = (int) osmose_config_int (config, "mesh/probe_timeout_ms");
    params->indirect_probes = (int) osmose_config_int (config, "mesh/indirect_probes");
    params->suspect_timeout_ms = (int) osmose_config_int (config, "mesh/suspect_timeout_ms");
    params->gossip_interval_ms = (int) osmose_config_int (config, "mesh/gossip_interval_ms");
    params->sync_interval_ms = (int) osmose_config_int (config, "mesh/sync_interval_ms");
    params->active_view = (int) osmose_config_int (config, "mesh/active_view");
    params->random_view = (int) osmose_config_int (config, "mesh/random_view");
    params->hop_weight_us = (int) osmose_config_int (config, "proximity/topology_weight_us");
}

const char *
osmose_member_state_name (int state)
{
    switch (state) {
        case OSMOSE_MEMBER_ALIVE: return "alive";
        case OSMOSE_MEMBER_SUSPECT: return "suspect";
        case OSMOSE_MEMBER_DEAD: return "dead";
        case OSMOSE_MEMBER_LEFT: return "left";
        default: return "none";
    }
}

#define S_TELL_US 1000000       //  mend a sender's stale accusation at most this often

const char *
osmose_members_kind_name (int kind)
{
    static const char *names [OSMOSE_MEMBERS_KINDS] = {
        NULL, "ping", "ack", "ping_req", "gossip", "join", "sync_hash", "sync_full", "nack"
    };
    return kind > 0 && kind < OSMOSE_MEMBERS_KINDS? names [kind]: "none";
}

uint64_t
members_random (osmose_members_t *self)
{
    //  xorshift64*: deterministic per seed, so simulations replay
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * UINT64_C (2685821657736338717);
}

static void
s_member_free (members_entry_t **member_p)
{
    if (*member_p) {
        free ((*member_p)->info_wire);
        free (*member_p);
        *member_p = NULL;
    }
}

members_entry_t *
members_find (osmose_members_t *self, const uint8_t *idb)
{
    char id [OSMOSE_ID_SIZE + 1];
    members_msg_id_format (idb, id);
    return (members_entry_t *) zhashx_lookup (self->index, id);
}

//  How many messages an update rides: lambda * log2(n + 1), rounded up
int
members_retransmits (osmose_members_t *self)
{
    size_t n = osmose_members_alive (self) + 1;
    int bits = 0;
    while ((size_t) 1 << bits < n)
        bits++;
    return self->params.retransmit_mult * (bits > 0? bits: 1);
}

//  MEMBER has news: it rides the next members_retransmits messages.
//  Members learned from a table count as news too: whoever missed them
//  (a member of an early join burst, say) must hear them from someone.
void
members_news (osmose_members_t *self, members_entry_t *member)
{
    member->tx_sent = 0;
    member->news_at = self->now;
    member->tx_free = 0;
}

static void
s_changed (osmose_members_t *self, members_entry_t *member, int old_state)
{
    if (self->params.on_change
    && (old_state != (int) member->state || member->state == OSMOSE_MEMBER_ALIVE))
        self->params.on_change (self->params.change_arg, member->id,
                                old_state, member->state);
}

static void
s_set_state (osmose_members_t *self, members_entry_t *member,
             osmose_member_state_t state, uint32_t incarnation)
{
    int old_state = member->state;
    member->state = state;
    member->incarnation = incarnation;
    member->state_since = self->now;
    members_news (self, member);
    if (state != OSMOSE_MEMBER_SUSPECT)
        member->suspecter_count = 0;
    if (state == OSMOSE_MEMBER_DEAD || state == OSMOSE_MEMBER_LEFT)
        member->probe_phase = MEMBERS_PROBE_NONE;
    s_changed (self, member, old_state);
}

//  Replace MEMBER's info with the verified RECORD's, copying the wire bytes
static int
s_member_set_info (members_entry_t *member, const members_record_t *record)
{
    uint8_t *wire = (uint8_t *) malloc (record->info_wire_size);
    if (!wire)
        return OSMOSE_ENOMEM;
    memcpy (wire, record->info_wire, record->info_wire_size);
    free (member->info_wire);
    member->info_wire = wire;
    member->info_wire_size = record->info_wire_size;
    member->info_incarnation = record->info_incarnation;
    memcpy (member->public_key, record->public_key, OSMOSE_KEY_SIZE);
    memcpy (member->endpoint, record->endpoint, record->endpoint_size);
    member->endpoint [record->endpoint_size] = 0;
    memcpy (member->name, record->name, record->name_size);
    member->name [record->name_size] = 0;
    memcpy (member->location, record->location, record->location_size);
    member->location [record->location_size] = 0;
    member->app_size = record->app_size;
    member->app = record->app_size?
        wire + (record->app - record->info_wire): NULL;
    return 0;
}

static members_entry_t *
s_member_add (osmose_members_t *self, const members_record_t *record)
{
    if (self->size == self->capacity) {
        size_t capacity = self->capacity? self->capacity * 2: 16;
        members_entry_t **members = (members_entry_t **)
            realloc (self->members, capacity * sizeof (members_entry_t *));
        if (!members)
            return NULL;
        self->members = members;
        self->capacity = capacity;
    }
    members_entry_t *member = (members_entry_t *) zmalloc (sizeof (members_entry_t));
    if (!member)
        return NULL;
    memcpy (member->idb, record->id, MEMBERS_IDB);
    members_msg_id_format (record->id, member->id);
    member->rtt_us = -1;
    members_rtt_floor_init (&member->rtt_floor);
    member->tx_sent = MEMBERS_TX_DONE;
    member->added_at = self->now;
    member->last_heard = -1;
    member->pulse_at = -1;
    member->tiebreak = (uint32_t) members_random (self);
    if (s_member_set_info (member, record)) {
        s_member_free (&member);
        return NULL;
    }
    zhashx_insert (self->index, member->id, member);
    self->members [self->size++] = member;
    //  Join the probe rotation at a random place still ahead of us, so every
    //  member is probed within one rotation (SWIM's bounded detection time)
    members_rotation_insert (self, member);
    return member;
}

//  The member's id must hash from its key and its own key must sign it
static bool
s_record_verify (osmose_members_t *self, const members_record_t *record)
{
    char claimed [OSMOSE_ID_SIZE + 1], derived [OSMOSE_ID_SIZE + 1];
    members_msg_id_format (record->id, claimed);
    osmose_identity_id_of (record->public_key, derived);
    if (!streq (claimed, derived))
        return false;
    if (!self->params.require_signatures)
        return true;
    uint8_t buffer [MEMBERS_INFO_MAX + 32];
    size_t size = members_msg_signed_bytes (buffer, record->id, record->info_wire,
                                            record->info_wire_size);
    return crypto_sign_verify_detached (record->signature, buffer, size,
                                        record->public_key) == 0;
}

//  (Re)build and sign our info at our current incarnation, and spread it
static int
s_self_announce (osmose_members_t *self)
{
    members_entry_t *me = self->me;
    uint8_t wire [MEMBERS_INFO_MAX];
    size_t size = members_msg_encode_info (wire, me->incarnation, me->public_key,
                                           me->endpoint, me->name, me->location,
                                           self->app, self->app_size);
    if (self->params.sign) {
        uint8_t buffer [MEMBERS_INFO_MAX + 32];
        size_t signed_size = members_msg_signed_bytes (buffer, me->idb, wire, size);
        self->params.sign (self->params.sign_arg, buffer, signed_size,
                           wire + size - OSMOSE_SIG_SIZE);
    }
    //  Decode our own record back through the parser, so the fields and
    //  the app pointer are set exactly as for any other member
    uint8_t record_bytes [1 + 2 * MEMBERS_IDB + 4 + MEMBERS_INFO_MAX];
    members_writer_t writer = { record_bytes, sizeof (record_bytes), 0, false };
    members_msg_write_record (&writer, OSMOSE_MEMBER_ALIVE, me->idb, me->incarnation,
                              NULL, wire, size);
    members_reader_t reader = { record_bytes, writer.pos, 0 };
    members_record_t record;
    if (members_msg_record (&reader, &record))
        return OSMOSE_EINVAL;
    int rc = s_member_set_info (me, &record);
    if (rc == 0)
        members_news (self, me);
    return rc;
}

//  Timers of zero would spin the actor; sizes must make sense
static bool
s_params_valid (const osmose_members_params_t *params)
{
    return params->probe_interval_ms > 0 && params->probe_timeout_ms > 0
        && params->indirect_probes >= 0 && params->suspect_timeout_ms > 0
        && params->suspect_max_mult >= 1 && params->suspect_confirmations >= 1
        && params->gossip_interval_ms > 0 && params->gossip_fanout >= 1
        && params->sync_interval_ms > 0 && params->join_retry_ms > 0
        && params->reap_ms > 0 && params->retransmit_mult >= 1
        && params->max_message_bytes >= 256 && params->health_max >= 0
        && params->active_view >= 0 && params->random_view >= 0
        && params->hop_weight_us >= 0 && params->max_members >= 1;
}

osmose_members_t *
osmose_members_new (const char *self_id, const osmose_member_info_t *info,
                    const osmose_members_params_t *params, int64_t now_us)
{
    uint8_t idb [MEMBERS_IDB];
    if (!info || !info->public_key || !members_msg_id_parse (self_id, idb))
        return NULL;
    char derived [OSMOSE_ID_SIZE + 1];
    osmose_identity_id_of (info->public_key, derived);
    if (!streq (derived, self_id))
        return NULL;
    osmose_members_t *self = (osmose_members_t *) zmalloc (sizeof (osmose_members_t));
    if (!self)
        return NULL;
    if (params)
        self->params = *params;
    else
        osmose_members_params_default (&self->params);
    if (!s_params_valid (&self->params)) {
        free (self);
        return NULL;
    }
    self->rng = self->params.seed;
    if (self->rng == 0)
        randombytes_buf (&self->rng, sizeof (self->rng));
    self->rng |= 1;
    //  Probe numbers start anywhere, so a peer cannot guess the next one
    self->seq = (uint32_t) members_random (self);
    self->now = now_us;
    self->index = zhashx_new ();
    self->outbox = zlistx_new ();
    if (!self->index || !self->outbox) {
        osmose_members_destroy (&self);
        return NULL;
    }
    //  Our own member: fill the fields, then sign them into an info section
    members_record_t record;
    memset (&record, 0, sizeof (record));
    memcpy (record.id, idb, MEMBERS_IDB);
    uint8_t wire [MEMBERS_INFO_MAX];
    record.info_wire = wire;
    record.info_wire_size = members_msg_encode_info (wire, self->params.incarnation,
        info->public_key, info->endpoint, info->name, info->location, NULL, 0);
    record.public_key = info->public_key;
    record.endpoint = record.name = record.location = "";
    self->me = s_member_add (self, &record);
    if (!self->me) {
        osmose_members_destroy (&self);
        return NULL;
    }
    members_entry_t *me = self->me;
    me->is_self = true;
    snprintf (me->endpoint, sizeof (me->endpoint), "%s", info->endpoint? info->endpoint: "");
    snprintf (me->name, sizeof (me->name), "%s", info->name? info->name: "");
    snprintf (me->location, sizeof (me->location), "%s", info->location? info->location: "");
    me->state = OSMOSE_MEMBER_ALIVE;
    me->incarnation = self->params.incarnation;
    me->state_since = now_us;
    me->last_heard = now_us;
    self->rotation_size = 0;        //  we never probe ourselves
    if (s_self_announce (self)) {
        osmose_members_destroy (&self);
        return NULL;
    }
    self->probe_next = now_us + (int64_t) (members_random (self)
                                           % ((uint64_t) self->params.probe_interval_ms * 1000 + 1));
    self->sync_next = now_us + self->params.sync_interval_ms * INT64_C (1000);
    self->view_next = now_us;
    self->gossip_next = now_us;
    return self;
}

void
osmose_members_destroy (osmose_members_t **self_p)
{
    assert (self_p);
    osmose_members_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++)
        s_member_free (&self->members [i]);
    free (self->members);
    free (self->rotation);
    zhashx_destroy (&self->index);
    if (self->outbox) {
        osmose_members_out_t *out;
        while ((out = (osmose_members_out_t *) zlistx_detach (self->outbox, NULL))) {
            free (out->data);
            free (out);
        }
        zlistx_destroy (&self->outbox);
    }
    free (self->app);
    free (self);
    *self_p = NULL;
}

int
osmose_members_join (osmose_members_t *self, const char *id,
                     const char *endpoint, const uint8_t *public_key,
                     int64_t now_us)
{
    uint8_t idb [MEMBERS_IDB];
    if (!members_msg_id_parse (id, idb) || !endpoint || !public_key
    ||  strlen (endpoint) > OSMOSE_MEMBERS_TEXT_MAX || streq (id, self->me->id))
        return OSMOSE_EINVAL;
    members_seed_t *seed = NULL;
    for (size_t i = 0; i < self->seed_count; i++)
        if (streq (self->seeds [i].id, id))
            seed = &self->seeds [i];
    if (!seed) {
        if (self->seed_count == MEMBERS_SEEDS_MAX)
            return OSMOSE_ENOMEM;
        seed = &self->seeds [self->seed_count++];
    }
    snprintf (seed->id, sizeof (seed->id), "%s", id);
    snprintf (seed->endpoint, sizeof (seed->endpoint), "%s", endpoint);
    memcpy (seed->public_key, public_key, OSMOSE_KEY_SIZE);
    self->now = now_us;
    members_send_join (self, seed->id);
    self->join_next = now_us + self->params.join_retry_ms * INT64_C (1000);
    return 0;
}

int
osmose_members_set_app (osmose_members_t *self, const uint8_t *app,
                        size_t size, int64_t now_us)
{
    if (size > OSMOSE_MEMBERS_APP_MAX || (size && !app))
        return OSMOSE_ETOOBIG;
    uint8_t *copy = size? (uint8_t *) malloc (size): NULL;
    if (size && !copy)
        return OSMOSE_ENOMEM;
    if (size)
        memcpy (copy, app, size);
    free (self->app);
    self->app = copy;
    self->app_size = size;
    self->now = now_us;
    self->me->incarnation++;
    return s_self_announce (self);
}

int
osmose_members_set_pulse (osmose_members_t *self, const uint8_t *pulse, size_t size,
                          int64_t now_us)
{
    if (size > OSMOSE_MEMBERS_PULSE_MAX || (size && !pulse))
        return OSMOSE_ETOOBIG;
    if (size)
        memcpy (self->me->pulse, pulse, size);
    self->me->pulse_size = size;
    self->me->pulse_at = now_us;
    return 0;
}

int
osmose_members_set_location (osmose_members_t *self, const char *location, int64_t now_us)
{
    if (!location || strlen (location) > OSMOSE_MEMBERS_TEXT_MAX)
        return OSMOSE_EINVAL;
    snprintf (self->me->location, sizeof (self->me->location), "%s", location);
    self->now = now_us;
    self->me->incarnation++;
    return s_self_announce (self);
}

//  Someone says something about us: refute anything but our own truth
static void
s_apply_self (osmose_members_t *self, const members_record_t *record)
{
    members_entry_t *me = self->me;
    bool refute = false;
    if (record->state == OSMOSE_MEMBER_ALIVE)
        //  An older life of ours (before a restart) still circulates
        refute = record->incarnation > me->incarnation
             || (record->incarnation == me->incarnation
              && (record->info_wire_size != me->info_wire_size
               || memcmp (record->info_wire, me->info_wire, me->info_wire_size)));
    else
    if (!self->leaving) {
        refute = record->incarnation >= me->incarnation;
        //  The sender still accuses an older life of ours: our refutation
        //  missed it, so it gets our record straight back
        if (!refute)
            self->tell_sender = true;
    }
    if (!refute)
        return;
    me->incarnation = record->incarnation + 1;
    if (record->state != OSMOSE_MEMBER_ALIVE) {
        self->stats.refutations++;
        //  Being suspected hints that we are the slow one (Lifeguard)
        if (self->health < self->params.health_max)
            self->health++;
    }
    if (s_self_announce (self) == 0)
        //  Tell the accuser's neighbourhood at once
        self->gossip_next = self->now;
}

static void
s_apply_suspect (osmose_members_t *self, members_entry_t *member,
                 const members_record_t *record)
{
    if (member->state == OSMOSE_MEMBER_DEAD || member->state == OSMOSE_MEMBER_LEFT
    ||  record->incarnation < member->incarnation)
        return;
    if (member->state == OSMOSE_MEMBER_SUSPECT
    &&  record->incarnation == member->incarnation)
        members_confirm (self, member, record->suspecter);
    else
        members_suspect (self, member, record->incarnation, record->suspecter);
}

//  Apply one record of a well-formed message
static void
s_apply (osmose_members_t *self, const members_record_t *record)
{
    if (memcmp (record->id, self->me->idb, MEMBERS_IDB) == 0) {
        s_apply_self (self, record);
        return;
    }
    members_entry_t *member = members_find (self, record->id);
    if (!member) {
        //  Only a member's own signed info makes it known to us; news of
        //  the death of a stranger is dropped (and cannot resurrect one)
        if (record->has_info && (record->state == OSMOSE_MEMBER_ALIVE
                              || record->state == OSMOSE_MEMBER_SUSPECT)) {
            char id [OSMOSE_ID_SIZE + 1];
            members_msg_id_format (record->id, id);
            if (!s_record_verify (self, record)
            ||  self->size >= (size_t) self->params.max_members
            || (self->params.admit
             && !self->params.admit (self->params.admit_arg, id, record->public_key))) {
                self->stats.rejected_records++;
                return;
            }
            member = s_member_add (self, record);
            if (!member)
                return;
            member->state = OSMOSE_MEMBER_ALIVE;
            member->incarnation = record->info_incarnation;
            member->state_since = self->now;
            members_news (self, member);
            s_changed (self, member, 0);
            if (record->state == OSMOSE_MEMBER_SUSPECT)
                s_apply_suspect (self, member, record);
        }
        return;
    }
    switch (record->state) {
        case OSMOSE_MEMBER_ALIVE:
            if (record->incarnation <= member->incarnation)
                return;
            if (!s_record_verify (self, record)) {
                self->stats.rejected_records++;
                return;
            }
            if (s_member_set_info (member, record))
                return;
            s_set_state (self, member, OSMOSE_MEMBER_ALIVE, record->incarnation);
            break;
        case OSMOSE_MEMBER_SUSPECT:
            s_apply_suspect (self, member, record);
            break;
        case OSMOSE_MEMBER_DEAD:
            if (record->incarnation >= member->incarnation
            &&  member->state != OSMOSE_MEMBER_DEAD && member->state != OSMOSE_MEMBER_LEFT) {
                s_set_state (self, member, OSMOSE_MEMBER_DEAD, record->incarnation);
                self->stats.deaths++;
            }
            break;
        case OSMOSE_MEMBER_LEFT:
            if (record->incarnation >= member->incarnation
            &&  member->state != OSMOSE_MEMBER_LEFT)
                s_set_state (self, member, OSMOSE_MEMBER_LEFT, record->incarnation);
            break;
        default:
            break;
    }
}

//  Do we probe a member others suspect, to confirm it independently?
//  Lifeguard has everyone do so, which over connections is a storm: a
//  probe of a member outside our links opens a CurveZMQ connection, and
//  the suspect, already slow perhaps, must accept and answer every one
//  (a hundred of them at 128 peers). Its neighbours confirm (it is in our
//  view, or we are linked), and a few others by lot, about as many as the
//  indirect probes
static bool
s_confirms (osmose_members_t *self, members_entry_t *member)
{
    if (members_view_has (self, member) || (self->params.linked && members_linked (self, member)))
        return true;
    uint64_t wanted = (uint64_t) self->params.indirect_probes + 1;
    uint64_t alive = (uint64_t) osmose_members_alive (self);
    return alive <= 4 * wanted || members_random (self) % alive < wanted;
}

void
members_suspect (osmose_members_t *self, members_entry_t *member,
                 uint32_t incarnation, const uint8_t *suspecter)
{
    s_set_state (self, member, OSMOSE_MEMBER_SUSPECT, incarnation);
    member->suspect_start = self->now;
    memcpy (member->suspecters [0], suspecter, MEMBERS_IDB);
    memcpy (member->gossip_suspecter, suspecter, MEMBERS_IDB);
    member->suspecter_count = 1;
    member->suspect_deadline = self->now + members_suspect_timeout (self, 0);
    self->stats.suspicions++;
    //  The accused hears it from us directly, so it can refute at once;
    //  told by others, we probe it ourselves: an independent failure is
    //  the confirmation that brings its timeout down (Lifeguard)
    if (memcmp (suspecter, self->me->idb, MEMBERS_IDB) == 0)
        members_send (self, member->id, MEMBERS_MSG_GOSSIP, 0, NULL);
    else
    if (member->probe_phase == MEMBERS_PROBE_NONE && !self->leaving
    &&  s_confirms (self, member))
        member->probe_now = true;
}

//  Lifeguard: each independent suspecter brings the timeout down from
//  max toward min, linearly over K confirmations
int64_t
members_suspect_timeout (osmose_members_t *self, int confirmations)
{
    int64_t low = self->params.suspect_timeout_ms * INT64_C (1000);
    int64_t high = low * (self->params.suspect_max_mult > 1? self->params.suspect_max_mult: 1);
    int k = self->params.suspect_confirmations > 0? self->params.suspect_confirmations: 1;
    if (confirmations >= k)
        return low;
    return high - (high - low) * confirmations / k;
}

void
members_confirm (osmose_members_t *self, members_entry_t *member, const uint8_t *suspecter)
{
    for (int i = 0; i < member->suspecter_count; i++)
        if (memcmp (member->suspecters [i], suspecter, MEMBERS_IDB) == 0)
            return;
    if (member->suspecter_count >= MEMBERS_CONFIRM_MAX)
        return;
    memcpy (member->suspecters [member->suspecter_count++], suspecter, MEMBERS_IDB);
    memcpy (member->gossip_suspecter, suspecter, MEMBERS_IDB);
    int64_t deadline = member->suspect_start
        + members_suspect_timeout (self, member->suspecter_count - 1);
    if (deadline < member->suspect_deadline)
        member->suspect_deadline = deadline;
    //  Pass the confirmation on: others count it too
    members_news (self, member);
}

//  Pass 1: is the whole message well-formed? Nothing is applied unless so.
static int
s_validate (const uint8_t *data, size_t size, members_msg_header_t *header)
{
    members_reader_t reader = { data, size, 0 };
    int rc = members_msg_header (&reader, header);
    members_record_t record;
    for (uint16_t i = 0; rc == 0 && i < header->count; i++)
        rc = members_msg_record (&reader, &record);
    if (rc == 0 && reader.pos != size)
        rc = OSMOSE_EPROTO;
    return rc;
}

int
osmose_members_receive (osmose_members_t *self, const char *from,
                        const uint8_t *data, size_t size, int64_t now_us)
{
    uint8_t from_idb [MEMBERS_IDB];
    if (!members_msg_id_parse (from, from_idb) || (!data && size))
        return OSMOSE_EINVAL;
    self->now = now_us;
    members_msg_header_t header;
    if (!data || s_validate (data, size, &header)) {
        self->stats.malformed++;
        return OSMOSE_EPROTO;
    }
    self->stats.msgs_in++;
    self->stats.bytes_in += size;
    members_reader_t reader = { data, size, 0 };
    int rc = members_msg_header (&reader, &header);
    assert (rc == 0);
    for (uint16_t i = 0; i < header.count; i++) {
        members_record_t record;
        rc = members_msg_record (&reader, &record);
        assert (rc == 0);
        s_apply (self, &record);
    }
    members_entry_t *sender = members_find (self, from_idb);
    //  Once a second per sender: in a burst of suspicions every message
    //  may carry a stale one about us, and a reply to each is a storm
    if (self->tell_sender) {
        self->tell_sender = false;
        if (!sender || sender->told_at == 0 || now_us - sender->told_at >= S_TELL_US) {
            members_send_self (self, from);
            if (sender)
                sender->told_at = now_us;
        }
    }
    if (sender) {
        sender->last_heard = now_us;
        //  Only its own word: a pulse is never relayed
        memcpy (sender->pulse, header.pulse, header.pulse_size);
        sender->pulse_size = header.pulse_size;
        sender->pulse_at = header.pulse_size? now_us: -1;
    }
    members_handle (self, from, sender, &header);
    return 0;
}

size_t
osmose_members_size (osmose_members_t *self)
{
    return self->size;
}

size_t
osmose_members_alive (osmose_members_t *self)
{
    size_t count = 0;
    for (size_t i = 0; i < self->size; i++)
        if (self->members [i]->state == OSMOSE_MEMBER_ALIVE
        ||  self->members [i]->state == OSMOSE_MEMBER_SUSPECT)
            count++;
    return count;
}

static void
s_member_view (members_entry_t *member, osmose_member_t *view)
{
    view->id = member->id;
    view->endpoint = member->endpoint;
    view->name = member->name;
    view->location = member->location;
    view->public_key = member->public_key;
    view->app = member->app;
    view->app_size = member->app_size;
    view->state = member->state;
    view->incarnation = member->incarnation;
    view->rtt_us = member->rtt_us;
    view->rtt_floor_us = members_rtt_floor (&member->rtt_floor);
    view->last_heard_us = member->last_heard;
    view->state_since_us = member->state_since;
    view->is_self = member->is_self;
    view->pulse = member->pulse_size? member->pulse: NULL;
    view->pulse_size = member->pulse_size;
    view->pulse_us = member->pulse_at;
}

int
osmose_members_at (osmose_members_t *self, size_t index, osmose_member_t *member)
{
    if (index >= self->size)
        return OSMOSE_ERANGE;
    s_member_view (self->members [index], member);
    return 0;
}

int
osmose_members_lookup (osmose_members_t *self, const char *id, osmose_member_t *member)
{
    members_entry_t *found = id? (members_entry_t *) zhashx_lookup (self->index, id): NULL;
    if (!found)
        return OSMOSE_ENOTFOUND;
    s_member_view (found, member);
    return 0;
}

void
osmose_members_stats (osmose_members_t *self, osmose_members_stats_t *stats)
{
    *stats = self->stats;
    stats->health = self->health;
}

//  Forget a DEAD or LEFT member for good
void
members_reap (osmose_members_t *self, size_t index)
{
    members_entry_t *member = self->members [index];
    assert (!member->is_self);
    members_view_forget (self, member);
    self->rotation_size = 0;        //  rebuilt without it
    zhashx_delete (self->index, member->id);
    self->members [index] = self->members [--self->size];
    s_member_free (&member);
}
