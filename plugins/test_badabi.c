/*  test_badabi: a plugin built for a future ABI, which hosts must refuse.
    Built for the self-tests only; never installed.
*/
#include "osmose_plugin.h"

static int
s_nothing (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    return 0;
}

static const osmose_plugin_function_t s_functions [] = {
    { "nothing", s_nothing, 0 },
};

OSMOSE_PLUGIN_EXPORT const osmose_plugin_descriptor_t osmose_plugin_descriptor = {
    OSMOSE_PLUGIN_ABI + 1, "badabi", "1.0.0", 1, s_functions
};
