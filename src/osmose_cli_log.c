/*  osmose_cli_log.c: "osmose log": read, prove, verify and erase a feed
    store directly on disk, so it works offline and on a copied directory.
    Reading needs no lock; erase and append take the writer's lock, so they
    fail clearly (OSMOSE_ELOCKED) while osmosed holds the store.
*/
#include "osmose_prelude.h"
#include "osmose_cli.h"
#include "osmose_feed.h"
#include <getopt.h>
#include <libgen.h>
#include <signal.h>

#define S_DEFAULT_STORE "/var/lib/osmose/log"

typedef struct {
    osmose_cli_t *cli;
    const char *store;
    const char *key_dir;
    const char *reason;
    const char *type;
    bool follow, external;
    int64_t count, size, consistency;
} s_args_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: osmose log [-s DIR] COMMAND [OPTION]... [ARG]\n"
"Read, prove, verify and erase entries of a signed append-only feed store.\n"
"Works on the files directly: offline, on a copied directory, or beside a\n"
"running osmosed (reading takes no lock).\n"
"\n"
"Commands:\n"
"  show [ENTRY] [--from N] [-n COUNT]   entries, people's view or --json\n"
"  tail [-n COUNT] [-f]                  the last entries; -f follows the writer\n"
"  verify                                check every checksum, the tree, the\n"
"                                        latest signed head and the payloads\n"
"  prove ENTRY [--size N]                inclusion proof of ENTRY in the tree of\n"
"                                        size N (default: the latest head)\n"
"  prove --consistency OLD [--size N]    consistency proof from size OLD to N\n"
"  erase ENTRY --reason TEXT             erase ENTRY's payload (GDPR): the bytes\n"
"                                        go, the leaf hash and proofs stay\n"
"  stats                                 sizes, counts by type, the head\n"
"  init                                  create the feed (and the key, if none)\n"
"  append TYPE TEXT [--external]         append an entry and sign a head (scripts)\n"
"  import SOURCE_DIR                     replicate the feed in SOURCE_DIR into\n"
"                                        the store, as gossip does\n"
"\n"
"Options:\n"
"  -s, --store DIR    the store (default " S_DEFAULT_STORE ")\n"
"  -k, --key DIR      where node.key lives for init/erase/append (default: the\n"
"                     store's parent directory)\n"
"  -j, --json         machine-readable output\n"
"  -h, --help         this help\n"
"\n"
"Exit status: 0 ok, 1 failure, 2 usage, 4 no such entry or store,\n"
"5 damaged or unverifiable data (also a fork).\n");
}

static int
s_exit_code (int rc)
{
    switch (rc) {
        case OSMOSE_ERANGE:
        case OSMOSE_ENOTFOUND:  return OSMOSE_EXIT_NOTFOUND;
        case OSMOSE_ETOOBIG:
        case OSMOSE_ECORRUPT:
        case OSMOSE_EVERIFY:
        case OSMOSE_EFORK:      return OSMOSE_EXIT_DATA;
        default:                return osmose_cli_exit_code (rc);
    }
}

static void
s_hex (const uint8_t *data, size_t size, char *hex)
{
    sodium_bin2hex (hex, 2 * size + 1, data, size);
}

static json_t *
s_hex_json (const uint8_t *data, size_t size)
{
    char hex [2 * 256 + 1];
    if (size > 256)
        size = 256;
    s_hex (data, size, hex);
    return json_string (hex);
}

static bool
s_printable (const uint8_t *data, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if (data [index] < 0x20 || data [index] >= 0x7f)
            return false;
    return true;
}

//  Open the store for reading, or say clearly why not
static int
s_open (s_args_t *args, osmose_identity_t *identity, int flags, osmose_feed_t **feed_p)
{
    char error [512];
    int rc = osmose_feed_open (args->store, identity, flags, error, sizeof (error), feed_p);
    if (rc) {
        if (rc == OSMOSE_ENOTFOUND)
            fprintf (stderr, "osmose log: %s: no feed store here\n", args->store);
        else
        if (rc == OSMOSE_ELOCKED)
            fprintf (stderr, "osmose log: %s: in use by another process (osmosed?): %s\n",
                     args->store, osmose_strerror_name (rc));
        else
            fprintf (stderr, "osmose log: %s (%s)\n", *error? error: osmose_strerror (rc),
                     osmose_strerror_name (rc));
        return s_exit_code (rc);
    }
    const osmose_store_report_t *report = osmose_feed_report (*feed_p);
    uint64_t torn = report->torn_entry_bytes + report->torn_head_bytes + report->torn_payload_bytes;
    if (torn)
        fprintf (stderr, "osmose log: %s: %s an incomplete tail of %" PRIu64
                 " bytes (entries %" PRIu64 ", heads %" PRIu64 ", payloads %" PRIu64 ")\n",
                 args->store, report->repaired? "dropped": "ignoring", torn,
                 report->torn_entry_bytes, report->torn_head_bytes, report->torn_payload_bytes);
    return 0;
}

