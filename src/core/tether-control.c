/* tether-control.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-control.h"

#include <errno.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether-control-private.h"

#include "tether-enums.h"
#include "tether-error.h"
#include "tether-diagnose.h"
#include "tether-signals.h"
#include "tether-json.h"
#include "tether-notify.h"
#include "tether-text.h"

/* Checkpoints the status document lists (the newest). */
#define STATUS_CHECKPOINTS 20

typedef struct _Client Client;

G_DEFINE_FINAL_TYPE (TetherControl, tether_control, G_TYPE_OBJECT)

/* One connection. Asynchronous work in flight (a read, a write, a verb
 * that waits) holds a reference; control is NULL once it is closed, and
 * whatever completes after that only drops its reference. */
struct _Client
{
  guint ref_count;
  TetherControl *control;
  GSocketConnection *connection;
  GCancellable *cancellable;
  GByteArray *pending;        /* read, not yet a whole line */
  guint8 chunk[4096];
  GBytes *reply;              /* being written */
  guint idle_timer;
  gboolean waiting;           /* a verb is at work; its reply is owed */
  gboolean close_after_reply;
  gboolean authenticated;     /* sent the transport's token, or none is asked */
};

static void process_lines (Client *client);

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
  json_builder_add_double_value (b, tether_json_round (report->elapsed, 1000));
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

/* The last few events only, as with checkpoints. */
#define STATUS_POOL_EVENTS 10

