/*  osmose_exec.c: the executor (see osmose_exec.h).

    Each worker is an osmose-worker process with one socketpair (frames of
    osmose_exec_wire.h) and one shared page (the cancel word). Tasks wait
    in one FIFO; each is encoded once, at submit, into the frame the worker
    reads, and stays in its worker's in-flight FIFO until its result comes,
    so a dead worker's other tasks can run elsewhere. The worker publishes
    the task it runs (and since when) in the shared page: that is the task
    a crash or a timeout blames, and the clock of its deadline.

    Frames to a busy worker are not sent at once: they are written in one
    sendmsg when its next results arrive, so a stream of small tasks costs a
    few system calls per batch, not per task.

    Tasks wait in their group's FIFO (a lease's, or group 0). A worker
    holding tasks holds them for one group only, and takes more of that
    group's; an idle worker goes to the next group in turn (a ring of the
    groups with tasks waiting) that holds fewer workers than its limit.
*/
#include "osmose_prelude.h"
#include "osmose_exec.h"
#include "osmose_plugins.h"
#include "osmose_exec_wire.h"
#include "osmose_spawn.h"
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#ifndef OSMOSE_WORKER_PATH
#   define OSMOSE_WORKER_PATH "/usr/lib/osmose/osmose-worker"
#endif
#define S_START_TIMEOUT_MS  10000   //  a worker must say hello within this
#define S_MAX_START_FAILS   5       //  in a row: then queued tasks fail
#define S_TIMER_KEY         UINT64_MAX

typedef struct s_task_t s_task_t;
typedef struct s_group_t s_group_t;
struct s_task_t {
    s_task_t *next;
    s_group_t *group;
    uint64_t id;
    uint64_t seq;               //  our number, unique; 0 for a bare result
    int64_t submit_us;
    int64_t start_us;           //  handed to a worker
    bool cancelled;             //  result already given; drop the real one
    //  The result, once there is one
    int status;
    char reason [160];
    uint8_t *result;            //  output then checkpoint (owned)
    size_t output_size;
    size_t ckpt_size;
    uint64_t run_us;
    uint64_t total_us;
    uint8_t *live_ckpt;         //  last checkpoint streamed while running
    size_t live_ckpt_size;
    size_t frame_size;
    uint8_t frame [];           //  the TASK frame (none for a bare result)
};

typedef struct {
    s_task_t *head;
    s_task_t *tail;
    size_t size;
} s_fifo_t;

struct s_group_t {
    int64_t run_us;             //  moving average of its tasks' run time
    uint32_t limit;             //  workers it may hold at once; 0: any
    uint32_t workers;           //  workers holding its tasks now
    s_fifo_t queue;             //  its tasks waiting for a worker
    s_group_t *next;            //  in the ring, while in_ring
    bool in_ring;
};

typedef struct {
    size_t index;
    s_group_t *group;           //  whose tasks flight holds; NULL when empty
    pid_t pid;                  //  0 when there is no process
    int fd;                     //  our end of the socketpair, or -1
    osmose_wire_shm_t *shm;
    bool ready;                 //  hello received
    s_fifo_t flight;            //  handed to it, oldest (running) first
    s_task_t *unsent;           //  first task of flight not fully written
    size_t unsent_offset;       //  bytes of unsent already written
    bool want_out;              //  EPOLLOUT registered
    int64_t run_us;             //  moving average of its tasks' run time
    int64_t spawned_us;
    int64_t respawn_at_us;      //  when to start again (0: now)
    uint8_t *in;                //  bytes read, not yet parsed
    size_t in_size;
    size_t in_capacity;
} s_worker_t;

struct _osmose_exec_t {
    char *worker_path;
    char *plugin_dir;
    zlistx_t *trusted;          //  hex hashes (owned strings)
    int timeout_ms;
    int memory_mb;
    size_t window;
    size_t max_queued;
    int epoll_fd;
    int timer_fd;
    int64_t armed_us;           //  timer deadline set, 0 when disarmed
    s_worker_t *workers;
    size_t worker_count;
    int start_failures;         //  workers in a row that died before hello
    s_group_t **groups;         //  by number, made on first use
    size_t group_slots;
    s_group_t *ring;            //  groups with tasks waiting, next to serve first
    s_group_t *ring_tail;
    size_t queued;              //  tasks waiting, all groups
    s_fifo_t done;              //  results ready
    s_task_t *returned;         //  last result handed out, freed next call
    uint64_t next_seq;
    zhashx_t *functions;        //  names offered by workers (a set)
    osmose_exec_stats_t stats;
};

static size_t
    osmose_exec_stats_workers (osmose_exec_t *self);

static int64_t
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void
s_fifo_push (s_fifo_t *fifo, s_task_t *task)
{
    task->next = NULL;
    if (fifo->tail)
        fifo->tail->next = task;
    else
        fifo->head = task;
    fifo->tail = task;
    fifo->size++;
}

