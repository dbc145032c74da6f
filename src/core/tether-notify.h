/* tether-notify.h: an sd_notify-compatible NOTIFY_SOCKET server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* One datagram, parsed. Fields not present in the datagram keep the
 * "absent" values documented here. */
#define TETHER_CHECKPOINT_ID_MAX_LENGTH 128

/* 1 to 128 characters from A-Z, a-z, 0-9 and "._:-": safe in file names,
 * environment values and command lines. */
gboolean tether_checkpoint_id_is_valid (const char *id);

typedef struct
{
  pid_t sender;              /* from SCM_CREDENTIALS */
  gboolean ready;            /* READY=1 */
  gboolean stopping;         /* STOPPING=1 */
  gboolean reloading;        /* RELOADING=1 */
  gboolean watchdog;         /* WATCHDOG=1 */
  gboolean watchdog_trigger; /* WATCHDOG=trigger */
  const char *status;        /* STATUS=..., NULL when absent; unsafe characters
                              * replaced and cut to 1 KiB (tether-text.h) */
  gint64 watchdog_usec;      /* WATCHDOG_USEC=, -1 when absent */
  gint64 extend_timeout_usec;/* EXTEND_TIMEOUT_USEC=, -1 when absent */
  pid_t mainpid;             /* MAINPID=, 0 when absent */
  int errno_value;           /* ERRNO=, -1 when absent */
  const char *checkpoint_id;    /* X_TETHER_CHECKPOINT=<id>[ <label>], NULL when absent */
  const char *checkpoint_label; /* NULL when there is no label; sanitised
                                 * like status, at most 256 bytes */
  gint64 requests;           /* X_TETHER_REQUESTS=<n>: requests a pool worker has
                              * answered so far, -1 when absent */
} TetherNotifyMessage;

typedef enum
{
  TETHER_NOTIFY_DROP,       /* not ours to hear */
  TETHER_NOTIFY_HEAR,
  TETHER_NOTIFY_ASK_AGAIN,  /* cannot tell yet: the sender is already gone
                             * (a launcher that said MAINPID= and exited at
                             * once); the server asks again for a while */
} TetherNotifyVerdict;

/* Decides whether a sender is heard: HEAR when pid belongs to the owned tree. */
typedef TetherNotifyVerdict (*TetherNotifySenderFilter) (pid_t    pid,
                                                         gpointer user_data);

#define TETHER_TYPE_NOTIFY (tether_notify_get_type ())

G_DECLARE_FINAL_TYPE (TetherNotify, tether_notify, TETHER, NOTIFY, GObject)

/* Binds a fresh datagram socket at an unguessable abstract address, which
 * any user can reach (as systemd's): the sender filter decides who is
 * heard, from kernel-checked credentials. */
TetherNotify *tether_notify_new                  (GError                  **error);
const char   *tether_notify_get_socket_path      (TetherNotify             *self);
void          tether_notify_set_sender_filter    (TetherNotify             *self,
                                                  TetherNotifySenderFilter  filter,
                                                  gpointer                  user_data,
                                                  GDestroyNotify            destroy);
guint         tether_notify_get_n_dropped        (TetherNotify             *self);
guint         tether_notify_get_n_malformed      (TetherNotify             *self);
/* Datagrams dropped because their sender spoke too often. */
guint         tether_notify_get_n_rate_limited   (TetherNotify             *self);

/* Parses one datagram; exposed for tests. Returns FALSE with a message
 * naming the offending line/key when it is malformed. The strings in msg
 * point into a copy owned by *storage (free it with g_free). */
gboolean      tether_notify_parse                (const char               *data,
                                                  gsize                     length,
                                                  TetherNotifyMessage      *msg,
                                                  char                    **storage,
                                                  GError                  **error);

G_END_DECLS
