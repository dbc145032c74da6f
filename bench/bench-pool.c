/* bench-pool.c: a managed prefork pool against gunicorn, in one run
 *
 * 1. The worker's own start: examples/pool_worker.py started by hand
 *    (socket activation by hand, its own notify socket) to READY=1, one at
 *    a time and eight at once.
 * 2. Tether's resize 1 -> 9 (and 1 -> 2) to every new worker READY, less
 *    that own start.
 * 3. Failed requests under a bounded loopback load (4 clients, GET
 *    /slow?ms=20 and GET /) while the pool shrinks 8 -> 2 and while a
 *    rolling recycle runs.
 * 4. The peer, Debian's gunicorn with examples/wsgi_app.py: SIGTTIN (one
 *    every 100 ms) to the new worker existing as a child and answering,
 *    1 -> 9, and failed requests under the same load while SIGTTOU shrinks
 *    8 -> 2.
 *
 * Workers and gunicorn run on the interpreter gunicorn's script names (a
 * pyenv shim on PATH would add a second of its own to every start).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "test-util.h"
#include "tether-supervisor.h"

#define RUNS 5
#define N_CLIENTS 4
#define GROW_TO 9
#define SIGNAL_GAP_MS 100
/* Each load client rests this long between requests: a bounded load. */
#define LOAD_PAUSE_MS 10
/* Shrinks and recycles under load, each with the load running this long
 * before and after. */
#define LOAD_ROUNDS 3
#define LOAD_AROUND_MS 200
/* The pool profile's stop.graceful_timeout (pool.json's). */
#define GRACEFUL_S 10

static char *examples_dir;
static char *python;
static char *tmp_dir;

/* ---- small helpers ------------------------------------------------------ */

static double
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000.0;
}

static int
listen_on_free_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 128) < 0)
    g_error ("cannot listen: %s", g_strerror (errno));
  return fd;
}

