/*  osmose_peer.c: the peer actor (see osmose_peer.h).

    The actor's context, s_peer_t, is the only mutable state of a daemon.
    Modules keep their own state in objects the context owns; the loop
    below only routes socket events and timers to them.
*/
#include "osmose_prelude.h"
#include "osmose_peer.h"
#include "osmose_identity.h"
#include "osmose_api.h"
#include "osmose_trust.h"
#include "osmose_transport.h"
#include "osmose_poller.h"
#include "osmose_mesh.h"
#include "osmose_resources.h"
#include "osmose_discovery.h"
#include "osmose_feed.h"
#include "osmose_gossip.h"
#include "osmose_leasing.h"
#include "osmose_locator.h"
#include "osmose_location.h"
#include <sys/stat.h>

#define S_REFUSAL_LOG_MS 10000      //  at most one refusal report this often
#define S_ADVERT_MS 1000            //  fast resource figures into our pulse
#define S_DUTIES_MS 50              //  under a stream of tasks, duties at least this often

typedef struct {
    zsock_t *pipe;              //  to the front end
    osmose_config_t *config;    //  borrowed from the front end
    osmose_identity_t *identity;
    osmose_api_t *api;
    osmose_trust_t *trust;
    osmose_transport_t *transport;  //  the mesh's, borrowed
    osmose_mesh_t *mesh;
    osmose_discovery_t *discovery;  //  NULL when discovery/avahi is off
    osmose_feed_t *feed;            //  our own signed log
    osmose_gossip_t *gossip;        //  every feed of the mesh
    osmose_leasing_t *leasing;      //  market, work endpoint, executor
    osmose_locator_t *locator;      //  NULL without node/location_source
    int locator_fd;                 //  its pipe, polled (the poller takes int *)
    bool advert_due;                //  send the advert now (we moved)
    const char *refusing;           //  what our last advert said of it
    bool feed_dirty;                //  appended since the last commit
    int64_t last_publish;           //  zclock_mono of the last signed head
    bool push_due;                  //  signed entries not pushed yet
    int64_t last_push;              //  zclock_mono of the last push
    int64_t push_interval;          //  ms from one push to the next, now
    osmose_resources_t resources;   //  what we advertise
    int64_t next_advert;            //  zclock_mono of the next load refresh
    osmose_poller_t *poller;
    int64_t next_housekeeping;  //  zclock_mono of the next periodic duties
    int64_t next_refusal_log;   //  refusals are reported at a bounded pace
    uint64_t refusals;          //  handshakes refused since start
    int64_t started;            //  zclock_time at start
    char name [256];
    bool terminated;
} s_peer_t;

struct _osmose_peer_t {
    zactor_t *actor;
    char id [OSMOSE_ID_SIZE + 1];
};

static int
s_api_ping (void *arg, json_t *request, json_t **reply)
{
    *reply = json_pack ("{s:s}", "version", PACKAGE_VERSION);
    return *reply? 0: OSMOSE_ENOMEM;
}

static int
s_api_status (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    osmose_alloc_stats_t stats;
    int have_stats = osmose_alloc_stats (&stats) == 0;
    *reply = json_pack ("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:{s:s, s:b, s:I, s:I}}",
        "id", osmose_identity_id (self->identity),
        "name", self->name,
        "location", osmose_config_str (self->config, "node/location"),
        "version", PACKAGE_VERSION,
        "uptime_ms", (json_int_t) (zclock_time () - self->started),
        "bind", osmose_config_str (self->config, "mesh/bind"),
        "api_requests", (json_int_t) osmose_api_requests (self->api),
        "api_malformed", (json_int_t) osmose_api_malformed (self->api),
        "allocator",
            "name", osmose_alloc_name (),
            "stats", have_stats,
            "allocated", (json_int_t) stats.allocated,
            "resident", (json_int_t) stats.resident);
    if (*reply) {
        osmose_gossip_stats_t gossip;
        osmose_gossip_stats (self->gossip, &gossip);
        json_object_set_new (*reply, "log", json_pack (
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
            "entries", (json_int_t) gossip.entries, "feeds", (json_int_t) gossip.feeds,
            "own", (json_int_t) osmose_feed_size (self->feed),
            "imported", (json_int_t) gossip.imported, "forks", (json_int_t) gossip.forks,
            "duplicates", (json_int_t) gossip.duplicates,
            "rejected", (json_int_t) gossip.rejected,
            "messages_in", (json_int_t) gossip.msgs_in,
            "messages_out", (json_int_t) gossip.msgs_out,
            "prunes", (json_int_t) gossip.prunes, "grafts", (json_int_t) gossip.grafts));
        json_object_set_new (*reply, "peers", osmose_mesh_status_json (self->mesh));
        json_object_set_new (*reply, "leases", osmose_leasing_status_json (self->leasing));
        json_object_set_new (*reply, "tasks", osmose_leasing_tasks_json (self->leasing));
        json_object_set_new (*reply, "work", json_string (
            osmose_leasing_work_endpoint (self->leasing)));
        json_object_set_new (*reply, "endpoint", json_string (osmose_mesh_endpoint (self->mesh)));
    }
    return *reply? 0: OSMOSE_ENOMEM;
}

