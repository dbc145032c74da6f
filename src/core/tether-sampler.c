/* tether-sampler.c
 *
 * A tick: ask the owner for its members (asynchronously: the shim works
 * in its own process), let a worker thread pread each kept
 * /proc/PID/stat fd (open one for a new pid, read its command line once
 * and after an exec), then on the main thread drop whoever is not listed
 * any more or whose fd says ESRCH, link parents, compute CPU% from the CPU
 * time delta over the wall time delta, push the histories, emit "updated".
 * The worker is there because /proc can block: reading the command line of
 * a process in execve waits for its new memory map (seen: over 100 ms
 * under load), and a window must never wait on a backend. The main thread
 * only ever does memory work: ~1 ms for 1000 processes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-sampler.h"
#include "tether-sampler-private.h"

#include <errno.h>
#include <fcntl.h>
#ifdef G_OS_UNIX
#include <pwd.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-win32-compat.h"

#include <glib/gi18n-lib.h>

#include "tether-error.h"
#include "tether-procfs.h"
#include "tether-text.h"

/* How often the tree's PSS is read (it costs a walk of every mapping). */
#define PSS_INTERVAL_USEC (5 * G_USEC_PER_SEC)
#define YOUNG_USEC (3 * G_USEC_PER_SEC)

/* ---- TetherProcess ------------------------------------------------------ */

struct _TetherProcess
{
  gatomicrefcount ref_count;

  pid_t pid;
  pid_t ppid;
  pid_t parent;
  int *stat_fd;                /* NULL: read by path, identity by starttime */
  char state;
  gboolean alive;
  guint threads;
  int nice;
  uid_t uid;
  char *user;                   /* uid's login name, or the number */
  unsigned long long starttime; /* ticks after boot: identity with the pid */
  unsigned long long startcode; /* text segment: a change means an exec */
  unsigned long long endcode;
  unsigned long long cpu_ticks; /* utime + stime */
  unsigned long long base_ticks; /* cpu_ticks when cpu_percent was computed */
  gint64 base_time;             /* ... and the monotonic time then */
  double cpu_percent;
  guint64 rss_bytes;
  guint64 pss_bytes;            /* valid once has_pss */
  gboolean has_pss;
  gint64 started_at;
  char *name;
  char *cmdline;
  char *program;
  TetherProcessChanges changes;
  gboolean rebased;             /* this tick computed cpu_percent */
  TetherHistory *history;

  guint64 born_tick;           /* tick that first listed this process */
  guint64 seen_tick;           /* tick that last listed this pid */
  guint64 depth_tick;          /* tick that computed depth */
  guint depth;
};

G_DEFINE_BOXED_TYPE (TetherProcess, tether_process, tether_process_ref, tether_process_unref)

TetherProcess *
tether_process_ref (TetherProcess *process)
{
  g_return_val_if_fail (process != NULL, NULL);

  g_atomic_ref_count_inc (&process->ref_count);
  return process;
}

/* A kept /proc/PID/stat fd is an atomically refcounted box, shared by its
 * process and a worker reading it: the fd is closed when the last of them
 * lets go, so the main thread may drop a process while a worker (maybe an
 * abandoned one) still reads it. A reference is an atomic increment where
 * a dup of the fd cost two system calls per process and tick. */
static void
close_stat_fd (gpointer data)
{
  close (*(int *) data);
}

static int *
stat_fd_new (int fd)
{
  int *stat_fd = g_atomic_rc_box_new (int);

  *stat_fd = fd;
  return stat_fd;
}

static void
stat_fd_release (int *stat_fd)
{
  g_atomic_rc_box_release_full (stat_fd, close_stat_fd);
}

static void
process_close_fd (TetherProcess *process)
{
  g_clear_pointer (&process->stat_fd, stat_fd_release);
}

void
tether_process_unref (TetherProcess *process)
{
  g_return_if_fail (process != NULL);

  if (!g_atomic_ref_count_dec (&process->ref_count))
    return;

  process_close_fd (process);
  g_free (process->name);
  g_free (process->cmdline);
  g_free (process->program);
  g_free (process->user);
  g_clear_object (&process->history);
  g_free (process);
}

pid_t
tether_process_get_pid (TetherProcess *process)
{
  return process->pid;
}

pid_t
tether_process_get_ppid (TetherProcess *process)
{
  return process->ppid;
}

pid_t
tether_process_get_parent (TetherProcess *process)
{
  return process->parent;
}

const char *
tether_process_get_name (TetherProcess *process)
{
  return process->name;
}

const char *
tether_process_get_program (TetherProcess *process)
{
  return process->program != NULL ? process->program : process->name;
}

const char *
tether_process_get_cmdline (TetherProcess *process)
{
  return process->cmdline;
}

char
tether_process_get_state (TetherProcess *process)
{
  return process->state;
}

guint
tether_process_get_threads (TetherProcess *process)
{
  return process->threads;
}

int
tether_process_get_nice (TetherProcess *process)
{
  return process->nice;
}

uid_t
tether_process_get_uid (TetherProcess *process)
{
  return process->uid;
}

const char *
tether_process_get_user (TetherProcess *process)
{
  return process->user;
}

double
tether_process_get_cpu_percent (TetherProcess *process)
{
  return process->cpu_percent;
}

guint64
tether_process_get_cpu_time (TetherProcess *process)
{
  return process->cpu_ticks * G_USEC_PER_SEC / (guint64) tether_procfs_clock_ticks ();
}

guint64
tether_process_get_rss_bytes (TetherProcess *process)
{
  return process->rss_bytes;
}

guint64
tether_process_get_memory_bytes (TetherProcess *process,
                                 gboolean      *is_pss)
{
  if (is_pss != NULL)
    *is_pss = process->has_pss;
  return process->has_pss ? process->pss_bytes : process->rss_bytes;
}

gint64
tether_process_get_started_at (TetherProcess *process)
{
  return process->started_at;
}

