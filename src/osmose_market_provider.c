/*  osmose_market_provider.c: the provider role of the market engine.

    One table holds reservations (behind bids, short-lived) and leases;
    what is free is the lease caps less everything in it, so a resource
    promised in a bid cannot be promised again until the bid is rejected,
    lapses or becomes a lease. The table is scanned linearly: it is bounded
    (MAX_RESERVED + MAX_LEASES) and small in practice, and a scan of a few
    hundred entries costs less than the signature every grant needs.
*/
#include "osmose_prelude.h"
#include "osmose_market_int.h"

#define S_MIN_TTL_US INT64_C (100000)

//  The reservation or lease behind CLIENT_KEY's request REQUEST
static osmose_market_grant_t *
s_find_request (osmose_market_t *self, const uint8_t *client_key, uint64_t request)
{
    for (size_t index = 0; index < self->grant_count; index++) {
        osmose_market_grant_t *grant = &self->grants [index];
        if (grant->request == request
        &&  memcmp (grant->client_key, client_key, OSMOSE_KEY_SIZE) == 0)
            return grant;
    }
    return NULL;
}

static osmose_market_grant_t *
s_find_lease (osmose_market_t *self, const uint8_t *client_key, const uint8_t *lease_id)
{
    for (size_t index = 0; index < self->grant_count; index++) {
        osmose_market_grant_t *grant = &self->grants [index];
        if (grant->state == S_LEASED
        &&  memcmp (grant->lease_id, lease_id, OSMOSE_LEASE_ID_SIZE) == 0
        &&  memcmp (grant->client_key, client_key, OSMOSE_KEY_SIZE) == 0)
            return grant;
    }
    return NULL;
}

//  Remove GRANT from the table (the last entry takes its place)
static void
s_remove (osmose_market_t *self, osmose_market_grant_t *grant)
{
    if (grant->state == S_RESERVED)
        self->reserved_count--;
    *grant = self->grants [--self->grant_count];
}

void
osmose_market_provider_used (osmose_market_t *self, int *cpus, int *gpus, int *npus,
                             int64_t *memory_mb)
{
    *cpus = *gpus = *npus = 0;
    *memory_mb = 0;
    for (size_t index = 0; index < self->grant_count; index++) {
        const osmose_market_grant_t *grant = &self->grants [index];
        *cpus += grant->cpus;
        *gpus += grant->gpus;
        *npus += grant->npus;
        *memory_mb += grant->memory_mb;
    }
}

//  TOKEN (SIZE bytes) only for GRANT: the log entry keeps its hash
static void
s_event (osmose_market_t *self, osmose_market_event_kind_t kind,
         const osmose_market_grant_t *grant, int reason, const uint8_t *token, uint16_t size)
{
    osmose_market_event_t event;
    memset (&event, 0, offsetof (osmose_market_event_t, token));
    event.kind = kind;
    event.request = grant->request;
    event.reason = reason;
    snprintf (event.peer, sizeof (event.peer), "%s", grant->client);
    memcpy (event.peer_key, grant->client_key, OSMOSE_KEY_SIZE);
    memcpy (event.lease_id, grant->lease_id, OSMOSE_LEASE_ID_SIZE);
    event.cpus = grant->cpus;
    event.gpus = grant->gpus;
    event.npus = grant->npus;
    event.memory_mb = grant->memory_mb;
    event.ttl_us = grant->ttl_us;
    event.expiry_us = grant->expiry_us;
    event.token_size = size;
    if (size)
        memcpy (event.token, token, size);
    osmose_market_emit (self, &event);
}

static void
s_refuse (osmose_market_t *self, const char *to, uint64_t request, osmose_market_reason_t reason)
{
    osmose_market_msg_t *msg = osmose_market_outgoing (self, OSMOSE_MARKET_MSG_REFUSE);
    msg->request = request;
    msg->reason = reason;
    self->counters.refusals_sent [reason]++;
    osmose_market_send (self, to, msg);
}

static bool
s_allowed (osmose_market_t *self, const char *client)
{
    if (self->allow_all)
        return true;
    char word [OSMOSE_ID_SIZE + 3];
    snprintf (word, sizeof (word), " %s ", client);
    return self->allow && strstr (self->allow, word) != NULL;
}

