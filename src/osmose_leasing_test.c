/*  osmose_leasing_test.c: self-test of the leasing service. Three
    services in one process, each on its own mesh (CURVE over loopback)
    with its own identity, local API (ipc:// in a temporary directory) and
    location, driven as programs drive a daemon: LEASE_ACQUIRE, LEASES,
    NEAR and LEASE_RELEASE over the API. It checks that a lease comes from
    the nearest peer with room, that a provider at its cap or on a low
    battery refuses and that its lease goes elsewhere (and stays there),
    that a battery drop or a cut cap takes granted leases back, that a
    lease dies with the process holding it, that a load past
    policy/load_max_percent hands leases back and refuses, what the
    failure policies do when no peer will lease, and what the work
    endpoint is told about leases (leasing_lease_valid).
*/
#include "osmose_prelude.h"
#include "osmose_leasing_int.h"
#include <sys/wait.h>

#define S_NODES     3
#define S_WAIT_MS   5000        //  for anything that crosses the mesh

//  A: the client; B: 2 hops from A; C: 4 hops from A
enum { A, B, C };
static const char *s_locations [S_NODES] = { "site/f1/r1", "site/f1/r2", "site/f2/r1" };

typedef struct {
    osmose_config_t *config;
    osmose_identity_t *identity;
    osmose_mesh_t *mesh;
    osmose_api_t *api;
    osmose_leasing_t *leasing;
    osmose_resources_t resources;
    zsock_t *client;                //  a program's connection to the API
    int entries [OSMOSE_ENTRY_EVENT + 1];   //  log entries, by type
} s_node_t;

typedef struct {
    char dir [64];
    osmose_trust_t *trust;
    osmose_poller_t *poller;
    s_node_t nodes [S_NODES];
    uint64_t sequence;
    bool verbose;
} s_test_t;

static void
s_log (void *arg, osmose_entry_type_t type, json_t *payload)
{
    s_node_t *node = (s_node_t *) arg;
    if (type > 0 && type <= OSMOSE_ENTRY_EVENT)
        node->entries [type]++;
    json_decref (payload);
}

//  NODE's resources from its config: 4 CPUs, 4 GB, caps and power as set
static void
s_resources (s_node_t *node)
{
    memset (&node->resources, 0, sizeof (node->resources));
    node->resources.capacity.cpus = 4;
    node->resources.capacity.memory_total_mb = 4096;
    node->resources.capacity.power = OSMOSE_POWER_WALL;
    node->resources.load.memory_free_mb = 4096;
    node->resources.load.battery_percent = -1;
    osmose_resources_apply_config (&node->resources, node->config);
}

//  Advertise what NODE lends and where its work endpoint is, as the peer does
static void
s_advertise (s_node_t *node)
{
    json_t *advert = osmose_resources_json (&node->resources);
    assert (advert);
    json_object_set_new (advert, "work", json_string (osmose_leasing_work_endpoint (node->leasing)));
    assert (osmose_mesh_advertise (node->mesh, advert) == 0);
    json_decref (advert);
}

static void
s_node_start (s_test_t *test, int index)
{
    s_node_t *node = &test->nodes [index];
    char value [PATH_MAX], error [256];
    node->config = osmose_config_new_default ();
    assert (node->config);
    assert (osmose_config_set (node->config, "mesh/bind", "tcp://127.0.0.1:*") == 0);
    assert (osmose_config_set (node->config, "node/location", s_locations [index]) == 0);
    assert (osmose_config_set (node->config, "node/state_dir", test->dir) == 0);
    assert (osmose_config_set (node->config, "exec/plugin_dir", test->dir) == 0);
    assert (osmose_config_set (node->config, "exec/workers", "1") == 0);
    //  A hop outweighs any loopback RTT, so the ranking is the topology's
    assert (osmose_config_set (node->config, "proximity/topology_weight_us", "100000") == 0);
    //  Leases may move soon after their placement: the test sees it if they do
    assert (osmose_config_set (node->config, "lease/move_hold_ms", "100") == 0);
    s_resources (node);
    snprintf (value, sizeof (value), "node%d", index);
    node->mesh = osmose_mesh_new (node->config, node->identity, test->trust, value,
                                  s_locations [index], error, sizeof (error));
    assert (node->mesh);
    snprintf (value, sizeof (value), "ipc://%s/api%d.sock", test->dir, index);
    node->api = osmose_api_new (value, error, sizeof (error));
    assert (node->api);
    node->client = zsock_new_dealer (value);
    assert (node->client);
    node->leasing = osmose_leasing_new (node->config, node->identity, test->trust, node->mesh,
                                        node->api, &node->resources, s_log, node,
                                        error, sizeof (error));
    assert (node->leasing);
    s_advertise (node);
    assert (osmose_poller_add (test->poller, osmose_mesh_inbox (node->mesh)) == 0);
    assert (osmose_poller_add (test->poller, osmose_api_socket (node->api)) == 0);
    assert (osmose_leasing_poll_on (node->leasing, test->poller) == 0);
    assert (osmose_mesh_poll_on (node->mesh, test->poller) == 0);
}