static void
add_pool (JsonBuilder *b,
          TetherPool  *pool)
{
  GPtrArray *events;

  json_builder_set_member_name (b, "pool");
  if (pool == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  events = tether_pool_get_events (pool);
  json_builder_begin_object (b);
  add_string_or_null (b, "mode", tether_enum_to_nick (TETHER_TYPE_POOL_MODE, tether_pool_get_mode (pool)));
  add_string_or_null (b, "listen", tether_pool_get_address (pool));
  json_builder_set_member_name (b, "target");
  json_builder_add_int_value (b, tether_pool_get_target (pool));
  json_builder_set_member_name (b, "actual");
  json_builder_add_int_value (b, tether_pool_get_actual (pool));
  add_string_or_null (b, "problem", tether_pool_get_problem (pool));
  /* How many workers went, and why, since the supervisor started. */
  json_builder_set_member_name (b, "replaced");
  json_builder_begin_object (b);
  for (TetherWorkerReason r = TETHER_WORKER_REASON_RESIZE; r < TETHER_N_WORKER_REASONS; r++)
    {
      json_builder_set_member_name (b, tether_worker_reason_to_string (r));
      json_builder_add_int_value (b, tether_pool_get_count (pool, r));
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  for (guint i = events->len > STATUS_POOL_EVENTS ? events->len - STATUS_POOL_EVENTS : 0; i < events->len; i++)
    {
      TetherPoolEvent *event = g_ptr_array_index (events, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "time");
      json_builder_add_int_value (b, event->time / G_USEC_PER_SEC);
      json_builder_set_member_name (b, "pid");
      json_builder_add_int_value (b, event->pid);
      json_builder_set_member_name (b, "slot");
      json_builder_add_int_value (b, event->slot);
      add_string_or_null (b, "reason", tether_worker_reason_to_string (event->reason));
      add_string_or_null (b, "detail", event->detail);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void add_time (JsonBuilder *b,
                      const char  *name,
                      gint64       real_time_usec);

JsonNode *
tether_control_status_json (TetherSupervisor *supervisor)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  TetherProfile *profile = tether_supervisor_get_profile (supervisor);
  TetherState state = tether_supervisor_get_state (supervisor);
  TetherOwner *owner = tether_supervisor_get_owner (supervisor);
  gint64 deadline = tether_supervisor_get_phase_deadline (supervisor);
  GPtrArray *checkpoints = tether_supervisor_get_checkpoints (supervisor);
  guint n_members = tether_supervisor_get_n_members (supervisor);

  json_builder_begin_object (b);
  add_string_or_null (b, "name", profile->name);
  add_string_or_null (b, "profile", profile->path);
  add_string_or_null (b, "state", tether_state_to_string (state));
  add_string_or_null (b, "state_label", tether_state_to_label (state));
  add_string_or_null (b, "phase", tether_phase_to_string (tether_supervisor_get_phase (supervisor)));
  json_builder_set_member_name (b, "phase_remaining");
  if (deadline > 0)
    json_builder_add_double_value (b, tether_json_round (MAX (0, deadline - g_get_monotonic_time ()) / 1e6, 1000));
  else
    json_builder_add_null_value (b);
  add_string_or_null (b, "status_text", tether_supervisor_get_status_text (supervisor));
  add_string_or_null (b, "message", tether_supervisor_get_message (supervisor));
  add_time (b, "unresponsive_since", tether_supervisor_get_unresponsive_since (supervisor));
  json_builder_set_member_name (b, "main_pid");
  json_builder_add_int_value (b, tether_supervisor_get_main_pid (supervisor));
  add_string_or_null (b, "owner", tether_owner_kind_to_string (tether_supervisor_get_owner_kind (supervisor)));
  add_string_or_null (b, "cgroup", owner != NULL ? tether_owner_get_location (owner) : NULL);
  json_builder_set_member_name (b, "members");
  json_builder_add_int_value (b, n_members);
  /* The newest few only: a backend decides how many it reports, and the
   * status must stay small and quick whatever it does. */
  json_builder_set_member_name (b, "n_checkpoints");
  json_builder_add_int_value (b, checkpoints->len);
  json_builder_set_member_name (b, "checkpoints");
  json_builder_begin_array (b);
  for (guint i = checkpoints->len > STATUS_CHECKPOINTS ? checkpoints->len - STATUS_CHECKPOINTS : 0;
       i < checkpoints->len; i++)
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
  add_pool (b, tether_supervisor_get_pool (supervisor));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
add_checkpoint_members (JsonBuilder *b,
                        const char  *id,
                        const char  *label,
                        gint64       time)
{
  add_string_or_null (b, "id", id);
  add_string_or_null (b, "label", label);
  json_builder_set_member_name (b, "time");
  json_builder_add_int_value (b, time / G_USEC_PER_SEC);
}

JsonNode *
tether_control_checkpoints_json (TetherSupervisor *supervisor)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  GPtrArray *checkpoints = tether_supervisor_get_checkpoints (supervisor);
  TetherJournal *journal = tether_supervisor_get_journal (supervisor);

  json_builder_begin_object (b);
  add_string_or_null (b, "journal", journal != NULL ? tether_journal_get_path (journal) : NULL);
  add_string_or_null (b, "journal_message", journal != NULL ? tether_journal_get_load_message (journal) : NULL);
  /* Those on disk only: what a rollback can go back to. */
  json_builder_set_member_name (b, "checkpoints");
  json_builder_begin_array (b);
  for (guint i = 0; i < checkpoints->len; i++)
    {
      TetherCheckpoint *cp = g_ptr_array_index (checkpoints, i);

      json_builder_begin_object (b);
      add_checkpoint_members (b, cp->id, cp->label, cp->time);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The newest journal events, checkpoints included. */
#define HISTORY_EVENTS 500

JsonNode *
tether_control_history_json (TetherSupervisor *supervisor)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  TetherJournal *journal = tether_supervisor_get_journal (supervisor);
  GPtrArray *entries = journal != NULL ? tether_journal_get_entries (journal) : NULL;
  guint n = entries != NULL ? entries->len : 0;

  json_builder_begin_object (b);
  add_string_or_null (b, "journal", journal != NULL ? tether_journal_get_path (journal) : NULL);
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  for (guint i = n > HISTORY_EVENTS ? n - HISTORY_EVENTS : 0; i < n; i++)
    {
      TetherJournalEntry *entry = g_ptr_array_index (entries, i);

      json_builder_begin_object (b);
      add_string_or_null (b, "kind", tether_journal_kind_to_string (entry->kind));
      add_checkpoint_members (b, entry->id, entry->label, entry->time);
      add_string_or_null (b, "outcome", entry->outcome);
      json_builder_set_member_name (b, "pid");
      json_builder_add_int_value (b, entry->pid);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- diagnose ---- */

#define DIAGNOSE_MAX_MEMBERS 256

typedef struct
{
  GArray *pids;          /* pid_t */
  char *cgroup;          /* the leaf's path, or NULL */
  GHashTable *minute;    /* pid -> JsonNode: the sampler's last minute */
} DiagnoseData;

static void
diagnose_data_free (DiagnoseData *data)
{
  g_array_unref (data->pids);
  g_free (data->cgroup);
  g_hash_table_unref (data->minute);
  g_free (data);
}

/* CPU and RSS of a member over the last minute, from the sampler's history
 * (on the main loop, where the sampler lives): {"seconds", "samples",
 * "cpu_percent": {min, mean, max}, "rss_bytes": {min, max}}, or NULL when
 * the sampler has not seen it yet. */
static JsonNode *
last_minute_json (TetherSampler *sampler,
                  pid_t          pid)
{
  TetherProcess *process = tether_sampler_lookup (sampler, pid);
  g_autoptr(JsonBuilder) b = NULL;
  TetherHistory *history;
  gint64 since = g_get_monotonic_time () - 60 * G_USEC_PER_SEC;
  double cpu_min = G_MAXDOUBLE, cpu_max = 0, cpu_sum = 0;
  guint64 rss_min = G_MAXUINT64, rss_max = 0;
  gint64 first = 0, last = 0;
  guint n = 0;

  if (process == NULL || (history = tether_process_get_history (process)) == NULL)
    return NULL;
  for (guint i = 0; i < tether_history_get_length (history); i++)
    {
      const TetherSample *sample = tether_history_get (history, i);

      if (sample->time < since)
        continue;
      if (n++ == 0)
        first = sample->time;
      last = sample->time;
      cpu_min = MIN (cpu_min, sample->cpu_percent);
      cpu_max = MAX (cpu_max, sample->cpu_percent);
      cpu_sum += sample->cpu_percent;
      rss_min = MIN (rss_min, sample->rss_bytes);
      rss_max = MAX (rss_max, sample->rss_bytes);
    }
  if (n == 0)
    return NULL;
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, (double) (last - first) / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "samples");
  json_builder_add_int_value (b, n);
  json_builder_set_member_name (b, "cpu_percent");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "min");
  json_builder_add_double_value (b, cpu_min);
  json_builder_set_member_name (b, "mean");
  json_builder_add_double_value (b, cpu_sum / n);
  json_builder_set_member_name (b, "max");
  json_builder_add_double_value (b, cpu_max);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "rss_bytes");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "min");
  json_builder_add_int_value (b, (gint64) rss_min);
  json_builder_set_member_name (b, "max");
  json_builder_add_int_value (b, (gint64) rss_max);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
add_file_lines (JsonBuilder *b,
                const char  *dir,
                const char  *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  json_builder_set_member_name (b, name);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  lines = g_strsplit (g_strstrip (contents), "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *space = strchr (lines[i], ' ');
      if (space == NULL)
        continue;
      *space = '\0';
      json_builder_set_member_name (b, lines[i]);
      json_builder_add_int_value (b, g_ascii_strtoll (space + 1, NULL, 10));
    }
  json_builder_end_object (b);
}

/* In a thread: /proc can block (a process in D state). */
static void
diagnose_thread (GTask        *task,
                 gpointer      source,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  DiagnoseData *data = task_data;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "processes");
  json_builder_begin_array (b);
  for (guint i = 0; i < data->pids->len; i++)
    {
      pid_t pid = g_array_index (data->pids, pid_t, i);
      JsonNode *node = tether_diagnose_process (pid, NULL);
      JsonNode *minute = g_hash_table_lookup (data->minute, GINT_TO_POINTER (pid));

      /* Gone meanwhile: nothing to say about it. */
      if (node == NULL)
        continue;
      if (minute != NULL)
        json_object_set_member (json_node_get_object (node), "last_minute", json_node_copy (minute));
      else
        json_object_set_null_member (json_node_get_object (node), "last_minute");
      json_builder_add_value (b, node);
    }
  json_builder_end_array (b);
  add_string_or_null (b, "cgroup", data->cgroup);
  if (data->cgroup != NULL)
    {
      add_file_lines (b, data->cgroup, "cgroup.events");
      add_file_lines (b, data->cgroup, "cgroup.stat");
    }
  json_builder_end_object (b);
  g_task_return_pointer (task, json_builder_get_root (b), (GDestroyNotify) json_node_unref);
}

void
tether_control_diagnose_async (TetherSupervisor    *supervisor,
                               pid_t                pid,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (supervisor, cancellable, callback, user_data);
  DiagnoseData *data = g_new0 (DiagnoseData, 1);
  TetherOwner *owner = tether_supervisor_get_owner (supervisor);

  g_task_set_source_tag (task, tether_control_diagnose_async);
  data->pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  data->minute = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) json_node_unref);
  g_task_set_task_data (task, data, (GDestroyNotify) diagnose_data_free);

  if (pid > 0)
    {
      /* Members only: a diagnosis tells a lot about a process. */
      if (!tether_supervisor_can_signal_pid (supervisor, pid))
        {
          g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER,
                                   _("Process %d is not part of the backend’s tree"), (int) pid);
          return;
        }
      g_array_append_val (data->pids, pid);
    }
  else
    {
      g_autoptr(GPtrArray) processes = tether_sampler_get_processes (tether_supervisor_get_sampler (supervisor));

      for (guint i = 0; i < processes->len && i < DIAGNOSE_MAX_MEMBERS; i++)
        {
          pid_t p = tether_process_get_pid (g_ptr_array_index (processes, i));
          g_array_append_val (data->pids, p);
        }
      if (owner != NULL && tether_owner_get_kind (owner) == TETHER_OWNER_CGROUP)
        data->cgroup = g_strdup (tether_owner_get_location (owner));
    }
  for (guint i = 0; i < data->pids->len; i++)
    {
      pid_t p = g_array_index (data->pids, pid_t, i);
      JsonNode *minute = last_minute_json (tether_supervisor_get_sampler (supervisor), p);

      if (minute != NULL)
        g_hash_table_insert (data->minute, GINT_TO_POINTER (p), minute);
    }
  g_task_run_in_thread (task, diagnose_thread);
}

