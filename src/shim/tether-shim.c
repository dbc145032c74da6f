/* tether-shim.c: the process that sits at the root of every backend tree
 *
 * Tether execs this between itself and the backend. It makes itself a child
 * subreaper, starts the backend in a new session (and, in cgroup mode, in the
 * leaf cgroup before exec), reaps every descendant, and answers a small line
 * protocol on the control socket Tether gave it. When that socket reaches
 * EOF -- Tether quit, crashed or was SIGKILLed -- it kills the whole tree and
 * reaps it: this is what guarantees zero orphans without PR_SET_PDEATHSIG.
 *
 * Protocol (one line each way, '\n'-terminated):
 *   shim -> tether  ready PID | spawn-failed ERRNO | exit PID WAITSTATUS | empty
 *                   ok N [PID...] | error ERRNO TEXT     (replies, in order)
 *   tether -> shim  members | signal PID SIG | signal-all SIG
 *                   signal-subtree PID SIG | kill-subtree PID
 *                   freeze | thaw | kill
 *
 * Plain C and no GLib on purpose: it must be small, start fast and never
 * depend on threads.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-procfs.h"

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
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct
{
  int control_fd;
  const char *cgroup_dir;  /* absolute, or NULL in reaper mode */
  const char *cgroup_rel;  /* its path inside the cgroup2 hierarchy */
  pid_t main_pid;
  bool main_exited;
  char inbuf[4096];
  size_t inlen;
} Shim;

static Shim shim;

static void
send_line (const char *fmt,
           ...)
{
  char line[PIPE_BUF];
  va_list args;
  int len;
  size_t off = 0;

  va_start (args, fmt);
  len = vsnprintf (line, sizeof line - 1, fmt, args);
  va_end (args);
  if (len < 0)
    return;
  if ((size_t) len > sizeof line - 2)
    len = sizeof line - 2;
  line[len++] = '\n';

  while (off < (size_t) len)
    {
      ssize_t n = write (shim.control_fd, line + off, (size_t) len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return; /* Tether is gone: the poll loop sees the EOF */
      off += (size_t) n;
    }
}

static void
send_pid_list (int    status,
               pid_t *pids,
               size_t n)
{
  /* Member lists can be long: stream them rather than format one line. */
  char buf[16384];
  size_t len, i;

  len = (size_t) snprintf (buf, sizeof buf, "ok %zu", n);
  for (i = 0; i < n; i++)
    {
      if (len + 16 > sizeof buf)
        {
          if (write (shim.control_fd, buf, len) < 0)
            return;
          len = 0;
        }
      len += (size_t) snprintf (buf + len, sizeof buf - len, " %d", (int) pids[i]);
    }
  buf[len++] = '\n';
  if (write (shim.control_fd, buf, len) < 0)
    return;
  (void) status;
}

static char *
cgroup_file (const char *name)
{
  static char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/%s", shim.cgroup_dir, name);
  return path;
}

static int
list_members (pid_t  **pids,
              size_t  *n)
{
  if (shim.cgroup_dir != NULL)
    return tether_procfs_read_pid_list (cgroup_file ("cgroup.procs"), pids, n);
  return tether_procfs_descendants (getpid (), pids, n);
}

static int
is_member (pid_t pid)
{
  if (pid <= 1 || pid == getpid ())
    return 0;
  if (shim.cgroup_dir != NULL)
    return tether_procfs_in_cgroup (pid, shim.cgroup_rel);
  return tether_procfs_is_descendant (pid, getpid ());
}

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

static bool
contains (const pid_t *pids,
          size_t       n,
          pid_t        pid)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (pids[i] == pid)
      return true;
  return false;
}

/* The set a sweep works on: the whole tree, or root and its descendants. */
static int
list_scope (pid_t    root,
            pid_t  **pids,
            size_t  *n)
{
  pid_t *desc;
  size_t n_desc;
  int r;

  if (root <= 0)
    return list_members (pids, n);

  r = tether_procfs_descendants (root, &desc, &n_desc);
  if (r < 0)
    return r;
  *pids = realloc (desc, (n_desc + 1) * sizeof *desc);
  if (*pids == NULL)
    {
      free (desc);
      return -ENOMEM;
    }
  (*pids)[n_desc] = root;
  *n = n_desc + 1;
  return 0;
}

/* SIGSTOP every process in scope until a pass finds no new process and every
 * one is stopped: a forking tree cannot outrun it, since a stopped process
 * forks no more. Returns how many processes are frozen. */