static s_task_t *
s_fifo_pop (s_fifo_t *fifo)
{
    s_task_t *task = fifo->head;
    if (task) {
        fifo->head = task->next;
        if (!fifo->head)
            fifo->tail = NULL;
        fifo->size--;
        task->next = NULL;
    }
    return task;
}

static void
s_task_destroy (s_task_t **task_p)
{
    if (*task_p) {
        free ((*task_p)->result);
        free ((*task_p)->live_ckpt);
        free (*task_p);
        *task_p = NULL;
    }
}

static void
s_fifo_clear (s_fifo_t *fifo)
{
    s_task_t *task;
    while ((task = s_fifo_pop (fifo)))
        s_task_destroy (&task);
}

//  The group numbered ID, made on first use; NULL when out of memory
static s_group_t *
s_group_require (osmose_exec_t *self, uint32_t id)
{
    if (id >= self->group_slots) {
        size_t slots = self->group_slots? self->group_slots: 16;
        while (slots <= id)
            slots *= 2;
        s_group_t **groups = (s_group_t **) realloc (self->groups, slots * sizeof (s_group_t *));
        if (!groups)
            return NULL;
        memset (groups + self->group_slots, 0,
                (slots - self->group_slots) * sizeof (s_group_t *));
        self->groups = groups;
        self->group_slots = slots;
    }
    if (!self->groups [id])
        self->groups [id] = (s_group_t *) calloc (1, sizeof (s_group_t));
    return self->groups [id];
}

//  Put GROUP at the back of the ring (it has tasks waiting)
static void
s_ring_add (osmose_exec_t *self, s_group_t *group)
{
    if (!group->in_ring) {
        group->in_ring = true;
        group->next = NULL;
        if (self->ring_tail)
            self->ring_tail->next = group;
        else
            self->ring = group;
        self->ring_tail = group;
    }
}

//  Queue TASK at the back of its group's queue
static void
s_queue (osmose_exec_t *self, s_task_t *task)
{
    s_fifo_push (&task->group->queue, task);
    self->queued++;
    s_ring_add (self, task->group);
}

//  Put TASKS (all of GROUP, in order) back at the front of its queue
static void
s_requeue (osmose_exec_t *self, s_group_t *group, s_fifo_t *tasks)
{
    if (!tasks->size)
        return;
    tasks->tail->next = group->queue.head;
    group->queue.head = tasks->head;
    if (!group->queue.tail)
        group->queue.tail = tasks->tail;
    group->queue.size += tasks->size;
    self->queued += tasks->size;
    s_ring_add (self, group);
}

static s_group_t *
s_ring_pop (osmose_exec_t *self)
{
    s_group_t *group = self->ring;
    if (group) {
        self->ring = group->next;
        if (!self->ring)
            self->ring_tail = NULL;
        group->in_ring = false;
    }
    return group;
}

//  The next group in turn with a task waiting that may take one more
//  worker; it goes to the back of the ring. NULL when none may.
static s_group_t *
s_next_group (osmose_exec_t *self)
{
    s_group_t *last = self->ring_tail, *chosen = NULL;
    while (self->ring && !chosen) {
        s_group_t *group = s_ring_pop (self);
        bool was_last = group == last;
        if (group->queue.head) {
            if (!group->limit || group->workers < group->limit)
                chosen = group;
            s_ring_add (self, group);   //  behind the others
        }
        if (was_last)
            break;              //  all looked at once
    }
    return chosen;
}

//  Take the next waiting task of GROUP off its queue
static s_task_t *
s_unqueue (osmose_exec_t *self, s_group_t *group)
{
    s_task_t *task = s_fifo_pop (&group->queue);
    if (task)
        self->queued--;
    return task;
}

//  WORKER's flight is empty: it holds no group any more
static void
s_worker_free (s_worker_t *worker)
{
    if (worker->group && !worker->flight.head) {
        worker->group->workers--;
        worker->group = NULL;
    }
}

//  Give TASK's result to the caller with STATUS and REASON. Its checkpoint
//  (the last one streamed) goes with it.
static void
s_finish (osmose_exec_t *self, s_task_t *task, int status, const char *reason)
{
    task->status = status;
    snprintf (task->reason, sizeof (task->reason), "%s", reason);
    if (task->live_ckpt && !task->result) {
        task->result = task->live_ckpt;
        task->ckpt_size = task->live_ckpt_size;
        task->live_ckpt = NULL;
    }
    task->total_us = (uint64_t) (s_now_us () - task->submit_us);
    if (status == 0)
        self->stats.completed++;
    else
        self->stats.failed++;
    s_fifo_push (&self->done, task);
}

//  --------------------------------------------------------------------------
//  Worker processes