JsonNode *
tether_control_diagnose_finish (GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

JsonNode *
tether_control_logs_json (TetherSupervisor *supervisor,
                          guint             max_lines,
                          guint64           after)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  TetherLog *log = tether_supervisor_get_log (supervisor);
  g_autoptr(GPtrArray) lines = tether_log_get_lines (log, max_lines, after);
  g_autofree char *file_error = tether_log_dup_file_error (log);

  json_builder_begin_object (b);
  add_string_or_null (b, "path", tether_log_get_path (log));
  add_string_or_null (b, "file_error", file_error);
  json_builder_set_member_name (b, "last_seq");
  json_builder_add_int_value (b, (gint64) tether_log_get_last_seq (log));
  json_builder_set_member_name (b, "lines");
  json_builder_begin_array (b);
  for (guint i = 0; i < lines->len; i++)
    {
      TetherLogLine *line = g_ptr_array_index (lines, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "seq");
      json_builder_add_int_value (b, (gint64) line->seq);
      add_time (b, "time", line->time);
      add_string_or_null (b, "stream", tether_log_stream_to_string (line->stream));
      add_string_or_null (b, "text", line->text);
      if (line->dropped > 0)
        {
          json_builder_set_member_name (b, "dropped");
          json_builder_add_int_value (b, (gint64) line->dropped);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
tether_control_rollback_json (TetherSupervisor           *supervisor,
                              const char                 *checkpoint,
                              const TetherRollbackReport *report)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string_or_null (b, "checkpoint", checkpoint);
  json_builder_set_member_name (b, "to_frozen");
  json_builder_add_double_value (b, tether_json_round (report->to_frozen, 1000));
  json_builder_set_member_name (b, "to_stopped");
  json_builder_add_double_value (b, tether_json_round (report->to_stopped, 1000));
  json_builder_set_member_name (b, "to_running");
  json_builder_add_double_value (b, tether_json_round (report->to_running, 1000));
  json_builder_set_member_name (b, "main_pid");
  json_builder_add_int_value (b, tether_supervisor_get_main_pid (supervisor));
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

JsonNode *
tether_control_tree_json (TetherSupervisor *supervisor)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GPtrArray) processes = NULL;
  TetherSampler *sampler = tether_supervisor_get_sampler (supervisor);
  const TetherSamplerTotals *totals;

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
  json_builder_add_double_value (b, tether_json_round (totals->cpu_percent, 10));
  json_builder_set_member_name (b, "rss_bytes");
  json_builder_add_int_value (b, (gint64) totals->rss_bytes);
  /* The honest figure: "cgroup" (memory.current), "pss" or "rss". */
  json_builder_set_member_name (b, "memory_bytes");
  json_builder_add_int_value (b, (gint64) totals->memory_bytes);
  {
    g_autoptr(GEnumClass) sources = g_type_class_ref (TETHER_TYPE_MEMORY_SOURCE);
    add_string_or_null (b, "memory_source", g_enum_get_value (sources, (int) totals->memory_source)->value_nick);
  }
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
      add_string_or_null (b, "program", tether_process_get_program (p));
      add_string_or_null (b, "cmdline", tether_process_get_cmdline (p));
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, (char[]) { tether_process_get_state (p), '\0' });
      json_builder_set_member_name (b, "threads");
      json_builder_add_int_value (b, tether_process_get_threads (p));
      json_builder_set_member_name (b, "cpu_percent");
      json_builder_add_double_value (b, tether_json_round (tether_process_get_cpu_percent (p), 10));
      json_builder_set_member_name (b, "rss_bytes");
      json_builder_add_int_value (b, (gint64) tether_process_get_rss_bytes (p));
      add_time (b, "started_at", tether_process_get_started_at (p));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- requests ---------------------------------------------------------- */

/* The verb's integer argument, exactly: "12", 12.5, true or null must not
 * become a pid by coercion (they would signal process 0 or 1). */
/* "checkpoint" (required, a checkpoint id) and "reason" (optional). */
static gboolean
read_checkpoint_param (JsonObject            *object,
                       const char            *method,
                       TetherControlRequest  *request,
                       GError               **error)
{
  JsonNode *node = json_object_get_member (object, "checkpoint");
  const char *value;

  if (node == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The “%s” request needs a “checkpoint”"), method);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
      !tether_checkpoint_id_is_valid (value = json_node_get_string (node)))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("“checkpoint” must be a checkpoint ID: 1 to %d characters from A-Z, a-z, 0-9 and \"._:-\""),
                   TETHER_CHECKPOINT_ID_MAX_LENGTH);
      return FALSE;
    }
  g_strlcpy (request->checkpoint, value, sizeof request->checkpoint);

  node = json_object_get_member (object, "reason");
  request->reason[0] = '\0';
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("“reason” must be a string"));
      return FALSE;
    }
  /* Cut and cleaned like STATUS=: it ends up in the journal and on
   * terminals. */
  g_strlcpy (request->reason, json_node_get_string (node), sizeof request->reason);
  tether_text_sanitize_in_place (request->reason, sizeof request->reason - 1);
  return TRUE;
}

