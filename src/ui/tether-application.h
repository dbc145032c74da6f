/* tether-application.h: the Tether desktop application
 *
 * Holds the one supervised backend (a profile, its TetherSupervisor and the
 * control socket tetherctl talks to) and the lifecycle actions, which are
 * application actions so they are exported on D-Bus (`gapplication action
 * org.tether.Tether stop`, `… rollback "'20'"`). Windows only show and
 * trigger them. News of the backend (a crash, a stop that had to be
 * forced, a pool worker let go of, a rollback's outcome) go to the window
 * as toasts, or out as desktop notifications.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-supervisor.h"

G_BEGIN_DECLS

#define TETHER_APPLICATION_ID "org.tether.Tether"

#define TETHER_TYPE_APPLICATION (tether_application_get_type ())

G_DECLARE_FINAL_TYPE (TetherApplication, tether_application, TETHER, APPLICATION, AdwApplication)

TetherApplication *tether_application_new             (void);
GSettings         *tether_application_get_settings    (TetherApplication *self);
/* The backend being supervised, or NULL before a profile is opened. */
TetherSupervisor  *tether_application_get_supervisor  (TetherApplication *self);
/* What a resize or recycle this application asked for is doing
 * ("Resizing the worker pool…"), NULL when none runs; notified. */
const char        *tether_application_get_pool_activity (TetherApplication *self);
/* What a start asked for here is doing before the backend starts
 * ("Ending 2 processes an earlier run left behind…"), NULL when none
 * waits; notified. */
const char        *tether_application_get_start_activity (TetherApplication *self);
/* Replaces the supervised profile; refused while the current backend runs. */
gboolean           tether_application_open_profile    (TetherApplication *self,
                                                       GFile             *file,
                                                       GError           **error);
/* Opens file, and says why in a dialog when it cannot (the profile's
 * file:line:column); with start, starts the backend once it is open. */
gboolean           tether_application_open_file       (TetherApplication *self,
                                                       GFile             *file,
                                                       gboolean           start);
/* The bundled demo profile (installed, or in the source tree when run from
 * a build directory). */
GFile             *tether_application_get_demo_profile (TetherApplication *self);
/* Back to a checkpoint the backend reported (reason: why, for the journal,
 * or NULL); the outcome is news ("Rolled back to checkpoint 20 in 1.2 s",
 * or why not) whoever asked. callback may be NULL (app.rollback). */
void               tether_application_rollback        (TetherApplication  *self,
                                                       const char         *checkpoint,
                                                       const char         *reason,
                                                       GAsyncReadyCallback callback,
                                                       gpointer            user_data);
gboolean           tether_application_rollback_finish (TetherApplication  *self,
                                                       GAsyncResult       *result,
                                                       GError            **error);
/* A toast in the window when it is shown, else a desktop notification. */
void               tether_application_tell            (TetherApplication *self,
                                                       const char        *title,
                                                       const char        *body);

/* Stops the backend through the ladder, then quits; a second call while
 * that runs skips to the forced step. Quitting never leaves an orphan. */
void               tether_application_quit_after_stop (TetherApplication *self);
/* The window was closed with the backend running: the application lives on
 * without a visible window until the backend stops or is shown again. */
void               tether_application_keep_in_background (TetherApplication *self);

/* tether-actions.c */
void               tether_application_install_actions (TetherApplication *self);
/* Recomputes every action's enabled state from the supervisor state: the
 * one place that decides what can be done when. */
void               tether_application_update_actions  (TetherApplication *self);

G_END_DECLS