//  Stop NODE in the peer's order: the service hands its leases back over
//  the mesh before the mesh goes
static void
s_node_stop (s_test_t *test, s_node_t *node)
{
    osmose_poller_remove (test->poller, osmose_mesh_inbox (node->mesh));
    osmose_poller_remove (test->poller, osmose_api_socket (node->api));
    osmose_poller_remove (test->poller, osmose_work_socket (node->leasing->work));
    if (node->leasing->exec)
        osmose_poller_remove (test->poller, osmose_exec_handle (node->leasing->exec));
    osmose_leasing_destroy (&node->leasing);
    assert (osmose_mesh_poll_on (node->mesh, NULL) == 0);
    zsock_destroy (&node->client);
    osmose_api_destroy (&node->api);
    osmose_mesh_destroy (&node->mesh);
    osmose_config_destroy (&node->config);
}

//  One round of the actor loops of every running node: what arrived,
//  then the timers
static void
s_pump (s_test_t *test)
{
    int64_t wait = 10;
    for (int index = 0; index < S_NODES; index++) {
        s_node_t *node = &test->nodes [index];
        if (!node->leasing)
            continue;
        if (osmose_mesh_timeout (node->mesh) < wait)
            wait = osmose_mesh_timeout (node->mesh);
        if (osmose_leasing_timeout (node->leasing) < wait)
            wait = osmose_leasing_timeout (node->leasing);
    }
    void *which = osmose_poller_wait (test->poller, (int) (wait < 0? 0: wait));
    for (int index = 0; which && index < S_NODES; index++) {
        s_node_t *node = &test->nodes [index];
        if (!node->leasing)
            continue;
        if (which == osmose_mesh_inbox (node->mesh))
            osmose_mesh_handle (node->mesh);
        else
        if (which == osmose_api_socket (node->api))
            osmose_api_handle (node->api);
        else
        if (!osmose_mesh_handle_socket (node->mesh, which)
        &&  !osmose_leasing_handle (node->leasing, which))
            continue;
        break;
    }
    osmose_poller_touched (test->poller);
    for (int index = 0; index < S_NODES; index++) {
        s_node_t *node = &test->nodes [index];
        if (node->leasing) {
            osmose_mesh_tick (node->mesh);
            osmose_leasing_tick (node->leasing);
        }
    }
}

//  Send COMMAND with ARGUMENTS (taken) to NODE's API
static void
s_send (s_test_t *test, int index, const char *command, json_t *arguments)
{
    s_node_t *node = &test->nodes [index];
    char sequence [24], *text = json_dumps (arguments, JSON_COMPACT);
    assert (text);
    json_decref (arguments);
    snprintf (sequence, sizeof (sequence), "%" PRIu64, ++test->sequence);
    assert (zstr_sendx (node->client, sequence, command, text, NULL) == 0);
    free (text);
    if (test->verbose)
        zsys_debug ("leasing test: %s on node%d", command, index);
}

