/*  osmose_members_test.c: the self-test of osmose_members.

    Unit checks of the wire format and the trust rules, a bounded fuzz
    loop, then whole meshes of engines in simulated time over a simulated
    network (per-message delay 0.1-2 ms, optional loss, optional slow
    peers, partitions), where we measure what the daemon's targets are
    about: time until all see all, time until all mark a killed peer DEAD,
    false positives over minutes, and idle bytes per second per peer.
*/
#include "osmose_prelude.h"
#include "osmose_members.h"
#include "osmose_members_msg.h"
#include "osmose_identity.h"

typedef struct {
    int64_t at;
    uint64_t order;
    int from, to;
    uint8_t *data;
    size_t size;
} s_flight_t;

typedef struct _s_sim_t s_sim_t;

typedef struct {
    s_sim_t *sim;
    int index;
} s_node_ref_t;

struct _s_sim_t {
    int n;
    osmose_members_t **engines;
    osmose_identity_t **identities;
    s_node_ref_t *refs;
    bool *up;                   //  started and not killed
    int64_t *deadline;
    int64_t *slow_us;           //  extra delay, up to this, on its messages
    int64_t *cut_until;         //  partitioned until (drop to/from)
    int64_t *stall_until;       //  frozen until (CPU starved: no ticks, input waits)
    uint64_t *bytes_out;
    zhashx_t *index;            //  id -> index + 1
    s_flight_t *heap;
    size_t heap_size, heap_capacity;
    uint64_t order;
    uint64_t rng;
    int64_t now;
    double loss;
    bool evidence;              //  kills reset connections (transport evidence)
    int victim;                 //  whose DEAD/LEFT we time
    int64_t *seen_at;           //  per observer: when the victim was marked
    int false_deaths;           //  live members marked DEAD
    int suspicions_of_live;
};

static uint64_t
s_rand (s_sim_t *sim)
{
    uint64_t x = sim->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sim->rng = x;
    return x * UINT64_C (2685821657736338717);
}

static bool
s_before (const s_flight_t *a, const s_flight_t *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void
s_heap_push (s_sim_t *sim, s_flight_t flight)
{
    if (sim->heap_size == sim->heap_capacity) {
        sim->heap_capacity = sim->heap_capacity? sim->heap_capacity * 2: 1024;
        sim->heap = (s_flight_t *) realloc (sim->heap, sim->heap_capacity * sizeof (s_flight_t));
        assert (sim->heap);
    }
    size_t i = sim->heap_size++;
    while (i > 0 && s_before (&flight, &sim->heap [(i - 1) / 2])) {
        sim->heap [i] = sim->heap [(i - 1) / 2];
        i = (i - 1) / 2;
    }
    sim->heap [i] = flight;
}

static s_flight_t
s_heap_pop (s_sim_t *sim)
{
    s_flight_t top = sim->heap [0];
    s_flight_t last = sim->heap [--sim->heap_size];
    size_t i = 0;
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= sim->heap_size)
            break;
        if (child + 1 < sim->heap_size && s_before (&sim->heap [child + 1], &sim->heap [child]))
            child++;
        if (!s_before (&sim->heap [child], &last))
            break;
        sim->heap [i] = sim->heap [child];
        i = child;
    }
    if (sim->heap_size)
        sim->heap [i] = last;
    return top;
}

static int
s_index_of (s_sim_t *sim, const char *id)
{
    void *value = zhashx_lookup (sim->index, id);
    return value? (int) (intptr_t) value - 1: -1;
}

static void
s_on_change (void *arg, const char *id, int old_state, int new_state)
{
    s_node_ref_t *ref = (s_node_ref_t *) arg;
    s_sim_t *sim = ref->sim;
    int subject = s_index_of (sim, id);
    if (subject < 0)
        return;
    if (new_state == OSMOSE_MEMBER_SUSPECT && sim->up [subject])
        sim->suspicions_of_live++;
    if (new_state == OSMOSE_MEMBER_DEAD && sim->up [subject])
        sim->false_deaths++;
    if (subject == sim->victim && sim->seen_at [ref->index] < 0
    &&  (new_state == OSMOSE_MEMBER_DEAD || new_state == OSMOSE_MEMBER_LEFT))
        sim->seen_at [ref->index] = sim->now;
}

