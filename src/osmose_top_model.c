/*  osmose_top_model.c: frames to rows, summary, sorting and filtering
    (see osmose_top_model.h). The plain-text printer and the formatters are
    in osmose_top_text.c.

    Each update parses the whole frame again: 64 peers take microseconds,
    and a fresh parse means no stale row can outlive its frame.
*/
#include "osmose_prelude.h"
#include "osmose_top_model.h"
#include <math.h>
#include <strings.h>

#define S_HISTORY 120           //  tasks/s samples kept when the daemon has none

struct _osmose_top_model_t {
    json_t *frame;
    osmose_top_summary_t summary;
    //  Every row of the frame, then the filtered and sorted views of them
    osmose_top_peer_t *peers;
    osmose_top_lease_t *leases;
    osmose_top_task_t *tasks;
    osmose_top_entry_t *entries;
    size_t peer_count, lease_count, task_count, entry_count;
    size_t *shown [OSMOSE_TOP_TABS];
    size_t shown_count [OSMOSE_TOP_TABS];
    bool has [OSMOSE_TOP_TABS];
    osmose_top_sort_t sort;
    bool reverse;
    char filter [128];
    double history [S_HISTORY];
    size_t history_count;
    double *daemon_history;
    size_t daemon_history_count;
};

static const char *s_sort_names [OSMOSE_TOP_SORTS] = {
    "proximity", "name", "location", "state", "rtt", "cpu", "load", "log"
};

//  Field readers that never fail: "" or -1 when absent or mistyped
static const char *
s_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value? value: "";
}

static int64_t
s_int (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    if (json_is_integer (value))
        return json_integer_value (value) < 0? -1: (int64_t) json_integer_value (value);
    if (json_is_real (value) && isfinite (json_real_value (value)) && json_real_value (value) >= 0
    &&  json_real_value (value) < 9e18)
        return (int64_t) llround (json_real_value (value));
    return -1;
}

static double
s_num (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    double number = json_is_number (value)? json_number_value (value): -1;
    return isfinite (number) && number >= 0? number: -1;
}

//  Adds B to the sum *A; unknown (-1) plus a number is the number
static void
s_add (int64_t *a, int64_t b)
{
    if (b >= 0)
        *a = *a < 0? b: *a + b;
}

static int
s_state_rank (const char *state)
{
    return streq (state, "alive")? 0: streq (state, "suspect")? 1:
           streq (state, "dead")? 2: streq (state, "left")? 3: 4;
}

static void
s_parse_peer (osmose_top_peer_t *peer, json_t *json)
{
    json_t *resources = json_object_get (json, "resources");
    json_t *log = json_object_get (json, "log");
    *peer = (osmose_top_peer_t) {
        .json = json,
        .id = s_str (json, "id"), .name = s_str (json, "name"),
        .location = s_str (json, "location"), .state = s_str (json, "state"),
        .endpoint = s_str (json, "endpoint"),
        .power = s_str (resources, "power"), .cpu_model = s_str (resources, "cpu_model"),
        .log_root = s_str (log, "root"),
        .self = json_is_true (json_object_get (json, "self")),
        .rtt_us = s_int (json, "rtt_us"), .distance = s_int (json, "distance"),
        .score_us = s_int (json, "score_us"),
        .cpus = s_int (resources, "cpus"), .cpus_free = s_int (resources, "cpus_free"),
        .gpus = s_int (resources, "gpus"), .gpus_free = s_int (resources, "gpus_free"),
        .npus = s_int (resources, "npus"), .npus_free = s_int (resources, "npus_free"),
        .memory_mb = s_int (resources, "memory_mb"),
        .memory_free_mb = s_int (resources, "memory_free_mb"),
        .battery = s_int (resources, "battery"),
        .log_size = s_int (log, "size"),
        .load = s_num (resources, "load")
    };
}

