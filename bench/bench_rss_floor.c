/*  bench_rss_floor.c: the memory floor of our dependencies, for bench_mesh.

    What any program pays to speak CurveZMQ through Debian's CZMQ and
    libsodium before it does anything of its own: sodium_init, one CURVE
    ROUTER bound on loopback, one CURVE DEALER connected to it and one
    round trip between them, then idle in a poller. bench_mesh reads its
    RSS beside the idle peers' in the same run, so the peers' figure can be
    read against what the libraries alone cost on this machine.

    Usage: bench_rss_floor SECONDS (exits after; 0 once the round trip is done)
*/
#include <czmq.h>
#include <sodium.h>

int
main (int argc, char *argv [])
{
    int seconds = argc > 1? atoi (argv [1]): 30;
    if (sodium_init () < 0 || seconds < 1)
        return 2;
    zcert_t *server_cert = zcert_new ();
    zcert_t *client_cert = zcert_new ();
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    zsock_t *client = zsock_new (ZMQ_DEALER);
    if (!server_cert || !client_cert || !server || !client)
        return 1;
    zcert_apply (server_cert, server);
    zsock_set_curve_server (server, 1);
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    zcert_apply (client_cert, client);
    zsock_set_curve_serverkey (client, zcert_public_txt (server_cert));
    if (port < 0 || zsock_connect (client, "tcp://127.0.0.1:%d", port) != 0)
        return 1;
    zsock_set_rcvtimeo (server, 5000);
    zsock_set_rcvtimeo (client, 5000);
    //  One round trip, so both ends hold a live CURVE session
    zstr_send (client, "ping");
    zmsg_t *ping = zmsg_recv (server);
    if (!ping)
        return 1;
    zmsg_send (&ping, server);
    char *pong = zstr_recv (client);
    if (!pong)
        return 1;
    zstr_free (&pong);
    zpoller_t *poller = zpoller_new (server, client, NULL);
    int64_t until = zclock_mono () + seconds * 1000;
    //  Until then, or until bench_mesh's TERM (CZMQ catches it: only the
    //  poller says so), lest it outlive the benchmark holding its output
    while (poller && zclock_mono () < until) {
        zpoller_wait (poller, (int) (until - zclock_mono ()));
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&client);
    zsock_destroy (&server);
    zcert_destroy (&client_cert);
    zcert_destroy (&server_cert);
    return 0;
}
