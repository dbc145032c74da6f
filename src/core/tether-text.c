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

/* ---- program names ---------------------------------------------------------- */

typedef enum
{
  LANG_NONE,
  LANG_PYTHON,
  LANG_NODE,
  LANG_JAVA,
  LANG_OTHER,  /* perl, ruby, php, shells: the first argument not an option */
} Lang;

static Lang
interpreter_of (const char *base)
{
  static const char * const others[] = { "perl", "ruby", "php", "sh", "bash", "dash", "zsh", "ksh",
                                          "lua", "Rscript", "tclsh", "deno", "bun", NULL };
  gsize n = strlen (base);

  /* python3, python3.11, pypy3, node, nodejs, java, perl5.36 ... */
  while (n > 0 && (g_ascii_isdigit (base[n - 1]) || base[n - 1] == '.'))
    n--;
  if ((n == 6 && strncmp (base, "python", 6) == 0) || (n == 4 && strncmp (base, "pypy", 4) == 0))
    return LANG_PYTHON;
  if ((n == 4 && strncmp (base, "node", 4) == 0) || (n == 6 && strncmp (base, "nodejs", 6) == 0))
    return LANG_NODE;
  if (n == 4 && strncmp (base, "java", 4) == 0)
    return LANG_JAVA;
  for (guint i = 0; others[i] != NULL; i++)
    if (strlen (others[i]) == n && strncmp (base, others[i], n) == 0)
      return LANG_OTHER;
  return LANG_NONE;
}

/* Options that take the next argument as their value. */
static gboolean
takes_value (Lang        lang,
             const char *option)
{
  static const char * const python[] = { "-W", "-X", "-Q", "--check-hash-based-pycs", NULL };
  static const char * const node[] = { "-r", "--require", "--loader", "--import", "--inspect-port",
                                       "--title", "-C", "--conditions", NULL };
  static const char * const java[] = { "-cp", "-classpath", "--class-path", "-p", "--module-path",
                                       "--add-modules", "--add-opens", "--add-exports", NULL };
  static const char * const other[] = { "-e", "-E", "-I", "-M", "-r", "-d", "-O", "-o", NULL };
  const char * const *list = lang == LANG_PYTHON ? python : lang == LANG_NODE ? node
                           : lang == LANG_JAVA ? java : other;

  for (guint i = 0; list[i] != NULL; i++)
    if (g_str_equal (option, list[i]))
      return TRUE;
  return FALSE;
}

char *
tether_text_program_name (const char * const *argv)
{
  g_autofree char *base = NULL;
  Lang lang;

  if (argv == NULL || argv[0] == NULL || *argv[0] == '\0')
    return NULL;
  base = g_path_get_basename (argv[0]);
  lang = interpreter_of (base);
  if (lang == LANG_NONE)
    return g_steal_pointer (&base);

  for (guint i = 1; argv[i] != NULL; i++)
    {
      const char *arg = argv[i];

      if (g_str_equal (arg, "--"))
        return argv[i + 1] != NULL ? g_path_get_basename (argv[i + 1]) : g_steal_pointer (&base);
      if (arg[0] != '-' || arg[1] == '\0')
        {
          /* java's main class: its last dotted part. */
          if (lang == LANG_JAVA && strchr (arg, '/') == NULL && strrchr (arg, '.') != NULL &&
              !g_str_has_suffix (arg, ".jar"))
            return g_strdup (strrchr (arg, '.') + 1);
          return g_path_get_basename (arg);
        }
      /* What runs is code on the command line, or the interpreter is asked
       * something: the interpreter is the name. */
      if (g_str_equal (arg, "-c") || g_str_equal (arg, "-e") || g_str_equal (arg, "--eval") ||
          g_str_equal (arg, "-p") || g_str_equal (arg, "--version"))
        {
          if (!(lang == LANG_JAVA && g_str_equal (arg, "-p")))
            return g_steal_pointer (&base);
        }
      if (lang == LANG_PYTHON && g_str_equal (arg, "-m"))
        return argv[i + 1] != NULL ? g_strdup (argv[i + 1]) : g_steal_pointer (&base);
      if (lang == LANG_JAVA && g_str_equal (arg, "-jar"))
        return argv[i + 1] != NULL ? g_path_get_basename (argv[i + 1]) : g_steal_pointer (&base);
      if (takes_value (lang, arg) && argv[i + 1] != NULL)
        i++;
    }
  return g_steal_pointer (&base);
}
