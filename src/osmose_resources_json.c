/*  osmose_resources_json.c: the JSON forms of resource adverts (see
    osmose_resources.h).

    An advert arrives from a peer, so parsing checks the type, range and
    length of every field it reads and never asserts on the input. Unknown
    keys are ignored so a newer peer may add figures.
*/
#include "osmose_prelude.h"
#include "osmose_resources.h"
#include <math.h>

static const char *s_power_names [] = { "unknown", "wall", "battery" };
static const char *s_vendor_names [] = { "other", "nvidia", "amd", "intel" };

const char *
osmose_resources_power_name (osmose_power_t power)
{
    return power >= OSMOSE_POWER_UNKNOWN && power <= OSMOSE_POWER_BATTERY?
        s_power_names [power]: "unknown";
}

int
osmose_resources_power_from_name (const char *name)
{
    for (int index = 0; name && index < 3; index++)
        if (streq (name, s_power_names [index]))
            return index;
    return -1;
}

const char *
osmose_resources_vendor_name (osmose_gpu_vendor_t vendor)
{
    return vendor >= OSMOSE_GPU_OTHER && vendor <= OSMOSE_GPU_INTEL?
        s_vendor_names [vendor]: "other";
}

int
osmose_resources_vendor_from_name (const char *name)
{
    for (int index = 0; name && index < 4; index++)
        if (streq (name, s_vendor_names [index]))
            return index;
    return -1;
}

json_t *
osmose_resources_capacity_json (const osmose_resources_capacity_t *capacity)
{
    assert (capacity);
    json_t *gpus = json_array ();
    if (!gpus)
        return NULL;
    for (int index = 0; index < capacity->gpu_models && index < OSMOSE_RESOURCES_MAX_GPUS; index++)
        json_array_append_new (gpus, json_pack ("{s:s, s:s}",
            "vendor", osmose_resources_vendor_name (capacity->gpu [index].vendor),
            "name", capacity->gpu [index].name));
    return json_pack ("{s:i, s:s, s:I, s:i, s:o, s:i, s:s, s:s, s:{s:i, s:i, s:i, s:I}}",
        "cpus", capacity->cpus,
        "cpu_model", capacity->cpu_model,
        "memory_total_mb", (json_int_t) capacity->memory_total_mb,
        "gpus", capacity->gpus,
        "gpu_models", gpus,
        "npus", capacity->npus,
        "power", osmose_resources_power_name (capacity->power),
        "location", capacity->location,
        "lease",
            "cpus", capacity->lease_cpus,
            "gpus", capacity->lease_gpus,
            "npus", capacity->lease_npus,
            "memory_mb", (json_int_t) capacity->lease_memory_mb);
}

json_t *
osmose_resources_load_json (const osmose_resources_load_t *load)
{
    assert (load);
    return json_pack ("{s:f, s:I, s:i}",
        "load1", load->load1 / 100.0,
        "memory_free_mb", (json_int_t) load->memory_free_mb,
        "battery_percent", load->battery_percent);
}

json_t *
osmose_resources_json (const osmose_resources_t *self)
{
    assert (self);
    return json_pack ("{s:o, s:o}",
        "capacity", osmose_resources_capacity_json (&self->capacity),
        "load", osmose_resources_load_json (&self->load));
}

//  An integer field KEY of OBJECT within [MIN, MAX]
static bool
s_int (json_t *object, const char *key, int64_t min, int64_t max, int64_t *value_p)
{
    json_t *value = json_object_get (object, key);
    if (!json_is_integer (value))
        return false;
    json_int_t number = json_integer_value (value);
    if (number < min || number > max)
        return false;
    *value_p = number;
    return true;
}

static bool
s_int32 (json_t *object, const char *key, int min, int max, int *value_p)
{
    int64_t number;
    if (!s_int (object, key, min, max, &number))
        return false;
    *value_p = (int) number;
    return true;
}

