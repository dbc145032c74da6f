/* tetherctl-run.c: tetherctl run, a supervisor in the foreground
 *
 * It prints one event per line: text for people, or (--json) one JSON
 * object per line for programs -- numbers as numbers, times in seconds to
 * the millisecond. The backend's own output never mixes into that stream:
 * in text mode it goes to stderr, with --json it arrives as "output"
 * events, a line each.
 *
 * What ends a run: SIGINT, SIGTERM or SIGHUP (the stop ladder, then exit 0;
 * a second one forces), or the backend ending on its own with no restart
 * to come (exit 0 if it succeeded, else 1). A stop asked for through the
 * control socket (tetherctl stop, the app) stops the backend but not the
 * run: it waits, and `tetherctl start` runs the backend again.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tetherctl.h"
#include "tether-win32-compat.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#ifdef G_OS_UNIX
#include <glib-unix.h>
#endif
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tether-control.h"
#include "tether-enum-types.h"
#include "tether-json.h"
#include "tether-log.h"
#ifdef G_OS_UNIX
#include "tether-leftovers.h"
#include "tether-reaper.h"
#endif
#include "tether-sampler.h"
#include "tether-supervisor.h"
#include "tether-text.h"

/* A line of the backend's output longer than this is passed on in pieces:
 * the run never holds more for a backend that writes without newlines. */
#define OUTPUT_LINE_MAX (16 * 1024)

typedef struct _Run Run;

typedef struct
{
  Run *run;
  const char *stream;          /* "stdout" or "stderr" */
  int fd;
  guint watch;
  GString *partial;
} Output;

struct _Run
{
  GMainLoop *loop;
  TetherSupervisor *supervisor;
  TetherProfile *profile;
  gboolean kill_leftovers;     /* --kill-leftovers */
  gboolean json;
  gboolean quitting;           /* a signal asked the run to end */
  gboolean stopped_on_request; /* the last stop was asked for, not an exit */
  guint waiting_idle;
  int exit_code;
  gint64 t0;
  Output outputs[2];
  guint64 log_seq;             /* Windows: the last line passed on */
};

/* ---- events -------------------------------------------------------------- */

static void
append_text_value (GString  *line,
                   JsonNode *node)
{
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_autofree char *safe = tether_text_escape_for_terminal (json_node_get_string (node));
      g_string_append (line, safe);
    }
  else
    {
      g_autofree char *text = tether_json_to_string (node, FALSE);
      g_string_append (line, text);
    }
}

/* One event, one line. fields: NULL or a new object (taken). */
static void
emit (Run        *run,
      const char *event,
      JsonObject *fields)
{
  double t = (double) ((g_get_monotonic_time () - run->t0) / 1000) / 1000.0;
  g_autoptr(GList) members = fields != NULL ? json_object_get_members (fields) : NULL;

  if (run->json)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *text = NULL;

      json_object_set_string_member (object, "event", event);
      json_object_set_double_member (object, "time", t);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (object, l->data, json_node_copy (json_object_get_member (fields, l->data)));
      json_node_set_object (root, object);
      text = tether_json_to_string (root, FALSE);
      g_print ("%s\n", text);
    }
  else
    {
      g_autoptr(GString) line = g_string_new (NULL);

      g_string_append_printf (line, "[%7.3f] %s", t, event);
      for (GList *l = members; l != NULL; l = l->next)
        {
          g_string_append_printf (line, " %s=", (const char *) l->data);
          append_text_value (line, json_object_get_member (fields, l->data));
        }
      g_print ("%s\n", line->str);
    }
  /* A program reading the lines from a pipe gets each as it happens. */
  fflush (stdout);
  g_clear_pointer (&fields, json_object_unref);
}

static void
on_state_changed (TetherSupervisor *supervisor,
                  GParamSpec       *pspec,
                  Run              *run)
{
  JsonObject *fields = json_object_new ();
  pid_t pid = tether_supervisor_get_main_pid (supervisor);
  const char *message = tether_supervisor_get_message (supervisor);

  json_object_set_string_member (fields, "state", tether_state_to_string (tether_supervisor_get_state (supervisor)));
  if (pid > 0)
    json_object_set_int_member (fields, "pid", pid);
  json_object_set_string_member (fields, "owner",
                                 tether_owner_kind_to_string (tether_supervisor_get_owner_kind (supervisor)));
  if (message != NULL)
    json_object_set_string_member (fields, "message", message);
  emit (run, "state", fields);
}

