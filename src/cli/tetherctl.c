/* tetherctl.c: the command-line front end over the core lifecycle library
 *
 *   tetherctl run [--json] [--owner=KIND] [--kill-leftovers] PROFILE    (tetherctl-run.c)
 *   tetherctl validate PROFILE
 *   tetherctl top [--interval=S] [--iterations=N] [--profile=P | --socket=S]
 *   tetherctl VERB [PID] [--json] [--profile=P | --socket=S]
 *
 * The verbs are tether-verb.h's: the control socket's methods by name.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tetherctl.h"

#include "tether-bundle.h"
#include "tether-control.h"
#include "tether-error.h"
#include "tether-json.h"
#include "tether-owner.h"
#include "tether-profile.h"
#include "tether-relocation.h"
#include "tether-sampler.h"
#include "tether-supervisor.h"
#include "tether-text.h"
#include "tether-signals.h"
#include "tether-verb.h"

static gboolean opt_json;
static gboolean opt_kill_leftovers;
static gboolean opt_subtree;
static char *opt_owner;
static char *opt_profile;
static char *opt_socket;
static double opt_interval;
static int opt_iterations;

static GOptionEntry run_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, N_("Print events as JSON lines"), NULL },
  { "owner", 0, 0, G_OPTION_ARG_STRING, &opt_owner, N_("Tree ownership: auto, cgroup or reaper"), N_("KIND") },
  { "interval", 'i', 0, G_OPTION_ARG_DOUBLE, &opt_interval, N_("Seconds between CPU and memory samples (0.1 to 10, default 1)"), N_("SECONDS") },
  { "kill-leftovers", 0, 0, G_OPTION_ARG_NONE, &opt_kill_leftovers, N_("End what an earlier run of the profile left behind (stop signal, then SIGKILL), then start"), NULL },
  { NULL }
};

static GOptionEntry top_entries[] = {
  { "interval", 'i', 0, G_OPTION_ARG_DOUBLE, &opt_interval, N_("Seconds between refreshes (0.1 to 10, default 1)"), N_("SECONDS") },
  { "iterations", 'n', 0, G_OPTION_ARG_INT, &opt_iterations, N_("Stop after this many refreshes (default: until Ctrl-C)"), N_("N") },
  { NULL }
};

static char *opt_reason;
static char *opt_output;

static GOptionEntry bundle_entries[] = {
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &opt_output, N_("Where to write the bundle (JSON)"), N_("FILE") },
  { NULL }
};
static int opt_lines = 20;
static gboolean opt_follow;

static GOptionEntry logs_entries[] = {
  { "lines", 'n', 0, G_OPTION_ARG_INT, &opt_lines, N_("How many of the last lines (default 20)"), N_("N") },
  { "follow", 'f', 0, G_OPTION_ARG_NONE, &opt_follow, N_("Then print new lines as they come, until Ctrl-C"), NULL },
  { NULL }
};

static GOptionEntry signal_entries[] = {
  { "subtree", 0, 0, G_OPTION_ARG_NONE, &opt_subtree, N_("Send it to the process’s descendants too"), NULL },
  { NULL }
};

static GOptionEntry rollback_entries[] = {
  { "reason", 0, 0, G_OPTION_ARG_STRING, &opt_reason, N_("Why: kept in the journal"), N_("TEXT") },
  { NULL }
};

static GOptionEntry client_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, N_("Print the reply as JSON"), NULL },
  { "profile", 'p', 0, G_OPTION_ARG_FILENAME, &opt_profile, N_("The profile whose supervisor to ask"), N_("FILE") },
  { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket, N_("The control socket to use"), N_("PATH") },
  { NULL }
};

/* Error texts can quote what a backend or a peer said. */
void
tetherctl_print_error (const char *message)
{
  g_autofree char *safe = tether_text_escape_for_terminal (message);

  g_printerr ("tetherctl: %s\n", safe);
}

gboolean
tetherctl_check_interval (double interval_s)
{
  if (interval_s != 0 &&
      (interval_s < TETHER_SAMPLER_MIN_INTERVAL / 1000.0 - 1e-9 ||
       interval_s > TETHER_SAMPLER_MAX_INTERVAL / 1000.0 + 1e-9))
    {
      g_printerr (_("tetherctl: --interval must be between 0.1 and 10 seconds (got %g)\n"), interval_s);
      return FALSE;
    }
  return TRUE;
}

static int
cmd_validate (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = tether_profile_load (path, &error);
  g_autofree char *exe = NULL;

  if (profile == NULL || (exe = tether_profile_find_executable (profile, &error)) == NULL)
    {
      g_autofree char *safe = tether_text_escape_for_terminal (error->message);

      g_printerr ("%s\n", safe);
      return 1;
    }
  g_print (_("%s: valid profile “%s” (runs %s in %s)\n"), path, profile->name, exe, profile->cwd);
  return 0;
}

static char *
find_socket (GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) found = NULL;

  if (opt_socket != NULL)
    return g_strdup (opt_socket);

  if (opt_profile != NULL)
    {
      g_autoptr(TetherProfile) profile = tether_profile_load (opt_profile, error);
      return profile != NULL ? tether_control_default_socket_path (profile) : NULL;
    }

  /* No hint: if exactly one supervisor runs, it is the one meant. */
  found = tetherctl_list_live_endpoints (&dir, error);
  if (found == NULL)
    return NULL;

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

