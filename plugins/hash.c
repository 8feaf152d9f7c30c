/*  hash: hashing and compression kernels.
    hash.blake2b     output: the 32-byte BLAKE2b-256 of the input
    hash.compress    output: the input, LZ77-compressed (format below)
    hash.decompress  output: the original bytes; refuses damaged input
    Format: "OLZ1", uint32 original size (little-endian), then sequences:
    a token byte (high nibble: literal count, low nibble: match length - 4,
    15 meaning "more bytes follow, each added, until one is below 255"),
    the literals, then (unless the output is complete) a uint16 offset
    back into the output and the match's extra length bytes.
*/
#include "osmose_plugin.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_SIZE (256u * 1024 * 1024)
#define S_HASH_BITS 14
#define S_MIN_MATCH 4

static int
s_blake2b (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    uint8_t digest [32];
    crypto_generichash (digest, sizeof (digest), in, in_size, NULL, 0);
    return osmose_plugin_out_write (out, digest, sizeof (digest));
}

static uint8_t *
s_put_length (uint8_t *to, size_t extra)
{
    while (extra >= 255) {
        *to++ = 255;
        extra -= 255;
    }
    *to++ = (uint8_t) extra;
    return to;
}

static uint32_t
s_hash4 (const uint8_t *at)
{
    uint32_t word;
    memcpy (&word, at, 4);
    return (word * 2654435761u) >> (32 - S_HASH_BITS);
}

static int
s_compress (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    if (in_size > S_MAX_SIZE)
        return OSMOSE_PLUGIN_ETOOBIG;
    //  Worst case: all literals, one length byte per 255 of them
    size_t bound = 8 + in_size + in_size / 255 + 16;
    uint8_t *start = (uint8_t *) malloc (bound);
    uint32_t *table = (uint32_t *) calloc ((size_t) 1 << S_HASH_BITS, sizeof (uint32_t));
    if (!start || !table) {
        free (start);
        free (table);
        return OSMOSE_PLUGIN_ENOMEM;
    }
    uint8_t *to = start;
    memcpy (to, "OLZ1", 4);
    uint32_t size = (uint32_t) in_size;
    memcpy (to + 4, &size, 4);
    to += 8;
    size_t pos = 0, anchor = 0;
    while (in_size >= S_MIN_MATCH && pos + S_MIN_MATCH <= in_size) {
        uint32_t slot = s_hash4 (in + pos);
        size_t candidate = table [slot];    //  position + 1, 0 when empty
        table [slot] = (uint32_t) (pos + 1);
        if (candidate == 0 || pos - (candidate - 1) > 65535
        ||  memcmp (in + candidate - 1, in + pos, S_MIN_MATCH) != 0) {
            pos++;
            continue;
        }
        size_t match = candidate - 1;
        size_t length = S_MIN_MATCH;
        while (pos + length < in_size && in [match + length] == in [pos + length])
            length++;
        size_t literals = pos - anchor;
        uint8_t *token = to++;
        *token = (uint8_t) ((literals < 15? literals: 15) << 4);
        if (literals >= 15)
            to = s_put_length (to, literals - 15);
        if (literals)
            memcpy (to, in + anchor, literals);
        to += literals;
        uint16_t offset = (uint16_t) (pos - match);
        memcpy (to, &offset, 2);
        to += 2;
        size_t extra = length - S_MIN_MATCH;
        *token |= (uint8_t) (extra < 15? extra: 15);
        if (extra >= 15)
            to = s_put_length (to, extra - 15);
        pos += length;
        anchor = pos;
    }
    size_t literals = in_size - anchor;
    *to++ = (uint8_t) ((literals < 15? literals: 15) << 4);
    if (literals >= 15)
        to = s_put_length (to, literals - 15);
    if (literals)
        memcpy (to, in + anchor, literals);
    to += literals;
    int rc = osmose_plugin_out_write (out, start, (size_t) (to - start));
    free (start);
    free (table);
    return rc;
}

//  Read an extended length; false when the input ends first
static int
s_get_length (const uint8_t **from, const uint8_t *end, size_t *length)
{
    uint8_t byte;
    do {
        if (*from >= end || *length > S_MAX_SIZE)
            return 0;
        byte = *(*from)++;
        *length += byte;
    } while (byte == 255);
    return 1;
}

static int
s_decompress (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    uint32_t size;
    if (in_size < 8 || memcmp (in, "OLZ1", 4) != 0)
        goto damaged;
    memcpy (&size, in + 4, 4);
    if (size > S_MAX_SIZE)
        return OSMOSE_PLUGIN_ETOOBIG;
    uint8_t *start = size? (uint8_t *) osmose_plugin_out_reserve (out, size): NULL;
    if (size && !start)
        return OSMOSE_PLUGIN_ENOMEM;
    const uint8_t *from = in + 8, *end = in + in_size;
    size_t produced = 0;
    while (1) {
        if (from >= end)
            goto damaged;
        uint8_t token = *from++;
        size_t literals = token >> 4;
        if (literals == 15 && !s_get_length (&from, end, &literals))
            goto damaged;
        if (literals > (size_t) (end - from) || literals > size - produced)
            goto damaged;
        if (literals)
            memcpy (start + produced, from, literals);
        produced += literals;
        from += literals;
        if (produced == size)
            break;
        uint16_t offset;
        if (end - from < 2)
            goto damaged;
        memcpy (&offset, from, 2);
        from += 2;
        size_t length = token & 15;
        if (length == 15 && !s_get_length (&from, end, &length))
            goto damaged;
        length += S_MIN_MATCH;
        if (offset == 0 || offset > produced || length > size - produced)
            goto damaged;
        //  Byte by byte: a match may overlap the bytes it produces
        for (size_t index = 0; index < length; index++)
            start [produced + index] = start [produced - offset + index];
        produced += length;
    }
    if (from != end)
        goto damaged;
    return 0;
damaged:
    osmose_plugin_fail (ctx, "hash.decompress: input is not valid OLZ1 data");
    return OSMOSE_PLUGIN_EINVAL;
}

static const osmose_plugin_function_t s_functions [] = {
    { "blake2b", s_blake2b, 0 },
    { "compress", s_compress, 0 },
    { "decompress", s_decompress, 0 },
};

OSMOSE_PLUGIN_EXPORT const osmose_plugin_descriptor_t osmose_plugin_descriptor = {
    OSMOSE_PLUGIN_ABI, "hash", "1.0.0", sizeof (s_functions) / sizeof (s_functions [0]), s_functions
};
