/*  osmose_members_proto.c: the membership engine's timers and messages
    (see osmose_members.h): probing (PING, PING_REQ, ACK), gossip of
    pending updates, JOIN and anti-entropy push-pull, and the outbox.
*/
#include "osmose_prelude.h"
#include "osmose_members.h"
#include "osmose_members_int.h"

typedef struct {
    members_writer_t writer;
    members_msg_header_t header;
    size_t budget;
    bool has_self;              //  our own record is in already
} s_builder_t;

//  Every message carries our pulse: the receiver hears our fast figures
//  straight from us, with no record to sign and relay
static bool
s_builder_init (osmose_members_t *self, s_builder_t *builder, uint8_t type, uint32_t seq,
                size_t capacity, size_t budget)
{
    memset (builder, 0, sizeof (*builder));
    builder->header.type = type;
    builder->header.seq = seq;
    builder->header.pulse_size = (uint8_t) self->me->pulse_size;
    memcpy (builder->header.pulse, self->me->pulse, self->me->pulse_size);
    capacity += 1 + self->me->pulse_size;
    budget += 1 + self->me->pulse_size;
    builder->budget = budget;
    builder->writer.data = (uint8_t *) malloc (capacity);
    builder->writer.size = capacity;
    return builder->writer.data != NULL;
}

//  Add a record about MEMBER if it fits (the budget binds unless FORCE)
static bool
s_builder_add (s_builder_t *builder, members_entry_t *member, bool info, bool force)
{
    if (builder->header.count == UINT16_MAX)
        return false;
    members_writer_t *writer = &builder->writer;
    size_t mark = writer->pos;
    bool with_info = member->state == OSMOSE_MEMBER_ALIVE || info;
    members_msg_write_record (writer, (uint8_t) member->state, member->idb,
                              member->incarnation, member->gossip_suspecter,
                              with_info? member->info_wire: NULL, member->info_wire_size);
    if (writer->failed || (writer->pos > builder->budget && !force)) {
        writer->pos = mark;
        writer->failed = false;
        return false;
    }
    builder->header.count++;
    return true;
}

static int
s_by_tx_sent (const void *a, const void *b)
{
    const members_entry_t *x = *(members_entry_t * const *) a;
    const members_entry_t *y = *(members_entry_t * const *) b;
    if (x->is_self != y->is_self)
        return x->is_self? -1: 1;      //  our own news (a refutation) first
    return (x->tx_sent > y->tx_sent) - (x->tx_sent < y->tx_sent);
}

void
members_rtt_floor_init (members_rtt_floor_t *floor)
{
    floor->least = floor->before = -1;
    floor->window_at = 0;
}

//  Two windows, so the floor always covers at least one whole window and
//  follows a path that got longer within two
void
members_rtt_floor_add (members_rtt_floor_t *floor, int64_t sample, int64_t now)
{
    if (floor->least < 0 || now - floor->window_at >= MEMBERS_RTT_WINDOW_US) {
        floor->before = floor->least;
        floor->least = sample;
        floor->window_at = now;
    }
    else
    if (sample < floor->least)
        floor->least = sample;
}

int64_t
members_rtt_floor (const members_rtt_floor_t *floor)
{
    if (floor->before >= 0 && (floor->least < 0 || floor->before < floor->least))
        return floor->before;
    return floor->least;
}