TetherProcessChanges
tether_process_get_changes (TetherProcess *process)
{
  return process->changes;
}

gboolean
tether_process_is_alive (TetherProcess *process)
{
  return process->alive;
}

/* A known process's stat: by its kept fd, which is bound to it, or by
 * path, where the start time tells it from a newcomer with its pid. */
static int
read_stat (const int          *stat_fd,
           pid_t               pid,
           unsigned long long  starttime,
           TetherProcStat     *st)
{
  int r;

  if (stat_fd != NULL)
    return tether_procfs_pread_stat (*stat_fd, st);

  r = tether_procfs_read_stat (pid, st);
  if (r == 0 && st->starttime != starttime)
    return -ESRCH;
  return r;
}

gboolean
tether_process_read_pss (TetherProcess  *process,
                         guint64        *pss_bytes,
                         GError        **error)
{
  TetherProcStat st;
  unsigned long long pss = 0;
  int r = -ESRCH;

  g_return_val_if_fail (process != NULL, FALSE);

  /* The pid must name this process before and after the read. */
  if (process->alive && read_stat (process->stat_fd, process->pid, process->starttime, &st) == 0)
    {
      r = tether_procfs_read_pss (process->pid, &pss);
      if (r == 0 && read_stat (process->stat_fd, process->pid, process->starttime, &st) < 0)
        r = -ESRCH;
    }
  if (r == -ESRCH || r == -ENOENT)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("Process %d has exited"), (int) process->pid);
      return FALSE;
    }
  if (r < 0)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Cannot read the memory map of process %d: %s"),
                   (int) process->pid, g_strerror (-r));
      return FALSE;
    }
  *pss_bytes = pss;
  return TRUE;
}

TetherHistory *
tether_process_get_history (TetherProcess *process)
{
  return process->history;
}

/* ---- TetherSampler ------------------------------------------------------ */

typedef struct _Batch Batch;

struct _TetherSampler
{
  GObject parent_instance;

  TetherOwner *owner;
  gulong empty_handler;
  GHashTable *processes;       /* GINT_TO_POINTER (pid) → TetherProcess */
  TetherHistory *history;
  TetherSamplerTotals totals;

  guint interval;
  guint span;
  guint timeout_id;
  guint64 n_ticks;

  guint64 cgroup_base_usage;   /* µs of CPU, cgroup cpu.stat */
  gint64 cgroup_base_time;     /* 0: no base */
  double cgroup_cpu_percent;
  gint64 history_time;         /* last push to the tree's history */
  guint64 pss_total;           /* the tree's PSS when last read */
  gint64 pss_time;             /* when, monotonic µs; 0: never */

  guint n_fds;
  guint fd_budget;
  gint64 boot_real_time;       /* wall-clock µs of boot: start times */
  long page_size;

  /* The tick under way: the owner is asked for members, a worker thread
   * reads them (/proc can block: a process in execve holds its memory map,
   * and reading its command line waits for it), and the main thread
   * applies what was read. */
  GCancellable *members_cancellable;  /* non-NULL while the owner is asked */
  Batch *batch;                /* non-NULL while the worker reads */
  GPtrArray *waiters;          /* GTasks completed by the tick under way */
  GPtrArray *next_waiters;     /* ... and by the one after it */
  gboolean again;              /* another tick right after this one */
};

