/*  osmose.h: the public C API of osmose, a peer-to-peer coalescent mesh runtime.

    A program links libosmose (pkg-config osmose) and talks to the local peer
    daemon, osmosed, over ipc://. Through it the program sees the mesh and,
    as the leasing layer lands, leases workers on nearby peers.

    Thread safety: an osmose_t handle may be used by one thread at a time;
    use one handle per thread. osmose_strerror and osmose_version are safe
    from any thread.

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

#ifdef __cplusplus
}
#endif

#endif
