/*  osmose_market_msg.c: codec of the bidding protocol (see
    osmose_market_msg.h). Encode refuses what decode would refuse, so a
    peer never sends what its own kind would drop.
*/
#include "osmose_prelude.h"
#include "osmose_market_msg.h"
#include "osmose_resources.h"
#include "osmose_wire.h"

#define S_BATTERY_NONE 255

static bool
s_count_ok (int64_t value)
{
    return value >= 0 && value <= OSMOSE_MARKET_MAX_COUNT;
}

static bool
s_memory_ok (int64_t value)
{
    return value >= 0 && value <= OSMOSE_MARKET_MAX_MEMORY_MB;
}

static bool
s_figures_ok (const osmose_market_msg_t *msg)
{
    return s_count_ok (msg->cpus) && s_count_ok (msg->gpus) && s_count_ok (msg->npus)
        && s_memory_ok (msg->memory_mb);
}

static void
s_put_figures (osmose_wire_writer_t *writer, const osmose_market_msg_t *msg)
{
    osmose_wire_put_u32 (writer, msg->cpus);
    osmose_wire_put_u32 (writer, msg->gpus);
    osmose_wire_put_u32 (writer, msg->npus);
    osmose_wire_put_u64 (writer, msg->memory_mb);
}

//  Figures are read wide and range-checked, so a huge u64 never wraps into
//  a small or negative int
static bool
s_get_figures (osmose_wire_reader_t *reader, osmose_market_msg_t *msg)
{
    uint64_t cpus = osmose_wire_get_u32 (reader);
    uint64_t gpus = osmose_wire_get_u32 (reader);
    uint64_t npus = osmose_wire_get_u32 (reader);
    uint64_t memory_mb = osmose_wire_get_u64 (reader);
    if (cpus > OSMOSE_MARKET_MAX_COUNT || gpus > OSMOSE_MARKET_MAX_COUNT
    ||  npus > OSMOSE_MARKET_MAX_COUNT || memory_mb > (uint64_t) OSMOSE_MARKET_MAX_MEMORY_MB)
        return false;
    msg->cpus = (int) cpus;
    msg->gpus = (int) gpus;
    msg->npus = (int) npus;
    msg->memory_mb = (int64_t) memory_mb;
    return true;
}

