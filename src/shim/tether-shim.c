/* tether-shim.c: the process that sits at the root of every backend tree
 *
 * Tether execs this between itself and the backend. It makes itself a child
 * subreaper, spawns what Tether asks for (in a new session, and in cgroup
 * mode inside the leaf before exec), reaps every descendant, tracks who is a
 * member, and answers the line protocol of PROTOCOL.md on the control
 * socket Tether gave it. When that socket reaches EOF -- Tether quit,
 * crashed or was SIGKILLed -- it kills the whole tree and reaps it: this is
 * what guarantees zero orphans without PR_SET_PDEATHSIG.
 *
 * Plain C and no GLib on purpose: it must be small, start fast and never
 * depend on threads. Slow work (a /proc walk, a freeze) happens here, in the
 * shim's own process, never on Tether's main loop.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-procfs.h"
#include "tether-shim-protocol.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_QUEUED_FDS 64
#define MAX_TRACKED 1024
#define N_BUCKETS 4096

extern char **environ;

/* ---- the member table ---------------------------------------------------- */

enum { KIND_UNKNOWN, KIND_MEMBER, KIND_OUTSIDER };

typedef struct Entry Entry;
struct Entry
{
  Entry *next;                   /* in its bucket */
  pid_t pid;
  pid_t ppid;
  int stat_fd;                   /* -1: read by path, identity by starttime */
  unsigned long long starttime;
  char state;
  unsigned char kind;
  unsigned gen;                  /* the refresh that last saw it */
};

typedef struct
{
  pid_t pid;
  int pidfd;                     /* -1 for our own children: waitpid reports them */
} Tracked;

static struct
{
  int control_fd;
  const char *cgroup_dir;        /* absolute, or NULL in reaper mode */
  const char *cgroup_rel;        /* its path inside the cgroup2 hierarchy */
  pid_t self;
  struct rlimit nofile;          /* what children get back */
  long fd_budget;

  Entry *buckets[N_BUCKETS];
  size_t n_entries;
  long n_stat_fds;
  unsigned gen;
  bool escaped;                  /* a member left the leaf: look in all of /proc */
  bool thorough;                 /* look in all of /proc for this request */
  unsigned n_listings;
  bool outsiders;                /* the leaf holds a non-member */
  bool swept;                    /* a freeze's SIGSTOP sweep stopped members */

  Tracked tracked[MAX_TRACKED];
  size_t n_tracked;
  bool spawned_any;
  bool empty_sent;

  char *inbuf;
  size_t inlen;
  bool overlong;                 /* skipping to the end of a line too long */
  int fdq[MAX_QUEUED_FDS];       /* received with a line, not yet taken */
  size_t n_fdq;
} shim;

static Entry **
bucket_of (pid_t pid)
{
  return &shim.buckets[(unsigned) pid % N_BUCKETS];
}

static Entry *
lookup (pid_t pid)
{
  for (Entry *e = *bucket_of (pid); e != NULL; e = e->next)
    if (e->pid == pid)
      return e;
  return NULL;
}

static void
entry_remove (Entry *e)
{
  Entry **link = bucket_of (e->pid);

  while (*link != e)
    link = &(*link)->next;
  *link = e->next;
  if (e->stat_fd >= 0)
    {
      close (e->stat_fd);
      shim.n_stat_fds--;
    }
  free (e);
  shim.n_entries--;
}

/* Reads the entry's process: -ESRCH once it is gone, even if the pid was
 * reused (a kept fd names the process; by path, the start time tells). */
static int
entry_read (Entry          *e,
            TetherProcStat *st)
{
  int r;

  if (e->stat_fd >= 0)
    return tether_procfs_pread_stat (e->stat_fd, st);
  r = tether_procfs_read_stat (e->pid, st);
  if (r == 0 && st->starttime != e->starttime)
    return -ESRCH;
  return r == -ENOENT ? -ESRCH : r;
}

static Entry *
entry_new (pid_t           pid,
           TetherProcStat *st)
{
  char path[64];
  Entry *e = calloc (1, sizeof *e);
  Entry **bucket;

  if (e == NULL)
    return NULL;
  e->pid = pid;
  e->stat_fd = -1;
  if (shim.n_stat_fds < shim.fd_budget)
    {
      snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
      e->stat_fd = open (path, O_RDONLY | O_CLOEXEC);
      if (e->stat_fd >= 0)
        shim.n_stat_fds++;
    }
  if ((e->stat_fd >= 0 ? tether_procfs_pread_stat (e->stat_fd, st)
                       : tether_procfs_read_stat (pid, st)) < 0)
    {
      if (e->stat_fd >= 0)
        {
          close (e->stat_fd);
          shim.n_stat_fds--;
        }
      free (e);
      return NULL;
    }
  e->starttime = st->starttime;
  e->ppid = st->ppid;
  e->state = st->state;
  e->kind = KIND_UNKNOWN;
  bucket = bucket_of (pid);
  e->next = *bucket;
  *bucket = e;
  shim.n_entries++;
  return e;
}

static bool
is_zombie (char state)
{
  return state == 'Z' || state == 'X';
}

/* A descendant stays one for life, a non-descendant never becomes one
 * (reparenting only ever moves a process up its own ancestry): each
 * process is judged once. */
static int
resolve (Entry *e,
         int    depth)
{
  Entry *parent;

  if (e->kind != KIND_UNKNOWN)
    return e->kind;

  if (e->ppid == shim.self)
    e->kind = KIND_MEMBER;
  else if (e->ppid <= 1 || depth > 4096)
    e->kind = KIND_OUTSIDER;
  else if ((parent = lookup (e->ppid)) != NULL && parent->gen == shim.gen)
    e->kind = resolve (parent, depth + 1);
  else
    e->kind = tether_procfs_is_descendant (e->pid, shim.self) == 1 ? KIND_MEMBER : KIND_OUTSIDER;
  return e->kind;
}