static void
s_parse_lease (osmose_top_lease_t *lease, json_t *json)
{
    json_t *resources = json_object_get (json, "resources");
    *lease = (osmose_top_lease_t) {
        .json = json,
        .id = s_str (json, "id"), .client = s_str (json, "client"),
        .provider = s_str (json, "provider"), .state = s_str (json, "state"),
        .ttl_ms = s_int (json, "ttl_ms"),
        .cpus = s_int (resources, "cpus"), .gpus = s_int (resources, "gpus"),
        .npus = s_int (resources, "npus"), .memory_mb = s_int (resources, "memory_mb")
    };
}

static void
s_parse_task (osmose_top_task_t *task, json_t *json)
{
    *task = (osmose_top_task_t) {
        .json = json,
        .id = s_str (json, "id"), .function = s_str (json, "function"),
        .provider = s_str (json, "provider"), .state = s_str (json, "state"),
        .ms = s_int (json, "ms")
    };
}

static void
s_parse_entry (osmose_top_entry_t *entry, json_t *json)
{
    *entry = (osmose_top_entry_t) {
        .json = json,
        .feed = s_str (json, "feed"), .type = s_str (json, "type"),
        .summary = s_str (json, "summary"),
        .seq = s_int (json, "seq"), .time_ms = s_int (json, "time_ms")
    };
}

//  Proximity: ourselves, then by score, RTT, hops; unknowns go last
static int
s_compare_known (int64_t a, int64_t b)
{
    if (a < 0 || b < 0)
        return (a < 0) - (b < 0);
    return (a > b) - (a < b);
}

static int
s_compare_peers (const osmose_top_peer_t *a, const osmose_top_peer_t *b,
                 osmose_top_sort_t sort)
{
    int order = 0;
    switch (sort) {
        case OSMOSE_TOP_SORT_PROXIMITY:
            order = (int) b->self - (int) a->self;
            if (!order)
                order = s_compare_known (a->score_us, b->score_us);
            if (!order)
                order = s_compare_known (a->rtt_us, b->rtt_us);
            if (!order)
                order = s_compare_known (a->distance, b->distance);
            break;
        case OSMOSE_TOP_SORT_NAME:
            order = strcasecmp (a->name, b->name);
            break;
        case OSMOSE_TOP_SORT_LOCATION:
            order = strcmp (a->location, b->location);
            break;
        case OSMOSE_TOP_SORT_STATE:
            order = s_state_rank (a->state) - s_state_rank (b->state);
            break;
        case OSMOSE_TOP_SORT_RTT:
            order = s_compare_known (a->rtt_us, b->rtt_us);
            break;
        case OSMOSE_TOP_SORT_CPU:       //  most free first
            if (a->cpus_free < 0 || b->cpus_free < 0)
                order = s_compare_known (a->cpus_free, b->cpus_free);
            else
                order = s_compare_known (b->cpus_free, a->cpus_free);
            break;
        case OSMOSE_TOP_SORT_LOAD:      //  busiest first
            order = (a->load < b->load) - (a->load > b->load);
            break;
        case OSMOSE_TOP_SORT_LOG:       //  biggest first
            order = (a->log_size < b->log_size) - (a->log_size > b->log_size);
            break;
        default:
            break;
    }
    //  Ties always in the same order, so rows do not jump between frames
    if (!order)
        order = strcasecmp (a->name, b->name);
    if (!order)
        order = strcmp (a->id, b->id);
    return order;
}

//  qsort has no context argument; the model is single-threaded
static osmose_top_model_t *s_sorting;

static int
s_compare_shown (const void *a, const void *b)
{
    const osmose_top_model_t *self = s_sorting;
    int order = s_compare_peers (&self->peers [*(const size_t *) a],
                                 &self->peers [*(const size_t *) b], self->sort);
    return self->reverse? -order: order;
}

static bool
s_matches (const char *filter, const char *a, const char *b, const char *c, const char *d)
{
    return !*filter || strcasestr (a, filter) || strcasestr (b, filter)
        || strcasestr (c, filter) || strcasestr (d, filter);
}