int
osmose_market_msg_encode (const osmose_market_msg_t *msg, uint8_t *buffer, size_t size)
{
    if (!msg || !buffer)
        return OSMOSE_EINVAL;
    osmose_wire_writer_t writer = { .data = buffer, .size = size };
    osmose_wire_put_u8 (&writer, OSMOSE_MARKET_MSG_VERSION);
    osmose_wire_put_u8 (&writer, msg->kind);
    switch (msg->kind) {
        case OSMOSE_MARKET_MSG_CALL_FOR_BIDS:
            if (!s_figures_ok (msg) || msg->latency_bound_us < 0)
                return OSMOSE_EINVAL;
            osmose_wire_put_u64 (&writer, msg->request);
            s_put_figures (&writer, msg);
            osmose_wire_put_u32 (&writer, msg->ttl_ms);
            osmose_wire_put_u64 (&writer, msg->latency_bound_us);
            break;
        case OSMOSE_MARKET_MSG_BID:
            if (!s_figures_ok (msg) || msg->power < 0 || msg->power > 2
            ||  msg->battery_percent < -1 || msg->battery_percent > 100
            ||  msg->load1 < 0)
                return OSMOSE_EINVAL;
            osmose_wire_put_u64 (&writer, msg->request);
            osmose_wire_put_u32 (&writer, msg->hold_us);
            s_put_figures (&writer, msg);
            osmose_wire_put_u8 (&writer, msg->power);
            osmose_wire_put_u8 (&writer, msg->battery_percent < 0?
                                S_BATTERY_NONE: msg->battery_percent);
            osmose_wire_put_u32 (&writer, msg->load1);
            if (msg->token_size > OSMOSE_TOKEN_MAX_SIZE)
                return OSMOSE_EINVAL;
            osmose_wire_put_u32 (&writer, msg->ttl_ms);
            osmose_wire_put_u16 (&writer, msg->token_size);
            osmose_wire_put_bytes (&writer, msg->token, msg->token_size);
            break;
        case OSMOSE_MARKET_MSG_REFUSE:
            osmose_wire_put_u64 (&writer, msg->request);
            osmose_wire_put_u8 (&writer, msg->reason);
            break;
        case OSMOSE_MARKET_MSG_AWARD:
        case OSMOSE_MARKET_MSG_REJECT:
            osmose_wire_put_u64 (&writer, msg->request);
            break;
        case OSMOSE_MARKET_MSG_RENEW:
        case OSMOSE_MARKET_MSG_RENEWED:
            if (msg->count < 1 || msg->count > OSMOSE_MARKET_MAX_BATCH)
                return OSMOSE_EINVAL;
            osmose_wire_put_u16 (&writer, msg->count);
            for (size_t index = 0; index < msg->count; index++) {
                const osmose_market_renewal_t *renewal = &msg->renewals [index];
                osmose_wire_put_bytes (&writer, renewal->lease_id, OSMOSE_LEASE_ID_SIZE);
                if (msg->kind == OSMOSE_MARKET_MSG_RENEW)
                    continue;
                if (renewal->token_size > OSMOSE_TOKEN_MAX_SIZE)
                    return OSMOSE_EINVAL;
                osmose_wire_put_u8 (&writer, renewal->reason);
                osmose_wire_put_u32 (&writer, renewal->ttl_ms);
                osmose_wire_put_u16 (&writer, renewal->token_size);
                osmose_wire_put_bytes (&writer, renewal->token, renewal->token_size);
            }
            break;
        case OSMOSE_MARKET_MSG_RELEASE:
        case OSMOSE_MARKET_MSG_REVOKE:
            osmose_wire_put_bytes (&writer, msg->lease_id, OSMOSE_LEASE_ID_SIZE);
            if (msg->kind == OSMOSE_MARKET_MSG_REVOKE)
                osmose_wire_put_u8 (&writer, msg->reason);
            break;
        default:
            return OSMOSE_EINVAL;
    }
    return writer.failed? OSMOSE_ETOOBIG: (int) writer.used;
}

static bool
s_decode_renewals (osmose_wire_reader_t *reader, osmose_market_msg_t *msg)
{
    msg->count = osmose_wire_get_u16 (reader);
    if (reader->failed || msg->count < 1 || msg->count > OSMOSE_MARKET_MAX_BATCH)
        return false;
    for (size_t index = 0; index < msg->count; index++) {
        osmose_market_renewal_t *renewal = &msg->renewals [index];
        osmose_wire_get_bytes (reader, renewal->lease_id, OSMOSE_LEASE_ID_SIZE);
        if (msg->kind == OSMOSE_MARKET_MSG_RENEW)
            continue;
        renewal->reason = osmose_wire_get_u8 (reader);
        renewal->ttl_ms = osmose_wire_get_u32 (reader);
        renewal->token_size = osmose_wire_get_u16 (reader);
        if (reader->failed || renewal->token_size > OSMOSE_TOKEN_MAX_SIZE)
            return false;
        osmose_wire_get_bytes (reader, renewal->token, renewal->token_size);
    }
    return !reader->failed;
}

