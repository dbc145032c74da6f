/* fuzz-helper.c: what tether-shim or tether-job.exe writes back
 *
 * The input is the helper's whole output, read by a TetherOwnerClient with
 * requests in flight: a spawn and two watches at once, and once the spawn
 * is answered, one request of every other verb. However the lines come --
 * replies to ids never sent, or twice, replies of the wrong shape, events
 * with bad numbers, no newline at the end -- every request is answered
 * exactly once by the time the output ends, a spawn with a pid or an
 * error, a verb with a reply or an error, each error in Tether's domain.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "fuzz-common.h"
#include "tether-error.h"
#include "tether-owner-client.h"
#include "tether-owner-private.h"
#include "../test-bare-owner.h"

typedef struct
{
  TetherOwner *owner;
  TetherOwnerClient *client;
  guint n_sent;
  guint n_answered;
  gboolean gone;
} Run;

/* A malformed line is worth a message in Tether's log, not here. */
static GLogWriterOutput
write_warnings_only (GLogLevelFlags   level,
                     const GLogField *fields,
                     gsize            n_fields,
                     gpointer         user_data)
{
  if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) == 0)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  g_log_set_writer_func (write_warnings_only, NULL, NULL);
  return 0;
}

static void
on_verb_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  TetherOwnerReply *reply = g_task_propagate_pointer (G_TASK (result), &error);

  g_assert_true ((reply == NULL) != (error == NULL));
  if (error != NULL)
    g_assert_true (error->domain == TETHER_ERROR);
  else
    {
      for (guint i = 0; reply->members != NULL && i < reply->members->len; i++)
        g_assert_cmpint (g_array_index (reply->members, pid_t, i), >=, 0);
      tether_owner_reply_free (reply);
    }
  run->n_answered++;
}

static void
run_verb (Run           *run,
          TetherOwnerOp  op,
          pid_t          pid,
          int            sig)
{
  run->n_sent++;
  tether_owner_client_run (run->client, g_task_new (run->owner, NULL, on_verb_done, run), op, pid, sig);
}

static void
on_spawn_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Run *run = user_data;
  g_autoptr(GError) error = NULL;
  gssize pid = g_task_propagate_int (G_TASK (result), &error);

  run->n_answered++;
  if (error != NULL)
    {
      g_assert_true (error->domain == TETHER_ERROR);
      return;
    }
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (tether_owner_get_main_pid (run->owner), ==, pid);

  /* Running now: every verb is sent (when the helper is still there). */
  run_verb (run, TETHER_OWNER_OP_MEMBERS, 0, 0);
  run_verb (run, TETHER_OWNER_OP_TOP_LEVEL, 0, 0);
  run_verb (run, TETHER_OWNER_OP_SIGNAL, (pid_t) pid, 15);
  run_verb (run, TETHER_OWNER_OP_KILL_SUBTREE, (pid_t) pid, 0);
  run_verb (run, TETHER_OWNER_OP_KILL_ALL, 0, 0);
}

static void
on_gone (TetherOwnerClient *client,
         gboolean           let_go,
         Run               *run)
{
  run->gone = TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *argv[] = { "backend", NULL };
  const char *envp[] = { "A=1", NULL };
  TetherSpawnRequest spawn = { .argv = argv, .cwd = "/", .is_main = TRUE };
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (g_memdup2 (data, size), size, g_free);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GIOStream) stream = g_simple_io_stream_new (in, out);
  Run run = { 0 };

  run.owner = g_object_new (TEST_TYPE_BARE_OWNER, NULL);
  run.client = tether_owner_client_new (run.owner, "fuzz-helper", 2);
  g_signal_connect (run.client, "gone", G_CALLBACK (on_gone), &run);
  tether_owner_client_start (run.client, stream, NULL, NULL);

  run.n_sent++;
  tether_owner_client_spawn (run.client, g_task_new (run.owner, NULL, on_spawn_done, &run),
                             &spawn, "-", envp, NULL);
  run_verb (&run, TETHER_OWNER_OP_WATCH, 5, 0);
  run_verb (&run, TETHER_OWNER_OP_WATCH, 6, 0);

  /* The output ends: the helper is gone, and nothing stays unanswered
   * (a task failed in the iteration that made it answers from an idle). */
  while (!run.gone)
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (run.n_answered, ==, run.n_sent);
  g_assert_false (tether_owner_client_is_connected (run.client));

  g_signal_handlers_disconnect_by_data (run.client, &run);
  g_object_unref (run.client);
  g_object_unref (run.owner);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
