/*  osmose_identity.c: Ed25519 identity, stored and derived (see header).
    Key files are small text files, "osmose-ed25519-seed-v1" then the hex
    seed; text so an operator can tell what a file is, a seed so the file
    is half the size of a full secret key.
*/
#include "osmose_prelude.h"
#include "osmose_identity.h"
#include <fcntl.h>
#include <sys/stat.h>

#define S_SEED_MAGIC "osmose-ed25519-seed-v1"
#define S_PUB_MAGIC "osmose-ed25519-public-v1"

struct _osmose_identity_t {
    uint8_t public_key [crypto_sign_PUBLICKEYBYTES];
    uint8_t *secret_key;        //  sodium_malloc'd, crypto_sign_SECRETKEYBYTES
    char id [OSMOSE_ID_SIZE + 1];
};

static osmose_identity_t *
s_identity_from_seed (const uint8_t *seed)
{
    osmose_identity_t *self = (osmose_identity_t *) zmalloc (sizeof (osmose_identity_t));
    if (!self)
        return NULL;
    self->secret_key = (uint8_t *) sodium_malloc (crypto_sign_SECRETKEYBYTES);
    if (!self->secret_key) {
        free (self);
        return NULL;
    }
    crypto_sign_seed_keypair (self->public_key, self->secret_key, seed);
    osmose_identity_id_of (self->public_key, self->id);
    return self;
}

osmose_identity_t *
osmose_identity_new (void)
{
    uint8_t seed [crypto_sign_SEEDBYTES];
    randombytes_buf (seed, sizeof (seed));
    osmose_identity_t *self = s_identity_from_seed (seed);
    sodium_memzero (seed, sizeof (seed));
    return self;
}

void
osmose_identity_destroy (osmose_identity_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        osmose_identity_t *self = *self_p;
        sodium_free (self->secret_key);     //  wipes before freeing
        free (self);
        *self_p = NULL;
    }
}