static int
s_load_identity (s_args_t *args, bool create, osmose_identity_t **identity_p)
{
    char parent [PATH_MAX];
    snprintf (parent, sizeof (parent), "%s", args->store);
    const char *dir = args->key_dir? args->key_dir: dirname (parent);
    if (create && zsys_dir_create ("%s", dir)) {
        fprintf (stderr, "osmose log: %s: cannot create: %s\n", dir, strerror (errno));
        return OSMOSE_EXIT_FAILURE;
    }
    int rc = osmose_identity_load (dir, create, identity_p);
    if (rc)
        fprintf (stderr, "osmose log: %s/node.key: cannot load the writer's key: %s\n",
                 dir, osmose_strerror (rc));
    return rc? s_exit_code (rc): 0;
}

static json_t *
s_entry_json (osmose_feed_t *feed, uint64_t index, int *rc_p)
{
    uint8_t *buffer = (uint8_t *) malloc (OSMOSE_ENTRY_MAX);
    osmose_entry_t entry;
    *rc_p = buffer? osmose_feed_entry (feed, index, buffer, NULL, &entry): OSMOSE_ENOMEM;
    if (*rc_p) {
        free (buffer);
        return NULL;
    }
    json_t *json = json_object ();
    json_object_set_new (json, "index", json_integer ((json_int_t) index));
    json_object_set_new (json, "time_us", json_integer ((json_int_t) entry.time_us));
    json_object_set_new (json, "type", json_string (osmose_entry_type_name (entry.type)));
    json_object_set_new (json, "leaf", s_hex_json (osmose_feed_leaf (feed, index), OSMOSE_HASH_SIZE));
    json_object_set_new (json, "payload_size", json_integer (entry.payload_size));
    json_object_set_new (json, "external", json_boolean (entry.external));
    if (entry.external)
        json_object_set_new (json, "payload_hash", s_hex_json (entry.payload_hash, OSMOSE_HASH_SIZE));
    uint8_t *payload = NULL;
    size_t size = 0;
    uint64_t eraser = 0;
    int rc = osmose_feed_payload (feed, index, &payload, &size, &eraser);
    if (rc == OSMOSE_EERASED)
        json_object_set_new (json, "erased_by", json_integer ((json_int_t) eraser));
    else
    if (rc)
        json_object_set_new (json, "payload_error", json_string (osmose_strerror (rc)));
    else
    if (entry.type == OSMOSE_ENTRY_GENESIS && size == OSMOSE_KEY_SIZE) {
        char id [OSMOSE_ID_SIZE + 1];
        osmose_identity_id_of (payload, id);
        json_object_set_new (json, "feed", json_string (id));
        json_object_set_new (json, "key", s_hex_json (payload, size));
    }
    else
    if (entry.type == OSMOSE_ENTRY_ERASE) {
        uint64_t target;
        char reason [OSMOSE_ERASE_REASON_MAX + 1];
        if (osmose_entry_erase_decode (payload, size, &target, reason) == 0) {
            json_object_set_new (json, "erases", json_integer ((json_int_t) target));
            json_object_set_new (json, "reason", json_string (reason));
        }
    }
    else
    if (entry.type == OSMOSE_ENTRY_FORK_PROOF) {
        osmose_fork_t fork;
        bool valid = osmose_fork_decode (payload, size, &fork) == 0 && osmose_fork_verify (&fork) == 0;
        json_object_set_new (json, "fork_proof_valid", json_boolean (valid));
        if (valid) {
            char id [OSMOSE_ID_SIZE + 1];
            osmose_identity_id_of (fork.larger.feed, id);
            json_object_set_new (json, "forked_feed", json_string (id));
            json_object_set_new (json, "sizes", json_pack ("[II]", (json_int_t) fork.smaller.size,
                                                          (json_int_t) fork.larger.size));
        }
    }
    else
    if (s_printable (payload, size))
        json_object_set_new (json, "payload", json_stringn ((const char *) payload, size));
    else
        json_object_set_new (json, "payload_hex", s_hex_json (payload, size));
    free (payload);
    free (buffer);
    return json;
}

