/* tether-control.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-control.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tether-error.h"

struct _TetherControl
{
  GObject parent_instance;

  TetherSupervisor *supervisor;
  GSocketService *service;
  char *socket_path;
};

G_DEFINE_FINAL_TYPE (TetherControl, tether_control, G_TYPE_OBJECT)

typedef struct
{
  TetherControl *control;
  GSocketConnection *connection;
  GDataInputStream *input;
} Client;

static void read_next_request (Client *client);

static void
client_free (Client *client)
{
  g_clear_object (&client->input);
  g_clear_object (&client->connection);
  g_clear_object (&client->control);
  g_free (client);
}

char *
tether_control_runtime_dir (void)
{
  return g_build_filename (g_get_user_runtime_dir (), "tether", NULL);
}

char *
tether_control_default_socket_path (TetherProfile *profile)
{
  g_autofree char *dir = tether_control_runtime_dir ();
  g_autofree char *name = g_strconcat (profile->id, ".sock", NULL);
  return g_build_filename (dir, name, NULL);
}

/* ---- documents --------------------------------------------------------- */

JsonNode *
tether_control_stop_report_json (const TetherStopReport *report)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ended");
  json_builder_begin_object (b);
  for (TetherPhase p = TETHER_PHASE_GRACEFUL; p < TETHER_N_PHASES; p++)
    {
      json_builder_set_member_name (b, tether_phase_to_string (p));
      json_builder_add_int_value (b, report->ended[p]);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "forced");
  json_builder_add_boolean_value (b, report->forced);
  json_builder_set_member_name (b, "elapsed");
  json_builder_add_double_value (b, report->elapsed);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
