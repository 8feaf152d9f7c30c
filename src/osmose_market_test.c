/*  osmose_market_test.c: self-test of the market engine on a simulated
    mesh of sixteen peers (osmose_market_sim): nearest provider wins,
    refusals for capacity, battery and policy, the refusers remembered
    (eighteen peers), races for the last CPU, expiry on silence, renewals, release, withdraw, peer death, tokens,
    hostile input, and the cost of one acquisition in messages and round
    trips.
*/
#include "osmose_prelude.h"
#include "osmose_market_sim.h"

#define S_SECOND INT64_C (1000000)

static const osmose_market_request_t s_one_cpu = {
    .cpus = 1, .count = 1, .extra = -1
};

//  Acquire from CLIENT and run to DONE, then until its AWARD and REJECTs
//  have arrived (DONE comes as they leave); returns the DONE event's index
static int
s_acquire (osmose_market_sim_t *sim, int client, const osmose_market_request_t *request)
{
    uint64_t id;
    int rc = osmose_market_sim_acquire (sim, client, request, &id);
    assert (rc == 0);
    int done = osmose_market_sim_run_request (sim, client, id,
                                              osmose_market_sim_now (sim) + S_SECOND);
    assert (done >= 0);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
    return done;
}

static const osmose_market_event_t *
s_event (osmose_market_sim_t *sim, int index)
{
    const osmose_market_sim_event_t *events;
    size_t count = osmose_market_sim_events (sim, &events);
    assert (index >= 0 && (size_t) index < count);
    return &events [index].event;
}

//  Provider of the last lease CLIENT acquired, as a peer index (-1: none)
static int
s_last_provider (osmose_market_sim_t *sim, int client)
{
    const osmose_market_sim_event_t *events;
    size_t count = osmose_market_sim_events (sim, &events);
    for (size_t index = count; index-- > 0; )
        if (events [index].peer == client && events [index].event.kind == OSMOSE_MARKET_ACQUIRED)
            return osmose_market_sim_peer (sim, events [index].event.peer);
    return -1;
}

static int
s_free_cpus (osmose_market_sim_t *sim, int peer)
{
    int cpus;
    osmose_market_free (osmose_market_sim_engine (sim, peer), &cpus, NULL, NULL, NULL);
    return cpus;
}

static size_t
s_leases (osmose_market_sim_t *sim, int peer, osmose_market_role_t role)
{
    return osmose_market_leases (osmose_market_sim_engine (sim, peer), role, NULL, 0,
                                 osmose_market_sim_now (sim));
}

static uint64_t
s_refusals (osmose_market_sim_t *sim, int peer, osmose_market_reason_t reason)
{
    return osmose_market_counters (osmose_market_sim_engine (sim, peer))->refusals_sent [reason];
}

//  Nearest with capacity wins; stale adverts, battery and policy refuse
static void
s_test_refusals (void)
{
    osmose_market_sim_t *sim = osmose_market_sim_new (16, NULL, 4, 50, 100);
    int done = s_acquire (sim, 0, &s_one_cpu);
    assert (s_event (sim, done)->status == 0 && s_event (sim, done)->count == 1);
    assert (s_last_provider (sim, 0) == 1);         //  the desk next door
    assert (s_free_cpus (sim, 1) == 3);
    assert (s_leases (sim, 1, OSMOSE_MARKET_GRANTED) == 1);
    assert (s_leases (sim, 0, OSMOSE_MARKET_HELD) == 1);
    assert (osmose_market_sim_find (sim, 1, OSMOSE_MARKET_GRANT, 0) >= 0);

    //  Peer 1 is now full, but its advert still says 1 free: it refuses
    osmose_market_sim_resources (sim, 1)->capacity.lease_cpus = 1;
    osmose_market_sim_apply (sim, 1);
    done = s_acquire (sim, 0, &s_one_cpu);
    assert (s_event (sim, done)->status == 0);
    int second = s_last_provider (sim, 0);
    assert (second == 2 || second == 3);            //  next room, same floor
    assert (s_refusals (sim, 1, OSMOSE_MARKET_CAPACITY) == 1);

    //  The rest of the floor on battery below the threshold refuses
    for (int peer = 2; peer <= 3; peer++) {
        osmose_resources_t *resources = osmose_market_sim_resources (sim, peer);
        resources->capacity.power = OSMOSE_POWER_BATTERY;
        resources->load.battery_percent = 10;
        osmose_market_sim_apply (sim, peer);
    }
    done = s_acquire (sim, 0, &s_one_cpu);          //  asks 1, 2, 3
    assert (s_event (sim, done)->status == OSMOSE_ENOPEER);
    assert (s_event (sim, done)->count == 0);
    assert (s_refusals (sim, 2, OSMOSE_MARKET_BATTERY) == 1);
    assert (s_refusals (sim, 3, OSMOSE_MARKET_BATTERY) == 1);
    assert (s_refusals (sim, 1, OSMOSE_MARKET_CAPACITY) == 2);

    //  On the wall again but loaded past policy/load_max_percent, peer 2
    //  refuses too: its owner's work comes first
    osmose_market_t *busy = osmose_market_sim_engine (sim, 2);
    osmose_resources_t *busy_resources = osmose_market_sim_resources (sim, 2);
    osmose_market_settings_t settings;
    osmose_market_settings (busy, &settings);
    settings.load_max_percent = 80;
    assert (osmose_market_set_settings (busy, &settings) == 0);
    busy_resources->capacity.power = OSMOSE_POWER_WALL;
    busy_resources->load.load1 = 100 * busy_resources->capacity.cpus;   //  100% a CPU
    osmose_market_sim_apply (sim, 2);
    done = s_acquire (sim, 0, &s_one_cpu);
    assert (s_event (sim, done)->status == OSMOSE_ENOPEER);
    assert (s_refusals (sim, 2, OSMOSE_MARKET_WITHDRAWN) == 1);
    //  Under the maximum it lends again
    busy_resources->load.load1 = 50 * busy_resources->capacity.cpus;
    osmose_market_sim_apply (sim, 2);
    done = s_acquire (sim, 0, &s_one_cpu);
    assert (s_event (sim, done)->status == 0 && s_last_provider (sim, 0) == 2);
    assert (s_refusals (sim, 2, OSMOSE_MARKET_WITHDRAWN) == 1);
    settings.load_max_percent = -1;
    assert (osmose_market_set_settings (busy, &settings) == OSMOSE_EINVAL);
    //  Back on a low battery for what follows
    busy_resources->capacity.power = OSMOSE_POWER_BATTERY;
    osmose_market_sim_apply (sim, 2);

    //  The next floor allows only peer 15
    char allow [OSMOSE_ID_SIZE + 1];
    snprintf (allow, sizeof (allow), "%s", osmose_market_sim_id (sim, 15));
    for (int peer = 4; peer <= 7; peer++)
        assert (osmose_market_set_allow (osmose_market_sim_engine (sim, peer), allow) == 0);
    osmose_market_request_t wide = s_one_cpu;
    wide.extra = 6;                                 //  asks 1 .. 7
    done = s_acquire (sim, 0, &wide);
    assert (s_event (sim, done)->status == OSMOSE_ENOPEER);
    for (int peer = 4; peer <= 7; peer++)
        assert (s_refusals (sim, peer, OSMOSE_MARKET_POLICY) == 1);
    //  ... but serves peer 15
    osmose_market_request_t from_far = s_one_cpu;
    done = s_acquire (sim, 15, &from_far);
    assert (s_event (sim, done)->status == 0);
    //  Asking farther finds the floor above
    wide.extra = 8;
    done = s_acquire (sim, 0, &wide);
    assert (s_event (sim, done)->status == 0);
    assert (s_last_provider (sim, 0) >= 8);

    //  Bad allow lists are refused, not half-applied
    osmose_market_t *engine = osmose_market_sim_engine (sim, 4);
    assert (osmose_market_set_allow (engine, "not-an-id") == OSMOSE_EINVAL);
    assert (osmose_market_set_allow (engine, "* 0123456789abcdef") == OSMOSE_EINVAL);
    assert (osmose_market_set_allow (engine, "*") == 0);
    osmose_market_sim_destroy (&sim);
}

