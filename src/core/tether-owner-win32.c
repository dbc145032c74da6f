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
 * stdout (src/win32/PROTOCOL.md). Like tether-owner-shim.c, this is its
 * asynchronous client: every request is a line with an id answered by a
 * GTask when the reply line is read; reads and writes go through the
 * GSubprocess's pipe streams, never blocking the main thread.
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
#include "tether-owner-protocol.h"

#include <windows.h>

#include <glib/gi18n-lib.h>
#include <io.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "tether-error.h"
#include "tether-shim-protocol.h"
#include "tether-win32-compat.h"

#define REQUEST_TIMEOUT_S 15
#define MAX_HELPER_INPUT (64 * 1024 * 1024)
/* src/win32/PROTOCOL.md */
#define TETHER_JOB_PROTOCOL_VERSION 2
#define TETHER_JOB_HELPER "tether-job.exe"
/* Exit codes the helper reports (PROTOCOL.md, "exit"). */
#define EXIT_CODE_KILLED       137u
#define EXIT_CODE_CONTROL_C    0xC000013Au

#define TETHER_TYPE_OWNER_WIN32 (tether_owner_win32_get_type ())
G_DECLARE_FINAL_TYPE (TetherOwnerWin32, tether_owner_win32, TETHER, OWNER_WIN32, TetherOwner)

#define REQUEST_SPAWN ((TetherOwnerOp) -1)

typedef struct
{
  guint id;
  TetherOwnerOp op;      /* or REQUEST_SPAWN */
  pid_t pid;
  gboolean is_main;
  char *what;
  gint64 deadline;
  GTask *task;
} Request;

struct _TetherOwnerWin32
{
  TetherOwner parent_instance;

  GSubprocess *process;
  char *helper_path;
  pid_t helper_pid;
  GInputStream *in;
  GOutputStream *out;
  GCancellable *cancellable;
  char chunk[16384];
  GString *inbuf;
  GQueue outq;           /* GBytes still to write */
  gboolean writing;
  GHashTable *requests;  /* id -> Request */
  guint next_id;
  GSource *deadline_source;

  GArray *known;         /* the members as last listed or spawned */
  gboolean greeted;
  gboolean connected;    /* requests can be sent */
  gboolean read_done;    /* its stdout reached its end (or we hung up) */
  gboolean exited;
  gboolean gone;         /* both: the tree is over */
  gboolean abandoned;
};

G_DEFINE_FINAL_TYPE (TetherOwnerWin32, tether_owner_win32, TETHER_TYPE_OWNER)

static void process_input (TetherOwnerWin32 *self);
static void flush_output  (TetherOwnerWin32 *self);

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

/* ---- requests ------------------------------------------------------------ */

static void
request_free (Request *request)
{
  g_clear_object (&request->task);
  g_free (request->what);
  g_free (request);
}

static void
fail_request (Request *request,
              GError  *error)
{
  GTask *task = g_steal_pointer (&request->task);

  if (task != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
    }
  else
    g_error_free (error);
}

/* The helper cannot be talked to any more: every request in flight fails.
 * Closing its stdin is also what tells a live helper to end the tree. */
static void
lose_helper (TetherOwnerWin32 *self,
             const char       *reason)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);

  if (self->connected)
    {
      self->connected = FALSE;
      g_cancellable_cancel (self->cancellable);
      g_output_stream_close (self->out, NULL, NULL);
    }
  g_queue_clear_full (&self->outq, (GDestroyNotify) g_bytes_unref);
  if (self->deadline_source != NULL)
    {
      g_source_destroy (self->deadline_source);
      g_clear_pointer (&self->deadline_source, g_source_unref);
    }

  g_hash_table_iter_init (&iter, self->requests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_ptr_array_add (pending, value);
      g_hash_table_iter_steal (&iter);
    }
  g_object_ref (self);
  for (guint i = 0; i < pending->len; i++)
    {
      Request *request = g_ptr_array_index (pending, i);
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_OWNER,
                                          _("Could not %s: %s"), request->what, reason));
    }
  g_object_unref (self);
}

static gboolean
on_deadline_check (gpointer user_data)
{
  TetherOwnerWin32 *self = user_data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GPtrArray) expired = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);
  GHashTableIter iter;
  gpointer value;
  gboolean keep;

  g_hash_table_iter_init (&iter, self->requests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Request *) value)->deadline <= now)
      {
        g_ptr_array_add (expired, value);
        g_hash_table_iter_steal (&iter);
      }

  g_object_ref (self);
  for (guint i = 0; i < expired->len; i++)
    {
      Request *request = g_ptr_array_index (expired, i);
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_OWNER,
                                          _("Could not %s: %s did not answer within %d s"),
                                          request->what, TETHER_JOB_HELPER, REQUEST_TIMEOUT_S));
    }
  keep = self->deadline_source != NULL && g_hash_table_size (self->requests) > 0;
  if (!keep && self->deadline_source != NULL)
    g_clear_pointer (&self->deadline_source, g_source_unref);
  g_object_unref (self);

  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
