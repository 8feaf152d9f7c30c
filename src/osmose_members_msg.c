/*  osmose_members_msg.c: encode and decode membership messages (see
    osmose_members_msg.h). Decoding reads untrusted bytes: every length is
    checked against what is left before it is used.
*/
#include "osmose_prelude.h"
#include "osmose_members_msg.h"

static bool
s_get (members_reader_t *reader, void *out, size_t size)
{
    if (reader->size - reader->pos < size)
        return false;
    if (out)
        memcpy (out, reader->data + reader->pos, size);
    reader->pos += size;
    return true;
}

static bool
s_get_u8 (members_reader_t *reader, uint8_t *value)
{
    return s_get (reader, value, 1);
}

static bool
s_get_u16 (members_reader_t *reader, uint16_t *value)
{
    uint8_t b [2];
    if (!s_get (reader, b, 2))
        return false;
    *value = (uint16_t) ((b [0] << 8) | b [1]);
    return true;
}

static bool
s_get_u32 (members_reader_t *reader, uint32_t *value)
{
    uint8_t b [4];
    if (!s_get (reader, b, 4))
        return false;
    *value = ((uint32_t) b [0] << 24) | ((uint32_t) b [1] << 16)
           | ((uint32_t) b [2] << 8) | b [3];
    return true;
}

static bool
s_get_u64 (members_reader_t *reader, uint64_t *value)
{
    uint32_t high, low;
    if (!s_get_u32 (reader, &high) || !s_get_u32 (reader, &low))
        return false;
    *value = ((uint64_t) high << 32) | low;
    return true;
}

//  Text: u8 length then bytes, no NUL inside
static bool
s_get_text (members_reader_t *reader, const char **text, uint8_t *size)
{
    if (!s_get_u8 (reader, size))
        return false;
    const uint8_t *start = reader->data + reader->pos;
    if (!s_get (reader, NULL, *size))
        return false;
    if (memchr (start, 0, *size))
        return false;
    *text = (const char *) start;
    return true;
}

int
members_msg_header (members_reader_t *reader, members_msg_header_t *header)
{
    memset (header, 0, sizeof (*header));
    uint8_t version;
    if (!s_get_u8 (reader, &version) || version != MEMBERS_MSG_VERSION)
        return OSMOSE_EPROTO;
    if (!s_get_u8 (reader, &header->type) || !s_get_u32 (reader, &header->seq))
        return OSMOSE_EPROTO;
    switch (header->type) {
        case MEMBERS_MSG_PING_REQ:
            if (!s_get (reader, header->target, MEMBERS_IDB))
                return OSMOSE_EPROTO;
            break;
        case MEMBERS_MSG_SYNC_HASH:
            if (!s_get_u64 (reader, &header->hash))
                return OSMOSE_EPROTO;
            break;
        case MEMBERS_MSG_SYNC_FULL:
            if (!s_get_u8 (reader, &header->flags))
                return OSMOSE_EPROTO;
            break;
        case MEMBERS_MSG_PING:
        case MEMBERS_MSG_ACK:
        case MEMBERS_MSG_GOSSIP:
        case MEMBERS_MSG_JOIN:
        case MEMBERS_MSG_NACK:
            break;
        default:
            return OSMOSE_EPROTO;
    }
    if (!s_get_u8 (reader, &header->pulse_size) || header->pulse_size > OSMOSE_MEMBERS_PULSE_MAX
    ||  !s_get (reader, header->pulse, header->pulse_size))
        return OSMOSE_EPROTO;
    if (!s_get_u16 (reader, &header->count))
        return OSMOSE_EPROTO;
    //  Each record takes at least 13 bytes: refuse impossible counts early
    if ((size_t) header->count * 13 > reader->size - reader->pos)
        return OSMOSE_EPROTO;
    return 0;
}