static bool
s_decode_body (osmose_wire_reader_t *reader, osmose_market_msg_t *msg)
{
    switch (msg->kind) {
        case OSMOSE_MARKET_MSG_CALL_FOR_BIDS: {
            msg->request = osmose_wire_get_u64 (reader);
            if (!s_get_figures (reader, msg))
                return false;
            msg->ttl_ms = osmose_wire_get_u32 (reader);
            uint64_t bound = osmose_wire_get_u64 (reader);
            msg->latency_bound_us = (int64_t) bound;
            return bound <= (uint64_t) INT64_MAX;
        }
        case OSMOSE_MARKET_MSG_BID: {
            msg->request = osmose_wire_get_u64 (reader);
            msg->hold_us = osmose_wire_get_u32 (reader);
            if (!s_get_figures (reader, msg))
                return false;
            msg->power = osmose_wire_get_u8 (reader);
            int battery = osmose_wire_get_u8 (reader);
            uint32_t load1 = osmose_wire_get_u32 (reader);
            msg->battery_percent = battery == S_BATTERY_NONE? -1: battery;
            msg->load1 = (int) load1;
            msg->ttl_ms = osmose_wire_get_u32 (reader);
            msg->token_size = osmose_wire_get_u16 (reader);
            if (reader->failed || msg->token_size > OSMOSE_TOKEN_MAX_SIZE)
                return false;
            osmose_wire_get_bytes (reader, msg->token, msg->token_size);
            return msg->power <= 2 && msg->battery_percent <= 100 && load1 <= INT32_MAX;
        }
        case OSMOSE_MARKET_MSG_REFUSE:
            msg->request = osmose_wire_get_u64 (reader);
            msg->reason = osmose_wire_get_u8 (reader);
            return true;
        case OSMOSE_MARKET_MSG_AWARD:
        case OSMOSE_MARKET_MSG_REJECT:
            msg->request = osmose_wire_get_u64 (reader);
            return true;
        case OSMOSE_MARKET_MSG_RENEW:
        case OSMOSE_MARKET_MSG_RENEWED:
            return s_decode_renewals (reader, msg);
        case OSMOSE_MARKET_MSG_RELEASE:
        case OSMOSE_MARKET_MSG_REVOKE:
            osmose_wire_get_bytes (reader, msg->lease_id, OSMOSE_LEASE_ID_SIZE);
            if (msg->kind == OSMOSE_MARKET_MSG_REVOKE)
                msg->reason = osmose_wire_get_u8 (reader);
            return true;
        default:
            return false;
    }
}

int
osmose_market_msg_decode (const uint8_t *data, size_t size, osmose_market_msg_t *msg)
{
    if (!msg)
        return OSMOSE_EINVAL;
    //  Only the fixed part is cleared: the arrays are filled up to their counts
    memset (msg, 0, offsetof (osmose_market_msg_t, token));
    msg->count = 0;
    if (!data)
        return OSMOSE_EPROTO;
    osmose_wire_reader_t reader = { .data = data, .size = size };
    int version = osmose_wire_get_u8 (&reader);
    msg->kind = (osmose_market_kind_t) osmose_wire_get_u8 (&reader);
    if (reader.failed || version != OSMOSE_MARKET_MSG_VERSION
    ||  !s_decode_body (&reader, msg) || !osmose_wire_done (&reader)) {
        msg->kind = 0;
        msg->count = 0;
        return OSMOSE_EPROTO;
    }
    return 0;
}

const char *
osmose_market_kind_name (int kind)
{
    static const char *names [] = {
        "?", "CALL_FOR_BIDS", "BID", "REFUSE", "AWARD", "REJECT", "LEASE",
        "RENEW", "RENEWED", "RELEASE", "REVOKE"
    };
    return kind > 0 && kind < OSMOSE_MARKET_MSG_KIND_LIMIT? names [kind]: "?";
}

const char *
osmose_market_reason_name (int reason)
{
    static const char *names [] = {
        "ok", "policy", "battery", "capacity", "untrusted", "expired",
        "withdrawn", "peer down", "invalid", "busy", "released"
    };
    return reason >= 0 && reason < OSMOSE_MARKET_REASON_LIMIT? names [reason]: "?";
}

//  --------------------------------------------------------------------------
//  Self-test

//  Encode, decode, re-encode: the bytes must match; then damage them
static void
s_check_round_trip (const osmose_market_msg_t *msg)
{
    uint8_t bytes [OSMOSE_MARKET_MSG_MAX];
    int size = osmose_market_msg_encode (msg, bytes, sizeof (bytes));
    assert (size > 0);
    assert (osmose_market_msg_encode (msg, bytes, (size_t) size - 1) == OSMOSE_ETOOBIG);
    size = osmose_market_msg_encode (msg, bytes, sizeof (bytes));
    static osmose_market_msg_t copy;
    assert (osmose_market_msg_decode (bytes, (size_t) size, &copy) == 0);
    assert (copy.kind == msg->kind);
    uint8_t again [OSMOSE_MARKET_MSG_MAX];
    assert (osmose_market_msg_encode (&copy, again, sizeof (again)) == size);
    assert (memcmp (bytes, again, (size_t) size) == 0);

    //  Every truncation and one trailing byte are refused
    for (int cut = 0; cut < size; cut++)
        assert (osmose_market_msg_decode (bytes, (size_t) cut, &copy) == OSMOSE_EPROTO);
    bytes [size] = 0;
    assert (osmose_market_msg_decode (bytes, (size_t) size + 1, &copy) == OSMOSE_EPROTO);
    //  Random damage: decoded or refused, never a crash, and what decodes
    //  re-encodes to the same bytes
    for (int round = 0; round < 200; round++) {
        uint8_t damaged [OSMOSE_MARKET_MSG_MAX];
        memcpy (damaged, bytes, (size_t) size);
        int flips = 1 + (int) randombytes_uniform (4);
        for (int flip = 0; flip < flips; flip++)
            damaged [randombytes_uniform ((uint32_t) size)] = (uint8_t) randombytes_uniform (256);
        if (osmose_market_msg_decode (damaged, (size_t) size, &copy) == 0) {
            int resize = osmose_market_msg_encode (&copy, again, sizeof (again));
            assert (resize == size && memcmp (damaged, again, (size_t) size) == 0);
        }
        else
            assert (copy.kind == 0);
    }
}

