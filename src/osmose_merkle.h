/*  osmose_merkle.h: the Merkle tree of a feed (RFC 9162 shape, BLAKE2b-256).

    leaf hash = H(0x00 || entry), node hash = H(0x01 || left || right), the
    root of an empty tree = H(""). The tree object keeps every leaf hash and
    every perfect-subtree node hash in memory (about 64 bytes per leaf), so
    roots of any earlier size, inclusion and consistency proofs need only
    O(log n) lookups and hashes; appends update it incrementally.

    Proof verification functions are pure and take no tree.
    Thread safety: a tree is used by one thread at a time.
*/
#ifndef OSMOSE_MERKLE_H_INCLUDED
#define OSMOSE_MERKLE_H_INCLUDED

#define OSMOSE_HASH_SIZE 32             //  BLAKE2b-256
#define OSMOSE_PROOF_MAX 64             //  hashes in a proof, at most

typedef struct _osmose_merkle_t osmose_merkle_t;

typedef enum {
    OSMOSE_PROOF_INCLUSION = 1,
    OSMOSE_PROOF_CONSISTENCY = 2
} osmose_proof_kind_t;

//  An inclusion proof of leaf FIRST in a tree of SIZE leaves, or a
//  consistency proof between sizes FIRST and SIZE.
typedef struct {
    osmose_proof_kind_t kind;
    uint64_t first;                     //  leaf index, or the old size
    uint64_t size;                      //  tree size the proof is for
    size_t count;                       //  hashes used
    uint8_t hashes [OSMOSE_PROOF_MAX][OSMOSE_HASH_SIZE];
} osmose_proof_t;

//  Largest encoded proof: kind, first, size, count, hashes
#define OSMOSE_PROOF_ENCODED_MAX (1 + 1 + 8 + 8 + 1 + OSMOSE_PROOF_MAX * OSMOSE_HASH_SIZE)

osmose_merkle_t *
    osmose_merkle_new (void);

void
    osmose_merkle_destroy (osmose_merkle_t **self_p);

//  H(0x00 || DATA) into HASH.
void
    osmose_merkle_leaf_hash (const uint8_t *data, size_t size, uint8_t *hash);

//  H(0x01 || LEFT || RIGHT) into HASH.
void
    osmose_merkle_node_hash (const uint8_t *left, const uint8_t *right, uint8_t *hash);

//  Add a leaf hash at the end. 0 or OSMOSE_ENOMEM.
int OSMOSE_WARN_UNUSED
    osmose_merkle_append (osmose_merkle_t *self, const uint8_t *leaf_hash);

//  Leaves in the tree.
uint64_t
    osmose_merkle_size (osmose_merkle_t *self);

//  Forget leaves from SIZE on (roll back an append that did not commit).
void
    osmose_merkle_truncate (osmose_merkle_t *self, uint64_t size);

//  Leaf hash at INDEX, or NULL when out of range. Valid until the next append.
const uint8_t *
    osmose_merkle_leaf (osmose_merkle_t *self, uint64_t index);

//  Root of the first SIZE leaves. 0 or OSMOSE_ERANGE.
int OSMOSE_WARN_UNUSED
    osmose_merkle_root (osmose_merkle_t *self, uint64_t size, uint8_t *root);

//  Inclusion proof of leaf INDEX in the tree of the first SIZE leaves.
int OSMOSE_WARN_UNUSED
    osmose_merkle_inclusion (osmose_merkle_t *self, uint64_t index, uint64_t size,
                             osmose_proof_t *proof);

//  Consistency proof from OLD_SIZE to SIZE (0 <= OLD_SIZE <= SIZE).
int OSMOSE_WARN_UNUSED
    osmose_merkle_consistency (osmose_merkle_t *self, uint64_t old_size,
                               uint64_t size, osmose_proof_t *proof);

//  Check that LEAF_HASH is leaf proof->first of the tree with ROOT.
//  0 or OSMOSE_EVERIFY.
int OSMOSE_WARN_UNUSED
    osmose_merkle_verify_inclusion (const osmose_proof_t *proof,
                                    const uint8_t *leaf_hash, const uint8_t *root);

//  Check that the tree with OLD_ROOT (size proof->first) is a prefix of the
//  tree with ROOT (size proof->size). 0 or OSMOSE_EVERIFY.
int OSMOSE_WARN_UNUSED
    osmose_merkle_verify_consistency (const osmose_proof_t *proof,
                                      const uint8_t *old_root, const uint8_t *root);

//  Encode PROOF into BUFFER (OSMOSE_PROOF_ENCODED_MAX bytes is always
//  enough); returns the encoded size.
size_t
    osmose_proof_encode (const osmose_proof_t *proof, uint8_t *buffer);

//  Decode SIZE bytes into *PROOF; checks kind, count and the exact length.
//  0 or OSMOSE_EPROTO.
int OSMOSE_WARN_UNUSED
    osmose_proof_decode (const uint8_t *data, size_t size, osmose_proof_t *proof);

void
    osmose_merkle_test (bool verbose);

#endif
