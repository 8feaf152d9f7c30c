/*  osmose_members_sim.c: a simulated mesh of membership engines (see
    osmose_members_sim.h). Messages in flight sit in a binary heap ordered
    by delivery time; the loop delivers the earliest message or ticks the
    engine with the earliest deadline, whichever comes first (input first
    on a tie, as the daemon's actor does).
*/
#include "osmose_prelude.h"
#include "osmose_members_sim.h"
#include "osmose_members_msg.h"

uint64_t
osmose_members_sim_rand (osmose_members_sim_t *self)
{
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * UINT64_C (2685821657736338717);
}

static bool
s_before (const osmose_members_sim_flight_t *a, const osmose_members_sim_flight_t *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void
s_heap_push (osmose_members_sim_t *self, osmose_members_sim_flight_t flight)
{
    if (self->heap_size == self->heap_capacity) {
        self->heap_capacity = self->heap_capacity? self->heap_capacity * 2: 1024;
        self->heap = (osmose_members_sim_flight_t *)
            realloc (self->heap, self->heap_capacity * sizeof (osmose_members_sim_flight_t));
        assert (self->heap);
    }
    size_t i = self->heap_size++;
    while (i > 0 && s_before (&flight, &self->heap [(i - 1) / 2])) {
        self->heap [i] = self->heap [(i - 1) / 2];
        i = (i - 1) / 2;
    }
    self->heap [i] = flight;
}

static osmose_members_sim_flight_t
s_heap_pop (osmose_members_sim_t *self)
{
    osmose_members_sim_flight_t top = self->heap [0];
    osmose_members_sim_flight_t last = self->heap [--self->heap_size];
    size_t i = 0;
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= self->heap_size)
            break;
        if (child + 1 < self->heap_size && s_before (&self->heap [child + 1], &self->heap [child]))
            child++;
        if (!s_before (&self->heap [child], &last))
            break;
        self->heap [i] = self->heap [child];
        i = child;
    }
    if (self->heap_size)
        self->heap [i] = last;
    return top;
}

static int
s_index_of (osmose_members_sim_t *self, const char *id)
{
    void *value = zhashx_lookup (self->index, id);
    return value? (int) (intptr_t) value - 1: -1;
}

static void
s_on_change (void *arg, const char *id, int old_state, int new_state)
{
    osmose_members_sim_ref_t *ref = (osmose_members_sim_ref_t *) arg;
    osmose_members_sim_t *self = ref->sim;
    int subject = s_index_of (self, id);
    if (subject < 0)
        return;
    if (new_state == OSMOSE_MEMBER_SUSPECT && self->up [subject])
        self->suspicions_of_live++;
    if (new_state == OSMOSE_MEMBER_DEAD && self->up [subject])
        self->false_deaths++;
    if (subject == self->victim && self->seen_at [ref->index] < 0
    &&  (new_state == OSMOSE_MEMBER_DEAD || new_state == OSMOSE_MEMBER_LEFT))
        self->seen_at [ref->index] = self->now;
}

static void
s_sign (void *arg, const uint8_t *data, size_t size, uint8_t *signature)
{
    osmose_identity_sign ((osmose_identity_t *) arg, data, size, signature);
}

static bool
s_in_view (osmose_members_t *engine, const char *id)
{
    const char *view [128];
    size_t size = osmose_members_active_view (engine, view, 128);
    for (size_t k = 0; k < size; k++)
        if (streq (view [k], id))
            return true;
    return false;
}

//  The daemon keeps a link to each member of its active view, and answers
//  over links made to it: I and J are linked when either's view holds the
//  other
static bool
s_connected (osmose_members_sim_t *self, int i, int j)
{
    return s_in_view (self->engines [i], osmose_identity_id (self->identities [j]))
        || s_in_view (self->engines [j], osmose_identity_id (self->identities [i]));
}

static bool
s_linked (void *arg, const char *id)
{
    osmose_members_sim_ref_t *ref = (osmose_members_sim_ref_t *) arg;
    int j = s_index_of (ref->sim, id);
    return j >= 0 && ref->sim->engines [j] && s_connected (ref->sim, ref->index, j);
}

