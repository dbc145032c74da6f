/* tether-procfs-win32.c: tether-procfs.h's process information on Windows
 *
 * The sampler reads every member through tether_procfs_read_stat; on
 * Windows that is Win32 instead of /proc, filling the same TetherProcStat:
 *
 *   utime, stime   GetProcessTimes (kernel and user time), in the 100 Hz
 *                  clock ticks tether_procfs_clock_ticks says
 *   starttime      the creation time, in those ticks since the Unix epoch
 *                  ("boot" is the epoch here: tether_procfs_boottime_usec
 *                  is the wall clock), so the sampler's start times and
 *                  ages come out as on Linux, and a reused pid is told
 *                  apart by it as on Linux
 *   rss_pages      GetProcessMemoryInfo's WorkingSetSize, in 4 KiB pages
 *   startcode      1: there is no exec, the program never changes
 *   ppid, threads, comm   a Toolhelp snapshot (taken at most every 100 ms
 *                  and shared by the reads of one tick)
 *   state          'R' while the process runs; an exited one is -ESRCH
 *
 * The tree's CPU is the sum over live members, as without a cgroup on
 * Linux (tether-job.exe does not report the job's accounting). Under wine
 * 8 the working set is the Linux process's RSS (checked against VmRSS),
 * but GetProcessTimes of another process answers the caller's own times
 * (every member reads the same), so CPU figures under wine are not the
 * members': only a real Windows machine shows them.
 *   cmdline        NtQueryInformationProcess's ProcessCommandLineInformation
 *                  (Windows 8.1 and later), else the process's parameters
 *                  read through its PEB (wine 8 has only that way), split
 *                  into arguments by CommandLineToArgvW, the rules
 *                  programs themselves use
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-procfs.h"

#include <windows.h>
#include <psapi.h>
#include <shellapi.h>
#include <tlhelp32.h>
#include <winternl.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK_TICKS 100
#define PAGE_BYTES 4096
/* 100 ns units between 1601-01-01 and 1970-01-01. */
#define EPOCH_DIFFERENCE 116444736000000000ULL
#define SNAPSHOT_MAX_AGE_MS 100
/* PROCESSINFOCLASS's ProcessCommandLineInformation, which mingw-w64's
 * winternl.h does not name. */
#define PROCESS_COMMAND_LINE_INFORMATION 60
/* A command line is at most 32767 UTF-16 units. */
#define COMMAND_LINE_MAX_CHARS 32768
#define COMMAND_LINE_MAX_BYTES (sizeof (UNICODE_STRING) + COMMAND_LINE_MAX_CHARS * sizeof (WCHAR))

typedef struct
{
  DWORD pid;
  DWORD ppid;
  DWORD threads;
  char name[64];
} SnapshotEntry;

static SRWLOCK snapshot_lock = SRWLOCK_INIT;
static SnapshotEntry *snapshot;
static size_t snapshot_len;
static ULONGLONG snapshot_time;

static unsigned long long
filetime_to_100ns (const FILETIME *ft)
{
  return ((unsigned long long) ft->dwHighDateTime << 32) | ft->dwLowDateTime;
}

/* A fresh enough list of every process: parent, threads, name. */
static void
refresh_snapshot_locked (void)
{
  HANDLE h = CreateToolhelp32Snapshot (TH32CS_SNAPPROCESS, 0);
  PROCESSENTRY32W entry = { .dwSize = sizeof entry };
  size_t cap = 256, len = 0;
  SnapshotEntry *list;

  if (h == INVALID_HANDLE_VALUE)
    return;
  list = malloc (cap * sizeof *list);
  if (list != NULL && Process32FirstW (h, &entry))
    {
      do
        {
          if (len == cap)
            {
              SnapshotEntry *bigger = realloc (list, 2 * cap * sizeof *list);
              if (bigger == NULL)
                break;
              list = bigger;
              cap *= 2;
            }
          list[len].pid = entry.th32ProcessID;
          list[len].ppid = entry.th32ParentProcessID;
          list[len].threads = entry.cntThreads;
          if (WideCharToMultiByte (CP_UTF8, 0, entry.szExeFile, -1, list[len].name,
                                   sizeof list[len].name, NULL, NULL) == 0)
            list[len].name[0] = '\0';
          len++;
        }
      while (Process32NextW (h, &entry));
    }
  CloseHandle (h);
  if (list == NULL)
    return;
  free (snapshot);
  snapshot = list;
  snapshot_len = len;
  snapshot_time = GetTickCount64 ();
}

