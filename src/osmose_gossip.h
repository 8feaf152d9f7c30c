/*  osmose_gossip.h: replication of every peer's feed to every peer.

    Each peer writes only its own feed; gossip copies all feeds everywhere.
    New entries are pushed eagerly as soon as a head is signed, and
    forwarded by each peer that imports them, so they arrive within a few
    hops: along a spanning tree per feed, which duplicates prune (Plumtree,
    DESIGN invariant 9), with lazy news of new heads to the pruned view
    peers, who graft the tree back where it broke. Anti-entropy is the
    backstop: at each interval a
    peer sends one random view peer a 40-byte summary of all its heads;
    only when summaries differ are the heads exchanged, and then each side
    pulls what it lacks in chunks that end at a signed head. Every import
    is verified by osmose_feed (signature, Merkle root, order) before it is
    stored. A head that contradicts one we hold yields a fork proof.

    Like osmose_members, the engine does no network I/O and reads no clock:
    the actor hands it received bytes, the view and time, and drains the
    messages it wants sent. Feeds live under one directory, one
    subdirectory per writer (hex of the key).
    Thread safety: none; one engine belongs to one actor.
*/
#ifndef OSMOSE_GOSSIP_H_INCLUDED
#define OSMOSE_GOSSIP_H_INCLUDED

#include "osmose_feed.h"

typedef struct _osmose_gossip_t osmose_gossip_t;

//  May a feed written by KEY be replicated here? (the trust store says)
typedef bool (osmose_gossip_trust_fn) (void *arg, const uint8_t *key);

//  Told when a feed gained entries [first, first + count) by import,
//  or when a fork was proven (count 0, fork set).
typedef void (osmose_gossip_news_fn) (void *arg, osmose_feed_t *feed,
                                      uint64_t first, uint64_t count,
                                      const osmose_fork_t *fork);

typedef struct {
    int interval_ms;            //  anti-entropy summary period
    size_t chunk_entries;       //  entries per pulled chunk, at most
    size_t chunk_bytes;         //  bytes per message, at most
    osmose_gossip_trust_fn *trusted;
    void *trusted_arg;
    osmose_gossip_news_fn *on_news;
    void *news_arg;
} osmose_gossip_params_t;

//  One message to send to peer TO; caller frees DATA with free().
typedef struct {
    char to [OSMOSE_ID_SIZE + 1];
    uint8_t *data;
    size_t size;
} osmose_gossip_out_t;

typedef struct {
    uint64_t feeds, entries;            //  feeds held and their total size
    uint64_t imported, duplicates, rejected, forks;
    uint64_t prunes, grafts;            //  sent: the trees' upkeep
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out, malformed;
} osmose_gossip_stats_t;

void
    osmose_gossip_params_default (osmose_gossip_params_t *params);

//  Engine over the replicas in DIR (created if missing) and OWN, this
//  peer's feed (borrowed: the caller appends to it and calls
//  osmose_gossip_local). Opens every replica found in DIR.
osmose_gossip_t *
    osmose_gossip_new (const char *dir, osmose_feed_t *own,
                       const osmose_gossip_params_t *params,
                       char *error, size_t error_size);

void
    osmose_gossip_destroy (osmose_gossip_t **self_p);

//  The peers to push to: the active view (ids), replaced on each call.
void
    osmose_gossip_set_view (osmose_gossip_t *self, const char **ids, size_t count);

//  Our own feed signed a new head: push what the view has not seen yet.
//  Summaries and news tell others of our feed only as far as this last
//  push, so heads signed in between wait for the caller's next push.
void
    osmose_gossip_local (osmose_gossip_t *self);

//  Periodic work: the lazy round (news of new heads to a few of the view
//  peers that pruned us, each call) and the summary (each interval).
//  Returns the µs time of the next summary.
int64_t
    osmose_gossip_tick (osmose_gossip_t *self, int64_t now_us);

//  A message from FROM (authenticated). 0 or OSMOSE_EPROTO (counted).
int
    osmose_gossip_receive (osmose_gossip_t *self, const char *from,
                           const uint8_t *data, size_t size, int64_t now_us);

//  Next message to send; true if there was one.
bool
    osmose_gossip_next_out (osmose_gossip_t *self, osmose_gossip_out_t *out);

//  The feed written by KEY (ours or a replica), or NULL.
osmose_feed_t *
    osmose_gossip_feed (osmose_gossip_t *self, const uint8_t *key);

//  Iterate over all feeds, ours first: index 0, 1, ... until NULL.
osmose_feed_t *
    osmose_gossip_feed_at (osmose_gossip_t *self, size_t index);

void
    osmose_gossip_stats (osmose_gossip_t *self, osmose_gossip_stats_t *stats);

void
    osmose_gossip_test (bool verbose);

#endif
