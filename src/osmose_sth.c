/*  osmose_sth.c: signed tree heads and fork proofs (see header).
    The signed message is a domain tag then the fields in their encoded
    order, so a head signature can never be mistaken for another message
    signed by the same key.
*/
#include "osmose_prelude.h"
#include "osmose_sth.h"
#include "osmose_wire.h"

//  Big-endian fields, through the one set of helpers
#define s_get64(buffer) osmose_wire_be_get ((buffer), 8)
#define s_put64(buffer, value) osmose_wire_be_put ((buffer), (value), 8)

#define S_TAG "osmose-sth-v1"
#define S_FORK_VERSION 1

//  The bytes covered by the signature; returns their count
static size_t
s_signed_message (const osmose_sth_t *sth, uint8_t *message)
{
    size_t tag = strlen (S_TAG);
    memcpy (message, S_TAG, tag);
    memcpy (message + tag, sth->feed, OSMOSE_KEY_SIZE);
    s_put64 (message + tag + OSMOSE_KEY_SIZE, sth->size);
    s_put64 (message + tag + OSMOSE_KEY_SIZE + 8, sth->time_us);
    memcpy (message + tag + OSMOSE_KEY_SIZE + 16, sth->root, OSMOSE_HASH_SIZE);
    return tag + OSMOSE_KEY_SIZE + 16 + OSMOSE_HASH_SIZE;
}

void
osmose_sth_sign (osmose_sth_t *sth, osmose_identity_t *identity)
{
    assert (sth && identity);
    memcpy (sth->feed, osmose_identity_public (identity), OSMOSE_KEY_SIZE);
    uint8_t message [128];
    size_t size = s_signed_message (sth, message);
    osmose_identity_sign (identity, message, size, sth->signature);
}

int
osmose_sth_verify (const osmose_sth_t *sth)
{
    assert (sth);
    uint8_t message [128];
    size_t size = s_signed_message (sth, message);
    return osmose_identity_verify (sth->feed, message, size, sth->signature)? OSMOSE_EVERIFY: 0;
}

void
osmose_sth_encode (const osmose_sth_t *sth, uint8_t *buffer)
{
    assert (sth && buffer);
    buffer [0] = OSMOSE_STH_VERSION;
    memcpy (buffer + 1, sth->feed, OSMOSE_KEY_SIZE);
    s_put64 (buffer + 1 + OSMOSE_KEY_SIZE, sth->size);
    s_put64 (buffer + 9 + OSMOSE_KEY_SIZE, sth->time_us);
    memcpy (buffer + 17 + OSMOSE_KEY_SIZE, sth->root, OSMOSE_HASH_SIZE);
    memcpy (buffer + 17 + OSMOSE_KEY_SIZE + OSMOSE_HASH_SIZE, sth->signature, OSMOSE_SIG_SIZE);
}

int
osmose_sth_decode (const uint8_t *data, size_t size, osmose_sth_t *sth)
{
    assert (sth);
    if (!data || size != OSMOSE_STH_SIZE || data [0] != OSMOSE_STH_VERSION)
        return OSMOSE_ECORRUPT;
    memcpy (sth->feed, data + 1, OSMOSE_KEY_SIZE);
    sth->size = s_get64 (data + 1 + OSMOSE_KEY_SIZE);
    sth->time_us = s_get64 (data + 9 + OSMOSE_KEY_SIZE);
    memcpy (sth->root, data + 17 + OSMOSE_KEY_SIZE, OSMOSE_HASH_SIZE);
    memcpy (sth->signature, data + 17 + OSMOSE_KEY_SIZE + OSMOSE_HASH_SIZE, OSMOSE_SIG_SIZE);
    return 0;
}

