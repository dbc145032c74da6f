/* tether-supervisor.c: the lifecycle state machine
 *
 * Every front end (buttons, tetherctl, D-Bus actions) drives the backend
 * through these verbs and nothing else. The stop ladder is event-driven: each
 * step arms one timer for its deadline, and the owner's "empty" signal (the
 * shim saw the last process go) ends the stop at once, whichever step it is.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-supervisor.h"
#include "tether-supervisor-private.h"

#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#ifdef G_OS_UNIX
#include <sys/wait.h>
#else
#include "tether-win32-compat.h"
#endif

#include "tether-enums.h"
#include "tether-error.h"
#include "tether-http.h"
#include "tether-journal.h"
#include "tether-log.h"
#include "tether-notify.h"
#include "tether-pidfile.h"
#include "tether-pool.h"
#include "tether-procfs.h"

#define KILL_RETRIES 3

/* Checkpoints kept in memory (the oldest go first); a backend reporting one
 * per second keeps the last quarter of an hour. */
#define MAX_CHECKPOINTS 1000

/* Every duration a backend can ask for (EXTEND_TIMEOUT_USEC=,
 * WATCHDOG_USEC=) is clamped to this, and so is every timer: a day is
 * longer than any profile allows, and far from where µs → ms conversions
 * and guint timer intervals overflow. */
#define MAX_DURATION_USEC ((gint64) 24 * 3600 * G_USEC_PER_SEC)

/* Indexes into can[], in the order of the PROP_CAN_* properties. */
enum {
  CAN_START,
  CAN_STOP,
  CAN_KILL,
  CAN_RESTART,
  CAN_SIGNAL,
  CAN_RESIZE,
  N_CAN
};

struct _TetherSupervisor
{
  GObject parent_instance;

  TetherProfile *profile;
  TetherOwnerKind owner_kind;
  TetherOwner *owner;
  TetherOwnerFactory owner_factory;
  gpointer owner_factory_data;
  int stdout_fd;                /* -1: Tether's own */
  int stderr_fd;
  TetherNotify *notify;
  TetherSampler *sampler;

  TetherState state;
  TetherPhase phase;
  gint64 phase_deadline;
  guint phase_timer;
  guint kill_attempts;
  guint stop_serial;          /* one per stop, so late step replies know theirs */
  TetherPhase counted_phase;  /* the step phase_start_count belongs to */
  guint phase_start_count;    /* members when that step began */

  /* "Can I?", derived from the state and the tree; kept to notify changes. */
  gboolean can[N_CAN];

  char *status_text;
  char *message;
  pid_t main_pid;
  gboolean main_exited;
  int main_wait_status;

  /* Looking for the main process a launcher left (a daemon). */
  guint successor_serial;
  guint successor_timer;
  gint64 successor_deadline;  /* monotonic µs; 0: the pidfile was given up on */
  char *successor_problem;    /* what the pidfile said instead, or NULL */

  GTask *start_task;
  guint start_timer;
  gint64 start_deadline;   /* monotonic µs */
  GPtrArray *stop_tasks;
  gboolean stop_requested;
  gboolean stop_ends_failed;  /* the stop cleans up after a failure */
  gboolean ready_early;       /* READY=1 came before the shim reported the pid */
  gint64 stop_started;
  TetherStopReport stop_report;

  guint watchdog_timer;
  gint64 watchdog_usec;

  /* Why the backend is NOT_RESPONDING (a set of UNRESPONSIVE_*), and since
   * when (g_get_real_time), 0 while it answers. */
  guint unresponsive;
  gint64 unresponsive_since;
  guint unresponsive_timer;   /* restart.on_unresponsive */
  guint health_timer;
  guint health_serial;
  guint health_failures;
  gint64 health_started;

  guint restart_timer;
  guint n_restarts;

  GPtrArray *checkpoints;

  TetherPool *pool;           /* NULL unless the profile has one */
  gboolean main_ready;        /* the main process's part of being RUNNING */
  gboolean restarting;        /* a restart's stop: the pool keeps its socket */
  gboolean keep_message;      /* the stop says why it happened already */
  gboolean pool_main_ended;   /* the stop was the pool's main process ending */
  char **run_env;             /* the environment of this run's processes */
  char **run_argv;            /* command, {checkpoint} replaced */

  TetherJournal *journal;
  TetherLog *log;             /* the backend's output, across runs */
  guint64 log_seq_at_launch;  /* this run's lines come after it */
  gboolean start_after_load;  /* a start waits for the journal */
  char *journal_warning;      /* said once: the journal cannot be written */

  GTask *rollback_task;       /* a rollback under way */
  char *rollback_id;          /* its checkpoint, until the start it asks for */
  guint rollback_timer;       /* the freeze's deadline */
  guint rollback_serial;
  gint64 rollback_started;
  TetherRollbackReport rollback_report;
};

enum {
  PROP_0,
  PROP_STATE,
  PROP_PHASE,
  PROP_PHASE_DEADLINE,
  PROP_STATUS_TEXT,
  PROP_MESSAGE,
  PROP_MAIN_PID,
  PROP_OWNER_KIND,
  PROP_CAN_START,
  PROP_CAN_STOP,
  PROP_CAN_KILL,
  PROP_CAN_RESTART,
  PROP_CAN_SIGNAL,
  PROP_CAN_RESIZE,
  N_PROPS
};


enum {
  CHECKPOINT,
  STOP_ESCALATED,
  STOPPED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TetherSupervisor, tether_supervisor, G_TYPE_OBJECT)

static void enter_phase             (TetherSupervisor *self, TetherPhase phase);
static void begin_stop              (TetherSupervisor *self, gboolean forced);
static void cancel_successor_search (TetherSupervisor *self);
static void set_main_process        (TetherSupervisor *self, pid_t pid, const char *message);
static void update_can              (TetherSupervisor *self);
static gboolean on_start_timeout (gpointer user_data);

const char *
tether_state_to_string (TetherState state)
{
  return tether_enum_to_nick (TETHER_TYPE_STATE, state);
}

const char *
tether_state_to_label (TetherState state)
{
  switch (state)
    {
    case TETHER_STATE_STOPPED: return _("Stopped");
    case TETHER_STATE_STARTING: return _("Starting");
    case TETHER_STATE_RUNNING: return _("Running");
    case TETHER_STATE_NOT_RESPONDING: return _("Not responding");
    case TETHER_STATE_STOPPING: return _("Stopping");
    case TETHER_STATE_KILLING: return _("Killing");
    case TETHER_STATE_FAILED: return _("Failed");
    case TETHER_STATE_FROZEN: return _("Frozen");
    default: return _("Unknown");
    }
}

const char *
tether_phase_to_string (TetherPhase phase)
{
  return tether_enum_to_nick (TETHER_TYPE_PHASE, phase);
}

static void
checkpoint_free (gpointer data)
{
  TetherCheckpoint *cp = data;
  g_free (cp->id);
  g_free (cp->label);
  g_free (cp);
}

/* ---- property setters: compare, then notify ---------------------------- */

static void
set_state (TetherSupervisor *self,
           TetherState       state)
{
  if (self->state == state)
    return;
  g_debug ("%s: %s → %s", self->profile->name,
           tether_state_to_string (self->state), tether_state_to_string (state));
  self->state = state;
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  update_can (self);
  g_object_thaw_notify (G_OBJECT (self));
}

static void
set_message (TetherSupervisor *self,
             const char       *message)
{
  if (g_strcmp0 (self->message, message) == 0)
    return;
  g_free (self->message);
  self->message = g_strdup (message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
}

static void
set_status_text (TetherSupervisor *self,
                 const char       *text)
{
  if (g_strcmp0 (self->status_text, text) == 0)
    return;
  g_free (self->status_text);
  self->status_text = g_strdup (text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_TEXT]);
}

static void
set_main_pid (TetherSupervisor *self,
              pid_t             pid)
{
  if (self->main_pid == pid)
    return;
  self->main_pid = pid;
  if (self->pool != NULL)
    tether_pool_set_main_pid (self->pool, pid);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAIN_PID]);
}

static void
set_phase (TetherSupervisor *self,
           TetherPhase       phase,
           gint64            deadline)
{
  g_object_freeze_notify (G_OBJECT (self));
  if (self->phase != phase)
    {
      self->phase = phase;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PHASE]);
    }
  if (self->phase_deadline != deadline)
    {
      self->phase_deadline = deadline;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PHASE_DEADLINE]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* ---- helpers ----------------------------------------------------------- */

static char *
describe_wait_status (int status)
{
  if (status < 0)
    /* A MAINPID= process reaped by its own parent: its status was not ours. */
    return g_strdup (_("Ended"));
  if (WIFEXITED (status))
    {
      if (WEXITSTATUS (status) == 0)
        return g_strdup (_("Exited successfully"));
      return g_strdup_printf (_("Exited with status %d"), WEXITSTATUS (status));
    }
  if (WIFSIGNALED (status))
    return g_strdup_printf (_("Killed by signal %d (%s)"),
                            WTERMSIG (status), g_strsignal (WTERMSIG (status)));
  return g_strdup_printf (_("Ended with wait status %d"), status);
}

static gint64
clamp_duration_usec (gint64 usec)
{
  return CLAMP (usec, 0, MAX_DURATION_USEC);
}

static guint
timeout_add_usec (gint64      usec,
                  GSourceFunc func,
                  gpointer    data)
{
  guint ms = (guint) ((clamp_duration_usec (usec) + 500) / 1000);
  return g_timeout_add_full (G_PRIORITY_DEFAULT, ms, func, data, NULL);
}

static gint64
seconds_to_usec (double seconds)
{
  /* Profile durations are validated, but never trust a double's range. */
  if (!(seconds > 0))
    return 0;
  if (seconds >= MAX_DURATION_USEC / (double) G_USEC_PER_SEC)
    return MAX_DURATION_USEC;
  return (gint64) (seconds * G_USEC_PER_SEC + 0.5);
}

static void
return_start (TetherSupervisor *self,
              GError           *error)
{
  GTask *task = g_steal_pointer (&self->start_task);

  g_clear_handle_id (&self->start_timer, g_source_remove);
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* ---- not responding ---------------------------------------------------- */

enum {
  UNRESPONSIVE_WATCHDOG = 1 << 0,   /* sd_notify's watchdog, or WATCHDOG=trigger */
  UNRESPONSIVE_HEALTH   = 1 << 1,   /* health.http */
};

static void restart_quietly (TetherSupervisor *self);

static gboolean
on_unresponsive_too_long (gpointer user_data)
{
  TetherSupervisor *self = user_data;
  g_autofree char *text = NULL;

  self->unresponsive_timer = 0;
  if (self->state != TETHER_STATE_NOT_RESPONDING)
    return G_SOURCE_REMOVE;
  text = g_strdup_printf (_("Restarted: it did not respond for %g s (%s)"),
                          self->profile->restart.on_unresponsive, self->message ? self->message : "");
  g_message ("%s", text);
  restart_quietly (self);
  set_message (self, text);
  return G_SOURCE_REMOVE;
}

/* One more reason not to be responding: NOT_RESPONDING, since now, unless
 * it was already. */
static void
became_unresponsive (TetherSupervisor *self,
                     guint             reason,
                     const char       *why)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *when = g_date_time_format (now, "%H:%M:%S");
  g_autofree char *text = NULL;

  if (self->state != TETHER_STATE_RUNNING && self->state != TETHER_STATE_NOT_RESPONDING)
    return;
  self->unresponsive |= reason;
  if (self->state == TETHER_STATE_NOT_RESPONDING)
    return;

  self->unresponsive_since = g_get_real_time ();
  /* Translators: %s: a time of day, then why */
  text = g_strdup_printf (_("Not responding since %s: %s"), when, why);
  set_message (self, text);
  set_state (self, TETHER_STATE_NOT_RESPONDING);
  if (self->profile->restart.on_unresponsive > 0)
    self->unresponsive_timer = timeout_add_usec (seconds_to_usec (self->profile->restart.on_unresponsive),
                                                 on_unresponsive_too_long, self);
}

