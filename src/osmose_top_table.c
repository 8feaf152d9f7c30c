/*  osmose_top_table.c: the columns of osmose-top's tables (see
    osmose_top_table.h): which fields each tab shows, how wide, and in which
    role (colour), for the peers, leases, tasks and log. The view draws the
    cells; nothing here touches the terminal.
*/
#include "osmose_prelude.h"
#include "osmose_top_table.h"

static const char *
s_dash (const char *text)
{
    return text && *text? text: "-";
}

static const char *
s_num (char *buffer, size_t size, int64_t value)
{
    if (value < 0)
        snprintf (buffer, size, "-");
    else
        snprintf (buffer, size, "%" PRId64, value);
    return buffer;
}

static osmose_top_role_t
s_state_role (const char *state)
{
    return streq (state, "alive") || streq (state, "active")
        || streq (state, "done")? OSMOSE_TOP_GOOD:
           streq (state, "suspect") || streq (state, "queued")
        || streq (state, "migrated")? OSMOSE_TOP_WARN:
           streq (state, "dead") || streq (state, "failed")
        || streq (state, "expired")? OSMOSE_TOP_BAD:
           streq (state, "left")? OSMOSE_TOP_DIM: OSMOSE_TOP_NORMAL;
}

//  Width of the flexible column (location, summary) on this screen
static int
s_flex (int columns, int fixed, int least, int most)
{
    int width = columns - fixed;
    return width < least? least: width > most? most: width;
}

static size_t
s_peer_cells (osmose_top_model_t *model, int columns, const osmose_top_peer_t *peer,
              osmose_top_cell_t *cells, char text [][48])
{
    int location = s_flex (columns, 100, 10, 40);
    if (!peer) {
        osmose_top_cell_t header [] = {
            { "NAME", -14, OSMOSE_TOP_HEADER }, { "LOCATION", -location, OSMOSE_TOP_HEADER },
            { "STATE", -7, OSMOSE_TOP_HEADER },
            { "RTT", 7, OSMOSE_TOP_HEADER },
            { "CPU", 7, OSMOSE_TOP_HEADER },
            { "GPU", 5, OSMOSE_TOP_HEADER },
            { "NPU", 5, OSMOSE_TOP_HEADER },
            { "MEM free/all", 12, OSMOSE_TOP_HEADER },
            { "LOAD", -14, OSMOSE_TOP_HEADER },
            { "POWER", -9, OSMOSE_TOP_HEADER },
            { "LOG", 7, OSMOSE_TOP_HEADER }
        };
        memcpy (cells, header, sizeof (header));
        return sizeof (header) / sizeof (header [0]);
    }
    snprintf (text [0], 48, "%s%s", s_dash (peer->name), peer->self? "*": "");
    char free_mb [16], total_mb [16];
    snprintf (text [1], 48, "%s/%s",
              osmose_top_format_mb (free_mb, sizeof (free_mb), peer->memory_free_mb),
              osmose_top_format_mb (total_mb, sizeof (total_mb), peer->memory_mb));
    //  The load bar: 8 cells for a load equal to the CPU count
    double cpus = peer->cpus > 0? (double) peer->cpus: 1;
    int bars = peer->load >= 0? (int) (peer->load / cpus * 8 + 0.5): 0;
    bars = bars > 8? 8: bars;
    if (peer->load >= 0)
        snprintf (text [2], 48, "%-8.*s %5.2f", bars, "||||||||", peer->load);
    else
        snprintf (text [2], 48, "%-8s %5s", "", "-");
    if (peer->battery >= 0)
        snprintf (text [3], 48, "%s %" PRId64 "%%",
                  streq (peer->power, "wall")? "wall": "bat", peer->battery);
    else
        snprintf (text [3], 48, "%s", s_dash (peer->power));
    double load_share = peer->cpus > 0 && peer->load >= 0? peer->load / (double) peer->cpus: 0;
    osmose_top_cell_t row [] = {
        { text [0], -14, peer->self? OSMOSE_TOP_KEY: OSMOSE_TOP_NORMAL },
        { s_dash (peer->location), -location, OSMOSE_TOP_NORMAL },
        { s_dash (peer->state), -7, s_state_role (peer->state) },
        { osmose_top_format_us (text [4], 48, peer->rtt_us), 7, OSMOSE_TOP_NORMAL },
        { osmose_top_format_ratio (text [5], 48, peer->cpus_free, peer->cpus), 7,
          peer->cpus_free == 0? OSMOSE_TOP_WARN: OSMOSE_TOP_NORMAL },
        { osmose_top_format_ratio (text [6], 48, peer->gpus_free, peer->gpus), 5,
          OSMOSE_TOP_NORMAL },
        { osmose_top_format_ratio (text [7], 48, peer->npus_free, peer->npus), 5,
          OSMOSE_TOP_NORMAL },
        { text [1], 12, OSMOSE_TOP_NORMAL },
        { text [2], -14, load_share < 0.6? OSMOSE_TOP_GOOD:
                         load_share < 0.9? OSMOSE_TOP_WARN: OSMOSE_TOP_BAD },
        { text [3], -9, peer->battery >= 0 && peer->battery < 20? OSMOSE_TOP_BAD:
                                                                  OSMOSE_TOP_NORMAL },
        { s_num (text [8], 48, peer->log_size), 7, OSMOSE_TOP_NORMAL }
    };
    memcpy (cells, row, sizeof (row));
    return sizeof (row) / sizeof (row [0]);
}