//  Run every node until the answer to what s_send sent comes; returns its
//  code, the body in *BODY_P
static int
s_answer (s_test_t *test, int index, json_t **body_p)
{
    s_node_t *node = &test->nodes [index];
    char sequence [24];
    snprintf (sequence, sizeof (sequence), "%" PRIu64, test->sequence);
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (!(zsock_events (node->client) & ZMQ_POLLIN) && zclock_mono () < deadline)
        s_pump (test);
    char *answered = NULL, *code = NULL, *body = NULL;
    zsock_set_rcvtimeo (node->client, 0);
    assert (zstr_recvx (node->client, &answered, &code, &body, NULL) == 3);
    assert (streq (answered, sequence));
    int rc = atoi (code);
    json_error_t error;
    *body_p = json_loads (body, 0, &error);
    assert (*body_p);
    if (test->verbose)
        zsys_debug ("leasing test: answered %d", rc);
    zstr_free (&answered);
    zstr_free (&code);
    zstr_free (&body);
    return rc;
}

//  Call COMMAND with ARGUMENTS (taken) on NODE's API, running every node
//  until the answer comes; returns its code, the body in *BODY_P
static int
s_call (s_test_t *test, int index, const char *command, json_t *arguments, json_t **body_p)
{
    s_send (test, index, command, arguments);
    return s_answer (test, index, body_p);
}

//  Send LEASE_ACQUIRE of CPUS to node A with STRATEGY and FAILURE, for
//  the process PID (0: none)
static void
s_acquire_send (s_test_t *test, int cpus, const char *strategy, const char *failure,
                int64_t pid)
{
    uint8_t session [32];
    char session_hex [65];
    randombytes_buf (session, sizeof (session));
    sodium_bin2hex (session_hex, sizeof (session_hex), session, sizeof (session));
    s_send (test, A, "LEASE_ACQUIRE", json_pack ("{s:i, s:s, s:s, s:s, s:I, s:I}",
        "cpus", cpus, "strategy", strategy, "failure", failure, "session_key", session_hex,
        "pid", (json_int_t) pid,
        "start_time", (json_int_t) (pid? leasing_start_time (pid): 0)));
}

//  The answer to s_acquire_send: the lease's id (hex) into LEASE and its
//  provider's index, or -1 when refused (the answer's code in *RC_P)
static int
s_acquire_answer (s_test_t *test, int cpus, char *lease, int *rc_p)
{
    json_t *body;
    int rc = s_answer (test, A, &body);
    if (rc_p)
        *rc_p = rc;
    if (rc && test->verbose)
        zsys_debug ("leasing test: refused: %s",
                    json_string_value (json_object_get (body, "error")));
    int provider = -1;
    for (int index = 0; rc == 0 && index < S_NODES; index++)
        if (streq (json_string_value (json_object_get (body, "provider")),
                   osmose_identity_id (test->nodes [index].identity)))
            provider = index;
    if (rc == 0) {
        assert (provider >= 0);
        snprintf (lease, 2 * OSMOSE_LEASE_ID_SIZE + 1, "%s",
                  json_string_value (json_object_get (body, "lease")));
        assert (strlen (lease) == 2 * OSMOSE_LEASE_ID_SIZE);
        //  Everything the program needs to reach the provider in one hop
        assert (json_integer_value (json_object_get (body, "cpus")) == cpus);
        assert (json_is_true (json_object_get (body, "local")) == (provider == A));
        assert (streq (json_string_value (json_object_get (body, "endpoint")),
                       osmose_leasing_work_endpoint (test->nodes [provider].leasing)));
        assert (json_integer_value (json_object_get (body, "hops")) == 2 * provider);
    }
    json_decref (body);
    return provider;
}

//  LEASE_ACQUIRE of CPUS on node A with STRATEGY and no fallback, for the
//  process PID (0: none): the provider's index, or -1 when refused
static int
s_acquire (s_test_t *test, int cpus, const char *strategy, int64_t pid, char *lease)
{
    s_acquire_send (test, cpus, strategy, "fail", pid);
    return s_acquire_answer (test, cpus, lease, NULL);
}

