/* tether-owner-shim.c: tree ownership through tether-shim (Linux)
 *
 * Both membership kinds put tether-shim at the root of the tree: it is the
 * subreaper that reaps every descendant, reports exits and the moment the
 * tree is empty, and kills the tree if Tether goes away. In cgroup mode the
 * tree also lives in a leaf (tether-cgroup-leaf.c), which makes listing,
 * freezing and killing cheap and atomic; membership is ancestry either way
 * (src/shim/PROTOCOL.md says why).
 *
 * This is the asynchronous client of the shim's protocol: every request is
 * a line with an id, answered by a GTask when the reply line arrives on the
 * main loop, or failed when the shim does not answer in time. Nothing here
 * waits in poll() or read() on the main thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-owner-private.h"
#include "tether-owner-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tether-cgroup-leaf.h"
#include "tether-error.h"
#include "tether-procfs.h"
#include "tether-reaper.h"
#include "tether-relocation.h"
#include "tether-shim-protocol.h"

#define REQUEST_TIMEOUT_S 15
/* A member list of a million processes still fits. */
#define MAX_SHIM_INPUT (64 * 1024 * 1024)
/* How long a tree left behind by a killed shim may take to leave the leaf. */
#define ORPHAN_KILL_TIMEOUT_MS 10000

#define TETHER_TYPE_OWNER_SHIM (tether_owner_shim_get_type ())
G_DECLARE_FINAL_TYPE (TetherOwnerShim, tether_owner_shim, TETHER, OWNER_SHIM, TetherOwner)

typedef struct
{
  GBytes *data;
  gsize offset;
  int *fds;              /* sent with the first byte, then closed */
  guint n_fds;
} Outgoing;

#define REQUEST_SPAWN ((TetherOwnerOp) -1)

typedef struct
{
  guint id;
  TetherOwnerOp op;      /* or REQUEST_SPAWN */
  pid_t pid;
  gboolean is_main;
  char *what;            /* for messages: "start “python3”", "list the members" */
  gint64 deadline;
  gint64 sent_boottime;  /* µs after boot */
  GTask *task;
} Request;

struct _TetherOwnerShim
{
  TetherOwner parent_instance;

  TetherOwnerKind requested_kind;
  TetherCgroupLeaf *leaf;
  GSubprocess *process;
  char *shim_path;
  pid_t shim_pid;

  int fd;
  GSource *read_source;
  GSource *write_source;
  GString *inbuf;
  gsize in_pos;          /* inbuf before it is handled; erased once no */
  guint in_depth;        /* process_input runs (one can nest in another) */
  GQueue outq;
  GHashTable *requests;  /* id -> Request */
  guint next_id;
  GSource *deadline_source;  /* while requests are in flight; only ever one */

  gboolean greeted;
  gboolean abandoned;

  /* Reaper mode, for when the shim is killed and this process (a child
   * subreaper) inherits its orphans: which of its children were members. */
  gint64 shim_start_usec;  /* µs after boot */
  char *tree_tag;          /* TETHER_TREE in every spawn's environment */
  GArray *spawned;         /* pids the shim spawned since the last listing */
  GArray *known;           /* the last member listing */
  gint64 known_at_usec;    /* µs after boot */
};

G_DEFINE_FINAL_TYPE (TetherOwnerShim, tether_owner_shim, TETHER_TYPE_OWNER)

static void process_input (TetherOwnerShim *self);
static void flush_output  (TetherOwnerShim *self);

/* ---- finding the shim --------------------------------------------------- */

static char *
find_shim (GError **error)
{
  const char *env = g_getenv ("TETHER_SHIM");
  /* The shim of the installation this program runs from comes first. */
  g_autofree char *beside = tether_relocated_path (TETHER_LIBEXECDIR_RELATIVE, "tether-shim");
  const char *candidates[] = { beside, TETHER_SHIM_INSTALLED, TETHER_SHIM_BUILD };

  if (env != NULL && *env != '\0')
    {
      if (g_file_test (env, G_FILE_TEST_IS_EXECUTABLE))
        return g_strdup (env);
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("TETHER_SHIM names “%s”, which is not an executable"), env);
      return NULL;
    }

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (candidates[i] != NULL && g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      return g_strdup (candidates[i]);

  g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
               _("The helper tether-shim is not installed (looked in %s); set TETHER_SHIM to its path"),
               TETHER_SHIM_INSTALLED);
  return NULL;
}