static void
on_status_text (TetherSupervisor *supervisor,
                GParamSpec       *pspec,
                Run              *run)
{
  const char *text = tether_supervisor_get_status_text (supervisor);
  JsonObject *fields;

  if (text == NULL)
    return;
  fields = json_object_new ();
  json_object_set_string_member (fields, "text", text);
  emit (run, "status", fields);
}

/* A new main process after the first one exited (a daemon's launcher), or
 * none: only news while the backend runs, not the start's own pid. */
static void
on_main_pid (TetherSupervisor *supervisor,
             GParamSpec       *pspec,
             Run              *run)
{
  pid_t pid = tether_supervisor_get_main_pid (supervisor);
  const char *message = tether_supervisor_get_message (supervisor);
  JsonObject *fields;

  if (tether_supervisor_get_state (supervisor) != TETHER_STATE_RUNNING &&
      tether_supervisor_get_state (supervisor) != TETHER_STATE_NOT_RESPONDING)
    return;
  fields = json_object_new ();
  if (pid > 0)
    json_object_set_int_member (fields, "pid", pid);
  if (message != NULL)
    json_object_set_string_member (fields, "message", message);
  emit (run, "main", fields);
}

static void
on_phase_deadline (TetherSupervisor *supervisor,
                   GParamSpec       *pspec,
                   Run              *run)
{
  TetherPhase phase = tether_supervisor_get_phase (supervisor);
  gint64 deadline = tether_supervisor_get_phase_deadline (supervisor);
  JsonObject *fields;

  if (phase == TETHER_PHASE_NONE || deadline == 0)
    return;
  fields = json_object_new ();
  json_object_set_string_member (fields, "phase", tether_phase_to_string (phase));
  json_object_set_double_member (fields, "timeout",
                                 (double) (MAX (0, deadline - g_get_monotonic_time ()) / 1000) / 1000.0);
  emit (run, "phase", fields);
}

static void
on_checkpoint (TetherSupervisor *supervisor,
               const char       *id,
               const char       *label,
               Run              *run)
{
  JsonObject *fields = json_object_new ();

  json_object_set_string_member (fields, "id", id);
  if (label != NULL)
    json_object_set_string_member (fields, "label", label);
  emit (run, "checkpoint", fields);
}

/* The pool's size as it changes: target, actual and what is wrong. */
static void
on_pool_changed (TetherPool *pool,
                 GParamSpec *pspec,
                 Run        *run)
{
  JsonObject *fields = json_object_new ();
  const char *problem = tether_pool_get_problem (pool);

  json_object_set_int_member (fields, "target", tether_pool_get_target (pool));
  json_object_set_int_member (fields, "actual", tether_pool_get_actual (pool));
  if (problem != NULL)
    json_object_set_string_member (fields, "problem", problem);
  emit (run, "workers", fields);
}

/* A worker let go of for a limit or its heartbeat, or that ended. */
static void
on_worker_retired (TetherPool         *pool,
                   int                 pid,
                   TetherWorkerReason  reason,
                   const char         *detail,
                   Run                *run)
{
  JsonObject *fields = json_object_new ();

  json_object_set_int_member (fields, "pid", pid);
  json_object_set_string_member (fields, "reason", tether_worker_reason_to_string (reason));
  if (detail != NULL)
    json_object_set_string_member (fields, "detail", detail);
  emit (run, "worker", fields);
}

/* Whoever asked for the stop: its report. */
static void
on_stopped (TetherSupervisor       *supervisor,
            const TetherStopReport *report,
            Run                    *run)
{
  JsonObject *fields = json_object_new ();

  json_object_set_int_member (fields, "graceful", report->ended[TETHER_PHASE_GRACEFUL]);
  json_object_set_int_member (fields, "term", report->ended[TETHER_PHASE_TERM]);
  json_object_set_int_member (fields, "kill", report->ended[TETHER_PHASE_KILL]);
  json_object_set_boolean_member (fields, "forced", report->forced);
  json_object_set_boolean_member (fields, "escalated", report->escalated);
  json_object_set_double_member (fields, "elapsed", tether_json_round (report->elapsed, 1000));
  emit (run, "stopped", fields);
  run->stopped_on_request = TRUE;
}

