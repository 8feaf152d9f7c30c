/*  osmose_exec_wire.h: the frames osmosed's executor and osmose-worker
    exchange over one socketpair per worker. Both ends are on one host and
    built together, so frames use native byte order. Private.

    Every frame is one header then, in this order, name_size bytes (task:
    function name; hello: NUL-separated function names), data_size bytes
    (task: input; result: output), ckpt_size bytes (checkpoint) and
    text_size bytes (result: error message).
*/
#ifndef OSMOSE_EXEC_WIRE_H_INCLUDED
#define OSMOSE_EXEC_WIRE_H_INCLUDED

#include <stdatomic.h>
#include <stdint.h>

#define OSMOSE_WIRE_TASK        1   //  executor -> worker: run this
#define OSMOSE_WIRE_RESULT      2   //  worker -> executor: task done
#define OSMOSE_WIRE_CHECKPOINT  3   //  worker -> executor: progress saved
#define OSMOSE_WIRE_HELLO       4   //  worker -> executor: ready, functions

#define OSMOSE_WIRE_TIMED_OUT   1   //  result flag: stopped at its deadline

#define OSMOSE_WIRE_MAX_FRAME   (1u << 30)
#define OSMOSE_WIRE_MAX_DATA    (256u * 1024 * 1024)

//  Descriptors a worker finds open at start
#define OSMOSE_WIRE_SOCKET_FD   3
#define OSMOSE_WIRE_SHM_FD      4

typedef struct {
    uint32_t size;              //  whole frame, header included
    uint32_t type;              //  OSMOSE_WIRE_*
    uint64_t seq;               //  the executor's task number
    int32_t status;             //  result: 0 or OSMOSE_E*
    uint32_t name_size;
    uint32_t data_size;
    uint32_t ckpt_size;
    uint32_t text_size;
    uint32_t flags;             //  result: OSMOSE_WIRE_TIMED_OUT
    uint64_t run_ns;            //  result: time the function ran
} osmose_wire_t;

//  A page both ends map. The executor tells a running task to stop without
//  a message that would queue behind the task itself; the worker says which
//  task runs since when, so a crash or a timeout blames exactly that task
//  even when results of earlier ones were still in the worker's buffer.
typedef struct {
    _Atomic uint64_t cancel_seq;    //  task the worker should stop, or 0
    _Atomic uint64_t running_seq;   //  task running now, or 0
    _Atomic int64_t started_us;     //  when it started (CLOCK_MONOTONIC)
    //  Tasks handed over but not started that the worker should skip: the
    //  executor writes a seq into slot count % 32, then bumps count
    _Atomic uint64_t skip_count;
    _Atomic uint64_t skip [32];
} osmose_wire_shm_t;

#endif
