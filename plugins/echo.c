/*  echo: the smallest plugins, for tests and benchmarks.
    echo.echo returns its input; echo.null returns nothing (the cost of a
    task round trip and nothing else); echo.fail fails with the input as
    its message.
*/
#include "osmose_plugin.h"
#include <string.h>

static int
s_echo (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    return osmose_plugin_out_write (out, in, in_size);
}

static int
s_null (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    return 0;
}

static int
s_fail (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    char message [128];
    size_t length = in_size < sizeof (message) - 1? in_size: sizeof (message) - 1;
    memcpy (message, in, length);
    message [length] = '\0';
    osmose_plugin_fail (ctx, message);
    return OSMOSE_PLUGIN_EINVAL;
}

static const osmose_plugin_function_t s_functions [] = {
    { "echo", s_echo, 0 },
    { "null", s_null, 0 },
    { "fail", s_fail, 0 },
};

OSMOSE_PLUGIN_EXPORT const osmose_plugin_descriptor_t osmose_plugin_descriptor = {
    OSMOSE_PLUGIN_ABI, "echo", "1.0.0", sizeof (s_functions) / sizeof (s_functions [0]), s_functions
};
