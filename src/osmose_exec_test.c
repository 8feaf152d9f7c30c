/*  osmose_exec_test.c: self-test of the executor, with real worker
    processes and the example plugins of the build tree (found through
    $OSMOSE_WORKER and $OSMOSE_PLUGIN_BUILD_DIR, set by "make check").
*/
#include "osmose_prelude.h"
#include "osmose_exec.h"
#include "osmose_plugins.h"

typedef struct {
    int status;
    char reason [160];
    uint8_t *output;
    size_t output_size;
    uint8_t *checkpoint;
    size_t checkpoint_size;
    uint64_t total_us;
    int count;                  //  results seen for this id
} s_got_t;

static void
s_got_reset (s_got_t *got, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        free (got [index].output);
        free (got [index].checkpoint);
    }
    memset (got, 0, count * sizeof (s_got_t));
}

//  Collect results into GOT (indexed by task id) until WANTED arrived
static size_t
s_collect (osmose_exec_t *exec, s_got_t *got, size_t size, size_t wanted, int timeout_ms)
{
    size_t arrived = 0;
    int64_t until = zclock_mono () + timeout_ms;
    while (arrived < wanted && zclock_mono () < until) {
        osmose_exec_wait (exec, 100);
        osmose_exec_result_t result;
        while (osmose_exec_next_result (exec, &result) == 1) {
            assert (result.task_id < size);
            s_got_t *entry = &got [result.task_id];
            entry->count++;
            entry->status = result.status;
            snprintf (entry->reason, sizeof (entry->reason), "%s", result.reason);
            entry->output_size = result.output_size;
            entry->output = (uint8_t *) malloc (result.output_size + 1);
            if (result.output_size)
                memcpy (entry->output, result.output, result.output_size);
            entry->output [result.output_size] = 0;
            entry->checkpoint_size = result.checkpoint_size;
            if (result.checkpoint_size) {
                entry->checkpoint = (uint8_t *) malloc (result.checkpoint_size);
                memcpy (entry->checkpoint, result.checkpoint, result.checkpoint_size);
            }
            entry->total_us = result.total_us;
            arrived++;
        }
    }
    return arrived;
}

static void
s_trust (zlistx_t *trusted, const char *dir, const char *name)
{
    char path [4200], hex [OSMOSE_PLUGINS_HASH_HEX];
    snprintf (path, sizeof (path), "%s/%s.so", dir, name);
    assert (osmose_plugins_hash_file (path, hex) == 0);
    zlistx_add_end (trusted, strdup (hex));
}

//  Input of a matrix.multiply task, and the naive product to check it
static size_t
s_matrix_task (uint32_t n, uint8_t *input, float *expect)
{
    float *a = (float *) (input + 4), *b = a + n * n;
    memcpy (input, &n, 4);
    for (uint32_t cell = 0; cell < 2 * n * n; cell++)
        a [cell] = (float) (randombytes_uniform (2001)) / 1000.0f - 1.0f;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            float sum = 0;
            for (uint32_t k = 0; k < n; k++)
                sum += a [i * n + k] * b [k * n + j];
            expect [i * n + j] = sum;
        }
    return 4 + 2 * (size_t) n * n * sizeof (float);
}