static int
read_all_pids (pid_t  **out,
               size_t  *n_out)
{
  DIR *dir = opendir ("/proc");
  struct dirent *de;
  pid_t *pids = NULL;
  size_t n = 0, cap = 0;

  if (dir == NULL)
    return -errno;
  while ((de = readdir (dir)) != NULL)
    {
      char *end;
      long pid = strtol (de->d_name, &end, 10);

      if (*end != '\0' || pid <= 0)
        continue;
      if (n == cap)
        {
          pid_t *grown;
          cap = cap ? cap * 2 : 1024;
          grown = realloc (pids, cap * sizeof *pids);
          if (grown == NULL)
            {
              free (pids);
              closedir (dir);
              return -ENOMEM;
            }
          pids = grown;
        }
      pids[n++] = (pid_t) pid;
    }
  closedir (dir);
  *out = pids;
  *n_out = n;
  return 0;
}

static char *
cgroup_file (const char *name)
{
  static char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/%s", shim.cgroup_dir, name);
  return path;
}

static bool
is_listed_member (const Entry *e)
{
  return e->gen == shim.gen && e->kind == KIND_MEMBER && !is_zombie (e->state);
}

static int
compare_pids (const void *a,
              const void *b)
{
  pid_t pa = *(const pid_t *) a, pb = *(const pid_t *) b;
  return (pa > pb) - (pa < pb);
}

static bool
contains (const pid_t *pids,
          size_t       n,
          pid_t        pid)
{
  return bsearch (&pid, pids, n, sizeof *pids, compare_pids) != NULL;
}

/* Brings the table up to date with what is listed now: the leaf's
 * cgroup.procs (cgroup mode), or every process (reaper mode, once a member
 * was seen leaving the leaf, and for every verb that acts: a member that
 * left before the shim ever saw it is found there). Known processes cost
 * one pread each. */
static int
refresh (void)
{
  bool full = shim.cgroup_dir == NULL || shim.escaped || shim.thorough;
  pid_t *pids = NULL;
  size_t n = 0, i;
  int r;

  shim.gen++;
  r = full ? read_all_pids (&pids, &n)
           : tether_procfs_read_pid_list (cgroup_file ("cgroup.procs"), &pids, &n);
  if (r < 0)
    return r;

  for (i = 0; i < n; i++)
    {
      TetherProcStat st;
      Entry *e;

      if (pids[i] == shim.self)
        continue;
      e = lookup (pids[i]);
      if (e != NULL && entry_read (e, &st) < 0)
        {
          entry_remove (e);  /* reaped; the pid is someone new */
          e = NULL;
        }
      if (e == NULL)
        e = entry_new (pids[i], &st);
      if (e == NULL)
        continue;  /* gone meanwhile */
      e->ppid = st.ppid;
      e->state = st.state;
      e->gen = shim.gen;
    }
  free (pids);

  /* Judge newcomers; see who is in the leaf that should not be. */
  shim.outsiders = false;
  for (i = 0; i < N_BUCKETS; i++)
    for (Entry *e = shim.buckets[i]; e != NULL; e = e->next)
      if (e->gen == shim.gen && resolve (e, 0) == KIND_OUTSIDER && !full)
        shim.outsiders = true;

  /* Whoever was not listed: gone, or (cgroup mode) a member that left the
   * leaf -- still ours, and from now on found by a walk of /proc. */
  for (i = 0; i < N_BUCKETS; i++)
    {
      Entry *e = shim.buckets[i];

      while (e != NULL)
        {
          Entry *next = e->next;
          TetherProcStat st;

          if (e->gen != shim.gen)
            {
              if (!full && e->kind == KIND_MEMBER && entry_read (e, &st) == 0 && !is_zombie (st.state))
                shim.escaped = true;
              else
                entry_remove (e);
            }
          e = next;
        }
    }
  if (!full && shim.escaped)
    return refresh ();

  /* Looking everywhere: the leaf can hold strangers, and members can be
   * outside it (they left before we ever saw them in it). */
  if (full && shim.cgroup_dir != NULL &&
      tether_procfs_read_pid_list (cgroup_file ("cgroup.procs"), &pids, &n) == 0)
    {
      size_t members_in_leaf = 0, members = 0;

      qsort (pids, n, sizeof *pids, compare_pids);
      for (i = 0; i < n; i++)
        {
          Entry *e = lookup (pids[i]);
          if (e != NULL && e->kind == KIND_OUTSIDER)
            shim.outsiders = true;
        }
      for (i = 0; i < N_BUCKETS; i++)
        for (Entry *e = shim.buckets[i]; e != NULL; e = e->next)
          if (is_listed_member (e))
            {
              members++;
              if (contains (pids, n, e->pid))
                members_in_leaf++;
            }
      if (members_in_leaf < members)
        shim.escaped = true;
      free (pids);
    }
  return 0;
}

/* TRUE when e descends from root (through members the table knows). */
static bool
descends_from (const Entry *e,
               pid_t        root)
{
  for (int depth = 0; e != NULL && depth < 4096; depth++)
    {
      if (e->pid == root)
        return true;
      if (e->ppid == shim.self || e->ppid <= 1)
        return false;
      e = lookup (e->ppid);
    }
  return false;
}

/* The members the last refresh listed (root <= 0), or root and its
 * descendants among them; never except (when > 0) itself. Sorted. */
static int
collect_scope (pid_t    root,
               pid_t    except,
               pid_t  **out,
               size_t  *n_out)
{
  pid_t *pids;
  size_t n = 0, i;

  pids = malloc ((shim.n_entries + 1) * sizeof *pids);
  if (pids == NULL)
    return -ENOMEM;
  for (i = 0; i < N_BUCKETS; i++)
    for (Entry *e = shim.buckets[i]; e != NULL; e = e->next)
      if (is_listed_member (e) && e->pid != except && (root <= 0 || descends_from (e, root)))
        pids[n++] = e->pid;
  qsort (pids, n, sizeof *pids, compare_pids);
  *out = pids;
  *n_out = n;
  return 0;
}

