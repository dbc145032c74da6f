/* test-pool.c: prefork worker pools with real workers and real gunicorn
 *
 * Managed pools run examples/pool_worker.py (Python's standard library
 * only): real HTTP on a real loopback socket Tether bound, real READY=1
 * and WATCHDOG=1 datagrams, real signals through the ladder, in both
 * ownership modes. Signals mode drives Debian's gunicorn (setup.sh installs
 * it; the test fails, never skips, when it is missing) and a stand-in
 * master that ignores SIGTTOU, as Odoo's does.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tether-control.h"
#include "tether-error.h"
#include "tether-json.h"
#include "tether-pool.h"
#include "tether-supervisor.h"
#include "test-util.h"

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  guint port;
  char *profile_path;
  TetherProfile *profile;
  TetherSupervisor *supervisor;
  GPtrArray *retired;   /* "PID REASON" strings from worker-retired */
} Fixture;

static const char *
python3 (void)
{
  /* Debian's: the python3 first on PATH may be another build. */
  return g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ? "/usr/bin/python3" : "python3";
}

static char *
example_path (const char *name)
{
  return g_build_filename (g_getenv ("G_TEST_SRCDIR"), "..", "examples", name, NULL);
}

static void
setup (Fixture       *fx,
       gconstpointer  data)
{
  fx->kind = *(const TetherOwnerKind *) data;
  fx->marker = test_util_marker ();
  fx->port = test_util_free_port ();
  fx->retired = g_ptr_array_new_with_free_func (g_free);
}

static void
teardown (Fixture       *fx,
          gconstpointer  data)
{
  if (fx->supervisor != NULL)
    {
      g_signal_handlers_disconnect_by_data (tether_supervisor_get_pool (fx->supervisor), fx);
      g_clear_object (&fx->supervisor);
    }
  g_clear_pointer (&fx->profile, tether_profile_unref);
  if (fx->profile_path != NULL)
    g_unlink (fx->profile_path);
  g_free (fx->profile_path);
  test_util_kill_marked (fx->marker);
  g_free (fx->marker);
  g_ptr_array_unref (fx->retired);
}

static void
on_worker_retired (TetherPool         *pool,
                   int                 pid,
                   TetherWorkerReason  reason,
                   const char         *detail,
                   Fixture            *fx)
{
  g_ptr_array_add (fx->retired, g_strdup_printf ("%d %s", pid, tether_worker_reason_to_string (reason)));
}

/* A managed pool of pool_worker.py on fx->port; pool_members and
 * worker_args are added to the pool section and the worker's argv. */
static void
load_profile (Fixture    *fx,
              const char *pool_members,
              const char *other_members,
              const char *worker_args)
{
  g_autofree char *worker = example_path ("pool_worker.py");
  g_autofree char *members =
    g_strdup_printf ("\"ready\": \"notify\", \"start_timeout\": 20, "
                     "\"stop\": {\"graceful_timeout\": 5, \"term_timeout\": 2}, "
                     "\"pool\": {\"mode\": \"managed\", \"listen\": \"127.0.0.1:%u\", "
                     "\"min\": 1, \"max\": 12, \"resize_timeout\": 20%s%s}%s%s",
                     fx->port, pool_members ? ", " : "", pool_members ? pool_members : "",
                     other_members ? ", " : "", other_members ? other_members : "");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) extra = g_strsplit (worker_args ? worker_args : "", " ", -1);
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) python3 ());
  g_ptr_array_add (argv, worker);
  g_ptr_array_add (argv, (gpointer) "--tag");
  g_ptr_array_add (argv, fx->marker);
  for (guint i = 0; extra[i] != NULL; i++)
    if (*extra[i] != '\0')
      g_ptr_array_add (argv, extra[i]);
  g_ptr_array_add (argv, NULL);

  fx->profile_path = test_util_write_profile (members, (const char * const *) argv->pdata);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
}

static gboolean
start (Fixture  *fx,
       GError  **error)
{
  TestUtilAwait a = { 0 };

  fx->supervisor = tether_supervisor_new (fx->profile, fx->kind);
  tether_sampler_set_interval (tether_supervisor_get_sampler (fx->supervisor), 200);
  g_signal_connect (tether_supervisor_get_pool (fx->supervisor), "worker-retired",
                    G_CALLBACK (on_worker_retired), fx);
  tether_supervisor_start (fx->supervisor, NULL, test_util_await_cb, &a);
  return tether_supervisor_start_finish (fx->supervisor, test_util_await (&a), error);
}

static void
start_ok (Fixture *fx)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (start (fx, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_RUNNING);
}

static gboolean
resize (Fixture  *fx,
        guint     n,
        GError  **error)
{
  TestUtilAwait a = { 0 };

  tether_supervisor_resize (fx->supervisor, n, NULL, test_util_await_cb, &a);
  return tether_supervisor_pool_finish (fx->supervisor, test_util_await (&a), error);
}

