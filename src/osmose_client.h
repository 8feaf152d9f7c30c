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

//  Endpoint this handle is connected to.
const char *
    osmose_client_endpoint (osmose_t *self);

void
    osmose_client_test (bool verbose);

#endif
