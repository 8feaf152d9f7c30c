/*  osmose_config.c: schema-checked ZPL configuration (see osmose_config.h).

    zconfig parses the file but keeps no line numbers, so we scan the text
    once ourselves to map each setting path to its line; that scan also finds
    the line of a syntax error zconfig rejects.
*/
#include "osmose_prelude.h"
#include "osmose_config.h"

typedef enum {
    S_STRING,                   //  any text
    S_INT,                      //  integer in [min, max]
    S_BOOL,                     //  true/false, yes/no, 1/0, on/off
    S_ENUM,                     //  one of the '|'-separated words in choices
    S_ENDPOINT,                 //  tcp://, ipc:// or inproc:// endpoint
    S_ENDPOINTS,                //  space-separated endpoints (may be empty)
    S_LOCATION,                 //  location path a/b/c (may be empty)
    S_PATH                      //  absolute filesystem path
} s_type_t;

typedef struct {
    const char *path;
    s_type_t type;
    const char *fallback;       //  default value, as text
    int64_t min, max;           //  for S_INT
    const char *choices;        //  for S_ENUM
    const char *doc;            //  one line for the documented config
} s_setting_t;

#define S_MAXINT INT64_C (1000000000000)

static const s_setting_t s_schema [] = {
    { "node/name", S_STRING, "", 0, 0, NULL,
      "Human name of this device; empty means the host name" },
    { "node/location", S_LOCATION, "", 0, 0, NULL,
      "Where the device is, as a path: building/floor/room/spot" },
    { "node/location_source", S_STRING, "", 0, 0, NULL,
      "File or named pipe a positioning script writes location paths to; the"
      " peer moves to each new one (empty: none)" },
    { "node/state_dir", S_PATH, "/var/lib/osmose", 0, 0, NULL,
      "Keys, trust store and log live here (owned by the osmose user)" },
    { "api/endpoint", S_ENDPOINT, OSMOSE_DEFAULT_ENDPOINT, 0, 0, NULL,
      "Where local programs, osmose and osmose-top reach this daemon" },
    { "mesh/bind", S_ENDPOINT, "tcp://*:7470", 0, 0, NULL,
      "Peer inbox (CurveZMQ); other peers connect here" },
    { "mesh/advertise", S_STRING, "", 0, 0, NULL,
      "Address peers should use to reach us; empty means discover it" },
    { "mesh/seeds", S_ENDPOINTS, "", 0, 0, NULL,
      "Static peers to contact without mDNS: PEERID@tcp://host:port ..." },
    { "mesh/active_view", S_INT, "6", 1, 64, NULL,
      "Open connections kept to the nearest peers" },
    { "mesh/random_view", S_INT, "2", 0, 16, NULL,
      "Extra connections to random peers, for connectivity" },
    { "mesh/probe_interval_ms", S_INT, "1000", 10, 600000, NULL,
      "How often this peer probes one member (a shuffled rotation of all)" },
    { "mesh/probe_timeout_ms", S_INT, "300", 1, 60000, NULL,
      "How long a direct probe waits before indirect probes" },
    { "mesh/indirect_probes", S_INT, "3", 0, 16, NULL,
      "How many peers are asked to probe an unresponsive peer" },
    { "mesh/suspect_timeout_ms", S_INT, "500", 10, 3600000, NULL,
      "How long a suspected peer may refute before it is declared dead, once"
      " confirmed by others; an unconfirmed suspicion lasts 3 times longer" },
    { "mesh/gossip_interval_ms", S_INT, "50", 1, 600000, NULL,
      "How often pending membership news is pushed to the active view" },
    { "mesh/sync_interval_ms", S_INT, "10000", 100, 3600000, NULL,
      "How often the member table is compared with a random member" },
    { "mesh/max_frame_bytes", S_INT, "16777216", 1024, 1073741824, NULL,
      "Frames larger than this are dropped and counted" },
    { "discovery/avahi", S_BOOL, "true", 0, 0, NULL,
      "Publish and browse _osmose._tcp with Avahi (mDNS/DNS-SD)" },
    { "discovery/service", S_STRING, "_osmose._tcp", 0, 0, NULL,
      "DNS-SD service type" },
    { "log/fsync", S_ENUM, "group", 0, 0, "always|group|never",
      "When appends reach the disk: every append, grouped, or never" },
    { "log/fsync_interval_ms", S_INT, "10", 0, 60000, NULL,
      "Largest delay of a group commit" },
    { "log/publish_ms", S_INT, "100", 0, 10000, NULL,
      "New entries after a quiet spell are signed and pushed at once; in a burst,"
      " at most one signed head this often" },
    { "log/publish_max_ms", S_INT, "500", 0, 60000, NULL,
      "In a burst that goes on, pushes to the mesh wait twice as long each time, up to this" },
    { "resources/cpus", S_INT, "-1", -1, 65536, NULL,
      "Advertised CPUs; -1 means probe the machine" },
    { "resources/memory_mb", S_INT, "-1", -1, S_MAXINT, NULL,
      "Advertised memory in MiB; -1 means probe" },
    { "resources/gpus", S_INT, "-1", -1, 1024, NULL,
      "Advertised GPUs; -1 means probe" },
    { "resources/npus", S_INT, "-1", -1, 1024, NULL,
      "Advertised NPUs; -1 means probe" },
    { "resources/battery_percent", S_INT, "-1", -1, 100, NULL,
      "Battery level override; -1 means read /sys/class/power_supply" },
    { "resources/power", S_ENUM, "auto", 0, 0, "auto|wall|battery",
      "Power source override" },
    { "policy/lease_cpus", S_INT, "-1", -1, 65536, NULL,
      "CPUs others may lease; -1 means all advertised, 0 none" },
    { "policy/lease_gpus", S_INT, "-1", -1, 1024, NULL,
      "GPUs others may lease; -1 means all, 0 none" },
    { "policy/lease_npus", S_INT, "-1", -1, 1024, NULL,
      "NPUs others may lease; -1 means all, 0 none" },
    { "policy/lease_memory_mb", S_INT, "-1", -1, S_MAXINT, NULL,
      "Memory others may lease in MiB; -1 means all" },
    { "policy/battery_min_percent", S_INT, "20", 0, 100, NULL,
      "On battery below this level, refuse and hand back leases" },
    { "policy/load_max_percent", S_INT, "0", 0, 100000, NULL,
      "Refuse new leases and hand the granted ones back while the 1-minute load"
      " per CPU is past this percent (the owner's work first; leased tasks"
      " count too); 0 means never" },
    { "policy/allow", S_STRING, "*", 0, 0, NULL,
      "Who may lease: * (every trusted key) or space-separated key ids" },
    { "proximity/topology_weight_us", S_INT, "1000", 0, 10000000, NULL,
      "Score cost in microseconds of one hop between location paths" },
    { "lease/ttl_ms", S_INT, "10000", 100, 86400000, NULL,
      "Lease lifetime without a heartbeat" },
    { "lease/heartbeat_ms", S_INT, "2000", 10, 3600000, NULL,
      "How often a leaseholder renews its leases" },
    { "lease/move_gain_us", S_INT, "1500", 0, 100000000, NULL,
      "After a move, a lease is re-placed when a provider this much nearer"
      " (score) has room, or when its own breaks the latency bound" },
    { "lease/move_hold_ms", S_INT, "1000", 0, 3600000, NULL,
      "A lease younger than this is not re-placed for being far (no"
      " thrashing in a doorway); a broken latency bound moves it at once" },
    { "work/bind", S_STRING, "", 0, 0, NULL,
      "Work endpoint leaseholders send tasks to (CurveZMQ); empty means the"
      " mesh/bind host on a port the system picks (set tcp://*:7471 behind a"
      " firewall)" },
    { "work/advertise", S_STRING, "", 0, 0, NULL,
      "Address leaseholders should use for the work endpoint; empty means discover it" },
    { "exec/workers", S_INT, "0", 0, 4096, NULL,
      "Worker processes for tasks; 0 means one per CPU" },
    { "exec/task_timeout_ms", S_INT, "30000", 1, 86400000, NULL,
      "A task running longer than this is killed" },
    { "exec/task_memory_mb", S_INT, "1024", 1, S_MAXINT, NULL,
      "Address-space limit of a worker process" },
    { "exec/plugin_dir", S_PATH, OSMOSE_PLUGIN_DIR, 0, 0, NULL,
      "Where plugins (.so) are loaded from" },
};
#define S_SCHEMA_SIZE (sizeof (s_schema) / sizeof (s_schema [0]))

