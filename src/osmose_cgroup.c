/*  osmose_cgroup.c: CPU and memory limits of our control group (see
    osmose_cgroup.h).
*/
#include "osmose_prelude.h"
#include "osmose_cgroup.h"
#include <ftw.h>

#define S_PATH_MAX 1024
//  cgroup v1 writes "no limit" as a huge number near 2^63
#define S_V1_UNLIMITED (INT64_C (1) << 60)

//  Read ROOT + RELATIVE into BUFFER, trimmed; false when unreadable
static bool
s_read (const char *root, const char *relative, char *buffer, size_t size)
{
    char path [S_PATH_MAX];
    int length = snprintf (path, sizeof (path), "%s%s",
                           streq (root, "/")? "": root, relative);
    *buffer = '\0';
    if (length <= 0 || (size_t) length >= sizeof (path))
        return false;
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t got = fread (buffer, 1, size - 1, file);
    fclose (file);
    buffer [got] = '\0';
    while (got > 0 && isspace ((unsigned char) buffer [got - 1]))
        buffer [--got] = '\0';
    return true;
}

//  A non-negative integer at the start of TEXT, or -1
static int64_t
s_number (const char *text, char **end_p)
{
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (end_p)
        *end_p = end;
    return errno || end == text || value < 0? -1: value;
}

static void
s_min (int64_t *current, int64_t value)
{
    if (value >= 0 && (*current < 0 || value < *current))
        *current = value;
}

//  Our group's path from ROOT/proc/self/cgroup: the "0::PATH" line for v2
//  (CONTROLLER NULL), else the line whose controller list names CONTROLLER.
//  Writes "" for the top of the hierarchy; false when there is no such line
//  or the path is odd (we never walk out of /sys/fs/cgroup).
static bool
s_group_path (const char *root, const char *controller, char *path, size_t size)
{
    char text [4096];
    if (!s_read (root, "/proc/self/cgroup", text, sizeof (text)))
        return false;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        char *first = strchr (line, ':');
        char *second = first? strchr (first + 1, ':'): NULL;
        if (!second)
            continue;
        *first = '\0';
        *second = '\0';
        const char *list = first + 1;
        const char *group = second + 1;
        bool match = false;
        if (!controller)
            match = streq (line, "0") && *list == '\0';
        else {
            char copy [256];
            snprintf (copy, sizeof (copy), "%s", list);
            char *inner = NULL;
            for (char *name = strtok_r (copy, ",", &inner); name && !match;
                 name = strtok_r (NULL, ",", &inner))
                match = streq (name, controller);
        }
        if (!match)
            continue;
        if (*group != '/' || strstr (group, "/..") || strlen (group) >= size)
            return false;
        snprintf (path, size, "%s", streq (group, "/")? "": group);
        return true;
    }
    return false;
}

//  Limits of one v2 group directory (relative to ROOT)
static void
s_v2_level (const char *root, const char *dir, osmose_cgroup_limits_t *limits)
{
    char relative [S_PATH_MAX], text [128];
    snprintf (relative, sizeof (relative), "%s/memory.max", dir);
    if (s_read (root, relative, text, sizeof (text)) && !streq (text, "max")) {
        int64_t max = s_number (text, NULL);
        s_min (&limits->memory_max, max);
        snprintf (relative, sizeof (relative), "%s/memory.current", dir);
        int64_t current = s_read (root, relative, text, sizeof (text))? s_number (text, NULL): -1;
        if (max >= 0 && current >= 0)
            s_min (&limits->memory_headroom, current < max? max - current: 0);
    }
    snprintf (relative, sizeof (relative), "%s/cpu.max", dir);
    if (s_read (root, relative, text, sizeof (text)) && strncmp (text, "max", 3) != 0) {
        char *end;
        int64_t quota = s_number (text, &end);
        int64_t period = s_number (end, NULL);
        if (quota > 0 && period > 0 && quota < S_V1_UNLIMITED)
            s_min (&limits->cpu_millis, (quota * 1000 + period - 1) / period);
    }
}

//  Limits of one v1 group directory under the memory or cpu controller
static void
s_v1_level (const char *root, const char *dir, bool memory, osmose_cgroup_limits_t *limits)
{
    char relative [S_PATH_MAX], text [128];
    if (memory) {
        snprintf (relative, sizeof (relative), "%s/memory.limit_in_bytes", dir);
        int64_t max = s_read (root, relative, text, sizeof (text))? s_number (text, NULL): -1;
        if (max < 0 || max >= S_V1_UNLIMITED)
            return;
        s_min (&limits->memory_max, max);
        snprintf (relative, sizeof (relative), "%s/memory.usage_in_bytes", dir);
        int64_t used = s_read (root, relative, text, sizeof (text))? s_number (text, NULL): -1;
        if (used >= 0)
            s_min (&limits->memory_headroom, used < max? max - used: 0);
    }
    else {
        snprintf (relative, sizeof (relative), "%s/cpu.cfs_quota_us", dir);
        //  -1 (no quota) does not parse as a number here
        int64_t quota = s_read (root, relative, text, sizeof (text))? s_number (text, NULL): -1;
        snprintf (relative, sizeof (relative), "%s/cpu.cfs_period_us", dir);
        int64_t period = s_read (root, relative, text, sizeof (text))? s_number (text, NULL): -1;
        if (quota > 0 && period > 0 && quota < S_V1_UNLIMITED)
            s_min (&limits->cpu_millis, (quota * 1000 + period - 1) / period);
    }
}