static void
s_sign (void *arg, const uint8_t *data, size_t size, uint8_t *signature)
{
    osmose_identity_sign ((osmose_identity_t *) arg, data, size, signature);
}

static s_sim_t *
s_sim_new (int n, uint64_t seed, bool signatures)
{
    s_sim_t *sim = (s_sim_t *) zmalloc (sizeof (s_sim_t));
    sim->n = n;
    sim->rng = seed | 1;
    sim->engines = (osmose_members_t **) zmalloc (n * sizeof (void *));
    sim->identities = (osmose_identity_t **) zmalloc (n * sizeof (void *));
    sim->refs = (s_node_ref_t *) zmalloc (n * sizeof (s_node_ref_t));
    sim->up = (bool *) zmalloc (n * sizeof (bool));
    sim->deadline = (int64_t *) zmalloc (n * sizeof (int64_t));
    sim->slow_us = (int64_t *) zmalloc (n * sizeof (int64_t));
    sim->cut_until = (int64_t *) zmalloc (n * sizeof (int64_t));
    sim->stall_until = (int64_t *) zmalloc (n * sizeof (int64_t));
    sim->bytes_out = (uint64_t *) zmalloc (n * sizeof (uint64_t));
    sim->seen_at = (int64_t *) zmalloc (n * sizeof (int64_t));
    sim->index = zhashx_new ();
    sim->victim = -1;
    sim->evidence = true;
    for (int i = 0; i < n; i++) {
        sim->identities [i] = osmose_identity_new ();
        sim->refs [i].sim = sim;
        sim->refs [i].index = i;
        zhashx_insert (sim->index, osmose_identity_id (sim->identities [i]),
                       (void *) (intptr_t) (i + 1));
        char endpoint [64], name [32], location [64];
        snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", 20000 + i);
        snprintf (name, sizeof (name), "node-%d", i);
        snprintf (location, sizeof (location), "site/floor%d/room%d", i % 4, i % 16);
        osmose_member_info_t info = { endpoint, name, location,
                                      osmose_identity_public (sim->identities [i]) };
        osmose_members_params_t params;
        osmose_members_params_default (&params);
        params.seed = s_rand (sim);
        params.require_signatures = signatures;
        params.sign = signatures? s_sign: NULL;
        params.sign_arg = sim->identities [i];
        params.on_change = s_on_change;
        params.change_arg = &sim->refs [i];
        sim->engines [i] = osmose_members_new (osmose_identity_id (sim->identities [i]),
                                               &info, &params, 0);
        assert (sim->engines [i]);
    }
    return sim;
}

static void
s_sim_destroy (s_sim_t **sim_p)
{
    s_sim_t *sim = *sim_p;
    for (int i = 0; i < sim->n; i++) {
        osmose_members_destroy (&sim->engines [i]);
        osmose_identity_destroy (&sim->identities [i]);
    }
    while (sim->heap_size) {
        s_flight_t flight = s_heap_pop (sim);
        free (flight.data);
    }
    free (sim->heap);
    free (sim->engines);
    free (sim->identities);
    free (sim->refs);
    free (sim->up);
    free (sim->deadline);
    free (sim->slow_us);
    free (sim->cut_until);
    free (sim->stall_until);
    free (sim->bytes_out);
    free (sim->seen_at);
    zhashx_destroy (&sim->index);
    free (sim);
    *sim_p = NULL;
}

