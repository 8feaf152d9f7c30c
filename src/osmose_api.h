/*  osmose_api.h: the daemon's face to local programs.

    Local clients (libosmose, the osmose CLI, osmose-top) talk to osmosed
    over one ROUTER socket, usually ipc://. A request is three frames,
    [command][sequence][JSON arguments]; the reply is [sequence][code][JSON].
    Modules of the daemon register handlers by command name, so the API
    grows with the daemon without a central switch.
*/
#ifndef OSMOSE_API_H_INCLUDED
#define OSMOSE_API_H_INCLUDED

#include <jansson.h>

typedef struct _osmose_api_t osmose_api_t;

//  A handler answers one request: it returns 0 and sets *reply (a new
//  reference) or returns a negative OSMOSE_E* code (*reply may then hold a
//  JSON object with details, e.g. {"error": "..."}).
typedef int (osmose_api_fn) (void *arg, json_t *request, json_t **reply);

//  A handler that cannot answer at once (a lease needs bidding among
//  peers) takes the request with osmose_api_defer and returns
//  OSMOSE_API_DEFERRED; it answers later with osmose_api_answer.
#define OSMOSE_API_DEFERRED 1
typedef struct _osmose_api_pending_t osmose_api_pending_t;

//  Bind the API at ENDPOINT (for ipc://, the directory is created).
//  Returns NULL with a reason in ERROR when the endpoint cannot be bound.
osmose_api_t *
    osmose_api_new (const char *endpoint, char *error, size_t error_size);

void
    osmose_api_destroy (osmose_api_t **self_p);

//  The socket to poll for requests.
zsock_t *
    osmose_api_socket (osmose_api_t *self);

//  Route COMMAND to HANDLER. Returns 0, OSMOSE_EEXIST or OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_api_register (osmose_api_t *self, const char *command,
                         osmose_api_fn *handler, void *arg);

//  Read one request from the socket and answer it. Malformed requests
//  are answered with OSMOSE_EPROTO and counted, never fatal.
void
    osmose_api_handle (osmose_api_t *self);

//  Inside a handler only: take the request being handled, to answer it
//  later (caller owns the result). NULL when out of memory.
osmose_api_pending_t *
    osmose_api_defer (osmose_api_t *self);

//  Answer a deferred request with CODE and BODY (borrowed; may be NULL)
//  and free it; accepts NULL, clears *pending_p. A client that went away
//  meanwhile is not an error.
void
    osmose_api_answer (osmose_api_t *self, osmose_api_pending_t **pending_p,
                       int code, json_t *body);

//  Free a deferred request without answering (daemon stopping).
void
    osmose_api_pending_destroy (osmose_api_pending_t **pending_p);

//  Requests answered, and malformed requests dropped, so far.
uint64_t
    osmose_api_requests (osmose_api_t *self);
uint64_t
    osmose_api_malformed (osmose_api_t *self);

void
    osmose_api_test (bool verbose);

#endif