static int
s_epoll_set (osmose_exec_t *self, s_worker_t *worker, int op, bool out)
{
    struct epoll_event event = { .events = EPOLLIN | (out? EPOLLOUT: 0),
                                 .data.u64 = worker->index };
    worker->want_out = out;
    return epoll_ctl (self->epoll_fd, op, worker->fd, &event);
}

//  Start WORKER's process
static int
s_spawn (osmose_exec_t *self, s_worker_t *worker)
{
    char timeout [32], memory [32], parent [32];
    snprintf (timeout, sizeof (timeout), "%d", self->timeout_ms);
    snprintf (memory, sizeof (memory), "%d", self->memory_mb);
    snprintf (parent, sizeof (parent), "%d", (int) getpid ());
    char **argv = (char **) calloc (12 + 2 * zlistx_size (self->trusted), sizeof (char *));
    if (!argv)
        return OSMOSE_ENOMEM;
    size_t argc = 0;
    argv [argc++] = (char *) "osmose-worker";
    argv [argc++] = (char *) "--plugin-dir";
    argv [argc++] = self->plugin_dir;
    argv [argc++] = (char *) "--timeout-ms";
    argv [argc++] = timeout;
    argv [argc++] = (char *) "--memory-mb";
    argv [argc++] = memory;
    argv [argc++] = (char *) "--parent";
    argv [argc++] = parent;
    for (char *hex = (char *) zlistx_first (self->trusted); hex;
         hex = (char *) zlistx_next (self->trusted)) {
        argv [argc++] = (char *) "--trust";
        argv [argc++] = hex;
    }
    int rc = osmose_spawn_worker (self->worker_path, argv, &worker->shm, &worker->pid, &worker->fd);
    free (argv);
    if (rc)
        return rc;
    worker->ready = false;
    worker->want_out = false;
    worker->in_size = 0;
    worker->spawned_us = s_now_us ();
    worker->respawn_at_us = 0;
    if (s_epoll_set (self, worker, EPOLL_CTL_ADD, false))
        zsys_error ("exec: epoll_ctl: %s", strerror (errno));
    return 0;
}

//  Make sure the timer fires by AT (monotonic us; 0: nothing to do). It
//  may fire early (then we look again) but never late, so a stream of
//  short tasks does not re-arm it for each task.
static void
s_arm (osmose_exec_t *self, int64_t at)
{
    if (at && (!self->armed_us || at < self->armed_us)) {
        struct itimerspec when = { { 0, 0 }, { at / 1000000, (at % 1000000) * 1000 } };
        timerfd_settime (self->timer_fd, TFD_TIMER_ABSTIME, &when, NULL);
        self->armed_us = at;
    }
}

//  WORKER is gone (EOF, protocol error) or must go (timeout: REASON set,
//  and BLAME the task timed out; else 0: the one it was running). Fail
//  that task, run the others elsewhere, and replace the worker.
static void
s_worker_lost (osmose_exec_t *self, s_worker_t *worker, const char *reason, uint64_t blame)
{
    if (reason)
        kill (worker->pid, SIGKILL);
    close (worker->fd);                 //  also leaves the epoll set
    worker->fd = -1;
    char how [160];
    osmose_spawn_reap (worker->pid, how, sizeof (how));
    worker->pid = 0;
    if (!reason)
        reason = how;

    //  The task it ran dies with it; the others (not started, or done
    //  with their results lost) go back to the front of the queue, in order
    uint64_t running = blame? blame: worker->shm? atomic_load (&worker->shm->running_seq): 0;
    s_fifo_t rest = { NULL, NULL, 0 };
    bool sent = true;
    s_task_t *task;
    while ((task = s_fifo_pop (&worker->flight))) {
        if (task == worker->unsent)
            sent = false;
        if (sent && running && task->seq == running && worker->ready) {
            if (!strstr (reason, "timed out"))
                self->stats.crashed++;
            zsys_warning ("exec: task %" PRIu64 " failed: %s", task->id, reason);
            if (task->cancelled)
                s_task_destroy (&task);
            else
                s_finish (self, task, OSMOSE_ETASK, reason);
        }
        else
        if (task->cancelled)
            s_task_destroy (&task);
        else
            s_fifo_push (&rest, task);
    }
    worker->unsent = NULL;
    worker->unsent_offset = 0;
    //  A flight holds one group's tasks only
    if (rest.size)
        s_requeue (self, rest.head->group, &rest);
    s_worker_free (worker);
    if (!worker->ready) {
        self->start_failures++;
        zsys_error ("exec: worker %zu could not start: %s", worker->index, how);
    }
    worker->ready = false;
    //  Back off when workers keep failing to start
    int64_t delay_ms = self->start_failures? 10 << (self->start_failures < 7? self->start_failures: 7): 0;
    worker->respawn_at_us = s_now_us () + delay_ms * 1000;
    //  Whatever call we are in, the pollable fd wakes the owner to respawn
    s_arm (self, worker->respawn_at_us);
}

