/*  osmose_wire.h: big-endian integers in buffers, and bounds-checked
    readers and writers for binary codecs (osmose_token, osmose_market_msg).

    A writer or reader that runs past its end sets its error flag and stops
    moving; the codec checks the flag once at the end, so every field read
    from an untrusted buffer is either wholly inside it or ignored.

    Thread safety: operates on the caller's structs only.
*/
#ifndef OSMOSE_WIRE_H_INCLUDED
#define OSMOSE_WIRE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t *data;
    size_t size;
    size_t used;
    bool failed;
} osmose_wire_writer_t;

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t used;
    bool failed;
} osmose_wire_reader_t;

static inline void
osmose_wire_put_bytes (osmose_wire_writer_t *writer, const void *bytes, size_t size)
{
    if (writer->failed || writer->size - writer->used < size) {
        writer->failed = true;
        return;
    }
    if (size)
        memcpy (writer->data + writer->used, bytes, size);
    writer->used += size;
}

//  Big-endian integers of WIDTH bytes (1..8) in a raw buffer; every codec
//  of the project (log records, heads, proofs, gossip, market) uses these
static inline void
osmose_wire_be_put (uint8_t *buffer, uint64_t value, size_t width)
{
    for (size_t index = 0; index < width; index++)
        buffer [index] = (uint8_t) (value >> (8 * (width - 1 - index)));
}

static inline uint64_t
osmose_wire_be_get (const uint8_t *buffer, size_t width)
{
    uint64_t value = 0;
    for (size_t index = 0; index < width; index++)
        value = (value << 8) | buffer [index];
    return value;
}

static inline void
osmose_wire_put_uint (osmose_wire_writer_t *writer, uint64_t value, size_t width)
{
    uint8_t bytes [8];
    osmose_wire_be_put (bytes, value, width);
    osmose_wire_put_bytes (writer, bytes, width);
}

#define osmose_wire_put_u8(w, v)  osmose_wire_put_uint ((w), (uint64_t) (v), 1)
#define osmose_wire_put_u16(w, v) osmose_wire_put_uint ((w), (uint64_t) (v), 2)
#define osmose_wire_put_u32(w, v) osmose_wire_put_uint ((w), (uint64_t) (v), 4)
#define osmose_wire_put_u64(w, v) osmose_wire_put_uint ((w), (uint64_t) (v), 8)

static inline void
osmose_wire_get_bytes (osmose_wire_reader_t *reader, void *bytes, size_t size)
{
    if (reader->failed || reader->size - reader->used < size) {
        reader->failed = true;
        memset (bytes, 0, size);
        return;
    }
    if (size)
        memcpy (bytes, reader->data + reader->used, size);
    reader->used += size;
}

static inline uint64_t
osmose_wire_get_uint (osmose_wire_reader_t *reader, size_t width)
{
    uint8_t bytes [8];
    osmose_wire_get_bytes (reader, bytes, width);
    return osmose_wire_be_get (bytes, width);
}

#define osmose_wire_get_u8(r)  ((uint8_t) osmose_wire_get_uint ((r), 1))
#define osmose_wire_get_u16(r) ((uint16_t) osmose_wire_get_uint ((r), 2))
#define osmose_wire_get_u32(r) ((uint32_t) osmose_wire_get_uint ((r), 4))
#define osmose_wire_get_u64(r) (osmose_wire_get_uint ((r), 8))

//  True when the reader consumed its whole buffer without running past it
static inline bool
osmose_wire_done (const osmose_wire_reader_t *reader)
{
    return !reader->failed && reader->used == reader->size;
}

#endif
