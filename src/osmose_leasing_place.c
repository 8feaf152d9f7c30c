/*  osmose_leasing_place.c: where leases go besides the market: this
    device for its own programs (local leases), and elsewhere after a move
    (re-placement with hysteresis).
*/
#include "osmose_prelude.h"
#include "osmose_leasing_int.h"

//  What local leases take of this device now
static void
s_local_used (osmose_leasing_t *self, int *cpus, int *gpus, int *npus, int64_t *memory_mb)
{
    *cpus = *gpus = *npus = 0;
    *memory_mb = 0;
    for (leasing_holder_t *holder = (leasing_holder_t *) zhashx_first (self->holders); holder;
         holder = (leasing_holder_t *) zhashx_next (self->holders))
        if (holder->local) {
            *cpus += holder->cpus;
            *gpus += holder->gpus;
            *npus += holder->npus;
            *memory_mb += holder->memory_mb;
        }
}

//  Does this device have room for ACQUIRE beside its other local leases?
bool
leasing_local_room (osmose_leasing_t *self, const leasing_acquire_t *acquire)
{
    int cpus, gpus, npus;
    int64_t memory_mb;
    s_local_used (self, &cpus, &gpus, &npus, &memory_mb);
    const osmose_resources_capacity_t *capacity = &self->resources.capacity;
    return cpus + acquire->market.cpus <= capacity->cpus
        && gpus + acquire->market.gpus <= capacity->gpus
        && npus + acquire->market.npus <= capacity->npus
        && memory_mb + acquire->market.memory_mb <= self->resources.load.memory_free_mb;
}

//  Lease this device to its own program: a token we sign for ourselves
int
leasing_local_lease (osmose_leasing_t *self, leasing_acquire_t *acquire)
{
    size_t count = leasing_members (self, true, true, true);
    if (count == 0)
        return OSMOSE_ENOPEER;
    leasing_exec_require (self);
    osmose_token_t token = { 0 };
    randombytes_buf (token.lease_id, sizeof (token.lease_id));
    memcpy (token.client_key, osmose_identity_public (self->identity), OSMOSE_KEY_SIZE);
    token.cpus = acquire->market.cpus;
    token.gpus = acquire->market.gpus;
    token.npus = acquire->market.npus;
    token.memory_mb = acquire->market.memory_mb;
    token.issued_us = osmose_token_now_us ();
    //  Valid as long as the program lives: the holder watch ends it
    token.expiry_us = token.issued_us + INT64_C (86400000000) * 365;
    osmose_token_sign (&token, self->identity);
    uint8_t encoded [OSMOSE_TOKEN_MAX_SIZE];
    int size = osmose_token_encode (&token, encoded, sizeof (encoded));
    if (size < 0)
        return size;
    int rc = leasing_answer_lease (self, acquire, &self->members [0], token.lease_id,
                             osmose_identity_public (self->identity), encoded, (size_t) size,
                             &token, token.expiry_us - token.issued_us, true);
    if (rc == 0) {
        char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
        sodium_bin2hex (lease, sizeof (lease), token.lease_id, OSMOSE_LEASE_ID_SIZE);
        self->log (self->log_arg, OSMOSE_ENTRY_LEASE_GRANT, json_pack (
            "{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I}", "event", "grant", "lease", lease,
            "peer", osmose_identity_id (self->identity), "local", "yes", "cpus", token.cpus,
            "gpus", token.gpus, "npus", token.npus, "memory_mb", (json_int_t) token.memory_mb));
    }
    return rc;
}

//  MEMBER's score on its RTT floor: what its distance costs each task,
//  without the queueing of a busy moment. A lease moves on this, or the
//  provider running our tasks, whose pings wait behind them, would always
//  look farther than an idle one and the lease would hop between equals.
static int64_t
s_floor_score (const char *here, const leasing_member_t *member, int64_t weight)
{
    osmose_proximity_candidate_t floor = member->candidate;
    if (member->rtt_floor_us >= 0)
        floor.rtt_us = member->rtt_floor_us;
    return osmose_proximity_candidate_score (here, &floor, weight);
}