//  2000 echo tasks, 50 matrix products and a few hash tasks at once
static void
s_test_many (osmose_exec_t *exec, s_got_t *got)
{
    enum { ECHOES = 2000, MATRICES = 50 };
    for (uint64_t id = 0; id < ECHOES; id++) {
        uint8_t input [300];
        size_t size = id % 300;
        for (size_t index = 0; index < size; index++)
            input [index] = (uint8_t) (id * 7 + index);
        assert (osmose_exec_submit (exec, id, "echo.echo", input, size, NULL, 0) == 0);
    }
    static uint8_t inputs [MATRICES][4 + 2 * 40 * 40 * 4];
    static float expect [MATRICES][40 * 40];
    for (uint32_t index = 0; index < MATRICES; index++) {
        uint32_t n = 8 + index % 33;
        size_t size = s_matrix_task (n, inputs [index], expect [index]);
        assert (osmose_exec_submit (exec, ECHOES + index, "matrix.multiply",
                                    inputs [index], size, NULL, 0) == 0);
    }
    const char *text = "abcabcabcabcabcabcabcabc hello hello hello hello";
    uint8_t compressed [256];
    assert (osmose_exec_submit (exec, ECHOES + MATRICES, "hash.blake2b", text, strlen (text), NULL, 0) == 0);
    assert (osmose_exec_submit (exec, ECHOES + MATRICES + 1, "hash.compress", text, strlen (text), NULL, 0) == 0);
    assert (osmose_exec_submit (exec, ECHOES + MATRICES + 2, "echo.fail", "no good", 7, NULL, 0) == 0);
    size_t total = ECHOES + MATRICES + 3;
    assert (s_collect (exec, got, total, total, 20000) == total);
    for (uint64_t id = 0; id < ECHOES; id++) {
        assert (got [id].count == 1 && got [id].status == 0);
        assert (got [id].output_size == id % 300);
        for (size_t index = 0; index < got [id].output_size; index++)
            assert (got [id].output [index] == (uint8_t) (id * 7 + index));
    }
    for (uint32_t index = 0; index < MATRICES; index++) {
        s_got_t *entry = &got [ECHOES + index];
        uint32_t n = 8 + index % 33, echoed;
        assert (entry->count == 1 && entry->status == 0);
        assert (entry->output_size == 4 + (size_t) n * n * 4);
        memcpy (&echoed, entry->output, 4);
        assert (echoed == n);
        for (uint32_t cell = 0; cell < n * n; cell++) {
            float value;
            memcpy (&value, entry->output + 4 + cell * 4, 4);
            assert (fabsf (value - expect [index][cell]) <= 1e-4f * (1.0f + fabsf (expect [index][cell])));
        }
    }
    uint8_t digest [32];
    crypto_generichash (digest, 32, (const uint8_t *) text, strlen (text), NULL, 0);
    assert (got [ECHOES + MATRICES].status == 0 && got [ECHOES + MATRICES].output_size == 32);
    assert (memcmp (got [ECHOES + MATRICES].output, digest, 32) == 0);
    s_got_t *packed = &got [ECHOES + MATRICES + 1];
    assert (packed->status == 0 && packed->output_size < strlen (text));
    memcpy (compressed, packed->output, packed->output_size);
    size_t compressed_size = packed->output_size;
    assert (got [ECHOES + MATRICES + 2].status == OSMOSE_EINVAL);
    assert (streq (got [ECHOES + MATRICES + 2].reason, "no good"));
    s_got_reset (got, total);
    //  Round trip, and damaged input refused
    assert (osmose_exec_submit (exec, 0, "hash.decompress", compressed, compressed_size, NULL, 0) == 0);
    compressed [compressed_size - 3] ^= 0x40;
    compressed [9] = 0xff;
    assert (osmose_exec_submit (exec, 1, "hash.decompress", compressed, compressed_size - 5, NULL, 0) == 0);
    assert (s_collect (exec, got, 2, 2, 5000) == 2);
    assert (got [0].status == 0 && got [0].output_size == strlen (text));
    assert (memcmp (got [0].output, text, strlen (text)) == 0);
    assert (got [1].status == OSMOSE_EINVAL);
    s_got_reset (got, 2);
}

//  A crash fails its task only, even among many short tasks whose results
//  the worker had not sent yet; the others all complete, exactly once
static void
s_test_crash (osmose_exec_t *exec, s_got_t *got)
{
    osmose_exec_stats_t before, after;
    osmose_exec_stats (exec, &before);
    for (uint64_t id = 0; id < 500; id++) {
        if (id % 100 == 50)
            assert (osmose_exec_submit (exec, id, "sleep.crash", NULL, 0, NULL, 0) == 0);
        else
            assert (osmose_exec_submit (exec, id, "echo.echo", &id, sizeof (id), NULL, 0) == 0);
    }
    assert (s_collect (exec, got, 500, 500, 20000) == 500);
    for (uint64_t id = 0; id < 500; id++) {
        assert (got [id].count == 1);
        if (id % 100 == 50) {
            assert (got [id].status == OSMOSE_ETASK);
            assert (strstr (got [id].reason, "worker crashed") || strstr (got [id].reason, "worker exited"));
        }
        else
            assert (got [id].status == 0 && got [id].output_size == 8
                    && memcmp (got [id].output, &id, 8) == 0);
    }
    zclock_sleep (20);
    assert (osmose_exec_process (exec) == 0);       //  no late duplicates
    osmose_exec_stats (exec, &after);
    assert (after.crashed == before.crashed + 5);
    assert (after.restarts >= before.restarts + 5);
    s_got_reset (got, 500);
}

