/*  osmose_zap.h: the ZAP handler that admits only trusted CurveZMQ keys.

    ZeroMQ asks one handler per process (inproc://zeromq.zap.01, bound in
    CZMQ's single context) whether a CURVE client may connect. Each peer's
    inbox uses its own ZAP domain (its peer id), so several peers in one
    process (tests, the demo) share the handler but not their trust. This is
    the one process-wide object in osmose, reference counted, because ZAP
    itself is process-wide.

    An admitted connection's messages carry the client's peer id as their
    "User-Id" metadata; refusals are counted per domain for the peer's log.
*/
#ifndef OSMOSE_ZAP_H_INCLUDED
#define OSMOSE_ZAP_H_INCLUDED

typedef struct _osmose_zap_t osmose_zap_t;

//  Get the process's handler, starting it on first use. NULL on failure.
osmose_zap_t *
    osmose_zap_acquire (void);

//  Drop a reference; the last one stops the handler. Clears *self_p.
void
    osmose_zap_release (osmose_zap_t **self_p);

//  Admit the CurveZMQ key Z85 in DOMAIN, naming it ID. Z85 "*" opens the
//  domain to every CURVE key, each named by its own Z85 text (the work
//  endpoint, where a signed token decides, not the trust store). Synchronous: the
//  next handshake sees it. 0 or OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_zap_allow (osmose_zap_t *self, const char *domain, const char *z85,
                      const char *id);

//  Stop admitting Z85 in DOMAIN (existing connections stay until closed).
void
    osmose_zap_deny (osmose_zap_t *self, const char *domain, const char *z85);

//  Forget DOMAIN entirely (a peer stopping).
void
    osmose_zap_drop (osmose_zap_t *self, const char *domain);

//  Refusals in DOMAIN since the last call; the most recent refused key
//  and address are copied out when not NULL (41 and 64 bytes).
uint64_t
    osmose_zap_refusals (osmose_zap_t *self, const char *domain,
                         char *last_z85, char *last_address);

void
    osmose_zap_test (bool verbose);

#endif