static void
s_print_entry (s_args_t *args, json_t *json)
{
    if (args->cli->json) {
        json_dumpf (json, stdout, JSON_COMPACT);
        printf ("\n");
        return;
    }
    time_t seconds = (time_t) (json_integer_value (json_object_get (json, "time_us")) / 1000000);
    char when [32];
    strftime (when, sizeof (when), "%Y-%m-%d %H:%M:%S", gmtime (&seconds));
    printf ("%-8" JSON_INTEGER_FORMAT " %s  %-16s ", json_integer_value (json_object_get (json, "index")),
            when, json_string_value (json_object_get (json, "type")));
    json_t *value;
    if ((value = json_object_get (json, "erased_by")))
        printf ("[erased by entry %" JSON_INTEGER_FORMAT "]", json_integer_value (value));
    else
    if ((value = json_object_get (json, "feed")))
        printf ("feed %s", json_string_value (value));
    else
    if ((value = json_object_get (json, "erases")))
        printf ("erases entry %" JSON_INTEGER_FORMAT ": %s", json_integer_value (value),
                json_string_value (json_object_get (json, "reason")));
    else
    if ((value = json_object_get (json, "fork_proof_valid")))
        printf ("fork proof (%s) of feed %s", json_is_true (value)? "valid": "INVALID",
                json_string_value (json_object_get (json, "forked_feed")));
    else
    if ((value = json_object_get (json, "payload")))
        printf ("\"%.60s\"%s", json_string_value (value), strlen (json_string_value (value)) > 60? "...": "");
    else
    if ((value = json_object_get (json, "payload_hex")))
        printf ("%" JSON_INTEGER_FORMAT " bytes %.32s...",
                json_integer_value (json_object_get (json, "payload_size")), json_string_value (value));
    else
    if ((value = json_object_get (json, "payload_error")))
        printf ("[payload: %s]", json_string_value (value));
    if (json_is_true (json_object_get (json, "external")))
        printf ("  (external)");
    printf ("\n");
}

//  Print entries [FIRST, FIRST + COUNT); 0 or an exit code
static int
s_print_range (s_args_t *args, osmose_feed_t *feed, uint64_t first, uint64_t count)
{
    for (uint64_t index = first; index < first + count; index++) {
        int rc;
        json_t *json = s_entry_json (feed, index, &rc);
        if (!json) {
            fprintf (stderr, "osmose log: entry %" PRIu64 ": %s\n", index, osmose_strerror (rc));
            return s_exit_code (rc);
        }
        s_print_entry (args, json);
        json_decref (json);
    }
    fflush (stdout);
    return 0;
}

static int
s_parse_index (const char *text, uint64_t *index)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end || end == text || *text == '-') {
        fprintf (stderr, "osmose log: '%s': expected an entry number\n", text);
        return OSMOSE_EXIT_USAGE;
    }
    *index = value;
    return 0;
}

static int
s_show (s_args_t *args, int argc, char *argv [])
{
    osmose_feed_t *feed;
    int rc = s_open (args, NULL, 0, &feed);
    if (rc)
        return rc;
    uint64_t size = osmose_feed_size (feed), first = args->size >= 0? (uint64_t) args->size: 0;
    uint64_t count = size > first? size - first: 0;
    if (argc == 1) {
        if ((rc = s_parse_index (argv [0], &first)) == 0 && first >= size) {
            fprintf (stderr, "osmose log: no entry %" PRIu64 " (the feed has %" PRIu64 ")\n", first, size);
            rc = OSMOSE_EXIT_NOTFOUND;
        }
        count = 1;
    }
    if (args->count >= 0 && (uint64_t) args->count < count)
        count = (uint64_t) args->count;
    if (rc == 0)
        rc = s_print_range (args, feed, first, count);
    osmose_feed_destroy (&feed);
    return rc;
}

static volatile sig_atomic_t s_stop = 0;
static void
s_on_signal (int signal_number)
{
    s_stop = 1;
}

