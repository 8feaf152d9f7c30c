/*  osmose_zap.c: ZAP handler with per-domain allow lists (osmose_zap.h). */
#include "osmose_prelude.h"
#include "osmose_zap.h"
#include <pthread.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct {
    zhashx_t *allowed;          //  z85 -> peer id
    uint64_t refusals;
    char last_z85 [41];
    char last_address [64];
} s_domain_t;

struct _osmose_zap_t {
    zactor_t *actor;
    int references;
};

//  The process's handler; guarded by s_mutex. See the header for why.
static osmose_zap_t *s_zap = NULL;
static pthread_mutex_t s_mutex = PTHREAD_MUTEX_INITIALIZER;

static void
s_domain_destroy (s_domain_t **self_p)
{
    if (*self_p) {
        zhashx_destroy (&(*self_p)->allowed);
        free (*self_p);
        *self_p = NULL;
    }
}

static s_domain_t *
s_domain_require (zhashx_t *domains, const char *name)
{
    s_domain_t *domain = (s_domain_t *) zhashx_lookup (domains, name);
    if (!domain) {
        domain = (s_domain_t *) zmalloc (sizeof (s_domain_t));
        if (!domain || !(domain->allowed = zhashx_new ())) {
            free (domain);
            return NULL;
        }
        zhashx_set_destructor (domain->allowed, (zhashx_destructor_fn *) zstr_free);
        zhashx_set_duplicator (domain->allowed, (zhashx_duplicator_fn *) strdup);
        zhashx_insert (domains, name, domain);
    }
    return domain;
}

//  Answer one ZAP request (RFC 27): admit CURVE keys on the allow list
static void
s_handle_request (zsock_t *handler, zhashx_t *domains)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain_name = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    const char *status = "400", *text = "not trusted", *user = "";
    char z85 [41];
    if (mechanism && streq (mechanism, "CURVE") && key && zframe_size (key) == 32) {
        zmq_z85_encode (z85, zframe_data (key), 32);
        s_domain_t *domain = domain_name?
            (s_domain_t *) zhashx_lookup (domains, domain_name): NULL;
        const char *id = domain? (const char *) zhashx_lookup (domain->allowed, z85): NULL;
        if (id) {
            status = "200";
            text = "OK";
            user = id;
        }
        else
        if (domain && zhashx_lookup (domain->allowed, "*")) {
            //  An open domain (work endpoints): the key is admitted and
            //  named, and what it may do is for the socket's owner to say
            status = "200";
            text = "OK";
            user = z85;
        }
        else
        if (domain) {
            domain->refusals++;
            snprintf (domain->last_z85, sizeof (domain->last_z85), "%s", z85);
            snprintf (domain->last_address, sizeof (domain->last_address), "%s",
                      address? address: "?");
        }
    }
    //  Only ever REP to a request ZeroMQ itself made
    if (version && sequence)
        zstr_sendx (handler, "1.0", sequence, status, text, user, "", NULL);
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain_name);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&key);
    zmsg_destroy (&request);
}

//  Commands from the front end; ALLOW/DENY/DROP/REFUSED answer at once
static bool
s_handle_pipe (zsock_t *pipe, zhashx_t *domains)
{
    char *command = NULL, *domain_name = NULL, *z85 = NULL, *id = NULL;
    if (zstr_recvx (pipe, &command, &domain_name, &z85, &id, NULL) < 1)
        return false;
    bool running = !streq (command, "$TERM");
    if (streq (command, "ALLOW") && domain_name && z85 && id) {
        s_domain_t *domain = s_domain_require (domains, domain_name);
        if (domain)
            zhashx_update (domain->allowed, z85, id);
        zsock_signal (pipe, domain? 0: 1);
    }
    else
    if (streq (command, "DENY") && domain_name && z85) {
        s_domain_t *domain = (s_domain_t *) zhashx_lookup (domains, domain_name);
        if (domain)
            zhashx_delete (domain->allowed, z85);
        zsock_signal (pipe, 0);
    }
    else
    if (streq (command, "DROP") && domain_name) {
        zhashx_delete (domains, domain_name);
        zsock_signal (pipe, 0);
    }
    else
    if (streq (command, "REFUSED") && domain_name) {
        s_domain_t *domain = (s_domain_t *) zhashx_lookup (domains, domain_name);
        zstr_sendf (pipe, "%" PRIu64, domain? domain->refusals: 0);
        zstr_sendx (pipe, domain? domain->last_z85: "", domain? domain->last_address: "", NULL);
        if (domain)
            domain->refusals = 0;
    }
    zstr_free (&command);
    zstr_free (&domain_name);
    zstr_free (&z85);
    zstr_free (&id);
    return running;
}

