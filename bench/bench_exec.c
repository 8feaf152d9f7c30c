/*  bench_exec.c: what a task costs in the executor, against the bare IPC.

    Baseline: a trivial echo process on a socketpair, the same mechanism
    the executor uses, sending 48-byte frames (the executor's header size):
    in bulk (the raw ceiling of the mechanism: no per-message work at all)
    and frame by frame (one write and one read per message).
    Measured in the same run:
      round trip  one frame / one null task at a time: p50 and p99 in us
      pipelined   many in flight: frames or tasks per second
    Each figure is the median of ROUNDS rounds. Run from the build tree:
        bench/bench_exec [--rounds N] [--count N] [--workers N]
    ($OSMOSE_WORKER and $OSMOSE_PLUGIN_BUILD_DIR override the default
    paths src/osmose-worker and plugins/.libs)
*/
#include "osmose_prelude.h"
#include "osmose_exec.h"
#include "osmose_plugins.h"
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define S_FRAME 48
#define S_WINDOW 1024

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

static double
s_percentile (double *values, size_t count, double share)
{
    qsort (values, count, sizeof (double), s_compare);
    return values [(size_t) (share * (double) (count - 1))];
}

static double
s_median (double *values, size_t count)
{
    return s_percentile (values, count, 0.5);
}