/* Decided once the stop's callers have run: a restart starts again right
 * away, and then there is nothing to wait for. */
static gboolean
on_maybe_waiting (gpointer user_data)
{
  Run *run = user_data;
  TetherState state = tether_supervisor_get_state (run->supervisor);

  run->waiting_idle = 0;
  if (!run->quitting && !tether_supervisor_is_active (run->supervisor) &&
      (state == TETHER_STATE_STOPPED || state == TETHER_STATE_FAILED))
    {
      JsonObject *fields = json_object_new ();

      json_object_set_string_member (fields, "message",
                                     _("stopped through the control socket; “tetherctl start” runs it again, Ctrl-C leaves"));
      emit (run, "waiting", fields);
    }
  return G_SOURCE_REMOVE;
}

static void
on_notify_active (TetherSupervisor *supervisor,
                  GParamSpec       *pspec,
                  Run              *run)
{
  TetherState state = tether_supervisor_get_state (supervisor);

  if (state == TETHER_STATE_STARTING)
    run->stopped_on_request = FALSE;
  if ((state != TETHER_STATE_STOPPED && state != TETHER_STATE_FAILED) ||
      tether_supervisor_is_active (supervisor))
    return;

  if (run->quitting)
    g_main_loop_quit (run->loop);
  else if (run->stopped_on_request)
    {
      if (run->waiting_idle == 0)
        run->waiting_idle = g_idle_add (on_maybe_waiting, run);
    }
  else
    {
      /* It ended on its own and no restart will bring it back; a failure
       * is our failure too. */
      if (state == TETHER_STATE_FAILED)
        run->exit_code = 1;
      g_main_loop_quit (run->loop);
    }
}

static void
on_own_stop_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, NULL, &error))
    {
      JsonObject *fields = json_object_new ();

      json_object_set_string_member (fields, "message", error->message);
      emit (run, "error", fields);
      run->exit_code = 1;
      g_main_loop_quit (run->loop);
    }
}

static gboolean
on_quit_signal (gpointer user_data)
{
  Run *run = user_data;

  if (!run->quitting)
    {
      run->quitting = TRUE;
      if (!tether_supervisor_is_active (run->supervisor))
        {
          g_main_loop_quit (run->loop);
          return G_SOURCE_CONTINUE;
        }
      emit (run, "stop-requested", NULL);
      tether_supervisor_stop (run->supervisor, NULL, on_own_stop_done, run);
    }
  else
    {
      /* A second one: skip the rest of the ladder. */
      emit (run, "kill-requested", NULL);
      tether_supervisor_kill (run->supervisor, NULL, on_own_stop_done, run);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &error))
    {
      tetherctl_print_error (error->message);
      run->exit_code = 1;
      if (!tether_supervisor_is_active (run->supervisor))
        g_main_loop_quit (run->loop);
    }
}

/* Linux only: on Windows nothing of an earlier run can be left -- its job
 * object ended every process when its tetherctl went away. */
#ifdef G_OS_UNIX
/* ---- leftovers of an earlier run -------------------------------------------- */

static void
on_leftovers_ended (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  JsonObject *fields = json_object_new ();
  guint n_forced = 0;
  gboolean ok = tether_leftovers_end_finish (result, &n_forced, &error);

  json_object_set_int_member (fields, "forced", n_forced);
  if (!ok)
    json_object_set_string_member (fields, "error", error->message);
  emit (run, "leftovers-ended", fields);
  if (!ok)
    {
      /* Something still holds on: starting now would likely fail the
       * same way the earlier run is stuck. */
      tetherctl_print_error (error->message);
      run->exit_code = 1;
      g_main_loop_quit (run->loop);
      return;
    }
  if (run->quitting)
    {
      g_main_loop_quit (run->loop);
      return;
    }
  tether_supervisor_start (run->supervisor, NULL, on_started, run);
}

/* Before a start: what an earlier run of the profile left behind is
 * shown, then ended with --kill-leftovers, or else the run stops there. */
