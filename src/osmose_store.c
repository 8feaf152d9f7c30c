/*  osmose_store.c: the append-only files of one feed (see header).
    Files are written with pwrite at the offset we know they end at, so a
    rollback is an ftruncate to that offset and nothing else.
*/
#include "osmose_prelude.h"
#include "osmose_store.h"
#include "osmose_entry.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <signal.h>
#include "osmose_wire.h"

//  Big-endian fields, through the one set of helpers
#define s_get32(buffer) ((uint32_t) osmose_wire_be_get ((buffer), 4))
#define s_get64(buffer) osmose_wire_be_get ((buffer), 8)
#define s_put32(buffer, value) osmose_wire_be_put ((buffer), (value), 4)

#define S_BUFFER_SIZE (1024 * 1024)     //  write out when a buffer passes this
//  A buffer starts small and doubles: a peer holds one store per feed of
//  the mesh, most of them idle replicas that take a few entries at a time,
//  and one that grew for a bulk import is freed once written out
#define S_BUFFER_START 4096
#define S_BUFFER_KEEP (64 * 1024)
#define S_ENTRY_HEADER 8                //  u32 length, u32 ~length
#define S_PAYLOAD_HEADER 16             //  u64 index, u32 length, u32 ~length
#define S_HEAD_CHECK 16
#define S_HEAD_RECORD (OSMOSE_STH_SIZE + S_HEAD_CHECK)
#define S_HEADS_KEEP 4096               //  heads.log is compacted past this
#define S_NONE UINT64_MAX

typedef struct {
    const char *name;
    int fd;
    uint64_t flushed;                   //  bytes in the file
    uint8_t *buffer;                    //  pending bytes
    size_t used, capacity;
    bool unsynced;                      //  written, not yet fsynced
} s_file_t;

struct _osmose_store_t {
    char *dir;
    bool writable;
    int lock_fd;
    s_file_t entries, payloads, heads;
    uint64_t *offsets;                  //  record offsets, count + 1 of them
    uint64_t *payload_at;               //  payload record offset or S_NONE
    uint64_t count, capacity, flushed_count;
    uint64_t payloads_scanned;          //  end of the last payload record seen
    osmose_sth_t head, flushed_head;
    bool has_head, flushed_has_head;
    osmose_fsync_t policy;
    int interval_ms;
    int64_t last_sync;
    osmose_store_report_t report;
};

static bool
s_all_zero (const uint8_t *data, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if (data [index])
            return false;
    return true;
}

static int
s_grow (osmose_store_t *self)
{
    if (self->count + 2 <= self->capacity)
        return 0;
    uint64_t capacity = self->capacity? self->capacity * 2: 256;
    uint64_t *offsets = (uint64_t *) realloc (self->offsets, capacity * sizeof (uint64_t));
    if (!offsets)
        return OSMOSE_ENOMEM;
    self->offsets = offsets;
    uint64_t *payload_at = (uint64_t *) realloc (self->payload_at, capacity * sizeof (uint64_t));
    if (!payload_at)
        return OSMOSE_ENOMEM;
    self->payload_at = payload_at;
    self->capacity = capacity;
    return 0;
}

static int
s_file_open (osmose_store_t *self, s_file_t *file, const char *name)
{
    char path [PATH_MAX];
    if (snprintf (path, sizeof (path), "%s/%s", self->dir, name) >= (int) sizeof (path))
        return OSMOSE_ETOOBIG;
    file->name = name;
    file->fd = open (path, self->writable? O_RDWR | O_CREAT | O_CLOEXEC: O_RDONLY | O_CLOEXEC, 0640);
    if (file->fd < 0)
        return osmose_errno_code (errno);
    struct stat info;
    if (fstat (file->fd, &info))
        return osmose_errno_code (errno);
    file->flushed = (uint64_t) info.st_size;
    return 0;
}

static void
s_file_close (s_file_t *file)
{
    if (file->fd >= 0)
        close (file->fd);
    file->fd = -1;
    free (file->buffer);
    file->buffer = NULL;
}

//  Map a whole file for a scan; *data_p NULL for an empty file
static int
s_map (s_file_t *file, const uint8_t **data_p)
{
    *data_p = NULL;
    if (file->flushed == 0)
        return 0;
    void *data = mmap (NULL, file->flushed, PROT_READ, MAP_PRIVATE, file->fd, 0);
    if (data == MAP_FAILED)
        return osmose_errno_code (errno);
    madvise (data, file->flushed, MADV_SEQUENTIAL);
    *data_p = (const uint8_t *) data;
    return 0;
}

//  Drop bytes past END of a file: a torn tail. Read-only stores only count.
static int
s_cut (osmose_store_t *self, s_file_t *file, uint64_t end, uint64_t *torn)
{
    *torn = file->flushed - end;
    if (*torn == 0)
        return 0;
    if (self->writable) {
        if (ftruncate (file->fd, (off_t) end) || fsync (file->fd))
            return osmose_errno_code (errno);
        self->report.repaired = true;
    }
    file->flushed = end;
    return 0;
}

//  Opening checks every entry's checksum (its leaf hash), then the caller
//  rebuilds the tree: two hashes per entry. For big files the leaf hashes
//  are computed by a helper actor one chunk ahead of the checks, so the two
//  run side by side on two cores.
#define S_CHUNK 65536                   //  records per chunk: few hand-overs
#define S_PARALLEL_BYTES (8 * 1024 * 1024)

typedef struct {
    const uint8_t *data;                //  the mapped file
    uint64_t *offsets;                  //  record starts
    uint32_t *lengths;                  //  entry lengths
    uint8_t (*leaves) [OSMOSE_HASH_SIZE];
    uint8_t (*pairs) [OSMOSE_HASH_SIZE];    //  at odd indexes: the level-1 node
    uint64_t first;                     //  index of the first record
    size_t count, capacity;
    int stop;                           //  0 more may follow, 1 end, < 0 error
    char error [256];                   //  when stop < 0
} s_chunk_t;

//  Leaf hashes, and the level-1 nodes over pairs inside the chunk
static void
s_hash_chunk (s_chunk_t *chunk)
{
    for (size_t index = 0; index < chunk->count; index++) {
        osmose_merkle_leaf_hash (chunk->data + chunk->offsets [index] + S_ENTRY_HEADER,
                                 chunk->lengths [index], chunk->leaves [index]);
        if (chunk->pairs && ((chunk->first + index) & 1) && index > 0)
            osmose_merkle_node_hash (chunk->leaves [index - 1], chunk->leaves [index],
                                     chunk->pairs [index]);
    }
}

