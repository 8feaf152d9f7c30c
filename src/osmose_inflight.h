/*  osmose_inflight.h: the tasks a lease has in flight, kept with their
    input until their result is handed out, so that a migration can send
    them again to the next provider (DESIGN.md, invariant 7: at-least-once
    execution, results deduplicated by task id).

    Task ids are given in order (1, 2, ...), so the table is a ring indexed
    by id: adding, finding and removing are O(1) with no hashing on the
    hot path. The ring grows while the oldest task in flight is more than
    its size behind the newest, up to OSMOSE_INFLIGHT_MAX_SPAN.

    Thread safety: none; one table belongs to one lease.
*/
#ifndef OSMOSE_INFLIGHT_H_INCLUDED
#define OSMOSE_INFLIGHT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSMOSE_INFLIGHT_MAX_SPAN (1u << 20)

typedef struct _osmose_inflight_t osmose_inflight_t;

osmose_inflight_t *
    osmose_inflight_new (void);
void
    osmose_inflight_destroy (osmose_inflight_t **self_p);

//  Keep task TASK_ID (the next id, exactly: ids come in order) calling
//  FUNCTION on a copy of INPUT. 0, OSMOSE_EBUSY (the oldest task in flight
//  is too far behind) or OSMOSE_ENOMEM.
int OSMOSE_CHECK
    osmose_inflight_add (osmose_inflight_t *self, uint64_t task_id, const char *function,
                         const void *input, size_t input_size);

//  Forget TASK_ID: true when it was in flight (its first result), false
//  for a duplicate or an unknown id.
bool
    osmose_inflight_remove (osmose_inflight_t *self, uint64_t task_id);

//  Tasks in flight.
size_t
    osmose_inflight_size (osmose_inflight_t *self);

//  Visit every task in flight, oldest first; stops early when FN returns
//  non-zero and returns that value.
typedef int (osmose_inflight_fn) (void *arg, uint64_t task_id, const char *function,
                                  const uint8_t *input, size_t input_size);
int
    osmose_inflight_each (osmose_inflight_t *self, osmose_inflight_fn *fn, void *arg);

void
    osmose_inflight_test (bool verbose);

#endif
