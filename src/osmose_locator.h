/*  osmose_locator.h: a location provider that follows a file or a named
    pipe, so a positioning script (BLE beacons, Wi-Fi fingerprints, a badge
    reader) or a test can move this peer: it writes a location path, one
    per line, and the peer moves there (DESIGN.md, "Mobility").

    node/location_source names the file. A named pipe (mkfifo) is read as
    lines arrive, through a descriptor the actor polls; a regular file is
    read again whenever its modification time or size changes (checked by
    osmose_locator_check). The last non-empty line wins. A line that is
    not a valid path is reported and ignored.

    Thread safety: none; one locator belongs to one actor.
*/
#ifndef OSMOSE_LOCATOR_H_INCLUDED
#define OSMOSE_LOCATOR_H_INCLUDED

#include "osmose_location.h"

typedef struct _osmose_locator_t osmose_locator_t;

//  Follow PATH. NULL with a reason in ERROR (no such file...).
osmose_locator_t *
    osmose_locator_new (const char *path, char *error, size_t error_size);

void
    osmose_locator_destroy (osmose_locator_t **self_p);

//  The descriptor to poll (a named pipe), or -1 (a regular file).
int
    osmose_locator_fd (osmose_locator_t *self);

//  Look for news: read what the pipe holds, or the file if it changed.
//  Returns true and copies the newest valid location into LOCATION
//  (OSMOSE_LOCATION_MAX_LENGTH + 1 bytes) when there is one.
bool
    osmose_locator_check (osmose_locator_t *self, char *location);

void
    osmose_locator_test (bool verbose);

#endif