/* ---- requests ------------------------------------------------------------ */

static void
outgoing_free (Outgoing *out)
{
  for (guint i = 0; i < out->n_fds; i++)
    close (out->fds[i]);
  g_free (out->fds);
  g_bytes_unref (out->data);
  g_free (out);
}

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

/* The shim cannot be talked to any more: every request in flight fails
 * with why. What happens to the tree is decided when the shim exits. */
static void
lose_shim (TetherOwnerShim *self,
           const char      *reason)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func ((GDestroyNotify) request_free);

  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
  if (self->fd >= 0)
    {
      close (self->fd);
      self->fd = -1;
    }
  g_queue_clear_full (&self->outq, (GDestroyNotify) outgoing_free);
  if (self->deadline_source != NULL)
    {
      g_source_destroy (self->deadline_source);
      g_clear_pointer (&self->deadline_source, g_source_unref);
    }

  /* Out of the table first: a failed task's callback may ask again. */
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
  TetherOwnerShim *self = user_data;
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

  /* The source stays ours while the callbacks run: a request one of them
   * sends finds it running and starts no second one. */
  g_object_ref (self);
  for (guint i = 0; i < expired->len; i++)
    {
      Request *request = g_ptr_array_index (expired, i);

      /* A late reply finds no request and is dropped. */
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_OWNER,
                                          _("Could not %s: tether-shim did not answer within %d s"),
                                          request->what, REQUEST_TIMEOUT_S));
    }

  /* lose_shim (from a callback) has destroyed it already. */
  keep = self->deadline_source != NULL && g_hash_table_size (self->requests) > 0;
  if (!keep && self->deadline_source != NULL)
    g_clear_pointer (&self->deadline_source, g_source_unref);
  g_object_unref (self);

  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Why a request could not even be sent. */
static TetherError
request_error_code (Request *request)
{
  return request->op == REQUEST_SPAWN ? TETHER_ERROR_SPAWN : TETHER_ERROR_OWNER;
}

static void
send_request (TetherOwnerShim *self,
              Request         *request,
              GString         *body,
              const int       *fds,
              guint            n_fds)
{
  Outgoing *out;
  GString *line;
  g_autofree int *copies = NULL;

  if (self->fd < 0)
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_BUSY,
                                          _("Could not %s: the backend is not running"),
                                          request->what));
      request_free (request);
      return;
    }

  request->id = ++self->next_id;
  request->deadline = g_get_monotonic_time () + REQUEST_TIMEOUT_S * G_USEC_PER_SEC;
  request->sent_boottime = tether_procfs_boottime_usec ();
  line = g_string_new (NULL);
  g_string_printf (line, "%u %s\n", request->id, body->str);

  /* The shim reads no longer line (a spawn's arguments and environment). */
  if (line->len > TETHER_SHIM_MAX_LINE)
    {
      fail_request (request, g_error_new (TETHER_ERROR, request_error_code (request),
                                          _("Could not %s: the request is %zu bytes long, "
                                            "and tether-shim reads at most %d"),
                                          request->what, (size_t) line->len, TETHER_SHIM_MAX_LINE));
      request_free (request);
      g_string_free (line, TRUE);
      return;
    }

  if (n_fds > 0)
    {
      /* Copies: the caller keeps its own descriptors. One that cannot be
       * copied fails this request only, not the connection. */
      copies = g_new (int, n_fds);
      for (guint i = 0; i < n_fds; i++)
        {
          copies[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 3);
          if (copies[i] < 0)
            {
              int saved = errno;

              fail_request (request, g_error_new (TETHER_ERROR, request_error_code (request),
                                                  _("Could not %s: cannot pass descriptor %d: %s"),
                                                  request->what, fds[i], g_strerror (saved)));
              request_free (request);
              g_string_free (line, TRUE);
              while (i-- > 0)
                close (copies[i]);
              return;
            }
        }
    }

  out = g_new0 (Outgoing, 1);
  out->data = g_string_free_to_bytes (line);
  out->fds = g_steal_pointer (&copies);
  out->n_fds = out->fds != NULL ? n_fds : 0;
  g_queue_push_tail (&self->outq, out);
  g_hash_table_insert (self->requests, GUINT_TO_POINTER (request->id), request);
  if (self->deadline_source == NULL)
    {
      self->deadline_source = g_timeout_source_new (500);
      g_source_set_callback (self->deadline_source, on_deadline_check, self, NULL);
      g_source_set_static_name (self->deadline_source, "[tether] shim deadlines");
      g_source_attach (self->deadline_source, g_main_context_get_thread_default ());
    }
  flush_output (self);
}

