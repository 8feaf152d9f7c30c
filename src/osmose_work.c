/*  osmose_work.c: a provider's work endpoint (see osmose_work.h).

    Tasks of every connection share the executor, so each task is given to
    it under an id that names its connection: 16 bits of slot, 8 bits of
    the slot's generation and the client's 40-bit task id. A result finds
    its connection from the id alone; one whose slot was reused since (the
    connection went away) is dropped by the generation check.
*/
#include "osmose_prelude.h"
#include "osmose_work.h"
#include "osmose_work_msg.h"
#include "osmose_zap.h"

#define S_MAX_SLOTS         65535
#define S_CLIENT_ID_BITS    40
#define S_CLIENT_ID_MASK    ((UINT64_C (1) << S_CLIENT_ID_BITS) - 1)
#define S_FLUSH_BYTES       (1u << 20)      //  send a result batch past this
#define S_CANCEL_SPAN       4096            //  cancel one by one up to this many

typedef struct {
    zframe_t *routing;          //  the connection's ROUTER id
    char key [24];              //  its hex, the sessions table key
    uint16_t slot;
    uint8_t generation;
    bool opened;
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    uint8_t client_key [OSMOSE_KEY_SIZE];
    uint64_t outstanding;       //  tasks at the executor
    uint64_t low_id, high_id;   //  span of client ids seen, for cancel
    osmose_work_writer_t results;
    bool dirty;                 //  results waiting to be sent
    char function [OSMOSE_WORK_MAX_FUNCTION + 1];  //  of its latest task
    uint64_t tasks, done;
    int64_t opened_us;
} s_session_t;

struct _osmose_work_t {
    osmose_identity_t *identity;
    osmose_exec_t *exec;
    osmose_work_valid_fn *valid;
    void *valid_arg;
    osmose_zap_t *zap;
    zcert_t *cert;
    zsock_t *socket;
    char domain [OSMOSE_ID_SIZE + 8];
    char endpoint [256];
    zhashx_t *sessions;         //  routing hex -> s_session_t
    s_session_t **slots;        //  slot -> session (or NULL)
    uint8_t *generations;       //  slot -> current generation
    size_t slot_count;
    zlistx_t *dirty;            //  sessions with results to send
    osmose_work_writer_t out;   //  scratch for replies
    uint64_t opened, refused, tasks, results, malformed;
};

