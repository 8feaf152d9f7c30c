/*  osmose_resources.c: probe this device's resources and apply the config
    (see osmose_resources.h). The JSON forms and names live in
    osmose_resources_json.c.

    Every figure comes from a file under a root directory, so the self-test
    and the e2e test describe any machine with a fake tree. A figure whose
    file is missing stays 0 / unknown: a container without /sys still runs.
*/
#include "osmose_prelude.h"
#include "osmose_resources.h"
#include "osmose_cgroup.h"
#include <dirent.h>
#include <ftw.h>
#include <sched.h>
#include <sys/stat.h>

#define S_PATH_MAX 1024
#define S_MAX_LINES 1000000    //  of a /proc file: a fake tree may be endless

//  Build ROOT + RELATIVE (RELATIVE starts with '/'); false when too long
static bool
s_path (char *path, size_t size, const char *root, const char *relative)
{
    if (streq (root, "/"))
        root = "";
    int length = snprintf (path, size, "%s%s", root, relative);
    return length > 0 && (size_t) length < size;
}

//  Read the first SIZE - 1 bytes of ROOT + RELATIVE into BUFFER, without
//  trailing white space. Returns the length, or -1 when unreadable.
static int
s_read (const char *root, const char *relative, char *buffer, size_t size)
{
    char path [S_PATH_MAX];
    *buffer = '\0';
    if (!s_path (path, sizeof (path), root, relative))
        return -1;
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t length = fread (buffer, 1, size - 1, file);
    fclose (file);
    buffer [length] = '\0';
    while (length > 0 && isspace ((unsigned char) buffer [length - 1]))
        buffer [--length] = '\0';
    return (int) length;
}

//  Parse an integer file such as "1\n" or "0x10de\n"; -1 when unreadable
static int64_t
s_read_int (const char *root, const char *relative)
{
    char text [64];
    if (s_read (root, relative, text, sizeof (text)) <= 0)
        return -1;
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 0);
    if (errno || end == text || value < 0)
        return -1;
    return value;
}

//  Copy SOURCE into TARGET of OSMOSE_RESOURCES_NAME_MAX bytes: trimmed,
//  blanks collapsed, anything unprintable replaced, so our own advert
//  always passes the checks peers apply to it.
static void
s_set_name (char *target, const char *source)
{
    while (isspace ((unsigned char) *source))
        source++;
    size_t length = 0;
    bool blank = false;
    for (; *source && length < OSMOSE_RESOURCES_NAME_MAX - 1; source++) {
        unsigned char c = (unsigned char) *source;
        if (isspace (c)) {
            blank = true;
            continue;
        }
        if (blank && length > 0 && length < OSMOSE_RESOURCES_NAME_MAX - 2)
            target [length++] = ' ';
        blank = false;
        target [length++] = c >= 0x20 && c < 0x7f? (char) c: '?';
    }
    target [length] = '\0';
}

//  True when NAME is PREFIX followed by one or more digits only
static bool
s_numbered (const char *name, const char *prefix)
{
    size_t length = strlen (prefix);
    if (strncmp (name, prefix, length) != 0 || !name [length])
        return false;
    for (const char *scan = name + length; *scan; scan++)
        if (!isdigit ((unsigned char) *scan))
            return false;
    return true;
}

//  Sorted entries of ROOT + RELATIVE (without . and ..); *names_p is NULL
//  and 0 returned when the directory is missing. Free with s_list_free.
static int
s_list (const char *root, const char *relative, struct dirent ***names_p)
{
    char path [S_PATH_MAX];
    *names_p = NULL;
    if (!s_path (path, sizeof (path), root, relative))
        return 0;
    int count = scandir (path, names_p, NULL, alphasort);
    return count < 0? 0: count;
}

static void
s_list_free (struct dirent **names, int count)
{
    for (int index = 0; index < count; index++)
        free (names [index]);
    free (names);
}

//  Key of a "key<TAB>: value" line in /proc files, and its value
static bool
s_key_value (char *line, char **key_p, char **value_p)
{
    char *colon = strchr (line, ':');
    if (!colon)
        return false;
    char *end = colon;
    while (end > line && isspace ((unsigned char) end [-1]))
        end--;
    *end = '\0';
    char *value = colon + 1;
    while (isspace ((unsigned char) *value))
        value++;
    size_t length = strlen (value);
    while (length > 0 && isspace ((unsigned char) value [length - 1]))
        value [--length] = '\0';
    *key_p = line;
    *value_p = value;
    return true;
}

