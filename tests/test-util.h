/* test-util.h: helpers shared by the process-tree tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "tether-owner.h"
#include "tether-supervisor.h"

G_BEGIN_DECLS

/* Sets XDG_RUNTIME_DIR and XDG_STATE_HOME to a private temp dir; call
 * before g_test_init. */
void     test_util_init               (void);
const char *test_util_tmpdir          (void);

/* A string no other process on this machine carries in its argv. */
char    *test_util_marker             (void);
/* Path of the tether-test-tree helper. */
const char *test_util_tree_helper     (void);
/* Every live (non-zombie) process whose cmdline contains marker. */
GArray  *test_util_find_marked        (const char   *marker);
guint    test_util_count_marked       (const char   *marker);
/* Waits (up to timeout_s) for "ROLE PID" in the pidfile; returns the pid. */
pid_t    test_util_wait_role          (const char   *pidfile,
                                       const char   *role,
                                       double        timeout_s);
/* All pids written under role so far. */
GArray  *test_util_read_role          (const char   *pidfile,
                                       const char   *role);
/* Writes a profile JSON (with "command" built from argv) to a temp file. */
char    *test_util_write_profile      (const char   *extra_json_members,
                                       const char * const *argv);
/* Iterates the default main context until *flag becomes TRUE or the
 * timeout passes; returns *flag. */
gboolean test_util_wait_flag          (gboolean     *flag,
                                       double        timeout_s);
/* pid exists and is not a zombie. */
gboolean test_util_pid_alive          (pid_t         pid);
/* The state letter of /proc/PID/stat ('R', 'S', 'T', ...), or 0. */
char     test_util_proc_state         (pid_t         pid);
/* Iterates the default main context until pid no longer exists (reaped
 * by its parent); fails the test after 10 s. */
void     test_util_wait_reaped        (pid_t         pid);
/* Starts `tether-test-tree MARKER sleep` as our child with exactly pid
 * (free: its process was reaped), with clone3's set_tid; if another
 * process took the pid first it waits up to 5 s for it to go. Returns the
 * pid, or 0 if it never got it. */
pid_t    test_util_spawn_with_pid     (pid_t         pid,
                                       const char   *marker);
/* Spawns `tether-test-tree MARKER MODE ARGS... --pidfile PIDFILE` under a
 * new owner of kind and waits until the tree has reported ("main" is
 * written last). */
TetherOwner *test_util_spawn_tree     (TetherOwnerKind kind,
                                       const char   *marker,
                                       const char   *pidfile,
                                       const char   *mode,
                                       ...) G_GNUC_NULL_TERMINATED;
/* Starts supervisor, waiting on the default main context; returns what
 * tether_supervisor_start_finish said. */
gboolean test_util_start_supervisor   (TetherSupervisor  *supervisor,
                                       GError           **error);
/* Force-stops what may still run, waits, and drops the supervisor (NULL
 * is fine): a test's teardown. */
void     test_util_end_supervisor     (TetherSupervisor **supervisor);
/* The report file for marker's tree, in the test's temp dir. */
char    *test_util_pidfile            (const char   *marker);
/* A test's tree goes: *owner (if any) abandoned and cleared, every
 * process carrying marker SIGKILLed, the pidfile removed; frees marker
 * and pidfile. */
void     test_util_release_tree       (TetherOwner **owner,
                                       char         *marker,
                                       char         *pidfile);
/* SIGKILLs what a failed test left behind, by marker. */
void     test_util_kill_marked        (const char   *marker);

/* Waits on the main loop for an asynchronous call:
 *   TestUtilAwait a = { 0 };
 *   tether_owner_freeze_async (owner, NULL, test_util_await_cb, &a);
 *   ok = tether_owner_verb_finish (owner, test_util_await (&a), &count, &error);
 * Fails the test after 20 s. The result lives until the next await on any
 * TestUtilAwait (test_util_list_members and test_util_sampler_refresh
 * await too). */
typedef struct
{
  GAsyncResult *result;
} TestUtilAwait;

void          test_util_await_cb      (GObject      *source,
                                       GAsyncResult *result,
                                       gpointer      user_data);
GAsyncResult *test_util_await         (TestUtilAwait *await);

/* The owner's members now, waited for. */
GArray  *test_util_list_members       (TetherOwner  *owner,
                                       GError      **error);
/* A sampler tick that asked for its members after this call, waited for. */
void     test_util_sampler_refresh    (gpointer      sampler);

/* Sends one datagram to a NOTIFY_SOCKET address (a path, or "@name" for
 * the abstract namespace, as sd_notify reads it). */
gboolean test_util_send_notify        (const char   *address,
                                       const char   *data,
                                       gsize         length);
/* A loopback TCP port nobody listens on now (bound to port 0 and asked). */
guint    test_util_free_port          (void);

/* A stream connection to the unix socket at path (a control socket), or
 * -1 if connecting fails. */
int      test_util_connect_unix       (const char   *path);

/* Owner kinds the tests run for; the names are used in test paths. */
extern const TetherOwnerKind test_util_kinds[2];

/* Adds PREFIX/<kind>/NAME for every kind; the fixture's setup receives a
 * const TetherOwnerKind * as its data. */
void     test_util_add_for_kinds      (const char   *prefix,
                                       const char   *name,
                                       gsize         fixture_size,
                                       gpointer      setup,
                                       gpointer      func,
                                       gpointer      teardown);

G_END_DECLS
