/*  osmose_market_json.c: JSON views of the market engine and its events
    (see osmose_market.h), for the daemon's API, osmose-top and the log.
*/
#include "osmose_prelude.h"
#include "osmose_market.h"

static void
s_hex (const uint8_t *bytes, size_t size, char *text)
{
    sodium_bin2hex (text, 2 * size + 1, bytes, size);
}

const char *
osmose_market_event_name (int kind)
{
    static const char *names [] = {
        "?", "acquired", "done", "lease_lost", "grant", "renew_fail", "expire",
        "release", "revoke"
    };
    return kind > 0 && kind <= OSMOSE_MARKET_REVOKE? names [kind]: "?";
}

//  Add a lease's figures to OBJECT
static void
s_lease_fields (json_t *object, const osmose_market_lease_info_t *info)
{
    char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
    s_hex (info->lease_id, OSMOSE_LEASE_ID_SIZE, lease);
    json_object_set_new (object, "lease", json_string (lease));
    json_object_set_new (object, info->role == OSMOSE_MARKET_HELD? "provider": "client",
                         json_string (info->peer));
    json_object_set_new (object, "cpus", json_integer (info->cpus));
    json_object_set_new (object, "gpus", json_integer (info->gpus));
    json_object_set_new (object, "npus", json_integer (info->npus));
    json_object_set_new (object, "memory_mb", json_integer (info->memory_mb));
    json_object_set_new (object, "ttl_left_ms", json_integer (info->ttl_left_us / 1000));
    json_object_set_new (object, "renewals", json_integer (info->renewals));
    if (info->role == OSMOSE_MARKET_HELD)
        json_object_set_new (object, "renewing", json_boolean (info->renewing));
}

static json_t *
s_leases_json (osmose_market_t *self, osmose_market_role_t role, int64_t now_us)
{
    json_t *array = json_array ();
    size_t count = osmose_market_leases (self, role, NULL, 0, now_us);
    osmose_market_lease_info_t *info = count?
        (osmose_market_lease_info_t *) malloc (count * sizeof (osmose_market_lease_info_t)): NULL;
    if (!array || (count && !info)) {
        json_decref (array);
        free (info);
        return NULL;
    }
    count = osmose_market_leases (self, role, info, count, now_us);
    for (size_t index = 0; index < count; index++) {
        json_t *object = json_object ();
        if (object) {
            s_lease_fields (object, &info [index]);
            json_array_append_new (array, object);
        }
    }
    free (info);
    return array;
}

static json_t *
s_counters_json (const osmose_market_counters_t *counters)
{
    json_t *object = json_object ();
    if (!object)
        return NULL;
#define S_COUNTER(name) json_object_set_new (object, #name, json_integer ((json_int_t) counters->name))
    S_COUNTER (requests); S_COUNTER (requests_ok); S_COUNTER (requests_failed);
    S_COUNTER (calls_sent); S_COUNTER (bids_received); S_COUNTER (refusals_received);
    S_COUNTER (awards_sent); S_COUNTER (rejects_sent); S_COUNTER (leases_acquired);
    S_COUNTER (leases_lost); S_COUNTER (renewals_sent); S_COUNTER (releases_sent);
    S_COUNTER (bad_tokens); S_COUNTER (calls_received); S_COUNTER (bids_sent);
    S_COUNTER (grants); S_COUNTER (renewals); S_COUNTER (renew_failures);
    S_COUNTER (expirations); S_COUNTER (releases); S_COUNTER (revocations);
    S_COUNTER (reservations_expired); S_COUNTER (messages_in); S_COUNTER (messages_out);
    S_COUNTER (malformed); S_COUNTER (unexpected);
#undef S_COUNTER
    json_t *refusals = json_object ();
    for (int reason = 1; refusals && reason < OSMOSE_MARKET_REASON_LIMIT; reason++)
        json_object_set_new (refusals, osmose_market_reason_name (reason),
                             json_integer ((json_int_t) counters->refusals_sent [reason]));
    json_object_set_new (object, "refusals_sent", refusals? refusals: json_null ());
    return object;
}

json_t *
osmose_market_json (osmose_market_t *self, int64_t now_us)
{
    assert (self);
    int cpus, gpus, npus;
    int64_t memory_mb;
    osmose_market_free (self, &cpus, &gpus, &npus, &memory_mb);
    json_t *free_json = json_pack ("{s:i, s:i, s:i, s:I}", "cpus", cpus, "gpus", gpus,
                                   "npus", npus, "memory_mb", (json_int_t) memory_mb);
    json_t *held = s_leases_json (self, OSMOSE_MARKET_HELD, now_us);
    json_t *granted = s_leases_json (self, OSMOSE_MARKET_GRANTED, now_us);
    json_t *counters = s_counters_json (osmose_market_counters (self));
    if (!free_json || !held || !granted || !counters) {
        json_decref (free_json);
        json_decref (held);
        json_decref (granted);
        json_decref (counters);
        return NULL;
    }
    return json_pack ("{s:s, s:o, s:I, s:o, s:o, s:o}",
                      "id", osmose_market_id (self),
                      "free", free_json, "pending", (json_int_t) osmose_market_pending (self),
                      "held", held, "granted", granted, "counters", counters);
}