//  A string field of printable ASCII, copied into TARGET of SIZE bytes;
//  one that does not fit is refused, not cut
static bool
s_string (json_t *object, const char *key, char *target, size_t size)
{
    json_t *value = json_object_get (object, key);
    if (!json_is_string (value))
        return false;
    const char *text = json_string_value (value);
    size_t length = json_string_length (value);
    if (length >= size)
        return false;
    //  Printable ASCII only; this also refuses an embedded NUL
    for (size_t index = 0; index < length; index++)
        if ((unsigned char) text [index] < 0x20 || (unsigned char) text [index] >= 0x7f)
            return false;
    memcpy (target, text, length + 1);
    return true;
}

static int
s_capacity_parse (json_t *json, osmose_resources_capacity_t *capacity)
{
    if (!json_is_object (json))
        return OSMOSE_EPROTO;
    char power [16];
    json_t *lease = json_object_get (json, "lease");
    if (!s_int32 (json, "cpus", 0, OSMOSE_RESOURCES_MAX_CPUS, &capacity->cpus)
    ||  !s_string (json, "cpu_model", capacity->cpu_model, sizeof (capacity->cpu_model))
    ||  !s_int (json, "memory_total_mb", 0, OSMOSE_RESOURCES_MAX_MEMORY_MB,
                &capacity->memory_total_mb)
    ||  !s_int32 (json, "gpus", 0, OSMOSE_RESOURCES_MAX_DEVICES, &capacity->gpus)
    ||  !s_int32 (json, "npus", 0, OSMOSE_RESOURCES_MAX_DEVICES, &capacity->npus)
    ||  !s_string (json, "power", power, sizeof (power))
    ||  !s_string (json, "location", capacity->location, sizeof (capacity->location))
    ||  !json_is_object (lease)
    ||  !s_int32 (lease, "cpus", 0, capacity->cpus, &capacity->lease_cpus)
    ||  !s_int32 (lease, "gpus", 0, capacity->gpus, &capacity->lease_gpus)
    ||  !s_int32 (lease, "npus", 0, capacity->npus, &capacity->lease_npus)
    ||  !s_int (lease, "memory_mb", 0, capacity->memory_total_mb, &capacity->lease_memory_mb))
        return OSMOSE_EPROTO;
    int power_index = osmose_resources_power_from_name (power);
    if (power_index < 0 || !osmose_location_valid (capacity->location))
        return OSMOSE_EPROTO;
    capacity->power = (osmose_power_t) power_index;

    json_t *gpus = json_object_get (json, "gpu_models");
    if (!json_is_array (gpus) || json_array_size (gpus) > OSMOSE_RESOURCES_MAX_GPUS
    ||  json_array_size (gpus) > (size_t) capacity->gpus)
        return OSMOSE_EPROTO;
    size_t index;
    json_t *gpu;
    json_array_foreach (gpus, index, gpu) {
        char vendor [16];
        if (!json_is_object (gpu)
        ||  !s_string (gpu, "vendor", vendor, sizeof (vendor))
        ||  !s_string (gpu, "name", capacity->gpu [index].name, sizeof (capacity->gpu [index].name)))
            return OSMOSE_EPROTO;
        int vendor_index = osmose_resources_vendor_from_name (vendor);
        if (vendor_index < 0)
            return OSMOSE_EPROTO;
        capacity->gpu [index].vendor = (osmose_gpu_vendor_t) vendor_index;
    }
    capacity->gpu_models = (int) json_array_size (gpus);
    return 0;
}

int
osmose_resources_capacity_from_json (json_t *json, osmose_resources_capacity_t *capacity)
{
    if (!capacity)
        return OSMOSE_EINVAL;
    memset (capacity, 0, sizeof (*capacity));
    int rc = s_capacity_parse (json, capacity);
    if (rc)
        memset (capacity, 0, sizeof (*capacity));
    return rc;
}

