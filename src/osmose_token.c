/*  osmose_token.c: lease tokens (see osmose_token.h).
*/
#include "osmose_prelude.h"
#include "osmose_token.h"
#include "osmose_wire.h"

#define S_CONTEXT "osmose-token-v1"
#define S_CONTEXT_SIZE (sizeof (S_CONTEXT) - 1)
//  Figures a token may name: the limits resources adverts accept
#define S_MAX_COUNT 65536
#define S_MAX_MEMORY_MB INT64_C (1000000000000)

//  The signed bytes, context prefix included, into BUFFER
static size_t
s_signed_bytes (const osmose_token_t *token, uint8_t *buffer, size_t size)
{
    osmose_wire_writer_t writer = { .data = buffer, .size = size };
    osmose_wire_put_bytes (&writer, S_CONTEXT, S_CONTEXT_SIZE);
    osmose_wire_put_u8 (&writer, token->version);
    osmose_wire_put_bytes (&writer, token->lease_id, OSMOSE_LEASE_ID_SIZE);
    osmose_wire_put_bytes (&writer, token->provider_key, OSMOSE_KEY_SIZE);
    osmose_wire_put_bytes (&writer, token->client_key, OSMOSE_KEY_SIZE);
    osmose_wire_put_u32 (&writer, (uint32_t) token->cpus);
    osmose_wire_put_u32 (&writer, (uint32_t) token->gpus);
    osmose_wire_put_u32 (&writer, (uint32_t) token->npus);
    osmose_wire_put_u64 (&writer, (uint64_t) token->memory_mb);
    osmose_wire_put_u64 (&writer, (uint64_t) token->issued_us);
    osmose_wire_put_u64 (&writer, (uint64_t) token->expiry_us);
    assert (!writer.failed);
    return writer.used;
}

void
osmose_token_sign (osmose_token_t *token, osmose_identity_t *provider)
{
    assert (token && provider);
    token->version = OSMOSE_TOKEN_VERSION;
    memcpy (token->provider_key, osmose_identity_public (provider), OSMOSE_KEY_SIZE);
    uint8_t buffer [S_CONTEXT_SIZE + OSMOSE_TOKEN_SIGNED];
    size_t size = s_signed_bytes (token, buffer, sizeof (buffer));
    osmose_identity_sign (provider, buffer, size, token->signature);
}

int
osmose_token_verify (const osmose_token_t *token)
{
    if (!token || token->version != OSMOSE_TOKEN_VERSION)
        return OSMOSE_EVERIFY;
    uint8_t buffer [S_CONTEXT_SIZE + OSMOSE_TOKEN_SIGNED];
    size_t size = s_signed_bytes (token, buffer, sizeof (buffer));
    return osmose_identity_verify (token->provider_key, buffer, size, token->signature);
}

int
osmose_token_encode (const osmose_token_t *token, uint8_t *buffer, size_t size)
{
    if (!token || !buffer || size < OSMOSE_TOKEN_SIZE)
        return OSMOSE_ETOOBIG;
    uint8_t bytes [S_CONTEXT_SIZE + OSMOSE_TOKEN_SIGNED];
    size_t signed_size = s_signed_bytes (token, bytes, sizeof (bytes));
    memcpy (buffer, bytes + S_CONTEXT_SIZE, signed_size - S_CONTEXT_SIZE);
    memcpy (buffer + OSMOSE_TOKEN_SIGNED, token->signature, OSMOSE_SIG_SIZE);
    return OSMOSE_TOKEN_SIZE;
}