add_string_or_null (JsonBuilder *b,
                    const char  *name,
                    const char  *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

JsonNode *
tether_control_status_json (TetherSupervisor *supervisor)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  TetherProfile *profile = tether_supervisor_get_profile (supervisor);
  TetherState state = tether_supervisor_get_state (supervisor);
  TetherOwner *owner = tether_supervisor_get_owner (supervisor);
  gint64 deadline = tether_supervisor_get_phase_deadline (supervisor);
  GPtrArray *checkpoints = tether_supervisor_get_checkpoints (supervisor);
  guint n_members = 0;

  if (owner != NULL && tether_owner_is_running (owner))
    {
      g_autoptr(GArray) members = tether_owner_list_members (owner, NULL);
      n_members = members != NULL ? members->len : 0;
    }

  json_builder_begin_object (b);
  add_string_or_null (b, "name", profile->name);
  add_string_or_null (b, "profile", profile->path);
  add_string_or_null (b, "state", tether_state_to_string (state));
  add_string_or_null (b, "state_label", tether_state_to_label (state));
  add_string_or_null (b, "phase", tether_phase_to_string (tether_supervisor_get_phase (supervisor)));
  json_builder_set_member_name (b, "phase_remaining");
  if (deadline > 0)
    json_builder_add_double_value (b, MAX (0, deadline - g_get_monotonic_time ()) / 1e6);
  else
    json_builder_add_null_value (b);
  add_string_or_null (b, "status_text", tether_supervisor_get_status_text (supervisor));
  add_string_or_null (b, "message", tether_supervisor_get_message (supervisor));
  json_builder_set_member_name (b, "main_pid");
  json_builder_add_int_value (b, tether_supervisor_get_main_pid (supervisor));
  add_string_or_null (b, "owner", tether_owner_kind_to_string (tether_supervisor_get_owner_kind (supervisor)));
  add_string_or_null (b, "cgroup", owner != NULL ? tether_owner_get_cgroup_path (owner) : NULL);
  json_builder_set_member_name (b, "members");
  json_builder_add_int_value (b, n_members);
  json_builder_set_member_name (b, "checkpoints");
  json_builder_begin_array (b);
  for (guint i = 0; i < checkpoints->len; i++)
    {
      TetherCheckpoint *cp = g_ptr_array_index (checkpoints, i);
      json_builder_begin_object (b);
      add_string_or_null (b, "id", cp->id);
      add_string_or_null (b, "label", cp->label);
      json_builder_set_member_name (b, "time");
      json_builder_add_int_value (b, cp->time / G_USEC_PER_SEC);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
add_time (JsonBuilder *b,
          const char  *name,
          gint64       real_time_usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (real_time_usec / G_USEC_PER_SEC);

  json_builder_set_member_name (b, name);
  if (dt == NULL || real_time_usec <= 0)
    {
      json_builder_add_null_value (b);
      return;
    }
  {
    g_autofree char *text = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
    g_autofree char *full = g_strdup_printf ("%s.%03dZ", text, (int) (real_time_usec % G_USEC_PER_SEC / 1000));
    json_builder_add_string_value (b, full);
  }
}

static double
round_tenth (double v)
{
  return (double) (gint64) (v * 10.0 + 0.5) / 10.0;
}

JsonNode *
tether_control_tree_json (TetherSupervisor *supervisor)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GPtrArray) processes = NULL;
  TetherSampler *sampler = tether_supervisor_get_sampler (supervisor);
  const TetherSamplerTotals *totals;

  /* A fresh tick: the tree as it is now, not as of the last timer tick
   * (CPU% still spans at least half an interval). */
  if (tether_sampler_get_owner (sampler) != NULL)
    tether_sampler_refresh (sampler);
  processes = tether_sampler_get_processes (sampler);
  totals = tether_sampler_get_totals (sampler);

  json_builder_begin_object (b);
  add_string_or_null (b, "state", tether_state_to_string (tether_supervisor_get_state (supervisor)));
  add_string_or_null (b, "owner", tether_owner_kind_to_string (tether_supervisor_get_owner_kind (supervisor)));
  json_builder_set_member_name (b, "main_pid");
  json_builder_add_int_value (b, tether_supervisor_get_main_pid (supervisor));
  add_time (b, "sampled_at", totals->real_time);
  json_builder_set_member_name (b, "interval_ms");
  json_builder_add_int_value (b, tether_sampler_get_interval (sampler));

  json_builder_set_member_name (b, "totals");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "processes");
  json_builder_add_int_value (b, processes->len);
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, totals->n_threads);
  json_builder_set_member_name (b, "cpu_percent");
  json_builder_add_double_value (b, round_tenth (totals->cpu_percent));
  json_builder_set_member_name (b, "rss_bytes");
  json_builder_add_int_value (b, (gint64) totals->rss_bytes);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "processes");
  json_builder_begin_array (b);
  for (guint i = 0; i < processes->len; i++)
    {
      TetherProcess *p = g_ptr_array_index (processes, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "pid");
      json_builder_add_int_value (b, tether_process_get_pid (p));
      json_builder_set_member_name (b, "ppid");
      json_builder_add_int_value (b, tether_process_get_ppid (p));
      json_builder_set_member_name (b, "parent");
      json_builder_add_int_value (b, tether_process_get_parent (p));
      add_string_or_null (b, "name", tether_process_get_name (p));
      add_string_or_null (b, "cmdline", tether_process_get_cmdline (p));
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, (char[]) { tether_process_get_state (p), '\0' });
      json_builder_set_member_name (b, "threads");
      json_builder_add_int_value (b, tether_process_get_threads (p));
      json_builder_set_member_name (b, "cpu_percent");
      json_builder_add_double_value (b, round_tenth (tether_process_get_cpu_percent (p)));
      json_builder_set_member_name (b, "rss_bytes");
      json_builder_add_int_value (b, (gint64) tether_process_get_rss_bytes (p));
      add_time (b, "started_at", tether_process_get_started_at (p));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- server ------------------------------------------------------------ */

static void
on_reply_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Client *client = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      client_free (client);
      return;
    }
  read_next_request (client);
}