/* Iterates the default context for ms milliseconds. */
static gboolean
on_flag_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
spin_ms (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_flag_timeout, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* The interpreter gunicorn runs on (its #! line), else python3 on PATH. */
static char *
find_python (void)
{
  g_autofree char *gunicorn = g_find_program_in_path ("gunicorn");
  g_autofree char *contents = NULL;

  if (gunicorn != NULL && g_file_get_contents (gunicorn, &contents, NULL, NULL) &&
      g_str_has_prefix (contents, "#!"))
    {
      char *line = contents + 2;
      char *end = line + strcspn (line, "\n");
      g_auto(GStrv) words = NULL;

      *end = '\0';
      words = g_strsplit_set (g_strstrip (line), " \t", -1);
      if (words[0] != NULL && g_path_is_absolute (words[0]) && g_file_test (words[0], G_FILE_TEST_IS_EXECUTABLE)
          && !g_str_has_suffix (words[0], "/env"))
        return g_strdup (words[0]);
    }
  if (g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup ("/usr/bin/python3");
  return g_find_program_in_path ("python3");
}

/* ---- loopback HTTP client ----------------------------------------------- */

typedef enum
{
  FAIL_REFUSED,
  FAIL_RESET,
  FAIL_CLOSED,
  FAIL_TIMEOUT,
  FAIL_STATUS,
  FAIL_OTHER,
  N_FAILS
} FailKind;

static const char *fail_names[N_FAILS] = { "refused", "reset", "closed unanswered", "timeout", "non-200", "other" };

/* One request, HTTP/1.0; returns TRUE for a 200. *pid: the answer's "pid". */
static gboolean
http_get (guint16      port,
          const char  *path,
          FailKind    *kind,
          char       **why,
          int         *pid)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
                              .sin_port = htons (port) };
  struct timeval tv = { .tv_sec = 5 };
  char request[256], buf[4096];
  gsize got = 0;
  int fd, n;

  *pid = 0;
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    goto failed;
  n = g_snprintf (request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (send (fd, request, n, MSG_NOSIGNAL) != n)
    goto failed;
  for (;;)
    {
      ssize_t r = recv (fd, buf + got, sizeof buf - 1 - got, 0);
      if (r < 0)
        goto failed;
      if (r == 0)
        break;
      got += r;
      if (got == sizeof buf - 1)
        break;
    }
  buf[got] = '\0';
  close (fd);
  if (got == 0)
    {
      *kind = FAIL_CLOSED;
      *why = g_strdup_printf ("GET %s: closed without an answer", path);
      return FALSE;
    }
  if (!(g_str_has_prefix (buf, "HTTP/1.0 200") || g_str_has_prefix (buf, "HTTP/1.1 200")))
    {
      *kind = FAIL_STATUS;
      *why = g_strdup_printf ("GET %s: %.*s", path, (int) strcspn (buf, "\r\n"), buf);
      return FALSE;
    }
  {
    const char *p = strstr (buf, "\"pid\":");
    if (p != NULL)
      *pid = atoi (p + 6);
  }
  return TRUE;

failed:
  {
    int e = errno;
    close (fd);
    *kind = e == ECONNREFUSED ? FAIL_REFUSED
          : (e == ECONNRESET || e == EPIPE) ? FAIL_RESET
          : (e == EAGAIN || e == EWOULDBLOCK || e == ETIMEDOUT) ? FAIL_TIMEOUT
          : FAIL_OTHER;
    *why = g_strdup_printf ("GET %s: %s", path, g_strerror (e));
    return FALSE;
  }
}

/* Requests answered and failed, by kind. */
typedef struct
{
  guint ok, failed, fails[N_FAILS];
  double slowest_ms;           /* the longest request, answered or not */
} Tally;

typedef struct
{
  guint16 port;
  const char *paths[2];
  guint n_paths;
  guint pause_ms;              /* between one client's requests */
  gint stop;
  GMutex lock;
  Tally tally;
  GPtrArray *errors;           /* the first few */
  GHashTable *first_seen;      /* pid -> gint64 * monotonic µs of its first answer */
  GThread *threads[N_CLIENTS];
  guint n_threads;
  guint next_index;
  gint64 t_start;
  gint64 t_verb[2];            /* when the verb under test began and ended, or 0 */
} Load;

static gpointer
load_thread (gpointer data)
{
  Load *l = data;
  guint index, i = 0;

  g_mutex_lock (&l->lock);
  index = l->next_index++;
  g_mutex_unlock (&l->lock);

  while (!g_atomic_int_get (&l->stop))
    {
      const char *path = l->paths[(index + i++) % l->n_paths];
      FailKind kind = FAIL_OTHER;
      char *why = NULL;
      int pid = 0;
      gint64 began = g_get_monotonic_time ();
      gboolean ok = http_get (l->port, path, &kind, &why, &pid);
      gint64 now = g_get_monotonic_time ();

      g_mutex_lock (&l->lock);
      l->tally.slowest_ms = MAX (l->tally.slowest_ms, (now - began) / 1000.0);
      if (ok)
        {
          l->tally.ok++;
          if (pid > 0 && !g_hash_table_contains (l->first_seen, GINT_TO_POINTER (pid)))
            g_hash_table_insert (l->first_seen, GINT_TO_POINTER (pid), g_memdup2 (&now, sizeof now));
        }
      else
        {
          l->tally.failed++;
          l->tally.fails[kind]++;
          if (l->errors->len < 5)
            g_ptr_array_add (l->errors, g_strdup_printf ("at +%.0f ms: %s", (now - l->t_start) / 1000.0, why));
        }
      g_mutex_unlock (&l->lock);
      g_free (why);
      if (l->pause_ms)
        g_usleep (l->pause_ms * 1000);
    }
  return NULL;
}

static Load *
load_start (guint16 port, guint n_threads, guint pause_ms, const char *path0, const char *path1)
{
  Load *l = g_new0 (Load, 1);

  l->port = port;
  l->paths[0] = path0;
  l->paths[1] = path1;
  l->n_paths = path1 ? 2 : 1;
  l->pause_ms = pause_ms;
  l->errors = g_ptr_array_new_with_free_func (g_free);
  l->first_seen = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_mutex_init (&l->lock);
  l->n_threads = n_threads;
  l->t_start = g_get_monotonic_time ();
  for (guint i = 0; i < n_threads; i++)
    l->threads[i] = g_thread_new ("load", load_thread, l);
  return l;
}

static void
load_stop (Load *l)
{
  g_atomic_int_set (&l->stop, 1);
  for (guint i = 0; i < l->n_threads; i++)
    g_thread_join (l->threads[i]);
}

static void
load_free (Load *l)
{
  g_ptr_array_unref (l->errors);
  g_hash_table_unref (l->first_seen);
  g_mutex_clear (&l->lock);
  g_free (l);
}

static void
tally_add (Tally *to, const Tally *from)
{
  to->ok += from->ok;
  to->failed += from->failed;
  to->slowest_ms = MAX (to->slowest_ms, from->slowest_ms);
  for (guint k = 0; k < N_FAILS; k++)
    to->fails[k] += from->fails[k];
}

/* "312 requests (4 failed: 3 reset, 1 timeout)". */
static char *
tally_describe (const Tally *t)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "%u requests, slowest %.0f ms", t->ok + t->failed, t->slowest_ms);
  if (t->failed)
    {
      g_string_append (s, " (");
      for (guint k = 0, first = 1; k < N_FAILS; k++)
        if (t->fails[k])
          {
            g_string_append_printf (s, "%s%u %s", first ? "" : ", ", t->fails[k], fail_names[k]);
            first = 0;
          }
      g_string_append (s, ")");
    }
  return g_string_free (s, FALSE);
}

