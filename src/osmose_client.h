/*  osmose_client.h: private helpers of the client library, shared by the
    osmose CLI and osmose-top (the public face is in osmose.h).
*/
#ifndef OSMOSE_CLIENT_H_INCLUDED
#define OSMOSE_CLIENT_H_INCLUDED

#include <jansson.h>
#include "osmose_api.h"

//  Send COMMAND with ARGUMENTS (may be NULL) and wait for the reply; on a
//  reply *reply_p holds its JSON body (caller owns, also on error codes).
//  Returns the daemon's code, or OSMOSE_ETIMEDOUT/EDAEMON.
int OSMOSE_CHECK
    osmose_client_call (osmose_t *self, const char *command, json_t *arguments,
                        json_t **reply_p);

//  Send COMMAND without waiting; its reply is kept for osmose_client_wait
//  under *sequence_p. ATTACHMENT (may be NULL) stays with the request and
//  comes back from the wait that ends it; FREE_FN frees it when the handle
//  is closed first. 0, OSMOSE_ENOMEM or OSMOSE_EDAEMON (ATTACHMENT stays
//  the caller's then).
typedef void (osmose_client_free_fn) (void **attachment_p);
int OSMOSE_CHECK
    osmose_client_send (osmose_t *self, const char *command, json_t *arguments,
                        void *attachment, osmose_client_free_fn *free_fn,
                        uint64_t *sequence_p);

//  Wait up to TIMEOUT_MS for the reply to SEQUENCE (from
//  osmose_client_send). Returns as osmose_client_call, except that
//  OSMOSE_ETIMEDOUT leaves the request pending; OSMOSE_ENOTFOUND for a
//  sequence that is not pending. Any other return ends the request and
//  hands its attachment back in *attachment_p.
int OSMOSE_CHECK
    osmose_client_wait (osmose_t *self, uint64_t sequence, int timeout_ms,
                        json_t **reply_p, void **attachment_p);

//  Where the lease library keeps its state for this handle (the session
//  key and the work connections kept for reuse); FREE_FN frees it when the
//  handle is closed.
void **
    osmose_client_leases (osmose_t *self, osmose_client_free_fn *free_fn);

//  Endpoint this handle is connected to.
const char *
    osmose_client_endpoint (osmose_t *self);

void
    osmose_client_test (bool verbose);

#endif