G_DEFINE_FINAL_TYPE (TetherSampler, tether_sampler, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_OWNER,
  PROP_INTERVAL,
  PROP_HISTORY_SPAN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  UPDATED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static guint
history_capacity (TetherSampler *self)
{
  return MAX (2u, (guint) (((guint64) self->span * 1000 + self->interval - 1) / self->interval) + 1);
}

static void
resize_histories (TetherSampler *self)
{
  guint capacity = history_capacity (self);
  GHashTableIter iter;
  gpointer value;

  tether_history_set_capacity (self->history, capacity);
  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    tether_history_set_capacity (((TetherProcess *) value)->history, capacity);
}

/* ---- reading one process ------------------------------------------------ */

/* uid → login name, for every sampler of the process: a tree has a
 * handful of users, and NSS may read /etc/passwd (or ask a directory
 * server) on every lookup. Filled in the workers, hence the lock. */
static GMutex user_names_lock;
static GHashTable *user_names;

static char *
user_name (uid_t uid)
{
  const char *cached;
  char *name = NULL;

  g_mutex_lock (&user_names_lock);
  if (user_names == NULL)
    user_names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  cached = g_hash_table_lookup (user_names, GUINT_TO_POINTER (uid));
  if (cached != NULL)
    name = g_strdup (cached);
  g_mutex_unlock (&user_names_lock);
  if (name != NULL)
    return name;

#ifdef G_OS_UNIX
  {
    struct passwd pw, *found = NULL;
    char buf[4096];

    if (getpwuid_r (uid, &pw, buf, sizeof buf, &found) == 0 && found != NULL)
      name = g_utf8_make_valid (found->pw_name, -1);
    else
      /* No name (a container's uid, a deleted user): the number, as ps. */
      name = g_strdup_printf ("%u", (unsigned) uid);
  }
#else
  /* Not reached on Windows: there is no /proc/PID to stat, so no uid. */
  name = g_strdup_printf ("%u", (unsigned) uid);
#endif

  g_mutex_lock (&user_names_lock);
  g_hash_table_replace (user_names, GUINT_TO_POINTER (uid), g_strdup (name));
  g_mutex_unlock (&user_names_lock);
  return name;
}

static char *
read_cmdline (pid_t   pid,
              char  **program)
{
  char buf[4096];
  ssize_t n = tether_procfs_read_cmdline (pid, buf, sizeof buf);

  if (n <= 0)
    return NULL;

  /* NUL-separated arguments, usually NUL-terminated: join with spaces. */
  while (n > 0 && buf[n - 1] == '\0')
    n--;
  {
    g_autoptr(GPtrArray) argv = g_ptr_array_new ();
    g_autofree char *name = NULL;

    /* (The last argument may be cut at 4 KiB: a name never needs it.) */
    buf[n < (ssize_t) sizeof buf ? n : n - 1] = '\0';
    for (ssize_t i = 0; i < n; i += (ssize_t) strlen (buf + i) + 1)
      g_ptr_array_add (argv, buf + i);
    g_ptr_array_add (argv, NULL);
    name = tether_text_program_name ((const char * const *) argv->pdata);
    *program = name != NULL ? g_utf8_make_valid (name, -1) : NULL;
  }
  for (ssize_t i = 0; i < n; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
  return g_utf8_make_valid (buf, n);
}

/* What the worker read for one member. Filled in on the main thread from
 * what is known, read in the worker, applied on the main thread: the
 * worker touches nothing else. */
typedef struct
{
  pid_t pid;
  gboolean known;                /* the sampler has a process at pid */
  int *fd;                       /* a reference to its kept fd, or NULL */
  unsigned long long starttime;  /* its identity when read by path */
  unsigned long long startcode;  /* what it looked like: an exec changes it */
  unsigned long long endcode;
  char comm[64];
  gboolean young;                /* hides its text segment and is young */
  gboolean may_keep_fd;          /* within the fd budget if it is new */
  uid_t known_uid;               /* the known process's user */

  int r;                         /* the known process: 0, or gone */
  TetherProcStat st;
  int new_r;                     /* a new process at pid: 0 when read */
  TetherProcStat new_st;
  int new_fd;                    /* its kept fd, or -1 */
  char *cmdline;                 /* read (new, or after an exec) */
  char *program;                 /* the name argv tells */
  gboolean cmdline_read;
  gboolean uid_read;
  uid_t uid;                     /* the owner of /proc/PID: its effective user */
  char *user;                    /* uid's name, when new or changed */
  guint64 pss;                   /* read when the batch wants PSS */
  gboolean has_pss;
} Reading;

static void
reading_clear (Reading *reading)
{
  g_clear_pointer (&reading->fd, stat_fd_release);
  if (reading->new_fd >= 0)
    close (reading->new_fd);
  g_free (reading->cmdline);
  g_free (reading->program);
  g_free (reading->user);
}

/* The user of a process is the owner of its /proc files: an fstat of the
 * kept fd (no read, no path lookup; the kernel answers with the task's
 * credentials now), else a stat of /proc/PID, done only when the process
 * is new or has exec'd. */
static void
reading_read_uid (Reading *reading,
                  int      fd)
{
  struct stat st;
  int r;

  if (fd >= 0)
    r = fstat (fd, &st);
  else
    {
      char path[64];

      snprintf (path, sizeof path, "/proc/%d", (int) reading->pid);
      r = stat (path, &st);
    }
  if (r < 0)
    return;
  reading->uid_read = TRUE;
  reading->uid = st.st_uid;
  if (!reading->known || reading->r != 0 || reading->uid != reading->known_uid)
    reading->user = user_name (reading->uid);
}

/* In the worker: everything that touches /proc. */
static void
reading_read (Reading *reading)
{
  if (reading->known)
    {
      reading->r = read_stat (reading->fd, reading->pid, reading->starttime, &reading->st);
      if (reading->r == 0)
        {
          /* An exec maps a new text segment (and usually renames): read
           * the command line again. Where the kernel hides the text
           * addresses (no ptrace access), a young process's command line
           * is read on every tick instead: most execs follow the fork
           * closely. */
          if (strcmp (reading->st.comm, reading->comm) != 0 ||
              reading->st.startcode != reading->startcode ||
              reading->st.endcode != reading->endcode ||
              (reading->st.startcode == 0 && reading->young))
            {
              reading->cmdline = read_cmdline (reading->pid, &reading->program);
              reading->cmdline_read = TRUE;
            }
          /* A daemon drops its privileges without an exec: asked on every
           * tick where that costs only an fstat. */
          if (reading->fd != NULL || reading->cmdline_read)
            reading_read_uid (reading, reading->fd != NULL ? *reading->fd : -1);
          return;
        }
      /* Reaped; the pid may already be someone new: read that too. */
    }

  if (reading->may_keep_fd)
    {
      char path[64];

      snprintf (path, sizeof path, "/proc/%d/stat", (int) reading->pid);
      reading->new_fd = open (path, O_RDONLY | O_CLOEXEC);
    }
  reading->new_r = reading->new_fd >= 0
    ? tether_procfs_pread_stat (reading->new_fd, &reading->new_st)
    : tether_procfs_read_stat (reading->pid, &reading->new_st);
  if (reading->new_r == 0)
    {
      reading->cmdline = read_cmdline (reading->pid, &reading->program);
      reading->cmdline_read = TRUE;
      reading_read_uid (reading, reading->new_fd);
    }
  else if (reading->new_fd >= 0)
    {
      close (reading->new_fd);
      reading->new_fd = -1;
    }
}

/* On the main thread, from what the worker read. */
static TetherProcess *
process_new (TetherSampler *self,
             Reading       *reading,
             gint64         now,
             gint64         now_boot)
{
  TetherProcess *process = g_new0 (TetherProcess, 1);
  const TetherProcStat *st = &reading->new_st;

  g_atomic_ref_count_init (&process->ref_count);
  process->pid = reading->pid;
  if (reading->new_fd >= 0 && self->n_fds < self->fd_budget)
    {
      process->stat_fd = stat_fd_new (reading->new_fd);
      reading->new_fd = -1;
      self->n_fds++;
    }
  process->alive = TRUE;
  process->ppid = st->ppid;
  process->state = st->state;
  process->threads = (guint) MAX (st->num_threads, 0);
  process->nice = (int) st->nice;
  process->uid = reading->uid_read ? reading->uid : (uid_t) -1;
  process->user = reading->uid_read ? g_steal_pointer (&reading->user) : g_strdup ("");
  process->starttime = st->starttime;
  process->startcode = st->startcode;
  process->endcode = st->endcode;
  process->cpu_ticks = st->utime + st->stime;
  process->base_ticks = process->cpu_ticks;
  process->base_time = now;
  process->rebased = TRUE;
  process->rss_bytes = (guint64) MAX (st->rss_pages, 0) * (guint64) self->page_size;
  process->pss_bytes = reading->pss;
  process->has_pss = reading->has_pss;
  process->name = g_utf8_make_valid (st->comm, -1);
  process->cmdline = g_steal_pointer (&reading->cmdline);
  process->program = g_steal_pointer (&reading->program);

  /* Start time in wall-clock terms, and a first CPU% averaged over the
   * process's life so far (there is no previous tick to diff against). */
  {
    long hz = tether_procfs_clock_ticks ();
    gint64 start_boot = tether_procfs_start_usec (st);
    gint64 age = now_boot - start_boot;

    process->started_at = self->boot_real_time + start_boot;
    if (age >= G_USEC_PER_SEC / hz)
      process->cpu_percent = 100.0 * ((double) process->cpu_ticks / hz) / ((double) age / G_USEC_PER_SEC);
  }

  process->history = tether_history_new (history_capacity (self));
  return process;
}

static void
process_gone (TetherSampler *self,
              TetherProcess *process)
{
  if (process->stat_fd != NULL)
    self->n_fds--;
  process_close_fd (process);
  process->alive = FALSE;
}

/* CPU% is a delta over at least this long: the kernel counts CPU time in
 * 10 ms ticks, so shorter windows (a control request's extra refresh right
 * after a timer tick) would swing between 0 % and 200 %. */
static gint64
min_cpu_window (TetherSampler *self)
{
  return MAX ((gint64) self->interval * 1000 / 2, 100 * 1000);
}

/* Updates process from a fresh stat of the same process (the reading
 * vouches for that). Sets process->rebased when CPU% was recomputed. */
static void
process_update (TetherSampler *self,
                TetherProcess *process,
                Reading       *reading,
                gint64         now)
{
  const TetherProcStat *st = &reading->st;
  long hz = tether_procfs_clock_ticks ();
  unsigned long long cpu_ticks = st->utime + st->stime;
  guint64 rss = (guint64) MAX (st->rss_pages, 0) * (guint64) self->page_size;
  guint threads = (guint) MAX (st->num_threads, 0);

  process->changes = 0;
  process->rebased = FALSE;
  process->cpu_ticks = cpu_ticks;
  if (now - process->base_time >= min_cpu_window (self))
    {
      double wall_s = (double) (now - process->base_time) / G_USEC_PER_SEC;
      double cpu = cpu_ticks >= process->base_ticks
                   ? 100.0 * ((double) (cpu_ticks - process->base_ticks) / hz) / wall_s
                   : 0.0;

      if (ABS (cpu - process->cpu_percent) >= 0.05)
        process->changes |= TETHER_PROCESS_CHANGED_CPU;
      process->cpu_percent = cpu;
      process->base_ticks = cpu_ticks;
      process->base_time = now;
      process->rebased = TRUE;
    }

  if (rss != process->rss_bytes)
    process->changes |= TETHER_PROCESS_CHANGED_MEMORY;
  process->rss_bytes = rss;
  if (reading->has_pss)
    {
      if (!process->has_pss || reading->pss != process->pss_bytes)
        process->changes |= TETHER_PROCESS_CHANGED_MEMORY;
      process->pss_bytes = reading->pss;
      process->has_pss = TRUE;
    }

  if (threads != process->threads)
    process->changes |= TETHER_PROCESS_CHANGED_THREADS;
  process->threads = threads;

  if (st->state != process->state)
    process->changes |= TETHER_PROCESS_CHANGED_STATE;
  process->state = st->state;

  /* Reparented (to a subreaper) though its place in the tree may stay. */
  if (st->ppid != process->ppid)
    process->changes |= TETHER_PROCESS_CHANGED_PARENT;
  process->ppid = st->ppid;

  if (st->nice != process->nice)
    process->changes |= TETHER_PROCESS_CHANGED_NICE;
  process->nice = (int) st->nice;

  if (reading->uid_read && reading->user != NULL)
    {
      process->uid = reading->uid;
      g_free (process->user);
      process->user = g_steal_pointer (&reading->user);
      process->changes |= TETHER_PROCESS_CHANGED_USER;
    }

  if (strcmp (st->comm, process->name) != 0 ||
      st->startcode != process->startcode || st->endcode != process->endcode)
    {
      g_free (process->name);
      process->name = g_utf8_make_valid (st->comm, -1);
      process->startcode = st->startcode;
      process->endcode = st->endcode;
      process->changes |= TETHER_PROCESS_CHANGED_COMMAND;
    }
  if (reading->cmdline_read && g_strcmp0 (reading->cmdline, process->cmdline) != 0)
    {
      g_free (process->cmdline);
      process->cmdline = g_steal_pointer (&reading->cmdline);
      g_free (process->program);
      process->program = g_steal_pointer (&reading->program);
      process->changes |= TETHER_PROCESS_CHANGED_COMMAND;
    }
}

/* ---- tree -------------------------------------------------------------- */

static guint
process_depth (TetherSampler *self,
               TetherProcess *process)
{
  TetherProcess *parent;

  if (process->depth_tick == self->n_ticks)
    return process->depth;

  /* Mark first: a (kernel-impossible) cycle ends at depth 0, not in a loop. */
  process->depth_tick = self->n_ticks;
  process->depth = 0;
  parent = process->parent != 0
           ? g_hash_table_lookup (self->processes, GINT_TO_POINTER (process->parent))
           : NULL;
  if (parent != NULL)
    process->depth = process_depth (self, parent) + 1;
  return process->depth;
}

static int
compare_parents_first (gconstpointer a,
                       gconstpointer b,
                       gpointer      user_data)
{
  TetherProcess *pa = *(TetherProcess **) a;
  TetherProcess *pb = *(TetherProcess **) b;
  guint da = process_depth (user_data, pa);
  guint db = process_depth (user_data, pb);

  if (da != db)
    return da < db ? -1 : 1;
  return (pa->pid > pb->pid) - (pa->pid < pb->pid);
}

static int
compare_by_pid (gconstpointer a,
                gconstpointer b)
{
  TetherProcess *pa = *(TetherProcess **) a;
  TetherProcess *pb = *(TetherProcess **) b;

  return (pa->pid > pb->pid) - (pa->pid < pb->pid);
}

/* ---- the tick ---------------------------------------------------------- */

/* One tick's readings, handed to the worker and back. */
struct _Batch
{
  Reading *readings;
  guint n_readings;
  pid_t main_pid;
  gint64 now, now_real, now_boot;
  TetherOwner *owner;          /* asked for the whole tree's CPU time */
  gboolean have_usage;
  guint64 usage;               /* µs, when have_usage */
  gboolean have_memory;        /* the owner's whole-tree memory */
  guint64 memory;
  gboolean want_pss;           /* else: PSS of every member, summed */
  guint64 pss_total;
  gboolean abandoned;          /* the sampler moved on: drop the results */
};

static void
batch_free (Batch *batch)
{
  for (guint i = 0; i < batch->n_readings; i++)
    reading_clear (&batch->readings[i]);
  g_free (batch->readings);
  g_clear_object (&batch->owner);
  g_free (batch);
}

static gboolean
tick_in_progress (TetherSampler *self)
{
  return self->members_cancellable != NULL || self->batch != NULL;
}

/* On the main thread: what the worker needs to know, nothing it could
 * race with (it holds its own references to the fds, so dropping a process
 * meanwhile closes nothing under it). */
static Batch *
batch_new (TetherSampler *self,
           GArray        *members,
           pid_t          main_pid)
{
  Batch *batch = g_new0 (Batch, 1);
  guint budget = self->fd_budget > self->n_fds ? self->fd_budget - self->n_fds : 0;

  batch->main_pid = main_pid;
  batch->owner = self->owner != NULL ? g_object_ref (self->owner) : NULL;
  batch->now = g_get_monotonic_time ();
  batch->now_real = g_get_real_time ();
  batch->now_boot = tether_procfs_boottime_usec ();
#ifdef G_OS_WIN32
  /* Windows has no PSS (tether-procfs-win32.c): the tree's memory is the
   * sum of working sets (shared pages once per process). */
  batch->want_pss = FALSE;
#else
  batch->want_pss = self->pss_time == 0 || batch->now - self->pss_time >= PSS_INTERVAL_USEC;
#endif
  batch->n_readings = members != NULL ? members->len : 0;
  batch->readings = g_new0 (Reading, batch->n_readings);

  for (guint i = 0; i < batch->n_readings; i++)
    {
      Reading *reading = &batch->readings[i];
      TetherProcess *process;

      reading->pid = g_array_index (members, pid_t, i);
      reading->new_fd = -1;
      reading->r = reading->new_r = -ESRCH;
      process = g_hash_table_lookup (self->processes, GINT_TO_POINTER (reading->pid));
      if (process != NULL)
        {
          reading->known = TRUE;
          if (process->stat_fd != NULL)
            reading->fd = g_atomic_rc_box_acquire (process->stat_fd);
          reading->starttime = process->starttime;
          reading->startcode = process->startcode;
          reading->endcode = process->endcode;
          g_strlcpy (reading->comm, process->name, sizeof reading->comm);
          reading->young = batch->now_real - process->started_at < YOUNG_USEC;
          reading->known_uid = process->uid;
          /* If it was reaped and its pid reused, the newcomer may get an
           * fd too (process_new keeps to the budget). */
          reading->may_keep_fd = budget > 0;
        }
      else if (budget > 0)
        {
          reading->may_keep_fd = TRUE;
          budget--;
        }
    }
  return batch;
}

/* In the worker: everything the tick reads. */
static void
batch_read (Batch *batch)
{
  for (guint i = 0; i < batch->n_readings; i++)
    reading_read (&batch->readings[i]);
  /* The owner may count the CPU of processes that exited between ticks
   * too (a cgroup's cpu.stat). */
  batch->have_usage = batch->owner != NULL &&
                      tether_owner_get_tree_cpu_usage (batch->owner, &batch->usage);
  batch->have_memory = batch->owner != NULL &&
                       tether_owner_get_tree_memory (batch->owner, &batch->memory);
  /* Per process always (the table shows it); summed for the tree only
   * where the owner has no count of its own. */
  if (batch->want_pss)
    for (guint i = 0; i < batch->n_readings; i++)
      {
        Reading *reading = &batch->readings[i];
        unsigned long long pss = 0;

        /* smaps_rollup walks every mapping: milliseconds for a big process,
         * hence only every PSS_INTERVAL_USEC. */
        if ((reading->r == 0 || reading->new_r == 0) && tether_procfs_read_pss (reading->pid, &pss) == 0)
          {
            reading->pss = pss;
            reading->has_pss = TRUE;
            if (!batch->have_memory)
              batch->pss_total += pss;
          }
      }
}

static void
read_batch (GTask        *task,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *cancellable)
{
  batch_read (task_data);
  g_task_return_boolean (task, TRUE);
}

static void tick_finish (TetherSampler *self,
                         Batch         *batch,
                         GPtrArray     *added,
                         GPtrArray     *removed,
                         gboolean       may_continue);

/* On the main thread: memory work only. */
static void
tick_apply (TetherSampler *self,
            Batch         *batch,
            gboolean       may_continue)
{
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_process_unref);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_process_unref);

  self->n_ticks++;
  for (guint i = 0; i < batch->n_readings; i++)
    {
      Reading *reading = &batch->readings[i];
      TetherProcess *process = g_hash_table_lookup (self->processes, GINT_TO_POINTER (reading->pid));

      if (process != NULL && reading->known)
        {
          if (reading->r == 0)
            {
              process_update (self, process, reading, batch->now);
              process->seen_tick = self->n_ticks;
              continue;
            }
          /* Reaped, and the pid reused by a new member: two processes. */
          process_gone (self, process);
          g_ptr_array_add (removed, tether_process_ref (process));
          g_hash_table_remove (self->processes, GINT_TO_POINTER (reading->pid));
        }
      if (reading->new_r == 0 && !g_hash_table_contains (self->processes, GINT_TO_POINTER (reading->pid)))
        {
          process = process_new (self, reading, batch->now, batch->now_boot);
          process->born_tick = process->seen_tick = self->n_ticks;
          g_hash_table_insert (self->processes, GINT_TO_POINTER (reading->pid), process);
          g_ptr_array_add (added, tether_process_ref (process));
        }
      /* else: exited between the member list and the reading */
    }

  tick_finish (self, batch, added, removed, may_continue);
}