//  Sign a token for GRANT, valid until EXPIRY, into BUFFER; returns its size
static uint16_t
s_issue_token (osmose_market_t *self, const osmose_market_grant_t *grant, int64_t now,
               int64_t expiry, uint8_t *buffer)
{
    osmose_token_t token = {
        .cpus = grant->cpus, .gpus = grant->gpus, .npus = grant->npus,
        .memory_mb = grant->memory_mb, .issued_us = now, .expiry_us = expiry
    };
    memcpy (token.lease_id, grant->lease_id, OSMOSE_LEASE_ID_SIZE);
    memcpy (token.client_key, grant->client_key, OSMOSE_KEY_SIZE);
    osmose_token_sign (&token, self->identity);
    int size = osmose_token_encode (&token, buffer, OSMOSE_TOKEN_MAX_SIZE);
    assert (size == OSMOSE_TOKEN_SIZE);
    return (uint16_t) size;
}

static void
s_on_call (osmose_market_t *self, const char *from, const uint8_t *from_key,
           const osmose_market_msg_t *msg)
{
    self->counters.calls_received++;
    const osmose_resources_capacity_t *caps = &self->resources.capacity;
    if (s_find_request (self, from_key, msg->request))
        return;             //  a duplicate: the first bid stands
    if (!s_allowed (self, from)
    ||  (caps->lease_cpus <= 0 && caps->lease_gpus <= 0
         && caps->lease_npus <= 0 && caps->lease_memory_mb <= 0)) {
        s_refuse (self, from, msg->request, OSMOSE_MARKET_POLICY);
        return;
    }
    if (osmose_resources_battery_low (&self->resources, self->settings.battery_min_percent)) {
        s_refuse (self, from, msg->request, OSMOSE_MARKET_BATTERY);
        return;
    }
    //  The owner's work comes first: an overloaded device gave its leases
    //  back (osmose_leasing) and lends nothing new until the load falls
    if (osmose_resources_overloaded (&self->resources, self->settings.load_max_percent)) {
        s_refuse (self, from, msg->request, OSMOSE_MARKET_WITHDRAWN);
        return;
    }
    if (msg->cpus == 0 && msg->gpus == 0 && msg->npus == 0 && msg->memory_mb == 0) {
        s_refuse (self, from, msg->request, OSMOSE_MARKET_INVALID);
        return;
    }
    size_t client_reservations = 0;
    for (size_t index = 0; index < self->grant_count; index++)
        client_reservations += self->grants [index].state == S_RESERVED
            && memcmp (self->grants [index].client_key, from_key, OSMOSE_KEY_SIZE) == 0;
    if (self->reserved_count >= OSMOSE_MARKET_MAX_RESERVED
    ||  client_reservations >= OSMOSE_MARKET_MAX_RESERVED_PER_CLIENT
    ||  self->grant_count >= OSMOSE_MARKET_MAX_RESERVED + OSMOSE_MARKET_MAX_LEASES) {
        s_refuse (self, from, msg->request, OSMOSE_MARKET_BUSY);
        return;
    }
    int free_cpus, free_gpus, free_npus;
    int64_t free_memory;
    osmose_market_free (self, &free_cpus, &free_gpus, &free_npus, &free_memory);
    if (msg->cpus > free_cpus || msg->gpus > free_gpus || msg->npus > free_npus
    ||  msg->memory_mb > free_memory) {
        s_refuse (self, from, msg->request, OSMOSE_MARKET_CAPACITY);
        return;
    }
    if (!osmose_market_grow ((void **) &self->grants, &self->grant_size, self->grant_count,
                             sizeof (osmose_market_grant_t))) {
        s_refuse (self, from, msg->request, OSMOSE_MARKET_BUSY);
        return;
    }
    //  A client may ask for less than our TTL, not for a lease that dies
    //  before its first renewal can travel (the config's floor, 100 ms)
    int64_t ttl = self->settings.ttl_us;
    int64_t asked_ttl = (int64_t) msg->ttl_ms * 1000;
    if (asked_ttl > 0 && asked_ttl < ttl)
        ttl = asked_ttl < S_MIN_TTL_US? S_MIN_TTL_US: asked_ttl;
    if (ttl > self->settings.ttl_us)
        ttl = self->settings.ttl_us;
    osmose_market_grant_t *grant = &self->grants [self->grant_count++];
    *grant = (osmose_market_grant_t) {
        .state = S_RESERVED, .request = msg->request,
        .cpus = msg->cpus, .gpus = msg->gpus, .npus = msg->npus, .memory_mb = msg->memory_mb,
        .ttl_us = ttl, .expiry_us = self->now_us + self->settings.hold_us
    };
    snprintf (grant->client, sizeof (grant->client), "%s", from);
    memcpy (grant->client_key, from_key, OSMOSE_KEY_SIZE);
    self->reserved_count++;
    //  The bid carries the lease it would be: awarded, it is the client's
    //  without another round trip
    randombytes_buf (grant->lease_id, OSMOSE_LEASE_ID_SIZE);
    grant->token_size = s_issue_token (self, grant, self->now_us, self->now_us + ttl, grant->token);

    //  MSG is the engine's incoming scratch, BID its outgoing one
    osmose_market_msg_t *bid = osmose_market_outgoing (self, OSMOSE_MARKET_MSG_BID);
    bid->request = msg->request;
    bid->hold_us = (uint32_t) self->settings.hold_us;
    bid->cpus = free_cpus - msg->cpus;
    bid->gpus = free_gpus - msg->gpus;
    bid->npus = free_npus - msg->npus;
    bid->memory_mb = free_memory - msg->memory_mb;
    bid->power = self->resources.capacity.power;
    bid->battery_percent = self->resources.load.battery_percent < 0? -1:
        self->resources.load.battery_percent > 100? 100: self->resources.load.battery_percent;
    bid->load1 = self->resources.load.load1 < 0? 0: self->resources.load.load1;
    bid->ttl_ms = (uint32_t) (ttl / 1000);
    bid->token_size = grant->token_size;
    memcpy (bid->token, grant->token, grant->token_size);
    //  Figures beyond what the codec carries are clamped, never sent wrong
    if (bid->cpus > OSMOSE_MARKET_MAX_COUNT)
        bid->cpus = OSMOSE_MARKET_MAX_COUNT;
    if (bid->gpus > OSMOSE_MARKET_MAX_COUNT)
        bid->gpus = OSMOSE_MARKET_MAX_COUNT;
    if (bid->npus > OSMOSE_MARKET_MAX_COUNT)
        bid->npus = OSMOSE_MARKET_MAX_COUNT;
    if (bid->memory_mb > OSMOSE_MARKET_MAX_MEMORY_MB)
        bid->memory_mb = OSMOSE_MARKET_MAX_MEMORY_MB;
    self->counters.bids_sent++;
    osmose_market_send (self, from, bid);
}

