/*  osmose_inflight.c: tasks in flight, by id (see osmose_inflight.h). */
#include "osmose_prelude.h"
#include "osmose_inflight.h"

typedef struct {
    uint64_t task_id;           //  0: free
    const char *function;       //  interned in the table's names
    uint8_t *input;
    size_t input_size;
} s_slot_t;

struct _osmose_inflight_t {
    s_slot_t *slots;
    size_t capacity;            //  a power of two
    uint64_t oldest;            //  lowest id that may be in flight
    uint64_t next;              //  the id the next add must have
    size_t size;
    zhashx_t *names;            //  function name -> itself, so slots share it
};

osmose_inflight_t *
osmose_inflight_new (void)
{
    osmose_inflight_t *self = (osmose_inflight_t *) zmalloc (sizeof (osmose_inflight_t));
    if (!self)
        return NULL;
    self->names = zhashx_new ();
    self->capacity = 1024;
    self->slots = (s_slot_t *) calloc (self->capacity, sizeof (s_slot_t));
    if (!self->names || !self->slots) {
        osmose_inflight_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->names, (zhashx_destructor_fn *) zstr_free);
    self->oldest = self->next = 1;
    return self;
}

void
osmose_inflight_destroy (osmose_inflight_t **self_p)
{
    if (self_p && *self_p) {
        osmose_inflight_t *self = *self_p;
        for (size_t index = 0; self->slots && index < self->capacity; index++)
            free (self->slots [index].input);
        free (self->slots);
        zhashx_destroy (&self->names);
        free (self);
        *self_p = NULL;
    }
}

//  Double the ring, placing every slot at its new index
static int
s_grow (osmose_inflight_t *self)
{
    size_t capacity = self->capacity * 2;
    if (capacity > OSMOSE_INFLIGHT_MAX_SPAN)
        return OSMOSE_EBUSY;
    s_slot_t *slots = (s_slot_t *) calloc (capacity, sizeof (s_slot_t));
    if (!slots)
        return OSMOSE_ENOMEM;
    for (size_t index = 0; index < self->capacity; index++)
        if (self->slots [index].task_id)
            slots [self->slots [index].task_id & (capacity - 1)] = self->slots [index];
    free (self->slots);
    self->slots = slots;
    self->capacity = capacity;
    return 0;
}

int
osmose_inflight_add (osmose_inflight_t *self, uint64_t task_id, const char *function,
                     const void *input, size_t input_size)
{
    assert (self && function);
    if (task_id != self->next)
        return OSMOSE_EINVAL;
    while (task_id - self->oldest >= self->capacity) {
        int rc = s_grow (self);
        if (rc)
            return rc;
    }
    const char *name = (const char *) zhashx_lookup (self->names, function);
    if (!name) {
        char *copy = strdup (function);
        if (!copy)
            return OSMOSE_ENOMEM;
        zhashx_insert (self->names, copy, copy);
        name = copy;
    }
    uint8_t *copy = NULL;
    if (input_size) {
        copy = (uint8_t *) malloc (input_size);
        if (!copy)
            return OSMOSE_ENOMEM;
        memcpy (copy, input, input_size);
    }
    s_slot_t *slot = &self->slots [task_id & (self->capacity - 1)];
    slot->task_id = task_id;
    slot->function = name;
    slot->input = copy;
    slot->input_size = input_size;
    self->next++;
    self->size++;
    return 0;
}

bool
osmose_inflight_remove (osmose_inflight_t *self, uint64_t task_id)
{
    assert (self);
    if (task_id < self->oldest || task_id >= self->next)
        return false;
    s_slot_t *slot = &self->slots [task_id & (self->capacity - 1)];
    if (slot->task_id != task_id)
        return false;
    free (slot->input);
    memset (slot, 0, sizeof (*slot));
    self->size--;
    //  Move the window's tail past what is done
    while (self->oldest < self->next
       &&  self->slots [self->oldest & (self->capacity - 1)].task_id != self->oldest)
        self->oldest++;
    return true;
}

size_t
osmose_inflight_size (osmose_inflight_t *self)
{
    assert (self);
    return self->size;
}

int
osmose_inflight_each (osmose_inflight_t *self, osmose_inflight_fn *fn, void *arg)
{
    assert (self && fn);
    for (uint64_t id = self->oldest; id < self->next; id++) {
        s_slot_t *slot = &self->slots [id & (self->capacity - 1)];
        if (slot->task_id != id)
            continue;
        int rc = fn (arg, id, slot->function, slot->input, slot->input_size);
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_test_count (void *arg, uint64_t task_id, const char *function, const uint8_t *input,
              size_t input_size)
{
    uint64_t *sum = (uint64_t *) arg;
    assert (streq (function, "echo.echo") || streq (function, "sleep.ms"));
    assert (input_size == 8);
    uint64_t value;
    memcpy (&value, input, 8);
    assert (value == task_id);
    *sum += task_id;
    return 0;
}

void
osmose_inflight_test (bool verbose)
{
    printf (" * osmose_inflight: ");
    osmose_inflight_t *table = osmose_inflight_new ();
    assert (table);
    //  Ids must come in order
    uint64_t value = 5;
    assert (osmose_inflight_add (table, 5, "echo.echo", &value, 8) == OSMOSE_EINVAL);
    //  Many tasks, one slow one at the start: the ring grows past it
    for (uint64_t id = 1; id <= 5000; id++) {
        assert (osmose_inflight_add (table, id, id % 2? "echo.echo": "sleep.ms", &id, 8) == 0);
        if (id > 1 && id % 3)
            assert (osmose_inflight_remove (table, id));
    }
    uint64_t sum = 0, expected = 1;
    for (uint64_t id = 2; id <= 5000; id++)
        if (id % 3 == 0)
            expected += id;
    assert (osmose_inflight_each (table, s_test_count, &sum) == 0);
    assert (sum == expected);
    assert (osmose_inflight_size (table) == 1 + 5000 / 3);
    //  A result twice, or for an unknown task, is not handed out twice
    assert (osmose_inflight_remove (table, 3));
    assert (!osmose_inflight_remove (table, 3));
    assert (!osmose_inflight_remove (table, 0));
    assert (!osmose_inflight_remove (table, 999999));
    assert (osmose_inflight_remove (table, 1));
    osmose_inflight_destroy (&table);
    assert (table == NULL);
    printf ("OK\n");
}
