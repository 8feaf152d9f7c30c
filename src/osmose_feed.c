/*  osmose_feed.c: a feed = a store + its Merkle tree + its writer (see
    header). The tree lives in memory, rebuilt on open from the entries'
    checked leaf hashes; the store never sees a tree, the tree never sees
    a file.
*/
#include "osmose_prelude.h"
#include "osmose_feed.h"
#include "osmose_config.h"

typedef struct {
    uint64_t target;                    //  entry whose payload was erased
    uint64_t eraser;                    //  the ERASE entry
} s_erasure_t;

struct _osmose_feed_t {
    osmose_store_t *store;
    osmose_merkle_t *tree;
    osmose_identity_t *identity;        //  borrowed; NULL unless writer
    bool replica;
    bool holds_payloads;                //  false in replicas
    bool has_key;
    uint8_t key [OSMOSE_KEY_SIZE];
    uint64_t signed_size;               //  size of the latest head
    s_erasure_t *erasures;
    size_t erasure_count, erasure_capacity;
    uint64_t *externals;                //  entries with external payloads
    size_t external_count, external_capacity;
    uint64_t types [32];
    uint8_t *scratch;                   //  OSMOSE_ENTRY_MAX bytes
    char why [160];                     //  detail of the last refusal
};

static int64_t
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static int
s_push (void **array, size_t *count, size_t *capacity, size_t item_size, const void *item)
{
    if (*count == *capacity) {
        size_t capacity_new = *capacity? *capacity * 2: 64;
        void *grown = realloc (*array, capacity_new * item_size);
        if (!grown)
            return OSMOSE_ENOMEM;
        *array = grown;
        *capacity = capacity_new;
    }
    memcpy ((uint8_t *) *array + *count * item_size, item, item_size);
    (*count)++;
    return 0;
}

int64_t
osmose_feed_erased_by (osmose_feed_t *self, uint64_t index)
{
    assert (self);
    for (size_t at = 0; at < self->erasure_count; at++)
        if (self->erasures [at].target == index)
            return (int64_t) self->erasures [at].eraser;
    return -1;
}

//  Check one decoded entry at INDEX against the feed's rules and note what
//  the feed must remember of it. Used by open and import alike.
static int
s_accept_entry (osmose_feed_t *self, uint64_t index, const osmose_entry_t *entry_p,
                const uint8_t *expected_key)
{
    const osmose_entry_t entry = *entry_p;
    int rc;
    if (entry.seq != index) {
        snprintf (self->why, sizeof (self->why), "entry %" PRIu64 " carries sequence number %"
                  PRIu64 ": out of order", index, entry.seq);
        return OSMOSE_ECORRUPT;
    }
    if ((index == 0) != (entry.type == OSMOSE_ENTRY_GENESIS)) {
        snprintf (self->why, sizeof (self->why), index? "entry %" PRIu64 " is a second GENESIS":
                  "entry %" PRIu64 " is not a GENESIS entry", index);
        return OSMOSE_ECORRUPT;
    }
    if (index == 0) {
        if (entry.external || entry.payload_size != OSMOSE_KEY_SIZE) {
            snprintf (self->why, sizeof (self->why), "GENESIS entry does not name a key");
            return OSMOSE_ECORRUPT;
        }
        if (expected_key && memcmp (entry.payload, expected_key, OSMOSE_KEY_SIZE)) {
            snprintf (self->why, sizeof (self->why), "GENESIS names another key than the head");
            return OSMOSE_EVERIFY;
        }
        memcpy (self->key, entry.payload, OSMOSE_KEY_SIZE);
        self->has_key = true;
    }
    if (entry.type == OSMOSE_ENTRY_ERASE) {
        s_erasure_t erasure = { .eraser = index };
        char reason [OSMOSE_ERASE_REASON_MAX + 1];
        if (entry.external
        ||  osmose_entry_erase_decode (entry.payload, entry.payload_size, &erasure.target, reason)
        ||  erasure.target >= index) {
            snprintf (self->why, sizeof (self->why), "ERASE entry %" PRIu64 " is malformed", index);
            return OSMOSE_ECORRUPT;
        }
        if ((rc = s_push ((void **) &self->erasures, &self->erasure_count,
                          &self->erasure_capacity, sizeof (erasure), &erasure)) != 0)
            return rc;
    }
    if (entry.external
    &&  (rc = s_push ((void **) &self->externals, &self->external_count,
                      &self->external_capacity, sizeof (uint64_t), &index)) != 0)
        return rc;
    self->types [entry.type < 31? entry.type: 31]++;
    return 0;
}

static int
s_accept (osmose_feed_t *self, uint64_t index, const uint8_t *data, size_t size,
          const uint8_t *expected_key)
{
    osmose_entry_t entry;
    int rc = osmose_entry_decode (data, size, &entry);
    if (rc) {
        snprintf (self->why, sizeof (self->why), "entry %" PRIu64 " is malformed", index);
        return rc;
    }
    return s_accept_entry (self, index, &entry, expected_key);
}

static int
s_on_entry (void *arg, uint64_t index, const uint8_t *data, size_t size, const uint8_t *leaf)
{
    osmose_feed_t *self = (osmose_feed_t *) arg;
    int rc = s_accept (self, index, data, size, NULL);
    return rc? rc: osmose_merkle_append (self->tree, leaf);
}

//  Forget in memory what the store dropped (a failed write)
static void
s_rollback (osmose_feed_t *self)
{
    uint64_t size = osmose_store_size (self->store);
    osmose_merkle_truncate (self->tree, size);
    while (self->erasure_count && self->erasures [self->erasure_count - 1].eraser >= size)
        self->erasure_count--;
    while (self->external_count && self->externals [self->external_count - 1] >= size)
        self->external_count--;
    const osmose_sth_t *head = osmose_store_head (self->store);
    self->signed_size = head? head->size: 0;
    if (size == 0)
        self->has_key = false;
}

