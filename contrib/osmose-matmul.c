/*  osmose-matmul: multiply two large matrices on workers leased from nearby
    peers, with nothing but the public API (osmose.h).

    C = A * B for N x N float32 matrices, cut into square T x T tiles: tile
    C[i][j] is the sum over k of A[i][k] * B[k][j]. Each product of two
    tiles is one "matrix.multiply" task (the plugin multiplies square
    matrices: input uint32 n, then A and B, n*n little-endian float32 each,
    row-major; output n, then the product); the program adds the products
    into C as they come back. That is (N/T)^3 tasks of 2*T^3 flops each.

    It takes W leases of one CPU each (--workers), all bid for at once with
    osmose_lease_acquire_async, keeps a few tasks in flight on each lease,
    and collects results from whichever lease has one. When no peer leases,
    request.failure = OSMOSE_RETRY_LOCAL makes the daemon run the work on
    this device; when a lease ends half-way, its tasks go to the others.

    Build: cc osmose-matmul.c $(pkg-config --cflags --libs osmose)
    Try:   osmose-matmul --size 512 --tile 128 --workers 2 --check
*/
#include <osmose.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_WINDOW 4              //  tasks in flight per lease
#define S_ATTEMPTS 3            //  runs of a task before the program gives up
#define S_CHECK_MAX 512         //  --check is the default up to this size

typedef struct {
    osmose_lease_t *lease;
    uint64_t ticket;
    char name [160];            //  provider, for the report
    bool local;
    size_t done;                //  tasks it completed
    uint64_t task_ids [S_WINDOW];
    size_t task_index [S_WINDOW];
    size_t in_flight;
} s_worker_t;

typedef struct {
    size_t n, tile, tiles;      //  N, T, N / T
    float *a, *b, *c;           //  row-major N x N
    size_t tasks;               //  tiles^3
    size_t *queue;              //  task indexes still to send
    size_t queued;
    unsigned *attempts;         //  per task
    size_t done;
    uint8_t *input;             //  one task's input, reused
    size_t input_size;
    s_worker_t *workers;
    size_t worker_count;
} s_matmul_t;

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

//  The plugin reads little-endian; this is right on any host
static void
s_put_le32 (uint8_t *to, uint32_t value)
{
    to [0] = (uint8_t) value;
    to [1] = (uint8_t) (value >> 8);
    to [2] = (uint8_t) (value >> 16);
    to [3] = (uint8_t) (value >> 24);
}

static uint32_t
s_get_le32 (const uint8_t *from)
{
    return from [0] | (uint32_t) from [1] << 8 | (uint32_t) from [2] << 16
         | (uint32_t) from [3] << 24;
}

//  Copy tile (ROW, COL) of the N x N matrix M to TO as little-endian floats
static void
s_put_tile (const s_matmul_t *self, const float *m, size_t row, size_t col, uint8_t *to)
{
    for (size_t i = 0; i < self->tile; i++) {
        const float *from = m + (row * self->tile + i) * self->n + col * self->tile;
        for (size_t j = 0; j < self->tile; j++, to += 4) {
            uint32_t bits;
            memcpy (&bits, &from [j], sizeof (bits));
            s_put_le32 (to, bits);
        }
    }
}

//  Task INDEX is the product A[i][k] * B[k][j], with k varying fastest
static void
s_task_tiles (const s_matmul_t *self, size_t index, size_t *i, size_t *j, size_t *k)
{
    *k = index % self->tiles;
    *j = index / self->tiles % self->tiles;
    *i = index / self->tiles / self->tiles;
}

static const uint8_t *
s_task_input (s_matmul_t *self, size_t index)
{
    size_t i, j, k;
    s_task_tiles (self, index, &i, &j, &k);
    size_t tile_bytes = self->tile * self->tile * 4;
    s_put_le32 (self->input, (uint32_t) self->tile);
    s_put_tile (self, self->a, i, k, self->input + 4);
    s_put_tile (self, self->b, k, j, self->input + 4 + tile_bytes);
    return self->input;
}