//  The client remembers the last OSMOSE_MARKET_REFUSERS peers to refuse
//  it: a new refuser takes the oldest slot, one already there keeps its
static void
s_test_refusers (void)
{
    int peers = OSMOSE_MARKET_REFUSERS + 2;         //  one refuser too many
    osmose_market_sim_t *sim = osmose_market_sim_new (peers, NULL, 4, 50, 100);
    //  Every provider on a low battery, each a little farther than the
    //  last, so that their refusals come back in order
    osmose_market_sim_set_delay (sim, 50);
    for (int peer = 1; peer < peers; peer++) {
        osmose_market_sim_set_link_delay (sim, peer, 0, 100 * peer);
        osmose_resources_t *resources = osmose_market_sim_resources (sim, peer);
        resources->capacity.power = OSMOSE_POWER_BATTERY;
        resources->load.battery_percent = 10;
        osmose_market_sim_apply (sim, peer);
    }
    osmose_market_t *client = osmose_market_sim_engine (sim, 0);
    osmose_market_request_t all = s_one_cpu;
    all.extra = peers - 2;                          //  asks every other peer
    int done = s_acquire (sim, 0, &all);
    assert (s_event (sim, done)->status == OSMOSE_ENOPEER);
    //  The first to refuse was the one pushed out by the last
    assert (osmose_market_refused_at (client, osmose_market_sim_id (sim, 1)) == 0);
    int64_t last = 0;
    for (int peer = 2; peer < peers; peer++) {
        int64_t at = osmose_market_refused_at (client, osmose_market_sim_id (sim, peer));
        assert (at > last);
        last = at;
    }
    //  Peer 1 refusing again is new: it takes the oldest slot, peer 2's
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + S_SECOND);
    osmose_market_request_t nearest = s_one_cpu;
    nearest.extra = 0;                              //  asks peer 1 alone
    done = s_acquire (sim, 0, &nearest);
    assert (s_event (sim, done)->status == OSMOSE_ENOPEER);
    int64_t first = osmose_market_refused_at (client, osmose_market_sim_id (sim, 1));
    assert (first > last + S_SECOND / 2);
    assert (osmose_market_refused_at (client, osmose_market_sim_id (sim, 2)) == 0);
    //  On record already, it keeps its slot with the new time: nobody goes
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + S_SECOND);
    done = s_acquire (sim, 0, &nearest);
    assert (s_event (sim, done)->status == OSMOSE_ENOPEER);
    assert (osmose_market_refused_at (client, osmose_market_sim_id (sim, 1)) > first + S_SECOND / 2);
    for (int peer = 3; peer < peers; peer++)
        assert (osmose_market_refused_at (client, osmose_market_sim_id (sim, peer)) > 0);
    osmose_market_sim_destroy (&sim);
}

