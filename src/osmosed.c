/*  osmosed.c: the osmose peer daemon, a thin main around osmose_peer.

    Reads the configuration, starts one peer actor and waits for SIGTERM or
    SIGINT, then stops the peer in order. Exit codes: 0 on a clean stop,
    1 when the peer fails at run time, 2 for usage or configuration errors.
*/
#include "osmose_prelude.h"
#include "osmose_config.h"
#include "osmose_identity.h"
#include "osmose_peer.h"
#include <getopt.h>
#include <pthread.h>
#include <signal.h>

#define S_DEFAULT_CONFIG SYSCONFDIR "/osmose/osmose.conf"

#if defined (OSMOSE_WITH_JEMALLOC)
//  jemalloc reads this before the first allocation (MALLOC_CONF in the
//  environment still overrides it). The daemon is one actor thread and
//  libzmq's: one arena serves them, and per-thread caches hold memory an
//  idle peer does not need. Freed pages are not given back as they are
//  freed (each time a page fault to reuse them, and a TLB shootdown on
//  every core: a log burst's large messages stalled the whole machine)
//  nor after jemalloc's 10 s: the actor purges them every 250 ms
//  (osmose_alloc_purge). An idle peer of 32 keeps about 3.4 MB of private
//  memory instead of 5.8 MB (bench/bench_mesh.sh prints it).
//  Under ASan (which disables jemalloc) there is nothing to configure.
__attribute__ ((visibility ("default")))
const char *malloc_conf = "narenas:1,tcache:false,dirty_decay_ms:-1,muzzy_decay_ms:0";
#endif

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: osmosed [OPTION]...\n"
"Run the osmose peer daemon: join the mesh of nearby devices, advertise this\n"
"device's resources, lease them to nearby programs, and keep the signed log.\n"
"\n"
"Options:\n"
"  -c, --config FILE     read FILE (ZPL) instead of " S_DEFAULT_CONFIG "\n"
"      --check-config    validate the configuration, print it is valid, exit\n"
"      --print-config    print a complete commented configuration and exit\n"
"  -s, --set PATH=VALUE  override one setting, e.g. -s node/location=hq/f1/r3\n"
"                        (repeatable; applied after the file)\n"
"      --init            create the state directory and this node's keys if\n"
"                        they do not exist, print the node id, and exit\n"
"  -v, --verbose         log more\n"
"  -V, --version         print version, libraries and allocator, and exit\n"
"  -h, --help            show this help and exit\n"
"\n"
"Signals: SIGTERM or SIGINT stop the daemon cleanly.\n"
"Exit status: 0 clean stop, 1 run-time failure, 2 usage or configuration error.\n"
"See osmosed(8) and osmose.conf(5).\n");
}

static void
s_version (void)
{
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    printf ("osmosed %s\n", PACKAGE_VERSION);
    printf ("libzmq %d.%d.%d, czmq %d.%d.%d, libsodium %s\n",
            major, minor, patch, CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR,
            CZMQ_VERSION_PATCH, sodium_version_string ());
    printf ("allocator: %s%s\n", osmose_alloc_name (),
            osmose_alloc_is_jemalloc ()? " (jemalloc in use)": " (jemalloc not in use)");
}

//  Apply "PATH=VALUE"; returns false with a message on stderr
static bool
s_apply_override (osmose_config_t *config, const char *setting)
{
    const char *equals = strchr (setting, '=');
    if (!equals) {
        fprintf (stderr, "osmosed: --set '%s': expected PATH=VALUE\n", setting);
        return false;
    }
    char path [128];
    snprintf (path, sizeof (path), "%.*s", (int) (equals - setting), setting);
    int rc = osmose_config_set (config, path, equals + 1);
    if (rc == OSMOSE_ENOTFOUND)
        fprintf (stderr, "osmosed: --set: unknown setting '%s'\n", path);
    else
    if (rc)
        fprintf (stderr, "osmosed: --set: invalid value '%s' for %s\n", equals + 1, path);
    return rc == 0;
}