//  Write what WORKER has unsent, as far as its socket takes it
static void
s_flush (osmose_exec_t *self, s_worker_t *worker)
{
    while (worker->unsent && worker->fd >= 0) {
        struct iovec parts [64];
        int count = 0;
        size_t offset = worker->unsent_offset;
        for (s_task_t *task = worker->unsent; task && count < 64; task = task->next) {
            parts [count].iov_base = task->frame + offset;
            parts [count].iov_len = task->frame_size - offset;
            offset = 0;
            count++;
        }
        //  sendmsg, not writev: a worker that died must not SIGPIPE us
        struct msghdr message = { .msg_iov = parts, .msg_iovlen = (size_t) count };
        ssize_t put = sendmsg (worker->fd, &message, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!worker->want_out)
                s_epoll_set (self, worker, EPOLL_CTL_MOD, true);
            return;
        }
        if (put < 0) {
            s_worker_lost (self, worker, NULL, 0);
            return;
        }
        size_t left = (size_t) put;
        while (worker->unsent && left >= worker->unsent->frame_size - worker->unsent_offset) {
            left -= worker->unsent->frame_size - worker->unsent_offset;
            worker->unsent = worker->unsent->next;
            worker->unsent_offset = 0;
        }
        if (worker->unsent)
            worker->unsent_offset += left;
    }
    if (worker->want_out && worker->fd >= 0)
        s_epoll_set (self, worker, EPOLL_CTL_MOD, false);
}

//  Tasks WORKER may hold: many while its tasks are short, for batching;
//  two while they are long, so a long task does not hold up many others.
//  How long they are is known best from the group it holds (a lease sends
//  tasks alike), else from what it ran last
static size_t
s_window (osmose_exec_t *self, s_worker_t *worker)
{
    int64_t run_us = worker->group? worker->group->run_us: worker->run_us;
    return run_us > 1000 && self->window > 2? 2: self->window;
}

//  The least loaded worker that can take a task now: IDLE, one that
//  holds none (it may go to any group in turn); else one that holds a
//  group with tasks waiting. NULL when none can.
static s_worker_t *
s_worker_with_room (osmose_exec_t *self, bool idle)
{
    s_worker_t *best = NULL;
    for (size_t index = 0; index < self->worker_count; index++) {
        s_worker_t *worker = &self->workers [index];
        if (worker->fd < 0 || !worker->ready || worker->flight.size >= s_window (self, worker)
        ||  (idle? worker->group != NULL: !worker->group || !worker->group->queue.head))
            continue;
        if (!best || worker->flight.size < best->flight.size)
            best = worker;
    }
    return best;
}

//  Hand queued tasks to the least loaded ready workers; send to idle
//  workers, or to all when FLUSH_ALL (their results just came)
static void
s_dispatch (osmose_exec_t *self, bool flush_all)
{
    int64_t now = 0;
    while (self->queued) {
        //  Idle workers first, each to the next group in turn under its
        //  limit; then more for the groups workers already hold
        s_worker_t *best = s_worker_with_room (self, true);
        s_group_t *group = best? s_next_group (self): NULL;
        if (!group) {
            best = s_worker_with_room (self, false);
            group = best? best->group: NULL;
        }
        if (!group)
            break;
        s_task_t *task = s_unqueue (self, group);
        if (task->cancelled) {
            s_task_destroy (&task);
            continue;
        }
        if (!best->group) {
            best->group = group;
            group->workers++;
        }
        if (!now)
            now = s_now_us ();
        task->start_us = now;
        s_fifo_push (&best->flight, task);
        if (!best->unsent) {
            best->unsent = task;
            best->unsent_offset = 0;
        }
    }
    //  Busy workers get theirs when their results come: fewer, larger writes
    for (size_t index = 0; index < self->worker_count; index++) {
        s_worker_t *worker = &self->workers [index];
        if (worker->unsent && !worker->want_out
        && (flush_all || worker->unsent == worker->flight.head))
            s_flush (self, worker);
    }
}

static void
s_hello (osmose_exec_t *self, s_worker_t *worker, const osmose_wire_t *header,
         const uint8_t *payload)
{
    const char *names = (const char *) payload;
    size_t offset = 0;
    while (offset < header->name_size) {
        size_t length = strnlen (names + offset, header->name_size - offset);
        if (length == header->name_size - offset)
            break;                      //  not terminated: ignore the rest
        if (!zhashx_lookup (self->functions, names + offset))
            zhashx_insert (self->functions, names + offset, (void *) "");
        offset += length + 1;
    }
    worker->ready = true;
    self->start_failures = 0;
}