/* A string member of a reply, made safe for a terminal: backends choose
 * their process names, command lines and STATUS= texts. */
static char *
get_text (JsonObject *o,
          const char *member,
          const char *fallback)
{
  JsonNode *node = o != NULL ? json_object_get_member (o, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return g_strdup (fallback);
  return tether_text_escape_for_terminal (json_node_get_string (node));
}

/* "  workers: 3 of 4 (managed, 127.0.0.1:8080)", and what went wrong. */
static void
print_pool (JsonObject *pool)
{
  g_autofree char *mode = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *problem = NULL;
  JsonObject *replaced;

  if (pool == NULL)
    return;
  mode = get_text (pool, "mode", "?");
  listen = get_text (pool, "listen", NULL);
  problem = get_text (pool, "problem", NULL);
  if (listen != NULL)
    g_print (_("  workers: %d of %d (%s, %s)\n"),
             (int) json_object_get_int_member_with_default (pool, "actual", 0),
             (int) json_object_get_int_member_with_default (pool, "target", 0), mode, listen);
  else
    g_print (_("  workers: %d of %d (%s)\n"),
             (int) json_object_get_int_member_with_default (pool, "actual", 0),
             (int) json_object_get_int_member_with_default (pool, "target", 0), mode);
  if (problem != NULL)
    g_print (_("  workers: %s\n"), problem);

  replaced = json_object_get_object_member (pool, "replaced");
  if (replaced != NULL)
    {
      g_autoptr(GString) line = g_string_new (NULL);
      g_autoptr(GList) names = json_object_get_members (replaced);

      for (GList *l = names; l != NULL; l = l->next)
        {
          gint64 n = json_object_get_int_member_with_default (replaced, l->data, 0);
          g_autofree char *safe = tether_text_escape_for_terminal (l->data);

          if (n > 0)
            g_string_append_printf (line, "%s%s %d", line->len > 0 ? ", " : "", safe, (int) n);
        }
      if (line->len > 0)
        g_print (_("  workers let go: %s\n"), line->str);
    }
}

static void
print_status (JsonObject *o)
{
  g_autofree char *name = get_text (o, "name", "?");
  g_autofree char *state = get_text (o, "state_label", "?");
  g_autofree char *owner = get_text (o, "owner", "?");
  g_autofree char *status = get_text (o, "status_text", NULL);
  g_autofree char *message = get_text (o, "message", NULL);

  gint64 main_pid = json_object_get_int_member_with_default (o, "main_pid", 0);
  gint64 members = json_object_get_int_member_with_default (o, "members", 0);

  g_print (_("%s: %s\n"), name, state);
  /* No main process: none yet, or a launcher that left several. */
  if (main_pid > 0)
    g_print (_("  main pid: %d  processes: %d  owner: %s\n"), (int) main_pid, (int) members, owner);
  else
    g_print (_("  main pid: none  processes: %d  owner: %s\n"), (int) members, owner);
  if (status != NULL)
    g_print (_("  status: %s\n"), status);
  if (message != NULL)
    g_print (_("  message: %s\n"), message);
  print_pool (json_object_get_object_member (o, "pool"));
}

static char *
format_bytes (gint64 bytes)
{
  return g_format_size_full ((guint64) MAX (bytes, 0), G_FORMAT_SIZE_IEC_UNITS);
}

/* One row; the last column (name or command) is cut at the terminal edge. */
static void
print_process_row (JsonObject *p,
                   const char *indent,
                   gboolean    with_command,
                   int         columns)
{
  g_autofree char *rss = format_bytes (json_object_get_int_member_with_default (p, "rss_bytes", 0));
  g_autofree char *name = get_text (p, "name", "?");
  g_autofree char *cmdline = get_text (p, "cmdline", NULL);
  g_autofree char *state = get_text (p, "state", "?");
  g_autofree char *head = g_strdup_printf ("%8" G_GINT64_FORMAT " %6.1f %10s %4" G_GINT64_FORMAT " %-2s ",
                                           json_object_get_int_member_with_default (p, "pid", 0),
                                           json_object_get_double_member_with_default (p, "cpu_percent", 0),
                                           rss,
                                           json_object_get_int_member_with_default (p, "threads", 0),
                                           state);
  g_autofree char *tail = g_strdup_printf ("%s%s%s%s", indent, name,
                                           with_command && cmdline != NULL ? "  " : "",
                                           with_command && cmdline != NULL ? cmdline : "");
  g_autofree char *line = g_strconcat (head, tail, NULL);

  if (columns != G_MAXINT && g_utf8_strlen (line, -1) > columns)
    *g_utf8_offset_to_pointer (line, MAX (columns - 1, 0)) = '\0';
  g_print ("%s\n", line);
}

static void
print_header (void)
{
  g_print ("%8s %6s %10s %4s %-2s %s\n", _("PID"), _("CPU%"), _("RSS"), _("THR"), _("S"), _("NAME / COMMAND"));
}

static void
print_subtree (GHashTable *children,
               JsonObject *p,
               guint       depth,
               int         columns)
{
  g_autofree char *indent = g_strnfill (depth * 2, ' ');
  GPtrArray *kids = g_hash_table_lookup (children, GINT_TO_POINTER (json_object_get_int_member (p, "pid")));

  print_process_row (p, indent, TRUE, columns);
  for (guint i = 0; kids != NULL && i < kids->len; i++)
    print_subtree (children, g_ptr_array_index (kids, i), depth + 1, columns);
}

static void
print_totals (JsonObject *o)
{
  JsonObject *totals = json_object_get_object_member (o, "totals");
  g_autofree char *rss = NULL;
  g_autofree char *state = get_text (o, "state", "?");
  g_autofree char *owner = get_text (o, "owner", "?");

  if (totals == NULL)
    return;
  {
    g_autofree char *source = get_text (totals, "memory_source", "rss");

    rss = format_bytes (json_object_get_int_member_with_default (totals, "memory_bytes",
                                                                 json_object_get_int_member_with_default (totals, "rss_bytes", 0)));
    /* Translators: the last %s is how memory is measured: cgroup, pss or rss */
    g_print (_("%s, %d processes, %d threads, CPU %.1f %%, memory %s (%s; owner: %s)\n"),
             state,
             (int) json_object_get_int_member_with_default (totals, "processes", 0),
             (int) json_object_get_int_member_with_default (totals, "threads", 0),
             json_object_get_double_member_with_default (totals, "cpu_percent", 0),
             rss, source, owner);
  }
}

/* The tree as the sampler links it: children under their parent, orphans
 * and escapees under the backend's main process. */
static void
print_tree (JsonObject *o)
{
  JsonArray *procs = json_object_get_array_member (o, "processes");
  g_autoptr(GHashTable) children = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) roots = g_ptr_array_new ();
  int columns = tetherctl_terminal_columns ();

  for (guint i = 0; procs != NULL && i < json_array_get_length (procs); i++)
    {
      JsonObject *p = json_array_get_object_element (procs, i);
      gint64 parent = json_object_get_int_member_with_default (p, "parent", 0);
      GPtrArray *kids;

      if (parent == 0)
        {
          g_ptr_array_add (roots, p);
          continue;
        }
      kids = g_hash_table_lookup (children, GINT_TO_POINTER (parent));
      if (kids == NULL)
        g_hash_table_insert (children, GINT_TO_POINTER (parent), kids = g_ptr_array_new ());
      g_ptr_array_add (kids, p);
    }

  print_totals (o);
  print_header ();
  for (guint i = 0; i < roots->len; i++)
    print_subtree (children, g_ptr_array_index (roots, i), 0, columns);
}

