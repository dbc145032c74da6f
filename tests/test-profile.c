/* test-profile.c: parsing, validation and error positions of profiles
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tether-error.h"
#include "tether-pidfile.h"
#include "tether-profile.h"

#define BASE_DIR "/srv/demo"

static TetherProfile *
parse (const char  *json,
       GError     **error)
{
  return tether_profile_load_from_data (json, -1, BASE_DIR, "demo.json", error);
}

static TetherProfile *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  TetherProfile *profile = parse (json, &error);

  g_assert_no_error (error);
  g_assert_nonnull (profile);
  return profile;
}

static void
assert_parse_error (const char *json,
                    const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = parse (json, &error);

  g_assert_null (profile);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE);
  g_assert_cmpstr (error->message, ==, expected);
}

static char *
expected_id (const char *stem,
             const char *hashed)
{
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, hashed, -1);

  return g_strdup_printf ("%s-%.8s", stem, digest);
}

static void
write_file (const char *path,
            const char *contents,
            int         mode)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

/* A scratch directory holding an executable script, a plain file and a
 * subdirectory; removed again by remove_scratch_dir. */
static char *
make_scratch_dir (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = NULL;
  g_autofree char *data = NULL;
  g_autofree char *subdir = NULL;
  char *dir;

  dir = g_dir_make_tmp ("tether-profile-XXXXXX", &error);
  g_assert_no_error (error);

  script = g_build_filename (dir, "script.sh", NULL);
  write_file (script, "#!/bin/sh\nexit 0\n", 0755);
  data = g_build_filename (dir, "data.txt", NULL);
  write_file (data, "not a program\n", 0644);
  subdir = g_build_filename (dir, "subdir", NULL);
  g_assert_cmpint (g_mkdir (subdir, 0755), ==, 0);

  return dir;
}

