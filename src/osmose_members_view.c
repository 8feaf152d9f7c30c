/*  osmose_members_view.c: whom we probe next and whom we stay connected
    to (see osmose_members.h).

    Probes walk a shuffled rotation of all live members, so each is probed
    once per round (bounded detection time, as in SWIM) and the transport's
    short-lived probe connections spread evenly. The active view is the
    HyParView-like set the daemon keeps connections to: the nearest members
    by RTT EWMA plus hop_weight_us per location hop, and a few random ones
    so the overlay stays connected. It changes slowly on purpose: a member
    leaves the near set only when it dies or a much nearer one appears.
*/
#include "osmose_prelude.h"
#include "osmose_members.h"
#include "osmose_members_int.h"

#define S_RTT_UNKNOWN 20000     //  µs assumed while we measured no one

static bool
s_live (const members_entry_t *member)
{
    return member->state == OSMOSE_MEMBER_ALIVE || member->state == OSMOSE_MEMBER_SUSPECT;
}

static bool
s_rotation_grow (osmose_members_t *self, size_t wanted)
{
    if (wanted <= self->rotation_capacity)
        return true;
    size_t capacity = self->rotation_capacity? self->rotation_capacity * 2: 16;
    while (capacity < wanted)
        capacity *= 2;
    members_entry_t **rotation = (members_entry_t **) realloc (self->rotation,
                                                     capacity * sizeof (members_entry_t *));
    if (!rotation)
        return false;
    self->rotation = rotation;
    self->rotation_capacity = capacity;
    return true;
}

void
members_rotation_insert (osmose_members_t *self, members_entry_t *member)
{
    if (!self->me || member->is_self || self->rotation_size == 0)
        return;                 //  the next rebuild takes it
    if (!s_rotation_grow (self, self->rotation_size + 1))
        return;
    size_t span = self->rotation_size - self->rotation_pos + 1;
    size_t at = self->rotation_pos + (size_t) (members_random (self) % span);
    self->rotation [self->rotation_size++] = self->rotation [at];
    self->rotation [at] = member;
}

static void
s_rotation_rebuild (osmose_members_t *self)
{
    self->rotation_size = 0;
    self->rotation_pos = 0;
    if (!s_rotation_grow (self, self->size))
        return;
    for (size_t i = 0; i < self->size; i++)
        if (!self->members [i]->is_self && s_live (self->members [i]))
            self->rotation [self->rotation_size++] = self->members [i];
    for (size_t i = self->rotation_size; i > 1; i--) {
        size_t j = (size_t) (members_random (self) % i);
        members_entry_t *swap = self->rotation [i - 1];
        self->rotation [i - 1] = self->rotation [j];
        self->rotation [j] = swap;
    }
}

members_entry_t *
members_rotation_next (osmose_members_t *self)
{
    for (size_t tries = 0; tries <= self->size; tries++) {
        if (self->rotation_pos >= self->rotation_size) {
            s_rotation_rebuild (self);
            if (self->rotation_size == 0)
                return NULL;
        }
        members_entry_t *member = self->rotation [self->rotation_pos++];
        if (s_live (member) && member->probe_phase == MEMBERS_PROBE_NONE)
            return member;
    }
    return NULL;
}

bool
members_view_has (osmose_members_t *self, const members_entry_t *member)
{
    for (size_t i = 0; i < self->near_size; i++)
        if (self->near [i] == member)
            return true;
    for (size_t i = 0; i < self->random_size; i++)
        if (self->random [i] == member)
            return true;
    return false;
}

bool
members_linked (osmose_members_t *self, const members_entry_t *member)
{
    return !self->params.linked || self->params.linked (self->params.linked_arg, member->id);
}

//  Up to WANTED distinct live members other than us and BESIDES, linked
//  ones first (a message to them opens no connection), from a random
//  place in the table; returns how many went into PICKED
size_t
members_pick (osmose_members_t *self, members_entry_t **picked, size_t wanted,
              const members_entry_t *besides)
{
    size_t count = 0;
    size_t start = self->size? (size_t) (members_random (self) % self->size): 0;
    for (int pass = 0; pass < 2 && count < wanted; pass++)
        for (size_t i = 0; i < self->size && count < wanted; i++) {
            members_entry_t *member = self->members [(start + i) % self->size];
            if (member->is_self || member == besides || member->state != OSMOSE_MEMBER_ALIVE
            ||  members_linked (self, member) != (pass == 0))
                continue;
            picked [count++] = member;
        }
    return count;
}

//  Whom to probe next. Three probes in four go to the active view, in
//  turn: the daemon keeps links to it, so they cost no connection, while
//  a probe of anyone else opens a CurveZMQ connection (and its ACK one
//  back) and evicts another; with a hundred members that churn is what
//  loses probes under load. The fourth walks the rotation of all members,
//  so each is still probed by someone about once per interval, and the
//  news it carries reaches beyond our links (limiting the rotation to
//  linked members slowed a simulated 128-member join from 1.3 s to 8.7 s).
members_entry_t *
members_probe_next (osmose_members_t *self)
{
    size_t view_size = self->near_size + self->random_size;
    if (view_size > 0 && self->probes_started++ % 4 != 3)
        for (size_t tries = 0; tries < view_size; tries++) {
            size_t at = self->view_pos++ % view_size;
            members_entry_t *member = at < self->near_size? self->near [at]
                                    : self->random [at - self->near_size];
            if (s_live (member) && member->probe_phase == MEMBERS_PROBE_NONE)
                return member;
        }
    return members_rotation_next (self);
}

