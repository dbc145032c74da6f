/* tether-json.c: a strict JSON parser that remembers where every value stands
 *
 * json-glib 1.6 cannot say where a member or value was written, accepts
 * some non-JSON ({'a': 1}, text after the value) and reports a syntax error
 * at the end of the token before the offending one. This scanner checks
 * RFC 8259 strictly, names the exact spot of an error (and, for truncated
 * input, the bracket that was never closed), and builds the JsonNode tree
 * in the same pass, noting where each value and member name starts.
 *
 * It reads untrusted input (control requests), so it keeps its own stack
 * of open containers instead of recursing, and its allocations are a
 * constant factor of the input's size.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "tether-json.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n-lib.h>

G_DEFINE_QUARK (tether-json-error-quark, tether_json_error)

typedef struct
{
  guint line;
  guint column;
} Position;

/* Where a node was written. Looked up by node, so sorted by node address
 * on the first lookup; most documents are never asked. */
typedef struct
{
  JsonNode *node;
  Position value;
  Position key;  /* line 0 when the node is not an object member */
} NodeRecord;

struct _TetherJsonDocument
{
  JsonNode *root;
  GArray *records;  /* NodeRecord */
  gboolean sorted;
};

/* A spot in the text, cheap to take; its column is counted only when
 * asked for. */
typedef struct
{
  const char *p;
  const char *line_start;
  guint line;
} Mark;

/* An object or array still open. */
typedef struct
{
  JsonNode *node;
  JsonObject *object;  /* NULL for an array */
  JsonArray *array;
  Position opened;
} Frame;

typedef struct
{
  const char *p;
  const char *end;
  const char *line_start;
  guint line;

  /* Columns are counted lazily from here: positions are asked for in
   * text order, so each byte is counted once. */
  const char *counted;
  guint counted_column;

  TetherJsonDocument *doc;
  GArray *stack;    /* Frame */
  GString *text;    /* the string being decoded */
  GString *key;     /* the member name waiting for its value */
  Position key_pos;
  GError **error;
} Scanner;

/* ------------------------------------------------------------------------
 * Positions
 * ------------------------------------------------------------------------ */

static void
skip_byte_order_mark (const char **p,
                      const char  *end)
{
  /* Editors hide a byte-order mark, so it takes no column. */
  if (end - *p >= 3 && memcmp (*p, "\xef\xbb\xbf", 3) == 0)
    *p += 3;
}

static inline Mark
scanner_mark (const Scanner *s)
{
  Mark mark = { s->p, s->line_start, s->line };

  return mark;
}

static Position
scanner_position_of (Scanner    *s,
                     const Mark *mark)
{
  Position pos = { mark->line, 1 };

  if (s->counted < mark->line_start || s->counted > mark->p)
    {
      s->counted = mark->line_start;
      s->counted_column = 1;
    }

  /* The text is valid UTF-8: counting lead bytes counts characters. */
  for (; s->counted < mark->p; s->counted++)
    if ((*s->counted & 0xC0) != 0x80)
      s->counted_column++;

  pos.column = s->counted_column;
  return pos;
}

static Position
scanner_position (Scanner *s)
{
  Mark here = scanner_mark (s);

  return scanner_position_of (s, &here);
}

void
tether_json_get_position_at (const char *data,
                             gsize       offset,
                             guint      *line,
                             guint      *column)
{
  const char *p = data;
  const char *end = data + offset;
  guint l = 1;
  guint c = 1;

  g_return_if_fail (data != NULL || offset == 0);

  skip_byte_order_mark (&p, end);

  for (; p < end; p++)
    {
      if (*p == '\n')
        {
          l++;
          c = 1;
        }
      else if ((*p & 0xC0) != 0x80)
        {
          c++;
        }
    }

  if (line != NULL)
    *line = l;
  if (column != NULL)
    *column = c;
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

static gboolean scanner_fail (Scanner         *s,
                              TetherJsonError  code,
                              Position         at,
                              const char      *format,
                              ...) G_GNUC_PRINTF (4, 5);

/* Always returns FALSE. */
static gboolean
scanner_fail (Scanner         *s,
              TetherJsonError  code,
              Position         at,
              const char      *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (s->error, TETHER_JSON_ERROR, code, "%u:%u: %s", at.line, at.column, message);
  return FALSE;
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

/* Inside an open object or array something else was expected. */
static gboolean
scanner_fail_in_container (Scanner     *s,
                           const Frame *frame,
                           const char  *expected)
{
  g_autofree char *found = NULL;

  if (scanner_at_end (s))
    {
      if (frame->object != NULL)
        return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                             _("expected %s but found the end of the file: the object opened at line %u, column %u is not closed"),
                             expected, frame->opened.line, frame->opened.column);
      else
        return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                             _("expected %s but found the end of the file: the array opened at line %u, column %u is not closed"),
                             expected, frame->opened.line, frame->opened.column);
    }

  found = scanner_describe_here (s);
  return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                       _("expected %s but found %s"), expected, found);
}