static void
s_zap_actor (zsock_t *pipe, void *args)
{
    zsock_t *handler = zsock_new (ZMQ_REP);
    zhashx_t *domains = zhashx_new ();
    bool ready = handler && domains && zsock_bind (handler, S_ZAP_ENDPOINT) == 0;
    zsock_signal (pipe, ready? 0: 1);
    if (ready) {
        zhashx_set_destructor (domains, (zhashx_destructor_fn *) s_domain_destroy);
        zpoller_t *poller = zpoller_new (pipe, handler, NULL);
        //  Stop on $TERM only: after SIGTERM (zsys_interrupted) the peer
        //  still needs us while it shuts down (DROP), else it blocks forever
        if (poller)
            zpoller_set_nonstop (poller, true);
        bool running = poller != NULL;
        while (running) {
            void *which = zpoller_wait (poller, -1);
            if (which == handler)
                s_handle_request (handler, domains);
            else
            if (which == pipe)
                running = s_handle_pipe (pipe, domains);
            else
            if (zpoller_terminated (poller))
                break;
        }
        zpoller_destroy (&poller);
        zsock_unbind (handler, S_ZAP_ENDPOINT);
    }
    zhashx_destroy (&domains);
    zsock_destroy (&handler);
}

osmose_zap_t *
osmose_zap_acquire (void)
{
    pthread_mutex_lock (&s_mutex);
    if (!s_zap) {
        osmose_zap_t *zap = (osmose_zap_t *) zmalloc (sizeof (osmose_zap_t));
        if (zap) {
            zap->actor = zactor_new (s_zap_actor, NULL);
            //  The actor signalled 1 if it could not bind the endpoint
            if (!zap->actor) {
                free (zap);
                zap = NULL;
            }
        }
        s_zap = zap;
    }
    if (s_zap)
        s_zap->references++;
    osmose_zap_t *result = s_zap;
    pthread_mutex_unlock (&s_mutex);
    return result;
}

void
osmose_zap_release (osmose_zap_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    pthread_mutex_lock (&s_mutex);
    assert (*self_p == s_zap);
    if (--s_zap->references == 0) {
        zactor_destroy (&s_zap->actor);
        free (s_zap);
        s_zap = NULL;
    }
    pthread_mutex_unlock (&s_mutex);
    *self_p = NULL;
}

//  The actor is shared by threads: one command at a time
int
osmose_zap_allow (osmose_zap_t *self, const char *domain, const char *z85,
                  const char *id)
{
    assert (self && domain && z85 && id);
    pthread_mutex_lock (&s_mutex);
    zstr_sendx (self->actor, "ALLOW", domain, z85, id, NULL);
    int rc = zsock_wait (self->actor) == 0? 0: OSMOSE_ENOMEM;
    pthread_mutex_unlock (&s_mutex);
    return rc;
}

void
osmose_zap_deny (osmose_zap_t *self, const char *domain, const char *z85)
{
    assert (self && domain && z85);
    pthread_mutex_lock (&s_mutex);
    zstr_sendx (self->actor, "DENY", domain, z85, NULL);
    zsock_wait (self->actor);
    pthread_mutex_unlock (&s_mutex);
}

void
osmose_zap_drop (osmose_zap_t *self, const char *domain)
{
    assert (self && domain);
    pthread_mutex_lock (&s_mutex);
    zstr_sendx (self->actor, "DROP", domain, NULL);
    zsock_wait (self->actor);
    pthread_mutex_unlock (&s_mutex);
}