int
osmose_token_decode (const uint8_t *data, size_t size, osmose_token_t *token)
{
    if (!token)
        return OSMOSE_EINVAL;
    memset (token, 0, sizeof (*token));
    if (!data || size != OSMOSE_TOKEN_SIZE)
        return OSMOSE_EPROTO;
    osmose_wire_reader_t reader = { .data = data, .size = size };
    osmose_token_t parsed;
    parsed.version = osmose_wire_get_u8 (&reader);
    osmose_wire_get_bytes (&reader, parsed.lease_id, OSMOSE_LEASE_ID_SIZE);
    osmose_wire_get_bytes (&reader, parsed.provider_key, OSMOSE_KEY_SIZE);
    osmose_wire_get_bytes (&reader, parsed.client_key, OSMOSE_KEY_SIZE);
    uint32_t cpus = osmose_wire_get_u32 (&reader);
    uint32_t gpus = osmose_wire_get_u32 (&reader);
    uint32_t npus = osmose_wire_get_u32 (&reader);
    uint64_t memory_mb = osmose_wire_get_u64 (&reader);
    parsed.issued_us = (int64_t) osmose_wire_get_u64 (&reader);
    parsed.expiry_us = (int64_t) osmose_wire_get_u64 (&reader);
    osmose_wire_get_bytes (&reader, parsed.signature, OSMOSE_SIG_SIZE);
    if (!osmose_wire_done (&reader)
    ||  parsed.version != OSMOSE_TOKEN_VERSION
    ||  cpus > S_MAX_COUNT || gpus > S_MAX_COUNT || npus > S_MAX_COUNT
    ||  memory_mb > (uint64_t) S_MAX_MEMORY_MB
    ||  parsed.issued_us < 0 || parsed.expiry_us < parsed.issued_us)
        return OSMOSE_EPROTO;
    parsed.cpus = (int) cpus;
    parsed.gpus = (int) gpus;
    parsed.npus = (int) npus;
    parsed.memory_mb = (int64_t) memory_mb;
    *token = parsed;
    return 0;
}

int
osmose_token_check (const uint8_t *data, size_t size,
                    const uint8_t *provider_key, const uint8_t *client_key,
                    int64_t now_us, osmose_token_t *token)
{
    osmose_token_t parsed;
    int rc = osmose_token_decode (data, size, &parsed);
    if (token)
        *token = parsed;
    if (rc)
        return rc;
    //  Keys compared in constant time: cheap, and nothing to learn from timing
    if ((provider_key && sodium_memcmp (provider_key, parsed.provider_key, OSMOSE_KEY_SIZE))
    ||  (client_key && sodium_memcmp (client_key, parsed.client_key, OSMOSE_KEY_SIZE))
    ||  osmose_token_verify (&parsed))
        return OSMOSE_EVERIFY;
    if (now_us >= parsed.expiry_us)
        return OSMOSE_ENOLEASE;
    return 0;
}

//  --------------------------------------------------------------------------
//  Self-test

int64_t
osmose_token_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