//  Two clients racing for the last CPU of the nearest provider
static void
s_test_race (void)
{
    const char *locations [16] = { "r/a/c0", "r/a/c1", "r/a/p" };
    char names [16][16];
    for (int peer = 3; peer < 16; peer++) {
        snprintf (names [peer], sizeof (names [peer]), "r/b/q%d", peer);
        locations [peer] = names [peer];
    }
    osmose_market_sim_t *sim = osmose_market_sim_new (16, locations, 4, 50, 100);
    for (int client = 0; client <= 1; client++) {
        osmose_market_sim_resources (sim, client)->capacity.lease_cpus = 0;
        osmose_market_sim_apply (sim, client);
    }
    osmose_market_sim_resources (sim, 2)->capacity.lease_cpus = 1;
    osmose_market_sim_apply (sim, 2);

    for (int round = 0; round < 2; round++) {
        //  Round 0: only the provider is asked; round 1: d = 2 more
        osmose_market_request_t request = s_one_cpu;
        request.extra = round == 0? 0: 2;
        uint64_t ids [2];
        for (int client = 0; client <= 1; client++)
            assert (osmose_market_sim_acquire (sim, client, &request, &ids [client]) == 0);
        int64_t until = osmose_market_sim_now (sim) + S_SECOND;
        int done [2];
        done [0] = osmose_market_sim_run_request (sim, 0, ids [0], until);
        done [1] = osmose_market_sim_run_request (sim, 1, ids [1], until);
        assert (done [0] >= 0 && done [1] >= 0);
        osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
        //  Never both from peer 2
        const osmose_market_sim_event_t *events;
        size_t count = osmose_market_sim_events (sim, &events);
        int from_provider = 0, obtained = 0;
        for (size_t index = 0; index < count; index++)
            if (events [index].event.kind == OSMOSE_MARKET_ACQUIRED) {
                obtained++;
                from_provider += osmose_market_sim_peer (sim, events [index].event.peer) == 2;
            }
        assert (from_provider == 1);
        assert (s_leases (sim, 2, OSMOSE_MARKET_GRANTED) == 1);
        assert (s_free_cpus (sim, 2) == 0);
        assert (s_refusals (sim, 2, OSMOSE_MARKET_CAPACITY) == (uint64_t) round + 1);
        if (round == 0)
            assert (obtained == 1 && (s_event (sim, done [0])->status == OSMOSE_ENOPEER
                                      || s_event (sim, done [1])->status == OSMOSE_ENOPEER));
        else
            assert (obtained == 2 && s_event (sim, done [0])->status == 0
                                  && s_event (sim, done [1])->status == 0);
        //  Hand everything back for the next round
        for (int client = 0; client <= 1; client++) {
            osmose_market_lease_info_t info [4];
            size_t held = osmose_market_leases (osmose_market_sim_engine (sim, client),
                                                OSMOSE_MARKET_HELD, info, 4, 0);
            for (size_t index = 0; index < held; index++)
                assert (osmose_market_release (osmose_market_sim_engine (sim, client),
                                               info [index].lease_id,
                                               osmose_market_sim_now (sim)) == 0);
            osmose_market_sim_pump (sim, client);
        }
        osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
        assert (s_free_cpus (sim, 2) == 1);
        osmose_market_sim_clear (sim);
    }
    osmose_market_sim_destroy (&sim);
}

//  Short TTLs so the test runs many heartbeats
static void
s_short_leases (osmose_market_sim_t *sim, int peers)
{
    for (int peer = 0; peer < peers; peer++) {
        osmose_market_t *engine = osmose_market_sim_engine (sim, peer);
        osmose_market_settings_t settings;
        osmose_market_settings (engine, &settings);
        settings.ttl_us = S_SECOND;
        settings.heartbeat_us = S_SECOND / 5;
        settings.verify_tokens = true;          //  the other path than s_test_cost
        assert (osmose_market_set_settings (engine, &settings) == 0);
    }
}

//  The token of CLIENT's last lease, and its checks
static void
s_check_token (osmose_market_sim_t *sim, int client, int provider)
{
    int acquired = -1;
    for (int index = 0; (index = osmose_market_sim_find (sim, client, OSMOSE_MARKET_ACQUIRED,
                                                          (size_t) index)) >= 0; index++)
        acquired = index;
    assert (acquired >= 0);
    const osmose_market_event_t *event = s_event (sim, acquired);
    const uint8_t *provider_key = osmose_identity_public (osmose_market_sim_identity (sim, provider));
    const uint8_t *client_key = osmose_identity_public (osmose_market_sim_identity (sim, client));
    int64_t now = osmose_market_sim_now (sim);
    osmose_token_t token;
    assert (osmose_token_check (event->token, event->token_size, provider_key, client_key,
                                now, &token) == 0);
    assert (memcmp (token.lease_id, event->lease_id, OSMOSE_LEASE_ID_SIZE) == 0);
    assert (token.cpus == 1 && token.expiry_us == event->expiry_us);
    assert (osmose_token_check (event->token, event->token_size, provider_key, client_key,
                                token.expiry_us, NULL) == OSMOSE_ENOLEASE);
    assert (osmose_token_check (event->token, event->token_size, client_key, provider_key,
                                now, NULL) == OSMOSE_EVERIFY);
    uint8_t forged [OSMOSE_TOKEN_MAX_SIZE];
    memcpy (forged, event->token, event->token_size);
    forged [OSMOSE_TOKEN_SIGNED - 30] ^= 0x40;      //  the memory figure
    assert (osmose_token_check (forged, event->token_size, provider_key, client_key,
                                now, NULL) == OSMOSE_EVERIFY);
    osmose_market_t *engine = osmose_market_sim_engine (sim, provider);
    assert (osmose_market_lease_valid (engine, event->lease_id, client_key, now) == 0);
    assert (osmose_market_lease_valid (engine, event->lease_id, provider_key, now)
            == OSMOSE_ENOLEASE);
}

//  The held lease of CLIENT (exactly one)
static void
s_held (osmose_market_sim_t *sim, int client, osmose_market_lease_info_t *info)
{
    assert (osmose_market_leases (osmose_market_sim_engine (sim, client), OSMOSE_MARKET_HELD,
                                  info, 1, osmose_market_sim_now (sim)) == 1);
}