//  Rebuild the shown rows of every tab from the filter and the sort
static void
s_select (osmose_top_model_t *self)
{
    const char *filter = self->filter;
    size_t count = 0;
    for (size_t index = 0; index < self->peer_count; index++) {
        osmose_top_peer_t *peer = &self->peers [index];
        if (s_matches (filter, peer->name, peer->id, peer->location, peer->state))
            self->shown [OSMOSE_TOP_PEERS][count++] = index;
    }
    self->shown_count [OSMOSE_TOP_PEERS] = count;
    if (count > 1) {
        s_sorting = self;
        qsort (self->shown [OSMOSE_TOP_PEERS], count, sizeof (size_t), s_compare_shown);
        s_sorting = NULL;
    }

    count = 0;
    for (size_t index = 0; index < self->lease_count; index++) {
        osmose_top_lease_t *lease = &self->leases [index];
        if (s_matches (filter, lease->id, lease->client, lease->provider, lease->state))
            self->shown [OSMOSE_TOP_LEASES][count++] = index;
    }
    self->shown_count [OSMOSE_TOP_LEASES] = count;
    count = 0;
    for (size_t index = 0; index < self->task_count; index++) {
        osmose_top_task_t *task = &self->tasks [index];
        if (s_matches (filter, task->id, task->function, task->provider, task->state))
            self->shown [OSMOSE_TOP_TASKS][count++] = index;
    }
    self->shown_count [OSMOSE_TOP_TASKS] = count;
    count = 0;
    for (size_t index = 0; index < self->entry_count; index++) {
        osmose_top_entry_t *entry = &self->entries [index];
        if (s_matches (filter, entry->feed, entry->type, entry->summary, ""))
            self->shown [OSMOSE_TOP_LOG][count++] = index;
    }
    self->shown_count [OSMOSE_TOP_LOG] = count;
}

osmose_top_model_t *
osmose_top_model_new (void)
{
    osmose_top_model_t *self = (osmose_top_model_t *) zmalloc (sizeof (osmose_top_model_t));
    if (self)
        self->summary.tasks_per_s = -1;
    return self;
}

static void
s_free_rows (osmose_top_model_t *self)
{
    free (self->peers);
    free (self->leases);
    free (self->tasks);
    free (self->entries);
    for (int tab = 0; tab < OSMOSE_TOP_TABS; tab++) {
        free (self->shown [tab]);
        self->shown [tab] = NULL;
        self->shown_count [tab] = 0;
    }
    free (self->daemon_history);
    self->daemon_history = NULL;
    self->daemon_history_count = 0;
    self->peers = NULL;
    self->leases = NULL;
    self->tasks = NULL;
    self->entries = NULL;
    self->peer_count = self->lease_count = self->task_count = self->entry_count = 0;
}

void
osmose_top_model_destroy (osmose_top_model_t **self_p)
{
    if (self_p && *self_p) {
        osmose_top_model_t *self = *self_p;
        s_free_rows (self);
        json_decref (self->frame);
        free (self);
        *self_p = NULL;
    }
}