static void
on_batch_read (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  TetherSampler *self = TETHER_SAMPLER (source);
  Batch *batch = user_data;

  if (batch->abandoned)
    {
      batch_free (batch);
      return;
    }
  self->batch = NULL;
  tick_apply (self, batch, TRUE);
  batch_free (batch);
}

static void
tick_start_reading (TetherSampler *self,
                    GArray        *members,
                    pid_t          main_pid)
{
  g_autoptr(GTask) task = NULL;

  self->batch = batch_new (self, members, main_pid);
  task = g_task_new (self, NULL, on_batch_read, self->batch);
  g_task_set_source_tag (task, tick_start_reading);
  g_task_set_task_data (task, self->batch, NULL);
  g_task_run_in_thread (task, read_batch);
}

static void
complete_waiters (GPtrArray *waiters)
{
  for (guint i = 0; i < waiters->len; i++)
    g_task_return_boolean (g_ptr_array_index (waiters, i), TRUE);
  g_ptr_array_set_size (waiters, 0);
}

static void start_tick (TetherSampler *self);

static void
tick_finish (TetherSampler *self,
             Batch         *batch,
             GPtrArray     *added,
             GPtrArray     *removed,
             gboolean       may_continue)
{
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_process_unref);
  g_autoptr(GPtrArray) waiters = NULL;
  gint64 now = batch->now;
  pid_t main_pid = batch->main_pid;
  TetherProcess *main_process;
  TetherSamplerTotals totals = { 0, };
  double summed_cpu = 0.0;
  gboolean tree_rebased = FALSE;
  guint64 usage = batch->usage;
  GHashTableIter iter;
  gpointer value;

  /* Whoever was not listed this tick has left the tree. */
  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      TetherProcess *process = value;

      if (process->seen_tick == self->n_ticks)
        continue;
      process_gone (self, process);
      g_ptr_array_add (removed, tether_process_ref (process));
      g_hash_table_iter_remove (&iter);
    }

  /* Parent links, now that the member set is known. */
  main_process = main_pid > 0 ? g_hash_table_lookup (self->processes, GINT_TO_POINTER (main_pid)) : NULL;
  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      TetherProcess *process = value;
      gboolean is_new = process->born_tick == self->n_ticks;
      TetherSample sample;
      pid_t parent;

      if (process->ppid > 0 && g_hash_table_contains (self->processes, GINT_TO_POINTER (process->ppid)))
        parent = process->ppid;
      else if (main_process != NULL && process != main_process)
        parent = main_pid;
      else
        parent = 0;

      if (!is_new && process->parent != parent)
        process->changes |= TETHER_PROCESS_CHANGED_PARENT;
      process->parent = parent;

      if (process->rebased)
        {
          sample = (TetherSample) { now, process->cpu_percent, process->rss_bytes };
          tether_history_push (process->history, &sample);
        }
      if (!is_new && process->changes != 0)
        g_ptr_array_add (changed, tether_process_ref (process));

      totals.n_processes++;
      totals.n_threads += process->threads;
      totals.rss_bytes += process->rss_bytes;
      summed_cpu += process->cpu_percent;
    }

  /* The owner's count of the tree's CPU time where it keeps one; else the
   * sum of what is alive. */
  totals.cpu_percent = summed_cpu;
  if (batch->have_usage)
    {
      if (self->cgroup_base_time == 0 || usage < self->cgroup_base_usage)
        {
          self->cgroup_base_usage = usage;
          self->cgroup_base_time = now;
          self->cgroup_cpu_percent = summed_cpu;
          tree_rebased = TRUE;
        }
      else if (now - self->cgroup_base_time >= min_cpu_window (self))
        {
          self->cgroup_cpu_percent = 100.0 * (double) (usage - self->cgroup_base_usage) /
                                     (double) (now - self->cgroup_base_time);
          self->cgroup_base_usage = usage;
          self->cgroup_base_time = now;
          tree_rebased = TRUE;
        }
      totals.cpu_percent = self->cgroup_cpu_percent;
    }
  else
    {
      self->cgroup_base_time = 0;
      tree_rebased = self->history_time == 0 || now - self->history_time >= min_cpu_window (self);
    }

  totals.time = now;
  totals.real_time = batch->now_real;

  /* Memory, as honestly as the tree allows: the cgroup's own count, else
   * PSS (refreshed every PSS_INTERVAL_USEC), else RSS until the first. */
  totals.memory_bytes = totals.rss_bytes;
  totals.memory_source = TETHER_MEMORY_RSS;
  if (batch->have_memory)
    {
      totals.memory_bytes = batch->memory;
      totals.memory_source = TETHER_MEMORY_CGROUP;
    }
  else
    {
      if (batch->want_pss)
        {
          self->pss_total = batch->pss_total;
          self->pss_time = now;
        }
      if (self->pss_time != 0)
        {
          totals.memory_bytes = totals.n_processes > 0 ? self->pss_total : 0;
          totals.memory_source = TETHER_MEMORY_PSS;
        }
    }

  if (tree_rebased)
    {
      TetherSample sample = { now, totals.cpu_percent, totals.memory_bytes };
      tether_history_push (self->history, &sample);
      self->history_time = now;
    }
  self->totals = totals;

  g_ptr_array_sort_with_data (added, compare_parents_first, self);

  /* The waiters of this tick are done; those who came during it wait for
   * the next, which then starts at once. */
  waiters = g_steal_pointer (&self->waiters);
  self->waiters = g_steal_pointer (&self->next_waiters);
  self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);

  g_object_ref (self);
  g_signal_emit (self, signals[UPDATED], 0, added, removed, changed);
  complete_waiters (waiters);
  if (may_continue && (self->again || self->waiters->len > 0) && !tick_in_progress (self))
    {
      self->again = FALSE;
      start_tick (self);
    }
  g_object_unref (self);
}