//  Figures of a node's LEASES: CPUs it lends, remote leases it holds,
//  local leases, leases it granted
typedef enum { S_FREE_CPUS, S_HELD, S_LOCAL, S_GRANTED } s_figure_t;

static int64_t
s_figure (s_test_t *test, int index, s_figure_t figure)
{
    json_t *body;
    assert (s_call (test, index, "LEASES", json_object (), &body) == 0);
    static const char *arrays [] = { NULL, "held", "local", "granted" };
    int64_t value = figure == S_FREE_CPUS?
        json_integer_value (json_object_get (json_object_get (body, "free"), "cpus")):
        (int64_t) json_array_size (json_object_get (body, arrays [figure]));
    json_decref (body);
    return value;
}

//  Run the nodes until FIGURE of node INDEX is VALUE (news crossing the
//  mesh: a grant, a release, a revocation); true when it came
static bool
s_await (s_test_t *test, int index, s_figure_t figure, int64_t value)
{
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (s_figure (test, index, figure) != value && zclock_mono () < deadline)
        s_pump (test);
    return s_figure (test, index, figure) == value;
}

//  Run the nodes for MS milliseconds
static void
s_run (s_test_t *test, int64_t ms)
{
    int64_t until = zclock_mono () + ms;
    while (zclock_mono () < until)
        s_pump (test);
}

static int
s_release (s_test_t *test, const char *lease)
{
    json_t *body;
    int rc = s_call (test, A, "LEASE_RELEASE", json_pack ("{s:s}", "lease", lease), &body);
    assert (json_is_true (json_object_get (body, "released")) == (rc == 0));
    json_decref (body);
    return rc;
}

//  What NODE's work endpoint hears of LEASE (hex) held by CLIENT's key
static int
s_valid (s_test_t *test, int index, const char *lease, int client)
{
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    assert (sodium_hex2bin (lease_id, sizeof (lease_id), lease, strlen (lease),
                            NULL, NULL, NULL) == 0);
    return leasing_lease_valid (test->nodes [index].leasing, lease_id,
                                osmose_identity_public (test->nodes [client].identity));
}

//  Set KEY to VALUE in NODE's config and give the service the resources
//  that follow, as the peer does after "osmose policy set"
static void
s_reconfigure (s_test_t *test, int index, const char *key, const char *value)
{
    s_node_t *node = &test->nodes [index];
    assert (osmose_config_set (node->config, key, value) == 0);
    s_resources (node);
    assert (osmose_leasing_apply_config (node->leasing) == 0);
    osmose_leasing_set_resources (node->leasing, &node->resources);
}

//  NODE's 1-minute load becomes LOAD1 (x 100), as its resources say
static void
s_load (s_test_t *test, int index, int load1)
{
    s_node_t *node = &test->nodes [index];
    node->resources.load.load1 = load1;
    osmose_leasing_set_resources (node->leasing, &node->resources);
}

//  The mesh converges and every member's advert is read: NEAR from A
//  ranks A itself, then B, then C, all qualified, by their hops
static void
s_test_near (s_test_t *test)
{
    json_t *near = NULL;
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    bool ready = false;
    while (!ready && zclock_mono () < deadline) {
        s_pump (test);
        json_decref (near);
        assert (s_call (test, A, "NEAR", json_pack ("{s:i}", "cpus", 2), &near) == 0);
        ready = json_array_size (near) == S_NODES;
        for (size_t rank = 0; ready && rank < S_NODES; rank++)
            ready = json_is_true (json_object_get (json_array_get (near, rank), "qualifies"));
    }
    assert (ready);
    for (size_t rank = 0; rank < S_NODES; rank++) {
        json_t *entry = json_array_get (near, rank);
        assert (streq (json_string_value (json_object_get (entry, "id")),
                       osmose_identity_id (test->nodes [rank].identity)));
        assert (json_integer_value (json_object_get (entry, "hops")) == 2 * (int) rank);
        assert (json_integer_value (json_object_get (entry, "cpus_free")) == 4);
    }
    json_decref (near);
    //  A request for nothing is refused
    assert (s_call (test, A, "NEAR", json_pack ("{s:i}", "cpus", 0), &near) == OSMOSE_EINVAL);
    json_decref (near);
}

