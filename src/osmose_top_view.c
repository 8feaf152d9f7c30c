/*  osmose_top_view.c: the ncurses screen of osmose-top (see osmose_top_view.h).

    Layout, top to bottom: a title line, four summary lines with meters,
    the tab bar with the order and filter, the table of the current tab,
    and a bottom line with the keys (or the filter being typed). Help and
    details are drawn over the table. Everything is drawn again on each
    frame with erase(): curses sends only the cells that changed, and a
    full redraw is what makes a resize come out clean.

    Colour is a layer over attributes that work on any terminal (bold,
    reverse, dim), so a monochrome terminal keeps every distinction.
*/
#include "osmose_prelude.h"
#include "osmose_top_view.h"
#include "osmose_top_table.h"
#include <curses.h>
#include <langinfo.h>
#include <locale.h>

struct _osmose_top_view_t {
    osmose_top_model_t *model;
    bool colour;
    bool utf8;
    int delay_ms;
    osmose_top_tab_t tab;
    size_t selected [OSMOSE_TOP_TABS];
    size_t first [OSMOSE_TOP_TABS];     //  first row on screen
    char selected_id [64];              //  so the cursor follows a peer
    bool help;
    bool details;
    bool filtering;
    char filter [64];                   //  as being typed
    char filter_before [64];            //  restored by Esc
    char message [160];
};

#define S_TOP_ROWS 7                    //  title, 4 summary lines, blank, tabs

static const char *s_tab_names [OSMOSE_TOP_TABS] = { "Peers", "Leases", "Tasks", "Log" };

static attr_t
s_attr (osmose_top_view_t *self, osmose_top_role_t role)
{
    static const attr_t mono [OSMOSE_TOP_ROLES] = {
        A_NORMAL, A_BOLD, A_NORMAL, A_BOLD, A_BOLD | A_UNDERLINE, A_REVERSE,
        A_REVERSE | A_BOLD, A_REVERSE | A_BOLD, A_DIM, A_BOLD
    };
    if (!self->colour || role == OSMOSE_TOP_NORMAL)
        return mono [role];
    attr_t extra = role == OSMOSE_TOP_TITLE || role == OSMOSE_TOP_BAD
                || role == OSMOSE_TOP_KEY? A_BOLD: A_NORMAL;
    return COLOR_PAIR (role) | extra;
}

osmose_top_view_t *
osmose_top_view_new (osmose_top_model_t *model, bool colour, int delay_ms)
{
    assert (model);
    if (!isatty (STDIN_FILENO) || !isatty (STDOUT_FILENO))
        return NULL;
    osmose_top_view_t *self = (osmose_top_view_t *) zmalloc (sizeof (osmose_top_view_t));
    if (!self)
        return NULL;
    self->model = model;
    self->delay_ms = delay_ms;
    setlocale (LC_ALL, "");
    self->utf8 = streq (nl_langinfo (CODESET), "UTF-8");
    //  newterm, unlike initscr, fails with an error instead of exiting
    if (!newterm (NULL, stdout, stdin)) {
        free (self);
        return NULL;
    }
    cbreak ();
    noecho ();
    nonl ();
    keypad (stdscr, TRUE);
    curs_set (0);
    set_escdelay (25);
    self->colour = colour && has_colors () && start_color () == OK;
    if (self->colour) {
        use_default_colors ();
        init_pair (OSMOSE_TOP_TITLE, COLOR_CYAN, -1);
        init_pair (OSMOSE_TOP_GOOD, COLOR_GREEN, -1);
        init_pair (OSMOSE_TOP_WARN, COLOR_YELLOW, -1);
        init_pair (OSMOSE_TOP_BAD, COLOR_RED, -1);
        init_pair (OSMOSE_TOP_HEADER, COLOR_BLACK, COLOR_GREEN);
        init_pair (OSMOSE_TOP_SELECTED, COLOR_BLACK, COLOR_CYAN);
        init_pair (OSMOSE_TOP_TAB, COLOR_BLACK, COLOR_CYAN);
        init_pair (OSMOSE_TOP_DIM, COLOR_BLUE, -1);
        init_pair (OSMOSE_TOP_KEY, COLOR_CYAN, -1);
    }
    return self;
}

void
osmose_top_view_destroy (osmose_top_view_t **self_p)
{
    if (self_p && *self_p) {
        osmose_top_view_t *self = *self_p;
        curs_set (1);
        endwin ();
        free (self);
        *self_p = NULL;
    }
}