/* A tick with nobody to read: right away, on the main thread. */
static void
tick_empty (TetherSampler *self,
            gboolean       may_continue)
{
  Batch *batch = batch_new (self, NULL, 0);

  tick_apply (self, batch, may_continue);
  batch_free (batch);
}

static void
on_members (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  TetherSampler *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) members = tether_owner_list_members_finish (TETHER_OWNER (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;  /* the tick was abandoned; whoever did it moved on */
  g_clear_object (&self->members_cancellable);
  if (members == NULL)
    g_debug ("Sampler: no member list: %s", error->message);
  tick_start_reading (self, members, tether_owner_get_main_pid (TETHER_OWNER (source)));
}

static void
start_tick (TetherSampler *self)
{
  if (self->owner != NULL && tether_owner_is_running (self->owner))
    {
      self->members_cancellable = g_cancellable_new ();
      tether_owner_list_members_async (self->owner, self->members_cancellable, on_members, self);
      return;
    }
  tick_empty (self, TRUE);
}

/* Drops a tick under way (its owner is gone): what it would read is not
 * applied, and its waiters are served by the next tick, which the caller
 * starts. */
static void
abandon_tick (TetherSampler *self)
{
  if (self->members_cancellable != NULL)
    {
      g_cancellable_cancel (self->members_cancellable);
      g_clear_object (&self->members_cancellable);
    }
  if (self->batch != NULL)
    {
      /* The worker cannot be stopped; its results will be dropped. */
      self->batch->abandoned = TRUE;
      self->batch = NULL;
    }
  if (self->waiters->len == 0)
    {
      g_ptr_array_extend_and_steal (self->waiters, g_steal_pointer (&self->next_waiters));
      self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);
    }
}