static int
s_check_head (osmose_feed_t *self, char *error, size_t error_size)
{
    const osmose_sth_t *head = osmose_store_head (self->store);
    if (!head)
        return 0;
    uint8_t root [OSMOSE_HASH_SIZE];
    const char *problem = NULL;
    if (osmose_sth_verify (head))
        problem = "its signature does not verify";
    else
    if (!self->has_key || memcmp (head->feed, self->key, OSMOSE_KEY_SIZE))
        problem = "it is signed by another key than the feed's";
    else
    if (osmose_merkle_root (self->tree, head->size, root) || memcmp (root, head->root, OSMOSE_HASH_SIZE))
        problem = "its root does not match the entries";
    if (problem) {
        snprintf (error, error_size, "%s/heads.log: the latest head (size %" PRIu64 "): %s",
                  osmose_store_dir (self->store), head->size, problem);
        return OSMOSE_EVERIFY;
    }
    self->signed_size = head->size;
    return 0;
}

//  Append an encoded entry to tree and store
static int
s_append_encoded (osmose_feed_t *self, const uint8_t *data, size_t size,
                  const uint8_t *payload, size_t payload_size)
{
    uint8_t leaf [OSMOSE_HASH_SIZE];
    osmose_merkle_leaf_hash (data, size, leaf);
    int rc = osmose_merkle_append (self->tree, leaf);
    if (rc)
        return rc;
    rc = osmose_store_append (self->store, data, size, leaf, payload, payload_size);
    if (rc)
        s_rollback (self);
    return rc;
}

static int
s_append (osmose_feed_t *self, uint16_t type, const void *payload, size_t size, int flags,
          uint64_t *index_p)
{
    bool external = (flags & OSMOSE_FEED_EXTERNAL) != 0;
    if (size > (external? OSMOSE_PAYLOAD_MAX: OSMOSE_ENTRY_INLINE_MAX))
        return OSMOSE_ETOOBIG;
    uint64_t index = osmose_merkle_size (self->tree);
    osmose_entry_t entry = {
        .seq = index, .time_us = (uint64_t) s_now_us (), .type = type, .external = external,
        .payload_size = (uint32_t) size, .payload = external? NULL: (const uint8_t *) payload
    };
    if (external)
        crypto_generichash (entry.payload_hash, OSMOSE_HASH_SIZE, (const uint8_t *) payload,
                            size, NULL, 0);
    size_t encoded;
    int rc = osmose_entry_encode (&entry, self->scratch, OSMOSE_ENTRY_MAX, &encoded);
    if (rc == 0)
        rc = s_accept_entry (self, index, &entry, NULL);
    if (rc == 0)
        rc = s_append_encoded (self, self->scratch, encoded, external? (const uint8_t *) payload: NULL,
                               external? size: 0);
    if (rc == 0 && index_p)
        *index_p = index;
    return rc;
}

int
osmose_feed_open (const char *dir, osmose_identity_t *identity, int flags,
                  char *error, size_t error_size, osmose_feed_t **self_p)
{
    assert (dir && self_p);
    char dummy [8];
    if (!error) {
        error = dummy;
        error_size = sizeof (dummy);
    }
    *error = 0;
    *self_p = NULL;
    osmose_feed_t *self = (osmose_feed_t *) zmalloc (sizeof (osmose_feed_t));
    if (!self)
        return OSMOSE_ENOMEM;
    self->identity = identity;
    self->replica = !identity && (flags & OSMOSE_FEED_REPLICA);
    self->tree = osmose_merkle_new ();
    self->scratch = (uint8_t *) malloc (OSMOSE_ENTRY_MAX);
    int rc = self->tree && self->scratch? 0: OSMOSE_ENOMEM;
    if (rc == 0) {
        rc = osmose_store_open (dir, identity || self->replica? OSMOSE_STORE_WRITE: 0,
                                s_on_entry, self, error, error_size, &self->store);
        if (rc && *self->why) {
            size_t length = strlen (error);
            snprintf (error + length, error_size - length, " (%s)", self->why);
        }
    }
    if (rc == 0) {
        char path [PATH_MAX];
        snprintf (path, sizeof (path), "%s/replica", dir);
        if (self->replica && !zsys_file_exists (path)) {
            FILE *marker = fopen (path, "w");
            if (marker)
                fclose (marker);
        }
        self->holds_payloads = !zsys_file_exists (path);
        rc = s_check_head (self, error, error_size);
    }
    if (rc == 0 && identity) {
        if (!self->has_key) {
            //  A new feed: its first entry says whose it is
            rc = s_append (self, OSMOSE_ENTRY_GENESIS, osmose_identity_public (identity),
                           OSMOSE_KEY_SIZE, 0, NULL);
            if (rc == 0)
                rc = osmose_feed_commit (self, true);
            if (rc)
                snprintf (error, error_size, "%s: cannot start the feed: %s", dir, osmose_strerror (rc));
        }
        else
        if (memcmp (self->key, osmose_identity_public (identity), OSMOSE_KEY_SIZE)) {
            char id [OSMOSE_ID_SIZE + 1];
            osmose_identity_id_of (self->key, id);
            snprintf (error, error_size, "%s: the store holds feed %s, not ours (%s)",
                      dir, id, osmose_identity_id (identity));
            rc = OSMOSE_EVERIFY;
        }
        //  Finish erasures a crash interrupted: the ERASE entry is durable
        for (size_t at = 0; rc == 0 && at < self->erasure_count; at++) {
            int erased = osmose_store_erase_payload (self->store, self->erasures [at].target);
            if (erased && erased != OSMOSE_ENOTFOUND)
                rc = erased;
        }
    }
    if (rc) {
        osmose_feed_destroy (&self);
        return rc;
    }
    *self_p = self;
    return 0;
}