send_request (TetherOwnerWin32 *self,
              Request          *request,
              GString          *body)
{
  GString *line;

  if (!self->connected)
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_BUSY,
                                          _("Could not %s: the backend is not running"),
                                          request->what));
      request_free (request);
      return;
    }

  request->id = ++self->next_id;
  request->deadline = g_get_monotonic_time () + REQUEST_TIMEOUT_S * G_USEC_PER_SEC;
  line = g_string_new (NULL);
  g_string_printf (line, "%u %s\n", request->id, body->str);
  if (line->len > TETHER_SHIM_MAX_LINE)
    {
      fail_request (request, g_error_new (TETHER_ERROR,
                                          request->op == REQUEST_SPAWN ? TETHER_ERROR_SPAWN : TETHER_ERROR_OWNER,
                                          _("Could not %s: the request is %zu bytes long, "
                                            "and %s reads at most %d"),
                                          request->what, (size_t) line->len,
                                          TETHER_JOB_HELPER, TETHER_SHIM_MAX_LINE));
      request_free (request);
      g_string_free (line, TRUE);
      return;
    }

  g_queue_push_tail (&self->outq, g_string_free_to_bytes (line));
  g_hash_table_insert (self->requests, GUINT_TO_POINTER (request->id), request);
  if (self->deadline_source == NULL)
    {
      self->deadline_source = g_timeout_source_new (500);
      g_source_set_callback (self->deadline_source, on_deadline_check, self, NULL);
      g_source_set_static_name (self->deadline_source, "[tether] job helper deadlines");
      g_source_attach (self->deadline_source, g_main_context_get_thread_default ());
    }
  flush_output (self);
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(TetherOwnerWin32) self = user_data;
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (self->connected)
        {
          g_autofree char *reason = g_strdup_printf (_("the pipe to %s broke (%s)"),
                                                     TETHER_JOB_HELPER, error->message);
          lose_helper (self, reason);
        }
      return;
    }
  g_bytes_unref (g_queue_pop_head (&self->outq));
  flush_output (self);
}

/* One line at a time, in order: the helper answers in the order it reads. */
static void
flush_output (TetherOwnerWin32 *self)
{
  GBytes *line;
  gsize size;
  const void *data;

  if (!self->connected || self->writing || (line = g_queue_peek_head (&self->outq)) == NULL)
    return;
  data = g_bytes_get_data (line, &size);
  self->writing = TRUE;
  g_output_stream_write_all_async (self->out, data, size, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_written, g_object_ref (self));
}

/* ---- replies and events --------------------------------------------------- */

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
remember_members (TetherOwnerWin32 *self,
                  GArray           *members)
{
  g_clear_pointer (&self->known, g_array_unref);
  self->known = g_array_ref (members);
}