//  Nearest with room first; a provider at its cap refuses and the lease
//  goes farther; releases give the CPUs back, and the work endpoint
//  knows a lease only while it lives, and only for its holder
static void
s_test_nearest (s_test_t *test)
{
    char near [2 * OSMOSE_LEASE_ID_SIZE + 1], far [2 * OSMOSE_LEASE_ID_SIZE + 1];
    assert (s_acquire (test, 2, "eager_remote", 0, near) == B);
    assert (s_await (test, B, S_GRANTED, 1));
    assert (s_figure (test, B, S_FREE_CPUS) == 2);
    assert (s_figure (test, A, S_HELD) == 1);
    assert (test->nodes [B].entries [OSMOSE_ENTRY_LEASE_GRANT] == 1);
    assert (s_valid (test, B, near, A) == 0);
    assert (s_valid (test, B, near, C) == OSMOSE_ENOLEASE);
    assert (s_valid (test, C, near, A) == OSMOSE_ENOLEASE);

    //  B's advert still offers 4 CPUs: asked for 3, it refuses, C lends
    const osmose_market_counters_t *counters =
        osmose_market_counters (test->nodes [B].leasing->market);
    uint64_t refused = counters->refusals_sent [OSMOSE_MARKET_CAPACITY];
    assert (s_acquire (test, 3, "eager_remote", 0, far) == C);
    assert (counters->refusals_sent [OSMOSE_MARKET_CAPACITY] == refused + 1);
    assert (s_await (test, C, S_FREE_CPUS, 1));
    assert (s_figure (test, A, S_HELD) == 2);
    //  and there it stays: B is nearer, but we hold what it has to lend
    //  (past lease/move_hold_ms and two holder checks)
    s_run (test, 2 * LEASING_HOLDER_CHECK_US / 1000 + 200);
    assert (s_figure (test, A, S_HELD) == 2);
    assert (s_valid (test, C, far, A) == 0);

    //  Released: the CPUs are the provider's to lend again, the lease is
    //  no more, and a second release finds nothing
    assert (s_release (test, near) == 0);
    assert (s_await (test, B, S_FREE_CPUS, 4));
    assert (s_valid (test, B, near, A) == OSMOSE_ENOLEASE);
    assert (test->nodes [B].entries [OSMOSE_ENTRY_LEASE_RELEASE] == 1);
    assert (s_release (test, near) == OSMOSE_ENOLEASE);
    //  A lease id that is not one is refused with the reason, and frees nothing
    json_t *body;
    assert (s_call (test, A, "LEASE_RELEASE", json_pack ("{s:s}", "lease", "not-a-lease"),
                    &body) == OSMOSE_EINVAL);
    assert (strstr (json_string_value (json_object_get (body, "error")), "32 hex digits"));
    json_decref (body);
    assert (s_call (test, A, "LEASE_RELEASE", json_object (), &body) == OSMOSE_EINVAL);
    json_decref (body);
    assert (s_figure (test, A, S_HELD) == 1);
    assert (s_release (test, far) == 0);
    assert (s_await (test, C, S_FREE_CPUS, 4));
    assert (s_figure (test, A, S_HELD) == 0);
    //  B's advert offers room that B does not have (other clients hold
    //  it, unseen here; a cap cut its advert does not show yet): B refuses,
    //  C lends, and the lease stays on C, not moved toward B to be
    //  refused again at each holder check
    s_reconfigure (test, B, "policy/lease_cpus", "1");
    assert (s_acquire (test, 2, "eager_remote", 0, far) == C);
    assert (osmose_market_refused_at (test->nodes [A].leasing->market,
                                      osmose_identity_id (test->nodes [B].identity)) > 0);
    assert (osmose_market_refused_at (test->nodes [A].leasing->market,
                                      osmose_identity_id (test->nodes [C].identity)) == 0);
    s_run (test, 2 * LEASING_HOLDER_CHECK_US / 1000 + 200);
    assert (s_figure (test, A, S_HELD) == 1);
    assert (s_release (test, far) == 0);
    assert (s_await (test, C, S_FREE_CPUS, 4));
    s_reconfigure (test, B, "policy/lease_cpus", "-1");

    //  A lease nobody granted is unknown to the work endpoint
    char unknown [2 * OSMOSE_LEASE_ID_SIZE + 1];
    memset (unknown, '7', sizeof (unknown) - 1);
    unknown [sizeof (unknown) - 1] = 0;
    assert (s_valid (test, B, unknown, A) == OSMOSE_ENOLEASE);
}

