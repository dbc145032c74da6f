/* tether-text.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "tether-text.h"

#include <string.h>

gboolean
tether_text_is_unsafe_char (gunichar c)
{
  return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
         (c >= 0x202a && c <= 0x202e) ||   /* LRE RLE PDF LRO RLO */
         (c >= 0x2066 && c <= 0x2069) ||   /* LRI RLI FSI PDI */
         c == 0x200e || c == 0x200f ||     /* LRM RLM */
         c == 0x061c;                      /* ALM */
}

char *
tether_text_escape_for_terminal (const char *text)
{
  g_autofree char *valid = NULL;
  GString *out;

  if (text == NULL)
    return NULL;

  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!tether_text_is_unsafe_char (c))
        g_string_append_unichar (out, c);
      else if (c == 0x1b)
        g_string_append (out, "\\e");
      else if (c < 0x80)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_printf (out, "\\u%04x", c);
    }
  return g_string_free (out, FALSE);
}

static gsize
sanitized_length (const char *p,
                  gunichar   *c)
{
  *c = g_utf8_get_char (p);
  return tether_text_is_unsafe_char (*c) ? 1 : (gsize) (g_utf8_next_char (p) - p);
}

void
tether_text_sanitize_in_place (char  *text,
                               gsize  max_bytes)
{
  static const char ellipsis[] = "…";
  gsize total = 0, limit = G_MAXSIZE;
  char *read, *write = text;
  gunichar c;

  g_return_if_fail (max_bytes >= sizeof ellipsis);

  /* Replacing shortens; only what is too long after it gets cut. */
  for (read = text; *read != '\0'; read = g_utf8_next_char (read))
    total += sanitized_length (read, &c);
  if (total > max_bytes)
    limit = max_bytes - (sizeof ellipsis - 1);

  for (read = text; *read != '\0'; )
    {
      gsize len = sanitized_length (read, &c);
      char *next = g_utf8_next_char (read);

      if ((gsize) (write - text) + len > limit)
        {
          /* The input was longer than max_bytes: the ellipsis fits. */
          memcpy (write, ellipsis, sizeof ellipsis);
          return;
        }
      if (tether_text_is_unsafe_char (c))
        *write = '?';
      else
        memmove (write, read, len);
      write += len;
      read = next;
    }
  *write = '\0';
}