//  The head of the feed written by KEYHEX as we hold it, as JSON
static json_t *
s_feed_head_json (s_peer_t *self, const char *key_hex)
{
    uint8_t key [OSMOSE_KEY_SIZE];
    size_t decoded = 0;
    osmose_sth_t sth;
    osmose_feed_t *feed = NULL;
    if (key_hex && sodium_hex2bin (key, sizeof (key), key_hex, strlen (key_hex),
                                   NULL, &decoded, NULL) == 0 && decoded == sizeof (key))
        feed = osmose_gossip_feed (self->gossip, key);
    if (!feed || osmose_feed_head (feed, &sth) != 0)
        return json_null ();
    char root [2 * OSMOSE_HASH_SIZE + 1];
    sodium_bin2hex (root, sizeof (root), sth.root, OSMOSE_HASH_SIZE);
    return json_pack ("{s:I, s:s}", "size", (json_int_t) sth.size, "root", root);
}

static int
s_api_peers (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    *reply = osmose_mesh_peers_json (self->mesh);
    size_t index;
    json_t *member;
    json_array_foreach (*reply, index, member)
        json_object_set_new (member, "log", s_feed_head_json (self,
            json_string_value (json_object_get (member, "key"))));
    return *reply? 0: OSMOSE_ENOMEM;
}

//  Record an event in our feed; the commit (which signs a head and wakes
//  gossip) happens in the loop, so a burst of events shares one head
static void
s_log (s_peer_t *self, osmose_entry_type_t type, json_t *payload)
{
    char *text = payload? json_dumps (payload, JSON_COMPACT | JSON_SORT_KEYS): NULL;
    uint64_t index;
    int rc = text? osmose_feed_append (self->feed, type, text, strlen (text), 0, &index)
                 : OSMOSE_ENOMEM;
    if (rc)
        zsys_error ("osmose: cannot log %s: %s", osmose_entry_type_name (type),
                    osmose_strerror (rc));
    else
        self->feed_dirty = true;
    free (text);
    json_decref (payload);
}

static void
s_leasing_log (void *arg, osmose_entry_type_t type, json_t *payload)
{
    s_log ((s_peer_t *) arg, type, payload);
}

//  Send what gossip queued
static void
s_gossip_flush (s_peer_t *self)
{
    osmose_gossip_out_t out;
    while (osmose_gossip_next_out (self->gossip, &out)) {
        if (osmose_mesh_send (self->mesh, out.to, OSMOSE_MSG_FEED, out.data, out.size) != 0)
            zsys_debug ("osmose: gossip to %s dropped", out.to);
        free (out.data);
    }
}

static void
s_on_feed_message (void *arg, const char *from, const uint8_t *body, size_t size)
{
    s_peer_t *self = (s_peer_t *) arg;
    osmose_gossip_receive (self->gossip, from, body, size, zclock_usecs ());
    s_gossip_flush (self);
}

static bool
s_gossip_trusted (void *arg, const uint8_t *key)
{
    s_peer_t *self = (s_peer_t *) arg;
    char id [OSMOSE_ID_SIZE + 1];
    osmose_identity_id_of (key, id);
    return osmose_trust_lookup (self->trust, id) != NULL;
}

//  A fork proof is evidence for everyone: keep it in our own feed
static void
s_gossip_news (void *arg, osmose_feed_t *feed, uint64_t first, uint64_t count,
               const osmose_fork_t *fork)
{
    s_peer_t *self = (s_peer_t *) arg;
    if (!fork)
        return;
    uint8_t encoded [OSMOSE_FORK_ENCODED_MAX];
    size_t size = osmose_fork_encode (fork, encoded);
    char id [OSMOSE_ID_SIZE + 1];
    osmose_identity_id_of (fork->larger.feed, id);
    zsys_error ("osmose: peer %s forked its log: two signed heads disagree; "
                "it is no longer trusted", id);
    uint64_t index;
    if (osmose_feed_append (self->feed, OSMOSE_ENTRY_FORK_PROOF, encoded, size, 0, &index) == 0)
        self->feed_dirty = true;
    //  A writer that signs two histories is distrusted (DESIGN invariant
    //  4): its key leaves the trust store, and its links are closed
    osmose_trust_entry_t removed;
    if (osmose_trust_remove (self->trust, id, &removed) == 0) {
        osmose_transport_deny (self->transport, removed.key);
        osmose_transport_disconnect (self->transport, removed.id);
        s_log (self, OSMOSE_ENTRY_TRUST_REMOVE, json_pack ("{s:s, s:s, s:s}",
               "id", removed.id, "name", removed.name, "reason", "forked its log"));
    }
}

//  Commit our feed when due: signs a head and pushes it to the view
//  Milliseconds until our entries' head may be published: at once after a
//  quiet spell, else log/publish_ms after the last one, so a burst (leases
//  granted back to back) shares one signature and one check per replica
static int64_t
s_publish_wait (s_peer_t *self)
{
    int64_t wait = self->last_publish + osmose_config_int (self->config, "log/publish_ms")
                 - zclock_mono ();
    return wait > 0? wait: 0;
}