//  The owner comes first: a battery under policy/battery_min_percent
//  takes B's granted lease back and B refuses new ones (C lends); cutting
//  the caps below what is lent takes leases back too
static void
s_test_owner (s_test_t *test)
{
    char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
    const osmose_market_counters_t *counters =
        osmose_market_counters (test->nodes [B].leasing->market);
    assert (s_acquire (test, 1, "eager_remote", 0, lease) == B);
    assert (s_await (test, B, S_GRANTED, 1));
    assert (osmose_leasing_refusing (test->nodes [B].leasing) == NULL);
    int policies = test->nodes [B].entries [OSMOSE_ENTRY_POLICY];
    uint64_t revoked = counters->revocations;
    s_reconfigure (test, B, "resources/power", "battery");
    assert (osmose_leasing_refusing (test->nodes [B].leasing) == NULL);   //  level unknown
    s_reconfigure (test, B, "resources/battery_percent", "10");
    assert (streq (osmose_leasing_refusing (test->nodes [B].leasing), "battery"));
    assert (test->nodes [B].entries [OSMOSE_ENTRY_POLICY] == policies + 1);
    assert (counters->revocations == revoked + 1);
    assert (s_figure (test, B, S_GRANTED) == 0);
    assert (s_await (test, A, S_HELD, 0));
    assert (s_valid (test, B, lease, A) == OSMOSE_ENOLEASE);

    //  Its advert (not sent again here) still offers CPUs: asked, it refuses
    uint64_t refused = counters->refusals_sent [OSMOSE_MARKET_BATTERY];
    assert (s_acquire (test, 1, "eager_remote", 0, lease) == C);
    assert (counters->refusals_sent [OSMOSE_MARKET_BATTERY] == refused + 1);
    assert (s_release (test, lease) == 0);
    assert (s_await (test, C, S_FREE_CPUS, 4));

    //  On the wall again it lends; then its owner cuts its caps to 1 CPU
    s_reconfigure (test, B, "resources/power", "wall");
    s_reconfigure (test, B, "resources/battery_percent", "-1");
    assert (osmose_leasing_refusing (test->nodes [B].leasing) == NULL);
    assert (s_acquire (test, 3, "eager_remote", 0, lease) == B);
    assert (s_await (test, B, S_GRANTED, 1));
    policies = test->nodes [B].entries [OSMOSE_ENTRY_POLICY];
    s_reconfigure (test, B, "policy/lease_cpus", "1");
    assert (test->nodes [B].entries [OSMOSE_ENTRY_POLICY] == policies + 1);
    assert (counters->revocations == revoked + 2);
    assert (s_figure (test, B, S_FREE_CPUS) == 1);
    assert (s_await (test, A, S_HELD, 0));
    s_reconfigure (test, B, "policy/lease_cpus", "-1");
    assert (s_figure (test, B, S_FREE_CPUS) == 4);

    //  A load past policy/load_max_percent hands leases back too, and B
    //  refuses until its load falls (4 CPUs: 1-minute load 4.0 is 100%)
    assert (s_acquire (test, 2, "eager_remote", 0, lease) == B);
    assert (s_await (test, B, S_GRANTED, 1));
    s_reconfigure (test, B, "policy/load_max_percent", "80");
    policies = test->nodes [B].entries [OSMOSE_ENTRY_POLICY];
    s_load (test, B, 300);                              //  75%: lends on
    assert (osmose_leasing_refusing (test->nodes [B].leasing) == NULL);
    assert (s_figure (test, B, S_GRANTED) == 1);
    s_load (test, B, 400);
    assert (streq (osmose_leasing_refusing (test->nodes [B].leasing), "load"));
    assert (test->nodes [B].entries [OSMOSE_ENTRY_POLICY] == policies + 1);
    assert (counters->revocations == revoked + 3);
    assert (s_figure (test, B, S_GRANTED) == 0);
    assert (s_await (test, A, S_HELD, 0));
    refused = counters->refusals_sent [OSMOSE_MARKET_WITHDRAWN];
    assert (s_acquire (test, 1, "eager_remote", 0, lease) == C);
    assert (counters->refusals_sent [OSMOSE_MARKET_WITHDRAWN] == refused + 1);
    assert (s_release (test, lease) == 0);
    assert (s_await (test, C, S_FREE_CPUS, 4));
    s_load (test, B, 100);
    assert (osmose_leasing_refusing (test->nodes [B].leasing) == NULL);
    assert (s_acquire (test, 1, "eager_remote", 0, lease) == B);
    assert (s_release (test, lease) == 0);
    assert (s_await (test, B, S_FREE_CPUS, 4));
    s_reconfigure (test, B, "policy/load_max_percent", "0");
}