struct _osmose_config_t {
    zconfig_t *tree;            //  the file's values, validated
    char *filename;             //  where it came from, or NULL
};

static const s_setting_t *
s_setting (const char *path)
{
    for (size_t index = 0; index < S_SCHEMA_SIZE; index++)
        if (streq (s_schema [index].path, path))
            return &s_schema [index];
    return NULL;
}

//  True when PATH is a section of the schema, like "mesh"
static bool
s_is_section (const char *path)
{
    size_t len = strlen (path);
    for (size_t index = 0; index < S_SCHEMA_SIZE; index++)
        if (strncmp (s_schema [index].path, path, len) == 0
        &&  s_schema [index].path [len] == '/')
            return true;
    return false;
}

static bool
s_parse_bool (const char *value, bool *result)
{
    static const char *yes [] = { "true", "yes", "on", "1" };
    static const char *no [] = { "false", "no", "off", "0" };
    for (size_t index = 0; index < 4; index++) {
        if (strcasecmp (value, yes [index]) == 0) {
            *result = true;
            return true;
        }
        if (strcasecmp (value, no [index]) == 0) {
            *result = false;
            return true;
        }
    }
    return false;
}

static bool
s_parse_int (const char *value, int64_t *result)
{
    char *end;
    errno = 0;
    long long number = strtoll (value, &end, 10);
    if (errno || end == value || *end)
        return false;
    *result = number;
    return true;
}

