/*  osmose_client.c: the program's side of the local API (osmose.h).

    A DEALER socket to the daemon's ROUTER; each request carries a sequence
    number so a reply that arrives after its request timed out is recognised
    and dropped rather than mistaken for the answer to the next request.
*/
#include "osmose_prelude.h"
#include "osmose_client.h"
#include <sys/stat.h>

//  A request sent with osmose_client_send, and its reply once it came
typedef struct {
    bool arrived;
    int code;
    json_t *reply;
    void *attachment;
    osmose_client_free_fn *free_fn;
} s_pending_t;

struct _osmose_t {
    zsock_t *socket;            //  DEALER to osmosed
    char *endpoint;
    uint64_t sequence;
    int timeout_ms;
    zhashx_t *pending;          //  sequence text -> s_pending_t
    void *leases;               //  the lease library's state for this handle
    osmose_client_free_fn *leases_free;
};

static void
s_pending_destroy (s_pending_t **self_p)
{
    if (*self_p) {
        json_decref ((*self_p)->reply);
        if ((*self_p)->attachment && (*self_p)->free_fn)
            (*self_p)->free_fn (&(*self_p)->attachment);
        free (*self_p);
        *self_p = NULL;
    }
}

static const char *
s_default_endpoint (void)
{
    const char *endpoint = getenv ("OSMOSE_ENDPOINT");
    return endpoint && *endpoint? endpoint: OSMOSE_DEFAULT_ENDPOINT;
}

int
osmose_connect (const char *endpoint, int timeout_ms, osmose_t **self_p)
{
    if (!self_p || timeout_ms < 0)
        return OSMOSE_EINVAL;
    *self_p = NULL;
    if (!endpoint)
        endpoint = s_default_endpoint ();
    //  libzmq would wait quietly for an ipc socket that does not exist
    struct stat st;
    if (strncmp (endpoint, "ipc://", 6) == 0 && stat (endpoint + 6, &st) != 0)
        return OSMOSE_EDAEMON;

    osmose_t *self = (osmose_t *) zmalloc (sizeof (osmose_t));
    if (!self)
        return OSMOSE_ENOMEM;
    self->socket = zsock_new (ZMQ_DEALER);
    self->endpoint = strdup (endpoint);
    self->timeout_ms = timeout_ms;
    self->pending = zhashx_new ();
    if (self->pending)
        zhashx_set_destructor (self->pending, (zhashx_destructor_fn *) s_pending_destroy);
    if (!self->socket || !self->endpoint || !self->pending) {
        osmose_disconnect (&self);
        return OSMOSE_ENOMEM;
    }
    zsock_set_linger (self->socket, 0);
    zsock_set_sndtimeo (self->socket, timeout_ms);
    if (zsock_connect (self->socket, "%s", endpoint) < 0) {
        osmose_disconnect (&self);
        return OSMOSE_EINVAL;
    }
    json_t *reply = NULL;
    int rc = osmose_client_call (self, "PING", NULL, &reply);
    json_decref (reply);
    if (rc == OSMOSE_ETIMEDOUT)
        rc = OSMOSE_EDAEMON;
    if (rc) {
        osmose_disconnect (&self);
        return rc;
    }
    *self_p = self;
    return 0;
}

