/* tether-profile.c: a backend profile (JSON) parsed into a validated struct
 *
 * Values come from json-glib, positions from a small scanner over the
 * original text: JsonNode remembers no positions. The scanner runs first as
 * a strict RFC 8259 validator, because json-glib accepts some non-JSON
 * (single quotes, text after the value) and reports a syntax error at the
 * end of the token before the offending one; the scanner names the exact
 * spot and, for a truncated file, the bracket that was never closed.
 *
 * Every position is 1-based "line:column"; a column counts Unicode
 * characters, not bytes (a tab is one character, a leading byte-order mark
 * none).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-profile.h"
#include "tether-error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

/* Deeper than any valid profile; keeps the recursive scanner off the edge
 * of the stack on hostile input. */
#define MAX_NESTING 64

/* Longest path a profile field has, e.g. pool.worker_command[3]. */
#define MAX_PATH 8

/* A profile is a few hundred bytes; refuse to slurp /dev/zero. */
#define MAX_PROFILE_SIZE (16 * 1024 * 1024)

#define DEFAULT_SEARCH_PATH "/usr/local/bin:/usr/bin:/bin"

typedef struct
{
  TetherProfile profile;
  char *display_name;  /* what errors call the input, e.g. the path as given */
} TetherProfileReal;

G_DEFINE_BOXED_TYPE (TetherProfile, tether_profile, tether_profile_ref, tether_profile_unref)

/* ------------------------------------------------------------------------
 * Scanner: strict JSON syntax check and position lookup
 * ------------------------------------------------------------------------ */

typedef struct
{
  guint line;
  guint column;
} Position;

typedef struct
{
  const char *p;
  const char *end;
  Position pos;

  /* The first syntax error */
  char *message;
  Position error_pos;
} Scanner;

/* One step of a path into the document: a member or an array element. */
typedef struct
{
  const char *key;  /* NULL for an array element */
  guint index;
} PathElement;

