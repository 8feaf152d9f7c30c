/*  osmose_gossip.c: feed replication engine (see osmose_gossip.h).

    Messages (the body of an OSMOSE_MSG_FEED frame), big-endian:
      'S' SUMMARY  u32 feeds, u64 entries, hash[32] of every (key,size,root)
      'H' HEADS    u32 count, count x signed head
      'W' WANT     key[32], u64 first
      'E' ENTRIES  signed head, u64 first, u32 count,
                   count x (u32 size, entry bytes), pushed; a chunk
                   that ends before the head is held until the rest
                   arrives
      'R' REPLY    the same, sent because WANT, GRAFT or HEADS asked
      'I' IHAVE    u32 count, count x signed head: news, lazily
      'P' PRUNE    key[32]: push this feed to me lazily from now on
      'G' GRAFT    u32 count, count x (key[32], u64 first): push these
                   feeds to me eagerly again, each starting with its
                   entries from FIRST
      'U' UNLINK   (empty) you left my view: I push you nothing now

    Each feed is pushed along its own spanning tree, in the manner of
    Plumtree: entries go eagerly to every view peer not pruned for that
    feed. A peer keeps two parents per feed, the first two to push it
    there, and prunes any other sender of a push that brings nothing new
    (a reply that crosses a push is no sign of a redundant edge). So a
    head costs two pushes per peer instead of one per view edge, and one
    lost edge (a view that changed, a peer that died) loses no time. The
    pruned peers hear of new heads lazily, a few of them a round, and
    graft back the sender of a head they lack, or of one they hold when
    they are down to one parent: a broken tree heals within a round, and
    anti-entropy is the backstop behind that. A peer that leaves our view
    is told so; it grafts, for each feed we pushed it, one of the peers it
    pruned for that feed, before any news is missed.
    News is a few milliseconds old before it is told, so that it rarely
    overtakes the push it is about and grafts an edge for nothing.
*/
#include "osmose_prelude.h"
#include "osmose_gossip.h"
#include "osmose_wire.h"
#include <dirent.h>

#define S_MAX_FEEDS 100000          //  a building of devices, with room
#define S_MAX_VIEW 64
#define S_MAX_PENDING (64 << 20)    //  bytes of a catch-up held before import
#define S_LAZY_FANOUT 4             //  view peers told of new heads per round
#define S_LAZY_DELAY_US 20000       //  age of news before it is told
#define S_PARENTS 2                 //  eager senders kept per feed
#define S_SPARES 2                  //  pruned senders remembered per feed
#define S_PARENT_MISSES 2           //  news a parent missed: it is gone
_Static_assert (S_MAX_VIEW <= 64, "a feed's lazy peers are bits of a uint64_t");

//  Entries received ahead of the head that will cover them: a feed far
//  behind is pulled in chunks, and imported once the last chunk arrives
typedef struct {
    osmose_sth_t sth;               //  the head the chunks lead to
    uint64_t first;                 //  index of the first pending entry
    uint8_t **entries;
    size_t *sizes;
    size_t count, limit, bytes;
} s_pending_t;

//  A peer that pushes us a feed, and our count of that feed's pushed news
//  when it last pushed it
typedef struct {
    char id [OSMOSE_ID_SIZE + 1];
    uint64_t seen;
} s_parent_t;

typedef struct {
    uint8_t key [OSMOSE_KEY_SIZE];
    osmose_feed_t *feed;
    bool own;
    s_pending_t *pending;           //  NULL unless a catch-up is under way
    uint64_t lazy;                  //  bit I: view [I] pruned us for this feed
    bool announce;                  //  grew since the last lazy round
    int64_t announced_us;           //  when it first grew since then
    s_parent_t parents [S_PARENTS]; //  who pushes it to us ("" for none)
    s_parent_t spares [S_SPARES];   //  whom we pruned for it, latest first
    uint64_t news;                  //  pushes that brought new entries
} s_feed_t;

//  The grafts one handling of a message asks of one peer, sent as one
//  GRAFT (an UNLINK may graft many feeds at once)
typedef struct {
    char to [OSMOSE_ID_SIZE + 1];
    uint8_t *data;
    size_t size, limit;
    uint32_t count;
} s_graft_batch_t;

struct _osmose_gossip_t {
    char *dir;
    osmose_gossip_params_t params;
    s_feed_t *feeds;                //  sorted by key
    size_t feed_count, feed_limit;
    char view [S_MAX_VIEW][OSMOSE_ID_SIZE + 1];
    size_t view_size;
    uint64_t own_pushed;            //  our feed's size last pushed to the view
    osmose_sth_t own_told;          //  its head then (size 0: none yet)
    int64_t now_us;                 //  the latest time we were given
    s_graft_batch_t grafts [S_MAX_VIEW];    //  GRAFTs being gathered, by peer
    size_t graft_count;
    int64_t next_summary;
    zlistx_t *outbox;               //  osmose_gossip_out_t *
    osmose_gossip_stats_t stats;
    uint8_t *entry_buffer;          //  OSMOSE_ENTRY_MAX bytes, for reads
};

//  --------------------------------------------------------------------
//  A bounded reader and a growing writer for message bodies

typedef struct {
    const uint8_t *data;
    size_t size, at;
    bool failed;
} s_reader_t;

static const uint8_t *
s_read_bytes (s_reader_t *reader, size_t size)
{
    if (reader->failed || size > reader->size - reader->at) {
        reader->failed = true;
        return NULL;
    }
    const uint8_t *bytes = reader->data + reader->at;
    reader->at += size;
    return bytes;
}

static uint64_t
s_read_uint (s_reader_t *reader, size_t width)
{
    const uint8_t *bytes = s_read_bytes (reader, width);
    return bytes? osmose_wire_be_get (bytes, width): 0;
}

//  A u32 count of items of ITEM_SIZE bytes each that fill the rest of
//  the message (per feed: at most S_MAX_FEEDS), or a failed reader
static uint64_t
s_read_count (s_reader_t *reader, size_t item_size)
{
    uint64_t count = s_read_uint (reader, 4);
    if (reader->failed || count > S_MAX_FEEDS || count * item_size != reader->size - reader->at)
        reader->failed = true;
    return reader->failed? 0: count;
}

typedef struct {
    uint8_t *data;
    size_t size, limit;
    bool failed;
} s_writer_t;

static void
s_write_bytes (s_writer_t *writer, const void *bytes, size_t size)
{
    if (writer->failed)
        return;
    if (writer->size + size > writer->limit) {
        size_t limit = writer->limit? writer->limit: 256;
        while (limit < writer->size + size)
            limit *= 2;
        uint8_t *data = (uint8_t *) realloc (writer->data, limit);
        if (!data) {
            writer->failed = true;
            return;
        }
        writer->data = data;
        writer->limit = limit;
    }
    memcpy (writer->data + writer->size, bytes, size);
    writer->size += size;
}

static void
s_write_uint (s_writer_t *writer, uint64_t value, size_t width)
{
    uint8_t bytes [8];
    osmose_wire_be_put (bytes, value, width);
    s_write_bytes (writer, bytes, width);
}

//  Queue WRITER's bytes for TO; takes the buffer
static void
s_send (osmose_gossip_t *self, const char *to, s_writer_t *writer)
{
    osmose_gossip_out_t *out = NULL;
    if (!writer->failed)
        out = (osmose_gossip_out_t *) zmalloc (sizeof (osmose_gossip_out_t));
    if (!out) {
        free (writer->data);
        return;
    }
    snprintf (out->to, sizeof (out->to), "%s", to);
    out->data = writer->data;
    out->size = writer->size;
    zlistx_add_end (self->outbox, out);
    self->stats.msgs_out++;
    self->stats.bytes_out += writer->size;
}

//  --------------------------------------------------------------------
//  The feed table

static int
s_compare_keys (const void *one, const void *two)
{
    return memcmp (((const s_feed_t *) one)->key, ((const s_feed_t *) two)->key,
                   OSMOSE_KEY_SIZE);
}

