/* tether-verb.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-verb.h"

#include <glib/gi18n-lib.h>

static const TetherVerb verbs[TETHER_N_VERBS] = {
  { TETHER_VERB_STATUS, "status", NULL, TETHER_VERB_PARAM_NONE, FALSE,
    N_("Show the backend’s state") },
  { TETHER_VERB_TREE, "tree", NULL, TETHER_VERB_PARAM_NONE, FALSE,
    N_("Show its process tree with CPU and memory") },
  { TETHER_VERB_START, "start", NULL, TETHER_VERB_PARAM_NONE, TRUE,
    N_("Start the backend") },
  { TETHER_VERB_STOP, "stop", NULL, TETHER_VERB_PARAM_NONE, TRUE,
    N_("Stop it politely, then by force (the stop ladder)") },
  { TETHER_VERB_FORCE_STOP, "force-stop", "kill", TETHER_VERB_PARAM_NONE, TRUE,
    N_("Skip to the forced step: freeze and kill every process") },
  { TETHER_VERB_RESTART, "restart", NULL, TETHER_VERB_PARAM_NONE, TRUE,
    N_("Stop the backend, then start it again") },
  { TETHER_VERB_STOP_SUBTREE, "stop-subtree", NULL, TETHER_VERB_PARAM_PID, FALSE,
    N_("Send SIGTERM to one process and its descendants") },
  { TETHER_VERB_KILL_SUBTREE, "kill-subtree", NULL, TETHER_VERB_PARAM_PID, FALSE,
    N_("Kill one process and its descendants") },
  { TETHER_VERB_RESIZE, "resize", NULL, TETHER_VERB_PARAM_WORKERS, TRUE,
    N_("Grow or shrink the worker pool to N workers") },
  { TETHER_VERB_RECYCLE, "recycle", NULL, TETHER_VERB_PARAM_NONE, TRUE,
    N_("Replace every worker, one at a time, without losing capacity") },
  { TETHER_VERB_CHECKPOINTS, "checkpoints", NULL, TETHER_VERB_PARAM_NONE, FALSE,
    N_("List the checkpoints the backend reported, newest last") },
  { TETHER_VERB_ROLLBACK, "rollback", NULL, TETHER_VERB_PARAM_CHECKPOINT, TRUE,
    N_("Freeze, stop and restart the backend at checkpoint ID") },
  { TETHER_VERB_HISTORY, "history", NULL, TETHER_VERB_PARAM_NONE, FALSE,
    N_("Show the journal: checkpoints, rollbacks, resizes, forced stops") },
  { TETHER_VERB_LOGS, "logs", NULL, TETHER_VERB_PARAM_LOG_RANGE, FALSE,
    N_("Show the backend’s output (-n N lines, -f to follow)") },
  { TETHER_VERB_DIAGNOSE, "diagnose", NULL, TETHER_VERB_PARAM_OPTIONAL_PID, TRUE,
    N_("Why a process is stuck: state, wchan, syscall, threads, ports (all members without PID)") },
  { TETHER_VERB_SEND_SIGNAL, "send-signal", "signal", TETHER_VERB_PARAM_SIGNAL, FALSE,
    N_("Send HUP, INT, QUIT, USR1, USR2, CONT, STOP, TERM or KILL to one process (--subtree: and its descendants)") },
};

const TetherVerb *
tether_verb_lookup (const char *name)
{
  if (name == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    if (g_str_equal (verbs[i].name, name) ||
        (verbs[i].alias != NULL && g_str_equal (verbs[i].alias, name)))
      return &verbs[i];
  return NULL;
}

const char *
tether_verb_param_field (TetherVerbParam param)
{
  switch (param)
    {
    case TETHER_VERB_PARAM_PID:
    case TETHER_VERB_PARAM_OPTIONAL_PID:
    case TETHER_VERB_PARAM_SIGNAL: return "pid";
    case TETHER_VERB_PARAM_WORKERS: return "workers";
    case TETHER_VERB_PARAM_CHECKPOINT: return "checkpoint";
    case TETHER_VERB_PARAM_NONE:
    default:
      return NULL;
    }
}

const char *
tether_verb_param_placeholder (TetherVerbParam param)
{
  switch (param)
    {
    /* Translators: placeholders in tetherctl's help */
    case TETHER_VERB_PARAM_PID: return _("PID");
    case TETHER_VERB_PARAM_OPTIONAL_PID: return _("[PID]");
    case TETHER_VERB_PARAM_WORKERS: return _("N");
    case TETHER_VERB_PARAM_CHECKPOINT: return _("ID");
    case TETHER_VERB_PARAM_SIGNAL: return _("PID SIGNAL");
    case TETHER_VERB_PARAM_NONE:
    default:
      return NULL;
    }
}

const TetherVerb *
tether_verb_get (TetherVerbId id)
{
  g_return_val_if_fail (id < TETHER_N_VERBS, NULL);
  return &verbs[id];
}
