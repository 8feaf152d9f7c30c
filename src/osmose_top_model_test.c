/*  osmose_top_model_test.c: self-test of osmose_top_model (the frame
    model and the text frames of osmose-top), kept apart from the code so
    each file stays short.
*/
#include "osmose_prelude.h"
#include "osmose_top_model.h"

static osmose_top_model_t *
s_test_model (const char *text)
{
    osmose_top_model_t *self = osmose_top_model_new ();
    assert (self);
    json_error_t error;
    json_t *frame = json_loads (text, 0, &error);
    assert (frame);
    int rc = osmose_top_model_update (self, &frame);
    assert (rc == 0);
    assert (frame == NULL);
    return self;
}

void
osmose_top_model_test (bool verbose)
{
    printf (" * osmose_top_model: ");
    //  An empty model, and frames that are not frames
    osmose_top_model_t *self = osmose_top_model_new ();
    assert (self);
    assert (osmose_top_model_frame (self) == NULL);
    assert (osmose_top_model_size (self, OSMOSE_TOP_PEERS) == 0);
    assert (osmose_top_model_peer (self, 0) == NULL);
    json_t *junk = json_string ("peers");
    assert (osmose_top_model_update (self, &junk) == OSMOSE_EPROTO);
    assert (junk == NULL);
    junk = NULL;
    assert (osmose_top_model_update (self, &junk) == OSMOSE_EPROTO);
    osmose_top_model_destroy (&self);
    assert (self == NULL);
    osmose_top_model_destroy (&self);

    //  Today's daemon: few fields, and junk where rows should be
    self = s_test_model (
        "{\"status\": {\"id\": \"0123456789abcdef\", \"name\": \"solo\", \"uptime_ms\": 61000},"
        " \"peers\": [ {\"id\": \"0123456789abcdef\", \"name\": \"solo\", \"state\": \"alive\","
        "   \"self\": true, \"rtt_us\": \"fast\", \"resources\": 7}, 42, null ],"
        " \"leases\": {\"error\": \"unknown command\"}, \"log\": null}");
    const osmose_top_summary_t *sum = osmose_top_model_summary (self);
    assert (streq (sum->name, "solo"));
    assert (streq (sum->location, ""));
    assert (sum->uptime_ms == 61000);
    assert (sum->peers == 1 && sum->alive == 1 && sum->dead == 0);
    assert (sum->cpus == -1 && sum->memory_mb == -1 && sum->tasks_per_s < 0);
    assert (sum->leases_held == -1 && sum->log_lag == -1);
    assert (osmose_top_model_has (self, OSMOSE_TOP_PEERS));
    assert (!osmose_top_model_has (self, OSMOSE_TOP_LEASES));
    assert (!osmose_top_model_has (self, OSMOSE_TOP_LOG));
    assert (osmose_top_model_size (self, OSMOSE_TOP_PEERS) == 1);
    const osmose_top_peer_t *peer = osmose_top_model_peer (self, 0);
    assert (peer->self && peer->rtt_us == -1 && peer->cpus == -1 && peer->load < 0);
    char *text = NULL;
    size_t text_size = 0;
    FILE *out = open_memstream (&text, &text_size);
    assert (out);
    osmose_top_model_print (self, out);
    fclose (out);
    assert (strstr (text, "peer 0123456789abcdef (solo) at -, up 1m01s"));
    assert (strstr (text, "\nsolo* "));
    assert (!strstr (text, "LEASE"));
    free (text);
    osmose_top_model_destroy (&self);

    //  A mesh of four: summary, proximity order, other orders, filter
    self = s_test_model (
        "{\"time_ms\": 5, \"status\": {\"name\": \"alpha\", \"peers\": {\"alive\": 2,"
        "  \"suspect\": 1, \"dead\": 1, \"left\": 0}, \"tasks\": {\"per_s\": 2.5},"
        "  \"leases\": {\"held\": 1, \"granted\": 2}},"
        " \"peers\": ["
        "  {\"id\": \"d\", \"name\": \"delta\", \"state\": \"dead\", \"location\": \"hq/f2\","
        "   \"resources\": {\"cpus\": 64, \"cpus_free\": 64}},"
        "  {\"id\": \"c\", \"name\": \"gamma\", \"state\": \"suspect\", \"location\": \"hq/f1/b\","
        "   \"rtt_us\": 900, \"score_us\": 1900, \"resources\": {\"cpus\": 2, \"cpus_free\": 0,"
        "   \"memory_mb\": 1024, \"memory_free_mb\": 100, \"load\": 1.5}, \"log\": {\"size\": 9}},"
        "  {\"id\": \"b\", \"name\": \"Beta\", \"state\": \"alive\", \"location\": \"hq/f1/a\","
        "   \"rtt_us\": 300, \"score_us\": 800, \"resources\": {\"cpus\": 8, \"cpus_free\": 6,"
        "   \"gpus\": 1, \"gpus_free\": 1, \"memory_mb\": 2048, \"load\": 0.25,"
        "   \"power\": \"battery\", \"battery\": 80}, \"log\": {\"size\": 30}},"
        "  {\"id\": \"a\", \"name\": \"alpha\", \"state\": \"alive\", \"self\": true,"
        "   \"location\": \"hq/f1/a\", \"resources\": {\"cpus\": 4, \"cpus_free\": 4,"
        "   \"load\": 0.5, \"power\": \"wall\"}, \"log\": {\"size\": 12}} ],"
        " \"leases\": [ {\"id\": \"L1\", \"client\": \"a\", \"provider\": \"b\","
        "   \"ttl_ms\": 4000, \"state\": \"active\", \"resources\": {\"cpus\": 2}} ],"
        " \"tasks\": {\"recent\": [], \"per_s_history\": [1, 2, \"x\", 3.5]}}");
    sum = osmose_top_model_summary (self);
    assert (sum->peers == 4 && sum->alive == 2 && sum->suspect == 1 && sum->dead == 1);
    //  The dead peer's 64 CPUs are not counted; gpus only where reported
    assert (sum->cpus == 14 && sum->cpus_free == 10);
    assert (sum->gpus == 1 && sum->gpus_free == 1 && sum->npus == -1);
    assert (sum->memory_mb == 3072 && sum->memory_free_mb == 100);
    assert (sum->leases_held == 1 && sum->leases_granted == 2 && sum->time_ms == 5);
    assert (sum->tasks_per_s == 2.5);
    json_t *summary = osmose_top_model_summary_json (self);
    assert (json_integer_value (json_object_get (summary, "cpus")) == 14);
    assert (json_is_null (json_object_get (summary, "npus")));
    json_decref (summary);
    size_t count;
    const double *history = osmose_top_model_history (self, &count);
    assert (count == 4 && history [1] == 2 && history [2] == 0 && history [3] == 3.5);
    assert (osmose_top_model_has (self, OSMOSE_TOP_TASKS));
    assert (osmose_top_model_size (self, OSMOSE_TOP_TASKS) == 0);
    assert (osmose_top_model_size (self, OSMOSE_TOP_LEASES) == 1);
    assert (osmose_top_model_lease (self, 0)->cpus == 2);
    assert (osmose_top_model_lease (self, 1) == NULL);
    assert (streq (json_string_value (json_object_get (
        osmose_top_model_row_json (self, OSMOSE_TOP_LEASES, 0), "id")), "L1"));
    assert (streq (osmose_top_model_name (self, "b"), "Beta"));
    assert (streq (osmose_top_model_name (self, "zz"), "zz"));

    const char *expected [][4] = {
        { "a", "b", "c", "d" },         //  proximity: self, then by score
        { "a", "b", "d", "c" },         //  name, ignoring case
        { "a", "b", "c", "d" },         //  location (ties by name)
        { "a", "b", "c", "d" },         //  state
        { "b", "c", "a", "d" },         //  rtt, unknown last
        { "d", "b", "a", "c" },         //  cpu free, most first
        { "c", "a", "b", "d" },         //  load, busiest first
        { "b", "a", "c", "d" },         //  log size, biggest first
    };
    for (int sort = 0; sort < OSMOSE_TOP_SORTS; sort++) {
        osmose_top_model_set_sort (self, (osmose_top_sort_t) sort, false);
        assert (osmose_top_model_sort (self) == (osmose_top_sort_t) sort);
        assert (osmose_top_sort_parse (osmose_top_sort_name ((osmose_top_sort_t) sort)) == sort);
        for (size_t index = 0; index < 4; index++)
            assert (streq (osmose_top_model_peer (self, index)->id, expected [sort][index]));
    }
    assert (osmose_top_sort_parse ("colour") == -1);
    osmose_top_model_set_sort (self, OSMOSE_TOP_SORT_NAME, true);
    assert (osmose_top_model_reverse (self));
    assert (streq (osmose_top_model_peer (self, 0)->id, "c"));
    assert (streq (osmose_top_model_peer (self, 3)->id, "a"));

    osmose_top_model_set_filter (self, "F1/A");
    assert (streq (osmose_top_model_filter (self), "F1/A"));
    assert (osmose_top_model_size (self, OSMOSE_TOP_PEERS) == 2);
    assert (streq (osmose_top_model_peer (self, 0)->id, "b"));
    assert (osmose_top_model_size (self, OSMOSE_TOP_LEASES) == 0);
    osmose_top_model_set_filter (self, "dead");
    assert (osmose_top_model_size (self, OSMOSE_TOP_PEERS) == 1);
    osmose_top_model_set_filter (self, "nobody");
    assert (osmose_top_model_size (self, OSMOSE_TOP_PEERS) == 0);
    assert (osmose_top_model_peer (self, 0) == NULL);
    osmose_top_model_set_filter (self, NULL);
    assert (osmose_top_model_size (self, OSMOSE_TOP_PEERS) == 4);

    //  The order and filter survive the next frame; our own history grows
    json_t *frame = json_pack ("{s:{s:{s:f}}, s:[{s:s, s:s}, {s:s, s:s}]}",
        "status", "tasks", "per_s", 4.0, "peers", "id", "x", "name", "xi",
        "id", "y", "name", "ypsilon");
    assert (osmose_top_model_update (self, &frame) == 0);
    assert (streq (osmose_top_model_peer (self, 0)->id, "y"));
    history = osmose_top_model_history (self, &count);
    assert (count == 2 && history [0] == 2.5 && history [1] == 4.0);

    out = open_memstream (&text, &text_size);
    assert (out);
    osmose_top_model_print (self, out);
    fclose (out);
    assert (strstr (text, "\nypsilon ") && strstr (text, "\nxi "));
    free (text);
    osmose_top_model_destroy (&self);

    char buffer [32];
    assert (streq (osmose_top_format_mb (buffer, sizeof (buffer), -1), "-"));
    assert (streq (osmose_top_format_mb (buffer, sizeof (buffer), 512), "512M"));
    assert (streq (osmose_top_format_mb (buffer, sizeof (buffer), 16000), "15.6G"));
    assert (streq (osmose_top_format_us (buffer, sizeof (buffer), 310), "310us"));
    assert (streq (osmose_top_format_us (buffer, sizeof (buffer), 1250), "1.2ms")
         || streq (buffer, "1.3ms"));
    assert (streq (osmose_top_format_ratio (buffer, sizeof (buffer), 3, 8), "3/8"));
    assert (streq (osmose_top_format_ratio (buffer, sizeof (buffer), -1, 8), "-/8"));
    assert (streq (osmose_top_format_duration (buffer, sizeof (buffer), 3725000), "1h02m"));
    if (verbose)
        printf ("(sorts, filters, summaries and text frames checked) ");
    printf ("OK\n");
}
