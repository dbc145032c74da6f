/* test-procfs.c: parsing /proc/PID/stat, whose comm the backend chooses
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>

#include "tether-procfs.h"
#include "tether-text.h"

/* A comm with ") ", spaces, '(' and a newline: the kernel keeps any byte
 * but NUL (prctl PR_SET_NAME), so a backend can write a fake tail. */
#define HOSTILE_LINE \
  "31337 (x) R 1 2 (\n) ) S 77 31337 31337 0 -1 4194304 100 0 0 0 5 6 0 0 25 5 3 0 " \
  "424242 1000000 250 18446744073709551615 4096 8192 140729 0 0 0 0 0 0 0 0 0 17 0 0 " \
  "0 0 0 0 0 0 0 0 0 0 0 0\n"

static void
test_parse_stat_self (void)
{
  TetherProcStat st;

  g_assert_cmpint (tether_procfs_read_stat (getpid (), &st), ==, 0);
  g_assert_cmpint (st.pid, ==, getpid ());
  g_assert_cmpint (st.ppid, ==, getppid ());
  g_assert_cmpstr (st.comm, ==, "test-procfs");
  g_assert_cmpint (st.state, ==, 'R');
  g_assert_cmpint (st.num_threads, >=, 1);
  g_assert_cmpint (st.rss_pages, >, 0);
  errno = 0;
  g_assert_cmpint (st.nice, ==, getpriority (PRIO_PROCESS, 0));
}

static void
test_parse_stat_hostile_comm (void)
{
  TetherProcStat st;

  g_assert_cmpint (tether_procfs_parse_stat (HOSTILE_LINE, strlen (HOSTILE_LINE), &st), ==, 0);
  g_assert_cmpint (st.pid, ==, 31337);
  g_assert_cmpstr (st.comm, ==, "x) R 1 2 (\n) ");
  g_assert_cmpint (st.state, ==, 'S');
  g_assert_cmpint (st.ppid, ==, 77);
  g_assert_cmpuint (st.utime, ==, 5);
  g_assert_cmpuint (st.stime, ==, 6);
  g_assert_cmpint (st.nice, ==, 5);
  g_assert_cmpint (st.num_threads, ==, 3);
  g_assert_cmpuint (st.starttime, ==, 424242);
  g_assert_cmpint (st.rss_pages, ==, 250);
  g_assert_cmpuint (st.startcode, ==, 4096);
  g_assert_cmpuint (st.endcode, ==, 8192);
}

static void
test_parse_stat_reads_only_len (void)
{
  /* Cut right after endcode's digits, with more digits behind the cut:
   * strtoull used to read on into them (the fuzzer's first finding). */
  const char line[] = "1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 7 8 0 0 20 0 1 0 9 0 10 "
                      "18446744073709551615 4096 8192" "99999";
  TetherProcStat st;

  g_assert_cmpint (tether_procfs_parse_stat (line, strlen (line) - 5, &st), ==, 0);
  g_assert_cmpuint (st.endcode, ==, 8192);
  g_assert_cmpuint (st.startcode, ==, 4096);
  g_assert_cmpuint (st.utime, ==, 7);
  g_assert_cmpint (st.rss_pages, ==, 10);
}

static void
test_parse_stat_numbers (void)
{
  const char line[] = "2147483647 (big) R -1 1 1 0 -1 0 0 0 0 0 18446744073709551615 "
                      "18446744073709551616 0 0 20 0 9223372036854775807 0 "
                      "18446744073709551615 0 -9223372036854775809 0 0 0\n";
  TetherProcStat st;

  g_assert_cmpint (tether_procfs_parse_stat (line, strlen (line), &st), ==, 0);
  g_assert_cmpint (st.pid, ==, G_MAXINT32);
  g_assert_cmpint (st.ppid, ==, -1);
  g_assert_cmpuint (st.utime, ==, G_MAXUINT64);
  /* Beyond 64 bits saturates, as strtoull did. */
  g_assert_cmpuint (st.stime, ==, G_MAXUINT64);
  g_assert_cmpint (st.num_threads, ==, G_MAXINT64);
  g_assert_cmpuint (st.starttime, ==, G_MAXUINT64);
  g_assert_cmpint (st.rss_pages, ==, G_MININT64);
}

static void
test_parse_stat_malformed (void)
{
  const char *lines[] = {
    "",
    "1 init S 0",
    "1 (init S 0 1 1",
    "1 init) S 0 1 1",
    "1 )init( S 0 1 1",
    "1 (init)",
    "1 (init) S",
    "1 (init) S 0 1 1 0 -1 4194560",  /* too few fields */
  };
  TetherProcStat st;

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    g_assert_cmpint (tether_procfs_parse_stat (lines[i], strlen (lines[i]), &st), ==, -EINVAL);
}

/* Names for a process list from argv (tether_text_program_name). */
static void
test_program_names (void)
{
  static const struct { const char *argv[8]; const char *name; } cases[] = {
    { { "/usr/bin/tether-test-tree", "m", "sleep" }, "tether-test-tree" },
    { { "/usr/bin/python3", "-u", "/srv/app/demo_server.py", "--port", "8080" }, "demo_server.py" },
    { { "python3.11", "-X", "dev", "-W", "error", "server.py" }, "server.py" },
    { { "/usr/bin/python3", "-m", "http.server", "8000" }, "http.server" },
    { { "python3", "-c", "import time; time.sleep (9)" }, "python3" },
    { { "/usr/bin/node", "--require", "dotenv/config", "dist/index.js" }, "index.js" },
    { { "nodejs", "-e", "1" }, "nodejs" },
    { { "java", "-Xmx1g", "-cp", "a.jar:b.jar", "org.example.Main", "x" }, "Main" },
    { { "/usr/lib/jvm/bin/java", "-jar", "/opt/app/server.jar" }, "server.jar" },
    { { "/bin/sh", "-c", "exec foo" }, "sh" },
    { { "bash", "/opt/run.sh", "start" }, "run.sh" },
    { { "perl", "-w", "-I", "lib", "script.pl" }, "script.pl" },
    { { "gunicorn: worker [wsgi_app:app]" }, "gunicorn: worker [wsgi_app:app]" },
    { { "python3" }, "python3" },
    { { "python3", "--", "x.py" }, "x.py" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = tether_text_program_name (cases[i].argv);

      g_assert_cmpstr (name, ==, cases[i].name);
    }
  g_assert_null (tether_text_program_name ((const char * const []) { NULL }));
  g_assert_null (tether_text_program_name ((const char * const []) { "", NULL }));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/procfs/parse-stat/self", test_parse_stat_self);
  g_test_add_func ("/procfs/program-names", test_program_names);
  g_test_add_func ("/procfs/parse-stat/hostile-comm", test_parse_stat_hostile_comm);
  g_test_add_func ("/procfs/parse-stat/reads-only-len", test_parse_stat_reads_only_len);
  g_test_add_func ("/procfs/parse-stat/numbers", test_parse_stat_numbers);
  g_test_add_func ("/procfs/parse-stat/malformed", test_parse_stat_malformed);

  return g_test_run ();
}