static void
on_leftovers_found (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) leftovers = tether_leftovers_find_finish (result, &error);
  JsonArray *list;
  JsonObject *fields;

  if (run->quitting)
    {
      g_main_loop_quit (run->loop);
      return;
    }
  if (leftovers == NULL || leftovers->len == 0)
    {
      tether_supervisor_start (run->supervisor, NULL, on_started, run);
      return;
    }

  list = json_array_new ();
  for (guint i = 0; i < leftovers->len; i++)
    {
      TetherLeftover *leftover = g_ptr_array_index (leftovers, i);
      JsonObject *item = json_object_new ();
      g_autoptr(GEnumClass) reasons = g_type_class_ref (TETHER_TYPE_LEFTOVER_REASON);

      json_object_set_int_member (item, "pid", leftover->pid);
      json_object_set_int_member (item, "ppid", leftover->ppid);
      json_object_set_string_member (item, "cmdline", leftover->cmdline);
      json_object_set_double_member (item, "age", leftover->age);
      json_object_set_string_member (item, "reason", g_enum_get_value (reasons, (int) leftover->reason)->value_nick);
      if (leftover->port > 0)
        json_object_set_int_member (item, "port", leftover->port);
      json_array_add_object_element (list, item);
    }
  fields = json_object_new ();
  json_object_set_array_member (fields, "processes", list);
  emit (run, "leftovers", fields);

  g_printerr (g_dngettext (GETTEXT_PACKAGE, "An earlier run of this profile left %u process behind:\n",
                           "An earlier run of this profile left %u processes behind:\n", leftovers->len),
              leftovers->len);
  for (guint i = 0; i < leftovers->len; i++)
    {
      g_autofree char *line = tether_leftover_describe (g_ptr_array_index (leftovers, i));
      g_autofree char *safe = tether_text_escape_for_terminal (line);

      g_printerr ("  %s\n", safe);
    }
  if (!run->kill_leftovers)
    {
      g_printerr (_("tetherctl: not starting beside them; run again with --kill-leftovers to end them "
                    "(SIG%s, then SIGKILL after %g s), or end them yourself\n"),
                  sigabbrev_np (run->profile->stop.signal), run->profile->stop.graceful_timeout);
      run->exit_code = 1;
      g_main_loop_quit (run->loop);
      return;
    }
  g_printerr (_("Ending them: SIG%s, then SIGKILL after %g s\n"),
              sigabbrev_np (run->profile->stop.signal), run->profile->stop.graceful_timeout);
  tether_leftovers_end_async (run->profile, leftovers, NULL, on_leftovers_ended, run);
}

#endif /* G_OS_UNIX */

/* ---- the backend's output (--json) ---------------------------------------- */

static void
emit_output (Output     *output,
             const char *text,
             gsize       length)
{
  JsonObject *fields = json_object_new ();
  g_autofree char *valid = g_utf8_make_valid (text, (gssize) length);

  json_object_set_string_member (fields, "stream", output->stream);
  json_object_set_string_member (fields, "text", valid);
  emit (output->run, "output", fields);
}

#ifdef G_OS_UNIX
static gboolean
on_output (int           fd,
           GIOCondition  condition,
           gpointer      user_data)
{
  Output *output = user_data;
  char buf[8192];

  /* A bounded batch per wakeup: a backend that floods its output does not
   * keep the run from its other work. */
  for (guint round = 0; round < 8; round++)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      char *nl;

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n < 0 && errno == EAGAIN)
            return G_SOURCE_CONTINUE;
          if (output->partial->len > 0)
            emit_output (output, output->partial->str, output->partial->len);
          g_string_truncate (output->partial, 0);
          output->watch = 0;
          return G_SOURCE_REMOVE;
        }
      g_string_append_len (output->partial, buf, n);
      while ((nl = memchr (output->partial->str, '\n', output->partial->len)) != NULL)
        {
          gsize length = (gsize) (nl - output->partial->str);

          emit_output (output, output->partial->str, length);
          g_string_erase (output->partial, 0, (gssize) length + 1);
        }
      while (output->partial->len >= OUTPUT_LINE_MAX)
        {
          emit_output (output, output->partial->str, OUTPUT_LINE_MAX);
          g_string_erase (output->partial, 0, OUTPUT_LINE_MAX);
        }
    }
  return G_SOURCE_CONTINUE;
}