int
osmose_resources_load_from_json (json_t *json, osmose_resources_load_t *load)
{
    if (!load)
        return OSMOSE_EINVAL;
    memset (load, 0, sizeof (*load));
    json_t *load1 = json_object_get (json, "load1");
    double value = json_number_value (load1);
    if (!json_is_object (json) || !json_is_number (load1) || !isfinite (value)
    ||  value < 0 || value * 100 > OSMOSE_RESOURCES_MAX_LOAD
    ||  !s_int (json, "memory_free_mb", 0, OSMOSE_RESOURCES_MAX_MEMORY_MB,
                &load->memory_free_mb)
    ||  !s_int32 (json, "battery_percent", -1, 100, &load->battery_percent)) {
        memset (load, 0, sizeof (*load));
        return OSMOSE_EPROTO;
    }
    load->load1 = (int) lround (value * 100);
    return 0;
}

int
osmose_resources_from_json (json_t *json, osmose_resources_t *self)
{
    if (!self)
        return OSMOSE_EINVAL;
    int rc = osmose_resources_capacity_from_json (json_object_get (json, "capacity"),
                                                  &self->capacity);
    if (rc == 0)
        rc = osmose_resources_load_from_json (json_object_get (json, "load"), &self->load);
    if (rc)
        memset (self, 0, sizeof (*self));
    return rc;
}

//  --------------------------------------------------------------------------
//  Self-test

//  Parse TEXT as a capacity advert; returns the parser's code
static int
s_parse_capacity (const char *text)
{
    json_t *json = json_loads (text, 0, NULL);
    assert (json);
    osmose_resources_capacity_t capacity;
    int rc = osmose_resources_capacity_from_json (json, &capacity);
    json_decref (json);
    return rc;
}

void
osmose_resources_pulse (const osmose_resources_load_t *load, uint8_t *pulse)
{
    uint32_t load1 = load->load1 < 0? 0: (uint32_t) load->load1;
    uint32_t memory = load->memory_free_mb < 0? 0:
        load->memory_free_mb > UINT32_MAX? UINT32_MAX: (uint32_t) load->memory_free_mb;
    pulse [0] = 1;
    for (int byte = 0; byte < 4; byte++) {
        pulse [1 + byte] = (uint8_t) (load1 >> (24 - 8 * byte));
        pulse [5 + byte] = (uint8_t) (memory >> (24 - 8 * byte));
    }
    pulse [9] = (uint8_t) (int8_t) load->battery_percent;
}

int
osmose_resources_pulse_read (const uint8_t *pulse, size_t size, osmose_resources_load_t *load)
{
    if (!pulse || size != OSMOSE_RESOURCES_PULSE_SIZE || pulse [0] != 1)
        return OSMOSE_EPROTO;
    uint32_t load1 = 0, memory = 0;
    for (int byte = 0; byte < 4; byte++) {
        load1 = (load1 << 8) | pulse [1 + byte];
        memory = (memory << 8) | pulse [5 + byte];
    }
    int battery = (int8_t) pulse [9];
    if (load1 > OSMOSE_RESOURCES_MAX_LOAD || battery < -1 || battery > 100)
        return OSMOSE_EPROTO;
    load->load1 = (int) load1;
    load->memory_free_mb = memory;
    load->battery_percent = battery;
    return 0;
}

