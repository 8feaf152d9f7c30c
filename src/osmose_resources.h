/*  osmose_resources.h: what this device offers the mesh, and peers' adverts.

    Each peer probes its machine (CPUs, memory, load, GPUs, NPUs, power) and
    advertises the figures with its location path. Operators override a
    figure in the config (resources/...) and cap what others may lease
    (policy/lease_...). The figures split in two by how fast they change:

      capacity  slow: CPUs, CPU model, total memory, GPUs, NPUs, power
                source, location, leasable caps. Logged as an entry when it
                changes (osmose_resources_capacity_changed).
      load      fast: load average, free memory, battery level. Travels in
                gossip only, never in the log.

    The figures are plain value structs (copied, compared, embedded in the
    member table) rather than an opaque class: a peer keeps one per member
    and the daemon refreshes its own on a timer.

    Probing reads files under a root directory ("/" on a real machine), so
    tests build a fake /proc, /sys and /dev under a temporary directory.
    Missing or unreadable files are not errors: that figure stays 0 or
    unknown. Adverts from peers are untrusted: osmose_resources_*_from_json
    bound every string and number and reject anything else with
    OSMOSE_EPROTO.

    Thread safety: no shared state; each function may run in any thread on
    structs that thread owns.
*/
#ifndef OSMOSE_RESOURCES_H_INCLUDED
#define OSMOSE_RESOURCES_H_INCLUDED

#include <jansson.h>
#include "osmose_config.h"
#include "osmose_location.h"

#define OSMOSE_RESOURCES_MAX_GPUS     16    //  GPUs described one by one
#define OSMOSE_RESOURCES_NAME_MAX     128   //  bytes of a model name, with NUL
#define OSMOSE_RESOURCES_MAX_CPUS     65536
#define OSMOSE_RESOURCES_MAX_DEVICES  1024  //  GPUs or NPUs in one peer
#define OSMOSE_RESOURCES_MAX_MEMORY_MB INT64_C (1000000000000)
#define OSMOSE_RESOURCES_MAX_LOAD     100000000   //  load1 x 100

//  Environment variable naming a fake root for probing, honoured by
//  "osmose resources" (and by osmosed, where the lead wires it in), so
//  tests can give each peer its own hardware
#define OSMOSE_RESOURCES_SYSROOT_ENV  "OSMOSE_SYSROOT"

typedef enum {
    OSMOSE_POWER_UNKNOWN = 0,
    OSMOSE_POWER_WALL = 1,          //  mains, or a machine with no battery
    OSMOSE_POWER_BATTERY = 2        //  running on its battery now
} osmose_power_t;

typedef enum {
    OSMOSE_GPU_OTHER = 0,
    OSMOSE_GPU_NVIDIA = 1,          //  PCI vendor 0x10de
    OSMOSE_GPU_AMD = 2,             //  0x1002
    OSMOSE_GPU_INTEL = 3            //  0x8086
} osmose_gpu_vendor_t;

typedef struct {
    osmose_gpu_vendor_t vendor;
    char name [OSMOSE_RESOURCES_NAME_MAX];  //  "NVIDIA H100 80GB HBM3"
} osmose_resources_gpu_t;

//  Slow-changing facts: logged when they change
typedef struct {
    int cpus;                       //  advertised CPUs (after overrides)
    char cpu_model [OSMOSE_RESOURCES_NAME_MAX];
    int64_t memory_total_mb;
    int gpus;                       //  advertised GPUs
    int gpu_models;                 //  entries in gpu [], <= gpus
    osmose_resources_gpu_t gpu [OSMOSE_RESOURCES_MAX_GPUS];
    int npus;                       //  advertised NPUs (/dev/accel)
    osmose_power_t power;
    char location [OSMOSE_LOCATION_MAX_LENGTH + 1];
    //  What others may lease: advertised figures capped by policy/lease_*
    int lease_cpus;
    int lease_gpus;
    int lease_npus;
    int64_t lease_memory_mb;
} osmose_resources_capacity_t;

//  Fast-changing figures: gossip only
typedef struct {
    int load1;                      //  1-minute load average x 100
    int64_t memory_free_mb;         //  available memory (MemAvailable)
    int battery_percent;            //  0..100, -1 when there is no battery
} osmose_resources_load_t;

typedef struct {
    osmose_resources_capacity_t capacity;
    osmose_resources_load_t load;
} osmose_resources_t;

