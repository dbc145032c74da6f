/* fuzz-text.c: making a backend's words safe to show
 *
 * The first byte of the input chooses max_bytes for
 * tether_text_sanitize_in_place (4 to 259), the rest is the text. Sanitising
 * is compared with a plain reimplementation of what tether-text.h promises;
 * escaping must leave nothing a terminal obeys and change nothing else.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "fuzz-common.h"
#include "tether-text.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  return 0;
}

static gboolean
has_unsafe_char (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (tether_text_is_unsafe_char (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;
}

/* tether-text.h's words, spelled out slowly: every unsafe character
 * becomes '?'; what is then longer than max_bytes keeps the whole
 * characters that fit before "…". */
static char *
expected_sanitized (const char *text,
                    gsize       max_bytes)
{
  GString *out = g_string_new (NULL);
  gsize keep = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (tether_text_is_unsafe_char (c))
        g_string_append_c (out, '?');
      else
        g_string_append_unichar (out, c);
    }
  if (out->len <= max_bytes)
    return g_string_free (out, FALSE);

  for (const char *p = out->str; *p != '\0'; p = g_utf8_next_char (p))
    {
      gsize n = g_utf8_next_char (p) - p;

      if (keep + n > max_bytes - strlen ("…"))
        break;
      keep += n;
    }
  g_string_truncate (out, keep);
  g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *raw = NULL;
  g_autofree char *valid_raw = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *text = NULL;
  g_autofree char *expected = NULL;
  gsize max_bytes;

  if (size == 0)
    return 0;
  max_bytes = 4 + data[0];

  /* Escaping takes any C string: a process name need not be UTF-8. */
  raw = g_strndup ((const char *) data + 1, size - 1);
  escaped = tether_text_escape_for_terminal (raw);
  fuzz_assert_safe_text (escaped, G_MAXSIZE);
  valid_raw = g_utf8_make_valid (raw, -1);
  if (!has_unsafe_char (valid_raw))
    g_assert_cmpstr (escaped, ==, valid_raw);

  /* Sanitising takes valid UTF-8 only (tether-notify checks it first). */
  text = g_utf8_make_valid ((const char *) data + 1, (gssize) size - 1);
  expected = expected_sanitized (text, max_bytes);
  tether_text_sanitize_in_place (text, max_bytes);
  g_assert_cmpstr (text, ==, expected);
  fuzz_assert_safe_text (text, max_bytes);

  return 0;
}