//  Move node I's outbox onto the wire
static void
s_drain (s_sim_t *sim, int i)
{
    osmose_members_out_t out;
    while (osmose_members_next_out (sim->engines [i], &out)) {
        sim->bytes_out [i] += out.size;
        int to = s_index_of (sim, out.to);
        bool lost = (double) (s_rand (sim) % 1000000) < sim->loss * 1e6;
        if (to < 0 || lost || !sim->up [i]) {
            free (out.data);
            continue;
        }
        int64_t delay = 100 + (int64_t) (s_rand (sim) % 1900);
        int64_t slow = sim->slow_us [i] > sim->slow_us [to]? sim->slow_us [i]: sim->slow_us [to];
        if (slow)
            delay += (int64_t) (s_rand (sim) % (uint64_t) slow);
        s_flight_t flight = { sim->now + delay, sim->order++, i, to, out.data, out.size };
        s_heap_push (sim, flight);
    }
    sim->deadline [i] = osmose_members_deadline (sim->engines [i]);
}

static void
s_sim_start (s_sim_t *sim, int i, int seed)
{
    sim->up [i] = true;
    osmose_members_tick (sim->engines [i], sim->now);
    if (seed >= 0 && seed != i) {
        int rc = osmose_members_join (sim->engines [i], osmose_identity_id (sim->identities [seed]),
                                      "tcp://seed", osmose_identity_public (sim->identities [seed]),
                                      sim->now);
        assert (rc == 0);
    }
    s_drain (sim, i);
}

static void
s_sim_run (s_sim_t *sim, int64_t until)
{
    for (size_t steps = 0; ; steps++) {
        assert (steps < 100000000);
        int64_t next = sim->heap_size? sim->heap [0].at: INT64_MAX;
        int ticker = -1;
        for (int i = 0; i < sim->n; i++) {
            int64_t at = sim->deadline [i] > sim->stall_until [i]?
                         sim->deadline [i]: sim->stall_until [i];
            if (sim->up [i] && at < next) {
                next = at;
                ticker = i;
            }
        }
        if (next > until) {
            sim->now = until;
            return;
        }
        if (next > sim->now)
            sim->now = next;
        if (ticker >= 0) {
            osmose_members_tick (sim->engines [ticker], sim->now);
            s_drain (sim, ticker);
            continue;
        }
        s_flight_t flight = s_heap_pop (sim);
        int to = flight.to;
        if (sim->stall_until [to] > sim->now) {
            //  A starved process reads its input late, before its timers
            flight.at = sim->stall_until [to];
            flight.order = sim->order++;
            s_heap_push (sim, flight);
            continue;
        }
        bool cut = sim->cut_until [to] > sim->now || sim->cut_until [flight.from] > sim->now;
        if (sim->up [to] && !cut) {
            int rc = osmose_members_receive (sim->engines [to],
                osmose_identity_id (sim->identities [flight.from]),
                flight.data, flight.size, sim->now);
            assert (rc == 0);
            s_drain (sim, to);
        }
        free (flight.data);
    }
}

//  Does every live node see every live node as ALIVE?
static bool
s_all_see_all (s_sim_t *sim)
{
    for (int i = 0; i < sim->n; i++) {
        if (!sim->up [i])
            continue;
        for (int j = 0; j < sim->n; j++) {
            osmose_member_t member;
            if (sim->up [j]
            && (osmose_members_lookup (sim->engines [i], osmose_identity_id (sim->identities [j]), &member)
                || member.state != OSMOSE_MEMBER_ALIVE))
                return false;
        }
    }
    return true;
}

//  Run until every live node has marked the victim (or DEADLINE passes);
//  returns the time it took from START, or -1
static int64_t
s_until_all_marked (s_sim_t *sim, int64_t start, int64_t limit)
{
    while (sim->now < start + limit) {
        s_sim_run (sim, sim->now + 5000);
        bool all = true;
        int64_t last = 0;
        for (int i = 0; i < sim->n; i++)
            if (sim->up [i]) {
                if (sim->seen_at [i] < 0)
                    all = false;
                else
                if (sim->seen_at [i] > last)
                    last = sim->seen_at [i];
            }
        if (all)
            return last - start;
    }
    return -1;
}