/* field NULL: no argument; text non-NULL: the argument is a string. */
static char *
format_local_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (unix_seconds);
  g_autoptr(GDateTime) local = utc != NULL ? g_date_time_to_local (utc) : NULL;

  return local != NULL ? g_date_time_format (local, "%Y-%m-%d %H:%M:%S") : g_strdup ("?");
}

static void
print_checkpoints (JsonObject *o)
{
  JsonArray *list = json_object_get_array_member (o, "checkpoints");
  g_autofree char *message = get_text (o, "journal_message", NULL);
  guint n = list != NULL ? json_array_get_length (list) : 0;

  if (message != NULL)
    g_print (_("journal: %s\n"), message);
  if (n == 0)
    {
      g_print (_("No checkpoints: the backend has reported none (X_TETHER_CHECKPOINT=)\n"));
      return;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonObject *cp = json_array_get_object_element (list, i);
      g_autofree char *id = get_text (cp, "id", "?");
      g_autofree char *label = get_text (cp, "label", "");
      g_autofree char *when = format_local_time (json_object_get_int_member_with_default (cp, "time", 0));

      g_print ("%-20s %s  %s\n", id, when, label);
    }
}

/* One process of a diagnosis, for people. */
static void
print_process_diagnosis (JsonObject *p)
{
  g_autofree char *name = get_text (p, "name", "?");
  g_autofree char *state = get_text (p, "state_label", "?");
  g_autofree char *wchan = get_text (p, "wchan", NULL);
  g_autofree char *cmdline = get_text (p, "cmdline", "");
  JsonObject *syscall = json_object_has_member (p, "syscall") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (p, "syscall"))
                        ? json_object_get_object_member (p, "syscall") : NULL;
  JsonArray *threads = json_object_has_member (p, "threads") && JSON_NODE_HOLDS_ARRAY (json_object_get_member (p, "threads"))
                       ? json_object_get_array_member (p, "threads") : NULL;
  JsonArray *listening = json_object_has_member (p, "listening") && JSON_NODE_HOLDS_ARRAY (json_object_get_member (p, "listening"))
                         ? json_object_get_array_member (p, "listening") : NULL;

  g_print ("%d %s: %s\n", (int) json_object_get_int_member_with_default (p, "pid", 0), name, state);
  g_print (_("  command: %s\n"), cmdline);
  if (wchan != NULL)
    g_print (_("  waiting in: %s\n"), wchan);
  if (syscall != NULL)
    {
      g_autofree char *sname = get_text (syscall, "name", NULL);
      g_print (_("  system call: %s (%d)\n"), sname != NULL ? sname : "?",
               (int) json_object_get_int_member_with_default (syscall, "number", -1));
    }
  if (threads != NULL)
    g_print (_("  threads: %u\n"), json_array_get_length (threads));
  if (json_object_has_member (p, "open_files") && !json_object_get_null_member (p, "open_files"))
    g_print (_("  open files: %d\n"), (int) json_object_get_int_member_with_default (p, "open_files", 0));
  for (guint i = 0; listening != NULL && i < json_array_get_length (listening); i++)
    {
      JsonObject *l = json_array_get_object_element (listening, i);
      g_autofree char *proto = get_text (l, "proto", "?");
      g_autofree char *address = get_text (l, "address", "?");

      g_print (_("  listening: %s %s\n"), proto, address);
    }
  if (json_object_has_member (p, "last_minute") && JSON_NODE_HOLDS_OBJECT (json_object_get_member (p, "last_minute")))
    {
      JsonObject *m = json_object_get_object_member (p, "last_minute");
      JsonObject *cpu = json_object_get_object_member (m, "cpu_percent");
      JsonObject *rss = json_object_get_object_member (m, "rss_bytes");
      g_autofree char *rss_min = format_bytes (json_object_get_int_member_with_default (rss, "min", 0));
      g_autofree char *rss_max = format_bytes (json_object_get_int_member_with_default (rss, "max", 0));

      g_print (_("  last %.0f s: CPU %.1f %% mean, %.1f %% max; memory %s to %s\n"),
               json_object_get_double_member_with_default (m, "seconds", 0),
               json_object_get_double_member_with_default (cpu, "mean", 0),
               json_object_get_double_member_with_default (cpu, "max", 0), rss_min, rss_max);
    }
}