static int
s_tail (s_args_t *args)
{
    osmose_feed_t *feed;
    int rc = s_open (args, NULL, 0, &feed);
    if (rc)
        return rc;
    uint64_t size = osmose_feed_size (feed);
    uint64_t count = args->count >= 0? (uint64_t) args->count: 10;
    uint64_t first = size > count? size - count: 0;
    rc = s_print_range (args, feed, first, size - first);
    if (args->follow) {
        signal (SIGINT, s_on_signal);
        signal (SIGTERM, s_on_signal);
        char error [512];
        while (rc == 0 && !s_stop) {
            usleep (100 * 1000);
            uint64_t seen = osmose_feed_size (feed);
            int refresh = osmose_feed_refresh (feed, error, sizeof (error));
            if (refresh) {
                fprintf (stderr, "osmose log: %s\n", error);
                rc = s_exit_code (refresh);
            }
            else
                rc = s_print_range (args, feed, seen, osmose_feed_size (feed) - seen);
        }
    }
    osmose_feed_destroy (&feed);
    return rc;
}

static void
s_head_json (json_t *json, const osmose_sth_t *head)
{
    char id [OSMOSE_ID_SIZE + 1];
    osmose_identity_id_of (head->feed, id);
    json_object_set_new (json, "feed", json_string (id));
    json_object_set_new (json, "size", json_integer ((json_int_t) head->size));
    json_object_set_new (json, "root", s_hex_json (head->root, OSMOSE_HASH_SIZE));
    json_object_set_new (json, "time_us", json_integer ((json_int_t) head->time_us));
    json_object_set_new (json, "signature", s_hex_json (head->signature, OSMOSE_SIG_SIZE));
}

static int
s_verify (s_args_t *args)
{
    osmose_feed_t *feed;
    int rc = s_open (args, NULL, 0, &feed);
    if (rc)
        return rc;
    char error [512];
    rc = osmose_feed_verify (feed, error, sizeof (error));
    osmose_sth_t head;
    bool has_head = osmose_feed_head (feed, &head) == 0;
    json_t *json = json_object ();
    json_object_set_new (json, "store", json_string (args->store));
    json_object_set_new (json, "ok", json_boolean (rc == 0));
    json_object_set_new (json, "entries", json_integer ((json_int_t) osmose_feed_size (feed)));
    if (rc)
        json_object_set_new (json, "error", json_string (error));
    if (has_head)
        s_head_json (json, &head);
    if (args->cli->json)
        osmose_cli_print_json (args->cli, json);
    else
    if (rc)
        fprintf (stderr, "osmose log: verify FAILED: %s (%s)\n", error, osmose_strerror_name (rc));
    else {
        char root [2 * OSMOSE_HASH_SIZE + 1];
        s_hex (head.root, OSMOSE_HASH_SIZE, root);
        printf ("ok: %" PRIu64 " entries verified; head of feed %s signs size %" PRIu64 ", root %s\n",
                osmose_feed_size (feed), json_string_value (json_object_get (json, "feed")),
                has_head? head.size: 0, root);
    }
    json_decref (json);
    osmose_feed_destroy (&feed);
    return rc? s_exit_code (rc): 0;
}

static json_t *
s_proof_json (const osmose_proof_t *proof)
{
    json_t *hashes = json_array ();
    for (size_t index = 0; index < proof->count; index++)
        json_array_append_new (hashes, s_hex_json (proof->hashes [index], OSMOSE_HASH_SIZE));
    uint8_t encoded [OSMOSE_PROOF_ENCODED_MAX];
    size_t size = osmose_proof_encode (proof, encoded);
    char *hex = (char *) malloc (2 * size + 1);
    s_hex (encoded, size, hex);
    json_t *json = json_pack ("{s:o s:s}", "path", hashes, "encoded", hex);
    free (hex);
    return json;
}