static bool
s_valid_endpoint (const char *value)
{
    const char *rest = NULL;
    if (strncmp (value, "tcp://", 6) == 0)
        rest = value + 6;
    else
    if (strncmp (value, "ipc://", 6) == 0)
        rest = value + 6;
    else
    if (strncmp (value, "inproc://", 9) == 0)
        rest = value + 9;
    if (!rest || !*rest)
        return false;
    if (strncmp (value, "tcp://", 6) == 0) {
        const char *colon = strrchr (rest, ':');
        int64_t port;
        //  Port "*" lets the system choose (tests, several peers per host)
        if (!colon || colon == rest
        ||  (!streq (colon + 1, "*")
            && (!s_parse_int (colon + 1, &port) || port < 0 || port > 65535)))
            return false;
    }
    return true;
}

//  Location paths name places: segments of [A-Za-z0-9._-], joined by '/'
static bool
s_valid_location (const char *value)
{
    if (!*value)
        return true;
    bool segment_empty = true;
    for (const char *scan = value; *scan; scan++) {
        if (*scan == '/') {
            if (segment_empty)
                return false;
            segment_empty = true;
        }
        else
        if (isalnum ((unsigned char) *scan) || strchr ("._-", *scan))
            segment_empty = false;
        else
            return false;
    }
    return !segment_empty;
}

