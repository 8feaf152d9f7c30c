/*  osmose_market_client.c: the client role of the market engine.

    A request lives from acquire to its DONE event: bidding (calls out,
    waiting for bids or refusals), then awarding (AWARDs out, waiting for
    LEASEs). Leases obtained move to the held table, renewed every
    heartbeat in one RENEW per provider, until released, revoked, expired
    or their provider is declared dead.
*/
#include "osmose_prelude.h"
#include "osmose_market_int.h"

#define S_MAX_REQUESTS 256          //  open requests at once

//  Renewal period: the configured heartbeat, but at least three chances
//  inside one TTL so a single lost RENEW never loses a lease
static int64_t
s_heartbeat (osmose_market_t *self, int64_t ttl_us)
{
    int64_t period = self->settings.heartbeat_us;
    return period < ttl_us / 3? period: (ttl_us / 3 > 0? ttl_us / 3: 1);
}

static void
s_send_simple (osmose_market_t *self, const char *to, osmose_market_kind_t kind,
               uint64_t request)
{
    osmose_market_msg_t *msg = osmose_market_outgoing (self, kind);
    msg->request = request;
    osmose_market_send (self, to, msg);
}

static void
s_send_release (osmose_market_t *self, const char *to, const uint8_t *lease_id)
{
    osmose_market_msg_t *msg = osmose_market_outgoing (self, OSMOSE_MARKET_MSG_RELEASE);
    memcpy (msg->lease_id, lease_id, OSMOSE_LEASE_ID_SIZE);
    self->counters.releases_sent++;
    osmose_market_send (self, to, msg);
}

static bool
s_request_ok (const osmose_market_request_t *request)
{
    return request->count >= 1 && request->count <= OSMOSE_MARKET_MAX_WANTED
        && request->cpus >= 0 && request->cpus <= OSMOSE_MARKET_MAX_COUNT
        && request->gpus >= 0 && request->gpus <= OSMOSE_MARKET_MAX_COUNT
        && request->npus >= 0 && request->npus <= OSMOSE_MARKET_MAX_COUNT
        && request->memory_mb >= 0 && request->memory_mb <= OSMOSE_MARKET_MAX_MEMORY_MB
        && (request->cpus || request->gpus || request->npus || request->memory_mb)
        && request->latency_bound_us >= 0
        && request->extra >= -1 && request->extra <= OSMOSE_MARKET_MAX_ASKED;
}

static bool
s_id_ok (const char *id)
{
    if (!id || strlen (id) != OSMOSE_ID_SIZE)
        return false;
    for (const char *cursor = id; *cursor; cursor++)
        if (!isxdigit ((unsigned char) *cursor))
            return false;
    return true;
}

static osmose_proximity_request_t
s_proximity_request (const osmose_market_request_t *spec)
{
    return (osmose_proximity_request_t) {
        .cpus = spec->cpus, .gpus = spec->gpus, .npus = spec->npus,
        .memory_mb = spec->memory_mb, .latency_bound_us = spec->latency_bound_us
    };
}