//  CPU count and model from /proc/cpuinfo. The model key differs by
//  architecture: "model name" (x86, arm64 with newer kernels), "Hardware"
//  (older arm), "cpu" (powerpc), "uarch" (riscv).
static void
s_probe_cpus (osmose_resources_capacity_t *capacity, const char *root)
{
    static const char *model_keys [] = { "model name", "Hardware", "cpu", "uarch" };
    size_t best = sizeof (model_keys) / sizeof (model_keys [0]);
    char path [S_PATH_MAX];
    FILE *file = s_path (path, sizeof (path), root, "/proc/cpuinfo")?
        fopen (path, "r"): NULL;
    int processors = 0;
    if (file) {
        //  getline: x86's "flags" line is longer than any fixed buffer
        char *line = NULL;
        size_t line_size = 0;
        for (int lines = 0; lines < S_MAX_LINES && getline (&line, &line_size, file) > 0; lines++) {
            char *key, *value;
            if (!s_key_value (line, &key, &value))
                continue;
            if (streq (key, "processor"))
                processors++;
            for (size_t index = 0; index < best; index++)
                if (streq (key, model_keys [index]) && *value) {
                    s_set_name (capacity->cpu_model, value);
                    best = index;
                }
        }
        free (line);
        fclose (file);
    }
    capacity->cpus = processors;
    if (streq (root, "/")) {
        //  On the real machine, count the CPUs we may run on (cgroups and
        //  taskset narrow them), as the workers will see them
        cpu_set_t set;
        CPU_ZERO (&set);
        if (sched_getaffinity (0, sizeof (set), &set) == 0 && CPU_COUNT (&set) > 0)
            capacity->cpus = CPU_COUNT (&set);
        else {
            long online = sysconf (_SC_NPROCESSORS_ONLN);
            if (online > 0)
                capacity->cpus = (int) online;
        }
    }
    //  A CPU quota of 1.5 CPUs lets us use two CPUs part of the time
    osmose_cgroup_limits_t limits;
    osmose_cgroup_limits (root, &limits);
    if (limits.cpu_millis > 0) {
        int64_t quota = (limits.cpu_millis + 999) / 1000;
        if (quota < capacity->cpus)
            capacity->cpus = (int) quota;
    }
    if (capacity->cpus > OSMOSE_RESOURCES_MAX_CPUS)
        capacity->cpus = OSMOSE_RESOURCES_MAX_CPUS;
}

//  Total and available memory from /proc/meminfo, in MiB
static void
s_probe_memory (osmose_resources_t *self, const char *root)
{
    char path [S_PATH_MAX];
    FILE *file = s_path (path, sizeof (path), root, "/proc/meminfo")?
        fopen (path, "r"): NULL;
    int64_t total = 0, available = -1, free_kb = 0, buffers = 0, cached = 0;
    if (file) {
        //  getline: x86's "flags" line is longer than any fixed buffer
        char *line = NULL;
        size_t line_size = 0;
        for (int lines = 0; lines < S_MAX_LINES && getline (&line, &line_size, file) > 0; lines++) {
            char *key, *value;
            if (!s_key_value (line, &key, &value))
                continue;
            long long kb = strtoll (value, NULL, 10);
            if (kb < 0)
                continue;
            if (streq (key, "MemTotal"))
                total = kb;
            else
            if (streq (key, "MemAvailable"))
                available = kb;
            else
            if (streq (key, "MemFree"))
                free_kb = kb;
            else
            if (streq (key, "Buffers"))
                buffers = kb;
            else
            if (streq (key, "Cached"))
                cached = kb;
        }
        free (line);
        fclose (file);
    }
    //  Kernels before 3.14 have no MemAvailable: estimate it
    if (available < 0)
        available = free_kb + buffers + cached;
    //  Inside a container or slice, its memory limit is our total
    osmose_cgroup_limits_t limits;
    osmose_cgroup_limits (root, &limits);
    if (limits.memory_max >= 0 && limits.memory_max / 1024 < total)
        total = limits.memory_max / 1024;
    if (limits.memory_headroom >= 0 && limits.memory_headroom / 1024 < available)
        available = limits.memory_headroom / 1024;
    if (available > total)
        available = total;
    self->capacity.memory_total_mb = total / 1024;
    self->load.memory_free_mb = available / 1024;
}

static void
s_probe_loadavg (osmose_resources_load_t *load, const char *root)
{
    char text [128];
    load->load1 = 0;
    if (s_read (root, "/proc/loadavg", text, sizeof (text)) <= 0)
        return;
    char *end;
    double value = strtod (text, &end);
    if (end == text || !(value >= 0))
        return;
    if (value * 100 > OSMOSE_RESOURCES_MAX_LOAD)
        value = OSMOSE_RESOURCES_MAX_LOAD / 100.0;
    load->load1 = (int) (value * 100 + 0.5);
}

