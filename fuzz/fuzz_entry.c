/*  fuzz_entry.c: libFuzzer target for the entry and ERASE payload decoders.
    Any byte string must decode or be refused without a crash, and what
    decodes must encode back to the same bytes.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_entry.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    osmose_entry_t entry;
    if (osmose_entry_decode (data, size, &entry) == 0) {
        static uint8_t buffer [OSMOSE_ENTRY_MAX];
        size_t encoded;
        if (osmose_entry_encode (&entry, buffer, sizeof (buffer), &encoded) != 0
        ||  encoded != size || memcmp (buffer, data, size) != 0)
            abort ();
        if (entry.payload) {
            uint64_t target;
            char reason [OSMOSE_ERASE_REASON_MAX + 1];
            if (osmose_entry_erase_decode (entry.payload, entry.payload_size, &target, reason) == 0
            &&  strlen (reason) != entry.payload_size - 8)
                abort ();
        }
    }
    return 0;
}