static void
s_test_lifecycle (void)
{
    osmose_market_sim_t *sim = osmose_market_sim_new (16, NULL, 4, 50, 100);
    s_short_leases (sim, 16);
    osmose_market_t *client = osmose_market_sim_engine (sim, 0);
    osmose_market_t *provider = osmose_market_sim_engine (sim, 1);
    const uint8_t *client_key = osmose_identity_public (osmose_market_sim_identity (sim, 0));

    //  Renewals keep a lease alive for many TTLs, with fresh tokens
    s_acquire (sim, 0, &s_one_cpu);
    assert (s_last_provider (sim, 0) == 1);
    s_check_token (sim, 0, 1);
    osmose_market_lease_info_t info;
    s_held (sim, 0, &info);
    osmose_token_t first;
    assert (osmose_token_decode (info.token, info.token_size, &first) == 0);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 5 * S_SECOND);
    s_held (sim, 0, &info);
    assert (info.renewals >= 15 && info.ttl_left_us > 0);
    osmose_token_t renewed;
    assert (osmose_token_check (info.token, info.token_size, NULL, client_key,
                                osmose_market_sim_now (sim), &renewed) == 0);
    assert (renewed.expiry_us > first.expiry_us + 4 * S_SECOND);
    assert (osmose_market_sim_find (sim, -1, OSMOSE_MARKET_LEASE_LOST, 0) < 0);
    assert (osmose_market_sim_find (sim, -1, OSMOSE_MARKET_EXPIRE, 0) < 0);
    assert (s_leases (sim, 1, OSMOSE_MARKET_GRANTED) == 1 && s_free_cpus (sim, 1) == 3);

    //  A silent client loses the lease and the provider gets its CPU back
    osmose_market_sim_freeze (sim, 0, true);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 2 * S_SECOND);
    int expire = osmose_market_sim_find (sim, 1, OSMOSE_MARKET_EXPIRE, 0);
    assert (expire >= 0 && memcmp (s_event (sim, expire)->lease_id, info.lease_id,
                                   OSMOSE_LEASE_ID_SIZE) == 0);
    assert (s_free_cpus (sim, 1) == 4 && s_leases (sim, 1, OSMOSE_MARKET_GRANTED) == 0);
    assert (osmose_market_lease_valid (provider, info.lease_id, NULL,
                                       osmose_market_sim_now (sim)) == OSMOSE_ENOLEASE);
    osmose_market_sim_freeze (sim, 0, false);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 1000);
    int lost = osmose_market_sim_find (sim, 0, OSMOSE_MARKET_LEASE_LOST, 0);
    assert (lost >= 0 && s_event (sim, lost)->reason == OSMOSE_MARKET_EXPIRED);
    assert (s_leases (sim, 0, OSMOSE_MARKET_HELD) == 0);
    osmose_market_sim_clear (sim);

    //  Release frees at once
    s_acquire (sim, 0, &s_one_cpu);
    s_held (sim, 0, &info);
    assert (osmose_market_release (client, info.lease_id, osmose_market_sim_now (sim)) == 0);
    assert (osmose_market_release (client, info.lease_id, osmose_market_sim_now (sim))
            == OSMOSE_ENOLEASE);
    osmose_market_sim_pump (sim, 0);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
    assert (osmose_market_sim_find (sim, 1, OSMOSE_MARKET_RELEASE, 0) >= 0);
    assert (s_free_cpus (sim, 1) == 4);

    //  Withdraw revokes, with the owner's reason
    s_acquire (sim, 0, &s_one_cpu);
    assert (osmose_market_withdraw (provider, OSMOSE_MARKET_BATTERY,
                                    osmose_market_sim_now (sim)) == 1);
    osmose_market_sim_pump (sim, 1);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
    assert (osmose_market_sim_find (sim, 1, OSMOSE_MARKET_REVOKE, 0) >= 0);
    lost = osmose_market_sim_find (sim, 0, OSMOSE_MARKET_LEASE_LOST, 0);
    assert (lost >= 0 && s_event (sim, lost)->reason == OSMOSE_MARKET_BATTERY);
    assert (s_free_cpus (sim, 1) == 4 && s_leases (sim, 0, OSMOSE_MARKET_HELD) == 0);
    osmose_market_sim_clear (sim);

    //  A revocation that never arrives: the next renewal fails
    s_acquire (sim, 0, &s_one_cpu);
    osmose_market_sim_cut (sim, 1, true);
    assert (osmose_market_withdraw (provider, OSMOSE_MARKET_POLICY,
                                    osmose_market_sim_now (sim)) == 1);
    osmose_market_sim_pump (sim, 1);                //  REVOKE lost
    osmose_market_sim_cut (sim, 1, false);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + S_SECOND / 2);
    assert (osmose_market_sim_find (sim, 1, OSMOSE_MARKET_RENEW_FAIL, 0) >= 0);
    lost = osmose_market_sim_find (sim, 0, OSMOSE_MARKET_LEASE_LOST, 0);
    assert (lost >= 0 && s_event (sim, lost)->reason == OSMOSE_MARKET_EXPIRED);
    osmose_market_sim_clear (sim);

    //  Membership declares the provider dead: the lease is lost at once
    s_acquire (sim, 0, &s_one_cpu);
    osmose_market_peer_down (client, osmose_market_sim_id (sim, 1), osmose_market_sim_now (sim));
    lost = -1;
    osmose_market_event_t event;
    while (osmose_market_next_event (client, &event))
        if (event.kind == OSMOSE_MARKET_LEASE_LOST)
            lost = event.reason;
    assert (lost == OSMOSE_MARKET_PEER_DOWN);
    assert (s_leases (sim, 0, OSMOSE_MARKET_HELD) == 0);
    //  ... while the provider keeps it until its TTL runs out
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 2 * S_SECOND);
    assert (s_free_cpus (sim, 1) == 4);
    osmose_market_sim_destroy (&sim);
}

//  Three candidates in one room, ranked by RTT alone (200, 300, 400 us),
//  the nearest's bid STALL_US late. Returns the provider and when (after
//  the start) the request was done.
static int
s_stalled_nearest_run (const osmose_market_request_t *request, int64_t stall_us,
                       int64_t *took_us)
{
    const char *room [] = { "b/f0/r0/d0", "b/f0/r0/d1", "b/f0/r0/d1", "b/f0/r0/d1" };
    osmose_market_sim_t *sim = osmose_market_sim_new (4, room, 4, 0, 0);
    for (int peer = 1; peer < 4; peer++) {
        osmose_market_sim_set_link_delay (sim, 0, peer, 50 + 50 * peer);
        osmose_market_sim_set_link_delay (sim, peer, 0, 50 + 50 * peer);
    }
    uint64_t id;
    int64_t start = osmose_market_sim_now (sim);
    assert (osmose_market_sim_acquire (sim, 0, request, &id) == 0);
    osmose_market_sim_set_link_delay (sim, 1, 0, 100 + stall_us);
    int done = osmose_market_sim_run_request (sim, 0, id, start + S_SECOND);
    assert (done >= 0 && s_event (sim, done)->status == 0);
    const osmose_market_sim_event_t *events;
    osmose_market_sim_events (sim, &events);
    *took_us = events [done].at_us - start;
    int provider = s_last_provider (sim, 0);
    osmose_market_sim_destroy (&sim);
    return provider;
}