static int
s_prove (s_args_t *args, int argc, char *argv [])
{
    uint64_t index = 0;
    int rc = 0;
    if (args->consistency < 0 && argc != 1) {
        fprintf (stderr, "osmose log prove: expected ENTRY (or --consistency OLD)\n");
        return OSMOSE_EXIT_USAGE;
    }
    if (args->consistency < 0 && (rc = s_parse_index (argv [0], &index)) != 0)
        return rc;
    osmose_feed_t *feed;
    if ((rc = s_open (args, NULL, 0, &feed)) != 0)
        return rc;
    osmose_sth_t head;
    if (osmose_feed_head (feed, &head)) {
        fprintf (stderr, "osmose log: %s: the feed has no signed head\n", args->store);
        osmose_feed_destroy (&feed);
        return OSMOSE_EXIT_DATA;
    }
    uint64_t size = args->size >= 0? (uint64_t) args->size: head.size;
    uint8_t root [OSMOSE_HASH_SIZE], old_root [OSMOSE_HASH_SIZE];
    osmose_proof_t proof;
    json_t *json = json_object ();
    if (args->consistency >= 0) {
        rc = osmose_feed_consistency (feed, (uint64_t) args->consistency, size, &proof);
        if (rc == 0 && (rc = osmose_feed_root (feed, proof.first, old_root)) == 0
        &&  (rc = osmose_feed_root (feed, size, root)) == 0)
            rc = osmose_merkle_verify_consistency (&proof, old_root, root);
        json_object_set_new (json, "old_size", json_integer (args->consistency));
        json_object_set_new (json, "old_root", s_hex_json (old_root, OSMOSE_HASH_SIZE));
    }
    else {
        rc = osmose_feed_inclusion (feed, index, size, &proof);
        if (rc == 0 && (rc = osmose_feed_root (feed, size, root)) == 0)
            rc = osmose_merkle_verify_inclusion (&proof, osmose_feed_leaf (feed, index), root);
        json_object_set_new (json, "entry", json_integer ((json_int_t) index));
        if (rc == 0)
            json_object_set_new (json, "leaf", s_hex_json (osmose_feed_leaf (feed, index), OSMOSE_HASH_SIZE));
    }
    if (rc) {
        if (rc == OSMOSE_ERANGE)
            fprintf (stderr, "osmose log: no such entry or size (the feed has %" PRIu64
                     " entries, the head signs %" PRIu64 ")\n", osmose_feed_size (feed), head.size);
        else
            fprintf (stderr, "osmose log: the proof does not verify: %s\n", osmose_strerror (rc));
        json_decref (json);
        osmose_feed_destroy (&feed);
        return s_exit_code (rc);
    }
    json_object_set_new (json, "size", json_integer ((json_int_t) size));
    json_object_set_new (json, "root", s_hex_json (root, OSMOSE_HASH_SIZE));
    json_object_set_new (json, "proof", s_proof_json (&proof));
    json_object_set_new (json, "verified", json_true ());
    if (size == head.size) {
        json_t *sth = json_object ();
        s_head_json (sth, &head);
        json_object_set_new (json, "head", sth);
    }
    if (args->cli->json)
        osmose_cli_print_json (args->cli, json);
    else {
        if (args->consistency >= 0)
            printf ("consistency of size %" PRId64 " with size %" PRIu64 ": %zu hashes, verified\n",
                    args->consistency, size, proof.count);
        else
            printf ("entry %" PRIu64 " in the tree of size %" PRIu64 ": %zu hashes, verified\n",
                    index, size, proof.count);
        printf ("root  %s\n", json_string_value (json_object_get (json, "root")));
        json_t *path = json_object_get (json_object_get (json, "proof"), "path");
        for (size_t at = 0; at < json_array_size (path); at++)
            printf ("  %2zu  %s\n", at, json_string_value (json_array_get (path, at)));
    }
    json_decref (json);
    osmose_feed_destroy (&feed);
    return 0;
}

static int
s_erase (s_args_t *args, int argc, char *argv [])
{
    uint64_t index;
    int rc;
    if (argc != 1 || !args->reason) {
        fprintf (stderr, "osmose log erase: expected ENTRY and --reason TEXT\n");
        return OSMOSE_EXIT_USAGE;
    }
    if ((rc = s_parse_index (argv [0], &index)) != 0)
        return rc;
    osmose_identity_t *identity = NULL;
    osmose_feed_t *feed = NULL;
    if ((rc = s_load_identity (args, false, &identity)) == 0
    &&  (rc = s_open (args, identity, 0, &feed)) == 0) {
        uint64_t eraser;
        int erase_rc = osmose_feed_erase (feed, index, args->reason, &eraser);
        if (erase_rc == 0)
            printf ("erased the payload of entry %" PRIu64 " (ERASE entry %" PRIu64 ")\n", index, eraser);
        else
        if (erase_rc == OSMOSE_EINVAL)
            fprintf (stderr, "osmose log: entry %" PRIu64 " has no erasable payload "
                     "(inline, GENESIS or ERASE)\n", index);
        else
        if (erase_rc == OSMOSE_EERASED)
            fprintf (stderr, "osmose log: entry %" PRIu64 " was already erased by entry %" PRId64 "\n",
                     index, osmose_feed_erased_by (feed, index));
        else
            fprintf (stderr, "osmose log: erase entry %" PRIu64 ": %s\n", index, osmose_strerror (erase_rc));
        rc = erase_rc == OSMOSE_EINVAL? OSMOSE_EXIT_FAILURE: erase_rc? s_exit_code (erase_rc): 0;
    }
    osmose_feed_destroy (&feed);
    osmose_identity_destroy (&identity);
    return rc;
}