//  Should the lease of HOLDER move, seen from where we are now? The
//  reason when it should, else NULL
static const char *
s_misplaced (osmose_leasing_t *self, leasing_holder_t *holder, size_t count, int64_t now)
{
    leasing_member_t *provider = leasing_member_find (self, count, holder->provider);
    if (!provider)
        return NULL;            //  gone: membership and the connection handle that
    int64_t weight = osmose_config_int (self->config, "proximity/topology_weight_us");
    const char *here = self->resources.capacity.location;
    int64_t score = s_floor_score (here, provider, weight);
    if (holder->latency_bound_us && score > holder->latency_bound_us)
        return "moved: the provider is beyond the latency bound";
    if (now - holder->placed_us < osmose_config_int (self->config, "lease/move_hold_ms") * 1000)
        return NULL;
    int64_t gain = osmose_config_int (self->config, "lease/move_gain_us");
    for (size_t index = 0; index < count; index++) {
        leasing_member_t *other = &self->members [index];
        const osmose_proximity_candidate_t *candidate = &other->candidate;
        if (other->is_self || streq (other->id, holder->provider) || !*other->work
        ||  candidate->free_cpus < holder->cpus || candidate->free_gpus < holder->gpus
        ||  candidate->free_npus < holder->npus || candidate->free_memory_mb < holder->memory_mb)
            continue;
        //  Its advert offers room, but it refused us lately: other clients
        //  hold it, unseen here, and a move would only be refused again
        int64_t refused = osmose_market_refused_at (self->market, other->id);
        if (refused && now - refused < LEASING_REFUSED_HOLD_US)
            continue;
        if (s_floor_score (here, other, weight) + gain <= score)
            return "moved: a much nearer provider has room";
    }
    return NULL;
}

//  Give back leases whose providers are no longer near us; their programs
//  hear it from the provider (CLOSED) and bid again from here
void
leasing_replace (osmose_leasing_t *self, int64_t now)
{
    //  A member's advert offers its caps, not what is left of them: less
    //  what we hold from it, or a lease placed farther because the nearer
    //  provider was full of our own leases would be given back as soon as
    //  its hold ends, to be refused there and placed farther again. (What
    //  other clients hold is not in the advert: a provider that refused us
    //  lately is not moved toward, s_misplaced)
    size_t count = 0;
    for (leasing_holder_t *holder = (leasing_holder_t *) zhashx_first (self->holders); holder;
         holder = (leasing_holder_t *) zhashx_next (self->holders)) {
        if (holder->local)
            continue;
        if (count == 0)
            count = leasing_members (self, true, false, false);
        leasing_member_t *provider = leasing_member_find (self, count, holder->provider);
        if (provider) {
            provider->candidate.free_cpus -= holder->cpus;
            provider->candidate.free_gpus -= holder->gpus;
            provider->candidate.free_npus -= holder->npus;
            provider->candidate.free_memory_mb -= holder->memory_mb;
        }
    }
    if (count == 0)
        return;                 //  nothing held elsewhere
    zlistx_t *moving = zlistx_new ();
    if (moving)
        zlistx_set_destructor (moving, (zlistx_destructor_fn *) zstr_free);
    for (leasing_holder_t *holder = (leasing_holder_t *) zhashx_first (self->holders); moving && holder;
         holder = (leasing_holder_t *) zhashx_next (self->holders)) {
        if (holder->local)
            continue;
        //  A copy of the key: giving the lease back frees the table's
        if ((holder->replaced = s_misplaced (self, holder, count, now)))
            zlistx_add_end (moving, strdup ((const char *) zhashx_cursor (self->holders)));
    }
    for (const char *lease = (const char *) zlistx_first (moving); lease;
         lease = (const char *) zlistx_next (moving)) {
        leasing_holder_t *holder = (leasing_holder_t *) zhashx_lookup (self->holders, lease);
        if (!holder)
            continue;           //  gone meanwhile
        zsys_info ("leasing: re-placing lease %s from %s: %s", lease, holder->provider,
                   holder->replaced);
        zhashx_update (self->replaced, lease, (void *) holder->replaced);
        uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
        memcpy (lease_id, holder->lease_id, sizeof (lease_id));
        if (leasing_give_back (self, lease, lease_id, holder->replaced) != 0)
            zhashx_delete (self->replaced, lease);
    }
    zlistx_destroy (&moving);
}

void
osmose_leasing_moved (osmose_leasing_t *self, const osmose_resources_t *resources)
{
    assert (self && resources);
    osmose_leasing_set_resources (self, resources);
    leasing_replace (self, osmose_token_now_us ());
}