static void
load_print_errors (const char *who, Load *l)
{
  if (l->errors->len && l->t_verb[0])
    printf ("    %s: (the load began at +0 ms; the verb ran from +%.0f to +%.0f ms)\n", who,
            (l->t_verb[0] - l->t_start) / 1000.0, (l->t_verb[1] - l->t_start) / 1000.0);
  for (guint i = 0; i < l->errors->len; i++)
    printf ("    %s: %s\n", who, (char *) g_ptr_array_index (l->errors, i));
}

/* ---- 1. the worker's own start, by hand ----------------------------------- */

/* Starts n workers on one listening socket, each with fd 3, LISTEN_FDS=1 and
 * LISTEN_PID its own pid, and returns the ms until all have sent READY=1
 * (-1 if not within 20 s). */
static double
direct_start (guint n)
{
  g_autofree char *notify_path = g_build_filename (tmp_dir, "notify", NULL);
  g_autofree char *script = g_build_filename (examples_dir, "pool_worker.py", NULL);
  g_autofree char *notify_env = g_strconcat ("NOTIFY_SOCKET=", notify_path, NULL);
  struct sockaddr_un un = { .sun_family = AF_UNIX };
  char listen_pid[32] = "LISTEN_PID=";
  const char *argv[] = { python, script, NULL };
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GPtrArray) envp = g_ptr_array_new ();
  int listen_fd = listen_on_free_port ();
  int devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  int nfd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  pid_t pids[16];
  guint ready = 0;
  gint64 t0;
  double result = -1;

  g_unlink (notify_path);
  g_strlcpy (un.sun_path, notify_path, sizeof un.sun_path);
  if (bind (nfd, (struct sockaddr *) &un, sizeof un) < 0)
    g_error ("notify socket: %s", g_strerror (errno));

  for (guint i = 0; env[i]; i++)
    if (!g_str_has_prefix (env[i], "LISTEN_") && !g_str_has_prefix (env[i], "NOTIFY_SOCKET=") &&
        !g_str_has_prefix (env[i], "WATCHDOG_"))
      g_ptr_array_add (envp, env[i]);
  g_ptr_array_add (envp, (char *) "LISTEN_FDS=1");
  g_ptr_array_add (envp, (char *) "LISTEN_FDNAMES=listen");
  g_ptr_array_add (envp, notify_env);
  g_ptr_array_add (envp, listen_pid);
  g_ptr_array_add (envp, NULL);

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      pids[i] = fork ();
      if (pids[i] == 0)
        {
          /* Only async-signal-safe calls from here: the pid by hand. */
          char digits[16];
          int len = 0;
          pid_t me = getpid ();
          char *p = listen_pid + strlen ("LISTEN_PID=");

          do
            digits[len++] = '0' + me % 10;
          while ((me /= 10) > 0);
          while (len > 0)
            *p++ = digits[--len];
          *p = '\0';
          /* dup2 onto itself would keep FD_CLOEXEC. */
          if (listen_fd == 3)
            fcntl (3, F_SETFD, 0);
          else
            dup2 (listen_fd, 3);
          dup2 (devnull, 2);
          execve (python, (char **) argv, (char **) envp->pdata);
          _exit (127);
        }
    }

  while (ready < n)
    {
      struct pollfd pfd = { .fd = nfd, .events = POLLIN };
      char msg[512];
      ssize_t r;

      if (poll (&pfd, 1, 20000) <= 0)
        break;
      r = recv (nfd, msg, sizeof msg - 1, 0);
      if (r <= 0)
        continue;
      msg[r] = '\0';
      if (strstr (msg, "READY=1") != NULL)
        ready++;
    }
  if (ready == n)
    result = ms_since (t0);

  for (guint i = 0; i < n; i++)
    kill (pids[i], SIGTERM);
  for (guint i = 0; i < n; i++)
    waitpid (pids[i], NULL, 0);
  close (nfd);
  close (listen_fd);
  close (devnull);
  g_unlink (notify_path);
  return result;
}

/* ---- 2. and 3. Tether's pool -------------------------------------------- */

typedef struct
{
  gboolean done;
  gboolean ok;
  char *error;
  gint64 t_done;
} Wait;

static void
on_pool_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;
  g_autoptr(GError) error = NULL;

  w->t_done = g_get_monotonic_time ();
  w->ok = tether_supervisor_pool_finish (TETHER_SUPERVISOR (source), result, &error);
  if (!w->ok)
    w->error = g_strdup (error->message);
  w->done = TRUE;
}

static void
on_started (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;
  g_autoptr(GError) error = NULL;

  w->ok = tether_supervisor_start_finish (TETHER_SUPERVISOR (source), result, &error);
  if (!w->ok)
    w->error = g_strdup (error->message);
  w->done = TRUE;
}

