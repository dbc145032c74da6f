/* tether-notify.c: an sd_notify-compatible NOTIFY_SOCKET server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-notify.h"
#include "tether-text.h"

/* sd_notify datagrams are small; systemd reads them into a buffer of this
 * size too, so anything longer is treated as garbage rather than grown into. */
#define NOTIFY_BUFFER_SIZE 4096

/* SCM_MAX_FD: the most descriptors one datagram can carry. The control buffer
 * is large enough for all of them so that none is left open in our process
 * behind a truncated control message. */
#define NOTIFY_MAX_FDS 253

/* Asked for, not guaranteed: the kernel caps it at net.core.rmem_max. A larger
 * queue keeps a burst of notifications from blocking the backend. */
#define NOTIFY_RCVBUF_SIZE (1024 * 1024)


/* What a backend's words may cost us: STATUS= and labels are kept and shown,
 * so they are cut to a size a status line and a list row can show. */
#define STATUS_MAX_BYTES 1024
#define CHECKPOINT_LABEL_MAX_BYTES 256

/* A member may speak this often; beyond it, its datagrams are dropped and
 * counted until the next second. A pool worker reporting every request
 * sends cumulative counts, so a dropped one loses nothing. */
#define NOTIFY_MAX_PER_SECOND 1000

/* Datagrams read per wakeup: a sender that never pauses must not keep the
 * main loop from everything else. */
#define NOTIFY_MAX_PER_WAKEUP 256

/* Datagrams whose sender cannot be judged yet (TETHER_NOTIFY_ASK_AGAIN):
 * how many wait, how often and how long they are asked about again. */
#define NOTIFY_MAX_WAITING 64
#define NOTIFY_RETRY_MS 20
#define NOTIFY_MAX_RETRIES 25

/* How much of an offending line an error message quotes. */
#define EXCERPT_MAX_CHARS 40

struct _TetherNotify
{
  GObject parent_instance;

  char *socket_path;   /* "@name": the abstract address, as NOTIFY_SOCKET says it */
  int fd;
  GSource *source;

  /* Rate limit: datagrams heard from each sender in the current second. */
  GHashTable *heard;   /* pid -> count */
  gint64 window_start;

  GQueue waiting;      /* of Waiting: senders the filter could not judge yet */
  guint retry_timer;

  TetherNotifySenderFilter filter;
  gpointer filter_data;
  GDestroyNotify filter_destroy;

  guint n_dropped;
  guint n_malformed;
  guint n_rate_limited;
};

enum {
  PROP_0,
  PROP_SOCKET_PATH,
  N_PROPS
};

enum {
  MESSAGE,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void tether_notify_initable_iface_init (GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE (TetherNotify, tether_notify, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                tether_notify_initable_iface_init))

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

/* Quotes untrusted text for an error message: bounded in length, and with
 * every unsafe character escaped (tether-text.h: controls, and the bidi
 * overrides that would reorder the rest of the log line) so that a hostile
 * datagram cannot forge log lines or drive the terminal. text must be
 * valid UTF-8. */
static char *
quote_excerpt (const char *text)
{
  GString *quoted = g_string_new ("\"");
  guint n_chars = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p), n_chars++)
    {
      gunichar c = g_utf8_get_char (p);

      if (n_chars == EXCERPT_MAX_CHARS)
        {
          g_string_append (quoted, "\"…");
          return g_string_free (quoted, FALSE);
        }

      if (c == '"' || c == '\\')
        g_string_append_printf (quoted, "\\%c", (char) c);
      else if (tether_text_is_unsafe_char (c))
        g_string_append_printf (quoted, "\\u%04x", c);
      else
        g_string_append_unichar (quoted, c);
    }

  g_string_append_c (quoted, '"');

  return g_string_free (quoted, FALSE);
}

static guint
line_number_at (const char *data,
                gsize       offset)
{
  guint line = 1;

  for (gsize i = 0; i < offset; i++)
    {
      if (data[i] == '\n')
        line++;
    }

  return line;
}

/* Plain decimal digits only: no sign, no whitespace, no base prefix, since
 * sd_notify senders never produce them and accepting them would hide bugs. */