/* The members now (root <= 0), or root and its descendants, less except.
 * Sorted. */
static int
list_scope (pid_t    root,
            pid_t    except,
            pid_t  **out,
            size_t  *n_out)
{
  int r = refresh ();

  if (r < 0)
    return r;
  return collect_scope (root, except, out, n_out);
}

/* How many members the last refresh listed. */
static size_t
count_listed (void)
{
  size_t n = 0;

  for (size_t i = 0; i < N_BUCKETS; i++)
    for (Entry *e = shim.buckets[i]; e != NULL; e = e->next)
      if (is_listed_member (e))
        n++;
  return n;
}

static size_t
count_members (void)
{
  return refresh () < 0 ? 0 : count_listed ();
}

/* Whether pid is a member right now. The table answers for processes it
 * knows (its fd fails if the process it saw is gone, whatever now holds
 * the pid); anyone else is judged by walking up from it. */
static int
is_member (pid_t pid)
{
  Entry *e;
  TetherProcStat st;

  if (pid <= 1 || pid == shim.self)
    return 0;
  e = lookup (pid);
  if (e != NULL && e->kind != KIND_UNKNOWN && entry_read (e, &st) == 0)
    return e->kind == KIND_MEMBER && !is_zombie (st.state);
  return tether_procfs_is_descendant (pid, shim.self);
}

/* ---- output ---------------------------------------------------------- */

static void
write_all (const char *data,
           size_t      len)
{
  /* A failure means Tether is gone: the poll loop sees the EOF. */
  tether_write_all (shim.control_fd, data, len);
}

static void
send_line (const char *fmt,
           ...)
{
  char line[4096];
  va_list args;
  int len;

  va_start (args, fmt);
  len = vsnprintf (line, sizeof line - 1, fmt, args);
  va_end (args);
  if (len < 0)
    return;
  if ((size_t) len > sizeof line - 2)
    len = sizeof line - 2;
  line[len++] = '\n';
  write_all (line, (size_t) len);
}

static void
send_error (long        id,
            int         err,
            const char *text)
{
  char encoded[512];
  size_t o = 0;

  /* The text is ours, but keep the framing whatever strerror says. */
  for (const char *p = text; *p != '\0' && o + 4 < sizeof encoded; p++)
    {
      unsigned char c = (unsigned char) *p;
      if (c < 0x21 || c == '%' || c == 0x7f)
        o += (size_t) snprintf (encoded + o, sizeof encoded - o, "%%%02X", c);
      else
        encoded[o++] = (char) c;
    }
  encoded[o] = '\0';
  send_line ("%ld error %d %s", id, err, o > 0 ? encoded : "%");
}

static void
send_pid_list (long         id,
               const pid_t *pids,
               size_t       n)
{
  /* Member lists can be long: stream them rather than format one line. */
  char buf[16384];
  size_t len, i;

  len = (size_t) snprintf (buf, sizeof buf, "%ld ok %zu", id, n);
  for (i = 0; i < n; i++)
    {
      if (len + 16 > sizeof buf)
        {
          write_all (buf, len);
          len = 0;
        }
      len += (size_t) snprintf (buf + len, sizeof buf - len, " %d", (int) pids[i]);
    }
  buf[len++] = '\n';
  write_all (buf, len);
}

/* ---- signals, freezing, killing -------------------------------------- */

/* Signals pid only if it is, at this moment, a member of the tree. The pidfd
 * is opened *before* the membership check: if the pid is reused after the
 * check, the pidfd still names the process that was checked (or a dead one,
 * which ignores the signal) -- never the newcomer. */
static int
signal_member (pid_t pid,
               int   sig)
{
  int pidfd, r;

  pidfd = tether_pidfd_open (pid);
  if (pidfd < 0)
    return pidfd;
  r = is_member (pid);
  if (r == 1)
    r = tether_pidfd_send_signal (pidfd, sig);
  else if (r == 0)
    r = -ESRCH;
  close (pidfd);
  return r;
}

static long
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* SIGSTOP every process in scope (all but except, which is left alone)
 * until a pass finds no new process and every one is stopped: a forking
 * tree cannot outrun it, since a stopped process forks no more. Returns
 * how many processes are frozen; with final, the last pass's list
 * (sorted), which no longer changes once it settled. */
static size_t
stop_sweep_listed (pid_t    root,
                   pid_t    except,
                   pid_t  **final,
                   size_t  *n_final)
{
  pid_t *seen = NULL, *last = NULL;
  size_t n_seen = 0, n_last = 0;
  long deadline = now_ms () + 3000;

  for (;;)
    {
      pid_t *pids, *grown;
      size_t n, i, n_new = 0;
      bool settled = true;

      if (list_scope (root, except, &pids, &n) < 0)
        break;
      free (last);
      last = pids;
      n_last = n;

      grown = realloc (seen, (n_seen + n + 1) * sizeof *seen);
      if (grown == NULL)
        break;
      seen = grown;
      for (i = 0; i < n; i++)
        {
          Entry *e = lookup (pids[i]);

          if (!contains (seen, n_seen, pids[i]))
            {
              seen[n_seen + n_new++] = pids[i];
              signal_member (pids[i], SIGSTOP);
              settled = false;
            }
          else if (e != NULL && e->state != 'T' && e->state != 't')
            settled = false;
        }
      n_seen += n_new;
      qsort (seen, n_seen, sizeof *seen, compare_pids);

      if (settled || now_ms () > deadline)
        break;
      {
        struct timespec pause = { 0, 200 * 1000 }; /* let SIGSTOP land */
        nanosleep (&pause, NULL);
      }
    }

  free (seen);
  if (final != NULL)
    {
      *final = last;
      *n_final = n_last;
    }
  else
    free (last);
  return n_last;
}

