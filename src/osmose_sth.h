/*  osmose_sth.h: signed tree heads and fork proofs.

    An STH is the writer's signature over (feed id, size, root, time); the
    feed id is the writer's Ed25519 public key. A writer signs heads, not
    entries, so appends can be batched.

    A fork proof shows that one writer signed two heads that cannot both
    be true: heads A (size m) and B (size s <= m), the root R of A's tree
    at size s, and a consistency proof that R is the size-s prefix of A's
    root. If R differs from B's root, the writer forked. Anyone can check a
    fork proof alone, without the feed.
    Thread safety: pure functions.
*/
#ifndef OSMOSE_STH_H_INCLUDED
#define OSMOSE_STH_H_INCLUDED

#include "osmose_merkle.h"
#include "osmose_identity.h"

#define OSMOSE_STH_VERSION 1
#define OSMOSE_STH_SIZE (1 + OSMOSE_KEY_SIZE + 8 + 8 + OSMOSE_HASH_SIZE + OSMOSE_SIG_SIZE)
#define OSMOSE_FORK_ENCODED_MAX (1 + 2 * OSMOSE_STH_SIZE + OSMOSE_HASH_SIZE + OSMOSE_PROOF_ENCODED_MAX)

typedef struct {
    uint8_t feed [OSMOSE_KEY_SIZE];     //  writer's public key = feed id
    uint64_t size;
    uint64_t time_us;
    uint8_t root [OSMOSE_HASH_SIZE];
    uint8_t signature [OSMOSE_SIG_SIZE];
} osmose_sth_t;

typedef struct {
    osmose_sth_t larger;                //  head A, size m
    osmose_sth_t smaller;               //  head B, size s <= m
    uint8_t prefix_root [OSMOSE_HASH_SIZE];     //  A's tree at size s
    osmose_proof_t proof;               //  consistency s -> m in A's tree
} osmose_fork_t;

//  Fill the feed id and signature of STH (size, time, root set by caller).
void
    osmose_sth_sign (osmose_sth_t *sth, osmose_identity_t *identity);

//  Check the signature against sth->feed. 0 or OSMOSE_EVERIFY.
int OSMOSE_WARN_UNUSED
    osmose_sth_verify (const osmose_sth_t *sth);

//  Encode into BUFFER (OSMOSE_STH_SIZE bytes).
void
    osmose_sth_encode (const osmose_sth_t *sth, uint8_t *buffer);

//  Decode exactly OSMOSE_STH_SIZE bytes (does not check the signature).
//  0 or OSMOSE_ECORRUPT.
int OSMOSE_WARN_UNUSED
    osmose_sth_decode (const uint8_t *data, size_t size, osmose_sth_t *sth);

//  Given TREE, which holds the leaves under head LARGER, and another head
//  OTHER of the same feed with OTHER->size <= LARGER->size: fill *FORK and
//  return OSMOSE_EFORK when the heads are inconsistent; 0 when they agree;
//  OSMOSE_EVERIFY when a head does not verify or the feeds differ;
//  OSMOSE_ERANGE when the tree is too small.
int OSMOSE_WARN_UNUSED
    osmose_fork_check (osmose_merkle_t *tree, const osmose_sth_t *larger,
                       const osmose_sth_t *other, osmose_fork_t *fork);

//  0 when FORK proves a fork (both heads valid, same feed, proof valid,
//  roots differ); OSMOSE_EVERIFY otherwise.
int OSMOSE_WARN_UNUSED
    osmose_fork_verify (const osmose_fork_t *fork);

//  Encode into BUFFER (OSMOSE_FORK_ENCODED_MAX bytes); returns the size.
size_t
    osmose_fork_encode (const osmose_fork_t *fork, uint8_t *buffer);

//  0 or OSMOSE_ECORRUPT. Does not verify; call osmose_fork_verify.
int OSMOSE_WARN_UNUSED
    osmose_fork_decode (const uint8_t *data, size_t size, osmose_fork_t *fork);

void
    osmose_sth_test (bool verbose);

#endif