//  Add a product tile into C; false when the output is not one
static bool
s_add_product (s_matmul_t *self, size_t index, const uint8_t *output, size_t size)
{
    if (size != 4 + self->tile * self->tile * 4 || s_get_le32 (output) != self->tile)
        return false;
    size_t i, j, k;
    s_task_tiles (self, index, &i, &j, &k);
    const uint8_t *from = output + 4;
    for (size_t row = 0; row < self->tile; row++) {
        float *to = self->c + (i * self->tile + row) * self->n + j * self->tile;
        for (size_t col = 0; col < self->tile; col++, from += 4) {
            uint32_t bits = s_get_le32 (from);
            float value;
            memcpy (&value, &bits, sizeof (value));
            to [col] += value;
        }
    }
    return true;
}

//  "name" of the flat JSON object osmose_lease_json gives, enough for a
//  report (a real program would use a JSON library)
static void
s_json_string (const char *json, const char *key, char *value, size_t size)
{
    char pattern [64];
    snprintf (pattern, sizeof (pattern), "\"%s\"", key);
    const char *at = json? strstr (json, pattern): NULL;
    *value = '\0';
    if (!at)
        return;
    at += strlen (pattern);
    while (*at == ' ' || *at == ':')
        at++;
    if (*at++ != '"')
        return;
    size_t length = 0;
    while (at [length] && at [length] != '"' && length + 1 < size)
        length++;
    memcpy (value, at, length);
    value [length] = '\0';
}

static void
s_describe (s_worker_t *worker)
{
    char *json = NULL, name [64], location [64];
    if (osmose_lease_json (worker->lease, &json) != 0)
        json = NULL;
    s_json_string (json, "name", name, sizeof (name));
    s_json_string (json, "location", location, sizeof (location));
    osmose_free (json);
    worker->local = osmose_lease_local (worker->lease);
    snprintf (worker->name, sizeof (worker->name), "%s %s%s%s%s",
              osmose_lease_provider (worker->lease), *name? name: "?",
              *location? " (": "", location, *location? ")": "");
}

//  Bid for every lease at once, then collect them; returns how many came
static size_t
s_acquire (osmose_t *mesh, s_worker_t *workers, size_t count, const osmose_request_t *request,
           int timeout_ms)
{
    for (size_t index = 0; index < count; index++) {
        int rc = osmose_lease_acquire_async (mesh, request, &workers [index].ticket);
        if (rc) {
            fprintf (stderr, "osmose-matmul: lease %zu: %s\n", index + 1, osmose_strerror (rc));
            workers [index].ticket = 0;
        }
    }
    size_t got = 0;
    for (size_t index = 0; index < count; index++) {
        if (!workers [index].ticket)
            continue;
        int rc = osmose_lease_acquire_wait (mesh, workers [index].ticket, timeout_ms,
                                            &workers [index].lease);
        if (rc) {
            fprintf (stderr, "osmose-matmul: lease %zu: %s\n", index + 1, osmose_strerror (rc));
            continue;
        }
        s_describe (&workers [index]);
        got++;
    }
    return got;
}

//  A task did not complete: queue it again, unless it failed too often
static int
s_requeue (s_matmul_t *self, size_t index, int status, const char *reason)
{
    if (++self->attempts [index] >= S_ATTEMPTS) {
        fprintf (stderr, "osmose-matmul: task %zu failed %u times, last: %s%s%s\n", index,
                 self->attempts [index], osmose_strerror (status), *reason? ": ": "", reason);
        return -1;
    }
    self->queue [self->queued++] = index;
    return 0;
}

//  Fill WORKER's window from the queue
static int
s_feed (s_matmul_t *self, s_worker_t *worker)
{
    while (worker->lease && worker->in_flight < S_WINDOW && self->queued) {
        size_t index = self->queue [self->queued - 1];
        uint64_t task_id;
        int rc = osmose_lease_submit (worker->lease, "matrix.multiply", s_task_input (self, index),
                                      self->input_size, &task_id);
        if (rc == OSMOSE_EBUSY)
            break;
        if (rc)
            return rc;
        self->queued--;
        worker->task_ids [worker->in_flight] = task_id;
        worker->task_index [worker->in_flight++] = index;
    }
    return worker->lease? osmose_lease_flush (worker->lease): 0;
}

//  The lease of WORKER ended: its tasks go back to the queue
static void
s_drop (s_matmul_t *self, s_worker_t *worker, int code)
{
    fprintf (stderr, "osmose-matmul: lease on %s ended (%s); %zu tasks go to the others\n",
             worker->name, osmose_strerror (code), worker->in_flight);
    for (size_t slot = 0; slot < worker->in_flight; slot++)
        self->queue [self->queued++] = worker->task_index [slot];
    worker->in_flight = 0;
    osmose_lease_release (&worker->lease);
}

