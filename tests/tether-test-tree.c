/* tether-test-tree: an adversarial process-tree helper for Tether's tests.
 *
 * Plain C (no GLib) so that it behaves like an arbitrary foreign backend.
 *
 *   tether-test-tree MARKER MODE [MODE-ARGS...] [--pidfile PATH] [options]
 *
 * MARKER is a unique string chosen by the test.  Every process this helper
 * creates carries it in its argv (children re-exec /proc/self/exe with MARKER
 * as argv[1]; fork-forever children are plain forks, which keep argv), so a
 * test finds survivors by scanning /proc/PID/cmdline for MARKER.
 *
 * With --pidfile PATH every process that reaches its final state appends one
 * line "ROLE PID\n" (one write(), O_APPEND).  Once a line is in the file the
 * process runs in its final state (handlers installed, children forked).  In
 * every mode except fork-forever, notify and term-exit the "main" line is
 * written LAST: when it appears, every other line of the tree is already there.
 *
 * Modes:
 *   sleep                 main sleeps forever.
 *   children N            main forks N children ("child"), all sleep forever.
 *   double-fork           main -> intermediate (setsid, forks, exits at once)
 *                         -> setsid'd grandchild that sleeps forever; main
 *                         reaps the intermediate and exits 0 after the
 *                         grandchild has reported.
 *   double-fork stay      the same, but main sleeps forever instead of exiting.
 *   bootloader            main forks a "server" that sleeps forever and
 *                         waitpid()s for it; SIGTERM kills only the main (not
 *                         forwarded).  When the server dies, main exits with
 *                         its status (128+signal if it was killed).
 *   ignore-term [N]       main and N (default 2) children ignore SIGTERM,
 *                         SIGINT and SIGHUP; all sleep forever.
 *   fork-forever [MS]     main forks a child every MS ms (default 5); each
 *                         child forks one grandchild; children and
 *                         grandchildren exit ~50 ms after birth, so about
 *                         2*50/MS processes live besides main and a new pid
 *                         appears every MS/2 ms.  Main stays alive, never more
 *                         than FORK_FOREVER_CAP live children.  Only main
 *                         reports.  Plain forks: argv (MARKER) is inherited.
 *   tree N                main plus N descendants in a bushy tree (at most
 *                         10 children per node), all sleep forever ("node").
 *   notify ARGS...        sends each ARG as one datagram to $NOTIFY_SOCKET
 *                         ("\n", "\t", "\r", "\e" (ESC), "\\" escapes are interpreted; an ARG
 *                         "+MS" sleeps MS milliseconds instead of sending),
 *                         then sleeps forever (--exit-after: exits 0).
 *   term-exit             SIGTERM handler: appends "term-received PID", waits
 *                         --cleanup-ms (default 50) and exits 0.
 *   busy                  main forks a "busy" child spinning on the CPU and
 *                         a "sleeper" child; main sleeps.
 *   alloc MIB             main allocates MIB MiB, writes every page, then
 *                         sleeps.
 *   daemon                what daemonizing servers do with MAINPID=: main (the
 *                         launcher) forks a setsid'd "daemon" that dies on
 *                         SIGTERM, which forks a "stubborn" child that ignores
 *                         it; main sends "MAINPID=<daemon>\nREADY=1" to
 *                         $NOTIFY_SOCKET and exits 0.
 *   forking PATH          what daemonizing servers do without sd_notify (nginx):
 *                         main (the launcher) forks a child that starts a
 *                         session and forks the "daemon", and exits; main
 *                         exits 0 once the daemon runs. The daemon has a
 *                         "worker" child, writes its pid to PATH ("-": no
 *                         file) $TETHER_TEST_PIDFILE_DELAY_MS ms later (write
 *                         PATH.tmp, rename), and on SIGQUIT reports
 *                         "quit-received", stops the worker and exits 0
 *                         (SIGTERM kills it at once).
 *   orphans N             main forks N "orphan" children that sleep forever and
 *                         exits 0 once they have reported.
 *   spawner               main sleeps; each SIGUSR1 forks one more "late"
 *                         child that sleeps forever; SIGUSR2 makes main exec
 *                         itself (same program, so same name) in sleep mode.
 *
 * Options:
 *   --pidfile PATH        report file (see above).
 *   --ignore-term         every process of the tree ignores SIGTERM, SIGINT
 *                         and SIGHUP (implied by the ignore-term mode).
 *   --exit-after          notify: exit 0 once everything is sent.
 *   --cleanup-ms MS       term-exit: time spent "cleaning up" after SIGTERM.
 *
 * Exit status: 2 on usage errors, 1 on runtime failures.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FANOUT 10
#define FORK_FOREVER_CAP 100
#define FORK_FOREVER_PERIOD_MS 5
#define FORK_FOREVER_LIFETIME_MS 50

static const char *prog = "tether-test-tree";
static const char *argv0;
static const char *marker;
static const char *pidfile;
static int ignore_term;
static int exit_after;
static long cleanup_ms = 50;
static int ready_fd = -1;

/* Mode arguments: everything that is not an option. */
static char **mode_args;
static int n_mode_args;