static gboolean
parse_decimal (const char *text,
               guint64     max,
               guint64    *out_value)
{
  guint64 value = 0;

  if (*text == '\0')
    return FALSE;

  for (const char *p = text; *p != '\0'; p++)
    {
      guint digit;

      if (!g_ascii_isdigit (*p))
        return FALSE;

      digit = *p - '0';
      if (value > (max - digit) / 10)
        return FALSE;

      value = value * 10 + digit;
    }

  *out_value = value;

  return TRUE;
}

static gboolean
is_valid_key (const char *key)
{
  if (*key == '\0')
    return FALSE;

  for (const char *p = key; *p != '\0'; p++)
    {
      if (!g_ascii_isupper (*p) && !g_ascii_isdigit (*p) && *p != '_')
        return FALSE;
    }

  return TRUE;
}

gboolean
tether_checkpoint_id_is_valid (const char *id)
{
  gsize length = strlen (id);

  if (length == 0 || length > TETHER_CHECKPOINT_ID_MAX_LENGTH)
    return FALSE;

  for (const char *p = id; *p != '\0'; p++)
    {
      if (!g_ascii_isalnum (*p) && strchr ("._:-", *p) == NULL)
        return FALSE;
    }

  return TRUE;
}

static gboolean
set_flag (const char *key,
          const char *value,
          guint       line,
          gboolean   *flag,
          GError    **error)
{
  if (strcmp (value, "1") != 0)
    {
      g_autofree char *quoted = quote_excerpt (value);

      /* Translators: the first %s is a protocol key such as READY, the second
       * the (quoted) value that was sent instead of 1. */
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("line %u: %s must be \"1\", not %s"),
                   line, key, quoted);
      return FALSE;
    }

  *flag = TRUE;

  return TRUE;
}

static gboolean
set_usec (const char *key,
          const char *value,
          guint       line,
          gint64     *usec,
          GError    **error)
{
  guint64 parsed;

  if (!parse_decimal (value, G_MAXINT64, &parsed))
    {
      g_autofree char *quoted = quote_excerpt (value);

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("line %u: %s must be a number of microseconds, not %s"),
                   line, key, quoted);
      return FALSE;
    }

  *usec = (gint64) parsed;

  return TRUE;
}