//  Piggyback pending updates, least sent first, under the byte budget.
//  News about the destination itself goes first, so it can refute.
static void
s_builder_piggyback (osmose_members_t *self, s_builder_t *builder, members_entry_t *dest)
{
    bool first = builder->header.count == 0;
    if (dest && dest->state != OSMOSE_MEMBER_ALIVE && !dest->is_self)
        if (s_builder_add (builder, dest, false, true))
            first = false;
    members_entry_t *pending [256];
    size_t count = 0;
    int limit = members_retransmits (self);
    if (self->me->tx_sent < limit && self->me != dest && !builder->has_self)
        pending [count++] = self->me;
    for (size_t i = 0; i < self->size && count < 256; i++)
        if (self->members [i]->tx_sent < limit && self->members [i] != dest
        &&  !self->members [i]->is_self)
            pending [count++] = self->members [i];
    qsort (pending, count, sizeof (members_entry_t *), s_by_tx_sent);
    //  A destination we met after the news began most likely got it with
    //  the table it joined by: tell it anyway, but do not count it (up to
    //  a limit), or a join burst spends every transmission on those who
    //  already know
    for (size_t i = 0; i < count; i++)
        if (s_builder_add (builder, pending [i], false, first)) {
            if (!dest || dest->added_at <= pending [i]->news_at
            ||  pending [i]->tx_free >= limit)
                pending [i]->tx_sent++;
            else
                pending [i]->tx_free++;     //  at most limit of these
            first = false;
        }
}

static void
s_builder_send (osmose_members_t *self, s_builder_t *builder, const char *to)
{
    members_writer_t *writer = &builder->writer;
    size_t offset = members_msg_count_offset (&builder->header);
    size_t end = writer->pos;
    assert (offset + 2 <= end);         //  callers reserve the header first
    writer->pos = 0;
    members_msg_write_header (writer, &builder->header);
    writer->pos = end;
    osmose_members_out_t *out = (osmose_members_out_t *) zmalloc (sizeof (osmose_members_out_t));
    if (!out || writer->failed) {
        free (out);
        free (writer->data);
        return;
    }
    snprintf (out->to, sizeof (out->to), "%s", to);
    members_entry_t *member = (members_entry_t *) zhashx_lookup (self->index, to);
    if (member) {
        snprintf (out->endpoint, sizeof (out->endpoint), "%s", member->endpoint);
        memcpy (out->public_key, member->public_key, OSMOSE_KEY_SIZE);
    }
    else
    for (size_t i = 0; i < self->seed_count; i++)
        if (streq (self->seeds [i].id, to)) {
            snprintf (out->endpoint, sizeof (out->endpoint), "%s", self->seeds [i].endpoint);
            memcpy (out->public_key, self->seeds [i].public_key, OSMOSE_KEY_SIZE);
        }
    //  Buffers are sized for the worst case; give the rest back
    uint8_t *data = (uint8_t *) realloc (writer->data, writer->pos);
    out->data = data? data: writer->data;
    out->size = writer->pos;
    self->stats.msgs_out++;
    self->stats.bytes_out += out->size;
    if (builder->header.type < OSMOSE_MEMBERS_KINDS)
        self->stats.sent_by_kind [builder->header.type]++;
    zlistx_add_end (self->outbox, out);
}

//  Headers are written last (the count is known then): leave room first
static void
s_builder_reserve (s_builder_t *builder)
{
    builder->writer.pos = members_msg_count_offset (&builder->header) + 2;
}

//  The order-independent hash of what we believe about live members
static uint64_t
s_table_hash (osmose_members_t *self)
{
    uint64_t hash = 0;
    for (size_t i = 0; i < self->size; i++) {
        members_entry_t *member = self->members [i];
        if (member->state != OSMOSE_MEMBER_ALIVE && member->state != OSMOSE_MEMBER_SUSPECT)
            continue;
        uint8_t item [MEMBERS_IDB + 5], digest [16];
        memcpy (item, member->idb, MEMBERS_IDB);
        uint32_t inc = member->incarnation;
        item [MEMBERS_IDB] = (uint8_t) (inc >> 24);
        item [MEMBERS_IDB + 1] = (uint8_t) (inc >> 16);
        item [MEMBERS_IDB + 2] = (uint8_t) (inc >> 8);
        item [MEMBERS_IDB + 3] = (uint8_t) inc;
        item [MEMBERS_IDB + 4] = (uint8_t) member->state;
        crypto_generichash (digest, sizeof (digest), item, sizeof (item), NULL, 0);
        uint64_t part;
        memcpy (&part, digest, sizeof (part));
        hash += part;
    }
    return hash;
}