static int
s_append (s_args_t *args, int argc, char *argv [])
{
    int type = argc == 2? osmose_entry_type_parse (argv [0]): -1;
    if (type < 0) {
        fprintf (stderr, "osmose log append: expected TYPE (e.g. EVENT) and TEXT\n");
        return OSMOSE_EXIT_USAGE;
    }
    osmose_identity_t *identity = NULL;
    osmose_feed_t *feed = NULL;
    int rc;
    if ((rc = s_load_identity (args, false, &identity)) == 0
    &&  (rc = s_open (args, identity, 0, &feed)) == 0) {
        uint64_t index;
        int append_rc = osmose_feed_append (feed, (uint16_t) type, argv [1], strlen (argv [1]),
                                            args->external? OSMOSE_FEED_EXTERNAL: 0, &index);
        if (append_rc == 0)
            append_rc = osmose_feed_commit (feed, true);
        if (append_rc == 0)
            printf ("%" PRIu64 "\n", index);
        else
            fprintf (stderr, "osmose log: append: %s (%s)\n", osmose_strerror (append_rc),
                     osmose_strerror_name (append_rc));
        rc = append_rc? s_exit_code (append_rc): 0;
    }
    osmose_feed_destroy (&feed);
    osmose_identity_destroy (&identity);
    return rc;
}

//  Create the writer's key (if missing) and the feed, with its GENESIS
static int
s_init (s_args_t *args)
{
    osmose_identity_t *identity = NULL;
    osmose_feed_t *feed = NULL;
    int rc = s_load_identity (args, true, &identity);
    if (rc == 0 && (rc = s_open (args, identity, 0, &feed)) == 0) {
        char id [OSMOSE_ID_SIZE + 1];
        osmose_identity_id_of (osmose_feed_key (feed), id);
        printf ("feed %s in %s: %" PRIu64 " entries\n", id, args->store, osmose_feed_size (feed));
    }
    osmose_feed_destroy (&feed);
    osmose_identity_destroy (&identity);
    return rc;
}

//  Import entries [FIRST, head) of SOURCE with HEAD into REPLICA, in one batch
static int
s_import_from (osmose_feed_t *source, osmose_feed_t *replica, uint64_t first,
               const osmose_sth_t *head, osmose_fork_t *fork)
{
    size_t count = (size_t) (head->size - first);
    size_t capacity = count * 128 + OSMOSE_ENTRY_MAX, used = 0;
    uint8_t *buffer = (uint8_t *) malloc (capacity);
    size_t *offsets = (size_t *) calloc (count + 1, sizeof (size_t));
    size_t *sizes = (size_t *) calloc (count + 1, sizeof (size_t));
    const uint8_t **entries = (const uint8_t **) calloc (count + 1, sizeof (uint8_t *));
    int rc = buffer && offsets && sizes && entries? 0: OSMOSE_ENOMEM;
    for (size_t index = 0; rc == 0 && index < count; index++) {
        if (capacity - used < OSMOSE_ENTRY_MAX) {
            uint8_t *grown = (uint8_t *) realloc (buffer, capacity * 2);
            if (!grown) {
                rc = OSMOSE_ENOMEM;
                break;
            }
            buffer = grown;
            capacity *= 2;
        }
        osmose_entry_t entry;
        rc = osmose_feed_entry (source, first + index, buffer + used, &sizes [index], &entry);
        offsets [index] = used;
        used += sizes [index];
    }
    for (size_t index = 0; rc == 0 && index < count; index++)
        entries [index] = buffer + offsets [index];
    if (rc == 0)
        rc = osmose_feed_import (replica, first, entries, sizes, count, head, fork);
    free (buffer);
    free (offsets);
    free (sizes);
    free (entries);
    return rc;
}