//  Visit BASE + GROUP and each ancestor up to BASE: a parent's limit
//  binds its children too. 0 = v2, 1 = v1 memory, 2 = v1 cpu.
static void
s_walk (const char *root, const char *base, const char *group, int kind,
        osmose_cgroup_limits_t *limits)
{
    char path [512];
    snprintf (path, sizeof (path), "%s", group);
    for (int level = 0; level < 256; level++) {
        char dir [S_PATH_MAX / 2];
        if (snprintf (dir, sizeof (dir), "%s%s", base, path) >= (int) sizeof (dir))
            break;
        if (kind == 0)
            s_v2_level (root, dir, limits);
        else
            s_v1_level (root, dir, kind == 1, limits);
        char *slash = strrchr (path, '/');
        if (!slash)
            break;
        *slash = '\0';
    }
}

void
osmose_cgroup_limits (const char *root, osmose_cgroup_limits_t *limits)
{
    assert (limits);
    limits->cpu_millis = -1;
    limits->memory_max = -1;
    limits->memory_headroom = -1;
    if (!root || !*root)
        root = "/";
    char group [512], text [512];
    //  v2 when the unified hierarchy is mounted at /sys/fs/cgroup itself
    if (s_read (root, "/sys/fs/cgroup/cgroup.controllers", text, sizeof (text))
    &&  s_group_path (root, NULL, group, sizeof (group))) {
        s_walk (root, "/sys/fs/cgroup", group, 0, limits);
        return;
    }
    if (s_group_path (root, "memory", group, sizeof (group)))
        s_walk (root, "/sys/fs/cgroup/memory", group, 1, limits);
    if (s_group_path (root, "cpu", group, sizeof (group)))
        s_walk (root, "/sys/fs/cgroup/cpu", group, 2, limits);
}

//  --------------------------------------------------------------------------
//  Self-test

static void
s_fake (const char *root, const char *relative, const char *text)
{
    char path [S_PATH_MAX];
    snprintf (path, sizeof (path), "%s%s", root, relative);
    char *slash = strrchr (path, '/');
    *slash = '\0';
    assert (zsys_dir_create ("%s", path) == 0);
    *slash = '/';
    FILE *file = fopen (path, "w");
    assert (file);
    fputs (text, file);
    fclose (file);
}

static int
s_remove_entry (const char *path, const struct stat *status, int flag, struct FTW *ftw)
{
    return remove (path);
}

void
osmose_cgroup_test (bool verbose)
{
    printf (" * osmose_cgroup: ");
    char root [] = "/tmp/osmose-cgroup-XXXXXX";
    assert (mkdtemp (root));
    osmose_cgroup_limits_t limits;

    //  Nothing: no limits
    osmose_cgroup_limits (root, &limits);
    assert (limits.cpu_millis == -1 && limits.memory_max == -1 && limits.memory_headroom == -1);

    //  v2: a service in a slice; the slice's memory limit is the tighter
    s_fake (root, "/proc/self/cgroup", "0::/system.slice/osmosed.service\n");
    s_fake (root, "/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
    s_fake (root, "/sys/fs/cgroup/memory.max", "max\n");
    s_fake (root, "/sys/fs/cgroup/system.slice/memory.max", "4294967296\n");
    s_fake (root, "/sys/fs/cgroup/system.slice/memory.current", "4000000000\n");
    s_fake (root, "/sys/fs/cgroup/system.slice/osmosed.service/memory.max", "8589934592\n");
    s_fake (root, "/sys/fs/cgroup/system.slice/osmosed.service/memory.current", "1000\n");
    s_fake (root, "/sys/fs/cgroup/system.slice/osmosed.service/cpu.max", "150000 100000\n");
    s_fake (root, "/sys/fs/cgroup/system.slice/cpu.max", "max 100000\n");
    osmose_cgroup_limits (root, &limits);
    assert (limits.memory_max == INT64_C (4294967296));
    assert (limits.memory_headroom == INT64_C (294967296));
    assert (limits.cpu_millis == 1500);

    //  A path that climbs out is ignored
    s_fake (root, "/proc/self/cgroup", "0::/../../etc\n");
    osmose_cgroup_limits (root, &limits);
    assert (limits.memory_max == -1 && limits.cpu_millis == -1);

    //  v1: a container's memory limit, an unlimited CPU quota, then a quota
    char other [] = "/tmp/osmose-cgroup-XXXXXX";
    assert (mkdtemp (other));
    s_fake (other, "/proc/self/cgroup",
            "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n");
    s_fake (other, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    s_fake (other, "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "2147483648\n");
    s_fake (other, "/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "3147483648\n");
    s_fake (other, "/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us", "-1\n");
    s_fake (other, "/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us", "100000\n");
    osmose_cgroup_limits (other, &limits);
    assert (limits.memory_max == INT64_C (2147483648));
    assert (limits.memory_headroom == 0);           //  over its limit: none left
    assert (limits.cpu_millis == -1);
    s_fake (other, "/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us", "50000\n");
    osmose_cgroup_limits (other, &limits);
    assert (limits.cpu_millis == 500);

    //  This machine: whatever it says is consistent
    osmose_cgroup_limits (NULL, &limits);
    assert (limits.memory_headroom <= limits.memory_max || limits.memory_max == -1);
    if (verbose)
        printf ("(here: cpu %" PRId64 " m, memory %" PRId64 ") ", limits.cpu_millis,
                limits.memory_max);

    nftw (root, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw (other, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    assert (!zsys_file_exists (root) && !zsys_file_exists (other));
    printf ("OK\n");
}