//  One result of WORKER, if it has one within TIMEOUT_MS; returns 1 when
//  one came, 0 when none did, -1 when the run cannot go on
static int
s_collect (s_matmul_t *self, s_worker_t *worker, int timeout_ms)
{
    osmose_result_t result;
    int rc = osmose_lease_next_result (worker->lease, timeout_ms, &result);
    if (rc == OSMOSE_ETIMEDOUT || rc == OSMOSE_ENOTFOUND)
        return 0;
    if (rc) {
        s_drop (self, worker, rc);
        return 0;
    }
    size_t slot = 0;
    while (slot < worker->in_flight && worker->task_ids [slot] != result.task_id)
        slot++;
    if (slot == worker->in_flight)
        return 0;               //  not one of ours: cannot happen
    size_t index = worker->task_index [slot];
    worker->in_flight--;
    worker->task_ids [slot] = worker->task_ids [worker->in_flight];
    worker->task_index [slot] = worker->task_index [worker->in_flight];
    if (result.status == 0 && s_add_product (self, index, result.output, result.output_size)) {
        worker->done++;
        self->done++;
        return 1;
    }
    return s_requeue (self, index, result.status? result.status: OSMOSE_EPROTO,
                      result.status? result.reason: "output is not a tile") == 0? 1: -1;
}

//  Send every task and add every product; 0 or -1
static int
s_multiply (s_matmul_t *self)
{
    while (self->done < self->tasks) {
        size_t alive = 0, busy = 0;
        for (size_t index = 0; index < self->worker_count; index++) {
            s_worker_t *worker = &self->workers [index];
            int rc = s_feed (self, worker);
            if (rc) {
                s_drop (self, worker, rc);
                continue;
            }
            alive += worker->lease != NULL;
            busy += worker->in_flight > 0;
        }
        if (!alive) {
            fprintf (stderr, "osmose-matmul: every lease ended with %zu of %zu tasks done\n",
                     self->done, self->tasks);
            return -1;
        }
        //  Look at every busy lease; wait a little on each when none had
        //  a result, so one slow provider does not hold the others up
        size_t got = 0;
        for (int pass = 0; pass < 2 && got == 0 && busy; pass++)
            for (size_t index = 0; index < self->worker_count; index++) {
                s_worker_t *worker = &self->workers [index];
                if (!worker->lease || worker->in_flight == 0)
                    continue;
                int rc = s_collect (self, worker, pass == 0? 0: 1);
                if (rc < 0)
                    return -1;
                got += rc;
            }
    }
    return 0;
}

//  The reference: plain triple loop, sums in double
static double
s_check (const s_matmul_t *self, double *seconds)
{
    double started = s_now (), worst = 0;
    size_t n = self->n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0;
            for (size_t k = 0; k < n; k++)
                sum += (double) self->a [i * n + k] * self->b [k * n + j];
            double error = sum - self->c [i * n + j];
            if (error < 0)
                error = -error;
            if (error > worst)
                worst = error;
        }
    *seconds = s_now () - started;
    return worst;
}

static void
s_fill (float *m, size_t cells, uint64_t *state)
{
    for (size_t index = 0; index < cells; index++) {
        //  xorshift64: the same matrices on every run with the same seed
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        m [index] = (float) ((double) (*state >> 11) / (double) (1ULL << 53) * 2.0 - 1.0);
    }
}

static int
s_setup (s_matmul_t *self, size_t n, size_t tile, uint64_t seed)
{
    memset (self, 0, sizeof (*self));
    self->n = n;
    self->tile = tile;
    self->tiles = n / tile;
    self->tasks = self->tiles * self->tiles * self->tiles;
    self->input_size = 4 + 2 * tile * tile * 4;
    self->a = (float *) malloc (n * n * sizeof (float));
    self->b = (float *) malloc (n * n * sizeof (float));
    self->c = (float *) calloc (n * n, sizeof (float));
    self->queue = (size_t *) malloc (self->tasks * sizeof (size_t));
    self->attempts = (unsigned *) calloc (self->tasks, sizeof (unsigned));
    self->input = (uint8_t *) malloc (self->input_size);
    if (!self->a || !self->b || !self->c || !self->queue || !self->attempts || !self->input)
        return -1;
    uint64_t state = seed? seed: 1;
    s_fill (self->a, n * n, &state);
    s_fill (self->b, n * n, &state);
    //  Popped from the end: task 0 goes first
    for (size_t index = 0; index < self->tasks; index++)
        self->queue [index] = self->tasks - 1 - index;
    self->queued = self->tasks;
    return 0;
}

