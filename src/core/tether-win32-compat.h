/* tether-win32-compat.h: the POSIX words the portable core uses, on Windows
 *
 * The core speaks of processes in POSIX terms: wait statuses and Linux
 * signal numbers. On Windows these stay what they are on Linux:
 * tether-owner-win32.c turns a process's exit code into a wait status
 * (137, the job helper's kill, reads "killed by SIGKILL"), and the signal
 * numbers travel to tether-job.exe, which maps INT, TERM and KILL to
 * CTRL_C, CTRL_BREAK and TerminateProcess (src/win32/PROTOCOL.md).
 *
 * Included by portable files in place of <sys/wait.h> and for the signal
 * numbers MinGW's <signal.h> lacks; nothing on other platforms.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#ifdef _WIN32

#include <fcntl.h>
#include <signal.h>

/* Descriptors are not inherited unless asked for (a handle's
 * inheritance is what matters on Windows, and GSubprocess sets it). */
#ifndef O_CLOEXEC
#define O_CLOEXEC O_NOINHERIT
#endif

/* Users are not numbers on Windows: the sampler's process uid is
 * (uid_t) -1 there (tether-procfs-win32.c has no /proc to stat). */
typedef unsigned int uid_t;

/* Wait statuses as glibc encodes them. */
#define WIFEXITED(status)   (((status) & 0x7f) == 0)
#define WEXITSTATUS(status) (((status) >> 8) & 0xff)
#define WIFSIGNALED(status) (((status) & 0x7f) != 0 && ((status) & 0x7f) != 0x7f)
#define WTERMSIG(status)    ((status) & 0x7f)

/* Linux's numbers. */
#ifndef SIGHUP
#define SIGHUP 1
#endif
#ifndef SIGQUIT
#define SIGQUIT 3
#endif
#ifndef SIGKILL
#define SIGKILL 9
#endif
#ifndef SIGUSR1
#define SIGUSR1 10
#endif
#ifndef SIGUSR2
#define SIGUSR2 12
#endif
#ifndef SIGPIPE
#define SIGPIPE 13
#endif
#ifndef SIGCONT
#define SIGCONT 18
#endif
#ifndef SIGSTOP
#define SIGSTOP 19
#endif
#ifndef SIGTTIN
#define SIGTTIN 21
#endif
#ifndef SIGTTOU
#define SIGTTOU 22
#endif

#endif /* _WIN32 */