static void
scanner_init (Scanner    *s,
              const char *text,
              gsize       length)
{
  s->p = text;
  s->end = text + length;
  s->pos.line = 1;
  s->pos.column = 1;
  s->message = NULL;

  /* Editors hide a byte-order mark, so it takes no column. */
  if (length >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    s->p += 3;
}

static inline gboolean
scanner_at_end (const Scanner *s)
{
  return s->p >= s->end;
}

static inline char
scanner_peek (const Scanner *s)
{
  return scanner_at_end (s) ? '\0' : *s->p;
}

/* Moves one byte on. The text is valid UTF-8, so counting lead bytes
 * counts characters. */
static void
scanner_advance (Scanner *s)
{
  guchar c = (guchar) *s->p++;

  if (c == '\n')
    {
      s->pos.line++;
      s->pos.column = 1;
    }
  else if ((c & 0xC0) != 0x80)
    {
      s->pos.column++;
    }
}

static void
scanner_skip_whitespace (Scanner *s)
{
  while (!scanner_at_end (s) &&
         (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    scanner_advance (s);
}

static gboolean scanner_fail (Scanner    *s,
                              Position    at,
                              const char *format,
                              ...) G_GNUC_PRINTF (3, 4);

/* Records the first error only; always returns FALSE. */
static gboolean
scanner_fail (Scanner    *s,
              Position    at,
              const char *format,
              ...)
{
  va_list args;

  if (s->message != NULL)
    return FALSE;

  va_start (args, format);
  s->message = g_strdup_vprintf (format, args);
  va_end (args);
  s->error_pos = at;

  return FALSE;
}

/* Names what stands at the cursor, for "… but found X" messages. */
static char *
scanner_describe_here (const Scanner *s)
{
  char c;

  if (scanner_at_end (s))
    return g_strdup (_("the end of the file"));

  c = *s->p;

  if (c == '"')
    return g_strdup (_("a string"));
  if (c == '\'')
    return g_strdup (_("\"'\" (JSON strings use double quotes)"));
  if (c == '-' || g_ascii_isdigit (c))
    return g_strdup (_("a number"));
  if (g_ascii_isalpha (c) || c == '_')
    {
      const char *q = s->p;

      while (q < s->end && (g_ascii_isalnum (*q) || *q == '_') && q - s->p < 32)
        q++;
      return g_strdup_printf ("\"%.*s\"", (int) (q - s->p), s->p);
    }
  if ((guchar) c < 0x20 || c == 0x7f)
    return g_strdup_printf ("U+%04X", (guint) (guchar) c);

  return g_strdup_printf ("\"%.*s\"", (int) (g_utf8_next_char (s->p) - s->p), s->p);
}

/* After an opening bracket something else was expected. */
static gboolean
scanner_fail_in_container (Scanner    *s,
                           char        bracket,
                           Position    opened,
                           const char *expected)
{
  g_autofree char *found = NULL;

  if (scanner_at_end (s))
    {
      if (bracket == '{')
        return scanner_fail (s, s->pos,
                             _("expected %s but found the end of the file: the object opened at line %u, column %u is not closed"),
                             expected, opened.line, opened.column);
      else
        return scanner_fail (s, s->pos,
                             _("expected %s but found the end of the file: the array opened at line %u, column %u is not closed"),
                             expected, opened.line, opened.column);
    }

  found = scanner_describe_here (s);
  return scanner_fail (s, s->pos, _("expected %s but found %s"), expected, found);
}

static gboolean
parse_hex4 (const char *p,
            const char *end,
            gunichar   *out)
{
  gunichar value = 0;

  if (end - p < 4)
    return FALSE;

  for (guint i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return FALSE;
      value = value * 16 + (gunichar) digit;
    }

  *out = value;
  return TRUE;
}

/* At an opening quote. Appends the decoded string to out when given. */
static gboolean
scan_string (Scanner *s,
             GString *out)
{
  Position start = s->pos;

  scanner_advance (s);

  for (;;)
    {
      guchar c;

      if (scanner_at_end (s))
        return scanner_fail (s, s->pos,
                             _("found the end of the file inside the string starting at line %u, column %u: close it with '\"'"),
                             start.line, start.column);

      c = (guchar) *s->p;

      if (c == '"')
        {
          scanner_advance (s);
          return TRUE;
        }

      if (c == '\n' || c == '\r')
        return scanner_fail (s, s->pos,
                             _("line break inside the string starting at line %u, column %u: close it with '\"' or write \\n"),
                             start.line, start.column);

      if (c < 0x20)
        return scanner_fail (s, s->pos,
                             _("control character U+%04X inside a string: write it as an escape such as \\t"),
                             (guint) c);

      if (c == '\\')
        {
          Position escape = s->pos;
          gunichar unit;
          char decoded;

          scanner_advance (s);
          if (scanner_at_end (s))
            continue;  /* reported as an unclosed string */

          switch (*s->p)
            {
            case '"': decoded = '"'; break;
            case '\\': decoded = '\\'; break;
            case '/': decoded = '/'; break;
            case 'b': decoded = '\b'; break;
            case 'f': decoded = '\f'; break;
            case 'n': decoded = '\n'; break;
            case 'r': decoded = '\r'; break;
            case 't': decoded = '\t'; break;

            case 'u':
              scanner_advance (s);
              if (!parse_hex4 (s->p, s->end, &unit))
                return scanner_fail (s, escape,
                                     _("invalid escape: \\u must be followed by four hexadecimal digits"));
              for (guint i = 0; i < 4; i++)
                scanner_advance (s);

              if (unit >= 0xDC00 && unit <= 0xDFFF)
                return scanner_fail (s, escape,
                                     _("invalid escape: \\u%04X is the second half of a UTF-16 surrogate pair without a first half"),
                                     unit);

              if (unit >= 0xD800 && unit <= 0xDBFF)
                {
                  gunichar low;

                  if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                      !parse_hex4 (s->p + 2, s->end, &low) ||
                      low < 0xDC00 || low > 0xDFFF)
                    return scanner_fail (s, escape,
                                         _("invalid escape: \\u%04X must be followed by the second half of its UTF-16 surrogate pair"),
                                         unit);
                  for (guint i = 0; i < 6; i++)
                    scanner_advance (s);
                  unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                }

              if (out != NULL)
                g_string_append_unichar (out, unit);
              continue;

            default:
              {
                g_autofree char *found = scanner_describe_here (s);

                return scanner_fail (s, escape,
                                     _("invalid escape \"\\\" followed by %s: use \\\\ for a backslash"),
                                     found);
              }
            }

          if (out != NULL)
            g_string_append_c (out, decoded);
          scanner_advance (s);
          continue;
        }

      if (out != NULL)
        g_string_append_c (out, (char) c);
      scanner_advance (s);
    }
}

static void
scanner_skip_digits (Scanner *s)
{
  while (g_ascii_isdigit (scanner_peek (s)))
    scanner_advance (s);
}

static gboolean
scan_number (Scanner *s)
{
  Position start = s->pos;

  if (scanner_peek (s) == '-')
    scanner_advance (s);

  if (!g_ascii_isdigit (scanner_peek (s)))
    return scanner_fail (s, start, _("invalid number: expected a digit after \"-\""));

  if (scanner_peek (s) == '0')
    {
      scanner_advance (s);
      if (g_ascii_isdigit (scanner_peek (s)))
        return scanner_fail (s, start, _("invalid number: a number must not start with 0"));
    }
  else
    {
      scanner_skip_digits (s);
    }

  if (scanner_peek (s) == '.')
    {
      scanner_advance (s);
      if (!g_ascii_isdigit (scanner_peek (s)))
        return scanner_fail (s, start, _("invalid number: expected a digit after \".\""));
      scanner_skip_digits (s);
    }

  if (scanner_peek (s) == 'e' || scanner_peek (s) == 'E')
    {
      scanner_advance (s);
      if (scanner_peek (s) == '+' || scanner_peek (s) == '-')
        scanner_advance (s);
      if (!g_ascii_isdigit (scanner_peek (s)))
        return scanner_fail (s, start, _("invalid number: expected a digit in the exponent"));
      scanner_skip_digits (s);
    }

  return TRUE;
}

/* true, false, null */
static gboolean
scan_literal (Scanner *s)
{
  static const char * const literals[] = { "true", "false", "null" };
  Position start = s->pos;
  const char *word = s->p;
  gsize length;

  while (g_ascii_isalnum (scanner_peek (s)) || scanner_peek (s) == '_')
    scanner_advance (s);
  length = s->p - word;

  for (guint i = 0; i < G_N_ELEMENTS (literals); i++)
    if (length == strlen (literals[i]) && memcmp (word, literals[i], length) == 0)
      return TRUE;

  return scanner_fail (s, start,
                       _("expected a value (a string in double quotes, a number, an object, an array, true, false or null) but found \"%.*s\""),
                       (int) MIN (length, 32), word);
}

static gboolean scan_value (Scanner *s,
                            guint    depth);

static gboolean
scan_object (Scanner *s,
             guint    depth)
{
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(GString) name = NULL;
  Position opened = s->pos;

  if (depth >= MAX_NESTING)
    return scanner_fail (s, opened,
                         _("objects and arrays are nested too deeply (more than %d levels)"),
                         MAX_NESTING);

  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  name = g_string_new (NULL);

  scanner_advance (s);
  scanner_skip_whitespace (s);
  if (scanner_peek (s) == '}')
    {
      scanner_advance (s);
      return TRUE;
    }
  if (scanner_peek (s) != '"')
    return scanner_fail_in_container (s, '{', opened, _("a field name in double quotes or \"}\""));

  for (;;)
    {
      Position key_pos = s->pos;
      Position *first;

      g_string_truncate (name, 0);
      if (!scan_string (s, name))
        return FALSE;

      /* json-glib would silently keep the last one; two "stop" objects
       * are a mistake worth pointing at. */
      first = g_hash_table_lookup (seen, name->str);
      if (first != NULL)
        return scanner_fail (s, key_pos,
                             _("duplicate field \"%s\" (first defined at line %u, column %u)"),
                             name->str, first->line, first->column);
      g_hash_table_insert (seen, g_strdup (name->str), g_memdup2 (&key_pos, sizeof key_pos));

      scanner_skip_whitespace (s);
      if (scanner_peek (s) != ':')
        {
          g_autofree char *found = scanner_describe_here (s);

          return scanner_fail (s, s->pos,
                               _("expected \":\" after the field name \"%s\" but found %s"),
                               name->str, found);
        }
      scanner_advance (s);
      scanner_skip_whitespace (s);

      if (scanner_at_end (s))
        return scanner_fail_in_container (s, '{', opened, _("a value"));
      if (!scan_value (s, depth + 1))
        return FALSE;

      scanner_skip_whitespace (s);
      if (scanner_peek (s) == ',')
        {
          Position comma = s->pos;

          scanner_advance (s);
          scanner_skip_whitespace (s);
          if (scanner_peek (s) == '}')
            return scanner_fail (s, comma, _("trailing comma: JSON allows no \",\" before \"}\""));
          if (scanner_peek (s) != '"')
            return scanner_fail_in_container (s, '{', opened, _("a field name in double quotes"));
          continue;
        }
      if (scanner_peek (s) == '}')
        {
          scanner_advance (s);
          return TRUE;
        }

      return scanner_fail_in_container (s, '{', opened, "\",\" or \"}\"");
    }
}

static gboolean
scan_array (Scanner *s,
            guint    depth)
{
  Position opened = s->pos;

  if (depth >= MAX_NESTING)
    return scanner_fail (s, opened,
                         _("objects and arrays are nested too deeply (more than %d levels)"),
                         MAX_NESTING);

  scanner_advance (s);
  scanner_skip_whitespace (s);
  if (scanner_peek (s) == ']')
    {
      scanner_advance (s);
      return TRUE;
    }
  if (scanner_at_end (s))
    return scanner_fail_in_container (s, '[', opened, _("a value or \"]\""));

  for (;;)
    {
      if (!scan_value (s, depth + 1))
        return FALSE;

      scanner_skip_whitespace (s);
      if (scanner_peek (s) == ',')
        {
          Position comma = s->pos;

          scanner_advance (s);
          scanner_skip_whitespace (s);
          if (scanner_peek (s) == ']')
            return scanner_fail (s, comma, _("trailing comma: JSON allows no \",\" before \"]\""));
          if (scanner_at_end (s))
            return scanner_fail_in_container (s, '[', opened, _("a value"));
          continue;
        }
      if (scanner_peek (s) == ']')
        {
          scanner_advance (s);
          return TRUE;
        }

      return scanner_fail_in_container (s, '[', opened, "\",\" or \"]\"");
    }
}

/* At the first character of a value. */
static gboolean
scan_value (Scanner *s,
            guint    depth)
{
  char c = scanner_peek (s);

  if (c == '{')
    return scan_object (s, depth);
  if (c == '[')
    return scan_array (s, depth);
  if (c == '"')
    return scan_string (s, NULL);
  if (c == '-' || g_ascii_isdigit (c))
    return scan_number (s);
  if (g_ascii_isalpha (c) || c == '_')
    return scan_literal (s);

  {
    g_autofree char *found = scanner_describe_here (s);

    return scanner_fail (s, s->pos,
                         _("expected a value (a string in double quotes, a number, an object, an array, true, false or null) but found %s"),
                         found);
  }
}

/* Checks that text is one well-formed JSON value. On failure *message and
 * *pos say what and where. */
static gboolean
check_json_syntax (const char  *text,
                   gsize        length,
                   char       **message,
                   Position    *pos)
{
  Scanner s;
  const char *invalid;

  scanner_init (&s, text, length);

  if (!g_utf8_validate (text, (gssize) length, &invalid))
    {
      while (s.p < invalid)
        scanner_advance (&s);
      scanner_fail (&s, s.pos, _("invalid UTF-8 or a NUL byte: save the profile as UTF-8 text"));
    }
  else
    {
      scanner_skip_whitespace (&s);
      if (scanner_at_end (&s))
        scanner_fail (&s, s.pos,
                      _("the profile is empty: expected a JSON object such as {\"command\": [\"./server\"]}"));
      else if (scan_value (&s, 0))
        {
          scanner_skip_whitespace (&s);
          if (!scanner_at_end (&s))
            {
              g_autofree char *found = scanner_describe_here (&s);

              scanner_fail (&s, s.pos, _("found %s after the end of the JSON value"), found);
            }
        }
    }

  if (s.message == NULL)
    return TRUE;

  *message = g_steal_pointer (&s.message);
  *pos = s.error_pos;
  return FALSE;
}

/* In an object, moves the cursor onto the value of the member called key,
 * and gives where its key starts. */
static gboolean
scanner_seek_member (Scanner    *s,
                     const char *key,
                     Position   *key_pos)
{
  g_autoptr(GString) name = g_string_new (NULL);

  if (scanner_peek (s) != '{')
    return FALSE;
  scanner_advance (s);
  scanner_skip_whitespace (s);

  while (scanner_peek (s) == '"')
    {
      *key_pos = s->pos;
      g_string_truncate (name, 0);
      if (!scan_string (s, name))
        return FALSE;

      scanner_skip_whitespace (s);
      if (scanner_peek (s) != ':')
        return FALSE;
      scanner_advance (s);
      scanner_skip_whitespace (s);

      if (strcmp (name->str, key) == 0)
        return TRUE;

      if (!scan_value (s, 0))
        return FALSE;
      scanner_skip_whitespace (s);
      if (scanner_peek (s) != ',')
        return FALSE;
      scanner_advance (s);
      scanner_skip_whitespace (s);
    }

  return FALSE;
}

/* In an array, moves the cursor onto element index. */
static gboolean
scanner_seek_element (Scanner *s,
                      guint    index)
{
  if (scanner_peek (s) != '[')
    return FALSE;
  scanner_advance (s);
  scanner_skip_whitespace (s);

  for (guint i = 0; i < index; i++)
    {
      if (!scan_value (s, 0))
        return FALSE;
      scanner_skip_whitespace (s);
      if (scanner_peek (s) != ',')
        return FALSE;
      scanner_advance (s);
      scanner_skip_whitespace (s);
    }

  return !scanner_at_end (s) && scanner_peek (s) != ']';
}

/* Where the value at path starts in text, which must be valid JSON; or,
 * with want_key, where the key of the last member of path starts. */
static gboolean
locate (const char        *text,
        gsize              length,
        const PathElement *path,
        guint              n_path,
        gboolean           want_key,
        Position          *out)
{
  Scanner s;
  gboolean found = TRUE;

  scanner_init (&s, text, length);
  scanner_skip_whitespace (&s);

  for (guint i = 0; found && i < n_path; i++)
    {
      Position key_pos;

      if (path[i].key == NULL)
        {
          found = scanner_seek_element (&s, path[i].index);
        }
      else
        {
          found = scanner_seek_member (&s, path[i].key, &key_pos);
          if (found && want_key && i == n_path - 1)
            {
              *out = key_pos;
              g_free (s.message);
              return TRUE;
            }
        }
    }

  if (found)
    *out = s.pos;

  g_free (s.message);
  return found;
}

/* ------------------------------------------------------------------------
 * Semantic checks
 * ------------------------------------------------------------------------ */

typedef struct
{
  const char *text;
  gsize length;
  const char *display_name;
  PathElement path[MAX_PATH];
  guint depth;
  GError **error;
} ParseContext;

typedef gboolean (*MemberParser) (ParseContext  *ctx,
                                  const char    *name,
                                  JsonNode      *value,
                                  TetherProfile *self);

static void
ctx_push_key (ParseContext *ctx,
              const char   *key)
{
  g_assert (ctx->depth < MAX_PATH);
  ctx->path[ctx->depth].key = key;
  ctx->path[ctx->depth].index = 0;
  ctx->depth++;
}

static void
ctx_push_index (ParseContext *ctx,
                guint         index)
{
  g_assert (ctx->depth < MAX_PATH);
  ctx->path[ctx->depth].key = NULL;
  ctx->path[ctx->depth].index = index;
  ctx->depth++;
}

static void
ctx_pop (ParseContext *ctx)
{
  g_assert (ctx->depth > 0);
  ctx->depth--;
}

/* The dotted name of the first n steps of the path, e.g. "restart.backoff[2]". */
static char *
ctx_field_name_n (const ParseContext *ctx,
                  guint               n)
{
  GString *name = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    {
      if (ctx->path[i].key == NULL)
        g_string_append_printf (name, "[%u]", ctx->path[i].index);
      else
        {
          if (name->len > 0)
            g_string_append_c (name, '.');
          g_string_append (name, ctx->path[i].key);
        }
    }

  return g_string_free (name, FALSE);
}

static char *
ctx_field_name (const ParseContext *ctx)
{
  return ctx_field_name_n (ctx, ctx->depth);
}

static gboolean
ctx_failv (ParseContext *ctx,
           gboolean      at_key,
           const char   *format,
           va_list       args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);
  Position pos = { 1, 1 };

  /* The scanner and json-glib agree on every member name of a valid
   * document; should one ever not be found, its nearest ancestor still
   * gives the reader a place to look. */
  for (guint n = ctx->depth; ; n--)
    {
      if (locate (ctx->text, ctx->length, ctx->path, n, at_key && n == ctx->depth, &pos) || n == 0)
        break;
    }

  g_set_error (ctx->error, TETHER_ERROR, TETHER_ERROR_PROFILE,
               "%s:%u:%u: %s", ctx->display_name, pos.line, pos.column, message);
  return FALSE;
}

static gboolean ctx_fail_value (ParseContext *ctx,
                                const char   *format,
                                ...) G_GNUC_PRINTF (2, 3);
static gboolean ctx_fail_key (ParseContext *ctx,
                              const char   *format,
                              ...) G_GNUC_PRINTF (2, 3);

/* Reports a problem with the value at the current path; returns FALSE. */
static gboolean
ctx_fail_value (ParseContext *ctx,
                const char   *format,
                ...)
{
  va_list args;

  va_start (args, format);
  ctx_failv (ctx, FALSE, format, args);
  va_end (args);

  return FALSE;
}

/* Reports a problem with the key of the current member; returns FALSE. */
static gboolean
ctx_fail_key (ParseContext *ctx,
              const char   *format,
              ...)
{
  va_list args;

  va_start (args, format);
  ctx_failv (ctx, TRUE, format, args);
  va_end (args);

  return FALSE;
}

static char *
format_double (double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%.15g", value));
}

/* A string as the user would write it in JSON, shortened when long. */
static char *
quote_string (const char *text)
{
  GString *quoted = g_string_new ("\"");
  guint n_chars = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      if (++n_chars > 40)
        {
          g_string_append (quoted, "…");
          break;
        }

      switch (*p)
        {
        case '"': g_string_append (quoted, "\\\""); break;
        case '\\': g_string_append (quoted, "\\\\"); break;
        case '\n': g_string_append (quoted, "\\n"); break;
        case '\t': g_string_append (quoted, "\\t"); break;
        default:
          if ((guchar) *p < 0x20)
            g_string_append_printf (quoted, "\\u%04X", (guint) (guchar) *p);
          else
            g_string_append_len (quoted, p, g_utf8_next_char (p) - p);
        }
    }

  g_string_append_c (quoted, '"');
  return g_string_free (quoted, FALSE);
}

