/* tether-graph.h: a live line graph of one TetherHistory field
 *
 * The right edge is the newest sample, the left edge "span" seconds
 * (>= 10) before it. "field" (a TetherHistoryField: "cpu" or "rss") and
 * "compact" (sparkline mode) are construction properties, set where the
 * graph is declared (tether-window.ui). CSS node "tethergraph" with style
 * class "cpu" or "memory" (from "field") and "compact" in sparkline mode;
 * the CSS `color` of the node is the line colour, the grid follows the
 * parent's colour.
 *
 * The plot only: a header is the app's, in labels bound to "current-text"
 * and "axis-text" (tether-window.ui). The accessible label is the app's
 * too; the graph keeps its description ("CPU 12.3 %, peak 80.1 % over 5
 * minutes") current.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "tether-history.h"

G_BEGIN_DECLS

#define TETHER_TYPE_GRAPH (tether_graph_get_type ())

G_DECLARE_FINAL_TYPE (TetherGraph, tether_graph, TETHER, GRAPH, GtkWidget)

void tether_graph_set_history (TetherGraph   *self,
                               TetherHistory *history);

G_END_DECLS
