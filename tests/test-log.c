/* test-log.c: the backend's output, kept (ring, file, rotation, tetherctl logs)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <glib-unix.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <sys/stat.h>
#include <string.h>

#include "tether-supervisor.h"
#include "test-util.h"

typedef struct
{
  TetherOwnerKind kind;
  char *marker;
  char *profile_path;
  TetherProfile *profile;
  TetherSupervisor *supervisor;
} Fixture;

static void
setup (Fixture       *fx,
       gconstpointer  data)
{
  fx->kind = *(const TetherOwnerKind *) data;
  fx->marker = test_util_marker ();
}

static void
teardown (Fixture       *fx,
          gconstpointer  data)
{
  test_util_end_supervisor (&fx->supervisor);
  g_clear_pointer (&fx->profile, tether_profile_unref);
  g_free (fx->profile_path);
  test_util_kill_marked (fx->marker);
  g_free (fx->marker);
}

/* A shell program (with the marker as $0) under a fresh supervisor. */
static void
start (Fixture    *fx,
       const char *members,
       const char *script)
{
  const char *argv[] = { "/bin/sh", "-c", script, fx->marker, NULL };
  g_autoptr(GError) error = NULL;

  fx->profile_path = test_util_write_profile (members, argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  fx->supervisor = tether_supervisor_new (fx->profile, fx->kind);
  g_assert_true (test_util_start_supervisor (fx->supervisor, &error));
  g_assert_no_error (error);
}

static void
wait_seq (Fixture *fx,
          guint64  seq)
{
  TetherLog *log = tether_supervisor_get_log (fx->supervisor);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (tether_log_get_last_seq (log) < seq)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " lines", tether_log_get_last_seq (log), seq);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
}

/* 20 000 lines on each stream as fast as awk writes them (one write per
 * line): every one is in the ring and in the file, in order per stream. */
static void
test_every_line (Fixture       *fx,
                 gconstpointer  data)
{
  TetherLog *log;
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *contents = NULL;
  guint next[2] = { 0, 0 };
  guint file_lines = 0;

  start (fx, "\"log\": {\"lines\": 50000}",
         "awk 'BEGIN { for (i = 0; i < 20000; i++) { print \"out \" i; fflush (); "
         "print \"err \" i > \"/dev/stderr\"; fflush (\"/dev/stderr\") } }'; exec sleep 1000");
  log = tether_supervisor_get_log (fx->supervisor);
  wait_seq (fx, 40000);

  lines = tether_log_get_lines (log, 50000, 0);
  g_assert_cmpuint (lines->len, ==, 40000);
  for (guint i = 0; i < lines->len; i++)
    {
      TetherLogLine *line = g_ptr_array_index (lines, i);
      g_autofree char *expected = g_strdup_printf ("%s %u", line->stream == TETHER_LOG_STDOUT ? "out" : "err",
                                                   next[line->stream]++);

      g_assert_cmpstr (line->text, ==, expected);
      g_assert_cmpuint (line->seq, ==, i + 1);
    }
  g_assert_cmpuint (next[0], ==, 20000);
  g_assert_cmpuint (next[1], ==, 20000);

  /* The file too, once the thread has written it (it writes a batch before
   * it says there are lines). */
  g_assert_true (g_file_get_contents (tether_log_get_path (log), &contents, NULL, NULL));
  for (const char *p = contents; (p = strchr (p, '\n')) != NULL; p++)
    file_lines++;
  g_assert_cmpuint (file_lines, ==, 40000);
  g_assert_nonnull (strstr (contents, "Z stdout out 19999\n"));
  g_assert_nonnull (strstr (contents, "Z stderr err 19999\n"));

  /* The ring keeps the newest: after 10 lines, 10 lines. */
  g_clear_pointer (&lines, g_ptr_array_unref);
  lines = tether_log_get_lines (log, 10000, 39990);
  g_assert_cmpuint (lines->len, ==, 10);
}

