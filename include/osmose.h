/*  osmose.h: the public C API of osmose, a peer-to-peer coalescent mesh runtime.

    A program links libosmose (pkg-config osmose) and talks to the local peer
    daemon, osmosed, over ipc://. Through it the program sees the mesh,
    leases workers on nearby peers and runs tasks on them directly.

    Thread safety: an osmose_t handle, and every lease acquired through it,
    may be used by one thread at a time; use one handle per thread.
    osmose_strerror and osmose_version are safe from any thread.

    Errors: every fallible call returns 0 (or a non-negative count) on
    success and a negative OSMOSE_E* code on failure; osmose_strerror turns
    the code into a sentence.
*/
#ifndef OSMOSE_H_INCLUDED
#define OSMOSE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OSMOSE_VERSION_MAJOR 0
#define OSMOSE_VERSION_MINOR 1
#define OSMOSE_VERSION_PATCH 0
#define OSMOSE_MAKE_VERSION(major, minor, patch) \
    ((major) * 10000 + (minor) * 100 + (patch))
#define OSMOSE_VERSION \
    OSMOSE_MAKE_VERSION (OSMOSE_VERSION_MAJOR, OSMOSE_VERSION_MINOR, OSMOSE_VERSION_PATCH)

#if defined(__GNUC__) || defined(__clang__)
#   define OSMOSE_EXPORT __attribute__ ((visibility ("default")))
#   define OSMOSE_WARN_UNUSED __attribute__ ((warn_unused_result))
#   define OSMOSE_PRINTF(fmt, args) __attribute__ ((format (printf, fmt, args)))
#else
#   define OSMOSE_EXPORT
#   define OSMOSE_WARN_UNUSED
#   define OSMOSE_PRINTF(fmt, args)
#endif

//  Error codes. Stable: new codes are only ever added at the end.
typedef enum {
    OSMOSE_OK = 0,
    OSMOSE_EINVAL = -1,         //  invalid argument
    OSMOSE_ENOMEM = -2,         //  out of memory
    OSMOSE_EIO = -3,            //  input/output error (see errno/log)
    OSMOSE_ECORRUPT = -4,       //  stored or received data is damaged
    OSMOSE_EVERIFY = -5,        //  signature, hash or proof does not verify
    OSMOSE_ENOTFOUND = -6,      //  no such entry, peer, lease or key
    OSMOSE_EEXIST = -7,         //  already exists
    OSMOSE_ELOCKED = -8,        //  in use by another process
    OSMOSE_ENOSPC = -9,         //  no space left on device
    OSMOSE_ETIMEDOUT = -10,     //  timed out
    OSMOSE_EPROTO = -11,        //  malformed or unexpected message
    OSMOSE_EUNTRUSTED = -12,    //  key is not in the trust store
    OSMOSE_EREFUSED = -13,      //  refused by policy
    OSMOSE_ENOPEER = -14,       //  no peer can serve the request
    OSMOSE_ECLOSED = -15,       //  connection or object closed
    OSMOSE_ETOOBIG = -16,       //  size exceeds a limit
    OSMOSE_EERASED = -17,       //  payload was erased
    OSMOSE_EFORK = -18,         //  feed forked: inconsistent signed heads
    OSMOSE_ECONFIG = -19,       //  bad configuration
    OSMOSE_ENOTSUP = -20,       //  not supported
    OSMOSE_EBUSY = -21,         //  resource busy or at capacity
    OSMOSE_ECANCELED = -22,     //  operation cancelled
    OSMOSE_ETASK = -23,         //  task failed or crashed its worker
    OSMOSE_ENOLEASE = -24,      //  lease unknown or expired
    OSMOSE_EDAEMON = -25,       //  local daemon not reachable
    OSMOSE_ERANGE = -26,        //  index or size out of range
    OSMOSE_E_LAST = -26
} osmose_error_t;

//  Return a static English sentence for an error code. Never NULL.
OSMOSE_EXPORT const char *
    osmose_strerror (int code);

//  Return the symbolic name of an error code, e.g. "OSMOSE_EVERIFY".
OSMOSE_EXPORT const char *
    osmose_strerror_name (int code);

