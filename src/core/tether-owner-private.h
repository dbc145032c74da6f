/* tether-owner-private.h: what an ownership backend tells the base class
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tether-owner.h"

G_BEGIN_DECLS

/* The pointer a run_async task returns. */
typedef struct
{
  GArray *members;             /* OP_MEMBERS: pid_t, sorted */
  TetherOwnerCount count;
} TetherOwnerReply;

TetherOwnerReply *tether_owner_reply_new   (void);
void              tether_owner_reply_free  (TetherOwnerReply *reply);

void tether_owner_set_kind     (TetherOwner     *self,
                                TetherOwnerKind  kind);
/* A spawn went through (the tree exists). Called as soon as the backend
 * knows, before it passes on any later event: an exit reported right
 * after must find the main pid already set. The spawn task returns the
 * pid as its int. */
void tether_owner_spawned      (TetherOwner     *self,
                                pid_t            pid,
                                gboolean         is_main);
/* Members as a backend last counted them. */
void tether_owner_set_n_members (TetherOwner    *self,
                                 guint           n_members);
void tether_owner_emit_exited  (TetherOwner     *self,
                                pid_t            pid,
                                int              wait_status);
/* Once: the tree has no process left, and never will again. */
void tether_owner_emit_empty   (TetherOwner     *self);
/* The tree has no process left for now: "empty" at once, or when the
 * hold is released if no spawn came in between (tether_owner_hold). */
void tether_owner_tree_emptied (TetherOwner     *self);
gboolean tether_owner_empty_was_emitted (TetherOwner *self);

#ifdef G_OS_WIN32
/* The job object owner (tether-owner-win32.c). */
TetherOwner *tether_owner_win32_new (void);
#else
/* The cgroup-backed and shim-backed owner (tether-owner-shim.c). */
TetherOwner *tether_owner_shim_new (TetherOwnerKind kind);
#endif

G_END_DECLS