static volatile sig_atomic_t got_term;

static int run (int argc, char **argv);

static void
die (const char *what)
{
  fprintf (stderr, "%s: %s: %s\n", prog, what, strerror (errno));
  exit (1);
}

static void
usage (void)
{
  fprintf (stderr,
           "usage: %s MARKER MODE [ARGS...] [--pidfile PATH] [--ignore-term]\n"
           "  modes: sleep | children N | double-fork [stay] | bootloader |\n"
           "         ignore-term [N] | fork-forever [MS] | tree N |\n"
           "         notify [--exit-after] ARGS... | term-exit [--cleanup-ms MS] |\n"
           "         busy | alloc MIB | spawner | daemon | forking PATH |\n"
           "         orphans N\n",
           prog);
  exit (2);
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

static long
parse_count (const char *s, long min, long max)
{
  char *end;
  long v;

  errno = 0;
  v = strtol (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
    {
      fprintf (stderr, "%s: bad number '%s' (want %ld..%ld)\n", prog, s, min, max);
      exit (2);
    }
  return v;
}

static int
write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return -1;
        }
      buf += n;
      len -= (size_t) n;
    }
  return 0;
}

/* Appends "ROLE PID\n" to the pidfile in a single write. */
static void
report (const char *role)
{
  char line[128];
  int len, fd;

  if (pidfile == NULL)
    return;
  len = snprintf (line, sizeof line, "%s %ld\n", role, (long) getpid ());
  if (len < 0 || (size_t) len >= sizeof line)
    return;
  fd = open (pidfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    die (pidfile);
  if (write_all (fd, line, (size_t) len) < 0)
    die (pidfile);
  close (fd);
}

/* Tells whoever waits on the ready pipe that this process has reported. */
static void
signal_ready (void)
{
  if (ready_fd < 0)
    return;
  (void) write_all (ready_fd, "r", 1);
  close (ready_fd);
  ready_fd = -1;
}

/* Reads N ready bytes; returns 0 on success, -1 if the writers went away. */
static int
wait_ready (int fd, long n)
{
  char buf[256];

  while (n > 0)
    {
      ssize_t r = read (fd, buf, n < (long) sizeof buf ? (size_t) n : sizeof buf);

      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return -1;
      n -= r;
    }
  return 0;
}

static void
set_handler (int sig, void (*handler) (int))
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset (&sa.sa_mask);
  if (sigaction (sig, &sa, NULL) < 0)
    die ("sigaction");
}

/* Whatever the spawner left us with, start from a known signal state. */
static void
reset_signals (void)
{
  sigset_t none;

  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  set_handler (SIGTERM, ignore_term ? SIG_IGN : SIG_DFL);
  set_handler (SIGINT, ignore_term ? SIG_IGN : SIG_DFL);
  set_handler (SIGHUP, ignore_term ? SIG_IGN : SIG_DFL);
  set_handler (SIGQUIT, SIG_DFL);
  set_handler (SIGCHLD, SIG_DFL);
  /* A ready-pipe reader that died must not kill the writer. */
  set_handler (SIGPIPE, SIG_IGN);
}

/* Sleeps forever, reaping any child that dies so no zombies pile up. */
static void
sleep_forever (void)
{
  for (;;)
    {
      if (waitpid (-1, NULL, 0) < 0 && errno == ECHILD)
        pause ();
    }
}

