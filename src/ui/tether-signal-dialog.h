/* tether-signal-dialog.h: Send Signal…, the choice
 *
 * Which signal (tether-signals.h's, each with what it usually does) and
 * whether the process's descendants get it too. The "send" response comes
 * once a signal is chosen; its label ends in "…" and it looks destructive
 * for the signals that end or freeze what they reach, which the window
 * confirms before sending.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-signals.h"

G_BEGIN_DECLS

#define TETHER_TYPE_SIGNAL_DIALOG (tether_signal_dialog_get_type ())

G_DECLARE_FINAL_TYPE (TetherSignalDialog, tether_signal_dialog, TETHER, SIGNAL_DIALOG, AdwMessageDialog)

/* For process pid called name, whose subtree counts n_subtree processes
 * (itself included). */
GtkWidget              *tether_signal_dialog_new         (GtkWindow          *parent,
                                                          const char         *name,
                                                          int                 pid,
                                                          guint               n_subtree);
int                     tether_signal_dialog_get_pid     (TetherSignalDialog *self);
/* The chosen signal, or NULL before one is. */
const TetherSignalInfo *tether_signal_dialog_get_signal  (TetherSignalDialog *self);
gboolean                tether_signal_dialog_get_subtree (TetherSignalDialog *self);

G_END_DECLS
