/* tether-job.c: the Windows counterpart of tether-shim
 *
 * Holds the Job Object every process of a backend tree lives in, and answers
 * Tether's requests over stdin/stdout with the line protocol described in
 * src/win32/PROTOCOL.md (the framing of src/shim/PROTOCOL.md). The job is
 * created with KILL_ON_JOB_CLOSE and no breakaway, and its handle lives only
 * here: whatever way this process ends, the tree ends with it.
 *
 * Plain Win32 C, no GLib, so it needs no DLL beside it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602
#endif
#define WIN32_LEAN_AND_MEAN
#ifndef UNICODE
#define UNICODE
#endif
#ifndef _UNICODE
#define _UNICODE
#endif

#include <windows.h>
#include <tlhelp32.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TETHER_JOB_PROTOCOL_VERSION 2
/* The longest line Tether may send, its '\n' included. */
#define TETHER_JOB_MAX_LINE (1024 * 1024)
/* What kill, kill-subtree and signal 9 leave as exit code: the number a
 * POSIX shell shows for SIGKILL, so Tether's logs read alike on both. */
#define TETHER_JOB_KILLED_CODE 137
#define TETHER_JOB_SEND_CTRL_TIMEOUT_MS 5000
/* In --send-ctrl's exit code: AttachConsole failed (the rest is the Win32
 * error), so another process of that console may do. Bit 29 is the one
 * Windows leaves to applications. */
#define TETHER_JOB_ATTACH_FAILED 0x20000000u
/* CreateProcessW's limit on lpCommandLine, in UTF-16 units. */
#define TETHER_JOB_MAX_CMDLINE 32767

/* Linux errno numbers: the core maps both helpers' errors the same way. */
enum
{
  TETHER_ENOENT = 2,
  TETHER_ESRCH = 3,
  TETHER_EIO = 5,
  TETHER_E2BIG = 7,
  TETHER_ENOEXEC = 8,
  TETHER_ENOMEM = 12,
  TETHER_EACCES = 13,
  TETHER_EINVAL = 22,
  TETHER_ENOSYS = 38,
};

/* Posted to the completion port by the wait callbacks of tracked processes,
 * so that every event comes from one thread, in one order. Job messages are
 * small numbers; this is far from them. */
#define TETHER_JOB_MSG_TRACKED_EXIT 0x7e7e0001u
#define TETHER_JOB_PORT_KEY_JOB ((ULONG_PTR) 1)
#define TETHER_JOB_PORT_KEY_TRACKED ((ULONG_PTR) 2)

typedef struct
{
  char *data;
  size_t len;
  size_t cap;
  bool failed;
} TetherBuf;

/* A process whose exit Tether wants to hear about: what it spawned, and
 * what it asked to watch. The handle keeps the pid from being reused. */
typedef struct
{
  DWORD pid;
  HANDLE process;
  HANDLE wait;
  bool reported;
} TetherTracked;

/* A process spawn made: the leader of a console (and, without ctrl-c, of a
 * process group). The creation time tells it apart from a later process
 * that got its pid. */
typedef struct
{
  DWORD pid;
  ULONGLONG created;
  bool ctrl_c;
} TetherRoot;

/* One live member of the job, opened and checked to be in it. */
typedef struct
{
  DWORD pid;
  DWORD ppid;
  HANDLE process;
  ULONGLONG created;
  int parent;         /* index of its parent in the same view, or -1 */
} TetherMember;

typedef struct
{
  TetherMember *items;
  size_t n;
} TetherView;

static struct
{
  HANDLE job;
  HANDLE port;
  HANDLE in;
  HANDLE out;
  HANDLE err;
  DWORD self_pid;
  WCHAR self_path[MAX_PATH + 1];
  /* out_lock makes each line one write, and keeps a reply ahead of the
   * events about what it started. table_lock guards tracked and roots;
   * never take out_lock while holding it. */
  CRITICAL_SECTION out_lock;
  CRITICAL_SECTION table_lock;
  TetherTracked *tracked;
  size_t n_tracked;
  TetherRoot *roots;
  size_t n_roots;
  bool spawned_any;
} job;

static void tether_job_finish (void) __attribute__ ((noreturn));

/* ------------------------------------------------------------------ */
/* Output                                                              */

static void
tether_buf_reserve (TetherBuf *b,
                    size_t     more)
{
  char *data;
  size_t cap;

  if (b->failed || b->len + more + 1 <= b->cap)
    return;
  cap = b->cap ? b->cap : 128;
  while (cap < b->len + more + 1)
    cap *= 2;
  data = realloc (b->data, cap);
  if (data == NULL)
    {
      b->failed = true;
      return;
    }
  b->data = data;
  b->cap = cap;
}

static void
tether_buf_add (TetherBuf  *b,
                const char *s,
                size_t      len)
{
  tether_buf_reserve (b, len);
  if (b->failed)
    return;
  memcpy (b->data + b->len, s, len);
  b->len += len;
  b->data[b->len] = '\0';
}

static void
tether_buf_printf (TetherBuf  *b,
                   const char *format,
                   ...)
{
  char small[256];
  va_list ap;
  int n;

  va_start (ap, format);
  n = vsnprintf (small, sizeof small, format, ap);
  va_end (ap);
  if (n > 0)
    tether_buf_add (b, small, (size_t) n < sizeof small ? (size_t) n : sizeof small - 1);
}

static void
tether_buf_add_encoded (TetherBuf  *b,
                        const char *s)
{
  if (*s == '\0')
    {
      tether_buf_add (b, "%", 1);
      return;
    }
  for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++)
    {
      if (*p < 0x21 || *p == '%' || *p == 0x7f)
        tether_buf_printf (b, "%%%02X", *p);
      else
        tether_buf_add (b, (const char *) p, 1);
    }
}

/* Writes one whole line (the caller holds out_lock). A pipe Tether no
 * longer reads means Tether is gone: the tree goes with it. */
static void
tether_job_write_locked (const char *data,
                         size_t      len)
{
  while (len > 0)
    {
      DWORD written = 0;

      if (!WriteFile (job.out, data, (DWORD) len, &written, NULL) || written == 0)
        tether_job_finish ();
      data += written;
      len -= written;
    }
}

static void
tether_job_send (TetherBuf *b)
{
  if (b->failed)
    {
      /* Out of memory for a reply line: the framing must stay intact, and
       * a missing reply would stall Tether forever. Nothing sane is left. */
      tether_job_finish ();
    }
  tether_buf_add (b, "\n", 1);
  EnterCriticalSection (&job.out_lock);
  tether_job_write_locked (b->data, b->len);
  LeaveCriticalSection (&job.out_lock);
  free (b->data);
  memset (b, 0, sizeof *b);
}

static void
tether_job_send_error (unsigned long long id,
                       int                errnum,
                       const char        *text)
{
  TetherBuf b = { 0 };

  tether_buf_printf (&b, "%llu error %d ", id, errnum);
  tether_buf_add_encoded (&b, text);
  tether_job_send (&b);
}

