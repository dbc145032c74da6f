/* tether-diagnose.c: why is this process stuck? A /proc snapshot for support
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-diagnose.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gi18n-lib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tether-error.h"
#include "tether-procfs.h"

/* What is read of one /proc text file at most (cmdline, stack, ...). */
#define MAX_FILE_BYTES (256 * 1024)

char *
tether_diagnose_read_proc_file (pid_t       pid,
                                const char *name,
                                gsize      *length)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) pid, name);
  char *contents = NULL;
  gsize n = 0;

  if (!g_file_get_contents (path, &contents, &n, NULL))
    return NULL;
  if (n > MAX_FILE_BYTES)
    {
      n = MAX_FILE_BYTES;
      contents[n] = '\0';
    }
  if (length != NULL)
    *length = n;
  return contents;
}

static const char *
state_label (char state)
{
  switch (state)
    {
    case 'R':
      return _("running");
    case 'S':
      return _("sleeping");
    case 'D':
      return _("uninterruptible sleep (disk or NFS): it may not die even when killed");
    case 'T':
      return _("paused (SIGSTOP; SIGCONT resumes it)");
    case 't':
      return _("stopped by a debugger");
    case 'Z':
      return _("zombie");
    case 'X':
    case 'x':
      return _("dead");
    case 'I':
      return _("idle");
    case 'P':
      return _("parked");
    case 'W':
      return _("waking");
    case 'K':
      return _("wakekill");
    default:
      return _("unknown");
    }
}

/* The common blocking system calls, by their x86_64 numbers. */
static const char *
syscall_name (long long number)
{
#if defined(__x86_64__)
  switch (number)
    {
    case 0: return "read";
    case 1: return "write";
    case 7: return "poll";
    case 23: return "select";
    case 34: return "pause";
    case 35: return "nanosleep";
    case 43: return "accept";
    case 61: return "wait4";
    case 202: return "futex";
    case 230: return "clock_nanosleep";
    case 232: return "epoll_wait";
    case 270: return "pselect6";
    case 271: return "ppoll";
    case 281: return "epoll_pwait";
    case 288: return "accept4";
    default: return NULL;
    }
#else
  (void) number;
  return NULL;
#endif
}

static void
add_cmdline (JsonBuilder *builder,
             pid_t        pid)
{
  gsize length = 0;
  g_autofree char *contents = tether_diagnose_read_proc_file (pid, "cmdline", &length);
  g_autofree char *valid = NULL;
  gsize i;

  json_builder_set_member_name (builder, "cmdline");
  if (contents == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }
  while (length > 0 && contents[length - 1] == '\0')
    length--;
  for (i = 0; i < length; i++)
    if (contents[i] == '\0')
      contents[i] = ' ';
  valid = g_utf8_make_valid (contents, (gssize) length);
  json_builder_add_string_value (builder, valid);
}

static void
add_wchan (JsonBuilder *builder,
           pid_t        pid)
{
  g_autofree char *contents = tether_diagnose_read_proc_file (pid, "wchan", NULL);

  json_builder_set_member_name (builder, "wchan");
  if (contents != NULL)
    g_strstrip (contents);
  if (contents == NULL || contents[0] == '\0' || strcmp (contents, "0") == 0 ||
      !g_utf8_validate (contents, -1, NULL))
    json_builder_add_null_value (builder);
  else
    json_builder_add_string_value (builder, contents);
}

static void
add_syscall (JsonBuilder *builder,
             pid_t        pid)
{
  g_autofree char *contents = tether_diagnose_read_proc_file (pid, "syscall", NULL);
  g_auto(GStrv) fields = NULL;
  gint64 number;
  const char *name;

  json_builder_set_member_name (builder, "syscall");
  if (contents == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }
  g_strstrip (contents);
  if (g_str_has_prefix (contents, "running"))
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "running");
      json_builder_add_boolean_value (builder, TRUE);
      json_builder_end_object (builder);
      return;
    }
  fields = g_strsplit (contents, " ", 2);
  if (fields[0] == NULL || !g_ascii_string_to_signed (fields[0], 10, -1, G_MAXINT, &number, NULL))
    {
      json_builder_add_null_value (builder);
      return;
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "number");
  json_builder_add_int_value (builder, number);
  /* -1: blocked, but not in a system call (a page fault, say). */
  json_builder_set_member_name (builder, "name");
  name = syscall_name (number);
  if (name != NULL)
    json_builder_add_string_value (builder, name);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
}