/* What the user wrote, for the "(got …)" part of messages. */
static char *
describe_node (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return g_strdup (_("an object"));

    case JSON_NODE_ARRAY:
      if (json_array_get_length (json_node_get_array (node)) == 0)
        return g_strdup (_("an empty array"));
      return g_strdup (_("an array"));

    case JSON_NODE_NULL:
      return g_strdup ("null");

    case JSON_NODE_VALUE:
    default:
      break;
    }

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? "true" : "false");
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE:
      return format_double (json_node_get_double (node));
    case G_TYPE_STRING:
      return quote_string (json_node_get_string (node));
    default:
      return g_strdup (_("a value"));
    }
}

static gboolean
node_holds (JsonNode *node,
            GType     type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
read_number (ParseContext *ctx,
             JsonNode     *node,
             double        min,
             double        max,
             double       *out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;
  g_autofree char *min_text = NULL;
  g_autofree char *max_text = NULL;

  if (node_holds (node, G_TYPE_INT64) || node_holds (node, G_TYPE_DOUBLE))
    {
      double value = json_node_get_double (node);

      if (value >= min && value <= max)
        {
          *out = value;
          return TRUE;
        }
    }

  field = ctx_field_name (ctx);
  got = describe_node (node);
  min_text = format_double (min);
  max_text = format_double (max);
  return ctx_fail_value (ctx, _("\"%s\" must be a number between %s and %s (got %s)"),
                         field, min_text, max_text, got);
}

static gboolean
read_uint (ParseContext *ctx,
           JsonNode     *node,
           guint         min,
           guint         max,
           guint        *out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;

  if (node_holds (node, G_TYPE_INT64))
    {
      gint64 value = json_node_get_int (node);

      if (value >= min && value <= max)
        {
          *out = (guint) value;
          return TRUE;
        }
    }
  else if (node_holds (node, G_TYPE_DOUBLE))
    {
      /* 4.0 is an integer written oddly; 3.5 is not. */
      double value = json_node_get_double (node);

      if (value >= min && value <= max && value == (double) (gint64) value)
        {
          *out = (guint) value;
          return TRUE;
        }
    }

  field = ctx_field_name (ctx);
  got = describe_node (node);
  return ctx_fail_value (ctx, _("\"%s\" must be an integer between %u and %u (got %s)"),
                         field, min, max, got);
}

typedef enum
{
  STRING_NON_EMPTY = 1 << 0,
  STRING_NULLABLE = 1 << 1,  /* null means absent: *out becomes NULL */
} StringFlags;

static gboolean
read_string (ParseContext  *ctx,
             JsonNode      *node,
             StringFlags    flags,
             char         **out)
{
  g_autofree char *field = ctx_field_name (ctx);

  if ((flags & STRING_NULLABLE) && JSON_NODE_HOLDS_NULL (node))
    {
      g_clear_pointer (out, g_free);
      return TRUE;
    }

  if (!node_holds (node, G_TYPE_STRING))
    {
      g_autofree char *got = describe_node (node);

      if (flags & STRING_NULLABLE)
        return ctx_fail_value (ctx, _("\"%s\" must be a string or null (got %s)"), field, got);
      return ctx_fail_value (ctx, _("\"%s\" must be a string (got %s)"), field, got);
    }

  if ((flags & STRING_NON_EMPTY) && *json_node_get_string (node) == '\0')
    return ctx_fail_value (ctx, _("\"%s\" must not be empty"), field);

  g_free (*out);
  *out = json_node_dup_string (node);
  return TRUE;
}

/* An argv: a non-empty array of strings whose first one is not empty. */
static gboolean
read_argv (ParseContext   *ctx,
           JsonNode       *node,
           char         ***out)
{
  g_autoptr(GStrvBuilder) builder = NULL;
  JsonArray *array;
  guint length;

  if (!JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (json_node_get_array (node)) == 0)
    {
      g_autofree char *field = ctx_field_name (ctx);
      g_autofree char *got = describe_node (node);

      return ctx_fail_value (ctx, _("\"%s\" must be a non-empty array of strings (got %s)"),
                             field, got);
    }

  array = json_node_get_array (node);
  length = json_array_get_length (array);
  builder = g_strv_builder_new ();

  for (guint i = 0; i < length; i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      gboolean ok = TRUE;

      ctx_push_index (ctx, i);
      if (!node_holds (element, G_TYPE_STRING))
        {
          g_autofree char *field = ctx_field_name (ctx);
          g_autofree char *got = describe_node (element);

          ok = ctx_fail_value (ctx, _("\"%s\" must be a string (got %s)"), field, got);
        }
      else if (i == 0 && *json_node_get_string (element) == '\0')
        {
          g_autofree char *field = ctx_field_name (ctx);

          ok = ctx_fail_value (ctx, _("\"%s\" must name the program to run, not be empty"), field);
        }
      ctx_pop (ctx);

      if (!ok)
        return FALSE;
      g_strv_builder_add (builder, json_node_get_string (element));
    }

  g_strfreev (*out);
  *out = g_strv_builder_end (builder);
  return TRUE;
}

typedef struct
{
  const char *name;
  int value;
} Choice;

/* One of a few strings; expected spells them out for the message. */
static gboolean
read_choice (ParseContext *ctx,
             JsonNode     *node,
             const Choice *choices,
             guint         n_choices,
             const char   *expected,
             int          *out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;

  if (node_holds (node, G_TYPE_STRING))
    {
      const char *text = json_node_get_string (node);

      for (guint i = 0; i < n_choices; i++)
        {
          if (strcmp (text, choices[i].name) == 0)
            {
              *out = choices[i].value;
              return TRUE;
            }
        }
    }

  field = ctx_field_name (ctx);
  got = describe_node (node);
  return ctx_fail_value (ctx, _("\"%s\" must be %s (got %s)"), field, expected, got);
}

/* What execve accepts as a variable name. */
static gboolean
is_valid_env_name (const char *name)
{
  return *name != '\0' && strchr (name, '=') == NULL;
}

static gboolean
is_http_url (const char *url)
{
  const char *scheme;

  if (!g_uri_is_valid (url, G_URI_FLAGS_NONE, NULL))
    return FALSE;

  scheme = g_uri_peek_scheme (url);
  return scheme != NULL && (strcmp (scheme, "http") == 0 || strcmp (scheme, "https") == 0);
}

static gboolean
read_http_url (ParseContext  *ctx,
               JsonNode      *node,
               char         **out)
{
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;

  if (!read_string (ctx, node, STRING_NULLABLE | STRING_NON_EMPTY, out))
    return FALSE;

  if (*out == NULL || is_http_url (*out))
    return TRUE;

  field = ctx_field_name (ctx);
  got = quote_string (*out);
  return ctx_fail_value (ctx, _("\"%s\" must be an http:// or https:// URL or null (got %s)"),
                         field, got);
}

/* "HOST:PORT", "[IPV6]:PORT" */
static gboolean
is_host_and_port (const char *text)
{
  const char *colon = strrchr (text, ':');
  const char *port;
  guint64 number;
  char *end;

  if (colon == NULL || colon == text)
    return FALSE;

  if (text[0] == '[' && colon[-1] != ']')
    return FALSE;

  port = colon + 1;
  if (!g_ascii_isdigit (*port))
    return FALSE;

  number = g_ascii_strtoull (port, &end, 10);
  return *end == '\0' && number >= 1 && number <= 65535;
}

static gboolean
fail_unknown_field (ParseContext      *ctx,
                    const char        *name,
                    const char * const *known);

static gboolean
parse_members (ParseContext       *ctx,
               JsonNode           *node,
               const char * const *known,
               MemberParser        parse_member,
               TetherProfile      *self)
{
  g_autoptr(GList) members = NULL;
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *field = ctx_field_name (ctx);
      g_autofree char *got = describe_node (node);

      if (ctx->depth == 0)
        return ctx_fail_value (ctx, _("the profile must be a JSON object such as {\"command\": [\"./server\"]} (got %s)"),
                               got);
      return ctx_fail_value (ctx, _("\"%s\" must be an object (got %s)"), field, got);
    }

  object = json_node_get_object (node);
  members = json_object_get_members (object);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      gboolean ok;

      ctx_push_key (ctx, name);
      if (g_strv_contains (known, name))
        ok = parse_member (ctx, name, json_object_get_member (object, name), self);
      else
        ok = fail_unknown_field (ctx, name, known);
      ctx_pop (ctx);

      if (!ok)
        return FALSE;
    }

  return TRUE;
}