void
osmose_market_provider_grant (osmose_market_t *self, osmose_market_grant_t *grant)
{
    assert (grant->state == S_RESERVED);
    grant->state = S_LEASED;
    self->reserved_count--;
    grant->expiry_us = self->now_us + grant->ttl_us;
    self->counters.grants++;
    s_event (self, OSMOSE_MARKET_GRANT, grant, OSMOSE_MARKET_OK, grant->token, grant->token_size);
}

static void
s_on_award (osmose_market_t *self, const char *from, const uint8_t *from_key,
            const osmose_market_msg_t *msg)
{
    osmose_market_grant_t *grant = s_find_request (self, from_key, msg->request);
    if (grant && grant->state == S_LEASED)
        return;             //  the program's OPEN overtook the AWARD: granted then
    if (!grant || grant->expiry_us <= self->now_us) {
        //  Too late: the hold lapsed (and tick has not freed it yet) or never was
        if (grant)
            s_remove (self, grant);
        s_refuse (self, from, msg->request, OSMOSE_MARKET_EXPIRED);
        return;
    }
    osmose_market_provider_grant (self, grant);
}

static void
s_on_reject (osmose_market_t *self, const uint8_t *from_key, const osmose_market_msg_t *msg)
{
    osmose_market_grant_t *grant = s_find_request (self, from_key, msg->request);
    if (grant && grant->state == S_RESERVED)
        s_remove (self, grant);
    else
        self->counters.unexpected++;
}

static void
s_on_renew (osmose_market_t *self, const char *from, const uint8_t *from_key,
            const osmose_market_msg_t *msg)
{
    osmose_market_msg_t *reply = osmose_market_outgoing (self, OSMOSE_MARKET_MSG_RENEWED);
    reply->count = msg->count;
    for (size_t index = 0; index < msg->count; index++) {
        const uint8_t *lease_id = msg->renewals [index].lease_id;
        osmose_market_renewal_t *renewal = &reply->renewals [index];
        memcpy (renewal->lease_id, lease_id, OSMOSE_LEASE_ID_SIZE);
        osmose_market_grant_t *grant = s_find_lease (self, from_key, lease_id);
        if (!grant || grant->expiry_us <= self->now_us) {
            renewal->reason = OSMOSE_MARKET_EXPIRED;
            renewal->ttl_ms = 0;
            renewal->token_size = 0;
            self->counters.renew_failures++;
            osmose_market_grant_t unknown = { .state = S_LEASED };
            snprintf (unknown.client, sizeof (unknown.client), "%s", from);
            memcpy (unknown.client_key, from_key, OSMOSE_KEY_SIZE);
            memcpy (unknown.lease_id, lease_id, OSMOSE_LEASE_ID_SIZE);
            s_event (self, OSMOSE_MARKET_RENEW_FAIL, grant? grant: &unknown,
                     OSMOSE_MARKET_EXPIRED, NULL, 0);
            continue;
        }
        grant->expiry_us = self->now_us + grant->ttl_us;
        grant->renewals++;
        renewal->reason = OSMOSE_MARKET_OK;
        renewal->ttl_ms = (uint32_t) (grant->ttl_us / 1000);
        renewal->token_size = s_issue_token (self, grant, self->now_us, grant->expiry_us,
                                             renewal->token);
        self->counters.renewals++;
    }
    osmose_market_send (self, from, reply);
}