int
main (int argc, char *argv [])
{
    enum { OPT_CHECK = 256, OPT_PRINT, OPT_INIT };
    static const struct option options [] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "print-config", no_argument, NULL, OPT_PRINT },
        { "set", required_argument, NULL, 's' },
        { "init", no_argument, NULL, OPT_INIT },
        { "verbose", no_argument, NULL, 'v' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *config_file = NULL;
    bool check_only = false, init_only = false, verbose = false;
    zlist_t *overrides = zlist_new ();
    int opt;
    while ((opt = getopt_long (argc, argv, "c:s:vVh", options, NULL)) != -1) {
        switch (opt) {
            case 'c': config_file = optarg; break;
            case 's': zlist_append (overrides, optarg); break;
            case OPT_CHECK: check_only = true; break;
            case OPT_INIT: init_only = true; break;
            case OPT_PRINT:
                osmose_config_print_default (stdout);
                zlist_destroy (&overrides);
                return 0;
            case 'v': verbose = true; break;
            case 'V':
                s_version ();
                zlist_destroy (&overrides);
                return 0;
            case 'h':
                s_usage (stdout);
                zlist_destroy (&overrides);
                return 0;
            default:
                fprintf (stderr, "Try 'osmosed --help' for more information.\n");
                zlist_destroy (&overrides);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "osmosed: unexpected argument '%s'\n"
                         "Try 'osmosed --help' for more information.\n", argv [optind]);
        zlist_destroy (&overrides);
        return 2;
    }
    zsys_set_logident ("osmosed");
    //  stdout is for answers (--init prints the id); logs go to stderr,
    //  which systemd sends to the journal
    zsys_set_logstream (stderr);
    if (sodium_init () < 0) {
        fprintf (stderr, "osmosed: libsodium failed to initialise\n");
        return 1;
    }
    //  No file given and none installed: run on defaults, but say so
    char error [512];
    osmose_config_t *config = NULL;
    if (!config_file && access (S_DEFAULT_CONFIG, F_OK) != 0) {
        config = osmose_config_new_default ();
        if (!check_only && !init_only)
            zsys_warning ("osmosed: %s not found, using defaults", S_DEFAULT_CONFIG);
    }
    else
        config = osmose_config_load (config_file? config_file: S_DEFAULT_CONFIG,
                                     error, sizeof (error));
    if (!config) {
        fprintf (stderr, "osmosed: %s\n", error);
        zlist_destroy (&overrides);
        return 2;
    }
    bool valid = true;
    for (char *setting = (char *) zlist_first (overrides); setting && valid;
         setting = (char *) zlist_next (overrides))
        valid = s_apply_override (config, setting);
    zlist_destroy (&overrides);
    if (!valid) {
        osmose_config_destroy (&config);
        return 2;
    }
    if (check_only) {
        printf ("%s: configuration is valid\n",
                osmose_config_filename (config)? osmose_config_filename (config): "(defaults)");
        osmose_config_destroy (&config);
        return 0;
    }
    if (init_only) {
        const char *state_dir = osmose_config_str (config, "node/state_dir");
        osmose_identity_t *identity = NULL;
        int rc = zsys_dir_create ("%s", state_dir) == 0
               ? osmose_identity_load (state_dir, true, &identity): OSMOSE_EIO;
        if (rc == 0)
            printf ("%s\n", osmose_identity_id (identity));
        else
            fprintf (stderr, "osmosed: %s: cannot initialise identity: %s\n",
                     state_dir, osmose_strerror (rc));
        osmose_identity_destroy (&identity);
        osmose_config_destroy (&config);
        return rc? 1: 0;
    }
    if (verbose)
        zsys_info ("osmosed %s, %s", PACKAGE_VERSION, osmose_alloc_name ());

    //  Only this thread takes SIGTERM and SIGINT: the threads the peer
    //  starts inherit the blocked mask, so a signal always cuts the sleep
    //  below short instead of landing on a busy thread
    zsys_init ();
    sigset_t signals, previous;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, &previous);
    osmose_peer_t *peer = osmose_peer_new (config, error, sizeof (error));
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    if (!peer) {
        zsys_error ("osmosed: cannot start: %s", error);
        osmose_config_destroy (&config);
        return 1;
    }
    //  CZMQ's default handler sets zsys_interrupted on SIGINT and SIGTERM
    while (!zsys_interrupted)
        zclock_sleep (1000);
    zsys_info ("osmosed: signal received, stopping");
    osmose_peer_destroy (&peer);
    osmose_config_destroy (&config);
    return 0;
}
