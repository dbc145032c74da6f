/* tether-owner-win32.c: tree ownership through tether-job.exe (Windows)
 *
 * The Windows backend of TetherOwner. tether-job.exe (src/win32) holds the
 * tree's Job Object: every process it spawns is assigned to the job while
 * still suspended, the job allows no breakaway and kills every member when
 * its last handle closes -- and only the helper has one. So whatever the
 * backend starts is a member from its first instruction, and when Tether
 * goes away (quits, crashes, is killed outright), the helper's stdin reaches
 * end-of-file or the helper dies with it, and the tree ends.
 *
 * The helper speaks the Linux shim's line protocol over its stdin and
 * stdout (src/win32/PROTOCOL.md); TetherOwnerClient (tether-owner-client.c)
 * talks it, as for tether-owner-shim.c, over the GSubprocess's pipe
 * streams. This file starts the helper and says what differs.
 *
 * What differs from Linux: there are no signals. The ladder's polite step
 * is a console control event (CTRL_BREAK to the backend's process group,
 * or CTRL_C when the profile's stop signal is SIGINT), the forced step is
 * TerminateJobObject, which is atomic for the whole job, so there is
 * nothing to freeze first: freeze and thaw succeed without doing anything.
 * Exit codes are mapped to wait statuses the core reads (see
 * wait_status_from_exit_code).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-owner-private.h"

#include <windows.h>

#include <glib/gi18n-lib.h>
#include <io.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "tether-error.h"
#include "tether-owner-client.h"
#include "tether-win32-compat.h"

/* src/win32/PROTOCOL.md */
#define TETHER_JOB_PROTOCOL_VERSION 2
#define TETHER_JOB_HELPER "tether-job.exe"
/* Exit codes the helper reports (PROTOCOL.md, "exit"). */
#define EXIT_CODE_KILLED       137u
#define EXIT_CODE_CONTROL_C    0xC000013Au

#define TETHER_TYPE_OWNER_WIN32 (tether_owner_win32_get_type ())
G_DECLARE_FINAL_TYPE (TetherOwnerWin32, tether_owner_win32, TETHER, OWNER_WIN32, TetherOwner)

struct _TetherOwnerWin32
{
  TetherOwner parent_instance;

  GSubprocess *process;
  char *helper_path;
  pid_t helper_pid;
  TetherOwnerClient *client;

  GArray *known;         /* the members as last listed or spawned */
};

G_DEFINE_FINAL_TYPE (TetherOwnerWin32, tether_owner_win32, TETHER_TYPE_OWNER)

/* ---- finding the helper -------------------------------------------------- */

/* $TETHER_JOB, else tether-job.exe beside the running program (an
 * installation, and the staged build, keep every program in one folder),
 * else the build tree's. */
static char *
find_helper (GError **error)
{
  const char *env = g_getenv ("TETHER_JOB");
  wchar_t exe[MAX_PATH + 1];
  DWORD n = GetModuleFileNameW (NULL, exe, G_N_ELEMENTS (exe));
  g_autofree char *exe_utf8 = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *beside = NULL;

  if (env != NULL && *env != '\0')
    {
      if (g_file_test (env, G_FILE_TEST_IS_REGULAR))
        return g_strdup (env);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("TETHER_JOB names “%s”, which is not a program"), env);
      return NULL;
    }

  if (n > 0 && n < G_N_ELEMENTS (exe))
    exe_utf8 = g_utf16_to_utf8 ((const gunichar2 *) exe, n, NULL, NULL, NULL);
  if (exe_utf8 != NULL)
    {
      dir = g_path_get_dirname (exe_utf8);
      beside = g_build_filename (dir, TETHER_JOB_HELPER, NULL);
      if (g_file_test (beside, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&beside);
    }
  if (g_file_test (TETHER_JOB_BUILD, G_FILE_TEST_IS_REGULAR))
    return g_strdup (TETHER_JOB_BUILD);

  g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
               _("The helper %s is not beside this program (in %s); set TETHER_JOB to its path"),
               TETHER_JOB_HELPER, dir != NULL ? dir : "?");
  return NULL;
}

/* ---- what the helper says --------------------------------------------------- */

/* The core reads exits as POSIX wait statuses (tether-win32-compat.h
 * decodes them as glibc does). The helper's kill exits with 137, what a
 * shell reports for SIGKILL: "killed by SIGKILL"; an unhandled console
 * control event's STATUS_CONTROL_C_EXIT: "killed by SIGINT"; any other
 * code is an exit status, the low byte kept (a code whose low byte is 0
 * but which is not 0 stays a failure: 1). */
static int
wait_status_from_exit_code (guint32 code)
{
  if (code == EXIT_CODE_KILLED)
    return SIGKILL;
  if (code == EXIT_CODE_CONTROL_C)
    return SIGINT;
  if (code != 0 && (code & 0xff) == 0)
    return 1 << 8;
  return (int) ((code & 0xff) << 8);
}

static void
on_spawned (TetherOwnerClient *client,
            int                pid,
            TetherOwnerWin32  *self)
{
  if (self->known == NULL)
    self->known = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_array_append_val (self->known, (pid_t) { (pid_t) pid });
}