static void
print_diagnosis (JsonObject *o)
{
  JsonArray *processes = json_object_get_array_member (o, "processes");
  g_autofree char *cgroup = get_text (o, "cgroup", NULL);

  for (guint i = 0; processes != NULL && i < json_array_get_length (processes); i++)
    print_process_diagnosis (json_array_get_object_element (processes, i));
  if (cgroup != NULL)
    g_print (_("cgroup: %s\n"), cgroup);
}

static void
print_history (JsonObject *o)
{
  JsonArray *list = json_object_get_array_member (o, "events");
  guint n = list != NULL ? json_array_get_length (list) : 0;

  for (guint i = 0; i < n; i++)
    {
      JsonObject *e = json_array_get_object_element (list, i);
      g_autofree char *kind = get_text (e, "kind", "?");
      g_autofree char *id = get_text (e, "id", "");
      g_autofree char *label = get_text (e, "label", "");
      g_autofree char *outcome = get_text (e, "outcome", "");
      g_autofree char *when = format_local_time (json_object_get_int_member_with_default (e, "time", 0));

      g_print ("%s  %-12s %-12s %s%s%s\n", when, kind, id, label,
               *outcome != '\0' ? " → " : "", outcome);
    }
}

static JsonNode *
build_request (const char *method,
               const char *field,
               gint64      value,
               const char *text)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, method);
  if (field != NULL)
    {
      json_builder_set_member_name (b, field);
      if (text != NULL)
        json_builder_add_string_value (b, text);
      else
        json_builder_add_int_value (b, value);
    }
  if (opt_reason != NULL)
    {
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, opt_reason);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* tetherctl send-signal PID SIGNAL [--subtree]: the names tether-signals.h
 * offers, checked here for a clear message and again by the supervisor. */
static int
cmd_send_signal (const char *pid_text,
                 const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *socket_path = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) request = NULL;
  g_autoptr(JsonNode) result = NULL;
  const TetherSignalInfo *info = tether_signals_lookup (name);
  char *end;
  gint64 pid = g_ascii_strtoll (pid_text, &end, 10);
  gint64 n;

  if (*pid_text == '\0' || *end != '\0' || pid < 1 || pid > G_MAXINT32)
    {
      g_autofree char *safe = tether_text_escape_for_terminal (pid_text);
      g_printerr (_("tetherctl: “%s” is not a process id\n"), safe);
      return 2;
    }
  if (info == NULL)
    {
      g_autofree char *safe = tether_text_escape_for_terminal (name);
      g_printerr (_("tetherctl: “%s” is not a signal tetherctl sends (HUP, INT, QUIT, USR1, USR2, CONT, STOP, TERM, KILL)\n"),
                  safe);
      return 2;
    }
  socket_path = find_socket (&error);
  if (socket_path == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, "send-signal");
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, pid);
  json_builder_set_member_name (b, "signal");
  json_builder_add_string_value (b, info->name);
  json_builder_set_member_name (b, "subtree");
  json_builder_add_boolean_value (b, opt_subtree);
  json_builder_end_object (b);
  request = json_builder_get_root (b);

  result = tether_control_call (socket_path, request, 10, &error);
  if (result == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }
  if (opt_json)
    {
      g_autofree char *text = tether_json_to_string (result, TRUE);
      g_print ("%s\n", text);
      return 0;
    }
  n = JSON_NODE_HOLDS_VALUE (result) ? json_node_get_int (result) : 0;
  if (opt_subtree)
    g_print (g_dngettext (GETTEXT_PACKAGE,
                          "Sent SIG%s to %d process: %d and its descendants\n",
                          "Sent SIG%s to %d processes: %d and its descendants\n", (gulong) n),
             info->name, (int) n, (int) pid);
  else
    g_print (_("Sent SIG%s to process %d\n"), info->name, (int) pid);
  return 0;
}

