/*  osmose_lease.c: the program's side of a lease (osmose.h, "Leasing").

    Acquisition asks the local daemon (LEASE_ACQUIRE, answered once the
    bidding is over) and hands it the public key of a fresh CURVE session
    certificate; the daemon answers with the lease, the provider's work
    endpoint and key, the token the provider signed, and its own signature
    delegating the lease to that session key. The library then opens the
    work connection straight to the provider and proves the delegation
    (OPEN): the daemon's secret key never leaves the daemon, and a stolen
    token is useless without the session's secret.

    OPEN is pipelined: acquisition returns once it is sent, and the first
    tasks follow it on the same connection, which keeps their order, so
    no round trip is spent waiting for OPENED. Its answer is read with the
    first results: a refusal moves the lease as a closed one does (or ends
    it, under OSMOSE_FAIL). A connection kept from an earlier lease may
    still carry that lease's last words: every OPEN gets exactly one
    OPENED, in order, so a lease counts the OPENs not yet answered on its
    connection, drops what comes before the answer to its own, and a kept
    connection that leaves it unanswered S_KEPT_OPEN_MS is replaced.

    Tasks are queued in one TASKS body and leave in batches; RESULTS come
    back in batches and are handed out one by one. Results that arrive
    while osmose_lease_run waits for its own are kept, in order, for
    osmose_lease_next_result.

    Nothing is lost (DESIGN.md, invariant 7): every task stays in the
    in-flight table with its input until its first result. When the lease
    ends under us (the provider closes it: revoked, battery low, shutting
    down, or our daemon re-placed it after a move) or its connection drops
    (the provider died: TCP reset, or ZMTP heartbeats time out), the lease
    migrates: our daemon bids again (leaving out a provider that vanished),
    the new work connection opens, and every task in flight is sent again
    under its id. A second result for an id is dropped, so each task is
    delivered once. Under OSMOSE_FAIL the lease ends with the reason
    instead; under RETRY_LOCAL the new lease may be this device.
*/
#include "osmose_prelude.h"
#include "osmose_client.h"
#include "osmose_identity.h"
#include "osmose_token.h"
#include "osmose_work_msg.h"
#include "osmose_inflight.h"
#include <poll.h>

#define S_BATCH_TASKS   512             //  a batch leaves at this many tasks
#define S_BATCH_BYTES   (256u * 1024)   //  or at this many bytes
#define S_OPEN_TIMEOUT_MS 5000
#define S_MIGRATE_MS    10000           //  a migration keeps trying this long
#define S_MIGRATE_RETRY_MS 100

//  A result kept for later: copied out of its frame
typedef struct {
    uint64_t task_id;
    int status;
    char *reason;
    uint8_t *output;
    size_t output_size;
} s_kept_t;

struct osmose_lease_t {
    osmose_t *mesh;                 //  the daemon handle it came from
    char lease_hex [2 * OSMOSE_LEASE_ID_SIZE + 1];
    char provider [OSMOSE_ID_SIZE + 1];
    bool local;
    json_t *info;                   //  the daemon's answer, less secrets
    zcert_t *session;               //  the handle's CURVE key pair (its pool's)
    zsock_t *socket;                //  DEALER to the provider's work endpoint
    bool reused;                    //  it served an earlier lease
    zsock_t *monitor;               //  its disconnect events
    int unanswered;                 //  OPENs on it not answered yet; ours is the last
    int64_t open_sent_ms;           //  when ours left
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];      //  what OPEN carries, to send it again
    size_t token_size;
    uint8_t signature [OSMOSE_SIG_SIZE];
    char server [41];               //  the provider's CURVE key (z85)
    char endpoint [256];            //  its work endpoint
    osmose_request_t request;       //  what we asked for, to ask again
    osmose_inflight_t *inflight;    //  tasks without a result yet
    osmose_failure_fn *on_failure;
    void *failure_arg;
    osmose_work_writer_t batch;     //  tasks not sent yet
    uint64_t next_task_id;
    zframe_t *frame;                //  the RESULTS body being read
    osmose_work_msg_t results;
    zlistx_t *kept;                 //  s_kept_t, results put aside by run
    s_kept_t current;               //  the kept result last handed out
    char reason [OSMOSE_WORK_MAX_REASON + 1];
    int closed;                     //  0, or why the provider ended it
    char closed_reason [OSMOSE_WORK_MAX_REASON + 1];
};

void
osmose_request_init (osmose_request_t *request)
{
    if (!request)
        return;
    memset (request, 0, sizeof (*request));
    request->cpus = 1;
    request->strategy = OSMOSE_EAGER_REMOTE;
    request->failure = OSMOSE_RETRY_LOCAL;
}

static const char *
s_strategy_name (osmose_strategy_t strategy)
{
    return strategy == OSMOSE_LOCAL_FIRST? "local_first": "eager_remote";
}

static const char *
s_failure_name (osmose_failure_t failure)
{
    return failure == OSMOSE_FAIL? "fail"
         : failure == OSMOSE_RETRY_REMOTE? "retry_remote": "retry_local";
}

//  What the daemon needs to know of a request, as the API's JSON
static json_t *
s_request_json (const osmose_request_t *request)
{
    osmose_request_t defaults;
    osmose_request_init (&defaults);
    if (!request)
        request = &defaults;
    return json_pack ("{s:i, s:i, s:i, s:I, s:I, s:s, s:s, s:I}",
        "cpus", request->cpus, "gpus", request->gpus, "npus", request->npus,
        "memory_mb", (json_int_t) request->memory_mb,
        "latency_bound_us", (json_int_t) request->latency_bound_us,
        "strategy", s_strategy_name (request->strategy),
        "failure", s_failure_name (request->failure),
        "ttl_ms", (json_int_t) request->ttl_ms);
}