//  Milliseconds until our signed entries may be pushed to the mesh, -1
//  when none wait
static int64_t
s_push_wait (s_peer_t *self)
{
    if (!self->push_due)
        return -1;
    int64_t wait = self->last_push + self->push_interval - zclock_mono ();
    return wait > 0? wait: 0;
}

//  Push our signed entries to the mesh when due. A push wakes every
//  replica for a check, and that fixed cost, not the bytes, is what a
//  busy mesh feels (16 peers on 2 cores: each push stalls the CPUs for
//  a millisecond or two). So while pushes keep coming within twice the
//  interval, each waits twice as long as the last, up to
//  log/publish_max_ms; after a quiet spell the interval is back to
//  log/publish_ms and a lone entry goes out at once.
static void
s_push (s_peer_t *self)
{
    if (s_push_wait (self) != 0)
        return;
    int64_t now = zclock_mono ();
    int64_t least = osmose_config_int (self->config, "log/publish_ms");
    int64_t most = osmose_config_int (self->config, "log/publish_max_ms");
    bool busy = now - self->last_push < 2 * self->push_interval;
    self->push_interval = busy? 2 * self->push_interval: least;
    if (self->push_interval > most)
        self->push_interval = most;
    if (self->push_interval < least)
        self->push_interval = least;
    self->push_due = false;
    self->last_push = now;
    osmose_gossip_local (self->gossip);
    s_gossip_flush (self);
}

static void
s_commit (s_peer_t *self)
{
    bool due = self->feed_dirty? s_publish_wait (self) == 0
                               : osmose_feed_commit_due (self->feed) == 0;
    if (due) {
        int rc = osmose_feed_commit (self->feed, false);
        if (rc)
            zsys_error ("osmose: log commit failed: %s", osmose_strerror (rc));
        else
        if (self->feed_dirty) {
            self->feed_dirty = false;
            self->last_publish = zclock_mono ();
            self->push_due = true;
        }
    }
    s_push (self);
}

//  Every feed held here: ours and the replicas, with their signed heads
static int
s_api_feeds (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    *reply = json_array ();
    osmose_feed_t *feed;
    for (size_t index = 0; *reply && (feed = osmose_gossip_feed_at (self->gossip, index)); index++) {
        osmose_sth_t sth;
        const uint8_t *key = osmose_feed_key (feed);
        if (!key || osmose_feed_head (feed, &sth) != 0)
            continue;
        char id [OSMOSE_ID_SIZE + 1], root [2 * OSMOSE_HASH_SIZE + 1];
        osmose_identity_id_of (key, id);
        sodium_bin2hex (root, sizeof (root), sth.root, OSMOSE_HASH_SIZE);
        json_array_append_new (*reply, json_pack ("{s:s, s:I, s:s, s:b}",
            "id", id, "size", (json_int_t) sth.size, "root", root,
            "own", feed == self->feed));
    }
    return *reply? 0: OSMOSE_ENOMEM;
}

//  {"text": "..."}: record an event in our feed (operators' notes, tests)
static int
s_api_event (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    const char *text = json_string_value (json_object_get (request, "text"));
    if (!text || strlen (text) > 4096) {
        *reply = json_pack ("{s:s}", "error", "expected a text of at most 4096 bytes");
        return OSMOSE_EINVAL;
    }
    s_log (self, OSMOSE_ENTRY_EVENT, json_pack ("{s:s}", "text", text));
    *reply = json_pack ("{s:I}", "size", (json_int_t) osmose_feed_size (self->feed));
    return *reply? 0: OSMOSE_ENOMEM;
}

//  We are somewhere else now: tell the mesh, re-place what is far, log it
static int
s_move (s_peer_t *self, const char *location, const char *source)
{
    int rc = osmose_location_check (location);
    if (rc)
        return rc;
    char from [OSMOSE_LOCATION_MAX_LENGTH + 1];
    snprintf (from, sizeof (from), "%s", self->resources.capacity.location);
    if (streq (from, location))
        return 0;
    rc = osmose_config_set (self->config, "node/location", location);
    if (rc == 0)
        rc = osmose_mesh_set_location (self->mesh, location);
    if (rc)
        return rc;
    snprintf (self->resources.capacity.location, sizeof (self->resources.capacity.location),
              "%s", location);
    zsys_info ("osmose: moved from %s to %s (%s)", *from? from: "-", location, source);
    s_log (self, OSMOSE_ENTRY_MOVE, json_pack ("{s:s, s:s, s:s}", "from", from,
                                                "to", location, "source", source));
    osmose_leasing_moved (self->leasing, &self->resources);
    self->advert_due = true;
    return 0;
}

//  {"location": path}
static int
s_api_move (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    const char *location = json_string_value (json_object_get (request, "location"));
    char from [OSMOSE_LOCATION_MAX_LENGTH + 1];
    snprintf (from, sizeof (from), "%s", self->resources.capacity.location);
    int rc = location? s_move (self, location, "api"): OSMOSE_EINVAL;
    if (rc) {
        *reply = json_pack ("{s:s}", "error", "expected a location path: segments of "
                            "[A-Za-z0-9._-] joined by '/'");
        return rc;
    }
    *reply = json_pack ("{s:s, s:s}", "from", from, "to", location);
    return *reply? 0: OSMOSE_ENOMEM;
}

