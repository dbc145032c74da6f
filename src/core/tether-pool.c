/* tether-pool.c: a prefork worker pool (managed and signals modes)
 *
 * Managed mode keeps one rule, applied after every event (reconcile):
 * the workers not retiring are "live"; while some are stale (a rolling
 * recycle marked them) one extra is wanted; a surplus is retired, oldest
 * (and stale) first; a stale worker is retired only while more than target
 * are ready; a shortfall is spawned, after a back-off when workers keep
 * ending on their own. Resizes and recycles only change the target or mark
 * workers, so two of them at once merge instead of racing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-pool.h"

#include "tether-leftovers.h"

#include <errno.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-enums.h"
#include "tether-error.h"
#include "tether-procfs.h"

#define MAX_EVENTS        256
#define CRASH_WINDOW_USEC (60 * G_USEC_PER_SEC)
/* Signals mode: one SIGTTIN/SIGTTOU at a time, or the master may see two
 * as one (a pending signal is not queued twice). */
#define SIGNAL_PACE_MS    150
/* While a resize waits, the tree is sampled this often. */
#define SETTLE_REFRESH_MS 250

typedef enum
{
  RETIRE_SIGNAL,   /* the stop signal was sent to the worker's subtree */
  RETIRE_TERM,     /* then SIGTERM */
  RETIRE_KILL,     /* then the forced kill */
} RetireStep;

typedef struct
{
  TetherPool *pool;
  guint id;
  pid_t pid;                 /* 0 while its spawn is in flight */
  guint slot;
  guint generation;
  TetherWorkerState state;
  TetherWorkerReason reason;
  gboolean stale;            /* to be replaced by the rolling recycle */
  gint64 spawned_at;         /* monotonic */
  gint64 last_heartbeat;     /* monotonic; 0 until its first WATCHDOG=1 */
  guint64 requests;
  RetireStep retire_step;
  guint retire_timer;
} Worker;

typedef struct
{
  guint generation;          /* workers the slot has had */
  TetherWorkerReason last_reason;
} Slot;

struct _TetherPool
{
  GObject parent_instance;

  TetherProfile *profile;
  TetherSampler *sampler;
  gulong sampler_handler;

  TetherOwner *owner;        /* during a run */
  gboolean running;
  gboolean holding;
  guint run_serial;
  char **worker_argv;
  char **worker_env;
  char *worker_cwd;
  gboolean redirect_stdio;
  int stdout_fd;
  int stderr_fd;
  pid_t main_pid;

  int listen_fd;
  char *address;

  guint target;
  guint actual;
  char *problem;

  GPtrArray *workers;        /* Worker, in spawn order */
  guint next_worker_id;
  GArray *slots;             /* Slot, index = slot - 1 */
  GArray *early_ready;       /* pid_t: READY=1 before its spawn's reply */

  GArray *crashes;           /* gint64 monotonic times of unexpected exits */
  gboolean gave_up;
  guint backoff_timer;
  guint heartbeat_timer;

  GPtrArray *tasks;          /* GTask: resizes and recycles waiting to settle */
  guint settle_timer;        /* the resize timeout */
  guint refresh_timer;

  int pending_signals;       /* signals mode: + TTIN, - TTOU still to send */
  GArray *master_children;   /* signals mode: the workers as last sampled, sorted pids */
  guint signal_timer;
  GRegex *worker_match;

  GPtrArray *events;         /* TetherPoolEvent */
  guint counts[TETHER_N_WORKER_REASONS];
};

enum {
  PROP_0,
  PROP_TARGET,
  PROP_ACTUAL,
  PROP_PROBLEM,
  N_PROPS
};

enum {
  WORKER_SPAWNED,
  WORKER_RETIRED,
  SPAWN_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (TetherPool, tether_pool, G_TYPE_OBJECT)

static void reconcile   (TetherPool *self);
static void check_settled (TetherPool *self);

const char *
tether_worker_reason_to_string (TetherWorkerReason reason)
{
  return tether_enum_to_nick (TETHER_TYPE_WORKER_REASON, reason);
}

const char *
tether_worker_reason_to_label (TetherWorkerReason reason)
{
  switch (reason)
    {
    case TETHER_WORKER_REASON_RESIZE: return _("the pool was made smaller");
    case TETHER_WORKER_REASON_RECYCLE: return _("a rolling recycle");
    case TETHER_WORKER_REASON_HEARTBEAT: return _("missed heartbeat");
    case TETHER_WORKER_REASON_MEMORY_SOFT: return _("memory over the soft limit");
    case TETHER_WORKER_REASON_MEMORY_HARD: return _("memory over the hard limit");
    case TETHER_WORKER_REASON_CPU: return _("CPU time over the limit");
    case TETHER_WORKER_REASON_REQUESTS: return _("request limit reached");
    case TETHER_WORKER_REASON_EXITED: return _("exited");
    case TETHER_WORKER_REASON_SPAWN_FAILED: return _("could not be started");
    case TETHER_WORKER_REASON_NOT_READY: return _("never became ready");
    case TETHER_WORKER_REASON_NONE:
    case TETHER_N_WORKER_REASONS:
    default:
      return "";
    }
}

const char *
tether_worker_state_to_string (TetherWorkerState state)
{
  return tether_enum_to_nick (TETHER_TYPE_WORKER_STATE, state);
}

static void
event_free (gpointer data)
{
  TetherPoolEvent *event = data;
  g_free (event->detail);
  g_free (event);
}

static void
worker_free (gpointer data)
{
  Worker *w = data;
  g_clear_handle_id (&w->retire_timer, g_source_remove);
  g_free (w);
}

/* ---- properties ----------------------------------------------------------- */

static void
set_problem (TetherPool *self,
             const char *problem)
{
  if (g_strcmp0 (self->problem, problem) == 0)
    return;
  g_free (self->problem);
  self->problem = g_strdup (problem);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROBLEM]);
}

static void
set_target (TetherPool *self,
            guint       target)
{
  if (self->target == target)
    return;
  self->target = target;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TARGET]);
}

static void
set_actual (TetherPool *self,
            guint       actual)
{
  if (self->actual == actual)
    return;
  self->actual = actual;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTUAL]);
}

