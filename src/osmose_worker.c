/*  osmose_worker.c: osmose-worker, the process that runs tasks.

    osmosed's executor (osmose_exec) starts a pool of these with fork+exec,
    so a worker inherits none of the daemon's threads, sockets or keys. A
    worker loads the trusted plugins, says hello with its function names,
    limits its own address space, then runs task frames from its socket one
    at a time, writing results back. A crash, a timeout kill or a memory
    failure ends only this process; the executor replaces it.

    Results are written back in batches: the tasks of one read are run, then
    their results go out in one write, so a stream of tiny tasks costs two
    system calls per batch; a result never waits more than a few
    microseconds behind a following task, so a long task never holds back
    the result before it.

    Also: "osmose-worker --hash FILE..." prints the hash an administrator
    adds to plugins.trust.
*/
#include "osmose_prelude.h"
#include "osmose_plugins.h"
#include "osmose_exec_wire.h"
#include <getopt.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#ifdef HAVE_SYS_PRCTL_H
#   include <sys/prctl.h>
#endif

#define S_FLUSH_AGE_NS      20000       //  hold results at most this long
#define S_FLUSH_BYTES       (256 * 1024)
#define S_CKPT_INTERVAL_NS  5000000     //  stream checkpoints at most this often

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} s_buffer_t;

typedef struct {
    int fd;
    osmose_wire_shm_t *shm;
    osmose_plugins_t *plugins;
    int64_t timeout_ms;
    s_buffer_t in;              //  bytes read, not yet consumed
    size_t in_start;            //  first unconsumed byte of in
    s_buffer_t out;             //  frames to write
    size_t result_at;           //  offset of the result being built
    bool building;              //  a result is being built at result_at
    int64_t oldest_ns;          //  when the oldest unwritten result was made
    //  The task running now
    osmose_plugin_ctx_t ctx;
    osmose_plugin_out_t output;
    uint64_t seq;
    int64_t deadline_ns;
    s_buffer_t ckpt;
    bool ckpt_saved;
    int64_t ckpt_sent_ns;
    char message [256];
} s_worker_t;

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