void
members_send (osmose_members_t *self, const char *to, uint8_t type,
              uint32_t seq, const uint8_t *target)
{
    s_builder_t builder;
    size_t budget = (size_t) self->params.max_message_bytes;
    if (!s_builder_init (self, &builder, type, seq, budget + MEMBERS_RECORD_MAX + 32, budget))
        return;
    if (target)
        memcpy (builder.header.target, target, MEMBERS_IDB);
    if (type == MEMBERS_MSG_SYNC_HASH)
        builder.header.hash = s_table_hash (self);
    s_builder_reserve (&builder);
    s_builder_piggyback (self, &builder, (members_entry_t *) zhashx_lookup (self->index, to));
    s_builder_send (self, &builder, to);
}

//  Our whole table: the JOIN answer and the push-pull payload
static void
s_send_table (osmose_members_t *self, const char *to, uint8_t flags)
{
    size_t capacity = 32;
    for (size_t i = 0; i < self->size; i++)
        capacity += 1 + 2 * MEMBERS_IDB + 4 + self->members [i]->info_wire_size;
    s_builder_t builder;
    if (!s_builder_init (self, &builder, MEMBERS_MSG_SYNC_FULL, 0, capacity, capacity))
        return;
    builder.header.flags = flags;
    s_builder_reserve (&builder);
    for (size_t i = 0; i < self->size; i++) {
        members_entry_t *member = self->members [i];
        bool live = member->state == OSMOSE_MEMBER_ALIVE || member->state == OSMOSE_MEMBER_SUSPECT;
        s_builder_add (&builder, member, live, true);
    }
    self->stats.syncs++;
    s_builder_send (self, &builder, to);
}

//  A JOIN, or a GOSSIP to one peer, led by our own record
static void
s_send_self (osmose_members_t *self, const char *to, uint8_t type)
{
    s_builder_t builder;
    size_t budget = (size_t) self->params.max_message_bytes;
    if (!s_builder_init (self, &builder, type, 0, budget + MEMBERS_RECORD_MAX + 32, budget))
        return;
    s_builder_reserve (&builder);
    builder.has_self = s_builder_add (&builder, self->me, true, true);
    if (type == MEMBERS_MSG_GOSSIP)
        s_builder_piggyback (self, &builder, (members_entry_t *) zhashx_lookup (self->index, to));
    s_builder_send (self, &builder, to);
}

void
members_send_join (osmose_members_t *self, const char *to)
{
    s_send_self (self, to, MEMBERS_MSG_JOIN);
}

void
members_send_self (osmose_members_t *self, const char *to)
{
    s_send_self (self, to, MEMBERS_MSG_GOSSIP);
}

static bool
s_is_helper (members_entry_t *member, const uint8_t *idb)
{
    if (member->probe_phase != MEMBERS_PROBE_INDIRECT)
        return false;
    for (int i = 0; i < member->probe_helpers; i++)
        if (memcmp (member->helpers [i], idb, MEMBERS_IDB) == 0)
            return true;
    return false;
}

static void
s_on_ack (osmose_members_t *self, const char *from, uint32_t seq)
{
    uint8_t from_idb [MEMBERS_IDB];
    if (!members_msg_id_parse (from, from_idb))
        return;
    for (size_t i = 0; i < MEMBERS_RELAYS; i++) {
        members_relay_t *relay = &self->relays [i];
        if (relay->expires > self->now && relay->our_seq == seq
        &&  memcmp (relay->target, from_idb, MEMBERS_IDB) == 0) {
            relay->expires = 0;
            members_send (self, relay->requester, MEMBERS_MSG_ACK, relay->their_seq, NULL);
            return;
        }
    }
    for (size_t i = 0; i < self->size; i++) {
        members_entry_t *member = self->members [i];
        if (member->probe_phase == MEMBERS_PROBE_NONE || member->probe_seq != seq)
            continue;
        bool direct = memcmp (member->idb, from_idb, MEMBERS_IDB) == 0;
        if (!direct && !s_is_helper (member, from_idb))
            return;             //  only the target or our helpers may answer
        if (direct) {
            int64_t sample = self->now - member->probe_sent;
            if (sample < 0)
                sample = 0;
            member->rtt_us = member->rtt_us < 0? sample:
                member->rtt_us + (sample - member->rtt_us) / 8;
            members_rtt_floor_add (&member->rtt_floor, sample, self->now);
        }
        member->probe_phase = MEMBERS_PROBE_NONE;
        if (self->health > 0)
            self->health--;
        return;
    }
}