static void
record_event (TetherPool         *self,
              pid_t               pid,
              guint               slot,
              TetherWorkerReason  reason,
              const char         *detail)
{
  TetherPoolEvent *event = g_new0 (TetherPoolEvent, 1);

  event->time = g_get_real_time ();
  event->pid = pid;
  event->slot = slot;
  event->reason = reason;
  event->detail = g_strdup (detail);
  if (self->events->len == MAX_EVENTS)
    g_ptr_array_remove_index (self->events, 0);
  g_ptr_array_add (self->events, event);
  self->counts[reason]++;
  g_debug ("Pool: worker %d (slot %u) %s%s%s", (int) pid, slot,
           tether_worker_reason_to_string (reason), detail ? ": " : "", detail ? detail : "");
}

/* ---- counting ------------------------------------------------------------- */

typedef struct
{
  guint live;      /* not retiring */
  guint ready;     /* live and ready */
  guint stale;     /* live and stale */
  guint retiring;
  guint starting;  /* live, not ready (spawns in flight included) */
} Counts;

static Counts
count_workers (TetherPool *self)
{
  Counts c = { 0, };

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (w->state == TETHER_WORKER_RETIRING)
        {
          c.retiring++;
          continue;
        }
      c.live++;
      if (w->state == TETHER_WORKER_READY)
        c.ready++;
      else
        c.starting++;
      if (w->stale)
        c.stale++;
    }
  return c;
}

static void
update_actual (TetherPool *self)
{
  if (self->profile->pool.mode == TETHER_POOL_MANAGED)
    set_actual (self, count_workers (self).ready);
}

static Worker *
find_worker (TetherPool *self,
             pid_t       pid)
{
  if (pid <= 0)
    return NULL;
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      if (w->pid == pid)
        return w;
    }
  return NULL;
}

static Worker *
find_worker_by_id (TetherPool *self,
                   guint       id)
{
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      if (w->id == id)
        return w;
    }
  return NULL;
}

static void
remove_worker (TetherPool *self,
               Worker     *w)
{
  g_ptr_array_remove (self->workers, w);
}

/* ---- the listening socket ------------------------------------------------- */

/* The process holding a TCP port in LISTEN state (anyone's): only on a
 * failed bind. */
static pid_t
find_port_holder (guint port)
{
  g_autoptr(GArray) pids = tether_find_tcp_listeners (port, TRUE);

  return pids->len > 0 ? g_array_index (pids, pid_t, 0) : 0;
}

static char *
describe_holder (pid_t pid)
{
  g_autofree char *comm_path = NULL;
  g_autofree char *comm = NULL;

  if (pid <= 0)
    return g_strdup ("");
  comm_path = g_strdup_printf ("/proc/%d/comm", (int) pid);
  if (g_file_get_contents (comm_path, &comm, NULL, NULL))
    g_strstrip (comm);
  /* Translators: appended to "Could not listen on ADDRESS: REASON" */
  return g_strdup_printf (_(" (held by process %d, %s)"), (int) pid, comm ? comm : "?");
}

static gboolean
parse_inet (const char       *listen,
            struct sockaddr_storage *ss,
            socklen_t        *len,
            guint            *port_out,
            GError          **error)
{
  const char *colon = strrchr (listen, ':');
  g_autofree char *host = g_strndup (listen, colon - listen);
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocketAddress) sa = NULL;
  guint port = (guint) g_ascii_strtoull (colon + 1, NULL, 10);

  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      host[strlen (host) - 1] = '\0';
      memmove (host, host + 1, strlen (host));
    }
  if (g_str_equal (host, "localhost"))
    address = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else if (g_str_equal (host, "*"))
    address = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  else
    address = g_inet_address_new_from_string (host);
  if (address == NULL)
    {
      /* Names are not resolved: that could block, and could change. */
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE,
                   _("Could not listen on %s: the host must be a numeric address, “localhost” or “*”"),
                   listen);
      return FALSE;
    }
  sa = g_inet_socket_address_new (address, (guint16) port);
  *len = (socklen_t) g_socket_address_get_native_size (sa);
  if (!g_socket_address_to_native (sa, ss, sizeof *ss, error))
    return FALSE;
  *port_out = port;
  return TRUE;
}

/* A unix socket left by an earlier run nobody answers on is removed; one
 * that answers is in use. */
static gboolean
clear_stale_unix_socket (const char *path,
                         GError    **error)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  struct stat st;
  int probe;
  int saved;

  if (lstat (path, &st) < 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_SPAWN,
                   _("Could not listen on %s: a file that is not a socket is in the way"), path);
      return FALSE;
    }
  g_strlcpy (sun.sun_path, path, sizeof sun.sun_path);
  probe = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0)
    return TRUE;
  saved = connect (probe, (struct sockaddr *) &sun, sizeof sun) < 0 ? errno : 0;
  close (probe);
  if (saved == 0 || saved == EAGAIN || saved == EINPROGRESS)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_SPAWN,
                   _("Could not listen on %s: another program is listening there"), path);
      return FALSE;
    }
  if (unlink (path) < 0 && errno != ENOENT)
    {
      saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_SPAWN,
                   _("Could not listen on %s: could not remove the old socket: %s"),
                   path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

gboolean
tether_pool_open (TetherPool  *self,
                  GError     **error)
{
  const char *listen_at = self->profile->pool.listen;
  struct sockaddr_storage ss = { 0, };
  socklen_t len = 0;
  guint port = 0;
  int fd;
  int one = 1;
  int backlog;

  g_return_val_if_fail (TETHER_IS_POOL (self), FALSE);

  if (self->profile->pool.mode != TETHER_POOL_MANAGED || self->listen_fd >= 0)
    return TRUE;

  if (g_path_is_absolute (listen_at))
    {
      struct sockaddr_un *sun = (struct sockaddr_un *) &ss;

      if (!clear_stale_unix_socket (listen_at, error))
        return FALSE;
      sun->sun_family = AF_UNIX;
      g_strlcpy (sun->sun_path, listen_at, sizeof sun->sun_path);
      len = sizeof *sun;
    }
  else if (!parse_inet (listen_at, &ss, &len, &port, error))
    return FALSE;

  fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_SPAWN,
                   _("Could not listen on %s: %s"), listen_at, g_strerror (saved));
      return FALSE;
    }
  if (ss.ss_family != AF_UNIX)
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);

  backlog = (int) MIN (8 * (guint64) self->profile->pool.max, 4096);
  if (bind (fd, (struct sockaddr *) &ss, len) < 0 || listen (fd, MAX (backlog, 8)) < 0)
    {
      int saved = errno;
      g_autofree char *holder = saved == EADDRINUSE && port > 0
                                ? describe_holder (find_port_holder (port)) : g_strdup ("");

      close (fd);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_SPAWN,
                   _("Could not listen on %s: %s%s"), listen_at, g_strerror (saved), holder);
      return FALSE;
    }

  self->listen_fd = fd;
  self->address = g_strdup (listen_at);
  return TRUE;
}

