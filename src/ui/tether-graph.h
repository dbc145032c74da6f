/* tether-graph.h: a live line graph of one TetherHistory field
 *
 * The right edge is the newest sample, the left edge "span" seconds
 * (>= 10) before it. "field" (a TetherHistoryField: "cpu" or "rss") and
 * "compact" (sparkline mode) are construction properties, set where the
 * graph is declared (tether-window.ui). CSS node "tethergraph" with style
 * class "cpu" or "memory" (from "field") and "compact" in sparkline mode;
 * the CSS `color` of the node is the line colour, the grid and the labels
 * follow the parent's colour.
 *
 * A full graph answers "how much, when": y ticks with units (0, half and
 * the top of the axis), a time axis ("5 min ago … now", a faint line per
 * minute or so), and a cursor with a read-out of the time and value
 * ("−2 min 10 s: 12.3 %") under the pointer, or moved with Left, Right,
 * Page Up, Page Down, Home and End when the graph has the keyboard focus
 * (Escape hides it). CPU is in % of one core, as top and System Monitor
 * count it: 100 % is one core busy all the time, a tree on four busy
 * cores reads 400 %; the axis scales to the peak in steps of 0.5, 1, 2,
 * 5, 10, 25, 50 and 100 %, then whole hundreds.
 *
 * A compact graph (a sparkline) carries its own label, "CPU 1.2 %", and
 * says the read-out in a tooltip.
 *
 * The history is "live" while samples keep arriving (the newest one is
 * younger than three sampling intervals); once they stop — the backend or
 * the process has gone — "current-text" reads "—" and the time axis ends
 * at "last sample" instead of "now". A header above the graph is the
 * app's, in labels bound to "current-text" and "axis-text"
 * (tether-window.ui). The accessible label is the app's too; the graph
 * keeps its description ("CPU 12.3 %, peak 80.1 % over 5 minutes, axis 0
 * to 100 %, 100 % is one core") current, with the cursor's read-out when
 * there is one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "tether-history.h"

G_BEGIN_DECLS

#define TETHER_TYPE_GRAPH (tether_graph_get_type ())

G_DECLARE_FINAL_TYPE (TetherGraph, tether_graph, TETHER, GRAPH, GtkWidget)

void        tether_graph_set_history       (TetherGraph   *self,
                                            TetherHistory *history);

/* What the y axis counts where its ticks cannot say it (the header's
 * note): "100 % = one core" for CPU unless set. */
void        tether_graph_set_axis_text     (TetherGraph   *self,
                                            const char    *text);

gboolean    tether_graph_get_live          (TetherGraph   *self);
const char *tether_graph_get_readout_text  (TetherGraph   *self);
/* Puts the cursor on the sample nearest to offset µs before the newest
 * one (what the pointer and the keys do); a negative offset hides it. */
void        tether_graph_set_cursor        (TetherGraph   *self,
                                            gint64         offset);

/* What the axes say, shared by the widget and its tests. */

/* The top of the y axis for values up to peak: for CPU 0.5, 1, 2, 5, 10,
 * 25, 50, 100 % then whole hundreds (1 % of slack each); for memory 1, 2
 * or 5 times a power of ten MiB, or GiB from 1 GiB on. */
double      tether_graph_axis_max          (TetherHistoryField field,
                                            double             peak);
/* A tick label: "0", "0.25 %", "2.5 MiB" (axis_max picks the unit). */
char       *tether_graph_format_tick       (TetherHistoryField field,
                                            double             value,
                                            double             axis_max);
/* "2 min 10 s", "45 s", "1 h 5 min". */
char       *tether_graph_format_duration   (gint64             usec);
/* The left end of the time axis: "5 min ago" ("now" for 0). */
char       *tether_graph_format_ago        (gint64             usec);
/* A point on it: "−2 min 10 s" ("now" for 0). */
char       *tether_graph_format_offset     (gint64             usec);

G_END_DECLS
