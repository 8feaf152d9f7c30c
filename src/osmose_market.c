/*  osmose_market.c: the market engine's life cycle, settings, queues,
    dispatch and queries (see osmose_market.h). The provider role lives in
    osmose_market_provider.c, the client role in osmose_market_client.c.
*/
#include "osmose_prelude.h"
#include "osmose_market_int.h"

static const osmose_market_settings_t s_defaults = {
    .ttl_us = INT64_C (10000000),
    .heartbeat_us = INT64_C (2000000),
    .hold_us = INT64_C (500000),
    .bid_timeout_min_us = INT64_C (5000),
    .bid_timeout_max_us = INT64_C (200000),
    .bid_grace_us = INT64_C (500),
    .extra = 2,
    .battery_min_percent = 20,
    .topology_weight_us = 1000
};

osmose_market_t *
osmose_market_new (osmose_identity_t *identity, osmose_config_t *config)
{
    assert (identity);
    osmose_market_t *self = (osmose_market_t *) calloc (1, sizeof (osmose_market_t));
    if (!self)
        return NULL;
    self->identity = identity;
    snprintf (self->id, sizeof (self->id), "%s", osmose_identity_id (identity));
    self->settings = s_defaults;
    self->allow_all = true;
    self->resources.load.battery_percent = -1;
    //  Random start: request ids of a restarted daemon do not meet the old ones
    self->next_request = 1 + randombytes_uniform (UINT32_MAX);
    self->scratch = (osmose_market_msg_t *) malloc (sizeof (osmose_market_msg_t));
    self->reply = (osmose_market_msg_t *) malloc (sizeof (osmose_market_msg_t));
    if (!self->scratch || !self->reply) {
        free (self->scratch);
        free (self->reply);
        free (self);
        return NULL;
    }
    if (config && osmose_market_apply_config (self, config) != 0)
        osmose_market_destroy (&self);
    return self;
}

void
osmose_market_destroy (osmose_market_t **self_p)
{
    assert (self_p);
    osmose_market_t *self = *self_p;
    if (!self)
        return;
    osmose_market_client_destroy (self);
    for (size_t index = self->out_head; index < self->out_tail; index++)
        free (self->out [index].data);
    free (self->out);
    free (self->handed);
    free (self->events);
    free (self->grants);
    free (self->held);
    free (self->allow);
    free (self->scratch);
    free (self->reply);
    free (self);
    *self_p = NULL;
}

int
osmose_market_apply_config (osmose_market_t *self, osmose_config_t *config)
{
    assert (self && config);
    osmose_market_settings_t settings = self->settings;
    settings.ttl_us = osmose_config_int (config, "lease/ttl_ms") * 1000;
    settings.heartbeat_us = osmose_config_int (config, "lease/heartbeat_ms") * 1000;
    settings.battery_min_percent = (int) osmose_config_int (config, "policy/battery_min_percent");
    settings.load_max_percent = osmose_config_int (config, "policy/load_max_percent");
    settings.topology_weight_us = osmose_config_int (config, "proximity/topology_weight_us");
    int rc = osmose_market_set_allow (self, osmose_config_str (config, "policy/allow"));
    if (rc == 0)
        rc = osmose_market_set_settings (self, &settings);
    return rc;
}

void
osmose_market_settings (osmose_market_t *self, osmose_market_settings_t *settings)
{
    assert (self && settings);
    *settings = self->settings;
}

int
osmose_market_set_settings (osmose_market_t *self, const osmose_market_settings_t *settings)
{
    assert (self && settings);
    //  Tokens carry TTLs in ms on the wire, bids carry holds as u32 us
    if (settings->ttl_us < 1000 || settings->ttl_us > INT64_C (86400000000)
    ||  settings->heartbeat_us < 1000
    ||  settings->hold_us < 1 || settings->hold_us > UINT32_MAX
    ||  settings->bid_timeout_min_us < 1
    ||  settings->bid_timeout_max_us < settings->bid_timeout_min_us
    ||  settings->bid_grace_us < 0
    ||  settings->extra < 0 || settings->extra > OSMOSE_MARKET_MAX_ASKED
    ||  settings->battery_min_percent < 0 || settings->battery_min_percent > 100
    ||  settings->load_max_percent < 0
    ||  settings->topology_weight_us < 0)
        return OSMOSE_EINVAL;
    self->settings = *settings;
    return 0;
}

static bool
s_valid_id (const char *id, size_t size)
{
    if (size != OSMOSE_ID_SIZE)
        return false;
    for (size_t index = 0; index < size; index++)
        if (!isxdigit ((unsigned char) id [index]) || isupper ((unsigned char) id [index]))
            return false;
    return true;
}

