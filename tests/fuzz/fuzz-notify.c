/* fuzz-notify.c: one NOTIFY_SOCKET datagram, as any member of the tree may
 * send it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "fuzz-common.h"
#include "tether-error.h"
#include "tether-notify.h"

/* The caps tether-notify.h documents; a datagram that gets past them
 * costs every view that shows it. */
#define STATUS_MAX_BYTES 1024
#define LABEL_MAX_BYTES 256
#define CHECKPOINT_ID_MAX_BYTES 128

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  return 0;
}

/* The message's strings live in storage, nowhere else. */
static void
assert_in_storage (const char *text,
                   const char *storage,
                   size_t      size)
{
  g_assert_true (text >= storage && text <= storage + size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  TetherNotifyMessage msg;
  g_autofree char *storage = NULL;
  g_autoptr(GError) error = NULL;

  if (!tether_notify_parse ((const char *) data, size, &msg, &storage, &error))
    {
      g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
      g_assert_null (storage);
      /* The message quotes the datagram into the log. */
      fuzz_assert_safe_text (error->message, 1024);
      return 0;
    }

  g_assert_no_error (error);
  g_assert_nonnull (storage);

  if (msg.status != NULL)
    {
      assert_in_storage (msg.status, storage, size);
      fuzz_assert_safe_text (msg.status, STATUS_MAX_BYTES);
    }

  if (msg.checkpoint_id != NULL)
    {
      gsize length = strlen (msg.checkpoint_id);

      assert_in_storage (msg.checkpoint_id, storage, size);
      g_assert_cmpuint (length, >=, 1);
      g_assert_cmpuint (length, <=, CHECKPOINT_ID_MAX_BYTES);
      for (const char *p = msg.checkpoint_id; *p != '\0'; p++)
        g_assert_true (g_ascii_isalnum (*p) || strchr ("._:-", *p) != NULL);
    }

  if (msg.checkpoint_label != NULL)
    {
      g_assert_nonnull (msg.checkpoint_id);
      assert_in_storage (msg.checkpoint_label, storage, size);
      g_assert_cmpuint (strlen (msg.checkpoint_label), >=, 1);
      fuzz_assert_safe_text (msg.checkpoint_label, LABEL_MAX_BYTES);
    }

  g_assert_cmpint (msg.sender, ==, 0);
  g_assert_false (msg.watchdog && msg.watchdog_trigger);
  g_assert_cmpint (msg.watchdog_usec, >=, -1);
  g_assert_cmpint (msg.extend_timeout_usec, >=, -1);
  g_assert_cmpint (msg.mainpid, >=, 0);
  g_assert_cmpint (msg.errno_value, >=, -1);

  return 0;
}