//  Add one GPU; the count goes on past the described ones
static void
s_add_gpu (osmose_resources_capacity_t *capacity, osmose_gpu_vendor_t vendor,
           const char *name)
{
    if (capacity->gpus >= OSMOSE_RESOURCES_MAX_DEVICES)
        return;
    if (capacity->gpu_models < OSMOSE_RESOURCES_MAX_GPUS) {
        osmose_resources_gpu_t *gpu = &capacity->gpu [capacity->gpu_models++];
        gpu->vendor = vendor;
        s_set_name (gpu->name, name);
    }
    capacity->gpus++;
}

//  NVIDIA's driver lists each GPU in /proc/driver/nvidia/gpus/BUS/information
//  with its model; without it, fall back to the /dev/nvidiaN device nodes.
static void
s_probe_nvidia (osmose_resources_capacity_t *capacity, const char *root)
{
    struct dirent **names;
    int count = s_list (root, "/proc/driver/nvidia/gpus", &names);
    int found = 0;
    for (int index = 0; index < count; index++) {
        if (names [index]->d_name [0] == '.')
            continue;
        char relative [S_PATH_MAX], text [4096];
        snprintf (relative, sizeof (relative), "/proc/driver/nvidia/gpus/%.255s/information",
                  names [index]->d_name);
        if (s_read (root, relative, text, sizeof (text)) < 0)
            continue;           //  not a GPU directory
        const char *model = "NVIDIA GPU";
        char *save = NULL;
        for (char *line = strtok_r (text, "\n", &save); line;
             line = strtok_r (NULL, "\n", &save)) {
            char *key, *value;
            if (s_key_value (line, &key, &value) && streq (key, "Model") && *value) {
                model = value;
                break;
            }
        }
        s_add_gpu (capacity, OSMOSE_GPU_NVIDIA, model);
        found++;
    }
    s_list_free (names, count);
    if (found)
        return;
    count = s_list (root, "/dev", &names);
    for (int index = 0; index < count; index++)
        if (s_numbered (names [index]->d_name, "nvidia"))
            s_add_gpu (capacity, OSMOSE_GPU_NVIDIA, "NVIDIA GPU");
    s_list_free (names, count);
}

//  Display adapters of BMCs and hypervisors: present on servers and VMs but
//  no use for computing, so never advertised as GPUs.
static bool
s_display_only (int64_t vendor)
{
    static const int64_t vendors [] = {
        0x1a03,     //  ASPEED (server BMC)
        0x102b,     //  Matrox (server BMC)
        0x1af4,     //  virtio-gpu
        0x1b36,     //  QEMU (QXL)
        0x1234,     //  QEMU/Bochs standard VGA
        0x15ad,     //  VMware SVGA
        0x80ee,     //  VirtualBox
        0x1414      //  Hyper-V
    };
    for (size_t index = 0; index < sizeof (vendors) / sizeof (vendors [0]); index++)
        if (vendors [index] == vendor)
            return true;
    return false;
}

//  Other GPUs: DRM cards (card0, not connectors like card0-HDMI-A-1) with a
//  PCI vendor. NVIDIA cards were counted already when the driver said so.
static void
s_probe_drm (osmose_resources_capacity_t *capacity, const char *root,
             bool nvidia_seen)
{
    struct dirent **names;
    int count = s_list (root, "/sys/class/drm", &names);
    for (int index = 0; index < count; index++) {
        const char *card = names [index]->d_name;
        if (!s_numbered (card, "card"))
            continue;
        char relative [S_PATH_MAX];
        snprintf (relative, sizeof (relative), "/sys/class/drm/%.64s/device/vendor", card);
        int64_t vendor = s_read_int (root, relative);
        if (vendor < 0 || s_display_only (vendor))
            continue;           //  platform framebuffers have no PCI vendor
        snprintf (relative, sizeof (relative), "/sys/class/drm/%.64s/device/device", card);
        int64_t device = s_read_int (root, relative);
        osmose_gpu_vendor_t kind = vendor == 0x10de? OSMOSE_GPU_NVIDIA:
                                   vendor == 0x1002? OSMOSE_GPU_AMD:
                                   vendor == 0x8086? OSMOSE_GPU_INTEL: OSMOSE_GPU_OTHER;
        if (kind == OSMOSE_GPU_NVIDIA && nvidia_seen)
            continue;
        static const char *labels [] = { "GPU", "NVIDIA GPU", "AMD GPU", "Intel GPU" };
        char name [64];
        if (kind == OSMOSE_GPU_OTHER)
            snprintf (name, sizeof (name), "GPU %04" PRIx64 ":%04" PRIx64, vendor,
                      device < 0? 0: device);
        else
            snprintf (name, sizeof (name), "%s %04" PRIx64, labels [kind],
                      device < 0? 0: device);
        s_add_gpu (capacity, kind, name);
    }
    s_list_free (names, count);
}