int
osmose_market_set_allow (osmose_market_t *self, const char *allow)
{
    assert (self);
    if (!allow)
        return OSMOSE_EINVAL;
    //  Validate every word: a typo must not silently lock everyone out
    bool all = false;
    size_t words = 0;
    for (const char *cursor = allow; *cursor; ) {
        size_t span = strcspn (cursor, " \t");
        if (span == 1 && *cursor == '*')
            all = true;
        else
        if (span > 0 && !s_valid_id (cursor, span))
            return OSMOSE_EINVAL;
        words += span > 0;
        cursor += span;
        cursor += strspn (cursor, " \t");
    }
    if (all && words > 1)
        return OSMOSE_EINVAL;
    //  Kept as " id id " so that a lookup is one strstr of " id "
    char *list = (char *) malloc (strlen (allow) + 3);
    if (!list)
        return OSMOSE_ENOMEM;
    snprintf (list, strlen (allow) + 3, " %s ", allow);
    for (char *cursor = list; *cursor; cursor++)
        if (*cursor == '\t')
            *cursor = ' ';
    free (self->allow);
    self->allow = list;
    self->allow_all = all;
    return 0;
}

void
osmose_market_set_resources (osmose_market_t *self, const osmose_resources_t *resources)
{
    assert (self && resources);
    self->resources = *resources;
}

//  The engine's one outgoing message, KIND, fixed fields zeroed: clearing
//  the whole 9 KB (token and renewal arrays) for every small message would
//  cost more than building it. Valid until the next call.
osmose_market_msg_t *
osmose_market_outgoing (osmose_market_t *self, osmose_market_kind_t kind)
{
    osmose_market_msg_t *msg = self->reply;
    memset (msg, 0, offsetof (osmose_market_msg_t, token));
    msg->count = 0;
    msg->kind = kind;
    return msg;
}

//  Grow *ARRAY of *SIZE items so it holds COUNT + 1; false when out of memory
bool
osmose_market_grow (void **array, size_t *size, size_t count, size_t item_size)
{
    if (count < *size)
        return true;
    size_t new_size = *size? *size * 2: 16;
    void *grown = realloc (*array, new_size * item_size);
    if (!grown)
        return false;
    *array = grown;
    *size = new_size;
    return true;
}

int
osmose_market_send (osmose_market_t *self, const char *to, const osmose_market_msg_t *msg)
{
    uint8_t buffer [OSMOSE_MARKET_MSG_MAX];
    int size = osmose_market_msg_encode (msg, buffer, sizeof (buffer));
    assert (size > 0);          //  we only build what we can encode
    if (self->out_head == self->out_tail)
        self->out_head = self->out_tail = 0;
    if (!osmose_market_grow ((void **) &self->out, &self->out_size, self->out_tail,
                             sizeof (osmose_market_queued_t)))
        return OSMOSE_ENOMEM;
    uint8_t *data = (uint8_t *) malloc ((size_t) size);
    if (!data)
        return OSMOSE_ENOMEM;
    memcpy (data, buffer, (size_t) size);
    osmose_market_queued_t *queued = &self->out [self->out_tail++];
    snprintf (queued->to, sizeof (queued->to), "%s", to);
    queued->data = data;
    queued->size = (size_t) size;
    self->counters.messages_out++;
    return 0;
}

void
osmose_market_emit (osmose_market_t *self, const osmose_market_event_t *event)
{
    if (self->event_head == self->event_tail)
        self->event_head = self->event_tail = 0;
    //  Out of memory loses the event, not the engine's consistency
    if (osmose_market_grow ((void **) &self->events, &self->event_size, self->event_tail,
                            sizeof (osmose_market_event_t)))
        self->events [self->event_tail++] = *event;
}

int
osmose_market_receive (osmose_market_t *self, const uint8_t *from_key,
                       const uint8_t *data, size_t size, int64_t now_us)
{
    assert (self && from_key);
    self->now_us = now_us;
    self->counters.messages_in++;
    osmose_market_msg_t *msg = self->scratch;  //  9 KB: not on the stack
    if (osmose_market_msg_decode (data, size, msg) != 0) {
        self->counters.malformed++;
        return OSMOSE_EPROTO;
    }
    char from [OSMOSE_ID_SIZE + 1];
    osmose_identity_id_of (from_key, from);
    switch (msg->kind) {
        case OSMOSE_MARKET_MSG_CALL_FOR_BIDS:
        case OSMOSE_MARKET_MSG_AWARD:
        case OSMOSE_MARKET_MSG_REJECT:
        case OSMOSE_MARKET_MSG_RENEW:
        case OSMOSE_MARKET_MSG_RELEASE:
            osmose_market_provider_receive (self, from, from_key, msg);
            break;
        default:
            osmose_market_client_receive (self, from, from_key, msg);
            break;
    }
    return 0;
}

void
osmose_market_tick (osmose_market_t *self, int64_t now_us)
{
    assert (self);
    self->now_us = now_us;
    osmose_market_provider_tick (self);
    osmose_market_client_tick (self);
}

int64_t
osmose_market_deadline (osmose_market_t *self)
{
    assert (self);
    int64_t provider = osmose_market_provider_deadline (self);
    int64_t client = osmose_market_client_deadline (self);
    return provider < client? provider: client;
}