static gboolean
on_writable (int           fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  TetherOwnerShim *self = user_data;

  g_clear_pointer (&self->write_source, g_source_unref);
  flush_output (self);
  return G_SOURCE_REMOVE;
}

static void
flush_output (TetherOwnerShim *self)
{
  Outgoing *out;

  while (self->fd >= 0 && (out = g_queue_peek_head (&self->outq)) != NULL)
    {
      gsize size;
      const char *data = g_bytes_get_data (out->data, &size);
      struct iovec iov = { (char *) data + out->offset, size - out->offset };
      union
      {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * TETHER_SHIM_MAX_SPAWN_FDS)];
      } control;
      struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
      ssize_t n;

      if (out->offset == 0 && out->n_fds > 0)
        {
          struct cmsghdr *c;

          memset (&control, 0, sizeof control);
          msg.msg_control = &control;
          msg.msg_controllen = CMSG_SPACE (sizeof (int) * out->n_fds);
          c = CMSG_FIRSTHDR (&msg);
          c->cmsg_level = SOL_SOCKET;
          c->cmsg_type = SCM_RIGHTS;
          c->cmsg_len = CMSG_LEN (sizeof (int) * out->n_fds);
          memcpy (CMSG_DATA (c), out->fds, sizeof (int) * out->n_fds);
        }

      /* MSG_NOSIGNAL: a dead shim must be an error here, not SIGPIPE. */
      n = sendmsg (self->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          if (self->write_source == NULL)
            {
              self->write_source = g_unix_fd_source_new (self->fd, G_IO_OUT);
              g_source_set_callback (self->write_source, G_SOURCE_FUNC (on_writable), self, NULL);
              g_source_attach (self->write_source, g_main_context_get_thread_default ());
            }
          return;
        }
      if (n < 0)
        {
          int saved = errno;
          g_autofree char *reason = g_strdup_printf (_("the connection to tether-shim broke (%s)"),
                                                     g_strerror (saved));
          lose_shim (self, reason);
          return;
        }

      if (out->offset == 0 && out->n_fds > 0)
        {
          /* Sent with this byte; ours can go. */
          for (guint i = 0; i < out->n_fds; i++)
            close (out->fds[i]);
          out->n_fds = 0;
        }
      out->offset += (gsize) n;
      if (out->offset == size)
        outgoing_free (g_queue_pop_head (&self->outq));
    }
}

/* ---- replies and events --------------------------------------------------- */