static bool
s_request_valid (const osmose_request_t *request)
{
    return request && request->cpus >= 0 && request->gpus >= 0 && request->npus >= 0
        && request->memory_mb >= 0 && request->latency_bound_us >= 0
        && (request->cpus || request->gpus || request->npus || request->memory_mb)
        && (unsigned) request->strategy <= OSMOSE_LOCAL_FIRST
        && (unsigned) request->failure <= OSMOSE_FAIL;
}

//  How this process is known to the daemon, so it can release our leases
//  when we die: pid and start time (pids are reused, start times are not)
static void
s_add_holder (json_t *arguments)
{
    char path [64], line [1024];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) getpid ());
    unsigned long long start = 0;
    FILE *file = fopen (path, "r");
    if (file && fgets (line, sizeof (line), file)) {
        //  Field 22, counted after the command's closing parenthesis
        char *field = strrchr (line, ')');
        for (int index = 2; field && index < 22; index++)
            field = strchr (field + 1, ' ');
        if (field)
            start = strtoull (field + 1, NULL, 10);
    }
    if (file)
        fclose (file);
    json_object_set_new (arguments, "pid", json_integer (getpid ()));
    json_object_set_new (arguments, "start_time", json_integer ((json_int_t) start));
}

int
osmose_near_json (osmose_t *self, const osmose_request_t *request, char **json_p)
{
    if (!self || !json_p)
        return OSMOSE_EINVAL;
    *json_p = NULL;
    json_t *arguments = s_request_json (request);
    json_t *reply = NULL;
    int rc = arguments? osmose_client_call (self, "NEAR", arguments, &reply): OSMOSE_ENOMEM;
    if (rc == 0 && !(*json_p = json_dumps (reply, JSON_COMPACT)))
        rc = OSMOSE_ENOMEM;
    json_decref (arguments);
    json_decref (reply);
    return rc;
}

int
osmose_move (osmose_t *self, const char *location)
{
    if (!self || !location)
        return OSMOSE_EINVAL;
    json_t *arguments = json_pack ("{s:s}", "location", location);
    json_t *reply = NULL;
    int rc = arguments? osmose_client_call (self, "MOVE", arguments, &reply): OSMOSE_ENOMEM;
    json_decref (arguments);
    json_decref (reply);
    return rc;
}

int
osmose_leases_json (osmose_t *self, char **json_p)
{
    if (!self || !json_p)
        return OSMOSE_EINVAL;
    *json_p = NULL;
    json_t *reply = NULL;
    int rc = osmose_client_call (self, "LEASES", NULL, &reply);
    if (rc == 0 && !(*json_p = json_dumps (reply, JSON_COMPACT)))
        rc = OSMOSE_ENOMEM;
    json_decref (reply);
    return rc;
}

static void
s_kept_free (s_kept_t *kept)
{
    free (kept->reason);
    free (kept->output);
    memset (kept, 0, sizeof (*kept));
}

static void
s_kept_destroy (s_kept_t **kept_p)
{
    if (*kept_p) {
        s_kept_free (*kept_p);
        free (*kept_p);
        *kept_p = NULL;
    }
}

//  Close a work connection and its monitor. The monitor is stopped first:
//  libzmq's I/O thread sends its events with a blocking send, so a
//  disconnect reported after our PAIR is gone would hang that thread, and
//  with it every socket of the program, the daemon's API included
//  (libzmq issue 3575)
static void
s_close_monitored (zsock_t **socket_p, zsock_t **monitor_p)
{
    if (*socket_p && *monitor_p)
        zmq_socket_monitor (zsock_resolve (*socket_p), NULL, 0);
    zsock_destroy (monitor_p);
    zsock_destroy (socket_p);
}

static void
s_disconnect (osmose_lease_t *self)
{
    s_close_monitored (&self->socket, &self->monitor);
}

//  Work connections outlive their lease: a released lease's connection is
//  kept, per daemon handle, for the next lease from the same provider,
//  which then only sends OPEN (a new CURVE connection is most of what an
//  acquisition costs). Every connection of a handle uses its one session
//  key, since the daemon's delegation names the key before the provider
//  is known.
#define S_KEPT_CONNECTIONS 8
#define S_KEPT_IDLE_MS     30000

typedef struct {
    char provider [OSMOSE_ID_SIZE + 1];
    char endpoint [256];
    zsock_t *socket;
    zsock_t *monitor;
    int64_t kept_ms;
    int unanswered;                 //  OPENs sent on it that no OPENED answered yet
    int64_t open_sent_ms;           //  when the last of them left
} s_idle_t;

typedef struct {
    zcert_t *session;
    s_idle_t idle [S_KEPT_CONNECTIONS];
    size_t idle_count;
} s_pool_t;

static void
s_idle_close (s_idle_t *idle)
{
    s_close_monitored (&idle->socket, &idle->monitor);
}

static void
s_pool_free (void **pool_p)
{
    s_pool_t *pool = (s_pool_t *) *pool_p;
    if (pool) {
        for (size_t index = 0; index < pool->idle_count; index++)
            s_idle_close (&pool->idle [index]);
        zcert_destroy (&pool->session);
        free (pool);
        *pool_p = NULL;
    }
}

//  MESH's pool, made on first use; NULL when out of memory
static s_pool_t *
s_pool_of (osmose_t *mesh)
{
    void **slot = osmose_client_leases (mesh, s_pool_free);
    if (!*slot) {
        s_pool_t *pool = (s_pool_t *) zmalloc (sizeof (s_pool_t));
        if (pool && !(pool->session = zcert_new ())) {
            free (pool);
            pool = NULL;
        }
        *slot = pool;
    }
    return (s_pool_t *) *slot;
}

//  Drop the idle connection at INDEX (the last takes its place)
static void
s_pool_drop (s_pool_t *pool, size_t index)
{
    s_idle_close (&pool->idle [index]);
    pool->idle [index] = pool->idle [--pool->idle_count];
}

