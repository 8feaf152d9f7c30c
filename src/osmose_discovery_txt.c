/*  osmose_discovery_txt.c: the TXT record of an osmose service, and the
    static seeds list (see osmose_discovery.h).

    A TXT record arrives from anyone on the link, so the parser treats it as
    hostile: every length is checked against the data and against a bound,
    every field has a strict alphabet, and the id must derive from the key
    (so a record cannot pair one peer's id with another's key by mistake;
    whether the key is really theirs is CurveZMQ's job later).
*/
#include "osmose_prelude.h"
#include "osmose_discovery.h"

#define S_TXTVERS "1"
#define S_VERSION_MAX 65535

//  Location paths: segments of [A-Za-z0-9._-] joined by '/', as the config
//  schema accepts them; "" means no location
static bool
s_valid_location (const char *value, size_t size)
{
    if (size == 0)
        return true;
    bool segment_empty = true;
    for (size_t index = 0; index < size; index++) {
        char c = value [index];
        if (c == '/') {
            if (segment_empty)
                return false;
            segment_empty = true;
        }
        else
        if (isalnum ((unsigned char) c) || c == '.' || c == '_' || c == '-')
            segment_empty = false;
        else
            return false;
    }
    return !segment_empty;
}

//  Endpoint hints: tcp://host:port in printable ASCII without spaces
static bool
s_valid_endpoint (const char *value, size_t size)
{
    if (size <= 6 || memcmp (value, "tcp://", 6) != 0)
        return false;
    for (size_t index = 0; index < size; index++)
        if (value [index] < 0x21 || value [index] > 0x7e)
            return false;
    const char *colon = (const char *) memrchr (value + 6, ':', size - 6);
    if (!colon || colon == value + 6 || colon + 1 == value + size)
        return false;
    for (const char *scan = colon + 1; scan < value + size; scan++)
        if (!isdigit ((unsigned char) *scan))
            return false;
    return true;
}

static bool
s_valid_id (const char *value, size_t size)
{
    if (size != OSMOSE_ID_SIZE)
        return false;
    for (size_t index = 0; index < size; index++)
        if (!isdigit ((unsigned char) value [index])
        &&  !(value [index] >= 'a' && value [index] <= 'f'))
            return false;
    return true;
}

//  Decimal 1..65535, digits only; 0 when not valid
static uint32_t
s_parse_version (const char *value, size_t size)
{
    if (size == 0 || size > 5)
        return 0;
    uint32_t version = 0;
    for (size_t index = 0; index < size; index++) {
        if (!isdigit ((unsigned char) value [index]))
            return 0;
        version = version * 10 + (uint32_t) (value [index] - '0');
    }
    return version <= S_VERSION_MAX? version: 0;
}

//  The whole record must hold together: the same checks the parser makes
static int
s_txt_check (const osmose_discovery_txt_t *txt)
{
    size_t location_size = strnlen (txt->location, sizeof (txt->location));
    size_t endpoint_size = strnlen (txt->endpoint, sizeof (txt->endpoint));
    if (location_size == sizeof (txt->location)
    ||  endpoint_size == sizeof (txt->endpoint))
        return OSMOSE_ETOOBIG;
    if (!s_valid_id (txt->id, strnlen (txt->id, sizeof (txt->id)))
    ||  !s_valid_location (txt->location, location_size)
    ||  (endpoint_size && !s_valid_endpoint (txt->endpoint, endpoint_size))
    ||  txt->version == 0 || txt->version > S_VERSION_MAX)
        return OSMOSE_EINVAL;
    char id [OSMOSE_ID_SIZE + 1];
    osmose_identity_id_of (txt->key, id);
    return streq (id, txt->id)? 0: OSMOSE_EINVAL;
}

int
osmose_discovery_txt_set (osmose_discovery_txt_t *txt, const uint8_t *public_key,
                          const char *location, uint32_t version,
                          const char *endpoint)
{
    assert (txt);
    memset (txt, 0, sizeof (*txt));
    if (!public_key || !location)
        return OSMOSE_EINVAL;
    if (strlen (location) > OSMOSE_DISCOVERY_LOCATION_MAX
    ||  (endpoint && strlen (endpoint) > OSMOSE_DISCOVERY_ENDPOINT_MAX))
        return OSMOSE_ETOOBIG;
    memcpy (txt->key, public_key, OSMOSE_KEY_SIZE);
    osmose_identity_id_of (public_key, txt->id);
    strcpy (txt->location, location);
    if (endpoint)
        strcpy (txt->endpoint, endpoint);
    txt->version = version;
    return s_txt_check (txt);
}