static void
remove_scratch_dir (const char *dir)
{
  g_autoptr(GDir) handle = NULL;
  const char *name;

  handle = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (handle);

  while ((name = g_dir_read_name (handle)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_assert_cmpint (g_rmdir (path), ==, 0);
      else
        g_assert_cmpint (g_unlink (path), ==, 0);
    }

  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ------------------------------------------------------------------------ */

static void
test_full (void)
{
  const char *json =
    "{\n"
    "  \"name\": \"Demo server\",\n"
    "  \"command\": [\"python3\", \"demo_server.py\", \"--port\", \"8765\"],\n"
    "  \"cwd\": \"app\", \"env\": {\"PYTHONUNBUFFERED\": \"1\", \"OPTS\": \"a=b c\"},\n"
    "  \"ready\": \"notify\",\n"
    "  \"start_timeout\": 45.5,\n"
    "  \"stop\": {\"graceful_timeout\": 12, \"term_timeout\": 0, \"kill_timeout\": 0.5, \"signal\": \"INT\"},\n"
    "  \"restart\": {\"policy\": \"on-failure\", \"max_restarts\": 7, \"backoff\": [0.5, 3]},\n"
    "  \"health\": {\"http\": \"http://127.0.0.1:8765/ping\", \"interval\": 2, \"timeout\": 1.5,\n"
    "             \"failures\": 4, \"watchdog\": 10},\n"
    "  \"pool\": {\"mode\": \"managed\", \"listen\": \"127.0.0.1:8765\", \"workers\": 4, \"min\": 2, \"max\": 8,\n"
    "           \"worker_command\": [\"python3\", \"worker.py\"],\n"
    "           \"limits\": {\"memory_soft_mb\": 512, \"memory_hard_mb\": 768, \"cpu_seconds\": 60,\n"
    "                      \"requests\": 10000, \"heartbeat_timeout\": 20}},\n"
    "  \"rollback\": {\"method\": \"http\", \"env\": \"MY_CHECKPOINT\", \"url\": \"https://localhost:8765/rollback\"}\n"
    "}\n";
  const char * const command[] = { "python3", "demo_server.py", "--port", "8765", NULL };
  const char * const env[] = { "PYTHONUNBUFFERED=1", "OPTS=a=b c", NULL };
  const char * const worker_command[] = { "python3", "worker.py", NULL };
  g_autoptr(TetherProfile) profile = parse_ok (json);
  g_autofree char *id = expected_id ("Demo_server", json);

  g_assert_null (profile->path);
  g_assert_cmpstr (profile->name, ==, "Demo server");
  g_assert_cmpstr (profile->id, ==, id);
  g_assert_true (g_strv_equal ((const char * const *) profile->command, command));
  g_assert_cmpstr (profile->cwd, ==, BASE_DIR "/app");
  g_assert_true (g_strv_equal ((const char * const *) profile->env, env));
  g_assert_cmpint (profile->ready, ==, TETHER_READY_NOTIFY);
  g_assert_cmpfloat (profile->start_timeout, ==, 45.5);

  g_assert_cmpfloat (profile->stop.graceful_timeout, ==, 12);
  g_assert_cmpfloat (profile->stop.term_timeout, ==, 0);
  g_assert_cmpfloat (profile->stop.kill_timeout, ==, 0.5);
  g_assert_cmpint (profile->stop.signal, ==, SIGINT);

  g_assert_cmpint (profile->restart.policy, ==, TETHER_RESTART_ON_FAILURE);
  g_assert_cmpuint (profile->restart.max_restarts, ==, 7);
  g_assert_cmpuint (profile->restart.n_backoff, ==, 2);
  g_assert_cmpfloat (profile->restart.backoff[0], ==, 0.5);
  g_assert_cmpfloat (profile->restart.backoff[1], ==, 3);

  g_assert_cmpstr (profile->health.http, ==, "http://127.0.0.1:8765/ping");
  g_assert_cmpfloat (profile->health.interval, ==, 2);
  g_assert_cmpfloat (profile->health.timeout, ==, 1.5);
  g_assert_cmpuint (profile->health.failures, ==, 4);
  g_assert_cmpfloat (profile->health.watchdog, ==, 10);

  g_assert_cmpint (profile->pool.mode, ==, TETHER_POOL_MANAGED);
  g_assert_cmpstr (profile->pool.listen, ==, "127.0.0.1:8765");
  g_assert_cmpuint (profile->pool.workers, ==, 4);
  g_assert_cmpuint (profile->pool.min, ==, 2);
  g_assert_cmpuint (profile->pool.max, ==, 8);
  g_assert_true (g_strv_equal ((const char * const *) profile->pool.worker_command, worker_command));
  g_assert_cmpuint (profile->pool.limits.memory_soft_mb, ==, 512);
  g_assert_cmpuint (profile->pool.limits.memory_hard_mb, ==, 768);
  g_assert_cmpfloat (profile->pool.limits.cpu_seconds, ==, 60);
  g_assert_cmpuint (profile->pool.limits.requests, ==, 10000);
  g_assert_cmpfloat (profile->pool.limits.heartbeat_timeout, ==, 20);

  g_assert_cmpint (profile->rollback.method, ==, TETHER_ROLLBACK_HTTP);
  g_assert_cmpstr (profile->rollback.env, ==, "MY_CHECKPOINT");
  g_assert_cmpstr (profile->rollback.url, ==, "https://localhost:8765/rollback");

  g_assert_cmpuint (profile->command_line, ==, 3);
  g_assert_cmpuint (profile->command_column, ==, 15);
}

static void
test_minimal (void)
{
  const char *json = "{\"command\":[\"true\"]}";
  g_autoptr(TetherProfile) profile = parse_ok (json);
  g_autofree char *id = expected_id ("true", json);

  g_assert_null (profile->path);
  g_assert_cmpstr (profile->name, ==, "true");
  g_assert_cmpstr (profile->id, ==, id);
  g_assert_cmpuint (g_strv_length (profile->command), ==, 1);
  g_assert_cmpstr (profile->command[0], ==, "true");
  g_assert_cmpstr (profile->cwd, ==, BASE_DIR);
  g_assert_nonnull (profile->env);
  g_assert_cmpuint (g_strv_length (profile->env), ==, 0);
  g_assert_cmpint (profile->ready, ==, TETHER_READY_SPAWN);
  g_assert_cmpfloat (profile->start_timeout, ==, 30);

  g_assert_cmpfloat (profile->stop.graceful_timeout, ==, 10);
  g_assert_cmpfloat (profile->stop.term_timeout, ==, 5);
  g_assert_cmpfloat (profile->stop.kill_timeout, ==, 10);
  g_assert_cmpint (profile->stop.signal, ==, SIGTERM);

  g_assert_cmpint (profile->restart.policy, ==, TETHER_RESTART_NO);
  g_assert_cmpuint (profile->restart.max_restarts, ==, 5);
  g_assert_cmpuint (profile->restart.n_backoff, ==, 4);
  g_assert_cmpfloat (profile->restart.backoff[0], ==, 1);
  g_assert_cmpfloat (profile->restart.backoff[1], ==, 2);
  g_assert_cmpfloat (profile->restart.backoff[2], ==, 5);
  g_assert_cmpfloat (profile->restart.backoff[3], ==, 10);

  g_assert_null (profile->health.http);
  g_assert_cmpfloat (profile->health.interval, ==, 5);
  g_assert_cmpfloat (profile->health.timeout, ==, 3);
  g_assert_cmpuint (profile->health.failures, ==, 3);
  g_assert_cmpfloat (profile->health.watchdog, ==, 0);

  g_assert_cmpint (profile->pool.mode, ==, TETHER_POOL_NONE);
  g_assert_null (profile->pool.listen);
  g_assert_cmpuint (profile->pool.workers, ==, 4);
  g_assert_cmpuint (profile->pool.min, ==, 1);
  g_assert_cmpuint (profile->pool.max, ==, 16);
  g_assert_null (profile->pool.worker_command);
  g_assert_cmpuint (profile->pool.limits.memory_soft_mb, ==, 0);
  g_assert_cmpuint (profile->pool.limits.memory_hard_mb, ==, 0);
  g_assert_cmpfloat (profile->pool.limits.cpu_seconds, ==, 0);
  g_assert_cmpuint (profile->pool.limits.requests, ==, 0);
  g_assert_cmpfloat (profile->pool.limits.heartbeat_timeout, ==, 30);

  g_assert_cmpint (profile->rollback.method, ==, TETHER_ROLLBACK_RESTART);
  g_assert_cmpstr (profile->rollback.env, ==, "TETHER_CHECKPOINT");
  g_assert_null (profile->rollback.url);

  g_assert_cmpuint (profile->command_line, ==, 1);
  g_assert_cmpuint (profile->command_column, ==, 13);
}

static void
test_null_means_absent (void)
{
  g_autoptr(TetherProfile) profile = parse_ok (
    "{\n"
    "  \"command\": [\"/bin/server\"],\n"
    "  \"health\": {\"http\": null},\n"
    "  \"pool\": {\"listen\": null},\n"
    "  \"rollback\": {\"url\": null}\n"
    "}\n");

  g_assert_null (profile->health.http);
  g_assert_null (profile->pool.listen);
  g_assert_null (profile->rollback.url);
  g_assert_cmpstr (profile->name, ==, "server");

  /* null is only "absent" for the optional strings */
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"name\": null\n"
                      "}\n",
                      "demo.json:3:11: \"name\" must be a string (got null)");
}

static void
test_signals (void)
{
  static const struct {
    const char *value;
    int signo;
  } accepted[] = {
    { "\"SIGTERM\"", SIGTERM }, { "\"TERM\"", SIGTERM },
    { "\"SIGINT\"", SIGINT }, { "\"INT\"", SIGINT },
    { "\"SIGQUIT\"", SIGQUIT }, { "\"QUIT\"", SIGQUIT },
    { "\"SIGHUP\"", SIGHUP }, { "\"HUP\"", SIGHUP },
    { "\"SIGUSR1\"", SIGUSR1 }, { "\"USR1\"", SIGUSR1 },
    { "\"SIGUSR2\"", SIGUSR2 }, { "\"USR2\"", SIGUSR2 },
    { "1", 1 }, { "9", 9 }, { "64", 64 },
  };
  static const char * const rejected[] = { "\"SIGFOO\"", "\"term\"", "\"KILL\"", "0", "65", "15.5", "true" };

  for (guint i = 0; i < G_N_ELEMENTS (accepted); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"command\": [\"true\"], \"stop\": {\"signal\": %s}}",
                                               accepted[i].value);
      g_autoptr(TetherProfile) profile = parse_ok (json);

      g_assert_cmpint (profile->stop.signal, ==, accepted[i].signo);
    }

  for (guint i = 0; i < G_N_ELEMENTS (rejected); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\n"
                                               "  \"command\": [\"true\"],\n"
                                               "  \"stop\": {\"signal\": %s}\n"
                                               "}\n",
                                               rejected[i]);
      g_autofree char *expected = g_strdup_printf ("demo.json:3:22: \"stop.signal\" must be \"SIGTERM\", \"SIGINT\", "
                                                   "\"SIGQUIT\", \"SIGHUP\", \"SIGUSR1\", \"SIGUSR2\" or a signal "
                                                   "number between 1 and 64 (got %s)",
                                                   rejected[i]);

      assert_parse_error (json, expected);
    }
}