int
osmose_feed_refresh (osmose_feed_t *self, char *error, size_t error_size)
{
    assert (self);
    if (self->identity || self->replica)
        return 0;
    int rc = osmose_store_refresh (self->store, s_on_entry, self, error, error_size);
    return rc? rc: s_check_head (self, error, error_size);
}

void
osmose_feed_destroy (osmose_feed_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_feed_t *self = *self_p;
        if (self->store && self->identity && osmose_merkle_size (self->tree) > self->signed_size)
            if (osmose_feed_commit (self, false))
                zsys_warning ("%s: uncommitted log entries were lost", osmose_store_dir (self->store));
        osmose_store_destroy (&self->store);
        osmose_merkle_destroy (&self->tree);
        free (self->erasures);
        free (self->externals);
        free (self->scratch);
        free (self);
        *self_p = NULL;
    }
}

const osmose_store_report_t *
osmose_feed_report (osmose_feed_t *self)
{
    assert (self);
    return osmose_store_report (self->store);
}

void
osmose_feed_set_fsync (osmose_feed_t *self, osmose_fsync_t policy, int interval_ms)
{
    assert (self);
    osmose_store_set_fsync (self->store, policy, interval_ms);
}

int
osmose_feed_configure (osmose_feed_t *self, osmose_config_t *config)
{
    assert (self && config);
    int policy = osmose_fsync_parse (osmose_config_str (config, "log/fsync"));
    if (policy < 0)
        return OSMOSE_ECONFIG;
    osmose_feed_set_fsync (self, (osmose_fsync_t) policy,
                           (int) osmose_config_int (config, "log/fsync_interval_ms"));
    return 0;
}

int
osmose_fsync_parse (const char *name)
{
    if (name && streq (name, "always"))
        return OSMOSE_FSYNC_ALWAYS;
    if (name && streq (name, "group"))
        return OSMOSE_FSYNC_GROUP;
    if (name && streq (name, "never"))
        return OSMOSE_FSYNC_NEVER;
    return -1;
}

const uint8_t *
osmose_feed_key (osmose_feed_t *self)
{
    assert (self);
    return self->has_key? self->key: NULL;
}

uint64_t
osmose_feed_size (osmose_feed_t *self)
{
    assert (self);
    return osmose_merkle_size (self->tree);
}

int
osmose_feed_append (osmose_feed_t *self, uint16_t type, const void *payload, size_t size,
                    int flags, uint64_t *index_p)
{
    assert (self);
    if (!self->identity)
        return OSMOSE_ENOTSUP;
    //  These types carry the feed's own structure; they have their verbs
    if (type == OSMOSE_ENTRY_GENESIS || type == OSMOSE_ENTRY_ERASE || (size && !payload))
        return OSMOSE_EINVAL;
    return s_append (self, type, payload, size, flags, index_p);
}

int
osmose_feed_commit (osmose_feed_t *self, bool force)
{
    assert (self);
    if (!self->identity && !self->replica)
        return 0;
    uint64_t size = osmose_merkle_size (self->tree);
    if (self->identity && (size > self->signed_size || !osmose_store_head (self->store))) {
        osmose_sth_t sth = { .size = size, .time_us = (uint64_t) s_now_us () };
        int rc = osmose_merkle_root (self->tree, size, sth.root);
        assert (rc == 0);
        osmose_sth_sign (&sth, self->identity);
        if ((rc = osmose_store_append_head (self->store, &sth)) != 0)
            return rc;
        self->signed_size = size;
    }
    int rc = osmose_store_commit (self->store, force);
    if (rc)
        s_rollback (self);
    return rc;
}

int64_t
osmose_feed_commit_due (osmose_feed_t *self)
{
    assert (self);
    if (self->identity && osmose_merkle_size (self->tree) > self->signed_size)
        return 0;
    return osmose_store_commit_due (self->store);
}

int
osmose_feed_head (osmose_feed_t *self, osmose_sth_t *sth)
{
    assert (self && sth);
    const osmose_sth_t *head = osmose_store_head (self->store);
    if (!head)
        return OSMOSE_ENOTFOUND;
    *sth = *head;
    return 0;
}

int
osmose_feed_root (osmose_feed_t *self, uint64_t size, uint8_t *root)
{
    assert (self && root);
    return osmose_merkle_root (self->tree, size, root);
}

const uint8_t *
osmose_feed_leaf (osmose_feed_t *self, uint64_t index)
{
    assert (self);
    return osmose_merkle_leaf (self->tree, index);
}

int
osmose_feed_entry (osmose_feed_t *self, uint64_t index, uint8_t *buffer, size_t *size_p,
                   osmose_entry_t *entry)
{
    assert (self && buffer && entry);
    size_t size;
    int rc = osmose_store_read (self->store, index, buffer, OSMOSE_ENTRY_MAX, &size);
    if (rc)
        return rc;
    uint8_t leaf [OSMOSE_HASH_SIZE];
    osmose_merkle_leaf_hash (buffer, size, leaf);
    if (memcmp (leaf, osmose_merkle_leaf (self->tree, index), OSMOSE_HASH_SIZE))
        return OSMOSE_ECORRUPT;
    if (size_p)
        *size_p = size;
    return osmose_entry_decode (buffer, size, entry);
}

