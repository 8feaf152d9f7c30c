/*  osmose_top_text.c: osmose-top's plain-text frames (-b) and the value
    formatters the screen shares with them (see osmose_top_model.h).

    A batch frame reads like top -b: a header of a few lines, a blank line,
    then one table per tab that has data. Every row is one line with
    blank-separated fields and "-" for unknown values, so awk can read it.
*/
#include "osmose_prelude.h"
#include "osmose_top_model.h"

const char *
osmose_top_format_mb (char *buffer, size_t size, int64_t mb)
{
    if (mb < 0)
        snprintf (buffer, size, "-");
    else
    if (mb < 1024)
        snprintf (buffer, size, "%" PRId64 "M", mb);
    else
    if (mb < 1024 * 1024)
        snprintf (buffer, size, "%.1fG", mb / 1024.0);
    else
        snprintf (buffer, size, "%.1fT", mb / (1024.0 * 1024.0));
    return buffer;
}

const char *
osmose_top_format_us (char *buffer, size_t size, int64_t us)
{
    if (us < 0)
        snprintf (buffer, size, "-");
    else
    if (us < 1000)
        snprintf (buffer, size, "%" PRId64 "us", us);
    else
    if (us < 1000000)
        snprintf (buffer, size, "%.1fms", us / 1000.0);
    else
        snprintf (buffer, size, "%.1fs", us / 1e6);
    return buffer;
}

const char *
osmose_top_format_ratio (char *buffer, size_t size, int64_t part, int64_t whole)
{
    if (part < 0 && whole < 0)
        snprintf (buffer, size, "-");
    else
    if (part < 0)
        snprintf (buffer, size, "-/%" PRId64, whole);
    else
    if (whole < 0)
        snprintf (buffer, size, "%" PRId64 "/-", part);
    else
        snprintf (buffer, size, "%" PRId64 "/%" PRId64, part, whole);
    return buffer;
}

const char *
osmose_top_format_duration (char *buffer, size_t size, int64_t ms)
{
    int64_t seconds = ms / 1000;
    if (ms < 0)
        snprintf (buffer, size, "-");
    else
    if (seconds < 60)
        snprintf (buffer, size, "%" PRId64 "s", seconds);
    else
    if (seconds < 3600)
        snprintf (buffer, size, "%" PRId64 "m%02" PRId64 "s", seconds / 60, seconds % 60);
    else
    if (seconds < 86400)
        snprintf (buffer, size, "%" PRId64 "h%02" PRId64 "m", seconds / 3600, seconds / 60 % 60);
    else
        snprintf (buffer, size, "%" PRId64 "d%02" PRId64 "h", seconds / 86400, seconds / 3600 % 24);
    return buffer;
}

static const char *
s_or_dash (const char *text)
{
    return text && *text? text: "-";
}

static const char *
s_int (char *buffer, size_t size, int64_t value)
{
    if (value < 0)
        snprintf (buffer, size, "-");
    else
        snprintf (buffer, size, "%" PRId64, value);
    return buffer;
}

static void
s_print_header (osmose_top_model_t *self, FILE *out)
{
    const osmose_top_summary_t *sum = osmose_top_model_summary (self);
    char a [32], b [32], c [32], d [32], e [32], f [32];
    fprintf (out, "osmose-top - peer %s (%s) at %s, up %s, version %s\n",
             s_or_dash (sum->id), s_or_dash (sum->name), s_or_dash (sum->location),
             osmose_top_format_duration (a, sizeof (a), sum->uptime_ms),
             s_or_dash (sum->version));
    fprintf (out, "Peers: %" PRId64 " total, %" PRId64 " alive, %" PRId64 " suspect, %"
             PRId64 " dead, %" PRId64 " left\n",
             sum->peers, sum->alive, sum->suspect, sum->dead, sum->left);
    fprintf (out, "CPUs: %s free   GPUs: %s free   NPUs: %s free   Memory: %s free / %s\n",
             osmose_top_format_ratio (a, sizeof (a), sum->cpus_free, sum->cpus),
             osmose_top_format_ratio (b, sizeof (b), sum->gpus_free, sum->gpus),
             osmose_top_format_ratio (c, sizeof (c), sum->npus_free, sum->npus),
             osmose_top_format_mb (d, sizeof (d), sum->memory_free_mb),
             osmose_top_format_mb (e, sizeof (e), sum->memory_mb));
    char rate [32] = "-";
    if (sum->tasks_per_s >= 0)
        snprintf (rate, sizeof (rate), "%.1f", sum->tasks_per_s);
    fprintf (out, "Leases: %s held, %s granted   Tasks: %s running, %s queued, %s migrated,"
             " %s/s\n",
             s_int (a, sizeof (a), sum->leases_held), s_int (b, sizeof (b), sum->leases_granted),
             s_int (c, sizeof (c), sum->tasks_running), s_int (d, sizeof (d), sum->tasks_queued),
             s_int (e, sizeof (e), sum->tasks_migrated), rate);
    fprintf (out, "Log: %s entries, %s feeds, lag %s entries\n",
             s_int (a, sizeof (a), sum->log_entries), s_int (b, sizeof (b), sum->log_feeds),
             s_int (f, sizeof (f), sum->log_lag));
}

//  "wall", "battery 80%", or "-"
static const char *
s_power (char *buffer, size_t size, const osmose_top_peer_t *peer)
{
    if (peer->battery >= 0)
        snprintf (buffer, size, "%s/%" PRId64 "%%", *peer->power? peer->power: "battery",
                  peer->battery);
    else
        snprintf (buffer, size, "%s", s_or_dash (peer->power));
    return buffer;
}

