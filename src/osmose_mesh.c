/*  osmose_mesh.c: membership over the transport (see osmose_mesh.h). */
#include "osmose_prelude.h"
#include "osmose_mesh.h"
#include "osmose_members.h"
#include "osmose_location.h"
#include "osmose_proximity.h"
#include "osmose_resources.h"

#define S_LINK_IDLE_US 3000000      //  close a link outside the view after this
#define S_EXTRA_LINKS 8             //  short-lived links allowed beyond the view
#define S_HOUSEKEEPING_US 500000
#define S_MAX_VIEW 64
#define S_DRAIN_MAX 64              //  messages read from a socket per wake

typedef struct {
    osmose_mesh_handler_fn *handler;
    void *arg;
} s_route_t;

struct _osmose_mesh_t {
    osmose_identity_t *identity;    //  borrowed
    osmose_trust_t *trust;          //  borrowed
    osmose_transport_t *transport;
    osmose_members_t *members;
    char endpoint [256];            //  what we advertise
    char location [OSMOSE_LOCATION_MAX_LENGTH + 1];
    int64_t hop_weight_us;
    zhashx_t *last_used;            //  link id -> int64_t * (µs of last send)
    zhashx_t *adverts;              //  member id -> s_advert_t, parsed adverts
    int64_t next_housekeeping;
    s_route_t routes [OSMOSE_MSG_TYPE_LIMIT];
    osmose_mesh_change_fn *change_fn;
    void *change_arg;
};

//  A member's advert as parsed at one incarnation
typedef struct {
    uint32_t incarnation;
    int rc;                         //  0, or OSMOSE_EPROTO: missing or malformed
    osmose_resources_t resources;
    char work [256];                //  its work endpoint, "" when none
    const char *refusing;           //  why it lends nothing now, or NULL
} s_advert_t;

static void
s_advert_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static void
    s_handle (osmose_mesh_t *self, void *socket);
static void
    s_handle_one (osmose_mesh_t *self, void *socket);

static int64_t
s_now (void)
{
    return zclock_usecs ();
}

//  The endpoint others should use: the setting, else the bound address,
//  with a wildcard host replaced by this host's first LAN address
static void
s_advertised_endpoint (osmose_mesh_t *self, osmose_config_t *config)
{
    const char *advertise = osmose_config_str (config, "mesh/advertise");
    const char *bound = osmose_transport_endpoint (self->transport);
    if (*advertise) {
        snprintf (self->endpoint, sizeof (self->endpoint), "%s", advertise);
        return;
    }
    const char *colon = strrchr (bound, ':');
    if (strncmp (bound, "tcp://0.0.0.0:", 14) != 0 || !colon) {
        snprintf (self->endpoint, sizeof (self->endpoint), "%s", bound);
        return;
    }
    const char *host = "127.0.0.1";
    ziflist_t *interfaces = ziflist_new ();
    if (interfaces && ziflist_first (interfaces))
        host = ziflist_address (interfaces);
    snprintf (self->endpoint, sizeof (self->endpoint), "tcp://%s%s", host, colon);
    ziflist_destroy (&interfaces);
}

static void
s_sign (void *arg, const uint8_t *data, size_t size, uint8_t *signature)
{
    osmose_identity_sign ((osmose_identity_t *) arg, data, size, signature);
}

static void
s_on_change (void *arg, const char *id, int old_state, int new_state)
{
    osmose_mesh_t *self = (osmose_mesh_t *) arg;
    if (self->change_fn && old_state != new_state)
        self->change_fn (self->change_arg, id, old_state, new_state);
    //  A new incarnation of a live member (an advert) is routine: at debug
    //  level, or every advert writes a line on every peer
    if (old_state && old_state == new_state)
        zsys_debug ("osmose: member %s: new record (%s)", id, osmose_member_state_name (new_state));
    else
    if (old_state)
        zsys_info ("osmose: member %s: %s -> %s", id, osmose_member_state_name (old_state),
                   osmose_member_state_name (new_state));
    else
        zsys_info ("osmose: member %s joined (%s)", id, osmose_member_state_name (new_state));
}

//  A connection either way: ours, or the member's into our inbox
static bool
s_linked (void *arg, const char *id)
{
    osmose_mesh_t *self = (osmose_mesh_t *) arg;
    return osmose_transport_reachable (self->transport, id);
}

