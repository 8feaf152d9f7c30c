/*  osmose_mesh.h: this peer's place in the mesh.

    Glue between the membership engine (osmose_members), the transport
    (osmose_transport) and the trust store: it feeds received frames and
    time to the engine, sends what the engine asks over links it opens on
    demand (only to trusted keys), and keeps the number of open links
    bounded: the active view, plus a few short-lived links for probes,
    closed when idle. The peer actor owns one and polls its inbox.
*/
#ifndef OSMOSE_MESH_H_INCLUDED
#define OSMOSE_MESH_H_INCLUDED

#include <jansson.h>
#include "osmose_config.h"
#include "osmose_identity.h"
#include "osmose_trust.h"
#include "osmose_transport.h"
#include "osmose_members.h"
#include "osmose_resources.h"

typedef struct _osmose_mesh_t osmose_mesh_t;

//  A message of another type than MEMBERS arrived (gossip, market...).
typedef void (osmose_mesh_handler_fn) (void *arg, const char *from,
                                       const uint8_t *body, size_t size);

//  Join the mesh as IDENTITY, named NAME, at LOCATION, with the settings
//  of CONFIG (mesh/*). TRUST is borrowed and must outlive the mesh.
osmose_mesh_t *
    osmose_mesh_new (osmose_config_t *config, osmose_identity_t *identity,
                     osmose_trust_t *trust, const char *name, const char *location,
                     char *error, size_t error_size);

//  Leave gracefully (announce LEFT, flush), then close everything.
void
    osmose_mesh_destroy (osmose_mesh_t **self_p);

//  Route messages of TYPE to HANDLER.
void
    osmose_mesh_set_handler (osmose_mesh_t *self, osmose_msg_type_t type,
                             osmose_mesh_handler_fn *handler, void *arg);

//  Be told of member state changes (after the mesh's own logging); the
//  callback must not call into the mesh. NULL stops it.
typedef void (osmose_mesh_change_fn) (void *arg, const char *id, int old_state,
                                      int new_state);
void
    osmose_mesh_set_on_change (osmose_mesh_t *self, osmose_mesh_change_fn *fn, void *arg);

//  The membership engine, for reading the member table (members' adverts,
//  RTT, state): borrowed, valid while the mesh is.
typedef struct _osmose_members_t osmose_members_t;
osmose_members_t *
    osmose_mesh_members (osmose_mesh_t *self);

//  The inbox to poll; call osmose_mesh_handle when it is readable.
zsock_t *
    osmose_mesh_inbox (osmose_mesh_t *self);
void
    osmose_mesh_handle (osmose_mesh_t *self);

//  Poll our links' sockets on POLLER too: peers answer over the link we
//  opened to them instead of opening one back. NULL stops it (call that
//  before destroying the poller). After it,
//  osmose_mesh_handle_socket takes what osmose_poller_wait returned: true when
//  the socket was the mesh's (and one message was handled).
int OSMOSE_CHECK
    osmose_mesh_poll_on (osmose_mesh_t *self, osmose_poller_t *poller);
bool
    osmose_mesh_handle_socket (osmose_mesh_t *self, void *socket);

//  Milliseconds until osmose_mesh_tick wants to run (0: now).
int
    osmose_mesh_timeout (osmose_mesh_t *self);

//  Run due timers (probes, suspicion, link housekeeping) and send.
void
    osmose_mesh_tick (osmose_mesh_t *self);

//  Contact peer ID at ENDPOINT (a seed, or found by Avahi). Only trusted
//  ids are contacted: OSMOSE_EUNTRUSTED otherwise.
int OSMOSE_CHECK
    osmose_mesh_join (osmose_mesh_t *self, const char *id, const char *endpoint);

//  Send a message of TYPE to member ID over a link (opened if needed).
int OSMOSE_CHECK
    osmose_mesh_send (osmose_mesh_t *self, const char *id, osmose_msg_type_t type,
                      const void *body, size_t size);

//  Our fast figures now: they ride every membership message (the pulse),
//  so the members we talk to hear them without a new signed record.
int OSMOSE_CHECK
    osmose_mesh_set_load (osmose_mesh_t *self, const osmose_resources_load_t *load);

//  What MEMBER advertises (its signed advert, parsed, never trusted),
//  with the fast figures of its pulse when it told us one; and its work
//  endpoint into WORK when WORK is not NULL. 0, or OSMOSE_EPROTO when the
//  advert (or the endpoint asked for) is missing or malformed. An advert
//  changes only with its member's incarnation, so each is parsed once
//  per incarnation (an acquisition reads every member's).
int OSMOSE_CHECK
    osmose_mesh_member_resources (osmose_mesh_t *self, const osmose_member_t *member,
                                  osmose_resources_t *resources, char *work, size_t work_size);

//  Why MEMBER's advert says it lends nothing now: "battery", "load" or
//  "policy" (a reason we do not know); NULL when it lends, or its advert is
//  missing or malformed
const char *
    osmose_mesh_member_refusing (osmose_mesh_t *self, const osmose_member_t *member);

//  Replace what we advertise about ourselves (a JSON object, e.g. our
//  resources); disseminated with our membership record.
int OSMOSE_CHECK
    osmose_mesh_advertise (osmose_mesh_t *self, json_t *advert);

//  We moved to LOCATION (a checked path): tell the members. 0 or EINVAL.
int OSMOSE_CHECK
    osmose_mesh_set_location (osmose_mesh_t *self, const char *location);

//  The active view: ids of the members we keep links to (engine-owned
//  strings, valid until the next call into the mesh).
size_t
    osmose_mesh_view (osmose_mesh_t *self, const char **ids, size_t max);

//  The member table as JSON (the PEERS contract): caller owns.
json_t *
    osmose_mesh_peers_json (osmose_mesh_t *self);

//  Counts by state, and transport/engine figures, as a JSON object.
json_t *
    osmose_mesh_status_json (osmose_mesh_t *self);

//  The endpoint other peers reach us at.
const char *
    osmose_mesh_endpoint (osmose_mesh_t *self);

osmose_transport_t *
    osmose_mesh_transport (osmose_mesh_t *self);

void
    osmose_mesh_test (bool verbose);

#endif