static void
on_stopped (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;
  g_autoptr(GError) error = NULL;

  w->ok = tether_supervisor_stop_finish (TETHER_SUPERVISOR (source), result, NULL, &error);
  if (!w->ok)
    w->error = g_strdup (error->message);
  w->done = TRUE;
}

/* Waits for w, at most timeout_s; FALSE (and says so) if it never came. */
static gboolean
wait_for (Wait *w, double timeout_s, const char *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  gboolean timed_out = FALSE;
  guint id = g_timeout_add ((guint) (timeout_s * 1000) + 10, on_flag_timeout, &timed_out);

  while (!w->done && !timed_out && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  if (!w->done)
    {
      printf ("  !! %s did not complete within %.0f s\n", what, timeout_s);
      return FALSE;
    }
  if (!w->ok)
    printf ("  !! %s failed: %s\n", what, w->error);
  return w->ok;
}

static void
wait_clear (Wait *w)
{
  g_free (w->error);
  memset (w, 0, sizeof *w);
}

/* What the pool did during one resize: spawn and ready times. */
typedef struct
{
  TetherPool *pool;
  gint64 t0;
  GArray *spawned;   /* double ms after t0 */
  GArray *ready;     /* double ms after t0: each time actual went up */
  guint last_actual;
} Watch;

static void
on_worker_spawned (TetherPool *pool, int pid, gpointer data)
{
  Watch *w = data;
  double ms = ms_since (w->t0);

  if (w->t0)
    g_array_append_val (w->spawned, ms);
}

static void
on_actual (GObject *object, GParamSpec *pspec, gpointer data)
{
  Watch *w = data;
  guint actual = tether_pool_get_actual (w->pool);

  if (w->t0)
    for (guint i = w->last_actual; i < actual; i++)
      {
        double ms = ms_since (w->t0);
        g_array_append_val (w->ready, ms);
      }
  w->last_actual = actual;
}

static gboolean
resize (TetherSupervisor *sup, Watch *watch, guint n, double *ms)
{
  Wait w = { 0 };
  g_autofree char *what = g_strdup_printf ("resize to %u", n);
  gboolean ok;

  if (watch)
    {
      g_array_set_size (watch->spawned, 0);
      g_array_set_size (watch->ready, 0);
      watch->last_actual = tether_pool_get_actual (watch->pool);
      watch->t0 = g_get_monotonic_time ();
    }
  {
    gint64 t0 = g_get_monotonic_time ();
    tether_supervisor_resize (sup, n, NULL, on_pool_done, &w);
    ok = wait_for (&w, 30, what);
    if (ms)
      *ms = (w.t_done - t0) / 1000.0;
  }
  if (watch)
    watch->t0 = 0;
  wait_clear (&w);
  return ok;
}

typedef struct
{
  gboolean ok;
  double resize9, resize9_last_spawn;
  double resize9_spawn, resize9_ready;  /* per new worker, median: resize to spawned, to READY */
  double resize2, resize2_own;   /* 1 -> 2: resize to READY, spawn to READY */
  Tally shrink, recycle;
  guint verb_failed;             /* resizes and recycles that failed */
  double shrink_ms, recycle_ms;  /* medians */
  double shrink_max, recycle_max;
  const char *owner;
} TetherFigures;

static void
bench_tether (TetherFigures *f)
{
  g_autofree char *script = g_build_filename (examples_dir, "pool_worker.py", NULL);
  g_autofree char *log_path = g_build_filename (tmp_dir, "pool.log", NULL);
  guint16 port = test_util_free_port ();
  g_autofree char *json = NULL;
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(TetherSupervisor) sup = NULL;
  g_autoptr(GError) error = NULL;
  TetherPool *pool;
  Watch watch = { 0 };
  Wait w = { 0 };
  double shrink_ms[LOAD_ROUNDS], recycle_ms[LOAD_ROUNDS];
  double r9[RUNS], r9_last[RUNS], r9_spawn[RUNS], r9_ready[RUNS], r2[RUNS], r2_own[RUNS];
  int log_fd;

  json = g_strdup_printf ("{\"name\": \"bench-pool\", \"command\": [\"%s\", \"%s\"], \"cwd\": \"%s\","
                          " \"env\": {\"PYTHONUNBUFFERED\": \"1\"}, \"ready\": \"notify\","
                          " \"stop\": {\"graceful_timeout\": %d, \"term_timeout\": 5},"
                          " \"pool\": {\"mode\": \"managed\", \"listen\": \"127.0.0.1:%u\","
                          " \"workers\": 1, \"min\": 1, \"max\": 16, \"resize_timeout\": 20}}",
                          python, script, examples_dir, GRACEFUL_S, port);
  profile = tether_profile_load_from_data (json, -1, examples_dir, "bench-pool.json", &error);
  g_assert_no_error (error);
  sup = tether_supervisor_new (profile, tether_owner_kind_from_env ());
  log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  tether_supervisor_set_stdio (sup, log_fd, log_fd);
  close (log_fd);

  tether_supervisor_start (sup, NULL, on_started, &w);
  if (!wait_for (&w, 30, "start"))
    return;
  wait_clear (&w);
  f->owner = tether_owner_kind_to_string (tether_supervisor_get_owner_kind (sup));

  pool = tether_supervisor_get_pool (sup);
  watch.pool = pool;
  watch.spawned = g_array_new (FALSE, FALSE, sizeof (double));
  watch.ready = g_array_new (FALSE, FALSE, sizeof (double));
  watch.last_actual = tether_pool_get_actual (pool);
  g_signal_connect (pool, "worker-spawned", G_CALLBACK (on_worker_spawned), &watch);
  g_signal_connect (pool, "notify::actual", G_CALLBACK (on_actual), &watch);

  f->ok = TRUE;
  /* 1 -> 2: a single worker's spawn to READY inside the pool. */
  for (guint r = 0; r < RUNS && f->ok; r++)
    {
      f->ok = resize (sup, &watch, 2, &r2[r]);
      r2_own[r] = (watch.ready->len && watch.spawned->len)
        ? g_array_index (watch.ready, double, 0) - g_array_index (watch.spawned, double, 0) : -1;
      f->ok = f->ok && resize (sup, NULL, 1, NULL);
    }
  /* 1 -> 9. */
  for (guint r = 0; r < RUNS && f->ok; r++)
    {
      f->ok = resize (sup, &watch, GROW_TO, &r9[r]);
      if (watch.spawned->len != GROW_TO - 1 || watch.ready->len != GROW_TO - 1)
        printf ("  !! resize 1 -> %u: %u spawned, %u ready\n", GROW_TO, watch.spawned->len, watch.ready->len);
      r9_last[r] = watch.spawned->len ? g_array_index (watch.spawned, double, watch.spawned->len - 1) : -1;
      r9_spawn[r] = watch.spawned->len ? bench_median ((double *) watch.spawned->data, watch.spawned->len) : -1;
      r9_ready[r] = watch.ready->len ? bench_median ((double *) watch.ready->data, watch.ready->len) : -1;
      f->ok = f->ok && resize (sup, NULL, 1, NULL);
    }
  if (f->ok)
    {
      f->resize2 = bench_median (r2, RUNS);
      f->resize2_own = bench_median (r2_own, RUNS);
      f->resize9 = bench_median (r9, RUNS);
      f->resize9_last_spawn = bench_median (r9_last, RUNS);
      f->resize9_spawn = bench_median (r9_spawn, RUNS);
      f->resize9_ready = bench_median (r9_ready, RUNS);
    }

  /* Shrink 8 -> 2 under load, then a rolling recycle of 4 under load; each
   * LOAD_ROUNDS times, a fresh load around each. */
  for (guint r = 0; r < LOAD_ROUNDS && f->ok; r++)
    {
      Load *l;

      if (!(f->ok = resize (sup, NULL, 8, NULL)))
        break;
      l = load_start (port, N_CLIENTS, LOAD_PAUSE_MS, "/slow?ms=20", "/");
      spin_ms (LOAD_AROUND_MS);
      l->t_verb[0] = g_get_monotonic_time ();
      if (!resize (sup, NULL, 2, &shrink_ms[r]))
        f->verb_failed++;
      l->t_verb[1] = g_get_monotonic_time ();
      spin_ms (LOAD_AROUND_MS);
      load_stop (l);
      tally_add (&f->shrink, &l->tally);
      load_print_errors ("Tether shrink", l);
      load_free (l);
    }
  for (guint r = 0; r < LOAD_ROUNDS && f->ok; r++)
    {
      Load *l;
      gint64 t0;

      if (!(f->ok = resize (sup, NULL, 4, NULL)))
        break;
      l = load_start (port, N_CLIENTS, LOAD_PAUSE_MS, "/slow?ms=20", "/");
      spin_ms (LOAD_AROUND_MS);
      t0 = g_get_monotonic_time ();
      tether_supervisor_recycle_workers (sup, NULL, on_pool_done, &w);
      if (!wait_for (&w, 60, "recycle"))
        f->verb_failed++;
      recycle_ms[r] = (w.t_done - t0) / 1000.0;
      l->t_verb[0] = t0;
      l->t_verb[1] = w.t_done;
      spin_ms (LOAD_AROUND_MS);
      load_stop (l);
      tally_add (&f->recycle, &l->tally);
      load_print_errors ("Tether recycle", l);
      load_free (l);
      wait_clear (&w);
    }
  if (f->ok)
    {
      f->shrink_ms = bench_median (shrink_ms, LOAD_ROUNDS);
      f->recycle_ms = bench_median (recycle_ms, LOAD_ROUNDS);
      f->shrink_max = shrink_ms[LOAD_ROUNDS - 1];   /* sorted by the median */
      f->recycle_max = recycle_ms[LOAD_ROUNDS - 1];
    }

  g_signal_handlers_disconnect_by_data (pool, &watch);
  tether_supervisor_stop (sup, NULL, on_stopped, &w);
  wait_for (&w, 30, "stop");
  wait_clear (&w);
  g_array_unref (watch.spawned);
  g_array_unref (watch.ready);
}

/* ---- 4. gunicorn --------------------------------------------------------- */

/* The pids of pid's children. */
static GArray *
children_of (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/children", (int) pid, (int) pid);
  g_autofree char *contents = NULL;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (pid_t));

  if (g_file_get_contents (path, &contents, NULL, NULL))
    {
      char *p = contents, *end;
      for (long v; (v = strtol (p, &end, 10)), end != p; p = end)
        {
          pid_t c = v;
          g_array_append_val (out, c);
        }
    }
  return out;
}

