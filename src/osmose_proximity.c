/*  osmose_proximity.c: RTT EWMA, provider score and ranking (see
    osmose_proximity.h). Candidates describe peers' adverts, so every figure
    is treated as possibly absurd: scores saturate instead of overflowing.
*/
#include "osmose_prelude.h"
#include "osmose_proximity.h"

int64_t
osmose_proximity_ewma (int64_t rtt_us, int64_t sample_us, double alpha)
{
    if (sample_us < 0 || !(alpha > 0 && alpha <= 1))
        return rtt_us;
    if (sample_us > OSMOSE_PROXIMITY_MAX_US)
        sample_us = OSMOSE_PROXIMITY_MAX_US;
    if (rtt_us < 0)
        return sample_us;       //  first sample
    double average = (double) rtt_us + alpha * ((double) sample_us - (double) rtt_us);
    return (int64_t) (average + 0.5);
}

int64_t
osmose_proximity_score (int64_t rtt_us, int hops, int64_t weight_us)
{
    if (rtt_us < 0)
        rtt_us = 0;
    if (rtt_us > OSMOSE_PROXIMITY_MAX_US)
        rtt_us = OSMOSE_PROXIMITY_MAX_US;
    if (hops < 0)
        hops = 0;
    if (weight_us < 0)
        weight_us = 0;
    //  hops <= 2^31 and weight capped so the product fits in 64 bits
    if (weight_us > OSMOSE_PROXIMITY_MAX_US)
        weight_us = OSMOSE_PROXIMITY_MAX_US;
    int64_t topology = hops && weight_us > OSMOSE_PROXIMITY_MAX_US / hops?
        OSMOSE_PROXIMITY_MAX_US: weight_us * hops;
    int64_t score = rtt_us + topology;
    return score > OSMOSE_PROXIMITY_MAX_US? OSMOSE_PROXIMITY_MAX_US: score;
}

void
osmose_proximity_candidate_set (osmose_proximity_candidate_t *candidate,
                                const osmose_resources_t *resources)
{
    assert (candidate && resources);
    const osmose_resources_capacity_t *capacity = &resources->capacity;
    candidate->location = capacity->location;
    candidate->free_cpus = capacity->lease_cpus;
    candidate->free_gpus = capacity->lease_gpus;
    candidate->free_npus = capacity->lease_npus;
    candidate->free_memory_mb = capacity->lease_memory_mb < resources->load.memory_free_mb?
        capacity->lease_memory_mb: resources->load.memory_free_mb;
    candidate->power = capacity->power;
    candidate->battery_percent = resources->load.battery_percent;
    candidate->load1 = resources->load.load1;
}

int64_t
osmose_proximity_candidate_score (const char *client_location,
                                  const osmose_proximity_candidate_t *candidate,
                                  int64_t weight_us)
{
    assert (candidate);
    bool client_known = client_location && *client_location;
    int hops = osmose_location_distance (client_known? client_location: "",
                                         candidate->location? candidate->location: "");
    if (hops == OSMOSE_LOCATION_UNKNOWN) {
        //  Neither RTT nor topology known: nothing says it is near
        if (candidate->rtt_us < 0)
            return OSMOSE_PROXIMITY_MAX_US;
        //  A client that does not know where it is penalises nobody, or a
        //  latency bound would shut out every peer of an unplanned mesh
        if (!client_known)
            hops = 0;
    }
    return osmose_proximity_score (candidate->rtt_us, hops, weight_us);
}

typedef struct {
    const osmose_proximity_candidate_t *candidate;
    const osmose_proximity_request_t *request;
    size_t index;
    int64_t score;
    bool measured;
} s_entry_t;

//  -1 when A should come first on this figure, 1 when B, 0 when equal;
//  MORE_FIRST: larger values first
static int
s_compare (int64_t a, int64_t b, bool more_first)
{
    if (a == b)
        return 0;
    return (a < b) != more_first? -1: 1;
}

//  Free capacity: the figures the request asks for first (GPUs, NPUs, CPUs,
//  memory), then the others in the same order
static int
s_compare_capacity (const osmose_proximity_candidate_t *a,
                    const osmose_proximity_candidate_t *b,
                    const osmose_proximity_request_t *request)
{
    const int64_t wanted [4] = { request->gpus, request->npus, request->cpus, request->memory_mb };
    const int64_t free_a [4] = { a->free_gpus, a->free_npus, a->free_cpus, a->free_memory_mb };
    const int64_t free_b [4] = { b->free_gpus, b->free_npus, b->free_cpus, b->free_memory_mb };
    for (int pass = 0; pass < 2; pass++)
        for (int figure = 0; figure < 4; figure++) {
            if ((wanted [figure] > 0) != (pass == 0))
                continue;
            int order = s_compare (free_a [figure], free_b [figure], true);
            if (order)
                return order;
        }
    return 0;
}