static void
send_reply (Client   *client,
            gboolean  ok,
            JsonNode *result,
            GError   *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (client->connection));
  GBytes *bytes;
  gsize len;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, ok);
  if (ok && result != NULL)
    {
      json_builder_set_member_name (b, "result");
      json_builder_add_value (b, result);
    }
  else if (!ok)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, error != NULL ? error->message : _("Unknown error"));
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  len = strlen (text);
  text[len] = '\0';
  bytes = g_bytes_new_take (g_strconcat (text, "\n", NULL), len + 1);
  /* The bytes must outlive the async write: keep them on the client. */
  g_object_set_data_full (G_OBJECT (client->connection), "reply", bytes,
                          (GDestroyNotify) g_bytes_unref);
  g_output_stream_write_all_async (out, g_bytes_get_data (bytes, NULL), len + 1,
                                   G_PRIORITY_DEFAULT, NULL, on_reply_written, client);
  if (error != NULL)
    g_error_free (error);
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Client *client = user_data;
  TetherStopReport report;
  GError *error = NULL;

  if (tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, &report, &error))
    send_reply (client, TRUE, tether_control_stop_report_json (&report), NULL);
  else
    send_reply (client, FALSE, NULL, error);
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Client *client = user_data;
  GError *error = NULL;
  gboolean ok;

  if (g_task_get_source_tag (G_TASK (result)) == tether_supervisor_restart)
    ok = tether_supervisor_restart_finish (TETHER_SUPERVISOR (source), result, &error);
  else
    ok = tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &error);
  if (ok)
    send_reply (client, TRUE, tether_control_status_json (TETHER_SUPERVISOR (source)), NULL);
  else
    send_reply (client, FALSE, NULL, error);
}

static void
handle_request (Client     *client,
                const char *line)
{
  TetherSupervisor *supervisor = client->control->supervisor;
  g_autoptr(JsonParser) parser = json_parser_new ();
  GError *error = NULL;
  JsonObject *request;
  const char *method;

  if (!json_parser_load_from_data (parser, line, -1, &error))
    {
      send_reply (client, FALSE, NULL, error);
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      send_reply (client, FALSE, NULL,
                  g_error_new (TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("A request must be a JSON object")));
      return;
    }
  request = json_node_get_object (json_parser_get_root (parser));
  method = json_object_get_string_member_with_default (request, "method", "");

  if (g_str_equal (method, "status"))
    send_reply (client, TRUE, tether_control_status_json (supervisor), NULL);
  else if (g_str_equal (method, "tree"))
    send_reply (client, TRUE, tether_control_tree_json (supervisor), NULL);
  else if (g_str_equal (method, "stop"))
    tether_supervisor_stop (supervisor, NULL, on_stopped, client);
  else if (g_str_equal (method, "kill"))
    tether_supervisor_kill (supervisor, NULL, on_stopped, client);
  else if (g_str_equal (method, "start"))
    tether_supervisor_start (supervisor, NULL, on_started, client);
  else if (g_str_equal (method, "restart"))
    tether_supervisor_restart (supervisor, NULL, on_started, client);
  else if (g_str_equal (method, "kill-subtree") || g_str_equal (method, "stop-subtree"))
    {
      gint64 pid = json_object_get_int_member_with_default (request, "pid", 0);
      guint n = 0;
      gboolean ok;

      if (method[0] == 'k')
        ok = tether_supervisor_kill_subtree (supervisor, (pid_t) pid, &n, &error);
      else
        ok = tether_supervisor_stop_subtree (supervisor, (pid_t) pid, &n, &error);
      if (ok)
        {
          JsonNode *count = json_node_new (JSON_NODE_VALUE);
          json_node_set_int (count, n);
          send_reply (client, TRUE, count, NULL);
        }
      else
        send_reply (client, FALSE, NULL, error);
    }
  else
    send_reply (client, FALSE, NULL,
                g_error_new (TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("Unknown method “%s”"), method));
}

static void
on_line_read (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Client *client = user_data;
  g_autofree char *line = NULL;
  gsize len;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, &len, NULL);
  if (line == NULL)
    {
      client_free (client);
      return;
    }
  handle_request (client, line);
}

static void
read_next_request (Client *client)
{
  g_data_input_stream_read_line_async (client->input, G_PRIORITY_DEFAULT, NULL,
                                       on_line_read, client);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  TetherControl *self = user_data;
  g_autoptr(GCredentials) creds = NULL;
  Client *client;

  /* The socket is 0600 in a 0700 directory; check the peer anyway. */
  creds = g_socket_get_credentials (g_socket_connection_get_socket (connection), NULL);
  if (creds == NULL || g_credentials_get_unix_user (creds, NULL) != getuid ())
    return TRUE;

  client = g_new0 (Client, 1);
  client->control = g_object_ref (self);
  client->connection = g_object_ref (connection);
  client->input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (client->input, G_DATA_STREAM_NEWLINE_TYPE_LF);
  read_next_request (client);
  return TRUE;
}

