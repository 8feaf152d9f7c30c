/*  osmose_exec.h: the executor: runs tasks ("plugin.function", bytes in,
    bytes out) in a pool of osmose-worker processes, never in the caller.

    The daemon owns one executor and drives it from its own poller: the
    executor has one file descriptor (an epoll set of its worker sockets and
    a timer) that becomes readable when there is work for it; then the
    daemon calls osmose_exec_process and drains osmose_exec_next_result.
    No threads, no network: leases connect it to clients.

    Limits: each task has exec/task_timeout_ms; past it, its worker is
    killed and replaced and the task fails with OSMOSE_ETASK ("timed out
    after N ms"). Workers run under an address-space limit (exec/
    task_memory_mb). A crash kills only the worker: its task fails with
    OSMOSE_ETASK ("worker crashed: signal 11 (Segmentation fault)"), tasks
    queued behind it on that worker are run elsewhere, and a new worker
    takes its place.

    Ordering: results come in completion order, not submission order.
    Execution is at least once: tasks a dead worker had finished but not
    yet reported run again elsewhere; results are given once per task.
    Thread safety: none; one thread drives an executor, and should be the
    thread that created it: workers die with that thread (PDEATHSIG).
    Processes: workers are reaped by pid; the process must not set SIGCHLD
    to SIG_IGN (then exits cannot be told apart from crashes).
*/
#ifndef OSMOSE_EXEC_H_INCLUDED
#define OSMOSE_EXEC_H_INCLUDED

typedef struct _osmose_exec_t osmose_exec_t;

typedef struct {
    const char *worker_path;    //  NULL: $OSMOSE_WORKER, else the installed one
    const char *plugin_dir;     //  NULL: $OSMOSE_PLUGIN_DIR, else the installed dir
    zlistx_t *trusted;          //  hashes (64 hex digits, char *) to trust, or NULL
    const char *trust_file;     //  plugins.trust to read as well, or NULL
    int workers;                //  processes; 0: one per CPU
    int timeout_ms;             //  per task; 0: 30000
    int memory_mb;              //  per worker address space; 0: no limit
    int window;                 //  tasks handed to one worker at once; 0: 256
                                //  (2 while its tasks take over 1 ms)
    size_t max_queued;          //  submit fails with EBUSY beyond; 0: 1000000
} osmose_exec_config_t;

typedef struct {
    uint64_t task_id;           //  as given to osmose_exec_submit
    int status;                 //  0, or OSMOSE_ETASK, ECANCELED, or the
                                //  plugin's own error code
    const char *reason;         //  "" on success, else one clear sentence
    const uint8_t *output;      //  the function's output (NULL when empty)
    size_t output_size;
    const uint8_t *checkpoint;  //  last checkpoint saved, or NULL
    size_t checkpoint_size;
    uint64_t queue_us;          //  submit -> handed to a worker
    uint64_t run_us;            //  time the function ran (0 if unknown)
    uint64_t total_us;          //  submit -> result
} osmose_exec_result_t;

typedef struct {
    size_t queued;              //  waiting for a worker
    size_t running;             //  handed to workers, no result yet
    size_t workers;             //  workers up and ready
    size_t functions;           //  distinct functions the workers offer
    uint64_t submitted;
    uint64_t completed;         //  results with status 0
    uint64_t failed;            //  results with another status
    uint64_t crashed;           //  workers that died under a task
    uint64_t timeouts;          //  tasks killed for time
    uint64_t cancelled;
    uint64_t restarts;          //  workers started after the first ones
} osmose_exec_stats_t;

//  Start the pool and wait (up to 10 s) until a worker is ready. NULL when
//  no worker could start (the log says why).
osmose_exec_t *
    osmose_exec_new (const osmose_exec_config_t *config);

//  Stop every worker (SIGKILL), drop pending tasks, free the executor;
//  accepts NULL, clears *self_p.
void
    osmose_exec_destroy (osmose_exec_t **self_p);

//  Descriptor that is readable when osmose_exec_process has work; add it
//  to a poller (zpoller or osmose_poller) as osmose_exec_handle (exec).
int
    osmose_exec_fd (osmose_exec_t *self);
void *
    osmose_exec_handle (osmose_exec_t *self);

//  Queue a call of FUNCTION ("plugin.function") on INPUT, resuming from
//  CHECKPOINT when not NULL. Copies the bytes; never blocks. TASK_ID is the
//  caller's, reported back in the result. Returns 0, OSMOSE_ENOTFOUND (no
//  worker offers FUNCTION), OSMOSE_ETOOBIG, OSMOSE_EBUSY (queue full) or
//  OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_exec_submit (osmose_exec_t *self, uint64_t task_id, const char *function,
                        const void *input, size_t input_size,
                        const void *checkpoint, size_t checkpoint_size);

#define OSMOSE_EXEC_MAX_GROUPS 65536

//  Groups share the workers: the tasks of GROUP (1 to OSMOSE_EXEC_MAX_GROUPS
//  - 1) run on at most MAX_WORKERS workers at once (0: on any number), so a
//  lease of N CPUs holds at most N workers however many tasks it sends.
//  Groups with tasks waiting take idle workers in turn, so one that floods
//  the queue does not hold up the others. Group 0 is every task submitted
//  with osmose_exec_submit: no limit. Setting a group again changes its
//  limit for the workers it takes next. 0 or OSMOSE_EINVAL, OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_exec_set_group (osmose_exec_t *self, uint32_t group, uint32_t max_workers);

//  osmose_exec_submit for a task of GROUP (set or not; unset: no limit)
int OSMOSE_CHECK
    osmose_exec_submit_to (osmose_exec_t *self, uint32_t group, uint64_t task_id,
                           const char *function, const void *input, size_t input_size,
                           const void *checkpoint, size_t checkpoint_size);

//  Do what is pending: read results, hand queued tasks to workers, kill
//  tasks past their deadline, replace dead workers. Never blocks. Returns
//  the number of results ready.
size_t
    osmose_exec_process (osmose_exec_t *self);

//  Wait up to TIMEOUT_MS (-1: forever) for at least one result, processing
//  as it goes; for programs without a poller of their own (tests, tools).
//  Returns the number of results ready.
size_t
    osmose_exec_wait (osmose_exec_t *self, int timeout_ms);

//  Take the next result: returns 1 and fills *result, or 0 when none is
//  ready. The pointers in *result stay valid until the next call.
int
    osmose_exec_next_result (osmose_exec_t *self, osmose_exec_result_t *result);

//  Cancel TASK_ID: a queued task is dropped, one waiting in a worker is
//  skipped, a running one is told to stop (osmose_plugin_cancelled); either
//  way its result, status OSMOSE_ECANCELED, is ready at once. Returns 0 or
//  OSMOSE_ENOTFOUND (no such task, or its result was already given).
int
    osmose_exec_cancel (osmose_exec_t *self, uint64_t task_id);

//  The last checkpoint a running task has saved so far, or NULL. Valid
//  until the next call on the executor.
const uint8_t *
    osmose_exec_checkpoint (osmose_exec_t *self, uint64_t task_id, size_t *size_p);

//  True when some worker offers FUNCTION.
bool
    osmose_exec_has_function (osmose_exec_t *self, const char *function);

void
    osmose_exec_stats (osmose_exec_t *self, osmose_exec_stats_t *stats);

void
    osmose_exec_test (bool verbose);

#endif