static void
s_kill (s_sim_t *sim, int victim)
{
    sim->up [victim] = false;
    sim->victim = victim;
    for (int i = 0; i < sim->n; i++)
        sim->seen_at [i] = -1;
    if (!sim->evidence)
        return;
    //  A killed process resets its connections: whoever held one (it was
    //  in their active view, or they were in its) hears it at once
    const char *victim_id = osmose_identity_id (sim->identities [victim]);
    const char *ids [128];
    size_t count = osmose_members_active_view (sim->engines [victim], ids, 128);
    for (int i = 0; i < sim->n; i++) {
        if (!sim->up [i])
            continue;
        bool connected = false;
        for (size_t k = 0; k < count; k++)
            connected |= streq (ids [k], osmose_identity_id (sim->identities [i]));
        const char *view [128];
        size_t size = osmose_members_active_view (sim->engines [i], view, 128);
        for (size_t k = 0; k < size; k++)
            connected |= streq (view [k], victim_id);
        if (connected) {
            int rc = osmose_members_evidence_down (sim->engines [i], victim_id, sim->now);
            assert (rc == 0);
            s_drain (sim, i);
        }
    }
}

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

static uint64_t
s_total_bytes (s_sim_t *sim)
{
    uint64_t total = 0;
    for (int i = 0; i < sim->n; i++)
        total += sim->bytes_out [i];
    return total;
}


//  Start all N through node 0, STAGGER apart; µs from the last start until
//  all see all, or -1
static int64_t
s_join_all (s_sim_t *sim, int64_t stagger)
{
    for (int i = 0; i < sim->n; i++) {
        s_sim_start (sim, i, 0);
        s_sim_run (sim, sim->now + stagger);
    }
    int64_t last_start = sim->now - stagger;
    while (!s_all_see_all (sim) && sim->now < last_start + 10000000)
        s_sim_run (sim, sim->now + 2000);
    return s_all_see_all (sim)? sim->now - last_start: -1;
}

static void
s_test_basics (bool verbose)
{
    assert (osmose_members_hops ("a/b/c", "a/d") == 3);
    assert (osmose_members_hops ("", "") == 0);
    assert (osmose_members_hops ("a/b", "/a/b/") == 0);
    assert (osmose_members_hops ("a/b", "a/b/c") == 1);
    assert (osmose_members_hops ("x", "") == 1);
    assert (streq (osmose_member_state_name (OSMOSE_MEMBER_SUSPECT), "suspect"));

    //  Bad arguments are refused, not asserted
    osmose_identity_t *identity = osmose_identity_new ();
    osmose_member_info_t info = { "tcp://127.0.0.1:1", "n", "a/b",
                                  osmose_identity_public (identity) };
    assert (osmose_members_new ("0123456789abcdef", &info, NULL, 0) == NULL);
    assert (osmose_members_new ("not-an-id", &info, NULL, 0) == NULL);
    osmose_identity_destroy (&identity);

    //  Two members: B joins through A and each learns the other's info
    s_sim_t *sim = s_sim_new (2, 7, true);
    assert (s_join_all (sim, 1000) >= 0);
    osmose_member_t member;
    const char *a_id = osmose_identity_id (sim->identities [0]);
    int rc = osmose_members_lookup (sim->engines [1], a_id, &member);
    assert (rc == 0);
    assert (streq (member.endpoint, "tcp://127.0.0.1:20000"));
    assert (streq (member.name, "node-0"));
    assert (streq (member.location, "site/floor0/room0"));
    assert (memcmp (member.public_key, osmose_identity_public (sim->identities [0]), 32) == 0);
    assert (member.state == OSMOSE_MEMBER_ALIVE && !member.is_self);
    assert (osmose_members_size (sim->engines [1]) == 2);
    assert (osmose_members_at (sim->engines [1], 2, &member) == OSMOSE_ERANGE);
    assert (osmose_members_lookup (sim->engines [1], "ffffffffffffffff", &member) == OSMOSE_ENOTFOUND);

    //  Probes measure RTT; the app blob travels with a new incarnation
    s_sim_run (sim, sim->now + 2000000);
    rc = osmose_members_lookup (sim->engines [1], a_id, &member);
    assert (rc == 0 && member.rtt_us > 0 && member.rtt_us < 5000);
    uint32_t incarnation = member.incarnation;
    uint8_t big [OSMOSE_MEMBERS_APP_MAX + 1] = { 0 };
    assert (osmose_members_set_app (sim->engines [0], big, sizeof (big), sim->now) == OSMOSE_ETOOBIG);
    rc = osmose_members_set_app (sim->engines [0], (const uint8_t *) "advert", 6, sim->now);
    assert (rc == 0);
    s_drain (sim, 0);
    s_sim_run (sim, sim->now + 500000);
    rc = osmose_members_lookup (sim->engines [1], a_id, &member);
    assert (rc == 0 && member.app_size == 6 && memcmp (member.app, "advert", 6) == 0);
    assert (member.incarnation > incarnation);
    const char *view [8];
    assert (osmose_members_active_view (sim->engines [1], view, 8) == 1);
    assert (streq (view [0], a_id));
    if (verbose)
        printf ("\n   two members: join, info, RTT %" PRId64 " us, app blob OK", member.rtt_us);
    s_sim_destroy (&sim);
}