/* ------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------ */

static inline void
scanner_skip_whitespace (Scanner *s)
{
  while (s->p < s->end)
    {
      char c = *s->p;

      if (c == ' ' || c == '\t' || c == '\r')
        {
          s->p++;
        }
      else if (c == '\n')
        {
          s->p++;
          s->line++;
          s->line_start = s->p;
        }
      else
        {
          break;
        }
    }
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

/* At an opening quote; decodes the string into out. JSON strings hold no
 * raw line break, so the cursor stays on its line. */
static gboolean
scan_string (Scanner  *s,
             Position  start,
             GString  *out)
{
  g_string_truncate (out, 0);
  s->p++;

  for (;;)
    {
      const char *run = s->p;
      guchar c;

      /* The text is valid UTF-8 without NUL, so only these bytes need a
       * second look. */
      while (s->p < s->end && (c = (guchar) *s->p) != '"' && c != '\\' && c >= 0x20)
        s->p++;
      g_string_append_len (out, run, s->p - run);

      if (scanner_at_end (s))
        return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                             _("found the end of the file inside the string starting at line %u, column %u: close it with '\"'"),
                             start.line, start.column);

      c = (guchar) *s->p;

      if (c == '"')
        {
          s->p++;
          return TRUE;
        }

      if (c == '\n' || c == '\r')
        return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                             _("line break inside the string starting at line %u, column %u: close it with '\"' or write \\n"),
                             start.line, start.column);

      if (c < 0x20)
        return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                             _("control character U+%04X inside a string: write it as an escape such as \\t"),
                             (guint) c);

      /* A backslash */
      {
        Mark escape = scanner_mark (s);
        gunichar unit;
        char decoded;

        s->p++;
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
            s->p++;
            if (!parse_hex4 (s->p, s->end, &unit))
              return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position_of (s, &escape),
                                   _("invalid escape: \\u must be followed by four hexadecimal digits"));
            s->p += 4;

            /* A GString (and every C string after it) would end there,
             * silently: "status\\u0000x" must not read as "status". */
            if (unit == 0)
              return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position_of (s, &escape),
                                   _("invalid escape: \\u0000 (a NUL character) cannot be used in a string"));

            if (unit >= 0xDC00 && unit <= 0xDFFF)
              return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position_of (s, &escape),
                                   _("invalid escape: \\u%04X is the second half of a UTF-16 surrogate pair without a first half"),
                                   unit);

            if (unit >= 0xD800 && unit <= 0xDBFF)
              {
                gunichar low;

                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                    !parse_hex4 (s->p + 2, s->end, &low) ||
                    low < 0xDC00 || low > 0xDFFF)
                  return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position_of (s, &escape),
                                       _("invalid escape: \\u%04X must be followed by the second half of its UTF-16 surrogate pair"),
                                       unit);
                s->p += 6;
                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
              }

            g_string_append_unichar (out, unit);
            continue;

          default:
            {
              g_autofree char *found = scanner_describe_here (s);

              return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position_of (s, &escape),
                                   _("invalid escape \"\\\" followed by %s: use \\\\ for a backslash"),
                                   found);
            }
          }

        g_string_append_c (out, decoded);
        s->p++;
      }
    }
}

static inline void
scanner_skip_digits (Scanner *s)
{
  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
}

