/*  osmose_discovery.h: finding peers with Avahi (mDNS / DNS-SD).

    The peer's actor owns one discovery object. It publishes this peer as a
    DNS-SD service (type "_osmose._tcp") whose TXT record carries the peer
    id, its public key, its location and the protocol version, and it
    browses for the other peers of that type. What it finds arrives as
    events on a socket the actor polls; the actor contacts, authenticates
    and admits the peer (TXT is only a hint: anyone on the link can publish
    anything, so nothing here is trusted until CurveZMQ says so).

    Avahi runs in its own thread (avahi_threaded_poll); its callbacks turn
    into osmose_discovery_event_t messages sent over an inproc pipe. No call
    of this class blocks on Avahi or D-Bus, except destroy, which withdraws
    the service. When avahi-daemon (or the system bus) is missing or
    restarts, the object reports STATUS down, keeps retrying, and publishes
    and browses again when the daemon is back.

    Thread safety: one object is used by one thread (the actor's).

    In the actor:
        osmose_discovery_txt_t txt;
        if (osmose_discovery_txt_set (&txt, osmose_identity_public (identity),
                                      location, PROTOCOL_VERSION, hint_or_NULL) == 0)
            discovery = osmose_discovery_new (service, name, port, &txt);
        zpoller_add (poller, osmose_discovery_socket (discovery));
        ...
        if (which == osmose_discovery_socket (discovery)) {
            osmose_discovery_event_t event;
            while (osmose_discovery_recv (discovery, &event) == 0)
                ...FOUND: connect to event.endpoint expecting event.txt.key
                   (osmose_identity_curve_z85 gives the CurveZMQ server key)
        }
*/
#ifndef OSMOSE_DISCOVERY_H_INCLUDED
#define OSMOSE_DISCOVERY_H_INCLUDED

#include "osmose_identity.h"

#define OSMOSE_DISCOVERY_SERVICE "_osmose._tcp"
#define OSMOSE_DISCOVERY_NAME_MAX 63        //  DNS label: instance name bytes
#define OSMOSE_DISCOVERY_LOCATION_MAX 128   //  TXT "loc" bytes
#define OSMOSE_DISCOVERY_ENDPOINT_MAX 128   //  TXT "ep" bytes
#define OSMOSE_DISCOVERY_ADDRESS_MAX 64     //  address text, with %scope
#define OSMOSE_DISCOVERY_MESSAGE_MAX 96     //  STATUS reason

//  What a peer says about itself in its TXT record. Keys on the wire:
//  txtvers=1, id=<16 hex>, key=<64 hex Ed25519 public key>, loc=<location>,
//  v=<protocol version>, and optionally ep=<tcp:// endpoint hint>.
typedef struct {
    char id [OSMOSE_ID_SIZE + 1];       //  peer id, hex
    uint8_t key [OSMOSE_KEY_SIZE];      //  Ed25519 public key; id derives from it
    char location [OSMOSE_DISCOVERY_LOCATION_MAX + 1];  //  may be ""
    uint32_t version;                   //  protocol version, 1..65535
    char endpoint [OSMOSE_DISCOVERY_ENDPOINT_MAX + 1];  //  hint, may be ""
} osmose_discovery_txt_t;

typedef enum {
    OSMOSE_DISCOVERY_FOUND = 1,     //  a peer's service resolved (again)
    OSMOSE_DISCOVERY_LOST,          //  a peer withdrew its service
    OSMOSE_DISCOVERY_STATUS         //  Avahi came up or went down
} osmose_discovery_kind_t;

typedef struct {
    osmose_discovery_kind_t kind;
    //  FOUND: all fields below but up/message. LOST: id (in txt), instance.
    char instance [OSMOSE_DISCOVERY_NAME_MAX + 1];  //  service instance name
    osmose_discovery_txt_t txt;         //  validated: id matches key
    char address [OSMOSE_DISCOVERY_ADDRESS_MAX];    //  "192.0.2.7", "fe80::1%2"
    uint16_t port;
    int ifindex;                        //  interface it was seen on
    char endpoint [OSMOSE_DISCOVERY_ADDRESS_MAX + 16];  //  tcp://address:port
    //  STATUS: whether we are connected to avahi-daemon, and why not
    bool up;
    char message [OSMOSE_DISCOVERY_MESSAGE_MAX];
} osmose_discovery_event_t;

