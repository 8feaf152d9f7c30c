/*  osmose_discovery.c: Avahi DNS-SD publish and browse (see header).

    Two threads meet here. The actor's thread calls the public functions;
    Avahi's threaded poll runs every Avahi call and callback. They share:
    - an inproc PAIR pipe: the Avahi thread sends fixed-size events, the
      actor receives. Both ends are made in _new, before the Avahi thread
      starts (thread creation is the memory barrier ZeroMQ asks for when a
      socket changes threads); after that only the Avahi thread touches the
      back end, until _destroy has joined it. Sends never block: when the
      actor falls behind, events are dropped and counted.
    - a wake-up pipe and a mutex-guarded pending location: the actor never
      takes Avahi's lock (a callback may be waiting on D-Bus), it leaves the
      new location and writes a byte; the Avahi thread republishes.
    Everything else belongs to the Avahi thread alone.

    Avahi's client goes to FAILURE when avahi-daemon or the bus goes away;
    we then free it and make a new one with AVAHI_CLIENT_NO_FAIL, which
    waits for the daemon to come back, and publish again. When even the
    bus is missing, client creation fails and a timer retries with backoff.
*/
#include "osmose_prelude.h"
#include "osmose_discovery.h"
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <fcntl.h>
#include <pthread.h>

#define S_RETRY_MIN_MS 500      //  first retry when the bus is missing
#define S_RETRY_MAX_MS 8000     //  backoff ceiling
#define S_ENTRIES_MAX 1024      //  services tracked at once (flood bound)
#define S_TXT_MAX 1024          //  our TXT record data, encoded
#define S_RESOLVE_RETRY_MS 3000 //  a failed resolution is tried again

//  One browse result: a service instance seen on one interface/protocol
typedef struct {
    osmose_discovery_t *owner;
    AvahiIfIndex ifindex;
    AvahiProtocol protocol;
    char name [OSMOSE_DISCOVERY_NAME_MAX + 1];
    char domain [64];
    AvahiServiceResolver *resolver;     //  kept: it reports TXT changes
    char id [OSMOSE_ID_SIZE + 1];       //  "" until resolved and valid
} s_entry_t;

struct _osmose_discovery_t {
    //  Set in _new, read-only afterwards
    char *service_type;
    uint16_t port;
    osmose_discovery_txt_t base;        //  TXT as given; location may change
    zsock_t *pipe;              //  actor's end of the event pipe
    zsock_t *backend;           //  Avahi thread's end
    int wake [2];               //  actor -> Avahi thread: location changed
    AvahiThreadedPoll *poll;
    const AvahiPoll *api;

    //  Shared, under mutex
    pthread_mutex_t mutex;
    char pending_location [OSMOSE_DISCOVERY_LOCATION_MAX + 1];
    bool location_changed;
    char instance [OSMOSE_DISCOVERY_NAME_MAX + 1];  //  published name
    uint64_t dropped;

    //  Avahi thread only
    AvahiWatch *wake_watch;
    AvahiTimeout *retry;
    int retry_ms;
    AvahiTimeout *resolve_retry;        //  armed while a resolution failed
    bool resolve_armed;
    AvahiClient *client;
    AvahiEntryGroup *group;
    AvahiServiceBrowser *browser;
    char *name;                 //  avahi_malloc'd: changes on collision
    osmose_discovery_txt_t txt;
    zhashx_t *entries;          //  "ifindex/protocol/name" -> s_entry_t
    int status;                 //  -1 not yet said, 0 down, 1 up
};

static void s_client_cb (AvahiClient *client, AvahiClientState state, void *arg);
static void s_retry_in (osmose_discovery_t *self, int msecs);

//  --------------------------------------------------------------------------
//  Events (Avahi thread)

static void
s_emit (osmose_discovery_t *self, const osmose_discovery_event_t *event)
{
    if (zmq_send (zsock_resolve (self->backend), event, sizeof (*event),
                  ZMQ_DONTWAIT) != (int) sizeof (*event)) {
        pthread_mutex_lock (&self->mutex);
        self->dropped++;
        pthread_mutex_unlock (&self->mutex);
    }
}