static size_t
stop_sweep (pid_t root,
            pid_t except)
{
  return stop_sweep_listed (root, except, NULL, NULL);
}

/* Stops everything in scope, then kills what the sweep settled on: a
 * stopped tree cannot fork, so that list is the whole of it. */
static size_t
kill_scope (pid_t root)
{
  pid_t *pids = NULL;
  size_t n = 0, i;

  stop_sweep_listed (root, 0, &pids, &n);
  for (i = 0; i < n; i++)
    signal_member (pids[i], SIGKILL);
  free (pids);
  return n;
}

/* Signals every member in scope, as the request's refresh listed them;
 * *n_listed (if not NULL) says how many there were. */
static size_t
signal_scope_counted (pid_t   root,
                      int     sig,
                      size_t *n_listed)
{
  pid_t *pids;
  size_t n, i, hit = 0;

  if (collect_scope (root, 0, &pids, &n) < 0)
    n = 0, pids = NULL;
  for (i = 0; i < n; i++)
    if (signal_member (pids[i], sig) == 0)
      hit++;
  free (pids);
  if (n_listed != NULL)
    *n_listed = n;
  return hit;
}

static size_t
signal_scope (pid_t root,
              int   sig)
{
  return signal_scope_counted (root, sig, NULL);
}

static int
wait_cgroup_frozen (int want)
{
  char buf[256];
  char expect[16];
  long deadline = now_ms () + 3000;
  int fd = open (cgroup_file ("cgroup.events"), O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return -errno;
  snprintf (expect, sizeof expect, "frozen %d", want);

  for (;;)
    {
      struct pollfd pfd = { fd, POLLPRI, 0 };
      ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
      long left;

      if (n < 0)
        break;
      buf[n] = '\0';
      if (strstr (buf, expect) != NULL)
        {
          close (fd);
          return 0;
        }
      left = deadline - now_ms ();
      if (left <= 0)
        break;
      /* The same fd is polled and re-read: reopening would stay "ready". */
      poll (&pfd, 1, (int) left);
    }

  close (fd);
  return -ETIMEDOUT;
}

/* The leaf's own freezer and killer serve only while the leaf holds exactly
 * the tree: not when a stranger was written into it (it would be frozen or
 * killed too), not when a member left it (it would be missed). As the last
 * refresh found it. */
static bool
leaf_is_exact (void)
{
  return shim.cgroup_dir != NULL && !shim.outsiders && !shim.escaped;
}

/* freeze_tree, thaw_tree and kill_tree act on the table as the request's
 * refresh left it; only a sweep lists again, pass after pass. */
static int
freeze_tree (size_t *n)
{
  if (!leaf_is_exact ())
    {
      shim.swept = true;
      *n = stop_sweep (0, 0);
      return 0;
    }
  if (tether_procfs_write_file (cgroup_file ("cgroup.freeze"), "1") < 0)
    return -errno;
  *n = count_listed ();
  return wait_cgroup_frozen (1);
}

/* Every member but keep: the leaf's freezer takes the whole leaf or
 * nothing, so in both modes this is a sweep. keep is continued if an
 * earlier sweep may have stopped it. */
static int
freeze_except (pid_t   keep,
               size_t *n)
{
  bool swept_before = shim.swept;
  int r = 0;

  shim.swept = true;
  if (shim.cgroup_dir != NULL)
    {
      /* An earlier freeze may have frozen the leaf, keep with it, and a
       * frozen process does not stop (its SIGSTOP waits): stop the
       * others, then thaw the leaf; each stops before it runs again. */
      pid_t *pids;
      size_t n_pids;

      if (collect_scope (0, keep, &pids, &n_pids) == 0)
        {
          for (size_t i = 0; i < n_pids; i++)
            signal_member (pids[i], SIGSTOP);
          free (pids);
        }
      if (tether_procfs_write_file (cgroup_file ("cgroup.freeze"), "0") == 0)
        r = wait_cgroup_frozen (0);
    }
  *n = stop_sweep (0, keep);
  if (swept_before)
    signal_member (keep, SIGCONT);
  return r;
}

static int
thaw_tree (size_t *n)
{
  int r = 0;

  if (shim.cgroup_dir != NULL)
    {
      /* Whatever froze it, the leaf may be frozen: undo that too. */
      tether_procfs_write_file (cgroup_file ("cgroup.freeze"), "0");
      if (leaf_is_exact ())
        {
          r = wait_cgroup_frozen (0);
          /* A sweep's SIGSTOPs outlast the leaf's freezer: only
           * SIGCONT undoes them. */
          if (!shim.swept)
            {
              *n = count_listed ();
              return r;
            }
        }
    }
  shim.swept = false;
  *n = signal_scope (0, SIGCONT);
  return r;
}

static size_t
kill_tree (void)
{
  /* cgroup.kill also catches processes forked while it runs. */
  if (leaf_is_exact ())
    {
      size_t n = count_listed ();

      if (tether_procfs_write_file (cgroup_file ("cgroup.kill"), "1") == 0)
        return n;
    }

  /* No cgroup.kill (kernel < 5.14), a stranger in the leaf, or a member
   * outside it: the sweep reaches members, and only them, wherever they
   * are. */
  return kill_scope (0);
}

static size_t
kill_subtree (pid_t root)
{
  return kill_scope (root);
}

/* ---- tracked processes and reaping ------------------------------------- */

static Tracked *
find_tracked (pid_t pid)
{
  for (size_t i = 0; i < shim.n_tracked; i++)
    if (shim.tracked[i].pid == pid)
      return &shim.tracked[i];
  return NULL;
}

static void
untrack (Tracked *t)
{
  if (t->pidfd >= 0)
    close (t->pidfd);
  *t = shim.tracked[--shim.n_tracked];
}

static void
report_exit (pid_t pid,
             int   status)
{
  Tracked *t = find_tracked (pid);

  if (t == NULL)
    return;
  untrack (t);
  send_line ("exit %d %d", (int) pid, status);
}

static void
reap_children (void)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG | __WALL);

      if (pid > 0)
        {
          report_exit (pid, status);
          continue;
        }
      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0 && errno == ECHILD && shim.spawned_any && !shim.empty_sent)
        {
          /* With a subreaper, orphans are re-parented to us before their
           * parent can be reaped: no child left means an empty tree. */
          shim.empty_sent = true;
          send_line ("empty");
        }
      return;
    }
}