//  Check VALUE against SETTING; on failure write the reason into REASON
static bool
s_check_value (const s_setting_t *setting, const char *value,
               char *reason, size_t reason_size)
{
    int64_t number;
    bool flag;
    switch (setting->type) {
        case S_STRING:
            return true;
        case S_INT:
            if (!s_parse_int (value, &number)) {
                snprintf (reason, reason_size, "'%s' is not an integer", value);
                return false;
            }
            if (number < setting->min || number > setting->max) {
                snprintf (reason, reason_size,
                          "%s is out of range [%" PRId64 ", %" PRId64 "]",
                          value, setting->min, setting->max);
                return false;
            }
            return true;
        case S_BOOL:
            if (!s_parse_bool (value, &flag)) {
                snprintf (reason, reason_size,
                          "'%s' is not a boolean (true or false)", value);
                return false;
            }
            return true;
        case S_ENUM: {
            size_t len = strlen (value);
            const char *choice = setting->choices;
            while (choice) {
                const char *bar = strchr (choice, '|');
                size_t choice_len = bar? (size_t) (bar - choice): strlen (choice);
                if (len == choice_len && strncmp (choice, value, len) == 0)
                    return true;
                choice = bar? bar + 1: NULL;
            }
            snprintf (reason, reason_size, "'%s' is not one of %s",
                      value, setting->choices);
            return false;
        }
        case S_ENDPOINT:
            if (!s_valid_endpoint (value)) {
                snprintf (reason, reason_size,
                          "'%s' is not an endpoint like tcp://host:port or ipc:///path",
                          value);
                return false;
            }
            return true;
        case S_ENDPOINTS: {
            char *copy = strdup (value);
            if (!copy) {
                snprintf (reason, reason_size, "out of memory");
                return false;
            }
            bool valid = true;
            char *saveptr = NULL;
            for (char *word = strtok_r (copy, " \t,", &saveptr); word && valid;
                 word = strtok_r (NULL, " \t,", &saveptr)) {
                //  A seed names the peer it expects: PEERID@tcp://host:port
                char *at = strchr (word, '@');
                bool id_ok = at && (at - word == 16
                    && strspn (word, "0123456789abcdef") == 16);
                if (!id_ok || !s_valid_endpoint (at + 1)) {
                    snprintf (reason, reason_size,
                              "'%s' is not a seed like PEERID@tcp://host:port", word);
                    valid = false;
                }
            }
            free (copy);
            return valid;
        }
        case S_LOCATION:
            if (!s_valid_location (value)) {
                snprintf (reason, reason_size,
                          "'%s' is not a location path like building/floor1/room3",
                          value);
                return false;
            }
            return true;
        case S_PATH:
            if (*value != '/') {
                snprintf (reason, reason_size, "'%s' is not an absolute path", value);
                return false;
            }
            return true;
    }
    return false;
}

//  Scan ZPL text: find the line of PATH (or with PATH NULL, the first line
//  with a syntax error, explained in REASON). Returns 0 when not found.
static int
s_scan_lines (const char *text, const char *path, char *reason, size_t reason_size)
{
    char stack [8][64];
    int line_nbr = 0;
    const char *line = text;
    while (line && *line) {
        line_nbr++;
        const char *eol = strchr (line, '\n');
        size_t len = eol? (size_t) (eol - line): strlen (line);
        size_t indent = 0;
        while (indent < len && line [indent] == ' ')
            indent++;
        const char *name = line + indent;
        size_t name_len = 0;
        while (indent + name_len < len
        &&     (isalnum ((unsigned char) name [name_len])
            ||  strchr ("$-_@.&+/", name [name_len])))
            name_len++;
        bool blank = indent + name_len == len && name_len == 0;
        bool comment = indent < len && line [indent] == '#';
        if (!blank && !comment) {
            if (indent % 4 || indent / 4 >= 8 || name_len == 0 || name_len >= 64) {
                if (!path) {
                    snprintf (reason, reason_size, "%s",
                              name_len == 0? "expected a setting name":
                              indent % 4? "indentation must be a multiple of 4 spaces":
                                          "name too long or nested too deep");
                    return line_nbr;
                }
            }
            else {
                size_t depth = indent / 4;
                memcpy (stack [depth], name, name_len);
                stack [depth][name_len] = 0;
                if (path) {
                    char here [8 * 65] = "";
                    for (size_t level = 0; level <= depth; level++) {
                        if (level)
                            strcat (here, "/");
                        strcat (here, stack [level]);
                    }
                    if (streq (here, path))
                        return line_nbr;
                }
                else {
                    //  After the name: nothing, a comment or "= value"
                    const char *rest = name + name_len;
                    const char *end = line + len;
                    while (rest < end && (*rest == ' ' || *rest == '\t'))
                        rest++;
                    if (rest < end && *rest != '#' && *rest != '=') {
                        snprintf (reason, reason_size,
                                  "expected '=' after '%.*s'", (int) name_len, name);
                        return line_nbr;
                    }
                    if (rest < end && *rest == '=') {
                        rest++;
                        while (rest < end && (*rest == ' ' || *rest == '\t'))
                            rest++;
                        if (rest < end && (*rest == '"' || *rest == '\'')
                        &&  !memchr (rest + 1, *rest, end - rest - 1)) {
                            snprintf (reason, reason_size, "unterminated quoted value");
                            return line_nbr;
                        }
                    }
                }
            }
        }
        line = eol? eol + 1: NULL;
    }
    return 0;
}