static s_feed_t *
s_find (osmose_gossip_t *self, const uint8_t *key)
{
    s_feed_t probe;
    memcpy (probe.key, key, OSMOSE_KEY_SIZE);
    return (s_feed_t *) bsearch (&probe, self->feeds, self->feed_count,
                                 sizeof (s_feed_t), s_compare_keys);
}

static int
s_add (osmose_gossip_t *self, const uint8_t *key, osmose_feed_t *feed, bool own)
{
    if (self->feed_count == S_MAX_FEEDS)
        return OSMOSE_ETOOBIG;
    if (self->feed_count == self->feed_limit) {
        size_t limit = self->feed_limit? self->feed_limit * 2: 16;
        s_feed_t *feeds = (s_feed_t *) realloc (self->feeds, limit * sizeof (s_feed_t));
        if (!feeds)
            return OSMOSE_ENOMEM;
        self->feeds = feeds;
        self->feed_limit = limit;
    }
    s_feed_t *slot = &self->feeds [self->feed_count++];
    memcpy (slot->key, key, OSMOSE_KEY_SIZE);
    slot->feed = feed;
    slot->own = own;
    slot->pending = NULL;
    slot->lazy = 0;
    slot->announce = false;
    memset (slot->parents, 0, sizeof (slot->parents));
    memset (slot->spares, 0, sizeof (slot->spares));
    slot->news = 0;
    qsort (self->feeds, self->feed_count, sizeof (s_feed_t), s_compare_keys);
    return 0;
}

//  Open (creating when CREATE) the replica of KEY
static s_feed_t *
s_replica (osmose_gossip_t *self, const uint8_t *key, bool create)
{
    s_feed_t *known = s_find (self, key);
    if (known || !create)
        return known;
    if (self->params.trusted && !self->params.trusted (self->params.trusted_arg, key))
        return NULL;
    char hex [2 * OSMOSE_KEY_SIZE + 1], path [PATH_MAX], error [256];
    sodium_bin2hex (hex, sizeof (hex), key, OSMOSE_KEY_SIZE);
    snprintf (path, sizeof (path), "%s/%s", self->dir, hex);
    osmose_feed_t *feed = NULL;
    if (osmose_feed_open (path, NULL, OSMOSE_FEED_REPLICA, error, sizeof (error), &feed)) {
        zsys_warning ("osmose: gossip: cannot open replica %s: %s", path, error);
        return NULL;
    }
    //  A replica can be fetched again from the mesh: its fsyncs are
    //  grouped widely, so a burst of imports does not stall the peer
    osmose_feed_set_fsync (feed, OSMOSE_FSYNC_GROUP, 1000);
    if (s_add (self, key, feed, false)) {
        osmose_feed_destroy (&feed);
        return NULL;
    }
    return s_find (self, key);
}

//  Where ID stands in our view, or -1
static int
s_view_index (osmose_gossip_t *self, const char *id)
{
    for (size_t index = 0; index < self->view_size; index++)
        if (streq (self->view [index], id))
            return (int) index;
    return -1;
}

//  Size and root of a feed's latest signed head (0 and zeros if none)
static uint64_t
s_head (s_feed_t *slot, osmose_sth_t *sth)
{
    if (osmose_feed_head (slot->feed, sth) != 0) {
        memset (sth, 0, sizeof (*sth));
        return 0;
    }
    return sth->size;
}

//  The head of SLOT's feed that we tell others of: of our own feed, the
//  one last pushed. Entries signed since wait for their push (the peer
//  paces them); a summary or news naming them would only have replicas
//  pull them early, one by one, and undo the pacing.
static uint64_t
s_told_head (osmose_gossip_t *self, s_feed_t *slot, osmose_sth_t *sth)
{
    if (slot->own && self->own_told.size) {
        *sth = self->own_told;
        return sth->size;
    }
    return s_head (slot, sth);
}

static void
s_summary (osmose_gossip_t *self, uint64_t *entries_p, uint8_t *hash)
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, OSMOSE_HASH_SIZE);
    uint64_t entries = 0;
    for (size_t index = 0; index < self->feed_count; index++) {
        osmose_sth_t sth;
        uint64_t size = s_told_head (self, &self->feeds [index], &sth);
        if (size == 0)
            continue;
        uint8_t size_bytes [8];
        osmose_wire_be_put (size_bytes, size, 8);
        crypto_generichash_update (&state, self->feeds [index].key, OSMOSE_KEY_SIZE);
        crypto_generichash_update (&state, size_bytes, 8);
        crypto_generichash_update (&state, sth.root, OSMOSE_HASH_SIZE);
        entries += size;
    }
    crypto_generichash_final (&state, hash, OSMOSE_HASH_SIZE);
    *entries_p = entries;
}

//  --------------------------------------------------------------------
//  Building messages

//  Write the chunk of SLOT's entries from FIRST (at most chunk_entries,
//  about chunk_bytes) under our latest head of that feed into WRITER, as
//  KIND ('E' a push, 'R' a reply); the index reached, or FIRST when there
//  is nothing to send (WRITER then holds nothing)
static uint64_t
s_write_entries (osmose_gossip_t *self, s_writer_t *writer, s_feed_t *slot, uint64_t first,
                 uint8_t kind)
{
    osmose_sth_t sth;
    uint64_t head_size = s_head (slot, &sth);
    if (head_size <= first)
        return first;
    uint64_t end = head_size - first > self->params.chunk_entries?
                   first + self->params.chunk_entries: head_size;
    s_write_bytes (writer, &kind, 1);
    uint8_t sth_bytes [OSMOSE_STH_SIZE];
    osmose_sth_encode (&sth, sth_bytes);
    s_write_bytes (writer, sth_bytes, sizeof (sth_bytes));
    s_write_uint (writer, first, 8);
    size_t count_at = writer->size;
    s_write_uint (writer, 0, 4);
    uint64_t index = first;
    for (; index < end && !writer->failed && writer->size < self->params.chunk_bytes; index++) {
        size_t size = 0;
        osmose_entry_t entry;
        if (osmose_feed_entry (slot->feed, index, self->entry_buffer, &size, &entry) != 0) {
            writer->failed = true;
            break;
        }
        s_write_uint (writer, size, 4);
        s_write_bytes (writer, self->entry_buffer, size);
    }
    if (writer->failed || index == first) {
        free (writer->data);
        *writer = (s_writer_t) { NULL, 0, 0, false };
        return first;
    }
    osmose_wire_be_put (writer->data + count_at, index - first, 4);
    return index;
}

//  Queue for TO the chunk of SLOT's entries from FIRST; the index reached
static uint64_t
s_send_entries (osmose_gossip_t *self, const char *to, s_feed_t *slot, uint64_t first,
                uint8_t kind)
{
    s_writer_t writer = { NULL, 0, 0, false };
    uint64_t end = s_write_entries (self, &writer, slot, first, kind);
    if (end > first)
        s_send (self, to, &writer);
    return end;
}

static void
s_send_heads (osmose_gossip_t *self, const char *to)
{
    s_writer_t writer = { NULL, 0, 0, false };
    uint8_t kind = 'H';
    s_write_bytes (&writer, &kind, 1);
    size_t count_at = writer.size;
    s_write_uint (&writer, 0, 4);
    uint32_t count = 0;
    for (size_t index = 0; index < self->feed_count; index++) {
        osmose_sth_t sth;
        if (s_told_head (self, &self->feeds [index], &sth) == 0)
            continue;
        uint8_t bytes [OSMOSE_STH_SIZE];
        osmose_sth_encode (&sth, bytes);
        s_write_bytes (&writer, bytes, sizeof (bytes));
        count++;
    }
    if (!writer.failed)
        osmose_wire_be_put (writer.data + count_at, count, 4);
    s_send (self, to, &writer);
}

