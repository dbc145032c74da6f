/* tetherctl.c: the command-line front end over the core lifecycle library
 *
 *   tetherctl run [--json] [--owner=KIND] PROFILE
 *   tetherctl validate PROFILE
 *   tetherctl status|tree|start|stop|kill|restart [--json] [--profile=P | --socket=S]
 *   tetherctl kill-subtree|stop-subtree PID [--profile=P | --socket=S]
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "tether-control.h"
#include "tether-error.h"
#include "tether-owner.h"
#include "tether-profile.h"
#include "tether-supervisor.h"

typedef struct
{
  GMainLoop *loop;
  TetherSupervisor *supervisor;
  gboolean json;
  gboolean stopping;
  int exit_code;
  gint64 t0;
} Run;

static gboolean opt_json;
static char *opt_owner;
static char *opt_profile;
static char *opt_socket;

static GOptionEntry run_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, N_("Print events as JSON lines"), NULL },
  { "owner", 0, 0, G_OPTION_ARG_STRING, &opt_owner, N_("Tree ownership: auto, cgroup or reaper"), N_("KIND") },
  { NULL }
};

static GOptionEntry client_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, N_("Print the reply as JSON"), NULL },
  { "profile", 'p', 0, G_OPTION_ARG_FILENAME, &opt_profile, N_("The profile whose supervisor to ask"), N_("FILE") },
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket, N_("The control socket to use"), N_("PATH") },
  { NULL }
};

static void
print_event (Run        *run,
             const char *event,
             const char *first_key,
             ...) G_GNUC_NULL_TERMINATED;

/* One line per event: "event key=value ..." or a JSON object. */
static void
print_event (Run        *run,
             const char *event,
             const char *first_key,
             ...)
{
  va_list args;
  const char *key;
  double t = (g_get_monotonic_time () - run->t0) / 1e6;

  if (run->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "event");
      json_builder_add_string_value (b, event);
      json_builder_set_member_name (b, "time");
      json_builder_add_double_value (b, t);
      va_start (args, first_key);
      for (key = first_key; key != NULL; key = va_arg (args, const char *))
        {
          const char *value = va_arg (args, const char *);
          json_builder_set_member_name (b, key);
          if (value != NULL)
            json_builder_add_string_value (b, value);
          else
            json_builder_add_null_value (b);
        }
      va_end (args);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      text = json_to_string (root, FALSE);
      g_print ("%s\n", text);
    }
  else
    {
      GString *line = g_string_new (NULL);

      g_string_append_printf (line, "[%7.3f] %s", t, event);
      va_start (args, first_key);
      for (key = first_key; key != NULL; key = va_arg (args, const char *))
        {
          const char *value = va_arg (args, const char *);
          if (value != NULL)
            g_string_append_printf (line, " %s=%s", key, value);
        }
      va_end (args);
      g_print ("%s\n", line->str);
      g_string_free (line, TRUE);
    }
}

static void
on_state_changed (TetherSupervisor *supervisor,
                  GParamSpec       *pspec,
                  Run              *run)
{
  TetherState state = tether_supervisor_get_state (supervisor);
  g_autofree char *pid = g_strdup_printf ("%d", tether_supervisor_get_main_pid (supervisor));

  print_event (run, "state",
               "state", tether_state_to_string (state),
               "pid", tether_supervisor_get_main_pid (supervisor) > 0 ? pid : NULL,
               "owner", tether_owner_kind_to_string (tether_supervisor_get_owner_kind (supervisor)),
               "message", tether_supervisor_get_message (supervisor),
               NULL);
}

static void
on_status_text (TetherSupervisor *supervisor,
                GParamSpec       *pspec,
                Run              *run)
{
  print_event (run, "status", "text", tether_supervisor_get_status_text (supervisor), NULL);
}

static void
on_phase (TetherSupervisor *supervisor,
          GParamSpec       *pspec,
          Run              *run)
{
  TetherPhase phase = tether_supervisor_get_phase (supervisor);
  gint64 deadline = tether_supervisor_get_phase_deadline (supervisor);
  g_autofree char *seconds = NULL;

  if (phase == TETHER_PHASE_NONE || deadline == 0)
    return;
  seconds = g_strdup_printf ("%.1f", MAX (0, deadline - g_get_monotonic_time ()) / 1e6);
  print_event (run, "phase", "phase", tether_phase_to_string (phase), "timeout", seconds, NULL);
}