int
osmose_market_acquire (osmose_market_t *self, const osmose_market_request_t *request,
                       const osmose_proximity_candidate_t *candidates, size_t count,
                       int64_t now_us, uint64_t *request_p)
{
    assert (self);
    self->now_us = now_us;
    if (!request || !request_p || !s_request_ok (request) || (count && !candidates))
        return OSMOSE_EINVAL;
    if (self->request_count >= S_MAX_REQUESTS)
        return OSMOSE_EBUSY;
    if (count == 0)
        return OSMOSE_ENOPEER;
    size_t *order = (size_t *) malloc (count * sizeof (size_t));
    if (!order)
        return OSMOSE_ENOMEM;
    const char *location = self->resources.capacity.location;
    osmose_proximity_request_t wanted = s_proximity_request (request);
    int ranked = osmose_proximity_rank (location, candidates, count, &wanted,
                                        self->settings.topology_weight_us, order);
    int extra = request->extra < 0? self->settings.extra: request->extra;
    size_t ask = (size_t) request->count + (size_t) extra;
    if (ask > OSMOSE_MARKET_MAX_ASKED)
        ask = OSMOSE_MARKET_MAX_ASKED;
    //  Keep only well-named candidates, once each, best first, at most ASK
    size_t picked = 0;
    for (int rank = 0; rank < ranked && picked < ask; rank++) {
        const char *id = candidates [order [rank]].id;
        bool seen = !s_id_ok (id);
        for (size_t index = 0; index < picked && !seen; index++)
            seen = streq (candidates [order [index]].id, id);
        if (!seen)
            order [picked++] = order [rank];
    }
    if (ranked < 0 || picked == 0) {
        free (order);
        return ranked < 0? ranked: OSMOSE_ENOPEER;
    }
    osmose_market_pending_t *pending = (osmose_market_pending_t *) calloc (
        1, sizeof (osmose_market_pending_t) + picked * sizeof (osmose_market_asked_t));
    if (!pending
    ||  !osmose_market_grow ((void **) &self->requests, &self->request_size,
                             self->request_count, sizeof (osmose_market_pending_t *))) {
        free (pending);
        free (order);
        return OSMOSE_ENOMEM;
    }
    pending->id = self->next_request++;
    pending->spec = *request;
    pending->asked_count = picked;
    int64_t largest_rtt = 0;
    for (size_t index = 0; index < picked; index++) {
        const osmose_proximity_candidate_t *candidate = &candidates [order [index]];
        osmose_market_asked_t *asked = &pending->asked [index];
        snprintf (asked->id, sizeof (asked->id), "%s", candidate->id);
        snprintf (asked->location, sizeof (asked->location), "%s",
                  candidate->location? candidate->location: "");
        asked->fresh = *candidate;
        asked->fresh.id = asked->id;
        asked->fresh.location = asked->location;
        asked->score = osmose_proximity_candidate_score (location, candidate,
                                                         self->settings.topology_weight_us);
        asked->topology_us = asked->score - osmose_proximity_score (candidate->rtt_us, 0, 0);
        asked->state = S_PENDING;
        if (candidate->rtt_us > largest_rtt)
            largest_rtt = candidate->rtt_us;
    }
    free (order);
    int64_t timeout = largest_rtt > OSMOSE_PROXIMITY_MAX_US / 2? OSMOSE_PROXIMITY_MAX_US:
        2 * largest_rtt;
    if (timeout < self->settings.bid_timeout_min_us)
        timeout = self->settings.bid_timeout_min_us;
    if (timeout > self->settings.bid_timeout_max_us)
        timeout = self->settings.bid_timeout_max_us;
    pending->timeout_us = timeout;
    pending->started_us = now_us;
    pending->deadline_us = now_us + timeout;
    pending->recheck_us = OSMOSE_MARKET_NEVER;
    self->requests [self->request_count++] = pending;

    osmose_market_msg_t *call = osmose_market_outgoing (self, OSMOSE_MARKET_MSG_CALL_FOR_BIDS);
    call->request = pending->id;
    call->cpus = request->cpus;
    call->gpus = request->gpus;
    call->npus = request->npus;
    call->memory_mb = request->memory_mb;
    call->ttl_ms = request->ttl_ms;
    call->latency_bound_us = request->latency_bound_us;
    for (size_t index = 0; index < picked; index++) {
        self->counters.calls_sent++;
        osmose_market_send (self, pending->asked [index].id, call);
    }
    self->counters.requests++;
    *request_p = pending->id;
    return 0;
}

static size_t
s_request_index (osmose_market_t *self, uint64_t id)
{
    for (size_t index = 0; index < self->request_count; index++)
        if (self->requests [index]->id == id)
            return index;
    return SIZE_MAX;
}

static osmose_market_asked_t *
s_asked (osmose_market_pending_t *pending, const char *id)
{
    for (size_t index = 0; index < pending->asked_count; index++)
        if (streq (pending->asked [index].id, id))
            return &pending->asked [index];
    return NULL;
}

