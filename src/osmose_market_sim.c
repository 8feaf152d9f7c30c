/*  osmose_market_sim.c: in-process mesh of market engines (see
    osmose_market_sim.h).
*/
#include "osmose_prelude.h"
#include "osmose_market_sim.h"

#define S_MAX_STEPS 10000000

typedef struct {
    int64_t at_us;
    uint64_t sequence;
    int from, to;
    uint8_t *data;
    size_t size;
} s_flight_t;

struct _osmose_market_sim_t {
    int peers;
    osmose_identity_t *identity [OSMOSE_MARKET_SIM_MAX_PEERS];
    osmose_market_t *engine [OSMOSE_MARKET_SIM_MAX_PEERS];
    osmose_resources_t resources [OSMOSE_MARKET_SIM_MAX_PEERS];
    int64_t delay [OSMOSE_MARKET_SIM_MAX_PEERS][OSMOSE_MARKET_SIM_MAX_PEERS];
    bool cut [OSMOSE_MARKET_SIM_MAX_PEERS];
    bool frozen [OSMOSE_MARKET_SIM_MAX_PEERS];
    int64_t now_us;
    s_flight_t *flights;
    size_t flight_count, flight_size;
    uint64_t sequence;
    uint64_t messages;
    osmose_market_sim_event_t *events;
    size_t event_count, event_size;
};

osmose_market_sim_t *
osmose_market_sim_new (int peers, const char **locations, int cpus,
                       int64_t base_us, int64_t hop_us)
{
    assert (peers > 0 && peers <= OSMOSE_MARKET_SIM_MAX_PEERS);
    osmose_market_sim_t *self = (osmose_market_sim_t *) calloc (1, sizeof (osmose_market_sim_t));
    assert (self);
    self->peers = peers;
    self->now_us = INT64_C (1000000000000000);
    for (int peer = 0; peer < peers; peer++) {
        self->identity [peer] = osmose_identity_new ();
        assert (self->identity [peer]);
        self->engine [peer] = osmose_market_new (self->identity [peer], NULL);
        assert (self->engine [peer]);
        osmose_resources_t *resources = &self->resources [peer];
        resources->capacity.cpus = cpus;
        resources->capacity.memory_total_mb = 8192;
        resources->capacity.power = OSMOSE_POWER_WALL;
        resources->capacity.lease_cpus = cpus;
        resources->capacity.lease_memory_mb = 4096;
        resources->load.memory_free_mb = 8192;
        resources->load.battery_percent = -1;
        resources->load.load1 = 10;
        if (locations)
            snprintf (resources->capacity.location, sizeof (resources->capacity.location),
                      "%s", locations [peer]);
        else
            snprintf (resources->capacity.location, sizeof (resources->capacity.location),
                      "b/f%d/r%d/d%d", peer / 4, peer / 2, peer);
        osmose_market_set_resources (self->engine [peer], resources);
    }
    for (int from = 0; from < peers; from++)
        for (int to = 0; to < peers; to++) {
            int hops = osmose_location_distance (self->resources [from].capacity.location,
                                                 self->resources [to].capacity.location);
            self->delay [from][to] = base_us + hop_us * hops;
        }
    return self;
}

void
osmose_market_sim_destroy (osmose_market_sim_t **self_p)
{
    assert (self_p);
    osmose_market_sim_t *self = *self_p;
    if (!self)
        return;
    for (int peer = 0; peer < self->peers; peer++) {
        osmose_market_destroy (&self->engine [peer]);
        osmose_identity_destroy (&self->identity [peer]);
    }
    for (size_t index = 0; index < self->flight_count; index++)
        free (self->flights [index].data);
    free (self->flights);
    free (self->events);
    free (self);
    *self_p = NULL;
}

osmose_market_t *
osmose_market_sim_engine (osmose_market_sim_t *self, int peer)
{
    assert (peer >= 0 && peer < self->peers);
    return self->engine [peer];
}

osmose_identity_t *
osmose_market_sim_identity (osmose_market_sim_t *self, int peer)
{
    assert (peer >= 0 && peer < self->peers);
    return self->identity [peer];
}