//  When no peer will lease: FAIL says so; RETRY_LOCAL leases this device;
//  RETRY_REMOTE bids again (every LEASING_RETRY_US) until a peer lends
static void
s_test_fallbacks (s_test_t *test)
{
    s_reconfigure (test, B, "policy/lease_cpus", "0");
    s_reconfigure (test, C, "policy/lease_cpus", "0");
    char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
    int rc;
    s_acquire_send (test, 1, "eager_remote", "fail", 0);
    assert (s_acquire_answer (test, 1, lease, &rc) == -1 && rc == OSMOSE_ENOPEER);

    //  This device has room: the lease is local, held like a remote one
    s_acquire_send (test, 1, "eager_remote", "retry_local", 0);
    assert (s_acquire_answer (test, 1, lease, &rc) == A && rc == 0);
    assert (s_figure (test, A, S_LOCAL) == 1);
    assert (s_valid (test, A, lease, A) == 0);
    assert (s_release (test, lease) == 0);
    assert (s_figure (test, A, S_LOCAL) == 0);
    //  ... even when it lends nothing: its caps bind what others get
    s_reconfigure (test, A, "policy/lease_cpus", "0");
    s_acquire_send (test, 1, "eager_remote", "retry_local", 0);
    assert (s_acquire_answer (test, 1, lease, &rc) == A && rc == 0);
    assert (s_release (test, lease) == 0);
    s_reconfigure (test, A, "policy/lease_cpus", "-1");

    //  RETRY_REMOTE: no answer while every peer refuses; once B lends
    //  again, the next round gets its lease
    const osmose_market_counters_t *counters =
        osmose_market_counters (test->nodes [B].leasing->market);
    uint64_t refused = counters->refusals_sent [OSMOSE_MARKET_CAPACITY];
    s_acquire_send (test, 1, "eager_remote", "retry_remote", 0);
    s_run (test, 3 * LEASING_RETRY_US / 1000);
    assert (!(zsock_events (test->nodes [A].client) & ZMQ_POLLIN));
    assert (counters->refusals_sent [OSMOSE_MARKET_CAPACITY] >= refused + 2);
    s_reconfigure (test, B, "policy/lease_cpus", "-1");
    assert (s_acquire_answer (test, 1, lease, &rc) == B && rc == 0);
    assert (s_release (test, lease) == 0);
    assert (s_await (test, B, S_FREE_CPUS, 4));
    s_reconfigure (test, C, "policy/lease_cpus", "-1");
}