void
osmose_resources_json_test (bool verbose)
{
    printf (" * osmose_resources_json: ");
    osmose_resources_t res;
    memset (&res, 0, sizeof (res));
    res.capacity.cpus = 8;
    strcpy (res.capacity.cpu_model, "Test CPU @ 1GHz");
    res.capacity.memory_total_mb = 32000;
    res.capacity.gpus = 3;
    res.capacity.gpu_models = 2;
    res.capacity.gpu [0].vendor = OSMOSE_GPU_NVIDIA;
    strcpy (res.capacity.gpu [0].name, "NVIDIA H100");
    res.capacity.gpu [1].vendor = OSMOSE_GPU_AMD;
    strcpy (res.capacity.gpu [1].name, "AMD GPU 73bf");
    res.capacity.npus = 1;
    res.capacity.power = OSMOSE_POWER_BATTERY;
    strcpy (res.capacity.location, "hq/f1/r3");
    res.capacity.lease_cpus = 4;
    res.capacity.lease_gpus = 3;
    res.capacity.lease_npus = 0;
    res.capacity.lease_memory_mb = 16000;
    res.load.load1 = 157;
    res.load.memory_free_mb = 12345;
    res.load.battery_percent = 15;

    //  Round trip
    json_t *json = osmose_resources_json (&res);
    assert (json);
    char *text = json_dumps (json, JSON_COMPACT | JSON_SORT_KEYS);
    if (verbose)
        printf ("\n%s\n", text);
    osmose_resources_t back;
    assert (osmose_resources_from_json (json, &back) == 0);
    assert (!osmose_resources_capacity_changed (&res.capacity, &back.capacity));
    assert (back.load.load1 == 157 && back.load.memory_free_mb == 12345);
    assert (back.load.battery_percent == 15);
    assert (back.capacity.gpu [1].vendor == OSMOSE_GPU_AMD);
    assert (json_real_value (json_object_get (json_object_get (json, "load"), "load1")) == 1.57);
    assert (streq (json_string_value (json_object_get (json_object_get (json, "capacity"), "power")),
                   "battery"));
    json_decref (json);

    //  The pulse carries the same fast figures; damage is refused
    uint8_t pulse [OSMOSE_RESOURCES_PULSE_SIZE];
    osmose_resources_pulse (&res.load, pulse);
    osmose_resources_load_t heard;
    assert (osmose_resources_pulse_read (pulse, sizeof (pulse), &heard) == 0);
    assert (heard.load1 == 157 && heard.memory_free_mb == 12345 && heard.battery_percent == 15);
    assert (osmose_resources_pulse_read (pulse, sizeof (pulse) - 1, &heard) == OSMOSE_EPROTO);
    osmose_resources_load_t huge = { OSMOSE_RESOURCES_MAX_LOAD, INT64_C (1) << 40, -1 };
    osmose_resources_pulse (&huge, pulse);
    assert (osmose_resources_pulse_read (pulse, sizeof (pulse), &heard) == 0);
    assert (heard.load1 == OSMOSE_RESOURCES_MAX_LOAD && heard.memory_free_mb == UINT32_MAX
            && heard.battery_percent == -1);
    pulse [9] = 101;
    assert (osmose_resources_pulse_read (pulse, sizeof (pulse), &heard) == OSMOSE_EPROTO);
    pulse [9] = 0;
    pulse [1] = 0xFF;
    assert (osmose_resources_pulse_read (pulse, sizeof (pulse), &heard) == OSMOSE_EPROTO);
    pulse [1] = 0;
    pulse [0] = 2;
    assert (osmose_resources_pulse_read (pulse, sizeof (pulse), &heard) == OSMOSE_EPROTO);

    //  Mutations of a valid advert: each must be refused
    json_t *valid = json_loads (text, 0, NULL);
    assert (valid);
    free (text);
    char *capacity_text = json_dumps (json_object_get (valid, "capacity"), JSON_COMPACT);
    assert (s_parse_capacity (capacity_text) == 0);
    free (capacity_text);
    static const struct {
        const char *key;
        const char *value;      //  JSON text, NULL to delete the key
    } bad [] = {
        { "cpus", "-1" }, { "cpus", "65537" }, { "cpus", "\"8\"" }, { "cpus", "8.5" },
        { "cpus", NULL }, { "cpus", "2" },             //  below lease cpus 4
        { "memory_total_mb", "1000000000001" }, { "memory_total_mb", "null" },
        { "gpus", "1" },                                //  fewer than the models
        { "gpus", "1025" }, { "npus", "-2" },
        { "power", "\"solar\"" }, { "power", "3" },
        { "location", "\"hq//r3\"" }, { "location", "\"/etc/passwd\"" },
        { "location", NULL },
        { "cpu_model", "\"bell\\u0007\"" }, { "cpu_model", "\"nul\\u0000byte\"" },
        { "cpu_model", "\"caf\\u00e9\"" },
        { "gpu_models", "{}" },
        { "gpu_models", "[{\"vendor\": \"nvidia\"}]" },
        { "gpu_models", "[{\"vendor\": \"acme\", \"name\": \"x\"}]" },
        { "gpu_models", "[1]" },
        { "lease", "{\"cpus\": 4, \"gpus\": 3, \"npus\": 2, \"memory_mb\": 1}" },
        { "lease", "{\"cpus\": 4, \"gpus\": 3, \"npus\": 0}" },
        { "lease", "[]" },
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        json_t *capacity = json_deep_copy (json_object_get (valid, "capacity"));
        if (bad [index].value) {
            json_t *value = json_loads (bad [index].value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            assert (value);
            json_object_set_new (capacity, bad [index].key, value);
        }
        else
            json_object_del (capacity, bad [index].key);
        osmose_resources_capacity_t parsed;
        int rc = osmose_resources_capacity_from_json (capacity, &parsed);
        if (verbose && rc != OSMOSE_EPROTO)
            printf ("\naccepted %s = %s\n", bad [index].key, bad [index].value);
        assert (rc == OSMOSE_EPROTO);
        assert (parsed.cpus == 0 && parsed.cpu_model [0] == '\0');
        json_decref (capacity);
    }
    //  Over-long strings: a model of NAME_MAX bytes does not fit
    char long_name [OSMOSE_RESOURCES_NAME_MAX + 1];
    memset (long_name, 'x', OSMOSE_RESOURCES_NAME_MAX);
    long_name [OSMOSE_RESOURCES_NAME_MAX] = '\0';
    json_t *capacity = json_deep_copy (json_object_get (valid, "capacity"));
    json_object_set_new (capacity, "cpu_model", json_string (long_name));
    osmose_resources_capacity_t parsed;
    assert (osmose_resources_capacity_from_json (capacity, &parsed) == OSMOSE_EPROTO);
    long_name [OSMOSE_RESOURCES_NAME_MAX - 1] = '\0';
    json_object_set_new (capacity, "cpu_model", json_string (long_name));
    assert (osmose_resources_capacity_from_json (capacity, &parsed) == 0);
    //  Too many GPU models
    json_t *models = json_array ();
    for (int index = 0; index <= OSMOSE_RESOURCES_MAX_GPUS; index++)
        json_array_append_new (models, json_pack ("{s:s, s:s}", "vendor", "amd", "name", "x"));
    json_object_set_new (capacity, "gpus", json_integer (100));
    json_object_set_new (capacity, "gpu_models", models);
    assert (osmose_resources_capacity_from_json (capacity, &parsed) == OSMOSE_EPROTO);
    json_array_remove (models, 0);
    assert (osmose_resources_capacity_from_json (capacity, &parsed) == 0);
    assert (parsed.gpus == 100 && parsed.gpu_models == OSMOSE_RESOURCES_MAX_GPUS);
    //  Unknown keys are ignored
    json_object_set_new (capacity, "tpus", json_integer (4));
    assert (osmose_resources_capacity_from_json (capacity, &parsed) == 0);
    json_decref (capacity);

    //  Non-objects
    assert (s_parse_capacity ("[]") == OSMOSE_EPROTO);
    assert (s_parse_capacity ("{}") == OSMOSE_EPROTO);
    json_t *number = json_integer (1);
    assert (osmose_resources_capacity_from_json (number, &parsed) == OSMOSE_EPROTO);
    assert (osmose_resources_capacity_from_json (NULL, &parsed) == OSMOSE_EPROTO);
    assert (osmose_resources_capacity_from_json (number, NULL) == OSMOSE_EINVAL);
    osmose_resources_t whole;
    assert (osmose_resources_from_json (number, &whole) == OSMOSE_EPROTO);
    json_decref (number);

    //  Load adverts
    static const struct {
        const char *text;
        int rc;
        int load1;
    } loads [] = {
        { "{\"load1\": 0.52, \"memory_free_mb\": 10, \"battery_percent\": -1}", 0, 52 },
        { "{\"load1\": 3, \"memory_free_mb\": 0, \"battery_percent\": 100}", 0, 300 },
        { "{\"load1\": -0.1, \"memory_free_mb\": 10, \"battery_percent\": 5}", OSMOSE_EPROTO, 0 },
        { "{\"load1\": 1e300, \"memory_free_mb\": 10, \"battery_percent\": 5}", OSMOSE_EPROTO, 0 },
        { "{\"load1\": \"1\", \"memory_free_mb\": 10, \"battery_percent\": 5}", OSMOSE_EPROTO, 0 },
        { "{\"load1\": 1, \"memory_free_mb\": -1, \"battery_percent\": 5}", OSMOSE_EPROTO, 0 },
        { "{\"load1\": 1, \"memory_free_mb\": 1, \"battery_percent\": 101}", OSMOSE_EPROTO, 0 },
        { "{\"load1\": 1, \"memory_free_mb\": 1, \"battery_percent\": -2}", OSMOSE_EPROTO, 0 },
        { "{\"load1\": 1, \"memory_free_mb\": 1}", OSMOSE_EPROTO, 0 },
        { "[1, 2]", OSMOSE_EPROTO, 0 },
    };
    for (size_t index = 0; index < sizeof (loads) / sizeof (loads [0]); index++) {
        json_t *load_json = json_loads (loads [index].text, JSON_DECODE_ANY, NULL);
        assert (load_json);
        osmose_resources_load_t load;
        assert (osmose_resources_load_from_json (load_json, &load) == loads [index].rc);
        assert (load.load1 == loads [index].load1);
        json_decref (load_json);
    }
    //  Random damage (bounded, reproducible): any value in any field gives
    //  0 or OSMOSE_EPROTO, and what is accepted serialises back the same
    static const char *values [] = {
        "0", "-1", "1", "7", "4", "65536", "1e3", "2.5", "null", "true", "\"\"",
        "\"wall\"", "\"battery\"", "\"a/b\"", "\"a b\"", "[]", "{}", "[{}]",
        "[{\"vendor\": \"intel\", \"name\": \"i\"}]", "9223372036854775807",
        "{\"cpus\": 1, \"gpus\": 0, \"npus\": 0, \"memory_mb\": 0}",
    };
    static const char *keys [] = {
        "cpus", "cpu_model", "memory_total_mb", "gpus", "gpu_models", "npus",
        "power", "location", "lease"
    };
    const size_t value_count = sizeof (values) / sizeof (values [0]);
    uint32_t seed = 12345;
    int accepted = 0;
    for (int round = 0; round < 2000; round++) {
        json_t *damaged = json_deep_copy (json_object_get (valid, "capacity"));
        for (int change = 0; change < 2; change++) {
            seed = seed * 1103515245 + 12345;
            const char *key = keys [(seed >> 8) % (sizeof (keys) / sizeof (keys [0]))];
            const char *value = values [(seed >> 16) % value_count];
            json_object_set_new (damaged, key, json_loads (value, JSON_DECODE_ANY, NULL));
        }
        int rc = osmose_resources_capacity_from_json (damaged, &parsed);
        assert (rc == 0 || rc == OSMOSE_EPROTO);
        if (rc == 0) {
            accepted++;
            json_t *again = osmose_resources_capacity_json (&parsed);
            osmose_resources_capacity_t reparsed;
            assert (osmose_resources_capacity_from_json (again, &reparsed) == 0);
            assert (!osmose_resources_capacity_changed (&parsed, &reparsed));
            json_decref (again);
        }
        json_decref (damaged);
    }
    assert (accepted > 0 && accepted < 2000);
    json_decref (valid);
    printf ("OK\n");
}
