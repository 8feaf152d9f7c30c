/*  osmose_work_msg.h: the messages of a work connection, between a
    program's library and the provider that leased it workers.

    A work connection is one CurveZMQ DEALER (the library) to a provider's
    work ROUTER (osmose_work), opened after the lease is granted, so tasks
    travel one hop (DESIGN.md, invariant 2). Each ZeroMQ message is one
    frame whose body starts with u8 version (1) and u8 kind; integers are
    big-endian; every variable part carries its length, each bounded; a
    body is consumed exactly. Tasks and results travel in batches, many to
    a frame, so the cost of a CURVE box is shared by a batch: one program
    keeps thousands of small tasks in flight.

    kind     fields after version, kind
    OPEN     u16 token size, token (osmose_token, issued by the provider to
             the client's daemon), u8[32] session key (the connection's
             Curve25519 public key), u8[64] Ed25519 signature by the
             token's client key over "osmose-work-v1" || token || session
             key: the client's daemon delegates the lease to this one
             connection, so no long-term secret leaves the daemon
    OPENED   i32 status (0, or OSMOSE_E*), u16 size, reason
    TASKS    u32 count, count x (u64 task id, u8 size, function name,
             u32 size, input)
    RESULTS  u32 count, count x (u64 task id, i32 status, u16 size, reason,
             u32 size, output)
    CANCEL   u32 count, count x u64 task id
    CLOSED   i32 status, u16 size, reason: the provider ends the lease

    Thread safety: operates on the caller's structs only.
*/
#ifndef OSMOSE_WORK_MSG_H_INCLUDED
#define OSMOSE_WORK_MSG_H_INCLUDED

#include "osmose_token.h"

#define OSMOSE_WORK_MSG_VERSION     1
#define OSMOSE_WORK_MAX_FRAME       (64u * 1024 * 1024)
#define OSMOSE_WORK_MAX_INPUT       (32u * 1024 * 1024)
#define OSMOSE_WORK_MAX_FUNCTION    63
#define OSMOSE_WORK_MAX_REASON      1024
#define OSMOSE_WORK_DELEGATION_CONTEXT "osmose-work-v1"

typedef enum {
    OSMOSE_WORK_OPEN = 1,
    OSMOSE_WORK_OPENED = 2,
    OSMOSE_WORK_TASKS = 3,
    OSMOSE_WORK_RESULTS = 4,
    OSMOSE_WORK_CANCEL = 5,
    OSMOSE_WORK_CLOSED = 6,
    OSMOSE_WORK_KIND_LIMIT
} osmose_work_kind_t;

//  A growing buffer for one outgoing body
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    size_t count_at;            //  where a batch's count goes
    uint32_t count;
    bool failed;                //  out of memory or over the frame limit
} osmose_work_writer_t;

//  One item of a TASKS, RESULTS or CANCEL body; pointers into the body
typedef struct {
    uint64_t task_id;
    int status;                 //  RESULTS
    const char *function;       //  TASKS: not NUL-terminated, function_size bytes
    size_t function_size;
    const uint8_t *data;        //  TASKS: input; RESULTS: output
    size_t data_size;
    const char *reason;         //  RESULTS: not NUL-terminated
    size_t reason_size;
} osmose_work_item_t;

//  A parsed body. For batches, items are read one by one with
//  osmose_work_next after osmose_work_decode checked the whole body.
typedef struct {
    osmose_work_kind_t kind;
    const uint8_t *token;       //  OPEN
    size_t token_size;
    const uint8_t *session_key; //  OPEN: 32 bytes
    const uint8_t *signature;   //  OPEN: 64 bytes
    int status;                 //  OPENED, CLOSED
    const char *reason;         //  OPENED, CLOSED: not NUL-terminated
    size_t reason_size;
    uint32_t count;             //  TASKS, RESULTS, CANCEL
    //  iteration state
    const uint8_t *body;
    size_t size;
    size_t offset;
    uint32_t read;
} osmose_work_msg_t;

//  Writer: reset to an empty body (keeps its buffer), free its buffer.
void
    osmose_work_writer_reset (osmose_work_writer_t *writer);
void
    osmose_work_writer_free (osmose_work_writer_t *writer);

//  Start a batch of KIND (TASKS, RESULTS, CANCEL); then add items; the
//  count is kept current, so the body is complete after any add.
void
    osmose_work_begin (osmose_work_writer_t *writer, osmose_work_kind_t kind);
void
    osmose_work_add_task (osmose_work_writer_t *writer, uint64_t task_id,
                          const char *function, const void *input, size_t input_size);
void
    osmose_work_add_result (osmose_work_writer_t *writer, uint64_t task_id, int status,
                            const char *reason, const void *output, size_t output_size);
void
    osmose_work_add_cancel (osmose_work_writer_t *writer, uint64_t task_id);

//  Whole bodies of the other kinds.
void
    osmose_work_write_open (osmose_work_writer_t *writer, const uint8_t *token,
                            size_t token_size, const uint8_t *session_key,
                            const uint8_t *signature);
void
    osmose_work_write_status (osmose_work_writer_t *writer, osmose_work_kind_t kind,
                              int status, const char *reason);

//  Check SIZE untrusted bytes of BODY and fill *msg (pointers into BODY).
//  Returns 0 or OSMOSE_EPROTO. A batch is checked item by item here, so
//  osmose_work_next cannot fail afterwards.
int OSMOSE_CHECK
    osmose_work_decode (const uint8_t *body, size_t size, osmose_work_msg_t *msg);

//  Next item of a decoded batch: true and *item filled, or false at the end.
bool
    osmose_work_next (osmose_work_msg_t *msg, osmose_work_item_t *item);

//  What the client's daemon signs to delegate a lease to a connection:
//  writes the signed bytes into BUFFER (room for 14 + token_size + 32) and
//  returns their length.
size_t
    osmose_work_delegation (const uint8_t *token, size_t token_size,
                            const uint8_t *session_key, uint8_t *buffer);

const char *
    osmose_work_kind_name (int kind);

void
    osmose_work_msg_test (bool verbose);

#endif