static guint
edit_distance (const char *a,
               const char *b)
{
  gsize len_a = strlen (a);
  gsize len_b = strlen (b);
  guint row[65];

  if (len_a > 64 || len_b > 64)
    return G_MAXUINT;

  for (gsize j = 0; j <= len_b; j++)
    row[j] = j;

  for (gsize i = 1; i <= len_a; i++)
    {
      guint diagonal = row[0];

      row[0] = i;
      for (gsize j = 1; j <= len_b; j++)
        {
          guint above = row[j];
          guint cost = a[i - 1] == b[j - 1] ? 0 : 1;

          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diagonal + cost);
          diagonal = above;
        }
    }

  return row[len_b];
}

static gboolean
fail_unknown_field (ParseContext       *ctx,
                    const char         *name,
                    const char * const *known)
{
  g_autofree char *parent = ctx_field_name_n (ctx, ctx->depth - 1);
  g_autofree char *message = NULL;
  const char *suggestion = NULL;
  guint best = 3;  /* suggest only near misses: a typo, not a different word */

  for (guint i = 0; known[i] != NULL; i++)
    {
      guint distance = edit_distance (name, known[i]);

      if (distance < best && distance < strlen (known[i]))
        {
          best = distance;
          suggestion = known[i];
        }
    }

  if (*parent == '\0')
    message = g_strdup_printf (_("unknown field \"%s\""), name);
  else
    message = g_strdup_printf (_("unknown field \"%s\" in \"%s\""), name, parent);

  if (suggestion != NULL)
    return ctx_fail_key (ctx, _("%s; did you mean \"%s\"?"), message, suggestion);
  return ctx_fail_key (ctx, "%s", message);
}

