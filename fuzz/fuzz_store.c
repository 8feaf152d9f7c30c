/*  fuzz_store.c: libFuzzer target for opening a damaged store: the input
    becomes entries.log (and, past a split byte, heads.log) of a store that
    a reader then opens, reads and verifies. Every outcome is a clean open
    or a clean error; nothing may crash or read out of bounds.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_feed.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char s_dir [64];

static void
s_write (const char *name, const uint8_t *data, size_t size)
{
    char path [128];
    snprintf (path, sizeof (path), "%s/%s", s_dir, name);
    FILE *file = fopen (path, "wb");
    if (!file)
        abort ();
    if (size && fwrite (data, 1, size, file) != size)
        abort ();
    fclose (file);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!*s_dir) {
        if (sodium_init () < 0)
            abort ();
        snprintf (s_dir, sizeof (s_dir), "/tmp/osmose-fuzz-store-%d", getpid ());
        mkdir (s_dir, 0700);
    }
    size_t split = size;
    if (size > 2 && data [0] < 0x20)
        split = 1 + (size - 1) * data [0] / 0x20;   //  first byte picks the split
    s_write ("entries.log", data, split);
    s_write ("heads.log", data + split, size - split);
    s_write ("payloads.dat", NULL, 0);
    osmose_feed_t *feed;
    char error [512];
    if (osmose_feed_open (s_dir, NULL, 0, error, sizeof (error), &feed) == 0) {
        uint8_t buffer [OSMOSE_ENTRY_MAX];
        osmose_entry_t entry;
        for (uint64_t index = 0; index < osmose_feed_size (feed); index++) {
            if (osmose_feed_entry (feed, index, buffer, NULL, &entry))
                abort ();       //  what opened must read back
            uint8_t *payload;
            size_t payload_size;
            if (osmose_feed_payload (feed, index, &payload, &payload_size, NULL) == 0)
                free (payload);
        }
        (void) !osmose_feed_verify (feed, error, sizeof (error));
        osmose_feed_destroy (&feed);
    }
    return 0;
}