static void
s_teardown (s_matmul_t *self)
{
    for (size_t index = 0; self->workers && index < self->worker_count; index++)
        osmose_lease_release (&self->workers [index].lease);
    free (self->workers);
    free (self->a);
    free (self->b);
    free (self->c);
    free (self->queue);
    free (self->attempts);
    free (self->input);
}

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: osmose-matmul [OPTION]...\n"
"Multiply two random N x N float32 matrices on workers leased from the\n"
"nearest peers of the osmose mesh: C is cut into T x T tiles, each product\n"
"of two tiles is one matrix.multiply task, and the products are added up\n"
"here as they come back. When no peer leases, the work runs on this device.\n"
"Prints the time the product took (from the first task to the last result;\n"
"the bidding for the leases is timed apart) and the workers used.\n"
"\n"
"  -n, --size N         matrix size (default 1024; at most 16384)\n"
"  -b, --tile T         tile size, a divisor of N (default 256; at most 4096)\n"
"  -w, --workers W      leases to take, one CPU each (default 2)\n"
"  -c, --check          compare with a plain local multiplication (the\n"
"                       default up to N = %d; --no-check turns it off)\n"
"  -s, --seed S         seed of the random matrices (default 1)\n"
"  -l, --local-first    lease this device first when it has room\n"
"  -e, --endpoint EP    the daemon's API (default $OSMOSE_ENDPOINT or\n"
"                       " OSMOSE_DEFAULT_ENDPOINT ")\n"
"  -t, --timeout MS     how long to wait for the leases (default 5000)\n"
"  -j, --json           one JSON object instead of text\n"
"  -h, --help           show this help\n"
"\n"
"Exit status: 0 done (and checked), 1 a task or the check failed, 2 usage\n"
"error, 3 osmosed not reachable, 6 no lease at all.\n", S_CHECK_MAX);
}

static bool
s_size_arg (const char *arg, size_t max, size_t *value_p)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull (arg, &end, 10);
    if (errno || end == arg || *end || value == 0 || value > max)
        return false;
    *value_p = (size_t) value;
    return true;
}