static void
stop_ok (Fixture *fx)
{
  TestUtilAwait a = { 0 };
  g_autoptr(GError) error = NULL;

  tether_supervisor_stop (fx->supervisor, NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_stop_finish (fx->supervisor, test_util_await (&a), NULL, &error));
  g_assert_no_error (error);
}

/* Workers in the sampled tree: members carrying the marker. */
static guint
count_tree_workers (Fixture *fx)
{
  TetherSampler *sampler = tether_supervisor_get_sampler (fx->supervisor);
  g_autoptr(GPtrArray) processes = NULL;
  guint n = 0;

  test_util_sampler_refresh (sampler);
  processes = tether_sampler_get_processes (sampler);
  for (guint i = 0; i < processes->len; i++)
    {
      const char *cmdline = tether_process_get_cmdline (g_ptr_array_index (processes, i));
      if (cmdline != NULL && strstr (cmdline, fx->marker) != NULL)
        n++;
    }
  return n;
}

/* ---- HTTP ------------------------------------------------------------------- */

/* One HTTP/1.0 GET on a fresh connection; the worker's pid from its
 * reply, or 0 with *failure saying why. Blocking, with 10 s timeouts:
 * called from load threads, or briefly from the test itself. */
static pid_t
http_get (guint        port,
          const char  *path,
          char       **failure)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  struct timeval tv = { .tv_sec = 10 };
  g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
  g_autoptr(GString) reply = g_string_new (NULL);
  char buf[4096];
  const char *pid_at;
  ssize_t n;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect (fd, (struct sockaddr *) &sin, sizeof sin) < 0 ||
      write (fd, request, strlen (request)) != (ssize_t) strlen (request))
    {
      *failure = g_strdup_printf ("connect/send: %s", g_strerror (errno));
      close (fd);
      return 0;
    }
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (reply, buf, n);
  if (n < 0)
    *failure = g_strdup_printf ("read: %s", g_strerror (errno));
  close (fd);
  if (n < 0)
    return 0;
  if (!g_str_has_prefix (reply->str, "HTTP/1.0 200") && !g_str_has_prefix (reply->str, "HTTP/1.1 200"))
    {
      *failure = g_strdup_printf ("reply: %.60s", reply->str);
      return 0;
    }
  pid_at = strstr (reply->str, "\"pid\": ");
  if (pid_at == NULL)
    {
      *failure = g_strdup ("no pid in the reply");
      return 0;
    }
  return (pid_t) g_ascii_strtoll (pid_at + strlen ("\"pid\": "), NULL, 10);
}

static pid_t
http_get_ok (guint       port,
             const char *path)
{
  g_autofree char *failure = NULL;
  pid_t pid = http_get (port, path, &failure);

  if (pid <= 0)
    g_error ("GET %s on port %u failed: %s", path, port, failure);
  return pid;
}

/* A bounded loopback load: a few client threads, each a request at a time,
 * until told to stop or out of requests. */
typedef struct
{
  guint port;
  gint stop;
  gint ok;
  gint failed;
  gint budget;          /* requests left */
  GMutex lock;
  GString *failures;
  GThread *threads[4];
} Load;

static gpointer
load_thread (gpointer data)
{
  Load *load = data;

  while (!g_atomic_int_get (&load->stop) && g_atomic_int_add (&load->budget, -1) > 0)
    {
      g_autofree char *failure = NULL;

      if (http_get (load->port, "/slow?ms=20", &failure) > 0)
        g_atomic_int_inc (&load->ok);
      else
        {
          g_atomic_int_inc (&load->failed);
          g_mutex_lock (&load->lock);
          g_string_append_printf (load->failures, "%s; ", failure);
          g_mutex_unlock (&load->lock);
        }
    }
  return NULL;
}

static void
load_start (Load  *load,
            guint  port,
            gint   budget)
{
  memset (load, 0, sizeof *load);
  load->port = port;
  load->budget = budget;
  load->failures = g_string_new (NULL);
  g_mutex_init (&load->lock);
  for (guint i = 0; i < G_N_ELEMENTS (load->threads); i++)
    load->threads[i] = g_thread_new ("load", load_thread, load);
}

static void
load_finish (Load *load)
{
  g_atomic_int_set (&load->stop, 1);
  for (guint i = 0; i < G_N_ELEMENTS (load->threads); i++)
    g_thread_join (load->threads[i]);
  g_mutex_clear (&load->lock);
}

/* ---- waiting ---------------------------------------------------------------- */

typedef gboolean (*Condition) (Fixture *fx, gpointer data);

static gboolean
wait_for (Fixture   *fx,
          Condition  condition,
          gpointer   data,
          double     timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (!condition (fx, data))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (5000);
    }
  return TRUE;
}