/* A reason is gone; RUNNING once none is left. */
static void
became_responsive (TetherSupervisor *self,
                   guint             reason)
{
  self->unresponsive &= ~reason;
  if (self->unresponsive != 0 || self->state != TETHER_STATE_NOT_RESPONDING)
    return;
  self->unresponsive_since = 0;
  g_clear_handle_id (&self->unresponsive_timer, g_source_remove);
  set_message (self, NULL);
  set_state (self, TETHER_STATE_RUNNING);
}

static void
forget_unresponsive (TetherSupervisor *self)
{
  self->unresponsive = 0;
  self->unresponsive_since = 0;
  g_clear_handle_id (&self->unresponsive_timer, g_source_remove);
}

/* ---- watchdog ---------------------------------------------------------- */

static gboolean
on_watchdog_missed (gpointer user_data)
{
  TetherSupervisor *self = user_data;

  self->watchdog_timer = 0;
  became_unresponsive (self, UNRESPONSIVE_WATCHDOG, _("it missed its watchdog heartbeat"));
  return G_SOURCE_REMOVE;
}

static void
arm_watchdog (TetherSupervisor *self)
{
  g_clear_handle_id (&self->watchdog_timer, g_source_remove);
  if (self->watchdog_usec > 0 &&
      (self->state == TETHER_STATE_RUNNING || self->state == TETHER_STATE_NOT_RESPONDING))
    self->watchdog_timer = timeout_add_usec (self->watchdog_usec, on_watchdog_missed, self);
}

/* ---- health.http ---------------------------------------------------------- */

static void schedule_probe (TetherSupervisor *self);

typedef struct
{
  TetherSupervisor *self;
  guint serial;
} ProbeData;

static void
on_probe_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  ProbeData *data = user_data;
  g_autoptr(TetherSupervisor) self = data->self;
  g_autoptr(GError) error = NULL;
  gboolean ok = tether_http_post_json_finish (result, NULL, NULL, &error);
  gboolean current = data->serial == self->health_serial;

  g_free (data);
  if (!current)
    return; /* the run it probed has ended */

  if (ok)
    {
      self->health_failures = 0;
      became_responsive (self, UNRESPONSIVE_HEALTH);
    }
  else if (++self->health_failures >= self->profile->health.failures)
    {
      g_autofree char *why = g_strdup_printf (ngettext ("%u health probe failed: %s",
                                                        "%u health probes in a row failed: %s",
                                                        self->health_failures),
                                              self->health_failures, error->message);
      became_unresponsive (self, UNRESPONSIVE_HEALTH, why);
    }
  schedule_probe (self);
}

static gboolean
on_probe_timer (gpointer user_data)
{
  TetherSupervisor *self = user_data;
  ProbeData *data = g_new0 (ProbeData, 1);

  self->health_timer = 0;
  self->health_started = g_get_monotonic_time ();
  data->self = g_object_ref (self);
  data->serial = self->health_serial;
  tether_http_get_async (self->profile->health.http, self->profile->health.timeout, NULL, on_probe_done, data);
  return G_SOURCE_REMOVE;
}

/* The next probe an interval after the last one began. */
static void
schedule_probe (TetherSupervisor *self)
{
  gint64 next;

  g_clear_handle_id (&self->health_timer, g_source_remove);
  if (self->profile->health.http == NULL ||
      (self->state != TETHER_STATE_RUNNING && self->state != TETHER_STATE_NOT_RESPONDING))
    return;
  next = self->health_started + seconds_to_usec (self->profile->health.interval) - g_get_monotonic_time ();
  self->health_timer = timeout_add_usec (MAX (next, 0), on_probe_timer, self);
}

static void
start_probing (TetherSupervisor *self)
{
  if (self->profile->health.http == NULL)
    return;
  self->health_serial++;
  self->health_failures = 0;
  self->health_started = g_get_monotonic_time ();
  schedule_probe (self);
}

static void
stop_probing (TetherSupervisor *self)
{
  self->health_serial++;
  g_clear_handle_id (&self->health_timer, g_source_remove);
}

static void
become_running (TetherSupervisor *self)
{
  forget_unresponsive (self);
  set_state (self, TETHER_STATE_RUNNING);
  arm_watchdog (self);
  start_probing (self);
  return_start (self, NULL);
}

static gboolean
has_managed_pool (TetherSupervisor *self)
{
  return self->profile->pool.mode == TETHER_POOL_MANAGED;
}

/* A managed pool with no worker_command: the workers run the command, and
 * no process is the main one. */
static gboolean
has_main_process (TetherSupervisor *self)
{
  return !has_managed_pool (self) || self->profile->pool.worker_command != NULL;
}

/* RUNNING needs the main process ready and a managed pool at its target. */
static void
maybe_become_running (TetherSupervisor *self)
{
  if (self->state != TETHER_STATE_STARTING || !self->main_ready || self->stop_requested)
    return;
  if (has_managed_pool (self) &&
      tether_pool_get_actual (self->pool) < tether_pool_get_target (self->pool))
    return;
  become_running (self);
}

static void
add_checkpoint (TetherSupervisor *self,
                const char       *id,
                const char       *label,
                gint64            time,
                gboolean          announce)
{
  TetherCheckpoint *cp = g_new0 (TetherCheckpoint, 1);

  if (self->checkpoints->len >= MAX_CHECKPOINTS)
    g_ptr_array_remove_index (self->checkpoints, 0);

  cp->id = g_strdup (id);
  cp->label = g_strdup (label);
  cp->time = time;
  g_ptr_array_add (self->checkpoints, cp);
  if (announce)
    g_signal_emit (self, signals[CHECKPOINT], 0, cp->id, cp->label);
}

static void
warn_journal (TetherSupervisor *self,
              const GError     *error)
{
  if (self->journal_warning != NULL)
    return;
  /* Once: checkpoints still count, in memory, until Tether exits. */
  self->journal_warning = g_strdup_printf (_("Checkpoints are not kept across restarts: %s"), error->message);
  g_message ("%s", self->journal_warning);
}

typedef struct
{
  TetherSupervisor *self;
  TetherJournalEntry *entry;
} AppendData;

/* A checkpoint counts once it is on disk: then it is announced, listed,
 * and can be rolled back to. */
static void
on_checkpoint_journaled (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  AppendData *data = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_journal_append_finish (TETHER_JOURNAL (source), result, &error))
    warn_journal (data->self, error);
  if (data->self->journal != NULL)
    add_checkpoint (data->self, data->entry->id, data->entry->label, data->entry->time, TRUE);
  tether_journal_entry_free (data->entry);
  g_object_unref (data->self);
  g_free (data);
}

static void
on_event_journaled (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  AppendData *data = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_journal_append_finish (TETHER_JOURNAL (source), result, &error))
    warn_journal (data->self, error);
  g_object_unref (data->self);
  g_free (data);
}

static void
journal_event (TetherSupervisor  *self,
               TetherJournalKind  kind,
               const char        *id,
               const char        *label,
               const char        *outcome)
{
  g_autoptr(TetherJournalEntry) entry = NULL;
  AppendData *data;

  if (self->journal == NULL)
    return; /* disposed */
  entry = tether_journal_entry_new (kind, id, label, outcome, 0);
  data = g_new0 (AppendData, 1);
  data->self = g_object_ref (self);
  tether_journal_append_async (self->journal, entry, NULL, on_event_journaled, data);
}

static void
record_checkpoint (TetherSupervisor          *self,
                   const TetherNotifyMessage *msg)
{
  AppendData *data = g_new0 (AppendData, 1);

  data->self = g_object_ref (self);
  data->entry = tether_journal_entry_new (TETHER_JOURNAL_CHECKPOINT, msg->checkpoint_id,
                                          msg->checkpoint_label, NULL, msg->sender);
  tether_journal_append_async (self->journal, data->entry, NULL, on_checkpoint_journaled, data);
}

/* ---- notify ------------------------------------------------------------ */

static TetherNotifyVerdict
judge_sender (pid_t    pid,
              gpointer user_data)
{
  TetherSupervisor *self = user_data;
  TetherProcStat st;

  if (self->owner == NULL)
    return TETHER_NOTIFY_DROP;
  if (tether_owner_is_member (self->owner, pid) || tether_owner_was_member (self->owner, pid))
    return TETHER_NOTIFY_HEAR;
  /* Gone already (or a zombie): perhaps a member that exited right after
   * sending -- a launcher's MAINPID= -- whose exit the owner has yet to
   * hear of. Judged again shortly. */
  if (tether_procfs_read_stat (pid, &st) < 0 || st.state == 'Z' || st.state == 'X')
    return TETHER_NOTIFY_ASK_AGAIN;
  return TETHER_NOTIFY_DROP;
}

static void extend_phase (TetherSupervisor *self,
                          gint64            usec);

static void
on_notify_message (TetherNotify              *notify,
                   const TetherNotifyMessage *msg,
                   TetherSupervisor          *self)
{
  /* A worker's READY=1 and heartbeat are the pool's, not the backend's. */
  if (self->pool != NULL && tether_pool_handle_notify (self->pool, msg))
    {
      if (msg->checkpoint_id != NULL)
        record_checkpoint (self, msg);
      return;
    }

  if (msg->status != NULL)
    set_status_text (self, msg->status);

  /* The owner reports its exit from now on, as it did the first process's
   * (a launcher that was meant to exit). A member only: a backend cannot
   * point Tether's signals at a stranger. */
  if (msg->mainpid > 0 && msg->mainpid != self->main_pid && self->owner != NULL &&
      tether_owner_is_member (self->owner, msg->mainpid))
    {
      /* The launcher may have exited before its word was heard: the main
       * process is the declared one now, and it lives. */
      if (self->main_exited && !self->stop_requested)
        set_main_process (self, msg->mainpid, NULL);
      else
        {
          tether_owner_set_main_pid (self->owner, msg->mainpid);
          set_main_pid (self, msg->mainpid);
        }
    }

  if (msg->errno_value > 0)
    {
      g_autofree char *text = g_strdup_printf (_("The backend reported error %d (%s)"),
                                               msg->errno_value, g_strerror (msg->errno_value));
      set_message (self, text);
    }

  if (msg->checkpoint_id != NULL)
    record_checkpoint (self, msg);

  if (msg->watchdog_usec >= 0)
    {
      /* As systemd: a new timeout applies at once (0 turns it off). */
      self->watchdog_usec = clamp_duration_usec (msg->watchdog_usec);
      arm_watchdog (self);
    }

  if (msg->extend_timeout_usec >= 0)
    extend_phase (self, msg->extend_timeout_usec);

  if (msg->ready && self->state == TETHER_STATE_STARTING)
    {
      /* A quick backend can be ready before the shim has told us its pid:
       * RUNNING is announced with the pid, so wait for it. */
      if (self->main_pid > 0)
        {
          self->main_ready = TRUE;
          maybe_become_running (self);
        }
      else
        self->ready_early = TRUE;
    }

  if (msg->watchdog)
    {
      became_responsive (self, UNRESPONSIVE_WATCHDOG);
      arm_watchdog (self);
    }
  else if (msg->watchdog_trigger)
    became_unresponsive (self, UNRESPONSIVE_WATCHDOG, _("it asked to be seen as stuck (WATCHDOG=trigger)"));
}