static void
complete_request (TetherOwnerShim  *self,
                  Request          *request,
                  char            **words)
{
  GTask *task = g_steal_pointer (&request->task);
  TetherOwnerReply *reply;
  guint64 a = 0, b = 0;

  if (g_str_equal (words[1], "error"))
    {
      guint64 err = 0;
      g_autofree char *text = words[2] != NULL && words[3] != NULL ? tether_owner_protocol_decode_field (words[3]) : g_strdup ("?");

      tether_owner_protocol_parse_uint (words[2], G_MAXINT, &err);
      if (request->op == REQUEST_SPAWN)
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_SPAWN,
                                 _("Could not %s: %s"), request->what,
                                 err != 0 ? g_strerror ((int) err) : text);
      else if (err == ESRCH && request->pid > 0)
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
                               _("Could not %s: tether-shim said something malformed"), request->what);
      g_object_unref (task);
      return;
    }

  if (request->op == REQUEST_SPAWN)
    {
      if (!tether_owner_protocol_parse_uint (words[2], G_MAXINT, &a) || a == 0)
        g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                                 _("Could not %s: tether-shim said something malformed"), request->what);
      else
        {
          /* Now, before any later line: an exit right behind this reply
           * must find the main pid set. */
          tether_owner_spawned (TETHER_OWNER (self), (pid_t) a, request->is_main);
          if (self->leaf == NULL)
            g_array_append_val (self->spawned, (pid_t) { (pid_t) a });
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
      if (request->op == TETHER_OWNER_OP_MEMBERS && self->leaf == NULL)
        {
          /* Taken before the listing: a pid that started after this was
           * reused. A spawn's pid is in the listing if it still lives. */
          g_clear_pointer (&self->known, g_array_unref);
          self->known = g_array_ref (reply->members);
          self->known_at_usec = request->sent_boottime;
          g_array_set_size (self->spawned, 0);
        }
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
handle_event (TetherOwnerShim  *self,
              char            **words)
{
  guint64 a = 0;
  gint64 status = 0;

  if (g_str_equal (words[0], "hello"))
    {
      guint64 version = 0;

      if (!tether_owner_protocol_parse_uint (words[1], G_MAXUINT, &version) || version != TETHER_SHIM_PROTOCOL_VERSION)
        {
          g_autofree char *reason =
            g_strdup_printf (_("%s speaks protocol version %s; this Tether needs version %d "
                               "(is it from another installation?)"),
                             self->shim_path, words[1] != NULL ? words[1] : "?", TETHER_SHIM_PROTOCOL_VERSION);
          lose_shim (self, reason);
          return;
        }
      self->greeted = TRUE;
    }
  else if (g_str_equal (words[0], "exit") &&
           tether_owner_protocol_parse_uint (words[1], G_MAXINT, &a) && words[2] != NULL &&
           g_ascii_string_to_signed (words[2], 10, -1, G_MAXINT, &status, NULL))
    tether_owner_emit_exited (TETHER_OWNER (self), (pid_t) a, (int) status);
  else if (g_str_equal (words[0], "empty"))
    tether_owner_tree_emptied (TETHER_OWNER (self));
  else
    g_message ("tether-shim sent an unknown event: %s", words[0]);
}

static void
process_input (TetherOwnerShim *self)
{
  char *nl;

  g_object_ref (self);
  self->in_depth++;
  while (self->in_pos < self->inbuf->len &&
         (nl = memchr (self->inbuf->str + self->in_pos, '\n', self->inbuf->len - self->in_pos)) != NULL)
    {
      gsize end = (gsize) (nl - self->inbuf->str);
      g_autofree char *line = g_strndup (self->inbuf->str + self->in_pos, end - self->in_pos);
      g_auto(GStrv) words = NULL;
      guint64 id;

      /* Past it before it is handled: what that runs may read on (a
       * nested main loop hearing the shim's exit). */
      self->in_pos = end + 1;
      words = g_strsplit (line, " ", -1);
      if (words[0] == NULL || words[0][0] == '\0')
        continue;

      if (g_ascii_isdigit (words[0][0]))
        {
          Request *request;

          if (!tether_owner_protocol_parse_uint (words[0], G_MAXUINT, &id) || words[1] == NULL)
            {
              g_message ("tether-shim sent a malformed reply: %.80s", line);
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
  /* Once, not per line: erasing each line moved all that followed it. */
  if (--self->in_depth == 0)
    {
      g_string_erase (self->inbuf, 0, (gssize) self->in_pos);
      self->in_pos = 0;
    }
  g_object_unref (self);
}

/* Reads what is there; FALSE once the shim has closed its end. */
static gboolean
read_available (TetherOwnerShim *self)
{
  char buf[16384];

  while (self->fd >= 0)
    {
      ssize_t n = read (self->fd, buf, sizeof buf);

      if (n > 0)
        {
          if (self->inbuf->len - self->in_pos + (gsize) n > MAX_SHIM_INPUT)
            {
              lose_shim (self, _("tether-shim sent more than it may"));
              return FALSE;
            }
          g_string_append_len (self->inbuf, buf, n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      return FALSE;
    }
  return FALSE;
}

static gboolean
on_readable (int           fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  TetherOwnerShim *self = user_data;
  gboolean open = read_available (self);

  process_input (self);
  if (!open && self->read_source != NULL)
    {
      /* Only stop listening: the shim's exit decides what it means. */
      g_clear_pointer (&self->read_source, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the shim's life ------------------------------------------------------ */

static void
on_orphans_gone (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(TetherOwnerShim) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_cgroup_leaf_wait_empty_finish (result, &error))
    g_message ("After tether-shim died, %s still holds processes: %s",
               tether_cgroup_leaf_get_path (self->leaf), error->message);
  else if (!tether_cgroup_leaf_remove (self->leaf))
    g_debug ("Could not remove %s: %s", tether_cgroup_leaf_get_path (self->leaf), g_strerror (errno));
  tether_owner_emit_empty (TETHER_OWNER (self));
}

static void
on_orphans_ended (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(TetherOwnerShim) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = tether_reaper_end_orphans_finish (result, &error);

  if (n < 0)
    g_message ("After tether-shim died: %s", error->message);
  else
    g_message (g_dngettext (GETTEXT_PACKAGE, "Ended %d process tether-shim left behind",
                            "Ended %d processes tether-shim left behind", (gulong) n), (int) n);
  tether_owner_emit_empty (TETHER_OWNER (self));
}

static void
on_shim_exited (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(TetherOwnerShim) self = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);

  /* Whatever the shim said last is still in the socket: hear it first. */
  if (self->fd >= 0)
    {
      read_available (self);
      process_input (self);
    }
  lose_shim (self, self->greeted ? _("tether-shim exited")
                                 : _("tether-shim exited without greeting (is it from another installation?)"));

  if (tether_owner_empty_was_emitted (TETHER_OWNER (self)))
    return;

  /* Killed from outside. In cgroup mode the tree is still fenced in and
   * can be killed here; once the last task has left the leaf, it goes too.
   * In reaper mode its orphans went to init, out of reach. */
  if (self->leaf != NULL)
    {
      tether_cgroup_leaf_kill (self->leaf);
      if (!self->abandoned)
        g_message ("tether-shim died unexpectedly; killing what was left in %s",
                   tether_cgroup_leaf_get_path (self->leaf));
      tether_cgroup_leaf_wait_empty_async (self->leaf, ORPHAN_KILL_TIMEOUT_MS, NULL,
                                           on_orphans_gone, g_object_ref (self));
      return;
    }
  if (!self->abandoned && tether_reaper_is_installed ())
    {
      /* This process is a subreaper: the orphans came here. */
      g_message ("tether-shim died unexpectedly; ending the processes it left behind");
      tether_reaper_end_orphans_async (self->spawned, self->known, self->known_at_usec, self->shim_start_usec,
                                       self->tree_tag, ORPHAN_KILL_TIMEOUT_MS, NULL, on_orphans_ended, g_object_ref (self));
      return;
    }
  if (!self->abandoned)
    g_message ("tether-shim died unexpectedly; the backend’s processes may have been left behind");
  tether_owner_emit_empty (TETHER_OWNER (self));
}

static void
restore_nofile_limit (gpointer user_data)
{
  tether_procfs_restore_nofile_limit ();
}

static gboolean
start_shim (TetherOwnerShim  *self,
            GError          **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) local_error = NULL;
  TetherOwnerKind kind = self->requested_kind;
  int pair[2];

  self->shim_path = find_shim (error);
  if (self->shim_path == NULL)
    return FALSE;

  /* A Flatpak sandbox has no cgroup hierarchy to write (and no clone3):
   * the subreaper shim alone owns the tree there, without trying. */
  if (kind == TETHER_OWNER_AUTO && tether_owner_in_flatpak ())
    {
      g_debug ("In a Flatpak sandbox (/.flatpak-info): using the subreaper shim");
      kind = TETHER_OWNER_REAPER;
    }

  if (kind != TETHER_OWNER_REAPER)
    {
      self->leaf = tether_cgroup_leaf_new (&local_error);
      if (self->leaf != NULL)
        kind = TETHER_OWNER_CGROUP;
      else if (kind == TETHER_OWNER_CGROUP)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          goto fail;
        }
      else
        {
          g_debug ("No cgroup ownership (%s); using the subreaper shim", local_error->message);
          kind = TETHER_OWNER_REAPER;
        }
    }
  tether_owner_set_kind (TETHER_OWNER (self), kind);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
    {
      int saved = errno;
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_OWNER,
                   _("Cannot create the control socket: %s"), g_strerror (saved));
      goto fail;
    }
  g_unix_set_fd_nonblocking (pair[0], TRUE, NULL);

  g_ptr_array_add (argv, self->shim_path);
  g_ptr_array_add (argv, (char *) "--control-fd");
  g_ptr_array_add (argv, (char *) "3");
  if (self->leaf != NULL)
    {
      g_ptr_array_add (argv, (char *) "--cgroup");
      g_ptr_array_add (argv, (char *) tether_cgroup_leaf_get_path (self->leaf));
      g_ptr_array_add (argv, (char *) "--cgroup-rel");
      g_ptr_array_add (argv, (char *) tether_cgroup_leaf_get_relative_path (self->leaf));
    }
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_fd (launcher, pair[1], 3);
  /* The shim, and so the backend, start with the fd limit Tether started
   * with, not the one the sampler raised for itself. */
  g_subprocess_launcher_set_child_setup (launcher, restore_nofile_limit, NULL, NULL);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
  if (self->process == NULL)
    {
      close (pair[0]);
      goto fail;
    }

  self->fd = pair[0];
  self->shim_pid = (pid_t) atoi (g_subprocess_get_identifier (self->process));
  {
    TetherProcStat st;

    /* Its orphans started after it; now, or the moment it was spawned. */
    self->shim_start_usec = tether_procfs_read_stat (self->shim_pid, &st) == 0
      ? tether_procfs_start_usec (&st) : tether_procfs_boottime_usec ();
  }
  g_free (self->tree_tag);
  self->tree_tag = g_strdup_printf ("%d.%d", (int) getpid (), (int) self->shim_pid);
  self->read_source = g_unix_fd_source_new (self->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_set_static_name (self->read_source, "[tether] shim replies");
  g_source_attach (self->read_source, g_main_context_get_thread_default ());
  g_subprocess_wait_async (self->process, NULL, on_shim_exited, g_object_ref (self));
  return TRUE;

fail:
  /* Nothing of a failed start stays: the next spawn starts afresh. */
  if (self->leaf != NULL)
    tether_cgroup_leaf_remove (self->leaf);
  g_clear_pointer (&self->leaf, tether_cgroup_leaf_free);
  g_clear_pointer (&self->shim_path, g_free);
  return FALSE;
}

/* ---- TetherOwner ---------------------------------------------------------- */

static void
tether_owner_shim_spawn_async (TetherOwner               *owner,
                               const TetherSpawnRequest  *spawn,
                               GCancellable              *cancellable,
                               GAsyncReadyCallback        callback,
                               gpointer                   user_data)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);
  g_autoptr(GString) body = g_string_new ("spawn");
  g_auto(GStrv) own_env = NULL;
  g_autofree char *own_cwd = NULL;
  const char * const *envp = spawn->envp;
  g_autofree char *name = g_path_get_basename (spawn->argv[0]);
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  Request *request;
  GError *error = NULL;
  guint n;

  request = g_new0 (Request, 1);
  request->op = REQUEST_SPAWN;
  request->is_main = spawn->is_main;
  request->what = g_strdup_printf (_("start “%s”"), name);
  request->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (request->task, tether_owner_shim_spawn_async);

  if (self->process == NULL && !start_shim (self, &error))
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
  if (spawn->n_fds + (spawn->redirect_stdio ? 2 : 0) > TETHER_SHIM_MAX_SPAWN_FDS)
    {
      fail_request (request, g_error_new (TETHER_ERROR, TETHER_ERROR_SPAWN,
                                          _("Could not %s: at most %d descriptors can be passed (stdout and stderr count)"),
                                          request->what, TETHER_SHIM_MAX_SPAWN_FDS));
      request_free (request);
      return;
    }

  /* Tagged: what the tree forks inherits it (unless it clears its
   * environment), so its orphans can be told from strangers. */
  own_env = envp != NULL ? g_strdupv ((char **) envp) : g_get_environ ();
  own_env = g_environ_setenv (own_env, "TETHER_TREE", self->tree_tag, TRUE);
  envp = (const char * const *) own_env;
  if (spawn->cwd == NULL)
    own_cwd = g_get_current_dir ();

  {
    g_autoptr(GPtrArray) flags = g_ptr_array_new ();

    if (spawn->listen_pid)
      g_ptr_array_add (flags, (char *) "listen-pid");
    if (spawn->redirect_stdio)
      {
        g_ptr_array_add (flags, (char *) "stdio");
        /* stdout and stderr travel first, then the descriptors for 3... */
        g_array_append_val (fds, spawn->stdout_fd);
        g_array_append_val (fds, spawn->stderr_fd);
      }
    g_ptr_array_add (flags, NULL);
    if (flags->len > 1)
      {
        g_autofree char *joined = g_strjoinv (",", (char **) flags->pdata);
        g_string_append_printf (body, " %s", joined);
      }
    else
      g_string_append (body, " -");
  }
  g_array_append_vals (fds, spawn->fds, spawn->n_fds);
  g_string_append_printf (body, " %u", fds->len);
  tether_owner_protocol_append_field (body, spawn->cwd != NULL ? spawn->cwd : own_cwd);
  n = g_strv_length ((char **) spawn->argv);
  g_string_append_printf (body, " %u", n);
  for (guint i = 0; i < n; i++)
    tether_owner_protocol_append_field (body, spawn->argv[i]);
  n = g_strv_length ((char **) envp);
  g_string_append_printf (body, " %u", n);
  for (guint i = 0; i < n; i++)
    tether_owner_protocol_append_field (body, envp[i]);

  send_request (self, request, body, (const int *) fds->data, fds->len);
}

static void
tether_owner_shim_run_async (TetherOwner         *owner,
                             TetherOwnerOp        op,
                             pid_t                pid,
                             int                  sig,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);
  g_autoptr(GString) body = g_string_new (tether_owner_protocol_verb (op));
  Request *request = g_new0 (Request, 1);

  request->op = op;
  request->pid = pid;
  request->what = tether_owner_protocol_describe (op, pid);
  request->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (request->task, tether_owner_shim_run_async);

  /* A tree that never was, or has ended, has no members to act on. */
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
  /* A watch may come before the spawn's reply is heard (a fast backend's
   * MAINPID=): the shim answers requests in the order they were sent, so
   * it hears the watch once the spawn went through. Without a shim to
   * send it to, send_request refuses it. */
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
    case TETHER_OWNER_OP_FREEZE:
    case TETHER_OWNER_OP_THAW:
    case TETHER_OWNER_OP_KILL_ALL:
    default:
      break;
    }
  send_request (self, request, body, NULL, 0);
}

static gboolean
tether_owner_shim_is_member (TetherOwner *owner,
                             pid_t        pid)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  /* Not "running": a fast backend may speak before its spawn is answered.
   * Ancestry in both kinds: the shim is a subreaper, so whatever the tree
   * forked is its descendant, and a stranger a root backend wrote into the
   * leaf is not. */
  if (self->shim_pid <= 0 || tether_owner_empty_was_emitted (owner) ||
      pid <= 1 || pid == self->shim_pid)
    return FALSE;
  return tether_procfs_is_descendant (pid, self->shim_pid) == 1;
}

