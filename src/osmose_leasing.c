/*  osmose_leasing.c: the daemon's leasing service (see osmose_leasing.h):
    acquisitions and their fallbacks, market events, leases bound to the
    programs that hold them, the service's life cycle.
*/
#include "osmose_prelude.h"
#include "osmose_leasing_int.h"

static void
s_acquire_destroy (leasing_acquire_t **self_p)
{
    if (*self_p) {
        osmose_api_pending_destroy (&(*self_p)->reply);
        json_decref ((*self_p)->migrate);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_holder_destroy (leasing_holder_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

int64_t
leasing_start_time (int64_t pid)
{
    char path [64], line [1024];
    snprintf (path, sizeof (path), "/proc/%" PRId64 "/stat", pid);
    FILE *file = fopen (path, "r");
    int64_t start = -1;
    if (file && fgets (line, sizeof (line), file)) {
        char *field = strrchr (line, ')');
        for (int index = 2; field && index < 22; index++)
            field = strchr (field + 1, ' ');
        if (field)
            start = (int64_t) strtoull (field + 1, NULL, 10);
    }
    if (file)
        fclose (file);
    return start;
}

//  Whether the program PID started at START is in our /proc (so its
//  leases can be watched): remembered for the last few programs
static bool
s_holder_visible (osmose_leasing_t *self, int64_t pid, int64_t start)
{
    size_t slots = sizeof (self->seen_pid) / sizeof (self->seen_pid [0]);
    for (size_t slot = 0; slot < slots; slot++)
        if (self->seen_pid [slot] == pid && self->seen_start [slot] == start)
            return true;
    if (leasing_start_time (pid) != start)
        return false;
    self->seen_pid [self->seen_next] = pid;
    self->seen_start [self->seen_next] = start;
    self->seen_next = (self->seen_next + 1) % slots;
    return true;
}

//  ENTRY as a candidate from MEMBER; false when it advertises no work
//  endpoint we can read (kept anyway, resources zero, when ALL_STATES)
static bool
s_member_fill (osmose_leasing_t *self, const osmose_member_t *member, leasing_member_t *entry,
               bool all_states)
{
    memset (entry, 0, sizeof (*entry));
    osmose_resources_t resources;
    if (member->is_self) {
        resources = self->resources;
        snprintf (entry->work, sizeof (entry->work), "%s", osmose_work_endpoint (self->work));
    }
    else {
        bool ok = osmose_mesh_member_resources (self->mesh, member, &resources, entry->work,
                                                sizeof (entry->work)) == 0;
        if (!ok && !all_states)
            return false;
        if (!ok)
            memset (&resources, 0, sizeof (resources));
    }
    snprintf (entry->id, sizeof (entry->id), "%s", member->id);
    snprintf (entry->name, sizeof (entry->name), "%s", member->name);
    snprintf (entry->location, sizeof (entry->location), "%s", member->location);
    entry->state = osmose_member_state_name (member->state);
    entry->is_self = member->is_self;
    osmose_proximity_candidate_set (&entry->candidate, &resources);
    entry->candidate.id = entry->id;
    entry->candidate.location = entry->location;
    entry->candidate.rtt_us = member->is_self? 0: member->rtt_us;
    entry->rtt_floor_us = member->is_self? 0: member->rtt_floor_us;
    entry->refusing = member->is_self? osmose_leasing_refusing (self):
                      osmose_mesh_member_refusing (self->mesh, member);
    return true;
}

//  Fill the member table as candidates: alive members that advertise a
//  work endpoint; ourselves too when WITH_SELF. Returns how many.
size_t
leasing_members (osmose_leasing_t *self, bool with_self, bool only_self, bool all_states)
{
    osmose_members_t *members = osmose_mesh_members (self->mesh);
    size_t count = 0, size = osmose_members_size (members);
    for (size_t index = 0; index < size && count < LEASING_MAX_CANDIDATES; index++) {
        osmose_member_t member;
        if (osmose_members_at (members, index, &member) != 0)
            continue;
        if ((member.is_self && !with_self) || (only_self && !member.is_self))
            continue;
        if (!all_states && member.state != OSMOSE_MEMBER_ALIVE)
            continue;
        if (s_member_fill (self, &member, &self->members [count], all_states))
            count++;
    }
    return count;
}

bool
leasing_member_load (osmose_leasing_t *self, const char *id, leasing_member_t *entry)
{
    osmose_member_t member;
    return osmose_members_lookup (osmose_mesh_members (self->mesh), id, &member) == 0
        && member.state == OSMOSE_MEMBER_ALIVE && s_member_fill (self, &member, entry, false);
}

leasing_member_t *
leasing_member_find (osmose_leasing_t *self, size_t count, const char *id)
{
    for (size_t index = 0; index < count; index++)
        if (streq (self->members [index].id, id))
            return &self->members [index];
    return NULL;
}

//  Ask the market for ACQUIRE's lease among the members it may use
static int
s_bid (osmose_leasing_t *self, leasing_acquire_t *acquire)
{
    //  Other peers only: this device serves its own programs directly
    size_t count = leasing_members (self, false, false, false);
    osmose_proximity_candidate_t *candidates = (osmose_proximity_candidate_t *)
        malloc ((count? count: 1) * sizeof (*candidates));
    if (!candidates)
        return OSMOSE_ENOMEM;
    size_t kept = 0;
    for (size_t index = 0; index < count; index++) {
        bool excluded = false;
        for (size_t other = 0; other < acquire->excluded && !excluded; other++)
            excluded = streq (acquire->exclude [other], self->members [index].id);
        if (!excluded)
            candidates [kept++] = self->members [index].candidate;
    }
    count = kept;
    int rc = osmose_market_acquire (self->market, &acquire->market, candidates, count,
                                    osmose_token_now_us (), &acquire->request);
    free (candidates);
    return rc;
}

void
leasing_answer_error (osmose_leasing_t *self, leasing_acquire_t *acquire, int code, const char *text)
{
    json_t *body = json_pack ("{s:s}", "error", text);
    osmose_api_answer (self->api, &acquire->reply, code, body);
    json_decref (body);
}

//  No provider this round: fall back as the request's failure policy says.
//  Returns true when the acquisition goes on.
static bool
s_fallback (osmose_leasing_t *self, leasing_acquire_t *acquire, int status)
{
    int64_t now = osmose_token_now_us ();
    if (acquire->failure == OSMOSE_RETRY_LOCAL && !acquire->local_tried) {
        acquire->local_tried = true;
        if (leasing_local_lease (self, acquire) == 0)
            return false;       //  answered
    }
    if (acquire->failure == OSMOSE_RETRY_REMOTE && now + LEASING_RETRY_US < acquire->deadline_us) {
        acquire->request = 0;
        acquire->retry_us = now + LEASING_RETRY_US;
        return true;
    }
    leasing_answer_error (self, acquire, status == OSMOSE_ETIMEDOUT? OSMOSE_ETIMEDOUT: OSMOSE_ENOPEER,
                    acquire->failure == OSMOSE_RETRY_LOCAL?
                    "no peer can serve the request, not even this device (its policy caps?)":
                    acquire->market.latency_bound_us?
                    "no peer with room answered within the request's latency bound":
                    "no peer with room answered (all busy, at their caps, or refusing)");
    return false;
}

int
leasing_parse_request (json_t *request, leasing_acquire_t *acquire, char *error, size_t error_size)
{
    json_int_t cpus = json_integer_value (json_object_get (request, "cpus"));
    json_int_t gpus = json_integer_value (json_object_get (request, "gpus"));
    json_int_t npus = json_integer_value (json_object_get (request, "npus"));
    json_int_t memory = json_integer_value (json_object_get (request, "memory_mb"));
    json_int_t bound = json_integer_value (json_object_get (request, "latency_bound_us"));
    json_int_t ttl = json_integer_value (json_object_get (request, "ttl_ms"));
    const char *strategy = json_string_value (json_object_get (request, "strategy"));
    const char *failure = json_string_value (json_object_get (request, "failure"));
    if (cpus < 0 || gpus < 0 || npus < 0 || memory < 0 || bound < 0 || ttl < 0
    ||  cpus > OSMOSE_MARKET_MAX_COUNT || gpus > OSMOSE_MARKET_MAX_COUNT
    ||  npus > OSMOSE_MARKET_MAX_COUNT || memory > OSMOSE_MARKET_MAX_MEMORY_MB
    ||  ttl > UINT32_MAX || (cpus + gpus + npus + memory) == 0) {
        snprintf (error, error_size, "resources must be non-negative and ask for something");
        return OSMOSE_EINVAL;
    }
    acquire->market.cpus = (int) cpus;
    acquire->market.gpus = (int) gpus;
    acquire->market.npus = (int) npus;
    acquire->market.memory_mb = memory;
    acquire->market.latency_bound_us = bound;
    acquire->market.ttl_ms = (uint32_t) ttl;
    acquire->market.count = 1;
    acquire->market.extra = -1;
    acquire->strategy = strategy && streq (strategy, "local_first")?
                        OSMOSE_LOCAL_FIRST: OSMOSE_EAGER_REMOTE;
    acquire->failure = !failure || streq (failure, "retry_local")? OSMOSE_RETRY_LOCAL
                     : streq (failure, "retry_remote")? OSMOSE_RETRY_REMOTE
                     : streq (failure, "fail")? OSMOSE_FAIL: -1;
    if (acquire->failure < 0 || (strategy && !streq (strategy, "local_first")
                                          && !streq (strategy, "eager_remote"))) {
        snprintf (error, error_size, "unknown strategy or failure policy");
        return OSMOSE_EINVAL;
    }
    return 0;
}

//  LEASE_ACQUIRE {cpus, gpus, npus, memory_mb, latency_bound_us, strategy,
//  failure, ttl_ms, timeout_ms, session_key, pid, start_time}
static int
s_api_acquire (void *arg, json_t *request, json_t **reply)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    leasing_acquire_t *acquire = (leasing_acquire_t *) zmalloc (sizeof (leasing_acquire_t));
    if (!acquire)
        return OSMOSE_ENOMEM;
    char error [160] = "";
    int rc = leasing_parse_request (request, acquire, error, sizeof (error));
    const char *session = json_string_value (json_object_get (request, "session_key"));
    size_t decoded = 0;
    if (!rc && (!session || sodium_hex2bin (acquire->session_key, 32, session, strlen (session),
                                            NULL, &decoded, NULL) || decoded != 32)) {
        snprintf (error, sizeof (error), "expected session_key, 64 hex digits");
        rc = OSMOSE_EINVAL;
    }
    json_int_t timeout = json_integer_value (json_object_get (request, "timeout_ms"));
    if (timeout <= 0 || timeout > LEASING_MAX_TIMEOUT_MS)
        timeout = 5000;
    size_t index;
    json_t *excluded;
    json_array_foreach (json_object_get (request, "exclude"), index, excluded)
        if (acquire->excluded < 8 && json_is_string (excluded))
            snprintf (acquire->exclude [acquire->excluded++], OSMOSE_ID_SIZE + 1, "%s",
                      json_string_value (excluded));
    if (json_is_object (json_object_get (request, "migrate")))
        acquire->migrate = json_incref (json_object_get (request, "migrate"));
    acquire->pid = json_integer_value (json_object_get (request, "pid"));
    acquire->start_time = json_integer_value (json_object_get (request, "start_time"));
    if (acquire->pid > 0 && !s_holder_visible (self, acquire->pid, acquire->start_time)) {
        //  Not a process we can see (another pid namespace, a remote API
        //  client): its lease lives until released, or its TTL after we go
        zsys_warning ("leasing: cannot watch holder pid %" PRId64 " (not in our /proc);"
                      " its lease ends only when released", acquire->pid);
        acquire->pid = 0;
    }
    acquire->deadline_us = osmose_token_now_us () + timeout * 1000;
    if (!rc && acquire->strategy == OSMOSE_LOCAL_FIRST && leasing_local_room (self, acquire)) {
        if (!(acquire->reply = osmose_api_defer (self->api)))
            rc = OSMOSE_ENOMEM;
        else
        if (leasing_local_lease (self, acquire) == 0) {
            s_acquire_destroy (&acquire);
            return OSMOSE_API_DEFERRED;
        }
    }
    if (!rc) {
        rc = s_bid (self, acquire);
        if (rc == OSMOSE_ENOPEER) {
            //  Nobody to ask at all: the failure policy decides now
            if (!(acquire->reply = osmose_api_defer (self->api)))
                rc = OSMOSE_ENOMEM;
            else
            if (s_fallback (self, acquire, OSMOSE_ENOPEER)) {
                zlistx_add_end (self->acquires, acquire);
                return OSMOSE_API_DEFERRED;
            }
            else {
                s_acquire_destroy (&acquire);
                return OSMOSE_API_DEFERRED;     //  answered by the fallback
            }
        }
        else
        if (rc == 0 && !(acquire->reply = osmose_api_defer (self->api)))
            rc = OSMOSE_ENOMEM;
        if (rc && !*error)
            snprintf (error, sizeof (error), "%s", osmose_strerror (rc));
    }
    if (rc) {
        s_acquire_destroy (&acquire);
        *reply = json_pack ("{s:s}", "error", error);
        return rc;
    }
    zlistx_add_end (self->acquires, acquire);
    return OSMOSE_API_DEFERRED;
}

static leasing_acquire_t *
s_acquire_of (osmose_leasing_t *self, uint64_t request)
{
    for (leasing_acquire_t *acquire = (leasing_acquire_t *) zlistx_first (self->acquires); acquire;
         acquire = (leasing_acquire_t *) zlistx_next (self->acquires))
        if (acquire->request == request)
            return acquire;
    return NULL;
}

static void
s_acquire_done (osmose_leasing_t *self, leasing_acquire_t *acquire)
{
    //  The list's destructor frees what it holds
    void *handle = zlistx_find (self->acquires, acquire);
    if (handle)
        zlistx_delete (self->acquires, handle);
    else
        s_acquire_destroy (&acquire);
}

//  Answer ACQUIRE with a lease from PROVIDER: all the program needs to
//  connect to the provider directly
int
leasing_answer_lease (osmose_leasing_t *self, leasing_acquire_t *acquire, leasing_member_t *provider,
                const uint8_t *lease_id, const uint8_t *provider_key,
                const uint8_t *token, size_t token_size, const osmose_token_t *grant,
                int64_t ttl_us, bool local)
{
    char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
    sodium_bin2hex (lease, sizeof (lease), lease_id, OSMOSE_LEASE_ID_SIZE);
    uint8_t bytes [64 + OSMOSE_TOKEN_MAX_SIZE], signature [OSMOSE_SIG_SIZE];
    size_t size = osmose_work_delegation (token, token_size, acquire->session_key, bytes);
    osmose_identity_sign (self->identity, bytes, size, signature);
    char token_hex [2 * OSMOSE_TOKEN_MAX_SIZE + 1], key_hex [2 * OSMOSE_KEY_SIZE + 1];
    char signature_hex [2 * OSMOSE_SIG_SIZE + 1];
    sodium_bin2hex (token_hex, sizeof (token_hex), token, token_size);
    sodium_bin2hex (key_hex, sizeof (key_hex), provider_key, OSMOSE_KEY_SIZE);
    sodium_bin2hex (signature_hex, sizeof (signature_hex), signature, sizeof (signature));
    int hops = osmose_location_distance (self->resources.capacity.location, provider->location);
    int64_t weight = osmose_config_int (self->config, "proximity/topology_weight_us");
    //  Its CURVE key as the trust store keeps it, so that the program need
    //  not derive it (an Ed25519 to Curve25519 conversion, ~60 us a lease)
    const osmose_trust_entry_t *trusted = osmose_trust_lookup (self->trust, provider->id);
    const char *curve = trusted && memcmp (trusted->key, provider_key, OSMOSE_KEY_SIZE) == 0?
                        trusted->z85: NULL;
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:i,"
                              " s:I, s:I, s:I, s:I, s:i}",
        "lease", lease, "provider", provider->id, "name", provider->name,
        "location", provider->location, "endpoint", provider->work,
        "provider_key", key_hex, "token", token_hex, "delegation", signature_hex,
        "local", local, "cpus", grant->cpus, "gpus", grant->gpus,
        "npus", grant->npus, "memory_mb", (json_int_t) grant->memory_mb,
        "ttl_ms", (json_int_t) (ttl_us / 1000),
        "rtt_us", (json_int_t) provider->candidate.rtt_us,
        "score_us", (json_int_t) osmose_proximity_candidate_score (
            self->resources.capacity.location, &provider->candidate, weight),
        "hops", hops);
    if (body && curve)
        json_object_set_new (body, "provider_curve", json_string (curve));
    leasing_holder_t *holder = (leasing_holder_t *) zmalloc (sizeof (leasing_holder_t));
    if (!body || !holder) {
        json_decref (body);
        free (holder);
        leasing_answer_error (self, acquire, OSMOSE_ENOMEM, "out of memory");
        return OSMOSE_ENOMEM;
    }
    memcpy (holder->lease_id, lease_id, OSMOSE_LEASE_ID_SIZE);
    holder->pid = acquire->pid;
    holder->start_time = acquire->start_time;
    holder->local = local;
    holder->cpus = grant->cpus;
    holder->gpus = grant->gpus;
    holder->npus = grant->npus;
    holder->memory_mb = grant->memory_mb;
    holder->latency_bound_us = acquire->market.latency_bound_us;
    snprintf (holder->provider, sizeof (holder->provider), "%s", provider->id);
    holder->placed_us = osmose_token_now_us ();
    zhashx_update (self->holders, lease, holder);
    osmose_api_answer (self->api, &acquire->reply, 0, body);
    json_decref (body);
    if (acquire->migrate) {
        self->migrations++;
        //  We gave the old lease back ourselves (a move): say so
        const char *from = json_string_value (json_object_get (acquire->migrate, "lease"));
        const char *why = from? (const char *) zhashx_lookup (self->replaced, from): NULL;
        if (why)
            json_object_set_new (acquire->migrate, "reason", json_string (why));
        if (from)
            zhashx_delete (self->replaced, from);
        //  The life of a task across peers: where its lease went, and why
        json_t *entry = json_pack ("{s:s, s:O, s:O, s:s, s:s, s:b, s:O, s:O}",
            "event", "migrate",
            "from_lease", json_object_get (acquire->migrate, "lease"),
            "from_provider", json_object_get (acquire->migrate, "provider"),
            "to_lease", lease, "to_provider", provider->id, "local", local,
            "reason", json_object_get (acquire->migrate, "reason"),
            "tasks", json_object_get (acquire->migrate, "tasks"));
        if (entry)
            self->log (self->log_arg, OSMOSE_ENTRY_MIGRATE, entry);
    }
    return 0;
}

static void
s_acquired (osmose_leasing_t *self, const osmose_market_event_t *event)
{
    leasing_acquire_t *acquire = s_acquire_of (self, event->request);
    //  One member, not the whole table: an acquisition waits on this
    leasing_member_t entry;
    leasing_member_t *provider = leasing_member_load (self, event->peer, &entry)? &entry: NULL;
    osmose_token_t grant = { .cpus = event->cpus, .gpus = event->gpus, .npus = event->npus,
                             .memory_mb = event->memory_mb };
    if (!acquire || !acquire->reply || !provider
    ||  leasing_answer_lease (self, acquire, provider, event->lease_id, event->peer_key,
                        event->token, event->token_size, &grant, event->ttl_us, false)) {
        //  Nobody waits for it (or we cannot reach it): give it back
        if (osmose_market_release (self->market, event->lease_id, osmose_token_now_us ()) != 0)
            zsys_debug ("leasing: lease already gone");
    }
    if (acquire)
        s_acquire_done (self, acquire);
}

static void
s_done (osmose_leasing_t *self, const osmose_market_event_t *event)
{
    leasing_acquire_t *acquire = s_acquire_of (self, event->request);
    if (!acquire)
        return;
    if (event->count > 0)
        return;                 //  ACQUIRED answered it already
    //  Everyone asked refused: often only because bids of other requests
    //  (several programs, or one moving several leases, at once) hold
    //  their capacity for a moment, or because the nearest few are all
    //  full. Ask again shortly, twice at most, each time a few farther
    //  candidates too, before the failure policy has its say: FAIL means
    //  no fallback, not giving up while a peer farther off has room
    int64_t now = osmose_token_now_us ();
    if (acquire->rounds < LEASING_REBIDS && now + 50000 < acquire->deadline_us) {
        acquire->rounds++;
        if (acquire->market.extra < 0) {
            osmose_market_settings_t settings;
            osmose_market_settings (self->market, &settings);
            acquire->market.extra = settings.extra;
        }
        acquire->market.extra += LEASING_WIDEN;
        acquire->request = 0;
        acquire->retry_us = now + 5000 + (int64_t) randombytes_uniform (10000) * acquire->rounds;
        return;
    }
    if (!s_fallback (self, acquire, event->status))
        s_acquire_done (self, acquire);
}

//  Tasks and their results take the poller's fast path: their handler
//  (osmose_leasing_handle) uses the work socket and the workers. (An OPEN
//  that overtook its AWARD also sends the grant's news to the mesh, and
//  so tells the poller: leasing_lease_valid.)
static int
s_poll_hot (osmose_poller_t *poller, void *reader)
{
    int rc = osmose_poller_add (poller, reader);
    if (rc == 0)
        rc = osmose_poller_set_hot (poller, reader, true);
    return rc;
}

//  The first grant starts the workers: idle peers keep none
void
leasing_exec_require (osmose_leasing_t *self)
{
    if (self->exec || self->exec_failed)
        return;
    char trust [PATH_MAX];
    snprintf (trust, sizeof (trust), "%s/plugins.trust",
              osmose_config_str (self->config, "node/state_dir"));
    osmose_exec_config_t config = {
        .plugin_dir = getenv ("OSMOSE_PLUGIN_DIR")? NULL:
                      osmose_config_str (self->config, "exec/plugin_dir"),
        .trust_file = trust,
        .workers = (int) osmose_config_int (self->config, "exec/workers"),
        .timeout_ms = (int) osmose_config_int (self->config, "exec/task_timeout_ms"),
        .memory_mb = (int) osmose_config_int (self->config, "exec/task_memory_mb"),
    };
    self->exec = osmose_exec_new (&config);
    if (!self->exec) {
        self->exec_failed = true;
        zsys_error ("leasing: cannot start task workers; leased tasks will fail");
        return;
    }
    osmose_work_set_exec (self->work, self->exec);
    if (self->poller && s_poll_hot (self->poller, osmose_exec_handle (self->exec)) != 0)
        zsys_error ("leasing: cannot poll the executor");
}

static void
s_on_event (osmose_leasing_t *self, const osmose_market_event_t *event)
{

    switch (event->kind) {
        case OSMOSE_MARKET_ACQUIRED:
            s_acquired (self, event);
            return;
        case OSMOSE_MARKET_DONE:
            s_done (self, event);
            return;
        case OSMOSE_MARKET_LEASE_LOST: {
            char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
            sodium_bin2hex (lease, sizeof (lease), event->lease_id, OSMOSE_LEASE_ID_SIZE);
            zsys_info ("leasing: lost lease %s from %s: %s", lease, event->peer,
                       osmose_market_reason_name (event->reason));
            zhashx_delete (self->holders, lease);
            return;
        }
        case OSMOSE_MARKET_GRANT:
            leasing_exec_require (self);
            break;
        case OSMOSE_MARKET_EXPIRE:
        case OSMOSE_MARKET_RELEASE:
        case OSMOSE_MARKET_REVOKE:
            osmose_work_close_lease (self->work, event->lease_id, OSMOSE_ENOLEASE,
                event->kind == OSMOSE_MARKET_EXPIRE? "lease expired (its holder went silent)"
              : event->kind == OSMOSE_MARKET_REVOKE? "lease revoked by the provider"
              : "lease released");
            break;
        default:
            break;
    }
    //  Provider-side events are the record of who used what
    static const osmose_entry_type_t types [] = {
        [OSMOSE_MARKET_GRANT] = OSMOSE_ENTRY_LEASE_GRANT,
        [OSMOSE_MARKET_RENEW_FAIL] = OSMOSE_ENTRY_LEASE_RENEW_FAIL,
        [OSMOSE_MARKET_EXPIRE] = OSMOSE_ENTRY_LEASE_EXPIRE,
        [OSMOSE_MARKET_RELEASE] = OSMOSE_ENTRY_LEASE_RELEASE,
        [OSMOSE_MARKET_REVOKE] = OSMOSE_ENTRY_LEASE_RELEASE,
    };
    if (event->kind >= OSMOSE_MARKET_GRANT && event->kind <= OSMOSE_MARKET_REVOKE)
        self->log (self->log_arg, types [event->kind], osmose_market_event_json (event));
}

size_t
leasing_drain (osmose_leasing_t *self)
{
    size_t done = 0;
    osmose_market_out_t out;
    while (osmose_market_next_out (self->market, &out)) {
        if (osmose_mesh_send (self->mesh, out.to, OSMOSE_MSG_MARKET, out.data, out.size) != 0)
            zsys_debug ("leasing: market message to %s dropped", out.to);
        done++;
    }
    osmose_market_event_t event;
    while (osmose_market_next_event (self->market, &event)) {
        s_on_event (self, &event);
        done++;
    }
    //  Fallbacks may have queued more
    while (osmose_market_next_out (self->market, &out)) {
        if (osmose_mesh_send (self->mesh, out.to, OSMOSE_MSG_MARKET, out.data, out.size) != 0)
            zsys_debug ("leasing: market message to %s dropped", out.to);
        done++;
    }
    return done;
}

//  Give back the lease LEASE (hex) we hold for a local program, wherever
//  it is; REASON goes in the log for local leases. 0 or OSMOSE_ENOLEASE.
int
leasing_give_back (osmose_leasing_t *self, const char *lease, const uint8_t *lease_id,
             const char *reason)
{
    leasing_holder_t *holder = (leasing_holder_t *) zhashx_lookup (self->holders, lease);
    if (holder && holder->local) {
        osmose_work_close_lease (self->work, lease_id, OSMOSE_ENOLEASE, "lease released");
        self->log (self->log_arg, OSMOSE_ENTRY_LEASE_RELEASE, json_pack (
            "{s:s, s:s, s:s, s:s, s:s}", "event", "release", "lease", lease,
            "peer", osmose_identity_id (self->identity), "local", "yes", "reason", reason));
        zhashx_delete (self->holders, lease);
        return 0;
    }
    zhashx_delete (self->holders, lease);
    int rc = osmose_market_release (self->market, lease_id, osmose_token_now_us ());
    leasing_drain (self);
    return rc;
}

static void
s_on_market_message (void *arg, const char *from, const uint8_t *body, size_t size)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    const osmose_trust_entry_t *sender = osmose_trust_lookup (self->trust, from);
    if (!sender)
        return;                 //  the transport only admits trusted keys
    if (osmose_market_receive (self->market, sender->key, body, size, osmose_token_now_us ()) != 0)
        zsys_debug ("leasing: malformed market message from %s", from);
    leasing_drain (self);
}

