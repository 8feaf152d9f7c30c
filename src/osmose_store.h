/*  osmose_store.h: the files of one feed under a directory.

    entries.log   records: u32 length, u32 ~length, entry bytes, leaf hash
                  (the leaf hash is the record's checksum and saves
                  rehashing nothing: it is recomputed and compared on open)
    payloads.dat  records: u64 entry index, u32 length, u32 ~length, bytes
                  (external payloads; erasure overwrites the bytes in place)
    heads.log     records: encoded STH, 16-byte BLAKE2b checksum
    lock          flock'ed by the one writer (OSMOSE_ELOCKED for a second)

    Appends go to user-space buffers; commit writes them out and, per the
    fsync policy, fsyncs payloads, then entries, then heads, so a durable
    entry always has its payload and a durable head its entries. A failed
    write (full disk) rolls every file back to the last complete write and
    forgets the appends since: nothing committed is lost, nothing half
    written stays. Opening after a crash drops an incomplete record at the
    end of a file (a torn tail) and reports it; a complete record that
    fails its checksum is damage, and open fails with OSMOSE_ECORRUPT
    naming the record: committed data is never dropped silently.

    Thread safety: one thread at a time per store.
*/
#ifndef OSMOSE_STORE_H_INCLUDED
#define OSMOSE_STORE_H_INCLUDED

#include "osmose_merkle.h"
#include "osmose_sth.h"

typedef struct _osmose_store_t osmose_store_t;

typedef enum {
    OSMOSE_FSYNC_ALWAYS,                //  every commit reaches the disk
    OSMOSE_FSYNC_GROUP,                 //  at most every interval_ms
    OSMOSE_FSYNC_NEVER                  //  the kernel decides
} osmose_fsync_t;

#define OSMOSE_STORE_WRITE 1            //  create, lock, repair torn tails

//  What open found and did.
typedef struct {
    uint64_t entries;                   //  complete, checked entries
    uint64_t heads;                     //  complete, checked heads
    uint64_t payloads;                  //  payload records
    uint64_t torn_entry_bytes;          //  incomplete tail dropped
    uint64_t torn_head_bytes;
    uint64_t torn_payload_bytes;
    bool repaired;                      //  files were truncated
    bool heads_compacted;               //  heads.log was cut to its last head
} osmose_store_report_t;

//  Called by open for each entry in order, with its bytes and leaf hash
//  (already checked against the bytes). A non-zero return aborts open
//  with that code.
typedef int (osmose_store_entry_fn) (void *arg, uint64_t index, const uint8_t *entry,
                                     size_t size, const uint8_t *leaf_hash);

//  Open the store in DIR. FLAGS: OSMOSE_STORE_WRITE or 0 (read-only: no
//  lock, never modifies files, a torn tail is only reported). On failure
//  ERROR gets one sentence naming the file and the place.
int OSMOSE_WARN_UNUSED
    osmose_store_open (const char *dir, int flags, osmose_store_entry_fn *on_entry,
                       void *arg, char *error, size_t error_size, osmose_store_t **self_p);

//  Read-only stores: see entries, payloads and heads written since open
//  (by the writer, in another process). Calls ON_ENTRY for new entries.
int OSMOSE_WARN_UNUSED
    osmose_store_refresh (osmose_store_t *self, osmose_store_entry_fn *on_entry,
                          void *arg, char *error, size_t error_size);

//  Write out what is pending (as commit with policy never) and close.
void
    osmose_store_destroy (osmose_store_t **self_p);

const osmose_store_report_t *
    osmose_store_report (osmose_store_t *self);

const char *
    osmose_store_dir (osmose_store_t *self);

void
    osmose_store_set_fsync (osmose_store_t *self, osmose_fsync_t policy, int interval_ms);

//  Entries in the store, pending ones included.
uint64_t
    osmose_store_size (osmose_store_t *self);

//  Entries written by the last successful flush or commit.
uint64_t
    osmose_store_flushed (osmose_store_t *self);

//  Queue an entry (and its external payload, or NULL). May write out a
//  full buffer; on a write error everything pending is forgotten and the
//  error returned (the caller rolls back to osmose_store_size).
int OSMOSE_WARN_UNUSED
    osmose_store_append (osmose_store_t *self, const uint8_t *entry, size_t size,
                         const uint8_t *leaf_hash, const uint8_t *payload,
                         size_t payload_size);

//  Queue a signed head.
int OSMOSE_WARN_UNUSED
    osmose_store_append_head (osmose_store_t *self, const osmose_sth_t *sth);

//  Latest head, or NULL when none was ever stored.
const osmose_sth_t *
    osmose_store_head (osmose_store_t *self);

//  Write pending records to the kernel, and fsync them when the policy
//  says so (always; group when the interval has passed; FORCE: now).
int OSMOSE_WARN_UNUSED
    osmose_store_commit (osmose_store_t *self, bool force);

//  Milliseconds until a group commit is due (0: now), or -1 when nothing
//  waits for the disk. For the caller's poll timeout.
int64_t
    osmose_store_commit_due (osmose_store_t *self);

//  Copy entry INDEX into BUFFER (OSMOSE_ENTRY_MAX bytes is enough).
//  0, OSMOSE_ERANGE, OSMOSE_EIO, OSMOSE_ECORRUPT.
int OSMOSE_WARN_UNUSED
    osmose_store_read (osmose_store_t *self, uint64_t index, uint8_t *buffer,
                       size_t max, size_t *size_p);

//  Read the external payload of entry INDEX into a buffer the caller owns
//  (free). OSMOSE_ENOTFOUND when the entry has no stored payload.
int OSMOSE_WARN_UNUSED
    osmose_store_payload (osmose_store_t *self, uint64_t index, uint8_t **payload_p,
                          size_t *size_p);

//  Overwrite the payload bytes of entry INDEX with zeros and fsync.
//  0 (also when already zero), OSMOSE_ENOTFOUND.
int OSMOSE_WARN_UNUSED
    osmose_store_erase_payload (osmose_store_t *self, uint64_t index);

//  Bytes of the three files (pending included).
void
    osmose_store_sizes (osmose_store_t *self, uint64_t *entries, uint64_t *payloads,
                        uint64_t *heads);

void
    osmose_store_test (bool verbose);

#endif
