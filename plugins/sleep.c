/*  sleep: plugins that misbehave on purpose, to test the executor.
    sleep.ms     input: decimal milliseconds; sleeps, stopping early when
                 cancelled; output "slept N ms"
    sleep.crash  dies of a segmentation fault
    sleep.hog    input: decimal MiB cap (default 65536); allocates and
                 touches 1 MiB blocks until allocation fails (the worker's
                 memory limit) or the cap; fails "out of memory"
    sleep.count  input: "N [STEP_US]"; counts to N, sleeping STEP_US (default
                 1000) per step, saving a checkpoint every 10 steps and
                 resuming from one; output "counted N from K"
*/
#include "osmose_plugin.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Parse up to two decimal numbers from IN; returns how many were found
static int
s_numbers (const uint8_t *in, size_t in_size, unsigned long long *first, unsigned long long *second)
{
    char text [64];
    if (in_size >= sizeof (text))
        return 0;
    memcpy (text, in, in_size);
    text [in_size] = '\0';
    return sscanf (text, "%llu %llu", first, second);
}

static void
s_sleep_us (long us)
{
    struct timespec pause = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep (&pause, NULL);
}

static int
s_ms (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    unsigned long long ms = 0, unused;
    if (s_numbers (in, in_size, &ms, &unused) < 1)
        return OSMOSE_PLUGIN_EINVAL;
    for (unsigned long long left = ms; left > 0;) {
        if (osmose_plugin_cancelled (ctx))
            return OSMOSE_PLUGIN_ECANCELED;
        unsigned long long slice = left < 5? left: 5;
        s_sleep_us ((long) slice * 1000);
        left -= slice;
    }
    char text [64];
    int length = snprintf (text, sizeof (text), "slept %llu ms", ms);
    return osmose_plugin_out_write (out, text, (size_t) length);
}

static int
s_crash (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    raise (SIGSEGV);
    return OSMOSE_PLUGIN_ETASK;
}

static int
s_hog (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    unsigned long long cap = 65536, unused;
    if (in_size && s_numbers (in, in_size, &cap, &unused) < 1)
        return OSMOSE_PLUGIN_EINVAL;
    void **blocks = NULL;
    unsigned long long count = 0;
    int rc = 0;
    while (count < cap) {
        void **more = (void **) realloc (blocks, (count + 1) * sizeof (void *));
        void *block = more? malloc (1 << 20): NULL;
        if (more)
            blocks = more;
        if (!block) {
            rc = OSMOSE_PLUGIN_ENOMEM;
            break;
        }
        memset (block, 0x5a, 1 << 20);
        blocks [count++] = block;
    }
    for (unsigned long long index = 0; index < count; index++)
        free (blocks [index]);
    free (blocks);
    if (rc) {
        char text [96];
        snprintf (text, sizeof (text), "out of memory after %llu MiB", count);
        osmose_plugin_fail (ctx, text);
        return rc;
    }
    char text [64];
    int length = snprintf (text, sizeof (text), "allocated %llu MiB", count);
    return osmose_plugin_out_write (out, text, (size_t) length);
}

static int
s_count (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    unsigned long long target = 0, step_us = 1000;
    if (s_numbers (in, in_size, &target, &step_us) < 1 || step_us > 1000000)
        return OSMOSE_PLUGIN_EINVAL;
    size_t saved_size;
    const uint8_t *saved = osmose_plugin_resume (ctx, &saved_size);
    unsigned long long at = 0;
    if (saved && saved_size == sizeof (at))
        memcpy (&at, saved, sizeof (at));
    if (at > target)
        return OSMOSE_PLUGIN_EINVAL;
    unsigned long long from = at;
    while (at < target) {
        if (osmose_plugin_cancelled (ctx))
            return OSMOSE_PLUGIN_ECANCELED;
        s_sleep_us ((long) step_us);
        at++;
        if (at % 10 == 0) {
            int rc = osmose_plugin_checkpoint (ctx, &at, sizeof (at));
            if (rc)
                return rc;
        }
    }
    char text [64];
    int length = snprintf (text, sizeof (text), "counted %llu from %llu", at, from);
    return osmose_plugin_out_write (out, text, (size_t) length);
}

static const osmose_plugin_function_t s_functions [] = {
    { "ms", s_ms, 0 },
    { "crash", s_crash, 0 },
    { "hog", s_hog, 0 },
    { "count", s_count, OSMOSE_PLUGIN_FN_CHECKPOINTS },
};

OSMOSE_PLUGIN_EXPORT const osmose_plugin_descriptor_t osmose_plugin_descriptor = {
    OSMOSE_PLUGIN_ABI, "sleep", "1.0.0", sizeof (s_functions) / sizeof (s_functions [0]), s_functions
};