/* ------------------------------------------------------------------------
 * The profile's sections
 * ------------------------------------------------------------------------ */

static gboolean
read_signal (ParseContext *ctx,
             JsonNode     *node,
             int          *out)
{
  static const Choice signals[] = {
    { "TERM", SIGTERM },
    { "INT", SIGINT },
    { "QUIT", SIGQUIT },
    { "HUP", SIGHUP },
    { "USR1", SIGUSR1 },
    { "USR2", SIGUSR2 },
  };
  g_autofree char *field = NULL;
  g_autofree char *got = NULL;

  if (node_holds (node, G_TYPE_STRING))
    {
      const char *name = json_node_get_string (node);

      if (g_str_has_prefix (name, "SIG"))
        name += strlen ("SIG");

      for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
        {
          if (strcmp (name, signals[i].name) == 0)
            {
              *out = signals[i].value;
              return TRUE;
            }
        }
    }
  else if (node_holds (node, G_TYPE_INT64))
    {
      gint64 number = json_node_get_int (node);

      if (number >= 1 && number <= 64)
        {
          *out = (int) number;
          return TRUE;
        }
    }

  field = ctx_field_name (ctx);
  got = describe_node (node);
  return ctx_fail_value (ctx, _("\"%s\" must be \"SIGTERM\", \"SIGINT\", \"SIGQUIT\", \"SIGHUP\", \"SIGUSR1\", \"SIGUSR2\" or a signal number between 1 and 64 (got %s)"),
                         field, got);
}

static gboolean
parse_stop_member (ParseContext  *ctx,
                   const char    *name,
                   JsonNode      *value,
                   TetherProfile *self)
{
  if (strcmp (name, "graceful_timeout") == 0)
    return read_number (ctx, value, 0, 3600, &self->stop.graceful_timeout);
  if (strcmp (name, "term_timeout") == 0)
    return read_number (ctx, value, 0, 3600, &self->stop.term_timeout);
  if (strcmp (name, "kill_timeout") == 0)
    return read_number (ctx, value, 0.1, 3600, &self->stop.kill_timeout);
  if (strcmp (name, "signal") == 0)
    return read_signal (ctx, value, &self->stop.signal);

  g_return_val_if_reached (FALSE);
}

static gboolean
read_backoff (ParseContext  *ctx,
              JsonNode      *node,
              TetherProfile *self)
{
  g_autofree double *delays = NULL;
  JsonArray *array;
  guint length;

  if (!JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (json_node_get_array (node)) == 0)
    {
      g_autofree char *field = ctx_field_name (ctx);
      g_autofree char *got = describe_node (node);

      return ctx_fail_value (ctx, _("\"%s\" must be a non-empty array of delays in seconds, such as [1, 2, 5, 10] (got %s)"),
                             field, got);
    }

  array = json_node_get_array (node);
  length = json_array_get_length (array);
  delays = g_new (double, length);

  for (guint i = 0; i < length; i++)
    {
      gboolean ok;

      ctx_push_index (ctx, i);
      ok = read_number (ctx, json_array_get_element (array, i), 0, 3600, &delays[i]);
      ctx_pop (ctx);

      if (!ok)
        return FALSE;
    }

  g_free (self->restart.backoff);
  self->restart.backoff = g_steal_pointer (&delays);
  self->restart.n_backoff = length;
  return TRUE;
}

static gboolean
parse_restart_member (ParseContext  *ctx,
                      const char    *name,
                      JsonNode      *value,
                      TetherProfile *self)
{
  static const Choice policies[] = {
    { "no", TETHER_RESTART_NO },
    { "on-failure", TETHER_RESTART_ON_FAILURE },
    { "always", TETHER_RESTART_ALWAYS },
  };

  if (strcmp (name, "policy") == 0)
    {
      int policy;

      if (!read_choice (ctx, value, policies, G_N_ELEMENTS (policies),
                        _("\"no\", \"on-failure\" or \"always\""), &policy))
        return FALSE;
      self->restart.policy = policy;
      return TRUE;
    }
  if (strcmp (name, "max_restarts") == 0)
    return read_uint (ctx, value, 0, 1000, &self->restart.max_restarts);
  if (strcmp (name, "backoff") == 0)
    return read_backoff (ctx, value, self);

  g_return_val_if_reached (FALSE);
}

static gboolean
parse_health_member (ParseContext  *ctx,
                     const char    *name,
                     JsonNode      *value,
                     TetherProfile *self)
{
  if (strcmp (name, "http") == 0)
    return read_http_url (ctx, value, &self->health.http);
  if (strcmp (name, "interval") == 0)
    return read_number (ctx, value, 0.1, 3600, &self->health.interval);
  if (strcmp (name, "timeout") == 0)
    return read_number (ctx, value, 0.1, 3600, &self->health.timeout);
  if (strcmp (name, "failures") == 0)
    return read_uint (ctx, value, 1, 100, &self->health.failures);
  if (strcmp (name, "watchdog") == 0)
    return read_number (ctx, value, 0, 3600, &self->health.watchdog);

  g_return_val_if_reached (FALSE);
}