static size_t
s_lease_cells (osmose_top_model_t *model, int columns, const osmose_top_lease_t *lease,
              osmose_top_cell_t *cells, char text [][48])
{
    if (!lease) {
        osmose_top_cell_t header [] = {
            { "LEASE", -16, OSMOSE_TOP_HEADER }, { "CLIENT", -16, OSMOSE_TOP_HEADER },
            { "PROVIDER", -16, OSMOSE_TOP_HEADER },
            { "STATE", -9, OSMOSE_TOP_HEADER },
            { "CPU", 5, OSMOSE_TOP_HEADER },
            { "GPU", 5, OSMOSE_TOP_HEADER },
            { "NPU", 5, OSMOSE_TOP_HEADER },
            { "MEM", 8, OSMOSE_TOP_HEADER },
            { "TTL", 8, OSMOSE_TOP_HEADER }
        };
        memcpy (cells, header, sizeof (header));
        return sizeof (header) / sizeof (header [0]);
    }
    //  People read names; the ids are in the details and in -b
    osmose_top_cell_t row [] = {
        { s_dash (lease->id), -16, OSMOSE_TOP_NORMAL },
        { s_dash (osmose_top_model_name (model, lease->client)), -16, OSMOSE_TOP_NORMAL },
        { s_dash (osmose_top_model_name (model, lease->provider)), -16, OSMOSE_TOP_NORMAL },
        { s_dash (lease->state), -9, s_state_role (lease->state) },
        { s_num (text [0], 48, lease->cpus), 5, OSMOSE_TOP_NORMAL },
        { s_num (text [1], 48, lease->gpus), 5, OSMOSE_TOP_NORMAL },
        { s_num (text [2], 48, lease->npus), 5, OSMOSE_TOP_NORMAL },
        { osmose_top_format_mb (text [3], 48, lease->memory_mb), 8, OSMOSE_TOP_NORMAL },
        { osmose_top_format_duration (text [4], 48, lease->ttl_ms), 8,
          lease->ttl_ms >= 0 && lease->ttl_ms < 2000? OSMOSE_TOP_WARN: OSMOSE_TOP_NORMAL }
    };
    memcpy (cells, row, sizeof (row));
    return sizeof (row) / sizeof (row [0]);
}