static JsonNode *
scan_number (Scanner  *s,
             Position  start)
{
  const char *first = s->p;
  gboolean negative = FALSE;
  gboolean integral = TRUE;

  if (scanner_peek (s) == '-')
    {
      negative = TRUE;
      s->p++;
    }

  if (!g_ascii_isdigit (scanner_peek (s)))
    {
      scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, start, _("invalid number: expected a digit after \"-\""));
      return NULL;
    }

  if (scanner_peek (s) == '0')
    {
      s->p++;
      if (g_ascii_isdigit (scanner_peek (s)))
        {
          scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, start, _("invalid number: a number must not start with 0"));
          return NULL;
        }
    }
  else
    {
      scanner_skip_digits (s);
    }

  if (scanner_peek (s) == '.')
    {
      integral = FALSE;
      s->p++;
      if (!g_ascii_isdigit (scanner_peek (s)))
        {
          scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, start, _("invalid number: expected a digit after \".\""));
          return NULL;
        }
      scanner_skip_digits (s);
    }

  if (scanner_peek (s) == 'e' || scanner_peek (s) == 'E')
    {
      integral = FALSE;
      s->p++;
      if (scanner_peek (s) == '+' || scanner_peek (s) == '-')
        s->p++;
      if (!g_ascii_isdigit (scanner_peek (s)))
        {
          scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, start, _("invalid number: expected a digit in the exponent"));
          return NULL;
        }
      scanner_skip_digits (s);
    }

  if (integral)
    {
      /* Accumulate negatively: -9223372036854775808 fits, its opposite
       * does not. */
      gint64 value = 0;
      const char *q = first + (negative ? 1 : 0);

      for (; q < s->p; q++)
        {
          int digit = *q - '0';

          if (value < (G_MININT64 + digit) / 10)
            break;
          value = value * 10 - digit;
        }

      if (q == s->p && (negative || value != G_MININT64))
        return json_node_init_int (json_node_alloc (), negative ? value : -value);

      /* Beyond 64 bits: keep the magnitude as a double rather than wrap. */
    }

  /* strtod needs the number on its own: data need not be NUL-terminated. */
  g_string_truncate (s->text, 0);
  g_string_append_len (s->text, first, s->p - first);
  return json_node_init_double (json_node_alloc (), g_ascii_strtod (s->text->str, NULL));
}

/* true, false, null */
static JsonNode *
scan_literal (Scanner  *s,
              Position  start)
{
  const char *word = s->p;
  gsize length;

  while (s->p < s->end && (g_ascii_isalnum (*s->p) || *s->p == '_'))
    s->p++;
  length = s->p - word;

  if (length == 4 && memcmp (word, "true", 4) == 0)
    return json_node_init_boolean (json_node_alloc (), TRUE);
  if (length == 5 && memcmp (word, "false", 5) == 0)
    return json_node_init_boolean (json_node_alloc (), FALSE);
  if (length == 4 && memcmp (word, "null", 4) == 0)
    return json_node_init_null (json_node_alloc ());

  scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, start,
                _("expected a value (a string in double quotes, a number, an object, an array, true, false or null) but found \"%.*s\""),
                (int) MIN (length, 32), word);
  return NULL;
}

/* ------------------------------------------------------------------------
 * The tree
 * ------------------------------------------------------------------------ */

static inline Frame *
scanner_top (Scanner *s)
{
  if (s->stack->len == 0)
    return NULL;
  return &g_array_index (s->stack, Frame, s->stack->len - 1);
}

/* Hangs a new node (owned) into the open container, or makes it the root,
 * and notes where it was written. */
static void
scanner_attach (Scanner  *s,
                JsonNode *node,
                Position  at)
{
  Frame *parent = scanner_top (s);
  NodeRecord record = { node, at, { 0, 0 } };

  if (parent == NULL)
    {
      s->doc->root = node;
    }
  else if (parent->object != NULL)
    {
      record.key = s->key_pos;
      json_node_set_parent (node, parent->node);
      json_object_set_member (parent->object, s->key->str, node);
    }
  else
    {
      json_node_set_parent (node, parent->node);
      json_array_add_element (parent->array, node);
    }

  g_array_append_val (s->doc->records, record);
}

static const NodeRecord *
document_find_unsorted (TetherJsonDocument *self,
                        JsonNode           *node)
{
  for (guint i = self->records->len; i > 0; i--)
    {
      const NodeRecord *record = &g_array_index (self->records, NodeRecord, i - 1);

      if (record->node == node)
        return record;
    }

  return NULL;
}