const char *
osmose_market_sim_id (osmose_market_sim_t *self, int peer)
{
    return osmose_identity_id (osmose_market_sim_identity (self, peer));
}

int
osmose_market_sim_peer (osmose_market_sim_t *self, const char *id)
{
    for (int peer = 0; peer < self->peers; peer++)
        if (streq (osmose_identity_id (self->identity [peer]), id))
            return peer;
    return -1;
}

int64_t
osmose_market_sim_now (osmose_market_sim_t *self)
{
    return self->now_us;
}

void
osmose_market_sim_set_delay (osmose_market_sim_t *self, int64_t delay_us)
{
    for (int from = 0; from < self->peers; from++)
        for (int to = 0; to < self->peers; to++)
            self->delay [from][to] = delay_us;
}

void
osmose_market_sim_set_link_delay (osmose_market_sim_t *self, int from, int to, int64_t delay_us)
{
    assert (from >= 0 && from < self->peers && to >= 0 && to < self->peers);
    self->delay [from][to] = delay_us;
}

int64_t
osmose_market_sim_delay (osmose_market_sim_t *self, int from, int to)
{
    return self->delay [from][to];
}

osmose_resources_t *
osmose_market_sim_resources (osmose_market_sim_t *self, int peer)
{
    assert (peer >= 0 && peer < self->peers);
    return &self->resources [peer];
}

void
osmose_market_sim_apply (osmose_market_sim_t *self, int peer)
{
    osmose_market_set_resources (self->engine [peer], &self->resources [peer]);
}

void
osmose_market_sim_cut (osmose_market_sim_t *self, int peer, bool cut)
{
    self->cut [peer] = cut;
}

void
osmose_market_sim_freeze (osmose_market_sim_t *self, int peer, bool frozen)
{
    self->frozen [peer] = frozen;
}

size_t
osmose_market_sim_candidates (osmose_market_sim_t *self, int client, bool with_self,
                              osmose_proximity_candidate_t *candidates)
{
    size_t count = 0;
    for (int peer = 0; peer < self->peers; peer++) {
        if (peer == client && !with_self)
            continue;
        osmose_proximity_candidate_t *candidate = &candidates [count++];
        osmose_proximity_candidate_set (candidate, &self->resources [peer]);
        candidate->id = osmose_identity_id (self->identity [peer]);
        candidate->rtt_us = self->delay [client][peer] + self->delay [peer][client];
    }
    return count;
}

//  Keep the events PEER's engine emitted
static void
s_collect (osmose_market_sim_t *self, int peer)
{
    osmose_market_event_t event;
    while (osmose_market_next_event (self->engine [peer], &event)) {
        if (self->event_count == self->event_size) {
            self->event_size = self->event_size? self->event_size * 2: 64;
            self->events = (osmose_market_sim_event_t *) realloc (
                self->events, self->event_size * sizeof (osmose_market_sim_event_t));
            assert (self->events);
        }
        self->events [self->event_count++] = (osmose_market_sim_event_t) {
            .peer = peer, .at_us = self->now_us, .event = event
        };
    }
}

void
osmose_market_sim_pump (osmose_market_sim_t *self, int peer)
{
    osmose_market_out_t out;
    while (osmose_market_next_out (self->engine [peer], &out)) {
        int to = osmose_market_sim_peer (self, out.to);
        assert (to >= 0);
        if (self->cut [peer] || self->cut [to])
            continue;
        if (self->flight_count == self->flight_size) {
            self->flight_size = self->flight_size? self->flight_size * 2: 64;
            self->flights = (s_flight_t *) realloc (self->flights,
                                                    self->flight_size * sizeof (s_flight_t));
            assert (self->flights);
        }
        uint8_t *data = (uint8_t *) malloc (out.size);
        assert (data);
        memcpy (data, out.data, out.size);
        self->flights [self->flight_count++] = (s_flight_t) {
            .at_us = self->now_us + self->delay [peer][to], .sequence = self->sequence++,
            .from = peer, .to = to, .data = data, .size = out.size
        };
    }
    s_collect (self, peer);
}