//  A candidate nearest only by its mean RTT is waited for twice that RTT,
//  the grace and what it would gain; then its silence says it is farther
//  now, and a bid in hand wins (long before the bid timeout)
static void
s_test_stalled_nearest (const osmose_market_request_t *any_of_three)
{
    osmose_market_sim_t *defaults = osmose_market_sim_new (1, NULL, 1, 0, 0);
    osmose_market_settings_t settings;
    osmose_market_settings (osmose_market_sim_engine (defaults, 0), &settings);
    osmose_market_sim_destroy (&defaults);
    int64_t patience = 2 * 200 + settings.bid_grace_us + (300 - 200);
    int64_t took;
    //  A little late, within the patience: the nearest still wins
    assert (s_stalled_nearest_run (any_of_three, patience - 300, &took) == 1);
    assert (took == patience - 100);
    //  Stalled: the next one's bid, in hand since 300 us, wins at the
    //  patience's end
    assert (s_stalled_nearest_run (any_of_three, 4000, &took) == 2);
    assert (took == patience);
    assert (took < settings.bid_timeout_min_us);
}

//  Timeouts, a candidate that is ourselves, several leases at once
static void
s_test_requests (void)
{
    osmose_market_sim_t *sim = osmose_market_sim_new (16, NULL, 4, 50, 100);
    //  Nobody answers: ETIMEDOUT once the wait for a first bid runs out
    for (int peer = 1; peer < 16; peer++)
        osmose_market_sim_cut (sim, peer, true);
    int64_t start = osmose_market_sim_now (sim);
    int done = s_acquire (sim, 0, &s_one_cpu);
    const osmose_market_sim_event_t *events;
    osmose_market_sim_events (sim, &events);
    assert (s_event (sim, done)->status == OSMOSE_ETIMEDOUT);
    osmose_market_settings_t settings;
    osmose_market_settings (osmose_market_sim_engine (sim, 0), &settings);
    assert (events [done].at_us - start == settings.bid_timeout_max_us);
    for (int peer = 1; peer < 16; peer++)
        osmose_market_sim_cut (sim, peer, false);

    //  A mesh slower than its RTTs said: past the bid timeout, the first
    //  bid that comes wins
    osmose_market_sim_t *slow = osmose_market_sim_new (16, NULL, 4, 50, 100);
    osmose_market_sim_set_delay (slow, 100);
    uint64_t slow_id;
    assert (osmose_market_sim_acquire (slow, 0, &s_one_cpu, &slow_id) == 0);
    start = osmose_market_sim_now (slow);
    osmose_market_sim_set_delay (slow, 6000);      //  the bids take 6 ms back
    done = osmose_market_sim_run_request (slow, 0, slow_id, start + S_SECOND);
    assert (done >= 0 && s_event (slow, done)->status == 0);
    osmose_market_sim_events (slow, &events);
    assert (events [done].at_us - start == 100 + 6000);   //  the bid was the lease
    osmose_market_sim_destroy (&slow);

    //  The desk next door answers after the bid timeout: a bid from the
    //  next room is in hand, but the nearer one is worth the wait its
    //  better score buys (here 6 ms instead of 5)...
    osmose_market_sim_t *near = osmose_market_sim_new (4, NULL, 4, 50, 100);
    osmose_market_request_t any_of_three = s_one_cpu;
    any_of_three.extra = 2;
    assert (osmose_market_sim_acquire (near, 0, &any_of_three, &slow_id) == 0);
    osmose_market_sim_set_link_delay (near, 1, 0, 6000);
    done = osmose_market_sim_run_request (near, 0, slow_id, osmose_market_sim_now (near) + S_SECOND);
    assert (done >= 0 && s_event (near, done)->status == 0);
    assert (s_last_provider (near, 0) == 1);
    osmose_market_sim_destroy (&near);
    //  ... but not any wait: 30 ms is more than a hop is worth
    near = osmose_market_sim_new (4, NULL, 4, 50, 100);
    assert (osmose_market_sim_acquire (near, 0, &any_of_three, &slow_id) == 0);
    start = osmose_market_sim_now (near);
    osmose_market_sim_set_link_delay (near, 1, 0, 30000);
    done = osmose_market_sim_run_request (near, 0, slow_id, start + S_SECOND);
    assert (done >= 0 && s_event (near, done)->status == 0);
    int other = s_last_provider (near, 0);
    assert (other == 2 || other == 3);
    osmose_market_sim_events (near, &events);
    assert (events [done].at_us - start < 20000);
    osmose_market_sim_destroy (&near);
    s_test_stalled_nearest (&any_of_three);

    //  The AWARD is lost on the way: we hold the lease the bid carried, the
    //  provider's hold lapses by itself, and the first renewal tells us
    osmose_market_request_t only_one = s_one_cpu;
    only_one.extra = 0;
    uint64_t id;
    assert (osmose_market_sim_acquire (sim, 0, &only_one, &id) == 0);
    start = osmose_market_sim_now (sim);
    int64_t rtt = 2 * osmose_market_sim_delay (sim, 0, 1);
    done = osmose_market_sim_run_request (sim, 0, id, start + S_SECOND);
    assert (done >= 0 && s_event (sim, done)->status == 0);
    osmose_market_sim_events (sim, &events);
    assert (events [done].at_us == start + rtt);    //  one round trip
    assert (s_free_cpus (sim, 1) == 3);             //  reserved, AWARD on its way
    osmose_market_sim_cut (sim, 1, true);
    osmose_market_sim_run (sim, start + rtt + 1000);
    osmose_market_sim_cut (sim, 1, false);
    assert (s_leases (sim, 0, OSMOSE_MARKET_HELD) == 1);
    int lost_at = -1;
    while (lost_at < 0 && osmose_market_sim_now (sim) < start + 30 * S_SECOND) {
        osmose_market_sim_run (sim, osmose_market_sim_now (sim) + S_SECOND / 10);
        lost_at = osmose_market_sim_find (sim, 0, OSMOSE_MARKET_LEASE_LOST, 0);
    }
    assert (lost_at >= 0 && s_event (sim, lost_at)->reason == OSMOSE_MARKET_EXPIRED);
    assert (s_free_cpus (sim, 1) == 4 && s_leases (sim, 1, OSMOSE_MARKET_GRANTED) == 0);
    assert (osmose_market_counters (osmose_market_sim_engine (sim, 1))->reservations_expired == 1);
    assert (osmose_market_counters (osmose_market_sim_engine (sim, 1))->grants == 0);
    osmose_market_sim_clear (sim);

    //  Ourselves as the nearest candidate: served without the network
    osmose_proximity_candidate_t candidates [16];
    size_t count = osmose_market_sim_candidates (sim, 0, true, candidates);
    uint64_t messages = osmose_market_sim_messages (sim);
    assert (osmose_market_acquire (osmose_market_sim_engine (sim, 0), &s_one_cpu, candidates,
                                   count, osmose_market_sim_now (sim), &id) == 0);
    osmose_market_sim_pump (sim, 0);
    done = osmose_market_sim_run_request (sim, 0, id, osmose_market_sim_now (sim) + S_SECOND);
    assert (done >= 0 && s_event (sim, done)->status == 0);
    assert (s_last_provider (sim, 0) == 0 && s_free_cpus (sim, 0) == 3);
    //  Only the REJECTs and CALLs to the two others crossed the network
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
    assert (osmose_market_sim_messages (sim) - messages == 6);

    //  Three leases in one request: three different providers
    osmose_market_request_t three = s_one_cpu;
    three.cpus = 4;
    three.count = 3;
    osmose_market_sim_clear (sim);
    done = s_acquire (sim, 0, &three);
    assert (s_event (sim, done)->status == 0 && s_event (sim, done)->count == 3);
    int providers [3], found = 0;
    for (int index = 0; (index = osmose_market_sim_find (sim, 0, OSMOSE_MARKET_ACQUIRED,
                                                          (size_t) index)) >= 0; index++)
        providers [found++] = osmose_market_sim_peer (sim, s_event (sim, index)->peer);
    assert (found == 3 && providers [0] != providers [1] && providers [1] != providers [2]
            && providers [0] != providers [2]);

    //  Leases from one provider renew in one message per heartbeat
    osmose_market_sim_t *one = osmose_market_sim_new (16, NULL, 8, 50, 100);
    only_one.extra = 0;
    for (int lease = 0; lease < 3; lease++)
        assert (s_event (one, s_acquire (one, 0, &only_one))->status == 0);
    assert (s_leases (one, 1, OSMOSE_MARKET_GRANTED) == 3);
    const osmose_market_counters_t *client_counters =
        osmose_market_counters (osmose_market_sim_engine (one, 0));
    const osmose_market_counters_t *provider_counters =
        osmose_market_counters (osmose_market_sim_engine (one, 1));
    osmose_market_sim_run (one, osmose_market_sim_now (one) + 10 * S_SECOND);
    assert (client_counters->renewals_sent >= 4 && client_counters->renewals_sent <= 6);
    assert (provider_counters->renewals >= 3 * client_counters->renewals_sent - 3);
    //  Membership news ends a request at once instead of at the timeout
    for (int peer = 1; peer < 16; peer++)
        osmose_market_sim_cut (one, peer, true);
    assert (osmose_market_sim_acquire (one, 0, &s_one_cpu, &id) == 0);
    for (int peer = 1; peer < 16; peer++)
        osmose_market_peer_down (osmose_market_sim_engine (one, 0),
                                 osmose_market_sim_id (one, peer), osmose_market_sim_now (one));
    osmose_market_sim_clear (one);
    osmose_market_sim_pump (one, 0);
    done = osmose_market_sim_find (one, 0, OSMOSE_MARKET_DONE, 0);
    assert (done >= 0 && s_event (one, done)->status == OSMOSE_ENOPEER);
    assert (s_event (one, done)->request == id);
    assert (s_leases (one, 0, OSMOSE_MARKET_HELD) == 0);    //  all three lost
    assert (osmose_market_pending (osmose_market_sim_engine (one, 0)) == 0);
    osmose_market_sim_destroy (&one);

    //  Settings come from the config; a bad allow list is refused
    char error [256];
    char text [512];
    snprintf (text, sizeof (text), "lease\n    ttl_ms = 3000\n    heartbeat_ms = 500\n"
              "policy\n    battery_min_percent = 35\n    allow = \"%s\"\n",
              osmose_market_sim_id (sim, 3));
    osmose_config_t *config = osmose_config_load_string (text, "test", error, sizeof (error));
    assert (config);
    osmose_market_t *configured = osmose_market_new (osmose_market_sim_identity (sim, 2), config);
    assert (configured);
    osmose_market_settings (configured, &settings);
    assert (settings.ttl_us == 3 * S_SECOND && settings.heartbeat_us == S_SECOND / 2);
    assert (settings.battery_min_percent == 35 && settings.extra == 2);
    assert (osmose_config_set (config, "policy/allow", "nobody") == 0);
    assert (osmose_market_apply_config (configured, config) == OSMOSE_EINVAL);
    osmose_market_destroy (&configured);
    assert (osmose_market_new (osmose_market_sim_identity (sim, 2), config) == NULL);
    osmose_config_destroy (&config);

    //  Bad requests fail at once, with no event
    osmose_market_request_t bad = s_one_cpu;
    bad.count = 0;
    assert (osmose_market_sim_acquire (sim, 0, &bad, &id) == OSMOSE_EINVAL);
    bad = (osmose_market_request_t) { .count = 1 };
    assert (osmose_market_sim_acquire (sim, 0, &bad, &id) == OSMOSE_EINVAL);
    bad = s_one_cpu;
    bad.cpus = 1000;                                //  nobody advertises that
    assert (osmose_market_sim_acquire (sim, 0, &bad, &id) == OSMOSE_ENOPEER);
    assert (osmose_market_pending (osmose_market_sim_engine (sim, 0)) == 0);
    osmose_market_sim_destroy (&sim);
}