static guint
n_children (pid_t pid)
{
  GArray *a = children_of (pid);
  guint n = a->len;
  g_array_unref (a);
  return n;
}

static gboolean
contains (GArray *a, pid_t pid)
{
  for (guint i = 0; i < a->len; i++)
    if (g_array_index (a, pid_t, i) == pid)
      return TRUE;
  return FALSE;
}

static void
setpgid_self (gpointer data)
{
  setpgid (0, 0);
}

static pid_t
gunicorn_start (guint16 port, guint workers, const char *log_name)
{
  g_autofree char *gunicorn = g_find_program_in_path ("gunicorn");
  g_autofree char *bind = g_strdup_printf ("127.0.0.1:%u", port);
  g_autofree char *n = g_strdup_printf ("%u", workers);
  g_autofree char *log_path = g_build_filename (tmp_dir, log_name, NULL);
  const char *argv[] = { python, gunicorn, "--workers", n, "--bind", bind, "wsgi_app:app", NULL };
  g_autoptr(GError) error = NULL;
  int log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  GPid pid;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  if (!g_spawn_async_with_fds (examples_dir, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                               setpgid_self, NULL, &pid, -1, log_fd, log_fd, &error))
    g_error ("gunicorn: %s", error->message);
  close (log_fd);

  /* Up: every worker forked and one of them answers. */
  while (g_get_monotonic_time () < deadline)
    {
      FailKind kind;
      char *why = NULL;
      int answer_pid;

      if (n_children (pid) == workers && http_get (port, "/", &kind, &why, &answer_pid))
        return pid;
      g_free (why);
      g_usleep (20000);
    }
  printf ("  !! gunicorn did not come up with %u workers (log %s)\n", workers, log_path);
  return pid;
}