//  Write MAGIC and the hex of KEY to PATH with MODE, atomically
static int
s_write_key (const char *path, const char *magic, const uint8_t *key,
             size_t size, mode_t mode)
{
    char tmp_path [PATH_MAX];
    if (snprintf (tmp_path, sizeof (tmp_path), "%s.tmp", path) >= (int) sizeof (tmp_path))
        return OSMOSE_ETOOBIG;
    int fd = open (tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return osmose_errno_code (errno);
    char hex [2 * 64 + 1];
    sodium_bin2hex (hex, sizeof (hex), key, size);
    char text [256];
    int len = snprintf (text, sizeof (text), "%s\n%s\n", magic, hex);
    sodium_memzero (hex, sizeof (hex));
    int rc = 0;
    if (write (fd, text, len) != len || fsync (fd) != 0)
        rc = osmose_errno_code (errno? errno: EIO);
    sodium_memzero (text, sizeof (text));
    if (close (fd) != 0 && rc == 0)
        rc = osmose_errno_code (errno);
    if (rc == 0 && rename (tmp_path, path) != 0)
        rc = osmose_errno_code (errno);
    if (rc)
        unlink (tmp_path);
    return rc;
}

//  Read a key file written by s_write_key into KEY (SIZE bytes)
static int
s_read_key (const char *path, const char *magic, uint8_t *key, size_t size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return osmose_errno_code (errno);
    char text [256];
    ssize_t len = read (fd, text, sizeof (text) - 1);
    close (fd);
    if (len < 0)
        return OSMOSE_EIO;
    text [len] = 0;
    size_t magic_len = strlen (magic);
    int rc = OSMOSE_ECORRUPT;
    const char *end = NULL;
    size_t decoded = 0;
    if ((size_t) len == magic_len + 1 + 2 * size + 1
    &&  strncmp (text, magic, magic_len) == 0 && text [magic_len] == '\n'
    &&  sodium_hex2bin (key, size, text + magic_len + 1, 2 * size,
                        NULL, &decoded, &end) == 0
    &&  decoded == size && *end == '\n')
        rc = 0;
    sodium_memzero (text, sizeof (text));
    return rc;
}

int
osmose_identity_load (const char *dir, bool create, osmose_identity_t **self_p)
{
    assert (dir && self_p);
    char key_path [PATH_MAX], pub_path [PATH_MAX];
    if (snprintf (key_path, sizeof (key_path), "%s/node.key", dir) >= (int) sizeof (key_path)
    ||  snprintf (pub_path, sizeof (pub_path), "%s/node.pub", dir) >= (int) sizeof (pub_path))
        return OSMOSE_ETOOBIG;

    uint8_t *seed = (uint8_t *) sodium_malloc (crypto_sign_SEEDBYTES);
    if (!seed)
        return OSMOSE_ENOMEM;
    int rc = s_read_key (key_path, S_SEED_MAGIC, seed, crypto_sign_SEEDBYTES);
    bool created = false;
    if (rc == OSMOSE_ENOTFOUND && create) {
        randombytes_buf (seed, crypto_sign_SEEDBYTES);
        rc = s_write_key (key_path, S_SEED_MAGIC, seed, crypto_sign_SEEDBYTES, 0600);
        created = rc == 0;
    }
    osmose_identity_t *self = NULL;
    if (rc == 0) {
        self = s_identity_from_seed (seed);
        if (!self)
            rc = OSMOSE_ENOMEM;
    }
    sodium_free (seed);
    if (rc == 0) {
        //  The public file is a convenience for enrolment; it must agree
        uint8_t public_key [crypto_sign_PUBLICKEYBYTES];
        int pub_rc = s_read_key (pub_path, S_PUB_MAGIC, public_key, sizeof (public_key));
        if (created || pub_rc == OSMOSE_ENOTFOUND)
            rc = s_write_key (pub_path, S_PUB_MAGIC, self->public_key,
                              sizeof (public_key), 0644);
        else
        if (pub_rc == 0 && memcmp (public_key, self->public_key, sizeof (public_key)))
            rc = OSMOSE_ECORRUPT;
        else
            rc = pub_rc;
    }
    if (rc)
        osmose_identity_destroy (&self);
    *self_p = self;
    return rc;
}

const uint8_t *
osmose_identity_public (osmose_identity_t *self)
{
    assert (self);
    return self->public_key;
}

const char *
osmose_identity_id (osmose_identity_t *self)
{
    assert (self);
    return self->id;
}

void
osmose_identity_id_of (const uint8_t *public_key, char *id)
{
    uint8_t digest [OSMOSE_ID_SIZE / 2];
    crypto_generichash (digest, sizeof (digest), public_key,
                        crypto_sign_PUBLICKEYBYTES, NULL, 0);
    sodium_bin2hex (id, OSMOSE_ID_SIZE + 1, digest, sizeof (digest));
}

void
osmose_identity_sign (osmose_identity_t *self, const uint8_t *data,
                      size_t size, uint8_t *signature)
{
    assert (self && signature);
    crypto_sign_detached (signature, NULL, data, size, self->secret_key);
}

int
osmose_identity_verify (const uint8_t *public_key, const uint8_t *data,
                        size_t size, const uint8_t *signature)
{
    if (!public_key || !signature)
        return OSMOSE_EINVAL;
    return crypto_sign_verify_detached (signature, data, size, public_key) == 0
        ? 0: OSMOSE_EVERIFY;
}

zcert_t *
osmose_identity_cert (osmose_identity_t *self)
{
    assert (self);
    uint8_t curve_public [crypto_scalarmult_curve25519_BYTES];
    uint8_t *curve_secret = (uint8_t *) sodium_malloc (crypto_scalarmult_curve25519_BYTES);
    if (!curve_secret)
        return NULL;
    zcert_t *cert = NULL;
    if (crypto_sign_ed25519_pk_to_curve25519 (curve_public, self->public_key) == 0
    &&  crypto_sign_ed25519_sk_to_curve25519 (curve_secret, self->secret_key) == 0)
        cert = zcert_new_from (curve_public, curve_secret);
    sodium_free (curve_secret);
    return cert;
}

int
osmose_identity_curve_z85 (const uint8_t *public_key, char *z85)
{
    uint8_t curve_public [crypto_scalarmult_curve25519_BYTES];
    if (!public_key
    ||  crypto_sign_ed25519_pk_to_curve25519 (curve_public, public_key) != 0)
        return OSMOSE_EINVAL;
    zmq_z85_encode (z85, curve_public, sizeof (curve_public));
    return 0;
}

void
osmose_identity_test (bool verbose)
{
    printf (" * osmose_identity: ");
    char dir [] = "/tmp/osmose-identity-test-XXXXXX";
    assert (mkdtemp (dir));

    //  No identity and no permission to create one
    osmose_identity_t *self = NULL;
    assert (osmose_identity_load (dir, false, &self) == OSMOSE_ENOTFOUND);
    assert (self == NULL);

    //  Created once, then the same identity comes back
    assert (osmose_identity_load (dir, true, &self) == 0);
    char id [OSMOSE_ID_SIZE + 1];
    strcpy (id, osmose_identity_id (self));
    assert (strlen (id) == OSMOSE_ID_SIZE);
    char key_path [PATH_MAX];
    snprintf (key_path, sizeof (key_path), "%s/node.key", dir);
    struct stat st;
    assert (stat (key_path, &st) == 0);
    assert ((st.st_mode & 0777) == 0600);
    uint8_t signature [OSMOSE_SIG_SIZE];
    osmose_identity_sign (self, (const uint8_t *) "hello", 5, signature);
    assert (osmose_identity_verify (osmose_identity_public (self),
                                    (const uint8_t *) "hello", 5, signature) == 0);
    assert (osmose_identity_verify (osmose_identity_public (self),
                                    (const uint8_t *) "hellO", 5, signature) == OSMOSE_EVERIFY);
    //  The transport certificate is the same key in Curve25519 form
    zcert_t *cert = osmose_identity_cert (self);
    assert (cert);
    char z85 [41];
    assert (osmose_identity_curve_z85 (osmose_identity_public (self), z85) == 0);
    assert (streq (z85, zcert_public_txt (cert)));
    zcert_destroy (&cert);
    osmose_identity_destroy (&self);
    assert (osmose_identity_load (dir, false, &self) == 0);
    assert (streq (id, osmose_identity_id (self)));
    osmose_identity_destroy (&self);

    //  A truncated key file is reported, never replaced
    FILE *file = fopen (key_path, "r+");
    assert (file);
    assert (ftruncate (fileno (file), 20) == 0);
    fclose (file);
    assert (osmose_identity_load (dir, true, &self) == OSMOSE_ECORRUPT);
    assert (self == NULL);
    assert (stat (key_path, &st) == 0 && st.st_size == 20);

    //  Two fresh identities differ
    osmose_identity_t *one = osmose_identity_new ();
    osmose_identity_t *two = osmose_identity_new ();
    assert (one && two);
    assert (!streq (osmose_identity_id (one), osmose_identity_id (two)));
    osmose_identity_destroy (&one);
    osmose_identity_destroy (&two);
    osmose_identity_destroy (&two);

    char pub_path [PATH_MAX];
    snprintf (pub_path, sizeof (pub_path), "%s/node.pub", dir);
    unlink (key_path);
    unlink (pub_path);
    assert (rmdir (dir) == 0);
    printf ("OK\n");
}