static void
s_send_want (osmose_gossip_t *self, const char *to, const uint8_t *key, uint64_t first)
{
    s_writer_t writer = { NULL, 0, 0, false };
    uint8_t kind = 'W';
    s_write_bytes (&writer, &kind, 1);
    s_write_bytes (&writer, key, OSMOSE_KEY_SIZE);
    s_write_uint (&writer, first, 8);
    s_send (self, to, &writer);
}

static void
s_send_prune (osmose_gossip_t *self, const char *to, const uint8_t *key)
{
    s_writer_t writer = { NULL, 0, 0, false };
    uint8_t kind = 'P';
    s_write_bytes (&writer, &kind, 1);
    s_write_bytes (&writer, key, OSMOSE_KEY_SIZE);
    s_send (self, to, &writer);
    self->stats.prunes++;
}

//  Queue the GRAFTs gathered so far
static void
s_grafts_flush (osmose_gossip_t *self)
{
    for (size_t index = 0; index < self->graft_count; index++) {
        s_graft_batch_t *batch = &self->grafts [index];
        s_writer_t writer = { batch->data, batch->size, batch->limit, batch->count == 0 };
        if (batch->count)
            osmose_wire_be_put (writer.data + 1, batch->count, 4);
        s_send (self, batch->to, &writer);      //  (frees a batch without grafts)
    }
    self->graft_count = 0;
}

//  Ask TO for KEY's feed eagerly, from entry FIRST on: gathered with the
//  other grafts for TO, sent by s_grafts_flush
static void
s_send_graft (osmose_gossip_t *self, const char *to, const uint8_t *key, uint64_t first)
{
    size_t index = 0;
    while (index < self->graft_count && !streq (self->grafts [index].to, to))
        index++;
    if (index == S_MAX_VIEW) {
        s_grafts_flush (self);
        index = 0;
    }
    s_graft_batch_t *batch = &self->grafts [index];
    s_writer_t writer = { NULL, 0, 0, false };
    if (index == self->graft_count) {
        uint8_t kind = 'G';
        s_write_bytes (&writer, &kind, 1);
        s_write_uint (&writer, 0, 4);
        snprintf (batch->to, sizeof (batch->to), "%s", to);
        batch->count = 0;
        self->graft_count++;
    }
    else
        writer = (s_writer_t) { batch->data, batch->size, batch->limit, false };
    size_t before = writer.size;
    s_write_bytes (&writer, key, OSMOSE_KEY_SIZE);
    s_write_uint (&writer, first, 8);
    batch->data = writer.data;
    batch->limit = writer.limit;
    //  Out of memory, the graft is left out: a later lazy round retries
    batch->size = writer.failed? before: writer.size;
    batch->count += !writer.failed && before > 0;
    self->stats.grafts += !writer.failed && before > 0;
}

static void
s_send_summary (osmose_gossip_t *self, const char *to)
{
    uint64_t entries;
    uint8_t hash [OSMOSE_HASH_SIZE];
    s_summary (self, &entries, hash);
    s_writer_t writer = { NULL, 0, 0, false };
    uint8_t kind = 'S';
    s_write_bytes (&writer, &kind, 1);
    s_write_uint (&writer, self->feed_count, 4);
    s_write_uint (&writer, entries, 8);
    s_write_bytes (&writer, hash, sizeof (hash));
    s_send (self, to, &writer);
}

//  --------------------------------------------------------------------
//  Handling messages

//  Is the encoded head STH_BYTES the very head we hold of SLOT's feed?
//  (We checked its signature when we stored it.)
static bool
s_same_head (s_feed_t *slot, const uint8_t *sth_bytes)
{
    osmose_sth_t ours;
    if (osmose_feed_head (slot->feed, &ours) != 0)
        return false;
    uint8_t bytes [OSMOSE_STH_SIZE];
    osmose_sth_encode (&ours, bytes);
    return memcmp (bytes, sth_bytes, OSMOSE_STH_SIZE) == 0;
}

static void
s_receive_summary (osmose_gossip_t *self, const char *from, s_reader_t *reader)
{
    s_read_uint (reader, 4);
    s_read_uint (reader, 8);
    const uint8_t *hash = s_read_bytes (reader, OSMOSE_HASH_SIZE);
    if (reader->failed || reader->at != reader->size)
        return;
    uint64_t entries;
    uint8_t ours [OSMOSE_HASH_SIZE];
    s_summary (self, &entries, ours);
    if (memcmp (hash, ours, OSMOSE_HASH_SIZE) != 0)
        s_send_heads (self, from);
}

//  A validly signed head that contradicts what we hold of SLOT is a fork:
//  reported, and true
static bool
s_forked (osmose_gossip_t *self, s_feed_t *slot, const osmose_sth_t *sth)
{
    osmose_fork_t fork;
    if (!slot || slot->own || osmose_feed_check_head (slot->feed, sth, &fork) != OSMOSE_EFORK)
        return false;
    self->stats.forks++;
    if (self->params.on_news)
        self->params.on_news (self->params.news_arg, slot->feed, 0, 0, &fork);
    return true;
}

//  Their heads: pull what we lack, push what they lack
static void
s_receive_heads (osmose_gossip_t *self, const char *from, s_reader_t *reader)
{
    uint64_t count = s_read_count (reader, OSMOSE_STH_SIZE);
    if (reader->failed)
        return;
    //  Feeds they did not list start for them at zero
    bool *listed = (bool *) calloc (self->feed_count + 1, sizeof (bool));
    if (!listed)
        return;
    size_t known_count = self->feed_count;
    for (uint64_t index = 0; index < count; index++) {
        osmose_sth_t sth;
        const uint8_t *bytes = s_read_bytes (reader, OSMOSE_STH_SIZE);
        if (!bytes || osmose_sth_decode (bytes, OSMOSE_STH_SIZE, &sth) != 0) {
            self->stats.rejected++;
            continue;
        }
        s_feed_t *slot = s_find (self, sth.feed);
        if (slot && (size_t) (slot - self->feeds) < known_count)
            listed [slot - self->feeds] = true;
        //  Summaries differ when one feed does, yet the heads list all of
        //  them: most are byte for byte the head we hold, with nothing to
        //  do, and a signature check each (128 of them with 128 peers)
        //  made anti-entropy the largest CPU cost of a mesh converging
        if (slot && s_same_head (slot, bytes))
            continue;
        if (osmose_sth_verify (&sth) != 0) {
            self->stats.rejected++;
            continue;
        }
        if (s_forked (self, slot, &sth))
            continue;
        osmose_sth_t ours;
        uint64_t our_size = slot? s_head (slot, &ours): 0;
        if (slot && our_size > sth.size)
            s_send_entries (self, from, slot, sth.size, 'R');
        else
        if (sth.size > our_size && !(slot && slot->own)
        &&  (!self->params.trusted || self->params.trusted (self->params.trusted_arg, sth.feed)))
            s_send_want (self, from, sth.feed, our_size);
    }
    for (size_t index = 0; index < known_count && index < self->feed_count; index++)
        if (!listed [index])
            s_send_entries (self, from, &self->feeds [index], 0, 'R');
    free (listed);
}

static void
s_receive_want (osmose_gossip_t *self, const char *from, s_reader_t *reader)
{
    const uint8_t *key = s_read_bytes (reader, OSMOSE_KEY_SIZE);
    uint64_t first = s_read_uint (reader, 8);
    if (reader->failed || reader->at != reader->size)
        return;
    s_feed_t *slot = s_find (self, key);
    if (slot)
        s_send_entries (self, from, slot, first, 'R');
}

//  FROM's place among the parents of SLOT's feed, or NULL: a parent keeps
//  its place; a newcomer takes a free one (or one whose parent is gone),
//  or, when FIRST (its push brought news, or we graft it), the stalest
//  parent's, whose next push, now redundant, prunes it. A push from
//  anyone without a place is redundant.
static s_parent_t *
s_parent_place (s_feed_t *slot, const char *from, bool first)
{
    s_parent_t *vacant = NULL, *stalest = &slot->parents [0];
    for (size_t index = 0; index < S_PARENTS; index++) {
        s_parent_t *parent = &slot->parents [index];
        if (streq (parent->id, from)) {
            parent->seen = slot->news;
            return parent;
        }
        if (!*parent->id || slot->news - parent->seen >= S_PARENT_MISSES)
            vacant = parent;
        if (parent->seen < stalest->seen)
            stalest = parent;
    }
    if (!vacant && first)
        vacant = stalest;
    if (vacant) {
        snprintf (vacant->id, sizeof (vacant->id), "%s", from);
        vacant->seen = slot->news;
    }
    return vacant;
}