static gboolean
parse_line (char                *line,
            guint                line_number,
            TetherNotifyMessage *msg,
            GError             **error)
{
  const char *key = line;
  char *value;
  char *equals;

  equals = strchr (line, '=');
  if (equals == NULL)
    {
      g_autofree char *quoted = quote_excerpt (line);

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("line %u: %s has no \"=\""),
                   line_number, quoted);
      return FALSE;
    }

  *equals = '\0';
  value = equals + 1;

  if (*key == '\0')
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("line %u: the key before \"=\" is empty"),
                   line_number);
      return FALSE;
    }

  if (!is_valid_key (key))
    {
      g_autofree char *quoted = quote_excerpt (key);

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("line %u: key %s may only contain A-Z, 0-9 and \"_\""),
                   line_number, quoted);
      return FALSE;
    }

  if (strcmp (key, "READY") == 0)
    return set_flag (key, value, line_number, &msg->ready, error);

  if (strcmp (key, "STOPPING") == 0)
    return set_flag (key, value, line_number, &msg->stopping, error);

  if (strcmp (key, "RELOADING") == 0)
    return set_flag (key, value, line_number, &msg->reloading, error);

  if (strcmp (key, "STATUS") == 0)
    {
      tether_text_sanitize_in_place (value, STATUS_MAX_BYTES);
      msg->status = value;
      return TRUE;
    }

  if (strcmp (key, "WATCHDOG") == 0)
    {
      /* A ping and an immediate trigger exclude each other, so a repeated key
       * replaces both rather than accumulating. */
      if (strcmp (value, "1") == 0)
        {
          msg->watchdog = TRUE;
          msg->watchdog_trigger = FALSE;
          return TRUE;
        }

      if (strcmp (value, "trigger") == 0)
        {
          msg->watchdog = FALSE;
          msg->watchdog_trigger = TRUE;
          return TRUE;
        }

      {
        g_autofree char *quoted = quote_excerpt (value);

        g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                     _("line %u: WATCHDOG must be \"1\" or \"trigger\", not %s"),
                     line_number, quoted);
        return FALSE;
      }
    }

  if (strcmp (key, "WATCHDOG_USEC") == 0)
    return set_usec (key, value, line_number, &msg->watchdog_usec, error);

  if (strcmp (key, "EXTEND_TIMEOUT_USEC") == 0)
    return set_usec (key, value, line_number, &msg->extend_timeout_usec, error);

  if (strcmp (key, "MAINPID") == 0)
    {
      guint64 pid;

      if (!parse_decimal (value, INT_MAX, &pid) || pid == 0)
        {
          g_autofree char *quoted = quote_excerpt (value);

          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("line %u: MAINPID must be a process ID, not %s"),
                       line_number, quoted);
          return FALSE;
        }

      msg->mainpid = (pid_t) pid;
      return TRUE;
    }

  if (strcmp (key, "ERRNO") == 0)
    {
      guint64 errno_value;

      if (!parse_decimal (value, INT_MAX, &errno_value))
        {
          g_autofree char *quoted = quote_excerpt (value);

          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("line %u: ERRNO must be a non-negative number, not %s"),
                       line_number, quoted);
          return FALSE;
        }

      msg->errno_value = (int) errno_value;
      return TRUE;
    }

  if (strcmp (key, "X_TETHER_REQUESTS") == 0)
    {
      guint64 requests;

      if (!parse_decimal (value, G_MAXINT64, &requests))
        {
          g_autofree char *quoted = quote_excerpt (value);

          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("line %u: X_TETHER_REQUESTS must be a non-negative number, not %s"),
                       line_number, quoted);
          return FALSE;
        }

      msg->requests = (gint64) requests;
      return TRUE;
    }

  if (strcmp (key, "X_TETHER_CHECKPOINT") == 0)
    {
      char *space;
      const char *label = NULL;

      if (*value == '\0')
        {
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("line %u: X_TETHER_CHECKPOINT has no checkpoint ID"),
                       line_number);
          return FALSE;
        }

      space = strchr (value, ' ');
      if (space != NULL)
        {
          *space = '\0';
          if (space[1] != '\0')
            {
              tether_text_sanitize_in_place (space + 1, CHECKPOINT_LABEL_MAX_BYTES);
              label = space + 1;
            }
        }

      if (!tether_checkpoint_id_is_valid (value))
        {
          g_autofree char *quoted = quote_excerpt (value);

          /* Translators: %d is the maximum length of the ID. */
          g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                       _("line %u: checkpoint ID %s must be 1 to %d characters "
                         "from A-Z, a-z, 0-9 and \"._:-\""),
                       line_number, quoted, TETHER_CHECKPOINT_ID_MAX_LENGTH);
          return FALSE;
        }

      msg->checkpoint_id = value;
      msg->checkpoint_label = label;
      return TRUE;
    }

  /* Unknown keys (FDSTORE, FDNAME, BUSERROR, …) are part of the sd_notify
   * protocol that Tether does not act on; backends written for systemd send
   * them and must still be heard. */
  return TRUE;
}

gboolean
tether_notify_parse (const char           *data,
                     gsize                 length,
                     TetherNotifyMessage  *msg,
                     char                **storage,
                     GError              **error)
{
  g_autofree char *copy = NULL;
  const char *nul;
  const char *invalid;
  char *line;
  guint line_number = 0;
  gboolean any_line = FALSE;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (storage != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *storage = NULL;

  memset (msg, 0, sizeof *msg);
  msg->watchdog_usec = -1;
  msg->extend_timeout_usec = -1;
  msg->errno_value = -1;
  msg->requests = -1;

  nul = length > 0 ? memchr (data, '\0', length) : NULL;
  if (nul != NULL)
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("line %u: contains a NUL byte"),
                   line_number_at (data, nul - data));
      return FALSE;
    }

  if (!g_utf8_validate_len (data, length, &invalid))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                   _("line %u: not valid UTF-8"),
                   line_number_at (data, invalid - data));
      return FALSE;
    }

  copy = g_strndup (data, length);

  line = copy;
  while (line != NULL)
    {
      char *newline = strchr (line, '\n');

      if (newline != NULL)
        *newline = '\0';

      line_number++;

      if (*line != '\0')
        {
          any_line = TRUE;

          if (!parse_line (line, line_number, msg, error))
            return FALSE;
        }

      line = newline != NULL ? newline + 1 : NULL;
    }

  if (!any_line)
    {
      g_set_error_literal (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                           _("the datagram is empty"));
      return FALSE;
    }

  *storage = g_steal_pointer (&copy);

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Server                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct
{
  pid_t sender;
  int flags;           /* recvmsg's msg_flags */
  guint retries;
  gsize length;
  char data[];
} Waiting;

