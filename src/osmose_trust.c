/*  osmose_trust.c: the trust store (see osmose_trust.h). */
#include "osmose_prelude.h"
#include "osmose_trust.h"
#include <fcntl.h>

#define S_MAX_KEYS 65536        //  a building, with room to spare

struct _osmose_trust_t {
    char *path;
    osmose_trust_entry_t *entries;
    size_t size;
    size_t limit;
};

const char *
osmose_trust_role_name (osmose_trust_role_t role)
{
    switch (role) {
        case OSMOSE_TRUST_DEVICE: return "device";
        case OSMOSE_TRUST_USER:   return "user";
        case OSMOSE_TRUST_ADMIN:  return "admin";
    }
    return "unknown";
}

int
osmose_trust_role_parse (const char *name)
{
    for (int role = OSMOSE_TRUST_DEVICE; role <= OSMOSE_TRUST_ADMIN; role++)
        if (name && streq (name, osmose_trust_role_name ((osmose_trust_role_t) role)))
            return role;
    return OSMOSE_EINVAL;
}

int
osmose_trust_parse_key (const char *text, uint8_t *key)
{
    if (!text || !key)
        return OSMOSE_EINVAL;
    //  A node.pub file: a magic line, then the hex key
    const char *newline = strchr (text, '\n');
    if (strncmp (text, "osmose-ed25519-public-v1\n", 25) == 0)
        text = newline + 1;
    size_t decoded = 0;
    const char *end = NULL;
    if (sodium_hex2bin (key, OSMOSE_KEY_SIZE, text, strlen (text), NULL, &decoded, &end) != 0
    ||  decoded != OSMOSE_KEY_SIZE || (*end && *end != '\n'))
        return OSMOSE_EINVAL;
    //  Only points on the curve can be identities
    char z85 [41];
    return osmose_identity_curve_z85 (key, z85) == 0? 0: OSMOSE_EINVAL;
}

static int
s_fill_entry (osmose_trust_entry_t *entry, const uint8_t *key,
              osmose_trust_role_t role, const char *name)
{
    memset (entry, 0, sizeof (*entry));
    memcpy (entry->key, key, OSMOSE_KEY_SIZE);
    if (osmose_identity_curve_z85 (key, entry->z85))
        return OSMOSE_EINVAL;
    osmose_identity_id_of (key, entry->id);
    entry->role = role;
    snprintf (entry->name, sizeof (entry->name), "%s", name && *name? name: "-");
    //  Names are one word on disk
    for (char *scan = entry->name; *scan; scan++)
        if (isspace ((unsigned char) *scan) || !isprint ((unsigned char) *scan))
            *scan = '_';
    return 0;
}

static int
s_append (osmose_trust_t *self, const osmose_trust_entry_t *entry)
{
    if (self->size == S_MAX_KEYS)
        return OSMOSE_ETOOBIG;
    if (self->size == self->limit) {
        size_t limit = self->limit? self->limit * 2: 16;
        osmose_trust_entry_t *entries = (osmose_trust_entry_t *)
            realloc (self->entries, limit * sizeof (osmose_trust_entry_t));
        if (!entries)
            return OSMOSE_ENOMEM;
        self->entries = entries;
        self->limit = limit;
    }
    self->entries [self->size++] = *entry;
    return 0;
}

//  Parse one line "KEYHEX ROLE NAME"; 0, or EINVAL
static int
s_parse_line (osmose_trust_t *self, char *line)
{
    char *saveptr = NULL;
    char *key_text = strtok_r (line, " \t", &saveptr);
    char *role_text = strtok_r (NULL, " \t", &saveptr);
    char *name = strtok_r (NULL, " \t", &saveptr);
    uint8_t key [OSMOSE_KEY_SIZE];
    int role = osmose_trust_role_parse (role_text);
    if (!key_text || !name || role < 0 || strtok_r (NULL, " \t", &saveptr)
    ||  osmose_trust_parse_key (key_text, key))
        return OSMOSE_EINVAL;
    osmose_trust_entry_t entry;
    int rc = s_fill_entry (&entry, key, (osmose_trust_role_t) role, name);
    return rc? rc: s_append (self, &entry);
}

int
osmose_trust_load (const char *path, osmose_trust_t **self_p,
                   char *error, size_t error_size)
{
    assert (path && self_p);
    *self_p = NULL;
    osmose_trust_t *self = (osmose_trust_t *) zmalloc (sizeof (osmose_trust_t));
    if (!self || !(self->path = strdup (path))) {
        free (self);
        return OSMOSE_ENOMEM;
    }
    FILE *file = fopen (path, "r");
    if (!file && errno != ENOENT) {
        snprintf (error, error_size, "%s: %s", path, strerror (errno));
        osmose_trust_destroy (&self);
        return osmose_errno_code (errno);
    }
    char line [512];
    int line_nbr = 0;
    int rc = 0;
    while (file && rc == 0 && fgets (line, sizeof (line), file)) {
        line_nbr++;
        size_t len = strlen (line);
        if (len && line [len - 1] == '\n')
            line [--len] = 0;
        else
        if (!feof (file))
            rc = OSMOSE_ECORRUPT;   //  over-long line
        char *start = line;
        while (isspace ((unsigned char) *start))
            start++;
        if (rc == 0 && *start && *start != '#')
            rc = s_parse_line (self, start) == 0? 0: OSMOSE_ECORRUPT;
        if (rc)
            snprintf (error, error_size, "%s:%d: not a trust entry (KEYHEX ROLE NAME)",
                      path, line_nbr);
    }
    if (file)
        fclose (file);
    if (rc)
        osmose_trust_destroy (&self);
    *self_p = self;
    return rc;
}