static void
complete_request (TetherOwnerWin32  *self,
                  Request           *request,
                  char             **words)
{
  GTask *task = g_steal_pointer (&request->task);
  TetherOwnerReply *reply;
  guint64 a = 0, b = 0;

  if (g_str_equal (words[1], "error"))
    {
      guint64 err = 0;
      g_autofree char *text = words[2] != NULL && words[3] != NULL ? tether_owner_protocol_decode_field (words[3]) : g_strdup ("?");

      /* Linux errno numbers (PROTOCOL.md): 3 is ESRCH, not a member. */
      tether_owner_protocol_parse_uint (words[2], G_MAXINT, &err);
      if (request->op == REQUEST_SPAWN)
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_SPAWN,
                                 _("Could not %s: %s"), request->what, text);
      else if (err == 3 && request->pid > 0)
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER,
                                 _("Process %d is not part of the backend’s tree"), (int) request->pid);
      else
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_OWNER,
                                 _("Could not %s: %s"), request->what, text);
      g_object_unref (task);
      return;
    }

  if (!g_str_equal (words[1], "ok"))
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                               _("Could not %s: %s said something malformed"),
                               request->what, TETHER_JOB_HELPER);
      g_object_unref (task);
      return;
    }

  if (request->op == REQUEST_SPAWN)
    {
      if (!tether_owner_protocol_parse_uint (words[2], G_MAXINT, &a) || a == 0)
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                                 _("Could not %s: %s said something malformed"),
                                 request->what, TETHER_JOB_HELPER);
      else
        {
          pid_t pid = (pid_t) a;

          tether_owner_spawned (TETHER_OWNER (self), pid, request->is_main);
          if (self->known == NULL)
            self->known = g_array_new (FALSE, FALSE, sizeof (pid_t));
          g_array_append_val (self->known, pid);
          g_task_return_int (task, (gssize) a);
        }
      g_object_unref (task);
      return;
    }

  reply = tether_owner_reply_new ();
  if (request->op == TETHER_OWNER_OP_MEMBERS || request->op == TETHER_OWNER_OP_TOP_LEVEL)
    {
      guint n_words = g_strv_length (words);

      reply->members = g_array_sized_new (FALSE, FALSE, sizeof (pid_t), n_words);
      for (guint i = 3; i < n_words; i++)
        {
          guint64 pid;
          if (tether_owner_protocol_parse_uint (words[i], G_MAXINT, &pid))
            g_array_append_val (reply->members, (pid_t) { (pid_t) pid });
        }
      reply->count.n_reached = reply->members->len;
      reply->count.n_members = request->op == TETHER_OWNER_OP_MEMBERS
        ? reply->members->len : tether_owner_get_n_members (TETHER_OWNER (self));
      if (request->op == TETHER_OWNER_OP_MEMBERS)
        remember_members (self, reply->members);
    }
  else if (request->op != TETHER_OWNER_OP_WATCH)
    {
      tether_owner_protocol_parse_uint (words[2], G_MAXUINT, &a);
      tether_owner_protocol_parse_uint (words[2] != NULL ? words[3] : NULL, G_MAXUINT, &b);
      reply->count.n_reached = (guint) a;
      reply->count.n_members = (guint) b;
    }
  else
    reply->count.n_members = tether_owner_get_n_members (TETHER_OWNER (self));
  g_task_return_pointer (task, reply, (GDestroyNotify) tether_owner_reply_free);
  g_object_unref (task);
}

static void
handle_event (TetherOwnerWin32  *self,
              char             **words)
{
  guint64 a = 0, code = 0;

  if (g_str_equal (words[0], "hello"))
    {
      guint64 version = 0;

      if (!tether_owner_protocol_parse_uint (words[1], G_MAXUINT, &version) || version != TETHER_JOB_PROTOCOL_VERSION)
        {
          g_autofree char *reason =
            g_strdup_printf (_("%s speaks protocol version %s; this Tether needs version %d "
                               "(is it from another installation?)"),
                             self->helper_path, words[1] != NULL ? words[1] : "?",
                             TETHER_JOB_PROTOCOL_VERSION);
          lose_helper (self, reason);
          return;
        }
      self->greeted = TRUE;
    }
  else if (g_str_equal (words[0], "exit") &&
           tether_owner_protocol_parse_uint (words[1], G_MAXINT, &a) &&
           tether_owner_protocol_parse_uint (words[2], G_MAXUINT32, &code))
    tether_owner_emit_exited (TETHER_OWNER (self), (pid_t) a,
                              wait_status_from_exit_code ((guint32) code));
  else if (g_str_equal (words[0], "empty"))
    {
      if (self->known != NULL)
        g_array_set_size (self->known, 0);
      tether_owner_tree_emptied (TETHER_OWNER (self));
    }
  else
    g_message ("%s sent an unknown event: %s", TETHER_JOB_HELPER, words[0]);
}

static void
process_input (TetherOwnerWin32 *self)
{
  char *nl;
  gsize pos = 0;

  g_object_ref (self);
  while (pos < self->inbuf->len &&
         (nl = memchr (self->inbuf->str + pos, '\n', self->inbuf->len - pos)) != NULL)
    {
      gsize end = (gsize) (nl - self->inbuf->str);
      g_autofree char *line = g_strndup (self->inbuf->str + pos, end - pos);
      g_auto(GStrv) words = NULL;
      guint64 id;

      pos = end + 1;
      g_strchomp (line);  /* a \r before the \n */
      words = g_strsplit (line, " ", -1);
      if (words[0] == NULL || words[0][0] == '\0')
        continue;
      if (g_ascii_isdigit (words[0][0]))
        {
          Request *request;

          if (!tether_owner_protocol_parse_uint (words[0], G_MAXUINT, &id) || words[1] == NULL)
            {
              g_message ("%s sent a malformed reply: %.80s", TETHER_JOB_HELPER, line);
              continue;
            }
          if (!g_hash_table_steal_extended (self->requests, GUINT_TO_POINTER ((guint) id),
                                            NULL, (gpointer *) &request))
            {
              g_debug ("A late reply to request %u (it timed out)", (guint) id);
              continue;
            }
          complete_request (self, request, words);
          request_free (request);
        }
      else
        handle_event (self, words);
    }
  g_string_erase (self->inbuf, 0, (gssize) pos);
  g_object_unref (self);
}