//  Append one "key=value" string, length-prefixed, at *offset
static int
s_put_item (uint8_t *buffer, size_t size, size_t *offset,
            const char *key, const char *value)
{
    size_t item_size = strlen (key) + 1 + strlen (value);
    if (item_size > 255 || *offset + 1 + item_size > size)
        return OSMOSE_ETOOBIG;
    buffer [(*offset)++] = (uint8_t) item_size;
    int written = snprintf ((char *) buffer + *offset, size - *offset, "%s=%s", key, value);
    assert (written == (int) item_size);
    *offset += item_size;
    return 0;
}

int
osmose_discovery_txt_encode (const osmose_discovery_txt_t *txt,
                             uint8_t *buffer, size_t size)
{
    assert (txt);
    assert (buffer);
    int rc = s_txt_check (txt);
    if (rc)
        return rc;
    char key_hex [2 * OSMOSE_KEY_SIZE + 1];
    sodium_bin2hex (key_hex, sizeof (key_hex), txt->key, OSMOSE_KEY_SIZE);
    char version [12];
    snprintf (version, sizeof (version), "%" PRIu32, txt->version);
    size_t offset = 0;
    rc = s_put_item (buffer, size, &offset, "txtvers", S_TXTVERS);
    if (!rc)
        rc = s_put_item (buffer, size, &offset, "id", txt->id);
    if (!rc)
        rc = s_put_item (buffer, size, &offset, "key", key_hex);
    if (!rc)
        rc = s_put_item (buffer, size, &offset, "v", version);
    if (!rc)
        rc = s_put_item (buffer, size, &offset, "loc", txt->location);
    if (!rc && *txt->endpoint)
        rc = s_put_item (buffer, size, &offset, "ep", txt->endpoint);
    return rc? rc: (int) offset;
}

//  DNS-SD keys compare case-insensitively (RFC 6763 section 6.4)
static bool
s_key_is (const char *key, size_t key_size, const char *name)
{
    return key_size == strlen (name) && strncasecmp (key, name, key_size) == 0;
}

typedef enum {
    S_HAVE_ID = 1, S_HAVE_KEY = 2, S_HAVE_VERSION = 4, S_HAVE_LOCATION = 8,
    S_HAVE_ENDPOINT = 16, S_HAVE_TXTVERS = 32
} s_have_t;

//  Take one item KEY=VALUE (VALUE NULL for a bare key) into TXT, once
static int
s_parse_item (const char *key, size_t key_size, const char *value,
              size_t value_size, osmose_discovery_txt_t *txt, unsigned *have)
{
    unsigned field = s_key_is (key, key_size, "id")? S_HAVE_ID
                   : s_key_is (key, key_size, "key")? S_HAVE_KEY
                   : s_key_is (key, key_size, "v")? S_HAVE_VERSION
                   : s_key_is (key, key_size, "loc")? S_HAVE_LOCATION
                   : s_key_is (key, key_size, "ep")? S_HAVE_ENDPOINT
                   : s_key_is (key, key_size, "txtvers")? S_HAVE_TXTVERS: 0;
    if (field == 0 || (*have & field))
        return 0;               //  unknown key, or a repeat: the first wins
    *have |= field;
    if (!value && field != S_HAVE_LOCATION && field != S_HAVE_ENDPOINT)
        return OSMOSE_EPROTO;
    if (!value)
        return 0;               //  bare "loc" or "ep": empty
    switch (field) {
        case S_HAVE_ID:
            if (!s_valid_id (value, value_size))
                return OSMOSE_EPROTO;
            memcpy (txt->id, value, value_size);
            return 0;
        case S_HAVE_KEY:
            if (value_size != 2 * OSMOSE_KEY_SIZE)
                return OSMOSE_EPROTO;
            size_t bin_size = 0;
            const char *end = NULL;
            if (sodium_hex2bin (txt->key, OSMOSE_KEY_SIZE, value, value_size,
                                NULL, &bin_size, &end) != 0
            ||  bin_size != OSMOSE_KEY_SIZE || end != value + value_size)
                return OSMOSE_EPROTO;
            return 0;
        case S_HAVE_VERSION:
            txt->version = s_parse_version (value, value_size);
            return txt->version? 0: OSMOSE_EPROTO;
        case S_HAVE_LOCATION:
            if (value_size > OSMOSE_DISCOVERY_LOCATION_MAX)
                return OSMOSE_ETOOBIG;
            if (!s_valid_location (value, value_size))
                return OSMOSE_EPROTO;
            memcpy (txt->location, value, value_size);
            return 0;
        case S_HAVE_ENDPOINT:
            if (value_size > OSMOSE_DISCOVERY_ENDPOINT_MAX)
                return OSMOSE_ETOOBIG;
            if (value_size && !s_valid_endpoint (value, value_size))
                return OSMOSE_EPROTO;
            memcpy (txt->endpoint, value, value_size);
            return 0;
        default:
            return value_size == 1 && *value == *S_TXTVERS? 0: OSMOSE_EPROTO;
    }
}