void
tether_pool_close (TetherPool *self)
{
  g_return_if_fail (TETHER_IS_POOL (self));

  if (self->listen_fd < 0)
    return;
  close (self->listen_fd);
  self->listen_fd = -1;
  if (g_path_is_absolute (self->address))
    g_unlink (self->address);
  g_clear_pointer (&self->address, g_free);
}

/* ---- tasks ---------------------------------------------------------------- */

static void
fail_tasks (TetherPool *self,
            GError     *error)
{
  g_clear_handle_id (&self->settle_timer, g_source_remove);
  g_clear_handle_id (&self->refresh_timer, g_source_remove);
  while (self->tasks->len > 0)
    {
      GTask *task = g_ptr_array_steal_index (self->tasks, 0);
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
  g_error_free (error);
}

static gboolean
is_settled (TetherPool *self)
{
  if (self->profile->pool.mode == TETHER_POOL_SIGNALS)
    return self->actual == self->target && self->pending_signals == 0;

  {
    Counts c = count_workers (self);
    return c.ready == self->target && c.live == self->target && c.stale == 0 && c.retiring == 0;
  }
}

static char *
describe_shortfall (TetherPool *self)
{
  if (self->profile->pool.mode == TETHER_POOL_SIGNALS)
    {
      if (self->actual > self->target)
        return g_strdup_printf (_("%u of %u workers: the server did not retire workers on SIGTTOU"),
                                self->actual, self->target);
      return g_strdup_printf (_("%u of %u workers: the server did not start workers on SIGTTIN"),
                              self->actual, self->target);
    }
  {
    Counts c = count_workers (self);

    if (c.retiring > 0)
      return g_strdup_printf (ngettext ("%u of %u workers ready; %u worker is still finishing its requests",
                                        "%u of %u workers ready; %u workers are still finishing their requests",
                                        c.retiring),
                              c.ready, self->target, c.retiring);
    return g_strdup_printf (_("%u of %u workers ready"), c.ready, self->target);
  }
}

static void
check_settled (TetherPool *self)
{
  if (!is_settled (self))
    return;

  if (self->profile->pool.mode == TETHER_POOL_SIGNALS || !self->gave_up)
    set_problem (self, NULL);
  g_clear_handle_id (&self->settle_timer, g_source_remove);
  g_clear_handle_id (&self->refresh_timer, g_source_remove);
  while (self->tasks->len > 0)
    {
      GTask *task = g_ptr_array_steal_index (self->tasks, 0);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static gboolean
on_settle_timeout (gpointer user_data)
{
  TetherPool *self = user_data;
  g_autofree char *what = describe_shortfall (self);
  g_autofree char *text = g_strdup_printf (_("%s after %g s"), what, self->profile->pool.resize_timeout);

  self->settle_timer = 0;
  /* Signals mode: the server said no; that stays visible until it does
   * what was asked. Managed mode: the pool keeps working on it. */
  if (self->profile->pool.mode == TETHER_POOL_SIGNALS)
    set_problem (self, what);
  fail_tasks (self, g_error_new_literal (TETHER_ERROR, TETHER_ERROR_TIMED_OUT, text));
  return G_SOURCE_REMOVE;
}

static gboolean
on_refresh_timer (gpointer user_data)
{
  TetherPool *self = user_data;

  if (self->sampler != NULL && self->running)
    tether_sampler_refresh (self->sampler);
  return G_SOURCE_CONTINUE;
}

static void
add_task (TetherPool *self,
          GTask      *task)
{
  g_ptr_array_add (self->tasks, task);
  /* A merged request waits as long as the newest asks. */
  g_clear_handle_id (&self->settle_timer, g_source_remove);
  self->settle_timer = g_timeout_add ((guint) (self->profile->pool.resize_timeout * 1000),
                                      on_settle_timeout, self);
  if (self->profile->pool.mode == TETHER_POOL_SIGNALS && self->refresh_timer == 0)
    self->refresh_timer = g_timeout_add (SETTLE_REFRESH_MS, on_refresh_timer, self);
}

/* ---- retiring ------------------------------------------------------------- */

static void
on_retire_verb_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* Not a member any more: it ended meanwhile, and its exit says so. */
  if (!tether_owner_verb_finish (TETHER_OWNER (source), result, NULL, &error) &&
      !g_error_matches (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER))
    g_debug ("Pool: %s", error->message);
}

static gboolean on_retire_timer (gpointer user_data);

static void
retire_step (TetherPool *self,
             Worker     *w,
             RetireStep  step)
{
  double timeout = 0;

  g_clear_handle_id (&w->retire_timer, g_source_remove);
  w->retire_step = step;
  if (self->owner == NULL || w->pid <= 0)
    return;

  switch (step)
    {
    case RETIRE_SIGNAL:
      timeout = self->profile->stop.graceful_timeout;
      if (timeout > 0)
        {
          tether_owner_signal_subtree_async (self->owner, w->pid, self->profile->stop.signal,
                                             NULL, on_retire_verb_done, NULL);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case RETIRE_TERM:
      w->retire_step = RETIRE_TERM;
      timeout = self->profile->stop.term_timeout;
      if (timeout > 0)
        {
          tether_owner_signal_subtree_async (self->owner, w->pid, SIGTERM,
                                             NULL, on_retire_verb_done, NULL);
          break;
        }
      G_GNUC_FALLTHROUGH;
    case RETIRE_KILL:
    default:
      w->retire_step = RETIRE_KILL;
      tether_owner_kill_subtree_async (self->owner, w->pid, NULL, on_retire_verb_done, NULL);
      return;
    }
  w->retire_timer = g_timeout_add ((guint) (timeout * 1000), on_retire_timer, w);
}

static gboolean
on_retire_timer (gpointer user_data)
{
  Worker *w = user_data;

  w->retire_timer = 0;
  g_debug ("Pool: worker %d did not stop in time", (int) w->pid);
  retire_step (w->pool, w, w->retire_step + 1);
  return G_SOURCE_REMOVE;
}

static void
retire (TetherPool         *self,
        Worker             *w,
        TetherWorkerReason  reason,
        const char         *detail,
        gboolean            forced)
{
  if (w->state == TETHER_WORKER_RETIRING)
    {
      if (forced && w->retire_step != RETIRE_KILL)
        retire_step (self, w, RETIRE_KILL);
      return;
    }

  w->state = TETHER_WORKER_RETIRING;
  w->reason = reason;
  g_array_index (self->slots, Slot, w->slot - 1).last_reason = reason;
  record_event (self, w->pid, w->slot, reason, detail);
  if (reason != TETHER_WORKER_REASON_RESIZE && reason != TETHER_WORKER_REASON_RECYCLE)
    g_signal_emit (self, signals[WORKER_RETIRED], 0, (int) w->pid, reason, detail);
  retire_step (self, w, forced ? RETIRE_KILL : RETIRE_SIGNAL);
  update_actual (self);
}

/* ---- spawning ------------------------------------------------------------- */

typedef struct
{
  TetherPool *pool;
  guint run_serial;
  guint worker_id;
} SpawnData;

static guint
take_slot (TetherPool *self,
           guint      *generation)
{
  guint slot;

  for (slot = 1; ; slot++)
    {
      gboolean taken = FALSE;

      for (guint i = 0; i < self->workers->len && !taken; i++)
        {
          Worker *w = g_ptr_array_index (self->workers, i);
          taken = w->slot == slot && w->state != TETHER_WORKER_RETIRING && !w->stale;
        }
      if (!taken)
        break;
    }
  while (self->slots->len < slot)
    {
      Slot empty = { 0, TETHER_WORKER_REASON_NONE };
      g_array_append_val (self->slots, empty);
    }
  *generation = g_array_index (self->slots, Slot, slot - 1).generation++;
  return slot;
}

static void
become_ready (TetherPool *self,
              Worker     *w)
{
  if (w->state != TETHER_WORKER_STARTING)
    return;
  w->state = TETHER_WORKER_READY;
  update_actual (self);
}

static void note_crash (TetherPool *self);

static void
on_worker_spawned (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  SpawnData *data = user_data;
  g_autoptr(TetherPool) self = data->pool;
  g_autoptr(GError) error = NULL;
  pid_t pid = tether_owner_spawn_finish (TETHER_OWNER (source), result, &error);
  Worker *w;

  w = data->run_serial == self->run_serial ? find_worker_by_id (self, data->worker_id) : NULL;
  g_free (data);
  if (w == NULL)
    {
      /* The run ended meanwhile. A stop's ladder reaches it too; a start
       * that failed has no ladder: nothing of it may run on. */
      if (pid > 0 && tether_owner_is_running (TETHER_OWNER (source)))
        tether_owner_kill_subtree_async (TETHER_OWNER (source), pid, NULL, on_retire_verb_done, NULL);
      return;
    }

  if (pid <= 0)
    {
      record_event (self, 0, w->slot, TETHER_WORKER_REASON_SPAWN_FAILED, error->message);
      remove_worker (self, w);
      g_signal_emit (self, signals[SPAWN_FAILED], 0, error->message);
      if (self->running)
        {
          note_crash (self);
          reconcile (self);
        }
      return;
    }

  w->pid = pid;
  g_signal_emit (self, signals[WORKER_SPAWNED], 0, (int) pid);
  /* Let go of before it had a pid (a resize down right after one up):
   * its ladder starts now. */
  if (w->state == TETHER_WORKER_RETIRING)
    {
      retire_step (self, w, w->retire_step);
      return;
    }
  if (self->profile->ready == TETHER_READY_SPAWN)
    become_ready (self, w);
  else
    for (guint i = 0; i < self->early_ready->len; i++)
      if (g_array_index (self->early_ready, pid_t, i) == pid)
        {
          g_array_remove_index_fast (self->early_ready, i);
          become_ready (self, w);
          break;
        }
  /* A stale worker can now be let go of, or a resize is done. */
  reconcile (self);
}

static void
spawn_worker (TetherPool *self)
{
  Worker *w = g_new0 (Worker, 1);
  SpawnData *data = g_new0 (SpawnData, 1);
  int fds[1] = { self->listen_fd };
  TetherSpawnRequest request = {
    .argv = (const char * const *) self->worker_argv,
    .envp = (const char * const *) self->worker_env,
    .cwd = self->worker_cwd,
    .fds = fds,
    .n_fds = 1,
    .listen_pid = TRUE,
    .is_main = FALSE,
    .redirect_stdio = self->redirect_stdio,
    .stdout_fd = self->stdout_fd,
    .stderr_fd = self->stderr_fd,
  };

  w->pool = self;
  w->id = ++self->next_worker_id;
  w->state = TETHER_WORKER_STARTING;
  w->spawned_at = g_get_monotonic_time ();
  w->slot = take_slot (self, &w->generation);
  g_ptr_array_add (self->workers, w);

  data->pool = g_object_ref (self);
  data->run_serial = self->run_serial;
  data->worker_id = w->id;
  tether_owner_spawn_async (self->owner, &request, NULL, on_worker_spawned, data);
}

/* ---- crashes -------------------------------------------------------------- */

static gboolean
on_backoff_done (gpointer user_data)
{
  TetherPool *self = user_data;

  self->backoff_timer = 0;
  reconcile (self);
  return G_SOURCE_REMOVE;
}

/* A worker ended on its own (or could not start). Replacements back off as
 * the profile's restart section says, and past max_restarts within a
 * minute the pool stops replacing and says why. */
static void
note_crash (TetherPool *self)
{
  const TetherProfile *p = self->profile;
  gint64 now = g_get_monotonic_time ();
  guint recent;

  g_array_append_val (self->crashes, now);
  while (self->crashes->len > 0 && g_array_index (self->crashes, gint64, 0) < now - CRASH_WINDOW_USEC)
    g_array_remove_index (self->crashes, 0);
  recent = self->crashes->len;

  if (recent > p->restart.max_restarts)
    {
      g_autofree char *text =
        g_strdup_printf (ngettext ("Workers keep ending: %u ended within a minute; no more are started",
                                   "Workers keep ending: %u ended within a minute; no more are started",
                                   recent),
                         recent);
      self->gave_up = TRUE;
      g_clear_handle_id (&self->backoff_timer, g_source_remove);
      set_problem (self, text);
      fail_tasks (self, g_error_new_literal (TETHER_ERROR, TETHER_ERROR_FAILED, text));
      return;
    }

  /* The first one is replaced at once; a loop slows down. */
  if (recent > 1 && self->backoff_timer == 0)
    {
      double delay = p->restart.backoff[MIN (recent - 2, p->restart.n_backoff - 1)];
      self->backoff_timer = g_timeout_add ((guint) (delay * 1000), on_backoff_done, self);
    }
}

/* ---- the rule ------------------------------------------------------------- */

static Worker *
pick_victim (TetherPool *self)
{
  Worker *best = NULL;

  /* Stale first, then the oldest: workers are kept in spawn order. */
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (w->state == TETHER_WORKER_RETIRING)
        continue;
      if (w->stale)
        return w;
      if (best == NULL)
        best = w;
    }
  return best;
}

static Worker *
oldest_stale (TetherPool *self)
{
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      if (w->stale && w->state != TETHER_WORKER_RETIRING)
        return w;
    }
  return NULL;
}

static void
release_hold (TetherPool *self)
{
  if (!self->holding)
    return;
  self->holding = FALSE;
  tether_owner_release (self->owner);
}

static void
reconcile (TetherPool *self)
{
  Counts c;
  guint want;

  if (!self->running || self->profile->pool.mode != TETHER_POOL_MANAGED)
    {
      check_settled (self);
      return;
    }

  c = count_workers (self);
  want = self->target + (c.stale > 0 ? 1 : 0);

  while (c.live > want)
    {
      Worker *w = pick_victim (self);

      retire (self, w, w->stale ? TETHER_WORKER_REASON_RECYCLE : TETHER_WORKER_REASON_RESIZE, NULL, FALSE);
      c = count_workers (self);
      want = self->target + (c.stale > 0 ? 1 : 0);
    }

  /* Rolling: a stale worker goes once its replacement is ready. */
  if (c.stale > 0 && c.ready > self->target)
    {
      Worker *w = oldest_stale (self);

      if (w != NULL && (w->state != TETHER_WORKER_READY || c.ready - 1 >= self->target))
        {
          retire (self, w, TETHER_WORKER_REASON_RECYCLE, NULL, FALSE);
          c = count_workers (self);
          want = self->target + (c.stale > 0 ? 1 : 0);
        }
    }

  if (self->gave_up)
    {
      /* Nothing more is started: once the last worker is gone the tree may
       * end, and the backend with it. */
      if (c.live == 0)
        release_hold (self);
    }
  else if (self->backoff_timer == 0)
    {
      for (; c.live < want; c.live++)
        spawn_worker (self);
    }

  update_actual (self);
  check_settled (self);
}

/* ---- events from the supervisor ------------------------------------------- */

static void
on_member_exited (TetherOwner *owner,
                  int          pid,
                  int          wait_status,
                  TetherPool  *self)
{
  Worker *w = find_worker (self, pid);

  if (w == NULL)
    return;

  if (w->state != TETHER_WORKER_RETIRING && self->running)
    {
      g_autofree char *detail = NULL;

      if (wait_status < 0)
        detail = g_strdup (_("ended"));
      else if (WIFEXITED (wait_status))
        detail = g_strdup_printf (_("exited with status %d"), WEXITSTATUS (wait_status));
      else if (WIFSIGNALED (wait_status))
        detail = g_strdup_printf (_("killed by signal %d (%s)"), WTERMSIG (wait_status),
                                  g_strsignal (WTERMSIG (wait_status)));
      else
        detail = g_strdup_printf (_("ended with wait status %d"), wait_status);

      g_array_index (self->slots, Slot, w->slot - 1).last_reason = TETHER_WORKER_REASON_EXITED;
      record_event (self, w->pid, w->slot, TETHER_WORKER_REASON_EXITED, detail);
      g_signal_emit (self, signals[WORKER_RETIRED], 0, (int) w->pid,
                     TETHER_WORKER_REASON_EXITED, detail);
      remove_worker (self, w);
      note_crash (self);
    }
  else
    remove_worker (self, w);

  reconcile (self);
}

static void
check_limits (TetherPool *self)
{
  const TetherPoolLimits *limits = &self->profile->pool.limits;
  guint64 soft = (guint64) limits->memory_soft_mb << 20;
  guint64 hard = (guint64) limits->memory_hard_mb << 20;
  guint64 cpu = (guint64) (limits->cpu_seconds * G_USEC_PER_SEC);

  /* retire () changes no membership of the array: it is safe to walk. */
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      TetherProcess *process;
      guint64 rss;

      if (w->pid <= 0 || (w->state == TETHER_WORKER_RETIRING && w->retire_step == RETIRE_KILL))
        continue;
      process = tether_sampler_lookup (self->sampler, w->pid);
      if (process == NULL)
        continue;
      rss = tether_process_get_rss_bytes (process);

      if (hard > 0 && rss > hard)
        {
          g_autofree char *detail = g_strdup_printf (_("RSS %" PRIu64 " MB over the %u MB limit"),
                                                     (uint64_t) (rss >> 20), limits->memory_hard_mb);
          retire (self, w, TETHER_WORKER_REASON_MEMORY_HARD, detail, TRUE);
        }
      else if (w->state == TETHER_WORKER_RETIRING)
        continue;
      else if (soft > 0 && rss > soft)
        {
          g_autofree char *detail = g_strdup_printf (_("RSS %" PRIu64 " MB over the %u MB limit"),
                                                     (uint64_t) (rss >> 20), limits->memory_soft_mb);
          retire (self, w, TETHER_WORKER_REASON_MEMORY_SOFT, detail, FALSE);
        }
      else if (cpu > 0 && tether_process_get_cpu_time (process) > cpu)
        {
          g_autofree char *detail = g_strdup_printf (_("%.1f s of CPU time over the %g s limit"),
                                                     tether_process_get_cpu_time (process) / (double) G_USEC_PER_SEC,
                                                     limits->cpu_seconds);
          retire (self, w, TETHER_WORKER_REASON_CPU, detail, FALSE);
        }
    }
}