//  Groups on two workers: a group limited to one worker runs its tasks
//  one at a time however many it sends, and a second group sent behind it
//  gets the other worker in turn instead of waiting for the first to drain
static void
s_test_groups (osmose_exec_t *exec)
{
    assert (osmose_exec_set_group (exec, 0, 1) == OSMOSE_EINVAL);
    assert (osmose_exec_set_group (exec, OSMOSE_EXEC_MAX_GROUPS, 1) == OSMOSE_EINVAL);
    assert (osmose_exec_submit_to (exec, OSMOSE_EXEC_MAX_GROUPS, 1, "sleep.ms", "1", 1,
                                   NULL, 0) == OSMOSE_EINVAL);
    assert (osmose_exec_set_group (exec, 7, 1) == 0);
    assert (osmose_exec_set_group (exec, 9, 1) == 0);
    enum { FIRST = 6, SECOND = 2, MS = 40 };
    int64_t start = zclock_mono ();
    for (uint64_t id = 0; id < FIRST; id++)
        assert (osmose_exec_submit_to (exec, 7, id, "sleep.ms", "40", 2, NULL, 0) == 0);
    for (uint64_t id = FIRST; id < FIRST + SECOND; id++)
        assert (osmose_exec_submit_to (exec, 9, id, "sleep.ms", "40", 2, NULL, 0) == 0);
    //  Arrival order, and when the first group's last result came
    int order [FIRST + SECOND];
    int arrived = 0;
    int64_t until = start + 20000, first_done = 0;
    while (arrived < FIRST + SECOND && zclock_mono () < until) {
        osmose_exec_wait (exec, 100);
        osmose_exec_result_t result;
        while (osmose_exec_next_result (exec, &result) == 1) {
            assert (result.task_id < FIRST + SECOND && result.status == 0);
            order [arrived++] = (int) result.task_id;
            if (result.task_id < FIRST)
                first_done = zclock_mono ();
        }
    }
    assert (arrived == FIRST + SECOND);
    //  One worker for the first group: its tasks took turns
    assert (first_done - start >= FIRST * MS - 5);
    //  The second group's tasks did not wait for the first group's
    int last_of_second = 0;
    for (int index = 0; index < arrived; index++)
        if (order [index] >= FIRST)
            last_of_second = index;
    assert (last_of_second < arrived - 1 && order [arrived - 1] < FIRST);
}

