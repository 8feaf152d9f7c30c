/*  osmose_api.c: local request/reply API of osmosed (see osmose_api.h). */
#include "osmose_prelude.h"
#include "osmose_api.h"
#include <sys/stat.h>

#define S_MAX_REQUEST (1 << 20)         //  larger requests are malformed

typedef struct {
    osmose_api_fn *handler;
    void *arg;
} s_route_t;

struct _osmose_api_pending_t {
    zframe_t *address;
    zframe_t *sequence;
};

struct _osmose_api_t {
    zsock_t *socket;            //  ROUTER
    zframe_t **current_address; //  of the request in a handler, for defer
    zframe_t **current_sequence;
    zhashx_t *routes;           //  command -> s_route_t
    char *ipc_path;             //  socket file we made, removed on destroy
    uint64_t requests;
    uint64_t malformed;
};

//  For ipc://, make the directory and remove a stale socket file
static int
s_prepare_ipc (const char *endpoint, char **path_p)
{
    if (strncmp (endpoint, "ipc://", 6) != 0)
        return 0;
    const char *path = endpoint + 6;
    char *dir = strdup (path);
    if (!dir)
        return OSMOSE_ENOMEM;
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (zsys_dir_create ("%s", dir) != 0) {
            free (dir);
            return OSMOSE_EIO;
        }
    }
    free (dir);
    //  A socket file left by a crashed daemon blocks nothing in libzmq, but
    //  a live one means another daemon: refuse to steal its clients
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    if (probe) {
        zsock_set_sndtimeo (probe, 0);
        zsock_set_linger (probe, 0);
        struct stat st;
        bool live = false;
        if (stat (path, &st) == 0 && S_ISSOCK (st.st_mode)) {
            int fd = socket (AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un addr = { .sun_family = AF_UNIX };
            snprintf (addr.sun_path, sizeof (addr.sun_path), "%s", path);
            if (fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof (addr)) == 0)
                live = true;
            if (fd >= 0)
                close (fd);
            if (!live)
                unlink (path);
        }
        zsock_destroy (&probe);
        if (live)
            return OSMOSE_ELOCKED;
    }
    *path_p = strdup (path);
    return 0;
}