//  Counts the daemon gives in STATUS win; else we count what we see
static void
s_summarise (osmose_top_model_t *self)
{
    json_t *status = json_object_get (self->frame, "status");
    osmose_top_summary_t *summary = &self->summary;
    *summary = (osmose_top_summary_t) {
        .id = s_str (status, "id"), .name = s_str (status, "name"),
        .location = s_str (status, "location"), .version = s_str (status, "version"),
        .uptime_ms = s_int (status, "uptime_ms"),
        .time_ms = s_int (self->frame, "time_ms"),
        .cpus = -1, .cpus_free = -1, .gpus = -1, .gpus_free = -1,
        .npus = -1, .npus_free = -1, .memory_mb = -1, .memory_free_mb = -1
    };
    summary->peers = (int64_t) self->peer_count;
    for (size_t index = 0; index < self->peer_count; index++) {
        osmose_top_peer_t *peer = &self->peers [index];
        int rank = s_state_rank (peer->state);
        summary->alive += rank == 0;
        summary->suspect += rank == 1;
        summary->dead += rank == 2;
        summary->left += rank == 3;
        if (rank > 1)
            continue;           //  a dead peer's capacity is not on offer
        s_add (&summary->cpus, peer->cpus);
        s_add (&summary->cpus_free, peer->cpus_free);
        s_add (&summary->gpus, peer->gpus);
        s_add (&summary->gpus_free, peer->gpus_free);
        s_add (&summary->npus, peer->npus);
        s_add (&summary->npus_free, peer->npus_free);
        s_add (&summary->memory_mb, peer->memory_mb);
        s_add (&summary->memory_free_mb, peer->memory_free_mb);
    }
    json_t *peers = json_object_get (status, "peers");
    if (json_is_object (peers)) {
        int64_t alive = s_int (peers, "alive"), suspect = s_int (peers, "suspect");
        int64_t dead = s_int (peers, "dead"), left = s_int (peers, "left");
        if (alive >= 0)
            summary->alive = alive;
        if (suspect >= 0)
            summary->suspect = suspect;
        if (dead >= 0)
            summary->dead = dead;
        if (left >= 0)
            summary->left = left;
    }
    json_t *leases = json_object_get (status, "leases");
    summary->leases_held = s_int (leases, "held");
    summary->leases_granted = s_int (leases, "granted");
    json_t *tasks = json_object_get (status, "tasks");
    summary->tasks_running = s_int (tasks, "running");
    summary->tasks_queued = s_int (tasks, "queued");
    summary->tasks_done = s_int (tasks, "done");
    summary->tasks_migrated = s_int (tasks, "migrated");
    summary->tasks_per_s = s_num (tasks, "per_s");
    json_t *log = json_object_get (status, "log");
    summary->log_entries = s_int (log, "entries");
    summary->log_feeds = s_int (log, "feeds");
    summary->log_lag = s_int (log, "lag_entries");
}

//  The throughput history: the daemon's, or our own samples
static int
s_history (osmose_top_model_t *self)
{
    json_t *history = json_object_get (json_object_get (self->frame, "tasks"), "per_s_history");
    size_t count = json_array_size (history);
    if (count) {
        self->daemon_history = (double *) calloc (count, sizeof (double));
        if (!self->daemon_history)
            return OSMOSE_ENOMEM;
        for (size_t index = 0; index < count; index++) {
            json_t *value = json_array_get (history, index);
            double number = json_is_number (value)? json_number_value (value): 0;
            self->daemon_history [index] = isfinite (number) && number > 0? number: 0;
        }
        self->daemon_history_count = count;
    }
    if (self->summary.tasks_per_s >= 0) {
        if (self->history_count == S_HISTORY) {
            memmove (self->history, self->history + 1, (S_HISTORY - 1) * sizeof (double));
            self->history_count--;
        }
        self->history [self->history_count++] = self->summary.tasks_per_s;
    }
    return 0;
}