/* ---- the stop ladder --------------------------------------------------- */

/* What a step's verb reached, for the step it belongs to. A reply that
 * comes after the ladder moved on (or after another stop began) only
 * speaks of the past. */
typedef struct
{
  TetherSupervisor *self;
  guint stop_serial;
  TetherPhase phase;
} StepData;

static StepData *
step_data_new (TetherSupervisor *self)
{
  StepData *step = g_new0 (StepData, 1);

  step->self = g_object_ref (self);
  step->stop_serial = self->stop_serial;
  step->phase = self->phase;
  return step;
}

static void
step_data_free (StepData *step)
{
  g_object_unref (step->self);
  g_free (step);
}

static gboolean
step_is_current (StepData *step)
{
  return step->stop_serial == step->self->stop_serial &&
         step->phase == step->self->phase && step->self->stop_requested;
}

/* A step began with n_members left: whoever left since the previous step
 * began, that step ended. */
static void
account_step (TetherSupervisor *self,
              TetherPhase       phase,
              guint             n_members)
{
  TetherPhase previous = self->counted_phase;

  if (self->phase_start_count > n_members)
    self->stop_report.ended[previous] += self->phase_start_count - n_members;
  self->phase_start_count = n_members;
  self->counted_phase = phase;
}

static void
on_step_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  StepData *step = user_data;
  TetherSupervisor *self = step->self;
  g_autoptr(GError) error = NULL;
  TetherOwnerCount count = { 0, };
  gboolean ok = tether_owner_verb_finish (TETHER_OWNER (source), result, &count, &error);

  if (step_is_current (step))
    {
      if (ok)
        account_step (self, step->phase, count.n_members);
      else if (step->phase == TETHER_PHASE_GRACEFUL)
        {
          /* The main process is gone or was never there to ask. */
          g_debug ("Skipping the graceful step: %s", error->message);
          enter_phase (self, TETHER_PHASE_TERM);
        }
      else
        g_debug ("Stop step %s: %s", tether_phase_to_string (step->phase), error->message);
    }
  step_data_free (step);
}

static void
escalate (TetherSupervisor *self,
          TetherPhase       next)
{
  self->stop_report.escalated = TRUE;
  enter_phase (self, next);
  g_signal_emit (self, signals[STOP_ESCALATED], 0, (int) next);
}

static void
on_survivors_counted (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(TetherSupervisor) self = user_data;
  g_autoptr(GArray) members = tether_owner_list_members_finish (TETHER_OWNER (source), result, NULL);
  g_autofree char *text = NULL;

  if (!self->stop_requested || self->phase != TETHER_PHASE_KILL)
    return;  /* the tree emptied meanwhile */
  text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                       "%u process survived the forced kill (stuck in the kernel?)",
                                       "%u processes survived the forced kill (stuck in the kernel?)",
                                       members != NULL ? members->len : 0),
                          members != NULL ? members->len : 0);
  set_message (self, text);
  /* Waiters are told; the ladder keeps waiting for "empty". */
  while (self->stop_tasks->len > 0)
    {
      GTask *task = g_ptr_array_steal_index (self->stop_tasks, 0);
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_FAILED, "%s", text);
      g_object_unref (task);
    }
}

