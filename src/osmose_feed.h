/*  osmose_feed.h: one writer's signed append-only log, as the daemon, the
    CLI and gossip use it.

    A feed lives in a directory (an osmose_store) and is identified by its
    writer's Ed25519 public key, which entry 0 (GENESIS) names. Three ways
    to open one:
      writer   (identity given): append, commit, sign heads, erase
      replica  (no identity, OSMOSE_FEED_REPLICA): import another peer's
               entries with its signed head; nothing else writes
      reader   (no identity, no flag): read, prove, verify; no lock, never
               modifies a file, so it works on a live or copied directory
    Opening reads every entry, checks its checksum, order and encoding,
    rebuilds the Merkle tree in memory and checks the latest signed head:
    an open feed is a verified feed.

    Appends are queued; osmose_feed_commit signs a head over everything
    appended so far and writes it out, fsyncing per the policy (always,
    group = at most every interval, never). The daemon calls commit after
    each batch and again when osmose_feed_commit_due says so.

    Thread safety: one thread at a time per feed (the daemon's actor).
*/
#ifndef OSMOSE_FEED_H_INCLUDED
#define OSMOSE_FEED_H_INCLUDED

#include "osmose_entry.h"
#include "osmose_sth.h"
#include "osmose_store.h"

typedef struct _osmose_feed_t osmose_feed_t;

#define OSMOSE_FEED_REPLICA 1           //  open flag: writable replica
#define OSMOSE_FEED_EXTERNAL 1          //  append flag: payload beside the tree

typedef struct {
    uint64_t entries;
    uint64_t heads;                     //  head records kept in heads.log
    uint64_t payloads;                  //  external payloads stored
    uint64_t erased;                    //  payloads erased
    uint64_t entries_bytes, payloads_bytes, heads_bytes;
    uint64_t types [32];                //  entries by type (>= 31 counted at 31)
} osmose_feed_stats_t;

//  Open the feed in DIR (see above). A writer's empty store gets its
//  GENESIS entry and first head. Errors: OSMOSE_ELOCKED (another writer),
//  OSMOSE_ENOTFOUND (no store, reader), OSMOSE_ECORRUPT / OSMOSE_ETOOBIG
//  (damaged files), OSMOSE_EVERIFY (a head that does not verify, or a
//  store that belongs to another key); ERROR gets one sentence.
int OSMOSE_WARN_UNUSED
    osmose_feed_open (const char *dir, osmose_identity_t *identity, int flags,
                      char *error, size_t error_size, osmose_feed_t **self_p);

//  Readers: take in what the writer appended since open (for tail -f).
int OSMOSE_WARN_UNUSED
    osmose_feed_refresh (osmose_feed_t *self, char *error, size_t error_size);

//  Commit what is pending (fsync unless the policy is never) and close.
void
    osmose_feed_destroy (osmose_feed_t **self_p);

//  What opening found (torn tails dropped, repairs).
const osmose_store_report_t *
    osmose_feed_report (osmose_feed_t *self);

void
    osmose_feed_set_fsync (osmose_feed_t *self, osmose_fsync_t policy, int interval_ms);

//  Take the fsync policy from the config (log/fsync, log/fsync_interval_ms).
//  0 or OSMOSE_ECONFIG.
typedef struct _osmose_config_t osmose_config_t;
int OSMOSE_WARN_UNUSED
    osmose_feed_configure (osmose_feed_t *self, osmose_config_t *config);

//  "always", "group", "never" (the log/fsync setting) to a policy; -1 if not.
int
    osmose_fsync_parse (const char *name);

//  The feed id (writer's public key), or NULL for an empty replica.
const uint8_t *
    osmose_feed_key (osmose_feed_t *self);

//  Entries in the feed, committed or not.
uint64_t
    osmose_feed_size (osmose_feed_t *self);

//  Queue an entry of TYPE with SIZE bytes of PAYLOAD, inline or (FLAGS
//  OSMOSE_FEED_EXTERNAL) stored beside the tree and erasable. *INDEX_P (or
//  NULL) gets its index. Writer only. OSMOSE_ETOOBIG over the limits; a
//  write error drops every uncommitted append (osmose_feed_size says).
int OSMOSE_WARN_UNUSED
    osmose_feed_append (osmose_feed_t *self, uint16_t type, const void *payload,
                        size_t size, int flags, uint64_t *index_p);

//  Sign a head over every entry appended, write out, fsync per policy.
//  FORCE: fsync now whatever the policy. On a write error the uncommitted
//  appends are dropped and the error returned.
int OSMOSE_WARN_UNUSED
    osmose_feed_commit (osmose_feed_t *self, bool force);

//  Milliseconds until commit should be called (0: now), -1: nothing waits.
int64_t
    osmose_feed_commit_due (osmose_feed_t *self);

