/*  osmose_selftest.c: runs the self-test of every class.
    Usage: osmose_selftest [-v] [-l] [-t NAME]...
    Each area of the code lists its classes in tests/selftest-AREA.inc, so
    areas add tests without touching one shared table.
*/
#include "../src/osmose_prelude.h"
#include <getopt.h>

#define OSMOSE_TEST(name) void name##_test (bool verbose);
#include "selftest-core.inc"
#include "selftest-log.inc"
#include "selftest-mesh.inc"
#include "selftest-resources.inc"
#include "selftest-members.inc"
#include "selftest-discovery.inc"
#include "selftest-market.inc"
#include "selftest-top.inc"
#include "selftest-exec.inc"
#undef OSMOSE_TEST

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} s_test_t;

#define OSMOSE_TEST(name) { #name, name##_test },
static const s_test_t s_tests [] = {
#include "selftest-core.inc"
#include "selftest-log.inc"
#include "selftest-mesh.inc"
#include "selftest-resources.inc"
#include "selftest-members.inc"
#include "selftest-discovery.inc"
#include "selftest-market.inc"
#include "selftest-top.inc"
#include "selftest-exec.inc"
    { NULL, NULL }
};
#undef OSMOSE_TEST

int
main (int argc, char *argv [])
{
    bool verbose = false;
    zlist_t *selected = zlist_new ();
    int opt;
    while ((opt = getopt (argc, argv, "vlt:h")) != -1) {
        if (opt == 'v')
            verbose = true;
        else
        if (opt == 'l') {
            for (const s_test_t *test = s_tests; test->name; test++)
                printf ("%s\n", test->name);
            zlist_destroy (&selected);
            return 0;
        }
        else
        if (opt == 't')
            zlist_append (selected, optarg);
        else {
            printf ("Usage: osmose_selftest [-v] [-l] [-t NAME]...\n"
                    "Run the self-tests of osmose's classes (all, or each NAME).\n");
            zlist_destroy (&selected);
            return opt == 'h'? 0: 2;
        }
    }
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_logstream (verbose? stderr: NULL);
    int ran = 0;
    for (const s_test_t *test = s_tests; test->name; test++) {
        bool wanted = zlist_size (selected) == 0;
        for (char *name = (char *) zlist_first (selected); name && !wanted;
             name = (char *) zlist_next (selected))
            wanted = streq (name, test->name);
        if (wanted) {
            test->test (verbose);
            ran++;
        }
    }
    zlist_destroy (&selected);
    if (ran == 0) {
        fprintf (stderr, "osmose_selftest: no such test\n");
        return 2;
    }
    return 0;
}
