/* tether-signals.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-signals.h"

#include <glib/gi18n-lib.h>
#include <signal.h>

#include "tether-win32-compat.h"

/* Dangerous: those whose purpose is to end a process (INT, QUIT, TERM,
 * KILL) or to freeze it (STOP: a backend that stops answering until
 * CONT, and it cannot refuse). HUP, USR1 and USR2 end a program that has
 * no handler for them too, but they are sent to ask a server for
 * something (reload, reopen its logs): asking first each time would
 * teach people to click through the question. CONT only resumes. */
#ifdef G_OS_WIN32
/* What tether-job.exe can deliver (src/win32/PROTOCOL.md): console
 * control events and TerminateProcess. */
static const TetherSignalInfo offered[] = {
  { SIGINT, "INT", N_("Interrupt, as Ctrl+C (a console control event): most programs exit"), TRUE },
  { SIGTERM, "TERM", N_("Terminate: Ctrl+Break to the process group (Ctrl+C where the profile stops with SIGINT)"), TRUE },
  { SIGKILL, "KILL", N_("Kill: end the process at once (TerminateProcess), with no chance to clean up"), TRUE },
};
#else
static const TetherSignalInfo offered[] = {
  { SIGHUP, "HUP", N_("Hang up: many servers reload their configuration; a program without a handler exits"), FALSE },
  { SIGUSR1, "USR1", N_("User signal 1: its meaning is the program’s (often: reopen log files); a program without a handler exits"), FALSE },
  { SIGUSR2, "USR2", N_("User signal 2: its meaning is the program’s; a program without a handler exits"), FALSE },
  { SIGCONT, "CONT", N_("Continue: resume a stopped process"), FALSE },
  { SIGSTOP, "STOP", N_("Stop: freeze the process until it gets CONT; it cannot refuse"), TRUE },
  { SIGINT, "INT", N_("Interrupt, as Ctrl+C: most programs exit"), TRUE },
  { SIGTERM, "TERM", N_("Terminate: ask the process to exit"), TRUE },
  { SIGQUIT, "QUIT", N_("Quit, as Ctrl+\\: most programs exit and dump core"), TRUE },
  { SIGKILL, "KILL", N_("Kill: end the process at once, with no chance to clean up"), TRUE },
};
#endif

const TetherSignalInfo *
tether_signals_get_offered (guint *n)
{
  g_return_val_if_fail (n != NULL, NULL);

  *n = G_N_ELEMENTS (offered);
  return offered;
}

const TetherSignalInfo *
tether_signals_lookup (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  if (g_ascii_strncasecmp (name, "SIG", 3) == 0)
    name += 3;
  for (guint i = 0; i < G_N_ELEMENTS (offered); i++)
    if (g_ascii_strcasecmp (name, offered[i].name) == 0)
      return &offered[i];
  return NULL;
}