void
osmose_market_msg_test (bool verbose)
{
    printf (" * osmose_market_msg: ");
    static osmose_market_msg_t msg;
    memset (&msg, 0, sizeof (msg));
    msg = (osmose_market_msg_t) {
        .kind = OSMOSE_MARKET_MSG_CALL_FOR_BIDS, .request = UINT64_C (0x0102030405060708),
        .cpus = 2, .gpus = 1, .npus = 0, .memory_mb = 2048, .ttl_ms = 10000,
        .latency_bound_us = 5000
    };
    s_check_round_trip (&msg);
    msg = (osmose_market_msg_t) {
        .kind = OSMOSE_MARKET_MSG_BID, .request = 7, .hold_us = 500000, .cpus = 3,
        .memory_mb = 100, .power = OSMOSE_POWER_BATTERY, .battery_percent = 80, .load1 = 150,
        .ttl_ms = 10000, .token_size = OSMOSE_TOKEN_SIZE
    };
    randombytes_buf (msg.token, OSMOSE_TOKEN_SIZE);
    s_check_round_trip (&msg);
    msg.battery_percent = -1;
    s_check_round_trip (&msg);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_REFUSE, .request = 9,
                                  .reason = OSMOSE_MARKET_BATTERY };
    s_check_round_trip (&msg);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_AWARD, .request = 9 };
    s_check_round_trip (&msg);
    msg.kind = OSMOSE_MARKET_MSG_REJECT;
    s_check_round_trip (&msg);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_RENEW, .count = 3 };
    for (int index = 0; index < 3; index++)
        randombytes_buf (msg.renewals [index].lease_id, OSMOSE_LEASE_ID_SIZE);
    s_check_round_trip (&msg);
    msg.kind = OSMOSE_MARKET_MSG_RENEWED;
    msg.count = OSMOSE_MARKET_MAX_BATCH;
    for (int index = 0; index < OSMOSE_MARKET_MAX_BATCH; index++) {
        osmose_market_renewal_t *renewal = &msg.renewals [index];
        randombytes_buf (renewal->lease_id, OSMOSE_LEASE_ID_SIZE);
        renewal->reason = index % 2? OSMOSE_MARKET_EXPIRED: OSMOSE_MARKET_OK;
        renewal->ttl_ms = 10000;
        renewal->token_size = index % 2? 0: OSMOSE_TOKEN_SIZE;
        randombytes_buf (renewal->token, renewal->token_size);
    }
    s_check_round_trip (&msg);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_RELEASE };
    randombytes_buf (msg.lease_id, OSMOSE_LEASE_ID_SIZE);
    s_check_round_trip (&msg);
    msg.kind = OSMOSE_MARKET_MSG_REVOKE;
    msg.reason = OSMOSE_MARKET_WITHDRAWN;
    s_check_round_trip (&msg);

    //  Encode refuses what decode would refuse
    uint8_t bytes [OSMOSE_MARKET_MSG_MAX];
    //  Version 1's LEASE is neither sent nor taken: the BID carries the lease
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_LEASE, .request = 11 };
    assert (osmose_market_msg_encode (&msg, bytes, sizeof (bytes)) == OSMOSE_EINVAL);
    const uint8_t lease [] = { OSMOSE_MARKET_MSG_VERSION, OSMOSE_MARKET_MSG_LEASE,
                               0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 39, 16, 0, 0 };
    static osmose_market_msg_t decoded;
    assert (osmose_market_msg_decode (lease, sizeof (lease), &decoded) == OSMOSE_EPROTO);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_CALL_FOR_BIDS, .cpus = -1 };
    assert (osmose_market_msg_encode (&msg, bytes, sizeof (bytes)) == OSMOSE_EINVAL);
    msg = (osmose_market_msg_t) { .kind = OSMOSE_MARKET_MSG_RENEW, .count = 0 };
    assert (osmose_market_msg_encode (&msg, bytes, sizeof (bytes)) == OSMOSE_EINVAL);
    msg.kind = 0;
    assert (osmose_market_msg_encode (&msg, bytes, sizeof (bytes)) == OSMOSE_EINVAL);

    //  Hostile input: huge counts and lengths, wrong version, unknown kind,
    //  huge figures, random bytes of every short length
    static osmose_market_msg_t out;
    const uint8_t huge_count [] = { OSMOSE_MARKET_MSG_VERSION, OSMOSE_MARKET_MSG_RENEW, 0xFF, 0xFF };
    assert (osmose_market_msg_decode (huge_count, sizeof (huge_count), &out) == OSMOSE_EPROTO);
    //  A BID whose token length says 65535, with 4 bytes behind it
    osmose_market_msg_t bid = { .kind = OSMOSE_MARKET_MSG_BID, .request = 3, .cpus = 1 };
    uint8_t huge_token [OSMOSE_MARKET_MSG_MAX];
    int bid_size = osmose_market_msg_encode (&bid, huge_token, sizeof (huge_token));
    assert (bid_size > 2);
    huge_token [bid_size - 2] = huge_token [bid_size - 1] = 0xFF;
    memset (huge_token + bid_size, 0, 4);
    assert (osmose_market_msg_decode (huge_token, (size_t) bid_size + 4, &out) == OSMOSE_EPROTO);
    //  Version 1 peers: their BID lacks the lease
    const uint8_t bad_version [] = { 1, OSMOSE_MARKET_MSG_AWARD, 0, 0, 0, 0, 0, 0, 0, 1 };
    assert (osmose_market_msg_decode (bad_version, sizeof (bad_version), &out) == OSMOSE_EPROTO);
    const uint8_t bad_kind [] = { OSMOSE_MARKET_MSG_VERSION, 99, 0, 0, 0, 0, 0, 0, 0, 1 };
    assert (osmose_market_msg_decode (bad_kind, sizeof (bad_kind), &out) == OSMOSE_EPROTO);
    uint8_t huge_cpus [2 + 8 + 12 + 8 + 4 + 8] = { OSMOSE_MARKET_MSG_VERSION, OSMOSE_MARKET_MSG_CALL_FOR_BIDS };
    memset (huge_cpus + 10, 0xFF, 4);
    assert (osmose_market_msg_decode (huge_cpus, sizeof (huge_cpus), &out) == OSMOSE_EPROTO);
    assert (osmose_market_msg_decode (NULL, 10, &out) == OSMOSE_EPROTO);
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        uint8_t noise [64];
        size_t size = randombytes_uniform (sizeof (noise) + 1);
        randombytes_buf (noise, size);
        if (size > 0)
            noise [0] = OSMOSE_MARKET_MSG_VERSION;
        if (size > 1)
            noise [1] = (uint8_t) (1 + round % (OSMOSE_MARKET_MSG_KIND_LIMIT - 1));
        if (osmose_market_msg_decode (noise, size, &out) == 0) {
            accepted++;
            uint8_t again [OSMOSE_MARKET_MSG_MAX];
            assert (osmose_market_msg_encode (&out, again, sizeof (again)) == (int) size);
            assert (memcmp (noise, again, size) == 0);
        }
    }
    assert (streq (osmose_market_kind_name (OSMOSE_MARKET_MSG_BID), "BID"));
    assert (streq (osmose_market_kind_name (0), "?"));
    assert (streq (osmose_market_reason_name (OSMOSE_MARKET_CAPACITY), "capacity"));
    assert (streq (osmose_market_reason_name (200), "?"));
    if (verbose)
        printf ("(%d of 20000 random bodies decoded) ", accepted);
    printf ("OK\n");
}