osmose_top_tab_t
osmose_top_view_tab (osmose_top_view_t *self)
{
    assert (self);
    return self->tab;
}

void
osmose_top_view_set_message (osmose_top_view_t *self, const char *message)
{
    assert (self);
    snprintf (self->message, sizeof (self->message), "%s", message? message: "");
}

//  --------------------------------------------------------------------------
//  Drawing helpers

//  Print at (y, x) clipped to the screen width, in ROLE
static void
s_put (osmose_top_view_t *self, int y, int x, osmose_top_role_t role, const char *format, ...)
{
    if (y < 0 || y >= LINES || x >= COLS)
        return;
    char text [512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof (text), format, args);
    va_end (args);
    attr_t attr = s_attr (self, role);
    attron (attr);
    mvaddnstr (y, x, text, COLS - x);
    attroff (attr);
}

//  A line in ROLE across the whole width (table header, selection)
static void
s_fill (osmose_top_view_t *self, int y, osmose_top_role_t role)
{
    attr_t attr = s_attr (self, role);
    attron (attr);
    mvhline (y, 0, ' ', COLS);
    attroff (attr);
}

//  A meter of WIDTH cells, [||||    ], for USED out of TOTAL
static void
s_meter (osmose_top_view_t *self, int y, int x, int width, double used, double total)
{
    if (x + width + 2 > COLS)
        return;
    s_put (self, y, x, OSMOSE_TOP_NORMAL, "[");
    int cells = total > 0? (int) (used / total * width + 0.5): 0;
    cells = cells < 0? 0: cells > width? width: cells;
    double share = total > 0? used / total: 0;
    osmose_top_role_t role = share < 0.6? OSMOSE_TOP_GOOD:
                             share < 0.85? OSMOSE_TOP_WARN: OSMOSE_TOP_BAD;
    for (int cell = 0; cell < width; cell++)
        s_put (self, y, x + 1 + cell, cell < cells? role: OSMOSE_TOP_NORMAL, "%c",
               cell < cells? '|': ' ');
    s_put (self, y, x + 1 + width, OSMOSE_TOP_NORMAL, "]");
}

static const char *
s_dash (const char *text)
{
    return text && *text? text: "-";
}

static const char *
s_num (char *buffer, size_t size, int64_t value)
{
    if (value < 0)
        snprintf (buffer, size, "-");
    else
        snprintf (buffer, size, "%" PRId64, value);
    return buffer;
}