static void
on_checkpoint (TetherSupervisor *supervisor,
               const char       *id,
               const char       *label,
               Run              *run)
{
  print_event (run, "checkpoint", "id", id, "label", label, NULL);
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  TetherStopReport report;

  if (!tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, &report, &error))
    {
      print_event (run, "error", "message", error->message, NULL);
      run->exit_code = 1;
    }
  else
    {
      g_autofree char *g = g_strdup_printf ("%u", report.ended[TETHER_PHASE_GRACEFUL]);
      g_autofree char *t = g_strdup_printf ("%u", report.ended[TETHER_PHASE_TERM]);
      g_autofree char *k = g_strdup_printf ("%u", report.ended[TETHER_PHASE_KILL]);
      g_autofree char *e = g_strdup_printf ("%.3f", report.elapsed);

      print_event (run, "stopped", "graceful", g, "term", t, "kill", k, "elapsed", e, NULL);
    }
  g_main_loop_quit (run->loop);
}

static gboolean
on_quit_signal (gpointer user_data)
{
  Run *run = user_data;

  if (!run->stopping)
    {
      run->stopping = TRUE;
      print_event (run, "stop-requested", NULL, NULL);
      tether_supervisor_stop (run->supervisor, NULL, on_stopped, run);
    }
  else
    {
      /* A second Ctrl-C: skip the rest of the ladder. */
      print_event (run, "kill-requested", NULL, NULL);
      tether_supervisor_kill (run->supervisor, NULL, on_stopped, run);
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
      g_printerr (_("tetherctl: %s\n"), error->message);
      run->exit_code = 1;
      if (!tether_supervisor_is_active (run->supervisor))
        g_main_loop_quit (run->loop);
    }
}

static void
on_notify_active (TetherSupervisor *supervisor,
                  GParamSpec       *pspec,
                  Run              *run)
{
  TetherState state = tether_supervisor_get_state (supervisor);

  /* Leave when the backend ended on its own and no restart will bring it
   * back; a failure is our failure too. */
  if (!run->stopping &&
      (state == TETHER_STATE_STOPPED || state == TETHER_STATE_FAILED) &&
      !tether_supervisor_is_active (supervisor))
    {
      if (state == TETHER_STATE_FAILED)
        run->exit_code = 1;
      g_main_loop_quit (run->loop);
    }
}

static int
cmd_run (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(TetherSupervisor) supervisor = NULL;
  g_autoptr(TetherControl) control = NULL;
  TetherOwnerKind kind = tether_owner_kind_from_env ();
  Run run = { 0 };
  guint sigint, sigterm, sighup;

  if (opt_owner != NULL && !tether_owner_kind_from_string (opt_owner, &kind))
    {
      g_printerr (_("tetherctl: --owner must be auto, cgroup or reaper (got “%s”)\n"), opt_owner);
      return 2;
    }

  profile = tether_profile_load (path, &error);
  if (profile == NULL)
    {
      g_printerr ("tetherctl: %s\n", error->message);
      return 1;
    }

  run.loop = g_main_loop_new (NULL, FALSE);
  run.json = opt_json;
  run.t0 = g_get_monotonic_time ();
  run.supervisor = supervisor = tether_supervisor_new (profile, kind);

  control = tether_control_new (supervisor, NULL, &error);
  if (control == NULL)
    {
      g_printerr ("tetherctl: %s\n", error->message);
      g_main_loop_unref (run.loop);
      return 1;
    }

  g_signal_connect (supervisor, "notify::state", G_CALLBACK (on_state_changed), &run);
  g_signal_connect (supervisor, "notify::state", G_CALLBACK (on_notify_active), &run);
  g_signal_connect (supervisor, "notify::status-text", G_CALLBACK (on_status_text), &run);
  /* The deadline is set (and moved by EXTEND_TIMEOUT_USEC) after the phase. */
  g_signal_connect (supervisor, "notify::phase-deadline", G_CALLBACK (on_phase), &run);
  g_signal_connect (supervisor, "checkpoint", G_CALLBACK (on_checkpoint), &run);

  sigint = g_unix_signal_add (SIGINT, on_quit_signal, &run);
  sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, &run);
  sighup = g_unix_signal_add (SIGHUP, on_quit_signal, &run);

  print_event (&run, "control", "socket", tether_control_get_socket_path (control), NULL);
  tether_supervisor_start (supervisor, NULL, on_started, &run);
  g_main_loop_run (run.loop);

  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (sighup);
  g_signal_handlers_disconnect_by_data (supervisor, &run);

  /* A control client's "stop" may be what ended the run: let its reply go
   * out, then take the sockets down even if a client still holds on. */
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_object_run_dispose (G_OBJECT (control));
  g_object_run_dispose (G_OBJECT (supervisor));
  g_main_loop_unref (run.loop);
  return run.exit_code;
}