static int
s_reserve (s_buffer_t *buffer, size_t more)
{
    if (buffer->size + more <= buffer->capacity)
        return 0;
    size_t capacity = buffer->capacity? buffer->capacity: 65536;
    while (capacity < buffer->size + more)
        capacity *= 2;
    uint8_t *data = (uint8_t *) realloc (buffer->data, capacity);
    if (!data)
        return OSMOSE_ENOMEM;
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static int
s_append (s_buffer_t *buffer, const void *data, size_t size)
{
    if (s_reserve (buffer, size))
        return OSMOSE_ENOMEM;
    if (size)
        memcpy (buffer->data + buffer->size, data, size);
    buffer->size += size;
    return 0;
}

//  Write out.data [0, upto) to the executor; exit when it has gone
static void
s_flush (s_worker_t *self, size_t upto)
{
    size_t done = 0;
    while (done < upto) {
        ssize_t put = send (self->fd, self->out.data + done, upto - done, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            _exit (0);
        done += (size_t) put;
    }
    if (upto) {
        memmove (self->out.data, self->out.data + upto, self->out.size - upto);
        self->out.size -= upto;
    }
    if (self->building)
        self->result_at -= upto;
    self->oldest_ns = 0;
}

static bool
    s_skipped (s_worker_t *self);

//  Output and context services for plugins

static void *
s_out_reserve (osmose_plugin_out_t *out, size_t size)
{
    s_worker_t *self = (s_worker_t *) out->host;
    size_t produced = self->out.size - self->result_at - sizeof (osmose_wire_t);
    if (size > OSMOSE_WIRE_MAX_DATA - produced || s_reserve (&self->out, size))
        return NULL;
    self->out.size += size;
    return self->out.data + self->out.size - size;
}

static int
s_out_write (osmose_plugin_out_t *out, const void *data, size_t size)
{
    void *place = s_out_reserve (out, size);
    if (!place)
        return OSMOSE_ETOOBIG;
    memcpy (place, data, size);
    return 0;
}

static void
s_send_checkpoint (s_worker_t *self)
{
    //  Results ahead of the one being built go first, then this frame
    s_flush (self, self->result_at);
    osmose_wire_t header = { .size = (uint32_t) (sizeof (header) + self->ckpt.size),
                             .type = OSMOSE_WIRE_CHECKPOINT, .seq = self->seq,
                             .ckpt_size = (uint32_t) self->ckpt.size };
    struct iovec parts [2] = { { &header, sizeof (header) }, { self->ckpt.data, self->ckpt.size } };
    struct msghdr message = { .msg_iov = parts, .msg_iovlen = 2 };
    size_t total = header.size;
    //  Small frames go in one call; a partial send falls back to a loop
    ssize_t put = sendmsg (self->fd, &message, MSG_NOSIGNAL);
    if (put < 0 && errno != EINTR)
        _exit (0);
    size_t done = put > 0? (size_t) put: 0;
    while (done < total) {
        const uint8_t *from = done < sizeof (header)? (const uint8_t *) &header + done:
                              self->ckpt.data + (done - sizeof (header));
        size_t left = done < sizeof (header)? sizeof (header) - done: total - done;
        put = send (self->fd, from, left, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            _exit (0);
        done += (size_t) put;
    }
    self->ckpt_sent_ns = s_now_ns ();
}

static int
s_ctx_checkpoint (osmose_plugin_ctx_t *ctx, const void *data, size_t size)
{
    s_worker_t *self = (s_worker_t *) ctx->host;
    if (size > OSMOSE_WIRE_MAX_DATA)
        return OSMOSE_ETOOBIG;
    self->ckpt.size = 0;
    if (s_append (&self->ckpt, data, size))
        return OSMOSE_ENOMEM;
    self->ckpt_saved = true;
    if (s_now_ns () - self->ckpt_sent_ns >= S_CKPT_INTERVAL_NS)
        s_send_checkpoint (self);
    return 0;
}

static bool
s_ctx_cancelled (osmose_plugin_ctx_t *ctx)
{
    s_worker_t *self = (s_worker_t *) ctx->host;
    return atomic_load_explicit (&self->shm->cancel_seq, memory_order_relaxed) == self->seq
        || s_now_ns () >= self->deadline_ns || s_skipped (self);
}

static int64_t
s_ctx_remaining_ms (osmose_plugin_ctx_t *ctx)
{
    s_worker_t *self = (s_worker_t *) ctx->host;
    int64_t left = self->deadline_ns - s_now_ns ();
    return left > 0? left / 1000000: 0;
}

static void
s_ctx_fail (osmose_plugin_ctx_t *ctx, const char *message)
{
    s_worker_t *self = (s_worker_t *) ctx->host;
    snprintf (self->message, sizeof (self->message), "%s", message? message: "");
}

//  Is the current task (about to run, or running) listed as cancelled?
static bool
s_skipped (s_worker_t *self)
{
    uint64_t count = atomic_load (&self->shm->skip_count);
    if (count == 0)
        return false;                   //  nothing ever cancelled: the common case
    for (uint64_t slot = 0; slot < 32 && slot < count; slot++)
        if (atomic_load (&self->shm->skip [slot]) == self->seq)
            return true;
    return false;
}

static int
s_skip_fn (const uint8_t *in, size_t in_size, osmose_plugin_out_t *out, osmose_plugin_ctx_t *ctx)
{
    return OSMOSE_ECANCELED;
}

//  Run the task in FRAME and append its result to out
static void
s_run (s_worker_t *self, const osmose_wire_t *header, const uint8_t *payload)
{
    char name [2 * OSMOSE_PLUGIN_MAX_NAME + 2];
    size_t name_size = header->name_size < sizeof (name)? header->name_size: sizeof (name) - 1;
    memcpy (name, payload, name_size);
    name [name_size] = '\0';
    const uint8_t *input = payload + header->name_size;
    const uint8_t *resume = input + header->data_size;

    self->seq = header->seq;
    self->message [0] = '\0';
    self->ckpt.size = 0;
    self->ckpt_saved = false;
    self->ckpt_sent_ns = s_now_ns ();
    self->ctx.resume = header->ckpt_size? resume: NULL;
    self->ctx.resume_size = header->ckpt_size;
    self->result_at = self->out.size;
    self->building = true;
    osmose_wire_t result = { .type = OSMOSE_WIRE_RESULT, .seq = header->seq };
    bool timed_out = false;
    if (s_append (&self->out, &result, sizeof (result)))
        _exit (3);

    int64_t start = s_now_ns ();
    self->deadline_ns = start + self->timeout_ms * 1000000;
    osmose_plugin_fn *fn = s_skipped (self)? s_skip_fn: osmose_plugins_lookup (self->plugins, name, NULL);
    atomic_store_explicit (&self->shm->started_us, start / 1000, memory_order_relaxed);
    atomic_store_explicit (&self->shm->running_seq, self->seq, memory_order_release);
    int status = fn? fn (input, header->data_size, &self->output, &self->ctx): OSMOSE_ENOTFOUND;
    atomic_store_explicit (&self->shm->running_seq, 0, memory_order_release);
    int64_t end = s_now_ns ();
    size_t data_size = self->out.size - self->result_at - sizeof (result);
    if (status > 0 || status < OSMOSE_E_LAST)
        status = OSMOSE_ETASK;
    if (status == OSMOSE_ECANCELED && end >= self->deadline_ns
    &&  atomic_load (&self->shm->cancel_seq) != self->seq) {
        //  Stopped for its deadline: the same failure as a kill for time
        snprintf (self->message, sizeof (self->message), "timed out after %" PRId64 " ms",
                  self->timeout_ms);
        status = OSMOSE_ETASK;
        timed_out = true;
    }
    if (status == OSMOSE_ENOMEM) {
        //  Most likely the memory limit: say so, as a task failure
        char detail [sizeof (self->message)];
        snprintf (detail, sizeof (detail), "%s", self->message);
        snprintf (self->message, sizeof (self->message), "out of memory%s%.200s",
                  detail [0]? ": ": "", detail);
        status = OSMOSE_ETASK;
    }
    if (status) {
        self->out.size -= data_size;    //  a failed task returns no output
        data_size = 0;
        if (!self->message [0])
            snprintf (self->message, sizeof (self->message), "%s: %s", name,
                      fn? osmose_strerror (status): "no such function in this worker");
    }
    size_t text_size = status? strlen (self->message): 0;
    if (s_append (&self->out, self->ckpt.data, self->ckpt_saved? self->ckpt.size: 0)
    ||  s_append (&self->out, self->message, text_size))
        _exit (3);
    result.status = status;
    result.data_size = (uint32_t) data_size;
    result.ckpt_size = (uint32_t) (self->ckpt_saved? self->ckpt.size: 0);
    result.text_size = (uint32_t) text_size;
    result.run_ns = (uint64_t) (end - start);
    result.flags = timed_out? OSMOSE_WIRE_TIMED_OUT: 0;
    result.size = (uint32_t) (self->out.size - self->result_at);
    memcpy (self->out.data + self->result_at, &result, sizeof (result));
    self->building = false;
    if (!self->oldest_ns)
        self->oldest_ns = end;
}

static void
s_serve (s_worker_t *self)
{
    while (true) {
        //  Consume every complete frame we hold
        while (self->in.size - self->in_start >= sizeof (osmose_wire_t)) {
            osmose_wire_t header;
            memcpy (&header, self->in.data + self->in_start, sizeof (header));
            if (header.type != OSMOSE_WIRE_TASK || header.size < sizeof (header)
            ||  header.size > OSMOSE_WIRE_MAX_FRAME
            ||  (uint64_t) header.name_size + header.data_size + header.ckpt_size
                 != header.size - sizeof (header))
                _exit (4);              //  protocol error: the executor sees EOF
            if (self->in.size - self->in_start < header.size) {
                if (s_reserve (&self->in, header.size))
                    _exit (3);
                break;
            }
            //  Results held too long go out before a task that may be long
            if (self->out.size
            && (self->out.size >= S_FLUSH_BYTES || s_now_ns () - self->oldest_ns >= S_FLUSH_AGE_NS))
                s_flush (self, self->out.size);
            s_run (self, &header, self->in.data + self->in_start + sizeof (header));
            self->in_start += header.size;
        }
        //  Send what the batch produced, compact, then wait for more
        if (self->in_start) {
            memmove (self->in.data, self->in.data + self->in_start, self->in.size - self->in_start);
            self->in.size -= self->in_start;
        }
        self->in_start = 0;
        if (s_reserve (&self->in, 65536))
            _exit (3);
        if (self->out.size)
            s_flush (self, self->out.size);
        ssize_t got = recv (self->fd, self->in.data + self->in.size,
                            self->in.capacity - self->in.size, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return;                     //  executor closed: we are done
        self->in.size += (size_t) got;
    }
}

//  Load the plugins and tell the executor which functions we have
static void
s_hello (s_worker_t *self, const char *plugin_dir)
{
    osmose_plugins_scan (self->plugins, plugin_dir, true);
    s_buffer_t names = { NULL, 0, 0 };
    for (size_t index = 0; index < osmose_plugins_functions (self->plugins); index++) {
        const char *name = osmose_plugins_function (self->plugins, index);
        if (s_append (&names, name, strlen (name) + 1))
            _exit (3);
    }
    osmose_wire_t header = { .size = (uint32_t) (sizeof (header) + names.size),
                             .type = OSMOSE_WIRE_HELLO, .seq = (uint64_t) getpid (),
                             .name_size = (uint32_t) names.size };
    if (s_append (&self->out, &header, sizeof (header)) || s_append (&self->out, names.data, names.size))
        _exit (3);
    free (names.data);
    s_flush (self, self->out.size);
}

static int
s_hash_files (int argc, char *argv [])
{
    int failed = 0;
    for (int index = 0; index < argc; index++) {
        char hex [OSMOSE_PLUGINS_HASH_HEX];
        int rc = osmose_plugins_hash_file (argv [index], hex);
        if (rc) {
            fprintf (stderr, "osmose-worker: cannot hash %s: %s\n", argv [index], osmose_strerror (rc));
            failed = 1;
        }
        else
            printf ("%s  %s\n", hex, argv [index]);
    }
    return failed;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: osmose-worker --hash FILE...\n"
"       osmose-worker --plugin-dir DIR [--trust HEX]... [--timeout-ms N] [--memory-mb N]\n"
"Run osmose tasks for osmosed, which starts this program itself with the\n"
"task socket on fd 3 and the shared cancel page on fd 4.\n"
"\n"
"  --hash FILE...      print the BLAKE2b-256 hash of each plugin file, the\n"
"                      value to put in plugins.trust to allow the plugin\n"
"  --plugin-dir DIR    load trusted plugins (*.so) from DIR\n"
"  --trust HEX         trust the plugin file with this hash (repeatable)\n"
"  --timeout-ms N      deadline tasks see through osmose_plugin_cancelled\n"
"  --memory-mb N       address-space limit of this process (0: none)\n"
"  --parent PID        exit at once unless PID is our parent\n"
"  -h, --help          show this help\n");
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "hash", no_argument, NULL, 'H' },
        { "plugin-dir", required_argument, NULL, 'd' },
        { "trust", required_argument, NULL, 't' },
        { "timeout-ms", required_argument, NULL, 'T' },
        { "memory-mb", required_argument, NULL, 'm' },
        { "parent", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    if (sodium_init () < 0)
        return 1;
    s_worker_t self = { .fd = OSMOSE_WIRE_SOCKET_FD, .timeout_ms = 30000 };
    self.plugins = osmose_plugins_new ();
    const char *plugin_dir = NULL;
    long memory_mb = 0, parent = 0;
    bool hash = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'H')
            hash = true;
        else if (opt == 'd')
            plugin_dir = optarg;
        else if (opt == 't' && osmose_plugins_trust (self.plugins, optarg) == 0)
            ;
        else if (opt == 'T')
            self.timeout_ms = atol (optarg);
        else if (opt == 'm')
            memory_mb = atol (optarg);
        else if (opt == 'p')
            parent = atol (optarg);
        else {
            s_usage (opt == 'h'? stdout: stderr);
            osmose_plugins_destroy (&self.plugins);
            return opt == 'h'? 0: 2;
        }
    }
    if (hash || !plugin_dir) {
        osmose_plugins_destroy (&self.plugins);
        if (!hash) {
            s_usage (stderr);
            return 2;
        }
        return s_hash_files (argc - optind, argv + optind);
    }
#ifdef HAVE_SYS_PRCTL_H
    //  Die with the executor, and do not outlive a parent that died early
    prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (parent && getppid () != (pid_t) parent)
        return 0;
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    signal (SIGPIPE, SIG_DFL);
    signal (SIGINT, SIG_IGN);   //  Ctrl-C is for osmosed, which stops us

    self.shm = (osmose_wire_shm_t *) mmap (NULL, sizeof (osmose_wire_shm_t), PROT_READ | PROT_WRITE,
                                            MAP_SHARED, OSMOSE_WIRE_SHM_FD, 0);
    if (self.shm == MAP_FAILED) {
        fprintf (stderr, "osmose-worker: no shared page on fd %d (run by osmosed only)\n",
                 OSMOSE_WIRE_SHM_FD);
        return 2;
    }
    close (OSMOSE_WIRE_SHM_FD);
    zsys_set_logident ("osmose-worker");
    self.output = (osmose_plugin_out_t) { s_out_write, s_out_reserve, &self };
    self.ctx = (osmose_plugin_ctx_t) { NULL, 0, s_ctx_checkpoint, s_ctx_cancelled,
                                       s_ctx_remaining_ms, s_ctx_fail, &self };
    s_hello (&self, plugin_dir);
#ifndef OSMOSE_ASAN
    //  After loading: the limit is for tasks. (Sanitizers reserve terabytes
    //  of address space, so sanitized builds run without it.)
    if (memory_mb > 0) {
        struct rlimit limit = { (rlim_t) memory_mb << 20, (rlim_t) memory_mb << 20 };
        if (setrlimit (RLIMIT_AS, &limit))
            zsys_warning ("cannot limit memory to %ld MiB: %s", memory_mb, strerror (errno));
    }
#else
    if (memory_mb > 0)
        zsys_debug ("sanitized build: memory limit of %ld MiB not applied", memory_mb);
#endif
    s_serve (&self);
    osmose_plugins_destroy (&self.plugins);
    free (self.in.data);
    free (self.out.data);
    free (self.ckpt.data);
    return 0;
}
