/*  osmose_entry.c: entry encoding (see header).
    Layout, big-endian: version u8, flags u8 (bit 0: external payload),
    type u16, seq u64, time_us u64, payload_size u32, then the payload
    (inline) or its 32-byte hash (external).
*/
#include "osmose_prelude.h"
#include "osmose_entry.h"
#include "osmose_wire.h"

//  Big-endian fields, through the one set of helpers
#define s_get32(buffer) ((uint32_t) osmose_wire_be_get ((buffer), 4))
#define s_get64(buffer) osmose_wire_be_get ((buffer), 8)
#define s_put16(buffer, value) osmose_wire_be_put ((buffer), (value), 2)
#define s_put32(buffer, value) osmose_wire_be_put ((buffer), (value), 4)
#define s_put64(buffer, value) osmose_wire_be_put ((buffer), (value), 8)

#define S_FLAG_EXTERNAL 0x01

static const char *s_type_names [] = {
    NULL, "GENESIS", "TRUST_ADD", "TRUST_REMOVE", "LEASE_GRANT", "LEASE_RENEW_FAIL",
    "LEASE_EXPIRE", "LEASE_RELEASE", "TASK_SUBMIT", "TASK_DONE", "MIGRATE", "MOVE",
    "POLICY", "RESOURCES", "ERASE", "FORK_PROOF", "EVENT"
};
#define S_TYPES (sizeof (s_type_names) / sizeof (s_type_names [0]))

size_t
osmose_entry_encoded_size (const osmose_entry_t *entry)
{
    assert (entry);
    return OSMOSE_ENTRY_HEADER + (entry->external? OSMOSE_HASH_SIZE: entry->payload_size);
}

int
osmose_entry_encode (const osmose_entry_t *entry, uint8_t *buffer, size_t max, size_t *size_p)
{
    assert (entry && buffer && size_p);
    if ((entry->external && entry->payload_size > OSMOSE_PAYLOAD_MAX)
    ||  (!entry->external && entry->payload_size > OSMOSE_ENTRY_INLINE_MAX)
    ||  (!entry->external && entry->payload_size && !entry->payload))
        return OSMOSE_ETOOBIG;
    size_t size = osmose_entry_encoded_size (entry);
    if (size > max)
        return OSMOSE_ETOOBIG;
    buffer [0] = OSMOSE_ENTRY_VERSION;
    buffer [1] = entry->external? S_FLAG_EXTERNAL: 0;
    s_put16 (buffer + 2, entry->type);
    s_put64 (buffer + 4, entry->seq);
    s_put64 (buffer + 12, entry->time_us);
    s_put32 (buffer + 20, entry->payload_size);
    if (entry->external)
        memcpy (buffer + OSMOSE_ENTRY_HEADER, entry->payload_hash, OSMOSE_HASH_SIZE);
    else
    if (entry->payload_size)
        memcpy (buffer + OSMOSE_ENTRY_HEADER, entry->payload, entry->payload_size);
    *size_p = size;
    return 0;
}

int
osmose_entry_decode (const uint8_t *data, size_t size, osmose_entry_t *entry)
{
    assert (entry);
    memset (entry, 0, sizeof (*entry));
    if (!data || size < OSMOSE_ENTRY_HEADER || data [0] != OSMOSE_ENTRY_VERSION
    ||  (data [1] & ~S_FLAG_EXTERNAL))
        return OSMOSE_ECORRUPT;
    entry->external = (data [1] & S_FLAG_EXTERNAL) != 0;
    entry->type = (uint16_t) ((data [2] << 8) | data [3]);
    entry->seq = s_get64 (data + 4);
    entry->time_us = s_get64 (data + 12);
    entry->payload_size = s_get32 (data + 20);
    if (entry->external) {
        if (entry->payload_size > OSMOSE_PAYLOAD_MAX)
            return OSMOSE_ETOOBIG;
        if (size != OSMOSE_ENTRY_HEADER + OSMOSE_HASH_SIZE)
            return OSMOSE_ECORRUPT;
        memcpy (entry->payload_hash, data + OSMOSE_ENTRY_HEADER, OSMOSE_HASH_SIZE);
    }
    else {
        if (entry->payload_size > OSMOSE_ENTRY_INLINE_MAX)
            return OSMOSE_ETOOBIG;
        if (size != OSMOSE_ENTRY_HEADER + (size_t) entry->payload_size)
            return OSMOSE_ECORRUPT;
        entry->payload = entry->payload_size? data + OSMOSE_ENTRY_HEADER: NULL;
    }
    return 0;
}

const char *
osmose_entry_type_name (uint16_t type)
{
    if (type < S_TYPES && s_type_names [type])
        return s_type_names [type];
    static char name [16];
    snprintf (name, sizeof (name), "TYPE_%u", type);
    return name;
}

int
osmose_entry_type_parse (const char *name)
{
    if (!name || !*name)
        return -1;
    for (size_t type = 1; type < S_TYPES; type++)
        if (strcasecmp (name, s_type_names [type]) == 0)
            return (int) type;
    char *end;
    if (strncasecmp (name, "TYPE_", 5) == 0)
        name += 5;
    long value = strtol (name, &end, 10);
    if (*end || value < 0 || value > UINT16_MAX || end == name)
        return -1;
    return (int) value;
}

int
osmose_entry_erase_encode (uint64_t target, const char *reason, uint8_t *buffer)
{
    size_t length = reason? strlen (reason): 0;
    if (length > OSMOSE_ERASE_REASON_MAX)
        return OSMOSE_ETOOBIG;
    s_put64 (buffer, target);
    if (length)
        memcpy (buffer + 8, reason, length);
    return (int) (8 + length);
}