//  A push of SLOT's feed from FROM; NEWS when it brought entries we lacked
static void
s_pushed (osmose_gossip_t *self, const char *from, s_feed_t *slot, bool news)
{
    if (news)
        slot->news++;
    if (!slot->own && s_parent_place (slot, from, news))
        return;
    s_send_prune (self, from, slot->key);
    if (slot->own)
        return;
    //  A pruned sender had us in its view: a graft makes it a parent
    if (!streq (slot->spares [0].id, from)) {
        memmove (&slot->spares [1], &slot->spares [0], (S_SPARES - 1) * sizeof (s_parent_t));
        snprintf (slot->spares [0].id, sizeof (slot->spares [0].id), "%s", from);
    }
}

//  Parents of SLOT's feed that still push it to us, FROM aside (its news
//  comes lazily, so it no longer does)
static size_t
s_parents_live (s_feed_t *slot, const char *from)
{
    size_t live = 0;
    for (size_t index = 0; index < S_PARENTS; index++) {
        s_parent_t *parent = &slot->parents [index];
        live += *parent->id && !streq (parent->id, from)
             && slot->news - parent->seen < S_PARENT_MISSES;
    }
    return live;
}

//  Graft FROM for SLOT's feed (NULL: one we do not hold yet), from FIRST,
//  and take it as a parent, in the place of the stalest one if need be
static void
s_graft (osmose_gossip_t *self, const char *from, s_feed_t *slot, const uint8_t *key,
         uint64_t first)
{
    s_send_graft (self, from, key, first);
    if (slot && !slot->own)
        s_parent_place (slot, from, true);
}

//  News from a peer that pushes to us lazily: a head we lack means our
//  tree lost an edge, so we graft that peer back for the feed
static void
s_receive_ihave (osmose_gossip_t *self, const char *from, s_reader_t *reader)
{
    uint64_t count = s_read_count (reader, OSMOSE_STH_SIZE);
    if (reader->failed)
        return;
    for (uint64_t index = 0; index < count; index++) {
        osmose_sth_t sth;
        const uint8_t *bytes = s_read_bytes (reader, OSMOSE_STH_SIZE);
        if (osmose_sth_decode (bytes, OSMOSE_STH_SIZE, &sth) != 0) {
            self->stats.rejected++;
            continue;
        }
        s_feed_t *slot = s_find (self, sth.feed);
        if (slot && slot->own)
            continue;
        if (slot && s_same_head (slot, bytes)) {
            //  Down to one parent: this peer, which has it, is the second
            if (s_parents_live (slot, from) < S_PARENTS)
                s_graft (self, from, slot, sth.feed, sth.size);
            continue;
        }
        osmose_sth_t ours;
        uint64_t our_size = slot? s_head (slot, &ours): 0;
        if ((slot && sth.size < our_size) || (slot && slot->pending))
            continue;               //  old news, or a catch-up under way
        if (osmose_sth_verify (&sth) != 0) {
            self->stats.rejected++;
            continue;
        }
        if (s_forked (self, slot, &sth) || sth.size == our_size)
            continue;
        if (!self->params.trusted || self->params.trusted (self->params.trusted_arg, sth.feed))
            s_graft (self, from, slot, sth.feed, our_size);
    }
}

//  PRUNE: FROM holds what we push of that feed before we do
static void
s_receive_prune (osmose_gossip_t *self, const char *from, s_reader_t *reader)
{
    const uint8_t *key = s_read_bytes (reader, OSMOSE_KEY_SIZE);
    if (reader->failed || reader->at != reader->size)
        return;
    s_feed_t *slot = s_find (self, key);
    int index = s_view_index (self, from);
    if (slot && index >= 0)
        slot->lazy |= (uint64_t) 1 << index;
}

//  GRAFT: FROM wants these feeds pushed again, and lacks their entries
//  from each FIRST on
static void
s_receive_graft (osmose_gossip_t *self, const char *from, s_reader_t *reader)
{
    uint64_t count = s_read_count (reader, OSMOSE_KEY_SIZE + 8);
    if (reader->failed)
        return;
    int index = s_view_index (self, from);
    for (uint64_t graft = 0; graft < count; graft++) {
        const uint8_t *key = s_read_bytes (reader, OSMOSE_KEY_SIZE);
        uint64_t first = s_read_uint (reader, 8);
        s_feed_t *slot = s_find (self, key);
        if (slot && index >= 0)
            slot->lazy &= ~((uint64_t) 1 << index);
        if (slot)
            s_send_entries (self, from, slot, first, 'R');
    }
}

//  UNLINK: FROM no longer pushes us anything. Where it was a parent, the
//  latest spare of that feed takes its place.
static void
s_receive_unlink (osmose_gossip_t *self, const char *from, s_reader_t *reader)
{
    if (reader->at != reader->size) {
        reader->failed = true;
        return;
    }
    for (size_t index = 0; index < self->feed_count; index++) {
        s_feed_t *slot = &self->feeds [index];
        for (size_t at = 0; at < S_PARENTS; at++)
            if (streq (slot->parents [at].id, from)) {
                *slot->parents [at].id = 0;
                for (size_t spare = 0; spare < S_SPARES; spare++)
                    if (*slot->spares [spare].id && !streq (slot->spares [spare].id, from)) {
                        char id [OSMOSE_ID_SIZE + 1];
                        snprintf (id, sizeof (id), "%s", slot->spares [spare].id);
                        *slot->spares [spare].id = 0;
                        s_graft (self, id, slot, slot->key, osmose_feed_size (slot->feed));
                        break;
                    }
            }
    }
}

//  Tell up to S_LAZY_FANOUT random view peers the new heads they get
//  lazily: the feeds that grew since the last round and pruned them
static bool
s_ripe (osmose_gossip_t *self, const s_feed_t *slot)
{
    return slot->announce && self->now_us - slot->announced_us >= S_LAZY_DELAY_US;
}

static void
s_lazy_round (osmose_gossip_t *self)
{
    bool news = false;
    for (size_t index = 0; index < self->feed_count && !news; index++)
        news = s_ripe (self, &self->feeds [index]) && self->feeds [index].lazy;
    size_t start = self->view_size? randombytes_uniform ((uint32_t) self->view_size): 0;
    size_t told = 0;
    for (size_t step = 0; news && step < self->view_size && told < S_LAZY_FANOUT; step++) {
        size_t member = (start + step) % self->view_size;
        s_writer_t writer = { NULL, 0, 0, false };
        uint8_t kind = 'I';
        s_write_bytes (&writer, &kind, 1);
        s_write_uint (&writer, 0, 4);
        uint32_t count = 0;
        for (size_t index = 0; index < self->feed_count; index++) {
            s_feed_t *slot = &self->feeds [index];
            osmose_sth_t sth;
            if (!s_ripe (self, slot) || !((slot->lazy >> member) & 1)
            ||  s_told_head (self, slot, &sth) == 0)
                continue;
            uint8_t bytes [OSMOSE_STH_SIZE];
            osmose_sth_encode (&sth, bytes);
            s_write_bytes (&writer, bytes, sizeof (bytes));
            count++;
        }
        if (count == 0 || writer.failed) {
            free (writer.data);
            continue;
        }
        osmose_wire_be_put (writer.data + 1, count, 4);
        s_send (self, self->view [member], &writer);
        told++;
    }
    for (size_t index = 0; index < self->feed_count; index++)
        if (s_ripe (self, &self->feeds [index]))
            self->feeds [index].announce = false;
}