//  {"set": {"policy/...": value, "resources/...": value}}: the owner's
//  overrides, applied at once (battery below the threshold hands leases
//  back), logged as a POLICY entry. Other settings need a restart.
static int
s_api_policy (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    json_t *set = json_object_get (request, "set");
    const char *key;
    json_t *value;
    json_object_foreach (set, key, value) {
        char text [64];
        if (json_is_string (value))
            snprintf (text, sizeof (text), "%s", json_string_value (value));
        else
        if (json_is_integer (value))
            snprintf (text, sizeof (text), "%" JSON_INTEGER_FORMAT, json_integer_value (value));
        else
            text [0] = 0;
        bool allowed = strncmp (key, "policy/", 7) == 0 || strncmp (key, "resources/", 10) == 0;
        int rc = allowed && *text? osmose_config_set (self->config, key, text): OSMOSE_EINVAL;
        if (rc) {
            *reply = json_pack ("{s:s, s:s}", "error", allowed?
                                "value refused by the schema (see osmose.conf(5))":
                                "only policy/* and resources/* change at run time", "key", key);
            return rc == OSMOSE_ENOTFOUND? OSMOSE_ENOTFOUND: OSMOSE_EINVAL;
        }
    }
    osmose_resources_t fresh;
    int rc = osmose_resources_probe (&fresh, getenv (OSMOSE_RESOURCES_SYSROOT_ENV), self->config);
    if (rc == 0) {
        self->resources = fresh;
        if (set && json_object_size (set))
            s_log (self, OSMOSE_ENTRY_POLICY, json_pack ("{s:s, s:O}", "event", "set", "set", set));
        if (osmose_leasing_apply_config (self->leasing) != 0)
            zsys_warning ("osmose: policy/allow refused: the old list stays");
        osmose_leasing_set_resources (self->leasing, &self->resources);
        self->advert_due = true;
    }
    *reply = rc? NULL: osmose_resources_json (&self->resources);
    return rc? rc: (*reply? 0: OSMOSE_ENOMEM);
}

static void
s_check_locator (s_peer_t *self)
{
    char location [OSMOSE_LOCATION_MAX_LENGTH + 1];
    if (self->locator && osmose_locator_check (self->locator, location)
    &&  s_move (self, location, "locator") != 0)
        zsys_warning ("osmose: cannot move to %s", location);
}

static int
s_api_trust_list (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    *reply = osmose_trust_json (self->trust);
    return *reply? 0: OSMOSE_ENOMEM;
}

//  {"key": hex or node.pub text, "role": "device|user|admin", "name": text}
static int
s_api_trust_add (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    const char *key_text = json_string_value (json_object_get (request, "key"));
    const char *role_text = json_string_value (json_object_get (request, "role"));
    const char *name = json_string_value (json_object_get (request, "name"));
    uint8_t key [OSMOSE_KEY_SIZE];
    int role = osmose_trust_role_parse (role_text? role_text: "device");
    if (!key_text || osmose_trust_parse_key (key_text, key) || role < 0) {
        *reply = json_pack ("{s:s}", "error", "expected a 64-hex-digit Ed25519 key "
                            "and a role of device, user or admin");
        return OSMOSE_EINVAL;
    }
    int rc = osmose_trust_add (self->trust, key, (osmose_trust_role_t) role, name);
    if (rc == 0)
        rc = osmose_transport_allow (self->transport, key, NULL);
    if (rc == 0 || rc == OSMOSE_EEXIST) {
        char id [OSMOSE_ID_SIZE + 1];
        osmose_identity_id_of (key, id);
        *reply = json_pack ("{s:s, s:b}", "id", id, "added", rc == 0);
        if (rc == 0) {
            zsys_notice ("osmose: trust: enrolled %s %s (%s)",
                         osmose_trust_role_name ((osmose_trust_role_t) role), id,
                         name? name: "-");
            s_log (self, OSMOSE_ENTRY_TRUST_ADD, json_pack ("{s:s, s:s, s:s, s:s}",
                   "id", id, "key", key_text, "role", role_text? role_text: "device",
                   "name", name? name: "-"));
        }
        return 0;
    }
    return rc;
}

//  {"who": id or hex key}
static int
s_api_trust_remove (void *arg, json_t *request, json_t **reply)
{
    s_peer_t *self = (s_peer_t *) arg;
    const char *who = json_string_value (json_object_get (request, "who"));
    osmose_trust_entry_t removed;
    int rc = osmose_trust_remove (self->trust, who, &removed);
    if (rc == 0) {
        osmose_transport_deny (self->transport, removed.key);
        osmose_transport_disconnect (self->transport, removed.id);
        zsys_notice ("osmose: trust: removed %s (%s)", removed.id, removed.name);
        s_log (self, OSMOSE_ENTRY_TRUST_REMOVE, json_pack ("{s:s, s:s}",
               "id", removed.id, "name", removed.name));
        *reply = json_pack ("{s:s}", "id", removed.id);
    }
    return rc;
}