/* Forks a child that re-execs this program as
 *   ARGV0 MARKER MODE [ARG] [--ready-fd FD] [--pidfile P] [--ignore-term]
 * With pipe_w >= 0 the child inherits it as its ready fd.  If the exec fails
 * the child runs the mode in-process (argv, hence MARKER, is unchanged). */
static pid_t
spawn_child (const char *mode, const char *arg, int pipe_w)
{
  pid_t pid = fork ();

  if (pid < 0)
    die ("fork");
  if (pid == 0)
    {
      char fdbuf[16];
      char *argv[12];
      int argc = 0;

      argv[argc++] = (char *) argv0;
      argv[argc++] = (char *) marker;
      argv[argc++] = (char *) mode;
      if (arg != NULL)
        argv[argc++] = (char *) arg;
      if (pipe_w >= 0)
        {
          snprintf (fdbuf, sizeof fdbuf, "%d", pipe_w);
          argv[argc++] = (char *) "--ready-fd";
          argv[argc++] = fdbuf;
          /* Survive the exec. */
          fcntl (pipe_w, F_SETFD, 0);
        }
      if (pidfile != NULL)
        {
          argv[argc++] = (char *) "--pidfile";
          argv[argc++] = (char *) pidfile;
        }
      if (ignore_term)
        argv[argc++] = (char *) "--ignore-term";
      argv[argc] = NULL;

      execv ("/proc/self/exe", argv);
      _exit (run (argc, argv));
    }
  return pid;
}

static int
make_ready_pipe (int fds[2])
{
  if (pipe2 (fds, O_CLOEXEC) < 0)
    die ("pipe2");
  return fds[1];
}

/* ---- modes ------------------------------------------------------------ */

static int
mode_sleep (void)
{
  report ("main");
  signal_ready ();
  sleep_forever ();
  return 0;
}

/* Internal: a re-exec'd child that reports ROLE and sleeps forever. */
static int
mode_sleeper (const char *role)
{
  report (role);
  signal_ready ();
  sleep_forever ();
  return 0;
}

static int
mode_children (long n)
{
  pid_t *pids = calloc ((size_t) n + 1, sizeof *pids);
  int fds[2];
  long i;

  if (pids == NULL)
    die ("calloc");
  make_ready_pipe (fds);
  for (i = 0; i < n; i++)
    pids[i] = spawn_child ("_sleeper", "child", fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], n) < 0)
    {
      fprintf (stderr, "%s: a child failed to start\n", prog);
      for (i = 0; i < n; i++)
        kill (pids[i], SIGKILL);
      return 1;
    }
  close (fds[0]);
  free (pids);
  report ("main");
  signal_ready ();
  sleep_forever ();
  return 0;
}

/* Internal: the double-fork intermediate. */
static int
mode_dfork_mid (void)
{
  report ("intermediate");
  if (setsid () < 0)
    die ("setsid");
  spawn_child ("_sleeper", "grandchild", ready_fd);
  /* Exit at once: the grandchild is orphaned and reparented. */
  return 0;
}

static int
mode_double_fork (int stay)
{
  int fds[2], status;
  pid_t mid;

  make_ready_pipe (fds);
  mid = spawn_child ("_dfork-mid", NULL, fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], 1) < 0)
    {
      fprintf (stderr, "%s: the grandchild failed to start\n", prog);
      return 1;
    }
  close (fds[0]);
  while (waitpid (mid, &status, 0) < 0)
    if (errno != EINTR)
      die ("waitpid");
  if (stay)
    return mode_sleep ();
  report ("main");
  signal_ready ();
  return 0;
}

static int
mode_bootloader (void)
{
  int fds[2], status;
  pid_t server;

  make_ready_pipe (fds);
  server = spawn_child ("_sleeper", "server", fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], 1) < 0)
    {
      fprintf (stderr, "%s: the server failed to start\n", prog);
      kill (server, SIGKILL);
      return 1;
    }
  close (fds[0]);
  report ("main");
  signal_ready ();
  /* SIGTERM keeps its default action here: it kills only this process. */
  while (waitpid (server, &status, 0) < 0)
    if (errno != EINTR)
      die ("waitpid");
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return WEXITSTATUS (status);
}

