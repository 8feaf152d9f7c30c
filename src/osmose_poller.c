/*  osmose_poller.c: zpoller with a fast path for hot sockets
    (osmose_poller.h).

    A ZeroMQ socket's ZMQ_FD is an edge: it turns readable when commands
    reach the socket's mailbox, and asking ZMQ_EVENTS drains it. So a
    socket found ready stays marked ready here until it is returned, and a
    socket is taken off the fast path's trust as soon as anything but the
    hot handlers may have touched it.
*/
#include "osmose_prelude.h"
#include "osmose_poller.h"
#include <poll.h>

typedef struct {
    void *reader;               //  as the caller gave it
    void *socket;               //  its libzmq socket, NULL for a descriptor
    int fd;                     //  what poll () watches: ZMQ_FD or the descriptor
    bool hot;
    bool ready;                 //  found ready, not returned yet
} s_item_t;

struct _osmose_poller_t {
    s_item_t *items;            //  in the order they were added
    size_t count, capacity;
    struct pollfd *fds;         //  what ppoll () watches, one per item
    size_t built;               //  entries of fds allocated
    bool stale;                 //  fds must be rebuilt
    size_t pending;             //  items marked ready
    bool fast;                  //  no other socket touched since a full wait
    int64_t full_due;           //  when a wait must ask every socket (us)
    bool expired, terminated;
    osmose_poller_stats_t stats;
};

osmose_poller_t *
osmose_poller_new (void)
{
    return (osmose_poller_t *) zmalloc (sizeof (osmose_poller_t));
}

void
osmose_poller_destroy (osmose_poller_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->items);
        free ((*self_p)->fds);
        free (*self_p);
        *self_p = NULL;
    }
}

static s_item_t *
s_find (osmose_poller_t *self, void *reader)
{
    for (size_t index = 0; index < self->count; index++)
        if (self->items [index].reader == reader)
            return &self->items [index];
    return NULL;
}

int
osmose_poller_add (osmose_poller_t *self, void *reader)
{
    assert (self && reader);
    if (s_find (self, reader))
        return OSMOSE_EEXIST;
    s_item_t item = { .reader = reader, .socket = zsock_resolve (reader) };
    if (item.socket) {
        size_t size = sizeof (item.fd);
        if (zmq_getsockopt (item.socket, ZMQ_FD, &item.fd, &size) != 0)
            return OSMOSE_EINVAL;
    }
    else
        item.fd = *(int *) reader;
    if (self->count == self->capacity) {
        size_t capacity = self->capacity? self->capacity * 2: 16;
        s_item_t *items = (s_item_t *) realloc (self->items, capacity * sizeof (s_item_t));
        if (!items)
            return OSMOSE_ENOMEM;
        self->items = items;
        self->capacity = capacity;
    }
    self->items [self->count++] = item;
    self->stale = true;
    return 0;
}

void
osmose_poller_remove (osmose_poller_t *self, void *reader)
{
    assert (self && reader);
    s_item_t *item = s_find (self, reader);
    if (!item)
        return;
    if (item->ready)
        self->pending--;
    size_t index = (size_t) (item - self->items);
    memmove (item, item + 1, (self->count - index - 1) * sizeof (s_item_t));
    self->count--;
    self->stale = true;
}

int
osmose_poller_set_hot (osmose_poller_t *self, void *reader, bool hot)
{
    assert (self && reader);
    s_item_t *item = s_find (self, reader);
    if (!item)
        return OSMOSE_ENOTFOUND;
    item->hot = hot;
    return 0;
}

void
osmose_poller_touched (osmose_poller_t *self)
{
    assert (self);
    self->fast = false;
}

static int
s_rebuild (osmose_poller_t *self)
{
    if (self->count > self->built) {
        struct pollfd *fds = (struct pollfd *) realloc (self->fds,
                                                        self->count * sizeof (struct pollfd));
        if (!fds)
            return OSMOSE_ENOMEM;
        self->fds = fds;
        self->built = self->count;
    }
    for (size_t index = 0; index < self->count; index++)
        self->fds [index] = (struct pollfd) { .fd = self->items [index].fd, .events = POLLIN };
    self->stale = false;
    return 0;
}