static void
s_report (const s_matmul_t *self, double lease_seconds, double seconds, bool json, int check,
          double error, double check_seconds)
{
    double gflops = 2.0 * self->n * self->n * self->n / seconds / 1e9;
    if (json) {
        printf ("{\"size\":%zu,\"tile\":%zu,\"tasks\":%zu,\"seconds\":%.6f,\"gflops\":%.3f,"
                "\"lease_seconds\":%.6f,\"workers\":[", self->n, self->tile, self->tasks, seconds,
                gflops, lease_seconds);
        for (size_t index = 0, shown = 0; index < self->worker_count; index++) {
            const s_worker_t *worker = &self->workers [index];
            if (!*worker->name)
                continue;
            printf ("%s{\"provider\":\"%.16s\",\"local\":%s,\"tasks\":%zu}", shown++? ",": "",
                    worker->name, worker->local? "true": "false", worker->done);
        }
        printf ("]");
        if (check)
            printf (",\"check\":{\"max_error\":%g,\"ok\":%s,\"seconds\":%.6f}", error,
                    check > 0? "true": "false", check_seconds);
        printf ("}\n");
        return;
    }
    size_t used = 0;
    for (size_t index = 0; index < self->worker_count; index++)
        used += *self->workers [index].name != '\0';
    printf ("%zux%zu in %zu tasks (tiles of %zu) on %zu workers: %.3f s, %.2f GFLOP/s"
            " (leasing took %.3f s more)\n", self->n, self->n, self->tasks, self->tile, used,
            seconds, gflops, lease_seconds);
    for (size_t index = 0; index < self->worker_count; index++) {
        const s_worker_t *worker = &self->workers [index];
        if (*worker->name)
            printf ("  worker %zu: %s%s, %zu tasks\n", index + 1, worker->name,
                    worker->local? " [this device]": "", worker->done);
    }
    if (check)
        printf ("check: largest difference from a local multiplication %.3g (%s), local took"
                " %.3f s\n", error, check > 0? "OK": "WRONG", check_seconds);
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "size", required_argument, NULL, 'n' },
        { "tile", required_argument, NULL, 'b' },
        { "workers", required_argument, NULL, 'w' },
        { "check", no_argument, NULL, 'c' },
        { "no-check", no_argument, NULL, 'C' },
        { "seed", required_argument, NULL, 's' },
        { "local-first", no_argument, NULL, 'l' },
        { "endpoint", required_argument, NULL, 'e' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    size_t n = 1024, tile = 256, workers = 2, seed = 1, timeout_ms = 5000;
    int check = -1;             //  -1: by size
    bool json = false, local_first = false;
    const char *endpoint = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "n:b:w:cs:le:t:jh", options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
            case 'n': ok = s_size_arg (optarg, 16384, &n); break;
            case 'b': ok = s_size_arg (optarg, 4096, &tile); break;
            case 'w': ok = s_size_arg (optarg, 1024, &workers); break;
            case 's': ok = s_size_arg (optarg, SIZE_MAX, &seed); break;
            case 't': ok = s_size_arg (optarg, 3600000, &timeout_ms); break;
            case 'c': check = 1; break;
            case 'C': check = 0; break;
            case 'l': local_first = true; break;
            case 'e': endpoint = optarg; break;
            case 'j': json = true; break;
            case 'h': s_usage (stdout); return 0;
            default:
                fprintf (stderr, "Try 'osmose-matmul --help' for more information.\n");
                return 2;
        }
        if (!ok) {
            fprintf (stderr, "osmose-matmul: %s '%s': expected a whole number > 0 in range\n",
                     argv [optind - 1], optarg);
            return 2;
        }
    }
    if (optind < argc || n % tile) {
        fprintf (stderr, optind < argc? "osmose-matmul: unexpected argument '%s'\n":
                 "osmose-matmul: the tile size must divide the matrix size\n", argv [optind]);
        return 2;
    }
    if (check < 0)
        check = n <= S_CHECK_MAX;

    osmose_t *mesh = NULL;
    int rc = osmose_connect (endpoint, 3000, &mesh);
    if (rc) {
        fprintf (stderr, "osmose-matmul: cannot reach osmosed: %s\n", osmose_strerror (rc));
        return 3;
    }
    s_matmul_t matmul;
    if (s_setup (&matmul, n, tile, seed)
    ||  !(matmul.workers = (s_worker_t *) calloc (workers, sizeof (s_worker_t)))) {
        fprintf (stderr, "osmose-matmul: out of memory for %zux%zu matrices\n", n, n);
        s_teardown (&matmul);
        osmose_disconnect (&mesh);
        return 1;
    }
    matmul.worker_count = workers;

    osmose_request_t request;
    osmose_request_init (&request);
    request.cpus = 1;
    request.memory_mb = (int64_t) (3 * tile * tile * 4 * 2 / (1024 * 1024)) + 1;
    request.strategy = local_first? OSMOSE_LOCAL_FIRST: OSMOSE_EAGER_REMOTE;
    request.failure = OSMOSE_RETRY_LOCAL;   //  no peer: this device
    //  The time of the product is from the first task to the last result;
    //  bidding for the leases is timed on its own
    double started = s_now ();
    int exit_code = 0;
    size_t leased = s_acquire (mesh, matmul.workers, workers, &request, (int) timeout_ms);
    double lease_seconds = s_now () - started;
    started = s_now ();
    if (leased == 0)
        exit_code = 6;
    else
    if (s_multiply (&matmul))
        exit_code = 1;
    double seconds = s_now () - started;

    double error = 0, check_seconds = 0;
    if (exit_code == 0 && check) {
        error = s_check (&matmul, &check_seconds);
        //  float32 sums of N products of numbers in [-1, 1]: relative
        //  error about 1e-7 * sqrt (N) per element
        check = error <= 1e-5 * (double) n? 1: -1;
        if (check < 0)
            exit_code = 1;
    }
    if (exit_code == 0 || check < 0)
        s_report (&matmul, lease_seconds, seconds, json, check, error, check_seconds);
    s_teardown (&matmul);
    osmose_disconnect (&mesh);
    return exit_code;
}