static int
cmd_client (const TetherVerb *verb,
            const char       *arg)
{
  const char *method = verb->name;
  g_autoptr(GError) error = NULL;
  g_autofree char *socket_path = find_socket (&error);
  g_autoptr(JsonNode) request = NULL;
  g_autoptr(JsonNode) result = NULL;
  gint64 pid = 0;

  if (socket_path == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }

  if (arg != NULL && verb->param == TETHER_VERB_PARAM_CHECKPOINT)
    {
      if (!tether_checkpoint_id_is_valid (arg))
        {
          g_autofree char *safe = tether_text_escape_for_terminal (arg);

          g_printerr (_("tetherctl: “%s” is not a checkpoint ID (see tetherctl checkpoints)\n"), safe);
          return 2;
        }
    }
  else if (arg != NULL)
    {
      gboolean is_pid = verb->param == TETHER_VERB_PARAM_PID || verb->param == TETHER_VERB_PARAM_OPTIONAL_PID;
      char *end;

      pid = g_ascii_strtoll (arg, &end, 10);
      if (*arg == '\0' || *end != '\0' || pid < (is_pid ? 1 : 0) ||
          pid > (is_pid ? G_MAXINT32 : TETHER_CONTROL_MAX_WORKERS))
        {
          g_autofree char *safe = tether_text_escape_for_terminal (arg);

          if (is_pid)
            g_printerr (_("tetherctl: “%s” is not a process id\n"), safe);
          else
            g_printerr (_("tetherctl: “%s” is not a number of workers\n"), safe);
          return 2;
        }
    }
  request = build_request (method, arg != NULL ? tether_verb_param_field (verb->param) : NULL, pid,
                           verb->param == TETHER_VERB_PARAM_CHECKPOINT ? arg : NULL);

  /* A stop may legitimately take the whole ladder (minutes if configured). */
  result = tether_control_call (socket_path, request, verb->waits ? 3600 : 10, &error);
  if (result == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }

  if (opt_json)
    {
      g_autofree char *text = tether_json_to_string (result, TRUE);
      g_print ("%s\n", text);
    }
  else if (verb->id == TETHER_VERB_STOP_SUBTREE || verb->id == TETHER_VERB_KILL_SUBTREE)
    {
      gint64 n = JSON_NODE_HOLDS_VALUE (result) ? json_node_get_int (result) : 0;

      if (verb->id == TETHER_VERB_STOP_SUBTREE)
        g_print (g_dngettext (GETTEXT_PACKAGE,
                              "Sent SIGTERM to %d process: %d and its descendants\n",
                              "Sent SIGTERM to %d processes: %d and its descendants\n", (gulong) n),
                 (int) n, (int) pid);
      else
        g_print (g_dngettext (GETTEXT_PACKAGE,
                              "Killed %d process: %d and its descendants\n",
                              "Killed %d processes: %d and its descendants\n", (gulong) n),
                 (int) n, (int) pid);
    }
  else if (!JSON_NODE_HOLDS_OBJECT (result))
    {
      g_autofree char *text = tether_json_to_string (result, TRUE);
      g_print ("%s\n", text);
    }
  else if (verb->id == TETHER_VERB_TREE)
    print_tree (json_node_get_object (result));
  else if (verb->id == TETHER_VERB_CHECKPOINTS)
    print_checkpoints (json_node_get_object (result));
  else if (verb->id == TETHER_VERB_DIAGNOSE)
    print_diagnosis (json_node_get_object (result));
  else if (verb->id == TETHER_VERB_HISTORY)
    print_history (json_node_get_object (result));
  else if (verb->id == TETHER_VERB_ROLLBACK)
    {
      JsonObject *o = json_node_get_object (result);
      g_autofree char *id = get_text (o, "checkpoint", "?");

      g_print (_("Rolled back to %s: frozen after %.3f s, stopped after %.3f s, running again after %.3f s (main pid %d)\n"),
               id,
               json_object_get_double_member_with_default (o, "to_frozen", 0),
               json_object_get_double_member_with_default (o, "to_stopped", 0),
               json_object_get_double_member_with_default (o, "to_running", 0),
               (int) json_object_get_int_member_with_default (o, "main_pid", 0));
    }
  else if (verb->id == TETHER_VERB_RESIZE || verb->id == TETHER_VERB_RECYCLE)
    {
      JsonObject *pool = json_object_get_object_member (json_node_get_object (result), "pool");

      if (verb->id == TETHER_VERB_RESIZE)
        g_print (_("Resized: %d of %d workers\n"),
                 (int) json_object_get_int_member_with_default (pool, "actual", 0),
                 (int) json_object_get_int_member_with_default (pool, "target", 0));
      else
        g_print (_("Recycled every worker: %d of %d workers\n"),
                 (int) json_object_get_int_member_with_default (pool, "actual", 0),
                 (int) json_object_get_int_member_with_default (pool, "target", 0));
    }
  else if (verb->id == TETHER_VERB_STOP || verb->id == TETHER_VERB_FORCE_STOP)
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

/* ---- logs ---------------------------------------------------------------- */

static volatile gboolean logs_interrupted;

static gboolean
on_logs_interrupt (gpointer user_data)
{
  logs_interrupted = TRUE;
  return G_SOURCE_CONTINUE;
}

/* Prints the lines of a logs reply; returns the last seq seen. */
static gint64
print_log_lines (JsonObject *o,
                 gint64      last)
{
  JsonArray *lines = json_object_get_array_member (o, "lines");

  for (guint i = 0; lines != NULL && i < json_array_get_length (lines); i++)
    {
      JsonObject *line = json_array_get_object_element (lines, i);
      gint64 seq = json_object_get_int_member_with_default (line, "seq", 0);

      if (seq <= last)
        continue;
      last = seq;
      if (opt_json)
        {
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
          g_autofree char *text = NULL;

          json_node_set_object (node, line);
          text = tether_json_to_string (node, FALSE);
          g_print ("%s\n", text);
        }
      else
        {
          g_autofree char *when = get_text (line, "time", "?");
          g_autofree char *stream = get_text (line, "stream", "?");
          g_autofree char *text = get_text (line, "text", "");

          /* "2026-12-01T19:52:00.123Z" → "19:52:00.123" */
          g_print ("%.12s %s %s\n", strlen (when) >= 23 ? when + 11 : when,
                   g_str_equal (stream, "stderr") ? "E" : " ", text);
        }
    }
  fflush (stdout);
  return last;
}

/* The last -n lines, and with -f whatever comes after, polled four times
 * a second, until Ctrl-C or the supervisor goes. */
static int
cmd_logs (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *socket_path = find_socket (&error);
  gint64 last = 0;
  guint sigint;
  gboolean first = TRUE;

  if (socket_path == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }
  if (opt_lines < 1 || opt_lines > TETHER_CONTROL_MAX_LOG_LINES)
    {
      g_printerr (_("tetherctl: --lines must be from 1 to %d\n"), TETHER_CONTROL_MAX_LOG_LINES);
      return 2;
    }

  sigint = tetherctl_watch_signal (SIGINT, on_logs_interrupt, NULL);
  while (!logs_interrupted)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) request = NULL;
      g_autoptr(JsonNode) reply = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "method");
      json_builder_add_string_value (b, "logs");
      json_builder_set_member_name (b, "lines");
      json_builder_add_int_value (b, first ? opt_lines : TETHER_CONTROL_MAX_LOG_LINES);
      json_builder_set_member_name (b, "after");
      json_builder_add_int_value (b, last);
      json_builder_end_object (b);
      request = json_builder_get_root (b);

      reply = tether_control_call (socket_path, request, 10, &error);
      if (reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
        {
          /* Following, the supervisor's end is the log's. */
          if (!first && opt_follow)
            break;
          tetherctl_print_error (error != NULL ? error->message : _("unexpected reply"));
          g_source_remove (sigint);
          return 1;
        }
      last = print_log_lines (json_node_get_object (reply), last);
      first = FALSE;
      if (!opt_follow)
        break;
      for (guint i = 0; i < 25 && !logs_interrupted; i++)
        g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
    }
  g_source_remove (sigint);
  return 0;
}