//  Third parties cannot speak for a member: forged ALIVE records are
//  refused, and a member refutes suspicion about itself
static void
s_test_trust (bool verbose)
{
    s_sim_t *sim = s_sim_new (3, 11, true);
    assert (s_join_all (sim, 1000) >= 0);
    osmose_members_t *b = sim->engines [1];
    const char *a_id = osmose_identity_id (sim->identities [0]);
    const char *c_id = osmose_identity_id (sim->identities [2]);
    uint8_t a_idb [8];
    assert (members_msg_id_parse (a_id, a_idb));
    osmose_member_t before;
    int rc = osmose_members_lookup (b, a_id, &before);
    assert (rc == 0);
    for (int variant = 0; variant < 2; variant++) {
        //  C claims A is alive at a higher incarnation: with A's key but
        //  C's signature, then with C's own key
        osmose_identity_t *signer = sim->identities [2];
        const uint8_t *key = variant == 0? osmose_identity_public (sim->identities [0]):
                                           osmose_identity_public (signer);
        uint8_t info [MEMBERS_INFO_MAX], buffer [MEMBERS_INFO_MAX + 32], message [MEMBERS_RECORD_MAX + 32];
        size_t info_size = members_msg_encode_info (info, before.incarnation + 5, key,
                                              "tcp://evil", "evil", "", NULL, 0);
        size_t signed_size = members_msg_signed_bytes (buffer, a_idb, info, info_size);
        osmose_identity_sign (signer, buffer, signed_size, info + info_size - OSMOSE_SIG_SIZE);
        members_writer_t writer = { message, sizeof (message), 0, false };
        members_msg_header_t header = { .type = MEMBERS_MSG_GOSSIP, .count = 1 };
        members_msg_write_header (&writer, &header);
        members_msg_write_record (&writer, OSMOSE_MEMBER_ALIVE, a_idb, before.incarnation + 5,
                            NULL, info, info_size);
        assert (!writer.failed);
        rc = osmose_members_receive (b, c_id, message, writer.pos, sim->now);
        assert (rc == 0);
    }
    osmose_members_stats_t stats;
    osmose_members_stats (b, &stats);
    assert (stats.rejected_records == 2);
    osmose_member_t after;
    rc = osmose_members_lookup (b, a_id, &after);
    assert (rc == 0);
    assert (after.incarnation == before.incarnation && streq (after.endpoint, before.endpoint));

    //  C says A is suspect: A hears of it and refutes with a new incarnation
    uint8_t message [64], c_idb [8];
    assert (members_msg_id_parse (c_id, c_idb));
    members_writer_t writer = { message, sizeof (message), 0, false };
    members_msg_header_t header = { .type = MEMBERS_MSG_GOSSIP, .count = 1 };
    members_msg_write_header (&writer, &header);
    members_msg_write_record (&writer, OSMOSE_MEMBER_SUSPECT, a_idb, before.incarnation,
                        c_idb, NULL, 0);
    rc = osmose_members_receive (b, c_id, message, writer.pos, sim->now);
    assert (rc == 0);
    rc = osmose_members_lookup (b, a_id, &after);
    assert (rc == 0 && after.state == OSMOSE_MEMBER_SUSPECT);
    s_drain (sim, 1);
    s_sim_run (sim, sim->now + 1000000);
    rc = osmose_members_lookup (b, a_id, &after);
    assert (rc == 0 && after.state == OSMOSE_MEMBER_ALIVE);
    assert (after.incarnation > before.incarnation);
    osmose_members_stats (sim->engines [0], &stats);
    assert (stats.refutations == 1);
    assert (sim->false_deaths == 0);
    if (verbose)
        printf ("\n   forged records refused, suspicion refuted OK");
    s_sim_destroy (&sim);
}