static gboolean
is_worker_process (TetherPool    *self,
                   TetherProcess *process)
{
  const char *cmdline;

  if (tether_process_get_ppid (process) != self->main_pid || tether_process_get_state (process) == 'Z')
    return FALSE;
  if (self->worker_match == NULL)
    return TRUE;
  cmdline = tether_process_get_cmdline (process);
  return cmdline != NULL && g_regex_match (self->worker_match, cmdline, 0, NULL);
}

static void
count_master_children (TetherPool *self)
{
  g_autoptr(GPtrArray) processes = tether_sampler_get_processes (self->sampler);

  /* Sorted by pid, as the sampler lists them. */
  g_array_set_size (self->master_children, 0);
  if (self->main_pid > 0)
    for (guint i = 0; i < processes->len; i++)
      {
        TetherProcess *process = g_ptr_array_index (processes, i);

        if (is_worker_process (self, process))
          {
            pid_t pid = tether_process_get_pid (process);
            g_array_append_val (self->master_children, pid);
          }
      }
  set_actual (self, self->master_children->len);
}

static void
on_sampler_updated (TetherSampler *sampler,
                    GPtrArray     *added,
                    GPtrArray     *removed,
                    GPtrArray     *changed,
                    TetherPool    *self)
{
  if (!self->running || tether_sampler_get_owner (sampler) != self->owner)
    return;

  if (self->profile->pool.mode == TETHER_POOL_SIGNALS)
    count_master_children (self);
  else
    check_limits (self);
  reconcile (self);
}