//  Throughput as a spark line of the last WIDTH samples
static void
s_spark (osmose_top_view_t *self, int y, int x, int width)
{
    static const char *blocks [] = { " ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
    static const char ascii [] = " _.-:=+*#";
    size_t count;
    const double *history = osmose_top_model_history (self->model, &count);
    size_t from = count > (size_t) width? count - (size_t) width: 0;
    double top = 0;
    for (size_t index = from; index < count; index++)
        top = history [index] > top? history [index]: top;
    for (size_t index = from; index < count && x < COLS; index++, x++) {
        int level = top > 0? (int) (history [index] / top * 8 + 0.5): 0;
        level = level < 0? 0: level > 8? 8: level;
        if (self->utf8)
            s_put (self, y, x, OSMOSE_TOP_GOOD, "%s", blocks [level]);
        else
            s_put (self, y, x, OSMOSE_TOP_GOOD, "%c", ascii [level]);
    }
}

static void
s_draw_summary (osmose_top_view_t *self)
{
    const osmose_top_summary_t *sum = osmose_top_model_summary (self->model);
    char a [32], b [32], c [32], d [32];
    s_put (self, 0, 0, OSMOSE_TOP_TITLE, "osmose-top %s - %s (%s) at %s - up %s - every %.1fs",
           s_dash (sum->version), s_dash (sum->name), s_dash (sum->id),
           s_dash (sum->location), osmose_top_format_duration (a, sizeof (a), sum->uptime_ms),
           self->delay_ms / 1000.0);
    s_put (self, 1, 0, OSMOSE_TOP_NORMAL, "Peers:");
    int x = 7;
    const struct { int64_t count; const char *label; osmose_top_role_t role; } states [] = {
        { sum->alive, "alive", OSMOSE_TOP_GOOD }, { sum->suspect, "suspect", OSMOSE_TOP_WARN },
        { sum->dead, "dead", OSMOSE_TOP_BAD }, { sum->left, "left", OSMOSE_TOP_DIM }
    };
    for (size_t index = 0; index < 4; index++) {
        snprintf (a, sizeof (a), "%" PRId64 " %s%s", states [index].count, states [index].label,
                  index < 3? ",": "");
        bool lit = states [index].count || index == 0;
        s_put (self, 1, x, lit? states [index].role: OSMOSE_TOP_NORMAL, "%s", a);
        x += (int) strlen (a) + 1;
    }
    s_put (self, 1, 46, OSMOSE_TOP_NORMAL, "Leases: %s held, %s granted",
           s_num (a, sizeof (a), sum->leases_held), s_num (b, sizeof (b), sum->leases_granted));

    //  Meters show what is in use, as in htop; the figures say what is free
    s_put (self, 2, 0, OSMOSE_TOP_KEY, "CPU");
    s_meter (self, 2, 4, 20, (double) (sum->cpus - sum->cpus_free), (double) sum->cpus);
    s_put (self, 2, 27, OSMOSE_TOP_NORMAL, "%s free",
           osmose_top_format_ratio (a, sizeof (a), sum->cpus_free, sum->cpus));
    s_put (self, 3, 0, OSMOSE_TOP_KEY, "Mem");
    s_meter (self, 3, 4, 20, (double) (sum->memory_mb - sum->memory_free_mb),
             (double) sum->memory_mb);
    s_put (self, 3, 27, OSMOSE_TOP_NORMAL, "%s/%s free",
           osmose_top_format_mb (a, sizeof (a), sum->memory_free_mb),
           osmose_top_format_mb (b, sizeof (b), sum->memory_mb));
    s_put (self, 4, 0, OSMOSE_TOP_KEY, "GPU");
    s_put (self, 4, 4, OSMOSE_TOP_NORMAL, "%s free",
           osmose_top_format_ratio (a, sizeof (a), sum->gpus_free, sum->gpus));
    s_put (self, 4, 20, OSMOSE_TOP_KEY, "NPU");
    s_put (self, 4, 24, OSMOSE_TOP_NORMAL, "%s free",
           osmose_top_format_ratio (a, sizeof (a), sum->npus_free, sum->npus));

    char rate [32] = "-";
    if (sum->tasks_per_s >= 0)
        snprintf (rate, sizeof (rate), "%.1f", sum->tasks_per_s);
    s_put (self, 2, 46, OSMOSE_TOP_NORMAL, "Tasks: %s running, %s queued, %s migrated",
           s_num (a, sizeof (a), sum->tasks_running), s_num (b, sizeof (b), sum->tasks_queued),
           s_num (c, sizeof (c), sum->tasks_migrated));
    s_put (self, 3, 46, OSMOSE_TOP_NORMAL, "Tasks/s: %-6s", rate);
    s_spark (self, 3, 62, 30);
    s_put (self, 4, 46, OSMOSE_TOP_NORMAL, "Log: %s entries, %s feeds, lag %s",
           s_num (a, sizeof (a), sum->log_entries), s_num (b, sizeof (b), sum->log_feeds),
           s_num (d, sizeof (d), sum->log_lag));
}

static void
s_draw_tabs (osmose_top_view_t *self)
{
    int x = 0;
    for (int tab = 0; tab < OSMOSE_TOP_TABS; tab++) {
        s_put (self, 6, x, tab == (int) self->tab? OSMOSE_TOP_TAB: OSMOSE_TOP_NORMAL, " %d %s ",
               tab + 1, s_tab_names [tab]);
        x += (int) strlen (s_tab_names [tab]) + 5;
    }
    const char *filter = osmose_top_model_filter (self->model);
    char shown [32] = "no data";
    if (osmose_top_model_has (self->model, self->tab))
        snprintf (shown, sizeof (shown), "%zu shown",
                  osmose_top_model_size (self->model, self->tab));
    s_put (self, 6, x + 2, OSMOSE_TOP_DIM, "%s  sort: %s%s%s%s", shown,
           osmose_top_sort_name (osmose_top_model_sort (self->model)),
           osmose_top_model_reverse (self->model)? " (reversed)": "",
           *filter? "  filter: ": "", filter);
}

//  --------------------------------------------------------------------------
//  Tables: each row is a list of cells drawn left to right

static void
s_draw_cells (osmose_top_view_t *self, int y, osmose_top_cell_t *cells, size_t count, bool selected)
{
    if (selected)
        s_fill (self, y, OSMOSE_TOP_SELECTED);
    int x = 1;
    for (size_t index = 0; index < count && x < COLS; index++) {
        osmose_top_cell_t *cell = &cells [index];
        int width = abs (cell->width);
        s_put (self, y, x, selected? OSMOSE_TOP_SELECTED: cell->role,
               cell->width < 0? "%-*.*s": "%*.*s", width, width, cell->text);
        x += width + 1;
    }
}

//  Rows the table has room for
static size_t
s_page (void)
{
    int rows = LINES - S_TOP_ROWS - 2;
    return rows > 0? (size_t) rows: 0;
}

//  Keep the cursor on the same peer when the order or the frame changes
static void
s_follow (osmose_top_view_t *self, size_t size)
{
    size_t *selected = &self->selected [self->tab];
    if (*self->selected_id) {
        for (size_t index = 0; index < size; index++) {
            json_t *row = osmose_top_model_row_json (self->model, self->tab, index);
            const char *id = json_string_value (json_object_get (row, "id"));
            if (id && streq (id, self->selected_id)) {
                *selected = index;
                break;
            }
        }
    }
    if (*selected >= size)
        *selected = size? size - 1: 0;
    size_t *first = &self->first [self->tab];
    size_t page = s_page ();
    if (*selected < *first)
        *first = *selected;
    if (page && *selected >= *first + page)
        *first = *selected - page + 1;
    if (*first + page > size)
        *first = size > page? size - page: 0;
}

static void
s_draw_table (osmose_top_view_t *self)
{
    osmose_top_cell_t cells [OSMOSE_TOP_CELLS];
    char text [OSMOSE_TOP_TEXTS][48];
    size_t count = osmose_top_table_row (self->model, self->tab, -1, COLS, cells, text);
    s_fill (self, S_TOP_ROWS, OSMOSE_TOP_HEADER);
    s_draw_cells (self, S_TOP_ROWS, cells, count, false);
    if (!osmose_top_model_has (self->model, self->tab)) {
        s_put (self, S_TOP_ROWS + 2, 2, OSMOSE_TOP_DIM,
               "no data: this daemon does not report %s yet",
               self->tab == OSMOSE_TOP_LOG? "its log": s_tab_names [self->tab]);
        return;
    }
    size_t size = osmose_top_model_size (self->model, self->tab);
    s_follow (self, size);
    if (size == 0) {
        s_put (self, S_TOP_ROWS + 2, 2, OSMOSE_TOP_DIM, "%s",
               *osmose_top_model_filter (self->model)? "nothing matches the filter": "none");
        return;
    }
    size_t page = s_page ();
    size_t first = self->first [self->tab];
    for (size_t index = first; index < size && index < first + page; index++) {
        count = osmose_top_table_row (self->model, self->tab, (long) index, COLS,
                                      cells, text);
        s_draw_cells (self, S_TOP_ROWS + 1 + (int) (index - first), cells, count,
                      index == self->selected [self->tab]);
    }
}

//  --------------------------------------------------------------------------
//  Bottom line, help and details

static void
s_draw_bottom (osmose_top_view_t *self)
{
    int y = LINES - 1;
    if (self->filtering) {
        s_put (self, y, 0, OSMOSE_TOP_KEY, "Filter: ");
        s_put (self, y, 8, OSMOSE_TOP_NORMAL, "%s_", self->filter);
        s_put (self, y, 10 + (int) strlen (self->filter), OSMOSE_TOP_DIM,
               "(Enter keeps it, Esc cancels)");
        return;
    }
    if (*self->message) {
        s_put (self, y, 0, OSMOSE_TOP_BAD, "%s", self->message);
        return;
    }
    static const char *keys [][2] = {
        { "h", "Help" }, { "Tab", "View" }, { "s", "Sort" }, { "r", "Reverse" },
        { "/", "Filter" }, { "Enter", "Details" }, { "q", "Quit" }
    };
    int x = 0;
    for (size_t index = 0; index < sizeof (keys) / sizeof (keys [0]); index++) {
        s_put (self, y, x, OSMOSE_TOP_KEY, "%s ", keys [index][0]);
        x += (int) strlen (keys [index][0]) + 1;
        s_put (self, y, x, OSMOSE_TOP_SELECTED, "%-8s", keys [index][1]);
        x += 9;
    }
}

static void
s_draw_help (osmose_top_view_t *self)
{
    static const char *lines [] = {
        "osmose-top: the osmose mesh at a glance",
        "",
        "  Up/Down, PgUp/PgDn, Home/End   move the cursor",
        "  Tab, Shift-Tab, 1-4            Peers, Leases, Tasks, Log",
        "  s, <, >                        sort the peers by the next/previous key:",
        "                                 proximity, name, location, state, rtt,",
        "                                 cpu (free), load, log (size)",
        "  r                              reverse the order",
        "  /                              filter rows by text (name, id, location,",
        "                                 state, function...); Esc clears it",
        "  Enter                          details of the peer, lease, task or entry",
        "  space                          refresh now",
        "  h, ?, F1                       this help",
        "  q, F10                         quit",
        "",
        "Proximity is this peer first, then by score (RTT plus a weight for the",
        "hops between locations). A peer marked * is this one. Values shown as",
        "- are not reported by the daemon. Colours: green alive, yellow suspect,",
        "red dead; on a monochrome terminal bold and underline mark the same.",
        "",
        "Press any key to return."
    };
    erase ();
    for (size_t index = 0; index < sizeof (lines) / sizeof (lines [0]); index++)
        s_put (self, (int) index, 1, index == 0? OSMOSE_TOP_TITLE: OSMOSE_TOP_NORMAL, "%s",
               lines [index]);
}

//  Every field of OBJECT as "path: value" lines, nested objects flattened
static void
s_details_lines (json_t *object, const char *prefix, zlist_t *lines)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        char path [128];
        snprintf (path, sizeof (path), "%s%s", prefix, key);
        if (json_is_object (value)) {
            char nested [130];
            snprintf (nested, sizeof (nested), "%s.", path);
            s_details_lines (value, nested, lines);
            continue;
        }
        char *text = json_is_string (value)? strdup (json_string_value (value)):
                     json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        char line [512];
        snprintf (line, sizeof (line), "%-24s %s", path, text? text: "?");
        free (text);
        zlist_append (lines, line);     //  an autofree list keeps a copy
    }
}