/* An optional integer member between min and max. */
static gboolean
read_optional_int (JsonObject  *object,
                   const char  *name,
                   gint64       min,
                   gint64       max,
                   gint64      *value,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < min || json_node_get_int (node) > max)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("“%s” must be an integer from %" PRId64 " to %" PRId64),
                   name, (int64_t) min, (int64_t) max);
      return FALSE;
    }
  *value = json_node_get_int (node);
  return TRUE;
}

/* "signal": a name tether-signals.h offers; "subtree": optional boolean. */
static gboolean
read_signal_param (JsonObject            *object,
                   const char            *method,
                   TetherControlRequest  *request,
                   GError               **error)
{
  JsonNode *node = json_object_get_member (object, "signal");
  const TetherSignalInfo *info;

  if (node == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The “%s” request needs a “%s”"), method, "signal");
      return FALSE;
    }
  info = JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
         ? tether_signals_lookup (json_node_get_string (node)) : NULL;
  if (info == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("“signal” must be one of HUP, INT, QUIT, USR1, USR2, CONT, STOP, TERM, KILL"));
      return FALSE;
    }
  request->signal = info->number;
  node = json_object_get_member (object, "subtree");
  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("“subtree” must be true or false"));
          return FALSE;
        }
      request->subtree = json_node_get_boolean (node);
    }
  return TRUE;
}

static gboolean
read_param (JsonObject            *object,
            const char            *method,
            TetherControlRequest  *request,
            GError               **error)
{
  const char *field = tether_verb_param_field (request->verb->param);
  gboolean is_pid = request->verb->param == TETHER_VERB_PARAM_PID ||
                    request->verb->param == TETHER_VERB_PARAM_OPTIONAL_PID ||
                    request->verb->param == TETHER_VERB_PARAM_SIGNAL;
  gint64 min = is_pid ? 1 : 0;
  gint64 max = is_pid ? G_MAXINT32 : TETHER_CONTROL_MAX_WORKERS;
  JsonNode *node;
  gint64 value;

  if (request->verb->param == TETHER_VERB_PARAM_CHECKPOINT)
    return read_checkpoint_param (object, method, request, error);
  if (request->verb->param == TETHER_VERB_PARAM_LOG_RANGE)
    {
      gint64 lines = 100, after = 0;

      if (!read_optional_int (object, "lines", 1, TETHER_CONTROL_MAX_LOG_LINES, &lines, error) ||
          !read_optional_int (object, "after", 0, G_MAXINT64, &after, error))
        return FALSE;
      request->lines = (guint) lines;
      request->after = (guint64) after;
      return TRUE;
    }

  node = json_object_get_member (object, field);
  if (node == NULL && request->verb->param == TETHER_VERB_PARAM_OPTIONAL_PID)
    {
      request->pid = 0;
      return TRUE;
    }
  if (node == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The “%s” request needs a “%s”"), method, field);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   is_pid ? _("“pid” must be an integer process ID")
                          : _("“workers” must be an integer number of workers"));
      return FALSE;
    }
  value = json_node_get_int (node);
  if (value < min || value > max)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   is_pid ? _("“pid” must be a process ID from 1 to %d, not %" PRId64)
                          : _("“workers” must be from 0 to %d, not %" PRId64),
                   (int) max, (int64_t) value);
      return FALSE;
    }
  if (is_pid)
    request->pid = (pid_t) value;
  else
    request->workers = (guint) value;
  if (request->verb->param == TETHER_VERB_PARAM_SIGNAL)
    return read_signal_param (object, method, request, error);
  return TRUE;
}