osmose_api_t *
osmose_api_new (const char *endpoint, char *error, size_t error_size)
{
    assert (endpoint);
    osmose_api_t *self = (osmose_api_t *) zmalloc (sizeof (osmose_api_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    int rc = s_prepare_ipc (endpoint, &self->ipc_path);
    if (rc) {
        snprintf (error, error_size, "%s: %s", endpoint,
                  rc == OSMOSE_ELOCKED? "another osmosed is already listening there"
                                      : osmose_strerror (rc));
        free (self);
        return NULL;
    }
    self->socket = zsock_new (ZMQ_ROUTER);
    self->routes = zhashx_new ();
    if (!self->socket || !self->routes) {
        snprintf (error, error_size, "out of memory");
        osmose_api_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->routes, (zhashx_destructor_fn *) zstr_free);
    zsock_set_router_handover (self->socket, 1);
    zsock_set_maxmsgsize (self->socket, S_MAX_REQUEST);
    zsock_set_sndtimeo (self->socket, 0);
    if (zsock_bind (self->socket, "%s", endpoint) < 0) {
        snprintf (error, error_size, "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        osmose_api_destroy (&self);
        return NULL;
    }
    return self;
}

void
osmose_api_destroy (osmose_api_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_api_t *self = *self_p;
        zsock_destroy (&self->socket);
        zhashx_destroy (&self->routes);
        if (self->ipc_path) {
            unlink (self->ipc_path);
            free (self->ipc_path);
        }
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
osmose_api_socket (osmose_api_t *self)
{
    assert (self);
    return self->socket;
}

int
osmose_api_register (osmose_api_t *self, const char *command,
                     osmose_api_fn *handler, void *arg)
{
    assert (self && command && handler);
    if (zhashx_lookup (self->routes, command))
        return OSMOSE_EEXIST;
    s_route_t *route = (s_route_t *) zmalloc (sizeof (s_route_t));
    if (!route)
        return OSMOSE_ENOMEM;
    route->handler = handler;
    route->arg = arg;
    zhashx_insert (self->routes, command, route);
    return 0;
}

osmose_api_pending_t *
osmose_api_defer (osmose_api_t *self)
{
    assert (self && self->current_address && self->current_sequence);
    osmose_api_pending_t *pending = (osmose_api_pending_t *) zmalloc (sizeof (*pending));
    if (!pending)
        return NULL;
    pending->address = *self->current_address;
    pending->sequence = *self->current_sequence;
    *self->current_address = NULL;
    *self->current_sequence = NULL;
    return pending;
}

void
osmose_api_pending_destroy (osmose_api_pending_t **pending_p)
{
    if (pending_p && *pending_p) {
        zframe_destroy (&(*pending_p)->address);
        zframe_destroy (&(*pending_p)->sequence);
        free (*pending_p);
        *pending_p = NULL;
    }
}

static void
s_reply (osmose_api_t *self, zframe_t **address_p, zframe_t **sequence_p,
         int code, json_t *body)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, address_p);
    zmsg_append (reply, sequence_p);
    zmsg_addstrf (reply, "%d", code);
    char *text = body? json_dumps (body, JSON_COMPACT): NULL;
    zmsg_addstr (reply, text? text: "{}");
    free (text);
    //  A client that went away is not our problem: drop, never block
    zmsg_send (&reply, self->socket);
    zmsg_destroy (&reply);
}

void
osmose_api_answer (osmose_api_t *self, osmose_api_pending_t **pending_p,
                   int code, json_t *body)
{
    assert (self);
    if (pending_p && *pending_p) {
        s_reply (self, &(*pending_p)->address, &(*pending_p)->sequence, code, body);
        osmose_api_pending_destroy (pending_p);
    }
}

void
osmose_api_handle (osmose_api_t *self)
{
    assert (self);
    zmsg_t *msg = zmsg_recv (self->socket);
    if (!msg)
        return;
    zframe_t *address = zmsg_pop (msg);
    zframe_t *sequence = zmsg_pop (msg);
    char *command = zmsg_popstr (msg);
    char *arguments = zmsg_popstr (msg);
    json_t *request = NULL;
    json_t *reply = NULL;
    int code = OSMOSE_EPROTO;
    if (address && sequence && command && zmsg_size (msg) == 0) {
        json_error_t json_error;
        request = arguments? json_loads (arguments, 0, &json_error): json_object ();
        s_route_t *route = (s_route_t *) zhashx_lookup (self->routes, command);
        if (!request)
            reply = json_pack ("{s:s}", "error", "arguments are not valid JSON");
        else
        if (!route) {
            code = OSMOSE_ENOTSUP;
            reply = json_pack ("{s:s}", "error", "unknown command");
        }
        else {
            self->current_address = &address;
            self->current_sequence = &sequence;
            code = route->handler (route->arg, request, &reply);
            self->current_address = NULL;
            self->current_sequence = NULL;
        }
    }
    if (code == OSMOSE_EPROTO)
        self->malformed++;
    else
        self->requests++;
    if (address && sequence && code != OSMOSE_API_DEFERRED)
        s_reply (self, &address, &sequence, code, reply);
    json_decref (request);
    json_decref (reply);
    zframe_destroy (&address);
    zframe_destroy (&sequence);
    zstr_free (&command);
    zstr_free (&arguments);
    zmsg_destroy (&msg);
}

uint64_t
osmose_api_requests (osmose_api_t *self)
{
    assert (self);
    return self->requests;
}

uint64_t
osmose_api_malformed (osmose_api_t *self)
{
    assert (self);
    return self->malformed;
}

static int
s_test_echo (void *arg, json_t *request, json_t **reply)
{
    (*(int *) arg)++;
    *reply = json_incref (request);
    return 0;
}

static int
s_test_later (void *arg, json_t *request, json_t **reply)
{
    osmose_api_t *api = *(osmose_api_t **) arg;
    osmose_api_pending_t **slot = (osmose_api_pending_t **) ((osmose_api_t **) arg + 1);
    *slot = osmose_api_defer (api);
    return *slot? OSMOSE_API_DEFERRED: OSMOSE_ENOMEM;
}

void
osmose_api_test (bool verbose)
{
    printf (" * osmose_api: ");
    char error [256];
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "ipc:///tmp/osmose-api-test-%d/api.sock", getpid ());
    osmose_api_t *api = osmose_api_new (endpoint, error, sizeof (error));
    assert (api);
    int calls = 0;
    assert (osmose_api_register (api, "ECHO", s_test_echo, &calls) == 0);
    assert (osmose_api_register (api, "ECHO", s_test_echo, &calls) == OSMOSE_EEXIST);

    //  A second daemon on the same endpoint is refused
    osmose_api_t *second = osmose_api_new (endpoint, error, sizeof (error));
    assert (!second);
    assert (strstr (error, "another osmosed"));

    zsock_t *client = zsock_new_dealer (endpoint);
    assert (client);
    zsock_set_rcvtimeo (client, 2000);

    //  A good request, an unknown command and a malformed one
    zstr_sendx (client, "1", "ECHO", "{\"x\":42}", NULL);
    osmose_api_handle (api);
    char *sequence, *code, *body;
    assert (zstr_recvx (client, &sequence, &code, &body, NULL) == 3);
    assert (streq (sequence, "1") && streq (code, "0") && streq (body, "{\"x\":42}"));
    zstr_free (&sequence); zstr_free (&code); zstr_free (&body);
    assert (calls == 1);

    zstr_sendx (client, "2", "NOPE", "{}", NULL);
    osmose_api_handle (api);
    assert (zstr_recvx (client, &sequence, &code, &body, NULL) == 3);
    assert (atoi (code) == OSMOSE_ENOTSUP);
    zstr_free (&sequence); zstr_free (&code); zstr_free (&body);

    zstr_sendx (client, "3", "ECHO", "{not json", NULL);
    osmose_api_handle (api);
    assert (zstr_recvx (client, &sequence, &code, &body, NULL) == 3);
    assert (atoi (code) == OSMOSE_EPROTO);
    zstr_free (&sequence); zstr_free (&code); zstr_free (&body);

    zstr_sendx (client, "4", "ECHO", "{}", "extra", NULL);
    osmose_api_handle (api);
    assert (zstr_recvx (client, &sequence, &code, &body, NULL) == 3);
    assert (atoi (code) == OSMOSE_EPROTO);
    zstr_free (&sequence); zstr_free (&code); zstr_free (&body);
    assert (osmose_api_malformed (api) == 2);
    assert (osmose_api_requests (api) == 2);
    assert (calls == 1);

    //  A deferred request is answered later, after another one
    void *later [2] = { api, NULL };
    assert (osmose_api_register (api, "LATER", s_test_later, later) == 0);
    zstr_sendx (client, "5", "LATER", "{}", NULL);
    osmose_api_handle (api);
    assert (later [1]);
    zstr_sendx (client, "6", "ECHO", "{}", NULL);
    osmose_api_handle (api);
    assert (zstr_recvx (client, &sequence, &code, &body, NULL) == 3);
    assert (streq (sequence, "6"));
    zstr_free (&sequence); zstr_free (&code); zstr_free (&body);
    json_t *answer = json_pack ("{s:i}", "late", 1);
    osmose_api_answer (api, (osmose_api_pending_t **) &later [1], 0, answer);
    json_decref (answer);
    assert (later [1] == NULL);
    assert (zstr_recvx (client, &sequence, &code, &body, NULL) == 3);
    assert (streq (sequence, "5") && streq (code, "0") && streq (body, "{\"late\":1}"));
    zstr_free (&sequence); zstr_free (&code); zstr_free (&body);

    zsock_destroy (&client);
    osmose_api_destroy (&api);
    char dir [64];
    snprintf (dir, sizeof (dir), "/tmp/osmose-api-test-%d", getpid ());
    assert (rmdir (dir) == 0);
    printf ("OK\n");
}