#define S_KEPT_OPEN_MS 1000     //  a kept connection answers OPEN by then, or a new one is made

//  What a parked connection received while no lease read it: the answers
//  to its OPENs (counted down in *UNANSWERED) and the last words of the
//  leases it served, all of no use now
static void
s_drain_answers (zsock_t *socket, int *unanswered)
{
    zframe_t *frame;
    while ((frame = zframe_recv_nowait (socket))) {
        osmose_work_msg_t msg;
        if (osmose_work_decode (zframe_data (frame), zframe_size (frame), &msg) == 0
        &&  msg.kind == OSMOSE_WORK_OPENED && *unanswered > 0)
            (*unanswered)--;
        zframe_destroy (&frame);
    }
}

//  Keep SELF's connection for the next lease from its provider
static void
s_park (osmose_lease_t *self, const char *endpoint)
{
    s_pool_t *pool = s_pool_of (self->mesh);
    if (!pool || !endpoint || strlen (endpoint) >= sizeof (pool->idle [0].endpoint))
        return;
    if (pool->idle_count == S_KEPT_CONNECTIONS) {
        size_t oldest = 0;
        for (size_t index = 1; index < pool->idle_count; index++)
            if (pool->idle [index].kept_ms < pool->idle [oldest].kept_ms)
                oldest = index;
        s_pool_drop (pool, oldest);
    }
    s_idle_t *idle = &pool->idle [pool->idle_count++];
    snprintf (idle->provider, sizeof (idle->provider), "%s", self->provider);
    snprintf (idle->endpoint, sizeof (idle->endpoint), "%s", endpoint);
    idle->socket = self->socket;
    idle->monitor = self->monitor;
    idle->kept_ms = zclock_mono ();
    idle->unanswered = self->unanswered;
    idle->open_sent_ms = self->open_sent_ms;
    self->socket = NULL;
    self->monitor = NULL;
}

//  Take a kept connection to PROVIDER at ENDPOINT for SELF, if one is
//  there and still up (its monitor saw no drop); true when taken
static bool
s_unpark (osmose_lease_t *self, const char *provider, const char *endpoint)
{
    s_pool_t *pool = s_pool_of (self->mesh);
    size_t index = 0;
    while (pool && index < pool->idle_count) {
        s_idle_t *idle = &pool->idle [index];
        s_drain_answers (idle->socket, &idle->unanswered);
        bool stale = zclock_mono () - idle->kept_ms > S_KEPT_IDLE_MS
                  || zsock_events (idle->monitor) & ZMQ_POLLIN
                  || (idle->unanswered
                      && zclock_mono () - idle->open_sent_ms > S_KEPT_OPEN_MS);
        if (stale)
            s_pool_drop (pool, index);
        else
        if (streq (idle->provider, provider) && streq (idle->endpoint, endpoint)) {
            self->socket = idle->socket;
            self->monitor = idle->monitor;
            self->unanswered = idle->unanswered;
            pool->idle [index] = pool->idle [--pool->idle_count];
            return true;
        }
        else
            index++;
    }
    return false;
}

static void
s_lease_destroy (osmose_lease_t **self_p)
{
    osmose_lease_t *self = *self_p;
    if (self) {
        s_disconnect (self);
        osmose_inflight_destroy (&self->inflight);
        zframe_destroy (&self->frame);
        zlistx_destroy (&self->kept);
        s_kept_free (&self->current);
        osmose_work_writer_free (&self->batch);
        json_decref (self->info);
        free (self);
        *self_p = NULL;
    }
}

//  Tell the daemon to give LEASE back; nothing to do if it cannot hear
static void
s_release (osmose_t *mesh, const char *lease)
{
    json_t *arguments = json_pack ("{s:s}", "lease", lease);
    json_t *reply = NULL;
    int rc = arguments? osmose_client_call (mesh, "LEASE_RELEASE", arguments, &reply): 0;
    if (rc && rc != OSMOSE_ENOLEASE)
        zsys_debug ("osmose: release of lease %s: %s", lease, osmose_strerror (rc));
    json_decref (arguments);
    json_decref (reply);
}

static int
s_hex (json_t *reply, const char *name, uint8_t *bytes, size_t size, size_t *decoded_p)
{
    const char *hex = json_string_value (json_object_get (reply, name));
    size_t decoded = 0;
    if (!hex || sodium_hex2bin (bytes, size, hex, strlen (hex), NULL, &decoded, NULL) != 0
    ||  (!decoded_p && decoded != size))
        return OSMOSE_EPROTO;
    if (decoded_p)
        *decoded_p = decoded;
    return 0;
}

//  A new CURVE DEALER to the provider (key SERVER, z85) at ENDPOINT, with
//  its monitor
static int
s_connection_new (osmose_lease_t *self, const char *server, const char *endpoint)
{
    self->socket = zsock_new (ZMQ_DEALER);
    if (!self->socket)
        return OSMOSE_ENOMEM;
    zcert_apply (self->session, self->socket);
    zsock_set_curve_serverkey (self->socket, server);
    zsock_set_linger (self->socket, 0);
    zsock_set_sndhwm (self->socket, 100000);
    zsock_set_rcvhwm (self->socket, 100000);
    zsock_set_maxmsgsize (self->socket, (int64_t) OSMOSE_WORK_MAX_FRAME);
    //  A provider that vanishes shows up as a dead connection
    zsock_set_heartbeat_ivl (self->socket, 1000);
    zsock_set_heartbeat_timeout (self->socket, 3000);
    //  Told when the connection drops, to migrate at once. The name must be
    //  new in the process: libzmq may still hold a closed lease's monitor
    static _Atomic uint64_t s_monitors = 0;
    char monitor [64];
    snprintf (monitor, sizeof (monitor), "inproc://osmose-lease-%d-%" PRIu64, (int) getpid (),
              (uint64_t) ++s_monitors);
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor)
        return OSMOSE_ENOMEM;
    if (zmq_socket_monitor (zsock_resolve (self->socket), monitor, ZMQ_EVENT_DISCONNECTED)
    ||  zsock_connect (self->monitor, "%s", monitor) < 0)
        return osmose_errno_code (zmq_errno ());
    if (zsock_connect (self->socket, "%s", endpoint) < 0)
        return OSMOSE_EINVAL;
    return 0;
}