static void
s_on_ping_req (osmose_members_t *self, const char *from, const members_msg_header_t *header)
{
    members_entry_t *target = members_find (self, header->target);
    if (!target || target->is_self || streq (target->id, from))
        return;
    members_relay_t *relay = &self->relays [self->relay_next++ % MEMBERS_RELAYS];
    if (++self->seq == 0)
        self->seq = 1;
    relay->our_seq = self->seq;
    relay->their_seq = header->seq;
    snprintf (relay->requester, sizeof (relay->requester), "%s", from);
    memcpy (relay->target, header->target, MEMBERS_IDB);
    relay->nack_at = self->now + self->params.probe_timeout_ms * INT64_C (1000);
    relay->expires = self->now + 4 * self->params.probe_timeout_ms * INT64_C (1000);
    members_send (self, target->id, MEMBERS_MSG_PING, relay->our_seq, NULL);
}

//  Our whole table goes only to members (a JOIN brings its sender's own
//  record first), at most once per join_retry_ms each: a JOIN is a few
//  bytes and the table is kilobytes, so strangers and floods get nothing
static bool
s_table_allowed (osmose_members_t *self, members_entry_t *sender)
{
    if (!sender)
        return false;
    int64_t gap = self->params.join_retry_ms * INT64_C (1000) / 2;
    if (sender->table_sent && self->now - sender->table_sent < gap)
        return false;
    sender->table_sent = self->now;
    return true;
}

//  A table answers our JOIN with what its sender knew then. Members who
//  joined at about the same time as we did are missing from it, and their
//  news has mostly been spent on peers who knew them before they knew us:
//  compare tables with a random member twice soon, then every interval.
//  Only a join burst leaves such holes; the anti-entropy interval would
//  take seconds to close them
#define S_EARLY_SYNCS 2

static void
s_sync_soon (osmose_members_t *self)
{
    self->early_syncs = S_EARLY_SYNCS;
    int64_t round = self->params.gossip_interval_ms * INT64_C (1000);
    int64_t at = self->now + 3 * round + (int64_t) (members_random (self) % (uint64_t) (3 * round + 1));
    if (at < self->sync_next)
        self->sync_next = at;
}

void
members_handle (osmose_members_t *self, const char *from,
                members_entry_t *sender, const members_msg_header_t *header)
{
    switch (header->type) {
        case MEMBERS_MSG_PING:
            members_send (self, from, MEMBERS_MSG_ACK, header->seq, NULL);
            break;
        case MEMBERS_MSG_ACK:
            s_on_ack (self, from, header->seq);
            break;
        case MEMBERS_MSG_NACK:
            for (size_t i = 0; i < self->size && sender; i++)
                if (self->members [i]->probe_seq == header->seq
                &&  s_is_helper (self->members [i], sender->idb)) {
                    self->members [i]->probe_nacks++;
                    break;
                }
            break;
        case MEMBERS_MSG_PING_REQ:
            s_on_ping_req (self, from, header);
            break;
        case MEMBERS_MSG_GOSSIP:
            if (sender)
                sender->pushed_at = self->now;
            break;
        case MEMBERS_MSG_JOIN:
            if (s_table_allowed (self, sender))
                s_send_table (self, from, 0);
            break;
        case MEMBERS_MSG_SYNC_HASH:
            if (header->hash != s_table_hash (self) && s_table_allowed (self, sender))
                s_send_table (self, from, MEMBERS_SYNC_REPLY_WANTED);
            break;
        case MEMBERS_MSG_SYNC_FULL:
            if (!self->joined)
                s_sync_soon (self);
            self->joined = true;
            if ((header->flags & MEMBERS_SYNC_REPLY_WANTED) && s_table_allowed (self, sender))
                s_send_table (self, from, 0);
            break;
        default:
            break;
    }
}

