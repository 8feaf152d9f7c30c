/*  osmose_msg.h: the frame every peer-to-peer message travels in.

    One ZeroMQ frame: an 8-byte header (magic "OM", protocol version, type,
    body length as big-endian u32) and the body. The header lets a peer drop
    and count anything malformed, from another version, or oversized before
    any module parses the body. Bodies belong to the module named by type.
*/
#ifndef OSMOSE_MSG_H_INCLUDED
#define OSMOSE_MSG_H_INCLUDED

#define OSMOSE_MSG_VERSION 1
#define OSMOSE_MSG_HEADER 8

typedef enum {
    OSMOSE_MSG_HELLO = 1,           //  first message on a connection: who I am
    OSMOSE_MSG_MEMBERS = 2,         //  membership protocol (osmose_members)
    OSMOSE_MSG_FEED = 3,            //  log replication (gossip)
    OSMOSE_MSG_MARKET = 4,          //  bidding and leases
    OSMOSE_MSG_TASK = 5,            //  work on a lease
    OSMOSE_MSG_TYPE_LIMIT           //  first unknown type
} osmose_msg_type_t;

//  Build a frame of TYPE around SIZE bytes of BODY. Caller owns *frame_p.
int OSMOSE_CHECK
    osmose_msg_encode (osmose_msg_type_t type, const void *body, size_t size,
                       zframe_t **frame_p);

//  Check a received frame of SIZE bytes and find its body. Returns 0, or
//  OSMOSE_EPROTO (bad magic, version, type or length) or OSMOSE_ETOOBIG
//  (larger than MAX_SIZE). Never trusts anything in DATA.
int OSMOSE_CHECK
    osmose_msg_decode (const uint8_t *data, size_t size, size_t max_size,
                       osmose_msg_type_t *type_p, const uint8_t **body_p,
                       size_t *body_size_p);

//  Name of a message type, for logs.
const char *
    osmose_msg_type_name (int type);

void
    osmose_msg_test (bool verbose);

#endif