//  Untrusted bytes: garbage, truncations and bit flips never crash and
//  every malformed message is refused and counted
static void
s_test_fuzz (bool verbose)
{
    s_sim_t *sim = s_sim_new (4, 13, true);
    assert (s_join_all (sim, 1000) >= 0);
    osmose_members_t *engine = sim->engines [0];
    const char *from = osmose_identity_id (sim->identities [1]);
    osmose_members_stats_t stats;
    osmose_members_stats (engine, &stats);
    uint64_t malformed = stats.malformed;
    uint64_t refused = 0;
    uint8_t garbage [300];
    for (int i = 0; i < 3000; i++) {
        size_t size = (size_t) (s_rand (sim) % sizeof (garbage));
        for (size_t j = 0; j < size; j++)
            garbage [j] = (uint8_t) s_rand (sim);
        if (i % 2 && size > 2) {
            garbage [0] = MEMBERS_MSG_VERSION;    //  get past the first checks
            garbage [1] = (uint8_t) (1 + i % 7);
        }
        if (osmose_members_receive (engine, from, garbage, size, sim->now) == OSMOSE_EPROTO)
            refused++;
    }
    assert (refused > 2900);
    //  A valid full table, truncated at every length, then with bit flips
    int rc = osmose_members_join (sim->engines [1], osmose_identity_id (sim->identities [0]),
                                  "tcp://x", osmose_identity_public (sim->identities [0]), sim->now);
    assert (rc == 0);
    osmose_members_out_t out;
    assert (osmose_members_next_out (sim->engines [1], &out));
    rc = osmose_members_receive (engine, from, out.data, out.size, sim->now);
    assert (rc == 0);
    free (out.data);
    osmose_members_out_t table;
    assert (osmose_members_next_out (engine, &table));
    assert (table.size > 400);
    for (size_t size = 0; size < table.size; size++) {
        rc = osmose_members_receive (engine, from, table.data, size, sim->now);
        assert (rc == OSMOSE_EPROTO);
        refused++;
    }
    for (int i = 0; i < 2000; i++) {
        uint8_t *copy = (uint8_t *) malloc (table.size);
        memcpy (copy, table.data, table.size);
        copy [s_rand (sim) % table.size] ^= (uint8_t) (1 << (s_rand (sim) % 8));
        rc = osmose_members_receive (engine, from, copy, table.size, sim->now);
        assert (rc == 0 || rc == OSMOSE_EPROTO);
        if (rc == OSMOSE_EPROTO)
            refused++;
        free (copy);
    }
    free (table.data);
    osmose_members_stats (engine, &stats);
    assert (stats.malformed - malformed == refused);
    assert (osmose_members_receive (engine, "bad", garbage, 1, sim->now) == OSMOSE_EINVAL);
    //  The engine still works
    s_sim_run (sim, sim->now + 1000000);
    assert (s_all_see_all (sim) || osmose_members_alive (engine) >= 1);
    if (verbose)
        printf ("\n   fuzz: %" PRIu64 " malformed messages refused and counted OK", refused);
    s_sim_destroy (&sim);
}

