/* tt-tree.c: a PyInstaller-onefile stand-in, and the probes the tests run
 * inside wine
 *
 * The failure Tether exists for: a onefile bootloader starts the real
 * backend (a server holding a port), the backend starts helpers, one helper
 * starts a child of its own; the app kills the bootloader and the rest lives
 * on. Each role is a mode of this one program:
 *
 *   tt-tree bootloader MODE DIR   starts "server", waits for it, exits with
 *                                 its code; ignores console events, as
 *                                 PyInstaller's bootloader does. DIR may
 *                                 name environment variables (%TEMP%\x)
 *                                 and is created when missing: the
 *                                 installed example profile cannot write
 *                                 where it is installed
 *   tt-tree server MODE DIR       starts two helpers (one with a child),
 *                                 listens on a loopback port, writes
 *                                 DIR\server.txt "PORT PID"
 *   tt-tree helper MODE DIR [child]  sleeps; with "child" starts a grandchild
 *   tt-tree grandchild MODE DIR   sleeps
 *
 * Helpers and the grandchild write DIR\ready-PID once their console
 * handling is set: a test that raised an event before that would prove
 * nothing about the handling.
 *
 * MODE "polite": the server handles CTRL_C/CTRL_BREAK (SetConsoleCtrlHandler),
 * closes its port, writes DIR\polite.txt and exits 0; helpers keep the
 * default handling (the event ends them). MODE "ignore": every process
 * swallows the events, so only a forced stop ends the tree.
 *
 * Probes:
 *   tt-tree outsider              prints "pid PID", sleeps (a process outside
 *                                 the job)
 *   tt-tree alive PID...          prints "PID alive" or "PID gone" per pid
 *   tt-tree list                  prints "PID PPID" of every tt-tree.exe
 *   tt-tree port-free PORT        exit 0 when PORT can be bound again, else 1
 *   tt-tree args ARG...           prints each argument as it arrived, hex
 *   tt-tree terminate PID         TerminateProcess (PID), as Task Manager would
 *   tt-tree exit CODE             exits with CODE
 *   tt-tree env NAME              prints NAME's value, or "(unset)"
 *   tt-tree talk DIR N [exit]     output for the log: N lines of 100 bytes
 *                                 on stdout as fast as the pipe takes them
 *                                 (64 KiB writes), a second's pause, then
 *                                 "hello stdout" and "hello stderr", a line
 *                                 of 40000 "L" on stdout, DIR\talked.txt
 *                                 "N MS" (MS: the flood's time), "done" on
 *                                 stderr; then sleeps, or exits 0 with
 *                                 "exit"
 *   tt-tree give PID FILE...      what Tether does for tether-job's spawn
 *                                 stdout=/stderr=: each FILE created for
 *                                 writing ("event": a new event instead)
 *                                 and put into process PID with
 *                                 DuplicateHandle; prints the values there
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

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <tlhelp32.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static HANDLE tt_stop_event;
static bool tt_polite;

static BOOL WINAPI
tt_handle_ctrl (DWORD event)
{
  if (event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT)
    return FALSE;
  if (tt_polite && tt_stop_event != NULL)
    SetEvent (tt_stop_event);
  /* Handled: in polite mode the main thread ends the program in order;
   * in ignore mode nothing happens at all. */
  return TRUE;
}

static void
tt_set_mode (const wchar_t *mode)
{
  tt_polite = wcscmp (mode, L"polite") == 0;
  /* A new process group starts with CTRL+C ignored; undo that, or the
   * stand-in would prove nothing about delivery. */
  SetConsoleCtrlHandler (NULL, FALSE);
}