int
osmose_feed_payload (osmose_feed_t *self, uint64_t index, uint8_t **payload_p, size_t *size_p,
                     uint64_t *erased_by_p)
{
    assert (self && payload_p && size_p);
    *payload_p = NULL;
    *size_p = 0;
    osmose_entry_t entry;
    int rc = osmose_feed_entry (self, index, self->scratch, NULL, &entry);
    if (rc)
        return rc;
    int64_t eraser = osmose_feed_erased_by (self, index);
    if (eraser >= 0) {
        if (erased_by_p)
            *erased_by_p = (uint64_t) eraser;
        return OSMOSE_EERASED;
    }
    if (!entry.external) {
        *payload_p = (uint8_t *) malloc (entry.payload_size? entry.payload_size: 1);
        if (!*payload_p)
            return OSMOSE_ENOMEM;
        if (entry.payload_size)
            memcpy (*payload_p, entry.payload, entry.payload_size);
        *size_p = entry.payload_size;
        return 0;
    }
    uint8_t *payload;
    size_t size;
    rc = osmose_store_payload (self->store, index, &payload, &size);
    if (rc == OSMOSE_ENOTFOUND && self->holds_payloads)
        rc = OSMOSE_ECORRUPT;           //  a writer's store lost it
    if (rc)
        return rc;
    uint8_t hash [OSMOSE_HASH_SIZE];
    crypto_generichash (hash, OSMOSE_HASH_SIZE, payload, size, NULL, 0);
    if (size != entry.payload_size || memcmp (hash, entry.payload_hash, OSMOSE_HASH_SIZE)) {
        free (payload);
        return OSMOSE_ECORRUPT;
    }
    *payload_p = payload;
    *size_p = size;
    return 0;
}

int
osmose_feed_inclusion (osmose_feed_t *self, uint64_t index, uint64_t size, osmose_proof_t *proof)
{
    assert (self);
    return osmose_merkle_inclusion (self->tree, index, size, proof);
}

int
osmose_feed_consistency (osmose_feed_t *self, uint64_t old_size, uint64_t size,
                         osmose_proof_t *proof)
{
    assert (self);
    return osmose_merkle_consistency (self->tree, old_size, size, proof);
}

int
osmose_feed_verify (osmose_feed_t *self, char *error, size_t error_size)
{
    assert (self);
    char dummy [8];
    if (!error) {
        error = dummy;
        error_size = sizeof (dummy);
    }
    *error = 0;
    //  What we hold must be on disk before a fresh reader looks
    int rc = osmose_feed_commit (self, false);
    if (rc) {
        snprintf (error, error_size, "cannot write out pending entries: %s", osmose_strerror (rc));
        return rc;
    }
    osmose_feed_t *fresh;
    rc = osmose_feed_open (osmose_store_dir (self->store), NULL, 0, error, error_size, &fresh);
    if (rc)
        return rc;
    const osmose_sth_t *head = osmose_store_head (fresh->store);
    uint8_t ours [OSMOSE_HASH_SIZE], theirs [OSMOSE_HASH_SIZE];
    uint64_t size = osmose_feed_size (fresh);
    if (size && !head) {
        snprintf (error, error_size, "%s: %" PRIu64 " entries but no signed head",
                  osmose_store_dir (self->store), size);
        rc = OSMOSE_EVERIFY;
    }
    else
    if (size != osmose_feed_size (self)
    ||  osmose_feed_root (self, size, ours) || osmose_feed_root (fresh, size, theirs)
    ||  memcmp (ours, theirs, OSMOSE_HASH_SIZE)) {
        snprintf (error, error_size, "%s: the files no longer match the open feed",
                  osmose_store_dir (self->store));
        rc = OSMOSE_ECORRUPT;
    }
    //  Payloads: every stored, unerased one against its entry's hash
    for (size_t at = 0; rc == 0 && at < fresh->external_count; at++) {
        uint64_t index = fresh->externals [at];
        uint8_t *payload;
        size_t payload_size;
        int payload_rc = osmose_feed_payload (fresh, index, &payload, &payload_size, NULL);
        free (payload);
        if (payload_rc == OSMOSE_EERASED || (payload_rc == OSMOSE_ENOTFOUND && !fresh->holds_payloads))
            continue;
        if (payload_rc) {
            snprintf (error, error_size, "%s/payloads.dat: payload of entry %" PRIu64 ": %s",
                      osmose_store_dir (self->store), index,
                      payload_rc == OSMOSE_ECORRUPT? "missing or does not match its hash":
                      osmose_strerror (payload_rc));
            rc = payload_rc;
        }
    }
    osmose_feed_destroy (&fresh);
    return rc;
}

int
osmose_feed_check_head (osmose_feed_t *self, const osmose_sth_t *sth, osmose_fork_t *fork)
{
    assert (self && sth);
    osmose_fork_t local;
    if (!fork)
        fork = &local;
    if (osmose_sth_verify (sth) || !self->has_key || memcmp (sth->feed, self->key, OSMOSE_KEY_SIZE))
        return OSMOSE_EVERIFY;
    const osmose_sth_t *head = osmose_store_head (self->store);
    if (!head || sth->size > head->size)
        return OSMOSE_ERANGE;
    return osmose_fork_check (self->tree, head, sth, fork);
}

//  Their history (our first FIRST leaves, then LEAVES) diverges from ours
//  and verifies against STH: build it and prove the fork
static int
s_prove_fork (osmose_feed_t *self, uint64_t first, const uint8_t (*leaves) [OSMOSE_HASH_SIZE],
              size_t count, const osmose_sth_t *sth, osmose_fork_t *fork)
{
    const osmose_sth_t *head = osmose_store_head (self->store);
    osmose_merkle_t *theirs = osmose_merkle_new ();
    int rc = theirs? 0: OSMOSE_ENOMEM;
    for (uint64_t index = 0; rc == 0 && index < first; index++)
        rc = osmose_merkle_append (theirs, osmose_merkle_leaf (self->tree, index));
    for (size_t index = 0; rc == 0 && index < count; index++)
        rc = osmose_merkle_append (theirs, leaves [index]);
    uint8_t root [OSMOSE_HASH_SIZE];
    if (rc == 0
    &&  (osmose_merkle_root (theirs, sth->size, root) || memcmp (root, sth->root, OSMOSE_HASH_SIZE)))
        rc = OSMOSE_EVERIFY;            //  not their history: just bad data
    if (rc == 0 && head) {
        //  The larger head's tree holds the proof
        if (sth->size >= head->size)
            rc = osmose_fork_check (theirs, sth, head, fork);
        else
            rc = osmose_fork_check (self->tree, head, sth, fork);
    }
    osmose_merkle_destroy (&theirs);
    return rc;
}

