/* fuzz-stat.c: /proc/PID/stat, whose comm field the backend chooses
 * (prctl PR_SET_NAME, or the name of the file it execs)
 *
 * Two checks per input: the input itself as a stat line (the parser reads
 * nothing outside it, and what it returns stands where it says), and a
 * well-formed line built the kernel's way around a comm made from the
 * input, whose every field must come back as written.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "fuzz-common.h"
#include "tether-procfs.h"

/* TASK_COMM_LEN - 1: the longest comm the kernel keeps. */
#define KERNEL_COMM_MAX 15

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  return 0;
}

static void
check_raw (const char *data,
           size_t      size)
{
  TetherProcStat st;
  const char *lparen, *rparen;
  size_t comm_len;
  int r;

  r = tether_procfs_parse_stat (data, size, &st);
  g_assert_true (r == 0 || r == -EINVAL);
  if (r != 0)
    return;

  /* comm is whatever stands between the first '(' and the last ')'. */
  lparen = memchr (data, '(', size);
  rparen = memrchr (data, ')', size);
  g_assert_nonnull (lparen);
  g_assert_nonnull (rparen);
  g_assert_true (lparen < rparen);
  comm_len = MIN ((size_t) (rparen - lparen - 1), sizeof st.comm - 1);
  g_assert_true (memchr (st.comm, '\0', sizeof st.comm) != NULL);
  g_assert_true (memcmp (st.comm, lparen + 1, comm_len) == 0);
  g_assert_cmpint (st.comm[comm_len], ==, '\0');
  g_assert_true (rparen + 2 < data + size);
  g_assert_cmpint (st.state, ==, rparen[2]);
}

/* Takes the next 8 bytes of the input as a number (zeros once it runs out). */
static guint64
take_u64 (const uint8_t **p,
          const uint8_t  *end)
{
  guint64 value = 0;

  for (int i = 0; i < 8 && *p < end; i++, (*p)++)
    value = (value << 8) | **p;
  return value;
}

static void
check_round_trip (const uint8_t *data,
                  size_t         size)
{
  const uint8_t *p = data, *end = data + size;
  char comm[KERNEL_COMM_MAX + 1];
  size_t comm_len;
  int pid, ppid;
  char state;
  unsigned long utime, stime, startcode, endcode;
  long num_threads, rss;
  unsigned long long starttime;
  gboolean newline;
  g_autofree char *line = NULL;
  g_autofree char *exact = NULL;
  TetherProcStat st;

  if (size == 0)
    return;

  /* The kernel keeps any byte but NUL in comm: ')', spaces, newlines. */
  comm_len = *p++ % (KERNEL_COMM_MAX + 1);
  comm_len = MIN (comm_len, (size_t) (end - p));
  for (size_t i = 0; i < comm_len; i++, p++)
    comm[i] = *p != '\0' ? (char) *p : '?';
  comm[comm_len] = '\0';

  newline = p < end ? (*p++ & 1) : TRUE;
  state = p < end ? "RSDTtZXIPKW"[*p++ % 11] : 'R';
  /* The kernel's types and ranges (fs/proc/array.c, do_task_stat). */
  pid = (int) (take_u64 (&p, end) % G_MAXINT32) + 1;
  ppid = (int) (take_u64 (&p, end) % G_MAXINT32);
  utime = (unsigned long) take_u64 (&p, end);
  stime = (unsigned long) take_u64 (&p, end);
  num_threads = (long) (take_u64 (&p, end) % G_MAXINT32) + 1;
  starttime = take_u64 (&p, end);
  rss = (long) (take_u64 (&p, end) % G_MAXINT64);
  startcode = (unsigned long) take_u64 (&p, end);
  endcode = (unsigned long) take_u64 (&p, end);

  line = g_strdup_printf ("%d (%s) %c %d 100 100 0 -1 4194560 123 0 0 0 "
                          "%lu %lu 0 0 20 0 %ld 0 %llu 12345678 %ld "
                          "18446744073709551615 %lu %lu 140731 0 0 0 0 0 0 "
                          "0 0 0 17 1 0 0 0 0 0 94 95 96 140732 140733 "
                          "140734 140735 0%s",
                          pid, comm, state, ppid,
                          utime, stime, num_threads, starttime, rss,
                          startcode, endcode, newline ? "\n" : "");
  /* Exactly as long as the line, no NUL after it: an overread shows. */
  exact = g_memdup2 (line, strlen (line));

  g_assert_cmpint (tether_procfs_parse_stat (exact, strlen (line), &st), ==, 0);
  g_assert_cmpint (st.pid, ==, pid);
  g_assert_cmpstr (st.comm, ==, comm);
  g_assert_cmpint (st.state, ==, state);
  g_assert_cmpint (st.ppid, ==, ppid);
  g_assert_cmpuint (st.utime, ==, utime);
  g_assert_cmpuint (st.stime, ==, stime);
  g_assert_cmpint (st.num_threads, ==, num_threads);
  g_assert_cmpuint (st.starttime, ==, starttime);
  g_assert_cmpint (st.rss_pages, ==, rss);
  g_assert_cmpuint (st.startcode, ==, startcode);
  g_assert_cmpuint (st.endcode, ==, endcode);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  check_raw ((const char *) data, size);
  check_round_trip (data, size);
  return 0;
}