static size_t
s_task_cells (osmose_top_model_t *model, int columns, const osmose_top_task_t *task,
              osmose_top_cell_t *cells, char text [][48])
{
    int function = s_flex (columns, 50, 16, 40);
    if (!task) {
        osmose_top_cell_t header [] = {
            { "TASK", -16, OSMOSE_TOP_HEADER }, { "FUNCTION", -function, OSMOSE_TOP_HEADER },
            { "PROVIDER", -16, OSMOSE_TOP_HEADER },
            { "STATE", -9, OSMOSE_TOP_HEADER },
            { "MS", 8, OSMOSE_TOP_HEADER }
        };
        memcpy (cells, header, sizeof (header));
        return sizeof (header) / sizeof (header [0]);
    }
    osmose_top_cell_t row [] = {
        { s_dash (task->id), -16, OSMOSE_TOP_NORMAL },
        { s_dash (task->function), -function, OSMOSE_TOP_NORMAL },
        { s_dash (osmose_top_model_name (model, task->provider)), -16, OSMOSE_TOP_NORMAL },
        { s_dash (task->state), -9, s_state_role (task->state) },
        { s_num (text [0], 48, task->ms), 8, OSMOSE_TOP_NORMAL }
    };
    memcpy (cells, row, sizeof (row));
    return sizeof (row) / sizeof (row [0]);
}

static size_t
s_entry_cells (osmose_top_model_t *model, int columns, const osmose_top_entry_t *entry,
              osmose_top_cell_t *cells, char text [][48])
{
    int summary = s_flex (columns, 56, 20, 200);
    if (!entry) {
        osmose_top_cell_t header [] = {
            { "FEED", -16, OSMOSE_TOP_HEADER },
            { "SEQ", 8, OSMOSE_TOP_HEADER },
            { "TIME", -12, OSMOSE_TOP_HEADER },
            { "TYPE", -14, OSMOSE_TOP_HEADER }, { "SUMMARY", -summary, OSMOSE_TOP_HEADER }
        };
        memcpy (cells, header, sizeof (header));
        return sizeof (header) / sizeof (header [0]);
    }
    //  Wall-clock time of day; the date is in the details
    snprintf (text [1], 48, "-");
    if (entry->time_ms >= 0) {
        time_t seconds = (time_t) (entry->time_ms / 1000);
        struct tm tm;
        if (localtime_r (&seconds, &tm))
            strftime (text [1], 48, "%H:%M:%S", &tm);
    }
    osmose_top_cell_t row [] = {
        { s_dash (osmose_top_model_name (model, entry->feed)), -16, OSMOSE_TOP_NORMAL },
        { s_num (text [0], 48, entry->seq), 8, OSMOSE_TOP_NORMAL },
        { text [1], -12, OSMOSE_TOP_NORMAL }, { s_dash (entry->type), -14, OSMOSE_TOP_KEY },
        { s_dash (entry->summary), -summary, OSMOSE_TOP_NORMAL }
    };
    memcpy (cells, row, sizeof (row));
    return sizeof (row) / sizeof (row [0]);
}

size_t
osmose_top_table_row (osmose_top_model_t *model, osmose_top_tab_t tab, long index,
                      int columns, osmose_top_cell_t *cells, char text [][48])
{
    size_t row = (size_t) index;
    bool header = index < 0;
    switch (tab) {
        case OSMOSE_TOP_PEERS:
            return s_peer_cells (model, columns,
                header? NULL: osmose_top_model_peer (model, row), cells, text);
        case OSMOSE_TOP_LEASES:
            return s_lease_cells (model, columns,
                header? NULL: osmose_top_model_lease (model, row), cells, text);
        case OSMOSE_TOP_TASKS:
            return s_task_cells (model, columns,
                header? NULL: osmose_top_model_task (model, row), cells, text);
        default:
            return s_entry_cells (model, columns,
                header? NULL: osmose_top_model_entry (model, row), cells, text);
    }
}