/* Pipes for the backend's stdout and stderr; the supervisor keeps copies of
 * the write ends for every start. */
static gboolean
capture_output (Run     *run,
                GError **error)
{
  int pipes[2][2];

  for (guint i = 0; i < 2; i++)
    {
      if (!g_unix_open_pipe (pipes[i], FD_CLOEXEC, error))
        return FALSE;
      g_unix_set_fd_nonblocking (pipes[i][0], TRUE, NULL);
      run->outputs[i].run = run;
      run->outputs[i].stream = i == 0 ? "stdout" : "stderr";
      run->outputs[i].fd = pipes[i][0];
      run->outputs[i].partial = g_string_new (NULL);
      run->outputs[i].watch = g_unix_fd_add (pipes[i][0], G_IO_IN | G_IO_HUP | G_IO_ERR,
                                             on_output, &run->outputs[i]);
    }
  tether_supervisor_set_stdio (run->supervisor, pipes[0][1], pipes[1][1]);
  close (pipes[0][1]);
  close (pipes[1][1]);
  return TRUE;
}

static void
release_output (Run *run)
{
  for (guint i = 0; i < 2; i++)
    {
      Output *output = &run->outputs[i];

      if (output->partial == NULL)
        continue;
      /* What is already in the pipe is still news, a last line without
       * its newline too. */
      if (output->watch != 0)
        {
          /* Its source first: at the pipe's end on_output would clear the
           * id of a source it cannot remove when called directly. */
          g_clear_handle_id (&output->watch, g_source_remove);
          on_output (output->fd, G_IO_IN, output);
        }
      if (output->partial->len > 0)
        emit_output (output, output->partial->str, output->partial->len);
      close (output->fd);
      g_string_free (output->partial, TRUE);
    }
}

#else
/* Windows: the lines as the log keeps them. A pipe of tetherctl's own as
 * the log's tee would need a thread to read it here (GLib's main loop
 * cannot wait on an anonymous pipe), and the ring has the lines already. */
static void
on_log_lines (TetherLog *log,
              Run       *run)
{
  g_autoptr(GPtrArray) lines = tether_log_get_lines (log, G_MAXUINT, run->log_seq);

  for (guint i = 0; i < lines->len; i++)
    {
      TetherLogLine *line = g_ptr_array_index (lines, i);
      guint64 missed = line->seq - run->log_seq - 1;

      /* Lines that left the ring (log.lines) before this loop came round:
       * still in the log file. */
      if (i == 0 && missed > 0)
        {
          g_autofree char *text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                                "… %" PRIu64 " line not passed on: it left the log’s memory first (it is in the log file)",
                                                                "… %" PRIu64 " lines not passed on: they left the log’s memory first (they are in the log file)",
                                                                missed), (uint64_t) missed);

          emit_output (&run->outputs[TETHER_LOG_STDOUT], text, strlen (text));
        }
      emit_output (&run->outputs[line->stream], line->text, strlen (line->text));
      run->log_seq = line->seq;
    }
}

static gboolean
capture_output (Run     *run,
                GError **error)
{
  TetherLog *log = tether_supervisor_get_log (run->supervisor);

  for (guint i = 0; i < 2; i++)
    {
      run->outputs[i].run = run;
      run->outputs[i].stream = tether_log_stream_to_string ((TetherLogStream) i);
    }
  run->log_seq = tether_log_get_last_seq (log);
  g_signal_connect (log, "lines-added", G_CALLBACK (on_log_lines), run);
  return TRUE;
}

static void
release_output (Run *run)
{
  TetherLog *log = tether_supervisor_get_log (run->supervisor);

  if (run->outputs[0].run == NULL)
    return;
  on_log_lines (log, run);
  g_signal_handlers_disconnect_by_func (log, on_log_lines, run);
}
#endif

/* ---- run ------------------------------------------------------------------- */