static void
s_draw_details (osmose_top_view_t *self)
{
    json_t *row = osmose_top_model_row_json (self->model, self->tab,
                                             self->selected [self->tab]);
    if (!row) {
        self->details = false;
        return;
    }
    zlist_t *lines = zlist_new ();
    if (!lines)
        return;
    zlist_autofree (lines);
    s_details_lines (row, "", lines);
    int height = (int) zlist_size (lines) + 4;
    int width = COLS - 8 < 100? COLS - 8: 100;
    int top = (LINES - height) / 2 < 1? 1: (LINES - height) / 2;
    int left = (COLS - width) / 2;
    if (width < 20)
        width = COLS, left = 0;
    for (int y = top; y < top + height && y < LINES; y++) {
        move (y, left);
        hline (' ', width);
    }
    //  ASCII frame: it survives any terminal and any locale
    attr_t attr = s_attr (self, OSMOSE_TOP_TITLE);
    attron (attr);
    mvhline (top, left, '-', width);
    mvhline (top + height - 1, left, '-', width);
    attroff (attr);
    const char *title = self->tab == OSMOSE_TOP_PEERS? "Peer":
                        self->tab == OSMOSE_TOP_LEASES? "Lease":
                        self->tab == OSMOSE_TOP_TASKS? "Task": "Log entry";
    s_put (self, top, left + 2, OSMOSE_TOP_TITLE, " %s %s ", title,
           s_dash (json_string_value (json_object_get (row, "id"))));
    int y = top + 2;
    for (char *line = (char *) zlist_first (lines); line && y < LINES - 1;
         line = (char *) zlist_next (lines), y++)
        s_put (self, y, left + 2, OSMOSE_TOP_NORMAL, "%.*s", width - 4, line);
    s_put (self, top + height - 1, left + 2, OSMOSE_TOP_DIM, " any key closes ");
    zlist_destroy (&lines);
}