/* ------------------------------------------------------------------------ */

static void
test_syntax_truncated (void)
{
  assert_parse_error ("{\"command\": [\"true\"",
                      "demo.json:1:20: expected \",\" or \"]\" but found the end of the file: "
                      "the array opened at line 1, column 13 is not closed");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"\n",
                      "demo.json:3:1: expected \",\" or \"]\" but found the end of the file: "
                      "the array opened at line 2, column 14 is not closed");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": {\n"
                      "    \"signal\": \"TERM\"\n",
                      "demo.json:5:1: expected \",\" or \"}\" but found the end of the file: "
                      "the object opened at line 3, column 11 is not closed");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"name\": \"Demo\n",
                      "demo.json:3:16: line break inside the string starting at line 3, column 11: "
                      "close it with '\"' or write \\n");

  assert_parse_error ("{\"command\": [\"tr",
                      "demo.json:1:17: found the end of the file inside the string starting at "
                      "line 1, column 14: close it with '\"'");
}

static void
test_syntax_errors (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "}\n",
                      "demo.json:2:22: trailing comma: JSON allows no \",\" before \"}\"");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\", ]\n"
                      "}\n",
                      "demo.json:2:21: trailing comma: JSON allows no \",\" before \"]\"");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"]\n"
                      "  \"name\": \"x\"\n"
                      "}\n",
                      "demo.json:3:3: expected \",\" or \"}\" but found a string");

  assert_parse_error ("{\n"
                      "\t\"command\" [\"true\"]\n"
                      "}\n",
                      "demo.json:2:12: expected \":\" after the field name \"command\" but found \"[\"");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"ready\": tru\n"
                      "}\n",
                      "demo.json:3:12: expected a value (a string in double quotes, a number, an object, "
                      "an array, true, false or null) but found \"tru\"");

  assert_parse_error ("{'command': ['true']}",
                      "demo.json:1:2: expected a field name in double quotes or \"}\" but found "
                      "\"'\" (JSON strings use double quotes)");

  assert_parse_error ("{\"command\": [\"true\"]}\n"
                      "{}\n",
                      "demo.json:2:1: found \"{\" after the end of the JSON value");

  assert_parse_error ("{\"command\": [\"true\"], \"start_timeout\": 05}",
                      "demo.json:1:40: invalid number: a number must not start with 0");

  assert_parse_error ("{\"command\": [\"tr\\x\"]}",
                      "demo.json:1:17: invalid escape \"\\\" followed by \"x\": use \\\\ for a backslash");

  assert_parse_error ("", "demo.json:1:1: the profile is empty: expected a JSON object such as "
                          "{\"command\": [\"./server\"]}");
  assert_parse_error ("  \n  ", "demo.json:2:3: the profile is empty: expected a JSON object such as "
                                "{\"command\": [\"./server\"]}");
}

static void
test_syntax_positions_count_characters (void)
{
  /* "Ünïcödé" is 7 characters but 11 bytes: the column counts characters. */
  assert_parse_error ("{\"name\": \"Ünïcödé\", \"bogus\": 1, \"command\": [\"true\"]}",
                      "demo.json:1:21: unknown field \"bogus\"");

  /* The invalid byte itself is pointed at. */
  assert_parse_error ("{\"command\": [\"tr\xff\"]}",
                      "demo.json:1:17: invalid UTF-8 or a NUL byte: save the profile as UTF-8 text");

  /* A tab is one column. */
  assert_parse_error ("{\n\t\"bogus\": 1\n}", "demo.json:2:2: unknown field \"bogus\"");
}

static void
test_syntax_nesting (void)
{
  g_autoptr(GString) json = g_string_new ("{\"command\": ");

  for (guint i = 0; i < 100; i++)
    g_string_append_c (json, '[');

  /* The object is level 0, so the 64th '[' (column 76) is one too many. */
  assert_parse_error (json->str, "demo.json:1:76: objects and arrays are nested too deeply (more than 64 levels)");
}

static void
test_duplicate_field (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": {\"signal\": \"INT\", \"signal\": \"HUP\"}\n"
                      "}\n",
                      "demo.json:3:29: duplicate field \"signal\" (first defined at line 3, column 12)");
}

/* ------------------------------------------------------------------------ */

static void
test_unknown_fields (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"colour\": \"red\"\n"
                      "}\n",
                      "demo.json:3:3: unknown field \"colour\"");

  assert_parse_error ("{\n"
                      "  \"comand\": [\"true\"]\n"
                      "}\n",
                      "demo.json:2:3: unknown field \"comand\"; did you mean \"command\"?");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": {\n"
                      "    \"graceful_timeout\": 1,\n"
                      "    \"stpo\": 2\n"
                      "  }\n"
                      "}\n",
                      "demo.json:5:5: unknown field \"stpo\" in \"stop\"");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\n"
                      "    \"limits\": {\"memory_sfot_mb\": 10}\n"
                      "  }\n"
                      "}\n",
                      "demo.json:4:16: unknown field \"memory_sfot_mb\" in \"pool.limits\"; "
                      "did you mean \"memory_soft_mb\"?");
}

