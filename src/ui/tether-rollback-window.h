/* tether-rollback-window.h: pick a checkpoint, confirm, watch the rollback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-application.h"

G_BEGIN_DECLS

#define TETHER_TYPE_ROLLBACK_WINDOW (tether_rollback_window_get_type ())

G_DECLARE_FINAL_TYPE (TetherRollbackWindow, tether_rollback_window, TETHER, ROLLBACK_WINDOW, AdwWindow)

/* A modal dialog over parent for the application's supervisor (which must
 * be set); it closes itself when that changes, and once a rollback it
 * asked for succeeded (the application tells the outcome). */
GtkWindow *tether_rollback_window_new (TetherApplication *application,
                                       GtkWindow         *parent);

G_END_DECLS
