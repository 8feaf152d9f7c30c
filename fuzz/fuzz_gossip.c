/*  fuzz_gossip.c: libFuzzer target for the replication engine's message
    handling (osmose_gossip_receive): summaries, heads, wants, entries,
    replies, news, prunes, grafts and unlinks from view peers, with ticks
    and view changes between them. Nothing may crash or leak; our own
    feed is never changed by what others send; every message the engine
    queues is for a peer and fits a frame.

    Input: byte 0 picks the sender (one of three view peers) and, in its
    high bits, whether the view changes or a tick runs first; the rest is
    the message body.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_gossip.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_PEERS 3

static osmose_identity_t *s_identity;
static osmose_feed_t *s_feed;
static osmose_gossip_t *s_gossip;
static osmose_sth_t s_head;
static const char *s_ids [S_PEERS] = {
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "cccccccccccccccccccccccccccccccccccccccccccccccccccc"
};
static int64_t s_now;

//  Replicas are made only of feeds nobody writes: random keys never are
static bool
s_trusted (void *arg, const uint8_t *key)
{
    return false;
}

static void
s_setup (void)
{
    if (sodium_init () < 0)
        abort ();
    zsys_set_logstream (NULL);
    char dir [] = "/tmp/osmose-fuzz-gossip-XXXXXX";
    if (!mkdtemp (dir))
        abort ();
    char path [PATH_MAX], error [256];
    s_identity = osmose_identity_new ();
    snprintf (path, sizeof (path), "%s/log", dir);
    if (!s_identity || osmose_feed_open (path, s_identity, 0, error, sizeof (error), &s_feed))
        abort ();
    for (int index = 0; index < 5; index++) {
        uint64_t at;
        if (osmose_feed_append (s_feed, OSMOSE_ENTRY_EVENT, "fuzz", 4, 0, &at))
            abort ();
    }
    if (osmose_feed_commit (s_feed, true) || osmose_feed_head (s_feed, &s_head))
        abort ();
    osmose_gossip_params_t params;
    osmose_gossip_params_default (&params);
    params.trusted = s_trusted;
    snprintf (path, sizeof (path), "%s/feeds", dir);
    s_gossip = osmose_gossip_new (path, s_feed, &params, error, sizeof (error));
    if (!s_gossip)
        abort ();
    osmose_gossip_set_view (s_gossip, s_ids, S_PEERS);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_gossip)
        s_setup ();
    if (size < 1)
        return 0;
    const char *from = s_ids [data [0] % S_PEERS];
    if (data [0] & 0x40)                    //  a view without the sender
        osmose_gossip_set_view (s_gossip, s_ids, (size_t) (data [0] % S_PEERS));
    else
        osmose_gossip_set_view (s_gossip, s_ids, S_PEERS);
    s_now += 1000;
    if (data [0] & 0x80)
        s_now += 30000;                     //  old enough news for a lazy round
    osmose_gossip_receive (s_gossip, from, data + 1, size - 1, s_now);
    if (data [0] & 0x80)
        osmose_gossip_tick (s_gossip, s_now);
    osmose_gossip_out_t out;
    while (osmose_gossip_next_out (s_gossip, &out)) {
        if (out.size == 0 || strlen (out.to) == 0)
            abort ();
        free (out.data);
    }
    osmose_sth_t head;
    if (osmose_feed_head (s_feed, &head) || head.size != s_head.size
    ||  memcmp (head.root, s_head.root, sizeof (head.root)))
        abort ();                           //  what others said changed our feed
    return 0;
}
