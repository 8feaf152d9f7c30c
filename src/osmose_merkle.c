/*  osmose_merkle.c: RFC 9162 Merkle tree over BLAKE2b-256 (see header).

    Level 0 holds leaf hashes; level k holds the hash of every complete,
    aligned subtree of 2^k leaves. Any subtree the RFC's recursion names is
    aligned at its start, so its hash is a fold of at most log n perfect
    subtrees: that is what keeps roots and proofs O(log n).
*/
#include "osmose_prelude.h"
#include "osmose_merkle.h"
#include "osmose_wire.h"

//  Big-endian fields, through the one set of helpers
#define s_get64(buffer) osmose_wire_be_get ((buffer), 8)
#define s_put64(buffer, value) osmose_wire_be_put ((buffer), (value), 8)

#define S_LEVELS 64

struct _osmose_merkle_t {
    uint8_t *level [S_LEVELS];          //  hashes of level k, packed
    uint64_t capacity [S_LEVELS];       //  hashes the level can hold
    uint64_t size;                      //  leaves
};

osmose_merkle_t *
osmose_merkle_new (void)
{
    return (osmose_merkle_t *) zmalloc (sizeof (osmose_merkle_t));
}

void
osmose_merkle_destroy (osmose_merkle_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_merkle_t *self = *self_p;
        for (int k = 0; k < S_LEVELS; k++)
            free (self->level [k]);
        free (self);
        *self_p = NULL;
    }
}

void
osmose_merkle_leaf_hash (const uint8_t *data, size_t size, uint8_t *hash)
{
    //  Small entries (the common case) in one call: the streaming API
    //  costs as much as the hashing itself at this size
    if (size <= 256) {
        uint8_t block [1 + 256];
        block [0] = 0x00;
        if (size)
            memcpy (block + 1, data, size);
        crypto_generichash (hash, OSMOSE_HASH_SIZE, block, size + 1, NULL, 0);
        return;
    }
    crypto_generichash_state state;
    static const uint8_t prefix = 0x00;
    crypto_generichash_init (&state, NULL, 0, OSMOSE_HASH_SIZE);
    crypto_generichash_update (&state, &prefix, 1);
    crypto_generichash_update (&state, data, size);
    crypto_generichash_final (&state, hash, OSMOSE_HASH_SIZE);
}

void
osmose_merkle_node_hash (const uint8_t *left, const uint8_t *right, uint8_t *hash)
{
    uint8_t block [1 + 2 * OSMOSE_HASH_SIZE];
    block [0] = 0x01;
    memcpy (block + 1, left, OSMOSE_HASH_SIZE);
    memcpy (block + 1 + OSMOSE_HASH_SIZE, right, OSMOSE_HASH_SIZE);
    crypto_generichash (hash, OSMOSE_HASH_SIZE, block, sizeof (block), NULL, 0);
}

//  Make room for hash INDEX at level K
static int
s_reserve (osmose_merkle_t *self, int k, uint64_t index)
{
    if (index < self->capacity [k])
        return 0;
    //  Grow fourfold: a million-leaf tree is rebuilt on every open
    uint64_t capacity = self->capacity [k]? self->capacity [k] * 4: 1024;
    while (capacity <= index)
        capacity *= 2;
    uint8_t *level = (uint8_t *) realloc (self->level [k], capacity * OSMOSE_HASH_SIZE);
    if (!level)
        return OSMOSE_ENOMEM;
    self->level [k] = level;
    self->capacity [k] = capacity;
    return 0;
}

static inline uint8_t *
s_at (osmose_merkle_t *self, int k, uint64_t index)
{
    return self->level [k] + index * OSMOSE_HASH_SIZE;
}

int
osmose_merkle_append (osmose_merkle_t *self, const uint8_t *leaf_hash)
{
    return osmose_merkle_append_pair (self, leaf_hash, NULL);
}