//  Handle one frame from WORKER; false on a protocol error
static bool
s_frame (osmose_exec_t *self, s_worker_t *worker, const osmose_wire_t *header,
         const uint8_t *payload)
{
    if (header->type == OSMOSE_WIRE_HELLO) {
        s_hello (self, worker, header, payload);
        return true;
    }
    s_task_t *task = worker->flight.head;
    if (!task || task == worker->unsent || header->seq != task->seq)
        return false;
    const uint8_t *ckpt = payload + header->name_size + header->data_size;
    if (header->type == OSMOSE_WIRE_CHECKPOINT) {
        uint8_t *copy = (uint8_t *) malloc (header->ckpt_size + 1);
        if (copy) {
            memcpy (copy, ckpt, header->ckpt_size);
            free (task->live_ckpt);
            task->live_ckpt = copy;
            task->live_ckpt_size = header->ckpt_size;
        }
        return true;
    }
    if (header->type != OSMOSE_WIRE_RESULT)
        return false;
    s_fifo_pop (&worker->flight);
    s_worker_free (worker);
    if (task->cancelled) {
        s_task_destroy (&task);
        return true;
    }
    size_t bytes = (size_t) header->data_size + header->ckpt_size;
    if (bytes) {
        task->result = (uint8_t *) malloc (bytes);
        if (task->result)
            memcpy (task->result, payload + header->name_size, bytes);
    }
    if (bytes && !task->result) {
        s_finish (self, task, OSMOSE_ENOMEM, "out of memory for the result");
        return true;
    }
    task->output_size = header->data_size;
    task->ckpt_size = header->ckpt_size;
    task->run_us = header->run_ns / 1000;
    worker->run_us += ((int64_t) task->run_us - worker->run_us) / 4;
    task->group->run_us += ((int64_t) task->run_us - task->group->run_us) / 4;
    char reason [160] = "";
    if (header->flags & OSMOSE_WIRE_TIMED_OUT)
        self->stats.timeouts++;
    if (header->status) {
        const char *text = (const char *) ckpt + header->ckpt_size;
        int length = header->text_size < sizeof (reason) - 1? (int) header->text_size: (int) sizeof (reason) - 1;
        snprintf (reason, sizeof (reason), "%.*s", length, text);
    }
    s_finish (self, task, header->status, reason);
    return true;
}

//  Read what WORKER sent and handle every complete frame
static void
s_receive (osmose_exec_t *self, s_worker_t *worker)
{
    for (int reads = 0; reads < 64 && worker->fd >= 0; reads++) {
        if (worker->in_capacity - worker->in_size < 65536) {
            size_t capacity = worker->in_capacity? worker->in_capacity * 2: 262144;
            uint8_t *bigger = (uint8_t *) realloc (worker->in, capacity);
            if (!bigger)
                return;                 //  try again next time
            worker->in = bigger;
            worker->in_capacity = capacity;
        }
        ssize_t got = recv (worker->fd, worker->in + worker->in_size,
                            worker->in_capacity - worker->in_size, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got <= 0) {
            s_worker_lost (self, worker, NULL, 0);
            return;
        }
        bool drained = (size_t) got < worker->in_capacity - worker->in_size;
        worker->in_size += (size_t) got;
        size_t at = 0;
        while (worker->in_size - at >= sizeof (osmose_wire_t)) {
            osmose_wire_t header;
            memcpy (&header, worker->in + at, sizeof (header));
            if (header.size < sizeof (header) || header.size > OSMOSE_WIRE_MAX_FRAME
            ||  (uint64_t) header.name_size + header.data_size + header.ckpt_size
                + header.text_size != header.size - sizeof (header)) {
                s_worker_lost (self, worker, "worker broke the protocol", 0);
                return;
            }
            if (worker->in_size - at < header.size) {
                //  Make room for the whole frame
                if (header.size > worker->in_capacity) {
                    uint8_t *bigger = (uint8_t *) realloc (worker->in, (size_t) header.size + 65536);
                    if (!bigger)
                        break;
                    worker->in = bigger;
                    worker->in_capacity = (size_t) header.size + 65536;
                }
                break;
            }
            if (!s_frame (self, worker, &header, worker->in + at + sizeof (header))) {
                s_worker_lost (self, worker, "worker broke the protocol", 0);
                return;
            }
            at += header.size;
        }
        memmove (worker->in, worker->in + at, worker->in_size - at);
        worker->in_size -= at;
        if (drained)
            break;                      //  epoll says when there is more
    }
}

