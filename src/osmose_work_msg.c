/*  osmose_work_msg.c: work connection codec (see osmose_work_msg.h). */
#include "osmose_prelude.h"
#include "osmose_work_msg.h"
#include "osmose_wire.h"

//  Make room for SIZE more bytes; a body never outgrows the frame limit
static uint8_t *
s_room (osmose_work_writer_t *writer, size_t size)
{
    if (writer->failed)
        return NULL;
    if (size > OSMOSE_WORK_MAX_FRAME - writer->size) {
        writer->failed = true;
        return NULL;
    }
    if (writer->size + size > writer->capacity) {
        size_t capacity = writer->capacity? writer->capacity: 4096;
        while (capacity < writer->size + size)
            capacity *= 2;
        uint8_t *data = (uint8_t *) realloc (writer->data, capacity);
        if (!data) {
            writer->failed = true;
            return NULL;
        }
        writer->data = data;
        writer->capacity = capacity;
    }
    uint8_t *at = writer->data + writer->size;
    writer->size += size;
    return at;
}

static void
s_put (osmose_work_writer_t *writer, uint64_t value, size_t width)
{
    uint8_t *at = s_room (writer, width);
    if (at)
        osmose_wire_be_put (at, value, width);
}

static void
s_put_bytes (osmose_work_writer_t *writer, const void *bytes, size_t size)
{
    uint8_t *at = s_room (writer, size);
    if (at && size)
        memcpy (at, bytes, size);
}

void
osmose_work_writer_reset (osmose_work_writer_t *writer)
{
    writer->size = 0;
    writer->count = 0;
    writer->count_at = 0;
    writer->failed = false;
}

void
osmose_work_writer_free (osmose_work_writer_t *writer)
{
    free (writer->data);
    memset (writer, 0, sizeof (*writer));
}

void
osmose_work_begin (osmose_work_writer_t *writer, osmose_work_kind_t kind)
{
    osmose_work_writer_reset (writer);
    s_put (writer, OSMOSE_WORK_MSG_VERSION, 1);
    s_put (writer, kind, 1);
    writer->count_at = writer->size;
    s_put (writer, 0, 4);
}

static void
s_counted (osmose_work_writer_t *writer)
{
    if (!writer->failed) {
        writer->count++;
        osmose_wire_be_put (writer->data + writer->count_at, writer->count, 4);
    }
}

void
osmose_work_add_task (osmose_work_writer_t *writer, uint64_t task_id,
                      const char *function, const void *input, size_t input_size)
{
    size_t function_size = strlen (function);
    if (function_size == 0 || function_size > OSMOSE_WORK_MAX_FUNCTION
    ||  input_size > OSMOSE_WORK_MAX_INPUT) {
        writer->failed = true;
        return;
    }
    s_put (writer, task_id, 8);
    s_put (writer, function_size, 1);
    s_put_bytes (writer, function, function_size);
    s_put (writer, input_size, 4);
    s_put_bytes (writer, input, input_size);
    s_counted (writer);
}

void
osmose_work_add_result (osmose_work_writer_t *writer, uint64_t task_id, int status,
                        const char *reason, const void *output, size_t output_size)
{
    size_t reason_size = reason? strlen (reason): 0;
    if (reason_size > OSMOSE_WORK_MAX_REASON)
        reason_size = OSMOSE_WORK_MAX_REASON;
    s_put (writer, task_id, 8);
    s_put (writer, (uint32_t) status, 4);
    s_put (writer, reason_size, 2);
    s_put_bytes (writer, reason, reason_size);
    s_put (writer, output_size, 4);
    s_put_bytes (writer, output, output_size);
    s_counted (writer);
}

void
osmose_work_add_cancel (osmose_work_writer_t *writer, uint64_t task_id)
{
    s_put (writer, task_id, 8);
    s_counted (writer);
}

void
osmose_work_write_open (osmose_work_writer_t *writer, const uint8_t *token,
                        size_t token_size, const uint8_t *session_key,
                        const uint8_t *signature)
{
    osmose_work_writer_reset (writer);
    if (token_size > OSMOSE_TOKEN_MAX_SIZE) {
        writer->failed = true;
        return;
    }
    s_put (writer, OSMOSE_WORK_MSG_VERSION, 1);
    s_put (writer, OSMOSE_WORK_OPEN, 1);
    s_put (writer, token_size, 2);
    s_put_bytes (writer, token, token_size);
    s_put_bytes (writer, session_key, 32);
    s_put_bytes (writer, signature, OSMOSE_SIG_SIZE);
}

void
osmose_work_write_status (osmose_work_writer_t *writer, osmose_work_kind_t kind,
                          int status, const char *reason)
{
    osmose_work_writer_reset (writer);
    size_t reason_size = reason? strlen (reason): 0;
    if (reason_size > OSMOSE_WORK_MAX_REASON)
        reason_size = OSMOSE_WORK_MAX_REASON;
    s_put (writer, OSMOSE_WORK_MSG_VERSION, 1);
    s_put (writer, kind, 1);
    s_put (writer, (uint32_t) status, 4);
    s_put (writer, reason_size, 2);
    s_put_bytes (writer, reason, reason_size);
}