//  Walk the loaded tree: every node must be a known section or setting
//  with a valid value. Returns false with the message in ERROR.
static bool
s_validate (zconfig_t *node, const char *prefix, const char *text,
            const char *label, char *error, size_t error_size)
{
    for (; node; node = zconfig_next (node)) {
        char path [256];
        if (*prefix)
            snprintf (path, sizeof (path), "%s/%s", prefix, zconfig_name (node));
        else
            snprintf (path, sizeof (path), "%s", zconfig_name (node));
        const s_setting_t *setting = s_setting (path);
        char reason [320] = "";
        bool name_path = false;     //  prefix the reason with the path
        if (setting) {
            const char *value = zconfig_value (node);
            if (zconfig_child (node))
                snprintf (reason, sizeof (reason), "'%s' is a setting, not a section", path);
            else
                name_path = !s_check_value (setting, value? value: "",
                                            reason, sizeof (reason));
        }
        else
        if (s_is_section (path)) {
            if (!s_validate (zconfig_child (node), path, text, label, error, error_size))
                return false;
        }
        else
            snprintf (reason, sizeof (reason), "unknown setting '%s'", path);

        if (*reason) {
            char ignored [8];
            int line_nbr = s_scan_lines (text, path, ignored, sizeof (ignored));
            char line_text [16] = "";
            if (line_nbr)
                snprintf (line_text, sizeof (line_text), ":%d", line_nbr);
            snprintf (error, error_size, "%s%s: %s%s%s", label, line_text,
                      name_path? path: "", name_path? ": ": "", reason);
            return false;
        }
    }
    return true;
}

osmose_config_t *
osmose_config_load_string (const char *text, const char *name,
                           char *error, size_t error_size)
{
    assert (text);
    const char *label = name? name: "(config)";
    char reason [256];
    int line_nbr = s_scan_lines (text, NULL, reason, sizeof (reason));
    if (line_nbr) {
        snprintf (error, error_size, "%s:%d: %s", label, line_nbr, reason);
        return NULL;
    }
    zconfig_t *tree = zconfig_str_load (text);
    if (!tree) {
        snprintf (error, error_size, "%s: not valid ZPL", label);
        return NULL;
    }
    if (!s_validate (zconfig_child (tree), "", text, label, error, error_size)) {
        zconfig_destroy (&tree);
        return NULL;
    }
    osmose_config_t *self = (osmose_config_t *) zmalloc (sizeof (osmose_config_t));
    if (!self) {
        zconfig_destroy (&tree);
        snprintf (error, error_size, "%s: out of memory", label);
        return NULL;
    }
    self->tree = tree;
    if (name)
        self->filename = strdup (name);
    return self;
}

osmose_config_t *
osmose_config_load (const char *filename, char *error, size_t error_size)
{
    assert (filename);
    FILE *file = fopen (filename, "r");
    if (!file) {
        snprintf (error, error_size, "%s: cannot open: %s", filename, strerror (errno));
        return NULL;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *buffer = open_memstream (&text, &size);
    char chunk [4096];
    size_t got;
    bool failed = buffer == NULL;
    while (!failed && (got = fread (chunk, 1, sizeof (chunk), file)) > 0)
        if (fwrite (chunk, 1, got, buffer) != got)
            failed = true;
    if (ferror (file))
        failed = true;
    fclose (file);
    if (buffer)
        fclose (buffer);
    if (failed || !text) {
        snprintf (error, error_size, "%s: cannot read: %s", filename, strerror (errno));
        free (text);
        return NULL;
    }
    if (memchr (text, 0, size)) {
        snprintf (error, error_size, "%s: contains a NUL byte; not a text file", filename);
        free (text);
        return NULL;
    }
    osmose_config_t *self = osmose_config_load_string (text, filename, error, error_size);
    free (text);
    return self;
}

osmose_config_t *
osmose_config_new_default (void)
{
    char error [64];
    return osmose_config_load_string ("", NULL, error, sizeof (error));
}

void
osmose_config_destroy (osmose_config_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_config_t *self = *self_p;
        zconfig_destroy (&self->tree);
        free (self->filename);
        free (self);
        *self_p = NULL;
    }
}

