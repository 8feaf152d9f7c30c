/*  osmose_leasing_views.c: what the leasing service shows: LEASES, NEAR
    (the ranking from here), TASKS and the status figures.
*/
#include "osmose_prelude.h"
#include "osmose_leasing_int.h"

int
leasing_api_leases (void *arg, json_t *request, json_t **reply)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    *reply = osmose_market_json (self->market, osmose_token_now_us ());
    if (*reply) {
        json_object_set_new (*reply, "work", osmose_work_json (self->work));
        json_t *local = json_array ();
        for (leasing_holder_t *holder = (leasing_holder_t *) zhashx_first (self->holders); local && holder;
             holder = (leasing_holder_t *) zhashx_next (self->holders))
            if (holder->local)
                json_array_append_new (local, json_pack ("{s:s, s:I, s:i, s:i, s:i, s:I}",
                    "lease", (const char *) zhashx_cursor (self->holders),
                    "pid", (json_int_t) holder->pid, "cpus", holder->cpus,
                    "gpus", holder->gpus, "npus", holder->npus,
                    "memory_mb", (json_int_t) holder->memory_mb));
        json_object_set_new (*reply, "local", local);
        size_t index;
        json_t *held;
        json_array_foreach (json_object_get (*reply, "held"), index, held) {
            leasing_holder_t *holder = (leasing_holder_t *) zhashx_lookup (self->holders,
                json_string_value (json_object_get (held, "lease")));
            if (holder)
                json_object_set_new (held, "pid", json_integer ((json_int_t) holder->pid));
        }
    }
    return *reply? 0: OSMOSE_ENOMEM;
}

//  TASKS: what runs here for leaseholders, one row per work connection,
//  and the tasks/s of the last minute
int
leasing_api_tasks (void *arg, json_t *request, json_t **reply)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    json_t *history = json_array ();
    for (size_t index = 0; history && index < self->samples; index++)
        json_array_append_new (history, json_real (self->per_s [index]));
    *reply = json_pack ("{s:o, s:o}", "recent", osmose_work_sessions_json (self->work),
                        "per_s_history", history);
    return *reply? 0: OSMOSE_ENOMEM;
}

//  Once a second: how many tasks the executor finished
void
leasing_sample (osmose_leasing_t *self, int64_t now)
{
    if (now < self->next_sample)
        return;
    osmose_exec_stats_t stats = { 0 };
    if (self->exec)
        osmose_exec_stats (self->exec, &stats);
    uint64_t finished = stats.completed + stats.failed;
    double seconds = self->next_sample? (now - self->next_sample + 1000000) / 1e6: 1;
    if (self->samples == 60) {
        memmove (self->per_s, self->per_s + 1, 59 * sizeof (double));
        self->samples--;
    }
    self->per_s [self->samples++] = self->next_sample?
        (finished - self->last_completed) / seconds: 0;
    self->last_completed = finished;
    self->next_sample = now + 1000000;
}

//  Why CANDIDATE does not qualify for REQUEST, or NULL
static const char *
s_disqualified (const leasing_member_t *member, const osmose_proximity_request_t *request,
                int64_t score)
{
    const osmose_proximity_candidate_t *candidate = &member->candidate;
    if (!streq (member->state, "alive"))
        return member->state;
    if (!*member->work)
        return "no work endpoint";
    if (member->refusing)
        return streq (member->refusing, "battery")? "refusing: battery low":
               streq (member->refusing, "load")? "refusing: load too high": "refusing";
    if (candidate->free_cpus < request->cpus || candidate->free_gpus < request->gpus
    ||  candidate->free_npus < request->npus || candidate->free_memory_mb < request->memory_mb)
        return "capacity";
    if (request->latency_bound_us && score > request->latency_bound_us)
        return "latency bound";
    return NULL;
}