static TetherNotifyVerdict
judge_sender (TetherNotify *self,
              pid_t         sender)
{
  if (self->filter == NULL)
    return TETHER_NOTIFY_HEAR;

  return self->filter (sender, self->filter_data);
}

/* Counts one datagram from sender; FALSE (and counted as rate-limited) when
 * it is over its budget for the current second. */
static gboolean
within_rate (TetherNotify *self,
             pid_t         sender)
{
  gint64 now = g_get_monotonic_time ();
  guint count;

  if (now - self->window_start >= G_USEC_PER_SEC)
    {
      g_hash_table_remove_all (self->heard);
      self->window_start = now;
    }

  count = GPOINTER_TO_UINT (g_hash_table_lookup (self->heard, GINT_TO_POINTER (sender))) + 1;
  g_hash_table_insert (self->heard, GINT_TO_POINTER (sender), GUINT_TO_POINTER (count));
  if (count <= NOTIFY_MAX_PER_SECOND)
    return TRUE;

  self->n_rate_limited++;
  if (count == NOTIFY_MAX_PER_SECOND + 1)
    g_message (_("Process %d sends more than %d notifications a second; "
                 "dropping the rest of this second’s"),
               (int) sender, NOTIFY_MAX_PER_SECOND);
  return FALSE;
}

/* A datagram from a sender that is heard. */
static void
handle_datagram (TetherNotify *self,
                 pid_t         sender,
                 const char   *data,
                 gsize         length,
                 int           flags)
{
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  if (!within_rate (self, sender))
    return;

  if (flags & MSG_TRUNC)
    g_set_error (&error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                 _("the datagram is longer than %d bytes"), NOTIFY_BUFFER_SIZE);
  else if (flags & MSG_CTRUNC)
    g_set_error_literal (&error, TETHER_ERROR, TETHER_ERROR_PROTOCOL,
                         _("the datagram carries too many file descriptors"));
  else
    tether_notify_parse (data, length, &msg, &storage, &error);

  if (error != NULL)
    {
      self->n_malformed++;
      g_message (_("Ignored a malformed notification from process %d: %s"),
                 (int) sender, error->message);
      return;
    }

  msg.sender = sender;
  g_signal_emit (self, signals[MESSAGE], 0, &msg);
}