const char *
osmose_config_str (osmose_config_t *self, const char *path)
{
    assert (self);
    const s_setting_t *setting = s_setting (path);
    assert (setting);           //  an undeclared setting is a programming error
    return zconfig_get (self->tree, path, setting->fallback);
}

int64_t
osmose_config_int (osmose_config_t *self, const char *path)
{
    int64_t number = 0;
    bool valid = s_parse_int (osmose_config_str (self, path), &number);
    assert (valid);             //  validated at load time
    return number;
}

bool
osmose_config_bool (osmose_config_t *self, const char *path)
{
    bool flag = false;
    bool valid = s_parse_bool (osmose_config_str (self, path), &flag);
    assert (valid);
    return flag;
}

int
osmose_config_set (osmose_config_t *self, const char *path, const char *value)
{
    assert (self);
    const s_setting_t *setting = s_setting (path);
    if (!setting)
        return OSMOSE_ENOTFOUND;
    char reason [256];
    if (!value || !s_check_value (setting, value, reason, sizeof (reason)))
        return OSMOSE_ECONFIG;
    zconfig_put (self->tree, path, value);
    return 0;
}

const char *
osmose_config_filename (osmose_config_t *self)
{
    assert (self);
    return self->filename;
}

void
osmose_config_print_default (FILE *file)
{
    fprintf (file,
        "#   osmose.conf: configuration of osmosed, the osmose peer daemon.\n"
        "#   ZPL format: sections and 'name = value', indented by 4 spaces.\n"
        "#   Every setting is shown with its default; see osmose.conf(5).\n"
        "#   Check a change with: osmosed -c /etc/osmose/osmose.conf --check-config\n");
    char section [64] = "";
    for (size_t index = 0; index < S_SCHEMA_SIZE; index++) {
        const s_setting_t *setting = &s_schema [index];
        const char *slash = strchr (setting->path, '/');
        size_t len = (size_t) (slash - setting->path);
        if (strlen (section) != len || strncmp (section, setting->path, len)) {
            snprintf (section, sizeof (section), "%.*s", (int) len, setting->path);
            fprintf (file, "\n%s\n", section);
        }
        fprintf (file, "    #   %s", setting->doc);
        if (setting->type == S_INT)
            fprintf (file, " [%" PRId64 "..%" PRId64 "]", setting->min, setting->max);
        else
        if (setting->type == S_ENUM)
            fprintf (file, " (%s)", setting->choices);
        fprintf (file, "\n    %s = \"%s\"\n", slash + 1, setting->fallback);
    }
}