//  Malformed bodies and well-formed nonsense from a peer
static void
s_test_hostile (void)
{
    osmose_identity_t *mallory = osmose_identity_new ();
    osmose_identity_t *victim = osmose_identity_new ();
    osmose_market_t *engine = osmose_market_new (victim, NULL);
    osmose_resources_t resources = { .capacity = { .cpus = 1000, .lease_cpus = 1000,
                                                   .power = OSMOSE_POWER_WALL } };
    resources.load.battery_percent = -1;
    osmose_market_set_resources (engine, &resources);
    const uint8_t *key = osmose_identity_public (mallory);
    int64_t now = INT64_C (1000000000000000);
    for (int round = 0; round < 5000; round++) {
        uint8_t noise [300];
        size_t size = randombytes_uniform (sizeof (noise));
        randombytes_buf (noise, size);
        if (size > 1) {
            noise [0] = OSMOSE_MARKET_MSG_VERSION;
            noise [1] = (uint8_t) (1 + round % (OSMOSE_MARKET_MSG_KIND_LIMIT - 1));
        }
        int rc = osmose_market_receive (engine, key, noise, size, now);
        assert (rc == 0 || rc == OSMOSE_EPROTO);
    }
    //  Well-formed but unsolicited: ignored or refused, never believed
    osmose_market_msg_t msg = { .kind = OSMOSE_MARKET_MSG_BID, .request = 1, .ttl_ms = 1000,
                                .cpus = 1, .battery_percent = -1,
                                .token_size = OSMOSE_TOKEN_SIZE };
    randombytes_buf (msg.token, OSMOSE_TOKEN_SIZE);
    uint8_t bytes [OSMOSE_MARKET_MSG_MAX];
    int size = osmose_market_msg_encode (&msg, bytes, sizeof (bytes));
    assert (size > 0);
    assert (osmose_market_receive (engine, key, bytes, (size_t) size, now) == 0);
    assert (osmose_market_leases (engine, OSMOSE_MARKET_HELD, NULL, 0, now) == 0);
    assert (osmose_market_counters (engine)->unexpected >= 1);
    //  A bid we asked for, with a token nobody signed: never held
    osmose_proximity_candidate_t candidate = {
        .id = osmose_identity_id (mallory), .location = "", .rtt_us = 100, .free_cpus = 4,
        .free_memory_mb = 1000, .power = OSMOSE_POWER_WALL, .battery_percent = -1
    };
    uint64_t request;
    assert (osmose_market_acquire (engine, &s_one_cpu, &candidate, 1, now, &request) == 0);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_BID, .request = request,
                                  .hold_us = 500000, .cpus = 3, .memory_mb = 1000,
                                  .power = OSMOSE_POWER_WALL, .battery_percent = -1,
                                  .ttl_ms = 1000, .token_size = OSMOSE_TOKEN_SIZE };
    randombytes_buf (msg.token, OSMOSE_TOKEN_SIZE);
    size = osmose_market_msg_encode (&msg, bytes, sizeof (bytes));
    assert (osmose_market_receive (engine, key, bytes, (size_t) size, now) == 0);
    assert (osmose_market_leases (engine, OSMOSE_MARKET_HELD, NULL, 0, now) == 0);
    assert (osmose_market_counters (engine)->bad_tokens == 1);
    assert (osmose_market_counters (engine)->awards_sent == 0);
    osmose_market_event_t done = { 0 };
    while (osmose_market_next_event (engine, &done) && done.kind != OSMOSE_MARKET_DONE)
        ;
    assert (done.kind == OSMOSE_MARKET_DONE && done.request == request && done.count == 0);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_AWARD, .request = 42 };
    size = osmose_market_msg_encode (&msg, bytes, sizeof (bytes));
    assert (osmose_market_receive (engine, key, bytes, (size_t) size, now) == 0);
    assert (osmose_market_leases (engine, OSMOSE_MARKET_GRANTED, NULL, 0, now) == 0);

    //  A flood of calls for bids: reservations are bounded per client
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_CALL_FOR_BIDS, .cpus = 1 };
    for (int call = 0; call < 200; call++) {
        msg.request = 1000 + (uint64_t) call;
        size = osmose_market_msg_encode (&msg, bytes, sizeof (bytes));
        assert (osmose_market_receive (engine, key, bytes, (size_t) size, now) == 0);
    }
    const osmose_market_counters_t *counters = osmose_market_counters (engine);
    assert (counters->bids_sent == OSMOSE_MARKET_MAX_RESERVED_PER_CLIENT);
    assert (counters->refusals_sent [OSMOSE_MARKET_BUSY] == 200 - OSMOSE_MARKET_MAX_RESERVED_PER_CLIENT);
    int free_cpus;
    osmose_market_free (engine, &free_cpus, NULL, NULL, NULL);
    assert (free_cpus == 1000 - OSMOSE_MARKET_MAX_RESERVED_PER_CLIENT);
    //  ... and lapse by themselves
    osmose_market_tick (engine, now + S_SECOND);
    osmose_market_free (engine, &free_cpus, NULL, NULL, NULL);
    assert (free_cpus == 1000);
    assert (osmose_market_deadline (engine) == OSMOSE_MARKET_NEVER);
    osmose_market_out_t out;
    size_t sent = 0;
    while (osmose_market_next_out (engine, &out))
        sent++;
    assert (sent > 200);
    osmose_market_destroy (&engine);
    osmose_identity_destroy (&mallory);
    osmose_identity_destroy (&victim);
}