static gboolean
parse_limits_member (ParseContext  *ctx,
                     const char    *name,
                     JsonNode      *value,
                     TetherProfile *self)
{
  TetherPoolLimits *limits = &self->pool.limits;

  if (strcmp (name, "memory_soft_mb") == 0)
    return read_uint (ctx, value, 0, G_MAXUINT32, &limits->memory_soft_mb);
  if (strcmp (name, "memory_hard_mb") == 0)
    return read_uint (ctx, value, 0, G_MAXUINT32, &limits->memory_hard_mb);
  if (strcmp (name, "cpu_seconds") == 0)
    return read_number (ctx, value, 0, G_MAXUINT32, &limits->cpu_seconds);
  if (strcmp (name, "requests") == 0)
    return read_uint (ctx, value, 0, G_MAXUINT32, &limits->requests);
  if (strcmp (name, "heartbeat_timeout") == 0)
    return read_number (ctx, value, 0, 3600, &limits->heartbeat_timeout);

  g_return_val_if_reached (FALSE);
}

static gboolean
parse_limits (ParseContext  *ctx,
              JsonNode      *node,
              TetherProfile *self)
{
  static const char * const known[] = {
    "memory_soft_mb", "memory_hard_mb", "cpu_seconds", "requests", "heartbeat_timeout", NULL
  };
  const TetherPoolLimits *limits = &self->pool.limits;

  if (!parse_members (ctx, node, known, parse_limits_member, self))
    return FALSE;

  if (limits->memory_soft_mb != 0 && limits->memory_hard_mb != 0 &&
      limits->memory_soft_mb > limits->memory_hard_mb)
    {
      g_autofree char *soft = NULL;
      g_autofree char *hard = NULL;
      gboolean ok;

      ctx_push_key (ctx, "memory_hard_mb");
      hard = ctx_field_name (ctx);
      ctx_pop (ctx);
      ctx_push_key (ctx, "memory_soft_mb");
      soft = ctx_field_name (ctx);
      ok = ctx_fail_value (ctx, _("\"%s\" (%u) must not exceed \"%s\" (%u)"),
                           soft, limits->memory_soft_mb, hard, limits->memory_hard_mb);
      ctx_pop (ctx);
      return ok;
    }

  return TRUE;
}

static gboolean
parse_pool_member (ParseContext  *ctx,
                   const char    *name,
                   JsonNode      *value,
                   TetherProfile *self)
{
  static const Choice modes[] = {
    { "managed", TETHER_POOL_MANAGED },
    { "signals", TETHER_POOL_SIGNALS },
  };

  if (strcmp (name, "mode") == 0)
    {
      int mode;

      if (!read_choice (ctx, value, modes, G_N_ELEMENTS (modes),
                        _("\"managed\" or \"signals\""), &mode))
        return FALSE;
      self->pool.mode = mode;
      return TRUE;
    }
  if (strcmp (name, "listen") == 0)
    {
      g_autofree char *field = NULL;
      g_autofree char *got = NULL;

      if (!read_string (ctx, value, STRING_NULLABLE, &self->pool.listen))
        return FALSE;
      if (self->pool.listen == NULL || is_host_and_port (self->pool.listen))
        return TRUE;

      field = ctx_field_name (ctx);
      got = quote_string (self->pool.listen);
      return ctx_fail_value (ctx, _("\"%s\" must be \"HOST:PORT\" with a port between 1 and 65535, or null (got %s)"),
                             field, got);
    }
  if (strcmp (name, "workers") == 0)
    return read_uint (ctx, value, 0, 1024, &self->pool.workers);
  if (strcmp (name, "min") == 0)
    return read_uint (ctx, value, 0, 1024, &self->pool.min);
  if (strcmp (name, "max") == 0)
    return read_uint (ctx, value, 0, 1024, &self->pool.max);
  if (strcmp (name, "worker_command") == 0)
    return read_argv (ctx, value, &self->pool.worker_command);
  if (strcmp (name, "limits") == 0)
    return parse_limits (ctx, value, self);

  g_return_val_if_reached (FALSE);
}

static gboolean
parse_pool (ParseContext  *ctx,
            JsonNode      *node,
            TetherProfile *self)
{
  static const char * const known[] = {
    "mode", "listen", "workers", "min", "max", "worker_command", "limits", NULL
  };
  JsonObject *object;
  const char *blame;
  gboolean ok;

  if (!parse_members (ctx, node, known, parse_pool_member, self))
    return FALSE;

  if (self->pool.min <= self->pool.workers && self->pool.workers <= self->pool.max)
    return TRUE;

  /* Point at what the user wrote: workers if given, else the bound that
   * the default number of workers falls outside of. */
  object = json_node_get_object (node);
  if (json_object_has_member (object, "workers"))
    blame = "workers";
  else if (self->pool.workers > self->pool.max && json_object_has_member (object, "max"))
    blame = "max";
  else if (self->pool.workers < self->pool.min && json_object_has_member (object, "min"))
    blame = "min";
  else
    blame = NULL;

  if (blame != NULL)
    ctx_push_key (ctx, blame);
  ok = ctx_fail_value (ctx, _("\"pool.workers\" (%u) must be between \"pool.min\" (%u) and \"pool.max\" (%u)"),
                       self->pool.workers, self->pool.min, self->pool.max);
  if (blame != NULL)
    ctx_pop (ctx);

  return ok;
}

static gboolean
parse_rollback_member (ParseContext  *ctx,
                       const char    *name,
                       JsonNode      *value,
                       TetherProfile *self)
{
  static const Choice methods[] = {
    { "restart", TETHER_ROLLBACK_RESTART },
    { "http", TETHER_ROLLBACK_HTTP },
  };

  if (strcmp (name, "method") == 0)
    {
      int method;

      if (!read_choice (ctx, value, methods, G_N_ELEMENTS (methods),
                        _("\"restart\" or \"http\""), &method))
        return FALSE;
      self->rollback.method = method;
      return TRUE;
    }
  if (strcmp (name, "env") == 0)
    {
      g_autofree char *field = NULL;
      g_autofree char *got = NULL;

      if (!read_string (ctx, value, STRING_NON_EMPTY, &self->rollback.env))
        return FALSE;
      if (is_valid_env_name (self->rollback.env))
        return TRUE;

      field = ctx_field_name (ctx);
      got = quote_string (self->rollback.env);
      return ctx_fail_value (ctx, _("\"%s\" must be an environment variable name without \"=\" (got %s)"),
                             field, got);
    }
  if (strcmp (name, "url") == 0)
    return read_http_url (ctx, value, &self->rollback.url);

  g_return_val_if_reached (FALSE);
}

static gboolean
parse_rollback (ParseContext  *ctx,
                JsonNode      *node,
                TetherProfile *self)
{
  static const char * const known[] = { "method", "env", "url", NULL };
  gboolean ok;

  if (!parse_members (ctx, node, known, parse_rollback_member, self))
    return FALSE;

  if (self->rollback.method != TETHER_ROLLBACK_HTTP || self->rollback.url != NULL)
    return TRUE;

  ctx_push_key (ctx, "method");
  ok = ctx_fail_value (ctx, _("\"rollback.url\" is required when \"rollback.method\" is \"http\""));
  ctx_pop (ctx);
  return ok;
}