//  Say STATUS when it changes (and the first time, so "down" is visible)
static void
s_status (osmose_discovery_t *self, bool up, const char *message)
{
    if (self->status == (int) up)
        return;
    self->status = up;
    osmose_discovery_event_t event;
    memset (&event, 0, sizeof (event));
    event.kind = OSMOSE_DISCOVERY_STATUS;
    event.up = up;
    snprintf (event.message, sizeof (event.message), "%s", message);
    s_emit (self, &event);
}

//  --------------------------------------------------------------------------
//  Browse and resolve (Avahi thread)

static void
s_entry_destroy (s_entry_t **entry_p)
{
    if (*entry_p) {
        if ((*entry_p)->resolver)
            avahi_service_resolver_free ((*entry_p)->resolver);
        free (*entry_p);
        *entry_p = NULL;
    }
}

static void
s_entry_destructor (void **item)
{
    s_entry_destroy ((s_entry_t **) item);
}

//  Forget every entry before the client is freed: Avahi frees the
//  resolvers with the client, so we only drop our pointers.
static void
s_entries_forget (osmose_discovery_t *self)
{
    for (s_entry_t *entry = (s_entry_t *) zhashx_first (self->entries);
         entry; entry = (s_entry_t *) zhashx_next (self->entries))
        entry->resolver = NULL;
    zhashx_purge (self->entries);
}

//  Address text; IPv6 link-local addresses carry their %ifindex scope
static void
s_address_text (const AvahiAddress *address, AvahiIfIndex ifindex,
                char *text, size_t size)
{
    avahi_address_snprint (text, size, address);
    if (address->proto == AVAHI_PROTO_INET6
    &&  address->data.ipv6.address [0] == 0xfe
    &&  (address->data.ipv6.address [1] & 0xc0) == 0x80) {
        size_t used = strlen (text);
        snprintf (text + used, size - used, "%%%d", (int) ifindex);
    }
}

//  Busy daemons time out: resolve again later while the service is seen
static void
s_resolve_later (osmose_discovery_t *self)
{
    if (!self->resolve_armed) {
        struct timeval when;
        avahi_elapse_time (&when, S_RESOLVE_RETRY_MS, 0);
        self->api->timeout_update (self->resolve_retry, &when);
        self->resolve_armed = true;
    }
}

static void
s_resolve_cb (AvahiServiceResolver *resolver, AvahiIfIndex ifindex,
              AvahiProtocol protocol, AvahiResolverEvent what, const char *name,
              const char *type, const char *domain, const char *host_name,
              const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
              AvahiLookupResultFlags flags, void *arg)
{
    (void) protocol; (void) type; (void) domain; (void) host_name; (void) flags;
    s_entry_t *entry = (s_entry_t *) arg;
    osmose_discovery_t *self = entry->owner;
    if (what != AVAHI_RESOLVER_FOUND || !address) {
        zsys_debug ("discovery: cannot resolve '%s': %s", name,
                    avahi_strerror (avahi_client_errno (
                        avahi_service_resolver_get_client (resolver))));
        avahi_service_resolver_free (resolver);
        entry->resolver = NULL;
        s_resolve_later (self);
        return;
    }
    osmose_discovery_event_t event;
    memset (&event, 0, sizeof (event));
    uint8_t data [S_TXT_MAX];
    size_t size = avahi_string_list_serialize (txt, data, sizeof (data));
    int rc = size >= sizeof (data)? OSMOSE_ETOOBIG
           : osmose_discovery_txt_parse (data, size, &event.txt);
    if (rc) {
        //  Anyone may publish garbage; say so quietly, once per change
        zsys_debug ("discovery: ignoring '%s': bad TXT record (%s)",
                    name, osmose_strerror (rc));
        return;
    }
    if (streq (event.txt.id, self->txt.id))
        return;                 //  ourselves, under another name
    event.kind = OSMOSE_DISCOVERY_FOUND;
    snprintf (event.instance, sizeof (event.instance), "%s", name);
    s_address_text (address, ifindex, event.address, sizeof (event.address));
    event.port = port;
    event.ifindex = ifindex;
    snprintf (event.endpoint, sizeof (event.endpoint),
              address->proto == AVAHI_PROTO_INET6? "tcp://[%s]:%u": "tcp://%s:%u",
              event.address, port);
    memcpy (entry->id, event.txt.id, sizeof (entry->id));
    s_emit (self, &event);
}