static gboolean
on_heartbeat_check (gpointer user_data)
{
  TetherPool *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 timeout = (gint64) (self->profile->pool.limits.heartbeat_timeout * G_USEC_PER_SEC);
  gint64 start_timeout = (gint64) (self->profile->start_timeout * G_USEC_PER_SEC);

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      /* Stuck starting: it would hold a resize or a recycle for ever. */
      if (w->state == TETHER_WORKER_STARTING && w->pid > 0 && now - w->spawned_at > start_timeout)
        {
          g_autofree char *detail = g_strdup_printf (_("no READY=1 within %g s"), self->profile->start_timeout);
          retire (self, w, TETHER_WORKER_REASON_NOT_READY, detail, FALSE);
          note_crash (self);
          continue;
        }
      if (timeout <= 0)
        continue;

      /* Only a worker that has sent one is watched: a plain program works
       * too. */
      if (w->state == TETHER_WORKER_RETIRING || w->last_heartbeat == 0 ||
          now - w->last_heartbeat <= timeout)
        continue;
      {
        g_autofree char *detail = g_strdup_printf (_("no WATCHDOG=1 for %.1f s"),
                                                   (now - w->last_heartbeat) / (double) G_USEC_PER_SEC);
        retire (self, w, TETHER_WORKER_REASON_HEARTBEAT, detail, FALSE);
      }
    }
  reconcile (self);
  return G_SOURCE_CONTINUE;
}