static gboolean
has_retired (Fixture *fx,
             gpointer data)
{
  for (guint i = 0; i < fx->retired->len; i++)
    if (g_str_equal (g_ptr_array_index (fx->retired, i), data))
      return TRUE;
  return FALSE;
}

static gboolean
pool_at_target (Fixture *fx,
                gpointer data)
{
  TetherPool *pool = tether_supervisor_get_pool (fx->supervisor);
  return tether_pool_get_actual (pool) == tether_pool_get_target (pool);
}

static gboolean
state_is (Fixture *fx,
          gpointer data)
{
  return tether_supervisor_get_state (fx->supervisor) == (TetherState) GPOINTER_TO_INT (data);
}

/* ---- managed ---------------------------------------------------------------- */

/* Several workers answer on the one socket Tether bound, each a member. */
static void
test_managed_http (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  TetherOwner *owner;

  load_profile (fx, "\"workers\": 4", NULL, NULL);
  start_ok (fx);
  g_assert_cmpuint (tether_pool_get_actual (tether_supervisor_get_pool (fx->supervisor)), ==, 4);
  g_assert_cmpuint (count_tree_workers (fx), ==, 4);
  g_assert_cmpint (tether_supervisor_get_main_pid (fx->supervisor), ==, 0);

  owner = tether_supervisor_get_owner (fx->supervisor);
  for (guint i = 0; i < 200 && g_hash_table_size (pids) < 2; i++)
    {
      pid_t pid = http_get_ok (fx->port, "/");
      TetherWorkerInfo info;

      g_assert_true (tether_owner_is_member (owner, pid));
      g_assert_true (tether_pool_lookup_worker (tether_supervisor_get_pool (fx->supervisor), pid, &info));
      g_assert_cmpint (info.state, ==, TETHER_WORKER_READY);
      g_hash_table_add (pids, GINT_TO_POINTER (pid));
    }
  g_assert_cmpuint (g_hash_table_size (pids), >=, 2);
  stop_ok (fx);
}

/* 4 → 8 → 2, counted in the tree and in the status document tetherctl
 * prints; out of min/max is an error that changes nothing. */
static void
test_managed_resize (Fixture       *fx,
                     gconstpointer  data)
{
  static const guint sizes[] = { 8, 2 };
  TetherPool *pool;
  g_autoptr(GError) error = NULL;

  load_profile (fx, "\"workers\": 4", NULL, NULL);
  start_ok (fx);
  pool = tether_supervisor_get_pool (fx->supervisor);

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(JsonNode) status = NULL;
      JsonObject *json_pool;

      g_assert_true (resize (fx, sizes[i], &error));
      g_assert_no_error (error);
      g_assert_cmpuint (tether_pool_get_target (pool), ==, sizes[i]);
      g_assert_cmpuint (tether_pool_get_actual (pool), ==, sizes[i]);
      g_assert_cmpuint (count_tree_workers (fx), ==, sizes[i]);

      status = tether_control_status_json (fx->supervisor);
      json_pool = json_object_get_object_member (json_node_get_object (status), "pool");
      g_assert_cmpint (json_object_get_int_member (json_pool, "target"), ==, sizes[i]);
      g_assert_cmpint (json_object_get_int_member (json_pool, "actual"), ==, sizes[i]);
    }
  g_assert_cmpuint (tether_pool_get_count (pool, TETHER_WORKER_REASON_RESIZE), ==, 6);

  g_assert_false (resize (fx, 13, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "between 1 and 12"));
  g_clear_error (&error);
  g_assert_false (resize (fx, 0, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_INVALID);
  g_assert_cmpuint (tether_pool_get_target (pool), ==, 2);
  g_assert_cmpuint (count_tree_workers (fx), ==, 2);

  stop_ok (fx);
}

/* Two resizes at once merge: both complete, at the second's size. */
static void
test_managed_merge (Fixture       *fx,
                    gconstpointer  data)
{
  TestUtilAwait a = { 0 }, b = { 0 };
  g_autoptr(GError) error = NULL;

  load_profile (fx, "\"workers\": 2", NULL, NULL);
  start_ok (fx);
  tether_supervisor_resize (fx->supervisor, 6, NULL, test_util_await_cb, &a);
  tether_supervisor_resize (fx->supervisor, 3, NULL, test_util_await_cb, &b);
  tether_supervisor_pool_finish (fx->supervisor, test_util_await (&a), &error);
  g_assert_no_error (error);
  tether_supervisor_pool_finish (fx->supervisor, test_util_await (&b), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_pool_get_actual (tether_supervisor_get_pool (fx->supervisor)), ==, 3);
  g_assert_cmpuint (count_tree_workers (fx), ==, 3);
  stop_ok (fx);
}

/* Under load, shrinking and a rolling recycle fail no request: a retired
 * worker finishes what it accepted, and a recycled one goes only once its
 * replacement is READY. */
