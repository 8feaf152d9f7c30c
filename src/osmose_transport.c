/*  osmose_transport.c: CurveZMQ links between peers (osmose_transport.h). */
#include "osmose_prelude.h"
#include "osmose_transport.h"
#include "osmose_zap.h"

#define S_SEND_HWM 10000            //  messages queued per link before dropping
//  ZMTP heartbeats find a silent link (a crash that resets TCP is seen at
//  once anyway); every heartbeat wakes two processes, so not too often
#define S_HEARTBEAT_IVL 1000        //  ms
#define S_HEARTBEAT_TIMEOUT 3000

typedef struct {
    zsock_t *socket;                //  DEALER to the peer's inbox
    zsock_t *monitor;               //  PAIR: the socket's disconnect events
    char *endpoint;
} s_link_t;

struct _osmose_transport_t {
    osmose_identity_t *identity;    //  borrowed
    zcert_t *cert;                  //  our CurveZMQ certificate
    osmose_zap_t *zap;
    zsock_t *inbox;                 //  ROUTER, curve server
    char endpoint [256];
    size_t max_frame;
    zhashx_t *links;                //  peer id -> s_link_t
    osmose_transport_stats_t stats;
};

static void
s_link_destroy (s_link_t **self_p)
{
    if (*self_p) {
        //  Stop the monitor before closing either socket
        if ((*self_p)->socket)
            zmq_socket_monitor (zsock_resolve ((*self_p)->socket), NULL, 0);
        zsock_destroy (&(*self_p)->monitor);
        zsock_destroy (&(*self_p)->socket);
        free ((*self_p)->endpoint);
        free (*self_p);
        *self_p = NULL;
    }
}

