/*  osmose_token.h: the lease token, a capability signed by a provider.

    When a provider grants a lease (osmose_market) it signs a token naming
    the lease id, its own key, the client's key, the resources and the
    expiry. The client's library presents the token on each work connection
    and the provider's work endpoint checks it with osmose_token_check
    before the first task (DESIGN.md, bidding step 4): the token proves the
    provider granted these resources to this client until this time, without
    a lookup. Renewals re-issue the token with a later expiry.

    Wire form, version 1 (all integers big-endian), OSMOSE_TOKEN_SIZE bytes:
        u8  version (1)          u8[16] lease id
        u8[32] provider key      u8[32] client key
        u32 cpus  u32 gpus  u32 npus  u64 memory_mb
        i64 issued_us            i64 expiry_us      (provider's wall clock)
        u8[64] Ed25519 signature by the provider over
               "osmose-token-v1" || every byte above
    The context prefix keeps a token signature from ever being valid as a
    log entry or STH signature by the same key, and vice versa.

    Thread safety: pure functions over the caller's data.
*/
#ifndef OSMOSE_TOKEN_H_INCLUDED
#define OSMOSE_TOKEN_H_INCLUDED

#include "osmose_identity.h"

#define OSMOSE_TOKEN_VERSION    1
#define OSMOSE_LEASE_ID_SIZE    16
#define OSMOSE_TOKEN_SIGNED     (1 + OSMOSE_LEASE_ID_SIZE + 2 * OSMOSE_KEY_SIZE + 3 * 4 + 3 * 8)
#define OSMOSE_TOKEN_SIZE       (OSMOSE_TOKEN_SIGNED + OSMOSE_SIG_SIZE)   //  181
//  Longest token any version may have: the limit codecs carrying tokens use
#define OSMOSE_TOKEN_MAX_SIZE   512

typedef struct {
    uint8_t version;
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    uint8_t provider_key [OSMOSE_KEY_SIZE];
    uint8_t client_key [OSMOSE_KEY_SIZE];
    int cpus;
    int gpus;
    int npus;
    int64_t memory_mb;
    int64_t issued_us;
    int64_t expiry_us;
    uint8_t signature [OSMOSE_SIG_SIZE];
} osmose_token_t;

//  Set TOKEN's version and provider key from PROVIDER and sign every other
//  field as it stands. The caller fills lease id, client key, resources and
//  times first.
void
    osmose_token_sign (osmose_token_t *token, osmose_identity_t *provider);

//  Verify TOKEN's signature by the provider key it names: 0 or
//  OSMOSE_EVERIFY. Says nothing about expiry or whom it is for.
int OSMOSE_CHECK
    osmose_token_verify (const osmose_token_t *token);

//  Write TOKEN into BUFFER of SIZE bytes. Returns the bytes written
//  (OSMOSE_TOKEN_SIZE) or OSMOSE_ETOOBIG.
int OSMOSE_CHECK
    osmose_token_encode (const osmose_token_t *token, uint8_t *buffer, size_t size);

//  Parse SIZE untrusted bytes into *token. Returns 0, or OSMOSE_EPROTO for
//  a wrong size, an unknown version or figures out of range (*token is then
//  zeroed). Does not verify the signature.
int OSMOSE_CHECK
    osmose_token_decode (const uint8_t *data, size_t size, osmose_token_t *token);

//  What a provider's work endpoint does with the token a connection
//  presents: decode it, check that PROVIDER_KEY issued it to CLIENT_KEY
//  (either may be NULL to skip that binding), verify the signature and the
//  expiry against NOW_US (wall clock). Returns 0, OSMOSE_EPROTO
//  (malformed), OSMOSE_EVERIFY (forged, altered or for another pair of
//  keys) or OSMOSE_ENOLEASE (expired). When TOKEN is not NULL it receives
//  the decoded token whatever the verdict (zeroed on EPROTO).
int OSMOSE_CHECK
    osmose_token_check (const uint8_t *data, size_t size,
                        const uint8_t *provider_key, const uint8_t *client_key,
                        int64_t now_us, osmose_token_t *token);

//  The clock tokens are issued and checked by: wall clock, microseconds
//  (the market's clock too, so expiries mean the same on both sides).
int64_t
    osmose_token_now_us (void);

void
    osmose_token_test (bool verbose);

#endif