//  Close least recently used links outside the view until at most LIMIT
//  remain: the bound on open links holds at every moment, not just after
//  housekeeping
static void
s_evict (osmose_mesh_t *self, const char **view, size_t view_size, size_t limit)
{
    while (zhashx_size (self->last_used) > limit) {
        const char *oldest = NULL;
        int64_t oldest_used = INT64_MAX;
        for (int64_t *used = (int64_t *) zhashx_first (self->last_used); used;
             used = (int64_t *) zhashx_next (self->last_used)) {
            const char *id = (const char *) zhashx_cursor (self->last_used);
            bool in_view = false;
            for (size_t index = 0; index < view_size && !in_view; index++)
                in_view = streq (view [index], id);
            if (!in_view && *used < oldest_used) {
                oldest = id;
                oldest_used = *used;
            }
        }
        if (!oldest)
            break;
        char victim [OSMOSE_ID_SIZE + 1];
        snprintf (victim, sizeof (victim), "%s", oldest);
        osmose_transport_disconnect (self->transport, victim);
        zhashx_delete (self->last_used, victim);
    }
}

//  Open (if needed) and use a link to a trusted peer
static int
s_link (osmose_mesh_t *self, const char *id, const char *endpoint, const uint8_t *key)
{
    const osmose_trust_entry_t *trusted = osmose_trust_lookup (self->trust, id);
    if (!trusted || memcmp (trusted->key, key, OSMOSE_KEY_SIZE) != 0)
        return OSMOSE_EUNTRUSTED;
    if (!zhashx_lookup (self->last_used, id)) {
        const char *view [S_MAX_VIEW];
        size_t view_size = osmose_members_active_view (self->members, view, S_MAX_VIEW);
        s_evict (self, view, view_size, view_size + S_EXTRA_LINKS - 1);
    }
    int rc = osmose_transport_connect (self->transport, id, endpoint, key, trusted->z85);
    if (rc == 0) {
        int64_t *used = (int64_t *) zhashx_lookup (self->last_used, id);
        if (!used) {
            used = (int64_t *) malloc (sizeof (int64_t));
            if (!used)
                return OSMOSE_ENOMEM;
            zhashx_insert (self->last_used, id, used);
        }
        *used = s_now ();
    }
    return rc;
}

//  Send to a trusted peer: over a link we have, else back over its link to
//  us (no connection opened for an answer), else over a link we open
static int
s_send (osmose_mesh_t *self, const char *id, const char *endpoint, const uint8_t *key,
        osmose_msg_type_t type, const void *body, size_t size)
{
    if (!osmose_transport_linked (self->transport, id)
    &&  osmose_transport_reachable (self->transport, id)) {
        const osmose_trust_entry_t *trusted = osmose_trust_lookup (self->trust, id);
        if (!trusted)
            return OSMOSE_EUNTRUSTED;
        int rc = osmose_transport_send (self->transport, id, type, body, size);
        if (rc != OSMOSE_ENOTFOUND)
            return rc;
        //  Its link has gone since: open ours
    }
    int rc = s_link (self, id, endpoint, key);
    return rc? rc: osmose_transport_send (self->transport, id, type, body, size);
}

//  Send everything the engine queued
static void
s_flush (osmose_mesh_t *self)
{
    osmose_members_out_t out;
    while (osmose_members_next_out (self->members, &out)) {
        const char *endpoint = out.endpoint;
        const uint8_t *key = out.public_key;
        osmose_member_t member;
        //  A stranger's first message is answered at the endpoint its
        //  signed record gave, once the engine has accepted that record
        if (!*endpoint && osmose_members_lookup (self->members, out.to, &member) == 0) {
            endpoint = member.endpoint;
            key = member.public_key;
        }
        //  A full queue drops the message (the transport counts it); the
        //  protocol tolerates loss, so there is nothing else to do
        if (*endpoint && s_send (self, out.to, endpoint, key, OSMOSE_MSG_MEMBERS,
                                 out.data, out.size) != 0)
            zsys_debug ("osmose: message to %s dropped", out.to);
        free (out.data);
    }
}

//  Keep links to the view; close idle ones beyond it, oldest first
static void
s_housekeeping (osmose_mesh_t *self, int64_t now)
{
    const char *view [S_MAX_VIEW];
    size_t view_size = osmose_members_active_view (self->members, view, S_MAX_VIEW);
    for (size_t index = 0; index < view_size; index++) {
        osmose_member_t member;
        if (osmose_members_lookup (self->members, view [index], &member) == 0)
            (void) s_link (self, member.id, member.endpoint, member.public_key);
    }
    zlistx_t *ids = zhashx_keys (self->last_used);
    for (const char *id = (const char *) zlistx_first (ids); id;
         id = (const char *) zlistx_next (ids)) {
        bool in_view = false;
        for (size_t index = 0; index < view_size && !in_view; index++)
            in_view = streq (view [index], id);
        int64_t *used = (int64_t *) zhashx_lookup (self->last_used, id);
        //  Not yet a member is not gone: a seed we just sent our JOIN to
        //  answers over this link, and closing it loses the answer (the
        //  join then waits for its retry); such a link idles out instead
        osmose_member_t member;
        bool gone = osmose_members_lookup (self->members, id, &member) == 0
                 && (member.state == OSMOSE_MEMBER_DEAD || member.state == OSMOSE_MEMBER_LEFT);
        if (!in_view && (gone || now - *used > S_LINK_IDLE_US)) {
            osmose_transport_disconnect (self->transport, id);
            zhashx_delete (self->last_used, id);
        }
    }
    zlistx_destroy (&ids);
    s_evict (self, view, view_size, view_size + S_EXTRA_LINKS);
}