static void
gunicorn_stop (pid_t pid)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  kill (-pid, SIGTERM);
  while (waitpid (pid, NULL, WNOHANG) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  kill (-pid, SIGKILL);  /* whatever is left of the group */
  waitpid (pid, NULL, WNOHANG);
}

typedef struct
{
  gboolean ok;
  double total;               /* first SIGTTIN to GROW_TO children */
  double exists;              /* median, SIGTTIN to its worker a child */
  double answers;             /* median, SIGTTIN to its worker's first answer */
  guint n_children, n_answered;
  Tally shrink;
  double shrink_ms;          /* median: first SIGTTOU to 2 workers left */
  double shrink_max;
  guint shrink_children;     /* the fewest reached: 2 unless signals were lost */
} GunicornFigures;

static void
gunicorn_grow_once (GunicornFigures *f, double *total, double *exists, double *answers)
{
  guint16 port = test_util_free_port ();
  pid_t master = gunicorn_start (port, 1, "gunicorn-grow.log");
  GArray *known = children_of (master);
  gint64 sent[GROW_TO], appeared[GROW_TO];
  pid_t new_pid[GROW_TO];
  guint n_sent = 0, n_new = 0;
  double e[GROW_TO], a[GROW_TO];
  guint n_a = 0;
  /* Two light probes record which pid answers first when. */
  Load *probe = load_start (port, 2, 2, "/", NULL);
  gint64 t0, deadline;

  spin_ms (100);
  t0 = g_get_monotonic_time ();
  deadline = t0 + 5 * G_USEC_PER_SEC;
  while (n_new < GROW_TO - 1 && g_get_monotonic_time () < deadline)
    {
      gint64 now = g_get_monotonic_time ();
      GArray *c;

      if (n_sent < GROW_TO - 1 && now >= t0 + (gint64) n_sent * SIGNAL_GAP_MS * 1000)
        {
          sent[n_sent++] = now;
          kill (master, SIGTTIN);
        }
      c = children_of (master);
      for (guint i = 0; i < c->len; i++)
        {
          pid_t p = g_array_index (c, pid_t, i);
          if (!contains (known, p))
            {
              g_array_append_val (known, p);
              if (n_new < GROW_TO - 1)
                {
                  new_pid[n_new] = p;
                  appeared[n_new++] = g_get_monotonic_time ();
                }
            }
        }
      g_array_unref (c);
      g_usleep (1000);
    }
  *total = n_new == GROW_TO - 1 ? (appeared[n_new - 1] - t0) / 1000.0 : -1;
  /* The probes go on a little: a worker that answers late still counts. */
  g_usleep (500000);
  load_stop (probe);

  for (guint i = 0; i < n_new; i++)
    {
      gint64 *seen = g_hash_table_lookup (probe->first_seen, GINT_TO_POINTER (new_pid[i]));
      /* Workers appear in the order of the signals (one each). */
      e[i] = (appeared[i] - sent[MIN (i, n_sent - 1)]) / 1000.0;
      if (seen)
        a[n_a++] = (*seen - sent[MIN (i, n_sent - 1)]) / 1000.0;
    }
  f->n_children = MIN (f->n_children, n_children (master));
  f->n_answered = MIN (f->n_answered, n_a);
  *exists = n_new ? bench_median (e, n_new) : -1;
  *answers = n_a ? bench_median (a, n_a) : -1;
  if (probe->tally.failed)
    load_print_errors ("gunicorn probe", probe);
  load_free (probe);
  g_array_unref (known);
  gunicorn_stop (master);
}