int
osmose_feed_import (osmose_feed_t *self, uint64_t first, const uint8_t **entries,
                    const size_t *sizes, size_t count, const osmose_sth_t *sth,
                    osmose_fork_t *fork)
{
    assert (self && sth && (entries || count == 0));
    osmose_fork_t local;
    if (!fork)
        fork = &local;
    if (!self->replica)
        return OSMOSE_ENOTSUP;
    if (osmose_sth_verify (sth) || (self->has_key && memcmp (sth->feed, self->key, OSMOSE_KEY_SIZE)))
        return OSMOSE_EVERIFY;
    if (sth->size != first + count)
        return OSMOSE_EPROTO;
    uint64_t size = osmose_merkle_size (self->tree);
    if (first > size)
        return OSMOSE_ERANGE;
    uint8_t (*leaves) [OSMOSE_HASH_SIZE] = (uint8_t (*) [OSMOSE_HASH_SIZE])
        malloc ((count? count: 1) * OSMOSE_HASH_SIZE);
    if (!leaves)
        return OSMOSE_ENOMEM;
    bool diverges = false;
    for (size_t index = 0; index < count; index++) {
        if (sizes [index] > OSMOSE_ENTRY_MAX) {
            free (leaves);
            return OSMOSE_ETOOBIG;
        }
        osmose_merkle_leaf_hash (entries [index], sizes [index], leaves [index]);
        if (first + index < size
        &&  memcmp (leaves [index], osmose_merkle_leaf (self->tree, first + index), OSMOSE_HASH_SIZE))
            diverges = true;
    }
    int rc = 0;
    if (diverges)
        rc = s_prove_fork (self, first, (const uint8_t (*) [OSMOSE_HASH_SIZE]) leaves, count, sth, fork);
    else
    if (sth->size <= size)
        rc = osmose_store_head (self->store)? osmose_feed_check_head (self, sth, fork): 0;
    else {
        //  New entries: check each, grow the tree, compare the root; all or nothing
        size_t skip = (size_t) (size - first);
        for (size_t index = skip; rc == 0 && index < count; index++) {
            rc = s_accept (self, first + index, entries [index], sizes [index], sth->feed);
            if (rc == 0)
                rc = osmose_merkle_append (self->tree, leaves [index]);
        }
        uint8_t root [OSMOSE_HASH_SIZE];
        if (rc == 0 && (osmose_merkle_root (self->tree, sth->size, root)
                        || memcmp (root, sth->root, OSMOSE_HASH_SIZE)))
            rc = OSMOSE_EVERIFY;
        for (size_t index = skip; rc == 0 && index < count; index++)
            rc = osmose_store_append (self->store, entries [index], sizes [index],
                                      leaves [index], NULL, 0);
        if (rc == 0)
            rc = osmose_store_append_head (self->store, sth);
        if (rc == 0)
            rc = osmose_store_commit (self->store, false);
        //  The tree goes back to what the store holds: verified entries a
        //  full buffer already wrote out may stay, the rest is forgotten
        if (rc)
            s_rollback (self);
    }
    free (leaves);
    return rc;
}

int
osmose_feed_erase (osmose_feed_t *self, uint64_t index, const char *reason, uint64_t *erase_index_p)
{
    assert (self);
    if (!self->identity)
        return OSMOSE_ENOTSUP;
    osmose_entry_t entry;
    int rc = osmose_feed_entry (self, index, self->scratch, NULL, &entry);
    if (rc)
        return rc;
    if (!entry.external || entry.type == OSMOSE_ENTRY_ERASE || entry.type == OSMOSE_ENTRY_GENESIS)
        return OSMOSE_EINVAL;
    if (osmose_feed_erased_by (self, index) >= 0)
        return OSMOSE_EERASED;
    uint8_t payload [8 + OSMOSE_ERASE_REASON_MAX];
    int size = osmose_entry_erase_encode (index, reason, payload);
    if (size < 0)
        return size;
    uint64_t eraser;
    rc = s_append (self, OSMOSE_ENTRY_ERASE, payload, (size_t) size, 0, &eraser);
    //  The ERASE entry is durable before the bytes go: a crash in between
    //  is finished on the next open
    if (rc == 0)
        rc = osmose_feed_commit (self, true);
    if (rc == 0)
        rc = osmose_store_erase_payload (self->store, index);
    if (rc == 0 && erase_index_p)
        *erase_index_p = eraser;
    return rc;
}

void
osmose_feed_stats (osmose_feed_t *self, osmose_feed_stats_t *stats)
{
    assert (self && stats);
    memset (stats, 0, sizeof (*stats));
    stats->entries = osmose_merkle_size (self->tree);
    stats->heads = osmose_store_report (self->store)->heads;
    stats->payloads = self->external_count;
    stats->erased = self->erasure_count;
    osmose_store_sizes (self->store, &stats->entries_bytes, &stats->payloads_bytes,
                        &stats->heads_bytes);
    memcpy (stats->types, self->types, sizeof (stats->types));
}

//  ------------------------------------------------------------------------
//  Self-test

static void
s_test_remove (const char *dir)
{
    zdir_t *tree = zdir_new (dir, NULL);
    if (tree) {
        zdir_remove (tree, true);
        zdir_destroy (&tree);
    }
}

//  Append COUNT entries "NAME i", every seventh external; commit
static void
s_test_fill (osmose_feed_t *feed, const char *name, int count)
{
    for (int index = 0; index < count; index++) {
        char text [64];
        snprintf (text, sizeof (text), "%s %d", name, index);
        assert (osmose_feed_append (feed, OSMOSE_ENTRY_EVENT, text, strlen (text),
                                    index % 7 == 3? OSMOSE_FEED_EXTERNAL: 0, NULL) == 0);
    }
    assert (osmose_feed_commit (feed, false) == 0);
}