//  Read one item at the reader's position; false when it does not fit
static bool
s_read_item (osmose_work_kind_t kind, osmose_wire_reader_t *reader, osmose_work_item_t *item)
{
    memset (item, 0, sizeof (*item));
    item->task_id = osmose_wire_get_u64 (reader);
    if (kind == OSMOSE_WORK_TASKS) {
        item->function_size = osmose_wire_get_u8 (reader);
        item->function = (const char *) reader->data + reader->used;
        if (item->function_size == 0 || item->function_size > OSMOSE_WORK_MAX_FUNCTION
        ||  reader->size - reader->used < item->function_size)
            return false;
        reader->used += item->function_size;
    }
    else
    if (kind == OSMOSE_WORK_RESULTS) {
        item->status = (int32_t) osmose_wire_get_u32 (reader);
        item->reason_size = osmose_wire_get_u16 (reader);
        item->reason = (const char *) reader->data + reader->used;
        if (reader->failed || item->reason_size > OSMOSE_WORK_MAX_REASON
        ||  reader->size - reader->used < item->reason_size)
            return false;
        reader->used += item->reason_size;
    }
    if (kind != OSMOSE_WORK_CANCEL) {
        item->data_size = osmose_wire_get_u32 (reader);
        item->data = reader->data + reader->used;
        if (reader->failed || item->data_size > OSMOSE_WORK_MAX_FRAME
        ||  reader->size - reader->used < item->data_size)
            return false;
        reader->used += item->data_size;
    }
    return !reader->failed;
}

int
osmose_work_decode (const uint8_t *body, size_t size, osmose_work_msg_t *msg)
{
    memset (msg, 0, sizeof (*msg));
    osmose_wire_reader_t reader = { body, size, 0, false };
    uint8_t version = osmose_wire_get_u8 (&reader);
    uint8_t kind = osmose_wire_get_u8 (&reader);
    if (reader.failed || version != OSMOSE_WORK_MSG_VERSION
    ||  kind == 0 || kind >= OSMOSE_WORK_KIND_LIMIT)
        return OSMOSE_EPROTO;
    if (kind == OSMOSE_WORK_OPEN) {
        msg->token_size = osmose_wire_get_u16 (&reader);
        if (reader.failed || msg->token_size > OSMOSE_TOKEN_MAX_SIZE
        ||  size - reader.used != msg->token_size + 32 + OSMOSE_SIG_SIZE)
            return OSMOSE_EPROTO;
        msg->token = body + reader.used;
        msg->session_key = msg->token + msg->token_size;
        msg->signature = msg->session_key + 32;
    }
    else
    if (kind == OSMOSE_WORK_OPENED || kind == OSMOSE_WORK_CLOSED) {
        msg->status = (int32_t) osmose_wire_get_u32 (&reader);
        msg->reason_size = osmose_wire_get_u16 (&reader);
        if (reader.failed || msg->reason_size > OSMOSE_WORK_MAX_REASON
        ||  size - reader.used != msg->reason_size
        ||  msg->status > 0 || msg->status < OSMOSE_E_LAST - 1000)
            return OSMOSE_EPROTO;
        msg->reason = (const char *) body + reader.used;
    }
    else {
        msg->count = osmose_wire_get_u32 (&reader);
        if (reader.failed)
            return OSMOSE_EPROTO;
        msg->body = body;
        msg->size = size;
        msg->offset = reader.used;
        //  Check every item now, so the caller never acts on half a batch
        osmose_work_item_t item;
        for (uint32_t index = 0; index < msg->count; index++)
            if (!s_read_item ((osmose_work_kind_t) kind, &reader, &item))
                return OSMOSE_EPROTO;
        if (!osmose_wire_done (&reader))
            return OSMOSE_EPROTO;
    }
    msg->kind = (osmose_work_kind_t) kind;
    return 0;
}

bool
osmose_work_next (osmose_work_msg_t *msg, osmose_work_item_t *item)
{
    if (msg->read >= msg->count)
        return false;
    osmose_wire_reader_t reader = { msg->body, msg->size, msg->offset, false };
    bool ok = s_read_item (msg->kind, &reader, item);
    msg->offset = reader.used;
    msg->read++;
    return ok;
}

size_t
osmose_work_delegation (const uint8_t *token, size_t token_size,
                        const uint8_t *session_key, uint8_t *buffer)
{
    size_t context = strlen (OSMOSE_WORK_DELEGATION_CONTEXT);
    memcpy (buffer, OSMOSE_WORK_DELEGATION_CONTEXT, context);
    memcpy (buffer + context, token, token_size);
    memcpy (buffer + context + token_size, session_key, 32);
    return context + token_size + 32;
}

const char *
osmose_work_kind_name (int kind)
{
    static const char *names [] = {
        "?", "OPEN", "OPENED", "TASKS", "RESULTS", "CANCEL", "CLOSED"
    };
    return kind > 0 && kind < OSMOSE_WORK_KIND_LIMIT? names [kind]: "?";
}

