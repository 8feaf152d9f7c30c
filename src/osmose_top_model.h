/*  osmose_top_model.h: the data behind osmose-top, one frame at a time.

    A frame is one JSON object, {"time_ms", "status", "peers", "leases",
    "tasks", "log"}, built from the daemon's local API (or read back from a
    file with --replay). The model turns it into rows that the screen, the
    batch printer and the JSON printer share: it tolerates any part being
    missing or of the wrong type (old daemons, ENOTSUP), computes the mesh
    summary, and sorts and filters the rows. Nothing here draws; the
    ncurses view is in osmose_top_view.c.

    Strings in rows point into the current frame: they stay valid until the
    next osmose_top_model_update. Numbers are -1 when the daemon did not say.
    Not thread safe; one model per program.
*/
#ifndef OSMOSE_TOP_MODEL_H_INCLUDED
#define OSMOSE_TOP_MODEL_H_INCLUDED

#include <jansson.h>
#include <stdio.h>

typedef struct _osmose_top_model_t osmose_top_model_t;

//  The tabs of osmose-top, in the order Tab visits them
typedef enum {
    OSMOSE_TOP_PEERS,
    OSMOSE_TOP_LEASES,
    OSMOSE_TOP_TASKS,
    OSMOSE_TOP_LOG,
    OSMOSE_TOP_TABS
} osmose_top_tab_t;

//  Orders of the peer table; proximity (nearest first) is the default
typedef enum {
    OSMOSE_TOP_SORT_PROXIMITY,
    OSMOSE_TOP_SORT_NAME,
    OSMOSE_TOP_SORT_LOCATION,
    OSMOSE_TOP_SORT_STATE,
    OSMOSE_TOP_SORT_RTT,
    OSMOSE_TOP_SORT_CPU,
    OSMOSE_TOP_SORT_LOAD,
    OSMOSE_TOP_SORT_LOG,
    OSMOSE_TOP_SORTS
} osmose_top_sort_t;

typedef struct {
    json_t *json;               //  the peer's object in the frame
    const char *id, *name, *location, *state, *endpoint;
    const char *power, *cpu_model, *log_root;
    bool self;
    int64_t rtt_us, distance, score_us;
    int64_t cpus, cpus_free, gpus, gpus_free, npus, npus_free;
    int64_t memory_mb, memory_free_mb, battery, log_size;
    double load;                //  < 0 when unknown
} osmose_top_peer_t;

typedef struct {
    json_t *json;
    const char *id, *client, *provider, *state;
    int64_t ttl_ms, cpus, gpus, npus, memory_mb;
} osmose_top_lease_t;

typedef struct {
    json_t *json;
    const char *id, *function, *provider, *state;
    int64_t ms;
} osmose_top_task_t;

typedef struct {
    json_t *json;
    const char *feed, *type, *summary;
    int64_t seq, time_ms;
} osmose_top_entry_t;

//  The header: this peer and the mesh at a glance
typedef struct {
    const char *id, *name, *location, *version;
    int64_t uptime_ms, time_ms;
    int64_t peers, alive, suspect, dead, left;
    //  Sums over the peers that are alive or suspect
    int64_t cpus, cpus_free, gpus, gpus_free, npus, npus_free;
    int64_t memory_mb, memory_free_mb;
    int64_t leases_held, leases_granted;
    int64_t tasks_running, tasks_queued, tasks_done, tasks_migrated;
    double tasks_per_s;         //  < 0 when unknown
    int64_t log_entries, log_feeds, log_lag;
} osmose_top_summary_t;

//  Create an empty model (no frame yet). Returns NULL if out of memory.
osmose_top_model_t *
    osmose_top_model_new (void);

void
    osmose_top_model_destroy (osmose_top_model_t **self_p);

//  Take the frame (*frame_p is cleared, the model owns it) and rebuild the
//  rows. Returns 0, or OSMOSE_EPROTO if the frame is not a JSON object
//  (the previous frame is then kept), or OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_top_model_update (osmose_top_model_t *self, json_t **frame_p);

//  The current frame (borrowed; NULL before the first update).
json_t *
    osmose_top_model_frame (osmose_top_model_t *self);

const osmose_top_summary_t *
    osmose_top_model_summary (osmose_top_model_t *self);

//  The summary as a new JSON object (caller owns), for --json.
json_t *
    osmose_top_model_summary_json (osmose_top_model_t *self);

//  Whether the daemon gave data for TAB (false: show "no data").
bool
    osmose_top_model_has (osmose_top_model_t *self, osmose_top_tab_t tab);

//  Rows of TAB that pass the filter, in display order.
size_t
    osmose_top_model_size (osmose_top_model_t *self, osmose_top_tab_t tab);
const osmose_top_peer_t *
    osmose_top_model_peer (osmose_top_model_t *self, size_t index);
const osmose_top_lease_t *
    osmose_top_model_lease (osmose_top_model_t *self, size_t index);
const osmose_top_task_t *
    osmose_top_model_task (osmose_top_model_t *self, size_t index);
const osmose_top_entry_t *
    osmose_top_model_entry (osmose_top_model_t *self, size_t index);

//  The row's JSON object (borrowed), for the details of a row.
json_t *
    osmose_top_model_row_json (osmose_top_model_t *self, osmose_top_tab_t tab,
                               size_t index);

//  The name of the peer with ID in this frame, or ID itself when the
//  frame has no such peer or it has no name (for leases, tasks, feeds).
const char *
    osmose_top_model_name (osmose_top_model_t *self, const char *id);

//  Order of the peer table; REVERSE turns it round.
void
    osmose_top_model_set_sort (osmose_top_model_t *self, osmose_top_sort_t sort,
                               bool reverse);
osmose_top_sort_t
    osmose_top_model_sort (osmose_top_model_t *self);
bool
    osmose_top_model_reverse (osmose_top_model_t *self);
const char *
    osmose_top_sort_name (osmose_top_sort_t sort);
//  Parse a sort name as given to --sort; returns -1 if unknown.
int
    osmose_top_sort_parse (const char *name);

//  Keep only rows where TEXT occurs (ignoring case) in a name, id,
//  location, state, function or summary; NULL or "" shows every row.
void
    osmose_top_model_set_filter (osmose_top_model_t *self, const char *text);
const char *
    osmose_top_model_filter (osmose_top_model_t *self);

//  Task throughput history, oldest first: the daemon's own history when it
//  sends one, else the tasks/s of the frames seen so far. Sets *count.
const double *
    osmose_top_model_history (osmose_top_model_t *self, size_t *count);

//  Print the frame as plain text, like top -b: header, then each table
//  that has data. Rows are not truncated.
void
    osmose_top_model_print (osmose_top_model_t *self, FILE *out);

//  Formatters shared by the views; each writes "-" for unknown (< 0).
//  Megabytes as 512M, 15.6G; microseconds as 310us, 1.2ms, 2.5s; and
//  "free/total" counts.
const char *
    osmose_top_format_mb (char *buffer, size_t size, int64_t mb);
const char *
    osmose_top_format_us (char *buffer, size_t size, int64_t us);
const char *
    osmose_top_format_ratio (char *buffer, size_t size, int64_t part, int64_t whole);
const char *
    osmose_top_format_duration (char *buffer, size_t size, int64_t ms);

void
    osmose_top_model_test (bool verbose);

#endif
