/*  osmose_plugins.h: the plugin registry: which plugin files exist, which
    are trusted, and the functions of those loaded.

    A plugin file is trusted when the BLAKE2b-256 hash of its bytes is in the
    trust set (the state directory's plugins.trust: "HEX name" lines). The
    registry hashes a file through one open descriptor and loads that same
    descriptor (/proc/self/fd/N), so the bytes hashed are the bytes run.
    Loading runs plugin code: only osmose-worker loads; osmosed only scans.

    Thread safety: one registry per thread.
*/
#ifndef OSMOSE_PLUGINS_H_INCLUDED
#define OSMOSE_PLUGINS_H_INCLUDED

#include "../include/osmose_plugin.h"

#define OSMOSE_PLUGINS_HASH_HEX 65       //  64 hex digits + NUL
#define OSMOSE_PLUGINS_TRUST_FILE "plugins.trust"

typedef struct _osmose_plugins_t osmose_plugins_t;

typedef enum {
    OSMOSE_PLUGIN_LOADED,       //  trusted, loaded, functions available
    OSMOSE_PLUGIN_TRUSTED,      //  trusted and not loaded (scan only)
    OSMOSE_PLUGIN_UNTRUSTED,    //  hash not in the trust set: refused
    OSMOSE_PLUGIN_BAD_ABI,      //  no descriptor, other ABI, or malformed
    OSMOSE_PLUGIN_ERROR         //  unreadable, dlopen failed, duplicate
} osmose_plugin_status_t;

typedef struct {
    const char *path;           //  the file
    const char *name;           //  descriptor name, or file name if none
    const char *version;        //  descriptor version, or ""
    char hash [OSMOSE_PLUGINS_HASH_HEX];
    osmose_plugin_status_t status;
    const char *reason;         //  why refused, or ""
    size_t functions;           //  functions it provides when loaded
} osmose_plugins_entry_t;

//  Create an empty registry with an empty trust set. NULL on no memory.
osmose_plugins_t *
    osmose_plugins_new (void);

//  Unload the plugins and free the registry; accepts NULL, clears *self_p.
void
    osmose_plugins_destroy (osmose_plugins_t **self_p);

//  Trust the plugin file whose hash is HEX (64 hex digits).
int OSMOSE_CHECK
    osmose_plugins_trust (osmose_plugins_t *self, const char *hex);

//  Trust every hash listed in a trust file; a missing file adds nothing and
//  returns 0. Lines: "HEX [name]"; '#' starts a comment.
int OSMOSE_CHECK
    osmose_plugins_trust_file (osmose_plugins_t *self, const char *filename);

//  Append the hashes listed in a trust file to HASHES (as strdup'ed
//  lowercase strings: give HASHES a destructor). A missing file adds
//  nothing and returns 0; an unreadable one returns OSMOSE_EIO.
int OSMOSE_CHECK
    osmose_plugins_trust_list (const char *filename, zlistx_t *hashes);

//  Examine one plugin file: hash it and, when LOAD and it is trusted, load
//  it. Returns 0 when loaded (or trusted, without LOAD), else the reason:
//  OSMOSE_EUNTRUSTED, OSMOSE_EPROTO (bad ABI), OSMOSE_EIO, OSMOSE_EEXIST.
//  Every file examined becomes an entry, refused ones too.
int
    osmose_plugins_add_file (osmose_plugins_t *self, const char *path, bool load);

//  Examine every *.so in DIR, in name order. Returns how many were loaded
//  (or trusted, without LOAD), or OSMOSE_EIO when DIR cannot be read.
int
    osmose_plugins_scan (osmose_plugins_t *self, const char *dir, bool load);

//  Entries examined so far, and one of them (NULL when out of range).
size_t
    osmose_plugins_size (osmose_plugins_t *self);
const osmose_plugins_entry_t *
    osmose_plugins_entry (osmose_plugins_t *self, size_t index);

//  Find "plugin.function" among loaded plugins. NULL when there is none;
//  sets *flags_p when given.
osmose_plugin_fn *
    osmose_plugins_lookup (osmose_plugins_t *self, const char *name, uint32_t *flags_p);

//  Full names ("plugin.function") of all loaded functions, in load order:
//  count, and one by index (NULL out of range).
size_t
    osmose_plugins_functions (osmose_plugins_t *self);
const char *
    osmose_plugins_function (osmose_plugins_t *self, size_t index);

//  Name of a status: "loaded", "trusted", "untrusted", "bad-abi", "error".
const char *
    osmose_plugins_status_name (osmose_plugin_status_t status);

//  BLAKE2b-256 of the file at PATH as 64 hex digits into HEX.
int OSMOSE_CHECK
    osmose_plugins_hash_file (const char *path, char hex [OSMOSE_PLUGINS_HASH_HEX]);

//  Append "HEX name" to the trust file FILENAME (created 0644), unless the
//  hash is already there. Returns 0, or OSMOSE_EIO.
int OSMOSE_CHECK
    osmose_plugins_trust_append (const char *filename, const char *hex, const char *name);

void
    osmose_plugins_test (bool verbose);

#endif