static int
s_power_rank (osmose_power_t power)
{
    return power == OSMOSE_POWER_WALL? 0: power == OSMOSE_POWER_BATTERY? 2: 1;
}

static int
s_compare_entries (const void *item_a, const void *item_b)
{
    const s_entry_t *a = (const s_entry_t *) item_a;
    const s_entry_t *b = (const s_entry_t *) item_b;
    int order = s_compare (a->score, b->score, false);
    if (!order)
        order = s_compare (a->measured, b->measured, true);
    if (!order)
        order = s_compare_capacity (a->candidate, b->candidate, a->request);
    if (!order)
        order = s_compare (s_power_rank (a->candidate->power),
                           s_power_rank (b->candidate->power), false);
    if (!order)
        order = s_compare (a->candidate->load1, b->candidate->load1, false);
    if (!order)
        order = s_compare (a->candidate->battery_percent, b->candidate->battery_percent, true);
    if (!order)     //  qsort is not stable: the caller's order decides
        order = s_compare ((int64_t) a->index, (int64_t) b->index, false);
    return order;
}

static bool
s_fits (const osmose_proximity_candidate_t *candidate,
        const osmose_proximity_request_t *request)
{
    return candidate->free_cpus >= request->cpus
        && candidate->free_gpus >= request->gpus
        && candidate->free_npus >= request->npus
        && candidate->free_memory_mb >= request->memory_mb;
}

int
osmose_proximity_rank (const char *client_location,
                       const osmose_proximity_candidate_t *candidates, size_t count,
                       const osmose_proximity_request_t *request, int64_t weight_us,
                       size_t *order)
{
    if (!request || (count > 0 && (!candidates || !order))
    ||  count > OSMOSE_PROXIMITY_MAX_CANDIDATES
    ||  request->cpus < 0 || request->gpus < 0 || request->npus < 0
    ||  request->memory_mb < 0 || request->latency_bound_us < 0)
        return OSMOSE_EINVAL;
    if (count == 0)
        return 0;
    s_entry_t *entries = (s_entry_t *) malloc (count * sizeof (s_entry_t));
    if (!entries)
        return OSMOSE_ENOMEM;
    size_t qualified = 0;
    for (size_t index = 0; index < count; index++) {
        const osmose_proximity_candidate_t *candidate = &candidates [index];
        if (!s_fits (candidate, request))
            continue;
        int64_t score = osmose_proximity_candidate_score (client_location, candidate, weight_us);
        if (request->latency_bound_us > 0 && score > request->latency_bound_us)
            continue;
        entries [qualified++] = (s_entry_t) {
            .candidate = candidate, .request = request, .index = index,
            .score = score, .measured = candidate->rtt_us >= 0
        };
    }
    qsort (entries, qualified, sizeof (s_entry_t), s_compare_entries);
    for (size_t index = 0; index < qualified; index++)
        order [index] = entries [index].index;
    free (entries);
    return (int) qualified;
}

//  --------------------------------------------------------------------------
//  Self-test

//  Rank and return the ids in order, joined by spaces, in BUFFER
static const char *
s_ranked (const char *client, const osmose_proximity_candidate_t *candidates, size_t count,
          const osmose_proximity_request_t *request, int64_t weight_us,
          char *buffer, size_t size)
{
    size_t order [16];
    assert (count <= 16);
    int ranked = osmose_proximity_rank (client, candidates, count, request, weight_us, order);
    assert (ranked >= 0 && (size_t) ranked <= count);
    buffer [0] = '\0';
    for (int index = 0; index < ranked; index++) {
        assert (order [index] < count);
        size_t used = strlen (buffer);
        snprintf (buffer + used, size - used, "%s%s", index? " ": "",
                  candidates [order [index]].id);
    }
    return buffer;
}

#define S_CANDIDATE(name, rtt, where) \
    { .id = name, .rtt_us = rtt, .location = where, .free_cpus = 4, .free_gpus = 0, \
      .free_npus = 0, .free_memory_mb = 4096, .power = OSMOSE_POWER_WALL, \
      .battery_percent = -1, .load1 = 50 }