void
tether_sampler_refresh (TetherSampler *self)
{
  g_return_if_fail (TETHER_IS_SAMPLER (self));

  if (tick_in_progress (self))
    self->again = TRUE;
  else
    start_tick (self);
}

void
tether_sampler_refresh_async (TetherSampler       *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (TETHER_IS_SAMPLER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_sampler_refresh_async);
  if (tick_in_progress (self))
    {
      /* The tick under way asked for its members before this call: a
       * fresh one follows it. */
      g_ptr_array_add (self->next_waiters, task);
      return;
    }
  g_ptr_array_add (self->waiters, task);
  start_tick (self);
}

gboolean
tether_sampler_refresh_finish (TetherSampler  *self,
                               GAsyncResult   *result,
                               GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
tether_sampler_tick_with_members (TetherSampler *self,
                                  GArray        *members,
                                  pid_t          main_pid)
{
  Batch *batch;

  g_return_if_fail (TETHER_IS_SAMPLER (self));
  g_return_if_fail (!tick_in_progress (self));

  batch = batch_new (self, members, main_pid);
  batch_read (batch);
  tick_apply (self, batch, FALSE);
  batch_free (batch);
}

/* ---- timer and owner ---------------------------------------------------- */

static gboolean
on_tick (gpointer user_data)
{
  TetherSampler *self = user_data;

  /* A tick still under way (a slow shim, a huge tree) is not doubled. */
  if (!tick_in_progress (self))
    start_tick (self);
  return G_SOURCE_CONTINUE;
}

static void
stop_timer (TetherSampler *self)
{
  g_clear_handle_id (&self->timeout_id, g_source_remove);
}

static void
start_timer (TetherSampler *self)
{
  stop_timer (self);
  self->timeout_id = g_timeout_add_full (G_PRIORITY_DEFAULT, self->interval, on_tick, self, NULL);
  g_source_set_name_by_id (self->timeout_id, "[tether] sampler tick");
}

static void
disconnect_owner (TetherSampler *self)
{
  if (self->owner == NULL)
    return;
  g_clear_signal_handler (&self->empty_handler, self->owner);
  g_clear_object (&self->owner);
}

static void
on_owner_empty (TetherOwner   *owner,
                TetherSampler *self)
{
  /* The last tick lists nobody: every row goes. */
  stop_timer (self);
  abandon_tick (self);
  disconnect_owner (self);
  tick_empty (self, TRUE);
  self->cgroup_base_time = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OWNER]);
}