static void
s_on_release (osmose_market_t *self, const uint8_t *from_key, const osmose_market_msg_t *msg)
{
    osmose_market_grant_t *grant = s_find_lease (self, from_key, msg->lease_id);
    if (!grant) {
        self->counters.unexpected++;
        return;
    }
    self->counters.releases++;
    s_event (self, OSMOSE_MARKET_RELEASE, grant, OSMOSE_MARKET_RELEASED, NULL, 0);
    s_remove (self, grant);
}

void
osmose_market_provider_receive (osmose_market_t *self, const char *from,
                                const uint8_t *from_key, const osmose_market_msg_t *msg)
{
    switch (msg->kind) {
        case OSMOSE_MARKET_MSG_CALL_FOR_BIDS:
            s_on_call (self, from, from_key, msg);
            break;
        case OSMOSE_MARKET_MSG_AWARD:
            s_on_award (self, from, from_key, msg);
            break;
        case OSMOSE_MARKET_MSG_REJECT:
            s_on_reject (self, from_key, msg);
            break;
        case OSMOSE_MARKET_MSG_RENEW:
            s_on_renew (self, from, from_key, msg);
            break;
        case OSMOSE_MARKET_MSG_RELEASE:
            s_on_release (self, from_key, msg);
            break;
        default:
            self->counters.unexpected++;
            break;
    }
}

void
osmose_market_provider_tick (osmose_market_t *self)
{
    size_t index = 0;
    while (index < self->grant_count) {
        osmose_market_grant_t *grant = &self->grants [index];
        if (grant->expiry_us > self->now_us) {
            index++;
            continue;
        }
        if (grant->state == S_LEASED) {
            self->counters.expirations++;
            s_event (self, OSMOSE_MARKET_EXPIRE, grant, OSMOSE_MARKET_EXPIRED, NULL, 0);
        }
        else
            self->counters.reservations_expired++;
        s_remove (self, grant);     //  the last entry moved here: look again
    }
}

int64_t
osmose_market_provider_deadline (osmose_market_t *self)
{
    int64_t deadline = OSMOSE_MARKET_NEVER;
    for (size_t index = 0; index < self->grant_count; index++)
        if (self->grants [index].expiry_us < deadline)
            deadline = self->grants [index].expiry_us;
    return deadline;
}

int
osmose_market_withdraw (osmose_market_t *self, osmose_market_reason_t reason, int64_t now_us)
{
    assert (self);
    self->now_us = now_us;
    int revoked = 0;
    while (self->grant_count > 0) {
        osmose_market_grant_t *grant = &self->grants [self->grant_count - 1];
        if (grant->state == S_LEASED) {
            osmose_market_msg_t *msg = osmose_market_outgoing (self, OSMOSE_MARKET_MSG_REVOKE);
            msg->reason = reason;
            memcpy (msg->lease_id, grant->lease_id, OSMOSE_LEASE_ID_SIZE);
            osmose_market_send (self, grant->client, msg);
            s_event (self, OSMOSE_MARKET_REVOKE, grant, reason, NULL, 0);
            self->counters.revocations++;
            revoked++;
        }
        s_remove (self, grant);
    }
    return revoked;
}

void
osmose_market_peer_down (osmose_market_t *self, const char *id, int64_t now_us)
{
    assert (self && id);
    self->now_us = now_us;
    size_t index = 0;
    while (index < self->grant_count) {
        osmose_market_grant_t *grant = &self->grants [index];
        if (grant->state == S_RESERVED && streq (grant->client, id))
            s_remove (self, grant);
        else
            index++;
    }
    osmose_market_client_peer_down (self, id);
}
