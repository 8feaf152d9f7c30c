/*  osmose_plugins.c: the plugin registry (see osmose_plugins.h).

    Each file is read once: its bytes are hashed and copied into a sealed
    memfd at the same time, and it is the memfd that is dlopen'ed. So a file
    changed after the check (or while it is read) is never run unchecked.
*/
#include "osmose_prelude.h"
#include "osmose_plugins.h"
#include <dlfcn.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define S_MAX_PLUGIN_BYTES (256u * 1024 * 1024)

typedef struct {
    osmose_plugins_entry_t pub; //  what callers see; strings below
    char *path;
    char *name;
    char *version;
    char *reason;
    void *handle;               //  dlopen handle when loaded
    int fd;                     //  memfd the plugin was loaded from, or -1
} s_entry_t;

typedef struct {
    char *fullname;             //  "plugin.function"
    osmose_plugin_fn *fn;
    uint32_t flags;
} s_function_t;

struct _osmose_plugins_t {
    zhashx_t *trusted;          //  hex hash -> "" (a set)
    zlistx_t *entries;          //  s_entry_t, in examination order
    zhashx_t *by_name;          //  "plugin.function" -> s_function_t
    zlistx_t *functions;        //  s_function_t, load order (owns them)
};

static void
s_entry_destroy (s_entry_t **self_p)
{
    s_entry_t *self = *self_p;
    if (!self)
        return;
    if (self->handle)
        dlclose (self->handle);
    if (self->fd >= 0)
        close (self->fd);
    free (self->path);
    free (self->name);
    free (self->version);
    free (self->reason);
    free (self);
    *self_p = NULL;
}

static void
s_function_destroy (s_function_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->fullname);
        free (*self_p);
        *self_p = NULL;
    }
}

osmose_plugins_t *
osmose_plugins_new (void)
{
    osmose_plugins_t *self = (osmose_plugins_t *) calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    self->trusted = zhashx_new ();
    self->entries = zlistx_new ();
    self->by_name = zhashx_new ();
    self->functions = zlistx_new ();
    zlistx_set_destructor (self->entries, (zlistx_destructor_fn *) s_entry_destroy);
    zlistx_set_destructor (self->functions, (zlistx_destructor_fn *) s_function_destroy);
    return self;
}

void
osmose_plugins_destroy (osmose_plugins_t **self_p)
{
    osmose_plugins_t *self = *self_p;
    if (!self)
        return;
    //  Function names point into plugin code: drop them before unloading
    zhashx_destroy (&self->by_name);
    zlistx_destroy (&self->functions);
    zlistx_destroy (&self->entries);
    zhashx_destroy (&self->trusted);
    free (self);
    *self_p = NULL;
}

static bool
s_valid_hex (const char *hex)
{
    if (!hex || strlen (hex) != 64)
        return false;
    for (const char *c = hex; *c; c++)
        if (!isxdigit ((unsigned char) *c))
            return false;
    return true;
}

int
osmose_plugins_trust (osmose_plugins_t *self, const char *hex)
{
    if (!s_valid_hex (hex))
        return OSMOSE_EINVAL;
    char lower [OSMOSE_PLUGINS_HASH_HEX];
    for (int index = 0; index < 65; index++)
        lower [index] = (char) tolower ((unsigned char) hex [index]);
    zhashx_update (self->trusted, lower, (void *) "");
    return 0;
}

int
osmose_plugins_trust_list (const char *filename, zlistx_t *hashes)
{
    FILE *file = fopen (filename, "r");
    if (!file)
        return errno == ENOENT? 0: OSMOSE_EIO;
    char line [1024];
    int lineno = 0;
    while (fgets (line, sizeof (line), file)) {
        lineno++;
        char *start = line + strspn (line, " \t");
        if (*start == '#' || *start == '\n' || *start == '\0')
            continue;
        size_t length = strcspn (start, " \t\r\n");
        start [length] = '\0';
        if (s_valid_hex (start)) {
            for (char *c = start; *c; c++)
                *c = (char) tolower ((unsigned char) *c);
            zlistx_add_end (hashes, strdup (start));
        }
        else
            zsys_warning ("plugins: %s:%d: not a 64-digit hash, line ignored", filename, lineno);
    }
    fclose (file);
    return 0;
}