//  Emit DONE and drop the request at INDEX (keeping the others' order)
static void
s_finish (osmose_market_t *self, size_t index)
{
    osmose_market_pending_t *pending = self->requests [index];
    osmose_market_event_t event;
    memset (&event, 0, offsetof (osmose_market_event_t, token));
    event.kind = OSMOSE_MARKET_DONE;
    event.request = pending->id;
    event.count = pending->obtained;
    event.status = pending->obtained == pending->spec.count? 0:
        pending->timed_out? OSMOSE_ETIMEDOUT: OSMOSE_ENOPEER;
    event.cpus = pending->spec.cpus;
    event.gpus = pending->spec.gpus;
    event.npus = pending->spec.npus;
    event.memory_mb = pending->spec.memory_mb;
    if (event.status == 0)
        self->counters.requests_ok++;
    else
        self->counters.requests_failed++;
    osmose_market_emit (self, &event);
    free (pending);
    memmove (&self->requests [index], &self->requests [index + 1],
             (self->request_count - index - 1) * sizeof (osmose_market_pending_t *));
    self->request_count--;
}

//  An event of KIND about HELD, its figures filled in (no token)
static void
s_held_event (const osmose_market_held_t *held, osmose_market_event_kind_t kind,
              osmose_market_reason_t reason, osmose_market_event_t *event)
{
    memset (event, 0, offsetof (osmose_market_event_t, token));
    event->kind = kind;
    event->request = held->request;
    event->reason = reason;
    snprintf (event->peer, sizeof (event->peer), "%s", held->provider);
    memcpy (event->peer_key, held->provider_key, OSMOSE_KEY_SIZE);
    memcpy (event->lease_id, held->lease_id, OSMOSE_LEASE_ID_SIZE);
    event->cpus = held->cpus;
    event->gpus = held->gpus;
    event->npus = held->npus;
    event->memory_mb = held->memory_mb;
    event->ttl_us = held->ttl_us;
}

//  Check a bid's token: issued by FROM_KEY to us, for what we asked;
//  its signature too when the settings say so
static bool
s_token_ok (osmose_market_t *self, const uint8_t *from_key, const uint8_t *data,
            size_t size, const osmose_market_request_t *spec, osmose_token_t *token)
{
    const uint8_t *our_key = osmose_identity_public (self->identity);
    int rc;
    if (self->settings.verify_tokens)
        //  Expiry is in the provider's clock: not compared with ours
        rc = osmose_token_check (data, size, from_key, our_key, INT64_MIN, token);
    else {
        rc = osmose_token_decode (data, size, token);
        if (rc == 0 && (memcmp (token->provider_key, from_key, OSMOSE_KEY_SIZE) != 0
                    ||  memcmp (token->client_key, our_key, OSMOSE_KEY_SIZE) != 0))
            rc = OSMOSE_EVERIFY;
    }
    return rc == 0 && (!spec || (token->cpus >= spec->cpus && token->gpus >= spec->gpus
                                 && token->npus >= spec->npus
                                 && token->memory_mb >= spec->memory_mb));
}