static gboolean
on_phase_deadline (gpointer user_data)
{
  TetherSupervisor *self = user_data;

  self->phase_timer = 0;
  switch (self->phase)
    {
    case TETHER_PHASE_GRACEFUL:
      escalate (self, TETHER_PHASE_TERM);
      break;
    case TETHER_PHASE_TERM:
      escalate (self, TETHER_PHASE_KILL);
      break;
    case TETHER_PHASE_KILL:
      if (++self->kill_attempts < KILL_RETRIES)
        enter_phase (self, TETHER_PHASE_KILL);
      else if (self->owner != NULL)
        tether_owner_list_members_async (self->owner, NULL, on_survivors_counted, g_object_ref (self));
      break;
    case TETHER_PHASE_NONE:
    case TETHER_N_PHASES:
    default:
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
arm_phase_timer (TetherSupervisor *self,
                 gint64            usec)
{
  usec = clamp_duration_usec (usec);
  g_clear_handle_id (&self->phase_timer, g_source_remove);
  self->phase_timer = timeout_add_usec (usec, on_phase_deadline, self);
  set_phase (self, self->phase, g_get_monotonic_time () + usec);
}

/* EXTEND_TIMEOUT_USEC=, as systemd reads it: the backend needs usec more
 * from now. It only ever moves a deadline later, never sooner, and only in
 * the steps that wait for the backend itself (starting, the graceful
 * stop): once Tether has turned to SIGTERM for everyone, the backend's
 * wishes no longer hold the ladder. */
static void
extend_phase (TetherSupervisor *self,
              gint64            usec)
{
  gint64 now = g_get_monotonic_time ();

  usec = clamp_duration_usec (usec);
  if (self->phase == TETHER_PHASE_GRACEFUL && self->phase_timer != 0)
    {
      if (now + usec > self->phase_deadline)
        arm_phase_timer (self, usec);
    }
  else if (self->state == TETHER_STATE_STARTING && self->start_timer != 0)
    {
      if (now + usec > self->start_deadline)
        {
          g_source_remove (self->start_timer);
          self->start_timer = timeout_add_usec (usec, on_start_timeout, self);
          self->start_deadline = now + usec;
        }
    }
}

static void
enter_phase (TetherSupervisor *self,
             TetherPhase       phase)
{
  gint64 timeout = 0;

  g_debug ("Stop step %s", tether_phase_to_string (phase));
  set_phase (self, phase, 0);

  switch (phase)
    {
    case TETHER_PHASE_GRACEFUL:
      timeout = seconds_to_usec (self->profile->stop.graceful_timeout);
      /* A managed pool's workers are each asked, as the main process is:
       * none of them hears of the stop from another. */
      if (timeout > 0 && has_managed_pool (self))
        {
          tether_owner_signal_all_async (self->owner, self->profile->stop.signal,
                                         NULL, on_step_done, step_data_new (self));
          break;
        }
      if (timeout <= 0 || self->main_exited || self->main_pid <= 0)
        {
          enter_phase (self, TETHER_PHASE_TERM);
          return;
        }
      tether_owner_stop_main_async (self->owner, self->main_pid, self->profile->stop.signal,
                                    NULL, on_step_done, step_data_new (self));
      break;

    case TETHER_PHASE_TERM:
      timeout = seconds_to_usec (self->profile->stop.term_timeout);
      if (timeout <= 0)
        {
          enter_phase (self, TETHER_PHASE_KILL);
          return;
        }
      tether_owner_terminate_all_async (self->owner, NULL, on_step_done, step_data_new (self));
      break;

    case TETHER_PHASE_KILL:
      timeout = seconds_to_usec (self->profile->stop.kill_timeout);
      self->stop_report.forced = TRUE;
      set_state (self, TETHER_STATE_KILLING);
      tether_owner_kill_all_async (self->owner, NULL, on_step_done, step_data_new (self));
      break;

    case TETHER_PHASE_NONE:
    case TETHER_N_PHASES:
    default:
      g_return_if_reached ();
    }

  arm_phase_timer (self, timeout);
}

static void
begin_stop (TetherSupervisor *self,
            gboolean          forced)
{
  if (self->phase != TETHER_PHASE_NONE)
    {
      /* Already on the ladder: "kill" jumps ahead, "stop" just waits. */
      if (forced && self->phase != TETHER_PHASE_KILL)
        enter_phase (self, TETHER_PHASE_KILL);
      return;
    }

  self->stop_requested = TRUE;
  self->stop_serial++;
  self->kill_attempts = 0;
  memset (&self->stop_report, 0, sizeof self->stop_report);
  self->counted_phase = TETHER_PHASE_NONE;
  self->phase_start_count = tether_owner_get_n_members (self->owner);
  self->stop_started = g_get_monotonic_time ();
  cancel_successor_search (self);
  g_clear_handle_id (&self->watchdog_timer, g_source_remove);
  g_clear_handle_id (&self->restart_timer, g_source_remove);
  stop_probing (self);
  forget_unresponsive (self);
  if (self->pool != NULL)
    tether_pool_end (self->pool, _("The backend is stopping"));

  if (self->state != TETHER_STATE_KILLING)
    set_state (self, TETHER_STATE_STOPPING);
  enter_phase (self, forced ? TETHER_PHASE_KILL : TETHER_PHASE_GRACEFUL);
}

/* ---- owner events ------------------------------------------------------ */

static gboolean
tree_is_live (TetherSupervisor *self)
{
  return self->owner != NULL && tether_owner_is_running (self->owner);
}

/* ---- the main process after its launcher ------------------------------ */

/* A daemonizing server's launcher exits at once and leaves the daemon to
 * the helper. Who is the main process now (the one the graceful signal goes
 * to, whose exit ends the backend)? As systemd: the pidfile's process when
 * the profile names one (PIDFile=), read every SUCCESSOR_POLL_MS until
 * start_timeout has passed; otherwise, or when the pidfile never names a
 * member, the only process left at the top of the tree (GuessMainPID=).
 * Until then, or when that is not one process, there is none. */
#define SUCCESSOR_POLL_MS 100

typedef struct
{
  TetherSupervisor *self;
  guint serial;
} SuccessorData;

static void find_successor (TetherSupervisor *self);

static SuccessorData *
successor_data_new (TetherSupervisor *self)
{
  SuccessorData *data = g_new0 (SuccessorData, 1);

  data->self = g_object_ref (self);
  data->serial = self->successor_serial;
  return data;
}

/* Frees data, handing its reference to *self; TRUE while its search is
 * still the one wanted. Whatever ends a search (a new main process, a stop,
 * the tree's end, a new launch) cancels it, so the serial tells. */
static gboolean
successor_data_steal (SuccessorData     *data,
                      TetherSupervisor **self)
{
  gboolean current;

  *self = data->self;
  current = data->serial == (*self)->successor_serial;
  g_free (data);
  return current;
}

static void
cancel_successor_search (TetherSupervisor *self)
{
  self->successor_serial++;
  g_clear_handle_id (&self->successor_timer, g_source_remove);
  g_clear_pointer (&self->successor_problem, g_free);
}

/* pid is the main process from now on (a MAINPID=, a pidfile's, the one
 * left), and alive: the owner reports its exit. message says why. */
static void
set_main_process (TetherSupervisor *self,
                  pid_t             pid,
                  const char       *message)
{
  cancel_successor_search (self);
  tether_owner_set_main_pid (self->owner, pid);
  self->main_exited = FALSE;
  self->main_wait_status = 0;
  /* The message first: whoever hears of the new main process reads why. */
  set_message (self, message);
  set_main_pid (self, pid);
}

static void
adopt_successor (TetherSupervisor *self,
                 pid_t             pid,
                 const char       *pidfile)
{
  g_autofree char *ended = describe_wait_status (self->main_wait_status);
  g_autofree char *text = NULL;
  /* The owner still names the process whose exit began the search. */
  int exited = tether_owner_get_main_pid (self->owner);

  g_debug ("Main process is now %d (%s)", (int) pid, pidfile != NULL ? pidfile : "guessed");
  if (pidfile != NULL)
    text = g_strdup_printf (_("Process %d: %s. The main process is now %d, from %s"),
                            exited, ended, (int) pid, pidfile);
  else if (self->successor_problem != NULL)
    text = g_strdup_printf (_("Process %d: %s. The main process is now %d, the only one left at the top of the tree (%s)"),
                            exited, ended, (int) pid, self->successor_problem);
  else
    text = g_strdup_printf (_("Process %d: %s. The main process is now %d, the only one left at the top of the tree"),
                            exited, ended, (int) pid);

  set_main_process (self, pid, text);
}

static void
on_top_level_listed (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  TetherSupervisor *self;
  gboolean current = successor_data_steal (user_data, &self);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) top = tether_owner_list_members_finish (TETHER_OWNER (source), result, &error);
  g_autofree char *ended = NULL;
  g_autofree char *text = NULL;
  pid_t exited;
  guint n = 0;
  pid_t only = 0;

  if (!current)
    goto out;
  if (top == NULL)
    {
      /* The helper failed the request (it is gone): the tree's end follows. */
      g_debug ("No top-level list: %s", error->message);
      goto out;
    }

  exited = tether_owner_get_main_pid (self->owner);
  for (guint i = 0; i < top->len; i++)
    {
      pid_t pid = g_array_index (top, pid_t, i);

      if (pid != exited)
        {
          only = pid;
          n++;
        }
    }

  if (n == 1)
    {
      adopt_successor (self, only, NULL);
      goto out;
    }
  if (n == 0)
    goto out; /* the tree is ending; its end says the rest */

  /* Processes run on, none of them known to be the main one. How many is
   * the live count in the status, not frozen in this sentence. */
  ended = describe_wait_status (self->main_wait_status);
  if (self->successor_problem != NULL)
    text = g_strdup_printf (_("Main process: %s. Its processes run on, and none is the main one: %s"),
                            ended, self->successor_problem);
  else
    text = g_strdup_printf (_("Main process: %s. Its processes run on, and none is the main one"),
                            ended);
  set_message (self, text);

out:
  g_object_unref (self);
}

static gboolean
on_successor_timer (gpointer user_data)
{
  TetherSupervisor *self = user_data;

  self->successor_timer = 0;
  find_successor (self);
  return G_SOURCE_REMOVE;
}

static void
on_pidfile_read (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  TetherSupervisor *self;
  gboolean current = successor_data_steal (user_data, &self);
  g_autoptr(GError) error = NULL;
  pid_t pid = tether_pidfile_read_finish (result, &error);
  pid_t exited;

  if (!current)
    goto out;

  exited = tether_owner_get_main_pid (self->owner);
  if (pid > 0 && pid != exited && tether_owner_is_member (self->owner, pid))
    {
      adopt_successor (self, pid, self->profile->pidfile);
      goto out;
    }

  g_free (self->successor_problem);
  if (error != NULL)
    self->successor_problem = g_strdup (error->message);
  else if (pid == exited)
    self->successor_problem = g_strdup_printf (_("the pidfile %s still names process %d, which has exited"),
                                               self->profile->pidfile, (int) pid);
  else
    self->successor_problem = g_strdup_printf (_("the pidfile %s names process %d, which is not one of the backend’s"),
                                               self->profile->pidfile, (int) pid);

  if (g_get_monotonic_time () + SUCCESSOR_POLL_MS * 1000 < self->successor_deadline)
    self->successor_timer = g_timeout_add (SUCCESSOR_POLL_MS, on_successor_timer, self);
  else
    {
      g_debug ("Giving up on the pidfile: %s", self->successor_problem);
      self->successor_deadline = 0;
      find_successor (self);
    }

out:
  g_object_unref (self);
}

static void
find_successor (TetherSupervisor *self)
{
  if (self->profile->pidfile != NULL && self->successor_deadline != 0)
    tether_pidfile_read_async (self->profile->pidfile, NULL, on_pidfile_read,
                               successor_data_new (self));
  else
    tether_owner_list_top_level_async (self->owner, NULL, on_top_level_listed,
                                       successor_data_new (self));
}

static void
on_main_exited (TetherOwner      *owner,
                int               pid,
                int               wait_status,
                TetherSupervisor *self)
{
  g_debug ("Main process %d exited (wait status %d), phase %s",
           pid, wait_status, tether_phase_to_string (self->phase));

  self->main_exited = TRUE;
  self->main_wait_status = wait_status;

  /* The main process has finished its graceful shutdown; whatever is left
   * was orphaned by it and will not hear from it again. Waiting out the
   * graceful timeout would only keep a port busy. */
  if (self->phase == TETHER_PHASE_GRACEFUL && !has_managed_pool (self))
    {
      enter_phase (self, TETHER_PHASE_TERM);
      return;
    }

  /* The pool's companion process ended: the pool ends with it. */
  if (!self->stop_requested && has_managed_pool (self))
    {
      g_autofree char *text = describe_wait_status (wait_status);
      g_autofree char *why = g_strdup_printf (_("Main process: %s; its workers were stopped"), text);

      set_message (self, why);
      self->keep_message = TRUE;
      self->pool_main_ended = TRUE;
      self->stop_ends_failed = !(WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0);
      return_start (self, g_error_new_literal (TETHER_ERROR, TETHER_ERROR_SPAWN, why));
      begin_stop (self, FALSE);
      return;
    }

  if (!self->stop_requested)
    {
      g_autofree char *text = describe_wait_status (wait_status);

      /* No process is the main one until one is found. */
      set_message (self, text);
      set_main_pid (self, 0);
      cancel_successor_search (self);
      self->successor_deadline = g_get_monotonic_time () +
                                 seconds_to_usec (self->profile->start_timeout);
      find_successor (self);
    }
}

static void schedule_restart (TetherSupervisor *self);

/* The last n lines this run wrote on stderr (of its newest 200), joined,
 * or NULL: what a failed start said. */
static char *
last_stderr_lines (TetherSupervisor *self,
                   guint             n)
{
  g_autoptr(GPtrArray) lines = tether_log_get_lines (self->log, 200, self->log_seq_at_launch);
  g_autoptr(GPtrArray) picked = g_ptr_array_new ();

  for (guint i = lines->len; i > 0 && picked->len < n; i--)
    {
      TetherLogLine *line = g_ptr_array_index (lines, i - 1);
      if (line->stream == TETHER_LOG_STDERR)
        g_ptr_array_insert (picked, 0, line->text);
    }
  if (picked->len == 0)
    return NULL;
  g_ptr_array_add (picked, NULL);
  return g_strjoinv ("\n", (char **) picked->pdata);
}

static void
on_tree_empty (TetherOwner      *owner,
               TetherSupervisor *self)
{
  gboolean was_stopping = self->stop_requested;

  stop_probing (self);
  forget_unresponsive (self);
  if (self->pool != NULL)
    tether_pool_end (self->pool, NULL);
  cancel_successor_search (self);
  g_clear_handle_id (&self->phase_timer, g_source_remove);
  g_clear_handle_id (&self->watchdog_timer, g_source_remove);
  update_can (self);

  if (was_stopping)
    {
      /* Whoever was there when the last step began, that step ended. */
      self->stop_report.ended[self->counted_phase] += self->phase_start_count;
      self->stop_report.elapsed =
        (g_get_monotonic_time () - self->stop_started) / (double) G_USEC_PER_SEC;
      self->stop_requested = FALSE;
      self->phase_start_count = 0;
      set_phase (self, TETHER_PHASE_NONE, 0);

      if (self->start_task != NULL)
        return_start (self, g_error_new (TETHER_ERROR, TETHER_ERROR_FAILED, "%s",
                                         self->message ? self->message
                                                       : _("The backend was stopped before it was ready")));
      if (self->stop_report.forced)
        {
          g_autofree char *what = g_strdup_printf (_("stopped by force after %.3f s"), self->stop_report.elapsed);
          journal_event (self, TETHER_JOURNAL_FORCED_STOP, NULL, what,
                         self->stop_report.escalated ? "escalated" : "asked");
        }
      /* Whoever watches learns of the stop before of the state it leads to. */
      g_signal_emit (self, signals[STOPPED], 0, &self->stop_report);

      /* The backend ended on its own, its pool with it: the restart
       * policy applies as to any backend that ended. */
      if (self->pool_main_ended &&
          (self->profile->restart.policy == TETHER_RESTART_ALWAYS ||
           (self->profile->restart.policy == TETHER_RESTART_ON_FAILURE && self->stop_ends_failed)))
        schedule_restart (self);
      self->pool_main_ended = FALSE;

      /* A restart starts the workers on the same socket. */
      if (self->pool != NULL && !self->restarting && self->restart_timer == 0)
        tether_pool_close (self->pool);

      /* A start timeout ends in FAILED; an asked-for stop in STOPPED. */
      if (self->stop_ends_failed)
        set_state (self, TETHER_STATE_FAILED);
      else
        {
          if (!self->keep_message)
            set_message (self, self->stop_report.forced ? _("Stopped by force") : _("Stopped"));
          set_state (self, TETHER_STATE_STOPPED);
        }
      self->stop_ends_failed = FALSE;
      self->keep_message = FALSE;

      while (self->stop_tasks->len > 0)
        {
          GTask *task = g_ptr_array_steal_index (self->stop_tasks, 0);
          TetherStopReport *report = g_memdup2 (&self->stop_report, sizeof *report);

          g_task_return_pointer (task, report, g_free);
          g_object_unref (task);
        }
      return;
    }

  /* The backend ended on its own. An unknown status (a MAINPID= process
   * that was not ours to reap) is no failure. */
  {
    gboolean success = self->main_exited &&
                       (self->main_wait_status < 0 ||
                        (WIFEXITED (self->main_wait_status) && WEXITSTATUS (self->main_wait_status) == 0));
    g_autofree char *text = self->main_exited ? describe_wait_status (self->main_wait_status)
                                              : g_strdup (_("The backend’s processes all ended"));

    set_message (self, text);
    /* Decide on a restart before announcing the state, so that whoever
     * watches the state sees is_active() tell the truth. */
    if ((self->profile->restart.policy == TETHER_RESTART_ALWAYS) ||
        (self->profile->restart.policy == TETHER_RESTART_ON_FAILURE && !success))
      schedule_restart (self);
    if (self->pool != NULL && self->restart_timer == 0)
      tether_pool_close (self->pool);
    set_state (self, success ? TETHER_STATE_STOPPED : TETHER_STATE_FAILED);
    if (self->start_task != NULL)
      {
        g_autofree char *said = last_stderr_lines (self, 5);

        return_start (self, said != NULL
                            ? g_error_new (TETHER_ERROR, TETHER_ERROR_SPAWN,
                                           _("The backend ended while starting: %s. Its last words on stderr:\n%s"),
                                           text, said)
                            : g_error_new (TETHER_ERROR, TETHER_ERROR_SPAWN,
                                           _("The backend ended while starting: %s"), text));
      }
  }
}

/* ---- start ------------------------------------------------------------- */

static gboolean
on_start_timeout (gpointer user_data)
{
  TetherSupervisor *self = user_data;
  g_autofree char *text = NULL;

  self->start_timer = 0;
  if (self->main_ready && has_managed_pool (self))
    text = g_strdup_printf (_("Only %u of %u workers were ready within %g s"),
                            tether_pool_get_actual (self->pool), tether_pool_get_target (self->pool),
                            self->profile->start_timeout);
  else
    text = g_strdup_printf (_("The backend did not report READY=1 within %g s"),
                            self->profile->start_timeout);
  set_message (self, text);
  return_start (self, g_error_new_literal (TETHER_ERROR, TETHER_ERROR_FAILED, text));
  self->stop_ends_failed = TRUE;
  begin_stop (self, FALSE);
  return G_SOURCE_REMOVE;
}

static void
fill_spawn_request (TetherSupervisor   *self,
                    TetherSpawnRequest *request)
{
  /* Output goes to the log, which copies it on to set_stdio's. */
  *request = (TetherSpawnRequest) {
    .argv = (const char * const *) self->run_argv,
    .envp = (const char * const *) self->run_env,
    .cwd = self->profile->cwd,
    .is_main = TRUE,
    .redirect_stdio = TRUE,
    .stdout_fd = tether_log_get_stdout_fd (self->log),
    .stderr_fd = tether_log_get_stderr_fd (self->log),
    /* Windows: SIGINT as the stop signal means CTRL_C_EVENT, which the
     * backend must be started for (src/win32/PROTOCOL.md). */
    .console_ctrl_c = self->profile->stop.signal == SIGINT,
  };
}

static void
begin_pool (TetherSupervisor *self)
{
  TetherSpawnRequest request;

  fill_spawn_request (self, &request);
  tether_pool_begin (self->pool, self->owner, &request, self->main_pid);
}

/* The first process of a run is there: the tree exists. */
static void
tree_spawned (TetherSupervisor *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OWNER_KIND]);
  update_can (self);
  if (tether_sampler_get_owner (self->sampler) != self->owner)
    tether_sampler_set_owner (self->sampler, self->owner);
}