/* log.max_size_mb: the file is rotated, log.keep old ones are kept. */
static void
test_rotation (Fixture       *fx,
               gconstpointer  data)
{
  TetherLog *log;
  g_autofree char *one = NULL;
  g_autofree char *two = NULL;
  g_autofree char *three = NULL;
  struct stat st;

  /* 3.5 MB of 100-byte lines. */
  start (fx, "\"log\": {\"max_size_mb\": 1, \"keep\": 2}",
         "awk 'BEGIN { s = sprintf (\"%90s\", \"\"); for (i = 0; i < 35000; i++) print i s }'; exec sleep 1000");
  log = tether_supervisor_get_log (fx->supervisor);
  wait_seq (fx, 35000);
  /* The batch that crossed the size is written before the rotation. */
  g_usleep (200 * 1000);

  one = g_strconcat (tether_log_get_path (log), ".1", NULL);
  two = g_strconcat (tether_log_get_path (log), ".2", NULL);
  three = g_strconcat (tether_log_get_path (log), ".3", NULL);
  g_assert_true (g_file_test (one, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (two, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (three, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_stat (one, &st), ==, 0);
  g_assert_cmpint (st.st_size, >=, 1 << 20);
  g_assert_cmpint (st.st_size, <, 3 << 20);
}

/* tetherctl logs -n and -f against a real tetherctl run. */
static void
test_tetherctl_logs (Fixture       *fx,
                     gconstpointer  data)
{
  const char *tetherctl = g_getenv ("TETHERCTL");
  const char *argv[] = { "/bin/sh", "-c",
                         "i=0; while true; do echo \"tick $i\"; i=$((i+1)); sleep 0.1; done", fx->marker, NULL };
  g_autoptr(GSubprocess) run = NULL;
  g_autoptr(GSubprocess) follow = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status = 0;

  fx->profile_path = test_util_write_profile (NULL, argv);
  run = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                          tetherctl, "run", fx->profile_path, NULL);
  g_assert_no_error (error);

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *err = NULL;

      g_clear_pointer (&out, g_free);
      g_spawn_sync (NULL, (char **) (const char *[]) { tetherctl, "logs", "-n", "3", "--profile", fx->profile_path, NULL },
                    NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL);
      if (out != NULL && strstr (out, "tick 5") != NULL)
        break;
      if (i == 99)
        g_test_message ("tetherctl logs: %s / %s", out, err);
      g_usleep (100 * 1000);
    }
  g_assert_nonnull (strstr (out, "tick"));
  {
    g_auto(GStrv) shown = g_strsplit (g_strstrip (out), "\n", -1);
    g_assert_cmpuint (g_strv_length (shown), ==, 3);
  }

  /* -f --json: lines that come after it started. */
  follow = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                             tetherctl, "logs", "-f", "-n", "1", "--json", "--profile", fx->profile_path, NULL);
  g_assert_no_error (error);
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (follow));
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_assert_true (g_str_has_prefix (line, "{\"seq\":"));
      g_assert_nonnull (strstr (line, "\"stream\":\"stdout\",\"text\":\"tick "));
    }
  g_subprocess_send_signal (follow, SIGINT);
  g_assert_true (g_subprocess_wait (follow, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (follow));

  g_subprocess_send_signal (run, SIGTERM);
  g_assert_true (g_subprocess_wait (run, NULL, &error));
  g_assert_cmpuint (test_util_count_marked (fx->marker), ==, 0);
}

/* A start that fails quotes what the backend said on stderr. */
static void
test_failed_start_says_why (Fixture       *fx,
                            gconstpointer  data)
{
  const char *argv[] = { "/bin/sh", "-c", "echo 'config: no such file /etc/x.conf' >&2; sleep 0.2; exit 3",
                         fx->marker, NULL };
  g_autoptr(GError) error = NULL;
  TestUtilAwait a = { 0 };

  fx->profile_path = test_util_write_profile ("\"ready\": \"notify\"", argv);
  fx->profile = tether_profile_load (fx->profile_path, &error);
  g_assert_no_error (error);
  fx->supervisor = tether_supervisor_new (fx->profile, fx->kind);
  tether_supervisor_start (fx->supervisor, NULL, test_util_await_cb, &a);
  g_assert_false (tether_supervisor_start_finish (fx->supervisor, test_util_await (&a), &error));
  g_assert_nonnull (strstr (error->message, "Exited with status 3"));
  g_assert_nonnull (strstr (error->message, "config: no such file /etc/x.conf"));
  g_clear_object (&fx->supervisor);
}