osmose_transport_t *
osmose_transport_new (osmose_identity_t *identity, const char *endpoint,
                      size_t max_frame, char *error, size_t error_size)
{
    assert (identity && endpoint);
    osmose_transport_t *self = (osmose_transport_t *) zmalloc (sizeof (osmose_transport_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->identity = identity;
    self->max_frame = max_frame;
    self->cert = osmose_identity_cert (identity);
    self->zap = osmose_zap_acquire ();
    self->inbox = zsock_new (ZMQ_ROUTER);
    self->links = zhashx_new ();
    if (!self->cert || !self->zap || !self->inbox || !self->links) {
        snprintf (error, error_size, "cannot set up the transport (out of memory?)");
        osmose_transport_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->links, (zhashx_destructor_fn *) s_link_destroy);
    //  libzmq cuts a connection that sends more than this; between the
    //  frame limit and this we drop and count, so the limit is visible
    zsock_set_maxmsgsize (self->inbox, (int64_t) max_frame * 2 + OSMOSE_MSG_HEADER);
    zsock_set_zap_domain (self->inbox, osmose_identity_id (identity));
    zsock_set_curve_server (self->inbox, 1);
    zcert_apply (self->cert, self->inbox);
    zsock_set_router_handover (self->inbox, 1);
    zsock_set_rcvhwm (self->inbox, 100000);
    int port = zsock_bind (self->inbox, "%s", endpoint);
    if (port < 0) {
        snprintf (error, error_size, "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        osmose_transport_destroy (&self);
        return NULL;
    }
    //  The resolved endpoint (with the port the system chose); caller frees
    char *last = zsock_last_endpoint (self->inbox);
    snprintf (self->endpoint, sizeof (self->endpoint), "%s", last? last: endpoint);
    zstr_free (&last);
    return self;
}

void
osmose_transport_destroy (osmose_transport_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_transport_t *self = *self_p;
        zhashx_destroy (&self->links);
        zsock_destroy (&self->inbox);
        if (self->zap) {
            osmose_zap_drop (self->zap, osmose_identity_id (self->identity));
            osmose_zap_release (&self->zap);
        }
        zcert_destroy (&self->cert);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
osmose_transport_inbox (osmose_transport_t *self)
{
    assert (self);
    return self->inbox;
}

const char *
osmose_transport_endpoint (osmose_transport_t *self)
{
    assert (self);
    return self->endpoint;
}

int
osmose_transport_allow (osmose_transport_t *self, const uint8_t *key)
{
    assert (self);
    char z85 [41], id [OSMOSE_ID_SIZE + 1];
    if (osmose_identity_curve_z85 (key, z85))
        return OSMOSE_EINVAL;
    osmose_identity_id_of (key, id);
    return osmose_zap_allow (self->zap, osmose_identity_id (self->identity), z85, id);
}

void
osmose_transport_deny (osmose_transport_t *self, const uint8_t *key)
{
    assert (self);
    char z85 [41];
    if (osmose_identity_curve_z85 (key, z85) == 0)
        osmose_zap_deny (self->zap, osmose_identity_id (self->identity), z85);
}

int
osmose_transport_connect (osmose_transport_t *self, const char *id,
                          const char *endpoint, const uint8_t *key)
{
    assert (self);
    char z85 [41];
    if (!id || !endpoint || osmose_identity_curve_z85 (key, z85))
        return OSMOSE_EINVAL;
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, id);
    if (link && streq (link->endpoint, endpoint))
        return 0;
    if (link)
        zhashx_delete (self->links, id);
    link = (s_link_t *) zmalloc (sizeof (s_link_t));
    if (!link || !(link->endpoint = strdup (endpoint))
    ||  !(link->socket = zsock_new (ZMQ_DEALER))) {
        s_link_destroy (&link);
        return OSMOSE_ENOMEM;
    }
    zcert_apply (self->cert, link->socket);
    zsock_set_curve_serverkey (link->socket, z85);
    zsock_set_sndhwm (link->socket, S_SEND_HWM);
    zsock_set_sndtimeo (link->socket, 0);
    zsock_set_linger (link->socket, 0);
    zsock_set_immediate (link->socket, 0);
    zsock_set_heartbeat_ivl (link->socket, S_HEARTBEAT_IVL);
    zsock_set_heartbeat_timeout (link->socket, S_HEARTBEAT_TIMEOUT);
    zsock_set_reconnect_ivl (link->socket, 100);
    zsock_set_reconnect_ivl_max (link->socket, 2000);
    //  Disconnects are evidence for the failure detector: a crash that
    //  resets TCP is seen at once, silence within the heartbeat timeout
    char monitor [64];
    snprintf (monitor, sizeof (monitor), "inproc://osmose-link-%p", (void *) link);
    if (zmq_socket_monitor (zsock_resolve (link->socket), monitor,
                            ZMQ_EVENT_DISCONNECTED) == 0)
        link->monitor = zsock_new_pair (monitor);
    if (zsock_connect (link->socket, "%s", endpoint) != 0) {
        s_link_destroy (&link);
        return OSMOSE_EINVAL;
    }
    zhashx_insert (self->links, id, link);
    return 0;
}

void
osmose_transport_disconnect (osmose_transport_t *self, const char *id)
{
    assert (self);
    if (id)
        zhashx_delete (self->links, id);
}

bool
osmose_transport_linked (osmose_transport_t *self, const char *id)
{
    assert (self);
    return id && zhashx_lookup (self->links, id) != NULL;
}

size_t
osmose_transport_links (osmose_transport_t *self)
{
    assert (self);
    return zhashx_size (self->links);
}

size_t
osmose_transport_dropped_links (osmose_transport_t *self, char (*ids) [OSMOSE_ID_SIZE + 1],
                                size_t max)
{
    assert (self);
    size_t count = 0;
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links)) {
        bool dropped = false;
        //  Each event is two frames: event number and value, then address
        while (link->monitor && zsock_events (link->monitor) & ZMQ_POLLIN) {
            zmsg_t *event = zmsg_recv (link->monitor);
            zmsg_destroy (&event);
            dropped = true;
        }
        if (dropped && count < max)
            snprintf (ids [count++], OSMOSE_ID_SIZE + 1, "%s",
                      (const char *) zhashx_cursor (self->links));
    }
    return count;
}

int
osmose_transport_send (osmose_transport_t *self, const char *id,
                       osmose_msg_type_t type, const void *body, size_t size)
{
    assert (self);
    s_link_t *link = id? (s_link_t *) zhashx_lookup (self->links, id): NULL;
    if (!link)
        return OSMOSE_ENOTFOUND;
    zframe_t *frame = NULL;
    int rc = osmose_msg_encode (type, body, size, &frame);
    if (rc)
        return rc;
    size_t bytes = zframe_size (frame);
    if (zframe_send (&frame, link->socket, ZFRAME_DONTWAIT) != 0) {
        zframe_destroy (&frame);
        self->stats.send_dropped++;
        return OSMOSE_EBUSY;
    }
    self->stats.sent++;
    self->stats.bytes_sent += bytes;
    return 0;
}

int
osmose_transport_recv (osmose_transport_t *self, char *from,
                       osmose_msg_type_t *type_p, zframe_t **frame_p,
                       const uint8_t **body_p, size_t *size_p)
{
    assert (self && from && type_p && frame_p && body_p && size_p);
    *frame_p = NULL;
    zmsg_t *msg = zmsg_recv (self->inbox);
    if (!msg)
        return OSMOSE_ECANCELED;
    zframe_t *routing = zmsg_pop (msg);
    zframe_t *frame = zmsg_pop (msg);
    int rc = OSMOSE_EPROTO;
    //  Exactly one frame after the routing id, from an admitted peer
    const char *user = frame? zframe_meta (frame, "User-Id"): NULL;
    if (routing && frame && zmsg_size (msg) == 0 && user
    &&  strlen (user) == OSMOSE_ID_SIZE) {
        self->stats.bytes_received += zframe_size (frame);
        rc = osmose_msg_decode (zframe_data (frame), zframe_size (frame),
                                self->max_frame, type_p, body_p, size_p);
        if (rc == 0) {
            memcpy (from, user, OSMOSE_ID_SIZE + 1);
            *frame_p = frame;
            frame = NULL;
            self->stats.received++;
        }
    }
    if (rc)
        self->stats.malformed++;
    zframe_destroy (&routing);
    zframe_destroy (&frame);
    zmsg_destroy (&msg);
    return rc;
}

void
osmose_transport_stats (osmose_transport_t *self, osmose_transport_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
}

uint64_t
osmose_transport_refusals (osmose_transport_t *self, char *last_z85)
{
    assert (self);
    return osmose_zap_refusals (self->zap, osmose_identity_id (self->identity),
                                last_z85, NULL);
}

void
osmose_transport_test (bool verbose)
{
    printf (" * osmose_transport: ");
    char error [256];
    osmose_identity_t *alice = osmose_identity_new ();
    osmose_identity_t *bob = osmose_identity_new ();
    osmose_identity_t *mallory = osmose_identity_new ();
    osmose_transport_t *a = osmose_transport_new (alice, "tcp://127.0.0.1:*", 4096,
                                                  error, sizeof (error));
    osmose_transport_t *b = osmose_transport_new (bob, "tcp://127.0.0.1:*", 4096,
                                                  error, sizeof (error));
    osmose_transport_t *m = osmose_transport_new (mallory, "tcp://127.0.0.1:*", 1 << 20,
                                                  error, sizeof (error));
    assert (a && b && m);
    assert (strncmp (osmose_transport_endpoint (a), "tcp://127.0.0.1:", 16) == 0);
    assert (osmose_transport_allow (b, osmose_identity_public (alice)) == 0);

    //  Alice reaches Bob; Bob learns it is Alice from the handshake
    assert (osmose_transport_connect (a, osmose_identity_id (bob), osmose_transport_endpoint (b),
                                      osmose_identity_public (bob)) == 0);
    assert (osmose_transport_links (a) == 1);
    assert (osmose_transport_send (a, osmose_identity_id (bob), OSMOSE_MSG_MEMBERS, "ping", 4) == 0);
    assert (osmose_transport_send (a, "nobody", OSMOSE_MSG_MEMBERS, "ping", 4) == OSMOSE_ENOTFOUND);
    zpoller_t *poller = zpoller_new (osmose_transport_inbox (b), NULL);
    assert (zpoller_wait (poller, 3000) == osmose_transport_inbox (b));
    char from [OSMOSE_ID_SIZE + 1];
    osmose_msg_type_t type;
    zframe_t *frame;
    const uint8_t *body;
    size_t size;
    assert (osmose_transport_recv (b, from, &type, &frame, &body, &size) == 0);
    assert (streq (from, osmose_identity_id (alice)));
    assert (type == OSMOSE_MSG_MEMBERS && size == 4 && memcmp (body, "ping", 4) == 0);
    zframe_destroy (&frame);

    //  An oversized frame is dropped and counted, and the link survives
    uint8_t *big = (uint8_t *) calloc (1, 6000);
    assert (osmose_transport_send (a, osmose_identity_id (bob), OSMOSE_MSG_FEED, big, 6000) == 0);
    free (big);
    assert (zpoller_wait (poller, 3000) == osmose_transport_inbox (b));
    assert (osmose_transport_recv (b, from, &type, &frame, &body, &size) == OSMOSE_ETOOBIG);
    assert (osmose_transport_send (a, osmose_identity_id (bob), OSMOSE_MSG_FEED, "ok", 2) == 0);
    assert (zpoller_wait (poller, 3000) == osmose_transport_inbox (b));
    assert (osmose_transport_recv (b, from, &type, &frame, &body, &size) == 0);
    zframe_destroy (&frame);
    osmose_transport_stats_t stats;
    osmose_transport_stats (b, &stats);
    assert (stats.received == 2 && stats.malformed == 1);

    //  Mallory is not trusted: nothing arrives and Bob sees a refusal
    assert (osmose_transport_connect (m, osmose_identity_id (bob), osmose_transport_endpoint (b),
                                      osmose_identity_public (bob)) == 0);
    assert (osmose_transport_send (m, osmose_identity_id (bob), OSMOSE_MSG_MEMBERS, "hi", 2) == 0);
    assert (zpoller_wait (poller, 500) == NULL);
    char last_z85 [41];
    int64_t deadline = zclock_mono () + 3000;
    uint64_t refusals = 0;
    while (refusals == 0 && zclock_mono () < deadline) {
        refusals = osmose_transport_refusals (b, last_z85);
        if (!refusals)
            zclock_sleep (20);
    }
    assert (refusals >= 1);
    char mallory_z85 [41];
    assert (osmose_identity_curve_z85 (osmose_identity_public (mallory), mallory_z85) == 0);
    assert (streq (last_z85, mallory_z85));

    //  A client that expects another server key is not fooled by Mallory
    assert (osmose_transport_allow (m, osmose_identity_public (alice)) == 0);
    assert (osmose_transport_connect (a, "fake-bob", osmose_transport_endpoint (m),
                                      osmose_identity_public (bob)) == 0);
    assert (osmose_transport_send (a, "fake-bob", OSMOSE_MSG_MEMBERS, "secret", 6) == 0);
    zpoller_t *mallory_poller = zpoller_new (osmose_transport_inbox (m), NULL);
    assert (zpoller_wait (mallory_poller, 500) == NULL);
    zpoller_destroy (&mallory_poller);
    osmose_transport_disconnect (a, "fake-bob");
    assert (!osmose_transport_linked (a, "fake-bob"));

    zpoller_destroy (&poller);
    osmose_transport_destroy (&m);
    osmose_transport_destroy (&b);
    osmose_transport_destroy (&a);
    osmose_identity_destroy (&alice);
    osmose_identity_destroy (&bob);
    osmose_identity_destroy (&mallory);
    printf ("OK\n");
}