static void read_more (TetherOwnerWin32 *self);
static void helper_gone (TetherOwnerWin32 *self);

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(TetherOwnerWin32) self = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n > 0)
    {
      if (self->inbuf->len + (gsize) n > MAX_HELPER_INPUT)
        lose_helper (self, _("the job helper sent more than it may"));
      else
        {
          g_string_append_len (self->inbuf, self->chunk, n);
          process_input (self);
        }
      if (self->connected)
        {
          read_more (self);
          return;
        }
    }
  /* End of file, or we hung up: nothing more will be read. */
  self->read_done = TRUE;
  helper_gone (self);
}

static void
read_more (TetherOwnerWin32 *self)
{
  g_input_stream_read_async (self->in, self->chunk, sizeof self->chunk, G_PRIORITY_DEFAULT,
                             self->cancellable, on_read, g_object_ref (self));
}

/* ---- the helper's life ---------------------------------------------------- */

/* Once the helper has exited and everything it wrote was read. */
static void
helper_gone (TetherOwnerWin32 *self)
{
  if (!self->read_done || !self->exited || self->gone)
    return;
  self->gone = TRUE;
  lose_helper (self, self->greeted ? _("the job helper exited")
                                   : _("the job helper exited without greeting (is it from another installation?)"));
  if (tether_owner_empty_was_emitted (TETHER_OWNER (self)))
    return;
  /* The job's last handle closed with the helper: KILL_ON_JOB_CLOSE has
   * ended every member. */
  if (!self->abandoned)
    g_message ("%s died unexpectedly; its job object ended the backend’s processes with it",
               TETHER_JOB_HELPER);
  tether_owner_emit_empty (TETHER_OWNER (self));
}

static void
on_helper_exited (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(TetherOwnerWin32) self = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  self->exited = TRUE;
  helper_gone (self);
}

