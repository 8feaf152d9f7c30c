/*  osmose_config.h: osmosed's configuration, read with CZMQ's zconfig (ZPL).

    Every setting is declared once in a schema (osmose_config.c) with its
    type, range, default and one line of documentation. Loading validates the
    whole file against the schema and reports the first problem as
    "FILE:LINE: reason", so an operator can fix it without guessing. Getters
    return the file's value or the schema default, never NULL.
*/
#ifndef OSMOSE_CONFIG_H_INCLUDED
#define OSMOSE_CONFIG_H_INCLUDED

typedef struct _osmose_config_t osmose_config_t;

//  Load and validate FILENAME. Returns NULL on failure with a message
//  "FILE:LINE: reason" (or "FILE: reason") in error.
osmose_config_t *
    osmose_config_load (const char *filename, char *error, size_t error_size);

//  As osmose_config_load, from ZPL text in memory (NAME labels messages).
osmose_config_t *
    osmose_config_load_string (const char *text, const char *name,
                               char *error, size_t error_size);

//  A configuration holding only the defaults.
osmose_config_t *
    osmose_config_new_default (void);

void
    osmose_config_destroy (osmose_config_t **self_p);

//  Value of a declared setting, e.g. "node/location"; the default when the
//  file leaves it out. Asserts that PATH is declared: a typo is a bug.
const char *
    osmose_config_str (osmose_config_t *self, const char *path);
int64_t
    osmose_config_int (osmose_config_t *self, const char *path);
bool
    osmose_config_bool (osmose_config_t *self, const char *path);

//  Override a setting at run time (command line, tests); validates VALUE.
//  Returns 0, OSMOSE_ENOTFOUND for an undeclared path or OSMOSE_ECONFIG.
int OSMOSE_CHECK
    osmose_config_set (osmose_config_t *self, const char *path, const char *value);

//  File the configuration came from, or NULL.
const char *
    osmose_config_filename (osmose_config_t *self);

//  Write a complete, commented configuration with every default to FILE.
void
    osmose_config_print_default (FILE *file);

void
    osmose_config_test (bool verbose);

#endif