gboolean
tether_control_parse_request (const char            *line,
                              gsize                  length,
                              TetherControlRequest  *request,
                              GError               **error)
{
  g_autoptr(TetherJsonDocument) document = NULL;
  g_autoptr(GError) json_error = NULL;
  JsonObject *object;
  JsonNode *root, *method_node;
  const char *method;
  g_autoptr(GList) members = NULL;

  memset (request, 0, sizeof *request);

  if (length > TETHER_CONTROL_MAX_REQUEST)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The request is longer than %d bytes"), TETHER_CONTROL_MAX_REQUEST);
      return FALSE;
    }
  if (memchr (line, '\0', length) != NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The request contains a NUL byte"));
      return FALSE;
    }
  /* The profile's strict parser: iterative, so depth costs no stack, and
   * refused past 8 levels (a request is one flat object). */
  document = tether_json_parse (line, (gssize) length, TETHER_CONTROL_MAX_DEPTH, &json_error);
  if (document == NULL && g_error_matches (json_error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_DEPTH))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The request is nested more than %d levels deep"), TETHER_CONTROL_MAX_DEPTH);
      return FALSE;
    }
  if (document == NULL && !g_error_matches (json_error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_EMPTY))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The request is not JSON: %s"), json_error->message);
      return FALSE;
    }
  root = document != NULL ? tether_json_document_get_root (document) : NULL;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("A request must be a JSON object, such as {\"method\": \"status\"}"));
      return FALSE;
    }
  object = json_node_get_object (root);

  method_node = json_object_get_member (object, "method");
  if (method_node == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The request has no “method”"));
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (method_node) ||
      json_node_get_value_type (method_node) != G_TYPE_STRING)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("The request’s “method” must be a string"));
      return FALSE;
    }
  method = json_node_get_string (method_node);
  request->verb = tether_verb_lookup (method);
  if (request->verb == NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("Unknown method “%s”"), method);
      return FALSE;
    }

  if (request->verb->param != TETHER_VERB_PARAM_NONE &&
      !read_param (object, method, request, error))
    return FALSE;

  /* Anything else is a client bug worth hearing about, not ignoring. */
  members = json_object_get_members (object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;

      if (g_str_equal (name, "method") ||
          g_strcmp0 (name, tether_verb_param_field (request->verb->param)) == 0 ||
          (g_str_equal (name, "reason") && request->verb->param == TETHER_VERB_PARAM_CHECKPOINT) ||
          ((g_str_equal (name, "lines") || g_str_equal (name, "after")) &&
           request->verb->param == TETHER_VERB_PARAM_LOG_RANGE) ||
          ((g_str_equal (name, "signal") || g_str_equal (name, "subtree")) &&
           request->verb->param == TETHER_VERB_PARAM_SIGNAL))
        continue;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("Unknown field “%s” in a “%s” request"), name, method);
      return FALSE;
    }

  return TRUE;
}

/* ---- clients ----------------------------------------------------------- */

static Client *
client_ref (Client *client)
{
  client->ref_count++;
  return client;
}

static void
client_unref (Client *client)
{
  if (--client->ref_count > 0)
    return;
  g_clear_object (&client->connection);
  g_clear_object (&client->cancellable);
  g_byte_array_unref (client->pending);
  g_clear_pointer (&client->reply, g_bytes_unref);
  g_free (client);
}

static void
client_close (Client *client)
{
  TetherControl *control = client->control;

  if (control == NULL)
    return;
  client->control = NULL;
  g_clear_handle_id (&client->idle_timer, g_source_remove);
  g_cancellable_cancel (client->cancellable);
  g_io_stream_close (G_IO_STREAM (client->connection), NULL, NULL);
  /* Drops the list's reference; work in flight holds its own. */
  g_ptr_array_remove_fast (control->clients, client);
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  Client *client = user_data;

  client->idle_timer = 0;
  g_debug ("Closing a control client that was idle for %u ms",
           client->control->idle_timeout_ms);
  client_close (client);
  return G_SOURCE_REMOVE;
}

/* Whenever we wait on the client (for a request, or for it to take our
 * reply), it has this long; a verb at work stops the clock. */
static void
arm_idle_timer (Client *client)
{
  g_clear_handle_id (&client->idle_timer, g_source_remove);
  if (client->control != NULL && !client->waiting)
    client->idle_timer = g_timeout_add (client->control->idle_timeout_ms, on_idle_timeout, client);
}

static void
on_reply_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Client *client = user_data;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);

  g_clear_pointer (&client->reply, g_bytes_unref);
  if (client->control != NULL)
    {
      if (!ok || client->close_after_reply)
        client_close (client);
      else
        process_lines (client);
    }
  client_unref (client);
}

/* One reply line: {"ok":true,"result":...} ({"ok":true} without a result)
 * or {"ok":false,"error":"..."}. Takes result. The newline stands in the
 * place of the text's terminating NUL, so that a reply of megabytes is not
 * copied once more to end it; the bytes are not a C string. */
GBytes *
tether_control_reply_line_new (JsonNode   *result,
                               const char *error_message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  char *text;
  gsize length;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, error_message == NULL);
  if (error_message != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, error_message);
      g_clear_pointer (&result, json_node_unref);
    }
  else if (result != NULL)
    {
      json_builder_set_member_name (b, "result");
      json_builder_add_value (b, result);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  text = tether_json_to_string (root, FALSE);
  length = strlen (text);
  text[length] = '\n';
  return g_bytes_new_take (text, length + 1);
}