//  Start resolving ENTRY: its address, port and TXT, now and on changes
static void
s_entry_resolve (s_entry_t *entry, AvahiClient *client)
{
    entry->resolver = avahi_service_resolver_new (
        client, entry->ifindex, entry->protocol, entry->name,
        entry->owner->service_type, entry->domain, AVAHI_PROTO_UNSPEC, 0,
        s_resolve_cb, entry);
    if (!entry->resolver) {
        zsys_debug ("discovery: cannot resolve '%s': %s", entry->name,
                    avahi_strerror (avahi_client_errno (client)));
        s_resolve_later (entry->owner);
    }
}

//  Timer: resolve again what failed to resolve
static void
s_resolve_retry_cb (AvahiTimeout *timeout, void *arg)
{
    osmose_discovery_t *self = (osmose_discovery_t *) arg;
    self->api->timeout_update (timeout, NULL);
    self->resolve_armed = false;
    AvahiClientState state = self->client? avahi_client_get_state (self->client)
                                          : AVAHI_CLIENT_FAILURE;
    if (state == AVAHI_CLIENT_FAILURE || state == AVAHI_CLIENT_CONNECTING)
        return;                 //  a new client browses everything again
    for (s_entry_t *entry = (s_entry_t *) zhashx_first (self->entries);
         entry; entry = (s_entry_t *) zhashx_next (self->entries))
        if (!entry->resolver)
            s_entry_resolve (entry, self->client);
}

//  LOST when the last sighting of an instance goes (one service is seen
//  once per interface and protocol)
static void
s_entry_removed (osmose_discovery_t *self, const char *key)
{
    s_entry_t *entry = (s_entry_t *) zhashx_lookup (self->entries, key);
    if (!entry)
        return;
    osmose_discovery_event_t event;
    memset (&event, 0, sizeof (event));
    event.kind = OSMOSE_DISCOVERY_LOST;
    snprintf (event.instance, sizeof (event.instance), "%s", entry->name);
    memcpy (event.txt.id, entry->id, sizeof (event.txt.id));
    zhashx_delete (self->entries, key);
    if (!*event.txt.id)
        return;                 //  never resolved: nobody heard of it
    for (s_entry_t *other = (s_entry_t *) zhashx_first (self->entries);
         other; other = (s_entry_t *) zhashx_next (self->entries))
        if (streq (other->name, event.instance))
            return;
    s_emit (self, &event);
}

static void
s_browse_cb (AvahiServiceBrowser *browser, AvahiIfIndex ifindex,
             AvahiProtocol protocol, AvahiBrowserEvent what, const char *name,
             const char *type, const char *domain, AvahiLookupResultFlags flags,
             void *arg)
{
    (void) flags;
    osmose_discovery_t *self = (osmose_discovery_t *) arg;
    char key [OSMOSE_DISCOVERY_NAME_MAX + 32];
    if (name)
        snprintf (key, sizeof (key), "%d/%d/%s", (int) ifindex, (int) protocol, name);
    if (what == AVAHI_BROWSER_NEW) {
        //  Our own service is resolved too and dropped by its id: a peer
        //  may hold the name we had before a collision renamed us
        if (zhashx_lookup (self->entries, key))
            return;
        if (zhashx_size (self->entries) >= S_ENTRIES_MAX
        ||  strlen (name) > OSMOSE_DISCOVERY_NAME_MAX) {
            zsys_debug ("discovery: ignoring service '%s'", name);
            return;
        }
        s_entry_t *entry = (s_entry_t *) zmalloc (sizeof (s_entry_t));
        if (!entry)
            return;
        entry->owner = self;
        entry->ifindex = ifindex;
        entry->protocol = protocol;
        strcpy (entry->name, name);
        snprintf (entry->domain, sizeof (entry->domain), "%s", domain);
        (void) type;
        s_entry_resolve (entry, avahi_service_browser_get_client (browser));
        zhashx_insert (self->entries, key, entry);
    }
    else
    if (what == AVAHI_BROWSER_REMOVE)
        s_entry_removed (self, key);
    else
    if (what == AVAHI_BROWSER_FAILURE) {
        zsys_warning ("discovery: browsing %s failed: %s", self->service_type,
                      avahi_strerror (avahi_client_errno (
                          avahi_service_browser_get_client (browser))));
        s_retry_in (self, S_RETRY_MAX_MS);      //  start over with a new client
    }
}

//  --------------------------------------------------------------------------
//  Publish (Avahi thread)