static int
mode_fork_forever (long period_ms)
{
  long live = 0;

  report ("main");
  signal_ready ();
  for (;;)
    {
      pid_t pid;

      while ((pid = waitpid (-1, NULL, WNOHANG)) > 0)
        live--;

      if (live < FORK_FOREVER_CAP)
        {
          pid = fork ();
          if (pid == 0)
            {
              pid_t grandchild = fork ();

              if (grandchild == 0)
                {
                  sleep_ms (FORK_FOREVER_LIFETIME_MS);
                  _exit (0);
                }
              sleep_ms (FORK_FOREVER_LIFETIME_MS);
              if (grandchild > 0)
                waitpid (grandchild, NULL, WNOHANG);
              _exit (0);
            }
          if (pid > 0)
            live++;
        }
      sleep_ms (period_ms);
    }
  return 0;
}

/* Forks children carrying BUDGET descendants between them (at most
 * MAX_FANOUT children, the rest spread evenly as their own budgets). */
static void
tree_fork (long budget, int pipe_w)
{
  long k = budget < MAX_FANOUT ? budget : MAX_FANOUT;
  long rest = budget - k;
  long i;

  for (i = 0; i < k; i++)
    {
      long sub = rest / k + (i < rest % k ? 1 : 0);
      char buf[32];

      snprintf (buf, sizeof buf, "%ld", sub);
      spawn_child ("_tree-node", buf, pipe_w);
    }
}

/* Internal: a tree node that still has to create BUDGET descendants. */
static int
mode_tree_node (long budget)
{
  tree_fork (budget, ready_fd);
  report ("node");
  signal_ready ();
  sleep_forever ();
  return 0;
}

static int
mode_tree (long n)
{
  int fds[2];

  make_ready_pipe (fds);
  tree_fork (n, fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], n) < 0)
    {
      fprintf (stderr, "%s: a tree node failed to start\n", prog);
      return 1;
    }
  close (fds[0]);
  report ("main");
  signal_ready ();
  sleep_forever ();
  return 0;
}

/* Interprets \n, \t and \\ escapes; returns a malloc'd string. */
static char *
unescape (const char *s, size_t *len_out)
{
  char *out = malloc (strlen (s) + 1);
  size_t o = 0;

  if (out == NULL)
    die ("malloc");
  for (; *s != '\0'; s++)
    {
      if (s[0] == '\\' && s[1] != '\0')
        {
          s++;
          switch (*s)
            {
            case 'n': out[o++] = '\n'; break;
            case 't': out[o++] = '\t'; break;
            case 'r': out[o++] = '\r'; break;
            case 'e': out[o++] = '\033'; break;
            case '\\': out[o++] = '\\'; break;
            default: out[o++] = '\\'; out[o++] = *s; break;
            }
        }
      else
        out[o++] = *s;
    }
  out[o] = '\0';
  *len_out = o;
  return out;
}

/* The address NOTIFY_SOCKET names (a path, or "@name" for the abstract
 * namespace, as sd_notify reads it); -1 when it is unusable. */
static int
notify_address (struct sockaddr_un *addr,
                socklen_t          *addrlen)
{
  const char *path = getenv ("NOTIFY_SOCKET");
  size_t plen;

  if (path == NULL || path[0] == '\0')
    {
      fprintf (stderr, "%s: NOTIFY_SOCKET is not set\n", prog);
      return -1;
    }
  plen = strlen (path);
  if (plen >= sizeof addr->sun_path)
    {
      fprintf (stderr, "%s: NOTIFY_SOCKET is too long\n", prog);
      return -1;
    }
  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy (addr->sun_path, path, plen);
  if (path[0] == '@')
    {
      /* Abstract namespace, as systemd: no trailing NUL in the length. */
      addr->sun_path[0] = '\0';
      *addrlen = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + plen);
    }
  else
    *addrlen = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + plen + 1);
  return 0;
}

/* One datagram to NOTIFY_SOCKET; -1 (said on stderr) when it cannot go. */
static int
send_notify (const char *msg,
             size_t      len)
{
  struct sockaddr_un addr;
  socklen_t addrlen;
  int fd, r = 0;

  if (notify_address (&addr, &addrlen) < 0)
    return -1;
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die ("socket");
  while (sendto (fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *) &addr, addrlen) < 0)
    {
      if (errno == EINTR)
        continue;
      fprintf (stderr, "%s: sendto %s: %s\n", prog, getenv ("NOTIFY_SOCKET"), strerror (errno));
      r = -1;
      break;
    }
  close (fd);
  return r;
}