static void
test_wrong_types (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": \"python3 server.py\"\n"
                      "}\n",
                      "demo.json:2:14: \"command\" must be a non-empty array of strings "
                      "(got \"python3 server.py\")");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": {\"graceful_timeout\": \"10\"}\n"
                      "}\n",
                      "demo.json:3:32: \"stop.graceful_timeout\" must be a number between 0 and 3600 "
                      "(got \"10\")");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": 5\n"
                      "}\n",
                      "demo.json:3:11: \"stop\" must be an object (got 5)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"ready\": \"later\"\n"
                      "}\n",
                      "demo.json:3:12: \"ready\" must be \"spawn\" or \"notify\" (got \"later\")");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"restart\": {\"policy\": true}\n"
                      "}\n",
                      "demo.json:3:25: \"restart.policy\" must be \"no\", \"on-failure\" or \"always\" "
                      "(got true)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"mode\": \"fork\"}\n"
                      "}\n",
                      "demo.json:3:20: \"pool.mode\" must be \"managed\" or \"signals\" (got \"fork\")");
  /* "none" is a nick of TetherPoolMode (no pool), not a mode to ask for */
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"mode\": \"none\"}\n"
                      "}\n",
                      "demo.json:3:20: \"pool.mode\" must be \"managed\" or \"signals\" (got \"none\")");

  assert_parse_error ("[\"true\"]",
                      "demo.json:1:1: the profile must be a JSON object such as "
                      "{\"command\": [\"./server\"]} (got an array)");

  assert_parse_error ("\n   \"true\"",
                      "demo.json:2:4: the profile must be a JSON object such as "
                      "{\"command\": [\"./server\"]} (got \"true\")");
}

static void
test_out_of_range (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": {\n"
                      "    \"graceful_timeout\": -1\n"
                      "  }\n"
                      "}\n",
                      "demo.json:4:25: \"stop.graceful_timeout\" must be a number between 0 and 3600 (got -1)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": {\"kill_timeout\": 0}\n"
                      "}\n",
                      "demo.json:3:28: \"stop.kill_timeout\" must be a number between 0.1 and 3600 (got 0)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"start_timeout\": 1e6\n"
                      "}\n",
                      "demo.json:3:20: \"start_timeout\" must be a number between 0.1 and 86400 (got 1000000)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"health\": {\"failures\": 0}\n"
                      "}\n",
                      "demo.json:3:26: \"health.failures\" must be an integer between 1 and 100 (got 0)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"restart\": {\"max_restarts\": 1001}\n"
                      "}\n",
                      "demo.json:3:31: \"restart.max_restarts\" must be an integer between 0 and 1000 (got 1001)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"restart\": {\"backoff\": []}\n"
                      "}\n",
                      "demo.json:3:26: \"restart.backoff\" must be a non-empty array of delays in seconds, "
                      "such as [1, 2, 5, 10] (got an empty array)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"restart\": {\"backoff\": [1,\n"
                      "                          4000]}\n"
                      "}\n",
                      "demo.json:4:27: \"restart.backoff[1]\" must be a number between 0 and 3600 (got 4000)");
}

static void
test_pool_workers (void)
{
  g_autoptr(TetherProfile) integral = NULL;

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"workers\": 20, \"max\": 16}\n"
                      "}\n",
                      "demo.json:3:23: \"pool.workers\" (20) must be between \"pool.min\" (1) and \"pool.max\" (16)");

  /* Without "workers" the default (4) is checked, blaming the bound the user wrote. */
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"max\": 2}\n"
                      "}\n",
                      "demo.json:3:19: \"pool.workers\" (4) must be between \"pool.min\" (1) and \"pool.max\" (2)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"workers\": 3.5}\n"
                      "}\n",
                      "demo.json:3:23: \"pool.workers\" must be an integer between 0 and 1024 (got 3.5)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"workers\": 2000}\n"
                      "}\n",
                      "demo.json:3:23: \"pool.workers\" must be an integer between 0 and 1024 (got 2000)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"limits\": {\"memory_soft_mb\": 800, \"memory_hard_mb\": 768}}\n"
                      "}\n",
                      "demo.json:3:41: \"pool.limits.memory_soft_mb\" (800) must not exceed "
                      "\"pool.limits.memory_hard_mb\" (768)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"listen\": \"localhost\"}\n"
                      "}\n",
                      "demo.json:3:22: \"pool.listen\" must be \"HOST:PORT\" with a port between 1 and 65535, "
                      "an absolute path of a unix socket (at most 107 bytes), or null (got \"localhost\")");

  /* A relative path is no address. */
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"listen\": \"run/pool.sock\"}\n"
                      "}\n",
                      "demo.json:3:22: \"pool.listen\" must be \"HOST:PORT\" with a port between 1 and 65535, "
                      "an absolute path of a unix socket (at most 107 bytes), or null (got \"run/pool.sock\")");

  /* Tether is the master in managed mode: it needs an address to bind. */
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"mode\": \"managed\"}\n"
                      "}\n",
                      "demo.json:3:20: \"pool.listen\" is required when \"pool.mode\" is \"managed\": "
                      "the address the workers share, such as \"127.0.0.1:8080\"");

  {
    /* The rest of the message is PCRE's, and varies with its version. */
    g_autoptr(GError) error = NULL;
    g_autoptr(TetherProfile) bad =
      tether_profile_load_from_data ("{\n"
                                     "  \"command\": [\"true\"],\n"
                                     "  \"pool\": {\"mode\": \"signals\", \"worker_match\": \"worker(\"}\n"
                                     "}\n", -1, NULL, "demo.json", &error);
    g_assert_null (bad);
    g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE);
    g_assert_true (g_str_has_prefix (error->message,
                                     "demo.json:3:47: \"pool.worker_match\" is not a valid regular expression: "));
  }

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"mode\": \"managed\", \"listen\": \"127.0.0.1:1\", \"worker_match\": \"w\"}\n"
                      "}\n",
                      "demo.json:3:72: \"pool.worker_match\" only applies when \"pool.mode\" is \"signals\"");

  {
    g_autoptr(TetherProfile) unix_socket =
      parse_ok ("{\"command\": [\"true\"], \"pool\": {\"mode\": \"managed\", \"listen\": \"/run/pool.sock\", "
                "\"resize_timeout\": 2.5}}");
    g_autoptr(TetherProfile) signals =
      parse_ok ("{\"command\": [\"true\"], \"pool\": {\"mode\": \"signals\", \"worker_match\": \"^gunicorn: worker\"}}");

    g_assert_cmpstr (unix_socket->pool.listen, ==, "/run/pool.sock");
    g_assert_cmpfloat (unix_socket->pool.resize_timeout, ==, 2.5);
    g_assert_cmpstr (signals->pool.worker_match, ==, "^gunicorn: worker");
    g_assert_cmpfloat (signals->pool.resize_timeout, ==, 10);
  }

  /* 4.0 is an integer, written oddly */
  integral = parse_ok ("{\"command\": [\"true\"], \"pool\": {\"workers\": 4.0, \"min\": 0, \"max\": 4}}");
  g_assert_cmpuint (integral->pool.workers, ==, 4);
  g_assert_cmpuint (integral->pool.min, ==, 0);
}