//  Copy the feed in SOURCE into the store as a replica
static int
s_import (s_args_t *args, int argc, char *argv [])
{
    if (argc != 1) {
        fprintf (stderr, "osmose log import: expected SOURCE_DIR\n");
        return OSMOSE_EXIT_USAGE;
    }
    s_args_t source_args = *args;
    source_args.store = argv [0];
    osmose_feed_t *source = NULL, *replica = NULL;
    int rc = s_open (&source_args, NULL, 0, &source);
    if (rc == 0)
        rc = s_open (args, NULL, OSMOSE_FEED_REPLICA, &replica);
    osmose_sth_t head;
    if (rc == 0 && osmose_feed_head (source, &head)) {
        fprintf (stderr, "osmose log: %s: no signed head to import\n", argv [0]);
        rc = OSMOSE_EXIT_DATA;
    }
    if (rc == 0) {
        uint64_t first = osmose_feed_size (replica) < head.size? osmose_feed_size (replica): head.size;
        osmose_fork_t fork;
        int import_rc = s_import_from (source, replica, first, &head, &fork);
        //  A suffix that does not verify is bad data or a fork; only the
        //  whole history tells which
        if (import_rc == OSMOSE_EVERIFY && first > 0)
            import_rc = s_import_from (source, replica, 0, &head, &fork);
        if (import_rc == 0 && args->cli->json) {
            json_t *json = json_pack ("{s:b s:I s:I}", "ok", 1, "imported", (json_int_t) (head.size - first),
                                      "entries", (json_int_t) osmose_feed_size (replica));
            osmose_cli_print_json (args->cli, json);
            json_decref (json);
        }
        else
        if (import_rc == 0)
            printf ("imported %" PRIu64 " entries; the replica has %" PRIu64 "\n", head.size - first,
                    osmose_feed_size (replica));
        else
        if (import_rc == OSMOSE_EFORK) {
            fprintf (stderr, "osmose log: FORK: the feed signed two inconsistent heads "
                     "(sizes %" PRIu64 " and %" PRIu64 "); fork proof verifies: %s\n",
                     fork.smaller.size, fork.larger.size, osmose_fork_verify (&fork) == 0? "yes": "NO");
            //  The evidence, for a FORK_PROOF entry or another peer
            uint8_t encoded [OSMOSE_FORK_ENCODED_MAX];
            size_t size = osmose_fork_encode (&fork, encoded);
            json_t *json = json_pack ("{s:b s:b s:I s:I s:o}", "ok", 0, "fork", 1,
                                      "smaller", (json_int_t) fork.smaller.size,
                                      "larger", (json_int_t) fork.larger.size,
                                      "fork_proof", s_hex_json (encoded, 0));
            char *hex = (char *) malloc (2 * size + 1);
            if (hex) {
                s_hex (encoded, size, hex);
                json_object_set_new (json, "fork_proof", json_string (hex));
                free (hex);
            }
            if (args->cli->json)
                osmose_cli_print_json (args->cli, json);
            json_decref (json);
        }
        else
            fprintf (stderr, "osmose log: import refused: %s (%s)\n", osmose_strerror (import_rc),
                     osmose_strerror_name (import_rc));
        rc = import_rc? s_exit_code (import_rc): 0;
    }
    osmose_feed_destroy (&source);
    osmose_feed_destroy (&replica);
    return rc;
}

static int
s_stats (s_args_t *args)
{
    osmose_feed_t *feed;
    int rc = s_open (args, NULL, 0, &feed);
    if (rc)
        return rc;
    osmose_feed_stats_t stats;
    osmose_feed_stats (feed, &stats);
    json_t *json = json_object ();
    json_object_set_new (json, "store", json_string (args->store));
    json_object_set_new (json, "entries", json_integer ((json_int_t) stats.entries));
    json_object_set_new (json, "heads", json_integer ((json_int_t) stats.heads));
    json_object_set_new (json, "payloads", json_integer ((json_int_t) stats.payloads));
    json_object_set_new (json, "erased", json_integer ((json_int_t) stats.erased));
    json_object_set_new (json, "bytes", json_pack ("{s:I s:I s:I}",
        "entries", (json_int_t) stats.entries_bytes, "payloads", (json_int_t) stats.payloads_bytes,
        "heads", (json_int_t) stats.heads_bytes));
    json_t *types = json_object ();
    for (int type = 0; type < 32; type++)
        if (stats.types [type])
            json_object_set_new (types, type == 31? "OTHER": osmose_entry_type_name ((uint16_t) type),
                                 json_integer ((json_int_t) stats.types [type]));
    json_object_set_new (json, "types", types);
    osmose_sth_t head;
    if (osmose_feed_head (feed, &head) == 0) {
        json_t *sth = json_object ();
        s_head_json (sth, &head);
        json_object_set_new (json, "head", sth);
    }
    if (args->cli->json)
        osmose_cli_print_json (args->cli, json);
    else {
        printf ("store      %s\nentries    %" PRIu64 "\npayloads   %" PRIu64 " stored beside, %"
                PRIu64 " erased\nbytes      %" PRIu64 " entries, %" PRIu64 " payloads, %" PRIu64 " heads\n",
                args->store, stats.entries, stats.payloads, stats.erased,
                stats.entries_bytes, stats.payloads_bytes, stats.heads_bytes);
        json_t *sth = json_object_get (json, "head");
        if (sth)
            printf ("head       feed %s, size %" JSON_INTEGER_FORMAT ", root %s\n",
                    json_string_value (json_object_get (sth, "feed")),
                    json_integer_value (json_object_get (sth, "size")),
                    json_string_value (json_object_get (sth, "root")));
        const char *name;
        json_t *value;
        json_object_foreach (types, name, value)
            printf ("  %-16s %" JSON_INTEGER_FORMAT "\n", name, json_integer_value (value));
    }
    json_decref (json);
    osmose_feed_destroy (&feed);
    return 0;
}