//  Probe the machine whose files lie under ROOT (NULL or "/" for this one)
//  and apply CONFIG's overrides, caps and node/location (CONFIG may be NULL:
//  raw figures, no location). Fills *self completely. Returns 0, or
//  OSMOSE_EINVAL for a NULL self or a ROOT that is not a directory.
int OSMOSE_CHECK
    osmose_resources_probe (osmose_resources_t *self, const char *root,
                            osmose_config_t *config);

//  Re-read only the fast figures (load, free memory, battery) into
//  self->load, with CONFIG's overrides; cheap enough for every gossip round.
//  Returns as osmose_resources_probe.
int OSMOSE_CHECK
    osmose_resources_probe_load (osmose_resources_t *self, const char *root,
                                 osmose_config_t *config);

//  Apply CONFIG to figures already probed: resources/* replace a figure
//  when not -1, resources/power replaces the power source unless "auto",
//  node/location sets the location, policy/lease_* cap the lease figures.
//  Probing calls this; call it again after a configuration reload.
void
    osmose_resources_apply_config (osmose_resources_t *self, osmose_config_t *config);

//  True when anything in the capacity differs, i.e. when the daemon should
//  append a new capacity entry to its log.
bool
    osmose_resources_capacity_changed (const osmose_resources_capacity_t *old_capacity,
                                       const osmose_resources_capacity_t *new_capacity);

//  True when the device runs on battery below MIN_PERCENT (policy
//  battery_min_percent): it should refuse new leases and hand back old ones.
bool
    osmose_resources_battery_low (const osmose_resources_t *self, int min_percent);

//  The 1-minute load per CPU, in percent of one CPU
int
    osmose_resources_load_percent (const osmose_resources_t *self);

//  True when the 1-minute load per CPU passes MAX_PERCENT (policy
//  load_max_percent; 0 means never): the owner's work comes first, so it
//  should refuse new leases and hand back old ones.
bool
    osmose_resources_overloaded (const osmose_resources_t *self, int64_t max_percent);

//  JSON forms (caller owns the result; NULL only when out of memory):
//  capacity {"cpus", "cpu_model", "memory_total_mb", "gpus", "gpu_models":
//  [{"vendor", "name"}], "npus", "power", "location", "lease": {"cpus",
//  "gpus", "npus", "memory_mb"}}; load {"load1" (a number like 0.52),
//  "memory_free_mb", "battery_percent" (-1: none)}; both {"capacity",
//  "load"}.
json_t *
    osmose_resources_capacity_json (const osmose_resources_capacity_t *capacity);
json_t *
    osmose_resources_load_json (const osmose_resources_load_t *load);
json_t *
    osmose_resources_json (const osmose_resources_t *self);

//  Parse a peer's advert. Unknown keys are ignored (newer peers may add
//  some); missing, mistyped or out-of-range known keys, over-long or
//  non-printable strings and invalid locations give OSMOSE_EPROTO and
//  leave *result zeroed. Returns 0 on success.
int OSMOSE_CHECK
    osmose_resources_capacity_from_json (json_t *json,
                                         osmose_resources_capacity_t *capacity);
int OSMOSE_CHECK
    osmose_resources_load_from_json (json_t *json, osmose_resources_load_t *load);
int OSMOSE_CHECK
    osmose_resources_from_json (json_t *json, osmose_resources_t *self);

//  The fast figures as a pulse: 10 bytes that ride every membership
//  message (version:u8 load1:u32 memory_free_mb:u32 battery:i8, big-endian;
//  memory above 2^32-1 MB is told as that). Reading refuses another size,
//  version or out-of-range figure with OSMOSE_EPROTO.
#define OSMOSE_RESOURCES_PULSE_SIZE 10
void
    osmose_resources_pulse (const osmose_resources_load_t *load, uint8_t *pulse);
int OSMOSE_CHECK
    osmose_resources_pulse_read (const uint8_t *pulse, size_t size,
                                 osmose_resources_load_t *load);

//  Names for power sources and GPU vendors ("wall", "battery", "unknown";
//  "nvidia", "amd", "intel", "other"), and back (-1 when unknown).
const char *
    osmose_resources_power_name (osmose_power_t power);
int
    osmose_resources_power_from_name (const char *name);
const char *
    osmose_resources_vendor_name (osmose_gpu_vendor_t vendor);
int
    osmose_resources_vendor_from_name (const char *name);

void
    osmose_resources_test (bool verbose);
void
    osmose_resources_json_test (bool verbose);

#endif