gboolean
tether_pool_handle_notify (TetherPool                *self,
                           const TetherNotifyMessage *msg)
{
  Worker *w;

  g_return_val_if_fail (TETHER_IS_POOL (self), FALSE);

  if (self->profile->pool.mode != TETHER_POOL_MANAGED ||
      (self->main_pid > 0 && msg->sender == self->main_pid))
    return FALSE;
  /* Without a main process, whatever a member says is a worker's (or a
   * worker's child's), also while the pool stops: a worker's STATUS= is
   * not the backend's. With one, the pool begins once its pid is known. */
  if (!self->running)
    return self->profile->pool.worker_command == NULL;

  w = find_worker (self, msg->sender);
  if (w == NULL)
    {
      gboolean in_flight = FALSE;

      /* READY=1 can come before the shim's reply tells the pid. */
      for (guint i = 0; i < self->workers->len && !in_flight; i++)
        in_flight = ((Worker *) g_ptr_array_index (self->workers, i))->pid == 0;
      if (in_flight && msg->ready && self->early_ready->len < self->profile->pool.max + 16)
        g_array_append_val (self->early_ready, msg->sender);
      return in_flight || self->profile->pool.worker_command == NULL;
    }

  if (msg->watchdog)
    w->last_heartbeat = g_get_monotonic_time ();
  if (msg->requests >= 0)
    {
      w->requests = (guint64) msg->requests;
      if (self->profile->pool.limits.requests > 0 && w->requests >= self->profile->pool.limits.requests &&
          w->state != TETHER_WORKER_RETIRING)
        {
          g_autofree char *detail = g_strdup_printf (_("%" PRIu64 " requests answered"), (uint64_t) w->requests);
          retire (self, w, TETHER_WORKER_REASON_REQUESTS, detail, FALSE);
        }
    }
  if (msg->ready)
    become_ready (self, w);
  reconcile (self);
  return TRUE;
}

/* ---- runs ----------------------------------------------------------------- */

static char **
worker_environment (TetherPool               *self,
                    const TetherSpawnRequest *template)
{
  char **env = template->envp != NULL ? g_strdupv ((char **) template->envp) : g_get_environ ();

  env = g_environ_setenv (env, "LISTEN_FDS", "1", TRUE);
  env = g_environ_setenv (env, "LISTEN_FDNAMES", "listen", TRUE);
  env = g_environ_unsetenv (env, "WATCHDOG_PID");
  if (self->profile->pool.limits.heartbeat_timeout > 0)
    {
      g_autofree char *usec =
        g_strdup_printf ("%" G_GINT64_FORMAT,
                         (gint64) (self->profile->pool.limits.heartbeat_timeout * G_USEC_PER_SEC));
      env = g_environ_setenv (env, "WATCHDOG_USEC", usec, TRUE);
    }
  else
    env = g_environ_unsetenv (env, "WATCHDOG_USEC");
  return env;
}