//  Push new entries of SLOT along its tree: to the view peers that did
//  not prune us for it, not back to FROM (NULL: our own entries). The
//  pruned ones hear of them in the next lazy round. The message is made
//  once for all of them: from RAW (RAW_SIZE bytes) when it is the chunk
//  we just imported, every entry of it new, else read from the feed.
static void
s_push (osmose_gossip_t *self, const char *from, s_feed_t *slot, uint64_t first,
        const uint8_t *raw, size_t raw_size)
{
    s_writer_t message = { NULL, 0, 0, false };
    for (size_t index = 0; index < self->view_size; index++) {
        if (((slot->lazy >> index) & 1) || (from && streq (self->view [index], from)))
            continue;
        if (!message.data && !message.failed) {
            if (raw)
                s_write_bytes (&message, raw, raw_size);
            else
                s_write_entries (self, &message, slot, first, 'E');
            if (!message.data)
                break;              //  nothing to send, or no memory
            message.data [0] = 'E';     //  a pulled chunk goes on as a push
        }
        s_writer_t copy = { NULL, 0, 0, false };
        s_write_bytes (&copy, message.data, message.size);
        s_send (self, self->view [index], &copy);
    }
    free (message.data);
    if (!slot->announce)
        slot->announced_us = self->now_us;
    slot->announce = true;
}

static void
s_pending_destroy (s_pending_t **pending_p)
{
    if (*pending_p) {
        for (size_t index = 0; index < (*pending_p)->count; index++)
            free ((*pending_p)->entries [index]);
        free ((*pending_p)->entries);
        free ((*pending_p)->sizes);
        free (*pending_p);
        *pending_p = NULL;
    }
}

//  Keep copies of entries [FIRST, FIRST + COUNT) until their head's chunk
//  arrives. False when they do not continue what is pending, or too much is.
static bool
s_pending_add (s_feed_t *slot, const osmose_sth_t *sth, uint64_t first,
               const uint8_t **entries, const size_t *sizes, size_t count)
{
    s_pending_t *pending = slot->pending;
    if (!pending) {
        pending = slot->pending = (s_pending_t *) zmalloc (sizeof (s_pending_t));
        if (!pending)
            return false;
        pending->first = first;
    }
    if (first != pending->first + pending->count
    ||  memcmp (&pending->sth, sth, sizeof (*sth)) != 0) {
        if (pending->count) {
            s_pending_destroy (&slot->pending);
            return false;
        }
        pending->sth = *sth;
    }
    for (size_t index = 0; index < count; index++) {
        if (pending->bytes + sizes [index] > S_MAX_PENDING)
            return false;
        if (pending->count == pending->limit) {
            size_t limit = pending->limit? pending->limit * 2: 1024;
            uint8_t **more = (uint8_t **) realloc (pending->entries, limit * sizeof (uint8_t *));
            size_t *more_sizes = more? (size_t *) realloc (pending->sizes, limit * sizeof (size_t)): NULL;
            if (more)
                pending->entries = more;
            if (!more || !more_sizes)
                return false;
            pending->sizes = more_sizes;
            pending->limit = limit;
        }
        uint8_t *copy = (uint8_t *) malloc (sizes [index]? sizes [index]: 1);
        if (!copy)
            return false;
        memcpy (copy, entries [index], sizes [index]);
        pending->entries [pending->count] = copy;
        pending->sizes [pending->count++] = sizes [index];
        pending->bytes += sizes [index];
    }
    return true;
}

//  Import into SLOT, report news and forward; FROM sent it
static void
s_import (osmose_gossip_t *self, const char *from, s_feed_t *slot, uint64_t first,
          const uint8_t **entries, const size_t *sizes, size_t count,
          const osmose_sth_t *sth, bool pushed, const s_reader_t *raw)
{
    uint64_t before = osmose_feed_size (slot->feed);
    osmose_fork_t fork;
    int rc = osmose_feed_import (slot->feed, first, entries, sizes, count, sth, &fork);
    if (rc == 0) {
        uint64_t after = osmose_feed_size (slot->feed);
        if (after > before) {
            self->stats.imported += after - before;
            if (self->params.on_news)
                self->params.on_news (self->params.news_arg, slot->feed, before,
                                      after - before, NULL);
            if (pushed)
                s_pushed (self, from, slot, true);
            //  Every entry of the message new: it goes on as it came
            bool whole = raw && before == first && after == first + count;
            s_push (self, from, slot, before, whole? raw->data: NULL, whole? raw->size: 0);
        }
        else {
            self->stats.duplicates += count;
            if (pushed)
                s_pushed (self, from, slot, false);
        }
    }
    else
    if (rc == OSMOSE_ERANGE)
        s_send_want (self, from, sth->feed, before);
    else
    if (rc == OSMOSE_EFORK) {
        self->stats.forks++;
        if (self->params.on_news)
            self->params.on_news (self->params.news_arg, slot->feed, 0, 0, &fork);
    }
    else {
        self->stats.rejected++;
        //  A validly signed head whose suffix does not fit what we hold is
        //  either damage or a fork; only the whole history tells which
        if (rc == OSMOSE_EVERIFY && first > 0 && osmose_sth_verify (sth) == 0)
            s_send_want (self, from, sth->feed, 0);
    }
}

//  Until a feed's tree settles, a peer hears each new entry from several
//  of its view. Entries we hold under a head byte for byte the one we
//  hold (its signature was checked when it was stored) are such a
//  duplicate, dropped before any costly check, and their sender pruned
static bool
s_known (s_feed_t *slot, const uint8_t *sth_bytes, uint64_t end)
{
    return slot && !slot->own && !slot->pending && end <= osmose_feed_size (slot->feed)
        && s_same_head (slot, sth_bytes);
}

static void
s_receive_entries (osmose_gossip_t *self, const char *from, s_reader_t *reader, bool pushed)
{
    osmose_sth_t sth;
    const uint8_t *sth_bytes = s_read_bytes (reader, OSMOSE_STH_SIZE);
    uint64_t first = s_read_uint (reader, 8);
    uint64_t count = s_read_uint (reader, 4);
    if (reader->failed || osmose_sth_decode (sth_bytes, OSMOSE_STH_SIZE, &sth) != 0
    ||  count == 0 || count > reader->size || first > sth.size || count > sth.size - first) {
        reader->failed = true;
        return;
    }
    const uint8_t **entries = (const uint8_t **) calloc (count, sizeof (uint8_t *));
    size_t *sizes = (size_t *) calloc (count, sizeof (size_t));
    for (uint64_t index = 0; entries && sizes && index < count; index++) {
        sizes [index] = s_read_uint (reader, 4);
        entries [index] = s_read_bytes (reader, sizes [index]);
    }
    bool complete = entries && sizes && !reader->failed && reader->at == reader->size;
    uint64_t end = first + count;
    s_feed_t *slot = complete? s_find (self, sth.feed): NULL;
    //  (our own feed comes back from the view too: we have nothing to learn)
    if (complete && ((slot && slot->own) || s_known (slot, sth_bytes, end))) {
        self->stats.duplicates += count;
        if (pushed)
            s_pushed (self, from, slot, false);
        free (entries);
        free (sizes);
        return;
    }
    //  Straight to import, which checks the head itself; anything else
    //  (a new replica, chunks held for later) only with a good signature
    bool direct = slot && !slot->own && end == sth.size && !slot->pending;
    if (!complete || (!direct && osmose_sth_verify (&sth) != 0)) {
        reader->failed = reader->failed || (entries && sizes && reader->at != reader->size);
        if (!reader->failed)
            self->stats.rejected++;
        free (entries);
        free (sizes);
        return;
    }
    if (!slot)
        slot = s_replica (self, sth.feed, true);
    if (slot && !slot->own) {
        uint64_t have = osmose_feed_size (slot->feed);
        if (end == sth.size && !slot->pending)
            s_import (self, from, slot, first, entries, sizes, count, &sth, pushed, reader);
        else
        if (first > have && !slot->pending)
            s_send_want (self, from, sth.feed, have);
        else
        if (!s_pending_add (slot, &sth, first, entries, sizes, count)) {
            s_pending_destroy (&slot->pending);
            s_send_want (self, from, sth.feed, have);
        }
        else
        if (end == sth.size) {
            s_pending_t *pending = slot->pending;
            slot->pending = NULL;
            s_import (self, from, slot, pending->first, (const uint8_t **) pending->entries,
                      pending->sizes, pending->count, &sth, pushed, NULL);
            s_pending_destroy (&pending);
        }
        else
            s_send_want (self, from, sth.feed, end);
    }
    else
    if (!slot)
        self->stats.rejected++;
    free (entries);
    free (sizes);
}