void
osmose_top_view_draw (osmose_top_view_t *self)
{
    assert (self);
    if (self->help) {
        s_draw_help (self);
        refresh ();
        return;
    }
    erase ();
    s_draw_summary (self);
    s_draw_tabs (self);
    s_draw_table (self);
    s_draw_bottom (self);
    if (self->details)
        s_draw_details (self);
    refresh ();
}

//  --------------------------------------------------------------------------
//  Keys

int
osmose_top_view_key (osmose_top_view_t *self, int timeout_ms)
{
    assert (self);
    timeout (timeout_ms < 0? 0: timeout_ms);
    int key = getch ();
    return key == ERR? -1: key;
}

//  Move the cursor by DELTA rows and remember which row it is on
static void
s_move (osmose_top_view_t *self, long delta)
{
    size_t size = osmose_top_model_size (self->model, self->tab);
    long target = (long) self->selected [self->tab] + delta;
    target = target >= (long) size? (long) size - 1: target;
    target = target < 0? 0: target;
    self->selected [self->tab] = (size_t) target;
    json_t *row = osmose_top_model_row_json (self->model, self->tab, (size_t) target);
    const char *id = json_string_value (json_object_get (row, "id"));
    snprintf (self->selected_id, sizeof (self->selected_id), "%s", id? id: "");
}

