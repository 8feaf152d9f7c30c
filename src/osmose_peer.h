/*  osmose_peer.h: one osmose peer, the heart of osmosed.

    The peer is a CZMQ actor: it owns the daemon's context (configuration,
    identity, local API, and the mesh modules as they are added) and runs
    one poller loop. osmosed is a thin main around it, so tests and the
    demo can run many peers in one process or in many.
*/
#ifndef OSMOSE_PEER_H_INCLUDED
#define OSMOSE_PEER_H_INCLUDED

#include "osmose_config.h"

typedef struct _osmose_peer_t osmose_peer_t;

//  Start a peer with CONFIG (the peer keeps its own copy of what it needs;
//  the caller still owns CONFIG and must keep it alive until destroy).
//  Returns NULL with the reason in ERROR when the peer cannot start.
osmose_peer_t *
    osmose_peer_new (osmose_config_t *config, char *error, size_t error_size);

//  Stop the peer (orderly: leaves the mesh, flushes the log) and free it.
void
    osmose_peer_destroy (osmose_peer_t **self_p);

//  The peer's id (16 hex characters).
const char *
    osmose_peer_id (osmose_peer_t *self);

void
    osmose_peer_test (bool verbose);

#endif
