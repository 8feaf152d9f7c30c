/*  osmose_location.c: location paths and hop distance (see osmose_location.h).

    Paths come from peers' adverts, so every function validates before it
    walks and never trusts a length it did not measure.
*/
#include "osmose_prelude.h"
#include "osmose_location.h"

static bool
s_segment_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
osmose_location_check (const char *path)
{
    if (!path)
        return OSMOSE_EINVAL;
    if (!*path)
        return 0;
    //  strnlen: a hostile path may be long, we need not measure all of it
    if (strnlen (path, OSMOSE_LOCATION_MAX_LENGTH + 1) > OSMOSE_LOCATION_MAX_LENGTH)
        return OSMOSE_ETOOBIG;
    int depth = 1;
    bool segment_empty = true;
    for (const char *scan = path; *scan; scan++) {
        if (*scan == '/') {
            if (segment_empty)
                return OSMOSE_EINVAL;
            segment_empty = true;
            depth++;
        }
        else
        if (s_segment_char (*scan))
            segment_empty = false;
        else
            return OSMOSE_EINVAL;
    }
    if (segment_empty)
        return OSMOSE_EINVAL;   //  trailing '/'
    return depth > OSMOSE_LOCATION_MAX_DEPTH? OSMOSE_ETOOBIG: 0;
}

bool
osmose_location_valid (const char *path)
{
    return osmose_location_check (path) == 0;
}

int
osmose_location_depth (const char *path)
{
    if (!osmose_location_valid (path))
        return -1;
    if (!*path)
        return 0;
    int depth = 1;
    for (const char *scan = path; *scan; scan++)
        if (*scan == '/')
            depth++;
    return depth;
}

//  Shared segments of two valid paths; *length_p gets the byte length of
//  the shared prefix (without a trailing '/').
static int
s_common (const char *a, const char *b, size_t *length_p)
{
    int shared = 0;
    size_t length = 0;
    size_t offset = 0;
    while (a [offset] && b [offset]) {
        //  Compare one segment of each, whole
        size_t end = offset;
        while (a [end] && a [end] != '/' && a [end] == b [end])
            end++;
        bool a_done = a [end] == '\0' || a [end] == '/';
        bool b_done = b [end] == '\0' || b [end] == '/';
        if (!a_done || !b_done)
            break;
        shared++;
        length = end;
        if (!a [end] || !b [end])
            break;
        offset = end + 1;
    }
    if (length_p)
        *length_p = length;
    return shared;
}

int
osmose_location_common_depth (const char *a, const char *b)
{
    if (!osmose_location_valid (a) || !osmose_location_valid (b))
        return 0;
    return s_common (a, b, NULL);
}

int
osmose_location_common_prefix (const char *a, const char *b,
                               char *buffer, size_t size)
{
    if (!buffer || size == 0)
        return OSMOSE_EINVAL;
    *buffer = '\0';
    if (!osmose_location_valid (a) || !osmose_location_valid (b))
        return OSMOSE_EINVAL;
    size_t length;
    s_common (a, b, &length);
    if (length + 1 > size)
        return OSMOSE_ETOOBIG;
    memcpy (buffer, a, length);
    buffer [length] = '\0';
    return (int) length;
}

bool
osmose_location_within (const char *path, const char *place)
{
    if (!osmose_location_valid (path) || !osmose_location_valid (place))
        return false;
    int place_depth = osmose_location_depth (place);
    return s_common (path, place, NULL) == place_depth;
}

int
osmose_location_distance (const char *a, const char *b)
{
    int depth_a = osmose_location_depth (a);
    int depth_b = osmose_location_depth (b);
    if (depth_a <= 0 || depth_b <= 0)
        return OSMOSE_LOCATION_UNKNOWN;
    int shared = s_common (a, b, NULL);
    if (shared == 0)
        return OSMOSE_LOCATION_UNKNOWN;
    return depth_a + depth_b - 2 * shared;
}

