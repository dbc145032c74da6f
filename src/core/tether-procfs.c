/* tether-procfs.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

int
tether_procfs_parse_stat (const char     *buf,
                          size_t          len,
                          TetherProcStat *out)
{
  const char *p;
  const char *rparen = NULL;
  int field;

  /* comm may hold anything, ')' included: the real end is the last ')'. */
  for (p = buf; p < buf + len; p++)
    if (*p == ')')
      rparen = p;
  if (rparen == NULL || rparen + 4 > buf + len)
    return -EINVAL;

  out->pid = (pid_t) strtol (buf, NULL, 10);
  p = rparen + 2;
  out->state = *p;
  out->ppid = 0;
  out->starttime = 0;

  /* Field 3 is state; walk to field 4 (ppid) and 22 (starttime). */
  for (field = 3; field < 22 && p < buf + len; p++)
    {
      if (*p != ' ')
        continue;
      field++;
      if (field == 4)
        out->ppid = (pid_t) strtol (p + 1, NULL, 10);
      else if (field == 22)
        out->starttime = strtoull (p + 1, NULL, 10);
    }

  return field == 22 ? 0 : -EINVAL;
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

typedef struct
{
  pid_t pid;
  pid_t ppid;
} PidPair;

static int
compare_by_ppid (const void *a,
                 const void *b)
{
  const PidPair *pa = a, *pb = b;
  return (pa->ppid > pb->ppid) - (pa->ppid < pb->ppid);
}

int
tether_procfs_descendants (pid_t    ancestor,
                           pid_t  **out,
                           size_t  *n_out)
{
  DIR *dir;
  struct dirent *de;
  PidPair *pairs = NULL;
  size_t n_pairs = 0, cap = 0;
  pid_t *result = NULL;
  size_t n_result = 0, head = 0;
  int ret = 0;

  *out = NULL;
  *n_out = 0;

  dir = opendir ("/proc");
  if (dir == NULL)
    return -errno;

  while ((de = readdir (dir)) != NULL)
    {
      TetherProcStat st;
      char *end;
      long pid = strtol (de->d_name, &end, 10);

      if (*end != '\0' || pid <= 0)
        continue;
      if (tether_procfs_read_stat ((pid_t) pid, &st) < 0)
        continue; /* exited during the scan */
      if (st.state == 'Z' || st.state == 'X')
        continue;
      if (n_pairs == cap)
        {
          PidPair *grown;
          cap = cap ? cap * 2 : 512;
          grown = realloc (pairs, cap * sizeof *pairs);
          if (grown == NULL)
            {
              ret = -ENOMEM;
              goto out;
            }
          pairs = grown;
        }
      pairs[n_pairs].pid = st.pid;
      pairs[n_pairs].ppid = st.ppid;
      n_pairs++;
    }

  qsort (pairs, n_pairs, sizeof *pairs, compare_by_ppid);

  result = malloc ((n_pairs + 1) * sizeof *result);
  if (result == NULL)
    {
      ret = -ENOMEM;
      goto out;
    }

  /* Breadth-first from ancestor: children of p are a contiguous run. */
  {
    pid_t parent = ancestor;

    for (;;)
      {
        size_t lo = 0, hi = n_pairs;

        while (lo < hi)
          {
            size_t mid = (lo + hi) / 2;
            if (pairs[mid].ppid < parent)
              lo = mid + 1;
            else
              hi = mid;
          }
        for (; lo < n_pairs && pairs[lo].ppid == parent; lo++)
          result[n_result++] = pairs[lo].pid;

        if (head == n_result)
          break;
        parent = result[head++];
      }
  }

  *out = result;
  *n_out = n_result;
  result = NULL;

out:
  free (result);
  free (pairs);
  closedir (dir);
  return ret;
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
tether_procfs_in_cgroup (pid_t       pid,
                         const char *cgroup_rel)
{
  char path[64];
  char buf[4096];
  ssize_t n;
  const char *line;
  size_t rel_len = strlen (cgroup_rel);

  snprintf (path, sizeof path, "/proc/%d/cgroup", (int) pid);
  n = read_small_file (path, buf, sizeof buf);
  if (n < 0)
    return n == -ENOENT || n == -ESRCH ? 0 : (int) n;

  for (line = buf; line && *line; line = strchr (line, '\n'), line = line ? line + 1 : NULL)
    {
      const char *cg;

      if (strncmp (line, "0::", 3) != 0)
        continue;
      cg = line + 3;
      if (strncmp (cg, cgroup_rel, rel_len) == 0 &&
          (cg[rel_len] == '\n' || cg[rel_len] == '\0' || cg[rel_len] == '/'))
        return 1;
      return 0;
    }

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