void
tether_sampler_set_owner (TetherSampler *self,
                          TetherOwner   *owner)
{
  g_return_if_fail (TETHER_IS_SAMPLER (self));
  g_return_if_fail (owner == NULL || TETHER_IS_OWNER (owner));

  if (owner == self->owner)
    return;

  stop_timer (self);
  abandon_tick (self);
  disconnect_owner (self);
  self->cgroup_base_time = 0;

  /* An owner whose tree already emptied gets one tick and no timer. */
  if (owner != NULL && tether_owner_is_running (owner))
    {
      self->owner = g_object_ref (owner);
      self->empty_handler = g_signal_connect (owner, "empty", G_CALLBACK (on_owner_empty), self);
      start_timer (self);
    }

  /* At once: the rows of a new tree, or the removal of the old one. */
  start_tick (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OWNER]);
}

TetherOwner *
tether_sampler_get_owner (TetherSampler *self)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), NULL);

  return self->owner;
}

guint
tether_sampler_get_interval (TetherSampler *self)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), 0);

  return self->interval;
}

void
tether_sampler_set_interval (TetherSampler *self,
                             guint          interval_ms)
{
  g_return_if_fail (TETHER_IS_SAMPLER (self));

  interval_ms = CLAMP (interval_ms, TETHER_SAMPLER_MIN_INTERVAL, TETHER_SAMPLER_MAX_INTERVAL);
  if (interval_ms == self->interval)
    return;

  self->interval = interval_ms;
  resize_histories (self);
  if (self->timeout_id != 0)
    start_timer (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INTERVAL]);
}