//  1 when SOCKET has a message, 0 when not, -1 when it cannot tell
static int
s_socket_readable (void *socket)
{
    uint32_t events = 0;
    size_t size = sizeof (events);
    if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) != 0)
        return -1;
    return (events & ZMQ_POLLIN)? 1: 0;
}

static int
s_item_readable (const s_item_t *item)
{
    if (item->socket)
        return s_socket_readable (item->socket);
    struct pollfd pollfd = { .fd = item->fd, .events = POLLIN };
    int rc = poll (&pollfd, 1, 0);
    return rc < 0? -1: (pollfd.revents & POLLIN)? 1: 0;
}

static void
s_mark (osmose_poller_t *self, s_item_t *item)
{
    if (!item->ready) {
        item->ready = true;
        self->pending++;
    }
}

//  The first item marked ready, or NULL. RECHECK when handlers ran since
//  it was found: another reader's may have read it, so it is asked again
static s_item_t *
s_take_pending (osmose_poller_t *self, bool recheck)
{
    for (size_t index = 0; index < self->count && self->pending; index++) {
        s_item_t *item = &self->items [index];
        if (item->ready) {
            item->ready = false;
            self->pending--;
            if (!recheck || s_item_readable (item) > 0)
                return item;
        }
    }
    return NULL;
}

//  Sleep in one ppoll () on every reader's descriptor, up to UNTIL, and
//  mark the readers it found ready. A ZeroMQ socket's descriptor fires
//  only for commands that came after the socket was last asked, so the
//  caller asked every socket whose signal may have been taken
static int
s_sleep (osmose_poller_t *self, int64_t now, int64_t until)
{
    int64_t left = until == INT64_MAX? -1: until > now? until - now: 0;
    struct timespec timeout = { .tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000 };
    int rc = ppoll (self->fds, self->count, left < 0? NULL: &timeout, NULL);
    if (rc < 0)
        return -1;
    for (size_t index = 0; rc > 0 && index < self->count; index++) {
        s_item_t *item = &self->items [index];
        if (!self->fds [index].revents)
            continue;
        int readable = item->socket? s_socket_readable (item->socket)
                                   : (self->fds [index].revents & POLLIN) != 0;
        if (readable < 0)
            return -1;
        if (readable)
            s_mark (self, item);
    }
    return 0;
}

//  Ask the sockets (the hot ones, or all) for their events; 0, or -1
static int
s_ask (osmose_poller_t *self, bool hot_only)
{
    for (size_t index = 0; index < self->count; index++) {
        s_item_t *item = &self->items [index];
        if (item->socket && (item->hot || !hot_only)) {
            int readable = s_socket_readable (item->socket);
            if (readable < 0)
                return -1;
            if (readable)
                s_mark (self, item);
        }
    }
    return 0;
}

//  Every socket is asked once, as zmq_poll does before it sleeps; then
//  only those whose descriptor fires (zmq_poll asks every one again)
static int
s_wait_full (osmose_poller_t *self, int64_t now, int64_t end)
{
    self->stats.full++;
    if (s_ask (self, false))
        return -1;
    self->fast = true;
    self->full_due = now + OSMOSE_POLLER_FULL_US;
    return self->pending? 0: s_sleep (self, now, end);
}

//  The fast path: the hot sockets are asked, the rest only when their
//  descriptor wakes us, up to UNTIL. The hot handlers' own sends and
//  receives may have taken the signal of a message that came meanwhile
static int
s_wait_fast (osmose_poller_t *self, int64_t now, int64_t until)
{
    self->stats.fast++;
    if (s_ask (self, true))
        return -1;
    return self->pending? 0: s_sleep (self, now, until);
}

static void *
s_deliver (osmose_poller_t *self, const s_item_t *item)
{
    //  Any other reader's handler may use any socket
    if (!item->hot)
        self->fast = false;
    return item->reader;
}