/* At a member name; reads it and the colon after it. */
static gboolean
scan_member_name (Scanner     *s,
                  const Frame *frame)
{
  JsonNode *first;

  s->key_pos = scanner_position (s);
  if (!scan_string (s, s->key_pos, s->key))
    return FALSE;

  /* json-glib would silently keep the last one; two "stop" objects are a
   * mistake worth pointing at. */
  first = json_object_get_member (frame->object, s->key->str);
  if (first != NULL)
    {
      const NodeRecord *record = document_find_unsorted (s->doc, first);

      g_assert (record != NULL);
      return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, s->key_pos,
                           _("duplicate field \"%s\" (first defined at line %u, column %u)"),
                           s->key->str, record->key.line, record->key.column);
    }

  scanner_skip_whitespace (s);
  if (scanner_peek (s) != ':')
    {
      g_autofree char *found = scanner_describe_here (s);

      return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                           _("expected \":\" after the field name \"%s\" but found %s"),
                           s->key->str, found);
    }
  s->p++;
  scanner_skip_whitespace (s);

  if (scanner_at_end (s))
    return scanner_fail_in_container (s, frame, _("a value"));

  return TRUE;
}

typedef enum
{
  NEXT_FAILED,       /* the error is set */
  NEXT_VALUE,        /* a value starts at the cursor */
  NEXT_MEMBER_NAME,  /* a member name starts at the cursor */
  NEXT_AFTER_VALUE,  /* a value ended: a comma, a closing bracket or the end */
} Next;

/* At an opening bracket. */
static Next
scan_open (Scanner *s,
           Position at,
           guint    max_depth,
           gboolean is_object)
{
  Frame frame = { NULL, NULL, NULL, at };

  if (s->stack->len >= max_depth)
    {
      scanner_fail (s, TETHER_JSON_ERROR_DEPTH, at,
                    _("objects and arrays are nested too deeply (more than %d levels)"),
                    (int) max_depth);
      return NEXT_FAILED;
    }

  frame.node = json_node_alloc ();
  if (is_object)
    {
      frame.object = json_object_new ();
      json_node_take_object (json_node_init (frame.node, JSON_NODE_OBJECT), frame.object);
    }
  else
    {
      frame.array = json_array_new ();
      json_node_take_array (json_node_init (frame.node, JSON_NODE_ARRAY), frame.array);
    }
  scanner_attach (s, frame.node, at);

  s->p++;
  scanner_skip_whitespace (s);

  if (scanner_peek (s) == (is_object ? '}' : ']'))
    {
      s->p++;
      return NEXT_AFTER_VALUE;
    }

  if (is_object && scanner_peek (s) != '"')
    {
      scanner_fail_in_container (s, &frame, _("a field name in double quotes or \"}\""));
      return NEXT_FAILED;
    }
  if (!is_object && scanner_at_end (s))
    {
      scanner_fail_in_container (s, &frame, _("a value or \"]\""));
      return NEXT_FAILED;
    }

  g_array_append_val (s->stack, frame);
  return is_object ? NEXT_MEMBER_NAME : NEXT_VALUE;
}

/* At the first character of a value. */
static Next
scan_value (Scanner *s,
            guint    max_depth)
{
  Position at = scanner_position (s);
  char c = scanner_peek (s);
  JsonNode *node;

  if (c == '{' || c == '[')
    return scan_open (s, at, max_depth, c == '{');

  if (c == '"')
    {
      if (!scan_string (s, at, s->text))
        return NEXT_FAILED;
      node = json_node_init_string (json_node_alloc (), s->text->str);
    }
  else if (c == '-' || g_ascii_isdigit (c))
    {
      node = scan_number (s, at);
    }
  else if (g_ascii_isalpha (c) || c == '_')
    {
      node = scan_literal (s, at);
    }
  else
    {
      g_autofree char *found = scanner_describe_here (s);

      scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, at,
                    _("expected a value (a string in double quotes, a number, an object, an array, true, false or null) but found %s"),
                    found);
      return NEXT_FAILED;
    }

  if (node == NULL)
    return NEXT_FAILED;

  scanner_attach (s, node, at);
  return NEXT_AFTER_VALUE;
}

/* After a value inside a container: a comma and the next one, or the
 * container's end. */