//  NPUs and other accelerators under the kernel's accel subsystem; the
//  class directory and the device nodes describe the same devices.
static void
s_probe_npus (osmose_resources_capacity_t *capacity, const char *root)
{
    int counts [2] = { 0, 0 };
    const char *places [2] = { "/sys/class/accel", "/dev/accel" };
    for (int place = 0; place < 2; place++) {
        struct dirent **names;
        int count = s_list (root, places [place], &names);
        for (int index = 0; index < count; index++)
            if (s_numbered (names [index]->d_name, "accel"))
                counts [place]++;
        s_list_free (names, count);
    }
    capacity->npus = counts [0] > counts [1]? counts [0]: counts [1];
    if (capacity->npus > OSMOSE_RESOURCES_MAX_DEVICES)
        capacity->npus = OSMOSE_RESOURCES_MAX_DEVICES;
}

//  Power source and battery level from /sys/class/power_supply. A machine
//  without a system battery runs on mains; batteries of mice and
//  keyboards (scope "Device") are not ours.
static void
s_probe_power (osmose_resources_t *self, const char *root)
{
    struct dirent **names;
    int count = s_list (root, "/sys/class/power_supply", &names);
    bool mains_seen = false, mains_online = false;
    bool discharging = false, charging = false;
    int batteries = 0, levels = 0, level_sum = 0;
    for (int index = 0; index < count; index++) {
        const char *supply = names [index]->d_name;
        if (supply [0] == '.')
            continue;
        char relative [S_PATH_MAX], text [64];
        snprintf (relative, sizeof (relative), "/sys/class/power_supply/%.128s/scope", supply);
        if (s_read (root, relative, text, sizeof (text)) > 0 && streq (text, "Device"))
            continue;
        snprintf (relative, sizeof (relative), "/sys/class/power_supply/%.128s/type", supply);
        if (s_read (root, relative, text, sizeof (text)) <= 0)
            continue;
        if (streq (text, "Battery")) {
            batteries++;
            snprintf (relative, sizeof (relative), "/sys/class/power_supply/%.128s/capacity", supply);
            int64_t level = s_read_int (root, relative);
            if (level >= 0 && level <= 100) {
                level_sum += (int) level;
                levels++;
            }
            snprintf (relative, sizeof (relative), "/sys/class/power_supply/%.128s/status", supply);
            if (s_read (root, relative, text, sizeof (text)) > 0) {
                if (streq (text, "Discharging"))
                    discharging = true;
                else
                if (streq (text, "Charging") || streq (text, "Full")
                ||  streq (text, "Not charging"))
                    charging = true;
            }
        }
        else {
            //  Mains, USB, USB_C, USB_PD...: an external source
            mains_seen = true;
            snprintf (relative, sizeof (relative), "/sys/class/power_supply/%.128s/online", supply);
            if (s_read_int (root, relative) == 1)
                mains_online = true;
        }
    }
    s_list_free (names, count);
    self->load.battery_percent = levels? (level_sum + levels / 2) / levels: -1;
    if (batteries == 0 || mains_online)
        self->capacity.power = OSMOSE_POWER_WALL;
    else
    if (discharging || mains_seen)
        self->capacity.power = OSMOSE_POWER_BATTERY;
    else
    if (charging)
        self->capacity.power = OSMOSE_POWER_WALL;
    else
        self->capacity.power = OSMOSE_POWER_UNKNOWN;
}

static bool
s_root_ok (const char *root)
{
    struct stat status;
    return stat (root, &status) == 0 && S_ISDIR (status.st_mode);
}

//  Config overrides of the fast figures; also keeps free memory within an
//  overridden total
static void
s_apply_load_config (osmose_resources_t *self, osmose_config_t *config)
{
    if (config) {
        int64_t battery = osmose_config_int (config, "resources/battery_percent");
        if (battery >= 0)
            self->load.battery_percent = (int) battery;
    }
    if (self->load.memory_free_mb > self->capacity.memory_total_mb)
        self->load.memory_free_mb = self->capacity.memory_total_mb;
}