static void
send_reply (Client   *client,
            JsonNode *result,
            GError   *error)
{
  GOutputStream *out;
  gconstpointer data;
  gsize length;

  if (client->control == NULL)
    {
      g_clear_pointer (&result, json_node_unref);
      g_clear_error (&error);
      return;
    }

  client->reply = tether_control_reply_line_new (result, error != NULL ? error->message : NULL);
  g_clear_error (&error);

  arm_idle_timer (client);
  out = g_io_stream_get_output_stream (G_IO_STREAM (client->connection));
  data = g_bytes_get_data (client->reply, &length);
  g_output_stream_write_all_async (out, data, length, G_PRIORITY_DEFAULT, client->cancellable,
                                   on_reply_written, client_ref (client));
}

/* A verb that waited is done: the reply it owes goes out. */
static void
finish_waiting (Client   *client,
                JsonNode *result,
                GError   *error)
{
  client->waiting = FALSE;
  send_reply (client, result, error);
  client_unref (client);
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  TetherStopReport report;
  GError *error = NULL;

  if (tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, &report, &error))
    finish_waiting (user_data, tether_control_stop_report_json (&report), NULL);
  else
    finish_waiting (user_data, NULL, error);
}

/* start and restart answer with the status once done. */
static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GError *error = NULL;
  gboolean ok = tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &error);

  finish_waiting (user_data, ok ? tether_control_status_json (TETHER_SUPERVISOR (source)) : NULL, error);
}

static void
on_restarted (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError *error = NULL;
  gboolean ok = tether_supervisor_restart_finish (TETHER_SUPERVISOR (source), result, &error);

  finish_waiting (user_data, ok ? tether_control_status_json (TETHER_SUPERVISOR (source)) : NULL, error);
}

/* status and tree answer with the tree as it is now, not as of the last
 * timer tick (CPU % still spans at least half an interval). */
static void
refreshed (GObject      *source,
           GAsyncResult *result,
           Client       *client,
           JsonNode     *(*document) (TetherSupervisor *))
{
  tether_sampler_refresh_finish (TETHER_SAMPLER (source), result, NULL);
  finish_waiting (client, client->control != NULL ? document (client->control->supervisor) : NULL, NULL);
}

static void
on_refreshed_status (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  refreshed (source, result, user_data, tether_control_status_json);
}

static void
on_refreshed_tree (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  refreshed (source, result, user_data, tether_control_tree_json);
}

static void
on_subtree_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GError *error = NULL;
  guint n = 0;

  if (tether_supervisor_subtree_finish (TETHER_SUPERVISOR (source), result, &n, &error))
    {
      JsonNode *count = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (count, n);
      finish_waiting (user_data, count, NULL);
    }
  else
    finish_waiting (user_data, NULL, error);
}

typedef struct
{
  Client *client;
  char checkpoint[129];
} RollbackCall;

static void
on_rolled_back (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  RollbackCall *call = user_data;
  TetherRollbackReport report;
  GError *error = NULL;

  if (tether_supervisor_rollback_finish (TETHER_SUPERVISOR (source), result, &report, &error))
    finish_waiting (call->client,
                    tether_control_rollback_json (TETHER_SUPERVISOR (source), call->checkpoint, &report), NULL);
  else
    finish_waiting (call->client, NULL, error);
  g_free (call);
}

static void
on_diagnosed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError *error = NULL;
  JsonNode *node = tether_control_diagnose_finish (result, &error);

  finish_waiting (user_data, node, error);
}

/* resize and recycle answer with the status (the pool in it) once the
 * pool has settled. */
static void
on_pool_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError *error = NULL;
  gboolean ok = tether_supervisor_pool_finish (TETHER_SUPERVISOR (source), result, &error);

  finish_waiting (user_data, ok ? tether_control_status_json (TETHER_SUPERVISOR (source)) : NULL, error);
}