//  The trivial echo process: echoes whatever it reads, in bulk, or frame
//  by frame (one read and one write per frame)
static void
s_echo_child (int fd, size_t chunk)
{
    uint8_t buffer [65536];
    while (true) {
        ssize_t got = read (fd, buffer, chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            _exit (0);
        for (ssize_t done = 0; done < got;) {
            ssize_t put = write (fd, buffer + done, (size_t) (got - done));
            if (put < 0 && errno == EINTR)
                continue;
            if (put <= 0)
                _exit (0);
            done += put;
        }
    }
}

static void
s_read_exactly (int fd, uint8_t *buffer, size_t size)
{
    for (size_t done = 0; done < size;) {
        ssize_t got = read (fd, buffer + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        assert (got > 0);
        done += (size_t) got;
    }
}

//  Pipelined, frame by frame: one write per frame, echoed one by one
static double
s_baseline_frames (size_t count)
{
    int pair [2];
    assert (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    pid_t pid = fork ();
    if (pid == 0) {
        close (pair [0]);
        s_echo_child (pair [1], S_FRAME);
    }
    close (pair [1]);
    int fd = pair [0];
    uint8_t frame [S_FRAME] = { 0 };
    static uint8_t in [S_WINDOW * S_FRAME];
    size_t sent = 0, received = 0, pending = 0;
    int64_t start = s_now_ns ();
    while (received < count) {
        //  A smaller window: each small write costs a whole socket buffer
        //  slot, and both ends would block writing with a larger one
        while (sent < count && sent - received < 64) {
            ssize_t put = write (fd, frame, S_FRAME);
            if (put < 0 && errno == EINTR)
                continue;
            if (put != S_FRAME) {
                fprintf (stderr, "bench_exec: write: %zd %s\n", put, strerror (errno));
                exit (1);
            }
            sent++;
        }
        ssize_t got = read (fd, in, sizeof (in));
        if (got < 0 && errno == EINTR)
            continue;
        assert (got > 0);
        pending += (size_t) got;
        received += pending / S_FRAME;
        pending %= S_FRAME;
    }
    double rate = (double) received / ((double) (s_now_ns () - start) / 1e9);
    close (fd);
    waitpid (pid, NULL, 0);
    return rate;
}

//  Baseline round trip and throughput over a socketpair
static void
s_baseline (size_t count, double *p50, double *p99, double *rate)
{
    int pair [2];
    assert (socketpair (AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    pid_t pid = fork ();
    if (pid == 0) {
        close (pair [0]);
        s_echo_child (pair [1], 65536);
    }
    close (pair [1]);
    int fd = pair [0];
    uint8_t frame [S_FRAME] = { 0 };
    double *samples = (double *) malloc (count * sizeof (double));
    for (size_t index = 0; index < count; index++) {
        int64_t start = s_now_ns ();
        assert (write (fd, frame, S_FRAME) == S_FRAME);
        s_read_exactly (fd, frame, S_FRAME);
        samples [index] = (double) (s_now_ns () - start) / 1000.0;
    }
    *p50 = s_percentile (samples, count, 0.5);
    *p99 = s_percentile (samples, count, 0.99);
    free (samples);
    //  Pipelined: keep up to S_WINDOW frames in flight, written in batches
    static uint8_t batch [S_WINDOW * S_FRAME], in [S_WINDOW * S_FRAME];
    size_t sent = 0, received = 0, pending = 0;
    int64_t start = s_now_ns ();
    while (received < count * 10) {
        size_t room = S_WINDOW - (sent - received);
        if (room > count * 10 - sent)
            room = count * 10 - sent;
        if (room) {
            assert (write (fd, batch, room * S_FRAME) == (ssize_t) (room * S_FRAME));
            sent += room;
        }
        ssize_t got = read (fd, in, sizeof (in));
        if (got < 0 && errno == EINTR)
            continue;
        assert (got > 0);
        pending += (size_t) got;
        received += pending / S_FRAME;
        pending %= S_FRAME;
    }
    *rate = (double) received / ((double) (s_now_ns () - start) / 1e9);
    close (fd);
    waitpid (pid, NULL, 0);
}

static void
s_executor (osmose_exec_t *exec, size_t count, double *p50, double *p99, double *rate)
{
    osmose_exec_result_t result;
    double *samples = (double *) malloc (count * sizeof (double));
    for (size_t index = 0; index < count; index++) {
        int64_t start = s_now_ns ();
        assert (osmose_exec_submit (exec, index, "echo.null", NULL, 0, NULL, 0) == 0);
        while (osmose_exec_next_result (exec, &result) == 0)
            osmose_exec_wait (exec, -1);
        assert (result.status == 0 && result.task_id == index);
        samples [index] = (double) (s_now_ns () - start) / 1000.0;
    }
    *p50 = s_percentile (samples, count, 0.5);
    *p99 = s_percentile (samples, count, 0.99);
    free (samples);
    size_t total = count * 10, sent = 0, received = 0;
    int64_t start = s_now_ns ();
    while (received < total) {
        while (sent < total && sent - received < S_WINDOW) {
            assert (osmose_exec_submit (exec, sent, "echo.null", NULL, 0, NULL, 0) == 0);
            sent++;
        }
        osmose_exec_wait (exec, -1);
        while (osmose_exec_next_result (exec, &result) == 1) {
            assert (result.status == 0);
            received++;
        }
    }
    *rate = (double) received / ((double) (s_now_ns () - start) / 1e9);
}

//  Median milliseconds of one n x n matrix.multiply through the executor
static double
s_matrix (osmose_exec_t *exec, uint32_t n, size_t rounds)
{
    size_t size = 4 + 2 * (size_t) n * n * sizeof (float);
    uint8_t *input = (uint8_t *) malloc (size);
    memcpy (input, &n, 4);
    for (size_t cell = 0; cell < 2 * (size_t) n * n; cell++) {
        float value = (float) (cell % 17) / 17.0f;
        memcpy (input + 4 + cell * 4, &value, 4);
    }
    double samples [100];
    for (size_t round = 0; round < rounds; round++) {
        int64_t start = s_now_ns ();
        assert (osmose_exec_submit (exec, round, "matrix.multiply", input, size, NULL, 0) == 0);
        osmose_exec_result_t result;
        while (osmose_exec_next_result (exec, &result) == 0)
            osmose_exec_wait (exec, -1);
        assert (result.status == 0 && result.output_size == 4 + (size_t) n * n * 4);
        samples [round] = (double) (s_now_ns () - start) / 1e6;
    }
    free (input);
    return s_median (samples, rounds);
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "rounds", required_argument, NULL, 'r' },
        { "count", required_argument, NULL, 'c' },
        { "workers", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    size_t rounds = 5, count = 20000;
    int workers = 1;
    int opt;
    while ((opt = getopt_long (argc, argv, "r:c:w:h", options, NULL)) != -1) {
        if (opt == 'r')
            rounds = (size_t) atol (optarg);
        else if (opt == 'c')
            count = (size_t) atol (optarg);
        else if (opt == 'w')
            workers = atoi (optarg);
        else {
            printf ("Usage: bench_exec [--rounds N] [--count N] [--workers N]\n"
                    "Null-task round trip and throughput of the executor vs a raw\n"
                    "socketpair echo process. Run from the build directory.\n");
            return opt == 'h'? 0: 2;
        }
    }
    if (rounds < 1 || rounds > 100 || count < 100 || count > 10000000)
        return 2;
    if (sodium_init () < 0)
        return 1;
    signal (SIGPIPE, SIG_IGN);
    zsys_init ();
    const char *worker = getenv ("OSMOSE_WORKER")? getenv ("OSMOSE_WORKER"): "src/osmose-worker";
    const char *dir = getenv ("OSMOSE_PLUGIN_BUILD_DIR")? getenv ("OSMOSE_PLUGIN_BUILD_DIR"): "plugins/.libs";
    char path [4200], hex [OSMOSE_PLUGINS_HASH_HEX];
    snprintf (path, sizeof (path), "%s/echo.so", dir);
    if (osmose_plugins_hash_file (path, hex)) {
        fprintf (stderr, "bench_exec: cannot read %s (run from the build directory)\n", path);
        return 1;
    }
    zlistx_t *trusted = zlistx_new ();
    zlistx_add_end (trusted, hex);
    char matrix_hex [OSMOSE_PLUGINS_HASH_HEX];
    snprintf (path, sizeof (path), "%s/matrix.so", dir);
    bool matrix = osmose_plugins_hash_file (path, matrix_hex) == 0;
    if (matrix)
        zlistx_add_end (trusted, matrix_hex);
    osmose_exec_config_t config = { .worker_path = worker, .plugin_dir = dir, .trusted = trusted,
                                    .workers = workers, .timeout_ms = 10000 };
    osmose_exec_t *exec = osmose_exec_new (&config);
    if (!exec) {
        fprintf (stderr, "bench_exec: cannot start the executor with %s\n", worker);
        return 1;
    }
    double base_p50 [100], base_p99 [100], base_rate [100];
    double exec_p50 [100], exec_p99 [100], exec_rate [100], frame_rate [100];
    for (size_t round = 0; round < rounds; round++) {
        s_baseline (count, &base_p50 [round], &base_p99 [round], &base_rate [round]);
        frame_rate [round] = s_baseline_frames (count * 10);
        s_executor (exec, count, &exec_p50 [round], &exec_p99 [round], &exec_rate [round]);
    }
    double frate = s_median (frame_rate, rounds);
    double bp50 = s_median (base_p50, rounds), bp99 = s_median (base_p99, rounds);
    double brate = s_median (base_rate, rounds);
    double ep50 = s_median (exec_p50, rounds), ep99 = s_median (exec_p99, rounds);
    double erate = s_median (exec_rate, rounds);
    printf ("bench_exec: %zu rounds x %zu round trips, %zu pipelined; %d worker(s); medians\n",
            rounds, count, count * 10, workers);
    printf ("  %-28s %10s %10s %14s\n", "", "p50 us", "p99 us", "per second");
    printf ("  %-28s %10.2f %10.2f %14.0f\n", "baseline: socketpair echo", bp50, bp99, brate);
    printf ("  %-28s %10s %10s %14.0f\n", "baseline: frame by frame", "", "", frate);
    printf ("  %-28s %10.2f %10.2f %14.0f\n", "executor: echo.null task", ep50, ep99, erate);
    printf ("  %-28s %10.2f %10.2f %14.2f\n", "ratio executor/baseline", ep50 / bp50, ep99 / bp99,
            erate / brate);
    printf ("  %-28s %10s %10s %14.2f\n", "ratio executor/frame by frame", "", "", erate / frate);
    if (matrix) {
        double ms = s_matrix (exec, 512, rounds);
        printf ("  matrix.multiply 512x512 through the executor: %.1f ms (%.2f GFLOP/s), median\n",
                ms, 2.0 * 512 * 512 * 512 / (ms / 1000.0) / 1e9);
    }
    osmose_exec_destroy (&exec);
    zlistx_destroy (&trusted);
    return 0;
}