static int
s_number (const char *text, const char *option, int64_t *value)
{
    char *end;
    long long number = strtoll (text, &end, 10);
    if (*end || end == text || number < 0) {
        fprintf (stderr, "osmose log: %s '%s': expected a number >= 0\n", option, text);
        return OSMOSE_EXIT_USAGE;
    }
    *value = number;
    return 0;
}

int
osmose_cli_log (osmose_cli_t *cli, int argc, char *argv [])
{
    static const struct option options [] = {
        { "store", required_argument, NULL, 's' },
        { "key", required_argument, NULL, 'k' },
        { "json", no_argument, NULL, 'j' },
        { "follow", no_argument, NULL, 'f' },
        { "count", required_argument, NULL, 'n' },
        { "from", required_argument, NULL, 'F' },
        { "size", required_argument, NULL, 'S' },
        { "consistency", required_argument, NULL, 'c' },
        { "reason", required_argument, NULL, 'r' },
        { "external", no_argument, NULL, 'x' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    s_args_t args = { .cli = cli, .store = S_DEFAULT_STORE, .count = -1, .size = -1,
                      .consistency = -1 };
    int64_t from = -1;
    //  Options may come before or after the command; GNU getopt permutes
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long (argc, argv, "s:k:jfn:h", options, NULL)) != -1) {
        switch (opt) {
            case 's': args.store = optarg; break;
            case 'k': args.key_dir = optarg; break;
            case 'j': cli->json = true; break;
            case 'f': args.follow = true; break;
            case 'n': rc = s_number (optarg, "--count", &args.count); break;
            case 'F': rc = s_number (optarg, "--from", &from); break;
            case 'S': rc = s_number (optarg, "--size", &args.size); break;
            case 'c': rc = s_number (optarg, "--consistency", &args.consistency); break;
            case 'r': args.reason = optarg; break;
            case 'x': args.external = true; break;
            case 'h': s_usage (stdout); return 0;
            default:  rc = OSMOSE_EXIT_USAGE;
        }
    }
    if (rc)
        return rc;
    if (optind >= argc) {
        s_usage (stderr);
        return OSMOSE_EXIT_USAGE;
    }
    const char *command = argv [optind];
    int sub_argc = argc - optind - 1;
    char **sub_argv = argv + optind + 1;
    if (streq (command, "show")) {
        if (from >= 0)
            args.size = from;           //  show reuses size as the first entry
        return sub_argc <= 1? s_show (&args, sub_argc, sub_argv): OSMOSE_EXIT_USAGE;
    }
    if (sub_argc && !streq (command, "prove") && !streq (command, "erase")
    &&  !streq (command, "append") && !streq (command, "import")) {
        fprintf (stderr, "osmose log %s: unexpected argument '%s'\n", command, sub_argv [0]);
        return OSMOSE_EXIT_USAGE;
    }
    if (streq (command, "tail"))
        return s_tail (&args);
    if (streq (command, "init"))
        return s_init (&args);
    if (streq (command, "verify"))
        return s_verify (&args);
    if (streq (command, "prove"))
        return s_prove (&args, sub_argc, sub_argv);
    if (streq (command, "erase"))
        return s_erase (&args, sub_argc, sub_argv);
    if (streq (command, "stats"))
        return s_stats (&args);
    if (streq (command, "append"))
        return s_append (&args, sub_argc, sub_argv);
    if (streq (command, "import"))
        return s_import (&args, sub_argc, sub_argv);
    fprintf (stderr, "osmose log: unknown command '%s'\nTry 'osmose log --help'.\n", command);
    return OSMOSE_EXIT_USAGE;
}