static void
s_on_member_change (void *arg, const char *id, int old_state, int new_state)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    //  Its leases are lost; the market queues what to say, drained later
    if (new_state == OSMOSE_MEMBER_DEAD || new_state == OSMOSE_MEMBER_LEFT)
        osmose_market_peer_down (self->market, id, osmose_token_now_us ());
}

//  LEASE_RELEASE {lease}
static int
s_api_release (void *arg, json_t *request, json_t **reply)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    const char *lease = json_string_value (json_object_get (request, "lease"));
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    size_t decoded = 0;
    if (!lease || sodium_hex2bin (lease_id, sizeof (lease_id), lease, strlen (lease),
                                  NULL, &decoded, NULL) || decoded != sizeof (lease_id)) {
        *reply = json_pack ("{s:s}", "error", "expected a lease id, 32 hex digits");
        return OSMOSE_EINVAL;
    }
    int rc = leasing_give_back (self, lease, lease_id, "released");
    *reply = json_pack ("{s:s, s:b}", "lease", lease, "released", rc == 0);
    return rc;
}

int
leasing_lease_valid (void *arg, const uint8_t *lease_id, const uint8_t *client_key)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    char lease [2 * OSMOSE_LEASE_ID_SIZE + 1];
    sodium_bin2hex (lease, sizeof (lease), lease_id, OSMOSE_LEASE_ID_SIZE);
    leasing_holder_t *holder = (leasing_holder_t *) zhashx_lookup (self->holders, lease);
    if (holder && holder->local)
        return memcmp (client_key, osmose_identity_public (self->identity), OSMOSE_KEY_SIZE)?
               OSMOSE_ENOLEASE: 0;
    int rc = osmose_market_lease_valid (self->market, lease_id, client_key, osmose_token_now_us ());
    //  An OPEN that overtook its AWARD granted the lease just now: the
    //  GRANT (log entry, the first one's workers) must come before its tasks
    //  Sends there (rare: once a lease) may have taken the wake-up of a
    //  message on their links, so the next wait asks every socket
    if (rc == 0 && leasing_drain (self) && self->poller)
        osmose_poller_touched (self->poller);
    return rc;
}