json_t *
osmose_market_event_json (const osmose_market_event_t *event)
{
    assert (event);
    json_t *object = json_object ();
    if (!object)
        return NULL;
    json_object_set_new (object, "event", json_string (osmose_market_event_name (event->kind)));
    json_object_set_new (object, "peer", json_string (event->peer));
    json_object_set_new (object, "request", json_integer ((json_int_t) event->request));
    json_object_set_new (object, "cpus", json_integer (event->cpus));
    json_object_set_new (object, "gpus", json_integer (event->gpus));
    json_object_set_new (object, "npus", json_integer (event->npus));
    json_object_set_new (object, "memory_mb", json_integer (event->memory_mb));
    if (event->kind == OSMOSE_MARKET_DONE) {
        json_object_set_new (object, "status", json_string (
            event->status? osmose_strerror_name (event->status): "OK"));
        json_object_set_new (object, "count", json_integer (event->count));
        return object;
    }
    char hex [2 * crypto_generichash_BYTES + 1];
    s_hex (event->lease_id, OSMOSE_LEASE_ID_SIZE, hex);
    json_object_set_new (object, "lease", json_string (hex));
    json_object_set_new (object, "ttl_ms", json_integer (event->ttl_us / 1000));
    json_object_set_new (object, "expiry_us", json_integer (event->expiry_us));
    if (event->reason)
        json_object_set_new (object, "reason",
                             json_string (osmose_market_reason_name (event->reason)));
    if (event->token_size > 0 && event->token_size <= OSMOSE_TOKEN_MAX_SIZE) {
        uint8_t hash [crypto_generichash_BYTES];
        crypto_generichash (hash, sizeof (hash), event->token, event->token_size, NULL, 0);
        s_hex (hash, sizeof (hash), hex);
        json_object_set_new (object, "token_hash", json_string (hex));
    }
    return object;
}

//  --------------------------------------------------------------------------
//  Self-test: one lease granted between two engines, seen from both sides

void
osmose_market_json_test (bool verbose)
{
    printf (" * osmose_market_json: ");
    osmose_identity_t *client_id = osmose_identity_new ();
    osmose_identity_t *provider_id = osmose_identity_new ();
    osmose_market_t *client = osmose_market_new (client_id, NULL);
    osmose_market_t *provider = osmose_market_new (provider_id, NULL);
    osmose_resources_t resources = { .capacity = { .cpus = 8, .lease_cpus = 8,
                                                   .lease_memory_mb = 1024,
                                                   .power = OSMOSE_POWER_WALL } };
    resources.load.battery_percent = -1;
    osmose_market_set_resources (provider, &resources);
    osmose_proximity_candidate_t candidate;
    osmose_proximity_candidate_set (&candidate, &resources);
    candidate.id = osmose_identity_id (provider_id);
    candidate.rtt_us = 100;
    osmose_market_request_t request = { .cpus = 2, .count = 1, .extra = -1 };
    uint64_t id;
    int64_t now = INT64_C (1000000000000000);
    assert (osmose_market_acquire (client, &request, &candidate, 1, now, &id) == 0);
    //  Deliver everything both ways until quiet (bounded)
    for (int round = 0; round < 10; round++) {
        osmose_market_out_t out;
        while (osmose_market_next_out (client, &out)) {
            assert (streq (out.to, osmose_identity_id (provider_id)));
            assert (osmose_market_receive (provider, osmose_identity_public (client_id),
                                           out.data, out.size, now) == 0);
        }
        while (osmose_market_next_out (provider, &out))
            assert (osmose_market_receive (client, osmose_identity_public (provider_id),
                                           out.data, out.size, now) == 0);
    }
    osmose_market_event_t event;
    json_t *grant = NULL;
    while (osmose_market_next_event (provider, &event))
        if (event.kind == OSMOSE_MARKET_GRANT)
            grant = osmose_market_event_json (&event);
    assert (grant);
    assert (streq (json_string_value (json_object_get (grant, "event")), "grant"));
    assert (streq (json_string_value (json_object_get (grant, "peer")),
                   osmose_identity_id (client_id)));
    assert (json_integer_value (json_object_get (grant, "cpus")) == 2);
    assert (strlen (json_string_value (json_object_get (grant, "token_hash"))) == 64);
    bool done = false;
    while (osmose_market_next_event (client, &event))
        if (event.kind == OSMOSE_MARKET_DONE) {
            json_t *json = osmose_market_event_json (&event);
            assert (streq (json_string_value (json_object_get (json, "status")), "OK"));
            json_decref (json);
            done = true;
        }
    assert (done);

    json_t *view = osmose_market_json (provider, now + 1000);
    assert (view);
    json_t *granted = json_object_get (view, "granted");
    assert (json_array_size (granted) == 1);
    assert (streq (json_string_value (json_object_get (json_array_get (granted, 0), "lease")),
                   json_string_value (json_object_get (grant, "lease"))));
    assert (json_integer_value (json_object_get (json_array_get (granted, 0), "ttl_left_ms"))
            == 10000 - 1);
    assert (json_integer_value (json_object_get (json_object_get (view, "free"), "cpus")) == 6);
    assert (json_integer_value (json_object_get (json_object_get (view, "counters"), "grants")) == 1);
    json_decref (view);
    view = osmose_market_json (client, now);
    assert (json_array_size (json_object_get (view, "held")) == 1);
    assert (json_array_size (json_object_get (view, "granted")) == 0);
    assert (streq (json_string_value (json_object_get (view, "id")), osmose_identity_id (client_id)));
    if (verbose) {
        char *text = json_dumps (view, JSON_COMPACT);
        printf ("(%zu bytes of JSON) ", strlen (text));
        free (text);
    }
    json_decref (view);
    json_decref (grant);
    assert (streq (osmose_market_event_name (OSMOSE_MARKET_LEASE_LOST), "lease_lost"));
    assert (streq (osmose_market_event_name (99), "?"));
    osmose_market_destroy (&client);
    osmose_market_destroy (&provider);
    osmose_identity_destroy (&client_id);
    osmose_identity_destroy (&provider_id);
    printf ("OK\n");
}
