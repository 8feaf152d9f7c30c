/*  bench_market_loopback.c: wall-clock latency of one lease acquisition
    among 16 provider peers over real ZeroMQ TCP on loopback, to check the
    target (p50 <= 1 ms, p99 <= 3 ms) before the daemon wires the engine in.

    Each provider is an actor with its own market engine and a ROUTER bound
    to tcp://127.0.0.1:*; the client (this thread) has its engine and one
    DEALER per provider whose routing id is its public key, so a provider
    names the sender by key as the daemon will with CURVE's User-Id. No
    CURVE here: the figure is the protocol's, not encryption's. Each
    acquisition: acquire -> DONE (timed), then release.

    Usage: bench_market_loopback [ACQUISITIONS]   (default 2000)
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_market.h"

#define S_PROVIDERS 16

static int64_t
s_now_us (void)
{
    return zclock_usecs ();
}

//  Provider actor: ARGS is its identity; replies go to whoever sent
static void
s_provider (zsock_t *pipe, void *args)
{
    osmose_identity_t *identity = (osmose_identity_t *) args;
    osmose_market_t *engine = osmose_market_new (identity, NULL);
    osmose_resources_t resources = { .capacity = { .cpus = 64, .lease_cpus = 64,
                                                   .lease_memory_mb = 65536,
                                                   .power = OSMOSE_POWER_WALL } };
    resources.load.battery_percent = -1;
    osmose_market_set_resources (engine, &resources);
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    assert (engine && router);
    zsock_signal (pipe, 0);
    zsock_send (pipe, "s", zsock_endpoint (router));
    //  Peers by id: only the client here, learned from its routing id
    char client_id [OSMOSE_ID_SIZE + 1] = "";
    uint8_t client_key [OSMOSE_KEY_SIZE];
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        int64_t deadline = osmose_market_deadline (engine);
        int64_t now = s_now_us ();
        int timeout = deadline == OSMOSE_MARKET_NEVER? 1000:
            deadline <= now? 0: (int) ((deadline - now) / 1000 + 1);
        void *which = zpoller_wait (poller, timeout);
        if (which == pipe)
            break;
        if (zpoller_terminated (poller))
            break;
        if (which == router) {
            zmsg_t *msg = zmsg_recv (router);
            zframe_t *routing = zmsg_pop (msg);
            zframe_t *body = zmsg_pop (msg);
            if (routing && body && zframe_size (routing) == OSMOSE_KEY_SIZE) {
                memcpy (client_key, zframe_data (routing), OSMOSE_KEY_SIZE);
                osmose_identity_id_of (client_key, client_id);
                int rc = osmose_market_receive (engine, client_key, zframe_data (body),
                                                zframe_size (body), s_now_us ());
                assert (rc == 0);
            }
            zframe_destroy (&routing);
            zframe_destroy (&body);
            zmsg_destroy (&msg);
        }
        else
            osmose_market_tick (engine, s_now_us ());
        osmose_market_out_t out;
        while (osmose_market_next_out (engine, &out)) {
            assert (streq (out.to, client_id));
            zframe_t *routing = zframe_new (client_key, OSMOSE_KEY_SIZE);
            zframe_send (&routing, router, ZFRAME_MORE);
            zframe_t *body = zframe_new (out.data, out.size);
            zframe_send (&body, router, 0);
        }
        osmose_market_event_t event;
        while (osmose_market_next_event (engine, &event))
            ;           //  the daemon would batch these into its log
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    osmose_market_destroy (&engine);
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

int
main (int argc, char *argv [])
{
    int total = argc > 1? atoi (argv [1]): 2000;
    if (total < 1 || total > 1000000 || sodium_init () < 0)
        return 2;
    zsys_init ();
    //  Routing ids starting with a zero byte are libzmq's: draw again
    osmose_identity_t *client_id = osmose_identity_new ();
    while (osmose_identity_public (client_id) [0] == 0) {
        osmose_identity_destroy (&client_id);
        client_id = osmose_identity_new ();
    }
    osmose_market_t *client = osmose_market_new (client_id, NULL);
    osmose_identity_t *ids [S_PROVIDERS];
    zactor_t *actors [S_PROVIDERS];
    zsock_t *dealers [S_PROVIDERS];
    osmose_proximity_candidate_t candidates [S_PROVIDERS];
    zpoller_t *poller = zpoller_new (NULL);
    for (int peer = 0; peer < S_PROVIDERS; peer++) {
        ids [peer] = osmose_identity_new ();
        actors [peer] = zactor_new (s_provider, ids [peer]);
        char *endpoint = zstr_recv (actors [peer]);
        dealers [peer] = zsock_new (ZMQ_DEALER);
        int rc = zmq_setsockopt (zsock_resolve (dealers [peer]), ZMQ_ROUTING_ID,
                                 osmose_identity_public (client_id), OSMOSE_KEY_SIZE);
        assert (rc == 0);
        zsock_set_sndhwm (dealers [peer], 0);
        rc = zsock_connect (dealers [peer], "%s", endpoint);
        assert (rc == 0);
        zstr_free (&endpoint);
        zpoller_add (poller, dealers [peer]);
        //  Each a little farther, all within reach and with room
        candidates [peer] = (osmose_proximity_candidate_t) {
            .id = osmose_identity_id (ids [peer]), .rtt_us = 100 + 10 * peer,
            .free_cpus = 64, .free_memory_mb = 65536, .power = OSMOSE_POWER_WALL,
            .battery_percent = -1
        };
    }
    zclock_sleep (200);                 //  let every connection complete
    int64_t *latency = (int64_t *) malloc ((size_t) total * sizeof (int64_t));
    osmose_market_request_t request = { .cpus = 1, .count = 1, .extra = -1 };
    int failures = 0, measured = 0;
    for (int round = 0; round < total; round++) {
        int64_t start = s_now_us ();
        uint64_t request_id;
        if (osmose_market_acquire (client, &request, candidates, S_PROVIDERS, start,
                                   &request_id) != 0) {
            failures++;
            continue;
        }
        bool done = false;
        uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
        bool leased = false;
        while (!done && s_now_us () - start < 1000000) {
            osmose_market_out_t out;
            while (osmose_market_next_out (client, &out))
                for (int peer = 0; peer < S_PROVIDERS; peer++)
                    if (streq (out.to, osmose_identity_id (ids [peer]))) {
                        zframe_t *body = zframe_new (out.data, out.size);
                        zframe_send (&body, dealers [peer], 0);
                    }
            osmose_market_event_t event;
            while (osmose_market_next_event (client, &event)) {
                if (event.kind == OSMOSE_MARKET_ACQUIRED) {
                    memcpy (lease_id, event.lease_id, OSMOSE_LEASE_ID_SIZE);
                    leased = true;
                }
                if (event.kind == OSMOSE_MARKET_DONE && event.request == request_id) {
                    done = true;
                    if (event.status == 0)
                        latency [measured++] = s_now_us () - start;
                    else {
                        failures++;
                        fprintf (stderr, "acquisition %d: %s (%d leases)\n", round,
                                 osmose_strerror_name (event.status), event.count);
                    }
                }
            }
            if (done)
                break;
            int64_t deadline = osmose_market_deadline (client);
            int64_t now = s_now_us ();
            int timeout = deadline == OSMOSE_MARKET_NEVER? 100:
                deadline <= now? 0: (int) ((deadline - now) / 1000 + 1);
            zsock_t *which = (zsock_t *) zpoller_wait (poller, timeout);
            for (int peer = 0; which && peer < S_PROVIDERS; peer++)
                if (which == dealers [peer]) {
                    zframe_t *body = zframe_recv (which);
                    if (body) {
                        int rc = osmose_market_receive (client, osmose_identity_public (ids [peer]),
                                                        zframe_data (body), zframe_size (body),
                                                        s_now_us ());
                        assert (rc == 0);
                    }
                    zframe_destroy (&body);
                }
            if (!which)
                osmose_market_tick (client, s_now_us ());
        }
        if (!done)
            failures++;
        if (leased && osmose_market_release (client, lease_id, s_now_us ()) != 0)
            failures++;
    }
    //  Flush the last releases
    osmose_market_out_t out;
    while (osmose_market_next_out (client, &out))
        for (int peer = 0; peer < S_PROVIDERS; peer++)
            if (streq (out.to, osmose_identity_id (ids [peer]))) {
                zframe_t *body = zframe_new (out.data, out.size);
                zframe_send (&body, dealers [peer], 0);
            }
    if (measured > 0) {
        qsort (latency, (size_t) measured, sizeof (int64_t), s_compare);
        printf ("lease acquisition among %d peers over TCP loopback (no CURVE), %d runs:\n",
                S_PROVIDERS, measured);
        printf ("  p50 %" PRId64 " us   p90 %" PRId64 " us   p99 %" PRId64 " us   max %" PRId64
                " us   (target p50 <= 1000, p99 <= 3000)\n",
                latency [measured / 2], latency [measured * 9 / 10],
                latency [measured * 99 / 100], latency [measured - 1]);
    }
    if (failures)
        fprintf (stderr, "bench_market_loopback: %d acquisitions failed\n", failures);
    free (latency);
    zpoller_destroy (&poller);
    for (int peer = 0; peer < S_PROVIDERS; peer++) {
        zsock_destroy (&dealers [peer]);
        zactor_destroy (&actors [peer]);
        osmose_identity_destroy (&ids [peer]);
    }
    osmose_market_destroy (&client);
    osmose_identity_destroy (&client_id);
    return failures? 1: 0;
}
