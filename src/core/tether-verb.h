/* tether-verb.h: the one table of what can be asked of a supervisor
 *
 * The control socket's methods, tetherctl's client commands and the app's
 * actions are the same verbs under the same names; this table is where
 * they are named, what argument each takes and whether its reply waits for
 * the work to be done.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  TETHER_VERB_STATUS,
  TETHER_VERB_TREE,
  TETHER_VERB_START,
  TETHER_VERB_STOP,
  TETHER_VERB_FORCE_STOP,
  TETHER_VERB_RESTART,
  TETHER_VERB_STOP_SUBTREE,
  TETHER_VERB_KILL_SUBTREE,
  TETHER_VERB_RESIZE,
  TETHER_VERB_RECYCLE,
  TETHER_VERB_CHECKPOINTS,
  TETHER_VERB_ROLLBACK,
  TETHER_VERB_HISTORY,
  TETHER_VERB_LOGS,
  TETHER_VERB_DIAGNOSE,
  TETHER_VERB_SEND_SIGNAL,
  TETHER_N_VERBS /*< skip >*/
} TetherVerbId;

typedef enum
{
  TETHER_VERB_PARAM_NONE,
  TETHER_VERB_PARAM_PID,      /* "pid": a positive integer */
  TETHER_VERB_PARAM_WORKERS,  /* "workers": a pool size, 0 to 1024 */
  TETHER_VERB_PARAM_CHECKPOINT, /* "checkpoint": an id; and "reason", optional text */
  TETHER_VERB_PARAM_LOG_RANGE,  /* optional "lines" (1 to 10000) and "after" (a line number) */
  TETHER_VERB_PARAM_OPTIONAL_PID, /* "pid", or none: every member */
  TETHER_VERB_PARAM_SIGNAL,     /* "pid", "signal" (a name tether-signals.h offers) and optional "subtree" */
} TetherVerbParam;

typedef struct
{
  TetherVerbId id;
  const char *name;      /* method, tetherctl command and app action */
  const char *alias;     /* an older name still understood, or NULL */
  TetherVerbParam param;
  gboolean waits;        /* the reply comes once the work is done */
  const char *summary;   /* untranslated (N_), for help texts */
} TetherVerb;

/* NULL when name is neither a verb's name nor its alias. */
const TetherVerb *tether_verb_lookup (const char   *name);
const TetherVerb *tether_verb_get    (TetherVerbId  id);
/* The request's field ("pid", "workers") and its placeholder in help
 * texts ("PID", "N"); NULL for TETHER_VERB_PARAM_NONE. */
const char       *tether_verb_param_field       (TetherVerbParam param);
const char       *tether_verb_param_placeholder (TetherVerbParam param);

G_END_DECLS