//  The bid is the lease: the program's OPEN may reach the provider before
//  its daemon's AWARD (granted then, once), and an AWARD after the hold
//  lapsed takes the lease back (LEASE_LOST, expired)
static void
s_test_bid_lease (void)
{
    osmose_market_sim_t *sim = osmose_market_sim_new (16, NULL, 4, 50, 100);
    osmose_market_t *provider = osmose_market_sim_engine (sim, 1);
    osmose_market_request_t only_one = s_one_cpu;
    only_one.extra = 0;
    uint64_t id;
    assert (osmose_market_sim_acquire (sim, 0, &only_one, &id) == 0);
    int done = osmose_market_sim_run_request (sim, 0, id, osmose_market_sim_now (sim) + S_SECOND);
    assert (done >= 0 && s_event (sim, done)->status == 0);
    int acquired = osmose_market_sim_find (sim, 0, OSMOSE_MARKET_ACQUIRED, 0);
    assert (acquired >= 0 && osmose_market_sim_peer (sim, s_event (sim, acquired)->peer) == 1);
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    memcpy (lease_id, s_event (sim, acquired)->lease_id, sizeof (lease_id));
    assert (osmose_market_counters (provider)->grants == 0);        //  AWARD in flight
    assert (osmose_market_lease_valid (provider, lease_id, NULL, osmose_market_sim_now (sim)) == 0);
    assert (osmose_market_counters (provider)->grants == 1);
    osmose_market_sim_pump (sim, 1);
    assert (osmose_market_sim_find (sim, 1, OSMOSE_MARKET_GRANT, 0) >= 0);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
    assert (osmose_market_counters (provider)->grants == 1);
    assert (osmose_market_counters (provider)->refusals_sent [OSMOSE_MARKET_EXPIRED] == 0);
    assert (s_leases (sim, 1, OSMOSE_MARKET_GRANTED) == 1 && s_leases (sim, 0, OSMOSE_MARKET_HELD) == 1);
    //  A lease id never bid is no lease
    uint8_t other [OSMOSE_LEASE_ID_SIZE] = { 1 };
    assert (osmose_market_lease_valid (provider, other, NULL, osmose_market_sim_now (sim))
            == OSMOSE_ENOLEASE);
    osmose_market_sim_destroy (&sim);

    //  The AWARD comes after the provider's hold lapsed
    sim = osmose_market_sim_new (16, NULL, 4, 50, 100);
    provider = osmose_market_sim_engine (sim, 1);
    assert (osmose_market_sim_acquire (sim, 0, &only_one, &id) == 0);
    done = osmose_market_sim_run_request (sim, 0, id, osmose_market_sim_now (sim) + S_SECOND);
    assert (done >= 0 && s_event (sim, done)->status == 0);
    osmose_market_settings_t settings;
    osmose_market_settings (provider, &settings);
    osmose_market_tick (provider, osmose_market_sim_now (sim) + settings.hold_us);
    assert (osmose_market_counters (provider)->reservations_expired == 1);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
    int lost = osmose_market_sim_find (sim, 0, OSMOSE_MARKET_LEASE_LOST, 0);
    assert (lost >= 0 && s_event (sim, lost)->reason == OSMOSE_MARKET_EXPIRED);
    assert (s_leases (sim, 0, OSMOSE_MARKET_HELD) == 0);
    assert (osmose_market_counters (provider)->grants == 0);
    osmose_market_sim_destroy (&sim);
}