/* A watched process (not our child) ended: its status is ours only if it
 * was re-parented to us meanwhile. */
static void
on_watched_exited (Tracked *t)
{
  pid_t pid = t->pid;
  int status = -1;

  if (waitpid (pid, &status, WNOHANG | __WALL) != pid)
    status = -1;
  report_exit (pid, status);
}

static void
reap_all_and_exit (int code)
{
  int status;

  for (;;)
    {
      pid_t pid = waitpid (-1, &status, __WALL);
      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0)
        break;
    }
  if (shim.cgroup_dir != NULL)
    rmdir (shim.cgroup_dir);
  _exit (code);
}

static void
on_control_eof (void)
{
  /* Tether is gone. Nothing may outlive it. */
  shim.thorough = true;
  refresh ();
  kill_tree ();
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, __WALL);

      if (pid > 0 || (pid < 0 && errno == EINTR))
        continue;
      /* ECHILD: all reaped. A member could only be left if it escaped the
         kill (a fork racing the sweep): look once more. */
      if (count_members () > 0)
        {
          kill_tree ();
          continue;
        }
      break;
    }
  reap_all_and_exit (0);
}

/* ---- requests ---------------------------------------------------------- */

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes a percent-encoded field in place; false when malformed. */
static bool
decode_field (char *field)
{
  char *out = field;

  if (strcmp (field, "%") == 0)
    {
      *field = '\0';
      return true;
    }
  for (char *p = field; *p != '\0'; p++)
    {
      if (*p == '%')
        {
          int hi = hex_value (p[1]), lo = hi >= 0 ? hex_value (p[2]) : -1;
          if (lo < 0 || (hi == 0 && lo == 0))
            return false;  /* no NUL bytes inside a C string */
          *out++ = (char) (hi * 16 + lo);
          p += 2;
        }
      else
        *out++ = *p;
    }
  *out = '\0';
  return true;
}

static bool
parse_int (const char *text,
           long        min,
           long        max,
           long       *out)
{
  char *end;
  long value;

  if (text == NULL || *text == '\0')
    return false;
  errno = 0;
  value = strtol (text, &end, 10);
  if (errno != 0 || *end != '\0' || value < min || value > max)
    return false;
  *out = value;
  return true;
}

/* Splits the rest of a line into fields (in place); NULL-terminated. */
static char **
split_fields (char   *rest,
              size_t *n_out)
{
  size_t n = 0, cap = 16;
  char **fields = malloc (cap * sizeof *fields);
  char *save = NULL;

  if (fields == NULL)
    return NULL;
  for (char *tok = strtok_r (rest, " ", &save); tok != NULL; tok = strtok_r (NULL, " ", &save))
    {
      if (n + 1 == cap)
        {
          char **grown = realloc (fields, (cap *= 2) * sizeof *fields);
          if (grown == NULL)
            {
              free (fields);
              return NULL;
            }
          fields = grown;
        }
      fields[n++] = tok;
    }
  fields[n] = NULL;
  *n_out = n;
  return fields;
}

static void
write_decimal (char *buf,
               long  value)
{
  char tmp[24];
  int n = 0;

  do
    tmp[n++] = (char) ('0' + value % 10);
  while ((value /= 10) > 0);
  while (n > 0)
    *buf++ = tmp[--n];
  *buf = '\0';
}