int
members_msg_record (members_reader_t *reader, members_record_t *record)
{
    memset (record, 0, sizeof (*record));
    uint8_t kind;
    if (!s_get_u8 (reader, &kind))
        return OSMOSE_EPROTO;
    record->state = kind & 0x7F;
    record->has_info = (kind & 0x80) != 0;
    if (record->state < OSMOSE_MEMBER_ALIVE || record->state > OSMOSE_MEMBER_LEFT)
        return OSMOSE_EPROTO;
    if (!s_get (reader, record->id, MEMBERS_IDB) || !s_get_u32 (reader, &record->incarnation))
        return OSMOSE_EPROTO;
    if (record->state == OSMOSE_MEMBER_SUSPECT
    && !s_get (reader, record->suspecter, MEMBERS_IDB))
        return OSMOSE_EPROTO;
    //  ALIVE means nothing without the member's own signed info
    if (record->state == OSMOSE_MEMBER_ALIVE && !record->has_info)
        return OSMOSE_EPROTO;
    if (!record->has_info)
        return 0;
    record->info_wire = reader->data + reader->pos;
    if (!s_get_u32 (reader, &record->info_incarnation))
        return OSMOSE_EPROTO;
    record->public_key = reader->data + reader->pos;
    if (!s_get (reader, NULL, OSMOSE_KEY_SIZE)
    ||  !s_get_text (reader, &record->endpoint, &record->endpoint_size)
    ||  !s_get_text (reader, &record->name, &record->name_size)
    ||  !s_get_text (reader, &record->location, &record->location_size)
    ||  !s_get_u16 (reader, &record->app_size))
        return OSMOSE_EPROTO;
    if (record->app_size > OSMOSE_MEMBERS_APP_MAX)
        return OSMOSE_EPROTO;
    record->app = reader->data + reader->pos;
    if (!s_get (reader, NULL, record->app_size))
        return OSMOSE_EPROTO;
    record->signature = reader->data + reader->pos;
    if (!s_get (reader, NULL, OSMOSE_SIG_SIZE))
        return OSMOSE_EPROTO;
    record->info_wire_size = (size_t) (reader->data + reader->pos - record->info_wire);
    //  An ALIVE record is the info it carries; anything else may only
    //  carry info at or below its own incarnation
    if (record->state == OSMOSE_MEMBER_ALIVE
    &&  record->info_incarnation != record->incarnation)
        return OSMOSE_EPROTO;
    if (record->info_incarnation > record->incarnation)
        return OSMOSE_EPROTO;
    return 0;
}

static void
s_put (members_writer_t *writer, const void *data, size_t size)
{
    if (writer->failed || writer->size - writer->pos < size) {
        writer->failed = true;
        return;
    }
    if (size)
        memcpy (writer->data + writer->pos, data, size);
    writer->pos += size;
}

static void
s_put_u8 (members_writer_t *writer, uint8_t value)
{
    s_put (writer, &value, 1);
}

static void
s_put_u16 (members_writer_t *writer, uint16_t value)
{
    uint8_t b [2] = { (uint8_t) (value >> 8), (uint8_t) value };
    s_put (writer, b, 2);
}

static void
s_put_u32 (members_writer_t *writer, uint32_t value)
{
    uint8_t b [4] = { (uint8_t) (value >> 24), (uint8_t) (value >> 16),
                      (uint8_t) (value >> 8), (uint8_t) value };
    s_put (writer, b, 4);
}

void
members_msg_write_header (members_writer_t *writer, const members_msg_header_t *header)
{
    s_put_u8 (writer, MEMBERS_MSG_VERSION);
    s_put_u8 (writer, header->type);
    s_put_u32 (writer, header->seq);
    if (header->type == MEMBERS_MSG_PING_REQ)
        s_put (writer, header->target, MEMBERS_IDB);
    else
    if (header->type == MEMBERS_MSG_SYNC_HASH) {
        s_put_u32 (writer, (uint32_t) (header->hash >> 32));
        s_put_u32 (writer, (uint32_t) header->hash);
    }
    else
    if (header->type == MEMBERS_MSG_SYNC_FULL)
        s_put_u8 (writer, header->flags);
    s_put_u8 (writer, header->pulse_size);
    s_put (writer, header->pulse, header->pulse_size);
    s_put_u16 (writer, header->count);
}

