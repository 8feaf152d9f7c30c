/*  stub_config.c: the fuzzers link the log's classes without the config
    class (osmose_feed_configure and the feed's self-test refer to it, but
    no fuzz target calls them).
*/
#include "../src/osmose_prelude.h"
#include "../src/osmose_config.h"

osmose_config_t *
osmose_config_new_default (void)
{
    return NULL;
}

void
osmose_config_destroy (osmose_config_t **self_p)
{
}

const char *
osmose_config_str (osmose_config_t *self, const char *path)
{
    return "group";
}

int64_t
osmose_config_int (osmose_config_t *self, const char *path)
{
    return 10;
}

int
osmose_config_set (osmose_config_t *self, const char *path, const char *value)
{
    return 0;
}