static int
cmd_validate (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = tether_profile_load (path, &error);
  g_autofree char *exe = NULL;

  if (profile == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  exe = tether_profile_find_executable (profile, &error);
  if (exe == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print (_("%s: valid profile “%s” (runs %s in %s)\n"), path, profile->name, exe, profile->cwd);
  return 0;
}

static char *
find_socket (GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(GDir) d = NULL;
  g_autoptr(GPtrArray) found = NULL;
  const char *name;

  if (opt_socket != NULL)
    return g_strdup (opt_socket);

  if (opt_profile != NULL)
    {
      g_autoptr(TetherProfile) profile = tether_profile_load (opt_profile, error);
      return profile != NULL ? tether_control_default_socket_path (profile) : NULL;
    }

  /* No hint: if exactly one supervisor runs, it is the one meant. */
  dir = tether_control_runtime_dir ();
  found = g_ptr_array_new_with_free_func (g_free);
  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".sock") && !g_str_has_prefix (name, "notify-"))
      g_ptr_array_add (found, g_build_filename (dir, name, NULL));

  if (found->len == 1)
    return g_strdup (g_ptr_array_index (found, 0));

  if (found->len == 0)
    g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                 _("No Tether supervisor is running (no control socket in %s)"), dir);
  else
    g_set_error (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                 _("%u supervisors are running; choose one with --profile or --socket"), found->len);
  return NULL;
}

static void
print_status (JsonObject *o)
{
  const char *status = json_object_get_string_member_with_default (o, "status_text", NULL);
  const char *message = json_object_get_string_member_with_default (o, "message", NULL);

  g_print (_("%s: %s\n"), json_object_get_string_member_with_default (o, "name", "?"),
           json_object_get_string_member_with_default (o, "state_label", "?"));
  g_print (_("  main pid: %d  processes: %d  owner: %s\n"),
           (int) json_object_get_int_member_with_default (o, "main_pid", 0),
           (int) json_object_get_int_member_with_default (o, "members", 0),
           json_object_get_string_member_with_default (o, "owner", "?"));
  if (status != NULL)
    g_print (_("  status: %s\n"), status);
  if (message != NULL)
    g_print (_("  message: %s\n"), message);
}

static void
print_tree (JsonObject *o)
{
  JsonArray *procs = json_object_get_array_member (o, "processes");

  g_print ("%8s %8s %-16s %s\n", _("PID"), _("PPID"), _("NAME"), _("COMMAND"));
  for (guint i = 0; procs != NULL && i < json_array_get_length (procs); i++)
    {
      JsonObject *p = json_array_get_object_element (procs, i);
      g_print ("%8" G_GINT64_FORMAT " %8" G_GINT64_FORMAT " %-16s %s\n",
               json_object_get_int_member_with_default (p, "pid", 0),
               json_object_get_int_member_with_default (p, "ppid", 0),
               json_object_get_string_member_with_default (p, "name", "?"),
               json_object_get_string_member_with_default (p, "cmdline", ""));
    }
}

