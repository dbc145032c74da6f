/* tether-history-window.h: the journal's events, newest first
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-supervisor.h"

G_BEGIN_DECLS

#define TETHER_TYPE_HISTORY_WINDOW (tether_history_window_get_type ())

G_DECLARE_FINAL_TYPE (TetherHistoryWindow, tether_history_window, TETHER, HISTORY_WINDOW, AdwWindow)

/* The events of supervisor's journal (checkpoints, rollbacks, pool
 * resizes, forced stops), following it while the window is open. */
GtkWindow *tether_history_window_new (TetherSupervisor *supervisor,
                                      GtkWindow        *parent);

/* When something happened, for people: "14:03:12 (12 minutes ago)", with
 * the date when it was not today. time and now: g_get_real_time (). */
char      *tether_format_event_time  (gint64            time,
                                      gint64            now);

G_END_DECLS
