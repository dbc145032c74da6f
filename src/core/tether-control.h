/* tether-control.h: the control socket tetherctl and other clients speak to
 *
 * A unix stream socket (0600, in a private 0700 directory, see
 * tether-runtime-dir.h) at $XDG_RUNTIME_DIR/tether/<profile-id>.sock. Each
 * request is one JSON object on one line, {"method": "status"} or
 * {"method": "kill-subtree", "pid": 42}; each reply is one JSON object on
 * one line, {"ok": true, "result": {...}} or {"ok": false, "error": "..."}.
 * The methods are the verbs of tether-verb.h; those that wait reply when
 * the work is done.
 *
 * The server is written for hostile clients of the same user: a request
 * line is at most 64 KiB and 8 levels deep, every field's type is checked,
 * at most 64 clients are served at once (more are told so and closed), a
 * client that sends nothing for a minute is closed, and running out of
 * file descriptors pauses accepting instead of spinning.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "tether-supervisor.h"
#include "tether-verb.h"

G_BEGIN_DECLS

#define TETHER_CONTROL_MAX_REQUEST  (64 * 1024)  /* bytes in one request line */
#define TETHER_CONTROL_MAX_DEPTH    8            /* nesting of a request */
#define TETHER_CONTROL_MAX_CLIENTS  64
#define TETHER_CONTROL_IDLE_TIMEOUT 60           /* s */
#define TETHER_CONTROL_MAX_WORKERS  1024         /* "workers" of a resize */
#define TETHER_CONTROL_MAX_LOG_LINES 10000       /* "lines" of a logs request */
/* The longest reply line a client reads: a tree of tens of thousands of
 * processes fits. */
#define TETHER_CONTROL_MAX_REPLY    (64 * 1024 * 1024)

/* A request, checked: the verb and its argument. */
typedef struct
{
  const TetherVerb *verb;
  pid_t pid;            /* TETHER_VERB_PARAM_PID: > 0 */
  guint workers;        /* TETHER_VERB_PARAM_WORKERS: 0 to TETHER_CONTROL_MAX_WORKERS */
  char checkpoint[129]; /* TETHER_VERB_PARAM_CHECKPOINT: a valid checkpoint id */
  char reason[257];     /* TETHER_VERB_PARAM_CHECKPOINT: "reason", sanitised, or "" */
  guint lines;          /* TETHER_VERB_PARAM_LOG_RANGE: 1 to TETHER_CONTROL_MAX_LOG_LINES, default 100 */
  guint64 after;        /* TETHER_VERB_PARAM_LOG_RANGE: lines numbered above this only, default 0 */
  int signal;           /* TETHER_VERB_PARAM_SIGNAL: an offered signal's number */
  gboolean subtree;     /* TETHER_VERB_PARAM_SIGNAL: "subtree", default false */
} TetherControlRequest;

#define TETHER_TYPE_CONTROL (tether_control_get_type ())

G_DECLARE_FINAL_TYPE (TetherControl, tether_control, TETHER, CONTROL, GObject)

/* socket_path NULL: tether_control_default_socket_path (profile), in the
 * verified runtime directory (stale sockets there are swept first). */
TetherControl *tether_control_new                 (TetherSupervisor  *supervisor,
                                                   const char        *socket_path,
                                                   GError           **error);
const char    *tether_control_get_socket_path     (TetherControl     *self);
guint          tether_control_get_n_clients       (TetherControl     *self);
/* For tests: fewer clients, a shorter idle timeout (ms). */
void           tether_control_set_limits          (TetherControl     *self,
                                                   guint              max_clients,
                                                   guint              idle_timeout_ms);

char          *tether_control_default_socket_path (TetherProfile     *profile);

/* Parses and checks one request line (without its newline). Exposed for
 * tests and the fuzzer. */
gboolean       tether_control_parse_request       (const char            *line,
                                                   gsize                  length,
                                                   TetherControlRequest  *request,
                                                   GError               **error);

/* The JSON documents the methods return, shared with in-process callers. */
JsonNode      *tether_control_status_json         (TetherSupervisor  *supervisor);
JsonNode      *tether_control_tree_json           (TetherSupervisor  *supervisor);
JsonNode      *tether_control_stop_report_json    (const TetherStopReport *report);
JsonNode      *tether_control_checkpoints_json    (TetherSupervisor  *supervisor);
JsonNode      *tether_control_history_json        (TetherSupervisor  *supervisor);
/* The diagnosis of pid (a member), or of every member (the newest
 * sample's, at most 256) with the cgroup's files; read in a thread. */
void           tether_control_diagnose_async      (TetherSupervisor  *supervisor,
                                                   pid_t              pid,
                                                   GCancellable      *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer           user_data);
JsonNode      *tether_control_diagnose_finish     (GAsyncResult      *result,
                                                   GError           **error);
JsonNode      *tether_control_logs_json           (TetherSupervisor  *supervisor,
                                                   guint              lines,
                                                   guint64            after);
JsonNode      *tether_control_rollback_json       (TetherSupervisor  *supervisor,
                                                   const char        *checkpoint,
                                                   const TetherRollbackReport *report);

/* Client side: one request, one reply (synchronous, with a timeout in s).
 * The server must run as this user (checked with SO_PEERCRED). */
JsonNode      *tether_control_call                (const char        *socket_path,
                                                   JsonNode          *request,
                                                   guint              timeout_seconds,
                                                   GError           **error);

G_END_DECLS