static int
lookup_snapshot (DWORD          pid,
                 SnapshotEntry *out)
{
  int found = 0;

  AcquireSRWLockExclusive (&snapshot_lock);
  for (int attempt = 0; attempt < 2 && !found; attempt++)
    {
      /* A process younger than the snapshot is not in it: look again. */
      if (snapshot == NULL || attempt == 1 || GetTickCount64 () - snapshot_time > SNAPSHOT_MAX_AGE_MS)
        refresh_snapshot_locked ();
      for (size_t i = 0; i < snapshot_len; i++)
        if (snapshot[i].pid == pid)
          {
            *out = snapshot[i];
            found = 1;
            break;
          }
    }
  ReleaseSRWLockExclusive (&snapshot_lock);
  return found;
}

int
tether_procfs_read_stat (pid_t           pid,
                         TetherProcStat *out)
{
  HANDLE process;
  FILETIME created, exited, kernel, user;
  PROCESS_MEMORY_COUNTERS counters = { .cb = sizeof counters };
  DWORD code = 0;
  SnapshotEntry entry = { 0 };
  unsigned long long created_100ns;

  if (pid <= 0)
    return -ESRCH;
  process = OpenProcess (PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD) pid);
  if (process == NULL)
    return GetLastError () == ERROR_ACCESS_DENIED ? -EACCES : -ESRCH;
  if (!GetExitCodeProcess (process, &code) || code != STILL_ACTIVE ||
      !GetProcessTimes (process, &created, &exited, &kernel, &user))
    {
      CloseHandle (process);
      return -ESRCH;
    }
  if (!GetProcessMemoryInfo (process, &counters, sizeof counters))
    counters.WorkingSetSize = 0;
  CloseHandle (process);

  memset (out, 0, sizeof *out);
  out->pid = pid;
  out->state = 'R';
  out->utime = filetime_to_100ns (&user) / (10000000ULL / CLOCK_TICKS);
  out->stime = filetime_to_100ns (&kernel) / (10000000ULL / CLOCK_TICKS);
  created_100ns = filetime_to_100ns (&created);
  out->starttime = created_100ns > EPOCH_DIFFERENCE
    ? (created_100ns - EPOCH_DIFFERENCE) / (10000000ULL / CLOCK_TICKS) : 0;
  out->rss_pages = (long long) (counters.WorkingSetSize / PAGE_BYTES);
  /* Windows has no exec: a process's program and command line are those
   * it was created with. A constant text segment says so, and keeps the
   * sampler from reading a young process's command line on every tick, as
   * it must where Linux hides the segment (startcode 0). */
  out->startcode = 1;
  if (lookup_snapshot ((DWORD) pid, &entry))
    {
      out->ppid = (pid_t) entry.ppid;
      out->num_threads = (long) entry.threads;
      memcpy (out->comm, entry.name, sizeof out->comm);
      out->comm[sizeof out->comm - 1] = '\0';
    }
  else
    out->num_threads = 1;
  return 0;
}

/* ProcessCommandLineInformation: Windows 8.1 and later, and only the
 * right to query limited information. Wine 8 answers "invalid class". */
static WCHAR *
command_line_from_query (HANDLE process)
{
  UNICODE_STRING *line = malloc (COMMAND_LINE_MAX_BYTES);
  WCHAR *text = NULL;
  ULONG needed = 0;

  if (line == NULL)
    return NULL;
  if (NT_SUCCESS (NtQueryInformationProcess (process, (PROCESSINFOCLASS) PROCESS_COMMAND_LINE_INFORMATION,
                                             line, COMMAND_LINE_MAX_BYTES, &needed)) &&
      line->Length / sizeof (WCHAR) < COMMAND_LINE_MAX_CHARS)
    {
      text = calloc (line->Length / sizeof (WCHAR) + 1, sizeof (WCHAR));
      if (text != NULL)
        memcpy (text, line->Buffer, line->Length);
    }
  free (line);
  return text;
}