void
tether_pool_begin (TetherPool               *self,
                   TetherOwner              *owner,
                   const TetherSpawnRequest *template,
                   pid_t                     main_pid)
{
  const TetherProfile *p;

  g_return_if_fail (TETHER_IS_POOL (self));
  g_return_if_fail (TETHER_IS_OWNER (owner));

  p = self->profile;
  tether_pool_end (self, NULL);

  self->run_serial++;
  self->running = TRUE;
  self->gave_up = FALSE;
  self->main_pid = main_pid;
  g_array_set_size (self->crashes, 0);
  g_array_set_size (self->early_ready, 0);
  set_problem (self, NULL);
  self->owner = g_object_ref (owner);
  g_signal_connect (owner, "member-exited", G_CALLBACK (on_member_exited), self);

  if (p->pool.mode == TETHER_POOL_SIGNALS)
    {
      /* The server starts as many as its own options say; the profile's
       * workers is what Tether believes that is. */
      set_target (self, p->pool.workers);
      set_actual (self, 0);
      return;
    }

  /* A restart starts again from what was asked last. */
  if (self->target == 0)
    set_target (self, p->pool.workers);
  g_clear_pointer (&self->worker_argv, g_strfreev);
  g_clear_pointer (&self->worker_env, g_strfreev);
  g_clear_pointer (&self->worker_cwd, g_free);
  self->worker_argv = g_strdupv (p->pool.worker_command != NULL ? p->pool.worker_command : p->command);
  self->worker_env = worker_environment (self, template);
  self->worker_cwd = g_strdup (template->cwd);
  self->redirect_stdio = template->redirect_stdio;
  self->stdout_fd = template->stdout_fd;
  self->stderr_fd = template->stderr_fd;

  tether_owner_hold (owner);
  self->holding = TRUE;
  /* Heartbeats, and workers that never become ready. */
  self->heartbeat_timer = g_timeout_add (p->pool.limits.heartbeat_timeout > 0
                                         ? (guint) CLAMP (p->pool.limits.heartbeat_timeout * 250, 100, 1000)
                                         : 1000,
                                         on_heartbeat_check, self);
  reconcile (self);
}

void
tether_pool_set_main_pid (TetherPool *self,
                          pid_t       main_pid)
{
  g_return_if_fail (TETHER_IS_POOL (self));
  self->main_pid = main_pid;
}

void
tether_pool_end (TetherPool *self,
                 const char *why)
{
  g_return_if_fail (TETHER_IS_POOL (self));

  if (!self->running)
    return;

  self->running = FALSE;
  g_clear_handle_id (&self->backoff_timer, g_source_remove);
  g_clear_handle_id (&self->heartbeat_timer, g_source_remove);
  g_clear_handle_id (&self->signal_timer, g_source_remove);
  self->pending_signals = 0;
  /* The ladder stops whoever is left, retiring workers included. */
  g_ptr_array_set_size (self->workers, 0);
  release_hold (self);
  g_signal_handlers_disconnect_by_data (self->owner, self);
  g_clear_object (&self->owner);
  g_array_set_size (self->master_children, 0);
  if (self->profile->pool.mode == TETHER_POOL_MANAGED)
    set_actual (self, 0);
  fail_tasks (self, g_error_new_literal (TETHER_ERROR, TETHER_ERROR_BUSY,
                                         why != NULL ? why : _("The backend stopped")));
}

guint
tether_pool_get_n_spawning (TetherPool *self)
{
  guint n = 0;

  g_return_val_if_fail (TETHER_IS_POOL (self), 0);
  for (guint i = 0; i < self->workers->len; i++)
    n += ((Worker *) g_ptr_array_index (self->workers, i))->pid == 0;
  return n;
}

gboolean
tether_pool_is_running (TetherPool *self)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), FALSE);
  return self->running;
}

/* ---- verbs ---------------------------------------------------------------- */

static gboolean
on_signal_pace (gpointer user_data)
{
  TetherPool *self = user_data;
  int sig;

  if (self->pending_signals == 0 || !self->running || self->main_pid <= 0)
    {
      self->signal_timer = 0;
      self->pending_signals = 0;
      check_settled (self);
      return G_SOURCE_REMOVE;
    }

  sig = self->pending_signals > 0 ? SIGTTIN : SIGTTOU;
  self->pending_signals += self->pending_signals > 0 ? -1 : 1;
  tether_owner_signal_async (self->owner, self->main_pid, sig, NULL, on_retire_verb_done, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
check_can_change (TetherPool  *self,
                  GError     **error)
{
  if (!self->running)
    {
      g_set_error_literal (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                           _("The worker pool can only change while the backend runs"));
      return FALSE;
    }
  if (self->profile->pool.mode == TETHER_POOL_SIGNALS && self->main_pid <= 0)
    {
      g_set_error_literal (error, TETHER_ERROR, TETHER_ERROR_BUSY,
                           _("The server has no main process to signal"));
      return FALSE;
    }
  return TRUE;
}

void
tether_pool_resize_async (TetherPool          *self,
                          guint                n,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  const TetherProfile *p;

  g_return_if_fail (TETHER_IS_POOL (self));

  p = self->profile;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_pool_resize_async);

  if (n < p->pool.min || n > p->pool.max)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_INVALID,
                               _("Cannot resize the pool to %u workers: it must be between %u and %u "
                                 "(the profile’s pool.min and pool.max)"),
                               n, p->pool.min, p->pool.max);
      return;
    }
  if (!check_can_change (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (p->pool.mode == TETHER_POOL_SIGNALS)
    {
      self->pending_signals += (int) n - (int) self->target;
      if (self->pending_signals != 0 && self->signal_timer == 0)
        {
          on_signal_pace (self);
          self->signal_timer = g_timeout_add (SIGNAL_PACE_MS, on_signal_pace, self);
        }
    }
  set_target (self, n);
  add_task (self, g_steal_pointer (&task));
  reconcile (self);
}

void
tether_pool_recycle_async (TetherPool          *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (TETHER_IS_POOL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_pool_recycle_async);

  if (self->profile->pool.mode != TETHER_POOL_MANAGED)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_BUSY,
                               _("Only a managed pool can be recycled: this server is its own master"));
      return;
    }
  if (!check_can_change (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      if (w->state != TETHER_WORKER_RETIRING)
        w->stale = TRUE;
    }
  add_task (self, g_steal_pointer (&task));
  reconcile (self);
}

