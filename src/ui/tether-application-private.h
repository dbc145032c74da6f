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
  TetherState last_state;
  /* A forced step someone asked for is no news; one the ladder had to take
   * is (a toast says the backend ignored the polite request). */
  gboolean force_requested;
  gboolean quitting;
  /* The window was closed with the backend left running: it is only
   * hidden, and the application lives on without a visible window. */
  gboolean held_in_background;
};

void tether_application_quit_after_stop (TetherApplication *self);
void tether_application_release_background (TetherApplication *self);
void tether_application_keep_in_background (TetherApplication *self);

G_END_DECLS