static void
tether_job_send_win32_error (unsigned long long id,
                             const char        *call,
                             DWORD              error)
{
  char text[160];
  int errnum;

  switch (error)
    {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_DIRECTORY:
    case ERROR_INVALID_NAME:
      errnum = TETHER_ENOENT;
      break;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
      errnum = TETHER_EACCES;
      break;
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
    case ERROR_BAD_FORMAT:
      errnum = TETHER_ENOEXEC;
      break;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      errnum = TETHER_ENOMEM;
      break;
    case ERROR_FILENAME_EXCED_RANGE:
      errnum = TETHER_E2BIG;
      break;
    case ERROR_INVALID_PARAMETER:
      errnum = TETHER_EINVAL;
      break;
    default:
      errnum = TETHER_EIO;
      break;
    }
  snprintf (text, sizeof text, "%s: win32 error %lu", call, (unsigned long) error);
  tether_job_send_error (id, errnum, text);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

static bool
tether_parse_u64 (const char         *s,
                  unsigned long long  min,
                  unsigned long long  max,
                  unsigned long long *out)
{
  unsigned long long v = 0;

  if (*s == '\0')
    return false;
  for (; *s != '\0'; s++)
    {
      if (*s < '0' || *s > '9')
        return false;
      if (v > (ULLONG_MAX - 9) / 10)
        return false;
      v = v * 10 + (unsigned) (*s - '0');
    }
  if (v < min || v > max)
    return false;
  *out = v;
  return true;
}

static int
tether_hex (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes a field in place. A NUL byte cannot be part of a Windows string,
 * so a field carrying one is malformed, not truncated. */
static bool
tether_decode (char *field)
{
  char *o = field;

  if (strcmp (field, "%") == 0)
    {
      *field = '\0';
      return true;
    }
  for (char *p = field; *p != '\0'; p++)
    {
      if (*p == '%')
        {
          int hi = tether_hex (p[1]), lo = hi < 0 ? -1 : tether_hex (p[2]);

          if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return false;
          *o++ = (char) (hi * 16 + lo);
          p += 2;
        }
      else
        *o++ = *p;
    }
  *o = '\0';
  return true;
}

/* UTF-8 to a new UTF-16 string; NULL when the bytes are not UTF-8. */
static WCHAR *
tether_utf16 (const char *s)
{
  int n = MultiByteToWideChar (CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  WCHAR *w;

  if (n <= 0)
    return NULL;
  w = calloc ((size_t) n, sizeof (WCHAR));
  if (w != NULL && MultiByteToWideChar (CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n)
    {
      free (w);
      return NULL;
    }
  return w;
}

/* ------------------------------------------------------------------ */
/* Members                                                             */

static ULONGLONG
tether_process_created (HANDLE process)
{
  FILETIME created, exited, kernel, user;

  if (!GetProcessTimes (process, &created, &exited, &kernel, &user))
    return 0;
  return ((ULONGLONG) created.dwHighDateTime << 32) | created.dwLowDateTime;
}

static bool
tether_process_alive (HANDLE process)
{
  return WaitForSingleObject (process, 0) == WAIT_TIMEOUT;
}

static int
tether_compare_dword (const void *a,
                      const void *b)
{
  DWORD x = *(const DWORD *) a, y = *(const DWORD *) b;

  return x < y ? -1 : x > y;
}

/* The job's process ids, sorted. The list is a header followed by a
 * ULONG_PTR array declared with one element: reading ProcessIdList[i] for
 * i >= 1 is out of the declared bounds, and GCC at -O2 really does assume
 * it never happens. So the ids are copied out of a raw buffer instead. */
static bool
tether_job_list_ids (DWORD  **ids_out,
                     size_t  *n_out)
{
  size_t capacity = 64;

  for (int attempt = 0; attempt < 8; attempt++)
    {
      size_t size = offsetof (JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList) +
                    capacity * sizeof (ULONG_PTR);
      unsigned char *raw = calloc (1, size);
      JOBOBJECT_BASIC_PROCESS_ID_LIST header;
      DWORD *ids;
      BOOL ok;

      if (raw == NULL)
        return false;
      ok = QueryInformationJobObject (job.job, JobObjectBasicProcessIdList, raw, (DWORD) size, NULL);
      memcpy (&header, raw, offsetof (JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList));
      if ((!ok && GetLastError () == ERROR_MORE_DATA) ||
          (ok && header.NumberOfAssignedProcesses > header.NumberOfProcessIdsInList))
        {
          free (raw);
          capacity = (size_t) header.NumberOfAssignedProcesses + 16 > capacity * 2
                     ? (size_t) header.NumberOfAssignedProcesses + 16 : capacity * 2;
          continue;
        }
      if (!ok)
        {
          free (raw);
          return false;
        }
      ids = calloc ((size_t) header.NumberOfProcessIdsInList + 1, sizeof (DWORD));
      if (ids == NULL)
        {
          free (raw);
          return false;
        }
      for (DWORD i = 0; i < header.NumberOfProcessIdsInList; i++)
        {
          ULONG_PTR id;

          memcpy (&id, raw + offsetof (JOBOBJECT_BASIC_PROCESS_ID_LIST, ProcessIdList) +
                       i * sizeof (ULONG_PTR), sizeof id);
          ids[i] = (DWORD) id;
        }
      free (raw);
      qsort (ids, header.NumberOfProcessIdsInList, sizeof (DWORD), tether_compare_dword);
      *ids_out = ids;
      *n_out = header.NumberOfProcessIdsInList;
      return true;
    }
  return false;
}

static void
tether_view_clear (TetherView *view)
{
  for (size_t i = 0; i < view->n; i++)
    CloseHandle (view->items[i].process);
  free (view->items);
  memset (view, 0, sizeof *view);
}

static int
tether_view_find (const TetherView *view,
                  DWORD             pid)
{
  for (size_t i = 0; i < view->n; i++)
    if (view->items[i].pid == pid)
      return (int) i;
  return -1;
}

/* Every live member, each opened and checked to be in the job through that
 * very handle: a pid reused between the listing and the open is left out,
 * and the handle then pins the pid for as long as the view lives. Parents
 * come from a Toolhelp snapshot and are only believed when the parent is a
 * member created no later than the child: Windows reuses pids and never
 * reparents, so a dead parent's pid may name anybody by now. */
static bool
tether_view_build (TetherView *view)
{
  DWORD *ids;
  size_t n_ids;
  HANDLE snapshot;

  memset (view, 0, sizeof *view);
  if (!tether_job_list_ids (&ids, &n_ids))
    return false;
  view->items = calloc (n_ids + 1, sizeof (TetherMember));
  if (view->items == NULL)
    {
      free (ids);
      return false;
    }
  for (size_t i = 0; i < n_ids; i++)
    {
      /* Wine's IsProcessInJob wants the full query right; Windows is
       * content with the limited one, which a few processes only grant. */
      HANDLE process = OpenProcess (PROCESS_QUERY_INFORMATION | PROCESS_QUERY_LIMITED_INFORMATION |
                                    PROCESS_TERMINATE | SYNCHRONIZE, FALSE, ids[i]);
      BOOL in_job = FALSE;
      TetherMember *m;

      if (process == NULL)
        process = OpenProcess (PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE | SYNCHRONIZE,
                               FALSE, ids[i]);
      if (process == NULL)
        continue;
      if (!IsProcessInJob (process, job.job, &in_job) || !in_job || !tether_process_alive (process))
        {
          CloseHandle (process);
          continue;
        }
      m = &view->items[view->n++];
      m->pid = ids[i];
      m->process = process;
      m->created = tether_process_created (process);
      m->parent = -1;
    }
  free (ids);

  snapshot = CreateToolhelp32Snapshot (TH32CS_SNAPPROCESS, 0);
  if (snapshot != INVALID_HANDLE_VALUE)
    {
      PROCESSENTRY32W entry = { .dwSize = sizeof entry };

      for (BOOL more = Process32FirstW (snapshot, &entry); more; more = Process32NextW (snapshot, &entry))
        {
          int i = tether_view_find (view, entry.th32ProcessID);

          if (i >= 0)
            view->items[i].ppid = entry.th32ParentProcessID;
        }
      CloseHandle (snapshot);
    }
  for (size_t i = 0; i < view->n; i++)
    {
      int p = tether_view_find (view, view->items[i].ppid);

      if (p >= 0 && (size_t) p != i && view->items[p].created <= view->items[i].created)
        view->items[i].parent = p;
    }
  return true;
}

static bool
tether_view_descends (const TetherView *view,
                      size_t            i,
                      size_t            ancestor)
{
  /* Bounded: a cycle of reused pids cannot keep this going. */
  for (size_t steps = 0; steps <= view->n; steps++)
    {
      if (i == ancestor)
        return true;
      if (view->items[i].parent < 0)
        return false;
      i = (size_t) view->items[i].parent;
    }
  return false;
}

/* ------------------------------------------------------------------ */
/* Tracking and events                                                 */

static void CALLBACK
tether_job_tracked_ended (void    *data,
                          BOOLEAN  timed_out)
{
  (void) timed_out;
  /* To the port thread, which owns the event order. */
  PostQueuedCompletionStatus (job.port, TETHER_JOB_MSG_TRACKED_EXIT, TETHER_JOB_PORT_KEY_TRACKED,
                              (LPOVERLAPPED) data);
}

/* Takes ownership of process. */
static bool
tether_job_track (DWORD  pid,
                  HANDLE process)
{
  TetherTracked *grown;
  TetherTracked *t;

  EnterCriticalSection (&job.table_lock);
  for (size_t i = 0; i < job.n_tracked; i++)
    if (job.tracked[i].pid == pid && !job.tracked[i].reported)
      {
        /* Watched twice, or a spawned child watched: one exit event. */
        LeaveCriticalSection (&job.table_lock);
        CloseHandle (process);
        return true;
      }
  grown = realloc (job.tracked, (job.n_tracked + 1) * sizeof *grown);
  if (grown == NULL)
    {
      LeaveCriticalSection (&job.table_lock);
      CloseHandle (process);
      return false;
    }
  job.tracked = grown;
  t = &job.tracked[job.n_tracked++];
  t->pid = pid;
  t->process = process;
  t->reported = false;
  t->wait = NULL;
  /* The pid, not the entry, travels: the table may move meanwhile. */
  if (!RegisterWaitForSingleObject (&t->wait, process, tether_job_tracked_ended,
                                    (void *) (ULONG_PTR) pid, INFINITE,
                                    WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD))
    t->wait = NULL;  /* the job's own exit messages still report it */
  LeaveCriticalSection (&job.table_lock);
  return true;
}

/* Reports every tracked process that has ended (with wait_ms, waits that
 * long for each: after ACTIVE_PROCESS_ZERO they are all ending). Only the
 * port thread calls this, so reports cannot cross. */
static void
tether_job_report_ended (DWORD wait_ms)
{
  for (;;)
    {
      DWORD pid = 0, code = 0;
      HANDLE wait = NULL, process = NULL;

      EnterCriticalSection (&job.table_lock);
      for (size_t i = 0; i < job.n_tracked; i++)
        {
          TetherTracked *t = &job.tracked[i];

          if (WaitForSingleObject (t->process, 0) != WAIT_OBJECT_0)
            continue;
          pid = t->pid;
          process = t->process;
          wait = t->wait;
          job.tracked[i] = job.tracked[--job.n_tracked];
          break;
        }
      LeaveCriticalSection (&job.table_lock);

      if (pid == 0 && wait_ms > 0)
        {
          /* Nothing has ended yet: give the slowest one the grace. */
          HANDLE pending = NULL;

          EnterCriticalSection (&job.table_lock);
          if (job.n_tracked > 0)
            DuplicateHandle (GetCurrentProcess (), job.tracked[0].process, GetCurrentProcess (),
                             &pending, SYNCHRONIZE, FALSE, 0);
          LeaveCriticalSection (&job.table_lock);
          if (pending == NULL)
            return;
          if (WaitForSingleObject (pending, wait_ms) != WAIT_OBJECT_0)
            {
              CloseHandle (pending);
              return;
            }
          CloseHandle (pending);
          continue;
        }
      if (pid == 0)
        return;

      /* Blocking, so the pool is done with the handle before it closes;
       * the callback only posts to the port, so it cannot wait on us. */
      if (wait != NULL)
        UnregisterWaitEx (wait, INVALID_HANDLE_VALUE);
      if (!GetExitCodeProcess (process, &code))
        code = (DWORD) -1;
      CloseHandle (process);
      {
        TetherBuf b = { 0 };

        tether_buf_printf (&b, "exit %lu %lu", (unsigned long) pid, (unsigned long) code);
        tether_job_send (&b);
      }
    }
}

/* From the id list, not JobObjectBasicAccountingInformation: wine always
 * answers ActiveProcesses = 0 there. */
static size_t
tether_job_active_count (void)
{
  DWORD *ids;
  size_t n;

  if (!tether_job_list_ids (&ids, &n))
    return 0;
  free (ids);
  return n;
}

static DWORD WINAPI
tether_job_port_thread (void *data)
{
  (void) data;

  for (;;)
    {
      DWORD message = 0;
      ULONG_PTR key = 0;
      LPOVERLAPPED overlapped = NULL;

      if (!GetQueuedCompletionStatus (job.port, &message, &key, &overlapped, INFINITE) && overlapped == NULL)
        continue;

      if (key == TETHER_JOB_PORT_KEY_TRACKED ||
          (key == TETHER_JOB_PORT_KEY_JOB &&
           (message == JOB_OBJECT_MSG_EXIT_PROCESS || message == JOB_OBJECT_MSG_ABNORMAL_EXIT_PROCESS)))
        tether_job_report_ended (0);
      else if (key == TETHER_JOB_PORT_KEY_JOB && message == JOB_OBJECT_MSG_ACTIVE_PROCESS_ZERO)
        {
          /* Every tracked exit before the empty tree, as on Linux. */
          tether_job_report_ended (1000);
          /* A zero queued before a later spawn is stale: that spawn's own
           * zero will come. */
          if (tether_job_active_count () == 0)
            {
              TetherBuf b = { 0 };

              tether_buf_add (&b, "empty", 5);
              tether_job_send (&b);
            }
        }
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* spawn                                                               */

static bool
tether_wcs_add (WCHAR  **s,
                size_t  *len,
                size_t  *cap,
                WCHAR    c)
{
  if (*len + 2 > *cap)
    {
      size_t grown = *cap ? *cap * 2 : 256;
      WCHAR *n = realloc (*s, grown * sizeof (WCHAR));

      if (n == NULL)
        return false;
      *s = n;
      *cap = grown;
    }
  (*s)[(*len)++] = c;
  (*s)[*len] = L'\0';
  return true;
}

/* Appends one argument quoted the way CommandLineToArgvW and the Microsoft
 * C runtime read it back: backslashes are literal except before a '"',
 * where 2n backslashes + '"' mean n backslashes and the quote ends, and
 * 2n+1 mean n backslashes and a literal '"'. */
static bool
tether_quote_arg (WCHAR      **s,
                  size_t      *len,
                  size_t      *cap,
                  const WCHAR *arg)
{
  bool quote = *arg == L'\0' || wcspbrk (arg, L" \t\n\v\"") != NULL;

  if (*len > 0 && !tether_wcs_add (s, len, cap, L' '))
    return false;
  if (!quote)
    {
      for (const WCHAR *p = arg; *p; p++)
        if (!tether_wcs_add (s, len, cap, *p))
          return false;
      return true;
    }
  if (!tether_wcs_add (s, len, cap, L'"'))
    return false;
  for (const WCHAR *p = arg;; p++)
    {
      size_t backslashes = 0;

      while (*p == L'\\')
        {
          backslashes++;
          p++;
        }
      if (*p == L'\0')
        {
          /* Before the closing quote: all doubled. */
          for (size_t i = 0; i < backslashes * 2; i++)
            if (!tether_wcs_add (s, len, cap, L'\\'))
              return false;
          break;
        }
      if (*p == L'"')
        {
          for (size_t i = 0; i < backslashes * 2 + 1; i++)
            if (!tether_wcs_add (s, len, cap, L'\\'))
              return false;
        }
      else
        {
          for (size_t i = 0; i < backslashes; i++)
            if (!tether_wcs_add (s, len, cap, L'\\'))
              return false;
        }
      if (!tether_wcs_add (s, len, cap, *p))
        return false;
    }
  return tether_wcs_add (s, len, cap, L'"');
}

/* Absolute, or rooted on the current drive (\\dir\\x.exe): either way not
 * relative to the child's directory. */
static bool
tether_is_absolute (const WCHAR *path)
{
  return (path[0] != L'\0' && path[1] == L':' && (path[2] == L'\\' || path[2] == L'/')) ||
         path[0] == L'\\' || path[0] == L'/';
}

/* The program to run: a bare name through the PATH Tether gave the child
 * (CreateProcessW would look in the helper's own directory and PATH), a
 * relative path from the child's directory rather than the helper's. */
static WCHAR *
tether_resolve_program (const WCHAR *program,
                        const WCHAR *cwd,
                        const WCHAR *env_path,
                        DWORD       *error)
{
  WCHAR *found;
  DWORD n;

  if (wcspbrk (program, L"\\/:") != NULL)
    {
      size_t size;

      if (tether_is_absolute (program) || cwd == NULL || *cwd == L'\0')
        {
          found = _wcsdup (program);
          *error = found ? 0 : ERROR_NOT_ENOUGH_MEMORY;
          return found;
        }
      size = wcslen (cwd) + wcslen (program) + 2;
      found = calloc (size, sizeof (WCHAR));
      if (found == NULL)
        {
          *error = ERROR_NOT_ENOUGH_MEMORY;
          return NULL;
        }
      wcscpy (found, cwd);
      if (found[wcslen (found) - 1] != L'\\' && found[wcslen (found) - 1] != L'/')
        wcscat (found, L"\\");
      wcscat (found, program);
      *error = 0;
      return found;
    }

  n = SearchPathW (env_path, program, L".exe", 0, NULL, NULL);
  if (n == 0)
    {
      *error = GetLastError () ? GetLastError () : ERROR_FILE_NOT_FOUND;
      return NULL;
    }
  found = calloc ((size_t) n + 1, sizeof (WCHAR));
  if (found == NULL)
    {
      *error = ERROR_NOT_ENOUGH_MEMORY;
      return NULL;
    }
  if (SearchPathW (env_path, program, L".exe", n + 1, found, NULL) == 0)
    {
      *error = GetLastError () ? GetLastError () : ERROR_FILE_NOT_FOUND;
      free (found);
      return NULL;
    }
  *error = 0;
  return found;
}

typedef struct
{
  char **argv;
  size_t argc;
  char **envv;
  size_t envc;
  char *cwd;
  bool ctrl_c;
  unsigned long long given[2];  /* stdout=, stderr=: a handle of ours, or 0 */
} TetherSpawnRequest;

/* FLAGS CWD ARGC ARG... ENVC ENV... (fields decoded in place). */
static const char *
tether_parse_spawn (char              **f,
                    size_t              n_f,
                    TetherSpawnRequest *req)
{
  unsigned long long argc, envc;
  size_t at;

  memset (req, 0, sizeof *req);
  if (n_f < 4)
    return "malformed spawn";
  if (strcmp (f[0], "-") != 0)
    {
      for (char *flag = f[0], *next; flag != NULL; flag = next)
        {
          next = strchr (flag, ',');
          if (next != NULL)
            *next++ = '\0';
          if (strcmp (flag, "ctrl-c") == 0)
            req->ctrl_c = true;
          else if (strncmp (flag, "stdout=", 7) == 0 || strncmp (flag, "stderr=", 7) == 0)
            {
              if (!tether_parse_u64 (flag + 7, 1, UINT32_MAX, &req->given[flag[3] == 'e']))
                return "malformed handle in spawn";
            }
          else
            return "unknown spawn flag";
        }
    }
  if (!tether_decode (f[1]))
    return "malformed field in spawn";
  req->cwd = f[1];
  if (!tether_parse_u64 (f[2], 1, n_f, &argc) || 3 + argc >= n_f)
    return "malformed spawn";
  req->argc = (size_t) argc;
  req->argv = &f[3];
  at = 3 + req->argc;
  if (!tether_parse_u64 (f[at], 0, n_f, &envc) || at + 1 + envc != n_f)
    return "malformed spawn";
  req->envc = (size_t) envc;
  req->envv = &f[at + 1];
  for (size_t i = 0; i < req->argc; i++)
    if (!tether_decode (req->argv[i]))
      return "malformed field in spawn";
  for (size_t i = 0; i < req->envc; i++)
    if (!tether_decode (req->envv[i]) || strchr (req->envv[i] + (req->envv[i][0] == '='), '=') == NULL)
      return "malformed field in spawn";
  return NULL;
}

/* A handle Tether put into this process (DuplicateHandle) for a child's
 * stdout or stderr: checked to be a file, pipe or console of its own and
 * not one of this helper's standard handles, then copied inheritable for
 * the child. NULL once the error was answered. */
static HANDLE
tether_job_take_given (unsigned long long  id,
                       const char         *which,
                       unsigned long long  value,
                       bool               *ours_to_close)
{
  HANDLE given = (HANDLE) (uintptr_t) value;
  HANDLE copy = NULL;
  char text[160];
  DWORD error;

  *ours_to_close = false;
  if (given == job.in || given == job.out || given == job.err)
    {
      snprintf (text, sizeof text, "%s handle %llu is one of the helper's own", which, value);
      tether_job_send_error (id, TETHER_EINVAL, text);
      return NULL;
    }
  /* Files, pipes and consoles only: never the job, a process or a thread
   * (a child holding the job could end it or leave it). */
  SetLastError (NO_ERROR);
  if (GetFileType (given) == FILE_TYPE_UNKNOWN && (error = GetLastError ()) != NO_ERROR)
    {
      snprintf (text, sizeof text, "%s handle %llu is not a file or pipe of the helper: win32 error %lu",
                which, value, (unsigned long) error);
      tether_job_send_error (id, TETHER_EINVAL, text);
      return NULL;
    }
  *ours_to_close = true;
  if (!DuplicateHandle (GetCurrentProcess (), given, GetCurrentProcess (), &copy, 0, TRUE,
                        DUPLICATE_SAME_ACCESS))
    {
      snprintf (text, sizeof text, "DuplicateHandle (%s)", which);
      tether_job_send_win32_error (id, text, GetLastError ());
      return NULL;
    }
  return copy;
}

static void
tether_job_spawn (unsigned long long id,
                  char             **f,
                  size_t             n_f)
{
  TetherSpawnRequest req;
  const char *problem;
  WCHAR *cmdline = NULL, *wcwd = NULL, *program = NULL, *env = NULL, *env_path = NULL, *warg0 = NULL;
  size_t cmd_len = 0, cmd_cap = 0, env_len = 0;
  HANDLE nul = INVALID_HANDLE_VALUE, output = NULL;
  HANDLE given_copy[2] = { NULL, NULL };
  bool close_given[2] = { false, false };
  LPPROC_THREAD_ATTRIBUTE_LIST attributes = NULL;
  SIZE_T attributes_size = 0;
  STARTUPINFOEXW si;
  PROCESS_INFORMATION pi = { 0 };
  SECURITY_ATTRIBUTES inheritable = { sizeof inheritable, NULL, TRUE };
  HANDLE inherit[4];
  DWORD n_inherit = 0, flags, error = 0;
  TetherBuf reply = { 0 };
  TetherRoot *roots;

  problem = tether_parse_spawn (f, n_f, &req);
  if (problem != NULL)
    {
      tether_job_send_error (id, TETHER_EINVAL, problem);
      return;
    }
  /* First, so that whatever else fails, what was given is closed. */
  for (int i = 0; i < 2; i++)
    if (req.given[i] != 0 &&
        (given_copy[i] = tether_job_take_given (id, i == 0 ? "stdout" : "stderr", req.given[i],
                                                &close_given[i])) == NULL)
      goto out;

  /* The environment block: exactly what Tether sent, UTF-16, each entry
   * NUL-terminated, the block ended by one more NUL. */
  for (size_t i = 0; i < req.envc; i++)
    {
      WCHAR *w = tether_utf16 (req.envv[i]);
      size_t wl;

      if (w == NULL)
        {
          tether_job_send_error (id, TETHER_EINVAL, "environment entry is not UTF-8");
          goto out;
        }
      wl = wcslen (w);
      if (_wcsnicmp (w, L"PATH=", 5) == 0 && env_path == NULL)
        env_path = _wcsdup (w + 5);
      {
        WCHAR *grown = realloc (env, (env_len + wl + 2) * sizeof (WCHAR));

        if (grown == NULL)
          {
            free (w);
            tether_job_send_error (id, TETHER_ENOMEM, "out of memory");
            goto out;
          }
        env = grown;
      }
      memcpy (env + env_len, w, (wl + 1) * sizeof (WCHAR));
      env_len += wl + 1;
      free (w);
    }
  {
    WCHAR *grown = realloc (env, (env_len + 2) * sizeof (WCHAR));

    if (grown == NULL)
      {
        tether_job_send_error (id, TETHER_ENOMEM, "out of memory");
        goto out;
      }
    env = grown;
    env[env_len] = L'\0';
    env[env_len + 1] = L'\0';  /* an empty block still needs two */
  }

  for (size_t i = 0; i < req.argc; i++)
    {
      WCHAR *w = tether_utf16 (req.argv[i]);
      bool ok;

      if (w == NULL)
        {
          tether_job_send_error (id, TETHER_EINVAL, "argument is not UTF-8");
          goto out;
        }
      ok = tether_quote_arg (&cmdline, &cmd_len, &cmd_cap, w);
      if (i == 0)
        warg0 = w;
      else
        free (w);
      if (!ok)
        {
          tether_job_send_error (id, TETHER_ENOMEM, "out of memory");
          goto out;
        }
    }
  if (cmd_len >= TETHER_JOB_MAX_CMDLINE)
    {
      tether_job_send_error (id, TETHER_E2BIG, "command line longer than Windows allows");
      goto out;
    }
  if (*warg0 == L'\0')
    {
      tether_job_send_error (id, TETHER_ENOENT, "empty program name");
      goto out;
    }

  if (req.cwd[0] != '\0')
    {
      DWORD attributes_of_cwd;

      wcwd = tether_utf16 (req.cwd);
      if (wcwd == NULL)
        {
          tether_job_send_error (id, TETHER_EINVAL, "directory is not UTF-8");
          goto out;
        }
      attributes_of_cwd = GetFileAttributesW (wcwd);
      if (attributes_of_cwd == INVALID_FILE_ATTRIBUTES || !(attributes_of_cwd & FILE_ATTRIBUTE_DIRECTORY))
        {
          tether_job_send_win32_error (id, "directory", attributes_of_cwd == INVALID_FILE_ATTRIBUTES
                                       ? GetLastError () : ERROR_DIRECTORY);
          goto out;
        }
    }

  program = tether_resolve_program (warg0, wcwd, env_path, &error);
  if (program == NULL)
    {
      tether_job_send_win32_error (id, "SearchPathW", error);
      goto out;
    }

  /* stdin NUL: the helper's stdin is the protocol. stdout and stderr the
   * handles Tether gave (stdout=, stderr=), else the helper's stderr. Only
   * these are inherited (the handle list), so no backend process ever
   * holds a protocol pipe. */
  nul = CreateFileW (L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                     &inheritable, OPEN_EXISTING, 0, NULL);
  if (nul == INVALID_HANDLE_VALUE)
    {
      tether_job_send_win32_error (id, "CreateFileW (NUL)", GetLastError ());
      goto out;
    }
  inherit[n_inherit++] = nul;
  for (int i = 0; i < 2; i++)
    if (given_copy[i] != NULL)
      inherit[n_inherit++] = given_copy[i];
  if ((req.given[0] == 0 || req.given[1] == 0) &&
      job.err != NULL && job.err != INVALID_HANDLE_VALUE &&
      DuplicateHandle (GetCurrentProcess (), job.err, GetCurrentProcess (), &output, 0, TRUE,
                       DUPLICATE_SAME_ACCESS))
    inherit[n_inherit++] = output;

  InitializeProcThreadAttributeList (NULL, 1, 0, &attributes_size);
  attributes = calloc (1, attributes_size);
  if (attributes == NULL ||
      !InitializeProcThreadAttributeList (attributes, 1, 0, &attributes_size) ||
      !UpdateProcThreadAttribute (attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit,
                                  n_inherit * sizeof (HANDLE), NULL, NULL))
    {
      tether_job_send_win32_error (id, "UpdateProcThreadAttribute", GetLastError ());
      free (attributes);
      attributes = NULL;
      goto out;
    }

  memset (&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES | STARTF_USESHOWWINDOW;
  si.StartupInfo.wShowWindow = SW_HIDE;
  si.StartupInfo.hStdInput = nul;
  si.StartupInfo.hStdOutput = given_copy[0] != NULL ? given_copy[0] : output != NULL ? output : nul;
  si.StartupInfo.hStdError = given_copy[1] != NULL ? given_copy[1] : output != NULL ? output : nul;
  si.lpAttributeList = attributes;

  /* Suspended, so it is in the job before its first instruction. A console
   * of its own so console control events can be aimed at its tree and
   * never at Tether's: CREATE_NO_WINDOW makes one with no window at all
   * (CREATE_NEW_CONSOLE + SW_HIDE would too, but under wine that console's
   * conhost starts an explorer.exe desktop in the job that never ends, so
   * the tree never empties). Its own process group for CTRL_BREAK, except
   * with ctrl-c, since a new group's leader starts with CTRL+C disabled. */
  flags = CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT;
  if (!req.ctrl_c)
    flags |= CREATE_NEW_PROCESS_GROUP;
  if (!CreateProcessW (program, cmdline, NULL, NULL, TRUE, flags, env, wcwd, &si.StartupInfo, &pi))
    {
      tether_job_send_win32_error (id, "CreateProcessW", GetLastError ());
      goto out;
    }
  if (!AssignProcessToJobObject (job.job, pi.hProcess))
    {
      error = GetLastError ();
      TerminateProcess (pi.hProcess, TETHER_JOB_KILLED_CODE);
      CloseHandle (pi.hThread);
      CloseHandle (pi.hProcess);
      tether_job_send_win32_error (id, "AssignProcessToJobObject", error);
      goto out;
    }

  EnterCriticalSection (&job.table_lock);
  roots = realloc (job.roots, (job.n_roots + 1) * sizeof *roots);
  if (roots != NULL)
    {
      job.roots = roots;
      job.roots[job.n_roots].pid = pi.dwProcessId;
      job.roots[job.n_roots].created = tether_process_created (pi.hProcess);
      job.roots[job.n_roots].ctrl_c = req.ctrl_c;
      job.n_roots++;
    }
  LeaveCriticalSection (&job.table_lock);
  if (roots == NULL)
    {
      TerminateProcess (pi.hProcess, TETHER_JOB_KILLED_CODE);
      CloseHandle (pi.hThread);
      CloseHandle (pi.hProcess);
      tether_job_send_error (id, TETHER_ENOMEM, "out of memory");
      goto out;
    }
  {
    HANDLE tracked_handle = NULL;

    DuplicateHandle (GetCurrentProcess (), pi.hProcess, GetCurrentProcess (), &tracked_handle, 0, FALSE,
                     DUPLICATE_SAME_ACCESS);
    if (tracked_handle == NULL || !tether_job_track (pi.dwProcessId, tracked_handle))
      {
        TerminateProcess (pi.hProcess, TETHER_JOB_KILLED_CODE);
        CloseHandle (pi.hThread);
        CloseHandle (pi.hProcess);
        tether_job_send_error (id, TETHER_ENOMEM, "cannot track the child");
        goto out;
      }
  }
  job.spawned_any = true;

  /* Resume and reply under the output lock: its exit, however quick,
   * comes after the reply that names it. */
  tether_buf_printf (&reply, "%llu ok %lu", id, (unsigned long) pi.dwProcessId);
  tether_buf_add (&reply, "\n", 1);
  EnterCriticalSection (&job.out_lock);
  ResumeThread (pi.hThread);
  if (!reply.failed)
    tether_job_write_locked (reply.data, reply.len);
  LeaveCriticalSection (&job.out_lock);
  free (reply.data);
  CloseHandle (pi.hThread);
  CloseHandle (pi.hProcess);

out:
  if (attributes != NULL)
    {
      DeleteProcThreadAttributeList (attributes);
      free (attributes);
    }
  if (nul != INVALID_HANDLE_VALUE)
    CloseHandle (nul);
  if (output != NULL)
    CloseHandle (output);
  for (int i = 0; i < 2; i++)
    {
      if (given_copy[i] != NULL)
        CloseHandle (given_copy[i]);
      /* Tether's copies are the helper's to close, once answered. */
      if (close_given[i] && (i == 0 || req.given[1] != req.given[0]))
        CloseHandle ((HANDLE) (uintptr_t) req.given[i]);
    }
  free (cmdline);
  free (wcwd);
  free (program);
  free (env);
  free (env_path);
  free (warg0);
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */

/* The spawn a member comes from: up its parents to a root, else (an
 * orphan whose launcher is gone) the latest spawn. */
static const TetherRoot *
tether_job_root_of (const TetherView *view,
                    size_t            i)
{
  for (size_t steps = 0; steps <= view->n; steps++)
    {
      const TetherMember *m = &view->items[i];

      for (size_t r = 0; r < job.n_roots; r++)
        if (job.roots[r].pid == m->pid && job.roots[r].created == m->created)
          return &job.roots[r];
      if (m->parent < 0)
        break;
      i = (size_t) m->parent;
    }
  return job.n_roots > 0 ? &job.roots[job.n_roots - 1] : NULL;
}

/* Raises a console control event on PID's console, from a copy of this
 * program: raising one needs a process attached to that console, and it
 * hits the raiser too. Returns 0 or a Win32 error. */
static DWORD
tether_job_send_ctrl (DWORD pid,
                      DWORD event,
                      DWORD group)
{
  WCHAR cmdline[MAX_PATH + 96];
  STARTUPINFOW si = { .cb = sizeof si };
  PROCESS_INFORMATION pi;
  DWORD code = ERROR_TIMEOUT;

  _snwprintf (cmdline, sizeof cmdline / sizeof cmdline[0], L"\"%ls\" --send-ctrl %lu %lu %lu",
              job.self_path, (unsigned long) pid, (unsigned long) event, (unsigned long) group);
  cmdline[sizeof cmdline / sizeof cmdline[0] - 1] = L'\0';
  /* No console (it attaches to the target's), and no group of its own:
   * wine delivers a CTRL_C for "group 0" only to the sender's group, which
   * is then the ctrl-c spawns' group, this helper's. */
  if (!CreateProcessW (job.self_path, cmdline, NULL, NULL, FALSE, DETACHED_PROCESS,
                       NULL, NULL, &si, &pi))
    return GetLastError ();
  if (WaitForSingleObject (pi.hProcess, TETHER_JOB_SEND_CTRL_TIMEOUT_MS) == WAIT_OBJECT_0)
    GetExitCodeProcess (pi.hProcess, &code);
  else
    TerminateProcess (pi.hProcess, 1);
  CloseHandle (pi.hThread);
  CloseHandle (pi.hProcess);
  return code;
}

/* Signals the view's members for which selected[i]; returns how many it
 * reached, or -1 with *error set (a Win32 error, with
 * TETHER_JOB_ATTACH_FAILED when no process of the console could be
 * attached to) when an event could not be delivered. */
static long
tether_job_signal_selected (const TetherView *view,
                            const bool       *selected,
                            int               sig,
                            DWORD            *error)
{
  long reached = 0;
  bool *done;

  *error = 0;
  if (sig == 0)
    {
      for (size_t i = 0; i < view->n; i++)
        reached += selected[i];
      return reached;
    }
  if (sig == 9)
    {
      for (size_t i = 0; i < view->n; i++)
        if (selected[i] && TerminateProcess (view->items[i].process, TETHER_JOB_KILLED_CODE))
          reached++;
      return reached;
    }

  /* 2 and 15: one event per spawn the targets come from, raised on that
   * spawn's console. roots is only ever touched on this thread. */
  done = calloc (view->n + 1, sizeof (bool));
  if (done == NULL)
    {
      *error = ERROR_NOT_ENOUGH_MEMORY;
      return -1;
    }
  for (size_t i = 0; i < view->n; i++)
    {
      const TetherRoot *root;
      DWORD root_pid, event, group, sent = ERROR_INVALID_HANDLE;
      long count = 0;
      int attempts = 0;

      if (!selected[i] || done[i])
        continue;
      root = tether_job_root_of (view, i);
      root_pid = root != NULL ? root->pid : view->items[i].pid;
      event = (sig == 2 || (root != NULL && root->ctrl_c)) ? CTRL_C_EVENT : CTRL_BREAK_EVENT;
      /* CTRL_C cannot be aimed at a group: it goes to the whole console. */
      group = event == CTRL_C_EVENT ? 0 : root_pid;
      for (size_t j = i; j < view->n; j++)
        if (selected[j] && !done[j] && tether_job_root_of (view, j) == root)
          {
            done[j] = true;
            count++;
          }

      /* Any process of that console will do to attach to, but not every
       * member is on it: the console's own conhost.exe is not a client
       * (and Windows hands out pids in no order, so it may come first).
       * The spawned process first, then the others of its tree. */
      for (int pass = 0; pass < 2 && sent != 0 && attempts < 8; pass++)
        for (size_t j = 0; j < view->n && sent != 0 && attempts < 8; j++)
          {
            bool is_root = view->items[j].pid == root_pid;

            if ((pass == 0) != is_root || tether_job_root_of (view, j) != root)
              continue;
            attempts++;
            sent = tether_job_send_ctrl (view->items[j].pid, event, group);
            if (sent != 0 && !(sent & TETHER_JOB_ATTACH_FAILED))
              break;
          }
      if (sent != 0)
        {
          *error = sent;
          free (done);
          return -1;
        }
      reached += count;
    }
  free (done);
  return reached;
}

static bool
tether_parse_signal (const char *field,
                     int        *sig)
{
  unsigned long long v;

  if (!tether_parse_u64 (field, 0, 64, &v))
    return false;
  if (v != 0 && v != 2 && v != 9 && v != 15)
    return false;
  *sig = (int) v;
  return true;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

static void
tether_job_send_pid_list (unsigned long long  id,
                          const TetherView   *view,
                          const bool         *selected)
{
  TetherBuf b = { 0 };
  size_t n = 0;

  for (size_t i = 0; i < view->n; i++)
    n += selected == NULL || selected[i];
  tether_buf_printf (&b, "%llu ok %zu", id, n);
  for (size_t i = 0; i < view->n; i++)
    if (selected == NULL || selected[i])
      tether_buf_printf (&b, " %lu", (unsigned long) view->items[i].pid);
  tether_job_send (&b);
}

static void
tether_job_handle_line (char *line)
{
  char **f = NULL;
  size_t n_f = 0, cap = 0;
  unsigned long long id = 0, a = 0;
  const char *verb;
  TetherView view = { 0 };
  bool *selected = NULL;
  int sig = 0;

  for (char *p = line, *next; p != NULL; p = next)
    {
      next = strchr (p, ' ');
      if (next != NULL)
        *next++ = '\0';
      if (n_f == cap)
        {
          size_t grown_cap = cap ? cap * 2 : 16;
          char **grown = realloc (f, grown_cap * sizeof *grown);

          if (grown == NULL)
            {
              free (f);
              tether_job_send_error (0, TETHER_ENOMEM, "out of memory");
              return;
            }
          f = grown;
          cap = grown_cap;
        }
      f[n_f++] = p;
    }

  if (n_f < 2 || !tether_parse_u64 (f[0], 1, ULLONG_MAX, &id))
    {
      tether_job_send_error (0, TETHER_EINVAL, "unknown or malformed command");
      free (f);
      return;
    }
  verb = f[1];

  if (strcmp (verb, "spawn") == 0)
    {
      tether_job_spawn (id, f + 2, n_f - 2);
      free (f);
      return;
    }

  if (strcmp (verb, "freeze") == 0 || strcmp (verb, "thaw") == 0 || strcmp (verb, "freeze-except") == 0)
    {
      tether_job_send_error (id, TETHER_ENOSYS, "not implemented on Windows: no stop step, the ladder goes "
                                                "from the graceful signal to kill");
      free (f);
      return;
    }

  if (strcmp (verb, "kill") == 0 && n_f == 2)
    {
      DWORD *ids = NULL;
      size_t n = 0;
      TetherBuf b = { 0 };

      /* Every member in one call the kernel makes atomic for the job:
       * nothing can start in between and survive. No view first: nothing
       * is chosen, and every millisecond before the call is one more for a
       * stop that was asked to be immediate. */
      if (!tether_job_list_ids (&ids, &n))
        n = 0;
      free (ids);
      if (!TerminateJobObject (job.job, TETHER_JOB_KILLED_CODE))
        {
          tether_job_send_win32_error (id, "TerminateJobObject", GetLastError ());
          free (f);
          return;
        }
      tether_buf_printf (&b, "%llu ok %zu %zu", id, n, n);
      tether_job_send (&b);
      free (f);
      return;
    }

  if (!((strcmp (verb, "members") == 0 && n_f == 2) ||
        (strcmp (verb, "top-level") == 0 && n_f == 2) ||
        (strcmp (verb, "watch") == 0 && n_f == 3 && tether_parse_u64 (f[2], 1, UINT32_MAX, &a)) ||
        (strcmp (verb, "signal") == 0 && n_f == 4 && tether_parse_u64 (f[2], 1, UINT32_MAX, &a) &&
         tether_parse_signal (f[3], &sig)) ||
        (strcmp (verb, "signal-all") == 0 && n_f == 3 && tether_parse_signal (f[2], &sig)) ||
        (strcmp (verb, "signal-subtree") == 0 && n_f == 4 && tether_parse_u64 (f[2], 1, UINT32_MAX, &a) &&
         tether_parse_signal (f[3], &sig)) ||
        (strcmp (verb, "kill-subtree") == 0 && n_f == 3 && tether_parse_u64 (f[2], 1, UINT32_MAX, &a))))
    {
      tether_job_send_error (id, TETHER_EINVAL, "unknown or malformed command");
      free (f);
      return;
    }

  if (!tether_view_build (&view))
    {
      tether_job_send_win32_error (id, "QueryInformationJobObject", GetLastError ());
      free (f);
      return;
    }
  selected = calloc (view.n + 1, sizeof (bool));
  if (selected == NULL)
    {
      tether_job_send_error (id, TETHER_ENOMEM, "out of memory");
      goto out;
    }

  if (strcmp (verb, "members") == 0)
    tether_job_send_pid_list (id, &view, NULL);
  else if (strcmp (verb, "top-level") == 0)
    {
      for (size_t i = 0; i < view.n; i++)
        selected[i] = view.items[i].parent < 0;
      tether_job_send_pid_list (id, &view, selected);
    }
  else
    {
      int target = tether_view_find (&view, (DWORD) a);
      long reached;
      DWORD error;
      TetherBuf b = { 0 };

      if (strcmp (verb, "signal-all") != 0 && target < 0)
        {
          tether_job_send_error (id, TETHER_ESRCH, "not a member of the tree");
          goto out;
        }
      if (strcmp (verb, "watch") == 0)
        {
          HANDLE process = NULL;

          if (!DuplicateHandle (GetCurrentProcess (), view.items[target].process, GetCurrentProcess (),
                                &process, 0, FALSE, DUPLICATE_SAME_ACCESS) ||
              !tether_job_track ((DWORD) a, process))
            {
              tether_job_send_error (id, TETHER_ENOMEM, "cannot track the process");
              goto out;
            }
          tether_buf_printf (&b, "%llu ok", id);
          tether_job_send (&b);
          /* If it ended meanwhile, its wait callback reports it. */
          goto out;
        }
      if (strcmp (verb, "signal-all") == 0)
        for (size_t i = 0; i < view.n; i++)
          selected[i] = true;
      else if (strcmp (verb, "signal") == 0)
        selected[target] = true;
      else
        {
          for (size_t i = 0; i < view.n; i++)
            selected[i] = tether_view_descends (&view, i, (size_t) target);
          if (strcmp (verb, "kill-subtree") == 0)
            sig = 9;
        }
      reached = tether_job_signal_selected (&view, selected, sig, &error);
      if (reached < 0)
        {
          if (error & TETHER_JOB_ATTACH_FAILED)
            tether_job_send_win32_error (id, "AttachConsole", error & ~TETHER_JOB_ATTACH_FAILED);
          else
            tether_job_send_win32_error (id, "GenerateConsoleCtrlEvent", error);
          goto out;
        }
      if (strcmp (verb, "signal") == 0)
        tether_buf_printf (&b, "%llu ok 1 %zu", id, view.n);
      else
        tether_buf_printf (&b, "%llu ok %ld %zu", id, reached, view.n);
      tether_job_send (&b);
    }

out:
  free (selected);
  tether_view_clear (&view);
  free (f);
}

/* Reads requests until end-of-file. A line over the limit is refused with
 * the id it started with and skipped up to its '\n'. */
static void
tether_job_read_requests (HANDLE in)
{
  char *line = malloc (TETHER_JOB_MAX_LINE + 1);
  char chunk[65536];
  size_t len = 0;
  bool overlong = false;

  if (line == NULL)
    return;
  for (;;)
    {
      DWORD got = 0;

      if (!ReadFile (in, chunk, sizeof chunk, &got, NULL) || got == 0)
        break;
      for (DWORD i = 0; i < got;)
        {
          char *nl = memchr (chunk + i, '\n', got - i);
          size_t take = nl != NULL ? (size_t) (nl - (chunk + i)) : got - i;

          if (!overlong)
            {
              if (len + take >= TETHER_JOB_MAX_LINE)
                {
                  /* Room for MAX_LINE - 1 bytes and the '\n'; this is more. */
                  unsigned long long id = 0;
                  size_t k = 0;

                  if (len < 24)
                    {
                      size_t more = take < 24 - len ? take : 24 - len;
                      memcpy (line + len, chunk + i, more);
                      len += more;
                    }
                  while (k < len && k < 19 && line[k] >= '0' && line[k] <= '9')
                    id = id * 10 + (unsigned) (line[k++] - '0');
                  tether_job_send_error (k > 0 && k < len && line[k] == ' ' ? id : 0, TETHER_EINVAL,
                                         "line too long");
                  overlong = true;
                  len = 0;
                }
              else
                {
                  memcpy (line + len, chunk + i, take);
                  len += take;
                }
            }
          i += (DWORD) take;
          if (nl == NULL)
            break;
          i++;  /* the '\n' */
          if (!overlong)
            {
              if (len > 0 && line[len - 1] == '\r')
                len--;
              line[len] = '\0';
              if (memchr (line, '\0', len) != NULL)
                tether_job_send_error (0, TETHER_EINVAL, "NUL byte in a request");
              else if (len > 0)
                tether_job_handle_line (line);
            }
          overlong = false;
          len = 0;
        }
    }
  free (line);
}

static void
tether_job_finish (void)
{
  /* Nothing outlives Tether: the whole tree, at once. Closing the handle
   * would do it too (KILL_ON_JOB_CLOSE); this does not wait for exit. */
  TerminateJobObject (job.job, TETHER_JOB_KILLED_CODE);
  ExitProcess (0);
}

/* ------------------------------------------------------------------ */
/* --send-ctrl                                                         */

static BOOL WINAPI
tether_job_ignore_ctrl (DWORD event)
{
  (void) event;
  return TRUE;
}

static int
tether_job_send_ctrl_main (int    argc,
                           char **argv)
{
  unsigned long long pid, event, group;

  if (argc != 5 || !tether_parse_u64 (argv[2], 1, UINT32_MAX, &pid) ||
      !tether_parse_u64 (argv[3], 0, 1, &event) || !tether_parse_u64 (argv[4], 0, UINT32_MAX, &group))
    return ERROR_INVALID_PARAMETER;
  FreeConsole ();
  if (!AttachConsole ((DWORD) pid))
    return (int) (TETHER_JOB_ATTACH_FAILED | GetLastError ());
  /* The event reaches every process of the console or group, this one
   * included: it must not end the sender before the call returns. */
  SetConsoleCtrlHandler (NULL, TRUE);
  SetConsoleCtrlHandler (tether_job_ignore_ctrl, TRUE);
  if (!GenerateConsoleCtrlEvent ((DWORD) event, (DWORD) group))
    return (int) GetLastError ();
  return 0;
}

/* ------------------------------------------------------------------ */

static BOOL WINAPI
tether_job_own_ctrl (DWORD event)
{
  /* Ctrl+C in the terminal Tether runs in is not for the tree: Tether
   * decides, and ends the helper by closing its stdin. */
  return event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT;
}

int
main (int    argc,
      char **argv)
{
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  JOBOBJECT_ASSOCIATE_COMPLETION_PORT association;
  HANDLE in, thread;
  TetherBuf hello = { 0 };

  if (argc >= 2 && strcmp (argv[1], "--send-ctrl") == 0)
    return tether_job_send_ctrl_main (argc, argv);
  if (argc != 1)
    {
      fprintf (stderr, "tether-job: started with arguments; Tether starts it with none "
                       "(see src/win32/PROTOCOL.md)\n");
      return 2;
    }

  InitializeCriticalSection (&job.out_lock);
  InitializeCriticalSection (&job.table_lock);
  job.self_pid = GetCurrentProcessId ();
  if (GetModuleFileNameW (NULL, job.self_path, MAX_PATH) == 0)
    job.self_path[0] = L'\0';
  in = job.in = GetStdHandle (STD_INPUT_HANDLE);
  job.out = GetStdHandle (STD_OUTPUT_HANDLE);
  job.err = GetStdHandle (STD_ERROR_HANDLE);
  /* The protocol pipes stay ours: a backend holding them would keep
   * Tether from seeing this helper's end. */
  SetHandleInformation (in, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation (job.out, HANDLE_FLAG_INHERIT, 0);
  SetConsoleCtrlHandler (tether_job_own_ctrl, TRUE);
  /* Started in a new process group, this helper would have inherited
   * "ignore CTRL+C", and passed it on to every backend: a ctrl-c profile
   * could then never stop politely. */
  SetConsoleCtrlHandler (NULL, FALSE);

  job.job = CreateJobObjectW (NULL, NULL);
  if (job.job == NULL)
    {
      fprintf (stderr, "tether-job: CreateJobObjectW: win32 error %lu\n", (unsigned long) GetLastError ());
      return 1;
    }
  memset (&limits, 0, sizeof limits);
  /* No BREAKAWAY_OK, no SILENT_BREAKAWAY_OK: nothing leaves. */
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject (job.job, JobObjectExtendedLimitInformation, &limits, sizeof limits))
    {
      fprintf (stderr, "tether-job: SetInformationJobObject (limits): win32 error %lu\n",
               (unsigned long) GetLastError ());
      return 1;
    }
  job.port = CreateIoCompletionPort (INVALID_HANDLE_VALUE, NULL, 0, 1);
  association.CompletionKey = (PVOID) TETHER_JOB_PORT_KEY_JOB;
  association.CompletionPort = job.port;
  if (job.port == NULL ||
      !SetInformationJobObject (job.job, JobObjectAssociateCompletionPortInformation, &association,
                                sizeof association))
    {
      fprintf (stderr, "tether-job: completion port: win32 error %lu\n", (unsigned long) GetLastError ());
      return 1;
    }
  thread = CreateThread (NULL, 0, tether_job_port_thread, NULL, 0, NULL);
  if (thread == NULL)
    {
      fprintf (stderr, "tether-job: CreateThread: win32 error %lu\n", (unsigned long) GetLastError ());
      return 1;
    }
  CloseHandle (thread);

  tether_buf_printf (&hello, "hello %d %lu job", TETHER_JOB_PROTOCOL_VERSION, (unsigned long) job.self_pid);
  tether_job_send (&hello);

  tether_job_read_requests (in);
  tether_job_finish ();
}
