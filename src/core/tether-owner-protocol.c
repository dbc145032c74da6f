/* tether-owner-protocol.c: the line protocol's pieces both helpers share
 *
 * tether-shim (Linux, src/shim/PROTOCOL.md) and tether-job.exe (Windows,
 * src/win32/PROTOCOL.md) speak the same framing and the same verbs; their
 * client (tether-owner-client.c) encodes and decodes with these.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "tether-owner-protocol.h"

/* Percent-encodes a field: the protocol splits lines at spaces. */
void
tether_owner_protocol_append_field (GString    *line,
                                    const char *text)
{
  g_string_append_c (line, ' ');
  if (*text == '\0')
    {
      g_string_append_c (line, '%');
      return;
    }
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      if (*p < 0x21 || *p == '%' || *p == 0x7f)
        g_string_append_printf (line, "%%%02X", *p);
      else
        g_string_append_c (line, (char) *p);
    }
}

char *
tether_owner_protocol_decode_field (const char *field)
{
  GString *out = g_string_new (NULL);

  if (g_str_equal (field, "%"))
    return g_string_free (out, FALSE);
  for (const char *p = field; *p != '\0'; p++)
    {
      if (*p == '%' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])));
          p += 2;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

gboolean
tether_owner_protocol_parse_uint (const char *text,
                                  guint64     max,
                                  guint64    *out)
{
  return text != NULL && g_ascii_string_to_unsigned (text, 10, 0, max, out, NULL);
}

const char *
tether_owner_protocol_verb (TetherOwnerOp op)
{
  switch (op)
    {
    case TETHER_OWNER_OP_MEMBERS: return "members";
    case TETHER_OWNER_OP_WATCH: return "watch";
    case TETHER_OWNER_OP_STOP_MAIN:
    case TETHER_OWNER_OP_SIGNAL: return "signal";
    case TETHER_OWNER_OP_TERMINATE_ALL: return "signal-all";
    case TETHER_OWNER_OP_SIGNAL_SUBTREE: return "signal-subtree";
    case TETHER_OWNER_OP_KILL_SUBTREE: return "kill-subtree";
    case TETHER_OWNER_OP_FREEZE: return "freeze";
    case TETHER_OWNER_OP_FREEZE_EXCEPT: return "freeze-except";
    case TETHER_OWNER_OP_THAW: return "thaw";
    case TETHER_OWNER_OP_KILL_ALL: return "kill";
    case TETHER_OWNER_OP_TOP_LEVEL: return "top-level";
    default: g_return_val_if_reached ("?");
    }
}

char *
tether_owner_protocol_describe (TetherOwnerOp op,
                                pid_t         pid)
{
  switch (op)
    {
    case TETHER_OWNER_OP_MEMBERS: return g_strdup (_("list the backend’s processes"));
    case TETHER_OWNER_OP_WATCH: return g_strdup_printf (_("watch process %d"), (int) pid);
    case TETHER_OWNER_OP_STOP_MAIN: return g_strdup_printf (_("ask process %d to stop"), (int) pid);
    case TETHER_OWNER_OP_SIGNAL: return g_strdup_printf (_("signal process %d"), (int) pid);
    case TETHER_OWNER_OP_TERMINATE_ALL: return g_strdup (_("terminate the backend’s processes"));
    case TETHER_OWNER_OP_SIGNAL_SUBTREE: return g_strdup_printf (_("signal process %d and its descendants"), (int) pid);
    case TETHER_OWNER_OP_KILL_SUBTREE: return g_strdup_printf (_("kill process %d and its descendants"), (int) pid);
    case TETHER_OWNER_OP_FREEZE: return g_strdup (_("freeze the backend"));
    case TETHER_OWNER_OP_FREEZE_EXCEPT: return g_strdup_printf (_("freeze the backend except process %d"), (int) pid);
    case TETHER_OWNER_OP_THAW: return g_strdup (_("thaw the backend"));
    case TETHER_OWNER_OP_KILL_ALL: return g_strdup (_("kill the backend’s processes"));
    case TETHER_OWNER_OP_TOP_LEVEL: return g_strdup (_("list the backend’s top processes"));
    default: g_return_val_if_reached (g_strdup ("?"));
    }
}