bool
osmose_market_next_out (osmose_market_t *self, osmose_market_out_t *out)
{
    assert (self && out);
    free (self->handed);
    self->handed = NULL;
    while (self->out_head < self->out_tail) {
        osmose_market_queued_t queued = self->out [self->out_head++];
        if (streq (queued.to, self->id)) {
            //  To ourselves: handle now, which may queue more
            int rc = osmose_market_receive (self, osmose_identity_public (self->identity),
                                            queued.data, queued.size, self->now_us);
            assert (rc == 0);
            free (queued.data);
            continue;
        }
        self->handed = queued.data;
        snprintf (out->to, sizeof (out->to), "%s", queued.to);
        out->data = queued.data;
        out->size = queued.size;
        return true;
    }
    return false;
}

bool
osmose_market_next_event (osmose_market_t *self, osmose_market_event_t *event)
{
    assert (self && event);
    if (self->event_head == self->event_tail)
        return false;
    *event = self->events [self->event_head++];
    return true;
}

int
osmose_market_lease_valid (osmose_market_t *self, const uint8_t *lease_id,
                           const uint8_t *client_key, int64_t now_us)
{
    assert (self && lease_id);
    for (size_t index = 0; index < self->grant_count; index++) {
        osmose_market_grant_t *grant = &self->grants [index];
        if (memcmp (grant->lease_id, lease_id, OSMOSE_LEASE_ID_SIZE) != 0)
            continue;
        if ((client_key && memcmp (grant->client_key, client_key, OSMOSE_KEY_SIZE) != 0)
        ||  now_us >= grant->expiry_us)
            return OSMOSE_ENOLEASE;
        if (grant->state == S_RESERVED) {
            //  The client's program opens the lease its bid carried before
            //  the AWARD came: only an awarded bid reaches a program
            self->now_us = now_us;
            osmose_market_provider_grant (self, grant);
        }
        return 0;
    }
    return OSMOSE_ENOLEASE;
}

size_t
osmose_market_leases (osmose_market_t *self, osmose_market_role_t role,
                      osmose_market_lease_info_t *info, size_t max, int64_t now_us)
{
    assert (self && (info || max == 0));
    size_t found = 0;
    if (role == OSMOSE_MARKET_GRANTED) {
        for (size_t index = 0; index < self->grant_count; index++) {
            const osmose_market_grant_t *grant = &self->grants [index];
            if (grant->state != S_LEASED)
                continue;
            if (found < max) {
                osmose_market_lease_info_t *entry = &info [found];
                memset (entry, 0, sizeof (*entry));
                entry->role = role;
                memcpy (entry->lease_id, grant->lease_id, OSMOSE_LEASE_ID_SIZE);
                snprintf (entry->peer, sizeof (entry->peer), "%s", grant->client);
                entry->cpus = grant->cpus;
                entry->gpus = grant->gpus;
                entry->npus = grant->npus;
                entry->memory_mb = grant->memory_mb;
                entry->ttl_left_us = grant->expiry_us > now_us? grant->expiry_us - now_us: 0;
                entry->renewals = grant->renewals;
            }
            found++;
        }
        return found;
    }
    for (size_t index = 0; index < self->held_count; index++) {
        const osmose_market_held_t *held = &self->held [index];
        if (found < max) {
            osmose_market_lease_info_t *entry = &info [found];
            memset (entry, 0, sizeof (*entry));
            entry->role = OSMOSE_MARKET_HELD;
            memcpy (entry->lease_id, held->lease_id, OSMOSE_LEASE_ID_SIZE);
            snprintf (entry->peer, sizeof (entry->peer), "%s", held->provider);
            entry->cpus = held->cpus;
            entry->gpus = held->gpus;
            entry->npus = held->npus;
            entry->memory_mb = held->memory_mb;
            entry->ttl_left_us = held->expiry_us > now_us? held->expiry_us - now_us: 0;
            entry->renewing = held->renew_sent_us != 0;
            entry->renewals = held->renewals;
            entry->token_size = held->token_size;
            memcpy (entry->token, held->token, held->token_size);
        }
        found++;
    }
    return found;
}

void
osmose_market_free (osmose_market_t *self, int *cpus, int *gpus, int *npus,
                    int64_t *memory_mb)
{
    assert (self);
    int used_cpus, used_gpus, used_npus;
    int64_t used_memory;
    osmose_market_provider_used (self, &used_cpus, &used_gpus, &used_npus, &used_memory);
    const osmose_resources_capacity_t *capacity = &self->resources.capacity;
    if (cpus)
        *cpus = capacity->lease_cpus - used_cpus;
    if (gpus)
        *gpus = capacity->lease_gpus - used_gpus;
    if (npus)
        *npus = capacity->lease_npus - used_npus;
    if (memory_mb)
        *memory_mb = capacity->lease_memory_mb - used_memory;
}

const osmose_market_counters_t *
osmose_market_counters (osmose_market_t *self)
{
    assert (self);
    return &self->counters;
}

const char *
osmose_market_id (osmose_market_t *self)
{
    assert (self);
    return self->id;
}

size_t
osmose_market_pending (osmose_market_t *self)
{
    assert (self);
    return self->request_count;
}