//  Leases die with their program: a child process holds a lease from B
//  and a local one; when it exits, the holder check gives both back
static void
s_test_holder (s_test_t *test)
{
    int gate [2];
    assert (pipe (gate) == 0);
    pid_t child = fork ();
    assert (child >= 0);
    if (child == 0) {
        //  Only async-signal-safe calls here: wait for the parent's word
        char byte;
        close (gate [1]);
        ssize_t got = read (gate [0], &byte, 1);
        _exit (got < 0);
    }
    close (gate [0]);
    assert (leasing_start_time (child) > 0);
    char remote [2 * OSMOSE_LEASE_ID_SIZE + 1], local [2 * OSMOSE_LEASE_ID_SIZE + 1];
    assert (s_acquire (test, 2, "eager_remote", child, remote) == B);
    int releases = test->nodes [A].entries [OSMOSE_ENTRY_LEASE_RELEASE];
    assert (s_acquire (test, 1, "local_first", child, local) == A);
    //  A local lease is this device's own: only its own key holds it
    assert (s_valid (test, A, local, A) == 0);
    assert (s_valid (test, A, local, B) == OSMOSE_ENOLEASE);
    assert (s_figure (test, A, S_HELD) == 1 && s_figure (test, A, S_LOCAL) == 1);

    //  Alive, its leases stay over a few holder checks
    s_run (test, 2 * LEASING_HOLDER_CHECK_US / 1000 + 100);
    assert (s_figure (test, A, S_HELD) == 1 && s_figure (test, A, S_LOCAL) == 1);

    close (gate [1]);
    int status;
    assert (waitpid (child, &status, 0) == child && WIFEXITED (status));
    assert (leasing_start_time (child) == -1);
    assert (s_await (test, A, S_HELD, 0));
    assert (s_figure (test, A, S_LOCAL) == 0);
    assert (s_valid (test, A, local, A) == OSMOSE_ENOLEASE);
    assert (test->nodes [A].entries [OSMOSE_ENTRY_LEASE_RELEASE] == releases + 1);
    assert (s_await (test, B, S_FREE_CPUS, 4));
}

void
osmose_leasing_test (bool verbose)
{
    printf (" * osmose_leasing: ");
    s_test_t test = { .verbose = verbose };
    snprintf (test.dir, sizeof (test.dir), "/tmp/osmose-leasing-test-XXXXXX");
    assert (mkdtemp (test.dir));
    char path [PATH_MAX], error [256];
    snprintf (path, sizeof (path), "%s/trust", test.dir);
    assert (osmose_trust_load (path, &test.trust, error, sizeof (error)) == 0);
    test.poller = osmose_poller_new ();
    assert (test.poller);
    for (int index = 0; index < S_NODES; index++) {
        test.nodes [index].identity = osmose_identity_new ();
        assert (test.nodes [index].identity);
        assert (osmose_trust_add (test.trust, osmose_identity_public (test.nodes [index].identity),
                                  OSMOSE_TRUST_DEVICE, "peer") == 0);
    }
    for (int index = 0; index < S_NODES; index++)
        s_node_start (&test, index);
    for (int index = 1; index < S_NODES; index++)
        assert (osmose_mesh_join (test.nodes [index].mesh, osmose_identity_id (test.nodes [A].identity),
                                  osmose_mesh_endpoint (test.nodes [A].mesh)) == 0);
    int64_t start = zclock_mono ();
    s_test_near (&test);
    if (verbose)
        printf ("(converged in %" PRId64 " ms) ", zclock_mono () - start);
    s_test_nearest (&test);
    s_test_owner (&test);
    s_test_fallbacks (&test);
    s_test_holder (&test);

    //  A stopping hands back what it holds: B lends all again
    char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
    assert (s_acquire (&test, 4, "eager_remote", 0, lease) == B);
    assert (s_await (&test, B, S_FREE_CPUS, 0));
    s_node_stop (&test, &test.nodes [A]);
    assert (s_await (&test, B, S_FREE_CPUS, 4));
    for (int index = 1; index < S_NODES; index++)
        s_node_stop (&test, &test.nodes [index]);
    osmose_poller_destroy (&test.poller);
    for (int index = 0; index < S_NODES; index++)
        osmose_identity_destroy (&test.nodes [index].identity);
    osmose_trust_destroy (&test.trust);
    zdir_t *tree = zdir_new (test.dir, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (access (test.dir, F_OK) != 0);
    if (verbose)
        printf ("(%" PRId64 " ms) ", zclock_mono () - start);
    printf ("OK\n");
}