static int
mode_notify (void)
{
  int i;

  for (i = 0; i < n_mode_args; i++)
    {
      const char *arg = mode_args[i];
      size_t len;
      char *msg;
      int r;

      if (arg[0] == '+' && arg[1] != '\0')
        {
          sleep_ms (parse_count (arg + 1, 0, 86400000L));
          continue;
        }
      msg = unescape (arg, &len);
      r = send_notify (msg, len);
      free (msg);
      if (r < 0)
        return 1;
    }
  report ("main");
  signal_ready ();
  if (exit_after)
    return 0;
  sleep_forever ();
  return 0;
}

static void
on_term (int sig)
{
  (void) sig;
  got_term = 1;
}

static int
mode_term_exit (void)
{
  sigset_t block, old;

  sigemptyset (&block);
  sigaddset (&block, SIGTERM);
  sigprocmask (SIG_BLOCK, &block, &old);
  set_handler (SIGTERM, on_term);
  report ("main");
  signal_ready ();
  /* No lost wake-up: SIGTERM is only deliverable inside sigsuspend. */
  sigdelset (&old, SIGTERM);
  while (!got_term)
    {
      sigsuspend (&old);
      while (waitpid (-1, NULL, WNOHANG) > 0)
        ;
    }
  report ("term-received");
  sleep_ms (cleanup_ms);
  return 0;
}

/* Internal: the daemon proper, in a session of its own. */
static int
mode_daemon_proper (void)
{
  int fds[2], saved_ignore_term;

  if (setsid () < 0)
    die ("setsid");
  make_ready_pipe (fds);
  /* A child that outlives a polite stop: --ignore-term. */
  saved_ignore_term = ignore_term;
  ignore_term = 1;
  spawn_child ("_sleeper", "stubborn", fds[1]);
  ignore_term = saved_ignore_term;
  close (fds[1]);
  if (wait_ready (fds[0], 1) < 0)
    die ("stubborn child");
  close (fds[0]);
  report ("daemon");
  signal_ready ();
  sleep_forever ();
  return 0;
}

/* Internal: a classic daemon (nginx's master): a worker below it; writes
 * its pid to PATH ("-": nowhere) $TETHER_TEST_PIDFILE_DELAY_MS after its
 * launcher was told to exit (write and rename, as daemons do); SIGQUIT is its
 * graceful stop (reports "quit-received", stops the worker, exits 0);
 * SIGTERM kills it at once, leaving the worker. */
static int
mode_forking_daemon (const char *path)
{
  const char *delay = getenv ("TETHER_TEST_PIDFILE_DELAY_MS");
  sigset_t set;
  int fds[2];
  pid_t worker;

  make_ready_pipe (fds);
  worker = spawn_child ("_sleeper", "worker", fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], 1) < 0)
    die ("worker");
  close (fds[0]);

  sigemptyset (&set);
  sigaddset (&set, SIGQUIT);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_BLOCK, &set, NULL);
  report ("daemon");
  signal_ready ();

  if (strcmp (path, "-") != 0)
    {
      char tmp[4096], line[32];
      int fd, len;

      sleep_ms (delay != NULL ? parse_count (delay, 0, 60000) : 0);
      snprintf (tmp, sizeof tmp, "%s.tmp", path);
      len = snprintf (line, sizeof line, "%ld\n", (long) getpid ());
      fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || write_all (fd, line, (size_t) len) < 0 || close (fd) < 0 ||
          rename (tmp, path) < 0)
        die (path);
    }

  for (;;)
    {
      int sig = sigwaitinfo (&set, NULL);

      if (sig == SIGQUIT)
        {
          report ("quit-received");
          kill (worker, SIGTERM);
          while (waitpid (worker, NULL, 0) < 0 && errno == EINTR)
            ;
          return 0;
        }
      while (waitpid (-1, NULL, WNOHANG) > 0)
        ;
    }
}

/* Internal: the launcher's child, which starts a session and the daemon,
 * and exits. */
static int
mode_forking_mid (const char *path)
{
  if (setsid () < 0)
    die ("setsid");
  spawn_child ("_forking-daemon", path, ready_fd);
  return 0;
}