//  Messages and round trips per acquisition
static void
s_test_cost (bool verbose)
{
    //  Uniform delay D: 3 asked -> 9 messages (3 calls, 3 bids, an award,
    //  2 rejects), done after 2 D = 1 RTT: the bid carries the lease
    osmose_market_sim_t *sim = osmose_market_sim_new (16, NULL, 4, 50, 100);
    osmose_market_sim_set_delay (sim, 100);
    uint64_t before = osmose_market_sim_messages (sim);
    int64_t start = osmose_market_sim_now (sim);
    int done = s_acquire (sim, 0, &s_one_cpu);
    const osmose_market_sim_event_t *events;
    osmose_market_sim_events (sim, &events);
    assert (events [done].at_us - start == 2 * 100);
    osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 10000);
    assert (osmose_market_sim_messages (sim) - before == 9);
    osmose_market_sim_destroy (&sim);

    //  Every peer acquires in turn on a mesh with topology delays
    sim = osmose_market_sim_new (16, NULL, 16, 50, 100);
    uint64_t messages = 0;
    double round_trips = 0;
    for (int client = 0; client < 16; client++) {
        before = osmose_market_sim_messages (sim);
        start = osmose_market_sim_now (sim);
        done = s_acquire (sim, client, &s_one_cpu);
        osmose_market_sim_events (sim, &events);
        assert (events [done].event.status == 0);
        int64_t elapsed = events [done].at_us - start;
        int provider = s_last_provider (sim, client);
        int64_t rtt = osmose_market_sim_delay (sim, client, provider)
                    + osmose_market_sim_delay (sim, provider, client);
        //  Nearest answers first, so it is one round trip to it exactly
        assert (elapsed == rtt);
        round_trips += (double) elapsed / (double) rtt;
        osmose_market_sim_run (sim, osmose_market_sim_now (sim) + 100000);
        uint64_t used = osmose_market_sim_messages (sim) - before;
        assert (used == 9);
        messages += used;
    }
    if (verbose)
        printf ("(%.1f messages, %.2f round trips per acquisition) ",
                (double) messages / 16, round_trips / 16);
    osmose_market_sim_destroy (&sim);
}

void
osmose_market_test (bool verbose)
{
    printf (" * osmose_market: ");
    s_test_refusals ();
    s_test_refusers ();
    s_test_race ();
    s_test_lifecycle ();
    s_test_requests ();
    s_test_bid_lease ();
    s_test_hostile ();
    s_test_cost (verbose);
    printf ("OK\n");
}
