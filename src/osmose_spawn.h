/*  osmose_spawn.h: start and reap osmose-worker processes for the executor.
    A worker is started with fork+exec from a possibly threaded daemon: it
    finds its end of a socketpair on fd 3 and a fresh shared page (the
    cancel word and the running task) on fd 4, and nothing else open.
    Private to osmose_exec.
*/
#ifndef OSMOSE_SPAWN_H_INCLUDED
#define OSMOSE_SPAWN_H_INCLUDED

#include "osmose_exec_wire.h"
#include <sys/types.h>

//  Start PATH with ARGV (NULL-terminated). On success returns 0, sets *pid_p
//  and *fd_p (our end of the socketpair, non-blocking, close-on-exec) and
//  maps the new process's shared page at *shm_p (mapping a new page when
//  *shm_p is NULL, else replacing the page at that address, so pointers to
//  it stay valid across restarts). Returns OSMOSE_EIO when it cannot.
int OSMOSE_CHECK
    osmose_spawn_worker (const char *path, char *const argv [],
                         osmose_wire_shm_t **shm_p, pid_t *pid_p, int *fd_p);

//  Wait (up to 100 ms, then SIGKILL) for PID to end and describe how:
//  "worker crashed: signal 11 (Segmentation fault)", "worker exited with
//  status 1". The caller has closed its socket or killed it.
void
    osmose_spawn_reap (pid_t pid, char *how, size_t how_size);

void
    osmose_spawn_test (bool verbose);

#endif