static void
s_probe_start (osmose_members_t *self, members_entry_t *member)
{
    if (++self->seq == 0)
        self->seq = 1;
    member->probe_seq = self->seq;
    member->probe_phase = MEMBERS_PROBE_DIRECT;
    member->probe_sent = self->now;
    member->probe_now = false;
    //  A member known to be far gets the time its RTT needs
    int64_t timeout = self->params.probe_timeout_ms * INT64_C (1000);
    if (member->rtt_us > 0 && 2 * member->rtt_us > timeout)
        timeout = 2 * member->rtt_us;
    member->probe_timeout = timeout * (self->health + 1);
    member->probe_deadline = self->now + member->probe_timeout;
    self->stats.probes++;
    members_send (self, member->id, MEMBERS_MSG_PING, member->probe_seq, NULL);
}

//  Lifeguard: a failed probe counts against our own health only for the
//  helpers that did not even NACK (or once, when there were none): when
//  the helpers answer, the target is the one in trouble, not us
static void
s_probe_failed (osmose_members_t *self, members_entry_t *member)
{
    int missed = member->probe_phase == MEMBERS_PROBE_INDIRECT?
                 member->probe_helpers - member->probe_nacks: 1;
    member->probe_phase = MEMBERS_PROBE_NONE;
    self->stats.probe_failures++;
    self->health += missed > 0? missed: 0;
    if (self->health > self->params.health_max)
        self->health = self->params.health_max;
    if (member->state == OSMOSE_MEMBER_ALIVE)
        members_suspect (self, member, member->incarnation, self->me->idb);
    else
    if (member->state == OSMOSE_MEMBER_SUSPECT)
        members_confirm (self, member, self->me->idb);
}

//  Direct probe timed out: ask k live members to probe for us, those we
//  are linked with first, so asking opens no connection
static void
s_probe_indirect (osmose_members_t *self, members_entry_t *member)
{
    size_t wanted = self->params.indirect_probes < MEMBERS_HELPERS_MAX?
                    (size_t) self->params.indirect_probes: MEMBERS_HELPERS_MAX;
    members_entry_t *helpers [MEMBERS_HELPERS_MAX];
    int sent = (int) members_pick (self, helpers, wanted, member);
    for (int i = 0; i < sent; i++) {
        members_send (self, helpers [i]->id, MEMBERS_MSG_PING_REQ, member->probe_seq,
                      member->idb);
        memcpy (member->helpers [i], helpers [i]->idb, MEMBERS_IDB);
        self->stats.indirect_probes++;
    }
    if (sent == 0) {
        s_probe_failed (self, member);
        return;
    }
    member->probe_phase = MEMBERS_PROBE_INDIRECT;
    member->probe_helpers = sent;
    member->probe_nacks = 0;
    member->probe_deadline = self->now + 2 * member->probe_timeout;
}