//  --------------------------------------------------------------------
//  Public face

void
osmose_gossip_params_default (osmose_gossip_params_t *params)
{
    memset (params, 0, sizeof (*params));
    params->interval_ms = 1000;
    params->chunk_entries = 4096;
    params->chunk_bytes = 4 << 20;
}

static void
s_out_destroy (void **item_p)
{
    osmose_gossip_out_t *out = (osmose_gossip_out_t *) *item_p;
    if (out) {
        free (out->data);
        free (out);
        *item_p = NULL;
    }
}

osmose_gossip_t *
osmose_gossip_new (const char *dir, osmose_feed_t *own,
                   const osmose_gossip_params_t *params, char *error, size_t error_size)
{
    assert (dir && own);
    osmose_gossip_t *self = (osmose_gossip_t *) zmalloc (sizeof (osmose_gossip_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    if (params)
        self->params = *params;
    else
        osmose_gossip_params_default (&self->params);
    self->dir = strdup (dir);
    self->outbox = zlistx_new ();
    self->entry_buffer = (uint8_t *) malloc (OSMOSE_ENTRY_MAX);
    if (!self->dir || !self->outbox || !self->entry_buffer
    ||  s_add (self, osmose_feed_key (own), own, true)) {
        snprintf (error, error_size, "out of memory");
        osmose_gossip_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->outbox, s_out_destroy);
    self->own_pushed = osmose_feed_size (own);
    if (zsys_dir_create ("%s", dir) != 0) {
        snprintf (error, error_size, "%s: cannot create: %s", dir, strerror (errno));
        osmose_gossip_destroy (&self);
        return NULL;
    }
    //  Every replica kept here is opened (and so verified) at start
    DIR *handle = opendir (dir);
    struct dirent *item;
    while (handle && (item = readdir (handle))) {
        uint8_t key [OSMOSE_KEY_SIZE];
        size_t decoded = 0;
        if (strlen (item->d_name) == 2 * OSMOSE_KEY_SIZE
        &&  sodium_hex2bin (key, sizeof (key), item->d_name, 2 * OSMOSE_KEY_SIZE,
                            NULL, &decoded, NULL) == 0 && decoded == OSMOSE_KEY_SIZE
        &&  !s_find (self, key))
            s_replica (self, key, true);
    }
    if (handle)
        closedir (handle);
    return self;
}

void
osmose_gossip_destroy (osmose_gossip_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_gossip_t *self = *self_p;
        for (size_t index = 0; index < self->feed_count; index++)
            if (!self->feeds [index].own) {
                osmose_feed_destroy (&self->feeds [index].feed);
                s_pending_destroy (&self->feeds [index].pending);
            }
        free (self->feeds);
        zlistx_destroy (&self->outbox);
        free (self->entry_buffer);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

void
osmose_gossip_set_view (osmose_gossip_t *self, const char **ids, size_t count)
{
    assert (self);
    if (count > S_MAX_VIEW)
        count = S_MAX_VIEW;
    bool same = count == self->view_size;
    for (size_t index = 0; same && index < count; index++)
        same = streq (self->view [index], ids [index]);
    if (same)
        return;                 //  the usual case: called every round
    //  Where each old member stands now: its prunes move with it, and a
    //  newcomer starts eager, so its first pushes find the fast edges
    int moved [S_MAX_VIEW];
    for (size_t old = 0; old < self->view_size; old++) {
        moved [old] = -1;
        for (size_t index = 0; index < count && moved [old] < 0; index++)
            if (streq (self->view [old], ids [index]))
                moved [old] = (int) index;
    }
    for (size_t old = 0; old < self->view_size; old++)
        if (moved [old] < 0) {
            s_writer_t writer = { NULL, 0, 0, false };
            uint8_t kind = 'U';
            s_write_bytes (&writer, &kind, 1);
            s_send (self, self->view [old], &writer);
        }
    for (size_t feed = 0; feed < self->feed_count; feed++) {
        uint64_t lazy = 0;
        for (size_t old = 0; old < self->view_size; old++)
            if (((self->feeds [feed].lazy >> old) & 1) && moved [old] >= 0)
                lazy |= (uint64_t) 1 << moved [old];
        self->feeds [feed].lazy = lazy;
    }
    self->view_size = count;
    for (size_t index = 0; index < count; index++)
        snprintf (self->view [index], OSMOSE_ID_SIZE + 1, "%s", ids [index]);
}

void
osmose_gossip_local (osmose_gossip_t *self)
{
    assert (self);
    s_feed_t *slot = NULL;
    for (size_t index = 0; index < self->feed_count && !slot; index++)
        if (self->feeds [index].own)
            slot = &self->feeds [index];
    osmose_sth_t sth;
    uint64_t head_size = s_head (slot, &sth);
    if (head_size <= self->own_pushed)
        return;
    s_push (self, NULL, slot, self->own_pushed, NULL, 0);
    self->own_pushed = head_size;
    self->own_told = sth;
}

int64_t
osmose_gossip_tick (osmose_gossip_t *self, int64_t now_us)
{
    assert (self);
    self->now_us = now_us;
    s_grafts_flush (self);
    s_lazy_round (self);
    if (now_us >= self->next_summary) {
        if (self->view_size)
            s_send_summary (self, self->view [randombytes_uniform ((uint32_t) self->view_size)]);
        self->next_summary = now_us + (int64_t) self->params.interval_ms * 1000;
    }
    return self->next_summary;
}

int
osmose_gossip_receive (osmose_gossip_t *self, const char *from,
                       const uint8_t *data, size_t size, int64_t now_us)
{
    assert (self && from);
    self->now_us = now_us;
    self->stats.msgs_in++;
    self->stats.bytes_in += size;
    s_reader_t reader = { data, size, 0, false };
    const uint8_t *kind = s_read_bytes (&reader, 1);
    switch (kind? *kind: 0) {
        case 'S': s_receive_summary (self, from, &reader); break;
        case 'H': s_receive_heads (self, from, &reader); break;
        case 'W': s_receive_want (self, from, &reader); break;
        case 'E': s_receive_entries (self, from, &reader, true); break;
        case 'R': s_receive_entries (self, from, &reader, false); break;
        case 'I': s_receive_ihave (self, from, &reader); break;
        case 'P': s_receive_prune (self, from, &reader); break;
        case 'G': s_receive_graft (self, from, &reader); break;
        case 'U': s_receive_unlink (self, from, &reader); break;
        default: reader.failed = true;
    }
    s_grafts_flush (self);
    if (reader.failed) {
        self->stats.malformed++;
        return OSMOSE_EPROTO;
    }
    return 0;
}

bool
osmose_gossip_next_out (osmose_gossip_t *self, osmose_gossip_out_t *out)
{
    assert (self && out);
    osmose_gossip_out_t *first = (osmose_gossip_out_t *) zlistx_first (self->outbox);
    if (!first)
        return false;
    *out = *first;
    first->data = NULL;
    zlistx_delete (self->outbox, zlistx_cursor (self->outbox));
    return true;
}

osmose_feed_t *
osmose_gossip_feed (osmose_gossip_t *self, const uint8_t *key)
{
    assert (self);
    s_feed_t *slot = key? s_find (self, key): NULL;
    return slot? slot->feed: NULL;
}

osmose_feed_t *
osmose_gossip_feed_at (osmose_gossip_t *self, size_t index)
{
    assert (self);
    return index < self->feed_count? self->feeds [index].feed: NULL;
}

void
osmose_gossip_stats (osmose_gossip_t *self, osmose_gossip_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
    stats->feeds = self->feed_count;
    stats->entries = 0;
    for (size_t index = 0; index < self->feed_count; index++)
        stats->entries += osmose_feed_size (self->feeds [index].feed);
}

//  --------------------------------------------------------------------
//  Self-test: three peers in memory, messages carried by hand

typedef struct {
    osmose_identity_t *identity;
    osmose_feed_t *feed;
    osmose_gossip_t *gossip;
    char dir [PATH_MAX];
    uint64_t news;
    int forks;
} s_test_peer_t;

static void
s_test_news (void *arg, osmose_feed_t *feed, uint64_t first, uint64_t count,
             const osmose_fork_t *fork)
{
    s_test_peer_t *peer = (s_test_peer_t *) arg;
    peer->news += count;
    if (fork)
        peer->forks++;
}

//  Messages carried by s_test_pump, by kind; a kind it drops (0: none)
static int s_test_kinds [256];
static uint8_t s_test_drop;

//  Deliver every queued message until all are quiet; CORRUPT flips a
//  byte in the Nth ENTRIES message. Returns messages carried.
static int
s_test_pump (s_test_peer_t *peers, size_t count, int corrupt)
{
    int carried = 0, entries_seen = 0;
    memset (s_test_kinds, 0, sizeof (s_test_kinds));
    bool busy = true;
    while (busy && carried < 100000) {
        busy = false;
        for (size_t from = 0; from < count; from++) {
            osmose_gossip_out_t out;
            while (osmose_gossip_next_out (peers [from].gossip, &out)) {
                busy = true;
                carried++;
                s_test_kinds [out.data [0]]++;
                if (out.data [0] == s_test_drop) {
                    free (out.data);
                    continue;
                }
                if ((out.data [0] == 'E' || out.data [0] == 'R') && ++entries_seen == corrupt)
                    out.data [out.size - 3] ^= 0x20;
                for (size_t to = 0; to < count; to++)
                    if (streq (out.to, osmose_identity_id (peers [to].identity)))
                        osmose_gossip_receive (peers [to].gossip,
                            osmose_identity_id (peers [from].identity), out.data, out.size, 0);
                free (out.data);
            }
        }
    }
    return carried;
}

//  PEER, with its own feed and engine under BASE/NAME<INDEX>
static void
s_test_peer_init (s_test_peer_t *peer, const char *base, const char *name, int index,
                  osmose_gossip_params_t *params)
{
    char error [256], path [PATH_MAX + 16];
    peer->identity = osmose_identity_new ();
    snprintf (peer->dir, sizeof (peer->dir), "%s/%s%d", base, name, index);
    snprintf (path, sizeof (path), "%s/log", peer->dir);
    assert (peer->identity && zsys_dir_create ("%s", peer->dir) == 0);
    int rc = osmose_feed_open (path, peer->identity, 0, error, sizeof (error), &peer->feed);
    assert (rc == 0);
    params->news_arg = peer;
    snprintf (path, sizeof (path), "%s/feeds", peer->dir);
    peer->gossip = osmose_gossip_new (path, peer->feed, params, error, sizeof (error));
    assert (peer->gossip);
}

static void
s_test_append (s_test_peer_t *peer, int count)
{
    for (int index = 0; index < count; index++) {
        char text [32];
        snprintf (text, sizeof (text), "event %d", index);
        uint64_t at;
        int rc = osmose_feed_append (peer->feed, OSMOSE_ENTRY_EVENT, text, strlen (text), 0, &at);
        assert (rc == 0);
    }
    int rc = osmose_feed_commit (peer->feed, true);
    assert (rc == 0);
}

static bool
s_test_same (s_test_peer_t *writer, s_test_peer_t *reader)
{
    osmose_sth_t ours, theirs;
    osmose_feed_t *replica = osmose_gossip_feed (reader->gossip,
                                                 osmose_identity_public (writer->identity));
    return replica && osmose_feed_head (writer->feed, &ours) == 0
        && osmose_feed_head (replica, &theirs) == 0
        && ours.size == theirs.size && memcmp (ours.root, theirs.root, OSMOSE_HASH_SIZE) == 0;
}

//  Peer ID (of IDS) leaves peer WHO out of its view
static void
s_test_unview (s_test_peer_t *peers, const char **ids, size_t count, const char *id,
               size_t who)
{
    size_t at = 0;
    while (!streq (ids [at], id))
        at++;
    const char *view [S_MAX_VIEW];
    size_t size = 0;
    for (size_t other = 0; other < count; other++)
        if (other != at && other != who)
            view [size++] = ids [other];
    osmose_gossip_set_view (peers [at].gossip, view, size);
}

//  Five peers that all see each other: a feed's first push floods and
//  prunes, the next ones take two pushes per peer, a peer that loses a
//  parent grafts another at once, and one cut off from the tree grafts
//  it back from the lazy news
static void
s_test_trees (const char *base, osmose_gossip_params_t *params)
{
    enum { PEERS = 5 };
    s_test_peer_t peers [PEERS];
    memset (peers, 0, sizeof (peers));
    const char *ids [PEERS];
    for (int index = 0; index < PEERS; index++) {
        s_test_peer_init (&peers [index], base, "tree", index, params);
        ids [index] = osmose_identity_id (peers [index].identity);
    }
    for (int index = 0; index < PEERS; index++) {
        const char *view [PEERS - 1];
        size_t size = 0;
        for (int other = 0; other < PEERS; other++)
            if (other != index)
                view [size++] = ids [other];
        osmose_gossip_set_view (peers [index].gossip, view, size);
    }
    //  (the first summaries now, so that none repairs what grafts must)
    for (int index = 0; index < PEERS; index++)
        osmose_gossip_tick (peers [index].gossip, 0);
    s_test_pump (peers, PEERS, 0);
    //  The first push goes over every edge; duplicates prune
    s_test_append (&peers [0], 1);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_kinds ['E'] > PEERS - 1);
    assert (s_test_kinds ['P'] > 0);
    for (int index = 1; index < PEERS; index++)
        assert (s_test_same (&peers [0], &peers [index]));
    //  Then two pushes per peer (a flood would take 3 + 3 x 2), once the
    //  first pushes of the writer itself (which the others first heard of
    //  by a reply, forwarded) have taken their place in the tree
    s_test_append (&peers [0], 1);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 0);
    s_test_append (&peers [0], 2);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_kinds ['E'] == 2 * (PEERS - 1) && s_test_kinds ['P'] == 0);
    for (int index = 1; index < PEERS; index++)
        assert (s_test_same (&peers [0], &peers [index]));
    //  One of peer 3's two parents for peer 0's feed leaves 3 out of its
    //  view and tells it so: 3 grafts the latest peer it pruned instead
    s_feed_t *slot = s_find (peers [3].gossip, osmose_identity_public (peers [0].identity));
    assert (slot && *slot->parents [0].id && *slot->parents [1].id && *slot->spares [0].id);
    char spare [OSMOSE_ID_SIZE + 1];
    snprintf (spare, sizeof (spare), "%s", slot->spares [0].id);
    s_test_unview (peers, ids, PEERS, slot->parents [0].id, 3);
    s_test_append (&peers [0], 1);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_kinds ['U'] == 1 && s_test_kinds ['G'] >= 1);
    assert (s_test_same (&peers [0], &peers [3]));
    assert (streq (slot->parents [0].id, spare) || streq (slot->parents [1].id, spare));
    //  Both parents lose it and the news is lost: 3 is cut off. The last
    //  peer it pruned tells it of the new head lazily, and it grafts.
    s_test_drop = 'U';
    char cut [S_PARENTS][OSMOSE_ID_SIZE + 1];
    for (int index = 0; index < S_PARENTS; index++)
        snprintf (cut [index], sizeof (cut [index]), "%s", slot->parents [index].id);
    for (int index = 0; index < S_PARENTS; index++)
        s_test_unview (peers, ids, PEERS, cut [index], 3);
    s_test_append (&peers [0], 1);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 0);
    s_test_drop = 0;
    assert (!s_test_same (&peers [0], &peers [3]));
    for (int index = 0; index < PEERS; index++)
        osmose_gossip_tick (peers [index].gossip, S_LAZY_DELAY_US / 2);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_kinds ['I'] == 0);              //  too fresh to tell
    for (int index = 0; index < PEERS; index++)
        osmose_gossip_tick (peers [index].gossip, S_LAZY_DELAY_US);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_kinds ['I'] > 0 && s_test_kinds ['G'] > 0);
    assert (s_test_same (&peers [0], &peers [3]));
    //  Grafted: the next entry reaches peer 3 by push alone
    s_test_append (&peers [0], 1);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_same (&peers [0], &peers [3]));
    osmose_gossip_stats_t stats;
    osmose_gossip_stats (peers [3].gossip, &stats);
    assert (stats.grafts > 0);
    //  A reply that brings nothing new prunes no one: peer 1 asks peer 0
    //  for the whole feed, which it holds
    uint8_t want [1 + OSMOSE_KEY_SIZE + 8] = { 'W' };
    memcpy (want + 1, osmose_identity_public (peers [0].identity), OSMOSE_KEY_SIZE);
    int rc = osmose_gossip_receive (peers [0].gossip, ids [1], want, sizeof (want), 0);
    assert (rc == 0);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_kinds ['R'] == 1 && s_test_kinds ['P'] == 0);
    for (int index = 0; index < PEERS; index++) {
        osmose_gossip_destroy (&peers [index].gossip);
        osmose_feed_destroy (&peers [index].feed);
        osmose_identity_destroy (&peers [index].identity);
    }
}