typedef struct _osmose_discovery_t osmose_discovery_t;

//  Publish INSTANCE_NAME (1..63 bytes of UTF-8, e.g. the node name) of
//  SERVICE_TYPE (NULL: "_osmose._tcp") on PORT with the TXT record TXT, and
//  browse for the others. TXT is copied; its id must match its key. Returns
//  NULL when an argument is invalid or on out of memory, never because
//  Avahi is missing (that is a STATUS down event and a retry). Caller owns.
osmose_discovery_t *
    osmose_discovery_new (const char *service_type, const char *instance_name,
                          uint16_t port, const osmose_discovery_txt_t *txt);

//  Withdraw the service, stop the Avahi thread and free; accepts NULL and
//  clears *self_p. May wait for a D-Bus round trip to avahi-daemon.
void
    osmose_discovery_destroy (osmose_discovery_t **self_p);

//  The socket to poll for events (readable when osmose_discovery_recv has
//  one). Owned by the object.
zsock_t *
    osmose_discovery_socket (osmose_discovery_t *self);

//  Take the next event into *event without waiting. Returns 0, or
//  OSMOSE_ETIMEDOUT when none is queued. FOUND may repeat for a peer (a new
//  address, another interface, a TXT change, or Avahi came back): treat it
//  as an update. LOST is a hint, not a failure verdict: a crash sends none,
//  and none are sent for peers known when Avahi goes down.
int OSMOSE_CHECK
    osmose_discovery_recv (osmose_discovery_t *self, osmose_discovery_event_t *event);

//  Change the location in our TXT record (a validated location path, may be
//  ""), re-published at once when Avahi is up, else when it comes back.
int OSMOSE_CHECK
    osmose_discovery_update_location (osmose_discovery_t *self, const char *location);

//  The instance name now published; it differs from the one asked for
//  after a name collision ("name #2"). Valid until the next call.
const char *
    osmose_discovery_instance (osmose_discovery_t *self);

//  Events dropped because the actor did not read them fast enough.
uint64_t
    osmose_discovery_dropped (osmose_discovery_t *self);

//  Encode TXT as DNS TXT record data (length-prefixed strings) into BUFFER;
//  returns the size used, or OSMOSE_EINVAL / OSMOSE_ETOOBIG.
int OSMOSE_CHECK
    osmose_discovery_txt_encode (const osmose_discovery_txt_t *txt,
                                 uint8_t *buffer, size_t size);

//  Parse and validate TXT record data from the network (untrusted) into
//  *txt. Returns 0, OSMOSE_EPROTO (malformed, missing or bad field),
//  OSMOSE_ETOOBIG (field over its bound) or OSMOSE_EVERIFY (id does not
//  derive from key). Unknown keys are ignored; for a repeated key the first
//  wins (RFC 6763 section 6.4).
int OSMOSE_CHECK
    osmose_discovery_txt_parse (const uint8_t *data, size_t size,
                                osmose_discovery_txt_t *txt);

//  Fill *txt from an identity, a location and a protocol version (ENDPOINT
//  may be NULL). Returns 0 or OSMOSE_EINVAL / OSMOSE_ETOOBIG.
int OSMOSE_CHECK
    osmose_discovery_txt_set (osmose_discovery_txt_t *txt, const uint8_t *public_key,
                              const char *location, uint32_t version,
                              const char *endpoint);

//  Parse a space-separated list of endpoints (the mesh/seeds setting) into
//  a new list of strings (caller owns; zlist autofree). Empty words are
//  skipped; words that are not tcp://host:port are OSMOSE_EINVAL.
int OSMOSE_CHECK
    osmose_discovery_seeds (const char *value, zlist_t **seeds_p);

void
    osmose_discovery_test (bool verbose);

//  The TXT codec's share of the self-test, with IDENTITY as the publisher.
void
    osmose_discovery_txt_test (osmose_identity_t *identity, bool verbose);

#endif
