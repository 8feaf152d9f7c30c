/*  osmose_top_view.h: osmose-top's ncurses screen.

    The view owns the terminal from _new to _destroy (which restores it,
    also after a resize or an error), draws the model's current frame, and
    turns keys into changes of tab, order, filter and selection. It never
    talks to the daemon: osmose_top.c fetches frames and asks for a redraw.
    Not thread safe; one view per program.
*/
#ifndef OSMOSE_TOP_VIEW_H_INCLUDED
#define OSMOSE_TOP_VIEW_H_INCLUDED

#include "osmose_top_model.h"

typedef struct _osmose_top_view_t osmose_top_view_t;

//  What the program should do after a key
typedef enum {
    OSMOSE_TOP_STAY,            //  nothing more (the view has redrawn)
    OSMOSE_TOP_REFRESH,         //  fetch a frame now (e.g. a new tab)
    OSMOSE_TOP_QUIT
} osmose_top_action_t;

//  Take the terminal. COLOUR false keeps to bold and reverse video, as on
//  a monochrome terminal. DELAY_MS is shown in the title. Returns NULL if
//  the terminal cannot be used (not a terminal, unknown TERM).
osmose_top_view_t *
    osmose_top_view_new (osmose_top_model_t *model, bool colour, int delay_ms);

//  Give the terminal back as it was.
void
    osmose_top_view_destroy (osmose_top_view_t **self_p);

//  Draw the model's frame, the help or the details, whichever is up.
void
    osmose_top_view_draw (osmose_top_view_t *self);

//  Wait at most TIMEOUT_MS for a key; returns it, or -1 on none.
int
    osmose_top_view_key (osmose_top_view_t *self, int timeout_ms);

//  Act on KEY and redraw.
osmose_top_action_t
    osmose_top_view_handle (osmose_top_view_t *self, int key);

//  The tab on screen, so the program fetches only what is shown.
osmose_top_tab_t
    osmose_top_view_tab (osmose_top_view_t *self);

//  A one-line message on the bottom line (NULL clears it), e.g. when the
//  daemon stops answering.
void
    osmose_top_view_set_message (osmose_top_view_t *self, const char *message);

#endif