static void
add_stack (JsonBuilder *builder,
           pid_t        pid)
{
  g_autofree char *contents = tether_diagnose_read_proc_file (pid, "stack", NULL);
  g_auto(GStrv) lines = NULL;
  guint i;

  json_builder_set_member_name (builder, "stack");
  if (contents == NULL || !g_utf8_validate (contents, -1, NULL))
    {
      json_builder_add_null_value (builder);
      return;
    }
  lines = g_strsplit (contents, "\n", -1);
  json_builder_begin_array (builder);
  for (i = 0; lines[i] != NULL; i++)
    {
      g_strstrip (lines[i]);
      if (lines[i][0] != '\0')
        json_builder_add_string_value (builder, lines[i]);
    }
  json_builder_end_array (builder);
}

static void
add_threads (JsonBuilder *builder,
             pid_t        pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GArray) tids = NULL;
  const char *entry;
  guint i;

  json_builder_set_member_name (builder, "threads");
  if (dir == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }

  tids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  while ((entry = g_dir_read_name (dir)) != NULL && tids->len < TETHER_DIAGNOSE_MAX_THREADS)
    {
      guint64 tid;

      if (g_ascii_string_to_unsigned (entry, 10, 1, G_MAXINT, &tid, NULL))
        {
          pid_t t = (pid_t) tid;
          g_array_append_val (tids, t);
        }
    }

  json_builder_begin_array (builder);
  for (i = 0; i < tids->len; i++)
    {
      pid_t tid = g_array_index (tids, pid_t, i);
      g_autofree char *stat_name = g_strdup_printf ("task/%d/stat", (int) tid);
      gsize length = 0;
      g_autofree char *contents = tether_diagnose_read_proc_file (pid, stat_name, &length);
      TetherProcStat st;
      g_autofree char *name = NULL;
      char state[2] = { 0, 0 };

      /* The thread ended between the listing and now. */
      if (contents == NULL || tether_procfs_parse_stat (contents, length, &st) < 0)
        continue;
      name = g_utf8_make_valid (st.comm, -1);
      state[0] = st.state;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "tid");
      json_builder_add_int_value (builder, tid);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, name);
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, state);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/* Counts /proc/PID/fd and collects the inodes of its sockets; -1 when the
 * directory cannot be read. */
static int
scan_fds (pid_t       pid,
          GHashTable *socket_inodes)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;
  int count = 0;

  if (dir == NULL)
    return -1;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *fd_path = g_build_filename (path, entry, NULL);
      char target[128];
      ssize_t n;
      guint64 inode;

      count++;
      n = readlink (fd_path, target, sizeof target - 1);
      if (n <= 0)
        continue;
      target[n] = '\0';
      if (!g_str_has_prefix (target, "socket:[") || target[n - 1] != ']')
        continue;
      target[n - 1] = '\0';
      if (g_ascii_string_to_unsigned (target + strlen ("socket:["), 10, 1, G_MAXUINT64, &inode, NULL))
        g_hash_table_add (socket_inodes, g_memdup2 (&inode, sizeof inode));
    }
  return count;
}

static gboolean
parse_hex_u32 (const char *text,
               gsize       length,
               guint32    *out)
{
  char buf[9];
  guint64 value;

  if (length == 0 || length > 8)
    return FALSE;
  memcpy (buf, text, length);
  buf[length] = '\0';
  if (!g_ascii_string_to_unsigned (buf, 16, 0, G_MAXUINT32, &value, NULL))
    return FALSE;
  *out = (guint32) value;
  return TRUE;
}

/* "0100007F:1F90" or the 32-digit IPv6 form, as the kernel prints them: the
 * address as native-endian 32-bit words in hex, the port as a number. */
static char *
parse_inet_address (const char *text,
                    gboolean    ipv6)
{
  const char *colon = strchr (text, ':');
  char host[INET6_ADDRSTRLEN];
  guint32 port;

  if (colon == NULL || !parse_hex_u32 (colon + 1, strlen (colon + 1), &port) || port > 65535)
    return NULL;

  if (!ipv6)
    {
      struct in_addr addr;
      guint32 word;

      if (colon - text != 8 || !parse_hex_u32 (text, 8, &word))
        return NULL;
      addr.s_addr = word;
      if (inet_ntop (AF_INET, &addr, host, sizeof host) == NULL)
        return NULL;
      return g_strdup_printf ("%s:%u", host, port);
    }
  else
    {
      struct in6_addr addr;
      guint i;

      if (colon - text != 32)
        return NULL;
      for (i = 0; i < 4; i++)
        {
          guint32 word;

          if (!parse_hex_u32 (text + i * 8, 8, &word))
            return NULL;
          memcpy (&addr.s6_addr[i * 4], &word, sizeof word);
        }
      if (inet_ntop (AF_INET6, &addr, host, sizeof host) == NULL)
        return NULL;
      return g_strdup_printf ("[%s]:%u", host, port);
    }
}