void *
osmose_poller_wait (osmose_poller_t *self, int timeout_ms)
{
    assert (self);
    self->expired = false;
    self->terminated = false;
    if (self->stale && s_rebuild (self)) {
        self->terminated = true;
        return NULL;
    }
    s_item_t *item = s_take_pending (self, true);
    if (item)
        return s_deliver (self, item);
    int64_t now = zclock_usecs ();
    int64_t end = timeout_ms < 0? INT64_MAX: now + timeout_ms * INT64_C (1000);
    while (true) {
        int rc = self->fast && now < self->full_due
               ? s_wait_fast (self, now, end < self->full_due? end: self->full_due)
               : s_wait_full (self, now, end);
        if (rc) {
            self->fast = false;
            self->terminated = true;
            return NULL;
        }
        //  Found just now: no handler ran since, nothing to ask again
        if ((item = s_take_pending (self, false)))
            return s_deliver (self, item);
        now = zclock_usecs ();
        if (now >= end) {
            //  The caller's timers run now, and use any socket
            self->fast = false;
            self->expired = true;
            return NULL;
        }
    }
}

bool
osmose_poller_expired (osmose_poller_t *self)
{
    assert (self);
    return self->expired;
}

bool
osmose_poller_terminated (osmose_poller_t *self)
{
    assert (self);
    return self->terminated;
}

osmose_poller_stats_t
osmose_poller_stats (osmose_poller_t *self)
{
    assert (self);
    return self->stats;
}

//  Self-test
static zsock_t *
s_test_pair (const char *name, zsock_t **writer)
{
    zsock_t *reader = zsock_new_pair (NULL);
    assert (reader && zsock_bind (reader, "inproc://poller-%s", name) == 0);
    *writer = zsock_new_pair (NULL);
    assert (*writer && zsock_connect (*writer, "inproc://poller-%s", name) == 0);
    return reader;
}

//  Sends "late" to inproc://poller-late 50 ms after it started
static void
s_test_late_sender (zsock_t *pipe, void *args)
{
    zsock_t *writer = zsock_new_pair (">inproc://poller-late");
    assert (writer);
    zsock_signal (pipe, 0);
    zclock_sleep (50);
    zstr_send (writer, "late");
    char *command = zstr_recv (pipe);       //  $TERM
    zstr_free (&command);
    zsock_destroy (&writer);
}

static void
s_test_read (zsock_t *reader, const char *expected)
{
    char *text = zstr_recv (reader);
    assert (text && streq (text, expected));
    zstr_free (&text);
}

