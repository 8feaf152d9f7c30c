/*  osmose_transport.h: encrypted, authenticated peer links.

    One inbox per peer (a CurveZMQ ROUTER that admits only trusted keys,
    through osmose_zap) and one outgoing DEALER per peer we talk to. Links
    are two-way: a peer that reached our inbox is answered over its own
    link, so a reply opens no connection (what keeps the number of
    connections bounded in a big mesh). Every message is one osmose_msg
    frame. The sender of a received message is
    the peer id ZAP attached to the connection, never an id the payload
    claims. Outgoing links carry ZMTP heartbeats, so a dead peer shows up
    as a disconnect to feed the failure detector.
*/
#ifndef OSMOSE_TRANSPORT_H_INCLUDED
#define OSMOSE_TRANSPORT_H_INCLUDED

#include "osmose_identity.h"
#include "osmose_msg.h"
#include "osmose_poller.h"

typedef struct _osmose_transport_t osmose_transport_t;

//  Bind the inbox at ENDPOINT (tcp://host:port; port 0 or * picks one).
//  Frames above MAX_FRAME bytes are dropped and counted.
osmose_transport_t *
    osmose_transport_new (osmose_identity_t *identity, const char *endpoint,
                          size_t max_frame, char *error, size_t error_size);

void
    osmose_transport_destroy (osmose_transport_t **self_p);

//  The inbox to poll, and the endpoint it is bound to (resolved port).
zsock_t *
    osmose_transport_inbox (osmose_transport_t *self);
const char *
    osmose_transport_endpoint (osmose_transport_t *self);

//  Admit or stop admitting the Ed25519 KEY on the inbox. Z85: its CURVE
//  form when the caller has it (the trust store keeps it), else NULL and
//  it is derived here (an Ed25519 to Curve25519 conversion, ~60 us).
int OSMOSE_CHECK
    osmose_transport_allow (osmose_transport_t *self, const uint8_t *key, const char *z85);
void
    osmose_transport_deny (osmose_transport_t *self, const uint8_t *key);

//  Open a link to peer ID at ENDPOINT whose Ed25519 key is KEY (the link
//  authenticates the server with it; Z85 as for osmose_transport_allow).
//  Idempotent; a changed endpoint reconnects. 0, OSMOSE_EINVAL or
//  OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_transport_connect (osmose_transport_t *self, const char *id,
                              const char *endpoint, const uint8_t *key, const char *z85);

//  Close the link to ID (no-op when there is none).
void
    osmose_transport_disconnect (osmose_transport_t *self, const char *id);

//  True when a link to ID is open.
bool
    osmose_transport_linked (osmose_transport_t *self, const char *id);

//  True when ID can be sent to: over our link, or back over its link to
//  our inbox (learnt from what it sent; forgotten when a send finds the
//  link gone).
bool
    osmose_transport_reachable (osmose_transport_t *self, const char *id);

//  Poll the links' sockets on POLLER too (added and removed as links come
//  and go), where peers' answers arrive. NULL stops it (before the poller
//  is destroyed).
int OSMOSE_CHECK
    osmose_transport_poll_on (osmose_transport_t *self, osmose_poller_t *poller);

//  True when SOCKET (from osmose_poller_wait) is the inbox or one of the links.
bool
    osmose_transport_owns (osmose_transport_t *self, void *socket);

//  Number of open outgoing links.
size_t
    osmose_transport_links (osmose_transport_t *self);

//  Links whose connection dropped since the last call (the peer crashed,
//  or its heartbeats stopped): up to MAX ids written to IDS. Looks at
//  most every 20 ms (0 in between).
//  REFUSED (may be NULL) says, for each, whether connecting again was
//  refused as well: nothing listens at its endpoint any more.
size_t
    osmose_transport_dropped_links (osmose_transport_t *self,
                                    char (*ids) [OSMOSE_ID_SIZE + 1], bool *refused,
                                    size_t max);

//  Send a message of TYPE to ID over its link (else back over ID's link to
//  us), without blocking. Returns 0, OSMOSE_ENOTFOUND (no way to ID),
//  OSMOSE_EBUSY (queue full: dropped).
int OSMOSE_CHECK
    osmose_transport_send (osmose_transport_t *self, const char *id,
                           osmose_msg_type_t type, const void *body, size_t size);

//  Read one message from the inbox (call when it is readable). On 0,
//  FROM (OSMOSE_ID_SIZE + 1 bytes) names the sender and *frame_p holds the
//  whole frame (caller owns) with its body found by *body_p/*size_p.
//  Malformed frames return OSMOSE_EPROTO or OSMOSE_ETOOBIG and are counted.
int OSMOSE_CHECK
    osmose_transport_recv (osmose_transport_t *self, char *from,
                           osmose_msg_type_t *type_p, zframe_t **frame_p,
                           const uint8_t **body_p, size_t *size_p);

//  The same from SOCKET: the inbox or a link's socket (an answer coming
//  back over our link). OSMOSE_ENOTFOUND when SOCKET is neither.
int OSMOSE_CHECK
    osmose_transport_recv_on (osmose_transport_t *self, void *socket, char *from,
                              osmose_msg_type_t *type_p, zframe_t **frame_p,
                              const uint8_t **body_p, size_t *size_p);

//  Counters: messages sent, received, dropped as malformed, dropped on
//  send (queue full), and handshakes refused since the last call.
typedef struct {
    uint64_t sent, received, malformed, send_dropped, bytes_sent, bytes_received;
    uint64_t links_opened;                  //  connections we opened (CURVE handshakes)
    uint64_t bytes_sent_by_type [OSMOSE_MSG_TYPE_LIMIT];    //  where traffic goes
} osmose_transport_stats_t;
void
    osmose_transport_stats (osmose_transport_t *self, osmose_transport_stats_t *stats);
uint64_t
    osmose_transport_refusals (osmose_transport_t *self, char *last_z85);

void
    osmose_transport_test (bool verbose);

#endif