uint64_t
osmose_zap_refusals (osmose_zap_t *self, const char *domain,
                     char *last_z85, char *last_address)
{
    assert (self && domain);
    pthread_mutex_lock (&s_mutex);
    zstr_sendx (self->actor, "REFUSED", domain, NULL);
    char *count = zstr_recv (self->actor);
    char *z85 = NULL, *address = NULL;
    zstr_recvx (self->actor, &z85, &address, NULL);
    pthread_mutex_unlock (&s_mutex);
    uint64_t refusals = count? strtoull (count, NULL, 10): 0;
    if (last_z85)
        snprintf (last_z85, 41, "%s", z85? z85: "");
    if (last_address)
        snprintf (last_address, 64, "%s", address? address: "");
    zstr_free (&count);
    zstr_free (&z85);
    zstr_free (&address);
    return refusals;
}

void
osmose_zap_test (bool verbose)
{
    printf (" * osmose_zap: ");
    osmose_zap_t *zap = osmose_zap_acquire ();
    assert (zap);
    osmose_zap_t *again = osmose_zap_acquire ();
    assert (again == zap);
    osmose_zap_release (&again);
    assert (again == NULL);

    zcert_t *server = zcert_new ();
    zcert_t *good = zcert_new ();
    zcert_t *evil = zcert_new ();
    assert (osmose_zap_allow (zap, "test-domain", zcert_public_txt (good), "goodpeer") == 0);

    zsock_t *inbox = zsock_new (ZMQ_ROUTER);
    zsock_set_zap_domain (inbox, "test-domain");
    zsock_set_curve_server (inbox, 1);
    zcert_apply (server, inbox);
    int port = zsock_bind (inbox, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_set_rcvtimeo (inbox, 2000);

    //  The trusted client gets through, named by its id
    zsock_t *client = zsock_new (ZMQ_DEALER);
    zcert_apply (good, client);
    zsock_set_curve_serverkey (client, zcert_public_txt (server));
    assert (zsock_connect (client, "tcp://127.0.0.1:%d", port) == 0);
    zstr_send (client, "hello");
    zmsg_t *msg = zmsg_recv (inbox);
    assert (msg && zmsg_size (msg) == 2);
    zframe_t *frame = zmsg_last (msg);
    assert (zframe_streq (frame, "hello"));
    assert (streq (zframe_meta (frame, "User-Id"), "goodpeer"));
    zmsg_destroy (&msg);

    //  An unknown key never gets a message in, and the refusal is counted
    zsock_t *intruder = zsock_new (ZMQ_DEALER);
    zcert_apply (evil, intruder);
    zsock_set_curve_serverkey (intruder, zcert_public_txt (server));
    zsock_set_linger (intruder, 0);
    assert (zsock_connect (intruder, "tcp://127.0.0.1:%d", port) == 0);
    zstr_send (intruder, "let me in");
    zsock_set_rcvtimeo (inbox, 300);
    msg = zmsg_recv (inbox);
    assert (msg == NULL);
    char last_z85 [41];
    assert (osmose_zap_refusals (zap, "test-domain", last_z85, NULL) >= 1);
    assert (streq (last_z85, zcert_public_txt (evil)));
    assert (osmose_zap_refusals (zap, "test-domain", NULL, NULL) == 0);

    //  A denied key is refused from then on
    osmose_zap_deny (zap, "test-domain", zcert_public_txt (good));
    zsock_t *late = zsock_new (ZMQ_DEALER);
    zcert_apply (good, late);
    zsock_set_curve_serverkey (late, zcert_public_txt (server));
    zsock_set_linger (late, 0);
    assert (zsock_connect (late, "tcp://127.0.0.1:%d", port) == 0);
    zstr_send (late, "again");
    msg = zmsg_recv (inbox);
    assert (msg == NULL);

    zsock_destroy (&late);
    zsock_destroy (&intruder);
    zsock_destroy (&client);
    zsock_destroy (&inbox);
    zcert_destroy (&server);
    zcert_destroy (&good);
    zcert_destroy (&evil);
    osmose_zap_drop (zap, "test-domain");
    osmose_zap_release (&zap);
    printf ("OK\n");
}