//  Timeout and checkpoint/resume on one worker with a short deadline;
//  cancel and memory on one with a long one. Bounds are loose: the machine
//  may be busy.
static void
s_test_limits (const char *worker, const char *dir, zlistx_t *trusted, s_got_t *got)
{
    osmose_exec_config_t config = { .worker_path = worker, .plugin_dir = dir, .trusted = trusted,
                                    .workers = 1, .timeout_ms = 1000, .memory_mb = 256 };
    osmose_exec_t *exec = osmose_exec_new (&config);
    assert (exec);
    //  Past its deadline: killed and reported; the next task runs
    assert (osmose_exec_submit (exec, 0, "sleep.ms", "30000", 5, NULL, 0) == 0);
    assert (osmose_exec_submit (exec, 1, "echo.echo", "after", 5, NULL, 0) == 0);
    assert (s_collect (exec, got, 2, 2, 10000) == 2);
    assert (got [0].status == OSMOSE_ETASK && streq (got [0].reason, "timed out after 1000 ms"));
    assert (got [0].total_us >= 1000000 && got [0].total_us < 5000000);
    assert (got [1].status == 0 && got [1].output_size == 5);
    osmose_exec_stats_t stats;
    osmose_exec_stats (exec, &stats);
    assert (stats.timeouts == 1 && stats.crashed == 0);
    s_got_reset (got, 2);

    //  A counting task killed for time leaves a checkpoint; resumed, it
    //  finishes from there. 2000 steps of 1 ms cannot finish in 1 s.
    assert (osmose_exec_submit (exec, 0, "sleep.count", "2000 1000", 9, NULL, 0) == 0);
    size_t live_size = 0;
    const uint8_t *live = NULL;
    for (int attempt = 0; attempt < 80 && !live; attempt++) {
        osmose_exec_wait (exec, 10);
        live = osmose_exec_checkpoint (exec, 0, &live_size);
    }
    assert (live && live_size == 8);
    assert (s_collect (exec, got, 1, 1, 10000) == 1);
    assert (got [0].status == OSMOSE_ETASK && got [0].checkpoint_size == 8);
    uint64_t reached;
    memcpy (&reached, got [0].checkpoint, 8);
    assert (reached >= 10 && reached < 2000 && reached % 10 == 0);
    assert (osmose_exec_submit (exec, 1, "sleep.count", "2000 20", 7,
                                got [0].checkpoint, got [0].checkpoint_size) == 0);
    assert (s_collect (exec, got, 2, 1, 10000) == 1);
    char expect [64];
    snprintf (expect, sizeof (expect), "counted 2000 from %" PRIu64, reached);
    assert (got [1].status == 0 && streq ((char *) got [1].output, expect));
    s_got_reset (got, 2);
    osmose_exec_destroy (&exec);

    config.timeout_ms = 20000;
    exec = osmose_exec_new (&config);
    assert (exec);
    //  Cancel a running task and one waiting behind it
    assert (osmose_exec_submit (exec, 0, "sleep.ms", "10000", 5, NULL, 0) == 0);
    assert (osmose_exec_submit (exec, 1, "echo.echo", "x", 1, NULL, 0) == 0);
    assert (osmose_exec_submit (exec, 2, "echo.echo", "y", 1, NULL, 0) == 0);
    assert (osmose_exec_cancel (exec, 7) == OSMOSE_ENOTFOUND);
    zclock_sleep (50);
    osmose_exec_process (exec);
    assert (osmose_exec_cancel (exec, 0) == 0);
    assert (osmose_exec_cancel (exec, 1) == 0);
    assert (osmose_exec_cancel (exec, 1) == OSMOSE_ENOTFOUND);
    assert (s_collect (exec, got, 3, 3, 8000) == 3);
    assert (got [0].status == OSMOSE_ECANCELED && got [0].count == 1);
    assert (got [1].status == OSMOSE_ECANCELED && got [1].count == 1);
    //  The sleep stopped early: the next task did not wait 10 s for it
    assert (got [2].status == 0 && got [2].total_us < 5000000);
    s_got_reset (got, 3);
    zclock_sleep (50);
    assert (osmose_exec_process (exec) == 0);       //  no late duplicates
    osmose_exec_stats (exec, &stats);
    assert (stats.cancelled == 2 && stats.timeouts == 0 && stats.crashed == 0);

    //  A task waiting in the worker behind a running one is skipped, not
    //  run: cancel a 3 s sleep queued behind a 300 ms one; the echo after
    //  both comes back long before 3 s
    assert (osmose_exec_submit (exec, 0, "sleep.ms", "300", 3, NULL, 0) == 0);
    assert (osmose_exec_submit (exec, 1, "sleep.ms", "3000", 4, NULL, 0) == 0);
    assert (osmose_exec_submit (exec, 2, "echo.echo", "z", 1, NULL, 0) == 0);
    zclock_sleep (20);
    osmose_exec_process (exec);
    assert (osmose_exec_cancel (exec, 1) == 0);
    assert (s_collect (exec, got, 3, 3, 8000) == 3);
    assert (got [0].status == 0 && got [1].status == OSMOSE_ECANCELED);
    assert (got [2].status == 0 && got [2].total_us < 2500000);
    s_got_reset (got, 3);

#ifndef OSMOSE_ASAN
    //  Memory: within the limit fine, beyond it a task failure
    assert (osmose_exec_submit (exec, 0, "sleep.hog", "16", 2, NULL, 0) == 0);
    assert (osmose_exec_submit (exec, 1, "sleep.hog", "2048", 4, NULL, 0) == 0);
    assert (osmose_exec_submit (exec, 2, "echo.echo", "ok", 2, NULL, 0) == 0);
    assert (s_collect (exec, got, 3, 3, 15000) == 3);
    assert (got [0].status == 0 && streq ((char *) got [0].output, "allocated 16 MiB"));
    assert (got [1].status == OSMOSE_ETASK);
    assert (strstr (got [1].reason, "out of memory"));
    assert (got [2].status == 0);
    s_got_reset (got, 3);
#endif
    osmose_exec_destroy (&exec);
}

