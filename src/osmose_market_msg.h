/*  osmose_market_msg.h: the bidding protocol's messages (contract net).

    These are the bodies of OSMOSE_MSG_MARKET frames (osmose_msg): the
    daemon wraps what osmose_market emits in a frame and hands received
    bodies back. Every body starts with u8 version (1) and u8 kind; all
    integers are big-endian; variable parts carry explicit lengths and
    counts, each bounded; a body must be consumed exactly (no trailing
    bytes). Decoding never trusts the input: anything malformed is
    OSMOSE_EPROTO. Version 2: a BID carries the lease it would be, so the
    award is the last message of an acquisition (version 1 answered the
    AWARD with a LEASE, one more round trip).

    kind          fields after version, kind
    CALL_FOR_BIDS u64 request, u32 cpus, u32 gpus, u32 npus, u64 memory_mb,
                  u32 ttl_ms (0: provider's default), u64 latency_bound_us
    BID           u64 request, u32 hold_us (reservation held this long),
                  u32 free cpus, gpus, npus (after the reservation),
                  u64 free memory_mb, u8 power, u8 battery (255: none),
                  u32 load1, u32 ttl_ms, u16 token length, token (the
                  lease's, valid once awarded: by AWARD, or by the OPEN
                  that the client's program sends the provider with it)
    REFUSE        u64 request, u8 reason
    AWARD, REJECT u64 request
    LEASE         version 1's answer to AWARD: kind 6 stays reserved, and
                  is neither sent nor accepted (OSMOSE_EPROTO)
    RENEW         u16 count (1..MAX_BATCH), count x lease id
    RENEWED       u16 count, count x (lease id, u8 reason (0: renewed),
                  u32 ttl_ms, u16 token length, token (re-issued))
    RELEASE       lease id
    REVOKE        lease id, u8 reason

    Thread safety: pure functions over the caller's data.
*/
#ifndef OSMOSE_MARKET_MSG_H_INCLUDED
#define OSMOSE_MARKET_MSG_H_INCLUDED

#include "osmose_token.h"

#define OSMOSE_MARKET_MSG_VERSION   2
#define OSMOSE_MARKET_MAX_BATCH     16      //  leases in one RENEW / RENEWED
//  Largest encoded body: a full RENEWED
#define OSMOSE_MARKET_MSG_MAX \
    (5 + OSMOSE_MARKET_MAX_BATCH * (OSMOSE_LEASE_ID_SIZE + 7 + OSMOSE_TOKEN_MAX_SIZE))
//  Bounds on what a call for bids may ask (as resources adverts)
#define OSMOSE_MARKET_MAX_COUNT     65536
#define OSMOSE_MARKET_MAX_MEMORY_MB INT64_C (1000000000000)

typedef enum {
    OSMOSE_MARKET_MSG_CALL_FOR_BIDS = 1,
    OSMOSE_MARKET_MSG_BID = 2,
    OSMOSE_MARKET_MSG_REFUSE = 3,
    OSMOSE_MARKET_MSG_AWARD = 4,
    OSMOSE_MARKET_MSG_REJECT = 5,
    OSMOSE_MARKET_MSG_LEASE = 6,
    OSMOSE_MARKET_MSG_RENEW = 7,
    OSMOSE_MARKET_MSG_RENEWED = 8,
    OSMOSE_MARKET_MSG_RELEASE = 9,
    OSMOSE_MARKET_MSG_REVOKE = 10,
    OSMOSE_MARKET_MSG_KIND_LIMIT
} osmose_market_kind_t;

//  Why a provider refuses, revokes or fails a renewal, and why a client
//  loses a lease. Stable on the wire: add only at the end.
typedef enum {
    OSMOSE_MARKET_OK = 0,
    OSMOSE_MARKET_POLICY = 1,       //  client not in policy/allow, or nothing leasable
    OSMOSE_MARKET_BATTERY = 2,      //  provider on battery below the threshold
    OSMOSE_MARKET_CAPACITY = 3,     //  not enough free under the lease caps
    OSMOSE_MARKET_UNTRUSTED = 4,    //  key not trusted (the daemon's verdict)
    OSMOSE_MARKET_EXPIRED = 5,      //  bid or lease expired, or unknown
    OSMOSE_MARKET_WITHDRAWN = 6,    //  the owner took the resources back
    OSMOSE_MARKET_PEER_DOWN = 7,    //  membership says the other side is gone
    OSMOSE_MARKET_INVALID = 8,      //  request or token makes no sense
    OSMOSE_MARKET_BUSY = 9,         //  too many open reservations
    OSMOSE_MARKET_RELEASED = 10,    //  released by its holder
    OSMOSE_MARKET_REASON_LIMIT
} osmose_market_reason_t;

typedef struct {
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];
    uint8_t reason;                 //  osmose_market_reason_t
    uint32_t ttl_ms;
    uint16_t token_size;
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];
} osmose_market_renewal_t;

typedef struct {
    osmose_market_kind_t kind;
    uint64_t request;
    //  CALL_FOR_BIDS: wanted; BID: free after reservation
    int cpus;
    int gpus;
    int npus;
    int64_t memory_mb;
    uint32_t ttl_ms;                //  CALL_FOR_BIDS, BID
    int64_t latency_bound_us;       //  CALL_FOR_BIDS
    uint32_t hold_us;               //  BID
    int power;                      //  BID: osmose_power_t
    int battery_percent;            //  BID: -1 when none
    int load1;                      //  BID
    uint8_t reason;                 //  REFUSE, REVOKE
    uint8_t lease_id [OSMOSE_LEASE_ID_SIZE];    //  RELEASE, REVOKE
    uint16_t token_size;            //  BID
    uint8_t token [OSMOSE_TOKEN_MAX_SIZE];
    uint16_t count;                 //  RENEW, RENEWED
    osmose_market_renewal_t renewals [OSMOSE_MARKET_MAX_BATCH];
} osmose_market_msg_t;

//  Encode MSG into BUFFER of SIZE bytes. Returns the bytes written,
//  OSMOSE_EINVAL for an unknown kind or figures out of range, or
//  OSMOSE_ETOOBIG.
int OSMOSE_CHECK
    osmose_market_msg_encode (const osmose_market_msg_t *msg, uint8_t *buffer, size_t size);

//  Decode SIZE untrusted bytes into *msg. Returns 0 or OSMOSE_EPROTO
//  (*msg then holds no kind).
int OSMOSE_CHECK
    osmose_market_msg_decode (const uint8_t *data, size_t size, osmose_market_msg_t *msg);

//  Names for logs: "CALL_FOR_BIDS", "capacity"... ("?" when unknown).
const char *
    osmose_market_kind_name (int kind);
const char *
    osmose_market_reason_name (int reason);

void
    osmose_market_msg_test (bool verbose);

#endif
