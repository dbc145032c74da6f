/* fuzz-control.c: one request line on the control socket, as any process
 * of the same user may write it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "fuzz-common.h"
#include "tether-control.h"
#include "tether-signals.h"
#include "tether-error.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  TetherControlRequest request;
  g_autoptr(GError) error = NULL;

  if (!tether_control_parse_request ((const char *) data, size, &request, &error))
    {
      g_assert_error (error, TETHER_ERROR, TETHER_ERROR_PROTOCOL);
      /* It goes back to the client inside a JSON string. */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  g_assert_no_error (error);
  g_assert_nonnull (request.verb);
  g_assert_true (tether_verb_get (request.verb->id) == request.verb);
  if (request.verb->param == TETHER_VERB_PARAM_PID || request.verb->param == TETHER_VERB_PARAM_SIGNAL)
    g_assert_cmpint (request.pid, >, 0);
  else if (request.verb->param == TETHER_VERB_PARAM_OPTIONAL_PID)
    g_assert_cmpint (request.pid, >=, 0);
  else
    g_assert_cmpint (request.pid, ==, 0);
  /* Only the offered signals, and only for send-signal. */
  if (request.verb->param == TETHER_VERB_PARAM_SIGNAL)
    g_assert_nonnull (tether_signals_lookup (sigabbrev_np (request.signal)));
  else
    g_assert_cmpint (request.signal, ==, 0);

  /* What the server refuses before parsing never parses. */
  g_assert_cmpuint (size, <=, TETHER_CONTROL_MAX_REQUEST);
  g_assert_null (memchr (data, '\0', size));

  return 0;
}