//  ASKED's bid carried its lease: hold it now (the ACQUIRED event), if its
//  token is sound. False when it is not (the bid is rejected instead).
static bool
s_obtain (osmose_market_t *self, osmose_market_pending_t *pending, osmose_market_asked_t *asked)
{
    osmose_token_t token;
    if (!s_token_ok (self, asked->key, asked->token, asked->token_size, &pending->spec, &token)) {
        self->counters.bad_tokens++;
        return false;
    }
    if (self->held_count >= OSMOSE_MARKET_MAX_LEASES
    ||  !osmose_market_grow ((void **) &self->held, &self->held_size, self->held_count,
                             sizeof (osmose_market_held_t)))
        return false;
    asked->state = S_OBTAINED;
    int64_t ttl = (int64_t) asked->ttl_ms * 1000;
    osmose_market_held_t *held = &self->held [self->held_count++];
    memset (held, 0, offsetof (osmose_market_held_t, token));
    memcpy (held->lease_id, token.lease_id, OSMOSE_LEASE_ID_SIZE);
    snprintf (held->provider, sizeof (held->provider), "%s", asked->id);
    memcpy (held->provider_key, asked->key, OSMOSE_KEY_SIZE);
    held->request = pending->id;
    held->cpus = token.cpus;
    held->gpus = token.gpus;
    held->npus = token.npus;
    held->memory_mb = token.memory_mb;
    held->ttl_us = ttl;
    //  The provider starts the clock when the AWARD (or the program's
    //  OPEN) reaches it: after now
    held->expiry_us = self->now_us + ttl;
    held->next_renew_us = self->now_us + s_heartbeat (self, ttl);
    held->token_size = asked->token_size;
    memcpy (held->token, asked->token, asked->token_size);
    pending->obtained++;
    self->counters.leases_acquired++;

    osmose_market_event_t event;
    s_held_event (held, OSMOSE_MARKET_ACQUIRED, OSMOSE_MARKET_OK, &event);
    event.expiry_us = token.expiry_us;
    event.token_size = asked->token_size;
    memcpy (event.token, asked->token, asked->token_size);
    osmose_market_emit (self, &event);
    return true;
}

//  Whether BID, in hand, beats SILENT, still to answer. On scores alone,
//  unless SILENT ranks above BID by its RTT only (it is no nearer by
//  topology): the RTT in its score is a mean, and its silence is a fresh
//  sample. Past twice that mean and the grace, every microsecond it keeps
//  us waiting counts against it, so a peer stalled for a moment does not
//  stall the request. Otherwise notes in the request when to look again.
static bool
s_beats_silent (osmose_market_t *self, osmose_market_pending_t *pending,
                const osmose_market_asked_t *bid, const osmose_market_asked_t *silent)
{
    if (bid->score <= silent->score)
        return true;
    if (bid->topology_us > silent->topology_us)
        return false;
    int64_t rtt = silent->fresh.rtt_us > 0? silent->fresh.rtt_us: 0;
    int64_t until = pending->started_us + 2 * rtt + self->settings.bid_grace_us
                  + (bid->score - silent->score);
    if (self->now_us >= until)
        return true;
    if (until < pending->recheck_us)
        pending->recheck_us = until;
    return false;
}

//  Whether BID beats every candidate still silent
static bool
s_beats_all_silent (osmose_market_t *self, osmose_market_pending_t *pending,
                    const osmose_market_asked_t *bid)
{
    bool beats = true;
    for (size_t at = 0; at < pending->asked_count; at++)
        if (pending->asked [at].state == S_PENDING)
            beats &= s_beats_silent (self, pending, bid, &pending->asked [at]);
    return beats;
}

