/* tether-graph.h: a live line graph of one TetherHistory field
 *
 * The right edge is the newest sample, the left edge `span` seconds
 * before it. CSS node "tethergraph" with style class "cpu" or "memory"
 * (from `field`) and "compact" in sparkline mode; the CSS `color` of the
 * node is the line colour, the grid follows the parent's colour.
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

GtkWidget          *tether_graph_new         (void);

TetherHistory      *tether_graph_get_history (TetherGraph        *self);
void                tether_graph_set_history (TetherGraph        *self,
                                              TetherHistory      *history);

/* The "field" property is a guint holding a TetherHistoryField. */
TetherHistoryField  tether_graph_get_field   (TetherGraph        *self);
void                tether_graph_set_field   (TetherGraph        *self,
                                              TetherHistoryField  field);

/* Seconds shown on the x axis, >= 10. */
guint               tether_graph_get_span    (TetherGraph        *self);
void                tether_graph_set_span    (TetherGraph        *self,
                                              guint               span);

gboolean            tether_graph_get_compact (TetherGraph        *self);
void                tether_graph_set_compact (TetherGraph        *self,
                                              gboolean            compact);

G_END_DECLS
