/*  osmose_trust.h: the trust store, the keys this peer accepts.

    Enrolled devices, users and admins, by Ed25519 public key. The transport
    admits a connection only when its CurveZMQ key (the Curve25519 form of
    an enrolled Ed25519 key) is here. Kept as a small text file in the state
    directory, one "KEYHEX ROLE NAME" line per key, rewritten atomically.
*/
#ifndef OSMOSE_TRUST_H_INCLUDED
#define OSMOSE_TRUST_H_INCLUDED

#include <jansson.h>
#include "osmose_identity.h"

typedef enum {
    OSMOSE_TRUST_DEVICE = 1,    //  a peer device
    OSMOSE_TRUST_USER = 2,      //  a person's key, for their programs
    OSMOSE_TRUST_ADMIN = 3      //  may enrol others
} osmose_trust_role_t;

#define OSMOSE_TRUST_NAME_MAX 63

typedef struct {
    uint8_t key [OSMOSE_KEY_SIZE];      //  Ed25519 public key
    char id [OSMOSE_ID_SIZE + 1];       //  peer id derived from key
    char z85 [41];                      //  its CurveZMQ public key, Z85
    osmose_trust_role_t role;
    char name [OSMOSE_TRUST_NAME_MAX + 1];
} osmose_trust_entry_t;

typedef struct _osmose_trust_t osmose_trust_t;

//  Open the store at PATH (a missing file is an empty store). A damaged
//  file is an error, OSMOSE_ECORRUPT, and ERROR names the line.
int OSMOSE_CHECK
    osmose_trust_load (const char *path, osmose_trust_t **self_p,
                       char *error, size_t error_size);

void
    osmose_trust_destroy (osmose_trust_t **self_p);

//  Enrol KEY; saves the file before returning. OSMOSE_EEXIST when the key
//  is already there with the same role, else 0 (a new role replaces).
int OSMOSE_CHECK
    osmose_trust_add (osmose_trust_t *self, const uint8_t *key,
                      osmose_trust_role_t role, const char *name);

//  Remove the key whose id or hex key is WHO; saves. 0 or ENOTFOUND.
//  On success the removed entry is copied to *removed when not NULL.
int OSMOSE_CHECK
    osmose_trust_remove (osmose_trust_t *self, const char *who,
                         osmose_trust_entry_t *removed);

//  Look up by peer id, or by CurveZMQ key (Z85). NULL when not trusted.
const osmose_trust_entry_t *
    osmose_trust_lookup (osmose_trust_t *self, const char *id);
const osmose_trust_entry_t *
    osmose_trust_lookup_z85 (osmose_trust_t *self, const char *z85);

//  Number of keys and the Nth entry (0-based), for iteration.
size_t
    osmose_trust_size (osmose_trust_t *self);
const osmose_trust_entry_t *
    osmose_trust_at (osmose_trust_t *self, size_t index);

//  Parse a key as 64 hex characters, or the contents of a node.pub file.
int OSMOSE_CHECK
    osmose_trust_parse_key (const char *text, uint8_t *key);

//  Role to and from words: "device", "user", "admin".
const char *
    osmose_trust_role_name (osmose_trust_role_t role);
int
    osmose_trust_role_parse (const char *name);

//  The store as a JSON array of {id, key, role, name}. Caller owns.
json_t *
    osmose_trust_json (osmose_trust_t *self);

void
    osmose_trust_test (bool verbose);

#endif