//  Award the best bids and reject the rest, when the time has come (FINAL:
//  the bid timeout passed). Returns true when the request finished.
static bool
s_decide (osmose_market_t *self, size_t index, bool final)
{
    osmose_market_pending_t *pending = self->requests [index];
    size_t bids = 0, silent = 0;
    for (size_t at = 0; at < pending->asked_count; at++) {
        osmose_market_asked_t *asked = &pending->asked [at];
        if (asked->state == S_BID && asked->bid_valid_until <= self->now_us) {
            asked->state = S_REJECTED;      //  lapsed: free it at once
            s_send_simple (self, asked->id, OSMOSE_MARKET_MSG_REJECT, pending->id);
            self->counters.rejects_sent++;
        }
        bids += asked->state == S_BID;
        silent += asked->state == S_PENDING;
    }
    size_t wanted = (size_t) pending->spec.count;
    if (!final && silent > 0) {
        //  Silent candidates that cannot beat `wanted` bids in hand are not
        //  worth waiting for
        size_t sure = 0;
        pending->recheck_us = OSMOSE_MARKET_NEVER;
        for (size_t at = 0; at < pending->asked_count; at++)
            sure += pending->asked [at].state == S_BID
                 && s_beats_all_silent (self, pending, &pending->asked [at]);
        if (sure < wanted)
            return false;
    }
    //  Rank the bidders on their fresh figures (free before our reservation)
    osmose_proximity_candidate_t fresh [OSMOSE_MARKET_MAX_ASKED];
    size_t slot [OSMOSE_MARKET_MAX_ASKED], order [OSMOSE_MARKET_MAX_ASKED];
    size_t bidders = 0;
    for (size_t at = 0; at < pending->asked_count; at++)
        if (pending->asked [at].state == S_BID) {
            slot [bidders] = at;
            fresh [bidders++] = pending->asked [at].fresh;
        }
    osmose_proximity_request_t wanted_figures = s_proximity_request (&pending->spec);
    wanted_figures.latency_bound_us = 0;    //  filtered when asked
    int ranked = osmose_proximity_rank (self->resources.capacity.location, fresh, bidders,
                                        &wanted_figures, self->settings.topology_weight_us,
                                        order);
    //  The best bids are ours at once: each carried its lease, and the
    //  AWARD that makes it so goes out as the program starts on it
    for (int rank = 0; rank < ranked && (size_t) pending->obtained < wanted; rank++) {
        osmose_market_asked_t *asked = &pending->asked [slot [order [rank]]];
        if (s_obtain (self, pending, asked)) {
            s_send_simple (self, asked->id, OSMOSE_MARKET_MSG_AWARD, pending->id);
            self->counters.awards_sent++;
        }
    }
    for (size_t at = 0; at < pending->asked_count; at++) {
        osmose_market_asked_t *asked = &pending->asked [at];
        if (asked->state == S_PENDING)
            pending->timed_out |= final;
        if (asked->state == S_BID || asked->state == S_PENDING) {
            //  A silent one may still bid: the REJECT frees its reservation
            asked->state = S_REJECTED;
            s_send_simple (self, asked->id, OSMOSE_MARKET_MSG_REJECT, pending->id);
            self->counters.rejects_sent++;
        }
    }
    s_finish (self, index);
    return true;
}

static void
s_on_bid (osmose_market_t *self, const char *from, const uint8_t *from_key,
          const osmose_market_msg_t *msg)
{
    size_t index = s_request_index (self, msg->request);
    osmose_market_pending_t *pending = index == SIZE_MAX? NULL: self->requests [index];
    osmose_market_asked_t *asked = pending? s_asked (pending, from): NULL;
    if (!asked || asked->state != S_PENDING) {
        self->counters.unexpected++;    //  late: already rejected
        return;
    }
    self->counters.bids_received++;
    asked->state = S_BID;
    asked->bid_valid_until = self->now_us + msg->hold_us / 2;
    //  The bid's figures are free after our reservation; rank on before
    asked->fresh.free_cpus = msg->cpus + pending->spec.cpus;
    asked->fresh.free_gpus = msg->gpus + pending->spec.gpus;
    asked->fresh.free_npus = msg->npus + pending->spec.npus;
    asked->fresh.free_memory_mb = msg->memory_mb + pending->spec.memory_mb;
    asked->fresh.power = (osmose_power_t) msg->power;
    asked->fresh.battery_percent = msg->battery_percent;
    asked->fresh.load1 = msg->load1;
    memcpy (asked->key, from_key, OSMOSE_KEY_SIZE);
    asked->ttl_ms = msg->ttl_ms;
    asked->token_size = msg->token_size;
    memcpy (asked->token, msg->token, msg->token_size);
    s_decide (self, index, pending->waiting_first);
}

static size_t
s_held_index (osmose_market_t *self, const char *provider, const uint8_t *lease_id)
{
    for (size_t index = 0; index < self->held_count; index++) {
        osmose_market_held_t *held = &self->held [index];
        if (memcmp (held->lease_id, lease_id, OSMOSE_LEASE_ID_SIZE) == 0
        &&  (!provider || streq (held->provider, provider)))
            return index;
    }
    return SIZE_MAX;
}