static gboolean
parse_env (ParseContext  *ctx,
           JsonNode      *node,
           TetherProfile *self)
{
  g_autoptr(GPtrArray) env = NULL;
  g_autoptr(GList) members = NULL;
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autofree char *field = ctx_field_name (ctx);
      g_autofree char *got = describe_node (node);

      return ctx_fail_value (ctx, _("\"%s\" must be an object of strings, such as {\"PYTHONUNBUFFERED\": \"1\"} (got %s)"),
                             field, got);
    }

  object = json_node_get_object (node);
  members = json_object_get_members (object);
  env = g_ptr_array_new_with_free_func (g_free);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *value = json_object_get_member (object, name);
      gboolean ok = TRUE;

      ctx_push_key (ctx, name);
      if (!is_valid_env_name (name))
        {
          g_autofree char *parent = ctx_field_name_n (ctx, ctx->depth - 1);
          g_autofree char *got = quote_string (name);

          ok = ctx_fail_key (ctx, _("\"%s\": a variable name must be non-empty and contain no \"=\" (got %s)"),
                             parent, got);
        }
      else if (!node_holds (value, G_TYPE_STRING))
        {
          g_autofree char *field = ctx_field_name (ctx);
          g_autofree char *got = describe_node (value);

          ok = ctx_fail_value (ctx, _("\"%s\" must be a string (got %s); quote numbers, such as \"1\""),
                               field, got);
        }
      ctx_pop (ctx);

      if (!ok)
        return FALSE;
      g_ptr_array_add (env, g_strconcat (name, "=", json_node_get_string (value), NULL));
    }

  g_ptr_array_add (env, NULL);
  g_strfreev (self->env);
  self->env = (char **) g_ptr_array_free (g_steal_pointer (&env), FALSE);
  return TRUE;
}

static gboolean
parse_top_member (ParseContext  *ctx,
                  const char    *name,
                  JsonNode      *value,
                  TetherProfile *self)
{
  static const Choice ready_modes[] = {
    { "spawn", TETHER_READY_SPAWN },
    { "notify", TETHER_READY_NOTIFY },
  };
  static const char * const stop_fields[] = {
    "graceful_timeout", "term_timeout", "kill_timeout", "signal", NULL
  };
  static const char * const restart_fields[] = { "policy", "max_restarts", "backoff", NULL };
  static const char * const health_fields[] = {
    "http", "interval", "timeout", "failures", "watchdog", NULL
  };

  if (strcmp (name, "name") == 0)
    return read_string (ctx, value, STRING_NON_EMPTY, &self->name);
  if (strcmp (name, "command") == 0)
    return read_argv (ctx, value, &self->command);
  if (strcmp (name, "cwd") == 0)
    return read_string (ctx, value, STRING_NON_EMPTY, &self->cwd);  /* resolved later */
  if (strcmp (name, "env") == 0)
    return parse_env (ctx, value, self);
  if (strcmp (name, "ready") == 0)
    {
      int ready;

      if (!read_choice (ctx, value, ready_modes, G_N_ELEMENTS (ready_modes),
                        _("\"spawn\" or \"notify\""), &ready))
        return FALSE;
      self->ready = ready;
      return TRUE;
    }
  if (strcmp (name, "start_timeout") == 0)
    return read_number (ctx, value, 0.1, 86400, &self->start_timeout);
  if (strcmp (name, "stop") == 0)
    return parse_members (ctx, value, stop_fields, parse_stop_member, self);
  if (strcmp (name, "restart") == 0)
    return parse_members (ctx, value, restart_fields, parse_restart_member, self);
  if (strcmp (name, "health") == 0)
    return parse_members (ctx, value, health_fields, parse_health_member, self);
  if (strcmp (name, "pool") == 0)
    return parse_pool (ctx, value, self);
  if (strcmp (name, "rollback") == 0)
    return parse_rollback (ctx, value, self);

  g_return_val_if_reached (FALSE);
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

static TetherProfile *
tether_profile_new (const char *display_name)
{
  static const double default_backoff[] = { 1, 2, 5, 10 };
  TetherProfileReal *real = g_new0 (TetherProfileReal, 1);
  TetherProfile *self = &real->profile;

  g_atomic_ref_count_init (&self->ref_count);
  real->display_name = g_strdup (display_name);

  self->env = g_new0 (char *, 1);
  self->ready = TETHER_READY_SPAWN;
  self->start_timeout = 30;

  self->stop.graceful_timeout = 10;
  self->stop.term_timeout = 5;
  self->stop.kill_timeout = 10;
  self->stop.signal = SIGTERM;

  self->restart.policy = TETHER_RESTART_NO;
  self->restart.max_restarts = 5;
  self->restart.backoff = g_memdup2 (default_backoff, sizeof default_backoff);
  self->restart.n_backoff = G_N_ELEMENTS (default_backoff);

  self->health.interval = 5;
  self->health.timeout = 3;
  self->health.failures = 3;
  self->health.watchdog = 0;

  self->pool.mode = TETHER_POOL_NONE;
  self->pool.workers = 4;
  self->pool.min = 1;
  self->pool.max = 16;
  self->pool.limits.heartbeat_timeout = 30;

  self->rollback.method = TETHER_ROLLBACK_RESTART;
  self->rollback.env = g_strdup ("TETHER_CHECKPOINT");

  return self;
}

/* Keeps [A-Za-z0-9_-]; every other character becomes one '_'. */
static char *
sanitize_for_id (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (g_ascii_isalnum (c) || c == '-' || c == '_')
        g_string_append_c (out, (char) c);
      else if ((c & 0xC0) != 0x80)
        g_string_append_c (out, '_');
    }

  if (out->len == 0)
    g_string_append (out, "profile");

  return g_string_free (out, FALSE);
}

static char *
make_id (const char *stem,
         const char *hashed,
         gssize      hashed_length)
{
  g_autofree char *safe = sanitize_for_id (stem);
  g_autofree char *digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                                         (const guchar *) hashed,
                                                         hashed_length);

  return g_strdup_printf ("%s-%.8s", safe, digest);
}

/* json-glib only fails where the scanner did not, which should not
 * happen; keep its words, in the "FILE:LINE:COL: message" form. Its
 * columns count bytes. */
static void
set_json_glib_error (const char    *display_name,
                     const GError  *json_error,
                     GError       **error)
{
  const char *message = json_error->message;
  guint64 line = 0;
  guint64 column = 0;

  if (g_str_has_prefix (message, "<data>:"))
    {
      char *end;

      line = g_ascii_strtoull (message + strlen ("<data>:"), &end, 10);
      if (*end == ':')
        column = g_ascii_strtoull (end + 1, &end, 10);
      if (*end == ':' && line > 0 && column > 0)
        {
          message = end + 1;
          while (*message == ' ')
            message++;
          if (g_str_has_prefix (message, "Parse error: "))
            message += strlen ("Parse error: ");
        }
      else
        {
          line = 0;
        }
    }

  if (line > 0)
    g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE,
                 "%s:%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT ": %s",
                 display_name, line, column, message);
  else
    g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE,
                 "%s: %s", display_name, message);
}

