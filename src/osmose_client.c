/*  osmose_client.c: the program's side of the local API (osmose.h).

    A DEALER socket to the daemon's ROUTER; each request carries a sequence
    number so a reply that arrives after its request timed out is recognised
    and dropped rather than mistaken for the answer to the next request.
*/
#include "osmose_prelude.h"
#include "osmose_client.h"
#include <sys/stat.h>

struct _osmose_t {
    zsock_t *socket;            //  DEALER to osmosed
    char *endpoint;
    uint64_t sequence;
    int timeout_ms;
};

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
    if (!self->socket || !self->endpoint) {
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
        zsock_destroy (&self->socket);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

const char *
osmose_client_endpoint (osmose_t *self)
{
    assert (self);
    return self->endpoint;
}

int
osmose_client_call (osmose_t *self, const char *command, json_t *arguments,
                    json_t **reply_p)
{
    if (!self || !command || !reply_p)
        return OSMOSE_EINVAL;
    *reply_p = NULL;
    char sequence [24];
    snprintf (sequence, sizeof (sequence), "%" PRIu64, ++self->sequence);
    char *text = arguments? json_dumps (arguments, JSON_COMPACT): strdup ("{}");
    if (!text)
        return OSMOSE_ENOMEM;
    int rc = zstr_sendx (self->socket, sequence, command, text, NULL);
    free (text);
    if (rc)
        return OSMOSE_EDAEMON;

    int64_t deadline = zclock_mono () + self->timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return OSMOSE_ETIMEDOUT;
        zsock_set_rcvtimeo (self->socket, (int) left);
        zmsg_t *msg = zmsg_recv (self->socket);
        if (!msg)
            return zsys_interrupted? OSMOSE_ECANCELED: OSMOSE_ETIMEDOUT;
        char *got_sequence = zmsg_popstr (msg);
        char *code = zmsg_popstr (msg);
        char *body = zmsg_popstr (msg);
        zmsg_destroy (&msg);
        bool ours = got_sequence && streq (got_sequence, sequence);
        if (ours) {
            json_error_t error;
            *reply_p = body? json_loads (body, 0, &error): NULL;
            rc = code && *reply_p? atoi (code): OSMOSE_EPROTO;
        }
        zstr_free (&got_sequence);
        zstr_free (&code);
        zstr_free (&body);
        if (ours)
            return rc;
    }
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
