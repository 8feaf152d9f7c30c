/*  osmose_prelude.h: what every osmose source file includes first.
    Only project-wide basics live here; a module includes the headers of the
    modules it uses itself, so the dependency graph stays visible.
*/
#ifndef OSMOSE_PRELUDE_H_INCLUDED
#define OSMOSE_PRELUDE_H_INCLUDED

#include "platform.h"
#include <czmq.h>
#include <sodium.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include "../include/osmose.h"
#include "osmose_alloc.h"

//  Mark functions whose result must be checked, as libsodium does.
#define OSMOSE_CHECK OSMOSE_WARN_UNUSED

//  Map an errno value to the closest osmose error code.
int osmose_errno_code (int err);

//  Declared here so the selftest table can reach every class.
#define OSMOSE_SELFTEST(name) void name##_test (bool verbose);

#endif