static void
on_pool_worker_spawned (TetherPool       *pool,
                        int               pid,
                        TetherSupervisor *self)
{
  if (has_main_process (self))
    return;
  tree_spawned (self);
  /* A stop (or a failed start) came before the tree existed. */
  if (self->stop_requested && self->phase == TETHER_PHASE_NONE)
    begin_stop (self, FALSE);
}

static void
on_pool_spawn_failed (TetherPool       *pool,
                      const char       *message,
                      TetherSupervisor *self)
{
  /* A worker that cannot start now will not start at the next try: the
   * start fails (later, the pool backs off and says so). */
  if (self->state != TETHER_STATE_STARTING || self->stop_requested)
    return;
  set_message (self, message);
  self->keep_message = TRUE;
  return_start (self, g_error_new_literal (TETHER_ERROR, TETHER_ERROR_SPAWN, message));
  self->stop_ends_failed = TRUE;
  if (tree_is_live (self))
    begin_stop (self, FALSE);
  else if (tether_pool_get_n_spawning (self->pool) > 0)
    self->stop_requested = TRUE; /* the next worker's spawn begins the stop */
  else
    {
      tether_pool_end (self->pool, NULL);
      tether_pool_close (self->pool);
      set_state (self, TETHER_STATE_FAILED);
      self->stop_ends_failed = FALSE;
      self->keep_message = FALSE;
    }
}

static void
on_pool_changed (TetherPool       *pool,
                 GParamSpec       *pspec,
                 TetherSupervisor *self)
{
  maybe_become_running (self);
  update_can (self);
}

static void
on_spawned (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(TetherSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  pid_t pid;

  pid = tether_owner_spawn_finish (TETHER_OWNER (source), result, &error);
  if (source != (GObject *) self->owner)
    return; /* a run that was already abandoned */

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OWNER_KIND]);

  if (pid <= 0)
    {
      set_message (self, error->message);
      set_state (self, TETHER_STATE_FAILED);
      self->stop_requested = FALSE;
      while (self->stop_tasks->len > 0)
        {
          GTask *task = g_ptr_array_steal_index (self->stop_tasks, 0);
          g_task_return_pointer (task, g_new0 (TetherStopReport, 1), g_free);
          g_object_unref (task);
        }
      return_start (self, g_steal_pointer (&error));
      return;
    }

  /* The owner's: a MAINPID= heard before the spawn's reply stays main. */
  set_main_pid (self, tether_owner_get_main_pid (self->owner));
  tree_spawned (self);
  if (self->state != TETHER_STATE_STARTING)
    return; /* already ended meanwhile */

  if (self->stop_requested && self->phase == TETHER_PHASE_NONE)
    {
      /* A stop arrived before the tree existed: honour it now. */
      begin_stop (self, FALSE);
      return;
    }

  /* With the main pid known, the pool can tell its workers from it. */
  if (self->pool != NULL)
    begin_pool (self);

  if (self->profile->ready == TETHER_READY_SPAWN || self->ready_early)
    self->main_ready = TRUE;
  maybe_become_running (self);
}

/* The checkpoint a start runs at: the rollback's, or with "resume":
 * "last-checkpoint" the newest on disk; NULL for none. */
static const char *
start_checkpoint (TetherSupervisor *self)
{
  const TetherJournalEntry *last;

  if (self->rollback_id != NULL)
    return self->rollback_id;
  if (self->profile->rollback.resume != TETHER_ROLLBACK_RESUME_LAST_CHECKPOINT)
    return NULL;
  last = tether_journal_get_last_checkpoint (self->journal);
  return last != NULL ? last->id : NULL;
}

static char **
build_environment (TetherSupervisor *self)
{
  char **env = g_get_environ ();

  for (guint i = 0; self->profile->env[i] != NULL; i++)
    {
      const char *eq = strchr (self->profile->env[i], '=');
      g_autofree char *key = g_strndup (self->profile->env[i], eq - self->profile->env[i]);
      env = g_environ_setenv (env, key, eq + 1, TRUE);
    }

  /* None on Windows (tether-unsupported-win32.c). */
  if (tether_notify_get_socket_path (self->notify) != NULL)
    env = g_environ_setenv (env, "NOTIFY_SOCKET",
                            tether_notify_get_socket_path (self->notify), TRUE);
  else
    env = g_environ_unsetenv (env, "NOTIFY_SOCKET");
  env = g_environ_unsetenv (env, "WATCHDOG_PID");
  if (self->profile->health.watchdog > 0)
    {
      g_autofree char *usec = g_strdup_printf ("%" G_GINT64_FORMAT,
                                               seconds_to_usec (self->profile->health.watchdog));
      env = g_environ_setenv (env, "WATCHDOG_USEC", usec, TRUE);
    }
  else
    env = g_environ_unsetenv (env, "WATCHDOG_USEC");
  /* Tether's own bookkeeping never leaks into the backend. */
  env = g_environ_unsetenv (env, "TETHER_SHIM");
  /* What lets the next start find this run's leftovers (tether-leftovers.h). */
  env = g_environ_setenv (env, "TETHER_PROFILE", self->profile->id, TRUE);
  {
    const char *checkpoint = start_checkpoint (self);
    if (checkpoint != NULL)
      env = g_environ_setenv (env, self->profile->rollback.env, checkpoint, TRUE);
  }
  return env;
}

/* command with {checkpoint} replaced (by nothing when there is none). */
static char **
build_argv (TetherSupervisor *self)
{
  const char *checkpoint = start_checkpoint (self);
  guint n = g_strv_length (self->profile->command);
  char **argv = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    {
      g_auto(GStrv) parts = g_strsplit (self->profile->command[i], "{checkpoint}", -1);
      argv[i] = g_strjoinv (checkpoint != NULL ? checkpoint : "", parts);
    }
  return argv;
}

static gboolean
launch (TetherSupervisor  *self,
        GError           **error)
{
  g_autofree char *executable = NULL;

  executable = tether_profile_find_executable (self->profile, error);
  if (executable == NULL)
    return FALSE;

  if (!g_file_test (self->profile->cwd, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("The working directory %s does not exist"), self->profile->cwd);
      return FALSE;
    }

  if (self->notify == NULL)
    {
      self->notify = tether_notify_new (error);
      if (self->notify == NULL)
        return FALSE;
      tether_notify_set_sender_filter (self->notify, judge_sender, self, NULL);
      g_signal_connect (self->notify, "message", G_CALLBACK (on_notify_message), self);
    }

  if (self->owner != NULL)
    {
      /* Its tree has ended; letting go also lets its shim exit. */
      g_signal_handlers_disconnect_by_data (self->owner, self);
      tether_owner_abandon (self->owner);
      g_clear_object (&self->owner);
    }

  if (!tether_log_start (self->log, error))
    return FALSE;
  self->log_seq_at_launch = tether_log_get_last_seq (self->log);
  tether_log_set_tee (self->log, self->stdout_fd, self->stderr_fd);

  /* Once per start: restarts, resizes and recycles keep the port. */
  if (self->pool != NULL && !tether_pool_open (self->pool, error))
    return FALSE;

  g_strfreev (self->run_env);
  self->run_env = build_environment (self);
  g_strfreev (self->run_argv);
  self->run_argv = build_argv (self);
  self->owner = self->owner_factory != NULL
    ? self->owner_factory (self->owner_kind, self->owner_factory_data)
    : tether_owner_new (self->owner_kind);
  g_signal_connect (self->owner, "main-exited", G_CALLBACK (on_main_exited), self);
  g_signal_connect (self->owner, "empty", G_CALLBACK (on_tree_empty), self);

  self->main_exited = FALSE;
  self->main_wait_status = 0;
  cancel_successor_search (self);
  self->stop_requested = FALSE;
  self->stop_ends_failed = FALSE;
  self->keep_message = FALSE;
  self->ready_early = FALSE;
  self->main_ready = !has_main_process (self);
  self->watchdog_usec = seconds_to_usec (self->profile->health.watchdog);
  set_main_pid (self, 0);
  set_status_text (self, NULL);
  set_message (self, NULL);

  /* Spawning resolves the owner kind at once; announce STARTING after it so
   * the first state report already names the real kind. */
  if (has_main_process (self))
    {
      TetherSpawnRequest request;

      fill_spawn_request (self, &request);
      tether_owner_spawn_async (self->owner, &request, NULL, on_spawned, g_object_ref (self));
    }
  else
    begin_pool (self);
  set_state (self, TETHER_STATE_STARTING);
  g_clear_handle_id (&self->start_timer, g_source_remove);
  /* Workers can fail to come up whatever the ready mode. */
  if (self->profile->ready == TETHER_READY_NOTIFY || !has_main_process (self))
    {
      gint64 usec = seconds_to_usec (self->profile->start_timeout);

      self->start_timer = timeout_add_usec (usec, on_start_timeout, self);
      self->start_deadline = g_get_monotonic_time () + usec;
    }
  return TRUE;
}

