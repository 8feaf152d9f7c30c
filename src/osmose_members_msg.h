/*  osmose_members_msg.h: the wire format of the membership protocol.
    Private to osmose_members. Version 2, big-endian, explicit lengths:

    message = version:u8 type:u8 seq:u32 [extra] pulse:u8+bytes count:u16 record*
      extra: PING_REQ target:id8; SYNC_HASH hash:u64; SYNC_FULL flags:u8
      pulse: the sender's fast figures now (opaque, at most 32 bytes);
      the transport authenticates the sender, so it needs no signature
    record  = kind:u8 (state | 0x80 when info follows) id:8 incarnation:u32
              [suspecter:id8 when SUSPECT] [info]
    info    = incarnation:u32 key:32 endpoint:u8+text name:u8+text
              location:u8+text app:u16+bytes signature:64

    The signature covers "osmose-alive-v1", the id and the info up to the
    signature, made with the member's own key; a member keeps its info
    section as received so relays forward it byte for byte.
*/
#ifndef OSMOSE_MEMBERS_MSG_H_INCLUDED
#define OSMOSE_MEMBERS_MSG_H_INCLUDED

#include "osmose_members.h"

#define MEMBERS_MSG_VERSION 2
#define MEMBERS_IDB 8                 //  binary id bytes
#define MEMBERS_INFO_MAX (4 + OSMOSE_KEY_SIZE + 3 * (1 + OSMOSE_MEMBERS_TEXT_MAX) \
                    + 2 + OSMOSE_MEMBERS_APP_MAX + OSMOSE_SIG_SIZE)
#define MEMBERS_RECORD_MAX (1 + MEMBERS_IDB + 4 + MEMBERS_IDB + MEMBERS_INFO_MAX)
#define MEMBERS_ALIVE_DOMAIN "osmose-alive-v1"

typedef enum {
    MEMBERS_MSG_PING = 1,
    MEMBERS_MSG_ACK = 2,
    MEMBERS_MSG_PING_REQ = 3,
    MEMBERS_MSG_GOSSIP = 4,
    MEMBERS_MSG_JOIN = 5,
    MEMBERS_MSG_SYNC_HASH = 6,
    MEMBERS_MSG_SYNC_FULL = 7,
    MEMBERS_MSG_NACK = 8              //  a PING_REQ helper got no ACK in time
} members_msg_type_t;

#define MEMBERS_SYNC_REPLY_WANTED 1

typedef struct {
    uint8_t type;
    uint32_t seq;
    uint8_t target [MEMBERS_IDB];     //  PING_REQ
    uint64_t hash;              //  SYNC_HASH
    uint8_t flags;              //  SYNC_FULL
    uint8_t pulse_size;         //  the sender's pulse
    uint8_t pulse [OSMOSE_MEMBERS_PULSE_MAX];
    uint16_t count;             //  records that follow
} members_msg_header_t;

//  A decoded record; text and app point into the message (not terminated)
typedef struct {
    uint8_t state;
    uint8_t id [MEMBERS_IDB];
    uint32_t incarnation;
    uint8_t suspecter [MEMBERS_IDB];
    bool has_info;
    uint32_t info_incarnation;
    const uint8_t *public_key;
    const char *endpoint, *name, *location;
    uint8_t endpoint_size, name_size, location_size;
    const uint8_t *app;
    uint16_t app_size;
    const uint8_t *signature;
    const uint8_t *info_wire;   //  the whole info section, signature included
    size_t info_wire_size;
} members_record_t;

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} members_reader_t;

//  Writer over a caller's buffer; an overflow sets failed
typedef struct {
    uint8_t *data;
    size_t size;
    size_t pos;
    bool failed;
} members_writer_t;

//  Decode the header; then call members_msg_record COUNT times. 0 or OSMOSE_EPROTO
int
    members_msg_header (members_reader_t *reader, members_msg_header_t *header);
int
    members_msg_record (members_reader_t *reader, members_record_t *record);

void
    members_msg_write_header (members_writer_t *writer, const members_msg_header_t *header);
//  Offset of the count field, to patch once the records are written
size_t
    members_msg_count_offset (const members_msg_header_t *header);
void
    members_msg_write_record (members_writer_t *writer, uint8_t state, const uint8_t *id,
                              uint32_t incarnation, const uint8_t *suspecter,
                              const uint8_t *info_wire, size_t info_wire_size);
//  Encode an info section (unsigned: signature zeroed) into BUFFER of
//  MEMBERS_INFO_MAX bytes; returns its size
size_t
    members_msg_encode_info (uint8_t *buffer, uint32_t incarnation,
                             const uint8_t *public_key, const char *endpoint,
                             const char *name, const char *location,
                             const uint8_t *app, size_t app_size);
//  The bytes an ALIVE signature covers, into BUFFER (MEMBERS_INFO_MAX + 32)
size_t
    members_msg_signed_bytes (uint8_t *buffer, const uint8_t *id,
                              const uint8_t *info_wire, size_t info_wire_size);

//  Hex id <-> 8 bytes. Parse returns false on anything but 16 hex chars
bool
    members_msg_id_parse (const char *hex, uint8_t *id);
void
    members_msg_id_format (const uint8_t *id, char *hex);

#endif