void
osmose_trust_destroy (osmose_trust_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_trust_t *self = *self_p;
        free (self->entries);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

//  Rewrite the file atomically: temp file, fsync, rename
static int
s_save (osmose_trust_t *self)
{
    char tmp_path [PATH_MAX];
    if (snprintf (tmp_path, sizeof (tmp_path), "%s.tmp", self->path) >= (int) sizeof (tmp_path))
        return OSMOSE_ETOOBIG;
    FILE *file = fopen (tmp_path, "w");
    if (!file)
        return osmose_errno_code (errno);
    fprintf (file, "# osmose trust store: KEY ROLE NAME; manage with 'osmose trust'\n");
    for (size_t index = 0; index < self->size; index++) {
        char hex [2 * OSMOSE_KEY_SIZE + 1];
        sodium_bin2hex (hex, sizeof (hex), self->entries [index].key, OSMOSE_KEY_SIZE);
        fprintf (file, "%s %s %s\n", hex,
                 osmose_trust_role_name (self->entries [index].role),
                 self->entries [index].name);
    }
    int rc = 0;
    if (fflush (file) != 0 || fsync (fileno (file)) != 0)
        rc = osmose_errno_code (errno);
    if (fclose (file) != 0 && rc == 0)
        rc = osmose_errno_code (errno);
    if (rc == 0 && rename (tmp_path, self->path) != 0)
        rc = osmose_errno_code (errno);
    if (rc)
        unlink (tmp_path);
    return rc;
}

static ssize_t
s_find (osmose_trust_t *self, const char *who)
{
    for (size_t index = 0; index < self->size; index++) {
        char hex [2 * OSMOSE_KEY_SIZE + 1];
        sodium_bin2hex (hex, sizeof (hex), self->entries [index].key, OSMOSE_KEY_SIZE);
        if (streq (self->entries [index].id, who) || streq (hex, who)
        ||  streq (self->entries [index].z85, who))
            return (ssize_t) index;
    }
    return -1;
}

int
osmose_trust_add (osmose_trust_t *self, const uint8_t *key,
                  osmose_trust_role_t role, const char *name)
{
    assert (self);
    if (!key || osmose_trust_role_parse (osmose_trust_role_name (role)) < 0)
        return OSMOSE_EINVAL;
    osmose_trust_entry_t entry;
    int rc = s_fill_entry (&entry, key, role, name);
    if (rc)
        return rc;
    ssize_t found = s_find (self, entry.id);
    if (found >= 0) {
        osmose_trust_entry_t *old = &self->entries [found];
        if (old->role == role && streq (old->name, entry.name))
            return OSMOSE_EEXIST;
        osmose_trust_entry_t saved = *old;
        *old = entry;
        rc = s_save (self);
        if (rc)
            *old = saved;
        return rc;
    }
    rc = s_append (self, &entry);
    if (rc == 0 && (rc = s_save (self)) != 0)
        self->size--;
    return rc;
}

int
osmose_trust_remove (osmose_trust_t *self, const char *who,
                     osmose_trust_entry_t *removed)
{
    assert (self);
    ssize_t found = who? s_find (self, who): -1;
    if (found < 0)
        return OSMOSE_ENOTFOUND;
    osmose_trust_entry_t saved = self->entries [found];
    memmove (&self->entries [found], &self->entries [found + 1],
             (self->size - found - 1) * sizeof (osmose_trust_entry_t));
    self->size--;
    int rc = s_save (self);
    if (rc) {
        //  Put it back where it was: the file and memory must agree
        memmove (&self->entries [found + 1], &self->entries [found],
                 (self->size - found) * sizeof (osmose_trust_entry_t));
        self->entries [found] = saved;
        self->size++;
        return rc;
    }
    if (removed)
        *removed = saved;
    return 0;
}

const osmose_trust_entry_t *
osmose_trust_lookup (osmose_trust_t *self, const char *id)
{
    assert (self);
    for (size_t index = 0; id && index < self->size; index++)
        if (streq (self->entries [index].id, id))
            return &self->entries [index];
    return NULL;
}

const osmose_trust_entry_t *
osmose_trust_lookup_z85 (osmose_trust_t *self, const char *z85)
{
    assert (self);
    for (size_t index = 0; z85 && index < self->size; index++)
        if (streq (self->entries [index].z85, z85))
            return &self->entries [index];
    return NULL;
}

size_t
osmose_trust_size (osmose_trust_t *self)
{
    assert (self);
    return self->size;
}

const osmose_trust_entry_t *
osmose_trust_at (osmose_trust_t *self, size_t index)
{
    assert (self);
    return index < self->size? &self->entries [index]: NULL;
}

json_t *
osmose_trust_json (osmose_trust_t *self)
{
    assert (self);
    json_t *array = json_array ();
    for (size_t index = 0; array && index < self->size; index++) {
        osmose_trust_entry_t *entry = &self->entries [index];
        char hex [2 * OSMOSE_KEY_SIZE + 1];
        sodium_bin2hex (hex, sizeof (hex), entry->key, OSMOSE_KEY_SIZE);
        json_array_append_new (array, json_pack ("{s:s, s:s, s:s, s:s}",
            "id", entry->id, "key", hex,
            "role", osmose_trust_role_name (entry->role), "name", entry->name));
    }
    return array;
}

void
osmose_trust_test (bool verbose)
{
    printf (" * osmose_trust: ");
    char dir [] = "/tmp/osmose-trust-test-XXXXXX";
    assert (mkdtemp (dir));
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/trust", dir);
    char error [512];

    osmose_trust_t *trust = NULL;
    assert (osmose_trust_load (path, &trust, error, sizeof (error)) == 0);
    assert (osmose_trust_size (trust) == 0);
    osmose_identity_t *alice = osmose_identity_new ();
    osmose_identity_t *bob = osmose_identity_new ();
    const uint8_t *alice_key = osmose_identity_public (alice);
    assert (osmose_trust_add (trust, alice_key, OSMOSE_TRUST_DEVICE, "cam 1") == 0);
    assert (osmose_trust_add (trust, alice_key, OSMOSE_TRUST_DEVICE, "cam 1") == OSMOSE_EEXIST);
    assert (osmose_trust_add (trust, osmose_identity_public (bob), OSMOSE_TRUST_ADMIN, "bob") == 0);
    assert (osmose_trust_size (trust) == 2);

    //  Lookups by id and by the CurveZMQ key the transport sees
    const osmose_trust_entry_t *entry = osmose_trust_lookup (trust, osmose_identity_id (alice));
    assert (entry && entry->role == OSMOSE_TRUST_DEVICE && streq (entry->name, "cam_1"));
    zcert_t *cert = osmose_identity_cert (alice);
    assert (osmose_trust_lookup_z85 (trust, zcert_public_txt (cert)) == entry);
    zcert_destroy (&cert);
    assert (osmose_trust_lookup (trust, "0000000000000000") == NULL);

    //  It survives a reload, and removal persists too
    osmose_trust_destroy (&trust);
    assert (osmose_trust_load (path, &trust, error, sizeof (error)) == 0);
    assert (osmose_trust_size (trust) == 2);
    osmose_trust_entry_t removed;
    assert (osmose_trust_remove (trust, osmose_identity_id (alice), &removed) == 0);
    assert (streq (removed.id, osmose_identity_id (alice)));
    assert (osmose_trust_remove (trust, osmose_identity_id (alice), NULL) == OSMOSE_ENOTFOUND);
    osmose_trust_destroy (&trust);
    assert (osmose_trust_load (path, &trust, error, sizeof (error)) == 0);
    assert (osmose_trust_size (trust) == 1);
    assert (osmose_trust_at (trust, 0)->role == OSMOSE_TRUST_ADMIN);
    json_t *json = osmose_trust_json (trust);
    assert (json_array_size (json) == 1);
    json_decref (json);
    osmose_trust_destroy (&trust);

    //  Keys: hex, a node.pub file, and garbage
    uint8_t key [OSMOSE_KEY_SIZE];
    char hex [2 * OSMOSE_KEY_SIZE + 1];
    sodium_bin2hex (hex, sizeof (hex), alice_key, OSMOSE_KEY_SIZE);
    assert (osmose_trust_parse_key (hex, key) == 0 && memcmp (key, alice_key, 32) == 0);
    char pub [128];
    snprintf (pub, sizeof (pub), "osmose-ed25519-public-v1\n%s\n", hex);
    assert (osmose_trust_parse_key (pub, key) == 0);
    assert (osmose_trust_parse_key ("abcd", key) == OSMOSE_EINVAL);
    hex [10] = 'x';
    assert (osmose_trust_parse_key (hex, key) == OSMOSE_EINVAL);

    //  A damaged file is reported with its line, and nothing is rewritten
    FILE *file = fopen (path, "a");
    fprintf (file, "deadbeef device broken\n");
    fclose (file);
    assert (osmose_trust_load (path, &trust, error, sizeof (error)) == OSMOSE_ECORRUPT);
    assert (strstr (error, ":3: not a trust entry"));
    assert (trust == NULL);

    osmose_identity_destroy (&alice);
    osmose_identity_destroy (&bob);
    unlink (path);
    assert (rmdir (dir) == 0);
    printf ("OK\n");
}