static gboolean
on_restart_timer (gpointer user_data)
{
  TetherSupervisor *self = user_data;
  g_autoptr(GError) error = NULL;

  self->restart_timer = 0;
  if (!launch (self, &error))
    {
      if (self->pool != NULL)
        tether_pool_close (self->pool);
      set_message (self, error->message);
      set_state (self, TETHER_STATE_FAILED);
    }
  update_can (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_restart (TetherSupervisor *self)
{
  const TetherProfile *p = self->profile;
  double delay;

  if (self->n_restarts >= p->restart.max_restarts)
    {
      g_autofree char *text = g_strdup_printf (_("%s; gave up after %u restarts"),
                                               self->message, self->n_restarts);
      set_message (self, text);
      return;
    }
  delay = p->restart.backoff[MIN (self->n_restarts, p->restart.n_backoff - 1)];
  self->n_restarts++;
  self->restart_timer = timeout_add_usec (seconds_to_usec (delay), on_restart_timer, self);
}

gboolean
tether_supervisor_is_active (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  /* A restart's or a rollback's stop is half of it: STOPPED in between. */
  return tree_is_live (self) ||
         self->state == TETHER_STATE_STARTING ||
         self->restart_timer != 0 ||
         self->restarting ||
         self->rollback_task != NULL;
}

void
tether_supervisor_start (TetherSupervisor    *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (TETHER_IS_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_supervisor_start);

  switch (self->state)
    {
    case TETHER_STATE_RUNNING:
    case TETHER_STATE_NOT_RESPONDING:
    case TETHER_STATE_FROZEN:
      g_task_return_boolean (task, TRUE);
      return;
    case TETHER_STATE_STARTING:
      if (self->start_task == NULL)
        break;
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("The backend is already starting"));
      return;
    case TETHER_STATE_STOPPING:
    case TETHER_STATE_KILLING:
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("The backend is still stopping"));
      return;
    case TETHER_STATE_STOPPED:
    case TETHER_STATE_FAILED:
    default:
      break;
    }

  if (tree_is_live (self))
    {
      /* Failed, but some of its processes remain: stop them first. */
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("Processes of the previous run are still alive; stop them first"));
      return;
    }

  g_clear_handle_id (&self->restart_timer, g_source_remove);
  self->n_restarts = 0;
  self->start_task = g_steal_pointer (&task);
  /* Where to resume may be in the journal: read it first (once). */
  if (!tether_journal_is_loaded (self->journal))
    {
      self->start_after_load = TRUE;
      set_state (self, TETHER_STATE_STARTING);
      return;
    }
  if (!launch (self, &error))
    {
      if (self->pool != NULL && !self->restarting)
        tether_pool_close (self->pool);
      set_message (self, error->message);
      set_state (self, TETHER_STATE_FAILED);
      return_start (self, g_steal_pointer (&error));
    }
}

gboolean
tether_supervisor_start_finish (TetherSupervisor  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
stop_common (TetherSupervisor    *self,
             gboolean             forced,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_supervisor_stop);
  g_clear_handle_id (&self->restart_timer, g_source_remove);
  update_can (self);

  if (!tree_is_live (self))
    {
      if (self->state == TETHER_STATE_STARTING)
        {
          /* The shim has not reported yet; wait for the tree to exist. */
          g_ptr_array_add (self->stop_tasks, task);
          self->stop_requested = TRUE;
          return;
        }
      /* Nothing runs and nothing will: the port is free again. */
      if (self->pool != NULL && !self->restarting)
        tether_pool_close (self->pool);
      g_task_return_pointer (task, g_new0 (TetherStopReport, 1), g_free);
      g_object_unref (task);
      return;
    }

  g_ptr_array_add (self->stop_tasks, task);
  begin_stop (self, forced);
}

void
tether_supervisor_stop (TetherSupervisor    *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  stop_common (self, FALSE, cancellable, callback, user_data);
}

void
tether_supervisor_kill (TetherSupervisor    *self,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  stop_common (self, TRUE, cancellable, callback, user_data);
}

gboolean
tether_supervisor_stop_finish (TetherSupervisor  *self,
                               GAsyncResult      *result,
                               TetherStopReport  *report,
                               GError           **error)
{
  g_autofree TetherStopReport *r = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return FALSE;
  if (report != NULL)
    *report = *r;
  return TRUE;
}

static void
restart_started (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  TETHER_SUPERVISOR (source)->restarting = FALSE;
  update_can (TETHER_SUPERVISOR (source));
  if (tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
restart_stopped (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, NULL, &error))
    {
      TETHER_SUPERVISOR (source)->restarting = FALSE;
      update_can (TETHER_SUPERVISOR (source));
      g_task_return_error (task, error);
      return;
    }
  tether_supervisor_start (TETHER_SUPERVISOR (source), g_task_get_cancellable (task),
                           restart_started, g_object_ref (task));
}

void
tether_supervisor_restart (TetherSupervisor    *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (TETHER_IS_SUPERVISOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_supervisor_restart);
  self->restarting = TRUE;
  tether_supervisor_stop (self, cancellable, restart_stopped, task);
}

gboolean
tether_supervisor_restart_finish (TetherSupervisor  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_subtree_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherOwnerCount count;
  GError *error = NULL;

  if (tether_owner_verb_finish (TETHER_OWNER (source), result, &count, &error))
    g_task_return_int (task, count.n_reached);
  else
    g_task_return_error (task, error);
}

/* sig 0: freeze and kill the subtree; else sig to pid, and to its
 * descendants when subtree. Members only: the owner checks each. */
static void
subtree_verb (TetherSupervisor    *self,
              pid_t                pid,
              int                  sig,
              gboolean             subtree,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, subtree_verb);
  if (!tether_supervisor_get_can_signal (self))
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY, _("The backend is not running"));
      g_object_unref (task);
      return;
    }
  if (sig == 0)
    tether_owner_kill_subtree_async (self->owner, pid, cancellable, on_subtree_done, task);
  else if (subtree)
    tether_owner_signal_subtree_async (self->owner, pid, sig, cancellable, on_subtree_done, task);
  else
    tether_owner_signal_async (self->owner, pid, sig, cancellable, on_subtree_done, task);
}

void
tether_supervisor_send_signal (TetherSupervisor    *self,
                               pid_t                pid,
                               int                  sig,
                               gboolean             subtree,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  g_return_if_fail (sig > 0);
  subtree_verb (self, pid, sig, subtree, cancellable, callback, user_data);
}

void
tether_supervisor_kill_subtree (TetherSupervisor    *self,
                                pid_t                pid,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  subtree_verb (self, pid, 0, TRUE, cancellable, callback, user_data);
}

void
tether_supervisor_stop_subtree (TetherSupervisor    *self,
                                pid_t                pid,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  subtree_verb (self, pid, SIGTERM, TRUE, cancellable, callback, user_data);
}

gboolean
tether_supervisor_subtree_finish (TetherSupervisor  *self,
                                  GAsyncResult      *result,
                                  guint             *n_reached,
                                  GError           **error)
{
  gssize n;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  n = g_task_propagate_int (G_TASK (result), error);
  if (n < 0)
    return FALSE;
  if (n_reached != NULL)
    *n_reached = (guint) n;
  return TRUE;
}

/* ---- can I? ------------------------------------------------------------ */

/* The one place the rules live. A failed backend may leave processes
 * behind: they can still be stopped, and nothing new starts over them. */
static void
compute_can (TetherSupervisor *self,
             gboolean          can[N_CAN])
{
  TetherState state = self->state;
  gboolean live = tree_is_live (self);

  can[CAN_START] = !live && (state == TETHER_STATE_STOPPED || state == TETHER_STATE_FAILED);
  can[CAN_STOP] = tether_supervisor_is_active (self) &&
                  state != TETHER_STATE_STOPPING && state != TETHER_STATE_KILLING;
  can[CAN_KILL] = (live || state == TETHER_STATE_STARTING) && state != TETHER_STATE_KILLING;
  can[CAN_RESTART] = state == TETHER_STATE_RUNNING || state == TETHER_STATE_NOT_RESPONDING;
  can[CAN_SIGNAL] = live && state != TETHER_STATE_KILLING;
  can[CAN_RESIZE] = self->pool != NULL && tether_pool_is_running (self->pool) &&
                    (state == TETHER_STATE_RUNNING || state == TETHER_STATE_NOT_RESPONDING);
}

static void
update_can (TetherSupervisor *self)
{
  gboolean can[N_CAN];

  compute_can (self, can);
  for (guint i = 0; i < N_CAN; i++)
    if (can[i] != self->can[i])
      {
        self->can[i] = can[i];
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_START + i]);
      }
}

gboolean
tether_supervisor_get_can_start (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  return self->can[CAN_START];
}

gboolean
tether_supervisor_get_can_stop (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  return self->can[CAN_STOP];
}

gboolean
tether_supervisor_get_can_kill (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  return self->can[CAN_KILL];
}

gboolean
tether_supervisor_get_can_restart (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  return self->can[CAN_RESTART];
}

gboolean
tether_supervisor_get_can_signal (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  return self->can[CAN_SIGNAL];
}

gboolean
tether_supervisor_can_signal_pid (TetherSupervisor *self,
                                  pid_t             pid)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  return self->can[CAN_SIGNAL] && tether_owner_is_member (self->owner, pid);
}

guint
tether_supervisor_get_n_members (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), 0);
  return tree_is_live (self) ? tether_owner_get_n_members (self->owner) : 0;
}

/* ---- getters ----------------------------------------------------------- */

TetherProfile *
tether_supervisor_get_profile (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->profile;
}

TetherState
tether_supervisor_get_state (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), TETHER_STATE_STOPPED);
  return self->state;
}

TetherPhase
tether_supervisor_get_phase (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), TETHER_PHASE_NONE);
  return self->phase;
}

gint64
tether_supervisor_get_phase_deadline (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), 0);
  return self->phase_deadline;
}

const char *
tether_supervisor_get_status_text (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->status_text;
}

const char *
tether_supervisor_get_message (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->message;
}

pid_t
tether_supervisor_get_main_pid (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), 0);
  return self->main_pid;
}

TetherOwner *
tether_supervisor_get_owner (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->owner;
}

TetherSampler *
tether_supervisor_get_sampler (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->sampler;
}

TetherOwnerKind
tether_supervisor_get_owner_kind (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), TETHER_OWNER_AUTO);
  return self->owner != NULL ? tether_owner_get_kind (self->owner) : self->owner_kind;
}

const char *
tether_supervisor_get_notify_socket (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->notify != NULL ? tether_notify_get_socket_path (self->notify) : NULL;
}

const TetherStopReport *
tether_supervisor_get_last_stop_report (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return &self->stop_report;
}