static void
s_session_destroy (s_session_t **self_p)
{
    if (*self_p) {
        zframe_destroy (&(*self_p)->routing);
        osmose_work_writer_free (&(*self_p)->results);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Replace a wildcard host in ENDPOINT with HINT's host
static void
s_advertised (osmose_work_t *self, const char *bound, const char *advertise,
              const char *hint)
{
    if (advertise && *advertise) {
        snprintf (self->endpoint, sizeof (self->endpoint), "%s", advertise);
        return;
    }
    const char *port = strrchr (bound, ':');
    const char *hint_host = hint && strncmp (hint, "tcp://", 6) == 0? hint + 6: NULL;
    const char *hint_port = hint? strrchr (hint, ':'): NULL;
    if (strncmp (bound, "tcp://0.0.0.0:", 14) == 0 && port && hint_host && hint_port)
        snprintf (self->endpoint, sizeof (self->endpoint), "tcp://%.*s%s",
                  (int) (hint_port - hint_host), hint_host, port);
    else
        snprintf (self->endpoint, sizeof (self->endpoint), "%s", bound);
}

osmose_work_t *
osmose_work_new (osmose_identity_t *identity, const char *bind, const char *advertise,
                 const char *host_hint, osmose_exec_t *exec,
                 osmose_work_valid_fn *valid, void *valid_arg,
                 char *error, size_t error_size)
{
    assert (identity && bind && valid);
    osmose_work_t *self = (osmose_work_t *) zmalloc (sizeof (osmose_work_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->identity = identity;
    self->exec = exec;
    self->valid = valid;
    self->valid_arg = valid_arg;
    snprintf (self->domain, sizeof (self->domain), "work-%s", osmose_identity_id (identity));
    self->zap = osmose_zap_acquire ();
    self->cert = osmose_identity_cert (identity);
    self->socket = zsock_new (ZMQ_ROUTER);
    self->sessions = zhashx_new ();
    self->dirty = zlistx_new ();
    if (!self->zap || !self->cert || !self->socket || !self->sessions || !self->dirty
    ||  osmose_zap_allow (self->zap, self->domain, "*", "") != 0) {
        snprintf (error, error_size, "cannot set up the work endpoint (out of memory?)");
        osmose_work_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->sessions, (zhashx_destructor_fn *) s_session_destroy);
    zsock_set_zap_domain (self->socket, self->domain);
    zsock_set_curve_server (self->socket, 1);
    zcert_apply (self->cert, self->socket);
    zsock_set_router_handover (self->socket, 1);
    zsock_set_maxmsgsize (self->socket, (int64_t) OSMOSE_WORK_MAX_FRAME);
    zsock_set_sndhwm (self->socket, 100000);
    zsock_set_rcvhwm (self->socket, 100000);
    zsock_set_sndtimeo (self->socket, 0);
    if (zsock_bind (self->socket, "%s", bind) < 0) {
        snprintf (error, error_size, "cannot bind work endpoint %s: %s", bind,
                  zmq_strerror (zmq_errno ()));
        osmose_work_destroy (&self);
        return NULL;
    }
    char *last = zsock_last_endpoint (self->socket);
    s_advertised (self, last? last: bind, advertise, host_hint);
    zstr_free (&last);
    return self;
}

void
osmose_work_destroy (osmose_work_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_work_t *self = *self_p;
        //  Let the last words (CLOSED) leave before the socket goes
        if (self->socket)
            zsock_set_linger (self->socket, 200);
        zsock_destroy (&self->socket);
        zlistx_destroy (&self->dirty);
        zhashx_destroy (&self->sessions);
        free (self->slots);
        free (self->generations);
        if (self->zap) {
            osmose_zap_drop (self->zap, self->domain);
            osmose_zap_release (&self->zap);
        }
        zcert_destroy (&self->cert);
        osmose_work_writer_free (&self->out);
        free (self);
        *self_p = NULL;
    }
}

void
osmose_work_set_exec (osmose_work_t *self, osmose_exec_t *exec)
{
    assert (self);
    self->exec = exec;
}

zsock_t *
osmose_work_socket (osmose_work_t *self)
{
    assert (self);
    return self->socket;
}

const char *
osmose_work_endpoint (osmose_work_t *self)
{
    assert (self);
    return self->endpoint;
}

static void
s_send (osmose_work_t *self, zframe_t *routing, const osmose_work_writer_t *body)
{
    zmsg_t *msg = zmsg_new ();
    zframe_t *copy = zframe_dup (routing);
    zframe_t *frame = zframe_new (body->data, body->size);
    if (msg && copy && frame) {
        zmsg_append (msg, &copy);
        zmsg_append (msg, &frame);
        //  A connection that cannot keep up loses this batch, never the daemon
        if (zmsg_send (&msg, self->socket) != 0)
            zsys_debug ("work: reply dropped (client slow or gone)");
    }
    zframe_destroy (&copy);
    zframe_destroy (&frame);
    zmsg_destroy (&msg);
}

static void
s_send_status (osmose_work_t *self, zframe_t *routing, osmose_work_kind_t kind,
               int status, const char *reason)
{
    osmose_work_write_status (&self->out, kind, status, reason);
    if (!self->out.failed)
        s_send (self, routing, &self->out);
}

//  The session of ROUTING, made on its first message; NULL when no slot
static s_session_t *
s_session_require (osmose_work_t *self, zframe_t *routing)
{
    char key [24];
    size_t size = zframe_size (routing);
    if (size == 0 || size > 10)
        return NULL;
    sodium_bin2hex (key, sizeof (key), zframe_data (routing), size);
    s_session_t *session = (s_session_t *) zhashx_lookup (self->sessions, key);
    if (session)
        return session;
    size_t slot = 0;
    while (slot < self->slot_count && self->slots [slot])
        slot++;
    if (slot == self->slot_count) {
        if (slot >= S_MAX_SLOTS)
            return NULL;
        size_t count = self->slot_count? self->slot_count * 2: 16;
        s_session_t **slots = (s_session_t **) realloc (self->slots, count * sizeof (*slots));
        if (slots)
            self->slots = slots;
        uint8_t *generations = slots? (uint8_t *) realloc (self->generations, count): NULL;
        if (!generations)
            return NULL;
        self->generations = generations;
        memset (self->slots + self->slot_count, 0, (count - self->slot_count) * sizeof (*slots));
        memset (self->generations + self->slot_count, 0, count - self->slot_count);
        self->slot_count = count;
    }
    session = (s_session_t *) zmalloc (sizeof (s_session_t));
    if (!session || !(session->routing = zframe_dup (routing))) {
        free (session);
        return NULL;
    }
    snprintf (session->key, sizeof (session->key), "%s", key);
    session->slot = (uint16_t) slot;
    session->generation = ++self->generations [slot];
    session->low_id = UINT64_MAX;
    self->slots [slot] = session;
    zhashx_insert (self->sessions, key, session);
    return session;
}

static void
s_session_drop (osmose_work_t *self, s_session_t *session)
{
    //  Cancel what is small enough to find; results of the rest are
    //  dropped by the generation check as they come
    if (self->exec && session->outstanding && session->high_id >= session->low_id
    &&  session->high_id - session->low_id < S_CANCEL_SPAN)
        for (uint64_t id = session->low_id; id <= session->high_id; id++)
            (void) osmose_exec_cancel (self->exec, ((uint64_t) session->slot << 48)
                                       | ((uint64_t) session->generation << 40) | id);
    void *handle = zlistx_find (self->dirty, session);
    if (handle)
        zlistx_delete (self->dirty, handle);
    self->slots [session->slot] = NULL;
    zhashx_delete (self->sessions, session->key);
}

//  OPEN: the token must be ours, the delegation the client's, the
//  session key the one this connection authenticated with, the lease live
//  The executor's group of SESSION's tasks: its slot, from 1 (0 is the
//  executor's group without a limit)
static uint32_t
s_group (const s_session_t *session)
{
    return (uint32_t) session->slot + 1;
}

static void
s_open (osmose_work_t *self, s_session_t *session, zframe_t *frame,
        const osmose_work_msg_t *msg)
{
    const char *user = zframe_meta (frame, "User-Id");
    uint8_t authenticated [32];
    osmose_token_t token;
    int rc = osmose_token_check (msg->token, msg->token_size,
                                 osmose_identity_public (self->identity), NULL,
                                 osmose_token_now_us (), &token);
    const char *reason = rc == OSMOSE_ENOLEASE? "lease token expired"
                       : rc? "lease token not issued by this provider": NULL;
    if (!rc && (!user || strlen (user) != 40 || !zmq_z85_decode (authenticated, user)
             || memcmp (authenticated, msg->session_key, 32) != 0)) {
        rc = OSMOSE_EVERIFY;
        reason = "session key differs from the connection's CURVE key";
    }
    uint8_t signed_bytes [64 + OSMOSE_TOKEN_MAX_SIZE];
    if (!rc) {
        size_t size = osmose_work_delegation (msg->token, msg->token_size, msg->session_key,
                                              signed_bytes);
        if (osmose_identity_verify (token.client_key, signed_bytes, size, msg->signature)) {
            rc = OSMOSE_EVERIFY;
            reason = "delegation not signed by the lease holder";
        }
    }
    if (!rc && self->valid (self->valid_arg, token.lease_id, token.client_key)) {
        rc = OSMOSE_ENOLEASE;
        reason = "lease released, expired or revoked";
    }
    if (rc) {
        self->refused++;
        s_send_status (self, session->routing, OSMOSE_WORK_OPENED, rc, reason);
        s_session_drop (self, session);
        return;
    }
    //  The lease's CPUs are the workers its tasks may hold at once (one
    //  for a lease of GPUs or memory only: its tasks run somewhere)
    if (self->exec && osmose_exec_set_group (self->exec, s_group (session),
                                             token.cpus > 0? (uint32_t) token.cpus: 1)) {
        self->refused++;
        s_send_status (self, session->routing, OSMOSE_WORK_OPENED, OSMOSE_ENOMEM,
                       "out of memory");
        s_session_drop (self, session);
        return;
    }
    if (session->opened) {
        //  The connection moves to a new lease (its client keeps
        //  connections): what the old one still runs is not answered here
        session->generation = ++self->generations [session->slot];
        session->outstanding = 0;
        session->low_id = UINT64_MAX;
        session->high_id = 0;
        session->tasks = session->done = 0;
    }
    session->opened = true;
    session->opened_us = zclock_usecs ();
    memcpy (session->lease_id, token.lease_id, OSMOSE_LEASE_ID_SIZE);
    memcpy (session->client_key, token.client_key, OSMOSE_KEY_SIZE);
    self->opened++;
    s_send_status (self, session->routing, OSMOSE_WORK_OPENED, 0, "");
}

static void
s_mark_dirty (osmose_work_t *self, s_session_t *session)
{
    if (!session->dirty) {
        session->dirty = true;
        if (session->results.size == 0)
            osmose_work_begin (&session->results, OSMOSE_WORK_RESULTS);
        zlistx_add_end (self->dirty, session);
    }
}

static void
s_flush_session (osmose_work_t *self, s_session_t *session)
{
    if (session->dirty && session->results.size && !session->results.failed)
        s_send (self, session->routing, &session->results);
    osmose_work_writer_reset (&session->results);
    session->dirty = false;
}

//  A result the client gets without the executor: refused task
static void
s_result_now (osmose_work_t *self, s_session_t *session, uint64_t task_id, int status,
              const char *reason)
{
    s_mark_dirty (self, session);
    osmose_work_add_result (&session->results, task_id, status, reason, NULL, 0);
    self->results++;
}

static void
s_tasks (osmose_work_t *self, s_session_t *session, osmose_work_msg_t *msg)
{
    osmose_work_item_t item;
    while (osmose_work_next (msg, &item)) {
        self->tasks++;
        char *function = session->function;
        memcpy (function, item.function, item.function_size);
        function [item.function_size] = 0;
        if (item.task_id == 0 || item.task_id > S_CLIENT_ID_MASK) {
            s_result_now (self, session, item.task_id, OSMOSE_EINVAL, "task id out of range");
            continue;
        }
        int rc = self->exec? osmose_exec_submit_to (self->exec, s_group (session),
                     ((uint64_t) session->slot << 48) | ((uint64_t) session->generation << 40)
                     | item.task_id, function, item.data, item.data_size, NULL, 0)
                           : OSMOSE_ENOTSUP;
        if (rc) {
            char reason [160];
            snprintf (reason, sizeof (reason), rc == OSMOSE_ENOTFOUND?
                      "no trusted plugin here offers %s": "cannot run %s: %s",
                      function, osmose_strerror (rc));
            s_result_now (self, session, item.task_id, rc, reason);
            continue;
        }
        session->outstanding++;
        session->tasks++;
        if (item.task_id < session->low_id)
            session->low_id = item.task_id;
        if (item.task_id > session->high_id)
            session->high_id = item.task_id;
    }
}

static void
s_cancel (osmose_work_t *self, s_session_t *session, osmose_work_msg_t *msg)
{
    osmose_work_item_t item;
    while (osmose_work_next (msg, &item))
        if (self->exec && item.task_id <= S_CLIENT_ID_MASK)
            (void) osmose_exec_cancel (self->exec, ((uint64_t) session->slot << 48)
                                       | ((uint64_t) session->generation << 40) | item.task_id);
}

void
osmose_work_handle (osmose_work_t *self)
{
    assert (self);
    //  Drain what is there, a bounded number, so other duties get their turn
    for (int count = 0; count < 256; count++) {
        zmsg_t *zmsg = zmsg_recv_nowait (self->socket);
        if (!zmsg)
            break;
        zframe_t *routing = zmsg_pop (zmsg);
        zframe_t *frame = zmsg_pop (zmsg);
        osmose_work_msg_t msg;
        s_session_t *session = routing && frame && zmsg_size (zmsg) == 0?
            s_session_require (self, routing): NULL;
        if (!session || osmose_work_decode (zframe_data (frame), zframe_size (frame), &msg)) {
            self->malformed++;
            if (session && !session->opened)
                s_session_drop (self, session);
        }
        else
        if (msg.kind == OSMOSE_WORK_OPEN)
            s_open (self, session, frame, &msg);     //  also a kept connection's next lease
        else
        if (!session->opened) {
            s_send_status (self, session->routing, OSMOSE_WORK_CLOSED, OSMOSE_ENOLEASE,
                           "send OPEN with a lease token first");
            s_session_drop (self, session);
        }
        else
        if (msg.kind == OSMOSE_WORK_TASKS) {
            if (self->valid (self->valid_arg, session->lease_id, session->client_key) == 0)
                s_tasks (self, session, &msg);
            else {
                s_send_status (self, session->routing, OSMOSE_WORK_CLOSED, OSMOSE_ENOLEASE,
                               "lease released, expired or revoked");
                s_session_drop (self, session);
            }
        }
        else
        if (msg.kind == OSMOSE_WORK_CANCEL)
            s_cancel (self, session, &msg);
        else
            self->malformed++;
        zframe_destroy (&routing);
        zframe_destroy (&frame);
        zmsg_destroy (&zmsg);
    }
    osmose_work_process (self);
}

void
osmose_work_process (osmose_work_t *self)
{
    assert (self);
    if (self->exec) {
        osmose_exec_process (self->exec);
        osmose_exec_result_t result;
        while (osmose_exec_next_result (self->exec, &result)) {
            size_t slot = (size_t) (result.task_id >> 48);
            uint8_t generation = (uint8_t) (result.task_id >> 40);
            s_session_t *session = slot < self->slot_count? self->slots [slot]: NULL;
            if (!session || session->generation != generation)
                continue;       //  its connection is gone
            session->outstanding--;
            session->done++;
            if (session->dirty && session->results.size > S_FLUSH_BYTES) {
                s_flush_session (self, session);
                void *handle = zlistx_find (self->dirty, session);
                if (handle)
                    zlistx_delete (self->dirty, handle);
            }
            s_mark_dirty (self, session);
            osmose_work_add_result (&session->results, result.task_id & S_CLIENT_ID_MASK,
                                    result.status, result.reason, result.output,
                                    result.output_size);
            self->results++;
        }
    }
    s_session_t *session;
    while ((session = (s_session_t *) zlistx_first (self->dirty))) {
        zlistx_delete (self->dirty, zlistx_cursor (self->dirty));
        s_flush_session (self, session);
    }
}

void
osmose_work_close_lease (osmose_work_t *self, const uint8_t *lease_id, int status,
                         const char *reason)
{
    assert (self && lease_id);
    zlistx_t *closing = zlistx_new ();
    if (!closing)
        return;
    for (s_session_t *session = (s_session_t *) zhashx_first (self->sessions); session;
         session = (s_session_t *) zhashx_next (self->sessions))
        if (session->opened && memcmp (session->lease_id, lease_id, OSMOSE_LEASE_ID_SIZE) == 0)
            zlistx_add_end (closing, session);
    for (s_session_t *session = (s_session_t *) zlistx_first (closing); session;
         session = (s_session_t *) zlistx_next (closing)) {
        s_flush_session (self, session);
        s_send_status (self, session->routing, OSMOSE_WORK_CLOSED, status, reason);
        s_session_drop (self, session);
    }
    zlistx_destroy (&closing);
}

void
osmose_work_close_all (osmose_work_t *self, int status, const char *reason)
{
    assert (self);
    for (s_session_t *session = (s_session_t *) zhashx_first (self->sessions); session;
         session = (s_session_t *) zhashx_next (self->sessions))
        if (session->opened) {
            s_flush_session (self, session);
            s_send_status (self, session->routing, OSMOSE_WORK_CLOSED, status, reason);
        }
}

json_t *
osmose_work_sessions_json (osmose_work_t *self)
{
    assert (self);
    json_t *rows = json_array ();
    int64_t now = zclock_usecs ();
    for (s_session_t *session = (s_session_t *) zhashx_first (self->sessions);
         rows && session; session = (s_session_t *) zhashx_next (self->sessions)) {
        if (!session->opened)
            continue;
        char lease [2 * OSMOSE_LEASE_ID_SIZE + 1], client [OSMOSE_ID_SIZE + 1];
        sodium_bin2hex (lease, sizeof (lease), session->lease_id, OSMOSE_LEASE_ID_SIZE);
        osmose_identity_id_of (session->client_key, client);
        char state [64];
        snprintf (state, sizeof (state), "%" PRIu64 " running", session->outstanding);
        json_t *row = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
            "id", lease, "lease", lease, "client", client,
            "provider", osmose_identity_id (self->identity),
            "function", session->function, "state", state,
            "tasks", (json_int_t) session->tasks, "done", (json_int_t) session->done,
            "in_flight", (json_int_t) session->outstanding,
            "ms", (json_int_t) ((now - session->opened_us) / 1000));
        if (row)
            json_array_append_new (rows, row);
    }
    return rows;
}

json_t *
osmose_work_json (osmose_work_t *self)
{
    assert (self);
    return json_pack ("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
        "endpoint", self->endpoint,
        "sessions", (json_int_t) zhashx_size (self->sessions),
        "opened", (json_int_t) self->opened, "refused", (json_int_t) self->refused,
        "tasks", (json_int_t) self->tasks, "results", (json_int_t) self->results,
        "malformed", (json_int_t) self->malformed);
}

//  Self-test: a raw DEALER plays the library
static int
s_test_valid (void *arg, const uint8_t *lease_id, const uint8_t *client_key)
{
    return *(bool *) arg? 0: OSMOSE_ENOLEASE;
}

static void
s_test_open (zsock_t *dealer, osmose_identity_t *client, const uint8_t *token,
             size_t token_size, const uint8_t *session_key, bool forge)
{
    uint8_t bytes [64 + OSMOSE_TOKEN_MAX_SIZE], signature [OSMOSE_SIG_SIZE];
    size_t size = osmose_work_delegation (token, token_size, session_key, bytes);
    osmose_identity_sign (client, bytes, size, signature);
    if (forge)
        signature [0] ^= 1;
    osmose_work_writer_t writer = { 0 };
    osmose_work_write_open (&writer, token, token_size, session_key, signature);
    zframe_t *frame = zframe_new (writer.data, writer.size);
    assert (frame && zframe_send (&frame, dealer, 0) == 0);
    osmose_work_writer_free (&writer);
}

//  Wait for the next body from the endpoint, running it meanwhile
static zframe_t *
s_test_reply (osmose_work_t *work, zsock_t *dealer, osmose_work_msg_t *msg)
{
    for (int round = 0; round < 300; round++) {
        osmose_work_handle (work);
        zframe_t *frame = zframe_recv_nowait (dealer);
        if (frame) {
            assert (osmose_work_decode (zframe_data (frame), zframe_size (frame), msg) == 0);
            return frame;
        }
        zclock_sleep (10);
    }
    assert (false);
    return NULL;
}

static zsock_t *
s_test_dealer (osmose_work_t *work, osmose_identity_t *provider, zcert_t *session)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    char server [41];
    assert (osmose_identity_curve_z85 (osmose_identity_public (provider), server) == 0);
    zcert_apply (session, dealer);
    zsock_set_curve_serverkey (dealer, server);
    assert (zsock_connect (dealer, "%s", osmose_work_endpoint (work)) == 0);
    return dealer;
}

void
osmose_work_test (bool verbose)
{
    printf (" * osmose_work: ");
    osmose_identity_t *provider = osmose_identity_new ();
    osmose_identity_t *client = osmose_identity_new ();
    assert (provider && client);
    bool live = true;
    char error [256];
    osmose_work_t *work = osmose_work_new (provider, "tcp://127.0.0.1:*", "", NULL, NULL,
                                           s_test_valid, &live, error, sizeof (error));
    assert (work);
    assert (strncmp (osmose_work_endpoint (work), "tcp://127.0.0.1:", 16) == 0);

    osmose_token_t token = { 0 };
    randombytes_buf (token.lease_id, sizeof (token.lease_id));
    memcpy (token.client_key, osmose_identity_public (client), OSMOSE_KEY_SIZE);
    token.cpus = 1;
    token.issued_us = osmose_token_now_us ();
    token.expiry_us = token.issued_us + 10000000;
    osmose_token_sign (&token, provider);
    uint8_t encoded [OSMOSE_TOKEN_SIZE];
    assert (osmose_token_encode (&token, encoded, sizeof (encoded)) == OSMOSE_TOKEN_SIZE);

    //  A forged delegation is refused
    zcert_t *session = zcert_new ();
    zsock_t *dealer = s_test_dealer (work, provider, session);
    s_test_open (dealer, client, encoded, sizeof (encoded), zcert_public_key (session), true);
    osmose_work_msg_t msg;
    zframe_t *frame = s_test_reply (work, dealer, &msg);
    assert (msg.kind == OSMOSE_WORK_OPENED && msg.status == OSMOSE_EVERIFY);
    zframe_destroy (&frame);
    //  So is a delegation to another session key than the connection's
    zcert_t *other = zcert_new ();
    s_test_open (dealer, client, encoded, sizeof (encoded), zcert_public_key (other), false);
    frame = s_test_reply (work, dealer, &msg);
    assert (msg.kind == OSMOSE_WORK_OPENED && msg.status == OSMOSE_EVERIFY);
    zframe_destroy (&frame);
    zcert_destroy (&other);
    //  Tasks before OPEN close the session
    osmose_work_writer_t writer = { 0 };
    osmose_work_begin (&writer, OSMOSE_WORK_TASKS);
    osmose_work_add_task (&writer, 1, "echo.echo", "x", 1);
    frame = zframe_new (writer.data, writer.size);
    assert (zframe_send (&frame, dealer, 0) == 0);
    frame = s_test_reply (work, dealer, &msg);
    assert (msg.kind == OSMOSE_WORK_CLOSED && msg.status == OSMOSE_ENOLEASE);
    zframe_destroy (&frame);

    //  A good open; tasks without an executor fail one by one, clearly
    s_test_open (dealer, client, encoded, sizeof (encoded), zcert_public_key (session), false);
    frame = s_test_reply (work, dealer, &msg);
    assert (msg.kind == OSMOSE_WORK_OPENED && msg.status == 0);
    zframe_destroy (&frame);
    osmose_work_add_task (&writer, 2, "echo.echo", "y", 1);
    frame = zframe_new (writer.data, writer.size);
    assert (zframe_send (&frame, dealer, 0) == 0);
    frame = s_test_reply (work, dealer, &msg);
    assert (msg.kind == OSMOSE_WORK_RESULTS && msg.count == 2);
    osmose_work_item_t item;
    assert (osmose_work_next (&msg, &item) && item.task_id == 1 && item.status == OSMOSE_ENOTSUP);
    zframe_destroy (&frame);
    //  A client keeps its connection for its next lease: OPEN moves it
    osmose_token_t next = token;
    randombytes_buf (next.lease_id, sizeof (next.lease_id));
    osmose_token_sign (&next, provider);
    uint8_t next_encoded [OSMOSE_TOKEN_SIZE];
    assert (osmose_token_encode (&next, next_encoded, sizeof (next_encoded)) == OSMOSE_TOKEN_SIZE);
    s_test_open (dealer, client, next_encoded, sizeof (next_encoded), zcert_public_key (session),
                 false);
    frame = s_test_reply (work, dealer, &msg);
    assert (msg.kind == OSMOSE_WORK_OPENED && msg.status == 0);
    zframe_destroy (&frame);

    //  Garbage is counted, not fatal
    frame = zframe_new ("junk", 4);
    assert (zframe_send (&frame, dealer, 0) == 0);
    //  The lease ends: its connection hears why
    live = false;
    frame = zframe_new (writer.data, writer.size);
    assert (zframe_send (&frame, dealer, 0) == 0);
    frame = s_test_reply (work, dealer, &msg);
    assert (msg.kind == OSMOSE_WORK_CLOSED && msg.status == OSMOSE_ENOLEASE);
    zframe_destroy (&frame);
    json_t *stats = osmose_work_json (work);
    assert (json_integer_value (json_object_get (stats, "opened")) == 2);
    assert (json_integer_value (json_object_get (stats, "refused")) == 2);
    assert (json_integer_value (json_object_get (stats, "malformed")) == 1);
    json_decref (stats);

    osmose_work_writer_free (&writer);
    zsock_destroy (&dealer);
    zcert_destroy (&session);
    osmose_work_destroy (&work);
    osmose_identity_destroy (&client);
    osmose_identity_destroy (&provider);
    printf ("OK\n");
}