static AvahiStringList *
s_txt_list (osmose_discovery_t *self)
{
    uint8_t data [S_TXT_MAX];
    int size = osmose_discovery_txt_encode (&self->txt, data, sizeof (data));
    AvahiStringList *list = NULL;
    if (size < 0 || avahi_string_list_parse (data, (size_t) size, &list) < 0)
        return NULL;
    return list;
}

static void
s_rename (osmose_discovery_t *self)
{
    char *name = avahi_alternative_service_name (self->name);
    if (!name)
        return;
    zsys_info ("discovery: service name '%s' is taken, now '%s'", self->name, name);
    avahi_free (self->name);
    self->name = name;
    pthread_mutex_lock (&self->mutex);
    snprintf (self->instance, sizeof (self->instance), "%s", name);
    pthread_mutex_unlock (&self->mutex);
}

static void s_group_cb (AvahiEntryGroup *group, AvahiEntryGroupState state, void *arg);

//  Add our service to the (empty) entry group and commit it; a local name
//  collision picks the next alternative name.
static void
s_publish (osmose_discovery_t *self, AvahiClient *client)
{
    if (!self->group)
        self->group = avahi_entry_group_new (client, s_group_cb, self);
    if (!self->group) {
        zsys_warning ("discovery: cannot create entry group: %s",
                      avahi_strerror (avahi_client_errno (client)));
        s_retry_in (self, S_RETRY_MAX_MS);      //  start over with a new client
        return;
    }
    if (!avahi_entry_group_is_empty (self->group))
        return;
    AvahiStringList *list = s_txt_list (self);
    int rc = AVAHI_ERR_COLLISION;
    for (int attempt = 0; attempt < 16 && rc == AVAHI_ERR_COLLISION; attempt++) {
        rc = avahi_entry_group_add_service_strlst (
            self->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, self->name,
            self->service_type, NULL, NULL, self->port, list);
        if (rc == AVAHI_ERR_COLLISION)
            s_rename (self);
    }
    avahi_string_list_free (list);
    if (rc == 0)
        rc = avahi_entry_group_commit (self->group);
    if (rc < 0) {
        zsys_warning ("discovery: cannot publish '%s': %s", self->name,
                      avahi_strerror (rc));
        s_retry_in (self, S_RETRY_MAX_MS);      //  start over with a new client
    }
}

static void
s_group_cb (AvahiEntryGroup *group, AvahiEntryGroupState state, void *arg)
{
    osmose_discovery_t *self = (osmose_discovery_t *) arg;
    if (state == AVAHI_ENTRY_GROUP_ESTABLISHED)
        zsys_debug ("discovery: published '%s'", self->name);
    else
    if (state == AVAHI_ENTRY_GROUP_COLLISION) {
        //  Another host has our name: take the next one and publish again
        s_rename (self);
        avahi_entry_group_reset (group);
        self->group = group;
        s_publish (self, avahi_entry_group_get_client (group));
    }
    else
    if (state == AVAHI_ENTRY_GROUP_FAILURE) {
        zsys_warning ("discovery: publishing '%s' failed: %s", self->name,
                      avahi_strerror (avahi_client_errno (
                          avahi_entry_group_get_client (group))));
        s_retry_in (self, S_RETRY_MAX_MS);      //  start over with a new client
    }
}

//  The actor left a new location: put it in our TXT record
static void
s_wake_cb (AvahiWatch *watch, int fd, AvahiWatchEvent events, void *arg)
{
    (void) watch; (void) events;
    osmose_discovery_t *self = (osmose_discovery_t *) arg;
    char drain [64];
    while (read (fd, drain, sizeof (drain)) > 0)
        ;
    pthread_mutex_lock (&self->mutex);
    bool changed = self->location_changed;
    if (changed)
        memcpy (self->txt.location, self->pending_location, sizeof (self->txt.location));
    self->location_changed = false;
    pthread_mutex_unlock (&self->mutex);
    if (!changed || !self->group || avahi_entry_group_is_empty (self->group))
        return;                 //  published with the new TXT when it is
    AvahiStringList *list = s_txt_list (self);
    int rc = avahi_entry_group_update_service_txt_strlst (
        self->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, self->name,
        self->service_type, NULL, list);
    avahi_string_list_free (list);
    if (rc < 0)
        zsys_warning ("discovery: cannot update TXT of '%s': %s", self->name,
                      avahi_strerror (rc));
}