//  Send OPEN (the token and our daemon's signature over it and the
//  session key) on the connection; its answer is read with the results
static int
s_send_open (osmose_lease_t *self)
{
    osmose_work_write_open (&self->batch, self->token, self->token_size,
                            zcert_public_key (self->session), self->signature);
    zframe_t *frame = self->batch.failed? NULL:
                      zframe_new (self->batch.data, self->batch.size);
    osmose_work_writer_reset (&self->batch);
    if (!frame || zframe_send (&frame, self->socket, 0) != 0) {
        zframe_destroy (&frame);
        return OSMOSE_ENOMEM;
    }
    self->unanswered++;
    self->open_sent_ms = zclock_mono ();
    return 0;
}

//  Connect to the provider named in the daemon's REPLY and open the lease:
//  on a connection kept from an earlier lease when there is one, else on
//  a new one
static int
s_connect (osmose_lease_t *self, json_t *reply)
{
    const char *endpoint = json_string_value (json_object_get (reply, "endpoint"));
    const char *lease = json_string_value (json_object_get (reply, "lease"));
    const char *provider = json_string_value (json_object_get (reply, "provider"));
    uint8_t provider_key [OSMOSE_KEY_SIZE];
    if (!self->session || !endpoint || strlen (endpoint) >= sizeof (self->endpoint)
    ||  !lease || strlen (lease) != 2 * OSMOSE_LEASE_ID_SIZE
    ||  !provider || strlen (provider) != OSMOSE_ID_SIZE
    ||  s_hex (reply, "provider_key", provider_key, sizeof (provider_key), NULL)
    ||  s_hex (reply, "delegation", self->signature, sizeof (self->signature), NULL)
    ||  s_hex (reply, "token", self->token, sizeof (self->token), &self->token_size))
        return OSMOSE_EPROTO;
    //  The daemon names the provider's CURVE key; older ones do not
    const char *curve = json_string_value (json_object_get (reply, "provider_curve"));
    if (curve && strlen (curve) == sizeof (self->server) - 1)
        memcpy (self->server, curve, sizeof (self->server));
    else
    if (osmose_identity_curve_z85 (provider_key, self->server))
        return OSMOSE_EPROTO;
    snprintf (self->lease_hex, sizeof (self->lease_hex), "%s", lease);
    snprintf (self->provider, sizeof (self->provider), "%s", provider);
    snprintf (self->endpoint, sizeof (self->endpoint), "%s", endpoint);
    self->local = json_is_true (json_object_get (reply, "local"));
    self->unanswered = 0;
    self->reused = s_unpark (self, provider, endpoint);
    if (!self->reused) {
        int rc = s_connection_new (self, self->server, endpoint);
        if (rc)
            return rc;
    }
    return s_send_open (self);
}

static int
s_resend (void *arg, uint64_t task_id, const char *function, const uint8_t *input,
          size_t input_size);

//  A kept connection left our OPEN unanswered: open the lease on a new
//  one and send it every task in flight
static int
s_reopen (osmose_lease_t *self)
{
    s_disconnect (self);
    zframe_destroy (&self->frame);
    osmose_work_writer_reset (&self->batch);
    self->reused = false;
    self->unanswered = 0;
    int rc = s_connection_new (self, self->server, self->endpoint);
    if (rc == 0)
        rc = s_send_open (self);
    if (rc == 0)
        rc = osmose_inflight_each (self->inflight, s_resend, self);
    return rc? rc: osmose_lease_flush (self);
}

static json_t *
s_acquire_arguments (const osmose_request_t *request, zcert_t *session, int timeout_ms)
{
    json_t *arguments = s_request_json (request);
    if (!arguments)
        return NULL;
    json_object_set_new (arguments, "timeout_ms", json_integer (timeout_ms));
    char key [2 * 32 + 1];
    sodium_bin2hex (key, sizeof (key), zcert_public_key (session), 32);
    json_object_set_new (arguments, "session_key", json_string (key));
    s_add_holder (arguments);
    return arguments;
}

static osmose_lease_t *
s_lease_new (osmose_t *mesh, const osmose_request_t *request)
{
    osmose_lease_t *self = (osmose_lease_t *) zmalloc (sizeof (osmose_lease_t));
    if (!self)
        return NULL;
    self->mesh = mesh;
    s_pool_t *pool = s_pool_of (mesh);
    self->session = pool? pool->session: NULL;     //  the pool's
    self->kept = zlistx_new ();
    self->inflight = osmose_inflight_new ();
    self->request = *request;
    if (!self->session || !self->kept || !self->inflight) {
        s_lease_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->kept, (zlistx_destructor_fn *) s_kept_destroy);
    self->on_failure = request->on_failure;
    self->failure_arg = request->failure_arg;
    self->next_task_id = 1;
    return self;
}

//  The daemon answered an acquisition: open the work connection
//  The daemon's answer as osmose_lease_json shows it: no secrets, and
//  whether the work connection was kept from an earlier lease
static void
s_public_info (osmose_lease_t *self, json_t *reply)
{
    json_object_del (reply, "token");
    json_object_del (reply, "delegation");
    json_object_set_new (reply, "connection", json_string (self->reused? "kept": "new"));
}