static int
cmd_client (const char *method,
            const char *pid_arg)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *socket_path = find_socket (&error);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) request = NULL;
  g_autoptr(JsonNode) result = NULL;
  gboolean waits = g_str_equal (method, "stop") || g_str_equal (method, "kill") ||
                   g_str_equal (method, "restart") || g_str_equal (method, "start");

  if (socket_path == NULL)
    {
      g_printerr ("tetherctl: %s\n", error->message);
      return 1;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, method);
  if (pid_arg != NULL)
    {
      char *end;
      gint64 pid = g_ascii_strtoll (pid_arg, &end, 10);

      if (*end != '\0' || pid <= 0)
        {
          g_printerr (_("tetherctl: “%s” is not a process id\n"), pid_arg);
          return 2;
        }
      json_builder_set_member_name (b, "pid");
      json_builder_add_int_value (b, pid);
    }
  json_builder_end_object (b);
  request = json_builder_get_root (b);

  /* A stop may legitimately take the whole ladder (minutes if configured). */
  result = tether_control_call (socket_path, request, waits ? 3600 : 10, &error);
  if (result == NULL)
    {
      g_printerr ("tetherctl: %s\n", error->message);
      return 1;
    }

  if (opt_json || !JSON_NODE_HOLDS_OBJECT (result))
    {
      g_autofree char *text = json_to_string (result, TRUE);
      g_print ("%s\n", text);
    }
  else if (g_str_equal (method, "tree"))
    print_tree (json_node_get_object (result));
  else if (g_str_equal (method, "stop") || g_str_equal (method, "kill"))
    {
      JsonObject *o = json_node_get_object (result);
      JsonObject *ended = json_object_get_object_member (o, "ended");
      g_print (_("Stopped in %.3f s: %d ended gracefully, %d on SIGTERM, %d by force\n"),
               json_object_get_double_member_with_default (o, "elapsed", 0),
               (int) json_object_get_int_member_with_default (ended, "graceful", 0),
               (int) json_object_get_int_member_with_default (ended, "term", 0),
               (int) json_object_get_int_member_with_default (ended, "kill", 0));
    }
  else
    print_status (json_node_get_object (result));
  return 0;
}

static void
usage (void)
{
  g_printerr (_("Usage:\n"
                "  tetherctl run [--json] [--owner=auto|cgroup|reaper] PROFILE\n"
                "  tetherctl validate PROFILE\n"
                "  tetherctl status|tree|start|stop|kill|restart [--json] [--profile=FILE|--socket=PATH]\n"
                "  tetherctl stop-subtree|kill-subtree PID [--profile=FILE|--socket=PATH]\n"));
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const char *command;
  int ret;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      usage ();
      return argc < 2 ? 2 : 0;
    }
  command = argv[1];

  context = g_option_context_new (NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (g_str_equal (command, "run"))
    g_option_context_add_main_entries (context, run_entries, GETTEXT_PACKAGE);
  else if (!g_str_equal (command, "validate"))
    g_option_context_add_main_entries (context, client_entries, GETTEXT_PACKAGE);

  /* Parse the options after the subcommand. */
  argv[1] = argv[0];
  argc--;
  argv++;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("tetherctl: %s\n", error->message);
      return 2;
    }

  if (g_str_equal (command, "run") || g_str_equal (command, "validate"))
    {
      if (argc != 2)
        {
          usage ();
          return 2;
        }
      ret = command[0] == 'r' ? cmd_run (argv[1]) : cmd_validate (argv[1]);
    }
  else if (g_str_equal (command, "stop-subtree") || g_str_equal (command, "kill-subtree"))
    {
      if (argc != 2)
        {
          usage ();
          return 2;
        }
      ret = cmd_client (command, argv[1]);
    }
  else if (g_strv_contains ((const char * const[]) { "status", "tree", "start", "stop", "kill", "restart", NULL }, command))
    {
      if (argc != 1)
        {
          usage ();
          return 2;
        }
      ret = cmd_client (command, NULL);
    }
  else
    {
      g_printerr (_("tetherctl: unknown command “%s”\n"), command);
      usage ();
      return 2;
    }

  g_free (opt_owner);
  g_free (opt_profile);
  g_free (opt_socket);
  return ret;
}