guint
tether_supervisor_get_n_restarts (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), 0);
  return self->n_restarts;
}

GPtrArray *
tether_supervisor_get_checkpoints (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->checkpoints;
}

static void
on_quiet_restart_done (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!tether_supervisor_restart_finish (TETHER_SUPERVISOR (source), result, &error))
    g_message ("The restart after it stopped responding failed: %s", error->message);
}

/* restart.on_unresponsive: the same stop and start as the verb. */
static void
restart_quietly (TetherSupervisor *self)
{
  tether_supervisor_restart (self, NULL, on_quiet_restart_done, NULL);
}

gint64
tether_supervisor_get_unresponsive_since (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), 0);
  return self->state == TETHER_STATE_NOT_RESPONDING ? self->unresponsive_since : 0;
}

/* ---- rollback ----------------------------------------------------------- */

/* freeze → the stop ladder on the frozen tree → start at the checkpoint →
 * journal the outcome. Each step is a verb the others use too. */

static void
end_rollback (TetherSupervisor *self,
              GError           *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->rollback_task);
  g_autofree char *id = g_steal_pointer (&self->rollback_id);

  g_clear_handle_id (&self->rollback_timer, g_source_remove);
  self->rollback_serial++;
  update_can (self);
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  journal_event (self, TETHER_JOURNAL_ROLLBACK, id, g_task_get_task_data (task),
                 error != NULL ? error->message : "ok");
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_memdup2 (&self->rollback_report, sizeof self->rollback_report), g_free);
}

static void
on_rollback_thawed (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  tether_owner_verb_finish (TETHER_OWNER (source), result, NULL, NULL);
}

/* Nothing is left frozen, ever: the tree as it was, and the error. */
static void
abandon_rollback (TetherSupervisor *self,
                  GError           *error)
{
  if (self->owner != NULL && tether_owner_is_running (self->owner))
    tether_owner_thaw_async (self->owner, NULL, on_rollback_thawed, NULL);
  if (self->state == TETHER_STATE_FROZEN)
    {
      set_state (self, TETHER_STATE_RUNNING);
      arm_watchdog (self);
      start_probing (self);
    }
  end_rollback (self, error);
}

static void
on_rollback_started (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(TetherSupervisor) self = user_data;
  GError *error = NULL;

  if (!tether_supervisor_start_finish (self, result, &error))
    {
      g_prefix_error (&error, _("The backend did not start again at the checkpoint: "));
      end_rollback (self, error);
      return;
    }
  self->rollback_report.to_running = (g_get_monotonic_time () - self->rollback_started) / (double) G_USEC_PER_SEC;
  end_rollback (self, NULL);
}

static void
on_rollback_stopped (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(TetherSupervisor) self = user_data;
  GError *error = NULL;

  if (!tether_supervisor_stop_finish (self, result, NULL, &error))
    {
      end_rollback (self, error);
      return;
    }
  self->rollback_report.to_stopped = (g_get_monotonic_time () - self->rollback_started) / (double) G_USEC_PER_SEC;
  /* rollback_id stays set for this start: build_environment reads it. */
  tether_supervisor_start (self, NULL, on_rollback_started, g_object_ref (self));
}

typedef struct
{
  TetherSupervisor *self;
  guint serial;
} RollbackStep;

/* rollback.method "http": the answer to the POST. Thawed either way:
 * nothing is left frozen, ever. */
static void
on_rollback_posted (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  RollbackStep *step = user_data;
  g_autoptr(TetherSupervisor) self = step->self;
  GError *error = NULL;
  gboolean ok = tether_http_post_json_finish (result, NULL, NULL, &error);
  gboolean current = step->serial == self->rollback_serial && self->rollback_task != NULL;

  g_free (step);
  if (!current)
    {
      g_clear_error (&error);
      return;
    }
  if (!ok)
    {
      g_prefix_error (&error, _("The backend did not roll back; it was thawed and runs on: "));
      abandon_rollback (self, error);
      return;
    }
  tether_owner_thaw_async (self->owner, NULL, on_rollback_thawed, NULL);
  set_state (self, TETHER_STATE_RUNNING);
  arm_watchdog (self);
  start_probing (self);
  self->rollback_report.to_stopped = 0;
  self->rollback_report.to_running = (g_get_monotonic_time () - self->rollback_started) / (double) G_USEC_PER_SEC;
  end_rollback (self, NULL);
}

static void
ask_backend_to_roll_back (TetherSupervisor *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  const char *reason = g_task_get_task_data (self->rollback_task);
  RollbackStep *step = g_new0 (RollbackStep, 1);
  char *end;
  guint64 number;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "rollbackIndex");
  /* A number when the id is one (as the backend's counters are). */
  number = g_ascii_strtoull (self->rollback_id, &end, 10);
  if (*end == '\0' && g_ascii_isdigit (self->rollback_id[0]) && number <= (1ULL << 53))
    json_builder_add_int_value (b, (gint64) number);
  else
    json_builder_add_string_value (b, self->rollback_id);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, reason != NULL ? reason : "");
  json_builder_end_object (b);
  body = json_builder_get_root (b);

  step->self = g_object_ref (self);
  step->serial = self->rollback_serial;
  tether_http_post_json_async (self->profile->rollback.url, body, self->profile->rollback.timeout,
                               NULL, on_rollback_posted, step);
}

static void
on_rollback_frozen (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  RollbackStep *step = user_data;
  g_autoptr(TetherSupervisor) self = step->self;
  g_autoptr(GError) error = NULL;
  gboolean ok = tether_owner_verb_finish (TETHER_OWNER (source), result, NULL, &error);
  gboolean current = step->serial == self->rollback_serial && self->rollback_task != NULL;

  g_free (step);
  if (!current)
    return; /* timed out, and thawed, already */
  if (!ok || self->stop_requested || self->state != TETHER_STATE_FROZEN)
    {
      abandon_rollback (self, !ok ? g_error_new (TETHER_ERROR, TETHER_ERROR_OWNER, _("Could not freeze the backend: %s"),
                                                 error->message)
                                  : g_error_new_literal (TETHER_ERROR, TETHER_ERROR_BUSY,
                                                         _("The backend was stopped during the rollback")));
      return;
    }
  g_clear_handle_id (&self->rollback_timer, g_source_remove);
  self->rollback_report.to_frozen = (g_get_monotonic_time () - self->rollback_started) / (double) G_USEC_PER_SEC;

  if (self->profile->rollback.method == TETHER_ROLLBACK_HTTP)
    {
      ask_backend_to_roll_back (self);
      return;
    }

  /* The ladder's first signal is sent while everything is still frozen;
   * thawing afterwards lets it be heard before anything else runs. */
  if (self->profile->rollback.stop == TETHER_ROLLBACK_STOP_KILL)
    tether_supervisor_kill (self, NULL, on_rollback_stopped, g_object_ref (self));
  else
    {
      tether_supervisor_stop (self, NULL, on_rollback_stopped, g_object_ref (self));
      tether_owner_thaw_async (self->owner, NULL, on_rollback_thawed, NULL);
    }
}

static gboolean
on_rollback_freeze_timeout (gpointer user_data)
{
  TetherSupervisor *self = user_data;

  self->rollback_timer = 0;
  abandon_rollback (self, g_error_new (TETHER_ERROR, TETHER_ERROR_TIMED_OUT,
                                       _("The backend did not freeze within %g s; it was thawed and runs on"),
                                       self->profile->rollback.timeout));
  return G_SOURCE_REMOVE;
}

void
tether_supervisor_rollback (TetherSupervisor    *self,
                            const char          *checkpoint,
                            const char          *reason,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  gboolean known = FALSE;

  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  g_return_if_fail (checkpoint != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_supervisor_rollback);
  g_task_set_task_data (task, g_strdup (reason), g_free);

  if (self->rollback_task != NULL)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY, _("A rollback is already under way"));
      return;
    }
  if (self->state != TETHER_STATE_RUNNING && self->state != TETHER_STATE_NOT_RESPONDING)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("Can only roll back a running backend (it is %s)"),
                               tether_state_to_label (self->state));
      return;
    }
  for (guint i = 0; i < self->checkpoints->len && !known; i++)
    known = g_str_equal (((TetherCheckpoint *) g_ptr_array_index (self->checkpoints, i))->id, checkpoint);
  if (!known)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                               _("Unknown checkpoint “%s”: the backend has not reported it (see tetherctl checkpoints)"),
                               checkpoint);
      return;
    }
  if (self->profile->rollback.method == TETHER_ROLLBACK_HTTP && self->main_pid <= 0)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("The backend has no main process to serve %s"), self->profile->rollback.url);
      return;
    }

  self->rollback_task = g_steal_pointer (&task);
  g_free (self->rollback_id);
  self->rollback_id = g_strdup (checkpoint);
  self->rollback_serial++;
  self->rollback_started = g_get_monotonic_time ();
  memset (&self->rollback_report, 0, sizeof self->rollback_report);
  g_clear_handle_id (&self->watchdog_timer, g_source_remove);
  stop_probing (self);
  forget_unresponsive (self);
  set_state (self, TETHER_STATE_FROZEN);

  {
    RollbackStep *step = g_new0 (RollbackStep, 1);

    step->self = g_object_ref (self);
    step->serial = self->rollback_serial;
    /* By HTTP, the process that serves the endpoint must answer. */
    if (self->profile->rollback.method == TETHER_ROLLBACK_HTTP)
      tether_owner_freeze_except_async (self->owner, self->main_pid, NULL, on_rollback_frozen, step);
    else
      tether_owner_freeze_async (self->owner, NULL, on_rollback_frozen, step);
  }
  self->rollback_timer = timeout_add_usec (seconds_to_usec (self->profile->rollback.timeout),
                                           on_rollback_freeze_timeout, self);
}

gboolean
tether_supervisor_rollback_finish (TetherSupervisor      *self,
                                   GAsyncResult          *result,
                                   TetherRollbackReport  *report,
                                   GError               **error)
{
  g_autofree TetherRollbackReport *r = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return FALSE;
  if (report != NULL)
    *report = *r;
  return TRUE;
}

TetherLog *
tether_supervisor_get_log (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->log;
}

TetherJournal *
tether_supervisor_get_journal (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->journal;
}

/* ---- the worker pool ---------------------------------------------------- */

TetherPool *
tether_supervisor_get_pool (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), NULL);
  return self->pool;
}

gboolean
tether_supervisor_get_can_resize (TetherSupervisor *self)
{
  g_return_val_if_fail (TETHER_IS_SUPERVISOR (self), FALSE);
  return self->can[CAN_RESIZE];
}

static void
on_pool_verb_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherSupervisor *self = g_task_get_source_object (task);
  const char *what = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok = tether_pool_verb_finish (TETHER_POOL (source), result, &error);

  journal_event (self, TETHER_JOURNAL_RESIZE, NULL, what, ok ? "ok" : error->message);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static GTask *
pool_task_new (TetherSupervisor    *self,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_supervisor_resize);
  if (self->pool == NULL)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("This backend’s profile has no worker pool"));
      g_clear_object (&task);
    }
  else if (self->state != TETHER_STATE_RUNNING && self->state != TETHER_STATE_NOT_RESPONDING)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("The worker pool can only change while the backend runs (it is %s)"),
                               tether_state_to_label (self->state));
      g_clear_object (&task);
    }
  return task;
}