static int
s_acquired (osmose_lease_t *self, json_t *reply, osmose_lease_t **lease_p)
{
    int rc = s_connect (self, reply);
    if (rc) {
        //  Give the lease back: it is of no use without a connection
        if (*self->lease_hex)
            s_release (self->mesh, self->lease_hex);
        if (self->on_failure)
            self->on_failure (self, rc, *self->closed_reason? self->closed_reason:
                              "cannot open the work connection", self->failure_arg);
        s_lease_destroy (&self);
        return rc;
    }
    s_public_info (self, reply);
    self->info = json_incref (reply);
    *lease_p = self;
    return 0;
}

//  An acquisition in progress travels with its API request
static void
s_lease_free (void **lease_p)
{
    s_lease_destroy ((osmose_lease_t **) lease_p);
}

#define S_ASYNC_TIMEOUT_MS 10000     //  bidding bound of an acquisition without one

static int
s_acquire_send (osmose_t *self, const osmose_request_t *request, int timeout_ms,
                uint64_t *ticket_p)
{
    if (!self || !ticket_p || !s_request_valid (request))
        return OSMOSE_EINVAL;
    osmose_lease_t *lease = s_lease_new (self, request);
    json_t *arguments = lease? s_acquire_arguments (request, lease->session, timeout_ms): NULL;
    int rc = arguments? osmose_client_send (self, "LEASE_ACQUIRE", arguments, lease,
                                            s_lease_free, ticket_p)
                      : OSMOSE_ENOMEM;
    json_decref (arguments);
    if (rc)
        s_lease_destroy (&lease);
    return rc;
}

int
osmose_lease_acquire_async (osmose_t *self, const osmose_request_t *request,
                            uint64_t *ticket_p)
{
    return s_acquire_send (self, request, S_ASYNC_TIMEOUT_MS, ticket_p);
}

int
osmose_lease_acquire_wait (osmose_t *self, uint64_t ticket, int timeout_ms,
                           osmose_lease_t **lease_p)
{
    if (!self || !lease_p || timeout_ms < 0)
        return OSMOSE_EINVAL;
    *lease_p = NULL;
    json_t *reply = NULL;
    void *attachment = NULL;
    int rc = osmose_client_wait (self, ticket, timeout_ms, &reply, &attachment);
    osmose_lease_t *lease = (osmose_lease_t *) attachment;
    if (rc == 0 && lease) {
        rc = s_acquired (lease, reply, lease_p);
        lease = NULL;
    }
    else
    if (rc && rc != OSMOSE_ETIMEDOUT && lease && lease->on_failure) {
        const char *reason = json_string_value (json_object_get (reply, "error"));
        lease->on_failure (lease, rc, reason? reason: osmose_strerror (rc), lease->failure_arg);
    }
    s_lease_destroy (&lease);
    json_decref (reply);
    return rc;
}

int
osmose_lease_acquire (osmose_t *self, const osmose_request_t *request, int timeout_ms,
                      osmose_lease_t **lease_p)
{
    if (!lease_p || timeout_ms < 0)
        return OSMOSE_EINVAL;
    *lease_p = NULL;
    uint64_t ticket;
    int rc = s_acquire_send (self, request, timeout_ms, &ticket);
    if (rc)
        return rc;
    //  The daemon bounds the bidding by the request's timeout; give its
    //  answer a little longer to arrive
    rc = osmose_lease_acquire_wait (self, ticket, timeout_ms + 500, lease_p);
    if (rc == OSMOSE_ETIMEDOUT) {
        //  Forget the ticket: a late lease is released by its holder watch
        json_t *reply = NULL;
        void *attachment = NULL;
        if (osmose_client_wait (self, ticket, 0, &reply, &attachment) == 0) {
            //  It came after all, too late: give it back
            const char *lease = json_string_value (json_object_get (reply, "lease"));
            if (lease)
                s_release (self, lease);
        }
        json_decref (reply);
        s_lease_free (&attachment);
    }
    return rc;
}

void
osmose_lease_release (osmose_lease_t **lease_p)
{
    if (!lease_p || !*lease_p)
        return;
    osmose_lease_t *self = *lease_p;
    s_release (self->mesh, self->lease_hex);
    //  A healthy connection with nothing owed on it serves the next lease
    if (self->socket && !self->closed && osmose_inflight_size (self->inflight) == 0)
        s_park (self, json_string_value (json_object_get (self->info, "endpoint")));
    s_lease_destroy (lease_p);
}

int
osmose_lease_json (osmose_lease_t *self, char **json_p)
{
    if (!self || !json_p)
        return OSMOSE_EINVAL;
    *json_p = json_dumps (self->info, JSON_COMPACT | JSON_SORT_KEYS);
    return *json_p? 0: OSMOSE_ENOMEM;
}

const char *
osmose_lease_provider (osmose_lease_t *self)
{
    return self? self->provider: NULL;
}

bool
osmose_lease_local (osmose_lease_t *self)
{
    return self && self->local;
}

const char *
osmose_lease_last_error (osmose_lease_t *self)
{
    return self? self->closed_reason: "";
}

size_t
osmose_lease_in_flight (osmose_lease_t *self)
{
    return self? osmose_inflight_size (self->inflight) + zlistx_size (self->kept): 0;
}

int
osmose_lease_flush (osmose_lease_t *self)
{
    if (!self)
        return OSMOSE_EINVAL;
    if (self->closed)
        return self->closed;
    if (self->batch.size == 0 || self->batch.count == 0)
        return 0;
    zframe_t *frame = zframe_new (self->batch.data, self->batch.size);
    int rc = frame && zframe_send (&frame, self->socket, 0) == 0? 0: OSMOSE_ENOMEM;
    zframe_destroy (&frame);
    osmose_work_writer_reset (&self->batch);
    return rc;
}