/* fork + exec, reporting exec's failure through a CLOEXEC pipe. */
static pid_t
spawn_child (char       **argv,
             char       **envp,
             const char  *cwd,
             int         *fds,
             size_t       n_fds,
             bool         listen_pid,
             bool         stdio,
             const sigset_t *old_mask)
{
  int status_pipe[2];
  int procs_fd = -1;
  pid_t pid;
  int child_errno = 0;
  ssize_t n;
  char listen_pid_entry[32] = "LISTEN_PID=";

  if (pipe2 (status_pipe, O_CLOEXEC) < 0)
    return -errno;
  if (shim.cgroup_dir != NULL)
    {
      procs_fd = open (cgroup_file ("cgroup.procs"), O_WRONLY | O_CLOEXEC);
      if (procs_fd < 0)
        {
          int saved = errno;
          close (status_pipe[0]);
          close (status_pipe[1]);
          return -saved;
        }
    }

  pid = fork ();
  if (pid < 0)
    {
      int saved = errno;
      close (status_pipe[0]);
      close (status_pipe[1]);
      if (procs_fd >= 0)
        close (procs_fd);
      return -saved;
    }

  if (pid == 0)
    {
      struct sigaction dfl = { 0 };
      int sig, err;
      size_t i;

      dfl.sa_handler = SIG_DFL;
      for (sig = 1; sig < NSIG; sig++)
        sigaction (sig, &dfl, NULL);
      sigprocmask (SIG_SETMASK, old_mask, NULL);
      setsid ();
      setrlimit (RLIMIT_NOFILE, &shim.nofile);

      /* Enter the leaf cgroup before exec: no instant of the backend's
       * life, and none of its children's, is outside it. */
      if (procs_fd >= 0 && write (procs_fd, "0", 1) != 1)
        {
          err = errno;
          goto fail;
        }

      /* Passed descriptors go to 3, 4, ...: first out of the way, then
       * down, since a received one may already sit in that range. */
      for (i = 0; i < n_fds; i++)
        {
          int high = fcntl (fds[i], F_DUPFD_CLOEXEC, (int) (3 + n_fds + 16));
          if (high < 0)
            {
              err = errno;
              goto fail;
            }
          fds[i] = high;
        }
      /* With stdio, the first two are stdout and stderr. */
      for (i = 0; i < n_fds; i++)
        {
          int target = stdio ? (i < 2 ? (int) i + 1 : (int) (3 + i - 2)) : (int) (3 + i);

          if (dup2 (fds[i], target) < 0)
            {
              err = errno;
              goto fail;
            }
        }

      if (listen_pid)
        {
          /* The socket-activation protocol wants the process's own pid,
           * known only now. The slot was reserved by the parent. */
          for (i = 0; envp[i] != NULL; i++)
            ;
          write_decimal (listen_pid_entry + strlen ("LISTEN_PID="), (long) getpid ());
          envp[i] = listen_pid_entry;
          envp[i + 1] = NULL;
        }

      if (chdir (cwd) < 0)
        {
          err = errno;
          goto fail;
        }
      environ = envp;
      execvp (argv[0], argv);
      err = errno;
fail:
      if (write (status_pipe[1], &err, sizeof err) < 0)
        _exit (127);
      _exit (127);
    }

  if (procs_fd >= 0)
    close (procs_fd);
  close (status_pipe[1]);
  do
    n = read (status_pipe[0], &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  close (status_pipe[0]);

  if (n == (ssize_t) sizeof child_errno)
    {
      int status;
      waitpid (pid, &status, 0);
      return -child_errno;
    }
  return pid;
}

/* Moves up to n queued descriptors to fds; returns how many. */
static size_t
take_fds (int    *fds,
          size_t  n)
{
  if (n > shim.n_fdq)
    n = shim.n_fdq;
  memcpy (fds, shim.fdq, n * sizeof *fds);
  memmove (shim.fdq, shim.fdq + n, (shim.n_fdq - n) * sizeof *shim.fdq);
  shim.n_fdq -= n;
  return n;
}

static void
drop_all_fds (void)
{
  while (shim.n_fdq > 0)
    close (shim.fdq[--shim.n_fdq]);
}

static void
handle_spawn (long            id,
              char          **f,
              size_t          n_f,
              const sigset_t *old_mask)
{
  long n_fds, argc, envc;
  size_t i, o, base, n_taken;
  char **argv = NULL, **envp = NULL;
  int fds[TETHER_SHIM_MAX_SPAWN_FDS];
  bool listen_pid = false, stdio = false;
  pid_t pid;

  /* The descriptors a spawn names came with it (every line before took
   * its own): they are this spawn's, and closed with it whatever becomes
   * of it, or the next spawn would take them. Without a count, which of
   * the queued ones are its cannot be told: none may go to a later one. */
  if (n_f < 2 || !parse_int (f[1], 0, TETHER_SHIM_MAX_SPAWN_FDS, &n_fds))
    {
      drop_all_fds ();
      send_error (id, EINVAL, "malformed spawn");
      return;
    }
  n_taken = take_fds (fds, (size_t) n_fds);

  /* FLAGS NFDS CWD ARGC ARG... ENVC ENV... */
  if (n_f < 4 || !parse_int (f[3], 1, 65536, &argc) || (size_t) argc + 5 > n_f ||
      !parse_int (f[4 + argc], 0, 65536, &envc) || (size_t) (5 + argc + envc) != n_f)
    {
      send_error (id, EINVAL, "malformed spawn");
      goto out;
    }
  if (strcmp (f[0], "-") != 0)
    {
      char *save = NULL;
      for (char *flag = strtok_r (f[0], ",", &save); flag != NULL; flag = strtok_r (NULL, ",", &save))
        {
          if (strcmp (flag, "listen-pid") == 0)
            listen_pid = true;
          else if (strcmp (flag, "stdio") == 0)
            stdio = true;
          else
            {
              send_error (id, EINVAL, "unknown spawn flag");
              goto out;
            }
        }
    }
  if (n_taken < (size_t) n_fds || (stdio && n_fds < 2))
    {
      send_error (id, EINVAL, "fewer descriptors arrived than the spawn names");
      goto out;
    }

  argv = calloc ((size_t) argc + 1, sizeof *argv);
  envp = calloc ((size_t) envc + 2, sizeof *envp);  /* + LISTEN_PID */
  if (argv == NULL || envp == NULL)
    {
      send_error (id, ENOMEM, "out of memory");
      goto out;
    }
  base = 4;
  if (!decode_field (f[2]))
    goto malformed;
  for (i = 0; i < (size_t) argc; i++)
    {
      if (!decode_field (f[base + i]))
        goto malformed;
      argv[i] = f[base + i];
    }
  base += (size_t) argc + 1;
  for (i = 0, o = 0; i < (size_t) envc; i++)
    {
      if (!decode_field (f[base + i]))
        goto malformed;
      /* LISTEN_PID is ours to set, to the right pid. */
      if (listen_pid && strncmp (f[base + i], "LISTEN_PID=", 11) == 0)
        continue;
      envp[o++] = f[base + i];
    }
  envp[o] = NULL;

  if (shim.n_tracked == MAX_TRACKED)
    pid = -EAGAIN;
  else
    pid = spawn_child (argv, envp, f[2], fds, (size_t) n_fds, listen_pid, stdio, old_mask);

  if (pid < 0)
    send_error (id, (int) -pid, strerror ((int) -pid));
  else
    {
      shim.tracked[shim.n_tracked++] = (Tracked) { pid, -1 };
      shim.spawned_any = true;
      shim.empty_sent = false;
      send_line ("%ld ok %d", id, (int) pid);
    }
  goto out;

malformed:
  send_error (id, EINVAL, "malformed field in spawn");
out:
  for (i = 0; i < n_taken; i++)
    close (fds[i]);
  free (argv);
  free (envp);
}

static void
handle_watch (long  id,
              pid_t pid)
{
  int pidfd;

  if (find_tracked (pid) != NULL)
    {
      send_line ("%ld ok", id);
      return;
    }
  if (shim.n_tracked == MAX_TRACKED)
    {
      send_error (id, EAGAIN, "too many watched processes");
      return;
    }
  pidfd = tether_pidfd_open (pid);
  if (pidfd < 0 || is_member (pid) != 1)
    {
      if (pidfd >= 0)
        close (pidfd);
      send_error (id, ESRCH, "not a member of the tree");
      return;
    }
  shim.tracked[shim.n_tracked++] = (Tracked) { pid, pidfd };
  send_line ("%ld ok", id);
}

static void
handle_command (char           *line,
                const sigset_t *old_mask)
{
  char **f;
  size_t n_f;
  long id, a = 0, b = 0;
  const char *verb;
  size_t n = 0;
  int r;

  f = split_fields (line, &n_f);
  if (f == NULL)
    return;
  if (n_f < 2 || !parse_int (f[0], 1, LONG_MAX, &id))
    {
      /* Without an id there is no one to answer. A spawn's descriptors
       * still go (see handle_spawn). */
      if (n_f >= 2 && strcmp (f[1], "spawn") == 0)
        drop_all_fds ();
      free (f);
      return;
    }
  verb = f[1];

  /* What acts on the tree must reach all of it; a listing looks in all of
   * /proc now and then (every tenth), which is enough for a view. */
  shim.thorough = strcmp (verb, "members") != 0 || ++shim.n_listings % 10 == 0;

  if (strcmp (verb, "spawn") == 0)
    handle_spawn (id, f + 2, n_f - 2, old_mask);
  else if (strcmp (verb, "members") == 0 && n_f == 2)
    {
      pid_t *pids;
      r = list_scope (0, 0, &pids, &n);
      if (r < 0)
        send_error (id, -r, "cannot list members");
      else
        {
          send_pid_list (id, pids, n);
          free (pids);
        }
    }
  else if (strcmp (verb, "top-level") == 0 && n_f == 2)
    {
      /* Members whose parent is the shim itself: the main process, and
       * what its exit (or a double fork) left to the subreaper. */
      pid_t *pids;
      size_t k = 0;

      r = list_scope (0, 0, &pids, &n);
      if (r < 0)
        send_error (id, -r, "cannot list members");
      else
        {
          for (size_t j = 0; j < n; j++)
            {
              Entry *e = lookup (pids[j]);
              if (e != NULL && e->ppid == shim.self)
                pids[k++] = pids[j];
            }
          send_pid_list (id, pids, k);
          free (pids);
        }
    }
  else if (strcmp (verb, "watch") == 0 && n_f == 3 && parse_int (f[2], 1, INT_MAX, &a))
    handle_watch (id, (pid_t) a);
  /* Replies say how many the verb reached and how many members there were
   * when it began (the stop ladder counts what each step ended). */
  else if (strcmp (verb, "signal") == 0 && n_f == 4 &&
           parse_int (f[2], 1, INT_MAX, &a) && parse_int (f[3], 0, NSIG - 1, &b))
    {
      size_t before = count_members ();

      r = signal_member ((pid_t) a, (int) b);
      if (r < 0)
        send_error (id, -r, r == -ESRCH ? "not a member of the tree" : strerror (-r));
      else
        send_line ("%ld ok 1 %zu", id, before);
    }
  else if (strcmp (verb, "signal-all") == 0 && n_f == 3 && parse_int (f[2], 0, NSIG - 1, &a))
    {
      size_t before;

      refresh ();
      n = signal_scope_counted (0, (int) a, &before);
      send_line ("%ld ok %zu %zu", id, n, before);
    }
  else if ((strcmp (verb, "signal-subtree") == 0 && n_f == 4 && parse_int (f[2], 1, INT_MAX, &a) &&
            parse_int (f[3], 0, NSIG - 1, &b)) ||
           (strcmp (verb, "kill-subtree") == 0 && n_f == 3 && parse_int (f[2], 1, INT_MAX, &a)))
    {
      size_t before = count_members ();  /* the one refresh this needs */

      if (is_member ((pid_t) a) != 1)
        send_error (id, ESRCH, "not a member of the tree");
      else
        {
          n = verb[0] == 'k' ? kill_subtree ((pid_t) a) : signal_scope ((pid_t) a, (int) b);
          send_line ("%ld ok %zu %zu", id, n, before);
        }
    }
  else if ((strcmp (verb, "freeze") == 0 || strcmp (verb, "thaw") == 0) && n_f == 2)
    {
      size_t before = count_members ();  /* the one refresh this needs */

      r = verb[0] == 'f' ? freeze_tree (&n) : thaw_tree (&n);
      if (r < 0)
        send_error (id, -r, strerror (-r));
      else
        send_line ("%ld ok %zu %zu", id, n, before);
    }
  else if (strcmp (verb, "freeze-except") == 0 && n_f == 3 && parse_int (f[2], 1, INT_MAX, &a))
    {
      size_t before = count_members ();  /* the sweep lists again, pass after pass */

      if (is_member ((pid_t) a) != 1)
        send_error (id, ESRCH, "not a member of the tree");
      else if ((r = freeze_except ((pid_t) a, &n)) < 0)
        send_error (id, -r, strerror (-r));
      else
        send_line ("%ld ok %zu %zu", id, n, before);
    }
  else if (strcmp (verb, "kill") == 0 && n_f == 2)
    {
      refresh ();
      n = kill_tree ();
      send_line ("%ld ok %zu %zu", id, n, n);
    }
  else
    send_error (id, EINVAL, "unknown or malformed command");

  shim.thorough = false;
  free (f);
}

/* Reads what is there, with any descriptors that came along. */
static void
read_control (const sigset_t *old_mask)
{
  union
  {
    struct cmsghdr align;
    char buf[CMSG_SPACE (sizeof (int) * TETHER_SHIM_MAX_SPAWN_FDS)];
  } control;
  struct iovec iov;
  struct msghdr msg = { 0 };
  ssize_t n;
  char *nl;

  if (shim.inlen == TETHER_SHIM_MAX_LINE)
    {
      /* A line longer than any request: Tether is confused, not us.
       * Refuse it (the buffer starts with it: its id, if it has one) and
       * skip to its end; its tail is no command. Its descriptors came
       * with its first byte: none of the queued ones is a later line's. */
      long id = 0;
      size_t i;

      for (i = 0; i < 18 && shim.inbuf[i] >= '0' && shim.inbuf[i] <= '9'; i++)
        id = id * 10 + (shim.inbuf[i] - '0');
      send_error (shim.inbuf[i] == ' ' ? id : 0, EINVAL, "line too long");
      drop_all_fds ();
      shim.inlen = 0;
      shim.overlong = true;
    }

  iov.iov_base = shim.inbuf + shim.inlen;
  iov.iov_len = TETHER_SHIM_MAX_LINE - shim.inlen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = &control;
  msg.msg_controllen = sizeof control;

  n = recvmsg (shim.control_fd, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    on_control_eof ();

  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        size_t count = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
        for (size_t i = 0; i < count; i++)
          {
            int fd;
            memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof fd);
            if (shim.n_fdq < MAX_QUEUED_FDS)
              shim.fdq[shim.n_fdq++] = fd;
            else
              close (fd);
          }
      }

  shim.inlen += (size_t) n;
  if (shim.overlong)
    {
      nl = memchr (shim.inbuf, '\n', shim.inlen);
      if (nl == NULL)
        {
          shim.inlen = 0;
          return;
        }
      shim.overlong = false;
      shim.inlen -= (size_t) (nl - shim.inbuf) + 1;
      memmove (shim.inbuf, nl + 1, shim.inlen);
    }
  while ((nl = memchr (shim.inbuf, '\n', shim.inlen)) != NULL)
    {
      size_t used = (size_t) (nl - shim.inbuf) + 1;
      *nl = '\0';
      handle_command (shim.inbuf, old_mask);
      memmove (shim.inbuf, shim.inbuf + used, shim.inlen - used);
      shim.inlen -= used;
    }
}