static void
s_percentiles (int64_t *values, int count, int64_t *p50, int64_t *p99, int64_t *max)
{
    qsort (values, (size_t) count, sizeof (int64_t), s_cmp_i64);
    *p50 = values [count / 2];
    *p99 = values [(count * 99) / 100 < count? (count * 99) / 100: count - 1];
    *max = values [count - 1];
}

//  Kill KILLS members one after the other; each must be marked DEAD by all
//  within LIMIT. Returns the worst time (µs)
static int64_t
s_kill_series (s_sim_t *sim, int kills, bool evidence, int64_t limit,
               const char *what, bool verbose)
{
    int64_t times [64];
    int64_t observed [64 * 128];
    int observations = 0;
    sim->evidence = evidence;
    for (int k = 0; k < kills; k++) {
        //  Let the mesh settle, so each kill starts from a random phase
        s_sim_run (sim, sim->now + 2000000 + (int64_t) (s_rand (sim) % 1000000));
        int victim = 1 + (int) (s_rand (sim) % (uint64_t) (sim->n - 1));
        while (!sim->up [victim])
            victim = 1 + (victim % (sim->n - 1));
        int64_t start = sim->now;
        s_kill (sim, victim);
        times [k] = s_until_all_marked (sim, start, 10000000);
        assert (times [k] >= 0);
        for (int i = 0; i < sim->n; i++)
            if (sim->up [i] && observations < 64 * 128)
                observed [observations++] = sim->seen_at [i] - start;
    }
    int64_t p50, p99, max, worst = 0;
    for (int k = 0; k < kills; k++)
        worst = times [k] > worst? times [k]: worst;
    s_percentiles (observed, observations, &p50, &p99, &max);
    if (verbose)
        printf ("\n   N=%d %s: DEAD at each peer p50 %" PRId64 " ms, p99 %" PRId64
                " ms; at all peers worst of %d kills %" PRId64 " ms",
                sim->n, what, p50 / 1000, p99 / 1000, kills, worst / 1000);
    assert (worst <= limit);
    return worst;
}