/* A launcher that leaves N processes, none of them the main one. */
static int
mode_orphans (long n)
{
  int fds[2];

  make_ready_pipe (fds);
  for (long i = 0; i < n; i++)
    spawn_child ("_sleeper", "orphan", fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], n) < 0)
    die ("orphans did not report");
  close (fds[0]);
  report ("main");
  return 0;
}

/* nginx, gunicorn -D, redis --daemonize yes: the launcher forks, its child
 * forks the daemon and exits, and the launcher exits 0 once the daemon
 * runs, with nothing said to $NOTIFY_SOCKET. */
static int
mode_forking (const char *path)
{
  int fds[2], status;
  pid_t mid;

  make_ready_pipe (fds);
  mid = spawn_child ("_forking-mid", path, fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], 1) < 0)
    {
      fprintf (stderr, "%s: the daemon failed to start\n", prog);
      return 1;
    }
  close (fds[0]);
  while (waitpid (mid, &status, 0) < 0)
    if (errno != EINTR)
      die ("waitpid");
  report ("main");
  return 0;
}

static int
mode_daemon (void)
{
  char message[64];
  int fds[2];
  pid_t daemon;

  make_ready_pipe (fds);
  daemon = spawn_child ("_daemon", NULL, fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], 1) < 0)
    {
      fprintf (stderr, "%s: the daemon failed to start\n", prog);
      return 1;
    }
  close (fds[0]);
  snprintf (message, sizeof message, "MAINPID=%ld\nREADY=1", (long) daemon);
  if (send_notify (message, strlen (message)) < 0)
    return 1;
  report ("main");
  return 0;
}

/* Internal: reports ROLE, then spins on the CPU forever. */
static int
mode_busy_child (const char *role)
{
  volatile unsigned long spin = 0;

  report (role);
  signal_ready ();
  for (;;)
    spin++;
  return 0;
}

static int
mode_busy (void)
{
  int fds[2];

  spawn_child ("_busy", "busy", make_ready_pipe (fds));
  spawn_child ("_sleeper", "sleeper", fds[1]);
  close (fds[1]);
  if (wait_ready (fds[0], 2) < 0)
    die ("children did not report");
  close (fds[0]);
  return mode_sleep ();
}

static int
mode_alloc (long mib)
{
  size_t size = (size_t) mib << 20;
  char *mem = malloc (size);
  long page = sysconf (_SC_PAGESIZE);

  if (mem == NULL)
    die ("malloc");
  /* Touch every page so it is resident, not just reserved. */
  for (size_t off = 0; off < size; off += (size_t) page)
    mem[off] = (char) off | 1;
  return mode_sleep ();
}

static int
mode_spawner (void)
{
  sigset_t set;
  int sig;

  sigemptyset (&set);
  sigaddset (&set, SIGUSR1);
  sigaddset (&set, SIGUSR2);
  sigaddset (&set, SIGCHLD);
  sigprocmask (SIG_BLOCK, &set, NULL);
  report ("main");
  signal_ready ();
  for (;;)
    {
      sig = sigwaitinfo (&set, NULL);
      if (sig == SIGUSR1)
        spawn_child ("_sleeper", "late", -1);
      else if (sig == SIGUSR2)
        {
          char *argv[] = { (char *) argv0, (char *) marker, (char *) "sleep",
                           (char *) "--pidfile", (char *) pidfile, NULL };

          if (pidfile == NULL)
            argv[3] = NULL;
          execv (argv0, argv);
          die ("execv");
        }
      while (waitpid (-1, NULL, WNOHANG) > 0)
        ;
    }
  return 0;
}

/* ---- argument parsing ------------------------------------------------- */