void
osmose_exec_test (bool verbose)
{
    printf (" * osmose_exec: ");
    const char *worker = getenv ("OSMOSE_WORKER");
    const char *dir = getenv ("OSMOSE_PLUGIN_BUILD_DIR");
    char echo_so [4200];
    snprintf (echo_so, sizeof (echo_so), "%s/echo.so", dir? dir: "");
    if (!worker || !dir || access (worker, X_OK) || access (echo_so, R_OK)) {
        printf ("(no OSMOSE_WORKER / OSMOSE_PLUGIN_BUILD_DIR: skipped) OK\n");
        return;
    }
    static s_got_t got [2100];
    zlistx_t *trusted = zlistx_new ();
    zlistx_set_destructor (trusted, (zlistx_destructor_fn *) zstr_free);
    s_trust (trusted, dir, "echo");

    //  Only trusted plugins are loaded
    osmose_exec_config_t config = { .worker_path = worker, .plugin_dir = dir, .trusted = trusted,
                                    .workers = 1, .timeout_ms = 5000 };
    osmose_exec_t *exec = osmose_exec_new (&config);
    assert (exec);
    assert (osmose_exec_has_function (exec, "echo.echo"));
    assert (!osmose_exec_has_function (exec, "sleep.ms"));
    assert (!osmose_exec_has_function (exec, "badabi.nothing"));
    assert (osmose_exec_submit (exec, 1, "sleep.ms", "1", 1, NULL, 0) == OSMOSE_ENOTFOUND);
    osmose_exec_destroy (&exec);
    assert (exec == NULL);

    //  A worker that cannot start: no executor, a clear log line
    config.worker_path = "/nonexistent/osmose-worker";
    assert (osmose_exec_new (&config) == NULL);

    s_trust (trusted, dir, "sleep");
    s_trust (trusted, dir, "matrix");
    s_trust (trusted, dir, "hash");
    config = (osmose_exec_config_t) { .worker_path = worker, .plugin_dir = dir,
                                      .trusted = trusted, .workers = 2, .timeout_ms = 10000 };
    exec = osmose_exec_new (&config);
    assert (exec);
    assert (osmose_exec_has_function (exec, "matrix.multiply"));
    assert (osmose_exec_submit (exec, 1, "nosuch.function", "", 0, NULL, 0) == OSMOSE_ENOTFOUND);
    //  The daemon's way: a zpoller on the executor's handle
    zpoller_t *poller = zpoller_new (osmose_exec_handle (exec), NULL);
    assert (poller);
    assert (osmose_exec_submit (exec, 5, "echo.echo", "poll", 4, NULL, 0) == 0);
    size_t ready = 0;
    for (int attempt = 0; attempt < 50 && !ready; attempt++)
        if (zpoller_wait (poller, 100) == osmose_exec_handle (exec))
            ready = osmose_exec_process (exec);
    assert (ready == 1);
    osmose_exec_result_t result;
    assert (osmose_exec_next_result (exec, &result) == 1);
    assert (result.task_id == 5 && result.status == 0 && result.output_size == 4);
    assert (memcmp (result.output, "poll", 4) == 0 && streq (result.reason, ""));
    assert (osmose_exec_next_result (exec, &result) == 0);
    zpoller_destroy (&poller);
    s_test_many (exec, got);
    s_test_groups (exec);
    s_test_crash (exec, got);
    //  The replacement comes up
    osmose_exec_stats_t stats;
    int64_t until = zclock_mono () + 5000;
    do {
        osmose_exec_wait (exec, 20);
        osmose_exec_stats (exec, &stats);
    } while (stats.workers < 2 && zclock_mono () < until);
    assert (stats.queued == 0 && stats.running == 0 && stats.workers == 2);
    if (verbose)
        printf ("(%" PRIu64 " tasks, %" PRIu64 " failed, %" PRIu64 " restarts) ",
                stats.submitted, stats.failed, stats.restarts);
    osmose_exec_destroy (&exec);

    s_test_limits (worker, dir, trusted, got);
    zlistx_destroy (&trusted);
    printf ("OK\n");
}
