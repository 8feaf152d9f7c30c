/*  osmose_poller.h: the daemon's poller, zpoller's interface with a fast
    path for the sockets that carry tasks.

    zmq_poll (and so zpoller) asks every ZeroMQ socket for its events
    before and after it sleeps: two system calls per socket and pass. The
    peer polls twenty sockets or so (its API, its inbox, a link per peer of
    its active view, the work endpoint, the executor), so each wake cost
    some 7 us here, three times on a null task's path: a quarter of what a
    lease adds to a raw CurveZMQ round trip.

    A full wait asks every socket once, then sleeps in one ppoll () on
    every reader's descriptor and, once woken, asks only the sockets whose
    descriptor fired: a socket's descriptor fires for whatever reaches it
    after it was asked.

    Readers marked hot (osmose_poller_set_hot: the work endpoint and the
    executor) take the fast path. After a hot reader was returned, and as
    long as the caller touched no other socket (osmose_poller_touched),
    the next wait asks only the hot sockets before it sleeps. What it
    cannot see is a message on another socket whose wake-up signal a send
    or receive on that socket took in the meantime, which a hot handler
    must not do; so every OSMOSE_POLLER_FULL_US at the latest a wait asks
    every socket, and such a message waits no longer than that. (At 1 ms,
    those waits cost a null task's round trip 10%.)

    Every reader found ready by one poll is returned, one per wait, in the
    order they were added (zpoller returns the first and forgets the rest,
    whose signals zmq_poll already took; the next zmq_poll finds them again
    only because it asks every socket).

    A reader is a zsock_t, a zactor_t, a libzmq socket, or an int * naming a
    file descriptor, as for zpoller.

    Thread safety: none; a poller belongs to one thread.
*/
#ifndef OSMOSE_POLLER_H_INCLUDED
#define OSMOSE_POLLER_H_INCLUDED

//  How long a fast-path wait may go without asking every socket
#define OSMOSE_POLLER_FULL_US   20000   //  20 ms

typedef struct _osmose_poller_t osmose_poller_t;

typedef struct {
    uint64_t full;              //  waits that asked every socket
    uint64_t fast;              //  waits on the fast path
} osmose_poller_stats_t;

//  NULL when out of memory.
osmose_poller_t *
    osmose_poller_new (void);

void
    osmose_poller_destroy (osmose_poller_t **self_p);

//  Poll READER too. 0, OSMOSE_EEXIST if it is polled already, or
//  OSMOSE_ENOMEM.
int
    osmose_poller_add (osmose_poller_t *self, void *reader) OSMOSE_CHECK;

//  Stop polling READER; a reader not polled is ignored. READER may then
//  be destroyed.
void
    osmose_poller_remove (osmose_poller_t *self, void *reader);

//  Mark READER (polled already) as hot or not. Its handler must use no
//  socket but the hot ones, or call osmose_poller_touched. 0, or
//  OSMOSE_ENOTFOUND.
int
    osmose_poller_set_hot (osmose_poller_t *self, void *reader, bool hot);

//  The caller used other sockets than the hot ones since the last wait
//  (a timer, a handler of its own): the next wait asks every socket.
void
    osmose_poller_touched (osmose_poller_t *self);

//  Wait up to TIMEOUT_MS (-1: forever) for a reader with input and return
//  it, or NULL: the time ran out (osmose_poller_expired) or the poll
//  failed or was interrupted (osmose_poller_terminated), as zpoller_wait.
void *
    osmose_poller_wait (osmose_poller_t *self, int timeout_ms);

bool
    osmose_poller_expired (osmose_poller_t *self);

bool
    osmose_poller_terminated (osmose_poller_t *self);

//  How the waits went, for status and tests.
osmose_poller_stats_t
    osmose_poller_stats (osmose_poller_t *self);

void
    osmose_poller_test (bool verbose);

#endif