//  Put a task in the batch, sending the batch when it is full
static int
s_batch_add (osmose_lease_t *self, uint64_t task_id, const char *function,
             const void *input, size_t input_size)
{
    if (self->batch.size + input_size + 128 > S_BATCH_BYTES && self->batch.count) {
        int rc = osmose_lease_flush (self);
        if (rc)
            return rc;
    }
    if (self->batch.size == 0)
        osmose_work_begin (&self->batch, OSMOSE_WORK_TASKS);
    osmose_work_add_task (&self->batch, task_id, function, input, input_size);
    if (self->batch.failed) {
        osmose_work_writer_reset (&self->batch);
        return OSMOSE_ENOMEM;
    }
    if (self->batch.count >= S_BATCH_TASKS || self->batch.size >= S_BATCH_BYTES)
        return osmose_lease_flush (self);
    return 0;
}

int
osmose_lease_submit (osmose_lease_t *self, const char *function, const void *input,
                     size_t input_size, uint64_t *task_id_p)
{
    if (!self || !function || !task_id_p || (input_size && !input))
        return OSMOSE_EINVAL;
    *task_id_p = 0;
    size_t name_size = strlen (function);
    if (name_size == 0 || name_size > OSMOSE_WORK_MAX_FUNCTION || !strchr (function, '.'))
        return OSMOSE_EINVAL;
    if (input_size > OSMOSE_WORK_MAX_INPUT)
        return OSMOSE_ETOOBIG;
    if (self->closed)
        return self->closed;
    if (osmose_lease_in_flight (self) >= OSMOSE_LEASE_MAX_IN_FLIGHT)
        return OSMOSE_EBUSY;
    uint64_t task_id = self->next_task_id;
    int rc = osmose_inflight_add (self->inflight, task_id, function, input, input_size);
    if (rc)
        return rc;
    self->next_task_id++;
    *task_id_p = task_id;
    //  Kept in the table: a failed send is made good by the next migration
    rc = s_batch_add (self, task_id, function, input, input_size);
    return rc == OSMOSE_ENOMEM? rc: 0;
}

//  Fill RESULT from an item of the frame being read
static void
s_result_from_item (osmose_lease_t *self, const osmose_work_item_t *item,
                    osmose_result_t *result)
{
    size_t size = item->reason_size < sizeof (self->reason) - 1?
                  item->reason_size: sizeof (self->reason) - 1;
    memcpy (self->reason, item->reason, size);
    self->reason [size] = 0;
    result->task_id = item->task_id;
    result->status = item->status;
    result->reason = self->reason;
    result->output = item->data_size? item->data: NULL;
    result->output_size = item->data_size;
}

//  The lease is over for good: tell the program why
static int
s_end (osmose_lease_t *self, int code, const char *reason)
{
    self->closed = code;
    snprintf (self->closed_reason, sizeof (self->closed_reason), "%s", reason);
    if (self->on_failure)
        self->on_failure (self, code, self->closed_reason, self->failure_arg);
    return code;
}

static int
s_resend (void *arg, uint64_t task_id, const char *function, const uint8_t *input,
          size_t input_size)
{
    return s_batch_add ((osmose_lease_t *) arg, task_id, function, input, input_size);
}

#define S_MIGRATED 1            //  internal: the lease moved, keep waiting

//  Ask our daemon for a lease for the migration described by ARGUMENTS
//  and open it; 0, or why not (the connection half-made is undone)
static int
s_reacquire (osmose_lease_t *self, json_t *arguments, json_t **reply_p, char *why,
             size_t why_size)
{
    uint64_t ticket;
    json_t *reply = NULL;
    void *attachment = NULL;
    //  The daemon bounds its bidding by timeout_ms: wait a little longer
    int rc = osmose_client_send (self->mesh, "LEASE_ACQUIRE", arguments, NULL, NULL, &ticket);
    if (rc == 0)
        rc = osmose_client_wait (self->mesh, ticket, S_OPEN_TIMEOUT_MS + 1000, &reply,
                                 &attachment);
    if (rc == OSMOSE_ETIMEDOUT) {
        //  Forget the ticket; a lease that comes late goes back
        json_t *late = NULL;
        if (osmose_client_wait (self->mesh, ticket, 0, &late, &attachment) == 0) {
            const char *lease = json_string_value (json_object_get (late, "lease"));
            if (lease)
                s_release (self->mesh, lease);
        }
        json_decref (late);
    }
    const char *detail = json_string_value (json_object_get (reply, "error"));
    snprintf (why, why_size, "%s%s", detail? detail: osmose_strerror (rc),
              rc == OSMOSE_ETIMEDOUT && !reply? " (waiting for our daemon)": "");
    if (rc == 0) {
        *self->closed_reason = 0;
        rc = s_connect (self, reply);
        if (rc) {
            const char *endpoint = json_string_value (json_object_get (reply, "endpoint"));
            snprintf (why, why_size, "%.300s (opening the lease at %.16s, %.200s)",
                      *self->closed_reason? self->closed_reason: osmose_strerror (rc),
                      self->provider, endpoint? endpoint: "no endpoint");
            s_release (self->mesh, self->lease_hex);
            s_disconnect (self);
        }
    }
    if (rc)
        json_decref (reply);
    else
        *reply_p = reply;
    return rc;
}