void
osmose_config_test (bool verbose)
{
    printf (" * osmose_config: ");
    char error [512];

    //  Defaults, and every schema default must validate against itself
    osmose_config_t *config = osmose_config_new_default ();
    assert (config);
    assert (osmose_config_int (config, "mesh/active_view") == 6);
    assert (osmose_config_bool (config, "discovery/avahi"));
    assert (streq (osmose_config_str (config, "log/fsync"), "group"));
    for (size_t index = 0; index < S_SCHEMA_SIZE; index++) {
        char reason [256];
        assert (s_check_value (&s_schema [index], s_schema [index].fallback,
                               reason, sizeof (reason)));
    }
    assert (osmose_config_set (config, "node/location", "hq/floor2/room7") == 0);
    assert (streq (osmose_config_str (config, "node/location"), "hq/floor2/room7"));
    assert (osmose_config_set (config, "node/location", "hq//x") == OSMOSE_ECONFIG);
    assert (osmose_config_set (config, "node/colour", "red") == OSMOSE_ENOTFOUND);
    osmose_config_destroy (&config);
    assert (config == NULL);

    //  The documented default file round-trips through the loader
    char *text = NULL;
    size_t size = 0;
    FILE *file = open_memstream (&text, &size);
    assert (file);
    osmose_config_print_default (file);
    fclose (file);
    config = osmose_config_load_string (text, "default", error, sizeof (error));
    if (!config)
        printf ("%s\n", error);
    assert (config);
    osmose_config_destroy (&config);
    free (text);

    //  Values and errors with their line numbers
    config = osmose_config_load_string (
        "node\n    name = \"cam-1\"\n    location = cam/gates/floor1\n"
        "mesh\n    active_view = 8\n", "t.conf", error, sizeof (error));
    assert (config);
    assert (streq (osmose_config_str (config, "node/name"), "cam-1"));
    assert (osmose_config_int (config, "mesh/active_view") == 8);
    assert (osmose_config_int (config, "mesh/random_view") == 2);
    osmose_config_destroy (&config);

    struct {
        const char *text;
        const char *expect;
    } bad [] = {
        { "node\n    name = x\nmesh\n    active_view = 99\n",
          "t.conf:4: mesh/active_view: 99 is out of range [1, 64]" },
        { "mesh\n    active_view = lots\n",
          "t.conf:2: mesh/active_view: 'lots' is not an integer" },
        { "# comment\nnode\n    colour = red\n",
          "t.conf:3: unknown setting 'node/colour'" },
        { "bogus\n", "t.conf:1: unknown setting 'bogus'" },
        { "node\n   name = x\n",
          "t.conf:2: indentation must be a multiple of 4 spaces" },
        { "node\n    name \"x\"\n", "t.conf:2: expected '=' after 'name'" },
        { "node\n    name = \"x\n", "t.conf:2: unterminated quoted value" },
        { "log\n    fsync = sometimes\n",
          "t.conf:2: log/fsync: 'sometimes' is not one of always|group|never" },
        { "mesh\n    seeds = \"tcp://a:1\"\n",
          "t.conf:2: mesh/seeds: 'tcp://a:1' is not a seed like PEERID@tcp://host:port" },
        { "mesh\n    seeds = \"0123456789abcdef@tcp://a:1 xyz@tcp://b:2\"\n",
          "t.conf:2: mesh/seeds: 'xyz@tcp://b:2' is not a seed like PEERID@tcp://host:port" },
        { "discovery\n    avahi = maybe\n",
          "t.conf:2: discovery/avahi: 'maybe' is not a boolean (true or false)" },
        { "node\n    location = /abs\n",
          "t.conf:2: node/location: '/abs' is not a location path like building/floor1/room3" },
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        config = osmose_config_load_string (bad [index].text, "t.conf",
                                            error, sizeof (error));
        if (config || !streq (error, bad [index].expect))
            printf ("\ncase %zu: got '%s'\n", index, config? "(accepted)": error);
        assert (!config);
        assert (streq (error, bad [index].expect));
    }

    //  Files: missing, and a real one
    config = osmose_config_load ("/nonexistent/osmose.conf", error, sizeof (error));
    assert (!config);
    assert (strstr (error, "/nonexistent/osmose.conf: cannot open"));
    char path [] = "/tmp/osmose-config-test-XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    const char *content = "node\n    state_dir = relative\n";
    assert (write (fd, content, strlen (content)) == (ssize_t) strlen (content));
    close (fd);
    config = osmose_config_load (path, error, sizeof (error));
    assert (!config);
    assert (strstr (error, ":2: node/state_dir: 'relative' is not an absolute path"));
    assert (strncmp (error, path, strlen (path)) == 0);
    unlink (path);
    if (verbose)
        printf ("(%zu settings) ", S_SCHEMA_SIZE);
    printf ("OK\n");
}
