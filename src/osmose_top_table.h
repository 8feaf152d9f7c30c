/*  osmose_top_table.h: the rows of osmose-top's tables as cells.

    Each tab's table is a list of columns; a row (or the header) comes out
    as cells of text, width and role, which osmose_top_view.c draws in the
    role's colour or attribute. Kept apart from the drawing so the columns
    can change without touching curses code.
*/
#ifndef OSMOSE_TOP_TABLE_H_INCLUDED
#define OSMOSE_TOP_TABLE_H_INCLUDED

#include "osmose_top_model.h"

//  What a piece of the screen is; the view maps each to a colour and to a
//  monochrome attribute
typedef enum {
    OSMOSE_TOP_NORMAL, OSMOSE_TOP_TITLE, OSMOSE_TOP_GOOD, OSMOSE_TOP_WARN, OSMOSE_TOP_BAD,
    OSMOSE_TOP_HEADER, OSMOSE_TOP_SELECTED, OSMOSE_TOP_TAB, OSMOSE_TOP_DIM, OSMOSE_TOP_KEY,
    OSMOSE_TOP_ROLES
} osmose_top_role_t;

typedef struct {
    const char *text;
    int width;                  //  negative: left aligned
    osmose_top_role_t role;
} osmose_top_cell_t;

#define OSMOSE_TOP_CELLS 16     //  room for a row's cells
#define OSMOSE_TOP_TEXTS 12     //  room for the text they format

//  Cells of row INDEX of TAB (the header when INDEX < 0) for a screen
//  COLUMNS wide; formatted values are written into TEXT, which must
//  outlive the cells. Returns the number of cells.
size_t
    osmose_top_table_row (osmose_top_model_t *model, osmose_top_tab_t tab, long index,
                          int columns, osmose_top_cell_t *cells, char text [][48]);

#endif