static gboolean
on_retry (gpointer user_data)
{
  TetherNotify *self = user_data;
  GQueue still = G_QUEUE_INIT;
  Waiting *waiting;

  self->retry_timer = 0;
  g_object_ref (self);
  while ((waiting = g_queue_pop_head (&self->waiting)) != NULL)
    {
      TetherNotifyVerdict verdict = judge_sender (self, waiting->sender);

      if (verdict == TETHER_NOTIFY_HEAR)
        handle_datagram (self, waiting->sender, waiting->data, waiting->length, waiting->flags);
      else if (verdict == TETHER_NOTIFY_ASK_AGAIN && ++waiting->retries < NOTIFY_MAX_RETRIES)
        {
          g_queue_push_tail (&still, waiting);
          continue;
        }
      else
        {
          self->n_dropped++;
          g_debug ("Dropped a notification from process %d: not in the owned tree",
                   (int) waiting->sender);
        }
      g_free (waiting);
      if (self->fd < 0)
        break;  /* a handler disposed of us */
    }
  g_queue_clear_full (&self->waiting, g_free);
  if (self->fd < 0)
    g_queue_clear_full (&still, g_free);  /* disposed: none is judged again */
  self->waiting = still;
  if (!g_queue_is_empty (&self->waiting) && self->fd >= 0)
    self->retry_timer = g_timeout_add (NOTIFY_RETRY_MS, on_retry, self);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* The sender is gone already and the filter cannot tell yet whether it was
 * a member: the datagram waits (a bounded few, for a bounded while) and is
 * judged again. */
static void
wait_for_verdict (TetherNotify *self,
                  pid_t         sender,
                  const char   *data,
                  gsize         length,
                  int           flags)
{
  Waiting *waiting;

  if (g_queue_get_length (&self->waiting) >= NOTIFY_MAX_WAITING)
    {
      self->n_dropped++;
      return;
    }
  waiting = g_malloc (sizeof *waiting + length);
  waiting->sender = sender;
  waiting->flags = flags;
  waiting->retries = 0;
  waiting->length = length;
  memcpy (waiting->data, data, length);
  g_queue_push_tail (&self->waiting, waiting);
  if (self->retry_timer == 0)
    self->retry_timer = g_timeout_add (NOTIFY_RETRY_MS, on_retry, self);
}

/* Reads one datagram. Returns FALSE when the queue is empty (or unreadable),
 * so that the caller stops draining it. */
static gboolean
tether_notify_receive_one (TetherNotify *self)
{
  char buffer[NOTIFY_BUFFER_SIZE];
  union
  {
    struct cmsghdr align;
    char buffer[CMSG_SPACE (sizeof (struct ucred)) +
                CMSG_SPACE (sizeof (int) * NOTIFY_MAX_FDS)];
  } control;
  struct iovec iov = { .iov_base = buffer, .iov_len = sizeof buffer };
  struct msghdr header = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = &control,
    .msg_controllen = sizeof control,
  };
  gboolean have_credentials = FALSE;
  struct ucred credentials = { 0 };
  ssize_t length;

  length = recvmsg (self->fd, &header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (length < 0)
    {
      int saved_errno = errno;

      if (saved_errno == EINTR)
        return TRUE;

      if (saved_errno != EAGAIN && saved_errno != EWOULDBLOCK)
        g_message (_("Could not read from the notification socket “%s”: %s"),
                   self->socket_path, g_strerror (saved_errno));

      return FALSE;
    }

  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&header);
       cmsg != NULL;
       cmsg = CMSG_NXTHDR (&header, cmsg))
    {
      if (cmsg->cmsg_level != SOL_SOCKET)
        continue;

      if (cmsg->cmsg_type == SCM_CREDENTIALS &&
          cmsg->cmsg_len == CMSG_LEN (sizeof (struct ucred)))
        {
          memcpy (&credentials, CMSG_DATA (cmsg), sizeof credentials);
          have_credentials = TRUE;
        }
      else if (cmsg->cmsg_type == SCM_RIGHTS)
        {
          /* FDSTORE is not supported: descriptors handed over must not stay
           * open here, or a backend could exhaust our descriptor table. */
          gsize n_fds = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);

          for (gsize i = 0; i < n_fds; i++)
            {
              int passed_fd;

              memcpy (&passed_fd, CMSG_DATA (cmsg) + i * sizeof (int), sizeof passed_fd);
              g_close (passed_fd, NULL);
            }
        }
    }

  /* A pid of 0 means the sender lives in a PID namespace we cannot see, which
   * is as anonymous as no credentials at all. */
  if (!have_credentials || credentials.pid <= 0)
    {
      self->n_dropped++;
      g_debug ("Dropped a notification without sender credentials");
      return TRUE;
    }

  /* Checked before parsing, so that processes outside the owned tree can
   * neither bump the malformed count nor fill the log. */
  switch (judge_sender (self, credentials.pid))
    {
    case TETHER_NOTIFY_HEAR:
      handle_datagram (self, credentials.pid, buffer, (gsize) length, header.msg_flags);
      break;
    case TETHER_NOTIFY_ASK_AGAIN:
      wait_for_verdict (self, credentials.pid, buffer, (gsize) length, header.msg_flags);
      break;
    case TETHER_NOTIFY_DROP:
    default:
      self->n_dropped++;
      g_debug ("Dropped a notification from process %d: not in the owned tree",
               (int) credentials.pid);
    }
  return TRUE;
}