//  Kill tasks past their deadline, start missing workers, fail the queue
//  when no worker can start; then set the timer for the next deadline.
static void
s_tick (osmose_exec_t *self)
{
    int64_t now = s_now_us ();
    int64_t next = 0;
    int64_t limit = (int64_t) self->timeout_ms * 1000;
    for (size_t index = 0; index < self->worker_count; index++) {
        s_worker_t *worker = &self->workers [index];
        uint64_t running = worker->fd >= 0 && worker->shm?
                           atomic_load_explicit (&worker->shm->running_seq, memory_order_acquire): 0;
        int64_t started = running? atomic_load (&worker->shm->started_us): 0;
        if (running && worker->ready && now - started >= limit) {
            char reason [64];
            snprintf (reason, sizeof (reason), "timed out after %d ms", self->timeout_ms);
            self->stats.timeouts++;
            s_worker_lost (self, worker, reason, running);
        }
        if (worker->fd >= 0 && !worker->ready && now - worker->spawned_us >= S_START_TIMEOUT_MS * 1000)
            s_worker_lost (self, worker, "worker did not start in time", 0);
        if (worker->fd < 0 && now >= worker->respawn_at_us) {
            if (s_spawn (self, worker) == 0)
                self->stats.restarts++;
            else
                worker->respawn_at_us = now + 1000000;
        }
        int64_t due = worker->fd < 0? worker->respawn_at_us:
                      !worker->ready? worker->spawned_us + S_START_TIMEOUT_MS * 1000:
                      running? started + limit:
                      worker->flight.head? now + limit: 0;
        if (due && (!next || due < next))
            next = due;
    }
    if (self->start_failures >= S_MAX_START_FAILS && self->queued) {
        s_group_t *group;
        while ((group = s_ring_pop (self))) {
            s_task_t *task;
            while ((task = s_unqueue (self, group)))
                s_finish (self, task, OSMOSE_ETASK, "no worker process could start");
        }
    }
    s_arm (self, next);
}

//  --------------------------------------------------------------------------
//  Public API

osmose_exec_t *
osmose_exec_new (const osmose_exec_config_t *config)
{
    osmose_exec_t *self = (osmose_exec_t *) calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    const char *worker = config->worker_path? config->worker_path: getenv ("OSMOSE_WORKER");
    const char *plugins = config->plugin_dir? config->plugin_dir: getenv ("OSMOSE_PLUGIN_DIR");
    self->worker_path = strdup (worker? worker: OSMOSE_WORKER_PATH);
    self->plugin_dir = strdup (plugins? plugins: OSMOSE_PLUGIN_DIR);
    self->timeout_ms = config->timeout_ms > 0? config->timeout_ms: 30000;
    self->memory_mb = config->memory_mb > 0? config->memory_mb: 0;
    self->window = config->window > 0? (size_t) config->window: 256;
    self->max_queued = config->max_queued? config->max_queued: 1000000;
    self->worker_count = config->workers > 0? (size_t) config->workers:
                         (size_t) sysconf (_SC_NPROCESSORS_ONLN);
    if (self->worker_count == 0 || self->worker_count > 4096)
        self->worker_count = 1;
    self->next_seq = 1;
    self->functions = zhashx_new ();
    self->trusted = zlistx_new ();
    self->workers = (s_worker_t *) calloc (self->worker_count, sizeof (s_worker_t));
    for (size_t index = 0; self->workers && index < self->worker_count; index++) {
        self->workers [index].index = index;
        self->workers [index].fd = -1;
    }
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (!self->worker_path || !self->plugin_dir || !self->functions || !self->trusted
    ||  !self->workers || self->epoll_fd < 0 || self->timer_fd < 0) {
        osmose_exec_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->trusted, (zlistx_destructor_fn *) zstr_free);
    for (char *hex = config->trusted? (char *) zlistx_first (config->trusted): NULL; hex;
         hex = (char *) zlistx_next (config->trusted))
        zlistx_add_end (self->trusted, strdup (hex));
    if (config->trust_file && osmose_plugins_trust_list (config->trust_file, self->trusted))
        zsys_warning ("exec: cannot read %s: no plugin trusted from it", config->trust_file);
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = S_TIMER_KEY };
    epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, self->timer_fd, &event);
    for (size_t index = 0; index < self->worker_count; index++) {
        if (s_spawn (self, &self->workers [index])) {
            zsys_error ("exec: cannot start %s: %s", self->worker_path, strerror (errno));
            osmose_exec_destroy (&self);
            return NULL;
        }
    }
    //  Wait for the first hello, so callers can check function names
    int64_t until = s_now_us () + S_START_TIMEOUT_MS * 1000;
    while (osmose_exec_stats_workers (self) == 0 && s_now_us () < until
    &&     self->start_failures < S_MAX_START_FAILS) {
        struct epoll_event events [1];
        epoll_wait (self->epoll_fd, events, 1, 20);
        osmose_exec_process (self);
    }
    if (osmose_exec_stats_workers (self) == 0) {
        zsys_error ("exec: no worker started (%s, plugins from %s)",
                    self->worker_path, self->plugin_dir);
        osmose_exec_destroy (&self);
        return NULL;
    }
    self->stats.restarts = 0;
    return self;
}