//  Return the library's version as OSMOSE_MAKE_VERSION would; lets a
//  program check that the library it runs with matches its header.
OSMOSE_EXPORT int
    osmose_version (void);

//  Return the library's version string, e.g. "0.1.0".
OSMOSE_EXPORT const char *
    osmose_version_string (void);

//  ------------------------------------------------------------------------
//  Connection to the local daemon

typedef struct _osmose_t osmose_t;

//  Default local endpoint of osmosed; OSMOSE_ENDPOINT in the environment
//  overrides it for osmose_connect (NULL).
#define OSMOSE_DEFAULT_ENDPOINT "ipc:///run/osmose/osmosed.sock"

//  Connect to the local daemon at ENDPOINT (NULL: $OSMOSE_ENDPOINT or the
//  default). Returns 0 and sets *self_p; the caller owns the handle and
//  frees it with osmose_disconnect. Fails with OSMOSE_EDAEMON when no daemon
//  answers within timeout_ms.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_connect (const char *endpoint, int timeout_ms, osmose_t **self_p);

//  Close the connection and free the handle; accepts NULL, clears *self_p.
//  Release its leases first: they use the handle. Work connections kept
//  from released leases (for the next lease from the same provider, which
//  then skips a new CURVE handshake) are closed here.
OSMOSE_EXPORT void
    osmose_disconnect (osmose_t **self_p);

//  Ask the daemon for its status as a JSON object (node id, name, location,
//  uptime, version, peers, log size). On success *json_p is a NUL-terminated
//  string the caller owns and frees with osmose_free.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_status_json (osmose_t *self, char **json_p);

//  Ask the daemon for the member table as a JSON array. Ownership as for
//  osmose_status_json.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_peers_json (osmose_t *self, char **json_p);

//  Free memory returned by the library; accepts NULL.
OSMOSE_EXPORT void
    osmose_free (void *ptr);

//  Ask the daemon for the providers as this peer ranks them for REQUEST
//  (NULL: one CPU, no bound), nearest first: a JSON array of {"id", "name",
//  "location", "rtt_us", "hops", "score_us", "qualifies", "reason",
//  "cpus_free", "gpus_free", "npus_free", "memory_free_mb", "power",
//  "battery", "load", "self"}. Ownership as for osmose_status_json.
typedef struct osmose_request_t osmose_request_t;
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_near_json (osmose_t *self, const osmose_request_t *request, char **json_p);

//  Ask the daemon for the leases it holds (as a client) and has granted
//  (as a provider): {"held": [...], "granted": [...], "free": {...}}, each
//  lease {"lease", "provider"|"client", "cpus", "gpus", "npus",
//  "memory_mb", "ttl_left_ms", "renewals", ...}. Ownership as for
//  osmose_status_json.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_leases_json (osmose_t *self, char **json_p);

//  Tell the daemon this device is now at LOCATION (a path such as
//  "hq/floor2/hall"): the move is logged and spreads, and leases whose
//  provider is no longer near are re-placed near LOCATION, their tasks
//  moving with them. Returns 0, OSMOSE_EINVAL (not a valid path) or
//  OSMOSE_EDAEMON.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_move (osmose_t *self, const char *location);

//  ------------------------------------------------------------------------
//  Leasing workers on nearby peers
//
//  A program describes what it needs (osmose_request_t), and its daemon
//  bids for it among the peers nearest by measured RTT and location
//  (contract net: no central scheduler). The lease it gets names a
//  provider; the library then connects DIRECTLY to that provider's work
//  endpoint, CurveZMQ-encrypted, and sends tasks there: tasks and results
//  never pass through the local daemon or a third peer.
//
//  A task calls a named plugin function ("plugin.function", e.g.
//  "echo.echo", "matrix.multiply") with bytes in and bytes out; the
//  provider runs it in an isolated worker process under time and memory
//  limits.
//
//  The lease lives while the program does: the daemon renews it with the
//  provider, and releases it when the program releases it or exits (the
//  daemon watches the process), so a crashed client never strands a
//  provider's CPUs. A provider that dies takes its leases with it; the
//  daemon notices through the failure detector.
//
//  Thread safety: a lease belongs to one thread at a time, like the
//  osmose_t it came from; different leases may be used from different
//  threads, each with its own osmose_t.