//  NEAR {request}: every member ranked as a client here would see it
int
leasing_api_near (void *arg, json_t *request, json_t **reply)
{
    osmose_leasing_t *self = (osmose_leasing_t *) arg;
    leasing_acquire_t parsed = { 0 };
    char error [160];
    if (leasing_parse_request (request, &parsed, error, sizeof (error))) {
        *reply = json_pack ("{s:s}", "error", error);
        return OSMOSE_EINVAL;
    }
    osmose_proximity_request_t wanted = {
        .cpus = parsed.market.cpus, .gpus = parsed.market.gpus, .npus = parsed.market.npus,
        .memory_mb = parsed.market.memory_mb,
        .latency_bound_us = parsed.market.latency_bound_us
    };
    size_t count = leasing_members (self, true, false, true);
    int64_t weight = osmose_config_int (self->config, "proximity/topology_weight_us");
    const char *here = self->resources.capacity.location;
    //  Order: by score, qualified first
    size_t *order = (size_t *) malloc ((count? count: 1) * sizeof (size_t));
    int64_t *scores = (int64_t *) malloc ((count? count: 1) * sizeof (int64_t));
    *reply = order && scores? json_array (): NULL;
    for (size_t index = 0; *reply && index < count; index++) {
        scores [index] = osmose_proximity_candidate_score (here, &self->members [index].candidate,
                                                           weight);
        size_t at = index;
        while (at > 0) {
            leasing_member_t *before = &self->members [order [at - 1]];
            bool before_ok = !s_disqualified (before, &wanted, scores [order [at - 1]]);
            bool mine_ok = !s_disqualified (&self->members [index], &wanted, scores [index]);
            if (before_ok && !mine_ok)
                break;
            if (before_ok == mine_ok && scores [order [at - 1]] <= scores [index])
                break;
            order [at] = order [at - 1];
            at--;
        }
        order [at] = index;
    }
    for (size_t rank = 0; *reply && rank < count; rank++) {
        leasing_member_t *member = &self->members [order [rank]];
        const osmose_proximity_candidate_t *candidate = &member->candidate;
        const char *reason = s_disqualified (member, &wanted, scores [order [rank]]);
        json_t *entry = json_pack ("{s:i, s:s, s:s, s:s, s:s, s:i, s:I, s:b, s:s, s:i, s:i,"
                                   " s:i, s:I, s:s, s:i, s:b}",
            "rank", (int) rank + 1, "id", member->id, "name", member->name,
            "location", member->location, "state", member->state,
            "hops", osmose_location_distance (here, member->location),
            "score_us", (json_int_t) scores [order [rank]], "qualifies", reason == NULL,
            "reason", reason? reason: "", "cpus_free", candidate->free_cpus,
            "gpus_free", candidate->free_gpus, "npus_free", candidate->free_npus,
            "memory_free_mb", (json_int_t) candidate->free_memory_mb,
            "power", osmose_resources_power_name (candidate->power),
            "load", candidate->load1, "self", member->is_self);
        if (entry) {
            json_object_set_new (entry, "rtt_us", candidate->rtt_us >= 0?
                                 json_integer (candidate->rtt_us): json_null ());
            json_object_set_new (entry, "battery", candidate->battery_percent >= 0?
                                 json_integer (candidate->battery_percent): json_null ());
        }
        json_array_append_new (*reply, entry);
    }
    free (order);
    free (scores);
    return *reply? 0: OSMOSE_ENOMEM;
}

json_t *
osmose_leasing_status_json (osmose_leasing_t *self)
{
    assert (self);
    int64_t now = osmose_token_now_us ();
    osmose_exec_stats_t stats = { 0 };
    if (self->exec)
        osmose_exec_stats (self->exec, &stats);
    return json_pack ("{s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
        "held", (json_int_t) osmose_market_leases (self->market, OSMOSE_MARKET_HELD, NULL, 0, now),
        "granted", (json_int_t) osmose_market_leases (self->market, OSMOSE_MARKET_GRANTED,
                                                      NULL, 0, now),
        "pending", (json_int_t) zlistx_size (self->acquires),
        "tasks", "running", (json_int_t) stats.running, "queued", (json_int_t) stats.queued,
        "completed", (json_int_t) stats.completed, "failed", (json_int_t) stats.failed,
        "crashed", (json_int_t) stats.crashed, "workers", (json_int_t) stats.workers);
}

json_t *
osmose_leasing_tasks_json (osmose_leasing_t *self)
{
    assert (self);
    osmose_exec_stats_t stats = { 0 };
    if (self->exec)
        osmose_exec_stats (self->exec, &stats);
    return json_pack ("{s:I, s:I, s:I, s:I, s:f}",
        "running", (json_int_t) stats.running, "queued", (json_int_t) stats.queued,
        "done", (json_int_t) (stats.completed + stats.failed),
        "migrated", (json_int_t) self->migrations,
        "per_s", self->samples? self->per_s [self->samples - 1]: 0.0);
}