gboolean
tether_pool_verb_finish (TetherPool    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- queries -------------------------------------------------------------- */

TetherPoolMode
tether_pool_get_mode (TetherPool *self)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), TETHER_POOL_NONE);
  return self->profile->pool.mode;
}

guint
tether_pool_get_target (TetherPool *self)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), 0);
  return self->target;
}

guint
tether_pool_get_actual (TetherPool *self)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), 0);
  return self->actual;
}

const char *
tether_pool_get_problem (TetherPool *self)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), NULL);
  return self->problem;
}

GPtrArray *
tether_pool_get_events (TetherPool *self)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), NULL);
  return self->events;
}

guint
tether_pool_get_count (TetherPool         *self,
                       TetherWorkerReason  reason)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), 0);
  g_return_val_if_fail (reason < TETHER_N_WORKER_REASONS, 0);
  return self->counts[reason];
}

const char *
tether_pool_get_address (TetherPool *self)
{
  g_return_val_if_fail (TETHER_IS_POOL (self), NULL);
  return self->address;
}

gboolean
tether_pool_lookup_worker (TetherPool       *self,
                           pid_t             pid,
                           TetherWorkerInfo *info)
{
  Worker *w;

  g_return_val_if_fail (TETHER_IS_POOL (self), FALSE);

  /* Signals mode: the server's workers, numbered in pid order; what they
   * did before is the server's to know. */
  if (self->profile->pool.mode == TETHER_POOL_SIGNALS)
    {
      for (guint i = 0; self->running && i < self->master_children->len; i++)
        if (g_array_index (self->master_children, pid_t, i) == pid)
          {
            *info = (TetherWorkerInfo) { .pid = pid, .slot = i + 1, .state = TETHER_WORKER_READY };
            return TRUE;
          }
      return FALSE;
    }

  w = find_worker (self, pid);
  if (w == NULL)
    return FALSE;
  info->pid = w->pid;
  info->slot = w->slot;
  info->generation = w->generation;
  info->state = w->state;
  info->reason = w->state == TETHER_WORKER_RETIRING
                 ? w->reason
                 : (w->generation > 0 ? g_array_index (self->slots, Slot, w->slot - 1).last_reason
                                      : TETHER_WORKER_REASON_NONE);
  info->requests = w->requests;
  return TRUE;
}

/* ---- GObject -------------------------------------------------------------- */

static void
tether_pool_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  TetherPool *self = TETHER_POOL (object);

  switch (prop_id)
    {
    case PROP_TARGET:
      g_value_set_uint (value, self->target);
      break;
    case PROP_ACTUAL:
      g_value_set_uint (value, self->actual);
      break;
    case PROP_PROBLEM:
      g_value_set_string (value, self->problem);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_pool_dispose (GObject *object)
{
  TetherPool *self = TETHER_POOL (object);

  if (self->running)
    tether_pool_end (self, NULL);
  g_clear_handle_id (&self->settle_timer, g_source_remove);
  g_clear_handle_id (&self->refresh_timer, g_source_remove);
  if (self->sampler_handler != 0)
    g_clear_signal_handler (&self->sampler_handler, self->sampler);
  g_clear_object (&self->sampler);
  tether_pool_close (self);

  G_OBJECT_CLASS (tether_pool_parent_class)->dispose (object);
}

static void
tether_pool_finalize (GObject *object)
{
  TetherPool *self = TETHER_POOL (object);

  g_ptr_array_unref (self->workers);
  g_ptr_array_unref (self->tasks);
  g_ptr_array_unref (self->events);
  g_array_unref (self->slots);
  g_array_unref (self->crashes);
  g_array_unref (self->early_ready);
  g_array_unref (self->master_children);
  g_strfreev (self->worker_argv);
  g_strfreev (self->worker_env);
  g_free (self->worker_cwd);
  g_free (self->problem);
  g_clear_pointer (&self->worker_match, g_regex_unref);
  tether_profile_unref (self->profile);

  G_OBJECT_CLASS (tether_pool_parent_class)->finalize (object);
}

static void
tether_pool_class_init (TetherPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = tether_pool_get_property;
  object_class->dispose = tether_pool_dispose;
  object_class->finalize = tether_pool_finalize;

  properties[PROP_TARGET] =
    g_param_spec_uint ("target", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ACTUAL] =
    g_param_spec_uint ("actual", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROBLEM] =
    g_param_spec_string ("problem", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* A worker came to life. */
  signals[WORKER_SPAWNED] =
    g_signal_new ("worker-spawned", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  /* A worker is let go of for a limit or its heartbeat, or ended on its own
   * (pid, TetherWorkerReason, detail-or-NULL): not for resizes and
   * recycles someone asked for. */
  signals[WORKER_RETIRED] =
    g_signal_new ("worker-retired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_INT, TETHER_TYPE_WORKER_REASON, G_TYPE_STRING);
  /* A worker could not be started (the message says why). */
  signals[SPAWN_FAILED] =
    g_signal_new ("spawn-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
tether_pool_init (TetherPool *self)
{
  self->listen_fd = -1;
  self->workers = g_ptr_array_new_with_free_func (worker_free);
  self->tasks = g_ptr_array_new ();
  self->events = g_ptr_array_new_with_free_func (event_free);
  self->slots = g_array_new (FALSE, TRUE, sizeof (Slot));
  self->crashes = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->early_ready = g_array_new (FALSE, FALSE, sizeof (pid_t));
  self->master_children = g_array_new (FALSE, FALSE, sizeof (pid_t));
}

TetherPool *
tether_pool_new (TetherProfile *profile,
                 TetherSampler *sampler)
{
  TetherPool *self;

  g_return_val_if_fail (profile != NULL, NULL);
  g_return_val_if_fail (profile->pool.mode != TETHER_POOL_NONE, NULL);
  g_return_val_if_fail (TETHER_IS_SAMPLER (sampler), NULL);

  self = g_object_new (TETHER_TYPE_POOL, NULL);
  self->profile = tether_profile_ref (profile);
  self->sampler = g_object_ref (sampler);
  self->sampler_handler = g_signal_connect (sampler, "updated", G_CALLBACK (on_sampler_updated), self);
  self->target = profile->pool.workers;
  if (profile->pool.worker_match != NULL)
    self->worker_match = g_regex_new (profile->pool.worker_match, G_REGEX_OPTIMIZE, 0, NULL);
  return self;
}