osmose_leasing_t *
osmose_leasing_new (osmose_config_t *config, osmose_identity_t *identity,
                    osmose_trust_t *trust, osmose_mesh_t *mesh, osmose_api_t *api,
                    const osmose_resources_t *resources,
                    osmose_leasing_log_fn *log, void *log_arg,
                    char *error, size_t error_size)
{
    assert (config && identity && trust && mesh && api && resources && log);
    osmose_leasing_t *self = (osmose_leasing_t *) zmalloc (sizeof (osmose_leasing_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->config = config;
    self->identity = identity;
    self->trust = trust;
    self->mesh = mesh;
    self->api = api;
    self->log = log;
    self->log_arg = log_arg;
    self->resources = *resources;
    self->acquires = zlistx_new ();
    self->holders = zhashx_new ();
    self->replaced = zhashx_new ();
    self->members = (leasing_member_t *) malloc (LEASING_MAX_CANDIDATES * sizeof (leasing_member_t));
    self->market = osmose_market_new (identity, NULL);
    if (!self->acquires || !self->holders || !self->replaced || !self->members
    ||  !self->market) {
        snprintf (error, error_size, "out of memory");
        osmose_leasing_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->acquires, (zlistx_destructor_fn *) s_acquire_destroy);
    zhashx_set_destructor (self->replaced, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_destructor (self->holders, (zhashx_destructor_fn *) s_holder_destroy);
    zhashx_set_duplicator (self->replaced, (zhashx_duplicator_fn *) strdup);
    if (osmose_market_apply_config (self->market, config) != 0) {
        snprintf (error, error_size, "policy/allow: expected * or peer ids (16 hex digits)");
        osmose_leasing_destroy (&self);
        return NULL;
    }
    osmose_market_set_resources (self->market, resources);
    //  The work endpoint listens where the mesh does, unless told otherwise
    char bind [256];
    const char *work_bind = osmose_config_str (config, "work/bind");
    const char *mesh_bind = osmose_config_str (config, "mesh/bind");
    const char *colon = strrchr (mesh_bind, ':');
    if (*work_bind)
        snprintf (bind, sizeof (bind), "%s", work_bind);
    else
        snprintf (bind, sizeof (bind), "%.*s:*", colon? (int) (colon - mesh_bind): 0, mesh_bind);
    self->work = osmose_work_new (identity, bind, osmose_config_str (config, "work/advertise"),
                                  osmose_mesh_endpoint (mesh), NULL,
                                  leasing_lease_valid, self, error, error_size);
    if (!self->work) {
        osmose_leasing_destroy (&self);
        return NULL;
    }
    osmose_mesh_set_handler (mesh, OSMOSE_MSG_MARKET, s_on_market_message, self);
    osmose_mesh_set_on_change (mesh, s_on_member_change, self);
    if (osmose_api_register (api, "LEASE_ACQUIRE", s_api_acquire, self)
    ||  osmose_api_register (api, "LEASE_RELEASE", s_api_release, self)
    ||  osmose_api_register (api, "LEASES", leasing_api_leases, self)
    ||  osmose_api_register (api, "NEAR", leasing_api_near, self)
    ||  osmose_api_register (api, "TASKS", leasing_api_tasks, self)) {
        snprintf (error, error_size, "cannot register lease commands");
        osmose_leasing_destroy (&self);
        return NULL;
    }
    return self;
}

void
osmose_leasing_destroy (osmose_leasing_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_leasing_t *self = *self_p;
        if (self->market) {
            //  Hand everything back, so nobody waits for a TTL to notice
            int64_t now = osmose_token_now_us ();
            osmose_market_lease_info_t info [64];
            size_t held;
            while ((held = osmose_market_leases (self->market, OSMOSE_MARKET_HELD, info, 64, now))) {
                size_t released = 0;
                for (size_t index = 0; index < held && index < 64; index++)
                    released += osmose_market_release (self->market, info [index].lease_id, now) == 0;
                if (!released)
                    break;
            }
            osmose_market_withdraw (self->market, OSMOSE_MARKET_WITHDRAWN, now);
            osmose_market_out_t out;
            while (osmose_market_next_out (self->market, &out))
                if (osmose_mesh_send (self->mesh, out.to, OSMOSE_MSG_MARKET, out.data, out.size))
                    zsys_debug ("leasing: goodbye to %s dropped", out.to);
            osmose_mesh_set_handler (self->mesh, OSMOSE_MSG_MARKET, NULL, NULL);
            osmose_mesh_set_on_change (self->mesh, NULL, NULL);
        }
        //  Leaseholders hear it first-hand and move their tasks at once
        if (self->work)
            osmose_work_close_all (self->work, OSMOSE_ENOLEASE, "provider shutting down");
        osmose_work_destroy (&self->work);
        osmose_exec_destroy (&self->exec);
        osmose_market_destroy (&self->market);
        zlistx_destroy (&self->acquires);
        zhashx_destroy (&self->holders);
        zhashx_destroy (&self->replaced);
        free (self->members);
        free (self);
        *self_p = NULL;
    }
}

int
osmose_leasing_apply_config (osmose_leasing_t *self)
{
    assert (self);
    return osmose_market_apply_config (self->market, self->config);
}

//  Hand every lease back for REASON, and say so in the log
static void
s_withdraw (osmose_leasing_t *self, osmose_market_reason_t reason, const char *why,
            json_t *detail)
{
    int revoked = osmose_market_withdraw (self->market, reason, osmose_token_now_us ());
    zsys_notice ("leasing: %s: handing back %d lease(s)", why, revoked);
    json_t *entry = json_pack ("{s:s, s:s, s:i}", "event", "withdraw",
                               "reason", osmose_market_reason_name (reason), "leases", revoked);
    if (entry && detail)
        json_object_update (entry, detail);
    json_decref (detail);
    self->log (self->log_arg, OSMOSE_ENTRY_POLICY, entry);
    leasing_drain (self);
}

//  The owner's own work comes first: leases go back to their holders (who
//  move their tasks elsewhere) on a draining battery, under a load past
//  policy/load_max_percent, or when the owner cut the caps below what is lent
static void
s_owner_check (osmose_leasing_t *self, const osmose_resources_t *resources)
{
    int minimum = (int) osmose_config_int (self->config, "policy/battery_min_percent");
    bool low = resources->capacity.power == OSMOSE_POWER_BATTERY
            && resources->load.battery_percent >= 0
            && resources->load.battery_percent < minimum;
    if (low && !self->battery_low) {
        char why [64];
        snprintf (why, sizeof (why), "battery at %d%% (below %d%%)",
                  resources->load.battery_percent, minimum);
        s_withdraw (self, OSMOSE_MARKET_BATTERY, why, json_pack ("{s:i, s:i}",
                    "battery_percent", resources->load.battery_percent, "minimum", minimum));
    }
    self->battery_low = low;
    int64_t load_max = osmose_config_int (self->config, "policy/load_max_percent");
    bool overloaded = osmose_resources_overloaded (resources, load_max);
    if (overloaded && !self->overloaded)
        s_withdraw (self, OSMOSE_MARKET_WITHDRAWN, "load past policy/load_max_percent",
                    json_pack ("{s:i, s:I}", "load_percent_per_cpu",
                               osmose_resources_load_percent (resources),
                               "maximum", (json_int_t) load_max));
    self->overloaded = overloaded;
    int free_cpus, free_gpus, free_npus;
    int64_t free_memory;
    osmose_market_free (self->market, &free_cpus, &free_gpus, &free_npus, &free_memory);
    if (free_cpus < 0 || free_gpus < 0 || free_npus < 0 || free_memory < 0)
        s_withdraw (self, OSMOSE_MARKET_POLICY, "lease caps now below what is lent", NULL);
}

void
osmose_leasing_set_resources (osmose_leasing_t *self, const osmose_resources_t *resources)
{
    assert (self && resources);
    self->resources = *resources;
    osmose_market_set_resources (self->market, resources);
    s_owner_check (self, resources);
}

int
osmose_leasing_poll_on (osmose_leasing_t *self, osmose_poller_t *poller)
{
    assert (self && poller);
    self->poller = poller;
    int rc = s_poll_hot (poller, osmose_work_socket (self->work));
    if (rc == 0 && self->exec)
        rc = s_poll_hot (poller, osmose_exec_handle (self->exec));
    return rc;
}

bool
osmose_leasing_handle (osmose_leasing_t *self, void *which)
{
    assert (self);
    if (which == osmose_work_socket (self->work))
        osmose_work_handle (self->work);
    else
    if (self->exec && which == osmose_exec_handle (self->exec))
        osmose_work_process (self->work);
    else
        return false;
    return true;
}

int64_t
osmose_leasing_timeout (osmose_leasing_t *self)
{
    assert (self);
    int64_t now = osmose_token_now_us ();
    int64_t due = osmose_market_deadline (self->market);
    if (self->next_holder_check < due && zhashx_size (self->holders))
        due = self->next_holder_check;
    for (leasing_acquire_t *acquire = (leasing_acquire_t *) zlistx_first (self->acquires); acquire;
         acquire = (leasing_acquire_t *) zlistx_next (self->acquires)) {
        if (acquire->retry_us && acquire->retry_us < due)
            due = acquire->retry_us;
        if (acquire->deadline_us < due)
            due = acquire->deadline_us;
    }
    if (due == OSMOSE_MARKET_NEVER)
        return 60000;
    return due <= now? 0: (due - now + 999) / 1000;
}

//  Release leases whose programs have died
static void
s_check_holders (osmose_leasing_t *self, int64_t now)
{
    if (now < self->next_holder_check)
        return;
    self->next_holder_check = now + LEASING_HOLDER_CHECK_US;
    leasing_replace (self, now);
    zlistx_t *dead = zlistx_new ();
    if (!dead)
        return;
    zlistx_set_destructor (dead, (zlistx_destructor_fn *) zstr_free);
    for (leasing_holder_t *holder = (leasing_holder_t *) zhashx_first (self->holders); holder;
         holder = (leasing_holder_t *) zhashx_next (self->holders))
        if (holder->pid > 0 && leasing_start_time (holder->pid) != holder->start_time)
            //  A copy: giving the lease back frees the table's key
            zlistx_add_end (dead, strdup ((const char *) zhashx_cursor (self->holders)));
    for (const char *lease = (const char *) zlistx_first (dead); lease;
         lease = (const char *) zlistx_next (dead)) {
        leasing_holder_t *holder = (leasing_holder_t *) zhashx_lookup (self->holders, lease);
        if (!holder)
            continue;           //  gone meanwhile
        zsys_info ("leasing: holder %" PRId64 " of lease %s exited; releasing it",
                   holder->pid, lease);
        uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
        memcpy (lease_id, holder->lease_id, sizeof (lease_id));
        if (leasing_give_back (self, lease, lease_id, "holder exited") != 0)
            zsys_debug ("leasing: lease %s already gone", lease);
    }
    zlistx_destroy (&dead);
}

//  Acquisitions past their time, and RETRY_REMOTE rounds that are due
static void
s_check_acquires (osmose_leasing_t *self, int64_t now)
{
    //  Handles first: acting on one may end it and move the list's cursor
    size_t count = zlistx_size (self->acquires);
    if (count == 0)
        return;
    leasing_acquire_t **due = (leasing_acquire_t **) calloc (count, sizeof (*due));
    size_t taken = 0;
    for (leasing_acquire_t *acquire = (leasing_acquire_t *) zlistx_first (self->acquires);
         due && acquire; acquire = (leasing_acquire_t *) zlistx_next (self->acquires))
        if ((acquire->retry_us && now >= acquire->retry_us)
        ||  (now >= acquire->deadline_us && acquire->request == 0))
            due [taken++] = acquire;
    for (size_t index = 0; index < taken; index++) {
        leasing_acquire_t *acquire = due [index];
        if (acquire->retry_us && now >= acquire->retry_us) {
            acquire->retry_us = 0;
            int rc = s_bid (self, acquire);
            if (rc && !s_fallback (self, acquire, rc))
                s_acquire_done (self, acquire);
        }
        else {
            leasing_answer_error (self, acquire, OSMOSE_ETIMEDOUT, "no lease within the timeout");
            s_acquire_done (self, acquire);
        }
    }
    free (due);
}

void
osmose_leasing_tick (osmose_leasing_t *self)
{
    assert (self);
    int64_t now = osmose_token_now_us ();
    if (osmose_market_deadline (self->market) <= now)
        osmose_market_tick (self->market, now);
    s_check_acquires (self, now);
    s_check_holders (self, now);
    leasing_sample (self, now);
    if (now >= self->next_owner_check) {
        //  Battery and load change between adverts: look every 2 s
        self->next_owner_check = now + 2000000;
        osmose_resources_t fresh = self->resources;
        if (osmose_resources_probe_load (&fresh, getenv (OSMOSE_RESOURCES_SYSROOT_ENV),
                                         self->config) == 0) {
            self->resources.load = fresh.load;
            osmose_market_set_resources (self->market, &self->resources);
            s_owner_check (self, &self->resources);
        }
    }
    leasing_drain (self);
}

const char *
osmose_leasing_work_endpoint (osmose_leasing_t *self)
{
    assert (self);
    return osmose_work_endpoint (self->work);
}

const char *
osmose_leasing_refusing (osmose_leasing_t *self)
{
    assert (self);
    return self->battery_low? "battery": self->overloaded? "load": NULL;
}
