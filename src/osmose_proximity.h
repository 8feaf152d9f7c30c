/*  osmose_proximity.h: how near a provider is to a client (DESIGN.md,
    invariant 8), and the order in which a client asks providers for bids.

    score (us) = RTT EWMA + topology_weight_us x hops between location paths

    A provider qualifies for a request when its free capacity covers the
    request and its score is within the request's latency bound. Qualified
    providers are ranked nearest first; equal scores are broken by, in
    order: a measured RTT before none, more free capacity (what the request
    asks for first), wall power before unknown before battery, lower load,
    fuller battery, and finally the caller's own order, so ranking is
    deterministic and stable.

    A provider not yet probed has no RTT: it is scored by topology alone,
    which lets a client bid for a neighbour on the same desk before the
    failure detector has measured it, while any measured peer with the same
    score goes first. Where topology says nothing (osmose_location_distance
    is UNKNOWN):
      - a client without a location scores every peer by RTT alone, so a
        mesh nobody has mapped still honours latency bounds;
      - a client with a location charges an unknown or unrelated peer the
        UNKNOWN distance (32 hops);
      - a peer with no RTT either scores OSMOSE_PROXIMITY_MAX_US: last,
        and outside every latency bound.

    Thread safety: pure functions over the caller's data.
*/
#ifndef OSMOSE_PROXIMITY_H_INCLUDED
#define OSMOSE_PROXIMITY_H_INCLUDED

#include "osmose_resources.h"

#define OSMOSE_PROXIMITY_NO_RTT   INT64_C (-1)  //  no sample yet
#define OSMOSE_PROXIMITY_ALPHA    0.125         //  EWMA weight, as TCP's SRTT
#define OSMOSE_PROXIMITY_MAX_US   (INT64_C (1) << 50)   //  scores saturate here

//  Fold a new RTT SAMPLE_US into the average RTT_US with weight ALPHA in
//  (0, 1]: avg + alpha * (sample - avg). The first sample (RTT_US is
//  OSMOSE_PROXIMITY_NO_RTT) becomes the average. A negative sample or an
//  alpha outside (0, 1] leaves RTT_US unchanged. Returns the new average.
int64_t
    osmose_proximity_ewma (int64_t rtt_us, int64_t sample_us, double alpha);

//  Score of a provider RTT_US away (OSMOSE_PROXIMITY_NO_RTT counts as 0)
//  and HOPS apart in location (osmose_location_distance), each hop costing
//  WEIGHT_US (proximity/topology_weight_us). Saturates at
//  OSMOSE_PROXIMITY_MAX_US; negative HOPS or WEIGHT_US count as 0.
int64_t
    osmose_proximity_score (int64_t rtt_us, int hops, int64_t weight_us);

//  What a client knows of one provider: from the member table (RTT), the
//  provider's capacity advert (location, power, lease caps less what is
//  leased now) and its gossiped load.
typedef struct {
    const char *id;             //  borrowed, for the caller; may be NULL
    int64_t rtt_us;             //  EWMA, or OSMOSE_PROXIMITY_NO_RTT
    const char *location;       //  borrowed; NULL or "" when unknown
    int free_cpus;
    int free_gpus;
    int free_npus;
    int64_t free_memory_mb;
    osmose_power_t power;
    int battery_percent;        //  -1 when none
    int load1;                  //  load average x 100
} osmose_proximity_candidate_t;

//  What a client asks for. Zero means "none needed"; latency_bound_us 0
//  means no bound.
typedef struct {
    int cpus;
    int gpus;
    int npus;
    int64_t memory_mb;
    int64_t latency_bound_us;
} osmose_proximity_request_t;

//  Fill CANDIDATE from a provider's advertised RESOURCES (borrowing its
//  location): free figures are the lease caps (free memory no more than
//  what the provider has available). The caller sets id and rtt_us, and
//  subtracts what is already leased.
void
    osmose_proximity_candidate_set (osmose_proximity_candidate_t *candidate,
                                    const osmose_resources_t *resources);

//  Score of CANDIDATE for a client at CLIENT_LOCATION (NULL or "": unknown),
//  with the rules above for unknown topology.
int64_t
    osmose_proximity_candidate_score (const char *client_location,
                                      const osmose_proximity_candidate_t *candidate,
                                      int64_t weight_us);

//  Rank COUNT candidates for REQUEST from a client at CLIENT_LOCATION:
//  writes the indexes of those that qualify, best first, into ORDER (room
//  for COUNT) and returns how many (0 when none). Returns OSMOSE_EINVAL
//  for NULL arrays with COUNT > 0, a NULL request or a COUNT over
//  OSMOSE_PROXIMITY_MAX_CANDIDATES.
#define OSMOSE_PROXIMITY_MAX_CANDIDATES 1000000
int OSMOSE_CHECK
    osmose_proximity_rank (const char *client_location,
                           const osmose_proximity_candidate_t *candidates, size_t count,
                           const osmose_proximity_request_t *request, int64_t weight_us,
                           size_t *order);

void
    osmose_proximity_test (bool verbose);

#endif