static void
s_peer_destroy (s_peer_t **self_p)
{
    if (*self_p) {
        s_peer_t *self = *self_p;
        osmose_leasing_destroy (&self->leasing);
        osmose_locator_destroy (&self->locator);
        //  Detaching cannot fail: only adding to a poller allocates
        if (self->mesh && self->poller && osmose_mesh_poll_on (self->mesh, NULL))
            zsys_warning ("osmose: cannot detach the links from the poller");
        osmose_poller_destroy (&self->poller);
        osmose_api_destroy (&self->api);
        osmose_discovery_destroy (&self->discovery);
        osmose_mesh_destroy (&self->mesh);
        osmose_gossip_destroy (&self->gossip);
        osmose_feed_destroy (&self->feed);      //  commits what is pending
        osmose_trust_destroy (&self->trust);
        osmose_identity_destroy (&self->identity);
        free (self);
        *self_p = NULL;
    }
}

//  Publish ourselves on mDNS and browse for the others. Avahi being
//  absent is not an error: the discovery object waits for it
static bool
s_start_discovery (s_peer_t *self)
{
    const char *endpoint = osmose_mesh_endpoint (self->mesh);
    const char *colon = strrchr (endpoint, ':');
    int port = colon? atoi (colon + 1): 0;
    osmose_discovery_txt_t txt;
    if (port <= 0 || port > 65535
    ||  osmose_discovery_txt_set (&txt, osmose_identity_public (self->identity),
                                  osmose_config_str (self->config, "node/location"),
                                  OSMOSE_MSG_VERSION, endpoint) != 0)
        return false;
    //  Instance names must differ between devices that share a name
    char instance [OSMOSE_DISCOVERY_NAME_MAX + 1];
    snprintf (instance, sizeof (instance), "%.40s %s", self->name,
              osmose_identity_id (self->identity));
    self->discovery = osmose_discovery_new (
        osmose_config_str (self->config, "discovery/service"), instance,
        (uint16_t) port, &txt);
    return self->discovery != NULL;
}

static void
s_handle_discovery (s_peer_t *self)
{
    osmose_discovery_event_t event;
    while (osmose_discovery_recv (self->discovery, &event) == 0) {
        if (event.kind == OSMOSE_DISCOVERY_FOUND) {
            //  The TXT record is only a hint: the trust store decides, and
            //  the CURVE handshake proves the key
            int rc = osmose_mesh_join (self->mesh, event.txt.id, event.endpoint);
            if (rc == OSMOSE_EUNTRUSTED)
                zsys_debug ("osmose: discovered untrusted peer %s at %s",
                            event.txt.id, event.endpoint);
        }
        else
        if (event.kind == OSMOSE_DISCOVERY_STATUS)
            zsys_info ("osmose: avahi %s: %s", event.up? "up": "down", event.message);
    }
}