int
osmose_merkle_append_pair (osmose_merkle_t *self, const uint8_t *leaf_hash,
                           const uint8_t *pair_hash)
{
    assert (self);
    uint64_t index = self->size;
    //  Reserve every level first, so a failure leaves the tree unchanged
    uint64_t size = index + 1;
    for (int k = 0; k < S_LEVELS && (size >> k) && (size & ((UINT64_C (1) << k) - 1)) == 0; k++)
        if (s_reserve (self, k, (size >> k) - 1))
            return OSMOSE_ENOMEM;
    memcpy (s_at (self, 0, index), leaf_hash, OSMOSE_HASH_SIZE);
    for (int k = 1; k < S_LEVELS && (size & ((UINT64_C (1) << k) - 1)) == 0; k++) {
        uint64_t node = (size >> k) - 1;
        if (k == 1 && pair_hash)
            memcpy (s_at (self, 1, node), pair_hash, OSMOSE_HASH_SIZE);
        else
            osmose_merkle_node_hash (s_at (self, k - 1, 2 * node), s_at (self, k - 1, 2 * node + 1),
                                     s_at (self, k, node));
    }
    self->size = size;
    return 0;
}

uint64_t
osmose_merkle_size (osmose_merkle_t *self)
{
    assert (self);
    return self->size;
}

void
osmose_merkle_truncate (osmose_merkle_t *self, uint64_t size)
{
    assert (self);
    //  Node hashes past the new size are simply overwritten later
    if (size < self->size)
        self->size = size;
}

const uint8_t *
osmose_merkle_leaf (osmose_merkle_t *self, uint64_t index)
{
    assert (self);
    return index < self->size? s_at (self, 0, index): NULL;
}

//  Largest power of two strictly below N (N >= 2)
static inline uint64_t
s_split (uint64_t n)
{
    uint64_t k = UINT64_C (1) << (63 - __builtin_clzll (n));
    return k == n? k >> 1: k;
}

//  Hash of leaves [START, START + LENGTH); START is aligned to a power of
//  two >= LENGTH, as in every subtree the RFC recursion visits
static void
s_range_hash (osmose_merkle_t *self, uint64_t start, uint64_t length, uint8_t *hash)
{
    if (length == 0) {
        crypto_generichash (hash, OSMOSE_HASH_SIZE, NULL, 0, NULL, 0);
        return;
    }
    //  Perfect subtrees from left to right, then folded from the right
    uint8_t parts [S_LEVELS][OSMOSE_HASH_SIZE];
    int count = 0;
    do {
        int k = 63 - __builtin_clzll (length);
        memcpy (parts [count++], s_at (self, k, start >> k), OSMOSE_HASH_SIZE);
        start += UINT64_C (1) << k;
        length -= UINT64_C (1) << k;
    } while (length && count < S_LEVELS);
    memcpy (hash, parts [count - 1], OSMOSE_HASH_SIZE);
    for (int index = count - 2; index >= 0; index--)
        osmose_merkle_node_hash (parts [index], hash, hash);
}

int
osmose_merkle_root (osmose_merkle_t *self, uint64_t size, uint8_t *root)
{
    assert (self);
    if (size > self->size)
        return OSMOSE_ERANGE;
    s_range_hash (self, 0, size, root);
    return 0;
}

static void
s_reverse (osmose_proof_t *proof)
{
    uint8_t swap [OSMOSE_HASH_SIZE];
    for (size_t low = 0, high = proof->count - 1; proof->count && low < high; low++, high--) {
        memcpy (swap, proof->hashes [low], OSMOSE_HASH_SIZE);
        memcpy (proof->hashes [low], proof->hashes [high], OSMOSE_HASH_SIZE);
        memcpy (proof->hashes [high], swap, OSMOSE_HASH_SIZE);
    }
}

