/*  osmose_alloc.c: allocator identity and statistics (see osmose_alloc.h).
    jemalloc is linked without a prefix, so there is nothing to wrap: we only
    ask it, through mallctl, what it is and how much it holds.
*/
#include "osmose_prelude.h"
#if defined(OSMOSE_WITH_JEMALLOC)
#   include <jemalloc/jemalloc.h>
//  Weak, because the public libosmose does not link jemalloc: a library
//  must not replace its host program's malloc. There mallctl is NULL unless
//  the program itself runs on jemalloc.
#   pragma weak mallctl
#endif

bool
osmose_alloc_is_jemalloc (void)
{
#if defined(OSMOSE_WITH_JEMALLOC)
    const char *version = NULL;
    size_t size = sizeof (version);
    return mallctl && mallctl ("version", &version, &size, NULL, 0) == 0 && version;
#else
    return false;
#endif
}

const char *
osmose_alloc_name (void)
{
#if defined(OSMOSE_WITH_JEMALLOC)
    static char name [64];
    const char *version = NULL;
    size_t size = sizeof (version);
    if (mallctl && mallctl ("version", &version, &size, NULL, 0) == 0 && version) {
        snprintf (name, sizeof (name), "jemalloc %s", version);
        return name;
    }
#endif
    return "glibc malloc";
}

int
osmose_alloc_stats (osmose_alloc_stats_t *stats)
{
    if (!stats)
        return OSMOSE_EINVAL;
    memset (stats, 0, sizeof (*stats));
#if defined(OSMOSE_WITH_JEMALLOC)
    //  Statistics are cached per epoch; bump it to get fresh figures
    uint64_t epoch = 1;
    size_t size = sizeof (epoch);
    if (mallctl && mallctl ("epoch", &epoch, &size, &epoch, size) == 0) {
        size = sizeof (size_t);
        if (mallctl ("stats.allocated", &stats->allocated, &size, NULL, 0) == 0
        &&  mallctl ("stats.resident", &stats->resident, &size, NULL, 0) == 0)
            return 0;
    }
#endif
    return OSMOSE_ENOTSUP;
}

int
osmose_alloc_purge (void)
{
#if defined(OSMOSE_WITH_JEMALLOC)
#   define S_STRING(value) #value
#   define S_ARENAS_PURGE(all) "arena." S_STRING (all) ".purge"
    if (mallctl && mallctl (S_ARENAS_PURGE (MALLCTL_ARENAS_ALL), NULL, NULL, NULL, 0) == 0)
        return 0;
#endif
    return OSMOSE_ENOTSUP;
}

void
osmose_alloc_test (bool verbose)
{
    printf (" * osmose_alloc: ");
    const char *name = osmose_alloc_name ();
    assert (name && *name);
    osmose_alloc_stats_t stats;
    int rc = osmose_alloc_stats (&stats);
#if defined(OSMOSE_WITH_JEMALLOC)
    assert (osmose_alloc_is_jemalloc ());
    assert (rc == 0);
    assert (strncmp (name, "jemalloc ", 9) == 0);
    //  A large allocation must show up in the statistics
    size_t before = stats.allocated;
    char *block = malloc (8 << 20);
    assert (block);
    memset (block, 1, 8 << 20);
    assert (osmose_alloc_stats (&stats) == 0);
    assert (stats.allocated >= before + (8 << 20));
    free (block);
    //  Freed, the pages of a block under jemalloc's oversize threshold
    //  (8 MiB, purged at once) stay resident, this program keeping the
    //  default decay of 10 s, until purged
    block = malloc (4 << 20);
    assert (block);
    memset (block, 1, 4 << 20);
    free (block);
    assert (osmose_alloc_stats (&stats) == 0);
    size_t resident = stats.resident;
    assert (osmose_alloc_purge () == 0);
    assert (osmose_alloc_stats (&stats) == 0);
    assert (stats.resident + (2 << 20) < resident);
#else
    assert (osmose_alloc_purge () == OSMOSE_ENOTSUP);
    assert (rc == OSMOSE_ENOTSUP);
    assert (!osmose_alloc_is_jemalloc ());
#endif
    if (verbose)
        printf ("(%s) ", name);
    assert (osmose_alloc_stats (NULL) == OSMOSE_EINVAL);
    printf ("OK\n");
}
