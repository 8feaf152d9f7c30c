/*  matrix: dense linear algebra worth leasing a faster peer for.
    matrix.multiply  input: uint32 n (little-endian), then A and B, each
                     n*n IEEE float32 (little-endian), row-major;
                     output: uint32 n, then C = A*B in the same layout.
                     1 <= n <= 4096.
    The kernel is cache-blocked (tiles of S_TILE), runs along rows of B and
    C four floats at a time (vector extension: SSE/NEON) and folds four
    rows of B into each load and store of C.
*/
#include "osmose_plugin.h"
#include <stdlib.h>
#include <string.h>

#define S_TILE 64
#define S_MAX_N 4096

//  Four floats in one SSE/NEON register; GCC and clang vector extension
typedef float s_v4 __attribute__ ((vector_size (16)));

static inline s_v4
s_load (const float *from)
{
    s_v4 value;
    memcpy (&value, from, sizeof (value));
    return value;
}

//  ROW [j0..j1) += sum over the K rows of B from BROW of A [k] * BROW [k]
//  (K is 4 or 1): C is loaded and stored once for four rows of B
static void
s_kernel (float *restrict row, const float *restrict a, const float *restrict b, size_t n,
          size_t k, size_t ks, size_t j0, size_t j1)
{
    size_t j = j0;
    if (ks == 4) {
        const float *b0 = b + k * n, *b1 = b0 + n, *b2 = b1 + n, *b3 = b2 + n;
        s_v4 a0 = { a [k], a [k], a [k], a [k] }, a1 = { a [k + 1], a [k + 1], a [k + 1], a [k + 1] };
        s_v4 a2 = { a [k + 2], a [k + 2], a [k + 2], a [k + 2] };
        s_v4 a3 = { a [k + 3], a [k + 3], a [k + 3], a [k + 3] };
        for (; j + 4 <= j1; j += 4) {
            s_v4 sum = s_load (row + j) + a0 * s_load (b0 + j) + a1 * s_load (b1 + j)
                     + a2 * s_load (b2 + j) + a3 * s_load (b3 + j);
            memcpy (row + j, &sum, sizeof (sum));
        }
        for (; j < j1; j++)
            row [j] += a [k] * b0 [j] + a [k + 1] * b1 [j] + a [k + 2] * b2 [j] + a [k + 3] * b3 [j];
    }
    else {
        const float *b0 = b + k * n;
        s_v4 a0 = { a [k], a [k], a [k], a [k] };
        for (; j + 4 <= j1; j += 4) {
            s_v4 sum = s_load (row + j) + a0 * s_load (b0 + j);
            memcpy (row + j, &sum, sizeof (sum));
        }
        for (; j < j1; j++)
            row [j] += a [k] * b0 [j];
    }
}

static void
s_multiply (const float *restrict a, const float *restrict b, float *restrict c, size_t n,
            osmose_plugin_ctx_t *ctx, int *cancelled)
{
    memset (c, 0, n * n * sizeof (float));
    for (size_t i0 = 0; i0 < n; i0 += S_TILE) {
        if (ctx && osmose_plugin_cancelled (ctx)) {
            *cancelled = 1;
            return;
        }
        size_t i1 = i0 + S_TILE < n? i0 + S_TILE: n;
        for (size_t k0 = 0; k0 < n; k0 += S_TILE) {
            size_t k1 = k0 + S_TILE < n? k0 + S_TILE: n;
            for (size_t j0 = 0; j0 < n; j0 += S_TILE) {
                size_t j1 = j0 + S_TILE < n? j0 + S_TILE: n;
                for (size_t i = i0; i < i1; i++) {
                    size_t k = k0;
                    for (; k + 4 <= k1; k += 4)
                        s_kernel (c + i * n, a + i * n, b, n, k, 4, j0, j1);
                    for (; k < k1; k++)
                        s_kernel (c + i * n, a + i * n, b, n, k, 1, j0, j1);
                }
            }
        }
    }
}

static int
s_mul (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    uint32_t n;
    if (in_size < sizeof (n))
        return OSMOSE_PLUGIN_EINVAL;
    memcpy (&n, in, sizeof (n));
    if (n == 0 || n > S_MAX_N) {
        osmose_plugin_fail (ctx, "matrix.multiply: n must be 1..4096");
        return OSMOSE_PLUGIN_EINVAL;
    }
    size_t cells = (size_t) n * n;
    if (in_size != sizeof (n) + 2 * cells * sizeof (float)) {
        osmose_plugin_fail (ctx, "matrix.multiply: input must be n, A, B (4 + 8*n*n bytes)");
        return OSMOSE_PLUGIN_EINVAL;
    }
    //  Copies, so the kernel works on aligned memory whatever the input's
    float *a = (float *) malloc (3 * cells * sizeof (float));
    if (!a)
        return OSMOSE_PLUGIN_ENOMEM;
    float *b = a + cells, *c = b + cells;
    memcpy (a, in + sizeof (n), 2 * cells * sizeof (float));
    int cancelled = 0;
    s_multiply (a, b, c, n, ctx, &cancelled);
    int rc = cancelled? OSMOSE_PLUGIN_ECANCELED: osmose_plugin_out_write (out, &n, sizeof (n));
    if (rc == 0)
        rc = osmose_plugin_out_write (out, c, cells * sizeof (float));
    free (a);
    return rc;
}

static const osmose_plugin_function_t s_functions [] = {
    { "multiply", s_mul, 0 },
};

OSMOSE_PLUGIN_EXPORT const osmose_plugin_descriptor_t osmose_plugin_descriptor = {
    OSMOSE_PLUGIN_ABI, "matrix", "1.0.0", 1, s_functions
};
