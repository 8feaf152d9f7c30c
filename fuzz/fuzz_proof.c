/*  fuzz_proof.c: libFuzzer target for the proof, signed head and fork
    proof decoders and verifiers. A forged proof must never verify against
    the roots of a real tree; nothing may crash.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_merkle.h"
#include "../src/osmose_sth.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static osmose_merkle_t *s_tree;
#define S_LEAVES 100

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_tree) {
        if (sodium_init () < 0)
            abort ();
        s_tree = osmose_merkle_new ();
        for (int index = 0; index < S_LEAVES; index++) {
            uint8_t leaf [OSMOSE_HASH_SIZE];
            osmose_merkle_leaf_hash ((uint8_t *) &index, sizeof (index), leaf);
            if (osmose_merkle_append (s_tree, leaf))
                abort ();
        }
    }
    osmose_proof_t proof;
    if (osmose_proof_decode (data, size, &proof) == 0) {
        //  Against the real tree: a proof verifies only if it is the real one
        if (proof.size >= 1 && proof.size <= S_LEAVES) {
            uint8_t root [OSMOSE_HASH_SIZE], old_root [OSMOSE_HASH_SIZE];
            if (osmose_merkle_root (s_tree, proof.size, root))
                abort ();
            osmose_proof_t real;
            if (proof.kind == OSMOSE_PROOF_INCLUSION && proof.first < proof.size) {
                const uint8_t *leaf = osmose_merkle_leaf (s_tree, proof.first);
                if (osmose_merkle_verify_inclusion (&proof, leaf, root) == 0
                &&  (osmose_merkle_inclusion (s_tree, proof.first, proof.size, &real)
                     || real.count != proof.count
                     || memcmp (real.hashes, proof.hashes, real.count * OSMOSE_HASH_SIZE)))
                    abort ();   //  a forged inclusion proof verified
            }
            if (proof.kind == OSMOSE_PROOF_CONSISTENCY && proof.first <= proof.size) {
                if (osmose_merkle_root (s_tree, proof.first, old_root))
                    abort ();
                if (osmose_merkle_verify_consistency (&proof, old_root, root) == 0
                &&  (osmose_merkle_consistency (s_tree, proof.first, proof.size, &real)
                     || real.count != proof.count
                     || memcmp (real.hashes, proof.hashes, real.count * OSMOSE_HASH_SIZE)))
                    abort ();   //  a forged consistency proof verified
            }
        }
        else {
            uint8_t zero [OSMOSE_HASH_SIZE] = { 0 };
            (void) !osmose_merkle_verify_inclusion (&proof, zero, zero);
            (void) !osmose_merkle_verify_consistency (&proof, zero, zero);
        }
    }
    osmose_sth_t sth;
    if (size >= OSMOSE_STH_SIZE && osmose_sth_decode (data, OSMOSE_STH_SIZE, &sth) == 0)
        (void) !osmose_sth_verify (&sth);
    osmose_fork_t fork;
    if (osmose_fork_decode (data, size, &fork) == 0)
        (void) !osmose_fork_verify (&fork);
    return 0;
}
