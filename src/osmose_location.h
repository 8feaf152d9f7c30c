/*  osmose_location.h: location paths, and how far apart two of them are.

    A device says where it is with a path such as "hq/floor1/room3/desk2"
    (node/location in the config). Paths name places from the largest to the
    smallest; two devices are near when their paths share a long prefix. The
    distance between two paths is the number of hops through their common
    ancestor: a/b/c to a/b/d is 2 (up to a/b, down to d), a/b to a/b/c is 1.
    Proximity (osmose_proximity) turns hops into score.

    The empty path means "location unknown"; it is valid but is at the
    UNKNOWN distance from every path, itself included.

    Thread safety: every function is pure and safe from any thread.
*/
#ifndef OSMOSE_LOCATION_H_INCLUDED
#define OSMOSE_LOCATION_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define OSMOSE_LOCATION_MAX_DEPTH   16      //  segments in a path
#define OSMOSE_LOCATION_MAX_LENGTH  255     //  bytes, without the NUL
//  Distance between unrelated paths or where either is unknown: more than
//  any two valid paths that share a root can be apart (at most 2 * 15).
#define OSMOSE_LOCATION_UNKNOWN     (2 * OSMOSE_LOCATION_MAX_DEPTH)

//  Check PATH: segments of [A-Za-z0-9._-] joined by single '/', no leading
//  or trailing '/'. The empty string is valid (unknown location).
//  The same grammar as node/location in the config. Returns 0,
//  OSMOSE_EINVAL (NULL, bad character, empty segment) or OSMOSE_ETOOBIG
//  (longer than MAX_LENGTH or deeper than MAX_DEPTH).
int
    osmose_location_check (const char *path);

//  True when osmose_location_check (PATH) would return 0.
bool
    osmose_location_valid (const char *path);

//  Number of segments of a valid PATH (0 for ""); -1 when PATH is invalid.
int
    osmose_location_depth (const char *path);

//  Number of leading segments A and B share (0 when either is invalid or
//  empty). "a/b/c" and "a/b/cd" share 2: segments compare whole.
int
    osmose_location_common_depth (const char *a, const char *b);

//  Write the common ancestor of A and B ("a/b" for "a/b/c" and "a/b/d";
//  "" when they share nothing) into BUFFER of SIZE bytes. Returns its
//  length, OSMOSE_EINVAL for invalid paths or OSMOSE_ETOOBIG when BUFFER is
//  too small (BUFFER then holds "").
int
    osmose_location_common_prefix (const char *a, const char *b,
                                   char *buffer, size_t size);

//  True when PATH is PLACE or lies inside it ("a/b/c" is within "a/b" and
//  "a/b", not within "a/bc"). Every valid path is within "".
bool
    osmose_location_within (const char *path, const char *place);

//  Hops between A and B through their common ancestor: 0 when equal,
//  OSMOSE_LOCATION_UNKNOWN when either is empty or invalid or when they
//  share no segment (different buildings say nothing about distance).
int
    osmose_location_distance (const char *a, const char *b);

void
    osmose_location_test (bool verbose);

#endif