typedef enum {
    OSMOSE_EAGER_REMOTE = 0,    //  lease a nearby peer; this device only as a fallback
    OSMOSE_LOCAL_FIRST = 1      //  this device first, when it has room; else a peer
} osmose_strategy_t;

typedef enum {
    OSMOSE_RETRY_LOCAL = 0,     //  no peer leases: run on this device
    OSMOSE_RETRY_REMOTE = 1,    //  no peer leases now: keep bidding until the timeout
    OSMOSE_FAIL = 2             //  no peer leases: fail with OSMOSE_ENOPEER, no fallback
                                //  (after the bidding and its two quick re-bids, each
                                //  asking farther peers too: tens of milliseconds)
} osmose_failure_t;

typedef struct osmose_lease_t osmose_lease_t;

//  Called (in the thread that calls into the lease) when the lease fails
//  in a way the program should know of: CODE is an OSMOSE_E* value and
//  REASON one sentence. Optional.
typedef void (osmose_failure_fn) (osmose_lease_t *lease, int code, const char *reason,
                                  void *arg);

//  What a program asks for. Initialise with osmose_request_init, then set
//  what differs; fields added later get defaults there.
struct osmose_request_t {
    int cpus;                   //  CPUs (default 1)
    int gpus;                   //  GPUs (default 0)
    int npus;                   //  NPUs (default 0)
    int64_t memory_mb;          //  memory (default 0: no minimum)
    int64_t latency_bound_us;   //  farthest score accepted (0: no bound)
    osmose_strategy_t strategy; //  default OSMOSE_EAGER_REMOTE
    osmose_failure_t failure;   //  default OSMOSE_RETRY_LOCAL
    uint32_t ttl_ms;            //  lease life without renewal (0: provider's default)
    osmose_failure_fn *on_failure;  //  or NULL
    void *failure_arg;
};

//  Fill REQUEST with the defaults above.
OSMOSE_EXPORT void
    osmose_request_init (osmose_request_t *request);

//  Lease workers for REQUEST, waiting up to TIMEOUT_MS (bidding takes one
//  round trip to the nearest peers, a millisecond or so on a LAN). On
//  success sets *lease_p; the caller owns it and gives it back with
//  osmose_lease_release, before osmose_disconnect of SELF (the lease talks
//  to the daemon through it). Fails with OSMOSE_ENOPEER (nobody can serve the
//  request under FAIL; with RETRY_LOCAL, not even this device),
//  OSMOSE_ETIMEDOUT, OSMOSE_EINVAL (bad request) or OSMOSE_EDAEMON.
//  It returns as soon as the lease is granted and the work connection's
//  OPEN is on its way to the provider: the first tasks follow OPEN on that
//  connection, so no round trip waits for its answer. A provider that
//  refuses OPEN (the lease ended meanwhile) is handled at the first
//  result, as a lease the provider closed: it moves, or under FAIL it ends
//  and the failure callback says why.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_lease_acquire (osmose_t *self, const osmose_request_t *request,
                          int timeout_ms, osmose_lease_t **lease_p);

//  Start acquiring a lease without waiting: sets *ticket_p (never 0).
//  Collect the lease with osmose_lease_acquire_wait; the program may start
//  several acquisitions before it waits for any.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_lease_acquire_async (osmose_t *self, const osmose_request_t *request,
                                uint64_t *ticket_p);

//  Wait up to TIMEOUT_MS (0: just look) for the acquisition TICKET. On
//  success sets *lease_p as osmose_lease_acquire does. OSMOSE_ETIMEDOUT
//  means not yet: the ticket stays valid; any other code ends it.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_lease_acquire_wait (osmose_t *self, uint64_t ticket, int timeout_ms,
                               osmose_lease_t **lease_p);