int
osmose_entry_erase_decode (const uint8_t *data, size_t size, uint64_t *target, char *reason)
{
    if (!data || size < 8 || size > 8 + OSMOSE_ERASE_REASON_MAX
    ||  memchr (data + 8, 0, size - 8))
        return OSMOSE_ECORRUPT;
    *target = s_get64 (data);
    memcpy (reason, data + 8, size - 8);
    reason [size - 8] = 0;
    return 0;
}

void
osmose_entry_test (bool verbose)
{
    printf (" * osmose_entry: ");
    uint8_t buffer [OSMOSE_ENTRY_MAX];
    size_t size;
    osmose_entry_t entry = { .seq = 7, .time_us = 1234567, .type = OSMOSE_ENTRY_EVENT,
                             .payload = (const uint8_t *) "hello", .payload_size = 5 };
    assert (osmose_entry_encode (&entry, buffer, sizeof (buffer), &size) == 0);
    assert (size == OSMOSE_ENTRY_HEADER + 5 && size == osmose_entry_encoded_size (&entry));
    osmose_entry_t decoded;
    assert (osmose_entry_decode (buffer, size, &decoded) == 0);
    assert (decoded.seq == 7 && decoded.time_us == 1234567 && decoded.type == OSMOSE_ENTRY_EVENT);
    assert (!decoded.external && decoded.payload_size == 5);
    assert (memcmp (decoded.payload, "hello", 5) == 0);
    //  Every truncation and every extension is refused
    for (size_t cut = 0; cut < size; cut++)
        assert (osmose_entry_decode (buffer, cut, &decoded) == OSMOSE_ECORRUPT);
    assert (osmose_entry_decode (buffer, size + 1, &decoded) == OSMOSE_ECORRUPT);
    //  Bad version, unknown flags
    buffer [0] = 2;
    assert (osmose_entry_decode (buffer, size, &decoded) == OSMOSE_ECORRUPT);
    buffer [0] = 1;
    buffer [1] = 0x80;
    assert (osmose_entry_decode (buffer, size, &decoded) == OSMOSE_ECORRUPT);
    buffer [1] = 0;
    //  A huge length field is refused before it is trusted
    buffer [20] = 0xff;
    assert (osmose_entry_decode (buffer, size, &decoded) == OSMOSE_ETOOBIG);
    buffer [20] = 0;
    assert (osmose_entry_decode (buffer, size, &decoded) == 0);

    //  External payload: hash and size, no bytes
    entry.external = true;
    entry.payload = NULL;
    entry.payload_size = 1000000;
    memset (entry.payload_hash, 0xab, OSMOSE_HASH_SIZE);
    assert (osmose_entry_encode (&entry, buffer, sizeof (buffer), &size) == 0);
    assert (size == OSMOSE_ENTRY_HEADER + OSMOSE_HASH_SIZE);
    assert (osmose_entry_decode (buffer, size, &decoded) == 0);
    assert (decoded.external && decoded.payload_size == 1000000 && !decoded.payload);
    assert (decoded.payload_hash [31] == 0xab);
    entry.payload_size = OSMOSE_PAYLOAD_MAX + 1;
    assert (osmose_entry_encode (&entry, buffer, sizeof (buffer), &size) == OSMOSE_ETOOBIG);
    entry.external = false;
    entry.payload_size = OSMOSE_ENTRY_INLINE_MAX + 1;
    entry.payload = buffer;
    assert (osmose_entry_encode (&entry, buffer, sizeof (buffer), &size) == OSMOSE_ETOOBIG);
    entry.payload_size = 10;
    assert (osmose_entry_encode (&entry, buffer, 20, &size) == OSMOSE_ETOOBIG);

    //  Type names
    assert (streq (osmose_entry_type_name (OSMOSE_ENTRY_LEASE_GRANT), "LEASE_GRANT"));
    assert (streq (osmose_entry_type_name (999), "TYPE_999"));
    assert (osmose_entry_type_parse ("erase") == OSMOSE_ENTRY_ERASE);
    assert (osmose_entry_type_parse ("TYPE_999") == 999);
    assert (osmose_entry_type_parse ("42") == 42);
    assert (osmose_entry_type_parse ("nonsense") == -1);
    assert (osmose_entry_type_parse ("70000") == -1);

    //  ERASE payloads
    uint8_t erase [8 + OSMOSE_ERASE_REASON_MAX];
    char reason [OSMOSE_ERASE_REASON_MAX + 1];
    uint64_t target;
    int length = osmose_entry_erase_encode (42, "GDPR request 7", erase);
    assert (length == 8 + 14);
    assert (osmose_entry_erase_decode (erase, length, &target, reason) == 0);
    assert (target == 42 && streq (reason, "GDPR request 7"));
    assert (osmose_entry_erase_decode (erase, 7, &target, reason) == OSMOSE_ECORRUPT);
    erase [10] = 0;
    assert (osmose_entry_erase_decode (erase, length, &target, reason) == OSMOSE_ECORRUPT);
    char long_reason [OSMOSE_ERASE_REASON_MAX + 2];
    memset (long_reason, 'x', sizeof (long_reason) - 1);
    long_reason [sizeof (long_reason) - 1] = 0;
    assert (osmose_entry_erase_encode (1, long_reason, erase) == OSMOSE_ETOOBIG);
    printf ("OK\n");
}