static gboolean
take_inode (GHashTable *socket_inodes,
            const char *text,
            guint64    *inode)
{
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT64, inode, NULL))
    return FALSE;
  return g_hash_table_contains (socket_inodes, inode);
}

static void
add_listening_entry (JsonBuilder *builder,
                     const char  *proto,
                     const char  *address,
                     guint64      inode)
{
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "proto");
  json_builder_add_string_value (builder, proto);
  json_builder_set_member_name (builder, "address");
  if (address != NULL)
    json_builder_add_string_value (builder, address);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "inode");
  json_builder_add_int_value (builder, (gint64) inode);
  json_builder_end_object (builder);
}

/* /proc/PID/net/{tcp,tcp6,udp,udp6}: "sl local rem st tx:rx tr:tm retr uid
 * timeout inode ..." after a header line. */
static void
add_inet_listening (JsonBuilder *builder,
                    pid_t        pid,
                    const char  *proto,
                    const char  *listen_state,
                    GHashTable  *socket_inodes)
{
  g_autofree char *name = g_strconcat ("net/", proto, NULL);
  g_autofree char *contents = tether_diagnose_read_proc_file (pid, name, NULL);
  g_auto(GStrv) lines = NULL;
  gboolean ipv6 = g_str_has_suffix (proto, "6");
  guint i;

  if (contents == NULL)
    return;
  lines = g_strsplit (contents, "\n", -1);
  for (i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
      g_autofree char *address = NULL;
      const char *f[10];
      guint n = 0, j;
      guint64 inode;

      /* Runs of blanks split into empty fields: skip them. */
      for (j = 0; fields[j] != NULL && n < G_N_ELEMENTS (f); j++)
        if (fields[j][0] != '\0')
          f[n++] = fields[j];
      if (n < G_N_ELEMENTS (f))
        continue;
      if (g_ascii_strcasecmp (f[3], listen_state) != 0 ||
          !take_inode (socket_inodes, f[9], &inode))
        continue;
      address = parse_inet_address (f[1], ipv6);
      add_listening_entry (builder, proto, address, inode);
    }
}

/* __SO_ACCEPTCON: the socket listens. */
#define UNIX_FLAG_ACCEPTCON 0x10000

/* /proc/PID/net/unix: "Num RefCount Protocol Flags Type St Inode Path". */
static void
add_unix_listening (JsonBuilder *builder,
                    pid_t        pid,
                    GHashTable  *socket_inodes)
{
  g_autofree char *contents = tether_diagnose_read_proc_file (pid, "net/unix", NULL);
  g_auto(GStrv) lines = NULL;
  guint i;

  if (contents == NULL)
    return;
  lines = g_strsplit (contents, "\n", -1);
  for (i = 1; lines[i] != NULL; i++)
    {
      const char *p = lines[i];
      const char *f[7];
      gsize lengths[7];
      guint n;
      guint32 flags;
      guint64 inode;
      g_autofree char *inode_text = NULL;
      g_autofree char *path = NULL;

      /* Seven blank-separated fields, then the path, which may hold blanks. */
      for (n = 0; n < G_N_ELEMENTS (f); n++)
        {
          while (*p == ' ')
            p++;
          if (*p == '\0')
            break;
          f[n] = p;
          while (*p != ' ' && *p != '\0')
            p++;
          lengths[n] = (gsize) (p - f[n]);
        }
      if (n < G_N_ELEMENTS (f))
        continue;
      if (!parse_hex_u32 (f[3], lengths[3], &flags) || !(flags & UNIX_FLAG_ACCEPTCON))
        continue;
      inode_text = g_strndup (f[6], lengths[6]);
      if (!take_inode (socket_inodes, inode_text, &inode))
        continue;
      if (*p == ' ')
        p++;
      if (*p != '\0')
        path = g_utf8_make_valid (p, -1);
      add_listening_entry (builder, "unix", path, inode);
    }
}