/* ---- bundle --------------------------------------------------------------- */

/* Everything support staff need, in one JSON document anyone can read
 * (tether-bundle.h): the same document the app saves. */
static int
cmd_bundle (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *socket_path = find_socket (&error);
  g_autoptr(TetherBundle) bundle = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *size = NULL;
  gsize length = 0;

  if (socket_path == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }
  if (opt_output == NULL)
    {
      g_printerr (_("tetherctl: say where to write the bundle: -o FILE\n"));
      return 2;
    }

  bundle = tether_bundle_collect_from_socket (socket_path, 60);
  file = g_file_new_for_path (opt_output);
  if (!tether_bundle_save (bundle, file, &length, NULL, &error))
    {
      tetherctl_print_error (error->message);
      return 1;
    }
  size = g_format_size (length);
  g_print (_("Wrote the support bundle to %s (%s)\n"), opt_output, size);
  return 0;
}

/* ---- list ---------------------------------------------------------------- */

/* Every live supervisor of this user: one line each, or a JSON array of
 * their status documents (each with its "socket"). */
static int
cmd_list (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sockets = tetherctl_list_live_endpoints (NULL, &error);
  g_autoptr(JsonArray) all = json_array_new ();

  if (sockets == NULL)
    {
      if (!g_error_matches (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND))
        {
          tetherctl_print_error (error->message);
          return 1;
        }
      sockets = g_ptr_array_new_with_free_func (g_free);
    }
  if (!opt_json && sockets->len > 0)
    g_print ("%-28s %-15s %8s %-7s %s\n", _("NAME"), _("STATE"), _("MAIN PID"), _("OWNER"), _("PROFILE"));

  for (guint i = 0; i < sockets->len; i++)
    {
      const char *path = g_ptr_array_index (sockets, i);
      g_autoptr(JsonNode) request = build_request ("status", NULL, 0, NULL);
      g_autoptr(GError) call_error = NULL;
      JsonNode *status = tether_control_call (path, request, 5, &call_error);
      JsonObject *o;

      if (status == NULL || !JSON_NODE_HOLDS_OBJECT (status))
        {
          /* Alive a moment ago, gone or stuck now: say which, go on. */
          g_autofree char *safe = tether_text_escape_for_terminal (call_error ? call_error->message : "?");
          g_printerr (_("tetherctl: %s did not answer: %s\n"), path, safe);
          g_clear_pointer (&status, json_node_unref);
          continue;
        }
      o = json_node_get_object (status);
      json_object_set_string_member (o, "socket", path);
      if (opt_json)
        json_array_add_element (all, status);
      else
        {
          g_autofree char *name = get_text (o, "name", "?");
          g_autofree char *state = get_text (o, "state_label", "?");
          g_autofree char *owner = get_text (o, "owner", "?");
          g_autofree char *profile = get_text (o, "profile", "");
          gint64 pid = json_object_get_int_member_with_default (o, "main_pid", 0);
          g_autofree char *pid_text = pid > 0 ? g_strdup_printf ("%d", (int) pid) : g_strdup ("-");

          g_print ("%-28s %-15s %8s %-7s %s\n", name, state, pid_text, owner, profile);
          json_node_unref (status);
        }
    }

  if (opt_json)
    {
      g_autoptr(JsonNode) root = json_node_new (JSON_NODE_ARRAY);
      g_autofree char *text = NULL;

      json_node_set_array (root, all);
      text = tether_json_to_string (root, TRUE);
      g_print ("%s\n", text);
    }
  else if (sockets->len == 0)
    g_print (_("No Tether supervisor is running\n"));
  return 0;
}