static void
bench_gunicorn (GunicornFigures *f)
{
  double total[RUNS], exists[RUNS], answers[RUNS], shrink_ms[LOAD_ROUNDS];
  const guint runs = 3;

  f->n_children = G_MAXUINT;
  f->n_answered = G_MAXUINT;
  for (guint r = 0; r < runs; r++)
    gunicorn_grow_once (f, &total[r], &exists[r], &answers[r]);
  f->total = bench_median (total, runs);
  f->exists = bench_median (exists, runs);
  f->answers = bench_median (answers, runs);

  /* Shrink 8 -> 2 under the same load, LOAD_ROUNDS times. */
  f->shrink_children = 0;
  for (guint r = 0; r < LOAD_ROUNDS; r++)
    {
      guint16 port = test_util_free_port ();
      pid_t master = gunicorn_start (port, 8, "gunicorn-shrink.log");
      Load *l = load_start (port, N_CLIENTS, LOAD_PAUSE_MS, "/slow?ms=20", "/");
      gint64 t0, deadline;

      g_usleep (LOAD_AROUND_MS * 1000);
      t0 = g_get_monotonic_time ();
      deadline = t0 + 10 * G_USEC_PER_SEC;
      for (guint i = 0; i < 6; i++)
        {
          if (i > 0)
            g_usleep (SIGNAL_GAP_MS * 1000);
          kill (master, SIGTTOU);
        }
      while (n_children (master) > 2 && g_get_monotonic_time () < deadline)
        g_usleep (2000);
      f->shrink_children = MAX (f->shrink_children, n_children (master));
      shrink_ms[r] = ms_since (t0);
      l->t_verb[0] = t0;
      l->t_verb[1] = g_get_monotonic_time ();
      g_usleep (LOAD_AROUND_MS * 1000);
      load_stop (l);
      tally_add (&f->shrink, &l->tally);
      load_print_errors ("gunicorn shrink", l);
      load_free (l);
      gunicorn_stop (master);
    }
  f->shrink_ms = bench_median (shrink_ms, LOAD_ROUNDS);
  f->shrink_max = shrink_ms[LOAD_ROUNDS - 1];
  f->ok = TRUE;
}