//  Emit LEASE_LOST for the held lease at INDEX and drop it
static void
s_lose (osmose_market_t *self, size_t index, osmose_market_reason_t reason)
{
    osmose_market_held_t *held = &self->held [index];
    osmose_market_event_t event;
    s_held_event (held, OSMOSE_MARKET_LEASE_LOST, reason, &event);
    osmose_market_emit (self, &event);
    self->counters.leases_lost++;
    *held = self->held [--self->held_count];
}

static void
s_on_renewed (osmose_market_t *self, const char *from, const uint8_t *from_key,
              const osmose_market_msg_t *msg)
{
    for (size_t at = 0; at < msg->count; at++) {
        const osmose_market_renewal_t *renewal = &msg->renewals [at];
        size_t index = s_held_index (self, from, renewal->lease_id);
        if (index == SIZE_MAX) {
            self->counters.unexpected++;
            continue;
        }
        osmose_market_held_t *held = &self->held [index];
        osmose_token_t token;
        if (renewal->reason != OSMOSE_MARKET_OK) {
            s_lose (self, index, renewal->reason < OSMOSE_MARKET_REASON_LIMIT?
                    (osmose_market_reason_t) renewal->reason: OSMOSE_MARKET_EXPIRED);
            continue;
        }
        if (!s_token_ok (self, from_key, renewal->token, renewal->token_size, NULL, &token)
        ||  memcmp (token.lease_id, held->lease_id, OSMOSE_LEASE_ID_SIZE) != 0) {
            self->counters.bad_tokens++;    //  keep the old token and expiry
            continue;
        }
        int64_t sent = held->renew_sent_us? held->renew_sent_us: self->now_us;
        held->ttl_us = (int64_t) renewal->ttl_ms * 1000;
        held->expiry_us = sent + held->ttl_us;
        held->renew_sent_us = 0;
        held->renewals++;
        held->token_size = renewal->token_size;
        memcpy (held->token, renewal->token, renewal->token_size);
    }
}

//  Remember that FROM refused us now: its own slot, else the oldest
static void
s_note_refuser (osmose_market_t *self, const char *from)
{
    size_t slot = OSMOSE_MARKET_REFUSERS;
    for (size_t index = 0; index < OSMOSE_MARKET_REFUSERS; index++)
        if (streq (self->refusers [index].id, from))
            slot = index;
    if (slot == OSMOSE_MARKET_REFUSERS) {
        slot = self->next_refuser;
        self->next_refuser = (slot + 1) % OSMOSE_MARKET_REFUSERS;
    }
    snprintf (self->refusers [slot].id, sizeof (self->refusers [slot].id), "%s", from);
    self->refusers [slot].at_us = self->now_us;
}

int64_t
osmose_market_refused_at (osmose_market_t *self, const char *id)
{
    assert (self && id);
    for (size_t index = 0; index < OSMOSE_MARKET_REFUSERS; index++)
        if (streq (self->refusers [index].id, id))
            return self->refusers [index].at_us;
    return 0;
}

static void
s_on_refuse (osmose_market_t *self, const char *from, const osmose_market_msg_t *msg)
{
    size_t index = s_request_index (self, msg->request);
    osmose_market_pending_t *pending = index == SIZE_MAX? NULL: self->requests [index];
    osmose_market_asked_t *asked = pending? s_asked (pending, from): NULL;
    if (asked && asked->state == S_PENDING) {
        self->counters.refusals_received++;
        s_note_refuser (self, from);
        asked->state = S_REFUSED;
        s_decide (self, index, false);
        return;
    }
    //  An AWARD that came too late (the hold lapsed): the lease its bid
    //  carried is not ours after all
    for (size_t at = 0; at < self->held_count; at++) {
        osmose_market_held_t *held = &self->held [at];
        if (held->request == msg->request && held->renewals == 0 && streq (held->provider, from)) {
            self->counters.refusals_received++;
            s_lose (self, at, msg->reason < OSMOSE_MARKET_REASON_LIMIT?
                    (osmose_market_reason_t) msg->reason: OSMOSE_MARKET_EXPIRED);
            return;
        }
    }
    self->counters.unexpected++;
}