void
osmose_proximity_test (bool verbose)
{
    printf (" * osmose_proximity: ");
    char text [256];

    //  EWMA
    int64_t rtt = OSMOSE_PROXIMITY_NO_RTT;
    rtt = osmose_proximity_ewma (rtt, 1000, OSMOSE_PROXIMITY_ALPHA);
    assert (rtt == 1000);                               //  first sample taken whole
    rtt = osmose_proximity_ewma (rtt, 2000, OSMOSE_PROXIMITY_ALPHA);
    assert (rtt == 1125);
    rtt = osmose_proximity_ewma (rtt, 125, 0.5);
    assert (rtt == 625);
    assert (osmose_proximity_ewma (rtt, -5, 0.5) == 625);          //  no sample
    assert (osmose_proximity_ewma (rtt, 100, 0) == 625);           //  bad alpha
    assert (osmose_proximity_ewma (rtt, 100, 1.5) == 625);
    assert (osmose_proximity_ewma (rtt, 100, 1.0) == 100);
    assert (osmose_proximity_ewma (OSMOSE_PROXIMITY_NO_RTT, -1, 0.5) == OSMOSE_PROXIMITY_NO_RTT);
    //  Converges to a new steady RTT in a bounded number of samples
    int steps = 0;
    for (rtt = 10000; rtt > 510 && steps < 100; steps++)
        rtt = osmose_proximity_ewma (rtt, 500, OSMOSE_PROXIMITY_ALPHA);
    assert (steps > 10 && steps < 100);
    assert (osmose_proximity_ewma (0, INT64_MAX, 1.0) == OSMOSE_PROXIMITY_MAX_US);

    //  Score
    assert (osmose_proximity_score (100, 2, 1000) == 2100);
    assert (osmose_proximity_score (OSMOSE_PROXIMITY_NO_RTT, 3, 1000) == 3000);
    assert (osmose_proximity_score (250, 0, 1000) == 250);
    assert (osmose_proximity_score (250, -3, 1000) == 250);
    assert (osmose_proximity_score (250, 4, -1) == 250);
    assert (osmose_proximity_score (INT64_MAX, 1, 1) == OSMOSE_PROXIMITY_MAX_US);
    assert (osmose_proximity_score (1, INT32_MAX, INT64_MAX) == OSMOSE_PROXIMITY_MAX_US);
    osmose_proximity_candidate_t one = S_CANDIDATE ("one", 300, "hq/f1/r2");
    assert (osmose_proximity_candidate_score ("hq/f1/r1", &one, 1000) == 2300);

    //  Unknown topology: a client without a location scores by RTT alone;
    //  a peer with neither RTT nor a related location comes last
    assert (osmose_proximity_candidate_score ("", &one, 1000) == 300);
    one.rtt_us = OSMOSE_PROXIMITY_NO_RTT;
    assert (osmose_proximity_candidate_score ("", &one, 1000) == OSMOSE_PROXIMITY_MAX_US);
    assert (osmose_proximity_candidate_score ("annex/f1", &one, 1000) == OSMOSE_PROXIMITY_MAX_US);
    assert (osmose_proximity_candidate_score ("hq", &one, 1000) == 2000);
    one.location = NULL;
    one.rtt_us = 70;
    assert (osmose_proximity_candidate_score ("hq", &one, 1000)
            == 70 + 1000 * OSMOSE_LOCATION_UNKNOWN);
    assert (osmose_proximity_candidate_score (NULL, &one, 1000) == 70);

    //  Ranking by score, client at hq/f1/r1, 1 ms a hop
    osmose_proximity_candidate_t mesh [] = {
        S_CANDIDATE ("far", 100, "hq/f2/r1"),           //  100 + 4 hops
        S_CANDIDATE ("same-room", 500, "hq/f1/r1"),     //  500
        S_CANDIDATE ("unknown", 50, ""),                //  50 + 32 hops
        S_CANDIDATE ("next-room", 200, "hq/f1/r2"),     //  200 + 2 hops
        S_CANDIDATE ("desk", OSMOSE_PROXIMITY_NO_RTT, "hq/f1/r1/desk"),  //  1 hop
        S_CANDIDATE ("elsewhere", 300, "other/b1"),     //  300 + 32 hops
    };
    size_t count = sizeof (mesh) / sizeof (mesh [0]);
    osmose_proximity_request_t request = { .cpus = 1 };
    static const struct {
        int64_t weight_us, bound_us;
        const char *expect;
    } cases [] = {
        { 1000, 0, "same-room desk next-room far unknown elsewhere" },
        { 1000, 3000, "same-room desk next-room" },
        { 1000, 2200, "same-room desk next-room" },     //  bound is inclusive
        { 1000, 2199, "same-room desk" },
        { 1000, 499, "" },
        { 0, 0, "desk unknown far next-room elsewhere same-room" },
        { 0, 150, "desk unknown far" },
        { 10, 0, "desk far next-room unknown same-room elsewhere" },
    };
    for (size_t index = 0; index < sizeof (cases) / sizeof (cases [0]); index++) {
        request.latency_bound_us = cases [index].bound_us;
        s_ranked ("hq/f1/r1", mesh, count, &request, cases [index].weight_us, text, sizeof (text));
        if (verbose && !streq (text, cases [index].expect))
            printf ("\ncase %zu: '%s'\n", index, text);
        assert (streq (text, cases [index].expect));
    }
    //  A client that does not know its place ranks by RTT; the peer never
    //  measured goes last, and no bound admits it
    request.latency_bound_us = 0;
    s_ranked ("", mesh, count, &request, 1000, text, sizeof (text));
    assert (streq (text, "unknown far next-room elsewhere same-room desk"));
    request.latency_bound_us = 250;
    s_ranked (NULL, mesh, count, &request, 1000, text, sizeof (text));
    assert (streq (text, "unknown far next-room"));
    //  The same candidates in another order rank the same
    osmose_proximity_candidate_t shuffled [6];
    request.latency_bound_us = 0;
    for (size_t rotation = 1; rotation < count; rotation++) {
        for (size_t index = 0; index < count; index++)
            shuffled [index] = mesh [(index + rotation) % count];
        s_ranked ("hq/f1/r1", shuffled, count, &request, 1000, text, sizeof (text));
        assert (streq (text, cases [0].expect));
    }

    //  Capacity filter: only what fits the request qualifies
    mesh [0].free_gpus = 2;
    mesh [3].free_gpus = 1;
    mesh [3].free_memory_mb = 100;
    request = (osmose_proximity_request_t) { .gpus = 1 };
    s_ranked ("hq/f1/r1", mesh, count, &request, 1000, text, sizeof (text));
    assert (streq (text, "next-room far"));
    request.gpus = 2;
    s_ranked ("hq/f1/r1", mesh, count, &request, 1000, text, sizeof (text));
    assert (streq (text, "far"));
    request = (osmose_proximity_request_t) { .gpus = 1, .memory_mb = 1000 };
    s_ranked ("hq/f1/r1", mesh, count, &request, 1000, text, sizeof (text));
    assert (streq (text, "far"));
    request = (osmose_proximity_request_t) { .cpus = 5 };
    s_ranked ("hq/f1/r1", mesh, count, &request, 1000, text, sizeof (text));
    assert (streq (text, ""));
    request = (osmose_proximity_request_t) { .npus = 1 };
    s_ranked ("hq/f1/r1", mesh, count, &request, 1000, text, sizeof (text));
    assert (streq (text, ""));

    //  Ties at equal score (all 1000 us, same room): each rule in turn
    static const struct {
        const char *what;
        osmose_proximity_candidate_t a, b;      //  a must win, whichever comes first
    } ties [] = {
        { "measured beats not measured",
          { .id = "a", .rtt_us = 1000, .location = "x/y", .free_cpus = 1, .load1 = 900,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 5 },
          { .id = "b", .rtt_us = OSMOSE_PROXIMITY_NO_RTT, .location = "x/y/z", .free_cpus = 8,
            .power = OSMOSE_POWER_WALL, .battery_percent = -1 } },
        { "more free of what is asked",
          { .id = "a", .rtt_us = 1000, .location = "x/y", .free_cpus = 8,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 50, .load1 = 400 },
          { .id = "b", .rtt_us = 1000, .location = "x/y", .free_cpus = 2, .free_gpus = 4,
            .power = OSMOSE_POWER_WALL, .battery_percent = -1 } },
        { "wall beats battery",
          { .id = "a", .rtt_us = 1000, .location = "x/y", .free_cpus = 2, .load1 = 300,
            .power = OSMOSE_POWER_WALL, .battery_percent = -1 },
          { .id = "b", .rtt_us = 1000, .location = "x/y", .free_cpus = 2, .load1 = 0,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 100 } },
        { "unknown power beats battery",
          { .id = "a", .rtt_us = 1000, .location = "x/y", .free_cpus = 2,
            .power = OSMOSE_POWER_UNKNOWN, .battery_percent = -1 },
          { .id = "b", .rtt_us = 1000, .location = "x/y", .free_cpus = 2,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 90 } },
        { "lower load",
          { .id = "a", .rtt_us = 1000, .location = "x/y", .free_cpus = 2, .load1 = 10,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 20 },
          { .id = "b", .rtt_us = 1000, .location = "x/y", .free_cpus = 2, .load1 = 11,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 90 } },
        { "fuller battery",
          { .id = "a", .rtt_us = 1000, .location = "x/y", .free_cpus = 2,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 60 },
          { .id = "b", .rtt_us = 1000, .location = "x/y", .free_cpus = 2,
            .power = OSMOSE_POWER_BATTERY, .battery_percent = 59 } },
    };
    request = (osmose_proximity_request_t) { .cpus = 1 };
    for (size_t index = 0; index < sizeof (ties) / sizeof (ties [0]); index++) {
        osmose_proximity_candidate_t pair [2] = { ties [index].a, ties [index].b };
        assert (osmose_proximity_candidate_score ("x/y", &pair [0], 1000)
             == osmose_proximity_candidate_score ("x/y", &pair [1], 1000));
        s_ranked ("x/y", pair, 2, &request, 1000, text, sizeof (text));
        if (verbose && !streq (text, "a b"))
            printf ("\n%s: '%s'\n", ties [index].what, text);
        assert (streq (text, "a b"));
        pair [0] = ties [index].b;
        pair [1] = ties [index].a;
        s_ranked ("x/y", pair, 2, &request, 1000, text, sizeof (text));
        assert (streq (text, "a b"));
    }
    //  Capacity asked for first: for a GPU request, free GPUs decide
    request = (osmose_proximity_request_t) { .gpus = 1 };
    osmose_proximity_candidate_t gpu_pair [2] = {
        { .id = "cpus", .rtt_us = 10, .location = "x", .free_cpus = 64, .free_gpus = 1 },
        { .id = "gpus", .rtt_us = 10, .location = "x", .free_cpus = 1, .free_gpus = 2 },
    };
    s_ranked ("x", gpu_pair, 2, &request, 1000, text, sizeof (text));
    assert (streq (text, "gpus cpus"));
    request = (osmose_proximity_request_t) { .cpus = 1 };
    s_ranked ("x", gpu_pair, 2, &request, 1000, text, sizeof (text));
    assert (streq (text, "cpus gpus"));
    //  Complete ties keep the caller's order (stable)
    osmose_proximity_candidate_t same [4] = {
        S_CANDIDATE ("s0", 10, "x"), S_CANDIDATE ("s1", 10, "x"),
        S_CANDIDATE ("s2", 10, "x"), S_CANDIDATE ("s3", 10, "x"),
    };
    s_ranked ("x", same, 4, &request, 1000, text, sizeof (text));
    assert (streq (text, "s0 s1 s2 s3"));

    //  Arguments
    size_t order [4];
    assert (osmose_proximity_rank ("x", NULL, 0, &request, 1000, NULL) == 0);
    assert (osmose_proximity_rank ("x", same, 4, NULL, 1000, order) == OSMOSE_EINVAL);
    assert (osmose_proximity_rank ("x", NULL, 4, &request, 1000, order) == OSMOSE_EINVAL);
    assert (osmose_proximity_rank ("x", same, 4, &request, 1000, NULL) == OSMOSE_EINVAL);
    request.cpus = -1;
    assert (osmose_proximity_rank ("x", same, 4, &request, 1000, order) == OSMOSE_EINVAL);

    //  From a resource advert: lease caps, free memory, power, load
    osmose_resources_t res;
    memset (&res, 0, sizeof (res));
    res.capacity.lease_cpus = 3;
    res.capacity.lease_gpus = 1;
    res.capacity.lease_npus = 2;
    res.capacity.lease_memory_mb = 8000;
    res.capacity.power = OSMOSE_POWER_BATTERY;
    strcpy (res.capacity.location, "hq/f1");
    res.load.memory_free_mb = 5000;
    res.load.battery_percent = 40;
    res.load.load1 = 123;
    osmose_proximity_candidate_t from = { .id = "p", .rtt_us = 42 };
    osmose_proximity_candidate_set (&from, &res);
    assert (from.free_cpus == 3 && from.free_gpus == 1 && from.free_npus == 2);
    assert (from.free_memory_mb == 5000);
    assert (from.power == OSMOSE_POWER_BATTERY && from.battery_percent == 40);
    assert (from.load1 == 123 && streq (from.location, "hq/f1"));
    assert (from.rtt_us == 42 && streq (from.id, "p"));
    assert (osmose_proximity_candidate_score ("hq/f1/r1", &from, 1000) == 1042);
    printf ("OK\n");
}