static HANDLE
tt_start_self (const wchar_t *arguments)
{
  wchar_t self[MAX_PATH + 1];
  wchar_t cmdline[2 * MAX_PATH];
  STARTUPINFOW si = { .cb = sizeof si };
  PROCESS_INFORMATION pi;

  if (GetModuleFileNameW (NULL, self, MAX_PATH) == 0)
    return NULL;
  _snwprintf (cmdline, sizeof cmdline / sizeof cmdline[0], L"\"%ls\" %ls", self, arguments);
  cmdline[sizeof cmdline / sizeof cmdline[0] - 1] = L'\0';
  /* Plain CreateProcess, as a bootloader or a Python subprocess would: the
   * child shares the console and inherits the job. */
  if (!CreateProcessW (self, cmdline, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
    {
      fprintf (stderr, "tt-tree: CreateProcessW: win32 error %lu\n", (unsigned long) GetLastError ());
      return NULL;
    }
  CloseHandle (pi.hThread);
  return pi.hProcess;
}

/* Written next to its final name and moved over it, so a reader never sees
 * half of it. */
static bool
tt_write_file (const wchar_t *dir,
               const wchar_t *name,
               const char    *text)
{
  wchar_t path[MAX_PATH], tmp[MAX_PATH];
  FILE *f;

  _snwprintf (path, MAX_PATH, L"%ls\\%ls", dir, name);
  _snwprintf (tmp, MAX_PATH, L"%ls\\%ls.tmp", dir, name);
  path[MAX_PATH - 1] = tmp[MAX_PATH - 1] = L'\0';
  f = _wfopen (tmp, L"wb");
  if (f == NULL)
    return false;
  fputs (text, f);
  fclose (f);
  return MoveFileExW (tmp, path, MOVEFILE_REPLACE_EXISTING) != 0;
}

static void
tt_sleep_forever (void)
{
  for (;;)
    Sleep (1000);
}

static int
tt_bootloader (const wchar_t *mode,
               const wchar_t *dir_template)
{
  wchar_t dir[MAX_PATH];
  wchar_t arguments[MAX_PATH + 32];
  HANDLE server;
  DWORD code = 1;
  DWORD length = ExpandEnvironmentStringsW (dir_template, dir, MAX_PATH);

  if (length == 0 || length > MAX_PATH)
    {
      fprintf (stderr, "tt-tree: cannot expand \"%ls\"\n", dir_template);
      return 1;
    }
  if (!CreateDirectoryW (dir, NULL) && GetLastError () != ERROR_ALREADY_EXISTS)
    {
      fprintf (stderr, "tt-tree: cannot create %ls: win32 error %lu\n", dir, (unsigned long) GetLastError ());
      return 1;
    }

  /* Like PyInstaller's bootloader: the console event is for the real
   * program; the bootloader only waits and passes the exit code on. */
  SetConsoleCtrlHandler (NULL, FALSE);
  SetConsoleCtrlHandler (tt_handle_ctrl, TRUE);
  tt_polite = false;
  _snwprintf (arguments, sizeof arguments / sizeof arguments[0], L"server %ls \"%ls\"", mode, dir);
  arguments[sizeof arguments / sizeof arguments[0] - 1] = L'\0';
  server = tt_start_self (arguments);
  if (server == NULL)
    return 1;
  WaitForSingleObject (server, INFINITE);
  GetExitCodeProcess (server, &code);
  return (int) code;
}

static int
tt_server (const wchar_t *mode,
           const wchar_t *dir)
{
  WSADATA wsa;
  SOCKET listener;
  struct sockaddr_in address = { 0 };
  int address_len = sizeof address;
  char text[64];
  wchar_t helper_args[MAX_PATH + 64];
  HANDLE helpers[2];

  tt_set_mode (mode);
  tt_stop_event = CreateEventW (NULL, TRUE, FALSE, NULL);
  if (!SetConsoleCtrlHandler (tt_handle_ctrl, TRUE))
    return 3;

  _snwprintf (helper_args, MAX_PATH + 64, L"helper %ls \"%ls\"", mode, dir);
  helper_args[MAX_PATH + 63] = L'\0';
  helpers[0] = tt_start_self (helper_args);
  _snwprintf (helper_args, MAX_PATH + 64, L"helper %ls \"%ls\" child", mode, dir);
  helper_args[MAX_PATH + 63] = L'\0';
  helpers[1] = tt_start_self (helper_args);
  if (helpers[0] == NULL || helpers[1] == NULL)
    return 4;

  if (WSAStartup (MAKEWORD (2, 2), &wsa) != 0)
    return 5;
  listener = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  address.sin_port = 0;
  if (listener == INVALID_SOCKET ||
      bind (listener, (struct sockaddr *) &address, sizeof address) != 0 ||
      listen (listener, 16) != 0 ||
      getsockname (listener, (struct sockaddr *) &address, &address_len) != 0)
    return 6;
  snprintf (text, sizeof text, "%u %lu\n", ntohs (address.sin_port), (unsigned long) GetCurrentProcessId ());
  if (!tt_write_file (dir, L"server.txt", text))
    return 7;

  for (;;)
    {
      fd_set readable;
      struct timeval tick = { 0, 50 * 1000 };

      if (WaitForSingleObject (tt_stop_event, 0) == WAIT_OBJECT_0)
        break;
      FD_ZERO (&readable);
      FD_SET (listener, &readable);
      if (select (0, &readable, NULL, NULL, &tick) > 0)
        {
          SOCKET client = accept (listener, NULL, NULL);

          if (client != INVALID_SOCKET)
            {
              send (client, "tt-tree\n", 8, 0);
              closesocket (client);
            }
        }
    }

  /* The polite stop: port closed, the proof written, a clean exit. */
  closesocket (listener);
  WSACleanup ();
  tt_write_file (dir, L"polite.txt", "stopped on a console control event\n");
  return 0;
}

static void
tt_write_ready (const wchar_t *dir)
{
  wchar_t name[32];

  _snwprintf (name, 32, L"ready-%lu", (unsigned long) GetCurrentProcessId ());
  name[31] = L'\0';
  tt_write_file (dir, name, "ready\n");
}

static int
tt_helper (const wchar_t *mode,
           const wchar_t *dir,
           bool           with_child)
{
  tt_set_mode (mode);
  if (!tt_polite)
    SetConsoleCtrlHandler (tt_handle_ctrl, TRUE);
  if (with_child)
    {
      wchar_t arguments[MAX_PATH + 64];

      _snwprintf (arguments, MAX_PATH + 64, L"grandchild %ls \"%ls\"", mode, dir);
      arguments[MAX_PATH + 63] = L'\0';
      if (tt_start_self (arguments) == NULL)
        return 4;
    }
  tt_write_ready (dir);
  tt_sleep_forever ();
  return 0;
}

static int
tt_alive (int       argc,
          wchar_t **argv)
{
  for (int i = 2; i < argc; i++)
    {
      DWORD pid = (DWORD) wcstoul (argv[i], NULL, 10);
      HANDLE process = OpenProcess (SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
      bool alive = process != NULL && WaitForSingleObject (process, 0) == WAIT_TIMEOUT;

      if (process != NULL)
        CloseHandle (process);
      printf ("%lu %s\n", (unsigned long) pid, alive ? "alive" : "gone");
    }
  return 0;
}

static int
tt_list (void)
{
  HANDLE snapshot = CreateToolhelp32Snapshot (TH32CS_SNAPPROCESS, 0);
  PROCESSENTRY32W entry = { .dwSize = sizeof entry };

  if (snapshot == INVALID_HANDLE_VALUE)
    return 1;
  for (BOOL more = Process32FirstW (snapshot, &entry); more; more = Process32NextW (snapshot, &entry))
    if (_wcsicmp (entry.szExeFile, L"tt-tree.exe") == 0 && entry.th32ProcessID != GetCurrentProcessId ())
      printf ("%lu %lu\n", (unsigned long) entry.th32ProcessID, (unsigned long) entry.th32ParentProcessID);
  CloseHandle (snapshot);
  return 0;
}

static int
tt_port_free (const wchar_t *port_text)
{
  WSADATA wsa;
  SOCKET s;
  struct sockaddr_in address = { 0 };
  BOOL exclusive = TRUE;
  int ok;

  if (WSAStartup (MAKEWORD (2, 2), &wsa) != 0)
    return 2;
  s = socket (AF_INET, SOCK_STREAM, IPPROTO_TCP);
  /* Exclusive, so a listener still holding it cannot be shared with. */
  setsockopt (s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *) &exclusive, sizeof exclusive);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  address.sin_port = htons ((u_short) wcstoul (port_text, NULL, 10));
  ok = bind (s, (struct sockaddr *) &address, sizeof address) == 0 && listen (s, 1) == 0;
  closesocket (s);
  WSACleanup ();
  printf ("%s\n", ok ? "free" : "in-use");
  return ok ? 0 : 1;
}

static int
tt_args (int       argc,
         wchar_t **argv)
{
  /* As the C runtime split the command line: what Python would see. */
  for (int i = 2; i < argc; i++)
    {
      char utf8[4096];
      int n = WideCharToMultiByte (CP_UTF8, 0, argv[i], -1, utf8, sizeof utf8, NULL, NULL);

      printf ("arg:");
      for (int k = 0; k + 1 < n; k++)
        printf ("%02x", (unsigned char) utf8[k]);
      printf ("\n");
    }
  fflush (stdout);
  return 0;
}

static int
tt_env (const wchar_t *name)
{
  wchar_t value[4096];
  DWORD n = GetEnvironmentVariableW (name, value, 4096);

  if (n == 0 || n >= 4096)
    printf ("env:(unset)\n");
  else
    printf ("env:%ls\n", value);
  fflush (stdout);
  return 0;
}

static void
tt_put (HANDLE      handle,
        const char *data,
        size_t      length)
{
  DWORD n;

  while (length > 0 && WriteFile (handle, data, (DWORD) length, &n, NULL) && n > 0)
    data += n, length -= n;
}

static int
tt_talk (const wchar_t *dir,
         unsigned long  n,
         bool           then_exit)
{
  HANDLE out = GetStdHandle (STD_OUTPUT_HANDLE), err = GetStdHandle (STD_ERROR_HANDLE);
  static char buffer[65536], long_line[40001];
  size_t length = 0;
  ULONGLONG started;
  char text[64];

  started = GetTickCount64 ();
  for (unsigned long i = 1; i <= n; i++)
    {
      if (length + 100 > sizeof buffer)
        tt_put (out, buffer, length), length = 0;
      snprintf (buffer + length, 101, "flood %08lu %086d", i, 0);
      buffer[length + 99] = '\n';
      length += 100;
    }
  tt_put (out, buffer, length);
  snprintf (text, sizeof text, "%lu %llu", n, (unsigned long long) (GetTickCount64 () - started));
  /* Time for a log that dropped lines to catch up, so the rest is kept. */
  if (n > 0)
    Sleep (1000);
  tt_put (out, "hello stdout\n", 13);
  tt_put (err, "hello stderr\n", 13);
  memset (long_line, 'L', 40000);
  long_line[40000] = '\n';
  tt_put (out, long_line, sizeof long_line);
  tt_write_file (dir, L"talked.txt", text);
  tt_put (err, "done\n", 5);
  if (!then_exit)
    tt_sleep_forever ();
  return 0;
}

static int
tt_give (int       argc,
         wchar_t **argv)
{
  HANDLE target = OpenProcess (PROCESS_DUP_HANDLE, FALSE, (DWORD) wcstoul (argv[2], NULL, 10));

  for (int i = 3; i < argc; i++)
    {
      HANDLE local = wcscmp (argv[i], L"event") == 0
        ? CreateEventW (NULL, TRUE, FALSE, NULL)
        : CreateFileW (argv[i], GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, CREATE_ALWAYS, 0, NULL);
      HANDLE remote = NULL;

      if (target == NULL || local == NULL || local == INVALID_HANDLE_VALUE ||
          !DuplicateHandle (GetCurrentProcess (), local, target, &remote, 0, FALSE, DUPLICATE_SAME_ACCESS))
        return 1;
      printf ("%s%llu", i > 3 ? " " : "", (unsigned long long) (uintptr_t) remote);
    }
  printf ("\n");
  return 0;
}

/* The wide entry point (-municode): arguments as UTF-16, as Windows has them. */
int wmain (int argc, wchar_t **argv);

int
wmain (int       argc,
       wchar_t **argv)
{
  const wchar_t *role = argc >= 2 ? argv[1] : L"";

  setvbuf (stdout, NULL, _IONBF, 0);
  if (wcscmp (role, L"bootloader") == 0 && argc == 4)
    return tt_bootloader (argv[2], argv[3]);
  if (wcscmp (role, L"server") == 0 && argc == 4)
    return tt_server (argv[2], argv[3]);
  if (wcscmp (role, L"helper") == 0 && (argc == 4 || argc == 5))
    return tt_helper (argv[2], argv[3], argc == 5);
  if (wcscmp (role, L"grandchild") == 0 && argc == 4)
    {
      tt_set_mode (argv[2]);
      if (!tt_polite)
        SetConsoleCtrlHandler (tt_handle_ctrl, TRUE);
      tt_write_ready (argv[3]);
      tt_sleep_forever ();
    }
  if (wcscmp (role, L"outsider") == 0)
    {
      printf ("pid %lu\n", (unsigned long) GetCurrentProcessId ());
      SetConsoleCtrlHandler (tt_handle_ctrl, TRUE);
      tt_sleep_forever ();
    }
  if (wcscmp (role, L"alive") == 0)
    return tt_alive (argc, argv);
  if (wcscmp (role, L"list") == 0)
    return tt_list ();
  if (wcscmp (role, L"port-free") == 0 && argc == 3)
    return tt_port_free (argv[2]);
  if (wcscmp (role, L"args") == 0)
    return tt_args (argc, argv);
  if (wcscmp (role, L"terminate") == 0 && argc == 3)
    {
      HANDLE process = OpenProcess (PROCESS_TERMINATE, FALSE, (DWORD) wcstoul (argv[2], NULL, 10));

      return process != NULL && TerminateProcess (process, 9) ? 0 : 1;
    }
  if (wcscmp (role, L"exit") == 0 && argc == 3)
    return (int) wcstoul (argv[2], NULL, 10);
  if (wcscmp (role, L"env") == 0 && argc == 3)
    return tt_env (argv[2]);
  if (wcscmp (role, L"talk") == 0 && (argc == 4 || argc == 5))
    return tt_talk (argv[2], wcstoul (argv[3], NULL, 10), argc == 5);
  if (wcscmp (role, L"give") == 0 && argc >= 4)
    return tt_give (argc, argv);
  fprintf (stderr, "usage: tt-tree bootloader|server|helper|grandchild|outsider|alive|list|port-free|args|terminate|exit|env|talk|give ...\n");
  return 2;
}