//  Member I's engine, as a fresh process would make it
static void
s_engine_new (osmose_members_sim_t *self, int i, int64_t now)
{
    char endpoint [64], name [32], location [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", 20000 + i);
    snprintf (name, sizeof (name), "node-%d", i);
    snprintf (location, sizeof (location), "site/floor%d/room%d", i % 4, i % 16);
    osmose_member_info_t info = { endpoint, name, location,
                                  osmose_identity_public (self->identities [i]) };
    osmose_members_params_t params = self->params;
    params.seed = osmose_members_sim_rand (self);
    params.require_signatures = self->signatures;
    params.sign = self->signatures? s_sign: NULL;
    params.sign_arg = self->identities [i];
    params.on_change = s_on_change;
    params.change_arg = &self->refs [i];
    params.linked = s_linked;
    params.linked_arg = &self->refs [i];
    osmose_members_destroy (&self->engines [i]);
    self->engines [i] = osmose_members_new (osmose_identity_id (self->identities [i]),
                                            &info, &params, now);
    assert (self->engines [i]);
}

osmose_members_sim_t *
osmose_members_sim_new (int n, uint64_t seed, bool signatures,
                        const osmose_members_params_t *base)
{
    osmose_members_sim_t *self = (osmose_members_sim_t *) zmalloc (sizeof (osmose_members_sim_t));
    self->n = n;
    //  splitmix64: every seed its own sequence (seed | 1 made 2k and 2k + 1
    //  the same), and never the xorshift's stuck state 0
    uint64_t mixed = seed + UINT64_C (0x9e3779b97f4a7c15);
    mixed = (mixed ^ (mixed >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
    mixed = (mixed ^ (mixed >> 27)) * UINT64_C (0x94d049bb133111eb);
    mixed ^= mixed >> 31;
    self->rng = mixed? mixed: 1;
    self->engines = (osmose_members_t **) zmalloc (n * sizeof (void *));
    self->identities = (osmose_identity_t **) zmalloc (n * sizeof (void *));
    self->refs = (osmose_members_sim_ref_t *) zmalloc (n * sizeof (osmose_members_sim_ref_t));
    self->up = (bool *) zmalloc (n * sizeof (bool));
    self->deadline = (int64_t *) zmalloc (n * sizeof (int64_t));
    self->slow_us = (int64_t *) zmalloc (n * sizeof (int64_t));
    self->cut_until = (int64_t *) zmalloc (n * sizeof (int64_t));
    self->stall_until = (int64_t *) zmalloc (n * sizeof (int64_t));
    self->bytes_out = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    self->seen_at = (int64_t *) zmalloc (n * sizeof (int64_t));
    self->index = zhashx_new ();
    self->signatures = signatures;
    if (base)
        self->params = *base;
    else
        osmose_members_params_default (&self->params);
    self->victim = -1;
    self->evidence = true;
    for (int i = 0; i < n; i++) {
        self->identities [i] = osmose_identity_new ();
        self->refs [i].sim = self;
        self->refs [i].index = i;
        zhashx_insert (self->index, osmose_identity_id (self->identities [i]),
                       (void *) (intptr_t) (i + 1));
        s_engine_new (self, i, 0);
    }
    return self;
}

void
osmose_members_sim_destroy (osmose_members_sim_t **self_p)
{
    osmose_members_sim_t *self = *self_p;
    for (int i = 0; i < self->n; i++) {
        osmose_members_destroy (&self->engines [i]);
        osmose_identity_destroy (&self->identities [i]);
    }
    while (self->heap_size) {
        osmose_members_sim_flight_t flight = s_heap_pop (self);
        free (flight.data);
    }
    free (self->heap);
    free (self->engines);
    free (self->identities);
    free (self->refs);
    free (self->up);
    free (self->deadline);
    free (self->slow_us);
    free (self->cut_until);
    free (self->stall_until);
    free (self->bytes_out);
    free (self->seen_at);
    zhashx_destroy (&self->index);
    free (self);
    *self_p = NULL;
}

//  Move node I's outbox onto the wire
void
osmose_members_sim_drain (osmose_members_sim_t *self, int i)
{
    osmose_members_out_t out;
    while (osmose_members_next_out (self->engines [i], &out)) {
        self->bytes_out [i] += out.size;
        int to = s_index_of (self, out.to);
        members_reader_t reader = { out.data, out.size, 0 };
        members_msg_header_t header;
        if (to >= 0 && members_msg_header (&reader, &header) == 0
        &&  header.type == MEMBERS_MSG_PING_REQ) {
            self->ping_reqs++;
            self->unlinked_ping_reqs += !s_connected (self, i, to);
        }
        bool lost = (double) (osmose_members_sim_rand (self) % 1000000) < self->loss * 1e6;
        if (to < 0 || lost || !self->up [i]) {
            free (out.data);
            continue;
        }
        int64_t delay = 100 + (int64_t) (osmose_members_sim_rand (self) % 1900);
        int64_t slow = self->slow_us [i] > self->slow_us [to]? self->slow_us [i]: self->slow_us [to];
        if (slow)
            delay += (int64_t) (osmose_members_sim_rand (self) % (uint64_t) slow);
        osmose_members_sim_flight_t flight = { self->now + delay, self->order++, i, to, out.data, out.size };
        s_heap_push (self, flight);
    }
    self->deadline [i] = osmose_members_deadline (self->engines [i]);
}

void
osmose_members_sim_start (osmose_members_sim_t *self, int i, int seed)
{
    self->up [i] = true;
    osmose_members_tick (self->engines [i], self->now);
    if (seed >= 0 && seed != i) {
        int rc = osmose_members_join (self->engines [i], osmose_identity_id (self->identities [seed]),
                                      "tcp://seed", osmose_identity_public (self->identities [seed]),
                                      self->now);
        assert (rc == 0);
    }
    osmose_members_sim_drain (self, i);
}

void
osmose_members_sim_run (osmose_members_sim_t *self, int64_t until)
{
    for (size_t steps = 0; ; steps++) {
        assert (steps < 100000000);
        int64_t next = self->heap_size? self->heap [0].at: INT64_MAX;
        int ticker = -1;
        for (int i = 0; i < self->n; i++) {
            int64_t at = self->deadline [i] > self->stall_until [i]?
                         self->deadline [i]: self->stall_until [i];
            if (self->up [i] && at < next) {
                next = at;
                ticker = i;
            }
        }
        if (next > until) {
            self->now = until;
            return;
        }
        if (next > self->now)
            self->now = next;
        if (ticker >= 0) {
            osmose_members_tick (self->engines [ticker], self->now);
            osmose_members_sim_drain (self, ticker);
            continue;
        }
        osmose_members_sim_flight_t flight = s_heap_pop (self);
        int to = flight.to;
        if (self->stall_until [to] > self->now) {
            //  A starved process reads its input late, before its timers
            flight.at = self->stall_until [to];
            flight.order = self->order++;
            s_heap_push (self, flight);
            continue;
        }
        bool cut = self->cut_until [to] > self->now || self->cut_until [flight.from] > self->now;
        if (self->up [to] && !cut) {
            int rc = osmose_members_receive (self->engines [to],
                osmose_identity_id (self->identities [flight.from]),
                flight.data, flight.size, self->now);
            assert (rc == 0);
            osmose_members_sim_drain (self, to);
        }
        free (flight.data);
    }
}

//  Does every live node see every live node as ALIVE?
bool
osmose_members_sim_all_see_all (osmose_members_sim_t *self)
{
    for (int i = 0; i < self->n; i++) {
        if (!self->up [i])
            continue;
        for (int j = 0; j < self->n; j++) {
            osmose_member_t member;
            if (self->up [j]
            && (osmose_members_lookup (self->engines [i], osmose_identity_id (self->identities [j]), &member)
                || member.state != OSMOSE_MEMBER_ALIVE))
                return false;
        }
    }
    return true;
}

//  Run until every live node has marked the victim (or DEADLINE passes);
//  returns the time it took from START, or -1
int64_t
osmose_members_sim_until_all_marked (osmose_members_sim_t *self, int64_t start, int64_t limit)
{
    while (self->now < start + limit) {
        osmose_members_sim_run (self, self->now + 5000);
        bool all = true;
        int64_t last = 0;
        for (int i = 0; i < self->n; i++)
            if (self->up [i]) {
                if (self->seen_at [i] < 0)
                    all = false;
                else
                if (self->seen_at [i] > last)
                    last = self->seen_at [i];
            }
        if (all)
            return last - start;
    }
    return -1;
}

void
osmose_members_sim_kill (osmose_members_sim_t *self, int victim)
{
    self->up [victim] = false;
    self->victim = victim;
    for (int i = 0; i < self->n; i++)
        self->seen_at [i] = -1;
    if (!self->evidence)
        return;
    //  A killed process resets its connections: whoever held one (it was
    //  in their active view, or they were in its) hears it at once
    const char *victim_id = osmose_identity_id (self->identities [victim]);
    const char *ids [128];
    size_t count = osmose_members_active_view (self->engines [victim], ids, 128);
    for (int i = 0; i < self->n; i++) {
        if (!self->up [i])
            continue;
        bool connected = false;
        for (size_t k = 0; k < count; k++)
            connected |= streq (ids [k], osmose_identity_id (self->identities [i]));
        const char *view [128];
        size_t size = osmose_members_active_view (self->engines [i], view, 128);
        for (size_t k = 0; k < size; k++)
            connected |= streq (view [k], victim_id);
        if (connected) {
            int rc = osmose_members_evidence_down (self->engines [i], victim_id, self->now);
            assert (rc == 0);
            osmose_members_sim_drain (self, i);
        }
    }
}

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

uint64_t
osmose_members_sim_bytes (osmose_members_sim_t *self)
{
    uint64_t total = 0;
    for (int i = 0; i < self->n; i++)
        total += self->bytes_out [i];
    return total;
}


//  Start all N through node 0, STAGGER apart; µs from the last start until
//  all see all, or -1
int64_t
osmose_members_sim_join_all (osmose_members_sim_t *self, int64_t stagger)
{
    for (int i = 0; i < self->n; i++) {
        osmose_members_sim_start (self, i, 0);
        osmose_members_sim_run (self, self->now + stagger);
    }
    int64_t last_start = self->now - stagger;
    while (!osmose_members_sim_all_see_all (self) && self->now < last_start + 10000000)
        osmose_members_sim_run (self, self->now + 2000);
    return osmose_members_sim_all_see_all (self)? self->now - last_start: -1;
}


void
osmose_members_sim_restart (osmose_members_sim_t *self, int i, int seed)
{
    s_engine_new (self, i, self->now);
    osmose_members_sim_start (self, i, seed);
}

void
osmose_members_sim_percentiles (int64_t *values, int count, int64_t *p50, int64_t *p99, int64_t *max)
{
    qsort (values, (size_t) count, sizeof (int64_t), s_cmp_i64);
    *p50 = values [count / 2];
    *p99 = values [(count * 99) / 100 < count? (count * 99) / 100: count - 1];
    *max = values [count - 1];
}

void
osmose_members_sim_kill_series (osmose_members_sim_t *self, int kills, bool evidence,
                                osmose_members_sim_kills_t *result)
{
    memset (result, 0, sizeof (*result));
    int64_t *observed = (int64_t *) malloc ((size_t) (kills * self->n + 1) * sizeof (int64_t));
    assert (observed);
    int observations = 0;
    self->evidence = evidence;
    for (int k = 0; k < kills; k++) {
        //  Let the mesh settle, so each kill starts from a random phase
        osmose_members_sim_run (self, self->now + 2000000
                                + (int64_t) (osmose_members_sim_rand (self) % 1000000));
        int alive = 0;
        for (int i = 1; i < self->n; i++)
            alive += self->up [i];
        if (alive < 2)
            break;
        int victim = 1 + (int) (osmose_members_sim_rand (self) % (uint64_t) (self->n - 1));
        while (!self->up [victim])
            victim = 1 + (victim % (self->n - 1));
        int64_t start = self->now;
        osmose_members_sim_kill (self, victim);
        int64_t took = osmose_members_sim_until_all_marked (self, start, 10000000);
        result->kills++;
        if (took < 0)
            result->worst_us = -1;
        else
        if (result->worst_us >= 0 && took > result->worst_us)
            result->worst_us = took;
        for (int i = 0; i < self->n; i++)
            if (self->up [i] && self->seen_at [i] >= 0)
                observed [observations++] = self->seen_at [i] - start;
    }
    if (observations > 0) {
        int64_t max;
        osmose_members_sim_percentiles (observed, observations, &result->p50_us,
                                        &result->p99_us, &max);
    }
    free (observed);
}
