/* tether-procfs.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
# define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
# define SYS_pidfd_send_signal 424
#endif

static ssize_t
read_small_file (const char *path,
                 char       *buf,
                 size_t      size)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -errno;
  do
    n = read (fd, buf, size - 1);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    n = -errno;
  else
    buf[n] = '\0';
  close (fd);
  return n;
}

/* Fields of /proc/PID/stat after "pid (comm) ", numbered as in proc(5). */
enum
{
  STAT_STATE = 3,
  STAT_PPID = 4,
  STAT_UTIME = 14,
  STAT_STIME = 15,
  STAT_NICE = 19,
  STAT_NUM_THREADS = 20,
  STAT_STARTTIME = 22,
  STAT_RSS = 24,
  STAT_STARTCODE = 26,
  STAT_ENDCODE = 27,
};

/* The numbers of a stat line, read without going past end: strtol and
 * its kin stop only at a non-digit, and buf need not end in one (a line
 * cut short ends in its last digit). Out of range saturates, as strtoull
 * does. */
static unsigned long long
parse_unsigned (const char *p,
                const char *end)
{
  unsigned long long value = 0;

  for (; p < end && *p >= '0' && *p <= '9'; p++)
    {
      unsigned int digit = (unsigned int) (*p - '0');

      if (value > (ULLONG_MAX - digit) / 10)
        return ULLONG_MAX;
      value = value * 10 + digit;
    }
  return value;
}

static long long
parse_signed (const char *p,
              const char *end)
{
  unsigned long long magnitude;

  if (p < end && *p == '-')
    {
      magnitude = parse_unsigned (p + 1, end);
      return magnitude > (unsigned long long) LLONG_MAX ? LLONG_MIN : -(long long) magnitude;
    }
  magnitude = parse_unsigned (p, end);
  return magnitude > (unsigned long long) LLONG_MAX ? LLONG_MAX : (long long) magnitude;
}

int
tether_procfs_parse_stat (const char     *buf,
                          size_t          len,
                          TetherProcStat *out)
{
  const char *end = buf + len;
  const char *lparen, *rparen = NULL;
  const char *p;
  size_t comm_len;
  int field;

  /* comm may hold anything, ')' and spaces included: the real end is the
   * last ')', searched from the back (the numeric tail has none). */
  for (p = end; p > buf; p--)
    if (p[-1] == ')')
      {
        rparen = p - 1;
        break;
      }
  lparen = memchr (buf, '(', len);
  if (rparen == NULL || lparen == NULL || lparen > rparen || rparen + 4 > end)
    return -EINVAL;

  memset (out, 0, sizeof *out);
  out->pid = (pid_t) parse_signed (buf, lparen);
  comm_len = (size_t) (rparen - lparen - 1);
  if (comm_len >= sizeof out->comm)
    comm_len = sizeof out->comm - 1;
  memcpy (out->comm, lparen + 1, comm_len);
  out->comm[comm_len] = '\0';

  p = rparen + 2;
  out->state = *p;

  /* One walk over the numeric fields; only the wanted ones are converted. */
  for (field = STAT_STATE; field < STAT_ENDCODE; )
    {
      while (p < end && *p != ' ')
        p++;
      if (p >= end)
        break;
      p++;
      field++;

      switch (field)
        {
        case STAT_PPID:
          out->ppid = (pid_t) parse_signed (p, end);
          break;
        case STAT_UTIME:
          out->utime = parse_unsigned (p, end);
          break;
        case STAT_STIME:
          out->stime = parse_unsigned (p, end);
          break;
        case STAT_NICE:
          out->nice = (long) parse_signed (p, end);
          break;
        case STAT_NUM_THREADS:
          out->num_threads = (long) parse_signed (p, end);
          break;
        case STAT_STARTTIME:
          out->starttime = parse_unsigned (p, end);
          break;
        case STAT_RSS:
          out->rss_pages = parse_signed (p, end);
          break;
        case STAT_STARTCODE:
          out->startcode = parse_unsigned (p, end);
          break;
        case STAT_ENDCODE:
          out->endcode = parse_unsigned (p, end);
          break;
        default:
          break;
        }
    }

  return field == STAT_ENDCODE ? 0 : -EINVAL;
}

long
tether_procfs_page_size (void)
{
  return sysconf (_SC_PAGESIZE);
}

long
tether_procfs_clock_ticks (void)
{
  static long hz;

  if (hz == 0)
    {
      long v = sysconf (_SC_CLK_TCK);
      hz = v > 0 ? v : 100;
    }
  return hz;
}

long long
tether_procfs_boottime_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long
tether_procfs_start_usec (const TetherProcStat *st)
{
  return (long long) (st->starttime * 1000000ULL / (unsigned long long) tether_procfs_clock_ticks ());
}