static void
on_listed (TetherOwnerClient *client,
           GArray            *members,
           gint64             asked_usec,
           TetherOwnerWin32  *self)
{
  g_clear_pointer (&self->known, g_array_unref);
  self->known = g_array_ref (members);
}

static void
on_exited (TetherOwnerClient *client,
           int                pid,
           gint64             code,
           TetherOwnerWin32  *self)
{
  tether_owner_emit_exited (TETHER_OWNER (self), (pid_t) pid, wait_status_from_exit_code ((guint32) code));
}

static void
on_emptied (TetherOwnerClient *client,
            TetherOwnerWin32  *self)
{
  if (self->known != NULL)
    g_array_set_size (self->known, 0);
}

/* ---- the helper's life ---------------------------------------------------- */

/* The helper has exited and all it wrote was read; the client failed
 * every request in flight. */
static void
on_gone (TetherOwnerClient *client,
         gboolean           let_go,
         TetherOwnerWin32  *self)
{
  if (tether_owner_empty_was_emitted (TETHER_OWNER (self)))
    return;
  /* The job's last handle closed with the helper: KILL_ON_JOB_CLOSE has
   * ended every member. */
  if (!let_go)
    g_message ("%s died unexpectedly; its job object ended the backend’s processes with it",
               TETHER_JOB_HELPER);
  tether_owner_emit_empty (TETHER_OWNER (self));
}

static gboolean
start_helper (TetherOwnerWin32  *self,
              GError           **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GIOStream) pipes = NULL;
  const char *argv[2];

  self->helper_path = find_helper (error);
  if (self->helper_path == NULL)
    return FALSE;

  /* stdin and stdout carry the protocol; the helper's stderr is Tether's
   * own (a backend gets the log's pipes through its spawn request). */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  argv[0] = self->helper_path;
  argv[1] = NULL;
  self->process = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (self->process == NULL)
    {
      g_clear_pointer (&self->helper_path, g_free);
      return FALSE;
    }
  self->helper_pid = (pid_t) atoi (g_subprocess_get_identifier (self->process));
  pipes = g_simple_io_stream_new (g_subprocess_get_stdout_pipe (self->process),
                                  g_subprocess_get_stdin_pipe (self->process));
  tether_owner_client_start (self->client, pipes, self->process, self->helper_path);
  return TRUE;
}

/* ---- TetherOwner ---------------------------------------------------------- */

/* The log's pipes for the spawn (PROTOCOL.md, spawn's stdout= and
 * stderr=): copies of their write ends put into the helper's process,
 * named by their handle values there; the helper closes them once the
 * spawn is answered. Nothing is inherited from Tether. The GSubprocess
 * holds the helper's process handle, so its pid names no other process. */
static gboolean
append_output_handles (TetherOwnerWin32         *self,
                       const TetherSpawnRequest *spawn,
                       GString                  *flags,
                       GError                  **error)
{
  const int fds[2] = { spawn->stdout_fd, spawn->stderr_fd };
  HANDLE helper = OpenProcess (PROCESS_DUP_HANDLE, FALSE, (DWORD) self->helper_pid);
  DWORD failure = 0;

  for (guint i = 0; i < 2 && helper != NULL && failure == 0; i++)
    {
      HANDLE given = NULL;

      if (fds[i] < 0)
        continue;
      if (!DuplicateHandle (GetCurrentProcess (), (HANDLE) _get_osfhandle (fds[i]), helper, &given,
                            0, FALSE, DUPLICATE_SAME_ACCESS))
        failure = GetLastError ();
      else
        g_string_append_printf (flags, "%s%s=%" G_GUINT64_FORMAT, flags->len > 0 ? "," : "",
                                i == 0 ? "stdout" : "stderr", (guint64) (guintptr) given);
    }
  if (helper == NULL)
    failure = GetLastError ();
  else
    CloseHandle (helper);
  if (failure != 0)
    {
      g_autofree char *message = g_win32_error_message ((int) failure);

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_SPAWN,
                   _("Could not give %s the pipes for the backend’s output: %s"),
                   TETHER_JOB_HELPER, message);
      return FALSE;
    }
  return TRUE;
}

static void
tether_owner_win32_spawn_async (TetherOwner               *owner,
                                const TetherSpawnRequest  *spawn,
                                GCancellable              *cancellable,
                                GAsyncReadyCallback        callback,
                                gpointer                   user_data)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (owner);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_auto(GStrv) own_env = NULL;
  g_autoptr(GString) flags = g_string_new (spawn->console_ctrl_c ? "ctrl-c" : "");
  GError *error = NULL;

  g_task_set_source_tag (task, tether_owner_win32_spawn_async);
  if (self->process == NULL && !start_helper (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* No sockets travel on Windows: a pool's sockets and LISTEN_PID have no
   * equivalent here. */
  if (spawn->n_fds > 0 || spawn->listen_pid)
    {
      g_autofree char *what = tether_owner_client_describe_spawn (spawn);

      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_SPAWN,
                               _("Could not %s: passing sockets to a backend is not supported on Windows"),
                               what);
      return;
    }

  if (spawn->redirect_stdio && !append_output_handles (self, spawn, flags, &error))
    {
      g_autofree char *what = tether_owner_client_describe_spawn (spawn);

      g_prefix_error (&error, _("Could not %s: "), what);
      g_task_return_error (task, error);
      return;
    }
  if (spawn->envp == NULL)
    own_env = g_get_environ ();
  tether_owner_client_spawn (self->client, g_steal_pointer (&task), spawn,
                             flags->len > 0 ? flags->str : "-",
                             spawn->envp != NULL ? spawn->envp : (const char * const *) own_env, NULL);
}