static void
test_command (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": []\n"
                      "}\n",
                      "demo.json:2:14: \"command\" must be a non-empty array of strings (got an empty array)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"python3\", 8765]\n"
                      "}\n",
                      "demo.json:2:26: \"command[1]\" must be a string (got 8765)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"\"]\n"
                      "}\n",
                      "demo.json:2:15: \"command[0]\" must name the program to run, not be empty");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"pool\": {\"worker_command\": [\"worker\", null]}\n"
                      "}\n",
                      "demo.json:3:41: \"pool.worker_command[1]\" must be a string (got null)");
}

static void
test_missing_command (void)
{
  assert_parse_error ("{\n"
                      "  \"name\": \"Demo\"\n"
                      "}\n",
                      "demo.json:1:1: missing required field \"command\": the program to run and its "
                      "arguments, such as [\"python3\", \"server.py\"]");

  /* The position is the object's, wherever it starts */
  assert_parse_error ("\n  {}",
                      "demo.json:2:3: missing required field \"command\": the program to run and its "
                      "arguments, such as [\"python3\", \"server.py\"]");
}

static void
test_env (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"env\": {\"PORT\": 8765}\n"
                      "}\n",
                      "demo.json:3:19: \"env.PORT\" must be a string (got 8765); quote numbers, such as \"1\"");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"env\": {\"A=B\": \"1\"}\n"
                      "}\n",
                      "demo.json:3:11: \"env\": a variable name must be non-empty and contain no \"=\" (got \"A=B\")");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"env\": {\"\": \"1\"}\n"
                      "}\n",
                      "demo.json:3:11: \"env\": a variable name must be non-empty and contain no \"=\" (got \"\")");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"env\": [\"A=1\"]\n"
                      "}\n",
                      "demo.json:3:10: \"env\" must be an object of strings, such as "
                      "{\"PYTHONUNBUFFERED\": \"1\"} (got an array)");
}

static void
test_urls_and_rollback (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"health\": {\"http\": \"ftp://example.com/\"}\n"
                      "}\n",
                      "demo.json:3:22: \"health.http\" must be an http:// or https:// URL or null "
                      "(got \"ftp://example.com/\")");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"rollback\": {\"method\": \"http\"}\n"
                      "}\n",
                      "demo.json:3:26: \"rollback.url\" is required when \"rollback.method\" is \"http\"");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"rollback\": {\"env\": \"A=B\"}\n"
                      "}\n",
                      "demo.json:3:23: \"rollback.env\" must be an environment variable name without \"=\" "
                      "(got \"A=B\")");
}

/* Integers beyond 64 bits are reported as written, not wrapped around
 * into small or negative numbers that might pass a range check. */
static void
test_huge_integers (void)
{
  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"restart\": {\"max_restarts\": 18446744073709551616}\n"
                      "}\n",
                      "demo.json:3:31: \"restart.max_restarts\" must be an integer between 0 and 1000 "
                      "(got 1.84467440737096e+19)");

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"stop\": {\"signal\": 9223372036854775809}\n"
                      "}\n",
                      "demo.json:3:22: \"stop.signal\" must be \"SIGTERM\", \"SIGINT\", \"SIGQUIT\", \"SIGHUP\", "
                      "\"SIGUSR1\", \"SIGUSR2\" or a signal number between 1 and 64 (got 9.22337203685478e+18)");
}

/* The documented list of fields is the list the parser accepts. */
static void
test_field_paths (void)
{
  const char * const *paths = tether_profile_get_field_paths ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  const char * const expected[] = {
    "name", "command", "cwd", "env", "ready", "start_timeout",
    "stop", "stop.graceful_timeout", "stop.signal",
    "restart", "restart.backoff", "health", "health.watchdog",
    "pool", "pool.worker_command", "pool.limits", "pool.limits.heartbeat_timeout",
    "rollback", "rollback.url",
  };

  g_assert_nonnull (paths);
  g_assert_true (paths == tether_profile_get_field_paths ());

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_strv_contains (paths, expected[i]));

  for (guint i = 0; paths[i] != NULL; i++)
    {
      const char *dot = strrchr (paths[i], '.');
      g_auto(GStrv) steps = g_strsplit (paths[i], ".", -1);
      g_autoptr(GString) json = g_string_new ("{\"command\": [\"true\"]");
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherProfile) profile = NULL;

      /* Once each, and a section before its fields */
      g_assert_false (g_hash_table_contains (seen, paths[i]));
      if (dot != NULL)
        {
          g_autofree char *parent = g_strndup (paths[i], dot - paths[i]);

          g_assert_true (g_hash_table_contains (seen, parent));
        }
      g_hash_table_add (seen, (gpointer) paths[i]);

      /* Accepted as a name: null may be a wrong type, never an unknown field */
      if (strcmp (paths[i], "command") == 0)
        continue;
      for (guint j = 0; steps[j] != NULL; j++)
        g_string_append_printf (json, j == 0 ? ", \"%s\": " : "{\"%s\": ", steps[j]);
      g_string_append (json, "null");
      for (guint j = 1; steps[j] != NULL; j++)
        g_string_append_c (json, '}');
      g_string_append_c (json, '}');

      profile = parse (json->str, &error);
      g_test_message ("%s: %s", json->str, error != NULL ? error->message : "accepted");
      if (error != NULL)
        g_assert_null (strstr (error->message, "unknown field"));
    }
}

/* ------------------------------------------------------------------------ */