/* Older Windows and wine: from the process's own parameters, through its
 * PEB (the right to read its memory is needed). */
static WCHAR *
command_line_from_peb (HANDLE process)
{
  PROCESS_BASIC_INFORMATION basic;
  PEB peb;
  RTL_USER_PROCESS_PARAMETERS parameters;
  ULONG needed = 0;
  SIZE_T got = 0;
  WCHAR *text;

  if (!NT_SUCCESS (NtQueryInformationProcess (process, ProcessBasicInformation,
                                              &basic, sizeof basic, &needed)) ||
      !ReadProcessMemory (process, basic.PebBaseAddress, &peb, sizeof peb, &got) ||
      !ReadProcessMemory (process, peb.ProcessParameters, &parameters, sizeof parameters, &got) ||
      parameters.CommandLine.Length / sizeof (WCHAR) >= COMMAND_LINE_MAX_CHARS)
    return NULL;
  text = calloc (parameters.CommandLine.Length / sizeof (WCHAR) + 1, sizeof (WCHAR));
  if (text != NULL &&
      !ReadProcessMemory (process, parameters.CommandLine.Buffer, text,
                          parameters.CommandLine.Length, &got))
    {
      free (text);
      text = NULL;
    }
  return text;
}

ssize_t
tether_procfs_read_cmdline (pid_t   pid,
                            char   *buf,
                            size_t  size)
{
  HANDLE process;
  WCHAR *text;
  WCHAR **argv;
  int argc = 0;
  size_t len = 0;

  if (pid <= 0)
    return -ESRCH;
  process = OpenProcess (PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD) pid);
  if (process == NULL)
    return GetLastError () == ERROR_ACCESS_DENIED ? -EACCES : -ESRCH;
  text = command_line_from_query (process);
  CloseHandle (process);
  if (text == NULL)
    {
      process = OpenProcess (PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, FALSE, (DWORD) pid);
      if (process == NULL)
        return GetLastError () == ERROR_ACCESS_DENIED ? -EACCES : -ESRCH;
      text = command_line_from_peb (process);
      CloseHandle (process);
      if (text == NULL)
        return -EACCES;
    }
  if (text[0] == L'\0')
    {
      free (text);
      return 0;
    }
  argv = CommandLineToArgvW (text, &argc);
  free (text);
  if (argv == NULL)
    return -EINVAL;
  for (int i = 0; i < argc && len < size; i++)
    {
      int n = WideCharToMultiByte (CP_UTF8, 0, argv[i], -1, buf + len, (int) (size - len), NULL, NULL);

      /* An argument that does not fit is left out: the arguments before
       * it are a cut command line, as /proc/PID/cmdline gives one. */
      if (n == 0)
        break;
      len += (size_t) n;
    }
  LocalFree (argv);
  return (ssize_t) len;
}

int
tether_procfs_parse_stat (const char     *buf,
                          size_t          len,
                          TetherProcStat *out)
{
  return -ENOSYS;
}

long
tether_procfs_clock_ticks (void)
{
  return CLOCK_TICKS;
}

long
tether_procfs_page_size (void)
{
  return PAGE_BYTES;
}

/* The wall clock, µs since the Unix epoch: start times count from there. */
long long
tether_procfs_boottime_usec (void)
{
  FILETIME now;

  GetSystemTimeAsFileTime (&now);
  return (long long) ((filetime_to_100ns (&now) - EPOCH_DIFFERENCE) / 10);
}

long long
tether_procfs_start_usec (const TetherProcStat *st)
{
  return (long long) (st->starttime * (1000000ULL / CLOCK_TICKS));
}

/* No /proc files to keep open: the sampler reads by pid (and checks the
 * start time, which tells a reused pid apart). */
int
tether_procfs_pread_stat (int             fd,
                          TetherProcStat *out)
{
  return -EBADF;
}

int
tether_procfs_read_pss (pid_t               pid,
                        unsigned long long *pss_bytes)
{
  return -ENOSYS;
}

long
tether_procfs_raise_nofile_limit (void)
{
  return 0;
}

void
tether_procfs_restore_nofile_limit (void)
{
}