//  --------------------------------------------------------------------------
//  Client life cycle (Avahi thread)

//  Free the client and everything it owned (Avahi frees groups, browsers
//  and resolvers with it)
static void
s_client_drop (osmose_discovery_t *self)
{
    s_entries_forget (self);
    self->group = NULL;
    self->browser = NULL;
    if (self->client) {
        avahi_client_free (self->client);
        self->client = NULL;
    }
}

static void
s_retry_in (osmose_discovery_t *self, int msecs)
{
    struct timeval when;
    avahi_elapse_time (&when, (unsigned) msecs, 0);
    self->api->timeout_update (self->retry, &when);
}

//  Timer: (re)create the client
static void
s_connect_cb (AvahiTimeout *timeout, void *arg)
{
    (void) timeout;
    osmose_discovery_t *self = (osmose_discovery_t *) arg;
    self->api->timeout_update (self->retry, NULL);
    s_client_drop (self);
    int error = 0;
    self->client = avahi_client_new (self->api, AVAHI_CLIENT_NO_FAIL,
                                     s_client_cb, self, &error);
    if (self->client)
        return;
    //  No system bus at all: try again later, more slowly each time
    char message [OSMOSE_DISCOVERY_MESSAGE_MAX];
    snprintf (message, sizeof (message), "cannot reach avahi-daemon: %s",
              avahi_strerror (error));
    s_status (self, false, message);
    s_retry_in (self, self->retry_ms);
    self->retry_ms = self->retry_ms * 2 > S_RETRY_MAX_MS? S_RETRY_MAX_MS: self->retry_ms * 2;
}

static void
s_client_cb (AvahiClient *client, AvahiClientState state, void *arg)
{
    osmose_discovery_t *self = (osmose_discovery_t *) arg;
    //  Runs inside avahi_client_new too, before self->client is set: use CLIENT
    if (state == AVAHI_CLIENT_FAILURE) {
        int error = avahi_client_errno (client);
        char message [OSMOSE_DISCOVERY_MESSAGE_MAX];
        snprintf (message, sizeof (message), "avahi client failed: %s",
                  avahi_strerror (error));
        s_status (self, false, message);
        //  Never free the client inside its own callback: the timer does
        s_retry_in (self, error == AVAHI_ERR_DISCONNECTED? 0: self->retry_ms);
        return;
    }
    if (state == AVAHI_CLIENT_CONNECTING) {
        s_status (self, false, "waiting for avahi-daemon");
        return;
    }
    self->retry_ms = S_RETRY_MIN_MS;
    s_status (self, true, "connected to avahi-daemon");
    if (!self->browser) {
        self->browser = avahi_service_browser_new (
            client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, self->service_type,
            NULL, 0, s_browse_cb, self);
        if (!self->browser)
            zsys_warning ("discovery: cannot browse %s: %s", self->service_type,
                          avahi_strerror (avahi_client_errno (client)));
    }
    if (state == AVAHI_CLIENT_S_RUNNING)
        s_publish (self, client);
    else
    if (self->group)
        //  Host name collision or re-registering: publish again when running
        avahi_entry_group_reset (self->group);
}

//  --------------------------------------------------------------------------
//  Public interface (actor thread)