void
osmose_exec_destroy (osmose_exec_t **self_p)
{
    osmose_exec_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; self->workers && index < self->worker_count; index++) {
        s_worker_t *worker = &self->workers [index];
        if (worker->pid > 0) {
            kill (worker->pid, SIGKILL);
            waitpid (worker->pid, NULL, 0);
        }
        if (worker->fd >= 0)
            close (worker->fd);
        if (worker->shm)
            munmap (worker->shm, 4096);
        s_fifo_clear (&worker->flight);
        free (worker->in);
    }
    free (self->workers);
    for (size_t id = 0; id < self->group_slots; id++)
        if (self->groups [id]) {
            s_fifo_clear (&self->groups [id]->queue);
            free (self->groups [id]);
        }
    free (self->groups);
    s_fifo_clear (&self->done);
    s_task_destroy (&self->returned);
    if (self->epoll_fd >= 0)
        close (self->epoll_fd);
    if (self->timer_fd >= 0)
        close (self->timer_fd);
    zhashx_destroy (&self->functions);
    zlistx_destroy (&self->trusted);
    free (self->worker_path);
    free (self->plugin_dir);
    free (self);
    *self_p = NULL;
}

static size_t
osmose_exec_stats_workers (osmose_exec_t *self)
{
    size_t ready = 0;
    for (size_t index = 0; index < self->worker_count; index++)
        ready += self->workers [index].fd >= 0 && self->workers [index].ready;
    return ready;
}

int
osmose_exec_fd (osmose_exec_t *self)
{
    return self->epoll_fd;
}

void *
osmose_exec_handle (osmose_exec_t *self)
{
    return &self->epoll_fd;
}

int
osmose_exec_set_group (osmose_exec_t *self, uint32_t group, uint32_t max_workers)
{
    if (!self || group == 0 || group >= OSMOSE_EXEC_MAX_GROUPS)
        return OSMOSE_EINVAL;
    s_group_t *entry = s_group_require (self, group);
    if (!entry)
        return OSMOSE_ENOMEM;
    entry->limit = max_workers;
    s_dispatch (self, false);       //  a raised limit may take workers now
    return 0;
}

int
osmose_exec_submit (osmose_exec_t *self, uint64_t task_id, const char *function,
                    const void *input, size_t input_size,
                    const void *checkpoint, size_t checkpoint_size)
{
    return osmose_exec_submit_to (self, 0, task_id, function, input, input_size,
                                  checkpoint, checkpoint_size);
}

int
osmose_exec_submit_to (osmose_exec_t *self, uint32_t group, uint64_t task_id,
                       const char *function, const void *input, size_t input_size,
                       const void *checkpoint, size_t checkpoint_size)
{
    if (!function || !zhashx_lookup (self->functions, function))
        return OSMOSE_ENOTFOUND;
    if (input_size > OSMOSE_WIRE_MAX_DATA || checkpoint_size > OSMOSE_WIRE_MAX_DATA
    || (input_size && !input))
        return input_size && !input? OSMOSE_EINVAL: OSMOSE_ETOOBIG;
    if (group >= OSMOSE_EXEC_MAX_GROUPS)
        return OSMOSE_EINVAL;
    if (self->queued >= self->max_queued)
        return OSMOSE_EBUSY;
    s_group_t *entry = s_group_require (self, group);
    if (!entry)
        return OSMOSE_ENOMEM;
    size_t name_size = strlen (function);
    if (!checkpoint)
        checkpoint_size = 0;
    size_t frame_size = sizeof (osmose_wire_t) + name_size + input_size + checkpoint_size;
    s_task_t *task = (s_task_t *) malloc (sizeof (s_task_t) + frame_size);
    if (!task)
        return OSMOSE_ENOMEM;
    memset (task, 0, sizeof (s_task_t));
    task->group = entry;
    task->id = task_id;
    task->seq = self->next_seq++;
    task->submit_us = s_now_us ();
    task->frame_size = frame_size;
    osmose_wire_t header = { .size = (uint32_t) frame_size, .type = OSMOSE_WIRE_TASK,
                             .seq = task->seq, .name_size = (uint32_t) name_size,
                             .data_size = (uint32_t) input_size,
                             .ckpt_size = (uint32_t) checkpoint_size };
    uint8_t *place = task->frame;
    memcpy (place, &header, sizeof (header));
    memcpy (place += sizeof (header), function, name_size);
    if (input_size)
        memcpy (place += name_size, input, input_size);
    else
        place += name_size;
    if (checkpoint_size)
        memcpy (place + input_size, checkpoint, checkpoint_size);
    s_queue (self, task);
    self->stats.submitted++;
    s_dispatch (self, false);
    return 0;
}