int
osmose_discovery_txt_parse (const uint8_t *data, size_t size,
                            osmose_discovery_txt_t *txt)
{
    assert (txt);
    memset (txt, 0, sizeof (*txt));
    if (!data && size)
        return OSMOSE_EINVAL;
    unsigned have = 0;
    size_t offset = 0;
    while (offset < size) {
        size_t item_size = data [offset++];
        if (item_size > size - offset)
            return OSMOSE_EPROTO;
        const char *item = (const char *) data + offset;
        offset += item_size;
        if (memchr (item, '\0', item_size))
            return OSMOSE_EPROTO;
        const char *equals = (const char *) memchr (item, '=', item_size);
        size_t key_size = equals? (size_t) (equals - item): item_size;
        if (key_size == 0)
            continue;           //  empty string or "=...": no key, ignored
        int rc = s_parse_item (item, key_size, equals? equals + 1: NULL,
                               equals? item_size - key_size - 1: 0, txt, &have);
        if (rc) {
            memset (txt, 0, sizeof (*txt));
            return rc;
        }
    }
    unsigned needed = S_HAVE_ID | S_HAVE_KEY | S_HAVE_VERSION;
    if ((have & needed) != needed) {
        memset (txt, 0, sizeof (*txt));
        return OSMOSE_EPROTO;
    }
    char id [OSMOSE_ID_SIZE + 1];
    osmose_identity_id_of (txt->key, id);
    if (!streq (id, txt->id)) {
        memset (txt, 0, sizeof (*txt));
        return OSMOSE_EVERIFY;
    }
    return 0;
}

int
osmose_discovery_seeds (const char *value, zlist_t **seeds_p)
{
    assert (seeds_p);
    *seeds_p = NULL;
    if (!value)
        return OSMOSE_EINVAL;
    zlist_t *seeds = zlist_new ();
    if (!seeds)
        return OSMOSE_ENOMEM;
    zlist_autofree (seeds);
    const char *scan = value;
    while (*scan) {
        size_t blanks = strspn (scan, " \t\r\n");
        scan += blanks;
        size_t word_size = strcspn (scan, " \t\r\n");
        if (word_size == 0)
            break;
        char word [256];
        if (word_size >= sizeof (word)
        ||  !s_valid_endpoint (scan, word_size)) {
            zlist_destroy (&seeds);
            return OSMOSE_EINVAL;
        }
        memcpy (word, scan, word_size);
        word [word_size] = '\0';
        if (zlist_append (seeds, word)) {
            zlist_destroy (&seeds);
            return OSMOSE_ENOMEM;
        }
        scan += word_size;
    }
    *seeds_p = seeds;
    return 0;
}

//  --------------------------------------------------------------------------
//  Self-test of the codec and the seeds list (osmose_discovery_test runs it)

#define S_TEST_TXT_MAX 1024

//  Build TXT data from NUL-separated items, "" ends the list
static size_t
s_test_txt (uint8_t *data, const char *items [])
{
    size_t offset = 0;
    for (int index = 0; items [index]; index++) {
        size_t size = strlen (items [index]);
        assert (size < 256);
        data [offset++] = (uint8_t) size;
        memcpy (data + offset, items [index], size);
        offset += size;
    }
    return offset;
}