static gboolean
tether_notify_on_readable (int           fd,
                           GIOCondition  condition,
                           gpointer      user_data)
{
  TetherNotify *self = user_data;

  if (condition & G_IO_NVAL)
    {
      g_message (_("The notification socket “%s” was closed unexpectedly"),
                 self->socket_path);
      return G_SOURCE_REMOVE;
    }

  /* A "message" handler may drop the last reference to us. */
  g_object_ref (self);

  /* Draining a batch on each wakeup keeps a burst of datagrams from costing
   * one main loop iteration each; bounding it keeps a sender that never
   * pauses from starving every other source. The fd check stops when a
   * handler disposed of us. */
  for (guint i = 0; i < NOTIFY_MAX_PER_WAKEUP && self->fd >= 0; i++)
    if (!tether_notify_receive_one (self))
      break;

  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

static gboolean
tether_notify_initable_init (GInitable     *initable,
                             GCancellable  *cancellable,
                             GError       **error)
{
  TetherNotify *self = TETHER_NOTIFY (initable);
  g_autoptr(GMainContext) context = NULL;
  int passcred = 1;
  int rcvbuf = NOTIFY_RCVBUF_SIZE;
  int fd;

  if (self->socket_path != NULL)
    return TRUE;

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Could not create the notification socket: %s"),
                   g_strerror (saved_errno));
      return FALSE;
    }

  /* Set before bind, so that no datagram can arrive without credentials. */
  if (setsockopt (fd, SOL_SOCKET, SO_PASSCRED, &passcred, sizeof passcred) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                   _("Could not ask for sender credentials on the notification socket: %s"),
                   g_strerror (saved_errno));
      g_close (fd, NULL);
      return FALSE;
    }

  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
    g_debug ("Could not enlarge the notification socket buffer: %s",
             g_strerror (errno));

  /* An abstract address, as systemd's notify socket is reachable by every
   * user: a backend that drops privileges (PostgreSQL as postgres) must
   * still be heard. Who is heard is decided per datagram by the sender's
   * kernel-checked credentials, not by who can reach the socket. The name
   * is unguessable so nobody can take it first, and no file is ever left
   * behind. */
  for (guint attempt = 0; ; attempt++)
    {
      struct sockaddr_un address = { .sun_family = AF_UNIX };
      guint64 nonce = 0;
      g_autofree char *name = NULL;
      socklen_t length;

      if (getrandom (&nonce, sizeof nonce, 0) != (ssize_t) sizeof nonce)
        nonce = ((guint64) g_random_int () << 32) | g_random_int ();
      name = g_strdup_printf ("tether/notify/%u/%d/%016" G_GINT64_MODIFIER "x",
                              (guint) getuid (), (int) getpid (), nonce);
      memcpy (address.sun_path + 1, name, strlen (name));
      length = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + strlen (name));

      if (bind (fd, (struct sockaddr *) &address, length) == 0)
        {
          self->socket_path = g_strconcat ("@", name, NULL);
          break;
        }
      if (errno != EADDRINUSE || attempt == 8)
        {
          int saved_errno = errno;

          g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                       _("Could not bind the notification socket: %s"),
                       g_strerror (saved_errno));
          g_close (fd, NULL);
          return FALSE;
        }
    }

  self->fd = fd;

  context = g_main_context_ref_thread_default ();
  self->source = g_unix_fd_source_new (self->fd, G_IO_IN);
  g_source_set_callback (self->source, G_SOURCE_FUNC (tether_notify_on_readable), self, NULL);
  g_source_set_static_name (self->source, "[tether] notify socket");
  g_source_attach (self->source, context);

  return TRUE;
}

static void
tether_notify_initable_iface_init (GInitableIface *iface)
{
  iface->init = tether_notify_initable_init;
}