//  Move the lease: bid again (without the provider that vanished, when
//  EXCLUDE), open the new connection, send every task in flight again.
//  A daemon too busy to answer or a provider gone before we connected is
//  tried again for a while; a mesh with nobody to serve ends the lease.
static int
s_migrate (osmose_lease_t *self, const char *why, bool exclude)
{
    if (self->request.failure == OSMOSE_FAIL)
        return s_end (self, OSMOSE_ENOLEASE, why);
    char old_lease [sizeof (self->lease_hex)], old_provider [sizeof (self->provider)];
    snprintf (old_lease, sizeof (old_lease), "%s", self->lease_hex);
    snprintf (old_provider, sizeof (old_provider), "%s", self->provider);
    s_release (self->mesh, old_lease);
    s_disconnect (self);
    zframe_destroy (&self->frame);
    osmose_work_writer_reset (&self->batch);
    json_t *arguments = s_acquire_arguments (&self->request, self->session, S_OPEN_TIMEOUT_MS);
    json_t *excluded = json_array ();
    if (!arguments || !excluded) {
        json_decref (arguments);
        json_decref (excluded);
        return s_end (self, OSMOSE_ENOMEM, "out of memory");
    }
    if (exclude)
        json_array_append_new (excluded, json_string (old_provider));
    json_object_set (arguments, "exclude", excluded);
    json_object_set_new (arguments, "migrate", json_pack ("{s:s, s:s, s:s, s:I}",
        "lease", old_lease, "provider", old_provider, "reason", why,
        "tasks", (json_int_t) osmose_inflight_size (self->inflight)));
    json_t *reply = NULL;
    char detail [OSMOSE_WORK_MAX_REASON + 1] = "";
    int64_t deadline = zclock_mono () + S_MIGRATE_MS;
    int rc;
    while (true) {
        rc = s_reacquire (self, arguments, &reply, detail, sizeof (detail));
        bool retry = rc == OSMOSE_ETIMEDOUT || rc == OSMOSE_EDAEMON || rc == OSMOSE_EPROTO
                  || rc == OSMOSE_EVERIFY || rc == OSMOSE_ENOLEASE;
        if (rc == 0 || !retry || zclock_mono () >= deadline || zsys_interrupted)
            break;
        zsys_debug ("osmose: lease %s (%s) moving: no lease yet: %s; trying again",
                    old_lease, why, detail);
        //  A provider that took our bid and then vanished: leave it out too
        if (*self->provider && !streq (self->provider, old_provider))
            json_array_append_new (excluded, json_string (self->provider));
        zclock_sleep (S_MIGRATE_RETRY_MS);
    }
    json_decref (arguments);
    json_decref (excluded);
    if (rc) {
        char reason [OSMOSE_WORK_MAX_REASON + 1];
        snprintf (reason, sizeof (reason), "%.500s; no other lease: %.480s", why, detail);
        return s_end (self, rc, reason);
    }
    s_public_info (self, reply);
    json_decref (self->info);
    self->info = reply;
    rc = osmose_inflight_each (self->inflight, s_resend, self);
    if (rc == 0)
        rc = osmose_lease_flush (self);
    return rc? s_end (self, rc, "cannot send the tasks to the new provider"): S_MIGRATED;
}

//  OPENED on our connection: the answer to an older lease's OPEN, or to
//  ours (the last one sent); 0, or the refusal moves the lease
static int
s_on_opened (osmose_lease_t *self, const osmose_work_msg_t *msg)
{
    if (self->unanswered == 0 || --self->unanswered > 0 || msg->status == 0)
        return 0;
    char why [OSMOSE_WORK_MAX_REASON + 64];
    snprintf (why, sizeof (why), "the provider refused the lease: %.*s (%s)",
              (int) msg->reason_size, msg->reason, osmose_strerror (msg->status));
    return s_migrate (self, why, false);
}

#define S_WOKEN_SOCKET  1
#define S_WOKEN_MONITOR 2

//  1 when the monitor has an event; 0, or -1 when it cannot tell
static int
s_monitor_event (osmose_lease_t *self)
{
    uint32_t events = 0;
    size_t size = sizeof (events);
    if (zmq_getsockopt (zsock_resolve (self->monitor), ZMQ_EVENTS, &events, &size))
        return -1;
    return (events & ZMQ_POLLIN) != 0;
}

//  Sleep up to LEFT ms (-1: no limit) until the work socket may have a
//  message or the monitor has an event: S_WOKEN_SOCKET, S_WOKEN_MONITOR,
//  0 when the time ran out, -1 when the poll failed. The caller has just
//  found the socket empty, and a ZeroMQ socket's descriptor fires for
//  whatever reaches it after it was last asked; so only the monitor is
//  asked before the sleep, and after it only what fired. (zmq_poll asks
//  both before and after: eight system calls more on a task's round trip,
//  three of them between the result's arrival and its reader.)
static int
s_sleep (osmose_lease_t *self, int left)
{
    int event = s_monitor_event (self);
    if (event)
        return event < 0? -1: S_WOKEN_MONITOR;
    struct pollfd fds [2] = {
        { .fd = zsock_fd (self->socket), .events = POLLIN },
        { .fd = zsock_fd (self->monitor), .events = POLLIN }
    };
    int rc = poll (fds, 2, left);
    if (rc < 0)
        return errno == EINTR && !zsys_interrupted? S_WOKEN_SOCKET: -1;
    if (fds [1].revents && (event = s_monitor_event (self)) != 0)
        return event < 0? -1: S_WOKEN_MONITOR;
    return fds [0].revents || fds [1].revents? S_WOKEN_SOCKET: 0;
}