static void
tether_owner_win32_run_async (TetherOwner         *owner,
                              TetherOwnerOp        op,
                              pid_t                pid,
                              int                  sig,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (owner);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_owner_win32_run_async);
  /* TerminateJobObject ends the whole job at once: no fork can race it,
   * so the forced step needs nothing frozen first. */
  if (op == TETHER_OWNER_OP_FREEZE || op == TETHER_OWNER_OP_THAW)
    {
      TetherOwnerReply *reply = tether_owner_reply_new ();

      reply->count.n_members = tether_owner_get_n_members (owner);
      g_task_return_pointer (task, reply, (GDestroyNotify) tether_owner_reply_free);
      g_object_unref (task);
      return;
    }
  tether_owner_client_run (self->client, task, op, pid, sig);
}

/* Cheap and synchronous: the members as last listed, and what was spawned
 * since. The helper checks membership again (IsProcessInJob) before it
 * acts on a pid, so a stale answer here cannot reach a stranger. */
static gboolean
tether_owner_win32_is_member (TetherOwner *owner,
                              pid_t        pid)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (owner);

  if (self->known == NULL || pid <= 0 || tether_owner_empty_was_emitted (owner))
    return FALSE;
  for (guint i = 0; i < self->known->len; i++)
    if (g_array_index (self->known, pid_t, i) == pid)
      return TRUE;
  return FALSE;
}

/* The helper does not report the job's accounting (and wine keeps none):
 * the sampler sums per-process figures instead. */
static gboolean
tether_owner_win32_get_tree_cpu_usage (TetherOwner *owner,
                                       guint64     *usec)
{
  return FALSE;
}

static gboolean
tether_owner_win32_get_tree_memory (TetherOwner *owner,
                                    guint64     *bytes)
{
  return FALSE;
}

static const char *
tether_owner_win32_get_location (TetherOwner *owner)
{
  return NULL;
}

static void
tether_owner_win32_abandon (TetherOwner *owner)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (owner);

  /* Closing its stdin is enough: the helper terminates the job and exits. */
  tether_owner_client_let_go (self->client);
}

/* ---- GObject -------------------------------------------------------------- */

static void
tether_owner_win32_dispose (GObject *object)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (object);

  /* Until the helper is gone, the client holds a reference to the owner:
   * only g_object_run_dispose gets here with the helper connected. */
  if (tether_owner_client_is_connected (self->client))
    tether_owner_client_let_go (self->client);

  G_OBJECT_CLASS (tether_owner_win32_parent_class)->dispose (object);
}

static void
tether_owner_win32_finalize (GObject *object)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (object);

  g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->process);
  g_clear_pointer (&self->known, g_array_unref);
  g_free (self->helper_path);

  G_OBJECT_CLASS (tether_owner_win32_parent_class)->finalize (object);
}

static void
tether_owner_win32_class_init (TetherOwnerWin32Class *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  TetherOwnerClass *owner_class = TETHER_OWNER_CLASS (klass);

  object_class->dispose = tether_owner_win32_dispose;
  object_class->finalize = tether_owner_win32_finalize;

  owner_class->spawn_async = tether_owner_win32_spawn_async;
  owner_class->run_async = tether_owner_win32_run_async;
  owner_class->is_member = tether_owner_win32_is_member;
  owner_class->get_tree_cpu_usage = tether_owner_win32_get_tree_cpu_usage;
  owner_class->get_tree_memory = tether_owner_win32_get_tree_memory;
  owner_class->get_location = tether_owner_win32_get_location;
  owner_class->abandon = tether_owner_win32_abandon;
}

static void
tether_owner_win32_init (TetherOwnerWin32 *self)
{
  self->client = tether_owner_client_new (TETHER_OWNER (self), TETHER_JOB_HELPER, TETHER_JOB_PROTOCOL_VERSION);
  g_signal_connect (self->client, "spawned", G_CALLBACK (on_spawned), self);
  g_signal_connect (self->client, "listed", G_CALLBACK (on_listed), self);
  g_signal_connect (self->client, "exited", G_CALLBACK (on_exited), self);
  g_signal_connect (self->client, "emptied", G_CALLBACK (on_emptied), self);
  g_signal_connect (self->client, "gone", G_CALLBACK (on_gone), self);
}

TetherOwner *
tether_owner_win32_new (void)
{
  TetherOwnerWin32 *self = g_object_new (TETHER_TYPE_OWNER_WIN32, NULL);

  tether_owner_set_kind (TETHER_OWNER (self), TETHER_OWNER_JOB);
  return TETHER_OWNER (self);
}
