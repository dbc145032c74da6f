/* tether-owner-client.h: the client side of the helpers' line protocol
 *
 * tether-shim (Linux) and tether-job.exe (Windows) speak one protocol
 * (src/shim/PROTOCOL.md, src/win32/PROTOCOL.md). A TetherOwnerClient talks
 * it for an owner over any GIOStream: it queues requests, writes them in
 * order, answers each one's GTask when its reply line is read (or fails it
 * when the helper takes longer than the deadline), reads the helper's
 * events, and fails every request in flight with one error once the
 * helper is gone or misbehaves. What differs between the platforms stays
 * with the owner: starting the helper, the transport under the stream,
 * the arguments of a spawn, and what an exit code means.
 *
 * Signals (each emitted from the main loop, while a line is handled):
 *   "spawned" (int pid): a spawn went through; tether_owner_spawned was
 *       called, its task has not returned yet
 *   "listed" (GArray *members, gint64 asked_usec): a member listing (pid_t,
 *       sorted), and when it was asked for (µs after boot)
 *   "exited" (int pid, gint64 code): an "exit" event, the code as the
 *       helper wrote it (a wait status, or a Windows exit code)
 *   "emptied" (): an "empty" event, emitted before the owner hears of it
 *       (tether_owner_tree_emptied)
 *   "gone" (gboolean let_go): the helper has exited and all it wrote was
 *       read (or, with no helper process given, the stream ended): every
 *       request failed, and nothing will be heard again; let_go is TRUE
 *       when the owner let go first (tether_owner_client_let_go)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "tether-owner.h"

G_BEGIN_DECLS

#define TETHER_TYPE_OWNER_CLIENT (tether_owner_client_get_type ())

G_DECLARE_FINAL_TYPE (TetherOwnerClient, tether_owner_client, TETHER, OWNER_CLIENT, GObject)

/* helper_name names the helper in messages ("tether-shim"); the hello
 * line must carry protocol_version. */
TetherOwnerClient *tether_owner_client_new          (TetherOwner                *owner,
                                                     const char                 *helper_name,
                                                     guint                       protocol_version);
/* Starts reading stream; helper, when given, is the process on its other
 * end (its exit is waited for, and its path named when it speaks another
 * version). Once only. From here until "gone" the client holds a
 * reference to the owner: dropping the others does not end the tree,
 * tether_owner_abandon does. */
void               tether_owner_client_start        (TetherOwnerClient          *self,
                                                     GIOStream                  *stream,
                                                     GSubprocess                *helper,
                                                     const char                 *helper_path);
/* Requests can be sent: started, not hung up. */
gboolean           tether_owner_client_is_connected (TetherOwnerClient          *self);
/* Closes the stream (which tells a live helper to end the tree) and fails
 * every request in flight with reason. */
void               tether_owner_client_hang_up      (TetherOwnerClient          *self,
                                                     const char                 *reason);
/* Hangs up because Tether lets go of the tree (tether_owner_abandon): the
 * helper ends it, and "gone" says it was expected. */
void               tether_owner_client_let_go       (TetherOwnerClient          *self);
/* How long a request sent from now on may wait for its reply (15 s
 * unless set; set it before the first). */
void               tether_owner_client_set_timeout  (TetherOwnerClient          *self,
                                                     guint                       timeout_ms);

/* The requests. Each takes the owner's task (its source object the owner)
 * and answers it: a spawn with the pid as its int, a verb with a
 * TetherOwnerReply (tether-owner-private.h).
 *
 * A spawn's line is "spawn", the arguments before CWD (the flags, and on
 * Linux the number of descriptors), then CWD (NULL: this process's), the
 * argv and the environment envp. fds, when not NULL, travels with the
 * line's first byte: the stream must then be a GSocketConnection. */
void               tether_owner_client_spawn        (TetherOwnerClient          *self,
                                                     GTask                      *task,
                                                     const TetherSpawnRequest   *spawn,
                                                     const char                 *head,
                                                     const char * const         *envp,
                                                     GSocketControlMessage      *fds);
/* A verb; a member listing of a tree that is not running is empty, and
 * any other verb on it fails (but a watch may come before the spawn's
 * reply: the helper hears it after the spawn). */
void               tether_owner_client_run          (TetherOwnerClient          *self,
                                                     GTask                      *task,
                                                     TetherOwnerOp               op,
                                                     pid_t                       pid,
                                                     int                         sig);

/* What a spawn does, for messages: "start “python3”". */
char              *tether_owner_client_describe_spawn (const TetherSpawnRequest *spawn);

G_END_DECLS