static size_t
stop_sweep (pid_t root)
{
  pid_t *seen = NULL;
  size_t n_seen = 0, cap = 0;
  long deadline = now_ms () + 3000;

  for (;;)
    {
      pid_t *pids;
      size_t n, i;
      bool settled = true;

      if (list_scope (root, &pids, &n) < 0)
        break;

      for (i = 0; i < n; i++)
        {
          TetherProcStat st;

          if (!contains (seen, n_seen, pids[i]))
            {
              if (n_seen == cap)
                {
                  cap = cap ? cap * 2 : 256;
                  seen = realloc (seen, cap * sizeof *seen);
                  if (seen == NULL)
                    abort ();
                }
              seen[n_seen++] = pids[i];
              signal_member (pids[i], SIGSTOP);
              settled = false;
            }
          else if (tether_procfs_read_stat (pids[i], &st) == 0 &&
                   st.state != 'T' && st.state != 't' &&
                   st.state != 'Z' && st.state != 'X')
            {
              settled = false;
            }
        }

      free (pids);
      if (settled || now_ms () > deadline)
        {
          free (seen);
          return n;
        }
      if (!settled && n > 0)
        {
          struct timespec pause = { 0, 200 * 1000 }; /* let SIGSTOP land */
          nanosleep (&pause, NULL);
        }
    }

  free (seen);
  return 0;
}

static size_t
signal_scope (pid_t root,
              int   sig)
{
  pid_t *pids;
  size_t n, i, hit = 0;

  if (list_scope (root, &pids, &n) < 0)
    return 0;
  for (i = 0; i < n; i++)
    if (signal_member (pids[i], sig) == 0)
      hit++;
  free (pids);
  return hit;
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

static size_t
count_members (void)
{
  pid_t *pids;
  size_t n;

  if (list_members (&pids, &n) < 0)
    return 0;
  free (pids);
  return n;
}

static int
freeze_tree (size_t *n)
{
  if (shim.cgroup_dir == NULL)
    {
      *n = stop_sweep (0);
      return 0;
    }
  if (tether_procfs_write_file (cgroup_file ("cgroup.freeze"), "1") < 0)
    return -errno;
  *n = count_members ();
  return wait_cgroup_frozen (1);
}

static int
thaw_tree (size_t *n)
{
  if (shim.cgroup_dir == NULL)
    {
      *n = signal_scope (0, SIGCONT);
      return 0;
    }
  *n = count_members ();
  if (tether_procfs_write_file (cgroup_file ("cgroup.freeze"), "0") < 0)
    return -errno;
  return wait_cgroup_frozen (0);
}

static size_t
kill_tree (void)
{
  size_t n;

  if (shim.cgroup_dir != NULL)
    {
      /* cgroup.kill also catches processes forked while it runs. */
      n = count_members ();
      if (tether_procfs_write_file (cgroup_file ("cgroup.kill"), "1") == 0)
        return n;
      /* No cgroup.kill (kernel < 5.14): fall through to the sweep. */
    }

  n = stop_sweep (0);
  signal_scope (0, SIGKILL);
  return n;
}

static size_t
kill_subtree (pid_t root)
{
  size_t n = stop_sweep (root);
  signal_scope (root, SIGKILL);
  return n;
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
  kill_tree ();
  for (;;)
    {
      pid_t *pids;
      size_t n;
      int status;
      pid_t pid = waitpid (-1, &status, __WALL);

      if (pid > 0 || (pid < 0 && errno == EINTR))
        continue;
      /* ECHILD: all reaped. In cgroup mode make sure nothing that slipped
       * past the subreaper (it cannot, but be strict) is left. */
      if (list_members (&pids, &n) == 0 && n > 0)
        {
          free (pids);
          kill_tree ();
          continue;
        }
      free (pids);
      break;
    }
  reap_all_and_exit (0);
}

static void
handle_command (char *line)
{
  char verb[32];
  int a = 0, b = 0, r;
  size_t n = 0;
  int fields = sscanf (line, "%31s %d %d", verb, &a, &b);

  if (fields < 1)
    {
      send_line ("error %d empty command", EINVAL);
      return;
    }

  if (strcmp (verb, "members") == 0)
    {
      pid_t *pids;
      r = list_members (&pids, &n);
      if (r < 0)
        send_line ("error %d cannot list members", -r);
      else
        {
          send_pid_list (0, pids, n);
          free (pids);
        }
    }
  else if (strcmp (verb, "signal") == 0 && fields == 3)
    {
      r = signal_member (a, b);
      if (r < 0)
        send_line ("error %d %s", -r, r == -ESRCH ? "not a member of the tree" : strerror (-r));
      else
        send_line ("ok 1");
    }
  else if (strcmp (verb, "signal-all") == 0 && fields == 2)
    send_line ("ok %zu", signal_scope (0, a));
  else if ((strcmp (verb, "signal-subtree") == 0 && fields == 3) ||
           (strcmp (verb, "kill-subtree") == 0 && fields == 2))
    {
      if (is_member (a) != 1)
        send_line ("error %d not a member of the tree", ESRCH);
      else if (verb[0] == 'k')
        send_line ("ok %zu", kill_subtree (a));
      else
        send_line ("ok %zu", signal_scope (a, b));
    }
  else if (strcmp (verb, "freeze") == 0 || strcmp (verb, "thaw") == 0)
    {
      r = verb[0] == 'f' ? freeze_tree (&n) : thaw_tree (&n);
      if (r < 0)
        send_line ("error %d %s", -r, strerror (-r));
      else
        send_line ("ok %zu", n);
    }
  else if (strcmp (verb, "kill") == 0)
    send_line ("ok %zu", kill_tree ());
  else
    send_line ("error %d unknown command", EINVAL);
}

static void
read_control (void)
{
  ssize_t n;
  char *nl;

  n = read (shim.control_fd, shim.inbuf + shim.inlen, sizeof shim.inbuf - shim.inlen - 1);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0)
    on_control_eof ();

  shim.inlen += (size_t) n;
  shim.inbuf[shim.inlen] = '\0';

  while ((nl = memchr (shim.inbuf, '\n', shim.inlen)) != NULL)
    {
      size_t used = (size_t) (nl - shim.inbuf) + 1;
      *nl = '\0';
      handle_command (shim.inbuf);
      memmove (shim.inbuf, shim.inbuf + used, shim.inlen - used);
      shim.inlen -= used;
    }

  if (shim.inlen == sizeof shim.inbuf - 1)
    {
      /* A line longer than any command: Tether is confused, not us. */
      send_line ("error %d line too long", EINVAL);
      shim.inlen = 0;
    }
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
          if (pid == shim.main_pid)
            {
              shim.main_exited = true;
              send_line ("exit %d %d", (int) pid, status);
            }
          continue;
        }
      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0 && errno == ECHILD && shim.main_exited)
        {
          /* With a subreaper, orphans are re-parented to us before their
           * parent can be reaped: no child left means an empty tree. */
          send_line ("empty");
          reap_all_and_exit (0);
        }
      return;
    }
}