static void
s_tick_members (osmose_members_t *self)
{
    int64_t now = self->now;
    int limit = members_retransmits (self);
    for (size_t i = self->size; i-- > 0;) {
        members_entry_t *member = self->members [i];
        if (member->probe_phase != MEMBERS_PROBE_NONE && now >= member->probe_deadline) {
            if (member->probe_phase == MEMBERS_PROBE_DIRECT)
                s_probe_indirect (self, member);
            else
                s_probe_failed (self, member);
        }
        if (member->probe_now && member->probe_phase == MEMBERS_PROBE_NONE)
            s_probe_start (self, member);
        if (member->state == OSMOSE_MEMBER_SUSPECT && now >= member->suspect_deadline) {
            int old_state = member->state;
            member->state = OSMOSE_MEMBER_DEAD;
            member->state_since = now;
            member->probe_phase = MEMBERS_PROBE_NONE;
            members_news (self, member);
            self->stats.deaths++;
            if (self->params.on_change)
                self->params.on_change (self->params.change_arg, member->id,
                                        old_state, member->state);
        }
        if ((member->state == OSMOSE_MEMBER_DEAD || member->state == OSMOSE_MEMBER_LEFT)
        &&  !member->is_self && member->tx_sent >= limit
        &&  now - member->state_since >= self->params.reap_ms * INT64_C (1000))
            members_reap (self, i);
    }
}

static void
s_tick_relays (osmose_members_t *self)
{
    for (size_t i = 0; i < MEMBERS_RELAYS; i++) {
        members_relay_t *relay = &self->relays [i];
        if (relay->expires > self->now && relay->nack_at && self->now >= relay->nack_at) {
            relay->nack_at = 0;
            members_send (self, relay->requester, MEMBERS_MSG_NACK, relay->their_seq, NULL);
        }
    }
}

static bool
s_pending (osmose_members_t *self)
{
    int limit = members_retransmits (self);
    for (size_t i = 0; i < self->size; i++)
        if (self->members [i]->tx_sent < limit)
            return true;
    return false;
}

//  A member that pushed news to us this recently still holds us in its
//  view: a full view is looked at once a second
#define S_PUSHED_US 1000000

//  Push pending updates to a few members of the active view, and of the
//  views that hold us. Views are chosen one way: a member that joined
//  after the others filled theirs is in none of them, and would hear of
//  those who join after it only when it compares tables (hundreds of
//  milliseconds later). It pushes to its own view, so that view pushes
//  back, over the link it came by (opening no connection)
static void
s_gossip (osmose_members_t *self)
{
    members_entry_t *targets [MEMBERS_VIEW_MAX * 2];
    size_t count = 0;
    for (size_t i = 0; i < self->near_size; i++)
        targets [count++] = self->near [i];
    for (size_t i = 0; i < self->random_size; i++)
        targets [count++] = self->random [i];
    for (size_t i = 0; i < self->size && count < MEMBERS_VIEW_MAX * 2; i++) {
        members_entry_t *member = self->members [i];
        if (member->pushed_at && self->now - member->pushed_at < S_PUSHED_US
        &&  member->state == OSMOSE_MEMBER_ALIVE && !members_view_has (self, member))
            targets [count++] = member;
    }
    int fanout = self->params.gossip_fanout;
    members_entry_t *chosen [16];
    int chosen_size = 0;
    if (fanout > 16)
        fanout = 16;
    for (int i = 0; i < fanout && s_pending (self); i++) {
        members_entry_t *target = NULL;
        if (count > 0) {
            size_t pick = members_random (self) % count;
            target = targets [pick];
            targets [pick] = targets [--count];
        }
        else
        for (int tries = 0; tries < 8 && !target; tries++) {
            target = self->members [members_random (self) % self->size];
            if (target->is_self || target->state == OSMOSE_MEMBER_DEAD
            ||  target->state == OSMOSE_MEMBER_LEFT)
                target = NULL;
            for (int j = 0; j < chosen_size && target; j++)
                if (chosen [j] == target)
                    target = NULL;      //  one push per member per round
        }
        if (!target)
            continue;
        chosen [chosen_size++] = target;
        members_send (self, target->id, MEMBERS_MSG_GOSSIP, 0, NULL);
    }
}