void
osmose_resources_apply_config (osmose_resources_t *self, osmose_config_t *config)
{
    assert (self);
    osmose_resources_capacity_t *capacity = &self->capacity;
    int64_t lease_cpus = -1, lease_gpus = -1, lease_npus = -1, lease_memory = -1;
    if (config) {
        int64_t value = osmose_config_int (config, "resources/cpus");
        if (value >= 0)
            capacity->cpus = (int) value;
        value = osmose_config_int (config, "resources/memory_mb");
        if (value >= 0)
            capacity->memory_total_mb = value;
        value = osmose_config_int (config, "resources/gpus");
        if (value >= 0)
            capacity->gpus = (int) value;
        value = osmose_config_int (config, "resources/npus");
        if (value >= 0)
            capacity->npus = (int) value;
        const char *power = osmose_config_str (config, "resources/power");
        if (streq (power, "wall"))
            capacity->power = OSMOSE_POWER_WALL;
        else
        if (streq (power, "battery"))
            capacity->power = OSMOSE_POWER_BATTERY;
        //  The config's grammar has no length or depth limit; a location
        //  peers would reject is advertised as unknown instead
        const char *location = osmose_config_str (config, "node/location");
        if (osmose_location_valid (location))
            snprintf (capacity->location, sizeof (capacity->location), "%s", location);
        else
            capacity->location [0] = '\0';
        lease_cpus = osmose_config_int (config, "policy/lease_cpus");
        lease_gpus = osmose_config_int (config, "policy/lease_gpus");
        lease_npus = osmose_config_int (config, "policy/lease_npus");
        lease_memory = osmose_config_int (config, "policy/lease_memory_mb");
    }
    if (capacity->gpu_models > capacity->gpus)
        capacity->gpu_models = capacity->gpus;
    //  Caps only ever lower what is advertised
    capacity->lease_cpus = lease_cpus >= 0 && lease_cpus < capacity->cpus?
        (int) lease_cpus: capacity->cpus;
    capacity->lease_gpus = lease_gpus >= 0 && lease_gpus < capacity->gpus?
        (int) lease_gpus: capacity->gpus;
    capacity->lease_npus = lease_npus >= 0 && lease_npus < capacity->npus?
        (int) lease_npus: capacity->npus;
    capacity->lease_memory_mb = lease_memory >= 0 && lease_memory < capacity->memory_total_mb?
        lease_memory: capacity->memory_total_mb;
    s_apply_load_config (self, config);
}

int
osmose_resources_probe (osmose_resources_t *self, const char *root,
                        osmose_config_t *config)
{
    if (!self)
        return OSMOSE_EINVAL;
    memset (self, 0, sizeof (*self));
    self->load.battery_percent = -1;
    if (!root || !*root)
        root = "/";
    if (!s_root_ok (root))
        return OSMOSE_EINVAL;
    s_probe_cpus (&self->capacity, root);
    s_probe_memory (self, root);
    s_probe_loadavg (&self->load, root);
    s_probe_nvidia (&self->capacity, root);
    s_probe_drm (&self->capacity, root, self->capacity.gpus > 0);
    s_probe_npus (&self->capacity, root);
    s_probe_power (self, root);
    osmose_resources_apply_config (self, config);
    return 0;
}

int
osmose_resources_probe_load (osmose_resources_t *self, const char *root,
                             osmose_config_t *config)
{
    if (!self)
        return OSMOSE_EINVAL;
    if (!root || !*root)
        root = "/";
    if (!s_root_ok (root))
        return OSMOSE_EINVAL;
    //  Power is probed on a scratch copy: only the battery level is fast
    osmose_resources_t scratch = *self;
    s_probe_memory (&scratch, root);
    s_probe_power (&scratch, root);
    s_probe_loadavg (&self->load, root);
    self->load.memory_free_mb = scratch.load.memory_free_mb;
    self->load.battery_percent = scratch.load.battery_percent;
    s_apply_load_config (self, config);
    return 0;
}

bool
osmose_resources_capacity_changed (const osmose_resources_capacity_t *old_capacity,
                                   const osmose_resources_capacity_t *new_capacity)
{
    assert (old_capacity && new_capacity);
    const osmose_resources_capacity_t *a = old_capacity, *b = new_capacity;
    //  Field by field: padding and bytes after a string's NUL are noise
    if (a->cpus != b->cpus || a->memory_total_mb != b->memory_total_mb
    ||  a->gpus != b->gpus || a->gpu_models != b->gpu_models
    ||  a->npus != b->npus || a->power != b->power
    ||  a->lease_cpus != b->lease_cpus || a->lease_gpus != b->lease_gpus
    ||  a->lease_npus != b->lease_npus || a->lease_memory_mb != b->lease_memory_mb
    ||  strcmp (a->cpu_model, b->cpu_model) != 0
    ||  strcmp (a->location, b->location) != 0)
        return true;
    for (int index = 0; index < a->gpu_models && index < OSMOSE_RESOURCES_MAX_GPUS; index++)
        if (a->gpu [index].vendor != b->gpu [index].vendor
        ||  strcmp (a->gpu [index].name, b->gpu [index].name) != 0)
            return true;
    return false;
}

bool
osmose_resources_battery_low (const osmose_resources_t *self, int min_percent)
{
    assert (self);
    return self->capacity.power == OSMOSE_POWER_BATTERY
        && self->load.battery_percent >= 0
        && self->load.battery_percent < min_percent;
}

int
osmose_resources_load_percent (const osmose_resources_t *self)
{
    assert (self);
    int cpus = self->capacity.cpus > 0? self->capacity.cpus: 1;
    return self->load.load1 / cpus;
}