static s_peer_t *
s_peer_new (zsock_t *pipe, osmose_config_t *config, char *error, size_t error_size)
{
    s_peer_t *self = (s_peer_t *) zmalloc (sizeof (s_peer_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->pipe = pipe;
    self->config = config;
    self->started = zclock_time ();
    const char *name = osmose_config_str (config, "node/name");
    if (*name)
        snprintf (self->name, sizeof (self->name), "%s", name);
    else
    if (gethostname (self->name, sizeof (self->name) - 1) != 0)
        snprintf (self->name, sizeof (self->name), "osmose");

    const char *state_dir = osmose_config_str (config, "node/state_dir");
    if (zsys_dir_create ("%s", state_dir) != 0) {
        snprintf (error, error_size, "%s: cannot create state directory: %s",
                  state_dir, strerror (errno));
        s_peer_destroy (&self);
        return NULL;
    }
    int rc = osmose_identity_load (state_dir, true, &self->identity);
    if (rc) {
        snprintf (error, error_size, "%s/node.key: cannot load identity: %s",
                  state_dir, osmose_strerror (rc));
        s_peer_destroy (&self);
        return NULL;
    }
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/trust", state_dir);
    if (osmose_trust_load (path, &self->trust, error, error_size)) {
        s_peer_destroy (&self);
        return NULL;
    }
    snprintf (path, sizeof (path), "%s/log", state_dir);
    rc = osmose_feed_open (path, self->identity, 0, error, error_size, &self->feed);
    if (rc == 0)
        rc = osmose_feed_configure (self->feed, config);
    if (rc) {
        if (self->feed)
            snprintf (error, error_size, "%.400s: bad log settings", path);
        s_peer_destroy (&self);
        return NULL;
    }
    osmose_gossip_params_t gossip_params;
    osmose_gossip_params_default (&gossip_params);
    gossip_params.interval_ms = (int) osmose_config_int (config, "mesh/gossip_interval_ms") < 1000?
                                1000: (int) osmose_config_int (config, "mesh/gossip_interval_ms");
    gossip_params.trusted = s_gossip_trusted;
    gossip_params.trusted_arg = self;
    gossip_params.on_news = s_gossip_news;
    gossip_params.news_arg = self;
    snprintf (path, sizeof (path), "%s/feeds", state_dir);
    self->gossip = osmose_gossip_new (path, self->feed, &gossip_params, error, error_size);
    if (!self->gossip) {
        s_peer_destroy (&self);
        return NULL;
    }
    int rc_probe = osmose_resources_probe (&self->resources,
                                           getenv (OSMOSE_RESOURCES_SYSROOT_ENV), config);
    if (rc_probe) {
        snprintf (error, error_size, "cannot probe resources: %s", osmose_strerror (rc_probe));
        s_peer_destroy (&self);
        return NULL;
    }
    self->mesh = osmose_mesh_new (config, self->identity, self->trust, self->name,
                                  osmose_config_str (config, "node/location"),
                                  error, error_size);
    if (!self->mesh) {
        s_peer_destroy (&self);
        return NULL;
    }
    self->transport = osmose_mesh_transport (self->mesh);
    osmose_mesh_set_handler (self->mesh, OSMOSE_MSG_FEED, s_on_feed_message, self);
    //  Capacity is slow-changing: it goes in the log (load travels in gossip)
    json_t *capacity = osmose_resources_capacity_json (&self->resources.capacity);
    s_log (self, OSMOSE_ENTRY_RESOURCES, capacity);
    if (osmose_config_bool (config, "discovery/avahi") && !s_start_discovery (self)) {
        snprintf (error, error_size, "cannot start Avahi discovery (out of memory?)");
        s_peer_destroy (&self);
        return NULL;
    }
    self->api = osmose_api_new (osmose_config_str (config, "api/endpoint"),
                                error, error_size);
    if (!self->api) {
        s_peer_destroy (&self);
        return NULL;
    }
    if (osmose_api_register (self->api, "PING", s_api_ping, self)
    ||  osmose_api_register (self->api, "STATUS", s_api_status, self)
    ||  osmose_api_register (self->api, "PEERS", s_api_peers, self)
    ||  osmose_api_register (self->api, "FEEDS", s_api_feeds, self)
    ||  osmose_api_register (self->api, "EVENT", s_api_event, self)
    ||  osmose_api_register (self->api, "MOVE", s_api_move, self)
    ||  osmose_api_register (self->api, "POLICY", s_api_policy, self)
    ||  osmose_api_register (self->api, "TRUST_LIST", s_api_trust_list, self)
    ||  osmose_api_register (self->api, "TRUST_ADD", s_api_trust_add, self)
    ||  osmose_api_register (self->api, "TRUST_REMOVE", s_api_trust_remove, self)) {
        snprintf (error, error_size, "cannot register API commands");
        s_peer_destroy (&self);
        return NULL;
    }
    self->leasing = osmose_leasing_new (config, self->identity, self->trust, self->mesh,
                                        self->api, &self->resources, s_leasing_log, self,
                                        error, error_size);
    if (!self->leasing) {
        s_peer_destroy (&self);
        return NULL;
    }
    const char *source = osmose_config_str (config, "node/location_source");
    if (*source && !(self->locator = osmose_locator_new (source, error, error_size))) {
        s_peer_destroy (&self);
        return NULL;
    }
    self->poller = osmose_poller_new ();
    rc = self->poller? osmose_poller_add (self->poller, pipe): OSMOSE_ENOMEM;
    if (rc == 0)
        rc = osmose_poller_add (self->poller, osmose_api_socket (self->api));
    if (rc == 0)
        rc = osmose_poller_add (self->poller, osmose_mesh_inbox (self->mesh));
    if (rc == 0 && self->discovery)
        rc = osmose_poller_add (self->poller, osmose_discovery_socket (self->discovery));
    if (rc == 0 && self->locator && (self->locator_fd = osmose_locator_fd (self->locator)) >= 0)
        rc = osmose_poller_add (self->poller, &self->locator_fd);
    if (rc || osmose_leasing_poll_on (self->leasing, self->poller)
    ||  osmose_mesh_poll_on (self->mesh, self->poller)) {
        snprintf (error, error_size, "out of memory");
        s_peer_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_handle_pipe (s_peer_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    char *command = msg? zmsg_popstr (msg): NULL;
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  Contact the static seeds, "PEERID@tcp://host:port" each
static void
s_join_seeds (s_peer_t *self)
{
    char *seeds = strdup (osmose_config_str (self->config, "mesh/seeds"));
    char *saveptr = NULL;
    for (char *seed = seeds? strtok_r (seeds, " \t,", &saveptr): NULL; seed;
         seed = strtok_r (NULL, " \t,", &saveptr)) {
        char *at = strchr (seed, '@');
        if (!at)
            continue;           //  the config schema refuses these
        *at = 0;
        int rc = osmose_mesh_join (self->mesh, seed, at + 1);
        if (rc)
            zsys_warning ("osmose: seed %s@%s: %s%s", seed, at + 1, osmose_strerror (rc),
                          rc == OSMOSE_EUNTRUSTED? " (enrol it with 'osmose trust add')": "");
    }
    free (seeds);
}

//  Advertise our resources; the fast figures are refreshed at a pace that
//  keeps idle traffic small
static void
s_advertise (s_peer_t *self)
{
    osmose_resources_t fresh = self->resources;
    if (osmose_resources_probe_load (&fresh, getenv (OSMOSE_RESOURCES_SYSROOT_ENV),
                                     self->config) != 0)
        return;
    //  The fast figures ride our membership messages as they are; a signed
    //  record, which every member relays a few times, is only for news
    //  (the first one, a move, new caps)
    if (osmose_mesh_set_load (self->mesh, &fresh.load) != 0)
        zsys_warning ("osmose: cannot set our pulse");
    bool record = self->next_advert == 0 || self->advert_due;
    self->advert_due = false;
    if (memcmp (&fresh.load, &self->resources.load, sizeof (fresh.load)) != 0 || record) {
        self->resources = fresh;
        osmose_leasing_set_resources (self->leasing, &self->resources);
    }
    //  Refusing every lease (battery, load) is news too: while it lasts we
    //  advertise nothing to lend, and say why
    const char *refusing = osmose_leasing_refusing (self->leasing);
    if (refusing != self->refusing)     //  static names: the same name, the same pointer
        record = true;
    if (!record)
        return;
    self->refusing = refusing;
    osmose_resources_t offered = self->resources;
    if (refusing) {
        offered.capacity.lease_cpus = offered.capacity.lease_gpus = offered.capacity.lease_npus = 0;
        offered.capacity.lease_memory_mb = 0;
    }
    json_t *advert = osmose_resources_json (&offered);
    if (advert) {
        if (refusing)
            json_object_set_new (advert, "refusing", json_string (refusing));
        //  Where leaseholders send tasks: with the figures they bid on
        json_object_set_new (advert, "work", json_string (
            osmose_leasing_work_endpoint (self->leasing)));
        if (osmose_mesh_advertise (self->mesh, advert) != 0)
            zsys_warning ("osmose: resource advert too large or no memory");
    }
    json_decref (advert);
}

//  Refused handshakes are evidence of a misconfigured or hostile device;
//  report them, but at a pace no intruder can turn into a log flood
static void
s_report_refusals (s_peer_t *self, int64_t now)
{
    char last_z85 [41];
    uint64_t refusals = osmose_transport_refusals (self->transport, last_z85);
    self->refusals += refusals;
    if (refusals && now >= self->next_refusal_log) {
        zsys_warning ("osmose: refused %" PRIu64 " connection(s) from untrusted keys, "
                      "last curve key %s", self->refusals, last_z85);
        self->refusals = 0;
        self->next_refusal_log = now + S_REFUSAL_LOG_MS;
    }
}

static void
s_housekeeping (s_peer_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->next_housekeeping)
        return;
    self->next_housekeeping = now + 250;
    s_report_refusals (self, now);
    const char *view [64];
    size_t view_size = osmose_mesh_view (self->mesh, view, 64);
    osmose_gossip_set_view (self->gossip, view, view_size);
    osmose_gossip_tick (self->gossip, zclock_usecs ());
    s_gossip_flush (self);
    if (self->locator && osmose_locator_fd (self->locator) < 0)
        s_check_locator (self);
    if (now >= self->next_advert || self->advert_due) {
        s_advertise (self);
        self->next_advert = now + S_ADVERT_MS;
    }
    //  Freed pages wait for reuse until here (osmosed.c): a burst reuses
    //  them, an idle peer gives them back within 250 ms
    (void) osmose_alloc_purge ();           //  ENOTSUP without jemalloc
}

//  Milliseconds until a periodic duty is due (0: now): housekeeping, the
//  mesh's and the market's timers, a commit or a publish of our log
static int64_t
s_duties_wait (s_peer_t *self)
{
    int64_t wait = self->next_housekeeping - zclock_mono ();
    int mesh_wait = osmose_mesh_timeout (self->mesh);
    if (mesh_wait < wait)
        wait = mesh_wait;
    int64_t lease_wait = osmose_leasing_timeout (self->leasing);
    if (lease_wait < wait)
        wait = lease_wait;
    int64_t commit_wait = self->feed_dirty? s_publish_wait (self)
                                          : osmose_feed_commit_due (self->feed);
    if (commit_wait >= 0 && commit_wait < wait)
        wait = commit_wait;
    int64_t push_wait = s_push_wait (self);
    if (push_wait >= 0 && push_wait < wait)
        wait = push_wait;
    return wait < 0? 0: wait;
}

static void
s_peer_actor (zsock_t *pipe, void *args)
{
    //  zactor_new returns on this signal; the outcome of start-up follows
    //  as a message, so the front end can report why a peer did not start
    zsock_signal (pipe, 0);
    char error [512] = "";
    s_peer_t *self = s_peer_new (pipe, (osmose_config_t *) args, error, sizeof (error));
    //  The handshake carries the id, or the reason we could not start
    if (!self) {
        zstr_sendx (pipe, "ERROR", error, NULL);
        return;
    }
    zstr_sendx (pipe, "OK", osmose_identity_id (self->identity), NULL);
    s_join_seeds (self);
    zsys_info ("osmose: peer %s (%s) at %s, mesh %s, api %s, %zu trusted keys",
               osmose_identity_id (self->identity), self->name,
               osmose_config_str (self->config, "node/location"),
               osmose_mesh_endpoint (self->mesh),
               osmose_config_str (self->config, "api/endpoint"),
               osmose_trust_size (self->trust));
    int64_t next_duties = 0;
    int64_t wait = s_duties_wait (self);        //  until the next duty, ms
    while (!self->terminated) {
        void *which = osmose_poller_wait (self->poller, (int) wait);
        if (which == pipe)
            s_handle_pipe (self);
        else
        if (which == osmose_api_socket (self->api))
            osmose_api_handle (self->api);
        else
        if (which == osmose_mesh_inbox (self->mesh))
            osmose_mesh_handle (self->mesh);
        else
        if (which && osmose_mesh_handle_socket (self->mesh, which))
            ;
        else
        if (self->discovery && which == osmose_discovery_socket (self->discovery))
            s_handle_discovery (self);
        else
        if (which && osmose_leasing_handle (self->leasing, which)) {
            //  Tasks come in thousands a second: the periodic duties run
            //  when one is due, not on every batch (each run costs the
            //  next wait a question to every socket)
            if (zclock_mono () < next_duties && (wait = s_duties_wait (self)) > 0)
                continue;
        }
        else
        if (self->locator && which == &self->locator_fd)
            s_check_locator (self);
        else
        if (osmose_poller_terminated (self->poller))
            break;
        //  The duties send on any socket: the next wait asks every one
        osmose_poller_touched (self->poller);
        next_duties = zclock_mono () + S_DUTIES_MS;
        osmose_mesh_tick (self->mesh);
        osmose_leasing_tick (self->leasing);
        s_commit (self);
        s_housekeeping (self);
        wait = s_duties_wait (self);
    }
    zsys_info ("osmose: peer %s stopping", osmose_identity_id (self->identity));
    s_peer_destroy (&self);
}

osmose_peer_t *
osmose_peer_new (osmose_config_t *config, char *error, size_t error_size)
{
    assert (config);
    osmose_peer_t *self = (osmose_peer_t *) zmalloc (sizeof (osmose_peer_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->actor = zactor_new (s_peer_actor, config);
    char *status = NULL, *detail = NULL;
    if (!self->actor || zstr_recvx (self->actor, &status, &detail, NULL) != 2
    ||  !streq (status, "OK")) {
        snprintf (error, error_size, "%s", detail? detail: "peer failed to start");
        zstr_free (&status);
        zstr_free (&detail);
        zactor_destroy (&self->actor);
        free (self);
        return NULL;
    }
    snprintf (self->id, sizeof (self->id), "%s", detail);
    zstr_free (&status);
    zstr_free (&detail);
    return self;
}

void
osmose_peer_destroy (osmose_peer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_peer_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

const char *
osmose_peer_id (osmose_peer_t *self)
{
    assert (self);
    return self->id;
}

void
osmose_peer_test (bool verbose)
{
    printf (" * osmose_peer: ");
    char dir [] = "/tmp/osmose-peer-test-XXXXXX";
    assert (mkdtemp (dir));
    osmose_config_t *config = osmose_config_new_default ();
    assert (config);
    char value [PATH_MAX];
    snprintf (value, sizeof (value), "%s/state", dir);
    assert (osmose_config_set (config, "node/state_dir", value) == 0);
    snprintf (value, sizeof (value), "ipc://%s/api.sock", dir);
    assert (osmose_config_set (config, "api/endpoint", value) == 0);
    assert (osmose_config_set (config, "node/location", "lab/bench1") == 0);
    assert (osmose_config_set (config, "node/name", "tester") == 0);
    assert (osmose_config_set (config, "mesh/bind", "tcp://127.0.0.1:*") == 0);
    //  Never publish on the machine's own mDNS from a test
    assert (osmose_config_set (config, "discovery/avahi", "false") == 0);

    char error [512];
    osmose_peer_t *peer = osmose_peer_new (config, error, sizeof (error));
    assert (peer);
    assert (strlen (osmose_peer_id (peer)) == OSMOSE_ID_SIZE);

    //  A second peer on the same state and endpoint must refuse to start
    //  (its log is the first thing it finds in use)
    osmose_peer_t *twin = osmose_peer_new (config, error, sizeof (error));
    assert (!twin);
    assert (strstr (error, "in use by another process"));

    osmose_t *client = NULL;
    assert (osmose_connect (value, 2000, &client) == 0);
    char *json = NULL;
    assert (osmose_status_json (client, &json) == 0);
    json_error_t json_error;
    json_t *status = json_loads (json, 0, &json_error);
    assert (status);
    assert (streq (json_string_value (json_object_get (status, "id")), osmose_peer_id (peer)));
    assert (streq (json_string_value (json_object_get (status, "location")), "lab/bench1"));
    assert (streq (json_string_value (json_object_get (status, "name")), "tester"));
    json_decref (status);
    osmose_free (json);
    osmose_disconnect (&client);

    //  The identity survives a restart
    char id [OSMOSE_ID_SIZE + 1];
    strcpy (id, osmose_peer_id (peer));
    osmose_peer_destroy (&peer);
    peer = osmose_peer_new (config, error, sizeof (error));
    assert (peer);
    assert (streq (id, osmose_peer_id (peer)));
    osmose_peer_destroy (&peer);

    //  An unusable state directory is a clear start-up error
    assert (osmose_config_set (config, "node/state_dir", "/proc/osmose-cannot-exist") == 0);
    peer = osmose_peer_new (config, error, sizeof (error));
    assert (!peer);
    assert (strstr (error, "/proc/osmose-cannot-exist"));
    osmose_config_destroy (&config);
    zdir_t *tree = zdir_new (dir, NULL);
    assert (tree);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    assert (access (dir, F_OK) != 0);
    printf ("OK\n");
}