//  N members: join, idle traffic, refutation after a short partition,
//  graceful leave, kills with and without transport evidence
static void
s_test_mesh (int n, uint64_t seed, bool verbose)
{
    s_sim_t *sim = s_sim_new (n, seed, n <= 32);
    int64_t join = s_join_all (sim, 10000);
    assert (join >= 0);
    if (verbose)
        printf ("\n   N=%d: all see all %" PRId64 " ms after the last start (10 ms apart)",
                n, join / 1000);
    assert (join <= 500000);

    //  Idle: no news, only probes and the anti-entropy hash
    s_sim_run (sim, sim->now + 20000000);
    uint64_t bytes = s_total_bytes (sim);
    int64_t idle_start = sim->now;
    s_sim_run (sim, sim->now + 60000000);
    double idle = (double) (s_total_bytes (sim) - bytes) / n
                / ((double) (sim->now - idle_start) / 1e6);
    if (verbose)
        printf ("\n   N=%d: idle traffic %.0f B/s per peer (payload, both directions %.0f)",
                n, idle, 2 * idle);
    assert (idle < 500);
    assert (sim->false_deaths == 0);

    //  A member cut off for less than the detection time refutes suspicion
    int cut = n / 2;
    osmose_member_t member;
    int rc = osmose_members_lookup (sim->engines [0], osmose_identity_id (sim->identities [cut]), &member);
    assert (rc == 0);
    sim->cut_until [cut] = sim->now + 350000;
    s_sim_run (sim, sim->now + 3000000);
    osmose_members_stats_t stats;
    osmose_members_stats (sim->engines [cut], &stats);
    assert (s_all_see_all (sim));
    assert (sim->false_deaths == 0);
    if (verbose)
        printf ("\n   N=%d: 350 ms partition: %d suspicions, %" PRIu64 " refutations, 0 deaths",
                n, sim->suspicions_of_live, stats.refutations);

    //  Graceful leave is seen by all, quickly
    int leaver = n - 1;
    sim->victim = leaver;
    for (int i = 0; i < n; i++)
        sim->seen_at [i] = -1;
    int64_t start = sim->now;
    rc = osmose_members_leave (sim->engines [leaver], sim->now);
    assert (rc == 0);
    s_drain (sim, leaver);
    s_sim_run (sim, sim->now + 200000);         //  the daemon lingers a little
    sim->up [leaver] = false;
    int64_t left = s_until_all_marked (sim, start, 5000000);
    assert (left >= 0 && left <= 1000000);
    rc = osmose_members_lookup (sim->engines [0], osmose_identity_id (sim->identities [leaver]), &member);
    assert (rc == 0 && member.state == OSMOSE_MEMBER_LEFT);
    if (verbose)
        printf ("\n   N=%d: graceful leave seen as LEFT by all in %" PRId64 " ms", n, left / 1000);

    int kills = n <= 32? 8: 4;
    s_kill_series (sim, kills, true, 1500000, "kill (connections reset)", verbose);
    s_kill_series (sim, kills / 2, false, 4000000, "kill (silent, probes only)", verbose);
    assert (sim->false_deaths == 0);
    s_sim_destroy (&sim);
}

//  Five minutes with 1% loss, four slow members (up to +50 ms each way)
//  and, each second, one member starved of CPU for 100-400 ms: nobody
//  alive may be declared DEAD
static void
s_test_false_positives (bool verbose)
{
    s_sim_t *sim = s_sim_new (32, 17, false);
    assert (s_join_all (sim, 10000) >= 0);
    sim->loss = 0.01;
    for (int i = 1; i <= 4; i++)
        sim->slow_us [i * 7] = 50000;
    for (int second = 0; second < 300; second++) {
        int starved = (int) (s_rand (sim) % (uint64_t) sim->n);
        sim->stall_until [starved] = sim->now + 100000 + (int64_t) (s_rand (sim) % 300000);
        s_sim_run (sim, sim->now + 1000000);
    }
    osmose_members_stats_t stats;
    uint64_t probes = 0, failures = 0;
    for (int i = 0; i < sim->n; i++) {
        osmose_members_stats (sim->engines [i], &stats);
        probes += stats.probes;
        failures += stats.probe_failures;
    }
    if (verbose)
        printf ("\n   N=32, 5 min, 1%% loss, 4 slow peers, 300 CPU stalls: %" PRIu64 " probes, %" PRIu64
                " failed, %d suspicions, %d false deaths",
                probes, failures, sim->suspicions_of_live, sim->false_deaths);
    assert (sim->false_deaths == 0);
    assert (s_all_see_all (sim));
    s_sim_destroy (&sim);
}

void
osmose_members_test (bool verbose)
{
    printf (" * osmose_members: ");
    s_test_basics (verbose);
    s_test_trust (verbose);
    s_test_fuzz (verbose);
    s_test_mesh (32, 21, verbose);
    s_test_mesh (128, 23, verbose);
    s_test_false_positives (verbose);
    printf ("%sOK\n", verbose? "\n   ": "");
}