static void
test_cwd (void)
{
  g_autoptr(TetherProfile) relative = parse_ok ("{\"command\": [\"true\"], \"cwd\": \"../app/./x/..\"}");
  g_autoptr(TetherProfile) absolute = parse_ok ("{\"command\": [\"true\"], \"cwd\": \"/opt//srv/.\"}");
  g_autoptr(TetherProfile) from_cwd = NULL;
  g_autoptr(TetherProfile) relative_base = NULL;
  g_autofree char *current = g_get_current_dir ();
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (relative->cwd, ==, "/srv/app");
  g_assert_cmpstr (absolute->cwd, ==, "/opt/srv");

  /* Without a base directory, the current one */
  from_cwd = tether_profile_load_from_data ("{\"command\": [\"true\"], \"cwd\": \"sub\"}", -1,
                                            NULL, NULL, &error);
  g_assert_no_error (error);
  expected = g_build_filename (current, "sub", NULL);
  g_assert_cmpstr (from_cwd->cwd, ==, expected);

  relative_base = tether_profile_load_from_data ("{\"command\": [\"true\"]}", -1, "rel/dir", NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&expected, g_free);
  expected = g_build_filename (current, "rel", "dir", NULL);
  g_assert_cmpstr (relative_base->cwd, ==, expected);

  assert_parse_error ("{\n"
                      "  \"command\": [\"true\"],\n"
                      "  \"cwd\": \"\"\n"
                      "}\n",
                      "demo.json:3:10: \"cwd\" must not be empty");
}

/* "pidfile" resolves against cwd, as a daemon started there writes it. */
static void
test_pidfile_field (void)
{
  g_autoptr(TetherProfile) relative = parse_ok ("{\"command\": [\"true\"], \"cwd\": \"/srv/app\", "
                                                "\"pidfile\": \"run/../nginx.pid\"}");
  g_autoptr(TetherProfile) absolute = parse_ok ("{\"command\": [\"true\"], \"pidfile\": \"/run/x.pid\"}");
  g_autoptr(TetherProfile) none = parse_ok ("{\"command\": [\"true\"]}");

  g_assert_cmpstr (relative->pidfile, ==, "/srv/app/nginx.pid");
  g_assert_cmpstr (absolute->pidfile, ==, "/run/x.pid");
  g_assert_null (none->pidfile);
  assert_parse_error ("{\"command\": [\"true\"], \"pidfile\": \"\"}",
                      "demo.json:1:34: \"pidfile\" must not be empty");
}

static void
assert_pidfile_parses (const char *contents,
                       pid_t       expected)
{
  g_autoptr(GError) error = NULL;
  pid_t pid = -1;

  g_assert_true (tether_pidfile_parse ("p", contents, strlen (contents), &pid, &error));
  g_assert_no_error (error);
  g_assert_cmpint (pid, ==, expected);
}

static void
assert_pidfile_refused (const char *contents,
                        gsize       length,
                        const char *message)
{
  g_autoptr(GError) error = NULL;
  pid_t pid = -1;

  g_assert_false (tether_pidfile_parse ("p", contents, length, &pid, &error));
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==, message);
  g_assert_cmpint (pid, ==, 0);
}

/* What daemons write: a pid and a newline, sometimes blanks, PostgreSQL's
 * postmaster.pid more lines after it. Anything else is refused by name,
 * and shown without the control characters it may carry. */
static void
test_pidfile_parse (void)
{
  assert_pidfile_parses ("1234\n", 1234);
  assert_pidfile_parses ("  42 \t\n", 42);
  assert_pidfile_parses ("777", 777);
  assert_pidfile_parses ("4242\n/var/lib/postgresql/15/main\n1700000000\n5432\n", 4242);
  assert_pidfile_parses ("2147483647\n", G_MAXINT);

  assert_pidfile_refused ("", 0, "The pidfile p is empty");
  assert_pidfile_refused (" \n12\n", 5, "The pidfile p is empty");
  assert_pidfile_refused ("1\n", 2, "The pidfile p says “1”, not a process id");
  assert_pidfile_refused ("0", 1, "The pidfile p says “0”, not a process id");
  assert_pidfile_refused ("-5", 2, "The pidfile p says “-5”, not a process id");
  assert_pidfile_refused ("+5", 2, "The pidfile p says “+5”, not a process id");
  assert_pidfile_refused ("2147483648", 10, "The pidfile p says “2147483648”, not a process id");
  assert_pidfile_refused ("12 34", 5, "The pidfile p says “12 34”, not a process id");
  assert_pidfile_refused ("12\0" "34", 5, "The pidfile p says “12”, not a process id");
  assert_pidfile_refused ("\033]0;owned\007", 10, "The pidfile p says “?]0;owned?”, not a process id");
  assert_pidfile_refused ("\xff\xfe", 2, "The pidfile p says “\xef\xbf\xbd\xef\xbf\xbd”, not a process id");
}

static void
on_async_result (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static pid_t
read_pidfile (const char  *path,
              GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_pidfile_read_async (path, NULL, on_async_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return tether_pidfile_read_finish (result, error);
}

/* Reading is bounded and never waits on what is not a file. */
static void
test_pidfile_read (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tether-pidfile-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "x.pid", NULL);
  g_autofree char *fifo = g_build_filename (dir, "fifo.pid", NULL);
  g_autoptr(GError) error = NULL;
  GString *huge = g_string_new ("99");

  g_assert_cmpint (read_pidfile (path, &error), ==, 0);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "31337\n", -1, NULL));
  g_assert_cmpint (read_pidfile (path, &error), ==, 31337);
  g_assert_no_error (error);

  /* Only the first 4 KiB are read: a huge file is a long number, refused. */
  for (guint i = 0; i < 1 << 20; i++)
    g_string_append_c (huge, '9');
  g_assert_true (g_file_set_contents (path, huge->str, huge->len, NULL));
  g_string_free (huge, TRUE);
  g_assert_cmpint (read_pidfile (path, &error), ==, 0);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
  g_clear_error (&error);

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (read_pidfile (fifo, &error), ==, 0);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_clear_error (&error);

  g_assert_cmpint (read_pidfile (dir, &error), ==, 0);
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_unlink (fifo);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_data_without_display_name (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = NULL;

  profile = tether_profile_load_from_data ("{\"command\": 1}", -1, NULL, NULL, &error);
  g_assert_null (profile);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE);
  g_assert_cmpstr (error->message, ==, "<data>:1:13: \"command\" must be a non-empty array of strings (got 1)");

  /* An explicit length need not end at a NUL */
  g_clear_error (&error);
  profile = tether_profile_load_from_data ("{\"command\": [\"true\"]} trailing", 21, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (profile->command[0], ==, "true");
}