osmose_discovery_t *
osmose_discovery_new (const char *service_type, const char *instance_name,
                      uint16_t port, const osmose_discovery_txt_t *txt)
{
    if (!service_type)
        service_type = OSMOSE_DISCOVERY_SERVICE;
    uint8_t data [S_TXT_MAX];
    if (!instance_name || !*instance_name
    ||  strlen (instance_name) > OSMOSE_DISCOVERY_NAME_MAX
    ||  !avahi_is_valid_service_name (instance_name)
    ||  !avahi_is_valid_service_type_strict (service_type)
    ||  port == 0 || !txt
    ||  osmose_discovery_txt_encode (txt, data, sizeof (data)) < 0)
        return NULL;

    osmose_discovery_t *self = (osmose_discovery_t *) zmalloc (sizeof (osmose_discovery_t));
    if (!self)
        return NULL;
    self->wake [0] = self->wake [1] = -1;
    self->status = -1;
    self->retry_ms = S_RETRY_MIN_MS;
    self->port = port;
    self->txt = *txt;
    self->base = *txt;
    pthread_mutex_init (&self->mutex, NULL);
    snprintf (self->instance, sizeof (self->instance), "%s", instance_name);
    self->service_type = strdup (service_type);
    self->name = avahi_strdup (instance_name);
    self->entries = zhashx_new ();
    if (self->entries)
        zhashx_set_destructor (self->entries, s_entry_destructor);
    self->pipe = zsys_create_pipe (&self->backend);
    self->poll = avahi_threaded_poll_new ();
    if (!self->service_type || !self->name || !self->entries || !self->pipe
    ||  !self->poll || pipe2 (self->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        osmose_discovery_destroy (&self);
        return NULL;
    }
    //  Set up the poll before its thread runs, so no lock is needed
    self->api = avahi_threaded_poll_get (self->poll);
    self->wake_watch = self->api->watch_new (self->api, self->wake [0],
                                             AVAHI_WATCH_IN, s_wake_cb, self);
    struct timeval now;
    avahi_elapse_time (&now, 0, 0);
    self->retry = self->api->timeout_new (self->api, &now, s_connect_cb, self);
    self->resolve_retry = self->api->timeout_new (self->api, NULL,
                                                  s_resolve_retry_cb, self);
    if (!self->wake_watch || !self->retry || !self->resolve_retry
    ||  avahi_threaded_poll_start (self->poll) < 0) {
        osmose_discovery_destroy (&self);
        return NULL;
    }
    return self;
}

void
osmose_discovery_destroy (osmose_discovery_t **self_p)
{
    assert (self_p);
    osmose_discovery_t *self = *self_p;
    if (!self)
        return;
    if (self->poll) {
        //  Join the Avahi thread; from here on this thread owns everything.
        //  Freeing the client frees the entry group, which withdraws our
        //  service (a D-Bus round trip) so others see it go at once.
        avahi_threaded_poll_stop (self->poll);
        if (self->entries)
            s_entries_forget (self);
        if (self->client)
            avahi_client_free (self->client);
        avahi_threaded_poll_free (self->poll);  //  frees watch and timer
    }
    zhashx_destroy (&self->entries);
    zsock_destroy (&self->backend);
    zsock_destroy (&self->pipe);
    if (self->wake [0] >= 0)
        close (self->wake [0]);
    if (self->wake [1] >= 0)
        close (self->wake [1]);
    avahi_free (self->name);
    free (self->service_type);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

zsock_t *
osmose_discovery_socket (osmose_discovery_t *self)
{
    assert (self);
    return self->pipe;
}

int
osmose_discovery_recv (osmose_discovery_t *self, osmose_discovery_event_t *event)
{
    assert (self);
    assert (event);
    int size = zmq_recv (zsock_resolve (self->pipe), event, sizeof (*event),
                         ZMQ_DONTWAIT);
    if (size == (int) sizeof (*event))
        return 0;
    memset (event, 0, sizeof (*event));
    return size < 0 && errno == EAGAIN? OSMOSE_ETIMEDOUT
         : size < 0? osmose_errno_code (errno): OSMOSE_EPROTO;
}

int
osmose_discovery_update_location (osmose_discovery_t *self, const char *location)
{
    assert (self);
    osmose_discovery_txt_t check = self->base;
    if (!location)
        return OSMOSE_EINVAL;
    if (strlen (location) > OSMOSE_DISCOVERY_LOCATION_MAX)
        return OSMOSE_ETOOBIG;
    strcpy (check.location, location);
    uint8_t data [S_TXT_MAX];
    if (osmose_discovery_txt_encode (&check, data, sizeof (data)) < 0)
        return OSMOSE_EINVAL;
    pthread_mutex_lock (&self->mutex);
    strcpy (self->pending_location, location);
    self->location_changed = true;
    pthread_mutex_unlock (&self->mutex);
    //  A full pipe already holds a wake-up: EAGAIN is fine
    if (write (self->wake [1], "L", 1) < 0 && errno != EAGAIN)
        return osmose_errno_code (errno);
    return 0;
}

const char *
osmose_discovery_instance (osmose_discovery_t *self)
{
    assert (self);
    static __thread char instance [OSMOSE_DISCOVERY_NAME_MAX + 1];
    pthread_mutex_lock (&self->mutex);
    memcpy (instance, self->instance, sizeof (instance));
    pthread_mutex_unlock (&self->mutex);
    return instance;
}

uint64_t
osmose_discovery_dropped (osmose_discovery_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    uint64_t dropped = self->dropped;
    pthread_mutex_unlock (&self->mutex);
    return dropped;
}

//  --------------------------------------------------------------------------
//  Self-test: the TXT codec on good and hostile records and the seeds list
//  (in osmose_discovery_txt.c), address text, and the object's life without
//  any avahi-daemon. Discovery between live daemons is tested end to end by
//  tests/e2e/discovery_*.sh.

static void
s_test_address (void)
{
    AvahiAddress address;
    char text [OSMOSE_DISCOVERY_ADDRESS_MAX];
    assert (avahi_address_parse ("fe80::1", AVAHI_PROTO_UNSPEC, &address));
    s_address_text (&address, 3, text, sizeof (text));
    assert (streq (text, "fe80::1%3"));
    assert (avahi_address_parse ("2001:db8::1", AVAHI_PROTO_UNSPEC, &address));
    s_address_text (&address, 3, text, sizeof (text));
    assert (streq (text, "2001:db8::1"));
    assert (avahi_address_parse ("192.0.2.1", AVAHI_PROTO_UNSPEC, &address));
    s_address_text (&address, 3, text, sizeof (text));
    assert (streq (text, "192.0.2.1"));
}

//  No avahi-daemon (nor bus): STATUS down, no crash, verbs still work
static void
s_test_no_daemon (osmose_identity_t *identity)
{
    //  Point libdbus at a bus that cannot exist, so this test never talks to
    //  a real avahi-daemon of the machine it runs on
    char *saved = getenv ("DBUS_SYSTEM_BUS_ADDRESS");
    saved = saved? strdup (saved): NULL;
    setenv ("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/osmose-selftest-bus", 1);

    osmose_discovery_txt_t txt;
    assert (osmose_discovery_txt_set (&txt, osmose_identity_public (identity),
                                      "lab", 1, NULL) == 0);
    assert (!osmose_discovery_new (NULL, "", 7470, &txt));
    assert (!osmose_discovery_new (NULL, "x", 0, &txt));
    assert (!osmose_discovery_new ("not a type", "x", 7470, &txt));
    osmose_discovery_txt_t forged = txt;
    forged.id [0] = forged.id [0] == '0'? '1': '0';
    assert (!osmose_discovery_new (NULL, "x", 7470, &forged));

    osmose_discovery_t *discovery = osmose_discovery_new (NULL, "selftest", 7470, &txt);
    assert (discovery);
    assert (streq (osmose_discovery_instance (discovery), "selftest"));
    zpoller_t *poller = zpoller_new (osmose_discovery_socket (discovery), NULL);
    assert (zpoller_wait (poller, 5000) == osmose_discovery_socket (discovery));
    osmose_discovery_event_t event;
    assert (osmose_discovery_recv (discovery, &event) == 0);
    assert (event.kind == OSMOSE_DISCOVERY_STATUS && !event.up);
    assert (*event.message);
    assert (osmose_discovery_update_location (discovery, "lab/bench2") == 0);
    assert (osmose_discovery_update_location (discovery, "lab//x") == OSMOSE_EINVAL);
    assert (osmose_discovery_update_location (discovery, NULL) == OSMOSE_EINVAL);
    //  Retries go on in the background (two at least) and say nothing new
    assert (zpoller_wait (poller, 1600) == NULL);
    assert (osmose_discovery_recv (discovery, &event) == OSMOSE_ETIMEDOUT);
    assert (osmose_discovery_dropped (discovery) == 0);
    zpoller_destroy (&poller);
    osmose_discovery_destroy (&discovery);
    assert (discovery == NULL);
    osmose_discovery_destroy (&discovery);

    if (saved) {
        setenv ("DBUS_SYSTEM_BUS_ADDRESS", saved, 1);
        free (saved);
    }
    else
        unsetenv ("DBUS_SYSTEM_BUS_ADDRESS");
}

void
osmose_discovery_test (bool verbose)
{
    printf (" * osmose_discovery: ");
    if (verbose)
        printf ("\n");
    osmose_identity_t *identity = osmose_identity_new ();
    assert (identity);
    osmose_discovery_txt_test (identity, verbose);
    s_test_address ();
    s_test_no_daemon (identity);
    osmose_identity_destroy (&identity);
    printf ("OK\n");
}
