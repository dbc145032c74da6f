/* bench-log.c: what keeping a backend's output costs the backend
 *
 * A backend prints 100 000 lines as fast as it can, one write() per line
 * (awk with fflush), and measures its own wall time: once with stdout on
 * /dev/null, once under a supervisor that keeps every line (ring, file).
 * Target: under Tether it is not slowed by more than 10 %.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <stdlib.h>

#include "bench-util.h"
#include "tether-supervisor.h"
#include "test-util.h"

#define LINES  100000
#define ROUNDS 5

/* The writer: prints LINES lines, then its own elapsed ns into $1. */
static const char writer[] =
  "start=$(date +%s%N); "
  "awk 'BEGIN { for (i = 0; i < 100000; i++) { print \"line \" i \" of the benchmark\"; fflush () } }'; "
  "end=$(date +%s%N); echo $((end - start)) > \"$1\"";

static double
read_ms (const char *path)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    g_error ("the writer left no time in %s", path);
  return g_ascii_strtod (text, NULL) / 1e6;
}

static double
run_plain (const char *result)
{
  const char *argv[] = { "/bin/sh", "-c", writer, "sh", result, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error))
    g_error ("%s", error->message);
  return read_ms (result);
}

/* The peer: the same writer into a pipe that cat drains. */
static double
run_pipe (const char *result)
{
  const char *argv[] = { "/bin/sh", "-c", "sh -c \"$0\" sh \"$1\" | cat > /dev/null", writer, result, NULL };
  g_autoptr(GError) error = NULL;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error))
    g_error ("%s", error->message);
  return read_ms (result);
}

static double
run_tether (const char *result)
{
  const char *argv[] = { "/bin/sh", "-c", writer, "sh", result, NULL };
  g_autofree char *path = test_util_write_profile ("\"log\": {\"lines\": 100000, \"max_size_mb\": 100}", argv);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = tether_profile_load (path, &error);
  g_autoptr(TetherSupervisor) supervisor = NULL;
  TestUtilAwait a = { 0 };
  TetherLog *log;

  g_assert_no_error (error);
  g_unlink (result);
  supervisor = tether_supervisor_new (profile, TETHER_OWNER_CGROUP);
  tether_supervisor_start (supervisor, NULL, test_util_await_cb, &a);
  if (!tether_supervisor_start_finish (supervisor, test_util_await (&a), &error))
    g_error ("%s", error->message);
  log = tether_supervisor_get_log (supervisor);
  /* Every line kept, and the writer done. */
  while (tether_log_get_last_seq (log) < LINES || tether_supervisor_is_active (supervisor))
    g_main_context_iteration (NULL, TRUE);
  return read_ms (result);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *result = NULL;
  double plain[ROUNDS], piped[ROUNDS], kept[ROUNDS];
  double p, c, k;

  test_util_init ();
  result = g_build_filename (test_util_tmpdir (), "elapsed", NULL);
  for (guint r = 0; r < ROUNDS; r++)
    {
      plain[r] = run_plain (result);
      piped[r] = run_pipe (result);
      kept[r] = run_tether (result);
    }
  p = bench_median (plain, ROUNDS);
  c = bench_median (piped, ROUNDS);
  k = bench_median (kept, ROUNDS);
  g_print ("Backend output: %d lines, one write each, the writer's own time (medians of %d)\n", LINES, ROUNDS);
  g_print ("  to /dev/null:          %8.1f ms\n", p);
  g_print ("  into a pipe, to cat:   %8.1f ms   %+.1f %% (peer: any pipe costs this)\n", c, (c / p - 1) * 100);
  g_print ("  kept by Tether:        %8.1f ms   %+.1f %% (target: at most +10 %%; %+.1f %% beyond the pipe)\n",
           k, (k / p - 1) * 100, (k / c - 1) * 100);
  return 0;
}
