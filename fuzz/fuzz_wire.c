/*  fuzz_wire.c: libFuzzer target for what peers and programs send over the
    wire to leasing: work-connection bodies (osmose_work_msg), bidding
    messages (osmose_market_msg) and lease tokens. Nothing may crash; what
    decodes must encode back to the same bytes, and a forged token must
    never check.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_work_msg.h"
#include "../src/osmose_market_msg.h"
#include "../src/osmose_token.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_work (const uint8_t *data, size_t size)
{
    osmose_work_msg_t msg;
    if (osmose_work_decode (data, size, &msg))
        return;
    osmose_work_item_t item;
    osmose_work_writer_t writer = { 0 };
    if (msg.kind == OSMOSE_WORK_TASKS || msg.kind == OSMOSE_WORK_RESULTS
    ||  msg.kind == OSMOSE_WORK_CANCEL) {
        //  Every item was checked by decode: reading them cannot fail,
        //  and writing them again gives the same body
        osmose_work_begin (&writer, msg.kind);
        uint32_t count = 0;
        while (osmose_work_next (&msg, &item)) {
            count++;
            if (msg.kind == OSMOSE_WORK_CANCEL)
                osmose_work_add_cancel (&writer, item.task_id);
            else
            if (msg.kind == OSMOSE_WORK_RESULTS && item.reason_size == strnlen (item.reason, item.reason_size)) {
                char reason [OSMOSE_WORK_MAX_REASON + 1];
                memcpy (reason, item.reason, item.reason_size);
                reason [item.reason_size] = 0;
                osmose_work_add_result (&writer, item.task_id, item.status, reason,
                                        item.data, item.data_size);
            }
            else
                writer.failed = true;      //  names with NULs: not comparable
        }
        if (count != msg.count)
            abort ();
        if (!writer.failed && msg.kind != OSMOSE_WORK_TASKS
        &&  (writer.size != size || memcmp (writer.data, data, size) != 0))
            abort ();
    }
    osmose_work_writer_free (&writer);
}

static void
s_market (const uint8_t *data, size_t size)
{
    static osmose_market_msg_t msg, again;
    if (osmose_market_msg_decode (data, size, &msg))
        return;
    uint8_t buffer [OSMOSE_MARKET_MSG_MAX];
    int encoded = osmose_market_msg_encode (&msg, buffer, sizeof (buffer));
    if (encoded < 0 || osmose_market_msg_decode (buffer, (size_t) encoded, &again))
        abort ();
}

static void
s_token (const uint8_t *data, size_t size)
{
    osmose_token_t token;
    //  No key signed these bytes: checking them against any key fails
    int rc = osmose_token_check (data, size, NULL, NULL, 0, &token);
    if (rc == 0 && size == OSMOSE_TOKEN_SIZE) {
        //  Only possible if the input is a real signature: the fuzzer
        //  cannot forge Ed25519, so this would be a verifier bug
        if (osmose_token_verify (&token) != 0)
            abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (sodium_init () < 0)
        abort ();
    if (size == 0)
        return 0;
    //  The first byte picks the decoder, the rest is its input
    switch (data [0] % 3) {
        case 0: s_work (data + 1, size - 1); break;
        case 1: s_market (data + 1, size - 1); break;
        default: s_token (data + 1, size - 1); break;
    }
    return 0;
}