//  Handle what epoll reported, then deadlines and the queue
static size_t
s_handle (osmose_exec_t *self, struct epoll_event *events, int count)
{
    for (int index = 0; index < count; index++) {
        if (events [index].data.u64 == S_TIMER_KEY) {
            uint64_t expirations;
            if (read (self->timer_fd, &expirations, sizeof (expirations)) > 0)
                self->armed_us = 0;
            continue;
        }
        s_worker_t *worker = &self->workers [events [index].data.u64];
        if (worker->fd < 0)
            continue;                   //  lost earlier in this loop
        if (events [index].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            s_receive (self, worker);
        if (worker->fd >= 0 && (events [index].events & EPOLLOUT))
            s_flush (self, worker);
    }
    s_tick (self);
    s_dispatch (self, true);
    return self->done.size;
}

size_t
osmose_exec_process (osmose_exec_t *self)
{
    struct epoll_event events [64];
    int count = epoll_wait (self->epoll_fd, events, 64, 0);
    return s_handle (self, events, count > 0? count: 0);
}

size_t
osmose_exec_wait (osmose_exec_t *self, int timeout_ms)
{
    int64_t until = timeout_ms < 0? INT64_MAX: s_now_us () + (int64_t) timeout_ms * 1000;
    while (self->done.size == 0) {
        int64_t left = until == INT64_MAX? 1000: (until - s_now_us () + 999) / 1000;
        struct epoll_event events [64];
        int count = epoll_wait (self->epoll_fd, events, 64,
                                left <= 0? 0: left > 1000? 1000: (int) left);
        s_handle (self, events, count > 0? count: 0);
        if (left <= 0)
            break;
    }
    return self->done.size;
}

int
osmose_exec_next_result (osmose_exec_t *self, osmose_exec_result_t *result)
{
    s_task_destroy (&self->returned);
    s_task_t *task = s_fifo_pop (&self->done);
    if (!task)
        return 0;
    self->returned = task;
    *result = (osmose_exec_result_t) {
        .task_id = task->id, .status = task->status, .reason = task->reason,
        .output = task->output_size? task->result: NULL, .output_size = task->output_size,
        .checkpoint = task->ckpt_size? task->result + task->output_size: NULL,
        .checkpoint_size = task->ckpt_size,
        .queue_us = task->start_us? (uint64_t) (task->start_us - task->submit_us): 0,
        .run_us = task->run_us, .total_us = task->total_us
    };
    return 1;
}

//  A bare result for a task whose real one will be dropped
static int
s_cancelled (osmose_exec_t *self, s_task_t *task)
{
    s_task_t *bare = (s_task_t *) calloc (1, sizeof (s_task_t));
    if (!bare)
        return OSMOSE_ENOMEM;
    bare->id = task->id;
    bare->submit_us = task->submit_us;
    bare->start_us = task->start_us;
    if (task->live_ckpt) {
        bare->live_ckpt = (uint8_t *) malloc (task->live_ckpt_size + 1);
        if (bare->live_ckpt) {
            memcpy (bare->live_ckpt, task->live_ckpt, task->live_ckpt_size);
            bare->live_ckpt_size = task->live_ckpt_size;
        }
    }
    task->cancelled = true;
    self->stats.cancelled++;
    s_finish (self, bare, OSMOSE_ECANCELED, "cancelled");
    return 0;
}

int
osmose_exec_cancel (osmose_exec_t *self, uint64_t task_id)
{
    for (s_group_t *group = self->ring; group; group = group->next)
        for (s_task_t *task = group->queue.head; task; task = task->next)
            if (task->id == task_id && !task->cancelled)
                return s_cancelled (self, task);
    for (size_t index = 0; index < self->worker_count; index++) {
        s_worker_t *worker = &self->workers [index];
        for (s_task_t *task = worker->flight.head; task; task = task->next)
            if (task->id == task_id && !task->cancelled) {
                //  The running task stops; a waiting one is skipped
                if (worker->shm) {
                    if (task == worker->flight.head)
                        atomic_store (&worker->shm->cancel_seq, task->seq);
                    uint64_t count = atomic_load (&worker->shm->skip_count);
                    atomic_store (&worker->shm->skip [count % 32], task->seq);
                    atomic_store (&worker->shm->skip_count, count + 1);
                }
                return s_cancelled (self, task);
            }
    }
    return OSMOSE_ENOTFOUND;
}

const uint8_t *
osmose_exec_checkpoint (osmose_exec_t *self, uint64_t task_id, size_t *size_p)
{
    for (size_t index = 0; index < self->worker_count; index++)
        for (s_task_t *task = self->workers [index].flight.head; task; task = task->next)
            if (task->id == task_id && task->live_ckpt) {
                *size_p = task->live_ckpt_size;
                return task->live_ckpt;
            }
    *size_p = 0;
    return NULL;
}

bool
osmose_exec_has_function (osmose_exec_t *self, const char *function)
{
    return function && zhashx_lookup (self->functions, function) != NULL;
}

void
osmose_exec_stats (osmose_exec_t *self, osmose_exec_stats_t *stats)
{
    *stats = self->stats;
    stats->queued = self->queued;
    stats->running = 0;
    stats->workers = 0;
    for (size_t index = 0; index < self->worker_count; index++) {
        stats->running += self->workers [index].flight.size;
        stats->workers += self->workers [index].fd >= 0 && self->workers [index].ready;
    }
    stats->functions = zhashx_size (self->functions);
}