static void
test_managed_no_failed_requests (Fixture       *fx,
                                 gconstpointer  data)
{
  Load load;
  g_autoptr(GError) error = NULL;
  TestUtilAwait a = { 0 };
  TetherPool *pool;

  load_profile (fx, "\"workers\": 8", NULL, NULL);
  start_ok (fx);
  pool = tether_supervisor_get_pool (fx->supervisor);

  load_start (&load, fx->port, 600);
  g_usleep (100 * 1000);
  g_assert_true (resize (fx, 2, &error));
  g_assert_no_error (error);
  tether_supervisor_recycle_workers (fx->supervisor, NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_pool_finish (fx->supervisor, test_util_await (&a), &error));
  g_assert_no_error (error);
  /* The rest of the budget on the pool as it is now. */
  while (g_atomic_int_get (&load.budget) > 0)
    g_main_context_iteration (NULL, TRUE);
  load_finish (&load);

  g_test_message ("%d requests answered, %d failed", load.ok, load.failed);
  if (load.failed > 0)
    g_error ("%d requests failed: %s", load.failed, load.failures->str);
  g_string_free (load.failures, TRUE);
  g_assert_cmpint (load.ok, >=, 590);
  g_assert_cmpuint (tether_pool_get_count (pool, TETHER_WORKER_REASON_RECYCLE), ==, 2);
  g_assert_cmpuint (tether_pool_get_actual (pool), ==, 2);
  g_assert_cmpuint (count_tree_workers (fx), ==, 2);
  stop_ok (fx);
}

/* A worker that stops its heartbeat is retired and replaced within
 * heartbeat_timeout + 2 s. */
static void
test_managed_heartbeat (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *expected = NULL;
  gint64 t0;
  pid_t hung;

  load_profile (fx, "\"workers\": 2, \"limits\": {\"heartbeat_timeout\": 1}", NULL, NULL);
  start_ok (fx);

  hung = http_get_ok (fx->port, "/hang");
  t0 = g_get_monotonic_time ();
  expected = g_strdup_printf ("%d heartbeat", (int) hung);
  g_assert_true (wait_for (fx, has_retired, expected, 3.0));
  g_assert_true (wait_for (fx, pool_at_target, NULL, 3.0 - (g_get_monotonic_time () - t0) / 1e6));
  g_test_message ("replaced %.2f s after /hang", (g_get_monotonic_time () - t0) / 1e6);
  {
    TetherWorkerInfo info;
    /* Gone, or on its way out through the ladder. */
    g_assert_true (!tether_pool_lookup_worker (tether_supervisor_get_pool (fx->supervisor), hung, &info) ||
                   info.state == TETHER_WORKER_RETIRING);
  }
  stop_ok (fx);
}

/* A worker past memory_hard_mb is killed at once and replaced; the reason
 * is recorded with its pid. */
static void
test_managed_memory_hard (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *expected = NULL;
  GPtrArray *events;
  TetherPoolEvent *last;
  pid_t fat;

  load_profile (fx, "\"workers\": 2, \"limits\": {\"memory_hard_mb\": 80}", NULL, NULL);
  start_ok (fx);

  fat = http_get_ok (fx->port, "/alloc?mb=120");
  expected = g_strdup_printf ("%d memory-hard", (int) fat);
  g_assert_true (wait_for (fx, has_retired, expected, 5.0));
  test_util_wait_reaped (fat);
  g_assert_true (wait_for (fx, pool_at_target, NULL, 5.0));

  events = tether_pool_get_events (tether_supervisor_get_pool (fx->supervisor));
  g_assert_cmpuint (events->len, >=, 1);
  last = g_ptr_array_index (events, events->len - 1);
  g_assert_cmpint (last->pid, ==, fat);
  g_assert_cmpint (last->reason, ==, TETHER_WORKER_REASON_MEMORY_HARD);
  g_assert_nonnull (strstr (last->detail, "80 MB"));
  g_assert_cmpuint (count_tree_workers (fx), ==, 2);
  stop_ok (fx);
}

/* A worker that reports X_TETHER_REQUESTS= at the limit is recycled
 * gracefully: the request that reached it is answered, and a new worker
 * takes over. */
static void
test_managed_requests_limit (Fixture       *fx,
                             gconstpointer  data)
{
  g_autofree char *expected = NULL;
  pid_t first = 0;

  load_profile (fx, "\"workers\": 1, \"limits\": {\"requests\": 3}", NULL, NULL);
  start_ok (fx);

  for (guint i = 0; i < 3; i++)
    {
      pid_t pid = http_get_ok (fx->port, "/");
      if (first == 0)
        first = pid;
      g_assert_cmpint (pid, ==, first);
    }
  expected = g_strdup_printf ("%d requests", (int) first);
  g_assert_true (wait_for (fx, has_retired, expected, 5.0));
  test_util_wait_reaped (first);
  g_assert_true (wait_for (fx, pool_at_target, NULL, 10.0));
  g_assert_cmpint (http_get_ok (fx->port, "/"), !=, first);
  g_assert_cmpuint (tether_pool_get_count (tether_supervisor_get_pool (fx->supervisor),
                                           TETHER_WORKER_REASON_REQUESTS), ==, 1);
  stop_ok (fx);
}