static void
handle_request (Client     *client,
                const char *line,
                gsize       length)
{
  TetherSupervisor *supervisor = client->control->supervisor;
  TetherSampler *sampler = tether_supervisor_get_sampler (supervisor);
  TetherControlRequest request;
  GError *error = NULL;

  if (!tether_control_parse_request (line, length, &request, &error))
    {
      send_reply (client, NULL, error);
      return;
    }

  /* Every verb answers once its work is done; meanwhile nothing else is
   * read from this client and the idle clock stops. */
  client->waiting = TRUE;
  g_clear_handle_id (&client->idle_timer, g_source_remove);
  client_ref (client);

  switch (request.verb->id)
    {
    case TETHER_VERB_STATUS:
      tether_sampler_refresh_async (sampler, NULL, on_refreshed_status, client);
      break;
    case TETHER_VERB_TREE:
      tether_sampler_refresh_async (sampler, NULL, on_refreshed_tree, client);
      break;
    case TETHER_VERB_START:
      tether_supervisor_start (supervisor, NULL, on_started, client);
      break;
    case TETHER_VERB_RESTART:
      tether_supervisor_restart (supervisor, NULL, on_restarted, client);
      break;
    case TETHER_VERB_STOP:
      tether_supervisor_stop (supervisor, NULL, on_stopped, client);
      break;
    case TETHER_VERB_FORCE_STOP:
      tether_supervisor_kill (supervisor, NULL, on_stopped, client);
      break;
    case TETHER_VERB_STOP_SUBTREE:
      tether_supervisor_stop_subtree (supervisor, request.pid, NULL, on_subtree_done, client);
      break;
    case TETHER_VERB_KILL_SUBTREE:
      tether_supervisor_kill_subtree (supervisor, request.pid, NULL, on_subtree_done, client);
      break;
    case TETHER_VERB_SEND_SIGNAL:
      tether_supervisor_send_signal (supervisor, request.pid, request.signal, request.subtree,
                                     NULL, on_subtree_done, client);
      break;
    case TETHER_VERB_RESIZE:
      tether_supervisor_resize (supervisor, request.workers, NULL, on_pool_done, client);
      break;
    case TETHER_VERB_RECYCLE:
      tether_supervisor_recycle_workers (supervisor, NULL, on_pool_done, client);
      break;
    case TETHER_VERB_CHECKPOINTS:
      finish_waiting (client, tether_control_checkpoints_json (supervisor), NULL);
      break;
    case TETHER_VERB_HISTORY:
      finish_waiting (client, tether_control_history_json (supervisor), NULL);
      break;
    case TETHER_VERB_LOGS:
      finish_waiting (client, tether_control_logs_json (supervisor, request.lines, request.after), NULL);
      break;
    case TETHER_VERB_DIAGNOSE:
      tether_control_diagnose_async (supervisor, request.pid, NULL, on_diagnosed, client);
      break;
    case TETHER_VERB_ROLLBACK:
      {
        RollbackCall *call = g_new0 (RollbackCall, 1);

        call->client = client;
        g_strlcpy (call->checkpoint, request.checkpoint, sizeof call->checkpoint);
        tether_supervisor_rollback (supervisor, request.checkpoint,
                                    request.reason[0] != '\0' ? request.reason : NULL,
                                    NULL, on_rolled_back, call);
      }
      break;
    case TETHER_N_VERBS:
    default:
      g_assert_not_reached ();
    }
}

static void read_more (Client *client);

/* Handles the lines already read, one at a time: the next waits until the
 * reply to the previous one is out. */
static void
process_lines (Client *client)
{
  while (client->control != NULL && !client->waiting && client->reply == NULL)
    {
      guint8 *nl = memchr (client->pending->data, '\n', client->pending->len);
      gsize length;

      if (nl == NULL)
        {
          if (client->pending->len > TETHER_CONTROL_MAX_REQUEST)
            break;
          read_more (client);
          return;
        }

      length = (gsize) (nl - client->pending->data);
      if (length > TETHER_CONTROL_MAX_REQUEST)
        break;
      {
        g_autofree char *line = g_strndup ((const char *) client->pending->data, length);
        gsize line_length = length;

        g_byte_array_remove_range (client->pending, 0, (guint) length + 1);
        if (line_length > 0 && line[line_length - 1] == '\r')
          line[--line_length] = '\0';
        if (!client->authenticated)
          {
            /* A transport that any local user can reach (loopback TCP on
             * Windows) asks for its secret first; nothing else is read
             * from a client that does not know it. */
            GBytes *answer;

            if (!tether_control_transport_check_token (client->control->transport, line))
              {
                client_close (client);
                return;
              }
            client->authenticated = TRUE;
            /* The server proves itself in turn: the client checks this
             * line before it sends a request. */
            answer = tether_control_transport_get_answer (client->control->transport);
            if (answer != NULL)
              {
                GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (client->connection));
                gconstpointer data;
                gsize size;

                client->reply = answer;
                data = g_bytes_get_data (answer, &size);
                g_output_stream_write_all_async (out, data, size, G_PRIORITY_DEFAULT, client->cancellable,
                                                 on_reply_written, client_ref (client));
                return;
              }
            continue;
          }
        handle_request (client, line, line_length);
      }
    }

  if (client->control != NULL && client->pending->len > TETHER_CONTROL_MAX_REQUEST &&
      client->reply == NULL && !client->waiting)
    {
      /* Nothing after this can be read reliably: say why, then hang up. */
      client->close_after_reply = TRUE;
      g_byte_array_set_size (client->pending, 0);
      send_reply (client, NULL,
                  g_error_new (TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                               _("The request is longer than %d bytes"),
                               TETHER_CONTROL_MAX_REQUEST));
    }
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Client *client = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (client->control != NULL)
    {
      if (n <= 0)
        client_close (client);
      else
        {
          g_byte_array_append (client->pending, client->chunk, (guint) n);
          arm_idle_timer (client);
          process_lines (client);
        }
    }
  client_unref (client);
}

static void
read_more (Client *client)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (client->connection));

  g_input_stream_read_async (in, client->chunk, sizeof client->chunk, G_PRIORITY_DEFAULT,
                             client->cancellable, on_read, client_ref (client));
}

/* ---- connections -------------------------------------------------------- */

gboolean
tether_control_is_full (TetherControl *self)
{
  return self->clients->len >= self->max_clients;
}

void
tether_control_add_client (TetherControl     *self,
                           GSocketConnection *connection)
{
  Client *client;

  client = g_new0 (Client, 1);
  client->ref_count = 1;  /* the list's */
  client->control = self;
  client->connection = g_object_ref (connection);
  client->cancellable = g_cancellable_new ();
  client->pending = g_byte_array_new ();
  client->authenticated = !tether_control_transport_wants_token (self->transport);
  g_ptr_array_add (self->clients, client);

  arm_idle_timer (client);
  read_more (client);
}

TetherControl *
tether_control_new (TetherSupervisor  *supervisor,
                    const char        *socket_path,
                    GError           **error)
{
  g_autoptr(TetherControl) self = NULL;

  g_return_val_if_fail (TETHER_IS_SUPERVISOR (supervisor), NULL);

  self = g_object_new (TETHER_TYPE_CONTROL, NULL);
  self->supervisor = g_object_ref (supervisor);
  self->transport = tether_control_transport_listen (self, socket_path,
                                                     tether_supervisor_get_profile (supervisor),
                                                     error);
  if (self->transport == NULL)
    return NULL;
  self->socket_path = g_strdup (tether_control_transport_get_path (self->transport));

  return g_steal_pointer (&self);
}