void
osmose_disconnect (osmose_t **self_p)
{
    if (self_p && *self_p) {
        osmose_t *self = *self_p;
        if (self->leases && self->leases_free)
            self->leases_free (&self->leases);
        zsock_destroy (&self->socket);
        zhashx_destroy (&self->pending);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

void **
osmose_client_leases (osmose_t *self, osmose_client_free_fn *free_fn)
{
    assert (self);
    self->leases_free = free_fn;
    return &self->leases;
}

const char *
osmose_client_endpoint (osmose_t *self)
{
    assert (self);
    return self->endpoint;
}

static int
s_send (osmose_t *self, const char *command, json_t *arguments, uint64_t *sequence_p)
{
    char sequence [24];
    snprintf (sequence, sizeof (sequence), "%" PRIu64, ++self->sequence);
    char *text = arguments? json_dumps (arguments, JSON_COMPACT): strdup ("{}");
    if (!text)
        return OSMOSE_ENOMEM;
    int rc = zstr_sendx (self->socket, sequence, command, text, NULL);
    free (text);
    if (rc)
        return OSMOSE_EDAEMON;
    *sequence_p = self->sequence;
    return 0;
}

//  Read replies until the one for SEQUENCE; replies to other pending
//  requests are kept for their own wait, stale ones dropped
static int
s_wait (osmose_t *self, uint64_t sequence, int timeout_ms, json_t **reply_p)
{
    char wanted [24];
    snprintf (wanted, sizeof (wanted), "%" PRIu64, sequence);
    int64_t deadline = zclock_mono () + timeout_ms;
    //  A wait of 0 still reads what has already arrived, once
    for (bool first = true; ; first = false) {
        int64_t left = deadline - zclock_mono ();
        if (left < 0 || (left == 0 && !first))
            return OSMOSE_ETIMEDOUT;
        if (left == 0 && timeout_ms > 0)
            return OSMOSE_ETIMEDOUT;
        zsock_set_rcvtimeo (self->socket, (int) left);
        zmsg_t *msg = zmsg_recv (self->socket);
        if (!msg)
            return zsys_interrupted? OSMOSE_ECANCELED: OSMOSE_ETIMEDOUT;
        char *got_sequence = zmsg_popstr (msg);
        char *code = zmsg_popstr (msg);
        char *body = zmsg_popstr (msg);
        zmsg_destroy (&msg);
        json_error_t error;
        json_t *reply = body? json_loads (body, 0, &error): NULL;
        int rc = code && reply? atoi (code): OSMOSE_EPROTO;
        bool ours = got_sequence && streq (got_sequence, wanted);
        s_pending_t *other = got_sequence && !ours?
            (s_pending_t *) zhashx_lookup (self->pending, got_sequence): NULL;
        if (other && !other->arrived) {
            other->arrived = true;
            other->code = rc;
            other->reply = reply;
            reply = NULL;
        }
        zstr_free (&got_sequence);
        zstr_free (&code);
        zstr_free (&body);
        if (ours) {
            *reply_p = reply;
            return rc;
        }
        json_decref (reply);
    }
}

int
osmose_client_call (osmose_t *self, const char *command, json_t *arguments,
                    json_t **reply_p)
{
    if (!self || !command || !reply_p)
        return OSMOSE_EINVAL;
    *reply_p = NULL;
    uint64_t sequence;
    int rc = s_send (self, command, arguments, &sequence);
    return rc? rc: s_wait (self, sequence, self->timeout_ms, reply_p);
}

int
osmose_client_send (osmose_t *self, const char *command, json_t *arguments,
                    void *attachment, osmose_client_free_fn *free_fn,
                    uint64_t *sequence_p)
{
    if (!self || !command || !sequence_p)
        return OSMOSE_EINVAL;
    s_pending_t *pending = (s_pending_t *) zmalloc (sizeof (s_pending_t));
    if (!pending)
        return OSMOSE_ENOMEM;
    int rc = s_send (self, command, arguments, sequence_p);
    if (rc) {
        free (pending);
        return rc;
    }
    pending->attachment = attachment;
    pending->free_fn = free_fn;
    char key [24];
    snprintf (key, sizeof (key), "%" PRIu64, *sequence_p);
    zhashx_insert (self->pending, key, pending);
    return 0;
}

int
osmose_client_wait (osmose_t *self, uint64_t sequence, int timeout_ms, json_t **reply_p,
                    void **attachment_p)
{
    if (!self || !reply_p || !attachment_p || timeout_ms < 0)
        return OSMOSE_EINVAL;
    *reply_p = NULL;
    *attachment_p = NULL;
    char key [24];
    snprintf (key, sizeof (key), "%" PRIu64, sequence);
    s_pending_t *pending = (s_pending_t *) zhashx_lookup (self->pending, key);
    if (!pending)
        return OSMOSE_ENOTFOUND;
    int rc;
    if (pending->arrived) {
        rc = pending->code;
        *reply_p = pending->reply;
        pending->reply = NULL;
    }
    else {
        rc = s_wait (self, sequence, timeout_ms, reply_p);
        if (rc == OSMOSE_ETIMEDOUT)
            return rc;          //  still pending
    }
    *attachment_p = pending->attachment;
    pending->attachment = NULL;
    zhashx_delete (self->pending, key);
    return rc;
}

//  Run COMMAND and hand its JSON reply back as text the caller owns
static int
s_call_text (osmose_t *self, const char *command, char **json_p)
{
    if (!json_p)
        return OSMOSE_EINVAL;
    *json_p = NULL;
    json_t *reply = NULL;
    int rc = osmose_client_call (self, command, NULL, &reply);
    if (rc == 0) {
        *json_p = json_dumps (reply, JSON_COMPACT);
        if (!*json_p)
            rc = OSMOSE_ENOMEM;
    }
    json_decref (reply);
    return rc;
}

int
osmose_status_json (osmose_t *self, char **json_p)
{
    return s_call_text (self, "STATUS", json_p);
}

int
osmose_peers_json (osmose_t *self, char **json_p)
{
    return s_call_text (self, "PEERS", json_p);
}

void
osmose_free (void *ptr)
{
    free (ptr);
}

static int
s_test_ping (void *arg, json_t *request, json_t **reply)
{
    *reply = json_pack ("{s:s}", "pong", "yes");
    return 0;
}

//  The test plays daemon from a second thread: an actor around the API
static void
s_test_daemon (zsock_t *pipe, void *endpoint)
{
    char error [256];
    osmose_api_t *api = osmose_api_new ((const char *) endpoint, error, sizeof (error));
    assert (api);
    assert (osmose_api_register (api, "PING", s_test_ping, NULL) == 0);
    assert (osmose_api_register (api, "STATUS", s_test_ping, NULL) == 0);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, osmose_api_socket (api), NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe || !which)
            break;
        osmose_api_handle (api);
    }
    zpoller_destroy (&poller);
    osmose_api_destroy (&api);
}

void
osmose_client_test (bool verbose)
{
    printf (" * osmose_client: ");
    char endpoint [80];
    snprintf (endpoint, sizeof (endpoint), "ipc:///tmp/osmose-client-test-%d.sock", getpid ());

    //  No daemon: a clear error, quickly
    osmose_t *client = NULL;
    assert (osmose_connect (endpoint, 200, &client) == OSMOSE_EDAEMON);
    assert (client == NULL);
    assert (osmose_connect ("tcp://127.0.0.1:1", 200, &client) == OSMOSE_EDAEMON);
    assert (osmose_connect (endpoint, -1, &client) == OSMOSE_EINVAL);

    zactor_t *daemon = zactor_new (s_test_daemon, endpoint);
    assert (daemon);
    assert (osmose_connect (endpoint, 2000, &client) == 0);
    char *json = NULL;
    assert (osmose_status_json (client, &json) == 0);
    assert (streq (json, "{\"pong\":\"yes\"}"));
    osmose_free (json);
    //  Unknown commands are reported, not fatal
    assert (osmose_peers_json (client, &json) == OSMOSE_ENOTSUP);
    assert (json == NULL);
    osmose_disconnect (&client);
    osmose_disconnect (&client);
    zactor_destroy (&daemon);
    printf ("OK\n");
}