bool
osmose_resources_overloaded (const osmose_resources_t *self, int64_t max_percent)
{
    return max_percent > 0 && osmose_resources_load_percent (self) > max_percent;
}

//  --------------------------------------------------------------------------
//  Self-test: fake machines under a temporary root

//  Write TEXT to ROOT/RELATIVE, creating the directories on the way
static void
s_fake (const char *root, const char *relative, const char *text)
{
    char path [S_PATH_MAX];
    assert (s_path (path, sizeof (path), root, relative));
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

static void
s_remove_tree (const char *root)
{
    //  FTW_PHYS: never follow a link out of the tree
    nftw (root, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
osmose_resources_test (bool verbose)
{
    printf (" * osmose_resources: ");
    char root [] = "/tmp/osmose-resources-XXXXXX";
    assert (mkdtemp (root));

    //  An empty root: no figure, no failure; no battery means wall power
    osmose_resources_t res;
    assert (osmose_resources_probe (&res, root, NULL) == 0);
    assert (res.capacity.cpus == 0 && res.capacity.gpus == 0 && res.capacity.npus == 0);
    assert (res.capacity.memory_total_mb == 0 && res.load.memory_free_mb == 0);
    assert (res.capacity.power == OSMOSE_POWER_WALL);
    assert (res.load.battery_percent == -1);
    assert (streq (res.capacity.location, ""));
    assert (osmose_resources_probe (&res, "/nonexistent-osmose-root", NULL) == OSMOSE_EINVAL);
    assert (osmose_resources_probe (NULL, root, NULL) == OSMOSE_EINVAL);

    //  A laptop-like machine with two NVIDIA GPUs, one NPU, a battery
    s_fake (root, "/proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
        "model name\t: Intel(R) Core(TM)   i7-1185G7 @ 3.00GHz\ncpu MHz\t\t: 2995.2\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Core(TM)   i7-1185G7 @ 3.00GHz\n\n"
        "processor\t: 2\n\nprocessor\t: 3\n");
    s_fake (root, "/proc/meminfo",
        "MemTotal:       16303428 kB\nMemFree:         1024000 kB\n"
        "MemAvailable:   10240000 kB\nBuffers:          100000 kB\n");
    s_fake (root, "/proc/loadavg", "1.57 0.80 0.33 2/1234 5678\n");
    s_fake (root, "/proc/driver/nvidia/gpus/0000:01:00.0/information",
        "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 42\nBus Location: \t 0000:01:00.0\n");
    s_fake (root, "/proc/driver/nvidia/gpus/0000:02:00.0/information",
        "Model: \t\t NVIDIA H100 80GB HBM3\n");
    s_fake (root, "/dev/nvidia0", "");
    s_fake (root, "/dev/nvidia1", "");
    s_fake (root, "/dev/nvidiactl", "");
    //  The NVIDIA cards again through DRM (not counted twice), a BMC's
    //  display, a connector, and an Intel iGPU
    s_fake (root, "/sys/class/drm/card0/device/vendor", "0x1a03\n");
    s_fake (root, "/sys/class/drm/card1/device/vendor", "0x10de\n");
    s_fake (root, "/sys/class/drm/card1-HDMI-A-1/status", "connected\n");
    s_fake (root, "/sys/class/drm/card2/device/vendor", "0x8086\n");
    s_fake (root, "/sys/class/drm/card2/device/device", "0x9a49\n");
    s_fake (root, "/sys/class/drm/renderD128/dev", "226:128\n");
    s_fake (root, "/dev/accel/accel0", "");
    s_fake (root, "/sys/class/accel/accel0/dev", "261:0\n");
    s_fake (root, "/sys/class/power_supply/AC/type", "Mains\n");
    s_fake (root, "/sys/class/power_supply/AC/online", "0\n");
    s_fake (root, "/sys/class/power_supply/BAT0/type", "Battery\n");
    s_fake (root, "/sys/class/power_supply/BAT0/capacity", "15\n");
    s_fake (root, "/sys/class/power_supply/BAT0/status", "Discharging\n");
    s_fake (root, "/sys/class/power_supply/hidpp_battery_0/type", "Battery\n");
    s_fake (root, "/sys/class/power_supply/hidpp_battery_0/scope", "Device\n");
    s_fake (root, "/sys/class/power_supply/hidpp_battery_0/capacity", "90\n");

    assert (osmose_resources_probe (&res, root, NULL) == 0);
    if (verbose) {
        json_t *json = osmose_resources_json (&res);
        char *text = json_dumps (json, JSON_COMPACT);
        printf ("\n%s\n", text);
        free (text);
        json_decref (json);
    }
    osmose_resources_capacity_t *cap = &res.capacity;
    assert (cap->cpus == 4);
    assert (streq (cap->cpu_model, "Intel(R) Core(TM) i7-1185G7 @ 3.00GHz"));
    assert (cap->memory_total_mb == 16303428 / 1024);
    assert (res.load.memory_free_mb == 10240000 / 1024);
    assert (res.load.load1 == 157);
    assert (cap->gpus == 3 && cap->gpu_models == 3);
    assert (cap->gpu [0].vendor == OSMOSE_GPU_NVIDIA);
    assert (streq (cap->gpu [0].name, "NVIDIA H100 80GB HBM3"));
    assert (cap->gpu [2].vendor == OSMOSE_GPU_INTEL);
    assert (streq (cap->gpu [2].name, "Intel GPU 9a49"));
    assert (cap->npus == 1);
    assert (cap->power == OSMOSE_POWER_BATTERY);
    assert (res.load.battery_percent == 15);
    assert (cap->lease_cpus == 4 && cap->lease_gpus == 3 && cap->lease_npus == 1);
    assert (cap->lease_memory_mb == cap->memory_total_mb);
    assert (osmose_resources_battery_low (&res, 20));
    assert (!osmose_resources_battery_low (&res, 10));
    //  Load per CPU against policy/load_max_percent (load1 is x 100)
    int load1 = res.load.load1;
    res.load.load1 = cap->cpus * 90;
    assert (osmose_resources_load_percent (&res) == 90);
    assert (osmose_resources_overloaded (&res, 80));
    assert (!osmose_resources_overloaded (&res, 90));
    assert (!osmose_resources_overloaded (&res, 0));
    res.load.load1 = load1;

    //  Overrides and caps from the config
    osmose_config_t *config = osmose_config_new_default ();
    assert (config);
    assert (osmose_config_set (config, "resources/cpus", "16") == 0);
    assert (osmose_config_set (config, "resources/gpus", "1") == 0);
    assert (osmose_config_set (config, "resources/memory_mb", "8000") == 0);
    assert (osmose_config_set (config, "resources/power", "wall") == 0);
    assert (osmose_config_set (config, "resources/battery_percent", "80") == 0);
    assert (osmose_config_set (config, "policy/lease_cpus", "6") == 0);
    assert (osmose_config_set (config, "policy/lease_npus", "0") == 0);
    assert (osmose_config_set (config, "policy/lease_gpus", "5") == 0);
    assert (osmose_config_set (config, "policy/lease_memory_mb", "2048") == 0);
    assert (osmose_config_set (config, "node/location", "hq/floor1/room3") == 0);
    osmose_resources_t tuned;
    assert (osmose_resources_probe (&tuned, root, config) == 0);
    assert (tuned.capacity.cpus == 16 && tuned.capacity.lease_cpus == 6);
    assert (tuned.capacity.gpus == 1 && tuned.capacity.gpu_models == 1);
    assert (tuned.capacity.lease_gpus == 1);        //  a cap never raises
    assert (tuned.capacity.npus == 1 && tuned.capacity.lease_npus == 0);
    assert (tuned.capacity.memory_total_mb == 8000 && tuned.capacity.lease_memory_mb == 2048);
    assert (tuned.load.memory_free_mb == 8000);     //  within the total
    assert (tuned.capacity.power == OSMOSE_POWER_WALL);
    assert (tuned.load.battery_percent == 80);
    assert (streq (tuned.capacity.location, "hq/floor1/room3"));
    assert (!osmose_resources_battery_low (&tuned, 90));
    assert (osmose_resources_capacity_changed (&res.capacity, &tuned.capacity));

    //  Capacity comparison: the same probe twice is unchanged; each slow
    //  figure counts, the fast ones do not
    osmose_resources_t again;
    assert (osmose_resources_probe (&again, root, config) == 0);
    assert (!osmose_resources_capacity_changed (&tuned.capacity, &again.capacity));
    again.capacity.location [0] = '\0';
    assert (osmose_resources_capacity_changed (&tuned.capacity, &again.capacity));
    again = tuned;
    again.capacity.power = OSMOSE_POWER_BATTERY;
    assert (osmose_resources_capacity_changed (&tuned.capacity, &again.capacity));
    again = tuned;
    again.capacity.gpu [0].name [0] = 'X';
    assert (osmose_resources_capacity_changed (&tuned.capacity, &again.capacity));
    again = tuned;
    again.capacity.lease_cpus--;
    assert (osmose_resources_capacity_changed (&tuned.capacity, &again.capacity));
    again = tuned;
    again.load.load1 += 500;
    again.load.memory_free_mb -= 100;
    assert (!osmose_resources_capacity_changed (&tuned.capacity, &again.capacity));

    //  Load refresh: battery drains, charger plugged in, load rises; the
    //  capacity is left alone (its power source changes on the next probe)
    s_fake (root, "/proc/loadavg", "12.345 0.80 0.33 2/1234 5678\n");
    s_fake (root, "/sys/class/power_supply/BAT0/capacity", "14\n");
    s_fake (root, "/sys/class/power_supply/BAT0/status", "Charging\n");
    s_fake (root, "/sys/class/power_supply/AC/online", "1\n");
    osmose_resources_t before = res;
    assert (osmose_resources_probe_load (&res, root, NULL) == 0);
    assert (res.load.load1 == 1235);
    assert (res.load.battery_percent == 14);
    assert (!osmose_resources_capacity_changed (&before.capacity, &res.capacity));
    assert (osmose_resources_probe (&res, root, NULL) == 0);
    assert (res.capacity.power == OSMOSE_POWER_WALL);
    assert (osmose_resources_capacity_changed (&before.capacity, &res.capacity));
    assert (osmose_resources_probe_load (&tuned, root, config) == 0);
    assert (tuned.load.battery_percent == 80);      //  override holds

    //  No NVIDIA driver info: device nodes count; DRM NVIDIA cards then
    //  are the same boards, AMD is counted; without a battery, wall power
    char other [] = "/tmp/osmose-resources-XXXXXX";
    assert (mkdtemp (other));
    s_fake (other, "/dev/nvidia0", "");
    s_fake (other, "/dev/nvidia-uvm", "");
    s_fake (other, "/sys/class/drm/card0/device/vendor", "0x10de\n");
    s_fake (other, "/sys/class/drm/card1/device/vendor", "0x1002\n");
    s_fake (other, "/sys/class/drm/card1/device/device", "0x73bf\n");
    s_fake (other, "/sys/class/drm/card2/device/vendor", "garbage\n");
    s_fake (other, "/proc/cpuinfo", "processor : 0\ncpu : POWER9, altivec supported\n");
    s_fake (other, "/proc/meminfo", "MemTotal: 2048 kB\nMemFree: 1024 kB\nCached: 512 kB\n");
    s_fake (other, "/proc/loadavg", "-3 junk\n");
    assert (osmose_resources_probe (&res, other, NULL) == 0);
    assert (res.capacity.gpus == 2);
    assert (res.capacity.gpu [0].vendor == OSMOSE_GPU_NVIDIA);
    assert (res.capacity.gpu [1].vendor == OSMOSE_GPU_AMD);
    assert (streq (res.capacity.gpu [1].name, "AMD GPU 73bf"));
    assert (res.capacity.cpus == 1);
    assert (streq (res.capacity.cpu_model, "POWER9, altivec supported"));
    assert (res.capacity.memory_total_mb == 2 && res.load.memory_free_mb == 1);
    assert (res.load.load1 == 0);
    assert (res.capacity.power == OSMOSE_POWER_WALL && res.load.battery_percent == -1);
    //  In a container: its cgroup limits bind
    s_fake (other, "/proc/cpuinfo", "processor : 0\nprocessor : 1\nprocessor : 2\nprocessor : 3\n");
    s_fake (other, "/proc/self/cgroup", "0::/box\n");
    s_fake (other, "/sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    s_fake (other, "/sys/fs/cgroup/box/cpu.max", "150000 100000\n");
    s_fake (other, "/sys/fs/cgroup/box/memory.max", "1048576\n");
    s_fake (other, "/sys/fs/cgroup/box/memory.current", "524288\n");
    assert (osmose_resources_probe (&res, other, NULL) == 0);
    assert (res.capacity.cpus == 2);
    assert (res.capacity.memory_total_mb == 1 && res.load.memory_free_mb == 0);
    //  Without NVIDIA's driver and nodes, its DRM card counts
    s_remove_tree (other);
    s_fake (other, "/sys/class/drm/card0/device/vendor", "0x10de\n");
    s_fake (other, "/sys/class/drm/card0/device/device", "0x2330\n");
    assert (osmose_resources_probe (&res, other, NULL) == 0);
    assert (res.capacity.gpus == 1 && streq (res.capacity.gpu [0].name, "NVIDIA GPU 2330"));
    s_remove_tree (other);

    //  This machine: some CPUs and memory, and the figures pass our checks
    assert (osmose_resources_probe (&res, NULL, NULL) == 0);
    assert (res.capacity.cpus >= 1);
    assert (res.capacity.lease_cpus == res.capacity.cpus);
    assert (res.load.memory_free_mb <= res.capacity.memory_total_mb);
    json_t *json = osmose_resources_json (&res);
    osmose_resources_t parsed;
    assert (osmose_resources_from_json (json, &parsed) == 0);
    assert (!osmose_resources_capacity_changed (&res.capacity, &parsed.capacity));
    json_decref (json);

    osmose_config_destroy (&config);
    s_remove_tree (root);
    assert (!zsys_file_exists (root));
    printf ("OK\n");
}