static void
s_on_revoke (osmose_market_t *self, const char *from, const osmose_market_msg_t *msg)
{
    size_t index = s_held_index (self, from, msg->lease_id);
    if (index == SIZE_MAX) {
        self->counters.unexpected++;
        return;
    }
    s_lose (self, index, msg->reason < OSMOSE_MARKET_REASON_LIMIT?
            (osmose_market_reason_t) msg->reason: OSMOSE_MARKET_WITHDRAWN);
}

void
osmose_market_client_receive (osmose_market_t *self, const char *from,
                              const uint8_t *from_key, const osmose_market_msg_t *msg)
{
    switch (msg->kind) {
        case OSMOSE_MARKET_MSG_BID:
            s_on_bid (self, from, from_key, msg);
            break;
        case OSMOSE_MARKET_MSG_REFUSE:
            s_on_refuse (self, from, msg);
            break;
        case OSMOSE_MARKET_MSG_RENEWED:
            s_on_renewed (self, from, from_key, msg);
            break;
        case OSMOSE_MARKET_MSG_REVOKE:
            s_on_revoke (self, from, msg);
            break;
        default:
            self->counters.unexpected++;
            break;
    }
}

int
osmose_market_release (osmose_market_t *self, const uint8_t *lease_id, int64_t now_us)
{
    assert (self);
    self->now_us = now_us;
    size_t index = lease_id? s_held_index (self, NULL, lease_id): SIZE_MAX;
    if (index == SIZE_MAX)
        return OSMOSE_ENOLEASE;
    s_send_release (self, self->held [index].provider, lease_id);
    self->held [index] = self->held [--self->held_count];
    return 0;
}

//  One RENEW for every lease of the provider of the lease at FIRST that is
//  due within half a heartbeat: renewing those a little early aligns the
//  leases of one provider, so they cost one message per heartbeat
static void
s_renew_provider (osmose_market_t *self, size_t first)
{
    osmose_market_msg_t *msg = osmose_market_outgoing (self, OSMOSE_MARKET_MSG_RENEW);
    const char *provider = self->held [first].provider;
    for (size_t index = first; index < self->held_count; index++) {
        osmose_market_held_t *held = &self->held [index];
        if (held->next_renew_us > self->now_us + s_heartbeat (self, held->ttl_us) / 2
        ||  !streq (held->provider, provider))
            continue;
        memcpy (msg->renewals [msg->count++].lease_id, held->lease_id, OSMOSE_LEASE_ID_SIZE);
        if (!held->renew_sent_us)
            held->renew_sent_us = self->now_us;
        held->next_renew_us = self->now_us + s_heartbeat (self, held->ttl_us);
        if (msg->count == OSMOSE_MARKET_MAX_BATCH)
            break;
    }
    self->counters.renewals_sent++;
    osmose_market_send (self, provider, msg);
}

//  At the bid timeout with no bid in hand but candidates still silent,
//  wait on (up to bid_timeout_max_us from the start) and take the first
//  bid that comes: the timeout stops waiting for better bids, not for any.
//  True when the request waits on.
static bool
s_first_bid_wait (osmose_market_t *self, osmose_market_pending_t *pending)
{
    int64_t last = pending->started_us + self->settings.bid_timeout_max_us;
    if (self->now_us >= last)
        return false;
    for (size_t at = 0; at < pending->asked_count; at++)
        if (pending->asked [at].state == S_BID)
            return false;
    for (size_t at = 0; at < pending->asked_count; at++)
        if (pending->asked [at].state == S_PENDING) {
            pending->waiting_first = true;
            pending->deadline_us = last;
            return true;
        }
    return false;
}