/* ---- top ---------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  char *socket_path;
  int remaining;     /* refreshes left, -1: until Ctrl-C */
  guint timer;
  gboolean tty;
  int exit_code;
} Top;

static int
compare_by_cpu (gconstpointer a,
                gconstpointer b)
{
  JsonObject *pa = *(JsonObject **) a;
  JsonObject *pb = *(JsonObject **) b;
  double ca = json_object_get_double_member_with_default (pa, "cpu_percent", 0);
  double cb = json_object_get_double_member_with_default (pb, "cpu_percent", 0);
  gint64 ia = json_object_get_int_member_with_default (pa, "pid", 0);
  gint64 ib = json_object_get_int_member_with_default (pb, "pid", 0);

  if (ca != cb)
    return ca < cb ? 1 : -1;
  return (ia > ib) - (ia < ib);
}

/* FALSE when top should end. */
static gboolean
top_refresh (Top *top)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) request = build_request ("tree", NULL, 0, NULL);
  g_autoptr(JsonNode) result = tether_control_call (top->socket_path, request, 10, &error);
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  JsonObject *o;
  JsonArray *procs;
  int columns = tetherctl_terminal_columns ();

  if (result == NULL || !JSON_NODE_HOLDS_OBJECT (result))
    {
      tetherctl_print_error (error != NULL ? error->message : _("unexpected reply"));
      top->exit_code = 1;
      return FALSE;
    }
  if (opt_json)
    {
      /* One compact document per line, for scripts. */
      g_autofree char *text = tether_json_to_string (result, FALSE);
      g_print ("%s\n", text);
      fflush (stdout);
      goto next;
    }

  o = json_node_get_object (result);
  procs = json_object_get_array_member (o, "processes");
  for (guint i = 0; procs != NULL && i < json_array_get_length (procs); i++)
    g_ptr_array_add (rows, json_array_get_object_element (procs, i));
  g_ptr_array_sort (rows, compare_by_cpu);

  /* A terminal gets a redrawn screen; a pipe gets one block per refresh. */
  if (top->tty)
    g_print ("\033[H\033[2J");
  else
    g_print ("\n");
  g_print ("%s  ", json_object_get_string_member_with_default (o, "sampled_at", ""));
  print_totals (o);
  print_header ();
  for (guint i = 0; i < rows->len; i++)
    print_process_row (g_ptr_array_index (rows, i), "", TRUE, columns);
  fflush (stdout);

next:
  return top->remaining < 0 || --top->remaining > 0;
}