static void
tether_notify_replace_filter (TetherNotify             *self,
                              TetherNotifySenderFilter  filter,
                              gpointer                  user_data,
                              GDestroyNotify            destroy)
{
  GDestroyNotify old_destroy = self->filter_destroy;
  gpointer old_data = self->filter_data;

  self->filter = filter;
  self->filter_data = user_data;
  self->filter_destroy = destroy;

  /* Called last, so that a destroy notify which re-enters finds a
   * consistent object. */
  if (old_destroy != NULL)
    old_destroy (old_data);
}

static void
tether_notify_dispose (GObject *object)
{
  TetherNotify *self = TETHER_NOTIFY (object);

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }

  if (self->fd >= 0)
    {
      g_close (self->fd, NULL);
      self->fd = -1;
    }

  g_clear_handle_id (&self->retry_timer, g_source_remove);
  g_queue_clear_full (&self->waiting, g_free);
  tether_notify_replace_filter (self, NULL, NULL, NULL);

  G_OBJECT_CLASS (tether_notify_parent_class)->dispose (object);
}

static void
tether_notify_finalize (GObject *object)
{
  TetherNotify *self = TETHER_NOTIFY (object);

  g_clear_pointer (&self->socket_path, g_free);
  g_clear_pointer (&self->heard, g_hash_table_unref);

  G_OBJECT_CLASS (tether_notify_parent_class)->finalize (object);
}

static void
tether_notify_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TetherNotify *self = TETHER_NOTIFY (object);

  switch (prop_id)
    {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_notify_class_init (TetherNotifyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_notify_dispose;
  object_class->finalize = tether_notify_finalize;
  object_class->get_property = tether_notify_get_property;

  /**
   * TetherNotify:socket-path:
   *
   * The address to export as `NOTIFY_SOCKET` to backends: an abstract
   * socket name, written with a leading `@` as systemd does.
   */
  properties[PROP_SOCKET_PATH] =
    g_param_spec_string ("socket-path", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * TetherNotify::message:
   * @self: the server
   * @message: (type gpointer): a `const TetherNotifyMessage *`, owned by the
   *   server and valid only during the emission; copy what you keep
   *
   * Emitted for every well-formed datagram from a sender that passed the
   * sender filter. Malformed and filtered datagrams are only counted.
   */
  signals[MESSAGE] =
    g_signal_new ("message",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  g_cclosure_marshal_VOID__POINTER,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);
  g_signal_set_va_marshaller (signals[MESSAGE],
                              G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__POINTERv);
}

static void
tether_notify_init (TetherNotify *self)
{
  self->fd = -1;
  self->heard = g_hash_table_new (NULL, NULL);
}

TetherNotify *
tether_notify_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (TETHER_TYPE_NOTIFY, NULL, error, NULL);
}

const char *
tether_notify_get_socket_path (TetherNotify *self)
{
  g_return_val_if_fail (TETHER_IS_NOTIFY (self), NULL);

  return self->socket_path;
}

/**
 * tether_notify_set_sender_filter:
 * @self: the server
 * @filter: (nullable): decides per datagram whether its sender is heard;
 *   %NULL to hear everyone
 * @user_data: passed to @filter
 * @destroy: (nullable): frees @user_data when the filter is replaced or the
 *   server disposed
 */
void
tether_notify_set_sender_filter (TetherNotify             *self,
                                 TetherNotifySenderFilter  filter,
                                 gpointer                  user_data,
                                 GDestroyNotify            destroy)
{
  g_return_if_fail (TETHER_IS_NOTIFY (self));

  tether_notify_replace_filter (self, filter, user_data, destroy);
}

guint
tether_notify_get_n_dropped (TetherNotify *self)
{
  g_return_val_if_fail (TETHER_IS_NOTIFY (self), 0);

  return self->n_dropped;
}

guint
tether_notify_get_n_malformed (TetherNotify *self)
{
  g_return_val_if_fail (TETHER_IS_NOTIFY (self), 0);

  return self->n_malformed;
}

guint
tether_notify_get_n_rate_limited (TetherNotify *self)
{
  g_return_val_if_fail (TETHER_IS_NOTIFY (self), 0);

  return self->n_rate_limited;
}