int
osmose_top_model_update (osmose_top_model_t *self, json_t **frame_p)
{
    assert (self);
    assert (frame_p);
    json_t *frame = *frame_p;
    *frame_p = NULL;
    if (!json_is_object (frame)) {
        json_decref (frame);
        return OSMOSE_EPROTO;
    }
    s_free_rows (self);
    json_decref (self->frame);
    self->frame = frame;

    json_t *peers = json_object_get (frame, "peers");
    json_t *leases = json_object_get (frame, "leases");
    json_t *tasks = json_object_get (json_object_get (frame, "tasks"), "recent");
    json_t *log = json_object_get (frame, "log");
    self->has [OSMOSE_TOP_PEERS] = json_is_array (peers);
    self->has [OSMOSE_TOP_LEASES] = json_is_array (leases);
    self->has [OSMOSE_TOP_TASKS] = json_is_array (tasks);
    self->has [OSMOSE_TOP_LOG] = json_is_array (log);
    //  One spare slot each, so a tab with no rows still has a buffer
    size_t size [OSMOSE_TOP_TABS] = {
        json_array_size (peers), json_array_size (leases),
        json_array_size (tasks), json_array_size (log)
    };
    self->peers = (osmose_top_peer_t *) calloc (size [0] + 1, sizeof (osmose_top_peer_t));
    self->leases = (osmose_top_lease_t *) calloc (size [1] + 1, sizeof (osmose_top_lease_t));
    self->tasks = (osmose_top_task_t *) calloc (size [2] + 1, sizeof (osmose_top_task_t));
    self->entries = (osmose_top_entry_t *) calloc (size [3] + 1, sizeof (osmose_top_entry_t));
    bool ok = self->peers && self->leases && self->tasks && self->entries;
    for (int tab = 0; tab < OSMOSE_TOP_TABS; tab++) {
        self->shown [tab] = (size_t *) calloc (size [tab] + 1, sizeof (size_t));
        ok = ok && self->shown [tab];
    }
    if (!ok) {
        s_free_rows (self);
        return OSMOSE_ENOMEM;
    }
    //  Rows that are not objects are skipped, not trusted
    size_t index;
    json_t *row;
    json_array_foreach (peers, index, row)
        if (json_is_object (row))
            s_parse_peer (&self->peers [self->peer_count++], row);
    json_array_foreach (leases, index, row)
        if (json_is_object (row))
            s_parse_lease (&self->leases [self->lease_count++], row);
    json_array_foreach (tasks, index, row)
        if (json_is_object (row))
            s_parse_task (&self->tasks [self->task_count++], row);
    json_array_foreach (log, index, row)
        if (json_is_object (row))
            s_parse_entry (&self->entries [self->entry_count++], row);
    s_summarise (self);
    s_select (self);
    return s_history (self);
}

json_t *
osmose_top_model_frame (osmose_top_model_t *self)
{
    assert (self);
    return self->frame;
}

const osmose_top_summary_t *
osmose_top_model_summary (osmose_top_model_t *self)
{
    assert (self);
    return &self->summary;
}

//  Unknown numbers become null, so scripts can tell 0 from "not said"
static json_t *
s_json_int (int64_t value)
{
    return value < 0? json_null (): json_integer ((json_int_t) value);
}

json_t *
osmose_top_model_summary_json (osmose_top_model_t *self)
{
    assert (self);
    const osmose_top_summary_t *sum = &self->summary;
    return json_pack ("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
                      " s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "peers", s_json_int (sum->peers), "alive", s_json_int (sum->alive),
        "suspect", s_json_int (sum->suspect), "dead", s_json_int (sum->dead),
        "left", s_json_int (sum->left),
        "cpus", s_json_int (sum->cpus), "cpus_free", s_json_int (sum->cpus_free),
        "gpus", s_json_int (sum->gpus), "gpus_free", s_json_int (sum->gpus_free),
        "npus", s_json_int (sum->npus), "npus_free", s_json_int (sum->npus_free),
        "memory_mb", s_json_int (sum->memory_mb),
        "memory_free_mb", s_json_int (sum->memory_free_mb),
        "leases_held", s_json_int (sum->leases_held),
        "leases_granted", s_json_int (sum->leases_granted),
        "tasks_running", s_json_int (sum->tasks_running),
        "tasks_queued", s_json_int (sum->tasks_queued),
        "tasks_migrated", s_json_int (sum->tasks_migrated),
        "tasks_per_s", sum->tasks_per_s < 0? json_null (): json_real (sum->tasks_per_s),
        "log_entries", s_json_int (sum->log_entries),
        "log_feeds", s_json_int (sum->log_feeds),
        "log_lag", s_json_int (sum->log_lag));
}

bool
osmose_top_model_has (osmose_top_model_t *self, osmose_top_tab_t tab)
{
    assert (self);
    return tab < OSMOSE_TOP_TABS && self->has [tab];
}

size_t
osmose_top_model_size (osmose_top_model_t *self, osmose_top_tab_t tab)
{
    assert (self);
    return tab < OSMOSE_TOP_TABS? self->shown_count [tab]: 0;
}