//  Helper actor: hashes each chunk whose address it receives
static void
s_hasher (zsock_t *pipe, void *args)
{
    zsock_signal (pipe, 0);
    while (true) {
        zframe_t *frame = zframe_recv (pipe);
        if (!frame || zframe_size (frame) != sizeof (s_chunk_t *)) {
            zframe_destroy (&frame);    //  $TERM
            break;
        }
        s_chunk_t *chunk;
        memcpy (&chunk, zframe_data (frame), sizeof (chunk));
        zframe_destroy (&frame);
        s_hash_chunk (chunk);
        zsock_signal (pipe, 0);
    }
}

//  Find up to S_CHUNK complete records from *AT_P; entry INDEX is the first
static void
s_parse_chunk (osmose_store_t *self, const uint8_t *data, uint64_t size, uint64_t *at_p,
               uint64_t index, s_chunk_t *chunk)
{
    uint64_t at = *at_p;
    chunk->data = data;
    chunk->first = index;
    chunk->count = 0;
    chunk->stop = 0;
    while (chunk->count < chunk->capacity) {
        uint64_t left = size - at;
        if (left < S_ENTRY_HEADER) {
            chunk->stop = 1;            //  the end, or a torn header
            break;
        }
        uint32_t length = s_get32 (data + at);
        if (length != (uint32_t) ~s_get32 (data + at + 4)) {
            chunk->stop = 1;
            if (!s_all_zero (data + at, left)) {    //  zeros: a crash, torn
                snprintf (chunk->error, sizeof (chunk->error), "entry %" PRIu64 " at offset %"
                          PRIu64 ": damaged length field", index + chunk->count, at);
                chunk->stop = OSMOSE_ECORRUPT;
            }
            break;
        }
        if (length > OSMOSE_ENTRY_MAX) {
            snprintf (chunk->error, sizeof (chunk->error), "entry %" PRIu64 " at offset %" PRIu64
                      ": length %u is over the limit of %u", index + chunk->count, at,
                      length, OSMOSE_ENTRY_MAX);
            chunk->stop = OSMOSE_ETOOBIG;
            break;
        }
        if (left < S_ENTRY_HEADER + (uint64_t) length + OSMOSE_HASH_SIZE) {
            chunk->stop = 1;            //  torn body
            break;
        }
        chunk->offsets [chunk->count] = at;
        chunk->lengths [chunk->count++] = length;
        at += S_ENTRY_HEADER + length + OSMOSE_HASH_SIZE;
    }
    *at_p = at;
}

//  Check the records of CHUNK (leaves computed) and hand them to ON_ENTRY
static int
s_check_chunk (osmose_store_t *self, s_chunk_t *chunk, osmose_store_entry_fn *on_entry,
               void *arg, char *error, size_t error_size)
{
    for (size_t index = 0; index < chunk->count; index++) {
        uint64_t at = chunk->offsets [index];
        const uint8_t *body = chunk->data + at + S_ENTRY_HEADER;
        uint32_t length = chunk->lengths [index];
        int rc = 0;
        if (memcmp (chunk->leaves [index], body + length, OSMOSE_HASH_SIZE)) {
            snprintf (error, error_size, "%s/entries.log: entry %" PRIu64 " at offset %" PRIu64
                      ": checksum (leaf hash) does not match", self->dir, self->count, at);
            return OSMOSE_ECORRUPT;
        }
        const uint8_t *pair = chunk->pairs && ((chunk->first + index) & 1) && index > 0?
                              chunk->pairs [index]: NULL;
        if (on_entry && (rc = on_entry (arg, self->count, body, length, chunk->leaves [index],
                                        pair)) != 0) {
            snprintf (error, error_size, "%s/entries.log: entry %" PRIu64 " at offset %" PRIu64
                      ": %s", self->dir, self->count, at, osmose_strerror (rc));
            return rc;
        }
        if ((rc = s_grow (self)) != 0)
            return rc;
        self->offsets [self->count] = at;
        self->payload_at [self->count] = S_NONE;
        self->count++;
    }
    if (chunk->stop < 0) {
        snprintf (error, error_size, "%s/entries.log: %s", self->dir, chunk->error);
        return chunk->stop;
    }
    return 0;
}

static int
s_scan_entries (osmose_store_t *self, osmose_store_entry_fn *on_entry, void *arg,
                char *error, size_t error_size)
{
    const uint8_t *data;
    int rc = s_map (&self->entries, &data);
    if (rc) {
        snprintf (error, error_size, "%s/entries.log: cannot map: %s", self->dir, osmose_strerror (rc));
        return rc;
    }
    uint64_t size = self->entries.flushed, at = self->count? self->offsets [self->count]: 0;
    //  Small scans (a refresh, a small store) stay on this thread
    bool parallel = size - at >= S_PARALLEL_BYTES;
    size_t capacity = parallel? S_CHUNK: 1024;
    s_chunk_t chunks [2];
    memset (chunks, 0, sizeof (chunks));
    for (int index = 0; index < 2; index++) {
        chunks [index].capacity = capacity;
        chunks [index].offsets = (uint64_t *) malloc (capacity * sizeof (uint64_t));
        chunks [index].lengths = (uint32_t *) malloc (capacity * sizeof (uint32_t));
        chunks [index].leaves = (uint8_t (*) [OSMOSE_HASH_SIZE]) malloc (capacity * OSMOSE_HASH_SIZE);
        //  Pair hashes pay only when another thread computes them
        if (parallel)
            chunks [index].pairs = (uint8_t (*) [OSMOSE_HASH_SIZE]) malloc (capacity * OSMOSE_HASH_SIZE);
        if (!chunks [index].offsets || !chunks [index].lengths || !chunks [index].leaves
        ||  (parallel && !chunks [index].pairs))
            rc = OSMOSE_ENOMEM;
    }
    zactor_t *hasher = rc == 0 && parallel? zactor_new (s_hasher, NULL): NULL;
    uint64_t parsed = self->count;      //  records found so far
    int current = 0;
    if (rc == 0) {
        s_parse_chunk (self, data, size, &at, parsed, &chunks [0]);
        parsed += chunks [0].count;
        if (hasher)
            zsock_send (hasher, "p", &chunks [0]);
        else
            s_hash_chunk (&chunks [0]);
    }
    while (rc == 0) {
        s_chunk_t *chunk = &chunks [current], *next = &chunks [1 - current];
        next->count = 0;
        next->stop = 1;
        //  Find the next records while the current ones are hashed
        if (chunk->stop == 0) {
            s_parse_chunk (self, data, size, &at, parsed, next);
            parsed += next->count;
        }
        if (hasher)
            zsock_wait (hasher);
        if (hasher && next->count)
            zsock_send (hasher, "p", next);
        rc = s_check_chunk (self, chunk, on_entry, arg, error, error_size);
        if (chunk->stop != 0 || rc) {
            if (hasher && next->count)
                zsock_wait (hasher);    //  never free a chunk the actor reads
            break;
        }
        if (!hasher)
            s_hash_chunk (next);
        current = 1 - current;
    }
    zactor_destroy (&hasher);
    for (int index = 0; index < 2; index++) {
        free (chunks [index].offsets);
        free (chunks [index].lengths);
        free (chunks [index].leaves);
        free (chunks [index].pairs);
    }
    if (data)
        munmap ((void *) data, size);
    //  Without an error, AT is the end of the last record checked
    if (rc == 0 && (rc = s_grow (self)) == 0)
        rc = s_cut (self, &self->entries, at, &self->report.torn_entry_bytes);
    if (rc == 0)
        self->offsets [self->count] = at;
    self->report.entries = self->count;
    return rc;
}