osmose_mesh_t *
osmose_mesh_new (osmose_config_t *config, osmose_identity_t *identity,
                 osmose_trust_t *trust, const char *name, const char *location,
                 char *error, size_t error_size)
{
    assert (config && identity && trust);
    osmose_mesh_t *self = (osmose_mesh_t *) zmalloc (sizeof (osmose_mesh_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->identity = identity;
    self->trust = trust;
    snprintf (self->location, sizeof (self->location), "%s", location? location: "");
    self->hop_weight_us = osmose_config_int (config, "proximity/topology_weight_us");
    self->last_used = zhashx_new ();
    self->adverts = zhashx_new ();
    if (self->adverts)
        zhashx_set_destructor (self->adverts, s_advert_free);
    self->transport = osmose_transport_new (identity, osmose_config_str (config, "mesh/bind"),
        (size_t) osmose_config_int (config, "mesh/max_frame_bytes"), error, error_size);
    if (!self->last_used || !self->adverts || !self->transport) {
        if (!self->last_used || !self->adverts)
            snprintf (error, error_size, "out of memory");
        osmose_mesh_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->last_used, (zhashx_destructor_fn *) zstr_free);
    for (size_t index = 0; index < osmose_trust_size (trust); index++)
        if (osmose_transport_allow (self->transport, osmose_trust_at (trust, index)->key,
                                    osmose_trust_at (trust, index)->z85)) {
            snprintf (error, error_size, "out of memory");
            osmose_mesh_destroy (&self);
            return NULL;
        }
    s_advertised_endpoint (self, config);

    osmose_members_params_t params;
    osmose_members_params_from_config (&params, config);
    params.sign = s_sign;
    params.sign_arg = identity;
    params.require_signatures = true;
    params.on_change = s_on_change;
    params.change_arg = self;
    params.linked = s_linked;
    params.linked_arg = self;
    osmose_member_info_t info = {
        .endpoint = self->endpoint, .name = name, .location = self->location,
        .public_key = osmose_identity_public (identity)
    };
    self->members = osmose_members_new (osmose_identity_id (identity), &info, &params, s_now ());
    if (!self->members) {
        snprintf (error, error_size, "cannot start membership (bad endpoint '%s'?)",
                  self->endpoint);
        osmose_mesh_destroy (&self);
        return NULL;
    }
    return self;
}

void
osmose_mesh_destroy (osmose_mesh_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_mesh_t *self = *self_p;
        if (self->members) {
            //  Say goodbye so nobody waits for a timeout to notice
            if (osmose_members_leave (self->members, s_now ()) == 0)
                s_flush (self);
            zclock_sleep (50);      //  let the goodbyes leave the queues
            osmose_members_destroy (&self->members);
        }
        osmose_transport_destroy (&self->transport);
        zhashx_destroy (&self->last_used);
        zhashx_destroy (&self->adverts);
        free (self);
        *self_p = NULL;
    }
}

void
osmose_mesh_set_on_change (osmose_mesh_t *self, osmose_mesh_change_fn *fn, void *arg)
{
    assert (self);
    self->change_fn = fn;
    self->change_arg = arg;
}

osmose_members_t *
osmose_mesh_members (osmose_mesh_t *self)
{
    assert (self);
    return self->members;
}

void
osmose_mesh_set_handler (osmose_mesh_t *self, osmose_msg_type_t type,
                         osmose_mesh_handler_fn *handler, void *arg)
{
    assert (self && type > 0 && type < OSMOSE_MSG_TYPE_LIMIT);
    self->routes [type].handler = handler;
    self->routes [type].arg = arg;
}

zsock_t *
osmose_mesh_inbox (osmose_mesh_t *self)
{
    assert (self);
    return osmose_transport_inbox (self->transport);
}

int
osmose_mesh_poll_on (osmose_mesh_t *self, osmose_poller_t *poller)
{
    assert (self);
    return osmose_transport_poll_on (self->transport, poller);
}

bool
osmose_mesh_handle_socket (osmose_mesh_t *self, void *socket)
{
    assert (self);
    if (!socket || !osmose_transport_owns (self->transport, socket))
        return false;
    s_handle (self, socket);
    return true;
}

void
osmose_mesh_handle (osmose_mesh_t *self)
{
    assert (self);
    s_handle (self, osmose_transport_inbox (self->transport));
}

//  The messages waiting on SOCKET (the inbox or a link), up to
//  S_DRAIN_MAX: one poll of every socket per message would cost more than
//  most messages do (a burst of gossip after a commit is dozens). A
//  handler may close a link, so the socket is looked up again each time.
static void
s_handle (osmose_mesh_t *self, void *socket)
{
    for (int count = 0; count < S_DRAIN_MAX; count++) {
        if (count > 0 && (!osmose_transport_owns (self->transport, socket)
                      ||  !(zsock_events (socket) & ZMQ_POLLIN)))
            break;
        s_handle_one (self, socket);
    }
}

//  One message from SOCKET, to the engine or the handler of its type
static void
s_handle_one (osmose_mesh_t *self, void *socket)
{
    char from [OSMOSE_ID_SIZE + 1];
    osmose_msg_type_t type;
    zframe_t *frame = NULL;
    const uint8_t *body;
    size_t size;
    if (osmose_transport_recv_on (self->transport, socket, from, &type, &frame, &body, &size))
        return;                 //  malformed: counted by the transport
    int64_t now = s_now ();
    (void) osmose_members_evidence_up (self->members, from, now);
    if (type == OSMOSE_MSG_MEMBERS)
        (void) osmose_members_receive (self->members, from, body, size, now);
    else
    if (self->routes [type].handler)
        self->routes [type].handler (self->routes [type].arg, from, body, size);
    zframe_destroy (&frame);
    s_flush (self);
}

int
osmose_mesh_timeout (osmose_mesh_t *self)
{
    assert (self);
    int64_t deadline = osmose_members_deadline (self->members);
    if (self->next_housekeeping < deadline)
        deadline = self->next_housekeeping;
    int64_t wait = (deadline - s_now () + 999) / 1000;
    return wait < 0? 0: wait > 1000? 1000: (int) wait;
}

void
osmose_mesh_tick (osmose_mesh_t *self)
{
    assert (self);
    int64_t now = s_now ();
    char dropped [S_MAX_VIEW][OSMOSE_ID_SIZE + 1];
    bool refused [S_MAX_VIEW];
    size_t count = osmose_transport_dropped_links (self->transport, dropped, refused,
                                                   S_MAX_VIEW);
    for (size_t index = 0; index < count; index++)
        if (refused [index])
            (void) osmose_members_evidence_refused (self->members, dropped [index], now);
        else
            (void) osmose_members_evidence_down (self->members, dropped [index], now);
    if (now >= osmose_members_deadline (self->members))
        osmose_members_tick (self->members, now);
    if (now >= self->next_housekeeping) {
        s_housekeeping (self, now);
        self->next_housekeeping = now + S_HOUSEKEEPING_US;
    }
    s_flush (self);
}

int
osmose_mesh_join (osmose_mesh_t *self, const char *id, const char *endpoint)
{
    assert (self);
    const osmose_trust_entry_t *trusted = id? osmose_trust_lookup (self->trust, id): NULL;
    if (!trusted)
        return OSMOSE_EUNTRUSTED;
    if (streq (id, osmose_identity_id (self->identity)))
        return 0;               //  ourselves, e.g. in a shared seed list
    int rc = osmose_members_join (self->members, id, endpoint, trusted->key, s_now ());
    if (rc == 0)
        s_flush (self);
    return rc;
}

int
osmose_mesh_send (osmose_mesh_t *self, const char *id, osmose_msg_type_t type,
                  const void *body, size_t size)
{
    assert (self);
    osmose_member_t member;
    if (!id || osmose_members_lookup (self->members, id, &member) != 0)
        return OSMOSE_ENOTFOUND;
    return s_send (self, id, member.endpoint, member.public_key, type, body, size);
}

int
osmose_mesh_advertise (osmose_mesh_t *self, json_t *advert)
{
    assert (self && advert);
    char *text = json_dumps (advert, JSON_COMPACT | JSON_REAL_PRECISION (6));
    if (!text)
        return OSMOSE_ENOMEM;
    int rc = osmose_members_set_app (self->members, (const uint8_t *) text,
                                     strlen (text), s_now ());
    free (text);
    if (rc == 0)
        s_flush (self);
    return rc;
}

int
osmose_mesh_set_location (osmose_mesh_t *self, const char *location)
{
    assert (self);
    int rc = osmose_members_set_location (self->members, location, s_now ());
    if (rc == 0) {
        snprintf (self->location, sizeof (self->location), "%s", location);
        s_flush (self);
    }
    return rc;
}

size_t
osmose_mesh_view (osmose_mesh_t *self, const char **ids, size_t max)
{
    assert (self);
    return osmose_members_active_view (self->members, ids, max);
}

int
osmose_mesh_set_load (osmose_mesh_t *self, const osmose_resources_load_t *load)
{
    assert (self && load);
    uint8_t pulse [OSMOSE_RESOURCES_PULSE_SIZE];
    osmose_resources_pulse (load, pulse);
    return osmose_members_set_pulse (self->members, pulse, sizeof (pulse), s_now ());
}

//  The advert is the member's own word: parse it, never trust it
static void
s_advert_parse (const osmose_member_t *member, s_advert_t *advert)
{
    json_error_t error;
    json_t *json = member->app_size?
        json_loadb ((const char *) member->app, member->app_size, 0, &error): NULL;
    const char *endpoint = json_string_value (json_object_get (json, "work"));
    advert->incarnation = member->incarnation;
    advert->rc = json && osmose_resources_from_json (json, &advert->resources) == 0?
                 0: OSMOSE_EPROTO;
    snprintf (advert->work, sizeof (advert->work), "%s",
              endpoint && strlen (endpoint) < sizeof (advert->work)? endpoint: "");
    //  Untrusted text: only the names we know, anything else is "policy"
    const char *refusing = json_string_value (json_object_get (json, "refusing"));
    advert->refusing = !json_object_get (json, "refusing")? NULL:
        refusing && streq (refusing, "battery")? "battery":
        refusing && streq (refusing, "load")? "load": "policy";
    json_decref (json);
}

//  MEMBER's advert, parsed at its incarnation; NULL when out of memory
static s_advert_t *
s_advert (osmose_mesh_t *self, const osmose_member_t *member)
{
    s_advert_t *advert = (s_advert_t *) zhashx_lookup (self->adverts, member->id);
    if (!advert || advert->incarnation != member->incarnation) {
        //  Members come and go: forget the lot now and then rather than
        //  track each one's departure
        if (!advert && zhashx_size (self->adverts) > 2 * osmose_members_size (self->members) + 64)
            zhashx_purge (self->adverts);
        if (!advert) {
            advert = (s_advert_t *) zmalloc (sizeof (s_advert_t));
            if (!advert)
                return NULL;
            zhashx_insert (self->adverts, member->id, advert);
        }
        s_advert_parse (member, advert);
    }
    return advert;
}

int
osmose_mesh_member_resources (osmose_mesh_t *self, const osmose_member_t *member,
                              osmose_resources_t *resources, char *work, size_t work_size)
{
    assert (self && member && resources);
    s_advert_t *advert = s_advert (self, member);
    if (!advert)
        return OSMOSE_ENOMEM;
    if (advert->rc)
        return advert->rc;
    if (work && (!*advert->work || strlen (advert->work) >= work_size))
        return OSMOSE_EPROTO;
    if (work)
        snprintf (work, work_size, "%s", advert->work);
    *resources = advert->resources;
    //  Its pulse is newer than the figures it signed
    osmose_resources_load_t heard;
    if (member->pulse_size
    &&  osmose_resources_pulse_read (member->pulse, member->pulse_size, &heard) == 0)
        resources->load = heard;
    return 0;
}

const char *
osmose_mesh_member_refusing (osmose_mesh_t *self, const osmose_member_t *member)
{
    assert (self && member);
    s_advert_t *advert = s_advert (self, member);
    return advert && advert->rc == 0? advert->refusing: NULL;
}

//  One member as the PEERS contract shows it
static json_t *
s_member_json (osmose_mesh_t *self, osmose_member_t *member)
{
    int hops = osmose_location_distance (self->location, member->location);
    json_t *entry = json_pack ("{s:s, s:s, s:s, s:s, s:b, s:s, s:i, s:I, s:i}",
        "id", member->id, "name", member->name, "location", member->location,
        "state", osmose_member_state_name (member->state), "self", member->is_self,
        "endpoint", member->endpoint, "incarnation", (int) member->incarnation,
        "last_heard_ms", (json_int_t) (member->last_heard_us < 0? -1:
                                       (s_now () - member->last_heard_us) / 1000),
        "distance", hops);
    if (!entry)
        return NULL;
    char key [2 * OSMOSE_KEY_SIZE + 1];
    sodium_bin2hex (key, sizeof (key), member->public_key, OSMOSE_KEY_SIZE);
    json_object_set_new (entry, "key", json_string (key));
    int64_t rtt = member->is_self? 0: member->rtt_us;
    json_object_set_new (entry, "rtt_us", rtt >= 0? json_integer (rtt): json_null ());
    int64_t floor = member->is_self? 0: member->rtt_floor_us;
    json_object_set_new (entry, "rtt_floor_us", floor >= 0? json_integer (floor): json_null ());
    json_object_set_new (entry, "score_us", json_integer (
        osmose_proximity_score (rtt >= 0? rtt: 0, hops, self->hop_weight_us)));
    osmose_resources_t resources;
    if (osmose_mesh_member_resources (self, member, &resources, NULL, 0) == 0) {
        osmose_resources_capacity_t *capacity = &resources.capacity;
        json_object_set_new (entry, "resources", json_pack (
            "{s:i, s:i, s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:f, s:s}",
            "cpus", capacity->cpus, "cpus_free", capacity->lease_cpus,
            "cpu_model", capacity->cpu_model,
            "gpus", capacity->gpus, "gpus_free", capacity->lease_gpus,
            "npus", capacity->npus, "npus_free", capacity->lease_npus,
            "memory_mb", (json_int_t) capacity->memory_total_mb,
            "memory_free_mb", (json_int_t) resources.load.memory_free_mb,
            "load", resources.load.load1 / 100.0,
            "power", osmose_resources_power_name (capacity->power)));
        json_object_set_new (json_object_get (entry, "resources"), "battery",
            resources.load.battery_percent >= 0?
                json_integer (resources.load.battery_percent): json_null ());
        const char *refusing = osmose_mesh_member_refusing (self, member);
        json_object_set_new (json_object_get (entry, "resources"), "refusing",
            refusing? json_string (refusing): json_null ());
    }
    return entry;
}

json_t *
osmose_mesh_peers_json (osmose_mesh_t *self)
{
    assert (self);
    json_t *array = json_array ();
    size_t size = osmose_members_size (self->members);
    for (size_t index = 0; array && index < size; index++) {
        osmose_member_t member;
        if (osmose_members_at (self->members, index, &member) == 0)
            json_array_append_new (array, s_member_json (self, &member));
    }
    return array;
}

json_t *
osmose_mesh_status_json (osmose_mesh_t *self)
{
    assert (self);
    int counts [5] = { 0 };
    size_t size = osmose_members_size (self->members);
    for (size_t index = 0; index < size; index++) {
        osmose_member_t member;
        if (osmose_members_at (self->members, index, &member) == 0
        &&  member.state >= OSMOSE_MEMBER_ALIVE && member.state <= OSMOSE_MEMBER_LEFT)
            counts [member.state]++;
    }
    osmose_transport_stats_t transport;
    osmose_transport_stats (self->transport, &transport);
    osmose_members_stats_t members;
    osmose_members_stats (self->members, &members);
    const char *view [S_MAX_VIEW];
    size_t view_size = osmose_members_active_view (self->members, view, S_MAX_VIEW);
    json_t *view_json = json_array ();
    for (size_t index = 0; view_json && index < view_size; index++)
        json_array_append_new (view_json, json_string (view [index]));
    json_t *by_kind = json_object ();
    for (int kind = 1; by_kind && kind < OSMOSE_MEMBERS_KINDS; kind++)
        json_object_set_new (by_kind, osmose_members_kind_name (kind),
                             json_integer ((json_int_t) members.sent_by_kind [kind]));
    json_t *by_type = json_object ();
    for (int type = 1; by_type && type < OSMOSE_MSG_TYPE_LIMIT; type++)
        json_object_set_new (by_type, osmose_msg_type_name (type),
                             json_integer ((json_int_t) transport.bytes_sent_by_type [type]));
    return json_pack ("{s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                      " s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:o, s:o, s:o}",
        "alive", counts [OSMOSE_MEMBER_ALIVE], "suspect", counts [OSMOSE_MEMBER_SUSPECT],
        "dead", counts [OSMOSE_MEMBER_DEAD], "left", counts [OSMOSE_MEMBER_LEFT],
        "links", (int) osmose_transport_links (self->transport),
        "links_opened", (json_int_t) transport.links_opened,
        "msgs_out", (json_int_t) transport.sent, "msgs_in", (json_int_t) transport.received,
        "bytes_out", (json_int_t) transport.bytes_sent,
        "bytes_in", (json_int_t) transport.bytes_received,
        "malformed", (json_int_t) (transport.malformed + members.malformed),
        "send_dropped", (json_int_t) transport.send_dropped,
        "probes", (json_int_t) members.probes,
        "probe_failures", (json_int_t) members.probe_failures,
        "indirect_probes", (json_int_t) members.indirect_probes,
        "suspicions", (json_int_t) members.suspicions,
        "refutations", (json_int_t) members.refutations,
        "syncs", (json_int_t) members.syncs,
        "health", members.health, "bytes_out_by_type", by_type,
        "members_sent", by_kind, "view", view_json);
}