int
osmose_fork_check (osmose_merkle_t *tree, const osmose_sth_t *larger,
                   const osmose_sth_t *other, osmose_fork_t *fork)
{
    assert (tree && larger && other && fork);
    if (osmose_sth_verify (larger) || osmose_sth_verify (other)
    ||  memcmp (larger->feed, other->feed, OSMOSE_KEY_SIZE) != 0)
        return OSMOSE_EVERIFY;
    if (other->size > larger->size || larger->size > osmose_merkle_size (tree))
        return OSMOSE_ERANGE;
    uint8_t root [OSMOSE_HASH_SIZE];
    if (osmose_merkle_root (tree, larger->size, root) || memcmp (root, larger->root, OSMOSE_HASH_SIZE))
        return OSMOSE_ERANGE;           //  the tree is not the one LARGER signs
    memset (fork, 0, sizeof (*fork));
    fork->larger = *larger;
    fork->smaller = *other;
    if (osmose_merkle_root (tree, other->size, fork->prefix_root)
    ||  osmose_merkle_consistency (tree, other->size, larger->size, &fork->proof))
        return OSMOSE_ERANGE;
    if (memcmp (fork->prefix_root, other->root, OSMOSE_HASH_SIZE) == 0)
        return 0;
    return OSMOSE_EFORK;
}

int
osmose_fork_verify (const osmose_fork_t *fork)
{
    assert (fork);
    if (osmose_sth_verify (&fork->larger) || osmose_sth_verify (&fork->smaller)
    ||  memcmp (fork->larger.feed, fork->smaller.feed, OSMOSE_KEY_SIZE) != 0
    ||  fork->proof.kind != OSMOSE_PROOF_CONSISTENCY
    ||  fork->proof.first != fork->smaller.size || fork->proof.size != fork->larger.size
    ||  osmose_merkle_verify_consistency (&fork->proof, fork->prefix_root, fork->larger.root)
    ||  memcmp (fork->prefix_root, fork->smaller.root, OSMOSE_HASH_SIZE) == 0)
        return OSMOSE_EVERIFY;
    return 0;
}

//  Encoding: version, larger STH, smaller STH, prefix root, encoded proof
size_t
osmose_fork_encode (const osmose_fork_t *fork, uint8_t *buffer)
{
    assert (fork && buffer);
    buffer [0] = S_FORK_VERSION;
    osmose_sth_encode (&fork->larger, buffer + 1);
    osmose_sth_encode (&fork->smaller, buffer + 1 + OSMOSE_STH_SIZE);
    memcpy (buffer + 1 + 2 * OSMOSE_STH_SIZE, fork->prefix_root, OSMOSE_HASH_SIZE);
    size_t head = 1 + 2 * OSMOSE_STH_SIZE + OSMOSE_HASH_SIZE;
    return head + osmose_proof_encode (&fork->proof, buffer + head);
}

int
osmose_fork_decode (const uint8_t *data, size_t size, osmose_fork_t *fork)
{
    assert (fork);
    size_t head = 1 + 2 * OSMOSE_STH_SIZE + OSMOSE_HASH_SIZE;
    if (!data || size < head || data [0] != S_FORK_VERSION
    ||  osmose_sth_decode (data + 1, OSMOSE_STH_SIZE, &fork->larger)
    ||  osmose_sth_decode (data + 1 + OSMOSE_STH_SIZE, OSMOSE_STH_SIZE, &fork->smaller)
    ||  osmose_proof_decode (data + head, size - head, &fork->proof))
        return OSMOSE_ECORRUPT;
    memcpy (fork->prefix_root, data + 1 + 2 * OSMOSE_STH_SIZE, OSMOSE_HASH_SIZE);
    return 0;
}

//  Build a tree of COUNT leaves named PREFIX-i
static osmose_merkle_t *
s_tree (const char *prefix, int count)
{
    osmose_merkle_t *tree = osmose_merkle_new ();
    for (int index = 0; index < count; index++) {
        char text [32];
        snprintf (text, sizeof (text), "%s-%d", prefix, index);
        uint8_t leaf [OSMOSE_HASH_SIZE];
        osmose_merkle_leaf_hash ((uint8_t *) text, strlen (text), leaf);
        assert (osmose_merkle_append (tree, leaf) == 0);
    }
    return tree;
}

static void
s_head (osmose_merkle_t *tree, uint64_t size, osmose_identity_t *identity, osmose_sth_t *sth)
{
    memset (sth, 0, sizeof (*sth));
    sth->size = size;
    sth->time_us = 1000 + size;
    assert (osmose_merkle_root (tree, size, sth->root) == 0);
    osmose_sth_sign (sth, identity);
}