static void
s_tick_sync (osmose_members_t *self)
{
    int64_t interval = self->params.sync_interval_ms * INT64_C (1000);
    int64_t early = 12 * self->params.gossip_interval_ms * INT64_C (1000);
    if (self->early_syncs > 0 && --self->early_syncs > 0 && early < interval)
        interval = early;           //  the second quick one (s_sync_soon)
    //  Anywhere in [interval / 2, interval * 3 / 2], so syncs do not align
    self->sync_next = self->now + interval / 2
                    + (int64_t) (members_random (self) % (uint64_t) (interval + 1));
    //  Any member, linked or not: one connection per interval is cheap, and
    //  a partner from beyond our links is what mixes the tables
    for (int tries = 0; tries < 8; tries++) {
        members_entry_t *member = self->members [members_random (self) % self->size];
        if (!member->is_self && member->state == OSMOSE_MEMBER_ALIVE) {
            members_send (self, member->id, MEMBERS_MSG_SYNC_HASH, 0, NULL);
            return;
        }
    }
}

int64_t
osmose_members_tick (osmose_members_t *self, int64_t now_us)
{
    self->now = now_us;
    //  Ticked far later than we asked: our process is starved, so trust
    //  our own timeouts less for a while (Lifeguard's local health)
    if (self->asked && now_us - self->asked > 2 * self->params.probe_timeout_ms * INT64_C (1000)
    &&  self->health < self->params.health_max)
        self->health++;
    if (!self->leaving) {
        //  Alone again: go back to the seeds
        if (self->joined && osmose_members_alive (self) <= 1)
            self->joined = false;
        if (!self->joined && self->seed_count > 0 && now_us >= self->join_next) {
            for (size_t i = 0; i < self->seed_count; i++)
                members_send_join (self, self->seeds [i].id);
            self->join_next = now_us + self->params.join_retry_ms * INT64_C (1000);
        }
        s_tick_members (self);
        s_tick_relays (self);
        if (now_us >= self->view_next) {
            members_view_update (self);
            //  Fill an empty view soon after joining, then change it slowly
            bool full = self->near_size >= (size_t) self->params.active_view
                     || self->near_size + 1 >= osmose_members_alive (self);
            self->view_next = now_us + (full? 1000000: 100000);
        }
        if (now_us >= self->probe_next) {
            members_entry_t *target = members_probe_next (self);
            if (target)
                s_probe_start (self, target);
            self->probe_next = now_us + self->params.probe_interval_ms
                             * INT64_C (1000) * (self->health + 1);
        }
        if (now_us >= self->sync_next)
            s_tick_sync (self);
    }
    if (now_us >= self->gossip_next) {
        self->gossip_next = now_us + self->params.gossip_interval_ms * INT64_C (1000);
        s_gossip (self);
    }
    return osmose_members_deadline (self);
}

int64_t
osmose_members_deadline (osmose_members_t *self)
{
    int64_t deadline = INT64_MAX;
    bool pending = false, others = false;
    int limit = members_retransmits (self);
    if (!self->leaving) {
        deadline = self->probe_next;
        if (self->view_next < deadline)
            deadline = self->view_next;
        if (self->sync_next < deadline)
            deadline = self->sync_next;
        if (!self->joined && self->seed_count > 0 && self->join_next < deadline)
            deadline = self->join_next;
    }
    int64_t reap = self->params.reap_ms * INT64_C (1000);
    for (size_t i = 0; i < MEMBERS_RELAYS && !self->leaving; i++)
        if (self->relays [i].expires > self->now && self->relays [i].nack_at
        &&  self->relays [i].nack_at < deadline)
            deadline = self->relays [i].nack_at;
    for (size_t i = 0; i < self->size; i++) {
        members_entry_t *member = self->members [i];
        int64_t at = INT64_MAX;
        bool news = member->tx_sent < limit;
        pending |= news;
        others |= !member->is_self && (member->state == OSMOSE_MEMBER_ALIVE
                                    || member->state == OSMOSE_MEMBER_SUSPECT);
        if (self->leaving)
            continue;
        if (member->probe_phase != MEMBERS_PROBE_NONE)
            at = member->probe_deadline;
        if (member->probe_now && member->probe_phase == MEMBERS_PROBE_NONE)
            at = self->now;
        if (member->state == OSMOSE_MEMBER_SUSPECT && member->suspect_deadline < at)
            at = member->suspect_deadline;
        if ((member->state == OSMOSE_MEMBER_DEAD || member->state == OSMOSE_MEMBER_LEFT)
        &&  !member->is_self && !news && member->state_since + reap < at)
            at = member->state_since + reap;
        if (at < deadline)
            deadline = at;
    }
    //  Alone, news has nobody to go to: no push timer (a peer by itself
    //  would otherwise wake every gossip interval for nothing)
    if (pending && others && self->gossip_next < deadline)
        deadline = self->gossip_next;
    self->asked = deadline < self->now? self->now: deadline;
    return self->asked;
}

