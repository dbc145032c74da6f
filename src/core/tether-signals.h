/* tether-signals.h: the signals a person may send to a member by hand
 *
 * One table for every front end: the name people use ("USR1"), what the
 * signal usually does, and whether it ends or freezes what it reaches (a
 * front end asks before sending those).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  int number;
  const char *name;         /* without "SIG": "USR1" */
  const char *description;  /* untranslated: pass it through gettext */
  gboolean dangerous;       /* it ends or freezes what it reaches */
} TetherSignalInfo;

/* The offered signals, in the order to show them; n: how many. */
const TetherSignalInfo *tether_signals_get_offered (guint      *n);
/* "USR1", "SIGUSR1" or "usr1"; NULL for a signal not offered. */
const TetherSignalInfo *tether_signals_lookup      (const char *name);

G_END_DECLS