int
osmose_market_sim_acquire (osmose_market_sim_t *self, int client,
                           const osmose_market_request_t *request, uint64_t *request_p)
{
    osmose_proximity_candidate_t candidates [OSMOSE_MARKET_SIM_MAX_PEERS];
    size_t count = osmose_market_sim_candidates (self, client, false, candidates);
    int rc = osmose_market_acquire (self->engine [client], request, candidates, count,
                                    self->now_us, request_p);
    osmose_market_sim_pump (self, client);
    return rc;
}

bool
osmose_market_sim_step (osmose_market_sim_t *self, int64_t until_us)
{
    //  Next thing to happen: a delivery or a timer
    int64_t next = INT64_MAX;
    size_t first = SIZE_MAX;
    for (size_t index = 0; index < self->flight_count; index++) {
        const s_flight_t *flight = &self->flights [index];
        if (flight->at_us < next
        ||  (flight->at_us == next && flight->sequence < self->flights [first].sequence)) {
            next = flight->at_us;
            first = index;
        }
    }
    int64_t timer = INT64_MAX;
    for (int peer = 0; peer < self->peers; peer++) {
        int64_t deadline = osmose_market_deadline (self->engine [peer]);
        if (!self->frozen [peer] && deadline < timer)
            timer = deadline;
    }
    if (timer < self->now_us)
        timer = self->now_us;
    if ((next > until_us && timer > until_us) || (next == INT64_MAX && timer == INT64_MAX))
        return false;
    if (first != SIZE_MAX && next <= timer) {
        s_flight_t flight = self->flights [first];
        memmove (&self->flights [first], &self->flights [first + 1],
                 (self->flight_count - first - 1) * sizeof (s_flight_t));
        self->flight_count--;
        self->now_us = next;
        if (!self->frozen [flight.to] && !self->cut [flight.to]) {
            self->messages++;
            int rc = osmose_market_receive (self->engine [flight.to],
                                            osmose_identity_public (self->identity [flight.from]),
                                            flight.data, flight.size, self->now_us);
            assert (rc == 0);
            osmose_market_sim_pump (self, flight.to);
        }
        free (flight.data);
        return true;
    }
    self->now_us = timer;
    for (int peer = 0; peer < self->peers; peer++)
        if (!self->frozen [peer] && osmose_market_deadline (self->engine [peer]) <= timer) {
            osmose_market_tick (self->engine [peer], self->now_us);
            osmose_market_sim_pump (self, peer);
        }
    return true;
}

void
osmose_market_sim_run (osmose_market_sim_t *self, int64_t until_us)
{
    for (int steps = 0; steps < S_MAX_STEPS && osmose_market_sim_step (self, until_us); steps++)
        ;
    if (self->now_us < until_us)
        self->now_us = until_us;
}

int
osmose_market_sim_run_request (osmose_market_sim_t *self, int peer, uint64_t request,
                               int64_t until_us)
{
    size_t from = 0;            //  it may be done already
    for (int steps = 0; steps < S_MAX_STEPS; steps++) {
        for (; from < self->event_count; from++) {
            const osmose_market_sim_event_t *event = &self->events [from];
            if (event->peer == peer && event->event.kind == OSMOSE_MARKET_DONE
            &&  event->event.request == request)
                return (int) from;
        }
        if (!osmose_market_sim_step (self, until_us))
            break;
    }
    return -1;
}

size_t
osmose_market_sim_events (osmose_market_sim_t *self, const osmose_market_sim_event_t **events)
{
    *events = self->events;
    return self->event_count;
}

uint64_t
osmose_market_sim_messages (osmose_market_sim_t *self)
{
    return self->messages;
}

void
osmose_market_sim_clear (osmose_market_sim_t *self)
{
    self->event_count = 0;
}

int
osmose_market_sim_find (osmose_market_sim_t *self, int peer, osmose_market_event_kind_t kind,
                        size_t from)
{
    for (size_t index = from; index < self->event_count; index++)
        if ((peer < 0 || self->events [index].peer == peer)
        &&  self->events [index].event.kind == kind)
            return (int) index;
    return -1;
}