static Next
scan_after_value (Scanner *s)
{
  Frame *frame = scanner_top (s);
  char close = frame->object != NULL ? '}' : ']';

  scanner_skip_whitespace (s);

  if (scanner_peek (s) == ',')
    {
      Mark comma = scanner_mark (s);

      s->p++;
      scanner_skip_whitespace (s);

      if (scanner_peek (s) == close)
        {
          if (close == '}')
            scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position_of (s, &comma),
                          _("trailing comma: JSON allows no \",\" before \"}\""));
          else
            scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position_of (s, &comma),
                          _("trailing comma: JSON allows no \",\" before \"]\""));
          return NEXT_FAILED;
        }

      if (frame->object != NULL)
        {
          if (scanner_peek (s) != '"')
            {
              scanner_fail_in_container (s, frame, _("a field name in double quotes"));
              return NEXT_FAILED;
            }
          return NEXT_MEMBER_NAME;
        }

      if (scanner_at_end (s))
        {
          scanner_fail_in_container (s, frame, _("a value"));
          return NEXT_FAILED;
        }
      return NEXT_VALUE;
    }

  if (scanner_peek (s) == close)
    {
      s->p++;
      g_array_set_size (s->stack, s->stack->len - 1);
      return NEXT_AFTER_VALUE;
    }

  scanner_fail_in_container (s, frame, close == '}' ? "\",\" or \"}\"" : "\",\" or \"]\"");
  return NEXT_FAILED;
}

static gboolean
scan_document (Scanner *s,
               guint    max_depth)
{
  Next next = NEXT_VALUE;

  scanner_skip_whitespace (s);
  if (scanner_at_end (s))
    return scanner_fail (s, TETHER_JSON_ERROR_EMPTY, scanner_position (s),
                         _("expected a JSON value but found the end of the file"));

  for (;;)
    {
      switch (next)
        {
        case NEXT_VALUE:
          next = scan_value (s, max_depth);
          break;

        case NEXT_MEMBER_NAME:
          next = scan_member_name (s, scanner_top (s)) ? NEXT_VALUE : NEXT_FAILED;
          break;

        case NEXT_AFTER_VALUE:
          if (s->stack->len > 0)
            {
              next = scan_after_value (s);
              break;
            }

          scanner_skip_whitespace (s);
          if (!scanner_at_end (s))
            {
              g_autofree char *found = scanner_describe_here (s);

              return scanner_fail (s, TETHER_JSON_ERROR_SYNTAX, scanner_position (s),
                                   _("found %s after the end of the JSON value"), found);
            }
          return TRUE;

        case NEXT_FAILED:
        default:
          return FALSE;
        }
    }
}

TetherJsonDocument *
tether_json_parse (const char  *data,
                   gssize       length,
                   guint        max_depth,
                   GError     **error)
{
  g_autoptr(TetherJsonDocument) doc = NULL;
  g_autoptr(GArray) stack = NULL;
  g_autoptr(GString) text = NULL;
  g_autoptr(GString) key = NULL;
  const char *invalid;
  Scanner s = { 0, };

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (max_depth <= TETHER_JSON_MAX_DEPTH, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length < 0)
    length = strlen (data);

  s.p = data;
  s.end = data + length;
  s.line = 1;
  s.error = error;

  /* Checked first and for the whole text, so that a stray byte is named
   * as such wherever it stands; afterwards every byte is a whole UTF-8
   * sequence or ASCII other than NUL. */
  if (!g_utf8_validate (data, length, &invalid))
    {
      Position at;

      tether_json_get_position_at (data, invalid - data, &at.line, &at.column);
      scanner_fail (&s, TETHER_JSON_ERROR_ENCODING, at, _("invalid UTF-8 or a NUL byte"));
      return NULL;
    }

  skip_byte_order_mark (&s.p, s.end);
  s.line_start = s.p;
  s.counted = s.p;
  s.counted_column = 1;

  doc = g_new0 (TetherJsonDocument, 1);
  doc->records = g_array_new (FALSE, FALSE, sizeof (NodeRecord));
  stack = g_array_sized_new (FALSE, FALSE, sizeof (Frame), MIN (max_depth, 16));
  text = g_string_new (NULL);
  key = g_string_new (NULL);

  s.doc = doc;
  s.stack = stack;
  s.text = text;
  s.key = key;

  if (!scan_document (&s, max_depth))
    return NULL;

  return g_steal_pointer (&doc);
}

/* ------------------------------------------------------------------------
 * The document
 * ------------------------------------------------------------------------ */