void
osmose_sth_test (bool verbose)
{
    printf (" * osmose_sth: ");
    osmose_identity_t *writer = osmose_identity_new ();
    osmose_identity_t *stranger = osmose_identity_new ();
    osmose_merkle_t *tree = s_tree ("a", 20);
    osmose_sth_t sth, decoded;
    s_head (tree, 20, writer, &sth);
    assert (osmose_sth_verify (&sth) == 0);
    uint8_t buffer [OSMOSE_FORK_ENCODED_MAX];
    osmose_sth_encode (&sth, buffer);
    assert (osmose_sth_decode (buffer, OSMOSE_STH_SIZE, &decoded) == 0);
    assert (memcmp (&decoded, &sth, sizeof (sth)) == 0);
    assert (osmose_sth_decode (buffer, OSMOSE_STH_SIZE - 1, &decoded) == OSMOSE_ECORRUPT);
    //  A flipped byte anywhere in the encoding breaks the signature
    for (size_t index = 1; index < OSMOSE_STH_SIZE; index++) {
        buffer [index] ^= 0x10;
        assert (osmose_sth_decode (buffer, OSMOSE_STH_SIZE, &decoded) == 0);
        assert (osmose_sth_verify (&decoded) == OSMOSE_EVERIFY);
        buffer [index] ^= 0x10;
    }
    //  A head signed by another key does not pass as the writer's
    osmose_sth_t forged = sth;
    osmose_sth_sign (&forged, stranger);
    assert (osmose_sth_verify (&forged) == 0);
    memcpy (forged.feed, sth.feed, OSMOSE_KEY_SIZE);
    assert (osmose_sth_verify (&forged) == OSMOSE_EVERIFY);

    //  Consistent heads are no fork
    osmose_sth_t older;
    osmose_fork_t fork;
    s_head (tree, 13, writer, &older);
    assert (osmose_fork_check (tree, &sth, &older, &fork) == 0);
    assert (osmose_fork_check (tree, &sth, &sth, &fork) == 0);
    assert (osmose_fork_check (tree, &older, &sth, &fork) == OSMOSE_ERANGE);
    //  A head over another history of 13 entries is a fork, provably
    osmose_merkle_t *other_tree = s_tree ("b", 13);
    osmose_sth_t other;
    s_head (other_tree, 13, writer, &other);
    assert (osmose_fork_check (tree, &sth, &other, &fork) == OSMOSE_EFORK);
    assert (osmose_fork_verify (&fork) == 0);
    size_t size = osmose_fork_encode (&fork, buffer);
    osmose_fork_t copy;
    assert (osmose_fork_decode (buffer, size, &copy) == 0);
    assert (osmose_fork_verify (&copy) == 0);
    assert (osmose_fork_decode (buffer, size - 1, &copy) == OSMOSE_ECORRUPT);
    //  Same size, other root
    s_head (other_tree, 13, writer, &other);
    assert (osmose_fork_check (tree, &older, &other, &fork) == OSMOSE_EFORK);
    assert (osmose_fork_verify (&fork) == 0);
    //  Tampered fork proofs do not verify
    copy.prefix_root [0] ^= 1;
    assert (osmose_fork_verify (&copy) == OSMOSE_EVERIFY);
    copy.prefix_root [0] ^= 1;
    copy.proof.hashes [0][3] ^= 1;
    assert (osmose_fork_verify (&copy) == OSMOSE_EVERIFY);
    copy.proof.hashes [0][3] ^= 1;
    copy.smaller.time_us++;
    assert (osmose_fork_verify (&copy) == OSMOSE_EVERIFY);
    //  Consistent heads made into a "fork proof" do not verify
    assert (osmose_fork_check (tree, &sth, &older, &fork) == 0);
    assert (osmose_fork_verify (&fork) == OSMOSE_EVERIFY);
    //  Heads of two different feeds never make a fork
    s_head (other_tree, 13, stranger, &other);
    assert (osmose_fork_check (tree, &sth, &other, &fork) == OSMOSE_EVERIFY);

    osmose_merkle_destroy (&other_tree);
    osmose_merkle_destroy (&tree);
    osmose_identity_destroy (&writer);
    osmose_identity_destroy (&stranger);
    printf ("OK\n");
}