static gboolean
tether_owner_shim_get_tree_cpu_usage (TetherOwner *owner,
                                      guint64     *usec)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  return self->leaf != NULL && tether_cgroup_leaf_read_cpu_usage (self->leaf, usec);
}

static gboolean
tether_owner_shim_get_tree_memory (TetherOwner *owner,
                                   guint64     *bytes)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  return self->leaf != NULL && tether_cgroup_leaf_read_memory (self->leaf, bytes);
}

static const char *
tether_owner_shim_get_location (TetherOwner *owner)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  return self->leaf != NULL ? tether_cgroup_leaf_get_path (self->leaf) : NULL;
}

static void
tether_owner_shim_abandon (TetherOwner *owner)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (owner);

  /* Closing the socket is enough: the shim kills and reaps the tree. */
  self->abandoned = TRUE;
  lose_shim (self, _("Tether let go of the backend"));
}

/* ---- GObject -------------------------------------------------------------- */

static void
tether_owner_shim_dispose (GObject *object)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (object);

  /* Only g_object_run_dispose gets here with the shim still connected.
   * While it is, the wait for its exit holds a reference to the owner
   * (dropped after lose_shim closed the socket): dropping every other
   * reference does not end the tree, tether_owner_abandon does. */
  if (self->fd >= 0)
    tether_owner_shim_abandon (TETHER_OWNER (self));

  G_OBJECT_CLASS (tether_owner_shim_parent_class)->dispose (object);
}