static gboolean
on_top_timer (gpointer user_data)
{
  Top *top = user_data;

  if (top_refresh (top))
    return G_SOURCE_CONTINUE;
  top->timer = 0;
  g_main_loop_quit (top->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
top_on_signal (gpointer user_data)
{
  Top *top = user_data;

  g_main_loop_quit (top->loop);
  return G_SOURCE_CONTINUE;
}

static int
cmd_top (void)
{
  g_autoptr(GError) error = NULL;
  Top top = { 0 };
  guint sigint, sigterm;

  if (!tetherctl_check_interval (opt_interval))
    return 2;
  if (opt_iterations < 0)
    {
      g_printerr (_("tetherctl: --iterations must be positive (got %d)\n"), opt_iterations);
      return 2;
    }
  top.socket_path = find_socket (&error);
  if (top.socket_path == NULL)
    {
      tetherctl_print_error (error->message);
      return 1;
    }
  top.remaining = opt_iterations > 0 ? opt_iterations : -1;
  top.tty = isatty (STDOUT_FILENO);
  top.loop = g_main_loop_new (NULL, FALSE);

  sigint = tetherctl_watch_signal (SIGINT, top_on_signal, &top);
  sigterm = tetherctl_watch_signal (SIGTERM, top_on_signal, &top);
  if (top_refresh (&top))
    {
      top.timer = g_timeout_add ((guint) ((opt_interval > 0 ? opt_interval : 1.0) * 1000 + 0.5),
                                 on_top_timer, &top);
      g_main_loop_run (top.loop);
      g_clear_handle_id (&top.timer, g_source_remove);
    }
  g_source_remove (sigint);
  g_source_remove (sigterm);

  g_main_loop_unref (top.loop);
  g_free (top.socket_path);
  return top.exit_code;
}

static void
usage (FILE *out)
{
  fprintf (out, "%s", _("Usage:\n"
                        "  tetherctl run [--json] [--owner=auto|cgroup|reaper] [--interval=SECONDS] [--kill-leftovers] PROFILE\n"
                        "      Supervise a backend in the foreground until Ctrl-C\n"
                        "  tetherctl validate PROFILE\n"
                        "      Check a profile (errors name FILE:LINE:COLUMN)\n"
                        "  tetherctl top [--interval=SECONDS] [--iterations=N] [--profile=FILE|--socket=PATH]\n"
                        "      Watch the process tree, busiest first\n"
                        "  tetherctl list [--json]\n"
                        "      Every running supervisor of yours: name, state, main pid, owner, profile\n"
                        "  tetherctl bundle -o FILE [--profile=FILE|--socket=PATH]\n"
                        "      Save a support bundle: one JSON document with the status, the diagnosis,\n"
                        "      the last 2000 lines of output, the journal, versions\n"
                        "  tetherctl COMMAND [PID|N] [--json] [--profile=FILE|--socket=PATH]\n"
                        "      Ask a running supervisor (the only one, or the profile's):\n"));
  for (TetherVerbId id = 0; id < TETHER_N_VERBS; id++)
    {
      const TetherVerb *verb = tether_verb_get (id);
      const char *placeholder = tether_verb_param_placeholder (verb->param);
      g_autofree char *name = g_strdup_printf ("%s%s%s", verb->name,
                                               placeholder != NULL ? " " : "",
                                               placeholder != NULL ? placeholder : "");

      fprintf (out, "        %-18s %s\n", name, _(verb->summary));
    }
  fprintf (out, "%s", _("See README.md and docs/profile.md for more.\n"));
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const TetherVerb *verb;
  const char *command;
  int ret;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, tether_localedir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("tetherctl %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "help"))
    {
      usage (stdout);
      return 0;
    }
  command = argv[1];
  verb = tether_verb_lookup (command);

  /* What `tetherctl CMD --help` names as the arguments. */
  context = g_option_context_new (g_str_equal (command, "run") || g_str_equal (command, "validate")
                                  ? _("PROFILE")
                                  : verb != NULL ? tether_verb_param_placeholder (verb->param)
                                  : NULL);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  if (g_str_equal (command, "run"))
    g_option_context_add_main_entries (context, run_entries, GETTEXT_PACKAGE);
  else if (!g_str_equal (command, "validate"))
    g_option_context_add_main_entries (context, client_entries, GETTEXT_PACKAGE);
  if (g_str_equal (command, "top"))
    g_option_context_add_main_entries (context, top_entries, GETTEXT_PACKAGE);
  if (g_str_equal (command, "rollback"))
    g_option_context_add_main_entries (context, rollback_entries, GETTEXT_PACKAGE);
  if (verb != NULL && verb->id == TETHER_VERB_SEND_SIGNAL)
    g_option_context_add_main_entries (context, signal_entries, GETTEXT_PACKAGE);
  if (g_str_equal (command, "logs"))
    g_option_context_add_main_entries (context, logs_entries, GETTEXT_PACKAGE);
  if (g_str_equal (command, "bundle"))
    g_option_context_add_main_entries (context, bundle_entries, GETTEXT_PACKAGE);

  /* Parse the options after the subcommand; --help says "tetherctl run". */
  {
    g_autofree char *prgname = g_strdup_printf ("tetherctl %s", command);
    g_set_prgname (prgname);
  }
  argv[1] = argv[0];
  argc--;
  argv++;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      tetherctl_print_error (error->message);
      return 2;
    }

  if (g_str_equal (command, "run") || g_str_equal (command, "validate"))
    {
      if (argc != 2)
        {
          usage (stderr);
          return 2;
        }
      ret = command[0] == 'r' ? tetherctl_run (argv[1], opt_json, opt_owner, opt_interval, opt_kill_leftovers)
                              : cmd_validate (argv[1]);
    }
  else if (verb != NULL && verb->id == TETHER_VERB_SEND_SIGNAL)
    {
      if (argc != 3)
        {
          usage (stderr);
          return 2;
        }
      ret = cmd_send_signal (argv[1], argv[2]);
    }
  else if (verb != NULL && verb->id == TETHER_VERB_LOGS)
    {
      if (argc != 1)
        {
          usage (stderr);
          return 2;
        }
      ret = cmd_logs ();
    }
  else if (verb != NULL)
    {
      guint n_args = verb->param != TETHER_VERB_PARAM_NONE ? 1 : 0;

      /* diagnose [PID] */
      if (verb->param == TETHER_VERB_PARAM_OPTIONAL_PID && argc == 1)
        n_args = 0;
      if ((guint) argc != n_args + 1)
        {
          usage (stderr);
          return 2;
        }
      ret = cmd_client (verb, n_args > 0 ? argv[1] : NULL);
    }
  else if (g_str_equal (command, "top"))
    {
      if (argc != 1)
        {
          usage (stderr);
          return 2;
        }
      ret = cmd_top ();
    }
  else if (g_str_equal (command, "bundle"))
    {
      if (argc != 1)
        {
          usage (stderr);
          return 2;
        }
      ret = cmd_bundle ();
    }
  else if (g_str_equal (command, "list"))
    {
      if (argc != 1)
        {
          usage (stderr);
          return 2;
        }
      ret = cmd_list ();
    }
  else
    {
      g_autofree char *safe = tether_text_escape_for_terminal (command);

      g_printerr (_("tetherctl: unknown command “%s”\n"), safe);
      usage (stderr);
      return 2;
    }

  g_free (opt_owner);
  g_free (opt_reason);
  g_free (opt_output);
  g_free (opt_profile);
  g_free (opt_socket);
  return ret;
}