int
osmose_merkle_inclusion (osmose_merkle_t *self, uint64_t index, uint64_t size,
                         osmose_proof_t *proof)
{
    assert (self && proof);
    if (size > self->size || index >= size)
        return OSMOSE_ERANGE;
    proof->kind = OSMOSE_PROOF_INCLUSION;
    proof->first = index;
    proof->size = size;
    proof->count = 0;
    //  Walk from the root down; siblings come out top first, so reverse
    uint64_t start = 0, length = size, m = index;
    while (length > 1) {
        uint64_t k = s_split (length);
        if (m < k) {
            s_range_hash (self, start + k, length - k, proof->hashes [proof->count++]);
            length = k;
        }
        else {
            s_range_hash (self, start, k, proof->hashes [proof->count++]);
            start += k;
            m -= k;
            length -= k;
        }
    }
    s_reverse (proof);
    return 0;
}

int
osmose_merkle_consistency (osmose_merkle_t *self, uint64_t old_size, uint64_t size,
                           osmose_proof_t *proof)
{
    assert (self && proof);
    if (size > self->size || old_size > size)
        return OSMOSE_ERANGE;
    proof->kind = OSMOSE_PROOF_CONSISTENCY;
    proof->first = old_size;
    proof->size = size;
    proof->count = 0;
    if (old_size == 0 || old_size == size)
        return 0;
    uint64_t start = 0, length = size, m = old_size;
    bool whole = true;              //  the RFC's b: subtree is the old tree
    while (m != length) {
        uint64_t k = s_split (length);
        if (m <= k) {
            s_range_hash (self, start + k, length - k, proof->hashes [proof->count++]);
            length = k;
        }
        else {
            s_range_hash (self, start, k, proof->hashes [proof->count++]);
            start += k;
            m -= k;
            length -= k;
            whole = false;
        }
    }
    if (!whole)
        s_range_hash (self, start, length, proof->hashes [proof->count++]);
    s_reverse (proof);
    return 0;
}