static void
add_times (JsonBuilder          *builder,
           const TetherProcStat *st)
{
  long hz = tether_procfs_clock_ticks ();
  gint64 since_boot_usec = tether_procfs_start_usec (st);
  gint64 boot_real_usec = g_get_real_time () - tether_procfs_boottime_usec ();
  g_autoptr(GDateTime) started = g_date_time_new_from_unix_utc (0);
  g_autoptr(GDateTime) when = NULL;
  g_autofree char *iso = NULL;

  json_builder_set_member_name (builder, "cpu_seconds");
  json_builder_add_double_value (builder, (double) (st->utime + st->stime) / (double) hz);

  when = g_date_time_add (started, boot_real_usec + since_boot_usec);
  if (when != NULL)
    iso = g_date_time_format_iso8601 (when);
  json_builder_set_member_name (builder, "started");
  if (iso != NULL)
    json_builder_add_string_value (builder, iso);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "started_since_boot");
  json_builder_add_double_value (builder, (double) st->starttime / (double) hz);
}

static void
add_rss (JsonBuilder *builder,
         pid_t        pid)
{
  g_autofree char *contents = tether_diagnose_read_proc_file (pid, "statm", NULL);
  g_auto(GStrv) fields = NULL;
  guint64 pages;
  long page_size = sysconf (_SC_PAGESIZE);

  json_builder_set_member_name (builder, "rss_bytes");
  if (contents != NULL)
    fields = g_strsplit (g_strstrip (contents), " ", -1);
  if (fields == NULL || fields[0] == NULL || fields[1] == NULL || page_size <= 0 ||
      !g_ascii_string_to_unsigned (fields[1], 10, 0, G_MAXINT64 / page_size, &pages, NULL))
    {
      json_builder_add_null_value (builder);
      return;
    }
  json_builder_add_int_value (builder, (gint64) pages * page_size);
}

JsonNode *
tether_diagnose_process (pid_t    pid,
                         GError **error)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(GHashTable) socket_inodes = NULL;
  TetherProcStat st;
  char state[2] = { 0, 0 };
  g_autofree char *name = NULL;
  int open_files;
  int r = -ESRCH;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (pid > 0)
    r = tether_procfs_read_stat (pid, &st);
  if (r < 0)
    {
      if (r == -ENOENT || r == -ESRCH || pid <= 0)
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_MEMBER,
                     _("There is no process %d"), (int) pid);
      else
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_FAILED,
                     _("Cannot read the state of process %d: %s"), (int) pid, g_strerror (-r));
      return NULL;
    }

  builder = json_builder_new ();
  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "pid");
  json_builder_add_int_value (builder, pid);
  name = g_utf8_make_valid (st.comm, -1);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  add_cmdline (builder, pid);
  state[0] = st.state;
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, state);
  json_builder_set_member_name (builder, "state_label");
  json_builder_add_string_value (builder, state_label (st.state));
  json_builder_set_member_name (builder, "uninterruptible");
  json_builder_add_boolean_value (builder, st.state == 'D');

  add_wchan (builder, pid);
  add_syscall (builder, pid);
  add_stack (builder, pid);
  add_threads (builder, pid);

  socket_inodes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  open_files = scan_fds (pid, socket_inodes);
  json_builder_set_member_name (builder, "open_files");
  if (open_files >= 0)
    json_builder_add_int_value (builder, open_files);
  else
    json_builder_add_null_value (builder);

  json_builder_set_member_name (builder, "listening");
  if (open_files < 0)
    json_builder_add_null_value (builder);
  else
    {
      json_builder_begin_array (builder);
      if (g_hash_table_size (socket_inodes) > 0)
        {
          add_inet_listening (builder, pid, "tcp", "0A", socket_inodes);
          add_inet_listening (builder, pid, "tcp6", "0A", socket_inodes);
          add_inet_listening (builder, pid, "udp", "07", socket_inodes);
          add_inet_listening (builder, pid, "udp6", "07", socket_inodes);
          add_unix_listening (builder, pid, socket_inodes);
        }
      json_builder_end_array (builder);
    }

  add_times (builder, &st);
  add_rss (builder, pid);

  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
diagnose_in_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  pid_t pid = (pid_t) GPOINTER_TO_INT (task_data);
  GError *error = NULL;
  JsonNode *node;

  if (g_task_return_error_if_cancelled (task))
    return;
  node = tether_diagnose_process (pid, &error);
  if (node == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, node, (GDestroyNotify) json_node_unref);
}

void
tether_diagnose_process_async (pid_t                pid,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_diagnose_process_async);
  g_task_set_task_data (task, GINT_TO_POINTER ((int) pid), NULL);
  g_task_run_in_thread (task, diagnose_in_thread);
}

JsonNode *
tether_diagnose_process_finish (GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_diagnose_process_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