void
osmose_poller_test (bool verbose)
{
    printf (" * osmose_poller: ");
    zsock_t *a_in, *b_in, *hot_in;
    zsock_t *a = s_test_pair ("a", &a_in);
    zsock_t *b = s_test_pair ("b", &b_in);
    zsock_t *hot = s_test_pair ("hot", &hot_in);
    int pipe_fds [2];
    assert (pipe (pipe_fds) == 0);
    osmose_poller_t *poller = osmose_poller_new ();
    assert (poller);
    assert (osmose_poller_add (poller, a) == 0);
    assert (osmose_poller_add (poller, b) == 0);
    assert (osmose_poller_add (poller, hot) == 0);
    assert (osmose_poller_add (poller, &pipe_fds [0]) == 0);
    assert (osmose_poller_add (poller, a) == OSMOSE_EEXIST);
    assert (osmose_poller_set_hot (poller, &pipe_fds [1], true) == OSMOSE_ENOTFOUND);
    assert (osmose_poller_set_hot (poller, hot, true) == 0);

    //  Nothing: the time runs out
    assert (osmose_poller_wait (poller, 20) == NULL);
    assert (osmose_poller_expired (poller) && !osmose_poller_terminated (poller));

    //  A message that comes while a full wait sleeps wakes it
    zsock_t *late = zsock_new_pair ("@inproc://poller-late");
    assert (late && osmose_poller_add (poller, late) == 0);
    osmose_poller_touched (poller);
    zactor_t *sender = zactor_new (s_test_late_sender, NULL);
    assert (sender);
    int64_t slept = zclock_usecs ();
    assert (osmose_poller_wait (poller, 5000) == late);
    slept = zclock_usecs () - slept;
    assert (slept < 2000 * 1000);
    s_test_read (late, "late");
    zactor_destroy (&sender);
    osmose_poller_remove (poller, late);
    zsock_destroy (&late);

    //  A descriptor, then two sockets ready at once: both are returned,
    //  in the order they were added, though one poll took both signals
    assert (write (pipe_fds [1], "x", 1) == 1);
    assert (osmose_poller_wait (poller, 1000) == &pipe_fds [0]);
    char byte;
    assert (read (pipe_fds [0], &byte, 1) == 1);
    zstr_send (b_in, "to b");
    zstr_send (a_in, "to a");
    assert (osmose_poller_wait (poller, 1000) == a);
    s_test_read (a, "to a");
    osmose_poller_stats_t before = osmose_poller_stats (poller);
    assert (osmose_poller_wait (poller, 0) == b);
    assert (osmose_poller_stats (poller).full == before.full);     //  no poll needed
    s_test_read (b, "to b");
    assert (osmose_poller_wait (poller, 0) == NULL && osmose_poller_expired (poller));

    //  A reader removed while marked ready is not returned
    zstr_send (a_in, "to a");
    zstr_send (b_in, "to b");
    assert (osmose_poller_wait (poller, 1000) == a);
    s_test_read (a, "to a");
    osmose_poller_remove (poller, b);
    assert (osmose_poller_wait (poller, 0) == NULL);
    s_test_read (b, "to b");
    assert (osmose_poller_add (poller, b) == 0);

    //  After a hot reader the next wait takes the fast path, and still
    //  sees another socket's message as it comes
    zstr_send (hot_in, "task 1");
    assert (osmose_poller_wait (poller, 1000) == hot);
    s_test_read (hot, "task 1");
    before = osmose_poller_stats (poller);
    zstr_send (hot_in, "task 2");
    assert (osmose_poller_wait (poller, 1000) == hot);
    assert (osmose_poller_stats (poller).fast == before.fast + 1);
    assert (osmose_poller_stats (poller).full == before.full);
    s_test_read (hot, "task 2");
    zstr_send (b_in, "news");
    assert (osmose_poller_wait (poller, 1000) == b);
    s_test_read (b, "news");

    //  After another reader, a wait asks every socket again
    before = osmose_poller_stats (poller);
    zstr_send (hot_in, "task 3");
    assert (osmose_poller_wait (poller, 1000) == hot);
    assert (osmose_poller_stats (poller).full == before.full + 1);
    s_test_read (hot, "task 3");
    //  ...and so after osmose_poller_touched
    osmose_poller_touched (poller);
    before = osmose_poller_stats (poller);
    zstr_send (hot_in, "task 4");
    assert (osmose_poller_wait (poller, 1000) == hot);
    assert (osmose_poller_stats (poller).full == before.full + 1);
    assert (osmose_poller_stats (poller).fast == before.fast);
    s_test_read (hot, "task 4");

    //  A message whose signal was taken (as a send on its socket would)
    //  is invisible to the fast path's poll (): it waits no longer than
    //  OSMOSE_POLLER_FULL_US for a full wait, not for the caller's timeout
    zstr_send (a_in, "hidden");
    assert (s_socket_readable (zsock_resolve (a)) == 1);
    int64_t start = zclock_usecs ();
    assert (osmose_poller_wait (poller, 2000) == a);
    int64_t waited = zclock_usecs () - start;
    if (verbose)
        printf ("(hidden message found after %" PRId64 " us) ", waited);
    assert (waited < 500 * 1000);
    s_test_read (a, "hidden");

    //  A hot socket's message whose signal its own handler took
    zstr_send (hot_in, "task 5");
    assert (osmose_poller_wait (poller, 1000) == hot);
    s_test_read (hot, "task 5");
    zstr_send (hot_in, "task 6");
    assert (s_socket_readable (zsock_resolve (hot)) == 1);
    before = osmose_poller_stats (poller);
    assert (osmose_poller_wait (poller, 1000) == hot);
    assert (osmose_poller_stats (poller).fast == before.fast + 1);
    s_test_read (hot, "task 6");

    osmose_poller_destroy (&poller);
    osmose_poller_destroy (&poller);
    close (pipe_fds [0]);
    close (pipe_fds [1]);
    zsock_destroy (&a);
    zsock_destroy (&a_in);
    zsock_destroy (&b);
    zsock_destroy (&b_in);
    zsock_destroy (&hot);
    zsock_destroy (&hot_in);
    printf ("OK\n");
}
