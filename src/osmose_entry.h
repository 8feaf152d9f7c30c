/*  osmose_entry.h: one record of a feed, and its byte encoding.

    An entry is what a leaf hash covers: sequence number (its index in the
    feed), time, type, and either the payload inline or the BLAKE2b-256
    hash and size of a payload kept beside the tree (erasable, see
    osmose_store). The encoding is versioned, big-endian, with explicit
    lengths; the decoder checks every length against the bytes it has and
    against the limits below, so any byte string is safe to decode.
    Thread safety: pure functions.
*/
#ifndef OSMOSE_ENTRY_H_INCLUDED
#define OSMOSE_ENTRY_H_INCLUDED

#include "osmose_merkle.h"

#define OSMOSE_ENTRY_VERSION 1
#define OSMOSE_ENTRY_HEADER 24                  //  bytes before the payload
#define OSMOSE_ENTRY_INLINE_MAX 65536           //  inline payload bytes
#define OSMOSE_ENTRY_MAX (OSMOSE_ENTRY_HEADER + OSMOSE_ENTRY_INLINE_MAX)
#define OSMOSE_PAYLOAD_MAX (16 * 1024 * 1024)   //  external payload bytes
#define OSMOSE_ERASE_REASON_MAX 1024

//  Entry types. Values are stored: never renumber, only add. A decoder
//  accepts any value so old readers keep reading newer feeds.
typedef enum {
    OSMOSE_ENTRY_GENESIS = 1,           //  first entry: who the feed is
    OSMOSE_ENTRY_TRUST_ADD = 2,
    OSMOSE_ENTRY_TRUST_REMOVE = 3,
    OSMOSE_ENTRY_LEASE_GRANT = 4,
    OSMOSE_ENTRY_LEASE_RENEW_FAIL = 5,
    OSMOSE_ENTRY_LEASE_EXPIRE = 6,
    OSMOSE_ENTRY_LEASE_RELEASE = 7,
    OSMOSE_ENTRY_TASK_SUBMIT = 8,
    OSMOSE_ENTRY_TASK_DONE = 9,
    OSMOSE_ENTRY_MIGRATE = 10,
    OSMOSE_ENTRY_MOVE = 11,
    OSMOSE_ENTRY_POLICY = 12,
    OSMOSE_ENTRY_RESOURCES = 13,
    OSMOSE_ENTRY_ERASE = 14,            //  payload: see osmose_entry_erase_*
    OSMOSE_ENTRY_FORK_PROOF = 15,       //  payload: an encoded osmose_fork_t
    OSMOSE_ENTRY_EVENT = 16
} osmose_entry_type_t;

typedef struct {
    uint64_t seq;                       //  index in the feed
    uint64_t time_us;                   //  writer's wall clock, microseconds
    uint16_t type;                      //  osmose_entry_type_t or newer
    bool external;                      //  payload beside the tree
    uint32_t payload_size;
    const uint8_t *payload;             //  inline bytes (borrowed), else NULL
    uint8_t payload_hash [OSMOSE_HASH_SIZE];    //  when external
} osmose_entry_t;

//  Bytes ENTRY encodes to.
size_t
    osmose_entry_encoded_size (const osmose_entry_t *entry);

//  Encode into BUFFER of MAX bytes; *SIZE_P gets the length.
//  0, OSMOSE_ETOOBIG (payload over the limits or buffer too small).
int OSMOSE_WARN_UNUSED
    osmose_entry_encode (const osmose_entry_t *entry, uint8_t *buffer, size_t max,
                         size_t *size_p);

//  Decode exactly SIZE bytes; entry->payload then points into DATA.
//  0, OSMOSE_ECORRUPT (malformed, unknown version or flags, lengths that
//  do not match) or OSMOSE_ETOOBIG (a length over the limits).
int OSMOSE_WARN_UNUSED
    osmose_entry_decode (const uint8_t *data, size_t size, osmose_entry_t *entry);

//  "LEASE_GRANT" etc., or "TYPE_<n>" for types this build does not know
//  (in a static buffer: not thread safe for unknown types).
const char *
    osmose_entry_type_name (uint16_t type);

//  Parse a type name (case-insensitive) or a number; -1 if unknown.
int
    osmose_entry_type_parse (const char *name);

//  The payload of an ERASE entry: the erased entry's index and a reason.
//  Encode into BUFFER (8 + OSMOSE_ERASE_REASON_MAX bytes); returns size,
//  or OSMOSE_ETOOBIG for a reason over the limit.
int
    osmose_entry_erase_encode (uint64_t target, const char *reason, uint8_t *buffer);

//  Decode an ERASE payload; REASON gets a NUL-terminated copy
//  (OSMOSE_ERASE_REASON_MAX + 1 bytes). 0 or OSMOSE_ECORRUPT.
int OSMOSE_WARN_UNUSED
    osmose_entry_erase_decode (const uint8_t *data, size_t size, uint64_t *target,
                               char *reason);

void
    osmose_entry_test (bool verbose);

#endif
