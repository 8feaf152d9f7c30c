/*  discovery_probe.c: run one osmose_discovery object and print its events,
    one line each, for the end-to-end tests (tests/e2e/discovery_*.sh).

    Usage: discovery_probe -n NAME -p PORT [-l LOCATION] [-m NEW_LOCATION]
                           [-t SECONDS] [-s SERVICE_TYPE]
    Lines: "ready id=ID", "STATUS up|down MESSAGE",
    "FOUND id=ID addr=ADDRESS port=PORT loc=LOCATION v=VERSION ep=HINT name=NAME",
    "LOST id=ID name=NAME", "INSTANCE NAME" when our published name changes,
    "bye" at exit. SIGUSR1 switches our location to NEW_LOCATION; SIGTERM or
    SIGINT withdraws the service and exits 0.
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_discovery.h"
#include <getopt.h>
#include <signal.h>

static volatile sig_atomic_t s_move;

static void
s_on_usr1 (int signum)
{
    (void) signum;
    s_move = 1;
}

static void
s_print_event (const osmose_discovery_event_t *event)
{
    if (event->kind == OSMOSE_DISCOVERY_STATUS)
        printf ("STATUS %s %s\n", event->up? "up": "down", event->message);
    else
    if (event->kind == OSMOSE_DISCOVERY_FOUND)
        printf ("FOUND id=%s addr=%s port=%u loc=%s v=%" PRIu32 " ep=%s name=%s\n",
                event->txt.id, event->address, event->port, event->txt.location,
                event->txt.version, event->txt.endpoint, event->instance);
    else
    if (event->kind == OSMOSE_DISCOVERY_LOST)
        printf ("LOST id=%s name=%s\n", event->txt.id, event->instance);
    fflush (stdout);
}

int
main (int argc, char *argv [])
{
    const char *name = NULL, *location = "", *new_location = NULL;
    const char *service = OSMOSE_DISCOVERY_SERVICE;
    int port = 0, seconds = 30, opt;
    while ((opt = getopt (argc, argv, "n:p:l:m:t:s:h")) != -1) {
        if (opt == 'n') name = optarg;
        else if (opt == 'p') port = atoi (optarg);
        else if (opt == 'l') location = optarg;
        else if (opt == 'm') new_location = optarg;
        else if (opt == 't') seconds = atoi (optarg);
        else if (opt == 's') service = optarg;
        else {
            fprintf (stderr, "Usage: discovery_probe -n NAME -p PORT [-l LOCATION]"
                             " [-m NEW_LOCATION] [-t SECONDS] [-s SERVICE]\n");
            return opt == 'h'? 0: 2;
        }
    }
    if (!name || port <= 0 || port > 65535 || seconds <= 0) {
        fprintf (stderr, "discovery_probe: -n NAME and -p PORT are required\n");
        return 2;
    }
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    signal (SIGUSR1, s_on_usr1);
    osmose_identity_t *identity = osmose_identity_new ();
    osmose_discovery_txt_t txt;
    char hint [64];
    snprintf (hint, sizeof (hint), "tcp://127.0.0.1:%d", port);
    int rc = osmose_discovery_txt_set (&txt, osmose_identity_public (identity),
                                       location, 1, hint);
    if (rc) {
        fprintf (stderr, "discovery_probe: bad TXT: %s\n", osmose_strerror (rc));
        return 2;
    }
    osmose_discovery_t *discovery = osmose_discovery_new (service, name,
                                                          (uint16_t) port, &txt);
    if (!discovery) {
        fprintf (stderr, "discovery_probe: cannot create discovery\n");
        return 1;
    }
    printf ("ready id=%s\n", osmose_identity_id (identity));
    fflush (stdout);
    char instance [OSMOSE_DISCOVERY_NAME_MAX + 1];
    snprintf (instance, sizeof (instance), "%s", name);
    zpoller_t *poller = zpoller_new (osmose_discovery_socket (discovery), NULL);
    int64_t deadline = zclock_mono () + seconds * 1000;
    while (!zsys_interrupted && zclock_mono () < deadline) {
        //  SIGUSR1 interrupts the wait too: only zsys_interrupted ends it
        void *which = zpoller_wait (poller, 100);
        osmose_discovery_event_t event;
        while (which && osmose_discovery_recv (discovery, &event) == 0)
            s_print_event (&event);
        if (s_move && new_location) {
            s_move = 0;
            rc = osmose_discovery_update_location (discovery, new_location);
            printf ("MOVED %s rc=%d\n", new_location, rc);
            fflush (stdout);
        }
        if (!streq (instance, osmose_discovery_instance (discovery))) {
            snprintf (instance, sizeof (instance), "%s", osmose_discovery_instance (discovery));
            printf ("INSTANCE %s\n", instance);
            fflush (stdout);
        }
    }
    zpoller_destroy (&poller);
    osmose_discovery_destroy (&discovery);
    osmose_identity_destroy (&identity);
    printf ("bye\n");
    return 0;
}
