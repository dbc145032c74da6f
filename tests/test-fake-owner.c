/* test-fake-owner.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-fake-owner.h"

#include <unistd.h>

#include "tether-error.h"

struct _TestFakeOwner
{
  TetherOwner parent_instance;

  guint n_members;
  guint n_spawns;
  GArray *spawn_times;
  GArray *ops;
  gboolean dead;
};

G_DEFINE_FINAL_TYPE (TestFakeOwner, test_fake_owner, TETHER_TYPE_OWNER)

static void
fake_spawn_async (TetherOwner               *owner,
                  const TetherSpawnRequest  *request,
                  GCancellable              *cancellable,
                  GAsyncReadyCallback        callback,
                  gpointer                   user_data)
{
  TestFakeOwner *self = TEST_FAKE_OWNER (owner);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  /* Clear of the members' pids (TEST_FAKE_PID_BASE + i). */
  pid_t pid = TEST_FAKE_PID_BASE + 1000 + (pid_t) self->n_spawns;
  gint64 now = g_get_monotonic_time ();

  self->n_spawns++;
  g_array_append_val (self->spawn_times, now);
  tether_owner_set_kind (owner, TETHER_OWNER_REAPER);
  tether_owner_spawned (owner, pid, request->is_main);
  if (self->n_members == 0)
    self->n_members = 1;
  g_task_return_int (task, pid);
}

static void
fake_run_async (TetherOwner         *owner,
                TetherOwnerOp        op,
                pid_t                pid,
                int                  sig,
                GCancellable        *cancellable,
                GAsyncReadyCallback  callback,
                gpointer             user_data)
{
  TestFakeOwner *self = TEST_FAKE_OWNER (owner);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  TestFakeOp record = { op, pid, sig };
  TetherOwnerReply *reply;

  g_array_append_val (self->ops, record);
  if (self->dead)
    {
      g_task_return_new_error (task, TETHER_ERROR, TETHER_ERROR_OWNER, "the fake helper is dead");
      return;
    }

  reply = tether_owner_reply_new ();
  reply->count.n_members = self->n_members;
  reply->count.n_reached = op == TETHER_OWNER_OP_STOP_MAIN || op == TETHER_OWNER_OP_SIGNAL
                           ? 1 : self->n_members;
  if (op == TETHER_OWNER_OP_FREEZE_EXCEPT && self->n_members > 0)
    reply->count.n_reached = self->n_members - 1;  /* all but pid */
  if (op == TETHER_OWNER_OP_MEMBERS)
    {
      reply->members = g_array_new (FALSE, FALSE, sizeof (pid_t));
      for (guint i = 0; i < self->n_members; i++)
        {
          pid_t member = TEST_FAKE_PID_BASE + (pid_t) i;
          g_array_append_val (reply->members, member);
        }
    }
  g_task_return_pointer (task, reply, (GDestroyNotify) tether_owner_reply_free);
}

static gboolean
fake_is_member (TetherOwner *owner,
                pid_t        pid)
{
  /* The test process speaks for the tree (notify datagrams). */
  return !TEST_FAKE_OWNER (owner)->dead &&
         (pid == getpid () || pid >= TEST_FAKE_PID_BASE);
}

static void
fake_abandon (TetherOwner *owner)
{
}

static void
test_fake_owner_finalize (GObject *object)
{
  TestFakeOwner *self = TEST_FAKE_OWNER (object);

  g_array_unref (self->ops);
  g_array_unref (self->spawn_times);
  G_OBJECT_CLASS (test_fake_owner_parent_class)->finalize (object);
}

static void
test_fake_owner_class_init (TestFakeOwnerClass *klass)
{
  TetherOwnerClass *owner_class = TETHER_OWNER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_fake_owner_finalize;
  owner_class->spawn_async = fake_spawn_async;
  owner_class->run_async = fake_run_async;
  owner_class->is_member = fake_is_member;
  owner_class->abandon = fake_abandon;
}

static void
test_fake_owner_init (TestFakeOwner *self)
{
  self->ops = g_array_new (FALSE, FALSE, sizeof (TestFakeOp));
  self->spawn_times = g_array_new (FALSE, FALSE, sizeof (gint64));
}

TestFakeOwner *
test_fake_owner_new (void)
{
  return g_object_new (TEST_TYPE_FAKE_OWNER, NULL);
}

void
test_fake_owner_set_members (TestFakeOwner *self,
                             guint          n_members)
{
  self->n_members = n_members;
}

guint
test_fake_owner_get_n_spawns (TestFakeOwner *self)
{
  return self->n_spawns;
}

gint64
test_fake_owner_get_spawn_time (TestFakeOwner *self,
                                guint          i)
{
  g_assert_cmpuint (i, <, self->spawn_times->len);
  return g_array_index (self->spawn_times, gint64, i);
}

GArray *
test_fake_owner_get_ops (TestFakeOwner *self)
{
  return self->ops;
}

guint
test_fake_owner_count_ops (TestFakeOwner *self,
                           TetherOwnerOp  op)
{
  guint n = 0;

  for (guint i = 0; i < self->ops->len; i++)
    n += g_array_index (self->ops, TestFakeOp, i).op == op;
  return n;
}

void
test_fake_owner_exit (TestFakeOwner *self,
                      pid_t          pid,
                      int            wait_status)
{
  tether_owner_emit_exited (TETHER_OWNER (self), pid, wait_status);
}

void
test_fake_owner_empty (TestFakeOwner *self)
{
  self->n_members = 0;
  tether_owner_emit_empty (TETHER_OWNER (self));
}

void
test_fake_owner_die (TestFakeOwner *self)
{
  self->dead = TRUE;
  test_fake_owner_empty (self);
}

TetherOwner *
test_fake_owner_factory (TetherOwnerKind kind,
                         gpointer        owners)
{
  TestFakeOwner *owner = test_fake_owner_new ();

  g_ptr_array_add (owners, g_object_ref (owner));
  return TETHER_OWNER (owner);
}
