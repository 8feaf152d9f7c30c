/*  osmose_error.c: error codes to words, and the library's version.
    Part of the public API (osmose.h); everything else reports failures as
    negative OSMOSE_E* codes so callers can branch on them.
*/
#include "osmose_prelude.h"
#include "osmose_error.h"

typedef struct {
    int code;
    const char *name;
    const char *text;
} s_error_t;

static const s_error_t s_errors [] = {
    { OSMOSE_OK, "OSMOSE_OK", "success" },
    { OSMOSE_EINVAL, "OSMOSE_EINVAL", "invalid argument" },
    { OSMOSE_ENOMEM, "OSMOSE_ENOMEM", "out of memory" },
    { OSMOSE_EIO, "OSMOSE_EIO", "input/output error" },
    { OSMOSE_ECORRUPT, "OSMOSE_ECORRUPT", "data is damaged" },
    { OSMOSE_EVERIFY, "OSMOSE_EVERIFY", "signature, hash or proof does not verify" },
    { OSMOSE_ENOTFOUND, "OSMOSE_ENOTFOUND", "not found" },
    { OSMOSE_EEXIST, "OSMOSE_EEXIST", "already exists" },
    { OSMOSE_ELOCKED, "OSMOSE_ELOCKED", "in use by another process" },
    { OSMOSE_ENOSPC, "OSMOSE_ENOSPC", "no space left on device" },
    { OSMOSE_ETIMEDOUT, "OSMOSE_ETIMEDOUT", "timed out" },
    { OSMOSE_EPROTO, "OSMOSE_EPROTO", "malformed or unexpected message" },
    { OSMOSE_EUNTRUSTED, "OSMOSE_EUNTRUSTED", "key is not trusted" },
    { OSMOSE_EREFUSED, "OSMOSE_EREFUSED", "refused by policy" },
    { OSMOSE_ENOPEER, "OSMOSE_ENOPEER", "no peer can serve the request" },
    { OSMOSE_ECLOSED, "OSMOSE_ECLOSED", "connection closed" },
    { OSMOSE_ETOOBIG, "OSMOSE_ETOOBIG", "size exceeds a limit" },
    { OSMOSE_EERASED, "OSMOSE_EERASED", "payload was erased" },
    { OSMOSE_EFORK, "OSMOSE_EFORK", "feed forked: inconsistent signed heads" },
    { OSMOSE_ECONFIG, "OSMOSE_ECONFIG", "bad configuration" },
    { OSMOSE_ENOTSUP, "OSMOSE_ENOTSUP", "not supported" },
    { OSMOSE_EBUSY, "OSMOSE_EBUSY", "busy or at capacity" },
    { OSMOSE_ECANCELED, "OSMOSE_ECANCELED", "operation cancelled" },
    { OSMOSE_ETASK, "OSMOSE_ETASK", "task failed or crashed its worker" },
    { OSMOSE_ENOLEASE, "OSMOSE_ENOLEASE", "lease unknown or expired" },
    { OSMOSE_EDAEMON, "OSMOSE_EDAEMON", "local osmosed daemon not reachable" },
    { OSMOSE_ERANGE, "OSMOSE_ERANGE", "index or size out of range" },
};

static const s_error_t *
s_lookup (int code)
{
    //  The table is ordered by code, 0 down to OSMOSE_E_LAST
    if (code > 0 || code < OSMOSE_E_LAST)
        return NULL;
    return &s_errors [-code];
}

const char *
osmose_strerror (int code)
{
    const s_error_t *error = s_lookup (code);
    return error? error->text: "unknown error";
}

const char *
osmose_strerror_name (int code)
{
    const s_error_t *error = s_lookup (code);
    return error? error->name: "OSMOSE_EUNKNOWN";
}

int
osmose_errno_code (int err)
{
    switch (err) {
        case 0:         return OSMOSE_OK;
        case ENOMEM:    return OSMOSE_ENOMEM;
        case ENOSPC:
        case EDQUOT:    return OSMOSE_ENOSPC;
        case ENOENT:    return OSMOSE_ENOTFOUND;
        case EEXIST:    return OSMOSE_EEXIST;
        case EINVAL:    return OSMOSE_EINVAL;
        case ETIMEDOUT: return OSMOSE_ETIMEDOUT;
        case EAGAIN:    return OSMOSE_EBUSY;
        case EFBIG:     return OSMOSE_ETOOBIG;
        default:        return OSMOSE_EIO;
    }
}

int
osmose_version (void)
{
    return OSMOSE_VERSION;
}

const char *
osmose_version_string (void)
{
    return PACKAGE_VERSION;
}

void
osmose_error_test (bool verbose)
{
    printf (" * osmose_error: ");
    //  Table order is what s_lookup relies on
    for (int code = 0; code >= OSMOSE_E_LAST; code--) {
        assert (s_errors [-code].code == code);
        assert (strlen (osmose_strerror (code)) > 0);
        assert (strncmp (osmose_strerror_name (code), "OSMOSE_E", 8) == 0
                || code == 0);
    }
    assert (streq (osmose_strerror (1), "unknown error"));
    assert (streq (osmose_strerror (OSMOSE_E_LAST - 1), "unknown error"));
    assert (streq (osmose_strerror_name (OSMOSE_EVERIFY), "OSMOSE_EVERIFY"));
    assert (osmose_errno_code (ENOSPC) == OSMOSE_ENOSPC);
    assert (osmose_errno_code (EPERM) == OSMOSE_EIO);
    assert (osmose_version () == OSMOSE_VERSION);
    assert (streq (osmose_version_string (), PACKAGE_VERSION));
    printf ("OK\n");
}