//  Give the lease back: tasks still in flight are cancelled, the provider
//  frees the resources at once. Accepts NULL; clears *lease_p.
OSMOSE_EXPORT void
    osmose_lease_release (osmose_lease_t **lease_p);

//  The lease as JSON: {"lease", "provider", "name", "location", "endpoint",
//  "local", "cpus", "gpus", "npus", "memory_mb", "ttl_ms", "rtt_us",
//  "score_us", "connection"}; "connection" is "kept" when the work
//  connection served an earlier lease of this handle, else "new".
//  Ownership as for osmose_status_json.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_lease_json (osmose_lease_t *lease, char **json_p);

//  The provider's peer id (16 hex digits), valid while the lease is.
OSMOSE_EXPORT const char *
    osmose_lease_provider (osmose_lease_t *lease);

//  True when the lease is on this device (a LOCAL_FIRST choice or the
//  RETRY_LOCAL fallback).
OSMOSE_EXPORT bool
    osmose_lease_local (osmose_lease_t *lease);

//  Run FUNCTION on INPUT (INPUT_SIZE bytes) and wait up to TIMEOUT_MS
//  (-1: for ever) for its output. On success *output_p holds OUTPUT_SIZE
//  bytes the caller frees with osmose_free (NULL when empty). Returns 0,
//  OSMOSE_ETASK (the task failed or crashed its worker), OSMOSE_ENOTFOUND
//  (the provider has no trusted plugin offering FUNCTION), OSMOSE_ETIMEDOUT,
//  OSMOSE_ENOLEASE (the lease ended), OSMOSE_ETOOBIG, or the plugin's own
//  code. Results of tasks submitted earlier and not yet collected are kept.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_lease_run (osmose_lease_t *lease, const char *function,
                      const void *input, size_t input_size,
                      void **output_p, size_t *output_size_p, int timeout_ms);

//  Queue FUNCTION on INPUT without waiting: copies the input, sets
//  *task_id_p (unique within the lease, never 0). Tasks leave in batches,
//  so one program keeps thousands in flight over one connection. Returns
//  0, OSMOSE_EBUSY (too many in flight: collect results first),
//  OSMOSE_ETOOBIG, OSMOSE_EINVAL or OSMOSE_ENOLEASE.
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_lease_submit (osmose_lease_t *lease, const char *function,
                         const void *input, size_t input_size, uint64_t *task_id_p);

//  Send the tasks queued by osmose_lease_submit now rather than at the
//  next call that waits. Returns 0 or OSMOSE_ENOLEASE.
OSMOSE_EXPORT int
    osmose_lease_flush (osmose_lease_t *lease);

//  One task's outcome. Pointers stay valid until the next call on the lease.
typedef struct {
    uint64_t task_id;
    int status;                 //  0, or an OSMOSE_E* code
    const char *reason;         //  "" on success, else one sentence
    const uint8_t *output;      //  NULL when empty
    size_t output_size;
} osmose_result_t;

//  Wait up to TIMEOUT_MS (0: just look, -1: for ever) for the next result
//  of a submitted task, in completion order. Returns 0 and fills *result,
//  OSMOSE_ETIMEDOUT (none yet), OSMOSE_ENOTFOUND (nothing in flight) or
//  OSMOSE_ENOLEASE (the lease ended; tasks in flight are lost with it).
OSMOSE_EXPORT int OSMOSE_WARN_UNUSED
    osmose_lease_next_result (osmose_lease_t *lease, int timeout_ms,
                              osmose_result_t *result);

//  The reason of the last failure on this lease (a task's own message, or
//  why the provider closed it); "" when none. Valid until the next call.
OSMOSE_EXPORT const char *
    osmose_lease_last_error (osmose_lease_t *lease);

//  Tasks submitted and not yet collected.
OSMOSE_EXPORT size_t
    osmose_lease_in_flight (osmose_lease_t *lease);

//  Most tasks one lease keeps in flight before submit says OSMOSE_EBUSY.
#define OSMOSE_LEASE_MAX_IN_FLIGHT 65536

#ifdef __cplusplus
}
#endif

#endif