//  Read one frame from the provider, waiting up to TIMEOUT_MS (-1: ever)
static int
s_receive (osmose_lease_t *self, int timeout_ms)
{
    zframe_destroy (&self->frame);
    int64_t deadline = timeout_ms < 0? INT64_MAX: zclock_mono () + timeout_ms;
    while (true) {
        zframe_t *frame = zframe_recv_nowait (self->socket);
        if (!frame) {
            int64_t now = zclock_mono ();
            //  A kept connection gets S_KEPT_OPEN_MS to answer our OPEN
            int64_t reopen = self->unanswered && self->reused?
                             self->open_sent_ms + S_KEPT_OPEN_MS: INT64_MAX;
            if (now >= reopen) {
                int rc = s_reopen (self);
                if (rc)
                    return s_end (self, rc, "cannot open the lease on a new connection");
                continue;
            }
            int64_t until = reopen < deadline? reopen: deadline;
            int64_t left = until == INT64_MAX? -1: until - now;
            if (left < 0 && until != INT64_MAX)
                return OSMOSE_ETIMEDOUT;
            int woken = s_sleep (self, left);
            if (woken < 0)
                return zsys_interrupted? OSMOSE_ECANCELED: OSMOSE_EIO;
            if (woken & S_WOKEN_MONITOR)
                return s_migrate (self, "connection to the provider lost", true);
            if (!woken && left == 0 && until == deadline)
                return OSMOSE_ETIMEDOUT;
            continue;
        }
        osmose_work_msg_t msg;
        if (osmose_work_decode (zframe_data (frame), zframe_size (frame), &msg) == 0) {
            if (msg.kind == OSMOSE_WORK_OPENED) {
                int rc = s_on_opened (self, &msg);
                zframe_destroy (&frame);
                if (rc)
                    return rc;
                continue;
            }
            //  Before the answer to our OPEN, an older lease's last words
            if (self->unanswered == 0 && msg.kind == OSMOSE_WORK_RESULTS) {
                self->frame = frame;
                self->results = msg;
                return 0;
            }
            if (self->unanswered == 0 && msg.kind == OSMOSE_WORK_CLOSED) {
                char why [OSMOSE_WORK_MAX_REASON + 1];
                snprintf (why, sizeof (why), "%.*s", (int) msg.reason_size, msg.reason);
                zframe_destroy (&frame);
                return s_migrate (self, why, false);
            }
        }
        zframe_destroy (&frame);        //  nothing for us: drop it
    }
}

//  Next result from the frame in hand, or from the provider; a second
//  result for a task (it ran twice across a migration) is dropped
static int
s_next (osmose_lease_t *self, int timeout_ms, osmose_result_t *result)
{
    int64_t deadline = timeout_ms < 0? INT64_MAX: zclock_mono () + timeout_ms;
    while (true) {
        osmose_work_item_t item;
        while (self->frame && osmose_work_next (&self->results, &item))
            if (osmose_inflight_remove (self->inflight, item.task_id)) {
                s_result_from_item (self, &item, result);
                return 0;
            }
        if (self->closed)
            return self->closed;
        int64_t left = deadline == INT64_MAX? -1: deadline - zclock_mono ();
        int rc = s_receive (self, left < 0 && deadline != INT64_MAX? 0: (int) left);
        if (rc && rc != S_MIGRATED)
            return rc;
    }
}

int
osmose_lease_next_result (osmose_lease_t *self, int timeout_ms, osmose_result_t *result)
{
    if (!self || !result)
        return OSMOSE_EINVAL;
    memset (result, 0, sizeof (*result));
    s_kept_free (&self->current);
    s_kept_t *kept = (s_kept_t *) zlistx_first (self->kept);
    if (kept) {
        self->current = *kept;
        memset (kept, 0, sizeof (*kept));
        zlistx_delete (self->kept, zlistx_cursor (self->kept));
        result->task_id = self->current.task_id;
        result->status = self->current.status;
        result->reason = self->current.reason? self->current.reason: "";
        result->output = self->current.output;
        result->output_size = self->current.output_size;
        return 0;
    }
    if (osmose_inflight_size (self->inflight) == 0)
        return OSMOSE_ENOTFOUND;
    int rc = osmose_lease_flush (self);
    return rc? rc: s_next (self, timeout_ms, result);
}

//  Put RESULT aside for osmose_lease_next_result
static int
s_keep (osmose_lease_t *self, const osmose_result_t *result)
{
    s_kept_t *kept = (s_kept_t *) zmalloc (sizeof (s_kept_t));
    if (!kept)
        return OSMOSE_ENOMEM;
    kept->task_id = result->task_id;
    kept->status = result->status;
    kept->reason = strdup (result->reason);
    kept->output_size = result->output_size;
    kept->output = result->output_size? (uint8_t *) malloc (result->output_size): NULL;
    if (!kept->reason || (result->output_size && !kept->output)) {
        s_kept_destroy (&kept);
        return OSMOSE_ENOMEM;
    }
    if (result->output_size)
        memcpy (kept->output, result->output, result->output_size);
    zlistx_add_end (self->kept, kept);
    return 0;
}

int
osmose_lease_run (osmose_lease_t *self, const char *function, const void *input,
                  size_t input_size, void **output_p, size_t *output_size_p,
                  int timeout_ms)
{
    if (!output_p || !output_size_p)
        return OSMOSE_EINVAL;
    *output_p = NULL;
    *output_size_p = 0;
    uint64_t task_id;
    int rc = osmose_lease_submit (self, function, input, input_size, &task_id);
    if (rc == 0)
        rc = osmose_lease_flush (self);
    int64_t deadline = timeout_ms < 0? INT64_MAX: zclock_mono () + timeout_ms;
    while (rc == 0) {
        int64_t left = deadline == INT64_MAX? -1: deadline - zclock_mono ();
        osmose_result_t result;
        rc = s_next (self, left < 0 && deadline != INT64_MAX? 0: (int) left, &result);
        if (rc)
            break;
        if (result.task_id != task_id) {
            rc = s_keep (self, &result);
            continue;
        }
        if (result.status) {
            snprintf (self->closed_reason, sizeof (self->closed_reason), "%s", result.reason);
            return result.status;
        }
        if (result.output_size) {
            *output_p = malloc (result.output_size);
            if (!*output_p)
                return OSMOSE_ENOMEM;
            memcpy (*output_p, result.output, result.output_size);
            *output_size_p = result.output_size;
        }
        return 0;
    }
    return rc;
}