static int
s_scan_payloads (osmose_store_t *self, char *error, size_t error_size)
{
    const uint8_t *data;
    int rc = s_map (&self->payloads, &data);
    if (rc) {
        snprintf (error, error_size, "%s/payloads.dat: cannot map: %s", self->dir, osmose_strerror (rc));
        return rc;
    }
    uint64_t size = self->payloads.flushed, at = self->payloads_scanned;
    while (at + S_PAYLOAD_HEADER <= size) {
        uint64_t index = s_get64 (data + at);
        uint32_t length = s_get32 (data + at + 8);
        if (length != (uint32_t) ~s_get32 (data + at + 12)) {
            if (s_all_zero (data + at, size - at))
                break;
            snprintf (error, error_size, "%s/payloads.dat: record at offset %" PRIu64
                      ": damaged header", self->dir, at);
            rc = OSMOSE_ECORRUPT;
            break;
        }
        //  A payload is written before its entry: one with no entry is
        //  the tail of an append that did not complete
        if (index >= self->count || length > OSMOSE_PAYLOAD_MAX
        ||  at + S_PAYLOAD_HEADER + length > size)
            break;
        self->payload_at [index] = at;
        self->report.payloads++;
        at += S_PAYLOAD_HEADER + length;
    }
    if (data)
        munmap ((void *) data, size);
    self->payloads_scanned = at;
    if (rc == 0)
        rc = s_cut (self, &self->payloads, at, &self->report.torn_payload_bytes);
    return rc;
}

static void
s_head_check (const uint8_t *record, uint8_t *check)
{
    crypto_generichash (check, S_HEAD_CHECK, record, OSMOSE_STH_SIZE, NULL, 0);
}

//  Replace heads.log by one holding only its last head (atomically): a
//  writer signs a head per commit, and only the latest is needed to open
static int
s_compact_heads (osmose_store_t *self, const uint8_t *record)
{
    char path [PATH_MAX], tmp [PATH_MAX];
    snprintf (path, sizeof (path), "%s/heads.log", self->dir);
    snprintf (tmp, sizeof (tmp), "%s/heads.log.tmp", self->dir);
    int fd = open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return osmose_errno_code (errno);
    if (write (fd, record, S_HEAD_RECORD) != S_HEAD_RECORD || fsync (fd) || rename (tmp, path)) {
        int rc = osmose_errno_code (errno? errno: EIO);
        close (fd);
        unlink (tmp);
        return rc;
    }
    close (self->heads.fd);
    self->heads.fd = fd;
    self->heads.flushed = S_HEAD_RECORD;
    int dir_fd = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        fsync (dir_fd);
        close (dir_fd);
    }
    self->report.heads_compacted = true;
    return 0;
}

static int
s_scan_heads (osmose_store_t *self, char *error, size_t error_size)
{
    const uint8_t *data;
    int rc = s_map (&self->heads, &data);
    if (rc) {
        snprintf (error, error_size, "%s/heads.log: cannot map: %s", self->dir, osmose_strerror (rc));
        return rc;
    }
    uint64_t size = self->heads.flushed, at = 0, count = 0;
    const uint8_t *last = NULL;
    while (at + S_HEAD_RECORD <= size) {
        uint8_t check [S_HEAD_CHECK];
        s_head_check (data + at, check);
        if (memcmp (check, data + at + OSMOSE_STH_SIZE, S_HEAD_CHECK)
        ||  osmose_sth_decode (data + at, OSMOSE_STH_SIZE, &self->head)) {
            if (s_all_zero (data + at, size - at))
                break;
            snprintf (error, error_size, "%s/heads.log: head %" PRIu64 " at offset %" PRIu64
                      ": checksum does not match", self->dir, count, at);
            rc = OSMOSE_ECORRUPT;
            break;
        }
        last = data + at;
        count++;
        at += S_HEAD_RECORD;
    }
    if (rc == 0 && last) {
        rc = osmose_sth_decode (last, OSMOSE_STH_SIZE, &self->head);
        self->has_head = rc == 0;
    }
    if (rc == 0)
        rc = s_cut (self, &self->heads, at, &self->report.torn_head_bytes);
    if (rc == 0 && self->writable && count > S_HEADS_KEEP) {
        uint8_t record [S_HEAD_RECORD];
        memcpy (record, last, S_HEAD_RECORD);
        rc = s_compact_heads (self, record);
        count = 1;
    }
    if (data)
        munmap ((void *) data, size);
    self->report.heads = count;
    self->flushed_head = self->head;
    self->flushed_has_head = self->has_head;
    return rc;
}