static gboolean
start_helper (TetherOwnerWin32  *self,
              GError           **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  const char *argv[2];

  self->helper_path = find_helper (error);
  if (self->helper_path == NULL)
    return FALSE;

  /* stdin and stdout carry the protocol; stderr is where the backend's
   * output goes (the helper gives it to every process it starts). */
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
  self->in = g_object_ref (g_subprocess_get_stdout_pipe (self->process));
  self->out = g_object_ref (g_subprocess_get_stdin_pipe (self->process));
  self->connected = TRUE;
  read_more (self);
  g_subprocess_wait_async (self->process, NULL, on_helper_exited, g_object_ref (self));
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
  g_autoptr(GString) body = g_string_new ("spawn");
  g_auto(GStrv) own_env = NULL;
  g_autofree char *own_cwd = NULL;
  g_autofree char *name = g_path_get_basename (spawn->argv[0]);
  g_autoptr(GString) flags = g_string_new (spawn->console_ctrl_c ? "ctrl-c" : "");
  const char * const *envp = spawn->envp;
  Request *request;
  GError *error = NULL;
  guint n;

  request = g_new0 (Request, 1);
  request->op = REQUEST_SPAWN;
  request->is_main = spawn->is_main;
  request->what = g_strdup_printf (_("start “%s”"), name);
  request->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (request->task, tether_owner_win32_spawn_async);

  if (self->process == NULL && !start_helper (self, &error))
    {
      fail_request (request, error);
      request_free (request);
      return;
    }
  if (tether_owner_empty_was_emitted (owner))
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_BUSY,
                                          _("Could not %s: this tree has ended"), request->what));
      request_free (request);
      return;
    }
  /* No sockets travel on Windows: a pool's sockets and LISTEN_PID have no
   * equivalent here. */
  if (spawn->n_fds > 0 || spawn->listen_pid)
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_SPAWN,
                                          _("Could not %s: passing sockets to a backend is not supported on Windows"),
                                          request->what));
      request_free (request);
      return;
    }

  if (envp == NULL)
    envp = (const char * const *) (own_env = g_get_environ ());
  if (spawn->cwd == NULL)
    own_cwd = g_get_current_dir ();

  if (spawn->redirect_stdio && !append_output_handles (self, spawn, flags, &error))
    {
      g_prefix_error (&error, _("Could not %s: "), request->what);
      fail_request (request, error);
      request_free (request);
      return;
    }
  g_string_append_printf (body, " %s", flags->len > 0 ? flags->str : "-");
  tether_owner_protocol_append_field (body, spawn->cwd != NULL ? spawn->cwd : own_cwd);
  n = g_strv_length ((char **) spawn->argv);
  g_string_append_printf (body, " %u", n);
  for (guint i = 0; i < n; i++)
    tether_owner_protocol_append_field (body, spawn->argv[i]);
  n = g_strv_length ((char **) envp);
  g_string_append_printf (body, " %u", n);
  for (guint i = 0; i < n; i++)
    tether_owner_protocol_append_field (body, envp[i]);
  send_request (self, request, body);
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
  g_autoptr(GString) body = g_string_new (tether_owner_protocol_verb (op));
  Request *request = g_new0 (Request, 1);

  request->op = op;
  request->pid = pid;
  request->what = tether_owner_protocol_describe (op, pid);
  request->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (request->task, tether_owner_win32_run_async);

  if (!tether_owner_is_running (owner) && (op == TETHER_OWNER_OP_MEMBERS || op == TETHER_OWNER_OP_TOP_LEVEL))
    {
      GTask *task = g_steal_pointer (&request->task);
      TetherOwnerReply *reply = tether_owner_reply_new ();

      reply->members = g_array_new (FALSE, FALSE, sizeof (pid_t));
      g_task_return_pointer (task, reply, (GDestroyNotify) tether_owner_reply_free);
      g_object_unref (task);
      request_free (request);
      return;
    }
  /* TerminateJobObject ends the whole job at once: no fork can race it,
   * so the forced step needs nothing frozen first. */
  if (op == TETHER_OWNER_OP_FREEZE || op == TETHER_OWNER_OP_THAW)
    {
      GTask *task = g_steal_pointer (&request->task);
      TetherOwnerReply *reply = tether_owner_reply_new ();

      reply->count.n_members = tether_owner_get_n_members (owner);
      g_task_return_pointer (task, reply, (GDestroyNotify) tether_owner_reply_free);
      g_object_unref (task);
      request_free (request);
      return;
    }
  if (!tether_owner_is_running (owner) &&
      (op != TETHER_OWNER_OP_WATCH || tether_owner_empty_was_emitted (owner)))
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_BUSY,
                                          _("Could not %s: the backend is not running"), request->what));
      request_free (request);
      return;
    }

  switch (op)
    {
    case TETHER_OWNER_OP_WATCH:
    case TETHER_OWNER_OP_KILL_SUBTREE:
    case TETHER_OWNER_OP_FREEZE_EXCEPT:
      g_string_append_printf (body, " %d", (int) pid);
      break;
    case TETHER_OWNER_OP_STOP_MAIN:
    case TETHER_OWNER_OP_SIGNAL:
    case TETHER_OWNER_OP_SIGNAL_SUBTREE:
      g_string_append_printf (body, " %d %d", (int) pid, sig);
      break;
    case TETHER_OWNER_OP_TERMINATE_ALL:
      g_string_append_printf (body, " %d", sig > 0 ? sig : SIGTERM);
      break;
    case TETHER_OWNER_OP_MEMBERS:
    case TETHER_OWNER_OP_KILL_ALL:
    case TETHER_OWNER_OP_TOP_LEVEL:
    default:
      break;
    }
  send_request (self, request, body);
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
  self->abandoned = TRUE;
  lose_helper (self, _("Tether let go of the backend"));
}

/* ---- GObject -------------------------------------------------------------- */

static void
tether_owner_win32_dispose (GObject *object)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (object);

  if (self->connected)
    tether_owner_win32_abandon (TETHER_OWNER (self));

  G_OBJECT_CLASS (tether_owner_win32_parent_class)->dispose (object);
}

static void
tether_owner_win32_finalize (GObject *object)
{
  TetherOwnerWin32 *self = TETHER_OWNER_WIN32 (object);

  g_clear_object (&self->in);
  g_clear_object (&self->out);
  g_clear_object (&self->process);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->known, g_array_unref);
  g_hash_table_unref (self->requests);
  g_string_free (self->inbuf, TRUE);
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
  self->inbuf = g_string_new (NULL);
  self->cancellable = g_cancellable_new ();
  self->requests = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) request_free);
  g_queue_init (&self->outq);
}

TetherOwner *
tether_owner_win32_new (void)
{
  TetherOwnerWin32 *self = g_object_new (TETHER_TYPE_OWNER_WIN32, NULL);

  tether_owner_set_kind (TETHER_OWNER (self), TETHER_OWNER_JOB);
  return TETHER_OWNER (self);
}
