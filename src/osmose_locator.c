/*  osmose_locator.c: location from a file or named pipe (osmose_locator.h). */
#include "osmose_prelude.h"
#include "osmose_locator.h"
#include <fcntl.h>
#include <sys/stat.h>

struct _osmose_locator_t {
    char *path;
    int fd;                     //  the pipe, kept open; -1 for a file
    bool is_pipe;
    struct timespec mtime;      //  of the file when last read
    off_t size;
    char pending [OSMOSE_LOCATION_MAX_LENGTH + 2];     //  a partial pipe line
    size_t pending_size;
};

osmose_locator_t *
osmose_locator_new (const char *path, char *error, size_t error_size)
{
    assert (path);
    struct stat st;
    if (stat (path, &st) != 0) {
        snprintf (error, error_size, "%s: %s", path, strerror (errno));
        return NULL;
    }
    osmose_locator_t *self = (osmose_locator_t *) zmalloc (sizeof (osmose_locator_t));
    if (!self || !(self->path = strdup (path))) {
        free (self);
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->fd = -1;
    self->is_pipe = S_ISFIFO (st.st_mode);
    if (self->is_pipe) {
        //  O_RDWR keeps the pipe open between writers, so no EOF storms
        self->fd = open (path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (self->fd < 0) {
            snprintf (error, error_size, "%s: %s", path, strerror (errno));
            osmose_locator_destroy (&self);
            return NULL;
        }
    }
    else
        self->size = -1;        //  read it at the first check
    return self;
}

void
osmose_locator_destroy (osmose_locator_t **self_p)
{
    if (self_p && *self_p) {
        if ((*self_p)->fd >= 0)
            close ((*self_p)->fd);
        free ((*self_p)->path);
        free (*self_p);
        *self_p = NULL;
    }
}

int
osmose_locator_fd (osmose_locator_t *self)
{
    assert (self);
    return self->fd;
}

//  Take the newest valid line of TEXT (SIZE bytes, whole lines)
static bool
s_last_line (const char *path, const char *text, size_t size, char *location)
{
    bool found = false;
    const char *line = text, *end = text + size;
    while (line < end) {
        const char *newline = memchr (line, '\n', (size_t) (end - line));
        size_t length = (size_t) ((newline? newline: end) - line);
        while (length && (line [length - 1] == '\r' || line [length - 1] == ' '))
            length--;
        if (length && length <= OSMOSE_LOCATION_MAX_LENGTH) {
            char candidate [OSMOSE_LOCATION_MAX_LENGTH + 1];
            memcpy (candidate, line, length);
            candidate [length] = 0;
            if (osmose_location_valid (candidate)) {
                memcpy (location, candidate, length + 1);
                found = true;
            }
            else
                zsys_warning ("locator: %s: '%s' is not a location path", path, candidate);
        }
        else
        if (length)
            zsys_warning ("locator: %s: line too long for a location", path);
        line = newline? newline + 1: end;
    }
    return found;
}

static bool
s_check_pipe (osmose_locator_t *self, char *location)
{
    bool found = false;
    char buffer [4096];
    ssize_t got;
    while ((got = read (self->fd, buffer, sizeof (buffer))) > 0) {
        for (ssize_t index = 0; index < got; index++) {
            char byte = buffer [index];
            if (byte == '\n') {
                found |= s_last_line (self->path, self->pending, self->pending_size, location);
                self->pending_size = 0;
            }
            else
            if (self->pending_size < sizeof (self->pending))
                self->pending [self->pending_size++] = byte;
        }
    }
    return found;
}

static bool
s_check_file (osmose_locator_t *self, char *location)
{
    struct stat st;
    if (stat (self->path, &st) != 0)
        return false;
    if (st.st_size == self->size && st.st_mtim.tv_sec == self->mtime.tv_sec
    &&  st.st_mtim.tv_nsec == self->mtime.tv_nsec)
        return false;
    self->size = st.st_size;
    self->mtime = st.st_mtim;
    FILE *file = fopen (self->path, "r");
    if (!file)
        return false;
    char buffer [16384];
    size_t size = fread (buffer, 1, sizeof (buffer), file);
    fclose (file);
    return s_last_line (self->path, buffer, size, location);
}

bool
osmose_locator_check (osmose_locator_t *self, char *location)
{
    assert (self && location);
    return self->is_pipe? s_check_pipe (self, location): s_check_file (self, location);
}

void
osmose_locator_test (bool verbose)
{
    printf (" * osmose_locator: ");
    char dir [] = "/tmp/osmose-locator-test-XXXXXX";
    assert (mkdtemp (dir));
    char path [PATH_MAX], location [OSMOSE_LOCATION_MAX_LENGTH + 1], error [256];
    snprintf (path, sizeof (path), "%s/missing", dir);
    assert (osmose_locator_new (path, error, sizeof (error)) == NULL);
    assert (strstr (error, "missing"));

    //  A regular file: read when it changes, last valid line wins
    snprintf (path, sizeof (path), "%s/where", dir);
    FILE *file = fopen (path, "w");
    assert (file);
    fprintf (file, "hq/floor1/lab\nnot a path!\n");
    fclose (file);
    osmose_locator_t *locator = osmose_locator_new (path, error, sizeof (error));
    assert (locator && osmose_locator_fd (locator) == -1);
    assert (osmose_locator_check (locator, location));
    assert (streq (location, "hq/floor1/lab"));
    assert (!osmose_locator_check (locator, location));
    file = fopen (path, "a");
    assert (file);
    fprintf (file, "hq/floor2/hall\n");
    fclose (file);
    assert (osmose_locator_check (locator, location));
    assert (streq (location, "hq/floor2/hall"));
    osmose_locator_destroy (&locator);
    assert (unlink (path) == 0);

    //  A named pipe: lines as they come, partial lines wait for their end
    snprintf (path, sizeof (path), "%s/pipe", dir);
    assert (mkfifo (path, 0600) == 0);
    locator = osmose_locator_new (path, error, sizeof (error));
    assert (locator && osmose_locator_fd (locator) >= 0);
    int writer = open (path, O_WRONLY | O_NONBLOCK);
    assert (writer >= 0);
    assert (!osmose_locator_check (locator, location));
    assert (write (writer, "a/b\na/c", 7) == 7);
    assert (osmose_locator_check (locator, location) && streq (location, "a/b"));
    assert (write (writer, "/d\n", 3) == 3);
    assert (osmose_locator_check (locator, location) && streq (location, "a/c/d"));
    close (writer);
    osmose_locator_destroy (&locator);
    assert (unlink (path) == 0);
    assert (rmdir (dir) == 0);
    printf ("OK\n");
}
