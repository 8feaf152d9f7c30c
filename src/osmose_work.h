/*  osmose_work.h: a provider's work endpoint, where leaseholders' programs
    send tasks directly (DESIGN.md, invariant 2: one hop for work).

    One CurveZMQ ROUTER per daemon. Its ZAP domain admits any CURVE key:
    what a connection may do is decided by its first message, OPEN, which
    carries the lease token this provider signed for the client's daemon
    and that daemon's signature delegating the lease to this connection's
    session key (osmose_work_msg.h). The endpoint checks the token
    (osmose_token_check: issued by us, to that client key, not expired),
    the delegation, and asks the market that the lease is still live; only
    then do TASKS batches go to the executor, and RESULTS batches come back
    as workers finish them. When a lease ends (released, expired, revoked)
    its connections get CLOSED and their tasks are cancelled.

    The endpoint owns no thread: the peer actor polls its socket and the
    executor's handle, and calls osmose_work_handle and
    osmose_work_process.

    Thread safety: none; one endpoint belongs to one actor.
*/
#ifndef OSMOSE_WORK_H_INCLUDED
#define OSMOSE_WORK_H_INCLUDED

#include <jansson.h>
#include "osmose_identity.h"
#include "osmose_token.h"
#include "osmose_exec.h"

typedef struct _osmose_work_t osmose_work_t;

//  Is LEASE_ID a live lease granted to CLIENT_KEY? 0 or OSMOSE_ENOLEASE.
typedef int (osmose_work_valid_fn) (void *arg, const uint8_t *lease_id,
                                    const uint8_t *client_key);

//  Bind the endpoint at BIND (tcp://host:port, port 0 or *: any) for
//  IDENTITY (borrowed), running tasks on EXEC (borrowed; may be NULL: every
//  task then fails with OSMOSE_ENOTSUP). ADVERTISE, when not empty, is the
//  endpoint clients are told; else the bound one, with a wildcard host
//  replaced by HOST_HINT's host part (the mesh's advertised endpoint).
osmose_work_t *
    osmose_work_new (osmose_identity_t *identity, const char *bind, const char *advertise,
                     const char *host_hint, osmose_exec_t *exec,
                     osmose_work_valid_fn *valid, void *valid_arg,
                     char *error, size_t error_size);

void
    osmose_work_destroy (osmose_work_t **self_p);

//  Run tasks on EXEC from now on (borrowed; the daemon starts its
//  executor on the first lease it grants, so idle peers keep no workers).
void
    osmose_work_set_exec (osmose_work_t *self, osmose_exec_t *exec);

//  The socket to poll; call osmose_work_handle when it is readable.
zsock_t *
    osmose_work_socket (osmose_work_t *self);
void
    osmose_work_handle (osmose_work_t *self);

//  Collect what the executor finished and send the results, batched per
//  connection. Call when the executor's handle is readable, and after
//  osmose_work_handle.
void
    osmose_work_process (osmose_work_t *self);

//  The lease LEASE_ID ended: tell its connections why (CLOSED with STATUS
//  and REASON) and cancel their tasks.
void
    osmose_work_close_lease (osmose_work_t *self, const uint8_t *lease_id, int status,
                             const char *reason);

//  Close every connection with STATUS and REASON (the daemon stopping:
//  leaseholders move their tasks elsewhere at once).
void
    osmose_work_close_all (osmose_work_t *self, int status, const char *reason);

//  Where clients connect.
const char *
    osmose_work_endpoint (osmose_work_t *self);

//  One row per open work connection: {"id", "lease", "client",
//  "provider", "function" (of its latest task), "state", "tasks", "done",
//  "in_flight", "ms" (open since)}; caller owns.
json_t *
    osmose_work_sessions_json (osmose_work_t *self);

//  {"endpoint", "sessions", "opened", "refused", "tasks", "results",
//  "malformed"}; caller owns.
json_t *
    osmose_work_json (osmose_work_t *self);

void
    osmose_work_test (bool verbose);

#endif