void
osmose_discovery_txt_test (osmose_identity_t *identity, bool verbose)
{
    osmose_discovery_txt_t txt, parsed;
    const uint8_t *key = osmose_identity_public (identity);
    assert (osmose_discovery_txt_set (&txt, key, "hq/floor2/room7", 3,
                                      "tcp://192.0.2.1:7470") == 0);
    assert (streq (txt.id, osmose_identity_id (identity)));
    uint8_t data [S_TEST_TXT_MAX];
    int size = osmose_discovery_txt_encode (&txt, data, sizeof (data));
    assert (size > 0);
    assert (osmose_discovery_txt_parse (data, (size_t) size, &parsed) == 0);
    assert (memcmp (&txt, &parsed, sizeof (txt)) == 0);
    //  Too small a buffer is an error, never an overflow
    assert (osmose_discovery_txt_encode (&txt, data, 20) == OSMOSE_ETOOBIG);

    //  What we refuse to publish
    assert (osmose_discovery_txt_set (&txt, key, "bad loc", 1, NULL) == OSMOSE_EINVAL);
    assert (osmose_discovery_txt_set (&txt, key, "/abs", 1, NULL) == OSMOSE_EINVAL);
    assert (osmose_discovery_txt_set (&txt, key, "", 0, NULL) == OSMOSE_EINVAL);
    assert (osmose_discovery_txt_set (&txt, key, "", 70000, NULL) == OSMOSE_EINVAL);
    assert (osmose_discovery_txt_set (&txt, key, "", 1, "udp://x:1") == OSMOSE_EINVAL);
    char long_text [300];
    memset (long_text, 'a', sizeof (long_text) - 1);
    long_text [sizeof (long_text) - 1] = '\0';
    assert (osmose_discovery_txt_set (&txt, key, long_text, 1, NULL) == OSMOSE_ETOOBIG);
    assert (osmose_discovery_txt_set (&txt, key, "", 1, NULL) == 0);

    //  Hostile records: each item list with the result it must give
    char id_item [32], key_item [80], other_key_item [80], long_loc [160];
    snprintf (id_item, sizeof (id_item), "id=%s", osmose_identity_id (identity));
    strcpy (key_item, "key=");
    sodium_bin2hex (key_item + 4, sizeof (key_item) - 4, key, OSMOSE_KEY_SIZE);
    uint8_t other [OSMOSE_KEY_SIZE];
    randombytes_buf (other, sizeof (other));
    strcpy (other_key_item, "key=");
    sodium_bin2hex (other_key_item + 4, sizeof (other_key_item) - 4, other, sizeof (other));
    snprintf (long_loc, sizeof (long_loc), "loc=%.140s", long_text);
    char upper_key [80];
    strcpy (upper_key, key_item);
    for (char *scan = upper_key + 4; *scan; scan++)
        *scan = (char) toupper ((unsigned char) *scan);
    struct {
        int expect;
        const char *items [8];
    } cases [] = {
        { 0, { id_item, key_item, "v=1", NULL } },
        { OSMOSE_EVERIFY, { "ID=0000000000000000", id_item, key_item, "v=7", NULL } },
        { 0, { id_item, "ID=zzz", key_item, "V=7", NULL } },    //  first wins
        { 0, { id_item, upper_key, "v=65535", "loc", "ep", "junk=\x01\xff", NULL } },
        { 0, { "", "=x", id_item, key_item, "v=1", "loc=a/b.c/d-e_f", NULL } },
        { OSMOSE_EPROTO, { NULL } },
        { OSMOSE_EPROTO, { key_item, "v=1", NULL } },
        { OSMOSE_EPROTO, { id_item, "v=1", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, NULL } },
        { OSMOSE_EPROTO, { "id", key_item, "v=1", NULL } },
        { OSMOSE_EPROTO, { "id=0123", key_item, "v=1", NULL } },
        { OSMOSE_EPROTO, { "id=0123456789ABCDEF", key_item, "v=1", NULL } },
        { OSMOSE_EPROTO, { "id=0123456789abcdeg", key_item, "v=1", NULL } },
        { OSMOSE_EPROTO, { id_item, "key=abcd", "v=1", NULL } },
        { OSMOSE_EPROTO, { id_item, "key=zz", "v=1", NULL } },
        { OSMOSE_EVERIFY, { id_item, other_key_item, "v=1", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=0", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=65536", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=+1", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1a", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=99999999999", NULL } },
        { OSMOSE_ETOOBIG, { id_item, key_item, "v=1", long_loc, NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "loc=a b", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "loc=a//b", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "loc=../", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "loc=x\n", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "ep=http://x:1", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "ep=tcp://a b:1", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "ep=tcp://host", NULL } },
        { OSMOSE_EPROTO, { id_item, key_item, "v=1", "txtvers=2", NULL } },
    };
    for (size_t index = 0; index < sizeof (cases) / sizeof (cases [0]); index++) {
        size_t data_size = s_test_txt (data, cases [index].items);
        int rc = osmose_discovery_txt_parse (data, data_size, &parsed);
        if (rc != cases [index].expect)
            zsys_error ("txt case %zu: got %d, want %d", index, rc, cases [index].expect);
        assert (rc == cases [index].expect);
        if (rc == 0)
            assert (streq (parsed.id, osmose_identity_id (identity)));
        else
            assert (parsed.id [0] == '\0');     //  nothing half-parsed leaks
    }
    //  The first of repeated keys wins, keys ignore case
    const char *repeat [] = { "LOC=first", id_item, key_item, "v=2", "loc=second", NULL };
    size_t repeat_size = s_test_txt (data, repeat);
    assert (osmose_discovery_txt_parse (data, repeat_size, &parsed) == 0);
    assert (streq (parsed.location, "first") && parsed.version == 2);

    //  Framing: a length past the end, a NUL inside an item
    const uint8_t overrun [] = { 4, 'v', '=', '1', '0', 9, 'i', 'd' };
    assert (osmose_discovery_txt_parse (overrun, sizeof (overrun), &parsed) == OSMOSE_EPROTO);
    const uint8_t with_nul [] = { 5, 'v', '=', '1', 0, '0' };
    assert (osmose_discovery_txt_parse (with_nul, sizeof (with_nul), &parsed) == OSMOSE_EPROTO);
    assert (osmose_discovery_txt_parse (NULL, 0, &parsed) == OSMOSE_EPROTO);

    //  Fuzz: random bytes and mutated good records never crash, and what
    //  parses is a record we would publish ourselves
    assert (osmose_discovery_txt_set (&txt, key, "hq/floor2", 1, "tcp://h:1") == 0);
    size = osmose_discovery_txt_encode (&txt, data, sizeof (data));
    assert (size > 0);
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        uint8_t fuzz [S_TEST_TXT_MAX];
        size_t fuzz_size;
        if (round % 2) {
            fuzz_size = randombytes_uniform (sizeof (fuzz));
            randombytes_buf (fuzz, fuzz_size);
        }
        else {
            fuzz_size = (size_t) size;
            memcpy (fuzz, data, fuzz_size);
            for (uint32_t flips = 1 + randombytes_uniform (3); flips; flips--)
                fuzz [randombytes_uniform ((uint32_t) fuzz_size)] = (uint8_t) randombytes_random ();
        }
        if (osmose_discovery_txt_parse (fuzz, fuzz_size, &parsed) == 0) {
            uint8_t again [S_TEST_TXT_MAX];
            assert (osmose_discovery_txt_encode (&parsed, again, sizeof (again)) > 0);
            accepted++;
        }
    }
    if (verbose)
        printf ("   fuzz: %d of 20000 records accepted (all re-encodable)\n", accepted);

    //  Static seeds
    zlist_t *seeds = NULL;
    assert (osmose_discovery_seeds (" tcp://a:1\ttcp://[::1]:7470 ", &seeds) == 0);
    assert (zlist_size (seeds) == 2);
    assert (streq ((char *) zlist_first (seeds), "tcp://a:1"));
    assert (streq ((char *) zlist_next (seeds), "tcp://[::1]:7470"));
    zlist_destroy (&seeds);
    assert (osmose_discovery_seeds ("", &seeds) == 0 && zlist_size (seeds) == 0);
    zlist_destroy (&seeds);
    assert (osmose_discovery_seeds ("tcp://a:1 ipc://x", &seeds) == OSMOSE_EINVAL);
    assert (seeds == NULL);
    assert (osmose_discovery_seeds ("tcp://a:", &seeds) == OSMOSE_EINVAL);
}
