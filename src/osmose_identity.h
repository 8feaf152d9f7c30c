/*  osmose_identity.h: who this peer (or user) is.

    One Ed25519 key pair is the identity: it signs the peer's log, and
    libsodium converts it to the Curve25519 pair CurveZMQ uses, so the
    transport key and the signing key are the same identity. The peer id is
    derived from the public key. The secret lives in sodium_malloc'd memory
    and is wiped on destroy; on disk it is a 0600 file in the state dir.
*/
#ifndef OSMOSE_IDENTITY_H_INCLUDED
#define OSMOSE_IDENTITY_H_INCLUDED

#define OSMOSE_ID_SIZE 16               //  hex characters in a peer id
#define OSMOSE_KEY_SIZE 32              //  Ed25519 public key bytes
#define OSMOSE_SIG_SIZE 64              //  Ed25519 signature bytes

typedef struct _osmose_identity_t osmose_identity_t;

//  Load the identity kept in DIR (files node.key and node.pub). When none
//  exists and CREATE is true, make one (0600). A damaged key file is an
//  error (OSMOSE_ECORRUPT), never silently replaced: the identity is who we
//  are to the mesh. Caller owns *self_p.
int OSMOSE_CHECK
    osmose_identity_load (const char *dir, bool create, osmose_identity_t **self_p);

//  A fresh identity kept only in memory (tests, ephemeral clients).
osmose_identity_t *
    osmose_identity_new (void);

void
    osmose_identity_destroy (osmose_identity_t **self_p);

//  The 32-byte Ed25519 public key.
const uint8_t *
    osmose_identity_public (osmose_identity_t *self);

//  The peer id: first 8 bytes of BLAKE2b(public key), as 16 hex chars.
const char *
    osmose_identity_id (osmose_identity_t *self);

//  Compute the id of any public key into ID (OSMOSE_ID_SIZE + 1 bytes).
void
    osmose_identity_id_of (const uint8_t *public_key, char *id);

//  Sign SIZE bytes of DATA into SIGNATURE (OSMOSE_SIG_SIZE bytes).
void
    osmose_identity_sign (osmose_identity_t *self, const uint8_t *data,
                          size_t size, uint8_t *signature);

//  Verify a signature by PUBLIC_KEY; 0 or OSMOSE_EVERIFY.
int OSMOSE_CHECK
    osmose_identity_verify (const uint8_t *public_key, const uint8_t *data,
                            size_t size, const uint8_t *signature);

//  A CurveZMQ certificate with the Curve25519 form of this identity.
//  Caller owns it.
zcert_t *
    osmose_identity_cert (osmose_identity_t *self);

//  Z85 text of the Curve25519 public key that PUBLIC_KEY (Ed25519) maps to,
//  into Z85 (41 bytes); what zauth sees as a peer's User-Id. 0 or EINVAL.
int OSMOSE_CHECK
    osmose_identity_curve_z85 (const uint8_t *public_key, char *z85);

void
    osmose_identity_test (bool verbose);

#endif
