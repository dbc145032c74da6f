/* tether-application-private.h: shared by tether-application.c and
 * tether-actions.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "tether-application.h"
#include "tether-control.h"

G_BEGIN_DECLS

struct _TetherApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
  TetherSupervisor *supervisor;
  TetherControl *control;
  GSignalGroup *supervisor_signals;
  GSignalGroup *pool_signals;   /* the supervisor's pool, when it has one */
  TetherOwnerKind owner_kind;   /* --owner, else $TETHER_OWNER, else auto */
  TetherState last_state;
  gboolean quitting;
  /* The window was closed with the backend left running: it is only
   * hidden, and the application lives on without a visible window. */
  gboolean held_in_background;
  /* Pool verbs this application asked for and that have not completed
   * ("pool-activity"). */
  guint n_resizes;
  guint n_recycles;
  /* A rollback is under way (FROZEN was seen): its STOPPED is followed
   * by a start. */
  gboolean in_rollback;
  guint rollback_settle;        /* idle: did a start follow the STOPPED? */
  /* A start waiting on what an earlier run left behind (being looked
   * for, asked about or ended): cancelled when another profile opens. */
  GCancellable *start_check;
  char *start_activity;         /* "start-activity" */
  guint start_activity_delay;   /* until a quick look is worth saying */
};

void tether_application_release_background (TetherApplication *self);
/* n_resizes or n_recycles changed. */
void tether_application_pool_activity_changed (TetherApplication *self);
/* Sets "start-activity" (NULL: nothing under way). */
void tether_application_set_start_activity (TetherApplication *self,
                                            const char        *activity);
/* The window on screen, or NULL (none, or hidden in the background). */
GtkWindow *tether_application_get_shown_window (TetherApplication *self);

G_END_DECLS