static int
run (int argc, char **argv)
{
  const char *mode;
  int i;

  if (argc < 3 || argv[1][0] == '\0')
    usage ();
  argv0 = argv[0];
  marker = argv[1];
  mode = argv[2];

  free (mode_args);
  mode_args = calloc ((size_t) argc, sizeof *mode_args);
  if (mode_args == NULL)
    die ("calloc");
  n_mode_args = 0;
  for (i = 3; i < argc; i++)
    {
      if (strcmp (argv[i], "--pidfile") == 0 && i + 1 < argc)
        pidfile = argv[++i];
      else if (strcmp (argv[i], "--ready-fd") == 0 && i + 1 < argc)
        ready_fd = (int) parse_count (argv[++i], 0, 1 << 20);
      else if (strcmp (argv[i], "--cleanup-ms") == 0 && i + 1 < argc)
        cleanup_ms = parse_count (argv[++i], 0, 3600000L);
      else if (strcmp (argv[i], "--ignore-term") == 0)
        ignore_term = 1;
      else if (strcmp (argv[i], "--exit-after") == 0)
        exit_after = 1;
      else if (strcmp (argv[i], "--") == 0)
        {
          for (i++; i < argc; i++)
            mode_args[n_mode_args++] = argv[i];
        }
      else if (strncmp (argv[i], "--", 2) == 0)
        usage ();
      else
        mode_args[n_mode_args++] = argv[i];
    }
  if (ready_fd >= 0)
    fcntl (ready_fd, F_SETFD, FD_CLOEXEC);

  if (strcmp (mode, "ignore-term") == 0)
    ignore_term = 1;
  reset_signals ();

  if (strcmp (mode, "sleep") == 0 && n_mode_args == 0)
    return mode_sleep ();
  if (strcmp (mode, "children") == 0 && n_mode_args == 1)
    return mode_children (parse_count (mode_args[0], 0, 10000));
  if (strcmp (mode, "double-fork") == 0 && n_mode_args == 0)
    return mode_double_fork (0);
  if (strcmp (mode, "double-fork") == 0 && n_mode_args == 1 && strcmp (mode_args[0], "stay") == 0)
    return mode_double_fork (1);
  if (strcmp (mode, "bootloader") == 0 && n_mode_args == 0)
    return mode_bootloader ();
  if (strcmp (mode, "ignore-term") == 0 && n_mode_args <= 1)
    return mode_children (n_mode_args == 1 ? parse_count (mode_args[0], 0, 10000) : 2);
  if (strcmp (mode, "fork-forever") == 0 && n_mode_args <= 1)
    return mode_fork_forever (n_mode_args == 1 ? parse_count (mode_args[0], 1, 60000)
                                               : FORK_FOREVER_PERIOD_MS);
  if (strcmp (mode, "tree") == 0 && n_mode_args == 1)
    return mode_tree (parse_count (mode_args[0], 0, 20000));
  if (strcmp (mode, "notify") == 0)
    return mode_notify ();
  if (strcmp (mode, "term-exit") == 0 && n_mode_args == 0)
    return mode_term_exit ();
  if (strcmp (mode, "busy") == 0 && n_mode_args == 0)
    return mode_busy ();
  if (strcmp (mode, "alloc") == 0 && n_mode_args == 1)
    return mode_alloc (parse_count (mode_args[0], 1, 4096));
  if (strcmp (mode, "spawner") == 0 && n_mode_args == 0)
    return mode_spawner ();
  if (strcmp (mode, "daemon") == 0 && n_mode_args == 0)
    return mode_daemon ();
  if (strcmp (mode, "orphans") == 0 && n_mode_args == 1)
    return mode_orphans (parse_count (mode_args[0], 1, 1000));
  if (strcmp (mode, "forking") == 0 && n_mode_args == 1)
    return mode_forking (mode_args[0]);
  /* Internal modes, used by re-exec'd children. */
  if (strcmp (mode, "_busy") == 0 && n_mode_args == 1)
    return mode_busy_child (mode_args[0]);
  if (strcmp (mode, "_sleeper") == 0 && n_mode_args == 1)
    return mode_sleeper (mode_args[0]);
  if (strcmp (mode, "_dfork-mid") == 0 && n_mode_args == 0)
    return mode_dfork_mid ();
  if (strcmp (mode, "_daemon") == 0 && n_mode_args == 0)
    return mode_daemon_proper ();
  if (strcmp (mode, "_forking-mid") == 0 && n_mode_args == 1)
    return mode_forking_mid (mode_args[0]);
  if (strcmp (mode, "_forking-daemon") == 0 && n_mode_args == 1)
    return mode_forking_daemon (mode_args[0]);
  if (strcmp (mode, "_tree-node") == 0 && n_mode_args == 1)
    return mode_tree_node (parse_count (mode_args[0], 0, 20000));
  usage ();
  return 2;
}

int
main (int argc, char **argv)
{
  return run (argc, argv);
}