JsonNode *
tether_json_document_get_root (TetherJsonDocument *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->root;
}

static int
compare_records (gconstpointer a,
                 gconstpointer b)
{
  guintptr node_a = (guintptr) ((const NodeRecord *) a)->node;
  guintptr node_b = (guintptr) ((const NodeRecord *) b)->node;

  return node_a < node_b ? -1 : node_a > node_b;
}

static const NodeRecord *
document_find (TetherJsonDocument *self,
               JsonNode           *node)
{
  NodeRecord wanted = { node, };

  if (!self->sorted)
    {
      g_array_sort (self->records, compare_records);
      self->sorted = TRUE;
    }

  return bsearch (&wanted, self->records->data, self->records->len,
                  sizeof (NodeRecord), compare_records);
}

gboolean
tether_json_document_get_position (TetherJsonDocument *self,
                                   JsonNode           *node,
                                   guint              *line,
                                   guint              *column)
{
  const NodeRecord *record;

  g_return_val_if_fail (self != NULL, FALSE);

  record = document_find (self, node);
  if (record == NULL)
    return FALSE;

  if (line != NULL)
    *line = record->value.line;
  if (column != NULL)
    *column = record->value.column;
  return TRUE;
}

gboolean
tether_json_document_get_key_position (TetherJsonDocument *self,
                                       JsonNode           *member_value,
                                       guint              *line,
                                       guint              *column)
{
  const NodeRecord *record;

  g_return_val_if_fail (self != NULL, FALSE);

  record = document_find (self, member_value);
  if (record == NULL || record->key.line == 0)
    return FALSE;

  if (line != NULL)
    *line = record->key.line;
  if (column != NULL)
    *column = record->key.column;
  return TRUE;
}

void
tether_json_document_free (TetherJsonDocument *self)
{
  if (self == NULL)
    return;

  g_clear_pointer (&self->root, json_node_unref);
  g_array_unref (self->records);
  g_free (self);
}

/* ---- writing ------------------------------------------------------------- */

static void
write_string (GString    *out,
              const char *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
        }
    }
  g_string_append_c (out, '"');
}

static void
write_double (GString *out,
              double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }
  /* The shortest text that reads back as the same double. */
  for (int digits = 1; digits <= 17; digits++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (buf, sizeof buf, format, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  g_string_append (out, buf);
  /* Keep it a double for readers that care: 2.0, not 2. */
  if (strpbrk (buf, ".eEn") == NULL)
    g_string_append (out, ".0");
}

static void write_node (GString *out, JsonNode *node, gboolean pretty, guint depth);

static void
newline (GString  *out,
         gboolean  pretty,
         guint     depth)
{
  if (!pretty)
    return;
  g_string_append_c (out, '\n');
  for (guint i = 0; i < depth; i++)
    g_string_append (out, "  ");
}

static void
write_node (GString  *out,
            JsonNode *node,
            gboolean  pretty,
            guint     depth)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);

        g_string_append_c (out, '{');
        for (GList *l = members; l != NULL; l = l->next)
          {
            newline (out, pretty, depth + 1);
            write_string (out, l->data);
            g_string_append (out, pretty ? ": " : ":");
            write_node (out, json_object_get_member (object, l->data), pretty, depth + 1);
            if (l->next != NULL)
              g_string_append_c (out, ',');
          }
        if (members != NULL)
          newline (out, pretty, depth);
        g_string_append_c (out, '}');
      }
      break;

    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            newline (out, pretty, depth + 1);
            write_node (out, json_array_get_element (array, i), pretty, depth + 1);
            if (i + 1 < n)
              g_string_append_c (out, ',');
          }
        if (n > 0)
          newline (out, pretty, depth);
        g_string_append_c (out, ']');
      }
      break;

    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          write_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_STRING:
          write_string (out, json_node_get_string (node));
          break;
        default:
          g_string_append (out, "null");
        }
      break;

    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
    }
}

char *
tether_json_to_string (JsonNode *node,
                       gboolean  pretty)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (node != NULL, NULL);
  write_node (out, node, pretty, 0);
  return g_string_free (out, FALSE);
}

double
tether_json_round (double value,
                   double per_unit)
{
  return (double) (gint64) (value * per_unit + (value < 0 ? -0.5 : 0.5)) / per_unit;
}