int
osmose_plugins_trust_file (osmose_plugins_t *self, const char *filename)
{
    zlistx_t *hashes = zlistx_new ();
    if (!hashes)
        return OSMOSE_ENOMEM;
    zlistx_set_destructor (hashes, (zlistx_destructor_fn *) zstr_free);
    int rc = osmose_plugins_trust_list (filename, hashes);
    for (char *hex = (char *) zlistx_first (hashes); hex && rc == 0;
         hex = (char *) zlistx_next (hashes))
        rc = osmose_plugins_trust (self, hex);
    zlistx_destroy (&hashes);
    return rc;
}

//  Hash FD to its end, copying the bytes into COPY_FD when >= 0
static int
s_hash_fd (int fd, int copy_fd, char hex [OSMOSE_PLUGINS_HASH_HEX])
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, 32);
    uint8_t buffer [65536];
    size_t total = 0;
    while (true) {
        ssize_t got = read (fd, buffer, sizeof (buffer));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return OSMOSE_EIO;
        if (got == 0)
            break;
        total += (size_t) got;
        if (total > S_MAX_PLUGIN_BYTES)
            return OSMOSE_ETOOBIG;
        crypto_generichash_update (&state, buffer, (size_t) got);
        for (ssize_t done = 0; copy_fd >= 0 && done < got;) {
            ssize_t put = write (copy_fd, buffer + done, (size_t) (got - done));
            if (put < 0 && errno != EINTR)
                return OSMOSE_EIO;
            if (put > 0)
                done += put;
        }
    }
    uint8_t digest [32];
    crypto_generichash_final (&state, digest, sizeof (digest));
    sodium_bin2hex (hex, OSMOSE_PLUGINS_HASH_HEX, digest, sizeof (digest));
    return 0;
}

int
osmose_plugins_hash_file (const char *path, char hex [OSMOSE_PLUGINS_HASH_HEX])
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return osmose_errno_code (errno);
    int rc = s_hash_fd (fd, -1, hex);
    close (fd);
    return rc;
}