int
tetherctl_run (const char *path,
               gboolean    json,
               const char *owner,
               double      interval_s,
               gboolean    kill_leftovers)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(TetherSupervisor) supervisor = NULL;
  g_autoptr(TetherControl) control = NULL;
  TetherOwnerKind kind = tether_owner_kind_from_env ();
  Run run = { 0 };
  guint sigint, sigterm, sighup;

  if (owner != NULL && !tether_owner_kind_from_string (owner, &kind))
    {
      g_printerr (_("tetherctl: --owner must be auto, cgroup or reaper (got “%s”)\n"), owner);
      return 2;
    }
  if (!tetherctl_check_interval (interval_s))
    return 2;

  profile = tether_profile_load (path, &error);
  if (profile == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }

#ifdef G_OS_UNIX
  /* A backend's processes come back here if tether-shim is killed. */
  if (!tether_reaper_install (&error))
    {
      g_message ("%s", error->message);
      g_clear_error (&error);
    }
#endif

  run.json = json;
  run.kill_leftovers = kill_leftovers;
  run.profile = profile;
  run.t0 = g_get_monotonic_time ();
  run.supervisor = supervisor = tether_supervisor_new (profile, kind);
  if (interval_s > 0)
    tether_sampler_set_interval (tether_supervisor_get_sampler (supervisor),
                                 (guint) (interval_s * 1000 + 0.5));

  control = tether_control_new (supervisor, NULL, &error);
  if (control == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }

  /* stdout carries the events alone. */
  if (json)
    {
      if (!capture_output (&run, &error))
        {
          tetherctl_print_error (error->message);
          return 1;
        }
    }
  else
    tether_supervisor_set_stdio (supervisor, STDERR_FILENO, STDERR_FILENO);

  run.loop = g_main_loop_new (NULL, FALSE);
  g_signal_connect (supervisor, "notify::state", G_CALLBACK (on_state_changed), &run);
  g_signal_connect (supervisor, "notify::state", G_CALLBACK (on_notify_active), &run);
  g_signal_connect (supervisor, "notify::status-text", G_CALLBACK (on_status_text), &run);
  g_signal_connect (supervisor, "notify::main-pid", G_CALLBACK (on_main_pid), &run);
  /* The deadline is set (and moved by EXTEND_TIMEOUT_USEC) after the phase. */
  g_signal_connect (supervisor, "notify::phase-deadline", G_CALLBACK (on_phase_deadline), &run);
  g_signal_connect (supervisor, "checkpoint", G_CALLBACK (on_checkpoint), &run);
  g_signal_connect (supervisor, "stopped", G_CALLBACK (on_stopped), &run);
  if (tether_supervisor_get_pool (supervisor) != NULL)
    {
      TetherPool *pool = tether_supervisor_get_pool (supervisor);

      g_signal_connect (pool, "notify::actual", G_CALLBACK (on_pool_changed), &run);
      g_signal_connect (pool, "notify::target", G_CALLBACK (on_pool_changed), &run);
      g_signal_connect (pool, "notify::problem", G_CALLBACK (on_pool_changed), &run);
      g_signal_connect (pool, "worker-retired", G_CALLBACK (on_worker_retired), &run);
    }

  sigint = tetherctl_watch_signal (SIGINT, on_quit_signal, &run);
  sigterm = tetherctl_watch_signal (SIGTERM, on_quit_signal, &run);
  sighup = tetherctl_watch_signal (SIGHUP, on_quit_signal, &run);

  {
    JsonObject *fields = json_object_new ();

    json_object_set_string_member (fields, "socket", tether_control_get_socket_path (control));
    emit (&run, "control", fields);
  }
#ifdef G_OS_UNIX
  tether_leftovers_find_async (profile, NULL, on_leftovers_found, &run);
#else
  tether_supervisor_start (supervisor, NULL, on_started, &run);
#endif
  g_main_loop_run (run.loop);

  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (sighup);
  g_clear_handle_id (&run.waiting_idle, g_source_remove);

  /* A control client's last request may be what ended the run: let its
   * reply go out, then take the sockets down even if a client still holds
   * on. */
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_signal_handlers_disconnect_by_data (supervisor, &run);
  if (tether_supervisor_get_pool (supervisor) != NULL)
    g_signal_handlers_disconnect_by_data (tether_supervisor_get_pool (supervisor), &run);
  release_output (&run);
  g_object_run_dispose (G_OBJECT (control));
  g_object_run_dispose (G_OBJECT (supervisor));
  g_main_loop_unref (run.loop);
  return run.exit_code;
}
