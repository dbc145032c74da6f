/* tether-log-view.h: the backend's output, live
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "tether-log.h"

G_BEGIN_DECLS

#define TETHER_TYPE_LOG_VIEW (tether_log_view_get_type ())

G_DECLARE_FINAL_TYPE (TetherLogView, tether_log_view, TETHER, LOG_VIEW, GtkWidget)

/* The most lines the view keeps; older ones are in the file. */
#define TETHER_LOG_VIEW_MAX_LINES 10000

/* log: whose lines to show (NULL: none); the view starts over. */
void          tether_log_view_set_log       (TetherLogView *self,
                                             TetherLog     *log);
/* Opens the search bar and focuses its entry. */
void          tether_log_view_start_search  (TetherLogView *self);

G_END_DECLS