bool
osmose_members_next_out (osmose_members_t *self, osmose_members_out_t *out)
{
    osmose_members_out_t *first = (osmose_members_out_t *) zlistx_detach (self->outbox, NULL);
    if (!first)
        return false;
    *out = *first;
    free (first);
    return true;
}

//  The member transport evidence is about (never ourselves), with the
//  clock moved to NOW_US; NULL when we do not know ID
static members_entry_t *
s_evidence_about (osmose_members_t *self, const char *id, int64_t now_us)
{
    members_entry_t *member = id? (members_entry_t *) zhashx_lookup (self->index, id): NULL;
    if (!member || member->is_self)
        return NULL;
    self->now = now_us;
    return member;
}

int
osmose_members_evidence_down (osmose_members_t *self, const char *id, int64_t now_us)
{
    members_entry_t *member = s_evidence_about (self, id, now_us);
    if (!member)
        return OSMOSE_ENOTFOUND;
    if ((member->state == OSMOSE_MEMBER_ALIVE || member->state == OSMOSE_MEMBER_SUSPECT)
    &&  member->probe_phase == MEMBERS_PROBE_NONE)
        member->probe_now = true;
    return 0;
}

int
osmose_members_evidence_refused (osmose_members_t *self, const char *id, int64_t now_us)
{
    members_entry_t *member = s_evidence_about (self, id, now_us);
    if (!member)
        return OSMOSE_ENOTFOUND;
    //  Nobody listens at its endpoint: a process gone, not a slow one, so
    //  no probe is worth its timeout. Suspicion still gives it the time to
    //  refute (it may be restarting), and others confirm as they see it.
    //  Our own health is not at stake: the system answered at once
    member->probe_phase = MEMBERS_PROBE_NONE;
    member->probe_now = false;
    if (member->state == OSMOSE_MEMBER_ALIVE)
        members_suspect (self, member, member->incarnation, self->me->idb);
    else
    if (member->state == OSMOSE_MEMBER_SUSPECT)
        members_confirm (self, member, self->me->idb);
    return 0;
}

int
osmose_members_evidence_up (osmose_members_t *self, const char *id, int64_t now_us)
{
    members_entry_t *member = s_evidence_about (self, id, now_us);
    if (!member)
        return OSMOSE_ENOTFOUND;
    member->last_heard = now_us;
    return 0;
}

int
osmose_members_leave (osmose_members_t *self, int64_t now_us)
{
    if (self->leaving)
        return 0;
    self->now = now_us;
    self->leaving = true;
    members_entry_t *me = self->me;
    me->state = OSMOSE_MEMBER_LEFT;
    me->state_since = now_us;
    members_news (self, me);
    //  Tell the whole active view now; gossip carries it further while the
    //  daemon lingers
    for (size_t i = 0; i < self->near_size; i++)
        members_send (self, self->near [i]->id, MEMBERS_MSG_GOSSIP, 0, NULL);
    for (size_t i = 0; i < self->random_size; i++)
        members_send (self, self->random [i]->id, MEMBERS_MSG_GOSSIP, 0, NULL);
    self->gossip_next = now_us;
    return 0;
}