const char *
osmose_mesh_endpoint (osmose_mesh_t *self)
{
    assert (self);
    return self->endpoint;
}

osmose_transport_t *
osmose_mesh_transport (osmose_mesh_t *self)
{
    assert (self);
    return self->transport;
}

//  Self-test: three meshes in one process find each other through one
//  seed; a fourth with an untrusted key is never admitted
//  One round of the test's event loop: what arrived, then the timers
static void
s_test_pump (osmose_mesh_t **meshes, int count, zpoller_t *poller)
{
    void *which = zpoller_wait (poller, 10);
    for (int index = 0; index < count; index++) {
        if (which == osmose_mesh_inbox (meshes [index]))
            osmose_mesh_handle (meshes [index]);
        osmose_mesh_tick (meshes [index]);
    }
}

//  Counts the messages of a type the test routes here
static void
s_test_count (void *arg, const char *from, const uint8_t *body, size_t size)
{
    (*(int *) arg)++;
}

void
osmose_mesh_test (bool verbose)
{
    printf (" * osmose_mesh: ");
    char dir [] = "/tmp/osmose-mesh-test-XXXXXX";
    assert (mkdtemp (dir));
    char path [PATH_MAX], error [256];
    snprintf (path, sizeof (path), "%s/trust", dir);
    osmose_trust_t *trust = NULL;
    assert (osmose_trust_load (path, &trust, error, sizeof (error)) == 0);
    osmose_config_t *config = osmose_config_new_default ();
    assert (osmose_config_set (config, "mesh/bind", "tcp://127.0.0.1:*") == 0);

    //  PEERS trusted peers, an intruder, and a trusted late joiner
    enum { PEERS = 3, LATE = PEERS + 1 };
    osmose_identity_t *identities [LATE + 1];
    osmose_mesh_t *meshes [LATE + 1];
    for (int index = 0; index <= LATE; index++) {
        identities [index] = osmose_identity_new ();
        assert (identities [index]);
        if (index != PEERS)
            assert (osmose_trust_add (trust, osmose_identity_public (identities [index]),
                                      OSMOSE_TRUST_DEVICE, "peer") == 0);
    }
    const char *locations [] = { "hq/f1/r1", "hq/f1/r2", "hq/f2/r1", "hq/f1/r1", "hq/f2/r2" };
    for (int index = 0; index < LATE; index++) {
        meshes [index] = osmose_mesh_new (config, identities [index], trust, "peer",
                                          locations [index], error, sizeof (error));
        assert (meshes [index]);
    }
    //  Everyone knows only peer 0; the intruder knows it too
    for (int index = 1; index <= PEERS; index++)
        assert (osmose_mesh_join (meshes [index], osmose_identity_id (identities [0]),
                                  osmose_mesh_endpoint (meshes [0])) == 0);
    zpoller_t *poller = zpoller_new (NULL);
    for (int index = 0; index < LATE; index++)
        zpoller_add (poller, osmose_mesh_inbox (meshes [index]));
    int64_t deadline = zclock_mono () + 5000;
    bool converged = false;
    while (!converged && zclock_mono () < deadline) {
        s_test_pump (meshes, LATE, poller);
        converged = true;
        for (int index = 0; index < PEERS; index++) {
            json_t *status = osmose_mesh_status_json (meshes [index]);
            converged &= json_integer_value (json_object_get (status, "alive")) == PEERS;
            json_decref (status);
        }
    }
    assert (converged);
    //  The intruder never made it into anyone's table
    json_t *peers = osmose_mesh_peers_json (meshes [0]);
    assert (json_array_size (peers) == PEERS);
    size_t index;
    json_t *entry;
    json_array_foreach (peers, index, entry) {
        assert (!streq (json_string_value (json_object_get (entry, "id")),
                        osmose_identity_id (identities [PEERS])));
        if (streq (json_string_value (json_object_get (entry, "location")), "hq/f1/r2"))
            assert (json_integer_value (json_object_get (entry, "distance")) == 2);
    }
    json_decref (peers);
    if (verbose)
        printf ("(converged) ");

    //  The late joiner, just started, keeps the link its first JOIN went
    //  out on: peer 0 may answer over it. Its first housekeeping used to
    //  close it, peer 0 being no member yet, and a seed too busy to link
    //  back (its view full) lost its answer: the join waited for its retry
    meshes [LATE] = osmose_mesh_new (config, identities [LATE], trust, "peer",
                                     locations [LATE], error, sizeof (error));
    assert (meshes [LATE]);
    zpoller_add (poller, osmose_mesh_inbox (meshes [LATE]));
    assert (osmose_mesh_join (meshes [LATE], osmose_identity_id (identities [0]),
                              osmose_mesh_endpoint (meshes [0])) == 0);
    int64_t join_start = zclock_mono ();
    osmose_mesh_tick (meshes [LATE]);           //  sends the JOIN
    s_housekeeping (meshes [LATE], s_now ());   //  before any answer
    assert (osmose_transport_linked (meshes [LATE]->transport, osmose_identity_id (identities [0])));
    int64_t joined_ms = -1;
    while (joined_ms < 0 && zclock_mono () < join_start + 5000) {
        s_test_pump (meshes, LATE + 1, poller);
        json_t *status = osmose_mesh_status_json (meshes [LATE]);
        if (json_integer_value (json_object_get (status, "alive")) == PEERS + 1)
            joined_ms = zclock_mono () - join_start;
        json_decref (status);
    }
    if (verbose)
        printf ("(late joiner knew all in %" PRId64 " ms) ", joined_ms);
    osmose_members_params_t params;
    osmose_members_params_default (&params);
    assert (joined_ms >= 0 && joined_ms < params.join_retry_ms * 4 / 5);

    //  One wake reads every message waiting on a socket, not one of them
    //  (each poll costs a look at every socket: a burst of a log commit's
    //  gossip would pay it per message)
    int handled = 0;
    osmose_mesh_set_handler (meshes [0], OSMOSE_MSG_TASK, s_test_count, &handled);
    for (int sent = 0; sent < 10; sent++)
        assert (osmose_mesh_send (meshes [1], osmose_identity_id (identities [0]),
                                  OSMOSE_MSG_TASK, "x", 1) == 0);
    zclock_sleep (200);                 //  loopback: all ten are in by now
    osmose_mesh_handle (meshes [0]);
    assert (handled == 10);
    osmose_mesh_set_handler (meshes [0], OSMOSE_MSG_TASK, NULL, NULL);

    //  Peer 1 advertises 4 CPUs, then 2, 3, 1: peer 0 reads each advert once
    //  per incarnation, and the newest, not its cache of the one before.
    //  Why it refuses is untrusted text: only the names we know pass
    const struct { int cpus; const char *refusing; const char *read; } adverts [] = {
        { 4, NULL, NULL }, { 2, "battery", "battery" },
        { 3, "\x1b[2Jpwned", "policy" }, { 1, "", "policy" }
    };
    for (size_t at = 0; at < sizeof (adverts) / sizeof (adverts [0]); at++) {
        int cpus = adverts [at].cpus;
        osmose_resources_t mine;
        memset (&mine, 0, sizeof (mine));
        mine.capacity.cpus = cpus;
        json_t *advert = osmose_resources_json (&mine);
        assert (advert);
        json_object_set_new (advert, "work", json_string ("tcp://127.0.0.1:9"));
        if (adverts [at].refusing)
            json_object_set_new (advert, "refusing", json_string (adverts [at].refusing));
        assert (osmose_mesh_advertise (meshes [1], advert) == 0);
        json_decref (advert);
        osmose_resources_t theirs;
        memset (&theirs, 0, sizeof (theirs));
        char work [64] = "";
        osmose_member_t member;
        deadline = zclock_mono () + 5000;
        while (theirs.capacity.cpus != cpus && zclock_mono () < deadline) {
            s_test_pump (meshes, LATE + 1, poller);
            if (osmose_members_lookup (meshes [0]->members, osmose_identity_id (identities [1]),
                                       &member) == 0
            &&  osmose_mesh_member_resources (meshes [0], &member, &theirs, work,
                                              sizeof (work)) != 0)
                theirs.capacity.cpus = 0;
        }
        assert (theirs.capacity.cpus == cpus && streq (work, "tcp://127.0.0.1:9"));
        const char *refusing = osmose_mesh_member_refusing (meshes [0], &member);
        assert (adverts [at].read? refusing && streq (refusing, adverts [at].read): !refusing);
    }

    zpoller_destroy (&poller);
    for (index = 0; index <= LATE; index++) {
        osmose_mesh_destroy (&meshes [index]);
        osmose_identity_destroy (&identities [index]);
    }
    osmose_config_destroy (&config);
    osmose_trust_destroy (&trust);
    unlink (path);
    assert (rmdir (dir) == 0);
    printf ("OK\n");
}