static void
test_load_file (void)
{
  g_autofree char *dir = make_scratch_dir ();
  g_autofree char *path = g_build_filename (dir, "my profile.json", NULL);
  g_autofree char *bad_path = g_build_filename (dir, "bad.json", NULL);
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autofree char *id = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(TetherProfile) bad = NULL;
  g_autoptr(GError) error = NULL;

  write_file (path,
              "{\n"
              "  \"command\": [\"./script.sh\", \"--serve\"],\n"
              "  \"cwd\": \"sub\"\n"
              "}\n",
              0644);

  profile = tether_profile_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (profile->path, ==, path);
  g_assert_cmpstr (profile->name, ==, "my profile");
  id = expected_id ("my_profile", path);
  g_assert_cmpstr (profile->id, ==, id);
  g_assert_cmpstr (profile->cwd, ==, sub);
  g_assert_cmpuint (profile->command_line, ==, 2);
  g_assert_cmpuint (profile->command_column, ==, 15);

  /* Errors name the file as it was given */
  write_file (bad_path,
              "{\n"
              "  \"command\": [\"true\"],\n"
              "  \"stop\": {\"term_timeout\": -5}\n"
              "}\n",
              0644);
  bad = tether_profile_load (bad_path, &error);
  g_assert_null (bad);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE);
  expected = g_strdup_printf ("%s:3:28: \"stop.term_timeout\" must be a number between 0 and 3600 (got -5)",
                              bad_path);
  g_assert_cmpstr (error->message, ==, expected);

  g_unlink (path);
  g_unlink (bad_path);
  remove_scratch_dir (dir);
}

static void
test_load_default_cwd (void)
{
  g_autofree char *dir = make_scratch_dir ();
  g_autofree char *path = g_build_filename (dir, "server.json", NULL);
  g_autofree char *id = NULL;
  g_autoptr(TetherProfile) profile = NULL;
  g_autoptr(GError) error = NULL;

  write_file (path, "{\"command\": [\"true\"]}", 0644);
  profile = tether_profile_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (profile->cwd, ==, dir);
  g_assert_cmpstr (profile->name, ==, "server");
  id = expected_id ("server", path);
  g_assert_cmpstr (profile->id, ==, id);

  remove_scratch_dir (dir);
}

static void
test_load_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *dir = make_scratch_dir ();

  profile = tether_profile_load ("/nonexistent/tether/demo.json", &error);
  g_assert_null (profile);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  expected = g_strdup_printf ("/nonexistent/tether/demo.json: cannot read the profile: %s",
                              g_strerror (ENOENT));
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  /* A directory is unreadable as a profile too */
  profile = tether_profile_load (dir, &error);
  g_assert_null (profile);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message, dir));

  remove_scratch_dir (dir);
}

/* ------------------------------------------------------------------------ */

static void
test_find_executable_on_path (void)
{
  g_autoptr(TetherProfile) found = parse_ok ("{\n  \"command\": [\"true\"]\n}");
  g_autoptr(TetherProfile) missing = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *program = NULL;
  g_autofree char *basename = NULL;

  program = tether_profile_find_executable (found, &error);
  g_assert_no_error (error);
  g_assert_true (g_path_is_absolute (program));
  g_assert_true (g_file_test (program, G_FILE_TEST_IS_EXECUTABLE));
  basename = g_path_get_basename (program);
  g_assert_cmpstr (basename, ==, "true");

  missing = parse_ok ("{\n"
                      "  \"name\": \"Demo\",\n"
                      "  \"command\": [\"tether-no-such-program\", \"--port\", \"8765\"]\n"
                      "}\n");
  g_clear_pointer (&program, g_free);
  program = tether_profile_find_executable (missing, &error);
  g_assert_null (program);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==,
                   "demo.json:3:15: executable \"tether-no-such-program\" not found on PATH");
}

