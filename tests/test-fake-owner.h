/* test-fake-owner.h: a TetherOwner the test drives by hand
 *
 * No process runs. Spawns answer with made-up pids (above the kernel's
 * pid_max, so nothing in /proc is ever confused with them), every verb is
 * logged and answered at once (or failed, once the test says the helper
 * died), and the test decides when members exit and when the tree is
 * empty: the cases real processes cannot be made to reach on demand.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "tether-owner-private.h"

G_BEGIN_DECLS

#define TEST_TYPE_FAKE_OWNER (test_fake_owner_get_type ())
G_DECLARE_FINAL_TYPE (TestFakeOwner, test_fake_owner, TEST, FAKE_OWNER, TetherOwner)

#define TEST_FAKE_PID_BASE 10000000

typedef struct
{
  TetherOwnerOp op;
  pid_t pid;
  int sig;
} TestFakeOp;

TestFakeOwner *test_fake_owner_new        (void);

/* Members the verbs report (and MEMBERS lists). */
void           test_fake_owner_set_members (TestFakeOwner *self,
                                            guint          n_members);
guint          test_fake_owner_get_n_spawns (TestFakeOwner *self);
gint64         test_fake_owner_get_spawn_time (TestFakeOwner *self,
                                               guint          i);
/* Every verb run so far, in order. */
GArray        *test_fake_owner_get_ops    (TestFakeOwner *self);
guint          test_fake_owner_count_ops  (TestFakeOwner *self,
                                           TetherOwnerOp  op);

/* The tree's events, when the test says so. */
void           test_fake_owner_exit       (TestFakeOwner *self,
                                           pid_t          pid,
                                           int            wait_status);
void           test_fake_owner_empty      (TestFakeOwner *self);
/* As if the helper died: every verb from now on fails, then the tree is
 * reported empty (what the shim owner does once the leaf is killed). */
void           test_fake_owner_die        (TestFakeOwner *self);

/* A TetherOwnerFactory: a new fake owner for every run, also appended
 * (referenced) to the GPtrArray given as user data. */
TetherOwner   *test_fake_owner_factory    (TetherOwnerKind kind,
                                           gpointer        owners);

G_END_DECLS
