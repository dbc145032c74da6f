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
  TetherOwnerKind owner_kind;   /* --owner, else $TETHER_OWNER, else auto */
  TetherState last_state;
  gboolean quitting;
  /* The window was closed with the backend left running: it is only
   * hidden, and the application lives on without a visible window. */
  gboolean held_in_background;
};

void tether_application_release_background (TetherApplication *self);

G_END_DECLS
