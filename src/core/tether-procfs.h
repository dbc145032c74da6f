/* tether-procfs.h: small /proc and pidfd helpers shared by the core and tether-shim
 *
 * Plain C, no GLib: tether-shim links this file too and must stay tiny.
 * On Windows, tether-procfs-win32.c answers the process-information part
 * (read_stat, the clocks, the page size) from Win32.
 * Every function returns 0 (or a count) on success and -errno on failure.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct
{
  pid_t pid;
  pid_t ppid;
  char state;                   /* R, S, D, T, t, Z, X, I ... */
  char comm[64];                /* the kernel's name, at most 15 bytes for tasks */
  unsigned long long utime;     /* clock ticks in user mode */
  unsigned long long stime;     /* clock ticks in kernel mode */
  long nice;                    /* -20 (favoured) to 19 */
  long num_threads;
  unsigned long long starttime; /* clock ticks after boot */
  long long rss_pages;          /* resident set, in pages */
  unsigned long long startcode; /* text segment: changes on exec; 0 when */
  unsigned long long endcode;   /* the reader may not ptrace the process */
} TetherProcStat;

/* Parses /proc/PID/stat (robust against ')' and spaces in comm) in one pass:
 * the sampler calls it for every process on every tick. Reads the len bytes
 * of buf and nothing after them: buf need not be NUL-terminated. */
int  tether_procfs_read_stat        (pid_t                 pid,
                                     TetherProcStat       *out);
int  tether_procfs_parse_stat       (const char           *buf,
                                     size_t                len,
                                     TetherProcStat       *out);
/* Clock ticks per second of the CPU and start times in stat (_SC_CLK_TCK). */
long tether_procfs_clock_ticks      (void);
/* Bytes in a page, the unit of rss_pages (_SC_PAGESIZE). */
long tether_procfs_page_size        (void);
/* CLOCK_BOOTTIME now, µs: the clock stat's start times count on. */
long long tether_procfs_boottime_usec (void);
/* When the process started, µs after boot (10 ms resolution). */
long long tether_procfs_start_usec  (const TetherProcStat *st);

/* Reads stat from an fd kept open on /proc/PID/stat. Once the process is
 * reaped this fails with -ESRCH, even if the pid has been reused since: the
 * fd is bound to the process, not to the number. */
int  tether_procfs_pread_stat       (int                   fd,
                                     TetherProcStat       *out);

/* Proportional set size in bytes from /proc/PID/smaps_rollup. Walks every
 * mapping of the process: milliseconds for big ones, so on demand only. */
int  tether_procfs_read_pss         (pid_t                 pid,
                                     unsigned long long   *pss_bytes);

/* The process's arguments, each ended by a NUL byte, as /proc/PID/cmdline
 * has them (on Windows: its command line split by Windows' own rules, in
 * UTF-8), cut at size bytes. Returns the length read (0 for a process
 * without arguments, such as a kernel thread) or -errno. */
ssize_t tether_procfs_read_cmdline  (pid_t                 pid,
                                     char                 *buf,
                                     size_t                size);

/* TRUE (1) when pid is a live descendant of ancestor, 0 when not, -errno. */
int  tether_procfs_is_descendant    (pid_t                 pid,
                                     pid_t                 ancestor);

/* The pids listed in a cgroup.procs file. *out is malloc'd; free it. */
int  tether_procfs_read_pid_list    (const char           *path,
                                     pid_t               **out,
                                     size_t               *n_out);

/* The sampler keeps one fd per process: raise the soft RLIMIT_NOFILE to
 * the hard limit (at most 1 << 20), once. Returns the soft limit now in
 * force. Children must not inherit the raised limit (programs using
 * select() break): restore_nofile_limit, async-signal-safe, puts back the
 * original in a forked child before exec. */
long tether_procfs_raise_nofile_limit   (void);
void tether_procfs_restore_nofile_limit (void);

int  tether_pidfd_open              (pid_t                 pid);
int  tether_pidfd_send_signal       (int                   pidfd,
                                     int                   sig);

/* All of data to fd, through short writes and EINTR; -EIO when a write
 * takes nothing. */
int  tether_write_all               (int                   fd,
                                     const void           *data,
                                     size_t                len);

/* Writes a short string to a (cgroupfs) file with open+write: cgroupfs
 * rejects the rename that "atomic" writers do. */
int  tether_procfs_write_file       (const char           *path,
                                     const char           *text);

#ifdef __cplusplus
}
#endif