const osmose_top_peer_t *
osmose_top_model_peer (osmose_top_model_t *self, size_t index)
{
    assert (self);
    if (index >= self->shown_count [OSMOSE_TOP_PEERS])
        return NULL;
    return &self->peers [self->shown [OSMOSE_TOP_PEERS][index]];
}

const osmose_top_lease_t *
osmose_top_model_lease (osmose_top_model_t *self, size_t index)
{
    assert (self);
    if (index >= self->shown_count [OSMOSE_TOP_LEASES])
        return NULL;
    return &self->leases [self->shown [OSMOSE_TOP_LEASES][index]];
}

const osmose_top_task_t *
osmose_top_model_task (osmose_top_model_t *self, size_t index)
{
    assert (self);
    if (index >= self->shown_count [OSMOSE_TOP_TASKS])
        return NULL;
    return &self->tasks [self->shown [OSMOSE_TOP_TASKS][index]];
}

const osmose_top_entry_t *
osmose_top_model_entry (osmose_top_model_t *self, size_t index)
{
    assert (self);
    if (index >= self->shown_count [OSMOSE_TOP_LOG])
        return NULL;
    return &self->entries [self->shown [OSMOSE_TOP_LOG][index]];
}

json_t *
osmose_top_model_row_json (osmose_top_model_t *self, osmose_top_tab_t tab, size_t index)
{
    switch (tab) {
        case OSMOSE_TOP_PEERS: {
            const osmose_top_peer_t *row = osmose_top_model_peer (self, index);
            return row? row->json: NULL;
        }
        case OSMOSE_TOP_LEASES: {
            const osmose_top_lease_t *row = osmose_top_model_lease (self, index);
            return row? row->json: NULL;
        }
        case OSMOSE_TOP_TASKS: {
            const osmose_top_task_t *row = osmose_top_model_task (self, index);
            return row? row->json: NULL;
        }
        case OSMOSE_TOP_LOG: {
            const osmose_top_entry_t *row = osmose_top_model_entry (self, index);
            return row? row->json: NULL;
        }
        default:
            return NULL;
    }
}

const char *
osmose_top_model_name (osmose_top_model_t *self, const char *id)
{
    assert (self);
    for (size_t index = 0; id && *id && index < self->peer_count; index++)
        if (streq (self->peers [index].id, id) && *self->peers [index].name)
            return self->peers [index].name;
    return id;
}

void
osmose_top_model_set_sort (osmose_top_model_t *self, osmose_top_sort_t sort, bool reverse)
{
    assert (self);
    self->sort = sort < OSMOSE_TOP_SORTS? sort: OSMOSE_TOP_SORT_PROXIMITY;
    self->reverse = reverse;
    s_select (self);
}

osmose_top_sort_t
osmose_top_model_sort (osmose_top_model_t *self)
{
    assert (self);
    return self->sort;
}

bool
osmose_top_model_reverse (osmose_top_model_t *self)
{
    assert (self);
    return self->reverse;
}

const char *
osmose_top_sort_name (osmose_top_sort_t sort)
{
    return sort < OSMOSE_TOP_SORTS? s_sort_names [sort]: "?";
}

int
osmose_top_sort_parse (const char *name)
{
    for (int sort = 0; name && sort < OSMOSE_TOP_SORTS; sort++)
        if (strcasecmp (name, s_sort_names [sort]) == 0)
            return sort;
    return -1;
}

void
osmose_top_model_set_filter (osmose_top_model_t *self, const char *text)
{
    assert (self);
    snprintf (self->filter, sizeof (self->filter), "%s", text? text: "");
    s_select (self);
}

const char *
osmose_top_model_filter (osmose_top_model_t *self)
{
    assert (self);
    return self->filter;
}

const double *
osmose_top_model_history (osmose_top_model_t *self, size_t *count)
{
    assert (self);
    assert (count);
    if (self->daemon_history_count) {
        *count = self->daemon_history_count;
        return self->daemon_history;
    }
    *count = self->history_count;
    return self->history;
}
