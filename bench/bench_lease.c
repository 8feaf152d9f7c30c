/*  bench_lease.c: what a leased task costs, against raw CurveZMQ, in one run.

    Run by bench/bench_lease.sh, which starts 16 real osmosed on loopback
    (trusted echo and matrix plugins, no Avahi) and writes one line per
    peer, "API-ENDPOINT PEER-ID PID", to a file; the first peer is this
    program's local daemon. Every figure below is measured in the same run,
    each the median of --rounds rounds, after a warm-up:

      baseline   a raw ZeroMQ CURVE DEALER -> ROUTER echo over TCP loopback,
                 the echo in a child process: one small message at a time
                 (round trip p50, p99) and pipelined with --window messages
                 in flight (messages/s)
      (b) run    osmose_lease_run of echo.null, empty input, one at a time:
                 p50, p99 and their ratio to the raw round trip (targets:
                 p50 and p99 <= 1.5x)
      (c) stream osmose_lease_submit with --lease-window tasks in flight,
                 osmose_lease_next_result: tasks/s and the ratio to the raw
                 stream (targets: >= 30% of it and >= 250k tasks/s)
      (d) lease  osmose_lease_acquire + osmose_lease_release among all the
                 peers, back to back or --pause apart (targets: acquire
                 p50 <= 1 ms, p99 <= 3 ms), with the daemons' CPU and log
                 entries per acquisition and the daemon's share alone; its
                 baseline: a new raw CURVE connection to the echo and its
                 first round trip, which every acquisition includes

    (e), the speed-up of contrib/osmose-matmul on 1, 2 and 4 leases, is
    bench/bench_matmul.sh, which bench_lease.sh runs on the same mesh.
    --baseline-only measures the baseline alone and needs no daemon.

    Every loop is bounded in count and in time (--seconds per phase). Run
    from the build tree:
        sh ../bench/bench_lease.sh              (16 peers, everything)
        bench/bench_lease --baseline-only
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_client.h"
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#define S_MAX_PEERS 64
#define S_MAX_ROUNDS 20
#define S_MESSAGE 24                //  an echo.null task is about this big
#define S_WARMUP 1000

typedef struct {
    size_t rounds;
    size_t count;                   //  round trips per round
    size_t stream;                  //  pipelined messages or tasks per round
    size_t window;                  //  raw messages in flight
    size_t lease_window;            //  tasks in flight
    size_t acquisitions;
    int pause_ms;                   //  between acquisitions
    double seconds;                 //  time limit of each timed loop
    const char *peers_file;
    bool baseline_only;
    const char *only;               //  which of a, b, c, d to measure
} s_options_t;

typedef struct {
    char endpoint [256];
    char id [32];
    int pid;
} s_peer_t;

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

static int
s_compare (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return a < b? -1: a > b;
}

//  SHARE (0..1) of VALUES, which it sorts; 0 when empty
static double
s_percentile (double *values, size_t count, double share)
{
    if (count == 0)
        return 0;
    qsort (values, count, sizeof (double), s_compare);
    return values [(size_t) (share * (double) (count - 1) + 0.5)];
}

static double
s_median (double *values, size_t count)
{
    double copy [S_MAX_ROUNDS];
    memcpy (copy, values, count * sizeof (double));
    return s_percentile (copy, count, 0.5);
}

static void
s_fail (const char *what, int code)
{
    fprintf (stderr, "bench_lease: %s: %s\n", what,
             code? osmose_strerror (code): strerror (errno));
    exit (1);
}

//  --------------------------------------------------------------------------
//  Baseline: raw libzmq, CURVE, DEALER -> ROUTER echo in a child process

typedef struct {
    pid_t pid;
    int control;                    //  closing it stops the child
    char endpoint [256];
    uint8_t server_public [32];
} s_echo_t;

//  The echo: every message back to its sender, as it came; ends when the
//  control pipe closes (the parent exited or is done)
static void
s_echo_serve (const uint8_t *secret, int control, int report)
{
    void *context = zmq_ctx_new ();
    void *router = zmq_socket (context, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt (router, ZMQ_CURVE_SERVER, &one, sizeof (one));
    zmq_setsockopt (router, ZMQ_CURVE_SECRETKEY, secret, 32);
    zmq_setsockopt (router, ZMQ_SNDHWM, &zero, sizeof (zero));
    zmq_setsockopt (router, ZMQ_RCVHWM, &zero, sizeof (zero));
    char endpoint [256] = "";
    size_t size = sizeof (endpoint);
    if (zmq_bind (router, "tcp://127.0.0.1:*") == 0)
        zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &size);
    if (write (report, endpoint, sizeof (endpoint)) != (ssize_t) sizeof (endpoint))
        _exit (1);
    close (report);
    zmq_msg_t routing, body;
    zmq_msg_init (&routing);
    zmq_msg_init (&body);
    while (true) {
        zmq_pollitem_t items [] = { { router, 0, ZMQ_POLLIN, 0 },
                                    { NULL, control, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 2, 1000) < 0 && errno != EINTR)
            break;
        if (items [1].revents)
            break;
        while (zmq_msg_recv (&routing, router, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_recv (&body, router, 0) < 0)
                break;
            zmq_msg_send (&routing, router, ZMQ_SNDMORE);
            zmq_msg_send (&body, router, 0);
        }
    }
    zmq_msg_close (&routing);
    zmq_msg_close (&body);
    zmq_close (router);
    zmq_ctx_term (context);
    _exit (0);
}

//  Fork the echo before this process makes any ZeroMQ context or thread
static int
s_echo_start (s_echo_t *self)
{
    uint8_t secret [32];
    if (crypto_box_keypair (self->server_public, secret))
        return -1;
    int control [2], report [2];
    if (pipe (control) || pipe (report))
        return -1;
    self->pid = fork ();
    if (self->pid < 0)
        return -1;
    if (self->pid == 0) {
        close (control [1]);
        close (report [0]);
        s_echo_serve (secret, control [0], report [1]);
    }
    sodium_memzero (secret, sizeof (secret));
    close (control [0]);
    close (report [1]);
    self->control = control [1];
    struct pollfd wait = { report [0], POLLIN, 0 };
    ssize_t got = -1;
    if (poll (&wait, 1, 5000) == 1)
        got = read (report [0], self->endpoint, sizeof (self->endpoint));
    close (report [0]);
    self->endpoint [sizeof (self->endpoint) - 1] = '\0';
    return got == (ssize_t) sizeof (self->endpoint) && *self->endpoint? 0: -1;
}

static void
s_echo_stop (s_echo_t *self)
{
    close (self->control);
    waitpid (self->pid, NULL, 0);
}

//  A DEALER with a fresh client key, connected to the echo
static void *
s_dealer_new (void *context, s_echo_t *echo)
{
    uint8_t public [32], secret [32];
    crypto_box_keypair (public, secret);
    void *dealer = zmq_socket (context, ZMQ_DEALER);
    int zero = 0, timeout = 5000;
    zmq_setsockopt (dealer, ZMQ_CURVE_SERVERKEY, echo->server_public, 32);
    zmq_setsockopt (dealer, ZMQ_CURVE_PUBLICKEY, public, 32);
    zmq_setsockopt (dealer, ZMQ_CURVE_SECRETKEY, secret, 32);
    zmq_setsockopt (dealer, ZMQ_SNDHWM, &zero, sizeof (zero));
    zmq_setsockopt (dealer, ZMQ_RCVHWM, &zero, sizeof (zero));
    zmq_setsockopt (dealer, ZMQ_RCVTIMEO, &timeout, sizeof (timeout));
    zmq_setsockopt (dealer, ZMQ_LINGER, &zero, sizeof (zero));
    sodium_memzero (secret, sizeof (secret));
    if (zmq_connect (dealer, echo->endpoint))
        s_fail ("connect to the echo", 0);
    return dealer;
}

//  Round trips of one S_MESSAGE-byte message: p50 and p99 in us
static void
s_raw_round_trip (void *dealer, const s_options_t *options, double *p50, double *p99)
{
    uint8_t message [S_MESSAGE] = { 0 }, in [256];
    double *samples = (double *) malloc (options->count * sizeof (double));
    size_t done = 0;
    int64_t deadline = s_now_ns () + (int64_t) (options->seconds * 1e9);
    for (size_t index = 0; index < S_WARMUP + options->count && s_now_ns () < deadline;
         index++) {
        int64_t start = s_now_ns ();
        if (zmq_send (dealer, message, sizeof (message), 0) != S_MESSAGE
        ||  zmq_recv (dealer, in, sizeof (in), 0) != S_MESSAGE)
            s_fail ("raw round trip", 0);
        if (index >= S_WARMUP)
            samples [done++] = (double) (s_now_ns () - start) / 1000.0;
    }
    *p50 = s_percentile (samples, done, 0.5);
    *p99 = s_percentile (samples, done, 0.99);
    free (samples);
}

//  What a new CURVE connection costs before its first answer, as a lease's
//  OPEN pays it: a fresh client key, connect, handshake, one S_MESSAGE
//  round trip; COUNT times (within --seconds), p50 and p99 in us
static void
s_raw_connect (void *context, s_echo_t *echo, size_t count, double seconds,
               double *p50, double *p99)
{
    uint8_t message [S_MESSAGE] = { 0 }, in [256];
    double *samples = (double *) malloc (count * sizeof (double));
    size_t done = 0;
    int64_t deadline = s_now_ns () + (int64_t) (seconds * 1e9);
    for (size_t index = 0; index < count && s_now_ns () < deadline; index++) {
        int64_t start = s_now_ns ();
        void *dealer = s_dealer_new (context, echo);
        if (zmq_send (dealer, message, sizeof (message), 0) != S_MESSAGE
        ||  zmq_recv (dealer, in, sizeof (in), 0) != S_MESSAGE)
            s_fail ("raw connection", 0);
        samples [done++] = (double) (s_now_ns () - start) / 1000.0;
        zmq_close (dealer);
    }
    *p50 = s_percentile (samples, done, 0.5);
    *p99 = s_percentile (samples, done, 0.99);
    free (samples);
}

//  Pipelined: up to WINDOW messages in flight; messages per second
static double
s_raw_stream (void *dealer, const s_options_t *options)
{
    uint8_t message [S_MESSAGE] = { 0 }, in [256];
    size_t total = options->stream, sent = 0, received = 0;
    int64_t start = s_now_ns ();
    int64_t deadline = start + (int64_t) (options->seconds * 1e9);
    while (received < total && s_now_ns () < deadline) {
        while (sent < total && sent - received < options->window
        &&     zmq_send (dealer, message, sizeof (message), ZMQ_DONTWAIT) == S_MESSAGE)
            sent++;
        if (zmq_recv (dealer, in, sizeof (in), 0) < 0)
            s_fail ("raw stream", 0);
        received++;
        while (received < sent && zmq_recv (dealer, in, sizeof (in), ZMQ_DONTWAIT) >= 0)
            received++;
    }
    double rate = (double) received / ((double) (s_now_ns () - start) / 1e9);
    for (; received < sent; received++)
        if (zmq_recv (dealer, in, sizeof (in), 0) < 0)
            s_fail ("raw stream drain", 0);
    return rate;
}

//  --------------------------------------------------------------------------
//  Through a lease

//  Say when the lease of (b) and (c) fails or moves: its figures then
//  include a new acquisition
static void
s_on_lease_failure (osmose_lease_t *lease, int code, const char *reason, void *arg)
{
    fprintf (stderr, "bench_lease: the lease of (b) and (c): %s: %s\n",
             osmose_strerror_name (code), reason);
}

static osmose_lease_t *
s_acquire (osmose_t *mesh, int cpus)
{
    osmose_request_t request;
    osmose_request_init (&request);
    request.cpus = cpus;
    //  A remote lease, never this device; one that ends is bid for again
    request.failure = OSMOSE_RETRY_REMOTE;
    request.on_failure = s_on_lease_failure;
    osmose_lease_t *lease = NULL;
    int rc = osmose_lease_acquire (mesh, &request, 5000, &lease);
    if (rc)
        s_fail ("osmose_lease_acquire", rc);
    if (osmose_lease_local (lease))
        s_fail ("osmose_lease_acquire: a lease on this device", OSMOSE_ENOPEER);
    return lease;
}

static void
s_lease_round_trip (osmose_lease_t *lease, const s_options_t *options, double *p50,
                    double *p99)
{
    double *samples = (double *) malloc (options->count * sizeof (double));
    size_t done = 0;
    int64_t deadline = s_now_ns () + (int64_t) (options->seconds * 1e9);
    for (size_t index = 0; index < S_WARMUP + options->count && s_now_ns () < deadline;
         index++) {
        void *output = NULL;
        size_t size = 0;
        int64_t start = s_now_ns ();
        int rc = osmose_lease_run (lease, "echo.null", NULL, 0, &output, &size, 5000);
        if (rc)
            s_fail ("osmose_lease_run echo.null", rc);
        if (index >= S_WARMUP)
            samples [done++] = (double) (s_now_ns () - start) / 1000.0;
        osmose_free (output);
    }
    *p50 = s_percentile (samples, done, 0.5);
    *p99 = s_percentile (samples, done, 0.99);
    free (samples);
}

//  Collect every result that is there now; WAIT_MS for the first
static size_t
s_collect (osmose_lease_t *lease, int wait_ms)
{
    size_t got = 0;
    osmose_result_t result;
    while (true) {
        int rc = osmose_lease_next_result (lease, got? 0: wait_ms, &result);
        if (rc == OSMOSE_ETIMEDOUT || rc == OSMOSE_ENOTFOUND)
            break;
        if (rc)
            s_fail ("osmose_lease_next_result", rc);
        if (result.status)
            s_fail ("echo.null task", result.status);
        got++;
    }
    return got;
}

//  Keep up to LEASE_WINDOW tasks in flight: submit what room there is,
//  flush once, wait for results; tasks per second
static double
s_lease_stream (osmose_lease_t *lease, const s_options_t *options)
{
    size_t total = options->stream, sent = 0, received = 0;
    int64_t start = s_now_ns ();
    int64_t deadline = start + (int64_t) (options->seconds * 1e9);
    while (received < total && s_now_ns () < deadline) {
        while (sent < total && sent - received < options->lease_window) {
            uint64_t task_id;
            int rc = osmose_lease_submit (lease, "echo.null", NULL, 0, &task_id);
            if (rc == OSMOSE_EBUSY)
                break;
            if (rc)
                s_fail ("osmose_lease_submit", rc);
            sent++;
        }
        int rc = osmose_lease_flush (lease);
        if (rc)
            s_fail ("osmose_lease_flush", rc);
        size_t got = s_collect (lease, 5000);
        if (got == 0)
            s_fail ("stream: no result in 5 s", OSMOSE_ETIMEDOUT);
        received += got;
    }
    double rate = (double) received / ((double) (s_now_ns () - start) / 1e9);
    int64_t drain_until = s_now_ns () + 10 * (int64_t) 1000000000;
    while (received < sent && s_now_ns () < drain_until)
        received += s_collect (lease, 1000);
    if (received < sent)
        s_fail ("stream: tasks left in flight after 10 s", OSMOSE_ETIMEDOUT);
    return rate;
}

//  One integer of the daemon's STATUS, e.g. peers.alive; -1 if none
static json_int_t
s_status_int (osmose_t *client, const char *section, const char *key)
{
    char *text = NULL;
    json_int_t value = -1;
    if (osmose_status_json (client, &text) == 0) {
        json_t *status = json_loads (text, 0, NULL);
        json_t *field = json_object_get (json_object_get (status, section), key);
        if (json_is_integer (field))
            value = json_integer_value (field);
        json_decref (status);
    }
    osmose_free (text);
    return value;
}

//  CPU time, user and system, the daemons of PEERS have used so far, in ms
static double
s_daemons_cpu_ms (s_peer_t *peers, size_t count)
{
    double total = 0;
    for (size_t index = 0; index < count; index++) {
        char path [64], line [1024];
        snprintf (path, sizeof (path), "/proc/%d/stat", peers [index].pid);
        FILE *file = fopen (path, "r");
        if (file && fgets (line, sizeof (line), file)) {
            //  Fields 14 and 15, counted after the command's parenthesis
            char *field = strrchr (line, ')');
            for (int at = 2; field && at < 14; at++)
                field = strchr (field + 1, ' ');
            unsigned long long user = 0, system = 0;
            if (field && sscanf (field + 1, "%llu %llu", &user, &system) == 2)
                total += (double) (user + system) * 1000.0 / (double) sysconf (_SC_CLK_TCK);
        }
        if (file)
            fclose (file);
    }
    return total;
}

//  The daemon's part of an acquisition alone, through the internal API the
//  library uses (LEASE_ACQUIRE answered: bidding, token, delegation), with
//  no work connection: what acquire costs beyond it is the library's
//  session key, CURVE connection and OPEN. Median and p99 in us, or -1
//  when the daemon does not take the call as this benchmark makes it
static void
s_daemon_only (osmose_t *mesh, const s_options_t *options, double *p50, double *p99,
                size_t *failed_p, char *reason, size_t reason_size)
{
    *p50 = *p99 = -1;
    *failed_p = 0;
    char path [64], line [1024];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) getpid ());
    unsigned long long start_time = 0;
    FILE *file = fopen (path, "r");
    if (file && fgets (line, sizeof (line), file)) {
        char *field = strrchr (line, ')');      //  field 22: start time
        for (int index = 2; field && index < 22; index++)
            field = strchr (field + 1, ' ');
        if (field)
            start_time = strtoull (field + 1, NULL, 10);
    }
    if (file)
        fclose (file);
    uint8_t key [32];
    randombytes_buf (key, sizeof (key));
    char key_hex [65];
    sodium_bin2hex (key_hex, sizeof (key_hex), key, sizeof (key));
    size_t count = options->acquisitions, done = 0;
    double *samples = (double *) malloc (count * sizeof (double));
    int64_t deadline = s_now_ns () + (int64_t) (options->seconds * 1e9);
    for (size_t index = 0; index < count && s_now_ns () < deadline; index++) {
        json_t *arguments = json_pack ("{s:i, s:i, s:i, s:I, s:I, s:s, s:s, s:I, s:i, s:s,"
                                       " s:i, s:I}", "cpus", 1, "gpus", 0, "npus", 0,
                                       "memory_mb", (json_int_t) 0,
                                       "latency_bound_us", (json_int_t) 0,
                                       "strategy", "eager_remote", "failure", "fail",
                                       "ttl_ms", (json_int_t) 0, "timeout_ms", 5000,
                                       "session_key", key_hex, "pid", (int) getpid (),
                                       "start_time", (json_int_t) start_time);
        json_t *reply = NULL;
        int64_t started = s_now_ns ();
        int rc = osmose_client_call (mesh, "LEASE_ACQUIRE", arguments, &reply);
        int64_t answered = s_now_ns ();
        json_decref (arguments);
        const char *lease = rc? NULL: json_string_value (json_object_get (reply, "lease"));
        if (lease) {
            json_t *release = json_pack ("{s:s}", "lease", lease);
            json_t *released = NULL;
            if (osmose_client_call (mesh, "LEASE_RELEASE", release, &released) == 0)
                samples [done++] = (double) (answered - started) / 1000.0;
            json_decref (release);
            json_decref (released);
        }
        if (!lease) {
            const char *error = json_string_value (json_object_get (reply, "error"));
            snprintf (reason, reason_size, "%s%s%s", osmose_strerror (rc), error? ": ": "",
                      error? error: "");
            (*failed_p)++;
        }
        json_decref (reply);
        if (options->pause_ms)
            zclock_sleep (options->pause_ms);
    }
    if (done) {
        *p50 = s_percentile (samples, done, 0.5);
        *p99 = s_percentile (samples, done, 0.99);
    }
    free (samples);
}

//  The sentence that came with the last failed acquisition
static char s_failure_reason [256];

static void
s_on_failure (osmose_lease_t *lease, int code, const char *reason, void *arg)
{
    snprintf (s_failure_reason, sizeof (s_failure_reason), "%s", reason);
}

//  ACQUISITIONS times acquire then release; prints the figures
static void
s_acquisitions (osmose_t *mesh, const s_options_t *options, s_peer_t *peers, size_t peer_count,
                void *context, s_echo_t *echo)
{
    size_t count = options->acquisitions;
    double *acquire = (double *) malloc (count * sizeof (double));
    double *release = (double *) malloc (count * sizeof (double));
    char providers [S_MAX_PEERS][32];
    size_t distinct = 0, local = 0, done = 0, tried = 0, failed = 0;
    int failures [1 - OSMOSE_E_LAST] = { 0 };
    char reasons [1 - OSMOSE_E_LAST][256] = { { 0 } };
    osmose_request_t request;
    osmose_request_init (&request);
    request.failure = OSMOSE_FAIL;
    request.on_failure = s_on_failure;
    //  A few untimed, so connections and caches are warm
    int64_t warm_until = s_now_ns () + (int64_t) (options->seconds * 1e9);
    for (size_t index = 0; index < 20 && s_now_ns () < warm_until; index++) {
        osmose_lease_t *lease = NULL;
        if (osmose_lease_acquire (mesh, &request, 5000, &lease) == 0)
            osmose_lease_release (&lease);
    }
    //  A failed acquisition is counted, by its code, and the loop goes on
    //  The daemons' CPU at rest, over a second, to take out of theirs below.
    //  A mesh that just started still syncs its logs (a few hundred ms/s
    //  over 16 daemons, against under a hundred later), and what that
    //  costs the acquisitions is not theirs: measure once a second costs
    //  within a quarter of the second before, for at most 10 s
    double idle_per_ns = 0, previous = -1;
    int settle_seconds = 0;
    while (settle_seconds < 10) {
        double idle_before = s_daemons_cpu_ms (peers, peer_count);
        int64_t idle_start = s_now_ns ();
        zclock_sleep (1000);
        settle_seconds++;
        idle_per_ns = (s_daemons_cpu_ms (peers, peer_count) - idle_before)
                    / (double) (s_now_ns () - idle_start);
        double change = idle_per_ns > previous? idle_per_ns - previous: previous - idle_per_ns;
        if (previous >= 0 && change <= previous / 4)
            break;
        previous = idle_per_ns;
    }
    double cpu_before = s_daemons_cpu_ms (peers, peer_count);
    json_int_t entries_before = s_status_int (mesh, "log", "entries");
    const char *trace_path = getenv ("BENCH_LEASE_TRACE");
    FILE *trace = trace_path? fopen (trace_path, "w"): NULL;
    if (trace_path && !trace)
        fprintf (stderr, "bench_lease: cannot write %s: %s\n", trace_path, strerror (errno));
    int64_t loop_start = s_now_ns ();
    int64_t deadline = loop_start + (int64_t) (options->seconds * 1e9);
    for (; tried < count && s_now_ns () < deadline; tried++) {
        osmose_lease_t *lease = NULL;
        int64_t start = s_now_ns ();
        int rc = osmose_lease_acquire (mesh, &request, 5000, &lease);
        int64_t acquired = s_now_ns ();
        if (rc) {
            int slot = rc < OSMOSE_E_LAST || rc > 0? 0: -rc;
            failed++;
            failures [slot]++;
            snprintf (reasons [slot], sizeof (reasons [slot]), "%s", s_failure_reason);
            *s_failure_reason = '\0';
            continue;
        }
        const char *provider = osmose_lease_provider (lease);
        size_t known = 0;
        while (known < distinct && strcmp (providers [known], provider))
            known++;
        if (known == distinct && distinct < S_MAX_PEERS)
            snprintf (providers [distinct++], sizeof (providers [0]), "%s", provider);
        local += osmose_lease_local (lease);
        osmose_lease_release (&lease);
        acquire [done] = (double) (acquired - start) / 1000.0;
        release [done++] = (double) (s_now_ns () - acquired) / 1000.0;
        if (trace)
            fprintf (trace, "%.6f %.0f %.0f %s\n", (double) start / 1e9, acquire [done - 1],
                     release [done - 1], provider);
        if (options->pause_ms)
            zclock_sleep (options->pause_ms);
    }
    if (trace)
        fclose (trace);
    double cpu_ms = s_daemons_cpu_ms (peers, peer_count) - cpu_before
                  - idle_per_ns * (double) (s_now_ns () - loop_start);
    json_int_t entries = s_status_int (mesh, "log", "entries") - entries_before;
    double p50 = s_percentile (acquire, done, 0.5), p99 = s_percentile (acquire, done, 0.99);
    double max = done? acquire [done - 1]: 0;
    printf ("(d) lease acquisition among %zu peers, %zu acquire + release (%zu providers chosen,"
            " %zu local), %zu failed, %d ms apart\n", peer_count, tried, distinct, local, failed,
            options->pause_ms);
    for (int code = 1; code <= -OSMOSE_E_LAST; code++)
        if (failures [code])
            printf ("    %d failed with %s (%s), the last with \"%s\"\n", failures [code],
                    osmose_strerror_name (-code), osmose_strerror (-code), reasons [code]);
    if (failures [0])
        printf ("    %d failed with codes unknown here, the last with \"%s\"\n", failures [0],
                reasons [0]);
    printf ("    acquire p50 %.0f us, p99 %.0f us, max %.0f us"
            "   [target p50 <= 1000 us: %s; p99 <= 3000 us: %s]\n",
            p50, p99, max, p50 <= 1000? "met": "NOT met", p99 <= 3000? "met": "NOT met");
    size_t slow = 0;
    for (size_t index = 0; index < done; index++)
        slow += acquire [index] > 3000;
    printf ("    acquire p90 %.0f us, p95 %.0f us; %zu of %zu over 3 ms\n",
            s_percentile (acquire, done, 0.9), s_percentile (acquire, done, 0.95), slow, done);
    printf ("    release p50 %.0f us, p99 %.0f us\n", s_percentile (release, done, 0.5),
            s_percentile (release, done, 0.99));
    //  Acquisition does not wait for the answer to OPEN: the first task
    //  follows OPEN on the connection. What a program waits for until its
    //  first result, then, so that no cost hides in the first task
    size_t first_count = count < 200? count: 200, first_done = 0;
    double *first = (double *) malloc (first_count * sizeof (double));
    int64_t first_deadline = s_now_ns () + (int64_t) (options->seconds * 1e9);
    while (first && first_done < first_count && s_now_ns () < first_deadline) {
        osmose_lease_t *lease = NULL;
        int64_t start = s_now_ns ();
        void *output = NULL;
        size_t output_size = 0;
        if (osmose_lease_acquire (mesh, &request, 5000, &lease) == 0
        &&  osmose_lease_run (lease, "echo.null", NULL, 0, &output, &output_size, 5000) == 0)
            first [first_done++] = (double) (s_now_ns () - start) / 1000.0;
        osmose_free (output);
        osmose_lease_release (&lease);
    }
    if (first_done)
        printf ("    acquire + the first null task on it: p50 %.0f us, p99 %.0f us (%zu times)\n",
                s_percentile (first, first_done, 0.5), s_percentile (first, first_done, 0.99),
                first_done);
    free (first);
    //  The baseline: an acquisition ends with a new CURVE connection to the
    //  provider (tasks go there directly), so it cannot beat one
    double connect_p50, connect_p99;
    s_raw_connect (context, echo, count < 200? count: 200, options->seconds,
                   &connect_p50, &connect_p99);
    printf ("    baseline, a new raw CURVE connection and its first round trip (fresh"
            " client key, as OPEN makes one): p50 %.0f us, p99 %.0f us; acquire p50 is"
            " %.2fx that\n", connect_p50, connect_p99, connect_p50 > 0? p50 / connect_p50: 0);
    if (tried)
        printf ("    CPU of the %zu daemons (all threads, not their workers), above their"
                " %.0f ms/s at rest (steady after %d s): %.2f ms per acquire + release; %.1f log"
                " entries per acquire + release (all feeds, as peer 1 holds them)\n",
                peer_count, idle_per_ns * 1e9, settle_seconds, cpu_ms / (double) tried,
                (double) entries / (double) tried);
    double bid_p50, bid_p99;
    size_t bid_failed;
    char reason [256] = "";
    s_daemon_only (mesh, options, &bid_p50, &bid_p99, &bid_failed, reason, sizeof (reason));
    if (bid_p50 >= 0)
        printf ("    of which the daemon (LEASE_ACQUIRE answered, no work connection):"
                " p50 %.0f us, p99 %.0f us; the library's session key, connection and"
                " OPEN: about %.0f us at p50\n", bid_p50, bid_p99, p50 - bid_p50);
    else
        printf ("    (the daemon's part alone could not be measured)\n");
    if (bid_failed)
        printf ("    (%zu LEASE_ACQUIRE calls failed there, the last with \"%s\")\n",
                bid_failed, reason);
    free (acquire);
    free (release);
}

//  --------------------------------------------------------------------------
//  Peers: wait until every daemon sees every other one alive

static size_t
s_read_peers (const char *filename, s_peer_t *peers)
{
    FILE *file = fopen (filename, "r");
    if (!file)
        s_fail (filename, 0);
    size_t count = 0;
    while (count < S_MAX_PEERS
    &&     fscanf (file, "%255s %31s %d", peers [count].endpoint, peers [count].id,
                   &peers [count].pid) == 3)
        count++;
    fclose (file);
    return count;
}

//  Milliseconds until the daemon MESH ranks WANTED other peers as able to
//  serve a one-CPU request (their resources travel after their membership),
//  or -1 after TIMEOUT_MS
static double
s_wait_providers (osmose_t *mesh, size_t wanted, int timeout_ms)
{
    int64_t start = s_now_ns ();
    while (s_now_ns () - start < (int64_t) timeout_ms * 1000000) {
        char *text = NULL;
        size_t qualified = 0;
        if (osmose_near_json (mesh, NULL, &text) == 0) {
            json_t *near = json_loads (text, 0, NULL);
            size_t index;
            json_t *peer;
            json_array_foreach (near, index, peer)
                qualified += json_is_true (json_object_get (peer, "qualifies"))
                          && !json_is_true (json_object_get (peer, "self"));
            json_decref (near);
        }
        osmose_free (text);
        if (qualified >= wanted)
            return (double) (s_now_ns () - start) / 1e6;
        zclock_sleep (50);
    }
    return -1;
}

//  Milliseconds until all see all, or -1 after TIMEOUT_MS
static double
s_wait_all_see_all (s_peer_t *peers, size_t count, int timeout_ms)
{
    osmose_t *clients [S_MAX_PEERS] = { NULL };
    int64_t start = s_now_ns ();
    bool all = false;
    while (!all && s_now_ns () - start < (int64_t) timeout_ms * 1000000) {
        all = true;
        //  A daemon just started may not have its API socket yet
        for (size_t index = 0; index < count && all; index++)
            all = (clients [index] || osmose_connect (peers [index].endpoint, 1000,
                                                      &clients [index]) == 0)
               && s_status_int (clients [index], "peers", "alive") == (json_int_t) count;
        if (!all)
            zclock_sleep (50);
    }
    for (size_t index = 0; index < count; index++)
        osmose_disconnect (&clients [index]);
    return all? (double) (s_now_ns () - start) / 1e6: -1;
}

//  --------------------------------------------------------------------------

//  The figures of (a), (b) and (c): medians of the rounds, and ratios
static void
s_report_tasks (const s_options_t *options, bool run, bool stream, double *raw_p50,
                double *raw_p99, double *raw_rate, double *lease_p50, double *lease_p99,
                double *lease_rate)
{
    double rp50 = s_median (raw_p50, options->rounds), rp99 = s_median (raw_p99, options->rounds);
    double rrate = s_median (raw_rate, options->rounds);
    printf ("bench_lease: %zu round(s), medians; %zu round trips (after %d warm-up),"
            " streams of up to %zu, each loop at most %.0f s\n", options->rounds,
            options->count, S_WARMUP, options->stream, options->seconds);
    printf ("(a) baseline, raw CURVE DEALER/ROUTER on loopback, %d-byte messages:\n", S_MESSAGE);
    printf ("    round trip p50 %.1f us, p99 %.1f us\n", rp50, rp99);
    printf ("    pipelined, %zu in flight: %.0f messages/s\n", options->window, rrate);
    if (run) {
        double lp50 = s_median (lease_p50, options->rounds);
        double lp99 = s_median (lease_p99, options->rounds);
        printf ("(b) osmose_lease_run echo.null, empty input:\n");
        printf ("    round trip p50 %.1f us (%.2fx raw), p99 %.1f us (%.2fx raw)"
                "   [target p50 <= 1.5x: %s; p99 <= 1.5x: %s]\n", lp50, lp50 / rp50, lp99,
                lp99 / rp99, lp50 <= 1.5 * rp50? "met": "NOT met",
                lp99 <= 1.5 * rp99? "met": "NOT met");
    }
    if (stream) {
        double lrate = s_median (lease_rate, options->rounds);
        printf ("(c) osmose_lease_submit echo.null, %zu in flight, one client:\n",
                options->lease_window);
        printf ("    %.0f tasks/s (%.0f%% of the raw stream)"
                "   [target >= 30%%: %s; >= 250000 tasks/s: %s]\n", lrate,
                100 * lrate / rrate, lrate >= 0.3 * rrate? "met": "NOT met",
                lrate >= 250000? "met": "NOT met");
        printf ("    (tasks travel in batches, many to a CURVE frame; the raw stream sends"
                " one message per frame)\n");
    }
}

//  What the figures were measured on: cores and load, which matter on a
//  small shared machine
static void
s_machine (void)
{
    char load [64] = "?";
    FILE *file = fopen ("/proc/loadavg", "r");
    if (file && fgets (load, sizeof (load), file))
        load [strcspn (load, " ")] = '\0';
    if (file)
        fclose (file);
    printf ("bench_lease: %ld cores online, load average %s at start\n",
            sysconf (_SC_NPROCESSORS_ONLN), load);
}

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: bench_lease --peers FILE [OPTIONS]    (bench/bench_lease.sh writes FILE)\n"
"       bench_lease --baseline-only [OPTIONS]\n"
"Null-task round trip and throughput through a lease, and lease acquisition\n"
"among the peers in FILE (\"API-ENDPOINT PEER-ID PID\" lines, the first is\n"
"the local daemon), against raw CurveZMQ DEALER/ROUTER measured in the same run.\n"
"  -r, --rounds N        rounds; each figure is their median (default 3)\n"
"  -c, --count N         round trips per round (default 20000)\n"
"  -s, --stream N        pipelined messages or tasks per round (default 1000000)\n"
"  -w, --window N        raw messages in flight (default 1000)\n"
"  -W, --lease-window N  tasks in flight (default 4096)\n"
"  -a, --acquire N       lease acquisitions (default 2000: its p99 stands on the\n"
"                        20 slowest, not on 5)\n"
"  -P, --pause MS        pause between acquisitions (default 0: back to back)\n"
"  -t, --seconds S       time limit of each measuring loop (default 10)\n"
"  -b, --baseline-only   measure the raw CurveZMQ baseline alone\n"
"  -o, --only LETTERS    measure only these of a b c d (default abcd; b and c\n"
"                        bring a, their baseline, with them)\n"
"Environment: BENCH_LEASE_TRACE=FILE writes one line per timed acquisition\n"
"(CLOCK_MONOTONIC start in s, acquire us, release us, provider), to line up\n"
"slow ones with what else ran (perf record -k CLOCK_MONOTONIC).\n");
}

int
main (int argc, char *argv [])
{
    static const struct option longs [] = {
        { "rounds", required_argument, NULL, 'r' },
        { "count", required_argument, NULL, 'c' },
        { "stream", required_argument, NULL, 's' },
        { "window", required_argument, NULL, 'w' },
        { "lease-window", required_argument, NULL, 'W' },
        { "acquire", required_argument, NULL, 'a' },
        { "pause", required_argument, NULL, 'P' },
        { "seconds", required_argument, NULL, 't' },
        { "peers", required_argument, NULL, 'p' },
        { "baseline-only", no_argument, NULL, 'b' },
        { "only", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    s_options_t options = { .rounds = 3, .count = 20000, .stream = 1000000, .window = 1000,
                            .lease_window = 4096, .acquisitions = 2000, .seconds = 10,
                            .only = "abcd" };
    int opt;
    while ((opt = getopt_long (argc, argv, "r:c:s:w:W:a:P:t:p:bo:h", longs, NULL)) != -1) {
        if (opt == 'r')
            options.rounds = (size_t) atol (optarg);
        else if (opt == 'c')
            options.count = (size_t) atol (optarg);
        else if (opt == 's')
            options.stream = (size_t) atol (optarg);
        else if (opt == 'w')
            options.window = (size_t) atol (optarg);
        else if (opt == 'W')
            options.lease_window = (size_t) atol (optarg);
        else if (opt == 'a')
            options.acquisitions = (size_t) atol (optarg);
        else if (opt == 'P')
            options.pause_ms = atoi (optarg);
        else if (opt == 't')
            options.seconds = atof (optarg);
        else if (opt == 'p')
            options.peers_file = optarg;
        else if (opt == 'b')
            options.baseline_only = true;
        else if (opt == 'o')
            options.only = optarg;
        else {
            s_usage (opt == 'h'? stdout: stderr);
            return opt == 'h'? 0: 2;
        }
    }
    if (options.rounds < 1 || options.rounds > S_MAX_ROUNDS
    ||  options.count < 100 || options.count > 10000000
    ||  options.stream < 1000 || options.stream > 100000000
    ||  options.window < 1 || options.window > 100000
    ||  options.lease_window < 1 || options.lease_window > OSMOSE_LEASE_MAX_IN_FLIGHT
    ||  options.acquisitions < 1 || options.acquisitions > 100000
    ||  options.pause_ms < 0 || options.pause_ms > 10000
    ||  options.seconds <= 0 || options.seconds > 600) {
        fprintf (stderr, "bench_lease: an option is out of range (see --help)\n");
        return 2;
    }
    if (!options.peers_file && !options.baseline_only) {
        s_usage (stderr);
        return 2;
    }
    if (sodium_init () < 0)
        return 1;
    signal (SIGPIPE, SIG_IGN);
    setvbuf (stdout, NULL, _IOLBF, 0);
    s_machine ();
    s_peer_t peers [S_MAX_PEERS];
    size_t peer_count = 0;
    if (options.peers_file) {
        peer_count = s_read_peers (options.peers_file, peers);
        if (peer_count < 2) {
            fprintf (stderr, "bench_lease: need at least 2 peers in %s\n", options.peers_file);
            return 2;
        }
    }
    s_echo_t echo;
    if (s_echo_start (&echo)) {
        fprintf (stderr, "bench_lease: cannot start the echo process\n");
        return 1;
    }
    zsys_init ();
    void *context = zmq_ctx_new ();
    void *dealer = s_dealer_new (context, &echo);
    osmose_t *mesh = NULL;
    osmose_lease_t *lease = NULL;
    if (peer_count) {
        double ms = s_wait_all_see_all (peers, peer_count, 60000);
        if (ms < 0) {
            fprintf (stderr, "bench_lease: the %zu peers do not all see all after 60 s\n",
                     peer_count);
            return 1;
        }
        printf ("bench_lease: %zu peers on loopback, all see all (%.0f ms after the"
                " benchmark started waiting)\n", peer_count, ms);
        int rc = osmose_connect (peers [0].endpoint, 5000, &mesh);
        if (rc)
            s_fail (peers [0].endpoint, rc);
        ms = s_wait_providers (mesh, peer_count - 1, 30000);
        if (ms < 0) {
            fprintf (stderr, "bench_lease: peer 1 does not rank the %zu others as providers"
                     " after 30 s\n", peer_count - 1);
            return 1;
        }
        printf ("bench_lease: peer 1 ranks all %zu others as providers (%.0f ms later)\n",
                peer_count - 1, ms);
        if (strchr (options.only, 'b') || strchr (options.only, 'c')) {
            lease = s_acquire (mesh, 1);
            char *text = NULL;
            json_t *info = osmose_lease_json (lease, &text) == 0?
                           json_loads (text, 0, NULL): NULL;
            printf ("bench_lease: (b) and (c) on a lease from %s at %s (%" JSON_INTEGER_FORMAT
                    " hops), work endpoint %s\n",
                    json_string_value (json_object_get (info, "name")),
                    json_string_value (json_object_get (info, "location")),
                    json_integer_value (json_object_get (info, "hops")),
                    json_string_value (json_object_get (info, "endpoint")));
            json_decref (info);
            osmose_free (text);
        }
    }
    bool tasks = strchr (options.only, 'a') || lease;
    double raw_p50 [S_MAX_ROUNDS], raw_p99 [S_MAX_ROUNDS], raw_rate [S_MAX_ROUNDS];
    double lease_p50 [S_MAX_ROUNDS] = { 0 }, lease_p99 [S_MAX_ROUNDS] = { 0 };
    double lease_rate [S_MAX_ROUNDS] = { 0 };
    bool run = lease && strchr (options.only, 'b'), stream = lease && strchr (options.only, 'c');
    for (size_t round = 0; round < options.rounds && tasks; round++) {
        s_raw_round_trip (dealer, &options, &raw_p50 [round], &raw_p99 [round]);
        raw_rate [round] = s_raw_stream (dealer, &options);
        if (run)
            s_lease_round_trip (lease, &options, &lease_p50 [round], &lease_p99 [round]);
        if (stream)
            lease_rate [round] = s_lease_stream (lease, &options);
    }
    if (tasks)
        s_report_tasks (&options, run, stream, raw_p50, raw_p99, raw_rate, lease_p50,
                        lease_p99, lease_rate);
    osmose_lease_release (&lease);
    if (mesh && strchr (options.only, 'd'))
        s_acquisitions (mesh, &options, peers, peer_count, context, &echo);
    osmose_disconnect (&mesh);
    fflush (stdout);
    zmq_close (dealer);
    zmq_ctx_term (context);
    s_echo_stop (&echo);
    return 0;
}