static void
test_find_executable_relative (void)
{
  g_autofree char *dir = make_scratch_dir ();
  g_autofree char *script = g_build_filename (dir, "script.sh", NULL);
  g_autofree char *data = g_build_filename (dir, "data.txt", NULL);
  g_autofree char *subdir = g_build_filename (dir, "subdir", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *program = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = NULL;

  /* Relative to cwd, which defaults to base_dir */
  profile = tether_profile_load_from_data ("{\n  \"command\": [\"./script.sh\"]\n}", -1, dir, "demo.json", &error);
  g_assert_no_error (error);
  program = tether_profile_find_executable (profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (program, ==, script);
  g_clear_pointer (&profile, tether_profile_unref);
  g_clear_pointer (&program, g_free);

  /* Relative to an explicit cwd */
  profile = tether_profile_load_from_data ("{\"command\": [\"../script.sh\"], \"cwd\": \"subdir\"}", -1,
                                           dir, "demo.json", &error);
  g_assert_no_error (error);
  program = tether_profile_find_executable (profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (program, ==, script);
  g_clear_pointer (&profile, tether_profile_unref);
  g_clear_pointer (&program, g_free);

  /* Not executable */
  profile = tether_profile_load_from_data ("{\n  \"command\": [\"./data.txt\"]\n}", -1, dir, "demo.json", &error);
  g_assert_no_error (error);
  program = tether_profile_find_executable (profile, &error);
  g_assert_null (program);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  expected = g_strdup_printf ("demo.json:2:15: \"./data.txt\" is not executable (%s lacks execute permission)", data);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  g_clear_pointer (&expected, g_free);
  g_clear_pointer (&profile, tether_profile_unref);

  /* A directory */
  profile = tether_profile_load_from_data ("{\n  \"command\": [\"./subdir\"]\n}", -1, dir, "demo.json", &error);
  g_assert_no_error (error);
  program = tether_profile_find_executable (profile, &error);
  g_assert_null (program);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  expected = g_strdup_printf ("demo.json:2:15: \"./subdir\" is a directory, not an executable (%s)", subdir);
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);
  g_clear_pointer (&expected, g_free);
  g_clear_pointer (&profile, tether_profile_unref);

  /* Missing */
  profile = tether_profile_load_from_data ("{\n  \"command\": [\"./nope.sh\"]\n}", -1, dir, "demo.json", &error);
  g_assert_no_error (error);
  program = tether_profile_find_executable (profile, &error);
  g_assert_null (program);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  expected = g_strdup_printf ("demo.json:2:15: executable \"./nope.sh\" not found (no file at %s/nope.sh)", dir);
  g_assert_cmpstr (error->message, ==, expected);

  remove_scratch_dir (dir);
}

static void
test_find_executable_profile_path (void)
{
  g_autofree char *dir = make_scratch_dir ();
  g_autofree char *script = g_build_filename (dir, "script.sh", NULL);
  g_autofree char *data = g_build_filename (dir, "data.txt", NULL);
  g_autofree char *json = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *program = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherProfile) profile = NULL;

  /* The profile's own PATH is searched, as the backend will see it */
  json = g_strdup_printf ("{\"command\": [\"script.sh\"], \"env\": {\"PATH\": \"/nonexistent:%s\"}}", dir);
  profile = parse_ok (json);
  program = tether_profile_find_executable (profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (program, ==, script);
  g_clear_pointer (&profile, tether_profile_unref);
  g_clear_pointer (&program, g_free);
  g_clear_pointer (&json, g_free);

  /* A relative PATH entry means the backend's working directory */
  profile = tether_profile_load_from_data ("{\"command\": [\"script.sh\"], \"env\": {\"PATH\": \"../nowhere:.\"}}", -1,
                                           dir, "demo.json", &error);
  g_assert_no_error (error);
  program = tether_profile_find_executable (profile, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (program, ==, script);
  g_clear_pointer (&profile, tether_profile_unref);
  g_clear_pointer (&program, g_free);

  /* Found only without execute permission */
  json = g_strdup_printf ("{\n  \"command\": [\"data.txt\"],\n  \"env\": {\"PATH\": \"%s\"}\n}", dir);
  profile = parse_ok (json);
  program = tether_profile_find_executable (profile, &error);
  g_assert_null (program);
  g_assert_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND);
  expected = g_strdup_printf ("demo.json:2:15: executable \"data.txt\" not found on PATH "
                              "(%s exists but is not executable)", data);
  g_assert_cmpstr (error->message, ==, expected);

  remove_scratch_dir (dir);
}

static void
test_boxed (void)
{
  TetherProfile *profile = parse_ok ("{\"command\": [\"true\"]}");
  TetherProfile *copy;
  GValue value = G_VALUE_INIT;

  g_assert_true (G_TYPE_IS_BOXED (TETHER_TYPE_PROFILE));

  copy = g_boxed_copy (TETHER_TYPE_PROFILE, profile);
  g_assert_true (copy == profile);
  g_boxed_free (TETHER_TYPE_PROFILE, copy);

  g_value_init (&value, TETHER_TYPE_PROFILE);
  g_value_set_boxed (&value, profile);
  g_assert_true (g_value_get_boxed (&value) == profile);
  g_value_unset (&value);

  g_assert_true (tether_profile_ref (profile) == profile);
  tether_profile_unref (profile);
  tether_profile_unref (profile);
}

/* Every field the parser accepts is in the reference (docs/profile.md),
 * a field as `path` in a table row, a section as a `path` heading: the two
 * cannot drift apart. */
static void
test_documented (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "docs", "profile.md", NULL);
  g_autofree char *doc = NULL;
  const char * const *fields = tether_profile_get_field_paths ();
  guint n = 0;

  g_assert_true (g_file_get_contents (path, &doc, NULL, NULL));
  for (guint i = 0; fields[i] != NULL; i++, n++)
    {
      g_autofree char *row = g_strdup_printf ("| `%s` |", fields[i]);
      g_autofree char *heading = g_strdup_printf ("\n## `%s`", fields[i]);

      /* A field in a table row, a section as a heading (or a row). */
      if (strstr (doc, row) == NULL && strstr (doc, heading) == NULL)
        g_error ("docs/profile.md has no row or heading for \"%s\"", fields[i]);
    }
  g_assert_cmpuint (n, >, 30);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/profile/full", test_full);
  g_test_add_func ("/profile/minimal", test_minimal);
  g_test_add_func ("/profile/null-means-absent", test_null_means_absent);
  g_test_add_func ("/profile/signals", test_signals);
  g_test_add_func ("/profile/syntax/truncated", test_syntax_truncated);
  g_test_add_func ("/profile/syntax/errors", test_syntax_errors);
  g_test_add_func ("/profile/syntax/columns-count-characters", test_syntax_positions_count_characters);
  g_test_add_func ("/profile/syntax/nesting", test_syntax_nesting);
  g_test_add_func ("/profile/syntax/duplicate-field", test_duplicate_field);
  g_test_add_func ("/profile/unknown-fields", test_unknown_fields);
  g_test_add_func ("/profile/wrong-types", test_wrong_types);
  g_test_add_func ("/profile/out-of-range", test_out_of_range);
  g_test_add_func ("/profile/pool-workers", test_pool_workers);
  g_test_add_func ("/profile/command", test_command);
  g_test_add_func ("/profile/missing-command", test_missing_command);
  g_test_add_func ("/profile/env", test_env);
  g_test_add_func ("/profile/urls-and-rollback", test_urls_and_rollback);
  g_test_add_func ("/profile/huge-integers", test_huge_integers);
  g_test_add_func ("/profile/field-paths", test_field_paths);
  g_test_add_func ("/profile/cwd", test_cwd);
  g_test_add_func ("/profile/pidfile", test_pidfile_field);
  g_test_add_func ("/pidfile/parse", test_pidfile_parse);
  g_test_add_func ("/pidfile/read", test_pidfile_read);
  g_test_add_func ("/profile/data-without-display-name", test_data_without_display_name);
  g_test_add_func ("/profile/load/file", test_load_file);
  g_test_add_func ("/profile/load/default-cwd", test_load_default_cwd);
  g_test_add_func ("/profile/load/missing", test_load_missing);
  g_test_add_func ("/profile/find-executable/path", test_find_executable_on_path);
  g_test_add_func ("/profile/find-executable/relative", test_find_executable_relative);
  g_test_add_func ("/profile/find-executable/profile-path", test_find_executable_profile_path);
  g_test_add_func ("/profile/boxed", test_boxed);
  g_test_add_func ("/profile/documented", test_documented);

  return g_test_run ();
}