//  The latest signed head. 0 or OSMOSE_ENOTFOUND.
int OSMOSE_WARN_UNUSED
    osmose_feed_head (osmose_feed_t *self, osmose_sth_t *sth);

//  Root of the first SIZE entries.
int OSMOSE_WARN_UNUSED
    osmose_feed_root (osmose_feed_t *self, uint64_t size, uint8_t *root);

//  Read entry INDEX into BUFFER (OSMOSE_ENTRY_MAX bytes) and decode it
//  into *ENTRY (whose inline payload points into BUFFER); SIZE_P (or NULL)
//  gets the encoded size. The bytes are checked against the tree:
//  OSMOSE_ECORRUPT if the file changed under us, OSMOSE_ERANGE past the end.
int OSMOSE_WARN_UNUSED
    osmose_feed_entry (osmose_feed_t *self, uint64_t index, uint8_t *buffer,
                       size_t *size_p, osmose_entry_t *entry);

//  Leaf hash of entry INDEX, or NULL past the end.
const uint8_t *
    osmose_feed_leaf (osmose_feed_t *self, uint64_t index);

//  The payload of entry INDEX, inline or external, checked against its
//  hash, in a buffer the caller owns (free). OSMOSE_EERASED when it was
//  erased (*ERASED_BY_P, if given, gets the ERASE entry's index);
//  OSMOSE_ENOTFOUND when not stored here (a replica); OSMOSE_ECORRUPT.
int OSMOSE_WARN_UNUSED
    osmose_feed_payload (osmose_feed_t *self, uint64_t index, uint8_t **payload_p,
                         size_t *size_p, uint64_t *erased_by_p);

//  Index of the ERASE entry that erased entry INDEX's payload, or -1.
int64_t
    osmose_feed_erased_by (osmose_feed_t *self, uint64_t index);

int OSMOSE_WARN_UNUSED
    osmose_feed_inclusion (osmose_feed_t *self, uint64_t index, uint64_t size,
                           osmose_proof_t *proof);

int OSMOSE_WARN_UNUSED
    osmose_feed_consistency (osmose_feed_t *self, uint64_t old_size, uint64_t size,
                             osmose_proof_t *proof);

//  Check the whole feed on disk again from scratch, as a new reader would:
//  every checksum, order and encoding, the root against the latest head
//  and its signature, and every stored payload against its hash (erased
//  ones excepted). 0, or the error with ERROR saying where.
int OSMOSE_WARN_UNUSED
    osmose_feed_verify (osmose_feed_t *self, char *error, size_t error_size);

//  Replica only: add COUNT encoded entries, the first at index FIRST, that
//  end at the signed head STH (sth->size == FIRST + COUNT). All or
//  nothing: OSMOSE_EVERIFY when the head's signature or key is wrong or
//  the entries do not give its root; OSMOSE_ECORRUPT for a malformed or
//  out-of-order entry; OSMOSE_ERANGE when FIRST leaves a gap; OSMOSE_EFORK
//  (with *FORK filled, if given) when the head and ours are both validly
//  signed but inconsistent. Entries we already hold are compared, not
//  written twice. A fork shows only where the batch overlaps what we
//  hold: when a suffix (FIRST = our size) fails with OSMOSE_EVERIFY, ask
//  the sender for the whole history (FIRST 0) to tell a fork from bad data.
int OSMOSE_WARN_UNUSED
    osmose_feed_import (osmose_feed_t *self, uint64_t first, const uint8_t **entries,
                        const size_t *sizes, size_t count, const osmose_sth_t *sth,
                        osmose_fork_t *fork);

//  Compare a head of this feed seen elsewhere with ours: 0 consistent,
//  OSMOSE_EFORK (and *FORK) inconsistent, OSMOSE_EVERIFY not validly
//  signed by this feed, OSMOSE_ERANGE newer than our latest head (import
//  its entries to decide).
int OSMOSE_WARN_UNUSED
    osmose_feed_check_head (osmose_feed_t *self, const osmose_sth_t *sth,
                            osmose_fork_t *fork);

//  Writer only: erase the external payload of entry INDEX, for REASON.
//  Appends and commits an ERASE entry (whose index *ERASE_INDEX_P gets),
//  then overwrites the bytes on disk; the leaf hash stays, so proofs and
//  verification still pass. OSMOSE_EINVAL for an inline payload or an
//  ERASE/GENESIS entry, OSMOSE_EERASED when already erased.
int OSMOSE_WARN_UNUSED
    osmose_feed_erase (osmose_feed_t *self, uint64_t index, const char *reason,
                       uint64_t *erase_index_p);

void
    osmose_feed_stats (osmose_feed_t *self, osmose_feed_stats_t *stats);

void
    osmose_feed_test (bool verbose);

#endif