//  Next non-empty component of a location path, or false at the end
static bool
s_component (const char **path, const char **start, size_t *size)
{
    while (**path == '/')
        (*path)++;
    if (**path == 0)
        return false;
    *start = *path;
    while (**path && **path != '/')
        (*path)++;
    *size = (size_t) (*path - *start);
    return true;
}

int
osmose_members_hops (const char *a, const char *b)
{
    a = a? a: "";
    b = b? b: "";
    int hops = 0;
    bool diverged = false;
    const char *ca = NULL, *cb = NULL;
    size_t sa = 0, sb = 0;
    while (true) {
        bool more_a = s_component (&a, &ca, &sa);
        bool more_b = s_component (&b, &cb, &sb);
        if (!more_a && !more_b)
            break;
        if (!diverged && more_a && more_b && sa == sb && memcmp (ca, cb, sa) == 0)
            continue;
        diverged = true;
        hops += (more_a? 1: 0) + (more_b? 1: 0);
    }
    return hops;
}

//  Before its first ACK a member is assumed as far as the others we
//  measured, on average, so location alone ranks it, not a guess
static int64_t
s_rtt_default (osmose_members_t *self)
{
    int64_t sum = 0, count = 0;
    for (size_t i = 0; i < self->size; i++)
        if (self->members [i]->rtt_us >= 0) {
            sum += self->members [i]->rtt_us;
            count++;
        }
    return count? sum / count: S_RTT_UNKNOWN;
}

static int64_t
s_score (osmose_members_t *self, const members_entry_t *member)
{
    int64_t rtt = member->rtt_us >= 0? member->rtt_us: self->rtt_default;
    return rtt + (int64_t) self->params.hop_weight_us
               * osmose_members_hops (self->me->location, member->location);
}

static bool
s_contains (members_entry_t **set, size_t size, const members_entry_t *member)
{
    for (size_t i = 0; i < size; i++)
        if (set [i] == member)
            return true;
    return false;
}

static size_t
s_keep_live (members_entry_t **set, size_t size)
{
    size_t kept = 0;
    for (size_t i = 0; i < size; i++)
        if (s_live (set [i]))
            set [kept++] = set [i];
    return kept;
}

typedef struct {
    members_entry_t *member;
    int64_t score;
} s_candidate_t;

static int
s_by_score (const void *a, const void *b)
{
    const s_candidate_t *x = (const s_candidate_t *) a;
    const s_candidate_t *y = (const s_candidate_t *) b;
    if (x->score != y->score)
        return x->score < y->score? -1: 1;
    return (x->member->tiebreak > y->member->tiebreak)
         - (x->member->tiebreak < y->member->tiebreak);
}

void
members_view_update (osmose_members_t *self)
{
    size_t near_max = (size_t) self->params.active_view;
    size_t random_max = (size_t) self->params.random_view;
    near_max = near_max > MEMBERS_VIEW_MAX / 2? MEMBERS_VIEW_MAX / 2: near_max;
    random_max = random_max > MEMBERS_VIEW_MAX / 2? MEMBERS_VIEW_MAX / 2: random_max;
    self->rtt_default = s_rtt_default (self);
    self->near_size = s_keep_live (self->near, self->near_size);
    self->random_size = s_keep_live (self->random, self->random_size);
    s_candidate_t *candidates = (s_candidate_t *) malloc (self->size * sizeof (s_candidate_t) + 1);
    if (!candidates)
        return;
    size_t count = 0;
    for (size_t i = 0; i < self->size; i++) {
        members_entry_t *member = self->members [i];
        if (member->is_self || member->state != OSMOSE_MEMBER_ALIVE
        ||  s_contains (self->near, self->near_size, member)
        ||  s_contains (self->random, self->random_size, member))
            continue;
        candidates [count].member = member;
        candidates [count++].score = s_score (self, member);
    }
    qsort (candidates, count, sizeof (s_candidate_t), s_by_score);
    size_t next = 0;
    while (self->near_size < near_max && next < count)
        self->near [self->near_size++] = candidates [next++].member;
    //  Hysteresis: one swap per update, and only for a much nearer member
    if (self->near_size == near_max && next < count && near_max > 0) {
        size_t worst = 0;
        for (size_t i = 1; i < self->near_size; i++)
            if (s_score (self, self->near [i]) > s_score (self, self->near [worst]))
                worst = i;
        int64_t worst_score = s_score (self, self->near [worst]);
        int64_t best_score = candidates [next].score;
        if (best_score * 10 < worst_score * 7 && worst_score - best_score > 1000)
            self->near [worst] = candidates [next++].member;
    }
    while (self->random_size < random_max && next < count) {
        size_t pick = next + (size_t) (members_random (self) % (count - next));
        self->random [self->random_size++] = candidates [pick].member;
        candidates [pick] = candidates [next++];
    }
    free (candidates);
}

void
members_view_forget (osmose_members_t *self, members_entry_t *member)
{
    for (size_t i = 0; i < self->near_size; i++)
        if (self->near [i] == member)
            self->near [i--] = self->near [--self->near_size];
    for (size_t i = 0; i < self->random_size; i++)
        if (self->random [i] == member)
            self->random [i--] = self->random [--self->random_size];
}

size_t
osmose_members_active_view (osmose_members_t *self, const char **ids, size_t max)
{
    if (self->near_size + self->random_size == 0)
        members_view_update (self);
    size_t count = 0;
    for (size_t i = 0; i < self->near_size && count < max; i++)
        ids [count++] = self->near [i]->id;
    for (size_t i = 0; i < self->random_size && count < max; i++)
        ids [count++] = self->random [i]->id;
    return count;
}