void
osmose_token_test (bool verbose)
{
    printf (" * osmose_token: ");
    osmose_identity_t *provider = osmose_identity_new ();
    osmose_identity_t *client = osmose_identity_new ();
    osmose_identity_t *other = osmose_identity_new ();
    assert (provider && client && other);
    const uint8_t *provider_key = osmose_identity_public (provider);
    const uint8_t *client_key = osmose_identity_public (client);

    osmose_token_t token = {
        .cpus = 2, .gpus = 1, .npus = 0, .memory_mb = 4096,
        .issued_us = INT64_C (1700000000000000),
        .expiry_us = INT64_C (1700000010000000)
    };
    randombytes_buf (token.lease_id, OSMOSE_LEASE_ID_SIZE);
    memcpy (token.client_key, client_key, OSMOSE_KEY_SIZE);
    osmose_token_sign (&token, provider);
    assert (osmose_token_verify (&token) == 0);

    //  Round trip
    uint8_t bytes [OSMOSE_TOKEN_SIZE];
    assert (osmose_token_encode (&token, bytes, sizeof (bytes) - 1) == OSMOSE_ETOOBIG);
    assert (osmose_token_encode (&token, bytes, sizeof (bytes)) == OSMOSE_TOKEN_SIZE);
    osmose_token_t copy;
    assert (osmose_token_decode (bytes, sizeof (bytes), &copy) == 0);
    assert (memcmp (&copy.lease_id, token.lease_id, OSMOSE_LEASE_ID_SIZE) == 0);
    assert (copy.cpus == 2 && copy.gpus == 1 && copy.memory_mb == 4096);
    assert (copy.expiry_us == token.expiry_us && copy.issued_us == token.issued_us);
    assert (osmose_token_verify (&copy) == 0);

    //  Check: valid, expired, wrong client, wrong provider
    int64_t now = token.issued_us + 1000;
    assert (osmose_token_check (bytes, sizeof (bytes), provider_key, client_key, now, &copy) == 0);
    assert (osmose_token_check (bytes, sizeof (bytes), NULL, NULL, now, NULL) == 0);
    assert (osmose_token_check (bytes, sizeof (bytes), provider_key, client_key,
                                token.expiry_us, NULL) == OSMOSE_ENOLEASE);
    assert (osmose_token_check (bytes, sizeof (bytes), provider_key,
                                osmose_identity_public (other), now, NULL) == OSMOSE_EVERIFY);
    assert (osmose_token_check (bytes, sizeof (bytes), osmose_identity_public (other),
                                client_key, now, NULL) == OSMOSE_EVERIFY);

    //  Forgeries: any flipped bit fails, in the figures, the keys or the
    //  signature; a token re-signed by another key fails the provider binding
    for (size_t offset = 0; offset < OSMOSE_TOKEN_SIZE; offset++) {
        uint8_t forged [OSMOSE_TOKEN_SIZE];
        memcpy (forged, bytes, sizeof (forged));
        forged [offset] ^= 0x01;
        int rc = osmose_token_check (forged, sizeof (forged), provider_key, client_key, now, NULL);
        assert (rc == OSMOSE_EVERIFY || rc == OSMOSE_EPROTO);
    }
    osmose_token_t stolen = token;
    stolen.cpus = 64;               //  a client grants itself more
    osmose_token_sign (&stolen, other);
    uint8_t stolen_bytes [OSMOSE_TOKEN_SIZE];
    assert (osmose_token_encode (&stolen, stolen_bytes, sizeof (stolen_bytes)) > 0);
    assert (osmose_token_check (stolen_bytes, sizeof (stolen_bytes), provider_key,
                                client_key, now, NULL) == OSMOSE_EVERIFY);
    //  A valid signature over an expired token stays expired
    osmose_token_t old = token;
    old.expiry_us = now - 1;
    old.issued_us = now - 10;
    osmose_token_sign (&old, provider);
    uint8_t old_bytes [OSMOSE_TOKEN_SIZE];
    assert (osmose_token_encode (&old, old_bytes, sizeof (old_bytes)) > 0);
    assert (osmose_token_check (old_bytes, sizeof (old_bytes), provider_key,
                                client_key, now, NULL) == OSMOSE_ENOLEASE);

    //  Hostile input: every truncation, over-long, random bytes, bad version
    for (size_t size = 0; size < OSMOSE_TOKEN_SIZE; size++)
        assert (osmose_token_check (bytes, size, NULL, NULL, now, NULL) == OSMOSE_EPROTO);
    uint8_t longer [OSMOSE_TOKEN_SIZE + 1];
    memcpy (longer, bytes, OSMOSE_TOKEN_SIZE);
    longer [OSMOSE_TOKEN_SIZE] = 0;
    assert (osmose_token_decode (longer, sizeof (longer), &copy) == OSMOSE_EPROTO);
    assert (osmose_token_decode (NULL, 0, &copy) == OSMOSE_EPROTO);
    for (int round = 0; round < 1000; round++) {
        uint8_t noise [OSMOSE_TOKEN_SIZE];
        randombytes_buf (noise, sizeof (noise));
        if (round & 1)
            noise [0] = OSMOSE_TOKEN_VERSION;
        int rc = osmose_token_check (noise, sizeof (noise), NULL, NULL, now, NULL);
        assert (rc == OSMOSE_EPROTO || rc == OSMOSE_EVERIFY);
    }
    uint8_t bad_version [OSMOSE_TOKEN_SIZE];
    memcpy (bad_version, bytes, sizeof (bad_version));
    bad_version [0] = 2;
    assert (osmose_token_decode (bad_version, sizeof (bad_version), &copy) == OSMOSE_EPROTO);
    //  Huge figures are refused before any signature work
    osmose_token_t huge = token;
    huge.cpus = -1;
    osmose_token_sign (&huge, provider);
    uint8_t huge_bytes [OSMOSE_TOKEN_SIZE];
    assert (osmose_token_encode (&huge, huge_bytes, sizeof (huge_bytes)) > 0);
    assert (osmose_token_decode (huge_bytes, sizeof (huge_bytes), &copy) == OSMOSE_EPROTO);

    osmose_identity_destroy (&provider);
    osmose_identity_destroy (&client);
    osmose_identity_destroy (&other);
    if (verbose)
        printf ("(%d bytes) ", OSMOSE_TOKEN_SIZE);
    printf ("OK\n");
}