void
osmose_location_test (bool verbose)
{
    printf (" * osmose_location: ");

    //  Validation
    static const struct {
        const char *path;
        int rc;
    } checks [] = {
        { "", 0 },
        { "hq", 0 },
        { "hq/floor1/room3/desk2", 0 },
        { "Bldg-A/f_1/r.3", 0 },
        { "/hq", OSMOSE_EINVAL },
        { "hq/", OSMOSE_EINVAL },
        { "hq//room", OSMOSE_EINVAL },
        { "hq/room 3", OSMOSE_EINVAL },
        { "hq/r\xc3\xa9", OSMOSE_EINVAL },
        { "hq\n", OSMOSE_EINVAL },
        { "/", OSMOSE_EINVAL },
        { "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", 0 },           //  depth 16
        { "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", OSMOSE_ETOOBIG },
    };
    for (size_t index = 0; index < sizeof (checks) / sizeof (checks [0]); index++) {
        int rc = osmose_location_check (checks [index].path);
        if (verbose && rc != checks [index].rc)
            printf ("\ncheck '%s' -> %d\n", checks [index].path, rc);
        assert (rc == checks [index].rc);
        assert (osmose_location_valid (checks [index].path) == (checks [index].rc == 0));
    }
    assert (osmose_location_check (NULL) == OSMOSE_EINVAL);
    //  Length: 255 bytes pass, 256 fail
    char long_path [300];
    memset (long_path, 'x', sizeof (long_path));
    long_path [OSMOSE_LOCATION_MAX_LENGTH] = '\0';
    assert (osmose_location_check (long_path) == 0);
    long_path [OSMOSE_LOCATION_MAX_LENGTH] = 'x';
    long_path [OSMOSE_LOCATION_MAX_LENGTH + 1] = '\0';
    assert (osmose_location_check (long_path) == OSMOSE_ETOOBIG);

    //  Depth
    assert (osmose_location_depth ("") == 0);
    assert (osmose_location_depth ("a") == 1);
    assert (osmose_location_depth ("a/b/c") == 3);
    assert (osmose_location_depth ("a//c") == -1);
    assert (osmose_location_depth (NULL) == -1);

    //  Distance and common depth, both ways round
    static const struct {
        const char *a, *b;
        int common, distance;
        const char *prefix;
    } pairs [] = {
        { "a/b/c", "a/b/d", 2, 2, "a/b" },
        { "a/b", "a/b/c", 2, 1, "a/b" },
        { "a/b/c", "a/b/c", 3, 0, "a/b/c" },
        { "a", "a", 1, 0, "a" },
        { "a/b/c/d", "a/x", 1, 4, "a" },
        { "a/b/c", "a/bc/c", 1, 4, "a" },           //  segments compare whole
        { "a/b/cd", "a/b/c", 2, 2, "a/b" },
        { "hq/f1/r3/desk2", "hq/f2/r1", 1, 5, "hq" },
        { "a/b", "x/b", 0, OSMOSE_LOCATION_UNKNOWN, "" },
        { "", "a/b", 0, OSMOSE_LOCATION_UNKNOWN, "" },
        { "", "", 0, OSMOSE_LOCATION_UNKNOWN, "" },
        { "a/b", "a//b", 0, OSMOSE_LOCATION_UNKNOWN, NULL },
        { "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", "a/q/r/s/t/u/v/w/x/y/z/A/B/C/D/E",
          1, 30, "a" },
    };
    for (size_t index = 0; index < sizeof (pairs) / sizeof (pairs [0]); index++) {
        for (int swap = 0; swap < 2; swap++) {
            const char *a = swap? pairs [index].b: pairs [index].a;
            const char *b = swap? pairs [index].a: pairs [index].b;
            int distance = osmose_location_distance (a, b);
            if (verbose && distance != pairs [index].distance)
                printf ("\ndistance '%s' '%s' -> %d\n", a, b, distance);
            assert (distance == pairs [index].distance);
            assert (osmose_location_common_depth (a, b) == pairs [index].common);
            char prefix [64];
            int rc = osmose_location_common_prefix (a, b, prefix, sizeof (prefix));
            if (pairs [index].prefix) {
                assert (rc == (int) strlen (pairs [index].prefix));
                assert (streq (prefix, pairs [index].prefix));
            }
            else {
                assert (rc == OSMOSE_EINVAL);
                assert (streq (prefix, ""));
            }
        }
    }
    //  Unknown is farther than any two related paths
    assert (OSMOSE_LOCATION_UNKNOWN > 2 * (OSMOSE_LOCATION_MAX_DEPTH - 1));

    //  Common prefix into a buffer too small
    char tiny [4];
    assert (osmose_location_common_prefix ("abcd/x", "abcd/y", tiny, sizeof (tiny))
            == OSMOSE_ETOOBIG);
    assert (streq (tiny, ""));
    assert (osmose_location_common_prefix ("abc/x", "abc/y", tiny, sizeof (tiny)) == 3);
    assert (streq (tiny, "abc"));
    assert (osmose_location_common_prefix ("a", "b", NULL, 0) == OSMOSE_EINVAL);

    //  Within
    assert (osmose_location_within ("a/b/c", "a/b"));
    assert (osmose_location_within ("a/b", "a/b"));
    assert (osmose_location_within ("a/b", ""));
    assert (!osmose_location_within ("a/bc", "a/b"));
    assert (!osmose_location_within ("a", "a/b"));
    assert (!osmose_location_within ("a/b", "a//"));
    assert (!osmose_location_within (NULL, "a"));

    printf ("OK\n");
}