/* Stop leaves nothing, and the port is free again at once. */
static void
test_managed_stop_frees_port (Fixture       *fx,
                              gconstpointer  data)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (fx->port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int one = 1;
  int fd;

  load_profile (fx, "\"workers\": 3", NULL, NULL);
  start_ok (fx);
  http_get_ok (fx->port, "/");
  stop_ok (fx);

  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
  g_assert_null (tether_pool_get_address (tether_supervisor_get_pool (fx->supervisor)));
  /* As a server binds (Tether, nginx, gunicorn): SO_REUSEADDR, for the
   * TIME_WAIT the answered request left. Without it the bind fails for a
   * minute whoever closed the listener. */
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_no_errno (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  g_assert_no_errno (bind (fd, (struct sockaddr *) &sin, sizeof sin));
  g_assert_no_errno (listen (fd, 1));
  close (fd);
}

/* A restart keeps the bound socket: the workers of the new run take it. */
static void
test_managed_restart_keeps_socket (Fixture       *fx,
                                   gconstpointer  data)
{
  TestUtilAwait a = { 0 };
  g_autoptr(GError) error = NULL;
  pid_t before, after;

  load_profile (fx, "\"workers\": 1", NULL, NULL);
  start_ok (fx);
  before = http_get_ok (fx->port, "/");
  tether_supervisor_restart (fx->supervisor, NULL, test_util_await_cb, &a);
  g_assert_true (tether_supervisor_restart_finish (fx->supervisor, test_util_await (&a), &error));
  g_assert_no_error (error);
  g_assert_nonnull (tether_pool_get_address (tether_supervisor_get_pool (fx->supervisor)));
  after = http_get_ok (fx->port, "/");
  g_assert_cmpint (before, !=, after);
  stop_ok (fx);
}

/* Workers that keep ending are replaced with back-off, and past
 * max_restarts within a minute the pool gives up and says so; with no
 * worker left the backend has failed. */
static void
test_managed_crash_loop (Fixture       *fx,
                         gconstpointer  data)
{
  TetherPool *pool;
  const char *problem;

  load_profile (fx, "\"workers\": 1",
                "\"restart\": {\"max_restarts\": 2, \"backoff\": [0.1]}",
                "--exit-after 0.3");
  start_ok (fx);
  pool = tether_supervisor_get_pool (fx->supervisor);

  g_assert_true (wait_for (fx, state_is, GINT_TO_POINTER (TETHER_STATE_FAILED), 10.0));
  problem = tether_pool_get_problem (pool);
  g_assert_nonnull (problem);
  g_assert_nonnull (strstr (problem, "3 ended within a minute"));
  g_assert_cmpuint (tether_pool_get_count (pool, TETHER_WORKER_REASON_EXITED), ==, 3);
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* A stop while the pool waits out a back-off (the tree empty for the
 * moment, held): the stop ends, STOPPED, and the port is free. */
static void
test_managed_stop_during_backoff (Fixture       *fx,
                                  gconstpointer  data)
{
  TetherPool *pool;

  load_profile (fx, "\"workers\": 1",
                "\"restart\": {\"max_restarts\": 10, \"backoff\": [4]}",
                "--exit-after 0.5");
  start_ok (fx);
  pool = tether_supervisor_get_pool (fx->supervisor);
  /* The first is replaced at once, the second waits 4 s. */
  while (tether_pool_get_count (pool, TETHER_WORKER_REASON_EXITED) < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (count_tree_workers (fx), ==, 0);

  stop_ok (fx);
  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_STOPPED);
  g_assert_null (tether_pool_get_address (pool));
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* A stop right after a start, before any worker's spawn was answered:
 * it is honoured as soon as the tree exists, not after start_timeout. */
static void
test_managed_stop_while_starting (Fixture       *fx,
                                  gconstpointer  data)
{
  TestUtilAwait a = { 0 }, b = { 0 };
  gint64 t0;

  load_profile (fx, "\"workers\": 2", NULL, NULL);
  fx->supervisor = tether_supervisor_new (fx->profile, fx->kind);
  t0 = g_get_monotonic_time ();
  tether_supervisor_start (fx->supervisor, NULL, test_util_await_cb, &a);
  tether_supervisor_stop (fx->supervisor, NULL, test_util_await_cb, &b);
  g_assert_true (tether_supervisor_stop_finish (fx->supervisor, test_util_await (&b), NULL, NULL));
  g_assert_false (tether_supervisor_start_finish (fx->supervisor, test_util_await (&a), NULL));
  g_assert_cmpfloat ((g_get_monotonic_time () - t0) / 1e6, <, 8.0);
  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_STOPPED);
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* A port someone else holds: the start fails naming the address and the
 * process holding it. */
static void
test_managed_bind_failure (Fixture       *fx,
                           gconstpointer  data)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (fx->port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_strdup_printf ("127.0.0.1:%u", fx->port);
  g_autofree char *holder = g_strdup_printf ("held by process %d", (int) getpid ());
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_no_errno (bind (fd, (struct sockaddr *) &sin, sizeof sin));
  g_assert_no_errno (listen (fd, 1));
  load_profile (fx, "\"workers\": 2", NULL, NULL);
  g_assert_false (start (fx, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, address));
  g_assert_nonnull (strstr (error->message, holder));
  g_assert_cmpint (tether_supervisor_get_state (fx->supervisor), ==, TETHER_STATE_FAILED);
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
  close (fd);
}

/* An absolute path is a unix socket. */
static void
test_managed_unix_socket (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *path = g_build_filename (test_util_tmpdir (), "pool.sock", NULL);
  g_autofree char *pool_members = g_strdup_printf ("\"workers\": 2, \"listen\": \"%s\"", path);
  g_autofree char *worker = example_path ("pool_worker.py");
  g_autofree char *members = g_strdup_printf ("\"ready\": \"notify\", \"pool\": {\"mode\": \"managed\", %s}",
                                              pool_members);
  const char *argv[] = { python3 (), worker, "--tag", fx->marker, NULL };
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autoptr(GError) error = NULL;
  char buf[256] = "";
  int fd;

  fx->profile_path = test_util_write_profile (members, argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  start_ok (fx);

  g_strlcpy (sun.sun_path, path, sizeof sun.sun_path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_no_errno (connect (fd, (struct sockaddr *) &sun, sizeof sun));
  g_assert_cmpint (write (fd, "GET / HTTP/1.0\r\n\r\n", 18), ==, 18);
  g_assert_cmpint (read (fd, buf, sizeof buf - 1), >, 0);
  close (fd);
  g_assert_true (g_str_has_prefix (buf, "HTTP/1.0 200"));

  stop_ok (fx);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* With worker_command, command runs once beside the pool as its main
 * process; when it ends, the pool is stopped with it. */
static void
test_managed_with_main (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *worker = example_path ("pool_worker.py");
  g_autofree char *members =
    g_strdup_printf ("\"ready\": \"notify\", \"pool\": {\"mode\": \"managed\", \"listen\": \"127.0.0.1:%u\", "
                     "\"workers\": 2, \"worker_command\": [\"%s\", \"%s\", \"--tag\", \"%s\"]}",
                     fx->port, python3 (), worker, fx->marker);
  /* READY=1, then a while of work, then the end. */
  const char *argv[] = { python3 (), "-c",
                         "import os, socket, sys, time\n"
                         "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                         "a = os.environ['NOTIFY_SOCKET']\n"
                         "s.sendto(b'READY=1', '\\0' + a[1:] if a[0] == '@' else a)\n"
                         "time.sleep(1.5)\n",
                         fx->marker, NULL };
  g_autoptr(GError) error = NULL;
  pid_t main_pid;

  fx->profile_path = test_util_write_profile (members, argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  start_ok (fx);

  main_pid = tether_supervisor_get_main_pid (fx->supervisor);
  g_assert_cmpint (main_pid, >, 0);
  g_assert_cmpuint (tether_pool_get_actual (tether_supervisor_get_pool (fx->supervisor)), ==, 2);
  g_assert_cmpint (http_get_ok (fx->port, "/"), !=, main_pid);

  g_assert_true (wait_for (fx, state_is, GINT_TO_POINTER (TETHER_STATE_STOPPED), 15.0));
  g_assert_cmpstr (tether_supervisor_get_message (fx->supervisor), ==,
                   "Main process: Exited successfully; its workers were stopped");
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* ---- signals ------------------------------------------------------------- */

/* The master's children, counted by the test itself from /proc. */
static guint
count_children (pid_t parent)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint n = 0;

  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      const char *close_paren;
      char state;
      int ppid;

      if (!g_ascii_isdigit (*name))
        continue;
      path = g_strdup_printf ("/proc/%s/stat", name);
      if (!g_file_get_contents (path, &contents, NULL, NULL) ||
          (close_paren = strrchr (contents, ')')) == NULL ||
          sscanf (close_paren + 2, "%c %d", &state, &ppid) != 2)
        continue;
      if (ppid == parent && state != 'Z')
        n++;
    }
  return n;
}

static gboolean
children_are (Fixture *fx,
              gpointer data)
{
  return count_children (tether_supervisor_get_main_pid (fx->supervisor)) == GPOINTER_TO_UINT (data);
}

static void
test_signals_gunicorn (Fixture       *fx,
                       gconstpointer  data)
{
  static const guint sizes[] = { 5, 1 };
  g_autofree char *gunicorn = g_find_program_in_path ("gunicorn");
  g_autofree char *examples = example_path ("");
  g_autofree char *bind = g_strdup_printf ("127.0.0.1:%u", fx->port);
  const char *argv[] = { gunicorn, "--workers", "2", "--bind", bind, "--chdir", examples,
                         "--name", fx->marker, "--graceful-timeout", "5", "wsgi_app:app", NULL };
  g_autoptr(GError) error = NULL;
  TetherPool *pool;

  if (gunicorn == NULL)
    g_error ("gunicorn is not installed: ./setup.sh test installs Debian's (apt-get install gunicorn)");

  fx->profile_path = test_util_write_profile ("\"pool\": {\"mode\": \"signals\", \"workers\": 2, \"min\": 1, "
                                              "\"max\": 8, \"resize_timeout\": 20}", argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  start_ok (fx);
  pool = tether_supervisor_get_pool (fx->supervisor);

  /* gunicorn answers once its workers are up. */
  g_assert_true (wait_for (fx, pool_at_target, NULL, 20.0));
  g_assert_true (wait_for (fx, children_are, GUINT_TO_POINTER (2), 20.0));
  http_get_ok (fx->port, "/");

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      gint64 t0 = g_get_monotonic_time ();

      g_assert_true (resize (fx, sizes[i], &error));
      g_assert_no_error (error);
      g_test_message ("gunicorn at %u workers after %.2f s", sizes[i], (g_get_monotonic_time () - t0) / 1e6);
      g_assert_cmpuint (tether_pool_get_actual (pool), ==, sizes[i]);
      /* Counted independently of the sampler; a retired worker may still
       * be on its way out for a moment. */
      g_assert_true (wait_for (fx, children_are, GUINT_TO_POINTER (sizes[i]), 10.0));
      /* The rows the app marks as workers: slots 1..n, the master not. */
      {
        g_autoptr(GPtrArray) processes = NULL;
        guint n_workers = 0;
        TetherWorkerInfo info;

        test_util_sampler_refresh (tether_supervisor_get_sampler (fx->supervisor));
        processes = tether_sampler_get_processes (tether_supervisor_get_sampler (fx->supervisor));
        for (guint k = 0; k < processes->len; k++)
          if (tether_pool_lookup_worker (pool, tether_process_get_pid (g_ptr_array_index (processes, k)), &info))
            {
              n_workers++;
              g_assert_cmpuint (info.slot, >=, 1);
              g_assert_cmpuint (info.slot, <=, sizes[i]);
            }
        g_assert_cmpuint (n_workers, ==, sizes[i]);
        g_assert_false (tether_pool_lookup_worker (pool, tether_supervisor_get_main_pid (fx->supervisor), &info));
      }
    }
  http_get_ok (fx->port, "/");

  stop_ok (fx);
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* A master that ignores SIGTTOU (Odoo's does not retire workers): the
 * resize fails saying so, and the pool keeps saying it. */
static const char stubborn_master[] =
  "import os, signal, sys, time\n"
  "kids = []\n"
  "def spawn():\n"
  "    pid = os.fork()\n"
  "    if pid == 0:\n"
  "        signal.signal(signal.SIGTTIN, signal.SIG_DFL)\n"
  "        signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
  "        while True: time.sleep(1)\n"
  "    kids.append(pid)\n"
  "def term(*a):\n"
  "    for k in kids: os.kill(k, signal.SIGTERM)\n"
  "    sys.exit(0)\n"
  "signal.signal(signal.SIGTTIN, lambda *a: spawn())\n"
  "signal.signal(signal.SIGTTOU, signal.SIG_IGN)\n"
  "signal.signal(signal.SIGTERM, term)\n"
  "for _ in range(3): spawn()\n"
  "while True: signal.pause()\n";

static void
test_signals_ignored (Fixture       *fx,
                      gconstpointer  data)
{
  const char *argv[] = { python3 (), "-c", stubborn_master, fx->marker, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) status = NULL;
  JsonObject *json_pool;
  TetherPool *pool;

  fx->profile_path = test_util_write_profile ("\"pool\": {\"mode\": \"signals\", \"workers\": 3, \"min\": 1, "
                                              "\"max\": 8, \"resize_timeout\": 1.5}", argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  start_ok (fx);
  pool = tether_supervisor_get_pool (fx->supervisor);
  g_assert_true (wait_for (fx, pool_at_target, NULL, 10.0));

  /* It grows... */
  g_assert_true (resize (fx, 4, &error));
  g_assert_no_error (error);
  g_assert_true (children_are (fx, GUINT_TO_POINTER (4)));

  /* ...and never shrinks. */
  g_assert_false (resize (fx, 2, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "4 of 2 workers: the server did not retire workers on SIGTTOU"));
  g_assert_cmpstr (tether_pool_get_problem (pool), ==,
                   "4 of 2 workers: the server did not retire workers on SIGTTOU");
  g_assert_true (children_are (fx, GUINT_TO_POINTER (4)));

  status = tether_control_status_json (fx->supervisor);
  json_pool = json_object_get_object_member (json_node_get_object (status), "pool");
  g_assert_cmpstr (json_object_get_string_member (json_pool, "problem"), ==,
                   "4 of 2 workers: the server did not retire workers on SIGTTOU");
  g_assert_cmpint (json_object_get_int_member (json_pool, "actual"), ==, 4);

  stop_ok (fx);
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* ---- the command line ------------------------------------------------------ */

/* tetherctl resize waits for the pool and status --json shows it, through
 * a real `tetherctl run`. */
static void
test_cli_resize (Fixture       *fx,
                 gconstpointer  data)
{
  const char *tetherctl = g_getenv ("TETHERCTL");
  g_autoptr(GSubprocess) run = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(TetherJsonDocument) document = NULL;
  JsonObject *json_pool;
  int status = 0;

  load_profile (fx, "\"workers\": 2", NULL, NULL);
  run = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                          tetherctl, "run", fx->profile_path, NULL);
  g_assert_no_error (error);

  /* status until it runs */
  for (guint i = 0; i < 200; i++)
    {
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      g_spawn_sync (NULL, (char **) (const char *[]) { tetherctl, "status", "--profile", fx->profile_path, NULL },
                    NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL);
      if (out != NULL && strstr (out, "workers: 2 of 2") != NULL)
        break;
      g_usleep (100 * 1000);
    }
  g_assert_nonnull (strstr (out, "workers: 2 of 2 (managed, 127.0.0.1:"));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (g_spawn_sync (NULL, (char **) (const char *[]) { tetherctl, "resize", "5", "--profile", fx->profile_path, NULL },
                               NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "Resized: 5 of 5 workers\n");
  g_assert_true (g_spawn_check_wait_status (status, NULL));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (g_spawn_sync (NULL, (char **) (const char *[]) { tetherctl, "status", "--json", "--profile", fx->profile_path, NULL },
                               NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  document = tether_json_parse (out, -1, TETHER_JSON_MAX_DEPTH, &error);
  g_assert_no_error (error);
  json_pool = json_object_get_object_member (json_node_get_object (tether_json_document_get_root (document)), "pool");
  g_assert_cmpint (json_object_get_int_member (json_pool, "target"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (json_pool, "actual"), ==, 5);
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 5);

  /* Out of range: an error naming the bounds, exit status 1. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (g_spawn_sync (NULL, (char **) (const char *[]) { tetherctl, "resize", "40", "--profile", fx->profile_path, NULL },
                               NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "between 1 and 12"));

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (g_spawn_sync (NULL, (char **) (const char *[]) { tetherctl, "recycle", "--profile", fx->profile_path, NULL },
                               NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_cmpstr (out, ==, "Recycled every worker: 5 of 5 workers\n");

  g_subprocess_send_signal (run, SIGTERM);
  g_assert_true (g_subprocess_wait (run, NULL, &error));
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  static const TetherOwnerKind cgroup = TETHER_OWNER_CGROUP;

  test_util_init ();
  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  test_util_add_for_kinds ("/pool", name, sizeof (Fixture), setup, func, teardown)
  ADD ("managed/http", test_managed_http);
  ADD ("managed/resize", test_managed_resize);
  ADD ("managed/merge", test_managed_merge);
  ADD ("managed/no-failed-requests", test_managed_no_failed_requests);
  ADD ("managed/heartbeat", test_managed_heartbeat);
  ADD ("managed/memory-hard", test_managed_memory_hard);
  ADD ("managed/requests-limit", test_managed_requests_limit);
  ADD ("managed/stop-frees-port", test_managed_stop_frees_port);
  ADD ("managed/restart-keeps-socket", test_managed_restart_keeps_socket);
  ADD ("managed/crash-loop", test_managed_crash_loop);
  ADD ("managed/with-main", test_managed_with_main);
  ADD ("managed/stop-during-backoff", test_managed_stop_during_backoff);
  ADD ("managed/stop-while-starting", test_managed_stop_while_starting);
  ADD ("signals/gunicorn", test_signals_gunicorn);
  ADD ("signals/ignored-sigttou", test_signals_ignored);
#undef ADD
  /* Address handling and the command line do not depend on the owner. */
  g_test_add ("/pool/managed/bind-failure", Fixture, &cgroup, setup, test_managed_bind_failure, teardown);
  g_test_add ("/pool/managed/unix-socket", Fixture, &cgroup, setup, test_managed_unix_socket, teardown);
  g_test_add ("/pool/cli/resize", Fixture, &cgroup, setup, test_cli_resize, teardown);

  return g_test_run ();
}
