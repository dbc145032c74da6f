/* tether-enums.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-enums.h"

const char *
tether_enum_to_nick (GType enum_type,
                     int   value)
{
  /* The class of a static type lives as long as the program: its nicks
   * can be handed out. */
  GEnumClass *klass = g_type_class_ref (enum_type);
  GEnumValue *found = g_enum_get_value (klass, value);
  const char *nick = found != NULL ? found->value_nick : "unknown";

  g_type_class_unref (klass);
  return nick;
}

gboolean
tether_enum_from_nick (GType       enum_type,
                       const char *nick,
                       int        *value)
{
  GEnumClass *klass;
  GEnumValue *found;

  if (nick == NULL)
    return FALSE;
  klass = g_type_class_ref (enum_type);
  found = g_enum_get_value_by_nick (klass, nick);
  if (found != NULL)
    *value = found->value;
  g_type_class_unref (klass);
  return found != NULL;
}