static bool
s_valid_name (const char *name)
{
    if (!name)
        return false;
    size_t length = strnlen (name, OSMOSE_PLUGIN_MAX_NAME + 1);
    if (length == 0 || length > OSMOSE_PLUGIN_MAX_NAME)
        return false;
    for (size_t index = 0; index < length; index++) {
        char c = name [index];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  Check a descriptor; NULL when sane, else why not
static const char *
s_check_descriptor (const osmose_plugin_descriptor_t *descriptor)
{
    if (!descriptor)
        return "no osmose_plugin_descriptor symbol";
    if (descriptor->abi != OSMOSE_PLUGIN_ABI)
        return "plugin ABI differs from this host's";
    if (!s_valid_name (descriptor->name))
        return "plugin name is not 1-31 characters of [a-z0-9_-]";
    if (!descriptor->version || strnlen (descriptor->version, 64) == 64)
        return "version string missing or longer than 63 characters";
    if (descriptor->count == 0 || descriptor->count > OSMOSE_PLUGIN_MAX_FUNCTIONS
    || !descriptor->functions)
        return "function count must be 1..256";
    for (uint32_t index = 0; index < descriptor->count; index++) {
        const osmose_plugin_function_t *function = &descriptor->functions [index];
        if (!s_valid_name (function->name) || !function->fn)
            return "a function has a bad name or no code";
        for (uint32_t other = 0; other < index; other++)
            if (streq (descriptor->functions [other].name, function->name))
                return "two functions share a name";
    }
    return NULL;
}

static int
s_refuse (s_entry_t *entry, osmose_plugin_status_t status, const char *reason, int rc)
{
    entry->pub.status = status;
    free (entry->reason);
    entry->reason = strdup (reason);
    entry->pub.reason = entry->reason? entry->reason: "";
    if (status != OSMOSE_PLUGIN_UNTRUSTED)
        zsys_warning ("plugins: %s refused (%s): %s", entry->path,
                      osmose_plugins_status_name (status), entry->pub.reason);
    else
        zsys_info ("plugins: %s refused: hash %s is not trusted", entry->path, entry->pub.hash);
    return rc;
}

//  Load ENTRY from its memfd and register its functions
static int
s_load (osmose_plugins_t *self, s_entry_t *entry)
{
    char fd_path [64];
    snprintf (fd_path, sizeof (fd_path), "/proc/self/fd/%d", entry->fd);
    entry->handle = dlopen (fd_path, RTLD_NOW | RTLD_LOCAL);
    if (!entry->handle) {
        const char *error = dlerror ();
        return s_refuse (entry, OSMOSE_PLUGIN_ERROR, error? error: "dlopen failed", OSMOSE_EIO);
    }
    const osmose_plugin_descriptor_t *descriptor = (const osmose_plugin_descriptor_t *)
        dlsym (entry->handle, OSMOSE_PLUGIN_DESCRIPTOR_SYMBOL);
    const char *problem = s_check_descriptor (descriptor);
    if (problem)
        return s_refuse (entry, OSMOSE_PLUGIN_BAD_ABI, problem, OSMOSE_EPROTO);
    free (entry->name);
    entry->name = strdup (descriptor->name);
    entry->version = strdup (descriptor->version);
    if (!entry->name || !entry->version)
        return s_refuse (entry, OSMOSE_PLUGIN_ERROR, "out of memory", OSMOSE_ENOMEM);
    entry->pub.name = entry->name;
    entry->pub.version = entry->version;
    char fullname [2 * OSMOSE_PLUGIN_MAX_NAME + 2];
    snprintf (fullname, sizeof (fullname), "%s.%s", descriptor->name, descriptor->functions [0].name);
    if (zhashx_lookup (self->by_name, fullname))
        return s_refuse (entry, OSMOSE_PLUGIN_ERROR, "another plugin has the same name", OSMOSE_EEXIST);
    for (uint32_t index = 0; index < descriptor->count; index++) {
        const osmose_plugin_function_t *function = &descriptor->functions [index];
        s_function_t *record = (s_function_t *) calloc (1, sizeof (*record));
        snprintf (fullname, sizeof (fullname), "%s.%s", descriptor->name, function->name);
        if (record)
            record->fullname = strdup (fullname);
        if (!record || !record->fullname) {
            free (record);
            return s_refuse (entry, OSMOSE_PLUGIN_ERROR, "out of memory", OSMOSE_ENOMEM);
        }
        record->fn = function->fn;
        record->flags = function->flags;
        zlistx_add_end (self->functions, record);
        zhashx_update (self->by_name, record->fullname, record);
    }
    entry->pub.functions = descriptor->count;
    entry->pub.status = OSMOSE_PLUGIN_LOADED;
    zsys_debug ("plugins: loaded %s %s (%u functions) from %s", entry->name, entry->version,
               descriptor->count, entry->path);
    return 0;
}

int
osmose_plugins_add_file (osmose_plugins_t *self, const char *path, bool load)
{
    s_entry_t *entry = (s_entry_t *) calloc (1, sizeof (*entry));
    if (!entry)
        return OSMOSE_ENOMEM;
    entry->fd = -1;
    entry->path = strdup (path);
    const char *base = strrchr (path, '/');
    entry->name = strndup (base? base + 1: path, strcspn (base? base + 1: path, "."));
    entry->pub.reason = "";
    entry->pub.version = "";
    if (!entry->path || !entry->name) {
        s_entry_destroy (&entry);
        return OSMOSE_ENOMEM;
    }
    entry->pub.path = entry->path;
    entry->pub.name = entry->name;
    zlistx_add_end (self->entries, entry);

    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat info;
    if (fd < 0 || fstat (fd, &info) || !S_ISREG (info.st_mode)) {
        if (fd >= 0)
            close (fd);
        return s_refuse (entry, OSMOSE_PLUGIN_ERROR, fd < 0? strerror (errno): "not a regular file",
                         OSMOSE_EIO);
    }
    if (load)
        entry->fd = memfd_create ("osmose-plugin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int rc = load && entry->fd < 0? OSMOSE_EIO: s_hash_fd (fd, entry->fd, entry->pub.hash);
    close (fd);
    if (rc)
        return s_refuse (entry, OSMOSE_PLUGIN_ERROR, "cannot read or copy the file", rc);
    if (!zhashx_lookup (self->trusted, entry->pub.hash))
        return s_refuse (entry, OSMOSE_PLUGIN_UNTRUSTED, "hash is not in the trust set",
                         OSMOSE_EUNTRUSTED);
    if (!load) {
        entry->pub.status = OSMOSE_PLUGIN_TRUSTED;
        return 0;
    }
    //  Seal the copy: nothing may change the bytes we hashed
    fcntl (entry->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    return s_load (self, entry);
}

static int
s_compare_names (const void *left, const void *right)
{
    return strcmp (*(char * const *) left, *(char * const *) right);
}

int
osmose_plugins_scan (osmose_plugins_t *self, const char *dir, bool load)
{
    DIR *handle = opendir (dir);
    if (!handle) {
        zsys_warning ("plugins: cannot read %s: %s", dir, strerror (errno));
        return OSMOSE_EIO;
    }
    char *names [1024];
    size_t count = 0;
    struct dirent *item;
    while ((item = readdir (handle)) && count < 1024) {
        size_t length = strlen (item->d_name);
        if (length > 3 && streq (item->d_name + length - 3, ".so") && item->d_name [0] != '.')
            if ((names [count] = strdup (item->d_name)))
                count++;
    }
    closedir (handle);
    qsort (names, count, sizeof (char *), s_compare_names);
    int good = 0;
    for (size_t index = 0; index < count; index++) {
        char path [4096];
        if (snprintf (path, sizeof (path), "%s/%s", dir, names [index]) < (int) sizeof (path)
        &&  osmose_plugins_add_file (self, path, load) == 0)
            good++;
        free (names [index]);
    }
    return good;
}

size_t
osmose_plugins_size (osmose_plugins_t *self)
{
    return zlistx_size (self->entries);
}

const osmose_plugins_entry_t *
osmose_plugins_entry (osmose_plugins_t *self, size_t index)
{
    if (index >= zlistx_size (self->entries))
        return NULL;
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries);
    while (index--)
        entry = (s_entry_t *) zlistx_next (self->entries);
    return &entry->pub;
}

osmose_plugin_fn *
osmose_plugins_lookup (osmose_plugins_t *self, const char *name, uint32_t *flags_p)
{
    s_function_t *record = name? (s_function_t *) zhashx_lookup (self->by_name, name): NULL;
    if (record && flags_p)
        *flags_p = record->flags;
    return record? record->fn: NULL;
}

size_t
osmose_plugins_functions (osmose_plugins_t *self)
{
    return zlistx_size (self->functions);
}

const char *
osmose_plugins_function (osmose_plugins_t *self, size_t index)
{
    if (index >= zlistx_size (self->functions))
        return NULL;
    s_function_t *record = (s_function_t *) zlistx_first (self->functions);
    while (index--)
        record = (s_function_t *) zlistx_next (self->functions);
    return record->fullname;
}

const char *
osmose_plugins_status_name (osmose_plugin_status_t status)
{
    switch (status) {
        case OSMOSE_PLUGIN_LOADED:    return "loaded";
        case OSMOSE_PLUGIN_TRUSTED:   return "trusted";
        case OSMOSE_PLUGIN_UNTRUSTED: return "untrusted";
        case OSMOSE_PLUGIN_BAD_ABI:   return "bad-abi";
        default:                      return "error";
    }
}

int
osmose_plugins_trust_append (const char *filename, const char *hex, const char *name)
{
    if (!s_valid_hex (hex))
        return OSMOSE_EINVAL;
    FILE *file = fopen (filename, "r");
    if (file) {
        char line [1024];
        bool present = false;
        while (!present && fgets (line, sizeof (line), file))
            present = strncasecmp (line, hex, 64) == 0;
        fclose (file);
        if (present)
            return 0;
    }
    int fd = open (filename, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return OSMOSE_EIO;
    char line [1024];
    int length = snprintf (line, sizeof (line), "%s %s\n", hex, name? name: "");
    bool ok = length > 0 && length < (int) sizeof (line)
           && write (fd, line, (size_t) length) == length;
    return close (fd) == 0 && ok? 0: OSMOSE_EIO;
}

//  --------------------------------------------------------------------------
//  Self-test

typedef struct {
    uint8_t data [256];
    size_t size;
} s_test_out_t;

static void *
s_test_reserve (osmose_plugin_out_t *out, size_t size)
{
    s_test_out_t *buffer = (s_test_out_t *) out->host;
    if (buffer->size + size > sizeof (buffer->data))
        return NULL;
    buffer->size += size;
    return buffer->data + buffer->size - size;
}

static int
s_test_write (osmose_plugin_out_t *out, const void *data, size_t size)
{
    void *place = s_test_reserve (out, size);
    if (place)
        memcpy (place, data, size);
    return place? 0: OSMOSE_ETOOBIG;
}

static void
s_test_copy (const char *from, const char *to)
{
    char command [8500];
    snprintf (command, sizeof (command), "cp '%s' '%s'", from, to);
    assert (system (command) == 0);
}

void
osmose_plugins_test (bool verbose)
{
    printf (" * osmose_plugins: ");
    //  Hash of a file is the BLAKE2b-256 of its bytes
    char dir [] = "/tmp/osmose-plugins-test-XXXXXX";
    assert (mkdtemp (dir));
    char path [4200], other [4200], trust [4200];
    snprintf (path, sizeof (path), "%s/data.bin", dir);
    FILE *file = fopen (path, "w");
    assert (file);
    fputs ("hello plugins", file);
    fclose (file);
    char hex [OSMOSE_PLUGINS_HASH_HEX], expect [OSMOSE_PLUGINS_HASH_HEX];
    uint8_t digest [32];
    crypto_generichash (digest, 32, (const uint8_t *) "hello plugins", 13, NULL, 0);
    sodium_bin2hex (expect, sizeof (expect), digest, 32);
    assert (osmose_plugins_hash_file (path, hex) == 0);
    assert (streq (hex, expect));
    assert (osmose_plugins_hash_file ("/nonexistent/x.so", hex) == OSMOSE_ENOTFOUND);
    unlink (path);

    //  Trust file round trip, bad lines ignored
    snprintf (trust, sizeof (trust), "%s/" OSMOSE_PLUGINS_TRUST_FILE, dir);
    assert (osmose_plugins_trust_append (trust, expect, "data") == 0);
    assert (osmose_plugins_trust_append (trust, expect, "data") == 0);
    assert (osmose_plugins_trust_append (trust, "nothex", "x") == OSMOSE_EINVAL);
    file = fopen (trust, "a");
    fputs ("# comment\nshort bad-line\n", file);
    fclose (file);
    osmose_plugins_t *plugins = osmose_plugins_new ();
    assert (osmose_plugins_trust_file (plugins, trust) == 0);
    assert (zhashx_size (plugins->trusted) == 1);
    assert (osmose_plugins_trust_file (plugins, "/nonexistent/trust") == 0);
    osmose_plugins_destroy (&plugins);
    assert (plugins == NULL);
    unlink (trust);

    const char *build = getenv ("OSMOSE_PLUGIN_BUILD_DIR");
    char echo_so [4200];
    snprintf (echo_so, sizeof (echo_so), "%s/echo.so", build? build: "");
    if (!build || access (echo_so, R_OK)) {
        printf ("(no OSMOSE_PLUGIN_BUILD_DIR: plugin loading skipped) OK\n");
        rmdir (dir);
        return;
    }
    snprintf (path, sizeof (path), "%s/echo.so", dir);
    s_test_copy (echo_so, path);
    assert (osmose_plugins_hash_file (path, hex) == 0);

    //  Untrusted: examined, refused, nothing to call
    plugins = osmose_plugins_new ();
    assert (osmose_plugins_scan (plugins, dir, true) == 0);
    assert (osmose_plugins_size (plugins) == 1);
    const osmose_plugins_entry_t *entry = osmose_plugins_entry (plugins, 0);
    assert (entry->status == OSMOSE_PLUGIN_UNTRUSTED);
    assert (streq (entry->hash, hex));
    assert (osmose_plugins_lookup (plugins, "echo.echo", NULL) == NULL);
    assert (osmose_plugins_functions (plugins) == 0);
    osmose_plugins_destroy (&plugins);

    //  Trusted: loaded and callable
    plugins = osmose_plugins_new ();
    assert (osmose_plugins_trust (plugins, hex) == 0);
    assert (osmose_plugins_scan (plugins, dir, false) == 1);
    assert (osmose_plugins_entry (plugins, 0)->status == OSMOSE_PLUGIN_TRUSTED);
    assert (osmose_plugins_lookup (plugins, "echo.echo", NULL) == NULL);
    osmose_plugins_destroy (&plugins);
    plugins = osmose_plugins_new ();
    assert (osmose_plugins_trust (plugins, hex) == 0);
    assert (osmose_plugins_scan (plugins, dir, true) == 1);
    entry = osmose_plugins_entry (plugins, 0);
    assert (entry->status == OSMOSE_PLUGIN_LOADED);
    assert (streq (entry->name, "echo"));
    assert (entry->functions >= 2);
    assert (osmose_plugins_functions (plugins) == entry->functions);
    assert (streq (osmose_plugins_function (plugins, 0), "echo.echo"));
    osmose_plugin_fn *fn = osmose_plugins_lookup (plugins, "echo.echo", NULL);
    assert (fn);
    assert (osmose_plugins_lookup (plugins, "echo.nosuch", NULL) == NULL);
    assert (osmose_plugins_lookup (plugins, "nosuch.echo", NULL) == NULL);
    s_test_out_t buffer = { .size = 0 };
    osmose_plugin_out_t out = { s_test_write, s_test_reserve, &buffer };
    assert (fn ((const uint8_t *) "ping", 4, &out, NULL) == 0);
    assert (buffer.size == 4 && memcmp (buffer.data, "ping", 4) == 0);
    //  The same file again: its name is taken
    assert (osmose_plugins_add_file (plugins, path, true) == OSMOSE_EEXIST);
    assert (osmose_plugins_entry (plugins, 1)->status == OSMOSE_PLUGIN_ERROR);
    osmose_plugins_destroy (&plugins);

    //  Modified after it was trusted: refused
    file = fopen (path, "a");
    fputc (0, file);
    fclose (file);
    plugins = osmose_plugins_new ();
    assert (osmose_plugins_trust (plugins, hex) == 0);
    assert (osmose_plugins_add_file (plugins, path, true) == OSMOSE_EUNTRUSTED);
    assert (osmose_plugins_entry (plugins, 0)->status == OSMOSE_PLUGIN_UNTRUSTED);
    assert (osmose_plugins_functions (plugins) == 0);
    osmose_plugins_destroy (&plugins);
    unlink (path);

    //  Trusted but of another ABI: refused
    snprintf (other, sizeof (other), "%s/test_badabi.so", build);
    if (access (other, R_OK) == 0) {
        snprintf (path, sizeof (path), "%s/test_badabi.so", dir);
        s_test_copy (other, path);
        plugins = osmose_plugins_new ();
        assert (osmose_plugins_hash_file (path, hex) == 0);
        assert (osmose_plugins_trust (plugins, hex) == 0);
        assert (osmose_plugins_add_file (plugins, path, true) == OSMOSE_EPROTO);
        entry = osmose_plugins_entry (plugins, 0);
        assert (entry->status == OSMOSE_PLUGIN_BAD_ABI);
        assert (streq (osmose_plugins_status_name (entry->status), "bad-abi"));
        assert (osmose_plugins_functions (plugins) == 0);
        osmose_plugins_destroy (&plugins);
        unlink (path);
    }
    assert (rmdir (dir) == 0);
    printf ("OK\n");
}