static void
usage (void)
{
  fprintf (stderr, "usage: tether-shim --control-fd FD [--cgroup DIR --cgroup-rel PATH]\n"
                   "tether-shim is started by Tether; it is not meant to be run by hand.\n");
  exit (2);
}

int
main (int    argc,
      char **argv)
{
  sigset_t mask, old_mask;
  struct rlimit raised;
  int sfd, i;

  shim.control_fd = -1;
  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--control-fd") == 0 && i + 1 < argc)
        shim.control_fd = atoi (argv[++i]);
      else if (strcmp (argv[i], "--cgroup") == 0 && i + 1 < argc)
        shim.cgroup_dir = argv[++i];
      else if (strcmp (argv[i], "--cgroup-rel") == 0 && i + 1 < argc)
        shim.cgroup_rel = argv[++i];
      else
        usage ();
    }
  if (shim.control_fd < 0 || (shim.cgroup_dir != NULL) != (shim.cgroup_rel != NULL))
    usage ();

  fcntl (shim.control_fd, F_SETFD, FD_CLOEXEC);
  shim.self = getpid ();
  shim.inbuf = malloc (TETHER_SHIM_MAX_LINE);
  if (shim.inbuf == NULL)
    return 1;

  /* One stat fd per process seen: raise our own limit, and give children
   * the one we were started with. */
  getrlimit (RLIMIT_NOFILE, &shim.nofile);
  raised = shim.nofile;
  raised.rlim_cur = raised.rlim_max == RLIM_INFINITY || raised.rlim_max > (1 << 20)
                    ? (1 << 20) : raised.rlim_max;
  if (raised.rlim_cur > shim.nofile.rlim_cur)
    setrlimit (RLIMIT_NOFILE, &raised);
  getrlimit (RLIMIT_NOFILE, &raised);
  shim.fd_budget = (long) (raised.rlim_cur / 2);

  /* Out of Tether's process group: a Ctrl-C meant for tetherctl must not
   * take the watchdog of the tree down with it. */
  setpgid (0, 0);

  if (prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
    return 1;

  /* Being asked to die means the same as losing Tether: take the tree along. */
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  sigprocmask (SIG_BLOCK, &mask, &old_mask);
  signal (SIGPIPE, SIG_IGN);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    return 1;

  send_line ("hello %d %d %s", TETHER_SHIM_PROTOCOL_VERSION, (int) shim.self,
             shim.cgroup_dir != NULL ? "cgroup" : "reaper");

  for (;;)
    {
      struct pollfd fds[2 + MAX_TRACKED];
      pid_t watched[MAX_TRACKED];
      size_t n_fds = 2, n_watched = 0;

      fds[0] = (struct pollfd) { shim.control_fd, POLLIN, 0 };
      fds[1] = (struct pollfd) { sfd, POLLIN, 0 };
      for (size_t t = 0; t < shim.n_tracked; t++)
        if (shim.tracked[t].pidfd >= 0)
          {
            watched[n_watched++] = shim.tracked[t].pid;
            fds[n_fds++] = (struct pollfd) { shim.tracked[t].pidfd, POLLIN, 0 };
          }

      if (poll (fds, n_fds, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          on_control_eof ();
        }

      if (fds[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          bool fatal = false;

          while (read (sfd, &si, sizeof si) == (ssize_t) sizeof si)
            if (si.ssi_signo != SIGCHLD)
              fatal = true;
          if (fatal)
            on_control_eof ();
          reap_children ();
        }

      /* By pid: reaping above may have reported (and untracked) some. */
      for (size_t w = 0; w < n_watched; w++)
        if (fds[2 + w].revents & (POLLIN | POLLHUP))
          {
            Tracked *t = find_tracked (watched[w]);
            if (t != NULL && t->pidfd >= 0)
              on_watched_exited (t);
          }

      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        read_control (&old_mask);
    }
}