guint
tether_sampler_get_history_span (TetherSampler *self)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), 0);

  return self->span;
}

void
tether_sampler_set_history_span (TetherSampler *self,
                                 guint          span_s)
{
  g_return_if_fail (TETHER_IS_SAMPLER (self));

  span_s = MAX (span_s, 1);
  if (span_s == self->span)
    return;

  self->span = span_s;
  resize_histories (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HISTORY_SPAN]);
}

GPtrArray *
tether_sampler_get_processes (TetherSampler *self)
{
  GPtrArray *result;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (TETHER_IS_SAMPLER (self), NULL);

  result = g_ptr_array_new_full (g_hash_table_size (self->processes),
                                 (GDestroyNotify) tether_process_unref);
  g_hash_table_iter_init (&iter, self->processes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (result, tether_process_ref (value));
  g_ptr_array_sort (result, compare_by_pid);
  return result;
}

TetherProcess *
tether_sampler_lookup (TetherSampler *self,
                       pid_t          pid)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), NULL);

  return g_hash_table_lookup (self->processes, GINT_TO_POINTER (pid));
}

const TetherSamplerTotals *
tether_sampler_get_totals (TetherSampler *self)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), NULL);

  return &self->totals;
}

TetherHistory *
tether_sampler_get_history (TetherSampler *self)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), NULL);

  return self->history;
}

guint64
tether_sampler_get_n_ticks (TetherSampler *self)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), 0);

  return self->n_ticks;
}

void
tether_sampler_set_fd_budget (TetherSampler *self,
                              guint          budget)
{
  g_return_if_fail (TETHER_IS_SAMPLER (self));

  self->fd_budget = budget;
}

guint
tether_sampler_get_n_fds (TetherSampler *self)
{
  g_return_val_if_fail (TETHER_IS_SAMPLER (self), 0);

  return self->n_fds;
}

/* ---- GObject ------------------------------------------------------------ */

static void
drop_process (gpointer data)
{
  TetherProcess *process = data;

  process_close_fd (process);
  process->alive = FALSE;
  tether_process_unref (process);
}

static void
tether_sampler_dispose (GObject *object)
{
  TetherSampler *self = TETHER_SAMPLER (object);

  stop_timer (self);
  abandon_tick (self);
  disconnect_owner (self);
  g_hash_table_remove_all (self->processes);
  self->n_fds = 0;

  G_OBJECT_CLASS (tether_sampler_parent_class)->dispose (object);
}

static void
tether_sampler_finalize (GObject *object)
{
  TetherSampler *self = TETHER_SAMPLER (object);

  g_hash_table_unref (self->processes);
  g_clear_object (&self->history);
  g_ptr_array_unref (self->waiters);
  g_ptr_array_unref (self->next_waiters);

  G_OBJECT_CLASS (tether_sampler_parent_class)->finalize (object);
}

static void
tether_sampler_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TetherSampler *self = TETHER_SAMPLER (object);

  switch (prop_id)
    {
    case PROP_OWNER:
      g_value_set_object (value, self->owner);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, self->interval);
      break;
    case PROP_HISTORY_SPAN:
      g_value_set_uint (value, self->span);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_sampler_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TetherSampler *self = TETHER_SAMPLER (object);

  switch (prop_id)
    {
    case PROP_OWNER:
      tether_sampler_set_owner (self, g_value_get_object (value));
      break;
    case PROP_INTERVAL:
      tether_sampler_set_interval (self, g_value_get_uint (value));
      break;
    case PROP_HISTORY_SPAN:
      tether_sampler_set_history_span (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_sampler_class_init (TetherSamplerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_sampler_dispose;
  object_class->finalize = tether_sampler_finalize;
  object_class->get_property = tether_sampler_get_property;
  object_class->set_property = tether_sampler_set_property;

  properties[PROP_OWNER] =
    g_param_spec_object ("owner", NULL, NULL, TETHER_TYPE_OWNER,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_INTERVAL] =
    g_param_spec_uint ("interval", NULL, NULL,
                       TETHER_SAMPLER_MIN_INTERVAL, TETHER_SAMPLER_MAX_INTERVAL,
                       TETHER_SAMPLER_DEFAULT_INTERVAL,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HISTORY_SPAN] =
    g_param_spec_uint ("history-span", NULL, NULL, 1, G_MAXUINT, TETHER_SAMPLER_DEFAULT_SPAN,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[UPDATED] =
    g_signal_new ("updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_PTR_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_PTR_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_PTR_ARRAY | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
tether_sampler_init (TetherSampler *self)
{
  long limit = tether_procfs_raise_nofile_limit ();

  self->processes = g_hash_table_new_full (NULL, NULL, NULL, drop_process);
  self->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->next_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->interval = TETHER_SAMPLER_DEFAULT_INTERVAL;
  self->span = TETHER_SAMPLER_DEFAULT_SPAN;
  self->history = tether_history_new (history_capacity (self));
  self->page_size = tether_procfs_page_size ();
  /* Once, so every start time derives from the same origin and equal
   * kernel start ticks give equal times. */
  self->boot_real_time = g_get_real_time () - tether_procfs_boottime_usec ();
  /* Half the fd limit at most, so the rest of the app never runs out:
   * beyond it, stat is read by path and identity checked by start time. */
  self->fd_budget = (guint) MAX (limit / 2 - 64, 0);
}

TetherSampler *
tether_sampler_new (void)
{
  return g_object_new (TETHER_TYPE_SAMPLER, NULL);
}