int
osmose_merkle_verify_inclusion (const osmose_proof_t *proof, const uint8_t *leaf_hash,
                                const uint8_t *root)
{
    if (!proof || proof->kind != OSMOSE_PROOF_INCLUSION || proof->first >= proof->size
    ||  proof->count > OSMOSE_PROOF_MAX)
        return OSMOSE_EVERIFY;
    uint64_t fn = proof->first, sn = proof->size - 1;
    uint8_t hash [OSMOSE_HASH_SIZE];
    memcpy (hash, leaf_hash, OSMOSE_HASH_SIZE);
    for (size_t index = 0; index < proof->count; index++) {
        if (sn == 0)
            return OSMOSE_EVERIFY;
        if ((fn & 1) || fn == sn) {
            osmose_merkle_node_hash (proof->hashes [index], hash, hash);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        }
        else
            osmose_merkle_node_hash (hash, proof->hashes [index], hash);
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp (hash, root, OSMOSE_HASH_SIZE) == 0? 0: OSMOSE_EVERIFY;
}

int
osmose_merkle_verify_consistency (const osmose_proof_t *proof, const uint8_t *old_root,
                                  const uint8_t *root)
{
    if (!proof || proof->kind != OSMOSE_PROOF_CONSISTENCY || proof->first > proof->size
    ||  proof->count > OSMOSE_PROOF_MAX)
        return OSMOSE_EVERIFY;
    if (proof->first == 0 || proof->first == proof->size) {
        if (proof->count)
            return OSMOSE_EVERIFY;
        if (proof->first == 0) {
            uint8_t empty [OSMOSE_HASH_SIZE];
            crypto_generichash (empty, OSMOSE_HASH_SIZE, NULL, 0, NULL, 0);
            return sodium_memcmp (old_root, empty, OSMOSE_HASH_SIZE) == 0? 0: OSMOSE_EVERIFY;
        }
        return sodium_memcmp (old_root, root, OSMOSE_HASH_SIZE) == 0? 0: OSMOSE_EVERIFY;
    }
    if (proof->count == 0)
        return OSMOSE_EVERIFY;
    uint64_t first = proof->first;
    //  When the old tree is a perfect subtree its root starts the path
    const uint8_t *path [OSMOSE_PROOF_MAX + 1];
    size_t count = 0;
    if ((first & (first - 1)) == 0)
        path [count++] = old_root;
    for (size_t index = 0; index < proof->count; index++)
        path [count++] = proof->hashes [index];
    uint64_t fn = first - 1, sn = proof->size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr [OSMOSE_HASH_SIZE], sr [OSMOSE_HASH_SIZE];
    memcpy (fr, path [0], OSMOSE_HASH_SIZE);
    memcpy (sr, path [0], OSMOSE_HASH_SIZE);
    for (size_t index = 1; index < count; index++) {
        if (sn == 0)
            return OSMOSE_EVERIFY;
        if ((fn & 1) || fn == sn) {
            osmose_merkle_node_hash (path [index], fr, fr);
            osmose_merkle_node_hash (path [index], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        }
        else
            osmose_merkle_node_hash (sr, path [index], sr);
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0
    ||  sodium_memcmp (fr, old_root, OSMOSE_HASH_SIZE) != 0
    ||  sodium_memcmp (sr, root, OSMOSE_HASH_SIZE) != 0)
        return OSMOSE_EVERIFY;
    return 0;
}

//  Encoding: version 1, kind, first, size, count, hashes
size_t
osmose_proof_encode (const osmose_proof_t *proof, uint8_t *buffer)
{
    assert (proof && buffer && proof->count <= OSMOSE_PROOF_MAX);
    buffer [0] = 1;
    buffer [1] = (uint8_t) proof->kind;
    s_put64 (buffer + 2, proof->first);
    s_put64 (buffer + 10, proof->size);
    buffer [18] = (uint8_t) proof->count;
    memcpy (buffer + 19, proof->hashes, proof->count * OSMOSE_HASH_SIZE);
    return 19 + proof->count * OSMOSE_HASH_SIZE;
}

int
osmose_proof_decode (const uint8_t *data, size_t size, osmose_proof_t *proof)
{
    assert (proof);
    if (!data || size < 19 || data [0] != 1
    ||  (data [1] != OSMOSE_PROOF_INCLUSION && data [1] != OSMOSE_PROOF_CONSISTENCY)
    ||  data [18] > OSMOSE_PROOF_MAX
    ||  size != 19 + (size_t) data [18] * OSMOSE_HASH_SIZE)
        return OSMOSE_EPROTO;
    proof->kind = (osmose_proof_kind_t) data [1];
    proof->first = s_get64 (data + 2);
    proof->size = s_get64 (data + 10);
    proof->count = data [18];
    memcpy (proof->hashes, data + 19, proof->count * OSMOSE_HASH_SIZE);
    return 0;
}

//  ------------------------------------------------------------------------
//  Self-test: against a naive recursive transcription of RFC 9162

static void
s_naive_root (uint8_t (*leaves) [OSMOSE_HASH_SIZE], uint64_t n, uint8_t *hash)
{
    if (n == 0)
        crypto_generichash (hash, OSMOSE_HASH_SIZE, NULL, 0, NULL, 0);
    else
    if (n == 1)
        memcpy (hash, leaves [0], OSMOSE_HASH_SIZE);
    else {
        uint64_t k = s_split (n);
        uint8_t left [OSMOSE_HASH_SIZE], right [OSMOSE_HASH_SIZE];
        s_naive_root (leaves, k, left);
        s_naive_root (leaves + k, n - k, right);
        osmose_merkle_node_hash (left, right, hash);
    }
}

static void
s_naive_path (uint8_t (*leaves) [OSMOSE_HASH_SIZE], uint64_t m, uint64_t n, osmose_proof_t *proof)
{
    if (n <= 1)
        return;
    uint64_t k = s_split (n);
    if (m < k) {
        s_naive_path (leaves, m, k, proof);
        s_naive_root (leaves + k, n - k, proof->hashes [proof->count++]);
    }
    else {
        s_naive_path (leaves + k, m - k, n - k, proof);
        s_naive_root (leaves, k, proof->hashes [proof->count++]);
    }
}

static void
s_naive_subproof (uint8_t (*leaves) [OSMOSE_HASH_SIZE], uint64_t m, uint64_t n, bool b,
                  osmose_proof_t *proof)
{
    if (m == n) {
        if (!b)
            s_naive_root (leaves, n, proof->hashes [proof->count++]);
        return;
    }
    uint64_t k = s_split (n);
    if (m <= k) {
        s_naive_subproof (leaves, m, k, b, proof);
        s_naive_root (leaves + k, n - k, proof->hashes [proof->count++]);
    }
    else {
        s_naive_subproof (leaves + k, m - k, n - k, false, proof);
        s_naive_root (leaves, k, proof->hashes [proof->count++]);
    }
}

void
osmose_merkle_test (bool verbose)
{
    printf (" * osmose_merkle: ");
    #define S_N 70
    uint8_t leaves [S_N][OSMOSE_HASH_SIZE];
    osmose_merkle_t *tree = osmose_merkle_new ();
    assert (tree);
    uint8_t root [OSMOSE_HASH_SIZE], naive [OSMOSE_HASH_SIZE], old_root [OSMOSE_HASH_SIZE];
    assert (osmose_merkle_root (tree, 0, root) == 0);
    s_naive_root (leaves, 0, naive);
    assert (memcmp (root, naive, OSMOSE_HASH_SIZE) == 0);
    for (int index = 0; index < S_N; index++) {
        char text [16];
        snprintf (text, sizeof (text), "leaf %d", index);
        osmose_merkle_leaf_hash ((uint8_t *) text, strlen (text), leaves [index]);
        assert (osmose_merkle_append (tree, leaves [index]) == 0);
    }
    assert (osmose_merkle_size (tree) == S_N);
    assert (osmose_merkle_leaf (tree, S_N) == NULL);
    assert (memcmp (osmose_merkle_leaf (tree, 3), leaves [3], OSMOSE_HASH_SIZE) == 0);
    assert (osmose_merkle_root (tree, S_N + 1, root) == OSMOSE_ERANGE);

    osmose_proof_t proof, expect;
    uint8_t encoded [OSMOSE_PROOF_ENCODED_MAX];
    for (uint64_t n = 1; n <= S_N; n++) {
        assert (osmose_merkle_root (tree, n, root) == 0);
        s_naive_root (leaves, n, naive);
        assert (memcmp (root, naive, OSMOSE_HASH_SIZE) == 0);
        for (uint64_t m = 0; m < n; m++) {
            //  Inclusion of leaf m in the tree of size n
            assert (osmose_merkle_inclusion (tree, m, n, &proof) == 0);
            expect.count = 0;
            s_naive_path (leaves, m, n, &expect);
            assert (proof.count == expect.count);
            assert (memcmp (proof.hashes, expect.hashes, proof.count * OSMOSE_HASH_SIZE) == 0);
            assert (osmose_merkle_verify_inclusion (&proof, leaves [m], root) == 0);
            assert (osmose_merkle_verify_inclusion (&proof, leaves [(m + 1) % n], root)
                    == (n == 1? 0: OSMOSE_EVERIFY));
            size_t size = osmose_proof_encode (&proof, encoded);
            osmose_proof_t decoded;
            assert (osmose_proof_decode (encoded, size, &decoded) == 0);
            assert (osmose_merkle_verify_inclusion (&decoded, leaves [m], root) == 0);
            assert (osmose_proof_decode (encoded, size - 1, &decoded) == OSMOSE_EPROTO);
            if (proof.count) {
                proof.hashes [proof.count / 2][5] ^= 1;
                assert (osmose_merkle_verify_inclusion (&proof, leaves [m], root) == OSMOSE_EVERIFY);
                proof.hashes [proof.count / 2][5] ^= 1;
                proof.first ^= 1;
                if (proof.first < n)
                    assert (osmose_merkle_verify_inclusion (&proof, leaves [m], root) == OSMOSE_EVERIFY);
                proof.first ^= 1;
            }
            //  Consistency from size m (m >= 1) to n
            if (m == 0)
                continue;
            assert (osmose_merkle_consistency (tree, m, n, &proof) == 0);
            expect.count = 0;
            s_naive_subproof (leaves, m, n, true, &expect);
            assert (proof.count == expect.count);
            assert (memcmp (proof.hashes, expect.hashes, proof.count * OSMOSE_HASH_SIZE) == 0);
            assert (osmose_merkle_root (tree, m, old_root) == 0);
            assert (osmose_merkle_verify_consistency (&proof, old_root, root) == 0);
            assert (osmose_merkle_verify_consistency (&proof, root, old_root) == OSMOSE_EVERIFY);
            size = osmose_proof_encode (&proof, encoded);
            assert (osmose_proof_decode (encoded, size, &decoded) == 0);
            assert (osmose_merkle_verify_consistency (&decoded, old_root, root) == 0);
            for (size_t index = 0; index < proof.count; index++) {
                proof.hashes [index][0] ^= 0x80;
                assert (osmose_merkle_verify_consistency (&proof, old_root, root) == OSMOSE_EVERIFY);
                proof.hashes [index][0] ^= 0x80;
            }
            old_root [1] ^= 1;
            assert (osmose_merkle_verify_consistency (&proof, old_root, root) == OSMOSE_EVERIFY);
            proof.count = 0;
            old_root [1] ^= 1;
            assert (osmose_merkle_verify_consistency (&proof, old_root, root) == OSMOSE_EVERIFY);
        }
        //  Trivial consistency: n to n, 0 to n
        assert (osmose_merkle_consistency (tree, n, n, &proof) == 0 && proof.count == 0);
        assert (osmose_merkle_verify_consistency (&proof, root, root) == 0);
        assert (osmose_merkle_consistency (tree, 0, n, &proof) == 0);
        s_naive_root (leaves, 0, naive);
        assert (osmose_merkle_verify_consistency (&proof, naive, root) == 0);
        assert (osmose_merkle_verify_consistency (&proof, root, root) == OSMOSE_EVERIFY);
    }
    assert (osmose_merkle_inclusion (tree, S_N, S_N, &proof) == OSMOSE_ERANGE);
    assert (osmose_merkle_consistency (tree, 5, 4, &proof) == OSMOSE_ERANGE);

    //  Truncate rolls back; appending again gives the same roots
    assert (osmose_merkle_root (tree, S_N, naive) == 0);
    osmose_merkle_truncate (tree, 33);
    assert (osmose_merkle_size (tree) == 33);
    for (int index = 33; index < S_N; index++)
        assert (osmose_merkle_append (tree, leaves [index]) == 0);
    assert (osmose_merkle_root (tree, S_N, root) == 0);
    assert (memcmp (root, naive, OSMOSE_HASH_SIZE) == 0);

    //  A pair hash given with an odd leaf is the node it would compute
    osmose_merkle_t *paired = osmose_merkle_new ();
    for (int index = 0; index < S_N; index++) {
        uint8_t pair [OSMOSE_HASH_SIZE];
        if (index % 2)
            osmose_merkle_node_hash (leaves [index - 1], leaves [index], pair);
        assert (osmose_merkle_append_pair (paired, leaves [index], index % 2? pair: NULL) == 0);
    }
    assert (osmose_merkle_root (paired, S_N, naive) == 0 && memcmp (root, naive, OSMOSE_HASH_SIZE) == 0);
    osmose_merkle_destroy (&paired);

    //  Decoder refuses bad kinds and counts
    uint8_t bad [19] = { 1, 3 };
    assert (osmose_proof_decode (bad, sizeof (bad), &proof) == OSMOSE_EPROTO);
    bad [1] = 1;
    bad [18] = 65;
    assert (osmose_proof_decode (bad, sizeof (bad), &proof) == OSMOSE_EPROTO);
    bad [18] = 0;
    assert (osmose_proof_decode (bad, sizeof (bad), &proof) == 0);
    assert (osmose_merkle_verify_inclusion (&proof, leaves [0], root) == OSMOSE_EVERIFY);

    osmose_merkle_destroy (&tree);
    osmose_merkle_destroy (&tree);
    printf ("OK\n");
}