static gboolean
socket_is_alive (const char *path)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketConnection) connection = NULL;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, NULL);
  return connection != NULL;
}

TetherControl *
tether_control_new (TetherSupervisor  *supervisor,
                    const char        *socket_path,
                    GError           **error)
{
  g_autoptr(TetherControl) self = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (TETHER_IS_SUPERVISOR (supervisor), NULL);

  self = g_object_new (TETHER_TYPE_CONTROL, NULL);
  self->supervisor = g_object_ref (supervisor);
  self->socket_path = socket_path != NULL
    ? g_strdup (socket_path)
    : tether_control_default_socket_path (tether_supervisor_get_profile (supervisor));

  dir = g_path_get_dirname (self->socket_path);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot create %s: %s"), dir, g_strerror (saved));
      return NULL;
    }

  if (g_file_test (self->socket_path, G_FILE_TEST_EXISTS))
    {
      if (socket_is_alive (self->socket_path))
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                       _("Another Tether already supervises this profile (control socket %s)"),
                       self->socket_path);
          return NULL;
        }
      g_unlink (self->socket_path);
    }

  self->service = g_socket_service_new ();
  address = g_unix_socket_address_new (self->socket_path);
  {
    /* Bind with a umask that leaves the socket 0600 from its first instant. */
    mode_t old_umask = umask (0077);
    gboolean ok = g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                                 NULL, NULL, error);
    umask (old_umask);
    if (!ok)
      {
        g_clear_object (&self->service);
        return NULL;
      }
  }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);

  return g_steal_pointer (&self);
}

const char *
tether_control_get_socket_path (TetherControl *self)
{
  g_return_val_if_fail (TETHER_IS_CONTROL (self), NULL);
  return self->socket_path;
}

static void
tether_control_dispose (GObject *object)
{
  TetherControl *self = TETHER_CONTROL (object);

  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_clear_object (&self->service);
      g_unlink (self->socket_path);
    }
  g_clear_object (&self->supervisor);

  G_OBJECT_CLASS (tether_control_parent_class)->dispose (object);
}

static void
tether_control_finalize (GObject *object)
{
  TetherControl *self = TETHER_CONTROL (object);

  g_free (self->socket_path);

  G_OBJECT_CLASS (tether_control_parent_class)->finalize (object);
}

static void
tether_control_class_init (TetherControlClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_control_dispose;
  object_class->finalize = tether_control_finalize;
}

static void
tether_control_init (TetherControl *self)
{
}

/* ---- client ------------------------------------------------------------ */

JsonNode *
tether_control_call (const char  *socket_path,
                     JsonNode    *request,
                     guint        timeout_seconds,
                     GError     **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) input = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = json_to_string (request, FALSE);
  g_autofree char *line = NULL;
  g_autofree char *reply = NULL;
  JsonObject *object;

  g_socket_client_set_timeout (client, timeout_seconds);
  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, error);
  if (connection == NULL)
    {
      g_prefix_error (error, _("Cannot reach a Tether supervisor at %s: "), socket_path);
      return NULL;
    }
  g_socket_set_timeout (g_socket_connection_get_socket (connection), timeout_seconds);

  line = g_strconcat (text, "\n", NULL);
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                  line, strlen (line), NULL, NULL, error))
    return NULL;

  input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  reply = g_data_input_stream_read_line_utf8 (input, NULL, NULL, error);
  if (reply == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                     _("The supervisor closed the connection without replying"));
      return NULL;
    }

  if (!json_parser_load_from_data (parser, reply, -1, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("Malformed reply from the supervisor"));
      return NULL;
    }
  object = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_get_boolean_member_with_default (object, "ok", FALSE))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED, "%s",
                   json_object_get_string_member_with_default (object, "error", _("Unknown error")));
      return NULL;
    }
  if (!json_object_has_member (object, "result"))
    return json_node_new (JSON_NODE_NULL);
  return json_node_copy (json_object_get_member (object, "result"));
}
