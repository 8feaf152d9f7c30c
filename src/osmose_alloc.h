/*  osmose_alloc.h: the one allocator layer.
    When configured with jemalloc (the default), jemalloc replaces malloc for
    the whole process, CZMQ and libzmq included; this layer reports which
    allocator is live and its usage statistics, for osmosed --version and
    osmose-top.
*/
#ifndef OSMOSE_ALLOC_H_INCLUDED
#define OSMOSE_ALLOC_H_INCLUDED

#include <stddef.h>
#include <stdbool.h>

typedef struct {
    size_t allocated;           //  bytes handed out to the program
    size_t resident;            //  bytes the allocator holds in RAM
} osmose_alloc_stats_t;

//  Name and version of the allocator in use, e.g. "jemalloc 5.3.0-0-g54eaed1d"
//  or "glibc malloc". Static string.
const char *
    osmose_alloc_name (void);

//  True when jemalloc serves this process's allocations.
bool
    osmose_alloc_is_jemalloc (void);

//  Fill *stats with current usage; returns 0, or OSMOSE_ENOTSUP when the
//  allocator keeps no statistics (then *stats is zeroed).
int
    osmose_alloc_stats (osmose_alloc_stats_t *stats);

//  Give the pages freed since the last call back to the system (jemalloc
//  keeps them dirty for reuse, see osmosed.c); returns 0, or OSMOSE_ENOTSUP
//  when the allocator has no such call.
int
    osmose_alloc_purge (void);

void
    osmose_alloc_test (bool verbose);

#endif