void
osmose_gossip_test (bool verbose)
{
    printf (" * osmose_gossip: ");
    char base [] = "/tmp/osmose-gossip-test-XXXXXX";
    assert (mkdtemp (base));
    enum { PEERS = 3 };
    s_test_peer_t peers [PEERS];
    memset (peers, 0, sizeof (peers));
    osmose_gossip_params_t params;
    osmose_gossip_params_default (&params);
    params.chunk_entries = 10;              //  force catch-up in chunks
    params.on_news = s_test_news;
    char error [256];
    for (int index = 0; index < PEERS; index++)
        s_test_peer_init (&peers [index], base, "peer", index, &params);
    //  A line: 0 - 1 - 2, so entries must be forwarded to reach 2
    const char *view01 [] = { osmose_identity_id (peers [1].identity) };
    const char *view10 [] = { osmose_identity_id (peers [0].identity),
                              osmose_identity_id (peers [2].identity) };
    const char *view21 [] = { osmose_identity_id (peers [1].identity) };
    osmose_gossip_set_view (peers [0].gossip, view01, 1);
    osmose_gossip_set_view (peers [1].gossip, view10, 2);
    osmose_gossip_set_view (peers [2].gossip, view21, 1);

    //  Eager push of new entries, forwarded along the line
    s_test_append (&peers [0], 5);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 0);
    assert (s_test_same (&peers [0], &peers [1]));
    assert (s_test_same (&peers [0], &peers [2]));

    //  A big backlog arrives in chunks, one of them damaged on the way:
    //  the damage is refused and anti-entropy repairs it
    s_test_append (&peers [0], 95);
    osmose_gossip_local (peers [0].gossip);
    s_test_pump (peers, PEERS, 2);
    for (int round = 0; round < 20 && !(s_test_same (&peers [0], &peers [1])
                                        && s_test_same (&peers [0], &peers [2])); round++) {
        for (int index = 0; index < PEERS; index++)
            osmose_gossip_tick (peers [index].gossip, (int64_t) (round + 1) * 2000000);
        s_test_pump (peers, PEERS, 0);
    }
    assert (s_test_same (&peers [0], &peers [1]));
    assert (s_test_same (&peers [0], &peers [2]));
    osmose_gossip_stats_t stats;
    osmose_gossip_stats (peers [1].gossip, &stats);
    assert (stats.rejected + stats.malformed >= 1);
    assert (peers [2].news >= 100);

    //  Peer 2's own feed reaches peer 0 through anti-entropy alone
    s_test_append (&peers [2], 7);
    for (int round = 0; round < 20 && !s_test_same (&peers [2], &peers [0]); round++) {
        for (int index = 0; index < PEERS; index++)
            osmose_gossip_tick (peers [index].gossip, (int64_t) (round + 30) * 2000000);
        s_test_pump (peers, PEERS, 0);
    }
    assert (s_test_same (&peers [2], &peers [0]));

    //  Garbage is refused and counted, never applied
    uint8_t noise [300];
    for (int round = 0; round < 2000; round++) {
        size_t size = randombytes_uniform (sizeof (noise)) + 1;
        randombytes_buf (noise, size);
        noise [0] = "SHWERIPGU" [round % 9];
        osmose_gossip_receive (peers [1].gossip, osmose_identity_id (peers [0].identity),
                               noise, size, 0);
    }
    s_test_pump (peers, PEERS, 0);
    assert (s_test_same (&peers [0], &peers [1]));

    //  A fork: someone with peer 0's key signs another history
    osmose_feed_t *evil = NULL;
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/evil", base);
    int rc = osmose_feed_open (path, peers [0].identity, 0, error, sizeof (error), &evil);
    assert (rc == 0);
    for (int index = 0; index < 3; index++) {
        uint64_t at;
        rc = osmose_feed_append (evil, OSMOSE_ENTRY_EVENT, "lie", 3, 0, &at);
        assert (rc == 0);
    }
    rc = osmose_feed_commit (evil, true);
    assert (rc == 0);
    osmose_gossip_t *liar = osmose_gossip_new (path, evil, &params, error, sizeof (error));
    assert (liar);
    //  Peer 1 asks "peer 0" (the liar) for a summary; the liar's heads
    //  contradict the history peer 1 holds
    const char *view_liar [] = { osmose_identity_id (peers [1].identity) };
    osmose_gossip_set_view (liar, view_liar, 1);
    osmose_gossip_set_view (peers [1].gossip, view01, 0);
    const char *view_only0 [] = { osmose_identity_id (peers [0].identity) };
    osmose_gossip_set_view (peers [1].gossip, view_only0, 1);
    osmose_gossip_tick (peers [1].gossip, INT64_MAX / 2);
    for (int round = 0; round < 4; round++) {
        osmose_gossip_out_t out;
        while (osmose_gossip_next_out (peers [1].gossip, &out)) {
            osmose_gossip_receive (liar, osmose_identity_id (peers [1].identity),
                                   out.data, out.size, 0);
            free (out.data);
        }
        while (osmose_gossip_next_out (liar, &out)) {
            osmose_gossip_receive (peers [1].gossip, osmose_identity_id (peers [0].identity),
                                   out.data, out.size, 0);
            free (out.data);
        }
    }
    assert (peers [1].forks >= 1);
    assert (s_test_same (&peers [0], &peers [1]));     //  nothing of the lie stored
    osmose_gossip_destroy (&liar);
    osmose_feed_destroy (&evil);

    s_test_trees (base, &params);
    if (verbose) {
        osmose_gossip_stats (peers [1].gossip, &stats);
        printf ("(feeds %" PRIu64 ", imported %" PRIu64 ", rejected %" PRIu64
                ", malformed %" PRIu64 ") ", stats.feeds, stats.imported,
                stats.rejected, stats.malformed);
    }
    for (int index = 0; index < PEERS; index++) {
        osmose_gossip_destroy (&peers [index].gossip);
        osmose_feed_destroy (&peers [index].feed);
        osmose_identity_destroy (&peers [index].identity);
    }
    zdir_t *tree = zdir_new (base, NULL);
    zdir_remove (tree, true);
    zdir_destroy (&tree);
    printf ("OK\n");
}