static void
s_set_tab (osmose_top_view_t *self, int tab)
{
    self->tab = (osmose_top_tab_t) ((tab + OSMOSE_TOP_TABS) % OSMOSE_TOP_TABS);
    *self->selected_id = 0;
    self->details = false;
}

static void
s_filter_key (osmose_top_view_t *self, int key)
{
    size_t length = strlen (self->filter);
    if (key == 27) {                    //  Esc: back to the filter before
        snprintf (self->filter, sizeof (self->filter), "%s", self->filter_before);
        self->filtering = false;
    }
    else
    if (key == '\n' || key == '\r' || key == KEY_ENTER)
        self->filtering = false;
    else
    if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        if (length)
            self->filter [length - 1] = 0;
    }
    else
    if (key >= 32 && key < 127 && length + 1 < sizeof (self->filter)) {
        self->filter [length] = (char) key;
        self->filter [length + 1] = 0;
    }
    //  Filter as the user types, as htop does
    osmose_top_model_set_filter (self->model, self->filter);
}

osmose_top_action_t
osmose_top_view_handle (osmose_top_view_t *self, int key)
{
    assert (self);
    osmose_top_model_t *model = self->model;
    osmose_top_action_t action = OSMOSE_TOP_STAY;
    long page = (long) s_page ();
    if (key == KEY_RESIZE)
        clearok (curscr, TRUE);         //  repaint every cell, not just changes
    else
    if (self->filtering)
        s_filter_key (self, key);
    else
    if (self->help || self->details) {
        self->help = self->details = false;
    }
    else
    switch (key) {
        case 'q': case 'Q': case KEY_F (10):
            return OSMOSE_TOP_QUIT;
        case 'h': case '?': case KEY_F (1):
            self->help = true;
            break;
        case KEY_UP: case 'k': s_move (self, -1); break;
        case KEY_DOWN: case 'j': s_move (self, 1); break;
        case KEY_PPAGE: s_move (self, -page); break;
        case KEY_NPAGE: s_move (self, page); break;
        case KEY_HOME: s_move (self, -(long) 1e9); break;
        case KEY_END: s_move (self, (long) 1e9); break;
        case '\t': s_set_tab (self, self->tab + 1); action = OSMOSE_TOP_REFRESH; break;
        case KEY_BTAB: s_set_tab (self, self->tab - 1); action = OSMOSE_TOP_REFRESH; break;
        case '1': case '2': case '3': case '4':
            s_set_tab (self, key - '1');
            action = OSMOSE_TOP_REFRESH;
            break;
        case 's': case '>':
            osmose_top_model_set_sort (model,
                (osmose_top_model_sort (model) + 1) % OSMOSE_TOP_SORTS,
                osmose_top_model_reverse (model));
            break;
        case '<':
            osmose_top_model_set_sort (model, (osmose_top_model_sort (model) + OSMOSE_TOP_SORTS - 1)
                                       % OSMOSE_TOP_SORTS, osmose_top_model_reverse (model));
            break;
        case 'r': case 'I':
            osmose_top_model_set_sort (model, osmose_top_model_sort (model),
                                       !osmose_top_model_reverse (model));
            break;
        case '/':
            self->filtering = true;
            snprintf (self->filter_before, sizeof (self->filter_before), "%s",
                      osmose_top_model_filter (model));
            snprintf (self->filter, sizeof (self->filter), "%s", self->filter_before);
            break;
        case 27:                        //  Esc clears the filter
            *self->filter = 0;
            osmose_top_model_set_filter (model, "");
            break;
        case '\n': case '\r': case KEY_ENTER:
            self->details = osmose_top_model_row_json (model, self->tab,
                                                       self->selected [self->tab]) != NULL;
            break;
        case ' ':
            action = OSMOSE_TOP_REFRESH;
            break;
        default:
            break;
    }
    osmose_top_view_draw (self);
    return action;
}