//  Copy entries [FIRST, FIRST + COUNT) of SOURCE into arrays
static void
s_test_export (osmose_feed_t *source, uint64_t first, size_t count, uint8_t ***entries_p,
               size_t **sizes_p)
{
    uint8_t **entries = (uint8_t **) calloc (count + 1, sizeof (uint8_t *));
    size_t *sizes = (size_t *) calloc (count + 1, sizeof (size_t));
    for (size_t index = 0; index < count; index++) {
        entries [index] = (uint8_t *) malloc (OSMOSE_ENTRY_MAX);
        osmose_entry_t entry;
        assert (osmose_feed_entry (source, first + index, entries [index], &sizes [index], &entry) == 0);
    }
    *entries_p = entries;
    *sizes_p = sizes;
}

static void
s_test_free (uint8_t **entries, size_t *sizes, size_t count)
{
    for (size_t index = 0; index < count; index++)
        free (entries [index]);
    free (entries);
    free (sizes);
}

static void
s_test_head (osmose_feed_t *feed, osmose_identity_t *identity, uint64_t size, osmose_sth_t *sth)
{
    memset (sth, 0, sizeof (*sth));
    sth->size = size;
    sth->time_us = 1;
    assert (osmose_feed_root (feed, size, sth->root) == 0);
    osmose_sth_sign (sth, identity);
}