void
tether_supervisor_resize (TetherSupervisor    *self,
                          guint                n_workers,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (TETHER_IS_SUPERVISOR (self));

  task = pool_task_new (self, cancellable, callback, user_data);
  if (task != NULL)
    g_task_set_task_data (task, g_strdup_printf (_("resize to %u workers"), n_workers), g_free);
  if (task != NULL)
    tether_pool_resize_async (self->pool, n_workers, cancellable, on_pool_verb_done, task);
}

void
tether_supervisor_recycle_workers (TetherSupervisor    *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (TETHER_IS_SUPERVISOR (self));

  task = pool_task_new (self, cancellable, callback, user_data);
  if (task != NULL)
    g_task_set_task_data (task, g_strdup (_("recycle every worker")), g_free);
  if (task != NULL)
    tether_pool_recycle_async (self->pool, cancellable, on_pool_verb_done, task);
}

gboolean
tether_supervisor_pool_finish (TetherSupervisor  *self,
                               GAsyncResult      *result,
                               GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- GObject ----------------------------------------------------------- */

static void
tether_supervisor_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  TetherSupervisor *self = TETHER_SUPERVISOR (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_PHASE:
      g_value_set_enum (value, self->phase);
      break;
    case PROP_PHASE_DEADLINE:
      g_value_set_int64 (value, self->phase_deadline);
      break;
    case PROP_STATUS_TEXT:
      g_value_set_string (value, self->status_text);
      break;
    case PROP_MESSAGE:
      g_value_set_string (value, self->message);
      break;
    case PROP_MAIN_PID:
      g_value_set_int (value, self->main_pid);
      break;
    case PROP_OWNER_KIND:
      g_value_set_enum (value, tether_supervisor_get_owner_kind (self));
      break;
    case PROP_CAN_START:
    case PROP_CAN_STOP:
    case PROP_CAN_KILL:
    case PROP_CAN_RESTART:
    case PROP_CAN_SIGNAL:
    case PROP_CAN_RESIZE:
      g_value_set_boolean (value, self->can[prop_id - PROP_CAN_START]);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_supervisor_dispose (GObject *object)
{
  TetherSupervisor *self = TETHER_SUPERVISOR (object);

  g_clear_handle_id (&self->phase_timer, g_source_remove);
  g_clear_handle_id (&self->start_timer, g_source_remove);
  g_clear_handle_id (&self->watchdog_timer, g_source_remove);
  g_clear_handle_id (&self->restart_timer, g_source_remove);
  cancel_successor_search (self);
  g_clear_handle_id (&self->rollback_timer, g_source_remove);
  stop_probing (self);
  forget_unresponsive (self);
  g_clear_object (&self->journal);
  if (self->pool != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->pool, self);
      g_clear_object (&self->pool);
    }

  if (self->owner != NULL)
    {
      /* Abandoning the owner kills its tree (the shim sees its socket
       * close); dropping the reference alone would not: the owner lives
       * until its shim exits. */
      g_signal_handlers_disconnect_by_data (self->owner, self);
      tether_owner_abandon (self->owner);
      g_clear_object (&self->owner);
    }
  if (self->sampler != NULL)
    tether_sampler_set_owner (self->sampler, NULL);
  if (self->notify != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->notify, self);
      tether_notify_set_sender_filter (self->notify, NULL, NULL, NULL);
      g_clear_object (&self->notify);
    }

  G_OBJECT_CLASS (tether_supervisor_parent_class)->dispose (object);
}

static void
tether_supervisor_finalize (GObject *object)
{
  TetherSupervisor *self = TETHER_SUPERVISOR (object);

  g_clear_pointer (&self->profile, tether_profile_unref);
  g_ptr_array_unref (self->stop_tasks);
  g_ptr_array_unref (self->checkpoints);
  g_clear_object (&self->sampler);
  g_free (self->status_text);
  g_free (self->message);
  g_strfreev (self->run_env);
  g_strfreev (self->run_argv);
  g_free (self->journal_warning);
  g_clear_object (&self->log);
  g_free (self->rollback_id);
  if (self->stdout_fd >= 0)
    close (self->stdout_fd);
  if (self->stderr_fd >= 0)
    close (self->stderr_fd);

  G_OBJECT_CLASS (tether_supervisor_parent_class)->finalize (object);
}

static void
tether_supervisor_class_init (TetherSupervisorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = tether_supervisor_get_property;
  object_class->dispose = tether_supervisor_dispose;
  object_class->finalize = tether_supervisor_finalize;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, TETHER_TYPE_STATE, TETHER_STATE_STOPPED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PHASE] =
    g_param_spec_enum ("phase", NULL, NULL, TETHER_TYPE_PHASE, TETHER_PHASE_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PHASE_DEADLINE] =
    g_param_spec_int64 ("phase-deadline", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS_TEXT] =
    g_param_spec_string ("status-text", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MESSAGE] =
    g_param_spec_string ("message", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MAIN_PID] =
    g_param_spec_int ("main-pid", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OWNER_KIND] =
    g_param_spec_enum ("owner-kind", NULL, NULL, TETHER_TYPE_OWNER_KIND, TETHER_OWNER_AUTO,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  {
    static const char *names[N_CAN] = { "can-start", "can-stop", "can-kill", "can-restart", "can-signal",
                                        "can-resize" };

    for (guint i = 0; i < N_CAN; i++)
      properties[PROP_CAN_START + i] =
        g_param_spec_boolean (names[i], NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  }
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* "checkpoint" (id, label-or-NULL): the backend reported X_TETHER_CHECKPOINT= */
  signals[CHECKPOINT] =
    g_signal_new ("checkpoint", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /* "stop-escalated" (TetherPhase next): a step of the ladder reached its
   * deadline -- the backend did not stop in time -- and the ladder moved
   * on to next. A force that was asked for is not an escalation. */
  signals[STOP_ESCALATED] =
    g_signal_new ("stop-escalated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, TETHER_TYPE_PHASE);
  /* "stopped" (const TetherStopReport *): a stop finished, whoever asked. */
  signals[STOPPED] =
    g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
tether_supervisor_init (TetherSupervisor *self)
{
  self->stop_tasks = g_ptr_array_new ();
  self->checkpoints = g_ptr_array_new_with_free_func (checkpoint_free);
  self->sampler = tether_sampler_new ();
  self->stdout_fd = self->stderr_fd = -1;
  compute_can (self, self->can);
}

static void
on_journal_loaded (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(TetherSupervisor) self = user_data;
  g_autoptr(GError) error = NULL;
  GPtrArray *entries;
  const char *message;

  tether_journal_load_finish (TETHER_JOURNAL (source), result, &error);
  if (self->journal == NULL)
    return; /* disposed meanwhile */

  message = tether_journal_get_load_message (self->journal);
  if (message != NULL)
    g_message ("%s: %s", tether_journal_get_path (self->journal), message);

  /* What earlier runs reported comes first; nothing is announced again. */
  g_ptr_array_set_size (self->checkpoints, 0);
  entries = tether_journal_get_entries (self->journal);
  for (guint i = 0; i < entries->len; i++)
    {
      TetherJournalEntry *entry = g_ptr_array_index (entries, i);
      if (entry->kind == TETHER_JOURNAL_CHECKPOINT)
        add_checkpoint (self, entry->id, entry->label, entry->time, FALSE);
    }

  if (self->start_after_load)
    {
      g_autoptr(GError) launch_error = NULL;

      self->start_after_load = FALSE;
      if (self->start_task != NULL && !self->stop_requested && !launch (self, &launch_error))
        {
          set_message (self, launch_error->message);
          set_state (self, TETHER_STATE_FAILED);
          return_start (self, g_steal_pointer (&launch_error));
        }
      else if (self->stop_requested)
        {
          /* Stopped before it began. */
          self->stop_requested = FALSE;
          set_state (self, TETHER_STATE_STOPPED);
          return_start (self, g_error_new_literal (TETHER_ERROR, TETHER_ERROR_FAILED,
                                                   _("The backend was stopped before it was ready")));
          while (self->stop_tasks->len > 0)
            {
              GTask *task = g_ptr_array_steal_index (self->stop_tasks, 0);
              g_task_return_pointer (task, g_new0 (TetherStopReport, 1), g_free);
              g_object_unref (task);
            }
        }
    }
}

TetherSupervisor *
tether_supervisor_new (TetherProfile   *profile,
                       TetherOwnerKind  owner_kind)
{
  TetherSupervisor *self;

  g_return_val_if_fail (profile != NULL, NULL);

  self = g_object_new (TETHER_TYPE_SUPERVISOR, NULL);
  self->profile = tether_profile_ref (profile);
  self->owner_kind = owner_kind;
  {
    g_autofree char *log_path = g_build_filename (g_get_user_state_dir (), "tether", profile->id,
                                                  "backend.log", NULL);

    self->log = tether_log_new (log_path, profile->log.lines,
                                (guint64) profile->log.max_size_mb << 20, profile->log.keep);
  }
  {
    g_autofree char *path = tether_journal_default_path (profile->id);

    self->journal = tether_journal_new (path);
    tether_journal_load_async (self->journal, NULL, on_journal_loaded, g_object_ref (self));
  }
  if (profile->pool.mode != TETHER_POOL_NONE)
    {
      self->pool = tether_pool_new (profile, self->sampler);
      g_signal_connect (self->pool, "worker-spawned", G_CALLBACK (on_pool_worker_spawned), self);
      g_signal_connect (self->pool, "spawn-failed", G_CALLBACK (on_pool_spawn_failed), self);
      g_signal_connect (self->pool, "notify::actual", G_CALLBACK (on_pool_changed), self);
      g_signal_connect (self->pool, "notify::target", G_CALLBACK (on_pool_changed), self);
    }
  compute_can (self, self->can);
  return self;
}

void
tether_supervisor_set_owner_factory (TetherSupervisor   *self,
                                     TetherOwnerFactory  factory,
                                     gpointer            user_data)
{
  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  self->owner_factory = factory;
  self->owner_factory_data = user_data;
}

void
tether_supervisor_set_stdio (TetherSupervisor *self,
                             int               stdout_fd,
                             int               stderr_fd)
{
  g_return_if_fail (TETHER_IS_SUPERVISOR (self));
  g_return_if_fail ((stdout_fd >= 0) == (stderr_fd >= 0));

  if (self->stdout_fd >= 0)
    close (self->stdout_fd);
  if (self->stderr_fd >= 0)
    close (self->stderr_fd);
#ifdef G_OS_UNIX
  self->stdout_fd = stdout_fd >= 0 ? fcntl (stdout_fd, F_DUPFD_CLOEXEC, 3) : -1;
  self->stderr_fd = stderr_fd >= 0 ? fcntl (stderr_fd, F_DUPFD_CLOEXEC, 3) : -1;
#else
  /* Not inherited: GSubprocess hands a child only what it is told to. */
  self->stdout_fd = stdout_fd >= 0 ? dup (stdout_fd) : -1;
  self->stderr_fd = stderr_fd >= 0 ? dup (stderr_fd) : -1;
#endif
}