static void
usage (void)
{
  fprintf (stderr, "usage: tether-shim --control-fd FD [--cgroup DIR --cgroup-rel PATH] -- COMMAND [ARG...]\n"
                   "tether-shim is started by Tether; it is not meant to be run by hand.\n");
  exit (2);
}

static pid_t
spawn_backend (char **argv,
               const sigset_t *old_mask)
{
  int status_pipe[2];
  int procs_fd = -1;
  pid_t pid;
  int child_errno = 0;
  ssize_t n;

  if (pipe2 (status_pipe, O_CLOEXEC) < 0)
    return -errno;

  if (shim.cgroup_dir != NULL)
    {
      procs_fd = open (cgroup_file ("cgroup.procs"), O_WRONLY | O_CLOEXEC);
      if (procs_fd < 0)
        return -errno;
    }

  pid = fork ();
  if (pid < 0)
    return -errno;

  if (pid == 0)
    {
      struct sigaction dfl = { 0 };
      int sig, err;

      dfl.sa_handler = SIG_DFL;
      for (sig = 1; sig < NSIG; sig++)
        sigaction (sig, &dfl, NULL);
      sigprocmask (SIG_SETMASK, old_mask, NULL);
      setsid ();

      /* Enter the leaf cgroup before exec: no instant of the backend's
       * life, and none of its children's, is outside it. */
      if (procs_fd >= 0 && write (procs_fd, "0", 1) != 1)
        {
          err = errno;
          goto fail;
        }
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

  shim.main_pid = pid;
  if (n == (ssize_t) sizeof child_errno)
    return -child_errno;
  return pid;
}

int
main (int    argc,
      char **argv)
{
  sigset_t mask, old_mask;
  int sfd, i;
  char **command = NULL;
  pid_t pid;

  shim.control_fd = -1;
  for (i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--control-fd") == 0 && i + 1 < argc)
        shim.control_fd = atoi (argv[++i]);
      else if (strcmp (argv[i], "--cgroup") == 0 && i + 1 < argc)
        shim.cgroup_dir = argv[++i];
      else if (strcmp (argv[i], "--cgroup-rel") == 0 && i + 1 < argc)
        shim.cgroup_rel = argv[++i];
      else if (strcmp (argv[i], "--") == 0 && i + 1 < argc)
        {
          command = &argv[i + 1];
          break;
        }
      else
        usage ();
    }
  if (shim.control_fd < 0 || command == NULL ||
      (shim.cgroup_dir != NULL) != (shim.cgroup_rel != NULL))
    usage ();

  fcntl (shim.control_fd, F_SETFD, FD_CLOEXEC);

  /* Out of Tether's process group: a Ctrl-C meant for tetherctl must not
   * take the watchdog of the tree down with it. */
  setpgid (0, 0);

  if (prctl (PR_SET_CHILD_SUBREAPER, 1) < 0)
    {
      send_line ("spawn-failed %d", errno);
      return 1;
    }

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
    {
      send_line ("spawn-failed %d", errno);
      return 1;
    }

  pid = spawn_backend (command, &old_mask);
  if (pid < 0)
    {
      send_line ("spawn-failed %d", (int) -pid);
      shim.main_exited = true;
      shim.main_pid = 0;
      reap_all_and_exit (0);
    }
  send_line ("ready %d", (int) pid);

  for (;;)
    {
      struct pollfd fds[2] = {
        { shim.control_fd, POLLIN, 0 },
        { sfd, POLLIN, 0 },
      };

      if (poll (fds, 2, -1) < 0)
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

      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
        read_control ();
    }
}