static void
s_print_peers (osmose_top_model_t *self, FILE *out)
{
    fprintf (out, "%-16s %-16s %-24s %-7s %8s %7s %5s %5s %13s %5s %-12s %8s\n",
             "NAME", "ID", "LOCATION", "STATE", "RTT", "CPU", "GPU", "NPU", "MEM",
             "LOAD", "POWER", "LOG");
    size_t count = osmose_top_model_size (self, OSMOSE_TOP_PEERS);
    for (size_t index = 0; index < count; index++) {
        const osmose_top_peer_t *peer = osmose_top_model_peer (self, index);
        char rtt [16], cpu [32], gpu [32], npu [32], free_mb [16], total_mb [16];
        char memory [40], load [16] = "-", power [40], log [24];
        snprintf (memory, sizeof (memory), "%s/%s",
                  osmose_top_format_mb (free_mb, sizeof (free_mb), peer->memory_free_mb),
                  osmose_top_format_mb (total_mb, sizeof (total_mb), peer->memory_mb));
        if (peer->load >= 0)
            snprintf (load, sizeof (load), "%.2f", peer->load);
        char name [80];
        snprintf (name, sizeof (name), "%s%s", s_or_dash (peer->name), peer->self? "*": "");
        fprintf (out, "%-16s %-16s %-24s %-7s %8s %7s %5s %5s %13s %5s %-12s %8s\n",
                 name, s_or_dash (peer->id), s_or_dash (peer->location),
                 s_or_dash (peer->state),
                 osmose_top_format_us (rtt, sizeof (rtt), peer->rtt_us),
                 osmose_top_format_ratio (cpu, sizeof (cpu), peer->cpus_free, peer->cpus),
                 osmose_top_format_ratio (gpu, sizeof (gpu), peer->gpus_free, peer->gpus),
                 osmose_top_format_ratio (npu, sizeof (npu), peer->npus_free, peer->npus),
                 memory, load, s_power (power, sizeof (power), peer),
                 s_int (log, sizeof (log), peer->log_size));
    }
}

static void
s_print_leases (osmose_top_model_t *self, FILE *out)
{
    fprintf (out, "%-16s %-16s %-16s %-9s %5s %5s %5s %8s %8s\n", "LEASE", "CLIENT",
             "PROVIDER", "STATE", "CPU", "GPU", "NPU", "MEM", "TTL");
    size_t count = osmose_top_model_size (self, OSMOSE_TOP_LEASES);
    for (size_t index = 0; index < count; index++) {
        const osmose_top_lease_t *lease = osmose_top_model_lease (self, index);
        char cpu [24], gpu [24], npu [24], memory [16], ttl [24];
        fprintf (out, "%-16s %-16s %-16s %-9s %5s %5s %5s %8s %8s\n",
                 s_or_dash (lease->id), s_or_dash (lease->client),
                 s_or_dash (lease->provider), s_or_dash (lease->state),
                 s_int (cpu, sizeof (cpu), lease->cpus), s_int (gpu, sizeof (gpu), lease->gpus),
                 s_int (npu, sizeof (npu), lease->npus),
                 osmose_top_format_mb (memory, sizeof (memory), lease->memory_mb),
                 osmose_top_format_duration (ttl, sizeof (ttl), lease->ttl_ms));
    }
}

static void
s_print_tasks (osmose_top_model_t *self, FILE *out)
{
    fprintf (out, "%-16s %-24s %-16s %-9s %8s\n", "TASK", "FUNCTION", "PROVIDER", "STATE", "MS");
    size_t count = osmose_top_model_size (self, OSMOSE_TOP_TASKS);
    for (size_t index = 0; index < count; index++) {
        const osmose_top_task_t *task = osmose_top_model_task (self, index);
        char ms [24];
        fprintf (out, "%-16s %-24s %-16s %-9s %8s\n", s_or_dash (task->id),
                 s_or_dash (task->function), s_or_dash (task->provider),
                 s_or_dash (task->state), s_int (ms, sizeof (ms), task->ms));
    }
}

static void
s_print_log (osmose_top_model_t *self, FILE *out)
{
    fprintf (out, "%-16s %8s %-13s %-12s %s\n", "FEED", "SEQ", "TIME_MS", "TYPE", "SUMMARY");
    size_t count = osmose_top_model_size (self, OSMOSE_TOP_LOG);
    for (size_t index = 0; index < count; index++) {
        const osmose_top_entry_t *entry = osmose_top_model_entry (self, index);
        char seq [24], time_ms [24];
        fprintf (out, "%-16s %8s %-13s %-12s %s\n", s_or_dash (entry->feed),
                 s_int (seq, sizeof (seq), entry->seq),
                 s_int (time_ms, sizeof (time_ms), entry->time_ms),
                 s_or_dash (entry->type), s_or_dash (entry->summary));
    }
}

void
osmose_top_model_print (osmose_top_model_t *self, FILE *out)
{
    assert (self);
    assert (out);
    s_print_header (self, out);
    fprintf (out, "\n");
    s_print_peers (self, out);
    //  The other tables only when the daemon gave them, so a script sees
    //  "no table" rather than an empty one it must tell from "no leases"
    if (osmose_top_model_has (self, OSMOSE_TOP_LEASES)) {
        fprintf (out, "\n");
        s_print_leases (self, out);
    }
    if (osmose_top_model_has (self, OSMOSE_TOP_TASKS)) {
        fprintf (out, "\n");
        s_print_tasks (self, out);
    }
    if (osmose_top_model_has (self, OSMOSE_TOP_LOG)) {
        fprintf (out, "\n");
        s_print_log (self, out);
    }
    fprintf (out, "\n");
}