void
osmose_work_msg_test (bool verbose)
{
    printf (" * osmose_work_msg: ");
    osmose_work_writer_t writer = { 0 };
    osmose_work_msg_t msg;
    osmose_work_item_t item;

    //  A batch of tasks round-trips, items in order
    osmose_work_begin (&writer, OSMOSE_WORK_TASKS);
    for (int index = 0; index < 1000; index++) {
        char input [16];
        int size = snprintf (input, sizeof (input), "in%d", index);
        osmose_work_add_task (&writer, 1000 + (uint64_t) index, "echo.echo", input, (size_t) size);
    }
    assert (!writer.failed);
    assert (osmose_work_decode (writer.data, writer.size, &msg) == 0);
    assert (msg.kind == OSMOSE_WORK_TASKS && msg.count == 1000);
    for (int index = 0; index < 1000; index++) {
        assert (osmose_work_next (&msg, &item));
        char input [16];
        int size = snprintf (input, sizeof (input), "in%d", index);
        assert (item.task_id == 1000 + (uint64_t) index);
        assert (item.function_size == 9 && memcmp (item.function, "echo.echo", 9) == 0);
        assert (item.data_size == (size_t) size && memcmp (item.data, input, (size_t) size) == 0);
    }
    assert (!osmose_work_next (&msg, &item));

    //  Every truncation and every extra byte is refused
    for (size_t cut = 0; cut < writer.size; cut += 7)
        assert (osmose_work_decode (writer.data, cut, &msg) == OSMOSE_EPROTO);
    uint8_t *longer = (uint8_t *) malloc (writer.size + 1);
    assert (longer);
    memcpy (longer, writer.data, writer.size);
    longer [writer.size] = 0;
    assert (osmose_work_decode (longer, writer.size + 1, &msg) == OSMOSE_EPROTO);
    free (longer);
    //  A count larger than the items is refused
    writer.data [writer.count_at + 3]++;
    assert (osmose_work_decode (writer.data, writer.size, &msg) == OSMOSE_EPROTO);

    //  Results with reasons and empty outputs
    osmose_work_begin (&writer, OSMOSE_WORK_RESULTS);
    osmose_work_add_result (&writer, 7, 0, "", "out", 3);
    osmose_work_add_result (&writer, 8, OSMOSE_ETASK, "worker crashed", NULL, 0);
    assert (osmose_work_decode (writer.data, writer.size, &msg) == 0);
    assert (msg.count == 2);
    assert (osmose_work_next (&msg, &item) && item.task_id == 7 && item.status == 0);
    assert (item.data_size == 3 && item.reason_size == 0);
    assert (osmose_work_next (&msg, &item) && item.status == OSMOSE_ETASK);
    assert (item.reason_size == 14 && memcmp (item.reason, "worker crashed", 14) == 0);

    //  Open, status and cancel bodies
    uint8_t token [OSMOSE_TOKEN_SIZE], key [32], signature [OSMOSE_SIG_SIZE];
    memset (token, 1, sizeof (token));
    memset (key, 2, sizeof (key));
    memset (signature, 3, sizeof (signature));
    osmose_work_write_open (&writer, token, sizeof (token), key, signature);
    assert (osmose_work_decode (writer.data, writer.size, &msg) == 0);
    assert (msg.kind == OSMOSE_WORK_OPEN && msg.token_size == sizeof (token));
    assert (memcmp (msg.session_key, key, 32) == 0 && msg.signature [63] == 3);
    assert (osmose_work_decode (writer.data, writer.size - 1, &msg) == OSMOSE_EPROTO);
    osmose_work_write_status (&writer, OSMOSE_WORK_OPENED, OSMOSE_EVERIFY, "forged token");
    assert (osmose_work_decode (writer.data, writer.size, &msg) == 0);
    assert (msg.status == OSMOSE_EVERIFY && msg.reason_size == 12);
    osmose_work_begin (&writer, OSMOSE_WORK_CANCEL);
    osmose_work_add_cancel (&writer, 99);
    assert (osmose_work_decode (writer.data, writer.size, &msg) == 0);
    assert (osmose_work_next (&msg, &item) && item.task_id == 99);

    //  Bad version, kind, names too long
    uint8_t bad [] = { 2, OSMOSE_WORK_CANCEL, 0, 0, 0, 0 };
    assert (osmose_work_decode (bad, sizeof (bad), &msg) == OSMOSE_EPROTO);
    bad [0] = 1;
    bad [1] = 99;
    assert (osmose_work_decode (bad, sizeof (bad), &msg) == OSMOSE_EPROTO);
    osmose_work_begin (&writer, OSMOSE_WORK_TASKS);
    osmose_work_add_task (&writer, 1, "", "x", 1);
    assert (writer.failed);
    uint8_t delegation [64 + OSMOSE_TOKEN_SIZE];
    assert (osmose_work_delegation (token, sizeof (token), key, delegation)
            == 14 + sizeof (token) + 32);
    osmose_work_writer_free (&writer);
    printf ("OK\n");
}