int
osmose_store_open (const char *dir, int flags, osmose_store_entry_fn *on_entry, void *arg,
                   char *error, size_t error_size, osmose_store_t **self_p)
{
    assert (dir && self_p);
    char dummy [8];
    if (!error) {
        error = dummy;
        error_size = sizeof (dummy);
    }
    *error = 0;
    *self_p = NULL;
    osmose_store_t *self = (osmose_store_t *) zmalloc (sizeof (osmose_store_t));
    if (!self)
        return OSMOSE_ENOMEM;
    self->dir = strdup (dir);
    self->writable = (flags & OSMOSE_STORE_WRITE) != 0;
    self->lock_fd = self->entries.fd = self->payloads.fd = self->heads.fd = -1;
    self->policy = OSMOSE_FSYNC_GROUP;
    self->interval_ms = 10;
    self->last_sync = zclock_mono ();
    int rc = self->dir? 0: OSMOSE_ENOMEM;
    if (rc == 0 && self->writable) {
        char path [PATH_MAX];
        snprintf (path, sizeof (path), "%s/lock", dir);
        if (zsys_dir_create ("%s", dir)
        ||  (self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0) {
            rc = osmose_errno_code (errno);
            snprintf (error, error_size, "%s: cannot create the store: %s", dir, strerror (errno));
        }
        else
        if (flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
            rc = errno == EWOULDBLOCK? OSMOSE_ELOCKED: osmose_errno_code (errno);
            snprintf (error, error_size, "%s: the store is in use by another process (%s)",
                      dir, rc == OSMOSE_ELOCKED? "locked": strerror (errno));
        }
    }
    const char *names [] = { "entries.log", "payloads.dat", "heads.log" };
    s_file_t *files [] = { &self->entries, &self->payloads, &self->heads };
    for (int index = 0; index < 3 && rc == 0; index++)
        if ((rc = s_file_open (self, files [index], names [index])) != 0)
            snprintf (error, error_size, "%s/%s: cannot open: %s", dir, names [index],
                      rc == OSMOSE_ENOTFOUND? "no store here": osmose_strerror (rc));
    if (rc == 0)
        rc = s_scan_entries (self, on_entry, arg, error, error_size);
    if (rc == 0)
        rc = s_scan_payloads (self, error, error_size);
    if (rc == 0)
        rc = s_scan_heads (self, error, error_size);
    if (rc == 0 && !self->writable && self->has_head && self->head.size > self->count) {
        //  A live writer may have added entries and their head after we
        //  read entries.log: read on before calling that damage
        struct stat info;
        if (fstat (self->entries.fd, &info) == 0 && (uint64_t) info.st_size > self->entries.flushed) {
            self->entries.flushed = (uint64_t) info.st_size;
            rc = s_scan_entries (self, on_entry, arg, error, error_size);
            if (rc == 0 && fstat (self->payloads.fd, &info) == 0) {
                self->payloads.flushed = (uint64_t) info.st_size;
                rc = s_scan_payloads (self, error, error_size);
            }
        }
    }
    if (rc == 0 && self->has_head && self->head.size > self->count) {
        snprintf (error, error_size, "%s: the latest head covers %" PRIu64
                  " entries but only %" PRIu64 " are stored", dir, self->head.size, self->count);
        rc = OSMOSE_ECORRUPT;
    }
    if (rc) {
        osmose_store_destroy (&self);
        return rc;
    }
    self->flushed_count = self->count;
    *self_p = self;
    return 0;
}

int
osmose_store_refresh (osmose_store_t *self, osmose_store_entry_fn *on_entry, void *arg,
                      char *error, size_t error_size)
{
    assert (self);
    if (self->writable)
        return 0;
    char dummy [8];
    if (!error) {
        error = dummy;
        error_size = sizeof (dummy);
    }
    struct stat info;
    s_file_t *files [] = { &self->entries, &self->payloads };
    for (int index = 0; index < 2; index++) {
        if (fstat (files [index]->fd, &info))
            return osmose_errno_code (errno);
        files [index]->flushed = (uint64_t) info.st_size;
    }
    int rc = s_scan_entries (self, on_entry, arg, error, error_size);
    if (rc == 0)
        rc = s_scan_payloads (self, error, error_size);
    //  The writer may have compacted heads.log into a new file
    if (rc == 0) {
        close (self->heads.fd);
        self->heads.fd = -1;
        rc = s_file_open (self, &self->heads, "heads.log");
    }
    if (rc == 0)
        rc = s_scan_heads (self, error, error_size);
    if (rc == 0 && self->has_head && self->head.size > self->count)
        self->has_head = false;         //  its entries are not visible yet
    self->flushed_count = self->count;
    return rc;
}

const osmose_store_report_t *
osmose_store_report (osmose_store_t *self)
{
    assert (self);
    return &self->report;
}

const char *
osmose_store_dir (osmose_store_t *self)
{
    assert (self);
    return self->dir;
}

void
osmose_store_set_fsync (osmose_store_t *self, osmose_fsync_t policy, int interval_ms)
{
    assert (self);
    self->policy = policy;
    self->interval_ms = interval_ms < 0? 0: interval_ms;
}

uint64_t
osmose_store_size (osmose_store_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
osmose_store_flushed (osmose_store_t *self)
{
    assert (self);
    return self->flushed_count;
}

static int
s_buffer_add (s_file_t *file, const uint8_t *data, size_t size)
{
    if (file->used + size > file->capacity) {
        size_t capacity = file->capacity? file->capacity: S_BUFFER_START;
        while (capacity < file->used + size)
            capacity *= 2;
        uint8_t *buffer = (uint8_t *) realloc (file->buffer, capacity);
        if (!buffer)
            return OSMOSE_ENOMEM;
        file->buffer = buffer;
        file->capacity = capacity;
    }
    memcpy (file->buffer + file->used, data, size);
    file->used += size;
    return 0;
}

//  Write the pending bytes of FILE at its end
static int
s_write_out (s_file_t *file)
{
    size_t done = 0;
    while (done < file->used) {
        ssize_t rc = pwrite (file->fd, file->buffer + done, file->used - done,
                             (off_t) (file->flushed + done));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return osmose_errno_code (rc < 0? errno: ENOSPC);
        done += (size_t) rc;
    }
    file->flushed += file->used;
    file->used = 0;
    if (done)
        file->unsynced = true;
    if (file->capacity > S_BUFFER_KEEP) {
        free (file->buffer);
        file->buffer = NULL;
        file->capacity = 0;
    }
    return 0;
}

//  Forget everything pending and cut the files back to MARKS
static void
s_rollback (osmose_store_t *self, const uint64_t *marks)
{
    s_file_t *files [] = { &self->payloads, &self->entries, &self->heads };
    for (int index = 0; index < 3; index++) {
        //  Always: a short write grew the file without moving our mark
        if (ftruncate (files [index]->fd, (off_t) marks [index]) == 0)
            files [index]->flushed = marks [index];
        files [index]->used = 0;
    }
    self->count = self->flushed_count;
    self->offsets [self->count] = self->entries.flushed;
    self->head = self->flushed_head;
    self->has_head = self->flushed_has_head;
}

//  Write out payloads, entries, heads in that order; with SYNC, fsync each
//  before the next is written, so durable entries have durable payloads
static int
s_flush (osmose_store_t *self, bool sync)
{
    if (!self->writable)
        return 0;
    s_file_t *files [] = { &self->payloads, &self->entries, &self->heads };
    uint64_t marks [3] = { self->payloads.flushed, self->entries.flushed, self->heads.flushed };
    int rc = 0;
    for (int index = 0; index < 3 && rc == 0; index++) {
        rc = s_write_out (files [index]);
        if (rc == 0 && sync && files [index]->unsynced) {
            if (fdatasync (files [index]->fd))
                rc = osmose_errno_code (errno);
            else
                files [index]->unsynced = false;
        }
    }
    if (rc) {
        s_rollback (self, marks);
        return rc;
    }
    self->flushed_count = self->count;
    self->flushed_head = self->head;
    self->flushed_has_head = self->has_head;
    if (sync) {
        self->last_sync = zclock_mono ();
        //  A long-running writer signs a head per commit: keep only the last
        if (self->report.heads > 2 * S_HEADS_KEEP && self->has_head) {
            uint8_t record [S_HEAD_RECORD];
            osmose_sth_encode (&self->head, record);
            s_head_check (record, record + OSMOSE_STH_SIZE);
            if (s_compact_heads (self, record) == 0)
                self->report.heads = 1;
        }
    }
    return 0;
}

int
osmose_store_append (osmose_store_t *self, const uint8_t *entry, size_t size,
                     const uint8_t *leaf_hash, const uint8_t *payload, size_t payload_size)
{
    assert (self && entry && leaf_hash);
    if (!self->writable)
        return OSMOSE_ENOTSUP;
    if (size > OSMOSE_ENTRY_MAX || payload_size > OSMOSE_PAYLOAD_MAX)
        return OSMOSE_ETOOBIG;
    int rc = s_grow (self);
    if (rc)
        return rc;
    //  On failure the buffers go back to where they were: no half record
    size_t payloads_used = self->payloads.used, entries_used = self->entries.used;
    uint64_t payload_offset = S_NONE;
    if (payload) {
        uint8_t header [S_PAYLOAD_HEADER];
        for (int index = 0; index < 8; index++)
            header [index] = (uint8_t) (self->count >> (56 - 8 * index));
        s_put32 (header + 8, (uint32_t) payload_size);
        s_put32 (header + 12, ~(uint32_t) payload_size);
        payload_offset = self->payloads.flushed + self->payloads.used;
        if ((rc = s_buffer_add (&self->payloads, header, sizeof (header))) != 0
        ||  (rc = s_buffer_add (&self->payloads, payload, payload_size)) != 0) {
            self->payloads.used = payloads_used;
            return rc;
        }
    }
    uint8_t header [S_ENTRY_HEADER];
    s_put32 (header, (uint32_t) size);
    s_put32 (header + 4, ~(uint32_t) size);
    if ((rc = s_buffer_add (&self->entries, header, sizeof (header))) != 0
    ||  (rc = s_buffer_add (&self->entries, entry, size)) != 0
    ||  (rc = s_buffer_add (&self->entries, leaf_hash, OSMOSE_HASH_SIZE)) != 0) {
        self->payloads.used = payloads_used;
        self->entries.used = entries_used;
        return rc;
    }
    self->payload_at [self->count] = payload_offset;
    self->count++;
    self->offsets [self->count] = self->entries.flushed + self->entries.used;
    if (self->entries.used >= S_BUFFER_SIZE || self->payloads.used >= S_BUFFER_SIZE)
        return s_flush (self, false);
    return 0;
}

int
osmose_store_append_head (osmose_store_t *self, const osmose_sth_t *sth)
{
    assert (self && sth);
    if (!self->writable)
        return OSMOSE_ENOTSUP;
    uint8_t record [S_HEAD_RECORD];
    osmose_sth_encode (sth, record);
    s_head_check (record, record + OSMOSE_STH_SIZE);
    int rc = s_buffer_add (&self->heads, record, sizeof (record));
    if (rc == 0) {
        self->head = *sth;
        self->has_head = true;
        self->report.heads++;
    }
    return rc;
}

const osmose_sth_t *
osmose_store_head (osmose_store_t *self)
{
    assert (self);
    return self->has_head? &self->head: NULL;
}

static bool
s_pending (osmose_store_t *self)
{
    return self->entries.used || self->payloads.used || self->heads.used;
}

static bool
s_unsynced (osmose_store_t *self)
{
    return self->entries.unsynced || self->payloads.unsynced || self->heads.unsynced;
}

int
osmose_store_commit (osmose_store_t *self, bool force)
{
    assert (self);
    bool sync = force || self->policy == OSMOSE_FSYNC_ALWAYS
        || (self->policy == OSMOSE_FSYNC_GROUP
            && zclock_mono () - self->last_sync >= self->interval_ms);
    if (!sync && !s_pending (self))
        return 0;
    if (sync && !s_pending (self) && !s_unsynced (self)) {
        self->last_sync = zclock_mono ();
        return 0;
    }
    return s_flush (self, sync);
}

int64_t
osmose_store_commit_due (osmose_store_t *self)
{
    assert (self);
    if (!s_pending (self) && (!s_unsynced (self) || self->policy == OSMOSE_FSYNC_NEVER))
        return -1;
    if (self->policy != OSMOSE_FSYNC_GROUP)
        return 0;
    int64_t due = self->last_sync + self->interval_ms - zclock_mono ();
    return due < 0? 0: due;
}

static int
s_pread (int fd, uint8_t *buffer, size_t size, uint64_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t rc = pread (fd, buffer + done, size - done, (off_t) (offset + done));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return osmose_errno_code (errno);
        if (rc == 0)
            return OSMOSE_ECORRUPT;     //  the file is shorter than we know
        done += (size_t) rc;
    }
    return 0;
}

int
osmose_store_read (osmose_store_t *self, uint64_t index, uint8_t *buffer, size_t max,
                   size_t *size_p)
{
    assert (self && buffer && size_p);
    if (index >= self->count)
        return OSMOSE_ERANGE;
    uint64_t at = self->offsets [index];
    size_t size = (size_t) (self->offsets [index + 1] - at - S_ENTRY_HEADER - OSMOSE_HASH_SIZE);
    if (size > max)
        return OSMOSE_ETOOBIG;
    if (at >= self->entries.flushed) {
        //  Still in the buffer
        memcpy (buffer, self->entries.buffer + (at - self->entries.flushed) + S_ENTRY_HEADER, size);
        *size_p = size;
        return 0;
    }
    int rc = s_pread (self->entries.fd, buffer, size, at + S_ENTRY_HEADER);
    if (rc == 0)
        *size_p = size;
    return rc;
}

int
osmose_store_payload (osmose_store_t *self, uint64_t index, uint8_t **payload_p, size_t *size_p)
{
    assert (self && payload_p && size_p);
    *payload_p = NULL;
    if (index >= self->count)
        return OSMOSE_ERANGE;
    uint64_t at = self->payload_at [index];
    if (at == S_NONE)
        return OSMOSE_ENOTFOUND;
    if (at + S_PAYLOAD_HEADER > self->payloads.flushed) {
        int rc = s_flush (self, false);
        if (rc)
            return rc;
    }
    uint8_t header [S_PAYLOAD_HEADER];
    int rc = s_pread (self->payloads.fd, header, sizeof (header), at);
    if (rc)
        return rc;
    uint32_t length = s_get32 (header + 8);
    if (s_get64 (header) != index || length != (uint32_t) ~s_get32 (header + 12)
    ||  length > OSMOSE_PAYLOAD_MAX)
        return OSMOSE_ECORRUPT;
    uint8_t *payload = (uint8_t *) malloc (length? length: 1);
    if (!payload)
        return OSMOSE_ENOMEM;
    if ((rc = s_pread (self->payloads.fd, payload, length, at + S_PAYLOAD_HEADER)) != 0) {
        free (payload);
        return rc;
    }
    *payload_p = payload;
    *size_p = length;
    return 0;
}

int
osmose_store_erase_payload (osmose_store_t *self, uint64_t index)
{
    assert (self);
    if (!self->writable)
        return OSMOSE_ENOTSUP;
    uint8_t *payload;
    size_t size;
    int rc = osmose_store_payload (self, index, &payload, &size);
    if (rc)
        return rc;
    bool zero = s_all_zero (payload, size);
    free (payload);
    if (zero)
        return 0;
    //  Overwrite in place: the bytes must be gone from the disk, not just
    //  from an index
    uint8_t zeros [4096] = { 0 };
    uint64_t at = self->payload_at [index] + S_PAYLOAD_HEADER;
    for (size_t done = 0; done < size; ) {
        size_t chunk = size - done < sizeof (zeros)? size - done: sizeof (zeros);
        ssize_t written = pwrite (self->payloads.fd, zeros, chunk, (off_t) (at + done));
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return osmose_errno_code (written < 0? errno: EIO);
        done += (size_t) written;
    }
    return fdatasync (self->payloads.fd)? osmose_errno_code (errno): 0;
}

void
osmose_store_sizes (osmose_store_t *self, uint64_t *entries, uint64_t *payloads, uint64_t *heads)
{
    assert (self);
    if (entries)
        *entries = self->entries.flushed + self->entries.used;
    if (payloads)
        *payloads = self->payloads.flushed + self->payloads.used;
    if (heads)
        *heads = self->heads.flushed + self->heads.used;
}

void
osmose_store_destroy (osmose_store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_store_t *self = *self_p;
        if (self->writable && self->entries.fd >= 0 && self->payloads.fd >= 0 && self->heads.fd >= 0)
            if (s_flush (self, self->policy != OSMOSE_FSYNC_NEVER))
                zsys_warning ("%s: pending log records were lost on close", self->dir);
        s_file_close (&self->entries);
        s_file_close (&self->payloads);
        s_file_close (&self->heads);
        if (self->lock_fd >= 0)
            close (self->lock_fd);      //  releases the flock
        free (self->offsets);
        free (self->payload_at);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

//  ------------------------------------------------------------------------
//  Self-test

static int
s_count_entries (void *arg, uint64_t index, const uint8_t *entry, size_t size,
                 const uint8_t *leaf_hash, const uint8_t *pair_hash)
{
    uint64_t *count = (uint64_t *) arg;
    if (index != *count)
        return OSMOSE_ECORRUPT;
    (*count)++;
    return 0;
}

//  Entry I: inline "entry I", or for every fifth an external payload
static void
s_test_append (osmose_store_t *store, uint64_t index)
{
    char text [64];
    snprintf (text, sizeof (text), "entry %" PRIu64 " payload", index);
    osmose_entry_t entry = { .seq = index, .time_us = index, .type = OSMOSE_ENTRY_EVENT };
    entry.external = index % 5 == 0;
    entry.payload_size = (uint32_t) strlen (text);
    if (entry.external)
        crypto_generichash (entry.payload_hash, OSMOSE_HASH_SIZE, (uint8_t *) text,
                            strlen (text), NULL, 0);
    else
        entry.payload = (const uint8_t *) text;
    uint8_t buffer [OSMOSE_ENTRY_MAX], leaf [OSMOSE_HASH_SIZE];
    size_t size;
    assert (osmose_entry_encode (&entry, buffer, sizeof (buffer), &size) == 0);
    osmose_merkle_leaf_hash (buffer, size, leaf);
    assert (osmose_store_append (store, buffer, size, leaf,
                                 entry.external? (uint8_t *) text: NULL,
                                 entry.external? strlen (text): 0) == 0);
}

static int
s_test_open (const char *dir, int flags, uint64_t *count, char *error, osmose_store_t **store)
{
    *count = 0;
    return osmose_store_open (dir, flags, s_count_entries, count, error, 256, store);
}

//  Write BYTES at OFFSET of DIR/NAME (offset -1: append)
static void
s_poke (const char *dir, const char *name, int64_t offset, const void *bytes, size_t size)
{
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    int fd = open (path, O_WRONLY);
    assert (fd >= 0);
    if (offset < 0)
        offset = lseek (fd, 0, SEEK_END);
    assert (pwrite (fd, bytes, size, offset) == (ssize_t) size);
    close (fd);
}

static void
s_flip (const char *dir, const char *name, int64_t offset)
{
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    int fd = open (path, O_RDWR);
    assert (fd >= 0);
    uint8_t byte;
    assert (pread (fd, &byte, 1, offset) == 1);
    byte ^= 0x04;
    assert (pwrite (fd, &byte, 1, offset) == 1);
    close (fd);
}

static uint64_t
s_file_size (const char *dir, const char *name)
{
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    struct stat info;
    return stat (path, &info) == 0? (uint64_t) info.st_size: 0;
}

//  Offset of entry INDEX's record, for tests that damage it
static uint64_t
s_test_offset (osmose_store_t *self, uint64_t index)
{
    return self->offsets [index];
}

static void
s_remove_dir (const char *dir)
{
    zdir_t *tree = zdir_new (dir, NULL);
    if (tree) {
        zdir_remove (tree, true);
        zdir_destroy (&tree);
    }
}

void
osmose_store_test (bool verbose)
{
    printf (" * osmose_store: ");
    char dir [256], error [256];
    snprintf (dir, sizeof (dir), "/tmp/osmose-store-test-%d", getpid ());
    s_remove_dir (dir);
    osmose_store_t *store, *second;
    uint64_t count;
    //  A read-only open of nothing is "not found"
    assert (s_test_open (dir, 0, &count, error, &store) == OSMOSE_ENOTFOUND);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    assert (osmose_store_size (store) == 0 && !osmose_store_head (store));
    //  One writer at a time; readers need no lock
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &second) == OSMOSE_ELOCKED);
    assert (strstr (error, "in use"));
    assert (s_test_open (dir, 0, &count, error, &second) == 0);
    osmose_store_destroy (&second);

    for (uint64_t index = 0; index < 100; index++)
        s_test_append (store, index);
    assert (osmose_store_size (store) == 100 && osmose_store_flushed (store) == 0);
    osmose_store_set_fsync (store, OSMOSE_FSYNC_GROUP, 50);
    assert (osmose_store_commit_due (store) >= 0);
    //  Reads see pending entries
    uint8_t buffer [OSMOSE_ENTRY_MAX];
    size_t size;
    osmose_entry_t entry;
    assert (osmose_store_read (store, 42, buffer, sizeof (buffer), &size) == 0);
    assert (osmose_entry_decode (buffer, size, &entry) == 0 && entry.seq == 42);
    assert (osmose_store_commit (store, true) == 0);
    assert (osmose_store_flushed (store) == 100);
    assert (osmose_store_commit_due (store) == -1);
    osmose_identity_t *identity = osmose_identity_new ();
    osmose_sth_t sth = { .size = 100, .time_us = 5 };
    osmose_sth_sign (&sth, identity);
    assert (osmose_store_append_head (store, &sth) == 0);
    assert (osmose_store_commit (store, true) == 0);
    assert (osmose_store_read (store, 100, buffer, sizeof (buffer), &size) == OSMOSE_ERANGE);
    assert (osmose_store_read (store, 99, buffer, sizeof (buffer), &size) == 0);
    assert (osmose_entry_decode (buffer, size, &entry) == 0 && entry.seq == 99);
    uint8_t *payload;
    assert (osmose_store_payload (store, 10, &payload, &size) == 0);
    assert (size == strlen ("entry 10 payload") && memcmp (payload, "entry 10 payload", size) == 0);
    free (payload);
    assert (osmose_store_payload (store, 11, &payload, &size) == OSMOSE_ENOTFOUND);
    osmose_store_destroy (&store);

    //  Reopen: everything is back
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    assert (count == 100 && osmose_store_size (store) == 100);
    assert (osmose_store_head (store) && osmose_store_head (store)->size == 100);
    assert (osmose_sth_verify (osmose_store_head (store)) == 0);
    assert (osmose_store_report (store)->payloads == 20);
    assert (!osmose_store_report (store)->repaired);
    osmose_store_destroy (&store);

    //  Torn tails in every file are dropped and reported, never kept
    uint64_t entries_size = s_file_size (dir, "entries.log");
    uint8_t torn [40] = { 0, 0, 0, 50, 0xff, 0xff, 0xff, 0xcd, 1, 0 };
    s_poke (dir, "entries.log", -1, torn, 20);      //  header and part of a body
    s_poke (dir, "heads.log", -1, torn, 7);
    uint8_t orphan [S_PAYLOAD_HEADER + 4] = { 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfb };
    s_poke (dir, "payloads.dat", -1, orphan, sizeof (orphan));     //  entry 100 never came
    //  A reader sees the same entries and changes nothing
    assert (s_test_open (dir, 0, &count, error, &store) == 0 && count == 100);
    assert (osmose_store_report (store)->torn_entry_bytes == 20 && !osmose_store_report (store)->repaired);
    osmose_store_destroy (&store);
    assert (s_file_size (dir, "entries.log") == entries_size + 20);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0 && count == 100);
    const osmose_store_report_t *report = osmose_store_report (store);
    assert (report->repaired && report->torn_entry_bytes == 20 && report->torn_head_bytes == 7);
    assert (report->torn_payload_bytes == sizeof (orphan));
    osmose_store_destroy (&store);
    assert (s_file_size (dir, "entries.log") == entries_size);

    //  A flipped byte in a complete entry is damage: open fails, names it
    s_flip (dir, "entries.log", 8 + 3);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == OSMOSE_ECORRUPT);
    assert (strstr (error, "entry 0 at offset 0") && strstr (error, "checksum"));
    s_flip (dir, "entries.log", 8 + 3);
    //  ... as is one in its stored hash, or in a length field
    s_flip (dir, "entries.log", entries_size - 1);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == OSMOSE_ECORRUPT);
    assert (strstr (error, "entry 99"));
    s_flip (dir, "entries.log", entries_size - 1);
    s_flip (dir, "entries.log", 2);
    assert (s_test_open (dir, 0, &count, error, &store) == OSMOSE_ECORRUPT);
    assert (strstr (error, "length"));
    s_flip (dir, "entries.log", 2);
    //  A huge, well-formed length is refused, not trusted
    uint8_t huge [8] = { 0x7f, 0xff, 0xff, 0xff, 0x80, 0, 0, 0 };
    s_poke (dir, "entries.log", -1, huge, sizeof (huge));
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == OSMOSE_ETOOBIG);
    assert (strstr (error, "over the limit"));
    char *entries_path = zsys_sprintf ("%s/entries.log", dir);
    assert (truncate (entries_path, (off_t) entries_size) == 0);
    zstr_free (&entries_path);
    //  A flipped byte in a head (a signature byte here)
    s_flip (dir, "heads.log", OSMOSE_STH_SIZE - 5);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == OSMOSE_ECORRUPT);
    assert (strstr (error, "heads.log"));
    s_flip (dir, "heads.log", OSMOSE_STH_SIZE - 5);

    //  Erasure overwrites the bytes on disk
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    assert (osmose_store_erase_payload (store, 10) == 0);
    assert (osmose_store_erase_payload (store, 11) == OSMOSE_ENOTFOUND);
    assert (osmose_store_payload (store, 10, &payload, &size) == 0);
    assert (size == strlen ("entry 10 payload") && s_all_zero (payload, size));
    free (payload);
    osmose_store_destroy (&store);
    char *path = zsys_sprintf ("%s/payloads.dat", dir);
    zfile_t *file = zfile_new (NULL, path);
    assert (file && zfile_input (file) == 0);
    zchunk_t *chunk = zfile_read (file, zfile_cursize (file), 0);
    assert (chunk);
    const char *needle = "entry 10 payload";
    assert (!memmem (zchunk_data (chunk), zchunk_size (chunk), needle, strlen (needle)));
    assert (memmem (zchunk_data (chunk), zchunk_size (chunk), "entry 15 payload", 16));
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    zstr_free (&path);

    //  A write that fails (here: file size limit, as a full disk would)
    //  rolls back to the last complete write; committed entries stay
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    struct rlimit saved, limit;
    getrlimit (RLIMIT_FSIZE, &saved);
    limit = saved;
    limit.rlim_cur = (rlim_t) entries_size + 1000;
    signal (SIGXFSZ, SIG_IGN);
    assert (setrlimit (RLIMIT_FSIZE, &limit) == 0);
    int rc = 0;
    uint64_t index;
    for (index = 100; index < 200 && rc == 0; index++) {
        s_test_append (store, index);
        rc = osmose_store_commit (store, false);
    }
    assert (rc == OSMOSE_ETOOBIG);
    uint64_t kept = osmose_store_size (store);
    assert (kept > 100 && kept < 200 && kept == osmose_store_flushed (store));
    setrlimit (RLIMIT_FSIZE, &saved);
    signal (SIGXFSZ, SIG_DFL);
    //  Appends work again once there is room
    s_test_append (store, kept);
    assert (osmose_store_commit (store, true) == 0);
    osmose_store_destroy (&store);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    assert (count == kept + 1 && !osmose_store_report (store)->repaired);
    osmose_store_destroy (&store);

    //  A reader follows the writer; heads.log stays small while running
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    assert (s_test_open (dir, 0, &count, error, &second) == 0 && count == kept + 1);
    s_test_append (store, kept + 1);
    s_test_append (store, kept + 2);
    osmose_store_set_fsync (store, OSMOSE_FSYNC_NEVER, 0);
    sth.size = kept + 3;
    for (index = 0; index < 2 * S_HEADS_KEEP + 10; index++)
        assert (osmose_store_append_head (store, &sth) == 0);
    assert (osmose_store_commit (store, false) == 0);
    assert (s_file_size (dir, "heads.log") > 2 * S_HEADS_KEEP * S_HEAD_RECORD);
    assert (osmose_store_refresh (second, s_count_entries, &count, error, sizeof (error)) == 0);
    assert (count == kept + 3 && osmose_store_size (second) == kept + 3);
    assert (osmose_store_head (second) && osmose_store_head (second)->size == kept + 3);
    assert (osmose_store_read (second, kept + 2, buffer, sizeof (buffer), &size) == 0);
    assert (osmose_store_commit (store, true) == 0);
    assert (s_file_size (dir, "heads.log") == S_HEAD_RECORD);
    assert (osmose_store_refresh (second, s_count_entries, &count, error, sizeof (error)) == 0);
    assert (osmose_store_report (second)->heads == 1 && osmose_store_head (second)->size == kept + 3);
    osmose_store_destroy (&second);
    osmose_store_destroy (&store);

    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    osmose_store_set_fsync (store, OSMOSE_FSYNC_GROUP, 300);
    assert (osmose_store_commit (store, true) == 0);
    //  Group commit: written at once, fsynced when the interval has passed
    s_test_append (store, osmose_store_size (store));
    assert (osmose_store_commit (store, false) == 0);
    assert (osmose_store_flushed (store) == osmose_store_size (store));    //  written out...
    int64_t due = osmose_store_commit_due (store);
    assert (due > 0 && due <= 300);                     //  ...fsync still due
    zclock_sleep ((int) due + 5);
    assert (osmose_store_commit_due (store) == 0);
    assert (osmose_store_commit (store, false) == 0);
    assert (osmose_store_commit_due (store) == -1);     //  synced
    //  Policy always: every commit syncs; never: nothing ever waits
    osmose_store_set_fsync (store, OSMOSE_FSYNC_ALWAYS, 0);
    assert (osmose_store_commit_due (store) == -1);
    osmose_store_destroy (&store);

    //  A big store is checked with the helper actor; damage is still found
    //  and named exactly, in whichever chunk it lies
    s_remove_dir (dir);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0);
    osmose_store_set_fsync (store, OSMOSE_FSYNC_NEVER, 0);
    uint64_t big = 2 * S_CHUNK + 1234;
    for (index = 0; index < big; index++)
        s_test_append (store, index);
    assert (osmose_store_commit (store, false) == 0);
    osmose_store_destroy (&store);
    assert (s_file_size (dir, "entries.log") > S_PARALLEL_BYTES);
    assert (s_test_open (dir, 0, &count, error, &store) == 0 && count == big);
    uint64_t victim = S_CHUNK + 77, victim_at = s_test_offset (store, victim);
    uint64_t last_at = s_test_offset (store, big - 1);
    osmose_store_destroy (&store);
    s_flip (dir, "entries.log", (int64_t) victim_at + 12);
    assert (s_test_open (dir, 0, &count, error, &store) == OSMOSE_ECORRUPT);
    char expect [64];
    snprintf (expect, sizeof (expect), "entry %" PRIu64 " at offset %" PRIu64 ": checksum", victim, victim_at);
    assert (strstr (error, expect));
    s_flip (dir, "entries.log", (int64_t) victim_at + 12);
    s_flip (dir, "entries.log", (int64_t) last_at + 1);
    assert (s_test_open (dir, 0, &count, error, &store) == OSMOSE_ECORRUPT);
    snprintf (expect, sizeof (expect), "entry %" PRIu64 " at offset %" PRIu64 ": damaged length",
              big - 1, last_at);
    assert (strstr (error, expect));
    s_flip (dir, "entries.log", (int64_t) last_at + 1);
    s_poke (dir, "entries.log", -1, torn, 20);
    assert (s_test_open (dir, OSMOSE_STORE_WRITE, &count, error, &store) == 0 && count == big);
    assert (osmose_store_report (store)->torn_entry_bytes == 20);
    osmose_store_destroy (&store);

    //  A store with no entries.log to open read-only; an unwritable dir
    assert (osmose_store_open ("/proc/osmose-no-store", OSMOSE_STORE_WRITE, NULL, NULL,
                               error, sizeof (error), &store) != 0);
    assert (*error);
    osmose_identity_destroy (&identity);
    s_remove_dir (dir);
    assert (!zsys_file_exists (dir));
    printf ("OK\n");
}