/* A TetherLog of its own, with its file in a fresh directory. */
static TetherLog *
new_log (char **dir)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  TetherLog *log;

  *dir = g_dir_make_tmp ("tether-log-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (*dir, "backend.log", NULL);
  log = tether_log_new (path, 1000, G_MAXUINT32, 0);
  g_assert_true (tether_log_start (log, &error));
  g_assert_no_error (error);
  return log;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

/* Waits until the thread has read everything written to the pipe. */
static void
wait_drained (TetherLog *log)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint64 seq = 0;

  /* Quiet for 300 ms: the thread reads a full pipe in far less. */
  for (;;)
    {
      guint64 now;

      g_usleep (300 * 1000);
      now = tether_log_get_last_seq (log);
      if (now == seq)
        break;
      seq = now;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
}

/* A writer far faster than lines can be kept (64 KiB writes of 3-byte
 * lines): it is never held up for long, lines are dropped, and every line
 * is accounted for, kept in the file or counted by a marker. */
static void
test_flood_drops_counted (Fixture       *fx,
                          gconstpointer  data)
{
  const guint64 total = 16 * 1024 * 1024 / 4;
  g_autofree char *dir = NULL;
  g_autoptr(TetherLog) log = new_log (&dir);
  g_autofree char *block = g_malloc (65536);
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  int fd = tether_log_get_stdout_fd (log);
  gint64 worst = 0;
  guint64 kept = 0, dropped = 0, markers = 0;

  for (guint i = 0; i < 65536; i += 4)
    memcpy (block + i, "abc\n", 4);
  for (guint64 written = 0; written < total * 4; written += 65536)
    {
      gint64 t0 = g_get_monotonic_time ();

      g_assert_cmpint (write (fd, block, 65536), ==, 65536);
      worst = MAX (worst, g_get_monotonic_time () - t0);
    }
  wait_drained (log);
  g_test_message ("longest write: %.1f ms", worst / 1000.0);
  /* Generous for a loaded machine; without dropping, the writer waits for
   * every line to be cut, numbered and written out. */
  g_assert_cmpint (worst, <, 2 * G_USEC_PER_SEC);

  g_assert_true (g_file_get_contents (tether_log_get_path (log), &contents, NULL, NULL));
  for (char *line = contents, *nl; (nl = strchr (line, '\n')) != NULL; line = nl + 1)
    {
      const char *text;

      *nl = '\0';
      text = strstr (line, " stdout ");
      g_assert_nonnull (text);
      text += strlen (" stdout ");
      if (strcmp (text, "abc") == 0)
        kept++;
      else
        {
          g_assert_true (g_str_has_prefix (text, "… "));
          g_assert_nonnull (strstr (text, "dropped"));
          dropped += g_ascii_strtoull (text + strlen ("… "), NULL, 10);
          markers++;
        }
    }
  g_test_message ("%" G_GUINT64_FORMAT " lines kept, %" G_GUINT64_FORMAT " dropped under %" G_GUINT64_FORMAT " markers",
                  kept, dropped, markers);
  g_assert_cmpuint (markers, >, 0);
  g_assert_cmpuint (kept + dropped, ==, total);

  /* The ring agrees: a marker carries its count. */
  lines = tether_log_get_lines (log, 1000, 0);
  g_assert_cmpuint (tether_log_get_last_seq (log), ==, kept + markers);
  for (guint i = 0; i < lines->len; i++)
    {
      TetherLogLine *line = g_ptr_array_index (lines, i);

      g_assert_true (line->dropped > 0 ? g_str_has_prefix (line->text, "… ") : strcmp (line->text, "abc") == 0);
    }
  g_clear_object (&log);
  remove_dir (dir);
}

/* A tee nobody reads (tetherctl run piped into a stopped pager) loses
 * lines, counted on a line of its own once it reads again; the file and
 * the ring lose none. */
static void
test_stuck_tee (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *dir = NULL;
  g_autoptr(TetherLog) log = new_log (&dir);
  g_autoptr(GString) seen = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  int tee[2];
  int fd = tether_log_get_stdout_fd (log);
  char buffer[65536];
  ssize_t n;

  g_assert_true (g_unix_open_pipe (tee, FD_CLOEXEC, &error));
  tether_log_set_tee (log, tee[1], -1);
  close (tee[1]);
  /* 200 000 lines, more than the tee's pipe holds. */
  for (guint i = 0; i < 200000; i++)
    {
      char line[32];
      int len = g_snprintf (line, sizeof line, "line %u\n", i);

      g_assert_cmpint (write (fd, line, (size_t) len), ==, len);
      if (i % 20000 == 0)
        g_usleep (20 * 1000); /* slow enough that nothing is dropped from the file */
    }
  wait_drained (log);
  g_assert_cmpuint (tether_log_get_last_seq (log), ==, 200000);

  /* Read the tee again, then one more line: the count comes first. */
  g_unix_set_fd_nonblocking (tee[0], TRUE, NULL);
  while ((n = read (tee[0], buffer, sizeof buffer)) > 0)
    ;
  g_assert_cmpint (write (fd, "after\n", 6), ==, 6);
  wait_drained (log);
  while ((n = read (tee[0], buffer, sizeof buffer)) > 0)
    g_string_append_len (seen, buffer, n);
  g_test_message ("the tee got: %s", seen->str);
  g_assert_true (g_str_has_suffix (seen->str, " lines dropped: the backend wrote faster than Tether could keep them\nafter\n"));
  close (tee[0]);
  g_clear_object (&log);
  remove_dir (dir);
}

int
main (int    argc,
      char **argv)
{
  static const TetherOwnerKind cgroup = TETHER_OWNER_CGROUP;

  test_util_init ();
  g_test_init (&argc, &argv, NULL);

  test_util_add_for_kinds ("/log", "every-line", sizeof (Fixture), setup, test_every_line, teardown);
  g_test_add ("/log/rotation", Fixture, &cgroup, setup, test_rotation, teardown);
  g_test_add ("/log/failed-start-says-why", Fixture, &cgroup, setup, test_failed_start_says_why, teardown);
  g_test_add ("/log/tetherctl-logs", Fixture, &cgroup, setup, test_tetherctl_logs, teardown);
  g_test_add ("/log/flood-drops-counted", Fixture, &cgroup, setup, test_flood_drops_counted, teardown);
  g_test_add ("/log/stuck-tee", Fixture, &cgroup, setup, test_stuck_tee, teardown);
  return g_test_run ();
}