size_t
members_msg_count_offset (const members_msg_header_t *header)
{
    size_t offset = 6;
    if (header->type == MEMBERS_MSG_PING_REQ || header->type == MEMBERS_MSG_SYNC_HASH)
        offset += 8;
    else
    if (header->type == MEMBERS_MSG_SYNC_FULL)
        offset += 1;
    return offset + 1 + header->pulse_size;
}

void
members_msg_write_record (members_writer_t *writer, uint8_t state, const uint8_t *id,
                          uint32_t incarnation, const uint8_t *suspecter,
                          const uint8_t *info_wire, size_t info_wire_size)
{
    s_put_u8 (writer, (uint8_t) (state | (info_wire? 0x80: 0)));
    s_put (writer, id, MEMBERS_IDB);
    s_put_u32 (writer, incarnation);
    if (state == OSMOSE_MEMBER_SUSPECT)
        s_put (writer, suspecter, MEMBERS_IDB);
    if (info_wire)
        s_put (writer, info_wire, info_wire_size);
}

static void
s_put_text (members_writer_t *writer, const char *text)
{
    size_t size = text? strlen (text): 0;
    if (size > OSMOSE_MEMBERS_TEXT_MAX)
        size = OSMOSE_MEMBERS_TEXT_MAX;
    s_put_u8 (writer, (uint8_t) size);
    s_put (writer, text, size);
}

size_t
members_msg_encode_info (uint8_t *buffer, uint32_t incarnation,
                         const uint8_t *public_key, const char *endpoint,
                         const char *name, const char *location,
                         const uint8_t *app, size_t app_size)
{
    members_writer_t writer = { buffer, MEMBERS_INFO_MAX, 0, false };
    s_put_u32 (&writer, incarnation);
    s_put (&writer, public_key, OSMOSE_KEY_SIZE);
    s_put_text (&writer, endpoint);
    s_put_text (&writer, name);
    s_put_text (&writer, location);
    s_put_u16 (&writer, (uint16_t) app_size);
    s_put (&writer, app, app_size);
    uint8_t zero [OSMOSE_SIG_SIZE] = { 0 };
    s_put (&writer, zero, sizeof (zero));
    assert (!writer.failed);    //  sizes are bounded by the caller
    return writer.pos;
}

size_t
members_msg_signed_bytes (uint8_t *buffer, const uint8_t *id,
                          const uint8_t *info_wire, size_t info_wire_size)
{
    size_t size = 0;
    memcpy (buffer, MEMBERS_ALIVE_DOMAIN, strlen (MEMBERS_ALIVE_DOMAIN));
    size += strlen (MEMBERS_ALIVE_DOMAIN);
    memcpy (buffer + size, id, MEMBERS_IDB);
    size += MEMBERS_IDB;
    memcpy (buffer + size, info_wire, info_wire_size - OSMOSE_SIG_SIZE);
    return size + info_wire_size - OSMOSE_SIG_SIZE;
}

bool
members_msg_id_parse (const char *hex, uint8_t *id)
{
    if (!hex || strlen (hex) != OSMOSE_ID_SIZE)
        return false;
    for (int i = 0; i < MEMBERS_IDB; i++) {
        int value = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex [i * 2 + j];
            int digit = c >= '0' && c <= '9'? c - '0':
                        c >= 'a' && c <= 'f'? c - 'a' + 10: -1;
            if (digit < 0)
                return false;
            value = value * 16 + digit;
        }
        id [i] = (uint8_t) value;
    }
    return true;
}

void
members_msg_id_format (const uint8_t *id, char *hex)
{
    static const char digits [] = "0123456789abcdef";
    for (int i = 0; i < MEMBERS_IDB; i++) {
        hex [i * 2] = digits [id [i] >> 4];
        hex [i * 2 + 1] = digits [id [i] & 15];
    }
    hex [OSMOSE_ID_SIZE] = 0;
}