int
tether_procfs_pread_stat (int             fd,
                          TetherProcStat *out)
{
  char buf[1024];
  ssize_t n;

  do
    n = pread (fd, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  buf[n] = '\0';
  return tether_procfs_parse_stat (buf, (size_t) n, out);
}

int
tether_procfs_read_stat (pid_t           pid,
                         TetherProcStat *out)
{
  char path[64];
  char buf[1024];
  ssize_t n;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  n = read_small_file (path, buf, sizeof buf);
  if (n < 0)
    return (int) n;
  return tether_procfs_parse_stat (buf, (size_t) n, out);
}

ssize_t
tether_procfs_read_cmdline (pid_t   pid,
                            char   *buf,
                            size_t  size)
{
  char path[64];
  ssize_t n;
  int fd;

  snprintf (path, sizeof path, "/proc/%d/cmdline", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  do
    n = read (fd, buf, size);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    n = -errno;
  close (fd);
  return n;
}

int
tether_procfs_read_pss (pid_t               pid,
                        unsigned long long *pss_bytes)
{
  char path[64];
  char buf[4096];
  const char *line;
  ssize_t n;

  snprintf (path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
  n = read_small_file (path, buf, sizeof buf);
  if (n < 0)
    return (int) n;
  for (line = buf; line != NULL && *line != '\0'; line = strchr (line, '\n'))
    {
      if (*line == '\n')
        line++;
      if (strncmp (line, "Pss:", 4) == 0)
        {
          *pss_bytes = strtoull (line + 4, NULL, 10) * 1024;
          return 0;
        }
    }
  return -ENODATA;
}

static struct rlimit original_nofile;
static int nofile_raised;

long
tether_procfs_raise_nofile_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return 1024;
  if (!nofile_raised)
    {
      struct rlimit raised = rl;

      original_nofile = rl;
      raised.rlim_cur = rl.rlim_max;
      if (raised.rlim_cur == RLIM_INFINITY || raised.rlim_cur > (1 << 20))
        raised.rlim_cur = 1 << 20;
      if (raised.rlim_cur > rl.rlim_cur && setrlimit (RLIMIT_NOFILE, &raised) == 0)
        {
          rl = raised;
          nofile_raised = 1;
        }
    }
  return rl.rlim_cur == RLIM_INFINITY ? (1 << 20) : (long) rl.rlim_cur;
}

void
tether_procfs_restore_nofile_limit (void)
{
  if (nofile_raised)
    setrlimit (RLIMIT_NOFILE, &original_nofile);
}

int
tether_procfs_is_descendant (pid_t pid,
                             pid_t ancestor)
{
  int depth;

  for (depth = 0; depth < 4096; depth++)
    {
      TetherProcStat st;
      int r = tether_procfs_read_stat (pid, &st);

      if (r < 0)
        return r == -ENOENT ? 0 : r;
      if (depth == 0 && (st.state == 'Z' || st.state == 'X'))
        return 0;
      if (st.ppid == ancestor)
        return 1;
      if (st.ppid <= 1)
        return 0;
      pid = st.ppid;
    }

  return 0;
}

int
tether_procfs_read_pid_list (const char  *path,
                             pid_t      **out,
                             size_t      *n_out)
{
  FILE *f;
  pid_t *pids = NULL;
  size_t n = 0, cap = 0;
  long pid;

  *out = NULL;
  *n_out = 0;

  f = fopen (path, "re");
  if (f == NULL)
    return -errno;

  while (fscanf (f, "%ld", &pid) == 1)
    {
      if (n == cap)
        {
          pid_t *grown;
          cap = cap ? cap * 2 : 256;
          grown = realloc (pids, cap * sizeof *pids);
          if (grown == NULL)
            {
              free (pids);
              fclose (f);
              return -ENOMEM;
            }
          pids = grown;
        }
      pids[n++] = (pid_t) pid;
    }

  fclose (f);
  *out = pids;
  *n_out = n;
  return 0;
}

int
tether_pidfd_open (pid_t pid)
{
  int fd = (int) syscall (SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : fd;
}

int
tether_pidfd_send_signal (int pidfd,
                          int sig)
{
  if (syscall (SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
    return -errno;
  return 0;
}

int
tether_write_all (int         fd,
                  const void *data,
                  size_t      len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      if (n == 0)
        return -EIO;
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
tether_procfs_write_file (const char *path,
                          const char *text)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  size_t len = strlen (text);
  ssize_t n;
  int ret = 0;

  if (fd < 0)
    return -errno;
  do
    n = write (fd, text, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    ret = -errno;
  else if ((size_t) n != len)
    ret = -EIO;
  close (fd);
  return ret;
}