/* ---- main ----------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  double single[RUNS], parallel[RUNS];
  TetherFigures t = { 0 };
  GunicornFigures g = { 0 };
  g_autofree char *gunicorn = g_find_program_in_path ("gunicorn");
  gint64 t_start = g_get_monotonic_time ();

  examples_dir = g_strdup (g_getenv ("TETHER_EXAMPLES_DIR") ? g_getenv ("TETHER_EXAMPLES_DIR")
                                                            : TETHER_SOURCE_DIR "/examples");
  python = find_python ();
  tmp_dir = g_dir_make_tmp ("tether-bench-pool-XXXXXX", NULL);
  if (python == NULL)
    {
      fprintf (stderr, "bench-pool: no python3\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);

  printf ("Prefork pool: examples/pool_worker.py on %s, medians of %u runs; logs in %s\n",
          python, RUNS, tmp_dir);

  for (guint r = 0; r < RUNS; r++)
    {
      single[r] = direct_start (1);
      parallel[r] = direct_start (GROW_TO - 1);
    }
  double own = bench_median (single, RUNS);
  double own8 = bench_median (parallel, RUNS);

  bench_tether (&t);
  if (gunicorn != NULL)
    bench_gunicorn (&g);

  printf ("\nThe worker's own start (by hand: socket activation, fork/exec to READY=1)\n");
  printf ("  one worker:                              %7.1f ms\n", own);
  printf ("  %u workers at once (%u CPUs):              %7.1f ms\n", GROW_TO - 1, g_get_num_processors (), own8);

  if (!t.ok)
    printf ("\nTether: the pool benchmark did not finish (see above)\n");
  else
    {
      printf ("\nTether managed pool (owner %s)\n", t.owner);
      printf ("  resize 1 -> 2, to READY:                 %7.1f ms (that worker spawn -> READY %.1f ms)\n",
              t.resize2, t.resize2_own);
      printf ("  resize 1 -> %u, to all %u new READY:       %7.1f ms (the last spawned at %.1f ms)\n",
              GROW_TO, GROW_TO - 1, t.resize9, t.resize9_last_spawn);
      printf ("  per worker beyond its own start:         %7.1f ms (target < 100 ms)"
              "   [(resize - one worker's own start) / %u]\n",
              (t.resize9 - own) / (GROW_TO - 1), GROW_TO - 1);
      printf ("    beyond %u started at once by hand:       %7.1f ms total, %.1f ms per worker\n",
              GROW_TO - 1, t.resize9 - own8, (t.resize9 - own8) / (GROW_TO - 1));
    }

  printf ("\nUnder load: %u clients, GET /slow?ms=20 and GET /, %u ms apart, loopback;\n"
          "%u rounds (verb: median ms, slowest), load from %u ms before to %u ms after each     failed (target 0)\n",
          N_CLIENTS, LOAD_PAUSE_MS, LOAD_ROUNDS, LOAD_AROUND_MS, LOAD_AROUND_MS);
  if (t.ok)
    {
      g_autofree char *shrink = tally_describe (&t.shrink);
      g_autofree char *recycle = tally_describe (&t.recycle);

      printf ("  Tether   shrink 8 -> 2 (%5.0f ms, slowest %5.0f): %-40s %u\n", t.shrink_ms, t.shrink_max, shrink, t.shrink.failed);
      printf ("  Tether   recycle 4     (%5.0f ms, slowest %5.0f): %-40s %u\n", t.recycle_ms, t.recycle_max, recycle, t.recycle.failed);
      if (t.verb_failed)
        printf ("  Tether   resizes or recycles that failed: %u\n", t.verb_failed);
      if (MAX (t.shrink_max, t.recycle_max) >= GRACEFUL_S * 1000)
        printf ("  (a verb took the whole stop.graceful_timeout of %d s: a retiring worker\n"
                "   ignored its stop signal until the ladder's SIGTERM step)\n", GRACEFUL_S);
    }
  if (g.ok)
    {
      g_autofree char *shrink = tally_describe (&g.shrink);

      printf ("  gunicorn shrink 8 -> 2 (%5.0f ms, slowest %5.0f): %-40s %u%s\n", g.shrink_ms, g.shrink_max, shrink, g.shrink.failed,
              g.shrink_children == 2 ? "" : "  (a round did not get down to 2 workers)");
    }

  if (g.ok)
    {
      printf ("\nGrow 1 -> %u, side by side                Tether     gunicorn (SIGTTIN every %u ms)\n",
              GROW_TO, SIGNAL_GAP_MS);
      printf ("  first request to all %u new up:     %9.1f ms %9.1f ms (Tether: READY; gunicorn: children, paced by its signals)\n",
              GROW_TO - 1, t.resize9, g.total);
      printf ("  per worker, its request -> exists:  %9.1f ms %9.1f ms (median of the %u)\n",
              t.resize9_spawn, g.exists, GROW_TO - 1);
      printf ("  per worker, its request -> serving: %9.1f ms %9.1f ms (Tether: READY=1; gunicorn: first answer a probe saw)\n",
              t.resize9_ready, g.answers);
      if (g.n_children != GROW_TO || g.n_answered != GROW_TO - 1)
        printf ("  gunicorn: fewest workers reached %u of %u, new workers seen answering %u of %u\n",
                g.n_children, GROW_TO, g.n_answered, GROW_TO - 1);
      printf ("  (gunicorn's wsgi_app.py answers /slow at once; its pool_worker peer sleeps 20 ms)\n");
    }
  else
    printf ("\ngunicorn not found: no peer figures (./setup.sh bench installs it)\n");

  printf ("\nWhole benchmark: %.1f s\n", ms_since (t_start) / 1000.0);

  {
    g_autoptr(GDir) dir = g_dir_open (tmp_dir, 0, NULL);
    const char *name;
    gboolean keep = !t.ok || t.shrink.failed || t.recycle.failed || t.verb_failed;

    if (!keep)
      {
        while (dir && (name = g_dir_read_name (dir)))
          {
            g_autofree char *p = g_build_filename (tmp_dir, name, NULL);
            g_unlink (p);
          }
        g_rmdir (tmp_dir);
      }
    else
      printf ("Logs kept in %s\n", tmp_dir);
  }
  return t.ok ? 0 : 1;
}
