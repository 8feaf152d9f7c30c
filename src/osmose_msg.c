/*  osmose_msg.c: peer message framing (see osmose_msg.h). */
#include "osmose_prelude.h"
#include "osmose_msg.h"

int
osmose_msg_encode (osmose_msg_type_t type, const void *body, size_t size,
                   zframe_t **frame_p)
{
    if (!frame_p || type <= 0 || type >= OSMOSE_MSG_TYPE_LIMIT
    ||  size > UINT32_MAX || (size && !body))
        return OSMOSE_EINVAL;
    zframe_t *frame = zframe_new (NULL, OSMOSE_MSG_HEADER + size);
    if (!frame)
        return OSMOSE_ENOMEM;
    uint8_t *data = zframe_data (frame);
    data [0] = 'O';
    data [1] = 'M';
    data [2] = OSMOSE_MSG_VERSION;
    data [3] = (uint8_t) type;
    data [4] = (uint8_t) (size >> 24);
    data [5] = (uint8_t) (size >> 16);
    data [6] = (uint8_t) (size >> 8);
    data [7] = (uint8_t) size;
    if (size)
        memcpy (data + OSMOSE_MSG_HEADER, body, size);
    *frame_p = frame;
    return 0;
}

int
osmose_msg_decode (const uint8_t *data, size_t size, size_t max_size,
                   osmose_msg_type_t *type_p, const uint8_t **body_p,
                   size_t *body_size_p)
{
    if (!data || size < OSMOSE_MSG_HEADER || data [0] != 'O' || data [1] != 'M'
    ||  data [2] != OSMOSE_MSG_VERSION)
        return OSMOSE_EPROTO;
    if (size > max_size)
        return OSMOSE_ETOOBIG;
    if (data [3] == 0 || data [3] >= OSMOSE_MSG_TYPE_LIMIT)
        return OSMOSE_EPROTO;
    size_t length = ((size_t) data [4] << 24) | ((size_t) data [5] << 16)
                  | ((size_t) data [6] << 8) | data [7];
    if (length != size - OSMOSE_MSG_HEADER)
        return OSMOSE_EPROTO;
    *type_p = (osmose_msg_type_t) data [3];
    *body_p = data + OSMOSE_MSG_HEADER;
    *body_size_p = length;
    return 0;
}

const char *
osmose_msg_type_name (int type)
{
    static const char *names [] = {
        "UNKNOWN", "HELLO", "MEMBERS", "FEED", "MARKET", "TASK"
    };
    return type > 0 && type < OSMOSE_MSG_TYPE_LIMIT? names [type]: names [0];
}

void
osmose_msg_test (bool verbose)
{
    printf (" * osmose_msg: ");
    zframe_t *frame = NULL;
    assert (osmose_msg_encode (OSMOSE_MSG_FEED, "hello", 5, &frame) == 0);
    assert (zframe_size (frame) == OSMOSE_MSG_HEADER + 5);
    osmose_msg_type_t type;
    const uint8_t *body;
    size_t body_size;
    assert (osmose_msg_decode (zframe_data (frame), zframe_size (frame), 1024,
                               &type, &body, &body_size) == 0);
    assert (type == OSMOSE_MSG_FEED && body_size == 5 && memcmp (body, "hello", 5) == 0);

    //  Every single-byte corruption of the header is caught
    uint8_t copy [OSMOSE_MSG_HEADER + 5];
    for (size_t index = 0; index < OSMOSE_MSG_HEADER; index++) {
        if (index == 3)
            continue;           //  another valid type is still a valid frame
        memcpy (copy, zframe_data (frame), sizeof (copy));
        copy [index] ^= 0x40;
        assert (osmose_msg_decode (copy, sizeof (copy), 1024, &type, &body, &body_size)
                == OSMOSE_EPROTO);
    }
    memcpy (copy, zframe_data (frame), sizeof (copy));
    copy [3] = OSMOSE_MSG_TYPE_LIMIT;
    assert (osmose_msg_decode (copy, sizeof (copy), 1024, &type, &body, &body_size)
            == OSMOSE_EPROTO);
    //  Truncated, oversized, huge length field
    assert (osmose_msg_decode (copy, 7, 1024, &type, &body, &body_size) == OSMOSE_EPROTO);
    assert (osmose_msg_decode (zframe_data (frame), zframe_size (frame), 8,
                               &type, &body, &body_size) == OSMOSE_ETOOBIG);
    memcpy (copy, zframe_data (frame), sizeof (copy));
    copy [4] = 0xff;
    assert (osmose_msg_decode (copy, sizeof (copy), 1024, &type, &body, &body_size)
            == OSMOSE_EPROTO);
    zframe_destroy (&frame);

    assert (osmose_msg_encode (OSMOSE_MSG_HELLO, NULL, 0, &frame) == 0);
    assert (osmose_msg_decode (zframe_data (frame), zframe_size (frame), 1024,
                               &type, &body, &body_size) == 0 && body_size == 0);
    zframe_destroy (&frame);
    assert (osmose_msg_encode (0, NULL, 0, &frame) == OSMOSE_EINVAL);
    assert (osmose_msg_encode (OSMOSE_MSG_TYPE_LIMIT, NULL, 0, &frame) == OSMOSE_EINVAL);

    //  Random garbage never crashes and is almost never accepted
    uint8_t noise [64];
    int accepted = 0;
    for (int round = 0; round < 10000; round++) {
        size_t size = randombytes_uniform (sizeof (noise) + 1);
        randombytes_buf (noise, size);
        if (osmose_msg_decode (noise, size, 1024, &type, &body, &body_size) == 0)
            accepted++;
    }
    assert (accepted == 0);
    assert (streq (osmose_msg_type_name (OSMOSE_MSG_MEMBERS), "MEMBERS"));
    assert (streq (osmose_msg_type_name (99), "UNKNOWN"));
    printf ("OK\n");
}
