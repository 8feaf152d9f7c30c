/*  osmose_cgroup.h: the CPU and memory limits of the control group we run
    in. A daemon in a container or a systemd slice must advertise what it
    may use, not what the host has: /proc/meminfo and /proc/cpuinfo show
    the host. Reads cgroup v2 (our group from /proc/self/cgroup and each of
    its ancestors: the tightest limit wins) and, failing that, cgroup v1's
    memory and cpu controllers.

    Like osmose_resources, every file is read under a root directory so
    tests describe any machine. Thread safety: pure, any thread.
*/
#ifndef OSMOSE_CGROUP_H_INCLUDED
#define OSMOSE_CGROUP_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t cpu_millis;         //  CPU quota in thousandths of a CPU, -1 none
    int64_t memory_max;         //  memory limit in bytes, -1 none
    int64_t memory_headroom;    //  bytes left under the tightest limit, -1 none
} osmose_cgroup_limits_t;

//  Read the limits that apply to this process under ROOT ("/" or NULL for
//  this machine) into *limits. A machine without cgroups has no limits;
//  this never fails.
void
    osmose_cgroup_limits (const char *root, osmose_cgroup_limits_t *limits);

void
    osmose_cgroup_test (bool verbose);

#endif