//  At the bid timeout, a silent candidate whose score beats the bids in
//  hand by D us is worth D us more of waiting (up to bid_timeout_max_us
//  from the start): a score is what each task pays in latency, so a slow
//  answer from the room we are in beats a quick one from the next room.
//  Once per request. True when the request waits on.
static bool
s_nearer_silent_wait (osmose_market_t *self, osmose_market_pending_t *pending)
{
    int64_t last = pending->started_us + self->settings.bid_timeout_max_us;
    if (pending->waited_nearer || self->now_us >= last)
        return false;
    int64_t nearest_silent = INT64_MAX;
    int64_t scores [OSMOSE_MARKET_MAX_ASKED];
    size_t bids = 0;
    for (size_t at = 0; at < pending->asked_count; at++) {
        osmose_market_asked_t *asked = &pending->asked [at];
        if (asked->state == S_PENDING && asked->score < nearest_silent)
            nearest_silent = asked->score;
        if (asked->state == S_BID)
            scores [bids++] = asked->score;
    }
    if (bids == 0 || nearest_silent == INT64_MAX)
        return false;
    //  The worst bid that would win now: the wanted-th best in hand
    size_t wanted = (size_t) pending->spec.count < bids? (size_t) pending->spec.count: bids;
    for (size_t at = 0; at < wanted; at++)
        for (size_t other = at + 1; other < bids; other++)
            if (scores [other] < scores [at]) {
                int64_t swap = scores [at];
                scores [at] = scores [other];
                scores [other] = swap;
            }
    int64_t gain = scores [wanted - 1] - nearest_silent;
    if (gain <= 0)
        return false;
    pending->waited_nearer = true;
    pending->deadline_us = self->now_us + gain < last? self->now_us + gain: last;
    return true;
}

void
osmose_market_client_tick (osmose_market_t *self)
{
    size_t index = 0;
    while (index < self->request_count) {
        osmose_market_pending_t *pending = self->requests [index];
        if (pending->deadline_us > self->now_us) {
            //  A late candidate may have stopped blocking the bids in hand
            if (pending->recheck_us > self->now_us || !s_decide (self, index, false))
                index++;
            continue;
        }
        if (s_first_bid_wait (self, pending) || s_nearer_silent_wait (self, pending)) {
            index++;
            continue;
        }
        if (!s_decide (self, index, true))
            index++;
    }
    index = 0;
    while (index < self->held_count) {
        if (self->held [index].expiry_us <= self->now_us)
            s_lose (self, index, OSMOSE_MARKET_EXPIRED);    //  the last moved here
        else
            index++;
    }
    for (index = 0; index < self->held_count; index++)
        if (self->held [index].next_renew_us <= self->now_us)
            s_renew_provider (self, index);
}

int64_t
osmose_market_client_deadline (osmose_market_t *self)
{
    int64_t deadline = OSMOSE_MARKET_NEVER;
    for (size_t index = 0; index < self->request_count; index++) {
        const osmose_market_pending_t *pending = self->requests [index];
        if (pending->deadline_us < deadline)
            deadline = pending->deadline_us;
        if (pending->recheck_us < deadline)
            deadline = pending->recheck_us;
    }
    for (size_t index = 0; index < self->held_count; index++) {
        const osmose_market_held_t *held = &self->held [index];
        if (held->expiry_us < deadline)
            deadline = held->expiry_us;
        if (held->next_renew_us < deadline)
            deadline = held->next_renew_us;
    }
    return deadline;
}

void
osmose_market_client_peer_down (osmose_market_t *self, const char *id)
{
    size_t index = 0;
    while (index < self->held_count) {
        if (streq (self->held [index].provider, id))
            s_lose (self, index, OSMOSE_MARKET_PEER_DOWN);
        else
            index++;
    }
    index = 0;
    while (index < self->request_count) {
        osmose_market_pending_t *pending = self->requests [index];
        osmose_market_asked_t *asked = s_asked (pending, id);
        bool finished = false;
        if (asked && asked->state == S_PENDING) {
            asked->state = S_FAILED;
            finished = s_decide (self, index, false);
        }
        if (!finished)
            index++;
    }
}

void
osmose_market_client_destroy (osmose_market_t *self)
{
    for (size_t index = 0; index < self->request_count; index++)
        free (self->requests [index]);
    free (self->requests);
    self->requests = NULL;
    self->request_count = 0;
}