/* abs_path: the file data came from, or NULL. */
static TetherProfile *
profile_parse (const char  *data,
               gsize        length,
               const char  *base_dir,
               const char  *display_name,
               const char  *abs_path,
               GError     **error)
{
  static const char * const top_fields[] = {
    "name", "command", "cwd", "env", "ready", "start_timeout",
    "stop", "restart", "health", "pool", "rollback", NULL
  };
  g_autoptr(TetherProfile) self = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) json_error = NULL;
  g_autofree char *syntax_message = NULL;
  g_autofree char *base = NULL;
  ParseContext ctx = { 0, };
  Position pos;
  JsonNode *root;

  if (display_name == NULL)
    display_name = "<data>";

  if (!check_json_syntax (data, length, &syntax_message, &pos))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_PROFILE, "%s:%u:%u: %s",
                   display_name, pos.line, pos.column, syntax_message);
      return NULL;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) length, &json_error))
    {
      set_json_glib_error (display_name, json_error, error);
      return NULL;
    }
  root = json_parser_get_root (parser);
  g_return_val_if_fail (root != NULL, NULL);  /* empty input fails the syntax check */

  ctx.text = data;
  ctx.length = length;
  ctx.display_name = display_name;
  ctx.error = error;

  self = tether_profile_new (display_name);
  if (!parse_members (&ctx, root, top_fields, parse_top_member, self))
    return NULL;

  if (self->command == NULL)
    {
      ctx_fail_value (&ctx, _("missing required field \"command\": the program to run and its arguments, such as [\"python3\", \"server.py\"]"));
      return NULL;
    }

  ctx_push_key (&ctx, "command");
  ctx_push_index (&ctx, 0);
  if (locate (data, length, ctx.path, ctx.depth, FALSE, &pos))
    {
      self->command_line = pos.line;
      self->command_column = pos.column;
    }
  ctx.depth = 0;

  if (base_dir == NULL)
    base = g_get_current_dir ();
  else
    base = g_canonicalize_filename (base_dir, NULL);

  if (self->cwd != NULL)
    {
      char *relative = self->cwd;

      self->cwd = g_canonicalize_filename (relative, base);
      g_free (relative);
    }
  else
    {
      self->cwd = g_strdup (base);
    }

  if (abs_path != NULL)
    {
      g_autofree char *stem = g_path_get_basename (abs_path);

      if (g_str_has_suffix (stem, ".json") && strlen (stem) > strlen (".json"))
        stem[strlen (stem) - strlen (".json")] = '\0';

      self->path = g_strdup (abs_path);
      self->id = make_id (stem, abs_path, -1);
      if (self->name == NULL)
        self->name = g_filename_display_name (stem);
    }
  else
    {
      if (self->name == NULL)
        self->name = g_path_get_basename (self->command[0]);
      self->id = make_id (self->name, data, (gssize) length);
    }

  return g_steal_pointer (&self);
}

TetherProfile *
tether_profile_load_from_data (const char  *data,
                               gssize       length,
                               const char  *base_dir,
                               const char  *display_name,
                               GError     **error)
{
  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length < 0)
    length = strlen (data);

  return profile_parse (data, (gsize) length, base_dir, display_name, NULL, error);
}

/* Like g_file_get_contents, but keeps errno so the message can be short. */
static gboolean
read_profile_file (const char  *path,
                   char       **contents,
                   gsize       *length,
                   int         *saved_errno)
{
  g_autoptr(GByteArray) bytes = NULL;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      *saved_errno = errno;
      return FALSE;
    }

  bytes = g_byte_array_new ();

  for (;;)
    {
      guint8 buffer[8192];
      gssize n_read = read (fd, buffer, sizeof buffer);

      if (n_read < 0 && errno == EINTR)
        continue;

      if (n_read < 0 || bytes->len + n_read > MAX_PROFILE_SIZE)
        {
          *saved_errno = n_read < 0 ? errno : EFBIG;
          close (fd);
          return FALSE;
        }

      if (n_read == 0)
        break;

      g_byte_array_append (bytes, buffer, (guint) n_read);
    }

  close (fd);

  *length = bytes->len;
  g_byte_array_append (bytes, (const guint8 *) "", 1);
  *contents = (char *) g_byte_array_free (g_steal_pointer (&bytes), FALSE);
  return TRUE;
}

TetherProfile *
tether_profile_load (const char  *path,
                     GError     **error)
{
  g_autofree char *display_name = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *abs_path = NULL;
  g_autofree char *base_dir = NULL;
  gsize length = 0;
  int saved_errno = 0;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  display_name = g_filename_display_name (path);

  if (!read_profile_file (path, &contents, &length, &saved_errno))
    {
      g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                   _("%s: cannot read the profile: %s"),
                   display_name, g_strerror (saved_errno));
      return NULL;
    }

  abs_path = g_canonicalize_filename (path, NULL);
  base_dir = g_path_get_dirname (abs_path);

  return profile_parse (contents, length, base_dir, display_name, abs_path, error);
}

TetherProfile *
tether_profile_ref (TetherProfile *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
tether_profile_unref (TetherProfile *self)
{
  TetherProfileReal *real = (TetherProfileReal *) self;

  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;

  g_free (real->display_name);
  g_free (self->path);
  g_free (self->id);
  g_free (self->name);
  g_strfreev (self->command);
  g_free (self->cwd);
  g_strfreev (self->env);
  g_free (self->restart.backoff);
  g_free (self->health.http);
  g_free (self->pool.listen);
  g_strfreev (self->pool.worker_command);
  g_free (self->rollback.env);
  g_free (self->rollback.url);
  g_free (real);
}

/* ------------------------------------------------------------------------
 * The executable
 * ------------------------------------------------------------------------ */

static char *
command_position (TetherProfile *self)
{
  TetherProfileReal *real = (TetherProfileReal *) self;
  const char *where = real->display_name;

  if (where == NULL)
    where = self->path != NULL ? self->path : "<data>";

  if (self->command_line == 0)
    return g_strdup (where);

  return g_strdup_printf ("%s:%u:%u", where, self->command_line, self->command_column);
}

static gboolean
is_executable_file (const char *path)
{
  return g_file_test (path, G_FILE_TEST_IS_EXECUTABLE) &&
         !g_file_test (path, G_FILE_TEST_IS_DIR);
}

char *
tether_profile_find_executable (TetherProfile  *self,
                                GError        **error)
{
  g_autofree char *where = NULL;
  g_autofree char *not_executable = NULL;
  g_auto(GStrv) directories = NULL;
  const char *program;
  const char *search_path;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (self->command != NULL && self->command[0] != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  program = self->command[0];
  where = command_position (self);

  if (strchr (program, '/') != NULL)
    {
      g_autofree char *candidate = g_canonicalize_filename (program, self->cwd);

      if (is_executable_file (candidate))
        return g_steal_pointer (&candidate);

      if (!g_file_test (candidate, G_FILE_TEST_EXISTS))
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                     _("%s: executable \"%s\" not found (no file at %s)"),
                     where, program, candidate);
      else if (g_file_test (candidate, G_FILE_TEST_IS_DIR))
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                     _("%s: \"%s\" is a directory, not an executable (%s)"),
                     where, program, candidate);
      else
        g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                     _("%s: \"%s\" is not executable (%s lacks execute permission)"),
                     where, program, candidate);
      return NULL;
    }

  /* The backend runs with the profile's environment, so its PATH wins;
   * relative PATH entries mean the backend's working directory. */
  search_path = g_environ_getenv (self->env, "PATH");
  if (search_path == NULL)
    search_path = g_getenv ("PATH");
  if (search_path == NULL)
    search_path = DEFAULT_SEARCH_PATH;

  directories = g_strsplit (search_path, G_SEARCHPATH_SEPARATOR_S, -1);
  for (guint i = 0; directories[i] != NULL; i++)
    {
      const char *directory = *directories[i] != '\0' ? directories[i] : ".";
      g_autofree char *joined = g_build_filename (directory, program, NULL);
      g_autofree char *candidate = g_canonicalize_filename (joined, self->cwd);

      if (is_executable_file (candidate))
        return g_steal_pointer (&candidate);

      if (not_executable == NULL && g_file_test (candidate, G_FILE_TEST_IS_REGULAR))
        not_executable = g_steal_pointer (&candidate);
    }

  if (not_executable != NULL)
    g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                 _("%s: executable \"%s\" not found on PATH (%s exists but is not executable)"),
                 where, program, not_executable);
  else
    g_set_error (error, TETHER_ERROR, TETHER_ERROR_NOT_FOUND,
                 _("%s: executable \"%s\" not found on PATH"),
                 where, program);
  return NULL;
}