const char *
tether_control_get_socket_path (TetherControl *self)
{
  g_return_val_if_fail (TETHER_IS_CONTROL (self), NULL);
  return self->socket_path;
}

guint
tether_control_get_n_clients (TetherControl *self)
{
  g_return_val_if_fail (TETHER_IS_CONTROL (self), 0);
  return self->clients->len;
}

void
tether_control_set_limits (TetherControl *self,
                           guint          max_clients,
                           guint          idle_timeout_ms)
{
  g_return_if_fail (TETHER_IS_CONTROL (self));
  self->max_clients = MAX (max_clients, 1);
  self->idle_timeout_ms = MAX (idle_timeout_ms, 1);
}

static void
tether_control_dispose (GObject *object)
{
  TetherControl *self = TETHER_CONTROL (object);

  g_clear_pointer (&self->transport, tether_control_transport_free);
  while (self->clients->len > 0)
    client_close (g_ptr_array_index (self->clients, self->clients->len - 1));
  g_clear_object (&self->supervisor);

  G_OBJECT_CLASS (tether_control_parent_class)->dispose (object);
}

static void
tether_control_finalize (GObject *object)
{
  TetherControl *self = TETHER_CONTROL (object);

  g_ptr_array_unref (self->clients);
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
  self->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_unref);
  self->max_clients = TETHER_CONTROL_MAX_CLIENTS;
  self->idle_timeout_ms = TETHER_CONTROL_IDLE_TIMEOUT * 1000;
}

/* ---- client ------------------------------------------------------------ */

/* Bytes asked for at a time while reading a reply. */
#define REPLY_CHUNK (64 * 1024)

/* Reads the reply line, without its newline (the last bytes before the
 * server hangs up count as a line too). Refused as soon as it runs longer
 * than TETHER_CONTROL_MAX_REPLY, not once it is all in memory. Blocking,
 * bounded by the socket's timeout, as the whole call is: only tetherctl
 * calls it (top from a timer of its own loop), never the supervisor. */
static GByteArray *
read_reply_line (GInputStream  *in,
                 GError       **error)
{
  g_autoptr(GByteArray) line = g_byte_array_new ();

  for (;;)
    {
      guint start = line->len;
      gsize wanted = MIN (REPLY_CHUNK, (gsize) TETHER_CONTROL_MAX_REPLY + 1 - start);
      gssize n;
      guint8 *nl;

      g_byte_array_set_size (line, start + (guint) wanted);
      n = g_input_stream_read (in, line->data + start, wanted, NULL, error);
      if (n < 0)
        return NULL;
      g_byte_array_set_size (line, start + (guint) n);

      if (n == 0)
        {
          if (line->len > 0)
            return g_steal_pointer (&line);
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("The supervisor closed the connection without replying"));
          return NULL;
        }

      nl = memchr (line->data + start, '\n', (gsize) n);
      if (nl != NULL)
        {
          g_byte_array_set_size (line, (guint) (nl - line->data));
          return g_steal_pointer (&line);
        }
      if (line->len > TETHER_CONTROL_MAX_REPLY)
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("Malformed reply from the supervisor"));
          return NULL;
        }
    }
}

JsonNode *
tether_control_call (const char  *socket_path,
                     JsonNode    *request,
                     guint        timeout_seconds,
                     GError     **error)
{
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GByteArray) reply = NULL;
  g_autoptr(TetherJsonDocument) document = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autofree char *text = tether_json_to_string (request, FALSE);
  g_autofree char *line = NULL;
  JsonObject *object;
  JsonNode *result;

  /* Connected, and the peer checked (it must be this user's supervisor). */
  connection = tether_control_transport_connect (socket_path, timeout_seconds, error);
  if (connection == NULL)
    return NULL;

  line = g_strconcat (text, "\n", NULL);
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                  line, strlen (line), NULL, NULL, error))
    return NULL;

  reply = read_reply_line (g_io_stream_get_input_stream (G_IO_STREAM (connection)), error);
  if (reply == NULL)
    return NULL;

  /* The strict parser the server reads requests with: iterative, and it
   * checks the encoding (invalid UTF-8 and NUL bytes are refused). A reply
   * nests four levels deep at most: the request's cap of 8 leaves room. */
  document = tether_json_parse ((const char *) reply->data, reply->len,
                                TETHER_CONTROL_MAX_DEPTH, &json_error);
  if (document == NULL)
    {
      if (g_error_matches (json_error, TETHER_JSON_ERROR, TETHER_JSON_ERROR_SYNTAX))
        g_propagate_error (error, g_steal_pointer (&json_error));
      else
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                     _("Malformed reply from the supervisor"));
      return NULL;
    }
  result = tether_json_document_get_root (document);
  if (result == NULL || !JSON_NODE_HOLDS_OBJECT (result))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL, _("Malformed reply from the supervisor"));
      return NULL;
    }
  object = json_node_get_object (result);
  if (!json_object_get_boolean_member_with_default (object, "ok", FALSE))
    {
      JsonNode *message = json_object_get_member (object, "error");

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED, "%s",
                   message != NULL && JSON_NODE_HOLDS_VALUE (message) &&
                   json_node_get_value_type (message) == G_TYPE_STRING
                   ? json_node_get_string (message) : _("Unknown error"));
      return NULL;
    }
  if (!json_object_has_member (object, "result"))
    return json_node_new (JSON_NODE_NULL);
  return json_node_copy (json_object_get_member (object, "result"));
}