static void
tether_owner_shim_finalize (GObject *object)
{
  TetherOwnerShim *self = TETHER_OWNER_SHIM (object);

  g_clear_object (&self->process);
  g_clear_pointer (&self->leaf, tether_cgroup_leaf_free);
  g_clear_pointer (&self->spawned, g_array_unref);
  g_clear_pointer (&self->known, g_array_unref);
  g_free (self->tree_tag);
  g_hash_table_unref (self->requests);
  g_string_free (self->inbuf, TRUE);
  g_free (self->shim_path);

  G_OBJECT_CLASS (tether_owner_shim_parent_class)->finalize (object);
}

static void
tether_owner_shim_class_init (TetherOwnerShimClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  TetherOwnerClass *owner_class = TETHER_OWNER_CLASS (klass);

  object_class->dispose = tether_owner_shim_dispose;
  object_class->finalize = tether_owner_shim_finalize;

  owner_class->spawn_async = tether_owner_shim_spawn_async;
  owner_class->run_async = tether_owner_shim_run_async;
  owner_class->is_member = tether_owner_shim_is_member;
  owner_class->get_tree_cpu_usage = tether_owner_shim_get_tree_cpu_usage;
  owner_class->get_tree_memory = tether_owner_shim_get_tree_memory;
  owner_class->get_location = tether_owner_shim_get_location;
  owner_class->abandon = tether_owner_shim_abandon;
}

static void
tether_owner_shim_init (TetherOwnerShim *self)
{
  self->fd = -1;
  self->inbuf = g_string_new (NULL);
  self->requests = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) request_free);
  g_queue_init (&self->outq);
  self->spawned = g_array_new (FALSE, FALSE, sizeof (pid_t));
}

TetherOwner *
tether_owner_shim_new (TetherOwnerKind kind)
{
  TetherOwnerShim *self = g_object_new (TETHER_TYPE_OWNER_SHIM, NULL);

  self->requested_kind = kind;
  tether_owner_set_kind (TETHER_OWNER (self), kind);
  return TETHER_OWNER (self);
}