void
osmose_feed_test (bool verbose)
{
    printf (" * osmose_feed: ");
    char base [128], dir [160], copy_dir [160], replica_dir [160], error [512];
    snprintf (base, sizeof (base), "/tmp/osmose-feed-test-%d", getpid ());
    snprintf (dir, sizeof (dir), "%s/own", base);
    snprintf (copy_dir, sizeof (copy_dir), "%s/forked", base);
    snprintf (replica_dir, sizeof (replica_dir), "%s/replica", base);
    s_test_remove (base);
    osmose_identity_t *writer = osmose_identity_new ();
    osmose_identity_t *stranger = osmose_identity_new ();

    //  A new feed starts with GENESIS and a signed head
    osmose_feed_t *feed, *other;
    assert (osmose_feed_open (dir, writer, 0, error, sizeof (error), &feed) == 0);
    assert (osmose_feed_size (feed) == 1);
    assert (memcmp (osmose_feed_key (feed), osmose_identity_public (writer), OSMOSE_KEY_SIZE) == 0);
    osmose_sth_t head;
    assert (osmose_feed_head (feed, &head) == 0 && head.size == 1 && osmose_sth_verify (&head) == 0);
    assert (osmose_feed_open (dir, writer, 0, error, sizeof (error), &other) == OSMOSE_ELOCKED);
    assert (osmose_feed_append (feed, OSMOSE_ENTRY_ERASE, "x", 1, 0, NULL) == OSMOSE_EINVAL);
    assert (osmose_feed_append (feed, OSMOSE_ENTRY_GENESIS, "x", 1, 0, NULL) == OSMOSE_EINVAL);
    char big [OSMOSE_ENTRY_INLINE_MAX + 1] = { 0 };
    assert (osmose_feed_append (feed, OSMOSE_ENTRY_EVENT, big, sizeof (big), 0, NULL) == OSMOSE_ETOOBIG);

    osmose_config_t *config = osmose_config_new_default ();
    assert (config && osmose_feed_configure (feed, config) == 0);
    assert (osmose_config_set (config, "log/fsync", "always") == 0);
    assert (osmose_feed_configure (feed, config) == 0);
    osmose_config_destroy (&config);
    assert (osmose_fsync_parse ("never") == OSMOSE_FSYNC_NEVER && osmose_fsync_parse ("x") == -1);
    osmose_feed_set_fsync (feed, OSMOSE_FSYNC_GROUP, 10);
    s_test_fill (feed, "event", 50);
    assert (osmose_feed_commit_due (feed) >= 0 || osmose_feed_commit_due (feed) == -1);
    assert (osmose_feed_size (feed) == 51);
    assert (osmose_feed_head (feed, &head) == 0 && head.size == 51);
    uint8_t root [OSMOSE_HASH_SIZE], old_root [OSMOSE_HASH_SIZE];
    assert (osmose_feed_root (feed, 51, root) == 0 && memcmp (root, head.root, OSMOSE_HASH_SIZE) == 0);
    //  Entries, payloads, proofs
    uint8_t buffer [OSMOSE_ENTRY_MAX];
    osmose_entry_t entry;
    assert (osmose_feed_entry (feed, 4, buffer, NULL, &entry) == 0);
    assert (entry.seq == 4 && entry.external && entry.type == OSMOSE_ENTRY_EVENT);
    uint8_t *payload;
    size_t size;
    assert (osmose_feed_payload (feed, 4, &payload, &size, NULL) == 0);
    assert (size == 7 && memcmp (payload, "event 3", 7) == 0);
    free (payload);
    assert (osmose_feed_payload (feed, 5, &payload, &size, NULL) == 0);
    assert (size == 7 && memcmp (payload, "event 4", 7) == 0);
    free (payload);
    assert (osmose_feed_entry (feed, 51, buffer, NULL, &entry) == OSMOSE_ERANGE);
    osmose_proof_t proof;
    for (uint64_t index = 0; index < 51; index++) {
        assert (osmose_feed_inclusion (feed, index, 51, &proof) == 0);
        assert (osmose_merkle_verify_inclusion (&proof, osmose_feed_leaf (feed, index), head.root) == 0);
    }
    assert (osmose_feed_consistency (feed, 10, 51, &proof) == 0);
    assert (osmose_feed_root (feed, 10, old_root) == 0);
    assert (osmose_merkle_verify_consistency (&proof, old_root, head.root) == 0);
    assert (osmose_feed_verify (feed, error, sizeof (error)) == 0);

    //  Erasure: bytes gone, leaf kept, verification passes
    uint64_t eraser;
    assert (osmose_feed_erase (feed, 5, "inline", &eraser) == OSMOSE_EINVAL);
    char *payloads_path = zsys_sprintf ("%s/payloads.dat", dir);
    zfile_t *before = zfile_new (NULL, payloads_path);
    assert (before && zfile_input (before) == 0);
    zchunk_t *saved = zfile_read (before, zfile_cursize (before), 0);
    zfile_destroy (&before);
    assert (osmose_feed_erase (feed, 11, "GDPR 1", &eraser) == 0 && eraser == 51);
    assert (osmose_feed_erase (feed, 11, "again", &eraser) == OSMOSE_EERASED);
    uint64_t erased_by = 0;
    assert (osmose_feed_payload (feed, 11, &payload, &size, &erased_by) == OSMOSE_EERASED);
    assert (erased_by == 51 && !payload);
    assert (osmose_feed_entry (feed, 51, buffer, NULL, &entry) == 0 && entry.type == OSMOSE_ENTRY_ERASE);
    assert (osmose_feed_verify (feed, error, sizeof (error)) == 0);
    assert (osmose_feed_inclusion (feed, 11, 52, &proof) == 0);
    assert (osmose_feed_head (feed, &head) == 0 && head.size == 52);
    assert (osmose_merkle_verify_inclusion (&proof, osmose_feed_leaf (feed, 11), head.root) == 0);
    osmose_feed_stats_t stats;
    osmose_feed_stats (feed, &stats);
    assert (stats.entries == 52 && stats.erased == 1 && stats.payloads == 7);
    assert (stats.types [OSMOSE_ENTRY_EVENT] == 50 && stats.types [OSMOSE_ENTRY_GENESIS] == 1);
    osmose_feed_destroy (&feed);
    //  A crash after the ERASE entry, before the overwrite: the bytes are
    //  back on disk; a reader already says erased, the next writer wipes them
    FILE *restore = fopen (payloads_path, "r+b");
    assert (restore && fwrite (zchunk_data (saved), 1, zchunk_size (saved), restore) == zchunk_size (saved));
    fclose (restore);
    zchunk_destroy (&saved);
    assert (osmose_feed_open (dir, NULL, 0, error, sizeof (error), &feed) == 0);
    assert (osmose_feed_payload (feed, 11, &payload, &size, &erased_by) == OSMOSE_EERASED);
    osmose_feed_destroy (&feed);
    assert (osmose_feed_open (dir, writer, 0, error, sizeof (error), &feed) == 0);
    osmose_feed_destroy (&feed);
    zfile_t *after = zfile_new (NULL, payloads_path);
    assert (after && zfile_input (after) == 0);
    zchunk_t *wiped = zfile_read (after, zfile_cursize (after), 0);
    assert (!memmem (zchunk_data (wiped), zchunk_size (wiped), "event 10", 8));
    assert (memmem (zchunk_data (wiped), zchunk_size (wiped), "event 17", 8));
    zchunk_destroy (&wiped);
    zfile_destroy (&after);
    zstr_free (&payloads_path);

    //  A reader sees the same, with the erasure; another writer key is refused
    assert (osmose_feed_open (dir, NULL, 0, error, sizeof (error), &feed) == 0);
    assert (osmose_feed_size (feed) == 52 && osmose_feed_erased_by (feed, 11) == 51);
    assert (osmose_feed_append (feed, OSMOSE_ENTRY_EVENT, "x", 1, 0, NULL) == OSMOSE_ENOTSUP);
    assert (osmose_feed_verify (feed, error, sizeof (error)) == 0);
    osmose_feed_destroy (&feed);
    assert (osmose_feed_open (dir, stranger, 0, error, sizeof (error), &feed) == OSMOSE_EVERIFY);
    assert (strstr (error, "not ours"));

    //  A replica imports in batches, with the writer's heads
    assert (osmose_feed_open (dir, writer, 0, error, sizeof (error), &feed) == 0);
    osmose_feed_t *replica;
    assert (osmose_feed_open (replica_dir, NULL, OSMOSE_FEED_REPLICA, error, sizeof (error), &replica) == 0);
    assert (osmose_feed_key (replica) == NULL);
    uint8_t **entries;
    size_t *sizes;
    s_test_export (feed, 0, 52, &entries, &sizes);
    osmose_sth_t sth20, forged;
    s_test_head (feed, writer, 20, &sth20);
    //  Head by another key, a gap, a wrong count, a damaged entry, out of order
    s_test_head (feed, stranger, 20, &forged);
    assert (osmose_feed_import (replica, 0, (const uint8_t **) entries, sizes, 20, &forged, NULL) == OSMOSE_EVERIFY);
    assert (osmose_feed_import (replica, 1, (const uint8_t **) entries + 1, sizes + 1, 19, &sth20, NULL) == OSMOSE_ERANGE);
    assert (osmose_feed_import (replica, 0, (const uint8_t **) entries, sizes, 19, &sth20, NULL) == OSMOSE_EPROTO);
    entries [7][30] ^= 1;
    assert (osmose_feed_import (replica, 0, (const uint8_t **) entries, sizes, 20, &sth20, NULL) == OSMOSE_EVERIFY);
    entries [7][30] ^= 1;
    uint8_t *swap = entries [6];
    entries [6] = entries [7];
    entries [7] = swap;
    assert (osmose_feed_import (replica, 0, (const uint8_t **) entries, sizes, 20, &sth20, NULL) == OSMOSE_ECORRUPT);
    entries [7] = entries [6];
    entries [6] = swap;
    size_t saved_size = sizes [3];
    sizes [3] = (size_t) OSMOSE_ENTRY_MAX + 1;          //  a huge length field
    assert (osmose_feed_import (replica, 0, (const uint8_t **) entries, sizes, 20, &sth20, NULL) == OSMOSE_ETOOBIG);
    sizes [3] = saved_size;
    assert (osmose_feed_size (replica) == 0 && osmose_feed_key (replica) == NULL);
    //  Good batches
    assert (osmose_feed_import (replica, 0, (const uint8_t **) entries, sizes, 20, &sth20, NULL) == 0);
    assert (osmose_feed_size (replica) == 20);
    assert (osmose_feed_head (feed, &head) == 0);
    //  Overlapping batch: entries we hold are compared, not stored twice
    assert (osmose_feed_import (replica, 15, (const uint8_t **) entries + 15, sizes + 15, 37, &head, NULL) == 0);
    assert (osmose_feed_size (replica) == 52);
    assert (osmose_feed_root (replica, 52, old_root) == 0 && memcmp (old_root, head.root, OSMOSE_HASH_SIZE) == 0);
    //  Replaying an old head is fine
    assert (osmose_feed_import (replica, 20, NULL, NULL, 0, &sth20, NULL) == 0);
    assert (osmose_feed_payload (replica, 4, &payload, &size, NULL) == OSMOSE_ENOTFOUND);
    assert (osmose_feed_payload (replica, 11, &payload, &size, &erased_by) == OSMOSE_EERASED);
    assert (osmose_feed_verify (replica, error, sizeof (error)) == 0);
    osmose_feed_destroy (&replica);
    assert (osmose_feed_open (replica_dir, NULL, OSMOSE_FEED_REPLICA, error, sizeof (error), &replica) == 0);
    assert (osmose_feed_size (replica) == 52);
    osmose_feed_destroy (&feed);

    //  The writer forks: the same key writes another history elsewhere
    osmose_feed_t *fork_feed;
    assert (osmose_feed_open (copy_dir, writer, 0, error, sizeof (error), &fork_feed) == 0);
    s_test_fill (fork_feed, "other", 30);
    osmose_sth_t fork_head;
    assert (osmose_feed_head (fork_feed, &fork_head) == 0 && fork_head.size == 31);
    osmose_fork_t fork;
    assert (osmose_feed_check_head (replica, &fork_head, &fork) == OSMOSE_EFORK);
    assert (osmose_fork_verify (&fork) == 0);
    assert (osmose_feed_check_head (replica, &sth20, &fork) == 0);
    assert (osmose_feed_check_head (replica, &forged, &fork) == OSMOSE_EVERIFY);
    //  Its longer history, imported whole, is a fork too
    s_test_fill (fork_feed, "more", 40);
    assert (osmose_feed_head (fork_feed, &fork_head) == 0 && fork_head.size == 71);
    uint8_t **fork_entries;
    size_t *fork_sizes;
    s_test_export (fork_feed, 0, 71, &fork_entries, &fork_sizes);
    assert (osmose_feed_import (replica, 0, (const uint8_t **) fork_entries, fork_sizes, 71,
                                &fork_head, &fork) == OSMOSE_EFORK);
    assert (osmose_fork_verify (&fork) == 0);
    assert (fork.larger.size == 71 && fork.smaller.size == 52);
    //  ... unless the entries do not match the head: then it is bad data
    fork_entries [60][30] ^= 1;
    assert (osmose_feed_import (replica, 0, (const uint8_t **) fork_entries, fork_sizes, 71,
                                &fork_head, &fork) == OSMOSE_EVERIFY);
    assert (osmose_feed_size (replica) == 52);
    s_test_free (fork_entries, fork_sizes, 71);
    //  A fork proof is evidence the writer keeps in its own log
    uint8_t encoded [OSMOSE_FORK_ENCODED_MAX];
    size = osmose_fork_encode (&fork, encoded);
    uint64_t index;
    assert (osmose_feed_append (fork_feed, OSMOSE_ENTRY_FORK_PROOF, encoded, size, 0, &index) == 0);
    assert (osmose_feed_commit (fork_feed, true) == 0);
    osmose_fork_t stored;
    assert (osmose_feed_payload (fork_feed, index, &payload, &size, NULL) == 0);
    assert (osmose_fork_decode (payload, size, &stored) == 0 && osmose_fork_verify (&stored) == 0);
    free (payload);
    osmose_feed_destroy (&fork_feed);
    osmose_feed_destroy (&replica);
    s_test_free (entries, sizes, 52);

    //  Damage: a flipped byte in the middle fails open and verify
    char *path = zsys_sprintf ("%s/entries.log", dir);
    FILE *file = fopen (path, "r+b");
    assert (file);
    fseek (file, 300, SEEK_SET);
    int byte = fgetc (file);
    fseek (file, 300, SEEK_SET);
    fputc (byte ^ 0x20, file);
    fclose (file);
    assert (osmose_feed_open (dir, NULL, 0, error, sizeof (error), &feed) == OSMOSE_ECORRUPT);
    assert (strstr (error, "entries.log: entry"));
    assert (osmose_feed_open (dir, writer, 0, error, sizeof (error), &feed) == OSMOSE_ECORRUPT);
    file = fopen (path, "r+b");
    fseek (file, 300, SEEK_SET);
    fputc (byte, file);
    fclose (file);
    zstr_free (&path);
    //  A head signed by another key, written into heads.log
    osmose_store_t *store;
    assert (osmose_store_open (dir, OSMOSE_STORE_WRITE, NULL, NULL, error, sizeof (error), &store) == 0);
    forged = head;
    osmose_sth_sign (&forged, stranger);
    assert (osmose_store_append_head (store, &forged) == 0);
    assert (osmose_store_commit (store, true) == 0);
    osmose_store_destroy (&store);
    assert (osmose_feed_open (dir, NULL, 0, error, sizeof (error), &feed) == OSMOSE_EVERIFY);
    assert (strstr (error, "another key"));

    osmose_identity_destroy (&writer);
    osmose_identity_destroy (&stranger);
    s_test_remove (base);
    printf ("OK\n");
}
