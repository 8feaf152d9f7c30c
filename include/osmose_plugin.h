/*  osmose_plugin.h: what a plugin author needs to write an osmose plugin.

    A plugin is a shared object that exports ONE symbol, a descriptor named
    osmose_plugin_descriptor, listing named functions. A task calls
    "plugin.function" with a byte buffer in and gets a byte buffer out.
    Providers run tasks in worker processes, never inside osmosed, under a
    time limit and an address-space limit; a plugin that crashes kills only
    its worker. Only plugins whose BLAKE2b-256 file hash the provider trusts
    are loaded (see 'osmose plugin hash' and 'osmose plugin trust').

    A minimal plugin, built with "cc -shared -fPIC -o upper.so upper.c":

        #include <osmose_plugin.h>
        #include <ctype.h>

        static int
        s_upper (const uint8_t *in, size_t in_size,
                 osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
        {
            uint8_t *bytes = osmose_plugin_out_reserve (out, in_size);
            if (!bytes)
                return OSMOSE_PLUGIN_ENOMEM;
            for (size_t index = 0; index < in_size; index++)
                bytes [index] = (uint8_t) toupper (in [index]);
            return 0;
        }

        static const osmose_plugin_function_t s_functions [] = {
            { "upper", s_upper, 0 },
        };
        OSMOSE_PLUGIN_EXPORT const osmose_plugin_descriptor_t
        osmose_plugin_descriptor = {
            OSMOSE_PLUGIN_ABI, "text", "1.0.0", 1, s_functions
        };

    Rules for functions:
    - Return 0 on success, or a negative code (OSMOSE_PLUGIN_E*, the same
      values as include/osmose.h's OSMOSE_E*); the task then fails with that
      code and the message set by osmose_plugin_fail, if any.
    - IN is valid only during the call. Produce output only through OUT.
    - Long functions should call osmose_plugin_cancelled now and then and
      return OSMOSE_PLUGIN_ECANCELED when it says true: the task was
      cancelled or is past its deadline (the worker is killed soon after).
    - A function flagged OSMOSE_PLUGIN_FN_CHECKPOINTS may save progress with
      osmose_plugin_checkpoint; when the task is moved or retried, the next
      call finds the last saved bytes through osmose_plugin_resume and
      should continue from there rather than restart.
    - Each worker runs one task at a time in its main thread; a function may
      keep static state between tasks but must not rely on it.
    - Names: plugin and function names are 1..31 characters of [a-z0-9_-];
      a descriptor lists at most OSMOSE_PLUGIN_MAX_FUNCTIONS functions.

    This header needs no osmose library: the host passes its services to the
    plugin through function pointers inside OUT and CTX.
*/
#ifndef OSMOSE_PLUGIN_H_INCLUDED
#define OSMOSE_PLUGIN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Version of this interface. A host loads only plugins built against the
//  same ABI number; it changes whenever a struct below changes.
#define OSMOSE_PLUGIN_ABI 1

#define OSMOSE_PLUGIN_DESCRIPTOR_SYMBOL "osmose_plugin_descriptor"
#define OSMOSE_PLUGIN_MAX_FUNCTIONS 256
#define OSMOSE_PLUGIN_MAX_NAME 31

#if defined(__GNUC__) || defined(__clang__)
#   define OSMOSE_PLUGIN_EXPORT __attribute__ ((visibility ("default")))
#else
#   define OSMOSE_PLUGIN_EXPORT
#endif

//  Codes a function may return (same values as OSMOSE_E* in osmose.h)
#define OSMOSE_PLUGIN_EINVAL    (-1)    //  input is malformed
#define OSMOSE_PLUGIN_ENOMEM    (-2)    //  out of memory
#define OSMOSE_PLUGIN_ETOOBIG   (-16)   //  input or output too large
#define OSMOSE_PLUGIN_ECANCELED (-22)   //  stopped because cancelled
#define OSMOSE_PLUGIN_ETASK     (-23)   //  any other failure

//  Function flags
#define OSMOSE_PLUGIN_FN_CHECKPOINTS 1u //  saves checkpoints and can resume

typedef struct osmose_plugin_out_t osmose_plugin_out_t;
typedef struct osmose_plugin_ctx_t osmose_plugin_ctx_t;

//  Output of a task: an append-only byte buffer the host owns.
struct osmose_plugin_out_t {
    //  Append SIZE bytes; returns 0 or OSMOSE_PLUGIN_ENOMEM / _ETOOBIG.
    int (*write) (osmose_plugin_out_t *out, const void *data, size_t size);
    //  Append SIZE bytes the caller fills in place; returns them or NULL.
    //  The pointer is valid until the next write or reserve.
    void *(*reserve) (osmose_plugin_out_t *out, size_t size);
    void *host;                 //  host private
};

//  What a task sees of its run.
struct osmose_plugin_ctx_t {
    const uint8_t *resume;      //  last checkpoint saved by an earlier run,
    size_t resume_size;         //  or NULL, 0 on a fresh start
    //  Save progress; replaces the previous checkpoint. 0 or error code.
    int (*checkpoint) (osmose_plugin_ctx_t *ctx, const void *data, size_t size);
    //  True when the task was cancelled or its deadline has passed.
    bool (*cancelled) (osmose_plugin_ctx_t *ctx);
    //  Milliseconds left before the deadline (0 when past it).
    int64_t (*remaining_ms) (osmose_plugin_ctx_t *ctx);
    //  Set the message the caller sees when the function fails.
    void (*fail) (osmose_plugin_ctx_t *ctx, const char *message);
    void *host;                 //  host private
};

typedef int (osmose_plugin_fn) (const uint8_t *in, size_t in_size,
                                osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx);

typedef struct {
    const char *name;           //  function name, e.g. "multiply"
    osmose_plugin_fn *fn;
    uint32_t flags;             //  OSMOSE_PLUGIN_FN_*
} osmose_plugin_function_t;

typedef struct {
    uint32_t abi;               //  OSMOSE_PLUGIN_ABI
    const char *name;           //  plugin name, e.g. "matrix"
    const char *version;        //  the plugin's own version, free text
    uint32_t count;             //  entries in functions
    const osmose_plugin_function_t *functions;
} osmose_plugin_descriptor_t;

//  Convenience wrappers, so plugin code reads like plain calls
static inline int
osmose_plugin_out_write (osmose_plugin_out_t *out, const void *data, size_t size)
{
    return out->write (out, data, size);
}

static inline void *
osmose_plugin_out_reserve (osmose_plugin_out_t *out, size_t size)
{
    return out->reserve (out, size);
}

static inline int
osmose_plugin_checkpoint (osmose_plugin_ctx_t *ctx, const void *data, size_t size)
{
    return ctx->checkpoint (ctx, data, size);
}

static inline const uint8_t *
osmose_plugin_resume (osmose_plugin_ctx_t *ctx, size_t *size)
{
    *size = ctx->resume_size;
    return ctx->resume;
}

static inline bool
osmose_plugin_cancelled (osmose_plugin_ctx_t *ctx)
{
    return ctx->cancelled (ctx);
}

static inline int64_t
osmose_plugin_remaining_ms (osmose_plugin_ctx_t *ctx)
{
    return ctx->remaining_ms (ctx);
}

static inline void
osmose_plugin_fail (osmose_plugin_ctx_t *ctx, const char *message)
{
    ctx->fail (ctx, message);
}

#ifdef __cplusplus
}
#endif

#endif
